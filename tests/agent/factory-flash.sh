#!/bin/sh
# factory-flash.sh IMAGE.hex IMAGE.bin LPA-STATION — the factory's flashing step of
# docs/agent.md ("Flashing at the factory") with real OpenOCD and the stock
# target/psoc6.cfg, against a simulated CY8C6xx7 behind a virtual KitProg3: reset halt,
# flash write_image erase of the .hex, a read-back of the flash that equals the .bin
# byte for byte (verify_image would do the same; the simulator's CM0+ cannot yet run
# OpenOCD's on-target CRC algorithm, which makes it slow, issue 11), and the image
# read back from the chip passes `lpa-station agent info`.
hex=$(realpath "$1") bin=$(realpath "$2") station=$(realpath "$3")
. "$(dirname "$0")/../sim/lib.sh"
size=$(wc -c <"$bin")

sim --fast --state st -- "$OPENOCD" -f kp3.cfg -c init -c "targets psoc6.cpu.cm0" \
	-c "reset halt" -c "flash write_image erase $hex" \
	-c "dump_image readback.bin 0x10000000 $size" -c shutdown > flash.log 2>&1 || true
expect flash.log "wrote [0-9]+ bytes from file $hex" "write_image did not write the image"
cmp -s readback.bin "$bin" || fail "the flash read back differs from $bin"
cmp -s st/probes/SIM0000001/chip00/main.bin /dev/null && fail "the chip record has no main flash"
head -c "$size" st/probes/SIM0000001/chip00/main.bin | cmp -s - "$bin" ||
	fail "the chip's main flash record differs from $bin"
"$station" agent info readback.bin > info.log || fail "agent info refused the flashed image"
expect info.log 'recomputed, matches'
echo "flashed $size bytes: $(grep sha256 info.log)"
