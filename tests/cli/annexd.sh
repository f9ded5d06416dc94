#!/usr/bin/env bash
# `tessera verify` and `tessera inspect` on the ISO/IEC 18013-5 Annex D worked example
# ($TES_VECTORS/iso18013-5-annexD, see its README.md) and on the IETF status-list mdoc.
# Needs: $TESSERA_BIN, xxd, openssl, node.
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
TES_VECTORS=${TES_VECTORS:-tests/vectors}
V=$TES_VECTORS/iso18013-5-annexD
S=$TES_VECTORS/ietf-token-status-list-mdoc
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
run_nonzero() {
    local name=$1
    shift
    local rc=0
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc == 1 || $rc == 2 ]]; then ok; else bad "$name: exit $rc, want 1 or 2"; fi
}
unhex() { xxd -r -p "$V/$1.hex" >"$T/$2"; }

# ---------------------------------------------------------------- inputs
unhex device_response device_response.bin
unhex session_transcript_bytes session_transcript_bytes.bin
unhex extracted_session_transcript_untagged session_transcript_untagged.bin
unhex iaca_root_cert.der iaca.der
openssl x509 -inform der -in "$T/iaca.der" -out "$T/iaca.pem"
# EReaderKey as PKCS#8 PEM through a JWK import (no key generation in node)
node -e '
const crypto = require("crypto"), fs = require("fs"), dir = process.argv[1];
const b64u = f => Buffer.from(fs.readFileSync(dir + "/" + f, "utf8").trim(), "hex").toString("base64url");
const key = crypto.createPrivateKey({format: "jwk", key: {kty: "EC", crv: "P-256",
    d: b64u("ereader_key_d.hex"), x: b64u("ereader_key_x.hex"), y: b64u("ereader_key_y.hex")}});
process.stdout.write(key.export({type: "pkcs8", format: "pem"}));
' "$V" >"$T/ereader.pem"
PORTRAIT_B64U=$(node -e 'process.stdout.write(Buffer.from(require("fs").readFileSync(process.argv[1], "utf8").trim(), "hex").toString("base64url"))' "$V/portrait.jpg.hex")

AT=2021-01-01T00:00:00Z
ELEMENTS_OK="(e => JSON.stringify(Object.keys(e)) === JSON.stringify(['org.iso.18013.5.1']) &&
  (m => Object.keys(m).length === 6 &&
    m.family_name === 'Doe' && m.issue_date === '2019-10-20' && m.expiry_date === '2024-10-20' &&
    m.document_number === '123456789' && m.portrait === '$PORTRAIT_B64U' &&
    JSON.stringify(m.driving_privileges) === JSON.stringify([
      {vehicle_category_code: 'A', issue_date: '2018-08-09', expiry_date: '2024-10-20'},
      {vehicle_category_code: 'B', issue_date: '2017-02-23', expiry_date: '2024-10-20'}]))(e['org.iso.18013.5.1']))"

# ---------------------------------------------------------------- verify
run 0 "Annex D valid at $AT" tes verify --trust "$T/iaca.pem" --transcript "$T/session_transcript_bytes.bin" \
    --reader-key "$T/ereader.pem" --at "$AT" --json "$T/device_response.bin"
json "valid, no error, one document" "j.valid === true && j.error === null && j.documents.length === 1"
json "document facts" "(d => d.docType === 'org.iso.18013.5.1.mDL' && d.deviceAuth === 'mac' &&
  d.issuer.includes('utopia ds') && d.signed === '2020-10-01T13:30:02Z' &&
  d.validFrom === '2020-10-01T13:30:02Z' && d.validUntil === '2021-10-01T13:30:02Z' &&
  d.status === null)(j.documents[0])"
json "exactly the six elements with their values" "($ELEMENTS_OK)(j.documents[0].elements)"

run 0 "Annex D, untagged transcript" tes verify --trust "$T/iaca.pem" --transcript "$T/session_transcript_untagged.bin" \
    --reader-key "$T/ereader.pem" --at "$AT" --json "$T/device_response.bin"
json "untagged transcript: same elements" "j.valid && ($ELEMENTS_OK)(j.documents[0].elements)"

run 0 "Annex D, hex inputs and DER root" tes verify --trust "$T/iaca.der" \
    --transcript "$V/extracted_session_transcript_untagged.hex" --reader-key "$T/ereader.pem" --at "$AT" \
    "$V/device_response.hex"
grep_in "$T/out" "^VALID" "human VALID"
grep_in "$T/out" "device auth: MAC" "human MAC"
grep_in "$T/out" 'org.iso.18013.5.1/family_name = "Doe"' "human family_name"

# the DS certificate ends 2021-10-01T00:00:00Z, before the MSO's validUntil
run 1 "Annex D today" tes verify --trust "$T/iaca.pem" --transcript "$T/session_transcript_bytes.bin" \
    --reader-key "$T/ereader.pem" --json "$T/device_response.bin"
json "today => expired" "!j.valid && ['certificate_expired', 'mso_expired'].includes(j.error.code) && j.documents.length === 0"
run 1 "Annex D just after the DS expired" tes verify --trust "$T/iaca.pem" --transcript "$T/session_transcript_bytes.bin" \
    --reader-key "$T/ereader.pem" --at 2021-10-01T06:00:00Z --json "$T/device_response.bin"
json "2021-10-01T06:00Z => certificate_expired" "j.error.code === 'certificate_expired'"
run 1 "Annex D before validFrom" tes verify --trust "$T/iaca.pem" --transcript "$T/session_transcript_bytes.bin" \
    --reader-key "$T/ereader.pem" --at 2020-10-01T12:00:00Z --json "$T/device_response.bin"
json "before validFrom => mso_not_yet_valid" "j.error.code === 'mso_not_yet_valid'"

run_nonzero "Annex D without --reader-key" tes verify --trust "$T/iaca.pem" \
    --transcript "$T/session_transcript_bytes.bin" --at "$AT" "$T/device_response.bin"
if grep -qi "reader" "$T/err" "$T/out"; then ok; else bad "no message that the reader key is needed"; fi

unhex edevice_key_d edevice_d.bin # any other P-256 private key: the wrong reader key
node -e '
const crypto = require("crypto"), fs = require("fs"), dir = process.argv[1];
const b64u = f => Buffer.from(fs.readFileSync(dir + "/" + f, "utf8").trim(), "hex").toString("base64url");
const key = crypto.createPrivateKey({format: "jwk", key: {kty: "EC", crv: "P-256",
    d: b64u("edevice_key_d.hex"), x: b64u("edevice_key_x.hex"), y: b64u("edevice_key_y.hex")}});
process.stdout.write(key.export({type: "sec1", format: "pem"}));
' "$V" >"$T/wrong_reader.pem"
run 1 "Annex D with a wrong reader key" tes verify --trust "$T/iaca.pem" --transcript "$T/session_transcript_bytes.bin" \
    --reader-key "$T/wrong_reader.pem" --at "$AT" --json "$T/device_response.bin"
json "wrong reader key => device_mac" "j.error.code === 'device_mac'"

unhex reader_root_cert.der reader_root.der
run 1 "Annex D with an untrusted root" tes verify --trust "$T/reader_root.der" --transcript "$T/session_transcript_bytes.bin" \
    --reader-key "$T/ereader.pem" --at "$AT" --json "$T/device_response.bin"
json "reader root as IACA => chain_untrusted" "j.error.code === 'chain_untrusted'"

# ---------------------------------------------------------------- inspect
run 0 "inspect device response" tes inspect "$T/device_response.bin"
grep_in "$T/out" "24(<<" "inspect unwraps tag 24"
grep_in "$T/out" '"elementIdentifier": "family_name"' "inspect shows the items"
grep_in "$T/out" '"deviceMac"' "inspect shows deviceMac"
run 0 "inspect hex text" tes inspect "$V/device_response.hex"
cmp -s "$T/out" <("$TESSERA_BIN" inspect "$T/device_response.bin") && ok || bad "hex and binary inspect differ"
run 0 "inspect status-list IssuerAuth" tes inspect "$S/issuer_auth_with_status_list.hex"
grep_in "$T/out" '"status_list"' "status_list member"
grep_in "$T/out" "412" "status index 412"
grep_in "$T/out" "https://example.com/statuslists/1" "status uri"
printf 'a2a1\n' >"$T/bad.hex" # hex of a map with missing pairs
run 1 "inspect malformed hex" tes inspect "$T/bad.hex"

finish
