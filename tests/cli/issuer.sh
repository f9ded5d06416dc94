#!/usr/bin/env bash
# CLI test of the issuing authority (issue 5): `authority serve` (OpenID4VCI on a loopback
# port) and `tessera-issuerd`, `authority enrol`, `wallet enrol` (a batch of 3 single-use
# copies, keys attested by the chip vendor, PIN and transaction code through --pin-fd),
# presenting one copy and verifying it with --status online: valid; suspend the person ->
# suspended (exit 1); reinstate -> valid; revoke the credential -> revoked (final); stop the
# service -> online falls back to the cached list, cached with max age 0 -> undetermined
# (exit 0, warning). Lost phone: the device id printed by `wallet enrol` and `wallet device-id`
# is the one in the registry; `authority suspend --device` -> suspended, `reinstate --device`
# -> valid, `wallet report-lost` with a wrong recovery code -> invalid_grant, with the one
# `authority enrol` printed -> suspended; reinstate -> valid. Refusals: wrong transaction code (invalid_grant, tries left), reused
# offer (invalid_grant), a wallet whose secure element no trusted vendor provisioned
# (invalid_proof), wrong PIN (the offer survives), the open offer of a holder revoked since
# (invalid_grant, withdrawn; reinstating a revoked person exits 1). Then the service is SIGKILLed about ten
# times while wallets enrol, restarted on the same registry each time, and the registry is
# checked with sqlite3: every batch complete, no status index used twice.
# Needs: $TESSERA_BIN (and $TESSERA_ISSUERD_BIN, default: beside it), node (JSON checks),
# xxd, sqlite3 (or python3's sqlite3 module).
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
TESSERA_BIN=$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")
ISSUERD=${TESSERA_ISSUERD_BIN:-$(dirname "$TESSERA_BIN")/tessera-issuerd}
T=$(mktemp -d)
SPID=""
cleanup() {
    if [[ -n $SPID ]]; then kill -9 "$SPID" 2>/dev/null || true; fi
    rm -rf "$T"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
# sql DB QUERY — prints the rows, columns separated by '|'.
sql() {
    if command -v sqlite3 >/dev/null; then
        sqlite3 -batch "$1" "$2"
    else
        python3 -c '
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))' "$1" "$2"
    fi
}

A=$T/ministry
PID=eu.europa.ec.eudi.pid.1
# The service's status lists: verifiers may cache one for TTL seconds; the service rebuilds its
# token at most every 5 s (its own cache). After a status change, WAIT covers both.
TTL=5
WAIT=5.2

# serve_bg BIN_AND_ARGS... — starts the service in the background with --port-file; waits for
# the port; sets SPID, PORT, URL.
serve_bg() {
    rm -f "$T/port"
    "$@" --dir "$A" --listen 127.0.0.1:0 --port-file "$T/port" \
        --vendor-root "$T/chipmaker/vendor.pem" --require-uv --status-ttl $TTL \
        >"$T/serve.out" 2>"$T/serve.err" &
    SPID=$!
    local i
    for i in $(seq 1 100); do
        [[ -s $T/port ]] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    PORT=$(cat "$T/port" 2>/dev/null || true)
    URL="http://127.0.0.1:$PORT"
    if [[ -n $PORT ]]; then ok; else
        bad "the service did not start"
        sed 's/^/    | /' "$T/serve.err" >&2
        return 1
    fi
}
# serve_stop SIGNAL — stops the background service; checks a clean exit for TERM/INT.
serve_stop() {
    local rc=0
    kill "-$1" "$SPID" 2>/dev/null || true
    wait "$SPID" || rc=$?
    SPID=""
    if [[ $1 != KILL ]]; then
        if [[ $rc == 0 ]]; then ok; else bad "service stopped by SIG$1: exit $rc"; fi
    fi
}
# enrol — a fresh offer for the citizen: sets OFFER, TX, PERSON.
enrol() {
    run 0 "authority enrol" tes authority enrol --dir "$A" --claims "$T/claims/pid.json" \
        --doctype $PID --operator "desk 1" --json
    OFFER=$(jget j.offer)
    TX=$(jget j.tx_code)
    PERSON=$(jget j.person)
    RECOVERY=$(jget j.recovery_code)
    printf '%s\n' "$OFFER" >"$T/offer"
}
# verify_status MODE [ARGS...] — presents nothing; verifies $T/resp.cbor with the status.
verify_status() {
    local mode=$1
    shift
    tes verify --trust "$A/iaca.pem" --transcript "$T/st.cbor" --status "$mode" \
        --status-cache "$T/cache" --json "$@" "$T/resp.cbor"
}

# ---------------------------------------------------------------- help and usage
run 0 "authority --help" tes authority --help
grep_in "$T/out" "authority serve" "authority --help lists serve"
run 0 "help authority serve" tes help authority serve
grep_in "$T/out" "--port-file" "serve --help"
run 0 "help authority enrol" tes help authority enrol
grep_in "$T/out" "transaction code" "enrol --help"
run 0 "help authority suspend" tes help authority suspend
grep_in "$T/out" "ttl" "suspend --help says how long verifiers may cache"
run 0 "help wallet enrol" tes help wallet enrol
grep_in "$T/out" "the PIN, then the transaction code" "wallet enrol --help gives the fd order"
run 0 "help wallet report-lost" tes help wallet report-lost
grep_in "$T/out" "--recovery-code" "report-lost --help"
run 0 "help wallet device-id" tes help wallet device-id
grep_in "$T/out" "attestation" "device-id --help"
run 0 "help authority suspend (again)" tes help authority suspend
grep_in "$T/out" "--device HEX" "suspend --help lists --device"
run 2 "suspend --device not hex" tes authority suspend --dir "$T/nowhere" --device xyz
run 2 "suspend --device with --credential" tes authority suspend --dir "$T/nowhere" \
    --device "$(printf 'a%.0s' $(seq 64))" --credential 1
run 2 "report-lost without --issuer" tes wallet report-lost --recovery-code AAAA-AAAA-AAAA-AAAA
# no code and no terminal to ask on (setsid: no controlling terminal, even when run by hand)
run 2 "report-lost without code" setsid -w "$TESSERA_BIN" wallet report-lost \
    --issuer http://127.0.0.1:1 </dev/null
grep_in "$T/err" "--recovery-code-fd" "report-lost without code names the fd option"
run 2 "report-lost: code twice" tes wallet report-lost --issuer http://127.0.0.1:1 \
    --recovery-code AAAA-AAAA-AAAA-AAAA --recovery-code-fd 0
run 2 "report-lost: fd not open" tes wallet report-lost --issuer http://127.0.0.1:1 \
    --recovery-code-fd 9
grep_in "$T/err" "is not open" "report-lost: closed fd named"
run 2 "report-lost: fd empty" tes wallet report-lost --issuer http://127.0.0.1:1 \
    --recovery-code-fd 3 3</dev/null
run 0 "verify --help" tes verify --help
grep_in "$T/out" "--status-max-age" "verify --help lists the status options"
run 0 "tessera-issuerd --help" "$ISSUERD" --help
grep_in "$T/out" "--vendor-root" "tessera-issuerd --help is serve's"
run 2 "authority frob" tes authority frob
run 2 "serve without --dir" tes authority serve
run 2 "suspend without target" tes authority suspend --dir "$T/nowhere"
run 2 "suspend with both targets" tes authority suspend --dir "$T/nowhere" --person 1 --credential 2
run 2 "wallet enrol without --offer" tes wallet enrol --wallet "$T/phone"
run 2 "verify --status bogus" tes verify --trust x --transcript y --status bogus z
run 2 "serve: not an authority" tes authority serve --dir "$T/nowhere"
run 0 "help authority serve (defences)" tes help authority serve
grep_in "$T/out" "--request-deadline SEC" "serve --help lists the request deadline"
grep_in "$T/out" "--max-connections-per-address N" "serve --help lists the per-address limit"
run 2 "serve --request-deadline 0" tes authority serve --dir "$T/nowhere" --request-deadline 0
run 2 "serve --max-connections x" tes authority serve --dir "$T/nowhere" --max-connections x

# ---------------------------------------------------------------- authority, vendor, wallets
run 0 "authority init" tes authority init --dir "$A" --name "Utopia Ministry" --country UT
run 0 "vendor init" tes vendor init --dir "$T/chipmaker" --name "Utopia Chip Works"
run 0 "wallet init --vendor" tes wallet init --dir "$T/phone" --vendor "$T/chipmaker"
runfd 0 "pin set" '123456\n123456\n12345678\n12345678\n' tes wallet pin set --wallet "$T/phone" --pin-fd 3
run 0 "wallet init (no vendor)" tes wallet init --dir "$T/rogue"
runfd 0 "pin set (rogue)" '123456\n123456\n12345678\n12345678\n' tes wallet pin set --wallet "$T/rogue" --pin-fd 3
mkdir -p "$T/claims"
printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' |
    base64 -d >"$T/claims/portrait.png"
cat >"$T/claims/pid.json" <<'EOF'
{"eu.europa.ec.eudi.pid.1": {
  "family_name": "Mustermann", "given_name": "Erika", "birth_date": "1984-01-26",
  "age_over_18": true, "issuing_authority": "Utopia", "issuing_country": "UT",
  "expiry_date": "2031-11-26", "nationality": "UT", "document_number": "UT-4711",
  "portrait": {"file": "portrait.png"}}}
EOF
echo 83f6f6826c746573736572612d746573744401020304 | xxd -r -p >"$T/st.cbor"

# ---------------------------------------------------------------- serve, enrol, obtain
serve_bg "$TESSERA_BIN" authority serve
grep_in "$T/serve.out" "serving OpenID4VCI at $URL" "serve prints its URL"
grep_in "$A/issuer_url" "$URL" "serve records its URL"

run 0 "enrol (text)" tes authority enrol --dir "$A" --claims "$T/claims/pid.json" --doctype $PID \
    --qr-png "$T/offer.png"
# the PNG holds the pre-authorized code: readable by its owner only
[[ $(stat -c %a "$T/offer.png") == 600 ]] && ok || bad "offer QR PNG mode $(stat -c %a "$T/offer.png"), want 600"
grep_in "$T/out" "^offer: openid-credential-offer://" "enrol prints the offer URI"
grep_in "$T/out" "tell the citizen: [0-9]\{6\}" "enrol prints the transaction code"
grep_in "$T/out" "▀\|█\|▄" "enrol draws the QR code"
grep_in "$T/out" "^person id: [0-9]" "enrol prints the person id"
grep_in "$T/out" "^recovery code for a lost phone: [A-Z2-9]\{4\}-[A-Z2-9]\{4\}-[A-Z2-9]\{4\}-[A-Z2-9]\{4\}$" \
    "enrol prints the recovery code"
enrol
json "enrol --json" '/^openid-credential-offer:\/\//.test(j.offer) && /^[0-9]{6}$/.test(j.tx_code) && j.person > 0 && /^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/.test(j.recovery_code)'
P1=$PERSON

runfd 0 "wallet enrol --batch 3" "123456\n$TX\n" tes wallet enrol --wallet "$T/phone" \
    --offer-file "$T/offer" --batch 3 --pin-fd 3 --name "Utopia eID"
CRED=$(head -1 "$T/out")
grep_in "$T/err" "3 single-use copies" "wallet enrol reports the batch"
grep_in "$T/err" "^device id: [0-9a-f]\{64\}$" "wallet enrol prints the device id"
ENROL_DEV=$(sed -n 's/^device id: \([0-9a-f]\{64\}\)$/\1/p' "$T/err")
REC1=$RECOVERY
run 0 "wallet list --json" tes wallet list --wallet "$T/phone" --json
json "3 single-use copies that need the PIN" \
    "j.length === 1 && j[0].id == $CRED && j[0].copies === 3 && j[0].copiesLeft === 3 && j[0].singleUse && j[0].needsPin && j[0].docType === '$PID'"

# present one copy; verify with the status
runfd 0 "present one copy" '123456\n' tes present --wallet "$T/phone" --credential "$CRED" \
    --pin-fd 3 --elements family_name,age_over_18,portrait --transcript "$T/st.cbor" --out "$T/resp.cbor"
run 0 "verify --status online: valid" verify_status online
json "status valid" 'j.valid && j.documents[0].status.value === "valid" && j.documents[0].status.uri.startsWith("http") && Number.isInteger(j.documents[0].status.idx)'
IDX=$(jget 'j.documents[0].status.idx')
LIST=$(jget 'j.documents[0].status.uri')
# within the list's ttl (5 s) the cached list answers; --status-max-ttl 1 caps the ttl honoured
run 0 "verify again: from the cache within the ttl" verify_status online
json "within its ttl" 'j.valid && /within its ttl/.test(j.documents[0].status.detail)'
sleep 1.2
run 0 "verify --status-max-ttl 1: fetched again" verify_status online --status-max-ttl 1
json "ttl capped: fetched now" 'j.valid && /fetched now/.test(j.documents[0].status.detail)'
run 2 "verify --status-max-ttl 0" verify_status online --status-max-ttl 0
run 0 "verify without --status: not checked" tes verify --trust "$A/iaca.pem" --transcript "$T/st.cbor" --json "$T/resp.cbor"
json "status reference only" 'j.valid && j.documents[0].status.idx === '"$IDX"' && !("value" in j.documents[0].status)'
run 0 "verify --status online (text)" tes verify --trust "$A/iaca.pem" --transcript "$T/st.cbor" \
    --status online --status-cache "$T/cache" "$T/resp.cbor"
grep_in "$T/out" "^VALID" "text verdict"
grep_in "$T/out" "status:      valid" "text status valid"

# a second copy, to see the list again after the revocation of the first
runfd 0 "present a second copy" '123456\n' tes present --wallet "$T/phone" --credential "$CRED" \
    --pin-fd 3 --elements family_name --transcript "$T/st.cbor" --out "$T/resp2.cbor"

# ---------------------------------------------------------------- suspend, reinstate, revoke
run 0 "suspend --person" tes authority suspend --dir "$A" --person "$P1" --operator "desk 2"
grep_in "$T/out" "3 credentials changed" "suspend counts the batch"
sleep $WAIT
run 1 "verify: suspended" verify_status online
json "credential_suspended" '!j.valid && j.error.code === "credential_suspended" && j.documents[0].status.value === "suspended"'
run 1 "verify (text): suspended" tes verify --trust "$A/iaca.pem" --transcript "$T/st.cbor" \
    --status online --status-cache "$T/cache" "$T/resp.cbor"
grep_in "$T/out" "^INVALID: credential_suspended" "text INVALID suspended"
no_grep_in "$T/out" "Mustermann" "no data of a suspended credential"

run 0 "reinstate --person" tes authority reinstate --dir "$A" --person "$P1"
grep_in "$T/out" "3 credentials changed" "reinstate counts the batch"
sleep $WAIT
run 0 "verify: valid again" verify_status online
json "valid again" 'j.valid && j.documents[0].status.value === "valid"'

# the registry's credential id of the presented copy (by its status index)
DB=$A/registry.db
C1=$(sql "$DB" "SELECT id FROM credentials WHERE idx = $IDX AND list_uri = '$LIST'" 2>"$T/err" || true)
if [[ $C1 =~ ^[0-9]+$ ]]; then ok; else bad "credential of status index $IDX not found in the registry ($C1)"; fi
run 0 "revoke --credential" tes authority revoke --dir "$A" --credential "$C1"
grep_in "$T/out" "1 credential changed" "revoke counts one"
run 1 "reinstate a revoked credential" tes authority reinstate --dir "$A" --credential "$C1"
run 1 "revoke: no such credential" tes authority revoke --dir "$A" --credential 999999
sleep $WAIT
run 1 "verify: revoked" verify_status online
json "credential_revoked" '!j.valid && j.error.code === "credential_revoked" && j.documents[0].status.value === "revoked"'
cp "$T/resp.cbor" "$T/resp1.cbor"
cp "$T/resp2.cbor" "$T/resp.cbor"
run 0 "verify: the other copy stays valid" verify_status online
json "other copy valid" 'j.valid && j.documents[0].status.value === "valid"'
# ---------------------------------------------------------------- lost phone
run 0 "wallet device-id" tes wallet device-id --wallet "$T/phone"
DEV=$(head -1 "$T/out")
if [[ $DEV =~ ^[0-9a-f]{64}$ && $DEV == "$ENROL_DEV" ]]; then ok; else bad "device-id '$DEV', enrol said '$ENROL_DEV'"; fi
run 0 "registry: the phone's device" sql "$DB" "SELECT DISTINCT device FROM credentials WHERE person_id = $P1"
if [[ $(cat "$T/out") == "$DEV" ]]; then ok; else bad "registry devices of person $P1: $(tr '\n' ' ' <"$T/out")"; fi
run 1 "suspend --device: nothing on it" tes authority suspend --dir "$A" --device "$(printf 'e%.0s' $(seq 64))"
run 0 "suspend --device (at the counter)" tes authority suspend --dir "$A" --device "$DEV"
grep_in "$T/out" "2 credentials changed" "suspend --device skips the revoked copy"
sleep $WAIT
run 1 "verify: suspended by device" verify_status online
json "suspended by device" '!j.valid && j.documents[0].status.value === "suspended"'
run 0 "reinstate --device" tes authority reinstate --dir "$A" --device "$DEV"
grep_in "$T/out" "2 credentials changed" "reinstate --device counts 2"
WRONGREC=$( [[ ${REC1:0:1} == A ]] && echo "B${REC1:1}" || echo "A${REC1:1}" )
run 1 "report-lost: wrong recovery code" tes wallet report-lost --issuer "$URL" \
    --recovery-code "$WRONGREC" --device "$DEV"
grep_in "$T/err" "invalid_grant" "wrong recovery code: invalid_grant"
run 0 "report-lost from the laptop" tes wallet report-lost --issuer "$URL" \
    --recovery-code-fd 3 --device "$DEV" 3< <(printf '%s\n' "$REC1")
grep_in "$T/out" "suspended 2 credentials" "report-lost suspends the phone's copies"
sleep $WAIT
run 1 "verify: reported lost" verify_status online
json "reported lost: suspended" '!j.valid && j.error.code === "credential_suspended"'
run 0 "reinstate --device (phone found)" tes authority reinstate --dir "$A" --device "$DEV" --person "$P1"
grep_in "$T/out" "2 credentials changed" "found: 2 reinstated"
sleep $WAIT
run 0 "verify: valid after the phone was found" verify_status online
json "found: valid" 'j.valid && j.documents[0].status.value === "valid"'
run 0 "audit: the holder's report" sql "$DB" "SELECT count(*) FROM audit WHERE operator_name = 'holder (recovery code)'"
if [[ $(cat "$T/out") == 1 ]]; then ok; else bad "audit entries of the holder: $(cat "$T/out")"; fi

run 0 "audit log" sql "$DB" "SELECT count(*) FROM audit"
if [[ $(cat "$T/out") -ge 4 ]]; then ok; else bad "audit log has $(cat "$T/out") entries, want >= 4"; fi

# ---------------------------------------------------------------- the service goes away
serve_stop TERM
sleep $WAIT
run 0 "online, service down: from the cache" verify_status online
json "valid from the cache" 'j.valid && j.documents[0].status.value === "valid"'
cp "$T/resp1.cbor" "$T/resp.cbor"
run 1 "online, service down: revoked from the cache" verify_status online
json "revoked from the cache" 'j.documents[0].status.value === "revoked"'
cp "$T/resp2.cbor" "$T/resp.cbor"
run 0 "cached within max age" verify_status cached
json "cached valid" 'j.valid && j.documents[0].status.value === "valid"'
run 0 "cached, max age 0: undetermined" verify_status cached --status-max-age 0
json "undetermined" 'j.valid && j.documents[0].status.value === "undetermined" && j.documents[0].status.detail.length > 0'
grep_in "$T/err" "WARNING" "undetermined warns"
run 0 "undetermined (text)" tes verify --trust "$A/iaca.pem" --transcript "$T/st.cbor" \
    --status cached --status-max-age 0 --status-cache "$T/cache" "$T/resp.cbor"
grep_in "$T/out" "UNDETERMINED" "text says undetermined"
no_grep_in "$T/out" "status:      valid" "undetermined is not valid"
run 0 "online, empty cache, service down: undetermined" verify_status online --status-cache "$T/cache2"
json "undetermined without cache" 'j.valid && j.documents[0].status.value === "undetermined"'

# ---------------------------------------------------------------- a list from another authority
# Authority B, which the verifier also trusts, answers at A's status URI (B's service on A's
# port, with A's URL as its public URL) with a list of its own, signed by its document signer,
# in which every index is valid. A's revoked copy must not become valid: the list is not from
# the credential's issuer -> undetermined, reason status_wrong_issuer (issue 9, High 2).
B=$T/other
run 0 "authority init (B)" tes authority init --dir "$B" --name "Other Ministry" --country UT
"$TESSERA_BIN" authority serve --dir "$B" --listen "127.0.0.1:$PORT" --public-url "$URL" \
    --status-ttl $TTL >"$T/serve_b.out" 2>"$T/serve_b.err" &
SPID=$!
for i in $(seq 1 100); do
    grep -q "serving" "$T/serve_b.out" 2>/dev/null && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
done
if grep -q "serving" "$T/serve_b.out"; then ok; else
    bad "B's service did not start on A's port $PORT"
    sed 's/^/    | /' "$T/serve_b.err" >&2
fi
cp "$T/resp1.cbor" "$T/resp.cbor"
run 0 "revoked copy, B's list at A's URI: undetermined" verify_status online \
    --trust "$B/iaca.pem" --status-cache "$T/cache3"
json "not valid: status_wrong_issuer" 'const s = j.documents[0].status;
    s.value === "undetermined" && s.reason === "status_wrong_issuer" && /own issuer/.test(s.detail)'
grep_in "$T/err" "WARNING" "B's list: undetermined warns"
run 0 "B's list (text)" tes verify --trust "$A/iaca.pem,$B/iaca.pem" --transcript "$T/st.cbor" \
    --status online --status-cache "$T/cache3" "$T/resp.cbor"
grep_in "$T/out" "UNDETERMINED (status_wrong_issuer" "text names the reason"
# with A's own list cached, B's answer is refused and A's cached list still says revoked
run 1 "revoked copy, B's list refused, A's cached list answers" verify_status online \
    --trust "$B/iaca.pem"
json "revoked from A's cached list" '!j.valid && j.documents[0].status.value === "revoked"'
serve_stop TERM
cp "$T/resp2.cbor" "$T/resp.cbor"

# ---------------------------------------------------------------- refusals (tessera-issuerd)
serve_bg "$ISSUERD"
grep_in "$T/serve.out" "serving OpenID4VCI at" "tessera-issuerd serves"
enrol
WRONG=$(printf '%06d' $(((10#$TX + 1) % 1000000)))
runfd 1 "wrong transaction code" "123456\n$WRONG\n" tes wallet enrol --wallet "$T/phone" \
    --offer-file "$T/offer" --pin-fd 3
grep_in "$T/err" "invalid_grant" "wrong tx code: invalid_grant"
grep_in "$T/err" "left" "wrong tx code: tries left"
no_grep_in "$T/err" "registry:" "wrong tx code: no internal text for the client"
grep_in "$T/serve.err" "invalid_grant (invalid_grant): registry: wrong transaction code" \
    "the service logs the registry's message"
runfd 1 "wrong PIN" "654321\n$TX\n" tes wallet enrol --wallet "$T/phone" --offer-file "$T/offer" --pin-fd 3
grep_in "$T/err" "pin_wrong" "wrong PIN reported"
# the offer and the transaction code never on the command line (other users read it in /proc):
# --tx-code is refused, --offer works with a warning; the offer, PIN and code from one fd
run 2 "wallet enrol --tx-code refused" tes wallet enrol --wallet "$T/phone" --offer-file "$T/offer" \
    --tx-code "$TX" --pin-fd 3 3< <(printf '123456\n')
grep_in "$T/err" "visible to other users.*--tx-code-fd" "--tx-code refusal names --tx-code-fd"
run 2 "two offers" tes wallet enrol --wallet "$T/phone" --offer-file "$T/offer" --offer-fd 0
runfd 2 "offer with a NUL byte" 'openid-credential-offer://x\0y\n' tes wallet enrol --wallet "$T/phone" \
    --offer-fd 3 --tx-code-fd 0 --pin-fd 0
grep_in "$T/err" "credential offer contains a NUL byte" "offer with a NUL refused"
run 0 "right code after a wrong one (offer, PIN and code on one fd)" \
    tes wallet enrol --wallet "$T/phone" --offer-fd 3 --pin-fd 3 \
    3< <(printf '%s\n123456\n%s\n' "$OFFER" "$TX")
no_grep_in "$T/err" "warning" "no warning without --offer"
runfd 1 "reused offer" "123456\n$TX\n" tes wallet enrol --wallet "$T/phone" --offer-file "$T/offer" --pin-fd 3
grep_in "$T/err" "invalid_grant" "reused offer: invalid_grant"
# every form of key attestation the wallet can send (OpenID4VCI 1.0 key_attestation header,
# the attestation proof type, Tessera's x5c chain) binds to the same phone
for FORM in key-attestation attestation x5c; do
    enrol
    OFFER_ARG=(--offer-file "$T/offer")
    [[ $FORM == x5c ]] && OFFER_ARG=(--offer "$OFFER") # still works, with a warning
    runfd 0 "wallet enrol --proof $FORM" "123456\n$TX\n" tes wallet enrol --wallet "$T/phone" \
        "${OFFER_ARG[@]}" --pin-fd 3 --batch 3 --proof $FORM
    grep_in "$T/err" "3 single-use copies" "--proof $FORM: a batch of 3"
    grep_in "$T/err" "^device id: $ENROL_DEV$" "--proof $FORM: the same device id"
    if [[ $FORM == x5c ]]; then
        grep_in "$T/err" "warning: the --offer URI is visible to other users" "--offer warns"
    fi
done
run 2 "wallet enrol --proof bogus" tes wallet enrol --wallet "$T/phone" --offer-file "$T/offer" \
    --proof bogus
grep_in "$T/err" "proof" "--proof bogus is named"
enrol
run 1 "unprovisioned secure element" tes wallet enrol --wallet "$T/rogue" --offer-file "$T/offer" \
    --tx-code-fd 4 --pin-fd 3 3< <(printf '123456\n') 4< <(printf '%s\n' "$TX")
grep_in "$T/err" "invalid_proof" "untrusted attestation: invalid_proof"
run 0 "rogue wallet stored nothing" tes wallet list --wallet "$T/rogue" --json
json "rogue empty" 'j.length === 0'
# revoking a holder withdraws the open offer; a revoked person stays revoked
enrol
run 0 "revoke --person with an open offer" tes authority revoke --dir "$A" --person "$PERSON"
runfd 1 "enrol with a revoked holder's offer" "123456\n$TX\n" tes wallet enrol \
    --wallet "$T/phone" --offer "$OFFER" --pin-fd 3
grep_in "$T/err" "invalid_grant" "revoked holder's offer: invalid_grant"
grep_in "$T/err" "withdrawn" "revoked holder's offer: withdrawn"
run 1 "reinstate a revoked person" tes authority reinstate --dir "$A" --person "$PERSON"
grep_in "$T/err" "revocation is final" "a revoked person stays revoked"
serve_stop INT

# ---------------------------------------------------------------- SIGKILL during issuance
# Each round: a fresh offer, a wallet enrolling a batch of 3 in the background, the service
# killed after a varied delay, restarted on the same registry.
serve_bg "$ISSUERD"
got=0
for round in $(seq 1 10); do
    enrol
    tes wallet enrol --wallet "$T/phone" --offer-file "$T/offer" --batch 3 --pin-fd 3 \
        3< <(printf '123456\n%s\n' "$TX") >"$T/kw.out" 2>"$T/kw.err" &
    WP=$!
    # 0 .. 0.2 s (an enrolment of 3 takes about 0.2 s): before the token, between the token
    # and the credential request, while the batch is recorded, after
    sleep "0.$(printf '%03d' $(((round - 1) * 22)))"
    kill -9 "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=""
    rc=0
    wait "$WP" || rc=$?
    if [[ $rc == 0 ]]; then got=$((got + 1)); fi
    serve_bg "$ISSUERD" >/dev/null
done
# and one enrolment that runs to the end on the restarted service
enrol
runfd 0 "enrol after the kills" "123456\n$TX\n" tes wallet enrol --wallet "$T/phone" \
    --offer-file "$T/offer" --batch 3 --pin-fd 3
serve_stop TERM
echo "kill test: $got of 10 enrolments completed before the kill" >&2

# every batch has all its credentials; no status index twice; the wallet's copies are all
# in the registry
run 0 "registry: batches" sql "$DB" \
    "SELECT b.id, b.copies, count(c.id) FROM batches b LEFT JOIN credentials c ON c.batch_id = b.id
     GROUP BY b.id, b.copies HAVING count(c.id) <> b.copies"
if [[ ! -s $T/out ]]; then ok; else bad "incomplete batches (id|copies|found): $(tr '\n' ' ' <"$T/out")"; fi
run 0 "registry: status indexes" sql "$DB" \
    "SELECT list_uri, idx, count(*) FROM credentials GROUP BY list_uri, idx HAVING count(*) > 1"
if [[ ! -s $T/out ]]; then ok; else bad "status indexes used twice: $(tr '\n' ' ' <"$T/out")"; fi
run 0 "registry: no lost index" sql "$DB" \
    "SELECT s.uri, s.used, (SELECT count(*) FROM credentials c WHERE c.list_uri = s.uri)
     FROM status_lists s WHERE s.used <> (SELECT count(*) FROM credentials c WHERE c.list_uri = s.uri)"
if [[ ! -s $T/out ]]; then ok; else bad "status list counters off (uri|used|credentials): $(tr '\n' ' ' <"$T/out")"; fi
run 0 "registry: batches issued" sql "$DB" "SELECT count(*) FROM batches WHERE copies = 3"
if [[ $(cat "$T/out") -ge $((got + 2)) ]]; then ok; else bad "$(cat "$T/out") batches of 3 in the registry, want >= $((got + 2))"; fi
run 0 "registry: integrity" sql "$DB" "PRAGMA integrity_check"
grep_in "$T/out" "^ok$" "registry integrity"
run 0 "wallet list after the kills" tes wallet list --wallet "$T/phone" --json
json "every stored credential is complete" 'j.every(c => c.copies === 3 || c.copies === 1)'

finish
