#!/usr/bin/env bash
# Interop: compact JWE with ECDH-ES on P-256 and A128GCM / A256GCM (HAIP's
# two), both ways against panva's `jose` (npm): jose encrypts to a Tessera
# key and tes_jwe_decrypt opens it; tes_jwe_encrypt_with encrypts to a jose
# key and jose opens it. (RFC 7516/7518 give no ECDH-ES+A128GCM vector on
# P-256: this is the cross-check.)
#   bash tests/interop/jwe.sh /path/to/jwe_check
set -euo pipefail
check="$1"
case "$check" in /*) ;; *) check="$(pwd)/$check" ;; esac
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v node >/dev/null || { echo "jwe interop: node is not installed" >&2; exit 1; }
if [ ! -d node_modules/jose ]; then
  echo "jwe interop: installing node dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tessera-jwe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$check" keygen "$tmp"
node jwe.mjs keygen "$tmp"
for enc in A128GCM A256GCM; do
  node jwe.mjs encrypt "$tmp/tes_pub.jwk" "$enc" "$tmp/to_tes_$enc"
  got=$("$check" decrypt "$tmp" "$tmp/to_tes_$enc" "$enc")
  [ "$got" = "jose to tessera $enc" ] || { echo "FAIL: Tessera read '$got'"; exit 1; }
  echo "PASS: jose $enc -> Tessera"
  "$check" encrypt "$tmp/jose_pub.jwk" "$enc" "$tmp/to_jose_$enc"
  got=$(node jwe.mjs decrypt "$tmp/jose_priv.jwk" "$tmp/to_jose_$enc" "$enc")
  [ "$got" = "tessera to jose $enc" ] || { echo "FAIL: jose read '$got'"; exit 1; }
  echo "PASS: Tessera $enc -> jose"
done
# a jose A128GCM JWE whose header is rewritten to A256GCM no longer opens
hdr=$(cut -d. -f1 "$tmp/to_tes_A128GCM")
new=$(printf '%s' "$hdr" | tr '_-' '/+' | base64 -d 2>/dev/null | sed 's/A128GCM/A256GCM/' |
      base64 -w0 | tr '/+' '_-' | tr -d '=')
printf '%s.%s' "$new" "$(cut -d. -f2- "$tmp/to_tes_A128GCM")" >"$tmp/swapped"
if "$check" decrypt "$tmp" "$tmp/swapped" A256GCM 2>"$tmp/err"; then
  echo "FAIL: a JWE with its enc rewritten decrypted"; exit 1
fi
grep -q "does not decrypt" "$tmp/err" || { cat "$tmp/err"; echo "FAIL: wrong refusal"; exit 1; }
echo "PASS: enc rewritten is refused"
