#!/bin/sh
# The lpa demo, from a fresh clone on a fresh Debian 12 machine (as root): installs the
# dependencies, builds, then runs a whole simulated production line:
#   a reference KMS over HTTPS (mutual TLS) with a demo operator (password + TOTP),
#   4 virtual KitProg3 probes with 4 simulated PSoC 6 chips each,
#   operator login (the TOTP code computed with oathtool), a 16-device batch,
#   the manifest verified as QA would, and one device asked to prove its keys.
set -eu
cd "$(dirname "$0")/.."
sh packaging/install-deps.sh >/dev/null
if [ -f build/build.ninja ]; then
	meson setup --reconfigure build >/dev/null
else
	meson setup build >/dev/null
fi
ninja -C build >/dev/null

BUILD=$PWD/build
WORK=$(mktemp -d /tmp/lpa-demo.XXXXXX)
. tests/e2e/lib.sh
trap 'e2e_kms_stop; e2e_station logout >/dev/null 2>&1 || true' EXIT INT TERM
station=$BUILD/lpa/station/lpa-station

echo "== self-test of the station's cryptography"
"$station" selftest | tail -1
echo
echo "== reference KMS: init, operator 'demo' (operator + qa), station 'st1', serve"
e2e_kms_start cmsis-dap
echo "KMS listening on 127.0.0.1:$E2E_KMS_PORT (state in $WORK/kms)"
echo
echo "== operator login (password from a descriptor, TOTP from oathtool)"
e2e_login
echo
echo "== 4 probes x 4 chips: lpa-station batch --lot DEMO-1 --count 16"
e2e_sim --probes 4 --chips 4 --state "$WORK/sim" -- \
	"$station" --config "$WORK/station.conf" batch --lot DEMO-1 --count 16 \
	>"$WORK/batch.jsonl"
rc=$?
grep -o '"probe":"[^"]*","chip_uid":"[^"]*","dev_eui":"[^"]*"[^}]*"result":"[a-z]*"' \
	"$WORK/batch.jsonl" | sed 's/"link_.*//; s/,"class.*"result"/ result/' | head -16
tail -1 "$WORK/batch.jsonl"
[ $rc -eq 0 ] || { echo "batch failed (exit $rc)"; exit 1; }
echo
echo "== QA: lpa-station manifest verify (pinned KMS and station keys; --kms: the KMS's records)"
"$station" --config "$WORK/station.conf" manifest verify \
	"$WORK/station/manifests/DEMO-1.jsonl" --kms-keys "$WORK/keys/kms-keys.json" \
	--station-cert "$WORK/certs/st1.pem" --kms
echo
echo "== QA: lpa-station verify on the first chip of probe SIM0000001 (proof of possession)"
e2e_sim --probes 4 --chips 4 --state "$WORK/sim" -- \
	"$station" --config "$WORK/station.conf" verify --probe SIM0000001
echo
echo "== the KMS's audit log is intact"
"$BUILD/lpa/kms/lpa-kms" audit verify --dir "$WORK/kms"
echo
"$station" --config "$WORK/station.conf" logout
echo "demo complete; everything it wrote is in $WORK"
