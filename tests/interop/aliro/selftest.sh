#!/usr/bin/env bash
# Self-check of the independent Python Aliro sides against each other over pcscd + vpcd:
# aliro_phone.py (card, through vpcd) and aliro_reader.py (lock, through PC/SC).
#
#   bash tests/interop/aliro/selftest.sh
#
# 0. test_aliro.py: the module's own checks, each broken on purpose
# 1. unknown endpoint: standard + step-up (the lock reads and verifies the access document)
# 2. known endpoint: fast
# 3. --flow standard: AUTH1 with a known endpoint
# 4-7. attacks (wrong-signature, replay-auth1, reflect, downgrade-fci): refused by the phone
# 8. after check-out (--now past valid_until): refused, reader status 0002 at the phone
# 9. a phone announcing (tag 92) a revocation document newer than the lock's: the lock leaves
#    the fast path, reads it in step-up, refuses (0003); then refuses the key on the fast path
# 10. a scheduled key (10:00-12:00 UTC): refused at 13:00 (0025), opens at 11:00 (also with ENVELOPE
#     on the primary applet and the last EXCHANGE on the exchange keys); the wrong room (0025)
# 11. a foreign hotel's document (0003); a phone presenting another endpoint's document (0003)
# 12. the known-answer vectors are what kat.py computes
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PY=/usr/bin/python3
W=$(mktemp -d /tmp/aliro-selftest.XXXXXX)
PHONE_PID=""

cleanup() {
    if [ -n "$PHONE_PID" ]; then kill "$PHONE_PID" 2>/dev/null || true; fi
    bash "$ROOT/scripts/pcscd-test.sh" stop "$W/pcscd" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

fail() { echo "selftest: FAIL: $*" >&2; for f in "$W"/*.log "$W"/pcscd/pcscd.log; do echo "--- $f" >&2; cat "$f" >&2; done; exit 1; }

GROUP=00112233445566778899aabbccddeeff
INSTANCE=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
NOW=$(date +%s)

$PY "$HERE/test_aliro.py" 2>"$W/unit.log" || fail "test_aliro.py"

cd "$W"
for k in reader endpoint issuer; do
    openssl ecparam -name prime256v1 -genkey -noout -out "$k.pem"
    openssl ec -in "$k.pem" -pubout -out "$k.pub.pem" 2>/dev/null
done
KEY_ID=$($PY "$HERE/mkdoc.py" access --issuer-key issuer.pem --endpoint-key endpoint.pub.pem \
    --group-id $GROUP --rooms 101 --valid-from $((NOW - 3600)) --valid-until $((NOW + 86400)) \
    --out access.cbor)
$PY "$HERE/mkdoc.py" revocation --issuer-key issuer.pem --group-id $GROUP --revoke "$KEY_ID" \
    --version $((NOW - 60)) --out revocation.cbor

mkdir -p pcscd
bash "$ROOT/scripts/pcscd-test.sh" start "$W/pcscd"

# run NAME "phone options" "reader options" EXPECTED_READER_RC
run() {
    local name=$1 popts=$2 ropts=$3 want=$4 rc=0
    # shellcheck disable=SC2086
    $PY "$HERE/aliro_phone.py" --endpoint-key endpoint.pem --reader-key reader.pub.pem \
        --group-id $GROUP --state phone-state.json --once --timeout 30 $popts \
        > "$name.phone.json" 2> "$name.phone.log" &
    PHONE_PID=$!
    # shellcheck disable=SC2086
    $PY "$HERE/aliro_reader.py" --reader-key reader.pem --group-id $GROUP --instance-id $INSTANCE \
        --issuer-key issuer.pub.pem --state reader-state.json --reader-match "Virtual PCD" \
        --timeout 30 $ropts > "$name.reader.json" 2> "$name.reader.log" || rc=$?
    wait "$PHONE_PID" || fail "$name: phone exited $?"
    PHONE_PID=""
    [ "$rc" = "$want" ] || fail "$name: reader exited $rc, expected $want: $(cat "$name.reader.json")"
    echo "selftest: $name: reader $(cat "$name.reader.json")"
    echo "selftest: $name: phone  $(cat "$name.phone.json")"
}

# check NAME 'python expression over r (reader JSON) and p (phone JSON)'
check() {
    $PY - "$1" "$2" <<'EOF' || fail "$1: $2"
import json, sys
name, expr = sys.argv[1], sys.argv[2]
r = json.load(open(name + ".reader.json"))
p = json.load(open(name + ".phone.json"))
sys.exit(0 if eval(expr) else 1)
EOF
}

run first "--access-doc access.cbor" "--record record.json" 0
check first 'r["result"] == "unlocked" and r["flow"] == "step-up" and r["access"]["rooms"] == ["101"] and p["reader_status"] == "0101" and p["flow"] == "step-up"'
check first '"get-response" in p["events"]'  # the ENVELOPE answer exceeds 256 bytes: chained
check first 'r["endpoint_key"] == json.load(open("reader-state.json"))["endpoints"][0]["public_key"]'

run fast "--access-doc access.cbor" "" 0
check fast 'r["result"] == "unlocked" and r["flow"] == "fast" and p["flow"] == "fast" and p["reader_status"] == "0101" and "auth1-ok" not in p["events"]'

run standard "--access-doc access.cbor" "--flow standard" 0
check standard 'r["result"] == "unlocked" and r["flow"] == "standard" and p["flow"] == "standard" and "envelope:aliro-a" not in p["events"]'

run wrong-signature "--access-doc access.cbor" "--attack wrong-signature" 1
check wrong-signature 'r["result"] == "refused" and r["phone_sw"] == "6982" and r["endpoint_key"] is None and "auth1-refused" in p["events"] and p["flow"] is None'

run replay-auth1 "--access-doc access.cbor" "--attack replay-auth1 --record record.json" 1
check replay-auth1 'r["result"] == "refused" and r["phone_sw"] == "6982" and "auth1-refused" in p["events"]'

run reflect "--access-doc access.cbor" "--attack reflect" 1
check reflect 'r["result"] == "refused" and r["phone_sw"] == "6982" and "exchange-refused" in p["events"]'

run downgrade-fci "--access-doc access.cbor" "--attack downgrade-fci" 1
check downgrade-fci 'r["result"] == "refused" and r["phone_sw"] == "6982" and "exchange-refused" in p["events"] and p["reader_status"] != "0101"'

run expired "--access-doc access.cbor" "--now $((NOW + 2 * 86400))" 1
check expired 'r["result"] == "refused" and "expired" in r["reason"] and p["reader_status"] == "0002"'

run revoked "--access-doc access.cbor --revocation-doc revocation.cbor" "" 1
check revoked 'r["result"] == "refused" and r["flow"] == "step-up" and "fast_declined" in r and "revoked" in r["reason"] and p["reader_status"] == "0003" and "envelope:aliro-a,aliro-r" in p["events"]'
run revoked-fast "--access-doc access.cbor" "" 1
check revoked-fast 'r["result"] == "refused" and r["flow"] == "fast" and p["reader_status"] == "0003"'

# A key valid 10:00-12:00 UTC only (another key id, so the revocation above does not apply).
$PY "$HERE/mkdoc.py" access --issuer-key issuer.pem --endpoint-key endpoint.pub.pem \
    --group-id $GROUP --rooms 101 --valid-from $((NOW - 2 * 86400)) --valid-until $((NOW + 2 * 86400)) \
    --key-id 5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c --schedule 600-720 --out scheduled.cbor >/dev/null
DAY=$((NOW / 86400 * 86400))
run schedule-out "--access-doc scheduled.cbor" "--flow step-up --now $((DAY + 13 * 3600))" 1
check schedule-out 'r["result"] == "refused" and "schedule" in r["reason"] and p["reader_status"] == "0025"'
run schedule-in "--access-doc scheduled.cbor" "--flow step-up --now $((DAY + 11 * 3600))" 0
check schedule-in 'r["result"] == "unlocked" and p["reader_status"] == "0101"'
run no-select "--access-doc scheduled.cbor" "--flow step-up --no-stepup-select --exchange-after-stepup exchange --now $((DAY + 11 * 3600))" 0
check no-select 'r["result"] == "unlocked" and "select_stepup" not in r["sw"] and "select-stepup" not in p["events"] and "envelope:aliro-a" in p["events"] and p["reader_status"] == "0101"'
run wrong-room "--access-doc scheduled.cbor" "--room 102 --now $((DAY + 11 * 3600))" 1
check wrong-room 'r["result"] == "refused" and r["flow"] == "fast" and "room 102" in r["reason"] and p["reader_status"] == "0025"'

# A foreign hotel's document (another issuer key), and a phone presenting another key's document.
openssl ecparam -name prime256v1 -genkey -noout -out foreign.pem
openssl ecparam -name prime256v1 -genkey -noout -out other-endpoint.pem
$PY "$HERE/mkdoc.py" access --issuer-key foreign.pem --endpoint-key endpoint.pub.pem --group-id $GROUP \
    --rooms 101 --valid-from $((NOW - 3600)) --valid-until $((NOW + 86400)) \
    --key-id 6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d --out foreign.cbor >/dev/null
run foreign-issuer "--access-doc foreign.cbor" "--flow step-up" 1
check foreign-issuer 'r["result"] == "refused" and "issuerAuth" in r["reason"] and p["reader_status"] == "0003"'
run other-key "--access-doc scheduled.cbor --endpoint-key other-endpoint.pem" "--now $((DAY + 11 * 3600))" 1
check other-key 'r["result"] == "refused" and r["flow"] == "step-up" and "another endpoint key" in r["reason"] and p["reader_status"] == "0003"'

$PY "$HERE/kat.py" --check >/dev/null || fail "kat.json differs from kat.py"
echo "selftest: OK"
