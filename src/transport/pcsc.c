/*
 * The reader's side of NFC: a PC/SC client (pcsclite -> pcscd -> any reader driver, vpcd
 * in tests). Reads the Handover Select from the Type 4 Tag NDEF application and then
 * speaks the mdoc data-transfer protocol of ISO/IEC 18013-5 §8.3.3.1.2 (see apdu.c for
 * the exact exchange).
 *
 * Sizes: the card's CC file gives MLe / MLc (max R-APDU / C-APDU data). Extended length
 * is used when these exceed the short limits; if the first extended command fails (the
 * reader or card refuses it: transmission error or 6700), the reader falls back to short
 * APDUs for the rest of the session.
 *
 * send transmits the whole message and returns when the card has answered the last
 * ENVELOPE, i.e. when the holder has produced its answer (so a message is always
 * delivered, even one the holder does not answer, like a session termination); recv then
 * collects the rest of the answer with GET RESPONSE.
 *
 * Timeouts: waiting for the card uses SCardGetStatusChange with the caller's timeout;
 * recv checks its deadline between APDUs. A single SCardTransmit cannot be interrupted:
 * the wait inside the last ENVELOPE is bounded by the card (tes_vpcd_run's timeout, or a
 * phone's NFC stack); a card that vanishes makes it fail at once (TES_ERR_PCSC).
 */
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#include <PCSC/pcsclite.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport_internal.h"

#define PCSC_MAX_RAPDU (65536 + 2)

typedef struct pcsc_conn {
    tes_transport base;
    SCARDCONTEXT ctx;
    SCARDHANDLE card;
    const SCARD_IO_REQUEST *pci;
    bool extended;     /* extended-length APDUs work */
    uint32_t max_cmd;  /* max command data field */
    uint32_t max_resp; /* max Le */
    tes_buf first;     /* answer data returned with the last ENVELOPE */
    uint16_t first_sw;
    bool pending;  /* an answer awaits recv */
    uint8_t *rbuf; /* PCSC_MAX_RAPDU bytes */
} pcsc_conn;

static tes_err pcsc_fail(LONG rv, const char *what)
{
    return tes_err_set(TES_ERR_PCSC, "PC/SC %s: %s (0x%08lX)", what, pcsc_stringify_error(rv),
                       (unsigned long)rv);
}

/* Transmits one APDU; *resp points to the data, *sw gets the status word. */
static tes_err xmit(pcsc_conn *c, tes_bytes apdu, tes_bytes *resp, uint16_t *sw, const char *what)
{
    DWORD rlen = PCSC_MAX_RAPDU;
    LONG rv = SCardTransmit(c->card, c->pci, apdu.ptr, (DWORD)apdu.len, NULL, c->rbuf, &rlen);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_fail(rv, what);
    if (rlen == 0) /* vpcd: the card went away during the command */
        return tes_err_set(TES_ERR_PCSC, "PC/SC %s: no response from the card (removed?)", what);
    if (rlen < 2)
        return tes_err_set(TES_ERR_APDU, "%s: response of %lu bytes has no status word", what,
                           (unsigned long)rlen);
    *sw = (uint16_t)(c->rbuf[rlen - 2] << 8 | c->rbuf[rlen - 1]);
    *resp = TES_BYTES(c->rbuf, rlen - 2);
    return TES_OK;
}

static tes_err cmd_x(pcsc_conn *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, tes_bytes data,
                     uint32_t ne, bool force_ext, tes_bytes *resp, uint16_t *sw, const char *what)
{
    tes_buf a = {0};
    tes_apdu_build(&a, cla, ins, p1, p2, data, ne, force_ext);
    if (a.failed) {
        tes_buf_free(&a);
        return tes_err_set(TES_ERR_NOMEM, "pcsc: out of memory");
    }
    tes_err err = xmit(c, tes_buf_bytes(&a), resp, sw, what);
    tes_buf_free(&a);
    return err;
}

static tes_err cmd(pcsc_conn *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, tes_bytes data,
                   uint32_t ne, tes_bytes *resp, uint16_t *sw, const char *what)
{
    return cmd_x(c, cla, ins, p1, p2, data, ne, false, resp, sw, what);
}

static tes_err expect_9000(tes_err err, uint16_t sw, const char *what)
{
    if (err)
        return err;
    if (sw != 0x9000)
        return tes_err_set(TES_ERR_APDU, "%s: card answered SW %04X", what, sw);
    return TES_OK;
}

/* ---------------------------------------------------------------- transport */

/* Sends the whole message: chained ENVELOPEs, then the last one, whose response carries
 * the beginning of the mdoc's answer (the card holds that command until the holder has
 * answered). That first part is kept for recv. */
static tes_err pcsc_send(tes_transport *t, tes_bytes msg)
{
    pcsc_conn *c = (pcsc_conn *)t;
    if (msg.len > TES_TRANSPORT_MAX_MESSAGE)
        return tes_err_set(TES_ERR_SESSION_MESSAGE, "nfc: message of %zu bytes exceeds %u", msg.len,
                           TES_TRANSPORT_MAX_MESSAGE);
    if (c->pending)
        return tes_err_set(TES_ERR_STATE, "nfc: receive the mdoc's answer before sending again");
    tes_buf w = {0};
    tes_do53_wrap(&w, msg);
    if (w.failed) {
        tes_buf_free(&w);
        return tes_err_set(TES_ERR_NOMEM, "nfc: out of memory");
    }
    tes_err err = TES_OK;
    size_t off = 0;
    tes_bytes r;
    uint16_t sw = 0;
    while (w.len - off > c->max_cmd) { /* chained ENVELOPEs: CLA 10, no Le */
        err = cmd(c, 0x10, 0xC3, 0, 0, TES_BYTES(w.ptr + off, c->max_cmd), 0, &r, &sw, "ENVELOPE");
        err = expect_9000(err, sw, "ENVELOPE (chained)");
        if (err)
            break;
        off += c->max_cmd;
    }
    if (!err) /* the last one: CLA 00, Le = our maximum */
        err = cmd(c, 0x00, 0xC3, 0, 0, TES_BYTES(w.ptr + off, w.len - off), c->max_resp, &r, &sw,
                  "ENVELOPE");
    tes_buf_free(&w);
    if (err)
        return err;
    tes_buf_reset(&c->first);
    tes_buf_append(&c->first, r.ptr, r.len);
    if (c->first.failed)
        return tes_err_set(TES_ERR_NOMEM, "nfc: out of memory");
    c->first_sw = sw;
    c->pending = true;
    return TES_OK;
}

/* Collects the answer: the part returned with the last ENVELOPE, then GET RESPONSE while
 * the card says 61XX (Le = XX, or our maximum for 6100). */
static tes_err pcsc_recv(tes_transport *t, tes_buf *out, int timeout_ms)
{
    pcsc_conn *c = (pcsc_conn *)t;
    if (!c->pending)
        return tes_err_set(TES_ERR_STATE, "nfc: the mdoc only answers messages (send first)");
    c->pending = false;
    int64_t deadline = tes_tr_deadline(timeout_ms);
    tes_buf acc = {0};
    tes_bytes r = tes_buf_bytes(&c->first);
    uint16_t sw = c->first_sw;
    tes_err err = TES_OK;
    for (int n = 0;; n++) {
        if (sw != 0x9000 && (sw & 0xFF00) != 0x6100) {
            err = tes_err_set(TES_ERR_APDU, "nfc: card answered SW %04X to %s", sw,
                              n ? "GET RESPONSE" : "ENVELOPE");
            break;
        }
        if (r.len > TES_TRANSPORT_MAX_MESSAGE + 5 - acc.len) {
            err = tes_err_set(TES_ERR_SESSION_MESSAGE, "nfc: the mdoc's answer exceeds %u bytes",
                              TES_TRANSPORT_MAX_MESSAGE);
            break;
        }
        tes_buf_append(&acc, r.ptr, r.len);
        if (sw == 0x9000)
            break;
        if (tes_tr_remaining(deadline) == 0) {
            err = tes_err_set(TES_ERR_TIMEOUT, "nfc: answer not complete within %d ms (%zu bytes)",
                              timeout_ms, acc.len);
            break;
        }
        uint32_t le = (sw & 0xFF) ? (sw & 0xFF) : c->max_resp;
        err = cmd(c, 0x00, 0xC0, 0, 0, TES_BYTES(NULL, 0), le, &r, &sw, "GET RESPONSE");
        if (err)
            break;
    }
    tes_buf_reset(&c->first);
    if (!err && acc.failed)
        err = tes_err_set(TES_ERR_NOMEM, "nfc: out of memory");
    if (!err && acc.len == 0)
        err = tes_err_set(TES_ERR_TRANSPORT, "nfc: the mdoc ended the session without an answer");
    if (!err) {
        tes_bytes msg;
        err = tes_do53_unwrap(tes_buf_bytes(&acc), &msg);
        if (err)
            err = tes_err_set(TES_ERR_SESSION_MESSAGE, "nfc: %s", tes_err_message());
        else {
            tes_buf_append(out, msg.ptr, msg.len);
            if (out->failed)
                err = tes_err_set(TES_ERR_NOMEM, "nfc: out of memory");
        }
    }
    tes_buf_free(&acc);
    return err;
}

static void pcsc_close(tes_transport *t)
{
    pcsc_conn *c = (pcsc_conn *)t;
    if (c->card)
        SCardDisconnect(c->card, SCARD_LEAVE_CARD);
    if (c->ctx)
        SCardReleaseContext(c->ctx);
    tes_buf_free(&c->first);
    free(c->rbuf);
    free(c);
}

static const tes_transport_ops pcsc_ops = {
    .size = sizeof(tes_transport_ops),
    .name = "nfc-pcsc",
    .send = pcsc_send,
    .recv = pcsc_recv,
    .close = pcsc_close,
};

/* ---------------------------------------------------------------- connect */

/* Finds a reader (name containing match) with a card, waiting until deadline. */
static tes_err wait_card(pcsc_conn *c, const char *match, int64_t deadline, char *name,
                         size_t name_size)
{
    for (;;) {
        DWORD len = SCARD_AUTOALLOCATE;
        LPSTR list = NULL;
        LONG rv = SCardListReaders(c->ctx, NULL, (LPSTR)&list, &len);
        if (rv == SCARD_S_SUCCESS) {
            SCARD_READERSTATE st[16];
            int n = 0;
            for (char *r = list; *r && n < 16; r += strlen(r) + 1) {
                if (match && !strstr(r, match))
                    continue;
                st[n++] = (SCARD_READERSTATE){.szReader = r, .dwCurrentState = SCARD_STATE_UNAWARE};
            }
            if (n > 0) {
                /* first call returns the current state at once, later ones wait */
                for (;;) {
                    rv = SCardGetStatusChange(c->ctx, 0, st, (DWORD)n);
                    if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
                        break;
                    for (int i = 0; i < n; i++) {
                        if ((st[i].dwEventState & SCARD_STATE_PRESENT) &&
                            !(st[i].dwEventState & SCARD_STATE_MUTE)) {
                            snprintf(name, name_size, "%s", st[i].szReader);
                            SCardFreeMemory(c->ctx, list);
                            return TES_OK;
                        }
                        st[i].dwCurrentState = st[i].dwEventState;
                    }
                    int left = tes_tr_remaining(deadline);
                    if (left == 0) {
                        SCardFreeMemory(c->ctx, list);
                        return tes_err_set(TES_ERR_TIMEOUT, "PC/SC: no card presented in time");
                    }
                    rv = SCardGetStatusChange(c->ctx, left < 0 ? INFINITE : (DWORD)left, st,
                                              (DWORD)n);
                    if (rv == SCARD_E_TIMEOUT) {
                        SCardFreeMemory(c->ctx, list);
                        return tes_err_set(TES_ERR_TIMEOUT, "PC/SC: no card presented in time");
                    }
                    if (rv != SCARD_S_SUCCESS)
                        break;
                    for (int i = 0; i < n; i++)
                        st[i].dwCurrentState = st[i].dwEventState;
                    /* loop re-reads the states */
                }
                SCardFreeMemory(c->ctx, list);
                if (rv != SCARD_E_UNKNOWN_READER && rv != SCARD_E_READER_UNAVAILABLE)
                    return pcsc_fail(rv, "waiting for a card");
            } else {
                SCardFreeMemory(c->ctx, list);
                if (match && tes_tr_remaining(deadline) == 0)
                    return tes_err_set(TES_ERR_PCSC, "PC/SC: no reader matches \"%s\"", match);
            }
        } else if (rv != SCARD_E_NO_READERS_AVAILABLE) {
            return pcsc_fail(rv, "listing readers");
        }
        if (tes_tr_remaining(deadline) == 0)
            return rv == SCARD_E_NO_READERS_AVAILABLE
                       ? pcsc_fail(rv, "listing readers")
                       : tes_err_set(TES_ERR_TIMEOUT, "PC/SC: no card in time");
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* READ BINARY of n bytes at off into out, in pieces of at most c->max_resp. */
static tes_err read_binary(pcsc_conn *c, size_t off, size_t n, tes_buf *out)
{
    while (n > 0) {
        uint32_t want = n < c->max_resp ? (uint32_t)n : c->max_resp;
        tes_bytes r = {0};
        uint16_t sw = 0;
        tes_err err = cmd(c, 0x00, 0xB0, (uint8_t)(off >> 8), (uint8_t)off, TES_BYTES(NULL, 0),
                          want, &r, &sw, "READ BINARY");
        err = expect_9000(err, sw, "READ BINARY");
        if (err)
            return err;
        if (r.len == 0 || r.len > want)
            return tes_err_set(TES_ERR_APDU, "READ BINARY: %zu bytes for %u asked", r.len, want);
        tes_buf_append(out, r.ptr, r.len);
        off += r.len;
        n -= r.len;
        if (off > 0x7FFF + 0xFFFFu)
            return tes_err_set(TES_ERR_APDU, "READ BINARY: offset out of range");
    }
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "pcsc: out of memory") : TES_OK;
}

static tes_err read_ndef(pcsc_conn *c, tes_buf *ndef)
{
    tes_bytes r = {0};
    uint16_t sw = 0;
    tes_err err = cmd(c, 0x00, 0xA4, 0x04, 0x00, TES_BYTES(TES_AID_NDEF, 7), 256, &r, &sw,
                      "SELECT NDEF application");
    if ((err = expect_9000(err, sw, "SELECT NDEF application")))
        return err;
    static const uint8_t cc_id[2] = {0xE1, 0x03};
    err = cmd(c, 0x00, 0xA4, 0x00, 0x0C, TES_BYTES(cc_id, 2), 0, &r, &sw, "SELECT CC");
    if ((err = expect_9000(err, sw, "SELECT capability container")))
        return err;
    c->max_resp = 256;
    tes_buf cc = {0};
    err = read_binary(c, 0, 15, &cc);
    if (!err &&
        (cc.len < 15 || (cc.ptr[0] << 8 | cc.ptr[1]) < 15 || cc.ptr[7] != 0x04 || cc.ptr[8] < 6))
        err = tes_err_set(TES_ERR_HANDOVER, "capability container malformed");
    if (err) {
        tes_buf_free(&cc);
        return err;
    }
    uint32_t mle = (uint32_t)cc.ptr[3] << 8 | cc.ptr[4];
    uint32_t mlc = (uint32_t)cc.ptr[5] << 8 | cc.ptr[6];
    uint8_t fid[2] = {cc.ptr[9], cc.ptr[10]};
    uint32_t max_file = (uint32_t)cc.ptr[11] << 8 | cc.ptr[12];
    uint8_t read_access = cc.ptr[13];
    tes_buf_free(&cc);
    if (mle < 0x0F || mlc < 1)
        return tes_err_set(TES_ERR_HANDOVER, "capability container: MLe %u / MLc %u invalid", mle,
                           mlc);
    if (read_access != 0x00)
        return tes_err_set(TES_ERR_HANDOVER, "NDEF file not readable (access %02X)", read_access);
    /* sizes for everything that follows */
    c->extended = mle > 256 || mlc > 255;
    c->max_resp = mle;
    c->max_cmd = mlc;
    if (c->max_cmd > 0xFFFF - 16)
        c->max_cmd = 0xFFFF - 16; /* keep C-APDUs within pcsclite's extended buffer */

    err = cmd(c, 0x00, 0xA4, 0x00, 0x0C, TES_BYTES(fid, 2), 0, &r, &sw, "SELECT NDEF file");
    if ((err = expect_9000(err, sw, "SELECT NDEF file")))
        return err;
    /* NLEN, with an extended-length READ BINARY if the card announced large sizes: this
     * probes whether the reader and the card really take extended APDUs */
    uint8_t nl[2];
    err = cmd_x(c, 0x00, 0xB0, 0, 0, TES_BYTES(NULL, 0), 2, c->extended, &r, &sw, "READ BINARY");
    if (c->extended && (err == TES_ERR_PCSC || (!err && sw == 0x6700))) {
        c->extended = false; /* fall back to short APDUs for the whole session */
        c->max_resp = c->max_resp > 256 ? 256 : c->max_resp;
        c->max_cmd = c->max_cmd > 255 ? 255 : c->max_cmd;
        err = cmd(c, 0x00, 0xB0, 0, 0, TES_BYTES(NULL, 0), 2, &r, &sw, "READ BINARY");
    }
    if ((err = expect_9000(err, sw, "READ BINARY (NLEN)")))
        return err;
    if (r.len != 2)
        return tes_err_set(TES_ERR_APDU, "READ BINARY (NLEN): %zu bytes", r.len);
    nl[0] = r.ptr[0];
    nl[1] = r.ptr[1];
    size_t n = (size_t)nl[0] << 8 | nl[1];
    if (n == 0 || n + 2 > max_file)
        return tes_err_set(TES_ERR_HANDOVER, "NDEF file: NLEN %zu invalid (max file %u)", n,
                           max_file);
    size_t before = ndef->len;
    err = read_binary(c, 2, n, ndef);
    if (err)
        ndef->len = before;
    return err;
}

/* A new connection with its context (nothing connected yet). */
static tes_err conn_new(pcsc_conn **out)
{
    pcsc_conn *c = calloc(1, sizeof *c);
    uint8_t *rbuf = malloc(PCSC_MAX_RAPDU);
    if (!c || !rbuf) {
        free(c);
        free(rbuf);
        return tes_err_set(TES_ERR_NOMEM, "pcsc: out of memory");
    }
    c->base.ops = &pcsc_ops;
    c->rbuf = rbuf;
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx);
    if (rv != SCARD_S_SUCCESS) {
        c->ctx = 0;
        pcsc_close(&c->base);
        return pcsc_fail(rv, "connecting to pcscd");
    }
    *out = c;
    return TES_OK;
}

/* Connects to the card of the first matching reader, then runs setup (may be NULL) on it.
 * A card that was just replaced may still look present to pcscd (stale state of the
 * previous one): if connecting or the first exchanges fail at the PC/SC level, start over
 * while time remains. */
static tes_err conn_card(pcsc_conn *c, const char *match, int64_t deadline,
                         tes_err (*setup)(pcsc_conn *c, void *arg), void *arg)
{
    for (;;) {
        char name[256];
        tes_err err = wait_card(c, match, deadline, name, sizeof name);
        if (err)
            return err;
        DWORD proto = 0;
        LONG rv = SCardConnect(c->ctx, name, SCARD_SHARE_EXCLUSIVE,
                               SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &c->card, &proto);
        if (rv == SCARD_S_SUCCESS) {
            c->pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
            c->max_cmd = 255;
            c->max_resp = 256;
            err = setup ? setup(c, arg) : TES_OK;
            if (!err)
                return TES_OK;
            SCardDisconnect(c->card, SCARD_LEAVE_CARD);
            c->card = 0;
            if (err != TES_ERR_PCSC)
                return err;
        } else {
            c->card = 0;
            err = pcsc_fail(rv, "connecting to the card");
            if (rv != SCARD_W_REMOVED_CARD && rv != SCARD_E_NO_SMARTCARD &&
                rv != SCARD_W_UNRESPONSIVE_CARD && rv != SCARD_W_UNPOWERED_CARD &&
                rv != SCARD_E_PROTO_MISMATCH && rv != SCARD_E_SHARING_VIOLATION)
                return err;
        }
        if (tes_tr_remaining(deadline) == 0)
            return err; /* the last PC/SC error */
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* The mdoc reader's setup: the Handover Select from the NDEF file, then SELECT mdoc. */
static tes_err mdoc_setup(pcsc_conn *c, void *arg)
{
    tes_buf *ndef = arg;
    size_t before = ndef->len;
    tes_err err = read_ndef(c, ndef);
    if (!err) {
        tes_bytes r;
        uint16_t sw;
        err = cmd(c, 0x00, 0xA4, 0x04, 0x0C, TES_BYTES(TES_AID_MDOC, 7), 0, &r, &sw,
                  "SELECT mdoc");
        err = expect_9000(err, sw, "SELECT mdoc application");
    }
    if (err)
        ndef->len = before;
    return err;
}

tes_err tes_pcsc_connect(const char *reader_match, int timeout_ms, tes_buf *ndef,
                         tes_transport **out)
{
    if (!ndef || !out)
        return tes_err_set(TES_ERR_ARG, "tes_pcsc_connect: NULL argument");
    *out = NULL;
    int64_t deadline = tes_tr_deadline(timeout_ms);
    pcsc_conn *c = NULL;
    tes_err err = conn_new(&c);
    if (!err)
        err = conn_card(c, reader_match, deadline, mdoc_setup, ndef);
    if (err) {
        if (c)
            pcsc_close(&c->base);
        return err;
    }
    *out = &c->base;
    return TES_OK;
}

/* ---------------------------------------------------------------- a raw card */

/* For applications that speak their own APDUs (door keys, access.h): the card in the
 * first matching reader, exclusively, with nothing selected. */
struct tes_pcsc_card {
    pcsc_conn c; /* first member: a tes_pcsc_card * is its pcsc_conn * */
};

tes_err tes_pcsc_card_connect(const char *reader_match, int timeout_ms, tes_pcsc_card **out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "tes_pcsc_card_connect: NULL argument");
    *out = NULL;
    int64_t deadline = tes_tr_deadline(timeout_ms);
    pcsc_conn *c = NULL;
    tes_err err = conn_new(&c);
    if (!err)
        err = conn_card(c, reader_match, deadline, NULL, NULL);
    if (err) {
        if (c)
            pcsc_close(&c->base);
        return err;
    }
    *out = (tes_pcsc_card *)c;
    return TES_OK;
}

tes_err tes_pcsc_card_transmit(void *card, tes_bytes command, tes_buf *response)
{
    tes_pcsc_card *k = card;
    if (!k || !response || !command.ptr)
        return tes_err_set(TES_ERR_ARG, "tes_pcsc_card_transmit: NULL argument");
    tes_bytes data;
    uint16_t sw;
    tes_err err = xmit(&k->c, command, &data, &sw, "transmit");
    if (err)
        return err;
    tes_buf_append(response, data.ptr, data.len + 2); /* data || SW1 SW2 */
    return response->failed ? tes_err_set(TES_ERR_NOMEM, "pcsc: out of memory") : TES_OK;
}

tes_err tes_pcsc_card_wait_removed(tes_pcsc_card *k, int timeout_ms)
{
    if (!k)
        return tes_err_set(TES_ERR_ARG, "tes_pcsc_card_wait_removed: NULL argument");
    char name[256];
    DWORD name_len = sizeof name, state = 0, proto = 0, atr_len = 0;
    LONG rv = SCardStatus(k->c.card, name, &name_len, &state, &proto, NULL, &atr_len);
    if (rv != SCARD_S_SUCCESS)
        return TES_OK; /* gone already */
    SCARD_READERSTATE st = {.szReader = name, .dwCurrentState = SCARD_STATE_UNAWARE};
    int64_t deadline = tes_tr_deadline(timeout_ms);
    for (;;) {
        rv = SCardGetStatusChange(k->c.ctx, 0, &st, 1);
        if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
            return pcsc_fail(rv, "waiting for the card to leave");
        if (!(st.dwEventState & SCARD_STATE_PRESENT))
            return TES_OK;
        st.dwCurrentState = st.dwEventState;
        int left = tes_tr_remaining(deadline);
        if (left == 0)
            return tes_err_set(TES_ERR_TIMEOUT, "PC/SC: the card stayed in the field");
        rv = SCardGetStatusChange(k->c.ctx, left < 0 || left > 200 ? 200 : (DWORD)left, &st, 1);
        if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
            return pcsc_fail(rv, "waiting for the card to leave");
        if (!(st.dwEventState & SCARD_STATE_PRESENT))
            return TES_OK;
        st.dwCurrentState = st.dwEventState;
    }
}

void tes_pcsc_card_free(tes_pcsc_card *k)
{
    if (k)
        pcsc_close(&k->c.base);
}
