#!/usr/bin/env bash
# The Tessera story so far, played with the `tessera` tool: an authority issues an eID (PID)
# to a phone whose wallet keeps the key in its (software) secure element, the phone shows part
# of it to a hotel's front-desk reader after the holder's PIN, the reader verifies it offline,
# and a tampered copy is rejected.
#
#   make demo                      (builds first; binary build/tessera)
#   TESSERA_BIN=/path/to/tessera bash scripts/demo.sh
#
# Needs xxd. Exits non-zero if any step fails.
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
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
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

step "The story so far plays end to end."
