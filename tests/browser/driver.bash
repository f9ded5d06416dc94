# The headless browser of driver.mjs as a bash co-process, for tests/browser/run.sh and
# scripts/demo.sh (sourced; needs node, the node_modules of this directory, and chromium).
#
#   browser_start SHOTS_DIR LOG    starts it; 1 (message in BROWSER_REPLY) if it cannot
#   browser CMD...                 one command; its JSON answer in BROWSER_REPLY; 1 on "error"
#   bget EXPR                      prints the JavaScript EXPR over r = JSON of BROWSER_REPLY
#   browser_stop                   quits it (also safe when it is not running)

BROWSER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BROWSER_NODE_PID=""
BROWSER_REPLY=""

browser_start() {
    local shots=$1 log=$2 line=""
    coproc BROWSER { exec node "$BROWSER_DIR/driver.mjs" --shots "$shots" 2>"$log"; }
    BROWSER_NODE_PID=$BROWSER_PID
    if ! read -r -t 120 line <&"${BROWSER[0]}"; then
        BROWSER_REPLY="the browser driver did not answer (see $log)"
        return 1
    fi
    BROWSER_REPLY=${line#* }
    [[ $line == "ok "* ]]
}

browser() {
    local line=""
    if [[ -z ${BROWSER[1]:-} ]]; then
        BROWSER_REPLY="the browser is not running"
        return 1
    fi
    printf '%s\n' "$*" >&"${BROWSER[1]}"
    # the driver bounds each of its waits itself; this bound only catches a hung driver
    if ! read -r -t 300 line <&"${BROWSER[0]}"; then
        BROWSER_REPLY="no answer from the browser driver to: $*"
        return 1
    fi
    BROWSER_REPLY=${line#* }
    [[ $line == "ok "* ]]
}

bget() {
    EXPR=$1 node -e 'const r = JSON.parse(process.argv[1]); console.log(eval(process.env.EXPR));' "$BROWSER_REPLY"
}

browser_stop() {
    if [[ -n ${BROWSER[1]:-} ]]; then
        printf 'quit\n' >&"${BROWSER[1]}" 2>/dev/null || true
    fi
    if [[ -n $BROWSER_NODE_PID ]]; then
        local i
        for i in $(seq 1 100); do
            kill -0 "$BROWSER_NODE_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$BROWSER_NODE_PID" 2>/dev/null || true
        wait "$BROWSER_NODE_PID" 2>/dev/null || true
    fi
    BROWSER_NODE_PID=""
}
