/*
 * bench/prox.h — row 7 of the benchmark: one complete ISO/IEC 18013-5 proximity
 * transaction (engagement, session establishment, request with reader
 * authentication, consent by policy, response signed in the soft secure
 * element, decryption and verification), holder and reader in one process.
 */
#ifndef TESSERA_BENCH_PROX_H
#define TESSERA_BENCH_PROX_H

#include <stdbool.h>
#include <stddef.h>

#include "fixture.h"

typedef struct prox_figures {
    double total, engagement, holder, reader; /* seconds (median over the runs) */
    size_t runs;
} prox_figures;

/* In-memory transport; CPU time (CLOCK_THREAD_CPUTIME_ID) of the engagement
 * (built by the holder, read back from its "mdoc:" URI by the reader), the
 * holder's thread and the reader's thread, summed per transaction. */
bool prox_bench_memory(const bench_world *w, size_t runs, prox_figures *out);
/* NFC through pcscd + vpcd (pcscd must be running): wall time of the whole
 * exchange, from the reader's tes_pcsc_connect once pcscd reports the card
 * (SELECT, Handover Select read, session, ENVELOPE / GET RESPONSE) to the
 * verified result. *card_wait receives the median time pcscd took to notice
 * the card after it connected to vpcd (pcscd's polling, not the exchange). */
bool prox_bench_nfc(const bench_world *w, size_t runs, prox_figures *out, double *card_wait);

#endif
