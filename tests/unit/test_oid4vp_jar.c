/*
 * test_oid4vp_jar.c — the wallet's verification of an OpenID4VP signed
 * request object (oid4vp.h, src/oid4vp/jar.c): a request built here, signed
 * with a relying party's key whose access certificate comes from a test RP
 * authority (trust.h tes_reader_cert_issue with dns_name), verifies; each
 * check is then broken once and refused with its own error.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"
#include "rp_fixture.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera/oid4vp.h"

#define RP_DNS "rp.example.com"

static char g_tmp[64];
static int64_t g_now;
static tes_trust_store *g_roots;
static tes_cert *g_leaf, *g_other_leaf, *g_expired_leaf, *g_nodns_leaf;
static tes_key *g_key, *g_other_key, *g_expired_key, *g_nodns_key, *g_enc;

/* An RP certificate from the authority in ca into tmp/out. */
static tes_cert *issue(const char *ca, const char *out, const char *dns, int64_t nb, int64_t na,
                       tes_key **key)
{
    static const char *const scope[] = {"eu.europa.ec.eudi.pid.1/age_over_18"};
    char dir[128];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, out);
    const tes_reader_cert_params p = {.ca_dir = ca,
                                      .out_dir = dir,
                                      .name = "Example Shop",
                                      .purpose = "age verification",
                                      .scope = scope,
                                      .n_scope = 1,
                                      .dns_name = dns,
                                      .not_before = nb,
                                      .not_after = na,
                                      .now = g_now};
    tes_cert *c = NULL;
    if (tes_reader_cert_issue(&p, &c) != TES_OK) {
        fprintf(stderr, "    issue: %s\n", tes_err_message());
        return NULL;
    }
    *key = load_key(dir);
    return c;
}

TEST(setup)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tes_jar_XXXXXX");
    REQUIRE(mkdtemp(g_tmp) != NULL);
    g_now = (int64_t)time(NULL);
    char ca[128], rogue[128];
    snprintf(ca, sizeof ca, "%s/rpca", g_tmp);
    snprintf(rogue, sizeof rogue, "%s/rogue", g_tmp);
    tes_cert *root = NULL;
    REQUIRE(tes_reader_ca_create(
                &(tes_reader_ca_params){.dir = ca, .name = "RP Authority", .now = g_now}, &root) ==
            TES_OK);
    REQUIRE(tes_reader_ca_create(
                &(tes_reader_ca_params){.dir = rogue, .name = "RP Authority", .now = g_now},
                NULL) == TES_OK);
    REQUIRE(tes_trust_store_new(&g_roots) == TES_OK);
    REQUIRE(tes_trust_store_add(g_roots, TES_PROFILE_READER, root) == TES_OK);
    tes_cert_free(root);
    g_leaf = issue(ca, "rp", RP_DNS, 0, 0, &g_key);
    g_other_leaf = issue(rogue, "rogue_rp", RP_DNS, 0, 0, &g_other_key);
    g_expired_leaf = issue(ca, "old_rp", RP_DNS, g_now - 10 * 86400, g_now - 86400, &g_expired_key);
    g_nodns_leaf = issue(ca, "reader", NULL, 0, 0, &g_nodns_key);
    REQUIRE(g_leaf && g_key && g_other_leaf && g_other_key && g_expired_leaf && g_expired_key &&
            g_nodns_leaf && g_nodns_key);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &g_enc) == TES_OK);
}

static char *hash_client_id(const tes_cert *c)
{
    tes_buf b = {0};
    tes_buf_append(&b, "x509_hash:", 10);
    tes_b64url_encode(&b, TES_BYTES(tes_cert_get_info(c)->sha256, 32));
    char *s = tes_bytes_cstr(tes_buf_bytes(&b));
    tes_buf_free(&b);
    return s;
}

static json_t *default_header(const tes_cert *c)
{
    return json_pack("{s:s, s:s, s:o}", "alg", "ES256", "typ", "oauth-authz-req+jwt", "x5c",
                     x5c_of(c));
}

static json_t *default_payload(void)
{
    json_t *jwk = NULL;
    if (tes_jwk_from_key(g_enc, &jwk) != TES_OK)
        return NULL;
    json_object_set_new(jwk, "use", json_string("enc"));
    json_object_set_new(jwk, "kid", json_string("enc-1"));
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:{s:[{s:s, s:s, s:{s:[s]}}]}, "
        "s:{s:{s:[o]}, s:[s, s]}}",
        "client_id", "x509_san_dns:" RP_DNS, "response_type", "vp_token", "response_mode",
        "direct_post.jwt", "response_uri", "https://" RP_DNS "/oid4vp/response", "nonce",
        "n-0S6_WzA2Mj", "state", "st-1", "aud", TES_OID4VP_AUD, "iat", (json_int_t)g_now, "exp",
        (json_int_t)(g_now + 300), "dcql_query", "credentials", "id", "pid", "format", "mso_mdoc",
        "meta", "doctype_value", "eu.europa.ec.eudi.pid.1", "client_metadata", "jwks", "keys", jwk,
        "encrypted_response_enc_values_supported", "A128GCM", "A256GCM");
}

/* Signs header and payload (references stolen) with key. */
static char *sign(json_t *h, json_t *p, const tes_key *key)
{
    tes_buf out = {0};
    char *s = NULL;
    if (h && p && tes_jws_sign(h, p, tes_jws_key_signer, (void *)key, &out) == TES_OK)
        s = tes_bytes_cstr(tes_buf_bytes(&out));
    tes_buf_free(&out);
    json_decref(h);
    json_decref(p);
    return s;
}

/* The compact JWS of header h (stolen) and the payload JSON text given as
 * is (so it may hold what jansson would not write), signed by key whatever
 * the header says. */
static tes_buf sign_raw(json_t *h, const char *payload_json, const tes_key *key)
{
    tes_buf out = {0}, pb = {0};
    uint8_t sig[TES_JWS_ES256_SIG_LEN];
    if (tes_jose_json_encode(h, &out) != TES_OK)
        out.len = 0;
    json_decref(h);
    tes_b64url_encode(&pb, TES_BYTES(payload_json, strlen(payload_json)));
    tes_buf_append(&out, ".", 1);
    tes_buf_append(&out, pb.ptr, pb.len);
    tes_buf_free(&pb);
    if (tes_jws_key_signer((void *)key, tes_buf_bytes(&out), sig) != TES_OK)
        out.len = 0;
    tes_buf_append(&out, ".", 1);
    tes_b64url_encode(&out, TES_BYTES(sig, sizeof sig));
    tes_buf_append(&out, "", 1); /* NUL-terminated */
    return out;
}

static char *default_payload_text(void)
{
    json_t *p = default_payload();
    char *t = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(p);
    return t;
}

static tes_err verify_opts(const char *jws, const tes_oid4vp_request_opts *o)
{
    tes_oid4vp_request *r = NULL;
    tes_err e = tes_oid4vp_request_verify(jws, jws ? strlen(jws) : 0, o, &r);
    if (e != TES_OK && r != NULL)
        e = TES_ERR_CRYPTO; /* a result handed out with an error */
    tes_oid4vp_request_free(r);
    return e;
}

static tes_err verify(const char *jws)
{
    const tes_oid4vp_request_opts o = {.rp_roots = g_roots, .now = g_now};
    return verify_opts(jws, &o);
}

/* The default request with payload member name set to v (NULL: removed). */
static tes_err verify_with(const char *name, json_t *v)
{
    json_t *p = default_payload();
    if (v)
        json_object_set_new(p, name, v);
    else
        json_object_del(p, name);
    char *jws = sign(default_header(g_leaf), p, g_key);
    tes_err e = verify(jws);
    free(jws);
    return e;
}

TEST(a_request_from_a_licensed_site_verifies_and_hands_out_what_the_wallet_needs)
{
    char *jws = sign(default_header(g_leaf), default_payload(), g_key);
    REQUIRE(jws != NULL);
    const tes_oid4vp_request_opts o = {
        .rp_roots = g_roots, .now = g_now, .client_id = "x509_san_dns:" RP_DNS};
    tes_oid4vp_request *r = NULL;
    tes_err e = tes_oid4vp_request_verify(jws, strlen(jws), &o, &r);
    if (e != TES_OK)
        fprintf(stderr, "    %s\n", tes_err_message());
    REQUIRE(e == TES_OK && r != NULL);
    CHECK(strcmp(r->client_id, "x509_san_dns:" RP_DNS) == 0);
    CHECK(strcmp(r->dns_name, RP_DNS) == 0);
    CHECK(strcmp(r->display_name, "Example Shop") == 0);
    CHECK(r->scope.purpose && strcmp(r->scope.purpose, "age verification") == 0);
    CHECK(r->scope.n == 1 &&
          strcmp(r->scope.elements[0], "eu.europa.ec.eudi.pid.1/age_over_18") == 0);
    CHECK(strcmp(r->response_uri, "https://" RP_DNS "/oid4vp/response") == 0);
    CHECK(strcmp(r->response_mode, "direct_post.jwt") == 0);
    CHECK(strcmp(r->nonce, "n-0S6_WzA2Mj") == 0);
    CHECK(r->state && strcmp(r->state, "st-1") == 0);
    CHECK(r->dcql_query && strstr(r->dcql_query, "\"credentials\":[{\"id\":\"pid\"") != NULL);
    CHECK(r->enc_key && tes_key_equal_public(r->enc_key, g_enc));
    char tp[TES_JWK_THUMBPRINT_LEN + 1];
    REQUIRE(tes_jwk_thumbprint(g_enc, tp) == TES_OK);
    CHECK(strcmp(r->enc_thumbprint, tp) == 0);
    CHECK(r->enc_kid && strcmp(r->enc_kid, "enc-1") == 0);
    CHECK_EQ_INT(r->enc_values, TES_OID4VP_ENC_A128GCM | TES_OID4VP_ENC_A256GCM);
    CHECK(r->leaf && tes_bytes_eq(tes_cert_der(r->leaf), tes_cert_der(g_leaf)));
    tes_oid4vp_request_free(r);
    free(jws);

    /* x509_hash of the leaf; no state, no aud, direct_post without client_metadata */
    char *cid = hash_client_id(g_leaf);
    json_t *p = default_payload();
    json_object_set_new(p, "client_id", json_string(cid));
    json_object_del(p, "state");
    json_object_del(p, "aud");
    json_object_del(p, "client_metadata");
    json_object_set_new(p, "response_mode", json_string("direct_post"));
    jws = sign(default_header(g_leaf), p, g_key);
    r = NULL;
    CHECK_ERR(
        tes_oid4vp_request_verify(
            jws, strlen(jws), &(tes_oid4vp_request_opts){.rp_roots = g_roots, .now = g_now}, &r),
        TES_OK);
    CHECK(r && r->state == NULL && r->enc_key == NULL && r->enc_thumbprint[0] == '\0' &&
          strcmp(r->dns_name, RP_DNS) == 0);
    tes_oid4vp_request_free(r);
    free(jws);
    free(cid);
}

TEST(the_signature_header_and_chain_are_checked)
{
    /* signed by another key than the certificate's */
    char *jws = sign(default_header(g_leaf), default_payload(), g_other_key);
    CHECK_ERR(verify(jws), TES_ERR_SIGNATURE);
    free(jws);
    /* wrong typ */
    json_t *h = default_header(g_leaf);
    json_object_set_new(h, "typ", json_string("JWT"));
    jws = sign(h, default_payload(), g_key);
    CHECK_ERR(verify(jws), TES_ERR_JOSE_HEADER);
    free(jws);
    /* no typ */
    h = default_header(g_leaf);
    json_object_del(h, "typ");
    jws = sign(h, default_payload(), g_key);
    CHECK_ERR(verify(jws), TES_ERR_JOSE_HEADER);
    free(jws);
    /* alg other than ES256: the signed text says ES384 (signer still ES256) */
    json_t *h384 = default_header(g_leaf);
    json_object_set_new(h384, "alg", json_string("ES384"));
    char *pt = default_payload_text();
    REQUIRE(pt != NULL);
    tes_buf forged = sign_raw(h384, pt, g_key);
    free(pt);
    CHECK_ERR(verify((const char *)forged.ptr), TES_ERR_JOSE_HEADER);
    tes_buf_free(&forged);
    /* no x5c */
    h = default_header(g_leaf);
    json_object_del(h, "x5c");
    jws = sign(h, default_payload(), g_key);
    CHECK_ERR(verify(jws), TES_ERR_JOSE_HEADER);
    free(jws);
    /* a chain to an untrusted root */
    jws = sign(default_header(g_other_leaf), default_payload(), g_other_key);
    CHECK_ERR(verify(jws), TES_ERR_CHAIN_UNTRUSTED);
    free(jws);
    /* an expired leaf */
    jws = sign(default_header(g_expired_leaf), default_payload(), g_expired_key);
    CHECK_ERR(verify(jws), TES_ERR_CERT_EXPIRED);
    free(jws);
}

TEST(the_client_id_must_name_the_certificate)
{
    CHECK_ERR(verify_with("client_id", json_string("redirect_uri:https://" RP_DNS "/cb")),
              TES_ERR_CLIENT_ID_PREFIX);
    CHECK_ERR(verify_with("client_id", json_string(RP_DNS)), TES_ERR_CLIENT_ID_PREFIX);
    CHECK_ERR(verify_with("client_id", json_string("x509_san_dns:evil.example.com")),
              TES_ERR_CLIENT_ID_MISMATCH);
    char *cid = hash_client_id(g_other_leaf);
    CHECK_ERR(verify_with("client_id", json_string(cid)), TES_ERR_CLIENT_ID_MISMATCH);
    free(cid);
    CHECK_ERR(verify_with("client_id", NULL), TES_ERR_OID4VP_REQUEST);
    /* a reader certificate without dNSName cannot be an x509_san_dns client */
    char *jws = sign(default_header(g_nodns_leaf), default_payload(), g_nodns_key);
    CHECK_ERR(verify(jws), TES_ERR_RP_PROFILE);
    free(jws);
    /* the URL's client_id differs */
    jws = sign(default_header(g_leaf), default_payload(), g_key);
    CHECK_ERR(
        verify_opts(jws, &(tes_oid4vp_request_opts){.rp_roots = g_roots,
                                                    .now = g_now,
                                                    .client_id = "x509_san_dns:other.example"}),
        TES_ERR_CLIENT_ID_MISMATCH);
    free(jws);
}

TEST(the_claims_are_checked)
{
    CHECK_ERR(verify_with("nonce", NULL), TES_ERR_OID4VP_REQUEST);
    char big[TES_OID4VP_NONCE_MAX + 2];
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_ERR(verify_with("nonce", json_string(big)), TES_ERR_OID4VP_REQUEST);
    CHECK_ERR(verify_with("state", json_integer(1)), TES_ERR_OID4VP_REQUEST);
    CHECK_ERR(verify_with("response_type", json_string("code")), TES_ERR_OID4VP_REQUEST);
    CHECK_ERR(verify_with("response_mode", json_string("fragment")), TES_ERR_OID4VP_REQUEST);
    CHECK_ERR(verify_with("aud", json_string("https://other.example")), TES_ERR_OID4VP_REQUEST);
    CHECK_ERR(verify_with("dcql_query", NULL), TES_ERR_OID4VP_REQUEST);
    CHECK_ERR(verify_with("dcql_query", json_string("{}")), TES_ERR_OID4VP_REQUEST);
    CHECK_ERR(verify_with("client_metadata", NULL), TES_ERR_OID4VP_REQUEST); /* .jwt needs a key */
    CHECK_ERR(verify_with("client_metadata", json_pack("{s:{s:[]}}", "jwks", "keys")),
              TES_ERR_OID4VP_REQUEST);
    CHECK_ERR(verify_with("client_metadata", json_pack("{s:{s:[{s:s, s:s}]}}", "jwks", "keys",
                                                       "kty", "RSA", "n", "AQAB")),
              TES_ERR_JWK);
    CHECK_ERR(verify_with("exp", json_integer(g_now - 3600)), TES_ERR_REQUEST_EXPIRED);
    CHECK_ERR(verify_with("iat", json_integer(g_now + 3600)), TES_ERR_REQUEST_EXPIRED);
    CHECK_ERR(verify_with("exp", json_string("soon")), TES_ERR_OID4VP_REQUEST);
}

TEST(the_response_uri_is_https_or_an_allowed_loopback)
{
    CHECK_ERR(verify_with("response_uri", json_string("http://" RP_DNS "/r")),
              TES_ERR_RESPONSE_URI);
    CHECK_ERR(verify_with("response_uri", json_string("ftp://" RP_DNS "/r")), TES_ERR_RESPONSE_URI);
    CHECK_ERR(verify_with("response_uri", json_string("https://user@" RP_DNS "/r")),
              TES_ERR_RESPONSE_URI);
    CHECK_ERR(verify_with("response_uri", NULL), TES_ERR_OID4VP_REQUEST);
    /* loopback http: refused by default, accepted when allowed, never for another host */
    json_t *p = default_payload();
    json_object_set_new(p, "response_uri", json_string("http://127.0.0.1:8080/r"));
    char *jws = sign(default_header(g_leaf), p, g_key);
    CHECK_ERR(verify(jws), TES_ERR_RESPONSE_URI);
    const tes_oid4vp_request_opts lo = {
        .rp_roots = g_roots, .now = g_now, .allow_loopback_http = true};
    CHECK_ERR(verify_opts(jws, &lo), TES_OK);
    free(jws);
    p = default_payload();
    json_object_set_new(p, "response_uri", json_string("http://127.0.0.1.evil.example/r"));
    jws = sign(default_header(g_leaf), p, g_key);
    CHECK_ERR(verify_opts(jws, &lo), TES_ERR_RESPONSE_URI);
    free(jws);
}

TEST(oversized_and_duplicate_members_are_refused_by_jose)
{
    json_t *p = default_payload();
    char *pad = malloc(TES_OID4VP_REQUEST_MAX);
    REQUIRE(pad != NULL);
    memset(pad, 'x', TES_OID4VP_REQUEST_MAX - 1);
    pad[TES_OID4VP_REQUEST_MAX - 1] = '\0';
    json_object_set_new(p, "padding", json_string(pad));
    free(pad);
    char *jws = sign(default_header(g_leaf), p, g_key);
    REQUIRE(jws != NULL && strlen(jws) > TES_OID4VP_REQUEST_MAX);
    CHECK_ERR(verify(jws), TES_ERR_JOSE);
    free(jws);

    /* a payload with "nonce" twice, signed correctly */
    char *pj = default_payload_text();
    REQUIRE(pj != NULL && pj[0] == '{');
    tes_buf dup = {0};
    tes_buf_append(&dup, "{\"nonce\":\"first\",", 17);
    tes_buf_append(&dup, pj + 1, strlen(pj));                   /* with its NUL */
    tes_buf once = sign_raw(default_header(g_leaf), pj, g_key); /* without: verifies */
    CHECK_ERR(verify((const char *)once.ptr), TES_OK);
    tes_buf_free(&once);
    free(pj);
    tes_buf twice = sign_raw(default_header(g_leaf), (const char *)dup.ptr, g_key);
    CHECK_ERR(verify((const char *)twice.ptr), TES_ERR_JOSE);
    CHECK(strstr(tes_err_message(), "twice") || strstr(tes_err_message(), "duplicate"));

    tes_buf_free(&dup);
    tes_buf_free(&twice);
    CHECK_ERR(verify_opts("a.b.c", &(tes_oid4vp_request_opts){.now = g_now}), TES_ERR_ARG);
}

TEARDOWN(tmp)
{
    tes_cert_free(g_leaf);
    tes_cert_free(g_other_leaf);
    tes_cert_free(g_expired_leaf);
    tes_cert_free(g_nodns_leaf);
    tes_key_free(g_key);
    tes_key_free(g_other_key);
    tes_key_free(g_expired_key);
    tes_key_free(g_nodns_key);
    tes_key_free(g_enc);
    tes_trust_store_free(g_roots);
    if (g_tmp[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        CHECK(system(cmd) == 0);
    }
}
