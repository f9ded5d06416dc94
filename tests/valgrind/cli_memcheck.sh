#!/usr/bin/env bash
# The CLI's issue, present and verify paths (and their failure paths) under valgrind
# memcheck: no memory errors, no definite or indirect leaks. Registered only in builds
# without sanitizers (valgrind cannot run ASan binaries).
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:?TESSERA_BIN must point at the tessera binary}
VECTORS=${TES_VECTORS:-tests/vectors}
command -v valgrind >/dev/null || { echo "FAIL: valgrind missing (scripts/deps.sh installs it)"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

pass=0
fail=0
# vg WANT_RC NAME ARGS... — runs tessera under memcheck; valgrind's own findings exit 99.
vg() {
    local want=$1 name=$2 rc=0
    shift 2
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
        --log-file="$T/vg.log" "$TESSERA_BIN" "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc == "$want" && ! -s $T/vg.log ]]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name: exit $rc (want $want)" >&2
        sed 's/^/    | /' "$T/vg.log" "$T/err" | head -40 >&2
    fi
}

"$TESSERA_BIN" authority init --dir "$T/auth" --name Utopia >/dev/null 2>&1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/dev.pem" 2>/dev/null
openssl pkey -in "$T/dev.pem" -pubout -out "$T/dev_pub.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/rdr.pem" 2>/dev/null
openssl pkey -in "$T/rdr.pem" -pubout -out "$T/rdr_pub.pem"
cat >"$T/claims.json" <<'JSON'
{"eu.europa.ec.eudi.pid.1": {"family_name": "Mustermann", "given_name": "Erika",
 "birth_date": "1964-08-12", "issuing_authority": "Utopia", "issuing_country": "UT",
 "expiry_date": "2031-01-01", "age_over_18": true, "portrait": "_9j_4AAQSkZJRgABAQ"}}
JSON
printf '\x83\xf6\xf6\xf6' >"$T/st.cbor"
printf '\x83\xf6\xf6\xf5' >"$T/other.cbor"
PID=eu.europa.ec.eudi.pid.1

vg 0 "issue" issue --authority "$T/auth" --doctype $PID --claims "$T/claims.json" \
    --device-key "$T/dev_pub.pem" --out "$T/m.cbor"
echo '{"eu.europa.ec.eudi.pid.1": {"nickname": "x"}}' >"$T/bad.json"
vg 1 "issue: unknown element" issue --authority "$T/auth" --doctype $PID --claims "$T/bad.json" \
    --device-key "$T/dev_pub.pem" --out "$T/x.cbor"
vg 0 "present (signature)" present --mdoc "$T/m.cbor" --device-key "$T/dev.pem" \
    --elements $PID/family_name,$PID/portrait,$PID/age_over_18 --transcript "$T/st.cbor" --out "$T/r.cbor"
vg 0 "present (MAC)" present --mdoc "$T/m.cbor" --device-key "$T/dev.pem" --mac \
    --reader-pub "$T/rdr_pub.pem" --elements $PID/family_name --transcript "$T/st.cbor" --out "$T/rm.cbor"
vg 0 "verify" verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" --json "$T/r.cbor"
vg 0 "verify (MAC)" verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" \
    --reader-key "$T/rdr.pem" "$T/rm.cbor"
vg 1 "verify: other transcript" verify --trust "$T/auth/iaca.pem" --transcript "$T/other.cbor" \
    --json "$T/r.cbor"
head -c 200 "$T/r.cbor" >"$T/cut.cbor"
vg 1 "verify: truncated response" verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" \
    "$T/cut.cbor"
vg 2 "verify: missing file" verify --trust "$T/auth/iaca.pem" --transcript "$T/st.cbor" "$T/nope"

# the ISO 18013-5 Annex D response (device MAC)
A=$VECTORS/iso18013-5-annexD
xxd -r -p "$A/device_response.hex" >"$T/ad.cbor"
xxd -r -p "$A/session_transcript_bytes.hex" >"$T/ad_st.cbor"
xxd -r -p "$A/iaca_root_cert.der.hex" >"$T/ad_iaca.der"
# EReaderKey as SEC1 DER: 30 31 02 01 01 04 20 <d> a0 0a 06 08 <P-256 OID>
{ printf '30310201010420'; cat "$A/ereader_key_d.hex" | tr -d '\n'; printf 'a00a06082a8648ce3d030107'; } |
    xxd -r -p >"$T/ad_reader.der"
openssl ec -inform der -in "$T/ad_reader.der" -out "$T/ad_reader.pem" 2>/dev/null
vg 0 "verify Annex D" verify --trust "$T/ad_iaca.der" --transcript "$T/ad_st.cbor" \
    --reader-key "$T/ad_reader.pem" --at 2021-01-01T00:00:00Z --json "$T/ad.cbor"
vg 1 "verify Annex D today (expired)" verify --trust "$T/ad_iaca.der" --transcript "$T/ad_st.cbor" \
    --reader-key "$T/ad_reader.pem" "$T/ad.cbor"
vg 0 "inspect" inspect "$T/ad.cbor"

echo "memcheck: $pass passed, $fail failed"
[[ $fail == 0 ]]
