#!/bin/sh
# tests/campaign/crash.sh — the e2e SIGKILL crash scenario over many seeds: each seed
# kills the station at 5 seeded random points of a batch and resumes, then checks that
# the KMS's confirmed set, the manifest and the chips holding keys agree exactly, that
# the last run exits 0 and that no device was reported failed. The second probe's chips
# arrive without the secure agent, so kills land in the agent step (flashing) too; the
# output's "crash kills in the agent step" counts them. Not part of the normal suite (CI
# runs one seed as e2e-crash).
#
#   sh tests/campaign/crash.sh [-j JOBS] [-s FIRST_SEED] [-b BUILD] [-o LOGDIR] N
#
# Prints one line per seed and then `crash campaign: N seeds, K kills, F failures`
# (K counts the kills that landed: a station that had already finished is no kill).
# The work directory of every failed seed (journal, manifest, chip records, the
# station's -v log) is kept in LOGDIR/seed-S; passing seeds leave nothing. Exit 0 only
# with 0 failures.
set -u
cd "$(dirname "$0")/../.."
jobs=1
first=1
build=$PWD/build
logs=/tmp/lpa-crash-campaign
while getopts j:s:b:o: opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	s) first=$OPTARG ;;
	b) build=$OPTARG ;;
	o) logs=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { sed -n 's/^#   //p' "$0"; exit 2; }
n=$1
mkdir -p "$logs" || exit 2
res=$(mktemp -d "$logs/.results.XXXXXX") || exit 2
trap 'rm -rf "$res"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# one SEED: runs the scenario, leaves "SEED KILLS STATUS" in $res/SEED.st.
one() {
	w=$logs/seed-$1
	rm -rf "$w"
	BUILD=$build E2E_SEED=$1 E2E_WORK=$w KEEP=1 sh tests/e2e/test-e2e.sh crash \
		>"$res/$1.out" 2>&1
	st=$?
	k=$(sed -n 's/^crash kills: //p' "$res/$1.out")
	if [ $st -eq 0 ]; then
		rm -rf "$w"
		echo "seed $1: ok, ${k:-0} kills"
	else
		mv "$res/$1.out" "$w/test.out" 2>/dev/null || cp "$res/$1.out" "$w.out"
		echo "seed $1: FAILED, ${k:-0} kills: $(grep '^FAIL' "$w/test.out" 2>/dev/null |
			tr '\n' ';')  logs in $w"
	fi
	echo "$1 ${k:-0} $st" >"$res/$1.st"
}

seed=$first
last=$((first + n - 1))
while [ $seed -le $last ]; do
	running=0
	while [ $running -lt "$jobs" ] && [ $seed -le $last ]; do
		one $seed &
		seed=$((seed + 1))
		running=$((running + 1))
	done
	wait
done
cat "$res"/*.st | awk -v n="$n" '
	{ kills += $2; if ($3 != 0) { failed++; list = list " " $1 } }
	END {
		printf "crash campaign: %d seeds, %d kills, %d failures\n", n, kills, failed
		if (failed) printf "failed seeds:%s\n", list
		exit failed != 0
	}'
