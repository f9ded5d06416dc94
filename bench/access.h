/*
 * bench/access.h — rows 9-9c of the benchmark: door keys (issue #14, the
 * Aliro transaction of src/access/ and the lock of src/lock/).
 *
 * Row 9 (standard transaction in memory, both sides, one thread): SELECT,
 * AUTH0, AUTH1, EXCHANGE 97 (unlocked), the phone being tes_access_device
 * with its endpoint key in a soft secure element (as tests/unit/
 * access_fixture.h), the lock side tes_access_reader_* over a direct transmit
 * function. Row 9' the same with the endpoint key as a plain in-memory
 * tes_key behind a minimal tes_se backend (separates the soft SE's per-sign
 * cost — lock file, state file read and MAC check, scalar import — from the
 * protocol).
 *
 * Floor of row 9 (OpenSSL directly: EC_KEY, low-level SHA-256, one fetched
 * AES-256-GCM cipher), one transaction's minimum on both sides:
 *   2 EC_KEY_generate_key (the ephemerals) + their encoding;
 *   3 EC_POINT_oct2point of received points (the reader's ephemeral on the
 *     device, the device's ephemeral and the endpoint key on the reader; the
 *     device holds the reader group key already decoded);
 *   2 ECDH_compute_key;
 *   2 ECDSA_do_sign (reader group key, endpoint key: both plain EC_KEYs) and
 *   2 ECDSA_do_verify, each over the SHA-256 of the 126-byte AUTH1 input;
 *   per side: the X9.63 KDF (one SHA-256), HKDF-Extract with the "Volatile"
 *     salt + 2 expansion blocks (the two exchange keys), HKDF-Extract with the
 *     "Persistent" salt + 1 block (the persistent key) — the step-up, BLE and
 *     UWB keys that the engine also derives are NOT in the floor (a
 *     transaction without step-up over NFC does not use them);
 *   6 AES-256-GCM operations: the AUTH1 answer (sealed, opened), the EXCHANGE
 *     command and its answer (each sealed and opened).
 * Row 9a (fast transaction, 1 known key): SELECT, AUTH0 with the cryptogram
 * (the reader finds the endpoint whose persistent key opens it), EXCHANGE.
 * Its floor: 2 EC_KEY_generate_key (the fast path needs both ephemerals too:
 * they enter the key derivation's salt and info, and the reader's is what
 * makes the cryptogram fresh) + their encoding, per side HKDF-Extract with
 * the "VolatileFast" salt + 3 blocks (cryptogram key, two exchange keys),
 * 6 AES-256-GCM operations (the cryptogram sealed and opened, EXCHANGE both
 * ways). No ECDH, no signature. Row 9a' with 64 known keys, the matching one
 * last (the worst case: the lock tries them most recently used first); its
 * floor adds, per wrong key, one HKDF-Extract + 1 block (the cryptogram key)
 * and one failing GCM open.
 *
 * Every timed run is checked once at setup (flow, verdict), and the floor
 * checks its own results (ECDH secrets equal, signatures verify, GCM opens).
 */
#ifndef TESSERA_BENCH_ACCESS_H
#define TESSERA_BENCH_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef void (*access_pair_fn)(void (*a)(void *, size_t), void *ca, void (*b)(void *, size_t),
                               void *cb, size_t n, double *ta, double *tb);

typedef struct access_figures {
    /* CPU seconds per transaction (median round of the alternating pairs) */
    double std_soft, std_soft_floor; /* row 9: soft SE endpoint key */
    double std_mem, std_mem_floor;   /* row 9': in-memory endpoint key */
    double fast1, fast1_floor;       /* row 9a */
    double fast64, fast64_floor;     /* row 9a' */
} access_figures;

/* Rows 9/9'/9a/9a'. False (message on stderr) on failure. */
bool access_bench_memory(access_pair_fn pair, access_figures *out);

/* n transactions of kind "std" (soft SE), "std-mem", "fast" (1 known key) or "fast64", or
 * of their floors "floor-std", "floor-fast", "floor-fast64", for perf / callgrind:
 * `tessera_bench access-loop N KIND` (ours in op_std / op_fast, floors in op_floor_std /
 * op_floor_fast). */
int access_bench_loop(long n, const char *kind);

/* The pieces, ours beside OpenSSL's, one line each to f (CPU time per call). */
void access_bench_breakdown(FILE *f);

typedef struct access_nfc_figures {
    size_t runs;
    double std_med, std_p90;   /* first tap: standard + step-up (the lock learns the endpoint) */
    double fast_med, fast_p90; /* the next taps: fast */
    double card_wait;          /* median time pcscd took to see the card (not counted) */
} access_nfc_figures;

/* Rows 9b/9c: taps through pcscd + vpcd (pcscd must run): the phone
 * (tes_access_device) served by tes_vpcd_serve in a thread, the lock
 * (tes_lock_transaction on a lock directory made by a hotel, store on disk)
 * on tes_pcsc_card_connect; wall time from pcscd reporting the card to the
 * lock's "unlocked" outcome. For each standard tap the lock first forgets
 * the endpoint (so it asks for the access document again). */
bool access_bench_nfc(size_t runs, access_nfc_figures *out);

#endif
