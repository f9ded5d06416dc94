/*
 * tessera/oid4vp.h: the OpenID4VP 1.0 Appendix B.2.6.1 SessionTranscript
 * (the spec's example as a vector, every input bound), the DCQL parser
 * (the spec's mso_mdoc examples, every refusal with its error) and the
 * DCQL matcher (claim sets, values, credential sets, multiple).
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#include <jansson.h>
#include <stdio.h>

#include "tessera/jose.h"
#include "tessera/mdoc.h"
#include "tessera/oid4vp.h"
#include "vectors.h"

#define VEC "openid4vp-1.0-appendix-b/"
#define EX_CLIENT "x509_san_dns:example.com"
#define EX_NONCE "exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA"
#define EX_URI "https://example.com/response"

/* ---------------------------------------------------------------- SessionTranscript */

/* The 32 raw bytes of the RFC 7638 thumbprint of the spec's example JWK. */
static bool example_thumbprint(uint8_t out[32])
{
    char path[1024];
    snprintf(path, sizeof path, "%s/" VEC "encryption_jwk.json", tes_test_vectors_dir());
    tes_buf text = {0}, raw = {0};
    bool ok = false;
    tes_key *key = NULL;
    char thp[TES_JWK_THUMBPRINT_LEN + 1];
    json_t *jwk = NULL;
    if (tes_file_read(path, 4096, &text) == TES_OK &&
        (jwk = json_loadb((const char *)text.ptr, text.len, 0, NULL)) != NULL &&
        tes_jwk_to_key(jwk, &key) == TES_OK && tes_jwk_thumbprint(key, thp) == TES_OK &&
        tes_b64url_decode(&raw, thp, strlen(thp)) == TES_OK && raw.len == 32) {
        memcpy(out, raw.ptr, 32);
        ok = true;
    }
    json_decref(jwk);
    tes_key_free(key);
    tes_buf_free(&text);
    tes_buf_free(&raw);
    return ok;
}

TEST(transcript_is_the_spec_example)
{
    uint8_t thp[32];
    REQUIRE(example_thumbprint(thp));
    tes_buf info = {0}, want = {0}, got = {0};
    REQUIRE(tes_test_vector(VEC "handover_info", &info) == TES_OK);
    /* the thumbprint of the example JWK is the one inside the HandoverInfo */
    CHECK_EQ_MEM(info.ptr + info.len - 32 - 30, thp, 32);
    REQUIRE(tes_test_vector(VEC "session_transcript", &want) == TES_OK);
    CHECK_ERR(tes_oid4vp_session_transcript(EX_CLIENT, EX_NONCE, thp, EX_URI, &got), TES_OK);
    CHECK_EQ_INT(got.len, want.len);
    CHECK_EQ_MEM(got.ptr, want.ptr, want.len);
    /* the mdoc layer accepts it as a plain SessionTranscript */
    tes_buf plain = {0}, tagged = {0};
    CHECK_ERR(tes_mdoc_transcript_load(tes_buf_bytes(&got), &plain, &tagged), TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&plain), tes_buf_bytes(&got)));
    tes_buf_free(&plain);
    tes_buf_free(&tagged);
    tes_buf_free(&info);
    tes_buf_free(&want);
    tes_buf_free(&got);
}

/* Unencrypted response: jwkThumbprint is CBOR null. Expected bytes derived by
 * hand from the CDDL: [null, null, ["OpenID4VPHandover", SHA-256(info)]],
 * info = 84 | 63 "a:b" | 61 "n" | f6 | 63 "u:v". */
TEST(transcript_without_encryption_has_null_thumbprint)
{
    static const uint8_t info[] = {0x84, 0x63, 'a', ':', 'b', 0x61, 'n', 0xf6,
                                   0x63, 'u', ':', 'v'};
    uint8_t h[32];
    REQUIRE(tes_digest(TES_HASH_SHA256, TES_BYTES(info, sizeof info), h) == TES_OK);
    tes_buf want = {0}, got = {0};
    static const uint8_t head[] = {0x83, 0xf6, 0xf6, 0x82, 0x71, 'O', 'p', 'e', 'n', 'I', 'D',
                                   '4',  'V',  'P',  'H',  'a',  'n', 'd', 'o', 'v', 'e', 'r',
                                   0x58, 0x20};
    tes_buf_append(&want, head, sizeof head);
    tes_buf_append(&want, h, sizeof h);
    CHECK_ERR(tes_oid4vp_session_transcript("a:b", "n", NULL, "u:v", &got), TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&got), tes_buf_bytes(&want)));
    tes_buf_free(&want);
    tes_buf_free(&got);
}

/* tests/interop/oid4vp_transcript.json: cases whose bytes @owf/mdoc
 * (SessionTranscript.forOid4Vp, tests/interop/oid4vp_transcript.mjs) and a
 * by-hand encoding of the CDDL agree on; ours must give the same. */
TEST(transcript_agrees_with_owf_mdoc)
{
    tes_buf text = {0};
    REQUIRE(tes_file_read("tests/interop/oid4vp_transcript.json", 1u << 16, &text) == TES_OK);
    json_t *cases = json_loadb((const char *)text.ptr, text.len, 0, NULL);
    tes_buf_free(&text);
    REQUIRE(json_is_array(cases) && json_array_size(cases) >= 3);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *thp_hex = json_string_value(json_object_get(c, "jwk_thumbprint"));
        const char *want_hex = json_string_value(json_object_get(c, "session_transcript"));
        tes_buf thp = {0}, want = {0}, got = {0};
        REQUIRE(want_hex != NULL && tes_hex_decode(&want, want_hex, strlen(want_hex)) == TES_OK);
        if (thp_hex != NULL)
            REQUIRE(tes_hex_decode(&thp, thp_hex, strlen(thp_hex)) == TES_OK && thp.len == 32);
        CHECK_ERR(tes_oid4vp_session_transcript(
                      json_string_value(json_object_get(c, "client_id")),
                      json_string_value(json_object_get(c, "nonce")), thp_hex ? thp.ptr : NULL,
                      json_string_value(json_object_get(c, "response_uri")), &got),
                  TES_OK);
        if (!tes_bytes_eq(tes_buf_bytes(&got), tes_buf_bytes(&want)))
            fprintf(stderr, "    case %s differs\n",
                    json_string_value(json_object_get(c, "name")));
        CHECK(tes_bytes_eq(tes_buf_bytes(&got), tes_buf_bytes(&want)));
        tes_buf_free(&thp);
        tes_buf_free(&want);
        tes_buf_free(&got);
    }
    json_decref(cases);
}

TEST(transcript_binds_every_input)
{
    uint8_t thp[32] = {1}, thp2[32] = {2};
    tes_buf base = {0};
    REQUIRE(tes_oid4vp_session_transcript("c", "n", thp, "u", &base) == TES_OK);
    struct {
        const char *c, *n, *u;
        const uint8_t *t;
    } v[] = {{"c2", "n", "u", thp}, {"c", "n2", "u", thp}, {"c", "n", "u2", thp},
             {"c", "n", "u", thp2}, {"c", "n", "u", NULL}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tes_buf o = {0};
        CHECK_ERR(tes_oid4vp_session_transcript(v[i].c, v[i].n, v[i].t, v[i].u, &o), TES_OK);
        CHECK(!tes_bytes_eq(tes_buf_bytes(&o), tes_buf_bytes(&base)));
        tes_buf_free(&o);
    }
    tes_buf_free(&base);
}

TEST(transcript_refuses_missing_inputs)
{
    tes_buf o = {0};
    CHECK_ERR(tes_oid4vp_session_transcript(NULL, "n", NULL, "u", &o), TES_ERR_ARG);
    CHECK_ERR(tes_oid4vp_session_transcript("c", "", NULL, "u", &o), TES_ERR_ARG);
    CHECK_ERR(tes_oid4vp_session_transcript("c", "n", NULL, NULL, &o), TES_ERR_ARG);
    CHECK_ERR(tes_oid4vp_session_transcript("c", "n", NULL, "u", NULL), TES_ERR_ARG);
    CHECK_EQ_INT(o.len, 0);
}

/* ---------------------------------------------------------------- DCQL parsing */

static tes_err parse(const char *json, tes_dcql_query **q)
{
    return tes_dcql_parse(json, strlen(json), q);
}

/* OpenID4VP 1.0 Appendix D, "mso_mdoc" example. */
static const char SPEC_MDOC[] =
    "{\"credentials\":[{\"id\":\"my_credential\",\"format\":\"mso_mdoc\","
    "\"meta\":{\"doctype_value\":\"org.iso.7367.1.mVRC\"},"
    "\"claims\":[{\"path\":[\"org.iso.7367.1\",\"vehicle_holder\"]},"
    "{\"path\":[\"org.iso.18013.5.1\",\"first_name\"]}]}]}";

/* OpenID4VP (§6.4.2 / Appendix D): an ID from an mDL or a photo card, an
 * address optionally, as printed in the spec (with the drafts' "purpose"). */
static const char SPEC_SETS[] =
    "{\"credentials\":["
    "{\"id\":\"mdl-id\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"org.iso.18013.5.1.mDL\"},"
    "\"claims\":[{\"id\":\"given_name\",\"path\":[\"org.iso.18013.5.1\",\"given_name\"]},"
    "{\"id\":\"family_name\",\"path\":[\"org.iso.18013.5.1\",\"family_name\"]},"
    "{\"id\":\"portrait\",\"path\":[\"org.iso.18013.5.1\",\"portrait\"]}]},"
    "{\"id\":\"mdl-address\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"org.iso.18013.5.1.mDL\"},"
    "\"claims\":[{\"id\":\"resident_address\",\"path\":[\"org.iso.18013.5.1\",\"resident_address\"]},"
    "{\"id\":\"resident_country\",\"path\":[\"org.iso.18013.5.1\",\"resident_country\"]}]},"
    "{\"id\":\"photo_card-id\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"org.iso.23220.photoid.1\"},"
    "\"claims\":[{\"id\":\"given_name\",\"path\":[\"org.iso.18013.5.1\",\"given_name\"]},"
    "{\"id\":\"family_name\",\"path\":[\"org.iso.18013.5.1\",\"family_name\"]},"
    "{\"id\":\"portrait\",\"path\":[\"org.iso.18013.5.1\",\"portrait\"]}]},"
    "{\"id\":\"photo_card-address\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"org.iso.23220.photoid.1\"},"
    "\"claims\":[{\"id\":\"resident_address\",\"path\":[\"org.iso.18013.5.1\",\"resident_address\"]},"
    "{\"id\":\"resident_country\",\"path\":[\"org.iso.18013.5.1\",\"resident_country\"]}]}],"
    "\"credential_sets\":["
    "{\"purpose\":\"Identification\",\"options\":[[\"mdl-id\"],[\"photo_card-id\"]]},"
    "{\"purpose\":\"Proof of address\",\"required\":false,"
    "\"options\":[[\"mdl-address\"],[\"photo_card-address\"]]}]}";

TEST(dcql_parses_the_spec_mdoc_example)
{
    tes_dcql_query *q = NULL;
    REQUIRE(parse(SPEC_MDOC, &q) == TES_OK);
    REQUIRE(q->n_credentials == 1);
    tes_dcql_credential *c = &q->credentials[0];
    CHECK_EQ_STR(c->id, "my_credential");
    CHECK_EQ_STR(c->doctype, "org.iso.7367.1.mVRC");
    CHECK(!c->multiple);
    CHECK(c->require_cryptographic_holder_binding);
    REQUIRE(c->n_claims == 2);
    CHECK(c->claims[0].id == NULL);
    CHECK_EQ_STR(c->claims[0].ns, "org.iso.7367.1");
    CHECK_EQ_STR(c->claims[0].element, "vehicle_holder");
    CHECK_EQ_STR(c->claims[1].ns, "org.iso.18013.5.1");
    CHECK_EQ_STR(c->claims[1].element, "first_name");
    CHECK_EQ_INT(c->n_claim_sets, 0);
    CHECK_EQ_INT(q->n_credential_sets, 0);
    tes_dcql_query_free(q);
}

TEST(dcql_parses_the_spec_credential_sets_example)
{
    tes_dcql_query *q = NULL;
    REQUIRE(parse(SPEC_SETS, &q) == TES_OK);
    CHECK_EQ_INT(q->n_credentials, 4);
    REQUIRE(q->n_credential_sets == 2);
    CHECK(q->credential_sets[0].required);
    CHECK(!q->credential_sets[1].required);
    REQUIRE(q->credential_sets[1].n_options == 2);
    CHECK_EQ_INT(q->credential_sets[1].options[1].n, 1);
    CHECK_EQ_INT(q->credential_sets[1].options[1].claims[0], 3);
    tes_dcql_query_free(q);
}

TEST(dcql_parses_every_member)
{
    tes_dcql_query *q = NULL;
    REQUIRE(parse("{\"credentials\":[{\"id\":\"pid-1_x\",\"format\":\"mso_mdoc\","
                  "\"meta\":{\"doctype_value\":\"eu.europa.ec.eudi.pid.1\"},\"multiple\":true,"
                  "\"require_cryptographic_holder_binding\":false,"
                  "\"trusted_authorities\":[{\"type\":\"aki\",\"values\":[\"s9tIpPmhxdiuNkHMEWNpYim8S8Y\"]}],"
                  "\"claims\":[{\"id\":\"a\",\"path\":[\"ns\",\"age_over_18\"],\"values\":[true],"
                  "\"intent_to_retain\":true},"
                  "{\"id\":\"b\",\"path\":[\"ns\",\"nationality\"],\"values\":[\"DE\",\"FR\",7]}],"
                  "\"claim_sets\":[[\"a\",\"b\"],[\"a\"]]}]}",
                  &q) == TES_OK);
    tes_dcql_credential *c = &q->credentials[0];
    CHECK(c->multiple);
    CHECK(!c->require_cryptographic_holder_binding);
    CHECK_EQ_INT(c->n_trusted_authorities, 1);
    CHECK(c->claims[0].intent_to_retain);
    CHECK(!c->claims[1].intent_to_retain);
    REQUIRE(c->claims[0].n_values == 1);
    CHECK(c->claims[0].values[0].type == TES_DCQL_VALUE_BOOL && c->claims[0].values[0].b);
    REQUIRE(c->claims[1].n_values == 3);
    CHECK_EQ_STR(c->claims[1].values[1].str, "FR");
    CHECK(c->claims[1].values[2].type == TES_DCQL_VALUE_INT && c->claims[1].values[2].i == 7);
    REQUIRE(c->n_claim_sets == 2);
    CHECK_EQ_INT(c->claim_sets[0].n, 2);
    CHECK_EQ_INT(c->claim_sets[1].claims[0], 0);
    tes_dcql_query_free(q);
}

#define CRED(extra)                                                                                \
    "{\"id\":\"c\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"d\"}" extra "}"
#define Q(creds) "{\"credentials\":[" creds "]}"
#define CLAIM "{\"id\":\"x\",\"path\":[\"ns\",\"e\"]}"

TEST(dcql_refuses_malformed_queries)
{
    static const struct {
        const char *json;
        tes_err want;
    } cases[] = {
        {"", TES_ERR_DCQL},
        {"[]", TES_ERR_DCQL},
        {"{\"credentials\":[]}", TES_ERR_DCQL},                  /* empty array */
        {"{}", TES_ERR_DCQL},                                    /* no credentials */
        {"{\"credentials\":{}}", TES_ERR_DCQL},
        {Q(CRED("")) "x", TES_ERR_DCQL},                          /* trailing garbage */
        {"{\"credentials\":[" CRED("") "],\"extra\":1}", TES_ERR_DCQL}, /* unknown member */
        {"{\"credentials\":[" CRED("") "],\"credentials\":[]}", TES_ERR_DCQL}, /* dup key */
        {Q(CRED("") "," CRED("")), TES_ERR_DCQL},                 /* duplicate id */
        {Q("{\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"d\"}}"), TES_ERR_DCQL},
        {Q("{\"id\":\"a b\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"d\"}}"),
         TES_ERR_DCQL},                                           /* id charset */
        {Q("{\"id\":\"\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"d\"}}"),
         TES_ERR_DCQL},
        {Q("{\"id\":\"c\",\"format\":\"dc+sd-jwt\",\"meta\":{\"vct_values\":[\"x\"]}}"),
         TES_ERR_DCQL_UNSUPPORTED},
        {Q("{\"id\":\"c\",\"format\":\"ldp_vc\"}"), TES_ERR_DCQL_UNSUPPORTED},
        {Q("{\"id\":\"c\",\"meta\":{\"doctype_value\":\"d\"}}"), TES_ERR_DCQL}, /* no format */
        {Q("{\"id\":\"c\",\"format\":\"mso_mdoc\"}"), TES_ERR_DCQL},          /* no meta */
        {Q("{\"id\":\"c\",\"format\":\"mso_mdoc\",\"meta\":{}}"), TES_ERR_DCQL},
        {Q("{\"id\":\"c\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":1}}"),
         TES_ERR_DCQL},
        {Q("{\"id\":\"c\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"d\",\"x\":1}}"),
         TES_ERR_DCQL},
        {Q(CRED(",\"multiple\":\"yes\"")), TES_ERR_DCQL},
        {Q(CRED(",\"require_cryptographic_holder_binding\":1")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\"]}]")), TES_ERR_DCQL},        /* path length */
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\",\"f\"]}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",0]}]")), TES_ERR_DCQL},      /* path type */
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",null]}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":\"ns/e\"}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"id\":\"x\"}]")), TES_ERR_DCQL},             /* no path */
        {Q(CRED(",\"claims\":[" CLAIM "," CLAIM "]")), TES_ERR_DCQL},        /* dup claim id */
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"],\"x\":1}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"],\"values\":[]}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"],\"values\":[1.5]}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"],\"values\":[null]}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"],\"values\":[{}]}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"],\"values\":\"a\"}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"],\"intent_to_retain\":0}]")), TES_ERR_DCQL},
        {Q(CRED(",\"claim_sets\":[[\"x\"]]")), TES_ERR_DCQL},                /* sets w/o claims */
        {Q(CRED(",\"claims\":[" CLAIM "],\"claim_sets\":[[\"y\"]]")), TES_ERR_DCQL}, /* unknown */
        {Q(CRED(",\"claims\":[" CLAIM "],\"claim_sets\":[]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[" CLAIM "],\"claim_sets\":[[]]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[" CLAIM "],\"claim_sets\":[[\"x\",\"x\"]]")), TES_ERR_DCQL},
        {Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"]}],\"claim_sets\":[[\"x\"]]")),
         TES_ERR_DCQL},                                           /* claim without id */
        {Q(CRED(",\"trusted_authorities\":[]")), TES_ERR_DCQL},
        {Q(CRED(",\"trusted_authorities\":[{\"type\":\"aki\"}]")), TES_ERR_DCQL},
        {Q(CRED(",\"trusted_authorities\":[{\"type\":\"aki\",\"values\":[]}]")), TES_ERR_DCQL},
        {Q(CRED(",\"trusted_authorities\":[{\"type\":\"aki\",\"values\":[1]}]")), TES_ERR_DCQL},
        {"{\"credentials\":[" CRED("") "],\"credential_sets\":[]}", TES_ERR_DCQL},
        {"{\"credentials\":[" CRED("") "],\"credential_sets\":[{\"options\":[]}]}", TES_ERR_DCQL},
        {"{\"credentials\":[" CRED("") "],\"credential_sets\":[{\"options\":[[]]}]}", TES_ERR_DCQL},
        {"{\"credentials\":[" CRED("") "],\"credential_sets\":[{\"options\":[[\"z\"]]}]}",
         TES_ERR_DCQL},                                           /* unknown credential id */
        {"{\"credentials\":[" CRED("") "],\"credential_sets\":[{}]}", TES_ERR_DCQL},
        {"{\"credentials\":[" CRED("") "],\"credential_sets\":[{\"options\":[[\"c\"]],"
         "\"required\":\"no\"}]}",
         TES_ERR_DCQL},
        {"{\"credentials\":[" CRED("") "],\"credential_sets\":[{\"options\":[[\"c\"]],\"x\":1}]}",
         TES_ERR_DCQL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tes_dcql_query *q = NULL;
        tes_err got = parse(cases[i].json, &q);
        if (got != cases[i].want)
            fprintf(stderr, "    case %zu: %s\n", i, cases[i].json);
        CHECK_ERR(got, cases[i].want);
        CHECK(q == NULL);
        tes_dcql_query_free(q);
    }
    tes_dcql_query *q = NULL;
    CHECK_ERR(tes_dcql_parse(NULL, 0, &q), TES_ERR_ARG);
    CHECK_ERR(tes_dcql_parse("{}", 2, NULL), TES_ERR_ARG);
}

static void build_many(tes_buf *b, const char *head, const char *item, size_t n, const char *tail)
{
    tes_buf_reset(b);
    tes_buf_append(b, head, strlen(head));
    for (size_t i = 0; i < n; i++) {
        char one[256];
        int k = snprintf(one, sizeof one, item, i);
        if (i > 0)
            tes_buf_append(b, ",", 1);
        tes_buf_append(b, one, (size_t)k);
    }
    tes_buf_append(b, tail, strlen(tail));
}

static tes_err parse_buf(const tes_buf *b)
{
    tes_dcql_query *q = NULL;
    tes_err err = tes_dcql_parse((const char *)b->ptr, b->len, &q);
    tes_dcql_query_free(q);
    return err;
}

TEST(dcql_limits)
{
    tes_buf b = {0};
    const char *cred = "{\"id\":\"c%zu\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"d\"}}";
    build_many(&b, "{\"credentials\":[", cred, TES_DCQL_MAX_CREDENTIALS, "]}");
    CHECK_ERR(parse_buf(&b), TES_OK);
    build_many(&b, "{\"credentials\":[", cred, TES_DCQL_MAX_CREDENTIALS + 1, "]}");
    CHECK_ERR(parse_buf(&b), TES_ERR_DCQL);

    const char *claim = "{\"id\":\"x%zu\",\"path\":[\"ns\",\"e\"]}";
    const char *head = "{\"credentials\":[{\"id\":\"c\",\"format\":\"mso_mdoc\","
                       "\"meta\":{\"doctype_value\":\"d\"},\"claims\":[";
    build_many(&b, head, claim, TES_DCQL_MAX_CLAIMS, "]}]}");
    CHECK_ERR(parse_buf(&b), TES_OK);
    build_many(&b, head, claim, TES_DCQL_MAX_CLAIMS + 1, "]}]}");
    CHECK_ERR(parse_buf(&b), TES_ERR_DCQL);

    const char *vhead = "{\"credentials\":[{\"id\":\"c\",\"format\":\"mso_mdoc\","
                        "\"meta\":{\"doctype_value\":\"d\"},\"claims\":[{\"path\":[\"n\",\"e\"],"
                        "\"values\":[";
    build_many(&b, vhead, "%zu", TES_DCQL_MAX_VALUES, "]}]}]}");
    CHECK_ERR(parse_buf(&b), TES_OK);
    build_many(&b, vhead, "%zu", TES_DCQL_MAX_VALUES + 1, "]}]}]}");
    CHECK_ERR(parse_buf(&b), TES_ERR_DCQL);

    /* an id of 65 characters, a string of 513 bytes, an input beyond the bound */
    char id[TES_DCQL_MAX_ID + 2], s[TES_DCQL_MAX_STRING + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    memset(s, 'a', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    char json[2048];
    snprintf(json, sizeof json,
             "{\"credentials\":[{\"id\":\"%s\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":"
             "\"d\"}}]}",
             id);
    CHECK_ERR(parse_buf(&(tes_buf){.ptr = (uint8_t *)json, .len = strlen(json)}), TES_ERR_DCQL);
    id[TES_DCQL_MAX_ID] = '\0';
    snprintf(json, sizeof json,
             "{\"credentials\":[{\"id\":\"%s\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":"
             "\"d\"}}]}",
             id);
    CHECK_ERR(parse_buf(&(tes_buf){.ptr = (uint8_t *)json, .len = strlen(json)}), TES_OK);
    snprintf(json, sizeof json,
             "{\"credentials\":[{\"id\":\"c\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":"
             "\"%s\"}}]}",
             s);
    CHECK_ERR(parse_buf(&(tes_buf){.ptr = (uint8_t *)json, .len = strlen(json)}), TES_ERR_DCQL);

    tes_buf_reset(&b);
    tes_buf_append(&b, SPEC_MDOC, strlen(SPEC_MDOC));
    while (b.len <= TES_DCQL_MAX_INPUT)
        tes_buf_append(&b, "                ", 16);
    CHECK_ERR(parse_buf(&b), TES_ERR_DCQL);
    tes_buf_free(&b);
}

/* ---------------------------------------------------------------- DCQL matching */

#define MDL "org.iso.18013.5.1.mDL"
#define NS "org.iso.18013.5.1"
#define PHOTO "org.iso.23220.photoid.1"

static const tes_dcql_element MDL_FULL[] = {
    {NS, "given_name", NULL},       {NS, "family_name", NULL},      {NS, "portrait", NULL},
    {NS, "resident_address", NULL}, {NS, "resident_country", NULL},
};
static const tes_dcql_element MDL_NO_ADDRESS[] = {
    {NS, "given_name", NULL}, {NS, "family_name", NULL}, {NS, "portrait", NULL}};
static const tes_dcql_element PHOTO_FULL[] = {
    {NS, "given_name", NULL},       {NS, "family_name", NULL},      {NS, "portrait", NULL},
    {NS, "resident_address", NULL}, {NS, "resident_country", NULL},
};

TEST(match_credential_sets_pick_the_first_satisfiable_option)
{
    tes_dcql_query *q = NULL;
    REQUIRE(parse(SPEC_SETS, &q) == TES_OK);
    /* only a photo card: ID and address from it */
    tes_dcql_candidate photo = {PHOTO, 5, PHOTO_FULL};
    tes_dcql_result r = {0};
    CHECK_ERR(tes_dcql_match_candidates(q, &photo, 1, &r), TES_OK);
    REQUIRE(r.n == 4);
    CHECK(!r.credentials[0].selected && !r.credentials[1].selected);
    CHECK(r.credentials[2].selected && r.credentials[3].selected);
    REQUIRE(r.credentials[2].n_matches == 1);
    CHECK_EQ_INT(r.credentials[2].matches[0].n_claims, 3);
    tes_dcql_result_free(&r);

    /* an mDL without address and a photo card: ID from the mDL (first option),
     * address from the photo card */
    tes_dcql_candidate both[] = {{MDL, 3, MDL_NO_ADDRESS}, {PHOTO, 5, PHOTO_FULL}};
    CHECK_ERR(tes_dcql_match_candidates(q, both, 2, &r), TES_OK);
    CHECK(r.credentials[0].selected);
    CHECK(!r.credentials[1].selected);
    CHECK(!r.credentials[2].selected);
    CHECK(r.credentials[3].selected);
    CHECK_EQ_INT(r.credentials[0].matches[0].candidate, 0);
    CHECK_EQ_INT(r.credentials[3].matches[0].candidate, 1);
    tes_dcql_result_free(&r);

    /* an mDL alone without address: the optional set is left out */
    CHECK_ERR(tes_dcql_match_candidates(q, both, 1, &r), TES_OK);
    CHECK(r.credentials[0].selected && !r.credentials[1].selected);
    tes_dcql_result_free(&r);

    /* nothing that gives an ID: the required set fails, the result still says what matched */
    tes_dcql_candidate other = {"org.example.other", 5, MDL_FULL};
    CHECK_ERR(tes_dcql_match_candidates(q, &other, 1, &r), TES_ERR_DCQL_UNSATISFIED);
    CHECK_EQ_INT(r.n, 4);
    CHECK_EQ_INT(r.credentials[0].n_matches, 0);
    tes_dcql_result_free(&r);
    CHECK_ERR(tes_dcql_match_candidates(q, NULL, 0, &r), TES_ERR_DCQL_UNSATISFIED);
    tes_dcql_result_free(&r);
    tes_dcql_query_free(q);
}

TEST(match_without_credential_sets_needs_every_query)
{
    tes_dcql_query *q = NULL;
    REQUIRE(parse("{\"credentials\":[" CRED(",\"claims\":[{\"path\":[\"ns\",\"e\"]}]") ","
                  "{\"id\":\"k\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"k\"}}]}",
                  &q) == TES_OK);
    tes_dcql_element e[] = {{"ns", "e", NULL}, {"ns", "f", NULL}};
    tes_dcql_candidate c[] = {{"d", 2, e}, {"k", 0, NULL}, {"d", 1, e}};
    tes_dcql_result r = {0};
    CHECK_ERR(tes_dcql_match_candidates(q, c, 1, &r), TES_ERR_DCQL_UNSATISFIED);
    CHECK(r.credentials[0].selected && !r.credentials[1].selected);
    tes_dcql_result_free(&r);
    CHECK_ERR(tes_dcql_match_candidates(q, c, 3, &r), TES_OK);
    /* every matching candidate is listed, in order; a query without claims releases none */
    REQUIRE(r.credentials[0].n_matches == 2);
    CHECK_EQ_INT(r.credentials[0].matches[0].candidate, 0);
    CHECK_EQ_INT(r.credentials[0].matches[1].candidate, 2);
    CHECK_EQ_INT(r.credentials[0].matches[0].n_claims, 1);
    REQUIRE(r.credentials[1].n_matches == 1);
    CHECK_EQ_INT(r.credentials[1].matches[0].n_claims, 0);
    tes_dcql_result_free(&r);
    tes_dcql_query_free(q);
}

TEST(match_claim_sets_release_the_first_satisfiable_set)
{
    tes_dcql_query *q = NULL;
    REQUIRE(parse(Q(CRED(",\"claims\":[{\"id\":\"a\",\"path\":[\"ns\",\"a\"]},"
                         "{\"id\":\"b\",\"path\":[\"ns\",\"b\"]},{\"id\":\"c\",\"path\":[\"ns\",\"c\"]}],"
                         "\"claim_sets\":[[\"a\",\"b\"],[\"c\"],[\"a\"]]")),
                  &q) == TES_OK);
    tes_dcql_element ab[] = {{"ns", "a", NULL}, {"ns", "b", NULL}};
    tes_dcql_element ac[] = {{"ns", "a", NULL}, {"ns", "c", NULL}};
    tes_dcql_element a[] = {{"ns", "a", NULL}};
    tes_dcql_element other_ns[] = {{"nz", "a", NULL}, {"nz", "b", NULL}, {"nz", "c", NULL}};
    tes_dcql_candidate c[] = {{"d", 2, ab}, {"d", 2, ac}, {"d", 1, a}, {"d", 3, other_ns}};
    tes_dcql_result r = {0};
    CHECK_ERR(tes_dcql_match_candidates(q, c, 4, &r), TES_OK);
    REQUIRE(r.credentials[0].n_matches == 3);
    tes_dcql_match *m = r.credentials[0].matches;
    REQUIRE(m[0].n_claims == 2);
    CHECK(m[0].claims[0] == 0 && m[0].claims[1] == 1);
    REQUIRE(m[1].n_claims == 1);
    CHECK_EQ_INT(m[1].claims[0], 2); /* [c] before [a] */
    REQUIRE(m[2].n_claims == 1);
    CHECK_EQ_INT(m[2].claims[0], 0);
    tes_dcql_result_free(&r);
    tes_dcql_query_free(q);
}

TEST(match_values)
{
    tes_dcql_query *q = NULL;
    REQUIRE(parse(Q(CRED(",\"claims\":[{\"path\":[\"ns\",\"age_over_18\"],\"values\":[true]},"
                         "{\"path\":[\"ns\",\"country\"],\"values\":[\"DE\",\"FR\"]},"
                         "{\"path\":[\"ns\",\"n\"],\"values\":[7]}]")),
                  &q) == TES_OK);
    tes_dcql_value yes = {.type = TES_DCQL_VALUE_BOOL, .b = true};
    tes_dcql_value no = {.type = TES_DCQL_VALUE_BOOL, .b = false};
    tes_dcql_value fr = {.type = TES_DCQL_VALUE_STRING, .str = "FR"};
    tes_dcql_value it = {.type = TES_DCQL_VALUE_STRING, .str = "IT"};
    tes_dcql_value seven = {.type = TES_DCQL_VALUE_INT, .i = 7};
    tes_dcql_value seven_str = {.type = TES_DCQL_VALUE_STRING, .str = "7"};
    tes_dcql_element good[] = {{"ns", "age_over_18", &yes}, {"ns", "country", &fr},
                               {"ns", "n", &seven}};
    tes_dcql_element minor[] = {{"ns", "age_over_18", &no}, {"ns", "country", &fr},
                                {"ns", "n", &seven}};
    tes_dcql_element italian[] = {{"ns", "age_over_18", &yes}, {"ns", "country", &it},
                                  {"ns", "n", &seven}};
    tes_dcql_element wrong_type[] = {{"ns", "age_over_18", &yes}, {"ns", "country", &fr},
                                     {"ns", "n", &seven_str}};
    tes_dcql_element unknown[] = {{"ns", "age_over_18", NULL}, {"ns", "country", &fr},
                                  {"ns", "n", &seven}};
    tes_dcql_candidate c[] = {{"d", 3, minor}, {"d", 3, italian}, {"d", 3, wrong_type},
                              {"d", 3, good}, {"d", 3, unknown}};
    tes_dcql_result r = {0};
    CHECK_ERR(tes_dcql_match_candidates(q, c, 3, &r), TES_ERR_DCQL_UNSATISFIED);
    CHECK_EQ_INT(r.credentials[0].n_matches, 0);
    tes_dcql_result_free(&r);
    CHECK_ERR(tes_dcql_match_candidates(q, c, 5, &r), TES_OK);
    REQUIRE(r.credentials[0].n_matches == 2);
    CHECK_EQ_INT(r.credentials[0].matches[0].candidate, 3);
    CHECK(!r.credentials[0].matches[0].needs_value_check);
    /* a value not given: matches, and the caller must check it */
    CHECK_EQ_INT(r.credentials[0].matches[1].candidate, 4);
    CHECK(r.credentials[0].matches[1].needs_value_check);
    tes_dcql_result_free(&r);
    tes_dcql_query_free(q);
}

TEST(match_refuses_bad_arguments)
{
    tes_dcql_query *q = NULL;
    REQUIRE(parse(SPEC_MDOC, &q) == TES_OK);
    tes_dcql_result r = {0};
    tes_dcql_element bad[] = {{NULL, "x", NULL}};
    tes_dcql_candidate c1 = {NULL, 0, NULL}, c2 = {"d", 1, bad};
    CHECK_ERR(tes_dcql_match_candidates(NULL, &c1, 1, &r), TES_ERR_ARG);
    CHECK_ERR(tes_dcql_match_candidates(q, &c1, 1, &r), TES_ERR_ARG);
    CHECK_ERR(tes_dcql_match_candidates(q, &c2, 1, &r), TES_ERR_ARG);
    CHECK_ERR(tes_dcql_match_candidates(q, NULL, 1, &r), TES_ERR_ARG);
    CHECK(r.credentials == NULL);
    tes_dcql_query_free(q);
}
