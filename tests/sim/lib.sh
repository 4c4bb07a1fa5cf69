# lib.sh — shared helpers of the simulator's shell tests (sourced; POSIX sh).
# Environment from meson: LPA_SIM (the launcher), PKI_DIR (fixture PKI), OPENOCD,
# TEST_TMP (a scratch directory of this test inside the build tree).
set -eu

: "${LPA_SIM:?}" "${PKI_DIR:?}" "${TEST_TMP:?}"
OPENOCD=${OPENOCD:-openocd}

rm -rf "$TEST_TMP"
mkdir -p "$TEST_TMP"
cd "$TEST_TMP"

# The stock interface settings a factory would use, and the unchanged target config.
# No servers: tests run in parallel and must not fight over ports.
cat > kp3.cfg <<'CFG'
gdb_port disabled
tcl_port disabled
telnet_port disabled
adapter driver cmsis-dap
cmsis_dap_backend usb_bulk
cmsis_dap_vid_pid 0x04b4 0xf155
transport select swd
source [find target/psoc6.cfg]
CFG

# Whatever this test started ends with it, on every exit path: sim runs lpa-sim in the
# background and waits for it, so a signal to this shell is handled at once (a trap
# waits for a foreground command first), and the trap passes it on. lpa-sim then ends
# its command and everything the command left running (docs/simulator.md).
SIM_PID=
lib_cleanup() {
	[ -z "$SIM_PID" ] || kill -TERM "$SIM_PID" 2>/dev/null || true
	SIM_PID=
}
trap 'lib_cleanup' EXIT
trap 'lib_cleanup; trap - EXIT; exit 129' HUP
trap 'lib_cleanup; trap - EXIT; exit 130' INT
trap 'lib_cleanup; trap - EXIT; exit 143' TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# sim [lpa-sim options] -- command...: the launcher with the fixture PKI.
# Its exit status is lpa-sim's. The command's standard input is /dev/null.
sim() {
	"$LPA_SIM" --ca-cert "$PKI_DIR/device-ca.pem" --ca-key "$PKI_DIR/device-ca.key" \
		--kms-pub "$PKI_DIR/kms-package.pub.pem" "$@" < /dev/null &
	SIM_PID=$!
	sim_rc=0
	wait "$SIM_PID" || sim_rc=$?
	SIM_PID=
	return $sim_rc
}

# gone PID: true when the process no longer runs (a zombie counts as gone).
gone() {
	! kill -0 "$1" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# wait_gone SECONDS PID...: waits (polling, bounded) until every PID is gone.
wait_gone() {
	wg_left=$(( $1 * 20 ))
	shift
	for wg_pid in "$@"; do
		while ! gone "$wg_pid"; do
			[ $wg_left -gt 0 ] || return 1
			wg_left=$(( wg_left - 1 ))
			sleep 0.05
		done
	done
}

# ocd LOG [openocd -c commands...]: OpenOCD with kp3.cfg, output into LOG; never fails
# by itself (tests assert on the log), but is bounded by a timeout.
ocd() {
	log=$1
	shift
	set -- -f kp3.cfg "$@"
	timeout 60 "$OPENOCD" "$@" > "$log" 2>&1 || true
}

expect() { # expect FILE REGEX [what]
	grep -Eq -- "$2" "$1" || { echo "---- $1" >&2; cat "$1" >&2; fail "${3:-$1 lacks /$2/}"; }
}
expect_not() {
	if grep -Eq -- "$2" "$1"; then
		echo "---- $1" >&2
		cat "$1" >&2
		fail "${3:-$1 has /$2/}"
	fi
}

# stat FILE KEY: a counter from a probe's stats file
stat_of() {
	awk -v k="$2" '$1 == k { print $2 }' "$1"
}

# kv FILE KEY: a value from a chip record ("key value" lines)
kv() {
	awk -v k="$2" '$1 == k { print $2 }' "$1"
}
