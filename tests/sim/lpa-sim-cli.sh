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

# --chip-kind: malformed rules are usage errors, each naming the value.
for bad in p0 p0=banana q0=blank p=blank p0:=blank p0:x1=blank p0:c=blank p99=blank p0:c1; do
	rc=0; "$LPA_SIM" --chip-kind "$bad" -- true 2> e6 || rc=$?
	[ $rc -eq 2 ] || fail "--chip-kind $bad should exit 2, not $rc"
	expect e6 "invalid option value '$bad'"
done
# A mixed line: probe 0 erased with a vendor identity, probe 1's second chip blank.
sim --fast --probes 2 --chips 2 --chip-kind p0=no-agent --chip-kind p1:c1=blank \
	--state kinds -- true || fail "a mixed line should start"
for c in SIM0000001/chip00 SIM0000001/chip01 SIM0000002/chip01; do
	[ ! -s "kinds/probes/$c/main.bin" ] || ! tr -d '\000' <"kinds/probes/$c/main.bin" | grep -q . ||
		fail "$c should have erased main flash"
done
tr -d '\000' <kinds/probes/SIM0000002/chip00/main.bin | grep -q . ||
	fail "SIM0000002/chip00 should hold the agent"
[ -s kinds/probes/SIM0000001/chip00/cert.der ] || fail "a no-agent chip keeps its vendor identity"
[ ! -s kinds/probes/SIM0000002/chip01/cert.der ] || fail "a blank chip has no certificate"

# --uncertified names probes as --faults and --chip-kind do (pN, 0-based): the old
# 1-based numbers are refused, p1 leaves probe 0's chips certified and probe 1's not.
for bad in 1 0 p p32 p0,,p1 p-1 all,p0; do
	rc=0; "$LPA_SIM" --uncertified "$bad" -- true 2> e7 || rc=$?
	[ $rc -eq 2 ] || fail "--uncertified $bad should exit 2, not $rc"
	expect e7 "invalid option value '$bad'"
done
sim --fast --probes 2 --uncertified p1 --state uncert -- true || fail "--uncertified p1 should start"
grep -q '^cert_len [1-9]' uncert/probes/SIM0000001/chip00/identity || fail "p0's chip should be certified"
grep -q '^cert_len 0$' uncert/probes/SIM0000002/chip00/identity || fail "p1's chip should not be"

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

# Nothing outlives lpa-sim: what the command left running is ended with it...
rc=0; sim --fast -- sh -c 'sleep 300 & echo $! > bg.pid; exit 4' || rc=$?
[ $rc -eq 4 ] || fail "the command's status should pass through its orphans' end, got $rc"
gone "$(cat bg.pid)" || fail "the command's background process outlived lpa-sim"
clean "orphans"
# ... a command deaf to SIGTERM is killed after the grace period, its children too ...
rc=0; sim --fast -- sh -c 'trap "" TERM; sleep 300 & echo $! > deaf.pid; kill -TERM $PPID; wait' ||
	rc=$?
[ $rc -eq 137 ] || fail "a command ignoring SIGTERM should be killed (137), got $rc"
gone "$(cat deaf.pid)" || fail "the deaf command's child outlived lpa-sim"
clean "SIGKILL of the command"
# ... and when the test that started lpa-sim dies (SIGKILL: no trap runs), lpa-sim ends
# the command and removes the testbed.
rm -f cmd.pid
sh -c '"$@" & echo $! > sim.pid; wait' sh "$LPA_SIM" --fast -- \
	sh -c 'echo $$ > cmd.pid.tmp; mv cmd.pid.tmp cmd.pid; exec sleep 300' < /dev/null &
parent=$!
i=0
while [ ! -s cmd.pid ]; do
	[ $i -lt 400 ] || fail "the command never started"
	i=$((i + 1))
	sleep 0.05
done
kill -KILL $parent
wait $parent 2>/dev/null || true
wait_gone 20 "$(cat sim.pid)" "$(cat cmd.pid)" || fail "lpa-sim or its command outlived the parent"
clean "the parent's death"

# ... and when meson's timeout sends SIGTERM to the test's process group, what the
# command put in a group of its own (timeout(1) does) goes too.
rm -f grp.pid tmo.pid
setsid sh -c 'echo $$ > grp.pid; exec "$@"' sh "$LPA_SIM" --fast -- \
	sh -c 'timeout 300 sleep 300 & echo $! > tmo.pid.tmp; mv tmo.pid.tmp tmo.pid; exec sleep 300' \
	< /dev/null &
i=0
while [ ! -s tmo.pid ]; do
	[ $i -lt 400 ] || fail "the command never started"
	i=$((i + 1))
	sleep 0.05
done
kill -TERM "-$(cat grp.pid)"
wait_gone 20 "$(cat grp.pid)" "$(cat tmo.pid)" || fail "a process outlived SIGTERM to the test's group"
clean "SIGTERM to the process group"

# What the command sees.
sim --fast --probes 2 --state st --serial-prefix LOT -- sh -c \
	'echo "$LPA_SIM_SERIALS|$LPA_SIM_STATE|$LD_PRELOAD"; test -d "$UMOCKDEV_DIR"' > env.out
expect env.out '^LOT0000001 LOT0000002\|st\|/[^:]*/lpa-sim-preload.so:libumockdev-preload.so.0$'
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
