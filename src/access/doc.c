/*
 * Access and revocation documents, the envelope both share (profile
 * "tessera-hotel-1", include/tessera/access.h): the Document with its one
 * IssuerSignedItem, the MSO with its digest, validity and endpoint key, and
 * issuerAuth, an untagged COSE_Sign1 (ES256) with the issuer's kid in its
 * unprotected header. Also the AUTH1 timestamps and the small readers the
 * other document files share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_internal.h"

#define FMT(...) tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, __VA_ARGS__)

/* Every document parse: one item of at most a document's size. */
static const tes_cbor_limits doc_limits = {
    .max_input = TES_ACCESS_DOC_MAX, .max_depth = 12, .max_items = 2048};

/* The protected header {1: -7}. */
static const uint8_t PROTECTED_ES256[3] = {0xa1, 0x01, 0x26};

/* ---------------------------------------------------------------- timestamps */

void tes_access_timestamp(int64_t t, uint8_t out[TES_ACCESS_TIMESTAMP_LEN])
{
    if (t <= 0 || t > TES_ACCESS_TIME_MAX) {
        memset(out, 0, TES_ACCESS_TIMESTAMP_LEN);
        return;
    }
    char s[21];
    tes_time_format(t, s);
    memcpy(out, s, TES_ACCESS_TIMESTAMP_LEN);
}

/* The exact form tes_access_timestamp writes for some t in 1..TES_ACCESS_TIME_MAX. */
static bool timestamp_read(const uint8_t *p, int64_t *t)
{
    int64_t v;
    if (p[10] != 'T' || p[19] != 'Z' ||
        tes_time_parse((const char *)p, TES_ACCESS_TIMESTAMP_LEN, true, &v) != TES_OK)
        return false;
    uint8_t back[TES_ACCESS_TIMESTAMP_LEN];
    tes_access_timestamp(v, back);
    if (memcmp(back, p, sizeof back) != 0) /* seconds 60, years 0000, out of range */
        return false;
    *t = v;
    return true;
}

tes_err tes_access_timestamp_parse(const uint8_t in[TES_ACCESS_TIMESTAMP_LEN], int64_t *t)
{
    if (in == NULL || t == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_access_timestamp_parse: NULL argument");
    static const uint8_t zeros[TES_ACCESS_TIMESTAMP_LEN];
    if (memcmp(in, zeros, sizeof zeros) == 0) {
        *t = 0;
        return TES_OK;
    }
    if (!timestamp_read(in, t)) {
        char shown[24];
        tes_text_printable(shown, sizeof shown, TES_BYTES(in, TES_ACCESS_TIMESTAMP_LEN));
        return tes_err_set(TES_ERR_TLV, "timestamp '%s' is not YYYY-MM-DDTHH:MM:SSZ", shown);
    }
    return TES_OK;
}

void accessdoc_enc_tdate(tes_cbor_enc *e, int64_t t)
{
    uint8_t s[TES_ACCESS_TIMESTAMP_LEN];
    tes_access_timestamp(t, s);
    tes_cbor_enc_tag(e, 0);
    tes_cbor_enc_text(e, (const char *)s, sizeof s);
}

bool accessdoc_tdate(const tes_cbor_doc *d, uint32_t i, int64_t *t)
{
    if (!tes_cbor_is(d, i, TES_CBOR_TAG) || d->nodes[i].val != 0 ||
        !tes_cbor_is(d, i + 1, TES_CBOR_TEXT) || d->nodes[i + 1].len != TES_ACCESS_TIMESTAMP_LEN)
        return false;
    return timestamp_read(d->nodes[i + 1].data, t);
}

/* ---------------------------------------------------------------- small readers */

bool accessdoc_key(const tes_cbor_doc *d, uint32_t k, bool flex, int64_t *out)
{
    const tes_cbor_node *n = tes_cbor_at(d, k);
    if (n == NULL)
        return false;
    if (n->type == TES_CBOR_UINT || n->type == TES_CBOR_NEGINT)
        return tes_cbor_get_int(d, k, out);
    if (!flex || n->type != TES_CBOR_TEXT || n->len == 0 || n->len > 2 ||
        (n->len == 2 && n->data[0] == '0'))
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n->len; i++) {
        if (n->data[i] < '0' || n->data[i] > '9')
            return false;
        v = v * 10 + (n->data[i] - '0');
    }
    *out = v;
    return true;
}

bool accessdoc_members(const tes_cbor_doc *d, uint32_t m, const int64_t *keys, size_t n, bool flex,
                       uint32_t *vals)
{
    for (size_t j = 0; j < n; j++)
        vals[j] = TES_CBOR_NONE;
    if (!tes_cbor_is(d, m, TES_CBOR_MAP))
        return false;
    uint64_t pairs = tes_cbor_count(d, m);
    uint32_t k = m + 1;
    for (uint64_t p = 0; p < pairs; p++) {
        int64_t key;
        if (!accessdoc_key(d, k, flex, &key))
            return false;
        size_t j = 0;
        while (j < n && keys[j] != key)
            j++;
        uint32_t v = tes_cbor_next(d, k);
        if (j == n || vals[j] != TES_CBOR_NONE)
            return false;
        vals[j] = v;
        k = tes_cbor_next(d, v);
    }
    return true;
}

bool accessdoc_bytes(const tes_cbor_doc *d, uint32_t i, size_t len, uint8_t *out)
{
    if (!tes_cbor_is(d, i, TES_CBOR_BYTES) || d->nodes[i].len != len)
        return false;
    if (out != NULL)
        memcpy(out, d->nodes[i].data, len);
    return true;
}

bool accessdoc_uint(const tes_cbor_doc *d, uint32_t i, uint64_t max, uint64_t *out)
{
    if (!tes_cbor_is(d, i, TES_CBOR_UINT) || d->nodes[i].val > max)
        return false;
    if (out != NULL)
        *out = d->nodes[i].val;
    return true;
}

bool accessdoc_room_ok(const uint8_t *s, size_t n)
{
    if (n == 0 || n >= TES_ACCESS_ROOM_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

static bool text_is(const tes_cbor_doc *d, uint32_t i, tes_bytes want)
{
    return tes_cbor_is(d, i, TES_CBOR_TEXT) &&
           tes_bytes_eq(TES_BYTES(d->nodes[i].data, d->nodes[i].len), want);
}

/* ---------------------------------------------------------------- kid */

tes_err tes_access_doc_kid(const tes_key *issuer_public, uint8_t kid[TES_ACCESS_KID_LEN])
{
    if (issuer_public == NULL || kid == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_access_doc_kid: NULL argument");
    if (tes_key_curve(issuer_public) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_ARG, "an access document issuer key is a P-256 key");
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD], point[TES_ACCESS_POINT_LEN], dg[32];
    tes_err e = tes_key_public_raw(issuer_public, x, y);
    if (e != TES_OK)
        return e;
    point[0] = 0x04;
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    e = tes_digest(TES_HASH_SHA256, TES_BYTES(point, sizeof point), dg);
    if (e == TES_OK)
        memcpy(kid, dg, TES_ACCESS_KID_LEN);
    return e;
}

/* ---------------------------------------------------------------- issuing */

/* Room in front of the MSO for 24(bstr head) and the Sig_structure's heads. */
#define MSO_ROOM 64

/* The MSO into tbs after MSO_ROOM bytes. */
static tes_err write_mso(tes_buf *tbs, const accessdoc_envelope *env, const uint8_t digest[32])
{
    size_t dtl = strlen(env->doctype);
    if (tes_buf_extend(tbs, MSO_ROOM + 256 + 2 * dtl) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory issuing a %s document", env->doctype);
    tbs->len = MSO_ROOM;
    tes_cbor_enc e = {.out = tbs};
    tes_cbor_enc_map(&e, 5 + env->has_device_key);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_cstr(&e, "1.0");
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_cstr(&e, "SHA-256");
    tes_cbor_enc_uint(&e, 3); /* {NS: {0: digest}} */
    tes_cbor_enc_map(&e, 1);
    tes_cbor_enc_text(&e, env->doctype, dtl);
    tes_cbor_enc_map(&e, 1);
    tes_cbor_enc_uint(&e, 0);
    tes_cbor_enc_bytes(&e, digest, 32);
    if (env->has_device_key) { /* {1: {1: 2, -1: 1, -2: x, -3: y}} */
        tes_cbor_enc_uint(&e, 4);
        tes_cbor_enc_map(&e, 1);
        tes_cbor_enc_uint(&e, 1);
        tes_cbor_enc_map(&e, 4);
        tes_cbor_enc_uint(&e, 1);
        tes_cbor_enc_uint(&e, 2);
        tes_cbor_enc_int(&e, -1);
        tes_cbor_enc_uint(&e, 1);
        tes_cbor_enc_int(&e, -2);
        tes_cbor_enc_bytes(&e, env->device_key + 1, 32);
        tes_cbor_enc_int(&e, -3);
        tes_cbor_enc_bytes(&e, env->device_key + 33, 32);
    }
    tes_cbor_enc_uint(&e, 5);
    tes_cbor_enc_text(&e, env->doctype, dtl);
    tes_cbor_enc_uint(&e, 6);
    tes_cbor_enc_map(&e, 3);
    tes_cbor_enc_uint(&e, 1);
    accessdoc_enc_tdate(&e, env->signed_at);
    tes_cbor_enc_uint(&e, 2);
    accessdoc_enc_tdate(&e, env->valid_from);
    tes_cbor_enc_uint(&e, 3);
    accessdoc_enc_tdate(&e, env->valid_until);
    return tes_cbor_enc_finish(&e);
}

/* Wraps the MSO written after MSO_ROOM in 24(bstr), puts the Sig_structure's
 * heads in front of that and signs in place: *payload is the wrapped MSO. */
static tes_err sign_mso(tes_buf *tbs, const tes_signer *s, tes_bytes *payload, uint8_t sig[64])
{
    size_t mso_len = tbs->len - MSO_ROOM;
    size_t off = MSO_ROOM - 2 - tes_cbor_head_size(mso_len);
    uint8_t *p = tbs->ptr;
    p[off] = 0xd8;
    p[off + 1] = 24;
    tes_cbor_put_head(p + off + 2, 0x40, mso_len);
    size_t plen = tbs->len - off;
    /* ["Signature1", h'a10126', h'', payload] */
    static const char ctx[] = "Signature1";
    size_t hlen =
        1 + 1 + (sizeof ctx - 1) + 1 + sizeof PROTECTED_ES256 + 1 + tes_cbor_head_size(plen);
    uint8_t *h = p + off - hlen;
    size_t n = 0;
    h[n++] = 0x84;
    n += tes_cbor_put_head(h + n, 0x60, sizeof ctx - 1);
    memcpy(h + n, ctx, sizeof ctx - 1);
    n += sizeof ctx - 1;
    n += tes_cbor_put_head(h + n, 0x40, sizeof PROTECTED_ES256);
    memcpy(h + n, PROTECTED_ES256, sizeof PROTECTED_ES256);
    n += sizeof PROTECTED_ES256;
    h[n++] = 0x40;
    tes_cbor_put_head(h + n, 0x40, plen);
    uint8_t raw[TES_MAX_SIG];
    size_t sig_len = sizeof raw;
    tes_err e = s->sign(s->ctx, s->alg, TES_BYTES(h, hlen + plen), raw, &sig_len);
    if (e != TES_OK)
        return e;
    if (sig_len != 64)
        return tes_err_set(TES_ERR_CRYPTO,
                           "the issuer's signer gave %zu bytes, not an ES256 "
                           "signature of 64",
                           sig_len);
    memcpy(sig, raw, 64);
    *payload = TES_BYTES(p + off, plen);
    return TES_OK;
}

tes_err accessdoc_issue(const accessdoc_envelope *env, const tes_signer *issuer,
                        const tes_key *issuer_public, const tes_rng *rng, tes_buf *out)
{
    if (env == NULL || issuer == NULL || issuer->sign == NULL || issuer_public == NULL ||
        out == NULL)
        return tes_err_set(TES_ERR_ARG, "issuing a document: NULL argument");
    if (issuer->alg != TES_COSE_ES256)
        return tes_err_set(TES_ERR_ARG,
                           "an access document issuer signs with ES256 (alg -7), not "
                           "%lld",
                           (long long)issuer->alg);
    uint8_t kid[TES_ACCESS_KID_LEN], rnd[ACCESSDOC_RANDOM_LEN], digest[32], sig[64];
    tes_err e = tes_access_doc_kid(issuer_public, kid);
    if (e != TES_OK)
        return e;
    tes_rng sys = tes_rng_system();
    if ((e = tes_rng_fill(rng ? rng : &sys, rnd, sizeof rnd)) != TES_OK)
        return e;

    /* 24(bstr {1: 0, 2: random, 3: "element2", 4: value}): the bytes before the value */
    static const char el[] = ACCESSDOC_ELEMENT;
    size_t inner = 1 + 2 + 2 + sizeof rnd + 2 + (sizeof el - 1) + 1 + env->value.len;
    uint8_t pre[64];
    size_t n = 0;
    pre[n++] = 0xd8;
    pre[n++] = 24;
    n += tes_cbor_put_head(pre + n, 0x40, inner);
    pre[n++] = 0xa4;
    pre[n++] = 0x01;
    pre[n++] = 0x00; /* digestID 0: the document's one item */
    pre[n++] = 0x02;
    pre[n++] = 0x40 | sizeof rnd;
    memcpy(pre + n, rnd, sizeof rnd);
    n += sizeof rnd;
    pre[n++] = 0x03;
    pre[n++] = 0x60 | (sizeof el - 1);
    memcpy(pre + n, el, sizeof el - 1);
    n += sizeof el - 1;
    pre[n++] = 0x04;
    tes_bytes parts[2] = {TES_BYTES(pre, n), env->value};
    if ((e = tes_digest_parts(TES_HASH_SHA256, parts, 2, digest)) != TES_OK)
        return e;

    tes_buf tbs = {0};
    tes_bytes payload = {0};
    e = write_mso(&tbs, env, digest);
    if (e == TES_OK)
        e = sign_mso(&tbs, issuer, &payload, sig);
    size_t before = out->len;
    if (e == TES_OK) {
        size_t dtl = strlen(env->doctype);
        tes_buf_extend(out, 64 + 2 * dtl + n + env->value.len + payload.len + 64);
        out->len = before;
        tes_cbor_enc o = {.out = out};
        tes_cbor_enc_map(&o, 2);
        tes_cbor_enc_uint(&o, 5);
        tes_cbor_enc_text(&o, env->doctype, dtl);
        tes_cbor_enc_uint(&o, 1);
        tes_cbor_enc_map(&o, 2);
        tes_cbor_enc_uint(&o, 1);
        tes_cbor_enc_map(&o, 1);
        tes_cbor_enc_text(&o, env->doctype, dtl);
        tes_cbor_enc_array(&o, 1);
        tes_cbor_enc_raw(&o, TES_BYTES(pre, n));
        tes_cbor_enc_raw(&o, env->value);
        tes_cbor_enc_uint(&o, 2);
        tes_cbor_enc_array(&o, 4);
        tes_cbor_enc_bytes(&o, PROTECTED_ES256, sizeof PROTECTED_ES256);
        tes_cbor_enc_map(&o, 1);
        tes_cbor_enc_uint(&o, TES_COSE_HDR_KID);
        tes_cbor_enc_bytes(&o, kid, sizeof kid);
        tes_cbor_enc_bytes(&o, payload.ptr, payload.len);
        tes_cbor_enc_bytes(&o, sig, sizeof sig);
        e = tes_cbor_enc_finish(&o);
        if (e == TES_OK && out->len - before > TES_ACCESS_DOC_MAX)
            e = tes_err_set(TES_ERR_ARG, "the %s document would be %zu bytes, above %d",
                            env->doctype, out->len - before, TES_ACCESS_DOC_MAX);
        if (e != TES_OK)
            out->len = before;
    }
    tes_buf_free(&tbs);
    tes_wipe(rnd, sizeof rnd);
    return e;
}

/* ---------------------------------------------------------------- verifying */

/* One IssuerSignedItem as read (pointers into the document). */
typedef struct item_view {
    tes_bytes whole; /* 24(bstr ...) as it stands in the array: what its digest covers */
    uint64_t id;
    tes_bytes name;
    tes_bytes value;
} item_view;

typedef struct doc_view {
    tes_cose_msg auth;
    uint8_t kid[TES_ACCESS_KID_LEN];
    item_view items[ACCESSDOC_MAX_ITEMS];
    size_t n_items;
    uint64_t ids[ACCESSDOC_MAX_DIGESTS];
    const uint8_t *digests[ACCESSDOC_MAX_DIGESTS];
    size_t n_digests;
    bool doctype_signed; /* the MSO's docType is the Document's */
} doc_view;

/* IssuerSignedItem = {1: digestID, 2: random bstr(16), 3: tstr, 4: any} */
static tes_err read_item(const char *dt, tes_bytes whole, tes_bytes inner, item_view *it)
{
    tes_cbor_node st[64];
    tes_cbor_doc d;
    tes_err e = tes_cbor_parse_with(inner, &doc_limits, st, 64, &d);
    if (e != TES_OK)
        return FMT("%s document: an item is not one CBOR item: %s", dt, tes_err_message());
    static const int64_t keys[4] = {1, 2, 3, 4};
    uint32_t v[4];
    if (!accessdoc_members(&d, 0, keys, 4, false, v) || v[0] == TES_CBOR_NONE ||
        v[3] == TES_CBOR_NONE)
        e = FMT("%s document: an item is not a map of 1 digestID, 2 random, 3 element, "
                "4 value",
                dt);
    else if (!accessdoc_uint(&d, v[0], 0x7fffffff, &it->id))
        e = FMT("%s document: an item's digestID is not an unsigned integer below 2^31", dt);
    else if (!accessdoc_bytes(&d, v[1], ACCESSDOC_RANDOM_LEN, NULL))
        e = FMT("%s document: an item's random is not 16 bytes", dt);
    else if (!tes_cbor_is(&d, v[2], TES_CBOR_TEXT))
        e = FMT("%s document: an item's element identifier is not text", dt);
    if (e == TES_OK) {
        it->whole = whole;
        it->name = TES_BYTES(d.nodes[v[2]].data, d.nodes[v[2]].len);
        it->value = tes_cbor_span(&d, v[3]);
    }
    tes_cbor_doc_free(&d);
    return e;
}

/* nameSpaces = {docType: [+ 24(bstr .cbor IssuerSignedItem)]} */
static tes_err read_namespaces(const tes_cbor_doc *d, uint32_t ns, const char *dt, doc_view *v)
{
    if (!tes_cbor_is(d, ns, TES_CBOR_MAP) || tes_cbor_count(d, ns) != 1 ||
        !text_is(d, ns + 1, TES_BYTES(dt, strlen(dt))))
        return FMT("%s document: nameSpaces is not one namespace \"%s\"", dt, dt);
    uint32_t arr = tes_cbor_next(d, ns + 1);
    if (!tes_cbor_is(d, arr, TES_CBOR_ARRAY) || tes_cbor_count(d, arr) == 0 ||
        tes_cbor_count(d, arr) > ACCESSDOC_MAX_ITEMS)
        return FMT("%s document: the namespace is not an array of 1 to %d items", dt,
                   ACCESSDOC_MAX_ITEMS);
    uint32_t i = arr + 1;
    for (uint64_t k = 0; k < tes_cbor_count(d, arr); k++, i = tes_cbor_next(d, i)) {
        tes_bytes inner;
        if (!tes_cbor_tag24_content(d, i, &inner))
            return FMT("%s document: item %llu is not 24(bstr)", dt, (unsigned long long)k);
        item_view *it = &v->items[v->n_items];
        tes_err e = read_item(dt, tes_cbor_span(d, i), inner, it);
        if (e != TES_OK)
            return e;
        for (size_t j = 0; j < v->n_items; j++)
            if (v->items[j].id == it->id || tes_bytes_eq(v->items[j].name, it->name))
                return FMT("%s document: two items share a digestID or an element", dt);
        v->n_items++;
    }
    return TES_OK;
}

/* issuerAuth = [h'a10126', {4: kid}, payload, signature(64)], untagged */
static tes_err read_issuer_auth(const tes_cbor_doc *d, uint32_t a, const char *dt, doc_view *v)
{
    tes_err e = tes_cose_sign1_decode(d, a, &v->auth);
    if (e == TES_ERR_COSE_ALG)
        return tes_err_set(TES_ERR_ACCESS_ISSUER, "%s document: issuerAuth: %s", dt,
                           tes_err_message());
    if (e != TES_OK)
        return FMT("%s document: issuerAuth is not a COSE_Sign1: %s", dt, tes_err_message());
    if (v->auth.tagged || v->auth.detached)
        return FMT("%s document: issuerAuth is tagged or has no payload", dt);
    if (v->auth.alg != TES_COSE_ES256)
        return tes_err_set(TES_ERR_ACCESS_ISSUER, "%s document: issuerAuth alg %lld is not ES256",
                           dt, (long long)v->auth.alg);
    if (!tes_bytes_eq(v->auth.protected_raw, TES_BYTES(PROTECTED_ES256, 3)))
        return FMT("%s document: issuerAuth's protected header is not {1: -7}", dt);
    static const int64_t kid_key[1] = {TES_COSE_HDR_KID};
    uint32_t kid;
    if (!accessdoc_members(d, tes_cbor_child_at(d, a, 1), kid_key, 1, false, &kid) ||
        !accessdoc_bytes(d, kid, TES_ACCESS_KID_LEN, v->kid))
        return FMT("%s document: issuerAuth's unprotected header is not {4: kid (8 bytes)}", dt);
    if (v->auth.tag.len != 64)
        return FMT("%s document: issuerAuth's signature is not 64 bytes", dt);
    return TES_OK;
}

/* COSE_Key = {1: 2, -1: 1, -2: x, -3: y}, a P-256 point on the curve */
static tes_err read_device_key(const tes_cbor_doc *d, uint32_t dki, const char *dt,
                               accessdoc_envelope *env)
{
    static const int64_t one[1] = {1}, ck[4] = {1, -1, -2, -3};
    uint32_t key, v[4];
    if (!accessdoc_members(d, dki, one, 1, false, &key) || key == TES_CBOR_NONE ||
        !accessdoc_members(d, key, ck, 4, false, v) || v[0] == TES_CBOR_NONE ||
        v[1] == TES_CBOR_NONE || v[2] == TES_CBOR_NONE || v[3] == TES_CBOR_NONE)
        return FMT("%s document: MSO deviceKeyInfo is not {1: {1: kty, -1: crv, -2: x, -3: y}}",
                   dt);
    int64_t kty, crv;
    if (!tes_cbor_get_int(d, v[0], &kty) || kty != 2 || !tes_cbor_get_int(d, v[1], &crv) ||
        crv != 1 || !accessdoc_bytes(d, v[2], 32, env->device_key + 1) ||
        !accessdoc_bytes(d, v[3], 32, env->device_key + 33))
        return FMT("%s document: the deviceKey is not a P-256 key (kty 2, crv 1, 32-byte x, y)",
                   dt);
    env->device_key[0] = 0x04;
    tes_key *k = NULL;
    if (tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(env->device_key + 1, 32),
                              TES_BYTES(env->device_key + 33, 32), &k) != TES_OK)
        return FMT("%s document: the deviceKey is not a point on P-256", dt);
    tes_key_free(k);
    env->has_device_key = true;
    return TES_OK;
}

/* valueDigests = {docType: {+ digestID => bstr(32)}} */
static tes_err read_digests(const tes_cbor_doc *d, uint32_t vd, const char *dt, doc_view *v)
{
    if (!tes_cbor_is(d, vd, TES_CBOR_MAP) || tes_cbor_count(d, vd) != 1 ||
        !text_is(d, vd + 1, TES_BYTES(dt, strlen(dt))))
        return FMT("%s document: MSO valueDigests is not one namespace \"%s\"", dt, dt);
    uint32_t m = tes_cbor_next(d, vd + 1);
    if (!tes_cbor_is(d, m, TES_CBOR_MAP) || tes_cbor_count(d, m) == 0 ||
        tes_cbor_count(d, m) > ACCESSDOC_MAX_DIGESTS)
        return FMT("%s document: MSO valueDigests holds not 1 to %d digests", dt,
                   ACCESSDOC_MAX_DIGESTS);
    uint32_t k = m + 1;
    for (uint64_t p = 0; p < tes_cbor_count(d, m); p++) {
        uint32_t val = tes_cbor_next(d, k);
        if (!accessdoc_uint(d, k, 0x7fffffff, &v->ids[p]) || !accessdoc_bytes(d, val, 32, NULL))
            return FMT("%s document: an MSO digest is not digestID (below 2^31) => 32 bytes", dt);
        v->digests[p] = d->nodes[val].data;
        k = tes_cbor_next(d, val);
    }
    v->n_digests = (size_t)tes_cbor_count(d, m);
    return TES_OK;
}

/* MSO = {1: "1.0", 2: "SHA-256", 3: valueDigests, ?4: deviceKeyInfo, 5: docType, 6: validity} */
static tes_err read_mso(tes_bytes payload, const char *dt, doc_view *v, accessdoc_envelope *env)
{
    tes_cbor_node pst[4], st[64];
    tes_cbor_doc pd, d;
    tes_bytes inner;
    if (tes_cbor_parse_with(payload, &doc_limits, pst, 4, &pd) != TES_OK)
        return FMT("%s document: issuerAuth's payload is not one CBOR item: %s", dt,
                   tes_err_message());
    bool wrapped = tes_cbor_tag24_content(&pd, 0, &inner);
    tes_cbor_doc_free(&pd);
    if (!wrapped)
        return FMT("%s document: issuerAuth's payload is not 24(bstr .cbor MSO)", dt);
    if (tes_cbor_parse_with(inner, &doc_limits, st, 64, &d) != TES_OK)
        return FMT("%s document: the MSO is not one CBOR item: %s", dt, tes_err_message());
    static const int64_t keys[6] = {1, 2, 3, 4, 5, 6}, vkeys[3] = {1, 2, 3};
    uint32_t m[6], vi[3];
    bool want_key = env->has_device_key; /* the caller's: deviceKeyInfo required */
    env->has_device_key = false;
    tes_err e = TES_OK;
    if (!accessdoc_members(&d, 0, keys, 6, false, m) || m[0] == TES_CBOR_NONE ||
        m[1] == TES_CBOR_NONE || m[2] == TES_CBOR_NONE || m[4] == TES_CBOR_NONE ||
        m[5] == TES_CBOR_NONE)
        e = FMT("%s document: the MSO is not a map of 1 version, 2 digestAlgorithm, "
                "3 valueDigests, 4 deviceKeyInfo, 5 docType, 6 validityInfo",
                dt);
    else if (!text_is(&d, m[0], TES_BYTES_STR("1.0")))
        e = FMT("%s document: MSO version is not \"1.0\"", dt);
    else if (!text_is(&d, m[1], TES_BYTES_STR("SHA-256")))
        e = FMT("%s document: MSO digestAlgorithm is not \"SHA-256\"", dt);
    else if (!tes_cbor_is(&d, m[4], TES_CBOR_TEXT))
        e = FMT("%s document: MSO docType is not text", dt);
    else if ((m[3] != TES_CBOR_NONE) != want_key)
        e = FMT("%s document: MSO deviceKeyInfo is %s", dt, want_key ? "missing" : "present");
    else if (!accessdoc_members(&d, m[5], vkeys, 3, false, vi) ||
             !accessdoc_tdate(&d, vi[0], &env->signed_at) ||
             !accessdoc_tdate(&d, vi[1], &env->valid_from) ||
             !accessdoc_tdate(&d, vi[2], &env->valid_until))
        e = FMT("%s document: MSO validityInfo is not {1: signed, 2: validFrom, 3: validUntil} "
                "as tdates YYYY-MM-DDTHH:MM:SSZ",
                dt);
    else if (env->valid_until <= env->valid_from)
        e = FMT("%s document: MSO validUntil is not after validFrom", dt);
    if (e == TES_OK)
        e = read_digests(&d, m[2], dt, v);
    if (e == TES_OK && want_key)
        e = read_device_key(&d, m[3], dt, env);
    if (e == TES_OK)
        v->doctype_signed = text_is(&d, m[4], TES_BYTES(dt, strlen(dt)));
    tes_cbor_doc_free(&d);
    return e;
}

/* Document = {5: docType, 1: {1: nameSpaces, 2: issuerAuth}} */
static tes_err read_document(const tes_cbor_doc *d, const char *dt, doc_view *v,
                             accessdoc_envelope *env)
{
    static const int64_t top[2] = {5, 1}, is[2] = {1, 2};
    uint32_t t[2], s[2];
    if (!accessdoc_members(d, 0, top, 2, false, t) || t[0] == TES_CBOR_NONE ||
        t[1] == TES_CBOR_NONE)
        return FMT("%s document: not a map of 5 docType and 1 issuerSigned", dt);
    if (!tes_cbor_is(d, t[0], TES_CBOR_TEXT))
        return FMT("%s document: docType is not text", dt);
    if (!text_is(d, t[0], TES_BYTES(dt, strlen(dt)))) {
        char shown[40];
        tes_text_printable(shown, sizeof shown, TES_BYTES(d->nodes[t[0]].data, d->nodes[t[0]].len));
        return FMT("%s document: docType is \"%s\"", dt, shown);
    }
    if (!accessdoc_members(d, t[1], is, 2, false, s) || s[0] == TES_CBOR_NONE ||
        s[1] == TES_CBOR_NONE)
        return FMT("%s document: issuerSigned is not a map of 1 nameSpaces and 2 issuerAuth", dt);
    tes_err e = read_issuer_auth(d, s[1], dt, v);
    if (e == TES_OK)
        e = read_mso(v->auth.payload, dt, v, env);
    if (e == TES_OK)
        e = read_namespaces(d, s[0], dt, v);
    return e;
}

/* The signature, by an issuer whose kid is the document's. */
static tes_err check_signature(const doc_view *v, const tes_key *const *issuers, size_t n,
                               const char *dt)
{
    bool kid_known = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t kid[TES_ACCESS_KID_LEN];
        if (tes_key_curve(issuers[i]) != TES_CURVE_P256)
            continue;
        tes_err e = tes_access_doc_kid(issuers[i], kid);
        if (e != TES_OK)
            return e;
        if (memcmp(kid, v->kid, sizeof kid) != 0)
            continue;
        kid_known = true;
        e = tes_cose_sign1_verify(&v->auth, issuers[i], TES_BYTES(NULL, 0), TES_BYTES(NULL, 0));
        if (e == TES_OK)
            return TES_OK;
        if (e != TES_ERR_SIGNATURE)
            return e;
    }
    char kid_hex[2 * TES_ACCESS_KID_LEN + 1];
    tes_hex_str(kid_hex, TES_BYTES(v->kid, sizeof v->kid));
    if (!kid_known)
        return tes_err_set(TES_ERR_ACCESS_ISSUER, "%s document: no trusted issuer has kid %s", dt,
                           kid_hex);
    return tes_err_set(TES_ERR_ACCESS_ISSUER,
                       "%s document: the signature does not verify with the issuer of kid %s", dt,
                       kid_hex);
}

/* Every item's digest is the MSO's for its digestID. */
static tes_err check_digests(const doc_view *v, const char *dt)
{
    for (size_t i = 0; i < v->n_items; i++) {
        const item_view *it = &v->items[i];
        size_t j = 0;
        while (j < v->n_digests && v->ids[j] != it->id)
            j++;
        if (j == v->n_digests)
            return tes_err_set(TES_ERR_ACCESS_ISSUER,
                               "%s document: the MSO has no digest for digestID %llu", dt,
                               (unsigned long long)it->id);
        uint8_t dg[32];
        tes_err e = tes_digest(TES_HASH_SHA256, it->whole, dg);
        if (e != TES_OK)
            return e;
        if (!tes_ct_eq(TES_BYTES(dg, 32), TES_BYTES(v->digests[j], 32)))
            return tes_err_set(TES_ERR_ACCESS_ISSUER,
                               "%s document: the item of digestID %llu differs from its digest", dt,
                               (unsigned long long)it->id);
    }
    return TES_OK;
}

tes_err accessdoc_verify(tes_bytes document, const tes_key *const *issuers, size_t n_issuers,
                         accessdoc_envelope *env)
{
    const char *dt = env->doctype;
    if ((document.ptr == NULL && document.len > 0) || (issuers == NULL && n_issuers > 0))
        return tes_err_set(TES_ERR_ARG, "verifying a %s document: NULL argument", dt);
    for (size_t i = 0; i < n_issuers; i++)
        if (issuers[i] == NULL)
            return tes_err_set(TES_ERR_ARG, "verifying a %s document: issuer %zu is NULL", dt, i);
    if (document.len > TES_ACCESS_DOC_MAX)
        return FMT("%s document: %zu bytes, above %d", dt, document.len, TES_ACCESS_DOC_MAX);
    tes_cbor_node st[96];
    tes_cbor_doc d;
    if (tes_cbor_parse_with(document, &doc_limits, st, 96, &d) != TES_OK)
        return FMT("%s document: not one CBOR item: %s", dt, tes_err_message());
    doc_view view, *v = &view;
    memset(v, 0, sizeof *v);
    tes_err e = read_document(&d, dt, v, env);
    const item_view *data = NULL;
    for (size_t i = 0; e == TES_OK && i < v->n_items; i++)
        if (tes_bytes_eq(v->items[i].name, TES_BYTES_STR(ACCESSDOC_ELEMENT)))
            data = &v->items[i];
    if (e == TES_OK && data == NULL)
        e = FMT("%s document: no item \"%s\"", dt, ACCESSDOC_ELEMENT);
    if (e == TES_OK)
        e = check_signature(v, issuers, n_issuers, dt);
    if (e == TES_OK && !v->doctype_signed)
        e = tes_err_set(TES_ERR_ACCESS_ISSUER, "%s document: the MSO's docType is another", dt);
    if (e == TES_OK)
        e = check_digests(v, dt);
    if (e == TES_OK)
        env->value = data->value;
    tes_cbor_doc_free(&d);
    return e;
}

bool tes_access_doc_is(tes_bytes document, const char *doctype)
{
    if (doctype == NULL || (document.ptr == NULL && document.len > 0) ||
        document.len > TES_ACCESS_DOC_MAX)
        return false;
    tes_cbor_node st[96];
    tes_cbor_doc d;
    if (tes_cbor_parse_with(document, &doc_limits, st, 96, &d) != TES_OK)
        return false;
    bool is = tes_cbor_is(&d, 0, TES_CBOR_MAP) &&
              text_is(&d, tes_cbor_map_get_int(&d, 0, 5), TES_BYTES(doctype, strlen(doctype)));
    tes_cbor_doc_free(&d);
    return is;
}
