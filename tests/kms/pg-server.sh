#!/bin/sh
# pg-server.sh CMD [ARGS...] — runs CMD beside a private PostgreSQL 15 server, the one
# fixture every PostgreSQL test of the KMS uses (tests/kms/meson.build).
#
# The server lives in a fresh temporary directory: initdb, password authentication
# (SCRAM) for the one role, a Unix socket in that directory and no TCP at all. CMD finds
# it in KT_PG_CONNINFO, a libpq connection string whose password is in a passfile (0600),
# as lpa-kms is meant to be configured; KT_PG_DIR is the directory. The server is
# stopped and the directory removed on every exit path: CMD passing, failing, crashing,
# or this script being interrupted or terminated (meson's timeout). As root, the server
# runs as an unprivileged user (postgres, or $LPA_PG_USER): initdb refuses root.
# LPA_PG_OPTIONS adds server options (e.g. "-c log_min_duration_statement=5" to see
# what is slow); LPA_PG_KEEP_LOG=FILE keeps the server's log.
set -eu

PG_BIN=${LPA_PG_BIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
for b in initdb pg_ctl; do
    if [ ! -x "$PG_BIN/$b" ]; then
        echo "pg-server.sh: $PG_BIN/$b not found (sh packaging/install-deps.sh)" >&2
        exit 1
    fi
done

dir=$(mktemp -d /tmp/lpa-pg.XXXXXX)
started=0
as_server() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
    user=${LPA_PG_USER:-postgres}
    if ! id "$user" >/dev/null 2>&1; then
        user=nobody
    fi
    chown "$user" "$dir"
    as_server() { runuser -u "$user" -- "$@"; }
fi

child=
stop() {
    rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
    fi
    if [ "$started" = 1 ]; then
        as_server "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 ||
            echo "pg-server.sh: pg_ctl stop failed" >&2
    fi
    if [ -n "${LPA_PG_KEEP_LOG:-}" ] && [ -f "$dir/data/server.log" ]; then
        cp "$dir/data/server.log" "$LPA_PG_KEEP_LOG" || true
    fi
    rm -rf "$dir"
    exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A random password: only the passfile and the server's SCRAM verifier ever hold it.
pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
umask 077
printf '%s\n' "$pw" >"$dir/pwfile"
[ "$(id -u)" -ne 0 ] || chown "$user" "$dir/pwfile"
printf '*:*:*:lpa:%s\n' "$pw" >"$dir/pgpass"
unset pw

if ! as_server "$PG_BIN/initdb" -D "$dir/data" -U lpa --pwfile="$dir/pwfile" \
    --auth-local=scram-sha-256 --auth-host=reject -E UTF8 --no-locale \
    >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    exit 1
fi
rm -f "$dir/pwfile"
started=1
if ! as_server "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
    -o "-k $dir -c listen_addresses= -c max_connections=200 ${LPA_PG_OPTIONS:-}" \
    start >/dev/null; then
    cat "$dir/data/server.log" >&2
    exit 1
fi

KT_PG_DIR=$dir
KT_PG_CONNINFO="host=$dir dbname=postgres user=lpa passfile=$dir/pgpass"
export KT_PG_DIR KT_PG_CONNINFO
# CMD is a child, not exec'd: this shell stays to stop the server after it, and to end
# CMD as well when it is itself interrupted or terminated.
set +e
"$@" &
child=$!
wait "$child"
rc=$?
child=
set -e
if [ "$rc" -ne 0 ] && [ -f "$dir/data/server.log" ]; then
    echo "pg-server.sh: $1 exited $rc; the server's log:" >&2
    tail -n 40 "$dir/data/server.log" >&2
fi
exit "$rc"
