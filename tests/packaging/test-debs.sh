#!/bin/sh
# The Debian packages as a sysadmin meets them (root, a Debian 12 machine; .ci/run):
#   sh tests/packaging/test-debs.sh [DEBDIR]
# Builds the packages (packaging/build-debs.sh) unless DEBDIR already holds them, runs
# lintian (report in DEBDIR/lintian.txt; an error or a warning fails), installs them with apt, and then
# works only with what they installed, no build tree: a KMS initialised and served as its
# system user, a station enrolled, a line account (groups lpa and plugdev) that logs in and
# runs a short batch on lpa-testbed's simulated probes with the packaged agent image, the
# manifest verified as QA would; one of those chips joining through the installed KMS's
# Join Server with lpa-testbed's lpa-cm4 and network stand-ins (its uplink decrypted by the
# application server only); the unit checked with systemd-analyze; then remove (state
# in /var/lib kept) and purge (state gone).
set -eu
cd "$(dirname "$0")/../.."
src=$PWD
debs=$(realpath -m "${1:-build-deb}")
[ "$(id -u)" -eq 0 ] || { echo "test-debs.sh: run as root" >&2; exit 2; }
# It installs and purges the packages, state included: never on a machine that has them.
for p in lpa-station lpa-kms lpa-agent lpa-testbed; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		echo "test-debs.sh: $p is installed here; this test installs and purges it" >&2
		exit 2
	fi
done
[ ! -e /var/lib/lpa-kms ] && [ ! -e /var/lib/lpa ] && [ ! -e /etc/lpa ] && [ ! -e /etc/lpa-kms ] || {
	echo "test-debs.sh: /var/lib/lpa-kms, /var/lib/lpa, /etc/lpa or /etc/lpa-kms exists here" >&2
	exit 2
}

# The e2e helpers (functions only; this test uses none of the build tree's programs).
. "$src/tests/e2e/lib.sh"
step() { echo "== $*"; }
die() { echo "test-debs.sh: FAIL: $*" >&2; exit 1; }

if ! ls "$debs"/lpa-station_*.deb >/dev/null 2>&1; then
	step "build: packaging/build-debs.sh $debs"
	sh packaging/build-debs.sh "$debs"
fi

step "lintian"
lintian --info --display-info "$debs"/*.deb >"$debs/lintian.txt" 2>&1 || true
cat "$debs/lintian.txt"
! grep -q '^[EW]: ' "$debs/lintian.txt" || die "lintian reports errors or warnings"

WORK=$(mktemp -d /tmp/lpa-debs.XXXXXX)
chmod 755 "$WORK"
LINE=lpa-test-line
kms_pid=
installed=
cleanup() {
	[ -n "$kms_pid" ] && kill -TERM "$kms_pid" 2>/dev/null && wait "$kms_pid" 2>/dev/null
	userdel -r "$LINE" >/dev/null 2>&1 || true
	# A failed run leaves nothing behind: what it installed is purged.
	if [ -n "$installed" ]; then
		apt-get purge -y -q lpa-testbed lpa-station lpa-kms lpa-agent >/dev/null 2>&1 || true
		rm -rf /etc/lpa /etc/lpa-kms /var/lib/lpa /var/lib/lpa-kms
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

step "install with apt"
export DEBIAN_FRONTEND=noninteractive
installed=1
apt-get install -y -q "$debs"/lpa-station_*.deb "$debs"/lpa-kms_*.deb \
	"$debs"/lpa-agent_*.deb "$debs"/lpa-testbed_*.deb >"$WORK/apt.log" 2>&1 ||
	{ cat "$WORK/apt.log"; die "apt-get install"; }
for p in lpa-station lpa-kms lpa-agent lpa-testbed; do
	echo "-- $p"
	dpkg -L "$p" | while read -r f; do [ -d "$f" ] || echo "$f"; done | sort
done

step "the installed system"
cd /
for f in /usr/bin/lpa-station /usr/bin/lpa-kms /usr/bin/lpa-sim /usr/bin/lpa-testbed-pki \
	/etc/lpa/station.conf /lib/udev/rules.d/60-lpa-probes.rules \
	/lib/systemd/system/lpa-kms.service /usr/share/bash-completion/completions/lpa-station \
	/usr/share/bash-completion/completions/lpa-kms /usr/share/man/man8/lpa-kms.8.gz \
	/usr/share/lpa/agent/lpa-agent-cy8c6xx7.hex /usr/share/lpa/agent/lpa-agent-cy8c6xxa.bin; do
	[ -e "$f" ] || die "$f not installed"
done
getent passwd lpa-kms >/dev/null || die "no lpa-kms system user"
getent group lpa >/dev/null || die "no lpa group"
[ "$(stat -c '%U %a' /var/lib/lpa-kms)" = "lpa-kms 700" ] ||
	die "/var/lib/lpa-kms is $(stat -c '%U %a' /var/lib/lpa-kms)"
[ "$(stat -c '%G %a' /var/lib/lpa)" = "lpa 2770" ] || die "/var/lib/lpa is $(stat -c '%G %a' /var/lib/lpa)"
lpa-station --version
lpa-station agent info /usr/share/lpa/agent/lpa-agent-cy8c6xx7.hex

if command -v systemd-analyze >/dev/null 2>&1; then
	step "systemd-analyze verify lpa-kms.service"
	systemd-analyze verify /lib/systemd/system/lpa-kms.service 2>&1 | tee "$WORK/verify.txt"
	! grep -v -e 'Failed to ' -e 'Ignoring' -e 'running in a chroot' "$WORK/verify.txt" |
		grep -q -i 'lpa-kms.service' || die "systemd-analyze verify complains about the unit"
	step "systemd-analyze security lpa-kms.service (exposure score)"
	systemd-analyze security --offline=true /lib/systemd/system/lpa-kms.service 2>&1 |
		tail -1 || true
fi

step "a throw-away device-identity CA (lpa-testbed-pki)"
lpa-testbed-pki "$WORK/pki" >/dev/null 2>&1 || die "lpa-testbed-pki"
chmod 755 "$WORK/pki"
chmod 644 "$WORK/pki/device-ca.pem" "$WORK/pki/kms-package.pub.pem"

step "KMS: set up as docs/kms.md \"Deploying\" says, served as the lpa-kms user"
# Administration runs as root with the master key outside the state directory; the
# service gets it as a systemd credential.
install -d -m 0700 /etc/lpa-kms /etc/lpa-kms/credentials
MK=/etc/lpa-kms/credentials/master.key
lpa-kms admin init --dir /var/lib/lpa-kms --master-key $MK \
	--device-ca "$WORK/pki/device-ca.pem" --package-key "$WORK/pki/kms-package.key" \
	--dev-eui-base 70b3d57ed0200000 --tls-san IP:127.0.0.1,DNS:localhost \
	>"$WORK/init.log" 2>&1 || { cat "$WORK/init.log"; die "admin init"; }
printf 'correct horse battery staple\n' >"$WORK/password"
lpa-kms admin add-operator line1 --dir /var/lib/lpa-kms --master-key $MK \
	--role operator,qa --lots '*' --password-fd 3 --totp-secret-fd 4 \
	3<"$WORK/password" 4>"$WORK/totp-secret" >"$WORK/op.log" 2>&1 ||
	{ cat "$WORK/op.log"; die "add-operator"; }
mkdir -m 700 "$WORK/enrol"
lpa-kms admin add-station line1-st1 --dir /var/lib/lpa-kms --master-key $MK \
	--out "$WORK/enrol" >/dev/null || die "add-station"
lpa-kms admin export-keys --dir /var/lib/lpa-kms --out "$WORK/enrol" >/dev/null ||
	die "export-keys"
# The Join Server's peers (docs/kms.md "Join Server"), before the service owns the state.
mkdir -m 700 "$WORK/peers"
lpa-kms admin peer add ns1 --dir /var/lib/lpa-kms --master-key $MK --kind ns \
	--net-id 000013 --kek-label ns:000013:ns1 --lots 'PKG-*' --out "$WORK/peers" \
	>/dev/null || die "peer add ns1"
lpa-kms admin peer add as1 --dir /var/lib/lpa-kms --master-key $MK --kind as \
	--kek-label as:as1 --lots 'PKG-*' --out "$WORK/peers" >/dev/null || die "peer add as1"
chown -R lpa-kms:lpa-kms /var/lib/lpa-kms
[ ! -e /var/lib/lpa-kms/master.key ] || die "the master key is in the state directory"
if [ -d /run/systemd/system ]; then
	# A machine running systemd: the unit itself.
	systemctl start lpa-kms || { journalctl -u lpa-kms --no-pager | tail -20; die "unit"; }
	port=8443
	i=0
	until curl -sk -o /dev/null "https://127.0.0.1:$port/" || [ $i -ge 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
else
	# No systemd here (a container): what the unit runs, as its user, the credential
	# where systemd would put it (readable by the service user only).
	creds=$WORK/credentials
	install -d -m 0700 -o lpa-kms "$creds"
	install -m 0400 -o lpa-kms $MK "$creds/lpa-kms_master.key"
	setpriv --reuid=lpa-kms --regid=lpa-kms --init-groups -- env CREDENTIALS_DIRECTORY="$creds" \
		lpa-kms serve --dir /var/lib/lpa-kms --master-key "$creds/lpa-kms_master.key" \
		--pin-credential lpa-kms_pkcs11-pin --listen 127.0.0.1 --port 0 \
		--port-file /var/lib/lpa-kms/port >"$WORK/kms.log" 2>&1 &
	kms_pid=$!
	i=0
	while [ ! -s /var/lib/lpa-kms/port ] && kill -0 $kms_pid 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s /var/lib/lpa-kms/port ] || { cat "$WORK/kms.log"; die "the KMS did not start"; }
	port=$(cat /var/lib/lpa-kms/port)
fi

step "station: enrolled into /etc/lpa, a line account in groups lpa and plugdev"
useradd -m -G lpa,plugdev "$LINE"
chown "$LINE" "$WORK/pki/device-ca.key" # lpa-sim, run by the line account, certifies with it
install -m 644 "$WORK/enrol/kms-ca.pem" /etc/lpa/kms-ca.pem
install -m 644 "$WORK/enrol/line1-st1.pem" /etc/lpa/station.pem
install -m 600 -o "$LINE" "$WORK/enrol/line1-st1.key" /etc/lpa/station.key
install -m 644 "$WORK/enrol/kms-keys.json" /etc/lpa/kms-keys.json
cat >/etc/lpa/station.conf <<CONF
[kms]
url = https://127.0.0.1:$port

[station]
name = line1-st1

[provision]
join_eui = 70b3d57ed0000000
CONF
as_line() { setpriv --reuid="$LINE" --regid="$LINE" --init-groups -- env HOME="/home/$LINE" "$@"; }
oathtool --totp -b "$(cat "$WORK/totp-secret")" >"$WORK/totp-code"
chmod 644 "$WORK/password" "$WORK/totp-code"
as_line sh -c 'keyctl new_session >/dev/null; lpa-station login --operator line1 \
	--password-fd 3 --totp-fd 4 3<"$1" 4<"$2" &&
	lpa-sim --probes 2 --chips 2 --cpu-mhz 0 --ca-cert "$3/device-ca.pem" \
		--ca-key "$3/device-ca.key" --kms-pub "$3/kms-package.pub.pem" \
		--state "$HOME/sim" -- \
		lpa-station batch --lot PKG-1 --count 4 >"$HOME/batch.jsonl" &&
	lpa-station manifest verify /var/lib/lpa/manifests/PKG-1.jsonl \
		--kms-keys /etc/lpa/kms-keys.json --station-cert /etc/lpa/station.pem --kms &&
	lpa-station logout' \
	- "$WORK/password" "$WORK/totp-code" "$WORK/pki" || {
	cat "/home/$LINE/batch.jsonl" 2>/dev/null
	tail -20 "$WORK/kms.log"
	die "login, batch, manifest verify on the installed system"
}
pass=$(grep -c '"result":"pass"' "/home/$LINE/batch.jsonl" || true)
[ "$pass" -eq 4 ] || die "$pass of 4 devices passed"
echo "4 devices provisioned and the manifest verified, as $LINE"

step "the Join Server: a provisioned chip joins (lpa-testbed's lpa-cm4 and stand-ins)"
tb=/usr/lib/lpa-testbed
for f in lpa-cm4 lpa-ns-standin lpa-as-standin; do [ -x "$tb/$f" ] || die "$tb/$f not installed"; done
url=https://127.0.0.1:$port/lbi
mkfifo "$WORK/ns.in" "$WORK/ns.out" "$WORK/as.in" "$WORK/as.out" "$WORK/cm4.in" "$WORK/cm4.out"
"$tb/lpa-ns-standin" --url "$url" --cert "$WORK/peers/ns1.pem" --key "$WORK/peers/ns1.key" \
	--ca "$WORK/peers/kms-ca.pem" --id 000013 --kek "ns:000013:ns1=$WORK/peers/ns1.kek" \
	<"$WORK/ns.in" >"$WORK/ns.out" 2>"$WORK/ns.log" &
ns_pid=$!
exec 5>"$WORK/ns.in" 6<"$WORK/ns.out"
"$tb/lpa-as-standin" --url "$url" --cert "$WORK/peers/as1.pem" --key "$WORK/peers/as1.key" \
	--ca "$WORK/peers/kms-ca.pem" --id as1 --kek "as:as1=$WORK/peers/as1.kek" \
	<"$WORK/as.in" >"$WORK/as.out" 2>"$WORK/as.log" &
as_pid=$!
exec 7>"$WORK/as.in" 8<"$WORK/as.out"
# The first chip of probe SIM0000001 again, from the batch's --state.
lpa-sim --probes 1 --chips 2 --cpu-mhz 0 --state "/home/$LINE/sim" \
	--kms-pub "$WORK/pki/kms-package.pub.pem" -- "$tb/lpa-cm4" \
	<"$WORK/cm4.in" >"$WORK/cm4.out" 2>"$WORK/cm4.log" &
cm4_job=$!
exec 3>"$WORK/cm4.in" 4<"$WORK/cm4.out"
read -r l <&4 || l=
[ "$l" = ready ] || die "lpa-cm4: $(cat "$WORK/cm4.log")"
read -r l <&6 && read -r l2 <&8 && [ "$l" = ready ] && [ "$l2" = ready ] ||
	die "stand-ins: $(cat "$WORK/ns.log" "$WORK/as.log")"
# The EUIs as the NS reads them from the JoinRequest (little-endian on the air).
e2e_ask 3 4 join-request
req=${A#ok }
join_eui=$(e2e_reverse_hex "$(echo "$req" | cut -c3-18)")
eui=$(e2e_reverse_hex "$(echo "$req" | cut -c19-34)")
grep -qs "^dev_eui $(echo "$eui" | tr a-f A-F)" /home/$LINE/sim/chips/*/keys ||
	die "the JoinRequest ($req) names no chip of the batch"
e2e_ask 5 6 "join $eui $join_eui 1.1 $req"
[ "${A%% *}" = ok ] || die "the NS's JoinReq: $A $(cat "$WORK/ns.log")"
# shellcheck disable=SC2086 # the answer's words: ok DEVADDR ACCEPT
set -- $A
addr=$2
e2e_ask 3 4 "join-accept $3"
[ "${A%% *}" = ok ] || die "the agent refused the join-accept: $A"
payload=$(printf 'installed %s' "$eui" | od -An -tx1 | tr -d ' \n')
e2e_ask 3 4 "uplink 0 0 $(e2e_lw_uplink "$(echo "${A#ok }" | cut -c15-22)" 2 "$payload")"
# shellcheck disable=SC2086 # ok FCNT PHYPAYLOAD
set -- $A
e2e_ask 5 6 "uplink $3"
[ "${A%% *}" = up ] || die "the NS refused the uplink: $A"
# shellcheck disable=SC2086 # up DEV_EUI FCNT FPORT FRMHEX SKID LABEL AESKEY
set -- $A
[ "$5" != "$payload" ] || die "the NS saw the payload in clear"
e2e_ask 7 8 "context $2 $6 $7 $8"
[ "$A" = ok ] || die "the AS could not open the AppSKey: $A"
e2e_ask 7 8 "decrypt $eui $addr $3 $5"
[ "$A" = "plain $payload" ] || die "the AS decrypted $A"
echo quit >&5
echo quit >&7
exec 3>&- 4<&- 5>&- 6<&- 7>&- 8<&-
wait $cm4_job $ns_pid $as_pid
echo "$eui joined as $addr; its uplink verified by the NS and decrypted by the AS only"
if [ -n "$kms_pid" ]; then
	kill -TERM $kms_pid && wait $kms_pid 2>/dev/null || true
	kms_pid=
else
	systemctl stop lpa-kms
fi

step "remove: programs gone, state kept"
apt-get remove -y -q lpa-testbed lpa-station lpa-kms lpa-agent >"$WORK/apt.log" 2>&1 ||
	{ cat "$WORK/apt.log"; die "apt-get remove"; }
[ ! -e /usr/bin/lpa-station ] && [ ! -e /usr/bin/lpa-kms ] || die "programs left after remove"
[ -s /var/lib/lpa-kms/kms.db ] || [ -n "$(ls -A /var/lib/lpa-kms)" ] || die "KMS state lost on remove"
[ -s /var/lib/lpa/manifests/PKG-1.jsonl ] || die "station manifests lost on remove"

step "purge: state and configuration gone"
apt-get purge -y -q lpa-testbed lpa-station lpa-kms lpa-agent >"$WORK/apt.log" 2>&1 ||
	{ cat "$WORK/apt.log"; die "apt-get purge"; }
for f in /var/lib/lpa-kms /var/lib/lpa /etc/lpa/station.conf; do
	[ ! -e "$f" ] || die "$f left after purge"
done
rm -rf /etc/lpa /etc/lpa-kms # what the test itself put there (enrolment, credentials)
installed=
echo "packages: built, lintian clean of errors and warnings, installed, used, removed and purged"
