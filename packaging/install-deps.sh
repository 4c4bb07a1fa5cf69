#!/bin/sh
# Installs the Debian 12 packages lpa needs to build, test and run the demo.
# Idempotent: apt-get skips what is installed. Runs `apt-get update` once.
set -eu

PACKAGES="
    build-essential meson ninja-build pkg-config clang clang-format libclang-rt-14-dev
    libssl-dev openssl
    libcurl4-openssl-dev curl
    libgnutls28-dev
    liboath-dev oathtool
    libusb-1.0-0-dev
    check
    libjansson-dev
    libsqlite3-dev sqlite3
    postgresql-15 libpq-dev
    libmicrohttpd-dev
    libqrencode-dev
    libkeyutils-dev keyutils
    libargon2-dev
    umockdev libumockdev-dev libglib2.0-dev
    openocd
    valgrind
    gcc-arm-none-eabi libunicorn-dev
    libncurses-dev tmux python3-jsonschema
    softhsm2 libp11-kit-dev
    python3-pyocd
    debhelper lintian bash-completion udev systemd
"

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: run as root (apt-get needs it)" >&2
    exit 1
fi

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps.sh: all packages present"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
