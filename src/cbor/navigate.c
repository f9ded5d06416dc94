/* Navigation over a decoded CBOR document. */
#include <string.h>

#include "tessera/cbor.h"

tes_bytes tes_cbor_span(const tes_cbor_doc *d, uint32_t i)
{
    if (i >= d->count)
        return TES_BYTES(NULL, 0);
    return TES_BYTES(d->input.ptr + d->nodes[i].off, d->nodes[i].span);
}

uint32_t tes_cbor_child(const tes_cbor_doc *d, uint32_t i)
{
    if (i >= d->count)
        return TES_CBOR_NONE;
    const tes_cbor_node *n = &d->nodes[i];
    if (n->type != TES_CBOR_ARRAY && n->type != TES_CBOR_MAP && n->type != TES_CBOR_TAG)
        return TES_CBOR_NONE;
    return n->next > i + 1 ? i + 1 : TES_CBOR_NONE;
}

uint32_t tes_cbor_child_at(const tes_cbor_doc *d, uint32_t i, uint32_t k)
{
    uint32_t c = tes_cbor_child(d, i);
    if (c == TES_CBOR_NONE)
        return TES_CBOR_NONE;
    uint32_t end = d->nodes[i].next;
    while (k-- > 0) {
        c = d->nodes[c].next;
        if (c >= end)
            return TES_CBOR_NONE;
    }
    return c;
}

bool tes_cbor_is(const tes_cbor_doc *d, uint32_t i, tes_cbor_type t)
{
    return i < d->count && d->nodes[i].type == t;
}

bool tes_cbor_get_int(const tes_cbor_doc *d, uint32_t i, int64_t *out)
{
    if (i >= d->count)
        return false;
    const tes_cbor_node *n = &d->nodes[i];
    if (n->type == TES_CBOR_UINT && n->val <= INT64_MAX) {
        *out = (int64_t)n->val;
        return true;
    }
    if (n->type == TES_CBOR_NEGINT && n->val <= INT64_MAX) {
        *out = -1 - (int64_t)n->val;
        return true;
    }
    return false;
}

bool tes_cbor_text_eq(const tes_cbor_doc *d, uint32_t i, const char *s)
{
    if (!tes_cbor_is(d, i, TES_CBOR_TEXT))
        return false;
    size_t n = strlen(s);
    return d->nodes[i].len == n && memcmp(d->nodes[i].data, s, n) == 0;
}

/* A map key to look for: a text string or an integer, named at the call site. */
enum map_key_kind { MAP_KEY_TEXT, MAP_KEY_INT };
struct map_key {
    enum map_key_kind kind;
    const char *text; /* MAP_KEY_TEXT */
    int64_t num;      /* MAP_KEY_INT */
};

static uint32_t map_find(const tes_cbor_doc *d, uint32_t map, struct map_key key)
{
    if (!tes_cbor_is(d, map, TES_CBOR_MAP))
        return TES_CBOR_NONE;
    uint32_t end = d->nodes[map].next;
    for (uint32_t k = map + 1; k < end;) {
        uint32_t v = d->nodes[k].next;
        int64_t x;
        if (key.kind == MAP_KEY_TEXT ? tes_cbor_text_eq(d, k, key.text)
                                     : (tes_cbor_get_int(d, k, &x) && x == key.num))
            return v;
        k = d->nodes[v].next;
    }
    return TES_CBOR_NONE;
}

uint32_t tes_cbor_map_get_text(const tes_cbor_doc *d, uint32_t map, const char *key)
{
    return map_find(d, map, (struct map_key){.kind = MAP_KEY_TEXT, .text = key});
}

uint32_t tes_cbor_map_get_int(const tes_cbor_doc *d, uint32_t map, int64_t key)
{
    return map_find(d, map, (struct map_key){.kind = MAP_KEY_INT, .num = key});
}

bool tes_cbor_tag24_content(const tes_cbor_doc *d, uint32_t i, tes_bytes *inner)
{
    if (!tes_cbor_is(d, i, TES_CBOR_TAG) || d->nodes[i].val != 24 ||
        !tes_cbor_is(d, i + 1, TES_CBOR_BYTES))
        return false;
    *inner = TES_BYTES(d->nodes[i + 1].data, d->nodes[i + 1].len);
    return true;
}
