/*
 * libFuzzer target: the phone's door-key applet (tes_access_device_process,
 * src/access/device.c) under arbitrary command sequences.
 *
 * Input: byte 0 is the mode, the rest a sequence of command APDUs, each a
 * 2-byte big-endian length + bytes (a length running past the end takes what
 * is left). One device (soft SE endpoint key, key ring and reader as
 * tests/unit/access_fixture.h), created once, reset before every input.
 * Mode bits:
 *   0x01  prelude: the harness first plays a real reader (SELECT, AUTH0,
 *         AUTH1 signed with the group key), so the fuzz APDUs reach the
 *         authenticated states (EXCHANGE, SELECT step-up, ENVELOPE, GET
 *         RESPONSE, CONTROL FLOW);
 *   0x02  with the prelude: the data of each EXCHANGE (80 C9) is sealed on
 *         the reader's channel and that of each unchained ENVELOPE (00 C3)
 *         wrapped as 53{{"data": sealed}} on the step-up channel before it
 *         goes to the device, so the plaintext parsers behind the secure
 *         channel are reached; the device's 9000 answers to them must open
 *         on the harness's channel (counters in step);
 *   0x04  the prelude's AUTH0 asks for the fast cryptogram.
 * Checked: every APDU gets TES_OK and a response of at least a status word,
 * with data only under 9000 or 61XX; the prelude's steps succeed; the sealed
 * answers open.
 *
 * Seeds (corpus/fuzz_access_apdu/): the commands a reader sends in a real
 * standard transaction with step-up and in a fast one, recorded in memory:
 *   TES_FUZZ_ACCESS_SEEDS=DIR build/fuzz_access_apdu_replay /dev/null
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/access_fixture.h"
#include "access/access_internal.h"
#include "transport/transport_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static fx F;
static bool ready;
/* a small Document-shaped CBOR item the ring hands out for "aliro-a" */
static const uint8_t DOC[] = {0xA1, 0x05, 0x67, 'a', 'l', 'i', 'r', 'o', '-', 'a'};

static void cleanup(void)
{
    if (ready)
        fx_free(&F);
}

/* ---------------------------------------------------------------- seed writer */

typedef struct rec {
    fx_link *inner;
    tes_buf cmds; /* 2-byte length || APDU, each */
} rec;

static tes_err rec_transmit(void *ctx, tes_bytes command, tes_buf *response)
{
    rec *r = ctx;
    uint8_t h[2] = {(uint8_t)(command.len >> 8), (uint8_t)command.len};
    tes_buf_append(&r->cmds, h, 2);
    tes_buf_append(&r->cmds, command.ptr, command.len);
    return fx_transmit(r->inner, command, response);
}

static void write_seed(const char *dir, const char *name, uint8_t mode, const tes_buf *cmds,
                       size_t skip)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(&mode, 1, 1, f) == 1);
    CHECK(fwrite(cmds->ptr + skip, 1, cmds->len - skip, f) == cmds->len - skip);
    fclose(f);
}

/* Offset of the n-th recorded APDU (its length prefix). */
static size_t nth(const tes_buf *cmds, int n)
{
    size_t off = 0;
    for (int i = 0; i < n && off + 2 <= cmds->len; i++)
        off += 2 + ((size_t)cmds->ptr[off] << 8 | cmds->ptr[off + 1]);
    return off;
}

static void write_seeds(const char *dir)
{
    /* standard with step-up: SELECT, AUTH0, AUTH1, SELECT step-up, ENVELOPE, EXCHANGE */
    rec r = {.inner = &F.link};
    tes_access_reader_opts o = fx_reader_opts(&F, NULL, 0);
    o.transmit = rec_transmit;
    o.transmit_ctx = &r;
    tes_access_reader *x = NULL;
    tes_access_result res;
    tes_buf resp = {0};
    tes_access_device_reset(F.dev);
    CHECK(tes_access_reader_begin(&o, &x, &res) == TES_OK);
    CHECK(tes_access_reader_auth1(x, &res) == TES_OK);
    CHECK(tes_access_reader_step_up(x, true, true, &resp, &res) == TES_OK);
    CHECK(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED) == TES_OK);
    tes_access_reader_free(x);
    write_seed(dir, "standard_step_up", 0x00, &r.cmds, 0);
    /* after the prelude (SELECT, AUTH0, AUTH1): the rest as recorded, and sealed anew */
    write_seed(dir, "after_auth1", 0x01, &r.cmds, nth(&r.cmds, 3));
    tes_buf_free(&r.cmds);
    /* fast: SELECT, AUTH0 with the cryptogram, EXCHANGE */
    tes_access_known k;
    memcpy(k.endpoint_key, res.endpoint_key, TES_ACCESS_POINT_LEN);
    memcpy(k.kpersistent, res.kpersistent, 32);
    rec r2 = {.inner = &F.link};
    o = fx_reader_opts(&F, &k, 1);
    o.transmit = rec_transmit;
    o.transmit_ctx = &r2;
    tes_access_device_reset(F.dev);
    CHECK(tes_access_reader_begin(&o, &x, &res) == TES_OK);
    CHECK(res.flow == TES_ACCESS_FLOW_FAST);
    CHECK(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED) == TES_OK);
    tes_access_reader_free(x);
    write_seed(dir, "fast", 0x00, &r2.cmds, 0);
    tes_buf_free(&r2.cmds);
    /* plaintexts for the sealed mode: the step-up SELECT, a DeviceRequest ENVELOPE, EXCHANGE 97 */
    tes_buf s = {0}, req = {0}, apdu = {0};
    CHECK(tes_access_request_encode(true, true, &req) == TES_OK);
    uint8_t sel[] = {0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x09,
                     0x09, 0xAC, 0xCE, 0x55, 0x02, 0x00};
    tes_apdu_build(&apdu, 0x00, 0xC3, 0x00, 0x00, tes_buf_bytes(&req), 256, false);
    static const uint8_t ex[] = {0x80, 0xC9, 0x00, 0x00, 0x04, 0x97, 0x02, 0x01, 0x01, 0x00};
    uint8_t h[2] = {0, sizeof sel};
    tes_buf_append(&s, h, 2);
    tes_buf_append(&s, sel, sizeof sel);
    h[0] = (uint8_t)(apdu.len >> 8), h[1] = (uint8_t)apdu.len;
    tes_buf_append(&s, h, 2);
    tes_buf_append(&s, apdu.ptr, apdu.len);
    h[0] = 0, h[1] = sizeof ex;
    tes_buf_append(&s, h, 2);
    tes_buf_append(&s, ex, sizeof ex);
    write_seed(dir, "sealed_step_up_exchange", 0x03, &s, 0);
    tes_buf_free(&s);
    tes_buf_free(&req);
    tes_buf_free(&apdu);
    tes_buf_free(&resp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(fx_init(&F));
    tes_buf_append(&F.ring.docs, DOC, sizeof DOC);
    ready = true;
    atexit(cleanup);
    const char *dir = getenv("TES_FUZZ_ACCESS_SEEDS");
    if (dir)
        write_seeds(dir);
    return 0;
}

/* ---------------------------------------------------------------- the harness's reader */

typedef struct hreader {
    tes_access_context ctx;
    tes_access_channel ch, stepup;
    bool stepped; /* an ENVELOPE went through: EXCHANGE is on the step-up keys */
    bool in_sync;
} hreader;

static void one(tes_bytes cmd, tes_buf *resp)
{
    tes_buf_reset(resp);
    CHECK(tes_access_device_process(F.dev, cmd, resp) == TES_OK);
    CHECK(resp->len >= 2);
    uint8_t sw1 = resp->ptr[resp->len - 2], sw2 = resp->ptr[resp->len - 1];
    CHECK(resp->len == 2 || (sw1 == 0x90 && sw2 == 0x00) || sw1 == 0x61);
}

static bool ok_9000(const tes_buf *r)
{
    return r->len >= 2 && r->ptr[r->len - 2] == 0x90 && r->ptr[r->len - 1] == 0x00;
}

static void prelude(hreader *h, bool fast, tes_buf *resp)
{
    memset(h, 0, sizeof *h);
    tes_buf cmd = {0};
    tes_apdu_build(&cmd, 0x00, 0xA4, 0x04, 0x00,
                   TES_BYTES(tes_access_aid_primary, TES_ACCESS_AID_LEN), 256, false);
    one(tes_buf_bytes(&cmd), resp);
    CHECK(ok_9000(resp));
    tes_bytes versions;
    CHECK(tes_access_fci_parse(TES_BYTES(resp->ptr, resp->len - 2), h->ctx.fci, &h->ctx.fci_len,
                               &versions) == TES_OK);
    tes_key *eph = NULL, *dev = NULL;
    CHECK(tes_key_generate(TES_CURVE_P256, &eph) == TES_OK);
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    CHECK(tes_key_public_raw(eph, x, y) == TES_OK);
    tes_access_auth0 a = {.flags = fast ? TES_ACCESS_FLAG_FAST : TES_ACCESS_FLAG_STANDARD,
                          .policy = TES_ACCESS_POLICY_USER_DEVICE_SETTING,
                          .version = TES_ACCESS_VERSION_1_0};
    a.reader_eph[0] = 0x04;
    memcpy(a.reader_eph + 1, x, 32);
    memcpy(a.reader_eph + 33, y, 32);
    memset(a.tx_id, 0x77, sizeof a.tx_id);
    memcpy(a.reader_id, F.reader_id, TES_ACCESS_READER_ID_LEN);
    tes_buf data = {0};
    tes_access_auth0_build(&a, &data);
    tes_buf_reset(&cmd);
    tes_apdu_build(&cmd, 0x80, 0x80, 0x00, 0x00, tes_buf_bytes(&data), 256, false);
    one(tes_buf_bytes(&cmd), resp);
    CHECK(ok_9000(resp));
    tes_tlv t[4];
    size_t n;
    CHECK(tes_tlv_parse(TES_BYTES(resp->ptr, resp->len - 2), t, 4, &n) == TES_OK);
    const tes_tlv *e = tes_tlv_find(t, n, 0x86);
    CHECK(e && e->value.len == TES_ACCESS_POINT_LEN);
    CHECK(tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(e->value.ptr + 1, 32),
                                TES_BYTES(e->value.ptr + 33, 32), &dev) == TES_OK);
    tes_access_context *c = &h->ctx;
    CHECK(tes_key_public_raw(F.reader_key, x, y) == TES_OK);
    memcpy(c->reader_key_x, x, 32);
    memcpy(c->reader_id, F.reader_id, TES_ACCESS_READER_ID_LEN);
    c->interface = TES_ACCESS_INTERFACE_NFC;
    c->version = TES_ACCESS_VERSION_1_0;
    memcpy(c->reader_eph_x, a.reader_eph + 1, 32);
    memcpy(c->device_eph_x, e->value.ptr + 1, 32);
    memcpy(c->tx_id, a.tx_id, sizeof a.tx_id);
    c->flags = a.flags;
    c->policy = a.policy;
    uint8_t z[TES_MAX_COORD], kdh[32], input[TES_ACCESS_AUTH_INPUT_LEN], sig[TES_MAX_SIG];
    size_t zl = 0, sl = sizeof sig;
    tes_access_keys keys;
    CHECK(tes_key_ecdh(eph, dev, z, &zl) == TES_OK);
    CHECK(tes_access_derive_standard(c, z, &keys, kdh) == TES_OK);
    tes_access_auth_input(c, false, input);
    CHECK(tes_key_sign(F.reader_key, TES_HASH_SHA256, TES_BYTES(input, sizeof input), sig, &sl) ==
          TES_OK);
    tes_buf_reset(&data);
    uint8_t one_ = 0x01;
    tes_tlv_put(&data, 0x41, TES_BYTES(&one_, 1));
    tes_tlv_put(&data, 0x9E, TES_BYTES(sig, sl));
    tes_buf_reset(&cmd);
    tes_apdu_build(&cmd, 0x80, 0x81, 0x00, 0x00, tes_buf_bytes(&data), 256, false);
    one(tes_buf_bytes(&cmd), resp);
    CHECK(ok_9000(resp));
    tes_access_channel_init(&h->ch, keys.exchange_reader, keys.exchange_device);
    CHECK(tes_access_keys_expand(&keys, TES_ACCESS_KEYS_STEPUP) == TES_OK);
    tes_access_channel_init(&h->stepup, keys.stepup_reader, keys.stepup_device);
    tes_buf plain = {0};
    CHECK(tes_access_channel_open(&h->ch, false, TES_BYTES(resp->ptr, resp->len - 2), &plain) ==
          TES_OK);
    h->in_sync = true;
    tes_buf_free(&plain);
    tes_buf_free(&data);
    tes_buf_free(&cmd);
    tes_key_free(eph);
    tes_key_free(dev);
}

/* Seals an EXCHANGE's or an unchained ENVELOPE's data on the harness's channel. Returns
 * which channel the answer comes on (NULL: the command is sent as it is). */
static tes_access_channel *seal_cmd(hreader *h, tes_bytes in, tes_buf *out)
{
    tes_apdu a;
    if (!h->in_sync || tes_apdu_parse(in, &a) != TES_OK)
        return NULL;
    tes_buf sealed = {0}, wrapped = {0}, data = {0};
    tes_access_channel *ch = NULL;
    if (a.cla == 0x80 && a.ins == 0xC9 && a.data.len) {
        ch = h->stepped ? &h->stepup : &h->ch;
        if (tes_access_channel_seal(ch, true, a.data, &data) != TES_OK)
            ch = NULL;
    } else if (a.cla == 0x00 && a.ins == 0xC3 && a.data.len) {
        ch = &h->stepup;
        if (tes_access_channel_seal(ch, true, a.data, &sealed) == TES_OK) {
            tes_access_sealed_wrap(tes_buf_bytes(&sealed), &wrapped);
            tes_do53_wrap(&data, tes_buf_bytes(&wrapped));
        } else {
            ch = NULL;
        }
    }
    if (ch)
        tes_apdu_build(out, a.cla, a.ins, a.p1, a.p2, tes_buf_bytes(&data), a.has_le ? a.ne : 0,
                       a.extended || data.len > 255);
    tes_buf_free(&sealed);
    tes_buf_free(&wrapped);
    tes_buf_free(&data);
    return ch;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    tes_access_device_reset(F.dev);
    F.ring.has_kp = false;
    tes_buf resp = {0}, cmd = {0};
    hreader h;
    memset(&h, 0, sizeof h);
    if (mode & 0x01)
        prelude(&h, (mode & 0x04) != 0, &resp);
    size_t off = 0;
    while (off + 2 <= size) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (n > size - off)
            n = size - off;
        tes_bytes apdu = TES_BYTES(data + off, n);
        off += n;
        tes_access_channel *ch = NULL;
        tes_buf_reset(&cmd);
        if ((mode & 0x03) == 0x03)
            ch = seal_cmd(&h, apdu, &cmd);
        one(ch ? tes_buf_bytes(&cmd) : apdu, &resp);
        if (!ch)
            continue;
        if (!ok_9000(&resp)) { /* refused (and ended) or chained: the harness stops sealing */
            h.in_sync = false;
            continue;
        }
        tes_bytes body = TES_BYTES(resp.ptr, resp.len - 2);
        tes_buf plain = {0};
        if (ch == &h.stepup && cmd.ptr[1] == 0xC3) {
            tes_bytes w, s;
            CHECK(tes_do53_unwrap(body, &w) == TES_OK);
            CHECK(tes_access_sealed_unwrap(w, &s) == TES_OK);
            CHECK(tes_access_channel_open(ch, false, s, &plain) == TES_OK);
            h.stepped = true;
        } else {
            CHECK(tes_access_channel_open(ch, false, body, &plain) == TES_OK);
            CHECK(plain.len == 4 && plain.ptr[0] == 0x00 && plain.ptr[1] == 0x02);
        }
        tes_buf_free(&plain);
    }
    tes_buf_free(&resp);
    tes_buf_free(&cmd);
    return 0;
}
