#!/usr/bin/env bash
# Interop: an OpenID4VP request object signed by panva's `jose` (npm, SignJWT
# with the x5c header) under a relying party's access certificate issued by
# Tessera's trust module verifies with tes_oid4vp_request_verify; the same
# library's request naming another DNS name is refused.
#   bash tests/interop/jar.sh /path/to/jar_check
set -euo pipefail
check="$1"
case "$check" in /*) ;; *) check="$(pwd)/$check" ;; esac
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v node >/dev/null || { echo "jar interop: node is not installed" >&2; exit 1; }
if [ ! -d node_modules/jose ]; then
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
