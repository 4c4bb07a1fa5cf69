#!/bin/sh
# The launcher itself: option errors, exit statuses, the environment it gives the
# command, and the umockdev testbed removed on every exit path.
. "$(dirname "$0")/lib.sh"

export TMPDIR="$TEST_TMP/tmp"   # umockdev makes its testbed directory here
mkdir -p "$TMPDIR"
clean() { [ -z "$(ls -A "$TMPDIR")" ] || fail "testbed left behind after $1: $(ls "$TMPDIR")"; }

rc=0; "$LPA_SIM" --probes 0 -- true 2> e1 || rc=$?
[ $rc -eq 2 ] || fail "--probes 0 should exit 2, not $rc"
expect e1 "invalid option value '0'"
rc=0; "$LPA_SIM" --family v9 -- true 2> e2 || rc=$?
[ $rc -eq 2 ] || fail "--family v9 should exit 2"
rc=0; "$LPA_SIM" --fast 2> e3 || rc=$?
[ $rc -eq 2 ] || fail "a missing command should exit 2"
expect e3 'no command given'

rc=0; sim --fast --faults bogus=1 -- true 2> e4 || rc=$?
[ $rc -eq 3 ] || fail "a bad fault spec should exit 3, not $rc"
expect e4 "faults: unknown key 'bogus'"
clean "a setup failure"

rc=0; sim --fast -- sh -c 'exit 7' || rc=$?
[ $rc -eq 7 ] || fail "the command's exit status should pass through, got $rc"
clean "a normal exit"
rc=0; sim --fast -- /nonexistent/command 2> e5 || rc=$?
[ $rc -eq 127 ] || fail "an unrunnable command should give 127, got $rc"
clean "an exec failure"

# A signal to the launcher reaches the command; the testbed still goes away.
rc=0; sim --fast -- sh -c 'kill -TERM $PPID; exec sleep 10' || rc=$?
[ $rc -eq 143 ] || fail "SIGTERM should end the command (143), got $rc"
clean "SIGTERM"

# What the command sees.
sim --fast --probes 2 --state st --serial-prefix LOT -- sh -c \
	'echo "$LPA_SIM_SERIALS|$LPA_SIM_STATE|$LD_PRELOAD"; test -d "$UMOCKDEV_DIR"' > env.out
expect env.out '^LOT0000001 LOT0000002\|st\|libumockdev-preload.so.0'
[ -L "st/chips/$(kv st/probes/LOT0000002/chip00/identity uid)" ] || fail "no by-UID link"
clean "a run with state"

# Chips differ by seed and stay the same for the same seed.
sim --fast --seed 5 --state s5a -- true
sim --fast --seed 5 --state s5b -- true
sim --fast --seed 6 --state s6 -- true
a=$(kv s5a/probes/SIM0000001/chip00/identity uid)
[ "$a" = "$(kv s5b/probes/SIM0000001/chip00/identity uid)" ] || fail "same seed, other UID"
[ "$a" != "$(kv s6/probes/SIM0000001/chip00/identity uid)" ] || fail "other seed, same UID"
[ "$(kv s5a/probes/SIM0000001/chip00/identity dik_pub)" = \
	"$(kv s5b/probes/SIM0000001/chip00/identity dik_pub)" ] || fail "same seed, other DIK"

# The CPUSS v2 part: family 0x102 in the record.
sim --fast --family v2 --state v2 -- true
[ "$(kv v2/probes/SIM0000001/chip00/identity family)" = 0x102 ] || fail "v2 family not recorded"
echo ok
