/*
 * Access and revocation documents (src/access/doc*.c): round trips, the
 * issuers' refusals, and for every check of the verifiers a document that
 * breaks exactly that check, built here by hand (build_doc) and signed
 * properly, so the error seen is the one of that check. Also the step-up
 * DeviceRequest / DeviceResponse codecs against bytes computed with Python's
 * cbor2, and the fuzz target's seed corpus (TES_ACCESS_DOC_WRITE_SEEDS=DIR
 * writes it; the committed seeds are checked to verify).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"
#include "tessera/access.h"
#include "tessera/cbor.h"
#include "tessera/cose.h"

#define FMT TES_ERR_ACCESS_DOC_FORMAT
#define ISS TES_ERR_ACCESS_ISSUER

/* expr fails with code, and its message names the check that refused (so a
 * test cannot pass by tripping over another check with the same code). */
#define CHECK_BROKE(expr, code, words)                                                             \
    do {                                                                                           \
        tes_err e_ = (expr);                                                                       \
        CHECK_ERR(e_, code);                                                                       \
        if (!tes_harness_check(strstr(tes_err_message(), words) != NULL, __FILE__, __LINE__,       \
                               "message names: " words))                                           \
            fprintf(stderr, "    message: %s\n", tes_err_message());                               \
    } while (0)

static tes_key *issuer, *other, *p384, *endpoint;

static tes_key *key_of(tes_curve c)
{
    tes_key *k = NULL;
    if (tes_key_generate(c, &k) != TES_OK)
        abort();
    return k;
}

static void setup(void)
{
    if (issuer)
        return;
    issuer = key_of(TES_CURVE_P256);
    other = key_of(TES_CURVE_P256);
    p384 = key_of(TES_CURVE_P384);
    endpoint = key_of(TES_CURVE_P256);
}

TEARDOWN(keys)
{
    tes_key_free(issuer);
    tes_key_free(other);
    tes_key_free(p384);
    tes_key_free(endpoint);
}

static void point_of(const tes_key *k, uint8_t out[65])
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    if (tes_key_public_raw(k, x, y) != TES_OK)
        abort();
    out[0] = 4;
    memcpy(out + 1, x, 32);
    memcpy(out + 33, y, 32);
}

/* 2026-03-01T15:00:00Z .. 2026-03-04T11:00:00Z, signed 2026-03-01T14:30:00Z */
#define T_IN 1772377200
#define T_OUT 1772622000
#define T_SIGNED 1772375400

static tes_access_grant grant(void)
{
    setup();
    tes_access_grant g;
    memset(&g, 0, sizeof g);
    for (int i = 0; i < 16; i++) {
        g.key_id[i] = (uint8_t)(0x10 + i);
        g.group_id[i] = (uint8_t)(0xa0 + i);
    }
    strcpy(g.rooms[0], "101");
    strcpy(g.rooms[1], "pool");
    g.n_rooms = 2;
    g.not_before = T_IN;
    g.not_after = T_OUT;
    g.signed_at = T_SIGNED;
    point_of(endpoint, g.endpoint_key);
    return g;
}

static const tes_key *const *trusted(void)
{
    static const tes_key *list[2];
    list[0] = other; /* a second, unrelated issuer first: the kid picks the right one */
    list[1] = issuer;
    return list;
}

static tes_err issue(const tes_access_grant *g, tes_buf *out)
{
    tes_signer s = tes_signer_from_key(issuer);
    return tes_access_doc_issue(g, &s, issuer, NULL, out);
}

static tes_err verify(tes_bytes doc, tes_access_grant *out)
{
    return tes_access_doc_verify(doc, trusted(), 2, out);
}

/* ---------------------------------------------------------------- a hand-made document */

typedef struct data_spec {
    int64_t version;
    size_t key_id_len;
    bool key_id_text;
    size_t n_groups;
    size_t n_rooms;
    const char *room0; /* replaces the first room's name */
    bool rooms_not_array;
    int n_windows; /* -1: no member 3 */
    uint64_t from, until;
    bool extra_key;
} data_spec;

static data_spec data_ok(void)
{
    return (data_spec){.version = 1,
                       .key_id_len = 16,
                       .n_groups = 1,
                       .n_rooms = 2,
                       .n_windows = 1,
                       .from = 480,
                       .until = 1320};
}

static void build_access_data(const data_spec *s, tes_buf *out)
{
    static const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_map(&e, 3 + (s->n_windows >= 0) + s->extra_key);
    tes_cbor_enc_uint(&e, 0);
    tes_cbor_enc_int(&e, s->version);
    tes_cbor_enc_uint(&e, 1);
    if (s->key_id_text)
        tes_cbor_enc_text(&e, "0123456789abcdef", 16);
    else
        tes_cbor_enc_bytes(&e, id, s->key_id_len);
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_array(&e, s->n_groups);
    for (size_t g = 0; g < s->n_groups; g++) {
        tes_cbor_enc_map(&e, 2);
        tes_cbor_enc_uint(&e, 0);
        tes_cbor_enc_bytes(&e, id, 16);
        tes_cbor_enc_uint(&e, 1);
        if (s->rooms_not_array) {
            tes_cbor_enc_cstr(&e, "101");
            continue;
        }
        tes_cbor_enc_array(&e, s->n_rooms);
        for (size_t r = 0; r < s->n_rooms; r++) {
            char name[32];
            snprintf(name, sizeof name, "%zu", 100 + r);
            tes_cbor_enc_cstr(&e, r == 0 && s->room0 ? s->room0 : name);
        }
    }
    if (s->n_windows >= 0) {
        tes_cbor_enc_uint(&e, 3);
        tes_cbor_enc_array(&e, (size_t)s->n_windows);
        for (int w = 0; w < s->n_windows; w++) {
            tes_cbor_enc_map(&e, 2);
            tes_cbor_enc_uint(&e, 0);
            tes_cbor_enc_uint(&e, s->from);
            tes_cbor_enc_uint(&e, 1);
            tes_cbor_enc_uint(&e, s->until);
        }
    }
    if (s->extra_key) {
        tes_cbor_enc_uint(&e, 4);
        tes_cbor_enc_uint(&e, 0);
    }
    if (tes_cbor_enc_finish(&e) != TES_OK)
        abort();
}

static void build_revocation_data(size_t n_keys, bool duplicate, tes_buf *out)
{
    tes_cbor_enc e = {.out = out};
    uint8_t k[16] = {0};
    tes_cbor_enc_map(&e, 3);
    tes_cbor_enc_uint(&e, 0);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_bytes(&e, k, 16);
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_array(&e, n_keys);
    for (size_t i = 0; i < n_keys; i++) {
        k[0] = (uint8_t)i;
        k[1] = (uint8_t)(i >> 8);
        if (duplicate && i == 1)
            k[0] = 0;
        tes_cbor_enc_bytes(&e, k, 16);
    }
    if (tes_cbor_enc_finish(&e) != TES_OK)
        abort();
}

typedef struct doc_spec {
    const char *doctype, *ns, *mso_doctype, *mso_ns, *version, *digest_alg, *element;
    int64_t alg;
    bool tagged, protected_extra, unprotected_extra, extra_doc_key, extra_mso_key, trailing;
    bool issuer_signed_first; /* the Document's 1 before its 5 */
    const tes_key *signer, *kid_key;
    size_t kid_len, random_len, sig_len;
    bool device_key;
    int64_t crv;
    bool bad_point;
    tes_bytes value;
    uint64_t digest_id, mso_digest_id;
    bool alter_item, second_item;
    const char *second_element; /* the second item's element (NULL: the first's) */
    int64_t signed_at, from, until;
    const char *tdate_override; /* replaces validFrom's text */
} doc_spec;

static doc_spec spec_access(tes_bytes value)
{
    setup();
    return (doc_spec){.doctype = "aliro-a",
                      .ns = "aliro-a",
                      .mso_doctype = "aliro-a",
                      .mso_ns = "aliro-a",
                      .version = "1.0",
                      .digest_alg = "SHA-256",
                      .element = "element2",
                      .alg = -7,
                      .signer = issuer,
                      .kid_key = issuer,
                      .kid_len = 8,
                      .random_len = 16,
                      .sig_len = 64,
                      .device_key = true,
                      .crv = 1,
                      .value = value,
                      .signed_at = T_SIGNED,
                      .from = T_IN,
                      .until = T_OUT};
}

static doc_spec spec_revocation(tes_bytes value)
{
    doc_spec s = spec_access(value);
    s.doctype = s.ns = s.mso_doctype = s.mso_ns = "aliro-r";
    s.device_key = false;
    s.signed_at = s.from = T_SIGNED;
    s.until = T_SIGNED + 315569520LL;
    return s;
}

static void enc_tdate(tes_cbor_enc *e, int64_t t, const char *override)
{
    uint8_t s[20];
    tes_access_timestamp(t, s);
    tes_cbor_enc_tag(e, 0);
    if (override)
        tes_cbor_enc_cstr(e, override);
    else
        tes_cbor_enc_text(e, (const char *)s, 20);
}

static void item_bytes(const doc_spec *s, uint64_t id, const char *element, tes_buf *item)
{
    tes_buf inner = {0};
    tes_cbor_enc e = {.out = &inner};
    uint8_t rnd[64];
    memset(rnd, 0x5a, sizeof rnd);
    tes_cbor_enc_map(&e, 4);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_uint(&e, id);
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_bytes(&e, rnd, s->random_len);
    tes_cbor_enc_uint(&e, 3);
    tes_cbor_enc_cstr(&e, element);
    tes_cbor_enc_uint(&e, 4);
    tes_cbor_enc_raw(&e, s->value);
    tes_cbor_enc o = {.out = item};
    tes_cbor_enc_tag(&o, 24);
    tes_cbor_enc_bytes(&o, inner.ptr, inner.len);
    if (tes_cbor_enc_finish(&e) != TES_OK || tes_cbor_enc_finish(&o) != TES_OK)
        abort();
    tes_buf_free(&inner);
}

/* A Document as COMMON.md describes it, every part chosen by s. */
static void build_doc(const doc_spec *s, tes_buf *out)
{
    tes_buf item = {0}, item2 = {0}, mso = {0}, payload = {0}, tbs = {0};
    item_bytes(s, s->digest_id, s->element, &item);
    if (s->second_item)
        item_bytes(s, s->digest_id + 1, s->second_element ? s->second_element : s->element, &item2);
    uint8_t dg[32], dg2[32];
    if (tes_digest(TES_HASH_SHA256, tes_buf_bytes(&item), dg) != TES_OK ||
        tes_digest(TES_HASH_SHA256, tes_buf_bytes(&item2), dg2) != TES_OK)
        abort();
    if (s->alter_item)
        item.ptr[item.len - s->value.len - 12] ^= 1; /* a byte of the random */

    tes_cbor_enc m = {.out = &mso};
    tes_cbor_enc_map(&m, 5 + s->device_key + s->extra_mso_key);
    tes_cbor_enc_uint(&m, 1);
    tes_cbor_enc_cstr(&m, s->version);
    tes_cbor_enc_uint(&m, 2);
    tes_cbor_enc_cstr(&m, s->digest_alg);
    tes_cbor_enc_uint(&m, 3);
    tes_cbor_enc_map(&m, 1);
    tes_cbor_enc_cstr(&m, s->mso_ns);
    tes_cbor_enc_map(&m, 1 + s->second_item);
    tes_cbor_enc_uint(&m, s->mso_digest_id);
    tes_cbor_enc_bytes(&m, dg, 32);
    if (s->second_item) {
        tes_cbor_enc_uint(&m, s->mso_digest_id + 1);
        tes_cbor_enc_bytes(&m, dg2, 32);
    }
    if (s->device_key) {
        uint8_t p[65];
        point_of(endpoint, p);
        if (s->bad_point)
            p[64] ^= 1;
        tes_cbor_enc_uint(&m, 4);
        tes_cbor_enc_map(&m, 1);
        tes_cbor_enc_uint(&m, 1);
        tes_cbor_enc_map(&m, 4);
        tes_cbor_enc_uint(&m, 1);
        tes_cbor_enc_uint(&m, 2);
        tes_cbor_enc_int(&m, -1);
        tes_cbor_enc_int(&m, s->crv);
        tes_cbor_enc_int(&m, -2);
        tes_cbor_enc_bytes(&m, p + 1, 32);
        tes_cbor_enc_int(&m, -3);
        tes_cbor_enc_bytes(&m, p + 33, 32);
    }
    tes_cbor_enc_uint(&m, 5);
    tes_cbor_enc_cstr(&m, s->mso_doctype);
    tes_cbor_enc_uint(&m, 6);
    tes_cbor_enc_map(&m, 3);
    tes_cbor_enc_uint(&m, 1);
    enc_tdate(&m, s->signed_at, NULL);
    tes_cbor_enc_uint(&m, 2);
    enc_tdate(&m, s->from, s->tdate_override);
    tes_cbor_enc_uint(&m, 3);
    enc_tdate(&m, s->until, NULL);
    if (s->extra_mso_key) {
        tes_cbor_enc_uint(&m, 7);
        tes_cbor_enc_bool(&m, true);
    }
    tes_cbor_enc p = {.out = &payload};
    tes_cbor_enc_tag(&p, 24);
    tes_cbor_enc_bytes(&p, mso.ptr, mso.len);

    uint8_t prot[8];
    tes_buf pb = {0};
    tes_cbor_enc pe = {.out = &pb};
    tes_cbor_enc_map(&pe, 1 + s->protected_extra);
    tes_cbor_enc_uint(&pe, 1);
    tes_cbor_enc_int(&pe, s->alg);
    if (s->protected_extra) {
        tes_cbor_enc_uint(&pe, 3);
        tes_cbor_enc_uint(&pe, 0);
    }
    size_t plen = pb.len;
    memcpy(prot, pb.ptr, plen);
    tes_buf_free(&pb);

    tes_cbor_enc t = {.out = &tbs};
    tes_cbor_enc_array(&t, 4);
    tes_cbor_enc_cstr(&t, "Signature1");
    tes_cbor_enc_bytes(&t, prot, plen);
    tes_cbor_enc_bytes(&t, NULL, 0);
    tes_cbor_enc_bytes(&t, payload.ptr, payload.len);
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    uint8_t kid[8];
    if (tes_cbor_enc_finish(&m) != TES_OK || tes_cbor_enc_finish(&p) != TES_OK ||
        tes_cbor_enc_finish(&t) != TES_OK ||
        tes_key_sign(s->signer, TES_HASH_SHA256, tes_buf_bytes(&tbs), sig, &sig_len) != TES_OK ||
        tes_access_doc_kid(s->kid_key, kid) != TES_OK)
        abort();

    tes_cbor_enc o = {.out = out};
    tes_cbor_enc_map(&o, 2 + s->extra_doc_key);
    if (!s->issuer_signed_first) {
        tes_cbor_enc_uint(&o, 5);
        tes_cbor_enc_cstr(&o, s->doctype);
    }
    tes_cbor_enc_uint(&o, 1);
    tes_cbor_enc_map(&o, 2);
    tes_cbor_enc_uint(&o, 1);
    tes_cbor_enc_map(&o, 1);
    tes_cbor_enc_cstr(&o, s->ns);
    tes_cbor_enc_array(&o, 1 + s->second_item);
    tes_cbor_enc_raw(&o, tes_buf_bytes(&item));
    if (s->second_item)
        tes_cbor_enc_raw(&o, tes_buf_bytes(&item2));
    tes_cbor_enc_uint(&o, 2);
    if (s->tagged)
        tes_cbor_enc_tag(&o, 18);
    tes_cbor_enc_array(&o, 4);
    tes_cbor_enc_bytes(&o, prot, plen);
    tes_cbor_enc_map(&o, 1 + s->unprotected_extra);
    tes_cbor_enc_uint(&o, 4);
    tes_cbor_enc_bytes(&o, kid, s->kid_len);
    if (s->unprotected_extra) {
        tes_cbor_enc_uint(&o, 5);
        tes_cbor_enc_bytes(&o, kid, 8);
    }
    tes_cbor_enc_bytes(&o, payload.ptr, payload.len);
    tes_cbor_enc_bytes(&o, sig, s->sig_len);
    if (s->issuer_signed_first) {
        tes_cbor_enc_uint(&o, 5);
        tes_cbor_enc_cstr(&o, s->doctype);
    }
    if (s->extra_doc_key) {
        tes_cbor_enc_uint(&o, 9);
        tes_cbor_enc_uint(&o, 0);
    }
    if (s->trailing)
        tes_cbor_enc_uint(&o, 0);
    if (tes_cbor_enc_finish(&o) != TES_OK)
        abort();
    tes_buf_free(&item);
    tes_buf_free(&item2);
    tes_buf_free(&mso);
    tes_buf_free(&payload);
    tes_buf_free(&tbs);
}

/* Builds the access document of s with the data of ds and expects err. */
static tes_err try_access(const doc_spec *s)
{
    tes_buf doc = {0};
    build_doc(s, &doc);
    tes_access_grant out;
    memset(&out, 0xaa, sizeof out);
    tes_err e = verify(tes_buf_bytes(&doc), &out);
    if (e != TES_OK) { /* *out zeroed on every failure */
        static const tes_access_grant zero;
        CHECK(memcmp(&out, &zero, sizeof out) == 0);
    }
    tes_buf_free(&doc);
    return e;
}

static tes_err try_data(const data_spec *ds)
{
    tes_buf data = {0};
    build_access_data(ds, &data);
    doc_spec s = spec_access(tes_buf_bytes(&data));
    tes_err e = try_access(&s);
    tes_buf_free(&data);
    return e;
}

/* ---------------------------------------------------------------- timestamps and kid */

TEST(timestamp_round_trip)
{
    uint8_t ts[20];
    tes_access_timestamp(T_IN, ts);
    CHECK_EQ_MEM(ts, "2026-03-01T15:00:00Z", 20);
    int64_t t = -1;
    CHECK_ERR(tes_access_timestamp_parse(ts, &t), TES_OK);
    CHECK_EQ_INT(t, T_IN);
    tes_access_timestamp(0, ts);
    static const uint8_t zeros[20];
    CHECK_EQ_MEM(ts, zeros, 20);
    tes_access_timestamp(-5, ts);
    CHECK_EQ_MEM(ts, zeros, 20);
    tes_access_timestamp(TES_ACCESS_TIME_MAX + 1, ts);
    CHECK_EQ_MEM(ts, zeros, 20);
    CHECK_ERR(tes_access_timestamp_parse(zeros, &t), TES_OK);
    CHECK_EQ_INT(t, 0);
    tes_access_timestamp(TES_ACCESS_TIME_MAX, ts);
    CHECK_EQ_MEM(ts, "9999-12-31T23:59:59Z", 20);
    CHECK_ERR(tes_access_timestamp_parse(ts, &t), TES_OK);
    CHECK_EQ_INT(t, TES_ACCESS_TIME_MAX);
}

TEST(timestamp_parse_is_strict)
{
    static const char *bad[] = {
        "2026-03-01t15:00:00Z", "2026-03-01T15:00:00z", "2026-03-01T15:00:60Z",
        "2026-13-01T15:00:00Z", "2026-02-30T15:00:00Z", "0000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2026-03-01 15:00:00Z",
        "2026-03-01T15:00:0 Z", "2026-03-01T15:00:00+", "+026-03-01T15:00:00Z",
        "2026-03-01T24:00:00Z",
    };
    int64_t t = 7;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERR(tes_access_timestamp_parse((const uint8_t *)bad[i], &t), TES_ERR_TLV);
    uint8_t one_zero[20] = {0};
    one_zero[19] = 'Z';
    CHECK_ERR(tes_access_timestamp_parse(one_zero, &t), TES_ERR_TLV);
    CHECK_ERR(tes_access_timestamp_parse(NULL, &t), TES_ERR_ARG);
    CHECK_ERR(tes_access_timestamp_parse(one_zero, NULL), TES_ERR_ARG);
}

TEST(kid_is_sha256_prefix_of_the_point)
{
    setup();
    uint8_t p[65], dg[32], kid[8];
    point_of(issuer, p);
    REQUIRE(tes_digest(TES_HASH_SHA256, TES_BYTES(p, 65), dg) == TES_OK);
    CHECK_ERR(tes_access_doc_kid(issuer, kid), TES_OK);
    CHECK_EQ_MEM(kid, dg, 8);
    CHECK_ERR(tes_access_doc_kid(p384, kid), TES_ERR_ARG);
    CHECK_ERR(tes_access_doc_kid(NULL, kid), TES_ERR_ARG);
}

/* ---------------------------------------------------------------- round trips */

TEST(access_round_trip)
{
    tes_access_grant g = grant(), back;
    g.daily_from = 420;
    g.daily_until = 1380;
    tes_buf doc = {0};
    REQUIRE(issue(&g, &doc) == TES_OK);
    CHECK_ERR(verify(tes_buf_bytes(&doc), &back), TES_OK);
    CHECK(memcmp(&g, &back, sizeof g) == 0);
    /* only the issuer itself also works */
    const tes_key *one[1] = {issuer};
    CHECK_ERR(tes_access_doc_verify(tes_buf_bytes(&doc), one, 1, &back), TES_OK);
    tes_buf_free(&doc);

    /* all day, 16 rooms of 15 characters */
    g = grant();
    g.n_rooms = TES_ACCESS_MAX_ROOMS;
    for (size_t i = 0; i < g.n_rooms; i++)
        snprintf(g.rooms[i], TES_ACCESS_ROOM_MAX, "wing-%02u-door-ok", (unsigned)(i % 100));
    CHECK_EQ_INT(strlen(g.rooms[3]), TES_ACCESS_ROOM_MAX - 1);
    REQUIRE(issue(&g, &doc) == TES_OK);
    CHECK_ERR(verify(tes_buf_bytes(&doc), &back), TES_OK);
    CHECK(memcmp(&g, &back, sizeof g) == 0);
    CHECK_EQ_INT(back.daily_from, 0);
    CHECK_EQ_INT(back.daily_until, 0);
    tes_buf_free(&doc);
}

TEST(issue_appends_and_keeps_what_was_there)
{
    tes_access_grant g = grant(), back;
    tes_buf doc = {0};
    tes_buf_append(&doc, "xy", 2);
    REQUIRE(issue(&g, &doc) == TES_OK);
    CHECK_EQ_MEM(doc.ptr, "xy", 2);
    CHECK_ERR(verify(TES_BYTES(doc.ptr + 2, doc.len - 2), &back), TES_OK);
    size_t len = doc.len;
    g.n_rooms = 0;
    CHECK_ERR(issue(&g, &doc), TES_ERR_ARG);
    CHECK_EQ_INT(doc.len, len);
    tes_buf_free(&doc);
}

/* The well-known members are where COMMON.md puts them, read with the bare
 * CBOR decoder and hashed here. */
TEST(access_document_layout)
{
    tes_access_grant g = grant();
    tes_buf doc = {0};
    REQUIRE(issue(&g, &doc) == TES_OK);
    tes_cbor_doc d;
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&doc), NULL, &d) == TES_OK);
    /* {5: "aliro-a", 1: {1: {"aliro-a": [item]}, 2: issuerAuth}}, 5 written first */
    CHECK(doc.ptr[0] == 0xa2 && doc.ptr[1] == 0x05);
    CHECK(tes_cbor_text_eq(&d, tes_cbor_map_get_int(&d, 0, 5), "aliro-a"));
    uint32_t is = tes_cbor_map_get_int(&d, 0, 1);
    uint32_t items = tes_cbor_map_get_text(&d, tes_cbor_map_get_int(&d, is, 1), "aliro-a");
    REQUIRE(items != TES_CBOR_NONE && tes_cbor_count(&d, items) == 1);
    uint32_t item = tes_cbor_child(&d, items);
    tes_bytes item_raw = tes_cbor_span(&d, item), inner;
    REQUIRE(tes_cbor_tag24_content(&d, item, &inner));
    uint32_t auth = tes_cbor_map_get_int(&d, is, 2);
    REQUIRE(tes_cbor_is(&d, auth, TES_CBOR_ARRAY) && tes_cbor_count(&d, auth) == 4);
    const tes_cbor_node *prot = tes_cbor_at(&d, tes_cbor_child_at(&d, auth, 0));
    CHECK(prot->len == 3 && memcmp(prot->data, "\xa1\x01\x26", 3) == 0);
    uint8_t p[65], dg[32];
    point_of(issuer, p);
    REQUIRE(tes_digest(TES_HASH_SHA256, TES_BYTES(p, 65), dg) == TES_OK);
    const tes_cbor_node *kid =
        tes_cbor_at(&d, tes_cbor_map_get_int(&d, tes_cbor_child_at(&d, auth, 1), 4));
    REQUIRE(kid && kid->type == TES_CBOR_BYTES && kid->len == 8);
    CHECK_EQ_MEM(kid->data, dg, 8);
    CHECK_EQ_INT(tes_cbor_at(&d, tes_cbor_child_at(&d, auth, 3))->len, 64);

    /* MSO: digest of the item's exact bytes, the endpoint key, the dates */
    tes_bytes payload = tes_cbor_span(&d, tes_cbor_child_at(&d, auth, 2)), mso_bytes;
    tes_cbor_doc pd, md;
    REQUIRE(tes_cbor_parse(TES_BYTES(tes_cbor_at(&d, tes_cbor_child_at(&d, auth, 2))->data,
                                     tes_cbor_at(&d, tes_cbor_child_at(&d, auth, 2))->len),
                           NULL, &pd) == TES_OK);
    (void)payload;
    REQUIRE(tes_cbor_tag24_content(&pd, 0, &mso_bytes));
    REQUIRE(tes_cbor_parse(mso_bytes, NULL, &md) == TES_OK);
    CHECK(tes_cbor_text_eq(&md, tes_cbor_map_get_int(&md, 0, 1), "1.0"));
    CHECK(tes_cbor_text_eq(&md, tes_cbor_map_get_int(&md, 0, 2), "SHA-256"));
    CHECK(tes_cbor_text_eq(&md, tes_cbor_map_get_int(&md, 0, 5), "aliro-a"));
    uint32_t digests = tes_cbor_map_get_text(&md, tes_cbor_map_get_int(&md, 0, 3), "aliro-a");
    const tes_cbor_node *digest = tes_cbor_at(&md, tes_cbor_map_get_int(&md, digests, 0));
    REQUIRE(digest && digest->len == 32);
    REQUIRE(tes_digest(TES_HASH_SHA256, item_raw, dg) == TES_OK);
    CHECK_EQ_MEM(digest->data, dg, 32);
    uint32_t ck = tes_cbor_map_get_int(&md, tes_cbor_map_get_int(&md, 0, 4), 1);
    const tes_cbor_node *x = tes_cbor_at(&md, tes_cbor_map_get_int(&md, ck, -2));
    const tes_cbor_node *y = tes_cbor_at(&md, tes_cbor_map_get_int(&md, ck, -3));
    REQUIRE(x && y && x->len == 32 && y->len == 32);
    CHECK_EQ_MEM(x->data, g.endpoint_key + 1, 32);
    CHECK_EQ_MEM(y->data, g.endpoint_key + 33, 32);
    uint32_t vi = tes_cbor_map_get_int(&md, 0, 6);
    uint32_t from = tes_cbor_map_get_int(&md, vi, 2);
    REQUIRE(tes_cbor_is(&md, from, TES_CBOR_TAG) && md.nodes[from].val == 0);
    CHECK(tes_cbor_text_eq(&md, from + 1, "2026-03-01T15:00:00Z"));
    CHECK(tes_cbor_text_eq(&md, tes_cbor_map_get_int(&md, vi, 3) + 1, "2026-03-04T11:00:00Z"));
    CHECK(tes_cbor_text_eq(&md, tes_cbor_map_get_int(&md, vi, 1) + 1, "2026-03-01T14:30:00Z"));

    /* the item: {1: 0, 2: random(16), 3: "element2", 4: access data} */
    tes_cbor_doc id;
    REQUIRE(tes_cbor_parse(inner, NULL, &id) == TES_OK);
    CHECK_EQ_INT(tes_cbor_at(&id, tes_cbor_map_get_int(&id, 0, 2))->len, 16);
    CHECK(tes_cbor_text_eq(&id, tes_cbor_map_get_int(&id, 0, 3), "element2"));
    uint32_t data = tes_cbor_map_get_int(&id, 0, 4);
    int64_t version = 0;
    CHECK(tes_cbor_get_int(&id, tes_cbor_map_get_int(&id, data, 0), &version) && version == 1);
    const tes_cbor_node *key_id = tes_cbor_at(&id, tes_cbor_map_get_int(&id, data, 1));
    REQUIRE(key_id && key_id->len == 16);
    CHECK_EQ_MEM(key_id->data, g.key_id, 16);
    uint32_t rule = tes_cbor_child(&id, tes_cbor_map_get_int(&id, data, 2));
    uint32_t rooms = tes_cbor_map_get_int(&id, rule, 1);
    CHECK(tes_cbor_text_eq(&id, tes_cbor_child_at(&id, rooms, 0), "101"));
    CHECK(tes_cbor_text_eq(&id, tes_cbor_child_at(&id, rooms, 1), "pool"));
    CHECK(tes_cbor_map_get_int(&id, data, 3) == TES_CBOR_NONE); /* all day: no schedule */
    tes_cbor_doc_free(&id);
    tes_cbor_doc_free(&md);
    tes_cbor_doc_free(&pd);
    tes_cbor_doc_free(&d);
    tes_buf_free(&doc);
}

/* ---------------------------------------------------------------- issuing refused */

TEST(issue_refuses_bad_grants)
{
    tes_buf doc = {0};
    tes_access_grant g;
#define BAD(change)                                                                                \
    do {                                                                                           \
        g = grant();                                                                               \
        change;                                                                                    \
        CHECK_ERR(issue(&g, &doc), TES_ERR_ARG);                                                   \
    } while (0)
    BAD(g.n_rooms = 0);
    BAD(g.n_rooms = TES_ACCESS_MAX_ROOMS + 1);
    BAD(g.rooms[1][0] = '\0');
    BAD(memset(g.rooms[1], 'a', TES_ACCESS_ROOM_MAX)); /* not NUL-terminated */
    BAD(strcpy(g.rooms[1], "ro\tom"));
    BAD(strcpy(g.rooms[1], "caf\xc3\xa9"));
    BAD(strcpy(g.rooms[1], "101"));
    BAD(g.not_after = g.not_before);
    BAD(g.not_after = g.not_before - 1);
    BAD(g.not_before = 0);
    BAD(g.not_after = TES_ACCESS_TIME_MAX + 1);
    BAD(g.signed_at = 0);
    BAD((g.daily_from = 600, g.daily_until = 600));
    BAD((g.daily_from = 700, g.daily_until = 600));
    BAD((g.daily_from = 0, g.daily_until = 1441));
    BAD(g.endpoint_key[0] = 0x02);
    BAD(g.endpoint_key[64] ^= 1);
#undef BAD
    CHECK_EQ_INT(doc.len, 0);
    g = grant();
    tes_signer s = tes_signer_from_key(issuer), s384 = tes_signer_from_key(p384);
    CHECK_ERR(tes_access_doc_issue(&g, &s384, p384, NULL, &doc), TES_ERR_ARG);
    CHECK_ERR(tes_access_doc_issue(&g, &s, p384, NULL, &doc), TES_ERR_ARG);
    CHECK_ERR(tes_access_doc_issue(NULL, &s, issuer, NULL, &doc), TES_ERR_ARG);
    CHECK_ERR(tes_access_doc_issue(&g, NULL, issuer, NULL, &doc), TES_ERR_ARG);
    CHECK_ERR(tes_access_doc_issue(&g, &s, NULL, NULL, &doc), TES_ERR_ARG);
    CHECK_ERR(tes_access_doc_issue(&g, &s, issuer, NULL, NULL), TES_ERR_ARG);
    /* boundaries that are fine: 1440, a room of 15 characters with a space */
    g.daily_from = 0;
    g.daily_until = 1440;
    strcpy(g.rooms[1], "suite 12 (east)");
    CHECK_ERR(issue(&g, &doc), TES_OK);
    tes_buf_free(&doc);
}

static int failing_rng(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    (void)out;
    (void)n;
    return -1;
}

TEST(issue_reports_the_rng_failure)
{
    tes_access_grant g = grant();
    tes_signer s = tes_signer_from_key(issuer);
    tes_rng bad = {failing_rng, NULL};
    tes_buf doc = {0};
    CHECK_ERR(tes_access_doc_issue(&g, &s, issuer, &bad, &doc), TES_ERR_RANDOM);
    CHECK_EQ_INT(doc.len, 0);
    tes_buf_free(&doc);
}

/* ---------------------------------------------------------------- verify: the hand-made baseline
 */

TEST(hand_made_document_verifies)
{
    tes_buf data = {0};
    data_spec ds = data_ok();
    build_access_data(&ds, &data);
    doc_spec s = spec_access(tes_buf_bytes(&data));
    tes_buf doc = {0};
    build_doc(&s, &doc);
    tes_access_grant out;
    CHECK_ERR(verify(tes_buf_bytes(&doc), &out), TES_OK);
    CHECK_EQ_INT(out.n_rooms, 2);
    CHECK_EQ_STR(out.rooms[0], "100");
    CHECK_EQ_STR(out.rooms[1], "101");
    CHECK_EQ_INT(out.daily_from, 480);
    CHECK_EQ_INT(out.daily_until, 1320);
    CHECK_EQ_INT(out.not_before, T_IN);
    CHECK_EQ_INT(out.not_after, T_OUT);
    CHECK_EQ_INT(out.signed_at, T_SIGNED);
    uint8_t p[65];
    point_of(endpoint, p);
    CHECK_EQ_MEM(out.endpoint_key, p, 65);
    CHECK_EQ_INT(out.key_id[0], 1);
    /* a second item of another element: ignored, but its digest is checked too */
    s.second_item = true;
    s.second_element = "element4";
    CHECK_ERR(try_access(&s), TES_OK);
    s.second_element = NULL; /* two items "element2" */
    CHECK_BROKE(try_access(&s), FMT, "two items share");
    /* members in another order */
    s = spec_access(tes_buf_bytes(&data));
    s.issuer_signed_first = true;
    CHECK_ERR(try_access(&s), TES_OK);
    tes_buf_free(&doc);
    tes_buf_free(&data);
}

/* ---------------------------------------------------------------- verify: the issuer checks */

#define ACCESS_SPEC                                                                                \
    tes_buf data_ = {0};                                                                           \
    data_spec ds_ = data_ok();                                                                     \
    build_access_data(&ds_, &data_);                                                               \
    doc_spec s = spec_access(tes_buf_bytes(&data_))
#define ACCESS_END tes_buf_free(&data_)

TEST(verify_signature_by_another_key)
{
    ACCESS_SPEC;
    s.signer = other; /* kid still names the issuer */
    CHECK_BROKE(try_access(&s), ISS, "does not verify");
    ACCESS_END;
}

TEST(verify_kid_unknown)
{
    ACCESS_SPEC;
    tes_key *stranger = key_of(TES_CURVE_P256);
    s.signer = s.kid_key = stranger;
    CHECK_BROKE(try_access(&s), ISS, "no trusted issuer");
    tes_key_free(stranger);
    /* no issuer at all */
    s = spec_access(tes_buf_bytes(&data_));
    tes_buf doc = {0};
    build_doc(&s, &doc);
    tes_access_grant out;
    CHECK_ERR(tes_access_doc_verify(tes_buf_bytes(&doc), NULL, 0, &out), ISS);
    /* only a P-384 issuer: never matches */
    const tes_key *list[1] = {p384};
    CHECK_ERR(tes_access_doc_verify(tes_buf_bytes(&doc), list, 1, &out), ISS);
    tes_buf_free(&doc);
    ACCESS_END;
}

TEST(verify_altered_item)
{
    ACCESS_SPEC;
    s.alter_item = true;
    CHECK_BROKE(try_access(&s), ISS, "differs from its digest");
    ACCESS_END;
}

TEST(verify_item_without_digest)
{
    ACCESS_SPEC;
    s.mso_digest_id = 5; /* the item is digestID 0 */
    CHECK_BROKE(try_access(&s), ISS, "has no digest for digestID");
    ACCESS_END;
}

TEST(verify_mso_doctype_differs)
{
    ACCESS_SPEC;
    s.mso_doctype = "aliro-r";
    CHECK_BROKE(try_access(&s), ISS, "MSO's docType is another");
    ACCESS_END;
}

TEST(verify_wrong_alg)
{
    ACCESS_SPEC;
    s.alg = -35; /* ES384 */
    CHECK_BROKE(try_access(&s), ISS, "is not ES256");
    s.alg = -8; /* EdDSA */
    CHECK_BROKE(try_access(&s), ISS, "is not ES256");
    ACCESS_END;
}

TEST(verify_altered_signature_bytes)
{
    tes_access_grant g = grant(), out;
    tes_buf doc = {0};
    REQUIRE(issue(&g, &doc) == TES_OK);
    doc.ptr[doc.len - 1] ^= 0x01; /* the signature is the last item */
    CHECK_ERR(verify(tes_buf_bytes(&doc), &out), ISS);
    doc.ptr[doc.len - 1] ^= 0x01;
    CHECK_ERR(verify(tes_buf_bytes(&doc), &out), TES_OK);
    /* a byte of the MSO (inside the signed payload, not in a structure byte):
     * the signing time's last digit */
    uint8_t *at = memmem(doc.ptr, doc.len, "2026-03-01T14:30:00Z", 20);
    REQUIRE(at != NULL);
    at[18] = '1';
    CHECK_ERR(verify(tes_buf_bytes(&doc), &out), ISS);
    tes_buf_free(&doc);
}

/* ---------------------------------------------------------------- verify: the format checks */

TEST(verify_wrong_doctype)
{
    ACCESS_SPEC;
    s.doctype = "aliro-x";
    CHECK_BROKE(try_access(&s), FMT, "docType is \"aliro-x\"");
    s = spec_access(tes_buf_bytes(&data_));
    s.doctype = s.ns = s.mso_doctype = s.mso_ns = "aliro-r"; /* a proper other document */
    CHECK_BROKE(try_access(&s), FMT, "docType is \"aliro-r\"");
    s = spec_access(tes_buf_bytes(&data_));
    s.ns = "aliro-x";
    CHECK_BROKE(try_access(&s), FMT, "nameSpaces is not one namespace");
    s = spec_access(tes_buf_bytes(&data_));
    s.mso_ns = "aliro-x";
    CHECK_BROKE(try_access(&s), FMT, "valueDigests is not one namespace");
    ACCESS_END;
}

TEST(verify_mso_version_and_digest_algorithm)
{
    ACCESS_SPEC;
    s.version = "2.0";
    CHECK_BROKE(try_access(&s), FMT, "MSO version");
    s = spec_access(tes_buf_bytes(&data_));
    s.digest_alg = "SHA-384";
    CHECK_BROKE(try_access(&s), FMT, "digestAlgorithm");
    ACCESS_END;
}

TEST(verify_device_key_not_p256)
{
    ACCESS_SPEC;
    s.crv = 2; /* P-384 */
    CHECK_BROKE(try_access(&s), FMT, "not a P-256 key");
    s = spec_access(tes_buf_bytes(&data_));
    s.bad_point = true;
    CHECK_BROKE(try_access(&s), FMT, "not a point on P-256");
    s = spec_access(tes_buf_bytes(&data_));
    s.device_key = false;
    CHECK_BROKE(try_access(&s), FMT, "deviceKeyInfo is missing");
    ACCESS_END;
}

TEST(verify_cose_shape)
{
    ACCESS_SPEC;
    s.tagged = true;
    CHECK_BROKE(try_access(&s), FMT, "tagged");
    s = spec_access(tes_buf_bytes(&data_));
    s.kid_len = 7;
    CHECK_BROKE(try_access(&s), FMT, "unprotected header");
    s = spec_access(tes_buf_bytes(&data_));
    s.protected_extra = true;
    CHECK_BROKE(try_access(&s), FMT, "protected header");
    s = spec_access(tes_buf_bytes(&data_));
    s.unprotected_extra = true;
    CHECK_BROKE(try_access(&s), FMT, "unprotected header");
    s = spec_access(tes_buf_bytes(&data_));
    s.sig_len = 63;
    CHECK_BROKE(try_access(&s), FMT, "signature is not 64 bytes");
    ACCESS_END;
}

TEST(verify_unknown_members)
{
    ACCESS_SPEC;
    s.extra_doc_key = true;
    CHECK_BROKE(try_access(&s), FMT, "not a map of 5 docType");
    s = spec_access(tes_buf_bytes(&data_));
    s.extra_mso_key = true;
    CHECK_BROKE(try_access(&s), FMT, "the MSO is not a map");
    ACCESS_END;
}

TEST(verify_item_shape)
{
    ACCESS_SPEC;
    s.random_len = 8;
    CHECK_BROKE(try_access(&s), FMT, "random is not 16 bytes");
    s = spec_access(tes_buf_bytes(&data_));
    s.element = "element3"; /* no access data element */
    CHECK_BROKE(try_access(&s), FMT, "no item \"element2\"");
    s = spec_access(tes_buf_bytes(&data_));
    s.digest_id = s.mso_digest_id = 0x80000000u;
    CHECK_BROKE(try_access(&s), FMT, "below 2^31");
    ACCESS_END;
}

TEST(verify_validity)
{
    ACCESS_SPEC;
    s.until = s.from;
    CHECK_BROKE(try_access(&s), FMT, "validUntil is not after");
    s = spec_access(tes_buf_bytes(&data_));
    s.tdate_override = "2026-03-01T15:00:00.5Z";
    CHECK_BROKE(try_access(&s), FMT, "validityInfo");
    s.tdate_override = "2026-03-01T15:00:00+01:00";
    CHECK_BROKE(try_access(&s), FMT, "validityInfo");
    /* signed after validFrom is fine (a late guest) */
    s = spec_access(tes_buf_bytes(&data_));
    s.signed_at = T_IN + 3600;
    CHECK_ERR(try_access(&s), TES_OK);
    ACCESS_END;
}

TEST(verify_truncated_and_trailing)
{
    tes_access_grant g = grant(), out;
    tes_buf doc = {0};
    REQUIRE(issue(&g, &doc) == TES_OK);
    size_t bad = 0;
    for (size_t n = 0; n < doc.len; n++)
        bad += verify(TES_BYTES(doc.ptr, n), &out) != FMT;
    CHECK_EQ_INT(bad, 0);
    tes_buf_append(&doc, "\x00", 1);
    CHECK_ERR(verify(tes_buf_bytes(&doc), &out), FMT);
    ACCESS_SPEC;
    s.trailing = true;
    CHECK_BROKE(try_access(&s), FMT, "not one CBOR item");
    ACCESS_END;
    tes_buf_free(&doc);
}

TEST(verify_size_bound)
{
    tes_buf big = {0};
    uint8_t *p = tes_buf_extend(&big, TES_ACCESS_DOC_MAX + 1);
    REQUIRE(p != NULL);
    memset(p, 0, big.len);
    p[0] = 0x5a; /* a byte string of the rest's length */
    uint32_t n = TES_ACCESS_DOC_MAX + 1 - 5;
    p[1] = (uint8_t)(n >> 24);
    p[2] = (uint8_t)(n >> 16);
    p[3] = (uint8_t)(n >> 8);
    p[4] = (uint8_t)n;
    tes_access_grant out;
    CHECK_ERR(verify(tes_buf_bytes(&big), &out), FMT);
    tes_buf_free(&big);
}

TEST(verify_wrong_types)
{
    static const uint8_t not_a_map[] = {0x83, 0x01, 0x02, 0x03};
    static const uint8_t text_keys[] = {0xa1, 0x61, 0x35, 0x67, 'a', 'l', 'i', 'r', 'o', '-', 'a'};
    tes_access_grant out;
    CHECK_ERR(verify(TES_BYTES(not_a_map, sizeof not_a_map), &out), FMT);
    CHECK_ERR(verify(TES_BYTES(text_keys, sizeof text_keys), &out), FMT);
    CHECK_ERR(verify(TES_BYTES(NULL, 0), &out), FMT);
    data_spec ds = data_ok();
    ds.key_id_text = true;
    CHECK_BROKE(try_data(&ds), FMT, "key id is not");
    ds = data_ok();
    ds.rooms_not_array = true;
    CHECK_BROKE(try_data(&ds), FMT, "rooms are not an array");
    /* arguments */
    CHECK_ERR(tes_access_doc_verify(TES_BYTES(not_a_map, 4), trusted(), 2, NULL), TES_ERR_ARG);
    CHECK_ERR(tes_access_doc_verify(TES_BYTES(NULL, 4), trusted(), 2, &out), TES_ERR_ARG);
    CHECK_ERR(tes_access_doc_verify(TES_BYTES(not_a_map, 4), NULL, 2, &out), TES_ERR_ARG);
    const tes_key *holes[2] = {issuer, NULL};
    CHECK_ERR(tes_access_doc_verify(TES_BYTES(not_a_map, 4), holes, 2, &out), TES_ERR_ARG);
}

/* ---------------------------------------------------------------- verify: the access data */

TEST(verify_access_data_bounds)
{
    data_spec ds = data_ok();
    CHECK_ERR(try_data(&ds), TES_OK);
    ds.n_rooms = TES_ACCESS_MAX_ROOMS;
    CHECK_ERR(try_data(&ds), TES_OK);
    ds.n_rooms = TES_ACCESS_MAX_ROOMS + 1;
    CHECK_BROKE(try_data(&ds), FMT, "rooms are not an array");
    ds = data_ok();
    ds.n_rooms = 0;
    CHECK_BROKE(try_data(&ds), FMT, "rooms are not an array");
    ds = data_ok();
    ds.room0 = "0123456789abcde"; /* 15: fits */
    CHECK_ERR(try_data(&ds), TES_OK);
    ds.room0 = "0123456789abcdef"; /* 16 */
    CHECK_BROKE(try_data(&ds), FMT, "room 0 is not");
    ds.room0 = "";
    CHECK_BROKE(try_data(&ds), FMT, "room 0 is not");
    ds.room0 = "10\n1";
    CHECK_BROKE(try_data(&ds), FMT, "room 0 is not");
    ds.room0 = "101"; /* the second room is "101" too */
    CHECK_BROKE(try_data(&ds), FMT, "named twice");
    ds = data_ok();
    ds.version = 2;
    CHECK_BROKE(try_data(&ds), FMT, "version is not 1");
    ds.version = -1;
    CHECK_BROKE(try_data(&ds), FMT, "version is not 1");
    ds = data_ok();
    ds.key_id_len = 15;
    CHECK_BROKE(try_data(&ds), FMT, "key id is not");
    ds = data_ok();
    ds.n_groups = 2;
    CHECK_BROKE(try_data(&ds), FMT, "rules are not one");
    ds.n_groups = 0;
    CHECK_BROKE(try_data(&ds), FMT, "rules are not one");
    ds = data_ok();
    ds.extra_key = true;
    CHECK_BROKE(try_data(&ds), FMT, "access data is not a map");
}

TEST(verify_schedule_bounds)
{
    data_spec ds = data_ok();
    ds.from = 0;
    ds.until = 1440;
    CHECK_ERR(try_data(&ds), TES_OK);
    ds.until = 1441;
    CHECK_BROKE(try_data(&ds), FMT, "schedule is not one window");
    ds.from = ds.until = 600;
    CHECK_BROKE(try_data(&ds), FMT, "schedule is not one window");
    ds.from = 700;
    CHECK_BROKE(try_data(&ds), FMT, "schedule is not one window");
    ds = data_ok();
    ds.n_windows = 0;
    CHECK_BROKE(try_data(&ds), FMT, "schedule is not one window");
    ds.n_windows = 2;
    CHECK_BROKE(try_data(&ds), FMT, "schedule is not one window");
    ds.n_windows = -1; /* absent: all day */
    CHECK_ERR(try_data(&ds), TES_OK);
}

/* ---------------------------------------------------------------- revocation */

static tes_access_revocation *revocation(size_t n)
{
    tes_access_revocation *r = calloc(1, sizeof *r);
    if (r == NULL)
        abort();
    memset(r->group_id, 0xa5, 16);
    r->version = T_SIGNED;
    r->n_keys = n;
    for (size_t i = 0; i < n; i++) {
        r->keys[i][0] = (uint8_t)i;
        r->keys[i][1] = (uint8_t)(i >> 8);
        r->keys[i][15] = 0x77;
    }
    return r;
}

TEST(revocation_round_trip)
{
    setup();
    tes_signer s = tes_signer_from_key(issuer);
    tes_access_revocation *back = calloc(1, sizeof *back);
    REQUIRE(back != NULL);
    size_t sizes[3] = {0, 3, TES_ACCESS_MAX_REVOKED};
    for (int k = 0; k < 3; k++) {
        tes_access_revocation *r = revocation(sizes[k]);
        tes_buf doc = {0};
        CHECK_ERR(tes_access_revocation_issue(r, &s, issuer, NULL, &doc), TES_OK);
        CHECK(doc.len <= TES_ACCESS_DOC_MAX);
        CHECK_ERR(tes_access_revocation_verify(tes_buf_bytes(&doc), trusted(), 2, back), TES_OK);
        CHECK(memcmp(r, back, sizeof *r) == 0);
        /* an access document's verifier refuses it, and the reverse */
        tes_access_grant g;
        CHECK_ERR(verify(tes_buf_bytes(&doc), &g), FMT);
        tes_buf_free(&doc);
        free(r);
    }
    tes_access_grant g = grant();
    tes_buf doc = {0};
    REQUIRE(issue(&g, &doc) == TES_OK);
    CHECK_ERR(tes_access_revocation_verify(tes_buf_bytes(&doc), trusted(), 2, back), FMT);
    tes_buf_free(&doc);
    free(back);
}

TEST(revocation_issue_refuses)
{
    setup();
    tes_signer s = tes_signer_from_key(issuer);
    tes_buf doc = {0};
    tes_access_revocation *r = revocation(TES_ACCESS_MAX_REVOKED);
    r->n_keys = TES_ACCESS_MAX_REVOKED + 1;
    CHECK_ERR(tes_access_revocation_issue(r, &s, issuer, NULL, &doc), TES_ERR_ARG);
    r->n_keys = 3;
    memcpy(r->keys[2], r->keys[0], 16);
    CHECK_ERR(tes_access_revocation_issue(r, &s, issuer, NULL, &doc), TES_ERR_ARG);
    free(r);
    r = revocation(1);
    r->version = 0;
    CHECK_ERR(tes_access_revocation_issue(r, &s, issuer, NULL, &doc), TES_ERR_ARG);
    r->version = TES_ACCESS_TIME_MAX;
    CHECK_ERR(tes_access_revocation_issue(r, &s, issuer, NULL, &doc), TES_ERR_ARG);
    r->version = T_SIGNED;
    CHECK_ERR(tes_access_revocation_issue(r, &s, NULL, NULL, &doc), TES_ERR_ARG);
    CHECK_ERR(tes_access_revocation_issue(NULL, &s, issuer, NULL, &doc), TES_ERR_ARG);
    CHECK_EQ_INT(doc.len, 0);
    free(r);
    tes_buf_free(&doc);
}

static tes_err try_revocation(const doc_spec *s)
{
    tes_buf doc = {0};
    build_doc(s, &doc);
    tes_access_revocation *out = malloc(sizeof *out);
    if (out == NULL)
        abort();
    memset(out, 0xaa, sizeof *out);
    tes_err e = tes_access_revocation_verify(tes_buf_bytes(&doc), trusted(), 2, out);
    if (e != TES_OK) {
        tes_access_revocation *zero = calloc(1, sizeof *zero);
        CHECK(zero && memcmp(out, zero, sizeof *out) == 0);
        free(zero);
    }
    free(out);
    tes_buf_free(&doc);
    return e;
}

TEST(revocation_verify_checks)
{
    tes_buf data = {0};
    build_revocation_data(TES_ACCESS_MAX_REVOKED, false, &data);
    doc_spec s = spec_revocation(tes_buf_bytes(&data));
    CHECK_ERR(try_revocation(&s), TES_OK);
    s.signer = other;
    CHECK_BROKE(try_revocation(&s), ISS, "does not verify");
    s = spec_revocation(tes_buf_bytes(&data));
    s.alter_item = true;
    CHECK_BROKE(try_revocation(&s), ISS, "differs from its digest");
    s = spec_revocation(tes_buf_bytes(&data));
    s.device_key = true; /* a revocation document binds no endpoint */
    CHECK_BROKE(try_revocation(&s), FMT, "deviceKeyInfo is present");
    s = spec_revocation(tes_buf_bytes(&data));
    s.from = s.signed_at + 1; /* validFrom is the version */
    CHECK_BROKE(try_revocation(&s), FMT, "validFrom is not its version");
    tes_buf_reset(&data);
    build_revocation_data(TES_ACCESS_MAX_REVOKED + 1, false, &data);
    s = spec_revocation(tes_buf_bytes(&data));
    CHECK_BROKE(try_revocation(&s), FMT, "keys are not an array"); /* too many keys */
    tes_buf_reset(&data);
    build_revocation_data(4, true, &data);
    s = spec_revocation(tes_buf_bytes(&data));
    CHECK_BROKE(try_revocation(&s), FMT, "listed twice"); /* a key twice */
    tes_buf_free(&data);
}

/* ---------------------------------------------------------------- step-up request */

/* cbor2.dumps({"1": "1.0", "2": [{"1": CBORTag(24, cbor2.dumps({"1": {"aliro-a":
 * {"element2": True, "element4": True}}, "5": "aliro-a"}))}]}) and the same with the
 * revocation request appended. */
static const char REQ_ACCESS_HEX[] =
    "a2613163312e30613281a16131d818582ba26131a167616c69726f2d61a268656c656d656e7432f568656c656d"
    "656e7434f5613567616c69726f2d61";
static const char REQ_BOTH_HEX[] =
    "a2613163312e30613282a16131d818582ba26131a167616c69726f2d61a268656c656d656e7432f568656c656d"
    "656e7434f5613567616c69726f2d61a16131d8185821a26131a167616c69726f2d72a168656c656d656e7432f5"
    "613567616c69726f2d72";

static void hex(const char *h, tes_buf *out)
{
    if (tes_hex_decode(out, h, strlen(h)) != TES_OK)
        abort();
}

TEST(request_encode_matches_cbor2)
{
    tes_buf got = {0}, want = {0};
    REQUIRE(tes_access_request_encode(true, false, &got) == TES_OK);
    hex(REQ_ACCESS_HEX, &want);
    CHECK(tes_bytes_eq(tes_buf_bytes(&got), tes_buf_bytes(&want)));
    tes_buf_reset(&got);
    tes_buf_reset(&want);
    REQUIRE(tes_access_request_encode(true, true, &got) == TES_OK);
    hex(REQ_BOTH_HEX, &want);
    CHECK(tes_bytes_eq(tes_buf_bytes(&got), tes_buf_bytes(&want)));
    CHECK_ERR(tes_access_request_encode(false, false, &got), TES_ERR_ARG);
    CHECK_ERR(tes_access_request_encode(true, false, NULL), TES_ERR_ARG);
    tes_buf_free(&got);
    tes_buf_free(&want);
}

TEST(request_parse_round_trip)
{
    for (int k = 1; k < 4; k++) {
        tes_buf req = {0};
        REQUIRE(tes_access_request_encode(k & 1, k & 2, &req) == TES_OK);
        bool a = !(k & 1), r = !(k & 2);
        CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&req), &a, &r), TES_OK);
        CHECK(a == !!(k & 1) && r == !!(k & 2));
        tes_buf_free(&req);
    }
}

/* A request written by hand: keys as integers or text, chosen per map. */
static void build_request(bool int_keys, const char *doctype, const char *version, bool dup_key,
                          bool non_bool, tes_buf *out)
{
    tes_buf inner = {0};
    tes_cbor_enc ie = {.out = &inner};
    tes_cbor_enc_map(&ie, 2);
    if (int_keys)
        tes_cbor_enc_uint(&ie, 5);
    else
        tes_cbor_enc_cstr(&ie, "5");
    tes_cbor_enc_cstr(&ie, doctype);
    if (int_keys)
        tes_cbor_enc_uint(&ie, 1);
    else
        tes_cbor_enc_cstr(&ie, "1");
    tes_cbor_enc_map(&ie, 1);
    tes_cbor_enc_cstr(&ie, doctype);
    tes_cbor_enc_map(&ie, 1);
    tes_cbor_enc_cstr(&ie, "element2");
    if (non_bool)
        tes_cbor_enc_uint(&ie, 1);
    else
        tes_cbor_enc_bool(&ie, false);
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_map(&e, 2 + dup_key);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_cstr(&e, version);
    if (dup_key) {
        tes_cbor_enc_cstr(&e, "1");
        tes_cbor_enc_cstr(&e, version);
    }
    tes_cbor_enc_cstr(&e, "2");
    tes_cbor_enc_array(&e, 1);
    tes_cbor_enc_map(&e, 1);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_tag(&e, 24);
    tes_cbor_enc_bytes(&e, inner.ptr, inner.len);
    if (tes_cbor_enc_finish(&ie) != TES_OK || tes_cbor_enc_finish(&e) != TES_OK)
        abort();
    tes_buf_free(&inner);
}

TEST(request_parse_accepts_integer_and_text_keys)
{
    bool a, r;
    tes_buf req = {0};
    build_request(true, "aliro-r", "1.0", false, false, &req);
    CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&req), &a, &r), TES_OK);
    CHECK(!a && r);
    tes_buf_reset(&req);
    build_request(false, "aliro-a", "1.0", false, false, &req);
    CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&req), &a, &r), TES_OK);
    CHECK(a && !r);
    /* another docType: ignored */
    tes_buf_reset(&req);
    build_request(true, "org.iso.18013.5.1.mDL", "1.0", false, false, &req);
    CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&req), &a, &r), TES_OK);
    CHECK(!a && !r);
    tes_buf_free(&req);
}

TEST(request_parse_refuses)
{
    bool a = true, r = true;
    tes_buf req = {0};
    build_request(true, "aliro-a", "1.0", true, false, &req); /* 1 and "1" */
    CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&req), &a, &r), FMT);
    CHECK(!a && !r);
    tes_buf_reset(&req);
    build_request(true, "aliro-a", "2.0", false, false, &req);
    CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&req), &a, &r), FMT);
    tes_buf_reset(&req);
    build_request(true, "aliro-a", "1.0", false, true, &req); /* element => 1 */
    CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&req), &a, &r), FMT);
    tes_buf_reset(&req);
    REQUIRE(tes_access_request_encode(true, true, &req) == TES_OK);
    size_t bad = 0;
    for (size_t n = 0; n < req.len; n++)
        bad += tes_access_request_parse(TES_BYTES(req.ptr, n), &a, &r) != FMT;
    CHECK_EQ_INT(bad, 0);
    tes_buf_append(&req, "\x00", 1);
    CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&req), &a, &r), FMT);
    /* no document requests; a version as an integer; "01" is not a key */
    static const uint8_t empty[] = {0xa2, 0x01, 0x63, '1', '.', '0', 0x02, 0x80};
    static const uint8_t int_version[] = {0xa2, 0x01, 0x01, 0x02, 0x80};
    static const uint8_t zero_key[] = {0xa2, 0x62, '0', '1', 0x63, '1', '.', '0', 0x02, 0x80};
    CHECK_ERR(tes_access_request_parse(TES_BYTES(empty, sizeof empty), &a, &r), FMT);
    CHECK_ERR(tes_access_request_parse(TES_BYTES(int_version, sizeof int_version), &a, &r), FMT);
    CHECK_ERR(tes_access_request_parse(TES_BYTES(zero_key, sizeof zero_key), &a, &r), FMT);
    CHECK_ERR(tes_access_request_parse(TES_BYTES(empty, sizeof empty), NULL, &r), TES_ERR_ARG);
    /* 9 document requests; more than TES_ACCESS_REQUEST_MAX bytes */
    tes_buf one = {0}, many = {0};
    REQUIRE(tes_access_request_encode(true, false, &one) == TES_OK);
    size_t dr_off = 9; /* a2 61 31 63 312e30 61 32 | 81 | DocRequest */
    REQUIRE(one.ptr[dr_off] == 0x81);
    tes_buf_append(&many, one.ptr, dr_off);
    tes_buf_append(&many, "\x89", 1);
    for (int i = 0; i < 9; i++)
        tes_buf_append(&many, one.ptr + dr_off + 1, one.len - dr_off - 1);
    CHECK_BROKE(tes_access_request_parse(tes_buf_bytes(&many), &a, &r), FMT, "1 to 8 document");
    many.ptr[dr_off] = 0x88; /* 8 of them: fine */
    many.len -= one.len - dr_off - 1;
    CHECK_ERR(tes_access_request_parse(tes_buf_bytes(&many), &a, &r), TES_OK);
    CHECK(a && !r);
    tes_buf_reset(&many);
    uint8_t *big = tes_buf_extend(&many, TES_ACCESS_REQUEST_MAX + 1);
    REQUIRE(big != NULL);
    memset(big, 0, many.len);
    big[0] = 0x59; /* bstr of the rest */
    big[1] = (uint8_t)((TES_ACCESS_REQUEST_MAX - 2) >> 8);
    big[2] = (uint8_t)(TES_ACCESS_REQUEST_MAX - 2);
    CHECK_BROKE(tes_access_request_parse(tes_buf_bytes(&many), &a, &r), FMT, "bytes, above");
    tes_buf_free(&one);
    tes_buf_free(&many);
    tes_buf_free(&req);
}

/* ---------------------------------------------------------------- step-up response */

TEST(response_round_trip)
{
    tes_access_grant g = grant(), back;
    tes_signer s = tes_signer_from_key(issuer);
    tes_buf a = {0}, r = {0}, resp = {0};
    REQUIRE(issue(&g, &a) == TES_OK);
    tes_access_revocation *rv = revocation(2);
    REQUIRE(tes_access_revocation_issue(rv, &s, issuer, NULL, &r) == TES_OK);
    free(rv);
    tes_bytes docs[2] = {tes_buf_bytes(&a), tes_buf_bytes(&r)}, got[4];
    REQUIRE(tes_access_response_encode(docs, 2, &resp) == TES_OK);
    CHECK(resp.ptr[0] == 0xa3 && resp.ptr[1] == 0x01 && resp.ptr[resp.len - 2] == 0x03 &&
          resp.ptr[resp.len - 1] == 0x00);
    size_t n = 9;
    CHECK_ERR(tes_access_response_parse(tes_buf_bytes(&resp), got, 4, &n), TES_OK);
    REQUIRE(n == 2);
    CHECK(tes_bytes_eq(got[0], docs[0]) && tes_bytes_eq(got[1], docs[1]));
    CHECK(tes_access_doc_is(got[0], TES_ACCESS_DOCTYPE));
    CHECK(!tes_access_doc_is(got[0], TES_REVOCATION_DOCTYPE));
    CHECK(tes_access_doc_is(got[1], TES_REVOCATION_DOCTYPE));
    CHECK(!tes_access_doc_is(got[1], TES_ACCESS_DOCTYPE));
    CHECK(!tes_access_doc_is(TES_BYTES(got[0].ptr, got[0].len - 1), TES_ACCESS_DOCTYPE));
    CHECK(!tes_access_doc_is(got[0], NULL));
    CHECK(got[0].ptr >= resp.ptr && got[0].ptr < resp.ptr + resp.len); /* points into it */
    CHECK_ERR(verify(got[0], &back), TES_OK);
    CHECK_ERR(tes_access_response_parse(tes_buf_bytes(&resp), got, 1, &n), FMT);
    CHECK_EQ_INT(n, 0);
    /* no documents */
    tes_buf_reset(&resp);
    REQUIRE(tes_access_response_encode(NULL, 0, &resp) == TES_OK);
    CHECK_ERR(tes_access_response_parse(tes_buf_bytes(&resp), NULL, 0, &n), TES_OK);
    CHECK_EQ_INT(n, 0);
    tes_buf_free(&a);
    tes_buf_free(&r);
    tes_buf_free(&resp);
}

TEST(response_refuses)
{
    tes_bytes got[4];
    size_t n;
    /* status 1, text keys, version 2.0, a document that is no map, a member missing */
    static const uint8_t status1[] = {0xa3, 0x01, 0x63, '1', '.', '0', 0x02, 0x80, 0x03, 0x01};
    static const uint8_t text_keys[] = {0xa3, 0x61, '1',  0x63, '1', '.', '0',
                                        0x61, '2',  0x80, 0x61, '3', 0x00};
    static const uint8_t v2[] = {0xa3, 0x01, 0x63, '2', '.', '0', 0x02, 0x80, 0x03, 0x00};
    static const uint8_t not_map[] = {0xa3, 0x01, 0x63, '1',  '.',  '0',
                                      0x02, 0x81, 0x41, 0x00, 0x03, 0x00};
    static const uint8_t no_status[] = {0xa2, 0x01, 0x63, '1', '.', '0', 0x02, 0x80};
    static const uint8_t ok[] = {0xa3, 0x01, 0x63, '1', '.', '0', 0x02, 0x81, 0xa0, 0x03, 0x00};
    CHECK_ERR(tes_access_response_parse(TES_BYTES(status1, sizeof status1), got, 4, &n), FMT);
    CHECK_ERR(tes_access_response_parse(TES_BYTES(text_keys, sizeof text_keys), got, 4, &n), FMT);
    CHECK_ERR(tes_access_response_parse(TES_BYTES(v2, sizeof v2), got, 4, &n), FMT);
    CHECK_ERR(tes_access_response_parse(TES_BYTES(not_map, sizeof not_map), got, 4, &n), FMT);
    CHECK_ERR(tes_access_response_parse(TES_BYTES(no_status, sizeof no_status), got, 4, &n), FMT);
    CHECK_ERR(tes_access_response_parse(TES_BYTES(ok, sizeof ok), got, 4, &n), TES_OK);
    CHECK_EQ_INT(n, 1);
    size_t bad = 0;
    for (size_t k = 0; k < sizeof ok; k++)
        bad += tes_access_response_parse(TES_BYTES(ok, k), got, 4, &n) != FMT;
    CHECK_EQ_INT(bad, 0);
    CHECK_ERR(tes_access_response_parse(TES_BYTES(ok, sizeof ok), got, 4, NULL), TES_ERR_ARG);
    /* the encoder refuses a document that is not one CBOR item */
    tes_bytes two_items = TES_BYTES("\xa0\xa0", 2), empty = TES_BYTES("", 0);
    tes_buf out = {0};
    CHECK_ERR(tes_access_response_encode(&two_items, 1, &out), TES_ERR_ARG);
    CHECK_ERR(tes_access_response_encode(&empty, 1, &out), TES_ERR_ARG);
    /* four documents of 16 KiB: beyond TES_ACCESS_RESPONSE_MAX */
    tes_buf blob = {0};
    uint8_t *b = tes_buf_extend(&blob, TES_ACCESS_DOC_MAX);
    REQUIRE(b != NULL);
    memset(b, 0, blob.len);
    b[0] = 0x59;
    b[1] = (uint8_t)((TES_ACCESS_DOC_MAX - 3) >> 8);
    b[2] = (uint8_t)(TES_ACCESS_DOC_MAX - 3);
    tes_bytes four[4] = {tes_buf_bytes(&blob), tes_buf_bytes(&blob), tes_buf_bytes(&blob),
                         tes_buf_bytes(&blob)};
    CHECK_ERR(tes_access_response_encode(four, 3, &out), TES_OK);
    tes_buf_reset(&out);
    CHECK_ERR(tes_access_response_encode(four, 4, &out), TES_ERR_ARG);
    CHECK_EQ_INT(out.len, 0);
    tes_buf_free(&blob);
    CHECK_EQ_INT(out.len, 0);
    tes_buf_free(&out);
}

/* ---------------------------------------------------------------- the fuzz target's seeds */

/* The fuzz target's issuer (tests/fuzz/fuzz_access_doc.c holds the same scalar). */
static const uint8_t FUZZ_ISSUER_D[32] = {
    0x8b, 0x99, 0xcc, 0xb4, 0xa5, 0xca, 0xae, 0x6d, 0x71, 0xb5, 0xfb, 0x4e, 0x52, 0xb9, 0x91, 0xc3,
    0x4d, 0x4f, 0x65, 0x33, 0x4f, 0x79, 0xdb, 0xea, 0xf7, 0xf4, 0x51, 0x34, 0x72, 0xaa, 0x82, 0x74,
};
#define SEED_DIR "tests/fuzz/corpus/fuzz_access_doc"

static void write_seed(const char *dir, const char *name, tes_bytes b)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    CHECK(fwrite(b.ptr, 1, b.len, f) == b.len);
    fclose(f);
}

TEST(fuzz_seeds)
{
    tes_key *k = NULL;
    REQUIRE(tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(FUZZ_ISSUER_D, 32), &k) == TES_OK);
    const char *dir = getenv("TES_ACCESS_DOC_WRITE_SEEDS");
    if (dir != NULL) {
        tes_signer s = tes_signer_from_key(k);
        tes_access_grant g = grant();
        g.daily_from = 360;
        g.daily_until = 1380;
        tes_access_revocation *r = revocation(3);
        tes_buf a = {0}, rv = {0}, req = {0}, resp = {0};
        REQUIRE(tes_access_doc_issue(&g, &s, k, NULL, &a) == TES_OK);
        REQUIRE(tes_access_revocation_issue(r, &s, k, NULL, &rv) == TES_OK);
        REQUIRE(tes_access_request_encode(true, true, &req) == TES_OK);
        tes_bytes docs[2] = {tes_buf_bytes(&a), tes_buf_bytes(&rv)};
        REQUIRE(tes_access_response_encode(docs, 2, &resp) == TES_OK);
        write_seed(dir, "access_document", tes_buf_bytes(&a));
        write_seed(dir, "revocation_document", tes_buf_bytes(&rv));
        write_seed(dir, "device_request", tes_buf_bytes(&req));
        write_seed(dir, "device_response", tes_buf_bytes(&resp));
        free(r);
        tes_buf_free(&a);
        tes_buf_free(&rv);
        tes_buf_free(&req);
        tes_buf_free(&resp);
    }
    /* the committed seeds still say what the fuzz target expects of them */
    const tes_key *list[1] = {k};
    tes_buf b = {0};
    tes_access_grant g;
    tes_access_revocation *r = calloc(1, sizeof *r);
    bool acc, rev;
    tes_bytes docs[4];
    size_t n;
    REQUIRE(r != NULL);
    CHECK(tes_file_read(SEED_DIR "/access_document", TES_ACCESS_DOC_MAX, &b) == TES_OK &&
          tes_access_doc_verify(tes_buf_bytes(&b), list, 1, &g) == TES_OK);
    tes_buf_reset(&b);
    CHECK(tes_file_read(SEED_DIR "/revocation_document", TES_ACCESS_DOC_MAX, &b) == TES_OK &&
          tes_access_revocation_verify(tes_buf_bytes(&b), list, 1, r) == TES_OK);
    tes_buf_reset(&b);
    CHECK(tes_file_read(SEED_DIR "/device_request", TES_ACCESS_DOC_MAX, &b) == TES_OK &&
          tes_access_request_parse(tes_buf_bytes(&b), &acc, &rev) == TES_OK && acc && rev);
    tes_buf_reset(&b);
    CHECK(tes_file_read(SEED_DIR "/device_response", TES_ACCESS_RESPONSE_MAX, &b) == TES_OK &&
          tes_access_response_parse(tes_buf_bytes(&b), docs, 4, &n) == TES_OK && n == 2 &&
          tes_access_doc_verify(docs[0], list, 1, &g) == TES_OK &&
          tes_access_revocation_verify(docs[1], list, 1, r) == TES_OK);
    free(r);
    tes_buf_free(&b);
    tes_key_free(k);
}
