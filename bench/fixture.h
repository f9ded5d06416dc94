/*
 * bench/fixture.h — the world the benchmarks verify: a handful of issuers
 * (IACA root + document signer each, all roots in one trust store) and a pool
 * of holders, each with its own device key, session transcript, reader
 * ephemeral key and DeviceResponse (one mDL document, the disclosed elements
 * of bench_elems, device signature or device MAC).
 *
 * Only the public libtessera API is used here.
 */
#ifndef TESSERA_BENCH_FIXTURE_H
#define TESSERA_BENCH_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/mdoc.h"

#define BENCH_PORTRAIT_DEFAULT 15000u /* 15 kB portrait */
#define BENCH_N_ELEMS 10

typedef struct bench_authority {
    tes_key *iaca_key, *ds_key;
    tes_cert *iaca, *ds;
} bench_authority;

typedef struct bench_holder {
    size_t issuer;     /* index into world.auth */
    tes_key *device;   /* device key pair (MSO deviceKey) */
    tes_key *ereader;  /* reader ephemeral key pair of this session */
    tes_buf transcript;/* plain SessionTranscript of this session */
    tes_buf mdoc;      /* the stored credential */
    tes_buf resp;      /* DeviceResponse (device signature or MAC, see world.mac) */
} bench_holder;

typedef struct bench_world {
    int64_t now;       /* evaluation time = real time (@auth0/mdl has no clock injection) */
    bool mac;
    size_t n_auth;
    bench_authority auth[8];
    tes_trust_store *trust; /* all IACA roots */
    size_t n;
    bench_holder *h;
    tes_mdoc_claims all_claims; /* what the JSON produced (owns the memory) */
    tes_mdoc_claims claims;     /* the subset issued (views into all_claims) */
    const tes_mdoc_req_elem *req;
    size_t n_req;
} bench_world;

typedef struct bench_world_params {
    size_t n_holders;
    size_t n_auth;
    size_t portrait_len;
    bool mac;          /* device MAC instead of device signature */
    bool few_elements; /* only family_name and age_over_18 (the ~1 kB heap case) */
} bench_world_params;

/* Builds the world; prints the library's message and returns false on failure. */
bool bench_world_make(bench_world *w, const bench_world_params *p);
void bench_world_free(bench_world *w);

/* Issues one credential for holder key `device` with authority a (claims of w). */
tes_err bench_issue(const bench_world *w, const bench_authority *a, const tes_key *device,
                    tes_buf *out);

/* Verification options for holder i of the world (trust store: w->trust unless given). */
tes_mdoc_verify_opts bench_opts(const bench_world *w, size_t i, tes_trust_store *trust);

/* Whole-file helpers (false on failure, with a message on stderr). */
bool bench_write_file(const char *path, const void *data, size_t len);
bool bench_read_file(const char *path, tes_buf *out);

/* Monotonic wall seconds; CPU seconds of the whole process (user + system, all threads). */
double bench_wall(void);
double bench_cpu_process(void);

/* Fails loudly (the benchmark must only time correct work). */
void bench_die(const char *what, tes_err e) __attribute__((noreturn));

#endif
