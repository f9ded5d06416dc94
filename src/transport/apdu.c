/*
 * Command APDU encoding (ISO/IEC 7816-3 §12.1.3, 7816-4 §5.1), the DO 53 wrapper of
 * ISO/IEC 18013-5 §8.3.3.1.2, and the holder's card (tes_apdu_card): the NFC Forum Type 4
 * Tag NDEF application (T4T 2.0, read-only) serving the Handover Select, and the mdoc
 * data-transfer application.
 *
 * mdoc data transfer (18013-5 §8.3.3.1.2), as implemented here and by pcsc.c:
 *  - the reader SELECTs A0000002480400 (P1 04, P2 00 or 0C);
 *  - each message (SessionEstablishment / SessionData) travels as BER-TLV DO '53'
 *    (length in short or 81/82/83 long form) in the data fields of a chain of ENVELOPE
 *    commands (INS C3, P1P2 0000): CLA 10 for every command but the last, which has CLA 00;
 *    the chained commands have no Le and get 9000 with no data; the last carries Le;
 *  - the response to the last ENVELOPE is the mdoc's answer message, also wrapped in
 *    DO '53'. The card holds that command until the holder has produced the answer (on a
 *    phone the NFC stack sends waiting-time extensions; through vpcd the reader simply
 *    waits). The wrapped answer is returned Le bytes at a time: if it all fits, 9000; if
 *    Le < remaining <= Le + 255, '61 XX' with XX the bytes left; otherwise '61 00', and the
 *    reader continues with GET RESPONSE (INS C0, P1P2 0000) using Le = XX, or its maximum
 *    for '61 00', until 9000;
 *  - any other command ends a pending GET RESPONSE sequence.
 * There is no polling with empty ENVELOPEs: an ENVELOPE with no data is refused (6700).
 * If the holder closes its transport without answering, the last ENVELOPE gets 9000 and
 * no data: the reader takes that as the end of the session.
 *
 * Every input, however malformed, gets a response APDU: unparsable length encodings (and
 * inputs shorter than the 4-byte header) get 6700. tes_apdu_card_process fails only for
 * NULL arguments, out-of-memory, or when the holder's answer to a completed message does
 * not come in time (TES_ERR_TIMEOUT) or the pump is stopped (TES_ERR_TRANSPORT): the link
 * then drops, as a phone leaving the field would.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport_internal.h"

/* ---------------------------------------------------------------- APDU parse / build */

tes_err tes_apdu_parse(tes_bytes in, tes_apdu *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *p = in.ptr;
    size_t n = in.len;
    if (n < 4)
        return tes_err_set(TES_ERR_APDU, "APDU of %zu bytes is shorter than its header", n);
    out->cla = p[0];
    out->ins = p[1];
    out->p1 = p[2];
    out->p2 = p[3];
    out->data = TES_BYTES(p + 4, 0);
    if (n == 4) /* case 1 */
        return TES_OK;
    size_t body = n - 4;
    if (body == 1) { /* case 2S */
        out->has_le = true;
        out->ne = p[4] ? p[4] : 256;
        return TES_OK;
    }
    if (p[4] != 0) { /* case 3S / 4S */
        size_t lc = p[4];
        if (body == 1 + lc) {
            out->data = TES_BYTES(p + 5, lc);
            return TES_OK;
        }
        if (body == 2 + lc) {
            out->data = TES_BYTES(p + 5, lc);
            out->has_le = true;
            out->ne = p[n - 1] ? p[n - 1] : 256;
            return TES_OK;
        }
        return tes_err_set(TES_ERR_APDU, "APDU: Lc %zu does not match %zu body bytes", lc, body);
    }
    /* extended: first byte 00 */
    out->extended = true;
    if (body == 3) { /* case 2E */
        uint32_t le = (uint32_t)p[5] << 8 | p[6];
        out->has_le = true;
        out->ne = le ? le : 65536;
        return TES_OK;
    }
    if (body < 3)
        return tes_err_set(TES_ERR_APDU, "APDU: truncated extended length");
    size_t lc = (size_t)p[5] << 8 | p[6];
    if (lc == 0)
        return tes_err_set(TES_ERR_APDU, "APDU: extended Lc of 0");
    if (body == 3 + lc) { /* case 3E */
        out->data = TES_BYTES(p + 7, lc);
        return TES_OK;
    }
    if (body == 5 + lc) { /* case 4E */
        uint32_t le = (uint32_t)p[n - 2] << 8 | p[n - 1];
        out->data = TES_BYTES(p + 7, lc);
        out->has_le = true;
        out->ne = le ? le : 65536;
        return TES_OK;
    }
    return tes_err_set(TES_ERR_APDU, "APDU: extended Lc %zu does not match %zu body bytes", lc,
                       body);
}

void tes_apdu_build(tes_buf *out, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, tes_bytes data,
                    uint32_t ne, bool force_extended)
{
    uint8_t h[4] = {cla, ins, p1, p2};
    tes_buf_append(out, h, 4);
    bool ext = force_extended || data.len > 255 || ne > 256;
    if (data.len) {
        if (ext) {
            uint8_t lc[3] = {0, (uint8_t)(data.len >> 8), (uint8_t)data.len};
            tes_buf_append(out, lc, 3);
        } else {
            uint8_t lc = (uint8_t)data.len;
            tes_buf_append(out, &lc, 1);
        }
        tes_buf_append(out, data.ptr, data.len);
    }
    if (ne) {
        if (ext) {
            uint8_t le[3] = {0, (uint8_t)(ne >> 8), (uint8_t)ne}; /* 65536 -> 0000 */
            tes_buf_append(out, data.len ? le + 1 : le, data.len ? 2 : 3);
        } else {
            uint8_t le = (uint8_t)ne; /* 256 -> 00 */
            tes_buf_append(out, &le, 1);
        }
    }
}

void tes_do53_wrap(tes_buf *out, tes_bytes msg)
{
    uint8_t h[5] = {0x53};
    size_t hl;
    size_t n = msg.len;
    if (n < 0x80) {
        h[1] = (uint8_t)n;
        hl = 2;
    } else if (n < 0x100) {
        h[1] = 0x81;
        h[2] = (uint8_t)n;
        hl = 3;
    } else if (n < 0x10000) {
        h[1] = 0x82;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = 0x83;
        h[2] = (uint8_t)(n >> 16);
        h[3] = (uint8_t)(n >> 8);
        h[4] = (uint8_t)n;
        hl = 5;
    }
    tes_buf_append(out, h, hl);
    tes_buf_append(out, msg.ptr, msg.len);
}

tes_err tes_do53_unwrap(tes_bytes in, tes_bytes *msg)
{
    const uint8_t *p = in.ptr;
    if (in.len < 2 || p[0] != 0x53)
        return tes_err_set(TES_ERR_APDU, "mdoc message is not a DO '53'");
    size_t len, hl;
    if (p[1] < 0x80) {
        len = p[1];
        hl = 2;
    } else if (p[1] >= 0x81 && p[1] <= 0x83) {
        size_t k = p[1] - 0x80u;
        if (in.len < 2 + k)
            return tes_err_set(TES_ERR_APDU, "DO '53': truncated length");
        len = 0;
        for (size_t i = 0; i < k; i++)
            len = len << 8 | p[2 + i];
        hl = 2 + k;
    } else {
        return tes_err_set(TES_ERR_APDU, "DO '53': unsupported length byte %02X", p[1]);
    }
    if (in.len - hl != len)
        return tes_err_set(TES_ERR_APDU, "DO '53' says %zu bytes, %zu present", len, in.len - hl);
    *msg = TES_BYTES(p + hl, len);
    return TES_OK;
}

/* ---------------------------------------------------------------- the card */

enum { APP_NONE, APP_NDEF, APP_MDOC };
enum { FILE_NONE, FILE_CC, FILE_NDEF };

/* Largest wrapped message the card accepts in a chain (DO header + message). */
#define CARD_MAX_CHAIN (TES_TRANSPORT_MAX_MESSAGE + 5)
#define CARD_DEFAULT_WAIT_MS 10000

typedef struct card_msg {
    struct card_msg *next;
    size_t len;
    uint8_t data[];
} card_msg;

typedef struct card_transport {
    tes_transport base;
    tes_apdu_card *card;
} card_transport;

struct tes_apdu_card {
    /* T4T files (immutable after creation) */
    uint8_t cc[15];
    tes_buf ndef_file; /* NLEN || NDEF message */

    /* APDU state: only the pump thread touches these */
    int app, file;
    tes_buf chain; /* ENVELOPE data received so far */
    tes_buf resp;  /* wrapped answer being returned */
    size_t resp_off;
    bool resp_pending; /* GET RESPONSE allowed */

    /* shared with the holder's thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    card_msg *in_head, *in_tail;   /* reader -> holder */
    card_msg *out_head, *out_tail; /* holder -> reader */
    bool holder_closed;
    bool link_down;
    int wait_ms;
    volatile int *stop;
    uint32_t max_rdata; /* the link's limit on response data (vpcd: 65533) */

    card_transport tr;
};

static void msgq_push(card_msg **head, card_msg **tail, card_msg *m)
{
    m->next = NULL;
    if (*tail)
        (*tail)->next = m;
    else
        *head = m;
    *tail = m;
}

static card_msg *msgq_pop(card_msg **head, card_msg **tail)
{
    card_msg *m = *head;
    if (m) {
        *head = m->next;
        if (!*head)
            *tail = NULL;
    }
    return m;
}

static card_msg *msg_new(tes_bytes b)
{
    card_msg *m = malloc(sizeof *m + b.len);
    if (m) {
        m->next = NULL;
        m->len = b.len;
        if (b.len)
            memcpy(m->data, b.ptr, b.len);
    }
    return m;
}

static void sw(tes_buf *r, uint16_t w)
{
    uint8_t b[2] = {(uint8_t)(w >> 8), (uint8_t)w};
    tes_buf_append(r, b, 2);
}

/* Appends the next chunk of the pending answer for a command with expected length ne. */
static void emit_chunk(tes_apdu_card *c, uint32_t ne, tes_buf *r)
{
    size_t avail = c->resp.len - c->resp_off;
    if (ne > c->max_rdata)
        ne = c->max_rdata;
    size_t n = avail < ne ? avail : ne;
    tes_buf_append(r, c->resp.ptr + c->resp_off, n);
    c->resp_off += n;
    size_t left = avail - n;
    if (left == 0) {
        c->resp_pending = false;
        tes_buf_reset(&c->resp);
        c->resp_off = 0;
        sw(r, 0x9000);
    } else {
        sw(r, left <= 255 ? (uint16_t)(0x6100 | left) : 0x6100);
    }
}

static void end_response(tes_apdu_card *c)
{
    c->resp_pending = false;
    tes_buf_reset(&c->resp);
    c->resp_off = 0;
}

static uint16_t do_select(tes_apdu_card *c, const tes_apdu *a)
{
    if (a->p1 == 0x04) { /* by DF name */
        if (a->p2 != 0x00 && a->p2 != 0x0C)
            return 0x6A86;
        if (a->data.len == 0)
            return 0x6700;
        if (tes_bytes_eq(a->data, TES_BYTES(TES_AID_NDEF, 7))) {
            c->app = APP_NDEF;
            c->file = FILE_NONE;
            return 0x9000;
        }
        if (tes_bytes_eq(a->data, TES_BYTES(TES_AID_MDOC, 7))) {
            c->app = APP_MDOC;
            c->file = FILE_NONE;
            tes_buf_reset(&c->chain);
            return 0x9000;
        }
        return 0x6A82;
    }
    if (a->p1 == 0x00) { /* by file identifier (T4T: P2 0C, first or only, no FCI) */
        if (a->p2 != 0x0C && a->p2 != 0x00)
            return 0x6A86;
        if (a->data.len != 2)
            return 0x6700;
        if (c->app != APP_NDEF)
            return 0x6A82;
        uint16_t fid = (uint16_t)(a->data.ptr[0] << 8 | a->data.ptr[1]);
        if (fid == 0xE103) {
            c->file = FILE_CC;
            return 0x9000;
        }
        if (fid == 0xE104) {
            c->file = FILE_NDEF;
            return 0x9000;
        }
        return 0x6A82;
    }
    return 0x6A86;
}

static uint16_t do_read_binary(tes_apdu_card *c, const tes_apdu *a, tes_buf *r)
{
    if (a->p1 & 0x80) /* short EF identifier: not supported by T4T */
        return 0x6A86;
    if (a->data.len != 0 || !a->has_le)
        return 0x6700;
    if (c->app != APP_NDEF || c->file == FILE_NONE)
        return 0x6985;
    tes_bytes f =
        c->file == FILE_CC ? TES_BYTES(c->cc, sizeof c->cc) : tes_buf_bytes(&c->ndef_file);
    size_t off = (size_t)a->p1 << 8 | a->p2;
    if (off >= f.len)
        return 0x6B00;
    size_t ne = a->ne < c->max_rdata ? a->ne : c->max_rdata;
    size_t n = f.len - off < ne ? f.len - off : ne;
    tes_buf_append(r, f.ptr + off, n);
    return 0x9000;
}

/* Waits for the holder's answer and starts returning it. Called with the lock not held. */
static tes_err answer_message(tes_apdu_card *c, uint32_t ne, tes_buf *r)
{
    int64_t deadline = tes_tr_deadline(c->wait_ms);
    card_msg *m = NULL;
    bool closed = false;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        m = msgq_pop(&c->out_head, &c->out_tail);
        if (m)
            break;
        if (c->holder_closed) {
            closed = true;
            break;
        }
        if (c->stop && *c->stop) {
            pthread_mutex_unlock(&c->mu);
            return tes_err_set(TES_ERR_TRANSPORT, "card: stopped while waiting for the holder");
        }
        int64_t now = tes_tr_now_ms();
        if (now >= deadline) {
            pthread_mutex_unlock(&c->mu);
            return tes_err_set(TES_ERR_TIMEOUT, "card: the holder did not answer within %d ms",
                               c->wait_ms);
        }
        /* wake up now and then to look at the stop flag */
        int64_t until = deadline - now > 50 ? now + 50 : deadline;
        struct timespec ts = tes_tr_abs_ms(until);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    if (closed) { /* the holder ended the session without an answer */
        sw(r, 0x9000);
        return TES_OK;
    }
    end_response(c);
    tes_do53_wrap(&c->resp, TES_BYTES(m->data, m->len));
    free(m);
    if (c->resp.failed)
        return tes_err_set(TES_ERR_NOMEM, "card: out of memory");
    c->resp_pending = true;
    emit_chunk(c, ne, r);
    return TES_OK;
}

static tes_err do_envelope(tes_apdu_card *c, const tes_apdu *a, tes_buf *r, uint16_t *status)
{
    *status = 0;
    end_response(c); /* a new message ends any GET RESPONSE sequence */
    if (c->app != APP_MDOC) {
        *status = 0x6985;
        return TES_OK;
    }
    if (a->p1 != 0 || a->p2 != 0) {
        *status = 0x6A86;
        return TES_OK;
    }
    if (a->data.len == 0) {
        tes_buf_reset(&c->chain);
        *status = 0x6700;
        return TES_OK;
    }
    if (a->data.len > CARD_MAX_CHAIN - c->chain.len) {
        tes_buf_reset(&c->chain);
        *status = 0x6700;
        return TES_OK;
    }
    tes_buf_append(&c->chain, a->data.ptr, a->data.len);
    if (c->chain.failed) {
        tes_buf_free(&c->chain);
        return tes_err_set(TES_ERR_NOMEM, "card: out of memory");
    }
    if (a->cla & 0x10) { /* more to come */
        *status = 0x9000;
        return TES_OK;
    }
    tes_bytes msg;
    if (tes_do53_unwrap(tes_buf_bytes(&c->chain), &msg) != TES_OK) {
        tes_buf_reset(&c->chain);
        *status = 0x6A80; /* incorrect parameters in the data field */
        return TES_OK;
    }
    if (msg.len > TES_TRANSPORT_MAX_MESSAGE) {
        tes_buf_reset(&c->chain);
        *status = 0x6700;
        return TES_OK;
    }
    card_msg *m = msg_new(msg);
    tes_buf_reset(&c->chain);
    if (!m)
        return tes_err_set(TES_ERR_NOMEM, "card: out of memory");
    pthread_mutex_lock(&c->mu);
    msgq_push(&c->in_head, &c->in_tail, m);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    /* Le absent on the last ENVELOPE: answer in short chunks */
    return answer_message(c, a->has_le ? a->ne : 256, r);
}

tes_err tes_apdu_card_process(tes_apdu_card *c, tes_bytes command, tes_buf *response)
{
    if (!c || !response || (!command.ptr && command.len))
        return tes_err_set(TES_ERR_ARG, "tes_apdu_card_process: NULL argument");
    tes_apdu a;
    uint16_t status;
    size_t start = response->len;
    tes_err err = TES_OK;

    if (tes_apdu_parse(command, &a) != TES_OK) {
        status = 0x6700;
    } else if (a.cla != 0x00 && a.cla != 0x10) {
        status = 0x6E00;
    } else if (a.cla == 0x10 && a.ins != 0xC3) {
        status = 0x6884; /* command chaining not supported (only ENVELOPE chains) */
    } else {
        switch (a.ins) {
        case 0xA4:
            end_response(c);
            status = do_select(c, &a);
            break;
        case 0xB0:
            end_response(c);
            status = do_read_binary(c, &a, response);
            break;
        case 0xC3:
            err = do_envelope(c, &a, response, &status);
            break;
        case 0xC0:
            if (a.p1 != 0 || a.p2 != 0)
                status = 0x6A86;
            else if (a.data.len != 0 || !a.has_le)
                status = 0x6700;
            else if (c->app != APP_MDOC || !c->resp_pending)
                status = 0x6985;
            else {
                emit_chunk(c, a.ne, response);
                status = 0;
            }
            break;
        default:
            end_response(c);
            status = 0x6D00;
        }
    }
    if (err) {
        response->len = start;
        return err;
    }
    if (status)
        sw(response, status);
    if (response->failed)
        return tes_err_set(TES_ERR_NOMEM, "card: out of memory");
    return TES_OK;
}

/* ---------------------------------------------------------------- the card as transport */

static tes_err card_send(tes_transport *t, tes_bytes msg)
{
    tes_apdu_card *c = ((card_transport *)t)->card;
    if (msg.len > TES_TRANSPORT_MAX_MESSAGE)
        return tes_err_set(TES_ERR_SESSION_MESSAGE, "card: message of %zu bytes exceeds %u",
                           msg.len, TES_TRANSPORT_MAX_MESSAGE);
    card_msg *m = msg_new(msg);
    if (!m)
        return tes_err_set(TES_ERR_NOMEM, "card: out of memory");
    pthread_mutex_lock(&c->mu);
    if (c->holder_closed || c->link_down) {
        bool closed = c->holder_closed;
        pthread_mutex_unlock(&c->mu);
        free(m);
        return tes_err_set(closed ? TES_ERR_STATE : TES_ERR_TRANSPORT,
                           closed ? "card: transport already closed" : "card: the reader is gone");
    }
    msgq_push(&c->out_head, &c->out_tail, m);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return TES_OK;
}

static tes_err card_recv(tes_transport *t, tes_buf *out, int timeout_ms)
{
    tes_apdu_card *c = ((card_transport *)t)->card;
    int64_t deadline = tes_tr_deadline(timeout_ms);
    pthread_mutex_lock(&c->mu);
    card_msg *m;
    while (!(m = msgq_pop(&c->in_head, &c->in_tail))) {
        if (c->link_down || c->holder_closed) {
            pthread_mutex_unlock(&c->mu);
            return tes_err_set(TES_ERR_TRANSPORT, "card: the reader is gone");
        }
        if (deadline == INT64_MAX) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        if (tes_tr_now_ms() >= deadline) {
            pthread_mutex_unlock(&c->mu);
            return tes_err_set(TES_ERR_TIMEOUT, "card: no message from the reader within %d ms",
                               timeout_ms);
        }
        struct timespec ts = tes_tr_abs_ms(deadline);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    tes_buf_append(out, m->data, m->len);
    free(m);
    if (out->failed)
        return tes_err_set(TES_ERR_NOMEM, "card: out of memory");
    return TES_OK;
}

/* Closing the card's transport ends the holder's side of the session; the card itself
 * stays alive until tes_apdu_card_free. */
static void card_close(tes_transport *t)
{
    tes_apdu_card *c = ((card_transport *)t)->card;
    pthread_mutex_lock(&c->mu);
    c->holder_closed = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static const tes_transport_ops card_ops = {
    .size = sizeof(tes_transport_ops),
    .name = "nfc-card",
    .send = card_send,
    .recv = card_recv,
    .close = card_close,
};

tes_err tes_apdu_card_new(tes_bytes ndef, tes_apdu_card **out)
{
    if (!out || (!ndef.ptr && ndef.len))
        return tes_err_set(TES_ERR_ARG, "tes_apdu_card_new: NULL argument");
    *out = NULL;
    /* T4T 2.0: the NDEF file (NLEN + message) is at most FFFE bytes */
    if (ndef.len > 0xFFFE - 2)
        return tes_err_set(TES_ERR_ARG, "card: NDEF message of %zu bytes too large for a T4T",
                           ndef.len);
    tes_apdu_card *c = calloc(1, sizeof *c);
    if (!c)
        return tes_err_set(TES_ERR_NOMEM, "card: out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&c->mu, NULL) != 0 || pthread_cond_init(&c->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        free(c);
        return tes_err_set(TES_ERR_NOMEM, "card: cannot create mutex/condvar");
    }
    pthread_condattr_destroy(&ca);

    size_t file_len = 2 + ndef.len;
    size_t max_file = file_len < 5 ? 5 : file_len;
    const uint8_t cc[15] = {
        0x00,
        0x0F, /* CCLEN */
        0x20, /* mapping version 2.0 */
        0xFF,
        0xFF, /* MLe: max R-APDU data size */
        0xFF,
        0xFF, /* MLc: max C-APDU data size */
        0x04,
        0x06,
        0xE1,
        0x04, /* NDEF File Control TLV, file E104 */
        (uint8_t)(max_file >> 8),
        (uint8_t)max_file, /* max NDEF file size */
        0x00,              /* read access: granted */
        0xFF,              /* write access: none */
    };
    memcpy(c->cc, cc, sizeof cc);
    uint8_t nlen[2] = {(uint8_t)(ndef.len >> 8), (uint8_t)ndef.len};
    tes_buf_append(&c->ndef_file, nlen, 2);
    tes_buf_append(&c->ndef_file, ndef.ptr, ndef.len);
    if (c->ndef_file.failed) {
        tes_apdu_card_free(c);
        return tes_err_set(TES_ERR_NOMEM, "card: out of memory");
    }
    c->wait_ms = CARD_DEFAULT_WAIT_MS;
    c->max_rdata = 65536;
    c->tr.base.ops = &card_ops;
    c->tr.card = c;
    *out = c;
    return TES_OK;
}

tes_transport *tes_apdu_card_transport(tes_apdu_card *c)
{
    return c ? &c->tr.base : NULL;
}

void tes_apdu_card_free(tes_apdu_card *c)
{
    if (!c)
        return;
    card_msg *m;
    while ((m = msgq_pop(&c->in_head, &c->in_tail)))
        free(m);
    while ((m = msgq_pop(&c->out_head, &c->out_tail)))
        free(m);
    tes_buf_free(&c->ndef_file);
    tes_buf_free(&c->chain);
    tes_buf_free(&c->resp);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void tes_apdu_card_set_wait(tes_apdu_card *c, int wait_ms, volatile int *stop)
{
    pthread_mutex_lock(&c->mu);
    c->wait_ms = wait_ms;
    c->stop = stop;
    pthread_mutex_unlock(&c->mu);
}

void tes_apdu_card_set_max_response(tes_apdu_card *c, uint32_t max_data)
{
    c->max_rdata = max_data < 256 ? 256 : max_data > 65536 ? 65536 : max_data;
}

void tes_apdu_card_reset(tes_apdu_card *c)
{
    c->app = APP_NONE;
    c->file = FILE_NONE;
    tes_buf_reset(&c->chain);
    end_response(c);
}

void tes_apdu_card_set_link(tes_apdu_card *c, bool up)
{
    pthread_mutex_lock(&c->mu);
    c->link_down = !up;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

bool tes_apdu_card_finished(tes_apdu_card *c)
{
    pthread_mutex_lock(&c->mu);
    bool done = c->holder_closed && !c->out_head && !c->resp_pending;
    pthread_mutex_unlock(&c->mu);
    return done;
}
