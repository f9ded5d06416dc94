#!/usr/bin/env bash
# One source of truth for the command line (tools/tessera/commands.c): the committed man page
# is the one the table generates, every command main.c and the command groups dispatch has an
# entry, every option of the table is accepted by its command and shown in its --help and
# synopsis, and every case of a command's getopt switch is an option of its table (and back).
# Needs: $TESSERA_BIN, groff.
set -euo pipefail

TESSERA_BIN=$(realpath "${TESSERA_BIN:-build/tessera}")
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

# ---------------------------------------------------------------- the man page
run 0 "tessera --man" tes --man
if diff -u "$SRC/docs/tessera.1" "$T/out" >"$T/diff"; then
    ok
else
    cp "$T/diff" "$T/err"
    bad "docs/tessera.1 differs from 'tessera --man' (regenerate: cmake --build build --target man)"
fi
# the page is well-formed roff (groff warns about unknown requests, bad escapes, ...)
if groff -man -ww -z "$SRC/docs/tessera.1" 2>"$T/err" && [[ ! -s $T/err ]]; then ok; else bad "groff warns about docs/tessera.1"; fi
grep_in "$SRC/docs/tessera.1" "^\.SH OPTIONS" "the man page has an OPTIONS section"
for sec in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES; do
    grep_in "$SRC/docs/tessera.1" "^\.SH \"\?$sec" "the man page has $sec"
done

# ---------------------------------------------------------------- the table
run 0 "tessera --spec" tes --spec
cp "$T/out" "$T/spec"
mapfile -t COMMANDS < <(sed -n 's/^command //p; s/^alias //p' "$T/spec")
(( ${#COMMANDS[@]} > 20 )) && ok || bad "--spec lists only ${#COMMANDS[@]} commands"
declare -A KNOWN=()
for c in "${COMMANDS[@]}"; do KNOWN[$c]=1; done
known() { [[ -n ${KNOWN[$1]:-} ]]; }

# every command dispatched has an entry: main.c's top level, the subcommand tables of the
# command groups, and the subcommands they compare by name
while read -r top; do
    if known "$top"; then ok; else bad "main.c dispatches '$top', not in the table"; fi
done < <(sed -n '/DISPATCH\[\] = {/,/^};/p' "$SRC/tools/tessera/main.c" | grep -o '{"[a-z-]*", cmd_' | cut -d'"' -f2)
for pair in authority:cmd_authority.c wallet:cmd_wallet.c; do
    group=${pair%%:*} file=${pair#*:}
    while read -r sub; do
        if known "$group $sub"; then ok; else bad "$file dispatches '$group $sub', not in the table"; fi
    done < <(sed -n '/subs\[\] = {/,/};/p' "$SRC/tools/tessera/$file" | grep -o '{"[a-z-]*", cmd_' | cut -d'"' -f2)
done
for pair in authority:cmd_authority.c reader-ca:cmd_reader_ca.c reader:cmd_reader.c vendor:cmd_vendor.c; do
    group=${pair%%:*} file=${pair#*:}
    while read -r sub; do
        if known "$group $sub"; then ok; else bad "$file dispatches '$group $sub', not in the table"; fi
    done < <(grep -o 'strcmp(argv\[1\], "[a-z-]*")' "$SRC/tools/tessera/$file" | cut -d'"' -f2 | grep -v '^help$\|^-')
done

# every command's help, reached both ways
for c in "${COMMANDS[@]}"; do
    read -ra words <<<"$c"
    run 0 "tessera $c --help" tes "${words[@]}" --help
    grep_in "$T/out" "^usage: " "tessera $c --help prints a usage"
    if [[ $c == *" "* ]]; then
        run 0 "tessera help $c" tes help "${words[@]}"
        grep_in "$T/out" "^usage: " "tessera help $c prints a usage"
    fi
done

# every option: in the command's synopsis and option list, and accepted by the command (the
# value "" only gets it as far as the command's own checks, which refuse it or a missing one)
declare -A HELP_OF=()
while IFS=$'\t' read -r head rest; do
    c=${head#option }
    read -r long kind short val <<<"$rest"
    read -ra words <<<"$c"
    if [[ -z ${HELP_OF[$c]:-} ]]; then
        tes "${words[@]}" --help >"$T/help.$val" 2>/dev/null || true
        HELP_OF[$c]=$(cat "$T/help.$val")
    fi
    help=${HELP_OF[$c]}
    synopsis=$(sed '/^$/q' <<<"$help")
    if grep -q -- "$long\b" <<<"$synopsis"; then ok; else bad "$c: $long not in its synopsis"; fi
    if grep -qE -- "^  (-., )?$long( |$)" <<<"$help"; then ok; else bad "$c: $long not in its options"; fi
    args=("${words[@]}")
    [[ $c == "wallet pin" ]] && args+=(set)
    forms=("$long")
    if [[ $short != - ]]; then
        forms+=("-$short")
        # getopt returns the letter itself: it must be the case the switch handles
        if [[ $short == "$val" ]]; then ok; else bad "$c: -$short is not the value of $long ($val)"; fi
    fi
    for form in "${forms[@]}"; do
        value=()
        [[ $kind == required ]] && value=("")
        rc=0
        (cd "$T" && HOME=$T timeout 20 "$TESSERA_BIN" "${args[@]}" "$form" "${value[@]}" \
            </dev/null >"$T/out" 2>"$T/err") || rc=$?
        if [[ $rc == 0 || $rc == 1 || $rc == 2 ]] && ! grep -q "unknown option\|needs a value" "$T/err"; then
            ok
        else
            bad "$c $form: not accepted (exit $rc)"
        fi
    done
done < <(grep '^option ' "$T/spec")

# an option no command has is refused, as before
run 2 "unknown option" tes wallet enrol --no-such-option
grep_in "$T/err" "unknown option '--no-such-option'" "the unknown option is named"
run 2 "an option of another subcommand" tes wallet list --wallet x --pin-fd 3
grep_in "$T/err" "unknown option '--pin-fd'" "wallet list has no --pin-fd"
run 2 "--json where the table has none" tes wallet pin set --wallet x --json
grep_in "$T/err" "unknown option '--json'" "wallet pin has no --json"
run 2 "pin status reads no PIN" tes wallet pin status --wallet x --pin-fd 3
grep_in "$T/err" "unknown option '--pin-fd'" "wallet pin status has no --pin-fd"

# every switch over a table's options handles exactly the table's options: for each
# cli_getopt_for("NAME", ...) the cases up to the end of the function
for f in "$SRC"/tools/tessera/cmd_*.c; do
    while IFS=: read -r line name; do
        cases=$(awk -v from="$line" 'NR > from && /^}/ { exit } NR > from' "$f" |
            { grep -o "case '.'" || true; } | cut -d"'" -f2 | { grep -v '^[h:?]$' || true; } |
            sort -u | tr -d '\n')
        table=$(awk -F'\t' -v c="option $name" '$1 == c' "$T/spec" | awk '{ print $NF }' | sort -u | tr -d '\n')
        if [[ $cases == "$table" ]]; then ok; else bad "$(basename "$f"):$line $name: switch handles '$cases', table has '$table'"; fi
    done < <(grep -n 'cli_getopt_for("' "$f" | sed 's/^\([0-9]*\):.*cli_getopt_for("\([^"]*\)".*/\1:\2/')
done

finish
