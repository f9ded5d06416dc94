/*
 * Provisioning messages between a wallet and a hotel (docs/KEYS.md): the key request
 * (the endpoint key the phone's secure element made) and the key package (the access
 * document and what the phone needs to open the hotel's doors).
 */
#include <string.h>

#include "tessera/access.h"
#include "tessera/cbor.h"

#define PACKAGE_MAX (64 * 1024)

static tes_err bad(const char *what, const char *detail)
{
    return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, "%s: %s", what, detail);
}

static bool is_point(tes_bytes b)
{
    return b.len == TES_ACCESS_POINT_LEN && b.ptr[0] == 0x04;
}

tes_err tes_access_key_request_encode(const tes_access_key_request *r, tes_buf *out)
{
    if (!r || !out)
        return tes_err_set(TES_ERR_ARG, "tes_access_key_request_encode: NULL argument");
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_map(&e, r->attestation.len ? 3 : 2);
    tes_cbor_enc_cstr(&e, "v");
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_cstr(&e, "endpoint_key");
    tes_cbor_enc_bytes(&e, r->endpoint_key, TES_ACCESS_POINT_LEN);
    if (r->attestation.len) {
        tes_cbor_enc_cstr(&e, "attestation");
        tes_cbor_enc_bytes(&e, r->attestation.ptr, r->attestation.len);
    }
    if (e.err)
        return e.err;
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "access: out of memory") : TES_OK;
}

/* Checks that every key of the top-level map is one of `allowed`. */
static bool only_keys(const tes_cbor_doc *d, const char *const *allowed, size_t n)
{
    uint32_t k = tes_cbor_child(d, 0);
    for (uint64_t i = 0; i < tes_cbor_count(d, 0); i++) {
        bool ok = false;
        for (size_t j = 0; j < n; j++)
            ok |= tes_cbor_text_eq(d, k, allowed[j]);
        if (!ok)
            return false;
        k = tes_cbor_next(d, tes_cbor_next(d, k)); /* skip the value */
    }
    return true;
}

static tes_err open_map(tes_bytes in, const char *what, tes_cbor_doc *d)
{
    tes_cbor_limits lim = {.max_input = PACKAGE_MAX, .max_depth = 4, .max_items = 64};
    if (tes_cbor_parse(in, &lim, d) != TES_OK)
        return bad(what, tes_err_message());
    uint32_t v = tes_cbor_is(d, 0, TES_CBOR_MAP) ? tes_cbor_map_get_text(d, 0, "v") : TES_CBOR_NONE;
    int64_t ver = 0;
    if (v == TES_CBOR_NONE || !tes_cbor_get_int(d, v, &ver) || ver != 1) {
        tes_cbor_doc_free(d);
        return bad(what, "not a map of version 1");
    }
    return TES_OK;
}

static bool get_bytes(const tes_cbor_doc *d, const char *key, tes_bytes *out)
{
    uint32_t i = tes_cbor_map_get_text(d, 0, key);
    const tes_cbor_node *n = i == TES_CBOR_NONE ? NULL : tes_cbor_at(d, i);
    if (!n || n->type != TES_CBOR_BYTES)
        return false;
    *out = TES_BYTES(n->data, n->len);
    return true;
}

tes_err tes_access_key_request_parse(tes_bytes in, tes_access_key_request *out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "tes_access_key_request_parse: NULL argument");
    memset(out, 0, sizeof *out);
    tes_cbor_doc d;
    tes_err err = open_map(in, "key request", &d);
    if (err)
        return err;
    static const char *const keys[] = {"v", "endpoint_key", "attestation"};
    tes_bytes ek;
    if (!only_keys(&d, keys, 3))
        err = bad("key request", "an unknown member");
    else if (!get_bytes(&d, "endpoint_key", &ek) || !is_point(ek))
        err = bad("key request", "endpoint_key is not an uncompressed P-256 point");
    else if (tes_cbor_map_get_text(&d, 0, "attestation") != TES_CBOR_NONE &&
             !get_bytes(&d, "attestation", &out->attestation))
        err = bad("key request", "attestation is not a byte string");
    if (!err)
        memcpy(out->endpoint_key, ek.ptr, TES_ACCESS_POINT_LEN);
    tes_cbor_doc_free(&d);
    if (err)
        memset(out, 0, sizeof *out);
    return err;
}

tes_err tes_access_key_package_encode(const tes_access_key_package *p, tes_buf *out)
{
    if (!p || !out || !p->document.len)
        return tes_err_set(TES_ERR_ARG, "tes_access_key_package_encode: missing argument");
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_map(&e, p->revocation.len ? 7 : 6);
    tes_cbor_enc_cstr(&e, "v");
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_cstr(&e, "issuer");
    tes_cbor_enc_cstr(&e, p->issuer);
    tes_cbor_enc_cstr(&e, "group_id");
    tes_cbor_enc_bytes(&e, p->group_id, TES_ACCESS_GROUP_ID_LEN);
    tes_cbor_enc_cstr(&e, "reader_key");
    tes_cbor_enc_bytes(&e, p->reader_key, TES_ACCESS_POINT_LEN);
    tes_cbor_enc_cstr(&e, "issuer_key");
    tes_cbor_enc_bytes(&e, p->issuer_key, TES_ACCESS_POINT_LEN);
    tes_cbor_enc_cstr(&e, "document");
    tes_cbor_enc_bytes(&e, p->document.ptr, p->document.len);
    if (p->revocation.len) {
        tes_cbor_enc_cstr(&e, "revocation");
        tes_cbor_enc_bytes(&e, p->revocation.ptr, p->revocation.len);
    }
    if (e.err)
        return e.err;
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "access: out of memory") : TES_OK;
}

tes_err tes_access_key_package_parse(tes_bytes in, tes_access_key_package *out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "tes_access_key_package_parse: NULL argument");
    memset(out, 0, sizeof *out);
    tes_cbor_doc d;
    tes_err err = open_map(in, "key package", &d);
    if (err)
        return err;
    static const char *const keys[] = {"v",          "issuer",   "group_id",  "reader_key",
                                       "issuer_key", "document", "revocation"};
    tes_bytes g, rk, ik;
    uint32_t is = tes_cbor_map_get_text(&d, 0, "issuer");
    const tes_cbor_node *isn = is == TES_CBOR_NONE ? NULL : tes_cbor_at(&d, is);
    if (!only_keys(&d, keys, 7))
        err = bad("key package", "an unknown member");
    else if (!isn || isn->type != TES_CBOR_TEXT || isn->len == 0 || isn->len >= sizeof out->issuer)
        err = bad("key package", "issuer is not a name of 1 to 63 bytes");
    else if (!get_bytes(&d, "group_id", &g) || g.len != TES_ACCESS_GROUP_ID_LEN)
        err = bad("key package", "group_id is not 16 bytes");
    else if (!get_bytes(&d, "reader_key", &rk) || !is_point(rk) ||
             !get_bytes(&d, "issuer_key", &ik) || !is_point(ik))
        err = bad("key package", "reader_key or issuer_key is not an uncompressed P-256 point");
    else if (!get_bytes(&d, "document", &out->document) || out->document.len == 0)
        err = bad("key package", "no access document");
    else if (tes_cbor_map_get_text(&d, 0, "revocation") != TES_CBOR_NONE &&
             !get_bytes(&d, "revocation", &out->revocation))
        err = bad("key package", "revocation is not a byte string");
    if (!err) {
        memcpy(out->issuer, isn->data, isn->len);
        out->issuer[isn->len] = 0;
        for (size_t i = 0; i < isn->len; i++)
            if ((unsigned char)out->issuer[i] < 0x20)
                err = bad("key package", "issuer holds control characters");
        memcpy(out->group_id, g.ptr, TES_ACCESS_GROUP_ID_LEN);
        memcpy(out->reader_key, rk.ptr, TES_ACCESS_POINT_LEN);
        memcpy(out->issuer_key, ik.ptr, TES_ACCESS_POINT_LEN);
    }
    tes_cbor_doc_free(&d);
    if (err)
        memset(out, 0, sizeof *out);
    return err;
}
