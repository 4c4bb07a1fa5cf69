#!/bin/sh
# lpa-station's command line: exit codes and output that scripts rely on.
# usage: test-cli.sh PATH/TO/lpa-station
set -u
st=$1
fail=0
expect() { # want_rc description command...
	want=$1
	what=$2
	shift 2
	"$@" >/tmp/lpa-cli.$$ 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: $what: exit $rc, want $want"
		cat /tmp/lpa-cli.$$
		fail=$((fail + 1))
	else
		echo "ok: $what"
	fi
}
expect 0 "selftest passes" "$st" selftest
grep -q "selftest: 5 passed, 0 failed" /tmp/lpa-cli.$$ || { echo "FAIL: selftest summary"; fail=$((fail + 1)); }
expect 0 "selftest --json" "$st" selftest --json
grep -q '"failed":0}' /tmp/lpa-cli.$$ || { echo "FAIL: selftest json"; fail=$((fail + 1)); }
expect 2 "no command is a usage error" "$st"
expect 2 "unknown command is a usage error" "$st" frobnicate
grep -q "unknown command 'frobnicate'" /tmp/lpa-cli.$$ || { echo "FAIL: message"; fail=$((fail + 1)); }
expect 2 "unknown option is a usage error" "$st" selftest --bogus
expect 2 "manifest without verify is a usage error" "$st" manifest
expect 2 "manifest verify needs --kms-keys" "$st" manifest verify /dev/null
expect 2 "manifest verify with unreadable keys" "$st" manifest verify /dev/null --kms-keys /nonexistent
printf '{"keys":[]}' >/tmp/lpa-cli-keys.$$
expect 2 "manifest verify names neither --station-cert nor --unpinned" "$st" manifest verify /dev/null --kms-keys /tmp/lpa-cli-keys.$$
grep -q "unpinned" /tmp/lpa-cli.$$ || { echo "FAIL: unpinned message"; fail=$((fail + 1)); }
rm -f /tmp/lpa-cli-keys.$$
expect 2 "batch --lot with a path" "$st" --config /dev/null batch --lot ../../outside/pwned
grep -q "is not a lot name" /tmp/lpa-cli.$$ || { echo "FAIL: lot message"; fail=$((fail + 1)); }
expect 0 "--help" "$st" --help
expect 0 "help" "$st" help
grep -q "^commands:" /tmp/lpa-cli.$$ || { echo "FAIL: help lists the commands"; fail=$((fail + 1)); }
expect 0 "help COMMAND is COMMAND --help" "$st" help batch
grep -q "^usage: lpa-station batch" /tmp/lpa-cli.$$ || { echo "FAIL: help batch"; fail=$((fail + 1)); }
expect 0 "version" "$st" version
expect 0 "--version" "$st" --version
grep -q "^lpa-station [0-9]" /tmp/lpa-cli.$$ || { echo "FAIL: --version output"; fail=$((fail + 1)); }
expect 2 "a mistyped command gets a suggestion" "$st" provison
grep -q "did you mean 'provision'?" /tmp/lpa-cli.$$ || { echo "FAIL: command suggestion"; fail=$((fail + 1)); }
expect 2 "a mistyped option gets a suggestion" "$st" batch --lott L1
grep -q "unknown option '--lott'; did you mean '--lot'?" /tmp/lpa-cli.$$ || { echo "FAIL: option suggestion"; fail=$((fail + 1)); }
expect 2 "an option without its value says so" "$st" batch --count
grep -q "option '--count' needs a value" /tmp/lpa-cli.$$ || { echo "FAIL: missing value"; fail=$((fail + 1)); }
expect 2 "an explicit --config that does not exist" "$st" --config /nonexistent/station.conf status
grep -q "/nonexistent/station.conf: No such file" /tmp/lpa-cli.$$ || { echo "FAIL: missing config named"; fail=$((fail + 1)); }
d=$(mktemp -d)
printf '[kms]\ntimeout = 0\n' >"$d/bad.conf"
expect 2 "a bad config value says what is expected" "$st" --config "$d/bad.conf" status
grep -q "expected seconds per request, 1..600" /tmp/lpa-cli.$$ || { echo "FAIL: expected value"; fail=$((fail + 1)); }
# A station key others can read is refused, as ssh refuses one.
: >"$d/ca.pem"
: >"$d/cert.pem"
printf 'not a key, but world-readable\n' >"$d/key.pem"
chmod 644 "$d/key.pem"
printf '[kms]\nurl = https://127.0.0.1:1\nca = %s\ncert = %s\nkey = %s\n' "$d/ca.pem" \
	"$d/cert.pem" "$d/key.pem" >"$d/st.conf"
expect 15 "a group/world-readable station key is refused" "$st" --config "$d/st.conf" status
grep -q "accessible by group or others (mode 0644)" /tmp/lpa-cli.$$ || { echo "FAIL: key mode message"; fail=$((fail + 1)); }
rm -rf "$d"
# Every exit code the station defines has its row in docs/lpa-station.md.
doc=$(dirname "$0")/../../docs/lpa-station.md
for code in $(sed -n 's/^\tSTATION_EXIT_[A-Z_]* = \([0-9]*\),.*/\1/p' "$(dirname "$0")/../../lpa/station/station.h"); do
	grep -q "^| $code |" "$doc" || { echo "FAIL: exit code $code is not documented"; fail=$((fail + 1)); }
done
rm -f /tmp/lpa-cli.$$
echo "cli: $((fail == 0)) passed, $((fail != 0)) failed"
exit $fail
