#!/usr/bin/env bash
# CLI wallet test: vendor init, wallet init (soft SE with a vendor, PKCS#11 on a SoftHSM2
# token), PIN set/change/unblock/status through --pin-fd (wrong PIN with tries left, lockout
# after 5, unblock with the PUK), keygen (with attestation), issue to a wallet key, wallet add
# (one copy and a single-use batch of 3), present from the wallet (signature and MAC), verify,
# wallet list and log, and that no private key is found in the wallet directory.
# Needs: $TESSERA_BIN, openssl, xxd, node; for the PKCS#11 part softhsm2-util and
# /usr/lib/softhsm/libsofthsm2.so (installed by scripts/deps.sh; absent = failure).
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
# run WANT_RC NAME CMD... — runs CMD with stdout in $T/out, stderr in $T/err.
# runpins WANT_RC NAME 'LINES' CMD... — like run, with LINES (printf format) on fd 3.
runpins() {
    local want=$1 name=$2 lines=$3
    shift 3
    local rc=0
    "$@" 3< <(printf "$lines") >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc == "$want" ]]; then ok; else bad "$name: exit $rc, want $want"; fi
}
mode_is() {
    local m
    m=$(stat -c %a "$1")
    if [[ $m == "$2" ]]; then ok; else bad "mode of $1 is $m, want $2"; fi
}
# private_key_hits DIR: the files of DIR holding private key material: PEM private key text,
# a SEC1 EC private key DER (30 77 02 01 01 04 20 ...) or a PKCS#8 P-256 DER prefix.
private_key_hits() {
    local f hex
    while IFS= read -r -d '' f; do
        hex=$(xxd -p "$f" | tr -d '\n')
        if grep -q "PRIVATE KEY" "$f" || [[ $hex == *30770201010420* ]] ||
            [[ $hex == *308187020100301306072a8648ce3d0201* ]]; then
            echo "$f"
        fi
    done < <(find "$1" -type f -print0)
}
no_private_keys() {
    local hits
    hits=$(private_key_hits "$1")
    if [[ -z $hits ]]; then ok; else bad "private key material in: $hits"; fi
}

PID=eu.europa.ec.eudi.pid.1
echo 83f6f6826c746573736572612d746573744401020304 | xxd -r -p >"$T/st.cbor"
mkdir -p "$T/claims"
cat >"$T/claims/pid.json" <<'EOF'
{"eu.europa.ec.eudi.pid.1": {
  "family_name": "Mustermann", "given_name": "Erika", "birth_date": "1984-01-26",
  "age_over_18": true, "issuing_authority": "Utopia", "issuing_country": "UT",
  "expiry_date": "2031-11-26", "nationality": "UT"}}
EOF

# ---------------------------------------------------------------- help
run 0 "wallet --help" tes wallet --help
grep_in "$T/out" "wallet keygen" "wallet --help lists subcommands"
run 0 "wallet pin --help" tes wallet pin --help
grep_in "$T/out" "new PIN, new PIN again, new PUK, new PUK again" "pin --help gives the order"
run 0 "help wallet keygen" tes help wallet keygen
grep_in "$T/out" "attestation-out" "help wallet keygen"
run 0 "wallet add --help" tes wallet add --help
run 0 "vendor --help" tes vendor --help
run 0 "--help lists wallet" tes --help
grep_in "$T/out" "wallet" "--help lists wallet"
run 0 "present --help" tes present --help
grep_in "$T/out" "--credential" "present --help mentions --credential"
run 2 "wallet without subcommand" tes wallet
run 2 "wallet unknown subcommand" tes wallet frob
run 2 "wallet list without --wallet" tes wallet list
run 2 "wallet pin unknown action" tes wallet pin reset --wallet "$T/w"
run 2 "help wallet unknown" tes help wallet frob

# ---------------------------------------------------------------- vendor, authority
run 0 "vendor init" tes vendor init --dir "$T/vendor" --name "Utopia Chip Works"
[[ -s $T/vendor/vendor.pem && -s $T/vendor/vendor_key.pem ]] && ok || bad "vendor files"
mode_is "$T/vendor" 700
mode_is "$T/vendor/vendor_key.pem" 600
run 2 "vendor init twice" tes vendor init --dir "$T/vendor"
run 0 "authority init" tes authority init --dir "$T/auth" --name "Utopia Ministry" --country UT

# ---------------------------------------------------------------- wallet init
W=$T/w
run 2 "list: not a wallet" tes wallet list --wallet "$W"
grep_in "$T/err" "does not exist" "not a wallet message"
run 2 "init: bad --se" tes wallet init --dir "$W" --se tpm
run 2 "init: --vendor not a vendor dir" tes wallet init --dir "$W" --vendor "$T/auth"
run 0 "wallet init (soft, vendor)" tes wallet init --dir "$W" --vendor "$T/vendor"
grep_in "$T/out" "secure element: soft" "init names the backend"
mode_is "$W" 700
[[ -s $W/wallet.db && -d $W/se ]] && ok || bad "wallet.db and se/ created"
run 2 "wallet init twice" tes wallet init --dir "$W"
grep_in "$T/err" "already holds a wallet" "init twice message"
run 0 "wallet list (empty)" tes wallet list --wallet "$W"
grep_in "$T/out" "no credentials" "empty list"
run 0 "wallet list --json (empty)" tes wallet list --wallet "$W" --json
json "empty list json" 'Array.isArray(j) && j.length === 0'

# ---------------------------------------------------------------- PIN
run 0 "pin status (not set)" tes wallet pin status --wallet "$W"
grep_in "$T/out" "not set" "pin status not set"
run 2 "pin set: no terminal, no --pin-fd" setsid -w "$TESSERA_BIN" wallet pin set --wallet "$W" </dev/null
grep_in "$T/err" "pin-fd" "no terminal message"
runpins 2 "pin set: confirmation differs" '123456\n654321\n12345678\n12345678\n' \
    tes wallet pin set --wallet "$W" --pin-fd 3
grep_in "$T/err" "differ" "confirmation differs message"
runpins 2 "pin set: too few lines" '123456\n123456\n' tes wallet pin set --wallet "$W" --pin-fd 3
grep_in "$T/err" "ended before" "too few lines message"
run 2 "pin set: fd not open" tes wallet pin set --wallet "$W" --pin-fd 9
runpins 2 "pin set: malformed PIN" '12\n12\n12345678\n12345678\n' tes wallet pin set --wallet "$W" --pin-fd 3
run 0 "pin status still not set" tes wallet pin status --wallet "$W"
grep_in "$T/out" "not set" "failed pin set left no PIN"
runpins 0 "pin set" '123456\n123456\n12345678\n12345678\n' tes wallet pin set --wallet "$W" --pin-fd 3
runpins 2 "pin set twice" '111111\n111111\n12345678\n12345678\n' tes wallet pin set --wallet "$W" --pin-fd 3
runpins 1 "pin change: wrong current PIN" '000000\n222222\n222222\n' tes wallet pin change --wallet "$W" --pin-fd 3
grep_in "$T/err" "pin_wrong" "wrong PIN code named"
grep_in "$T/err" "4 PIN tries left" "wrong PIN: tries left"
runpins 0 "pin change" '123456\n222222\n222222\n' tes wallet pin change --wallet "$W" --pin-fd 3
run 0 "pin status after change" tes wallet pin status --wallet "$W"
grep_in "$T/out" "tries left: 5 of 5" "a right PIN resets the tries"

# ---------------------------------------------------------------- keygen, issue, add
run 0 "keygen --uv --attest" tes wallet keygen --wallet "$W" --uv --attest --challenge 00112233 \
    --out "$T/k1.pem" --attestation-out "$T/k1.att"
K1=$(head -1 "$T/out")
[[ $K1 =~ ^[A-Za-z0-9._-]+$ ]] && ok || bad "keygen prints a key id ('$K1')"
openssl pkey -pubin -in "$T/k1.pem" -noout 2>"$T/err" && ok || bad "keygen public key is PEM"
[[ -s $T/k1.att ]] && ok || bad "attestation written"
run 0 "inspect attestation" tes inspect "$T/k1.att"
grep_in "$T/out" "^\[" "attestation is a CBOR array"
run 2 "keygen --attest without --attestation-out" tes wallet keygen --wallet "$W" --attest
run 2 "keygen bad challenge" tes wallet keygen --wallet "$W" --attestation-out "$T/x.att" --challenge xyz
run 0 "keygen plain (PEM on stdout)" tes wallet keygen --wallet "$W"
grep_in "$T/out" "BEGIN PUBLIC KEY" "keygen without --out prints the PEM"

run 0 "issue --wallet --key" tes issue --authority "$T/auth" --doctype $PID --claims "$T/claims/pid.json" \
    --wallet "$W" --key "$K1" --out "$T/pid1.mdoc"
run 1 "issue --wallet unknown key" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --wallet "$W" --key 00nope --out "$T/x.mdoc"
run 2 "issue --key without --wallet" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --key "$K1" --out "$T/x.mdoc"
run 2 "issue --wallet and --device-key" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --wallet "$W" --key "$K1" --device-key "$T/k1.pem" --out "$T/x.mdoc"
# the same credential issued to the public key file is bound to the same key
run 0 "issue to the keygen PEM" tes issue --authority "$T/auth" --doctype $PID --claims "$T/claims/pid.json" \
    --device-key "$T/k1.pem" --out "$T/pid1b.mdoc"

# the issuer checks the key attestation before binding
run 0 "issue with an accepted attestation" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --device-key "$T/k1.pem" --attestation "$T/k1.att" \
    --vendor-root "$T/vendor/vendor.pem" --challenge 00112233 --require-uv --out "$T/pid1c.mdoc"
grep_in "$T/err" "attested: in a soft secure element, needs the PIN" "attestation summary"
run 1 "attestation with another challenge" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --device-key "$T/k1.pem" --attestation "$T/k1.att" \
    --vendor-root "$T/vendor/vendor.pem" --challenge 0011223344 --out "$T/x.mdoc"
grep_in "$T/err" "attestation" "wrong challenge names the attestation"
tes vendor init --dir "$T/vendor2" --name "Other Chips" >/dev/null 2>&1
run 1 "attestation from an untrusted vendor" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --device-key "$T/k1.pem" --attestation "$T/k1.att" \
    --vendor-root "$T/vendor2/vendor.pem" --challenge 00112233 --out "$T/x.mdoc"
tes wallet keygen --wallet "$W" --attest --challenge 00112233 --out "$T/k0.pem" \
    --attestation-out "$T/k0.att" >/dev/null 2>&1
run 1 "attestation of another key" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --device-key "$T/k1.pem" --attestation "$T/k0.att" \
    --vendor-root "$T/vendor/vendor.pem" --challenge 00112233 --out "$T/x.mdoc"
grep_in "$T/err" "another key" "attestation of another key"
run 1 "policy: PIN-less key refused" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --device-key "$T/k0.pem" --attestation "$T/k0.att" \
    --vendor-root "$T/vendor/vendor.pem" --challenge 00112233 --require-uv --out "$T/x.mdoc"
[[ ! -e $T/x.mdoc ]] && ok || bad "nothing issued when the attestation is refused"
run 2 "--attestation without --vendor-root" tes issue --authority "$T/auth" --doctype $PID \
    --claims "$T/claims/pid.json" --device-key "$T/k1.pem" --attestation "$T/k1.att" --out "$T/x.mdoc"

# an mdoc bound to a key outside the wallet
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/ext.pem"
run 0 "issue to an outside key" tes issue --authority "$T/auth" --doctype $PID --claims "$T/claims/pid.json" \
    --device-key "$T/ext.pem" --out "$T/ext.mdoc"
run 1 "add: no matching key" tes wallet add --wallet "$W" --mdoc "$T/ext.mdoc"
grep_in "$T/err" "no key" "no matching key message"
printf 'garbage' >"$T/garbage.mdoc"
run 1 "add: not an mdoc" tes wallet add --wallet "$W" --mdoc "$T/garbage.mdoc"
run 2 "add: missing file" tes wallet add --wallet "$W" --mdoc "$T/nope.mdoc"
run 2 "add: no --mdoc" tes wallet add --wallet "$W"
run 1 "add: two copies on one key" tes wallet add --wallet "$W" --mdoc "$T/pid1.mdoc" --mdoc "$T/pid1b.mdoc"

run 0 "wallet add" tes wallet add --wallet "$W" --mdoc "$T/pid1.mdoc" --name "My eID"
C1=$(head -1 "$T/out")
[[ $C1 =~ ^[0-9]+$ ]] && ok || bad "add prints the credential id ('$C1')"
grep_in "$T/err" "needs the PIN" "add notes the PIN"
run 1 "wallet add: the same mdoc again" tes wallet add --wallet "$W" --mdoc "$T/pid1.mdoc"
grep_in "$T/err" "already belongs to a copy of credential.*already_exists" "add twice: refused as such"
run 0 "wallet list" tes wallet list --wallet "$W"
grep_in "$T/out" "My eID" "list shows the name"
grep_in "$T/out" "$PID" "list shows the doctype"
grep_in "$T/out" "Utopia Ministry Document Signer" "list shows the issuer"
grep_in "$T/out" "copies left: 1 of 1" "list shows copies"
run 0 "wallet list --json" tes wallet list --wallet "$W" --json
json "list json" "j.length === 1 && j[0].id === $C1 && j[0].docType === '$PID' && j[0].name === 'My eID' &&
    j[0].issuer.includes('Utopia Ministry Document Signer') && j[0].copies === 1 && j[0].copiesLeft === 1 &&
    j[0].singleUse === false && j[0].needsPin === true && /Z\$/.test(j[0].validFrom) && Date.parse(j[0].validUntil) > Date.parse(j[0].validFrom)"

# ---------------------------------------------------------------- present from the wallet
runpins 0 "present --wallet (PIN from fd)" '222222\n' tes present --wallet "$W" --credential "$C1" \
    --pin-fd 3 --elements family_name,age_over_18 --transcript "$T/st.cbor" --out "$T/r1.cbor"
grep_in "$T/err" "presented 2 of 2" "present summary"
run 0 "verify wallet response" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/r1.cbor"
json "wallet response valid" "j.valid === true && j.documents[0].deviceAuth === 'signature' &&
    j.documents[0].elements['$PID'].family_name === 'Mustermann'"

run 2 "present: unknown credential" tes present --wallet "$W" --credential 999 \
    --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
run 2 "present: --wallet and --mdoc" tes present --wallet "$W" --credential "$C1" --mdoc "$T/pid1.mdoc" \
    --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
run 2 "present: --wallet without --credential" tes present --wallet "$W" \
    --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
run 2 "present: --pin-fd without --wallet" tes present --mdoc "$T/pid1.mdoc" --device-key "$T/ext.pem" \
    --pin-fd 0 --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"

# device MAC: the soft SE may release the ECDH result
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/reader.pem"
openssl pkey -in "$T/reader.pem" -pubout -out "$T/reader_pub.pem" 2>/dev/null
runpins 0 "present --wallet --mac" '222222\n' tes present --wallet "$W" --credential "$C1" --pin-fd 3 \
    --elements family_name --transcript "$T/st.cbor" --mac --reader-pub "$T/reader_pub.pem" --out "$T/rmac.cbor"
run 0 "verify MAC response" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" \
    --reader-key "$T/reader.pem" --json "$T/rmac.cbor"
json "MAC response valid" "j.valid === true && j.documents[0].deviceAuth === 'mac'"

# ---------------------------------------------------------------- wrong PIN, lockout, unblock
runpins 1 "present: wrong PIN" '999999\n' tes present --wallet "$W" --credential "$C1" --pin-fd 3 \
    --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
grep_in "$T/err" "pin_wrong" "present wrong PIN code"
grep_in "$T/err" "4 PIN tries left" "present wrong PIN: tries left"
[[ ! -e $T/x.cbor ]] && ok || bad "no response written on a wrong PIN"
for left in 3 2 1; do
    runpins 1 "wrong PIN ($left left)" '999999\n' tes present --wallet "$W" --credential "$C1" --pin-fd 3 \
        --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
    grep_in "$T/err" "$left PIN tries left" "tries left $left"
done
runpins 1 "5th wrong PIN locks" '999999\n' tes present --wallet "$W" --credential "$C1" --pin-fd 3 \
    --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
grep_in "$T/err" "locked" "5th wrong PIN: locked"
runpins 1 "right PIN after lockout refused" '222222\n' tes present --wallet "$W" --credential "$C1" \
    --pin-fd 3 --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
grep_in "$T/err" "pin_locked" "locked PIN code"
run 0 "pin status locked" tes wallet pin status --wallet "$W"
grep_in "$T/out" "locked" "status says locked"
runpins 1 "pin change while locked" '222222\n333333\n333333\n' tes wallet pin change --wallet "$W" --pin-fd 3
runpins 1 "unblock: wrong PUK" '87654321\n333333\n333333\n' tes wallet pin unblock --wallet "$W" --pin-fd 3
grep_in "$T/err" "puk_wrong" "wrong PUK code"
grep_in "$T/err" "9 PUK tries left" "wrong PUK: tries left"
runpins 0 "unblock with the PUK" '12345678\n333333\n333333\n' tes wallet pin unblock --wallet "$W" --pin-fd 3
runpins 0 "present with the new PIN" '333333\n' tes present --wallet "$W" --credential "$C1" --pin-fd 3 \
    --elements given_name --transcript "$T/st.cbor" --out "$T/r2.cbor"
run 0 "verify after unblock" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" "$T/r2.cbor"
grep_in "$T/out" "^VALID" "valid after unblock"

# ---------------------------------------------------------------- single-use batch of 3
ks=()
for i in 1 2 3; do
    run 0 "keygen --single-use $i" tes wallet keygen --wallet "$W" --single-use --out "$T/s$i.pem"
    ks+=("$(head -1 "$T/out")")
    run 0 "issue copy $i" tes issue --authority "$T/auth" --doctype $PID --claims "$T/claims/pid.json" \
        --wallet "$W" --key "${ks[$((i - 1))]}" --out "$T/batch$i.mdoc"
done
run 0 "add the batch" tes wallet add --wallet "$W" --mdoc "$T/batch1.mdoc" --mdoc "$T/batch2.mdoc" \
    --mdoc "$T/batch3.mdoc" --name "eID batch"
C2=$(head -1 "$T/out")
grep_in "$T/err" "3 single-use copies" "batch summary"
run 1 "add: single-use and uv copies mixed" tes wallet add --wallet "$W" --mdoc "$T/batch1.mdoc" \
    --mdoc "$T/pid1.mdoc"
run 0 "list --json after batch" tes wallet list --wallet "$W" --json
json "batch listed" "j.length === 2 && j.some(c => c.id === $C2 && c.copies === 3 && c.copiesLeft === 3 &&
    c.singleUse === true && c.needsPin === false)"
# nothing written, nothing disclosed: no single-use copy spent, nothing logged as disclosed
run 2 "present to an unwritable --out" tes present --wallet "$W" --credential "$C2" \
    --elements family_name --transcript "$T/st.cbor" --out "$T/nonexistent/r.cbor"
grep_in "$T/err" "the response cannot be written" "unwritable --out named"
run 1 "present of unknown elements only" tes present --wallet "$W" --credential "$C2" \
    --elements no_such_element,nor_this_one --transcript "$T/st.cbor" --out "$T/none.cbor"
grep_in "$T/err" "no copy spent" "unknown elements: no copy spent"
[[ ! -e $T/none.cbor ]] && ok || bad "a response without elements was written"
run 0 "list --json after the refused presents" tes wallet list --wallet "$W" --json
json "no copy spent by refused presents" "j.some(c => c.id === $C2 && c.copiesLeft === 3)"
run 0 "log --json after the refused presents" tes wallet log --wallet "$W" --json
json "refused presents not logged as disclosed" "!j.some(e => e.credential === $C2 && e.outcome === 'disclosed')"
declare -A seen=()
for i in 1 2 3; do
    run 0 "batch present $i" tes present --wallet "$W" --credential "$C2" \
        --elements family_name --transcript "$T/st.cbor" --out "$T/b$i.cbor"
    run 0 "batch verify $i" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/b$i.cbor"
    json "batch response $i valid" 'j.valid === true'
    # each copy carries its own issuer signature (different MSO): unlinkable
    sig=$(xxd -p "$T/b$i.cbor" | tr -d '\n' | sha256sum | cut -c1-16)
    seen[$sig]=1
done
[[ ${#seen[@]} == 3 ]] && ok || bad "the 3 presentations are 3 different copies"
run 1 "4th present: every copy spent" tes present --wallet "$W" --credential "$C2" \
    --elements family_name --transcript "$T/st.cbor" --out "$T/b4.cbor"
grep_in "$T/err" "key_used" "4th present fails with key_used"
[[ ! -e $T/b4.cbor ]] && ok || bad "no 4th response"
run 0 "list --json after the batch is spent" tes wallet list --wallet "$W" --json
json "batch spent" "j.some(c => c.id === $C2 && c.copiesLeft === 0)"
json "reusable credential still there after presenting" "j.some(c => c.id === $C1 && c.copiesLeft === 1)"
run 0 "list after the batch is spent" tes wallet list --wallet "$W"
grep_in "$T/out" "copies left: 0 of 3 (single-use)" "list: batch spent"

# ---------------------------------------------------------------- log
run 0 "wallet log" tes wallet log --wallet "$W"
grep_in "$T/out" "unknown reader" "log names the relying party"
grep_in "$T/out" "$PID/family_name" "log names elements"
run 0 "wallet log --json" tes wallet log --wallet "$W" --json
json "log: presentations disclosed" "j.filter(e => e.outcome === 'disclosed').length === 6"
json "log: batch presentations" "j.filter(e => e.credential === $C2 && e.outcome === 'disclosed').length === 3"
json "log: wrong PINs logged" "j.filter(e => e.outcome === 'failed: pin_wrong').length >= 4"
json "log: locked PIN logged" "j.some(e => e.outcome === 'failed: pin_locked')"
json "log: the spent batch logged" "j.some(e => e.credential === $C2 && e.outcome === 'failed: key_used')"
json "log: elements" "j.some(e => e.credential === $C1 && e.outcome === 'disclosed' &&
    e.elements.length === 2 && e.elements[0].namespace === '$PID' && e.relyingParty === 'unknown reader')"

# ---------------------------------------------------------------- a store truncated to 0 bytes
# is refused as such, not silently replaced by a new empty store ("names no secure element")
cp -r "$W" "$T/trunc"
: >"$T/trunc/wallet.db"
rm -f "$T/trunc/wallet.db-wal" "$T/trunc/wallet.db-shm"
run 1 "list: empty wallet.db" tes wallet list --wallet "$T/trunc"
grep_in "$T/err" "wallet.db is empty (0 bytes).*store_corrupt" "empty store: named as such"
no_grep_in "$T/err" "names no secure element" "empty store: not reported as a missing setting"
[[ ! -s $T/trunc/wallet.db ]] && ok || bad "the empty store was recreated"

# ---------------------------------------------------------------- no private key in the wallet
no_private_keys "$W"
# the check itself finds a private key where there is one
mkdir -p "$T/leak"
cp "$T/ext.pem" "$T/leak/"
openssl pkey -in "$T/ext.pem" -outform DER -out "$T/leak/pkcs8.der" 2>/dev/null
openssl ec -in "$T/ext.pem" -outform DER -out "$T/leak/sec1.der" 2>/dev/null
[[ $(private_key_hits "$T/leak" | wc -l) == 3 ]] && ok || bad "the private-key check misses keys"

# ---------------------------------------------------------------- PKCS#11 (SoftHSM2)
MODULE=/usr/lib/softhsm/libsofthsm2.so
if command -v softhsm2-util >/dev/null && [[ -e $MODULE ]]; then
    H=$T/hsm
    mkdir -p "$H/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$H" >"$H/softhsm2.conf"
    export SOFTHSM2_CONF=$H/softhsm2.conf
    run 0 "softhsm2 init token" softhsm2-util --init-token --free --label t --so-pin 12345678 --pin 123456
    P=$T/pw
    run 2 "pkcs11 wallet: missing module" tes wallet init --dir "$T/pw_bad" --se pkcs11:/nonexistent/libnope.so
    grep_in "$T/err" "se_module" "missing module code"
    run 2 "pkcs11 wallet: no such token" tes wallet init --dir "$T/pw_bad2" --se "pkcs11:$MODULE:nosuchlabel"
    grep_in "$T/err" "se_no_token" "no token code"
    run 2 "pkcs11 wallet: --vendor refused" tes wallet init --dir "$T/pw_bad3" --se "pkcs11:$MODULE:t" \
        --vendor "$T/vendor"
    run 0 "pkcs11 wallet init" tes wallet init --dir "$P" --se "pkcs11:$MODULE:t"
    grep_in "$T/out" "secure element: pkcs11" "pkcs11 init names the backend"
    cp "$T/out" "$T/p_init.out"
    runpins 1 "pkcs11 pin set: wrong PUK (SO PIN)" '123456\n123456\n87654321\n87654321\n' \
        tes wallet pin set --wallet "$P" --pin-fd 3
    runpins 0 "pkcs11 pin set" '123456\n123456\n12345678\n12345678\n' tes wallet pin set --wallet "$P" --pin-fd 3
    runpins 0 "pkcs11 keygen" '123456\n' tes wallet keygen --wallet "$P" --out "$T/p1.pem" --pin-fd 3
    PK=$(head -1 "$T/out")
    run 0 "pkcs11 issue" tes issue --authority "$T/auth" --doctype $PID --claims "$T/claims/pid.json" \
        --wallet "$P" --key "$PK" --out "$T/p1.mdoc"
    run 0 "pkcs11 add" tes wallet add --wallet "$P" --mdoc "$T/p1.mdoc" --name "eID on a token"
    PC=$(head -1 "$T/out")
    runpins 0 "pkcs11 present" '123456\n' tes present --wallet "$P" --credential "$PC" --pin-fd 3 \
        --elements family_name,age_over_18 --transcript "$T/st.cbor" --out "$T/p1.cbor"
    run 0 "pkcs11 verify" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/p1.cbor"
    json "pkcs11 response valid" "j.valid === true && j.documents[0].elements['$PID'].age_over_18 === true"
    runpins 1 "pkcs11 present: wrong PIN" '000000\n' tes present --wallet "$P" --credential "$PC" --pin-fd 3 \
        --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
    grep_in "$T/err" "PIN tries left" "pkcs11 wrong PIN: tries left"
    # MAC only when the token lets the ECDH result out (SoftHSM2 does)
    if grep -q "ecdh-export" "$T/p_init.out"; then
        runpins 0 "pkcs11 present --mac" '123456\n' tes present --wallet "$P" --credential "$PC" --pin-fd 3 \
            --elements family_name --transcript "$T/st.cbor" --mac --reader-pub "$T/reader_pub.pem" \
            --out "$T/pmac.cbor"
        run 0 "pkcs11 verify MAC" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" \
            --reader-key "$T/reader.pem" "$T/pmac.cbor"
    else
        runpins 1 "pkcs11 present --mac refused" '123456\n' tes present --wallet "$P" --credential "$PC" \
            --pin-fd 3 --elements family_name --transcript "$T/st.cbor" --mac \
            --reader-pub "$T/reader_pub.pem" --out "$T/pmac.cbor"
        grep_in "$T/err" "ecdh-export" "MAC refusal explained"
    fi
    run 0 "pkcs11 log" tes wallet log --wallet "$P" --json
    json "pkcs11 log" "j.some(e => e.credential === $PC && e.outcome === 'disclosed')"
    no_private_keys "$P"
    unset SOFTHSM2_CONF
else
    # scripts/deps.sh installs SoftHSM2: its absence is a failure, not a skip
    echo "FAIL: softhsm2-util or $MODULE missing (run scripts/deps.sh)" >&2
    fail=$((fail + 1))
fi

echo "wallet.sh: $pass passed, $fail failed"
[[ $fail == 0 ]]
