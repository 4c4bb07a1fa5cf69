#!/bin/sh
# The whole test suite, from a fresh clone on a fresh Debian 12 machine (as root):
# install the dependencies, configure, build with -Werror, run `meson test`.
#
#   tests/run.sh              the normal build (build/)
#   tests/run.sh --sanitize   ASan + UBSan build (build-asan/), every finding fatal
#   tests/run.sh --fuzz SECS  clang libFuzzer build (build-fuzz/), each target SECS seconds
set -eu
cd "$(dirname "$0")/.."

mode=${1:-plain}
sh packaging/install-deps.sh

setup() { # dir, meson options...
	dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
}

case "$mode" in
plain)
	setup build --werror
	status=0
	meson test -C build --print-errorlogs --num-processes 2 || status=$?
	python3 tests/summary.py build/meson-logs/testlog.json
	exit $status
	;;
--sanitize)
	setup build-asan --werror -Db_sanitize=address,undefined -Db_lundef=false
	status=0
	meson test -C build-asan --setup sanitize --print-errorlogs --num-processes 2 || status=$?
	python3 tests/summary.py build-asan/meson-logs/testlog-sanitize.json
	exit $status
	;;
--fuzz)
	secs=${2:-20}
	CC=clang setup build-fuzz --werror -Dfuzzing=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dtests=disabled
	failed=0
	for f in build-fuzz/tests/*/fuzz-*; do
		[ -x "$f" ] && [ -f "$f" ] || continue
		name=$(basename "$f")
		seeds=tests/$(basename "$(dirname "$f")")/corpus/${name#fuzz-}
		work=build-fuzz/corpus/$name
		mkdir -p "$work"
		[ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
		if "$f" -max_total_time="$secs" -max_len=4096 -print_final_stats=0 \
			-artifact_prefix="build-fuzz/$name-" "$work" >"build-fuzz/$name.log" 2>&1; then
			echo "fuzz $name: $(grep -o 'Done [0-9]* runs' "build-fuzz/$name.log") in ${secs}s, no findings"
		else
			echo "fuzz $name: FINDING (see build-fuzz/$name.log)"
			tail -30 "build-fuzz/$name.log"
			failed=$((failed + 1))
		fi
	done
	exit $failed
	;;
*)
	echo "usage: tests/run.sh [--sanitize | --fuzz SECONDS]" >&2
	exit 2
	;;
esac
