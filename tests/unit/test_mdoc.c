/*
 * mdoc issue / present / verify: the ISO 18013-5 Annex D worked example, round
 * trips for mDL and PID with signature and MAC, the age_over_NN rule, and the
 * negative matrix — for every check the verifier makes, a response broken in
 * exactly that way ("sign, then corrupt X") fails with exactly that code.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/mdoc/mdoc_internal.h"
#include "mdoc/mdoc_internal.h" /* twice: the whole header is inside its include guard */
#include "tessera/mdoc.h"
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"
#include "vectors.h"

/* ---------- vector files ---------- */

/* An Annex D vector by name, or another set's by "set/name"; a failed load is a failed buf. */
static tes_buf vec(const char *name)
{
    tes_buf bin = {0};
    tes_err e = strchr(name, '/') ? tes_test_vector(name, &bin) : tes_test_annexd(name, &bin);
    if (e != TES_OK)
        bin.failed = true;
    return bin;
}

static tes_key *vec_private_key(const char *d_name)
{
    tes_buf d = vec(d_name);
    tes_key *k = NULL;
    if (tes_key_from_ec_private(TES_CURVE_P256, tes_buf_bytes(&d), &k) != TES_OK)
        k = NULL;
    tes_buf_free(&d);
    return k;
}

static const int64_t ANNEXD_INSIDE = 1609459200; /* 2021-01-01T00:00:00Z */

typedef struct annexd {
    tes_buf response, transcript, root;
    tes_trust_store *trust;
    tes_key *ereader;
} annexd;

static bool annexd_load(annexd *a)
{
    memset(a, 0, sizeof(*a));
    a->response = vec("device_response");
    a->transcript = vec("session_transcript_bytes");
    a->root = vec("iaca_root_cert.der");
    a->ereader = vec_private_key("ereader_key_d");
    return !a->response.failed && !a->transcript.failed && !a->root.failed && a->ereader &&
           tes_trust_store_new(&a->trust) == TES_OK &&
           tes_trust_store_add_blob(a->trust, TES_PROFILE_DS, tes_buf_bytes(&a->root)) == TES_OK;
}

static void annexd_free(annexd *a)
{
    tes_buf_free(&a->response);
    tes_buf_free(&a->transcript);
    tes_buf_free(&a->root);
    tes_trust_store_free(a->trust);
    tes_key_free(a->ereader);
}

static const tes_mdoc_element *find_elem(const tes_mdoc_document *d, const char *name)
{
    for (size_t i = 0; i < d->n_elems; i++)
        if (tes_bytes_eq(d->elems[i].name, TES_BYTES(name, strlen(name))))
            return &d->elems[i];
    return NULL;
}

static bool elem_text_is(const tes_mdoc_document *d, const char *name, const char *want_hex)
{
    const tes_mdoc_element *e = find_elem(d, name);
    if (e == NULL)
        return false;
    tes_buf want = {0};
    bool ok = tes_hex_decode(&want, want_hex, strlen(want_hex)) == TES_OK &&
              tes_bytes_eq(e->value, tes_buf_bytes(&want));
    tes_buf_free(&want);
    return ok;
}

/* ---------- Annex D ---------- */

TEST(annexd_response_verifies_with_device_mac)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    tes_mdoc_verify_opts o = {.trust = a.trust, .transcript = tes_buf_bytes(&a.transcript),
                              .reader_key = a.ereader, .at = ANNEXD_INSIDE};
    tes_mdoc_result r;
    tes_err e = tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r);
    if (e != TES_OK)
        fprintf(stderr, "  %s: %s\n", tes_err_name(e), tes_err_message());
    CHECK_ERR(e, TES_OK);
    if (e == TES_OK) {
        CHECK_EQ_INT(r.n_docs, 1);
        const tes_mdoc_document *d = &r.docs[0];
        CHECK(tes_bytes_eq(d->doctype, TES_BYTES_STR("org.iso.18013.5.1.mDL")));
        CHECK(d->device_mac);
        CHECK_EQ_INT(d->n_elems, 6);
        CHECK(elem_text_is(d, "family_name", "63446f65"));
        CHECK(elem_text_is(d, "issue_date", "d903ec6a323031392d31302d3230"));
        CHECK(elem_text_is(d, "expiry_date", "d903ec6a323032342d31302d3230"));
        CHECK(elem_text_is(d, "document_number", "69313233343536373839"));
        const tes_mdoc_element *p = find_elem(d, "portrait");
        tes_buf jpg = vec("portrait.jpg");
        REQUIRE(p != NULL);
        /* value = bstr head (59 0412) + the JPEG */
        CHECK(p->value.len == jpg.len + 3 && memcmp(p->value.ptr + 3, jpg.ptr, jpg.len) == 0);
        tes_buf_free(&jpg);
        const tes_mdoc_element *dp = find_elem(d, "driving_privileges");
        REQUIRE(dp != NULL);
        CHECK(dp->value.ptr[0] == 0x82); /* two privileges */
        CHECK_EQ_INT(find_elem(d, "family_name")->digest_id, 0);
        CHECK_EQ_INT(find_elem(d, "driving_privileges")->digest_id, 9);
        CHECK_EQ_STR(d->issuer_cn, "utopia ds");
        CHECK_EQ_INT(d->valid_from, 1601559002);  /* 2020-10-01T13:30:02Z */
        CHECK_EQ_INT(d->valid_until, 1633095002); /* 2021-10-01T13:30:02Z */
        CHECK(!d->has_status);
    }
    tes_mdoc_result_free(&r);
    annexd_free(&a);
}

TEST(annexd_verdicts_outside_the_window_and_without_keys)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    tes_mdoc_verify_opts o = {.trust = a.trust, .transcript = tes_buf_bytes(&a.transcript),
                              .reader_key = a.ereader, .at = tes_clock_now(NULL)};
    tes_mdoc_result r;
    /* today: the document signer certificate expired on 2021-10-01 */
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_ERR_CERT_EXPIRED);
    o.at = 1633068000; /* 2021-10-01T06:00:00Z: DS expired, MSO still valid */
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_ERR_CERT_EXPIRED);
    o.at = 1598918400; /* 2020-09-01 */
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_ERR_CERT_NOT_YET_VALID);
    o.at = 1601540000; /* 2020-10-01T08:13:20Z: DS valid, MSO from 13:30:02 */
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_ERR_MSO_NOT_YET_VALID);
    o.at = ANNEXD_INSIDE;
    o.reader_key = NULL;
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_ERR_ARG);
    CHECK(strstr(tes_err_message(), "EReaderKey") != NULL);
    tes_key *edev = vec_private_key("edevice_key_d");
    o.reader_key = edev;
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_ERR_DEVICE_MAC);
    tes_key_free(edev);
    /* the untagged transcript gives the same verdict as the tag-24 one */
    tes_buf plain = vec("extracted_session_transcript_untagged");
    o.reader_key = a.ereader;
    o.transcript = tes_buf_bytes(&plain);
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_OK);
    tes_mdoc_result_free(&r);
    /* a different transcript breaks the MAC */
    tes_buf other = {0};
    REQUIRE(tes_hex_decode(&other, "83f6f6f6", 8) == TES_OK);
    o.transcript = tes_buf_bytes(&other);
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_ERR_DEVICE_MAC);
    /* a store without the utopia IACA */
    tes_trust_store *empty;
    REQUIRE(tes_trust_store_new(&empty) == TES_OK);
    o.trust = empty;
    o.transcript = tes_buf_bytes(&plain);
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&a.response), &o, &r), TES_ERR_CHAIN_UNTRUSTED);
    tes_trust_store_free(empty);
    tes_buf_free(&plain);
    tes_buf_free(&other);
    annexd_free(&a);
}

TEST(annexd_reader_authentication_and_request)
{
    tes_buf req = vec("device_request"), st = vec("session_transcript_bytes"),
            root = vec("reader_root_cert.der");
    tes_mdoc_request r;
    REQUIRE(tes_mdoc_request_parse(tes_buf_bytes(&req), &r) == TES_OK);
    CHECK_EQ_INT(r.n_docs, 1);
    CHECK(tes_bytes_eq(r.docs[0].doctype, TES_BYTES_STR("org.iso.18013.5.1.mDL")));
    CHECK_EQ_INT(r.docs[0].n_elems, 6);
    size_t retained = 0;
    for (size_t i = 0; i < r.docs[0].n_elems; i++) {
        retained += r.docs[0].elems[i].intent_to_retain;
        if (tes_bytes_eq(r.docs[0].elems[i].name, TES_BYTES_STR("portrait")))
            CHECK(!r.docs[0].elems[i].intent_to_retain);
    }
    CHECK_EQ_INT(retained, 5);
    tes_trust_store *ts;
    REQUIRE(tes_trust_store_new(&ts) == TES_OK);
    REQUIRE(tes_trust_store_add_blob(ts, TES_PROFILE_READER, tes_buf_bytes(&root)) == TES_OK);
    const tes_cert *reader = NULL;
    CHECK_ERR(tes_mdoc_request_verify_reader(&r, 0, tes_buf_bytes(&st), ts, ANNEXD_INSIDE, &reader),
              TES_OK);
    CHECK(reader != NULL && strcmp(tes_cert_get_info(reader)->common_name, "reader") == 0);
    /* the reader signed another transcript than this one */
    tes_buf other = {0};
    REQUIRE(tes_hex_decode(&other, "83f6f6f6", 8) == TES_OK);
    CHECK_ERR(tes_mdoc_request_verify_reader(&r, 0, tes_buf_bytes(&other), ts, ANNEXD_INSIDE, NULL),
              TES_ERR_READER_SIG);
    /* the reader certificate expired at the end of 2023 */
    CHECK_ERR(tes_mdoc_request_verify_reader(&r, 0, tes_buf_bytes(&st), ts, 1735689600, NULL),
              TES_ERR_CERT_EXPIRED);
    tes_trust_store_free(ts);
    tes_mdoc_request_free(&r);
    tes_buf_free(&req);
    tes_buf_free(&st);
    tes_buf_free(&root);
    tes_buf_free(&other);
}

TEST(annexd_session_keys_and_messages)
{
    tes_key *edev = vec_private_key("edevice_key_d"), *erdr = vec_private_key("ereader_key_d");
    tes_buf st = vec("session_transcript_bytes"), skr = vec("derived_sk_reader"),
            skd = vec("derived_sk_device"), est = vec("session_establishment"),
            sdata = vec("session_data"), req = vec("device_request"), resp = vec("device_response");
    REQUIRE(edev && erdr);
    uint8_t k1[32], k2[32];
    /* each side derives the same keys from its own private key and the other's public key */
    CHECK_ERR(tes_mdoc_derive_key(edev, erdr, tes_buf_bytes(&st), "SKReader", k1), TES_OK);
    CHECK(tes_bytes_eq(TES_BYTES(k1, 32), tes_buf_bytes(&skr)));
    CHECK_ERR(tes_mdoc_derive_key(erdr, edev, tes_buf_bytes(&st), "SKDevice", k2), TES_OK);
    CHECK(tes_bytes_eq(TES_BYTES(k2, 32), tes_buf_bytes(&skd)));
    /* SessionEstablishment.data (reader -> mdoc) and SessionData.data (mdoc -> reader) */
    tes_cbor_doc d;
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&est), NULL, &d) == TES_OK);
    uint32_t data = tes_cbor_map_get_text(&d, 0, "data");
    REQUIRE(tes_cbor_is(&d, data, TES_CBOR_BYTES));
    uint8_t iv[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    tes_buf plain = {0};
    CHECK_ERR(tes_aes256gcm_decrypt(k1, iv, TES_BYTES(NULL, 0),
                                    TES_BYTES(d.nodes[data].data, d.nodes[data].len), &plain),
              TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&plain), tes_buf_bytes(&req)));
    tes_cbor_doc_free(&d);
    tes_buf_reset(&plain);
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&sdata), NULL, &d) == TES_OK);
    data = tes_cbor_map_get_text(&d, 0, "data");
    uint8_t iv2[12] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK_ERR(tes_aes256gcm_decrypt(k2, iv2, TES_BYTES(NULL, 0),
                                    TES_BYTES(d.nodes[data].data, d.nodes[data].len), &plain),
              TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&plain), tes_buf_bytes(&resp)));
    /* the wrong direction's key does not open it */
    tes_buf_reset(&plain);
    CHECK_ERR(tes_aes256gcm_decrypt(k1, iv2, TES_BYTES(NULL, 0),
                                    TES_BYTES(d.nodes[data].data, d.nodes[data].len), &plain),
              TES_ERR_SIGNATURE);
    CHECK_EQ_INT(plain.len, 0);
    tes_cbor_doc_free(&d);
    tes_buf_free(&plain);
    tes_key_free(edev);
    tes_key_free(erdr);
    tes_buf bufs[] = {st, skr, skd, est, sdata, req, resp};
    for (size_t i = 0; i < 7; i++)
        tes_buf_free(&bufs[i]);
}

TEST(ietf_status_list_reference_is_reported)
{
    tes_buf ia = vec("ietf-token-status-list-mdoc/issuer_auth_with_status_list");
    REQUIRE(!ia.failed);
    uint64_t idx = 0;
    tes_buf uri = {0};
    CHECK_ERR(tes_mdoc_status_ref(tes_buf_bytes(&ia), &idx, &uri), TES_OK);
    CHECK_EQ_INT(idx, 412);
    tes_buf_append(&uri, "", 1);
    CHECK_EQ_STR((char *)uri.ptr, "https://example.com/statuslists/1");
    /* its ES256 signature verifies with the DS key it carries */
    tes_cose_msg m;
    REQUIRE(tes_cose_sign1_parse(tes_buf_bytes(&ia), &m) == TES_OK);
    tes_cert *ds = NULL;
    REQUIRE(m.x5chain_len == 1 && tes_cert_parse(m.x5chain[0], &ds) == TES_OK);
    CHECK_ERR(tes_cose_sign1_verify(&m, tes_cert_key(ds), TES_BYTES(NULL, 0), TES_BYTES(NULL, 0)),
              TES_OK);
    tes_cert_free(ds);
    /* the Annex D MSO has none */
    tes_buf ad = vec("extracted_issuer_auth");
    tes_buf_reset(&uri);
    CHECK_ERR(tes_mdoc_status_ref(tes_buf_bytes(&ad), &idx, &uri), TES_ERR_NOT_FOUND);
    tes_buf_free(&ad);
    tes_buf_free(&uri);
    tes_buf_free(&ia);
}

/* ---------- a synthetic authority for round trips and the negative matrix ---------- */

static const int64_t T0 = 1767225600; /* 2026-01-01T00:00:00Z */
#define DAY 86400

typedef struct authority {
    tes_key *iaca_key, *ds_key;
    tes_cert *iaca, *ds;
} authority;

static tes_cert *make_ds(authority *a, int64_t nb, int64_t na, const char *eku, bool ca)
{
    tes_cert_template t = {.common_name = "Test DS", .country = "UT", .not_before = nb,
                           .not_after = na, .is_ca = ca, .path_len = -1,
                           .key_usage = TES_KU_DIGITAL_SIGNATURE, .eku_oid = eku,
                           .issuer_alt_uri = "https://ut.example", .crl_uri = "https://ut.example/crl"};
    tes_cert *c = NULL;
    if (tes_cert_create(&t, a->ds_key, a->iaca, a->iaca_key, &c) != TES_OK)
        return NULL;
    return c;
}

static bool authority_make(authority *a, const char *name)
{
    memset(a, 0, sizeof(*a));
    if (tes_key_generate(TES_CURVE_P256, &a->iaca_key) != TES_OK ||
        tes_key_generate(TES_CURVE_P256, &a->ds_key) != TES_OK)
        return false;
    tes_cert_template t = {.common_name = name, .country = "UT", .not_before = T0 - 10 * DAY,
                           .not_after = T0 + 3650 * DAY, .is_ca = true, .path_len = 0,
                           .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
                           .issuer_alt_uri = "https://ut.example"};
    if (tes_cert_create(&t, a->iaca_key, NULL, a->iaca_key, &a->iaca) != TES_OK)
        return false;
    a->ds = make_ds(a, T0 - 10 * DAY, T0 + 1000 * DAY, TES_OID_EKU_MDL_DS, false);
    return a->ds != NULL;
}

static void authority_free(authority *a)
{
    tes_key_free(a->iaca_key);
    tes_key_free(a->ds_key);
    tes_cert_free(a->iaca);
    tes_cert_free(a->ds);
}

static const char mdl_claims[] =
    "{\"org.iso.18013.5.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    " \"birth_date\": \"1964-08-12\", \"issue_date\": \"2024-01-01\", \"expiry_date\": \"2034-01-01\","
    " \"issuing_country\": \"UT\", \"issuing_authority\": \"Utopia\", \"document_number\": \"T22000129\","
    " \"portrait\": \"_9j_4AAQSkZJRgABAQAAAQABAAD_2wBDAP__\", \"driving_privileges\": "
    "[{\"vehicle_category_code\": \"B\", \"issue_date\": \"2010-05-01\"}],"
    " \"un_distinguishing_sign\": \"UTO\", \"age_over_18\": true, \"age_over_21\": true,"
    " \"age_over_65\": false}}";

static const char pid_claims[] =
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    " \"birth_date\": \"1964-08-12\", \"issuing_authority\": \"Utopia\", \"issuing_country\": \"UT\","
    " \"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"nationality\": \"UT\"}}";

/* [null, null, ["tessera-test", h'0102']] */
static const uint8_t transcript[] = {0x83, 0xf6, 0xf6, 0x82, 0x6c, 't', 'e', 's', 's', 'e', 'r',
                                     'a', '-', 't', 'e', 's', 't', 0x42, 0x01, 0x02};

typedef struct fixture {
    authority a;
    tes_key *device;
    tes_key *ereader;
    tes_trust_store *trust;
    tes_mdoc_claims claims;
    const char *doctype;
} fixture;

static bool fixture_make(fixture *f, const char *doctype, const char *claims)
{
    memset(f, 0, sizeof(*f));
    f->doctype = doctype;
    if (!authority_make(&f->a, "Utopia IACA") ||
        tes_key_generate(TES_CURVE_P256, &f->device) != TES_OK ||
        tes_key_generate(TES_CURVE_P256, &f->ereader) != TES_OK ||
        tes_trust_store_new(&f->trust) != TES_OK ||
        tes_trust_store_add(f->trust, TES_PROFILE_DS, f->a.iaca) != TES_OK)
        return false;
    tes_err e = tes_mdoc_claims_from_json(tes_doctype_find(doctype), claims, strlen(claims), NULL,
                                          &f->claims);
    if (e != TES_OK)
        fprintf(stderr, "claims: %s\n", tes_err_message());
    return e == TES_OK;
}

static void fixture_free(fixture *f)
{
    authority_free(&f->a);
    tes_key_free(f->device);
    tes_key_free(f->ereader);
    tes_trust_store_free(f->trust);
    tes_mdoc_claims_free(&f->claims);
}

static tes_err issue_with(fixture *f, const tes_cert *ds, unsigned flaws, tes_buf *out)
{
    tes_signer s = tes_signer_from_key(f->a.ds_key);
    tes_bytes chain = tes_cert_der(ds);
    tes_mdoc_issue_params p = {.doctype = f->doctype, .claims = &f->claims, .device_key = f->device,
                               .issuer = &s, .ds_chain = &chain, .ds_chain_len = 1,
                               .signed_at = T0 - 3600, .valid_from = T0 - 3600,
                               .valid_until = T0 + 365 * DAY, .decoys = 3};
    return mdoc_issue_flawed(&p, flaws, out);
}

static tes_err present_with(fixture *f, tes_bytes mdoc, const tes_mdoc_req_elem *el, size_t n,
                            bool mac, unsigned flaws, tes_buf *out)
{
    tes_signer s = tes_signer_from_key(f->device);
    tes_mdoc_present_params p = {.mdoc = mdoc, .elems = el, .n_elems = n,
                                 .transcript = TES_BYTES(transcript, sizeof(transcript)),
                                 .device = mac ? NULL : &s, .device_key = f->device,
                                 .reader_key = mac ? f->ereader : NULL};
    return mdoc_present_flawed(&p, flaws, out, NULL);
}

#define NS_MDL_B TES_BYTES_STR("org.iso.18013.5.1")
static const tes_mdoc_req_elem mdl_request[] = {
    {TES_BYTES_STR("org.iso.18013.5.1"), TES_BYTES_STR("age_over_18"), false},
    {TES_BYTES_STR("org.iso.18013.5.1"), TES_BYTES_STR("family_name"), true},
    {TES_BYTES_STR("org.iso.18013.5.1"), TES_BYTES_STR("portrait"), false},
    {TES_BYTES_STR("org.iso.18013.5.1"), TES_BYTES_STR("birth_date"), false},
};

static tes_err verify_with(fixture *f, tes_bytes resp, int64_t at, tes_mdoc_result *r)
{
    tes_mdoc_verify_opts o = {.trust = f->trust, .transcript = TES_BYTES(transcript, sizeof(transcript)),
                              .reader_key = f->ereader, .at = at};
    return tes_mdoc_verify(resp, &o, r);
}

TEST(round_trip_mdl_signature_and_mac)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_MDL, mdl_claims));
    tes_buf mdoc = {0}, resp = {0}, resp_mac = {0};
    REQUIRE(issue_with(&f, f.a.ds, 0, &mdoc) == TES_OK);
    for (int mac = 0; mac < 2; mac++) {
        tes_buf *out = mac ? &resp_mac : &resp;
        REQUIRE(present_with(&f, tes_buf_bytes(&mdoc), mdl_request, 4, mac, 0, out) == TES_OK);
        tes_mdoc_result r;
        tes_err e = verify_with(&f, tes_buf_bytes(out), T0, &r);
        if (e != TES_OK)
            fprintf(stderr, "  %s: %s\n", tes_err_name(e), tes_err_message());
        CHECK_ERR(e, TES_OK);
        if (e == TES_OK) {
            CHECK_EQ_INT(r.n_docs, 1);
            CHECK_EQ_INT(r.docs[0].device_mac, mac);
            CHECK_EQ_INT(r.docs[0].n_elems, 4);
            CHECK(elem_text_is(&r.docs[0], "family_name", "6a4d75737465726d616e6e"));
            CHECK(elem_text_is(&r.docs[0], "birth_date", "d903ec6a313936342d30382d3132"));
            CHECK(elem_text_is(&r.docs[0], "age_over_18", "f5"));
            CHECK(find_elem(&r.docs[0], "given_name") == NULL); /* not requested, not disclosed */
            CHECK_EQ_INT(r.docs[0].valid_until, T0 + 365 * DAY);
        }
        tes_mdoc_result_free(&r);
    }
    tes_buf_free(&mdoc);
    tes_buf_free(&resp);
    tes_buf_free(&resp_mac);
    fixture_free(&f);
}

TEST(round_trip_pid)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_PID, pid_claims));
    tes_buf mdoc = {0}, resp = {0};
    REQUIRE(issue_with(&f, f.a.ds, 0, &mdoc) == TES_OK);
    tes_mdoc_req_elem req[] = {
        {TES_BYTES_STR(TES_NS_PID), TES_BYTES_STR("age_over_18"), false},
        {TES_BYTES_STR(TES_NS_PID), TES_BYTES_STR("nationality"), false},
        {TES_BYTES_STR(TES_NS_PID), TES_BYTES_STR("email_address"), false},
    };
    tes_signer s = tes_signer_from_key(f.device);
    size_t missing = 0;
    tes_mdoc_present_params p = {.mdoc = tes_buf_bytes(&mdoc), .elems = req, .n_elems = 3,
                                 .transcript = TES_BYTES(transcript, sizeof(transcript)),
                                 .device = &s};
    REQUIRE(tes_mdoc_present(&p, &resp, &missing) == TES_OK);
    CHECK_EQ_INT(missing, 1); /* no email address in this credential */
    tes_mdoc_result r;
    CHECK_ERR(verify_with(&f, tes_buf_bytes(&resp), T0, &r), TES_OK);
    if (r.n_docs == 1) {
        CHECK_EQ_INT(r.docs[0].n_elems, 2);
        CHECK(tes_bytes_eq(r.docs[0].doctype, TES_BYTES_STR(TES_DOCTYPE_PID)));
    }
    tes_mdoc_result_free(&r);
    tes_buf_free(&mdoc);
    tes_buf_free(&resp);
    fixture_free(&f);
}

/* Device-signed elements (the pseudonym): the MSO's keyAuthorizations come
 * from device_namespaces; the verifier takes them (device_signed) only when
 * authorised, refuses them otherwise, and they are under the device
 * signature and MAC. */
static tes_err issue_pid_auth(fixture *f, const char *const *ns, size_t n, tes_buf *out)
{
    tes_signer s = tes_signer_from_key(f->a.ds_key);
    tes_bytes chain = tes_cert_der(f->a.ds);
    tes_mdoc_issue_params p = {.doctype = f->doctype, .claims = &f->claims, .device_key = f->device,
                               .issuer = &s, .ds_chain = &chain, .ds_chain_len = 1,
                               .signed_at = T0 - 3600, .valid_from = T0 - 3600,
                               .valid_until = T0 + 365 * DAY, .device_namespaces = ns,
                               .n_device_namespaces = n};
    return tes_mdoc_issue(&p, out);
}

static tes_err present_dev(fixture *f, tes_bytes mdoc, const tes_mdoc_device_elem *de, size_t n,
                           bool mac, tes_buf *out)
{
    static const tes_mdoc_req_elem req[] = {
        {TES_BYTES_STR(TES_NS_PID), TES_BYTES_STR("age_over_18"), false}};
    tes_signer s = tes_signer_from_key(f->device);
    tes_mdoc_present_params p = {.mdoc = mdoc, .elems = req, .n_elems = 1,
                                 .device_elems = de, .n_device_elems = n,
                                 .transcript = TES_BYTES(transcript, sizeof(transcript)),
                                 .device = mac ? NULL : &s, .device_key = f->device,
                                 .reader_key = mac ? f->ereader : NULL};
    tes_buf_reset(out);
    return tes_mdoc_present(&p, out, NULL);
}

TEST(device_signed_elements_need_key_authorizations)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_PID, pid_claims));
    const tes_doctype *t = tes_doctype_find(TES_DOCTYPE_PID);
    REQUIRE(t != NULL && t->n_device_namespaces == 1);
    CHECK_EQ_STR(t->device_namespaces[0], TES_NS_PSEUDONYM);
    CHECK_EQ_INT(tes_doctype_find(TES_DOCTYPE_MDL)->n_device_namespaces, 0);
    tes_buf with = {0}, without = {0}, resp = {0};
    REQUIRE(issue_pid_auth(&f, t->device_namespaces, 1, &with) == TES_OK);
    REQUIRE(issue_pid_auth(&f, NULL, 0, &without) == TES_OK);
    /* the MSO says it: keyAuthorizations {"nameSpaces": ["org.tessera.pseudonym.1"]} */
    static const char ka[] = "keyAuthorizations";
    bool in_with = false, in_without = false;
    for (size_t i = 0; i + sizeof ka - 1 <= with.len && !in_with; i++)
        in_with = memcmp(with.ptr + i, ka, sizeof ka - 1) == 0;
    for (size_t i = 0; i + sizeof ka - 1 <= without.len && !in_without; i++)
        in_without = memcmp(without.ptr + i, ka, sizeof ka - 1) == 0;
    CHECK(in_with && !in_without);

    uint8_t pv[34] = {0x58, 0x20};
    for (int i = 0; i < 32; i++)
        pv[2 + i] = (uint8_t)(0xa0 + i);
    const tes_mdoc_device_elem de[] = {
        {TES_NS_PSEUDONYM, TES_ELEM_PSEUDONYM, TES_BYTES(pv, sizeof pv)}};
    for (int mac = 0; mac < 2; mac++) {
        tes_mdoc_result r;
        REQUIRE(present_dev(&f, tes_buf_bytes(&with), de, 1, mac, &resp) == TES_OK);
        CHECK_ERR(verify_with(&f, tes_buf_bytes(&resp), T0, &r), TES_OK);
        const tes_mdoc_element *ps = r.n_docs == 1 ? find_elem(&r.docs[0], "pseudonym") : NULL;
        CHECK(ps != NULL && ps->device_signed &&
              tes_bytes_eq(ps->ns, TES_BYTES_STR(TES_NS_PSEUDONYM)) &&
              tes_bytes_eq(ps->value, TES_BYTES(pv, sizeof pv)));
        const tes_mdoc_element *age = r.n_docs == 1 ? find_elem(&r.docs[0], "age_over_18") : NULL;
        CHECK(age != NULL && !age->device_signed);
        tes_mdoc_result_free(&r);
        /* the device-signed part is under the signature / MAC: change one
         * byte of the pseudonym in the response and it no longer verifies */
        size_t at = 0;
        for (size_t i = 0; i + 4 <= resp.len && at == 0; i++)
            if (memcmp(resp.ptr + i, pv + 2, 4) == 0)
                at = i;
        REQUIRE(at != 0);
        resp.ptr[at] ^= 1;
        CHECK_ERR(verify_with(&f, tes_buf_bytes(&resp), T0, &r),
                  mac ? TES_ERR_DEVICE_MAC : TES_ERR_DEVICE_SIG);
        tes_mdoc_result_free(&r);
        /* without the authorisation: refused */
        REQUIRE(present_dev(&f, tes_buf_bytes(&without), de, 1, mac, &resp) == TES_OK);
        CHECK_ERR(verify_with(&f, tes_buf_bytes(&resp), T0, &r), TES_ERR_DEVICE_NAMESPACES);
        tes_mdoc_result_free(&r);
    }
    /* an element of a namespace the MSO does not authorise: refused */
    const tes_mdoc_device_elem other[] = {{"org.example", "x", TES_BYTES(pv, sizeof pv)}};
    tes_mdoc_result r;
    REQUIRE(present_dev(&f, tes_buf_bytes(&with), other, 1, false, &resp) == TES_OK);
    CHECK_ERR(verify_with(&f, tes_buf_bytes(&resp), T0, &r), TES_ERR_DEVICE_NAMESPACES);
    tes_mdoc_result_free(&r);
    /* what present and issue refuse */
    const tes_mdoc_device_elem twice[] = {de[0], de[0]};
    CHECK_ERR(present_dev(&f, tes_buf_bytes(&with), twice, 2, false, &resp), TES_ERR_ARG);
    const tes_mdoc_device_elem junk[] = {
        {TES_NS_PSEUDONYM, TES_ELEM_PSEUDONYM, TES_BYTES(pv, 5)}}; /* truncated bstr */
    CHECK_ERR(present_dev(&f, tes_buf_bytes(&with), junk, 1, false, &resp), TES_ERR_ARG);
    const char *dup[] = {TES_NS_PSEUDONYM, TES_NS_PSEUDONYM};
    tes_buf bad = {0};
    CHECK_ERR(issue_pid_auth(&f, dup, 2, &bad), TES_ERR_ARG);
    const char *empty[] = {""};
    CHECK_ERR(issue_pid_auth(&f, empty, 1, &bad), TES_ERR_ARG);
    tes_buf_free(&bad);
    tes_buf_free(&with);
    tes_buf_free(&without);
    tes_buf_free(&resp);
    fixture_free(&f);
}

TEST(age_over_nearest_match)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_MDL, mdl_claims));
    tes_buf mdoc = {0};
    REQUIRE(issue_with(&f, f.a.ds, 0, &mdoc) == TES_OK);
    /* held: age_over_18 true, age_over_21 true, age_over_65 false */
    struct {
        const char *asked, *got;
    } cases[] = {
        {"age_over_18", "age_over_18"}, {"age_over_20", "age_over_21"},
        {"age_over_16", "age_over_18"}, {"age_over_70", "age_over_65"},
        {"age_over_21", "age_over_21"}, {"age_over_65", "age_over_65"},
        {"age_over_40", NULL}, /* over 21 but not over 65: nothing answers it */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tes_mdoc_req_elem q = {NS_MDL_B, TES_BYTES(cases[i].asked, strlen(cases[i].asked)), false};
        tes_buf resp = {0};
        REQUIRE(present_with(&f, tes_buf_bytes(&mdoc), &q, 1, false, 0, &resp) == TES_OK);
        tes_mdoc_result r;
        CHECK_ERR(verify_with(&f, tes_buf_bytes(&resp), T0, &r), TES_OK);
        bool ok = cases[i].got == NULL ? r.n_docs == 1 && r.docs[0].n_elems == 0
                                       : r.n_docs == 1 && r.docs[0].n_elems == 1 &&
                                             find_elem(&r.docs[0], cases[i].got);
        if (!ok)
            fprintf(stderr, "  asked %s, want %s, got %zu elements\n", cases[i].asked,
                    cases[i].got ? cases[i].got : "nothing",
                    r.n_docs ? r.docs[0].n_elems : 0);
        CHECK(ok);
        tes_mdoc_result_free(&r);
        tes_buf_free(&resp);
    }
    tes_buf_free(&mdoc);
    fixture_free(&f);
}

/* True when every map in d has its keys in RFC 8949 deterministic order. */
static bool keys_sorted(const tes_cbor_doc *d)
{
    for (uint32_t i = 0; i < d->count; i++) {
        if (d->nodes[i].type != TES_CBOR_MAP)
            continue;
        tes_bytes prev = {0};
        for (uint32_t k = tes_cbor_child(d, i); k != TES_CBOR_NONE && k < d->nodes[i].next;
             k = tes_cbor_next(d, tes_cbor_next(d, k))) {
            tes_bytes key = tes_cbor_span(d, k);
            if (prev.ptr) {
                size_t n = prev.len < key.len ? prev.len : key.len;
                int c = memcmp(prev.ptr, key.ptr, n);
                if (c > 0 || (c == 0 && prev.len >= key.len))
                    return false;
            }
            prev = key;
        }
    }
    return true;
}

TEST(issued_items_have_random_ids_salts_and_decoys)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_MDL, mdl_claims));
    tes_buf m1 = {0}, m2 = {0};
    REQUIRE(issue_with(&f, f.a.ds, 0, &m1) == TES_OK);
    REQUIRE(issue_with(&f, f.a.ds, 0, &m2) == TES_OK);
    CHECK(!tes_bytes_eq(tes_buf_bytes(&m1), tes_buf_bytes(&m2)));
    mdoc_cred c;
    REQUIRE(mdoc_cred_load(tes_buf_bytes(&m1), &c) == TES_OK);
    uint32_t arr = tes_cbor_map_get_text(&c.doc, c.name_spaces, TES_NS_MDL);
    REQUIRE(arr != TES_CBOR_NONE);
    CHECK_EQ_INT(tes_cbor_count(&c.doc, arr), 14);
    CHECK(keys_sorted(&c.doc)); /* deterministic encoding of the stored credential */
    for (uint32_t it = tes_cbor_child(&c.doc, arr); it != TES_CBOR_NONE && it < c.doc.nodes[arr].next;
         it = tes_cbor_next(&c.doc, it)) {
        tes_bytes inner;
        tes_cbor_doc d;
        REQUIRE(tes_cbor_tag24_content(&c.doc, it, &inner) && tes_cbor_parse(inner, NULL, &d) == TES_OK);
        uint32_t id = tes_cbor_map_get_text(&d, 0, "digestID");
        uint32_t rnd = tes_cbor_map_get_text(&d, 0, "random");
        CHECK(tes_cbor_is(&d, id, TES_CBOR_UINT) && d.nodes[id].val < (1u << 31));
        CHECK(tes_cbor_is(&d, rnd, TES_CBOR_BYTES) && d.nodes[rnd].len >= 16);
        /* the item is deterministically encoded: keys in bytewise order */
        CHECK(tes_cbor_text_eq(&d, 1, "random"));
        CHECK(keys_sorted(&d));
        tes_cbor_doc_free(&d);
    }
    /* 14 elements + 3 decoys in the MSO */
    tes_cose_msg m;
    REQUIRE(tes_cose_sign1_decode(&c.doc, c.issuer_auth, &m) == TES_OK);
    tes_cbor_doc pd, md;
    tes_bytes mso;
    REQUIRE(tes_cbor_parse(m.payload, NULL, &pd) == TES_OK && tes_cbor_tag24_content(&pd, 0, &mso));
    REQUIRE(tes_cbor_parse(mso, NULL, &md) == TES_OK);
    CHECK(keys_sorted(&md));
    uint32_t vd = tes_cbor_map_get_text(&md, 0, "valueDigests");
    uint32_t nsd = tes_cbor_map_get_text(&md, vd, TES_NS_MDL);
    CHECK_EQ_INT(tes_cbor_count(&md, nsd), 17);
    uint32_t vi = tes_cbor_map_get_text(&md, 0, "validityInfo");
    uint32_t sg = tes_cbor_map_get_text(&md, vi, "signed");
    /* tdate without fractional seconds */
    CHECK(tes_cbor_is(&md, sg, TES_CBOR_TAG) && md.nodes[sg + 1].len == 20);
    tes_cbor_doc_free(&md);
    tes_cbor_doc_free(&pd);
    tes_cbor_doc_free(&c.doc);
    tes_buf_free(&m1);
    tes_buf_free(&m2);
    fixture_free(&f);
}

/* ---------- the negative matrix ---------- */

/* Replaces the first occurrence of `from` by `to` (same length) in b. */
static bool patch(tes_buf *b, const char *from, const char *to, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->ptr + i, from, n) == 0) {
            memcpy(b->ptr + i, to, n);
            return true;
        }
    return false;
}

enum ds_kind { DS_GOOD, DS_NO_EKU, DS_IS_CA, DS_SHORT, DS_FUTURE, DS_BAD_SIG, DS_FOREIGN };
enum edit { ED_NONE, ED_VALUE, ED_VERSION, ED_STATUS, ED_TRAILING, ED_TRUNCATE, ED_TRANSCRIPT,
            ED_READER_KEY, ED_UNTRUSTED };

struct flaw_case {
    const char *name;
    enum ds_kind ds;
    unsigned issue_flaws, present_flaws;
    bool mac;
    enum edit edit;
    int64_t at_offset;
    tes_err want;
};

static const struct flaw_case matrix[] = {
    {"correct, signature", DS_GOOD, 0, 0, false, ED_NONE, 0, TES_OK},
    {"correct, MAC", DS_GOOD, 0, 0, true, ED_NONE, 0, TES_OK},
    {"response version 2.0", DS_GOOD, 0, 0, false, ED_VERSION, 0, TES_ERR_MDOC_VERSION},
    {"response status 10", DS_GOOD, 0, 0, false, ED_STATUS, 0, TES_ERR_DOC_ERRORS},
    {"trailing byte", DS_GOOD, 0, 0, false, ED_TRAILING, 0, TES_ERR_CBOR_TRAILING},
    {"truncated", DS_GOOD, 0, 0, false, ED_TRUNCATE, 0, TES_ERR_CBOR_TRUNCATED},
    {"no x5chain", DS_GOOD, MDOC_FLAW_NO_X5CHAIN, 0, false, ED_NONE, 0, TES_ERR_COSE_X5CHAIN},
    {"unknown issuer alg", DS_GOOD, MDOC_FLAW_ISSUER_ALG, 0, false, ED_NONE, 0, TES_ERR_COSE_ALG},
    {"untrusted root", DS_GOOD, 0, 0, false, ED_UNTRUSTED, 0, TES_ERR_CHAIN_UNTRUSTED},
    {"DS from a foreign IACA", DS_FOREIGN, 0, 0, false, ED_NONE, 0, TES_ERR_CHAIN_UNTRUSTED},
    {"DS certificate signature", DS_BAD_SIG, 0, 0, false, ED_NONE, 0, TES_ERR_CHAIN_SIG},
    {"DS without mdlDS EKU", DS_NO_EKU, 0, 0, false, ED_NONE, 0, TES_ERR_DS_PROFILE},
    {"DS is a CA", DS_IS_CA, 0, 0, false, ED_NONE, 0, TES_ERR_DS_PROFILE},
    {"DS expired", DS_SHORT, 0, 0, false, ED_NONE, 20 * DAY, TES_ERR_CERT_EXPIRED},
    {"DS not yet valid", DS_FUTURE, 0, 0, false, ED_NONE, 0, TES_ERR_CERT_NOT_YET_VALID},
    {"issuer signature", DS_GOOD, MDOC_FLAW_ISSUER_SIG, 0, false, ED_NONE, 0, TES_ERR_ISSUER_SIG},
    {"MSO payload untagged", DS_GOOD, MDOC_FLAW_MSO_UNTAGGED, 0, false, ED_NONE, 0, TES_ERR_MSO_STRUCTURE},
    {"MSO version", DS_GOOD, MDOC_FLAW_MSO_VERSION, 0, false, ED_NONE, 0, TES_ERR_MDOC_VERSION},
    {"MSO digest algorithm", DS_GOOD, MDOC_FLAW_MSO_DIGEST_ALG, 0, false, ED_NONE, 0, TES_ERR_MSO_DIGEST_ALG},
    {"MSO docType", DS_GOOD, MDOC_FLAW_MSO_DOCTYPE, 0, false, ED_NONE, 0, TES_ERR_DOCTYPE_MISMATCH},
    {"MSO without validityInfo", DS_GOOD, MDOC_FLAW_MSO_NO_VALIDITY, 0, false, ED_NONE, 0, TES_ERR_MSO_STRUCTURE},
    {"MSO status malformed", DS_GOOD, MDOC_FLAW_MSO_STATUS, 0, false, ED_NONE, 0, TES_ERR_STATUS},
    {"MSO expired", DS_GOOD, 0, 0, false, ED_NONE, 400 * DAY, TES_ERR_MSO_EXPIRED},
    {"MSO not yet valid", DS_GOOD, 0, 0, false, ED_NONE, -2 * 3600, TES_ERR_MSO_NOT_YET_VALID},
    {"element value altered", DS_GOOD, 0, 0, false, ED_VALUE, 0, TES_ERR_DIGEST_MISMATCH},
    {"element digest absent", DS_GOOD, MDOC_FLAW_DIGEST_OMIT, 0, false, ED_NONE, 0, TES_ERR_DIGEST_MISSING},
    {"item random too short", DS_GOOD, MDOC_FLAW_SHORT_RANDOM, 0, false, ED_NONE, 0, TES_ERR_MDOC_ITEM},
    {"MSO deviceKey unusable", DS_GOOD, MDOC_FLAW_MSO_DEVICE_KEY, 0, false, ED_NONE, 0, TES_ERR_DEVICE_KEY},
    {"no deviceSigned", DS_GOOD, 0, MDOC_FLAW_NO_DEVICE_SIGNED, false, ED_NONE, 0, TES_ERR_MDOC_DEVICE_AUTH},
    {"device signature", DS_GOOD, 0, MDOC_FLAW_DEVICE_SIG, false, ED_NONE, 0, TES_ERR_DEVICE_SIG},
    {"other transcript, signature", DS_GOOD, 0, 0, false, ED_TRANSCRIPT, 0, TES_ERR_DEVICE_SIG},
    {"device MAC", DS_GOOD, 0, MDOC_FLAW_DEVICE_SIG, true, ED_NONE, 0, TES_ERR_DEVICE_MAC},
    {"other transcript, MAC", DS_GOOD, 0, 0, true, ED_TRANSCRIPT, 0, TES_ERR_DEVICE_MAC},
    {"other reader key, MAC", DS_GOOD, 0, 0, true, ED_READER_KEY, 0, TES_ERR_DEVICE_MAC},
    {"unauthorised device-signed element", DS_GOOD, 0, MDOC_FLAW_DEVICE_NS, false, ED_NONE, 0,
     TES_ERR_DEVICE_NAMESPACES},
};

static tes_cert *ds_for(fixture *f, enum ds_kind k, authority *foreign)
{
    switch (k) {
    case DS_GOOD:
        return tes_cert_ref(f->a.ds);
    case DS_NO_EKU:
        return make_ds(&f->a, T0 - 10 * DAY, T0 + 1000 * DAY, NULL, false);
    case DS_IS_CA:
        return make_ds(&f->a, T0 - 10 * DAY, T0 + 1000 * DAY, TES_OID_EKU_MDL_DS, true);
    case DS_SHORT:
        return make_ds(&f->a, T0 - 10 * DAY, T0 + 10 * DAY, TES_OID_EKU_MDL_DS, false);
    case DS_FUTURE:
        return make_ds(&f->a, T0 + DAY, T0 + 1000 * DAY, TES_OID_EKU_MDL_DS, false);
    case DS_FOREIGN: {
        /* same DS key, certified by another authority of the same name */
        tes_key_free(foreign->ds_key);
        foreign->ds_key = tes_key_ref(f->a.ds_key);
        return make_ds(foreign, T0 - 10 * DAY, T0 + 1000 * DAY, TES_OID_EKU_MDL_DS, false);
    }
    case DS_BAD_SIG: {
        tes_bytes der = tes_cert_der(f->a.ds);
        uint8_t *copy = malloc(der.len);
        if (copy == NULL)
            return NULL;
        memcpy(copy, der.ptr, der.len);
        copy[der.len - 1] ^= 0x01; /* last byte of the ECDSA signature value */
        tes_cert *c = NULL;
        if (tes_cert_parse(TES_BYTES(copy, der.len), &c) != TES_OK)
            c = NULL;
        free(copy);
        return c;
    }
    }
    return NULL;
}

TEST(negative_matrix_every_check_has_its_error)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_MDL, mdl_claims));
    authority foreign;
    REQUIRE(authority_make(&foreign, "Utopia IACA"));
    tes_trust_store *other;
    REQUIRE(tes_trust_store_new(&other) == TES_OK);
    REQUIRE(tes_trust_store_add(other, TES_PROFILE_DS, foreign.iaca) == TES_OK);
    tes_key *stranger;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &stranger) == TES_OK);
    static const uint8_t other_transcript[] = {0x83, 0xf6, 0xf6, 0xf6};

    for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
        const struct flaw_case *c = &matrix[i];
        tes_cert *ds = ds_for(&f, c->ds, &foreign);
        tes_buf mdoc = {0}, resp = {0};
        bool built = ds && issue_with(&f, ds, c->issue_flaws, &mdoc) == TES_OK &&
                     present_with(&f, tes_buf_bytes(&mdoc), mdl_request, 4, c->mac,
                                  c->present_flaws, &resp) == TES_OK;
        if (!built) {
            fprintf(stderr, "  case '%s': could not build: %s\n", c->name, tes_err_message());
            CHECK(built);
            tes_cert_free(ds);
            tes_buf_free(&mdoc);
            tes_buf_free(&resp);
            continue;
        }
        tes_mdoc_verify_opts o = {.trust = f.trust,
                                  .transcript = TES_BYTES(transcript, sizeof(transcript)),
                                  .reader_key = f.ereader, .at = T0 + c->at_offset};
        bool edited = true;
        switch (c->edit) {
        case ED_NONE:
            break;
        case ED_VALUE:
            edited = patch(&resp, "Mustermann", "Mustermanm", 10);
            break;
        case ED_VERSION:
            edited = patch(&resp, "\x67version\x63" "1.0", "\x67version\x63" "2.0", 12);
            break;
        case ED_STATUS:
            edited = patch(&resp, "\x66status\x00", "\x66status\x0a", 8);
            break;
        case ED_TRAILING:
            tes_buf_append(&resp, "\x00", 1);
            break;
        case ED_TRUNCATE:
            resp.len -= 1;
            break;
        case ED_TRANSCRIPT:
            o.transcript = TES_BYTES(other_transcript, sizeof(other_transcript));
            break;
        case ED_READER_KEY:
            o.reader_key = stranger;
            break;
        case ED_UNTRUSTED:
            o.trust = other;
            break;
        }
        CHECK(edited);
        tes_mdoc_result r;
        tes_err e = tes_mdoc_verify(tes_buf_bytes(&resp), &o, &r);
        if (e != c->want)
            fprintf(stderr, "  case '%s': got %s (%s), want %s\n", c->name, tes_err_name(e),
                    tes_err_message(), tes_err_name(c->want));
        CHECK_EQ_INT(e, c->want);
        /* a failed verification discloses nothing */
        if (c->want != TES_OK)
            CHECK(r.n_docs == 0 && r.docs == NULL);
        tes_mdoc_result_free(&r);
        tes_cert_free(ds);
        tes_buf_free(&mdoc);
        tes_buf_free(&resp);
    }
    tes_key_free(stranger);
    tes_trust_store_free(other);
    authority_free(&foreign);
    fixture_free(&f);
}

TEST(every_prefix_of_a_response_fails_cleanly)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_MDL, mdl_claims));
    tes_buf mdoc = {0}, resp = {0};
    REQUIRE(issue_with(&f, f.a.ds, 0, &mdoc) == TES_OK);
    REQUIRE(present_with(&f, tes_buf_bytes(&mdoc), mdl_request, 4, false, 0, &resp) == TES_OK);
    size_t bad = 0;
    for (size_t n = 0; n < resp.len; n += 7) {
        tes_mdoc_result r;
        if (verify_with(&f, TES_BYTES(resp.ptr, n), T0, &r) == TES_OK)
            bad++;
        tes_mdoc_result_free(&r);
    }
    CHECK_EQ_INT(bad, 0);
    /* and every single-bit flip in the signed parts is caught */
    size_t undetected = 0;
    for (size_t i = 0; i < resp.len; i += 13) {
        resp.ptr[i] ^= 0x20;
        tes_mdoc_result r;
        if (verify_with(&f, tes_buf_bytes(&resp), T0, &r) == TES_OK)
            undetected++;
        tes_mdoc_result_free(&r);
        resp.ptr[i] ^= 0x20;
    }
    /* flips in unsigned places (x5chain label, undisclosed map order) may go unnoticed; the
     * count of such places is small and fixed for this layout */
    CHECK(undetected < resp.len / 13 / 10);
    tes_buf_free(&mdoc);
    tes_buf_free(&resp);
    fixture_free(&f);
}

static tes_err ecdh_cb(void *ctx, const tes_key *peer, uint8_t out[TES_MAX_COORD], size_t *len)
{
    return tes_key_ecdh((const tes_key *)ctx, peer, out, len);
}

TEST(mac_with_an_ecdh_callback_as_a_secure_element_does_it)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_MDL, mdl_claims));
    tes_buf mdoc = {0}, resp = {0};
    REQUIRE(issue_with(&f, f.a.ds, 0, &mdoc) == TES_OK);
    tes_mdoc_present_params p = {.mdoc = tes_buf_bytes(&mdoc), .elems = mdl_request, .n_elems = 4,
                                 .transcript = TES_BYTES(transcript, sizeof(transcript)),
                                 .reader_key = f.ereader, .device_ecdh = ecdh_cb,
                                 .device_ecdh_ctx = f.device};
    REQUIRE(tes_mdoc_present(&p, &resp, NULL) == TES_OK);
    tes_mdoc_result r;
    CHECK_ERR(verify_with(&f, tes_buf_bytes(&resp), T0, &r), TES_OK);
    CHECK(r.n_docs == 1 && r.docs[0].device_mac && r.docs[0].n_elems == 4);
    tes_mdoc_result_free(&r);
    tes_buf_free(&mdoc);
    tes_buf_free(&resp);
    fixture_free(&f);
}

/* A device signer that fails (a single-use key already used in the secure
 * element): present returns that failure with its own message, not the text
 * of a later failure on the half-built response ("input ends inside an item"). */
static tes_err used_key_sign(void *ctx, int64_t alg, tes_bytes msg, uint8_t *sig, size_t *sig_len)
{
    (void)ctx, (void)alg, (void)msg, (void)sig, (void)sig_len;
    return tes_err_set(TES_ERR_KEY_USED, "test signer: key already used");
}

TEST(failing_device_signer_keeps_its_own_error_message)
{
    fixture f;
    REQUIRE(fixture_make(&f, TES_DOCTYPE_MDL, mdl_claims));
    tes_buf mdoc = {0}, resp = {0};
    REQUIRE(issue_with(&f, f.a.ds, 0, &mdoc) == TES_OK);
    tes_signer s = {used_key_sign, NULL, TES_COSE_ES256};
    tes_mdoc_present_params p = {.mdoc = tes_buf_bytes(&mdoc), .elems = mdl_request, .n_elems = 4,
                                 .transcript = TES_BYTES(transcript, sizeof(transcript)),
                                 .device = &s};
    tes_err_clear();
    CHECK_ERR(tes_mdoc_present(&p, &resp, NULL), TES_ERR_KEY_USED);
    CHECK(strstr(tes_err_message(), "test signer: key already used") != NULL);
    CHECK(strcmp(tes_err_message_for(TES_ERR_KEY_USED), tes_err_message()) == 0);
    CHECK_EQ_INT(resp.len, 0);
    tes_buf_free(&mdoc);
    tes_buf_free(&resp);
    fixture_free(&f);
}
