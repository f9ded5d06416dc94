/*
 * Private helpers shared by the files of the transport module (not public API).
 */
#ifndef TES_TRANSPORT_INTERNAL_H
#define TES_TRANSPORT_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include "tessera/transport.h"

/* ---- time ---- */

/* Monotonic milliseconds. */
int64_t tes_tr_now_ms(void);
/* Deadline for a timeout: negative timeout_ms = no deadline (INT64_MAX). */
int64_t tes_tr_deadline(int timeout_ms);
/* Milliseconds left until deadline, clamped to [0, INT32_MAX]; -1 for no deadline. */
int tes_tr_remaining(int64_t deadline);
/* Absolute CLOCK_MONOTONIC timespec for pthread_cond_timedwait. */
struct timespec tes_tr_abs_ms(int64_t deadline_ms);

/* ---- sockets (tcp.c) ---- */

/* Splits "host:port" / "[v6]:port" and resolves it (numeric host or "localhost"). */
struct addrinfo;
TES_MUST_CHECK tes_err tes_tr_resolve(const char *host_port, bool passive, struct addrinfo **out);
/* Connects a non-blocking, close-on-exec TCP socket with a timeout (TCP_NODELAY set). */
TES_MUST_CHECK tes_err tes_tr_tcp_dial(const char *host_port, int timeout_ms, int *fd_out);
/* Reads exactly n bytes (non-blocking fd, poll) before deadline. *got carries progress
 * across calls. TES_ERR_TIMEOUT, TES_ERR_TRANSPORT (closed or failed). */
TES_MUST_CHECK tes_err tes_tr_read_full(int fd, uint8_t *p, size_t n, size_t *got,
                                        int64_t deadline);
/* Writes all bytes before deadline (MSG_NOSIGNAL). */
TES_MUST_CHECK tes_err tes_tr_write_full(int fd, const uint8_t *p, size_t n, int64_t deadline);

/* ---- APDUs (apdu.c) ---- */

/* A parsed command APDU (ISO/IEC 7816-3 §12.1.3 / 7816-4 §5.1). `data` points into the
 * input. ne is the expected response length Ne (0 if Le absent; 1..256 short,
 * 1..65536 extended). */
typedef struct tes_apdu {
    uint8_t cla, ins, p1, p2;
    tes_bytes data;
    uint32_t ne;
    bool has_le;
    bool extended;
} tes_apdu;

/* Strict parse of cases 1, 2S, 3S, 4S, 2E, 3E, 4E. TES_ERR_APDU if the bytes are not
 * exactly one of these encodings (the card answers such input with 6700). */
TES_MUST_CHECK tes_err tes_apdu_parse(tes_bytes in, tes_apdu *out);
/* Encodes a command APDU; extended forms are used when data > 255 or ne > 256 (or when
 * force_extended). ne 0 = no Le. */
void tes_apdu_build(tes_buf *out, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, tes_bytes data,
                    uint32_t ne, bool force_extended);

/* BER-TLV data object 53 (ISO 18013-5 §8.3.3.1.2: the message inside ENVELOPE /
 * its response). */
void tes_do53_wrap(tes_buf *out, tes_bytes msg);
/* Exactly one DO 53 spanning the whole input; *msg points inside it. TES_ERR_APDU. */
TES_MUST_CHECK tes_err tes_do53_unwrap(tes_bytes in, tes_bytes *msg);

#define TES_AID_NDEF "\xD2\x76\x00\x00\x85\x01\x01"
#define TES_AID_MDOC "\xA0\x00\x00\x02\x48\x04\x00"

/* Card hooks used by the vpcd pump. */
/* How long the card waits, inside the last ENVELOPE of a chain, for the holder's response;
 * `stop` (may be NULL) is polled while waiting. Default 10 s. */
void tes_apdu_card_set_wait(tes_apdu_card *c, int wait_ms, volatile int *stop);
/* Caps the data of every response APDU (the link's frame limit; vpcd frames carry at most
 * 65535 bytes, so 65533 bytes of data). Longer answers continue with 61XX / GET RESPONSE. */
void tes_apdu_card_set_max_response(tes_apdu_card *c, uint32_t max_data);
/* Power off / reset: deselects and forgets chained input and pending response. */
void tes_apdu_card_reset(tes_apdu_card *c);
/* The link to the reader went up (false: link gone, the holder's recv then fails once
 * its queue is empty). */
void tes_apdu_card_set_link(tes_apdu_card *c, bool up);
/* True once the holder closed its transport and nothing remains to be fetched. */
bool tes_apdu_card_finished(tes_apdu_card *c);

#endif
