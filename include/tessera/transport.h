/*
 * tessera/transport.h — moving session messages between reader and holder.
 *
 * A transport carries whole messages (SessionEstablishment, SessionData):
 *   - memory: two linked ends in one process (tests, benchmarks);
 *   - tcp: 4-byte big-endian length + message, for development and tests;
 *   - nfc: ISO 18013-5 §8.3.3.1.2 NFC data retrieval. The reader side is a
 *     real PC/SC client (pcsclite -> pcscd): it selects the NDEF application
 *     and reads the Handover Select (static handover) from the NDEF file,
 *     then SELECTs the mdoc AID A0000002480400 and exchanges messages with
 *     ENVELOPE (INS C3, command chaining, extended length) and GET RESPONSE
 *     (INS C0). The holder side plays the card through vsmartcard's vpcd
 *     (TCP to 127.0.0.1:35963 by default; TCP_QUICKACK before each read) or,
 *     on a phone, through whatever delivers APDUs: the card logic itself is
 *     tes_apdu_card, independent of the link.
 * Every receive is bounded (max message size) and has a timeout.
 */
#ifndef TESSERA_TRANSPORT_H
#define TESSERA_TRANSPORT_H

#include "tessera/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TES_TRANSPORT_MAX_MESSAGE (1u << 20) /* 1 MiB */

typedef struct tes_transport tes_transport;

typedef struct tes_transport_ops {
    size_t size; /* sizeof(struct tes_transport_ops) */
    const char *name;
    /* Sends one whole message. */
    tes_err (*send)(tes_transport *t, tes_bytes msg);
    /* Receives one whole message into out (appended), waiting at most
     * timeout_ms. TES_ERR_TIMEOUT, TES_ERR_TRANSPORT (peer gone),
     * TES_ERR_SESSION_MESSAGE (larger than TES_TRANSPORT_MAX_MESSAGE). */
    tes_err (*recv)(tes_transport *t, tes_buf *out, int timeout_ms);
    void (*close)(tes_transport *t);
} tes_transport_ops;

struct tes_transport {
    const tes_transport_ops *ops;
};

static inline tes_err tes_transport_send(tes_transport *t, tes_bytes msg)
{
    return t->ops->send(t, msg);
}
static inline tes_err tes_transport_recv(tes_transport *t, tes_buf *out, int timeout_ms)
{
    return t->ops->recv(t, out, timeout_ms);
}
void tes_transport_close(tes_transport *t);

/* Two connected in-memory ends (each end must be closed). */
TES_MUST_CHECK tes_err tes_transport_memory_pair(tes_transport **a, tes_transport **b);

/* TCP. listen binds host:port ("127.0.0.1:0" picks a port; *port_out gets
 * it) and accept waits for one peer; connect dials. */
typedef struct tes_tcp_listener tes_tcp_listener;
TES_MUST_CHECK tes_err tes_tcp_listen(const char *host_port, tes_tcp_listener **out,
                                      int *port_out);
TES_MUST_CHECK tes_err tes_tcp_accept(tes_tcp_listener *l, int timeout_ms, tes_transport **out);
void tes_tcp_listener_free(tes_tcp_listener *l);
TES_MUST_CHECK tes_err tes_tcp_connect(const char *host_port, int timeout_ms, tes_transport **out);

/* ---- NFC ---- */

/* Card side logic (holder): an APDU processor for the NDEF tag application
 * (Type 4 Tag: SELECT D2760000850101, SELECT E103 capability container and
 * E104 NDEF file, READ BINARY) serving `ndef` (the Handover Select), and the
 * mdoc application (SELECT A0000002480400, ENVELOPE with chaining, GET
 * RESPONSE). Messages the reader sends arrive through the transport
 * interface (recv); messages the holder sends are returned in the responses.
 * Wrong commands get proper status words (6D00 INS, 6E00 CLA, 6A82 not
 * found, 6700 length, 6985 conditions/sequence, 6A86 P1-P2). */
typedef struct tes_apdu_card tes_apdu_card;
TES_MUST_CHECK tes_err tes_apdu_card_new(tes_bytes ndef, tes_apdu_card **out);
/* Processes one command APDU, appends the response APDU (data || SW1 SW2). */
TES_MUST_CHECK tes_err tes_apdu_card_process(tes_apdu_card *c, tes_bytes command, tes_buf *response);
/* The card as a transport for the holder's session (send = queue the
 * response message; recv = wait for a complete ENVELOPE message). The card
 * must be driven by a pump (tes_vpcd_run or a test loop) in another thread. */
tes_transport *tes_apdu_card_transport(tes_apdu_card *c);
void tes_apdu_card_free(tes_apdu_card *c);

/* Holder: connects the card to vpcd (host:port, default "127.0.0.1:35963")
 * and serves APDUs until the reader is done, the card is removed, stop is
 * set, or timeout_ms passes without traffic. Runs in the caller's thread. */
TES_MUST_CHECK tes_err tes_vpcd_run(tes_apdu_card *c, const char *host_port, int timeout_ms,
                                    volatile int *stop);

/* Reader: waits (timeout_ms) for a card in a PC/SC reader (the first one
 * whose name contains `reader_match`, NULL: any), reads the Handover Select
 * (NDEF), selects the mdoc application, and returns a transport speaking
 * ENVELOPE/GET RESPONSE. *ndef receives the exact Handover Select bytes.
 * Errors: TES_ERR_PCSC (no pcscd, no reader, no card), TES_ERR_APDU
 * (unexpected status words), TES_ERR_TIMEOUT. */
TES_MUST_CHECK tes_err tes_pcsc_connect(const char *reader_match, int timeout_ms, tes_buf *ndef,
                                        tes_transport **out);

/* ---- cards of any application (door keys: access.h) ---- */

/* A card: any processor of command APDUs (the mdoc card above, the door-key
 * applets, or a dispatcher between them). process appends the response APDU
 * (data || SW1 SW2); reset is the field going off (optional); finished, when
 * given, ends the serving loop once it returns true. ctx is borrowed. */
typedef struct tes_card {
    tes_err (*process)(void *ctx, tes_bytes command, tes_buf *response);
    void (*reset)(void *ctx);
    bool (*finished)(void *ctx);
    void *ctx;
    /* Once finished, stay in the field until the reader powers the card down,
     * at most this long (ms; 0: leave at once). A phone taken away only after
     * the reader let go lets pcscd see a clean removal, so that the next card
     * on the same slot is noticed. */
    int linger_ms;
} tes_card;

/* Serves `card` through vpcd as tes_vpcd_run does (the same link handling,
 * timeouts and stop). A process() error drops the link. */
TES_MUST_CHECK tes_err tes_vpcd_serve(const tes_card *card, const char *host_port, int timeout_ms,
                                      volatile int *stop);

/* Reader: the card in the first PC/SC reader whose name contains
 * reader_match (NULL: any), connected exclusively with nothing selected,
 * waiting at most timeout_ms for it. Errors: TES_ERR_PCSC, TES_ERR_TIMEOUT. */
typedef struct tes_pcsc_card tes_pcsc_card;
TES_MUST_CHECK tes_err tes_pcsc_card_connect(const char *reader_match, int timeout_ms,
                                             tes_pcsc_card **out);
/* Sends one command APDU and appends the response (data || SW1 SW2). The
 * signature fits access.h's tes_apdu_transmit_fn (card is a tes_pcsc_card).
 * Errors: TES_ERR_PCSC (the card left), TES_ERR_APDU (no status word). */
TES_MUST_CHECK tes_err tes_pcsc_card_transmit(void *card, tes_bytes command, tes_buf *response);
/* Waits until the card has left the reader (TES_ERR_TIMEOUT otherwise). */
TES_MUST_CHECK tes_err tes_pcsc_card_wait_removed(tes_pcsc_card *c, int timeout_ms);
void tes_pcsc_card_free(tes_pcsc_card *c);

#ifdef __cplusplus
}
#endif
#endif
