/* Unit tests of trust stores, Annex B profiles and the validation cache (src/trust). */
#include "tessera/trust.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"
#include "vectors.h"

#define T_2019 1546300800 /* 2019-01-01 */
#define T_2021 1609459200 /* 2021-01-01 */
#define T_2022 1640995200 /* 2022-01-01 */

/* ------------------------------------------------------------------ helpers */

/* Loads iso18013-5-annexD/<name> (hex text) as bytes into out. */
static bool load_vec(const char *name, tes_buf *out)
{
    return tes_test_annexd(name, out) == TES_OK;
}

static tes_cert *load_cert(const char *name)
{
    tes_buf der = {0};
    tes_cert *c = NULL;
    if (load_vec(name, &der) && tes_cert_parse(tes_buf_bytes(&der), &c) != TES_OK)
        c = NULL;
    tes_buf_free(&der);
    return c;
}

/* Annex D certificates. */
typedef struct annexd {
    tes_cert *iaca, *ds, *reader, *reader_root;
} annexd;

static bool annexd_load(annexd *a)
{
    a->iaca = load_cert("iaca_root_cert.der.hex");
    a->ds = load_cert("issuer_ds_cert.der.hex");
    a->reader = load_cert("reader_cert.der.hex");
    a->reader_root = load_cert("reader_root_cert.der.hex");
    return a->iaca && a->ds && a->reader && a->reader_root;
}

static void annexd_free(annexd *a)
{
    tes_cert_free(a->iaca);
    tes_cert_free(a->ds);
    tes_cert_free(a->reader);
    tes_cert_free(a->reader_root);
}

static tes_err validate1(tes_trust_store *s, tes_trust_profile p, const tes_cert *leaf, int64_t at,
                         tes_trust_result *r)
{
    tes_bytes der = tes_cert_der(leaf);
    return tes_trust_validate(s, p, &der, 1, at, r);
}

/* ------------------------------------------------------------------ Annex D */

TEST(annexd_ds_chain)
{
    annexd a = {0};
    REQUIRE(annexd_load(&a));
    CHECK_ERR(tes_trust_check_root(a.iaca), TES_OK);
    CHECK_ERR(tes_trust_check_root(a.reader_root), TES_OK);
    CHECK_ERR(tes_trust_check_leaf(a.ds, TES_PROFILE_DS, a.iaca), TES_OK);
    CHECK_ERR(tes_trust_check_leaf(a.reader, TES_PROFILE_READER, a.reader_root), TES_OK);
    /* The AKI of the DS is not the reader root's SKI. */
    CHECK_ERR(tes_trust_check_leaf(a.ds, TES_PROFILE_DS, a.reader_root), TES_ERR_DS_PROFILE);

    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    CHECK_ERR(tes_trust_store_add(s, TES_PROFILE_DS, a.iaca), TES_OK);
    CHECK_ERR(tes_trust_store_add(s, TES_PROFILE_DS, a.iaca), TES_OK); /* no duplicate */
    CHECK_EQ_INT(tes_trust_store_count(s), 1);

    tes_trust_result r;
    CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, T_2021, &r), TES_OK);
    CHECK(!r.from_cache);
    CHECK(r.root == a.iaca);
    REQUIRE(r.leaf != NULL);
    CHECK(tes_bytes_eq(tes_cert_der(r.leaf), tes_cert_der(a.ds)));
    const tes_cert *leaf1 = r.leaf;

    CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, T_2021, &r), TES_OK);
    CHECK(r.from_cache);
    CHECK(r.leaf == leaf1);
    CHECK(r.root == a.iaca);

    /* Boundaries are inclusive: notAfter of the DS is 2021-10-01T00:00:00Z. */
    CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, tes_cert_get_info(a.ds)->not_after, &r), TES_OK);
    CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, tes_cert_get_info(a.ds)->not_after + 1, &r),
              TES_ERR_CERT_EXPIRED);

    /* The root included in the chain is fine too (a different chain: cold). */
    tes_bytes chain[2] = {tes_cert_der(a.ds), tes_cert_der(a.iaca)};
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 2, T_2021, &r), TES_OK);
    CHECK(!r.from_cache);
    CHECK(r.root == a.iaca);
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 2, T_2021, &r), TES_OK);
    CHECK(r.from_cache);

    tes_trust_store_free(s);
    annexd_free(&a);
}

TEST(annexd_time_errors_identical_when_cached)
{
    annexd a = {0};
    REQUIRE(annexd_load(&a));
    struct {
        int64_t at;
        tes_err want;
        const char *needle;
    } cases[] = {
        {T_2022, TES_ERR_CERT_EXPIRED, "document signer 'C=US,CN=utopia ds'"},
        {T_2019, TES_ERR_CERT_NOT_YET_VALID, "document signer 'C=US,CN=utopia ds'"},
    };
    for (size_t j = 0; j < 2; j++) {
        tes_trust_store *s = NULL;
        REQUIRE(tes_trust_store_new(&s) == TES_OK);
        REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, a.iaca) == TES_OK);
        tes_trust_result r;
        CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, cases[j].at, &r), cases[j].want);
        CHECK(!r.from_cache);
        char cold[512];
        snprintf(cold, sizeof cold, "%s", tes_err_message());
        if (!strstr(cold, cases[j].needle))
            fprintf(stderr, "    message: %s\n", cold);
        CHECK(strstr(cold, cases[j].needle) != NULL);
        if (cases[j].want == TES_ERR_CERT_EXPIRED)
            CHECK(strstr(cold, "2021-10-01T00:00:00Z") != NULL &&
                  strstr(cold, "2022-01-01T00:00:00Z") != NULL);

        CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, cases[j].at, &r), cases[j].want);
        CHECK(r.from_cache);
        CHECK_EQ_STR(tes_err_message(), cold);
        /* And the same entry is valid at a good time. */
        CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, T_2021, &r), TES_OK);
        CHECK(r.from_cache);
        tes_trust_store_free(s);
    }
    annexd_free(&a);
}

TEST(annexd_untrusted_and_profiles)
{
    annexd a = {0};
    REQUIRE(annexd_load(&a));
    tes_trust_store *s = NULL;
    tes_trust_result r;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, T_2021, &r), TES_ERR_CHAIN_UNTRUSTED);
    /* Failures are not cached. */
    CHECK_ERR(validate1(s, TES_PROFILE_DS, a.ds, T_2021, &r), TES_ERR_CHAIN_UNTRUSTED);
    CHECK(!r.from_cache);

    /* Reader root trusted for readers only. */
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_READER, a.reader_root) == TES_OK);
    CHECK_ERR(validate1(s, TES_PROFILE_READER, a.reader, T_2021, &r), TES_OK);
    CHECK(r.root == a.reader_root);
    CHECK_ERR(validate1(s, TES_PROFILE_READER, a.reader, T_2021, &r), TES_OK);
    CHECK(r.from_cache);
    CHECK_ERR(validate1(s, TES_PROFILE_DS, a.reader, T_2021, &r), TES_ERR_CHAIN_UNTRUSTED);
    /* The reader cert expires 2023-12-31. */
    CHECK_ERR(validate1(s, TES_PROFILE_READER, a.reader, 1704067200, &r), TES_ERR_CERT_EXPIRED);
    CHECK(strstr(tes_err_message(), "reader certificate 'CN=reader'") != NULL);

    /* DS under the READER profile: its issuer is no reader root. */
    CHECK_ERR(validate1(s, TES_PROFILE_READER, a.ds, T_2021, &r), TES_ERR_CHAIN_UNTRUSTED);
    /* Even with the IACA trusted as a reader root, the DS lacks the reader EKU. */
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_READER, a.iaca) == TES_OK);
    CHECK_ERR(validate1(s, TES_PROFILE_READER, a.ds, T_2021, &r), TES_ERR_READER_PROFILE);
    /* And the reader cert is no document signer. */
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, a.reader_root) == TES_OK);
    CHECK_ERR(validate1(s, TES_PROFILE_DS, a.reader, T_2021, &r), TES_ERR_DS_PROFILE);
    CHECK_EQ_INT(tes_trust_store_count(s), 3);

    /* Garbage in the chain. */
    uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    tes_bytes chain[2] = {tes_cert_der(a.ds), TES_BYTES(junk, sizeof junk)};
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 2, T_2021, &r), TES_ERR_CERT_MALFORMED);
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain + 1, 1, T_2021, &r),
              TES_ERR_CERT_MALFORMED);
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 0, T_2021, &r), TES_ERR_ARG);

    tes_trust_store_free(s);
    annexd_free(&a);
}

/* ------------------------------------------------------------------ synthetic PKI */

#define NB 1700000000         /* 2023-11-14 */
#define NA (NB + 400 * 86400) /* ~13 months */
#define AT (NB + 86400)

static tes_cert_template root_tpl(const char *cn)
{
    tes_cert_template t = {0};
    t.common_name = cn;
    t.country = "UT";
    t.not_before = NB - 86400;
    t.not_after = NA + 10 * 365 * 86400LL;
    t.is_ca = true;
    t.path_len = 0;
    t.key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN;
    return t;
}

static tes_cert_template ds_tpl(const char *cn)
{
    tes_cert_template t = {0};
    t.common_name = cn;
    t.country = "UT";
    t.not_before = NB;
    t.not_after = NA;
    t.is_ca = false;
    t.path_len = -1;
    t.key_usage = TES_KU_DIGITAL_SIGNATURE;
    t.eku_oid = TES_OID_EKU_MDL_DS;
    return t;
}

typedef struct pki {
    tes_key *root_key, *ds_key, *other_key;
    tes_cert *root;
} pki;

static bool pki_new(pki *p, const char *root_cn)
{
    memset(p, 0, sizeof *p);
    tes_cert_template rt = root_tpl(root_cn);
    return tes_key_generate(TES_CURVE_P256, &p->root_key) == TES_OK &&
           tes_key_generate(TES_CURVE_P256, &p->ds_key) == TES_OK &&
           tes_key_generate(TES_CURVE_P256, &p->other_key) == TES_OK &&
           tes_cert_create(&rt, p->root_key, NULL, p->root_key, &p->root) == TES_OK;
}

static void pki_free(pki *p)
{
    tes_key_free(p->root_key);
    tes_key_free(p->ds_key);
    tes_key_free(p->other_key);
    tes_cert_free(p->root);
}

TEST(synthetic_ds_breaks_one_thing)
{
    pki p;
    REQUIRE(pki_new(&p, "synthetic iaca"));
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, p.root) == TES_OK);

    /* tes_cert_create refuses an issuer key that does not match the issuer
     * certificate, so "signed by another key" is made two ways: a signature
     * byte flipped (AKI and names still point at the trusted root: CHAIN_SIG),
     * and an impostor root of the same names but another key, whose SKI the
     * DS's AKI then carries (not the trusted root's key: CHAIN_UNTRUSTED). */
    tes_cert *impostor = NULL;
    tes_cert_template it = root_tpl("synthetic iaca");
    REQUIRE(tes_cert_create(&it, p.other_key, NULL, p.other_key, &impostor) == TES_OK);
    enum {
        GOOD,
        NO_EKU,
        READER_EKU,
        IS_CA,
        NO_KU,
        KU_CERTSIGN,
        SIG_FLIPPED,
        IMPOSTOR,
        EXPIRES_LATER
    };
    struct {
        const char *name;
        int what;
        tes_err want;
    } cases[] = {
        {"good", GOOD, TES_OK},
        {"no EKU", NO_EKU, TES_ERR_DS_PROFILE},
        {"reader EKU", READER_EKU, TES_ERR_DS_PROFILE},
        {"DS is a CA", IS_CA, TES_ERR_DS_PROFILE},
        {"no keyUsage", NO_KU, TES_ERR_DS_PROFILE},
        {"keyUsage keyCertSign only", KU_CERTSIGN, TES_ERR_DS_PROFILE},
        {"signature byte flipped", SIG_FLIPPED, TES_ERR_CHAIN_SIG},
        {"signed by an impostor root of the same names", IMPOSTOR, TES_ERR_CHAIN_UNTRUSTED},
        {"good, valid longer than needed", EXPIRES_LATER, TES_OK},
    };
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
        tes_cert_template t = ds_tpl("synthetic ds");
        const tes_key *signer = p.root_key;
        const tes_cert *issuer = p.root;
        switch (cases[j].what) {
        case NO_EKU:
            t.eku_oid = NULL;
            break;
        case READER_EKU:
            t.eku_oid = TES_OID_EKU_MDL_READER;
            break;
        case IS_CA:
            t.is_ca = true;
            t.key_usage |= TES_KU_KEY_CERT_SIGN;
            break;
        case NO_KU:
            t.key_usage = 0;
            break;
        case KU_CERTSIGN:
            t.key_usage = TES_KU_KEY_CERT_SIGN;
            break;
        case IMPOSTOR:
            signer = p.other_key;
            issuer = impostor;
            break;
        case EXPIRES_LATER:
            t.not_after = NA + 86400;
            break;
        }
        tes_cert *ds = NULL;
        tes_err made = tes_cert_create(&t, p.ds_key, issuer, signer, &ds);
        if (made != TES_OK)
            fprintf(stderr, "    case '%s': cannot create: %s\n", cases[j].name, tes_err_message());
        CHECK_ERR(made, TES_OK);
        if (made != TES_OK)
            continue;
        tes_buf der = {0};
        tes_buf_append(&der, tes_cert_der(ds).ptr, tes_cert_der(ds).len);
        REQUIRE(!der.failed);
        if (cases[j].what == SIG_FLIPPED)
            der.ptr[der.len - 1] ^= 0x01; /* last byte of the ECDSA s value */
        tes_bytes chain = tes_buf_bytes(&der);
        tes_trust_result r;
        tes_err got = tes_trust_validate(s, TES_PROFILE_DS, &chain, 1, AT, &r);
        if (got != cases[j].want)
            fprintf(stderr, "    case '%s': %s (%s)\n", cases[j].name, tes_err_name(got),
                    tes_err_message());
        CHECK_ERR(got, cases[j].want);
        /* Same answer the second time (cached or not). */
        CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, &chain, 1, AT, &r), cases[j].want);
        CHECK_EQ_INT(r.from_cache, cases[j].want == TES_OK);
        tes_buf_free(&der);
        tes_cert_free(ds);
    }
    tes_cert_free(impostor);
    tes_trust_store_free(s);
    pki_free(&p);
}

TEST(synthetic_root_profile)
{
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    struct {
        const char *name;
        uint32_t ku;
        bool ca;
        int path_len;
        tes_err want;
    } cases[] = {
        {"good", TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN, true, 0, TES_OK},
        {"good, no pathLen", TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN, true, -1, TES_OK},
        {"no keyCertSign", TES_KU_CRL_SIGN | TES_KU_DIGITAL_SIGNATURE, true, 0,
         TES_ERR_IACA_PROFILE},
        {"no cRLSign", TES_KU_KEY_CERT_SIGN, true, 0, TES_ERR_IACA_PROFILE},
        {"no keyUsage", 0, true, 0, TES_ERR_IACA_PROFILE},
        {"not a CA", TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN, false, -1, TES_ERR_IACA_PROFILE},
        {"pathLen 1", TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN, true, 1, TES_ERR_IACA_PROFILE},
    };
    size_t good = 0;
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
        tes_cert_template t = root_tpl("root profile");
        t.key_usage = cases[j].ku;
        t.is_ca = cases[j].ca;
        t.path_len = cases[j].path_len;
        tes_cert *root = NULL;
        REQUIRE(tes_cert_create(&t, k, NULL, k, &root) == TES_OK);
        tes_err got = tes_trust_store_add(s, TES_PROFILE_DS, root);
        if (got != cases[j].want)
            fprintf(stderr, "    case '%s': %s (%s)\n", cases[j].name, tes_err_name(got),
                    tes_err_message());
        CHECK_ERR(got, cases[j].want);
        CHECK_ERR(tes_trust_check_root(root), cases[j].want);
        good += got == TES_OK;
        CHECK_EQ_INT(tes_trust_store_count(s), good);
        tes_cert_free(root);
    }
    tes_trust_store_free(s);
    tes_key_free(k);
}

TEST(synthetic_two_roots)
{
    pki a, b;
    REQUIRE(pki_new(&a, "first iaca"));
    REQUIRE(pki_new(&b, "second iaca"));
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, a.root) == TES_OK);

    tes_cert_template t = ds_tpl("ds of the second");
    tes_cert *ds = NULL;
    REQUIRE(tes_cert_create(&t, b.ds_key, b.root, b.root_key, &ds) == TES_OK);
    tes_trust_result r;
    CHECK_ERR(validate1(s, TES_PROFILE_DS, ds, AT, &r), TES_ERR_CHAIN_UNTRUSTED);
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, b.root) == TES_OK);
    CHECK_EQ_INT(tes_trust_store_count(s), 2);
    CHECK_ERR(validate1(s, TES_PROFILE_DS, ds, AT, &r), TES_OK);
    CHECK(r.root == b.root);

    /* A root with the same name as the first but another key (and SKI) does not
     * stand in for it: the DS of the real first root is untrusted. */
    tes_trust_store *s2 = NULL;
    REQUIRE(tes_trust_store_new(&s2) == TES_OK);
    tes_cert_template rt = root_tpl("first iaca");
    tes_cert *impostor = NULL;
    REQUIRE(tes_cert_create(&rt, a.other_key, NULL, a.other_key, &impostor) == TES_OK);
    REQUIRE(tes_trust_store_add(s2, TES_PROFILE_DS, impostor) == TES_OK);
    tes_cert *ds_a = NULL;
    tes_cert_template ta = ds_tpl("ds of the first");
    REQUIRE(tes_cert_create(&ta, a.ds_key, a.root, a.root_key, &ds_a) == TES_OK);
    CHECK_ERR(validate1(s2, TES_PROFILE_DS, ds_a, AT, &r), TES_ERR_CHAIN_UNTRUSTED);
    /* With both roots of that name, the right one is found. */
    REQUIRE(tes_trust_store_add(s2, TES_PROFILE_DS, a.root) == TES_OK);
    CHECK_ERR(validate1(s2, TES_PROFILE_DS, ds_a, AT, &r), TES_OK);
    CHECK(r.root == a.root);

    /* PEM blob of both roots. */
    tes_buf pem = {0};
    REQUIRE(tes_cert_to_pem(a.root, &pem) == TES_OK && tes_cert_to_pem(b.root, &pem) == TES_OK);
    tes_trust_store *s3 = NULL;
    REQUIRE(tes_trust_store_new(&s3) == TES_OK);
    CHECK_ERR(tes_trust_store_add_blob(s3, TES_PROFILE_DS, tes_buf_bytes(&pem)), TES_OK);
    CHECK_EQ_INT(tes_trust_store_count(s3), 2);
    CHECK_ERR(validate1(s3, TES_PROFILE_DS, ds, AT, &r), TES_OK);
    /* A blob with one root that fails the profile adds nothing. */
    tes_cert_template bad = root_tpl("bad root");
    bad.key_usage = TES_KU_DIGITAL_SIGNATURE;
    tes_cert *badroot = NULL;
    REQUIRE(tes_cert_create(&bad, a.other_key, NULL, a.other_key, &badroot) == TES_OK);
    tes_buf pem2 = {0};
    REQUIRE(tes_cert_to_pem(impostor, &pem2) == TES_OK &&
            tes_cert_to_pem(badroot, &pem2) == TES_OK);
    tes_trust_store *s4 = NULL;
    REQUIRE(tes_trust_store_new(&s4) == TES_OK);
    CHECK_ERR(tes_trust_store_add_blob(s4, TES_PROFILE_DS, tes_buf_bytes(&pem2)),
              TES_ERR_IACA_PROFILE);
    CHECK_EQ_INT(tes_trust_store_count(s4), 0);

    tes_trust_store_free(s4);
    tes_trust_store_free(s3);
    tes_trust_store_free(s2);
    tes_trust_store_free(s);
    tes_buf_free(&pem);
    tes_buf_free(&pem2);
    tes_cert_free(badroot);
    tes_cert_free(impostor);
    tes_cert_free(ds_a);
    tes_cert_free(ds);
    pki_free(&a);
    pki_free(&b);
}

TEST(synthetic_root_expires_first)
{
    /* A DS directly under an IACA may not outlive it (refused as a profile
     * violation); a root that expires before a longer intermediate still bounds
     * the window of the whole path, and the error names it. */
    tes_key *rk = NULL, *ik = NULL, *dk = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &rk) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &ik) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P384, &dk) == TES_OK);
    tes_cert_template rt = root_tpl("short iaca");
    rt.not_after = NB + 10 * 86400;
    rt.path_len = -1;
    tes_cert *root = NULL, *inter = NULL, *ds = NULL, *direct = NULL;
    REQUIRE(tes_cert_create(&rt, rk, NULL, rk, &root) == TES_OK);
    tes_cert_template it = root_tpl("long intermediate");
    REQUIRE(tes_cert_create(&it, ik, root, rk, &inter) == TES_OK);
    tes_cert_template t = ds_tpl("long ds");
    REQUIRE(tes_cert_create(&t, dk, inter, ik, &ds) == TES_OK);
    REQUIRE(tes_cert_create(&t, dk, root, rk, &direct) == TES_OK);

    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, root) == TES_OK);
    tes_trust_result r;
    CHECK_ERR(validate1(s, TES_PROFILE_DS, direct, NB + 5 * 86400, &r), TES_ERR_DS_PROFILE);
    CHECK(strstr(tes_err_message(), "beyond its issuer") != NULL);

    tes_bytes chain[2] = {tes_cert_der(ds), tes_cert_der(inter)};
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 2, NB + 5 * 86400, &r), TES_OK);
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 2, NB + 20 * 86400, &r),
              TES_ERR_CERT_EXPIRED);
    CHECK(r.from_cache);
    CHECK(strstr(tes_err_message(), "IACA root '") != NULL &&
          strstr(tes_err_message(), "CN=short iaca") != NULL);
    /* Before the DS (the later notBefore) is valid: the DS is named. */
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 2, NB - 10, &r),
              TES_ERR_CERT_NOT_YET_VALID);
    CHECK(strstr(tes_err_message(), "document signer '") != NULL &&
          strstr(tes_err_message(), "CN=long ds") != NULL);
    /* Before the root is valid. */
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 2, NB - 2 * 86400, &r),
              TES_ERR_CERT_NOT_YET_VALID);

    tes_trust_store_free(s);
    tes_cert_free(direct);
    tes_cert_free(ds);
    tes_cert_free(inter);
    tes_cert_free(root);
    tes_key_free(rk);
    tes_key_free(ik);
    tes_key_free(dk);
}

TEST(synthetic_intermediate)
{
    tes_key *rk = NULL, *ik = NULL, *dk = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P384, &rk) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &ik) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &dk) == TES_OK);

    for (int pl = -1; pl <= 0; pl++) {
        tes_cert_template rt = root_tpl("root with intermediates");
        rt.path_len = pl;
        tes_cert *root = NULL, *inter = NULL, *ds = NULL;
        REQUIRE(tes_cert_create(&rt, rk, NULL, rk, &root) == TES_OK);
        tes_cert_template it = root_tpl("intermediate");
        REQUIRE(tes_cert_create(&it, ik, root, rk, &inter) == TES_OK);
        tes_cert_template t = ds_tpl("ds under intermediate");
        REQUIRE(tes_cert_create(&t, dk, inter, ik, &ds) == TES_OK);

        tes_trust_store *s = NULL;
        REQUIRE(tes_trust_store_new(&s) == TES_OK);
        REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, root) == TES_OK);
        tes_trust_result r;
        tes_bytes chain[3] = {tes_cert_der(ds), tes_cert_der(inter), tes_cert_der(root)};
        CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 1, AT, &r), TES_ERR_CHAIN_UNTRUSTED);
        tes_err want = pl < 0 ? TES_OK : TES_ERR_CHAIN_UNTRUSTED;
        CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 2, AT, &r), want);
        CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, chain, 3, AT, &r), want);
        if (pl < 0) {
            CHECK(r.root == root);
            /* An intermediate sharing the root's bytes is the root itself: the DS
             * was not issued by it. */
            tes_bytes fake[2] = {tes_cert_der(ds), tes_cert_der(root)};
            CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, fake, 2, AT, &r),
                      TES_ERR_CHAIN_UNTRUSTED);
        }
        tes_trust_store_free(s);
        tes_cert_free(ds);
        tes_cert_free(inter);
        tes_cert_free(root);
    }
    tes_key_free(rk);
    tes_key_free(ik);
    tes_key_free(dk);
}

/* ------------------------------------------------------------------ cache */

TEST(cache_eviction_keeps_borrowed_leaf)
{
    pki p;
    REQUIRE(pki_new(&p, "busy iaca"));
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, p.root) == TES_OK);

    enum { N = 1100 }; /* more than the cache holds */
    tes_cert *first = NULL;
    const tes_cert *first_leaf = NULL;
    tes_cert_template t = ds_tpl("many ds");
    REQUIRE(tes_cert_create(&t, p.ds_key, p.root, p.root_key, &first) == TES_OK);
    tes_trust_result r;
    REQUIRE(validate1(s, TES_PROFILE_DS, first, AT, &r) == TES_OK);
    first_leaf = r.leaf;
    int fails = 0;
    for (int j = 1; j < N; j++) {
        tes_cert *ds = NULL; /* a fresh random serial each time */
        REQUIRE(tes_cert_create(&t, p.ds_key, p.root, p.root_key, &ds) == TES_OK);
        fails += validate1(s, TES_PROFILE_DS, ds, AT, &r) != TES_OK;
        tes_cert_free(ds);
    }
    CHECK_EQ_INT(fails, 0);
    /* The first entry was evicted: validated cold again, yet the borrowed
     * leaf of the first call is still alive. */
    CHECK_ERR(validate1(s, TES_PROFILE_DS, first, AT, &r), TES_OK);
    CHECK(!r.from_cache);
    CHECK(tes_bytes_eq(tes_cert_der(first_leaf), tes_cert_der(first)));
    CHECK_ERR(validate1(s, TES_PROFILE_DS, first, AT, &r), TES_OK);
    CHECK(r.from_cache);
    tes_cert_free(first);
    tes_trust_store_free(s);
    pki_free(&p);
}

typedef struct thread_arg {
    tes_trust_store *s;
    tes_cert **certs;
    size_t n;
    int fails;
} thread_arg;

static void *thread_main(void *v)
{
    thread_arg *a = v;
    for (int round = 0; round < 50; round++) {
        for (size_t j = 0; j < a->n; j++) {
            tes_trust_result r;
            tes_bytes der = tes_cert_der(a->certs[j]);
            if (tes_trust_validate(a->s, TES_PROFILE_DS, &der, 1, AT, &r) != TES_OK ||
                !tes_bytes_eq(tes_cert_der(r.leaf), der))
                a->fails++;
        }
    }
    return NULL;
}

TEST(cache_threads)
{
    pki p;
    REQUIRE(pki_new(&p, "threaded iaca"));
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, p.root) == TES_OK);
    enum { NC = 16, NT = 4 };
    tes_cert *certs[NC];
    tes_cert_template t = ds_tpl("threaded ds");
    for (int j = 0; j < NC; j++)
        REQUIRE(tes_cert_create(&t, p.ds_key, p.root, p.root_key, &certs[j]) == TES_OK);
    pthread_t th[NT];
    thread_arg args[NT];
    for (int j = 0; j < NT; j++) {
        args[j] = (thread_arg){s, certs, NC, 0};
        REQUIRE(pthread_create(&th[j], NULL, thread_main, &args[j]) == 0);
    }
    int fails = 0;
    for (int j = 0; j < NT; j++) {
        pthread_join(th[j], NULL);
        fails += args[j].fails;
    }
    CHECK_EQ_INT(fails, 0);
    for (int j = 0; j < NC; j++)
        tes_cert_free(certs[j]);
    tes_trust_store_free(s);
    pki_free(&p);
}

/* ------------------------------------------------------------------ vendor attestation */

/* vendor root (pathLen 1, no IACA shape needed) -> attestation CA -> leaves */
typedef struct vendor_pki {
    tes_key *root_key, *att_key, *leaf_key;
    tes_cert *root, *att, *attested, *signer;
    tes_buf roots; /* PEM */
} vendor_pki;

static tes_cert_template vendor_tpl(const char *cn, bool ca, int path_len, uint32_t ku)
{
    tes_cert_template t = {0};
    t.common_name = cn;
    t.not_before = NB;
    t.not_after = NA;
    t.is_ca = ca;
    t.path_len = path_len;
    t.key_usage = ku;
    return t;
}

static bool vendor_new(vendor_pki *v)
{
    memset(v, 0, sizeof *v);
    static const uint8_t ext[] = {0x04, 0x01, 0xa0}; /* OCTET STRING around CBOR {} */
    tes_cert_template rt = vendor_tpl("chip vendor", true, 1, TES_KU_KEY_CERT_SIGN);
    rt.not_before = NB - 86400;
    rt.not_after = NA + 86400;
    tes_cert_template at = vendor_tpl("phone 1234", true, 0, TES_KU_KEY_CERT_SIGN);
    tes_cert_template lt = vendor_tpl("key 1", false, -1, TES_KU_DIGITAL_SIGNATURE);
    lt.extra_oid = TES_OID_KEY_ATTESTATION;
    lt.extra_value = TES_BYTES(ext, sizeof ext);
    tes_cert_template st = vendor_tpl("ka signer", false, -1, TES_KU_DIGITAL_SIGNATURE);
    st.eku_oid = TES_OID_KA_SIGNER;
    return tes_key_generate(TES_CURVE_P256, &v->root_key) == TES_OK &&
           tes_key_generate(TES_CURVE_P256, &v->att_key) == TES_OK &&
           tes_key_generate(TES_CURVE_P256, &v->leaf_key) == TES_OK &&
           tes_cert_create(&rt, v->root_key, NULL, v->root_key, &v->root) == TES_OK &&
           tes_cert_create(&at, v->att_key, v->root, v->root_key, &v->att) == TES_OK &&
           tes_cert_create(&lt, v->leaf_key, v->att, v->att_key, &v->attested) == TES_OK &&
           tes_cert_create(&st, v->leaf_key, v->att, v->att_key, &v->signer) == TES_OK &&
           tes_cert_to_pem(v->root, &v->roots) == TES_OK;
}

static void vendor_free(vendor_pki *v)
{
    tes_key_free(v->root_key);
    tes_key_free(v->att_key);
    tes_key_free(v->leaf_key);
    tes_cert_free(v->root);
    tes_cert_free(v->att);
    tes_cert_free(v->attested);
    tes_cert_free(v->signer);
    tes_buf_free(&v->roots);
}

#define MSG_HAS(s) CHECK(strstr(tes_err_message(), (s)) != NULL)

TEST(vendor_attestation_profiles)
{
    vendor_pki v;
    REQUIRE(vendor_new(&v));
    const tes_trust_profile KEY = TES_PROFILE_VENDOR_ATTESTED_KEY,
                            SIGNER = TES_PROFILE_VENDOR_KA_SIGNER;
    tes_bytes roots = tes_buf_bytes(&v.roots);
    tes_cert *key_chain[3] = {v.attested, v.att, v.root};
    tes_cert *signer_chain[2] = {v.signer, v.att};

    /* each leaf under its own profile, with or without the root in the chain */
    CHECK_ERR(tes_trust_validate_vendor(KEY, key_chain, 2, roots, AT), TES_OK);
    CHECK_ERR(tes_trust_validate_vendor(KEY, key_chain, 3, roots, AT), TES_OK);
    CHECK_ERR(tes_trust_validate_vendor(SIGNER, signer_chain, 2, roots, AT), TES_OK);
    CHECK_ERR(tes_trust_check_leaf(v.attested, KEY, NULL), TES_OK);
    CHECK_ERR(tes_trust_check_leaf(v.signer, SIGNER, v.att), TES_OK);
    /* ... and not under the other's */
    CHECK_ERR(tes_trust_validate_vendor(SIGNER, key_chain, 2, roots, AT), TES_ERR_ATTESTATION);
    MSG_HAS("certifies a holder's attested key");
    CHECK_ERR(tes_trust_validate_vendor(KEY, signer_chain, 2, roots, AT), TES_ERR_ATTESTATION);
    MSG_HAS("no key attestation extension");
    /* a CA is no leaf */
    tes_cert *ca_leaf[2] = {v.att, v.root};
    CHECK_ERR(tes_trust_validate_vendor(SIGNER, ca_leaf, 2, roots, AT), TES_ERR_ATTESTATION);
    MSG_HAS("is a CA");

    /* time: every certificate, the root too */
    CHECK_ERR(tes_trust_validate_vendor(KEY, key_chain, 2, roots, NB - 60), TES_ERR_ATTESTATION);
    MSG_HAS("attested key certificate \"key 1\" is not yet valid");
    CHECK_ERR(tes_trust_validate_vendor(SIGNER, signer_chain, 2, roots, NA + 60),
              TES_ERR_ATTESTATION);
    MSG_HAS("the signer certificate \"ka signer\" has expired");

    /* another vendor's root */
    vendor_pki w;
    REQUIRE(vendor_new(&w));
    CHECK_ERR(tes_trust_validate_vendor(KEY, key_chain, 2, tes_buf_bytes(&w.roots), AT),
              TES_ERR_ATTESTATION);
    MSG_HAS("does not lead to a trusted vendor root");
    /* several roots in one blob: one of them is enough */
    tes_buf both = {0};
    tes_buf_append(&both, w.roots.ptr, w.roots.len);
    tes_buf_append(&both, v.roots.ptr, v.roots.len);
    CHECK_ERR(tes_trust_validate_vendor(KEY, key_chain, 2, tes_buf_bytes(&both), AT), TES_OK);
    /* a link that does not hold: the leaf of w under v's attestation CA */
    tes_cert *mixed[2] = {w.attested, v.att};
    CHECK_ERR(tes_trust_validate_vendor(KEY, mixed, 2, roots, AT), TES_ERR_ATTESTATION);
    MSG_HAS("attestation certificate 0 is not issued by certificate 1");
    /* an issuer that may not sign certificates */
    tes_cert_template nt = vendor_tpl("not a CA", false, -1, TES_KU_DIGITAL_SIGNATURE);
    tes_cert *not_ca = NULL, *below = NULL;
    REQUIRE(tes_cert_create(&nt, v.att_key, v.root, v.root_key, &not_ca) == TES_OK);
    tes_cert_template lt = vendor_tpl("ka signer 2", false, -1, TES_KU_DIGITAL_SIGNATURE);
    REQUIRE(tes_cert_create(&lt, v.leaf_key, not_ca, v.att_key, &below) == TES_OK);
    tes_cert *bad_link[2] = {below, not_ca};
    CHECK_ERR(tes_trust_validate_vendor(SIGNER, bad_link, 2, roots, AT), TES_ERR_ATTESTATION);
    MSG_HAS("attestation certificate 1 may not issue certificates");

    /* vendor roots are handed over per call: no store takes them */
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    CHECK_ERR(tes_trust_store_add(s, KEY, v.root), TES_ERR_ARG);
    tes_bytes der = tes_cert_der(v.attested);
    CHECK_ERR(tes_trust_validate(s, KEY, &der, 1, AT, NULL), TES_ERR_ARG);
    CHECK_ERR(tes_trust_validate_vendor(TES_PROFILE_DS, key_chain, 2, roots, AT), TES_ERR_ARG);
    CHECK_ERR(tes_trust_validate_vendor(KEY, key_chain, 0, roots, AT), TES_ERR_ARG);
    CHECK(tes_trust_validate_vendor(KEY, key_chain, 2, TES_BYTES_STR("not a certificate"), AT) !=
          TES_OK);
    MSG_HAS("vendor roots: ");

    tes_trust_store_free(s);
    tes_cert_free(not_ca);
    tes_cert_free(below);
    tes_buf_free(&both);
    vendor_free(&w);
    vendor_free(&v);
}
