/*
 * The OpenID4VCI issuer service and the wallet's client, over HTTP on loopback:
 * an authority made in a temp dir (IACA + DS), a secure-element vendor root and
 * a soft secure element it provisioned (plus one provisioned by a vendor the
 * issuer does not trust), a SQLite registry (and PostgreSQL when
 * scripts/pg-test.sh can start a throw-away cluster).
 *
 *  - end to end: enrol -> offer URI + tx code -> obtain a batch of 3 -> three
 *    mdocs on three distinct keys, distinct status indexes, identical
 *    signed/validFrom; each presented (device signature in the SE) and
 *    verified; the status token verifies and shows VALID; one revoked through
 *    the registry -> REVOKED at its index only.
 *  - lost phone: the credential answer's device_id is the SHA-256 of the SE's
 *    attestation certificate and is recorded per credential; POST /lost with a
 *    wrong recovery code -> invalid_grant and nothing changes; with the right one
 *    -> that phone's copies SUSPENDED, the holder's other device untouched;
 *    reinstated by device; the client (tes_oid4vci_report_lost); wrong codes
 *    rate-limited per address.
 *  - revocation: a revoked or suspended holder's token -> invalid_token, open
 *    offer -> invalid_grant, a phone reported lost -> credential_request_denied;
 *    reinstating needs a new offer. Budgets (across a restart), list rollover
 *    (/status/2), /nonce rate-limited and writing nothing.
 *  - bad requests, each with its standard error, the service serving after.
 *  - the request parsers directly (form, credential request, proof JWT).
 *  - a bounded load run: 4 threads x 250 obtains (token + nonce + credential).
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "tessera/cose.h"
#include "tessera/jose.h"
#include "tessera/issuer.h"
#include "tessera/wallet.h"
#include "tessera/mdoc.h"
#include "tessera/registry.h"
#include "tessera/se.h"
#include "tessera/status.h"
#include "tessera/trust.h"

#include "issuer/issuer_internal.h"
#include "fixed_env.h"
#include "issuer_fixture.h"

#define DAY 86400LL
#define BATCH_MAX 5
#define NONCE_LIFETIME 60
#define LOAD_THREADS 4
#define LOAD_PER_THREAD 250
#define COUNTER "counter-7"

/* ------------------------------------------------------------------ fixture */

typedef struct env {
    bool ready, failed;
    char dir[64], auth[128], vendor_pem[160], db[160], status_uri[256], url[128];
    tes_cert *iaca;
    tes_trust_store *trust;
    tes_se *se, *se_untrusted;
    tes_issuer *iss;
    int port;
    tes_issuer_config cfg;
} env;
static env E;

static bool env_up(void)
{
    if (E.ready || E.failed)
        return E.ready;
    E.failed = true;
    if (!fx_temp_authority(E.dir, sizeof E.dir, "/tmp/tes_issuer_XXXXXX", E.auth, sizeof E.auth,
                           &E.iaca))
        return false;
    char vdir[128], vdir2[128];
    if (!fx_vendors(E.dir, vdir, vdir2, E.vendor_pem) || !fx_soft_se(E.dir, "se", vdir, &E.se) ||
        !fx_soft_se(E.dir, "se2", vdir2, &E.se_untrusted))
        return false;
    if (tes_trust_store_new(&E.trust) != TES_OK ||
        tes_trust_store_add(E.trust, TES_PROFILE_DS, tes_cert_ref(E.iaca)) != TES_OK)
        return false;
    snprintf(E.db, sizeof E.db, "%s/registry.db", E.dir);
    E.cfg = (tes_issuer_config){.authority_dir = E.auth,
                                .db_url = E.db,
                                .listen = "127.0.0.1:0",
                                .vendor_roots = E.vendor_pem,
                                .batch_max = BATCH_MAX,
                                .nonce_lifetime = NONCE_LIFETIME,
                                .rate_limit = 30,
                                .clock = &FX_TEST_CLOCK};
    if (!fx_service_start(&E.cfg, &E.iss, &E.port, E.url, sizeof E.url))
        return false;
    snprintf(E.status_uri, sizeof E.status_uri, "%s/status/1", E.url);
    E.ready = true;
    E.failed = false;
    return true;
}

/* ------------------------------------------------------------------ keys over the SE */

static tes_err se_create(void *ctx, tes_bytes challenge, char key_id[64], tes_buf *pem,
                         tes_buf *att)
{
    tes_se *se = ctx;
    tes_se_key_opts o = {0};
    tes_key *pub = NULL;
    tes_err e = tes_se_create_key(se, &o, key_id);
    if (e == TES_OK)
        e = tes_se_public_key(se, key_id, &pub);
    if (e == TES_OK)
        e = tes_key_to_pem(pub, false, pem);
    if (e == TES_OK)
        e = se->ops->attest(se, key_id, challenge, att);
    tes_key_free(pub);
    return e;
}

static tes_err se_sign(void *ctx, const char *key_id, tes_bytes msg, uint8_t sig[64])
{
    uint8_t s[TES_MAX_SIG];
    size_t n = 0;
    tes_err e = tes_se_sign(ctx, key_id, NULL, msg, s, &n);
    if (e == TES_OK && n != 64)
        e = TES_ERR_CRYPTO;
    if (e == TES_OK)
        memcpy(sig, s, 64);
    return e;
}

/* ------------------------------------------------------------------ HTTP helper */

/* method at the service (E.url) + path; see fx_http. */
static bool http(const char *method, const char *path, const char *ctype, const char *bearer,
                 const char *body, size_t len, fx_resp *r)
{
    return fx_http(E.url, method, path, ctype, bearer, body, len, r);
}

/* The "error" member of a JSON error body ("" when none). */
static const char *err_name(const fx_resp *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    json_t *v = fx_resp_json(r);
    json_t *e = json_object_get(v, "error");
    json_t *d = json_object_get(v, "error_description");
    if (json_is_string(e) && json_is_string(d))
        snprintf(buf, cap, "%s", json_string_value(e));
    json_decref(v);
    return buf;
}

static bool desc_has(const fx_resp *r, const char *needle)
{
    json_t *v = fx_resp_json(r);
    json_t *d = json_object_get(v, "error_description");
    bool ok = json_is_string(d) && strstr(json_string_value(d), needle) != NULL;
    if (!ok)
        fprintf(stderr, "    description %s lacks '%s'\n", (const char *)r->body.ptr, needle);
    json_decref(v);
    return ok;
}

#define CHECK_WIRE(r, want_status, want_error)                                                     \
    do {                                                                                           \
        char eb_[64];                                                                              \
        CHECK_EQ_INT((r)->status, want_status);                                                    \
        CHECK_EQ_STR(err_name((r), eb_, sizeof eb_), want_error);                                  \
    } while (0)

static bool still_serving(void)
{
    fx_resp r;
    bool ok = http("GET", "/.well-known/openid-credential-issuer", NULL, NULL, NULL, 0, &r) &&
              r.status == 200;
    tes_buf_free(&r.body);
    return ok;
}

/* ------------------------------------------------------------------ protocol steps by hand */

/* The recovery code of the last person enrol() enrolled. */
static char last_recovery[32];

/* Enrols a PID holder; offer URI, code and tx code out. */
static bool enrol(tes_buf *uri, char code[128], char tx[16], int64_t *person)
{
    return fx_enrol(&E.cfg, COUNTER, uri, code, tx, person, last_recovery);
}

/* How to build a proof. */
typedef struct proof_opts {
    tes_se *se; /* key made here (NULL: software key) */
    const char *nonce;
    const tes_key *sign_with; /* sign with this software key instead of the jwk's */
    tes_se *attest_other;     /* x5c: attestation of a fresh key of this SE instead */
    bool no_x5c;
    const char *aud; /* NULL: the issuer */
    int64_t iat_shift;
} proof_opts;

/* Builds a proof JWT (malloc'd); the key used goes to *key_out (may be NULL). */
static char *make_proof(const proof_opts *o, tes_key **key_out, char key_id[64])
{
    tes_key *key = NULL, *soft = NULL;
    tes_buf att = {0};
    char id[64] = "";
    tes_bytes ch = TES_BYTES(o->nonce, strlen(o->nonce));
    if (o->se) {
        tes_buf pem = {0};
        if (se_create(o->se, ch, id, &pem, &att) != TES_OK ||
            tes_key_parse(tes_buf_bytes(&pem), &key) != TES_OK) {
            tes_buf_free(&pem);
            return NULL;
        }
        tes_buf_free(&pem);
    } else {
        if (tes_key_generate(TES_CURVE_P256, &soft) != TES_OK)
            return NULL;
        key = tes_key_ref(soft);
    }
    if (o->attest_other) {
        tes_buf pem = {0};
        char other[64];
        tes_buf_reset(&att);
        if (se_create(o->attest_other, ch, other, &pem, &att) != TES_OK)
            return NULL;
        tes_buf_free(&pem);
    }
    json_t *jwk = fx_jwk_of(key);
    if (jwk == NULL)
        return NULL;
    json_t *hdr = json_pack("{s:s, s:s, s:o}", "typ", ISS_PROOF_TYP, "alg", "ES256", "jwk", jwk);
    if (att.len && !o->no_x5c)
        json_object_set_new(hdr, "x5c", fx_x5c_of(tes_buf_bytes(&att)));
    json_t *cl = json_pack("{s:s, s:I, s:s}", "aud", o->aud ? o->aud : E.url, "iat",
                           (json_int_t)(fx_test_now(NULL) + o->iat_shift), "nonce", o->nonce);
    /* signed with sign_with, else in the SE, else with the software key */
    const tes_key *signer = o->sign_with ? o->sign_with : o->se ? NULL : soft;
    char *jwt = fx_jws(hdr, cl, signer, o->se, id);
    json_decref(hdr);
    json_decref(cl);
    tes_buf_free(&att);
    tes_key_free(soft);
    if (key_out)
        *key_out = key;
    else
        tes_key_free(key);
    if (key_id)
        snprintf(key_id, 64, "%s", id);
    return jwt;
}

/* POSTs a credential request with these proofs (NULL-terminated list). */
static bool post_credential(const char *token, const char *config, char **proofs, fx_resp *r)
{
    return fx_post_proofs(E.url, token, config, "jwt", proofs, r);
}

/* ------------------------------------------------------------------ registry look-ups */

/* Credential id of the credential bound to key k (SQLite or PostgreSQL). */
static int64_t cred_id_of(const char *db_url, const tes_key *k)
{
    char th[65];
    if (iss_key_thumbprint(k, th) != TES_OK)
        return -1;
    int64_t id = -1;
    if (strncmp(db_url, "postgres", 8) == 0) {
        /* psql rather than libpq: the test does not get libpq's include path */
        char cmd[512], out[64] = "";
        snprintf(cmd, sizeof cmd,
                 "psql '%s' -At -c \"SELECT id FROM credentials WHERE thumbprint = '%s'\"", db_url,
                 th);
        FILE *f = popen(cmd, "r");
        if (f && fgets(out, sizeof out, f))
            id = strtoll(out, NULL, 10);
        if (f)
            pclose(f);
        return id > 0 ? id : -1;
    }
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(db_url, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT id FROM credentials WHERE thumbprint = ?", -1, &st, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_text(st, 1, th, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return id;
}

/* Fetches /status/1 and verifies it; out owned by the caller. */
static bool fetch_status(tes_status_token *out)
{
    fx_resp r;
    bool ok = http("GET", "/status/1", NULL, NULL, NULL, 0, &r) && r.status == 200;
    CHECK(ok);
    CHECK_EQ_STR(r.ctype, "application/statuslist+cwt");
    tes_err e = ok ? tes_status_token_verify(tes_buf_bytes(&r.body), E.status_uri, E.trust,
                                             fx_test_now(NULL), out)
                   : TES_ERR_IO;
    if (e != TES_OK)
        fprintf(stderr, "    status token: %s\n", tes_err_message());
    tes_buf_free(&r.body);
    return e == TES_OK;
}

/* ------------------------------------------------------------------ tests: parsers */

TEST(form_parser)
{
    iss_token_req t;
    CHECK_ERR(iss_form_parse("grant_type=a%3Ab&pre-authorized_code=x+y&tx_code=123456", 55, &t),
              TES_OK);
    CHECK_EQ_STR(t.grant_type, "a:b");
    CHECK_EQ_STR(t.code, "x y");
    CHECK_EQ_STR(t.tx_code, "123456");
    const char *bad[] = {"grant_type=a&grant_type=b",
                         "grant_type=%zz",
                         "grant_type=%4",
                         "a=1&&b=2",
                         "novalue",
                         "=x",
                         "a=1&",
                         "grant_type=a%00b",
                         "grant_type=a b",
                         "grant_type=%0a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERR(iss_form_parse(bad[i], strlen(bad[i]), &t), TES_ERR_HTTP_REQUEST);
    CHECK_ERR(iss_form_parse("unknown=1&grant_type=g", 22, &t), TES_OK); /* ignored */
    /* an unknown parameter longer than a known one may be (a client assertion): ignored */
    char assertion[2100] = "grant_type=g&client_assertion=";
    size_t al = strlen(assertion);
    memset(assertion + al, 'A', 2000);
    assertion[al + 2000] = '\0';
    CHECK_ERR(iss_form_parse(assertion, strlen(assertion), &t), TES_OK);
    CHECK_EQ_STR(t.grant_type, "g");
    assertion[al + 5] = '%'; /* its syntax is still checked: "%ZA" */
    assertion[al + 6] = 'Z';
    CHECK_ERR(iss_form_parse(assertion, strlen(assertion), &t), TES_ERR_HTTP_REQUEST);
    char many[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, i ? "&x=1" : "x=1");
    CHECK_ERR(iss_form_parse(many, strlen(many), &t), TES_ERR_HTTP_REQUEST);
}

TEST(credential_request_parser)
{
    iss_cred_req r;
    const char ok[] = "{\"credential_configuration_id\":\"eu.europa.ec.eudi.pid.1\","
                      "\"proofs\":{\"jwt\":[\"a.b.c\",\"d.e.f\"]}}";
    CHECK_ERR(iss_cred_req_parse(ok, strlen(ok), 5, &r), TES_OK);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_STR(r.proofs[1], "d.e.f");
    iss_cred_req_free(&r);
    /* OpenID4VCI 1.0 §8.2: unknown members are ignored, whatever their value */
    const char extra[] = "{\"x_foo\":{\"a\":[1,2]},\"credential_configuration_id\":"
                         "\"eu.europa.ec.eudi.pid.1\",\"proofs\":{\"jwt\":[\"a.b.c\"]},"
                         "\"x_bar\":null}";
    CHECK_ERR(iss_cred_req_parse(extra, strlen(extra), 5, &r), TES_OK);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_STR(r.config_id, TES_DOCTYPE_PID);
    iss_cred_req_free(&r);
    static const struct {
        const char *json;
        tes_err want;
    } cases[] = {
        {"{", TES_ERR_JSON},
        {"{\"credential_configuration_id\":\"x\",\"credential_configuration_id\":\"y\"}",
         TES_ERR_JSON},
        {"[]", TES_ERR_HTTP_REQUEST},
        {"{\"credential_configuration_id\":\"nope\",\"proofs\":{\"jwt\":[\"a\"]}}",
         TES_ERR_NOT_FOUND},
        {"{\"credential_configuration_id\":\"eu.europa.ec.eudi.pid.1\"}", TES_ERR_PROOF},
        {"{\"credential_configuration_id\":\"eu.europa.ec.eudi.pid.1\",\"proofs\":{\"jwt\":[]}}",
         TES_ERR_PROOF},
        {"{\"credential_configuration_id\":\"eu.europa.ec.eudi.pid.1\",\"proofs\":{\"ldp_vp\":[]}}",
         TES_ERR_PROOF},
        {"{\"credential_configuration_id\":\"eu.europa.ec.eudi.pid.1\",\"proofs\":{\"jwt\":[1]}}",
         TES_ERR_PROOF},
        /* the drafts' single "proof" is not 1.0's: ignored, so no proofs */
        {"{\"credential_configuration_id\":\"eu.europa.ec.eudi.pid.1\",\"proof\":{}}",
         TES_ERR_PROOF},
        /* known members this issuer cannot serve */
        {"{\"credential_identifier\":\"x\",\"proofs\":{\"jwt\":[\"a\"]}}", TES_ERR_HTTP_REQUEST},
        {"{\"credential_configuration_id\":\"eu.europa.ec.eudi.pid.1\",\"proofs\":{\"jwt\":"
         "[\"a\"]},\"credential_response_encryption\":{}}",
         TES_ERR_HTTP_REQUEST},
        {"{\"credential_configuration_id\":\"eu.europa.ec.eudi.pid.1\",\"proofs\":{\"jwt\":"
         "[\"a\",\"b\",\"c\"]}}",
         TES_ERR_HTTP_REQUEST}, /* batch_max 2 below */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_ERR(iss_cred_req_parse(cases[i].json, strlen(cases[i].json), 2, &r), cases[i].want);
}

TEST(proof_parser)
{
    REQUIRE(env_up());
    iss_policy pol = {.credential_issuer = E.url, .batch_max = 5};
    proof_opts o = {.nonce = "n0nce"};
    char *jwt = make_proof(&o, NULL, NULL);
    REQUIRE(jwt != NULL);
    iss_proof p;
    int64_t now = fx_test_now(NULL);
    CHECK_ERR(iss_proof_parse(&pol, jwt, strlen(jwt), now, &p), TES_OK);
    CHECK_EQ_STR(p.nonce, "n0nce");
    CHECK(p.attestation.len == 0);
    iss_proof_free(&p);
    CHECK_ERR(iss_proof_parse(&pol, jwt, strlen(jwt), now + 400, &p), TES_ERR_PROOF); /* iat */
    /* a flipped signature byte */
    size_t l = strlen(jwt);
    jwt[l - 3] = jwt[l - 3] == 'A' ? 'B' : 'A';
    CHECK_ERR(iss_proof_parse(&pol, jwt, l, now, &p), TES_ERR_PROOF);
    /* two parts, padding, empty */
    char *dot = strrchr(jwt, '.');
    CHECK_ERR(iss_proof_parse(&pol, jwt, (size_t)(dot - jwt), now, &p), TES_ERR_HTTP_REQUEST);
    CHECK_ERR(iss_proof_parse(&pol, "a=.b.c", 6, now, &p), TES_ERR_HTTP_REQUEST);
    CHECK_ERR(iss_proof_parse(&pol, "", 0, now, &p), TES_ERR_HTTP_REQUEST);
    free(jwt);
    o.aud = "https://other.example";
    jwt = make_proof(&o, NULL, NULL);
    CHECK_ERR(iss_proof_parse(&pol, jwt, strlen(jwt), now, &p), TES_ERR_PROOF);
    free(jwt);
    /* attestation required by policy, none given */
    tes_buf roots = {0};
    REQUIRE(tes_file_read(E.vendor_pem, 1 << 20, &roots) == TES_OK);
    pol.vendor_roots = tes_buf_bytes(&roots);
    o.aud = NULL;
    jwt = make_proof(&o, NULL, NULL);
    CHECK_ERR(iss_proof_parse(&pol, jwt, strlen(jwt), now, &p), TES_OK);
    CHECK_ERR(iss_proof_attestation(&pol, &p, now), TES_ERR_PROOF);
    iss_proof_free(&p);
    free(jwt);
    /* with the SE: accepted; the uv policy refuses a key made without user verification */
    o.se = E.se;
    jwt = make_proof(&o, NULL, NULL);
    CHECK_ERR(iss_proof_parse(&pol, jwt, strlen(jwt), now, &p), TES_OK);
    CHECK_ERR(iss_proof_attestation(&pol, &p, now), TES_OK);
    pol.require_uv = true;
    CHECK_ERR(iss_proof_attestation(&pol, &p, now), TES_ERR_PROOF);
    iss_proof_free(&p);
    free(jwt);
    tes_buf_free(&roots);
}

TEST(offer_uri_round_trip)
{
    tes_buf u = {0};
    CHECK_ERR(iss_offer_uri("http://127.0.0.1:1", TES_DOCTYPE_PID, "c+/=ode", 6, &u), TES_OK);
    tes_buf_append(&u, "", 1);
    char code[128];
    CHECK(strncmp((char *)u.ptr, "openid-credential-offer://?credential_offer=", 44) == 0);
    CHECK(fx_offer_code((char *)u.ptr, code, sizeof code));
    CHECK_EQ_STR(code, "c+/=ode");
    tes_buf_free(&u);
}

/* ------------------------------------------------------------------ tests: end to end */

static void end_to_end(const char *db_url)
{
    tes_issuer_config cfg = E.cfg;
    tes_issuer *iss = E.iss;
    char saved_url[128], url[128], status_uri[256];
    int port = E.port;
    if (db_url != NULL) { /* a second service on another registry */
        cfg.db_url = db_url;
        cfg.public_url = NULL;
        if (tes_issuer_start(&cfg, &iss, &port) != TES_OK) {
            fprintf(stderr, "start on %s: %s\n", db_url, tes_err_message());
            CHECK(0);
            return;
        }
        snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
        cfg.public_url = url;
        snprintf(saved_url, sizeof saved_url, "%s", E.url);
        memcpy(status_uri, E.status_uri, sizeof status_uri);
        snprintf(E.url, sizeof E.url, "%s", url);
        snprintf(E.status_uri, sizeof E.status_uri, "%s/status/1", url);
    }
    const char *reg_url = cfg.db_url;

    tes_buf uri = {0};
    char tx[16], recovery[32] = "";
    int64_t person;
    CHECK_ERR(tes_issuer_enrol(&cfg, TES_DOCTYPE_PID, FX_PID_CLAIMS, "counter-7", &uri, tx, &person,
                               recovery),
              TES_OK);
    tes_buf_append(&uri, "", 1);
    CHECK_EQ_INT(strlen(tx), 6);
    CHECK_EQ_INT(strlen(recovery), 19);

    tes_oid4vci_keys keys = {se_create, se_sign, E.se};
    tes_buf *mdocs = NULL;
    char(*ids)[64] = NULL;
    size_t n = 0;
    tes_err e = tes_oid4vci_obtain((char *)uri.ptr, tx, 3, &keys, &mdocs, &ids, &n);
    if (e != TES_OK)
        fprintf(stderr, "obtain: %s\n", tes_err_message());
    CHECK_ERR(e, TES_OK);
    tes_buf_free(&uri);
    if (e != TES_OK)
        goto stop;
    CHECK_EQ_INT(n, 3);

    tes_key *dk[3] = {0};
    int64_t signed_at[3], valid_from[3], valid_until[3];
    uint64_t idx[3] = {0};
    for (size_t i = 0; i < 3; i++) {
        tes_mdoc_cred_info info;
        REQUIRE(tes_mdoc_cred_info_read(tes_buf_bytes(&mdocs[i]), &info) == TES_OK);
        dk[i] = tes_key_ref(info.device_key);
        signed_at[i] = info.signed_at;
        valid_from[i] = info.valid_from;
        valid_until[i] = info.valid_until;
        CHECK_EQ_STR(info.doctype, TES_DOCTYPE_PID);
        tes_mdoc_cred_info_free(&info);
        tes_key *se_pub = NULL;
        CHECK_ERR(tes_se_public_key(E.se, ids[i], &se_pub), TES_OK);
        CHECK(se_pub && tes_key_equal_public(se_pub, dk[i]));
        tes_key_free(se_pub);

        /* present with the SE key, verify as a reader would */
        tes_se_signer_ctx sc = {E.se, ids[i], NULL};
        tes_signer dev = {tes_se_cose_sign, &sc, TES_COSE_ES256};
        tes_buf dr = {0};
        CHECK_ERR(fx_present_family_name(tes_buf_bytes(&mdocs[i]), &dev, &dr), TES_OK);
        tes_mdoc_result res = {0};
        e = fx_verify_response(&dr, E.trust, fx_test_now(NULL), &res);
        if (e != TES_OK)
            fprintf(stderr, "verify copy %zu: %s\n", i, tes_err_message());
        CHECK_ERR(e, TES_OK);
        if (e == TES_OK && res.n_docs == 1) {
            CHECK(res.docs[0].has_status);
            idx[i] = res.docs[0].status_idx;
            CHECK(tes_bytes_eq(res.docs[0].status_uri,
                               TES_BYTES(E.status_uri, strlen(E.status_uri))));
            CHECK_EQ_INT(res.docs[0].n_elems, 1);
        }
        tes_mdoc_result_free(&res);
        tes_buf_free(&dr);
    }
    /* three keys, three indexes, one time */
    CHECK(!tes_key_equal_public(dk[0], dk[1]) && !tes_key_equal_public(dk[0], dk[2]) &&
          !tes_key_equal_public(dk[1], dk[2]));
    CHECK(idx[0] != idx[1] && idx[0] != idx[2] && idx[1] != idx[2]);
    int64_t now = fx_test_now(NULL);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(signed_at[i], signed_at[0]);
        CHECK_EQ_INT(valid_from[i], valid_from[0]);
        CHECK_EQ_INT(valid_until[i], valid_until[0]);
    }
    CHECK_EQ_INT(valid_from[0] % DAY, 0);
    CHECK(valid_from[0] <= now && now - valid_from[0] < DAY);
    CHECK_EQ_INT(valid_until[0] - valid_from[0], 365 * DAY);

    /* status: all valid, then one revoked */
    tes_status_token st = {0};
    if (fetch_status(&st)) {
        for (size_t i = 0; i < 3; i++)
            CHECK_EQ_INT(tes_status_list_get(&st.list, idx[i]), TES_STATUS_VALID);
        CHECK(st.ttl == 3600 && st.exp == st.iat + 2 * 86400) /* default status_lifetime */;
    } else {
        CHECK(0);
    }
    tes_status_token_free(&st);
    int64_t cid = cred_id_of(reg_url, dk[1]);
    CHECK(cid > 0);
    tes_registry *r = NULL;
    REQUIRE(tes_registry_open(reg_url, &r) == TES_OK);
    size_t changed = 0;
    CHECK_ERR(tes_registry_set_status(r, cid, person, TES_STATUS_REVOKED, "counter-7", &changed),
              TES_OK);
    CHECK_EQ_INT(changed, 1);
    tes_registry_close(r);
    atomic_fetch_add(&fx_clock_offset, 6); /* past the service's status cache */
    if (fetch_status(&st)) {
        CHECK_EQ_INT(tes_status_list_get(&st.list, idx[0]), TES_STATUS_VALID);
        CHECK_EQ_INT(tes_status_list_get(&st.list, idx[1]), TES_STATUS_REVOKED);
        CHECK_EQ_INT(tes_status_list_get(&st.list, idx[2]), TES_STATUS_VALID);
    } else {
        CHECK(0);
    }
    tes_status_token_free(&st);

    for (size_t i = 0; i < 3; i++) {
        tes_key_free(dk[i]);
        tes_buf_free(&mdocs[i]);
    }
    free(mdocs);
    free(ids);
stop:
    if (db_url != NULL) {
        tes_issuer_stop(iss);
        snprintf(E.url, sizeof E.url, "%s", saved_url);
        memcpy(E.status_uri, status_uri, sizeof status_uri);
    }
}

TEST(end_to_end_sqlite)
{
    REQUIRE(env_up());
    end_to_end(NULL);
    CHECK(still_serving());
}

TEST(end_to_end_postgresql)
{
    REQUIRE(env_up());
    if (access("scripts/pg-test.sh", X_OK) != 0 && access("scripts/pg-test.sh", R_OK) != 0) {
        REQUIRE(!"scripts/pg-test.sh is missing: the PostgreSQL half cannot run");
    }
    char pgdir[128], cmd[512], url[256] = "";
    snprintf(pgdir, sizeof pgdir, "%s/pg", E.dir);
    chmod(E.dir, 0711); /* the server (user postgres) must reach pgdir; nothing is listable */
    int port = 21000 + (int)(getpid() % 20000);
    snprintf(cmd, sizeof cmd, "bash scripts/pg-test.sh start %s %d 2>%s/pg.err", pgdir, port,
             E.dir);
    FILE *f = popen(cmd, "r");
    if (f == NULL || fgets(url, sizeof url, f) == NULL) {
        if (f)
            pclose(f);
        fprintf(stderr, "     PostgreSQL could not start; see %s/pg.err\n", E.dir);
        REQUIRE(!"PostgreSQL started");
    }
    int rc = pclose(f);
    url[strcspn(url, "\r\n")] = '\0';
    if (rc != 0 || strncmp(url, "postgres", 8) != 0) {
        fprintf(stderr, "     PostgreSQL could not start (rc %d, url '%s')\n", rc, url);
        REQUIRE(!"PostgreSQL started");
    }
    printf("     PostgreSQL at %s\n", url);
    end_to_end(url);
    snprintf(cmd, sizeof cmd, "bash scripts/pg-test.sh stop %s >/dev/null 2>&1", pgdir);
    CHECK(system(cmd) == 0);
}

/* ------------------------------------------------------------------ tests: bad requests */

TEST(token_errors)
{
    REQUIRE(env_up());
    tes_buf uri;
    char code[128], tx[16], tok[128];
    int64_t person;
    REQUIRE(enrol(&uri, code, tx, &person));

    /* wrong transaction code: invalid_grant with the tries left */
    tes_buf f = {0};
    char bad_tx[16];
    snprintf(bad_tx, sizeof bad_tx, "%s", tx);
    bad_tx[0] = bad_tx[0] == '1' ? '2' : '1';
    fx_token_form(&f, code, bad_tx);
    fx_resp r;
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, (char *)f.ptr, f.len,
               &r));
    CHECK_WIRE(&r, 400, "invalid_grant");
    CHECK(desc_has(&r, "4 tries left"));
    tes_buf_free(&r.body);
    tes_buf_free(&f);
    /* the client maps it */
    fx_soft_keys sk = {0};
    tes_oid4vci_keys keys = {fx_soft_create, fx_soft_sign, &sk};
    tes_buf *m;
    char(*ids)[64];
    size_t n;
    tes_buf_append(&uri, "", 1);
    char wrong[16];
    snprintf(wrong, sizeof wrong, "%s", tx);
    wrong[5] = wrong[5] == '9' ? '0' : (char)(wrong[5] + 1);
    CHECK_ERR(tes_oid4vci_obtain((char *)uri.ptr, wrong, 1, &keys, &m, &ids, &n), TES_ERR_GRANT);
    CHECK(strstr(tes_err_message(), "tries left") != NULL);

    /* no transaction code for an offer that needs one: invalid_request (OpenID4VCI 1.0
     * §6.3), also when empty; no try is used up (3 wrong ones so far, see below) */
    fx_token_form(&f, code, NULL);
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, (char *)f.ptr, f.len,
               &r));
    CHECK_WIRE(&r, 400, "invalid_request");
    CHECK(desc_has(&r, "needs a transaction code"));
    tes_buf_free(&r.body);
    tes_buf_free(&f);
    fx_token_form(&f, code, "");
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, (char *)f.ptr, f.len,
               &r));
    CHECK_WIRE(&r, 400, "invalid_request");
    tes_buf_free(&r.body);
    tes_buf_free(&f);

    /* right code once, with parameters the issuer does not know (ignored, RFC 6749 §3.2,
     * OpenID4VCI 1.0 §6.1); reused: invalid_grant */
    fx_token_form(&f, code, tx);
    static const char extra_params[] = "&x_foo=bar&client_id=some-wallet&scope=x%20y";
    tes_buf_append(&f, extra_params, sizeof extra_params - 1);
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, (char *)f.ptr, f.len,
               &r));
    CHECK_EQ_INT(r.status, 200);
    {
        json_t *tv = fx_resp_json(&r);
        CHECK(json_is_string(json_object_get(tv, "access_token")));
        snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(tv, "access_token")));
        json_decref(tv);
    }
    tes_buf_free(&r.body);
    tes_buf_free(&f);
    fx_token_form(&f, code, tx);
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, (char *)f.ptr, f.len,
               &r));
    CHECK_WIRE(&r, 400, "invalid_grant");
    CHECK(desc_has(&r, "already used"));
    tes_buf_free(&r.body);
    tes_buf_free(&f);
    CHECK_ERR(tes_oid4vci_obtain((char *)uri.ptr, tx, 1, &keys, &m, &ids, &n), TES_ERR_GRANT);
    fx_soft_keys_clear(&sk);
    tes_buf_free(&uri);

    /* unknown code */
    fx_token_form(&f, "no-such-code", "123456");
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, (char *)f.ptr, f.len,
               &r));
    CHECK_WIRE(&r, 400, "invalid_grant");
    CHECK(desc_has(&r, "unknown"));
    tes_buf_free(&r.body);
    tes_buf_free(&f);

    /* grant type, content type, form syntax */
    static const char other_grant[] = "grant_type=authorization_code&code=x";
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, other_grant,
               strlen(other_grant), &r));
    CHECK_WIRE(&r, 400, "unsupported_grant_type");
    tes_buf_free(&r.body);
    CHECK(http("POST", "/token", "application/json", NULL, "{}", 2, &r));
    CHECK_WIRE(&r, 400, "invalid_request");
    tes_buf_free(&r.body);
    static const char bad_pct[] = "grant_type=urn%3Aietf%3&pre-authorized_code=x";
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, bad_pct,
               strlen(bad_pct), &r));
    CHECK_WIRE(&r, 400, "invalid_request");
    tes_buf_free(&r.body);
    CHECK(http("GET", "/token", NULL, NULL, NULL, 0, &r));
    CHECK_WIRE(&r, 405, "invalid_request");
    tes_buf_free(&r.body);
    CHECK(http("GET", "/nowhere", NULL, NULL, NULL, 0, &r));
    CHECK_EQ_INT(r.status, 404);
    tes_buf_free(&r.body);
    CHECK(still_serving());
}

TEST(credential_errors)
{
    REQUIRE(env_up());
    char tok[128], nonce[128];
    REQUIRE(fx_fresh_token(&E.cfg, COUNTER, tok));
    fx_resp r;

    /* bearer */
    char *none[] = {NULL};
    CHECK(post_credential(NULL, TES_DOCTYPE_PID, none, &r));
    CHECK_WIRE(&r, 401, "invalid_token");
    CHECK(strncmp(r.www_auth, "Bearer", 6) == 0);
    tes_buf_free(&r.body);
    CHECK(post_credential("not-a-token", TES_DOCTYPE_PID, none, &r));
    CHECK_WIRE(&r, 401, "invalid_token");
    CHECK(strstr(r.www_auth, "error=\"invalid_token\"") != NULL);
    tes_buf_free(&r.body);

    /* body: malformed JSON, unknown configuration, too many proofs, oversized */
    static const char bad_json[] = "{\"credential_configuration_id\": ";
    CHECK(http("POST", "/credential", "application/json", tok, bad_json, strlen(bad_json), &r));
    CHECK_WIRE(&r, 400, "invalid_credential_request");
    tes_buf_free(&r.body);
    REQUIRE(fx_get_nonce(E.url, nonce));
    proof_opts o = {.se = E.se, .nonce = nonce};
    char *p1 = make_proof(&o, NULL, NULL);
    REQUIRE(p1 != NULL);
    char *one[] = {p1, NULL};
    CHECK(post_credential(tok, "org.example.unknown", one, &r));
    CHECK_WIRE(&r, 400, "unknown_credential_configuration");
    tes_buf_free(&r.body);
    char *six[] = {p1, p1, p1, p1, p1, p1, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, six, &r));
    CHECK_WIRE(&r, 400, "invalid_credential_request");
    CHECK(desc_has(&r, "at most 5"));
    tes_buf_free(&r.body);
    size_t big = 70 * 1024;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    CHECK(http("POST", "/credential", "application/json", tok, huge, big, &r));
    CHECK_WIRE(&r, 413, "invalid_request");
    tes_buf_free(&r.body);
    free(huge);

    /* malformed JWTs */
    char two_parts[] = "eyJhbGciOiJFUzI1NiJ9.eyJub25jZSI6IngifQ";
    char bad_b64[] = "eyJhbGciOiJFUzI1NiJ9.ey$$$.c2ln";
    char *tp[] = {two_parts, NULL}, *bb[] = {bad_b64, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, tp, &r));
    CHECK_WIRE(&r, 400, "invalid_proof");
    tes_buf_free(&r.body);
    CHECK(post_credential(tok, TES_DOCTYPE_PID, bb, &r));
    CHECK_WIRE(&r, 400, "invalid_proof");
    tes_buf_free(&r.body);

    /* the same key twice */
    char *dup[] = {p1, p1, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, dup, &r));
    CHECK_WIRE(&r, 400, "invalid_proof");
    CHECK(desc_has(&r, "same key"));
    tes_buf_free(&r.body);

    /* signed by another key than its jwk */
    tes_key *other = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &other) == TES_OK);
    proof_opts ow = {.se = E.se, .nonce = nonce, .sign_with = other};
    char *pw = make_proof(&ow, NULL, NULL);
    char *w[] = {pw, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, w, &r));
    CHECK_WIRE(&r, 400, "invalid_proof");
    CHECK(desc_has(&r, "does not verify"));
    tes_buf_free(&r.body);
    tes_key_free(other);
    free(pw);

    /* nonce: the failures above did not use it up (they fail before it is consumed) */
    /* attestation from an untrusted vendor (consumes the nonce, then fails) */
    proof_opts ou = {.se = E.se_untrusted, .nonce = nonce};
    char *pu = make_proof(&ou, NULL, NULL);
    char *u[] = {pu, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, u, &r));
    CHECK_WIRE(&r, 400, "invalid_proof");
    CHECK(desc_has(&r, "attestation"));
    tes_buf_free(&r.body);
    free(pu);

    /* attestation for another key */
    REQUIRE(fx_get_nonce(E.url, nonce));
    proof_opts oa = {.se = E.se, .nonce = nonce, .attest_other = E.se};
    char *pa = make_proof(&oa, NULL, NULL);
    char *a[] = {pa, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, a, &r));
    CHECK_WIRE(&r, 400, "invalid_proof");
    CHECK(desc_has(&r, "different key"));
    tes_buf_free(&r.body);
    free(pa);

    /* no attestation at all */
    REQUIRE(fx_get_nonce(E.url, nonce));
    proof_opts on = {.se = E.se, .nonce = nonce, .no_x5c = true};
    char *pn = make_proof(&on, NULL, NULL);
    char *nx[] = {pn, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, nx, &r));
    CHECK_WIRE(&r, 400, "invalid_proof");
    tes_buf_free(&r.body);
    free(pn);

    /* a good request; then the same nonce again: invalid_nonce */
    REQUIRE(fx_get_nonce(E.url, nonce));
    free(p1);
    p1 = make_proof(&o, NULL, NULL);
    char *good[] = {p1, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, good, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_buf_free(&r.body);
    char *p2 = make_proof(&o, NULL, NULL);
    char *again[] = {p2, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, again, &r));
    CHECK_WIRE(&r, 400, "invalid_nonce");
    tes_buf_free(&r.body);
    free(p2);

    /* an unknown nonce */
    proof_opts ox = {.se = E.se, .nonce = "never-issued"};
    char *px = make_proof(&ox, NULL, NULL);
    char *xx[] = {px, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, xx, &r));
    CHECK_WIRE(&r, 400, "invalid_nonce");
    tes_buf_free(&r.body);
    free(px);

    /* two proofs with different nonces */
    char n2[128];
    REQUIRE(fx_get_nonce(E.url, nonce) && fx_get_nonce(E.url, n2));
    proof_opts o2 = {.se = E.se, .nonce = n2};
    char *pa1 = make_proof(&o, NULL, NULL), *pa2 = make_proof(&o2, NULL, NULL);
    char *mixed[] = {pa1, pa2, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, mixed, &r));
    CHECK_WIRE(&r, 400, "invalid_proof");
    CHECK(desc_has(&r, "same c_nonce"));
    tes_buf_free(&r.body);
    free(pa1);
    free(pa2);

    /* the token is for a PID: asking for an mDL is refused */
    REQUIRE(fx_get_nonce(E.url, nonce));
    char *pm = make_proof(&o, NULL, NULL);
    char *mm[] = {pm, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_MDL, mm, &r));
    CHECK_WIRE(&r, 400, "unknown_credential_configuration");
    tes_buf_free(&r.body);
    free(pm);

    /* a stale nonce (the clock moves past its lifetime) */
    REQUIRE(fx_get_nonce(E.url, nonce));
    atomic_fetch_add(&fx_clock_offset, NONCE_LIFETIME + 1);
    char *ps = make_proof(&o, NULL, NULL);
    char *ss[] = {ps, NULL};
    CHECK(post_credential(tok, TES_DOCTYPE_PID, ss, &r));
    CHECK_WIRE(&r, 400, "invalid_nonce");
    tes_buf_free(&r.body);
    free(ps);
    free(p1);
    CHECK(still_serving());

    /* the client maps an untrusted chip to TES_ERR_PROOF */
    tes_buf uri;
    char code[128], tx[16];
    int64_t person;
    REQUIRE(enrol(&uri, code, tx, &person));
    tes_oid4vci_keys keys = {se_create, se_sign, E.se_untrusted};
    tes_buf *m;
    char(*ids)[64];
    size_t n;
    CHECK_ERR(tes_oid4vci_obtain((char *)uri.ptr, tx, 2, &keys, &m, &ids, &n), TES_ERR_PROOF);
    CHECK(strstr(tes_err_message(), "attestation") != NULL);
    tes_buf_free(&uri);
}

/* ------------------------------------------------------------------ tests: lost phone */

/* Status index and device of the credential bound to key k (the SQLite registry). */
static int64_t idx_of(const tes_key *k, char device[65])
{
    char th[65];
    if (iss_key_thumbprint(k, th) != TES_OK)
        return -1;
    int64_t idx = -1;
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(E.db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT idx, device FROM credentials WHERE thumbprint = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, th, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            idx = sqlite3_column_int64(st, 0);
            snprintf(device, 65, "%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return idx;
}

/* Obtains n copies by hand on se with token; keys out, device_id of the answer out. */
static bool obtain_on(tes_se *se, const char *token, size_t n, tes_key **keys, char device[65])
{
    char nonce[128];
    if (!fx_get_nonce(E.url, nonce))
        return false;
    proof_opts o = {.se = se, .nonce = nonce};
    char *proofs[4] = {0};
    for (size_t i = 0; i < n; i++)
        proofs[i] = make_proof(&o, &keys[i], NULL);
    fx_resp r;
    bool ok = post_credential(token, TES_DOCTYPE_PID, proofs, &r) && r.status == 200;
    json_t *v = ok ? fx_resp_json(&r) : NULL;
    json_t *d = json_object_get(v, "device_id");
    ok = ok && json_is_string(d) && json_array_size(json_object_get(v, "credentials")) == n;
    if (ok)
        snprintf(device, 65, "%s", json_string_value(d));
    else
        fprintf(stderr, "    credential: %ld %s\n", r.status, (const char *)r.body.ptr);
    json_decref(v);
    tes_buf_free(&r.body);
    for (size_t i = 0; i < n; i++)
        free(proofs[i]);
    return ok;
}

static bool post_lost(const char *code, const char *device, fx_resp *r)
{
    json_t *j = json_pack("{s:s}", "recovery_code", code);
    if (device)
        json_object_set_new(j, "device_id", json_string(device));
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    bool ok = http("POST", "/lost", "application/json", NULL, body, strlen(body), r);
    free(body);
    return ok;
}

static int64_t suspended_of(const fx_resp *r)
{
    json_t *v = fx_resp_json(r);
    json_t *n = json_object_get(v, "suspended");
    int64_t k = json_is_integer(n) ? (int64_t)json_integer_value(n) : -1;
    json_decref(v);
    return k;
}

/* ------------------------------------------------------------------ revocation, budgets */

/* One integer from a SQLite registry file (-1 on error). */
static long long sql_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static long long creds_of_person(const char *db, int64_t p)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM credentials WHERE person_id = %lld",
             (long long)p);
    return sql_int(db, sql);
}

/* A credential request on se (one proof, fresh nonce) with token at E.url. */
static bool request_on(tes_se *se, const char *token, fx_resp *r)
{
    char nonce[128];
    if (!fx_get_nonce(E.url, nonce))
        return false;
    proof_opts o = {.se = se, .nonce = nonce};
    char *proofs[2] = {make_proof(&o, NULL, NULL), NULL};
    bool ok = proofs[0] && post_credential(token, TES_DOCTYPE_PID, proofs, r);
    free(proofs[0]);
    return ok;
}

/* A new offer for person p through the registry, redeemed at the service: token out. */
static bool new_offer_token(int64_t p, char tok[128])
{
    tes_registry *reg = NULL;
    char code[64], tx[16];
    bool ok = tes_registry_open(E.db, &reg) == TES_OK &&
              tes_registry_offer_create(reg, p, fx_test_now(NULL), 600, 6, "counter-7", code,
                                        tx) == TES_OK;
    if (!ok)
        fprintf(stderr, "    offer: %s\n", tes_err_message());
    tes_registry_close(reg);
    return ok && fx_get_token(E.url, code, tx, tok);
}

static tes_err set_person(int64_t p, tes_status_value v)
{
    tes_registry *reg = NULL;
    tes_err e = tes_registry_open(E.db, &reg);
    if (e == TES_OK)
        e = tes_registry_set_status(reg, 0, p, v, "counter-7", NULL);
    tes_registry_close(reg);
    return e;
}

TEST(revocation_stops_issuance)
{
    REQUIRE(env_up());
    fx_resp r;
    tes_buf uri;
    char code[128], tx[16], tok[128], tok2[128], code2[64], tx2[16];
    int64_t a;

    /* Revoked: an unexpired access token and an open offer of the holder are refused. */
    REQUIRE(enrol(&uri, code, tx, &a));
    tes_buf_free(&uri);
    REQUIRE(fx_get_token(E.url, code, tx, tok));
    tes_registry *reg = NULL;
    REQUIRE(tes_registry_open(E.db, &reg) == TES_OK);
    CHECK_ERR(tes_registry_offer_create(reg, a, fx_test_now(NULL), 600, 6, "counter-7", code2, tx2),
              TES_OK);
    tes_registry_close(reg);
    REQUIRE(request_on(E.se, tok, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_buf_free(&r.body);
    CHECK_EQ_INT(creds_of_person(E.db, a), 1);
    CHECK_ERR(set_person(a, TES_STATUS_REVOKED), TES_OK);
    REQUIRE(request_on(E.se, tok, &r));
    CHECK_WIRE(&r, 401, "invalid_token");
    CHECK(desc_has(&r, "withdrawn"));
    CHECK(r.www_auth[0] && strstr(r.www_auth, "invalid_token") != NULL);
    tes_buf_free(&r.body);
    CHECK_EQ_INT(creds_of_person(E.db, a), 1);
    tes_buf f = {0};
    fx_token_form(&f, code2, tx2);
    CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, (char *)f.ptr, f.len,
               &r));
    CHECK_WIRE(&r, 400, "invalid_grant");
    CHECK(desc_has(&r, "withdrawn"));
    tes_buf_free(&r.body);
    tes_buf_free(&f);

    /* Suspended through the holder's own lost-phone report (no device: everything):
     * the token dies; reinstated, it stays dead, a new offer works. */
    int64_t b;
    REQUIRE(enrol(&uri, code, tx, &b));
    tes_buf_free(&uri);
    char recovery[32];
    memcpy(recovery, last_recovery, sizeof recovery);
    REQUIRE(fx_get_token(E.url, code, tx, tok));
    size_t n = 0;
    CHECK_ERR(tes_oid4vci_report_lost(E.url, recovery, NULL, &n), TES_OK);
    REQUIRE(request_on(E.se, tok, &r));
    CHECK_WIRE(&r, 401, "invalid_token");
    CHECK(desc_has(&r, "withdrawn"));
    tes_buf_free(&r.body);
    CHECK_ERR(set_person(b, TES_STATUS_VALID), TES_OK);
    REQUIRE(request_on(E.se, tok, &r));
    CHECK_WIRE(&r, 401, "invalid_token");
    tes_buf_free(&r.body);
    CHECK_EQ_INT(creds_of_person(E.db, b), 0);
    REQUIRE(new_offer_token(b, tok2));
    REQUIRE(request_on(E.se, tok2, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_buf_free(&r.body);
    CHECK_EQ_INT(creds_of_person(E.db, b), 1);

    /* A lost phone (by device): its holder's token dies; with a new offer, nothing more
     * onto that phone (credential_request_denied), another phone is served. */
    char vdir[128], phone_id[65];
    snprintf(vdir, sizeof vdir, "%s/vendor", E.dir);
    tes_se *tablet = NULL;
    REQUIRE(fx_soft_se(E.dir, "se4", vdir, &tablet));
    REQUIRE(fx_se_device_id(E.se, phone_id));
    CHECK_ERR(tes_oid4vci_report_lost(E.url, recovery, phone_id, &n), TES_OK);
    CHECK_EQ_INT(n, 1);
    REQUIRE(request_on(E.se, tok2, &r));
    CHECK_WIRE(&r, 401, "invalid_token");
    tes_buf_free(&r.body);
    REQUIRE(new_offer_token(b, tok2));
    REQUIRE(request_on(E.se, tok2, &r));
    CHECK_WIRE(&r, 400, "credential_request_denied");
    CHECK(desc_has(&r, "reported lost"));
    tes_buf_free(&r.body);
    CHECK_EQ_INT(creds_of_person(E.db, b), 1);
    REQUIRE(request_on(tablet, tok2, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_buf_free(&r.body);
    CHECK_EQ_INT(creds_of_person(E.db, b), 2);
    /* the phone found: reinstated for the holder, served again */
    reg = NULL;
    REQUIRE(tes_registry_open(E.db, &reg) == TES_OK);
    CHECK_ERR(tes_registry_set_status_by_device(reg, phone_id, b, TES_STATUS_VALID, "counter-7",
                                                NULL),
              TES_OK);
    tes_registry_close(reg);
    REQUIRE(request_on(E.se, tok2, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_buf_free(&r.body);
    tes_se_close(tablet);
    CHECK(still_serving());
}

/* A second service: software keys (no vendor roots), small lists, small budgets. */
typedef struct small_svc {
    tes_issuer *iss;
    char url[64], db[192];
    tes_issuer_config cfg;
} small_svc;

static const char SMALL_PUBLIC[] = "https://issuer.small.example";

static bool small_start(small_svc *v)
{
    v->cfg = (tes_issuer_config){.authority_dir = E.auth,
                                 .db_url = v->db,
                                 .listen = "127.0.0.1:0",
                                 .public_url = SMALL_PUBLIC,
                                 .batch_max = 2,
                                 .status_list_size = 4,
                                 .credentials_per_offer = 3,
                                 .credentials_per_person = 5,
                                 .budget_period = 3600,
                                 .nonce_rate_limit = 40,
                                 .clock = &FX_TEST_CLOCK,
                                 .attestation = TES_ATTESTATION_NOT_REQUIRED};
    int port = 0;
    if (tes_issuer_start(&v->cfg, &v->iss, &port) != TES_OK) {
        fprintf(stderr, "    small service: %s\n", tes_err_message());
        return false;
    }
    snprintf(v->url, sizeof v->url, "http://127.0.0.1:%d", port);
    return true;
}

/* n credentials with software keys: the HTTP status and the error name out; the
 * credentials' text (base64url mdocs) appended to got when not NULL. */
static long small_request(small_svc *v, const char *tok, size_t n, char err[64], json_t *got)
{
    char nonce[128];
    err[0] = '\0';
    if (!fx_get_nonce(v->url, nonce))
        return -1;
    proof_opts o = {.nonce = nonce, .aud = SMALL_PUBLIC};
    char *proofs[4] = {0};
    for (size_t i = 0; i < n && i < 3; i++)
        proofs[i] = make_proof(&o, NULL, NULL);
    fx_resp r;
    long st = fx_post_proofs(v->url, tok, TES_DOCTYPE_PID, "jwt", proofs, &r) ? r.status : -1;
    err_name(&r, err, 64);
    if (st == 200 && got) {
        json_t *j = fx_resp_json(&r);
        json_t *cs = json_object_get(j, "credentials"), *it;
        size_t k;
        json_array_foreach(cs, k, it) json_array_append(got, json_object_get(it, "credential"));
        json_decref(j);
    }
    if (st != 200)
        fprintf(stderr, "    (expected or not) %ld %s\n", st, (const char *)r.body.ptr);
    tes_buf_free(&r.body);
    for (size_t i = 0; i < n && i < 3; i++)
        free(proofs[i]);
    return st;
}

static bool small_token(small_svc *v, int64_t p, char tok[128])
{
    tes_registry *reg = NULL;
    char code[64], tx[16];
    bool ok = tes_registry_open(v->db, &reg) == TES_OK &&
              tes_registry_offer_create(reg, p, fx_test_now(NULL), 600, 6, "counter-7", code,
                                        tx) == TES_OK;
    tes_registry_close(reg);
    return ok && fx_get_token(v->url, code, tx, tok);
}

/* Whether the stored mdoc (base64url) names the status list uri. */
static bool mdoc_names(const char *b64, const char *uri)
{
    tes_buf raw = {0};
    bool ok = tes_b64url_decode(&raw, b64, strlen(b64)) == TES_OK &&
              memmem(raw.ptr, raw.len, uri, strlen(uri)) != NULL;
    tes_buf_free(&raw);
    return ok;
}

TEST(budgets_rollover_and_nonces)
{
    REQUIRE(env_up());
    small_svc v = {0};
    snprintf(v.db, sizeof v.db, "%s/small.db", E.dir);
    REQUIRE(small_start(&v));
    tes_registry *reg = NULL;
    int64_t p = 0;
    REQUIRE(tes_registry_open(v.db, &reg) == TES_OK);
    REQUIRE(tes_registry_person_add(reg, TES_DOCTYPE_PID, FX_PID_CLAIMS, "counter-7", &p) ==
            TES_OK);
    tes_registry_close(reg);
    char t1[128], t2[128], t3[128], err[64];
    json_t *got = json_array();

    /* The offer's budget (3): 2 + 1, then nothing; across a restart too. */
    REQUIRE(small_token(&v, p, t1));
    CHECK_EQ_INT(small_request(&v, t1, 2, err, got), 200);
    CHECK_EQ_INT(small_request(&v, t1, 2, err, NULL), 400);
    CHECK_EQ_STR(err, "credential_request_denied");
    CHECK_EQ_INT(small_request(&v, t1, 1, err, got), 200);
    CHECK_EQ_INT(small_request(&v, t1, 1, err, NULL), 400);
    CHECK_EQ_STR(err, "credential_request_denied");
    tes_issuer_stop(v.iss);
    REQUIRE(small_start(&v));
    CHECK_EQ_INT(small_request(&v, t1, 1, err, NULL), 400);
    CHECK_EQ_STR(err, "credential_request_denied");
    CHECK_EQ_INT(sql_int(v.db, "SELECT count(*) FROM credentials"), 3);

    /* A new offer: 2 more (the person's budget of 5 is reached); list 1 (4 entries, 3
     * used) has no room for 2: list 2 is started, and served. */
    REQUIRE(small_token(&v, p, t2));
    CHECK_EQ_INT(small_request(&v, t2, 2, err, got), 200);
    REQUIRE(small_token(&v, p, t3));
    CHECK_EQ_INT(small_request(&v, t3, 1, err, NULL), 400);
    CHECK_EQ_STR(err, "credential_request_denied");
    CHECK_EQ_INT(sql_int(v.db, "SELECT count(*) FROM credentials"), 5);
    char l1[128], l2[128];
    snprintf(l1, sizeof l1, "%s/status/1", SMALL_PUBLIC);
    snprintf(l2, sizeof l2, "%s/status/2", SMALL_PUBLIC);
    CHECK_EQ_INT(json_array_size(got), 5);
    for (size_t i = 0; i < json_array_size(got); i++) {
        const char *m = json_string_value(json_array_get(got, i));
        CHECK(m && mdoc_names(m, i < 3 ? l1 : l2) && !mdoc_names(m, i < 3 ? l2 : l1));
    }
    json_decref(got);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM credentials WHERE list_uri = '%s'", l2);
    CHECK_EQ_INT(sql_int(v.db, sql), 2);
    fx_resp r;
    CHECK(fx_http(v.url, "GET", "/status/2", NULL, NULL, NULL, 0, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_status_token st = {0};
    CHECK_ERR(tes_status_token_verify(tes_buf_bytes(&r.body), l2, E.trust, fx_test_now(NULL), &st),
              TES_OK);
    CHECK_EQ_INT(st.list.n, 4);
    tes_status_token_free(&st);
    tes_buf_free(&r.body);
    CHECK(fx_http(v.url, "GET", "/status/3", NULL, NULL, NULL, 0, &r));
    CHECK_EQ_INT(r.status, 404);
    tes_buf_free(&r.body);
    CHECK(fx_http(v.url, "GET", "/status/02", NULL, NULL, NULL, 0, &r));
    CHECK_EQ_INT(r.status, 404);
    tes_buf_free(&r.body);

    /* /nonce writes nothing and is limited per address (40 a minute here). */
    long long used_before = sql_int(v.db, "SELECT count(*) FROM nonces");
    int ok = 0, limited = 0;
    for (int i = 0; i < 100 && !limited; i++) {
        CHECK(fx_http(v.url, "POST", "/nonce", NULL, NULL, "", 0, &r));
        char eb[64];
        if (r.status == 200)
            ok++;
        else if (r.status == 429 && strcmp(err_name(&r, eb, sizeof eb), "rate_limited") == 0)
            limited++;
        tes_buf_free(&r.body);
    }
    CHECK_EQ_INT(limited, 1);
    CHECK(ok <= 80); /* 40 a minute, two windows at most */
    CHECK_EQ_INT(sql_int(v.db, "SELECT count(*) FROM nonces"), used_before);
    tes_issuer_stop(v.iss);
}

/* Enrolment records the person at the operator's clock and draws the codes
 * from the operator's randomness (tes_issuer_config clock and rng, handed
 * on to the registry): a chosen instant shows in the audit log, and without
 * randomness nobody is given a code. */
TEST(enrol_at_the_callers_clock_and_rng)
{
    REQUIRE(env_up());
    char db[200];
    snprintf(db, sizeof db, "%s/enrol-clock.db", E.dir);
    int64_t at = 1234567890;
    tes_clock clk = fixed_clock(&at);
    tes_issuer_config cfg = E.cfg;
    cfg.db_url = db;
    cfg.clock = &clk;
    tes_buf uri;
    char tx[16];
    int64_t person = 0;
    REQUIRE(fx_enrol(&cfg, "clerk-2009", &uri, NULL, tx, &person, NULL));
    tes_buf_free(&uri);
    tes_registry *r = NULL;
    REQUIRE(tes_registry_open(db, &r) == TES_OK);
    tes_registry_audit_entry *e = NULL;
    size_t n = 0;
    CHECK_ERR(tes_registry_audit_list(r, &e, &n), TES_OK);
    CHECK_EQ_INT(n, 3); /* enrol, recovery-code, offer */
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(e[i].at, 1234567890);
    tes_registry_audit_free(e, n);
    tes_registry_close(r);

    int calls = 0;
    tes_rng bad = failing_rng(&calls);
    cfg.rng = &bad;
    char rc[32];
    memset(&uri, 0, sizeof uri);
    CHECK_ERR(
        tes_issuer_enrol(&cfg, TES_DOCTYPE_PID, FX_PID_CLAIMS, "clerk", &uri, tx, &person, rc),
        TES_ERR_RANDOM);
    CHECK(calls > 0);
    tes_buf_free(&uri);
}

TEST(lost_phone)
{
    REQUIRE(env_up());
    /* A second phone of the same holder (a tablet), same trusted chip vendor. */
    char vdir[128];
    snprintf(vdir, sizeof vdir, "%s/vendor", E.dir);
    tes_se *tablet = NULL;
    REQUIRE(fx_soft_se(E.dir, "se3", vdir, &tablet));
    char phone_id[65] = "", tablet_id[65] = "", got[65] = "", dev[65] = "";
    REQUIRE(fx_se_device_id(E.se, phone_id) && fx_se_device_id(tablet, tablet_id));
    CHECK(strcmp(phone_id, tablet_id) != 0);

    tes_buf uri;
    char code[128], tx[16], tok[128], recovery[32];
    int64_t person;
    REQUIRE(enrol(&uri, code, tx, &person));
    tes_buf_free(&uri);
    memcpy(recovery, last_recovery, sizeof recovery);
    REQUIRE(fx_get_token(E.url, code, tx, tok));
    tes_key *pk[2] = {0}, *tk[1] = {0};
    REQUIRE(obtain_on(E.se, tok, 2, pk, got));
    CHECK_EQ_STR(got, phone_id); /* the answer's device_id: SHA-256 of the SE's attestation cert */
    REQUIRE(obtain_on(tablet, tok, 1, tk, got));
    CHECK_EQ_STR(got, tablet_id);
    int64_t pidx[2], tidx;
    pidx[0] = idx_of(pk[0], dev);
    CHECK_EQ_STR(dev, phone_id); /* recorded in the registry */
    pidx[1] = idx_of(pk[1], dev);
    tidx = idx_of(tk[0], dev);
    CHECK_EQ_STR(dev, tablet_id);
    REQUIRE(pidx[0] >= 0 && pidx[1] >= 0 && tidx >= 0);

    /* A wrong recovery code: invalid_grant, nothing changes. */
    char wrong[32];
    memcpy(wrong, recovery, sizeof wrong);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    fx_resp r;
    CHECK(post_lost(wrong, phone_id, &r));
    CHECK_WIRE(&r, 400, "invalid_grant");
    tes_buf_free(&r.body);
    size_t n = 99;
    CHECK_ERR(tes_oid4vci_report_lost(E.url, wrong, NULL, &n), TES_ERR_GRANT);
    tes_status_token st = {0};
    REQUIRE(fetch_status(&st));
    CHECK_EQ_INT(tes_status_list_get(&st.list, pidx[0]), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&st.list, pidx[1]), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&st.list, tidx), TES_STATUS_VALID);
    tes_status_token_free(&st);

    /* Malformed requests; a device none of the holder's credentials is on. */
    CHECK(post_lost(recovery, "abc", &r));
    CHECK_WIRE(&r, 400, "invalid_request");
    tes_buf_free(&r.body);
    char other[65];
    memset(other, 'e', 64);
    other[64] = '\0';
    CHECK(post_lost(recovery, other, &r));
    CHECK_WIRE(&r, 400, "invalid_request");
    tes_buf_free(&r.body);
    CHECK(http("POST", "/lost", "application/json", NULL, "{\"recovery_code\": 5}", 19, &r));
    CHECK_WIRE(&r, 400, "invalid_request");
    tes_buf_free(&r.body);
    CHECK(http("GET", "/lost", NULL, NULL, NULL, 0, &r));
    CHECK_WIRE(&r, 405, "invalid_request");
    tes_buf_free(&r.body);

    /* The phone is lost: its two copies suspended, the tablet's untouched. */
    CHECK(post_lost(recovery, phone_id, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(suspended_of(&r), 2);
    tes_buf_free(&r.body);
    REQUIRE(fetch_status(&st)); /* no wait: /lost drops the service's cached list */
    CHECK_EQ_INT(tes_status_list_get(&st.list, pidx[0]), TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(tes_status_list_get(&st.list, pidx[1]), TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(tes_status_list_get(&st.list, tidx), TES_STATUS_VALID);
    tes_status_token_free(&st);

    /* Found: reinstated by device at the counter. */
    tes_registry *reg = NULL;
    REQUIRE(tes_registry_open(E.db, &reg) == TES_OK);
    CHECK_ERR(
        tes_registry_set_status_by_device(reg, phone_id, 0, TES_STATUS_VALID, "counter-7", &n),
        TES_OK);
    CHECK_EQ_INT(n, 2);
    tes_registry_close(reg);
    atomic_fetch_add(&fx_clock_offset, 6); /* past the service's status cache */
    REQUIRE(fetch_status(&st));
    CHECK_EQ_INT(tes_status_list_get(&st.list, pidx[0]), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&st.list, pidx[1]), TES_STATUS_VALID);
    tes_status_token_free(&st);

    /* Through the client, no device: every credential of the holder (lower case, no dashes). */
    char loose[32];
    size_t k = 0;
    for (size_t i = 0; recovery[i]; i++)
        if (recovery[i] != '-')
            loose[k++] =
                (char)(recovery[i] >= 'A' && recovery[i] <= 'Z' ? recovery[i] + 32 : recovery[i]);
    loose[k] = '\0';
    CHECK_ERR(tes_oid4vci_report_lost(E.url, loose, NULL, &n), TES_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_ERR(tes_oid4vci_report_lost(E.url, recovery, tablet_id, &n), TES_OK);
    CHECK_EQ_INT(n, 0); /* already suspended */
    CHECK_ERR(tes_oid4vci_report_lost(E.url, recovery, "xyz", &n), TES_ERR_ARG);

    /* Wrong codes are counted per address: after rate_limit (30) a minute, 429, even for
     * the right code. */
    int limited = 0;
    for (int i = 0; i < 31; i++) {
        CHECK(post_lost(wrong, NULL, &r));
        char eb[64];
        limited += r.status == 429 && strcmp(err_name(&r, eb, sizeof eb), "rate_limited") == 0;
        tes_buf_free(&r.body);
    }
    CHECK(limited >= 1);
    CHECK_ERR(tes_oid4vci_report_lost(E.url, recovery, NULL, &n), TES_ERR_RATE_LIMIT);
    CHECK(still_serving());

    for (size_t i = 0; i < 2; i++)
        tes_key_free(pk[i]);
    tes_key_free(tk[0]);
    tes_se_close(tablet);
}

TEST(metadata)
{
    REQUIRE(env_up());
    fx_resp r;
    REQUIRE(http("GET", "/.well-known/openid-credential-issuer", NULL, NULL, NULL, 0, &r));
    CHECK_EQ_INT(r.status, 200);
    json_t *v = fx_resp_json(&r);
    CHECK_EQ_STR(json_string_value(json_object_get(v, "credential_issuer")), E.url);
    json_t *cfg =
        json_object_get(json_object_get(v, "credential_configurations_supported"), TES_DOCTYPE_MDL);
    CHECK_EQ_STR(json_string_value(json_object_get(cfg, "doctype")), TES_DOCTYPE_MDL);
    CHECK(json_is_object(
        json_object_get(json_object_get(json_object_get(cfg, "proof_types_supported"), "jwt"),
                        "key_attestations_required")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(v, "batch_credential_issuance"),
                                                    "batch_size")),
                 BATCH_MAX);
    json_decref(v);
    tes_buf_free(&r.body);
    REQUIRE(http("GET", "/.well-known/oauth-authorization-server", NULL, NULL, NULL, 0, &r));
    v = fx_resp_json(&r);
    char tok_ep[160];
    snprintf(tok_ep, sizeof tok_ep, "%s/token", E.url);
    CHECK_EQ_STR(json_string_value(json_object_get(v, "token_endpoint")), tok_ep);
    json_decref(v);
    tes_buf_free(&r.body);
}

/* OpenID4VCI 1.0 Appendix A.2.4: the credential is base64url (no padding) of the CBOR
 * IssuerSigned of ISO 18013-5, {"nameSpaces", "issuerAuth"}, the docType only in the MSO;
 * and a Credential Request with a member the issuer does not know (§8.2) is served. */
TEST(credential_response_form)
{
    REQUIRE(env_up());
    char tok[128], nonce[128];
    REQUIRE(fx_fresh_token(&E.cfg, COUNTER, tok));
    REQUIRE(fx_get_nonce(E.url, nonce));
    proof_opts o = {.se = E.se, .nonce = nonce};
    tes_key *key = NULL;
    char *p1 = make_proof(&o, &key, NULL);
    REQUIRE(p1 != NULL);
    json_t *req = json_pack("{s:s, s:{s:[s]}, s:{s:i}, s:s}", "credential_configuration_id",
                            TES_DOCTYPE_PID, "proofs", "jwt", p1, "x_foo", "n", 1, "x_bar", "y");
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    fx_resp r;
    CHECK(http("POST", "/credential", "application/json", tok, body, strlen(body), &r));
    free(body);
    free(p1);
    CHECK_EQ_INT(r.status, 200);
    json_t *v = fx_resp_json(&r);
    json_t *cred =
        json_object_get(json_array_get(json_object_get(v, "credentials"), 0), "credential");
    CHECK(json_is_string(cred));
    const char *text = json_is_string(cred) ? json_string_value(cred) : "";
    CHECK(strlen(text) > 0 && tes_jose_b64url_chars(text, strlen(text))); /* no '=', '+', '/' */
    tes_buf raw = {0};
    CHECK_ERR(tes_b64url_decode(&raw, text, strlen(text)), TES_OK);
    tes_cbor_doc d;
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&raw), NULL, &d) == TES_OK);
    CHECK(tes_cbor_is(&d, 0, TES_CBOR_MAP));
    CHECK_EQ_INT(tes_cbor_count(&d, 0), 2);
    CHECK(tes_cbor_is(&d, tes_cbor_map_get_text(&d, 0, "nameSpaces"), TES_CBOR_MAP));
    CHECK(tes_cbor_is(&d, tes_cbor_map_get_text(&d, 0, "issuerAuth"), TES_CBOR_ARRAY));
    CHECK(tes_cbor_map_get_text(&d, 0, "docType") == TES_CBOR_NONE);
    CHECK(tes_cbor_map_get_text(&d, 0, "issuerSigned") == TES_CBOR_NONE);
    tes_cbor_doc_free(&d);
    tes_mdoc_cred_info info;
    CHECK_ERR(tes_mdoc_cred_info_read(tes_buf_bytes(&raw), &info), TES_OK);
    CHECK_EQ_STR(info.doctype, TES_DOCTYPE_PID); /* from the MSO */
    CHECK(info.device_key && tes_key_equal_public(info.device_key, key));
    tes_mdoc_cred_info_free(&info);
    tes_buf_free(&raw);
    json_decref(v);
    tes_buf_free(&r.body);
    tes_key_free(key);
    CHECK(still_serving());
}

/* An authority made before midnight alignment (its DS valid from a minute ago, as
 * `authority init` used to make it: "now - 1 hour") issues at once: the MSO's signed
 * and validFrom are not rounded to before the DS notBefore (ISO 18013-5 §9.3.1; other
 * verifiers reject such credentials), still one value for every copy. */
TEST(signed_not_before_ds)
{
    REQUIRE(env_up());
    const int64_t now = fx_test_now(NULL);
    const int64_t day_start = now - now % DAY;
    /* a minute ago, but after midnight (so rounding down alone would go before it) */
    int64_t nb = now - 60;
    if (nb <= day_start)
        nb = day_start + (now - day_start) / 2;
    char auth[160], db[176], url[128];
    snprintf(auth, sizeof auth, "%s/fresh_authority", E.dir);
    snprintf(db, sizeof db, "%s/fresh.db", E.dir);
    REQUIRE(mkdir(auth, 0700) == 0);
    tes_cert *iaca = NULL;
    REQUIRE(fx_make_authority_from(auth, nb, &iaca));
    tes_trust_store *trust = NULL;
    REQUIRE(tes_trust_store_new(&trust) == TES_OK);
    REQUIRE(tes_trust_store_add(trust, TES_PROFILE_DS, iaca) == TES_OK); /* takes its own ref */
    tes_cert_free(iaca);
    tes_issuer_config cfg = {.authority_dir = auth,
                             .db_url = db,
                             .listen = "127.0.0.1:0",
                             .batch_max = BATCH_MAX,
                             .clock = &FX_TEST_CLOCK,
                             .attestation = TES_ATTESTATION_NOT_REQUIRED};
    tes_issuer *iss = NULL;
    REQUIRE(fx_service_start(&cfg, &iss, NULL, url, sizeof url));
    tes_buf uri = {0};
    char tx[16], recovery[32];
    int64_t person;
    CHECK_ERR(tes_issuer_enrol(&cfg, TES_DOCTYPE_PID, FX_PID_CLAIMS, COUNTER, &uri, tx, &person,
                               recovery),
              TES_OK);
    tes_buf_append(&uri, "", 1);
    fx_soft_keys sk = {0};
    tes_oid4vci_keys keys = {fx_soft_create, fx_soft_sign, &sk};
    tes_buf *m = NULL;
    char(*ids)[64] = NULL;
    size_t n = 0;
    tes_err e = tes_oid4vci_obtain((char *)uri.ptr, tx, 2, &keys, &m, &ids, &n);
    if (e != TES_OK)
        fprintf(stderr, "    obtain: %s\n", tes_err_message());
    CHECK_ERR(e, TES_OK);
    for (size_t i = 0; i < n; i++) {
        tes_mdoc_cred_info info;
        REQUIRE(tes_mdoc_cred_info_read(tes_buf_bytes(&m[i]), &info) == TES_OK);
        CHECK(info.signed_at >= nb); /* inside the DS validity */
        CHECK_EQ_INT(info.signed_at, nb);
        CHECK_EQ_INT(info.valid_from, info.signed_at);
        CHECK_EQ_INT(info.valid_until, day_start + 365 * DAY);
        tes_mdoc_cred_info_free(&info);
        /* and it verifies as a reader would, now */
        size_t k = (size_t)(ids[i][1] - '0');
        tes_signer dev = tes_signer_from_key(sk.k[k]);
        tes_buf dr = {0};
        CHECK_ERR(fx_present_family_name(tes_buf_bytes(&m[i]), &dev, &dr), TES_OK);
        tes_mdoc_result res = {0};
        CHECK_ERR(fx_verify_response(&dr, trust, now, &res), TES_OK);
        tes_mdoc_result_free(&res);
        tes_buf_free(&dr);
        tes_buf_free(&m[i]);
    }
    free(m);
    free(ids);
    fx_soft_keys_clear(&sk);
    tes_buf_free(&uri);
    tes_issuer_stop(iss);
    tes_trust_store_free(trust);
}

/* Last on this service: it uses up the failure allowance of 127.0.0.1. */
TEST(rate_limits)
{
    REQUIRE(env_up());
    tes_buf uri;
    char code[128], tx[16];
    int64_t person;
    REQUIRE(enrol(&uri, code, tx, &person));
    tes_buf f = {0};
    fx_token_form(&f, code, tx); /* right code and tx: but sent 31 times (rate 30/min) */
    int ok = 0, limited = 0, other = 0;
    for (int i = 0; i < 31; i++) {
        fx_resp r;
        CHECK(http("POST", "/token", "application/x-www-form-urlencoded", NULL, (char *)f.ptr,
                   f.len, &r));
        char eb[64];
        if (r.status == 200)
            ok++;
        else if (r.status == 429 && strcmp(err_name(&r, eb, sizeof eb), "rate_limited") == 0)
            limited++;
        else
            other++;
        tes_buf_free(&r.body);
    }
    CHECK_EQ_INT(ok, 1);
    CHECK(limited >= 1);
    tes_buf_free(&f);
    /* the client reports it */
    fx_soft_keys sk = {0};
    tes_oid4vci_keys keys = {fx_soft_create, fx_soft_sign, &sk};
    tes_buf *m;
    char(*ids)[64];
    size_t n;
    tes_buf_append(&uri, "", 1);
    CHECK_ERR(tes_oid4vci_obtain((char *)uri.ptr, tx, 1, &keys, &m, &ids, &n), TES_ERR_RATE_LIMIT);
    fx_soft_keys_clear(&sk);
    tes_buf_free(&uri);
    CHECK(still_serving());
}

/* ------------------------------------------------------------------ load */

typedef struct load_job {
    char **uris;
    size_t n;
    char tx[LOAD_PER_THREAD][16];
    size_t ok, failed;
} load_job;

static void *load_worker(void *arg)
{
    load_job *j = arg;
    fx_soft_keys sk = {0};
    tes_oid4vci_keys keys = {fx_soft_create, fx_soft_sign, &sk};
    for (size_t i = 0; i < j->n; i++) {
        tes_buf *m = NULL;
        char(*ids)[64] = NULL;
        size_t n = 0;
        tes_err e = tes_oid4vci_obtain(j->uris[i], j->tx[i], 1, &keys, &m, &ids, &n);
        if (e == TES_OK && n == 1) {
            j->ok++;
            tes_buf_free(&m[0]);
            free(m);
            free(ids);
        } else {
            if (j->failed++ < 3)
                fprintf(stderr, "load: %s\n", tes_err_message());
        }
        fx_soft_keys_clear(&sk);
    }
    return NULL;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

TEST(load_run)
{
    REQUIRE(env_up());
    /* A second service: no attestation required (software keys), its own registry. */
    char db[192];
    snprintf(db, sizeof db, "%s/load.db", E.dir);
    /* One client address and 250 credentials a person: as an operator would for a load
     * test, the nonce rate per address and the person's budget are lifted. */
    tes_issuer_config cfg = {.authority_dir = E.auth,
                             .db_url = db,
                             .listen = "127.0.0.1:0",
                             .batch_max = 4,
                             .credentials_per_person = -1,
                             .nonce_rate_limit = -1,
                             .attestation = TES_ATTESTATION_NOT_REQUIRED};
    tes_issuer *iss = NULL;
    int port = 0;
    REQUIRE(tes_issuer_start(&cfg, &iss, &port) == TES_OK);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);

    /* the offers, made up front through the registry */
    tes_registry *r = NULL;
    REQUIRE(tes_registry_open(db, &r) == TES_OK);
    load_job jobs[LOAD_THREADS];
    memset(jobs, 0, sizeof jobs);
    int64_t now = time(NULL);
    for (size_t t = 0; t < LOAD_THREADS; t++) {
        int64_t person;
        REQUIRE(tes_registry_person_add(r, TES_DOCTYPE_PID, FX_PID_CLAIMS, "load", &person) ==
                TES_OK);
        jobs[t].uris = calloc(LOAD_PER_THREAD, sizeof(char *));
        for (size_t i = 0; i < LOAD_PER_THREAD; i++) {
            char code[64];
            REQUIRE(tes_registry_offer_create(r, person, now, 3600, 6, "load", code,
                                              jobs[t].tx[i]) == TES_OK);
            tes_buf u = {0};
            REQUIRE(iss_offer_uri(url, TES_DOCTYPE_PID, code, 6, &u) == TES_OK);
            tes_buf_append(&u, "", 1);
            jobs[t].uris[i] = (char *)u.ptr;
            jobs[t].n++;
        }
    }
    tes_registry_close(r);

    long before = rss_kb();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t th[LOAD_THREADS];
    for (size_t t = 0; t < LOAD_THREADS; t++)
        REQUIRE(pthread_create(&th[t], NULL, load_worker, &jobs[t]) == 0);
    size_t ok = 0, failed = 0;
    for (size_t t = 0; t < LOAD_THREADS; t++) {
        pthread_join(th[t], NULL);
        ok += jobs[t].ok;
        failed += jobs[t].failed;
        for (size_t i = 0; i < jobs[t].n; i++)
            free(jobs[t].uris[i]);
        free(jobs[t].uris);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long after = rss_kb();
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("     load: %zu credentials ok, %zu failed, %d threads, %.1f s (%.0f/s), "
           "RSS %ld kB before, %ld kB after\n",
           ok, failed, LOAD_THREADS, secs, (double)ok / secs, before, after);
    CHECK_EQ_INT(ok, LOAD_THREADS * LOAD_PER_THREAD);
    CHECK_EQ_INT(failed, 0);
    tes_issuer_stop(iss);
}

/* Key attestation is required unless the config says otherwise by name: required without
 * vendor roots, or not required with them, is refused before anything is read. */
TEST(attestation_config_errors)
{
    tes_issuer *x = NULL;
    tes_issuer_config c = {.authority_dir = "/nonexistent/authority", .listen = "127.0.0.1:0"};
    CHECK_ERR(tes_issuer_start(&c, &x, NULL), TES_ERR_ARG); /* the zero value: required */
    CHECK(strstr(tes_err_message(), "no vendor_roots") != NULL);
    CHECK(strstr(tes_err_message(), "TES_ATTESTATION_NOT_REQUIRED") != NULL);
    c.attestation = TES_ATTESTATION_REQUIRED;
    CHECK_ERR(tes_issuer_start(&c, &x, NULL), TES_ERR_ARG);
    c.vendor_roots = "/nonexistent/vendors.pem";
    c.attestation = TES_ATTESTATION_NOT_REQUIRED;
    CHECK_ERR(tes_issuer_start(&c, &x, NULL), TES_ERR_ARG);
    CHECK(strstr(tes_err_message(), "drop one of them") != NULL);
    c.attestation = (tes_issuer_attestation)7;
    CHECK_ERR(tes_issuer_start(&c, &x, NULL), TES_ERR_ARG);
    /* a consistent config gets past the check: to the missing authority */
    c.vendor_roots = NULL;
    c.attestation = TES_ATTESTATION_NOT_REQUIRED;
    tes_err e = tes_issuer_start(&c, &x, NULL);
    CHECK(e != TES_OK && e != TES_ERR_ARG);
    CHECK(x == NULL);
}

TEARDOWN(service)
{
    if (!E.ready)
        return;
    tes_issuer_stop(E.iss);
    /* the config of a stopped service still refuses what it must */
    tes_issuer_config bad = E.cfg;
    bad.authority_dir = "/nonexistent";
    tes_issuer *x = NULL;
    CHECK(tes_issuer_start(&bad, &x, NULL) != TES_OK);
    bad = E.cfg;
    bad.listen = "127.0.0.1:notaport";
    CHECK_ERR(tes_issuer_start(&bad, &x, NULL), TES_ERR_ARG);
    tes_se_close(E.se);
    tes_se_close(E.se_untrusted);
    tes_trust_store_free(E.trust);
    tes_cert_free(E.iaca);
    CHECK(fx_temp_remove(E.dir));
}
