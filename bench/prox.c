/* bench/prox.c — see prox.h. */
#include "prox.h"

#include <pthread.h>
#include <winscard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tessera/proximity.h"

#define DAY 86400
#define TIMEOUT_MS 5000

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static double cpu_s(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}
static double wall_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double med(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define TRY(what, call)                                                                            \
    do {                                                                                           \
        tes_err e_ = (call);                                                                       \
        if (e_ != TES_OK)                                                                          \
            bench_die(what, e_);                                                                   \
    } while (0)

/* Everything both sides hold before a transaction. */
typedef struct prox_setup {
    char dir[256];
    tes_se *se;
    tes_store *store;
    tes_trust_store *reader_roots; /* the holder's */
    tes_key *reader_key;
    tes_cert *reader_root, *reader_cert;
    tes_bytes chain[1];
    tes_signer reader;
    tes_consent_policy *policy;
    const bench_world *w;
} prox_setup;

static void setup(prox_setup *s, const bench_world *w)
{
    memset(s, 0, sizeof(*s));
    s->w = w;
    snprintf(s->dir, sizeof(s->dir), "%s/tessera-prox.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(s->dir) == NULL)
        bench_die("mkdtemp", TES_ERR_IO);
    char spec[320], db[320];
    snprintf(spec, sizeof(spec), "soft:%s/se", s->dir);
    snprintf(db, sizeof(db), "%s/wallet.db", s->dir);
    TRY("tes_se_open", tes_se_open(spec, s->dir, &s->se));
    TRY("tes_store_open", tes_store_open(db, &s->store));
    /* the credential: an mDL bound to a secure-element key (no PIN needed) */
    char id[TES_SE_ID_MAX];
    tes_se_key_opts ko = {0};
    tes_key *pub = NULL;
    tes_buf mdoc = {0};
    TRY("create key", tes_se_create_key(s->se, &ko, id));
    TRY("public key", tes_se_public_key(s->se, id, &pub));
    TRY("bench_issue", bench_issue(w, &w->auth[0], pub, &mdoc));
    tes_mdoc_cred_info info;
    TRY("cred info", tes_mdoc_cred_info_read(tes_buf_bytes(&mdoc), &info));
    tes_store_cred meta = {.doctype = info.doctype,
                           .display_name = "mDL",
                           .issuer = info.issuer,
                           .valid_from = info.valid_from,
                           .valid_until = info.valid_until,
                           .copies = 1};
    tes_store_new_copy copy = {.key_id = id, .mdoc = tes_buf_bytes(&mdoc)};
    int64_t cred;
    TRY("add credential", tes_store_add_credential(s->store, &meta, &copy, 1, false, &cred));
    tes_mdoc_cred_info_free(&info);
    tes_buf_free(&mdoc);
    tes_key_free(pub);

    /* the reader PKI: a root and a reader certificate whose scope grants the request */
    tes_key *root_key = NULL;
    TRY("key", tes_key_generate(TES_CURVE_P256, &root_key));
    TRY("key", tes_key_generate(TES_CURVE_P256, &s->reader_key));
    int64_t now = w->now;
    tes_cert_template rt = {.common_name = "Bench Reader CA",
                            .country = "UT",
                            .not_before = now - DAY,
                            .not_after = now + 365 * DAY,
                            .is_ca = true,
                            .path_len = 0,
                            .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN};
    TRY("reader root", tes_cert_create(&rt, root_key, NULL, root_key, &s->reader_root));
    const char *scope[BENCH_N_ELEMS + 2];
    char names[BENCH_N_ELEMS + 2][96];
    for (size_t i = 0; i < w->n_req; i++) {
        snprintf(names[i], sizeof(names[i]), "%.*s/%.*s", (int)w->req[i].ns.len,
                 (const char *)w->req[i].ns.ptr, (int)w->req[i].name.len,
                 (const char *)w->req[i].name.ptr);
        scope[i] = names[i];
    }
    tes_buf ext = {0};
    TRY("scope", tes_reader_scope_encode("benchmark", scope, w->n_req, &ext));
    tes_cert_template lt = {.common_name = "Bench Front Desk",
                            .country = "UT",
                            .not_before = now - DAY,
                            .not_after = now + 365 * DAY,
                            .path_len = -1,
                            .key_usage = TES_KU_DIGITAL_SIGNATURE,
                            .eku_oid = TES_OID_EKU_MDL_READER,
                            .extra_oid = TES_OID_READER_SCOPE,
                            .extra_value = tes_buf_bytes(&ext)};
    TRY("reader cert",
        tes_cert_create(&lt, s->reader_key, s->reader_root, root_key, &s->reader_cert));
    tes_buf_free(&ext);
    tes_key_free(root_key);
    s->chain[0] = tes_cert_der(s->reader_cert);
    s->reader = tes_signer_from_key(s->reader_key);
    TRY("trust store", tes_trust_store_new(&s->reader_roots));
    TRY("trust add", tes_trust_store_add(s->reader_roots, TES_PROFILE_READER, s->reader_root));
    static const char policy[] = "{\"readers\": [{\"name\": \"*\", \"authenticated\": true, "
                                 "\"allow\": \"*\"}], \"unauthenticated\": \"decline\"}";
    TRY("policy", tes_consent_policy_parse(policy, sizeof(policy) - 1, &s->policy));
}

static void teardown(prox_setup *s)
{
    tes_consent_policy_free(s->policy);
    tes_trust_store_free(s->reader_roots);
    tes_cert_free(s->reader_cert);
    tes_cert_free(s->reader_root);
    tes_key_free(s->reader_key);
    tes_store_close(s->store);
    tes_se_close(s->se);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
    if (system(cmd) != 0) { /* best effort */
    }
}

/* ---- the holder's thread ---- */

typedef struct holder_run {
    prox_setup *s;
    tes_transport *t;
    const tes_engagement *eng;
    const tes_key *edevice;
    tes_bytes ndef;
    double cpu;
    tes_err rc;
} holder_run;

static void *holder_main(void *arg)
{
    holder_run *h = arg;
    double t0 = cpu_s();
    tes_holder_params p = {
        .t = h->t,
        .engagement = h->eng,
        .edevice = h->edevice,
        .nfc_handover_select = h->ndef,
        .se = h->s->se,
        .store = h->s->store,
        .reader_trust = h->s->reader_roots,
        .consent = tes_consent_policy_decide,
        .consent_ctx = h->s->policy,
        .now = h->s->w->now,
        .timeout_ms = TIMEOUT_MS,
    };
    tes_holder_result r;
    h->rc = tes_holder_serve(&p, &r);
    if (h->rc == TES_OK && r.disclosed != h->s->w->n_req)
        h->rc = TES_ERR_STATE;
    h->cpu = cpu_s() - t0;
    if (h->rc != TES_OK)
        fprintf(stderr, "bench: holder: %s: %s\n", tes_err_name(h->rc), tes_err_message());
    return NULL;
}

static tes_err reader_run(prox_setup *s, tes_transport *t, const tes_engagement *eng,
                          tes_bytes ndef)
{
    tes_reader_params p = {
        .t = t,
        .engagement = eng,
        .nfc_handover_select = ndef,
        .doctype = TES_DOCTYPE_MDL,
        .elems = s->w->req,
        .n_elems = s->w->n_req,
        .reader = &s->reader,
        .reader_chain = s->chain,
        .reader_chain_len = 1,
        .trust = s->w->trust,
        .now = s->w->now,
        .timeout_ms = TIMEOUT_MS,
    };
    tes_buf resp = {0};
    tes_mdoc_result r = {0};
    tes_err e = tes_reader_checkin(&p, &resp, &r);
    if (e == TES_OK && (r.n_docs != 1 || r.docs[0].n_elems != s->w->n_req))
        e = tes_err_set(TES_ERR_STATE, "reader got %zu elements", r.n_docs ? r.docs[0].n_elems : 0);
    if (e != TES_OK)
        fprintf(stderr, "bench: reader: %s: %s\n", tes_err_name(e), tes_err_message());
    tes_mdoc_result_free(&r);
    tes_buf_free(&resp);
    return e;
}

bool prox_bench_memory(const bench_world *w, size_t runs, prox_figures *out)
{
    prox_setup s;
    setup(&s, w);
    double *tot = calloc(runs, sizeof(double)), *eg = calloc(runs, sizeof(double)),
           *ho = calloc(runs, sizeof(double)), *re = calloc(runs, sizeof(double));
    bool ok = tot && eg && ho && re;
    for (size_t i = 0; ok && i < runs + 3; i++) { /* 3 warm-up runs (chain caches) */
        /* engagement: holder builds it and its URI; the reader parses the URI */
        double t0 = cpu_s();
        tes_key *edevice = NULL;
        tes_engagement eng = {0}, seen = {0};
        tes_buf uri = {0};
        TRY("edevice", tes_key_generate(TES_CURVE_P256, &edevice));
        TRY("engagement", tes_engagement_build(edevice, &eng));
        TRY("uri", tes_engagement_to_uri(&eng, &uri));
        TRY("from uri", tes_engagement_from_uri((const char *)uri.ptr, uri.len, &seen));
        double t_eng = cpu_s() - t0;
        tes_transport *a = NULL, *b = NULL;
        TRY("memory pair", tes_transport_memory_pair(&a, &b));
        holder_run h = {.s = &s, .t = b, .eng = &eng, .edevice = edevice};
        pthread_t th;
        if (pthread_create(&th, NULL, holder_main, &h) != 0)
            bench_die("pthread_create", TES_ERR_IO);
        double t1 = cpu_s();
        tes_err e = reader_run(&s, a, &seen, (tes_bytes){0});
        double t_reader = cpu_s() - t1;
        pthread_join(th, NULL);
        ok = e == TES_OK && h.rc == TES_OK;
        if (i >= 3) {
            size_t k = i - 3;
            eg[k] = t_eng;
            ho[k] = h.cpu;
            re[k] = t_reader;
            tot[k] = t_eng + h.cpu + t_reader;
        }
        tes_transport_close(a);
        tes_transport_close(b);
        tes_buf_free(&uri);
        tes_engagement_free(&seen);
        tes_engagement_free(&eng);
        tes_key_free(edevice);
    }
    if (ok) {
        out->runs = runs;
        out->total = med(tot, runs);
        out->engagement = med(eg, runs);
        out->holder = med(ho, runs);
        out->reader = med(re, runs);
    }
    free(tot);
    free(eg);
    free(ho);
    free(re);
    teardown(&s);
    return ok;
}

/* ---- NFC ---- */

typedef struct pump_run {
    tes_apdu_card *card;
    volatile int stop;
    tes_err rc;
} pump_run;

static void *pump_main(void *arg)
{
    pump_run *p = arg;
    p->rc = tes_vpcd_run(p->card, "127.0.0.1:35963", TIMEOUT_MS, &p->stop);
    return NULL;
}

/* Waits until the PC/SC reader `name` reports a card (present) or none. */
static bool pcsc_wait(SCARDCONTEXT ctx, const char *name, bool present, int timeout_ms)
{
    SCARD_READERSTATE st = {.szReader = name, .dwCurrentState = SCARD_STATE_UNAWARE};
    double end = wall_s() + timeout_ms / 1000.0;
    for (;;) {
        if (SCardGetStatusChange(ctx, 0, &st, 1) != SCARD_S_SUCCESS)
            return false;
        bool has = (st.dwEventState & SCARD_STATE_PRESENT) != 0;
        if (has == present)
            return true;
        double left = end - wall_s();
        if (left <= 0)
            return false;
        st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
        LONG r = SCardGetStatusChange(ctx, (DWORD)(left * 1000), &st, 1);
        if (r != SCARD_S_SUCCESS && r != SCARD_E_TIMEOUT)
            return false;
        st.dwCurrentState = SCARD_STATE_UNAWARE;
    }
}

/* The first PC/SC reader whose name contains "Virtual PCD" (vpcd). */
static bool vpcd_reader(SCARDCONTEXT ctx, char *out, size_t cap)
{
    char buf[4096];
    DWORD len = sizeof(buf);
    if (SCardListReaders(ctx, NULL, buf, &len) != SCARD_S_SUCCESS)
        return false;
    for (const char *r = buf; *r; r += strlen(r) + 1)
        if (strstr(r, "Virtual PCD") != NULL) {
            snprintf(out, cap, "%s", r);
            return true;
        }
    return false;
}

bool prox_bench_nfc(const bench_world *w, size_t runs, prox_figures *out, double *card_wait)
{
    SCARDCONTEXT ctx;
    char reader[256];
    if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS) {
        fprintf(stderr, "bench: NFC: no pcscd\n");
        return false;
    }
    if (!vpcd_reader(ctx, reader, sizeof(reader))) {
        fprintf(stderr, "bench: NFC: pcscd has no vpcd reader\n");
        SCardReleaseContext(ctx);
        return false;
    }
    prox_setup s;
    setup(&s, w);
    double *tot = calloc(runs, sizeof(double)), *cw = calloc(runs, sizeof(double));
    bool ok = tot && cw && pcsc_wait(ctx, reader, false, TIMEOUT_MS);
    if (!ok)
        fprintf(stderr, "bench: NFC: a card is already in %s\n", reader);
    for (size_t i = 0; ok && i < runs + 1; i++) { /* 1 warm-up run */
        tes_key *edevice = NULL;
        tes_engagement eng = {0}, seen = {0};
        tes_buf ndef = {0}, got = {0};
        TRY("edevice", tes_key_generate(TES_CURVE_P256, &edevice));
        TRY("engagement", tes_engagement_build(edevice, &eng));
        TRY("handover", tes_handover_select_build(&eng, 65535, 65535, &ndef));
        tes_apdu_card *card = NULL;
        TRY("card", tes_apdu_card_new(tes_buf_bytes(&ndef), &card));
        pump_run pump = {.card = card};
        holder_run h = {.s = &s,
                        .t = tes_apdu_card_transport(card),
                        .eng = &eng,
                        .edevice = edevice,
                        .ndef = tes_buf_bytes(&ndef)};
        double t0 = wall_s();
        pthread_t tp, th;
        if (pthread_create(&tp, NULL, pump_main, &pump) != 0 ||
            pthread_create(&th, NULL, holder_main, &h) != 0)
            bench_die("pthread_create", TES_ERR_IO);
        /* the tap: pcscd notices the card (polling; not part of the exchange) */
        tes_err e = pcsc_wait(ctx, reader, true, TIMEOUT_MS)
                        ? TES_OK
                        : tes_err_set(TES_ERR_TIMEOUT, "pcscd did not report the card");
        double t1 = wall_s();
        tes_transport *t = NULL;
        if (e == TES_OK)
            e = tes_pcsc_connect(reader, TIMEOUT_MS, &got, &t);
        if (e == TES_OK)
            e = tes_handover_select_parse(tes_buf_bytes(&got), &seen, NULL, NULL);
        if (e == TES_OK)
            e = reader_run(&s, t, &seen, tes_buf_bytes(&got));
        double t_end = wall_s();
        if (e != TES_OK)
            fprintf(stderr, "bench: NFC run %zu: %s: %s\n", i, tes_err_name(e), tes_err_message());
        if (t)
            tes_transport_close(t);
        pthread_join(th, NULL);
        pump.stop = 1;
        pthread_join(tp, NULL);
        ok = e == TES_OK && h.rc == TES_OK;
        /* the phone is taken away: wait until pcscd saw it go */
        if (ok && !pcsc_wait(ctx, reader, false, TIMEOUT_MS)) {
            fprintf(stderr, "bench: NFC: pcscd still reports the card after the run\n");
            ok = false;
        }
        if (ok && i >= 1) {
            tot[i - 1] = t_end - t1;
            cw[i - 1] = t1 - t0;
        }
        tes_apdu_card_free(card);
        tes_engagement_free(&seen);
        tes_engagement_free(&eng);
        tes_buf_free(&ndef);
        tes_buf_free(&got);
        tes_key_free(edevice);
    }
    if (ok) {
        out->runs = runs;
        out->total = med(tot, runs);
        *card_wait = med(cw, runs);
    }
    free(tot);
    free(cw);
    teardown(&s);
    SCardReleaseContext(ctx);
    return ok;
}
