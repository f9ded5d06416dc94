/*
 * bench/login.h — row 8 of the benchmark: the relying party's work for one
 * OpenID4VP login (issue #13), against its cryptographic floor.
 *
 * Per holder of a world built with few elements (the PID of a login asks for
 * little: family_name and age_over_18 here), a response as a wallet sends it:
 * the credential re-issued with a Token Status List reference, a
 * DeviceResponse signed by the holder's device key over the OpenID4VP
 * SessionTranscript (its own client_id nonce, the verifier's per-transaction
 * encryption key, response_uri), wrapped as {"vp_token": {"pid":
 * ["<b64url>"]}, "state"} and encrypted to that key (JWE ECDH-ES + A256GCM).
 *
 * Timed (ours): what the verifier does with the body: decrypt the JWE with the
 * transaction's key, parse the payload (tes_rp_payload_parse, the service's
 * parser), decode the DeviceResponse, verify it
 * (issuer chain and signature, digests, device signature over the transcript)
 * and look up the credential's status in a list already held in memory (a
 * warm status cache; the list's own signature is checked once per refresh,
 * not per login).
 *
 * Floor (OpenSSL directly, same bytes): ECDH with the JWE's ephemeral key +
 * the Concat KDF's SHA-256 + AES-256-GCM decryption of the ciphertext, then
 * floor_sig (the issuer and device ECDSA verifications with their
 * Sig_structure hashes).
 */
#ifndef TESSERA_BENCH_LOGIN_H
#define TESSERA_BENCH_LOGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "fixture.h"

typedef struct login_figures {
    double ours, floor; /* CPU seconds per login (median round) */
    size_t body_len;    /* bytes of one encrypted response */
} login_figures;

typedef void (*login_pair_fn)(void (*a)(void *, size_t), void *ca, void (*b)(void *, size_t),
                              void *cb, size_t n, double *ta, double *tb);

/* Builds the logins for the holders of w (w made with few_elements), checks
 * that ours and the floor accept every one, then times both with pair (the
 * benchmark's alternating rounds). False (message on stderr) on failure. */
bool login_bench(const bench_world *w, login_pair_fn pair, login_figures *out);

/* Row 8b: whole logins over HTTP on loopback. The verifier service
 * (tes_rp_start, SQLite transactions, status checks off: the bench's
 * credentials carry no status reference) in this process, its site licensed
 * by a reader authority with the DNS name localhost; bench client threads do
 * the backend's and the wallet's work per login: POST /api/v1/transactions,
 * GET the request object and verify it (tes_oid4vp_request_verify), build
 * the DeviceResponse over the OpenID4VP SessionTranscript with the holder's
 * key in memory, encrypt it, POST it, GET the verified result. */
typedef struct login_http login_http;

typedef struct login_http_run_figures {
    int threads;
    size_t logins, failed;
    double rate; /* verified logins per second, wall */
    double cpu;  /* process CPU seconds per wall second (service and clients) */
} login_http_run_figures;

/* Sets the site up under a new temp dir in parent_dir, starts the service and
 * runs one login (checked). NULL on failure (message on stderr). */
login_http *login_http_start(const bench_world *w, const char *parent_dir);
bool login_http_run(login_http *b, int threads, double secs, login_http_run_figures *out);
/* Stops the service and removes the temp dir. */
void login_http_stop(login_http *b);

#endif
