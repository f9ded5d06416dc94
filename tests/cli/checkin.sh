#!/usr/bin/env bash
# CLI check-in test (ISO/IEC 18013-5 proximity presentation, issue 4): an authority issues a
# PID to a wallet key; a police bureau (reader-ca) licenses "Hotel Utopia" with the hotel
# scope; the wallet presents (QR engagement + TCP data channel, consent from a policy file,
# PIN through --pin-fd) to `reader checkin`, which ends with exactly the approved elements,
# verified. Declines, an expired or foreign reader certificate, a reader asking beyond its
# scope, the QR code as PNG, and the same check-in over NFC (pcscd + vpcd, started here by
# scripts/pcscd-test.sh; when pcscd cannot be started the NFC part FAILS).
# Needs: $TESSERA_BIN, node (JSON checks), cmp, setsid.
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
TESSERA_BIN=$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
PCSCD_DIR=""
WPID=""
cleanup() {
    if [[ -n $WPID ]]; then kill "$WPID" 2>/dev/null || true; fi
    if [[ -n $PCSCD_DIR ]]; then bash "$HERE/scripts/pcscd-test.sh" stop "$PCSCD_DIR" >/dev/null 2>&1 || true; fi
    rm -rf "$T"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
BAD_EXTRA=("$T/wallet.out" "$T/wallet.err") # the background wallet of a check-in
mode_is() {
    local m
    m=$(stat -c %a "$1")
    if [[ $m == "$2" ]]; then ok; else bad "mode of $1 is $m, want $2"; fi
}

# A loopback port nobody listens on.
free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "no free port" >&2
    return 1
}

# wallet_bg POLICY [ARGS...]: `wallet present --qr --tcp` in the background on a fresh port
# (PORT), PIN on fd 3; waits until it listens (the URI file appears) and sets URI.
wallet_bg() {
    local policy=$1
    shift
    local i attempt
    # another test may take the free port between free_port and our bind: try again then
    for attempt in 1 2 3 4 5; do
        PORT=$(free_port)
        rm -f "$T/uri.txt" "$T/wallet.out" "$T/wallet.err"
        "$TESSERA_BIN" wallet present --wallet "$W" --qr --tcp "127.0.0.1:$PORT" --policy "$policy" \
            --pin-fd 3 --uri-out "$T/uri.txt" --timeout 20 "$@" \
            3< <(printf '123456\n') >"$T/wallet.out" 2>"$T/wallet.err" &
        WPID=$!
        for i in $(seq 1 200); do
            [[ -s $T/uri.txt ]] && break
            kill -0 "$WPID" 2>/dev/null || break
            sleep 0.1
        done
        if [[ ! -s $T/uri.txt ]] && grep -q "Address already in use" "$T/wallet.err" 2>/dev/null; then
            wait "$WPID" 2>/dev/null || true
            continue
        fi
        break
    done
    URI=$(cat "$T/uri.txt" 2>/dev/null || true)
    if [[ $URI == mdoc:* ]]; then ok; else bad "wallet present did not start listening"; fi
}
# wallet_wait WANT NAME: waits for the background wallet and checks its exit status.
wallet_wait() {
    local rc=0
    wait "$WPID" || rc=$?
    WPID=""
    if [[ $rc == "$1" ]]; then ok; else bad "$2: wallet exit $rc, want $1"; fi
}

PID=eu.europa.ec.eudi.pid.1
W=$T/phone

# ---------------------------------------------------------------- help and usage
run 0 "reader-ca --help" tes reader-ca --help
grep_in "$T/out" "1.0.18013.5.1.6" "reader-ca --help names the reader EKU"
run 0 "reader checkin --help" tes reader checkin --help
grep_in "$T/out" "--portrait-out" "reader --help"
run 0 "wallet present --help" tes wallet present --help
grep_in "$T/out" "OUTSIDE THE READER'S" "wallet present --help explains scope"
run 0 "help reader-ca issue" tes help reader-ca issue
run 0 "help wallet trust-reader" tes help wallet trust-reader
run 0 "--help lists reader" tes --help
grep_in "$T/out" "reader-ca" "--help lists reader-ca"
run 2 "reader without subcommand" tes reader
run 2 "reader-ca unknown subcommand" tes reader-ca frob

# ---------------------------------------------------------------- authority, wallet, PID
run 0 "authority init" tes authority init --dir "$T/ministry" --name "Utopia Ministry" --country UT
run 0 "wallet init" tes wallet init --dir "$W"
run 0 "pin set" tes wallet pin set --wallet "$W" --pin-fd 3 3< <(printf '123456\n123456\n12345678\n12345678\n')
run 0 "keygen --uv" tes wallet keygen --wallet "$W" --uv --out "$T/dev.pem"
printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' |
    base64 -d >"$T/portrait.png"
cat >"$T/pid.json" <<'EOF2'
{"eu.europa.ec.eudi.pid.1": {
  "family_name": "Mustermann", "given_name": "Erika", "birth_date": "1984-01-26",
  "age_over_18": true, "issuing_authority": "Utopia", "issuing_country": "UT",
  "expiry_date": "2031-11-26", "nationality": "UT", "document_number": "UT-4711",
  "portrait": {"file": "portrait.png"}}}
EOF2
run 0 "issue PID" tes issue --authority "$T/ministry" --doctype $PID --claims "$T/pid.json" \
    --device-key "$T/dev.pem" --out "$T/pid.mdoc"
run 0 "wallet add" tes wallet add --wallet "$W" --mdoc "$T/pid.mdoc" --name "Utopia eID"

# ---------------------------------------------------------------- reader PKI
HOTEL_SCOPE=$PID/family_name,$PID/given_name,$PID/document_number,$PID/portrait,$PID/nationality,$PID/age_over_18
run 2 "reader-ca init without --name" tes reader-ca init --dir "$T/police"
run 0 "reader-ca init" tes reader-ca init --dir "$T/police" --name "Utopia Police Bureau"
mode_is "$T/police" 700
mode_is "$T/police/reader_ca_key.pem" 600
run 2 "reader-ca init twice" tes reader-ca init --dir "$T/police" --name "Utopia Police Bureau"
grep_in "$T/err" "refusing to overwrite" "reader-ca init twice message"
run 2 "reader-ca issue: bad scope" tes reader-ca issue --dir "$T/police" --name "Hotel Utopia" \
    --scope family_name --out "$T/x"
run 2 "reader-ca issue: not an authority" tes reader-ca issue --dir "$T/ministry" --name "Hotel Utopia" \
    --scope "$HOTEL_SCOPE" --out "$T/x"
run 0 "reader-ca issue" tes reader-ca issue --dir "$T/police" --name "Hotel Utopia" \
    --purpose "hotel registration" --scope "$HOTEL_SCOPE" --out "$T/hotel"
mode_is "$T/hotel/reader_key.pem" 600
if openssl x509 -in "$T/hotel/reader.pem" -noout -text >"$T/out" 2>"$T/err"; then ok; else bad "openssl reads reader.pem"; fi
grep_in "$T/out" "1.0.18013.5.1.6" "reader EKU"
grep_in "$T/out" "Digital Signature" "reader keyUsage"
no_grep_in "$T/out" "CA:TRUE" "reader is not a CA"
grep_in "$T/out" "1.3.6.1.4.1.59999.2.1" "reader scope extension"
grep_in "$T/out" "Authority Key Identifier" "reader AKI"
grep_in "$T/out" "Issuer: .*Utopia Police Bureau" "reader issued by the bureau"
run 0 "expired reader" tes reader-ca issue --dir "$T/police" --name "Hotel Utopia" \
    --scope "$HOTEL_SCOPE" --valid-from 2020-01-01T00:00:00Z --valid-until 2021-01-01T00:00:00Z \
    --out "$T/hotel_expired"
run 0 "rogue bureau" tes reader-ca init --dir "$T/rogue" --name "Rogue Bureau"
run 0 "foreign reader" tes reader-ca issue --dir "$T/rogue" --name "Hotel Utopia" \
    --scope "$HOTEL_SCOPE" --out "$T/hotel_foreign"
run 0 "wallet trust-reader" tes wallet trust-reader --wallet "$W" --root "$T/police/reader_ca.pem"
grep_in "$T/out" "Utopia Police Bureau" "trust-reader lists the bureau"
run 0 "wallet trust-reader again (no duplicate)" tes wallet trust-reader --wallet "$W" --root "$T/police/reader_ca.pem"
[[ $(grep -c "BEGIN CERTIFICATE" "$W/reader_roots.pem") == 1 ]] && ok || bad "reader_roots.pem holds one root"
run 1 "trust-reader refuses a leaf" tes wallet trust-reader --wallet "$W" --root "$T/hotel/reader.pem"

# ---------------------------------------------------------------- policies
cat >"$T/policy.json" <<EOF2
{"readers": [{"name": "Hotel Utopia", "authenticated": true,
              "allow": ["$PID/family_name", "$PID/given_name", "$PID/document_number",
                        "$PID/portrait", "$PID/age_over_18"],
              "deny": ["$PID/nationality"]}],
 "unauthenticated": "decline"}
EOF2
cat >"$T/decline.json" <<'EOF2'
{"readers": [{"name": "Some Other Hotel", "authenticated": true, "allow": "*"}],
 "unauthenticated": "decline"}
EOF2
cat >"$T/all.json" <<'EOF2'
{"readers": [{"name": "Hotel Utopia", "authenticated": true, "allow": "*"}],
 "unauthenticated": "decline"}
EOF2
READER=(tes reader checkin --reader "$T/hotel" --trust "$T/ministry/iaca.pem" --timeout 20)

# usage errors
run 2 "wallet present: --qr without --tcp" tes wallet present --wallet "$W" --qr --policy "$T/policy.json"
run 2 "wallet present: nothing" tes wallet present --wallet "$W"
run 2 "wallet present: --nfc with --tcp" tes wallet present --wallet "$W" --nfc --tcp 127.0.0.1:1
run 2 "reader: --qr without --tcp" "${READER[@]}" --qr mdoc:owBjMS4w
run 2 "reader: --tcp alone" "${READER[@]}" --tcp 127.0.0.1:1
run 1 "reader: not an engagement" "${READER[@]}" --qr "mdoc:xyz" --tcp 127.0.0.1:1

# ---------------------------------------------------------------- QR + TCP, consent by policy
wallet_bg "$T/policy.json"
grep_in "$T/wallet.out" "data channel: TCP 127.0.0.1:$PORT" "wallet prints the data channel"
run 0 "checkin over TCP" "${READER[@]}" --qr "$URI" --tcp "127.0.0.1:$PORT" --json \
    --portrait-out "$T/guest.png"
json "checkin valid" 'j.valid === true && j.error === null && j.documents.length === 1'
json "exactly the approved elements" '
    const e = j.documents[0].elements["eu.europa.ec.eudi.pid.1"];
    JSON.stringify(Object.keys(e).sort()) === JSON.stringify(
        ["age_over_18", "document_number", "family_name", "given_name", "portrait"])'
json "guest data" 'j.documents[0].elements["eu.europa.ec.eudi.pid.1"].family_name === "Mustermann"'
json "issuer is the ministry" 'j.documents[0].issuer.includes("Utopia Ministry")'
cp "$T/out" "$T/checkin.json"
wallet_wait 0 "wallet after checkin"
cmp -s "$T/guest.png" "$T/portrait.png" && ok || bad "--portrait-out holds the portrait"
mode_is "$T/guest.png" 600 # the guest's portrait is personal data
grep_in "$T/wallet.out" "Hotel Utopia (verified; licensed by" "wallet shows the verified reader"
grep_in "$T/wallet.out" "nationality" "wallet shows the requested nationality"
grep_in "$T/wallet.out" "disclosed 5 element(s) to Hotel Utopia (authenticated)" "wallet prints what it disclosed"
run 0 "wallet log" tes wallet log --wallet "$W" --json
json "log entry for Hotel Utopia" 'j.some(x => x.relyingParty.includes("Hotel Utopia") && x.outcome === "disclosed" && x.elements.length === 5)'

# the same, human output, engagement from the PNG of the QR code
wallet_bg "$T/policy.json" --qr-png "$T/qr.png"
[[ -s $T/qr.png ]] && ok || bad "--qr-png wrote the image"
mode_is "$T/qr.png" 600
run 0 "checkin from the QR PNG" "${READER[@]}" --qr-png "$T/qr.png" --tcp "127.0.0.1:$PORT"
grep_in "$T/out" "^VALID" "human verdict"
grep_in "$T/out" "family_name = \"Mustermann\"" "human output lists the guest"
no_grep_in "$T/out" "nationality" "nationality was not released"
wallet_wait 0 "wallet after PNG checkin"
[[ ! -e $T/guest2.png ]] && ok || bad "nothing written without --portrait-out"

# ---------------------------------------------------------------- declines
wallet_bg "$T/decline.json"
run 1 "declining policy" "${READER[@]}" --qr "$URI" --tcp "127.0.0.1:$PORT" --json
json "declined: session_ended" 'j.valid === false && j.error.code === "session_ended" && j.documents.length === 0'
wallet_wait 1 "wallet declining"
grep_in "$T/wallet.out" "declined" "wallet says it declined"

wallet_bg "$T/policy.json"
run 1 "expired reader certificate" tes reader checkin --reader "$T/hotel_expired" \
    --trust "$T/ministry/iaca.pem" --timeout 20 --qr "$URI" --tcp "127.0.0.1:$PORT" --json
json "expired reader: nothing disclosed" 'j.valid === false && j.error.code === "session_ended"'
wallet_wait 1 "wallet vs expired reader"
grep_in "$T/wallet.out" "could NOT be authenticated" "wallet warns about the expired reader"

wallet_bg "$T/policy.json"
run 1 "foreign reader certificate" tes reader checkin --reader "$T/hotel_foreign" \
    --trust "$T/ministry/iaca.pem" --timeout 20 --qr "$URI" --tcp "127.0.0.1:$PORT" --json
json "foreign reader: nothing disclosed" 'j.valid === false && j.error.code === "session_ended"'
wallet_wait 1 "wallet vs foreign reader"
grep_in "$T/wallet.out" "could NOT be authenticated" "wallet warns about the foreign reader"

# a reader asking beyond its scope: birth_date is not released, even with "allow": "*"
wallet_bg "$T/all.json"
run 0 "reader asking beyond scope" "${READER[@]}" --qr "$URI" --tcp "127.0.0.1:$PORT" --json \
    --elements family_name,birth_date
json "birth_date not released" '
    const e = j.documents[0].elements["eu.europa.ec.eudi.pid.1"];
    j.valid && e.family_name === "Mustermann" && !("birth_date" in e)'
wallet_wait 0 "wallet vs reader beyond scope"
grep_in "$T/wallet.out" "birth_date.*OUTSIDE THE READER'S PERMITTED SCOPE" "wallet flags the out-of-scope element"

# no policy and no terminal: nothing is released
for _attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    rm -f "$T/uri.txt"
    setsid -w "$TESSERA_BIN" wallet present --wallet "$W" --tcp "127.0.0.1:$PORT" --uri-out "$T/uri.txt" \
        --timeout 20 </dev/null >"$T/wallet.out" 2>"$T/wallet.err" &
    WPID=$!
    for _ in $(seq 1 200); do
        [[ -s $T/uri.txt ]] && break
        kill -0 "$WPID" 2>/dev/null || break
        sleep 0.1
    done
    grep -q "Address already in use" "$T/wallet.err" 2>/dev/null || break
    wait "$WPID" 2>/dev/null || true
done
run 1 "no terminal, no policy" "${READER[@]}" --qr "$(cat "$T/uri.txt")" --tcp "127.0.0.1:$PORT" --json
json "no terminal: session_ended" 'j.valid === false && j.error.code === "session_ended"'
wallet_wait 2 "wallet without terminal or policy"
grep_in "$T/wallet.err" "--policy" "no terminal message names --policy"

# ---------------------------------------------------------------- NFC through pcscd + vpcd
PCSCD_DIR=$T/pcscd
if [[ ! -f $HERE/scripts/pcscd-test.sh ]]; then
    bad "NFC: scripts/pcscd-test.sh is missing"
    PCSCD_DIR=""
elif ! bash "$HERE/scripts/pcscd-test.sh" start "$PCSCD_DIR" >"$T/out" 2>"$T/err"; then
    bad "NFC: pcscd could not be started (scripts/pcscd-test.sh start)"
    PCSCD_DIR=""
else
    ok
    rm -f "$T/wallet.out" "$T/wallet.err"
    "$TESSERA_BIN" wallet present --wallet "$W" --nfc --policy "$T/policy.json" --pin-fd 3 \
        --timeout 20 3< <(printf '123456\n') >"$T/wallet.out" 2>"$T/wallet.err" &
    WPID=$!
    run 0 "checkin over NFC" "${READER[@]}" --nfc --json
    json "NFC checkin valid" 'j.valid === true && j.documents.length === 1'
    json "NFC: exactly the approved elements" '
        const e = j.documents[0].elements["eu.europa.ec.eudi.pid.1"];
        JSON.stringify(Object.keys(e).sort()) === JSON.stringify(
            ["age_over_18", "document_number", "family_name", "given_name", "portrait"])'
    wallet_wait 0 "wallet over NFC"
    grep_in "$T/wallet.out" "disclosed 5 element(s) to Hotel Utopia" "NFC wallet output"
fi

finish
