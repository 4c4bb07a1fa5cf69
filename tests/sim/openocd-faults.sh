#!/bin/sh
# Each fault-injection mode changes what real OpenOCD sees (docs/simulator.md).
. "$(dirname "$0")/lib.sh"

head -c 512 /dev/urandom > row.bin
MDW='-c init -c "catch {mdw 0x08000000 32}" -c shutdown'

# --- WAIT storms: short ones are absorbed by the probe's retries (OpenOCD asks for
# 64), long ones reach OpenOCD as failed accesses.
sim --fast --no-agent --state st1 --faults wait-storm=50000:10 -- \
	"$OPENOCD" -f kp3.cfg -c init -c "mdw 0x08000000 64" -c shutdown > wait-short.log 2>&1 || true
expect wait-short.log '^0x080000e0:' "short storms should be invisible to OpenOCD"
[ "$(stat_of st1/probes/SIM0000001/stats swd_wait)" -gt 0 ] || fail "no WAIT was injected"
sim --fast --no-agent --state st2 --faults wait-storm=5000:100 -- \
	"$OPENOCD" -f kp3.cfg -c init -c "catch {mdw 0x08000000 64}" -c shutdown > wait-long.log 2>&1 || true
expect wait-long.log 'Error: Failed to read memory' "long WAIT storms must surface"

# --- FAULT on an address range: only that range fails.
sim --fast --no-agent --faults fault=0x08001000-0x080010ff -- "$OPENOCD" -f kp3.cfg -c init \
	-c "catch {mdw 0x08001000}" -c "mdw 0x08000ff0" -c shutdown > fault.log 2>&1 || true
expect fault.log 'Failed to read memory at 0x08001000'
expect fault.log '^0x08000ff0: 00000000'

# --- NO_ACK at the k-th transfer: the DUT is pulled after init.
sim --fast --no-agent --faults noack-at=150 -- "$OPENOCD" -f kp3.cfg -c init \
	-c "catch {mdw 0x08000000 32}" -c shutdown > noack.log 2>&1 || true
expect noack.log 'Cortex-M4 r0p1 processor detected'
expect noack.log 'Error connecting DP|cannot read IDR|SWD ack not OK'
expect_not noack.log '^0x08000000:'

# --- USB unplug: every URB fails with ENODEV.
sim --fast --no-agent --faults unplug-at=40 -- "$OPENOCD" -f kp3.cfg -c init -c shutdown > unplug.log 2>&1 || true
expect unplug.log 'No such device'
expect_not unplug.log 'Cortex-M4 r0p1 processor detected'

# --- Brownout during a flash row write: the write fails, the chip comes back from a
# power-on reset, and its flash holds half a row.
sim --fast --no-agent --state st3 --faults brownout-flash=1 -- "$OPENOCD" -f kp3.cfg -c init -c halt \
	-c "flash write_bank 0 row.bin 0x2000" -c shutdown > brownout.log 2>&1 || true
expect brownout.log 'Failed to program Flash at address 0x10002000'
expect st3/probes/SIM0000001/chip00/agent.log 'brownout'
dd if=st3/probes/SIM0000001/chip00/main.bin bs=256 skip=32 count=1 2>/dev/null > half1
dd if=row.bin bs=256 count=1 2>/dev/null > want1
cmp -s half1 want1 || fail "the first half of the row should be programmed"
[ "$(dd if=st3/probes/SIM0000001/chip00/main.bin bs=256 skip=33 count=1 2>/dev/null |
	tr -d '\000' | wc -c)" -eq 0 ] || fail "the second half of the row should still be erased"

# --- Slow flash: a row program longer than OpenOCD's IPC timeout (1 s).
sim --no-agent --faults slow-flash=300 -- "$OPENOCD" -f kp3.cfg -c init -c halt \
	-c "flash write_bank 0 row.bin 0x2000" -c shutdown > slow.log 2>&1 || true
expect slow.log 'Timeout polling IPC Lock Status'

# --- Per-round-trip USB latency: every response waits out the latency after its
# command (the probe's own measure, a lower bound no load can break), and the latency
# changes timing only: the same round trips and SWD transfers as without it.
sim --fast --no-agent --state st4 -- "$OPENOCD" -f kp3.cfg -c init -c shutdown > fast.log 2>&1 || true
sim --fast --no-agent --state st5 --faults usb-latency=3ms -- "$OPENOCD" -f kp3.cfg -c init -c shutdown \
	> lat.log 2>&1 || true
expect fast.log 'Cortex-M4 r0p1 processor detected'
expect lat.log 'Cortex-M4 r0p1 processor detected'
fast=st4/probes/SIM0000001/stats
lat=st5/probes/SIM0000001/stats
rt=$(stat_of $lat usb_round_trips)
[ "$rt" -gt 20 ] || fail "latency: only $rt round trips"
[ "$(stat_of $lat usb_rt_min_us)" -ge 3000 ] ||
	fail "latency: a response came $(stat_of $lat usb_rt_min_us) us after its command, not 3 ms"
[ "$rt" -eq "$(stat_of $fast usb_round_trips)" ] ||
	fail "latency: $rt round trips, $(stat_of $fast usb_round_trips) without it"
[ "$(stat_of $lat swd_transfers)" -eq "$(stat_of $fast swd_transfers)" ] ||
	fail "latency changed the SWD traffic"
echo "init: $rt round trips, each >= $(stat_of $lat usb_rt_min_us) us with 3 ms latency"
echo ok
