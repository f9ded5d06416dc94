#!/usr/bin/env bash
# CLI `tessera wallet authorize` (OpenID4VP login, tessera/wallet.h tes_wallet_authorize): usage
# errors; a URL that is not an authorization request, or carries its request by value; a
# request_uri nobody answers; a site answering another media type; a site whose request object
# is garbage — each refused with its error and exit status, and nothing posted anywhere.
# (The whole login with a real request object: tests/unit/test_wallet_authz.c; the CLI against
# Tessera's verifier service and a browser: the web and interop tests.)
# Needs: $TESSERA_BIN, python3. Ports: 18450-18459 (the authz helper's range).
set -euo pipefail

TESSERA_BIN=${TESSERA_BIN:-build/tessera}
T=$(mktemp -d)
PY=""
cleanup() { [[ -n $PY ]] && kill "$PY" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

run 0 "wallet init" "$TESSERA_BIN" wallet init --dir "$T/w"
printf '123456\n' >"$T/pin"
W=(--wallet "$T/w" --pin-file "$T/pin" --allow-loopback-http --timeout 5)

run 2 "no --wallet" "$TESSERA_BIN" wallet authorize 'openid4vp://?client_id=a&request_uri=x'
run 2 "no URL" "$TESSERA_BIN" wallet authorize --wallet "$T/w"
run 2 "two URLs" "$TESSERA_BIN" wallet authorize --wallet "$T/w" a b
run 2 "bad --timeout" "$TESSERA_BIN" wallet authorize --wallet "$T/w" --timeout 0 a
run 2 "missing --pin-file" "$TESSERA_BIN" wallet authorize --wallet "$T/w" --pin-file "$T/nope" \
    'openid4vp://?client_id=a&request_uri=http%3A%2F%2Flocalhost%3A18451%2Fr'
grep_in "$T/err" "pin-file" "missing pin file named"

run 1 "not an authorization request" "$TESSERA_BIN" wallet authorize "${W[@]}" 'mdoc:owBjMS4w'
grep_in "$T/err" "authz_url" "not a URL: error name"
run 1 "request by value" "$TESSERA_BIN" wallet authorize "${W[@]}" \
    'openid4vp://?client_id=x509_san_dns%3Alocalhost&request=eyJhbGciOiJFUzI1NiJ9.e30.x'
grep_in "$T/err" "by reference only" "request by value: reason"
run 1 "plain http without --allow-loopback-http" "$TESSERA_BIN" wallet authorize \
    --wallet "$T/w" --pin-file "$T/pin" \
    'openid4vp://?client_id=x509_san_dns%3Alocalhost&request_uri=http%3A%2F%2Flocalhost%3A18451%2Fr'
grep_in "$T/err" "not an https URL" "plain http: reason"

# nobody listens on 18452: a network failure (exit 2)
run 2 "request_uri unreachable" "$TESSERA_BIN" wallet authorize "${W[@]}" \
    'openid4vp://?client_id=x509_san_dns%3Alocalhost&request_uri=http%3A%2F%2F127.0.0.1%3A18452%2Fr'
grep_in "$T/err" "transport" "unreachable: error name"

# a site serving files: another media type; then garbage of the right type
mkdir -p "$T/site"
printf 'not a JWS' >"$T/site/req.json"
printf 'not.a.jws' >"$T/site/req.jwt"
cat >"$T/serve.py" <<'PY'
import http.server, sys, os
os.chdir(sys.argv[2])
class H(http.server.SimpleHTTPRequestHandler):
    extensions_map = {'.json': 'application/json', '.jwt': 'application/oauth-authz-req+jwt'}
    def do_POST(self):
        open('posted', 'w').write('posted')
        self.send_response(400); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
python3 "$T/serve.py" 18451 "$T/site" &
PY=$!
for _ in $(seq 50); do
    if python3 -c 'import socket; socket.create_connection(("127.0.0.1", 18451), 0.2)' 2>/dev/null; then break; fi
    sleep 0.1
done
run 1 "request object of another media type" "$TESSERA_BIN" wallet authorize "${W[@]}" \
    'openid4vp://?client_id=x509_san_dns%3Alocalhost&request_uri=http%3A%2F%2F127.0.0.1%3A18451%2Freq.json'
grep_in "$T/err" "request_uri" "media type: error name"
run 1 "request object not a JWS" "$TESSERA_BIN" wallet authorize "${W[@]}" \
    'openid4vp://?client_id=x509_san_dns%3Alocalhost&request_uri=http%3A%2F%2F127.0.0.1%3A18451%2Freq.jwt'
grep_in "$T/err" "\[signature\]" "garbage: error name"
if [[ -e $T/site/posted ]]; then bad "something was posted"; else ok; fi
run 0 "wallet log" "$TESSERA_BIN" wallet log --wallet "$T/w"
no_grep_in "$T/out" "disclosed" "nothing disclosed"

finish
