#!/bin/bash
# The bash completions (packaging/completion/) against the programs they complete:
#   test-completion.sh SRCDIR LPA-STATION LPA-KMS
# Each case: the words typed so far, the one being completed, what must be offered.
set -u
src=$1 station=$2 kms=$3
. "$src/packaging/completion/lpa-station"
. "$src/packaging/completion/lpa-kms"
fail=0

# expect FUNCTION "WORD..." WANTED...: COMPREPLY for the last word holds every WANTED.
expect() {
	local fn=$1 line=$2 want got
	shift 2
	read -r -a COMP_WORDS <<<"$line"
	# A trailing space means a new, empty word is being completed.
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	"$fn"
	got=" ${COMPREPLY[*]} "
	for want in "$@"; do
		if [[ $got != *" $want "* ]]; then
			echo "FAIL: '$line' offers [${COMPREPLY[*]}], not '$want'"
			fail=1
		fi
	done
}
# refuse FUNCTION "WORD..." UNWANTED...: none of UNWANTED is offered.
refuse() {
	local fn=$1 line=$2 bad got
	shift 2
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	"$fn"
	got=" ${COMPREPLY[*]} "
	for bad in "$@"; do
		if [[ $got == *" $bad "* ]]; then
			echo "FAIL: '$line' offers '$bad'"
			fail=1
		fi
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
