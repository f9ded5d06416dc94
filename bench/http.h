/*
 * bench/http.h — row 3b: issuance over HTTP (OpenID4VCI) in the bench process.
 *
 * The issuer service (tes_issuer_start) on 127.0.0.1, port 0, with one
 * authority of the world written to a temp directory (iaca.pem, ds.pem,
 * ds_key.pem) and a SQLite registry next to it; no vendor roots, so proofs
 * carry no attestation and the client's cost per credential is one ES256
 * proof. People are enrolled up front (tes_issuer_enrol: one offer each) and
 * one software P-256 key per offer is made up front; the timed part is only
 * full tes_oid4vci_obtain calls (metadata + token + nonce + credential, batch
 * 1) from T client threads.
 */
#ifndef TESSERA_BENCH_HTTP_H
#define TESSERA_BENCH_HTTP_H

#include "fixture.h"

typedef struct http_bench http_bench;

typedef struct http_run {
    int threads;
    size_t creds, failed;
    double rate;    /* credentials per second, wall: sum over threads of ops / own seconds */
    double latency; /* mean wall seconds of one obtain */
    bool exhausted; /* ran out of enrolled offers before the time was up */
    double cpu;     /* process CPU seconds (user + system, all threads) per wall second */
} http_run;

/* Writes authority a under a new temp dir inside parent_dir, starts the service,
 * enrols n_offers people and makes their keys, and obtains one credential (warm-up,
 * kept as the sample). NULL on failure (message on stderr). *setup_secs: wall time. */
http_bench *http_bench_start(const bench_authority *a, const char *parent_dir, size_t n_offers,
                             double *setup_secs);
/* The warm-up credential (stored mdoc format), for the floor over the same bytes. */
tes_bytes http_bench_sample(const http_bench *b);
size_t http_bench_left(const http_bench *b);
/* Full obtains from `threads` threads for `secs` seconds of wall time. */
bool http_bench_run(http_bench *b, int threads, double secs, http_run *out);
/* Stops the service and removes the temp dir. */
void http_bench_stop(http_bench *b);

#endif
