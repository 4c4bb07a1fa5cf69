#!/bin/sh
# Real OpenOCD through a virtual KitProg3: the DP, both cores and the ROM tables.
. "$(dirname "$0")/lib.sh"

sim --fast --state st -- sh -c '
	"$0" -f kp3.cfg -c init -c "dap info 0" -c "dap info 1" -c shutdown > init.log 2>&1' \
	"$OPENOCD" || true
expect init.log 'Using CMSIS-DAPv2 interface with VID:PID=0x04b4:0xf155, serial=SIM0000001'
expect init.log 'SWD DPIDR 0x6ba02477'
expect init.log 'psoc6.cpu.cm0\] Cortex-M0\+ r0p1 processor detected'
expect init.log 'psoc6.cpu.cm4\] Cortex-M4 r0p1 processor detected'
expect init.log 'target has 4 breakpoints, 2 watchpoints'
expect init.log 'target has 6 breakpoints, 4 watchpoints'
# AP0's ROM table names the family (Cypress, part 0x100); AP1's table nests ARM's.
expect init.log 'AP ID register 0x84770001'
expect init.log 'Designer is 0x034, Cypress'
expect init.log 'Part is 0x100'
expect init.log 'Part is 0x4c0, Cortex-M0\+ ROM'
expect_not init.log 'Error'
# The counters the benchmarks rely on exist and count.
s=st/probes/SIM0000001/stats
[ -f "$s" ] || fail "no stats file"
[ "$(stat_of "$s" dap_commands)" -gt 20 ] || fail "dap_commands not counted"
[ "$(stat_of "$s" usb_round_trips)" -eq "$(stat_of "$s" dap_commands)" ] ||
	fail "every DAP command is one USB round trip"
# OpenOCD disconnected at shutdown: the chip left the fixture.
[ "$(stat_of "$s" chips_done)" -eq 1 ] || fail "chip not released on DAP_Disconnect"
echo ok

# The CPUSS v2 (2M) part: same DP and cores, family 0x102 in the ROM tables.
sim --fast --family v2 -- "$OPENOCD" -f kp3.cfg -c init -c "dap info 0" \
	-c "mdw 0x16000000" -c shutdown > v2.log 2>&1 || true
expect v2.log 'Cortex-M4 r0p1 processor detected'
expect v2.log 'Part is 0x102'
expect v2.log '^0x16000000: e4531200'
echo ok-v2

# Protection states: VIRGIN as the SROM reports it; SECURE leaves only the CM4 AP;
# DEAD leaves the DP alone.
sim --fast --no-agent --protection virgin -- "$OPENOCD" -f kp3.cfg -c init -c "targets psoc6.cpu.cm0" \
	-c halt -c "flash probe 0" -c "flash info 0" -c shutdown > virgin.log 2>&1 || true
expect virgin.log 'Protection: VIRGIN'
sim --fast --protection secure -- "$OPENOCD" -f kp3.cfg -c init -c shutdown > secure.log 2>&1 || true
expect secure.log 'target psoc6.cpu.cm0 examination failed'
expect secure.log 'psoc6.cpu.cm4\] Cortex-M4 r0p1 processor detected'
sim --fast --protection dead -- "$OPENOCD" -f kp3.cfg -c init -c shutdown > dead.log 2>&1 || true
expect dead.log 'SWD DPIDR 0x6ba02477'
expect dead.log 'target psoc6.cpu.cm4 examination failed'
expect_not dead.log 'processor detected'
echo ok-protection
