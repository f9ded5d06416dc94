/*
 * COSE_Key (RFC 9052 §7, RFC 9053 §7): EC2 public keys on P-256/384/521 and
 * OKP Ed25519 public keys.
 */
#include "tessera/cose.h"

#include <stdio.h>
#include <string.h>

enum {
    KEY_KTY = 1,
    KEY_CRV = -1,
    KEY_X = -2,
    KEY_Y = -3,
    KEY_D = -4,
    KTY_OKP = 1,
    KTY_EC2 = 2,
};

tes_err tes_cose_key_decode(const tes_cbor_doc *d, uint32_t i, tes_key **out)
{
    if (!d || !out || i >= d->count)
        return tes_err_set(TES_ERR_ARG, "COSE_Key decode: bad arguments");
    *out = NULL;
    if (!tes_cbor_is(d, i, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: not a map");

    /* Labels in any order; the parser has already rejected duplicates. */
    uint32_t kty = TES_CBOR_NONE, crv = TES_CBOR_NONE, x = TES_CBOR_NONE, y = TES_CBOR_NONE;
    uint64_t n = tes_cbor_count(d, i);
    uint32_t k = tes_cbor_child(d, i);
    for (uint64_t j = 0; j < n; j++) {
        uint32_t v = tes_cbor_next(d, k);
        int64_t label;
        if (d->nodes[k].type != TES_CBOR_TEXT && tes_cbor_get_int(d, k, &label)) {
            switch (label) {
            case KEY_KTY:
                kty = v;
                break;
            case KEY_CRV:
                crv = v;
                break;
            case KEY_X:
                x = v;
                break;
            case KEY_Y:
                y = v;
                break;
            default: /* d (-4), kid, alg, key_ops, ... are not needed */
                break;
            }
        }
        k = tes_cbor_next(d, v);
    }

    int64_t kty_v, crv_v;
    if (kty == TES_CBOR_NONE)
        return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: no kty");
    if (d->nodes[kty].type == TES_CBOR_TEXT || !tes_cbor_get_int(d, kty, &kty_v))
        return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: kty is not an integer");
    if (kty_v != KTY_EC2 && kty_v != KTY_OKP)
        return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: unsupported kty %lld", (long long)kty_v);
    if (crv == TES_CBOR_NONE)
        return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: no crv");
    if (d->nodes[crv].type == TES_CBOR_TEXT || !tes_cbor_get_int(d, crv, &crv_v))
        return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: crv is not an integer");
    if (x == TES_CBOR_NONE || !tes_cbor_is(d, x, TES_CBOR_BYTES))
        return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: x missing or not a bstr");
    tes_bytes xb = TES_BYTES(d->nodes[x].data, d->nodes[x].len);

    tes_err rc;
    if (kty_v == KTY_OKP) {
        if (crv_v != TES_CURVE_ED25519)
            return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: unsupported OKP crv %lld",
                               (long long)crv_v);
        if (xb.len != 32)
            return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: Ed25519 x is %zu bytes, expected 32",
                               xb.len);
        rc = tes_key_from_okp(TES_CURVE_ED25519, xb, out);
    } else {
        if (crv_v != TES_CURVE_P256 && crv_v != TES_CURVE_P384 && crv_v != TES_CURVE_P521)
            return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: unsupported EC2 crv %lld",
                               (long long)crv_v);
        tes_curve c = (tes_curve)crv_v;
        size_t sz = tes_curve_size(c);
        if (y == TES_CBOR_NONE)
            return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: EC2 key without y");
        if (tes_cbor_is(d, y, TES_CBOR_TRUE) || tes_cbor_is(d, y, TES_CBOR_FALSE))
            return tes_err_set(TES_ERR_COSE_KEY,
                               "COSE_Key: compressed point (y as bool) is not supported");
        if (!tes_cbor_is(d, y, TES_CBOR_BYTES))
            return tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: y is not a bstr");
        tes_bytes yb = TES_BYTES(d->nodes[y].data, d->nodes[y].len);
        if (xb.len != sz || yb.len != sz)
            return tes_err_set(TES_ERR_COSE_KEY,
                               "COSE_Key: coordinates are %zu and %zu bytes, crv %d needs %zu",
                               xb.len, yb.len, (int)c, sz);
        rc = tes_key_from_ec_point(c, xb, yb, out);
    }
    if (rc == TES_ERR_KEY_MALFORMED) {
        char why[160]; /* the message buffer is about to be overwritten */
        snprintf(why, sizeof why, "%s", tes_err_message());
        rc = tes_err_set(TES_ERR_COSE_KEY, "COSE_Key: %s", why);
    }
    return rc;
}

tes_err tes_cose_key_parse(tes_bytes in, tes_key **out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "COSE_Key parse: NULL output");
    *out = NULL;
    tes_cbor_doc d;
    tes_err rc = tes_cbor_parse(in, NULL, &d);
    if (rc != TES_OK)
        return rc;
    rc = tes_cose_key_decode(&d, 0, out);
    tes_cbor_doc_free(&d);
    return rc;
}

void tes_cose_key_write(tes_cbor_enc *e, const tes_key *k)
{
    if (!e || e->err)
        return;
    if (!k) {
        e->err = tes_err_set(TES_ERR_ARG, "COSE_Key write: NULL key");
        return;
    }
    tes_curve c = tes_key_curve(k);
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    tes_err rc = tes_key_public_raw(k, x, y);
    if (rc != TES_OK) {
        e->err = rc;
        return;
    }
    size_t sz = tes_curve_size(c);
    /* Keys in deterministic order: 1 (0x01), -1 (0x20), -2 (0x21), -3 (0x22). */
    switch (c) {
    case TES_CURVE_P256:
    case TES_CURVE_P384:
    case TES_CURVE_P521:
        tes_cbor_enc_map(e, 4);
        tes_cbor_enc_int(e, KEY_KTY);
        tes_cbor_enc_int(e, KTY_EC2);
        tes_cbor_enc_int(e, KEY_CRV);
        tes_cbor_enc_int(e, c);
        tes_cbor_enc_int(e, KEY_X);
        tes_cbor_enc_bytes(e, x, sz);
        tes_cbor_enc_int(e, KEY_Y);
        tes_cbor_enc_bytes(e, y, sz);
        break;
    case TES_CURVE_ED25519:
        tes_cbor_enc_map(e, 3);
        tes_cbor_enc_int(e, KEY_KTY);
        tes_cbor_enc_int(e, KTY_OKP);
        tes_cbor_enc_int(e, KEY_CRV);
        tes_cbor_enc_int(e, c);
        tes_cbor_enc_int(e, KEY_X);
        tes_cbor_enc_bytes(e, x, sz);
        break;
    default:
        e->err = tes_err_set(TES_ERR_COSE_KEY, "COSE_Key write: unsupported curve %d", (int)c);
        break;
    }
}
