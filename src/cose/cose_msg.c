/*
 * COSE_Sign1 and COSE_Mac0 (RFC 9052/9053) as ISO/IEC 18013-5 uses them:
 * decoding into views over the received bytes, verification over the exact
 * received protected header, and deterministic writing.
 */
#include "tessera/cose.h"

#include <string.h>

#define TAG_SIGN1 18
#define TAG_MAC0 17
#define HDR_CRIT 2

typedef enum msg_kind {
    KIND_SIGN1,
    KIND_MAC0,
} msg_kind;

static const char *kind_name(msg_kind k)
{
    return k == KIND_SIGN1 ? "COSE_Sign1" : "COSE_Mac0";
}

bool tes_cose_alg_hash(int64_t alg, tes_hash *h)
{
    tes_hash v;
    switch (alg) {
    case TES_COSE_ES256:
        v = TES_HASH_SHA256;
        break;
    case TES_COSE_ES384:
        v = TES_HASH_SHA384;
        break;
    case TES_COSE_ES512:
        v = TES_HASH_SHA512;
        break;
    case TES_COSE_EDDSA:
        v = TES_HASH_NONE;
        break;
    default:
        return false;
    }
    if (h)
        *h = v;
    return true;
}

/* The curve a signature algorithm requires (TES_CURVE_NONE when unknown). */
static tes_curve alg_curve(int64_t alg)
{
    switch (alg) {
    case TES_COSE_ES256:
        return TES_CURVE_P256;
    case TES_COSE_ES384:
        return TES_CURVE_P384;
    case TES_COSE_ES512:
        return TES_CURVE_P521;
    case TES_COSE_EDDSA:
        return TES_CURVE_ED25519;
    default:
        return TES_CURVE_NONE;
    }
}

static int64_t curve_alg(tes_curve c)
{
    switch (c) {
    case TES_CURVE_P256:
        return TES_COSE_ES256;
    case TES_CURVE_P384:
        return TES_COSE_ES384;
    case TES_CURVE_P521:
        return TES_COSE_ES512;
    case TES_CURVE_ED25519:
        return TES_COSE_EDDSA;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ decoding */

/* A header bucket: the map node `map` of document `d` (map == TES_CBOR_NONE
 * for an empty protected header). */
typedef struct bucket {
    const tes_cbor_doc *d;
    uint32_t map;
} bucket;

static uint64_t bucket_pairs(const bucket *b)
{
    return b->map == TES_CBOR_NONE ? 0 : tes_cbor_count(b->d, b->map);
}

/* Labels are int or tstr (RFC 9052 §3). */
static bool label_ok(const tes_cbor_doc *d, uint32_t k)
{
    uint8_t t = d->nodes[k].type;
    return t == TES_CBOR_UINT || t == TES_CBOR_NEGINT || t == TES_CBOR_TEXT;
}

static bool label_eq(const tes_cbor_doc *da, uint32_t a, const tes_cbor_doc *db, uint32_t b)
{
    const tes_cbor_node *na = &da->nodes[a], *nb = &db->nodes[b];
    if (na->type != nb->type)
        return false;
    if (na->type == TES_CBOR_TEXT)
        return na->len == nb->len && (na->len == 0 || memcmp(na->data, nb->data, na->len) == 0);
    return na->val == nb->val;
}

static bool label_is(const tes_cbor_doc *d, uint32_t k, int64_t label)
{
    int64_t v;
    return d->nodes[k].type != TES_CBOR_TEXT && tes_cbor_get_int(d, k, &v) && v == label;
}

/* Checks that every label of a bucket is an int or a tstr. */
static tes_err bucket_scan(const bucket *b, const char *which, msg_kind kind)
{
    if (b->map == TES_CBOR_NONE)
        return TES_OK;
    uint64_t n = tes_cbor_count(b->d, b->map);
    uint32_t k = tes_cbor_child(b->d, b->map);
    for (uint64_t j = 0; j < n; j++) {
        if (!label_ok(b->d, k))
            return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: %s header label %u is not int or text",
                               kind_name(kind), which, (unsigned)j);
        k = tes_cbor_next(b->d, tes_cbor_next(b->d, k));
    }
    return TES_OK;
}

static uint32_t bucket_get(const bucket *b, int64_t label)
{
    if (b->map == TES_CBOR_NONE)
        return TES_CBOR_NONE;
    uint64_t n = tes_cbor_count(b->d, b->map);
    uint32_t k = tes_cbor_child(b->d, b->map);
    for (uint64_t j = 0; j < n; j++) {
        uint32_t v = tes_cbor_next(b->d, k);
        if (label_is(b->d, k, label))
            return v;
        k = tes_cbor_next(b->d, v);
    }
    return TES_CBOR_NONE;
}

/* No label may appear in both buckets (RFC 9052 §3). */
static tes_err buckets_disjoint(const bucket *p, const bucket *u, msg_kind kind)
{
    uint64_t np = bucket_pairs(p), nu = bucket_pairs(u);
    if (np == 0 || nu == 0)
        return TES_OK;
    uint32_t kp = tes_cbor_child(p->d, p->map);
    for (uint64_t i = 0; i < np; i++) {
        uint32_t ku = tes_cbor_child(u->d, u->map);
        for (uint64_t j = 0; j < nu; j++) {
            if (label_eq(p->d, kp, u->d, ku))
                return tes_err_set(TES_ERR_COSE_MALFORMED,
                                   "%s: header label present in both protected and unprotected",
                                   kind_name(kind));
            ku = tes_cbor_next(u->d, tes_cbor_next(u->d, ku));
        }
        kp = tes_cbor_next(p->d, tes_cbor_next(p->d, kp));
    }
    return TES_OK;
}

/* crit (label 2) may only name headers this implementation processes. */
static tes_err check_crit(const bucket *p, const bucket *u, msg_kind kind)
{
    if (bucket_get(u, HDR_CRIT) != TES_CBOR_NONE)
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: crit header in the unprotected bucket",
                           kind_name(kind));
    uint32_t c = bucket_get(p, HDR_CRIT);
    if (c == TES_CBOR_NONE)
        return TES_OK;
    if (!tes_cbor_is(p->d, c, TES_CBOR_ARRAY) || tes_cbor_count(p->d, c) == 0)
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: crit header is not a non-empty array",
                           kind_name(kind));
    uint64_t n = tes_cbor_count(p->d, c);
    uint32_t k = tes_cbor_child(p->d, c);
    for (uint64_t j = 0; j < n; j++, k = tes_cbor_next(p->d, k)) {
        if (!(label_is(p->d, k, TES_COSE_HDR_ALG) || label_is(p->d, k, TES_COSE_HDR_KID) ||
              label_is(p->d, k, TES_COSE_HDR_X5CHAIN)))
            return tes_err_set(TES_ERR_COSE_MALFORMED,
                               "%s: crit names a header this implementation does not process",
                               kind_name(kind));
    }
    return TES_OK;
}

static tes_err read_x5chain(const tes_cbor_doc *d, uint32_t v, tes_cose_msg *out)
{
    const tes_cbor_node *n = &d->nodes[v];
    if (n->type == TES_CBOR_BYTES) {
        if (n->len == 0)
            return tes_err_set(TES_ERR_COSE_X5CHAIN, "x5chain: empty certificate");
        out->x5chain[0] = TES_BYTES(n->data, n->len);
        out->x5chain_len = 1;
        return TES_OK;
    }
    if (n->type != TES_CBOR_ARRAY)
        return tes_err_set(TES_ERR_COSE_X5CHAIN, "x5chain: neither a bstr nor an array");
    uint64_t cnt = tes_cbor_count(d, v);
    if (cnt == 0)
        return tes_err_set(TES_ERR_COSE_X5CHAIN, "x5chain: empty array");
    if (cnt > TES_COSE_MAX_CHAIN)
        return tes_err_set(TES_ERR_COSE_X5CHAIN, "x5chain: %llu certificates, at most %d accepted",
                           (unsigned long long)cnt, TES_COSE_MAX_CHAIN);
    uint32_t c = tes_cbor_child(d, v);
    for (uint64_t j = 0; j < cnt; j++, c = tes_cbor_next(d, c)) {
        const tes_cbor_node *e = &d->nodes[c];
        if (e->type != TES_CBOR_BYTES || e->len == 0)
            return tes_err_set(TES_ERR_COSE_X5CHAIN,
                               "x5chain: element %u is not a certificate bstr", (unsigned)j);
        out->x5chain[j] = TES_BYTES(e->data, e->len);
    }
    out->x5chain_len = (size_t)cnt;
    return TES_OK;
}

/* Fast path for the overwhelmingly common protected header {1: alg} with a
 * one-byte alg (h'a10126' for ES256): recognised by its exact bytes and
 * described by a three-node document on the stack instead of a parse. */
static bool prot_fast(tes_bytes p, tes_cbor_node nodes[3], tes_cbor_doc *pd)
{
    if (p.len != 3 || p.ptr[0] != 0xa1 || p.ptr[1] != 0x01)
        return false;
    uint8_t b = p.ptr[2];
    tes_cbor_node alg = {.off = 2, .span = 1, .next = 3};
    if (b <= 0x17) {
        alg.type = TES_CBOR_UINT;
        alg.val = b;
    } else if (b >= 0x20 && b <= 0x37) {
        alg.type = TES_CBOR_NEGINT;
        alg.val = (uint64_t)(b - 0x20);
    } else {
        return false;
    }
    nodes[0] = (tes_cbor_node){.type = TES_CBOR_MAP, .off = 0, .span = 3, .next = 3, .val = 1};
    nodes[1] = (tes_cbor_node){.type = TES_CBOR_UINT, .off = 1, .span = 1, .next = 2, .val = 1};
    nodes[2] = alg;
    *pd = (tes_cbor_doc){.input = p, .nodes = nodes, .count = 3};
    return true;
}

static bool alg_known(msg_kind kind, int64_t alg)
{
    return kind == KIND_SIGN1 ? tes_cose_alg_hash(alg, NULL) : alg == TES_COSE_HMAC256;
}

/* Decodes the headers: protected doc `pd` (may be empty) + unprotected map. */
static tes_err decode_headers(const bucket *p, const bucket *u, msg_kind kind, tes_cose_msg *out)
{
    tes_err rc;
    if ((rc = bucket_scan(p, "protected", kind)) != TES_OK ||
        (rc = bucket_scan(u, "unprotected", kind)) != TES_OK ||
        (rc = buckets_disjoint(p, u, kind)) != TES_OK || (rc = check_crit(p, u, kind)) != TES_OK)
        return rc;

    uint32_t a = bucket_get(p, TES_COSE_HDR_ALG);
    if (a == TES_CBOR_NONE) {
        if (bucket_get(u, TES_COSE_HDR_ALG) != TES_CBOR_NONE)
            return tes_err_set(
                TES_ERR_COSE_ALG,
                "%s: alg is in the unprotected header; 18013-5 requires it protected",
                kind_name(kind));
        return tes_err_set(TES_ERR_COSE_ALG, "%s: no alg in the protected header", kind_name(kind));
    }
    const tes_cbor_node *an = &p->d->nodes[a];
    if ((an->type != TES_CBOR_UINT && an->type != TES_CBOR_NEGINT) ||
        !tes_cbor_get_int(p->d, a, &out->alg))
        return tes_err_set(TES_ERR_COSE_ALG, "%s: alg is not an integer", kind_name(kind));
    if (!alg_known(kind, out->alg))
        return tes_err_set(TES_ERR_COSE_ALG, "%s: unsupported alg %lld", kind_name(kind),
                           (long long)out->alg);

    uint32_t x = bucket_get(u, TES_COSE_HDR_X5CHAIN);
    const tes_cbor_doc *xd = u->d;
    if (x == TES_CBOR_NONE) {
        x = bucket_get(p, TES_COSE_HDR_X5CHAIN);
        xd = p->d;
    }
    if (x != TES_CBOR_NONE)
        return read_x5chain(xd, x, out);
    return TES_OK;
}

static tes_err msg_decode(const tes_cbor_doc *d, uint32_t i, msg_kind kind, tes_cose_msg *out)
{
    if (!d || !out || i >= d->count)
        return tes_err_set(TES_ERR_ARG, "cose decode: bad arguments");
    memset(out, 0, sizeof *out);
    const char *name = kind_name(kind);
    uint64_t want_tag = kind == KIND_SIGN1 ? TAG_SIGN1 : TAG_MAC0;

    if (d->nodes[i].type == TES_CBOR_TAG) {
        if (d->nodes[i].val != want_tag)
            return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: tag %llu, expected %llu or untagged",
                               name, (unsigned long long)d->nodes[i].val,
                               (unsigned long long)want_tag);
        out->tagged = true;
        i = tes_cbor_child(d, i);
        if (i == TES_CBOR_NONE)
            return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: empty tag", name);
    }
    if (!tes_cbor_is(d, i, TES_CBOR_ARRAY) || tes_cbor_count(d, i) != 4)
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: not an array of 4 items", name);

    uint32_t prot = tes_cbor_child(d, i);
    uint32_t unprot = tes_cbor_next(d, prot);
    uint32_t payload = tes_cbor_next(d, unprot);
    uint32_t sig = tes_cbor_next(d, payload);
    const tes_cbor_node *pn = &d->nodes[prot], *yn = &d->nodes[payload], *sn = &d->nodes[sig];

    if (pn->type != TES_CBOR_BYTES)
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: protected header is not a bstr", name);
    if (!tes_cbor_is(d, unprot, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: unprotected header is not a map", name);
    if (yn->type == TES_CBOR_BYTES) {
        out->payload = TES_BYTES(yn->data, yn->len);
    } else if (yn->type == TES_CBOR_NULL) {
        out->detached = true;
        out->payload = TES_BYTES(NULL, 0);
    } else {
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: payload is neither bstr nor nil", name);
    }
    if (sn->type != TES_CBOR_BYTES)
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: %s is not a bstr", name,
                           kind == KIND_SIGN1 ? "signature" : "tag");
    out->tag = TES_BYTES(sn->data, sn->len);
    out->protected_raw = TES_BYTES(pn->data, pn->len);

    bucket u = {d, unprot};
    if (out->protected_raw.len == 0) {
        bucket p = {d, TES_CBOR_NONE};
        return decode_headers(&p, &u, kind, out);
    }
    tes_cbor_node fast_nodes[3];
    tes_cbor_doc pd;
    if (prot_fast(out->protected_raw, fast_nodes, &pd)) {
        bucket p = {&pd, 0};
        return decode_headers(&p, &u, kind, out);
    }
    tes_err rc = tes_cbor_parse(out->protected_raw, NULL, &pd);
    if (rc != TES_OK)
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: protected header is not CBOR (%s)", name,
                           tes_err_name(rc));
    if (!tes_cbor_is(&pd, 0, TES_CBOR_MAP)) {
        tes_cbor_doc_free(&pd);
        return tes_err_set(TES_ERR_COSE_MALFORMED, "%s: protected header is not a map", name);
    }
    bucket p = {&pd, 0};
    rc = decode_headers(&p, &u, kind, out);
    /* Views into pd point into out->protected_raw, i.e. into the input. */
    tes_cbor_doc_free(&pd);
    return rc;
}

tes_err tes_cose_sign1_decode(const tes_cbor_doc *d, uint32_t i, tes_cose_msg *out)
{
    return msg_decode(d, i, KIND_SIGN1, out);
}

tes_err tes_cose_mac0_decode(const tes_cbor_doc *d, uint32_t i, tes_cose_msg *out)
{
    return msg_decode(d, i, KIND_MAC0, out);
}

static tes_err msg_parse(tes_bytes in, msg_kind kind, tes_cose_msg *out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "cose parse: NULL output");
    memset(out, 0, sizeof *out);
    tes_cbor_doc d;
    tes_err rc = tes_cbor_parse(in, NULL, &d);
    if (rc != TES_OK)
        return rc;
    rc = msg_decode(&d, 0, kind, out);
    tes_cbor_doc_free(&d);
    return rc;
}

tes_err tes_cose_sign1_parse(tes_bytes in, tes_cose_msg *out)
{
    return msg_parse(in, KIND_SIGN1, out);
}

tes_err tes_cose_mac0_parse(tes_bytes in, tes_cose_msg *out)
{
    return msg_parse(in, KIND_MAC0, out);
}

/* ------------------------------------------------------------------ structures */

/* Writes [context, protected, external_aad, payload] (Sig_structure or
 * MAC_structure) into buf, sized once. */
static tes_err to_be_signed(tes_buf *buf, const char *context, tes_bytes prot, tes_bytes aad,
                            tes_bytes payload)
{
    size_t clen = strlen(context);
    size_t total = 1 + tes_cbor_head_size(clen) + clen + tes_cbor_head_size(prot.len) + prot.len +
                   tes_cbor_head_size(aad.len) + aad.len + tes_cbor_head_size(payload.len) +
                   payload.len;
    if (!tes_buf_extend(buf, total))
        return tes_err_set(TES_ERR_NOMEM, "COSE: cannot allocate %zu bytes", total);
    buf->len -= total;
    tes_cbor_enc e = {.out = buf};
    tes_cbor_enc_array(&e, 4);
    tes_cbor_enc_text(&e, context, clen);
    tes_cbor_enc_bytes(&e, prot.ptr, prot.len);
    tes_cbor_enc_bytes(&e, aad.ptr, aad.len);
    tes_cbor_enc_bytes(&e, payload.ptr, payload.len);
    return tes_cbor_enc_finish(&e);
}

static tes_err pick_payload(const tes_cose_msg *m, tes_bytes detached, tes_bytes *payload)
{
    if (detached.ptr) {
        *payload = detached;
        return TES_OK;
    }
    if (m->detached)
        return tes_err_set(TES_ERR_ARG, "COSE: payload is detached but none was given");
    *payload = m->payload;
    return TES_OK;
}

tes_err tes_cose_sign1_verify(const tes_cose_msg *m, const tes_key *key, tes_bytes detached_payload,
                              tes_bytes external_aad)
{
    if (!m || !key)
        return tes_err_set(TES_ERR_ARG, "COSE_Sign1 verify: NULL argument");
    tes_hash h;
    if (!tes_cose_alg_hash(m->alg, &h))
        return tes_err_set(TES_ERR_COSE_ALG, "COSE_Sign1: unsupported alg %lld", (long long)m->alg);
    tes_curve c = tes_key_curve(key);
    if (alg_curve(m->alg) != c)
        return tes_err_set(TES_ERR_COSE_ALG, "COSE_Sign1: alg %lld does not fit a key on curve %d",
                           (long long)m->alg, (int)c);
    tes_bytes payload;
    tes_err rc = pick_payload(m, detached_payload, &payload);
    if (rc != TES_OK)
        return rc;

    tes_buf tbs = {0};
    rc = to_be_signed(&tbs, "Signature1", m->protected_raw, external_aad, payload);
    if (rc == TES_OK) {
        rc = tes_key_verify(key, h, tes_buf_bytes(&tbs), m->tag);
        if (rc == TES_ERR_SIGNATURE)
            rc = tes_err_set(TES_ERR_SIGNATURE, "COSE_Sign1: signature does not verify");
    }
    tes_buf_free(&tbs);
    return rc;
}

tes_err tes_cose_mac0_verify(const tes_cose_msg *m, tes_bytes mac_key, tes_bytes detached_payload,
                             tes_bytes external_aad)
{
    if (!m || (!mac_key.ptr && mac_key.len))
        return tes_err_set(TES_ERR_ARG, "COSE_Mac0 verify: bad arguments");
    if (m->alg != TES_COSE_HMAC256)
        return tes_err_set(TES_ERR_COSE_ALG, "COSE_Mac0: unsupported alg %lld", (long long)m->alg);
    tes_bytes payload;
    tes_err rc = pick_payload(m, detached_payload, &payload);
    if (rc != TES_OK)
        return rc;
    if (m->tag.len != 32)
        return tes_err_set(TES_ERR_SIGNATURE, "COSE_Mac0: tag is %zu bytes, HMAC 256/256 has 32",
                           m->tag.len);

    tes_buf tbs = {0};
    uint8_t mac[32];
    rc = to_be_signed(&tbs, "MAC0", m->protected_raw, external_aad, payload);
    if (rc == TES_OK)
        rc = tes_hmac_sha256(mac_key, tes_buf_bytes(&tbs), mac);
    if (rc == TES_OK && !tes_ct_eq(TES_BYTES(mac, 32), m->tag))
        rc = tes_err_set(TES_ERR_SIGNATURE, "COSE_Mac0: tag does not verify");
    tes_wipe(mac, sizeof mac);
    tes_buf_free(&tbs);
    return rc;
}

/* ------------------------------------------------------------------ writing */

static tes_err key_sign(void *ctx, int64_t alg, tes_bytes msg, uint8_t *sig, size_t *sig_len)
{
    const tes_key *k = ctx;
    tes_hash h;
    if (!k || !tes_cose_alg_hash(alg, &h) || alg_curve(alg) != tes_key_curve(k))
        return tes_err_set(TES_ERR_COSE_ALG, "signer: alg %lld does not fit the key",
                           (long long)alg);
    return tes_key_sign(k, h, msg, sig, sig_len);
}

tes_signer tes_signer_from_key(const tes_key *k)
{
    tes_signer s = {key_sign, (void *)k, k ? curve_alg(tes_key_curve(k)) : 0};
    return s;
}

/* Encodes the protected header {1: alg} (a1 01 <int>) into p[16]. */
static size_t prot_encode(int64_t alg, uint8_t p[16])
{
    /* Encoded by hand: it is three or four bytes and needs no allocation. */
    size_t n = 0;
    p[n++] = 0xa1;
    p[n++] = 0x01;
    uint8_t major = alg < 0 ? 0x20 : 0x00;
    uint64_t v = alg < 0 ? (uint64_t)(-1 - alg) : (uint64_t)alg;
    if (v < 24) {
        p[n++] = (uint8_t)(major | v);
    } else if (v <= 0xff) {
        p[n++] = major | 24;
        p[n++] = (uint8_t)v;
    } else if (v <= 0xffff) {
        p[n++] = major | 25;
        p[n++] = (uint8_t)(v >> 8);
        p[n++] = (uint8_t)v;
    } else {
        p[n++] = major | 27;
        for (int s = 56; s >= 0; s -= 8)
            p[n++] = (uint8_t)(v >> s);
    }
    return n;
}

static const tes_cose_opts no_opts; /* NULL opts: embedded, untagged, no x5chain, no AAD */
#define KNOWN_FLAGS ((unsigned)(TES_COSE_DETACHED | TES_COSE_TAGGED))

/* Argument checks shared by the Sign1 writers; encodes the protected header. */
static tes_err sign1_check(const tes_signer *s, const tes_cose_opts *o, uint8_t prot[16],
                           size_t *plen)
{
    if (!s || !s->sign || (o->flags & ~KNOWN_FLAGS) || (o->chain_len && !o->x5chain) ||
        o->chain_len > TES_COSE_MAX_CHAIN)
        return tes_err_set(TES_ERR_ARG, "COSE_Sign1 write: bad arguments");
    if (!tes_cose_alg_hash(s->alg, NULL))
        return tes_err_set(TES_ERR_COSE_ALG, "COSE_Sign1 write: unsupported alg %lld",
                           (long long)s->alg);
    *plen = prot_encode(s->alg, prot);
    return TES_OK;
}

/* Writes [protected, {33: x5chain} or {}, payload or nil, signature], tagged 18 on request. */
static void write_sign1(tes_cbor_enc *e, const uint8_t *prot, size_t plen, const tes_cose_opts *o,
                        const tes_bytes *payload, const uint8_t *sig, size_t sig_len)
{
    const tes_bytes *x5chain = o->x5chain;
    size_t chain_len = o->chain_len;
    if (o->flags & TES_COSE_TAGGED)
        tes_cbor_enc_tag(e, TAG_SIGN1);
    tes_cbor_enc_array(e, 4);
    tes_cbor_enc_bytes(e, prot, plen);
    if (chain_len == 0) {
        tes_cbor_enc_map(e, 0);
    } else {
        tes_cbor_enc_map(e, 1);
        tes_cbor_enc_int(e, TES_COSE_HDR_X5CHAIN);
        if (chain_len == 1) {
            tes_cbor_enc_bytes(e, x5chain[0].ptr, x5chain[0].len);
        } else {
            tes_cbor_enc_array(e, chain_len);
            for (size_t j = 0; j < chain_len; j++)
                tes_cbor_enc_bytes(e, x5chain[j].ptr, x5chain[j].len);
        }
    }
    if (payload == NULL)
        tes_cbor_enc_null(e);
    else
        tes_cbor_enc_bytes(e, payload->ptr, payload->len);
    tes_cbor_enc_bytes(e, sig, sig_len);
}

void tes_cose_sign1_write(tes_cbor_enc *e, const tes_signer *s, tes_bytes payload,
                          const tes_cose_opts *o)
{
    if (!e || e->err)
        return;
    if (!o)
        o = &no_opts;
    uint8_t prot[16];
    size_t plen = 0;
    if ((e->err = sign1_check(s, o, prot, &plen)) != TES_OK)
        return;
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;

    tes_buf tbs = {0};
    tes_err rc = to_be_signed(&tbs, "Signature1", TES_BYTES(prot, plen), o->external_aad, payload);
    if (rc == TES_OK)
        rc = s->sign(s->ctx, s->alg, tes_buf_bytes(&tbs), sig, &sig_len);
    tes_buf_free(&tbs);
    if (rc == TES_OK && sig_len > sizeof sig)
        rc = tes_err_set(TES_ERR_CRYPTO, "COSE_Sign1 write: signer overflowed its buffer");
    if (rc != TES_OK) {
        e->err = rc;
        return;
    }

    write_sign1(e, prot, plen, o, (o->flags & TES_COSE_DETACHED) ? NULL : &payload, sig, sig_len);
}

void tes_cose_sign1_write_inbuf(tes_cbor_enc *e, const tes_signer *s, uint8_t *buf,
                                size_t payload_off, size_t end, const tes_cose_opts *o)
{
    if (!e || e->err)
        return;
    if (!o)
        o = &no_opts;
    uint8_t prot[16];
    size_t plen = 0;
    if ((e->err = sign1_check(s, o, prot, &plen)) != TES_OK)
        return;
    if ((o->flags & TES_COSE_DETACHED) || o->external_aad.len) {
        e->err =
            tes_err_set(TES_ERR_ARG, "COSE_Sign1 write: in place, the payload is embedded and no "
                                     "external_aad is taken");
        return;
    }
    if (!buf || payload_off > end) {
        e->err = tes_err_set(TES_ERR_ARG, "COSE_Sign1 write: bad payload bounds");
        return;
    }
    /* ["Signature1", protected, h'', payload]: everything before the payload's
     * content, written right in front of it */
    static const char context[] = "Signature1";
    size_t clen = sizeof context - 1, len = end - payload_off;
    size_t hlen = 1 + tes_cbor_head_size(clen) + clen + tes_cbor_head_size(plen) + plen + 1 +
                  tes_cbor_head_size(len);
    if (hlen > payload_off) {
        e->err = tes_err_set(TES_ERR_ARG,
                             "COSE_Sign1 write: %zu bytes of room before the "
                             "payload, %zu needed",
                             payload_off, hlen);
        return;
    }
    uint8_t *h = buf + payload_off - hlen;
    size_t n = 0;
    h[n++] = 0x84;
    n += tes_cbor_put_head(h + n, 0x60, clen);
    memcpy(h + n, context, clen);
    n += clen;
    n += tes_cbor_put_head(h + n, 0x40, plen);
    memcpy(h + n, prot, plen);
    n += plen;
    h[n++] = 0x40; /* external_aad: empty */
    n += tes_cbor_put_head(h + n, 0x40, len);

    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    tes_err rc = s->sign(s->ctx, s->alg, TES_BYTES(h, hlen + len), sig, &sig_len);
    if (rc == TES_OK && sig_len > sizeof sig)
        rc = tes_err_set(TES_ERR_CRYPTO, "COSE_Sign1 write: signer overflowed its buffer");
    if (rc != TES_OK) {
        e->err = rc;
        return;
    }
    tes_bytes payload = TES_BYTES(buf + payload_off, len);
    write_sign1(e, prot, plen, o, &payload, sig, sig_len);
}

void tes_cose_mac0_write(tes_cbor_enc *e, tes_bytes mac_key, tes_bytes payload,
                         const tes_cose_opts *o)
{
    if (!e || e->err)
        return;
    if (!o)
        o = &no_opts;
    if ((o->flags & ~KNOWN_FLAGS) || o->chain_len || o->x5chain) {
        e->err = tes_err_set(TES_ERR_ARG, "COSE_Mac0 write: bad arguments");
        return;
    }
    uint8_t prot[16];
    size_t plen = prot_encode(TES_COSE_HMAC256, prot);
    uint8_t mac[32];
    tes_buf tbs = {0};
    tes_err rc = to_be_signed(&tbs, "MAC0", TES_BYTES(prot, plen), o->external_aad, payload);
    if (rc == TES_OK)
        rc = tes_hmac_sha256(mac_key, tes_buf_bytes(&tbs), mac);
    tes_buf_free(&tbs);
    if (rc != TES_OK) {
        e->err = rc;
        return;
    }
    if (o->flags & TES_COSE_TAGGED)
        tes_cbor_enc_tag(e, TAG_MAC0);
    tes_cbor_enc_array(e, 4);
    tes_cbor_enc_bytes(e, prot, plen);
    tes_cbor_enc_map(e, 0);
    if (o->flags & TES_COSE_DETACHED)
        tes_cbor_enc_null(e);
    else
        tes_cbor_enc_bytes(e, payload.ptr, payload.len);
    tes_cbor_enc_bytes(e, mac, sizeof mac);
    tes_wipe(mac, sizeof mac);
}
