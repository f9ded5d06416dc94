/*
 * session: device engagement (QR URI, NFC Handover Select), SessionTranscript,
 * establishment and session encryption. The ISO 18013-5 Annex D session
 * vectors byte for byte, reader<->holder round trips over QR and NFC
 * engagement, and the attacks (altered, replayed, reordered, reflected,
 * cross-session messages; malformed engagements, URIs, NDEF and messages),
 * each with its exact error code.
 */
#include <stdlib.h>
#include <string.h>

#include "session/session_internal.h"
#include "tessera/cose.h"
#include "tessera/session.h"
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"
#include "vectors.h"

/* ---------- helpers ---------- */

/* An Annex D vector by name, or another set's by "set/name"; a failed load is a failed buf. */
static tes_buf vec(const char *name)
{
    tes_buf bin = {0};
    tes_err e = strchr(name, '/') ? tes_test_vector(name, &bin) : tes_test_annexd(name, &bin);
    if (e != TES_OK)
        bin.failed = true;
    return bin;
}

static tes_key *vec_private_key(const char *d_name)
{
    tes_buf d = vec(d_name);
    tes_key *k = NULL;
    if (d.failed || tes_key_from_ec_private(TES_CURVE_P256, tes_buf_bytes(&d), &k) != TES_OK)
        k = NULL;
    tes_buf_free(&d);
    return k;
}

static tes_buf hexbuf(const char *hex)
{
    tes_buf b = {0};
    if (tes_hex_decode(&b, hex, strlen(hex)) != TES_OK)
        b.failed = true;
    return b;
}

static bool buf_eq(const tes_buf *a, const tes_buf *b)
{
    return tes_bytes_eq(tes_buf_bytes(a), tes_buf_bytes(b));
}

static const tes_bytes NONE = {NULL, 0};

/* A holder and a reader that have completed establishment. */
typedef struct pair {
    tes_key *edev, *erdr;
    tes_engagement sent, received;
    tes_buf ndef; /* empty for QR */
    tes_session *reader, *holder;
} pair;

static void pair_free(pair *p)
{
    tes_session_free(p->reader);
    tes_session_free(p->holder);
    tes_engagement_free(&p->sent);
    tes_engagement_free(&p->received);
    tes_buf_free(&p->ndef);
    tes_key_free(p->edev);
    tes_key_free(p->erdr);
    memset(p, 0, sizeof(*p));
}

/* Engagement over QR (nfc false) or NFC static handover, then establishment
 * with `request`; the holder's decrypted request is checked. */
static bool pair_open(pair *p, bool nfc, const char *request)
{
    memset(p, 0, sizeof(*p));
    bool ok = tes_key_generate(TES_CURVE_P256, &p->edev) == TES_OK &&
              tes_key_generate(TES_CURVE_P256, &p->erdr) == TES_OK &&
              tes_engagement_build(p->edev, &p->sent) == TES_OK;
    if (!ok)
        return false;
    if (nfc) {
        uint32_t cmd = 0, rsp = 0;
        ok = tes_handover_select_build(&p->sent, 255, 65536, &p->ndef) == TES_OK &&
             tes_handover_select_parse(tes_buf_bytes(&p->ndef), &p->received, &cmd, &rsp) ==
                 TES_OK &&
             cmd == 255 && rsp == 65536;
    } else {
        tes_buf uri = {0};
        ok = tes_engagement_to_uri(&p->sent, &uri) == TES_OK &&
             tes_engagement_from_uri((const char *)uri.ptr, uri.len, &p->received) == TES_OK;
        tes_buf_free(&uri);
    }
    if (!ok || !buf_eq(&p->sent.bytes, &p->received.bytes))
        return false;
    tes_buf est = {0}, got = {0};
    tes_bytes req = TES_BYTES(request, strlen(request));
    ok = tes_session_reader_new(&p->received, p->erdr, tes_buf_bytes(&p->ndef), &p->reader) ==
             TES_OK &&
         tes_session_establish(p->reader, req, &est) == TES_OK &&
         tes_session_holder_accept(&p->sent, p->edev, tes_buf_bytes(&p->ndef), tes_buf_bytes(&est),
                                   &p->holder, &got) == TES_OK &&
         tes_bytes_eq(tes_buf_bytes(&got), req) &&
         tes_bytes_eq(tes_session_transcript_bytes(p->reader),
                      tes_session_transcript_bytes(p->holder));
    tes_buf_free(&est);
    tes_buf_free(&got);
    return ok;
}

/* One message from `from` to `to`; checks the payload arrives. */
static bool send_ok(tes_session *from, tes_session *to, const char *msg)
{
    tes_buf sd = {0}, out = {0};
    uint64_t st = 99;
    bool ok = tes_session_encrypt(from, TES_BYTES(msg, strlen(msg)), false, &sd) == TES_OK &&
              tes_session_decrypt(to, tes_buf_bytes(&sd), &out, &st) == TES_OK && st == 0 &&
              tes_bytes_eq(tes_buf_bytes(&out), TES_BYTES(msg, strlen(msg)));
    tes_buf_free(&sd);
    tes_buf_free(&out);
    return ok;
}

/* The session refuses every further use. */
static void check_dead(tes_session *s)
{
    tes_buf out = {0};
    uint64_t st;
    CHECK_ERR(tes_session_encrypt(s, TES_BYTES_STR("x"), false, &out), TES_ERR_STATE);
    CHECK_ERR(tes_session_decrypt(s, TES_BYTES_STR("\xa1\x66status\x14"), &out, &st),
              TES_ERR_STATE);
    CHECK_EQ_INT(out.len, 0);
    tes_buf_free(&out);
}

/* ---------- Annex D ---------- */

typedef struct annexd {
    tes_buf hs, hr, de_nfc, de_qr, edev_key_bytes, est, request, sd, response, term, transcript;
    tes_key *edev, *erdr;
} annexd;

static bool annexd_load(annexd *a)
{
    memset(a, 0, sizeof(*a));
    a->hs = vec("extracted_nfc_handover_select");
    a->hr = vec("extracted_nfc_handover_request");
    a->de_nfc = vec("extracted_device_engagement_nfc");
    a->de_qr = vec("device_engagement");
    a->edev_key_bytes = vec("e_device_key_bytes");
    a->est = vec("session_establishment");
    a->request = vec("device_request");
    a->sd = vec("session_data");
    a->response = vec("device_response");
    a->term = vec("session_termination");
    a->transcript = vec("extracted_session_transcript_untagged");
    a->edev = vec_private_key("edevice_key_d");
    a->erdr = vec_private_key("ereader_key_d");
    return !a->hs.failed && !a->hr.failed && !a->de_nfc.failed && !a->de_qr.failed &&
           !a->edev_key_bytes.failed && !a->est.failed && !a->request.failed && !a->sd.failed &&
           !a->response.failed && !a->term.failed && !a->transcript.failed && a->edev && a->erdr;
}

static void annexd_free(annexd *a)
{
    tes_buf *bufs[] = {&a->hs,      &a->hr, &a->de_nfc,   &a->de_qr, &a->edev_key_bytes, &a->est,
                       &a->request, &a->sd, &a->response, &a->term,  &a->transcript};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        tes_buf_free(bufs[i]);
    tes_key_free(a->edev);
    tes_key_free(a->erdr);
}

TEST(annexd_handover_select_yields_the_engagement)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    tes_engagement e;
    uint32_t cmd = 7, rsp = 7;
    CHECK_ERR(tes_handover_select_parse(tes_buf_bytes(&a.hs), &e, &cmd, &rsp), TES_OK);
    CHECK(buf_eq(&e.bytes, &a.de_nfc));
    CHECK(buf_eq(&e.edevice_key_bytes, &a.edev_key_bytes));
    CHECK(e.edevice_pub != NULL && tes_key_equal_public(e.edevice_pub, a.edev));
    /* the Annex D Hs offers BLE only: no NFC carrier record */
    CHECK_EQ_INT(cmd, 0);
    CHECK_EQ_INT(rsp, 0);
    tes_engagement_free(&e);
    /* lengths are optional outputs */
    CHECK_ERR(tes_handover_select_parse(tes_buf_bytes(&a.hs), &e, NULL, NULL), TES_OK);
    tes_engagement_free(&e);
    annexd_free(&a);
}

TEST(annexd_qr_engagement_with_ble_parses)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    tes_engagement e;
    CHECK_ERR(tes_engagement_parse(tes_buf_bytes(&a.de_qr), &e), TES_OK);
    CHECK(buf_eq(&e.bytes, &a.de_qr));
    CHECK(buf_eq(&e.edevice_key_bytes, &a.edev_key_bytes));
    CHECK(e.edevice_pub && tes_key_equal_public(e.edevice_pub, a.edev));
    /* and through an mdoc: URI, unpadded and padded (116 bytes: one '=') */
    tes_buf uri = {0};
    CHECK_ERR(tes_engagement_to_uri(&e, &uri), TES_OK);
    CHECK(uri.len > 5 && memcmp(uri.ptr, "mdoc:", 5) == 0 && uri.ptr[uri.len - 1] != '=');
    tes_engagement e2;
    CHECK_ERR(tes_engagement_from_uri((const char *)uri.ptr, uri.len, &e2), TES_OK);
    CHECK(buf_eq(&e2.bytes, &a.de_qr));
    tes_engagement_free(&e2);
    tes_buf_append(&uri, "=", 1);
    CHECK_ERR(tes_engagement_from_uri((const char *)uri.ptr, uri.len, &e2), TES_OK);
    CHECK(buf_eq(&e2.bytes, &a.de_qr));
    tes_engagement_free(&e2);
    tes_buf_free(&uri);
    tes_engagement_free(&e);
    annexd_free(&a);
}

TEST(annexd_holder_accepts_establishment_and_encrypts_response)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    /* the holder's engagement, rebuilt from the bytes it sent, with its private key */
    tes_engagement e;
    REQUIRE(tes_handover_select_parse(tes_buf_bytes(&a.hs), &e, NULL, NULL) == TES_OK);
    tes_session *h = NULL;
    tes_buf req = {0};
    /* Annex D uses NFC *negotiated* handover: Handover = [Hs, Hr] */
    tes_err err = session_holder_accept_ex(&e, a.edev, tes_buf_bytes(&a.hs), tes_buf_bytes(&a.hr),
                                           tes_buf_bytes(&a.est), &h, &req);
    if (err != TES_OK)
        fprintf(stderr, "  %s: %s\n", tes_err_name(err), tes_err_message());
    CHECK_ERR(err, TES_OK);
    REQUIRE(h != NULL);
    CHECK(buf_eq(&req, &a.request));
    tes_bytes t = tes_session_transcript_bytes(h);
    CHECK_EQ_INT(t.len, a.transcript.len);
    CHECK(tes_bytes_eq(t, tes_buf_bytes(&a.transcript)));
    /* same key, IV (mdoc, counter 1): the response encrypts to the vector exactly */
    tes_buf sd = {0};
    CHECK_ERR(tes_session_encrypt(h, tes_buf_bytes(&a.response), false, &sd), TES_OK);
    CHECK_EQ_INT(sd.len, a.sd.len);
    CHECK(buf_eq(&sd, &a.sd));
    /* the termination the reader sends ends the holder's session */
    uint64_t st = 1;
    tes_buf out = {0};
    CHECK_ERR(tes_session_decrypt(h, tes_buf_bytes(&a.term), &out, &st), TES_OK);
    CHECK_EQ_INT(st, TES_SESSION_STATUS_TERMINATION);
    CHECK_EQ_INT(out.len, 0);
    check_dead(h);
    tes_buf_free(&out);
    tes_buf_free(&sd);
    tes_buf_free(&req);
    tes_session_free(h);
    tes_engagement_free(&e);
    annexd_free(&a);
}

TEST(annexd_reader_establishes_and_decrypts_response)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    tes_engagement e;
    REQUIRE(tes_handover_select_parse(tes_buf_bytes(&a.hs), &e, NULL, NULL) == TES_OK);
    tes_session *r = NULL;
    CHECK_ERR(session_reader_new_ex(&e, a.erdr, tes_buf_bytes(&a.hs), tes_buf_bytes(&a.hr), &r),
              TES_OK);
    REQUIRE(r != NULL);
    CHECK(tes_bytes_eq(tes_session_transcript_bytes(r), tes_buf_bytes(&a.transcript)));
    /* the reader's establishment is the vector byte for byte (counter 1, reader IV) */
    tes_buf est = {0};
    CHECK_ERR(tes_session_establish(r, tes_buf_bytes(&a.request), &est), TES_OK);
    CHECK(buf_eq(&est, &a.est));
    tes_buf out = {0};
    uint64_t st = 99;
    CHECK_ERR(tes_session_decrypt(r, tes_buf_bytes(&a.sd), &out, &st), TES_OK);
    CHECK_EQ_INT(st, 0);
    CHECK(buf_eq(&out, &a.response));
    tes_buf_reset(&out);
    CHECK_ERR(tes_session_decrypt(r, tes_buf_bytes(&a.term), &out, &st), TES_OK);
    CHECK_EQ_INT(st, TES_SESSION_STATUS_TERMINATION);
    CHECK_EQ_INT(out.len, 0);
    check_dead(r);
    tes_buf_free(&out);
    tes_buf_free(&est);
    tes_session_free(r);
    tes_engagement_free(&e);
    annexd_free(&a);
}

TEST(annexd_termination_and_status_encoding)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    tes_buf t = {0};
    CHECK_ERR(tes_session_status(TES_SESSION_STATUS_TERMINATION, &t), TES_OK);
    CHECK(buf_eq(&t, &a.term));
    tes_buf_free(&t);
    CHECK_ERR(tes_session_status(10, &t), TES_OK);
    CHECK_ERR(tes_session_status(11, &t), TES_OK);
    CHECK_ERR(tes_session_status(0, &t), TES_ERR_ARG);
    CHECK_ERR(tes_session_status(21, &t), TES_ERR_ARG);
    tes_buf_free(&t);
    annexd_free(&a);
}

/* The public API knows only static handover ([Hs, null]); Annex D's transcript
 * uses [Hs, Hr], so the public holder path derives other keys there. */
TEST(annexd_static_handover_transcript_differs_from_negotiated)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    tes_engagement e;
    REQUIRE(tes_handover_select_parse(tes_buf_bytes(&a.hs), &e, NULL, NULL) == TES_OK);
    tes_buf t = {0};
    /* EReaderKeyBytes: the transcript's second item */
    tes_bytes erk = TES_BYTES(a.transcript.ptr + 1 + 4 + 88, 4 + 75);
    CHECK(erk.ptr[0] == 0xd8 && erk.ptr[1] == 0x18);
    CHECK_ERR(tes_session_transcript(&e, erk, tes_buf_bytes(&a.hs), &t), TES_OK);
    /* same up to the Handover, which is [Hs, null] */
    size_t prefix = 1 + 4 + 88 + 79;
    CHECK(t.len == prefix + 1 + 2 + a.hs.len + 1);
    CHECK(t.len > prefix && memcmp(t.ptr, a.transcript.ptr, prefix) == 0);
    CHECK(t.ptr[prefix] == 0x82 && t.ptr[t.len - 1] == 0xf6);
    tes_buf_reset(&t);
    CHECK_ERR(session_transcript_ex(&e, erk, tes_buf_bytes(&a.hs), tes_buf_bytes(&a.hr), &t),
              TES_OK);
    CHECK(buf_eq(&t, &a.transcript));
    tes_buf_reset(&t);
    /* QR: null handover */
    CHECK_ERR(tes_session_transcript(&e, erk, NONE, &t), TES_OK);
    CHECK(t.len == prefix + 1 && t.ptr[prefix] == 0xf6);
    tes_buf_reset(&t);
    CHECK_ERR(session_transcript_ex(&e, erk, NONE, tes_buf_bytes(&a.hr), &t), TES_ERR_ARG);
    CHECK_ERR(tes_session_transcript(&e, TES_BYTES_STR("\x40"), NONE, &t), TES_ERR_ARG);
    tes_buf_free(&t);

    tes_session *h = NULL;
    tes_buf req = {0};
    CHECK_ERR(tes_session_holder_accept(&e, a.edev, tes_buf_bytes(&a.hs), tes_buf_bytes(&a.est), &h,
                                        &req),
              TES_ERR_SESSION_DECRYPT);
    CHECK(h == NULL);
    CHECK_EQ_INT(req.len, 0);
    tes_buf_free(&req);
    tes_engagement_free(&e);
    annexd_free(&a);
}

/* ---------- round trips ---------- */

static void round_trip(bool nfc)
{
    pair p;
    REQUIRE(pair_open(&p, nfc, "device request 1"));
    CHECK(send_ok(p.holder, p.reader, "response 1"));
    CHECK(send_ok(p.holder, p.reader, "response 2"));
    CHECK(send_ok(p.reader, p.holder, "request 2"));
    CHECK(send_ok(p.reader, p.holder, "request 3"));
    CHECK(send_ok(p.holder, p.reader, ""));
    CHECK(send_ok(p.holder, p.reader, "response 4"));
    /* the holder's last message carries status 20 */
    tes_buf sd = {0}, out = {0};
    uint64_t st = 0;
    CHECK_ERR(tes_session_encrypt(p.holder, TES_BYTES_STR("last"), true, &sd), TES_OK);
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&sd), &out, &st), TES_OK);
    CHECK_EQ_INT(st, TES_SESSION_STATUS_TERMINATION);
    CHECK(tes_bytes_eq(tes_buf_bytes(&out), TES_BYTES_STR("last")));
    check_dead(p.reader);
    check_dead(p.holder);
    tes_buf_free(&sd);
    tes_buf_free(&out);
    pair_free(&p);
}

TEST(round_trip_qr)
{
    round_trip(false);
}

TEST(round_trip_nfc_static_handover)
{
    round_trip(true);
}

TEST(nfc_transcript_holds_handover_select)
{
    pair p;
    REQUIRE(pair_open(&p, true, "req"));
    tes_bytes t = tes_session_transcript_bytes(p.holder);
    /* ends with [bstr(Hs), null] */
    CHECK(t.len > p.ndef.len + 1 && t.ptr[t.len - 1] == 0xf6);
    CHECK(memcmp(t.ptr + t.len - 1 - p.ndef.len, p.ndef.ptr, p.ndef.len) == 0);
    pair_free(&p);
    REQUIRE(pair_open(&p, false, "req"));
    t = tes_session_transcript_bytes(p.holder);
    CHECK(t.len > 0 && t.ptr[t.len - 1] == 0xf6 && t.ptr[t.len - 2] != 0x82);
    pair_free(&p);
}

TEST(handover_select_layout)
{
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    tes_engagement e;
    REQUIRE(tes_engagement_build(k, &e) == TES_OK);
    tes_buf n = {0};
    CHECK_ERR(tes_handover_select_build(&e, 0x1234, 0x010000, &n), TES_OK);
    tes_buf want = hexbuf("9102114873"
                          "15"
                          "d1020b6163"
                          "01036e6663"
                          "01046d646f63"
                          "1c110a03"
                          "69736f2e6f72673a31383031333a6e6663"
                          "6e6663"
                          "01"
                          "03011234"
                          "0402010000");
    REQUIRE(n.len > want.len);
    CHECK_EQ_MEM(n.ptr, want.ptr, want.len);
    /* then the DE record: SR (88 B < 256), ME, IL, external */
    const uint8_t *de = n.ptr + want.len;
    CHECK(de[0] == 0x5c && de[1] == 30 && de[2] == e.bytes.len && de[3] == 4);
    CHECK(memcmp(de + 4, "iso.org:18013:deviceengagement", 30) == 0);
    CHECK(memcmp(de + 34, "mdoc", 4) == 0);
    CHECK(n.len == want.len + 38 + e.bytes.len && memcmp(de + 38, e.bytes.ptr, e.bytes.len) == 0);
    uint32_t cmd, rsp;
    tes_engagement back;
    CHECK_ERR(tes_handover_select_parse(tes_buf_bytes(&n), &back, &cmd, &rsp), TES_OK);
    CHECK_EQ_INT(cmd, 0x1234);
    CHECK_EQ_INT(rsp, 0x010000);
    tes_engagement_free(&back);
    CHECK_ERR(tes_handover_select_build(&e, 0, 100, &n), TES_ERR_ARG);
    CHECK_ERR(tes_handover_select_build(&e, 0x10000, 100, &n), TES_ERR_ARG);
    CHECK_ERR(tes_handover_select_build(&e, 100, 0x1000000, &n), TES_ERR_ARG);
    tes_buf_free(&want);
    tes_buf_free(&n);
    tes_engagement_free(&e);
    tes_key_free(k);
}

/* An engagement of more than 255 bytes goes into a long (non-SR) record. */
TEST(handover_select_long_record)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    /* the QR engagement with an extra key 9 holding a 300-byte bstr (tolerated) */
    tes_buf de = {0};
    tes_buf_append(&de, "\xa4", 1);
    tes_buf_append(&de, a.de_qr.ptr + 1, a.de_qr.len - 1);
    tes_buf_append(&de, "\x09\x59\x01\x2c", 4);
    uint8_t pad[300] = {0};
    tes_buf_append(&de, pad, sizeof pad);
    tes_engagement e;
    REQUIRE(tes_engagement_parse(tes_buf_bytes(&de), &e) == TES_OK);
    tes_buf n = {0};
    CHECK_ERR(tes_handover_select_build(&e, 255, 255, &n), TES_OK);
    /* the last record: ME|IL|TNF 4, 4-byte length */
    const uint8_t *r = n.ptr + n.len - (6 + 1 + 30 + 4 + de.len);
    CHECK(r[0] == 0x4c && r[1] == 30 && r[2] == 0 && r[3] == 0 && r[4] == 0x01 &&
          r[5] == (de.len & 0xff));
    tes_engagement back;
    CHECK_ERR(tes_handover_select_parse(tes_buf_bytes(&n), &back, NULL, NULL), TES_OK);
    CHECK(buf_eq(&back.bytes, &de));
    tes_engagement_free(&back);
    tes_engagement_free(&e);
    tes_buf_free(&n);
    tes_buf_free(&de);
    annexd_free(&a);
}

/* ---------- attacks on session messages ---------- */

TEST(flipped_ciphertext_bit_kills_the_session)
{
    pair p;
    REQUIRE(pair_open(&p, false, "req"));
    tes_buf sd = {0}, out = {0};
    uint64_t st;
    REQUIRE(tes_session_encrypt(p.holder, TES_BYTES_STR("the response"), false, &sd) == TES_OK);
    sd.ptr[sd.len - 20] ^= 0x01; /* inside the ciphertext body */
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&sd), &out, &st),
              TES_ERR_SESSION_DECRYPT);
    CHECK_EQ_INT(out.len, 0);
    /* even the intact message is refused now */
    sd.ptr[sd.len - 20] ^= 0x01;
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&sd), &out, &st), TES_ERR_STATE);
    CHECK_ERR(tes_session_establish(p.reader, TES_BYTES_STR("x"), &out), TES_ERR_STATE);
    check_dead(p.reader);
    tes_buf_free(&sd);
    /* a flipped tag bit, holder side */
    REQUIRE(tes_session_encrypt(p.reader, TES_BYTES_STR("x"), false, &sd) == TES_ERR_STATE);
    pair_free(&p);
    REQUIRE(pair_open(&p, true, "req"));
    REQUIRE(tes_session_encrypt(p.reader, TES_BYTES_STR("request 2"), false, &sd) == TES_OK);
    sd.ptr[sd.len - 1] ^= 0x80;
    CHECK_ERR(tes_session_decrypt(p.holder, tes_buf_bytes(&sd), &out, &st),
              TES_ERR_SESSION_DECRYPT);
    check_dead(p.holder);
    tes_buf_free(&sd);
    tes_buf_free(&out);
    pair_free(&p);
}

TEST(replayed_message_fails)
{
    pair p;
    REQUIRE(pair_open(&p, false, "req"));
    tes_buf sd = {0}, out = {0};
    uint64_t st;
    REQUIRE(tes_session_encrypt(p.holder, TES_BYTES_STR("r1"), false, &sd) == TES_OK);
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&sd), &out, &st), TES_OK);
    tes_buf_reset(&out);
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&sd), &out, &st),
              TES_ERR_SESSION_DECRYPT);
    CHECK_EQ_INT(out.len, 0);
    check_dead(p.reader);
    tes_buf_free(&sd);
    tes_buf_free(&out);
    pair_free(&p);
}

TEST(replayed_establishment_fails_as_session_data)
{
    pair p;
    REQUIRE(pair_open(&p, false, "req"));
    /* a second establishment (the first one replayed) is not SessionData */
    tes_buf est = {0}, out = {0};
    tes_session *r2 = NULL;
    REQUIRE(tes_session_reader_new(&p.received, p.erdr, NONE, &r2) == TES_OK);
    REQUIRE(tes_session_establish(r2, TES_BYTES_STR("req"), &est) == TES_OK);
    uint64_t st;
    CHECK_ERR(tes_session_decrypt(p.holder, tes_buf_bytes(&est), &out, &st),
              TES_ERR_SESSION_MESSAGE);
    check_dead(p.holder);
    tes_session_free(r2);
    tes_buf_free(&est);
    tes_buf_free(&out);
    pair_free(&p);
}

TEST(reordered_messages_fail)
{
    pair p;
    REQUIRE(pair_open(&p, true, "req"));
    tes_buf m1 = {0}, m2 = {0}, out = {0};
    uint64_t st;
    REQUIRE(tes_session_encrypt(p.holder, TES_BYTES_STR("one"), false, &m1) == TES_OK);
    REQUIRE(tes_session_encrypt(p.holder, TES_BYTES_STR("two"), false, &m2) == TES_OK);
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&m2), &out, &st),
              TES_ERR_SESSION_DECRYPT);
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&m1), &out, &st), TES_ERR_STATE);
    CHECK_EQ_INT(out.len, 0);
    tes_buf_free(&m1);
    tes_buf_free(&m2);
    tes_buf_free(&out);
    pair_free(&p);
}

TEST(reflected_messages_fail)
{
    pair p;
    REQUIRE(pair_open(&p, false, "req"));
    tes_buf m = {0}, out = {0};
    uint64_t st;
    /* the reader's own message (counter 2) back to the reader */
    REQUIRE(tes_session_encrypt(p.reader, TES_BYTES_STR("request 2"), false, &m) == TES_OK);
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&m), &out, &st), TES_ERR_SESSION_DECRYPT);
    check_dead(p.reader);
    tes_buf_free(&m);
    pair_free(&p);
    /* the holder's own first message (counter 1, the counter it expects... 2) back to it */
    REQUIRE(pair_open(&p, false, "req"));
    REQUIRE(tes_session_encrypt(p.holder, TES_BYTES_STR("response"), false, &m) == TES_OK);
    CHECK_ERR(tes_session_decrypt(p.holder, tes_buf_bytes(&m), &out, &st), TES_ERR_SESSION_DECRYPT);
    check_dead(p.holder);
    tes_buf_free(&m);
    pair_free(&p);
    /* counters aligned: the reader's message with counter 2 reflected to a reader that
     * expects counter 2 from the mdoc (after one response) — the identifier and key differ */
    REQUIRE(pair_open(&p, false, "req"));
    REQUIRE(send_ok(p.holder, p.reader, "response 1"));
    REQUIRE(tes_session_encrypt(p.reader, TES_BYTES_STR("request 2"), false, &m) == TES_OK);
    CHECK_ERR(tes_session_decrypt(p.reader, tes_buf_bytes(&m), &out, &st), TES_ERR_SESSION_DECRYPT);
    tes_buf_free(&m);
    tes_buf_free(&out);
    pair_free(&p);
}

TEST(message_from_another_session_fails)
{
    pair a, b;
    REQUIRE(pair_open(&a, false, "req"));
    REQUIRE(pair_open(&b, false, "req"));
    tes_buf m = {0}, out = {0};
    uint64_t st;
    REQUIRE(tes_session_encrypt(a.holder, TES_BYTES_STR("response of a"), false, &m) == TES_OK);
    CHECK_ERR(tes_session_decrypt(b.reader, tes_buf_bytes(&m), &out, &st), TES_ERR_SESSION_DECRYPT);
    check_dead(b.reader);
    /* a still works: nothing was consumed */
    CHECK_ERR(tes_session_decrypt(a.reader, tes_buf_bytes(&m), &out, &st), TES_OK);
    tes_buf_free(&m);
    /* an establishment for session a given to b's holder */
    tes_session *r = NULL, *h = NULL;
    tes_buf est = {0};
    REQUIRE(tes_session_reader_new(&a.received, a.erdr, NONE, &r) == TES_OK);
    REQUIRE(tes_session_establish(r, TES_BYTES_STR("req"), &est) == TES_OK);
    tes_buf_reset(&out);
    CHECK_ERR(tes_session_holder_accept(&b.sent, b.edev, NONE, tes_buf_bytes(&est), &h, &out),
              TES_ERR_SESSION_DECRYPT);
    CHECK(h == NULL);
    CHECK_EQ_INT(out.len, 0);
    /* QR establishment given to a holder that engaged over NFC (other transcript) */
    pair n;
    REQUIRE(pair_open(&n, true, "req"));
    tes_session *rq = NULL;
    tes_buf est2 = {0};
    REQUIRE(tes_session_reader_new(&n.received, n.erdr, NONE, &rq) == TES_OK);
    REQUIRE(tes_session_establish(rq, TES_BYTES_STR("req"), &est2) == TES_OK);
    CHECK_ERR(tes_session_holder_accept(&n.sent, n.edev, tes_buf_bytes(&n.ndef),
                                        tes_buf_bytes(&est2), &h, &out),
              TES_ERR_SESSION_DECRYPT);
    tes_session_free(rq);
    tes_buf_free(&est2);
    pair_free(&n);
    tes_session_free(r);
    tes_buf_free(&est);
    tes_buf_free(&out);
    pair_free(&a);
    pair_free(&b);
}

/* ---------- SessionData shapes and statuses ---------- */

static void expect_session_data(const char *hex, tes_err want, uint64_t want_status)
{
    pair p;
    REQUIRE(pair_open(&p, false, "req"));
    tes_buf in = hexbuf(hex), out = {0};
    uint64_t st = 77;
    tes_err got = tes_session_decrypt(p.reader, tes_buf_bytes(&in), &out, &st);
    CHECK_ERR(got, want);
    if (got != want)
        fprintf(stderr, "    input %s: %s\n", hex, tes_err_message());
    CHECK_EQ_INT(st, want_status);
    CHECK_EQ_INT(out.len, 0);
    if (want != TES_OK || want_status != 0)
        check_dead(p.reader);
    tes_buf_free(&in);
    tes_buf_free(&out);
    pair_free(&p);
}

TEST(session_data_statuses)
{
    expect_session_data("a16673746174757314", TES_OK, 20);
    expect_session_data("a1667374617475730a", TES_OK, 10);
    expect_session_data("a1667374617475730b", TES_OK, 11);
}

TEST(malformed_session_data)
{
    expect_session_data("a0", TES_ERR_SESSION_MESSAGE, 0);                   /* {} */
    expect_session_data("80", TES_ERR_SESSION_MESSAGE, 0);                   /* [] */
    expect_session_data("a1646461746163616263", TES_ERR_SESSION_MESSAGE, 0); /* data: "abc" */
    expect_session_data("a16673746174757315", TES_ERR_SESSION_MESSAGE, 0);   /* status 21 */
    expect_session_data("a16673746174757320", TES_ERR_SESSION_MESSAGE, 0);   /* status -1 */
    expect_session_data("a1667374617475736132", TES_ERR_SESSION_MESSAGE, 0); /* status "2" */
    /* an unknown member next to status */
    expect_session_data("a26673746174757314636b657901", TES_ERR_SESSION_MESSAGE, 0);
    /* trailing bytes, truncation, not CBOR */
    expect_session_data("a1667374617475731400", TES_ERR_SESSION_MESSAGE, 0);
    expect_session_data("a16673746174", TES_ERR_SESSION_MESSAGE, 0);
    expect_session_data("ff", TES_ERR_SESSION_MESSAGE, 0);
    expect_session_data("", TES_ERR_SESSION_MESSAGE, 0);
    /* data too short for a tag, and a well-formed but wrong ciphertext */
    expect_session_data("a164646174614401020304", TES_ERR_SESSION_DECRYPT, 0);
    expect_session_data("a1646461746150000102030405060708090a0b0c0d0e0f", TES_ERR_SESSION_DECRYPT,
                        0);
}

TEST(call_sequence_is_enforced)
{
    tes_key *edev = NULL, *erdr = NULL, *p384 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &edev) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &erdr) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P384, &p384) == TES_OK);
    tes_engagement e;
    REQUIRE(tes_engagement_build(edev, &e) == TES_OK);
    tes_session *r = NULL;
    tes_buf out = {0};
    uint64_t st;
    CHECK_ERR(tes_session_reader_new(&e, p384, NONE, &r), TES_ERR_ARG);
    CHECK_ERR(tes_session_reader_new(&e, e.edevice_pub, NONE, &r), TES_ERR_ARG); /* public only */
    REQUIRE(tes_session_reader_new(&e, erdr, NONE, &r) == TES_OK);
    /* before the establishment, nothing else */
    CHECK_ERR(tes_session_encrypt(r, TES_BYTES_STR("x"), false, &out), TES_ERR_STATE);
    CHECK_ERR(tes_session_decrypt(r, TES_BYTES_STR("\xa1\x66status\x14"), &out, &st),
              TES_ERR_STATE);
    tes_buf est = {0};
    CHECK_ERR(tes_session_establish(r, TES_BYTES_STR("req"), &est), TES_OK);
    CHECK_ERR(tes_session_establish(r, TES_BYTES_STR("req"), &out), TES_ERR_STATE);
    CHECK_EQ_INT(out.len, 0);
    tes_session *h = NULL;
    tes_buf req = {0};
    /* the holder needs the engagement's own private key */
    CHECK_ERR(tes_session_holder_accept(&e, erdr, NONE, tes_buf_bytes(&est), &h, &req),
              TES_ERR_ARG);
    CHECK_ERR(tes_session_holder_accept(&e, edev, NONE, tes_buf_bytes(&est), &h, &req), TES_OK);
    CHECK_ERR(tes_session_establish(h, TES_BYTES_STR("req"), &out), TES_ERR_STATE);
    /* after a final message, the sender is done */
    CHECK_ERR(tes_session_encrypt(h, TES_BYTES_STR("resp"), true, &out), TES_OK);
    CHECK_ERR(tes_session_encrypt(h, TES_BYTES_STR("more"), false, &out), TES_ERR_STATE);
    CHECK_ERR(tes_session_decrypt(NULL, TES_BYTES_STR("\xa0"), &out, &st), TES_ERR_ARG);
    CHECK(tes_session_transcript_bytes(NULL).len == 0);
    tes_session_free(NULL);
    tes_session_free(h);
    tes_session_free(r);
    tes_buf_free(&req);
    tes_buf_free(&est);
    tes_buf_free(&out);
    tes_engagement_free(&e);
    tes_engagement_free(&e); /* idempotent */
    tes_key_free(edev);
    tes_key_free(erdr);
    tes_key_free(p384);
}

/* ---------- malformed SessionEstablishment ---------- */

/* 24(bstr(COSE_Key of k)) */
static tes_buf key_bytes(const tes_key *k)
{
    tes_buf cose = {0}, out = {0};
    tes_cbor_enc ce = {.out = &cose};
    tes_cose_key_write(&ce, k);
    if (tes_cbor_enc_finish(&ce) == TES_OK) {
        tes_cbor_enc oe = {.out = &out};
        tes_cbor_enc_tag(&oe, 24);
        tes_cbor_enc_bytes(&oe, cose.ptr, cose.len);
        if (tes_cbor_enc_finish(&oe) != TES_OK)
            out.failed = true;
    }
    tes_buf_free(&cose);
    return out;
}

TEST(malformed_establishment)
{
    tes_key *edev = NULL, *erdr = NULL, *p384 = NULL, *ed = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &edev) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &erdr) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P384, &p384) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_ED25519, &ed) == TES_OK);
    tes_engagement e;
    REQUIRE(tes_engagement_build(edev, &e) == TES_OK);
    tes_buf kb = key_bytes(erdr), kb384 = key_bytes(p384), kbed = key_bytes(ed);
    REQUIRE(!kb.failed && !kb384.failed && !kbed.failed);
    tes_bytes k = tes_buf_bytes(&kb);
    tes_bytes inner = TES_BYTES(kb.ptr + 4, kb.len - 4); /* d818 5849 | COSE_Key */
    REQUIRE(kb.ptr[2] == 0x58 && kb.ptr[3] == kb.len - 4);

    struct {
        const char *what;
        int shape;
        tes_err want;
    } cases[] = {
        {"missing eReaderKey", 0, TES_ERR_SESSION_MESSAGE},
        {"missing data", 1, TES_ERR_SESSION_MESSAGE},
        {"data not bstr", 2, TES_ERR_SESSION_MESSAGE},
        {"eReaderKey not tag 24", 3, TES_ERR_SESSION_MESSAGE},
        {"eReaderKey a plain COSE_Key map", 4, TES_ERR_SESSION_MESSAGE},
        {"eReaderKey P-384", 5, TES_ERR_SESSION_MESSAGE},
        {"eReaderKey Ed25519", 6, TES_ERR_SESSION_MESSAGE},
        {"trailing bytes", 7, TES_ERR_SESSION_MESSAGE},
        {"extra member", 8, TES_ERR_SESSION_MESSAGE},
        {"not a map", 9, TES_ERR_SESSION_MESSAGE},
        {"eReaderKey tag 24 of garbage", 10, TES_ERR_SESSION_MESSAGE},
        {"truncated", 11, TES_ERR_SESSION_MESSAGE},
        {"data wrong ciphertext", 12, TES_ERR_SESSION_DECRYPT},
        {"empty input", 13, TES_ERR_SESSION_MESSAGE},
    };
    const uint8_t ct[20] = {1, 2, 3};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tes_buf m = {0};
        tes_cbor_enc en = {.out = &m};
        int s = cases[i].shape;
        if (s == 9) {
            tes_cbor_enc_array(&en, 2);
            tes_cbor_enc_raw(&en, k);
            tes_cbor_enc_bytes(&en, ct, sizeof ct);
        } else if (s != 13) {
            tes_cbor_enc_map(&en, s == 0 || s == 1 ? 1 : s == 8 ? 3 : 2);
            if (s != 0) {
                tes_cbor_enc_cstr(&en, "eReaderKey");
                if (s == 3)
                    tes_cbor_enc_bytes(&en, inner.ptr, inner.len);
                else if (s == 4)
                    tes_cbor_enc_raw(&en, inner);
                else if (s == 5)
                    tes_cbor_enc_raw(&en, tes_buf_bytes(&kb384));
                else if (s == 6)
                    tes_cbor_enc_raw(&en, tes_buf_bytes(&kbed));
                else if (s == 10) {
                    tes_cbor_enc_tag(&en, 24);
                    tes_cbor_enc_bytes(&en, "\xa1\x01", 2);
                } else
                    tes_cbor_enc_raw(&en, k);
            }
            if (s != 1) {
                tes_cbor_enc_cstr(&en, "data");
                if (s == 2)
                    tes_cbor_enc_cstr(&en, "ciphertext");
                else
                    tes_cbor_enc_bytes(&en, ct, sizeof ct);
            }
            if (s == 8) {
                tes_cbor_enc_cstr(&en, "extra");
                tes_cbor_enc_uint(&en, 1);
            }
        }
        REQUIRE(tes_cbor_enc_finish(&en) == TES_OK);
        if (s == 7)
            tes_buf_append(&m, "\x00", 1);
        if (s == 11)
            m.len -= 3;
        tes_session *h = (tes_session *)&m; /* must be reset to NULL */
        tes_buf req = {0};
        tes_err got = tes_session_holder_accept(&e, edev, NONE, tes_buf_bytes(&m), &h, &req);
        if (got != cases[i].want)
            fprintf(stderr, "    case \"%s\": %s\n", cases[i].what, tes_err_message());
        CHECK_ERR(got, cases[i].want);
        CHECK(h == NULL);
        CHECK_EQ_INT(req.len, 0);
        tes_buf_free(&req);
        tes_buf_free(&m);
    }
    tes_buf_free(&kb);
    tes_buf_free(&kb384);
    tes_buf_free(&kbed);
    tes_engagement_free(&e);
    tes_key_free(edev);
    tes_key_free(erdr);
    tes_key_free(p384);
    tes_key_free(ed);
}

/* ---------- malformed engagements ---------- */

static void expect_engagement(const char *what, tes_bytes in, tes_err want)
{
    tes_engagement e;
    memset(&e, 0x5a, sizeof e);
    tes_err got = tes_engagement_parse(in, &e);
    if (got != want)
        fprintf(stderr, "    engagement \"%s\": %s\n", what, tes_err_message());
    CHECK_ERR(got, want);
    if (want != TES_OK)
        CHECK(e.bytes.len == 0 && e.edevice_pub == NULL && e.edevice_key_bytes.len == 0);
    else
        CHECK(tes_bytes_eq(tes_buf_bytes(&e.bytes), in) && e.edevice_pub != NULL);
    tes_engagement_free(&e);
}

TEST(engagement_build_and_parse)
{
    tes_key *k = NULL, *p384 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P384, &p384) == TES_OK);
    tes_engagement e, back;
    REQUIRE(tes_engagement_build(k, &e) == TES_OK);
    /* {0: "1.0", 1: [1, 24(<<COSE_Key>>)]} */
    CHECK(e.bytes.len == 88);
    CHECK_EQ_MEM(e.bytes.ptr,
                 "\xa2\x00\x63"
                 "1.0"
                 "\x01\x82\x01\xd8\x18\x58\x4b",
                 13);
    CHECK(e.edevice_key_bytes.len == 79 &&
          memcmp(e.bytes.ptr + 9, e.edevice_key_bytes.ptr, 79) == 0);
    CHECK(e.edevice_pub && tes_key_equal_public(e.edevice_pub, k));
    CHECK(!tes_key_has_private(e.edevice_pub));
    CHECK_ERR(tes_engagement_parse(tes_buf_bytes(&e.bytes), &back), TES_OK);
    CHECK(buf_eq(&back.bytes, &e.bytes));
    CHECK(buf_eq(&back.edevice_key_bytes, &e.edevice_key_bytes));
    tes_engagement_free(&back);
    CHECK_ERR(tes_engagement_build(p384, &back), TES_ERR_ARG);
    /* valid P-384 and Ed25519 EDeviceKeys are refused */
    tes_key *ed = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_ED25519, &ed) == TES_OK);
    const tes_key *others[] = {p384, ed};
    for (size_t i = 0; i < 2; i++) {
        tes_buf kb = key_bytes(others[i]), de = {0};
        tes_buf_append(&de,
                       "\xa2\x00\x63"
                       "1.0"
                       "\x01\x82\x01",
                       9);
        tes_buf_append(&de, kb.ptr, kb.len);
        expect_engagement("EDeviceKey not P-256", tes_buf_bytes(&de), TES_ERR_ENGAGEMENT);
        tes_buf_free(&kb);
        tes_buf_free(&de);
    }
    tes_key_free(ed);
    tes_engagement_free(&e);
    tes_key_free(k);
    tes_key_free(p384);
}

/* DeviceEngagement with the Annex D key and the given pieces (hex). */
static void expect_engagement_hex(const char *what, const char *hex, tes_err want)
{
    tes_buf b = hexbuf(hex);
    REQUIRE(!b.failed);
    expect_engagement(what, tes_buf_bytes(&b), want);
    tes_buf_free(&b);
}

#define KEYB                                                                                       \
    "d818584ba4010220012158205a88d182bce5f42efa59943f33359d2e8a968ff289d93e5fa444b624343167fe2258" \
    "20b16e8cf858ddc7690407ba61d4c338237a8cfcf3de6aa672fc60a557aa32fc67"
/* The same COSE_Key with crv 2 (P-384) but 32-byte coordinates, and kty OKP */
#define KEYB_CRV2                                                                                  \
    "d818584ba4010220022158205a88d182bce5f42efa59943f33359d2e8a968ff289d93e5fa444b624343167fe2258" \
    "20b16e8cf858ddc7690407ba61d4c338237a8cfcf3de6aa672fc60a557aa32fc67"

TEST(malformed_engagements)
{
    expect_engagement_hex("reference", "a20063312e30018201" KEYB, TES_OK);
    expect_engagement_hex("version 1.1", "a20063312e31018201" KEYB, TES_OK);
    expect_engagement_hex("unknown keys tolerated",
                          "a40063312e30018201" KEYB "05a0"
                          "6178f5",
                          TES_OK);
    expect_engagement_hex("cipher suite 2", "a20063312e30018202" KEYB, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("cipher suite text", "a20063312e3001826131" KEYB, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("no security", "a10063312e30", TES_ERR_ENGAGEMENT);
    expect_engagement_hex("security not an array", "a20063312e3001" KEYB, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("security of 3", "a20063312e30018301" KEYB "00", TES_ERR_ENGAGEMENT);
    expect_engagement_hex("version 2.0", "a20063322e30018201" KEYB, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("version \"1\"", "a2006131018201" KEYB, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("version as number", "a20001018201" KEYB, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("version \"1.\"", "a20062312e018201" KEYB, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("no version", "a1018201" KEYB, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("not a map", "820063312e30", TES_ERR_ENGAGEMENT);
    expect_engagement_hex("key not P-256", "a20063312e30018201" KEYB_CRV2, TES_ERR_ENGAGEMENT);
    expect_engagement_hex("key bytes not tag 24",
                          "a20063312e30018201584ba4010220012158205a88d182bce5f42efa59943f33359d2e"
                          "8a968ff289d93e5fa444b624343167fe225820b16e8cf858ddc7690407ba61d4c33823"
                          "7a8cfcf3de6aa672fc60a557aa32fc67",
                          TES_ERR_ENGAGEMENT);
    expect_engagement_hex("key point not on the curve",
                          "a20063312e30018201d818584ba4010220012158205a88d182bce5f42efa59943f3335"
                          "9d2e8a968ff289d93e5fa444b624343167fe225820b16e8cf858ddc7690407ba61d4c3"
                          "38237a8cfcf3de6aa672fc60a557aa32fc68",
                          TES_ERR_ENGAGEMENT);
    expect_engagement_hex("retrieval methods not an array", "a30063312e30018201" KEYB "0201",
                          TES_ERR_ENGAGEMENT);
    expect_engagement_hex("retrieval method without options",
                          "a30063312e30018201" KEYB "0281820201", TES_ERR_ENGAGEMENT);
    expect_engagement_hex("unknown retrieval method tolerated",
                          "a30063312e30018201" KEYB "028183186301a0", TES_OK);
    expect_engagement_hex("trailing bytes", "a20063312e30018201" KEYB "00", TES_ERR_CBOR_TRAILING);
    expect_engagement_hex("truncated", "a20063312e30018201d818584ba401", TES_ERR_CBOR_TRUNCATED);
    expect_engagement("empty", NONE, TES_ERR_ENGAGEMENT);
    uint8_t big[4097];
    memset(big, 0, sizeof big);
    expect_engagement("over 4 KiB", TES_BYTES(big, sizeof big), TES_ERR_ENGAGEMENT);
}

TEST(malformed_uris)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    tes_buf b64 = {0};
    tes_b64url_encode(&b64, tes_buf_bytes(&a.de_qr));
    struct {
        const char *prefix;
        const char *insert; /* inserted at offset 10 of the base64url text */
        const char *suffix;
        tes_err want;
    } cases[] = {
        {"mdoc:", "", "", TES_OK},
        {"mdoc:", "", "=", TES_OK},
        {"MDOC:", "", "", TES_ERR_ENGAGEMENT},
        {"https:", "", "", TES_ERR_ENGAGEMENT},
        {"mdoc://", "", "", TES_ERR_ENGAGEMENT},
        {"", "", "", TES_ERR_ENGAGEMENT},
        {"mdoc:", " ", "", TES_ERR_ENGAGEMENT},
        {"mdoc:", "\n", "", TES_ERR_ENGAGEMENT},
        {"mdoc:", "", "\n", TES_ERR_ENGAGEMENT},
        {"mdoc:", "+", "", TES_ERR_ENGAGEMENT},
        {"mdoc:", "=", "", TES_ERR_ENGAGEMENT},
        {"mdoc:", "", "==", TES_ERR_ENGAGEMENT},
        {"mdoc:", "", "===", TES_ERR_ENGAGEMENT},
        {"mdoc:", "AA", "", TES_ERR_ENGAGEMENT}, /* 157 characters: not a length base64 makes */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tes_buf u = {0};
        tes_buf_append(&u, cases[i].prefix, strlen(cases[i].prefix));
        tes_buf_append(&u, b64.ptr, 10);
        tes_buf_append(&u, cases[i].insert, strlen(cases[i].insert));
        tes_buf_append(&u, b64.ptr + 10, b64.len - 10);
        tes_buf_append(&u, cases[i].suffix, strlen(cases[i].suffix));
        tes_engagement e;
        tes_err got = tes_engagement_from_uri((const char *)u.ptr, u.len, &e);
        if (got != cases[i].want)
            fprintf(stderr, "    URI case %zu: %s\n", i, tes_err_message());
        CHECK_ERR(got, cases[i].want);
        CHECK(got != TES_OK || buf_eq(&e.bytes, &a.de_qr));
        tes_engagement_free(&e);
        tes_buf_free(&u);
    }
    tes_engagement e;
    CHECK_ERR(tes_engagement_from_uri("mdoc:", 5, &e), TES_ERR_ENGAGEMENT);
    CHECK_ERR(tes_engagement_from_uri("", 0, &e), TES_ERR_ENGAGEMENT);
    CHECK_ERR(tes_engagement_from_uri("mdoc:====", 9, &e), TES_ERR_ENGAGEMENT);
    /* a valid engagement followed by a byte */
    tes_buf longer = {0}, u = {0};
    tes_buf_append(&longer, a.de_qr.ptr, a.de_qr.len);
    tes_buf_append(&longer, "\x00", 1);
    tes_buf_append(&u, "mdoc:", 5);
    tes_b64url_encode(&u, tes_buf_bytes(&longer));
    CHECK_ERR(tes_engagement_from_uri((const char *)u.ptr, u.len, &e), TES_ERR_CBOR_TRAILING);
    tes_buf_free(&longer);
    tes_buf_free(&u);
    /* base64url of a non-CBOR byte */
    CHECK_ERR(tes_engagement_from_uri("mdoc:_w", 7, &e), TES_ERR_CBOR_INVALID);
    char *huge = malloc(8193);
    REQUIRE(huge != NULL);
    memcpy(huge, "mdoc:", 5);
    memset(huge + 5, 'A', 8188);
    CHECK_ERR(tes_engagement_from_uri(huge, 8193, &e), TES_ERR_ENGAGEMENT);
    free(huge);
    tes_buf_free(&b64);
    annexd_free(&a);
}

/* ---------- malformed NDEF ---------- */

static void expect_ndef(const char *what, tes_bytes in, tes_err want)
{
    tes_engagement e;
    uint32_t cmd = 5, rsp = 5;
    tes_err got = tes_handover_select_parse(in, &e, &cmd, &rsp);
    if (got != want)
        fprintf(stderr, "    NDEF \"%s\": %s\n", what, tes_err_message());
    CHECK_ERR(got, want);
    if (got != TES_OK)
        CHECK(e.bytes.len == 0 && e.edevice_pub == NULL && cmd == 0 && rsp == 0);
    tes_engagement_free(&e);
}

static void expect_ndef_hex(const char *what, const char *hex, tes_err want)
{
    tes_buf b = hexbuf(hex);
    REQUIRE(!b.failed);
    expect_ndef(what, tes_buf_bytes(&b), want);
    tes_buf_free(&b);
}

/* Records for hand-made messages. */
#define HS_PAYLOAD(ver, ac_flags, cdr_len)                                                         \
    ver ac_flags "020b6163"                                                                        \
                 "01" cdr_len "6e6663"                                                             \
                 "0104"                                                                            \
                 "6d646f63"
#define HS_AC_NFC "91021148731" HS_PAYLOAD("5", "d1", "03") /* Hs 1.5, ac -> nfc + mdoc */
#define NFC_TYPE_ID                                                                                \
    "69736f2e6f72673a31383031333a6e6663"                                                           \
    "6e6663"
#define NFC_REC "1c110803" NFC_TYPE_ID "010201ff03020100" /* cmd 255, rsp 256 */
#define DE_TYPE "69736f2e6f72673a31383031333a646576696365656e676167656d656e74"
#define DE_ENG "a20063312e30018201" KEYB
#define DE_REC_LAST "5c1e5804" DE_TYPE "6d646f63" DE_ENG

TEST(handover_hand_made_shapes)
{
    expect_ndef_hex("reference", HS_AC_NFC NFC_REC DE_REC_LAST, TES_OK);
    /* the DeviceEngagement record alone after Hs (no NFC carrier) */
    expect_ndef_hex("no carrier", HS_AC_NFC DE_REC_LAST, TES_OK);
    /* external types compare case-insensitively */
    expect_ndef_hex("upper-case type",
                    HS_AC_NFC "5c1e5804"
                              "49534f2e4f52473a31383031333a646576696365656e676167656d656e74"
                              "6d646f63" DE_ENG,
                    TES_OK);
    /* Hs with an empty nested message: tolerated */
    expect_ndef_hex("Hs without ac",
                    "91020148731"
                    "5" DE_REC_LAST,
                    TES_OK);
}

TEST(malformed_ndef)
{
    tes_buf good = hexbuf(HS_AC_NFC NFC_REC DE_REC_LAST);
    REQUIRE(!good.failed);
    /* truncated anywhere */
    for (size_t cut = 0; cut < good.len; cut++)
        expect_ndef("truncated", TES_BYTES(good.ptr, cut), TES_ERR_HANDOVER);
    expect_ndef("empty", NONE, TES_ERR_HANDOVER);
    /* trailing byte after the ME record */
    tes_buf t = {0};
    tes_buf_append(&t, good.ptr, good.len);
    tes_buf_append(&t, "\x00", 1);
    expect_ndef("trailing", tes_buf_bytes(&t), TES_ERR_HANDOVER);
    tes_buf_free(&t);

    expect_ndef_hex("payload length beyond the buffer",
                    HS_AC_NFC NFC_REC "5c1e5904" DE_TYPE "6d646f63" DE_ENG, TES_ERR_HANDOVER);
    expect_ndef_hex("long record length beyond the buffer",
                    HS_AC_NFC NFC_REC "4c1effffff5804" DE_TYPE "6d646f63" DE_ENG, TES_ERR_HANDOVER);
    expect_ndef_hex("id length beyond the buffer",
                    HS_AC_NFC NFC_REC "5c1e58ff" DE_TYPE "6d646f63" DE_ENG, TES_ERR_HANDOVER);
    expect_ndef_hex("type length beyond the buffer", HS_AC_NFC NFC_REC "5cff5804" DE_TYPE,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("chunked record (CF)", HS_AC_NFC NFC_REC "7c1e5804" DE_TYPE "6d646f63" DE_ENG,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("chunked first record", "b1021148731" HS_PAYLOAD("5", "d1", "03") DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("missing mdoc record", HS_AC_NFC "5c110803" NFC_TYPE_ID "010201ff03020100",
                    TES_ERR_HANDOVER);
    expect_ndef_hex("Hs alone", "d1021148731" HS_PAYLOAD("5", "d1", "03"), TES_ERR_HANDOVER);
    expect_ndef_hex("first record not Hs (Hr)",
                    "91021148721" HS_PAYLOAD("5", "d1", "03") DE_REC_LAST, TES_ERR_HANDOVER);
    expect_ndef_hex("Hs of version 2.5", "91021148732" HS_PAYLOAD("5", "d1", "03") DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("two Hs records",
                    HS_AC_NFC "11021148731" HS_PAYLOAD("5", "d1", "03") DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("MB on the second record", HS_AC_NFC "dc1e5804" DE_TYPE "6d646f63" DE_ENG,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("no MB on the first record",
                    "11021148731" HS_PAYLOAD("5", "d1", "03") DE_REC_LAST, TES_ERR_HANDOVER);
    expect_ndef_hex("no ME at the end", HS_AC_NFC "1c1e5804" DE_TYPE "6d646f63" DE_ENG,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("two engagement records",
                    HS_AC_NFC "1c1e5804" DE_TYPE "6d646f63" DE_ENG DE_REC_LAST, TES_ERR_HANDOVER);
    expect_ndef_hex("two NFC carrier records", HS_AC_NFC NFC_REC NFC_REC DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("TNF unchanged", HS_AC_NFC NFC_REC "5e1e5804" DE_TYPE "6d646f63" DE_ENG,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("TNF empty with a type", HS_AC_NFC "181e0000" DE_REC_LAST, TES_ERR_HANDOVER);
    expect_ndef_hex("TNF empty, empty: tolerated", HS_AC_NFC "100000" DE_REC_LAST, TES_OK);
    expect_ndef_hex("nested ac record overruns its payload",
                    "91021148731" HS_PAYLOAD("5", "d1", "09") DE_REC_LAST, TES_ERR_HANDOVER);
    expect_ndef_hex("nested message without ME",
                    "91021148731" HS_PAYLOAD("5", "91", "03") DE_REC_LAST, TES_ERR_HANDOVER);
    expect_ndef_hex("nested chunked ac", "91021148731" HS_PAYLOAD("5", "f1", "03") DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("NFC carrier version 2",
                    HS_AC_NFC "1c110803" NFC_TYPE_ID "020201ff03020100" DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("NFC carrier without lengths (as in a Handover Request)",
                    HS_AC_NFC "1c110103" NFC_TYPE_ID "01" DE_REC_LAST, TES_ERR_HANDOVER);
    expect_ndef_hex("NFC carrier data field overruns",
                    HS_AC_NFC "1c110803" NFC_TYPE_ID "010201ff03090100" DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("NFC carrier command length of 3 bytes",
                    HS_AC_NFC "1c110903" NFC_TYPE_ID "01040100000103020100" DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("NFC carrier length zero",
                    HS_AC_NFC "1c110803" NFC_TYPE_ID "0102010003020100" DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("NFC carrier without command length",
                    HS_AC_NFC "1c110803" NFC_TYPE_ID "0102090003020100" DE_REC_LAST,
                    TES_ERR_HANDOVER);
    expect_ndef_hex("NFC carrier unknown data type tolerated",
                    HS_AC_NFC "1c110b03" NFC_TYPE_ID "010201ff03020100020902" DE_REC_LAST, TES_OK);
    /* the engagement inside a well-formed Hs is malformed: the engagement's code */
    expect_ndef_hex("engagement with cipher suite 2",
                    HS_AC_NFC "5c1e5804" DE_TYPE "6d646f63"
                              "a20063312e30018202" KEYB,
                    TES_ERR_ENGAGEMENT);
    tes_buf_free(&good);
}

TEST(annexd_handover_request_is_not_a_select)
{
    annexd a;
    REQUIRE(annexd_load(&a));
    expect_ndef("Annex D Handover Request", tes_buf_bytes(&a.hr), TES_ERR_HANDOVER);
    annexd_free(&a);
}
