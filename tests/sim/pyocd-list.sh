#!/bin/sh
# Debian's pyOCD (python3-pyocd 0.13.1) against the virtual KitProg3: it finds and names
# the probe. It can do no more with it, nor with a real KitProg3 in bulk mode: it has no
# CMSIS-DAP v2 backend (it opens the first HID interface, the KitProg3 bridge) and no
# PSoC 6 target (docs/simulator.md, "pyOCD").
. "$(dirname "$0")/lib.sh"
: "${PYOCD_GDBSERVER:?}"

sim --fast --serial-prefix PYO -- "$PYOCD_GDBSERVER" --list > list.log 2>&1 || true
expect list.log 'Cypress Semiconductor KitProg3 CMSIS-DAP \| PYO0000001' \
	"pyOCD did not list the virtual KitProg3"
echo ok
