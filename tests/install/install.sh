#!/usr/bin/env bash
# The library as another project sees it: `cmake --install` of this build into a temporary
# prefix, then
#   - the shared library exports only the public API: every dynamic symbol is a tes_ function
#     declared in an installed header (no internal helper, no test hook), and has a SONAME;
#   - no test hook is in the installed libtessera.a or libtessera.so, exported or not;
#   - examples/verify_response.c compiled and linked with `pkg-config --cflags --libs tessera`
#     and, separately, with CMake's find_package(tessera), both against the installed files;
#   - the example verifies a response made by the installed `tessera` program, and names the
#     failed check for a response under another transcript;
#   - the man page and the programs are where Debian expects them.
# Needs TES_BUILD_DIR (set by ctest). Ends with "N passed, N failed".
set -euo pipefail

build=${TES_BUILD_DIR:?TES_BUILD_DIR names the build directory}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source "$src/tests/cli/lib.bash"

P=$T/prefix
run 0 "cmake --install" cmake --install "$build" --prefix "$P"

# where Debian expects things (relative to the prefix)
libdir=$(cd "$P" && dirname "$(find . -name 'libtessera.so.*.*' | head -1)")
libdir=${libdir#./}
for f in bin/tessera bin/tessera-issuerd include/tessera/core.h include/tessera/mdoc.h \
         share/man/man1/tessera.1 "$libdir/libtessera.a" "$libdir/libtessera.so" \
         "$libdir/pkgconfig/tessera.pc" "$libdir/cmake/tessera/tesseraConfig.cmake" \
         "$libdir/cmake/tessera/tesseraConfigVersion.cmake"; do
    [[ -e $P/$f ]] && ok || bad "installed: $f missing"
done
# no private header is installed
[[ -z $(find "$P/include" -name '*_internal.h') ]] && ok || bad "a private header was installed"

# ---- the exports
so=$(readlink -f "$P/$libdir/libtessera.so")
soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
[[ $soname == libtessera.so.0 ]] && ok || bad "SONAME is '$soname', want libtessera.so.0"
nm -D --defined-only "$so" | awk 'NF == 3 {print $3}' | sort -u >"$T/exported"
cat "$P"/include/tessera/*.h | grep -oE '\btes_[a-z0-9_]+[[:space:]]*\(' | tr -d ' \t(' | sort -u >"$T/declared"
n=$(wc -l <"$T/exported")
[[ $n -gt 200 ]] && ok || bad "only $n symbols exported"
grep -v '^tes_' "$T/exported" >"$T/out" || true
[[ ! -s $T/out ]] && ok || bad "symbols outside the tes_ namespace are exported"
comm -23 "$T/exported" "$T/declared" >"$T/out"
[[ ! -s $T/out ]] && ok || bad "exported but declared in no public header"
grep -E '(^|_)(debug|test|flawed)(_|$)' "$T/exported" >"$T/out" || true
[[ ! -s $T/out ]] && ok || bad "a test hook is exported"

# ---- no test hook in what is installed at all, exported or not: the static library (which
# keeps every internal symbol) and the shared library's whole symbol table. The hooks the
# tests use (the flawed-credential generators) live only in the build's libtessera_test.a.
hooks='(^|_)(debug|test|flawed)(_|$)'
known='^(se_soft_debug_scalar|mdoc_issue_flawed|mdoc_present_flawed|se_pkcs11_test_key_attrs)$'
[[ -z $(find "$P" -name '*tessera_test*') ]] && ok || bad "the test library was installed"
nm --defined-only "$P/$libdir/libtessera.a" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u >"$T/archive"
n=$(wc -l <"$T/archive")
[[ $n -gt 500 ]] && ok || bad "nm read only $n symbols from libtessera.a"
grep -E "$hooks|$known" "$T/archive" >"$T/out" || true
[[ ! -s $T/out ]] && ok || bad "test hooks in the installed libtessera.a: $(tr '\n' ' ' <"$T/out")"
nm --defined-only "$so" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u >"$T/symtab"
grep -E "$hooks|$known" "$T/symtab" >"$T/out" || true
[[ ! -s $T/out ]] && ok || bad "test hooks in the installed libtessera.so: $(tr '\n' ' ' <"$T/out")"

# ---- build the example against the installed library, two ways
export PKG_CONFIG_PATH="$P/$libdir/pkgconfig"
run 0 "pkg-config --modversion" pkg-config --modversion tessera
grep_in "$T/out" "^0\.1\.0$" "pkg-config finds tessera 0.1.0"
flags=$(pkg-config --cflags --libs tessera)
[[ $flags == *"-I$P"* || $flags == *"-I${P}/include"* || $flags == *"prefix/include"* ]] && ok || bad "pkg-config cflags name the installed headers: $flags"
# shellcheck disable=SC2086
run 0 "cc example with pkg-config" cc -std=c17 -Wall -Wextra -Werror "$src/examples/verify_response.c" \
    $flags -o "$T/verify_pc"
run 0 "cmake example with find_package" cmake -S "$src/examples" -B "$T/ex" -DCMAKE_PREFIX_PATH="$P"
run 0 "cmake --build example" cmake --build "$T/ex"
# linked to the installed shared library, not to the build tree
LD_LIBRARY_PATH="$P/$libdir" ldd "$T/verify_pc" >"$T/out" 2>&1 || true
grep_in "$T/out" "libtessera.so.0 => $P/$libdir/libtessera.so.0" "the example loads the installed libtessera.so.0"

# ---- and it works: a response made by the installed tessera, verified by the example
tes() { "$P/bin/tessera" "$@"; }
run 0 "installed tessera authority init" tes authority init --dir "$T/auth" --name "Utopia" --country UT
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/dev.pem"
openssl pkey -in "$T/dev.pem" -pubout -out "$T/dev_pub.pem" 2>/dev/null
printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' |
    base64 -d >"$T/portrait.png"  # a 1x1 PNG
cat >"$T/claims.json" <<'JSON'
{"org.iso.18013.5.1": {"family_name": "Doe", "given_name": "John", "birth_date": "1990-05-01",
  "issue_date": "2024-01-02", "expiry_date": "2034-01-01", "issuing_country": "UT",
  "issuing_authority": "Utopia DMV", "document_number": "DL-0042", "age_over_18": true,
  "portrait": {"file": "portrait.png"}, "un_distinguishing_sign": "UT",
  "driving_privileges": [{"vehicle_category_code": "B", "issue_date": "2017-02-23", "expiry_date": "2034-01-01"}]}}
JSON
run 0 "installed tessera issue" tes issue --authority "$T/auth" --doctype org.iso.18013.5.1.mDL \
    --claims "$T/claims.json" --device-key "$T/dev_pub.pem" --out "$T/mdl.mdoc"
echo 83f6f6826c746573736572612d746573744401020304 | xxd -r -p >"$T/st.cbor"
echo 83f6f6826c746573736572612d746573744401020305 | xxd -r -p >"$T/st_other.cbor"
run 0 "installed tessera present" tes present --mdoc "$T/mdl.mdoc" --device-key "$T/dev.pem" \
    --elements family_name,age_over_18 --transcript "$T/st.cbor" --out "$T/resp.cbor"
for ex in "$T/verify_pc" "$T/ex/verify_response"; do
    LD_LIBRARY_PATH="$P/$libdir" run 0 "example verifies ($(basename "$ex"))" \
        "$ex" "$T/auth/iaca.pem" "$T/st.cbor" "$T/resp.cbor"
    grep_in "$T/out" "org.iso.18013.5.1/family_name" "example lists family_name"
    grep_in "$T/out" "valid: 1 document" "example says valid"
    LD_LIBRARY_PATH="$P/$libdir" run 1 "example refuses another transcript ($(basename "$ex"))" \
        "$ex" "$T/auth/iaca.pem" "$T/st_other.cbor" "$T/resp.cbor"
    grep_in "$T/err" "(device_signature)" "example names the failed check"
done
LD_LIBRARY_PATH="$P/$libdir" run 2 "example usage" "$T/verify_pc"

finish
