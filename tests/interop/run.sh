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
#   c-oid4vci-wallet     @openid4vc/openid4vci (an independent OpenID4VCI 1.0 wallet) obtains a
#                        batch from `tessera authority serve` of a new authority; @auth0/mdl
#                        verifies every credential
#   d-wallet-enrol-forms `tessera wallet enrol` takes the standard IssuerSigned, answers with
#                        unknown members and the legacy form; refuses a DeviceResponse
#   E_oid4vp_transcript  @owf/mdoc's OpenID4VP SessionTranscript equals Tessera's vectors
#   F_oid4vp_node_selftest  OpenID4VP 1.0 with @openid4vc/openid4vp: its wallet side
#                        (oid4vp_wallet.mjs) logs in to its verifier side (oid4vp_verifier.mjs)
#                        with a Tessera-issued PID (A256GCM, A128GCM, x509_hash, a device-signed
#                        pseudonym under the MSO's keyAuthorizations); a response over
#                        another SessionTranscript and an untrusted RP are refused
#   G_oid4vp_tessera_wallet_to_node_verifier  `tessera wallet authorize` answers the library's
#                        verifier (site certificate from `reader-ca issue --dns localhost`):
#                        age_over_18 alone; the pseudonym the same twice at one site, different
#                        at another; x509_hash; same-device redirect; A128GCM when only that is
#                        offered; an untrusted site gets nothing
#   H_oid4vp_node_wallet_to_tessera_rp  the library's wallet side logs in to `tessera rp serve`
#                        (backend API): A256GCM, A128GCM, the pseudonym, x509_hash, declined, a wrong
#                        transcript; same-device through the site's login page and response_code
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
   || [ ! -d node_modules/@auth0/mdl ] || [ ! -d node_modules/@owf/mdoc ]; then
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

# --- c) an independent OpenID4VCI 1.0 wallet -> tessera authority serve -----
# A fresh authority serves at once (its first hour: the MSO's signed must not lie before
# the DS notBefore); @openid4vc/openid4vci resolves the offer, fetches the metadata,
# redeems the code with the tx code (sending a parameter the issuer does not know),
# gets a c_nonce, proves 3 keys (proofs.jwt, one request, an unknown member in it),
# decodes each credential as the IssuerSigned of OpenID4VCI 1.0 Appendix A.2.4 and
# verifies it with @auth0/mdl in a DeviceResponse signed with its own key.
PIDCLAIMS='{"eu.europa.ec.eudi.pid.1": {"family_name": "Mustermann", "given_name": "Erika",
  "birth_date": "1984-01-26", "age_over_18": true, "issuing_authority": "Utopia",
  "issuing_country": "UT", "expiry_date": "2031-11-26", "nationality": "UT"}}'
SERVE_PIDS=()
stop_serves() {
  local p
  for p in "${SERVE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  SERVE_PIDS=()
}
trap 'stop_serves; cleanup' EXIT
# wait_file FILE PID — waits up to 10 s for FILE to be non-empty while PID lives
wait_file() {
  local i
  for i in $(seq 1 200); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# serve DIR LOGPREFIX [ARGS...] — starts `tessera authority serve` on 127.0.0.1:0
serve() {
  local dir=$1 log=$2; shift 2
  rm -f "$log.port"
  "$TESSERA_BIN" authority serve --dir "$dir" --listen 127.0.0.1:0 --port-file "$log.port" "$@" \
    >"$log.out" 2>"$log.err" &
  SERVE_PIDS+=($!)
  wait_file "$log.port" $! || { echo "  authority serve did not start:"; sed 's/^/  | /' "$log.err"; return 1; }
}
jfield() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(j[process.argv[2]])' "$1" "$2"; }
# enrol DIR OUT — `tessera authority enrol --json` of a PID holder (claims DIR/../pid.json): JSON to OUT
enrol() {
  "$TESSERA_BIN" authority enrol --dir "$1" --claims "$(dirname "$1")/pid.json" \
    --doctype eu.europa.ec.eudi.pid.1 --json >"$2" 2>"$2.err" && return 0
  echo "  authority enrol failed:"; sed 's/^/  | /' "$2.err" | head -20
  return 1
}

t=c-oid4vci-wallet
C="$tmp/c"
mkdir -p "$C"
printf '%s\n' "$PIDCLAIMS" >"$C/pid.json"
c_run() {
  runlog "$C/init.log" "$TESSERA_BIN" authority init --dir "$C/auth" --country UT --name Utopia || return 1
  serve "$C/auth" "$C/serve" || return 1
  enrol "$C/auth" "$C/enrol.json" || return 1
  local rc=0
  node oid4vci_wallet.mjs --offer "$(jfield "$C/enrol.json" offer)" --tx-code "$(jfield "$C/enrol.json" tx_code)" \
    --trust "$C/auth/iaca.pem" --ds "$C/auth/ds.pem" --batch 3 --extra >"$C/wallet.json" 2>"$C/wallet.err" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "  the OpenID4VCI wallet failed (exit $rc):"; sed 's/^/  | /' "$C/wallet.json" "$C/wallet.err" | head -60
    return 1
  fi
  # the standard form, and the MSO signed inside the DS validity (checked by @auth0/mdl too)
  runlog "$C/check.log" node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const bad = [];
    if (!j.ok || j.credentials.length !== 3) bad.push("not 3 verified credentials");
    for (const c of j.credentials) {
      if (JSON.stringify([...c.keys].sort()) !== JSON.stringify(["issuerAuth", "nameSpaces"]))
        bad.push("credential is not an IssuerSigned: keys " + c.keys);
      if (c.docType !== "eu.europa.ec.eudi.pid.1") bad.push("docType " + c.docType);
      if (Date.parse(c.signed) < Date.parse(c.dsNotBefore)) bad.push("signed " + c.signed + " before the DS notBefore " + c.dsNotBefore);
      if (c.signed !== j.credentials[0].signed) bad.push("copies differ in signed");
      if (!c.dsNotBefore.endsWith("T00:00:00.000Z")) bad.push("authority init: the DS starts at " + c.dsNotBefore + ", not at midnight UTC");
    }
    if (bad.length) { console.log(bad.join("\n")); process.exit(1); }' "$C/wallet.json" || return 1
}
if [ "$tessera_ok" = 0 ]; then
  fail $t "$tessera_why"
elif c_run; then
  pass $t
else
  fail $t
fi

# --- d) tessera wallet enrol: the standard form, unknown members, the legacy form ----
# `tessera wallet enrol` against a second service, through issuer_proxy.mjs (a forwarder
# that rewrites answers as other issuers may send them): the standard IssuerSigned as
# served; every JSON answer and the offer with members the client does not know; the
# pre-1.0 Tessera map (legacy, still accepted); a DeviceResponse instead of a credential
# (refused, nothing stored).
t=d-wallet-enrol-forms
D="$tmp/d"
mkdir -p "$D"
printf '%s\n' "$PIDCLAIMS" >"$D/pid.json"
PROXY_PID=""
d_enrol() { # MODE EXPECT(0|1) — one offer through the proxy in MODE
  local mode=$1 want=$2 rc=0
  echo "$mode" >"$D/mode"
  enrol "$D/auth" "$D/enrol-$mode.json" || return 1
  local offer tx
  offer=$(jfield "$D/enrol-$mode.json" offer)
  tx=$(jfield "$D/enrol-$mode.json" tx_code)
  if [ "$mode" != pass ]; then
    # unknown members in the offer too
    offer=$(node -e '
      const u = process.argv[1], p = "openid-credential-offer://?credential_offer=";
      const o = JSON.parse(decodeURIComponent(u.slice(p.length)));
      o.x_offer_member = {a: 1};
      o.grants["urn:ietf:params:oauth:grant-type:pre-authorized_code"].x_grant_member = "y";
      console.log(p + encodeURIComponent(JSON.stringify(o)) + "&x_query=1");' "$offer")
  fi
  printf '123456\n%s\n' "$tx" >"$D/fds"
  printf '%s\n' "$offer" >"$D/offer"
  "$TESSERA_BIN" wallet enrol --wallet "$D/phone" --offer-file "$D/offer" --batch 2 --pin-fd 3 \
    --name "eID $mode" 3<"$D/fds" >"$D/wallet-$mode.out" 2>"$D/wallet-$mode.err" || rc=$?
  if [ "$want" = 0 ] && [ "$rc" -ne 0 ]; then
    echo "  wallet enrol ($mode) failed (exit $rc):"; sed 's/^/  | /' "$D/wallet-$mode.err" | head -20
    return 1
  fi
  if [ "$want" = 1 ] && [ "$rc" -eq 0 ]; then
    echo "  wallet enrol ($mode) accepted what it must refuse"; return 1
  fi
  return 0
}
d_run() {
  runlog "$D/init.log" "$TESSERA_BIN" authority init --dir "$D/auth" --country UT --name Utopia || return 1
  runlog "$D/winit.log" "$TESSERA_BIN" wallet init --dir "$D/phone" || return 1
  printf '123456\n123456\n12345678\n12345678\n' >"$D/pins"
  runlog "$D/pin.log" "$TESSERA_BIN" wallet pin set --wallet "$D/phone" --pin-fd 3 3<"$D/pins" || return 1
  echo pass >"$D/mode"
  node issuer_proxy.mjs --upstream-port-file "$D/serve.port" --port-file "$D/proxy.port" \
    --mode-file "$D/mode" >"$D/proxy.out" 2>"$D/proxy.err" &
  PROXY_PID=$!
  SERVE_PIDS+=("$PROXY_PID")
  wait_file "$D/proxy.port" "$PROXY_PID" || { echo "  the proxy did not start"; sed 's/^/  | /' "$D/proxy.err"; return 1; }
  serve "$D/auth" "$D/serve" --public-url "http://127.0.0.1:$(cat "$D/proxy.port")" || return 1
  d_enrol pass 0 || return 1
  d_enrol extra 0 || return 1
  d_enrol legacy 0 || return 1
  d_enrol devresp 1 || return 1
  grep -q "not an mso_mdoc credential" "$D/wallet-devresp.err" || {
    echo "  the refusal does not say why:"; sed 's/^/  | /' "$D/wallet-devresp.err"; return 1; }
  runlog "$D/list.log" "$TESSERA_BIN" wallet list --wallet "$D/phone" --json || return 1
  runlog "$D/list-check.log" node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const ok = j.length === 3 && j.every((c) => c.copies === 2 && c.docType === "eu.europa.ec.eudi.pid.1");
    if (!ok) { console.log(JSON.stringify(j)); process.exit(1); }' "$D/list.log" || return 1
  # a copy stored from the legacy form and one from the standard form present and verify
  printf '\x83\xf6\xf6\xf6' >"$D/st.cbor"
  local i id
  for i in 0 2; do
    id=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]].id)' \
      "$D/list.log" "$i")
    runlog "$D/present-$i.log" "$TESSERA_BIN" present --wallet "$D/phone" --credential "$id" --pin-fd 3 \
      --elements family_name --transcript "$D/st.cbor" --out "$D/resp-$i.cbor" 3<<<"123456" || return 1
    runlog "$D/verify-$i.log" "$TESSERA_BIN" verify --trust "$D/auth/iaca.pem" \
      --transcript "$D/st.cbor" "$D/resp-$i.cbor" || return 1
  done
}
if [ "$tessera_ok" = 0 ]; then
  fail $t "$tessera_why"
elif d_run; then
  pass $t
else
  fail $t
fi
stop_serves

# --- E: the OpenID4VP 1.0 mdoc SessionTranscript (Appendix B.2.6.1) of an independent
# implementation (@owf/mdoc) equals the bytes of oid4vp_transcript.json, which
# tests/unit/test_oid4vp.c requires of tes_oid4vp_session_transcript ---
t=E_oid4vp_transcript
if runlog "$tmp/$t.log" node oid4vp_transcript.mjs; then pass $t; else fail $t; fi

# --- OpenID4VP 1.0 with an independent implementation (@openid4vc/openid4vp 0.7.0 for
# the protocol, @owf/mdoc for the DeviceResponse, jose for JWS/JWE) ---
VP="$tmp/vp"
mkdir -p "$VP"
printf '%s\n' "$PIDCLAIMS" >"$VP/pid.json"
VPV_PID=""
# vp_verifier OUTPREFIX [ARGS...] — starts oid4vp_verifier.mjs in the background (its URL in
# OUTPREFIX.url, its verdict in OUTPREFIX.json); VPV_PID is its pid
vp_verifier() {
  local o=$1; shift
  rm -f "$o.url"
  node oid4vp_verifier.mjs --url-file "$o.url" --timeout 60 "$@" >"$o.json" 2>"$o.err" &
  VPV_PID=$!
  SERVE_PIDS+=("$VPV_PID")
  wait_file "$o.url" "$VPV_PID" || { echo "  the Node verifier did not start:"; sed 's/^/  | /' "$o.err" | head -20; return 1; }
}
# vp_wait OUTPREFIX — waits for the Node verifier; its exit status
vp_wait() {
  local rc=0
  wait "$VPV_PID" || rc=$?
  return $rc
}
# vp_check FILE EXPR — evaluates the JS expression EXPR over the JSON object j of FILE; fails
# (printing the object) unless it is true
vp_check() {
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (!(0, eval)("(j) => " + process.argv[2])(j)) { console.log(JSON.stringify(j, null, 2)); process.exit(1); }' "$1" "$2"
}
# the holder's credential, issued by a Tessera authority to a test device key
vp_setup() {
  [ -s "$VP/mdoc.cbor" ] && return 0
  runlog "$VP/init.log" "$TESSERA_BIN" authority init --dir "$VP/auth" --country UT --name Utopia || return 1
  runlog "$VP/dev.log" openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$VP/dev.pem" || return 1
  runlog "$VP/devpub.log" openssl pkey -in "$VP/dev.pem" -pubout -out "$VP/dev_pub.pem" || return 1
  runlog "$VP/issue.log" "$TESSERA_BIN" issue --authority "$VP/auth" --doctype eu.europa.ec.eudi.pid.1 \
    --claims "$VP/pid.json" --device-key "$VP/dev_pub.pem" --out "$VP/mdoc.cbor" || return 1
}

# F: the Node wallet against the Node verifier (both built on the library) with a
# Tessera-issued PID: proves the harness, and that the library accepts what it must and
# refuses a DeviceResponse over another SessionTranscript and an RP outside the trusted roots.
# The RP certificate here is made with openssl (root + leaf with SAN dNSName localhost).
t=F_oid4vp_node_selftest
f_pair() { # NAME WALLET_TRUST [VERIFIER ARGS...] -- [WALLET ARGS...]
  local n=$1 trust=$2; shift 2
  local va=()
  while [ "$1" != -- ]; do va+=("$1"); shift; done; shift
  vp_verifier "$VP/f-$n-v" --key "$VP/f_rp_key.pem" --cert "$VP/f_rp.pem" --iaca "$VP/auth/iaca.pem" "${va[@]}" || return 1
  local rc=0
  node oid4vp_wallet.mjs --url "$(cat "$VP/f-$n-v.url")" --trust "$trust" --credential "$VP/mdoc.cbor" \
    --device-key "$VP/dev.pem" "$@" >"$VP/f-$n-w.json" 2>"$VP/f-$n-w.err" || rc=$?
  if [ "$rc" -ne 0 ]; then kill "$VPV_PID" 2>/dev/null || true; fi
  vp_wait || true
  return $rc
}
f_run() {
  vp_setup || return 1
  runlog "$VP/f_root.log" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$VP/f_root_key.pem" -out "$VP/f_root.pem" -days 2 -subj "/CN=Node RP root/C=UT" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign || return 1
  runlog "$VP/f_csr.log" openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$VP/f_rp_key.pem" -out "$VP/f_rp.csr" -subj "/CN=Node verifier" || return 1
  printf 'subjectAltName=DNS:localhost\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n' >"$VP/f_ext.cnf"
  runlog "$VP/f_leaf.log" openssl x509 -req -in "$VP/f_rp.csr" -CA "$VP/f_root.pem" -CAkey "$VP/f_root_key.pem" \
    -CAcreateserial -days 1 -extfile "$VP/f_ext.cnf" -out "$VP/f_rp.pem" || return 1
  local e
  for e in A256GCM A128GCM; do
    f_pair "$e" "$VP/f_root.pem" -- --enc "$e" || { echo "  Node wallet -> Node verifier ($e) failed:"; sed 's/^/  | /' "$VP/f-$e-w.json" "$VP/f-$e-w.err" "$VP/f-$e-v.err" | head -40; return 1; }
    vp_check "$VP/f-$e-v.json" "j.ok && j.jwe_header.enc === '$e' && j.claims['eu.europa.ec.eudi.pid.1'].age_over_18 === true && Object.keys(j.claims['eu.europa.ec.eudi.pid.1']).length === 1" || return 1
  done
  f_pair hash "$VP/f_root.pem" --prefix x509_hash -- || { echo "  x509_hash failed:"; sed 's/^/  | /' "$VP/f-hash-w.json" "$VP/f-hash-v.json" | head -40; return 1; }
  vp_check "$VP/f-hash-w.json" "j.client_prefix === 'x509_hash' && j.client_id.startsWith('x509_hash:')" || return 1
  # the pseudonym of decision 1: device-signed, authorised by the MSO's keyAuthorizations that
  # the Tessera authority writes for the PID (checked by @owf/mdoc on both sides)
  printf '%s\n' '{"credentials": [{"id": "pid", "format": "mso_mdoc",
    "meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"},
    "claims": [{"path": ["eu.europa.ec.eudi.pid.1", "age_over_18"]},
               {"path": ["org.tessera.pseudonym.1", "pseudonym"]}]}]}' >"$VP/pseudonym_dcql.json"
  f_pair pseudonym "$VP/f_root.pem" --dcql "$VP/pseudonym_dcql.json" -- --pseudonym-seed interop \
    || { echo "  the device-signed pseudonym failed:"; sed 's/^/  | /' "$VP/f-pseudonym-w.json" "$VP/f-pseudonym-w.err" "$VP/f-pseudonym-v.json" | head -40; return 1; }
  local want
  want=$(node -e 'const c = require("crypto"), fs = require("fs");
    const der = Buffer.from(fs.readFileSync(process.argv[1], "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    console.log(c.createHash("sha256").update("interop").update(der).digest("base64url"))' "$VP/f_rp.pem")
  vp_check "$VP/f-pseudonym-v.json" "j.ok && j.claims['eu.europa.ec.eudi.pid.1'].age_over_18 === true
    && j.device_signed['org.tessera.pseudonym.1'].pseudonym.b64u === '$want'" || return 1
  if f_pair tamper "$VP/f_root.pem" -- --tamper transcript; then
    echo "  a DeviceResponse over another SessionTranscript was accepted"; return 1
  fi
  vp_check "$VP/f-tamper-v.json" "!j.ok && /Device signature must be valid/.test(j.error)" || return 1
  if f_pair untrusted "$VP/auth/iaca.pem" --timeout 5 --; then
    echo "  the wallet accepted a request object from an RP outside its trusted roots"; return 1
  fi
  grep -q "x5c chain refused: no trusted root" "$VP/f-untrusted-w.err" || { sed 's/^/  | /' "$VP/f-untrusted-w.err"; return 1; }
}
if [ "$tessera_ok" = 0 ]; then
  fail $t "$tessera_why"
elif f_run; then
  pass $t
else
  fail $t
fi
stop_serves

# G: Tessera's wallet (`tessera wallet authorize`) answers the independent verifier
# (oid4vp_verifier.mjs on @openid4vc/openid4vp, responses verified by @owf/mdoc): the
# request object signed under a site certificate from `tessera reader-ca issue --dns
# localhost`, the PID enrolled over OpenID4VCI from a Tessera authority; age_over_18 alone,
# then age_over_18 with the per-site pseudonym (device-signed, the same on a second login,
# different for another site's certificate). The Node verifier checks the credential's
# status list too (@owf/mdoc reads the token's x5chain from its protected header, where
# Tessera puts it): after the authority suspends the person, it refuses the same login.
t=G_oid4vp_tessera_wallet_to_node_verifier
G="$VP/g"
g_login() { # NAME SITE DCQL [VERIFIER ARGS] — one login of the Tessera wallet at the Node verifier of SITE
  local n=$1 site=$2 dcql=$3; shift 3
  vp_verifier "$G/$n-v" --key "$G/$site/reader_key.pem" --cert "$G/$site/reader.pem" \
    --iaca "$G/auth/iaca.pem" --dcql "$dcql" "$@" || return 1
  local rc=0
  "$TESSERA_BIN" wallet authorize --wallet "$G/phone" --policy "$G/policy.json" --allow-loopback-http \
    "$(cat "$G/$n-v.url")" >"$G/$n-w.out" 2>"$G/$n-w.err" || rc=$?
  if [ "$rc" -ne 0 ]; then kill "$VPV_PID" 2>/dev/null || true; fi
  vp_wait || true
  if [ "$rc" -ne 0 ]; then
    echo "  tessera wallet authorize ($n) exited $rc:"; sed 's/^/  | /' "$G/$n-w.out" "$G/$n-w.err" "$G/$n-v.json" "$G/$n-v.err" | head -60
    return 1
  fi
}
g_run() {
  vp_setup || return 1
  mkdir -p "$G"
  printf '%s\n' "$PIDCLAIMS" >"$G/pid.json"
  runlog "$G/winit.log" "$TESSERA_BIN" wallet init --dir "$G/phone" || return 1
  printf '123456\n123456\n12345678\n12345678\n' >"$G/pins"
  runlog "$G/pin.log" "$TESSERA_BIN" wallet pin set --wallet "$G/phone" --pin-fd 3 3<"$G/pins" || return 1
  runlog "$G/init.log" "$TESSERA_BIN" authority init --dir "$G/auth" --country UT --name Utopia || return 1
  serve "$G/auth" "$G/serve" || return 1
  enrol "$G/auth" "$G/enrol.json" || return 1
  printf '123456\n%s\n' "$(jfield "$G/enrol.json" tx_code)" >"$G/fds"
  jfield "$G/enrol.json" offer >"$G/offer"
  runlog "$G/wenrol.log" "$TESSERA_BIN" wallet enrol --wallet "$G/phone" --offer-file "$G/offer" --batch 10 \
    --pin-fd 3 --name eID 3<"$G/fds" || return 1
  runlog "$G/rpca.log" "$TESSERA_BIN" reader-ca init --dir "$G/rpca" --name "Interop RP CA" || return 1
  local site
  for site in shop1 shop2; do
    runlog "$G/$site.log" "$TESSERA_BIN" reader-ca issue --dir "$G/rpca" --name "Node $site" --purpose "age check" \
      --scope eu.europa.ec.eudi.pid.1/age_over_18 --dns localhost --out "$G/$site" || return 1
  done
  runlog "$G/trust.log" "$TESSERA_BIN" wallet trust-reader --wallet "$G/phone" --root "$G/rpca/reader_ca.pem" || return 1
  printf '%s\n' '{"readers": [{"name": "*", "authenticated": true,
    "allow": ["eu.europa.ec.eudi.pid.1/age_over_18", "org.tessera.pseudonym.1/pseudonym"]}], "pin": "123456"}' >"$G/policy.json"
  # age_over_18 alone (the verifier's default query)
  printf '%s\n' '{"credentials": [{"id": "pid", "format": "mso_mdoc",
    "meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"},
    "claims": [{"path": ["eu.europa.ec.eudi.pid.1", "age_over_18"]}]}]}' >"$G/age.json"
  g_login age shop1 "$G/age.json" || return 1
  vp_check "$G/age-v.json" "j.ok && j.doctype === 'eu.europa.ec.eudi.pid.1' && j.claims['eu.europa.ec.eudi.pid.1'].age_over_18 === true
    && Object.keys(j.claims).length === 1 && Object.keys(j.claims['eu.europa.ec.eudi.pid.1']).length === 1
    && Object.keys(j.device_signed).length === 0" || return 1
  # with the pseudonym: twice at shop1 (the same), once at shop2 (another)
  printf '%s\n' '{"credentials": [{"id": "pid", "format": "mso_mdoc",
    "meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"},
    "claims": [{"path": ["eu.europa.ec.eudi.pid.1", "age_over_18"]},
               {"path": ["org.tessera.pseudonym.1", "pseudonym"]}]}]}' >"$G/pseudonym.json"
  g_login p1 shop1 "$G/pseudonym.json" || return 1
  g_login p2 shop1 "$G/pseudonym.json" || return 1
  g_login p3 shop2 "$G/pseudonym.json" || return 1
  local p
  for p in p1 p2 p3; do
    vp_check "$G/$p-v.json" "j.ok && j.claims['eu.europa.ec.eudi.pid.1'].age_over_18 === true
      && /^[A-Za-z0-9_-]{43}$/.test(j.device_signed['org.tessera.pseudonym.1'].pseudonym.b64u)" || return 1
  done
  for p in p1 p3; do # what the wallet says it released is what the verifier received
    grep -qx "pseudonym: $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).device_signed["org.tessera.pseudonym.1"].pseudonym.b64u)' "$G/$p-v.json")" "$G/$p-w.out" \
      || { echo "  the wallet's output names another pseudonym:"; sed 's/^/  | /' "$G/$p-w.out"; return 1; }
  done
  # client_id x509_hash (the leaf's SHA-256), and the same-device flow (the wallet follows
  # the verifier's redirect_uri)
  g_login hash shop1 "$G/age.json" --prefix x509_hash --same-device || return 1
  vp_check "$G/hash-v.json" "j.ok && j.claims['eu.europa.ec.eudi.pid.1'].age_over_18 === true" || return 1
  grep -q "^redirect: *http://localhost:[0-9]*/done#response_code=" "$G/hash-w.out" \
    || { echo "  the wallet did not report the redirect:"; sed 's/^/  | /' "$G/hash-w.out"; return 1; }
  # a site that offers only A128GCM gets A128GCM
  g_login a128 shop1 "$G/age.json" --enc A128GCM || return 1
  vp_check "$G/a128-v.json" "j.ok && j.jwe_header.enc === 'A128GCM'" || return 1
  # a site licensed by a reader authority the wallet does not trust gets nothing
  runlog "$G/rpca2.log" "$TESSERA_BIN" reader-ca init --dir "$G/rpca2" --name "Unknown RP CA" || return 1
  runlog "$G/shop3.log" "$TESSERA_BIN" reader-ca issue --dir "$G/rpca2" --name "Node shop3" --purpose "age check" \
    --scope eu.europa.ec.eudi.pid.1/age_over_18 --dns localhost --out "$G/shop3" || return 1
  vp_verifier "$G/untrusted-v" --key "$G/shop3/reader_key.pem" --cert "$G/shop3/reader.pem" \
    --iaca "$G/auth/iaca.pem" --dcql "$G/age.json" --timeout 3 || return 1
  if "$TESSERA_BIN" wallet authorize --wallet "$G/phone" --policy "$G/policy.json" --allow-loopback-http \
      "$(cat "$G/untrusted-v.url")" >"$G/untrusted-w.out" 2>"$G/untrusted-w.err"; then
    echo "  the wallet answered a site outside its trusted reader authorities"; return 1
  fi
  vp_wait || true
  grep -q "is not a trusted reader root \[chain_untrusted\]" "$G/untrusted-w.err" || { sed 's/^/  | /' "$G/untrusted-w.err"; return 1; }
  vp_check "$G/untrusted-v.json" "!j.ok && /no response within/.test(j.error)" || return 1
  # suspended by the authority: the independent verifier reads the status list and refuses
  runlog "$G/suspend.log" "$TESSERA_BIN" authority suspend --dir "$G/auth" \
    --person "$(jfield "$G/enrol.json" person)" || return 1
  vp_verifier "$G/susp-v" --key "$G/shop1/reader_key.pem" --cert "$G/shop1/reader.pem" \
    --iaca "$G/auth/iaca.pem" --dcql "$G/age.json" --timeout 5 || return 1
  "$TESSERA_BIN" wallet authorize --wallet "$G/phone" --policy "$G/policy.json" --allow-loopback-http \
    "$(cat "$G/susp-v.url")" >"$G/susp-w.out" 2>"$G/susp-w.err" || true
  vp_wait || true
  vp_check "$G/susp-v.json" "!j.ok && /status|suspend/i.test(j.error)" \
    || { sed 's/^/  | /' "$G/susp-v.json" "$G/susp-v.err" "$G/susp-w.err" | head -30; return 1; }
  node -e '
    const f = (n) => JSON.parse(require("fs").readFileSync(process.argv[1] + "/" + n + "-v.json", "utf8")).device_signed["org.tessera.pseudonym.1"].pseudonym.b64u;
    const [a, b, c] = ["p1", "p2", "p3"].map(f);
    if (a !== b) { console.log("two logins at one site gave two pseudonyms", a, b); process.exit(1); }
    if (a === c) { console.log("two sites got the same pseudonym", a); process.exit(1); }' "$G" || return 1
}
if [ "$tessera_ok" = 0 ]; then
  fail $t "$tessera_why"
elif g_run; then
  pass $t
else
  fail $t
fi
stop_serves

# H: the Node wallet (the library's client side, @owf/mdoc, jose) logs in to Tessera's
# verifier service `tessera rp serve` through the site backend's API (COMMON decision 2):
# A256GCM and A128GCM responses verify with age_over_18 true and nothing else; a
# device-signed pseudonym is reported as "pseudonym"; the holder's refusal is reported as declined; a DeviceResponse over another
# SessionTranscript fails with invalid_request and the transaction reports failed.
t=H_oid4vp_node_wallet_to_tessera_rp
H_PORT=18551
h_base="http://localhost:$H_PORT"
# h_login NAME DCQL [WALLET ARGS...] — one transaction: create, run the wallet, read the result
h_login() {
  local n=$1 dcql=$2; shift 2
  runlog "$VP/h-$n.create" node rp_api.mjs create --base "$h_base" --api-key-file "${H_KEY:-$VP/shop/api_key}" --dcql "$dcql" || return 1
  local url tx
  url=$(jfield "$VP/h-$n.create" authorization_request)
  tx=$(jfield "$VP/h-$n.create" transaction_id)
  node oid4vp_wallet.mjs --url "$url" --trust "$VP/rpca/reader_ca.pem" --credential "$VP/mdoc.cbor" \
    --device-key "$VP/dev.pem" "$@" >"$VP/h-$n-w.json" 2>"$VP/h-$n-w.err" || true
  runlog "$VP/h-$n.result" node rp_api.mjs get --base "$h_base" --api-key-file "${H_KEY:-$VP/shop/api_key}" --tx "$tx" --wait 10 || return 1
}
h_show() { echo "  $1:"; sed 's/^/  | /' "$VP/h-$2-w.json" "$VP/h-$2-w.err" "$VP/h-$2.result" "$VP/rp.err" | head -60; }
h_run() {
  vp_setup || return 1
  runlog "$VP/rpca.log" "$TESSERA_BIN" reader-ca init --dir "$VP/rpca" --name "Interop RP CA" || return 1
  runlog "$VP/shopcert.log" "$TESSERA_BIN" reader-ca issue --dir "$VP/rpca" --name "Interop Shop" \
    --purpose "age check" --scope eu.europa.ec.eudi.pid.1/age_over_18,org.tessera.pseudonym.1/pseudonym \
    --dns localhost --out "$VP/shopcert" || return 1
  runlog "$VP/shop.log" "$TESSERA_BIN" rp init --dir "$VP/shop" --cert "$VP/shopcert/reader.pem" \
    --key-file "$VP/shopcert/reader_key.pem" --public-url "$h_base" || return 1
  rm -f "$VP/rp.port"
  "$TESSERA_BIN" rp serve --dir "$VP/shop" --listen "127.0.0.1:$H_PORT" --trust "$VP/auth/iaca.pem" \
    --status off --port-file "$VP/rp.port" >"$VP/rp.out" 2>"$VP/rp.err" &
  SERVE_PIDS+=($!)
  wait_file "$VP/rp.port" $! || { echo "  rp serve did not start:"; sed 's/^/  | /' "$VP/rp.err"; return 1; }
  printf '%s\n' '{"credentials": [{"id": "pid", "format": "mso_mdoc",
    "meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"},
    "claims": [{"path": ["eu.europa.ec.eudi.pid.1", "age_over_18"]}]}]}' >"$VP/h_dcql.json"
  local e
  for e in A256GCM A128GCM; do
    h_login "$e" "$VP/h_dcql.json" --enc "$e" || return 1
    vp_check "$VP/h-$e-w.json" "j.ok && j.enc === '$e' && j.client_prefix === 'x509_san_dns'" || { h_show "the wallet ($e)" "$e"; return 1; }
    vp_check "$VP/h-$e.result" "j.status === 'verified' && j.doctype === 'eu.europa.ec.eudi.pid.1'
      && j.claims['eu.europa.ec.eudi.pid.1'].age_over_18 === true && Object.keys(j.claims).length === 1
      && Object.keys(j.claims['eu.europa.ec.eudi.pid.1']).length === 1" || { h_show "Tessera's verdict ($e)" "$e"; return 1; }
  done
  # the pseudonym (decision 1), device-signed under the MSO's keyAuthorizations: reported
  # base64url as "pseudonym", not among the claims
  printf '%s\n' '{"credentials": [{"id": "pid", "format": "mso_mdoc",
    "meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"},
    "claims": [{"path": ["eu.europa.ec.eudi.pid.1", "age_over_18"]},
               {"path": ["org.tessera.pseudonym.1", "pseudonym"]}]}]}' >"$VP/h_pseudonym.json"
  h_login pseudonym "$VP/h_pseudonym.json" --pseudonym-seed interop || return 1
  local want
  want=$(node -e 'const c = require("crypto"), fs = require("fs");
    const der = Buffer.from(fs.readFileSync(process.argv[1], "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    console.log(c.createHash("sha256").update("interop").update(der).digest("base64url"))' "$VP/shopcert/reader.pem")
  vp_check "$VP/h-pseudonym.result" "j.status === 'verified' && j.pseudonym === '$want'
    && j.claims['eu.europa.ec.eudi.pid.1'].age_over_18 === true" || { h_show "the pseudonym" pseudonym; return 1; }
  # same device through the site's own login page (/site/login, as the page's script does):
  # the wallet is sent back to /site/callback with a response_code, and the login completes
  # only with it (OpenID4VP 1.0 §8.2); the site's query asks for age_over_18 and the pseudonym
  runlog "$VP/h-site.login" node rp_api.mjs site-login --base "$h_base" --cookie-file "$VP/h-site.cookies" \
    --flow same_device || return 1
  node oid4vp_wallet.mjs --url "$(jfield "$VP/h-site.login" authorization_request)" --trust "$VP/rpca/reader_ca.pem" \
    --credential "$VP/mdoc.cbor" --device-key "$VP/dev.pem" --pseudonym-seed interop >"$VP/h-site-w.json" 2>"$VP/h-site-w.err" || true
  vp_check "$VP/h-site-w.json" "j.ok && /^http:\\/\\/localhost:$H_PORT\\/site\\/callback#response_code=[A-Za-z0-9_-]+$/.test(j.body.redirect_uri)" \
    || { h_show "the same-device redirect" site; return 1; }
  runlog "$VP/h-site.nocode" node rp_api.mjs site-status --base "$h_base" --cookie-file "$VP/h-site.cookies" || return 1
  vp_check "$VP/h-site.nocode" "j.state !== 'logged_in'" || { echo "  logged in without the response_code"; return 1; }
  local code
  code=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).body.redirect_uri.split("#response_code=")[1])' "$VP/h-site-w.json")
  runlog "$VP/h-site.status" node rp_api.mjs site-status --base "$h_base" --cookie-file "$VP/h-site.cookies" \
    --response-code "$code" || return 1
  vp_check "$VP/h-site.status" "j.state === 'logged_in' && j.age_over_18 === true && j.pseudonym === '$want'" \
    || { h_show "the site's login" site; return 1; }
  # a second site with client_id x509_hash (another certificate, another rp serve)
  runlog "$VP/shop2cert.log" "$TESSERA_BIN" reader-ca issue --dir "$VP/rpca" --name "Interop Shop 2" \
    --purpose "age check" --scope eu.europa.ec.eudi.pid.1/age_over_18 --dns localhost --out "$VP/shop2cert" || return 1
  runlog "$VP/shop2.log" "$TESSERA_BIN" rp init --dir "$VP/shop2" --cert "$VP/shop2cert/reader.pem" \
    --key-file "$VP/shop2cert/reader_key.pem" --public-url "http://localhost:$((H_PORT + 1))" --client-id-prefix x509_hash || return 1
  "$TESSERA_BIN" rp serve --dir "$VP/shop2" --listen "127.0.0.1:$((H_PORT + 1))" --trust "$VP/auth/iaca.pem" \
    --status off --port-file "$VP/rp2.port" >"$VP/rp2.out" 2>"$VP/rp2.err" &
  SERVE_PIDS+=($!)
  wait_file "$VP/rp2.port" $! || { echo "  rp serve (x509_hash) did not start:"; sed 's/^/  | /' "$VP/rp2.err"; return 1; }
  h_base="http://localhost:$((H_PORT + 1))" H_KEY="$VP/shop2/api_key" h_login hash "$VP/h_dcql.json" || return 1
  vp_check "$VP/h-hash-w.json" "j.ok && j.client_prefix === 'x509_hash' && j.client_id.startsWith('x509_hash:')" || { h_show "x509_hash" hash; return 1; }
  vp_check "$VP/h-hash.result" "j.status === 'verified' && j.claims['eu.europa.ec.eudi.pid.1'].age_over_18 === true" || { h_show "x509_hash" hash; return 1; }
  h_login decline "$VP/h_dcql.json" --decline || return 1
  vp_check "$VP/h-decline-w.json" "j.ok" || { h_show "the error response was not taken" decline; return 1; }
  vp_check "$VP/h-decline.result" "j.status === 'declined' && !j.claims" || { h_show "a declined login" decline; return 1; }
  h_login tamper "$VP/h_dcql.json" --tamper transcript || return 1
  vp_check "$VP/h-tamper-w.json" "!j.ok && j.status === 400 && j.body.error === 'invalid_request'" || { h_show "a response over another SessionTranscript" tamper; return 1; }
  vp_check "$VP/h-tamper.result" "j.status === 'failed' && !j.claims" || { h_show "a response over another SessionTranscript" tamper; return 1; }
}
if [ "$tessera_ok" = 0 ]; then
  fail $t "$tessera_why"
elif h_run; then
  pass $t
else
  fail $t
fi
stop_serves

summary
[ "$failed" -eq 0 ]
