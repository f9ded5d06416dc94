/*
 * bench/bench.c — Tessera's benchmark (run through bench/run.sh by `make bench`).
 *
 *   tessera_bench prepare DIR   writes DIR/response.cbor, DIR/transcript.cbor and
 *                               DIR/roots.pem (the response @auth0/mdl verifies)
 *   tessera_bench table DIR     measures everything and prints the table; reads
 *                               DIR/auth0.txt (Node results) and DIR/heap.txt
 *                               (tessera_bench_heap results) when present
 *   tessera_bench http DIR      rows 3b/3c alone (issuing over HTTP; registry and
 *                               authority in a temp dir under DIR, removed after)
 *   tessera_bench login DIR     rows 8-8c alone (the relying party's work per OpenID4VP login,
 *                               then logins over HTTP: site and service in a temp dir under DIR)
 *   tessera_bench access [nfc]  rows 9-9c alone (door keys: the Aliro transaction in memory vs
 *                               its OpenSSL floor, then 9b/9c over pcscd + vpcd when
 *                               TES_BENCH_NFC=1); "access nfc": rows 9b/9c only (pcscd must
 *                               run: scripts/pcscd-test.sh start DIR)
 *   tessera_bench access-loop N KIND  N door-key transactions (std, std-mem, fast, fast64)
 *                               and nothing else, for perf
 *   tessera_bench status        row 4 alone (status-list lookup and zlib, 1 M and 100 M)
 *   tessera_bench loop N [KIND] N operations of one kind (verification by default,
 *                               or its floor, issuing, ...) and nothing else, for
 *                               callgrind / perf; see docs/PERFORMANCE.md
 *
 * Single-core figures are CPU time of the measuring thread
 * (CLOCK_THREAD_CPUTIME_ID), so a busy neighbour on the machine does not skew
 * them; tessera and its reference alternate in rounds and the median round is
 * reported. The multi-thread figures are wall time, as are rows 3b/3c (issuing
 * over HTTP, http.c), whose reference, the issuing floor, is CPU time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "fixture.h"
#include "floor.h"
#include "http.h"
#include "login.h"
#include "prox.h"
#include "tessera/status.h"

#include <zlib.h>

#define POOL_HOLDERS 256
#define POOL_ISSUERS 4
#define ROUNDS 5
#define ROUND_SECONDS 0.4 /* per side and round: 5 x 2 x 0.4 s = 4 s per comparison */

/* ------------------------------------------------------------------ timing */

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef void (*op_fn)(void *ctx, size_t i);

/* Runs op round-robin over n items for at least `secs` of CPU; seconds per op. */
static double run_for(op_fn op, void *ctx, size_t n, size_t *cursor, double secs)
{
    size_t ops = 0;
    double t0 = cpu_now(), t;
    do {
        for (int k = 0; k < 4; k++) {
            op(ctx, *cursor);
            *cursor = (*cursor + 1) % n;
            ops++;
        }
        t = cpu_now();
    } while (t - t0 < secs);
    return (t - t0) / (double)ops;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Alternates a and b for ROUNDS rounds; median seconds per op of each. */
static void paired(op_fn a, void *ca, op_fn b, void *cb, size_t n, double *ta, double *tb)
{
    double va[ROUNDS], vb[ROUNDS];
    size_t cur_a = 0, cur_b = 0;
    run_for(a, ca, n, &cur_a, 0.05); /* warm-up */
    run_for(b, cb, n, &cur_b, 0.05);
    for (int r = 0; r < ROUNDS; r++) {
        va[r] = run_for(a, ca, n, &cur_a, ROUND_SECONDS);
        vb[r] = run_for(b, cb, n, &cur_b, ROUND_SECONDS);
    }
    *ta = median(va, ROUNDS);
    *tb = median(vb, ROUNDS);
}

/* ------------------------------------------------------------------ operations */

typedef struct vctx {
    bench_world *w;
    floor_pool *fl;
    tes_trust_store *trust; /* NULL: the world's (warm) store */
} vctx;

static void verify_one(bench_world *w, size_t i, tes_trust_store *trust)
{
    tes_mdoc_verify_opts o = bench_opts(w, i, trust);
    tes_mdoc_result r;
    tes_err e = tes_mdoc_verify(tes_buf_bytes(&w->h[i].resp), &o, &r);
    if (e != TES_OK)
        bench_die("tes_mdoc_verify", e);
    tes_mdoc_result_free(&r);
}

static void op_ours(void *c, size_t i)
{
    vctx *v = c;
    verify_one(v->w, i, v->trust);
}

static void cold_store(bench_world *w, tes_trust_store **s)
{
    tes_err e = tes_trust_store_new(s);
    for (size_t a = 0; e == TES_OK && a < w->n_auth; a++)
        e = tes_trust_store_add(*s, TES_PROFILE_DS, w->auth[a].iaca);
    if (e != TES_OK)
        bench_die("trust store", e);
}

/* A fresh trust store (the 4 roots) per verification: nothing cached. */
static void op_ours_cold(void *c, size_t i)
{
    vctx *v = c;
    tes_trust_store *s;
    cold_store(v->w, &s);
    verify_one(v->w, i, s);
    tes_trust_store_free(s);
}

/* The store set-up alone, subtracted from op_ours_cold. */
static void op_store_only(void *c, size_t i)
{
    (void)i;
    vctx *v = c;
    tes_trust_store *s;
    cold_store(v->w, &s);
    tes_trust_store_free(s);
}

static void op_floor_sig(void *c, size_t i) { floor_sig(((vctx *)c)->fl, i); }
static void op_floor_items(void *c, size_t i) { floor_sig_items(((vctx *)c)->fl, i); }
static void op_floor_cold(void *c, size_t i) { floor_cold(((vctx *)c)->fl, i); }
static void op_floor_mac(void *c, size_t i) { floor_mac(((vctx *)c)->fl, i); }

typedef struct ictx {
    bench_world *w;
    floor_issue *fl;
} ictx;

static void op_issue(void *c, size_t i)
{
    ictx *x = c;
    tes_buf out = {0};
    tes_err e = bench_issue(x->w, &x->w->auth[0], x->w->h[i].device, &out);
    if (e != TES_OK)
        bench_die("tes_mdoc_issue", e);
    tes_buf_free(&out);
}

static void op_floor_issue(void *c, size_t i)
{
    (void)i;
    floor_issue_run(((ictx *)c)->fl);
}

/* The single response of `prepare`, verified the way the Node script does. */
typedef struct file_ctx {
    tes_buf resp, transcript;
    tes_trust_store *trust;
    int64_t at;
} file_ctx;

static void op_file(void *c, size_t i)
{
    (void)i;
    file_ctx *f = c;
    tes_mdoc_verify_opts o = {.trust = f->trust, .transcript = tes_buf_bytes(&f->transcript),
                              .at = f->at};
    tes_mdoc_result r;
    tes_err e = tes_mdoc_verify(tes_buf_bytes(&f->resp), &o, &r);
    if (e != TES_OK)
        bench_die("tes_mdoc_verify (response file)", e);
    tes_mdoc_result_free(&r);
}

/* ------------------------------------------------------------------ threads */

typedef struct worker {
    op_fn op;
    void *ctx;
    size_t n, first, step;
    pthread_barrier_t *go;
    atomic_bool *stop;
    size_t ops;
    double secs;
} worker;

static void *worker_main(void *arg)
{
    worker *k = arg;
    pthread_barrier_wait(k->go);
    double t0 = wall_now();
    size_t i = k->first;
    while (!atomic_load_explicit(k->stop, memory_order_relaxed)) {
        k->op(k->ctx, i);
        k->ops++;
        i += k->step;
        if (i >= k->n)
            i = k->first;
    }
    k->secs = wall_now() - t0;
    return NULL;
}

/* Operations per second (wall) with t threads, each on its own slice of the pool. */
static double threads_run(op_fn op, void *ctx, size_t n, int t, double secs)
{
    pthread_t th[8];
    worker wk[8];
    pthread_barrier_t go;
    atomic_bool stop;
    atomic_init(&stop, false);
    pthread_barrier_init(&go, NULL, (unsigned)t + 1);
    for (int k = 0; k < t; k++) {
        wk[k] = (worker){.op = op, .ctx = ctx, .n = n, .first = (size_t)k, .step = (size_t)t,
                         .go = &go, .stop = &stop};
        if (pthread_create(&th[k], NULL, worker_main, &wk[k]) != 0) {
            fprintf(stderr, "bench: pthread_create failed\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&go);
    struct timespec d = {.tv_sec = (time_t)secs,
                         .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR)
        ;
    atomic_store(&stop, true);
    double rate = 0;
    for (int k = 0; k < t; k++) {
        pthread_join(th[k], NULL);
        rate += (double)wk[k].ops / wk[k].secs;
    }
    pthread_barrier_destroy(&go);
    return rate;
}

/* ------------------------------------------------------------------ machine */

static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 1 + strspn(p + 1, " \t");
                p[strcspn(p, "\n")] = 0;
                snprintf(out, cap, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

static bool cpu_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        size_t n = strlen(flag);
        for (char *p = strstr(line, flag); p; p = strstr(p + 1, flag))
            if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n')) {
                found = true;
                break;
            }
        break;
    }
    fclose(f);
    return found;
}

/* ------------------------------------------------------------------ output */

static void rate_str(char *out, size_t cap, double sec_per_op)
{
    snprintf(out, cap, "%7.0f/s %7.1f us", 1.0 / sec_per_op, sec_per_op * 1e6);
}

static void row(const char *num, const char *what, const char *ours, const char *ref,
                const char *ratio, const char *target)
{
    printf("%-3s| %-48s| %-22s| %-50s| %-7s| %s\n", num, what, ours, ref, ratio, target);
}

static const char *verdict(double v, double target)
{
    return v >= target ? "ok" : "BELOW";
}

/* ------------------------------------------------------------------ row 4: status lists */

/* Row 4: Token Status List lookup and (de)compression, lists of 2-bit entries with ~1 %
 * revoked at random positions. References, same bytes, same run: for lookups the same
 * shift-and-mask inlined in the loop; for the zlib rows zlib's one-shot compress2 (level 9,
 * as the library) and uncompress into a buffer of the known size (the library does not
 * know the size and grows its buffer up to the bound). CPU time of this thread. */
#define STATUS_LOOKUPS 4000000

static void status_fill(tes_status_list *l, size_t n)
{
    if (tes_status_list_new(n, l) != TES_OK)
        bench_die("tes_status_list_new", TES_ERR_NOMEM);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < n / 100; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (tes_status_list_set(l, (size_t)(x % n), TES_STATUS_REVOKED) != TES_OK)
            bench_die("tes_status_list_set", TES_ERR_ARG);
    }
}

static volatile unsigned status_sink;

static double status_lookup_ours(const tes_status_list *l, const uint32_t *idx, size_t m)
{
    unsigned acc = 0;
    double t0 = cpu_now();
    for (size_t k = 0; k < STATUS_LOOKUPS; k++)
        acc += (unsigned)tes_status_list_get(l, idx[k % m]);
    double t = cpu_now() - t0;
    status_sink += acc;
    return t / STATUS_LOOKUPS;
}

static double status_lookup_ref(const tes_status_list *l, const uint32_t *idx, size_t m)
{
    unsigned acc = 0;
    double t0 = cpu_now();
    for (size_t k = 0; k < STATUS_LOOKUPS; k++) {
        size_t i = idx[k % m];
        unsigned v = i < l->n ? (l->bits[i >> 2] >> ((i & 3) * 2)) & 3u : 255u;
        acc += v == 3 ? 255u : v;
    }
    double t = cpu_now() - t0;
    status_sink += acc;
    return t / STATUS_LOOKUPS;
}

/* One (de)compression of each kind; seconds. out_len: compressed size. */
typedef struct status_times {
    double ours_c, ref_c, ours_d, ref_d;
    size_t zlen;
} status_times;

static void status_zlib_once(const tes_status_list *l, status_times *t)
{
    size_t raw = (l->n + 3) / 4;
    tes_buf z = {0};
    double t0 = cpu_now();
    if (tes_status_list_compress(l, &z) != TES_OK)
        bench_die("tes_status_list_compress", TES_ERR_NOMEM);
    t->ours_c += cpu_now() - t0;

    uLongf rl = compressBound((uLong)raw);
    uint8_t *rz = malloc(rl), *rd = malloc(raw);
    if (!rz || !rd)
        bench_die("malloc", TES_ERR_NOMEM);
    t0 = cpu_now();
    if (compress2(rz, &rl, l->bits, (uLong)raw, 9) != Z_OK)
        bench_die("compress2", TES_ERR_CRYPTO);
    t->ref_c += cpu_now() - t0;
    if (rl != z.len || memcmp(rz, z.ptr, rl) != 0) /* same bytes out, or the row is unfair */
        bench_die("compress2 output differs from tes_status_list_compress", TES_ERR_CRYPTO);

    tes_status_list back;
    t0 = cpu_now();
    if (tes_status_list_decompress(tes_buf_bytes(&z), l->n + 3, &back) != TES_OK)
        bench_die("tes_status_list_decompress", TES_ERR_STATUS_TOKEN);
    t->ours_d += cpu_now() - t0;

    uLongf dl = (uLongf)raw;
    t0 = cpu_now();
    if (uncompress(rd, &dl, rz, rl) != Z_OK || dl != raw)
        bench_die("uncompress", TES_ERR_CRYPTO);
    t->ref_d += cpu_now() - t0;
    if (memcmp(back.bits, l->bits, raw) != 0 || memcmp(rd, l->bits, raw) != 0)
        bench_die("status list round trip", TES_ERR_CRYPTO);
    t->zlen = z.len;
    tes_status_list_free(&back);
    tes_buf_free(&z);
    free(rz);
    free(rd);
}

static void status_rows(void)
{
    char what[96], ours[64], ref[160], ratio[32];
    static const size_t sizes[2] = {1000000, 100000000};
    /* 100 M: one of each, no warm-up. zlib level 9 itself needs ~7 s for a 25 MB sparse list
     * (long hash chains through the runs of zeros), so this row cannot be shorter than twice
     * that; see docs/PERFORMANCE.md. */
    static const int rounds[2] = {7, 1};
    for (int s = 0; s < 2; s++) {
        size_t n = sizes[s];
        tes_status_list l;
        status_fill(&l, n);
        if (s == 0) {
            size_t m = 1u << 20;
            uint32_t *idx = malloc(m * sizeof *idx);
            if (!idx)
                bench_die("malloc", TES_ERR_NOMEM);
            uint64_t x = 88172645463325252ull;
            for (size_t k = 0; k < m; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                idx[k] = (uint32_t)(x % n);
            }
            double vo[ROUNDS], vr[ROUNDS];
            (void)status_lookup_ours(&l, idx, m);
            for (int r = 0; r < ROUNDS; r++) {
                vo[r] = status_lookup_ours(&l, idx, m);
                vr[r] = status_lookup_ref(&l, idx, m);
            }
            double to = median(vo, ROUNDS), tr = median(vr, ROUNDS);
            snprintf(ours, sizeof ours, "%7.2f ns/lookup", to * 1e9);
            snprintf(ref, sizeof ref, "inline shift+mask, same indexes: %.2f ns", tr * 1e9);
            snprintf(ratio, sizeof ratio, "%.3f", tr / to);
            row("4", "status list lookup (1 M entries, random idx)", ours, ref, ratio, "(info)");
            fflush(stdout);
            free(idx);
        }
        status_times t = {0};
        if (s == 0) {
            status_zlib_once(&l, &t); /* warm-up (page faults of the buffers) */
            t = (status_times){0};
        }
        for (int r = 0; r < rounds[s]; r++)
            status_zlib_once(&l, &t);
        double k = rounds[s];
        double mb = (double)((n + 3) / 4) / 1e6;
        const char *label = s == 0 ? "1 M" : "100 M";
        snprintf(what, sizeof what, "status list compress, %s entries (%.2f MB)", label, mb);
        snprintf(ours, sizeof ours, "%8.2f ms", t.ours_c / k * 1e3);
        snprintf(ref, sizeof ref, "zlib compress2 level 9: %.2f ms, -> %zu B", t.ref_c / k * 1e3,
                 t.zlen);
        snprintf(ratio, sizeof ratio, "%.3f", t.ref_c / t.ours_c);
        row(s == 0 ? "4a" : "4c", what, ours, ref, ratio, "(info)");
        fflush(stdout);
        snprintf(what, sizeof what, "status list decompress, %s entries", label);
        snprintf(ours, sizeof ours, "%8.2f ms", t.ours_d / k * 1e3);
        snprintf(ref, sizeof ref, "zlib uncompress, size known: %.2f ms", t.ref_d / k * 1e3);
        snprintf(ratio, sizeof ratio, "%.3f", t.ref_d / t.ours_d);
        row(s == 0 ? "4b" : "4d", what, ours, ref, ratio, "(info)");
        fflush(stdout);
        tes_status_list_free(&l);
    }
}

/* ------------------------------------------------------------------ row 3b: over HTTP */

/* Row 3b: issuance over HTTP (OpenID4VCI, http.c): the service and its clients in this
 * process on loopback, full obtains (metadata + token + nonce + credential, batch 1) from
 * HTTP_THREADS client threads for HTTP_SECONDS of wall time each; the reference is the
 * issuing floor (floor.c, ECDSA sign + the SHA-256 of the items and the MSO) over the bytes
 * of a credential the service issued, CPU time of this thread, measured right before.
 * Everything runs on the same cores: the client side (proof signing, curl, JSON) and the
 * server side (HTTP, registry transactions with fsync, signing) share them. */
#define HTTP_SECONDS 3.0
#define HTTP_OFFERS 4800 /* enough for both 3 s runs at up to ~750/s; setup ~ 5 s */

static void http_rows(const bench_world *w, const char *dir)
{
    static const int threads[2] = {2, 4};
    char what[96], ours[64], ref[160], ratio[32];
    double setup = 0, t0 = wall_now();
    http_bench *b = http_bench_start(&w->auth[0], dir, HTTP_OFFERS, &setup);
    if (!b) {
        row("3b", "issue over HTTP (OpenID4VCI)", "FAILED", "(see stderr)", "", "(info)");
        fflush(stdout);
        return;
    }
    floor_issue *fi = floor_issue_prepare(&w->auth[0], http_bench_sample(b));
    ictx ic = {.fl = fi};
    size_t cur = 0;
    double v[ROUNDS];
    run_for(op_floor_issue, &ic, 1, &cur, 0.05);
    for (int r = 0; r < ROUNDS; r++)
        v[r] = run_for(op_floor_issue, &ic, 1, &cur, 0.2);
    double tf = median(v, ROUNDS);
    for (int k = 0; k < 2; k++) {
        http_run h;
        if (http_bench_left(b) == 0)
            break;
        bool ok = http_bench_run(b, threads[k], HTTP_SECONDS, &h);
        snprintf(what, sizeof what, "issue over HTTP (OpenID4VCI), %d client threads", threads[k]);
        if (!ok) {
            row(k == 0 ? "3b" : "3c", what, "FAILED", "(see stderr)", "", "(info)");
            break;
        }
        snprintf(ours, sizeof ours, "%6.0f/s %6.2f ms", h.rate, h.latency * 1e3);
        snprintf(ref, sizeof ref, "ECDSA sign + %zu SHA-256 %.0f/s, CPU %.2f cores%s",
                 floor_issue_hashes(fi), 1.0 / tf, h.cpu,
                 h.exhausted ? " (ran out of offers)" : "");
        snprintf(ratio, sizeof ratio, "%.3f", h.rate * tf);
        row(k == 0 ? "3b" : "3c", what, ours, ref, ratio, "(info)");
        fflush(stdout);
    }
    floor_issue_free(fi);
    http_bench_stop(b);
    fprintf(stderr, "bench: rows 3b/3c: %zu people enrolled + service up in %.1f s, rows %.1f s\n",
            (size_t)HTTP_OFFERS, setup, wall_now() - t0);
}

/* ------------------------------------------------------------------ commands */

static int cmd_prepare(const char *dir)
{
    bench_world w;
    bench_world_params p = {.n_holders = 1, .n_auth = POOL_ISSUERS,
                            .portrait_len = BENCH_PORTRAIT_DEFAULT};
    if (!bench_world_make(&w, &p))
        return 1;
    char path[4096];
    tes_buf roots = {0};
    for (size_t a = 0; a < w.n_auth; a++)
        if (tes_cert_to_pem(w.auth[a].iaca, &roots) != TES_OK)
            bench_die("tes_cert_to_pem", TES_ERR_NOMEM);
    bool ok = true;
    snprintf(path, sizeof path, "%s/response.cbor", dir);
    ok &= bench_write_file(path, w.h[0].resp.ptr, w.h[0].resp.len);
    snprintf(path, sizeof path, "%s/transcript.cbor", dir);
    ok &= bench_write_file(path, w.h[0].transcript.ptr, w.h[0].transcript.len);
    snprintf(path, sizeof path, "%s/roots.pem", dir);
    ok &= bench_write_file(path, roots.ptr, roots.len);
    tes_buf_free(&roots);
    bench_world_free(&w);
    return ok ? 0 : 1;
}

/* The profiled region (callgrind --toggle-collect=bench_loop). */
__attribute__((noinline)) void bench_loop(op_fn op, void *ctx, size_t n, long count);
__attribute__((noinline)) void bench_loop(op_fn op, void *ctx, size_t n, long count)
{
    for (long k = 0; k < count; k++)
        op(ctx, (size_t)k % n);
}

/* loop N [sig|mac|cold|floor|floor-items|floor-mac|floor-cold|issue|floor-issue]:
 * N operations of one
 * kind over the pool and nothing else timed, for callgrind / perf. */
static int cmd_loop(long n, const char *what)
{
    bool mac = strstr(what, "mac") != NULL;
    bench_world w;
    bench_world_params p = {.n_holders = POOL_HOLDERS, .n_auth = POOL_ISSUERS,
                            .portrait_len = BENCH_PORTRAIT_DEFAULT, .mac = mac};
    if (!bench_world_make(&w, &p))
        return 1;
    floor_pool *fl = strncmp(what, "floor", 5) == 0 ? floor_prepare(&w) : NULL;
    vctx v = {.w = &w, .fl = fl};
    ictx ic = {.w = &w};
    int rc = 0;
    if (strcmp(what, "sig") == 0 || strcmp(what, "mac") == 0)
        bench_loop(op_ours, &v, w.n, n);
    else if (strcmp(what, "cold") == 0)
        bench_loop(op_ours_cold, &v, w.n, n);
    else if (strcmp(what, "floor") == 0)
        bench_loop(op_floor_sig, &v, w.n, n);
    else if (strcmp(what, "floor-items") == 0)
        bench_loop(op_floor_items, &v, w.n, n);
    else if (strcmp(what, "floor-mac") == 0)
        bench_loop(op_floor_mac, &v, w.n, n);
    else if (strcmp(what, "floor-cold") == 0)
        bench_loop(op_floor_cold, &v, w.n, n);
    else if (strcmp(what, "issue") == 0)
        bench_loop(op_issue, &ic, w.n, n);
    else if (strcmp(what, "floor-issue") == 0) {
        ic.fl = floor_issue_prepare(&w.auth[0], tes_buf_bytes(&w.h[0].mdoc));
        bench_loop(op_floor_issue, &ic, w.n, n);
        floor_issue_free(ic.fl);
    } else {
        fprintf(stderr, "tessera_bench loop: unknown kind '%s'\n", what);
        rc = 2;
    }
    floor_free(fl);
    bench_world_free(&w);
    return rc;
}

/* Reads "key=value" (double) from a small text file; NAN-free: false when absent. */
static bool read_kv(const char *path, const char *key, double *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    size_t kl = strlen(key);
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
            *out = strtod(line + kl + 1, NULL);
            found = true;
        }
    fclose(f);
    return found;
}

static bool read_kv_str(const char *path, const char *key, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    size_t kl = strlen(key);
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
            line[strcspn(line, "\n")] = 0;
            snprintf(out, cap, "%s", line + kl + 1);
            found = true;
        }
    fclose(f);
    return found;
}

static void heap_rows(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/heap.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        row("5", "peak heap of one verification", "not measured", "(tessera_bench_heap)", "", "");
        return;
    }
    char line[512];
    double prev_in = 0, prev_peak = 0;
    while (fgets(line, sizeof line, f)) {
        double in = 0, warm = 0, cold = 0;
        if (sscanf(line, "input=%lf warm_peak=%lf cold_peak=%lf", &in, &warm, &cold) != 3)
            continue;
        char what[128], ours[64], ref[96], ratio[32];
        snprintf(what, sizeof what, "peak heap, verify, %.0f B input", in);
        snprintf(ours, sizeof ours, "%9.0f B", warm);
        if (prev_in > 0)
            snprintf(ref, sizeof ref, "first verify %.0f B; growth %.4f B/input B", cold,
                     (warm - prev_peak) / (in - prev_in));
        else
            snprintf(ref, sizeof ref, "first verify (fills cache) %.0f B", cold);
        snprintf(ratio, sizeof ratio, "%.3f", warm / in);
        row("5", what, ours, ref, ratio, "<= input + small const");
        prev_in = in;
        prev_peak = warm;
    }
    fclose(f);
}

/* Row 7: one complete proximity transaction. In memory: CPU time of the engagement
 * (holder builds it, reader reads the URI), the holder's thread and the reader's
 * thread, summed (the two sides run concurrently over the in-memory transport,
 * each blocking on the other, so per-thread CPU clocks are the honest measure).
 * Over NFC (only when run.sh started pcscd: TES_BENCH_NFC=1): wall time from the
 * tap to the verified result. */
#define PROX_RUNS 101
#define PROX_NFC_RUNS 21
static void prox_rows(const bench_world *w)
{
    char ours[64], ref[160], ratio[32], target[64];
    prox_figures f;
    if (prox_bench_memory(w, PROX_RUNS, &f)) {
        snprintf(ours, sizeof ours, "%7.0f us CPU", f.total * 1e6);
        snprintf(ref, sizeof ref, "engagement %.0f + holder %.0f + reader %.0f us (median of %zu)",
                 f.engagement * 1e6, f.holder * 1e6, f.reader * 1e6, f.runs);
        snprintf(ratio, sizeof ratio, "%.3f", 2e-3 / f.total);
        snprintf(target, sizeof target, "< 2 ms %s", f.total < 2e-3 ? "ok" : "ABOVE");
        row("7", "proximity transaction, in memory (both sides)", ours, ref, ratio, target);
    } else {
        row("7", "proximity transaction, in memory (both sides)", "FAILED", "(see stderr)", "",
            "< 2 ms");
    }
    fflush(stdout);
    const char *nfc = getenv("TES_BENCH_NFC");
    if (nfc == NULL || strcmp(nfc, "1") != 0) {
        row("7a", "proximity transaction, NFC via pcscd + vpcd (wall)",
            "n/a (pcscd not available)", nfc && *nfc ? nfc : "(run via run.sh as root)", "",
            "< 50 ms");
        return;
    }
    double wait = 0;
    if (prox_bench_nfc(w, PROX_NFC_RUNS, &f, &wait)) {
        snprintf(ours, sizeof ours, "%7.1f ms wall", f.total * 1e3);
        snprintf(ref, sizeof ref, "from SELECT; + %.0f ms pcscd polling to see the card (not counted), median of %zu",
                 wait * 1e3, f.runs);
        snprintf(ratio, sizeof ratio, "%.3f", 50e-3 / f.total);
        snprintf(target, sizeof target, "< 50 ms %s", f.total < 50e-3 ? "ok" : "ABOVE");
        row("7a", "proximity transaction, NFC via pcscd + vpcd (wall)", ours, ref, ratio, target);
    } else {
        row("7a", "proximity transaction, NFC via pcscd + vpcd (wall)", "FAILED", "(see stderr)",
            "", "< 50 ms");
    }
}

/* ------------------------------------------------------------------ row 8: online login */

#define LOGIN_HTTP_SECONDS 4.0

/* Rows 8b/8c: whole logins over HTTP (login.h), 1 and 2 client threads, beside the
 * floor of row 8 (the verifier's cryptography per login, CPU time of one thread). */
static void login_http_rows(const bench_world *w, const char *dir, double floor)
{
    static const int threads[2] = {1, 2};
    char what[96], ours[64], ref[160], ratio[32];
    double t0 = wall_now();
    login_http *b = login_http_start(w, dir);
    if (!b) {
        row("8b", "online login over HTTP (OpenID4VP)", "FAILED", "(see stderr)", "", "(info)");
        fflush(stdout);
        return;
    }
    for (int k = 0; k < 2; k++) {
        login_http_run_figures h;
        snprintf(what, sizeof what, "online login over HTTP, %d client thread%s", threads[k],
                 threads[k] > 1 ? "s" : "");
        if (!login_http_run(b, threads[k], LOGIN_HTTP_SECONDS, &h)) {
            row(k == 0 ? "8b" : "8c", what, "FAILED", "(see stderr)", "", "(info)");
            break;
        }
        snprintf(ours, sizeof ours, "%6.0f/s", h.rate);
        snprintf(ref, sizeof ref, "RP floor %.0f/s; CPU %.2f cores (RP + clients)%s", 1.0 / floor,
                 h.cpu, h.failed ? ", SOME FAILED" : "");
        snprintf(ratio, sizeof ratio, "%.3f", h.rate * floor);
        row(k == 0 ? "8b" : "8c", what, ours, ref, ratio, "(info)");
        fflush(stdout);
    }
    login_http_stop(b);
    fprintf(stderr, "bench: rows 8b/8c: %.1f s\n", wall_now() - t0);
}

/* Row 8: the relying party's work per OpenID4VP login (login.h) against its floor;
 * then 8b/8c over HTTP (temp dir under dir). */
static void login_rows(const char *dir)
{
    bench_world w;
    bench_world_params p = {.n_holders = POOL_HOLDERS / 4, .n_auth = POOL_ISSUERS,
                            .few_elements = true};
    char ours[64], ref[160], ratio[32], target[32];
    login_figures f;
    if (!bench_world_make(&w, &p) || !login_bench(&w, paired, &f)) {
        row("8", "online login: decrypt + verify + status (RP)", "FAILED", "(see stderr)", "",
            ">= 0.8");
        fflush(stdout);
        return;
    }
    rate_str(ours, sizeof ours, f.ours);
    snprintf(ref, sizeof ref, "ECDH + A256GCM + 2 ECDSA verify %.0f/s (%zu-byte JWE)",
             1.0 / f.floor, f.body_len);
    double v = f.floor / f.ours;
    snprintf(ratio, sizeof ratio, "%.3f", v);
    snprintf(target, sizeof target, ">= 0.8 %s", verdict(v, 0.8));
    row("8", "online login: decrypt + verify + status (RP)", ours, ref, ratio, target);
    fflush(stdout);
    login_http_rows(&w, dir, f.floor);
    bench_world_free(&w);
}

/* ------------------------------------------------------------------ row 9: door keys */

/* Rows 9/9'/9a/9a' (access.h): CPU time of one whole Aliro transaction, phone and lock in
 * this thread, against the OpenSSL floor of what the transaction needs (access.h lists it).
 * Rows 9b/9c: taps through pcscd + vpcd (only when run.sh started pcscd: TES_BENCH_NFC=1). */
#define ACCESS_NFC_RUNS 20
static void access_nfc_rows(double t0);
static void access_rows(bool memory)
{
    char ours[64], ref[160], ratio[32], target[64];
    double t0 = wall_now();
    access_figures f;
    if (!memory) {
        access_nfc_rows(t0);
        return;
    }
    if (!access_bench_memory(paired, &f)) {
        row("9", "door key, standard transaction in memory", "FAILED", "(see stderr)", "",
            ">= 0.8");
        fflush(stdout);
        return;
    }
    struct {
        const char *num, *what, *floor;
        double ours, fl, target;
    } r[4] = {
        {"9", "door key, standard tx in memory (both sides)",
         "2 keygen+2 ECDH+2 sign+2 verify+KDFs+6 GCM", f.std_soft, f.std_soft_floor, 0.8},
        {"9'", "  same, endpoint key in memory (no soft SE)", "same floor", f.std_mem,
         f.std_mem_floor, 0.8},
        {"9a", "door key, fast tx in memory, 1 known key", "2 keygen + 2 HKDF(3 blocks) + 6 GCM",
         f.fast1, f.fast1_floor, 0.7},
        {"9a'", "  same, 64 known keys (match last)", "+ 63 x (HKDF 1 block + failed GCM)",
         f.fast64, f.fast64_floor, 0.7},
    };
    for (int i = 0; i < 4; i++) {
        double v = r[i].fl / r[i].ours;
        snprintf(ours, sizeof ours, "%7.1f us CPU", r[i].ours * 1e6);
        snprintf(ref, sizeof ref, "%s %.1f us", r[i].floor, r[i].fl * 1e6);
        snprintf(ratio, sizeof ratio, "%.3f", v);
        snprintf(target, sizeof target, ">= %.1f %s", r[i].target, verdict(v, r[i].target));
        row(r[i].num, r[i].what, ours, ref, ratio, target);
    }
    fflush(stdout);
    printf("    breakdown (CPU per call, best of 3 x 0.1 s):\n");
    access_bench_breakdown(stdout);
    fflush(stdout);
    access_nfc_rows(t0);
}

static void access_nfc_rows(double t0)
{
    char ours[64], ref[160], ratio[32], target[64];
    const char *nfc = getenv("TES_BENCH_NFC");
    if (nfc == NULL || strcmp(nfc, "1") != 0) {
        row("9b", "door key tap via pcscd + vpcd, standard+step-up", "n/a (pcscd not available)",
            nfc && *nfc ? nfc : "(run via run.sh as root)", "", "< 50 ms (info)");
        row("9c", "door key tap via pcscd + vpcd, fast", "n/a (pcscd not available)", "", "",
            "< 20 ms (info)");
        fprintf(stderr, "bench: rows 9: %.1f s\n", wall_now() - t0);
        return;
    }
    access_nfc_figures n;
    if (access_bench_nfc(ACCESS_NFC_RUNS, &n)) {
        snprintf(ours, sizeof ours, "%7.1f ms wall", n.std_med * 1e3);
        snprintf(ref, sizeof ref, "median of %zu, p90 %.1f ms; + %.0f ms pcscd polling (not counted)",
                 n.runs, n.std_p90 * 1e3, n.card_wait * 1e3);
        snprintf(ratio, sizeof ratio, "%.3f", 50e-3 / n.std_med);
        snprintf(target, sizeof target, "< 50 ms %s (info)", n.std_med < 50e-3 ? "ok" : "ABOVE");
        row("9b", "door key tap via pcscd + vpcd, standard+step-up", ours, ref, ratio, target);
        snprintf(ours, sizeof ours, "%7.1f ms wall", n.fast_med * 1e3);
        snprintf(ref, sizeof ref, "median of %zu, p90 %.1f ms (card present -> unlocked)", n.runs,
                 n.fast_p90 * 1e3);
        snprintf(ratio, sizeof ratio, "%.3f", 20e-3 / n.fast_med);
        snprintf(target, sizeof target, "< 20 ms %s (info)", n.fast_med < 20e-3 ? "ok" : "ABOVE");
        row("9c", "door key tap via pcscd + vpcd, fast", ours, ref, ratio, target);
    } else {
        row("9b", "door key tap via pcscd + vpcd, standard+step-up", "FAILED", "(see stderr)", "",
            "< 50 ms (info)");
        row("9c", "door key tap via pcscd + vpcd, fast", "FAILED", "(see stderr)", "",
            "< 20 ms (info)");
    }
    fflush(stdout);
    fprintf(stderr, "bench: rows 9: %.1f s\n", wall_now() - t0);
}

static int cmd_table(const char *dir)
{
    char cpu[256], path[4096];
    cpu_model(cpu, sizeof cpu);
    struct utsname un;
    uname(&un);
    printf("Tessera benchmark (make bench)\n");
    printf("machine : %s, %ld CPUs online (nproc), SHA extensions %s, %s %s %s\n", cpu,
           sysconf(_SC_NPROCESSORS_ONLN), cpu_flag("sha_ni") ? "yes" : "no", un.sysname,
           un.release, un.machine);
    printf("crypto  : %s (floors: EC_KEY + ECDSA_do_verify/ECDH, low-level SHA-256)\n",
           floor_openssl_version());
    printf("compiler: gcc %s, library and bench at -O2 (CMake RelWithDebInfo)\n", __VERSION__);

    bench_world w, wm;
    bench_world_params p = {.n_holders = POOL_HOLDERS, .n_auth = POOL_ISSUERS,
                            .portrait_len = BENCH_PORTRAIT_DEFAULT};
    double t0 = wall_now();
    if (!bench_world_make(&w, &p))
        return 1;
    p.mac = true;
    if (!bench_world_make(&wm, &p))
        return 1;
    floor_pool *fs = floor_prepare(&w), *fm = floor_prepare(&wm);
    printf("pool    : %d holders (own device key, reader key, transcript each), %d issuers "
           "(IACA + DS, all roots in one trust store); built in %.1f s\n",
           POOL_HOLDERS, POOL_ISSUERS, wall_now() - t0);
    printf("response: 1 mDL document, %d disclosed elements incl. a %u-byte portrait, %zu bytes "
           "(device signature), %zu bytes (device MAC)\n",
           BENCH_N_ELEMS, BENCH_PORTRAIT_DEFAULT, w.h[0].resp.len, wm.h[0].resp.len);
    printf("timing  : CPU time of one thread; tessera and reference alternate in %d rounds of "
           "%.1f s each, median round; ratio = reference time / tessera time\n\n",
           ROUNDS, ROUND_SECONDS);
    fflush(stdout);

    row("#", "measurement", "tessera", "reference (same process, same bytes)", "ratio", "target");
    printf("---+-------------------------------------------------+-----------------------+----------"
           "-------------------------------------------+--------+---------\n");
    char ours[64], ref[160], ratio[32], target[64];
    double to, tf;

    /* 1: warm chain cache */
    vctx vs = {.w = &w, .fl = fs};
    paired(op_ours, &vs, op_floor_sig, &vs, w.n, &to, &tf);
    rate_str(ours, sizeof ours, to);
    char fr[64];
    rate_str(fr, sizeof fr, tf);
    snprintf(ref, sizeof ref, "floor 2xECDSA P-256 %s", fr);
    snprintf(ratio, sizeof ratio, "%.3f", tf / to);
    snprintf(target, sizeof target, ">= 0.85 %s", verdict(tf / to, 0.85));
    row("1", "verify, device signature (chain cached)", ours, ref, ratio, target);
    fflush(stdout);
    paired(op_ours, &vs, op_floor_items, &vs, w.n, &to, &tf);
    rate_str(ours, sizeof ours, to);
    rate_str(fr, sizeof fr, tf);
    snprintf(ref, sizeof ref, "floor + item digests %s", fr);
    snprintf(ratio, sizeof ratio, "%.3f", tf / to);
    row("1a", "  same, vs all crypto incl. the 10 item digests", ours, ref, ratio, "(info)");
    fflush(stdout);

    /* 1b: cold chain cache */
    double tstore;
    size_t cur = 0;
    run_for(op_store_only, &vs, w.n, &cur, 0.05);
    double vst[ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        vst[r] = run_for(op_store_only, &vs, w.n, &cur, 0.1);
    tstore = median(vst, ROUNDS);
    paired(op_ours_cold, &vs, op_floor_cold, &vs, w.n, &to, &tf);
    to -= tstore;
    rate_str(ours, sizeof ours, to);
    rate_str(fr, sizeof fr, tf);
    snprintf(ref, sizeof ref, "floor + DS cert sig %s", fr);
    snprintf(ratio, sizeof ratio, "%.3f", tf / to);
    row("1b", "verify, chain cache cold (fresh store each)", ours, ref, ratio, "(none)");
    fflush(stdout);

    /* 1c: device MAC */
    vctx vm = {.w = &wm, .fl = fm};
    paired(op_ours, &vm, op_floor_mac, &vm, wm.n, &to, &tf);
    rate_str(ours, sizeof ours, to);
    rate_str(fr, sizeof fr, tf);
    snprintf(ref, sizeof ref, "ECDSA+ECDH+HKDF+HMAC  %s", fr);
    snprintf(ratio, sizeof ratio, "%.3f", tf / to);
    row("1c", "verify, device MAC (chain cached)", ours, ref, ratio, "(none)");
    fflush(stdout);

    /* 2: @auth0/mdl on the same response file */
    {
        file_ctx fc = {0};
        char rp[4096], tp[4096], pp[4096];
        snprintf(rp, sizeof rp, "%s/response.cbor", dir);
        snprintf(tp, sizeof tp, "%s/transcript.cbor", dir);
        snprintf(pp, sizeof pp, "%s/roots.pem", dir);
        tes_buf roots = {0};
        double theirs = 0;
        char ver[64] = "?", node[64] = "?";
        snprintf(path, sizeof path, "%s/auth0.txt", dir);
        bool have = read_kv(path, "ops_per_cpu_s", &theirs);
        read_kv_str(path, "mdl_version", ver, sizeof ver);
        read_kv_str(path, "node", node, sizeof node);
        if (bench_read_file(rp, &fc.resp) && bench_read_file(tp, &fc.transcript) &&
            bench_read_file(pp, &roots)) {
            fc.at = (int64_t)time(NULL);
            if (tes_trust_store_new(&fc.trust) != TES_OK ||
                tes_trust_store_add_blob(fc.trust, TES_PROFILE_DS, tes_buf_bytes(&roots)) != TES_OK)
                bench_die("trust store (roots.pem)", TES_ERR_CRYPTO);
            size_t c2 = 0;
            run_for(op_file, &fc, 1, &c2, 0.05);
            double v[3];
            for (int r = 0; r < 3; r++)
                v[r] = run_for(op_file, &fc, 1, &c2, 0.5);
            double tfile = median(v, 3);
            snprintf(ours, sizeof ours, "%7.0f/s", 1.0 / tfile);
            if (have && theirs > 0) {
                snprintf(ref, sizeof ref, "@auth0/mdl %s, node %s: %.0f/s", ver, node, theirs);
                snprintf(ratio, sizeof ratio, "%.1fx", (1.0 / tfile) / theirs);
                snprintf(target, sizeof target, ">= 20x %s", verdict((1.0 / tfile) / theirs, 20));
            } else {
                snprintf(ref, sizeof ref, "@auth0/mdl not measured (node/npm missing?)");
                snprintf(ratio, sizeof ratio, "n/a");
                snprintf(target, sizeof target, ">= 20x");
            }
            row("2", "same response file vs @auth0/mdl (CPU time)", ours, ref, ratio, target);
            tes_trust_store_free(fc.trust);
        } else {
            row("2", "same response file vs @auth0/mdl", "no response file", "(run via run.sh)",
                "n/a", ">= 20x");
        }
        tes_buf_free(&roots);
        tes_buf_free(&fc.resp);
        tes_buf_free(&fc.transcript);
        fflush(stdout);
    }

    /* 3: issuing */
    {
        floor_issue *fi = floor_issue_prepare(&w.auth[0], tes_buf_bytes(&w.h[0].mdoc));
        ictx ic = {.w = &w, .fl = fi};
        paired(op_issue, &ic, op_floor_issue, &ic, w.n, &to, &tf);
        rate_str(ours, sizeof ours, to);
        rate_str(fr, sizeof fr, tf);
        snprintf(ref, sizeof ref, "ECDSA sign + 11 SHA-256 %s", fr);
        snprintf(ratio, sizeof ratio, "%.3f", tf / to);
        snprintf(target, sizeof target, ">= 0.8 %s", verdict(tf / to, 0.8));
        row("3", "issue one mdoc (10 elements, 15 kB portrait)", ours, ref, ratio, target);
        floor_issue_free(fi);
        fflush(stdout);
    }

    /* 3b, 3c: issuing over HTTP */
    http_rows(&w, dir);

    /* 4: status lists */
    status_rows();

    /* 5 */
    heap_rows(dir);
    fflush(stdout);

    /* 6: threads (wall time); the floor with the same threads as reference */
    {
        double r1 = threads_run(op_ours, &vs, w.n, 1, 1.5);
        double f1 = threads_run(op_floor_sig, &vs, w.n, 1, 1.0);
        double r2 = threads_run(op_ours, &vs, w.n, 2, 1.5);
        double f2 = threads_run(op_floor_sig, &vs, w.n, 2, 1.0);
        snprintf(ours, sizeof ours, "%7.0f/s (%.2fx)", r2, r2 / r1);
        snprintf(ref, sizeof ref, "floor 2T %.0f/s (%.2fx of its 1T)", f2, f2 / f1);
        snprintf(ratio, sizeof ratio, "%.3f", r2 / f2);
        row("6", "verify, 2 threads, shared trust store (wall)", ours, ref, ratio,
            sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? "scales as floor" : "(1 core only)");
        snprintf(ours, sizeof ours, "%7.0f/s", r1);
        snprintf(ref, sizeof ref, "floor 1T %.0f/s", f1);
        snprintf(ratio, sizeof ratio, "%.3f", r1 / f1);
        row("6", "verify, 1 thread (wall)", ours, ref, ratio, "");
    }

    /* 7 */
    prox_rows(&w);

    /* 8 */
    login_rows(dir);

    /* 9 */
    access_rows(true);

    floor_free(fs);
    floor_free(fm);
    bench_world_free(&w);
    bench_world_free(&wm);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "prepare") == 0)
        return cmd_prepare(argv[2]);
    if (argc == 3 && strcmp(argv[1], "table") == 0)
        return cmd_table(argv[2]);
    if (argc == 3 && strcmp(argv[1], "prox") == 0) {
        bench_world w;
        bench_world_params p = {.n_holders = 1, .n_auth = POOL_ISSUERS,
                                .portrait_len = BENCH_PORTRAIT_DEFAULT};
        if (!bench_world_make(&w, &p))
            return 1;
        if (strcmp(argv[2], "nfc") == 0)
            setenv("TES_BENCH_NFC", "1", 1);
        else
            unsetenv("TES_BENCH_NFC");
        prox_rows(&w);
        bench_world_free(&w);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "http") == 0) {
        bench_world w;
        bench_world_params p = {
            .n_holders = 1, .n_auth = 1, .portrait_len = BENCH_PORTRAIT_DEFAULT};
        if (!bench_world_make(&w, &p))
            return 1;
        http_rows(&w, argv[2]);
        bench_world_free(&w);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "login") == 0) {
        login_rows(argv[2]);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "access-loop") == 0)
        return access_bench_loop(strtol(argv[2], NULL, 10), argv[3]);
    if ((argc == 2 || argc == 3) && strcmp(argv[1], "access") == 0) {
        if (argc == 3 && strcmp(argv[2], "nfc") == 0)
            setenv("TES_BENCH_NFC", "1", 1);
        access_rows(argc == 2);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "status") == 0) {
        status_rows();
        return 0;
    }
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "loop") == 0)
        return cmd_loop(strtol(argv[2], NULL, 10), argc == 4 ? argv[3] : "sig");
    fprintf(stderr, "usage: tessera_bench prepare DIR | table DIR | http DIR | prox memory|nfc | login DIR | access [nfc] | access-loop N std|std-mem|fast|fast64|floor-std|floor-fast|floor-fast64 | status | "
                    "loop N "
                    "[sig|mac|cold|floor|floor-items|floor-mac|floor-cold|issue|floor-issue]\n");
    return 2;
}
