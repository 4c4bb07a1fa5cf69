#!/bin/sh
# The lpa demo, from a fresh clone on a fresh Debian 12 machine (as root): installs the
# dependencies, builds, and runs the station. Until the provisioning pipeline lands this
# runs the station's cryptographic self-test; the station issue turns it into the full
# KMS + simulated-line demo.
set -eu
cd "$(dirname "$0")/.."
sh packaging/install-deps.sh
if [ -f build/build.ninja ]; then
	meson setup --reconfigure build >/dev/null
else
	meson setup build >/dev/null
fi
ninja -C build >/dev/null
echo "== lpa-station selftest"
build/lpa/station/lpa-station selftest
