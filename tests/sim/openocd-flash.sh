#!/bin/sh
# OpenOCD's own psoc6 flash driver against the simulated SROM API on erased parts (as a
# factory programs them): flash probe/info, a main-flash row and an SFlash user row
# programmed and verified, the unique-ID fields read with mdw; and the key store refusing
# a debug read once the agent's firmware closed it (readable on an erased part).
. "$(dirname "$0")/lib.sh"

head -c 512 /dev/urandom > row.bin
head -c 512 /dev/urandom > urow.bin
sim --fast --no-agent --state st -- "$OPENOCD" -f kp3.cfg -c init -c "targets psoc6.cpu.cm0" -c halt \
	-c "flash probe 0" -c "flash info 0" \
	-c "flash write_bank 0 row.bin 0x2000" -c "flash verify_bank 0 row.bin 0x2000" \
	-c "flash write_bank 2 urow.bin 0" -c "flash verify_bank 2 urow.bin 0" \
	-c "mdw 0x16000600 3" -c shutdown > flash.log 2>&1 || true

expect flash.log "flash 'psoc6' found at 0x10000000"
expect flash.log 'PSoC6 Silicon ID: 0xE2072100'
expect flash.log 'Protection: NORMAL'
expect flash.log 'Main Flash size: 1024 kB'
expect flash.log 'wrote 512 bytes from file row.bin to flash bank 0 at offset 0x00002000'
expect flash.log 'wrote 512 bytes from file urow.bin to flash bank 2 at offset 0x00000000'
[ "$(grep -c 'contents match' flash.log)" -eq 2 ] || fail "both verifies must match"

# The chip's own record agrees: the row is in main flash, the user row in SFlash.
chip=st/probes/SIM0000001/chip00
cmp -s row.bin "$(dd if=$chip/main.bin bs=512 skip=16 count=1 2>/dev/null >row.out; echo row.out)" ||
	fail "main flash row differs in the chip record"
dd if=$chip/sflash.bin bs=512 skip=4 count=1 2>/dev/null > urow.out
cmp -s urow.bin urow.out || fail "SFlash user row differs in the chip record"

# mdw of the die fields gives the UID the chip records (Cy_SysLib_GetUniqueId layout).
uid=$(kv $chip/identity uid)
words=$(sed -n 's/^0x16000600: \([0-9a-f]*\) \([0-9a-f]*\) \([0-9a-f]*\).*/\1 \2 \3/p' flash.log)
[ -n "$words" ] || fail "no mdw output"
set -- $words
calc=$(printf '%02X%06X%08X' $(( (0x$3 >> 16 & 0x7f) << 1 | (0x$2 >> 24 & 1) )) \
	$(( 0x$2 & 0xffffff )) $(( 0x$1 )))
[ "$calc" = "$uid" ] || fail "UID from mdw $calc != recorded $uid"

# The key store (work flash 0x14007000) answers debug reads with a fault on a part whose
# agent firmware closed it at boot, and is readable on an erased part (nothing closed it:
# the chip's manufacture placed the identity record, "LID1").
sim --fast -- "$OPENOCD" -f kp3.cfg -c init -c "catch {mdw 0x14007400}" -c shutdown \
	> ks.log 2>&1 || true
expect ks.log 'Failed to read memory|Error' "key-store read did not fail"
expect_not ks.log '^0x14007400:' "key-store read returned data"
sim --fast --no-agent -- "$OPENOCD" -f kp3.cfg -c init -c "mdw 0x14007400" -c shutdown \
	> ks-open.log 2>&1 || true
expect ks-open.log '^0x14007400: 3144494c' "the unprotected key store should read"
echo ok

# An application vector table in flash (SP, entry 0x10000101): "reset halt" goes through
# psoc6.cfg's reset handling (SYSRESETREQ / VECTRESET, vector catch, FPB) and stops the
# CM0+ at the application's entry.
printf '\000\040\000\010\001\001\000\020' > vt.bin
head -c 504 /dev/zero >> vt.bin
sim --fast --no-agent -- "$OPENOCD" -f kp3.cfg -c init -c "targets psoc6.cpu.cm0" -c halt \
	-c "flash write_bank 0 vt.bin 0" -c "reset halt" -c "reg pc" -c shutdown > reset.log 2>&1 || true
expect reset.log 'psoc6.cpu.cm0\] halted due to debug-request'
expect reset.log '^pc \(/32\): 0x10000100' "reset halt did not stop at the application entry"
echo ok-reset
