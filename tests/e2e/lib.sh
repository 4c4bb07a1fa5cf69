# tests/e2e/lib.sh — a whole simulated line for the demo and the end-to-end tests: a
# reference KMS over HTTPS with an operator and a station, a station.conf, and helpers
# to log in and to run commands under lpa-sim. Source it; set BUILD (the meson build
# directory) and WORK (an empty directory) first, or call e2e_init for both the work
# directory and the traps that clean up after it.
#
# Every long-running process started here (the KMS, each lpa-sim with all it runs) is
# the leader of its own session and process group, recorded in $WORK/pgids: e2e_cleanup
# ends those groups whole, so nothing survives the test (a station stuck in a USB ioctl
# after lpa-sim died, a background station of a crash script, a KMS left stopped).

E2E_PASSWORD="demo-password-please-change"

# e2e_reverse_hex HEX: its bytes in reverse order (a little-endian field as on the air,
# or a BIGNUM's limbs in memory, to the number's big-endian hex and back).
e2e_reverse_hex() {
	echo "$1" | sed 's/../& /g' | tr ' ' '\n' | grep . | tac | tr -d '\n'
	echo
}

# e2e_ask WFD RFD LINE: LINE to a line-protocol fixture (lpa-cm4, the NS and AS stand-ins)
# on descriptor WFD, its one-line answer from RFD in $A ("" at end of input).
e2e_ask() {
	echo "$3" >&"$1"
	read -r A <&"$2" || A=
}

# e2e_lw_uplink DEVADDR_LE FPORT PAYLOAD_HEX: an unconfirmed uplink frame for lpa-cm4's
# "uplink": MHDR 0x40, DevAddr as on the air, FCtrl 0, FCnt 0 (the agent sets it), FPort.
e2e_lw_uplink() {
	printf '40%s000000%02x%s\n' "$1" "$2" "$3"
}

e2e_die() {
	echo "e2e: $*" >&2
	exit 1
}

# e2e_init: WORK in /tmp (or $E2E_WORK), lpa-sim's testbeds inside it, and e2e_cleanup on every exit
# path: normal exit, e2e_die, and SIGTERM/SIGINT/SIGHUP (meson's timeout sends SIGTERM,
# then SIGKILL 0.5 s later: the traps only signal, they never wait).
e2e_init() {
	if [ -n "${E2E_WORK:-}" ]; then
		# A directory chosen by the caller (tests/campaign keeps failed runs' ones).
		WORK=$E2E_WORK
		mkdir -p "$WORK" || exit 1
	else
		WORK=$(mktemp -d /tmp/lpa-e2e.XXXXXX) || exit 1
	fi
	mkdir "$WORK/tmp"
	TMPDIR=$WORK/tmp
	export TMPDIR
	trap 'e2e_cleanup' EXIT
	trap 'e2e_cleanup; trap - EXIT; exit 129' HUP
	trap 'e2e_cleanup; trap - EXIT; exit 130' INT
	trap 'e2e_cleanup; trap - EXIT; exit 143' TERM
}

# e2e_spawn PGIDFILE COMMAND...: COMMAND in a new session (setsid -w waits for it and
# returns its status); PGIDFILE gets the session's id, which is also its process group's.
e2e_spawn() {
	f=$1
	shift
	setsid -w sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$f" "$@"
}

# e2e_track PGIDFILE: remember the group for e2e_cleanup once it has announced itself.
e2e_track() {
	echo "$1" >>"$WORK/pgids"
}

# e2e_kill_group PGIDFILE: every process of that group, stopped ones included.
e2e_kill_group() {
	[ -s "$1" ] || return 0
	g=$(cat "$1")
	# A group that already ended is fine (and must not end a `set -e` caller: the demo).
	kill -CONT -"$g" 2>/dev/null || true
	kill -KILL -"$g" 2>/dev/null || true
	rm -f "$1"
}

# e2e_cleanup: ends every process group this file started, logs out (only when the KMS
# still answers, so a stuck KMS cannot hold the exit up), and removes WORK unless KEEP.
e2e_cleanup() {
	trap - HUP INT TERM
	if [ -n "${E2E_KMS_PID:-}" ] && [ -s "$WORK/kms.pgid" ]; then
		kill -CONT -"$(cat "$WORK/kms.pgid")" 2>/dev/null || true
		e2e_station logout >/dev/null 2>&1
	fi
	if [ -f "$WORK/pgids" ]; then
		while read -r f; do
			e2e_kill_group "$f"
		done <"$WORK/pgids"
	fi
	E2E_KMS_PID=
	[ "${KEEP:-}" ] || rm -rf "$WORK"
}

# e2e_kms_serve [ARGS...]: lpa-kms serve on $WORK/kms in its own group; E2E_KMS_PID.
e2e_kms_serve() {
	rm -f "$WORK/kms.pgid"
	e2e_spawn "$WORK/kms.pgid" "$BUILD/lpa/kms/lpa-kms" serve --dir "$WORK/kms" "$@" \
		>>"$WORK/kms.log" 2>&1 &
	E2E_KMS_PID=$!
	e2e_track "$WORK/kms.pgid"
}

# e2e_kms_start: initialise a KMS in $WORK/kms, add operator "demo" (operator, qa, enrol) and
# station "st1", start it on a free loopback port, write $WORK/station.conf.
e2e_kms_start() {
	pki=$BUILD/fixtures/pki
	kms=$BUILD/lpa/kms/lpa-kms
	mkdir -p "$WORK/certs"
	# shellcheck disable=SC2086 # E2E_KMS_INIT_ARGS: words (e2e_softhsm_init)
	"$kms" admin init --dir "$WORK/kms" --device-ca "$pki/device-ca.pem" \
		--package-key "$pki/kms-package.key" --argon2-t 1 --argon2-m 1024 \
		--dev-eui-base 70b3d57ed0100000 ${E2E_KMS_INIT_ARGS:-} >"$WORK/kms-init.log" 2>&1 ||
		e2e_die "KMS init failed: $(cat "$WORK/kms-init.log")"
	printf '%s\n' "$E2E_PASSWORD" >"$WORK/password"
	chmod 600 "$WORK/password"
	"$kms" admin add-operator demo --dir "$WORK/kms" --role operator,qa,enrol --lots '*' \
		--password-fd 3 --totp-secret-fd 4 3<"$WORK/password" 4>"$WORK/totp-secret" \
		>"$WORK/kms-op.log" 2>&1 || e2e_die "add-operator failed: $(cat "$WORK/kms-op.log")"
	chmod 600 "$WORK/totp-secret"
	"$kms" admin add-station st1 --dir "$WORK/kms" --out "$WORK/certs" >/dev/null 2>&1 ||
		e2e_die "add-station failed"
	"$kms" admin export-keys --dir "$WORK/kms" --out "$WORK/keys" >/dev/null 2>&1 ||
		e2e_die "export-keys failed"
	e2e_kms_serve --port 0 --port-file "$WORK/kms.port"
	e2e_kms_wait_port "$WORK/kms.port"
	E2E_KMS_PORT=$(cat "$WORK/kms.port")
	e2e_write_conf "${1:-cmsis-dap}"
}

# e2e_softhsm_init SCRIPT: the KMS's keys in a SoftHSM2 token of this run's own, made by
# SCRIPT (tests/kms/softhsm-token.sh) in $WORK/softhsm (removed with WORK). Every lpa-kms
# started afterwards finds the token PIN as a systemd credential would hand it over:
# $CREDENTIALS_DIRECTORY/pkcs11-pin (the variable is a directory's path, no secret).
# Call before e2e_kms_start.
e2e_softhsm_init() {
	sh "$1" "$WORK/softhsm" lpa-kms || e2e_die "no SoftHSM2 token (packaging/install-deps.sh)"
	SOFTHSM2_CONF=$WORK/softhsm/softhsm2.conf
	mkdir -m 700 "$WORK/creds"
	cp "$WORK/softhsm/pin" "$WORK/creds/pkcs11-pin"
	chmod 400 "$WORK/creds/pkcs11-pin"
	CREDENTIALS_DIRECTORY=$WORK/creds
	export SOFTHSM2_CONF CREDENTIALS_DIRECTORY
	E2E_KMS_INIT_ARGS="--keystore pkcs11 --pkcs11-module $(cat "$WORK/softhsm/module") --pkcs11-token lpa-kms"
}

# e2e_kms_wait_port FILE: until the KMS listens (it writes FILE then) or has exited.
e2e_kms_wait_port() {
	i=0
	while [ ! -s "$1" ] && kill -0 "$E2E_KMS_PID" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$1" ] || e2e_die "KMS did not start: $(cat "$WORK/kms.log")"
}

e2e_write_conf() {
	cat >"$WORK/station.conf" <<CONF
[kms]
url = https://127.0.0.1:$E2E_KMS_PORT
ca = $WORK/certs/kms-ca.pem
cert = $WORK/certs/st1.pem
key = $WORK/certs/st1.key
record_keys = $WORK/keys/kms-keys.json
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

# e2e_agent_conf [IMAGE [SHA256]]: an [agent] section naming IMAGE ("" or none: the
# build's CY8C6xx7 .hex) with the SHA-256 (unless given) and version `agent info`
# reports for it.
e2e_agent_conf() {
	img=${1:-}
	[ -n "$img" ] || img=$BUILD/lpa/agent/lpa-agent-cy8c6xx7.hex
	info=$("$BUILD/lpa/station/lpa-station" agent info --json "$img") ||
		e2e_die "agent info refused $img"
	sha=$(echo "$info" | sed 's/.*"sha256":"\([0-9a-f]*\)".*/\1/')
	ver=$(echo "$info" | sed 's/.*"agent_version":"\([0-9.]*\)".*/\1/')
	printf '\n[agent]\nimage = %s\nsha256 = %s\nversion = %s\n' "$img" "${2:-$sha}" "$ver" \
		>>"$WORK/station.conf"
}

# e2e_kms_stop: stops the KMS (SIGTERM; SIGCONT first in case a test froze it).
e2e_kms_stop() {
	if [ -n "${E2E_KMS_PID:-}" ]; then
		if [ -s "$WORK/kms.pgid" ]; then
			kill -CONT -"$(cat "$WORK/kms.pgid")" 2>/dev/null || true
			kill -TERM -"$(cat "$WORK/kms.pgid")" 2>/dev/null || true
		fi
		wait "$E2E_KMS_PID" 2>/dev/null
		rm -f "$WORK/kms.pgid"
		E2E_KMS_PID=
	fi
}

# e2e_kms_pid: the KMS server process itself (the leader of its group), for tests that
# stop or kill it.
e2e_kms_pid() {
	cat "$WORK/kms.pgid"
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

# e2e_sim ARGS... -- COMMAND: lpa-sim with the fixture PKI and the KMS's package key, in
# its own process group (waited for in the background, so a signal to the test is acted
# on at once); returns COMMAND's status. Whatever COMMAND left running is ended after it.
e2e_sim() {
	pg=$WORK/sim.$$.pgid
	rm -f "$pg"
	e2e_track "$pg"
	# The datasheet's flash latencies, but the CM0+ as fast as the host emulates it (not
	# held to 100 MHz): the agent's firmware then costs host time only (docs/simulator.md).
	e2e_spawn "$pg" "$BUILD/fixtures/sim/lpa-sim" --cpu-mhz 0 \
		--kms-pub "$WORK/keys/kms-package.pub.pem" \
		"$@" &
	sim_wait=$!
	wait $sim_wait
	sim_rc=$?
	e2e_kill_group "$pg"
	return $sim_rc
}

e2e_station() {
	"$BUILD/lpa/station/lpa-station" --config "$WORK/station.conf" "$@"
}
