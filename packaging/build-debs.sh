#!/bin/sh
# Builds the Debian packages from this tree with Debian's own tools:
#   sh packaging/build-debs.sh [OUTDIR]     (default build-deb/)
# lpa-station, lpa-kms, lpa-agent and lpa-testbed, .deb files in OUTDIR. The source is
# copied (tracked files only, so a build directory never leaks in) with
# packaging/debian/ as debian/, then `dpkg-buildpackage -b -us -uc`. Needs the build
# dependencies of packaging/debian/control (packaging/install-deps.sh installs them).
set -eu
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
tmp=$(mktemp -d /tmp/lpa-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/lpa" "$out"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tmp/lpa"
else
	tar --exclude='./build*' -cf - . | tar -xf - -C "$tmp/lpa"
fi
cp -r packaging/debian "$tmp/lpa/debian"
(cd "$tmp/lpa" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	echo "build-debs.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
}
rm -f "$out"/*.deb
mv "$tmp"/*.deb "$out/"
mv "$tmp"/*.buildinfo "$tmp"/*.changes "$out/" 2>/dev/null || true
ls "$out"/*.deb
