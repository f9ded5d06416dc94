/*
 * test_rp.c — the OpenID4VP verifier service (tessera/rp.h, src/rp/) over
 * real HTTP on loopback, answered by a test wallet made of library pieces:
 * tes_oid4vp_request_verify reads the signed request object, tes_mdoc_present
 * builds the DeviceResponse over tes_oid4vp_session_transcript,
 * tes_jwe_encrypt encrypts it to the transaction's key, libcurl POSTs it.
 * Then every attack the wallet side can mount, each refused with its own
 * error and no claims released; the demo site's cookie flow; the pure
 * parsers; SQLite and PostgreSQL (scripts/pg-test.sh, as test_registry).
 * Ports: 18410-18419 (rpsvc's range).
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pg_fixture.h"
#include "rp/rp_internal.h" /* the payload's two paths */
#include "tessera/cose.h"
#include "tessera/mdoc.h"
#include "tessera/oid4vp.h"
#include "tessera/rp.h"
#include "tessera/status.h"

#define PORT_SQLITE 18411
#define PORT_PG 18412
#define PORT_STATUS 18413

static char g_tmp[64];
static int64_t g_offset; /* the service's and the wallet's clock: now + offset */
static tes_trust_store *g_rp_roots;

static int64_t clock_now(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL) + g_offset;
}
static const tes_clock g_clock = {clock_now, NULL};

/* ------------------------------------------------------------ HTTP client */

typedef struct reply {
    long code;
    tes_buf body;
    json_t *json;
} reply;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    tes_buf_append(ud, p, sz * n);
    return sz * n;
}

static void reply_free(reply *r)
{
    tes_buf_free(&r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* method url; body (NULL: none) with content type; bearer key; cookie jar file. */
static reply http(const char *method, const char *url, const char *type, const char *body,
                  size_t len, const char *bearer, const char *jar)
{
    reply r = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char hdr[512];
    if (type) {
        snprintf(hdr, sizeof hdr, "Content-Type: %s", type);
        h = curl_slist_append(h, hdr);
    }
    if (bearer) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", bearer);
        h = curl_slist_append(h, hdr);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (jar) {
        curl_easy_setopt(c, CURLOPT_COOKIEFILE, jar);
        curl_easy_setopt(c, CURLOPT_COOKIEJAR, jar);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    json_error_t je;
    if (r.body.len)
        r.json = json_loadb((const char *)r.body.ptr, r.body.len, 0, &je);
    return r;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ------------------------------------------------------------ the world */

typedef struct world {
    tes_key *iaca_key, *ds_key, *device;
    tes_cert *iaca, *ds;
    tes_signer ds_signer;
    tes_bytes chain[1];
    tes_buf pid, pid_status; /* a PID; one with a status reference (index 5) */
    tes_buf pid_fake_pseudonym; /* one whose issuer signed a "pseudonym" element */
    char site[128], site_hash[128], trust_file[128];
} world;

static world W;

static const char PID_CLAIMS[] =
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Doe\", \"given_name\": \"Jan\", "
    "\"birth_date\": \"1990-01-01\", \"issuing_authority\": \"UT\", \"issuing_country\": \"UT\", "
    "\"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"nationality\": \"UT\"}}";

static const char DCQL_AGE[] =
    "{\"credentials\":[{\"id\":\"pid\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":"
    "\"eu.europa.ec.eudi.pid.1\"},\"claims\":[{\"path\":[\"eu.europa.ec.eudi.pid.1\","
    "\"age_over_18\"]}]}]}";

static bool make_authority(void)
{
    int64_t now = time(NULL);
    tes_cert_template rt = {.common_name = "Utopia IACA", .country = "UT",
                            .not_before = now - 86400, .not_after = now + 3 * 365 * 86400LL,
                            .is_ca = true, .path_len = 0,
                            .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
                            .issuer_alt_uri = "https://iaca.example.org"};
    tes_cert_template dt = {.common_name = "Utopia DS", .country = "UT",
                            .not_before = now - 86400, .not_after = now + 365 * 86400LL,
                            .path_len = -1, .key_usage = TES_KU_DIGITAL_SIGNATURE,
                            .eku_oid = TES_OID_EKU_MDL_DS,
                            .issuer_alt_uri = "https://iaca.example.org"};
    tes_buf pem = {0};
    bool ok = tes_key_generate(TES_CURVE_P256, &W.iaca_key) == TES_OK &&
              tes_key_generate(TES_CURVE_P256, &W.ds_key) == TES_OK &&
              tes_key_generate(TES_CURVE_P256, &W.device) == TES_OK &&
              tes_cert_create(&rt, W.iaca_key, NULL, W.iaca_key, &W.iaca) == TES_OK &&
              tes_cert_create(&dt, W.ds_key, W.iaca, W.iaca_key, &W.ds) == TES_OK &&
              tes_cert_to_pem(W.iaca, &pem) == TES_OK;
    snprintf(W.trust_file, sizeof W.trust_file, "%s/iaca.pem", g_tmp);
    ok = ok && tes_file_write(W.trust_file, tes_buf_bytes(&pem), 0644) == TES_OK;
    tes_buf_free(&pem);
    W.ds_signer = tes_signer_from_key(W.ds_key);
    W.chain[0] = tes_cert_der(W.ds);
    return ok;
}

static const char PID_CLAIMS_FAKE[] =
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Doe\", \"given_name\": \"Jan\", "
    "\"birth_date\": \"1990-01-01\", \"issuing_authority\": \"UT\", \"issuing_country\": \"UT\", "
    "\"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"nationality\": \"UT\"}, "
    "\"org.tessera.pseudonym.1\": {\"pseudonym\": \"chosen-by-the-issuer\"}}";

static bool issue_pid_with(const char *claims_json, const char *status_uri, tes_buf *out)
{
    tes_mdoc_claims claims = {0};
    int64_t now = time(NULL);
    tes_err e = tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), claims_json,
                                          strlen(claims_json), NULL, &claims);
    static const char *const device_ns[] = {TES_RP_PSEUDONYM_NS};
    tes_mdoc_issue_params ip = {.doctype = TES_DOCTYPE_PID, .claims = &claims,
                                .device_namespaces = device_ns, .n_device_namespaces = 1,
                                .device_key = W.device, .issuer = &W.ds_signer,
                                .ds_chain = W.chain, .ds_chain_len = 1,
                                .signed_at = now - 3600, .valid_from = now - 3600,
                                .valid_until = now + 86400 * 30, .status_uri = status_uri,
                                .status_idx = 5};
    if (e == TES_OK)
        e = tes_mdoc_issue(&ip, out);
    tes_mdoc_claims_free(&claims);
    if (e != TES_OK)
        fprintf(stderr, "    issue: %s\n", tes_err_message());
    return e == TES_OK;
}

static bool issue_pid(const char *status_uri, tes_buf *out)
{
    return issue_pid_with(PID_CLAIMS, status_uri, out);
}

/* An RP authority (the wallet's RP root) and a site certificate for localhost. */
static bool make_site(const char *name, const char *dir, tes_rp_client_id_prefix prefix,
                      int port)
{
    char ca[128], cert[128], url[64];
    snprintf(ca, sizeof ca, "%s/rpca", g_tmp);
    snprintf(cert, sizeof cert, "%s/%s_cert", g_tmp, name);
    static const char *const scope[] = {"eu.europa.ec.eudi.pid.1/age_over_18",
                                        "org.tessera.pseudonym.1/pseudonym"};
    struct stat st;
    if (stat(ca, &st) != 0) {
        tes_cert *root = NULL;
        if (tes_reader_ca_create(&(tes_reader_ca_params){.dir = ca, .name = "RP Authority"},
                                 &root) != TES_OK ||
            tes_trust_store_new(&g_rp_roots) != TES_OK ||
            tes_trust_store_add(g_rp_roots, TES_PROFILE_READER, root) != TES_OK)
            return false;
        tes_cert_free(root);
    }
    const tes_reader_cert_params p = {.ca_dir = ca, .out_dir = cert, .name = name,
                                      .purpose = "age check", .scope = scope, .n_scope = 2,
                                      .dns_name = "localhost"};
    if (tes_reader_cert_issue(&p, NULL) != TES_OK)
        return false;
    char cf[160], kf[160];
    snprintf(cf, sizeof cf, "%s/%s", cert, TES_READER_CERT);
    snprintf(kf, sizeof kf, "%s/%s", cert, TES_READER_KEY);
    snprintf(url, sizeof url, "http://localhost:%d", port);
    tes_rp_init_params ip = {.dir = dir, .cert_file = cf, .key_file = kf, .prefix = prefix,
                             .public_url = url};
    if (tes_rp_init(&ip) != TES_OK) {
        fprintf(stderr, "    rp init: %s\n", tes_err_message());
        return false;
    }
    return true; /* the login page's query: the default, age_over_18 and the pseudonym */
}

static char *read_api_key(const char *dir)
{
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, TES_RP_API_KEY);
    tes_buf b = {0};
    if (tes_file_read(p, 256, &b) != TES_OK)
        return NULL;
    while (b.len && (b.ptr[b.len - 1] == '\n'))
        b.len--;
    char *s = tes_bytes_cstr(tes_buf_bytes(&b));
    tes_buf_free(&b);
    return s;
}

/* ------------------------------------------------------------ the service */

typedef struct svc {
    tes_rp *rp;
    int port;
    char base[64];
    char *key;
    const char *dir;
} svc;

static void quiet_log(void *ctx, const char *line)
{
    (void)ctx;
    if (getenv("TES_RP_TEST_LOG"))
        fprintf(stderr, "      [%s]\n", line);
}

static bool svc_start(svc *s, const char *dir, int port, const char *db, tes_status_mode st)
{
    memset(s, 0, sizeof *s);
    char listen[32], cache[160], public_url[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(public_url, sizeof public_url, "http://localhost:%d", port);
    snprintf(cache, sizeof cache, "%s/cache_%d", g_tmp, port);
    const char *trust[] = {W.trust_file};
    tes_rp_config c = {.dir = dir, .listen = listen, .public_url = public_url, .db_url = db, .trust_files = trust,
                       .n_trust_files = 1, .status = st, .status_cache = cache,
                       .clock = &g_clock, .log = quiet_log, .workers = 8};
    if (tes_rp_start(&c, &s->rp, &s->port) != TES_OK) {
        fprintf(stderr, "    rp start: %s\n", tes_err_message());
        return false;
    }
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    s->key = read_api_key(dir);
    s->dir = dir;
    return s->key != NULL;
}

static void svc_stop(svc *s)
{
    tes_rp_stop(s->rp);
    free(s->key);
    memset(s, 0, sizeof *s);
}

static json_t *tx_new_q(const svc *s, const char *flow, const char *dcql);

/* A new transaction for age_over_18: its JSON (transaction_id, authorization_request, ...). */
static json_t *tx_new(const svc *s, const char *flow)
{
    return tx_new_q(s, flow, DCQL_AGE);
}

/* A new transaction with the query dcql. */
static json_t *tx_new_q(const svc *s, const char *flow, const char *dcql)
{
    char body[1024], url[128];
    snprintf(body, sizeof body, "{\"dcql_query\": %s, \"flow\": \"%s\"}", dcql, flow);
    snprintf(url, sizeof url, "%s/api/v1/transactions", s->base);
    reply r = http("POST", url, "application/json", body, strlen(body), s->key, NULL);
    json_t *v = r.code == 201 ? json_incref(r.json) : NULL;
    if (v == NULL)
        fprintf(stderr, "    tx_new: %ld %.*s\n", r.code, (int)r.body.len, (char *)r.body.ptr);
    reply_free(&r);
    return v;
}

static reply tx_get(const svc *s, const char *id, const char *query)
{
    char url[256];
    snprintf(url, sizeof url, "%s/api/v1/transactions/%s%s", s->base, id, query ? query : "");
    return http("GET", url, NULL, NULL, 0, s->key, NULL);
}

/* ------------------------------------------------------------ the test wallet */

typedef struct wopts {
    const char *client_id, *nonce, *response_uri; /* transcript overrides */
    const char *state;            /* payload state override ("" to leave it out) */
    const tes_key *encrypt_to;    /* another key */
    bool tamper;                  /* flip a character of the ciphertext */
    const char *post_to;          /* another response_uri to POST to */
    const tes_oid4vp_request *use; /* answer this request (another transaction's) */
    bool with_pseudonym;           /* also disclose org.tessera.pseudonym.1/pseudonym */
    bool device_pseudonym;         /* a device-signed pseudonym (as the wallet's SE makes) */
    bool a128gcm;                  /* encrypt with A128GCM (else A256GCM) */
} wopts;

/* The device-signed pseudonym of the test wallet: bstr of 32 bytes 0x50. */
static const uint8_t PSEUDONYM_CBOR[34] = {
    0x58, 0x20, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50,
    0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50,
    0x50, 0x50, 0x50, 0x50, 0x50, 0x50};
#define PSEUDONYM_B64 "UFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFA"

typedef struct answer {
    tes_oid4vp_request *req;
    char *form; /* the POSTed body */
    reply r;
} answer;

static void answer_free(answer *a)
{
    tes_oid4vp_request_free(a->req);
    free(a->form);
    reply_free(&a->r);
    memset(a, 0, sizeof *a);
}

/* The value of query parameter name of url, percent-decoded (malloc'd). */
static char *url_param(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=') {
            const char *v = p + 2 + n;
            size_t vl = strcspn(v, "&");
            char *out = malloc(vl + 1);
            if (out && tes_url_decode(v, vl, false, out, vl + 1, NULL) == TES_OK)
                return out;
            free(out);
            return NULL;
        }
    }
    return NULL;
}

/* Fetches and verifies the request object of the authorization request URL. */
static tes_oid4vp_request *wallet_fetch(const char *auth_url)
{
    char *uri = url_param(auth_url, "request_uri"), *cid = url_param(auth_url, "client_id");
    tes_oid4vp_request *req = NULL;
    if (uri && cid) {
        reply r = http("GET", uri, NULL, NULL, 0, NULL, NULL);
        tes_oid4vp_request_opts o = {.rp_roots = g_rp_roots, .now = clock_now(NULL),
                                     .client_id = cid, .allow_loopback_http = true};
        if (r.code != 200 ||
            tes_oid4vp_request_verify((const char *)r.body.ptr, r.body.len, &o, &req) != TES_OK)
            fprintf(stderr, "    wallet_fetch: %ld %s %.*s\n", r.code, tes_err_message(),
                    (int)r.body.len, (char *)r.body.ptr);
        reply_free(&r);
    }
    free(uri);
    free(cid);
    return req;
}

static bool build_jwe(const tes_oid4vp_request *req, const wopts *o, tes_bytes mdoc,
                      tes_buf *jwe)
{
    uint8_t tp[32];
    tes_buf raw = {0}, st = {0}, dr = {0}, b64 = {0};
    bool ok = tes_b64url_decode(&raw, req->enc_thumbprint, strlen(req->enc_thumbprint)) ==
                  TES_OK &&
              raw.len == 32;
    if (ok)
        memcpy(tp, raw.ptr, 32);
    tes_buf_free(&raw);
    ok = ok && tes_oid4vp_session_transcript(o->client_id ? o->client_id : req->client_id,
                                             o->nonce ? o->nonce : req->nonce, tp,
                                             o->response_uri ? o->response_uri : req->response_uri,
                                             &st) == TES_OK;
    static const tes_mdoc_req_elem elems[] = {
        {TES_BYTES_STR(TES_NS_PID), TES_BYTES_STR("age_over_18"), false},
        {TES_BYTES_STR(TES_RP_PSEUDONYM_NS), TES_BYTES_STR(TES_RP_PSEUDONYM_ELEMENT), false}};
    tes_signer dev = tes_signer_from_key(W.device);
    const tes_mdoc_device_elem dev_elems[] = {
        {TES_RP_PSEUDONYM_NS, TES_RP_PSEUDONYM_ELEMENT,
         TES_BYTES(PSEUDONYM_CBOR, sizeof PSEUDONYM_CBOR)}};
    tes_mdoc_present_params pp = {.mdoc = mdoc, .elems = elems,
                                  .n_elems = o->with_pseudonym ? 2 : 1,
                                  .device_elems = dev_elems,
                                  .n_device_elems = o->device_pseudonym ? 1 : 0,
                                  .transcript = tes_buf_bytes(&st), .device = &dev};
    ok = ok && tes_mdoc_present(&pp, &dr, NULL) == TES_OK;
    if (!ok)
        fprintf(stderr, "    build_jwe: %s\n", tes_err_message());
    tes_b64url_encode(&b64, tes_buf_bytes(&dr));
    json_t *payload = json_pack("{s:{s:[s#]}}", "vp_token", "pid", (const char *)b64.ptr,
                                b64.len);
    const char *state = o->state ? o->state : req->state;
    if (payload && state && *state)
        json_object_set_new(payload, "state", json_string(state));
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_t *extra = req->enc_kid ? json_pack("{s:s}", "kid", req->enc_kid) : NULL;
    tes_jwe_encrypt_opts eo = {.enc = o->a128gcm ? TES_JWE_ENC_A128GCM : TES_JWE_ENC_A256GCM,
                               .extra = o->encrypt_to ? NULL : extra};
    ok = ok && text &&
         tes_jwe_encrypt_with(&eo, TES_BYTES(text, strlen(text)),
                              o->encrypt_to ? o->encrypt_to : req->enc_key, jwe) == TES_OK;
    if (ok && o->tamper) {
        char *last = memrchr(jwe->ptr, '.', jwe->len); /* the tag is after the last dot */
        char *ct = last ? last - 2 : NULL;            /* a ciphertext character */
        if (ct)
            *ct = *ct == 'A' ? 'B' : 'A';
    }
    json_decref(payload);
    json_decref(extra);
    free(text);
    tes_buf_free(&st);
    tes_buf_free(&dr);
    tes_buf_free(&b64);
    return ok;
}

/* The wallet answers auth_url with mdoc (as o says) and POSTs; a->r the answer.
 * With o->use it answers that request instead (fetched before), posting to
 * auth_url's response_uri when that is still served, else to o->use's. */
static bool wallet_answer(const char *auth_url, tes_bytes mdoc, const wopts *o, answer *a)
{
    memset(a, 0, sizeof *a);
    static const wopts none = {0};
    if (o == NULL)
        o = &none;
    a->req = wallet_fetch(auth_url);
    const tes_oid4vp_request *req = o->use ? o->use : a->req;
    if (req == NULL)
        return false;
    tes_buf jwe = {0}, form = {0};
    bool ok = build_jwe(req, o, mdoc, &jwe);
    tes_buf_append(&form, "response=", 9);
    tes_url_encode(&form, (const char *)jwe.ptr, jwe.len);
    tes_buf_append(&form, "", 1);
    a->form = ok ? strdup((const char *)form.ptr) : NULL;
    const char *to = o->post_to ? o->post_to : a->req ? a->req->response_uri : req->response_uri;
    if (a->form)
        a->r = http("POST", to,
                    "application/x-www-form-urlencoded", a->form, strlen(a->form), NULL, NULL);
    tes_buf_free(&jwe);
    tes_buf_free(&form);
    return a->form != NULL;
}

static const char *auth_url_of(const json_t *tx)
{
    return jstr(tx, "authorization_request");
}

/* The answer was refused: 400 invalid_request, description containing what. */
#define CHECK_REFUSED(rep, status, what)                                                          \
    do {                                                                                           \
        CHECK_EQ_INT((rep).code, (status));                                                        \
        CHECK(strcmp(jstr((rep).json, "error"), "invalid_request") == 0);                          \
        CHECK(strstr(jstr((rep).json, "error_description"), (what)) != NULL);                      \
        if (strstr(jstr((rep).json, "error_description"), (what)) == NULL)                         \
            fprintf(stderr, "    got: %ld %s\n", (rep).code,                                       \
                    jstr((rep).json, "error_description"));                                        \
    } while (0)

/* The transaction's state as the backend sees it: status, and no claims unless verified. */
static void check_tx(const svc *s, const char *id, const char *status, const char *error)
{
    reply r = tx_get(s, id, NULL);
    CHECK_EQ_INT(r.code, 200);
    CHECK(strcmp(jstr(r.json, "status"), status) == 0);
    if (strcmp(jstr(r.json, "status"), status) != 0)
        fprintf(stderr, "    status %s, wanted %s (%s)\n", jstr(r.json, "status"), status,
                jstr(r.json, "error_description"));
    if (strcmp(status, "verified") != 0)
        CHECK(json_object_get(r.json, "claims") == NULL);
    if (error)
        CHECK(strcmp(jstr(r.json, "error"), error) == 0);
    reply_free(&r);
}

/* ------------------------------------------------------------ fixtures */

static svc S; /* the SQLite service */

TEST(setup)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tes_rp_XXXXXX");
    REQUIRE(mkdtemp(g_tmp) != NULL);
    REQUIRE(make_authority());
    REQUIRE(issue_pid(NULL, &W.pid));
    char status_uri[64];
    snprintf(status_uri, sizeof status_uri, "http://127.0.0.1:%d/status/1", PORT_STATUS);
    REQUIRE(issue_pid(status_uri, &W.pid_status));
    REQUIRE(issue_pid_with(PID_CLAIMS_FAKE, NULL, &W.pid_fake_pseudonym));
    snprintf(W.site, sizeof W.site, "%s/shop", g_tmp);
    REQUIRE(make_site("Demo Shop", W.site, TES_RP_X509_SAN_DNS, PORT_SQLITE));
    REQUIRE(svc_start(&S, W.site, PORT_SQLITE, NULL, TES_STATUS_ONLINE));
}

TEST(init_files_and_refusals)
{
    struct stat st;
    char p[192];
    snprintf(p, sizeof p, "%s/%s", W.site, TES_RP_KEY);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(p, sizeof p, "%s/%s", W.site, TES_RP_API_KEY);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(stat(W.site, &st) == 0 && (st.st_mode & 0777) == 0700);
    /* a second init into the same directory touches nothing */
    char cf[160], kf[160];
    snprintf(cf, sizeof cf, "%s/Demo Shop_cert/%s", g_tmp, TES_READER_CERT);
    snprintf(kf, sizeof kf, "%s/Demo Shop_cert/%s", g_tmp, TES_READER_KEY);
    tes_rp_init_params ip = {.dir = W.site, .cert_file = cf, .key_file = kf,
                             .public_url = "http://localhost:1"};
    CHECK_ERR(tes_rp_init(&ip), TES_ERR_EXISTS);
    /* the public URL's host must be the certificate's DNS name (x509_san_dns) */
    char d2[128];
    snprintf(d2, sizeof d2, "%s/other", g_tmp);
    ip.dir = d2;
    ip.public_url = "https://shop.example.com";
    CHECK_ERR(tes_rp_init(&ip), TES_ERR_RP_CONFIG);
    ip.public_url = "http://example.com"; /* http only on loopback */
    CHECK_ERR(tes_rp_init(&ip), TES_ERR_RP_CONFIG);
    ip.public_url = "http://localhost:1";
    ip.key_file = W.trust_file; /* not a key */
    CHECK(tes_rp_init(&ip) != TES_OK);
    CHECK(stat(d2, &st) != 0 || access(d2, F_OK) == 0);
}

TEST(api_needs_the_key)
{
    char url[128];
    snprintf(url, sizeof url, "%s/api/v1/transactions", S.base);
    reply r = http("POST", url, "application/json", "{}", 2, NULL, NULL);
    CHECK_EQ_INT(r.code, 401);
    CHECK(strcmp(jstr(r.json, "error"), "invalid_token") == 0);
    reply_free(&r);
    r = http("POST", url, "application/json", "{}", 2, "wrong-key-wrong-key-wrong-key", NULL);
    CHECK_EQ_INT(r.code, 401);
    reply_free(&r);
    /* a key one character short of the right one */
    char shorter[128];
    snprintf(shorter, sizeof shorter, "%.*s", (int)strlen(S.key) - 1, S.key);
    r = http("POST", url, "application/json", "{}", 2, shorter, NULL);
    CHECK_EQ_INT(r.code, 401);
    reply_free(&r);
    /* the right key, a bad body */
    r = http("POST", url, "application/json", "{}", 2, S.key, NULL);
    CHECK_EQ_INT(r.code, 400);
    reply_free(&r);
    /* a query with two Credential Queries is refused */
    const char *two = "{\"dcql_query\":{\"credentials\":[{\"id\":\"a\",\"format\":\"mso_mdoc\","
                      "\"meta\":{\"doctype_value\":\"x\"},\"claims\":[{\"path\":[\"x\",\"y\"]}]},"
                      "{\"id\":\"b\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"x\"},"
                      "\"claims\":[{\"path\":[\"x\",\"y\"]}]}]}}";
    r = http("POST", url, "application/json", two, strlen(two), S.key, NULL);
    CHECK_EQ_INT(r.code, 400);
    CHECK(strstr(jstr(r.json, "error_description"), "exactly one Credential Query") != NULL);
    reply_free(&r);
}

TEST(request_object_verifies_with_the_wallet)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    CHECK(strncmp(auth_url_of(tx), "openid4vp://?client_id=x509_san_dns%3Alocalhost&request_uri=",
                  strlen("openid4vp://?client_id=x509_san_dns%3Alocalhost&request_uri=")) == 0);
    tes_oid4vp_request *req = wallet_fetch(auth_url_of(tx));
    REQUIRE(req != NULL);
    char uri[128];
    snprintf(uri, sizeof uri, "http://localhost:%d/oid4vp/response/%s", PORT_SQLITE,
             jstr(tx, "transaction_id"));
    CHECK(strcmp(req->client_id, "x509_san_dns:localhost") == 0);
    CHECK(strcmp(req->response_uri, uri) == 0);
    CHECK(strcmp(req->response_mode, "direct_post.jwt") == 0);
    CHECK(req->enc_key != NULL && req->enc_kid != NULL);
    CHECK(req->enc_values == (TES_OID4VP_ENC_A128GCM | TES_OID4VP_ENC_A256GCM));
    CHECK(req->nonce && strlen(req->nonce) >= 32 && req->state && strlen(req->state) >= 32);
    CHECK(strcmp(req->display_name, "Demo Shop") == 0);
    CHECK(strlen(jstr(tx, "transaction_id")) >= 22); /* 128 bits */
    /* fetched: the backend sees it */
    check_tx(&S, jstr(tx, "transaction_id"), "fetched", NULL);
    /* a second fetch gives the same nonce and state */
    tes_oid4vp_request *again = wallet_fetch(auth_url_of(tx));
    REQUIRE(again != NULL);
    CHECK(strcmp(again->nonce, req->nonce) == 0 && strcmp(again->state, req->state) == 0);
    CHECK(strcmp(again->enc_thumbprint, req->enc_thumbprint) == 0);
    tes_oid4vp_request_free(again);
    tes_oid4vp_request_free(req);
    json_decref(tx);
}

TEST(login_cross_device)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    answer a;
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), NULL, &a));
    CHECK_EQ_INT(a.r.code, 200);
    CHECK(json_is_object(a.r.json) && json_object_size(a.r.json) == 0);
    reply r = tx_get(&S, jstr(tx, "transaction_id"), "?wait=1");
    CHECK_EQ_INT(r.code, 200);
    CHECK(strcmp(jstr(r.json, "status"), "verified") == 0);
    CHECK(strcmp(jstr(r.json, "doctype"), TES_DOCTYPE_PID) == 0);
    json_t *age = json_object_get(json_object_get(json_object_get(r.json, "claims"), TES_NS_PID),
                                  "age_over_18");
    CHECK(json_is_true(age));
    /* only what was asked: no family_name */
    CHECK(json_object_size(json_object_get(json_object_get(r.json, "claims"), TES_NS_PID)) == 1);
    reply_free(&r);

    /* replayed: refused, the result stays */
    reply again = http("POST", a.req->response_uri, "application/x-www-form-urlencoded", a.form,
                       strlen(a.form), NULL, NULL);
    CHECK_REFUSED(again, 400, "answered already");
    reply_free(&again);
    check_tx(&S, jstr(tx, "transaction_id"), "verified", NULL);
    /* the request object is not served any more */
    char *uri = url_param(auth_url_of(tx), "request_uri");
    reply rq = http("GET", uri, NULL, NULL, 0, NULL, NULL);
    CHECK_REFUSED(rq, 400, "answered already");
    reply_free(&rq);
    free(uri);
    answer_free(&a);
    json_decref(tx);
}

TEST(login_with_a128gcm)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    answer a;
    wopts o = {.a128gcm = true};
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), &o, &a));
    CHECK_EQ_INT(a.r.code, 200);
    answer_free(&a);
    check_tx(&S, jstr(tx, "transaction_id"), "verified", NULL);
    json_decref(tx);
}

typedef struct poller {
    const char *id;
    reply r;
} poller;

static void *poll_thread(void *arg)
{
    poller *p = arg;
    p->r = tx_get(&S, p->id, "?wait=25");
    return NULL;
}

TEST(long_poll_returns_when_answered)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    reply r = tx_get(&S, jstr(tx, "transaction_id"), "?wait=0");
    CHECK(strcmp(jstr(r.json, "status"), "pending") == 0);
    reply_free(&r);
    /* a poll waiting while the wallet answers comes back with the result */
    poller p = {.id = jstr(tx, "transaction_id")};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, poll_thread, &p) == 0);
    answer a;
    CHECK(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), NULL, &a));
    CHECK_EQ_INT(a.r.code, 200);
    answer_free(&a);
    pthread_join(th, NULL);
    CHECK_EQ_INT(p.r.code, 200);
    /* the poll waits through pending and fetched: it ends with the result */
    CHECK(strcmp(jstr(p.r.json, "status"), "verified") == 0);
    reply_free(&p.r);
    json_decref(tx);
}

typedef struct flagged_poller {
    poller p;
    atomic_bool done;
} flagged_poller;

static void *flagged_poll_thread(void *arg)
{
    flagged_poller *f = arg;
    f->p.r = tx_get(&S, f->p.id, "?wait=25");
    atomic_store(&f->done, true);
    return NULL;
}

/* Every long poll the service lets wait (workers 8: 4) waits on a transaction nobody
 * answers; meanwhile a wallet logs in on another one. On the HTTP layer's thread pool a
 * poll waiting in its handler held up the other connections its thread had accepted
 * (seen as a 25 s stall of a wallet's answer in a test run; with a pool of 2 threads
 * this test fails every time); with a thread per connection the wallet is answered
 * while the polls still wait. */
TEST(long_polls_do_not_hold_up_the_wallet)
{
    json_t *idle = tx_new(&S, "cross_device"), *tx = tx_new(&S, "cross_device");
    REQUIRE(idle && tx);
    flagged_poller f[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        f[k] = (flagged_poller){.p = {.id = jstr(idle, "transaction_id")}};
        atomic_init(&f[k].done, false);
        REQUIRE(pthread_create(&th[k], NULL, flagged_poll_thread, &f[k]) == 0);
    }
    struct timespec settle = {0, 300 * 1000000L}; /* let the polls reach their wait */
    nanosleep(&settle, NULL);
    answer a;
    CHECK(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), NULL, &a));
    CHECK_EQ_INT(a.r.code, 200);
    answer_free(&a);
    check_tx(&S, jstr(tx, "transaction_id"), "verified", NULL);
    for (int k = 0; k < 4; k++)
        CHECK(!atomic_load(&f[k].done)); /* the polls still wait: nothing was held up */
    g_offset = TES_RP_TX_LIFETIME + 1; /* the idle transaction expires: the polls end */
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        CHECK_EQ_INT(f[k].p.r.code, 200);
        reply_free(&f[k].p.r);
    }
    g_offset = 0;
    json_decref(idle);
    json_decref(tx);
}

TEST(response_for_another_transaction)
{
    json_t *t1 = tx_new(&S, "cross_device"), *t2 = tx_new(&S, "cross_device");
    REQUIRE(t1 && t2);
    /* the wallet answers t2's request but posts to t1's response_uri: another key */
    tes_oid4vp_request *r2 = wallet_fetch(auth_url_of(t2));
    REQUIRE(r2 != NULL);
    answer a;
    wopts o = {.use = r2};
    REQUIRE(wallet_answer(auth_url_of(t1), tes_buf_bytes(&W.pid), &o, &a));
    CHECK_REFUSED(a.r, 400, "does not decrypt");
    answer_free(&a);
    /* encrypted to t1's key, but with t2's state */
    o = (wopts){.state = r2->state};
    REQUIRE(wallet_answer(auth_url_of(t1), tes_buf_bytes(&W.pid), &o, &a));
    CHECK_REFUSED(a.r, 400, "state is not the transaction's");
    answer_free(&a);
    /* without state */
    o = (wopts){.state = ""};
    REQUIRE(wallet_answer(auth_url_of(t1), tes_buf_bytes(&W.pid), &o, &a));
    CHECK_REFUSED(a.r, 400, "state is not the transaction's");
    answer_free(&a);
    /* none of this ended t1: the real answer still logs in */
    check_tx(&S, jstr(t1, "transaction_id"), "fetched", NULL);
    REQUIRE(wallet_answer(auth_url_of(t1), tes_buf_bytes(&W.pid), NULL, &a));
    CHECK_EQ_INT(a.r.code, 200);
    answer_free(&a);
    check_tx(&S, jstr(t1, "transaction_id"), "verified", NULL);
    tes_oid4vp_request_free(r2);
    json_decref(t1);
    json_decref(t2);
}

TEST(encrypted_to_another_key_or_tampered)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    tes_key *other = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &other) == TES_OK);
    answer a;
    wopts o = {.encrypt_to = other};
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), &o, &a));
    CHECK_REFUSED(a.r, 400, "does not decrypt with the transaction's key");
    answer_free(&a);
    o = (wopts){.tamper = true};
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), &o, &a));
    CHECK_REFUSED(a.r, 400, "does not decrypt with the transaction's key");
    answer_free(&a);
    check_tx(&S, jstr(tx, "transaction_id"), "fetched", NULL);
    tes_key_free(other);
    json_decref(tx);
}

/* A DeviceResponse over another SessionTranscript: the device signature fails;
 * the transaction ends failed, without claims. */
static void other_transcript(const wopts *o)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    answer a;
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), o, &a));
    CHECK_EQ_INT(a.r.code, 400);
    CHECK(strcmp(jstr(a.r.json, "error"), "invalid_request") == 0);
    answer_free(&a);
    check_tx(&S, jstr(tx, "transaction_id"), "failed", tes_err_name(TES_ERR_DEVICE_SIG));
    json_decref(tx);
}

TEST(transcript_of_another_client_id)
{
    other_transcript(&(wopts){.client_id = "x509_san_dns:evil.example.com"});
}

TEST(transcript_of_another_nonce)
{
    other_transcript(&(wopts){.nonce = "another-nonce-another-nonce"});
}

TEST(transcript_of_another_response_uri)
{
    other_transcript(&(wopts){.response_uri = "https://evil.example.com/oid4vp/response/x"});
}

TEST(expired_transaction)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    tes_oid4vp_request *req = wallet_fetch(auth_url_of(tx));
    REQUIRE(req != NULL);
    g_offset = TES_RP_TX_LIFETIME + 1;
    answer a;
    wopts o = {.use = req};
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), &o, &a));
    CHECK_REFUSED(a.r, 400, "has expired");
    answer_free(&a);
    check_tx(&S, jstr(tx, "transaction_id"), "expired", NULL);
    char *uri = url_param(auth_url_of(tx), "request_uri");
    reply rq = http("GET", uri, NULL, NULL, 0, NULL, NULL);
    CHECK_REFUSED(rq, 400, "has expired");
    reply_free(&rq);
    free(uri);
    g_offset = 0;
    tes_oid4vp_request_free(req);
    json_decref(tx);
}

TEST(oversized_body_and_unknown_transaction)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    size_t n = TES_RP_MAX_BODY + 1;
    char *big = malloc(n + 1);
    REQUIRE(big != NULL);
    memcpy(big, "response=", 9);
    memset(big + 9, 'A', n - 9);
    big[n] = '\0';
    char uri[160];
    snprintf(uri, sizeof uri, "%s/oid4vp/response/%s", S.base, jstr(tx, "transaction_id"));
    reply r = http("POST", uri, "application/x-www-form-urlencoded", big, n, NULL, NULL);
    CHECK_EQ_INT(r.code, 413);
    reply_free(&r);
    free(big);
    /* a response member longer than the bound, under the body bound */
    n = TES_RP_RESPONSE_MAX + 100;
    big = malloc(n + 1);
    memcpy(big, "response=", 9);
    memset(big + 9, 'A', n - 9);
    r = http("POST", uri, "application/x-www-form-urlencoded", big, n, NULL, NULL);
    CHECK_REFUSED(r, 400, "longer than");
    reply_free(&r);
    free(big);
    snprintf(uri, sizeof uri, "%s/oid4vp/response/AAAAAAAAAAAAAAAAAAAAAA", S.base);
    r = http("POST", uri, "application/x-www-form-urlencoded", "response=x", 10, NULL, NULL);
    CHECK_REFUSED(r, 404, "unknown transaction");
    reply_free(&r);
    snprintf(uri, sizeof uri, "%s/oid4vp/request/AAAAAAAAAAAAAAAAAAAAAA", S.base);
    r = http("GET", uri, NULL, NULL, 0, NULL, NULL);
    CHECK_REFUSED(r, 404, "unknown transaction");
    reply_free(&r);
    reply g = tx_get(&S, "AAAAAAAAAAAAAAAAAAAAAA", NULL);
    CHECK_EQ_INT(g.code, 404);
    reply_free(&g);
    check_tx(&S, jstr(tx, "transaction_id"), "pending", NULL);
    json_decref(tx);
}

TEST(wallet_declines)
{
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    tes_oid4vp_request *req = wallet_fetch(auth_url_of(tx));
    REQUIRE(req != NULL);
    char body[512];
    /* with another state: refused, the transaction stays open */
    snprintf(body, sizeof body, "error=access_denied&error_description=no&state=xyz");
    reply r = http("POST", req->response_uri, "application/x-www-form-urlencoded", body,
                   strlen(body), NULL, NULL);
    CHECK_REFUSED(r, 400, "state is not the transaction's");
    reply_free(&r);
    snprintf(body, sizeof body,
             "error=access_denied&error_description=the+holder+said+no&state=%s", req->state);
    r = http("POST", req->response_uri, "application/x-www-form-urlencoded", body, strlen(body),
             NULL, NULL);
    CHECK_EQ_INT(r.code, 200);
    reply_free(&r);
    reply g = tx_get(&S, jstr(tx, "transaction_id"), NULL);
    CHECK(strcmp(jstr(g.json, "status"), "declined") == 0);
    CHECK(strcmp(jstr(g.json, "error"), "access_denied") == 0);
    CHECK(strcmp(jstr(g.json, "error_description"), "the holder said no") == 0);
    reply_free(&g);
    tes_oid4vp_request_free(req);
    json_decref(tx);
}

TEST(same_device_needs_the_response_code)
{
    json_t *tx = tx_new(&S, "same_device");
    REQUIRE(tx != NULL);
    answer a;
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), NULL, &a));
    CHECK_EQ_INT(a.r.code, 200);
    const char *redirect = jstr(a.r.json, "redirect_uri");
    char want[96];
    snprintf(want, sizeof want, "http://localhost:%d/site/callback#response_code=", PORT_SQLITE);
    CHECK(strncmp(redirect, want, strlen(want)) == 0);
    const char *code = strchr(redirect, '=') ? strchr(redirect, '=') + 1 : "";
    const char *id = jstr(tx, "transaction_id");
    reply r = tx_get(&S, id, NULL); /* without the code: the status, no claims */
    CHECK(strcmp(jstr(r.json, "status"), "verified") == 0);
    CHECK(json_object_get(r.json, "claims") == NULL);
    reply_free(&r);
    r = tx_get(&S, id, "?response_code=AAAAAAAAAAAAAAAAAAAAAA");
    CHECK_REFUSED(r, 400, "response_code");
    reply_free(&r);
    char q[128];
    snprintf(q, sizeof q, "?response_code=%s", code);
    r = tx_get(&S, id, q);
    CHECK_EQ_INT(r.code, 200);
    CHECK(json_object_get(r.json, "claims") != NULL);
    reply_free(&r);
    answer_free(&a);
    json_decref(tx);
}

static const char DCQL_AGE_PSEUDONYM[] =
    "{\"credentials\":[{\"id\":\"pid\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":"
    "\"eu.europa.ec.eudi.pid.1\"},\"claims\":[{\"path\":[\"eu.europa.ec.eudi.pid.1\","
    "\"age_over_18\"]},{\"path\":[\"org.tessera.pseudonym.1\",\"pseudonym\"]}]}]}";

TEST(pseudonym_missing_or_not_device_signed)
{
    /* asked for, not disclosed */
    json_t *tx = tx_new_q(&S, "cross_device", DCQL_AGE_PSEUDONYM);
    REQUIRE(tx != NULL);
    answer a;
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), NULL, &a));
    CHECK_REFUSED(a.r, 400, "lacks org.tessera.pseudonym.1/pseudonym");
    answer_free(&a);
    check_tx(&S, jstr(tx, "transaction_id"), "failed", tes_err_name(TES_ERR_RP_CLAIMS));
    json_decref(tx);
    /* disclosed, but signed by the issuer, not by the secure element */
    tx = tx_new_q(&S, "cross_device", DCQL_AGE_PSEUDONYM);
    REQUIRE(tx != NULL);
    wopts o = {.with_pseudonym = true};
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid_fake_pseudonym), &o, &a));
    CHECK_REFUSED(a.r, 400, "the pseudonym is not device-signed");
    answer_free(&a);
    check_tx(&S, jstr(tx, "transaction_id"), "failed", tes_err_name(TES_ERR_RP_CLAIMS));
    json_decref(tx);
}

TEST(pseudonym_device_signed)
{
    json_t *tx = tx_new_q(&S, "cross_device", DCQL_AGE_PSEUDONYM);
    REQUIRE(tx != NULL);
    answer a;
    wopts o = {.device_pseudonym = true};
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), &o, &a));
    CHECK_EQ_INT(a.r.code, 200);
    answer_free(&a);
    reply r = tx_get(&S, jstr(tx, "transaction_id"), NULL);
    CHECK(strcmp(jstr(r.json, "status"), "verified") == 0);
    CHECK(strcmp(jstr(r.json, "pseudonym"), PSEUDONYM_B64) == 0);
    CHECK(strlen(jstr(r.json, "pseudonym")) == 43);
    reply_free(&r);
    json_decref(tx);
}

/* ---- status list: a tiny HTTP server serving a token that suspends index 5 ---- */

static tes_buf g_status_token;

static enum MHD_Result serve_status(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **req)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_size, (void)req;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        g_status_token.len, g_status_token.ptr, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/statuslist+cwt");
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

TEST(suspended_credential_is_refused)
{
    char uri[64];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/status/1", PORT_STATUS);
    tes_status_list l;
    REQUIRE(tes_status_list_new(64, &l) == TES_OK);
    REQUIRE(tes_status_list_set(&l, 5, TES_STATUS_SUSPENDED) == TES_OK);
    int64_t now = time(NULL);
    REQUIRE(tes_status_token_build(&l, uri, now - 60, now + 3600, 60, &W.ds_signer, W.chain, 1,
                                   &g_status_token) == TES_OK);
    tes_status_list_free(&l);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT_STATUS)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                            serve_status, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                            MHD_OPTION_END);
    REQUIRE(d != NULL);
    json_t *tx = tx_new(&S, "cross_device");
    REQUIRE(tx != NULL);
    answer a;
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid_status), NULL, &a));
    CHECK_REFUSED(a.r, 400, "suspended");
    answer_free(&a);
    check_tx(&S, jstr(tx, "transaction_id"), "failed", tes_err_name(TES_ERR_RP_STATUS));
    MHD_stop_daemon(d);
    tes_buf_free(&g_status_token);
    json_decref(tx);
}

/* ---- the demo site ---- */

TEST(site_login_with_cookies)
{
    char jar[128], jar2[128], url[128];
    snprintf(jar, sizeof jar, "%s/cookies", g_tmp);
    snprintf(jar2, sizeof jar2, "%s/cookies2", g_tmp);
    snprintf(url, sizeof url, "%s/", S.base);
    reply page = http("GET", url, NULL, NULL, 0, NULL, NULL);
    CHECK_EQ_INT(page.code, 200);
    CHECK(page.body.len > 0 && memmem(page.body.ptr, page.body.len, "login.js", 8) != NULL);
    reply_free(&page);
    snprintf(url, sizeof url, "%s/site/me", S.base);
    reply me = http("GET", url, NULL, NULL, 0, NULL, jar);
    CHECK_EQ_INT(me.code, 401);
    reply_free(&me);

    snprintf(url, sizeof url, "%s/site/login", S.base);
    reply login = http("POST", url, "application/json", "{}", 2, NULL, jar);
    CHECK_EQ_INT(login.code, 200);
    CHECK(strncmp(jstr(login.json, "qr_svg"), "<svg", 4) == 0);
    CHECK(json_object_get(login.json, "transaction_id") != NULL);
    /* the wallet answers with age_over_18 and its device-signed pseudonym */
    answer a;
    wopts wo = {.device_pseudonym = true};
    REQUIRE(wallet_answer(jstr(login.json, "authorization_request"), tes_buf_bytes(&W.pid), &wo,
                          &a));
    CHECK_EQ_INT(a.r.code, 200);
    answer_free(&a);
    /* another browser (no cookie) learns nothing */
    snprintf(url, sizeof url, "%s/site/status?wait=1", S.base);
    reply other = http("GET", url, NULL, NULL, 0, NULL, jar2);
    CHECK(strcmp(jstr(other.json, "state"), "none") == 0); /* no login in progress there */
    CHECK(json_is_null(json_object_get(other.json, "pseudonym")));
    reply_free(&other);
    reply st = http("GET", url, NULL, NULL, 0, NULL, jar);
    CHECK(strcmp(jstr(st.json, "state"), "logged_in") == 0);
    CHECK(json_is_true(json_object_get(st.json, "age_over_18")));
    CHECK(strcmp(jstr(st.json, "pseudonym"), PSEUDONYM_B64) == 0);
    reply_free(&st);
    snprintf(url, sizeof url, "%s/site/me", S.base);
    me = http("GET", url, NULL, NULL, 0, NULL, jar);
    CHECK_EQ_INT(me.code, 200);
    CHECK(json_is_true(json_object_get(me.json, "age_over_18")));
    CHECK(strcmp(jstr(me.json, "pseudonym"), PSEUDONYM_B64) == 0);
    reply_free(&me);
    snprintf(url, sizeof url, "%s/site/logout", S.base);
    reply out = http("POST", url, NULL, "", 0, NULL, jar);
    CHECK_EQ_INT(out.code, 200);
    reply_free(&out);
    snprintf(url, sizeof url, "%s/site/me", S.base);
    me = http("GET", url, NULL, NULL, 0, NULL, jar);
    CHECK_EQ_INT(me.code, 401);
    reply_free(&me);
    reply_free(&login);
}

TEST(site_refuses_cross_origin_posts)
{
    char url[128];
    snprintf(url, sizeof url, "%s/site/login", S.base);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Origin: https://evil.example.com");
    long code = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    tes_buf sink = {0};
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    CHECK_EQ_INT(code, 403);
    tes_buf_free(&sink);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* ---- the pure parsers ---- */

static tes_err form(const char *s)
{
    tes_rp_form f;
    tes_err e = tes_rp_form_parse(s, strlen(s), &f);
    tes_rp_form_free(&f);
    return e;
}

TEST(form_parser)
{
    CHECK_ERR(form("response=abc"), TES_OK);
    CHECK_ERR(form("response=abc&state=s"), TES_OK);
    CHECK_ERR(form("error=access_denied&state=s"), TES_OK);
    CHECK_ERR(form("error=access_denied&error_description=a+b%20c&error_uri=x"), TES_OK);
    CHECK_ERR(form(""), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response=a&response=b"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response=a&error=b"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("state=s"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response=a&x=1"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response="), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response=a&"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response=%zz"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response=a%00b"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("response=a&error_description=x"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(form("error=%22quoted%22"), TES_ERR_RP_RESPONSE);
    tes_rp_form f;
    REQUIRE(tes_rp_form_parse("error=access_denied&error_description=a+b&state=s%2B", 52, &f) ==
            TES_OK);
    CHECK(strcmp(f.error, "access_denied") == 0 && strcmp(f.error_description, "a b") == 0 &&
          strcmp(f.state, "s+") == 0 && f.response == NULL);
    tes_rp_form_free(&f);
}

static tes_err payload(const char *s)
{
    char *state = NULL;
    tes_buf dr = {0};
    tes_err e = tes_rp_payload_parse(s, strlen(s), "pid", &state, &dr);
    free(state);
    tes_buf_free(&dr);
    return e;
}

TEST(payload_parser)
{
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":[\"oWF4AQ\"]},\"state\":\"s\"}"), TES_OK);
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":[\"oWF4AQ\"]}}"), TES_OK);
    CHECK_ERR(payload("[]"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":\"oWF4AQ\"}}"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":[\"oWF4AQ\",\"oWF4AQ\"]}}"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"vp_token\":{\"other\":[\"oWF4AQ\"]}}"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":[\"oWF4AQ\"],\"x\":[\"oWF4AQ\"]}}"),
              TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":[\"oW+4AQ\"]}}"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":[\"\"]}}"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":[\"oWF4AQ\"]},\"state\":1}"), TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"vp_token\":{\"pid\":[\"oWF4AQ\"]},\"vp_token\":{}}"),
              TES_ERR_RP_RESPONSE);
    CHECK_ERR(payload("{\"state\":\"s\"}"), TES_ERR_RP_RESPONSE);
}

/* json[0..n) through the whole parser, its fast path and its jansson path:
 * the fast path handles it exactly when fast says so, and the whole parser
 * answers want, as jansson alone does (same message, same state and bytes). */
static void paths(const char *json, size_t n, bool fast, tes_err want, int line)
{
    char *fs = NULL, *js = NULL, *ws = NULL, jmsg[256];
    tes_buf fd = {0}, jd = {0}, wd = {0};
    tes_err fe = TES_ERR_ARG;
    bool handled = rp_payload_fast(json, n, "pid", &fs, &fd, &fe);
    tes_err je = rp_payload_parse_jansson(json, n, "pid", &js, &jd);
    snprintf(jmsg, sizeof jmsg, "%s", tes_err_message());
    tes_err we = tes_rp_payload_parse(json, n, "pid", &ws, &wd);
    if (handled != fast || we != want || je != want)
        fprintf(stderr, "  line %d: fast %d (want %d), %s / jansson %s (want %s)\n", line, handled,
                fast, tes_err_name(we), tes_err_name(je), tes_err_name(want));
    CHECK(handled == fast && we == want && je == want);
    CHECK(!handled || (fe == TES_OK && fd.len == jd.len && memcmp(fd.ptr, jd.ptr, fd.len) == 0 &&
                       (fs == NULL) == (js == NULL) && (fs == NULL || strcmp(fs, js) == 0)));
    CHECK(handled || (fs == NULL && fd.len == 0));
    CHECK(wd.len == jd.len && (wd.len == 0 || memcmp(wd.ptr, jd.ptr, wd.len) == 0));
    CHECK((ws == NULL) == (js == NULL) && (ws == NULL || strcmp(ws, js) == 0));
    if (want != TES_OK)
        CHECK(strcmp(jmsg, tes_err_message()) == 0);
    free(fs);
    free(js);
    free(ws);
    tes_buf_free(&fd);
    tes_buf_free(&jd);
    tes_buf_free(&wd);
}
#define FAST_OK(lit) paths(lit, sizeof(lit) - 1, true, TES_OK, __LINE__)
#define SLOW_OK(lit) paths(lit, sizeof(lit) - 1, false, TES_OK, __LINE__)
#define REFUSED(lit) paths(lit, sizeof(lit) - 1, false, TES_ERR_RP_RESPONSE, __LINE__)

#define VP "\"vp_token\":{\"pid\":[\"oWF4AQ\"]}"

TEST(payload_fast_path)
{
    /* the fast path's results, and jansson's */
    FAST_OK("{" VP ",\"state\":\"s-1._~\"}");
    FAST_OK("{\"state\":\"s\"," VP "}");
    FAST_OK("{" VP "}");
    FAST_OK(" \t\r\n{ \"vp_token\" : { \"pid\" : [ \"oWF4AQ\" ] } , \"state\" : \"s\" } \n");
    FAST_OK("{" VP ",\"x\":1,\"y\":-0,\"z\":-12.50,\"t\":true,\"f\":false,\"n\":null,\"e\":\"\"}");
    FAST_OK("{" VP ",\"a\":[],\"o\":{},\"m\":[1,\"a\",[{}],{\"a\":{\"a\":[null]}}]}");
    FAST_OK("{" VP ",\"d\":[[[[[[[[1]]]]]]]]}");      /* 8 nested: the bound */
    FAST_OK("{" VP ",\"o\":{\"a\":1,\"b\":{\"a\":2}},\"a\":3}"); /* same names, other objects */
    FAST_OK("{" VP ",\"big\":123456789012345678,\"r\":0.0000000000000000000001}");
    FAST_OK("{" VP ",\"\":0,\"del\":\"~ !#$%&'()*+,-./:;<=>?@[]^_`{|}\"}");
    /* outside the subset: jansson decides (accepting) */
    SLOW_OK("{" VP ",\"state\":\"\\u0073\"}");                /* an escape */
    SLOW_OK("{" VP ",\"x\":\"caf\xc3\xa9\"}");               /* non-ASCII */
    SLOW_OK("{" VP ",\"x\":\"\x7f\"}");                      /* DEL */
    SLOW_OK("{" VP ",\"d\":[[[[[[[[[1]]]]]]]]]}");           /* 9 nested */
    SLOW_OK("{" VP ",\"big\":1234567890123456789}");         /* 19 digits */
    SLOW_OK("{" VP ",\"e\":1e5,\"E\":-2.5E-3}");             /* exponents */
    SLOW_OK("{\"vp_token\":{\"\\u0070id\":[\"oWF4AQ\"]}}"); /* the id escaped */
    SLOW_OK("{\"vp_token\":{\"pid\":[\"oWF4\\u0041Q\"]}}"); /* the presentation */
    /* refusals: always jansson's, word for word */
    REFUSED("");
    REFUSED("{}");
    REFUSED("[]");
    REFUSED("{" VP ",\"state\":\"s\"");                      /* truncated */
    REFUSED("{" VP ",\"state\":\"s");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4");
    REFUSED("{" VP "}x");                                    /* trailing garbage */
    REFUSED("{" VP "}{}");
    REFUSED("{" VP ",}");
    REFUSED("{" VP ",\"x\":[1,]}");
    REFUSED("{" VP ",\"x\":01}");
    REFUSED("{" VP ",\"x\":1.}");
    REFUSED("{" VP ",\"x\":-}");
    REFUSED("{" VP ",\"x\":1.5.2}");
    REFUSED("{" VP ",\"x\":truex}");
    REFUSED("{" VP ",\"x\":nul}");
    REFUSED("{" VP ",\"x\":[}");
    REFUSED("{" VP ",\"x\":{\"a\"}}");
    REFUSED("{" VP ",\"x\":{\"a\":1 \"b\":2}}");
    REFUSED("{" VP ",\"x\":1e999}");                         /* real overflow */
    REFUSED("{" VP ",\"x\":99999999999999999999}");          /* too big integer */
    REFUSED("{" VP ",\"state\":\"a\\u0000b\"}");              /* NUL escaped */
    REFUSED("{" VP ",\"state\":\"\"}");                      /* empty state */
    REFUSED("{" VP ",\"state\":1}");
    REFUSED("{" VP ",\"state\":null}");
    REFUSED("{" VP ",\"state\":\"s\",\"state\":\"s\"}");    /* duplicates */
    REFUSED("{" VP "," VP "}");
    REFUSED("{" VP ",\"x\":1,\"x\":1}");
    REFUSED("{" VP ",\"x\":{\"a\":1,\"b\":[{\"c\":2,\"c\":3}]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ\"],\"pid\":[\"oWF4AQ\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ\"],\"x\":1}}");      /* wrong shapes */
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ\",\"oWF4AQ\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[]}}");
    REFUSED("{\"vp_token\":{\"pid\":\"oWF4AQ\"}}");
    REFUSED("{\"vp_token\":{\"other\":[\"oWF4AQ\"]}}");
    REFUSED("{\"vp_token\":[\"oWF4AQ\"]}");
    REFUSED("{\"vp_token\":{\"pid\":[\"\"]}}");               /* empty, not base64url */
    REFUSED("{\"vp_token\":{\"pid\":[\"oW+4AQ\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4A\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ==\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4\\\"AQ\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ\\\"]}\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4\xc3\xa9\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4 AQ\"]}}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ\"]}\0}");       /* NUL bytes */
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ\"]},\"state\":\"s\0\"}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ\"]},\"state\":\"s\x01\"}");
    REFUSED("{\"vp_token\":{\"pid\":[\"oWF4AQ\"]},\"state\":\"s\xff\"}"); /* bad UTF-8 */
    REFUSED("\xef\xbb\xbf{" VP "}");                         /* a BOM */
    REFUSED("{" VP ",\"d\":[[[[[[[[[1]]]]]]]]}");           /* unbalanced */
    /* bounds: a state of TES_OID4VP_STATE_MAX bytes is fast, one more refused */
    char big[TES_OID4VP_STATE_MAX + 64];
    int n = snprintf(big, sizeof big, "{" VP ",\"state\":\"%0*d\"}", TES_OID4VP_STATE_MAX, 0);
    paths(big, (size_t)n, true, TES_OK, __LINE__);
    n = snprintf(big, sizeof big, "{" VP ",\"state\":\"%0*d\"}", TES_OID4VP_STATE_MAX + 1, 0);
    paths(big, (size_t)n, false, TES_ERR_RP_RESPONSE, __LINE__);
    /* 32 member names (PL_NAMES_MAX) open at once: fast; 33: jansson's */
    char names[512] = "{" VP;
    for (int i = 0; i < 32; i++) {
        size_t at = strlen(names);
        snprintf(names + at, sizeof names - at, ",\"m%d\":0", i);
        if (i == 30) {
            memcpy(big, names, strlen(names));
            big[strlen(names)] = '}';
            paths(big, strlen(names) + 1, true, TES_OK, __LINE__);
        }
    }
    strcat(names, "}");
    paths(names, strlen(names), false, TES_OK, __LINE__);
}

TEST(qr_svg)
{
    tes_buf b = {0};
    CHECK_ERR(tes_qr_svg("openid4vp://?client_id=x", &b), TES_OK);
    CHECK(b.len > 100 && memcmp(b.ptr, "<svg", 4) == 0);
    tes_buf_free(&b);
    CHECK_ERR(tes_qr_svg("", &b), TES_ERR_ARG);
}

TEST(client_id_x509_hash)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/hashed", g_tmp);
    REQUIRE(make_site("Hashed Shop", dir, TES_RP_X509_HASH, 18414));
    svc h;
    REQUIRE(svc_start(&h, dir, 18414, NULL, TES_STATUS_OFF));
    CHECK(strncmp(tes_rp_client_id(h.rp), "x509_hash:", 10) == 0);
    json_t *tx = tx_new(&h, "cross_device");
    REQUIRE(tx != NULL);
    CHECK(strstr(auth_url_of(tx), "client_id=x509_hash%3A") != NULL);
    answer a;
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), NULL, &a));
    CHECK(strcmp(a.req->client_id, tes_rp_client_id(h.rp)) == 0);
    CHECK_EQ_INT(a.r.code, 200);
    check_tx(&h, jstr(tx, "transaction_id"), "verified", NULL);
    answer_free(&a);
    json_decref(tx);
    svc_stop(&h);
}

/* ---- PostgreSQL: several instances on one database ---- */

TEST(postgresql_two_instances)
{
    char url[256];
    if (!pg_new_db(url, sizeof url)) {
        fprintf(stderr, "    PostgreSQL test cluster unavailable (scripts/pg-test.sh)\n");
        CHECK(getenv("TES_REQUIRE_PG") == NULL);
        return;
    }
    svc p;
    REQUIRE(svc_start(&p, W.site, PORT_PG, url, TES_STATUS_OFF));
    json_t *tx = tx_new(&p, "cross_device");
    REQUIRE(tx != NULL);
    answer a;
    REQUIRE(wallet_answer(auth_url_of(tx), tes_buf_bytes(&W.pid), NULL, &a));
    CHECK_EQ_INT(a.r.code, 200);
    check_tx(&p, jstr(tx, "transaction_id"), "verified", NULL);
    /* the replay to a second instance on the same database is refused */
    svc q;
    REQUIRE(svc_start(&q, W.site, PORT_PG + 1, url, TES_STATUS_OFF));
    char uri[160];
    snprintf(uri, sizeof uri, "%s/oid4vp/response/%s", q.base, jstr(tx, "transaction_id"));
    reply again = http("POST", uri, "application/x-www-form-urlencoded", a.form, strlen(a.form),
                       NULL, NULL);
    CHECK_REFUSED(again, 400, "answered already");
    reply_free(&again);
    check_tx(&q, jstr(tx, "transaction_id"), "verified", NULL);
    /* a declined one and an expired one on PostgreSQL */
    json_t *t2 = tx_new(&q, "cross_device");
    REQUIRE(t2 != NULL);
    g_offset = TES_RP_TX_LIFETIME + 1;
    check_tx(&p, jstr(t2, "transaction_id"), "expired", NULL);
    g_offset = 0;
    json_decref(t2);
    answer_free(&a);
    json_decref(tx);
    svc_stop(&q);
    svc_stop(&p);
}

TEARDOWN(stop)
{
    svc_stop(&S);
    tes_buf_free(&W.pid);
    tes_buf_free(&W.pid_status);
    tes_buf_free(&W.pid_fake_pseudonym);
    tes_key_free(W.iaca_key);
    tes_key_free(W.ds_key);
    tes_key_free(W.device);
    tes_cert_free(W.iaca);
    tes_cert_free(W.ds);
    tes_trust_store_free(g_rp_roots);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    CHECK(system(cmd) == 0);
    curl_global_cleanup();
}
