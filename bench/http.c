/*
 * bench/http.c — row 3b: issuance over HTTP (OpenID4VCI), see http.h.
 *
 * Set up as tests/unit/test_issuer.c's load run does it (software keys, no
 * attestation, batch 1), but with people enrolled through tes_issuer_enrol
 * (person + recovery code + offer, three registry transactions each) before
 * the clock starts.
 */
#define _XOPEN_SOURCE 700
#include "http.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "tessera/crypto.h"
#include "tessera/issuer.h"
#include "tessera/wallet.h"

static const char PID_CLAIMS[] =
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    " \"birth_date\": \"1964-08-12\", \"issuing_authority\": \"Utopia\", \"issuing_country\": "
    "\"UT\", \"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"nationality\": \"UT\"}}";

typedef struct offer {
    char *uri;
    char tx[16];
    tes_key *key; /* made in advance, one per offer */
    tes_buf pem;  /* its public key, PEM */
} offer;

struct http_bench {
    char dir[4096], auth[4200], db[4200], url[64];
    tes_issuer_config cfg;
    tes_issuer *iss;
    size_t n;
    offer *o;
    atomic_size_t next;
    tes_buf sample;
};


static bool write_file(const char *dir, const char *name, tes_bytes data, unsigned mode)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (tes_file_write(p, data, mode) != TES_OK) {
        fprintf(stderr, "bench http: writing %s: %s\n", p, tes_err_message());
        return false;
    }
    return true;
}

static bool write_authority(const bench_authority *a, const char *dir)
{
    tes_buf iaca = {0}, ds = {0}, key = {.secret = true};
    bool ok = tes_cert_to_pem(a->iaca, &iaca) == TES_OK && tes_cert_to_pem(a->ds, &ds) == TES_OK &&
              tes_key_to_pem(a->ds_key, true, &key) == TES_OK;
    ok = ok && write_file(dir, "iaca.pem", tes_buf_bytes(&iaca), 0644) &&
         write_file(dir, "ds.pem", tes_buf_bytes(&ds), 0644) &&
         write_file(dir, "ds_key.pem", tes_buf_bytes(&key), 0600);
    tes_buf_free(&iaca);
    tes_buf_free(&ds);
    tes_buf_free(&key);
    return ok;
}

/* ------------------------------------------------------------------ the client's keys */

/* One obtain's key source: hands out the offer's key made in advance. */
typedef struct one_key {
    offer *o;
    bool given;
} one_key;

static tes_err key_create(void *ctx, tes_bytes challenge, char key_id[64], tes_buf *pem,
                          tes_buf *att)
{
    (void)challenge;
    (void)att;
    one_key *k = ctx;
    if (k->given)
        return TES_ERR_ARG; /* batch 1 */
    k->given = true;
    snprintf(key_id, 64, "k0");
    tes_buf_append(pem, k->o->pem.ptr, k->o->pem.len);
    return pem->failed ? TES_ERR_NOMEM : TES_OK;
}

static tes_err key_sign(void *ctx, const char *key_id, tes_bytes msg, uint8_t sig[64])
{
    one_key *k = ctx;
    uint8_t out[TES_MAX_SIG];
    size_t n = 0;
    if (strcmp(key_id, "k0") != 0)
        return TES_ERR_KEY_UNKNOWN;
    tes_err e = tes_key_sign(k->o->key, TES_HASH_SHA256, msg, out, &n);
    if (e == TES_OK)
        memcpy(sig, out, 64);
    return e;
}

/* One full obtain on offer o; the credential into *out when out is not NULL. */
static tes_err obtain(offer *o, tes_buf *out)
{
    one_key k = {.o = o};
    tes_oid4vci_keys keys = {key_create, key_sign, &k};
    tes_buf *m = NULL;
    char(*ids)[64] = NULL;
    size_t n = 0;
    tes_err e = tes_oid4vci_obtain(o->uri, o->tx, 1, &keys, &m, &ids, &n);
    if (e == TES_OK && n != 1)
        e = TES_ERR_HTTP_REQUEST;
    if (e == TES_OK && out != NULL) {
        *out = m[0];
        m[0] = (tes_buf){0};
    }
    for (size_t i = 0; i < n; i++)
        tes_buf_free(&m[i]);
    free(m);
    free(ids);
    return e;
}

/* ------------------------------------------------------------------ set-up */

http_bench *http_bench_start(const bench_authority *a, const char *parent_dir, size_t n_offers,
                             double *setup_secs)
{
    double t0 = bench_wall();
    http_bench *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    snprintf(b->dir, sizeof b->dir, "%s/http.XXXXXX", parent_dir);
    if (!mkdtemp(b->dir)) {
        fprintf(stderr, "bench http: mkdtemp %s: %s\n", b->dir, strerror(errno));
        free(b);
        return NULL;
    }
    snprintf(b->auth, sizeof b->auth, "%s/authority", b->dir);
    snprintf(b->db, sizeof b->db, "%s/registry.db", b->dir);
    if (mkdir(b->auth, 0700) != 0 || !write_authority(a, b->auth))
        goto fail;
    b->cfg = (tes_issuer_config){.authority_dir = b->auth,
                                 .db_url = b->db,
                                 .listen = "127.0.0.1:0",
                                 .attestation = TES_ATTESTATION_NOT_REQUIRED, /* software keys */
                                 .batch_max = 1,
                                 .offer_lifetime = 3600,
                                 .nonce_rate_limit = -1}; /* one client address */
    int port = 0;
    if (tes_issuer_start(&b->cfg, &b->iss, &port) != TES_OK) {
        fprintf(stderr, "bench http: tes_issuer_start: %s\n", tes_err_message());
        goto fail;
    }
    snprintf(b->url, sizeof b->url, "http://127.0.0.1:%d", port);
    b->cfg.public_url = b->url; /* for enrolment (the service derived the same) */

    b->o = calloc(n_offers + 1, sizeof *b->o);
    if (!b->o)
        goto fail;
    for (size_t i = 0; i <= n_offers; i++) { /* + 1: the warm-up */
        offer *o = &b->o[i];
        tes_buf uri = {0};
        int64_t person;
        char recovery[32];
        if (tes_issuer_enrol(&b->cfg, "eu.europa.ec.eudi.pid.1", PID_CLAIMS, "bench", &uri, o->tx,
                             &person, recovery) != TES_OK) {
            fprintf(stderr, "bench http: tes_issuer_enrol: %s\n", tes_err_message());
            tes_buf_free(&uri);
            goto fail;
        }
        tes_buf_append(&uri, "", 1);
        o->uri = (char *)uri.ptr;
        b->n = i + 1;
        if (uri.failed || tes_key_generate(TES_CURVE_P256, &o->key) != TES_OK ||
            tes_key_to_pem(o->key, false, &o->pem) != TES_OK) {
            fprintf(stderr, "bench http: offer key: %s\n", tes_err_message());
            goto fail;
        }
    }
    /* warm-up: the first obtain (connection set-up, first registry connection of a
     * service thread, status list creation); its credential is the sample */
    if (obtain(&b->o[0], &b->sample) != TES_OK) {
        fprintf(stderr, "bench http: tes_oid4vci_obtain: %s\n", tes_err_message());
        goto fail;
    }
    atomic_init(&b->next, 1);
    *setup_secs = bench_wall() - t0;
    return b;
fail:
    http_bench_stop(b);
    return NULL;
}

tes_bytes http_bench_sample(const http_bench *b)
{
    return tes_buf_bytes(&b->sample);
}

size_t http_bench_left(const http_bench *b)
{
    size_t k = atomic_load(&b->next);
    return k < b->n ? b->n - k : 0;
}

/* ------------------------------------------------------------------ timed part */

typedef struct client {
    http_bench *b;
    pthread_barrier_t *go;
    atomic_bool *stop;
    size_t ok, failed;
    double secs;
    bool exhausted;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    pthread_barrier_wait(c->go);
    double t0 = bench_wall();
    while (!atomic_load_explicit(c->stop, memory_order_relaxed)) {
        size_t i = atomic_fetch_add(&c->b->next, 1);
        if (i >= c->b->n) {
            c->exhausted = true;
            break;
        }
        if (obtain(&c->b->o[i], NULL) == TES_OK)
            c->ok++;
        else if (c->failed++ < 3)
            fprintf(stderr, "bench http: obtain: %s\n", tes_err_message());
    }
    c->secs = bench_wall() - t0;
    return NULL;
}

bool http_bench_run(http_bench *b, int threads, double secs, http_run *out)
{
    pthread_t th[8];
    client c[8];
    pthread_barrier_t go;
    atomic_bool stop;
    if (threads < 1 || threads > 8)
        return false;
    atomic_init(&stop, false);
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int k = 0; k < threads; k++) {
        c[k] = (client){.b = b, .go = &go, .stop = &stop};
        if (pthread_create(&th[k], NULL, client_main, &c[k]) != 0) {
            fprintf(stderr, "bench http: pthread_create failed\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&go);
    double c0 = bench_cpu_process(), w0 = bench_wall();
    struct timespec d = {.tv_sec = (time_t)secs,
                         .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR)
        ;
    atomic_store(&stop, true);
    *out = (http_run){.threads = threads};
    double busy = 0;
    for (int k = 0; k < threads; k++) {
        pthread_join(th[k], NULL);
        out->creds += c[k].ok;
        out->failed += c[k].failed;
        out->exhausted |= c[k].exhausted;
        if (c[k].secs > 0)
            out->rate += (double)c[k].ok / c[k].secs;
        busy += c[k].secs;
    }
    out->cpu = (bench_cpu_process() - c0) / (bench_wall() - w0);
    pthread_barrier_destroy(&go);
    out->latency = out->creds ? busy / (double)out->creds : 0;
    return out->creds > 0 && out->failed == 0;
}

/* ------------------------------------------------------------------ tear-down */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

void http_bench_stop(http_bench *b)
{
    if (!b)
        return;
    if (b->iss)
        tes_issuer_stop(b->iss);
    for (size_t i = 0; i < b->n; i++) {
        free(b->o[i].uri);
        tes_key_free(b->o[i].key);
        tes_buf_free(&b->o[i].pem);
    }
    free(b->o);
    tes_buf_free(&b->sample);
    if (b->dir[0])
        (void)nftw(b->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(b);
}
