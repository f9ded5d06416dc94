/*
 * libFuzzer target: the holder's APDU card (tes_apdu_card_process) and the APDU / DO 53
 * codecs behind it.
 *
 * Input: byte 0 selects the holder's queued answers and the link's response cap; the rest
 * is a sequence of command APDUs, each as a 2-byte big-endian length + bytes (a length
 * running past the end takes what is left). Every APDU goes to one fresh card (T4T NDEF
 * application with a small Handover Select, mdoc application). The holder's answers are
 * queued up front, and the card does not wait for more (wait 0), so a completed ENVELOPE
 * message is answered at once or fails with TES_ERR_TIMEOUT, as on a real link.
 *
 * Checked: every processed APDU yields a response of at least a status word and at most
 * 65536 + 2 bytes, with no data unless SW is 9000 or 61XX; the response data never exceeds
 * Ne (256 for a last ENVELOPE without Le) or the cap; messages the holder receives are within
 * TES_TRANSPORT_MAX_MESSAGE; an APDU that parses re-encodes (tes_apdu_build) to one that parses to
 * the same fields; DO 53 unwrap of each data field gives a slice inside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/transport.h"
#include "transport/transport_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const uint8_t ndef[] = {0x91, 0x02, 0x0A, 'H',  's',  0x15, 0xD1, 0x02, 0x04, 'a',
                               'c',  0x01, 0x01, 0x30, 0x00, 0x5A, 0x20, 0x15, 0x01, 'i',
                               's',  'o',  '.',  'o',  'r',  'g',  ':',  '1',  '8',  '0',
                               '1',  '3',  ':',  'n',  'f',  'c',  'n',  'f',  'c',  0x01,
                               0x03, 0x01, 0xFF, 0xFF, 0x04, 0x02, 0x01, 0x00, 0x00};

static void check_codec(tes_bytes in)
{
    tes_apdu a;
    if (tes_apdu_parse(in, &a) != TES_OK)
        return;
    CHECK(a.data.len == 0 || (a.data.ptr >= in.ptr && a.data.ptr + a.data.len <= in.ptr + in.len));
    CHECK(!a.has_le || (a.ne >= 1 && a.ne <= (a.extended ? 65536u : 256u)));
    tes_buf o = {0};
    tes_apdu_build(&o, a.cla, a.ins, a.p1, a.p2, a.data, a.has_le ? a.ne : 0, a.extended);
    CHECK(!o.failed);
    tes_apdu b;
    CHECK(tes_apdu_parse(tes_buf_bytes(&o), &b) == TES_OK);
    CHECK(b.cla == a.cla && b.ins == a.ins && b.p1 == a.p1 && b.p2 == a.p2);
    CHECK(b.data.len == a.data.len && b.ne == a.ne && b.has_le == a.has_le);
    CHECK(a.data.len == 0 || memcmp(a.data.ptr, b.data.ptr, a.data.len) == 0);
    tes_buf_free(&o);
    tes_bytes m;
    if (tes_do53_unwrap(a.data, &m) == TES_OK)
        CHECK(m.len <= a.data.len &&
              (m.len == 0 || (m.ptr >= a.data.ptr && m.ptr + m.len == a.data.ptr + a.data.len)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;

    tes_apdu_card *c;
    CHECK(tes_apdu_card_new(TES_BYTES(ndef, sizeof ndef), &c) == TES_OK);
    tes_apdu_card_set_wait(c, 0, NULL);
    uint32_t cap = (mode & 0x80) ? 65533 : (mode & 0x40) ? 256 : 65536;
    tes_apdu_card_set_max_response(c, cap);
    tes_transport *t = tes_apdu_card_transport(c);
    static uint8_t answer[70000 + 3]; /* largest answer + up to 2 more bytes */
    static const size_t sizes[4] = {1, 300, 5000, 70000};
    for (int i = 0; i < (mode & 3); i++)
        CHECK(tes_transport_send(t, TES_BYTES(answer, sizes[(mode >> 2) & 3] + (size_t)i)) ==
              TES_OK);
    if (mode & 0x20)
        tes_transport_close(t); /* the holder has ended the session */

    size_t off = 0;
    tes_buf resp = {0}, rx = {0};
    while (off + 2 <= size) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (n > size - off)
            n = size - off;
        tes_bytes apdu = TES_BYTES(data + off, n);
        off += n;
        check_codec(apdu);

        tes_buf_reset(&resp);
        tes_err err = tes_apdu_card_process(c, apdu, &resp);
        if (err) {
            CHECK(err == TES_ERR_TIMEOUT);
            CHECK(resp.len == 0);
        } else {
            CHECK(resp.len >= 2 && resp.len <= 65536 + 2);
            uint16_t sw = (uint16_t)(resp.ptr[resp.len - 2] << 8 | resp.ptr[resp.len - 1]);
            size_t dlen = resp.len - 2;
            CHECK(dlen == 0 || sw == 0x9000 || (sw & 0xFF00) == 0x6100);
            CHECK(dlen <= cap);
            tes_apdu a;
            /* data only for a command with Le (the last ENVELOPE without Le: 256) */
            if (dlen)
                CHECK(tes_apdu_parse(apdu, &a) == TES_OK &&
                      (a.has_le ? dlen <= a.ne : (a.ins == 0xC3 && dlen <= 256)));
        }
        /* the holder takes whatever message completed */
        tes_buf_reset(&rx);
        if (tes_transport_recv(t, &rx, 0) == TES_OK)
            CHECK(rx.len <= TES_TRANSPORT_MAX_MESSAGE);
    }
    tes_buf_free(&resp);
    tes_buf_free(&rx);
    tes_apdu_card_free(c);
    return 0;
}
