#!/bin/sh
# Every C file of the tree (product, fixtures and tests alike) is as clang-format and the
# repository's .clang-format would write it. Fix with: clang-format -i FILE...
set -eu
cd "$(dirname "$0")/../.."
bad=0
n=0
for f in $(find lpa programmer auth fixtures tests -name '*.[ch]' | sort); do
	n=$((n + 1))
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f"
		bad=$((bad + 1))
	fi
done
echo "clang-format: $((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
