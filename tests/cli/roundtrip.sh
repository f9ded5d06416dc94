#!/usr/bin/env bash
# CLI round trip: authority init, issue (mDL, PID, custom doctype), present (signature and
# MAC, --elements and --request), verify (human and --json), and the ways verification and
# issuing must fail. Needs: $TESSERA_BIN, openssl, node.
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
TES_VECTORS=${TES_VECTORS:-tests/vectors}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

# mode_is FILE OCTAL
mode_is() {
    local m
    m=$(stat -c %a "$1")
    if [[ $m == "$2" ]]; then ok; else bad "mode of $1 is $m, want $2"; fi
}

iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# ---------------------------------------------------------------- help
run 0 "--help" tes --help
grep_in "$T/out" "verify" "--help lists commands"
run 0 "--version" tes --version
grep_in "$T/out" "^tessera [0-9]" "--version"
run 0 "issue --help" tes issue --help
grep_in "$T/out" "--device-key" "issue --help"
run 0 "help verify" tes help verify
grep_in "$T/out" "exit status" "help verify"
run 2 "unknown command" tes frobnicate
run 2 "no command" tes
run 2 "unknown option" tes verify --bogus

# ---------------------------------------------------------------- authority
run 0 "authority init" tes authority init --dir "$T/auth" --name "Utopia Ministry of Interior" --country UT
for f in iaca.pem iaca_key.pem ds.pem ds_key.pem; do
    [[ -s $T/auth/$f ]] && ok || bad "authority: $f missing"
done
mode_is "$T/auth" 700
mode_is "$T/auth/iaca_key.pem" 600
mode_is "$T/auth/ds_key.pem" 600
mode_is "$T/auth/ds.pem" 644
openssl x509 -in "$T/auth/iaca.pem" -noout -subject >"$T/out" 2>"$T/err" && ok || bad "openssl reads iaca.pem"
grep_in "$T/out" "Utopia Ministry of Interior IACA" "IACA CN"
openssl x509 -in "$T/auth/ds.pem" -noout -text >"$T/out" 2>"$T/err" && ok || bad "openssl reads ds.pem"
grep_in "$T/out" "1.0.18013.5.1.2" "DS EKU"
grep_in "$T/out" "C = UT, CN = Utopia Ministry of Interior Document Signer" "DS subject"
openssl verify -CAfile "$T/auth/iaca.pem" "$T/auth/ds.pem" >"$T/out" 2>"$T/err" && ok || bad "openssl verifies DS under IACA"

run 2 "authority init twice" tes authority init --dir "$T/auth"
grep_in "$T/err" "already" "authority init twice"
cp "$T/auth/iaca.pem" "$T/iaca_before.pem"
cmp -s "$T/auth/iaca.pem" "$T/iaca_before.pem" && ok || bad "refused init left iaca.pem alone"
run 0 "authority init --force" tes authority init --dir "$T/auth2"
run 0 "authority init --force" tes authority init --dir "$T/auth2" --force
run 2 "authority bad country" tes authority init --dir "$T/auth3" --country utopia
run 0 "other authority" tes authority init --dir "$T/other" --name Elsewhere --country EW

# A directory that will hold secrets must be the caller's own and writable by nobody else:
# another user could otherwise swap the keys written there. Refused before anything is written.
mkdir "$T/open" && chmod 0777 "$T/open"
mkdir "$T/groupw" && chmod 0770 "$T/groupw"
mkdir "$T/theirs" && chmod 0700 "$T/theirs"
THEIRS=$T/theirs
chown 65534 "$T/theirs" 2>/dev/null || THEIRS=/ # not root: a directory of root's will do
run 2 "authority init: world-writable dir" tes authority init --dir "$T/open"
grep_in "$T/err" "writable by other users (mode 0777)" "world-writable dir message"
run 2 "authority init: group-writable dir" tes authority init --dir "$T/groupw"
grep_in "$T/err" "writable by its group" "group-writable dir message"
run 2 "authority init: another user's dir" tes authority init --dir "$THEIRS"
grep_in "$T/err" "owned by another user" "another user's dir message"
run 2 "vendor init: world-writable dir" tes vendor init --dir "$T/open" --name V
grep_in "$T/err" "vendor init: .* writable by other users" "vendor init message"
run 2 "reader-ca init: another user's dir" tes reader-ca init --dir "$THEIRS" --name R
grep_in "$T/err" "owned by another user" "reader-ca init message"
run 2 "wallet init: group-writable dir" tes wallet init --dir "$T/groupw"
grep_in "$T/err" "wallet init: .* writable by its group" "wallet init message"
[[ -z $(find "$T/open" "$T/groupw" -mindepth 1) ]] && ok || bad "refused inits wrote files"
chmod 0700 "$T/open"
run 0 "authority init: own 0700 dir" tes authority init --dir "$T/open"

# ---------------------------------------------------------------- keys and claims
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/dev.pem"
openssl pkey -in "$T/dev.pem" -pubout -out "$T/dev_pub.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/reader_sec1.pem" 2>/dev/null # SEC1 form
openssl pkey -in "$T/reader_sec1.pem" -pubout -out "$T/reader_pub.pem" 2>/dev/null

# a 1x1 PNG
printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' |
    base64 -d >"$T/portrait.png"
PORTRAIT_B64U=$(node -e 'process.stdout.write(require("fs").readFileSync(process.argv[1]).toString("base64url"))' "$T/portrait.png")

mkdir -p "$T/claims"
cp "$T/portrait.png" "$T/claims/portrait.png"
cat >"$T/claims/pid.json" <<'EOF'
{"eu.europa.ec.eudi.pid.1": {
  "family_name": "Mustermann", "given_name": "Erika", "birth_date": "1984-01-26",
  "age_over_18": true, "age_over_21": true, "issuing_authority": "Utopia Ministry of Interior",
  "issuing_country": "UT", "expiry_date": "2031-11-26", "issuance_date": "2026-11-26",
  "document_number": "UT1234567", "nationality": "UT", "portrait": {"file": "portrait.png"}}}
EOF
cat >"$T/claims/mdl.json" <<'EOF'
{"org.iso.18013.5.1": {
  "family_name": "Doe", "given_name": "John", "birth_date": "1990-05-01",
  "issue_date": "2024-01-02", "expiry_date": "2034-01-01", "issuing_country": "UT",
  "issuing_authority": "Utopia DMV", "document_number": "DL-0042", "portrait": {"file": "portrait.png"},
  "driving_privileges": [{"vehicle_category_code": "A", "issue_date": "2018-08-09", "expiry_date": "2034-01-01"},
                         {"vehicle_category_code": "B", "issue_date": "2017-02-23", "expiry_date": "2034-01-01"}],
  "un_distinguishing_sign": "UT", "age_over_18": true, "height": 180},
 "org.iso.18013.5.1.UT": {"organ_donor": true}}
EOF

# ---------------------------------------------------------------- issue
run 0 "issue PID" tes issue --authority "$T/auth" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "$T/claims/pid.json" --device-key "$T/dev_pub.pem" --out "$T/pid.mdoc"
grep_in "$T/err" "issued eu.europa.ec.eudi.pid.1 with 12 elements" "issue PID summary"
mode_is "$T/pid.mdoc" 600 # personal data: the owner's only
run 0 "issue mDL" tes issue --authority "$T/auth" --doctype org.iso.18013.5.1.mDL \
    --claims "$T/claims/mdl.json" --device-key "$T/dev.pem" --valid-days 30 --decoys 0 --out "$T/mdl.mdoc"
run 0 "inspect mdoc" tes inspect "$T/pid.mdoc"
grep_in "$T/out" '"docType": "eu.europa.ec.eudi.pid.1"' "inspect mdoc docType"
grep_in "$T/out" "24(<<" "inspect unwraps tag 24"

# issuing failures
sed 's/"nationality": "UT"/"nationality": "UT", "favourite_colour": "blue"/' "$T/claims/pid.json" >"$T/claims/unknown.json"
run 1 "issue unknown element" tes issue --authority "$T/auth" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "$T/claims/unknown.json" --device-key "$T/dev_pub.pem" --out "$T/x.mdoc"
grep_in "$T/err" "favourite_colour" "unknown element named"
sed 's/"age_over_18": true/"age_over_18": "yes"/' "$T/claims/pid.json" >"$T/claims/wrongtype.json"
run 1 "issue wrong type" tes issue --authority "$T/auth" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "$T/claims/wrongtype.json" --device-key "$T/dev_pub.pem" --out "$T/x.mdoc"
grep_in "$T/err" "age_over_18" "wrong-type element named"
sed 's/"family_name": "Mustermann", //' "$T/claims/pid.json" >"$T/claims/missing.json"
run 1 "issue without a mandatory element" tes issue --authority "$T/auth" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "$T/claims/missing.json" --device-key "$T/dev_pub.pem" --out "$T/x.mdoc"
grep_in "$T/err" "family_name" "missing mandatory element named"
run 2 "issue unknown doctype" tes issue --authority "$T/auth" --doctype org.example.nope \
    --claims "$T/claims/pid.json" --device-key "$T/dev_pub.pem" --out "$T/x.mdoc"
grep_in "$T/err" "org.example.nope" "unknown doctype named"
grep_in "$T/err" "eu.europa.ec.eudi.pid.1" "known doctypes listed"
run 2 "issue missing --out" tes issue --authority "$T/auth" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "$T/claims/pid.json" --device-key "$T/dev_pub.pem"
run 2 "issue missing device key file" tes issue --authority "$T/auth" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "$T/claims/pid.json" --device-key "$T/nope.pem" --out "$T/x.mdoc"
echo "not a key" >"$T/garbage.pem"
run 2 "issue unreadable device key" tes issue --authority "$T/auth" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "$T/claims/pid.json" --device-key "$T/garbage.pem" --out "$T/x.mdoc"
[[ ! -e $T/x.mdoc ]] && ok || bad "failed issue wrote an output"

# custom doctype from a table
cat >"$T/loyalty_table.json" <<'EOF'
{"docType": "org.example.loyalty.1", "namespace": "org.example.loyalty.1",
 "elements": [{"name": "member_id", "type": "tstr", "mandatory": true},
              {"name": "tier", "type": "uint", "mandatory": false}]}
EOF
echo '{"org.example.loyalty.1": {"member_id": "M-77", "tier": 3}}' >"$T/claims/loyalty.json"
run 0 "issue custom doctype" tes issue --authority "$T/auth" --doctype org.example.loyalty.1 \
    --doctype-table "$T/loyalty_table.json" --claims "$T/claims/loyalty.json" \
    --device-key "$T/dev_pub.pem" --out "$T/loyalty.mdoc"

# ---------------------------------------------------------------- transcripts
# SessionTranscript [null, null, ["tessera-test", h'01020304']] and a different one
echo 83f6f6826c746573736572612d746573744401020304 | xxd -r -p >"$T/st.cbor"
echo 83f6f6826c746573736572612d746573744401020305 | xxd -r -p >"$T/st_other.cbor"
# the same transcript as SessionTranscriptBytes (tag 24), hex text
echo d8185683f6f6826c746573736572612d746573744401020304 >"$T/st_tagged.hex"

# ---------------------------------------------------------------- present + verify (signature)
run 0 "present PID" tes present --mdoc "$T/pid.mdoc" --device-key "$T/dev.pem" \
    --elements family_name,given_name,eu.europa.ec.eudi.pid.1/portrait,age_over_18,birth_date,not_issued \
    --transcript "$T/st.cbor" --out "$T/pid_resp.cbor"
grep_in "$T/err" "presented 5 of 6" "present summary"
mode_is "$T/pid_resp.cbor" 600
grep_in "$T/err" "not_issued" "present names the missing element"

run 0 "verify PID --json" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/pid_resp.cbor"
json "PID json top level" 'j.valid === true && j.error === null && j.documents.length === 1'
json "PID json document" '(d => d.docType === "eu.europa.ec.eudi.pid.1" && d.deviceAuth === "signature" &&
    d.status === null && d.issuer.includes("Utopia Ministry of Interior Document Signer") &&
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(d.signed) && d.signed === d.validFrom &&
    Date.parse(d.validUntil) - Date.parse(d.validFrom) === 365 * 86400000)(j.documents[0])'
json "PID json elements" "(e => Object.keys(e).length === 5 && e.family_name === 'Mustermann' &&
    e.given_name === 'Erika' && e.age_over_18 === true && e.birth_date === '1984-01-26' &&
    e.portrait === '$PORTRAIT_B64U')(j.documents[0].elements['eu.europa.ec.eudi.pid.1'])"

run 0 "verify PID human" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" "$T/pid_resp.cbor"
grep_in "$T/out" "^VALID" "human VALID"
grep_in "$T/out" 'eu.europa.ec.eudi.pid.1/family_name = "Mustermann"' "human element line"
grep_in "$T/out" "device auth: signature" "human device auth"

run 0 "verify with tagged hex transcript" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st_tagged.hex" "$T/pid_resp.cbor"
run 0 "verify with two roots" tes verify --trust "$T/other/iaca.pem,$T/auth/iaca.pem" --transcript "$T/st.cbor" "$T/pid_resp.cbor"
cat "$T/other/iaca.pem" "$T/auth/iaca.pem" >"$T/bundle.pem"
run 0 "verify with a PEM bundle" tes verify --trust "$T/bundle.pem" --transcript "$T/st.cbor" "$T/pid_resp.cbor"

# mDL, values of every kind
run 0 "present mDL" tes present --mdoc "$T/mdl.mdoc" --device-key "$T/dev.pem" \
    --elements org.iso.18013.5.1/family_name,org.iso.18013.5.1/driving_privileges,height,issue_date,org.iso.18013.5.1.UT/organ_donor \
    --transcript "$T/st.cbor" --out "$T/mdl_resp.cbor"
run 0 "verify mDL --json" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/mdl_resp.cbor"
json "mDL elements" "(e => e['org.iso.18013.5.1'].family_name === 'Doe' && e['org.iso.18013.5.1'].height === 180 &&
    e['org.iso.18013.5.1'].issue_date === '2024-01-02' &&
    JSON.stringify(e['org.iso.18013.5.1'].driving_privileges.map(p => [p.vehicle_category_code, p.issue_date, p.expiry_date])) ===
      JSON.stringify([['A','2018-08-09','2034-01-01'],['B','2017-02-23','2034-01-01']]) &&
    e['org.iso.18013.5.1.UT'].organ_donor === true)(j.documents[0].elements)"
json "mDL validity 30 days" '(d => Date.parse(d.validUntil) - Date.parse(d.validFrom) === 30 * 86400000)(j.documents[0])'

# custom doctype
run 0 "present custom doctype" tes present --mdoc "$T/loyalty.mdoc" --device-key "$T/dev.pem" \
    --elements org.example.loyalty.1/member_id,org.example.loyalty.1/tier --transcript "$T/st.cbor" --out "$T/loyalty_resp.cbor"
run 0 "verify custom doctype" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/loyalty_resp.cbor"
json "custom doctype elements" "(e => e.member_id === 'M-77' && e.tier === 3)(j.documents[0].elements['org.example.loyalty.1'])"

# --request: the Annex D DeviceRequest (hex text) asks an mDL for six elements
run 0 "present --request" tes present --mdoc "$T/mdl.mdoc" --device-key "$T/dev.pem" \
    --request "$TES_VECTORS/iso18013-5-annexD/device_request.hex" --transcript "$T/st.cbor" --out "$T/req_resp.cbor"
grep_in "$T/err" "presented 6 of 6" "present --request summary"
grep_in "$T/err" "not checked" "present --request warns reader auth is unchecked"
run 0 "verify --request response" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/req_resp.cbor"
json "--request elements" "JSON.stringify(Object.keys(j.documents[0].elements['org.iso.18013.5.1']).sort()) ===
    JSON.stringify(['document_number','driving_privileges','expiry_date','family_name','issue_date','portrait'])"
run 1 "present --request for another doctype" tes present --mdoc "$T/pid.mdoc" --device-key "$T/dev.pem" \
    --request "$TES_VECTORS/iso18013-5-annexD/device_request.hex" --transcript "$T/st.cbor" --out "$T/x.cbor"

# present usage errors
run 2 "present needs --elements or --request" tes present --mdoc "$T/pid.mdoc" --device-key "$T/dev.pem" \
    --transcript "$T/st.cbor" --out "$T/x.cbor"
run 2 "present with a public device key" tes present --mdoc "$T/pid.mdoc" --device-key "$T/dev_pub.pem" \
    --elements family_name --transcript "$T/st.cbor" --out "$T/x.cbor"
run 2 "present --mac without --reader-pub" tes present --mdoc "$T/pid.mdoc" --device-key "$T/dev.pem" \
    --elements family_name --transcript "$T/st.cbor" --mac --out "$T/x.cbor"

# ---------------------------------------------------------------- MAC mode
run 0 "present --mac" tes present --mdoc "$T/pid.mdoc" --device-key "$T/dev.pem" --mac --reader-pub "$T/reader_pub.pem" \
    --elements family_name,age_over_18 --transcript "$T/st.cbor" --out "$T/mac_resp.cbor"
run 0 "verify MAC" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --reader-key "$T/reader_sec1.pem" --json "$T/mac_resp.cbor"
json "MAC json" "j.valid && j.documents[0].deviceAuth === 'mac' && j.documents[0].elements['eu.europa.ec.eudi.pid.1'].family_name === 'Mustermann'"
run 2 "verify MAC without --reader-key" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" "$T/mac_resp.cbor"
grep_in "$T/err" "reader" "MAC without reader key says so"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/reader2.pem" 2>/dev/null
run 1 "verify MAC with another reader key" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --reader-key "$T/reader2.pem" --json "$T/mac_resp.cbor"
json "wrong reader key => device_mac" "!j.valid && j.error.code === 'device_mac' && j.documents.length === 0"
run 2 "verify with a public reader key" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --reader-key "$T/reader_pub.pem" "$T/mac_resp.cbor"

# ---------------------------------------------------------------- verification failures
run 1 "wrong trust root" tes verify --trust "$T/other/iaca.pem" --transcript "$T/st.cbor" --json "$T/pid_resp.cbor"
json "wrong root => chain_untrusted" "j.valid === false && j.error.code === 'chain_untrusted' && j.error.message.length > 0 && j.documents.length === 0"
run 1 "wrong trust root, human" tes verify --trust "$T/other/iaca.pem" --transcript "$T/st.cbor" "$T/pid_resp.cbor"
grep_in "$T/out" "^INVALID: chain_untrusted: " "human INVALID line"

run 1 "far future" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --at "$(iso '+2 years')" --json "$T/pid_resp.cbor"
json "+2 years => mso_expired" "j.error.code === 'mso_expired'"
run 1 "far far future" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --at "$(iso '+4 years')" --json "$T/pid_resp.cbor"
json "+4 years => certificate_expired" "j.error.code === 'certificate_expired'"
run 1 "before issuance" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --at "$(iso '-30 minutes')" --json "$T/pid_resp.cbor"
json "-30 min => mso_not_yet_valid" "j.error.code === 'mso_not_yet_valid'"
run 1 "long before issuance" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --at 2000-01-01T00:00:00Z --json "$T/pid_resp.cbor"
json "2000 => certificate_not_yet_valid" "j.error.code === 'certificate_not_yet_valid'"

run 1 "transcript mismatch" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st_other.cbor" --json "$T/pid_resp.cbor"
json "other transcript => device_signature" "j.error.code === 'device_signature'"

# a response altered in the portrait (inside an IssuerSignedItem)
node -e '
const fs = require("fs");
const b = fs.readFileSync(process.argv[1]);
const png = fs.readFileSync(process.argv[2]);
const at = b.indexOf(png.subarray(20, 40));
if (at < 0) process.exit(3);
b[at + 5] ^= 0x01;
fs.writeFileSync(process.argv[3], b);
' "$T/pid_resp.cbor" "$T/portrait.png" "$T/tampered.cbor" && ok || bad "make tampered response"
run 1 "tampered portrait" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/tampered.cbor"
json "tampered => digest_mismatch" "j.error.code === 'digest_mismatch'"
head -c 100 "$T/pid_resp.cbor" >"$T/truncated.cbor"
run 1 "truncated response" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/truncated.cbor"
json "truncated => malformed code" "j.valid === false && typeof j.error.code === 'string'"

# usage and I/O errors => 2
run 2 "missing response file" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" "$T/nope.cbor"
grep_in "$T/err" "nope.cbor" "missing file named"
run 2 "missing trust file" tes verify --trust "$T/nope.pem" --transcript "$T/st.cbor" "$T/pid_resp.cbor"
run 2 "missing transcript file" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/nope.cbor" "$T/pid_resp.cbor"
run 2 "bad --at" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --at yesterday "$T/pid_resp.cbor"
run 2 "garbage trust root" tes verify --trust "$T/garbage.pem" --transcript "$T/st.cbor" "$T/pid_resp.cbor"
run 2 "unreadable reader key" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --reader-key "$T/garbage.pem" "$T/pid_resp.cbor"
run 2 "verify without response" tes verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor"
run 2 "verify without --trust" tes verify --transcript "$T/st.cbor" "$T/pid_resp.cbor"

# ---------------------------------------------------------------- inspect
run 1 "inspect malformed" tes inspect "$T/truncated.cbor"
grep_in "$T/err" "^tessera: " "inspect error prefix"
run 2 "inspect missing" tes inspect "$T/nope.cbor"
run 0 "inspect stdin" tes inspect - <"$T/st.cbor"
grep_in "$T/out" '"tessera-test"' "inspect stdin content"

finish
