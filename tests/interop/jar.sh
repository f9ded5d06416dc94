#!/usr/bin/env bash
# Interop: an OpenID4VP request object signed by panva's `jose` (npm, SignJWT
# with the x5c header) under a relying party's access certificate issued by
# Tessera's trust module verifies with tes_oid4vp_request_verify; the same
# library's request naming another DNS name is refused. The request objects that
# @openid4vc/openid4vp's verifier creates (oid4vp_verifier.mjs: x509_san_dns and
# x509_hash) verify as well.
#   bash tests/interop/jar.sh /path/to/jar_check
set -euo pipefail
check="$1"
case "$check" in /*) ;; *) check="$(pwd)/$check" ;; esac
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v node >/dev/null || { echo "jar interop: node is not installed" >&2; exit 1; }
if [ ! -d node_modules/jose ] || [ ! -d node_modules/@openid4vc/openid4vp ]; then
  echo "jar interop: installing node dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tessera-jar.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$check" issue "$tmp"
node jar_sign.mjs "$tmp/rp/reader_key.pem" "$tmp/rp/reader.pem" rp.example.com "$tmp/req.jwt"
"$check" verify "$tmp" "$tmp/req.jwt"
echo "PASS: a jose-signed request object verifies"
node jar_sign.mjs "$tmp/rp/reader_key.pem" "$tmp/rp/reader.pem" evil.example.com "$tmp/evil.jwt"
if "$check" verify "$tmp" "$tmp/evil.jwt" 2>"$tmp/err"; then
  echo "FAIL: a request naming another DNS name verified"; exit 1
fi
grep -q "client_id names 'evil.example.com'" "$tmp/err" || { cat "$tmp/err"; echo "FAIL: wrong refusal"; exit 1; }
echo "PASS: a jose-signed request naming another DNS name is refused"
# the request object of @openid4vc/openid4vp's Openid4vpVerifier (x509_san_dns, x509_hash)
for prefix in x509_san_dns x509_hash; do
  node oid4vp_verifier.mjs --key "$tmp/rp/reader_key.pem" --cert "$tmp/rp/reader.pem" \
    --iaca "$tmp/rp/reader.pem" --host rp.example.com --base https://rp.example.com --prefix "$prefix" \
    --request-out "$tmp/lib-$prefix.jwt" --url-file "$tmp/lib-$prefix.url" >"$tmp/lib-$prefix.json"
  nonce=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).nonce)' "$tmp/lib-$prefix.json")
  cid=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).client_id)' "$tmp/lib-$prefix.json")
  case "$cid" in "$prefix":*) ;; *) echo "FAIL: client_id $cid"; exit 1 ;; esac
  "$check" verify "$tmp" "$tmp/lib-$prefix.jwt" "$cid" "$nonce"
  echo "PASS: @openid4vc/openid4vp's request object ($prefix) verifies"
done
