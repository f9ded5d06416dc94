#!/usr/bin/env bash
# Interoperability tests: tessera CLI <-> @auth0/mdl (independent JS implementation).
#
#   TESSERA_BIN=/path/to/tessera bash tests/interop/run.sh
#
# Tests:
#   selftest-sig  @auth0/mdl issues+presents (device signature), verify.mjs verifies (harness check)
#   selftest-mac  same with device MAC (HMAC 256/256, reader ephemeral key)
#   annexD        verify.mjs on the ISO 18013-5 Annex D DeviceResponse (MAC, clock 2021-01-01)
#   a-auth0-to-tessera   @auth0/mdl issues+presents, `tessera verify` verifies
#   b-tessera-to-auth0   tessera issues+presents, @auth0/mdl verifies
#
# Env: TESSERA_BIN (required for a/b), INTEROP_KEEP=1 keeps the temp dir,
#      TESSERA_VECTORS (default: ../vectors from this dir, i.e. tests/vectors).
# Ends with "interop: N passed, N failed"; exits 1 on any failure.
set -euo pipefail
# a relative TESSERA_BIN is taken relative to the caller's directory
if [ -n "${TESSERA_BIN:-}" ] && [ "${TESSERA_BIN#/}" = "$TESSERA_BIN" ]; then
  TESSERA_BIN="$(pwd)/$TESSERA_BIN"
fi
cd "$(dirname "${BASH_SOURCE[0]}")"
here=$(pwd)

passed=0; failed=0
pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1${2:+ -- $2}"; failed=$((failed + 1)); }
summary() { echo "interop: ${passed} passed, ${failed} failed"; }

command -v node >/dev/null || { echo "interop: node is not installed" >&2; echo "interop: 0 passed, 1 failed"; exit 1; }
command -v openssl >/dev/null || { echo "interop: openssl is not installed" >&2; echo "interop: 0 passed, 1 failed"; exit 1; }

# --- dependencies (exact versions from package-lock.json; npm registry only) ---
if [ ! -f node_modules/.package-lock.json ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ package.json -nt node_modules/.package-lock.json ] \
   || [ ! -d node_modules/@auth0/mdl ]; then
  echo "interop: installing node dependencies (npm ci)"
  if ! npm ci --no-audit --no-fund; then
    echo "interop: npm ci failed" >&2
    echo "interop: 0 passed, 1 failed"
    exit 1
  fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tessera-interop.XXXXXX")
cleanup() {
  if [ "${INTEROP_KEEP:-0}" = 1 ] || [ "$failed" -gt 0 ]; then
    echo "interop: files kept in $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

# run CMD... > $out 2>&1, echo the output on failure
runlog() {
  local log=$1; shift
  "$@" >"$log" 2>&1 && return 0
  local rc=$?
  echo "  command failed (exit $rc): $*"
  sed 's/^/  | /' "$log" | head -60
  return 1
}

tessera_ok=1
tessera_why=""
if [ -z "${TESSERA_BIN:-}" ]; then
  tessera_ok=0; tessera_why="TESSERA_BIN is not set (path to the tessera CLI; CTest sets it)"
elif [ ! -x "$TESSERA_BIN" ]; then
  tessera_ok=0; tessera_why="TESSERA_BIN=$TESSERA_BIN is not an executable file (is the tessera CLI built?)"
fi

# --- @auth0/mdl side: produce once ------------------------------------------
A="$tmp/a"
produced=1
if ! runlog "$tmp/produce.log" node produce.mjs --out "$A"; then produced=0; fi

# selftest-sig: verify.mjs on @auth0/mdl's own output (proves the harness)
t=selftest-sig
if [ "$produced" = 1 ] \
   && { node verify.mjs --response "$A/response.cbor" --trust "$A/root.pem" --transcript "$A/transcript.cbor" \
          >"$tmp/$t.json" 2>"$tmp/$t.err" || true; } \
   && runlog "$tmp/$t.check" node check.mjs --label $t --result "$tmp/$t.json" --expected "$A/expected.json"; then
  pass $t
else
  fail $t "produce.mjs or verify.mjs ($tmp/$t.json)"
fi

t=selftest-mac
if [ "$produced" = 1 ] \
   && { node verify.mjs --response "$A/response_mac.cbor" --trust "$A/root.pem" --transcript "$A/transcript.cbor" \
          --ereader-key "$A/ereader_key.pem" >"$tmp/$t.json" 2>"$tmp/$t.err" || true; } \
   && runlog "$tmp/$t.check" node check.mjs --label $t --result "$tmp/$t.json" --expected "$A/expected.json"; then
  pass $t
else
  fail $t "produce.mjs or verify.mjs ($tmp/$t.json)"
fi

# annexD: the ISO 18013-5 worked example through @auth0/mdl (clock injected)
t=annexD
vec="${TESSERA_VECTORS:-$here/../vectors}/iso18013-5-annexD"
if [ ! -f "$vec/device_response.hex" ]; then
  fail $t "no vectors at $vec"
else
  D="$tmp/annexd"
  cat >"$tmp/annexd_expected.json" <<'EOF'
{ "docType": "org.iso.18013.5.1.mDL",
  "elements": { "org.iso.18013.5.1": {
    "family_name": "Doe", "issue_date": "2019-10-20", "expiry_date": "2024-10-20",
    "document_number": "123456789" } } }
EOF
  if runlog "$tmp/$t.mk" node mkinputs.mjs --annexd "$vec" --out "$D" \
     && { node verify.mjs --response "$D/device_response.cbor" --trust "$D/iaca.pem" \
            --transcript "$D/session_transcript.cbor" --ereader-key "$D/ereader_key.pem" \
            --at 2021-01-01T00:00:00Z >"$tmp/$t.json" 2>"$tmp/$t.err" || true; } \
     && runlog "$tmp/$t.check" node check.mjs --subset --label $t --result "$tmp/$t.json" --expected "$tmp/annexd_expected.json"; then
    # and it must be rejected with today's clock (expired)
    if node verify.mjs --response "$D/device_response.cbor" --trust "$D/iaca.pem" \
         --transcript "$D/session_transcript.cbor" --ereader-key "$D/ereader_key.pem" >"$tmp/$t.now.json" 2>&1; then
      fail $t "Annex D response accepted with today's clock (should be expired)"
    else
      pass $t
    fi
  else
    fail $t
  fi
fi

# --- a) @auth0/mdl -> tessera ----------------------------------------------
t=a-auth0-to-tessera
if [ "$tessera_ok" = 0 ]; then
  fail $t "$tessera_why"
elif [ "$produced" = 0 ]; then
  fail $t "produce.mjs failed"
else
  rc=0
  "$TESSERA_BIN" verify --trust "$A/root.pem" --transcript "$A/transcript.cbor" --json "$A/response.cbor" \
    >"$tmp/$t.json" 2>"$tmp/$t.err" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "  tessera verify exited $rc"; sed 's/^/  | /' "$tmp/$t.json" "$tmp/$t.err" | head -60
    fail $t "tessera verify rejected @auth0/mdl's response"
  elif runlog "$tmp/$t.check" node check.mjs --label $t --result "$tmp/$t.json" --expected "$A/expected.json"; then
    pass $t
  else
    fail $t "tessera's verdict or element values differ from expected.json"
  fi
fi

# --- b) tessera -> @auth0/mdl ----------------------------------------------
t=b-tessera-to-auth0
B="$tmp/b"
mkdir -p "$B"
b_run() {
  runlog "$B/authority.log" "$TESSERA_BIN" authority init --dir "$B/auth" --country UT --name "Utopia" || return 1
  local f
  for f in iaca.pem ds.pem; do
    [ -f "$B/auth/$f" ] || { echo "  tessera authority init did not create auth/$f"; return 1; }
  done
  runlog "$B/devkey.log" openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$B/dev.pem" || return 1
  runlog "$B/devpub.log" openssl pkey -in "$B/dev.pem" -pubout -out "$B/dev_pub.pem" || return 1
  runlog "$B/mkinputs.log" node mkinputs.mjs --claims "$B/claims.json" --transcript "$B/st.cbor" \
    --expected "$B/expected.json" || return 1
  runlog "$B/issue.log" "$TESSERA_BIN" issue --authority "$B/auth" --doctype org.iso.18013.5.1.mDL \
    --claims "$B/claims.json" --device-key "$B/dev_pub.pem" --out "$B/mdoc.cbor" || return 1
  runlog "$B/present.log" "$TESSERA_BIN" present --mdoc "$B/mdoc.cbor" --device-key "$B/dev.pem" \
    --elements org.iso.18013.5.1/family_name,org.iso.18013.5.1/age_over_18,org.iso.18013.5.1/birth_date \
    --transcript "$B/st.cbor" --out "$B/resp.cbor" || return 1
  local rc=0
  node verify.mjs --response "$B/resp.cbor" --trust "$B/auth/iaca.pem" --transcript "$B/st.cbor" \
    >"$B/verify.json" 2>"$B/verify.err" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "  @auth0/mdl rejected tessera's response (verify.mjs exit $rc):"
    sed 's/^/  | /' "$B/verify.json" "$B/verify.err" | head -60
    return 1
  fi
  runlog "$B/check.log" node check.mjs --label $t --result "$B/verify.json" --expected "$B/expected.json" || return 1
}
if [ "$tessera_ok" = 0 ]; then
  fail $t "$tessera_why"
elif b_run; then
  pass $t
else
  fail $t
fi

summary
[ "$failed" -eq 0 ]
