#!/usr/bin/env bash
# The library reads the wall clock and draws randomness only through the clock
# and rng its caller gives (tes_clock / tes_rng, include/tessera/core.h); the
# system defaults behind them live in src/core/env.c, the one place allowed to
# call time() and getrandom(). Fails listing every other use under src/ (or
# under the directory given as $1). Monotonic clocks (CLOCK_MONOTONIC) measure
# waits and are allowed; randomness inside OpenSSL (key generation, ECDSA
# nonces) is not called from here and is documented in core.h.
set -euo pipefail

SRC=${1:-src}
ALLOWED=core/env.c
[[ -d $SRC ]] || { echo "no_wallclock: no directory $SRC" >&2; exit 2; }

# Extended regular expressions, one per forbidden source of time or randomness.
patterns=(
    '\btime[[:space:]]*\([[:space:]]*(NULL|0|&|nullptr)'  # time(NULL), time(0), time(&t)
    '\bgettimeofday[[:space:]]*\('
    '\bCLOCK_REALTIME'                                   # clock_gettime(CLOCK_REALTIME...), timers
    '\bftime[[:space:]]*\('
    "strftime\\('%s'[[:space:]]*,[[:space:]]*'now'"     # SQLite's own clock
    "\\b(now|current_timestamp|clock_timestamp|localtimestamp)[[:space:]]*\\(\\)"  # SQL clocks
    '\bRAND_(priv_)?bytes'
    '\bgetrandom[[:space:]]*\('
    '\bgetentropy[[:space:]]*\('
    '/dev/u?random'
    '\barc4random'
    '\b(s?rand|s?random|drand48|erand48|lrand48|nrand48|mrand48|jrand48|rand_r)\('  # libc PRNGs (no space: "random (16)" in prose is fine)
)

offenders=$(mktemp)
trap 'rm -f "$offenders"' EXIT
for p in "${patterns[@]}"; do
    grep -rnEI --include='*.c' --include='*.h' -- "$p" "$SRC" |
        grep -v "^$SRC/$ALLOWED:" >>"$offenders" || true
done

if [[ -s $offenders ]]; then
    echo "no_wallclock: wall-clock time or private randomness outside $SRC/$ALLOWED" \
         "(use the caller's tes_clock / tes_rng):" >&2
    sort -u "$offenders" >&2
    exit 1
fi
echo "no_wallclock: ok (no wall clock or private randomness under $SRC/ outside $ALLOWED)"
