#!/bin/sh
# The secure agent's firmware, executing on the simulated CM0+, reached through real
# OpenOCD (memory accesses only): GET_IDENTITY, INSTALL_PACKAGE with a package from the
# fixture KMS key, GET_STATUS, a replay refused; then the agent fault modes: brownout
# during INSTALL_PACKAGE's key-slot write, and a slow agent.
. "$(dirname "$0")/lib.sh"
: "${MKPKG:?}"
TCL=$(dirname "$0")/agent.tcl
KMS_KEY=$PKI_DIR/kms-package.key

# The chip's identity first (the package needs its DIK), in a run of its own: a chip
# record persists, so the next run finds the same chip again.
sim --fast --state st -- "$OPENOCD" -f kp3.cfg -f "$TCL" -c init \
	-c "agent_call 0x70 none 0 lpi1.bin 50" -c shutdown > id.log 2>&1 || true
chip=st/probes/SIM0000001/chip00
expect id.log 'STATUS 0xA0000000'
[ "$(head -c 4 lpi1.bin)" = LPI1 ] || fail "GET_IDENTITY output is not an LPI1"
uid=$(od -An -tx1 -j8 -N8 lpi1.bin | tr -d ' \n' | tr a-f A-F)
[ "$uid" = "$(kv $chip/identity uid)" ] || fail "LPI1 names UID $uid"

"$MKPKG" $chip "$KMS_KEY" 5 pkg5.bin
sim --fast --state st -- "$OPENOCD" -f kp3.cfg -f "$TCL" -c init \
	-c "agent_call 0x71 pkg5.bin 237 lpr1.bin 50" -c "agent_call 0x71 pkg5.bin 237 x.bin 50" \
	-c "agent_call 0x73 none 0 status.bin 50" -c shutdown > install.log 2>&1 || true
[ "$(grep -c 'STATUS 0xA0000000' install.log)" -eq 2 ] || fail "install + status should succeed"
expect install.log 'STATUS 0xF0000004' "a replayed package must be refused as stale"
[ "$(head -c 4 lpr1.bin)" = LPR1 ] || fail "INSTALL_PACKAGE output is not an LPR1"
[ "$(kv $chip/keys provisioned)" = 1 ] || fail "the chip record is not provisioned"
[ "$(kv $chip/keys counter)" = 5 ] || fail "the chip record lacks counter 5"
[ "$(kv $chip/keys dev_eui)" = 70B3D57ED0001234 ] || fail "wrong DevEUI recorded"
expect $chip/agent.log 'op=INSTALL_PACKAGE status=0xA0000000'

# Brownout during INSTALL_PACKAGE (after the key flip): OpenOCD never gets an answer,
# yet the chip committed the new counter: the receipt is what was lost.
"$MKPKG" $chip "$KMS_KEY" 6 pkg6.bin
sim --fast --state st --faults brownout-install=1:after-flip -- "$OPENOCD" -f kp3.cfg \
	-f "$TCL" -c init -c "agent_call 0x71 pkg6.bin 237 r6.bin 50" \
	-c shutdown > brownout.log 2>&1 || true
# The call is never answered: power came back with SRAM cleared (status word 0) or
# the poll itself failed; OpenOCD notices the reset.
expect_not brownout.log 'STATUS 0x[AF]'
expect brownout.log 'STATUS 0x00000000|POLL FAILED|STILL LOCKED'
expect brownout.log 'external reset detected'
[ "$(kv $chip/keys counter)" = 6 ] || fail "after-flip brownout should keep counter 6"

# ... and mid-slot: nothing committed.
"$MKPKG" $chip "$KMS_KEY" 7 pkg7.bin
sim --fast --state st --faults brownout-install=1:mid-slot -- "$OPENOCD" -f kp3.cfg \
	-f "$TCL" -c init -c "agent_call 0x71 pkg7.bin 237 r7.bin 50" \
	-c shutdown > brownout2.log 2>&1 || true
expect_not brownout2.log 'STATUS 0x[AF]'
[ "$(kv $chip/keys counter)" = 6 ] || fail "mid-slot brownout must keep counter 6"

# A slow agent: the lock is still held after a handful of polls.
sim --fast --state st --faults slow-agent=2000ms -- "$OPENOCD" -f kp3.cfg -f "$TCL" \
	-c init -c "agent_call 0x73 none 0 s.bin 3" -c shutdown > slow.log 2>&1 || true
expect slow.log 'STILL LOCKED after 3 polls'
echo ok
