/*
 * libFuzzer target: the door-key message parsers a lock and a phone run on what
 * the other side sends (src/access/tlv.c, proto.c, package.c, doc.c's
 * timestamps, reader.c).
 *
 * Input: byte 0 is the mode.
 *   mode < 0x80: the rest goes to every parser: tes_tlv_parse,
 *     tes_access_fci_parse, tes_access_auth0_parse, tes_access_sealed_unwrap,
 *     tes_access_key_request_parse, tes_access_key_package_parse and (its
 *     first 20 bytes) tes_access_timestamp_parse. What a parser accepts must
 *     lie inside the input and survive a round trip through its encoder
 *     (TLV objects tile the input; AUTH0, key request and key package re-encode
 *     and re-parse to the same fields; sealed unwrap re-wraps to the same bytes
 *     up to the length head's form; a
 *     timestamp re-formats to the same 20 bytes).
 *   mode >= 0x80: the lock's side fed arbitrary phone answers: the rest is a
 *     sequence of response APDUs (2-byte big-endian length + bytes) that the
 *     transmit function returns in order (then the card "leaves": TES_ERR_PCSC)
 *     to tes_access_reader_begin (bit 0: fast, with one known key), then
 *     tes_access_reader_auth1 (when not fast), tes_access_reader_step_up (bit
 *     1: access document, bit 2: revocation document) and
 *     tes_access_reader_finish. Nothing may crash or leak; errors are fine.
 *
 * Seeds (corpus/fuzz_access_msg/): real messages, and the answers of a real
 * phone in a standard transaction with step-up and in a fast one:
 *   TES_FUZZ_ACCESS_SEEDS=DIR build/fuzz_access_msg_replay /dev/null
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/access_fixture.h"
#include "access/access_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static tes_key *reader_key;
static tes_access_known known;
static const uint8_t READER_ID[TES_ACCESS_READER_ID_LEN] = {
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};

static bool inside(tes_bytes part, tes_bytes whole)
{
    return part.len == 0 || (part.ptr >= whole.ptr && part.ptr + part.len <= whole.ptr + whole.len);
}

/* ---------------------------------------------------------------- seed writer */

static void put_file(const char *dir, const char *name, uint8_t mode, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(&mode, 1, 1, f) == 1);
    CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    fclose(f);
}

typedef struct rec {
    fx_link *inner;
    tes_buf resps; /* 2-byte length || response, each */
} rec;

static tes_err rec_transmit(void *ctx, tes_bytes command, tes_buf *response)
{
    rec *r = ctx;
    size_t before = response->len;
    tes_err e = fx_transmit(r->inner, command, response);
    size_t n = response->len - before;
    uint8_t h[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    tes_buf_append(&r->resps, h, 2);
    tes_buf_append(&r->resps, response->ptr + before, n);
    return e;
}

static void write_seeds(const char *dir)
{
    fx f;
    CHECK(fx_init(&f));
    static const uint8_t doc[] = {0xA1, 0x05, 0x67, 'a', 'l', 'i', 'r', 'o', '-', 'a'};
    tes_buf_append(&f.ring.docs, doc, sizeof doc);
    /* the phone's answers: standard + step-up, then fast */
    rec r = {.inner = &f.link};
    tes_access_reader_opts o = fx_reader_opts(&f, NULL, 0);
    o.transmit = rec_transmit;
    o.transmit_ctx = &r;
    tes_access_reader *x = NULL;
    tes_access_result res;
    tes_buf resp = {0};
    CHECK(tes_access_reader_begin(&o, &x, &res) == TES_OK);
    CHECK(tes_access_reader_auth1(x, &res) == TES_OK);
    CHECK(tes_access_reader_step_up(x, true, true, &resp, &res) == TES_OK);
    CHECK(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED) == TES_OK);
    tes_access_reader_free(x);
    put_file(dir, "answers_standard_step_up", 0x86, r.resps.ptr, r.resps.len);
    tes_buf_reset(&r.resps);
    tes_access_known k;
    memcpy(k.endpoint_key, res.endpoint_key, TES_ACCESS_POINT_LEN);
    memcpy(k.kpersistent, res.kpersistent, 32);
    o = fx_reader_opts(&f, &k, 1);
    o.transmit = rec_transmit;
    o.transmit_ctx = &r;
    tes_access_device_reset(f.dev);
    CHECK(tes_access_reader_begin(&o, &x, &res) == TES_OK && res.flow == TES_ACCESS_FLOW_FAST);
    CHECK(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED) == TES_OK);
    tes_access_reader_free(x);
    put_file(dir, "answers_fast", 0x81, r.resps.ptr, r.resps.len);
    tes_buf_free(&r.resps);
    /* the parsers' inputs */
    tes_buf b = {0};
    tes_access_fci(tes_access_aid_primary, &b);
    put_file(dir, "fci", 0x00, b.ptr, b.len);
    tes_buf_reset(&b);
    tes_access_auth0 a = {.flags = 1, .policy = 1, .version = TES_ACCESS_VERSION_1_0};
    memcpy(a.reader_eph, k.endpoint_key, TES_ACCESS_POINT_LEN);
    memset(a.tx_id, 0x4C, sizeof a.tx_id);
    memcpy(a.reader_id, READER_ID, sizeof a.reader_id);
    tes_access_auth0_build(&a, &b);
    put_file(dir, "auth0", 0x00, b.ptr, b.len);
    tes_buf_reset(&b);
    uint8_t sealed[20];
    memset(sealed, 0xA5, sizeof sealed);
    tes_access_sealed_wrap(TES_BYTES(sealed, sizeof sealed), &b);
    put_file(dir, "sealed", 0x00, b.ptr, b.len);
    tes_buf_reset(&b);
    tes_access_key_request q;
    memset(&q, 0, sizeof q);
    memcpy(q.endpoint_key, k.endpoint_key, TES_ACCESS_POINT_LEN);
    q.attestation = TES_BYTES(doc, sizeof doc);
    CHECK(tes_access_key_request_encode(&q, &b) == TES_OK);
    put_file(dir, "key_request", 0x00, b.ptr, b.len);
    tes_buf_reset(&b);
    tes_access_key_package p;
    memset(&p, 0, sizeof p);
    snprintf(p.issuer, sizeof p.issuer, "Hotel Zur Post");
    memcpy(p.group_id, READER_ID, 16);
    memcpy(p.reader_key, f.ring.ep.reader_key, TES_ACCESS_POINT_LEN);
    memcpy(p.issuer_key, k.endpoint_key, TES_ACCESS_POINT_LEN);
    p.document = TES_BYTES(doc, sizeof doc);
    p.revocation = TES_BYTES(doc, sizeof doc);
    CHECK(tes_access_key_package_encode(&p, &b) == TES_OK);
    put_file(dir, "key_package", 0x00, b.ptr, b.len);
    put_file(dir, "timestamp", 0x00, (const uint8_t *)"2026-12-08T14:00:00Z", 20);
    tes_buf_free(&b);
    tes_buf_free(&resp);
    fx_free(&f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(tes_key_generate(TES_CURVE_P256, &reader_key) == TES_OK);
    known.endpoint_key[0] = 0x04;
    memset(known.endpoint_key + 1, 0x42, 64);
    memset(known.kpersistent, 0x24, 32);
    const char *dir = getenv("TES_FUZZ_ACCESS_SEEDS");
    if (dir)
        write_seeds(dir);
    return 0;
}

/* ---------------------------------------------------------------- parsers */

static void parsers(tes_bytes in)
{
    tes_tlv t[16];
    size_t n = 0;
    if (tes_tlv_parse(in, t, 16, &n) == TES_OK) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK(inside(t[i].raw, in) && inside(t[i].value, t[i].raw));
            CHECK(t[i].value.ptr + t[i].value.len == t[i].raw.ptr + t[i].raw.len);
            CHECK(t[i].raw.ptr == in.ptr + total);
            total += t[i].raw.len;
        }
        CHECK(total == in.len);
    }
    uint8_t a5[TES_ACCESS_FCI_MAX];
    size_t a5_len = 0;
    tes_bytes versions;
    if (tes_access_fci_parse(in, a5, &a5_len, &versions) == TES_OK)
        CHECK(a5_len <= TES_ACCESS_FCI_MAX && inside(versions, in));

    tes_access_auth0 a, b;
    if (tes_access_auth0_parse(in, &a) == TES_OK) {
        tes_buf o = {0};
        tes_access_auth0_build(&a, &o);
        CHECK(tes_access_auth0_parse(tes_buf_bytes(&o), &b) == TES_OK);
        CHECK(memcmp(&a, &b, sizeof a) == 0);
        tes_buf_free(&o);
    }
    tes_bytes s;
    if (tes_access_sealed_unwrap(in, &s) == TES_OK) {
        CHECK(inside(s, in));
        tes_buf o = {0};
        tes_access_sealed_wrap(s, &o);
        /* the wrapper writes the shortest length head and unwrap takes nothing else:
         * the re-wrap is the input */
        CHECK(o.len == in.len && memcmp(o.ptr, in.ptr, in.len) == 0);
        tes_buf_free(&o);
    }
    tes_access_key_request q, q2;
    if (tes_access_key_request_parse(in, &q) == TES_OK) {
        CHECK(inside(q.attestation, in));
        tes_buf o = {0};
        CHECK(tes_access_key_request_encode(&q, &o) == TES_OK);
        CHECK(tes_access_key_request_parse(tes_buf_bytes(&o), &q2) == TES_OK);
        CHECK(memcmp(q.endpoint_key, q2.endpoint_key, TES_ACCESS_POINT_LEN) == 0);
        CHECK(q.attestation.len == q2.attestation.len &&
              (q.attestation.len == 0 ||
               memcmp(q.attestation.ptr, q2.attestation.ptr, q.attestation.len) == 0));
        tes_buf_free(&o);
    }
    tes_access_key_package p, p2;
    if (tes_access_key_package_parse(in, &p) == TES_OK) {
        CHECK(inside(p.document, in) && inside(p.revocation, in));
        CHECK(memchr(p.issuer, 0, sizeof p.issuer) != NULL);
        tes_buf o = {0};
        CHECK(tes_access_key_package_encode(&p, &o) == TES_OK);
        CHECK(tes_access_key_package_parse(tes_buf_bytes(&o), &p2) == TES_OK);
        CHECK(strcmp(p.issuer, p2.issuer) == 0 && memcmp(p.group_id, p2.group_id, 16) == 0 &&
              memcmp(p.reader_key, p2.reader_key, TES_ACCESS_POINT_LEN) == 0 &&
              memcmp(p.issuer_key, p2.issuer_key, TES_ACCESS_POINT_LEN) == 0);
        CHECK(p.document.len == p2.document.len && p.revocation.len == p2.revocation.len);
        tes_buf_free(&o);
    }
    if (in.len >= TES_ACCESS_TIMESTAMP_LEN) {
        int64_t when = -1;
        if (tes_access_timestamp_parse(in.ptr, &when) == TES_OK) {
            CHECK(when >= 0 && when <= TES_ACCESS_TIME_MAX);
            uint8_t back[TES_ACCESS_TIMESTAMP_LEN];
            tes_access_timestamp(when, back);
            CHECK(memcmp(back, in.ptr, TES_ACCESS_TIMESTAMP_LEN) == 0);
        }
    }
}

/* ---------------------------------------------------------------- the reader */

typedef struct feed {
    tes_bytes in;
    size_t off;
} feed;

static tes_err feed_transmit(void *ctx, tes_bytes command, tes_buf *response)
{
    (void)command;
    feed *f = ctx;
    if (f->off + 2 > f->in.len)
        return tes_err_set(TES_ERR_PCSC, "fuzz: the card left");
    size_t n = (size_t)f->in.ptr[f->off] << 8 | f->in.ptr[f->off + 1];
    f->off += 2;
    if (n > f->in.len - f->off)
        n = f->in.len - f->off;
    tes_buf_append(response, f->in.ptr + f->off, n);
    f->off += n;
    return TES_OK;
}

static void reader(uint8_t mode, tes_bytes in)
{
    feed f = {.in = in};
    tes_access_reader_opts o = {.reader_key = reader_key,
                                .fast = mode & 0x01,
                                .policy = TES_ACCESS_POLICY_USER_DEVICE_SETTING,
                                .known = &known,
                                .n_known = (mode & 0x01) ? 1 : 0,
                                .transmit = feed_transmit,
                                .transmit_ctx = &f};
    memcpy(o.reader_id, READER_ID, sizeof o.reader_id);
    tes_access_reader *x = NULL;
    tes_access_result r;
    tes_err e = tes_access_reader_begin(&o, &x, &r);
    if (e) {
        CHECK(x == NULL);
        return;
    }
    CHECK(x != NULL);
    if (r.flow != TES_ACCESS_FLOW_FAST)
        e = tes_access_reader_auth1(x, &r);
    if (!e && (mode & 0x06)) {
        tes_buf dr = {0};
        e = tes_access_reader_step_up(x, (mode & 0x02) != 0, (mode & 0x04) != 0, &dr, &r);
        tes_buf_free(&dr);
    }
    tes_err fe = tes_access_reader_finish(x, e ? TES_ACCESS_STATUS_FAILURE : TES_ACCESS_STATUS_UNLOCKED);
    (void)fe;
    tes_access_reader_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    tes_bytes in = TES_BYTES(data + 1, size - 1);
    if (data[0] & 0x80)
        reader(data[0], in);
    else
        parsers(in);
    return 0;
}
