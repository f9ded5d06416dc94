# Shared by the CLI tests (sourced after $T, the scratch directory, and $TESSERA_BIN are set).
# Each check counts one pass or one failure; a failure prints its name and the last command's
# output ($T/out, $T/err, and the files named in BAD_EXTRA, e.g. a background wallet's logs).
# The script ends with `finish`: the counts, and its exit status.

pass=0
fail=0
BAD_EXTRA=()

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
    for f in "$T/out" "$T/err" "${BAD_EXTRA[@]}"; do
        if [[ -s $f ]]; then echo "    [$(basename "$f")]" >&2; sed 's/^/    | /' "$f" | head -30 >&2 || true; fi
    done
    return 0
}
# run WANT_RC NAME CMD...: CMD's output into $T/out and $T/err, its exit status must be WANT_RC
run() {
    local want=$1 name=$2
    shift 2
    local rc=0
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc == "$want" ]]; then ok; else bad "$name: exit $rc, want $want"; fi
}
# runfd WANT_RC NAME 'LINES' CMD... — like run, with LINES (printf format) on fd 3.
runfd() {
    local want=$1 name=$2 lines=$3
    shift 3
    local rc=0
    "$@" 3< <(printf "$lines") >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc == "$want" ]]; then ok; else bad "$name: exit $rc, want $want"; fi
}
grep_in() {
    if grep -q -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(basename "$1")"; fi
}
no_grep_in() {
    if grep -q -- "$2" "$1"; then bad "$3: '$2' in $(basename "$1")"; else ok; fi
}
# json NAME EXPR: the JavaScript EXPR over j = JSON of $T/out must be true
json() {
    if EXPR=$2 node -e '
        const fs = require("fs");
        const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
        const ok = eval(process.env.EXPR);
        if (!ok) { console.error("expression false: " + process.env.EXPR); process.exit(1); }
    ' "$T/out" 2>>"$T/err"; then ok; else bad "$1"; fi
}
# jget EXPR: prints the JavaScript EXPR over j = JSON of $T/out
jget() {
    EXPR=$1 node -e '
        const fs = require("fs");
        const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
        console.log(eval(process.env.EXPR));
    ' "$T/out"
}
tes() { "$TESSERA_BIN" "$@"; }
finish() {
    echo "$pass passed, $fail failed"
    [[ $fail == 0 ]]
}
