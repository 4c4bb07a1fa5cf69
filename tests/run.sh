#!/bin/sh
# The whole test suite, from a fresh clone on a fresh Debian 12 machine (as root):
# install the dependencies, configure, build with -Werror, run `meson test`.
#
#   tests/run.sh              the normal build (build/)
#   tests/run.sh --sanitize   ASan + UBSan build (build-asan/), every finding fatal
#   tests/run.sh --fuzz SECS  clang libFuzzer build (build-fuzz/), each target SECS seconds
#                             (tests/campaign/fuzz.sh: seeds, table, findings)
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
	exec sh tests/campaign/fuzz.sh "$secs"
	;;
*)
	echo "usage: tests/run.sh [--sanitize | --fuzz SECONDS]" >&2
	exit 2
	;;
esac
