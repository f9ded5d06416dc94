/*
 * The fixed pieces of the Aliro messages both sides build and check: the AUTH0 command
 * data, the FCI and the step-up wrapper {"data": bstr}.
 */
#include <string.h>

#include "access/access_internal.h"

#define MAX_COMMAND_SIZE 0x00FF /* 7F66: short APDUs, as NFC phones announce them */
#define MAX_RESPONSE_SIZE 0x0100

static tes_err want_len(const tes_tlv *t, size_t len, const char *what)
{
    if (!t)
        return tes_err_set(TES_ERR_TLV, "AUTH0: %s missing", what);
    if (t->value.len != len)
        return tes_err_set(TES_ERR_TLV, "AUTH0: %s of %zu bytes, %zu expected", what, t->value.len,
                           len);
    return TES_OK;
}

tes_err tes_access_auth0_parse(tes_bytes data, tes_access_auth0 *out)
{
    tes_tlv t[8];
    size_t n;
    memset(out, 0, sizeof *out);
    tes_err err = tes_tlv_parse(data, t, 8, &n);
    if (err)
        return err;
    static const uint32_t known[] = {0x41, 0x42, 0x5C, 0x87, 0x4C, 0x4D, 0xB1};
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok |= t[i].tag == known[k];
        if (!ok)
            return tes_err_set(TES_ERR_TLV, "AUTH0: unexpected tag %X", (unsigned)t[i].tag);
        for (size_t j = 0; j < i; j++)
            if (t[j].tag == t[i].tag)
                return tes_err_set(TES_ERR_TLV, "AUTH0: tag %X twice", (unsigned)t[i].tag);
    }
    const tes_tlv *f = tes_tlv_find(t, n, 0x41), *p = tes_tlv_find(t, n, 0x42),
                  *v = tes_tlv_find(t, n, 0x5C), *e = tes_tlv_find(t, n, 0x87),
                  *x = tes_tlv_find(t, n, 0x4C), *r = tes_tlv_find(t, n, 0x4D);
    if ((err = want_len(f, 1, "transaction flags (41)")) || (err = want_len(p, 1, "policy (42)")) ||
        (err = want_len(v, 2, "version (5C)")) ||
        (err = want_len(e, TES_ACCESS_POINT_LEN, "reader ephemeral key (87)")) ||
        (err = want_len(x, TES_ACCESS_TX_ID_LEN, "transaction id (4C)")) ||
        (err = want_len(r, TES_ACCESS_READER_ID_LEN, "reader id (4D)")))
        return err;
    if (e->value.ptr[0] != 0x04)
        return tes_err_set(TES_ERR_TLV, "AUTH0: reader ephemeral key is not an uncompressed point");
    out->flags = f->value.ptr[0];
    out->policy = p->value.ptr[0];
    out->version = (uint16_t)(v->value.ptr[0] << 8 | v->value.ptr[1]);
    memcpy(out->reader_eph, e->value.ptr, TES_ACCESS_POINT_LEN);
    memcpy(out->tx_id, x->value.ptr, TES_ACCESS_TX_ID_LEN);
    memcpy(out->reader_id, r->value.ptr, TES_ACCESS_READER_ID_LEN);
    return TES_OK;
}

void tes_access_auth0_build(const tes_access_auth0 *in, tes_buf *out)
{
    uint8_t v[2] = {(uint8_t)(in->version >> 8), (uint8_t)in->version};
    tes_tlv_put(out, 0x41, TES_BYTES(&in->flags, 1));
    tes_tlv_put(out, 0x42, TES_BYTES(&in->policy, 1));
    tes_tlv_put(out, 0x5C, TES_BYTES(v, 2));
    tes_tlv_put(out, 0x87, TES_BYTES(in->reader_eph, TES_ACCESS_POINT_LEN));
    tes_tlv_put(out, 0x4C, TES_BYTES(in->tx_id, TES_ACCESS_TX_ID_LEN));
    tes_tlv_put(out, 0x4D, TES_BYTES(in->reader_id, TES_ACCESS_READER_ID_LEN));
}

void tes_access_fci(const uint8_t aid[TES_ACCESS_AID_LEN], tes_buf *out)
{
    static const uint8_t medium[2] = {0x00, 0x00};
    static const uint8_t versions[2] = {0x01, 0x00};
    static const uint8_t ext[8] = {0x02, 0x02, MAX_COMMAND_SIZE >> 8,  MAX_COMMAND_SIZE & 0xFF,
                                   0x02, 0x02, MAX_RESPONSE_SIZE >> 8, MAX_RESPONSE_SIZE & 0xFF};
    tes_buf a5 = {0}, inner = {0};
    tes_tlv_put(&a5, 0x80, TES_BYTES(medium, 2));
    tes_tlv_put(&a5, 0x5C, TES_BYTES(versions, 2));
    if (aid == tes_access_aid_primary)
        tes_tlv_put(&a5, 0x7F66, TES_BYTES(ext, 8));
    tes_tlv_put(&inner, 0x84, TES_BYTES(aid, TES_ACCESS_AID_LEN));
    tes_tlv_put(&inner, 0xA5, tes_buf_bytes(&a5));
    tes_tlv_put(out, 0x6F, tes_buf_bytes(&inner));
    if (a5.failed || inner.failed)
        out->failed = true;
    tes_buf_free(&a5);
    tes_buf_free(&inner);
}

tes_err tes_access_fci_parse(tes_bytes fci, uint8_t a5[TES_ACCESS_FCI_MAX], size_t *a5_len,
                             tes_bytes *versions)
{
    tes_tlv top, in[8], prop[8];
    size_t n;
    tes_err err = tes_tlv_parse(fci, &top, 1, &n);
    if (err)
        return tes_err_set(TES_ERR_TLV, "SELECT answer: %s", tes_err_message());
    if (n != 1 || top.tag != 0x6F)
        return tes_err_set(TES_ERR_TLV, "SELECT answer is not an FCI template (6F)");
    if ((err = tes_tlv_parse(top.value, in, 8, &n)))
        return tes_err_set(TES_ERR_TLV, "FCI: %s", tes_err_message());
    const tes_tlv *p = tes_tlv_find(in, n, 0xA5);
    if (!p)
        return tes_err_set(TES_ERR_TLV, "FCI without its proprietary template (A5)");
    if (p->raw.len > TES_ACCESS_FCI_MAX)
        return tes_err_set(TES_ERR_TLV, "FCI proprietary template of %zu bytes is too long",
                           p->raw.len);
    if ((err = tes_tlv_parse(p->value, prop, 8, &n)))
        return tes_err_set(TES_ERR_TLV, "FCI A5: %s", tes_err_message());
    const tes_tlv *v = tes_tlv_find(prop, n, 0x5C);
    if (!v || v->value.len == 0 || v->value.len % 2)
        return tes_err_set(TES_ERR_TLV, "FCI: no list of protocol versions (5C)");
    memcpy(a5, p->raw.ptr, p->raw.len);
    *a5_len = p->raw.len;
    if (versions)
        *versions = v->value;
    return TES_OK;
}

void tes_access_fci_template(const tes_buf *fci, uint8_t a5[TES_ACCESS_FCI_MAX], size_t *len)
{
    *len = 0;
    if (fci->failed || tes_access_fci_parse(tes_buf_bytes(fci), a5, len, NULL) != TES_OK)
        *len = 0;
}

/* {"data": bstr}: A1 64 "data" then the byte string head. */
static const uint8_t sealed_head[] = {0xA1, 0x64, 'd', 'a', 't', 'a'};

void tes_access_sealed_wrap(tes_bytes sealed, tes_buf *out)
{
    uint8_t h[5];
    size_t k = 0;
    if (sealed.len < 24) {
        h[k++] = (uint8_t)(0x40 | sealed.len);
    } else if (sealed.len <= 0xFF) {
        h[k++] = 0x58, h[k++] = (uint8_t)sealed.len;
    } else if (sealed.len <= 0xFFFF) {
        h[k++] = 0x59, h[k++] = (uint8_t)(sealed.len >> 8), h[k++] = (uint8_t)sealed.len;
    } else {
        h[k++] = 0x5A, h[k++] = (uint8_t)(sealed.len >> 24), h[k++] = (uint8_t)(sealed.len >> 16);
        h[k++] = (uint8_t)(sealed.len >> 8), h[k++] = (uint8_t)sealed.len;
    }
    tes_buf_append(out, sealed_head, sizeof sealed_head);
    tes_buf_append(out, h, k);
    tes_buf_append(out, sealed.ptr, sealed.len);
}

tes_err tes_access_sealed_unwrap(tes_bytes in, tes_bytes *sealed)
{
    size_t h = sizeof sealed_head;
    if (in.len < h + 1 || memcmp(in.ptr, sealed_head, h) != 0)
        return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, "step-up message is not {\"data\": bstr}");
    uint8_t ib = in.ptr[h];
    if ((ib & 0xE0) != 0x40)
        return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, "step-up message: data is not a bstr");
    size_t ai = ib & 0x1F, len, off = h + 1, k = 0;
    if (ai < 24) {
        len = ai;
    } else if (ai >= 24 && ai <= 26) {
        k = (size_t)1 << (ai - 24);
        if (in.len - off < k)
            return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, "step-up message cut short");
        len = 0;
        for (size_t i = 0; i < k; i++)
            len = len << 8 | in.ptr[off + i];
        off += k;
        size_t floor = k == 1 ? 24 : k == 2 ? 256 : 65536; /* the shortest form only */
        if (len < floor)
            return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT,
                               "step-up message: bstr length %zu not in its shortest form", len);
    } else {
        return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, "step-up message: bstr length form refused");
    }
    if (in.len - off != len)
        return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, "step-up message: data of %zu bytes in %zu",
                           len, in.len - off);
    *sealed = TES_BYTES(in.ptr + off, len);
    return TES_OK;
}
