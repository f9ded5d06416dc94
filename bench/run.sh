#!/usr/bin/env bash
# Runs the whole benchmark and prints one table (called by `make bench`, i.e. the
# CMake target run-bench, with the two binaries as arguments):
#
#   bash bench/run.sh build/tessera_bench build/tessera_bench_heap
#
# 1. tessera_bench prepare: one DeviceResponse (+ transcript, IACA roots) in $TES_BENCH_DIR
# 2. bench/node/bench.mjs:  @auth0/mdl verifying that response (npm ci into bench/node/node_modules
#                           on first use; skipped with a note when node/npm are missing)
# 3. tessera_bench_heap:    peak heap of one verification at ~1 kB, 16 kB, 256 kB, 4 MB input
# 4. tessera_bench table:   all in-process measurements, printed with the results of 2 and 3;
#                           rows 7a and 9b/9c (NFC through vpcd) need pcscd: started here with
#                           scripts/pcscd-test.sh (as root), else the row says n/a
#
# Env: TES_BENCH_DIR (default: a temp dir), BENCH_NODE_SECONDS (default 3),
#      BENCH_SKIP_NODE=1 (no Node run).
set -euo pipefail
bench=${1:?usage: run.sh TESSERA_BENCH TESSERA_BENCH_HEAP}
heap=${2:?usage: run.sh TESSERA_BENCH TESSERA_BENCH_HEAP}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${TES_BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")}
mkdir -p "$dir"
rm -f "$dir/auth0.txt" "$dir/heap.txt"

[ -n "${TES_BENCH_WARN:-}" ] && echo "$TES_BENCH_WARN"
start=$(date +%s)

"$bench" prepare "$dir"

# --- @auth0/mdl ---------------------------------------------------------------
node_note=""
if [ "${BENCH_SKIP_NODE:-0}" = 1 ]; then
  node_note="skipped (BENCH_SKIP_NODE=1)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  node_note="node/npm not installed (scripts/deps.sh)"
else
  (
    cd "$here/node"
    if [ ! -f node_modules/.package-lock.json ] \
       || [ package-lock.json -nt node_modules/.package-lock.json ] \
       || [ ! -d node_modules/@auth0/mdl ]; then
      echo "bench: installing @auth0/mdl (npm ci into bench/node/node_modules)" >&2
      npm ci --no-audit --no-fund >&2
    fi
  ) || node_note="npm ci failed"
  if [ -z "$node_note" ]; then
    if ! node "$here/node/bench.mjs" --dir "$dir" --seconds "${BENCH_NODE_SECONDS:-3}" \
         >"$dir/auth0.txt" 2>"$dir/auth0.err"; then
      node_note="bench.mjs failed: $(head -c 300 "$dir/auth0.err")"
      rm -f "$dir/auth0.txt"
    fi
  fi
fi

# --- peak heap, one process per size --------------------------------------------
# portrait sizes chosen so the whole response is ~16 kB, ~256 kB, ~4 MB; "few" is the
# smallest response (2 elements, no portrait: ~1.3 kB, the DS certificate alone is ~0.6 kB)
for args in "0 few" "13400" "259000" "4190000"; do
  # shellcheck disable=SC2086
  "$heap" $args >>"$dir/heap.txt"
done

# --- pcscd + vpcd for the NFC row ---------------------------------------------------
pcscd_dir="$dir/pcscd"
if bash "$here/../scripts/pcscd-test.sh" start "$pcscd_dir" >"$dir/pcscd.out" 2>&1; then
  export TES_BENCH_NFC=1
  trap 'bash "$here/../scripts/pcscd-test.sh" stop "$pcscd_dir" >/dev/null 2>&1 || true' EXIT
else
  export TES_BENCH_NFC="pcscd-test.sh: $(tail -1 "$dir/pcscd.out" | cut -c1-60)"
fi

"$bench" table "$dir"
[ -n "$node_note" ] && echo "note: @auth0/mdl: $node_note"
echo "(benchmark took $(( $(date +%s) - start )) s; files in $dir)"
