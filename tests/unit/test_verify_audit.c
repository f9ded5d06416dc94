/*
 * The ISO 18013-5 audit of the verifier (docs/ISO18013-5-AUDIT.md): for every
 * constraint the standard states on what tes_mdoc_verify parses, a response
 * correct in every way but that one, and the one error code it must give.
 *
 * Responses are built here from parts (items, MSO, issuerAuth, deviceSigned),
 * each signed correctly, so that a test changes exactly one thing. Certificates
 * come from tes_cert_create, and where it cannot make the flaw (critical
 * extensions, an RSA root) from OpenSSL directly.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "../../src/mdoc/mdoc_internal.h"
#include "tessera/mdoc.h"
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

static const int64_t T0 = 1767225600; /* 2026-01-01T00:00:00Z */
#define DAY 86400
#define NS_MDL "org.iso.18013.5.1"
#define NS_PID "eu.europa.ec.eudi.pid.1"

/* [null, null, ["tessera-test", h'0102']] */
static const uint8_t transcript[] = {0x83, 0xf6, 0xf6, 0x82, 0x6c, 't', 'e', 's', 's', 'e', 'r',
                                     'a', '-', 't', 'e', 's', 't', 0x42, 0x01, 0x02};

/* ---------------------------------------------------------------- the authority */

typedef struct pki {
    tes_key *iaca_key, *ds_key, *device;
    tes_cert *iaca;
    tes_trust_store *trust;
} pki;

static bool pki_make(pki *p)
{
    memset(p, 0, sizeof(*p));
    if (tes_key_generate(TES_CURVE_P256, &p->iaca_key) != TES_OK ||
        tes_key_generate(TES_CURVE_P256, &p->ds_key) != TES_OK ||
        tes_key_generate(TES_CURVE_P256, &p->device) != TES_OK)
        return false;
    tes_cert_template t = {.common_name = "Audit IACA", .country = "UT",
                           .not_before = T0 - 10 * DAY, .not_after = T0 + 3650 * DAY,
                           .is_ca = true, .path_len = 0,
                           .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN};
    return tes_cert_create(&t, p->iaca_key, NULL, p->iaca_key, &p->iaca) == TES_OK &&
           tes_trust_store_new(&p->trust) == TES_OK &&
           tes_trust_store_add(p->trust, TES_PROFILE_DS, p->iaca) == TES_OK;
}

static void pki_free(pki *p)
{
    tes_key_free(p->iaca_key);
    tes_key_free(p->ds_key);
    tes_key_free(p->device);
    tes_cert_free(p->iaca);
    tes_trust_store_free(p->trust);
}

typedef struct ds_opts {
    const char *country; /* NULL: "UT"; "" : none */
    const char *state;
    int64_t nb, na;      /* 0: defaults */
} ds_opts;

static tes_cert *make_ds(const pki *p, ds_opts o)
{
    tes_cert_template t = {.common_name = "Audit DS",
                           .country = o.country == NULL ? "UT" : *o.country ? o.country : NULL,
                           .state = o.state,
                           .not_before = o.nb ? o.nb : T0 - 10 * DAY,
                           .not_after = o.na ? o.na : T0 + 1000 * DAY, .path_len = -1,
                           .key_usage = TES_KU_DIGITAL_SIGNATURE, .eku_oid = TES_OID_EKU_MDL_DS};
    tes_cert *c = NULL;
    if (tes_cert_create(&t, p->ds_key, p->iaca, p->iaca_key, &c) != TES_OK) {
        fprintf(stderr, "  cannot create DS: %s\n", tes_err_message());
        return NULL;
    }
    return c;
}

/* ---------------------------------------------------------------- the response */

enum vkind { V_TEXT, V_FULLDATE, V_TDATE, V_TRUE };

typedef struct item {
    const char *ns;
    uint64_t id;
    const char *name;
    enum vkind kind;
    const char *value;
    size_t random_len; /* 0: 16 */
    bool no_value;     /* elementValue left out */
} item;

typedef void (*hook)(tes_cbor_enc *e);

typedef struct spec {
    const char *doctype;       /* NULL: mDL */
    const item *items;         /* NULL: the default mDL items */
    size_t n_items;
    const char *resp_version;  /* NULL: "1.0" */
    const char *mso_version;   /* NULL: "1.0" */
    const char *t_signed, *t_from, *t_until, *t_expected; /* NULL: defaults (no expectedUpdate) */
    bool signed_untagged;      /* signed as plain text, not tag 0 */
    /* valueDigests */
    bool extra_digest;         /* one more digest in the first namespace */
    uint64_t extra_id;
    size_t extra_len;
    bool empty_ns_digests;     /* one more namespace with an empty DigestIDs map */
    bool empty_value_digests;  /* valueDigests = {} */
    uint64_t item0_mso_id;     /* non-zero: the first item's digest is listed under this id */
    /* deviceKeyInfo */
    bool no_device_key;
    hook key_auth, key_info;   /* written as keyAuthorizations / keyInfo values */
    /* document and response */
    hook errors, document_errors, device_ns;
    bool empty_documents;
    bool device_attached;      /* deviceSignature with its payload embedded */
    bool device_both;          /* deviceAuth with deviceSignature and deviceMac */
    bool mac_hmac384;          /* deviceAuth: a deviceMac whose alg is HMAC 384/384 (6) */
    bool empty_item_array;     /* nameSpaces: {ns: []} */
    bool doctype_not_text;     /* Document docType as an integer */
    bool no_issuer_auth;       /* issuerSigned without issuerAuth */
    const tes_cert *ds;
} spec;

static const item mdl_items[] = {
    {NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 0, false},
    {NS_MDL, 7, "issuing_country", V_TEXT, "UT", 0, false},
    {NS_MDL, 9, "birth_date", V_FULLDATE, "1964-08-12", 0, false},
    {NS_MDL, 12, "age_over_18", V_TRUE, NULL, 0, false},
};

static void enc_value(tes_cbor_enc *e, const item *it)
{
    switch (it->kind) {
    case V_TEXT:
        tes_cbor_enc_cstr(e, it->value);
        break;
    case V_FULLDATE:
        tes_cbor_enc_tag(e, 1004);
        tes_cbor_enc_cstr(e, it->value);
        break;
    case V_TDATE:
        tes_cbor_enc_tag(e, 0);
        tes_cbor_enc_cstr(e, it->value);
        break;
    case V_TRUE:
        tes_cbor_enc_bool(e, true);
        break;
    }
}

static void enc_tdate(tes_cbor_enc *e, const char *t, bool tagged)
{
    if (tagged)
        tes_cbor_enc_tag(e, 0);
    tes_cbor_enc_cstr(e, t);
}

/* Builds the whole response; false when something could not be built. */
static bool build(const pki *p, const spec *s, tes_buf *out)
{
    const item *items = s->items ? s->items : mdl_items;
    size_t n = s->items ? s->n_items : sizeof(mdl_items) / sizeof(mdl_items[0]);
    const char *doctype = s->doctype ? s->doctype : "org.iso.18013.5.1.mDL";
    /* on the heap: a namespace may hold thousands of items */
    tes_buf *ib = calloc(n ? n : 1, sizeof(*ib));
    uint8_t (*dg)[32] = calloc(n ? n : 1, sizeof(*dg));
    bool *dup = calloc(n ? n : 1, sizeof(*dup));
    bool ok = ib != NULL && dg != NULL && dup != NULL;
    /* items: 24(bstr(IssuerSignedItem)) and their digests */
    for (size_t i = 0; ok && i < n; i++) {
        tes_buf raw = {0};
        tes_cbor_enc e = {.out = &raw};
        uint8_t rnd[32]; /* by digestID: an item given twice is the same bytes twice */
        memset(rnd, (int)(0xA0 + items[i].id % 32), sizeof(rnd));
        tes_cbor_enc_map(&e, 4 - items[i].no_value);
        tes_cbor_enc_cstr(&e, "digestID");
        tes_cbor_enc_uint(&e, items[i].id);
        tes_cbor_enc_cstr(&e, "random");
        tes_cbor_enc_bytes(&e, rnd, items[i].random_len ? items[i].random_len : 16);
        tes_cbor_enc_cstr(&e, "elementIdentifier");
        tes_cbor_enc_cstr(&e, items[i].name);
        if (!items[i].no_value) {
            tes_cbor_enc_cstr(&e, "elementValue");
            enc_value(&e, &items[i]);
        }
        tes_cbor_enc w = {.out = &ib[i]};
        tes_cbor_enc_tag(&w, 24);
        tes_cbor_enc_bytes(&w, raw.ptr, raw.len);
        ok = tes_cbor_enc_finish(&e) == TES_OK && tes_cbor_enc_finish(&w) == TES_OK &&
             tes_digest(TES_HASH_SHA256, tes_buf_bytes(&ib[i]), dg[i]) == TES_OK;
        tes_buf_free(&raw);
    }
    /* namespaces in order of first appearance (items are grouped by namespace) */
    const char *nss[4];
    size_t first[5], n_ns = 0;
    for (size_t i = 0; ok && i < n; i++)
        if (n_ns == 0 || strcmp(nss[n_ns - 1], items[i].ns) != 0) {
            ok = n_ns < 4;
            if (ok) {
                nss[n_ns] = items[i].ns;
                first[n_ns++] = i;
            }
        }
    first[n_ns] = n;

    /* the MSO */
    tes_buf mso = {0}, payload = {0}, devns = {0}, dab = {0};
    tes_cbor_enc m = {.out = &mso};
    tes_cbor_enc_map(&m, 6);
    tes_cbor_enc_cstr(&m, "version");
    tes_cbor_enc_cstr(&m, s->mso_version ? s->mso_version : "1.0");
    tes_cbor_enc_cstr(&m, "digestAlgorithm");
    tes_cbor_enc_cstr(&m, "SHA-256");
    tes_cbor_enc_cstr(&m, "valueDigests");
    if (s->empty_value_digests) {
        tes_cbor_enc_map(&m, 0);
    } else {
        tes_cbor_enc_map(&m, n_ns + s->empty_ns_digests);
        for (size_t k = 0; k < n_ns; k++) {
            bool extra = s->extra_digest && k == 0;
            /* one digest per digestID (an item disclosed twice has one); items with the
             * same digestID are given next to each other */
            size_t uniq = 0;
            for (size_t i = first[k]; i < first[k + 1]; i++) {
                dup[i] = i > first[k] && items[i - 1].id == items[i].id;
                uniq += !dup[i];
            }
            tes_cbor_enc_cstr(&m, nss[k]);
            tes_cbor_enc_map(&m, uniq + extra);
            for (size_t i = first[k]; i < first[k + 1]; i++)
                if (!dup[i]) {
                    tes_cbor_enc_uint(&m, i == 0 && s->item0_mso_id ? s->item0_mso_id
                                                                    : items[i].id);
                    tes_cbor_enc_bytes(&m, dg[i], 32);
                }
            if (extra) {
                uint8_t z[64] = {0};
                tes_cbor_enc_uint(&m, s->extra_id);
                tes_cbor_enc_bytes(&m, z, s->extra_len);
            }
        }
        if (s->empty_ns_digests) {
            tes_cbor_enc_cstr(&m, "org.example.empty");
            tes_cbor_enc_map(&m, 0);
        }
    }
    tes_cbor_enc_cstr(&m, "deviceKeyInfo");
    tes_cbor_enc_map(&m, !s->no_device_key + (s->key_auth != NULL) + (s->key_info != NULL));
    if (!s->no_device_key) {
        tes_cbor_enc_cstr(&m, "deviceKey");
        tes_cose_key_write(&m, p->device);
    }
    if (s->key_auth) {
        tes_cbor_enc_cstr(&m, "keyAuthorizations");
        s->key_auth(&m);
    }
    if (s->key_info) {
        tes_cbor_enc_cstr(&m, "keyInfo");
        s->key_info(&m);
    }
    tes_cbor_enc_cstr(&m, "docType");
    tes_cbor_enc_cstr(&m, doctype);
    tes_cbor_enc_cstr(&m, "validityInfo");
    tes_cbor_enc_map(&m, 3 + (s->t_expected != NULL));
    tes_cbor_enc_cstr(&m, "signed");
    enc_tdate(&m, s->t_signed ? s->t_signed : "2025-12-31T23:00:00Z", !s->signed_untagged);
    tes_cbor_enc_cstr(&m, "validFrom");
    enc_tdate(&m, s->t_from ? s->t_from : "2025-12-31T23:00:00Z", true);
    tes_cbor_enc_cstr(&m, "validUntil");
    enc_tdate(&m, s->t_until ? s->t_until : "2026-12-31T00:00:00Z", true);
    if (s->t_expected) {
        tes_cbor_enc_cstr(&m, "expectedUpdate");
        enc_tdate(&m, s->t_expected, true);
    }
    ok = ok && tes_cbor_enc_finish(&m) == TES_OK;
    tes_cbor_enc pe = {.out = &payload};
    tes_cbor_enc_tag(&pe, 24);
    tes_cbor_enc_bytes(&pe, mso.ptr, mso.len);
    ok = ok && tes_cbor_enc_finish(&pe) == TES_OK;

    /* DeviceNameSpacesBytes and the device signature over DeviceAuthentication */
    tes_buf dn = {0};
    tes_cbor_enc de = {.out = &dn};
    if (s->device_ns)
        s->device_ns(&de);
    else
        tes_cbor_enc_map(&de, 0);
    tes_cbor_enc dw = {.out = &devns};
    tes_cbor_enc_tag(&dw, 24);
    tes_cbor_enc_bytes(&dw, dn.ptr, dn.len);
    tes_buf_free(&dn);
    ok = ok && tes_cbor_enc_finish(&de) == TES_OK && tes_cbor_enc_finish(&dw) == TES_OK;
    mdoc_device_auth_bytes(&dab, TES_BYTES(transcript, sizeof(transcript)),
                           TES_BYTES(doctype, strlen(doctype)), tes_buf_bytes(&devns));
    ok = ok && !dab.failed;

    /* the DeviceResponse */
    tes_signer issuer = tes_signer_from_key(p->ds_key), device = tes_signer_from_key(p->device);
    tes_bytes chain = tes_cert_der(s->ds);
    tes_cbor_enc r = {.out = out};
    tes_cbor_enc_map(&r, 3 + (s->document_errors != NULL));
    tes_cbor_enc_cstr(&r, "version");
    tes_cbor_enc_cstr(&r, s->resp_version ? s->resp_version : "1.0");
    tes_cbor_enc_cstr(&r, "documents");
    if (s->empty_documents) {
        tes_cbor_enc_array(&r, 0);
    } else {
        tes_cbor_enc_array(&r, 1);
        tes_cbor_enc_map(&r, 3 + (s->errors != NULL));
        tes_cbor_enc_cstr(&r, "docType");
        if (s->doctype_not_text)
            tes_cbor_enc_uint(&r, 1);
        else
            tes_cbor_enc_cstr(&r, doctype);
        tes_cbor_enc_cstr(&r, "issuerSigned");
        tes_cbor_enc_map(&r, 2 - s->no_issuer_auth);
        tes_cbor_enc_cstr(&r, "nameSpaces");
        tes_cbor_enc_map(&r, n_ns + s->empty_item_array);
        for (size_t k = 0; k < n_ns; k++) {
            tes_cbor_enc_cstr(&r, nss[k]);
            tes_cbor_enc_array(&r, first[k + 1] - first[k]);
            for (size_t i = first[k]; i < first[k + 1]; i++)
                tes_cbor_enc_raw(&r, tes_buf_bytes(&ib[i]));
        }
        if (s->empty_item_array) {
            tes_cbor_enc_cstr(&r, "org.example.nothing");
            tes_cbor_enc_array(&r, 0);
        }
        if (!s->no_issuer_auth) {
            tes_cbor_enc_cstr(&r, "issuerAuth");
            tes_cose_sign1_write(&r, &issuer, tes_buf_bytes(&payload),
                                 &(tes_cose_opts){.x5chain = &chain, .chain_len = 1});
        }
        tes_cbor_enc_cstr(&r, "deviceSigned");
        tes_cbor_enc_map(&r, 2);
        tes_cbor_enc_cstr(&r, "nameSpaces");
        tes_cbor_enc_raw(&r, tes_buf_bytes(&devns));
        tes_cbor_enc_cstr(&r, "deviceAuth");
        tes_cbor_enc_map(&r, 1 + s->device_both);
        if (s->mac_hmac384) {
            /* [<<{1: 6}>>, {}, nil, tag]: refused on its algorithm before any key is needed */
            static const uint8_t prot[] = {0xa1, 0x01, 0x06};
            uint8_t tag[48] = {0};
            tes_cbor_enc_cstr(&r, "deviceMac");
            tes_cbor_enc_array(&r, 4);
            tes_cbor_enc_bytes(&r, prot, sizeof(prot));
            tes_cbor_enc_map(&r, 0);
            tes_cbor_enc_null(&r);
            tes_cbor_enc_bytes(&r, tag, sizeof(tag));
        } else {
            tes_cbor_enc_cstr(&r, "deviceSignature");
            tes_cose_sign1_write(
                &r, &device, tes_buf_bytes(&dab),
                &(tes_cose_opts){.flags = s->device_attached ? 0u : TES_COSE_DETACHED});
        }
        if (s->device_both) {
            uint8_t k[32] = {0};
            tes_cbor_enc_cstr(&r, "deviceMac");
            tes_cose_mac0_write(&r, TES_BYTES(k, 32), tes_buf_bytes(&dab),
                                &(tes_cose_opts){.flags = TES_COSE_DETACHED});
        }
        if (s->errors) {
            tes_cbor_enc_cstr(&r, "errors");
            s->errors(&r);
        }
    }
    if (s->document_errors) {
        tes_cbor_enc_cstr(&r, "documentErrors");
        s->document_errors(&r);
    }
    tes_cbor_enc_cstr(&r, "status");
    tes_cbor_enc_uint(&r, 0);
    ok = ok && tes_cbor_enc_finish(&r) == TES_OK;
    for (size_t i = 0; ib != NULL && i < n; i++)
        tes_buf_free(&ib[i]);
    free(ib);
    free(dg);
    free(dup);
    tes_buf_free(&mso);
    tes_buf_free(&payload);
    tes_buf_free(&devns);
    tes_buf_free(&dab);
    return ok;
}

/* Builds and verifies at T0; checks the code and that the message names the rule. */
static void expect(const char *what, const pki *p, spec s, tes_err want, const char *needle)
{
    tes_cert *own = NULL;
    if (s.ds == NULL)
        s.ds = own = make_ds(p, (ds_opts){0});
    tes_buf resp = {0};
    bool built = s.ds != NULL && build(p, &s, &resp);
    if (!built)
        fprintf(stderr, "  case '%s': could not build: %s\n", what, tes_err_message());
    CHECK(built);
    if (built) {
        tes_mdoc_verify_opts o = {.trust = p->trust,
                                  .transcript = TES_BYTES(transcript, sizeof(transcript)),
                                  .at = T0};
        tes_mdoc_result r;
        tes_err e = tes_mdoc_verify(tes_buf_bytes(&resp), &o, &r);
        bool said = needle == NULL || strstr(tes_err_message(), needle) != NULL;
        if (e != want || !said)
            fprintf(stderr, "  case '%s': got %s (%s), want %s%s%s\n", what, tes_err_name(e),
                    e == TES_OK ? "" : tes_err_message(), tes_err_name(want),
                    needle ? " saying " : "", needle ? needle : "");
        CHECK_EQ_INT(e, want);
        CHECK(said);
        if (want != TES_OK)
            CHECK(r.n_docs == 0 && r.docs == NULL);
        tes_mdoc_result_free(&r);
    }
    tes_buf_free(&resp);
    tes_cert_free(own);
}

#define PKI(p) \
    pki p;     \
    REQUIRE(pki_make(&p))

/* ---------------------------------------------------------------- the correct response */

TEST(the_correct_response_verifies)
{
    PKI(p);
    expect("correct", &p, (spec){0}, TES_OK, NULL);
    pki_free(&p);
}

/* ---------------------------------------------------------------- issuing country (issue 9.9) */

TEST(ds_country_must_be_the_iacas)
{
    PKI(p);
    tes_cert *fr = make_ds(&p, (ds_opts){.country = "FR"});
    tes_cert *none = make_ds(&p, (ds_opts){.country = ""});
    REQUIRE(fr && none);
    /* the credential's issuing_country is not disclosed: only the certificates differ */
    static const item no_country[] = {{NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 0, false}};
    expect("DS C=FR under IACA C=UT", &p, (spec){.ds = fr, .items = no_country, .n_items = 1},
           TES_ERR_DS_COUNTRY, "countryName 'FR'");
    expect("DS without countryName", &p, (spec){.ds = none, .items = no_country, .n_items = 1},
           TES_ERR_DS_COUNTRY, "countryName ''");
    tes_cert_free(fr);
    tes_cert_free(none);
    pki_free(&p);
}

TEST(issuing_country_must_be_the_ds_country)
{
    PKI(p);
    static const item fr[] = {{NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 0, false},
                              {NS_MDL, 7, "issuing_country", V_TEXT, "FR", 0, false}};
    expect("mDL issuing_country FR, DS C=UT", &p, (spec){.items = fr, .n_items = 2},
           TES_ERR_ISSUING_COUNTRY, "countryName 'UT'");
    static const item lower[] = {{NS_MDL, 7, "issuing_country", V_TEXT, "ut", 0, false}};
    expect("mDL issuing_country 'ut'", &p, (spec){.items = lower, .n_items = 1},
           TES_ERR_ISSUING_COUNTRY, "issuing_country");
    static const item pid_fr[] = {{NS_PID, 3, "issuing_country", V_TEXT, "FR", 0, false}};
    expect("PID issuing_country FR", &p,
           (spec){.doctype = NS_PID, .items = pid_fr, .n_items = 1}, TES_ERR_ISSUING_COUNTRY,
           NS_PID "/issuing_country");
    static const item pid_ut[] = {{NS_PID, 3, "issuing_country", V_TEXT, "UT", 0, false}};
    expect("PID issuing_country UT", &p,
           (spec){.doctype = NS_PID, .items = pid_ut, .n_items = 1}, TES_OK, NULL);
    /* another namespace's element of that name is not the mDL's */
    static const item other[] = {{"org.example.x", 3, "issuing_country", V_TEXT, "FR", 0, false}};
    expect("issuing_country of another namespace", &p, (spec){.items = other, .n_items = 1},
           TES_OK, NULL);
    pki_free(&p);
}

TEST(issuing_jurisdiction_must_be_the_ds_state_when_it_has_one)
{
    PKI(p);
    tes_cert *bay = make_ds(&p, (ds_opts){.state = "Bavaria"});
    REQUIRE(bay);
    static const item bav[] = {{NS_MDL, 7, "issuing_country", V_TEXT, "UT", 0, false},
                               {NS_MDL, 8, "issuing_jurisdiction", V_TEXT, "Bavaria", 0, false}};
    static const item sax[] = {{NS_MDL, 7, "issuing_country", V_TEXT, "UT", 0, false},
                               {NS_MDL, 8, "issuing_jurisdiction", V_TEXT, "Saxony", 0, false}};
    expect("jurisdiction = ST", &p, (spec){.ds = bay, .items = bav, .n_items = 2}, TES_OK, NULL);
    expect("jurisdiction != ST", &p, (spec){.ds = bay, .items = sax, .n_items = 2},
           TES_ERR_ISSUING_JURISDICTION, "stateOrProvinceName 'Bavaria'");
    /* 18013-5 §7.2.1: only checked when the DS certificate has a stateOrProvinceName */
    expect("jurisdiction, DS without ST", &p, (spec){.items = sax, .n_items = 2}, TES_OK, NULL);
    tes_cert_free(bay);
    pki_free(&p);
}

/* ---------------------------------------------------------------- certificates (issue 9, Low) */

/* An X.509 certificate made with OpenSSL, for flaws tes_cert_create will not make. */
static tes_cert *ossl_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *cn, bool ca,
                           const char *crit_name, const char *crit_value, X509 **keep)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    tes_cert *out = NULL;
    bool ok = x && name && X509_set_version(x, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(x), 7) &&
              X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"UT", -1,
                                         -1, 0) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                         -1, 0) &&
              X509_set_subject_name(x, name) &&
              X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
              X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &(time_t){T0 - 5 * DAY}) &&
              X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &(time_t){T0 + 300 * DAY}) &&
              X509_set_pubkey(x, key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    const char *exts[][2] = {
        {"basicConstraints", ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE"},
        {"keyUsage", ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
        {"subjectKeyIdentifier", "hash"},
        {"authorityKeyIdentifier", issuer ? "keyid:always" : NULL},
        {"extendedKeyUsage", ca ? NULL : "critical,1.0.18013.5.1.2"},
        {crit_name, crit_value},
    };
    for (size_t i = 0; ok && i < sizeof(exts) / sizeof(exts[0]); i++) {
        if (exts[i][0] == NULL || exts[i][1] == NULL)
            continue;
        X509_EXTENSION *ext = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        ok = ext != NULL && X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(x, signer, EVP_sha256()) > 0;
    unsigned char *der = NULL;
    int len = ok ? i2d_X509(x, &der) : -1;
    if (len > 0 && tes_cert_parse(TES_BYTES(der, (size_t)len), &out) != TES_OK)
        out = NULL;
    OPENSSL_free(der);
    X509_NAME_free(name);
    if (keep && out)
        *keep = x;
    else
        X509_free(x);
    return out;
}

TEST(iaca_with_a_critical_extension_not_enforced_is_refused)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    REQUIRE(k != NULL);
    tes_cert *plain = ossl_cert(k, k, NULL, "plain iaca", true, NULL, NULL, NULL);
    tes_cert *nc = ossl_cert(k, k, NULL, "constrained iaca", true, "nameConstraints",
                             "critical,permitted;DNS:example.com", NULL);
    tes_cert *nc_soft = ossl_cert(k, k, NULL, "softly constrained iaca", true, "nameConstraints",
                                  "permitted;DNS:example.com", NULL);
    REQUIRE(plain && nc && nc_soft);
    CHECK_ERR(tes_trust_check_root(plain), TES_OK);
    /* OpenSSL knows nameConstraints, so it never flagged it; this library does not
     * enforce it, so a critical one must be refused */
    CHECK_ERR(tes_trust_check_root(nc), TES_ERR_IACA_PROFILE);
    CHECK(strstr(tes_err_message(), "critical extension 2.5.29.30") != NULL);
    CHECK_ERR(tes_trust_check_root(nc_soft), TES_OK); /* non-critical: may be ignored */
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    CHECK_ERR(tes_trust_store_add(s, TES_PROFILE_DS, nc), TES_ERR_IACA_PROFILE);
    CHECK_EQ_INT(tes_trust_store_count(s), 0);
    tes_trust_store_free(s);
    tes_cert_free(plain);
    tes_cert_free(nc);
    tes_cert_free(nc_soft);
    EVP_PKEY_free(k);
}

TEST(ds_with_a_critical_extension_not_enforced_is_refused)
{
    EVP_PKEY *rk = EVP_EC_gen("P-256"), *dk = EVP_EC_gen("P-256");
    REQUIRE(rk && dk);
    X509 *rx = NULL;
    tes_cert *root = ossl_cert(rk, rk, NULL, "iaca", true, NULL, NULL, &rx);
    REQUIRE(root && rx);
    tes_cert *good = ossl_cert(dk, rk, rx, "ds", false, NULL, NULL, NULL);
    tes_cert *bad = ossl_cert(dk, rk, rx, "ds", false, "policyConstraints",
                              "critical,requireExplicitPolicy:0", NULL);
    REQUIRE(good && bad);
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    REQUIRE(tes_trust_store_add(s, TES_PROFILE_DS, root) == TES_OK);
    tes_trust_result r;
    tes_bytes g = tes_cert_der(good), b = tes_cert_der(bad);
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, &g, 1, T0, &r), TES_OK);
    CHECK_ERR(tes_trust_validate(s, TES_PROFILE_DS, &b, 1, T0, &r), TES_ERR_DS_PROFILE);
    CHECK(strstr(tes_err_message(), "critical extension 2.5.29.36") != NULL);
    tes_trust_store_free(s);
    tes_cert_free(good);
    tes_cert_free(bad);
    tes_cert_free(root);
    X509_free(rx);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(dk);
}

TEST(rsa_iaca_is_refused)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    REQUIRE(k != NULL);
    tes_cert *root = ossl_cert(k, k, NULL, "rsa iaca", true, NULL, NULL, NULL);
    REQUIRE(root != NULL);
    CHECK_ERR(tes_trust_check_root(root), TES_ERR_IACA_PROFILE);
    CHECK(strstr(tes_err_message(), "elliptic-curve") != NULL);
    tes_trust_store *s = NULL;
    REQUIRE(tes_trust_store_new(&s) == TES_OK);
    CHECK_ERR(tes_trust_store_add(s, TES_PROFILE_DS, root), TES_ERR_IACA_PROFILE);
    tes_trust_store_free(s);
    tes_cert_free(root);
    EVP_PKEY_free(k);
}

TEST(ds_valid_beyond_its_iaca_is_refused)
{
    PKI(p);
    int64_t iaca_end = tes_cert_get_info(p.iaca)->not_after;
    tes_cert *last = make_ds(&p, (ds_opts){.na = iaca_end});
    tes_cert *beyond = make_ds(&p, (ds_opts){.na = iaca_end + 1});
    REQUIRE(last && beyond);
    expect("DS ends with the IACA", &p, (spec){.ds = last}, TES_OK, NULL);
    expect("DS ends 1 s after the IACA", &p, (spec){.ds = beyond}, TES_ERR_DS_PROFILE,
           "beyond its issuer");
    tes_cert_free(last);
    tes_cert_free(beyond);
    pki_free(&p);
}

/* ---------------------------------------------------------------- validityInfo */

TEST(mso_signed_within_the_ds_validity)
{
    PKI(p);
    /* issue 10 item 2: the DS starts at 23:30, the MSO says 23:00 (rounded down) */
    tes_cert *late = make_ds(&p, (ds_opts){.nb = T0 - 1800});
    REQUIRE(late);
    expect("signed before the DS notBefore", &p, (spec){.ds = late},
           TES_ERR_MSO_SIGNED_OUTSIDE_DS, "outside the validity of its document signer");
    expect("signed at the DS notBefore", &p,
           (spec){.ds = late, .t_signed = "2025-12-31T23:30:00Z",
                  .t_from = "2025-12-31T23:30:00Z"},
           TES_OK, NULL);
    tes_cert_free(late);
    pki_free(&p);
}

TEST(mso_validity_order)
{
    PKI(p);
    /* "validFrom shall be equal or later than signed": signed in the future of validFrom */
    expect("signed after validFrom", &p,
           (spec){.t_signed = "2025-12-31T23:00:01Z", .t_from = "2025-12-31T23:00:00Z"},
           TES_ERR_MSO_VALIDITY_ORDER, "validFrom is before signed");
    expect("signed after validUntil", &p,
           (spec){.t_signed = "2025-12-31T23:00:00Z", .t_from = "2026-12-31T00:00:00Z",
                  .t_until = "2026-12-30T00:00:00Z"},
           TES_ERR_MSO_VALIDITY_ORDER, "validUntil is not after validFrom");
    expect("validUntil = validFrom", &p,
           (spec){.t_from = "2025-12-31T23:00:00Z", .t_until = "2025-12-31T23:00:00Z"},
           TES_ERR_MSO_VALIDITY_ORDER, "validUntil is not after validFrom");
    expect("expectedUpdate present and well-formed", &p,
           (spec){.t_expected = "2026-06-01T00:00:00Z"}, TES_OK, NULL);
    pki_free(&p);
}

TEST(tdate_form)
{
    PKI(p);
    struct {
        const char *t, *why;
    } bad[] = {
        {"2025-12-31T23:00:00+00:00", "offset +00:00"},
        {"2026-01-01T00:00:00+01:00", "offset +01:00"},
        {"2025-12-31T23:00:00.5Z", "fraction of seconds"},
        {"2025-12-31T23:00:00.000Z", "fraction of seconds (zeros)"},
        {"2025-12-31t23:00:00z", "lower-case t and z"},
        {"2025-12-31 23:00:00Z", "space for T"},
        {"2025-12-31T23:00Z", "no seconds"},
        {"2025-12-31", "a date only"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* signed and validFrom equal, so only the form is wrong */
        expect(bad[i].why, &p, (spec){.t_signed = bad[i].t, .t_from = "2025-12-31T23:00:00Z"},
               TES_ERR_MDOC_DATE, "validityInfo.signed");
    }
    expect("validUntil with year 0000", &p, (spec){.t_until = "0000-12-31T00:00:00Z"},
           TES_ERR_MDOC_DATE, "validityInfo.validUntil");
    expect("validFrom with year 0000", &p,
           (spec){.t_signed = "0000-01-01T00:00:00Z", .t_from = "0000-01-01T00:00:00Z"},
           TES_ERR_MDOC_DATE, "year 0001 or later");
    expect("expectedUpdate with an offset", &p, (spec){.t_expected = "2026-06-01T00:00:00-01:00"},
           TES_ERR_MDOC_DATE, "validityInfo.expectedUpdate");
    expect("signed not tag 0", &p, (spec){.signed_untagged = true}, TES_ERR_MSO_STRUCTURE,
           "lacks signed as tdate");
    pki_free(&p);
}

TEST(element_dates_form)
{
    PKI(p);
    struct {
        enum vkind kind;
        const char *v;
        tes_err want;
    } cases[] = {
        {V_FULLDATE, "1964-08-12", TES_OK},
        {V_FULLDATE, "1964-8-12", TES_ERR_MDOC_DATE},
        {V_FULLDATE, "0000-08-12", TES_ERR_MDOC_DATE},
        {V_FULLDATE, "1964-02-30", TES_ERR_MDOC_DATE},
        {V_FULLDATE, "1964-08-12T00:00:00Z", TES_ERR_MDOC_DATE},
        {V_TDATE, "2024-01-01T10:00:00Z", TES_OK},
        {V_TDATE, "2024-01-01T10:00:00.25Z", TES_ERR_MDOC_DATE},
        {V_TDATE, "2024-01-01T10:00:00+02:00", TES_ERR_MDOC_DATE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        item it[] = {{NS_MDL, 9, "birth_date", cases[i].kind, cases[i].v, 0, false}};
        expect(cases[i].v, &p, (spec){.items = it, .n_items = 1}, cases[i].want,
               cases[i].want == TES_OK ? NULL : NS_MDL "/birth_date");
    }
    pki_free(&p);
}

/* ---------------------------------------------------------------- items and digests */

TEST(digest_id_below_2_pow_31)
{
    PKI(p);
    static const item top[] = {{NS_MDL, 0x7fffffffu, "family_name", V_TEXT, "Mustermann", 0, false}};
    expect("digestID 2^31 - 1", &p, (spec){.items = top, .n_items = 1}, TES_OK, NULL);
    static const item over[] = {{NS_MDL, 0x80000000u, "family_name", V_TEXT, "Mustermann", 0, false}};
    /* the MSO lists the digest under a valid id: only the item is out of range */
    expect("digestID 2^31", &p, (spec){.items = over, .n_items = 1, .item0_mso_id = 5},
           TES_ERR_MDOC_ITEM, "2^31 or more");
    /* an undisclosed MSO digest with digestID 2^31 */
    expect("MSO digestID 2^31", &p,
           (spec){.extra_digest = true, .extra_id = 0x80000000u, .extra_len = 32},
           TES_ERR_MSO_STRUCTURE, "below 2^31");
    pki_free(&p);
}

TEST(value_digests_shape)
{
    PKI(p);
    expect("undisclosed digest of 31 bytes", &p,
           (spec){.extra_digest = true, .extra_id = 99, .extra_len = 31}, TES_ERR_MSO_STRUCTURE,
           "32-byte bstr");
    expect("undisclosed digest of 32 bytes", &p,
           (spec){.extra_digest = true, .extra_id = 99, .extra_len = 32}, TES_OK, NULL);
    expect("namespace with no digests", &p, (spec){.empty_ns_digests = true},
           TES_ERR_MSO_STRUCTURE, "non-empty map of digests");
    expect("valueDigests empty", &p, (spec){.empty_value_digests = true}, TES_ERR_MSO_STRUCTURE,
           "valueDigests is empty");
    pki_free(&p);
}

TEST(random_at_least_16_bytes)
{
    PKI(p);
    static const item r16[] = {{NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 16, false}};
    static const item r15[] = {{NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 15, false}};
    expect("random 16 bytes", &p, (spec){.items = r16, .n_items = 1}, TES_OK, NULL);
    expect("random 15 bytes", &p, (spec){.items = r15, .n_items = 1}, TES_ERR_MDOC_ITEM,
           "random (>= 16 bytes)");
    pki_free(&p);
}

TEST(an_element_or_digest_id_once_per_namespace)
{
    PKI(p);
    static const item same_item[] = {{NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 0, false},
                                     {NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 0, false}};
    static const item same_id[] = {{NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 0, false},
                                   {NS_MDL, 5, "given_name", V_TEXT, "Erika", 0, false}};
    static const item same_name[] = {{NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 0, false},
                                     {NS_MDL, 6, "family_name", V_TEXT, "Mustermann", 0, false}};
    static const item other_ns[] = {{NS_MDL, 5, "family_name", V_TEXT, "Mustermann", 0, false},
                                    {"org.example.x", 5, "family_name", V_TEXT, "M", 0, false}};
    /* the same item twice: both match the one digest of digestID 5 */
    expect("same item twice", &p, (spec){.items = same_item, .n_items = 2}, TES_ERR_MDOC_ITEM,
           "discloses digestID 5 twice");
    /* two items claiming digestID 5: the MSO has one digest, the second does not match */
    expect("two items, one digestID", &p, (spec){.items = same_id, .n_items = 2},
           TES_ERR_DIGEST_MISMATCH, "given_name");
    expect("same element twice", &p, (spec){.items = same_name, .n_items = 2}, TES_ERR_MDOC_ITEM,
           "discloses element 'family_name' twice");
    expect("same name and digestID in two namespaces", &p,
           (spec){.items = other_ns, .n_items = 2}, TES_OK, NULL);
    pki_free(&p);
}

/* A namespace of thousands of items: each is checked against its digest and the
 * duplicate check stays n log n; an element repeated at the far end is still found. */
TEST(a_large_namespace_is_checked_whole)
{
    PKI(p);
    enum { N = 10000 };
    item *big = calloc(N, sizeof(*big));
    char (*names)[16] = calloc(N, sizeof(*names));
    REQUIRE(big != NULL && names != NULL);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "element_%05zu", i);
        big[i] = (item){NS_MDL, 100 + i, names[i], V_TEXT, "x", 0, false};
    }
    expect("10000 items in one namespace", &p, (spec){.items = big, .n_items = N}, TES_OK, NULL);
    big[N - 1].name = names[0];
    expect("10000 items, the first element again at the end", &p,
           (spec){.items = big, .n_items = N}, TES_ERR_MDOC_ITEM,
           "discloses element 'element_00000' twice");
    free(big);
    free(names);
    pki_free(&p);
}

/* ---------------------------------------------------------------- deviceKeyInfo */

static void ka_both(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 2);
    tes_cbor_enc_cstr(e, "nameSpaces");
    tes_cbor_enc_array(e, 1);
    tes_cbor_enc_cstr(e, NS_MDL);
    tes_cbor_enc_cstr(e, "dataElements");
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, NS_MDL);
    tes_cbor_enc_array(e, 1);
    tes_cbor_enc_cstr(e, "family_name");
}

static void ka_good(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 2);
    tes_cbor_enc_cstr(e, "nameSpaces");
    tes_cbor_enc_array(e, 1);
    tes_cbor_enc_cstr(e, "org.example.x");
    tes_cbor_enc_cstr(e, "dataElements");
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, NS_MDL);
    tes_cbor_enc_array(e, 1);
    tes_cbor_enc_cstr(e, "family_name");
}

static void ka_empty_ns(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "nameSpaces");
    tes_cbor_enc_array(e, 0);
}

static void ka_empty_elements(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "dataElements");
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, NS_MDL);
    tes_cbor_enc_array(e, 0);
}

static void ki_text_key(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "x");
    tes_cbor_enc_uint(e, 1);
}

static void ki_good(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 2);
    tes_cbor_enc_uint(e, 1);
    tes_cbor_enc_cstr(e, "rfc");
    tes_cbor_enc_int(e, -7);
    tes_cbor_enc_cstr(e, "private");
}

TEST(device_key_info_shape)
{
    PKI(p);
    expect("keyAuthorizations well-formed", &p, (spec){.key_auth = ka_good}, TES_OK, NULL);
    expect("namespace in nameSpaces and dataElements", &p, (spec){.key_auth = ka_both},
           TES_ERR_MSO_STRUCTURE, "in both nameSpaces and dataElements");
    expect("nameSpaces []", &p, (spec){.key_auth = ka_empty_ns}, TES_ERR_MSO_STRUCTURE,
           "nameSpaces must be a non-empty array");
    expect("dataElements with []", &p, (spec){.key_auth = ka_empty_elements},
           TES_ERR_MSO_STRUCTURE, "non-empty array of element identifiers");
    expect("keyInfo well-formed", &p, (spec){.key_info = ki_good}, TES_OK, NULL);
    expect("keyInfo with a text key", &p, (spec){.key_info = ki_text_key}, TES_ERR_MSO_STRUCTURE,
           "integer keys");
    expect("no deviceKey", &p, (spec){.no_device_key = true}, TES_ERR_MSO_STRUCTURE,
           "lacks deviceKey");
    pki_free(&p);
}

/* ---------------------------------------------------------------- DeviceResponse / Document */

TEST(response_version)
{
    PKI(p);
    expect("version 1.0", &p, (spec){.resp_version = "1.0"}, TES_OK, NULL);
    expect("version 1.1 (same major)", &p, (spec){.resp_version = "1.1"}, TES_OK, NULL);
    expect("version 1.", &p, (spec){.resp_version = "1."}, TES_ERR_MDOC_VERSION, NULL);
    expect("version 1.0-beta", &p, (spec){.resp_version = "1.0-beta"}, TES_ERR_MDOC_VERSION, NULL);
    expect("version 2.0", &p, (spec){.resp_version = "2.0"}, TES_ERR_MDOC_VERSION, NULL);
    expect("MSO version 1.1", &p, (spec){.mso_version = "1.1"}, TES_ERR_MDOC_VERSION,
           "MSO version");
    pki_free(&p);
}

static void de_good(tes_cbor_enc *e)
{
    tes_cbor_enc_array(e, 1);
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "org.example.other");
    tes_cbor_enc_int(e, 0);
}

static void de_text_code(tes_cbor_enc *e)
{
    tes_cbor_enc_array(e, 1);
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "org.example.other");
    tes_cbor_enc_cstr(e, "not found");
}

static void de_empty(tes_cbor_enc *e)
{
    tes_cbor_enc_array(e, 0);
}

static void err_good(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, NS_MDL);
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "portrait");
    tes_cbor_enc_int(e, 0);
}

static void err_empty_items(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, NS_MDL);
    tes_cbor_enc_map(e, 0);
}

static void err_text_code(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, NS_MDL);
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "portrait");
    tes_cbor_enc_cstr(e, "no");
}

static void dns_empty_elements(tes_cbor_enc *e)
{
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, NS_MDL);
    tes_cbor_enc_map(e, 0);
}

TEST(documents_and_error_maps)
{
    PKI(p);
    expect("documents []", &p, (spec){.empty_documents = true, .document_errors = de_good},
           TES_ERR_MDOC_STRUCTURE, "empty array");
    expect("documentErrors well-formed", &p, (spec){.document_errors = de_good}, TES_OK, NULL);
    expect("documentErrors []", &p, (spec){.document_errors = de_empty}, TES_ERR_MDOC_STRUCTURE,
           "documentErrors");
    expect("documentErrors with a text code", &p, (spec){.document_errors = de_text_code},
           TES_ERR_MDOC_STRUCTURE, "documentErrors");
    expect("errors well-formed", &p, (spec){.errors = err_good}, TES_OK, NULL);
    expect("errors with an empty ErrorItems", &p, (spec){.errors = err_empty_items},
           TES_ERR_MDOC_STRUCTURE, "errors must map");
    expect("errors with a text code", &p, (spec){.errors = err_text_code},
           TES_ERR_MDOC_STRUCTURE, "errors must map");
    expect("DeviceNameSpaces with an empty element map", &p,
           (spec){.device_ns = dns_empty_elements}, TES_ERR_MDOC_DEVICE_AUTH, "non-empty map");
    pki_free(&p);
}

TEST(device_auth_and_name_spaces_shape)
{
    PKI(p);
    expect("deviceSignature with an embedded payload", &p, (spec){.device_attached = true},
           TES_ERR_MDOC_DEVICE_AUTH, "nil (detached) payload");
    expect("deviceSignature and deviceMac", &p, (spec){.device_both = true},
           TES_ERR_MDOC_DEVICE_AUTH, "exactly one of deviceSignature and deviceMac");
    expect("deviceMac with HMAC 384/384", &p, (spec){.mac_hmac384 = true}, TES_ERR_COSE_ALG,
           "alg 6");
    expect("a namespace with no items", &p, (spec){.empty_item_array = true},
           TES_ERR_MDOC_STRUCTURE, "non-empty array of IssuerSignedItemBytes");
    expect("docType not text", &p, (spec){.doctype_not_text = true}, TES_ERR_MDOC_STRUCTURE,
           "lacks docType (text)");
    expect("issuerSigned without issuerAuth", &p, (spec){.no_issuer_auth = true},
           TES_ERR_MDOC_STRUCTURE, "lacks issuerAuth");
    static const item no_value[] = {{NS_MDL, 5, "family_name", V_TEXT, "M", 0, true}};
    expect("item without elementValue", &p, (spec){.items = no_value, .n_items = 1},
           TES_ERR_MDOC_ITEM, "elementValue");
    pki_free(&p);
}
