/* Unit tests of COSE_Sign1, COSE_Mac0 and COSE_Key (src/cose). */
#include "tessera/cose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"
#include "vectors.h"

/* ------------------------------------------------------------------ helpers */

/* Loads iso18013-5-annexD/<name> (hex text) as bytes into out. */
static bool load_vec(const char *name, tes_buf *out)
{
    return tes_test_annexd(name, out) == TES_OK;
}

static void hex_to(const char *hex, tes_buf *out)
{
    tes_buf_reset(out);
    if (tes_hex_decode(out, hex, strlen(hex)) != TES_OK) {
        fprintf(stderr, "bad hex literal in test: %s\n", hex);
        abort();
    }
}

/* ------------------------------------------------------------------ Annex D */

TEST(annexd_issuer_auth_verifies)
{
    tes_buf ia = {0}, ds = {0}, mso = {0};
    REQUIRE(load_vec("extracted_issuer_auth.hex", &ia));
    REQUIRE(load_vec("issuer_ds_cert.der.hex", &ds));
    REQUIRE(load_vec("extracted_mso_bytes_tag24.hex", &mso));

    tes_cose_msg m;
    CHECK_ERR(tes_cose_sign1_parse(tes_buf_bytes(&ia), &m), TES_OK);
    CHECK(!m.tagged);
    CHECK(!m.detached);
    CHECK_EQ_INT(m.alg, TES_COSE_ES256);
    CHECK_EQ_INT(m.protected_raw.len, 3);
    CHECK_EQ_MEM(m.protected_raw.ptr, "\xa1\x01\x26", 3);
    CHECK(tes_bytes_eq(m.payload, tes_buf_bytes(&mso)));
    CHECK_EQ_INT(m.tag.len, 64);
    REQUIRE(m.x5chain_len == 1);
    CHECK(tes_bytes_eq(m.x5chain[0], tes_buf_bytes(&ds)));

    tes_cert *cert = NULL;
    REQUIRE(tes_cert_parse(m.x5chain[0], &cert) == TES_OK);
    const tes_key *k = tes_cert_key(cert);
    CHECK_ERR(tes_cose_sign1_verify(&m, k, TES_BYTES(NULL, 0), TES_BYTES(NULL, 0)), TES_OK);

    /* Wrong external_aad changes the Sig_structure. */
    CHECK_ERR(tes_cose_sign1_verify(&m, k, TES_BYTES(NULL, 0), TES_BYTES_STR("x")),
              TES_ERR_SIGNATURE);
    /* Flip each of a few signature bytes: one code, every time. */
    uint8_t sig[64];
    memcpy(sig, m.tag.ptr, 64);
    size_t where[] = {0, 31, 32, 63};
    for (size_t j = 0; j < sizeof where / sizeof where[0]; j++) {
        tes_cose_msg bad = m;
        sig[where[j]] ^= 0x01;
        bad.tag = TES_BYTES(sig, 64);
        CHECK_ERR(tes_cose_sign1_verify(&bad, k, TES_BYTES(NULL, 0), TES_BYTES(NULL, 0)),
                  TES_ERR_SIGNATURE);
        sig[where[j]] ^= 0x01;
    }
    /* Truncated signature. */
    tes_cose_msg shortsig = m;
    shortsig.tag.len = 63;
    CHECK_ERR(tes_cose_sign1_verify(&shortsig, k, TES_BYTES(NULL, 0), TES_BYTES(NULL, 0)),
              TES_ERR_SIGNATURE);

    /* ES256 with a P-384 key: the alg does not fit the key. */
    tes_key *p384 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P384, &p384) == TES_OK);
    CHECK_ERR(tes_cose_sign1_verify(&m, p384, TES_BYTES(NULL, 0), TES_BYTES(NULL, 0)),
              TES_ERR_COSE_ALG);
    tes_key_free(p384);

    /* The same message decoded from a node of a larger document. */
    tes_cbor_doc d;
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&ia), NULL, &d) == TES_OK);
    tes_cose_msg m2;
    CHECK_ERR(tes_cose_sign1_decode(&d, 0, &m2), TES_OK);
    CHECK(m2.payload.ptr == m.payload.ptr && m2.tag.ptr == m.tag.ptr);
    /* A Sign1 is not a Mac0 (alg -7 is no MAC algorithm). */
    CHECK_ERR(tes_cose_mac0_decode(&d, 0, &m2), TES_ERR_COSE_ALG);
    tes_cbor_doc_free(&d);

    tes_cert_free(cert);
    tes_buf_free(&ia);
    tes_buf_free(&ds);
    tes_buf_free(&mso);
}

TEST(annexd_reader_auth_detached)
{
    tes_buf ra = {0}, rc = {0}, rab = {0};
    REQUIRE(load_vec("reader_auth.hex", &ra));
    REQUIRE(load_vec("reader_cert.der.hex", &rc));
    REQUIRE(load_vec("derived_reader_authentication_bytes.hex", &rab));

    tes_cose_msg m;
    CHECK_ERR(tes_cose_sign1_parse(tes_buf_bytes(&ra), &m), TES_OK);
    CHECK(m.detached);
    CHECK_EQ_INT(m.payload.len, 0);
    CHECK_EQ_INT(m.alg, TES_COSE_ES256);
    REQUIRE(m.x5chain_len == 1);
    CHECK(tes_bytes_eq(m.x5chain[0], tes_buf_bytes(&rc)));

    tes_cert *cert = NULL;
    REQUIRE(tes_cert_parse(m.x5chain[0], &cert) == TES_OK);
    const tes_key *k = tes_cert_key(cert);
    CHECK_ERR(tes_cose_sign1_verify(&m, k, tes_buf_bytes(&rab), TES_BYTES(NULL, 0)), TES_OK);
    /* Detached payload required. */
    CHECK_ERR(tes_cose_sign1_verify(&m, k, TES_BYTES(NULL, 0), TES_BYTES(NULL, 0)), TES_ERR_ARG);
    /* One byte of the payload changed. */
    rab.ptr[rab.len - 1] ^= 0x80;
    CHECK_ERR(tes_cose_sign1_verify(&m, k, tes_buf_bytes(&rab), TES_BYTES(NULL, 0)),
              TES_ERR_SIGNATURE);

    tes_cert_free(cert);
    tes_buf_free(&ra);
    tes_buf_free(&rc);
    tes_buf_free(&rab);
}

TEST(annexd_device_mac)
{
    tes_buf resp = {0}, dab = {0}, key = {0}, ms = {0};
    REQUIRE(load_vec("device_response.hex", &resp));
    REQUIRE(load_vec("derived_device_authentication_bytes.hex", &dab));
    REQUIRE(load_vec("derived_emac_key.hex", &key));
    REQUIRE(load_vec("derived_mac_structure.hex", &ms));

    tes_cbor_doc d;
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&resp), NULL, &d) == TES_OK);
    uint32_t docs = tes_cbor_map_get_text(&d, 0, "documents");
    REQUIRE(docs != TES_CBOR_NONE);
    uint32_t doc0 = tes_cbor_child(&d, docs);
    REQUIRE(doc0 != TES_CBOR_NONE);
    uint32_t dsig = tes_cbor_map_get_text(&d, doc0, "deviceSigned");
    REQUIRE(dsig != TES_CBOR_NONE);
    uint32_t dauth = tes_cbor_map_get_text(&d, dsig, "deviceAuth");
    REQUIRE(dauth != TES_CBOR_NONE);
    uint32_t mac = tes_cbor_map_get_text(&d, dauth, "deviceMac");
    REQUIRE(mac != TES_CBOR_NONE);

    tes_cose_msg m;
    CHECK_ERR(tes_cose_mac0_decode(&d, mac, &m), TES_OK);
    CHECK_EQ_INT(m.alg, TES_COSE_HMAC256);
    CHECK(m.detached);
    CHECK_EQ_INT(m.tag.len, 32);
    CHECK_EQ_INT(m.x5chain_len, 0);

    /* The MAC_structure built from the received protected bytes is the vector's. */
    tes_buf built = {0};
    tes_cbor_enc e = {.out = &built};
    tes_cbor_enc_array(&e, 4);
    tes_cbor_enc_cstr(&e, "MAC0");
    tes_cbor_enc_bytes(&e, m.protected_raw.ptr, m.protected_raw.len);
    tes_cbor_enc_bytes(&e, NULL, 0);
    tes_cbor_enc_bytes(&e, dab.ptr, dab.len);
    CHECK_ERR(tes_cbor_enc_finish(&e), TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&built), tes_buf_bytes(&ms)));
    tes_buf_free(&built);

    CHECK_ERR(
        tes_cose_mac0_verify(&m, tes_buf_bytes(&key), tes_buf_bytes(&dab), TES_BYTES(NULL, 0)),
        TES_OK);
    /* Wrong key, wrong payload, wrong aad: one code each. */
    key.ptr[0] ^= 1;
    CHECK_ERR(
        tes_cose_mac0_verify(&m, tes_buf_bytes(&key), tes_buf_bytes(&dab), TES_BYTES(NULL, 0)),
        TES_ERR_SIGNATURE);
    key.ptr[0] ^= 1;
    CHECK_ERR(
        tes_cose_mac0_verify(&m, tes_buf_bytes(&key), tes_buf_bytes(&dab), TES_BYTES_STR("aad")),
        TES_ERR_SIGNATURE);
    dab.ptr[10] ^= 1;
    CHECK_ERR(
        tes_cose_mac0_verify(&m, tes_buf_bytes(&key), tes_buf_bytes(&dab), TES_BYTES(NULL, 0)),
        TES_ERR_SIGNATURE);
    dab.ptr[10] ^= 1;
    CHECK_ERR(tes_cose_mac0_verify(&m, tes_buf_bytes(&key), TES_BYTES(NULL, 0), TES_BYTES(NULL, 0)),
              TES_ERR_ARG);
    /* A truncated tag never verifies. */
    tes_cose_msg shorttag = m;
    shorttag.tag.len = 16;
    CHECK_ERR(tes_cose_mac0_verify(&shorttag, tes_buf_bytes(&key), tes_buf_bytes(&dab),
                                   TES_BYTES(NULL, 0)),
              TES_ERR_SIGNATURE);
    /* A Mac0 (alg 5) is not a Sign1. */
    CHECK_ERR(tes_cose_sign1_decode(&d, mac, &m), TES_ERR_COSE_ALG);

    tes_cbor_doc_free(&d);
    tes_buf_free(&resp);
    tes_buf_free(&dab);
    tes_buf_free(&key);
    tes_buf_free(&ms);
}

/* ------------------------------------------------------------------ decode table */

/* Each message is assembled from raw CBOR items (hex): [tag] array(n) of
 * protected, unprotected, payload, signature[, extra]. */
typedef struct dec_case {
    const char *name;
    uint64_t tag;                                      /* 0: untagged */
    const char *prot, *unprot, *payload, *sig, *extra; /* extra: 5th item; "-": 3 items */
    bool mac0;
    tes_err want;
    size_t want_chain;
} dec_case;

#define SIG64                                                                                      \
    "5840"                                                                                         \
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" \
    "000000000000000000000000000000000000"
#define NINE_CERTS                                                                                 \
    "a1182189"                                                                                     \
    "4100410041004100410041004100410041"                                                           \
    "00"

static const dec_case dec_cases[] = {
    {"plain", 0, "43a10126", "a0", "43010203", SIG64, NULL, false, TES_OK, 0},
    {"tagged 18", 18, "43a10126", "a0", "43010203", SIG64, NULL, false, TES_OK, 0},
    {"detached", 0, "43a10126", "a0", "f6", SIG64, NULL, false, TES_OK, 0},
    {"tag 17 on Sign1", 17, "43a10126", "a0", "43010203", SIG64, NULL, false,
     TES_ERR_COSE_MALFORMED, 0},
    {"tag 98", 98, "43a10126", "a0", "43010203", SIG64, NULL, false, TES_ERR_COSE_MALFORMED, 0},
    {"3 items", 0, "43a10126", "a0", "43010203", SIG64, "-", false, TES_ERR_COSE_MALFORMED, 0},
    {"5 items", 0, "43a10126", "a0", "43010203", SIG64, "40", false, TES_ERR_COSE_MALFORMED, 0},
    {"payload int", 0, "43a10126", "a0", "01", SIG64, NULL, false, TES_ERR_COSE_MALFORMED, 0},
    {"payload text", 0, "43a10126", "a0", "6161", SIG64, NULL, false, TES_ERR_COSE_MALFORMED, 0},
    {"protected is a map", 0, "a10126", "a0", "40", SIG64, NULL, false, TES_ERR_COSE_MALFORMED, 0},
    {"protected not CBOR", 0, "41ff", "a0", "40", SIG64, NULL, false, TES_ERR_COSE_MALFORMED, 0},
    {"protected trailing byte", 0, "44a1012600", "a0", "40", SIG64, NULL, false,
     TES_ERR_COSE_MALFORMED, 0},
    {"protected holds an array", 0, "428101", "a0", "40", SIG64, NULL, false,
     TES_ERR_COSE_MALFORMED, 0},
    {"unprotected array", 0, "43a10126", "80", "40", SIG64, NULL, false, TES_ERR_COSE_MALFORMED, 0},
    {"signature text", 0, "43a10126", "a0", "40", "6161", NULL, false, TES_ERR_COSE_MALFORMED, 0},
    {"float label", 0, "43a10126", "a1f93e0001", "40", SIG64, NULL, false, TES_ERR_COSE_MALFORMED,
     0},
    {"text label ok", 0, "43a10126", "a163666f6f01", "40", SIG64, NULL, false, TES_OK, 0},
    {"alg unprotected", 0, "40", "a10126", "40", SIG64, NULL, false, TES_ERR_COSE_ALG, 0},
    {"alg unprotected, h'a0'", 0, "41a0", "a10126", "40", SIG64, NULL, false, TES_ERR_COSE_ALG, 0},
    {"alg missing", 0, "40", "a0", "40", SIG64, NULL, false, TES_ERR_COSE_ALG, 0},
    {"alg -999", 0, "45a1013903e6", "a0", "40", SIG64, NULL, false, TES_ERR_COSE_ALG, 0},
    {"alg -6 (one byte, unknown)", 0, "43a10125", "a0", "40", SIG64, NULL, false, TES_ERR_COSE_ALG,
     0},
    {"alg text", 0, "48a101654553323536", "a0", "40", SIG64, NULL, false, TES_ERR_COSE_ALG, 0},
    {"HMAC alg on Sign1", 0, "43a10105", "a0", "40", SIG64, NULL, false, TES_ERR_COSE_ALG, 0},
    {"alg in both buckets", 0, "43a10126", "a10126", "40", SIG64, NULL, false,
     TES_ERR_COSE_MALFORMED, 0},
    {"ES384", 0, "44a1013822", "a0", "40", SIG64, NULL, false, TES_OK, 0},
    {"kid in protected", 0, "46a20126044101", "a0", "40", SIG64, NULL, false, TES_OK, 0},
    {"crit unknown", 0, "47a2012602811863", "a0", "40", SIG64, NULL, false, TES_ERR_COSE_MALFORMED,
     0},
    {"crit alg", 0,
     "46a201260281"
     "01",
     "a0", "40", SIG64, NULL, false, TES_OK, 0},
    {"x5chain bstr", 0, "43a10126", "a118214100", "40", SIG64, NULL, false, TES_OK, 1},
    {"x5chain [2]", 0, "43a10126",
     "a11821824101"
     "4102",
     "40", SIG64, NULL, false, TES_OK, 2},
    {"x5chain protected", 0,
     "47a20126182141"
     "00",
     "a0", "40", SIG64, NULL, false, TES_OK, 1},
    {"x5chain both", 0,
     "47a20126182141"
     "00",
     "a118214100", "40", SIG64, NULL, false, TES_ERR_COSE_MALFORMED, 0},
    {"x5chain empty array", 0, "43a10126", "a1182180", "40", SIG64, NULL, false,
     TES_ERR_COSE_X5CHAIN, 0},
    {"x5chain 9 certs", 0, "43a10126", NINE_CERTS, "40", SIG64, NULL, false, TES_ERR_COSE_X5CHAIN,
     0},
    {"x5chain int element", 0, "43a10126", "a118218101", "40", SIG64, NULL, false,
     TES_ERR_COSE_X5CHAIN, 0},
    {"x5chain int", 0, "43a10126", "a1182105", "40", SIG64, NULL, false, TES_ERR_COSE_X5CHAIN, 0},
    {"x5chain empty bstr", 0, "43a10126", "a1182140", "40", SIG64, NULL, false,
     TES_ERR_COSE_X5CHAIN, 0},
    {"mac0 plain", 0, "43a10105", "a0", "f6",
     "5820"
     "0000000000000000000000000000000000000000000000000000000000000000",
     NULL, true, TES_OK, 0},
    {"mac0 tagged 17", 17, "43a10105", "a0", "40", "40", NULL, true, TES_OK, 0},
    {"mac0 tag 18", 18, "43a10105", "a0", "40", "40", NULL, true, TES_ERR_COSE_MALFORMED, 0},
    {"mac0 alg ES256", 0, "43a10126", "a0", "40", "40", NULL, true, TES_ERR_COSE_ALG, 0},
    {"mac0 alg unprotected", 0, "40", "a10105", "40", "40", NULL, true, TES_ERR_COSE_ALG, 0},
};

static void build_case(const dec_case *c, tes_buf *out)
{
    tes_buf item = {0};
    tes_cbor_enc e = {.out = out};
    if (c->tag)
        tes_cbor_enc_tag(&e, c->tag);
    bool three = c->extra && strcmp(c->extra, "-") == 0;
    tes_cbor_enc_array(&e, three ? 3 : c->extra ? 5 : 4);
    const char *parts[] = {c->prot, c->unprot, c->payload, three ? NULL : c->sig,
                           three ? NULL : c->extra};
    for (size_t j = 0; j < 5; j++) {
        if (!parts[j])
            continue;
        hex_to(parts[j], &item);
        tes_cbor_enc_raw(&e, tes_buf_bytes(&item));
    }
    if (tes_cbor_enc_finish(&e) != TES_OK)
        abort();
    tes_buf_free(&item);
}

TEST(decode_table)
{
    for (size_t j = 0; j < sizeof dec_cases / sizeof dec_cases[0]; j++) {
        const dec_case *c = &dec_cases[j];
        tes_buf in = {0};
        build_case(c, &in);
        tes_cose_msg m;
        tes_err got = c->mac0 ? tes_cose_mac0_parse(tes_buf_bytes(&in), &m)
                              : tes_cose_sign1_parse(tes_buf_bytes(&in), &m);
        if (got != c->want)
            fprintf(stderr, "    case '%s': %s (%s)\n", c->name, tes_err_name(got),
                    tes_err_message());
        CHECK_ERR(got, c->want);
        if (got == TES_OK) {
            CHECK_EQ_INT(m.tagged, c->tag != 0);
            CHECK_EQ_INT(m.x5chain_len, c->want_chain);
        }
        tes_buf_free(&in);
    }
}

/* ------------------------------------------------------------------ round trips */

static void roundtrip_one(tes_curve curve, int64_t want_alg, const char *want_prot)
{
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(curve, &k) == TES_OK);
    tes_signer s = tes_signer_from_key(k);
    CHECK_EQ_INT(s.alg, want_alg);
    tes_buf prot = {0};
    hex_to(want_prot, &prot);

    const uint8_t payload[] = "the payload that is signed";
    tes_bytes pl = TES_BYTES(payload, sizeof payload - 1);
    tes_bytes chain[2] = {TES_BYTES_STR("cert-one"), TES_BYTES_STR("cert-two")};
    tes_bytes aad = TES_BYTES_STR("external");

    for (int v = 0; v < 8; v++) {
        bool detach = v & 1, tagged = v & 2;
        size_t chain_len = (v & 4) ? 2 : (size_t)(v & 1);
        tes_buf out = {0};
        tes_cbor_enc e = {.out = &out};
        tes_cose_sign1_write(&e, &s, pl,
                             &(tes_cose_opts){.flags = (detach ? TES_COSE_DETACHED : 0u) |
                                                       (tagged ? TES_COSE_TAGGED : 0u),
                                              .x5chain = chain,
                                              .chain_len = chain_len,
                                              .external_aad = aad});
        REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
        CHECK_EQ_INT(out.ptr[0], tagged ? 0xd2 : 0x84);

        tes_cose_msg m;
        CHECK_ERR(tes_cose_sign1_parse(tes_buf_bytes(&out), &m), TES_OK);
        CHECK_EQ_INT(m.alg, want_alg);
        CHECK_EQ_INT(m.tagged, tagged);
        CHECK_EQ_INT(m.detached, detach);
        CHECK(tes_bytes_eq(m.protected_raw, tes_buf_bytes(&prot)));
        CHECK_EQ_INT(m.x5chain_len, chain_len);
        if (chain_len >= 1)
            CHECK(tes_bytes_eq(m.x5chain[0], chain[0]));
        if (chain_len == 2)
            CHECK(tes_bytes_eq(m.x5chain[1], chain[1]));
        if (!detach)
            CHECK(tes_bytes_eq(m.payload, pl));
        tes_bytes dp = detach ? pl : TES_BYTES(NULL, 0);
        CHECK_ERR(tes_cose_sign1_verify(&m, k, dp, aad), TES_OK);
        CHECK_ERR(tes_cose_sign1_verify(&m, k, dp, TES_BYTES(NULL, 0)), TES_ERR_SIGNATURE);
        CHECK_ERR(tes_cose_sign1_verify(&m, k, TES_BYTES_STR("other payload"), aad),
                  TES_ERR_SIGNATURE);
        tes_buf_free(&out);
    }

    /* A different key of the same curve. */
    tes_key *k2 = NULL;
    REQUIRE(tes_key_generate(curve, &k2) == TES_OK);
    tes_buf out = {0};
    tes_cbor_enc e = {.out = &out};
    tes_cose_sign1_write(&e, &s, pl, &(tes_cose_opts){.external_aad = aad});
    REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
    tes_cose_msg m;
    REQUIRE(tes_cose_sign1_parse(tes_buf_bytes(&out), &m) == TES_OK);
    CHECK_ERR(tes_cose_sign1_verify(&m, k2, TES_BYTES(NULL, 0), aad), TES_ERR_SIGNATURE);
    tes_buf_free(&out);
    tes_key_free(k2);
    tes_key_free(k);
    tes_buf_free(&prot);
}

TEST(sign1_roundtrip_es256)
{
    roundtrip_one(TES_CURVE_P256, TES_COSE_ES256, "a10126");
}
TEST(sign1_roundtrip_es384)
{
    roundtrip_one(TES_CURVE_P384, TES_COSE_ES384, "a1013822");
}
TEST(sign1_roundtrip_es512)
{
    roundtrip_one(TES_CURVE_P521, TES_COSE_ES512, "a1013823");
}
TEST(sign1_roundtrip_eddsa)
{
    roundtrip_one(TES_CURVE_ED25519, TES_COSE_EDDSA, "a10127");
}

TEST(sign1_write_deterministic_bytes)
{
    /* Ed25519 signatures are deterministic: the whole message is fixed. */
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_ED25519, &k) == TES_OK);
    tes_signer s = tes_signer_from_key(k);
    tes_buf a = {0}, b = {0};
    tes_cbor_enc ea = {.out = &a}, eb = {.out = &b};
    tes_bytes cert = TES_BYTES_STR("C");
    tes_cose_sign1_write(&ea, &s, TES_BYTES_STR("P"),
                         &(tes_cose_opts){.x5chain = &cert, .chain_len = 1});
    tes_cose_sign1_write(&eb, &s, TES_BYTES_STR("P"),
                         &(tes_cose_opts){.x5chain = &cert, .chain_len = 1});
    REQUIRE(tes_cbor_enc_finish(&ea) == TES_OK && tes_cbor_enc_finish(&eb) == TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&a), tes_buf_bytes(&b)));
    /* 84 43 a10127 a1 1821 4143 4150 5840 <sig> */
    static const uint8_t head[] = {0x84, 0x43, 0xa1, 0x01, 0x27, 0xa1, 0x18,
                                   0x21, 0x41, 0x43, 0x41, 0x50, 0x58, 0x40};
    REQUIRE(a.len == sizeof head + 64);
    CHECK_EQ_MEM(a.ptr, head, sizeof head);
    tes_buf_free(&a);
    tes_buf_free(&b);
    tes_key_free(k);
}

static tes_err failing_sign(void *ctx, int64_t alg, tes_bytes msg, uint8_t *sig, size_t *sig_len)
{
    (void)ctx, (void)alg, (void)msg, (void)sig, (void)sig_len;
    return tes_err_set(TES_ERR_CRYPTO, "test signer refuses");
}

TEST(sign1_write_sticky_errors)
{
    tes_signer s = {failing_sign, NULL, TES_COSE_ES256};
    tes_buf out = {0};
    tes_cbor_enc e = {.out = &out};
    tes_cose_sign1_write(&e, &s, TES_BYTES_STR("p"), NULL);
    CHECK_ERR(e.err, TES_ERR_CRYPTO);
    tes_cose_mac0_write(&e, TES_BYTES_STR("k"), TES_BYTES_STR("p"), NULL);
    CHECK_ERR(tes_cbor_enc_finish(&e), TES_ERR_CRYPTO);
    CHECK_EQ_INT(out.len, 0);

    /* A signer whose alg does not fit its key. */
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    tes_signer bad = tes_signer_from_key(k);
    bad.alg = TES_COSE_ES384;
    tes_cbor_enc e2 = {.out = &out};
    tes_cose_sign1_write(&e2, &bad, TES_BYTES_STR("p"), NULL);
    CHECK_ERR(tes_cbor_enc_finish(&e2), TES_ERR_COSE_ALG);
    bad.alg = 5;
    tes_cbor_enc e3 = {.out = &out};
    tes_cose_sign1_write(&e3, &bad, TES_BYTES_STR("p"), NULL);
    CHECK_ERR(tes_cbor_enc_finish(&e3), TES_ERR_COSE_ALG);
    /* Too long a chain. */
    tes_bytes chain[TES_COSE_MAX_CHAIN + 1];
    for (size_t j = 0; j <= TES_COSE_MAX_CHAIN; j++)
        chain[j] = TES_BYTES_STR("c");
    tes_signer good = tes_signer_from_key(k);
    tes_cbor_enc e4 = {.out = &out};
    tes_cose_sign1_write(&e4, &good, TES_BYTES_STR("p"),
                         &(tes_cose_opts){.x5chain = chain, .chain_len = TES_COSE_MAX_CHAIN + 1});
    CHECK_ERR(tes_cbor_enc_finish(&e4), TES_ERR_ARG);
    CHECK_EQ_INT(out.len, 0);
    tes_key_free(k);
    tes_buf_free(&out);
}

TEST(mac0_roundtrip)
{
    uint8_t keyb[32];
    for (int j = 0; j < 32; j++)
        keyb[j] = (uint8_t)(j * 7 + 1);
    tes_bytes key = TES_BYTES(keyb, 32);
    tes_bytes pl = TES_BYTES_STR("device authentication bytes");
    tes_bytes aad = TES_BYTES_STR("aad");
    for (int v = 0; v < 4; v++) {
        bool detach = v & 1, tagged = v & 2;
        tes_buf out = {0};
        tes_cbor_enc e = {.out = &out};
        tes_cose_mac0_write(&e, key, pl,
                            &(tes_cose_opts){.flags = (detach ? TES_COSE_DETACHED : 0u) |
                                                      (tagged ? TES_COSE_TAGGED : 0u),
                                             .external_aad = aad});
        REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
        CHECK_EQ_INT(out.ptr[0], tagged ? 0xd1 : 0x84);
        tes_cose_msg m;
        CHECK_ERR(tes_cose_mac0_parse(tes_buf_bytes(&out), &m), TES_OK);
        CHECK_EQ_INT(m.alg, TES_COSE_HMAC256);
        CHECK_EQ_INT(m.tagged, tagged);
        CHECK_EQ_INT(m.detached, detach);
        CHECK_EQ_INT(m.protected_raw.len, 3);
        CHECK_EQ_MEM(m.protected_raw.ptr, "\xa1\x01\x05", 3);
        tes_bytes dp = detach ? pl : TES_BYTES(NULL, 0);
        CHECK_ERR(tes_cose_mac0_verify(&m, key, dp, aad), TES_OK);
        CHECK_ERR(tes_cose_mac0_verify(&m, TES_BYTES(keyb, 31), dp, aad), TES_ERR_SIGNATURE);
        CHECK_ERR(tes_cose_mac0_verify(&m, key, dp, TES_BYTES(NULL, 0)), TES_ERR_SIGNATURE);
        /* A Mac0 is not accepted as a Sign1. */
        CHECK_ERR(tes_cose_sign1_parse(tes_buf_bytes(&out), &m),
                  tagged ? TES_ERR_COSE_MALFORMED : TES_ERR_COSE_ALG);
        tes_buf_free(&out);
    }
}

/* NULL opts and {0} are the same message; the in-place writer makes the same
 * bytes as the copying one; what an option set cannot mean is refused. */
TEST(write_opts_defaults_and_refusals)
{
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_ED25519, &k) == TES_OK); /* deterministic signatures */
    tes_signer s = tes_signer_from_key(k);
    tes_bytes cert = TES_BYTES_STR("C");
    const tes_cose_opts tagged_chain = {.flags = TES_COSE_TAGGED, .x5chain = &cert, .chain_len = 1};
    static const char pl[] = "in place payload";
    const size_t pl_len = sizeof pl - 1;
    for (int v = 0; v < 2; v++) {
        const tes_cose_opts *o = v ? &tagged_chain : NULL;
        tes_buf a = {0}, b = {0}, c = {0};
        tes_cbor_enc ea = {.out = &a}, eb = {.out = &b}, ec = {.out = &c};
        tes_cose_sign1_write(&ea, &s, TES_BYTES(pl, pl_len), o);
        tes_cose_sign1_write(&eb, &s, TES_BYTES(pl, pl_len), v ? o : &(tes_cose_opts){0});
        uint8_t buf[TES_COSE_SIGN1_ROOM + sizeof pl];
        memcpy(buf + TES_COSE_SIGN1_ROOM, pl, pl_len);
        tes_cose_sign1_write_inbuf(&ec, &s, buf, TES_COSE_SIGN1_ROOM, TES_COSE_SIGN1_ROOM + pl_len,
                                   o);
        REQUIRE(tes_cbor_enc_finish(&ea) == TES_OK && tes_cbor_enc_finish(&eb) == TES_OK &&
                tes_cbor_enc_finish(&ec) == TES_OK);
        CHECK_EQ_INT(a.ptr[0], v ? 0xd2 : 0x84);
        CHECK(tes_bytes_eq(tes_buf_bytes(&a), tes_buf_bytes(&b)));
        CHECK(tes_bytes_eq(tes_buf_bytes(&a), tes_buf_bytes(&c)));
        tes_buf_free(&a);
        tes_buf_free(&b);
        tes_buf_free(&c);
    }
    tes_buf m1 = {0}, m2 = {0};
    tes_cbor_enc e1 = {.out = &m1}, e2 = {.out = &m2};
    tes_cose_mac0_write(&e1, TES_BYTES_STR("k"), TES_BYTES(pl, pl_len), NULL);
    tes_cose_mac0_write(&e2, TES_BYTES_STR("k"), TES_BYTES(pl, pl_len), &(tes_cose_opts){0});
    REQUIRE(tes_cbor_enc_finish(&e1) == TES_OK && tes_cbor_enc_finish(&e2) == TES_OK);
    CHECK_EQ_INT(m1.ptr[0], 0x84);
    CHECK(tes_bytes_eq(tes_buf_bytes(&m1), tes_buf_bytes(&m2)));
    tes_buf_free(&m1);
    tes_buf_free(&m2);

    /* Refused, each with nothing written. */
    uint8_t room[TES_COSE_SIGN1_ROOM + 1] = {0};
    const tes_cose_opts unknown_flag = {.flags = TES_COSE_TAGGED << 1};
    const tes_cose_opts detached = {.flags = TES_COSE_DETACHED};
    const tes_cose_opts aad = {.external_aad = TES_BYTES_STR("aad")};
    const tes_cose_opts no_chain = {.chain_len = 1};
    const tes_cose_opts mac_chain = {.x5chain = &cert, .chain_len = 1};
#define REFUSED(call)                                                                              \
    do {                                                                                           \
        tes_buf out = {0};                                                                         \
        tes_cbor_enc e = {.out = &out};                                                            \
        call;                                                                                      \
        CHECK_ERR(tes_cbor_enc_finish(&e), TES_ERR_ARG);                                           \
        CHECK_EQ_INT(out.len, 0);                                                                  \
        tes_buf_free(&out);                                                                        \
    } while (0)
    REFUSED(tes_cose_sign1_write(&e, &s, TES_BYTES_STR("p"), &unknown_flag));
    REFUSED(tes_cose_sign1_write(&e, &s, TES_BYTES_STR("p"), &no_chain));
    REFUSED(tes_cose_sign1_write_inbuf(&e, &s, room, TES_COSE_SIGN1_ROOM, sizeof room, &detached));
    REFUSED(tes_cose_sign1_write_inbuf(&e, &s, room, TES_COSE_SIGN1_ROOM, sizeof room, &aad));
    REFUSED(
        tes_cose_sign1_write_inbuf(&e, &s, room, TES_COSE_SIGN1_ROOM, sizeof room, &unknown_flag));
    REFUSED(tes_cose_mac0_write(&e, TES_BYTES_STR("k"), TES_BYTES_STR("p"), &unknown_flag));
    REFUSED(tes_cose_mac0_write(&e, TES_BYTES_STR("k"), TES_BYTES_STR("p"), &mac_chain));
#undef REFUSED
    tes_key_free(k);
}

/* ------------------------------------------------------------------ COSE_Key */

TEST(cose_key_annexd_edevice)
{
    tes_buf kb = {0}, x = {0}, y = {0};
    REQUIRE(load_vec("e_device_key_bytes.hex", &kb));
    REQUIRE(load_vec("edevice_key_x.hex", &x));
    REQUIRE(load_vec("edevice_key_y.hex", &y));
    tes_cbor_doc d;
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&kb), NULL, &d) == TES_OK);
    tes_bytes inner;
    REQUIRE(tes_cbor_tag24_content(&d, 0, &inner));
    /* The tag-24 wrapper itself is not a key. */
    tes_key *k = NULL;
    CHECK_ERR(tes_cose_key_decode(&d, 0, &k), TES_ERR_COSE_KEY);
    CHECK(k == NULL);

    CHECK_ERR(tes_cose_key_parse(inner, &k), TES_OK);
    REQUIRE(k != NULL);
    CHECK_EQ_INT(tes_key_curve(k), TES_CURVE_P256);
    uint8_t kx[TES_MAX_COORD], ky[TES_MAX_COORD];
    REQUIRE(tes_key_public_raw(k, kx, ky) == TES_OK);
    REQUIRE(x.len == 32 && y.len == 32);
    CHECK_EQ_MEM(kx, x.ptr, 32);
    CHECK_EQ_MEM(ky, y.ptr, 32);

    /* Writing it back gives the Annex D bytes (they are in deterministic order). */
    tes_buf out = {0};
    tes_cbor_enc e = {.out = &out};
    tes_cose_key_write(&e, k);
    REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&out), inner));

    tes_key_free(k);
    tes_buf_free(&out);
    tes_cbor_doc_free(&d);
    tes_buf_free(&kb);
    tes_buf_free(&x);
    tes_buf_free(&y);
}

TEST(cose_key_roundtrip_all_curves)
{
    const tes_curve curves[] = {TES_CURVE_P256, TES_CURVE_P384, TES_CURVE_P521, TES_CURVE_ED25519};
    for (size_t j = 0; j < 4; j++) {
        tes_key *k = NULL, *k2 = NULL;
        REQUIRE(tes_key_generate(curves[j], &k) == TES_OK);
        tes_buf out = {0};
        tes_cbor_enc e = {.out = &out};
        tes_cose_key_write(&e, k);
        REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
        /* Deterministic key order: 01, 20, 21, (22). */
        CHECK_EQ_INT(out.ptr[0], curves[j] == TES_CURVE_ED25519 ? 0xa3 : 0xa4);
        CHECK_EQ_INT(out.ptr[1], 0x01);
        CHECK_EQ_INT(out.ptr[2], curves[j] == TES_CURVE_ED25519 ? 0x01 : 0x02);
        CHECK_EQ_INT(out.ptr[3], 0x20);
        CHECK_ERR(tes_cose_key_parse(tes_buf_bytes(&out), &k2), TES_OK);
        REQUIRE(k2 != NULL);
        CHECK(tes_key_equal_public(k, k2));
        CHECK(!tes_key_has_private(k2));
        tes_key_free(k2);
        tes_key_free(k);
        tes_buf_free(&out);
    }
}

/* Writes a COSE_Key map from parts; y_kind: 0 absent, 1 bstr, 2 bool true, 3 int. */
static void build_key(tes_buf *out, int64_t kty, int64_t crv, tes_bytes x, int y_kind, tes_bytes y,
                      bool shuffle_extras)
{
    tes_cbor_enc e = {.out = out};
    size_t n = 3 + (y_kind != 0) + (shuffle_extras ? 3 : 0);
    tes_cbor_enc_map(&e, n);
    if (shuffle_extras) {
        tes_cbor_enc_int(&e, -4); /* d: ignored */
        tes_cbor_enc_bytes(&e, "dddd", 4);
        tes_cbor_enc_cstr(&e, "note");
        tes_cbor_enc_cstr(&e, "text labels are ignored");
    }
    if (y_kind == 1) {
        tes_cbor_enc_int(&e, -3);
        tes_cbor_enc_bytes(&e, y.ptr, y.len);
    } else if (y_kind == 2) {
        tes_cbor_enc_int(&e, -3);
        tes_cbor_enc_bool(&e, true);
    } else if (y_kind == 3) {
        tes_cbor_enc_int(&e, -3);
        tes_cbor_enc_int(&e, 7);
    }
    tes_cbor_enc_int(&e, -2);
    tes_cbor_enc_bytes(&e, x.ptr, x.len);
    tes_cbor_enc_int(&e, -1);
    tes_cbor_enc_int(&e, crv);
    if (shuffle_extras) {
        tes_cbor_enc_int(&e, 2); /* kid */
        tes_cbor_enc_bytes(&e, "k", 1);
    }
    tes_cbor_enc_int(&e, 1);
    tes_cbor_enc_int(&e, kty);
    if (tes_cbor_enc_finish(&e) != TES_OK)
        abort();
}

TEST(cose_key_errors)
{
    tes_buf x = {0}, y = {0};
    REQUIRE(load_vec("edevice_key_x.hex", &x));
    REQUIRE(load_vec("edevice_key_y.hex", &y));
    tes_bytes xb = tes_buf_bytes(&x), yb = tes_buf_bytes(&y);
    tes_bytes x31 = TES_BYTES(x.ptr, 31);
    uint8_t off_curve[32];
    memcpy(off_curve, y.ptr, 32);
    off_curve[31] ^= 1;

    struct {
        const char *name;
        int64_t kty, crv;
        tes_bytes x;
        int y_kind;
        tes_bytes y;
        bool extras;
        tes_err want;
    } cases[] = {
        {"good, any label order", 2, 1, xb, 1, yb, false, TES_OK},
        {"good, d and unknown labels ignored", 2, 1, xb, 1, yb, true, TES_OK},
        {"missing y", 2, 1, xb, 0, yb, false, TES_ERR_COSE_KEY},
        {"compressed y", 2, 1, xb, 2, yb, false, TES_ERR_COSE_KEY},
        {"y an int", 2, 1, xb, 3, yb, false, TES_ERR_COSE_KEY},
        {"x 31 bytes", 2, 1, x31, 1, yb, false, TES_ERR_COSE_KEY},
        {"y 31 bytes", 2, 1, xb, 1, TES_BYTES(y.ptr, 31), false, TES_ERR_COSE_KEY},
        {"P-256 coordinates as P-384", 2, 2, xb, 1, yb, false, TES_ERR_COSE_KEY},
        {"unsupported crv 8", 2, 8, xb, 1, yb, false, TES_ERR_COSE_KEY},
        {"EC2 with Ed25519 crv", 2, 6, xb, 1, yb, false, TES_ERR_COSE_KEY},
        {"OKP with P-256 crv", 1, 1, xb, 0, yb, false, TES_ERR_COSE_KEY},
        {"OKP X25519", 1, 4, xb, 0, yb, false, TES_ERR_COSE_KEY},
        {"kty 3 (RSA)", 3, 1, xb, 1, yb, false, TES_ERR_COSE_KEY},
        {"point not on curve", 2, 1, xb, 1, TES_BYTES(off_curve, 32), false, TES_ERR_COSE_KEY},
    };
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
        tes_buf kb = {0};
        build_key(&kb, cases[j].kty, cases[j].crv, cases[j].x, cases[j].y_kind, cases[j].y,
                  cases[j].extras);
        tes_key *k = NULL;
        tes_err got = tes_cose_key_parse(tes_buf_bytes(&kb), &k);
        if (got != cases[j].want)
            fprintf(stderr, "    case '%s': %s (%s)\n", cases[j].name, tes_err_name(got),
                    tes_err_message());
        CHECK_ERR(got, cases[j].want);
        CHECK((got == TES_OK) == (k != NULL));
        if (k) {
            uint8_t kx[TES_MAX_COORD], ky[TES_MAX_COORD];
            CHECK(tes_key_public_raw(k, kx, ky) == TES_OK && memcmp(kx, x.ptr, 32) == 0);
        }
        tes_key_free(k);
        tes_buf_free(&kb);
    }

    /* Hand-written shapes: not a map, no kty, kty text, x missing. */
    const struct {
        const char *hex;
        tes_err want;
    } raw[] = {
        {"80", TES_ERR_COSE_KEY},
        {"a22001214100", TES_ERR_COSE_KEY},
        {"a2016245432001", TES_ERR_COSE_KEY},
        {"a2010120 06", TES_ERR_COSE_KEY},
        {"a3010120062140", TES_ERR_COSE_KEY},
    };
    for (size_t j = 0; j < sizeof raw / sizeof raw[0]; j++) {
        tes_buf kb = {0};
        char h[64];
        size_t n = 0;
        for (const char *p = raw[j].hex; *p; p++)
            if (*p != ' ')
                h[n++] = *p;
        h[n] = 0;
        hex_to(h, &kb);
        tes_key *k = NULL;
        CHECK_ERR(tes_cose_key_parse(tes_buf_bytes(&kb), &k), raw[j].want);
        CHECK(k == NULL);
        tes_buf_free(&kb);
    }
    tes_buf_free(&x);
    tes_buf_free(&y);
}

TEST(alg_hash)
{
    tes_hash h;
    CHECK(tes_cose_alg_hash(TES_COSE_ES256, &h) && h == TES_HASH_SHA256);
    CHECK(tes_cose_alg_hash(TES_COSE_ES384, &h) && h == TES_HASH_SHA384);
    CHECK(tes_cose_alg_hash(TES_COSE_ES512, &h) && h == TES_HASH_SHA512);
    CHECK(tes_cose_alg_hash(TES_COSE_EDDSA, &h) && h == TES_HASH_NONE);
    CHECK(!tes_cose_alg_hash(TES_COSE_HMAC256, &h));
    CHECK(!tes_cose_alg_hash(-257, &h));
}
