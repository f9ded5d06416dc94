/*
 * Token Status List (src/status/): packing against the draft's examples,
 * zlib round trips and decompression bombs, token build/verify with a real
 * authority (IACA root + document signer) and every way a token can be wrong,
 * and the verifier's cache against a real HTTP server on a random loopback
 * port (libmicrohttpd): online, cached, off, server gone, tampered, 404,
 * timeout, expired, damaged cache.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "status/status_internal.h"
#include "tessera/mdoc.h"
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"
#include "vectors.h"

static const int64_t NOW = 1750000000; /* 2025-06-15, inside the authority's validity */

static tes_buf hex(const char *s)
{
    tes_buf b = {0};
    if (tes_hex_decode(&b, s, strlen(s)) != TES_OK)
        b.failed = true;
    return b;
}

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- an authority */

typedef struct authority {
    tes_key *root_key, *ds_key;
    tes_cert *root, *ds;
    tes_trust_store *trust;
    tes_signer signer;
    tes_bytes chain[1];
    tes_status_issuer iss; /* its credentials' issuer: the DS and the IACA */
} authority;

static bool authority_make(authority *a, const char *name, int64_t ds_not_after)
{
    memset(a, 0, sizeof *a);
    char cn[64];
    snprintf(cn, sizeof cn, "%s IACA", name);
    tes_cert_template rt = {
        .common_name = cn,
        .country = "NL",
        .not_before = 1700000000,
        .not_after = 1700000000 + 9 * 365 * 86400LL,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
        .issuer_alt_uri = "https://iaca.example.org",
    };
    tes_cert_template dt = {
        .common_name = "status list signer",
        .country = "NL",
        .not_before = 1700000000,
        .not_after = ds_not_after,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE,
        .eku_oid = TES_OID_EKU_MDL_DS,
        .issuer_alt_uri = "https://iaca.example.org",
    };
    if (tes_key_generate(TES_CURVE_P256, &a->root_key) != TES_OK ||
        tes_key_generate(TES_CURVE_P256, &a->ds_key) != TES_OK ||
        tes_cert_create(&rt, a->root_key, NULL, a->root_key, &a->root) != TES_OK ||
        tes_cert_create(&dt, a->ds_key, a->root, a->root_key, &a->ds) != TES_OK ||
        tes_trust_store_new(&a->trust) != TES_OK ||
        tes_trust_store_add(a->trust, TES_PROFILE_DS, a->root) != TES_OK) {
        fprintf(stderr, "authority: %s\n", tes_err_message());
        return false;
    }
    a->signer = tes_signer_from_key(a->ds_key);
    a->chain[0] = tes_cert_der(a->ds);
    a->iss = (tes_status_issuer){.ds = a->ds, .iaca = a->root};
    return true;
}

static void authority_free(authority *a)
{
    tes_trust_store_free(a->trust);
    tes_cert_free(a->ds);
    tes_cert_free(a->root);
    tes_key_free(a->ds_key);
    tes_key_free(a->root_key);
}

/* A list of n entries: 1 revoked, 2 suspended, every 7th from 7 on revoked, the rest valid. */
static bool sample_list(size_t n, tes_status_list *l)
{
    if (tes_status_list_new(n, l) != TES_OK)
        return false;
    bool ok = tes_status_list_set(l, 1, TES_STATUS_REVOKED) == TES_OK &&
              tes_status_list_set(l, 2, TES_STATUS_SUSPENDED) == TES_OK;
    for (size_t i = 7; ok && i < n; i += 7)
        ok = tes_status_list_set(l, i, TES_STATUS_REVOKED) == TES_OK;
    return ok;
}

static tes_buf make_token(authority *a, const char *uri, int64_t iat, int64_t exp, int64_t ttl)
{
    tes_status_list l;
    tes_buf out = {0};
    if (!sample_list(64, &l) ||
        tes_status_token_build(&l, uri, iat, exp, ttl, &a->signer, a->chain, 1, &out) != TES_OK) {
        fprintf(stderr, "make_token: %s\n", tes_err_message());
        out.failed = true;
    }
    tes_status_list_free(&l);
    return out;
}

/* A Sign1 written by hand: any protected header and payload, signed by key, with cert. */
static tes_buf sign_raw(const tes_key *key, tes_bytes prot, tes_bytes payload, tes_bytes cert)
{
    tes_buf tbs = {0}, out = {0};
    tes_cbor_enc e = {.out = &tbs};
    tes_cbor_enc_array(&e, 4);
    tes_cbor_enc_cstr(&e, "Signature1");
    tes_cbor_enc_bytes(&e, prot.ptr, prot.len);
    tes_cbor_enc_bytes(&e, "", 0);
    tes_cbor_enc_bytes(&e, payload.ptr, payload.len);
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    if (tes_cbor_enc_finish(&e) != TES_OK ||
        tes_key_sign(key, TES_HASH_SHA256, tes_buf_bytes(&tbs), sig, &sig_len) != TES_OK)
        out.failed = true;
    e = (tes_cbor_enc){.out = &out};
    tes_cbor_enc_tag(&e, 18);
    tes_cbor_enc_array(&e, 4);
    tes_cbor_enc_bytes(&e, prot.ptr, prot.len);
    tes_cbor_enc_map(&e, 1);
    tes_cbor_enc_int(&e, 33);
    tes_cbor_enc_bytes(&e, cert.ptr, cert.len);
    tes_cbor_enc_bytes(&e, payload.ptr, payload.len);
    tes_cbor_enc_bytes(&e, sig, sig_len);
    if (tes_cbor_enc_finish(&e) != TES_OK)
        out.failed = true;
    tes_buf_free(&tbs);
    return out;
}

static tes_buf prot_with_typ(const char *typ)
{
    tes_buf b = {0};
    tes_cbor_enc e = {.out = &b};
    tes_cbor_enc_map(&e, typ ? 2 : 1);
    tes_cbor_enc_int(&e, 1);
    tes_cbor_enc_int(&e, TES_COSE_ES256);
    if (typ) {
        tes_cbor_enc_int(&e, 16);
        tes_cbor_enc_cstr(&e, typ);
    }
    if (tes_cbor_enc_finish(&e) != TES_OK)
        b.failed = true;
    return b;
}

/* Claims {2: uri, 6: iat, 65533: {"bits": bits, "lst": zlib(raw)}}. */
static tes_buf claims_raw(const char *uri, unsigned bits, const uint8_t *raw, size_t n)
{
    uint8_t z[256];
    uLongf zlen = sizeof z;
    tes_buf b = {0};
    if (compress2(z, &zlen, raw, n, 9) != Z_OK) {
        b.failed = true;
        return b;
    }
    tes_cbor_enc e = {.out = &b};
    tes_cbor_enc_map(&e, 3);
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_cstr(&e, uri);
    tes_cbor_enc_uint(&e, 6);
    tes_cbor_enc_int(&e, NOW - 10);
    tes_cbor_enc_uint(&e, 65533);
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "bits");
    tes_cbor_enc_uint(&e, bits);
    tes_cbor_enc_cstr(&e, "lst");
    tes_cbor_enc_bytes(&e, z, zlen);
    if (tes_cbor_enc_finish(&e) != TES_OK)
        b.failed = true;
    return b;
}

/* ---------------------------------------------------------------- packing and zlib */

/* draft-ietf-oauth-status-list §4.1, 2-bit example: statuses 1,2,0,3,0,1,0,1,1,2,3,3 pack to
 * c9 44 f9 and compress (zlib, level 9) to 78da3be9f2130003df0207 ("eNo76fITAAPfAgc"). */
TEST(draft_example_two_bits)
{
    static const uint8_t packed[3] = {0xc9, 0x44, 0xf9};
    tes_buf want = hex("78da3be9f2130003df0207");
    REQUIRE(!want.failed);

    tes_status_list l;
    REQUIRE(tes_status_list_new(12, &l) == TES_OK);
    memcpy(l.bits, packed, 3);
    tes_buf z = {0};
    CHECK_ERR(tes_status_list_compress(&l, &z), TES_OK);
    CHECK_EQ_INT(z.len, want.len);
    if (z.len == want.len)
        CHECK_EQ_MEM(z.ptr, want.ptr, want.len);
    tes_status_list_free(&l);

    /* set() packs the same way (3 is reserved: set cannot store it, so compare the rest) */
    static const int vals[12] = {1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3};
    REQUIRE(tes_status_list_new(12, &l) == TES_OK);
    for (size_t i = 0; i < 12; i++)
        if (vals[i] != 3)
            CHECK_ERR(tes_status_list_set(&l, i, (tes_status_value)vals[i]), TES_OK);
    CHECK_ERR(tes_status_list_set(&l, 3, (tes_status_value)3), TES_ERR_ARG);
    CHECK_EQ_INT(l.bits[0], 0xc9 & 0x3f);
    CHECK_EQ_INT(l.bits[1], 0x44);
    CHECK_EQ_INT(l.bits[2], 0xf9 & 0x0f);
    tes_status_list_free(&l);

    /* and back: the draft's compressed bytes read as those statuses */
    CHECK_ERR(tes_status_list_decompress(tes_buf_bytes(&want), 0, &l), TES_OK);
    CHECK_EQ_INT(l.n, 12);
    for (size_t i = 0; i < 12; i++)
        CHECK_EQ_INT(tes_status_list_get(&l, i),
                     vals[i] == 3 ? TES_STATUS_UNDETERMINED : (tes_status_value)vals[i]);
    CHECK_EQ_INT(tes_status_list_get(&l, 12), TES_STATUS_UNDETERMINED);
    tes_status_list_free(&l);
    tes_buf_free(&z);
    tes_buf_free(&want);
}

/* The draft's CWT example (§5.2; as served in pyeudiw's tests): tag 18, protected
 * {1: -7, 16: "application/statuslist+cwt"}, kid "12", claims sub, iat, exp, ttl 43200,
 * status_list {bits: 1, lst: 78dadbb918000217015d} = the 1-bit example b9 a3. */
static const char *DRAFT_CWT =
    "d2845820a2012610781a6170706c69636174696f6e2f7374617475736c6973742b637774a10442313258"
    "50a502782168747470733a2f2f6578616d706c652e636f6d2f7374617475736c697374732f31061a648c"
    "5bea041a8898dfea19fffe19a8c019fffda2646269747301636c73744a78dadbb918000217015d584027"
    "d5535dfe0a33291cc9bfb41053ad2493c49d1ee4635e12548a79bac92916845fee76799c42762f928441"
    "c5c344e3612381e0cf88f2f160b3e1f97728ec8403";

TEST(draft_cwt_example_claims_and_one_bit_list)
{
    tes_buf tok = hex(DRAFT_CWT);
    REQUIRE(!tok.failed);
    tes_cose_msg m;
    REQUIRE(tes_cose_sign1_parse(tes_buf_bytes(&tok), &m) == TES_OK);
    tes_status_claims c;
    REQUIRE(tes_status_claims_parse(m.payload, &c) == TES_OK);
    CHECK(tes_bytes_eq(c.sub, TES_BYTES_STR("https://example.com/statuslists/1")));
    CHECK_EQ_INT(c.iat, 1686920170);
    CHECK(c.has_exp && c.exp == 2291720170);
    CHECK(c.has_ttl && c.ttl == 43200);
    CHECK_EQ_INT(c.bits, 1);
    tes_buf lst = hex("78dadbb918000217015d");
    CHECK(tes_bytes_eq(c.lst, tes_buf_bytes(&lst)));

    static const int vals[16] = {1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1};
    tes_status_list l;
    REQUIRE(tes_status_lst_decode(c.lst, 1, 0, 0, &l) == TES_OK);
    CHECK_EQ_INT(l.n, 16);
    for (size_t i = 0; i < 16; i++)
        CHECK_EQ_INT(tes_status_list_get(&l, i), vals[i]);
    tes_status_list_free(&l);

    /* it has a kid, not an x5chain: nothing to verify the signer with */
    tes_trust_store *ts;
    REQUIRE(tes_trust_store_new(&ts) == TES_OK);
    tes_status_token t;
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), "https://example.com/statuslists/1", ts,
                                      NOW, &t),
              TES_ERR_STATUS_TOKEN);
    CHECK(strstr(tes_err_message(), "x5chain") != NULL);
    CHECK(t.list.bits == NULL);
    tes_trust_store_free(ts);
    tes_buf_free(&lst);
    tes_buf_free(&tok);
}

TEST(set_get_bounds)
{
    tes_status_list l;
    CHECK_ERR(tes_status_list_new(0, &l), TES_ERR_ARG);
    CHECK_ERR(tes_status_list_new((size_t)TES_STATUS_MAX_ENTRIES + 1, &l), TES_ERR_ARG);
    REQUIRE(tes_status_list_new(10, &l) == TES_OK);
    for (size_t i = 0; i < 10; i++)
        CHECK_EQ_INT(tes_status_list_get(&l, i), TES_STATUS_VALID);
    CHECK_ERR(tes_status_list_set(&l, 9, TES_STATUS_SUSPENDED), TES_OK);
    CHECK_ERR(tes_status_list_set(&l, 9, TES_STATUS_REVOKED), TES_OK); /* overwrite */
    CHECK_ERR(tes_status_list_set(&l, 8, TES_STATUS_SUSPENDED), TES_OK);
    CHECK_ERR(tes_status_list_set(&l, 8, TES_STATUS_VALID), TES_OK);
    CHECK_ERR(tes_status_list_set(&l, 10, TES_STATUS_REVOKED), TES_ERR_ARG);
    CHECK_ERR(tes_status_list_set(&l, 0, TES_STATUS_UNDETERMINED), TES_ERR_ARG);
    CHECK_EQ_INT(tes_status_list_get(&l, 9), TES_STATUS_REVOKED);
    CHECK_EQ_INT(tes_status_list_get(&l, 8), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&l, 10), TES_STATUS_UNDETERMINED);
    CHECK_EQ_INT(tes_status_list_get(&l, SIZE_MAX), TES_STATUS_UNDETERMINED);
    CHECK_EQ_INT(l.bits[2], 0x04); /* entry 9 = bits 2..3 of byte 2 */
    tes_status_list_free(&l);
    CHECK(l.bits == NULL && l.n == 0);
    tes_status_list_free(&l); /* twice is harmless */
    CHECK_EQ_INT(tes_status_list_get(NULL, 0), TES_STATUS_UNDETERMINED);
}

TEST(compress_round_trip_random)
{
    size_t n = 100003;
    tes_status_list l, back;
    REQUIRE(tes_status_list_new(n, &l) == TES_OK);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        unsigned r = (x >> 16) % 100;
        tes_status_value v = r < 2   ? TES_STATUS_REVOKED
                             : r < 3 ? TES_STATUS_SUSPENDED
                                     : TES_STATUS_VALID;
        if (tes_status_list_set(&l, i, v) != TES_OK)
            CHECK(false);
    }
    tes_buf z = {0};
    REQUIRE(tes_status_list_compress(&l, &z) == TES_OK);
    CHECK(z.len < (n + 3) / 4);
    CHECK(z.ptr[0] == 0x78 && z.ptr[1] == 0xda); /* zlib header, level 9 */
    REQUIRE(tes_status_list_decompress(tes_buf_bytes(&z), n + 3, &back) == TES_OK);
    CHECK_EQ_INT(back.n, (n + 3) / 4 * 4); /* whole bytes: padding entries are valid */
    CHECK_EQ_MEM(back.bits, l.bits, (n + 3) / 4);
    tes_status_list_free(&back);
    /* exactly at the bound is fine, one byte's worth under it is a bomb */
    CHECK_ERR(tes_status_list_decompress(tes_buf_bytes(&z), (n + 3) / 4 * 4, &back), TES_OK);
    tes_status_list_free(&back);
    CHECK_ERR(tes_status_list_decompress(tes_buf_bytes(&z), (n + 3) / 4 * 4 - 4, &back),
              TES_ERR_STATUS_TOO_LARGE);
    CHECK(back.bits == NULL);
    tes_status_list_free(&l);
    tes_buf_free(&z);
}

TEST(decompress_malformed)
{
    tes_status_list l;
    tes_buf good = hex("78da3be9f2130003df0207"), b = {0};
    REQUIRE(!good.failed);
    CHECK_ERR(tes_status_list_decompress(TES_BYTES(NULL, 0), 0, &l), TES_ERR_STATUS_TOKEN);
    /* truncated */
    CHECK_ERR(tes_status_list_decompress(TES_BYTES(good.ptr, good.len - 1), 0, &l),
              TES_ERR_STATUS_TOKEN);
    CHECK_ERR(tes_status_list_decompress(TES_BYTES(good.ptr, 2), 0, &l), TES_ERR_STATUS_TOKEN);
    /* trailing bytes after the stream */
    tes_buf_append(&b, good.ptr, good.len);
    tes_buf_append(&b, "\0", 1);
    CHECK_ERR(tes_status_list_decompress(tes_buf_bytes(&b), 0, &l), TES_ERR_STATUS_TOKEN);
    /* adler32 wrong */
    b.len = good.len;
    b.ptr[b.len - 1] ^= 1;
    CHECK_ERR(tes_status_list_decompress(tes_buf_bytes(&b), 0, &l), TES_ERR_STATUS_TOKEN);
    /* raw deflate / gzip / garbage are not zlib */
    CHECK_ERR(tes_status_list_decompress(TES_BYTES(good.ptr + 2, good.len - 2), 0, &l),
              TES_ERR_STATUS_TOKEN);
    CHECK_ERR(tes_status_list_decompress(TES_BYTES_STR("\x1f\x8b\x08\x00\x00\x00"), 0, &l),
              TES_ERR_STATUS_TOKEN);
    /* an empty list */
    uint8_t z[32];
    uLongf zl = sizeof z;
    REQUIRE(compress2(z, &zl, (const Bytef *)"", 0, 9) == Z_OK);
    CHECK_ERR(tes_status_list_decompress(TES_BYTES(z, zl), 0, &l), TES_ERR_STATUS_TOKEN);
    CHECK(l.bits == NULL && l.n == 0);
    /* bits other than 1, 2, 4, 8 */
    CHECK_ERR(tes_status_lst_decode(tes_buf_bytes(&good), 3, 0, 0, &l), TES_ERR_STATUS_TOKEN);
    CHECK_ERR(tes_status_lst_decode(tes_buf_bytes(&good), 16, 0, 0, &l), TES_ERR_STATUS_TOKEN);
    tes_buf_free(&b);
    tes_buf_free(&good);
}

/* 80 MiB of zeros deflate to ~80 kB; neither the small nor the largest bound lets it through,
 * and the small bound refuses it after inflating only its 256 kB. */
TEST(decompression_bomb)
{
    static uint8_t zeros[1 << 20];
    tes_buf z = {0};
    z_stream s = {0};
    REQUIRE(deflateInit(&s, 1) == Z_OK);
    uint8_t out[65536];
    for (int mb = 0; mb < 80; mb++) {
        s.next_in = zeros;
        s.avail_in = sizeof zeros;
        do {
            s.next_out = out;
            s.avail_out = sizeof out;
            CHECK(deflate(&s, mb == 79 ? Z_FINISH : Z_NO_FLUSH) != Z_STREAM_ERROR);
            tes_buf_append(&z, out, sizeof out - s.avail_out);
        } while (s.avail_out == 0);
    }
    deflateEnd(&s);
    REQUIRE(!z.failed && z.len < 1 << 20);

    tes_status_list l;
    double t0 = mono();
    CHECK_ERR(tes_status_list_decompress(tes_buf_bytes(&z), 1000000, &l), TES_ERR_STATUS_TOO_LARGE);
    double t1 = mono();
    CHECK(strstr(tes_err_message(), "bomb") != NULL);
    CHECK(t1 - t0 < 0.5);
    CHECK(l.bits == NULL);
    CHECK_ERR(tes_status_list_decompress(tes_buf_bytes(&z), 0, &l), TES_ERR_STATUS_TOO_LARGE);
    CHECK_ERR(tes_status_lst_decode(tes_buf_bytes(&z), 8, 1000, 0, &l), TES_ERR_STATUS_TOO_LARGE);
    tes_buf_free(&z);
}

/* ---------------------------------------------------------------- tokens */

#define URI "https://status.example.org/lists/1"

TEST(token_build_and_verify)
{
    authority a;
    REQUIRE(authority_make(&a, "A", 1700000000 + 3 * 365 * 86400LL));
    tes_buf tok = make_token(&a, URI, NOW - 10, NOW + 3600, 600);
    REQUIRE(!tok.failed);
    CHECK(tok.ptr[0] == 0xd2); /* tag 18 */

    tes_status_token t;
    REQUIRE(tes_status_token_verify(tes_buf_bytes(&tok), URI, a.trust, NOW, &t) == TES_OK);
    CHECK_EQ_STR(t.uri, URI);
    CHECK_EQ_INT(t.iat, NOW - 10);
    CHECK_EQ_INT(t.exp, NOW + 3600);
    CHECK_EQ_INT(t.ttl, 600);
    CHECK_EQ_INT(t.list.n, 64);
    CHECK_EQ_INT(tes_status_list_get(&t.list, 0), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&t.list, 1), TES_STATUS_REVOKED);
    CHECK_EQ_INT(tes_status_list_get(&t.list, 2), TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(tes_status_list_get(&t.list, 63), TES_STATUS_REVOKED);
    tes_status_token_free(&t);

    /* the protected header and claims are exactly as the draft writes them, the x5chain
     * signed with them (protected: found by verifiers that look only there) */
    tes_cose_msg m;
    REQUIRE(tes_cose_sign1_parse(tes_buf_bytes(&tok), &m) == TES_OK);
    tes_buf prot = {0};
    tes_cbor_enc pe = {.out = &prot};
    tes_cbor_enc_map(&pe, 3);
    tes_cbor_enc_int(&pe, 1);
    tes_cbor_enc_int(&pe, TES_COSE_ES256);
    tes_cbor_enc_int(&pe, 16);
    tes_cbor_enc_cstr(&pe, "application/statuslist+cwt");
    tes_cbor_enc_int(&pe, 33);
    tes_cbor_enc_bytes(&pe, a.chain[0].ptr, a.chain[0].len);
    REQUIRE(tes_cbor_enc_finish(&pe) == TES_OK);
    CHECK(tes_bytes_eq(m.protected_raw, tes_buf_bytes(&prot)));
    CHECK_EQ_INT(m.x5chain_len, 1);
    CHECK(tes_bytes_eq(m.x5chain[0], a.chain[0]));
    tes_status_claims c;
    REQUIRE(tes_status_claims_parse(m.payload, &c) == TES_OK);
    CHECK_EQ_INT(c.bits, 2);
    tes_buf_free(&prot);

    /* no exp, no ttl: absent, reported as 0 */
    tes_buf tok2 = make_token(&a, URI, NOW - 10, 0, 0);
    REQUIRE(tes_status_token_verify(tes_buf_bytes(&tok2), URI, a.trust, NOW + 86400 * 300, &t) ==
            TES_OK);
    CHECK(t.exp == 0 && t.ttl == 0);
    tes_status_token_free(&t);

    /* untagged is accepted too */
    CHECK_ERR(tes_status_token_verify(TES_BYTES(tok.ptr + 1, tok.len - 1), URI, a.trust, NOW, &t),
              TES_OK);
    tes_status_token_free(&t);

    /* bad build arguments */
    tes_status_list l;
    tes_buf junk = {0};
    REQUIRE(sample_list(8, &l));
    CHECK_ERR(tes_status_token_build(&l, "", NOW, 0, 0, &a.signer, a.chain, 1, &junk), TES_ERR_ARG);
    CHECK_ERR(tes_status_token_build(&l, URI, NOW, NOW - 1, 0, &a.signer, a.chain, 1, &junk),
              TES_ERR_ARG);
    CHECK_ERR(tes_status_token_build(&l, URI, NOW, 0, 0, &a.signer, a.chain, 0, &junk),
              TES_ERR_ARG);
    CHECK_EQ_INT(junk.len, 0);
    tes_status_list_free(&l);
    tes_buf_free(&tok2);
    tes_buf_free(&tok);
    authority_free(&a);
}

TEST(token_verify_failures)
{
    authority a, other;
    REQUIRE(authority_make(&a, "A", 1700000000 + 3 * 365 * 86400LL));
    REQUIRE(authority_make(&other, "B", 1700000000 + 3 * 365 * 86400LL));
    tes_buf tok = make_token(&a, URI, NOW - 10, NOW + 3600, 600);
    REQUIRE(!tok.failed);
    tes_status_token t;

    /* trust: another authority's root */
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI, other.trust, NOW, &t),
              TES_ERR_CHAIN_UNTRUSTED);
    /* the signature's last byte flipped */
    tok.ptr[tok.len - 1] ^= 0x01;
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI, a.trust, NOW, &t),
              TES_ERR_SIGNATURE);
    tok.ptr[tok.len - 1] ^= 0x01;
    /* a byte of the payload changed (inside sub) */
    tes_cose_msg m;
    REQUIRE(tes_cose_sign1_parse(tes_buf_bytes(&tok), &m) == TES_OK);
    size_t off = (size_t)(m.payload.ptr - tok.ptr) + 10;
    tok.ptr[off] ^= 0x20;
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI, a.trust, NOW, &t),
              TES_ERR_SIGNATURE);
    tok.ptr[off] ^= 0x20;
    /* another uri */
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI "0", a.trust, NOW, &t),
              TES_ERR_STATUS_TOKEN);
    CHECK(strstr(tes_err_message(), "another uri") != NULL);
    /* expired (exp is the first second it is no longer accepted) */
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI, a.trust, NOW + 3600, &t),
              TES_ERR_STATUS_EXPIRED);
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI, a.trust, NOW + 3599, &t), TES_OK);
    tes_status_token_free(&t);
    /* the signer's certificate has expired / is not yet valid */
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI, a.trust,
                                      1700000000 + 4 * 365 * 86400LL, &t),
              TES_ERR_CERT_EXPIRED);
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI, a.trust, 1600000000, &t),
              TES_ERR_CERT_NOT_YET_VALID);
    /* cut short, trailing byte, not CBOR, empty */
    CHECK_ERR(tes_status_token_verify(TES_BYTES(tok.ptr, tok.len - 1), URI, a.trust, NOW, &t),
              TES_ERR_STATUS_TOKEN);
    tes_buf longer = {0};
    tes_buf_append(&longer, tok.ptr, tok.len);
    tes_buf_append(&longer, "\0", 1);
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&longer), URI, a.trust, NOW, &t),
              TES_ERR_STATUS_TOKEN);
    CHECK_ERR(tes_status_token_verify(TES_BYTES_STR("\xff"), URI, a.trust, NOW, &t),
              TES_ERR_STATUS_TOKEN);
    CHECK_ERR(tes_status_token_verify(TES_BYTES(NULL, 0), URI, a.trust, NOW, &t),
              TES_ERR_STATUS_TOKEN);
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), NULL, a.trust, NOW, &t), TES_ERR_ARG);
    CHECK(t.list.bits == NULL);

    /* a well-signed token with the wrong typ, or none */
    tes_buf claims = claims_raw(URI, 2, (const uint8_t *)"\x24", 1);
    const char *typs[] = {"application/statuslist+jwt", "statuslist+cwt", NULL};
    for (int i = 0; i < 3; i++) {
        tes_buf prot = prot_with_typ(typs[i]);
        tes_buf bad = sign_raw(a.ds_key, tes_buf_bytes(&prot), tes_buf_bytes(&claims), a.chain[0]);
        REQUIRE(!bad.failed);
        CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&bad), URI, a.trust, NOW, &t),
                  TES_ERR_STATUS_TOKEN);
        CHECK(strstr(tes_err_message(), "typ") != NULL);
        tes_buf_free(&bad);
        tes_buf_free(&prot);
    }
    /* tes_cose_sign1_write's header ({1: alg} only) is not a status list token either */
    tes_buf plain = {0};
    tes_cbor_enc e = {.out = &plain};
    tes_cose_sign1_write(
        &e, &a.signer, tes_buf_bytes(&claims),
        &(tes_cose_opts){.flags = TES_COSE_TAGGED, .x5chain = a.chain, .chain_len = 1});
    REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&plain), URI, a.trust, NOW, &t),
              TES_ERR_STATUS_TOKEN);
    /* the right typ, the same claims, the x5chain unprotected (as tokens were written
     * before it moved into the protected header): accepted */
    tes_buf prot = prot_with_typ("application/statuslist+cwt");
    tes_buf good = sign_raw(a.ds_key, tes_buf_bytes(&prot), tes_buf_bytes(&claims), a.chain[0]);
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&good), URI, a.trust, NOW, &t), TES_OK);
    CHECK_EQ_INT(t.list.n, 4);
    CHECK_EQ_INT(tes_status_list_get(&t.list, 0), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&t.list, 1), TES_STATUS_REVOKED);
    CHECK_EQ_INT(tes_status_list_get(&t.list, 2), TES_STATUS_SUSPENDED);
    tes_status_token_free(&t);

    /* a signed token whose list is a decompression bomb */
    static uint8_t zeros[(TES_STATUS_MAX_ENTRIES / 4) + 4096];
    uLongf zl = compressBound(sizeof zeros);
    uint8_t *zb = malloc(zl);
    REQUIRE(zb && compress2(zb, &zl, zeros, sizeof zeros, 9) == Z_OK);
    tes_buf bomb_claims = {0};
    e = (tes_cbor_enc){.out = &bomb_claims};
    tes_cbor_enc_map(&e, 3);
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_cstr(&e, URI);
    tes_cbor_enc_uint(&e, 6);
    tes_cbor_enc_int(&e, NOW);
    tes_cbor_enc_uint(&e, 65533);
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "bits");
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_cstr(&e, "lst");
    tes_cbor_enc_bytes(&e, zb, zl);
    REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
    free(zb);
    tes_buf bomb =
        sign_raw(a.ds_key, tes_buf_bytes(&prot), tes_buf_bytes(&bomb_claims), a.chain[0]);
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&bomb), URI, a.trust, NOW, &t),
              TES_ERR_STATUS_TOO_LARGE);
    CHECK(strstr(tes_err_message(), "bomb") != NULL);

    tes_buf_free(&bomb);
    tes_buf_free(&bomb_claims);
    tes_buf_free(&good);
    tes_buf_free(&prot);
    tes_buf_free(&plain);
    tes_buf_free(&claims);
    tes_buf_free(&longer);
    tes_buf_free(&tok);
    authority_free(&other);
    authority_free(&a);
}

/* Lists of 1, 4 and 8 bits read as 2-bit lists; values without a meaning are UNDETERMINED. */
TEST(token_other_bit_widths)
{
    authority a;
    REQUIRE(authority_make(&a, "A", 1700000000 + 3 * 365 * 86400LL));
    tes_buf prot = prot_with_typ("application/statuslist+cwt");
    struct {
        unsigned bits;
        uint8_t raw[4];
        size_t n;
        int want[8];
    } cases[] = {
        {1, {0xb9}, 1, {1, 0, 0, 1, 1, 1, 0, 1}},
        {4, {0x21, 0xf3}, 2, {1, 2, 255, 255}},
        {8, {0, 1, 2, 200}, 4, {0, 1, 2, 255}},
    };
    for (size_t k = 0; k < 3; k++) {
        tes_buf claims = claims_raw(URI, cases[k].bits, cases[k].raw, cases[k].n);
        tes_buf tok = sign_raw(a.ds_key, tes_buf_bytes(&prot), tes_buf_bytes(&claims), a.chain[0]);
        tes_status_token t;
        CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&tok), URI, a.trust, NOW, &t), TES_OK);
        size_t n = cases[k].n * 8 / cases[k].bits;
        CHECK_EQ_INT(t.list.n, n);
        for (size_t i = 0; i < n && i < 8; i++)
            CHECK_EQ_INT(tes_status_list_get(&t.list, i), cases[k].want[i]);
        tes_status_token_free(&t);
        tes_buf_free(&tok);
        tes_buf_free(&claims);
    }
    tes_buf_free(&prot);
    authority_free(&a);
}

/* The IETF mdoc example's MSO points at a list by uri and index. */
TEST(ietf_vector_status_reference)
{
    tes_buf bin = {0}, uri = {0};
    REQUIRE(tes_test_vector("ietf-token-status-list-mdoc/issuer_auth_with_status_list", &bin) ==
            TES_OK);
    CHECK_EQ_INT(bin.len, 1379);
    uint64_t idx = 0;
    CHECK_ERR(tes_mdoc_status_ref(tes_buf_bytes(&bin), &idx, &uri), TES_OK);
    CHECK_EQ_INT(idx, 412);
    CHECK(tes_bytes_eq(tes_buf_bytes(&uri), TES_BYTES_STR("https://example.com/statuslists/1")));
    tes_buf_free(&uri);
    tes_buf_free(&bin);
}

/* ---------------------------------------------------------------- the cache, over HTTP */

typedef struct server {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    tes_buf body;
    unsigned code;
    int hits;
    char accept[128];
} server;

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **req)
{
    (void)url, (void)version, (void)upload, (void)upload_size, (void)req;
    server *s = cls;
    if (strcmp(method, "GET") != 0)
        return MHD_NO;
    pthread_mutex_lock(&s->mu);
    s->hits++;
    const char *acc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    snprintf(s->accept, sizeof s->accept, "%s", acc ? acc : "");
    struct MHD_Response *r =
        MHD_create_response_from_buffer(s->body.len, s->body.ptr, MHD_RESPMEM_MUST_COPY);
    unsigned code = s->code;
    pthread_mutex_unlock(&s->mu);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/statuslist+cwt");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static bool server_start(server *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->code = 200;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            serve, s, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    if (s->d == NULL)
        return false;
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = i ? i->port : 0;
    return s->port != 0;
}

static void server_set(server *s, tes_bytes body, unsigned code)
{
    pthread_mutex_lock(&s->mu);
    tes_buf_reset(&s->body);
    tes_buf_append(&s->body, body.ptr, body.len);
    s->code = code;
    pthread_mutex_unlock(&s->mu);
}

static void server_stop(server *s)
{
    if (s->d)
        MHD_stop_daemon(s->d);
    s->d = NULL;
}

static void server_free(server *s)
{
    server_stop(s);
    tes_buf_free(&s->body);
    pthread_mutex_destroy(&s->mu);
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int count_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The cache file of the list at uri for the credentials of the IACA root:
 * dir/hex(SHA-256(SHA-256(root DER) || uri)). */
static bool cache_path(const char *dir, const tes_cert *root, const char *uri, char path[256])
{
    uint8_t h[32];
    tes_buf in = {0}, name = {0};
    tes_buf_append(&in, tes_cert_get_info(root)->sha256, 32);
    tes_buf_append(&in, uri, strlen(uri));
    bool ok = !in.failed && tes_digest(TES_HASH_SHA256, tes_buf_bytes(&in), h) == TES_OK;
    tes_hex_encode(&name, TES_BYTES(h, 32));
    ok = ok && !name.failed;
    snprintf(path, 256, "%s/%.*s", dir, (int)name.len, (const char *)name.ptr);
    tes_buf_free(&name);
    tes_buf_free(&in);
    return ok;
}

typedef struct fixture {
    authority a;
    server srv;
    char tmp[64], dir[96], uri[128];
    tes_status_cache *cache;
} fixture;

static bool fixture_make(fixture *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/tes_status_XXXXXX");
    if (!mkdtemp(f->tmp) || !authority_make(&f->a, "A", 1700000000 + 3 * 365 * 86400LL) ||
        !server_start(&f->srv))
        return false;
    snprintf(f->dir, sizeof f->dir, "%s/cache", f->tmp);
    snprintf(f->uri, sizeof f->uri, "http://127.0.0.1:%u/lists/1", f->srv.port);
    return tes_status_cache_open(f->dir, &f->cache) == TES_OK;
}

static void fixture_free(fixture *f)
{
    tes_status_cache_close(f->cache);
    server_free(&f->srv);
    authority_free(&f->a);
    rm_dir(f->dir);
    rmdir(f->tmp);
}

static tes_status_check check(fixture *f, tes_status_mode mode, uint64_t idx, int64_t now,
                              int64_t max_age)
{
    tes_status_check c;
    tes_err e =
        tes_status_check_ref(f->cache, mode, f->uri, idx, f->a.trust, &f->a.iss, now, max_age,
                             2000, &c);
    CHECK_ERR(e, TES_OK);
    return c;
}

TEST(cache_online_cached_off)
{
    fixture f;
    REQUIRE(fixture_make(&f));
    struct stat st;
    CHECK(stat(f.dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    tes_buf tok = make_token(&f.a, f.uri, NOW - 10, NOW + 86400, 60);
    REQUIRE(!tok.failed);
    server_set(&f.srv, tes_buf_bytes(&tok), 200);

    /* online: fetched once, then answered from the cache within the ttl */
    tes_status_check c = check(&f, TES_STATUS_ONLINE, 0, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_VALID);
    CHECK_EQ_INT(c.fetched_at, NOW);
    CHECK(strstr(c.detail, "fetched now") != NULL);
    CHECK_EQ_STR(f.srv.accept, "application/statuslist+cwt");
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 30, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(c.fetched_at, NOW);
    c = check(&f, TES_STATUS_ONLINE, 2, NOW + 59, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(f.srv.hits, 1);
    c = check(&f, TES_STATUS_ONLINE, 64, NOW + 1, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "index beyond the list") != NULL);
    /* past the ttl: fetched again */
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 60, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(c.fetched_at, NOW + 60);
    CHECK_EQ_INT(f.srv.hits, 2);

    /* the cache file: one, named by the issuer's IACA and the uri, mode 0600 */
    char path[256];
    REQUIRE(cache_path(f.dir, f.a.root, f.uri, path));
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_EQ_INT(count_files(f.dir), 1);

    /* the server goes away: online falls back to a list younger than max_age */
    server_stop(&f.srv);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 200, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(c.fetched_at, NOW + 60);
    CHECK(strstr(c.detail, "fetch failed") != NULL);
    c = check(&f, TES_STATUS_ONLINE, 2, NOW + 200, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_SUSPENDED);
    /* ... but not to an older one */
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 200, 100);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "fetch failed") != NULL);

    /* cached: never fetches; a list younger than max_age answers, an older one does not */
    c = check(&f, TES_STATUS_CACHED, 1, NOW + 1000, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(c.fetched_at, NOW + 60);
    c = check(&f, TES_STATUS_CACHED, 0, NOW + 1000, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_VALID);
    c = check(&f, TES_STATUS_CACHED, 1, NOW + 60 + 3600, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "no list fetched in the last 3600 s") != NULL);
    CHECK_EQ_INT(c.fetched_at, 0);
    /* a fetched time in the future counts as too old */
    c = check(&f, TES_STATUS_CACHED, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    /* the list itself expired while cached */
    c = check(&f, TES_STATUS_CACHED, 1, NOW + 86400, 1000000);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "expired") != NULL);

    /* off */
    c = check(&f, TES_STATUS_OFF, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "not checked") != NULL);

    /* a damaged cache file: undetermined, never an answer */
    REQUIRE(tes_file_write(path, TES_BYTES_STR("\xa1\x65token\x41\x00"), 0600) == TES_OK);
    c = check(&f, TES_STATUS_CACHED, 1, NOW + 100, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "damaged") != NULL);
    /* a cache file holding a tampered token with a fresh time */
    tes_buf bad = {0};
    tes_cbor_enc e = {.out = &bad};
    tok.ptr[tok.len - 3] ^= 0x40;
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "token");
    tes_cbor_enc_bytes(&e, tok.ptr, tok.len);
    tes_cbor_enc_cstr(&e, "fetched");
    tes_cbor_enc_int(&e, NOW + 90);
    REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
    REQUIRE(tes_file_write(path, tes_buf_bytes(&bad), 0600) == TES_OK);
    c = check(&f, TES_STATUS_CACHED, 1, NOW + 100, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "rejected") != NULL);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 100, 3600); /* server gone, cache bad */
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);

    tes_buf_free(&bad);
    tes_buf_free(&tok);
    fixture_free(&f);
}

TEST(cache_bad_servers)
{
    fixture f;
    REQUIRE(fixture_make(&f));
    tes_buf tok = make_token(&f.a, f.uri, NOW - 10, NOW + 86400, 60);
    REQUIRE(!tok.failed);
    tes_status_check c;

    /* a tampered token: never REVOKED, never cached */
    tok.ptr[tok.len - 5] ^= 0x01;
    server_set(&f.srv, tes_buf_bytes(&tok), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "rejected") != NULL);
    CHECK_EQ_INT(count_files(f.dir), 0);
    tok.ptr[tok.len - 5] ^= 0x01;

    /* 404 (with the right token as body), 500, empty 200 */
    server_set(&f.srv, tes_buf_bytes(&tok), 404);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "HTTP 404") != NULL);
    server_set(&f.srv, tes_buf_bytes(&tok), 500);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    server_set(&f.srv, TES_BYTES(NULL, 0), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_EQ_INT(count_files(f.dir), 0);

    /* a token for another list, and an expired one */
    tes_buf other = make_token(&f.a, "http://127.0.0.1:1/other", NOW - 10, NOW + 86400, 60);
    server_set(&f.srv, tes_buf_bytes(&other), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "another uri") != NULL);
    tes_buf old = make_token(&f.a, f.uri, NOW - 1000, NOW - 100, 60);
    server_set(&f.srv, tes_buf_bytes(&old), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "expired") != NULL);
    CHECK_EQ_INT(count_files(f.dir), 0);

    /* a token signed by an authority this verifier does not trust */
    authority b;
    REQUIRE(authority_make(&b, "B", 1700000000 + 3 * 365 * 86400LL));
    tes_buf foreign = make_token(&b, f.uri, NOW - 10, NOW + 86400, 60);
    server_set(&f.srv, tes_buf_bytes(&foreign), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_EQ_INT(count_files(f.dir), 0);

    /* the good token, then a bad one after the ttl: the cached list answers within max_age */
    server_set(&f.srv, tes_buf_bytes(&tok), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    server_set(&f.srv, tes_buf_bytes(&foreign), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 100, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(c.fetched_at, NOW);
    CHECK(strstr(c.detail, "rejected") != NULL);

    /* a server that accepts the connection and never answers: the timeout bounds the check */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    REQUIRE(ls >= 0 && bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(ls, 4) == 0 &&
            getsockname(ls, (struct sockaddr *)&sa, &sl) == 0);
    char slow[128];
    snprintf(slow, sizeof slow, "http://127.0.0.1:%u/lists/1", ntohs(sa.sin_port));
    double t0 = mono();
    CHECK_ERR(
        tes_status_check_ref(f.cache, TES_STATUS_ONLINE, slow, 1, f.a.trust, &f.a.iss, NOW, 3600,
                             300, &c),
        TES_OK);
    double t1 = mono();
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK(strstr(c.detail, "no answer") != NULL);
    CHECK(t1 - t0 < 2.0);
    close(ls);

    /* not http(s): undetermined; caller mistakes: errors */
    CHECK_ERR(tes_status_check_ref(f.cache, TES_STATUS_ONLINE, "file:///etc/passwd", 1, f.a.trust,
                                   &f.a.iss, NOW, 3600, 300, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(
        tes_status_check_ref(f.cache, TES_STATUS_ONLINE, NULL, 1, f.a.trust, &f.a.iss, NOW, 3600,
                             300, &c),
        TES_ERR_ARG);
    CHECK_ERR(
        tes_status_check_ref(f.cache, (tes_status_mode)7, f.uri, 1, f.a.trust, &f.a.iss, NOW,
                             3600, 300, &c),
        TES_ERR_ARG);
    CHECK_ERR(tes_status_check_ref(f.cache, TES_STATUS_CACHED, f.uri, 1, NULL, &f.a.iss, NOW,
                                   3600, 300, &c),
              TES_ERR_ARG);

    tes_buf_free(&foreign);
    authority_free(&b);
    tes_buf_free(&old);
    tes_buf_free(&other);
    tes_buf_free(&tok);
    fixture_free(&f);
}

TEST(cache_open_errors)
{
    tes_status_cache *c = NULL;
    CHECK_ERR(tes_status_cache_open("/nonexistent/dir/cache", &c), TES_ERR_IO);
    CHECK(c == NULL);
    CHECK_ERR(tes_status_cache_open("/etc/passwd", &c), TES_ERR_IO);
    CHECK_ERR(tes_status_cache_open(NULL, &c), TES_ERR_ARG);
    tes_status_cache_close(NULL);
}

/* ---------------------------------------------------------------- whose list (issue 9, High 2) */

/* A token of the list at uri with every entry valid except `revoked` (SIZE_MAX: none). */
static tes_buf make_token_rev(authority *a, const char *uri, int64_t iat, int64_t exp, int64_t ttl,
                              size_t revoked)
{
    tes_status_list l;
    tes_buf out = {0};
    if (tes_status_list_new(64, &l) != TES_OK ||
        (revoked != SIZE_MAX && tes_status_list_set(&l, revoked, TES_STATUS_REVOKED) != TES_OK) ||
        tes_status_token_build(&l, uri, iat, exp, ttl, &a->signer, a->chain, 1, &out) != TES_OK) {
        fprintf(stderr, "make_token_rev: %s\n", tes_err_message());
        out.failed = true;
    }
    tes_status_list_free(&l);
    return out;
}

static const char pid_claims[] =
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    " \"birth_date\": \"1964-08-12\", \"issuing_authority\": \"Nowhere\", \"issuing_country\": "
    "\"NL\", \"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"nationality\": \"NL\"}}";

/* A PID issued by a's document signer with the status reference (uri, idx), presented
 * (device signature) and verified with `trust` at NOW: the verifier's view of it. */
typedef struct credential {
    tes_key *device;
    tes_buf mdoc, resp;
    tes_mdoc_result r;
} credential;

static const uint8_t TRANSCRIPT[] = {0x83, 0xf6, 0xf6, 0x82, 0x61, 't', 0x41, 0x01};

static bool credential_make(credential *c, authority *a, const char *uri, uint32_t idx,
                            tes_trust_store *trust)
{
    memset(c, 0, sizeof *c);
    c->r.failed_doc = SIZE_MAX;
    tes_mdoc_claims claims = {0};
    tes_err e = tes_key_generate(TES_CURVE_P256, &c->device);
    if (e == TES_OK)
        e = tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), pid_claims,
                                      strlen(pid_claims), NULL, &claims);
    tes_mdoc_issue_params ip = {.doctype = TES_DOCTYPE_PID, .claims = &claims,
                                .device_key = c->device, .issuer = &a->signer,
                                .ds_chain = a->chain, .ds_chain_len = 1,
                                .signed_at = NOW - 3600, .valid_from = NOW - 3600,
                                .valid_until = NOW + 86400 * 30, .status_uri = uri,
                                .status_idx = idx};
    if (e == TES_OK)
        e = tes_mdoc_issue(&ip, &c->mdoc);
    static const tes_mdoc_req_elem req[] = {
        {TES_BYTES_STR(TES_NS_PID), TES_BYTES_STR("age_over_18"), false}};
    tes_signer ds = tes_signer_from_key(c->device);
    tes_mdoc_present_params pp = {.mdoc = tes_buf_bytes(&c->mdoc), .elems = req, .n_elems = 1,
                                  .transcript = TES_BYTES(TRANSCRIPT, sizeof TRANSCRIPT),
                                  .device = &ds};
    if (e == TES_OK)
        e = tes_mdoc_present(&pp, &c->resp, NULL);
    tes_mdoc_verify_opts vo = {.trust = trust,
                               .transcript = TES_BYTES(TRANSCRIPT, sizeof TRANSCRIPT),
                               .at = NOW};
    if (e == TES_OK)
        e = tes_mdoc_verify(tes_buf_bytes(&c->resp), &vo, &c->r);
    tes_mdoc_claims_free(&claims);
    if (e != TES_OK)
        fprintf(stderr, "credential_make: %s: %s\n", tes_err_name(e), tes_err_message());
    return e == TES_OK && c->r.n_docs == 1 && c->r.docs[0].has_status;
}

static void credential_free(credential *c)
{
    tes_mdoc_result_free(&c->r);
    tes_buf_free(&c->resp);
    tes_buf_free(&c->mdoc);
    tes_key_free(c->device);
}

/* The cache file of uri for root's credentials holding token, fetched at `fetched` (the file
 * format without "iat"). */
static bool cache_put(const char *dir, const tes_cert *root, const char *uri, tes_bytes token,
                      int64_t fetched)
{
    tes_buf file = {0};
    char path[256];
    if (!cache_path(dir, root, uri, path))
        return false;
    tes_cbor_enc e = {.out = &file};
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "token");
    tes_cbor_enc_bytes(&e, token.ptr, token.len);
    tes_cbor_enc_cstr(&e, "fetched");
    tes_cbor_enc_int(&e, fetched);
    bool ok = tes_cbor_enc_finish(&e) == TES_OK &&
              tes_file_write(path, tes_buf_bytes(&file), 0600) == TES_OK;
    tes_buf_free(&file);
    return ok;
}

/* Authorities A and B, both trusted by the verifier. A revoked its credential (index 1 of
 * its list); B's document signer signs a list for A's uri that says index 1 is valid. The
 * verifier must not take B's word for A's credential: undetermined, status_wrong_issuer. */
TEST(status_list_only_from_the_credentials_own_issuer)
{
    fixture f;
    REQUIRE(fixture_make(&f));
    authority b;
    REQUIRE(authority_make(&b, "B", 1700000000 + 3 * 365 * 86400LL));
    tes_trust_store *both;
    REQUIRE(tes_trust_store_new(&both) == TES_OK);
    REQUIRE(tes_trust_store_add(both, TES_PROFILE_DS, f.a.root) == TES_OK);
    REQUIRE(tes_trust_store_add(both, TES_PROFILE_DS, b.root) == TES_OK);

    credential ca, cb;
    REQUIRE(credential_make(&ca, &f.a, f.uri, 1, both));
    REQUIRE(credential_make(&cb, &b, f.uri, 1, both)); /* B's credential pointing at A's uri */
    const tes_mdoc_document *da = &ca.r.docs[0], *db = &cb.r.docs[0];
    CHECK(da->issuer_cert != NULL && da->issuer_root != NULL);
    CHECK(tes_bytes_eq(tes_cert_der(da->issuer_root), tes_cert_der(f.a.root)));
    CHECK(tes_bytes_eq(tes_cert_der(da->issuer_cert), tes_cert_der(f.a.ds)));

    tes_buf own = make_token_rev(&f.a, f.uri, NOW - 10, NOW + 86400, 60, 1);
    tes_buf forged = make_token_rev(&b, f.uri, NOW - 5, NOW + 86400, 60, SIZE_MAX);
    REQUIRE(!own.failed && !forged.failed);

    /* the token alone: B's list verifies against the store, but is not A's credential's */
    tes_status_token t;
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&forged), f.uri, both, NOW, &t), TES_OK);
    tes_status_token_free(&t);
    const tes_status_issuer ia = {.ds = da->issuer_cert, .iaca = da->issuer_root};
    CHECK_ERR(tes_status_token_verify_for(tes_buf_bytes(&forged), f.uri, both, &ia, NOW, 0, &t),
              TES_ERR_STATUS_ISSUER);
    CHECK(strstr(tes_err_message(), "B IACA") != NULL);
    CHECK(t.list.bits == NULL);
    CHECK_ERR(tes_status_token_verify_for(tes_buf_bytes(&own), f.uri, both, &ia, NOW, 0, &t),
              TES_OK);
    CHECK(t.by_own_ds);
    CHECK_EQ_INT(tes_status_list_get(&t.list, 1), TES_STATUS_REVOKED);
    tes_status_token_free(&t);
    CHECK_ERR(tes_status_token_verify_for(tes_buf_bytes(&own), f.uri, both, NULL, NOW, 0, &t),
              TES_ERR_ARG);

    /* served over HTTP at A's uri: undetermined with the reason, never valid, not cached */
    tes_status_check c;
    server_set(&f.srv, tes_buf_bytes(&forged), 200);
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_ONLINE, da, both, NOW, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(c.reason, TES_ERR_STATUS_ISSUER);
    CHECK(strstr(c.detail, "own issuer") != NULL);
    CHECK_EQ_INT(count_files(f.dir), 0);
    /* the library refuses a check without the issuer */
    CHECK_ERR(tes_status_check_ref(f.cache, TES_STATUS_ONLINE, f.uri, 1, both, NULL, NOW, 3600,
                                   2000, &c),
              TES_ERR_ARG);

    /* A's own list: revoked, as before */
    server_set(&f.srv, tes_buf_bytes(&own), 200);
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_ONLINE, da, both, NOW, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_ERR(c.reason, TES_OK);
    CHECK(strstr(c.detail, "another document signer") == NULL);
    CHECK_EQ_INT(count_files(f.dir), 1);
    /* ... and not B's credential's, though it names the same uri: A's cached list is not
     * B's (the cache keeps lists per issuer), A's fetched list is not B's */
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_CACHED, db, both, NOW + 1, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(c.reason, TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_ONLINE, db, both, NOW + 1, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(c.reason, TES_ERR_STATUS_ISSUER);
    /* B's own list, for B's own credential, is B's to give, and is kept apart from A's:
     * A's cached list still answers for A's credential */
    server_set(&f.srv, tes_buf_bytes(&forged), 200);
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_ONLINE, db, both, NOW + 1, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_VALID);
    CHECK_EQ_INT(count_files(f.dir), 2);
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_CACHED, da, both, NOW + 1, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);

    /* B's list put in the cache (fresh, within its ttl): cached and online both refuse it */
    REQUIRE(cache_put(f.dir, f.a.root, f.uri, tes_buf_bytes(&forged), NOW));
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_CACHED, da, both, NOW + 1, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(c.reason, TES_ERR_STATUS_ISSUER);
    server_set(&f.srv, tes_buf_bytes(&forged), 200);
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_ONLINE, da, both, NOW + 1, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(c.reason, TES_ERR_STATUS_ISSUER);
    /* online, with A's list served again, the forged cache entry is replaced by A's */
    server_set(&f.srv, tes_buf_bytes(&own), 200);
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_ONLINE, da, both, NOW + 2, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);

    /* another document signer of A's IACA (a rotation) may sign A's list */
    authority a2 = f.a;
    tes_cert_template dt = {
        .common_name = "A's next document signer",
        .country = "NL",
        .not_before = 1700000000,
        .not_after = 1700000000 + 3 * 365 * 86400LL,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE,
        .eku_oid = TES_OID_EKU_MDL_DS,
        .issuer_alt_uri = "https://iaca.example.org",
    };
    tes_key *k2 = NULL;
    tes_cert *ds2 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k2) == TES_OK);
    REQUIRE(tes_cert_create(&dt, k2, f.a.root, f.a.root_key, &ds2) == TES_OK);
    a2.signer = tes_signer_from_key(k2);
    a2.chain[0] = tes_cert_der(ds2);
    tes_buf rotated = make_token_rev(&a2, f.uri, NOW + 100, NOW + 86400, 60, 1);
    server_set(&f.srv, tes_buf_bytes(&rotated), 200);
    CHECK_ERR(tes_status_check_doc(f.cache, TES_STATUS_ONLINE, da, both, NOW + 200, 3600, 2000, &c),
              TES_OK);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK(strstr(c.detail, "another document signer") != NULL);

    tes_buf_free(&rotated);
    tes_cert_free(ds2);
    tes_key_free(k2);
    tes_buf_free(&forged);
    tes_buf_free(&own);
    credential_free(&cb);
    credential_free(&ca);
    tes_trust_store_free(both);
    authority_free(&b);
    fixture_free(&f);
}

/* ---------------------------------------------------------------- rollback and ttl (Medium 6) */

/* A cached "revoked" list is never replaced by an older (lower iat), still unexpired "valid"
 * one: the newer list keeps answering (within max_age), and past max_age it is undetermined
 * with status_rollback — never valid. */
TEST(cache_refuses_a_rollback_to_an_older_list)
{
    fixture f;
    REQUIRE(fixture_make(&f));
    tes_buf older = make_token_rev(&f.a, f.uri, NOW - 1000, NOW + 86400, 60, SIZE_MAX);
    tes_buf newer = make_token_rev(&f.a, f.uri, NOW - 10, NOW + 86400, 60, 1);
    tes_buf newest = make_token_rev(&f.a, f.uri, NOW + 500, NOW + 86400, 60, SIZE_MAX);
    REQUIRE(!older.failed && !newer.failed && !newest.failed);
    tes_status_check c;

    server_set(&f.srv, tes_buf_bytes(&newer), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);

    /* past the ttl the server hands out the older list: refused, the cached one answers */
    server_set(&f.srv, tes_buf_bytes(&older), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 100, 3600);
    CHECK_EQ_INT(f.srv.hits, 2);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(c.fetched_at, NOW);
    CHECK(strstr(c.detail, "rollback") != NULL);
    /* the cache still holds the newer list */
    c = check(&f, TES_STATUS_CACHED, 1, NOW + 200, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(c.fetched_at, NOW);
    /* the cached list too old for max_age: undetermined, for the rollback, never valid */
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 300, 200);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(c.reason, TES_ERR_STATUS_ROLLBACK);
    CHECK(strstr(c.detail, "rollback") != NULL);

    /* a later list replaces it (un-revoking is the issuer's right) */
    server_set(&f.srv, tes_buf_bytes(&newest), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 600, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_VALID);
    CHECK_EQ_INT(c.fetched_at, NOW + 600);

    /* the floor outlives the cached token's expiry: the iat is kept in the cache file */
    tes_buf short_lived = make_token_rev(&f.a, f.uri, NOW + 1000, NOW + 1100, 60, 1);
    server_set(&f.srv, tes_buf_bytes(&short_lived), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 1050, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    server_set(&f.srv, tes_buf_bytes(&newest), 200); /* iat NOW + 500, unexpired */
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + 1200, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(c.reason, TES_ERR_STATUS_ROLLBACK);

    tes_buf_free(&short_lived);
    tes_buf_free(&newest);
    tes_buf_free(&newer);
    tes_buf_free(&older);
    fixture_free(&f);
}

/* A token with ttl = 2^62 does not pin the cache: the ttl honoured is capped at 24 h by
 * default, and lower when the verifier says so. */
TEST(cache_caps_the_ttl)
{
    fixture f;
    REQUIRE(fixture_make(&f));
    tes_buf pin =
        make_token_rev(&f.a, f.uri, NOW - 10, NOW + 30 * 86400, (int64_t)1 << 62, SIZE_MAX);
    tes_buf later = make_token_rev(&f.a, f.uri, NOW + 1000, NOW + 30 * 86400, 60, 1);
    REQUIRE(!pin.failed && !later.failed);
    tes_status_check c;

    server_set(&f.srv, tes_buf_bytes(&pin), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 10 * 86400);
    CHECK_EQ_INT(c.value, TES_STATUS_VALID);
    server_set(&f.srv, tes_buf_bytes(&later), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + TES_STATUS_DEFAULT_MAX_TTL - 1, 10 * 86400);
    CHECK_EQ_INT(c.value, TES_STATUS_VALID); /* within the cap: from the cache */
    CHECK_EQ_INT(f.srv.hits, 1);
    c = check(&f, TES_STATUS_ONLINE, 1, NOW + TES_STATUS_DEFAULT_MAX_TTL, 10 * 86400);
    CHECK_EQ_INT(f.srv.hits, 2); /* the cap reached: fetched again, the revocation seen */
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(c.fetched_at, NOW + TES_STATUS_DEFAULT_MAX_TTL);

    /* a verifier's own cap */
    tes_buf pin2 = make_token_rev(&f.a, f.uri, NOW + 2000, NOW + 30 * 86400, (int64_t)1 << 62, 1);
    tes_buf later2 = make_token_rev(&f.a, f.uri, NOW + 3000, NOW + 30 * 86400, 60, SIZE_MAX);
    server_set(&f.srv, tes_buf_bytes(&pin2), 200);
    int64_t t0 = NOW + 2 * 86400;
    c = check(&f, TES_STATUS_ONLINE, 1, t0, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(f.srv.hits, 3);
    tes_status_cache_set_max_ttl(f.cache, 600);
    server_set(&f.srv, tes_buf_bytes(&later2), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, t0 + 599, 3600);
    CHECK_EQ_INT(f.srv.hits, 3);
    c = check(&f, TES_STATUS_ONLINE, 1, t0 + 600, 3600);
    CHECK_EQ_INT(f.srv.hits, 4);
    CHECK_EQ_INT(c.value, TES_STATUS_VALID);
    /* the cap also bounds the default ttl of a token without one (300 s) */
    tes_status_cache_set_max_ttl(f.cache, 100);
    tes_buf nottl = make_token_rev(&f.a, f.uri, NOW + 4000, NOW + 30 * 86400, 0, 1);
    server_set(&f.srv, tes_buf_bytes(&nottl), 200);
    c = check(&f, TES_STATUS_ONLINE, 1, t0 + 700, 3600);
    CHECK_EQ_INT(f.srv.hits, 5);
    c = check(&f, TES_STATUS_ONLINE, 1, t0 + 800, 3600);
    CHECK_EQ_INT(f.srv.hits, 6);
    CHECK_EQ_INT(c.value, TES_STATUS_REVOKED);

    tes_buf_free(&nottl);
    tes_buf_free(&later2);
    tes_buf_free(&pin2);
    tes_buf_free(&later);
    tes_buf_free(&pin);
    fixture_free(&f);
}

/* ---------------------------------------------------------------- size of the list (Low) */

/* zlib of `mib` MiB of zeros, deflated in 1 MiB steps (nothing that size is ever held). */
static tes_buf zeros_deflated(int mib)
{
    static uint8_t zeros[1 << 20];
    uint8_t out[65536];
    tes_buf z = {0};
    z_stream s = {0};
    if (deflateInit(&s, 1) != Z_OK) {
        z.failed = true;
        return z;
    }
    for (int mb = 0; mb < mib; mb++) {
        s.next_in = zeros;
        s.avail_in = sizeof zeros;
        do {
            s.next_out = out;
            s.avail_out = sizeof out;
            if (deflate(&s, mb == mib - 1 ? Z_FINISH : Z_NO_FLUSH) == Z_STREAM_ERROR)
                z.failed = true;
            tes_buf_append(&z, out, sizeof out - s.avail_out);
        } while (s.avail_out == 0);
    }
    deflateEnd(&s);
    return z;
}

/* A signed token whose list, at bits, is z. */
static tes_buf token_with_lst(authority *a, unsigned bits, tes_bytes z)
{
    tes_buf claims = {0}, tok = {0};
    tes_cbor_enc e = {.out = &claims};
    tes_cbor_enc_map(&e, 3);
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_cstr(&e, URI);
    tes_cbor_enc_uint(&e, 6);
    tes_cbor_enc_int(&e, NOW);
    tes_cbor_enc_uint(&e, 65533);
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "bits");
    tes_cbor_enc_uint(&e, bits);
    tes_cbor_enc_cstr(&e, "lst");
    tes_cbor_enc_bytes(&e, z.ptr, z.len);
    tes_buf prot = prot_with_typ("application/statuslist+cwt");
    if (tes_cbor_enc_finish(&e) != TES_OK || prot.failed)
        tok.failed = true;
    else
        tok = sign_raw(a->ds_key, tes_buf_bytes(&prot), tes_buf_bytes(&claims), a->chain[0]);
    tes_buf_free(&prot);
    tes_buf_free(&claims);
    return tok;
}

static long max_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* The issue's bomb: a small token (261 kB at level 9; 1.2 MB at the level 1 used here, which
 * is quicker to make) whose bits=8 list inflates to 256 MiB (2^28 entries, within the entry
 * bound) is refused as too large while inflating, having held no more than
 * the byte bound; a list just under a configured byte bound passes, just over it does not. */
TEST(status_list_bounded_in_bytes_whatever_its_bits)
{
    authority a;
    REQUIRE(authority_make(&a, "A", 1700000000 + 3 * 365 * 86400LL));
    tes_buf z = zeros_deflated(256);
    REQUIRE(!z.failed && z.len < (2 << 20));
    tes_buf bomb = token_with_lst(&a, 8, tes_buf_bytes(&z));
    tes_buf_free(&z);
    REQUIRE(!bomb.failed);

    tes_status_token t;
    long before = max_rss_kib();
    CHECK_ERR(tes_status_token_verify_for(tes_buf_bytes(&bomb), URI, a.trust, &a.iss, NOW, 0, &t),
              TES_ERR_STATUS_TOO_LARGE);
    long grown = max_rss_kib() - before;
    CHECK(strstr(tes_err_message(), "bomb") != NULL);
    CHECK(t.list.bits == NULL);
    /* peak memory grew by less than half the inflated size (the bound is 16 MiB) */
    CHECK(before > 0 && grown < 128 * 1024);
    if (grown >= 128 * 1024)
        fprintf(stderr, "  max RSS grew by %ld KiB\n", grown);
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&bomb), URI, a.trust, NOW, &t),
              TES_ERR_STATUS_TOO_LARGE);

    /* the bound is in bytes for every width: 4096 bytes at 8 bits and at 1 bit */
    z = zeros_deflated(1);
    tes_buf one_mib8 = token_with_lst(&a, 8, tes_buf_bytes(&z));
    tes_buf one_mib1 = token_with_lst(&a, 1, tes_buf_bytes(&z));
    tes_buf_free(&z);
    CHECK_ERR(tes_status_token_verify_for(tes_buf_bytes(&one_mib8), URI, a.trust, &a.iss, NOW,
                                          (1 << 20) - 1, &t),
              TES_ERR_STATUS_TOO_LARGE);
    CHECK_ERR(tes_status_token_verify_for(tes_buf_bytes(&one_mib1), URI, a.trust, &a.iss, NOW,
                                          (1 << 20) - 1, &t),
              TES_ERR_STATUS_TOO_LARGE);
    CHECK_ERR(tes_status_token_verify_for(tes_buf_bytes(&one_mib8), URI, a.trust, &a.iss, NOW,
                                          1 << 20, &t),
              TES_OK);
    CHECK_EQ_INT(t.list.n, 1 << 20);
    tes_status_token_free(&t);
    CHECK_ERR(tes_status_token_verify_for(tes_buf_bytes(&one_mib1), URI, a.trust, &a.iss, NOW,
                                          1 << 20, &t),
              TES_OK);
    CHECK_EQ_INT(t.list.n, 8 << 20);
    tes_status_token_free(&t);

    /* the verifier's cache applies its configured bound: undetermined, status_list_too_large */
    fixture f;
    REQUIRE(fixture_make(&f));
    tes_status_list l;
    tes_buf big = {0};
    REQUIRE(tes_status_list_new(64 * 1024, &l) == TES_OK); /* 16 kB at 2 bits */
    REQUIRE(tes_status_token_build(&l, f.uri, NOW - 10, NOW + 86400, 60, &f.a.signer, f.a.chain, 1,
                                   &big) == TES_OK);
    tes_status_list_free(&l);
    server_set(&f.srv, tes_buf_bytes(&big), 200);
    tes_status_cache_set_max_list_bytes(f.cache, 8192);
    tes_status_check c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_UNDETERMINED);
    CHECK_ERR(c.reason, TES_ERR_STATUS_TOO_LARGE);
    CHECK_EQ_INT(count_files(f.dir), 0);
    tes_status_cache_set_max_list_bytes(f.cache, 0); /* back to the default */
    c = check(&f, TES_STATUS_ONLINE, 1, NOW, 3600);
    CHECK_EQ_INT(c.value, TES_STATUS_VALID);
    fixture_free(&f);

    tes_buf_free(&big);
    tes_buf_free(&one_mib1);
    tes_buf_free(&one_mib8);
    tes_buf_free(&bomb);
    authority_free(&a);
}

/* ---------------------------------------------------------------- the verdict (issue 11) */

/* tes_status_check_response, the verdict verify, reader checkin and a reader app share:
 * valid, revoked, suspended from the issuer's own list over HTTP; revoked outranks
 * suspended outranks undetermined across documents; undetermined (not valid) when the
 * list cannot be reached; off checks nothing; the cache directory made with its parents. */
TEST(verdict_over_a_verified_response)
{
    fixture f;
    REQUIRE(fixture_make(&f));
    credential revoked, suspended, valid;
    REQUIRE(credential_make(&revoked, &f.a, f.uri, 1, f.a.trust));
    REQUIRE(credential_make(&suspended, &f.a, f.uri, 2, f.a.trust));
    REQUIRE(credential_make(&valid, &f.a, f.uri, 3, f.a.trust));
    tes_buf tok = make_token(&f.a, f.uri, NOW - 10, NOW + 86400, 60); /* 1 revoked, 2 suspended */
    REQUIRE(!tok.failed);
    server_set(&f.srv, tes_buf_bytes(&tok), 200);

    char dir[160];
    snprintf(dir, sizeof dir, "%s/verdict/deep", f.tmp);
    tes_status_opts o = {.mode = TES_STATUS_ONLINE, .cache_dir = dir, .max_age = 3600,
                         .fetch_timeout_ms = 2000, .now = NOW};
    tes_status_verdict v;
    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &valid.r, &v), TES_OK);
    CHECK_EQ_INT(v.value, TES_STATUS_VALID);
    CHECK_EQ_INT(v.n_checked, 1);
    CHECK_EQ_INT(v.n_undetermined, 0);
    CHECK_EQ_INT(v.message[0], '\0');
    REQUIRE(v.docs != NULL && v.n_docs == 1);
    CHECK(v.docs[0].checked && v.docs[0].value == TES_STATUS_VALID);
    CHECK(strcmp(v.docs[0].uri, f.uri) == 0);
    CHECK(v.docs[0].fetched_at == NOW);
    tes_status_verdict_free(&v);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);

    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &revoked.r, &v), TES_OK);
    CHECK_EQ_INT(v.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(v.doc, 0);
    char want[300];
    snprintf(want, sizeof want,
             "document 1 (" TES_DOCTYPE_PID ") is revoked by its issuer (index 1 of the status "
             "list %s)",
             f.uri);
    CHECK(strcmp(v.message, want) == 0);
    tes_status_verdict_free(&v);
    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &suspended.r, &v), TES_OK);
    CHECK_EQ_INT(v.value, TES_STATUS_SUSPENDED);
    CHECK(strstr(v.message, "is suspended by its issuer (index 2") != NULL);
    tes_status_verdict_free(&v);

    /* several documents: the strongest outcome, and the first document that has it */
    tes_mdoc_document three[3] = {valid.r.docs[0], suspended.r.docs[0], revoked.r.docs[0]};
    tes_mdoc_result many = {.docs = three, .n_docs = 3, .failed_doc = SIZE_MAX};
    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &many, &v), TES_OK);
    CHECK_EQ_INT(v.value, TES_STATUS_REVOKED);
    CHECK_EQ_INT(v.doc, 2);
    CHECK_EQ_INT(v.n_checked, 3);
    CHECK(strncmp(v.message, "document 3 ", 11) == 0);
    CHECK_EQ_INT(v.docs[1].value, TES_STATUS_SUSPENDED);
    tes_status_verdict_free(&v);

    /* off: nothing checked, nothing touched */
    o.mode = TES_STATUS_OFF;
    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &revoked.r, &v), TES_OK);
    CHECK_EQ_INT(v.value, TES_STATUS_VALID);
    CHECK(v.docs == NULL && v.n_checked == 0);
    tes_status_verdict_free(&v);

    /* the list cannot be reached (the server is gone, a fresh cache): undetermined, with
     * the reason; never valid, never revoked */
    server_stop(&f.srv);
    char dir2[160];
    snprintf(dir2, sizeof dir2, "%s/verdict2", f.tmp);
    o = (tes_status_opts){.mode = TES_STATUS_ONLINE, .cache_dir = dir2, .max_age = 3600,
                          .fetch_timeout_ms = 2000, .now = NOW};
    three[0] = valid.r.docs[0];
    many.n_docs = 1;
    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &many, &v), TES_OK);
    CHECK_EQ_INT(v.value, TES_STATUS_UNDETERMINED);
    CHECK_EQ_INT(v.n_undetermined, 1);
    CHECK_EQ_INT(v.message[0], '\0');
    CHECK(v.docs && v.docs[0].reason != TES_OK && v.docs[0].detail[0] != '\0');
    tes_status_verdict_free(&v);
    /* ... but the list cached before still answers within max_age */
    o.cache_dir = dir;
    o.now = NOW + 100;
    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &revoked.r, &v), TES_OK);
    CHECK_EQ_INT(v.value, TES_STATUS_REVOKED);
    tes_status_verdict_free(&v);

    /* the cache cannot be used at all: a failure, not a verdict */
    o.cache_dir = NULL;
    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &revoked.r, &v), TES_ERR_ARG);
    CHECK(v.docs == NULL);
    o.cache_dir = "/etc/passwd/cache";
    CHECK_ERR(tes_status_check_response(&o, f.a.trust, &revoked.r, &v), TES_ERR_IO);
    CHECK(strstr(tes_err_message(), "cannot create the status cache") != NULL);
    CHECK_ERR(tes_status_check_response(NULL, f.a.trust, &revoked.r, &v), TES_ERR_ARG);

    tes_status_mode m;
    CHECK_ERR(tes_status_mode_parse("cached", &m), TES_OK);
    CHECK_EQ_INT(m, TES_STATUS_CACHED);
    CHECK_ERR(tes_status_mode_parse("Online", &m), TES_ERR_ARG);
    CHECK(strcmp(tes_status_value_name(TES_STATUS_SUSPENDED), "suspended") == 0);
    CHECK(strcmp(tes_status_value_name(TES_STATUS_UNDETERMINED), "undetermined") == 0);

    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/verdict' '%s'", f.tmp, dir2);
    CHECK(system(cmd) == 0);
    tes_buf_free(&tok);
    credential_free(&valid);
    credential_free(&suspended);
    credential_free(&revoked);
    fixture_free(&f);
}
