/*
 * Offline check-in (ISO/IEC 18013-5 proximity): holder and reader over the
 * in-memory transport, the holder in a second thread, with a real software
 * secure element and a real wallet store in a temp dir; an authority (IACA +
 * DS), a reader authority ("Police Bureau") and a licensed reader ("Hotel
 * Utopia", scope "hotel registration"). Also the reader-scope extension and
 * the consent policy parser.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/proximity.h"
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

static const int64_t T0 = 1767225600; /* 2026-01-01T00:00:00Z */
#define DAY 86400
#define PID_NS "eu.europa.ec.eudi.pid.1"
#define PIN "123456"

static const char pid_claims[] =
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    " \"birth_date\": \"1964-08-12\", \"issuing_authority\": \"Utopia\", \"issuing_country\": "
    "\"UT\", \"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"age_over_21\": true,"
    " \"age_over_65\": false, \"nationality\": \"UT\", \"document_number\": \"T22000129\","
    " \"portrait\": \"_9j_4AAQSkZJRgABAQAAAQABAAD_2wBDAP__\"}}";

#include "prox_fixture.h"

static const char *const hotel_scope[] = {PID_NS "/family_name",     PID_NS "/given_name",
                                          PID_NS "/document_number", PID_NS "/portrait",
                                          PID_NS "/nationality",     PID_NS "/age_over_NN"};

/* ------------------------------------------------------------------ PKI */

typedef struct pki {
    tes_key *iaca_key, *ds_key, *rroot_key, *reader_key, *other_key;
    tes_cert *iaca, *ds, *rroot, *reader, *expired_reader, *other_root, *other_reader,
        *unscoped_reader;
    tes_trust_store *iaca_trust;   /* the reader's: IACA roots */
    tes_trust_store *reader_trust; /* the holder's: reader authorities */
} pki;

static tes_cert *make_reader(const char *cn, tes_key *k, tes_cert *root, tes_key *root_key,
                             int64_t nb, int64_t na, bool scoped)
{
    return fx_reader(cn, k, root, root_key, nb, na, hotel_scope,
                     scoped ? sizeof(hotel_scope) / sizeof(hotel_scope[0]) : 0);
}

#define UNSCOPED_NAME "H\xc3\xb4tel \xe2\x80\xae" "nialP\xc2\x9b"

static bool pki_make(pki *p)
{
    memset(p, 0, sizeof(*p));
    if (tes_key_generate(TES_CURVE_P256, &p->iaca_key) ||
        tes_key_generate(TES_CURVE_P256, &p->ds_key) ||
        tes_key_generate(TES_CURVE_P256, &p->rroot_key) ||
        tes_key_generate(TES_CURVE_P256, &p->reader_key) ||
        tes_key_generate(TES_CURVE_P256, &p->other_key))
        return false;
    p->iaca = fx_root("Utopia IACA", p->iaca_key);
    p->rroot = fx_root("Police Bureau", p->rroot_key);
    p->other_root = fx_root("Other Bureau", p->other_key);
    if (!p->iaca || !p->rroot || !p->other_root)
        return false;
    if ((p->ds = fx_ds(p->ds_key, p->iaca, p->iaca_key)) == NULL)
        return false;
    p->reader = make_reader("Hotel Utopia", p->reader_key, p->rroot, p->rroot_key, T0 - DAY,
                            T0 + 365 * DAY, true);
    p->expired_reader = make_reader("Hotel Utopia", p->reader_key, p->rroot, p->rroot_key,
                                    T0 - 30 * DAY, T0 - DAY, true);
    p->other_reader = make_reader("Hotel Utopia", p->reader_key, p->other_root, p->other_key,
                                  T0 - DAY, T0 + 365 * DAY, true);
    /* its name in UTF-8, with a right-to-left override and a C1 control (CSI) in it */
    p->unscoped_reader = make_reader(UNSCOPED_NAME, p->reader_key, p->rroot, p->rroot_key,
                                     T0 - DAY, T0 + 365 * DAY, false);
    return p->reader && p->expired_reader && p->other_reader && p->unscoped_reader &&
           tes_trust_store_new(&p->iaca_trust) == TES_OK &&
           tes_trust_store_add(p->iaca_trust, TES_PROFILE_DS, p->iaca) == TES_OK &&
           tes_trust_store_new(&p->reader_trust) == TES_OK &&
           tes_trust_store_add(p->reader_trust, TES_PROFILE_READER, p->rroot) == TES_OK;
}

static void pki_free(pki *p)
{
    tes_key_free(p->iaca_key);
    tes_key_free(p->ds_key);
    tes_key_free(p->rroot_key);
    tes_key_free(p->reader_key);
    tes_key_free(p->other_key);
    tes_cert_free(p->iaca);
    tes_cert_free(p->ds);
    tes_cert_free(p->rroot);
    tes_cert_free(p->reader);
    tes_cert_free(p->expired_reader);
    tes_cert_free(p->other_root);
    tes_cert_free(p->other_reader);
    tes_cert_free(p->unscoped_reader);
    tes_trust_store_free(p->iaca_trust);
    tes_trust_store_free(p->reader_trust);
}

/* ------------------------------------------------------------------ wallet */

typedef struct wallet {
    char dir[64];
    tes_se *se;
    tes_store *store;
    int64_t cred_id;
} wallet;

/* A wallet with a PIN-protected soft SE and one PID credential of `copies`
 * copies, each bound to its own SE key (user verification, single use when
 * single_use). */
static bool wallet_make(wallet *w, pki *p, size_t copies, bool single_use)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->dir, sizeof(w->dir), "/tmp/tes_prox_XXXXXX");
    if (!mkdtemp(w->dir))
        return false;
    char spec[128], path[128];
    snprintf(spec, sizeof(spec), "soft:%s/se", w->dir);
    snprintf(path, sizeof(path), "%s/wallet.db", w->dir);
    if (tes_se_open(spec, NULL, &w->se) != TES_OK ||
        w->se->ops->pin_set(w->se, PIN, "12345678") != TES_OK ||
        tes_store_open(path, &w->store) != TES_OK)
        return false;
    tes_mdoc_claims claims = {0};
    if (tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), pid_claims, strlen(pid_claims),
                                  NULL, &claims) != TES_OK) {
        fprintf(stderr, "claims: %s\n", tes_err_message());
        return false;
    }
    char ids[4][TES_SE_ID_MAX];
    tes_buf mdocs[4] = {{0}};
    tes_store_new_copy nc[4];
    bool ok = copies <= 4;
    tes_signer ds = tes_signer_from_key(p->ds_key);
    tes_bytes chain = tes_cert_der(p->ds);
    for (size_t i = 0; ok && i < copies; i++) {
        tes_se_key_opts o = {.user_verification = true, .single_use = single_use};
        tes_key *pub = NULL;
        ok = tes_se_create_key(w->se, &o, ids[i]) == TES_OK &&
             tes_se_public_key(w->se, ids[i], &pub) == TES_OK;
        tes_mdoc_issue_params ip = {.doctype = TES_DOCTYPE_PID,
                                    .claims = &claims,
                                    .device_key = pub,
                                    .issuer = &ds,
                                    .ds_chain = &chain,
                                    .ds_chain_len = 1,
                                    .signed_at = T0 - 3600,
                                    .valid_from = T0 - 3600,
                                    .valid_until = T0 + 365 * DAY,
                                    .decoys = 2};
        ok = ok && tes_mdoc_issue(&ip, &mdocs[i]) == TES_OK;
        tes_key_free(pub);
        nc[i] = (tes_store_new_copy){ids[i], tes_buf_bytes(&mdocs[i])};
    }
    tes_store_cred meta = {.doctype = TES_DOCTYPE_PID,
                           .display_name = "PID",
                           .issuer = "Utopia DS",
                           .valid_from = T0 - 3600,
                           .valid_until = T0 + 365 * DAY};
    ok = ok &&
         tes_store_add_credential(w->store, &meta, nc, copies, single_use, &w->cred_id) == TES_OK;
    for (size_t i = 0; i < 4; i++)
        tes_buf_free(&mdocs[i]);
    tes_mdoc_claims_free(&claims);
    return ok;
}

static void wallet_free(wallet *w)
{
    if (w->store)
        tes_store_close(w->store);
    if (w->se)
        tes_se_close(w->se);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
    if (w->dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", w->dir);
}

static int64_t unused_copies(wallet *w)
{
    tes_store_cred *c = NULL;
    size_t n = 0;
    int64_t u = -1;
    if (tes_store_list(w->store, &c, &n) == TES_OK)
        for (size_t i = 0; i < n; i++)
            if (c[i].id == w->cred_id)
                u = c[i].unused_copies;
    tes_store_creds_free(c, n);
    return u;
}

/* The last log entry (fields copied into out, which must be freed). */
static bool last_log(wallet *w, char rp[256], char elems[1024], char outcome[128])
{
    tes_store_log_entry *le = NULL;
    size_t n = 0;
    if (tes_store_log_list(w->store, &le, &n) != TES_OK || n == 0)
        return false;
    snprintf(rp, 256, "%s", le[n - 1].relying_party);
    snprintf(elems, 1024, "%s", le[n - 1].elements);
    snprintf(outcome, 128, "%s", le[n - 1].outcome);
    tes_store_log_free(le, n);
    return true;
}

/* ------------------------------------------------------------------ consent */

#define MAX_SEEN 32
typedef struct consent_spy {
    /* behaviour */
    tes_consent_policy *policy; /* when set, decides */
    const char *const *approve; /* else: approve exactly these element names */
    size_t n_approve;
    bool decline;
    const char *pin;
    /* what the holder was shown */
    int calls;
    tes_consent_request seen;
    char names[MAX_SEEN][64];
    tes_consent_item items[MAX_SEEN];
} consent_spy;

static tes_err spy_consent(void *ctx, tes_consent_request *req, char pin[64])
{
    consent_spy *s = ctx;
    s->calls++;
    s->seen = *req;
    s->seen.items = NULL;
    for (size_t i = 0; i < req->n_items && i < MAX_SEEN; i++) {
        s->items[i] = req->items[i];
        snprintf(s->names[i], sizeof(s->names[i]), "%.*s", (int)req->items[i].name.len,
                 (const char *)req->items[i].name.ptr);
    }
    if (s->policy) {
        tes_err e = tes_consent_policy_decide(s->policy, req, pin);
        for (size_t i = 0; i < req->n_items && i < MAX_SEEN; i++)
            s->items[i] = req->items[i];
        return e;
    }
    if (s->decline)
        return tes_err_set(TES_ERR_CONSENT, "the holder said no");
    for (size_t i = 0; i < req->n_items; i++)
        for (size_t j = 0; j < s->n_approve; j++)
            if (tes_bytes_eq(req->items[i].name, TES_BYTES(s->approve[j], strlen(s->approve[j]))))
                req->items[i].approve = true;
    snprintf(pin, 64, "%s", s->pin ? s->pin : "");
    return TES_OK;
}

static const tes_consent_item *seen_item(const consent_spy *s, const char *name)
{
    for (size_t i = 0; i < s->seen.n_items && i < MAX_SEEN; i++)
        if (strcmp(s->names[i], name) == 0)
            return &s->items[i];
    return NULL;
}

static tes_consent_policy *policy(const char *json)
{
    tes_consent_policy *p = NULL;
    if (tes_consent_policy_parse(json, strlen(json), &p) != TES_OK)
        fprintf(stderr, "policy: %s\n", tes_err_message());
    return p;
}

/* ------------------------------------------------------------------ one transaction */

typedef enum reader_auth {
    AUTH_GOOD,
    AUTH_NONE,
    AUTH_UNTRUSTED,
    AUTH_EXPIRED,
    AUTH_UNSCOPED
} reader_auth;

typedef struct txn {
    /* inputs */
    pki *p;
    wallet *w;
    tes_se *se; /* NULL: w->se */
    consent_spy *spy;
    const char *const *names; /* requested PID elements */
    size_t n_names;
    bool retain; /* intent to retain family_name and document_number */
    reader_auth auth;
    /* holder */
    tes_holder_params hp;
    tes_err holder_err;
    char holder_msg[512];
    tes_holder_result hres;
    /* reader */
    tes_err reader_err;
    char reader_msg[512];
    tes_buf response;
    tes_mdoc_result result;
} txn;

static void *holder_thread(void *arg)
{
    txn *t = arg;
    t->holder_err = tes_holder_serve(&t->hp, &t->hres);
    snprintf(t->holder_msg, sizeof(t->holder_msg), "%s", tes_err_message());
    return NULL;
}

/* Runs one transaction; the caller frees t->response and t->result (txn_free). */
static bool txn_run(txn *t)
{
    tes_transport *ht = NULL, *rt = NULL;
    tes_key *edevice = NULL;
    tes_engagement eng = {0}, reng = {0};
    tes_buf uri = {0};
    if (tes_transport_memory_pair(&ht, &rt) != TES_OK ||
        tes_key_generate(TES_CURVE_P256, &edevice) != TES_OK ||
        tes_engagement_build(edevice, &eng) != TES_OK ||
        tes_engagement_to_uri(&eng, &uri) != TES_OK ||
        tes_engagement_from_uri((const char *)uri.ptr, uri.len, &reng) != TES_OK) {
        fprintf(stderr, "setup: %s\n", tes_err_message());
        return false;
    }
    t->hp = (tes_holder_params){.t = ht,
                                .engagement = &eng,
                                .edevice = edevice,
                                .se = t->se ? t->se : t->w->se,
                                .store = t->w->store,
                                .reader_trust = t->p->reader_trust,
                                .consent = spy_consent,
                                .consent_ctx = t->spy,
                                .now = T0,
                                .timeout_ms = 5000};
    pthread_t th;
    if (pthread_create(&th, NULL, holder_thread, t) != 0)
        return false;

    tes_mdoc_req_elem el[16];
    for (size_t i = 0; i < t->n_names && i < 16; i++)
        el[i] =
            (tes_mdoc_req_elem){TES_BYTES_STR(PID_NS), TES_BYTES(t->names[i], strlen(t->names[i])),
                                t->retain && (strcmp(t->names[i], "family_name") == 0 ||
                                              strcmp(t->names[i], "document_number") == 0)};
    tes_signer rs = tes_signer_from_key(t->p->reader_key);
    tes_cert *rc = t->auth == AUTH_UNTRUSTED  ? t->p->other_reader
                   : t->auth == AUTH_EXPIRED  ? t->p->expired_reader
                   : t->auth == AUTH_UNSCOPED ? t->p->unscoped_reader
                                              : t->p->reader;
    tes_bytes chain = tes_cert_der(rc);
    tes_reader_params rp = {.t = rt,
                            .engagement = &reng,
                            .doctype = TES_DOCTYPE_PID,
                            .elems = el,
                            .n_elems = t->n_names,
                            .reader = t->auth == AUTH_NONE ? NULL : &rs,
                            .reader_chain = t->auth == AUTH_NONE ? NULL : &chain,
                            .reader_chain_len = t->auth == AUTH_NONE ? 0 : 1,
                            .trust = t->p->iaca_trust,
                            .now = T0,
                            .timeout_ms = 5000};
    t->reader_err = tes_reader_checkin(&rp, &t->response, &t->result);
    snprintf(t->reader_msg, sizeof(t->reader_msg), "%s", tes_err_message());
    pthread_join(th, NULL);
    tes_transport_close(ht);
    tes_transport_close(rt);
    tes_engagement_free(&eng);
    tes_engagement_free(&reng);
    tes_buf_free(&uri);
    tes_key_free(edevice);
    return true;
}

static void txn_free(txn *t)
{
    tes_mdoc_result_free(&t->result);
    tes_buf_free(&t->response);
}

static void txn_explain(const txn *t)
{
    fprintf(stderr, "    holder: %s (%s)\n    reader: %s (%s)\n", tes_err_name(t->holder_err),
            t->holder_msg, tes_err_name(t->reader_err), t->reader_msg);
}

static bool disclosed(const txn *t, const char *name)
{
    if (t->result.n_docs != 1)
        return false;
    const tes_mdoc_document *d = &t->result.docs[0];
    for (size_t i = 0; i < d->n_elems; i++)
        if (tes_bytes_eq(d->elems[i].name, TES_BYTES(name, strlen(name))) &&
            tes_bytes_eq(d->elems[i].ns, TES_BYTES_STR(PID_NS)))
            return true;
    return false;
}

static size_t n_disclosed(const txn *t)
{
    return t->result.n_docs == 1 ? t->result.docs[0].n_elems : 0;
}

static const char *const hotel_request[] = {"family_name", "given_name", "document_number",
                                            "portrait", "age_over_18"};
#define N_HOTEL (sizeof(hotel_request) / sizeof(hotel_request[0]))

static const char hotel_policy[] =
    "{\"readers\": [{\"name\": \"Hotel Utopia\", \"allow\": \"*\"}], \"pin\": \"" PIN "\"}";

/* ------------------------------------------------------------------ end to end */

TEST(end_to_end_hotel_checkin_with_single_use_copy)
{
    pki p;
    wallet w;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&w, &p, 1, true));
    consent_spy spy = {.policy = policy(hotel_policy)};
    REQUIRE(spy.policy != NULL);
    txn t = {
        .p = &p, .w = &w, .spy = &spy, .names = hotel_request, .n_names = N_HOTEL, .retain = true};
    REQUIRE(txn_run(&t));
    if (t.holder_err || t.reader_err)
        txn_explain(&t);
    CHECK_ERR(t.holder_err, TES_OK);
    CHECK_ERR(t.reader_err, TES_OK);
    /* what the holder was shown */
    CHECK_EQ_INT(spy.calls, 1);
    CHECK(spy.seen.reader_authenticated);
    CHECK_EQ_STR(spy.seen.reader_name, "Hotel Utopia");
    CHECK(strstr(spy.seen.reader_issuer, "Police Bureau") != NULL);
    CHECK_EQ_STR(spy.seen.purpose, "hotel registration");
    CHECK_EQ_STR(spy.seen.doctype, TES_DOCTYPE_PID);
    CHECK_EQ_STR(spy.seen.reader_problem, "");
    CHECK_EQ_INT(spy.seen.n_items, N_HOTEL);
    const tes_consent_item *fn = seen_item(&spy, "family_name");
    REQUIRE(fn != NULL);
    CHECK(fn->intent_to_retain && fn->in_scope && fn->held && fn->approve);
    CHECK(!seen_item(&spy, "portrait")->intent_to_retain);
    CHECK(seen_item(&spy, "age_over_18")->in_scope);
    /* what the reader got: exactly the consented elements, verified, by device MAC */
    CHECK_EQ_INT(t.hres.disclosed, N_HOTEL);
    CHECK(t.hres.reader_authenticated);
    CHECK_EQ_STR(t.hres.reader_name, "Hotel Utopia");
    CHECK_EQ_INT(t.hres.credential_id, w.cred_id);
    REQUIRE(t.result.n_docs == 1);
    CHECK_EQ_INT(n_disclosed(&t), N_HOTEL);
    for (size_t i = 0; i < N_HOTEL; i++)
        CHECK(disclosed(&t, hotel_request[i]));
    CHECK(t.result.docs[0].device_mac);
    CHECK_EQ_STR(t.result.docs[0].issuer_cn, "Utopia DS");
    /* log and copy */
    char rp[256], el[1024], oc[128];
    REQUIRE(last_log(&w, rp, el, oc));
    CHECK_EQ_STR(rp, "Hotel Utopia");
    CHECK_EQ_STR(oc, "disclosed");
    CHECK(strstr(el, PID_NS "/family_name*") != NULL);
    CHECK(strstr(el, PID_NS "/portrait") != NULL && strstr(el, PID_NS "/portrait*") == NULL);
    CHECK_EQ_INT(unused_copies(&w), 0);
    txn_free(&t);

    /* the only single-use copy is spent: the next check-in fails cleanly */
    txn t2 = {.p = &p, .w = &w, .spy = &spy, .names = hotel_request, .n_names = N_HOTEL};
    REQUIRE(txn_run(&t2));
    CHECK_ERR(t2.holder_err, TES_ERR_KEY_USED);
    CHECK_ERR(t2.reader_err, TES_ERR_SESSION_ENDED);
    CHECK_EQ_INT(t2.result.n_docs, 0);
    CHECK_EQ_INT(t2.response.len, 0);
    REQUIRE(last_log(&w, rp, el, oc));
    CHECK_EQ_STR(oc, "failed: key_used");
    txn_free(&t2);

    tes_consent_policy_free(spy.policy);
    wallet_free(&w);
    pki_free(&p);
}

TEST(holder_approves_only_some)
{
    pki p;
    wallet w;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&w, &p, 2, true));
    static const char *const only[] = {"family_name", "age_over_18"};
    consent_spy spy = {.approve = only, .n_approve = 2, .pin = PIN};
    txn t = {.p = &p, .w = &w, .spy = &spy, .names = hotel_request, .n_names = N_HOTEL};
    REQUIRE(txn_run(&t));
    if (t.holder_err || t.reader_err)
        txn_explain(&t);
    CHECK_ERR(t.holder_err, TES_OK);
    CHECK_ERR(t.reader_err, TES_OK);
    CHECK_EQ_INT(t.hres.disclosed, 2);
    CHECK_EQ_INT(n_disclosed(&t), 2);
    CHECK(disclosed(&t, "family_name"));
    CHECK(disclosed(&t, "age_over_18"));
    CHECK(!disclosed(&t, "portrait") && !disclosed(&t, "document_number"));
    char rp[256], el[1024], oc[128];
    REQUIRE(last_log(&w, rp, el, oc));
    CHECK(strstr(el, PID_NS "/family_name") != NULL && strstr(el, PID_NS "/age_over_18") != NULL);
    CHECK(strstr(el, "portrait") == NULL && strchr(el, ',') == strrchr(el, ','));
    CHECK_EQ_INT(unused_copies(&w), 1);
    txn_free(&t);

    /* none approved: a response without documents, no copy spent, no key used */
    spy.n_approve = 0;
    txn t2 = {.p = &p, .w = &w, .spy = &spy, .names = hotel_request, .n_names = N_HOTEL};
    REQUIRE(txn_run(&t2));
    CHECK_ERR(t2.holder_err, TES_OK);
    CHECK_ERR(t2.reader_err, TES_ERR_DOC_ERRORS);
    CHECK_EQ_INT(t2.hres.disclosed, 0);
    CHECK_EQ_INT(t2.result.n_docs, 0);
    CHECK_EQ_INT(unused_copies(&w), 1);
    txn_free(&t2);
    wallet_free(&w);
    pki_free(&p);
}

TEST(reader_asks_beyond_its_scope)
{
    pki p;
    wallet w;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&w, &p, 1, false)); /* reusable: the holder sees what it holds */
    static const char *const ask[] = {"family_name", "birth_date", "resident_city"};
    consent_spy spy = {.policy = policy(hotel_policy)};
    REQUIRE(spy.policy != NULL);
    txn t = {.p = &p, .w = &w, .spy = &spy, .names = ask, .n_names = 3};
    REQUIRE(txn_run(&t));
    if (t.holder_err || t.reader_err)
        txn_explain(&t);
    CHECK_ERR(t.holder_err, TES_OK);
    CHECK_ERR(t.reader_err, TES_OK);
    const tes_consent_item *bd = seen_item(&spy, "birth_date");
    const tes_consent_item *rc = seen_item(&spy, "resident_city");
    REQUIRE(bd != NULL && rc != NULL);
    CHECK(!bd->in_scope && bd->held && !bd->approve);
    CHECK(!rc->held && !rc->in_scope);
    CHECK(seen_item(&spy, "family_name")->in_scope);
    CHECK_EQ_INT(n_disclosed(&t), 1);
    CHECK(disclosed(&t, "family_name") && !disclosed(&t, "birth_date"));
    txn_free(&t);
    tes_consent_policy_free(spy.policy);

    /* the holder overrides the scope: now it is released (resident_city is not held) */
    spy =
        (consent_spy){.policy = policy("{\"readers\": [{\"name\": \"Hotel Utopia\", \"allow\": "
                                       "\"*\", \"override_scope\": true}], \"pin\": \"" PIN "\"}")};
    REQUIRE(spy.policy != NULL);
    txn t2 = {.p = &p, .w = &w, .spy = &spy, .names = ask, .n_names = 3};
    REQUIRE(txn_run(&t2));
    CHECK_ERR(t2.holder_err, TES_OK);
    CHECK_ERR(t2.reader_err, TES_OK);
    CHECK(seen_item(&spy, "birth_date")->override_scope);
    CHECK_EQ_INT(n_disclosed(&t2), 2);
    CHECK(disclosed(&t2, "birth_date"));
    CHECK_EQ_INT(t2.hres.disclosed, 2);
    txn_free(&t2);
    tes_consent_policy_free(spy.policy);

    /* a callback that approves without overriding releases nothing out of scope */
    static const char *const all[] = {"family_name", "birth_date", "resident_city"};
    spy = (consent_spy){.approve = all, .n_approve = 3, .pin = PIN};
    txn t3 = {.p = &p, .w = &w, .spy = &spy, .names = ask, .n_names = 3};
    REQUIRE(txn_run(&t3));
    CHECK_ERR(t3.reader_err, TES_OK);
    CHECK_EQ_INT(n_disclosed(&t3), 1);
    CHECK(!disclosed(&t3, "birth_date"));
    txn_free(&t3);

    /* an authenticated reader without a scope: everything is out of scope */
    spy = (consent_spy){.approve = all, .n_approve = 3, .pin = PIN};
    txn t4 = {.p = &p, .w = &w, .spy = &spy, .names = ask, .n_names = 3, .auth = AUTH_UNSCOPED};
    REQUIRE(txn_run(&t4));
    CHECK(spy.seen.reader_authenticated);
    /* the holder is shown the UTF-8 name, the controls in it made harmless */
    CHECK_EQ_STR(spy.seen.reader_name, "H\xc3\xb4tel ?nialP?");
    CHECK(!seen_item(&spy, "family_name")->in_scope);
    CHECK_ERR(t4.reader_err, TES_ERR_DOC_ERRORS);
    CHECK_EQ_INT(t4.result.n_docs, 0);
    txn_free(&t4);
    wallet_free(&w);
    pki_free(&p);
}

TEST(unauthenticated_readers_are_flagged_and_declined_by_default)
{
    pki p;
    wallet w;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&w, &p, 1, true));
    static const reader_auth modes[] = {AUTH_UNTRUSTED, AUTH_EXPIRED, AUTH_NONE};
    static const char *const problem[] = {"chain_untrusted", "certificate_expired", "not_found"};
    for (size_t m = 0; m < 3; m++) {
        consent_spy spy = {.policy = policy(hotel_policy)};
        REQUIRE(spy.policy != NULL);
        txn t = {.p = &p,
                 .w = &w,
                 .spy = &spy,
                 .names = hotel_request,
                 .n_names = N_HOTEL,
                 .auth = modes[m]};
        REQUIRE(txn_run(&t));
        CHECK_EQ_INT(spy.calls, 1);
        CHECK(!spy.seen.reader_authenticated);
        CHECK_EQ_STR(spy.seen.reader_name, "");
        CHECK(spy.seen.reader_problem[0] != '\0');
        if (strstr(spy.seen.reader_problem, problem[m]) == NULL)
            fprintf(stderr, "    mode %zu: problem \"%s\"\n", m, spy.seen.reader_problem);
        CHECK(strstr(spy.seen.reader_problem, problem[m]) != NULL);
        for (size_t i = 0; i < spy.seen.n_items; i++)
            CHECK(!spy.items[i].in_scope && !spy.items[i].approve);
        CHECK_ERR(t.holder_err, TES_ERR_CONSENT);
        CHECK_ERR(t.reader_err, TES_ERR_SESSION_ENDED);
        CHECK_EQ_INT(t.result.n_docs, 0);
        CHECK_EQ_INT(t.response.len, 0);
        CHECK(!t.hres.reader_authenticated);
        char rp[256], el[1024], oc[128];
        REQUIRE(last_log(&w, rp, el, oc));
        CHECK_EQ_STR(rp, "unauthenticated reader");
        CHECK_EQ_STR(oc, "declined");
        CHECK_EQ_INT(unused_copies(&w), 1);
        txn_free(&t);
        tes_consent_policy_free(spy.policy);
    }
    wallet_free(&w);
    pki_free(&p);
}

TEST(more_than_two_age_over_is_refused)
{
    pki p;
    wallet w;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&w, &p, 1, true));
    static const char *const ask[] = {"family_name", "age_over_18", "age_over_21", "age_over_65"};
    consent_spy spy = {.policy = policy(hotel_policy)};
    REQUIRE(spy.policy != NULL);
    txn t = {.p = &p, .w = &w, .spy = &spy, .names = ask, .n_names = 4};
    REQUIRE(txn_run(&t));
    CHECK_ERR(t.holder_err, TES_ERR_AGE_OVER_LIMIT);
    CHECK_ERR(t.reader_err, TES_ERR_DOC_ERRORS);
    CHECK(strstr(t.reader_msg, "status is 10") != NULL);
    CHECK_EQ_INT(spy.calls, 0); /* refused before anyone is asked */
    CHECK_EQ_INT(t.result.n_docs, 0);
    CHECK_EQ_INT(t.hres.disclosed, 0);
    char rp[256], el[1024], oc[128];
    REQUIRE(last_log(&w, rp, el, oc));
    CHECK_EQ_STR(oc, "failed: age_over_limit");
    CHECK_EQ_STR(rp, "Hotel Utopia");
    CHECK_EQ_INT(unused_copies(&w), 1);
    txn_free(&t);

    /* two are fine, answered by the nearest match (age_over_20 -> age_over_21) */
    static const char *const two[] = {"age_over_18", "age_over_20"};
    txn t2 = {.p = &p, .w = &w, .spy = &spy, .names = two, .n_names = 2};
    REQUIRE(txn_run(&t2));
    if (t2.holder_err || t2.reader_err)
        txn_explain(&t2);
    CHECK_ERR(t2.reader_err, TES_OK);
    CHECK(disclosed(&t2, "age_over_18") && disclosed(&t2, "age_over_21"));
    CHECK_EQ_INT(n_disclosed(&t2), 2);
    txn_free(&t2);
    tes_consent_policy_free(spy.policy);
    wallet_free(&w);
    pki_free(&p);
}

TEST(consent_declined_and_wrong_pin)
{
    pki p;
    wallet w;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&w, &p, 1, true));
    consent_spy spy = {.decline = true};
    txn t = {.p = &p, .w = &w, .spy = &spy, .names = hotel_request, .n_names = N_HOTEL};
    REQUIRE(txn_run(&t));
    CHECK_ERR(t.holder_err, TES_ERR_CONSENT);
    CHECK_ERR(t.reader_err, TES_ERR_SESSION_ENDED);
    CHECK(strstr(t.reader_msg, "status 20") != NULL);
    CHECK_EQ_INT(t.result.n_docs, 0);
    char rp[256], el[1024], oc[128];
    REQUIRE(last_log(&w, rp, el, oc));
    CHECK_EQ_STR(rp, "Hotel Utopia");
    CHECK_EQ_STR(oc, "declined");
    CHECK_EQ_INT(unused_copies(&w), 1);
    txn_free(&t);

    /* a wrong PIN costs no copy */
    static const char *const all[] = {"family_name"};
    spy = (consent_spy){.approve = all, .n_approve = 1, .pin = "999999"};
    txn t2 = {.p = &p, .w = &w, .spy = &spy, .names = hotel_request, .n_names = N_HOTEL};
    REQUIRE(txn_run(&t2));
    CHECK_ERR(t2.holder_err, TES_ERR_PIN_WRONG);
    CHECK_ERR(t2.reader_err, TES_ERR_SESSION_ENDED);
    REQUIRE(last_log(&w, rp, el, oc));
    CHECK_EQ_STR(oc, "failed: pin_wrong");
    CHECK_EQ_INT(unused_copies(&w), 1);
    txn_free(&t2);

    /* and the right one then works */
    spy.pin = PIN;
    txn t3 = {.p = &p, .w = &w, .spy = &spy, .names = hotel_request, .n_names = N_HOTEL};
    REQUIRE(txn_run(&t3));
    CHECK_ERR(t3.holder_err, TES_OK);
    CHECK_ERR(t3.reader_err, TES_OK);
    CHECK_EQ_INT(n_disclosed(&t3), 1);
    txn_free(&t3);
    wallet_free(&w);
    pki_free(&p);
}

/* A secure element that forwards to the soft one but cannot export ECDH
 * secrets: the holder must sign instead of MACing. */
typedef struct no_ecdh_se {
    tes_se base;
    tes_se *inner;
} no_ecdh_se;

static tes_se *inner_of(tes_se *se)
{
    return ((no_ecdh_se *)se)->inner;
}
static uint32_t ne_caps(tes_se *se)
{
    return tes_se_caps(inner_of(se)) & ~(uint32_t)TES_SE_CAP_ECDH_EXPORT;
}
static tes_err ne_key_info(tes_se *se, const char *id, tes_se_key_info *out)
{
    return inner_of(se)->ops->key_info(inner_of(se), id, out);
}
static tes_err ne_sign(tes_se *se, const char *id, const char *pin, tes_bytes msg, uint8_t *sig,
                       size_t *sig_len)
{
    return inner_of(se)->ops->sign(inner_of(se), id, pin, msg, sig, sig_len);
}
static tes_err ne_pin_verify(tes_se *se, const char *pin)
{
    return inner_of(se)->ops->pin_verify(inner_of(se), pin);
}
static const tes_se_ops no_ecdh_ops = {.size = sizeof(tes_se_ops),
                                       .name = "no-ecdh",
                                       .caps = ne_caps,
                                       .key_info = ne_key_info,
                                       .sign = ne_sign,
                                       .pin_verify = ne_pin_verify};

TEST(device_mac_with_soft_se_and_signature_without_ecdh)
{
    pki p;
    wallet w;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&w, &p, 2, true));
    CHECK(tes_se_caps(w.se) & TES_SE_CAP_ECDH_EXPORT);
    consent_spy spy = {.policy = policy(hotel_policy)};
    REQUIRE(spy.policy != NULL);
    txn t = {.p = &p, .w = &w, .spy = &spy, .names = hotel_request, .n_names = 2};
    REQUIRE(txn_run(&t));
    CHECK_ERR(t.reader_err, TES_OK);
    REQUIRE(t.result.n_docs == 1);
    CHECK(t.result.docs[0].device_mac);
    txn_free(&t);

    no_ecdh_se ne = {{&no_ecdh_ops}, w.se};
    txn t2 = {.p = &p, .w = &w, .se = &ne.base, .spy = &spy, .names = hotel_request, .n_names = 2};
    REQUIRE(txn_run(&t2));
    if (t2.holder_err || t2.reader_err)
        txn_explain(&t2);
    CHECK_ERR(t2.holder_err, TES_OK);
    CHECK_ERR(t2.reader_err, TES_OK);
    REQUIRE(t2.result.n_docs == 1);
    CHECK(!t2.result.docs[0].device_mac);
    CHECK_EQ_INT(n_disclosed(&t2), 2);
    txn_free(&t2);
    tes_consent_policy_free(spy.policy);
    wallet_free(&w);
    pki_free(&p);
}

TEST(response_of_one_session_fails_in_another)
{
    tes_key *edevice = NULL, *ra = NULL, *rb = NULL;
    tes_engagement eng = {0};
    tes_session *sa = NULL, *sb = NULL, *hs = NULL;
    tes_buf est = {0}, req = {0}, msg = {0}, out = {0};
    REQUIRE(tes_key_generate(TES_CURVE_P256, &edevice) == TES_OK &&
            tes_key_generate(TES_CURVE_P256, &ra) == TES_OK &&
            tes_key_generate(TES_CURVE_P256, &rb) == TES_OK);
    REQUIRE(tes_engagement_build(edevice, &eng) == TES_OK);
    REQUIRE(tes_session_reader_new(&eng, ra, TES_BYTES(NULL, 0), &sa) == TES_OK);
    REQUIRE(tes_session_reader_new(&eng, rb, TES_BYTES(NULL, 0), &sb) == TES_OK);
    static const uint8_t request[] = {0xa1, 0x61, 'x', 0x01};
    tes_buf est_b = {0};
    REQUIRE(tes_session_establish(sb, TES_BYTES(request, sizeof(request)), &est_b) == TES_OK);
    tes_buf_free(&est_b);
    REQUIRE(tes_session_establish(sa, TES_BYTES(request, sizeof(request)), &est) == TES_OK);
    REQUIRE(tes_session_holder_accept(&eng, edevice, TES_BYTES(NULL, 0), tes_buf_bytes(&est), &hs,
                                      &req) == TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&req), TES_BYTES(request, sizeof(request))));
    static const uint8_t response[] = {0xa1, 0x61, 'y', 0x02};
    REQUIRE(tes_session_encrypt(hs, TES_BYTES(response, sizeof(response)), false, &msg) == TES_OK);
    uint64_t status = 99;
    CHECK_ERR(tes_session_decrypt(sb, tes_buf_bytes(&msg), &out, &status), TES_ERR_SESSION_DECRYPT);
    CHECK_EQ_INT(out.len, 0);
    CHECK_ERR(tes_session_decrypt(sa, tes_buf_bytes(&msg), &out, &status), TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&out), TES_BYTES(response, sizeof(response))));
    tes_session_free(sa);
    tes_session_free(sb);
    tes_session_free(hs);
    tes_engagement_free(&eng);
    tes_key_free(edevice);
    tes_key_free(ra);
    tes_key_free(rb);
    tes_buf_free(&est);
    tes_buf_free(&req);
    tes_buf_free(&msg);
    tes_buf_free(&out);
}

TEST(holder_answers_garbage_with_a_status)
{
    pki p;
    wallet w;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&w, &p, 1, true));
    tes_transport *ht = NULL, *rt = NULL;
    tes_key *edevice = NULL;
    tes_engagement eng = {0};
    REQUIRE(tes_transport_memory_pair(&ht, &rt) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &edevice) == TES_OK);
    REQUIRE(tes_engagement_build(edevice, &eng) == TES_OK);
    consent_spy spy = {.decline = true};
    txn t = {.p = &p, .w = &w, .spy = &spy};
    t.hp = (tes_holder_params){.t = ht,
                               .engagement = &eng,
                               .edevice = edevice,
                               .se = w.se,
                               .store = w.store,
                               .reader_trust = p.reader_trust,
                               .consent = spy_consent,
                               .consent_ctx = &spy,
                               .now = T0,
                               .timeout_ms = 5000};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, holder_thread, &t) == 0);
    static const uint8_t junk[] = {0xa1, 0x61, 'z', 0x5f}; /* not a SessionEstablishment */
    REQUIRE(tes_transport_send(rt, TES_BYTES(junk, sizeof(junk))) == TES_OK);
    tes_buf got = {0};
    CHECK_ERR(tes_transport_recv(rt, &got, 5000), TES_OK);
    pthread_join(th, NULL);
    CHECK(t.holder_err != TES_OK);
    CHECK_EQ_INT(spy.calls, 0);
    /* {"status": 11} */
    static const uint8_t want[] = {0xa1, 0x66, 's', 't', 'a', 't', 'u', 's', 0x0b};
    CHECK(tes_bytes_eq(tes_buf_bytes(&got), TES_BYTES(want, sizeof(want))));
    char rp[256], el[1024], oc[128];
    REQUIRE(last_log(&w, rp, el, oc));
    CHECK(strncmp(oc, "failed: ", 8) == 0);
    tes_buf_free(&got);
    tes_transport_close(ht);
    tes_transport_close(rt);
    tes_engagement_free(&eng);
    tes_key_free(edevice);
    wallet_free(&w);
    pki_free(&p);
}

/* A rogue holder that answers with more than was asked: the reader refuses it. */
typedef struct rogue {
    tes_transport *t;
    tes_engagement *eng;
    tes_key *edevice, *device;
    tes_buf mdoc;
    tes_err err;
} rogue;

static void *rogue_thread(void *arg)
{
    rogue *r = arg;
    tes_buf est = {0}, req = {0}, resp = {0}, msg = {0};
    tes_session *s = NULL;
    r->err = tes_transport_recv(r->t, &est, 5000);
    if (r->err == TES_OK)
        r->err = tes_session_holder_accept(r->eng, r->edevice, TES_BYTES(NULL, 0),
                                           tes_buf_bytes(&est), &s, &req);
    tes_mdoc_req_elem more[] = {{TES_BYTES_STR(PID_NS), TES_BYTES_STR("family_name"), false},
                                {TES_BYTES_STR(PID_NS), TES_BYTES_STR("birth_date"), false}};
    tes_signer dev = tes_signer_from_key(r->device);
    if (r->err == TES_OK) {
        tes_mdoc_present_params pp = {.mdoc = tes_buf_bytes(&r->mdoc),
                                      .elems = more,
                                      .n_elems = 2,
                                      .transcript = tes_session_transcript_bytes(s),
                                      .device = &dev};
        r->err = tes_mdoc_present(&pp, &resp, NULL);
    }
    if (r->err == TES_OK)
        r->err = tes_session_encrypt(s, tes_buf_bytes(&resp), true, &msg);
    if (r->err == TES_OK)
        r->err = tes_transport_send(r->t, tes_buf_bytes(&msg));
    if (s)
        tes_session_free(s);
    tes_buf_free(&est);
    tes_buf_free(&req);
    tes_buf_free(&resp);
    tes_buf_free(&msg);
    return NULL;
}

TEST(reader_refuses_elements_it_did_not_ask_for)
{
    pki p;
    REQUIRE(pki_make(&p));
    rogue r = {0};
    tes_transport *rt = NULL;
    tes_engagement eng = {0};
    tes_mdoc_claims claims = {0};
    REQUIRE(tes_transport_memory_pair(&r.t, &rt) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &r.edevice) == TES_OK &&
            tes_key_generate(TES_CURVE_P256, &r.device) == TES_OK);
    REQUIRE(tes_engagement_build(r.edevice, &eng) == TES_OK);
    r.eng = &eng;
    REQUIRE(tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), pid_claims,
                                      strlen(pid_claims), NULL, &claims) == TES_OK);
    tes_signer ds = tes_signer_from_key(p.ds_key);
    tes_bytes dchain = tes_cert_der(p.ds);
    tes_mdoc_issue_params ip = {.doctype = TES_DOCTYPE_PID,
                                .claims = &claims,
                                .device_key = r.device,
                                .issuer = &ds,
                                .ds_chain = &dchain,
                                .ds_chain_len = 1,
                                .signed_at = T0 - 3600,
                                .valid_from = T0 - 3600,
                                .valid_until = T0 + 365 * DAY};
    REQUIRE(tes_mdoc_issue(&ip, &r.mdoc) == TES_OK);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, rogue_thread, &r) == 0);
    tes_mdoc_req_elem el[] = {{TES_BYTES_STR(PID_NS), TES_BYTES_STR("family_name"), false}};
    tes_signer rs = tes_signer_from_key(p.reader_key);
    tes_bytes chain = tes_cert_der(p.reader);
    tes_reader_params rp = {.t = rt,
                            .engagement = &eng,
                            .doctype = TES_DOCTYPE_PID,
                            .elems = el,
                            .n_elems = 1,
                            .reader = &rs,
                            .reader_chain = &chain,
                            .reader_chain_len = 1,
                            .trust = p.iaca_trust,
                            .now = T0,
                            .timeout_ms = 5000};
    tes_buf resp = {0};
    tes_mdoc_result res;
    tes_err e = tes_reader_checkin(&rp, &resp, &res);
    pthread_join(th, NULL);
    CHECK_ERR(r.err, TES_OK);
    CHECK_ERR(e, TES_ERR_MDOC_STRUCTURE);
    CHECK(strstr(tes_err_message(), "birth_date") != NULL);
    CHECK_EQ_INT(res.n_docs, 0);
    CHECK_EQ_INT(resp.len, 0);
    tes_mdoc_result_free(&res);
    tes_buf_free(&resp);
    tes_buf_free(&r.mdoc);
    tes_mdoc_claims_free(&claims);
    tes_engagement_free(&eng);
    tes_key_free(r.edevice);
    tes_key_free(r.device);
    tes_transport_close(r.t);
    tes_transport_close(rt);
    pki_free(&p);
}

/* ------------------------------------------------------------------ reader scope */

TEST(reader_scope_round_trip_and_matching)
{
    pki p;
    REQUIRE(pki_make(&p));
    tes_reader_scope s;
    REQUIRE(tes_reader_scope_from_cert(p.reader, &s) == TES_OK);
    CHECK_EQ_STR(s.purpose, "hotel registration");
    CHECK_EQ_INT(s.n, 6);
    CHECK_EQ_STR(s.elements[0], PID_NS "/family_name");
    CHECK(tes_reader_scope_allows(&s, TES_BYTES_STR(PID_NS), TES_BYTES_STR("portrait")));
    CHECK(tes_reader_scope_allows(&s, TES_BYTES_STR(PID_NS), TES_BYTES_STR("age_over_18")));
    CHECK(tes_reader_scope_allows(&s, TES_BYTES_STR(PID_NS), TES_BYTES_STR("age_over_99")));
    CHECK(!tes_reader_scope_allows(&s, TES_BYTES_STR(PID_NS), TES_BYTES_STR("age_over_1")));
    CHECK(!tes_reader_scope_allows(&s, TES_BYTES_STR(PID_NS), TES_BYTES_STR("birth_date")));
    CHECK(!tes_reader_scope_allows(&s, TES_BYTES_STR("org.iso.18013.5.1"),
                                   TES_BYTES_STR("family_name")));
    CHECK(!tes_reader_scope_allows(&s, TES_BYTES_STR(PID_NS), TES_BYTES_STR("family_nam")));
    CHECK(!tes_reader_scope_allows(&s, TES_BYTES_STR("eu.europa.ec.eudi.pid"),
                                   TES_BYTES_STR("1/family_name")));
    tes_reader_scope_free(&s);
    tes_reader_scope_free(&s); /* idempotent */

    CHECK_ERR(tes_reader_scope_from_cert(p.unscoped_reader, &s), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_reader_scope_from_cert(p.iaca, &s), TES_ERR_NOT_FOUND);

    /* encoder refuses what the parser would refuse */
    tes_buf der = {0};
    static const char *const bad1[] = {"no-slash"};
    static const char *const bad2[] = {"/elem"};
    static const char *const bad3[] = {"ns/"};
    CHECK_ERR(tes_reader_scope_encode("p", bad1, 1, &der), TES_ERR_ARG);
    CHECK_ERR(tes_reader_scope_encode("p", bad2, 1, &der), TES_ERR_ARG);
    CHECK_ERR(tes_reader_scope_encode("p", bad3, 1, &der), TES_ERR_ARG);
    CHECK_ERR(tes_reader_scope_encode("p", NULL, 0, &der), TES_OK);
    /* 04 len {"elements": [], "purpose": "p"} */
    CHECK(der.len > 2 && der.ptr[0] == 0x04 && der.ptr[1] == der.len - 2);
    tes_buf_free(&der);

    /* malformed extensions in otherwise valid reader certificates */
    static const struct {
        const char *hex;
        const char *why;
    } bad[] = {
        {"0c0170", "UTF8String, not OCTET STRING"},
        {"0402a0", "length beyond the value"},
        {"048101a0", "non-minimal length"},
        {"0401a0", "empty map"},
        {"0403820101", "CBOR array"},
        {"0401ff", "not CBOR"},
        {"041ea267707572706f7365617068656c656d656e747381686e6f2d736c617368", "bad element"},
        {"041ea267707572706f7365617068656c656d656e747381676e732f656c656d00", "trailing byte"},
        {"0419a367707572706f7365617068656c656d656e74738061786179", "unknown key"},
        {"0414a267707572706f73650168656c656d656e747380", "purpose not text"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tes_buf v = {0};
        REQUIRE(tes_hex_decode(&v, bad[i].hex, strlen(bad[i].hex)) == TES_OK);
        tes_cert_template t = {.common_name = "Bad Scope",
                               .not_before = T0 - DAY,
                               .not_after = T0 + DAY,
                               .path_len = -1,
                               .key_usage = TES_KU_DIGITAL_SIGNATURE,
                               .eku_oid = TES_OID_EKU_MDL_READER,
                               .extra_oid = TES_OID_READER_SCOPE,
                               .extra_value = tes_buf_bytes(&v)};
        tes_cert *c = NULL;
        tes_err made = tes_cert_create(&t, p.reader_key, p.rroot, p.rroot_key, &c);
        if (made != TES_OK) {
            /* OpenSSL may refuse to embed a value that is not DER at all */
            tes_buf_free(&v);
            continue;
        }
        tes_err e = tes_reader_scope_from_cert(c, &s);
        if (e != TES_ERR_READER_PROFILE)
            fprintf(stderr, "    case %zu (%s): %s\n", i, bad[i].why, tes_err_name(e));
        CHECK_ERR(e, TES_ERR_READER_PROFILE);
        CHECK(s.n == 0 && s.purpose == NULL);
        tes_cert_free(c);
        tes_buf_free(&v);
    }
    pki_free(&p);
}

/* ------------------------------------------------------------------ consent policy */

TEST(policy_parse_rejects_bad_shapes)
{
    static const struct {
        const char *json;
        tes_err want;
    } cases[] = {
        {"{}", TES_OK},
        {"{\"readers\": [], \"unauthenticated\": \"ask-nothing\", \"pin\": \"1234\"}", TES_OK},
        {"{\"readers\": [{\"name\": \"*\", \"authenticated\": false, \"allow\": [\"a/b\"], "
         "\"deny\": \"*\", \"override_scope\": false}]}",
         TES_OK},
        {"", TES_ERR_JSON},
        {"[", TES_ERR_JSON},
        {"{\"pin\": \"1234\", \"pin\": \"5678\"}", TES_ERR_JSON}, /* duplicate key */
        {"{} {}", TES_ERR_JSON},
        {"[]", TES_ERR_POLICY},
        {"{\"reader\": []}", TES_ERR_POLICY},
        {"{\"readers\": {}}", TES_ERR_POLICY},
        {"{\"readers\": [1]}", TES_ERR_POLICY},
        {"{\"readers\": [{}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"\"}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": 5}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"alow\": \"*\"}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"allow\": \"all\"}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"allow\": [\"nslash\"]}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"allow\": [\"ns/\"]}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"allow\": [3]}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"deny\": {}}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"authenticated\": 1}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"authenticated\": false}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"x\", \"override_scope\": \"yes\"}]}", TES_ERR_POLICY},
        {"{\"readers\": [{\"name\": \"a\\u0000b\"}]}", TES_ERR_JSON},
        {"{\"unauthenticated\": \"allow\"}", TES_ERR_POLICY},
        {"{\"pin\": 123456}", TES_ERR_POLICY},
        {"{\"pin\": \"12a456\"}", TES_ERR_POLICY},
        {"{\"pin\": \"123\"}", TES_ERR_POLICY},
        {"{\"pin\": \"12345678901234567\"}", TES_ERR_POLICY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tes_consent_policy *p = NULL;
        tes_err e = tes_consent_policy_parse(cases[i].json, strlen(cases[i].json), &p);
        if (e != cases[i].want)
            fprintf(stderr, "    case %zu %s: %s (%s)\n", i, cases[i].json, tes_err_name(e),
                    tes_err_message());
        CHECK_ERR(e, cases[i].want);
        CHECK((e == TES_OK) == (p != NULL));
        tes_consent_policy_free(p);
    }
    /* bounded */
    size_t big = 70 * 1024;
    char *huge = malloc(big);
    REQUIRE(huge != NULL);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    tes_consent_policy *p = NULL;
    CHECK_ERR(tes_consent_policy_parse(huge, big, &p), TES_ERR_POLICY);
    free(huge);
}

TEST(policy_decisions)
{
    tes_consent_policy *p = policy(
        "{\"readers\": [{\"name\": \"Hotel Utopia\", \"allow\": \"*\", \"deny\": [\"" PID_NS
        "/portrait\"]},"
        "  {\"name\": \"Bar\", \"allow\": [\"" PID_NS "/age_over_NN\"]},"
        "  {\"name\": \"*\", \"allow\": [\"" PID_NS "/family_name\"], \"override_scope\": true}],"
        " \"pin\": \"4321\"}");
    REQUIRE(p != NULL);
    tes_consent_item items[4] = {
        {.ns = TES_BYTES_STR(PID_NS),
         .name = TES_BYTES_STR("family_name"),
         .in_scope = true,
         .held = true},
        {.ns = TES_BYTES_STR(PID_NS),
         .name = TES_BYTES_STR("portrait"),
         .in_scope = true,
         .held = true},
        {.ns = TES_BYTES_STR(PID_NS),
         .name = TES_BYTES_STR("age_over_21"),
         .in_scope = true,
         .held = true},
        {.ns = TES_BYTES_STR(PID_NS),
         .name = TES_BYTES_STR("birth_date"),
         .in_scope = false,
         .held = true},
    };
    tes_consent_request r = {.reader_authenticated = true, .items = items, .n_items = 4};
    char pin[64];
    snprintf(r.reader_name, sizeof(r.reader_name), "Hotel Utopia");
    CHECK_ERR(tes_consent_policy_decide(p, &r, pin), TES_OK);
    CHECK_EQ_STR(pin, "4321");
    CHECK(items[0].approve && !items[1].approve && items[2].approve && !items[3].approve);
    CHECK(!items[3].override_scope);

    snprintf(r.reader_name, sizeof(r.reader_name), "Bar");
    CHECK_ERR(tes_consent_policy_decide(p, &r, pin), TES_OK);
    CHECK(!items[0].approve && !items[1].approve && items[2].approve && !items[3].approve);

    snprintf(r.reader_name, sizeof(r.reader_name), "Somebody");
    CHECK_ERR(tes_consent_policy_decide(p, &r, pin), TES_OK);
    CHECK(items[0].approve && !items[2].approve);

    /* unauthenticated: "*" rules for authenticated readers do not apply */
    r.reader_authenticated = false;
    r.reader_name[0] = '\0';
    CHECK_ERR(tes_consent_policy_decide(p, &r, pin), TES_ERR_CONSENT);
    tes_consent_policy_free(p);

    p = policy("{\"unauthenticated\": \"ask-nothing\"}");
    REQUIRE(p != NULL);
    CHECK_ERR(tes_consent_policy_decide(p, &r, pin), TES_OK);
    for (size_t i = 0; i < 4; i++)
        CHECK(!items[i].approve);
    r.reader_authenticated = true; /* no rule for an authenticated reader: decline */
    CHECK_ERR(tes_consent_policy_decide(p, &r, pin), TES_ERR_CONSENT);
    tes_consent_policy_free(p);

    p = policy("{\"readers\": [{\"name\": \"*\", \"authenticated\": false, \"allow\": \"*\", "
               "\"override_scope\": true}]}");
    REQUIRE(p != NULL);
    r.reader_authenticated = false;
    items[1].held = false;
    CHECK_ERR(tes_consent_policy_decide(p, &r, pin), TES_OK);
    CHECK(items[0].approve && !items[1].approve && items[3].approve && items[3].override_scope);
    CHECK_EQ_STR(pin, "");
    tes_consent_policy_free(p);
}
