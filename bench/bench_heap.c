/*
 * bench/bench_heap.c — peak heap of one DeviceResponse verification.
 *
 *   tessera_bench_heap PORTRAIT_BYTES [few]
 *
 * Builds one response (10 elements with a portrait of the given size; with
 * "few" only family_name and age_over_18 and no portrait) and prints
 *   input=<response bytes> warm_peak=<bytes> cold_peak=<bytes>
 * where a peak is the highest number of live heap bytes during one
 * tes_mdoc_verify() call above those live before it (the result included):
 * cold = first verification (parses the DS certificate and fills the chain
 * cache, which stays), warm = the next one (the steady state of a verifier).
 *
 * The counting is done by this binary's own malloc/calloc/realloc/free, which
 * forward to glibc and add malloc_usable_size() of every block to a running
 * total (so allocator rounding is counted, its headers are not). libtessera,
 * libcbor and OpenSSL all allocate through them. One process per size keeps
 * the measurements independent; the process is single-threaded.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static size_t live, peak;

static void *track(void *p)
{
    if (p) {
        live += malloc_usable_size(p);
        if (live > peak)
            peak = live;
    }
    return p;
}

void *malloc(size_t n) { return track(__libc_malloc(n)); }
void *calloc(size_t a, size_t b) { return track(__libc_calloc(a, b)); }

void free(void *p)
{
    if (p)
        live -= malloc_usable_size(p);
    __libc_free(p);
}

void *realloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q || n == 0) {
        live -= old;
        track(q);
    }
    return q;
}

void *memalign(size_t a, size_t n) { return track(__libc_memalign(a, n)); }
void *aligned_alloc(size_t a, size_t n) { return track(__libc_memalign(a, n)); }

int posix_memalign(void **out, size_t a, size_t n)
{
    void *p = track(__libc_memalign(a, n));
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

static size_t measure(bench_world *w)
{
    tes_mdoc_verify_opts o = bench_opts(w, 0, NULL);
    tes_mdoc_result r;
    size_t base = live;
    peak = live;
    tes_err e = tes_mdoc_verify(tes_buf_bytes(&w->h[0].resp), &o, &r);
    if (e != TES_OK)
        bench_die("tes_mdoc_verify", e);
    size_t p = peak - base;
    tes_mdoc_result_free(&r);
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tessera_bench_heap PORTRAIT_BYTES [few]\n");
        return 2;
    }
    bench_world w;
    bench_world_params p = {.n_holders = 1, .n_auth = 1,
                            .portrait_len = (size_t)strtoull(argv[1], NULL, 10),
                            .few_elements = argc > 2 && strcmp(argv[2], "few") == 0};
    if (!bench_world_make(&w, &p))
        return 1;
    /* bench_world_make verified once with w.trust: use a fresh store for the cold figure */
    tes_trust_store *fresh;
    if (tes_trust_store_new(&fresh) != TES_OK ||
        tes_trust_store_add(fresh, TES_PROFILE_DS, w.auth[0].iaca) != TES_OK)
        bench_die("trust store", TES_ERR_NOMEM);
    tes_trust_store *keep = w.trust;
    w.trust = fresh;
    size_t cold = measure(&w);
    size_t warm = measure(&w);
    for (int k = 0; k < 3; k++) { /* the steady state: the largest of a few */
        size_t m = measure(&w);
        if (m > warm)
            warm = m;
    }
    w.trust = keep;
    tes_trust_store_free(fresh);
    printf("input=%zu warm_peak=%zu cold_peak=%zu\n", w.h[0].resp.len, warm, cold);
    bench_world_free(&w);
    return 0;
}
