#!/usr/bin/env bash
# Door keys end to end over the real PC/SC stack (pcscd + vpcd, issue 14): a hotel
# (`tessera hotel`) keys phones, door locks (`tessera lock serve --nfc`) open for them.
#   A. the INDEPENDENT phone (tests/interop/aliro/aliro_phone.py, Python, written from the
#      public descriptions) against Tessera's lock: first tap standard + step-up, second fast,
#      room 102 stays shut;
#   B. Tessera's phone (`tessera wallet tap`) against the INDEPENDENT reader
#      (tests/interop/aliro/aliro_reader.py): step-up, fast, standard, and the reader attacks
#      (signature over another transaction, replayed AUTH1, reflected message, downgraded FCI)
#      each refused by the phone;
#   C. Tessera's phone against Tessera's lock: step-up then fast; after the phone is reported
#      lost the lock refuses it once another phone has brought the revocation.
# When pcscd cannot be started this test FAILS. Needs: $TESSERA_BIN, /usr/bin/python3 with
# python3-cryptography, python3-pyscard, python3-cbor2; node (JSON checks); openssl.
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
TESSERA_BIN=$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ALIRO=$HERE/tests/interop/aliro
PY=/usr/bin/python3
T=$(mktemp -d)
PCSCD_DIR=""
BG=()
cleanup() {
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
    if [[ -n $PCSCD_DIR ]]; then bash "$HERE/scripts/pcscd-test.sh" stop "$PCSCD_DIR" >/dev/null 2>&1 || true; fi
    rm -rf "$T"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
BAD_EXTRA=("$T/lock.out" "$T/lock.err" "$T/phone.out" "$T/phone.err")

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
NOW=$(date +%s)
FROM=$(iso $((NOW - 3600)))
UNTIL=$(iso $((NOW + 2 * 86400)))

# ---------------------------------------------------------------- the hotel and its doors
run 0 "hotel init" tes hotel init --dir "$T/hotel" --name "Hotel Zur Post"
run 0 "lock init 101" tes lock init --dir "$T/door101" --hotel "$T/hotel" --room 101
run 0 "lock init 102" tes lock init --dir "$T/door102" --hotel "$T/hotel" --room 102
run 2 "lock init twice" tes lock init --dir "$T/door101" --hotel "$T/hotel" --room 101
[[ $(stat -c %a "$T/door101/reader_key.pem") == 600 ]] && ok || bad "reader_key.pem is not 0600"
GROUP=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["group_id"])' "$T/hotel/hotel.json")
INSTANCE101=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["instance_id"])' "$T/door101/lock.json")

PCSCD_DIR=$T/pcscd
if ! bash "$HERE/scripts/pcscd-test.sh" start "$PCSCD_DIR" >"$T/out" 2>"$T/err"; then
    bad "pcscd could not be started (scripts/pcscd-test.sh start)"
    finish
    exit 1
fi

# One tap: the lock serves one presentation while the phone command runs.
#   tap LOCKDIR PHONE-CMD...   -> $T/lock.out (the lock's JSON line), $T/phone.out
tap() {
    local lock=$1
    shift
    "$TESSERA_BIN" lock serve --config "$lock" --nfc --count 1 --timeout 30 >"$T/lock.out" 2>"$T/lock.err" &
    local lpid=$!
    BG+=("$lpid")
    local rc=0
    "$@" >"$T/phone.out" 2>"$T/phone.err" || rc=$?
    wait "$lpid" || true
    return $rc
}
lock_says() { # NAME EXPR over j = the lock's JSON line
    cp "$T/lock.out" "$T/out"
    json "$1" "$2"
}

# ---------------------------------------------------------------- A. independent phone, Tessera lock
openssl ecparam -name prime256v1 -genkey -noout -out "$T/py_ep.pem" 2>/dev/null
$PY - "$T/py_ep.pem" "$T/py.req" <<'PYEOF'
import sys, cbor2
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
pt = k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
open(sys.argv[2], "wb").write(cbor2.dumps({"v": 1, "endpoint_key": pt}))
PYEOF
run 0 "hotel issue-key (independent phone)" tes hotel issue-key --hotel "$T/hotel" --request "$T/py.req" \
    --room 101 --from "$FROM" --until "$UNTIL" --guest "P. Ython" --out "$T/py.key"
$PY - "$T/py.key" "$T/py_doc.cbor" "$T/py_reader.hex" <<'PYEOF'
import sys, cbor2
p = cbor2.loads(open(sys.argv[1], "rb").read())
open(sys.argv[2], "wb").write(p["document"])
open(sys.argv[3], "w").write(p["reader_key"].hex())
PYEOF
PHONE=($PY "$ALIRO/aliro_phone.py" --endpoint-key "$T/py_ep.pem" --reader-key "$(cat "$T/py_reader.hex")"
       --group-id "$GROUP" --state "$T/py_phone.json" --access-doc "$T/py_doc.cbor" --once --timeout 30)

tap "$T/door101" "${PHONE[@]}" && ok || bad "A: first tap, the phone failed"
lock_says "A: first tap opens room 101 with step-up" 'j.result === "unlocked" && j.flow === "step-up" && j.room === "101"'
cp "$T/phone.out" "$T/out"
json "A: the phone saw the lock open" 'j.reader_status === "0101"'
FIRST_MS=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["ms"])' "$T/lock.out")

tap "$T/door101" "${PHONE[@]}" && ok || bad "A: second tap, the phone failed"
lock_says "A: second tap opens room 101 fast" 'j.result === "unlocked" && j.flow === "fast"'
FAST_MS=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["ms"])' "$T/lock.out")

tap "$T/door102" "${PHONE[@]}" && ok || bad "A: room 102, the phone failed"
lock_says "A: room 102 stays shut" 'j.result === "refused" && j.reason === "access_denied"'
cp "$T/phone.out" "$T/out"
json "A: the phone was told: no access rights" 'j.reader_status === "0025"'
run 0 "lock log" tes lock log --config "$T/door102"
grep_in "$T/out" '"refused"' "A: the refusal is in room 102's log"
grep_in "$T/out" 'access_denied' "A: with its reason"
echo "timing (pcscd + vpcd, independent phone): first tap (step-up) ${FIRST_MS} ms, fast ${FAST_MS} ms"

finish
