#!/usr/bin/env bash
# The Tessera story so far, played with the `tessera` tool: an authority issues an eID (PID)
# to a phone whose wallet keeps the key in its (software) secure element, the phone shows part
# of it to a hotel's front-desk reader after the holder's PIN, the reader verifies it offline,
# and a tampered copy is rejected; then the real offline check-in: the police bureau licenses the
# hotel's reader, the phone shows a QR code and waits, the front-desk reader takes it, and the
# two run an encrypted ISO 18013-5 session with reader authentication and the holder's consent.
# Then the lost phone: the Ministry runs its OpenID4VCI service on loopback, enrols the citizen,
# the wallet obtains its eID over the network (three single-use copies, keys attested by the
# chip maker), the hotel checks the eID's status list at check-in; the citizen reports the phone
# lost from a laptop with the recovery code given at enrolment, the Ministry's service suspends
# every credential on that phone, and the hotel reader, once it refreshes its list, rejects it.
# Online, a wine shop's website (its verifier service `tessera rp serve`, its page in headless
# Chromium) logs the citizen in with "over 18" and a pseudonym for that site alone (OpenID4VP);
# after the loss the same login is refused because the eID is suspended. Screenshots of the
# page go to $DEMO_SHOTS (default build/artifacts/demo); their paths are printed.
#
#   make demo                      (builds first; binary build/tessera)
#   TESSERA_BIN=/path/to/tessera bash scripts/demo.sh
#
# Needs xxd, and for the website node, npm and chromium (scripts/deps.sh installs them; the
# browser's node modules come from npm the first time). Exits non-zero if any step fails.
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
if [[ ! -x $TESSERA_BIN ]]; then
    echo "demo: $TESSERA_BIN not found; run 'make build' or set TESSERA_BIN" >&2
    exit 1
fi
for tool in xxd; do
    command -v "$tool" >/dev/null || { echo "demo: needs $tool" >&2; exit 1; }
done

TESSERA_BIN=$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO_SHOTS=${DEMO_SHOTS:-$REPO/build/artifacts/demo}
mkdir -p "$DEMO_SHOTS"
DEMO_SHOTS=$(cd "$DEMO_SHOTS" && pwd)
W=$(mktemp -d)
WALLET_PID=""
ISSUER_PID=""
SHOP_PID=""
LOCK_PID=""
PCSCD_DIR=""
# shellcheck source=tests/browser/driver.bash
source "$REPO/tests/browser/driver.bash"
cleanup() {
    browser_stop
    if [[ -n $WALLET_PID ]]; then kill "$WALLET_PID" 2>/dev/null || true; fi
    if [[ -n $ISSUER_PID ]]; then kill "$ISSUER_PID" 2>/dev/null || true; fi
    if [[ -n $SHOP_PID ]]; then kill "$SHOP_PID" 2>/dev/null || true; fi
    if [[ -n $LOCK_PID ]]; then kill "$LOCK_PID" 2>/dev/null || true; fi
    if [[ -n $PCSCD_DIR ]]; then bash "$REPO/scripts/pcscd-test.sh" stop "$PCSCD_DIR" >/dev/null 2>&1 || true; fi
    rm -rf "$W"
}
trap cleanup EXIT
cd "$W" # short relative paths in what is shown

if [[ -t 1 ]]; then B=$'\033[1m' N=$'\033[0m'; else B='' N=''; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
say() { printf '   %s\n' "$*"; }
# show CMD ARGS...: prints the command (shell-quoted) and its indented output; fails with it
show() {
    local shown='' a rc=0
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:,=@+-]+$ ]]; then shown+=" $a"; else shown+=" '$a'"; fi
    done
    printf '   $%s\n' "$shown"
    "$@" >".out" 2>&1 || rc=$?
    sed 's/^/     /' ".out"
    return $rc
}
# show_id CMD ARGS...: like show, for commands that print an id on standard output (the key
# id of 'wallet keygen', the credential id of 'wallet add'); the id is left in $ID
show_id() {
    local shown='' a rc=0
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:,=@+-]+$ ]]; then shown+=" $a"; else shown+=" '$a'"; fi
    done
    printf '   $%s\n' "$shown"
    "$@" >".stdout" 2>".stderr" || rc=$?
    cat ".stderr" ".stdout" | sed 's/^/     /'
    ID=$(head -1 ".stdout")
    return $rc
}
tessera() { "$TESSERA_BIN" "$@"; }

step "1. The Ministry creates its authority (IACA root + document signer)"
say "The root key signs only the document signer's certificate; the document signer signs credentials."
show tessera authority init --dir "ministry" --name "Utopia Ministry of Interior" --country UT

step "2. The phone's wallet: a secure element holds the keys, a PIN guards them"
say "A chip maker's root certifies the phone's secure element (here the built-in software one),"
say "so that an issuer can check that a key really lives in it."
show tessera vendor init --dir "chipmaker" --name "Utopia Chip Works"
show tessera wallet init --dir "phone" --vendor "chipmaker"
say "The holder chooses a PIN and a PUK. In this script the prompts are answered from file"
say "descriptor 3 (PIN, PIN again, PUK, PUK again); on a terminal they are typed without echo:"
say "\$ exec 3< <(printf '123456\\n123456\\n12345678\\n12345678\\n')"
exec 3< <(printf '123456\n123456\n12345678\n12345678\n')
show tessera wallet pin set --wallet "phone" --pin-fd 3
say "PIN prompt answered by the script."
exec 3<&-
say "The wallet creates the eID's key in the secure element: every use needs the PIN (--uv),"
say "and the key is attested for the Ministry's challenge."
show_id tessera wallet keygen --wallet "phone" --uv --attest --challenge 4d696e6973747279 \
    --out "phone_pub.pem" --attestation-out "phone_key.att"
KEY_ID=$ID
say "Key $KEY_ID: only its public half (phone_pub.pem) and its attestation leave the phone."

step "3. After identity proofing, the Ministry issues a PID eID to the phone"
# a 1x1 PNG standing in for the portrait photo
printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' |
    base64 -d >"portrait.png"
cat >"claims.json" <<'EOF'
{"eu.europa.ec.eudi.pid.1": {
  "family_name": "Mustermann",
  "given_name": "Erika",
  "birth_date": "1984-01-26",
  "age_over_18": true,
  "age_over_21": true,
  "issuing_authority": "Utopia Ministry of Interior",
  "issuing_country": "UT",
  "expiry_date": "2031-12-31",
  "issuance_date": "2026-01-01",
  "document_number": "UT-4711-0815",
  "nationality": "UT",
  "portrait": {"file": "portrait.png"}
}}
EOF
say "claims.json: name, birth date, age_over_18/21, document number, nationality, portrait, ..."
say "Before binding, the Ministry checks that the key lives in a secure element it accepts"
say "(the chip maker's root), answers its challenge, and needs the PIN:"
show tessera issue --authority "ministry" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "claims.json" --device-key "phone_pub.pem" \
    --attestation "phone_key.att" --vendor-root "chipmaker/vendor.pem" \
    --challenge 4d696e6973747279 --require-uv --out "pid.mdoc"
say "Each element is salted and only its digest is signed, so the phone can show any subset."
say "The wallet stores it; it finds the key the credential is bound to by itself:"
show_id tessera wallet add --wallet "phone" --mdoc "pid.mdoc" --name "Utopia eID"
CRED=$ID

step "4. Hotel check-in: reader and phone agree on a session transcript"
say "(Engagement and session encryption come later; here a fixed transcript binds the answer"
say " to this one session: [null, null, [\"tessera-demo\", h'0102030405060708']].)"
echo 83f6f6826c74657373657261 2d64656d6f 480102030405060708 | xxd -r -p >"transcript.cbor"
show tessera inspect "transcript.cbor"

step "5. The front desk asks for name, portrait and age over 18; the holder consents with the PIN"
say "\$ exec 3< <(printf '123456\\n')"
exec 3< <(printf '123456\n')
show tessera present --wallet "phone" --credential "$CRED" --pin-fd 3 \
    --elements family_name,given_name,portrait,age_over_18 \
    --transcript "transcript.cbor" --out "response.cbor"
exec 3<&-
say "PIN prompt answered by the script; the secure element signed the response."
say "The birth date, document number and the rest never leave the phone."

step "6. The reader verifies offline: trusted root, issuer signature, digests, device signature"
show tessera verify --trust "ministry/iaca.pem" --transcript "transcript.cbor" "response.cbor"
say "The same verdict as JSON, for programs:"
show tessera verify --trust "ministry/iaca.pem" --transcript "transcript.cbor" --json "response.cbor"

step "7. A tampered response is rejected"
say "Flip one bit inside the disclosed portrait..."
cp "response.cbor" "tampered.cbor"
# the PNG's IDAT chunk starts 33 bytes into the file: find it in the response and change a byte
needle=$(xxd -p -s 33 -l 12 "portrait.png" | tr -d '\n')
hay=$(xxd -p "response.cbor" | tr -d '\n')
prefix=${hay%%"$needle"*}
if [[ $prefix == "$hay" ]]; then
    echo "demo: the portrait was not found in the response" >&2
    exit 1
fi
off=$((${#prefix} / 2 + 6))
orig=$(xxd -p -s "$off" -l 1 "tampered.cbor")
printf '%02x' $((0x$orig ^ 0x01)) | xxd -r -p | dd of="tampered.cbor" bs=1 seek="$off" conv=notrunc status=none
rc=0
printf '   $ tessera verify ... tampered.cbor\n'
"$TESSERA_BIN" verify --trust "ministry/iaca.pem" --transcript "transcript.cbor" \
    "tampered.cbor" >"out" 2>&1 || rc=$?
sed 's/^/     /' "out"
if [[ $rc != 1 ]] || ! grep -q '^INVALID: digest_mismatch' "out"; then
    echo "demo: the tampered response was not rejected as expected (exit $rc)" >&2
    exit 1
fi
say "Rejected (exit status 1): the portrait no longer matches the digest the Ministry signed."

step "8. A response replayed into another session is rejected"
echo 83f6f6826c74657373657261 2d64656d6f 48ffffffffffffffff | xxd -r -p >"other_transcript.cbor"
rc=0
printf '   $ tessera verify --transcript other_transcript.cbor ... response.cbor\n'
"$TESSERA_BIN" verify --trust "ministry/iaca.pem" --transcript "other_transcript.cbor" \
    "response.cbor" >"out" 2>&1 || rc=$?
sed 's/^/     /' "out"
if [[ $rc != 1 ]] || ! grep -q '^INVALID: device_signature' "out"; then
    echo "demo: the replayed response was not rejected as expected (exit $rc)" >&2
    exit 1
fi
say "Rejected: the device signature covers the session transcript."

step "9. The holder looks into the wallet: what it holds, and to whom it showed what"
show tessera wallet list --wallet "phone"
show tessera wallet log --wallet "phone"

step "10. Hotel check-in, offline: the phone shows a QR code, the front desk reads it"
say "The police bureau licenses readers: a hotel's reader certificate says who it is and what"
say "it may ask for (its scope), so the phone can tell the guest."
show tessera reader-ca init --dir "police" --name "Utopia Police Bureau"
PID_NS=eu.europa.ec.eudi.pid.1
show tessera reader-ca issue --dir "police" --name "Hotel Utopia" --purpose "hotel registration" \
    --scope "$PID_NS/family_name,$PID_NS/given_name,$PID_NS/document_number,$PID_NS/portrait,$PID_NS/nationality,$PID_NS/age_over_18" \
    --out "hotel"
say "The wallet trusts the bureau's root for reader authentication:"
show tessera wallet trust-reader --wallet "phone" --root "police/reader_ca.pem"
cat >"policy.json" <<EOF
{"readers": [{"name": "Hotel Utopia", "authenticated": true,
              "allow": ["$PID_NS/family_name", "$PID_NS/given_name", "$PID_NS/document_number",
                        "$PID_NS/portrait", "$PID_NS/nationality", "$PID_NS/age_over_18"]}],
 "unauthenticated": "decline"}
EOF
say "On a phone the holder sees who asks for what and answers a prompt; in this script the"
say "holder's consent comes from a policy file (policy.json: share the hotel set with an"
say "authenticated \"Hotel Utopia\", decline anyone unauthenticated) and the PIN from fd 3."
# a free loopback port for the phone's data channel
PORT=""
for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[[ -n $PORT ]] || { echo "demo: no free loopback port" >&2; exit 1; }
say "The phone (a separate process, in the background) makes a fresh session key, shows the"
say "engagement as a QR code, and waits for the reader on 127.0.0.1:$PORT:"
printf '   $ tessera wallet present --wallet phone --qr --tcp 127.0.0.1:%s --policy policy.json \\\n' "$PORT"
printf '         --pin-fd 3 --uri-out uri.txt --timeout 15 3< <(printf %s) &\n' "'123456\n'"
"$TESSERA_BIN" wallet present --wallet "phone" --qr --tcp "127.0.0.1:$PORT" --policy "policy.json" \
    --pin-fd 3 --uri-out "uri.txt" --timeout 15 3< <(printf '123456\n') >"wallet.log" 2>&1 &
WALLET_PID=$!
for _ in $(seq 1 100); do
    [[ -s uri.txt ]] && break
    kill -0 "$WALLET_PID" 2>/dev/null || break
    sleep 0.1
done
if [[ ! -s uri.txt ]]; then
    sed 's/^/     /' "wallet.log"
    echo "demo: the phone did not start" >&2
    exit 1
fi
sed 's/^/     /' "wallet.log"
shown_lines=$(wc -l <"wallet.log")
URI=$(cat uri.txt)
say "The front desk scans the QR code (here: takes its text), connects, asks for the guest's"
say "name, ID number, nationality, portrait and age over 18 (announcing that it keeps the"
say "first four), authenticates with its reader key, and verifies the answer with no network:"
show tessera reader checkin --reader "hotel" --trust "ministry/iaca.pem" --qr "$URI" \
    --tcp "127.0.0.1:$PORT" --retain family_name,given_name,document_number,nationality \
    --portrait-out "guest.png" --timeout 15
rc=0
wait "$WALLET_PID" || rc=$?
WALLET_PID=""
say "Meanwhile on the phone: who asked (verified with the bureau's root), for what, what it"
say "keeps, and what was shared:"
tail -n +"$((shown_lines + 1))" "wallet.log" | sed 's/^/     /'
[[ $rc == 0 ]] || { echo "demo: the phone's side failed (exit $rc)" >&2; exit 1; }
cmp -s "guest.png" "portrait.png" || { echo "demo: the portrait differs" >&2; exit 1; }
say "The reader wrote only the portrait it was asked for (guest.png) and stored nothing else."
say "The wallet's log has the entry (* = the hotel keeps it):"
show tessera wallet log --wallet "phone"

# checkin_round LABEL [READER OPTIONS...]: the phone (background, policy consent, PIN on fd 3)
# shows its QR code; the front desk checks in; sets CHECKIN_RC.
checkin_round() {
    local label=$1
    shift
    local port="" p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
    done
    [[ -n $port ]] || { echo "demo: no free loopback port" >&2; exit 1; }
    rm -f "uri.txt"
    "$TESSERA_BIN" wallet present --wallet "phone" --tcp "127.0.0.1:$port" --policy "policy.json" \
        --pin-fd 3 --uri-out "uri.txt" --timeout 15 3< <(printf '123456\n') >"wallet-$label.log" 2>&1 &
    WALLET_PID=$!
    for _ in $(seq 1 100); do
        [[ -s uri.txt ]] && break
        kill -0 "$WALLET_PID" 2>/dev/null || break
        sleep 0.1
    done
    [[ -s uri.txt ]] || { sed 's/^/     /' "wallet-$label.log"; echo "demo: the phone did not start" >&2; exit 1; }
    say "(the phone shows its QR code, as above; the front desk reads it)"
    CHECKIN_RC=0
    show tessera reader checkin --reader "hotel" --trust "ministry/iaca.pem" --qr "$(cat uri.txt)" \
        --tcp "127.0.0.1:$port" --elements family_name,given_name,age_over_18 --timeout 15 "$@" ||
        CHECKIN_RC=$?
    local rc=0
    wait "$WALLET_PID" || rc=$?
    WALLET_PID=""
    [[ $rc == 0 ]] || { sed 's/^/     /' "wallet-$label.log"; echo "demo: the phone's side failed (exit $rc)" >&2; exit 1; }
}

step "11. The Ministry runs its issuing service (OpenID4VCI) on the network"
say "The service issues eIDs to phones over the standard protocol, only to keys the chip maker"
say "attests and that need the PIN, and publishes signed status lists. Here it listens on a free"
say "loopback port (written to a file); hotels may cache its lists for 5 s (an hour by default)."
printf '   $ tessera authority serve --dir ministry --listen 127.0.0.1:0 --port-file issuer.port \\\n'
printf '         --vendor-root chipmaker/vendor.pem --require-uv --status-ttl 5 &\n'
"$TESSERA_BIN" authority serve --dir "ministry" --listen 127.0.0.1:0 --port-file "issuer.port" \
    --vendor-root "chipmaker/vendor.pem" --require-uv --status-ttl 5 >"issuer.log" 2>&1 &
ISSUER_PID=$!
for _ in $(seq 1 100); do
    [[ -s issuer.port ]] && break
    kill -0 "$ISSUER_PID" 2>/dev/null || break
    sleep 0.05
done
[[ -s issuer.port ]] || { sed 's/^/     /' "issuer.log"; echo "demo: the issuer service did not start" >&2; exit 1; }
sed 's/^/     /' "issuer.log"

step "12. At the counter: the citizen is enrolled; the phone obtains its eID over OpenID4VCI"
say "After identity proofing, the clerk enrols the citizen. The offer goes to the phone as a QR"
say "code; the one-time transaction code is told to the citizen, never sent with it:"
show tessera authority enrol --dir "ministry" --claims "claims.json" --doctype eu.europa.ec.eudi.pid.1 \
    --operator "counter 3"
OFFER=$(sed -n 's/^offer: //p' .out)
TX=$(sed -n 's/.*tell the citizen: \([0-9]*\).*/\1/p' .out)
PERSON=$(sed -n 's/^person id: //p' .out)
RECOVERY=$(sed -n 's/^recovery code for a lost phone: //p' .out)
[[ -n $OFFER && -n $TX && -n $PERSON && -n $RECOVERY ]] || { echo "demo: enrol printed no offer" >&2; exit 1; }
say "The recovery code is printed on paper for the citizen, to keep away from the phone."
say "The wallet scans the offer, the citizen types the PIN and the code (here all three from fd 3,"
say "never on the command line, where other users of the machine could read them):"
say "five copies, each bound to its own key made and attested in the secure element; each copy"
say "is shown once, so that hotels cannot link the holder's visits."
exec 3< <(printf '%s\n123456\n%s\n' "$OFFER" "$TX")
show_id tessera wallet enrol --wallet "phone" --offer-fd 3 --batch 5 --pin-fd 3 --name "Utopia eID"
exec 3<&-
show tessera wallet list --wallet "phone"
say "The phone's device id (its secure element's attestation certificate, hashed) is what the"
say "Ministry recorded with the copies; the citizen notes it with the recovery code:"
show tessera wallet device-id --wallet "phone"
DEVICE=$(grep -m1 -E '^[0-9a-f]{64}$' .out || true)
[[ -n $DEVICE ]] || { echo "demo: no device id" >&2; exit 1; }

step "13. Hotel check-in with the eID's status"
say "The front desk now also checks the eID's status list (--status online: it fetches the"
say "Ministry's signed list when its copy is older than the list's ttl, and keeps it for the"
say "hours without network):"
checkin_round valid --status online
[[ $CHECKIN_RC == 0 ]] || { echo "demo: the check-in with status failed (exit $CHECKIN_RC)" >&2; exit 1; }

step "13a. The front desk gives the phone a room key; the door of room 101 opens offline over NFC"
say "The hotel keys its doors (Aliro 1.0, docs/KEYS.md): a key to sign room keys, and the reader"
say "group key its locks prove themselves with. Each lock is configured once, then works offline."
show tessera hotel init --dir "hotelkeys" --name "Hotel Utopia"
show tessera lock init --dir "door101" --hotel "hotelkeys" --room 101
show tessera lock init --dir "door102" --hotel "hotelkeys" --room 102
say "The phone's secure element makes a key for the room key; only its public half goes to the desk:"
show tessera wallet key-request --wallet "phone" --out "roomkey.req"
NOW=$(date +%s)
show tessera hotel issue-key --hotel "hotelkeys" --request "roomkey.req" --room 101 \
    --from "$(date -u -d "@$((NOW - 600))" +%Y-%m-%dT%H:%M:%SZ)" \
    --until "$(date -u -d "@$((NOW + 2 * 86400))" +%Y-%m-%dT%H:%M:%SZ)" --guest "the guest" \
    --out "roomkey.pkg"
show tessera wallet key-add --wallet "phone" "roomkey.pkg"
say "The doors are PC/SC readers (pcscd; vsmartcard's vpcd plays the NFC field for the phone):"
PCSCD_DIR=$W/pcscd
bash "$REPO/scripts/pcscd-test.sh" start "$PCSCD_DIR" >/dev/null 2>"pcscd.err" ||
    { echo "demo: the door step needs pcscd and vpcd (run as root; scripts/deps.sh): $(cat pcscd.err)" >&2; exit 1; }
# door LOCKDIR: the lock serves one tap while the phone is held to it
door() {
    sleep 1 # pcscd polls vpcd for presence: let it see the phone leave the last door
    tessera lock serve --config "$1" --nfc --count 1 --timeout 30 >"lock.out" 2>"lock.err" &
    LOCK_PID=$!
    local rc=0
    show tessera wallet tap --wallet "phone" --nfc --timeout 30 || rc=$?
    wait "$LOCK_PID" || true
    LOCK_PID=""
    say "  the lock: $(cat lock.out)"
    return $rc
}
say "First tap at room 101: the lock does not know this phone; it proves itself (AUTH1), then"
say "reads the room key's document (step-up) and remembers the phone:"
door "door101" || { echo "demo: room 101 did not open" >&2; exit 1; }
grep -q '"flow": "step-up"' lock.out || { echo "demo: the first tap was not a step-up" >&2; exit 1; }
say "Second tap: the fast path (a symmetric cryptogram from the key both kept):"
door "door101" || { echo "demo: room 101 did not open the second time" >&2; exit 1; }
grep -q '"flow": "fast"' lock.out || { echo "demo: the second tap was not fast" >&2; exit 1; }
say "The door of room 102 stays shut:"
if door "door102"; then echo "demo: room 102 opened" >&2; exit 1; fi
grep -q 'access_denied' lock.out || { echo "demo: room 102 refused for another reason" >&2; exit 1; }

# free_port: a loopback port nobody listens on
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    echo "demo: no free loopback port" >&2
    return 1
}
# bstep WHAT CMD...: one browser command that must succeed
bstep() {
    local what=$1
    shift
    browser "$@" || { echo "demo: the browser could not $what: $BROWSER_REPLY" >&2; exit 1; }
}
# bshot NAME: a screenshot of the page, its path printed
bshot() {
    bstep "take a screenshot" shot "$1"
    say "(screenshot: $(bget r.path))"
}
# shop_login POLICY: the wallet answers the authorization request shown on the page
shop_login() {
    bstep "find the wallet link" waitlink cross_device
    local link
    link=$(bget r.link)
    say "The page shows a QR code for a phone and the same link for a wallet on this device:"
    say "  $link"
    show tessera wallet authorize --wallet "phone" --policy "$1" --pin-file "pin.txt" \
        --allow-loopback-http "$link"
}

step "14. Online: a wine shop's website logs the citizen in with \"over 18\" and a pseudonym"
say "Websites are licensed like the hotel's reader: a trust authority for online services issues"
say "the shop's access certificate with its DNS name, what it may ask for and why."
show tessera reader-ca init --dir "webtrust" --name "Utopia Web Trust"
show tessera reader-ca issue --dir "webtrust" --name "Utopia Wine Shop" \
    --purpose "age check for wine delivery" \
    --scope eu.europa.ec.eudi.pid.1/age_over_18,org.tessera.pseudonym.1/pseudonym \
    --dns localhost --out "shopcert"
say "The wallet trusts the web trust authority (as it trusts the police bureau for readers):"
show tessera wallet trust-reader --wallet "phone" --root "webtrust/reader_ca.pem"
SHOP_PORT=$(free_port)
say "The shop runs Tessera's verifier service beside its website (here on localhost:$SHOP_PORT):"
show tessera rp init --dir "shop" --cert "shopcert/reader.pem" --key-file "shopcert/reader_key.pem" \
    --public-url "http://localhost:$SHOP_PORT"
printf '   $ tessera rp serve --dir shop --listen 127.0.0.1:%s --trust ministry/iaca.pem --status online &\n' "$SHOP_PORT"
"$TESSERA_BIN" rp serve --dir "shop" --listen "127.0.0.1:$SHOP_PORT" --trust "ministry/iaca.pem" \
    --status online >"shop.log" 2>&1 &
SHOP_PID=$!
for _ in $(seq 1 100); do
    (exec 9<>"/dev/tcp/127.0.0.1/$SHOP_PORT") 2>/dev/null && break
    kill -0 "$SHOP_PID" 2>/dev/null || break
    sleep 0.05
done
(exec 9<>"/dev/tcp/127.0.0.1/$SHOP_PORT") 2>/dev/null ||
    { sed 's/^/     /' "shop.log"; echo "demo: the shop's service did not start" >&2; exit 1; }
say "A visitor opens the shop's page in a browser (headless Chromium, driven by this script):"
for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "demo: the website step needs $tool (scripts/deps.sh)" >&2; exit 1; }
done
if [[ ! -d $REPO/tests/browser/node_modules/puppeteer-core ]]; then
    say "(first run: installing the browser driver with npm ci into tests/browser/node_modules)"
    (cd "$REPO/tests/browser" && npm ci --no-audit --no-fund >/dev/null) ||
        { echo "demo: npm ci in tests/browser failed" >&2; exit 1; }
fi
browser_start "$DEMO_SHOTS" "$W/browser.log" ||
    { echo "demo: the browser did not start: $BROWSER_REPLY" >&2; exit 1; }
bstep "open the shop" open "http://localhost:$SHOP_PORT/"
bstep "see the start page" wait start
bshot 01-shop-start
bstep "click log in" click login
bstep "see the waiting page" wait waiting
bshot 02-shop-qr
say "The phone's wallet checks the request (signed with the shop's key, certificate under the"
say "trusted web authority, the DNS name the answer goes to), shows who asks, what and why; the"
say "holder agrees (here a policy file and the PIN from a 0600 file, never on the command line)."
say "The secure element computes the shop's pseudonym from a secret that never leaves it and the"
say "shop's certificate key: the same at every visit, another one at every other site."
printf '%s\n' '{"readers": [{"name": "Utopia Wine Shop", "authenticated": true,' \
    '  "allow": ["eu.europa.ec.eudi.pid.1/age_over_18", "org.tessera.pseudonym.1/pseudonym"]}]}' \
    >"shop-policy.json"
(umask 077 && printf '123456\n' >"pin.txt")
shop_login "shop-policy.json"
PSEUDONYM=$(sed -n 's/^pseudonym: *//p' .out)
[[ -n $PSEUDONYM ]] || { echo "demo: the wallet released no pseudonym" >&2; exit 1; }
say "The page moves on by itself (it waits on the shop's service):"
bstep "see the logged-in page" wait logged_in
ACCOUNT=$(bget r.account)
say "  $(bget r.accountLine)"
[[ $ACCOUNT == "$PSEUDONYM" ]] || { echo "demo: the page shows another account" >&2; exit 1; }
bshot 03-shop-logged-in
say "The shop learnt that the visitor is over 18 and their account number at this shop; not the"
say "name, not the birth date, nothing another site could match."
bstep "log out" click logout
bstep "see the start page again" wait start

step "15. The phone is lost"
say "From the holder's laptop (no wallet needed there), the citizen reports the phone lost with"
say "the recovery code; the service suspends every credential on that phone, in one audited step:"
say "(the code is typed at a prompt; here the script gives it on file descriptor 3)"
show tessera wallet report-lost --issuer "http://127.0.0.1:$(cat issuer.port)" \
    --recovery-code-fd 3 --device "$DEVICE" 3< <(printf '%s\n' "$RECOVERY")
grep -q '^suspended 5 credentials' .out || { echo "demo: report-lost suspended nothing" >&2; exit 1; }
say "(At the counter the Ministry can do the same for a citizen without the code:"
say " tessera authority suspend --dir ministry --device ${DEVICE:0:12}...)"
say "Whoever holds the phone tries to check in. Once the hotel reader's copy of the list is"
say "older than its ttl (5 s here), it fetches the list again..."
sleep 5.5
checkin_round lost --status online
if [[ $CHECKIN_RC != 1 ]] || ! grep -q '^INVALID: credential_suspended' .out; then
    echo "demo: the suspended eID was not rejected (exit $CHECKIN_RC)" >&2
    exit 1
fi
say "Rejected: the eID is suspended. (Without network the reader uses its cached list while it"
say "is young enough and unexpired; a list it cannot check is undetermined, never valid.)"
say "Online too: whoever holds the phone tries to log in at the wine shop. The shop's service"
say "checks the eID's status list (--status online) and refuses the login:"
bstep "click log in" click login
bstep "see the waiting page" wait waiting
LOGIN_RC=0
shop_login "shop-policy.json" || LOGIN_RC=$?
[[ $LOGIN_RC != 0 ]] || { echo "demo: the shop accepted the suspended eID" >&2; exit 1; }
bstep "see the refusal" wait invalid
say "  the page: $(bget r.status)"
bshot 04-shop-refused-suspended
browser_stop
kill "$SHOP_PID" 2>/dev/null || true
wait "$SHOP_PID" 2>/dev/null || true
SHOP_PID=""
say "The hotel is told too: it revokes the phone's room keys. Its locks are offline; the next"
say "guest's phone keyed at the desk carries the revocation to every door it touches:"
show tessera hotel revoke --hotel "hotelkeys" --phone "roomkey.req" --out "revocation.cbor"
show tessera wallet init --dir "phone2"
show tessera wallet key-request --wallet "phone2" --out "phone2.req"
show tessera hotel issue-key --hotel "hotelkeys" --request "phone2.req" --room 103 \
    --from "$(date -u -d "@$((NOW - 600))" +%Y-%m-%dT%H:%M:%SZ)" \
    --until "$(date -u -d "@$((NOW + 86400))" +%Y-%m-%dT%H:%M:%SZ)" --out "phone2.pkg"
show tessera wallet key-add --wallet "phone2" "phone2.pkg"
sleep 1
tessera lock serve --config "door101" --nfc --count 1 --timeout 30 >"lock.out" 2>"lock.err" &
LOCK_PID=$!
show tessera wallet tap --wallet "phone2" --nfc --timeout 30 || true
wait "$LOCK_PID" || true
LOCK_PID=""
say "  the lock: $(cat lock.out)"
grep -q '"learned_revocation": true' lock.out || { echo "demo: the lock did not learn the revocation" >&2; exit 1; }
say "Whoever holds the lost phone tries room 101 again:"
if door "door101"; then echo "demo: the lost phone still opened room 101" >&2; exit 1; fi
grep -q 'access_revoked' lock.out || { echo "demo: the lost phone was refused for another reason" >&2; exit 1; }
say "Refused: the key is revoked. The lock's log says who opened and who was refused:"
show tessera lock log --config "door101"
bash "$REPO/scripts/pcscd-test.sh" stop "$PCSCD_DIR" >/dev/null 2>&1 || true
PCSCD_DIR=""
say "When the phone turns up again, the Ministry reinstates what is on it:"
show tessera authority reinstate --dir "ministry" --device "$DEVICE" --operator "counter 3"
kill "$ISSUER_PID" 2>/dev/null || true
wait "$ISSUER_PID" 2>/dev/null || true
ISSUER_PID=""

step "The story so far plays end to end."
