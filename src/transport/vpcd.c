/*
 * The holder's card connected to vsmartcard's vpcd (the pcscd driver that listens for a
 * virtual card on 127.0.0.1:35963).
 *
 * vpcd protocol: each message is a 2-byte big-endian length and a payload. A payload of
 * one byte is a control code: 00 power off, 01 power on, 02 reset (no reply), 04 get ATR
 * (reply: the ATR). Any longer payload is a command APDU (reply: the response APDU).
 *
 * Debian 12's vpcd writes the length and the payload with two send() calls and has Nagle
 * on; if our side delays its ACK of the first segment, the second waits ~40-48 ms. So the
 * card sets TCP_NODELAY, re-arms TCP_QUICKACK before every read (Linux clears it again),
 * and writes each reply with a single send().
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/transport_internal.h"

/* T=1 contactless ATR (PC/SC part 3: ISO 14443-4 type A/B, no historical bytes of note). */
static const uint8_t card_atr[] = {0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00,
                                   0x03, 0x06, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68};

#define VPCD_DEFAULT "127.0.0.1:35963"
#define VPCD_SLICE_MS 50 /* how often the idle wait looks at the stop flag */
#define VPCD_IO_MS 5000  /* a started message must complete within this */

/* Test hook: TESSERA_VPCD_NO_QUICKACK=1 disables TCP_QUICKACK (to measure its effect). */
static bool quickack_enabled(void)
{
    const char *v = getenv("TESSERA_VPCD_NO_QUICKACK");
    return !(v && v[0] == '1');
}

static void quickack(int fd, bool on)
{
    if (!on)
        return;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

static tes_err send_frame(int fd, tes_bytes payload)
{
    if (payload.len > 0xFFFF)
        return tes_err_set(TES_ERR_APDU, "vpcd: response of %zu bytes too long", payload.len);
    tes_buf f = {0};
    uint8_t h[2] = {(uint8_t)(payload.len >> 8), (uint8_t)payload.len};
    tes_buf_append(&f, h, 2);
    tes_buf_append(&f, payload.ptr, payload.len);
    if (f.failed) {
        tes_buf_free(&f);
        return tes_err_set(TES_ERR_NOMEM, "vpcd: out of memory");
    }
    tes_err err = tes_tr_write_full(fd, f.ptr, f.len, tes_tr_deadline(VPCD_IO_MS));
    tes_buf_free(&f);
    return err;
}

static tes_err mdoc_card_process(void *ctx, tes_bytes command, tes_buf *response)
{
    return tes_apdu_card_process(ctx, command, response);
}
static void mdoc_card_reset(void *ctx) { tes_apdu_card_reset(ctx); }
static bool mdoc_card_finished(void *ctx) { return tes_apdu_card_finished(ctx); }

tes_err tes_vpcd_run(tes_apdu_card *c, const char *host_port, int timeout_ms, volatile int *stop)
{
    if (!c)
        return tes_err_set(TES_ERR_ARG, "tes_vpcd_run: NULL card");
    tes_apdu_card_reset(c);
    tes_apdu_card_set_max_response(c, 0xFFFF - 2); /* vpcd's 2-byte frame length */
    tes_apdu_card_set_wait(c, timeout_ms < 0 ? 10000 : timeout_ms, stop);
    tes_apdu_card_set_link(c, true);
    tes_card card = {mdoc_card_process, mdoc_card_reset, mdoc_card_finished, c, 0};
    tes_err err = tes_vpcd_serve(&card, host_port, timeout_ms, stop);
    tes_apdu_card_set_link(c, false);
    return err;
}

tes_err tes_vpcd_serve(const tes_card *c, const char *host_port, int timeout_ms,
                       volatile int *stop)
{
    if (!c || !c->process)
        return tes_err_set(TES_ERR_ARG, "tes_vpcd_serve: NULL card");
    const char *addr = host_port ? host_port : VPCD_DEFAULT;
    int fd;
    int dial_ms = timeout_ms < 0 || timeout_ms > 5000 ? 5000 : timeout_ms;
    tes_err err = tes_tr_tcp_dial(addr, dial_ms, &fd);
    if (err)
        return tes_err_set(err,
                           "vpcd: cannot reach pcscd's vpcd driver at %s (is pcscd running?): %s",
                           addr, tes_err_message());
    bool qa = quickack_enabled();
    if (c->reset)
        c->reset(c->ctx);

    tes_buf payload = {0}, resp = {0};
    int64_t idle_deadline = tes_tr_deadline(timeout_ms);
    bool lingered = false;
    err = TES_OK;
    for (;;) {
        if (stop && *stop)
            break;
        if (c->finished && c->finished(c->ctx)) {
            if (c->linger_ms <= 0 || lingered)
                break;
            lingered = true; /* wait for the power-off, within linger_ms */
            idle_deadline = tes_tr_deadline(c->linger_ms);
        }
        /* idle wait in slices, so that stop is noticed */
        quickack(fd, qa);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int slice = tes_tr_remaining(idle_deadline);
        if (slice < 0 || slice > VPCD_SLICE_MS)
            slice = VPCD_SLICE_MS;
        int rc = poll(&p, 1, slice);
        if (rc < 0 && errno != EINTR) {
            err = tes_err_set(TES_ERR_TRANSPORT, "vpcd: poll: %s", strerror(errno));
            break;
        }
        if (rc <= 0) {
            if (tes_tr_remaining(idle_deadline) == 0) {
                if (!lingered)
                    err = tes_err_set(TES_ERR_TIMEOUT,
                                      "vpcd: no command from the reader in %d ms", timeout_ms);
                break;
            }
            continue;
        }
        uint8_t h[2];
        size_t got = 0;
        int64_t io_deadline = tes_tr_deadline(VPCD_IO_MS);
        quickack(fd, qa);
        err = tes_tr_read_full(fd, h, 2, &got, io_deadline);
        if (err == TES_ERR_TRANSPORT && got == 0) { /* pcscd closed the link */
            err = TES_OK;
            break;
        }
        if (err)
            break;
        size_t len = (size_t)h[0] << 8 | h[1];
        tes_buf_reset(&payload);
        if (len && !tes_buf_extend(&payload, len)) {
            err = tes_err_set(TES_ERR_NOMEM, "vpcd: out of memory");
            break;
        }
        got = 0;
        quickack(fd, qa);
        err = tes_tr_read_full(fd, payload.ptr, len, &got, io_deadline);
        if (err)
            break;
        if (len != 1) /* a command; pcscd's own control frames do not keep the card alive */
            idle_deadline = tes_tr_deadline(timeout_ms);

        if (len == 1) {
            uint8_t ctl = payload.ptr[0];
            if (ctl == 0x00 || ctl == 0x02) { /* power off, reset */
                if (lingered)
                    break; /* the reader let go: leave the field */
                if (c->reset)
                    c->reset(c->ctx);
            } else if (ctl == 0x04) { /* get ATR */
                err = send_frame(fd, TES_BYTES(card_atr, sizeof card_atr));
                if (err)
                    break;
            } /* 0x01 power on, others: nothing to answer */
            continue;
        }
        tes_buf_reset(&resp);
        err = c->process(c->ctx, tes_buf_bytes(&payload), &resp);
        if (err) /* the holder did not answer in time, or stop: drop the link */
            break;
        err = send_frame(fd, tes_buf_bytes(&resp));
        if (err)
            break;
    }
    if (err == TES_ERR_TRANSPORT && stop && *stop)
        err = TES_OK; /* stopped while the card waited for the holder */
    close(fd);
    tes_buf_free(&payload);
    tes_buf_free(&resp);
    return err;
}
