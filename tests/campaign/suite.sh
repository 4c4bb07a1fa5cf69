#!/bin/sh
# Repeats the whole suite to find flaky tests (not part of the suite itself):
#
#   tests/campaign/suite.sh N [--sanitize] [--load[=build|spin]] [-- MESON-TEST-ARGS...]
#
# N runs of `meson test` on an existing build directory: build/ (configure and build it
# first, e.g. with tests/run.sh), or build-asan/ with the sanitize setup (--sanitize).
# --load keeps both cores busy meanwhile: by default with a parallel build of this tree
# in build-load/ over and over (compiler, linker, disk), with --load=spin with two busy
# loops. Arguments after -- go to meson test (test names, --suite ...).
# Each run prints its result and time; a failing run's log is kept as
# DIR/campaign/run-K.txt with the names of its failed tests. The last line is
#   suite campaign: N runs, F failed, mean T s
# Exit status 0 when no run failed.
set -eu
cd "$(dirname "$0")/../.."

usage() {
	echo "usage: tests/campaign/suite.sh N [--sanitize] [--load[=build|spin]] [-- ARGS...]" >&2
	exit 2
}
case "${1:-}" in
'' | *[!0-9]* | 0) usage ;;
esac
runs=$1
shift
dir=build
setup=""
load=""
while [ $# -gt 0 ]; do
	case "$1" in
	--sanitize) dir=build-asan setup="--setup sanitize" ;;
	--load | --load=build) load=build ;;
	--load=spin) load=spin ;;
	--) shift; break ;;
	*) usage ;;
	esac
	shift
done
[ -f "$dir/build.ninja" ] || { echo "suite.sh: configure and build $dir/ first" >&2; exit 2; }
ninja -C "$dir" > /dev/null

# The load, and its end on every exit path. Each load process leads its own session
# (setsid: a background job is no group leader, so setsid does not fork and $! is the
# leader), so that its compilers go with it.
load_pids=""
stop_load() {
	for p in $load_pids; do
		kill -TERM "-$p" 2>/dev/null || true # dash's kill takes no "--"
	done
	i=0
	for p in $load_pids; do
		while kill -0 "-$p" 2>/dev/null && [ $i -lt 40 ]; do
			i=$((i + 1))
			sleep 0.05
		done
		kill -KILL "-$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	load_pids=""
	# A running meson test ends its tests on SIGTERM.
	[ -z "$test_pid" ] || kill -TERM "$test_pid" 2>/dev/null || true
}
test_pid=""
trap 'stop_load' EXIT
trap 'stop_load; trap - EXIT; exit 130' INT
trap 'stop_load; trap - EXIT; exit 143' TERM
trap 'stop_load; trap - EXIT; exit 129' HUP
start_load() {
	case "$load" in
	build)
		[ -f build-load/build.ninja ] || meson setup build-load > /dev/null
		setsid sh -c 'while :; do
			ninja -C build-load -t clean > /dev/null
			ninja -C build-load -j 2 > /dev/null 2>&1 || true
		done' < /dev/null &
		load_pids="$!"
		;;
	spin)
		setsid sh -c 'while :; do :; done' < /dev/null &
		load_pids="$!"
		setsid sh -c 'while :; do :; done' < /dev/null &
		load_pids="$load_pids $!"
		;;
	esac
}
[ -z "$load" ] || start_load

mkdir -p "$dir/campaign"
json=$dir/meson-logs/testlog${setup:+-sanitize}.json
txt=$dir/meson-logs/testlog${setup:+-sanitize}.txt
failed=0
total_ms=0
k=0
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
while [ $k -lt "$runs" ]; do
	k=$((k + 1))
	t0=$(now_ms)
	rc=0
	# In the background, so that a signal to this script is handled at once (a trap
	# waits for a foreground command).
	# shellcheck disable=SC2086 # $setup is two words or none
	meson test -C "$dir" $setup --num-processes 2 --no-rebuild "$@" > "$dir/campaign/out.txt" \
		2>&1 < /dev/null &
	test_pid=$!
	wait "$test_pid" || rc=$?
	test_pid=
	t=$(( $(now_ms) - t0 ))
	total_ms=$((total_ms + t))
	if [ $rc -eq 0 ]; then
		echo "run $k/$runs: ok, $((t / 1000)).$(( t % 1000 / 100 )) s"
	else
		failed=$((failed + 1))
		names=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
        print(t["name"], t["result"])
' "$json" | tr '\n' ' ')
		{
			echo "failed: $names"
			cat "$dir/campaign/out.txt"
			echo "==== $txt"
			cat "$txt"
		} > "$dir/campaign/run-$k.txt"
		echo "run $k/$runs: FAILED ($names) $((t / 1000)) s, log $dir/campaign/run-$k.txt"
	fi
done
stop_load
mean=$((total_ms / runs))
echo "suite campaign: $runs runs, $failed failed, mean $((mean / 1000)).$((mean % 1000 / 100)) s"
[ $failed -eq 0 ]
