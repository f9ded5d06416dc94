#!/usr/bin/env bash
# Checks (and as root, installs) the Debian 12 packages Tessera needs to build and test.
# Quiet when everything is present. Extend the list below when a new dependency arrives.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config   # toolchain
    libssl-dev libcbor-dev libjansson-dev  # libraries linked into libtessera
    libsqlite3-dev libp11-kit-dev          # wallet store, PKCS#11 secure elements
    softhsm2 p11-kit                       # a real PKCS#11 token for the tests
    libpcsclite-dev pcscd vsmartcard-vpcd  # NFC: the reader speaks PC/SC; the wallet plays the card via vpcd
    libqrencode-dev libzbar-dev libpng-dev # engagement QR codes: terminal, PNG, and reading a PNG
    libmicrohttpd-dev libcurl4-openssl-dev zlib1g-dev  # issuer service, clients, status lists
    libpq-dev postgresql                   # the issuer's registry on PostgreSQL (tests start a cluster)
    sqlite3                                # tests inspect the registry and store files
    clang libclang-rt-14-dev clang-format  # libFuzzer builds, `make format`
    nodejs npm                          # interop tests (tests/interop), the browser test
    chromium                            # the browser test of the demo site (tests/browser)
    valgrind
    python3-pyscard python3-cryptography python3-cbor2  # the independent Aliro reader (tests/interop/aliro)
    openssl xxd                         # test and demo scripts (keys, hex vectors)
)

# Commands that count as "installed" even when not from dpkg (e.g. Node from nodesource
# or nvm, which ships npm inside the nodejs package).
declare -A COMMAND_FOR=([nodejs]=node [npm]=npm)

installed() {
    local pkg=$1
    if [[ -n ${COMMAND_FOR[$pkg]:-} ]] && command -v "${COMMAND_FOR[$pkg]}" >/dev/null; then
        return 0
    fi
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) == installed ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
