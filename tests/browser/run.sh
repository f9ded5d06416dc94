#!/usr/bin/env bash
# End-to-end test of the demo website in a real browser (issue 13): Debian's headless Chromium,
# driven by puppeteer-core (driver.mjs), opens the "Log in with your eID" page that
# `tessera rp serve` serves, and `tessera wallet authorize` answers from the same machine.
#
#   site A: open the page -> log in -> the QR code and the wallet link are shown; a reload while
#     waiting keeps the same login; the wallet (policy: consent) answers the link read from the
#     DOM -> the page shows by itself "Logged in: over 18, your account at this site is P" with
#     P the pseudonym the wallet printed; the session cookie is HttpOnly and SameSite=Lax; a
#     reload keeps the login; log out; a second login -> the same P; the same-device flow (the
#     wallet link's same-device transaction, the wallet's redirect to /site/callback#response_code)
#     -> logged in as P again, the code gone from the address bar;
#   site B (another certificate, another port): the same wallet -> another pseudonym;
#   site A: the holder declines (policy) -> the page says so, also after a reload.
# A screenshot of each state goes to $BROWSER_ARTIFACTS (default: artifacts/browser beside
# $TESSERA_BIN); their paths are printed. No JavaScript error on the page is allowed.
#
# Needs: $TESSERA_BIN (CTest sets it), node + npm (puppeteer-core from package-lock.json via
# `npm ci`), Debian's chromium (or $CHROMIUM). Missing any of them is a failure, not a skip.
# Ports: two free ones from 18500-18549 (the web helper's range).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESSERA_BIN=${TESSERA_BIN:-build/tessera}
if [[ -x $TESSERA_BIN ]]; then
    TESSERA_BIN=$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")
fi
ART=${BROWSER_ARTIFACTS:-$(dirname "$TESSERA_BIN")/artifacts/browser}

early_fail() {
    echo "browser: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}
[[ -x $TESSERA_BIN ]] || early_fail "TESSERA_BIN=$TESSERA_BIN is not an executable (is the CLI built?)"
command -v node >/dev/null || early_fail "node is not installed (scripts/deps.sh)"
command -v npm >/dev/null || early_fail "npm is not installed (scripts/deps.sh)"
if [[ -z ${CHROMIUM:-} ]] && ! command -v chromium >/dev/null; then
    early_fail "chromium is not installed (scripts/deps.sh installs Debian's chromium)"
fi

# --- puppeteer-core, exactly as package-lock.json pins it (npm registry only) -----------------
if [[ ! -f $here/node_modules/.package-lock.json || $here/package-lock.json -nt $here/node_modules/.package-lock.json ||
    ! -d $here/node_modules/puppeteer-core ]]; then
    echo "browser: installing node dependencies (npm ci)"
    (cd "$here" && npm ci --no-audit --no-fund) || early_fail "npm ci failed"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/tessera-browser.XXXXXX")
SITE_PIDS=()
source "$here/driver.bash"
cleanup() {
    browser_stop
    local p
    for p in "${SITE_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [[ ${fail:-1} == 0 ]]; then rm -rf "$T"; else echo "browser: files kept in $T"; fi
}
trap cleanup EXIT
source "$here/../cli/lib.bash"
tes() { "$TESSERA_BIN" "$@"; }

# b NAME CMD...: one browser command that must succeed (its answer in BROWSER_REPLY); the
# scenario cannot go on without it: the test ends there
b() {
    local name=$1
    shift
    if browser "$@"; then ok; else
        bad "$name: browser $*: $BROWSER_REPLY"
        browser shot failed-here >/dev/null && echo "browser: the page at the failure: $ART/failed-here.png" >&2
        finish || true
        exit 1
    fi
}
# check NAME EXPR: the JavaScript EXPR over r = the last browser answer must be true
check() {
    if [[ $(bget "$2" 2>"$T/bget.err") == true ]]; then ok; else bad "$1: not ($2) in $BROWSER_REPLY"; fi
}
SHOTS=()
shot() {
    if browser shot "$1"; then
        ok
        SHOTS+=("$(bget r.path)")
    else bad "screenshot $1: $BROWSER_REPLY"; fi
}
# a free loopback port of this test's range
free_port() {
    local p
    for p in $(seq "${1:-18500}" 18549); do
        if ! (exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
# serve NAME DIR PORT [ARGS...]: `tessera rp serve` in the background until its port file appears
serve() {
    local name=$1 dir=$2 port=$3 i
    shift 3
    rm -f "$T/$name.port"
    "$TESSERA_BIN" rp serve --dir "$dir" --trust "$T/auth/iaca.pem" --listen "127.0.0.1:$port" \
        --port-file "$T/$name.port" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    SITE_PIDS+=($!)
    for i in $(seq 1 200); do
        [[ -s $T/$name.port ]] && break
        kill -0 "${SITE_PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -s $T/$name.port ]]; then ok; else
        BAD_EXTRA=("$T/$name.err")
        bad "rp serve $name did not start"
        BAD_EXTRA=()
        return 1
    fi
}
stop_site() { # PID
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
# authorize NAME WANT_RC POLICY URL: the wallet answers URL; output in $T/out, $T/err
authorize() {
    run "$2" "$1" tes wallet authorize --wallet "$T/phone" --policy "$3" --pin-file "$T/pin" \
        --allow-loopback-http --timeout 20 "$4"
}

PID=eu.europa.ec.eudi.pid.1
B64URL43='^[A-Za-z0-9_-]{43}$'

# --- the authority, the wallet with a PID (six single-use copies), the sites ------------------
run 0 "authority init" tes authority init --dir "$T/auth" --country UT --name Utopia
cat >"$T/pid.json" <<EOF
{"$PID": {"family_name": "Mustermann", "given_name": "Erika", "birth_date": "1984-01-26",
  "age_over_18": true, "issuing_authority": "Utopia", "issuing_country": "UT",
  "expiry_date": "2031-11-26", "nationality": "UT"}}
EOF
run 0 "wallet init" tes wallet init --dir "$T/phone"
runfd 0 "pin set" '123456\n123456\n12345678\n12345678\n' tes wallet pin set --wallet "$T/phone" --pin-fd 3
printf '123456\n' >"$T/pin"
copies=()
for i in 1 2 3 4 5 6; do
    run 0 "keygen $i" tes wallet keygen --wallet "$T/phone" --uv --out "$T/k$i.pem"
    key=$(head -1 "$T/out")
    run 0 "issue copy $i" tes issue --authority "$T/auth" --doctype $PID --claims "$T/pid.json" \
        --wallet "$T/phone" --key "$key" --out "$T/pid$i.mdoc"
    copies+=(--mdoc "$T/pid$i.mdoc")
done
run 0 "wallet add" tes wallet add --wallet "$T/phone" "${copies[@]}" --name "Utopia eID"

run 0 "reader-ca init" tes reader-ca init --dir "$T/rpca" --name "Utopia Web Licensing"
for s in A B; do
    run 0 "site $s certificate" tes reader-ca issue --dir "$T/rpca" --name "Shop $s" \
        --purpose "age check" --scope "$PID/age_over_18" --dns localhost --out "$T/cert$s"
done
run 0 "wallet trusts the licensing authority" tes wallet trust-reader --wallet "$T/phone" \
    --root "$T/rpca/reader_ca.pem"
cat >"$T/allow.json" <<'EOF'
{"readers": [{"name": "*", "allow": "*"}]}
EOF
cat >"$T/decline.json" <<'EOF'
{"readers": [{"name": "*", "deny": "*"}]}
EOF

PA=$(free_port 18500) || early_fail "no free port in 18500-18549"
PB=$(free_port $((PA + 1))) || early_fail "no free port in 18500-18549"
PC=$(free_port $((PB + 1))) || early_fail "no free port in 18500-18549"
A="http://localhost:$PA"
B="http://localhost:$PB"
C="http://localhost:$PC"
run 0 "rp init A" tes rp init --dir "$T/siteA" --cert "$T/certA/reader.pem" \
    --key-file "$T/certA/reader_key.pem" --public-url "$A" --name "Shop A"
run 0 "rp init B" tes rp init --dir "$T/siteB" --cert "$T/certB/reader.pem" \
    --key-file "$T/certB/reader_key.pem" --public-url "$B" --name "Shop B"
serve A "$T/siteA" "$PA" --status off || { finish; exit 1; }
PID_A=${SITE_PIDS[-1]}
serve B "$T/siteB" "$PB" --status off || { finish; exit 1; }
# site C: B's certificate on another port, its logins expire after 10 s (the shortest allowed)
run 0 "rp init C" tes rp init --dir "$T/siteC" --cert "$T/certB/reader.pem" \
    --key-file "$T/certB/reader_key.pem" --public-url "$C" --name "Shop C"
serve C "$T/siteC" "$PC" --status off --tx-lifetime 10 || { finish; exit 1; }

# --- the browser --------------------------------------------------------------------------
rm -rf "$ART"
mkdir -p "$ART"
if browser_start "$ART" "$T/driver.err"; then ok; else
    BAD_EXTRA=("$T/driver.err")
    bad "the browser did not start: $BROWSER_REPLY"
    finish
    exit 1
fi
echo "browser: $(bget r.browser) ($(bget r.chromium))"

# login_with_wallet NAME POLICY WANT_RC [LINK]: the wallet answers LINK (default: the link of
# the last browser answer, read from the DOM); WALLET_PSEUDONYM is what it printed
login_with_wallet() {
    local link=${4:-}
    [[ -n $link ]] || link=$(bget r.link)
    WALLET_PSEUDONYM=""
    authorize "$1: wallet authorize" "$3" "$2" "$link"
    WALLET_PSEUDONYM=$(sed -n 's/^pseudonym: *//p' "$T/out")
}

# --- site A: first login ------------------------------------------------------------------
b "open A" open "$A/"
b "start page" wait start
check "start page: the login button" 'r.title === "Log in with your eID" && r.link === null'
shot 01-start
b "click log in" click login
b "waiting page" wait waiting
check "waiting: the wallet link" '/^openid4vp:\/\/\?client_id=x509_san_dns%3Alocalhost&request_uri=http%3A%2F%2Flocalhost%3A'"$PA"'%2Foid4vp%2Frequest%2F/.test(r.link)'
check "waiting: the QR code, nothing active in it" 'r.qr === true && r.qrActive === false'
check "waiting: the status says so" '/Waiting for your wallet/.test(r.status)'
FIRST_LINK=$(bget r.link)
shot 02-waiting
b "reload while waiting" reload
b "still waiting after the reload" wait waiting
check "the reload keeps the login (no new code)" 'r.link === null || r.link === '"'$FIRST_LINK'"
shot 03-waiting-after-reload
login_with_wallet "login 1" "$T/allow.json" 0 "$FIRST_LINK"
grep_in "$T/out" "^disclosed: $PID/age_over_18" "login 1: age_over_18 disclosed"
P1=$WALLET_PSEUDONYM
[[ $P1 =~ $B64URL43 ]] && ok || bad "login 1: the wallet printed no pseudonym ('$P1')"
b "logged in by itself" wait logged_in
check "logged in: the line" 'r.accountLine === "Logged in: over 18, your account at this site is '"$P1"'"'
check "logged in: over 18" 'r.age === "over 18"'
check "logged in: the pseudonym" 'r.account === "'"$P1"'"'
shot 04-logged-in
b cookies cookies
check "session cookie HttpOnly, SameSite=Lax" 'r.some((c) => c.name === "tessera_session" && c.httpOnly && c.sameSite === "Lax")'
check "no cookie readable by scripts" 'r.every((c) => c.httpOnly)'
b "reload when logged in" reload
b "still logged in after the reload" wait logged_in
check "the same account after the reload" 'r.account === "'"$P1"'"'
shot 05-logged-in-after-reload
b "log out" click logout
b "logged out" wait start
check "logged out: said" '/logged out/.test(r.status)'
shot 06-logged-out
b "reload when logged out" reload
b "still logged out after the reload" wait start

# --- site A: second login, same pseudonym -------------------------------------------------
b "second login" click login
b "second login waiting" wait waiting
check "a new transaction" 'r.link !== '"'$FIRST_LINK'"
login_with_wallet "login 2" "$T/allow.json" 0
b "second login: logged in" wait logged_in
check "second login: the same pseudonym" 'r.account === "'"$P1"'"'
[[ $WALLET_PSEUDONYM == "$P1" ]] && ok || bad "login 2: the wallet printed another pseudonym"

# --- site A: the same-device flow (the wallet sends the browser back with a response code) ----
b "log out before same-device" click logout
b "logged out before same-device" wait start
b "same-device: log in" click login
b "same-device: waiting" waitlink cross_device
b "same-device: open the wallet" click wallet-link
b "same-device: the same-device transaction" waitlink same_device
login_with_wallet "same-device" "$T/allow.json" 0
REDIRECT=$(sed -n 's/^redirect: *//p' "$T/out")
[[ $REDIRECT == "$A/site/callback#response_code="* ]] && ok || bad "same-device: redirect '$REDIRECT'"
b "same-device: the wallet opens a new tab" newtab
b "same-device: back in the browser" open "$REDIRECT"
b "same-device: logged in" wait logged_in
check "same-device: the same pseudonym" 'r.account === "'"$P1"'"'
check "same-device: the code is gone from the address bar" 'r.url === "'"$A/"'"'
shot 07-same-device-logged-in

# --- site B: another certificate, another pseudonym ---------------------------------------
b "open B" open "$B/"
b "B: start page" wait start
b "B: log in" click login
b "B: waiting" wait waiting
check "B: the link names site B" 'r.link.includes("localhost%3A'"$PB"'%2F")'
login_with_wallet "login B" "$T/allow.json" 0
PB_PSEUD=$WALLET_PSEUDONYM
b "B: logged in" wait logged_in
check "B: a pseudonym" '/^[A-Za-z0-9_-]{43}$/.test(r.account)'
check "B: not site A's pseudonym" 'r.account !== "'"$P1"'"'
[[ $PB_PSEUD != "$P1" && $PB_PSEUD =~ $B64URL43 ]] && ok || bad "B: the wallet printed '$PB_PSEUD' (A: $P1)"
shot 08-site-b-logged-in

# --- site A: the holder declines ----------------------------------------------------------
# (both sites are "localhost": cookies do not tell ports apart, so B's session cookie replaced
# A's, and A shows its start page, or its account when it is still there)
b "back to A" open "$A/"
b "A: loaded" wait start,logged_in
if [[ $(bget r.state) == logged_in ]]; then
    b "A: log out" click logout
    b "A: logged out" wait start
fi
b "declined: log in" click login
b "declined: waiting" wait waiting
login_with_wallet "declined" "$T/decline.json" 1
grep_in "$T/err" "access_denied" "declined: the site was told access_denied"
b "declined: shown by itself" wait declined
check "declined: the message" '/declined/.test(r.resultTitle) && /Nothing was shared/.test(r.resultDetail)'
shot 09-declined
b "declined: reload" reload
b "declined: still shown after the reload" wait declined

# --- site C: a login nobody answers expires, and the page says so by itself ---------------------
b "expired: open C" open "$C/"
b "expired: C loaded" wait start,logged_in
if [[ $(bget r.state) == logged_in ]]; then
    b "expired: log out" click logout
    b "expired: logged out" wait start
fi
b "expired: log in" click login
b "expired: waiting" wait waiting
b "expired: shown by itself" wait expired 60
check "expired: the message" '/expired/i.test(r.resultTitle)'
shot 10-expired
b "expired: reload" reload
b "expired: still shown after the reload" wait expired

# --- no JavaScript error on the page at any time ---------------------------------------------
b "page errors" info
check "no JavaScript errors" 'r.errors.length === 0'

echo "browser: screenshots:"
for s in "${SHOTS[@]}"; do echo "  $s"; done
finish
