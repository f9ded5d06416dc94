/*
 * test_wallet_authz.c — the wallet's side of an OpenID4VP 1.0 login
 * (tessera/wallet.h: tes_wallet_authorize_request, tes_wallet_authorize,
 * tes_wallet_authz_url_parse). A relying party is made here with the
 * library: an RP authority and site certificates (tes_reader_cert_issue with
 * dns_name), request objects signed with tes_jws_sign; the wallet holds a
 * PID whose MSO authorises the pseudonym namespace. The answer is decrypted
 * (tes_jwe_decrypt) and verified (tes_mdoc_verify over the same OpenID4VP
 * SessionTranscript) as a verifier would. Then every refusal, each with its
 * own error, nothing released and nothing (or only an error) POSTed; and
 * the pseudonym: stable per site, different between sites, and out of reach
 * of a site that cannot sign with another's key. The last test runs the
 * whole exchange over HTTP against a small server in a thread.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"
#include "rp_fixture.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tessera/mdoc.h"
#include "tessera/oid4vp.h"
#include "tessera/wallet.h"

#define PIN "123456"
#define DAY 86400
#define DNS "localhost"
#define PID_NS "eu.europa.ec.eudi.pid.1"

static char g_tmp[64];
static int64_t g_now;
static tes_trust_store *g_roots, *g_iaca_trust;
static tes_wallet *g_w;
static int64_t g_cred;
static tes_key *g_enc;
static tes_consent_policy *g_allow, *g_decline;

typedef struct site {
    tes_cert *leaf;
    tes_key *key;
} site;
static site g_a, g_b, g_rogue, g_expired, g_wide;

/* ---------------------------------------------------------------- setup */

static bool site_make(site *s, const char *ca, const char *out, const char *const *scope,
                      size_t n_scope, int64_t nb, int64_t na)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, out);
    const tes_reader_cert_params p = {.ca_dir = ca, .out_dir = dir, .name = "Example Shop",
                                      .purpose = "age check and account", .scope = scope,
                                      .n_scope = n_scope, .dns_name = DNS, .not_before = nb,
                                      .not_after = na, .now = g_now};
    if (tes_reader_cert_issue(&p, &s->leaf) != TES_OK) {
        fprintf(stderr, "    site: %s\n", tes_err_message());
        return false;
    }
    s->key = load_key(dir);
    return s->key != NULL;
}

static void site_free(site *s)
{
    tes_cert_free(s->leaf);
    tes_key_free(s->key);
}

#define COPIES 16

/* Issues the PID to SE key id (its MSO authorising the pseudonym namespace:
 * the PID doctype's property) into out. */
static bool issue_copy(tes_key *ds_key, tes_cert *ds, const tes_mdoc_claims *claims,
                       const char *id, tes_buf *out)
{
    const tes_doctype *pt = tes_doctype_find(TES_DOCTYPE_PID);
    tes_key *dev = NULL;
    if (tes_se_public_key(tes_wallet_se(g_w), id, &dev) != TES_OK)
        return false;
    tes_signer s = tes_signer_from_key(ds_key);
    tes_bytes chain = tes_cert_der(ds);
    const tes_mdoc_issue_params p = {.doctype = TES_DOCTYPE_PID, .claims = claims,
                                     .device_key = dev, .issuer = &s, .ds_chain = &chain,
                                     .ds_chain_len = 1, .signed_at = g_now - DAY,
                                     .valid_from = g_now - DAY, .valid_until = g_now + 300 * DAY,
                                     .device_namespaces = pt->device_namespaces,
                                     .n_device_namespaces = pt->n_device_namespaces};
    *out = (tes_buf){0};
    bool ok = tes_mdoc_issue(&p, out) == TES_OK;
    tes_key_free(dev);
    return ok;
}

/* An issuing authority (IACA and DS) and the wallet: PIN set, one PID of
 * COPIES single-use copies whose keys need the PIN (so every disclosure
 * spends exactly one copy, and a refusal none). */
static bool wallet_make(void)
{
    tes_key *iaca_key = NULL, *ds_key = NULL;
    tes_cert *iaca = NULL, *ds = NULL;
    tes_mdoc_claims claims = {0};
    tes_buf mdocs[COPIES] = {{0}};
    tes_bytes views[COPIES];
    char dir[128], id[TES_SE_ID_MAX];
    static const char pid[] =
        "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": "
        "\"Erika\", \"birth_date\": \"1964-08-12\", \"issuing_authority\": \"Utopia\", "
        "\"issuing_country\": \"UT\", \"expiry_date\": \"2031-01-01\", \"age_over_18\": true, "
        "\"nationality\": \"UT\"}}";
    tes_cert_template t = {.common_name = "Utopia IACA", .country = "UT",
                           .not_before = g_now - 10 * DAY, .not_after = g_now + 3650 * DAY,
                           .is_ca = true, .path_len = 0,
                           .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
                           .issuer_alt_uri = "https://ut.example"};
    tes_cert_template dt = {.common_name = "Utopia DS", .country = "UT",
                            .not_before = g_now - 10 * DAY, .not_after = g_now + 1000 * DAY,
                            .path_len = -1, .key_usage = TES_KU_DIGITAL_SIGNATURE,
                            .eku_oid = TES_OID_EKU_MDL_DS, .issuer_alt_uri = "https://ut.example",
                            .crl_uri = "https://ut.example/crl"};
    snprintf(dir, sizeof dir, "%s/wallet", g_tmp);
    bool ok = tes_key_generate(TES_CURVE_P256, &iaca_key) == TES_OK &&
              tes_key_generate(TES_CURVE_P256, &ds_key) == TES_OK &&
              tes_cert_create(&t, iaca_key, NULL, iaca_key, &iaca) == TES_OK &&
              tes_cert_create(&dt, ds_key, iaca, iaca_key, &ds) == TES_OK &&
              tes_trust_store_new(&g_iaca_trust) == TES_OK &&
              tes_trust_store_add(g_iaca_trust, TES_PROFILE_DS, iaca) == TES_OK &&
              tes_wallet_create(dir, NULL, &g_w) == TES_OK &&
              tes_wallet_pin_set(g_w, PIN, "12345678") == TES_OK &&
              tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), pid, strlen(pid), NULL,
                                        &claims) == TES_OK;
    const tes_se_key_opts ko = {.user_verification = true, .single_use = true};
    for (size_t i = 0; ok && i < COPIES; i++) {
        ok = tes_se_create_key(tes_wallet_se(g_w), &ko, id) == TES_OK &&
             issue_copy(ds_key, ds, &claims, id, &mdocs[i]);
        views[i] = tes_buf_bytes(&mdocs[i]);
    }
    if (ok && tes_wallet_add_batch(g_w, views, COPIES, NULL, &g_cred, NULL) != TES_OK) {
        fprintf(stderr, "    wallet: %s\n", tes_err_message());
        ok = false;
    }
    for (size_t i = 0; i < COPIES; i++)
        tes_buf_free(&mdocs[i]);
    tes_mdoc_claims_free(&claims);
    tes_key_free(iaca_key);
    tes_key_free(ds_key);
    tes_cert_free(iaca);
    tes_cert_free(ds);
    return ok;
}

TEST(setup)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tes_authz_XXXXXX");
    REQUIRE(mkdtemp(g_tmp) != NULL);
    g_now = (int64_t)time(NULL);
    char ca[128], rogue[128];
    snprintf(ca, sizeof ca, "%s/rpca", g_tmp);
    snprintf(rogue, sizeof rogue, "%s/rogue", g_tmp);
    tes_cert *root = NULL;
    REQUIRE(tes_reader_ca_create(
                &(tes_reader_ca_params){.dir = ca, .name = "RP Authority", .now = g_now},
                &root) == TES_OK);
    REQUIRE(tes_reader_ca_create(
                &(tes_reader_ca_params){.dir = rogue, .name = "RP Authority", .now = g_now},
                NULL) == TES_OK);
    REQUIRE(tes_trust_store_new(&g_roots) == TES_OK);
    REQUIRE(tes_trust_store_add(g_roots, TES_PROFILE_READER, root) == TES_OK);
    tes_cert_free(root);
    static const char *const scope[] = {PID_NS "/age_over_18"};
    static const char *const wide[] = {PID_NS "/age_over_18", PID_NS "/family_name"};
    REQUIRE(site_make(&g_a, ca, "a", scope, 1, 0, 0));
    REQUIRE(site_make(&g_b, ca, "b", scope, 1, 0, 0));
    REQUIRE(site_make(&g_wide, ca, "wide", wide, 2, 0, 0));
    REQUIRE(site_make(&g_rogue, rogue, "rogue", scope, 1, 0, 0));
    REQUIRE(site_make(&g_expired, ca, "old", scope, 1, g_now - 10 * DAY, g_now - DAY));
    REQUIRE(tes_key_generate(TES_CURVE_P256, &g_enc) == TES_OK);
    REQUIRE(wallet_make());
    static const char allow[] = "{\"readers\": [{\"name\": \"Example Shop\", \"allow\": \"*\"}],"
                                " \"pin\": \"" PIN "\"}";
    static const char decline[] = "{\"readers\": [{\"name\": \"Another Shop\", \"allow\": "
                                  "\"*\"}], \"pin\": \"" PIN "\"}";
    REQUIRE(tes_consent_policy_parse(allow, strlen(allow), &g_allow) == TES_OK);
    REQUIRE(tes_consent_policy_parse(decline, strlen(decline), &g_decline) == TES_OK);
}

/* ---------------------------------------------------------------- requests */

typedef struct req_spec {
    const site *cert;   /* x5c */
    const tes_key *key; /* signs (NULL: cert's) */
    const char *response_uri;
    const char *dcql;   /* JSON text (NULL: age_over_18 and the pseudonym) */
    const char *enc;    /* "A128GCM" only, "": none listed, NULL: both */
    const char *nonce;
} req_spec;

static const char DCQL_DEFAULT[] =
    "{\"credentials\": [{\"id\": \"pid\", \"format\": \"mso_mdoc\", \"meta\": "
    "{\"doctype_value\": \"eu.europa.ec.eudi.pid.1\"}, \"claims\": ["
    "{\"path\": [\"eu.europa.ec.eudi.pid.1\", \"age_over_18\"]},"
    "{\"path\": [\"org.tessera.pseudonym.1\", \"pseudonym\"]}]}]}";

static char *request(const req_spec *s)
{
    json_t *jwk = NULL;
    if (tes_jwk_from_key(g_enc, &jwk) != TES_OK)
        return NULL;
    json_object_set_new(jwk, "use", json_string("enc"));
    json_object_set_new(jwk, "kid", json_string("enc-1"));
    json_error_t je;
    json_t *dcql = json_loads(s->dcql ? s->dcql : DCQL_DEFAULT, 0, &je);
    json_t *encs = s->enc && s->enc[0] ? json_pack("[s]", s->enc)
                                       : json_pack("[s, s]", "A128GCM", "A256GCM");
    json_t *p = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:{s:{s:[o]}, s:o}}", "client_id",
        "x509_san_dns:" DNS, "response_type", "vp_token", "response_mode", "direct_post.jwt",
        "response_uri", s->response_uri ? s->response_uri : "http://localhost:18451/response",
        "nonce", s->nonce ? s->nonce : "n-0S6_WzA2Mj", "state", "st-1", "aud", TES_OID4VP_AUD,
        "iat", (json_int_t)g_now, "exp", (json_int_t)(g_now + 300), "dcql_query", dcql,
        "client_metadata", "jwks", "keys", jwk, "encrypted_response_enc_values_supported", encs);
    if (p && s->enc && !s->enc[0])
        json_object_del(json_object_get(p, "client_metadata"),
                        "encrypted_response_enc_values_supported");
    json_t *h = json_pack("{s:s, s:s, s:o}", "alg", "ES256", "typ", "oauth-authz-req+jwt", "x5c",
                          x5c_of(s->cert->leaf));
    tes_buf out = {0};
    char *text = NULL;
    if (p && h &&
        tes_jws_sign(h, p, tes_jws_key_signer, (void *)(s->key ? s->key : s->cert->key), &out) ==
            TES_OK)
        text = tes_bytes_cstr(tes_buf_bytes(&out));
    tes_buf_free(&out);
    json_decref(h);
    json_decref(p);
    return text;
}

static tes_wallet_authorize_opts opts(tes_consent_policy *policy)
{
    return (tes_wallet_authorize_opts){.consent = tes_consent_policy_decide,
                                       .consent_ctx = policy,
                                       .rp_trust = g_roots,
                                       .allow_loopback_http = true};
}

/* The credential's single-use copies not spent yet. */
static int64_t unused_copies(void)
{
    tes_store_cred *c = NULL;
    int64_t n = -1;
    if (tes_wallet_credential(g_w, g_cred, &c) == TES_OK)
        n = c->unused_copies;
    tes_store_creds_free(c, 1);
    return n;
}

static size_t log_count(void)
{
    tes_store_log_entry *l = NULL;
    size_t n = 0;
    if (tes_wallet_log(g_w, &l, &n) != TES_OK)
        return (size_t)-1;
    tes_store_log_free(l, n);
    return n;
}

/* The last log entry's outcome (static copy). */
static const char *last_outcome(void)
{
    static char out[128];
    tes_store_log_entry *l = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (tes_wallet_log(g_w, &l, &n) == TES_OK && n > 0)
        snprintf(out, sizeof out, "%s | %s | %s", l[n - 1].outcome, l[n - 1].relying_party,
                 l[n - 1].elements);
    tes_store_log_free(l, n);
    return out;
}

/* Runs the core on spec with policy; *form the body to POST. */
static tes_err run(const req_spec *s, tes_consent_policy *policy, const char *client_id,
                   tes_buf *form, tes_wallet_authorize_result *res)
{
    char *jws = request(s);
    if (jws == NULL)
        return TES_ERR_ARG;
    const tes_wallet_authorize_opts o = opts(policy);
    tes_err e = tes_wallet_authorize_request(g_w, jws, strlen(jws),
                                             client_id ? client_id : "x509_san_dns:" DNS, &o,
                                             form, res);
    free(jws);
    return e;
}

/* ---------------------------------------------------------------- the verifier's side */

typedef struct verified {
    bool age_over_18;
    uint8_t pseudonym[32];
    bool has_pseudonym;
    size_t n_elems;
    char enc[16];
    char kid[16];
} verified;

/* Decrypts the form's JWE, checks state, verifies the DeviceResponse over
 * the transcript of (client_id, nonce, enc thumbprint, response_uri). */
static tes_err verify_form(const tes_buf *form, const char *response_uri, const char *nonce,
                           verified *v)
{
    memset(v, 0, sizeof *v);
    if (form->len < 9 || memcmp(form->ptr, "response=", 9) != 0)
        return TES_ERR_ARG;
    tes_buf pt = {0}, dr = {0}, tr = {0};
    json_t *h = NULL, *pl = NULL;
    tes_mdoc_result r = {0};
    char tp[TES_JWK_THUMBPRINT_LEN + 1];
    tes_buf tpr = {0};
    tes_err e = tes_jwe_decrypt((const char *)form->ptr + 9, form->len - 9, 0, tes_jwe_key_agree,
                                g_enc, &h, &pt);
    if (e != TES_OK)
        goto out;
    snprintf(v->enc, sizeof v->enc, "%s", json_string_value(json_object_get(h, "enc")));
    snprintf(v->kid, sizeof v->kid, "%s",
             json_is_string(json_object_get(h, "kid")) ? json_string_value(json_object_get(h, "kid"))
                                                       : "");
    json_error_t je;
    pl = json_loadb((const char *)pt.ptr, pt.len, JSON_REJECT_DUPLICATES, &je);
    json_t *arr = json_object_get(json_object_get(pl, "vp_token"), "pid");
    json_t *st = json_object_get(pl, "state");
    if (!json_is_array(arr) || json_array_size(arr) != 1 || !json_is_string(st) ||
        strcmp(json_string_value(st), "st-1") != 0) {
        e = TES_ERR_JSON;
        goto out;
    }
    const char *b64 = json_string_value(json_array_get(arr, 0));
    if (b64 == NULL || tes_b64url_decode(&dr, b64, strlen(b64)) != TES_OK ||
        tes_jwk_thumbprint(g_enc, tp) != TES_OK ||
        tes_b64url_decode(&tpr, tp, strlen(tp)) != TES_OK ||
        tes_oid4vp_session_transcript("x509_san_dns:" DNS, nonce, tpr.ptr, response_uri, &tr) !=
            TES_OK) {
        e = TES_ERR_JSON;
        goto out;
    }
    const tes_mdoc_verify_opts vo = {.trust = g_iaca_trust, .transcript = tes_buf_bytes(&tr),
                                     .at = g_now};
    e = tes_mdoc_verify(tes_buf_bytes(&dr), &vo, &r);
    for (size_t i = 0; e == TES_OK && r.n_docs == 1 && i < r.docs[0].n_elems; i++) {
        const tes_mdoc_element *el = &r.docs[0].elems[i];
        v->n_elems++;
        if (tes_bytes_eq(el->name, TES_BYTES_STR("age_over_18")) && !el->device_signed)
            v->age_over_18 = el->value.len == 1 && el->value.ptr[0] == 0xf5;
        if (tes_bytes_eq(el->ns, TES_BYTES_STR(TES_NS_PSEUDONYM)) &&
            tes_bytes_eq(el->name, TES_BYTES_STR(TES_ELEM_PSEUDONYM)) && el->device_signed &&
            el->value.len == 34 && el->value.ptr[0] == 0x58 && el->value.ptr[1] == 32) {
            memcpy(v->pseudonym, el->value.ptr + 2, 32);
            v->has_pseudonym = true;
        }
    }
out:
    tes_mdoc_result_free(&r);
    json_decref(h);
    json_decref(pl);
    tes_buf_free(&pt);
    tes_buf_free(&dr);
    tes_buf_free(&tr);
    tes_buf_free(&tpr);
    return e;
}

static bool form_starts(const tes_buf *f, const char *prefix)
{
    return f->len >= strlen(prefix) && memcmp(f->ptr, prefix, strlen(prefix)) == 0;
}

static bool form_has(const tes_buf *f, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= f->len; i++)
        if (memcmp(f->ptr + i, needle, n) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- tests */

TEST(url_forms)
{
    char *cid = NULL, *ru = NULL;
    CHECK_ERR(tes_wallet_authz_url_parse("openid4vp://?client_id=x509_san_dns%3Alocalhost&"
                                         "request_uri=http%3A%2F%2Flocalhost%3A1%2Fr%2F1",
                                         &cid, &ru),
              TES_OK);
    CHECK_EQ_STR(cid, "x509_san_dns:localhost");
    CHECK_EQ_STR(ru, "http://localhost:1/r/1");
    free(cid);
    free(ru);
    CHECK_ERR(tes_wallet_authz_url_parse("https://shop.example/login?request_uri=https%3A%2F%2Fs"
                                         "hop.example%2Fr&client_id=x509_san_dns%3Ashop.example&"
                                         "request_uri_method=get",
                                         &cid, &ru),
              TES_OK);
    CHECK_EQ_STR(ru, "https://shop.example/r");
    free(cid);
    free(ru);
    static const char *const bad[] = {
        "openid4vp://?client_id=a&request=eyJ",                 /* by value */
        "openid4vp://?client_id=a&client_id=b&request_uri=http%3A%2F%2Fx",
        "openid4vp://?request_uri=http%3A%2F%2Fx",              /* no client_id */
        "openid4vp://?client_id=a",                             /* no request_uri */
        "openid4vp://?client_id=a&request_uri=ftp%3A%2F%2Fx",   /* not http(s) */
        "openid4vp://?client_id=a&request_uri=http%3A%2F%2Fx&request_uri_method=post",
        "openid4vp://?client_id=%zz&request_uri=http%3A%2F%2Fx",
        "openid4vp://?client_id=a%00b&request_uri=http%3A%2F%2Fx",
        "mdoc:owBjMS4w",                                        /* another scheme */
        "openid4vp://?client_id=a&request_uri=http%3A%2F%2Fx#frag",
        "openid4vp://client_id=a",                              /* no query */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tes_err e = tes_wallet_authz_url_parse(bad[i], &cid, &ru);
        if (e != TES_ERR_AUTHZ_URL)
            fprintf(stderr, "    url %zu: %s\n", i, tes_err_name(e));
        CHECK(e == TES_ERR_AUTHZ_URL && cid == NULL && ru == NULL);
    }
    char *big = malloc(TES_WALLET_AUTHZ_URL_MAX + 64);
    REQUIRE(big != NULL);
    snprintf(big, 64, "openid4vp://?client_id=a&request_uri=http%%3A%%2F%%2Fx&pad=");
    size_t l = strlen(big);
    memset(big + l, 'a', TES_WALLET_AUTHZ_URL_MAX + 63 - l);
    big[TES_WALLET_AUTHZ_URL_MAX + 63] = '\0';
    CHECK_ERR(tes_wallet_authz_url_parse(big, &cid, &ru), TES_ERR_AUTHZ_URL);
    free(big);
}

TEST(login_releases_age_and_pseudonym_verifiably)
{
    tes_buf form = {0};
    tes_wallet_authorize_result res;
    int64_t before = unused_copies();
    req_spec s = {.cert = &g_a};
    CHECK_ERR(run(&s, g_allow, NULL, &form, &res), TES_OK);
    CHECK_EQ_STR(res.rp_name, "Example Shop");
    CHECK_EQ_STR(res.rp_dns, DNS);
    CHECK_EQ_STR(res.response_uri, "http://localhost:18451/response");
    CHECK(res.error_sent == NULL && res.credential_id == g_cred);
    CHECK(res.n_disclosed == 1 && strcmp(res.disclosed[0].name, "age_over_18") == 0);
    CHECK_EQ_INT(strlen(res.pseudonym), 43);
    verified v;
    CHECK_ERR(verify_form(&form, "http://localhost:18451/response", "n-0S6_WzA2Mj", &v), TES_OK);
    CHECK(v.age_over_18 && v.has_pseudonym);
    CHECK_EQ_INT(v.n_elems, 2); /* nothing else */
    CHECK_EQ_STR(v.enc, "A256GCM");
    CHECK_EQ_STR(v.kid, "enc-1");
    /* the pseudonym is the SE's for the leaf's key, and what the result says */
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD], skey[65] = {0x04}, want[32];
    REQUIRE(tes_key_public_raw(tes_cert_key(g_a.leaf), x, y) == TES_OK);
    memcpy(skey + 1, x, 32);
    memcpy(skey + 33, y, 32);
    REQUIRE(tes_se_pseudonym(tes_wallet_se(g_w), PIN, TES_BYTES(skey, 65), want) == TES_OK);
    CHECK(memcmp(v.pseudonym, want, 32) == 0);
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(want, 32));
    CHECK(b.len == 43 && memcmp(b.ptr, res.pseudonym, 43) == 0);
    tes_buf_free(&b);
    /* the DeviceResponse is bound to this nonce and response_uri */
    CHECK_ERR(verify_form(&form, "http://localhost:18451/response", "another-nonce", &v),
              TES_ERR_DEVICE_SIG);
    CHECK_ERR(verify_form(&form, "http://localhost:18452/response", "n-0S6_WzA2Mj", &v),
              TES_ERR_DEVICE_SIG);
    CHECK_EQ_INT(before, COPIES);
    CHECK_EQ_INT(unused_copies(), before - 1); /* one single-use copy spent */
    CHECK(strncmp(last_outcome(), "disclosed | Example Shop (localhost) | " PID_NS
                                  "/age_over_18," TES_NS_PSEUDONYM "/pseudonym",
                  200) == 0);
    tes_wallet_authorize_result_free(&res);
    tes_buf_free(&form);
}

TEST(a128gcm_when_a256gcm_is_not_offered)
{
    tes_buf form = {0};
    tes_wallet_authorize_result res;
    req_spec s = {.cert = &g_a, .enc = "A128GCM"};
    CHECK_ERR(run(&s, g_allow, NULL, &form, &res), TES_OK);
    verified v;
    CHECK_ERR(verify_form(&form, "http://localhost:18451/response", "n-0S6_WzA2Mj", &v), TES_OK);
    CHECK_EQ_STR(v.enc, "A128GCM");
    tes_wallet_authorize_result_free(&res);
    /* none listed: A128GCM, the parameter's default */
    req_spec none = {.cert = &g_a, .enc = ""};
    CHECK_ERR(run(&none, g_allow, NULL, &form, &res), TES_OK);
    CHECK_ERR(verify_form(&form, "http://localhost:18451/response", "n-0S6_WzA2Mj", &v), TES_OK);
    CHECK_EQ_STR(v.enc, "A128GCM");
    tes_wallet_authorize_result_free(&res);
    tes_buf_free(&form);
}

TEST(pseudonym_stable_per_site_different_between_sites)
{
    char first[44], again[44], other[44];
    tes_buf form = {0};
    tes_wallet_authorize_result res;
    req_spec a = {.cert = &g_a}, b = {.cert = &g_b};
    CHECK_ERR(run(&a, g_allow, NULL, &form, &res), TES_OK);
    snprintf(first, sizeof first, "%s", res.pseudonym);
    tes_wallet_authorize_result_free(&res);
    CHECK_ERR(run(&a, g_allow, NULL, &form, &res), TES_OK);
    snprintf(again, sizeof again, "%s", res.pseudonym);
    tes_wallet_authorize_result_free(&res);
    CHECK_ERR(run(&b, g_allow, NULL, &form, &res), TES_OK);
    snprintf(other, sizeof other, "%s", res.pseudonym);
    tes_wallet_authorize_result_free(&res);
    CHECK(strlen(first) == 43 && strcmp(first, again) == 0);
    CHECK(strlen(other) == 43 && strcmp(first, other) != 0);
    /* site B serving site A's certificate chain cannot sign with A's key:
     * refused before anything, so B never obtains A's pseudonym */
    size_t logs = log_count();
    req_spec steal = {.cert = &g_a, .key = g_b.key};
    CHECK_ERR(run(&steal, g_allow, NULL, &form, &res), TES_ERR_SIGNATURE);
    CHECK(form.len == 0 && res.pseudonym[0] == '\0' && res.response_uri == NULL);
    CHECK_EQ_INT(log_count(), logs);
    tes_wallet_authorize_result_free(&res);
    tes_buf_free(&form);
}

/* A refusal before the request is trusted: nothing to POST, nothing logged,
 * nothing disclosed. */
static void refused_silently(const req_spec *s, const char *client_id, tes_err want)
{
    tes_buf form = {0};
    tes_wallet_authorize_result res;
    size_t logs = log_count();
    int64_t copies = unused_copies();
    tes_err e = run(s, g_allow, client_id, &form, &res);
    if (e != want)
        fprintf(stderr, "    got %s: %s\n", tes_err_name(e), tes_err_message());
    CHECK(e == want);
    CHECK(form.len == 0 && res.error_sent == NULL && res.n_disclosed == 0 &&
          res.pseudonym[0] == '\0' && res.credential_id == 0);
    CHECK_EQ_INT(log_count(), logs);
    CHECK_EQ_INT(unused_copies(), copies);
    tes_wallet_authorize_result_free(&res);
    tes_buf_free(&form);
}

/* A refusal the verifier is told of: an error form with its code and state,
 * logged, nothing disclosed. */
static void refused_and_told(const req_spec *s, tes_consent_policy *policy, tes_err want,
                             const char *error, const char *outcome)
{
    tes_buf form = {0};
    tes_wallet_authorize_result res;
    size_t logs = log_count();
    int64_t copies = unused_copies();
    tes_err e = run(s, policy, NULL, &form, &res);
    CHECK_EQ_INT(unused_copies(), copies);
    if (e != want)
        fprintf(stderr, "    got %s: %s\n", tes_err_name(e), tes_err_message());
    CHECK(e == want);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "error=%s&error_description=", error);
    CHECK(form_starts(&form, prefix) && form_has(&form, "&state=st-1"));
    CHECK(!form_has(&form, "response="));
    CHECK(res.error_sent != NULL && strcmp(res.error_sent, error) == 0);
    CHECK(res.n_disclosed == 0 && res.pseudonym[0] == '\0' && res.credential_id == 0);
    CHECK_EQ_INT(log_count(), logs + 1);
    CHECK(strncmp(last_outcome(), outcome, strlen(outcome)) == 0);
    tes_wallet_authorize_result_free(&res);
    tes_buf_free(&form);
}

TEST(refusals_before_the_request_is_trusted)
{
    req_spec other_key = {.cert = &g_a, .key = g_rogue.key};
    refused_silently(&other_key, NULL, TES_ERR_SIGNATURE);
    req_spec plain = {.cert = &g_a};
    refused_silently(&plain, "x509_san_dns:shop.example", TES_ERR_CLIENT_ID_MISMATCH);
    req_spec rogue = {.cert = &g_rogue};
    refused_silently(&rogue, NULL, TES_ERR_CHAIN_UNTRUSTED);
    req_spec old = {.cert = &g_expired};
    refused_silently(&old, NULL, TES_ERR_CERT_EXPIRED);
    /* the answer would go to another host than the certificate names */
    req_spec elsewhere = {.cert = &g_a, .response_uri = "http://127.0.0.1:18451/response"};
    refused_silently(&elsewhere, NULL, TES_ERR_RESPONSE_URI);
    /* an oversized request object */
    char *jws = request(&plain);
    REQUIRE(jws != NULL);
    size_t n = TES_OID4VP_REQUEST_MAX + 1;
    char *big = malloc(n + 1);
    REQUIRE(big != NULL);
    memset(big, 'A', n);
    memcpy(big, jws, strlen(jws));
    big[n] = '\0';
    tes_buf form = {0};
    tes_wallet_authorize_result res;
    const tes_wallet_authorize_opts o = opts(g_allow);
    CHECK_ERR(tes_wallet_authorize_request(g_w, big, n, "x509_san_dns:" DNS, &o, &form, &res),
              TES_ERR_JOSE);
    CHECK(form.len == 0);
    tes_wallet_authorize_result_free(&res);
    free(big);
    free(jws);
}

TEST(refusals_the_verifier_is_told_of)
{
    req_spec plain = {.cert = &g_a};
    refused_and_told(&plain, g_decline, TES_ERR_CONSENT, "access_denied",
                     "declined | Example Shop (localhost)");
    req_spec mdl = {.cert = &g_a,
                    .dcql = "{\"credentials\": [{\"id\": \"dl\", \"format\": \"mso_mdoc\", "
                            "\"meta\": {\"doctype_value\": \"org.iso.18013.5.1.mDL\"}, "
                            "\"claims\": [{\"path\": [\"org.iso.18013.5.1\", \"age_over_18\"]}]}]}"};
    refused_and_told(&mdl, g_allow, TES_ERR_DCQL_UNSATISFIED, "access_denied",
                     "failed: dcql_unsatisfied");
    req_spec beyond = {.cert = &g_a,
                       .dcql = "{\"credentials\": [{\"id\": \"pid\", \"format\": \"mso_mdoc\", "
                               "\"meta\": {\"doctype_value\": \"eu.europa.ec.eudi.pid.1\"}, "
                               "\"claims\": [{\"path\": [\"eu.europa.ec.eudi.pid.1\", "
                               "\"age_over_18\"]}, {\"path\": [\"eu.europa.ec.eudi.pid.1\", "
                               "\"family_name\"]}]}]}"};
    refused_and_told(&beyond, g_allow, TES_ERR_READER_SCOPE, "invalid_request",
                     "failed: reader_scope");
    /* the same request from a site whose certificate grants family_name */
    tes_buf form = {0};
    tes_wallet_authorize_result res;
    req_spec wide = beyond;
    wide.cert = &g_wide;
    CHECK_ERR(run(&wide, g_allow, NULL, &form, &res), TES_OK);
    CHECK_EQ_INT(res.n_disclosed, 2);
    tes_wallet_authorize_result_free(&res);
    tes_buf_free(&form);
    req_spec sdjwt = {.cert = &g_a,
                      .dcql = "{\"credentials\": [{\"id\": \"pid\", \"format\": \"dc+sd-jwt\", "
                              "\"meta\": {\"vct_values\": [\"urn:eudi:pid:1\"]}}]}"};
    refused_and_told(&sdjwt, g_allow, TES_ERR_DCQL_UNSUPPORTED, "invalid_request",
                     "failed: dcql_unsupported");
    req_spec unknown = {.cert = &g_a,
                        .dcql = "{\"credentials\": [{\"id\": \"pid\", \"format\": \"mso_mdoc\", "
                                "\"meta\": {\"doctype_value\": \"eu.europa.ec.eudi.pid.1\"}, "
                                "\"claims\": [{\"path\": [\"eu.europa.ec.eudi.pid.1\", "
                                "\"age_over_18\"]}], \"frobnicate\": true}]}"};
    refused_and_told(&unknown, g_allow, TES_ERR_DCQL, "invalid_request", "failed: dcql");
}

TEST(wrong_pin_releases_nothing)
{
    static const char wrong[] = "{\"readers\": [{\"name\": \"*\", \"allow\": \"*\"}],"
                                " \"pin\": \"999999\"}";
    tes_consent_policy *p = NULL;
    REQUIRE(tes_consent_policy_parse(wrong, strlen(wrong), &p) == TES_OK);
    tes_buf form = {0};
    tes_wallet_authorize_result res;
    req_spec s = {.cert = &g_a};
    int64_t copies = unused_copies();
    CHECK_ERR(run(&s, p, NULL, &form, &res), TES_ERR_PIN_WRONG);
    CHECK(form.len == 0 && res.pseudonym[0] == '\0' && res.n_disclosed == 0);
    CHECK_EQ_INT(unused_copies(), copies);
    CHECK(strncmp(last_outcome(), "failed: pin_wrong", 17) == 0);
    tes_wallet_authorize_result_free(&res);
    tes_buf_free(&form);
    tes_consent_policy_free(p);
    /* the right PIN resets the count */
    CHECK_ERR(run(&s, g_allow, NULL, &form, &res), TES_OK);
    tes_wallet_authorize_result_free(&res);
    tes_buf_free(&form);
}

/* ---------------------------------------------------------------- over HTTP */

typedef struct server {
    int fd;
    int port;
    pthread_t th;
    const char *jws; /* served at /request */
    size_t jws_len;
    const char *ctype;
    char *posted; /* body received at /response */
    int requests;
} server;

static void serve_one(server *s, int c)
{
    char buf[1 << 16];
    size_t got = 0;
    ssize_t r;
    char *end = NULL;
    while (got < sizeof buf - 1 && (r = read(c, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)r;
        buf[got] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) == NULL)
            continue;
        const char *cl = strstr(buf, "Content-Length: ");
        size_t want = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
        if (got - (size_t)(end + 4 - buf) >= want)
            break;
    }
    s->requests++;
    char head[256];
    if (strncmp(buf, "GET /request ", 13) == 0) {
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 s->ctype, s->jws_len);
        (void)!write(c, head, strlen(head));
        for (size_t off = 0; off < s->jws_len;) {
            ssize_t w = write(c, s->jws + off, s->jws_len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    } else if (strncmp(buf, "POST /response ", 15) == 0 && end != NULL) {
        free(s->posted);
        s->posted = strdup(end + 4);
        static const char body[] = "{\"redirect_uri\": \"http://localhost/cb#response_code=rc1\"}";
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 strlen(body), body);
        (void)!write(c, head, strlen(head));
    } else {
        static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        (void)!write(c, nf, strlen(nf));
    }
}

static void *server_main(void *arg)
{
    server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        serve_one(s, c);
        close(c);
    }
}

static bool server_start(server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &l) != 0)
        return false;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, server_main, s) == 0;
}

static void server_stop(server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->th, NULL);
    free(s->posted);
}

TEST(over_http_with_a_server_in_a_thread)
{
    server s = {.ctype = "application/oauth-authz-req+jwt"};
    REQUIRE(server_start(&s));
    char ru[128], url[512];
    snprintf(ru, sizeof ru, "http://localhost:%d/response", s.port);
    req_spec spec = {.cert = &g_a, .response_uri = ru};
    char *jws = request(&spec);
    REQUIRE(jws != NULL);
    s.jws = jws;
    s.jws_len = strlen(jws);
    snprintf(url, sizeof url,
             "openid4vp://?client_id=x509_san_dns%%3Alocalhost&request_uri=http%%3A%%2F%%2F"
             "localhost%%3A%d%%2Frequest",
             s.port);
    tes_wallet_authorize_opts o = opts(g_allow);
    tes_wallet_authorize_result res;
    CHECK_ERR(tes_wallet_authorize(g_w, url, &o, &res), TES_OK);
    CHECK(res.redirect_uri != NULL &&
          strcmp(res.redirect_uri, "http://localhost/cb#response_code=rc1") == 0);
    REQUIRE(s.posted != NULL);
    tes_buf form = {0};
    tes_buf_append(&form, s.posted, strlen(s.posted));
    verified v;
    CHECK_ERR(verify_form(&form, ru, "n-0S6_WzA2Mj", &v), TES_OK);
    CHECK(v.age_over_18 && v.has_pseudonym);
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(v.pseudonym, 32));
    CHECK(b.len == 43 && memcmp(b.ptr, res.pseudonym, 43) == 0);
    tes_buf_free(&b);
    tes_buf_free(&form);
    tes_wallet_authorize_result_free(&res);

    /* a refusal is POSTed as an error response */
    free(s.posted);
    s.posted = NULL;
    o.consent_ctx = g_decline;
    CHECK_ERR(tes_wallet_authorize(g_w, url, &o, &res), TES_ERR_CONSENT);
    CHECK(s.posted != NULL && strncmp(s.posted, "error=access_denied&", 20) == 0);
    tes_wallet_authorize_result_free(&res);

    /* the request object in another media type, or too large: nothing POSTed */
    free(s.posted);
    s.posted = NULL;
    o.consent_ctx = g_allow;
    s.ctype = "application/json";
    CHECK_ERR(tes_wallet_authorize(g_w, url, &o, &res), TES_ERR_REQUEST_URI);
    tes_wallet_authorize_result_free(&res);
    s.ctype = "application/oauth-authz-req+jwt";
    char *huge = malloc(TES_OID4VP_REQUEST_MAX + 100);
    REQUIRE(huge != NULL);
    memset(huge, 'A', TES_OID4VP_REQUEST_MAX + 100);
    s.jws = huge;
    s.jws_len = TES_OID4VP_REQUEST_MAX + 100;
    CHECK_ERR(tes_wallet_authorize(g_w, url, &o, &res), TES_ERR_REQUEST_URI);
    tes_wallet_authorize_result_free(&res);
    CHECK(s.posted == NULL);
    /* plain http to a host that is not loopback is refused before any request */
    int before = s.requests;
    o.allow_loopback_http = false;
    s.jws = jws;
    s.jws_len = strlen(jws);
    CHECK_ERR(tes_wallet_authorize(g_w, url, &o, &res), TES_ERR_AUTHZ_URL);
    CHECK_EQ_INT(s.requests, before);
    tes_wallet_authorize_result_free(&res);
    free(huge);
    free(jws);
    server_stop(&s);
}

TEST(teardown)
{
    tes_consent_policy_free(g_allow);
    tes_consent_policy_free(g_decline);
    tes_wallet_close(g_w);
    site_free(&g_a);
    site_free(&g_b);
    site_free(&g_wide);
    site_free(&g_rogue);
    site_free(&g_expired);
    tes_key_free(g_enc);
    tes_trust_store_free(g_roots);
    tes_trust_store_free(g_iaca_trust);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    CHECK(system(cmd) == 0);
}
