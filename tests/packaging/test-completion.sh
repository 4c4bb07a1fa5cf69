#!/bin/bash
# The bash completions (packaging/completion/) against the programs they complete:
#   test-completion.sh SRCDIR LPA-STATION LPA-KMS
# Each case: the words typed so far, the one being completed, what must be offered.
set -u
src=$1 station=$2 kms=$3
. "$src/packaging/completion/lpa-station"
. "$src/packaging/completion/lpa-kms"
fail=0

# offered FUNCTION "WORD...": what the completion offers for the last word, as
# " a b c " (a trailing space in the line means a new, empty word is being completed).
offered() {
	read -r -a COMP_WORDS <<<"$2"
	[[ $2 == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	"$1"
	got=" ${COMPREPLY[*]} "
}
# expect FUNCTION "WORD..." WANTED...: every WANTED is offered.
expect() {
	local line=$2 want
	offered "$1" "$line"
	shift 2
	for want in "$@"; do
		[[ $got == *" $want "* ]] || { echo "FAIL: '$line' offers [$got], not '$want'"; fail=1; }
	done
}
# refuse FUNCTION "WORD..." UNWANTED...: none of UNWANTED is offered.
refuse() {
	local line=$2 bad
	offered "$1" "$line"
	shift 2
	for bad in "$@"; do
		[[ $got != *" $bad "* ]] || { echo "FAIL: '$line' offers '$bad'"; fail=1; }
	done
}

# Every command lpa-station's help lists is offered after the program's name.
cmds=$("$station" help 2>&1 | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
[ "$(echo "$cmds" | wc -w)" -ge 10 ] || { echo "FAIL: lpa-station help lists [$cmds]"; fail=1; }
# shellcheck disable=SC2086
expect _lpa_station "$station " $cmds help
expect _lpa_station "$station ba" batch
refuse _lpa_station "$station ba" run login
expect _lpa_station "$station --con" --config
expect _lpa_station "$station --config /etc/lpa/station.conf ma" manifest
expect _lpa_station "$station batch --l" --lot
expect _lpa_station "$station batch --lot L1 --re" --resume
expect _lpa_station "$station login --" --operator --password-fd --totp-fd
refuse _lpa_station "$station login --" --lot
expect _lpa_station "$station help ver" verify version

kcmds=$("$kms" --help 2>&1 | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
[ "$(echo "$kcmds" | wc -w)" -ge 3 ] || { echo "FAIL: lpa-kms --help lists [$kcmds]"; fail=1; }
# shellcheck disable=SC2086
expect _lpa_kms "$kms " $kcmds
expect _lpa_kms "$kms se" serve
expect _lpa_kms "$kms admin add-" add-operator add-station
refuse _lpa_kms "$kms admin add-" init serve
expect _lpa_kms "$kms admin init --dev" --dev-eui-base --dev-eui-count
expect _lpa_kms "$kms admin init --dir /tmp/k --key" --keystore
expect _lpa_kms "$kms serve --po" --port --port-file
refuse _lpa_kms "$kms serve --po" --dev-eui-base

[ $fail -eq 0 ] && echo "completion: every case passed"
exit $fail
