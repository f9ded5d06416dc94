/*
 * Status lists in memory (2 bits per entry, draft-ietf-oauth-status-list §4.1:
 * entry i sits in byte i*2/8 at bit (i*2)%8, least significant bits first)
 * and their zlib form (RFC 1950, level 9 as the draft recommends).
 *
 * Inflating untrusted input is bounded in bytes: the output buffer grows
 * (doubling) up to the smaller of the bytes max_entries needs at the list's
 * bits per entry and the byte bound (TES_STATUS_DEFAULT_MAX_LIST_BYTES unless
 * given), never past it; one more byte of output beyond that makes the
 * stream a decompression bomb (TES_ERR_STATUS_TOO_LARGE). The bound is in
 * bytes because an entry bound alone lets bits=8 lists inflate 4 times as
 * far as 2-bit ones.
 */
#include "status_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BOUND_ENTRIES(m) ((m) == 0 || (m) > TES_STATUS_MAX_ENTRIES ? TES_STATUS_MAX_ENTRIES : (m))

tes_err tes_status_list_new(size_t n, tes_status_list *out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "status list: out is NULL");
    *out = (tes_status_list){0};
    if (n == 0 || n > TES_STATUS_MAX_ENTRIES)
        return tes_err_set(TES_ERR_ARG, "status list: %zu entries (1 to %u allowed)", n,
                           TES_STATUS_MAX_ENTRIES);
    out->bits = calloc((n + 3) / 4, 1);
    if (out->bits == NULL)
        return tes_err_set(TES_ERR_NOMEM, "status list: cannot allocate %zu bytes", (n + 3) / 4);
    out->n = n;
    return TES_OK;
}

void tes_status_list_free(tes_status_list *l)
{
    if (l == NULL)
        return;
    free(l->bits);
    *l = (tes_status_list){0};
}

tes_err tes_status_list_set(tes_status_list *l, size_t idx, tes_status_value v)
{
    if (l == NULL || l->bits == NULL)
        return tes_err_set(TES_ERR_ARG, "status list: no list");
    if (idx >= l->n)
        return tes_err_set(TES_ERR_ARG, "status list: index %zu beyond the list (%zu entries)", idx,
                           l->n);
    if (v != TES_STATUS_VALID && v != TES_STATUS_REVOKED && v != TES_STATUS_SUSPENDED)
        return tes_err_set(TES_ERR_ARG, "status list: value %d cannot be stored", (int)v);
    unsigned shift = (unsigned)(idx & 3) * 2;
    uint8_t *b = &l->bits[idx >> 2];
    *b = (uint8_t)((*b & ~(3u << shift)) | ((unsigned)v << shift));
    return TES_OK;
}

tes_status_value tes_status_list_get(const tes_status_list *l, size_t idx)
{
    if (l == NULL || l->bits == NULL || idx >= l->n)
        return TES_STATUS_UNDETERMINED;
    unsigned v = (l->bits[idx >> 2] >> ((idx & 3) * 2)) & 3u;
    return v == 3 ? TES_STATUS_UNDETERMINED : (tes_status_value)v;
}

tes_err tes_status_list_compress(const tes_status_list *l, tes_buf *out)
{
    if (l == NULL || l->bits == NULL || l->n == 0 || l->n > TES_STATUS_MAX_ENTRIES || out == NULL)
        return tes_err_set(TES_ERR_ARG, "status list compress: bad arguments");
    size_t in_len = (l->n + 3) / 4;
    z_stream z = {0};
    if (deflateInit(&z, Z_BEST_COMPRESSION) != Z_OK)
        return tes_err_set(TES_ERR_NOMEM, "status list compress: deflateInit failed");
    size_t bound = deflateBound(&z, (uLong)in_len);
    size_t start = out->len;
    uint8_t *dst = tes_buf_extend(out, bound);
    if (dst == NULL) {
        deflateEnd(&z);
        return tes_err_set(TES_ERR_NOMEM, "status list compress: cannot allocate %zu bytes", bound);
    }
    z.next_in = l->bits;
    z.avail_in = (uInt)in_len;
    z.next_out = dst;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    size_t produced = bound - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        out->len = start;
        return tes_err_set(TES_ERR_CRYPTO, "status list compress: deflate returned %d", rc);
    }
    out->len = start + produced;
    return TES_OK;
}

/* Inflates z into at most max_bytes; *buf (malloc'd) and *len on success.
 * why names the bound for the message. */
static tes_err inflate_bounded(tes_bytes z, size_t max_bytes, const char *why, uint8_t **buf,
                               size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (z.len == 0)
        return tes_err_set(TES_ERR_STATUS_TOKEN, "status list: lst is empty");
    if (z.len > UINT_MAX)
        return tes_err_set(TES_ERR_STATUS_TOKEN, "status list: lst of %zu bytes", z.len);
    z_stream s = {0};
    if (inflateInit(&s) != Z_OK)
        return tes_err_set(TES_ERR_NOMEM, "status list: inflateInit failed");
    /* Start near a typical ratio, never above the bound. */
    size_t cap = z.len > max_bytes / 16 ? max_bytes : z.len * 16;
    if (cap < 4096)
        cap = max_bytes < 4096 ? max_bytes : 4096;
    uint8_t *out = malloc(cap);
    if (out == NULL) {
        inflateEnd(&s);
        return tes_err_set(TES_ERR_NOMEM, "status list: cannot allocate %zu bytes", cap);
    }
    s.next_in = (Bytef *)z.ptr;
    s.avail_in = (uInt)z.len;
    size_t used = 0;
    tes_err err = TES_OK;
    for (;;) {
        if (used == cap) {
            if (cap == max_bytes) {
                /* Full at the bound: any further output makes it a bomb. */
                uint8_t probe;
                s.next_out = &probe;
                s.avail_out = 1;
                int rc = inflate(&s, Z_NO_FLUSH);
                if (rc == Z_STREAM_END && s.avail_out == 1)
                    break;
                if (s.avail_out == 0)
                    err = tes_err_set(TES_ERR_STATUS_TOO_LARGE,
                                      "status list: inflates beyond %zu bytes (%s): refused "
                                      "as a decompression bomb",
                                      max_bytes, why);
                else
                    err = tes_err_set(TES_ERR_STATUS_TOKEN,
                                      "status list: lst is not a complete zlib stream (%d)", rc);
                break;
            }
            size_t ncap = cap > max_bytes / 2 ? max_bytes : cap * 2;
            uint8_t *n = realloc(out, ncap);
            if (n == NULL) {
                err = tes_err_set(TES_ERR_NOMEM, "status list: cannot allocate %zu bytes", ncap);
                break;
            }
            out = n;
            cap = ncap;
        }
        size_t room = cap - used;
        if (room > UINT_MAX)
            room = UINT_MAX;
        s.next_out = out + used;
        s.avail_out = (uInt)room;
        int rc = inflate(&s, Z_NO_FLUSH);
        used += room - s.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc == Z_OK)
            continue;
        if (rc == Z_BUF_ERROR && s.avail_in == 0)
            err = tes_err_set(TES_ERR_STATUS_TOKEN, "status list: lst ends inside the zlib stream");
        else if (rc == Z_MEM_ERROR)
            err = tes_err_set(TES_ERR_NOMEM, "status list: inflate out of memory");
        else if (rc != Z_BUF_ERROR)
            err = tes_err_set(TES_ERR_STATUS_TOKEN, "status list: lst is not a zlib stream (%s)",
                              s.msg ? s.msg : "inflate error");
        if (err != TES_OK)
            break;
    }
    if (err == TES_OK && s.avail_in != 0)
        err = tes_err_set(TES_ERR_STATUS_TOKEN, "status list: %u bytes after the zlib stream",
                          s.avail_in);
    if (err == TES_OK && used == 0)
        err = tes_err_set(TES_ERR_STATUS_TOKEN, "status list: the list is empty");
    inflateEnd(&s);
    if (err != TES_OK) {
        free(out);
        return err;
    }
    *buf = out;
    *len = used;
    return TES_OK;
}

tes_err tes_status_lst_decode(tes_bytes z, unsigned bits, size_t max_entries, size_t max_bytes,
                              tes_status_list *out)
{
    if (out == NULL || (z.ptr == NULL && z.len))
        return tes_err_set(TES_ERR_ARG, "status list decompress: bad arguments");
    *out = (tes_status_list){0};
    if (bits != 1 && bits != 2 && bits != 4 && bits != 8)
        return tes_err_set(TES_ERR_STATUS_TOKEN, "status list: bits %u (1, 2, 4 or 8 allowed)",
                           bits);
    max_entries = BOUND_ENTRIES(max_entries);
    if (max_bytes == 0)
        max_bytes = TES_STATUS_DEFAULT_MAX_LIST_BYTES;
    size_t entry_bytes = (max_entries * bits + 7) / 8;
    char why[96];
    if (entry_bytes <= max_bytes) {
        max_bytes = entry_bytes;
        snprintf(why, sizeof why, "%zu entries of %u bits", max_entries, bits);
    } else {
        snprintf(why, sizeof why, "the bound on a list's size in bytes, at %u bits per entry",
                 bits);
    }
    uint8_t *raw;
    size_t len;
    tes_err e = inflate_bounded(z, max_bytes, why, &raw, &len);
    if (e != TES_OK)
        return e;
    if (bits == 2) {
        out->bits = raw;
        out->n = len * 4;
        return TES_OK;
    }
    /* Re-pack as 2 bits per entry; values without a 2-bit meaning become 3. */
    size_t per = 8 / bits, n = len * per;
    uint8_t *two = calloc((n + 3) / 4, 1);
    if (two == NULL) {
        free(raw);
        return tes_err_set(TES_ERR_NOMEM, "status list: cannot allocate %zu bytes", (n + 3) / 4);
    }
    unsigned mask = (1u << bits) - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (raw[i / per] >> ((i % per) * bits)) & mask;
        if (v > 2)
            v = 3;
        two[i >> 2] |= (uint8_t)(v << ((i & 3) * 2));
    }
    free(raw);
    out->bits = two;
    out->n = n;
    return TES_OK;
}

tes_err tes_status_list_decompress(tes_bytes z, size_t max_entries, tes_status_list *out)
{
    /* An entry bound given by the caller is a byte bound already (2 bits per entry). */
    return tes_status_lst_decode(z, 2, max_entries, max_entries != 0 ? SIZE_MAX : 0, out);
}
