#!/bin/sh
# Real OpenOCD (stock target/psoc6.cfg) against the executing CM0+: verify_image through
# OpenOCD's on-target CRC algorithm in under a second, flash erase_check on-target, a
# hardware breakpoint set with bp halting the core at its address, and step under the
# default "cortex_m maskisr auto".
. "$(dirname "$0")/lib.sh"
: "${IMAGES_DIR:?}"

# verify_image of 2 KiB: the CRC runs on the CM0+ (no read-back fallback).
head -c 2048 /dev/urandom > img.bin
sim --fast --no-agent -- "$OPENOCD" -f kp3.cfg -c init -c "targets psoc6.cpu.cm0" -c halt \
	-c "flash write_image erase img.bin 0x10000000 bin" \
	-c 'set t0 [ms]' -c "verify_image img.bin 0x10000000 bin" \
	-c 'echo "VERIFY_MS [expr {[ms] - $t0}]"' \
	-c 'set t0 [ms]' -c "flash erase_check 1" \
	-c 'echo "ERASE_CHECK_MS [expr {[ms] - $t0}]"' -c shutdown > verify.log 2>&1 || true
expect verify.log 'verified 2048 bytes'
expect_not verify.log 'rror executing|alling back|slow fallback|[Tt]imeout|checksum mismatch'
ms=$(sed -n 's/^VERIFY_MS //p' verify.log)
[ -n "$ms" ] && [ "$ms" -lt 1000 ] || fail "verify_image took ${ms:-?} ms (want < 1000)"
# The work flash (bank 1) was never written: the on-target blank check says so.
expect verify.log 'successfully checked erase state'
expect_not verify.log 'slow fallback erase check'
ms=$(sed -n 's/^ERASE_CHECK_MS //p' verify.log)
echo "verify_image ${ms:-?} ms"

# bp and step on a running image (tests/sim/images/loop.S: 0x10000104 adds r0, 0x10000106
# adds r1, 0x10000108 b loop).
sim --fast --no-agent -- "$OPENOCD" -f kp3.cfg -c init -c "targets psoc6.cpu.cm0" -c halt \
	-c "flash write_image erase $IMAGES_DIR/loop.bin 0x10000000 bin" \
	-c "reset halt" -c "echo MASKISR" -c "cortex_m maskisr" \
	-c "bp 0x10000108 2 hw" -c resume -c "wait_halt 1000" \
	-c 'echo "BP_PC [format 0x%08x [lindex [get_reg pc] 1]]"' -c "rbp 0x10000108" \
	-c step -c 'echo "STEP1_PC [format 0x%08x [lindex [get_reg pc] 1]]"' \
	-c step -c 'echo "STEP2_PC [format 0x%08x [lindex [get_reg pc] 1]]"' \
	-c resume -c halt -c shutdown > bp.log 2>&1 || true
expect bp.log 'cortex_m interrupt mask auto'
expect bp.log 'BP_PC 0x10000108' "bp did not halt at 0x10000108"
expect bp.log 'halted due to breakpoint'
expect bp.log 'STEP1_PC 0x10000104' "the first step did not reach the loop head"
expect bp.log 'STEP2_PC 0x10000106' "the second step did not advance one instruction"
echo ok
