#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for tests.
#
#   scripts/pg-test.sh start DIR PORT   create a cluster in DIR (owned by postgres), start it on
#                                       127.0.0.1:PORT with its socket in DIR, wait until it
#                                       accepts connections, create the database "tessera" and
#                                       print its URL: postgresql://postgres@127.0.0.1:PORT/tessera
#   scripts/pg-test.sh stop DIR         stop it (immediate) and remove DIR
#
# PostgreSQL refuses to run as root: as root every server command runs as the user postgres
# (runuser); as any other user they run as that user. Authentication is "trust" and the server
# listens on loopback only. Messages go to stderr, the URL alone to stdout.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGUSER_OS=${PGUSER_OS:-postgres}

die() {
    echo "pg-test: $*" >&2
    exit 1
}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PGUSER_OS" -- "$@"
    else
        "$@"
    fi
}

usage() {
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
}

cmd=${1:-}
case "$cmd" in
start)
    [ $# -eq 3 ] || usage
    dir=$2
    port=$3
    case "$port" in '' | *[!0-9]*) die "PORT must be a number: $port" ;; esac
    [ -x "$PGBIN/initdb" ] || die "no PostgreSQL server binaries in $PGBIN (apt-get install postgresql)"
    case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
        die "$dir exists and is not empty"
    fi
    mkdir -p "$dir"
    chmod 0700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$PGUSER_OS:" "$dir"
    fi
    # The server needs to reach DIR through its parents (mkdtemp under /tmp is fine).
    as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        die "initdb failed in $dir/data"
    }
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-k $dir -p $port -c listen_addresses=127.0.0.1" start >/dev/null 2>&1 || {
        cat "$dir/server.log" >&2 2>/dev/null || true
        die "the server did not start on 127.0.0.1:$port"
    }
    ready=0
    for _ in $(seq 1 100); do
        if as_pg "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
            ready=1
            break
        fi
        sleep 0.1
    done
    [ "$ready" -eq 1 ] || die "the server on 127.0.0.1:$port does not accept connections"
    as_pg "$PGBIN/createdb" -h "$dir" -p "$port" -U postgres tessera ||
        die "createdb tessera failed"
    echo "postgresql://postgres@127.0.0.1:$port/tessera"
    ;;
stop)
    [ $# -eq 2 ] || usage
    dir=$2
    [ -n "$dir" ] && [ "$dir" != "/" ] || die "refusing to remove '$dir'"
    [ -d "$dir" ] || exit 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    # Only remove what this script created: a cluster directory, or an empty one.
    if [ -f "$dir/data/PG_VERSION" ] || [ -z "$(ls -A "$dir")" ] || [ -f "$dir/initdb.log" ]; then
        rm -rf -- "$dir"
    else
        die "$dir does not look like a cluster made by $0: not removed"
    fi
    ;;
*)
    usage
    ;;
esac
