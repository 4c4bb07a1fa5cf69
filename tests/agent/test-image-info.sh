#!/bin/sh
# test-image-info.sh LPA-STATION IMAGE.bin IMAGE.hex PART — `lpa-station agent info` on a
# built firmware image: the part, the size of the file, the SHA-256 recomputed the
# documented way (the raw image with its 32-byte hash field zero) in both forms; a
# tampered copy and a truncated HEX file are refused with exit status 15.
set -eu
station=$1 bin=$2 hex=$3 part=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$station" agent info "$bin" --json >"$tmp/bin.json"
"$station" agent info "$hex" --json >"$tmp/hex.json"
size=$(wc -c <"$bin")
want=$(python3 -c 'import hashlib,sys; b=bytearray(open(sys.argv[1],"rb").read()); b[0x50:0x70]=bytes(32); print(hashlib.sha256(b).hexdigest())' "$bin")
for f in "$tmp/bin.json" "$tmp/hex.json"; do
	grep -q "\"part\":$part," "$f" || { echo "wrong part: $(cat "$f")"; exit 1; }
	grep -q "\"size\":$size," "$f" || { echo "wrong size (file $size): $(cat "$f")"; exit 1; }
	grep -q "\"sha256\":\"$want\"" "$f" || { echo "wrong hash (want $want): $(cat "$f")"; exit 1; }
done
"$station" agent info "$bin" | grep -q '^sha256   [0-9a-f]\{64\} (recomputed, matches)$'
# One byte of code changed: the recorded hash no longer matches.
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[0x100]^=1; open(sys.argv[2],"wb").write(b)' "$bin" "$tmp/bad.bin"
rc=0; "$station" agent info "$tmp/bad.bin" 2>"$tmp/err" || rc=$?
[ $rc -eq 15 ] || { echo "tampered image: exit $rc"; exit 1; }
grep -q 'does not match\|mismatch\|differs' "$tmp/err" || { echo "message: $(cat "$tmp/err")"; exit 1; }
head -c 2000 "$hex" >"$tmp/short.hex"
rc=0; "$station" agent info "$tmp/short.hex" 2>/dev/null || rc=$?
[ $rc -eq 15 ] || { echo "truncated HEX: exit $rc"; exit 1; }
echo "agent info: part $part, $size bytes, sha256 $want"
