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
expect 0 "version" "$st" version
rm -f /tmp/lpa-cli.$$
echo "cli: $((fail == 0)) passed, $((fail != 0)) failed"
exit $fail
