/* Deterministic CBOR encoder on libcbor's cbor_encode_* primitives. */
#include <cbor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/cbor.h"

static void put_head(tes_cbor_enc *e, size_t (*fn)(uint64_t, unsigned char *, size_t), uint64_t v)
{
    if (e->err != TES_OK)
        return;
    unsigned char head[9];
    size_t n = fn(v, head, sizeof(head));
    if (n == 0) {
        e->err = TES_ERR_CRYPTO;
        return;
    }
    tes_buf_append(e->out, head, n);
}

static size_t enc_bytes_head(uint64_t v, unsigned char *b, size_t n)
{
    return cbor_encode_bytestring_start((size_t)v, b, n);
}
static size_t enc_text_head(uint64_t v, unsigned char *b, size_t n)
{
    return cbor_encode_string_start((size_t)v, b, n);
}
static size_t enc_array_head(uint64_t v, unsigned char *b, size_t n)
{
    return cbor_encode_array_start((size_t)v, b, n);
}
static size_t enc_map_head(uint64_t v, unsigned char *b, size_t n)
{
    return cbor_encode_map_start((size_t)v, b, n);
}

void tes_cbor_enc_uint(tes_cbor_enc *e, uint64_t v)
{
    put_head(e, cbor_encode_uint, v);
}

void tes_cbor_enc_int(tes_cbor_enc *e, int64_t v)
{
    if (v >= 0)
        put_head(e, cbor_encode_uint, (uint64_t)v);
    else
        put_head(e, cbor_encode_negint, (uint64_t)(-1 - v));
}

void tes_cbor_enc_bytes(tes_cbor_enc *e, const void *p, size_t n)
{
    put_head(e, enc_bytes_head, n);
    if (e->err == TES_OK)
        tes_buf_append(e->out, p, n);
}

size_t tes_cbor_enc_bytes_head(tes_cbor_enc *e, size_t n)
{
    put_head(e, enc_bytes_head, n);
    return e->out->len;
}

void tes_cbor_enc_text(tes_cbor_enc *e, const char *s, size_t n)
{
    put_head(e, enc_text_head, n);
    if (e->err == TES_OK)
        tes_buf_append(e->out, s, n);
}

void tes_cbor_enc_cstr(tes_cbor_enc *e, const char *s)
{
    tes_cbor_enc_text(e, s, strlen(s));
}

void tes_cbor_enc_array(tes_cbor_enc *e, size_t n)
{
    put_head(e, enc_array_head, n);
}

void tes_cbor_enc_map(tes_cbor_enc *e, size_t n)
{
    put_head(e, enc_map_head, n);
}

void tes_cbor_enc_tag(tes_cbor_enc *e, uint64_t tag)
{
    put_head(e, cbor_encode_tag, tag);
}

void tes_cbor_enc_bool(tes_cbor_enc *e, bool v)
{
    if (e->err != TES_OK)
        return;
    uint8_t b = v ? 0xf5 : 0xf4;
    tes_buf_append(e->out, &b, 1);
}

void tes_cbor_enc_null(tes_cbor_enc *e)
{
    if (e->err != TES_OK)
        return;
    uint8_t b = 0xf6;
    tes_buf_append(e->out, &b, 1);
}

void tes_cbor_enc_float(tes_cbor_enc *e, double v)
{
    if (e->err != TES_OK)
        return;
    unsigned char b[9];
    size_t n = (double)(float)v == v ? cbor_encode_single((float)v, b, sizeof(b))
                                     : cbor_encode_double(v, b, sizeof(b));
    tes_buf_append(e->out, b, n);
}

void tes_cbor_enc_raw(tes_cbor_enc *e, tes_bytes encoded)
{
    if (e->err == TES_OK)
        tes_buf_append(e->out, encoded.ptr, encoded.len);
}

typedef struct entry {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *all;
    size_t all_len;
} entry;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

void tes_cbor_enc_sort_map(tes_cbor_enc *e, size_t map_off)
{
    if (e->err != TES_OK || e->out->failed)
        return;
    tes_bytes region = TES_BYTES(e->out->ptr + map_off, e->out->len - map_off);
    tes_cbor_doc d;
    /* the encoder's own output: limits only guard against misuse */
    tes_cbor_limits lim = {.max_input = SIZE_MAX / 2, .max_depth = 64, .max_items = UINT32_MAX - 1};
    tes_err err = tes_cbor_parse(region, &lim, &d);
    if (err == TES_OK && (d.nodes[0].type != TES_CBOR_MAP || d.nodes[0].indefinite))
        err = tes_err_set(TES_ERR_ARG, "tes_cbor_enc_sort_map: not a definite-length map");
    if (err != TES_OK) {
        e->err = err;
        tes_cbor_doc_free(&d);
        return;
    }
    size_t n = (size_t)d.nodes[0].val;
    entry *ents = n ? calloc(n, sizeof(*ents)) : NULL;
    uint8_t *copy = malloc(region.len);
    if ((n && ents == NULL) || copy == NULL) {
        e->err = TES_ERR_NOMEM;
        goto out;
    }
    memcpy(copy, region.ptr, region.len);
    size_t head = d.nodes[1 < d.count ? 1 : 0].off;
    uint32_t k = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = d.nodes[k].next;
        ents[i].key = copy + d.nodes[k].off;
        ents[i].key_len = d.nodes[k].span;
        ents[i].all = copy + d.nodes[k].off;
        ents[i].all_len = d.nodes[k].span + d.nodes[v].span;
        k = d.nodes[v].next;
    }
    if (n > 1)
        qsort(ents, n, sizeof(*ents), entry_cmp);
    uint8_t *w = e->out->ptr + map_off + (n ? head : 0);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && entry_cmp(&ents[i - 1], &ents[i]) == 0) {
            e->err = tes_err_set(TES_ERR_CBOR_DUP_KEY, "duplicate key in encoded map");
            break;
        }
        memcpy(w, ents[i].all, ents[i].all_len);
        w += ents[i].all_len;
    }
out:
    free(ents);
    free(copy);
    tes_cbor_doc_free(&d);
}

tes_err tes_cbor_enc_finish(tes_cbor_enc *e)
{
    if (e->err != TES_OK)
        return e->err;
    if (e->out == NULL)
        return tes_err_set(TES_ERR_ARG, "encoder has no output buffer");
    if (e->out->failed)
        return tes_err_set(TES_ERR_NOMEM, "out of memory while encoding CBOR");
    return TES_OK;
}
