#!/bin/sh
# Fuzzing campaign over an existing build-fuzz/ (tests/run.sh --fuzz configures and
# builds it, then runs this):
#
#   tests/campaign/fuzz.sh SECS        each target SECS seconds
#   tests/campaign/fuzz.sh --runs N    each target until N executions
#
# Every libFuzzer target build-fuzz/tests/DIR/fuzz-NAME starts from its seed corpus
# tests/DIR/corpus/SEEDS (SEEDS = NAME, or NAME without a leading "DIR-": fuzz-kms-request
# in tests/kms reads tests/kms/corpus/request), copied into build-fuzz/corpus/fuzz-NAME/,
# which keeps what the fuzzer adds across campaigns. A target without seeds gets a
# warning. Prints a table target / executions / findings; a finding's input is left as
# build-fuzz/fuzz-NAME-crash-* (or leak-, timeout-, oom-) and its log as
# build-fuzz/fuzz-NAME.log. Exit status: the number of targets with findings.
set -eu
cd "$(dirname "$0")/../.."

case "${1:-}" in
--runs)
	[ -n "${2:-}" ] || { echo "usage: fuzz.sh SECS | --runs N" >&2; exit 2; }
	limit="-runs=$2"
	what="$2 runs"
	;;
'' | *[!0-9]*)
	echo "usage: fuzz.sh SECS | --runs N" >&2
	exit 2
	;;
*)
	limit="-max_total_time=$1"
	what="$1 s"
	;;
esac
dir=build-fuzz
[ -d "$dir/tests" ] || { echo "fuzz.sh: no $dir/ (run tests/run.sh --fuzz first)" >&2; exit 2; }

# seeds TARGET-PATH: the seed directory of a target, empty if it has none.
seeds() {
	sd=tests/$(basename "$(dirname "$1")")
	sn=$(basename "$1")
	sn=${sn#fuzz-}
	for c in "$sd/corpus/$sn" "$sd/corpus/${sn#"$(basename "$sd")"-}"; do
		if [ -d "$c" ]; then
			echo "$c"
			return
		fi
	done
}

failed=0
targets=0
printf '%-28s %12s %9s\n' target executions findings
for f in "$dir"/tests/*/fuzz-*; do
	[ -x "$f" ] && [ -f "$f" ] || continue
	name=$(basename "$f")
	targets=$((targets + 1))
	work=$dir/corpus/$name
	mkdir -p "$work"
	s=$(seeds "$f")
	if [ -n "$s" ]; then
		cp -n "$s"/* "$work"/ 2>/dev/null || true
	else
		echo "warning: $name has no seed corpus (tests/*/corpus/${name#fuzz-})" >&2
	fi
	log=$dir/$name.log
	rm -f "$dir/$name"-crash-* "$dir/$name"-leak-* "$dir/$name"-timeout-* "$dir/$name"-oom-*
	rc=0
	"$f" "$limit" -max_len=4096 -print_final_stats=1 -artifact_prefix="$dir/$name-" \
		"$work" > "$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
	found=$(ls "$dir/$name"-crash-* "$dir/$name"-leak-* "$dir/$name"-timeout-* \
		"$dir/$name"-oom-* 2>/dev/null | wc -l)
	[ $rc -eq 0 ] || [ "$found" -gt 0 ] || found=1 # died without an artifact
	printf '%-28s %12s %9s\n' "$name" "${execs:-?}" "$found"
	if [ "$found" -gt 0 ]; then
		failed=$((failed + 1))
		tail -30 "$log" >&2
	fi
done
echo "fuzz campaign: $targets targets, $what each, $failed with findings"
exit $failed
