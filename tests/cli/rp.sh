#!/usr/bin/env bash
# CLI test of the relying party's verifier service (issue 13, docs/RP.md): `reader-ca issue
# --dns` (the site's access certificate), `rp init` (file modes, refusals: a second init, a
# public URL whose host is not the certificate's name, http off loopback), `rp serve` on a
# loopback port of rpsvc's range: the backend API (401 without or with a wrong key, 201 with
# the key: the openid4vp:// authorization request, 400 for a bad query), the request object
# (application/oauth-authz-req+jwt; the wallet side is tested in tests/unit/test_rp.c), the
# login page and /site/login (QR SVG, HttpOnly cookie); then the whole login twice with
# Tessera's wallet (`tessera wallet authorize` with a policy, one single-use copy each): the
# site's status says logged in with age_over_18 and the pseudonym the wallet printed, /site/me
# keeps the session, the second login gives the same pseudonym; and a clean stop on SIGTERM.
# Needs: $TESSERA_BIN, curl, node (JSON checks). Port 18420 (rpsvc's range).
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
TESSERA_BIN=$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")
T=$(mktemp -d)
SPID=""
PORT=18420
cleanup() {
    if [[ -n $SPID ]]; then kill "$SPID" 2>/dev/null || true; fi
    rm -rf "$T"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
cd "$T"

run 0 "reader-ca init" tes reader-ca init --dir rpca --name "RP Authority"
run 0 "reader-ca issue --dns" tes reader-ca issue --dir rpca --name "Demo Shop" \
    --purpose "age check" --scope eu.europa.ec.eudi.pid.1/age_over_18 --dns localhost \
    --out shopcert
grep_in "$T/out" "x509_san_dns:localhost" "issue prints the client_id"
run 2 "reader-ca issue --dns not a name" tes reader-ca issue --dir rpca --name X \
    --scope a/b --dns "bad name" --out x
run 0 "authority init" tes authority init --dir auth --country UT --name Utopia

run 2 "rp init: host not the certificate's" tes rp init --dir other --cert shopcert/reader.pem \
    --key-file shopcert/reader_key.pem --public-url https://shop.example.com
run 2 "rp init: http off loopback" tes rp init --dir other --cert shopcert/reader.pem \
    --key-file shopcert/reader_key.pem --public-url http://example.com
run 0 "rp init" tes rp init --dir shop --cert shopcert/reader.pem \
    --key-file shopcert/reader_key.pem --public-url "http://localhost:$PORT"
for f in site_key.pem api_key db_key; do
    if [[ $(stat -c %a "shop/$f") == 600 ]]; then ok; else bad "shop/$f is not 0600"; fi
done
if [[ $(stat -c %a shop) == 700 ]]; then ok; else bad "shop is not 0700"; fi
run 2 "rp init twice" tes rp init --dir shop --cert shopcert/reader.pem \
    --key-file shopcert/reader_key.pem --public-url "http://localhost:$PORT"

"$TESSERA_BIN" rp serve --dir shop --listen "127.0.0.1:$PORT" --trust auth/iaca.pem \
    --port-file port >serve.out 2>serve.err &
SPID=$!
for _ in $(seq 100); do [[ -s port && -s serve.out ]] && break; sleep 0.1; done
BAD_EXTRA=("$T/serve.err")
grep_in serve.out "serving OpenID4VP verifier at http://localhost:$PORT" "serve prints its URL"
KEY=$(cat shop/api_key)
B="http://127.0.0.1:$PORT"
Q='{"dcql_query":{"credentials":[{"id":"pid","format":"mso_mdoc","meta":{"doctype_value":"eu.europa.ec.eudi.pid.1"},"claims":[{"path":["eu.europa.ec.eudi.pid.1","age_over_18"]}]}]}}'

code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -d "$Q" "$B/api/v1/transactions")
[[ $code == 401 ]] && ok || bad "API without a key: $code"
code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -H "Authorization: Bearer x$KEY" -d "$Q" \
    "$B/api/v1/transactions")
[[ $code == 401 ]] && ok || bad "API with a wrong key: $code"
code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
    -d '{"dcql_query":{"credentials":[]}}' "$B/api/v1/transactions")
[[ $code == 400 ]] && ok || bad "API with a bad query: $code"
code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" -d "$Q" \
    "$B/api/v1/transactions")
[[ $code == 201 ]] && ok || bad "API create: $code"
json "authorization request" 'j.authorization_request.startsWith("openid4vp://?client_id=x509_san_dns%3Alocalhost&request_uri=http%3A%2F%2Flocalhost%3A'$PORT'%2Foid4vp%2Frequest%2F")'
TX=$(jget j.transaction_id)
ct=$(curl -s -o "$T/out" -w '%{content_type}' "$B/oid4vp/request/$TX")
[[ $ct == application/oauth-authz-req+jwt ]] && ok || bad "request object type: $ct"
curl -s -o "$T/out" -H "Authorization: Bearer $KEY" "$B/api/v1/transactions/$TX?wait=0"
json "fetched" 'j.status === "fetched" && j.claims === undefined'

curl -s -o "$T/out" "$B/"
grep_in "$T/out" "login.js" "the login page"
curl -s -D "$T/headers" -o "$T/out" -X POST -d '{}' "$B/site/login"
json "site login" 'j.qr_svg.startsWith("<svg") && j.authorization_request.startsWith("openid4vp://")'
grep_in "$T/headers" "tessera_login=.*HttpOnly; SameSite=Lax" "login cookie"

# ---- the whole login with Tessera's wallet (tessera wallet authorize) ----
PID=eu.europa.ec.eudi.pid.1
run 0 "vendor init" tes vendor init --dir vendor
run 0 "wallet init" tes wallet init --dir phone --vendor vendor
printf '123456\n123456\n12345678\n12345678\n' >pins
printf '123456\n' >pin
run 0 "pin set" tes wallet pin set --wallet phone --pin-fd 3 3<pins
cat >pid.json <<'EOF2'
{"eu.europa.ec.eudi.pid.1": {"family_name": "Doe", "given_name": "Jan", "birth_date": "1990-01-01",
 "issuing_authority": "UT", "issuing_country": "UT", "expiry_date": "2031-01-01",
 "age_over_18": true, "nationality": "UT"}}
EOF2
for i in 1 2; do # two single-use copies, one per login
    run 0 "keygen $i" tes wallet keygen --wallet phone --uv --out "dev$i.pem"
    K=$(head -1 "$T/out")
    run 0 "issue PID $i" tes issue --authority auth --doctype $PID --claims pid.json \
        --wallet phone --key "$K" --out "pid$i.mdoc"
done
run 0 "wallet add" tes wallet add --wallet phone --mdoc pid1.mdoc --mdoc pid2.mdoc
run 0 "trust the RP authority" tes wallet trust-reader --wallet phone --root rpca/reader_ca.pem
cat >policy.json <<'EOF2'
{"readers": [{"name": "Demo Shop", "authenticated": true, "allow": "*"}],
 "unauthenticated": "decline"}
EOF2
login() { # login N: a login through the site's page API and the wallet; the pseudonym in $T/ps.N
    curl -s -c "jar.$1" -b "jar.$1" -o "$T/out" -X POST -H "Origin: http://localhost:$PORT" \
        -d '{}' "http://localhost:$PORT/site/login"
    local url
    url=$(jget j.authorization_request)
    run 0 "wallet authorize $1" tes wallet authorize --wallet phone --policy policy.json \
        --pin-file pin --allow-loopback-http "$url"
    grep_in "$T/out" "logged in at Demo Shop" "wallet $1 logged in"
    grep '^pseudonym:' "$T/out" | awk '{print $2}' >"ps.$1"
    curl -s -c "jar.$1" -b "jar.$1" -o "$T/out" "http://localhost:$PORT/site/status?wait=5"
    json "site $1 logged in" 'j.state === "logged_in" && j.age_over_18 === true && j.pseudonym === "'"$(cat "ps.$1")"'"'
    curl -s -b "jar.$1" -o "$T/out" "http://localhost:$PORT/site/me"
    json "site $1 session" 'j.logged_in === true && j.pseudonym.length === 43'
}
login 1
login 2
[[ -s ps.1 && $(cat ps.1) == "$(cat ps.2)" ]] && ok || bad "the same pseudonym on a second login"

kill -TERM "$SPID"
rc=0
wait "$SPID" || rc=$?
SPID=""
[[ $rc == 0 ]] && ok || bad "serve exit on SIGTERM: $rc"
grep_in serve.err "stopping (Terminated)" "clean stop"
finish
