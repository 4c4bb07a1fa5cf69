#!/bin/sh
# Four virtual probes at once, four OpenOCDs in parallel, each picking its probe by
# "adapter serial": each one must reach its own probe's chip.
. "$(dirname "$0")/lib.sh"

sim --fast --probes 4 --state st -- sh -c '
	for s in $LPA_SIM_SERIALS; do
		timeout 60 "$0" -f kp3.cfg -c "adapter serial $s" -c init \
			-c "mdw 0x16000600 3" -c shutdown > "ocd-$s.log" 2>&1 &
	done
	wait
	echo "$LPA_SIM_SERIALS" > serials' "$OPENOCD" || true

[ "$(wc -w < serials)" -eq 4 ] || fail "LPA_SIM_SERIALS should name 4 probes"
uids=""
for s in $(cat serials); do
	log=ocd-$s.log
	expect "$log" "serial=$s" "OpenOCD did not pick $s"
	expect "$log" 'Cortex-M4 r0p1 processor detected'
	words=$(sed -n 's/^0x16000600: \([0-9a-f]*\) \([0-9a-f]*\) \([0-9a-f]*\).*/\1 \2 \3/p' "$log")
	[ -n "$words" ] || fail "$s: no mdw output"
	set -- $words
	uid=$(printf '%02X%06X%08X' $(( (0x$3 >> 16 & 0x7f) << 1 | (0x$2 >> 24 & 1) )) \
		$(( 0x$2 & 0xffffff )) $(( 0x$1 )))
	[ "$uid" = "$(kv st/probes/$s/chip00/identity uid)" ] || fail "$s read UID $uid, not its chip's"
	[ "$(stat_of st/probes/$s/stats chips_done)" -eq 1 ] || fail "$s: chip not released"
	uids="$uids $uid"
done
[ "$(echo $uids | tr ' ' '\n' | sort -u | wc -l)" -eq 4 ] || fail "UIDs not unique: $uids"
echo ok
