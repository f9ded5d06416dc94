/*
 * libFuzzer target: Status List Tokens and their compressed lists.
 *
 * On every input:
 *   1. tes_status_token_verify with a fixed trust store (the root below, made once) at a
 *      fixed time and uri, at which the seed corpus/fuzz_status/token_valid.cwt verifies.
 *      Only documented codes; an accepted token has the uri asked for and a list of at
 *      least one entry. Then tes_status_token_verify_for the same token for a credential
 *      of that root (same verdict as without an issuer, bounded list size) and for a
 *      credential of another trusted root (made once): never accepted.
 *   2. tes_status_claims_parse on the input as a CWT claims payload (the signature keeps
 *      fuzzed bytes from reaching the claims inside step 1). Accepted claims' views lie in
 *      the input; bits is 1, 2, 4 or 8; sub has no NUL.
 *   3. tes_status_list_decompress on the input (bound 2^20 entries) and
 *      tes_status_lst_decode on input[1..] with bits chosen by input[0] (bound 2^18
 *      entries and 2^15 bytes). An accepted list stays inside its bounds, and a 2-bit
 *      list compresses and decompresses back to the same bytes.
 *
 * The trust store caches validated chains across inputs; that changes no verdict.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status/status_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define URI "https://status.example.org/lists/1"
static const int64_t AT = 1750000000; /* 2025-06-15T15:06:40Z */

/* "fuzz IACA" (P-256, scalar 01..20), valid 2023-11-14 to 2043-11-09; the seeds' status list
 * signer (scalar 40..5f, EKU 1.0.18013.5.1.2) is certified by it. */
static const uint8_t ROOT_DER[465] = {
    0x30, 0x82, 0x01, 0xcd, 0x30, 0x82, 0x01, 0x73, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x10, 0x36,
    0x3d, 0x9b, 0xa2, 0x9a, 0x3e, 0x6d, 0xed, 0x90, 0x22, 0xa9, 0x28, 0x78, 0xdc, 0x8c, 0x93, 0x30,
    0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30, 0x21, 0x31, 0x0b, 0x30,
    0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x4e, 0x4c, 0x31, 0x12, 0x30, 0x10, 0x06, 0x03,
    0x55, 0x04, 0x03, 0x0c, 0x09, 0x66, 0x75, 0x7a, 0x7a, 0x20, 0x49, 0x41, 0x43, 0x41, 0x30, 0x1e,
    0x17, 0x0d, 0x32, 0x33, 0x31, 0x31, 0x31, 0x34, 0x32, 0x32, 0x31, 0x33, 0x32, 0x30, 0x5a, 0x17,
    0x0d, 0x34, 0x33, 0x31, 0x31, 0x30, 0x39, 0x32, 0x32, 0x31, 0x33, 0x32, 0x30, 0x5a, 0x30, 0x21,
    0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x4e, 0x4c, 0x31, 0x12, 0x30,
    0x10, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x09, 0x66, 0x75, 0x7a, 0x7a, 0x20, 0x49, 0x41, 0x43,
    0x41, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
    0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x51, 0x5c, 0x3d, 0x6e,
    0xb9, 0xe3, 0x96, 0xb9, 0x04, 0xd3, 0xfe, 0xca, 0x7f, 0x54, 0xfd, 0xcd, 0x0c, 0xc1, 0xe9, 0x97,
    0xbf, 0x37, 0x5d, 0xca, 0x51, 0x5a, 0xd0, 0xa6, 0xc3, 0xb4, 0x03, 0x5f, 0x45, 0x36, 0xbe, 0x3a,
    0x50, 0xf3, 0x18, 0xfb, 0xf9, 0xa5, 0x47, 0x59, 0x02, 0xa2, 0x21, 0x50, 0x2b, 0xef, 0x0d, 0x57,
    0xe0, 0x8c, 0x53, 0xb2, 0xcc, 0x0a, 0x56, 0xf1, 0x7d, 0x9f, 0x93, 0x54, 0xa3, 0x81, 0x8c, 0x30,
    0x81, 0x89, 0x30, 0x12, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x08, 0x30, 0x06,
    0x01, 0x01, 0xff, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff,
    0x04, 0x04, 0x03, 0x02, 0x01, 0x06, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04,
    0x14, 0xbb, 0xa7, 0x3c, 0xbe, 0x89, 0x2e, 0x7b, 0x39, 0xdf, 0x5c, 0x59, 0xbe, 0x4a, 0x63, 0x87,
    0x06, 0x38, 0xa2, 0x40, 0xb8, 0x30, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23, 0x04, 0x18, 0x30, 0x16,
    0x80, 0x14, 0xbb, 0xa7, 0x3c, 0xbe, 0x89, 0x2e, 0x7b, 0x39, 0xdf, 0x5c, 0x59, 0xbe, 0x4a, 0x63,
    0x87, 0x06, 0x38, 0xa2, 0x40, 0xb8, 0x30, 0x23, 0x06, 0x03, 0x55, 0x1d, 0x12, 0x04, 0x1c, 0x30,
    0x1a, 0x86, 0x18, 0x68, 0x74, 0x74, 0x70, 0x73, 0x3a, 0x2f, 0x2f, 0x69, 0x61, 0x63, 0x61, 0x2e,
    0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x30, 0x0a, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x48, 0x00, 0x30, 0x45, 0x02, 0x20, 0x73, 0xd7,
    0x00, 0x75, 0xd2, 0x17, 0x6b, 0x4d, 0x70, 0x06, 0x10, 0x47, 0xdb, 0x35, 0xb6, 0x15, 0x1c, 0xe4,
    0x63, 0xf1, 0x5a, 0x8e, 0xb9, 0x7e, 0x9a, 0xab, 0x29, 0x9c, 0x83, 0xad, 0x06, 0xbd, 0x02, 0x21,
    0x00, 0xa2, 0xf1, 0x69, 0xe8, 0xa8, 0xc4, 0x92, 0x5f, 0xfb, 0xd1, 0x1c, 0x75, 0x93, 0x74, 0xee,
    0x27, 0x4c, 0x20, 0x80, 0x85, 0xe3, 0x0c, 0x6b, 0x3b, 0x8e, 0xb3, 0x60, 0xd3, 0x8d, 0x5d, 0x07,
    0x84,
};

static tes_trust_store *trust;
static tes_cert *root, *other_root; /* the seeds' IACA; another IACA the store also trusts */

static void setup(void)
{
    tes_key *k = NULL;
    CHECK(tes_trust_store_new(&trust) == TES_OK);
    CHECK(tes_cert_parse(TES_BYTES(ROOT_DER, sizeof ROOT_DER), &root) == TES_OK);
    CHECK(tes_trust_store_add(trust, TES_PROFILE_DS, root) == TES_OK);
    tes_cert_template t = {
        .common_name = "other IACA",
        .country = "NL",
        .not_before = 1700000000,
        .not_after = 1700000000 + 9 * 365 * 86400LL,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
        .issuer_alt_uri = "https://other.example.org",
    };
    CHECK(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    CHECK(tes_cert_create(&t, k, NULL, k, &other_root) == TES_OK);
    CHECK(tes_trust_store_add(trust, TES_PROFILE_DS, other_root) == TES_OK);
    tes_key_free(k);
}

static bool documented(tes_err e)
{
    return e == TES_OK || tes_err_is_caller(e) || tes_err_is_malformed(e) || tes_err_is_check(e) ||
           tes_err_is_env(e);
}

static bool inside(tes_bytes v, const uint8_t *data, size_t size)
{
    return v.len == 0 || (v.ptr >= data && v.ptr + v.len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (trust == NULL)
        setup();
    tes_bytes in = TES_BYTES(data, size);

    /* 1. the whole token */
    tes_status_token t;
    tes_err e = tes_status_token_verify(in, URI, trust, AT, &t);
    CHECK(documented(e));
    if (e == TES_OK) {
        CHECK(strcmp(t.uri, URI) == 0);
        CHECK(t.list.n > 0 && t.list.bits != NULL && t.list.n <= TES_STATUS_MAX_ENTRIES + 7);
        CHECK(t.list.n <= (size_t)TES_STATUS_DEFAULT_MAX_LIST_BYTES * 8);
        CHECK(t.exp == 0 || t.exp > AT);
        (void)tes_status_list_get(&t.list, t.list.n - 1);
    } else {
        CHECK(t.list.bits == NULL && t.list.n == 0);
    }
    tes_status_token_free(&t);

    /* ... for a credential of the same IACA: the same verdict; of another one: never */
    const tes_status_issuer own = {.ds = root, .iaca = root}, other = {other_root, other_root};
    tes_err e2 = tes_status_token_verify_for(in, URI, trust, &own, AT, 0, &t);
    CHECK(e2 == e);
    CHECK(e2 != TES_OK || (t.list.n > 0 && !t.by_own_ds));
    tes_status_token_free(&t);
    e2 = tes_status_token_verify_for(in, URI, trust, &other, AT, 0, &t);
    CHECK(e2 != TES_OK && documented(e2) && t.list.bits == NULL);
    CHECK(e != TES_OK || e2 == TES_ERR_STATUS_ISSUER);
    tes_status_token_free(&t);

    /* 2. the claims alone */
    tes_status_claims c;
    e = tes_status_claims_parse(in, &c);
    CHECK(e == TES_OK || e == TES_ERR_STATUS_TOKEN || tes_err_is_env(e));
    if (e == TES_OK) {
        CHECK(inside(c.sub, data, size) && inside(c.lst, data, size));
        CHECK(c.sub.len > 0 && c.sub.len < sizeof t.uri && !memchr(c.sub.ptr, 0, c.sub.len));
        CHECK(c.bits == 1 || c.bits == 2 || c.bits == 4 || c.bits == 8);
        CHECK(!c.has_ttl || c.ttl >= 0);
    }

    /* 3. compressed lists */
    tes_status_list l;
    e = tes_status_list_decompress(in, 1u << 20, &l);
    CHECK(e == TES_OK || e == TES_ERR_STATUS_TOKEN || e == TES_ERR_STATUS_TOO_LARGE ||
          e == TES_ERR_NOMEM);
    if (e == TES_OK) {
        CHECK(l.n > 0 && l.n <= (1u << 20) + 3 && l.n % 4 == 0);
        tes_buf z = {0};
        tes_status_list back;
        CHECK(tes_status_list_compress(&l, &z) == TES_OK);
        CHECK(tes_status_list_decompress(tes_buf_bytes(&z), l.n, &back) == TES_OK);
        CHECK(back.n == l.n && memcmp(back.bits, l.bits, l.n / 4) == 0);
        tes_status_list_free(&back);
        tes_buf_free(&z);
    } else {
        CHECK(l.bits == NULL && l.n == 0);
    }
    tes_status_list_free(&l);
    if (size > 0) {
        static const unsigned widths[4] = {1, 2, 4, 8};
        unsigned bits = widths[data[0] & 3];
        e = tes_status_lst_decode(TES_BYTES(data + 1, size - 1), bits, 1u << 18, 1u << 15, &l);
        CHECK(e == TES_OK || e == TES_ERR_STATUS_TOKEN || e == TES_ERR_STATUS_TOO_LARGE ||
              e == TES_ERR_NOMEM);
        if (e == TES_OK) {
            CHECK(l.n > 0 && l.n <= (1u << 18) + 7 && l.n <= (8u << 15) / bits);
            for (size_t i = 0; i < l.n; i++) {
                tes_status_value v = tes_status_list_get(&l, i);
                CHECK(v == TES_STATUS_VALID || v == TES_STATUS_REVOKED ||
                      v == TES_STATUS_SUSPENDED || v == TES_STATUS_UNDETERMINED);
                if (bits == 1)
                    CHECK(v != TES_STATUS_SUSPENDED && v != TES_STATUS_UNDETERMINED);
            }
        }
        tes_status_list_free(&l);
    }
    return 0;
}
