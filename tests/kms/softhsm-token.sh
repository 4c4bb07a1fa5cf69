#!/bin/sh
# softhsm-token.sh DIR LABEL... — SoftHSM2 tokens for a test, all inside DIR (which the
# caller made, owns and removes on every exit path; nothing is written elsewhere):
#   DIR/softhsm2.conf   point SOFTHSM2_CONF here
#   DIR/tokens/         the token store
#   DIR/pin             the user PIN of every token (0600), random per run
#   DIR/module          the path of the SoftHSM2 PKCS#11 module
# The one fixture behind tests/kms/test-kms-p11.c and tests/e2e/lib.sh (e2e_softhsm_init).
# softhsm2-util takes PINs only on its command line or a terminal: these are throwaway
# PINs of a token that lives for one test, not secrets.
set -eu
[ $# -ge 2 ] || { echo "usage: softhsm-token.sh DIR LABEL..." >&2; exit 2; }
dir=$1
shift
command -v softhsm2-util >/dev/null || { echo "softhsm-token.sh: softhsm2-util missing (packaging/install-deps.sh)" >&2; exit 77; }
module=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
	/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
	if [ -f "$m" ]; then
		module=$m
		break
	fi
done
[ -n "$module" ] || { echo "softhsm-token.sh: libsofthsm2.so not found" >&2; exit 77; }

mkdir -p "$dir/tokens"
cat >"$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
umask 077
pin=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
so=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
printf '%s\n' "$pin" >"$dir/pin"
printf '%s\n' "$module" >"$dir/module"
SOFTHSM2_CONF=$dir/softhsm2.conf
export SOFTHSM2_CONF
for label in "$@"; do
	softhsm2-util --init-token --free --label "$label" --so-pin "$so" --pin "$pin" >/dev/null
done
