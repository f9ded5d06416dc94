#!/usr/bin/env bash
# Starts / stops a throw-away pcscd for the NFC tests (pcscd + vsmartcard-vpcd).
#
#   scripts/pcscd-test.sh start DIR   start `pcscd -f` in the background (log DIR/pcscd.log),
#                                     wait until vpcd listens for a virtual card on port 35963
#                                     and the PC/SC socket exists; pid in DIR/pcscd.pid
#   scripts/pcscd-test.sh stop DIR    stop the pcscd this script started (DIR/pcscd.pid)
#
# If a pcscd is already running and vpcd listens, it is used as is (DIR/pcscd.reused is
# written, `stop` leaves it alone). pcscd must run as root (it owns /run/pcscd).
#
# There is one vpcd port per machine, so NFC tests must not overlap (ctest -j): `start`
# takes a machine-wide lock ($LOCK, a directory naming the owning test process and DIR)
# and `stop` releases it. A lock whose owner process is gone is stale and broken; `start`
# waits up to 300 s for the lock.
# Readiness is checked without connecting to port 35963 (a connection there would be taken
# for a card): /proc/net/tcp{,6} must show the port in LISTEN state.
set -euo pipefail

VPCD_PORT_HEX=8C7B # 35963, the CHANNELID in /etc/reader.conf.d/vpcd
PCSCD=${PCSCD:-/usr/sbin/pcscd}
SOCK=/run/pcscd/pcscd.comm

LOCK=${TES_PCSCD_LOCK:-/run/tessera-pcscd-test.lock}

LOCKED_DIR="" # set while `start` holds the lock but has not succeeded yet

die() {
    echo "pcscd-test.sh: $*" >&2
    if [ -n "$LOCKED_DIR" ]; then lock_release "$LOCKED_DIR"; fi
    exit 1
}

# The test process that called us: our parent, or its parent when that is the `sh -c` of
# system().
owner_pid() {
    local p=$PPID
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sh ]; then
        p=$(awk '{ print $4 }' "/proc/$p/stat")
    fi
    echo "$p"
}

lock_acquire() {
    local dir=$1 owner holder
    owner=$(owner_pid)
    for _ in $(seq 1 1500); do
        if mkdir "$LOCK" 2>/dev/null; then
            echo "$owner $dir" > "$LOCK/owner"
            return 0
        fi
        holder=$(awk '{ print $1 }' "$LOCK/owner" 2>/dev/null || true)
        if [ -n "$holder" ] && ! alive "$holder"; then
            echo "pcscd-test.sh: breaking stale lock of process $holder" >&2
            rm -rf "$LOCK"
            continue
        fi
        sleep 0.2
    done
    die "another NFC test holds $LOCK ($(cat "$LOCK/owner" 2>/dev/null)) for over 300 s"
}

lock_release() {
    local dir=$1
    if [ "$(awk '{ print $2 }' "$LOCK/owner" 2>/dev/null)" = "$dir" ]; then
        rm -rf "$LOCK"
    fi
}

vpcd_listening() {
    # local_address column ends in :8C7B, state 0A = LISTEN
    awk -v p=":$VPCD_PORT_HEX" 'NR > 1 && substr($2, length($2) - 4) == p && $4 == "0A" { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Any socket still bound to the vpcd port (TIME_WAIT after the previous pcscd closed its
# side first): vpcd's driver binds without SO_REUSEADDR, so a new pcscd fails with
# "Address already in use" until the kernel lets the old connection go (up to 60 s).
vpcd_port_busy() {
    awk -v p=":$VPCD_PORT_HEX" 'NR > 1 && substr($2, length($2) - 4) == p { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

reserve_vpcd_port() {
    local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur
    [ -w "$f" ] || return 0
    cur=$(cat "$f" 2>/dev/null) || return 0
    case ",$cur," in
    *,35963,*) return 0 ;;
    esac
    echo "${cur:+$cur,}35963" > "$f" 2>/dev/null || true
}

# alive and not a zombie (in containers nothing may reap an orphaned pcscd)
alive() {
    local st
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

running_pid() {
    local pid
    [ -r /run/pcscd/pcscd.pid ] || return 1
    pid=$(tr -dc '0-9' < /run/pcscd/pcscd.pid 2>/dev/null) || return 1
    [ -n "$pid" ] && alive "$pid" && echo "$pid"
}

start() {
    local dir=$1
    mkdir -p "$dir"
    rm -f "$dir/pcscd.pid" "$dir/pcscd.reused"
    [ -x "$PCSCD" ] || die "$PCSCD not found (install pcscd and vsmartcard-vpcd)"
    [ -r /etc/reader.conf.d/vpcd ] || die "/etc/reader.conf.d/vpcd missing (install vsmartcard-vpcd)"
    [ "$(id -u)" = 0 ] || die "pcscd must be started as root"
    lock_acquire "$dir"
    LOCKED_DIR=$dir
    if pid=$(running_pid) && vpcd_listening && [ -S "$SOCK" ]; then
        echo "$pid" > "$dir/pcscd.reused"
        echo "pcscd-test.sh: using the running pcscd (pid $pid)"
        return 0
    fi
    # vpcd's port lies in the kernel's ephemeral range: under load (other tests opening
    # thousands of connections) an outgoing connection can get 35963 as its source port,
    # and pcscd then fails to bind. Reserve it (only affects automatic assignment).
    reserve_vpcd_port
    # a pcscd that is still exiting, or connections in TIME_WAIT, hold the port for a while
    local waited=0
    while vpcd_port_busy && [ $waited -lt 700 ]; do # up to 70 s
        [ $waited = 0 ] && echo "pcscd-test.sh: waiting for port 35963 to be released"
        sleep 0.1
        waited=$((waited + 1))
    done
    if vpcd_listening; then
        die "port 35963 is taken by another process (not a usable pcscd)"
    fi
    mkdir -p /run/pcscd
    # -f: foreground, so that $! is pcscd itself
    "$PCSCD" -f > "$dir/pcscd.log" 2>&1 &
    local pid=$!
    echo "$pid" > "$dir/pcscd.pid"
    for _ in $(seq 1 100); do # up to 10 s
        if ! alive "$pid"; then
            rm -f "$dir/pcscd.pid"
            die "pcscd exited at start; log: $(tail -5 "$dir/pcscd.log" | tr '\n' ' ')"
        fi
        if vpcd_listening && [ -S "$SOCK" ]; then
            echo "pcscd-test.sh: pcscd ready (pid $pid)"
            return 0
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    rm -f "$dir/pcscd.pid"
    die "pcscd did not become ready in 10 s; log: $(tail -5 "$dir/pcscd.log" | tr '\n' ' ')"
}

stop() {
    local dir=$1
    stop_pcscd "$dir"
    lock_release "$dir"
}

stop_pcscd() {
    local dir=$1 pid
    if [ -f "$dir/pcscd.reused" ]; then
        rm -f "$dir/pcscd.reused"
        return 0
    fi
    [ -f "$dir/pcscd.pid" ] || return 0
    pid=$(cat "$dir/pcscd.pid")
    rm -f "$dir/pcscd.pid"
    [ -n "$pid" ] || return 0
    alive "$pid" || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        alive "$pid" || return 0
        sleep 0.1
    done
    echo "pcscd-test.sh: pcscd $pid ignored SIGTERM, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    rm -f /run/pcscd/pcscd.pid /run/pcscd/pcscd.comm
}

[ $# -eq 2 ] || die "usage: $0 start|stop DIR"
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) die "usage: $0 start|stop DIR" ;;
esac
