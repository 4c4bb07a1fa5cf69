#!/bin/sh
# `lpa-station probes` and `identify` against two simulated probes (run under lpa-sim).
# usage: test-probes.sh PATH/TO/lpa-station
set -u
st=$1
fail=0
check() { # description, then a shell condition
	if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=$((fail + 1)); fi
}
out=$("$st" probes --json)
rc=$?
check "probes exits 0" '[ $rc -eq 0 ]'
check "probes lists both probes" '[ "$(echo "$out" | grep -o "\"serial\":\"SIM000000[12]\"" | wc -l)" -eq 2 ]'
check "probes shows the chip family" 'echo "$out" | grep -q "\"family\":\"0x100\""'
check "probes shows the agent" 'echo "$out" | grep -q "\"version\":\"1.0\",\"provisioned\":false"'
out=$("$st" identify --probe SIM0000002 --json)
rc=$?
check "identify exits 0" '[ $rc -eq 0 ]'
check "identify names the probe" 'echo "$out" | grep -q "\"probe\":\"SIM0000002\""'
check "identify carries the LPI1 record" 'echo "$out" | grep -q "\"identity\":\"TFBJMQ"'
err=$("$st" identify --probe NOSUCH01 2>&1 >/dev/null)
rc=$?
check "unknown probe exits 4" '[ $rc -eq 4 ]'
check "  and lists the probes that are there" 'echo "$err" | grep -q "no probe NOSUCH01; attached:" && echo "$err" | grep -q "^  SIM0000001" && echo "$err" | grep -q "^  SIM0000002"'
err=$("$st" identify 2>&1 >/dev/null)
rc=$?
check "two probes without --probe is a usage error" '[ $rc -eq 2 ]'
check "  that asks for --probe and lists them" 'echo "$err" | grep -q "2 probes are attached; name one with --probe" && echo "$err" | grep -q "^  SIM0000002"'
"$st" identify --backend jtag >/dev/null 2>&1
rc=$?
check "unknown backend is a usage error" '[ $rc -eq 2 ]'
echo "probes: $((11 - fail)) passed, $fail failed"
exit $fail
