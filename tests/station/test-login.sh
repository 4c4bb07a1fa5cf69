#!/bin/sh
# `lpa-station login | status | logout` against a real reference KMS over HTTPS with
# mutual TLS, TOTP codes from oathtool, the session in a private kernel session keyring.
# usage: test-login.sh LPA-STATION LPA-KMS PKI-DIR SCRATCH-DIR
set -u
st=$1
kms=$2
pki=$3
scratch=$4

command -v oathtool >/dev/null || { echo "SKIP: no oathtool"; exit 77; }
command -v keyctl >/dev/null || { echo "SKIP: no keyctl"; exit 77; }
# A keyring of our own, so nothing leaks into (or comes from) the caller's session.
if [ -z "${LPA_TEST_OWN_KEYRING:-}" ]; then
	LPA_TEST_OWN_KEYRING=1 exec keyctl session - sh "$0" "$@"
fi

mkdir -p "$scratch"
d=$(mktemp -d "$scratch/login-XXXXXX")
server=
fail=0
pass=0
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$d"
}
trap cleanup EXIT INT TERM

ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; [ -f "$d/out" ] && sed 's/^/    /' "$d/out"; fail=$((fail + 1)); }
# expect WANT_RC DESCRIPTION command... (stdout+stderr in $d/out; 20 s at most)
expect() {
	want=$1
	what=$2
	shift 2
	timeout 20 "$@" >"$d/out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$what"; else bad "$what: exit $rc, want $want"; fi
}
has() { # DESCRIPTION PATTERN: $d/out contains PATTERN
	if grep -q -- "$2" "$d/out"; then ok "$1"; else bad "$1: no '$2'"; fi
}

# ------------------------------------------------------------------ the KMS
k="$kms admin"
$k init --dir "$d/kms" --device-ca "$pki/device-ca.pem" --package-key "$pki/kms-package.key" \
	--argon2-t 1 --argon2-m 256 >"$d/init.log" 2>&1 || { cat "$d/init.log"; exit 1; }
$k add-station st1 --dir "$d/kms" --out "$d/certs" >/dev/null 2>&1 || exit 1
# Quotes and a backslash: the login body must JSON-escape the password.
pw='correct horse "battery"\'
for op in alice bob carol; do
	printf '%s\n' "$pw" >"$d/pw"
	$k add-operator "$op" --dir "$d/kms" --role operator,qa --password-fd 3 \
		--totp-secret-fd 4 3<"$d/pw" 4>"$d/$op.totp" >/dev/null 2>&1 || exit 1
done
rm -f "$d/pw"
"$kms" serve --dir "$d/kms" --port 0 --port-file "$d/port" 2>"$d/serve.log" &
server=$!
for _ in $(seq 1 150); do [ -s "$d/port" ] && break; sleep 0.1; done
[ -s "$d/port" ] || { echo "FAIL: lpa-kms serve did not start"; cat "$d/serve.log"; exit 1; }
port=$(cat "$d/port")
url="https://127.0.0.1:$port"
cat >"$d/station.conf" <<EOF
[kms]
url = $url
ca = $d/certs/kms-ca.pem
cert = $d/certs/st1.pem
key = $d/certs/st1.key
timeout = 5
retries = 2
EOF
conf="--config $d/station.conf"

# A code for the current step, computed where the KMS will see the same step.
settle() {
	for _ in $(seq 1 60); do
		s=$(($(date +%s) % 30))
		[ "$s" -ge 2 ] && [ "$s" -le 26 ] && return
		sleep 0.1
	done
}
code() { oathtool --totp -b "$(cat "$d/$1.totp")"; }
login() { # OPERATOR CODE [PASSWORD] -- password on fd 3, code on fd 4
	printf '%s\n' "${3:-$pw}" >"$d/pw.in"
	printf '%s\n' "$2" >"$d/code.in"
	timeout 20 "$st" login $conf --operator "$1" --password-fd 3 --totp-fd 4 \
		3<"$d/pw.in" 4<"$d/code.in" >"$d/out" 2>&1
	rc=$?
	rm -f "$d/pw.in" "$d/code.in"
	return $rc
}
desc="lpa:session:$url"

# ----------------------------------------------------------------- login OK
settle
c_alice=$(code alice)
login alice "$c_alice"
rc=$?
[ $rc -eq 0 ] && ok "login" || bad "login: exit $rc"
has "login names the operator" "operator alice"
has "login names the roles" "roles operator,qa"
has "login names the station" "station st1"
has "login gives the expiry" "session expires"
if id=$(keyctl search @s user "$desc" 2>/dev/null); then
	ok "token in the session keyring"
	token=$(keyctl pipe "$id" | tail -c 43)
	[ ${#token} -eq 43 ] && ok "keyring holds a 43-character token" || bad "token length ${#token}"
	# Nowhere on disk: not in the station's files, the KMS's files, or the test's.
	if grep -r -l -F -- "$token" "$d" "$scratch" 2>/dev/null | grep -q .; then
		bad "the token is in a file: $(grep -r -l -F -- "$token" "$d" "$scratch")"
	else
		ok "the token is in no file"
	fi
else
	bad "no keyring entry $desc"
	token=
fi

# ------------------------------------------------------------------- status
expect 0 "status when logged in" "$st" status $conf
has "status: operator" "operator: alice"
has "status: roles" "roles:    operator,qa"
has "status: expiry" "expires:"
has "status: KMS reachable" "reachable"
expect 0 "status --json" "$st" status $conf --json
has "status --json: logged in" '"logged_in":true,"operator":"alice","roles":\["operator","qa"\]'
has "status --json: reachable" '"reachable":true'
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$d/out" 2>/dev/null &&
	ok "status --json is JSON" || bad "status --json is not JSON"

# ------------------------------------------------------- refusals: exit 10
login bob "$(code bob)" "not the password"
rc=$?
[ $rc -eq 10 ] && ok "wrong password: exit 10" || bad "wrong password: exit $rc, want 10"
has "wrong password: clear message" "login refused: wrong operator name, password or TOTP"
login alice "$c_alice"
rc=$?
[ $rc -eq 10 ] && ok "replayed TOTP: exit 10" || bad "replayed TOTP: exit $rc, want 10"
has "replayed TOTP: clear message" "each code works once"
expect 2 "login without --operator is a usage error" "$st" login $conf
expect 2 "login with a bad descriptor" "$st" login $conf --operator x --password-fd -3
expect 2 "login with a missing config" "$st" login --config "$d/none.conf" --operator x

# ------------------------------------------------------------------- logout
expect 0 "logout" "$st" logout $conf
has "logout says the KMS ended it" "session ended at the KMS"
keyctl search @s user "$desc" >/dev/null 2>&1 && bad "keyring entry left after logout" ||
	ok "keyring entry removed"
if [ -n "$token" ]; then
	# The old token is dead at the KMS (header from stdin: not in argv).
	http=$(printf 'Authorization: Bearer %s\n' "$token" | timeout 10 curl -s -o /dev/null \
		-w '%{http_code}' --cacert "$d/certs/kms-ca.pem" --cert "$d/certs/st1.pem" \
		--key "$d/certs/st1.key" -H @- -X DELETE "$url/v1/sessions/current")
	[ "$http" = 401 ] && ok "revoked at the KMS" || bad "old token gives HTTP $http, want 401"
fi
expect 10 "status after logout: exit 10" "$st" status $conf
has "status after logout" "not logged in"
expect 0 "logout when not logged in" "$st" logout $conf

# --------------------------------------------------------------- KMS down
login carol "$(code carol)" && ok "login (carol)" || bad "login (carol)"
kill "$server" && wait "$server" 2>/dev/null
server=
t0=$(date +%s)
expect 9 "status with the KMS down: exit 9" "$st" status $conf
has "status: KMS UNREACHABLE" "UNREACHABLE"
expect 9 "logout with the KMS down: exit 9" "$st" logout $conf
has "logout with the KMS down says so" "NOT revoked at the KMS"
keyctl search @s user "$desc" >/dev/null 2>&1 && bad "keyring entry left (KMS down)" ||
	ok "keyring entry removed (KMS down)"
login alice "$(code alice)"
rc=$?
[ $rc -eq 9 ] && ok "login with the KMS down: exit 9" || bad "login, KMS down: exit $rc, want 9"
has "login: KMS unreachable" "KMS unreachable"
t1=$(date +%s)
[ $((t1 - t0)) -le 15 ] && ok "KMS down: answers in $((t1 - t0)) s" ||
	bad "KMS down took $((t1 - t0)) s"

echo "login: $pass passed, $fail failed"
[ $fail -eq 0 ]
