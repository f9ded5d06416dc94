#!/usr/bin/env bash
# CLI test of the document-signer key in a PKCS#11 token (SoftHSM2, initialised here in a temp
# dir through SOFTHSM2_CONF): `authority init --ds-hsm` with the token PIN (and the SO PIN, the
# first time) on an fd -> ds_key.hsm + hsm-state/, no DS private key in the directory;
# `tessera issue` with TESSERA_HSM_PIN (and with --hsm-pin-fd), present, verify: valid;
# wrong / missing PIN refused; `authority serve --hsm-pin-fd` (and TESSERA_HSM_PIN), a wallet
# enrols over OpenID4VCI, presents, verify --status online: valid; serve with a wrong PIN
# fails at start. When SoftHSM2 is missing the test FAILS, it does not skip.
# Needs: $TESSERA_BIN, softhsm2 (softhsm2-util, /usr/lib/softhsm/libsofthsm2.so), node, xxd.
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
TESSERA_BIN=$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")
MODULE=/usr/lib/softhsm/libsofthsm2.so
T=$(mktemp -d)
SPID=""
cleanup() {
    if [[ -n $SPID ]]; then kill -9 "$SPID" 2>/dev/null || true; fi
    rm -rf "$T"
}
trap cleanup EXIT
unset TESSERA_HSM_PIN

source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
finish() {
    echo "$pass passed, $fail failed"
    [[ $fail == 0 ]]
}

# ---------------------------------------------------------------- SoftHSM2 (required)
if ! command -v softhsm2-util >/dev/null 2>&1 || [[ ! -r $MODULE ]]; then
    bad "SoftHSM2 is not installed (softhsm2-util / $MODULE): run scripts/deps.sh"
    finish
    exit 1
fi
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/tokens" >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf
run 0 "softhsm2-util --init-token" softhsm2-util --init-token --free --label ds --so-pin 12345678 --pin 123456

A=$T/ministry
PID=eu.europa.ec.eudi.pid.1
SPEC=pkcs11:$MODULE:ds

# ---------------------------------------------------------------- help
run 0 "help authority init" tes help authority init
grep_in "$T/out" "--ds-hsm" "init --help lists --ds-hsm"
grep_in "$T/out" "TESSERA_HSM_PIN" "init --help names the environment variable"
run 0 "issue --help" tes issue --help
grep_in "$T/out" "--hsm-pin-fd" "issue --help lists --hsm-pin-fd"
run 0 "help authority serve" tes help authority serve
grep_in "$T/out" "--hsm-pin-fd" "serve --help lists --hsm-pin-fd"
grep_in "$T/out" "TESSERA_HSM_PIN" "serve --help names the environment variable"
run 2 "--pin-fd without --ds-hsm" tes authority init --dir "$T/x" --pin-fd 0
run 2 "--ds-hsm not pkcs11" tes authority init --dir "$T/x" --ds-hsm soft:foo
run 2 "--ds-hsm: no such token" tes authority init --dir "$T/x2" --ds-hsm "pkcs11:$MODULE:nope" --pin-fd 0 </dev/null

# ---------------------------------------------------------------- authority init --ds-hsm
runfd 1 "init: wrong SO PIN" '123456\n87654321\n' tes authority init --dir "$T/wrongso" --ds-hsm "$SPEC" --pin-fd 3
runfd 0 "authority init --ds-hsm" '123456\n12345678\n' tes authority init --dir "$A" \
    --name "Utopia Ministry" --country UT --ds-hsm "$SPEC" --pin-fd 3
grep_in "$T/out" "ds_key.hsm" "init names ds_key.hsm"
for f in iaca.pem iaca_key.pem ds.pem ds_key.hsm; do
    [[ -s $A/$f ]] && ok || bad "authority: $f missing"
done
[[ ! -e $A/ds_key.pem ]] && ok || bad "ds_key.pem exists with --ds-hsm"
[[ -d $A/hsm-state ]] && ok || bad "hsm-state/ missing"
if grep -rl "PRIVATE KEY" "$A" | grep -v '/iaca_key.pem$' >"$T/out"; then
    bad "private key material besides iaca_key.pem: $(cat "$T/out")"
else ok; fi
grep -q "PRIVATE KEY" "$A/iaca_key.pem" && ok || bad "iaca_key.pem stays a file"
if grep -rlE "123456|12345678" "$A" >"$T/out"; then bad "a PIN on disk: $(cat "$T/out")"; else ok; fi
cp "$A/ds_key.hsm" "$T/out"
json "ds_key.hsm" 'Object.keys(j).length === 2 && j.se === "'"$SPEC"'" && /^[0-9a-f]{32}$/.test(j.key_id)'
openssl verify -CAfile "$A/iaca.pem" "$A/ds.pem" >"$T/out" 2>"$T/err" && ok || bad "openssl verifies DS under IACA"
run 2 "init twice (ds_key.hsm counts)" tes authority init --dir "$A" --ds-hsm "$SPEC" --pin-fd 0 </dev/null
grep_in "$T/err" "already" "init twice"

# ---------------------------------------------------------------- issue, present, verify
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/dev.pem"
openssl pkey -in "$T/dev.pem" -pubout -out "$T/dev_pub.pem" 2>/dev/null
mkdir -p "$T/claims"
cat >"$T/claims/pid.json" <<'EOF'
{"eu.europa.ec.eudi.pid.1": {
  "family_name": "Mustermann", "given_name": "Erika", "birth_date": "1984-01-26",
  "age_over_18": true, "issuing_authority": "Utopia", "issuing_country": "UT",
  "expiry_date": "2031-11-26", "nationality": "UT", "document_number": "UT-4711"}}
EOF
echo 83f6f6826c746573736572612d746573744401020304 | xxd -r -p >"$T/st.cbor"
issue() { tes issue --authority "$A" --doctype $PID --claims "$T/claims/pid.json" --device-key "$T/dev_pub.pem" "$@"; }

run 2 "issue without a PIN" issue --out "$T/x.mdoc"
grep_in "$T/err" "TESSERA_HSM_PIN" "issue says how to give the PIN"
TESSERA_HSM_PIN=000000 run 2 "issue with a wrong PIN" issue --out "$T/x.mdoc"
grep_in "$T/err" "pin_wrong" "wrong PIN named"
[[ ! -e $T/x.mdoc ]] && ok || bad "a credential was written with a wrong PIN"
TESSERA_HSM_PIN=123456 run 0 "issue (TESSERA_HSM_PIN)" issue --out "$T/pid.mdoc"
runfd 0 "issue (--hsm-pin-fd)" '123456\n' issue --out "$T/pid2.mdoc" --hsm-pin-fd 3
# a PIN with a NUL byte is refused, not cut at the NUL (which would leave the right PIN)
runfd 2 "issue: PIN with a NUL byte" '123456\0999\n' issue --out "$T/x.mdoc" --hsm-pin-fd 3
grep_in "$T/err" "PIN contains a NUL byte" "PIN with a NUL byte: refused as such"
[[ ! -e $T/x.mdoc ]] && ok || bad "a credential was written with a PIN cut at a NUL"
run 2 "issue: --hsm-pin-fd not open" issue --out "$T/x.mdoc" --hsm-pin-fd 9
for m in pid pid2; do
    run 0 "present ($m)" tes present --mdoc "$T/$m.mdoc" --device-key "$T/dev.pem" \
        --elements family_name,age_over_18 --transcript "$T/st.cbor" --out "$T/$m.resp"
    run 0 "verify ($m)" tes verify --trust "$A/iaca.pem" --transcript "$T/st.cbor" --json "$T/$m.resp"
    json "valid ($m)" 'j.valid === true && j.documents.length === 1'
done

# a ds_key.hsm naming a key the token does not hold
cp -r "$A" "$T/broken"
printf '{"se": "%s", "key_id": "00112233445566778899aabbccddeeff"}\n' "$SPEC" >"$T/broken/ds_key.hsm"
TESSERA_HSM_PIN=123456 run 2 "issue: key not in the token" tes issue --authority "$T/broken" --doctype $PID \
    --claims "$T/claims/pid.json" --device-key "$T/dev_pub.pem" --out "$T/x.mdoc"
grep_in "$T/err" "key_unknown\|no key" "unknown key named"

# ---------------------------------------------------------------- serve, wallet enrol, verify
run 0 "wallet init" tes wallet init --dir "$T/phone"
runfd 0 "wallet pin set" '246810\n246810\n87654321\n87654321\n' tes wallet pin set --wallet "$T/phone" --pin-fd 3

# serve_bg LINES ARGS... — starts the service with LINES on fd 3; sets SPID, PORT, URL.
serve_bg() {
    local lines=$1
    shift
    rm -f "$T/port"
    # the program itself, not a shell function (a function runs in a subshell that SIGTERM kills)
    "$TESSERA_BIN" authority serve --dir "$A" --listen 127.0.0.1:0 --port-file "$T/port" "$@" \
        3< <(printf "$lines") >"$T/serve.out" 2>"$T/serve.err" &
    SPID=$!
    local i
    for i in $(seq 1 200); do
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
serve_stop() {
    local rc=0
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" || rc=$?
    SPID=""
    if [[ $rc == 0 ]]; then ok; else bad "service stopped by SIGTERM: exit $rc"; fi
}
enrol_and_verify() {
    local tag=$1
    run 0 "authority enrol ($tag)" tes authority enrol --dir "$A" --claims "$T/claims/pid.json" \
        --doctype $PID --operator "desk 1" --json
    local offer tx
    offer=$(jget j.offer)
    tx=$(jget j.tx_code)
    run 0 "wallet enrol ($tag)" tes wallet enrol --wallet "$T/phone" \
        --offer-fd 3 --batch 2 --pin-fd 3 3< <(printf '%s\n246810\n%s\n' "$offer" "$tx")
    local cred
    cred=$(head -1 "$T/out")
    runfd 0 "present ($tag)" '246810\n' tes present --wallet "$T/phone" --credential "$cred" \
        --pin-fd 3 --elements family_name,age_over_18 --transcript "$T/st.cbor" --out "$T/w-$tag.resp"
    run 0 "verify --status online ($tag)" tes verify --trust "$A/iaca.pem" --transcript "$T/st.cbor" \
        --status online --status-cache "$T/cache-$tag" --json "$T/w-$tag.resp"
    json "valid with status valid ($tag)" 'j.valid && j.documents[0].status.value === "valid"'
}

# a wrong PIN: the service does not start
rc=0
tes authority serve --dir "$A" --listen 127.0.0.1:0 --hsm-pin-fd 3 3< <(printf '999999\n') \
    >"$T/out" 2>"$T/err" || rc=$?
if [[ $rc == 1 ]]; then ok; else bad "serve with a wrong PIN: exit $rc, want 1"; fi
grep_in "$T/err" "pin_wrong" "serve names the wrong PIN"
rc=0
tes authority serve --dir "$A" --listen 127.0.0.1:0 >"$T/out" 2>"$T/err" </dev/null || rc=$?
if [[ $rc != 0 ]]; then ok; else bad "serve without a PIN started"; fi
grep_in "$T/err" "TESSERA_HSM_PIN" "serve without a PIN says how to give it"

if serve_bg '123456\n' --hsm-pin-fd 3; then
    enrol_and_verify fd
    serve_stop
fi
if TESSERA_HSM_PIN=123456 serve_bg ''; then
    # the running service's environment no longer holds the PIN (read, wiped, unset)
    if [[ -r /proc/$SPID/environ ]]; then
        tr '\0' '\n' <"/proc/$SPID/environ" >"$T/environ"
        grep_in "$T/environ" "^PATH=" "the service's environment is readable"
        no_grep_in "$T/environ" "^TESSERA_HSM_PIN=." "TESSERA_HSM_PIN wiped from the service's environment"
        no_grep_in "$T/environ" "123456" "the PIN nowhere in the service's environment"
    else
        bad "/proc/$SPID/environ not readable"
    fi
    enrol_and_verify env
    serve_stop
fi

finish
