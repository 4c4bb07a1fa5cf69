#!/bin/sh
# The lpa demo, from a fresh clone on a fresh Debian 12 machine (as root): installs the
# dependencies, builds, then runs a whole simulated production line:
#   a reference KMS over HTTPS (mutual TLS) with a demo operator (password + TOTP),
#   4 virtual KitProg3 probes with 4 simulated PSoC 6 chips each,
#   operator login (the TOTP code computed with oathtool), a 16-device batch,
#   the manifest verified as QA would, one device asked to prove its keys, and then in
#   operation one device joining through the KMS's Join Server (network-server and
#   application-server stand-ins) with one uplink that only the AS decrypts.
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
echo "== in operation: the KMS as Join Server; one device joins, one uplink reaches the AS"
kms=$BUILD/lpa/kms/lpa-kms
net=$BUILD/fixtures/network
"$kms" admin peer add ns1 --dir "$WORK/kms" --kind ns --net-id 000013 \
	--kek-label ns:000013:ns1 --lots DEMO-1 --out "$WORK/certs" | tail -1
"$kms" admin peer add as1 --dir "$WORK/kms" --kind as --kek-label as:as1 --lots DEMO-1 \
	--out "$WORK/certs" | tail -1
url=https://127.0.0.1:$E2E_KMS_PORT/lbi
mkfifo "$WORK/ns.in" "$WORK/ns.out" "$WORK/as.in" "$WORK/as.out" "$WORK/cm4.in" "$WORK/cm4.out"
"$net/lpa-ns-standin" --url "$url" --cert "$WORK/certs/ns1.pem" --key "$WORK/certs/ns1.key" \
	--ca "$WORK/certs/kms-ca.pem" --id 000013 --kek "ns:000013:ns1=$WORK/certs/ns1.kek" \
	<"$WORK/ns.in" >"$WORK/ns.out" &
ns_pid=$!
exec 5>"$WORK/ns.in" 6<"$WORK/ns.out"
"$net/lpa-as-standin" --url "$url" --cert "$WORK/certs/as1.pem" --key "$WORK/certs/as1.key" \
	--ca "$WORK/certs/kms-ca.pem" --id as1 --kek "as:as1=$WORK/certs/as1.kek" \
	<"$WORK/as.in" >"$WORK/as.out" &
as_pid=$!
exec 7>"$WORK/as.in" 8<"$WORK/as.out"
# The first chip of probe SIM0000001 again (the simulator reloads it from --state), its
# application core played by lpa-cm4: the LoRaWAN calls are made by the chip's agent.
e2e_spawn "$WORK/cm4.pgid" "$BUILD/fixtures/sim/lpa-sim" --cpu-mhz 0 \
	--kms-pub "$WORK/keys/kms-package.pub.pem" --probes 1 --chips 4 --state "$WORK/sim" \
	-- "$BUILD/fixtures/cm4/lpa-cm4" <"$WORK/cm4.in" >"$WORK/cm4.out" 2>"$WORK/cm4.log" &
cm4_job=$!
exec 3>"$WORK/cm4.in" 4<"$WORK/cm4.out"
read -r _ <&6
read -r _ <&8
read -r l <&4
[ "$l" = ready ] || { echo "lpa-cm4 did not start: $(cat "$WORK/cm4.log")"; exit 1; }
e2e_ask 3 4 join-request
req=${A#ok }
# The EUIs as the NS reads them from the JoinRequest (little-endian on the air).
join_eui=$(e2e_reverse_hex "$(echo "$req" | cut -c3-18)")
eui=$(e2e_reverse_hex "$(echo "$req" | cut -c19-34)")
mac=1.0.4
grep -qs '^lorawan 0x11' "$(grep -l "^dev_eui $(echo "$eui" | tr a-f A-F)" "$WORK"/sim/chips/*/keys)" && mac=1.1
echo "chip $eui (LoRaWAN $mac), its agent on the CM0+: JoinRequest $req"
e2e_ask 5 6 "join $eui $join_eui $mac $req"
[ "${A%% *}" = ok ] || { echo "join refused: $A"; exit 1; }
echo "NS -> Join Server JoinReq -> JoinAns Success: network keys under ns:000013:ns1, the"
echo "   AppSKey under as:as1 (kept unopened by the NS), join-accept for the device"
# shellcheck disable=SC2086 # the answer's words: ok DEVADDR ACCEPT
set -- $A
addr=$2
e2e_ask 3 4 "join-accept $3"
[ "${A%% *}" = ok ] || { echo "the agent refused the join-accept: $A"; exit 1; }
addr_le=$(echo "${A#ok }" | cut -c15-22)
echo "agent: join-accept verified, session keys derived and kept in the CM0+, DevAddr $addr"
payload=$(printf 'hello from %s' "$eui" | od -An -tx1 | tr -d ' \n')
e2e_ask 3 4 "uplink 0 0 $(e2e_lw_uplink "$addr_le" 2 "$payload")"
# shellcheck disable=SC2086 # the answer's words: ok FCNT PHYPAYLOAD
set -- $A
echo "agent: uplink FCnt $2, FRMPayload encrypted, MIC added: $3"
e2e_ask 5 6 "uplink $3"
[ "${A%% *}" = up ] || { echo "the NS refused the uplink: $A"; exit 1; }
# shellcheck disable=SC2086 # the answer's words
set -- $A
echo "NS: MIC verified; FRMPayload stays encrypted: $5"
e2e_ask 7 8 "context $2 $6 $7 $8"
e2e_ask 7 8 "decrypt $eui $addr $3 $5"
echo "AS (AppSKey unwrapped with as:as1): $(echo "${A#plain }" | sed 's/../\\x&/g' | xargs -0 printf '%b')"
echo quit >&5
echo quit >&7
exec 3>&- 4<&- 5>&- 6<&- 7>&- 8<&-
wait $cm4_job $ns_pid $as_pid
echo
echo "== the KMS's audit log is intact"
"$BUILD/lpa/kms/lpa-kms" audit verify --dir "$WORK/kms"
echo
"$station" --config "$WORK/station.conf" logout
echo "demo complete; everything it wrote is in $WORK"
