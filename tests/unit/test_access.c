/*
 * The Aliro transaction between Tessera's phone (tes_access_device) and Tessera's lock
 * (tes_access_reader), in memory: standard, fast, step-up, and every attack the issue
 * names, each refused where it must be. The key schedule against independent values is
 * in test_access_kat.c; the independent Python reader and phone run in tests/interop/aliro.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"

#include "access/access_internal.h"
#include "access_fixture.h"
#include "tessera/cbor.h"

#include <sys/stat.h>

static tes_err run_standard(fx *f, tes_access_result *r)
{
    tes_access_reader_opts o = fx_reader_opts(f, NULL, 0);
    tes_access_reader *x = NULL;
    tes_err err = tes_access_reader_begin(&o, &x, r);
    if (!err)
        err = tes_access_reader_auth1(x, r);
    if (!err)
        err = tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED);
    tes_access_reader_free(x);
    return err;
}

TEST(standard_then_fast)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_access_result r;
    CHECK_ERR(run_standard(&f, &r), TES_OK);
    CHECK_EQ_INT(r.flow, TES_ACCESS_FLOW_STANDARD);
    CHECK(r.has_kpersistent);
    CHECK_EQ_MEM(r.endpoint_key, f.ring.ep.endpoint_key, TES_ACCESS_POINT_LEN);
    CHECK_EQ_MEM(r.issued_at, "2026-12-08T14:00:00Z", TES_ACCESS_TIMESTAMP_LEN);
    CHECK_EQ_INT(r.signaling, f.ring.ep.signaling);
    /* both sides derived the same persistent key */
    CHECK(f.ring.has_kp);
    CHECK_EQ_MEM(f.ring.kp, r.kpersistent, 32);
    CHECK_EQ_MEM(f.ring.kp_reader, f.reader_id, TES_ACCESS_READER_ID_LEN);
    uint16_t st = 0;
    CHECK(tes_access_device_verdict(f.dev, &st));
    CHECK_EQ_INT(st, TES_ACCESS_STATUS_UNLOCKED);
    CHECK_EQ_INT(f.ring.last_status, TES_ACCESS_STATUS_UNLOCKED);

    /* second tap: fast, the persistent key among others; no AUTH1 */
    tes_access_known known[3];
    memset(known, 0x55, sizeof known);
    known[0].endpoint_key[0] = known[1].endpoint_key[0] = 0x04;
    known[2] = (tes_access_known){{0}, {0}};
    memcpy(known[2].endpoint_key, r.endpoint_key, TES_ACCESS_POINT_LEN);
    memcpy(known[2].kpersistent, r.kpersistent, 32);
    tes_access_reader_opts o = fx_reader_opts(&f, known, 3);
    tes_access_reader *x = NULL;
    tes_access_result r2;
    f.link.count = 0;
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r2), TES_OK);
    CHECK_EQ_INT(r2.flow, TES_ACCESS_FLOW_FAST);
    CHECK_EQ_INT(r2.known_index, 2);
    CHECK_EQ_MEM(r2.issued_at, "2026-12-08T14:00:00Z", TES_ACCESS_TIMESTAMP_LEN);
    CHECK_ERR(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED), TES_OK);
    CHECK_EQ_INT(f.link.count, 3); /* SELECT, AUTH0, EXCHANGE */
    tes_access_reader_free(x);
    fx_free(&f);
}

TEST(no_persistent_key_gives_random_cryptogram)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_access_known k = {{0x04}, {1, 2, 3}};
    memcpy(k.endpoint_key, f.ring.ep.endpoint_key, TES_ACCESS_POINT_LEN);
    tes_access_reader_opts o = fx_reader_opts(&f, &k, 1);
    tes_access_reader *x = NULL;
    tes_access_result r;
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    CHECK_EQ_INT(r.flow, TES_ACCESS_FLOW_NONE); /* nothing matched: the slow path */
    CHECK_EQ_INT(r.known_index, -1);
    /* the AUTH0 answer still carried a 64-byte 9D */
    CHECK_ERR(tes_access_reader_auth1(x, &r), TES_OK);
    CHECK_EQ_INT(r.flow, TES_ACCESS_FLOW_STANDARD);
    tes_access_reader_free(x);
    fx_free(&f);
}

TEST(unknown_group_and_wrong_reader_key_learn_nothing)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_access_result r;
    /* the phone trusts another reader key for this group */
    tes_key *other = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &other) == TES_OK);
    fx_point(other, f.ring.ep.reader_key);
    CHECK_ERR(run_standard(&f, &r), TES_ERR_ACCESS_READER);
    CHECK(!f.ring.has_kp);
    tes_key_free(other);
    /* the phone has no key for this group at all */
    fx_point(f.reader_key, f.ring.ep.reader_key);
    f.ring.has_key = false;
    CHECK_ERR(run_standard(&f, &r), TES_ERR_ACCESS_READER);
    fx_free(&f);
}

/* ---- tampering ---- */

typedef struct tamper_ctx {
    int cmd_index, count;
    bool on_command;
    int which_ins; /* -1 any */
    void (*edit)(tes_buf *apdu);
} tamper_ctx;

static void flip_last_data_byte(tes_buf *a)
{
    if (a->len > 3)
        a->ptr[a->len - 3] ^= 0x01;
}

static void tamper(void *ctx, bool command, tes_buf *apdu)
{
    tamper_ctx *t = ctx;
    if (command)
        t->count++;
    if (command == t->on_command && t->count == t->cmd_index)
        t->edit(apdu);
}

TEST(altered_auth1_answer_fails_the_channel)
{
    fx f;
    REQUIRE(fx_init(&f));
    tamper_ctx t = {.cmd_index = 3, .on_command = false, .edit = flip_last_data_byte};
    f.link.tamper = tamper;
    f.link.tamper_ctx = &t;
    tes_access_result r;
    CHECK_ERR(run_standard(&f, &r), TES_ERR_ACCESS_CHANNEL);
    fx_free(&f);
}

/* The FCI's A5 template is fed into the key derivation: a reader shown another template
 * (a downgraded capability list) derives other keys, and nothing decrypts. */
static void downgrade_fci(tes_buf *a)
{
    /* the FCI ends with 7F66 08 02 02 HH LL 02 02 HH LL, then 90 00 */
    if (a->len > 4)
        a->ptr[a->len - 4] ^= 0x04;
}

TEST(downgraded_fci_breaks_the_keys)
{
    fx f;
    REQUIRE(fx_init(&f));
    tamper_ctx t = {.cmd_index = 1, .on_command = false, .edit = downgrade_fci};
    f.link.tamper = tamper;
    f.link.tamper_ctx = &t;
    tes_access_result r;
    CHECK_ERR(run_standard(&f, &r), TES_ERR_ACCESS_CHANNEL);
    CHECK(!r.has_kpersistent);
    fx_free(&f);
}

/* The reader signs another transaction id: the device refuses AUTH1 (6982). */
static void other_tx_in_auth0(tes_buf *a)
{
    /* AUTH0's 4C value sits before 4D (34 bytes at the end, Le included: 35) */
    if (a->len > 60)
        a->ptr[a->len - 36 - 2] ^= 0x80;
}

TEST(reader_signature_over_another_transaction_is_refused)
{
    fx f;
    REQUIRE(fx_init(&f));
    /* the device sees a tx id other than the one the reader signs over */
    tamper_ctx t = {.cmd_index = 2, .on_command = true, .edit = other_tx_in_auth0};
    f.link.tamper = tamper;
    f.link.tamper_ctx = &t;
    tes_access_result r;
    CHECK_ERR(run_standard(&f, &r), TES_ERR_ACCESS_READER);
    CHECK(!f.ring.has_kp);
    fx_free(&f);
}

TEST(replayed_auth1_is_refused)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_access_result r;
    CHECK_ERR(run_standard(&f, &r), TES_OK);
    tes_buf old_auth1 = {0};
    tes_buf_append(&old_auth1, f.link.log[2].ptr, f.link.log[2].len);
    /* a new transaction up to AUTH0, then the recorded AUTH1 */
    tes_access_reader_opts o = fx_reader_opts(&f, NULL, 0);
    tes_access_reader *x = NULL;
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    tes_buf resp = {0};
    CHECK_ERR(tes_access_device_process(f.dev, tes_buf_bytes(&old_auth1), &resp), TES_OK);
    REQUIRE(resp.len == 2);
    CHECK(resp.ptr[0] == 0x69 && resp.ptr[1] == 0x82);
    tes_buf_free(&resp);
    tes_buf_free(&old_auth1);
    tes_access_reader_free(x);
    fx_free(&f);
}

/* A replayed AUTH0 answer (ephemeral key and cryptogram of an earlier fast transaction)
 * opens nothing: the cryptogram key depends on this transaction's id and reader key. */
typedef struct replay_ctx {
    int count;
    bool record;
    tes_buf saved;
} replay_ctx;

static void replay_auth0(void *ctx, bool command, tes_buf *apdu)
{
    replay_ctx *t = ctx;
    if (command) {
        t->count++;
        return;
    }
    if (t->count != 2) /* the answer to AUTH0 */
        return;
    if (t->record) {
        tes_buf_reset(&t->saved);
        tes_buf_append(&t->saved, apdu->ptr, apdu->len);
    } else {
        tes_buf_reset(apdu);
        tes_buf_append(apdu, t->saved.ptr, t->saved.len);
    }
}

TEST(replayed_cryptogram_opens_nothing)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_access_result r;
    CHECK_ERR(run_standard(&f, &r), TES_OK);
    tes_access_known k;
    memcpy(k.endpoint_key, r.endpoint_key, TES_ACCESS_POINT_LEN);
    memcpy(k.kpersistent, r.kpersistent, 32);
    replay_ctx t = {.record = true};
    f.link.tamper = replay_auth0;
    f.link.tamper_ctx = &t;
    tes_access_reader_opts o = fx_reader_opts(&f, &k, 1);
    tes_access_reader *x = NULL;
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    CHECK_EQ_INT(r.flow, TES_ACCESS_FLOW_FAST); /* the genuine one, recorded */
    tes_access_reader_free(x);
    x = NULL;
    REQUIRE(t.saved.len > 64);
    t.record = false;
    t.count = 0;
    tes_access_device_reset(f.dev);
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    CHECK_EQ_INT(r.flow, TES_ACCESS_FLOW_NONE);
    CHECK_EQ_INT(r.known_index, -1);
    /* and the full path fails: the reader signs over the replayed ephemeral key, not the
     * phone's, and the phone refuses the signature */
    CHECK_ERR(tes_access_reader_auth1(x, &r), TES_ERR_ACCESS_READER);
    tes_access_reader_free(x);
    tes_buf_free(&t.saved);
    fx_free(&f);
}

TEST(reflected_and_reordered_channel_messages)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_access_reader_opts o = fx_reader_opts(&f, NULL, 0);
    tes_access_reader *x = NULL;
    tes_access_result r;
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    CHECK_ERR(tes_access_reader_auth1(x, &r), TES_OK);
    /* the AUTH1 answer (the device's own encrypted message) sent back as EXCHANGE data */
    tes_buf cmd = {0}, resp = {0};
    uint8_t head[5] = {0x80, 0xC9, 0x00, 0x00, 0};
    tes_buf_append(&cmd, head, 4);
    tes_access_channel ch;
    tes_access_channel_init(&ch, (uint8_t[32]){0}, (uint8_t[32]){0});
    /* build a device-direction message under a wrong key: must fail the channel */
    tes_buf sealed = {0};
    CHECK_ERR(tes_access_channel_seal(&ch, false, TES_BYTES("\x97\x02\x01\x01", 4), &sealed),
              TES_OK);
    uint8_t lc = (uint8_t)sealed.len;
    tes_buf_append(&cmd, &lc, 1);
    tes_buf_append(&cmd, sealed.ptr, sealed.len);
    CHECK_ERR(tes_access_device_process(f.dev, tes_buf_bytes(&cmd), &resp), TES_OK);
    REQUIRE(resp.len == 2);
    CHECK(resp.ptr[0] == 0x69 && resp.ptr[1] == 0x88);
    /* the transaction ended: EXCHANGE is now out of sequence */
    tes_buf_reset(&resp);
    CHECK_ERR(tes_access_device_process(f.dev, tes_buf_bytes(&cmd), &resp), TES_OK);
    CHECK(resp.len == 2 && resp.ptr[0] == 0x69 && resp.ptr[1] == 0x85);
    tes_buf_free(&cmd);
    tes_buf_free(&resp);
    tes_buf_free(&sealed);
    tes_access_reader_free(x);
    fx_free(&f);
}

TEST(channel_counters_refuse_replay_and_reorder)
{
    uint8_t kr[32] = {1}, kd[32] = {2};
    tes_access_channel a, b;
    tes_access_channel_init(&a, kr, kd);
    tes_access_channel_init(&b, kr, kd);
    tes_buf m1 = {0}, m2 = {0}, p = {0};
    CHECK_ERR(tes_access_channel_seal(&a, true, TES_BYTES("one", 3), &m1), TES_OK);
    CHECK_ERR(tes_access_channel_seal(&a, true, TES_BYTES("two", 3), &m2), TES_OK);
    CHECK_ERR(tes_access_channel_open(&b, true, tes_buf_bytes(&m2), &p), TES_ERR_ACCESS_CHANNEL);
    CHECK_EQ_INT(p.len, 0);
    CHECK_ERR(tes_access_channel_open(&b, true, tes_buf_bytes(&m1), &p), TES_OK);
    CHECK_ERR(tes_access_channel_open(&b, true, tes_buf_bytes(&m1), &p), TES_ERR_ACCESS_CHANNEL);
    /* reflected: a reader-direction message opened as if from the device */
    tes_access_channel_init(&b, kr, kd);
    CHECK_ERR(tes_access_channel_open(&b, false, tes_buf_bytes(&m1), &p), TES_ERR_ACCESS_CHANNEL);
    tes_buf_free(&m1);
    tes_buf_free(&m2);
    tes_buf_free(&p);
}

TEST(step_up_returns_the_documents)
{
    fx f;
    REQUIRE(fx_init(&f));
    /* any CBOR item stands in for the Document here (test_access_doc.c checks documents) */
    tes_cbor_enc e = {.out = &f.ring.docs};
    tes_cbor_enc_map(&e, 1);
    tes_cbor_enc_uint(&e, 5);
    tes_cbor_enc_cstr(&e, TES_ACCESS_DOCTYPE);
    tes_access_reader_opts o = fx_reader_opts(&f, NULL, 0);
    tes_access_reader *x = NULL;
    tes_access_result r;
    tes_buf resp = {0};
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    CHECK_ERR(tes_access_reader_auth1(x, &r), TES_OK);
    CHECK_ERR(tes_access_reader_step_up(x, true, false, &resp, &r), TES_OK);
    CHECK_EQ_INT(r.flow, TES_ACCESS_FLOW_STEP_UP);
    static const uint8_t want_head[] = {0xA3, 0x01, 0x63, '1', '.', '0', 0x02, 0x81};
    REQUIRE(resp.len == sizeof want_head + f.ring.docs.len + 2);
    CHECK_EQ_MEM(resp.ptr, want_head, sizeof want_head);
    CHECK_EQ_MEM(resp.ptr + sizeof want_head, f.ring.docs.ptr, f.ring.docs.len);
    CHECK_ERR(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED), TES_OK);
    uint16_t st = 0;
    CHECK(tes_access_device_verdict(f.dev, &st) && st == TES_ACCESS_STATUS_UNLOCKED);
    tes_buf_free(&resp);
    tes_access_reader_free(x);
    fx_free(&f);
}

TEST(card_removed_mid_transaction)
{
    fx f;
    REQUIRE(fx_init(&f));
    f.link.fail_at = 3; /* AUTH1 finds no card */
    tes_access_result r;
    CHECK_ERR(run_standard(&f, &r), TES_ERR_PCSC);
    CHECK(!r.has_kpersistent);
    /* the phone left the field: its transaction is forgotten */
    tes_access_device_reset(f.dev);
    f.link.fail_at = 0;
    f.link.count = 0;
    CHECK_ERR(run_standard(&f, &r), TES_OK);
    fx_free(&f);
}

/* ---- malformed commands: every one gets its status word, nothing crashes ---- */

static uint16_t sw_of(fx *f, const uint8_t *apdu, size_t n)
{
    tes_buf resp = {0};
    if (tes_access_device_process(f->dev, TES_BYTES(apdu, n), &resp) != TES_OK || resp.len < 2)
        return 0;
    uint16_t sw = (uint16_t)(resp.ptr[resp.len - 2] << 8 | resp.ptr[resp.len - 1]);
    tes_buf_free(&resp);
    return sw;
}

TEST(malformed_commands_get_status_words)
{
    fx f;
    REQUIRE(fx_init(&f));
    static const uint8_t select[] = {0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00,
                                     0x09, 0x09, 0xAC, 0xCE, 0x55, 0x01, 0x00};
    static const uint8_t other_aid[] = {0x00, 0xA4, 0x04, 0x00, 0x03, 0xA0, 0x00, 0x01, 0x00};
    CHECK_EQ_INT(sw_of(&f, (const uint8_t *)"\x00\xA4", 2), 0x6700);
    CHECK_EQ_INT(sw_of(&f, other_aid, sizeof other_aid), 0x6A82);
    CHECK_EQ_INT(sw_of(&f, (const uint8_t *)"\x80\x80\x00\x00\x00", 5), 0x6985); /* no SELECT */
    CHECK_EQ_INT(sw_of(&f, select, sizeof select), 0x9000);
    /* AUTH0 with a TLV claiming more bytes than it has */
    static const uint8_t trunc[] = {0x80, 0x80, 0x00, 0x00, 0x04, 0x41, 0x05, 0x01, 0x42};
    CHECK_EQ_INT(sw_of(&f, trunc, sizeof trunc), 0x6A80);
    /* the transaction ended: AUTH0 again needs a SELECT */
    CHECK_EQ_INT(sw_of(&f, trunc, sizeof trunc), 0x6985);
    CHECK_EQ_INT(sw_of(&f, select, sizeof select), 0x9000);
    /* AUTH0 with members of the wrong length (a 3-byte version) */
    static const uint8_t badlen[] = {0x80, 0x80, 0x00, 0x00, 0x05, 0x5C, 0x03, 0x01, 0x00, 0x00};
    CHECK_EQ_INT(sw_of(&f, badlen, sizeof badlen), 0x6A80);
    CHECK_EQ_INT(sw_of(&f, select, sizeof select), 0x9000);
    CHECK_EQ_INT(sw_of(&f, (const uint8_t *)"\x80\xD1\x00\x00\x01\x00", 6), 0x6D00);
    CHECK_EQ_INT(sw_of(&f, (const uint8_t *)"\x90\x80\x00\x00", 4), 0x6E00);
    CHECK_EQ_INT(sw_of(&f, (const uint8_t *)"\x00\xC0\x00\x00\x00", 5), 0x6985);
    fx_free(&f);
}

TEST(sealed_wrapper_is_strict)
{
    tes_bytes out;
    CHECK_ERR(tes_access_sealed_unwrap(TES_BYTES("\xA1\x64"
                                                 "data\x42\x01\x02",
                                                 9),
                                       &out),
              TES_OK);
    CHECK_EQ_INT(out.len, 2);
    /* an empty byte string with a 2-byte length: not the shortest form */
    CHECK_ERR(tes_access_sealed_unwrap(TES_BYTES("\xA1\x64"
                                                 "data\x59\x00\x00",
                                                 9),
                                       &out),
              TES_ERR_ACCESS_DOC_FORMAT);
    CHECK_ERR(tes_access_sealed_unwrap(TES_BYTES("\xA1\x64"
                                                 "data\x42\x01",
                                                 8),
                                       &out),
              TES_ERR_ACCESS_DOC_FORMAT);
    CHECK_ERR(tes_access_sealed_unwrap(TES_BYTES("\xA1\x64"
                                                 "dat\x61\x40",
                                                 8),
                                       &out),
              TES_ERR_ACCESS_DOC_FORMAT);
}

TEST(tlv_parser_is_strict)
{
    tes_tlv t[4];
    size_t n;
    CHECK_ERR(tes_tlv_parse(TES_BYTES("\x41\x01\x01\x42\x01\x00", 6), t, 4, &n), TES_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_ERR(tes_tlv_parse(TES_BYTES("\x41\x02\x01", 3), t, 4, &n), TES_ERR_TLV);
    CHECK_ERR(tes_tlv_parse(TES_BYTES("\x41\x83\x00\x00\x01\x00", 6), t, 4, &n), TES_ERR_TLV);
    CHECK_ERR(tes_tlv_parse(TES_BYTES("\x41\x80", 2), t, 4, &n), TES_ERR_TLV);
    CHECK_ERR(tes_tlv_parse(TES_BYTES("\x5F\x81\x01\x01\x00", 5), t, 4, &n), TES_ERR_TLV);
    CHECK_ERR(tes_tlv_parse(TES_BYTES("\x41\x01\x01\x41\x01\x01\x41\x01\x01\x41\x01\x01"
                                      "\x41\x01\x01",
                                      15),
                            t, 4, &n),
              TES_ERR_TLV);
    CHECK_ERR(tes_tlv_parse(TES_BYTES("\x7F\x66\x81\x02\xAA\xBB", 6), t, 4, &n), TES_OK);
    CHECK_EQ_INT(t[0].tag, 0x7F66);
    CHECK_EQ_INT(t[0].value.len, 2);
    CHECK_ERR(tes_tlv_parse(TES_BYTES("\x41", 1), t, 4, &n), TES_ERR_TLV);
}

TEST(key_request_and_package_round_trip_and_refusals)
{
    tes_access_key_request q = {{0x04, 1, 2, 3}, TES_BYTES("att", 3)}, q2;
    tes_buf b = {0};
    CHECK_ERR(tes_access_key_request_encode(&q, &b), TES_OK);
    CHECK_ERR(tes_access_key_request_parse(tes_buf_bytes(&b), &q2), TES_OK);
    CHECK_EQ_MEM(q2.endpoint_key, q.endpoint_key, TES_ACCESS_POINT_LEN);
    CHECK(tes_bytes_eq(q2.attestation, q.attestation));
    q.endpoint_key[0] = 0x02; /* compressed: refused */
    tes_buf_reset(&b);
    CHECK_ERR(tes_access_key_request_encode(&q, &b), TES_OK);
    CHECK_ERR(tes_access_key_request_parse(tes_buf_bytes(&b), &q2), TES_ERR_ACCESS_DOC_FORMAT);

    tes_access_key_package p = {.issuer = "Hotel Zur Post",
                                .group_id = {9},
                                .reader_key = {0x04, 7},
                                .issuer_key = {0x04, 8},
                                .document = TES_BYTES("\xA0", 1)},
                           p2;
    tes_buf_reset(&b);
    CHECK_ERR(tes_access_key_package_encode(&p, &b), TES_OK);
    CHECK_ERR(tes_access_key_package_parse(tes_buf_bytes(&b), &p2), TES_OK);
    CHECK_EQ_STR(p2.issuer, "Hotel Zur Post");
    CHECK_EQ_MEM(p2.reader_key, p.reader_key, TES_ACCESS_POINT_LEN);
    CHECK(tes_bytes_eq(p2.document, p.document));
    CHECK_EQ_INT(p2.revocation.len, 0);
    /* cut short, and an unknown member */
    CHECK_ERR(tes_access_key_package_parse(TES_BYTES(b.ptr, b.len - 1), &p2),
              TES_ERR_ACCESS_DOC_FORMAT);
    tes_buf_reset(&b);
    tes_cbor_enc e = {.out = &b};
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "v");
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_cstr(&e, "extra");
    tes_cbor_enc_uint(&e, 1);
    CHECK_ERR(tes_access_key_package_parse(tes_buf_bytes(&b), &p2), TES_ERR_ACCESS_DOC_FORMAT);
    tes_buf_free(&b);
}

/* The endpoint key in a PKCS#11 token (SoftHSM2, as the project installs it): the device
 * signs AUTH1 inside the token; standard then fast. */
TEST(endpoint_key_in_a_pkcs11_token)
{
    static const char *module = "/usr/lib/softhsm/libsofthsm2.so";
    REQUIRE(access(module, R_OK) == 0); /* not a skip: scripts/deps.sh installs softhsm2 */
    char tmp[] = "/tmp/tes_access_p11_XXXXXX", path[300], cmd[600];
    REQUIRE(mkdtemp(tmp) != NULL);
    snprintf(path, sizeof path, "%s/tokens", tmp);
    REQUIRE(mkdir(path, 0700) == 0);
    snprintf(cmd, sizeof cmd, "%s/softhsm2.conf", tmp);
    FILE *c = fopen(cmd, "w");
    REQUIRE(c != NULL);
    fprintf(c, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", path);
    fclose(c);
    REQUIRE(setenv("SOFTHSM2_CONF", cmd, 1) == 0);
    REQUIRE(system("softhsm2-util --init-token --free --label door --so-pin 12345678 "
                   "--pin 123456 >/dev/null") == 0);
    fx f;
    char spec[300];
    snprintf(spec, sizeof spec, "pkcs11:%s:door", module);
    REQUIRE(fx_init_se(&f, spec, "123456", "12345678"));
    tes_access_result r;
    CHECK_ERR(run_standard(&f, &r), TES_OK);
    CHECK_EQ_MEM(r.endpoint_key, f.ring.ep.endpoint_key, TES_ACCESS_POINT_LEN);
    tes_access_known k;
    memcpy(k.endpoint_key, r.endpoint_key, TES_ACCESS_POINT_LEN);
    memcpy(k.kpersistent, r.kpersistent, 32);
    tes_access_reader_opts o = fx_reader_opts(&f, &k, 1);
    tes_access_reader *x = NULL;
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    CHECK_EQ_INT(r.flow, TES_ACCESS_FLOW_FAST);
    CHECK_ERR(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED), TES_OK);
    tes_access_reader_free(x);
    fx_free(&f);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
}
