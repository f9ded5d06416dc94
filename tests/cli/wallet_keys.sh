#!/usr/bin/env bash
# CLI door keys, the wallet's side: wallet key-request (a new file, never overwritten),
# wallet key-add of a key package made by a stand-in hotel (tests/cli/hotel_package.py, written
# from the profile with cbor2 + cryptography, not with Tessera), wallet list showing the key,
# the same package refused, a package for another wallet refused, revocation documents (newer
# kept and the key shown revoked, older refused), wallet tap without vpcd (exit 2).
# Needs: $TESSERA_BIN, /usr/bin/python3 with cbor2 and cryptography.
set -euo pipefail

TESSERA_BIN=$(realpath "${TESSERA_BIN:-build/tessera}")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source "$HERE/lib.bash"
hotel() { /usr/bin/python3 "$HERE/hotel_package.py" "$@"; }

now=$(date +%s)
run 0 "wallet init" tes wallet init --dir "$T/phone"
run 0 "wallet init (another phone)" tes wallet init --dir "$T/other"
run 0 "hotel init" hotel init "$T/hotel"

# ---- the request
run 0 "key-request" tes wallet key-request --wallet "$T/phone" --out "$T/req.cbor"
grep_in "$T/out" "written to" "key-request says where"
[[ $(stat -c %a "$T/req.cbor") == 644 ]] && ok || bad "the request's mode is not 0644"
cp "$T/req.cbor" "$T/req.copy"
run 2 "key-request over an existing file" tes wallet key-request --wallet "$T/phone" --out "$T/req.cbor"
grep_in "$T/err" "refusing to overwrite" "an existing file is named"
cmp -s "$T/req.cbor" "$T/req.copy" && ok || bad "the existing request was changed"
run 2 "key-request without --out" tes wallet key-request --wallet "$T/phone"
run 0 "list: the requested key" tes wallet list --wallet "$T/phone"
grep_in "$T/out" "waiting for the hotel's key package" "a requested key is listed"

# ---- the package
run 0 "hotel package" hotel package "$T/hotel" "$T/req.cbor" "$T/pkg.cbor" 101 \
    $((now - 3600)) $((now + 3 * 86400)) $((now - 60))
run 0 "key-add package" tes wallet key-add --wallet "$T/phone" "$T/pkg.cbor"
grep_in "$T/out" "door key .* from Hotel Aurora: room 101" "key-add names hotel and room"
run 0 "list: the active key" tes wallet list --wallet "$T/phone"
grep_in "$T/out" "Hotel Aurora  room 101" "list shows hotel and room"
grep_in "$T/out" "state:       active" "list shows the key active"
no_grep_in "$T/out" "waiting for" "no key is still requested"
run 1 "the same package again" tes wallet key-add --wallet "$T/phone" "$T/pkg.cbor"
grep_in "$T/err" "added already" "the second add says so"
run 1 "a package for another wallet's key" tes wallet key-add --wallet "$T/other" "$T/pkg.cbor"
grep_in "$T/err" "did not request" "the wrong wallet is told why"
# an extended stay: a newer document for the same key replaces the older
run 0 "hotel package (extended)" hotel package "$T/hotel" "$T/req.cbor" "$T/pkg2.cbor" 101 \
    $((now - 3600)) $((now + 5 * 86400)) $((now - 30))
run 0 "key-add the extension" tes wallet key-add --wallet "$T/phone" "$T/pkg2.cbor"
run 0 "list after the extension" tes wallet list --wallet "$T/phone"
[[ $(grep -c "^key " "$T/out") == 1 ]] && ok || bad "the extension made a second key"
printf 'not cbor' >"$T/junk"
run 1 "key-add of junk" tes wallet key-add --wallet "$T/phone" "$T/junk"
run 2 "key-add without FILE" tes wallet key-add --wallet "$T/phone"
run 2 "key-add of a missing file" tes wallet key-add --wallet "$T/phone" "$T/none"

# ---- revocations carried by the phone
run 0 "hotel revoke (another key)" hotel revoke "$T/hotel" "$T/rev1.cbor" $((now - 20))
run 0 "hotel revoke (this key)" hotel revoke "$T/hotel" "$T/rev2.cbor" $((now - 10)) "$T/req.cbor"
run 0 "key-add revocation 1" tes wallet key-add --wallet "$T/phone" "$T/rev1.cbor"
grep_in "$T/out" "revocation document of Hotel Aurora" "the revocation is kept"
run 1 "the same revocation again" tes wallet key-add --wallet "$T/phone" "$T/rev1.cbor"
grep_in "$T/err" "access_rollback" "not newer: rollback"
run 0 "key-add revocation 2" tes wallet key-add --wallet "$T/phone" "$T/rev2.cbor"
grep_in "$T/out" "1 of this wallet's door keys is revoked" "own key revoked"
run 1 "the older revocation after the newer" tes wallet key-add --wallet "$T/phone" "$T/rev1.cbor"
run 0 "list: revoked" tes wallet list --wallet "$T/phone"
grep_in "$T/out" "REVOKED" "list shows the key revoked"
run 1 "a revocation for a wallet without the hotel's key" tes wallet key-add --wallet "$T/other" "$T/rev2.cbor"

# ---- the tap needs vpcd
run 2 "tap without vpcd" tes wallet tap --wallet "$T/phone" --vpcd 127.0.0.1:1 --timeout 1
grep_in "$T/err" "vpcd" "the tap names vpcd"
run 2 "tap --count 0" tes wallet tap --wallet "$T/phone" --count 0
run 0 "tap --help" tes wallet tap --help
grep_in "$T/out" "door opened" "the help says what it prints"

finish
