#!/usr/bin/env bash
# CLI test of the relying party's verifier service (issue 13, docs/RP.md): `reader-ca issue
# --dns` (the site's access certificate), `rp init` (file modes, refusals: a second init, a
# public URL whose host is not the certificate's name, http off loopback), `rp serve` on a
# loopback port of rpsvc's range: the backend API (401 without or with a wrong key, 201 with
# the key: the openid4vp:// authorization request, 400 for a bad query), the request object
# (application/oauth-authz-req+jwt; the wallet side is tested in tests/unit/test_rp.c), the
# login page and /site/login (QR SVG, HttpOnly cookie), and a clean stop on SIGTERM.
# Needs: $TESSERA_BIN, curl, node (JSON checks).
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

kill -TERM "$SPID"
rc=0
wait "$SPID" || rc=$?
SPID=""
[[ $rc == 0 ]] && ok || bad "serve exit on SIGTERM: $rc"
grep_in serve.err "stopping (Terminated)" "clean stop"
finish
