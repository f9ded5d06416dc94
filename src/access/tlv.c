/*
 * BER-TLV (ISO/IEC 7816-4 §5.2) as the Aliro commands use it: a flat sequence of data
 * objects with 1- or 2-byte tags and definite lengths (short form, 81 xx, 82 xx xx).
 * Strict: the objects fill the input exactly; anything else is TES_ERR_TLV with the offset.
 */
#include <string.h>

#include "tessera/access.h"

static tes_err tlv_one(const uint8_t *p, size_t n, size_t off, tes_tlv *t, size_t *used)
{
    size_t i = 0;
    if (n < 2)
        return tes_err_set(TES_ERR_TLV, "TLV at offset %zu: %zu bytes, too short", off, n);
    uint32_t tag = p[i++];
    if ((tag & 0x1F) == 0x1F) { /* multi-byte tag: one subsequent byte accepted */
        if (p[i] & 0x80)
            return tes_err_set(TES_ERR_TLV, "TLV at offset %zu: tag longer than 2 bytes", off);
        tag = tag << 8 | p[i++];
    }
    if (tag == 0x00 || tag == 0xFF)
        return tes_err_set(TES_ERR_TLV, "TLV at offset %zu: padding byte %02X where a tag belongs",
                           off, (unsigned)tag);
    if (i >= n)
        return tes_err_set(TES_ERR_TLV, "TLV at offset %zu: no length", off);
    size_t len = p[i++];
    if (len == 0x81 || len == 0x82) {
        size_t k = len - 0x80;
        if (n - i < k)
            return tes_err_set(TES_ERR_TLV, "TLV at offset %zu: length cut short", off);
        len = 0;
        for (size_t j = 0; j < k; j++)
            len = len << 8 | p[i++];
    } else if (len >= 0x80) {
        return tes_err_set(TES_ERR_TLV, "TLV at offset %zu: length form %02X refused", off,
                           (unsigned)len);
    }
    if (n - i < len)
        return tes_err_set(TES_ERR_TLV, "TLV at offset %zu: tag %X claims %zu bytes, %zu remain",
                           off, (unsigned)tag, len, n - i);
    t->tag = tag;
    t->value = TES_BYTES(p + i, len);
    t->raw = TES_BYTES(p, i + len);
    *used = i + len;
    return TES_OK;
}

tes_err tes_tlv_parse(tes_bytes in, tes_tlv *out, size_t max, size_t *n)
{
    if (!out || !n || (in.len && !in.ptr))
        return tes_err_set(TES_ERR_ARG, "tes_tlv_parse: NULL argument");
    *n = 0;
    size_t off = 0;
    while (off < in.len) {
        if (*n == max)
            return tes_err_set(TES_ERR_TLV, "TLV: more than %zu data objects", max);
        size_t used = 0;
        tes_err err = tlv_one(in.ptr + off, in.len - off, off, &out[*n], &used);
        if (err)
            return err;
        off += used;
        (*n)++;
    }
    return TES_OK;
}

const tes_tlv *tes_tlv_find(const tes_tlv *objs, size_t n, uint32_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (objs[i].tag == tag)
            return &objs[i];
    return NULL;
}

void tes_tlv_put(tes_buf *out, uint32_t tag, tes_bytes value)
{
    uint8_t h[5];
    size_t i = 0;
    if (tag > 0xFF)
        h[i++] = (uint8_t)(tag >> 8);
    h[i++] = (uint8_t)tag;
    if (value.len < 0x80) {
        h[i++] = (uint8_t)value.len;
    } else if (value.len <= 0xFF) {
        h[i++] = 0x81;
        h[i++] = (uint8_t)value.len;
    } else if (value.len <= 0xFFFF) {
        h[i++] = 0x82;
        h[i++] = (uint8_t)(value.len >> 8);
        h[i++] = (uint8_t)value.len;
    } else {
        out->failed = true; /* beyond what any Aliro message carries */
        return;
    }
    tes_buf_append(out, h, i);
    if (value.len)
        tes_buf_append(out, value.ptr, value.len);
}
