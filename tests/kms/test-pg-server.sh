#!/bin/sh
# test-pg-server.sh FIXTURE — the PostgreSQL fixture (pg-server.sh) stops its server and
# removes its directory on every exit path: its command passing, failing, killed by a
# signal, and the fixture itself terminated while the command runs (as meson's timeout
# does). Each case checks that the server answered while the command ran, and that
# afterwards neither a postmaster nor the directory is left.
set -eu
fixture=$1
note=$(mktemp)
trap 'rm -f "$note"' EXIT

fail() {
    echo "test-pg-server: $*" >&2
    exit 1
}

# After a case: the directory the command saw is gone, and no server runs from it.
check_gone() {
    dir=$(sed -n 1p "$note")
    [ -n "$dir" ] || fail "$1: the command never ran"
    [ "$(sed -n 2p "$note")" = 1 ] || fail "$1: the server did not answer"
    [ ! -e "$dir" ] || fail "$1: $dir is left behind"
    if pgrep -f "$dir/data" >/dev/null; then
        fail "$1: a server from $dir still runs"
    fi
    : >"$note"
}

# The command: note the directory and whether the server answers, then do $1.
cmd='echo "$KT_PG_DIR" >'"$note"'; psql "$KT_PG_CONNINFO" -Atc "SELECT 1" >>'"$note"

rc=0
sh "$fixture" sh -c "$cmd" || rc=$?
[ "$rc" = 0 ] || fail "pass: exit $rc"
check_gone pass

rc=0
sh "$fixture" sh -c "$cmd; exit 3" || rc=$?
[ "$rc" = 3 ] || fail "fail: exit $rc, not the command's 3"
check_gone fail

rc=0
sh "$fixture" sh -c "$cmd; kill -KILL \$\$" || rc=$?
[ "$rc" = 137 ] || fail "signal: exit $rc, not 128 + SIGKILL"
check_gone signal

# Terminated mid-command: the command signals its parent, the fixture, then blocks until
# the fixture ends it.
rc=0
sh "$fixture" sh -c "$cmd; kill -TERM \$PPID; exec tail -f /dev/null" || rc=$?
[ "$rc" = 143 ] || fail "terminated: exit $rc, not 128 + SIGTERM"
check_gone terminated
echo "test-pg-server: the server went away on every exit path"
