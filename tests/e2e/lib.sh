# tests/e2e/lib.sh — a whole simulated line for the demo and the end-to-end tests: a
# reference KMS over HTTPS with an operator and a station, a station.conf, and helpers
# to log in and to run commands under lpa-sim. Source it; set BUILD (the meson build
# directory) and WORK (an empty directory) first.

E2E_PASSWORD="demo-password-please-change"

e2e_die() {
	echo "e2e: $*" >&2
	exit 1
}

# e2e_kms_start: initialise a KMS in $WORK/kms, add operator "demo" (operator + qa) and
# station "st1", start it on a free loopback port, write $WORK/station.conf.
e2e_kms_start() {
	pki=$BUILD/fixtures/pki
	kms=$BUILD/lpa/kms/lpa-kms
	mkdir -p "$WORK/certs"
	"$kms" admin init --dir "$WORK/kms" --device-ca "$pki/device-ca.pem" \
		--package-key "$pki/kms-package.key" --argon2-t 1 --argon2-m 1024 \
		--dev-eui-base 70b3d57ed0100000 >"$WORK/kms-init.log" 2>&1 ||
		e2e_die "KMS init failed: $(cat "$WORK/kms-init.log")"
	printf '%s\n' "$E2E_PASSWORD" >"$WORK/password"
	chmod 600 "$WORK/password"
	"$kms" admin add-operator demo --dir "$WORK/kms" --role operator,qa --lots '*' \
		--password-fd 3 --totp-secret-fd 4 3<"$WORK/password" 4>"$WORK/totp-secret" \
		>"$WORK/kms-op.log" 2>&1 || e2e_die "add-operator failed: $(cat "$WORK/kms-op.log")"
	chmod 600 "$WORK/totp-secret"
	"$kms" admin add-station st1 --dir "$WORK/kms" --out "$WORK/certs" >/dev/null 2>&1 ||
		e2e_die "add-station failed"
	"$kms" admin export-keys --dir "$WORK/kms" --out "$WORK/keys" >/dev/null 2>&1 ||
		e2e_die "export-keys failed"
	"$kms" serve --dir "$WORK/kms" --port 0 --port-file "$WORK/kms.port" \
		>"$WORK/kms.log" 2>&1 &
	E2E_KMS_PID=$!
	i=0
	while [ ! -s "$WORK/kms.port" ] && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$WORK/kms.port" ] || e2e_die "KMS did not start: $(cat "$WORK/kms.log")"
	E2E_KMS_PORT=$(cat "$WORK/kms.port")
	e2e_write_conf "${1:-cmsis-dap}"
}

e2e_write_conf() {
	cat >"$WORK/station.conf" <<CONF
[kms]
url = https://127.0.0.1:$E2E_KMS_PORT
ca = $WORK/certs/kms-ca.pem
cert = $WORK/certs/st1.pem
key = $WORK/certs/st1.key
timeout = 10
retries = 3

[station]
name = st1
state_dir = $WORK/station
backend = $1

[provision]
join_eui = 70b3d57ed0000000
lorawan = 1.1
CONF
}

e2e_kms_stop() {
	if [ -n "${E2E_KMS_PID:-}" ]; then
		kill "$E2E_KMS_PID" 2>/dev/null
		wait "$E2E_KMS_PID" 2>/dev/null
		E2E_KMS_PID=
	fi
}

# The current TOTP code of the demo operator, as an authenticator app would show it.
e2e_totp() {
	oathtool --totp -b "$(cat "$WORK/totp-secret")"
}

# e2e_login: log the demo operator in (password and code from descriptors, never argv).
e2e_login() {
	e2e_totp >"$WORK/totp-code"
	"$BUILD/lpa/station/lpa-station" --config "$WORK/station.conf" login --operator demo \
		--password-fd 3 --totp-fd 4 3<"$WORK/password" 4<"$WORK/totp-code"
	rc=$?
	rm -f "$WORK/totp-code"
	return $rc
}

# e2e_sim ARGS... -- COMMAND: lpa-sim with the fixture PKI and the KMS's package key.
e2e_sim() {
	"$BUILD/fixtures/sim/lpa-sim" --kms-pub "$WORK/keys/kms-package.pub.pem" "$@"
}

e2e_station() {
	"$BUILD/lpa/station/lpa-station" --config "$WORK/station.conf" "$@"
}
