/*
 * Zero-copy CBOR decoder for untrusted input, driven by libcbor's
 * cbor_stream_decode (which reads one head at a time and never allocates).
 * Every item becomes one node holding its exact byte span in the input.
 */
#include <cbor.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/cbor.h"

#define DEFAULT_MAX_INPUT (16u << 20)
#define DEFAULT_MAX_DEPTH 24
#define DEFAULT_MAX_ITEMS 1000000
#define HARD_MAX_DEPTH 64

enum ev_kind { EV_NONE, EV_LEAF, EV_ARRAY, EV_MAP, EV_INDEF_ARRAY, EV_INDEF_MAP, EV_TAG,
               EV_BREAK, EV_INDEF_STRING };

typedef struct frame {
    uint32_t node;
    uint64_t remaining; /* children still expected (definite containers, tags) */
    uint64_t children;
    bool indef;
} frame;

typedef struct pctx {
    /* filled by the callbacks for the head just read */
    enum ev_kind ev;
    tes_cbor_node cur;
} pctx;

static void set_leaf(void *c, tes_cbor_type t, uint64_t v)
{
    pctx *p = c;
    p->ev = EV_LEAF;
    p->cur.type = (uint8_t)t;
    p->cur.val = v;
}
static void cb_u8(void *c, uint8_t v) { set_leaf(c, TES_CBOR_UINT, v); }
static void cb_u16(void *c, uint16_t v) { set_leaf(c, TES_CBOR_UINT, v); }
static void cb_u32(void *c, uint32_t v) { set_leaf(c, TES_CBOR_UINT, v); }
static void cb_u64(void *c, uint64_t v) { set_leaf(c, TES_CBOR_UINT, v); }
static void cb_n8(void *c, uint8_t v) { set_leaf(c, TES_CBOR_NEGINT, v); }
static void cb_n16(void *c, uint16_t v) { set_leaf(c, TES_CBOR_NEGINT, v); }
static void cb_n32(void *c, uint32_t v) { set_leaf(c, TES_CBOR_NEGINT, v); }
static void cb_n64(void *c, uint64_t v) { set_leaf(c, TES_CBOR_NEGINT, v); }
static void cb_bytes(void *c, cbor_data d, uint64_t n)
{
    pctx *p = c;
    set_leaf(c, TES_CBOR_BYTES, 0);
    p->cur.data = d;
    p->cur.len = (size_t)n;
}
static void cb_text(void *c, cbor_data d, uint64_t n)
{
    pctx *p = c;
    set_leaf(c, TES_CBOR_TEXT, 0);
    p->cur.data = d;
    p->cur.len = (size_t)n;
}
static void cb_indef_string(void *c) { ((pctx *)c)->ev = EV_INDEF_STRING; }
static void cb_array(void *c, uint64_t n)
{
    pctx *p = c;
    p->ev = EV_ARRAY;
    p->cur.type = TES_CBOR_ARRAY;
    p->cur.val = n;
}
static void cb_map(void *c, uint64_t n)
{
    pctx *p = c;
    p->ev = EV_MAP;
    p->cur.type = TES_CBOR_MAP;
    p->cur.val = n;
}
static void cb_indef_array(void *c)
{
    pctx *p = c;
    p->ev = EV_INDEF_ARRAY;
    p->cur.type = TES_CBOR_ARRAY;
}
static void cb_indef_map(void *c)
{
    pctx *p = c;
    p->ev = EV_INDEF_MAP;
    p->cur.type = TES_CBOR_MAP;
}
static void cb_tag(void *c, uint64_t v)
{
    pctx *p = c;
    p->ev = EV_TAG;
    p->cur.type = TES_CBOR_TAG;
    p->cur.val = v;
}
static void cb_float(void *c, float f)
{
    pctx *p = c;
    set_leaf(c, TES_CBOR_FLOAT, 0);
    p->cur.fval = f;
}
static void cb_double(void *c, double f)
{
    pctx *p = c;
    set_leaf(c, TES_CBOR_FLOAT, 0);
    p->cur.fval = f;
}
static void cb_undef(void *c) { set_leaf(c, TES_CBOR_UNDEFINED, 0); }
static void cb_null(void *c) { set_leaf(c, TES_CBOR_NULL, 0); }
static void cb_bool(void *c, bool v) { set_leaf(c, v ? TES_CBOR_TRUE : TES_CBOR_FALSE, 0); }
static void cb_break(void *c) { ((pctx *)c)->ev = EV_BREAK; }

/* libcbor 0.8 declares the string and collection callbacks with size_t. */
static const struct cbor_callbacks callbacks = {
    .uint8 = cb_u8,
    .uint16 = cb_u16,
    .uint32 = cb_u32,
    .uint64 = cb_u64,
    .negint8 = cb_n8,
    .negint16 = cb_n16,
    .negint32 = cb_n32,
    .negint64 = cb_n64,
    .byte_string_start = cb_indef_string,
    .byte_string = (cbor_string_callback)cb_bytes,
    .string = (cbor_string_callback)cb_text,
    .string_start = cb_indef_string,
    .indef_array_start = cb_indef_array,
    .array_start = (cbor_collection_callback)cb_array,
    .indef_map_start = cb_indef_map,
    .map_start = (cbor_collection_callback)cb_map,
    .tag = cb_tag,
    .float2 = cb_float,
    .float4 = cb_float,
    .float8 = cb_double,
    .undefined = cb_undef,
    .null = cb_null,
    .boolean = cb_bool,
    .indef_break = cb_break,
};

static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (k >= n - i)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Ordering of keys for duplicate detection: by type, then value, then content. */
static int key_cmp(const tes_cbor_doc *d, uint32_t a, uint32_t b)
{
    const tes_cbor_node *x = &d->nodes[a], *y = &d->nodes[b];
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    switch (x->type) {
    case TES_CBOR_UINT:
    case TES_CBOR_NEGINT:
    case TES_CBOR_SIMPLE:
        return x->val < y->val ? -1 : x->val > y->val;
    case TES_CBOR_FLOAT: {
        /* by bit pattern: NaN equals only itself, 0.0 and -0.0 differ */
        uint64_t bx, by;
        memcpy(&bx, &x->fval, sizeof(bx));
        memcpy(&by, &y->fval, sizeof(by));
        return bx < by ? -1 : bx > by;
    }
    case TES_CBOR_BYTES:
    case TES_CBOR_TEXT:
        if (x->len != y->len)
            return x->len < y->len ? -1 : 1;
        return x->len ? memcmp(x->data, y->data, x->len) : 0;
    case TES_CBOR_FALSE:
    case TES_CBOR_TRUE:
    case TES_CBOR_NULL:
    case TES_CBOR_UNDEFINED:
        return 0;
    default: {
        /* containers and tags as keys: compare their encodings */
        if (x->span != y->span)
            return x->span < y->span ? -1 : 1;
        return memcmp(d->input.ptr + x->off, d->input.ptr + y->off, x->span);
    }
    }
}

static int key_cmp_r(const void *a, const void *b, void *ctx)
{
    return key_cmp(ctx, *(const uint32_t *)a, *(const uint32_t *)b);
}

static tes_err check_dup_keys(const tes_cbor_doc *d, uint32_t map)
{
    uint64_t n = d->nodes[map].val;
    if (n < 2)
        return TES_OK;
    if (n <= 16) {
        uint32_t keys[16];
        uint32_t k = map + 1;
        for (uint64_t i = 0; i < n; i++) {
            keys[i] = k;
            k = d->nodes[d->nodes[k].next].next;
        }
        for (uint64_t i = 0; i < n; i++)
            for (uint64_t j = i + 1; j < n; j++)
                if (key_cmp(d, keys[i], keys[j]) == 0)
                    return tes_err_set(TES_ERR_CBOR_DUP_KEY,
                                       "map at offset %u has a duplicate key", d->nodes[map].off);
        return TES_OK;
    }
    uint32_t *keys = malloc((size_t)n * sizeof(*keys));
    if (keys == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory checking map keys");
    uint32_t k = map + 1;
    for (uint64_t i = 0; i < n; i++) {
        keys[i] = k;
        k = d->nodes[d->nodes[k].next].next;
    }
    qsort_r(keys, (size_t)n, sizeof(*keys), key_cmp_r, (void *)d);
    tes_err err = TES_OK;
    for (uint64_t i = 1; i < n && err == TES_OK; i++)
        if (key_cmp(d, keys[i - 1], keys[i]) == 0)
            err = tes_err_set(TES_ERR_CBOR_DUP_KEY, "map at offset %u has a duplicate key",
                              d->nodes[map].off);
    free(keys);
    return err;
}

void tes_cbor_doc_free(tes_cbor_doc *doc)
{
    if (doc == NULL)
        return;
    if (doc->heap)
        free(doc->nodes);
    *doc = (tes_cbor_doc){0};
}

static tes_err fail(tes_cbor_doc *doc, tes_err e)
{
    tes_cbor_doc_free(doc);
    return e;
}

tes_err tes_cbor_parse(tes_bytes input, const tes_cbor_limits *limits, tes_cbor_doc *doc)
{
    return tes_cbor_parse_with(input, limits, NULL, 0, doc);
}

tes_err tes_cbor_parse_with(tes_bytes input, const tes_cbor_limits *limits,
                            tes_cbor_node *storage, uint32_t storage_cap, tes_cbor_doc *doc)
{
    size_t max_input = limits && limits->max_input ? limits->max_input : DEFAULT_MAX_INPUT;
    uint32_t max_depth = limits && limits->max_depth ? limits->max_depth : DEFAULT_MAX_DEPTH;
    uint32_t max_items = limits && limits->max_items ? limits->max_items : DEFAULT_MAX_ITEMS;
    if (max_depth > HARD_MAX_DEPTH)
        max_depth = HARD_MAX_DEPTH;
    if (max_input > UINT32_MAX - 1)
        max_input = UINT32_MAX - 1;

    *doc = (tes_cbor_doc){.input = input, .nodes = storage};
    if (input.ptr == NULL && input.len != 0)
        return tes_err_set(TES_ERR_ARG, "NULL input");
    if (input.len == 0)
        return tes_err_set(TES_ERR_CBOR_TRUNCATED, "empty input where a CBOR item was expected");
    if (input.len > max_input)
        return tes_err_set(TES_ERR_CBOR_TOO_LARGE, "CBOR input of %zu bytes exceeds the %zu-byte limit",
                           input.len, max_input);

    frame stack[HARD_MAX_DEPTH];
    uint32_t depth = 0;
    uint32_t cap = storage ? storage_cap : 0;
    size_t pos = 0;
    bool done = false;
    pctx p;

    while (!done) {
        if (pos >= input.len)
            return fail(doc, tes_err_set(TES_ERR_CBOR_TRUNCATED,
                                         "input ends inside an item (%u open)", depth));
        memset(&p, 0, sizeof(p));
        struct cbor_decoder_result r;
        uint8_t ib = input.ptr[pos];
        if (ib >= 0xc6 && ib <= 0xd4) {
            /* libcbor 0.8 refuses the valid one-byte heads of tags 6..20 (17 and 18 are
             * the COSE_Mac0 and COSE_Sign1 tags) */
            cb_tag(&p, (uint64_t)(ib - 0xc0));
            r = (struct cbor_decoder_result){.read = 1, .status = CBOR_DECODER_FINISHED};
        } else if (ib >= 0xe0 && ib <= 0xf3) {
            /* unassigned simple values 0..19: well-formed, libcbor 0.8 refuses them */
            set_leaf(&p, TES_CBOR_SIMPLE, ib - 0xe0u);
            r = (struct cbor_decoder_result){.read = 1, .status = CBOR_DECODER_FINISHED};
        } else if (ib == 0xf8) {
            /* two-byte simple value: 32..255 are well-formed, below 32 is invalid */
            if (input.len - pos < 2)
                return fail(doc, tes_err_set(TES_ERR_CBOR_TRUNCATED,
                                             "input ends inside the item at offset %zu", pos));
            if (input.ptr[pos + 1] < 32)
                return fail(doc, tes_err_set(TES_ERR_CBOR_INVALID,
                                             "non-canonical two-byte simple value at offset %zu",
                                             pos));
            set_leaf(&p, TES_CBOR_SIMPLE, input.ptr[pos + 1]);
            r = (struct cbor_decoder_result){.read = 2, .status = CBOR_DECODER_FINISHED};
        } else {
            r = cbor_stream_decode(input.ptr + pos, input.len - pos, &callbacks, &p);
        }
        if (r.status == CBOR_DECODER_NEDATA)
            return fail(doc, tes_err_set(TES_ERR_CBOR_TRUNCATED,
                                         "input ends inside the item at offset %zu", pos));
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || p.ev == EV_NONE)
            return fail(doc, tes_err_set(TES_ERR_CBOR_INVALID,
                                         "ill-formed CBOR head 0x%02x at offset %zu",
                                         input.ptr[pos], pos));
        if (p.ev == EV_INDEF_STRING)
            return fail(doc, tes_err_set(TES_ERR_CBOR_INDEFINITE,
                                         "indefinite-length string at offset %zu", pos));
        size_t end = pos + r.read;

        if (p.ev == EV_BREAK) {
            if (depth == 0 || !stack[depth - 1].indef)
                return fail(doc, tes_err_set(TES_ERR_CBOR_INVALID,
                                             "unexpected break at offset %zu", pos));
            frame *f = &stack[depth - 1];
            tes_cbor_node *n = &doc->nodes[f->node];
            if (n->type == TES_CBOR_MAP && f->children % 2 != 0)
                return fail(doc, tes_err_set(TES_ERR_CBOR_INVALID,
                                             "indefinite map at offset %u has a key without value",
                                             n->off));
            n->val = n->type == TES_CBOR_MAP ? f->children / 2 : f->children;
            /* fall through to completion of this container below */
            pos = end;
            goto close_top;
        }

        /* a new item */
        if (doc->count >= max_items)
            return fail(doc, tes_err_set(TES_ERR_CBOR_TOO_LARGE,
                                         "more than %u CBOR items", max_items));
        if (doc->count == cap) {
            uint32_t ncap = cap ? cap * 2 : 16;
            if (ncap > max_items)
                ncap = max_items;
            tes_cbor_node *nn;
            if (doc->heap) {
                nn = realloc(doc->nodes, (size_t)ncap * sizeof(*nn));
            } else {
                nn = malloc((size_t)ncap * sizeof(*nn));
                if (nn && cap)
                    memcpy(nn, doc->nodes, (size_t)cap * sizeof(*nn));
            }
            if (nn == NULL)
                return fail(doc, tes_err_set(TES_ERR_NOMEM, "out of memory decoding CBOR"));
            doc->nodes = nn;
            doc->heap = true;
            cap = ncap;
        }
        uint32_t idx = doc->count++;
        tes_cbor_node *n = &doc->nodes[idx];
        *n = p.cur;
        n->off = (uint32_t)pos;
        n->indefinite = p.ev == EV_INDEF_ARRAY || p.ev == EV_INDEF_MAP;
        pos = end;

        if (p.ev == EV_LEAF) {
            if (n->type == TES_CBOR_TEXT && !utf8_valid(n->data, n->len))
                return fail(doc, tes_err_set(TES_ERR_CBOR_UTF8,
                                             "text string at offset %u is not valid UTF-8", n->off));
            n->span = (uint32_t)r.read;
            n->next = idx + 1;
        } else {
            uint64_t expect = 0;
            if (p.ev == EV_ARRAY)
                expect = n->val;
            else if (p.ev == EV_MAP)
                expect = n->val > UINT64_MAX / 2 ? UINT64_MAX : n->val * 2;
            else if (p.ev == EV_TAG)
                expect = 1;
            /* every item takes at least one byte: refuse heads that promise more
             * items than bytes remain, before any work is done for them */
            if (!n->indefinite && expect > input.len - pos)
                return fail(doc, tes_err_set(TES_ERR_CBOR_TRUNCATED,
                                             "%s at offset %u declares %llu items but only %zu bytes follow",
                                             n->type == TES_CBOR_MAP ? "map" : n->type == TES_CBOR_TAG ? "tag" : "array",
                                             n->off, (unsigned long long)expect, input.len - pos));
            if (!n->indefinite && expect == 0) {
                n->span = (uint32_t)r.read;
                n->next = idx + 1;
            } else {
                if (depth >= max_depth)
                    return fail(doc, tes_err_set(TES_ERR_CBOR_TOO_DEEP,
                                                 "nesting deeper than %u at offset %u", max_depth,
                                                 n->off));
                stack[depth++] = (frame){.node = idx, .remaining = expect, .indef = n->indefinite};
                if (n->indefinite)
                    n->val = 0;
                continue;
            }
        }

        /* the item just read is complete: account for it in its parents */
        for (;;) {
            if (depth == 0) {
                done = true;
                break;
            }
            frame *f = &stack[depth - 1];
            f->children++;
            if (f->indef || --f->remaining > 0)
                break;
        close_top:
            f = &stack[depth - 1];
            {
                tes_cbor_node *c = &doc->nodes[f->node];
                c->span = (uint32_t)(pos - c->off);
                c->next = doc->count;
                if (c->type == TES_CBOR_MAP) {
                    tes_err e = check_dup_keys(doc, f->node);
                    if (e != TES_OK)
                        return fail(doc, e);
                }
                if (c->type == TES_CBOR_TAG && c->val == 24 &&
                    doc->nodes[f->node + 1].type != TES_CBOR_BYTES)
                    return fail(doc, tes_err_set(TES_ERR_CBOR_TYPE,
                                                 "tag 24 at offset %u does not wrap a byte string",
                                                 c->off));
            }
            depth--;
        }
    }
    if (pos != input.len)
        return fail(doc, tes_err_set(TES_ERR_CBOR_TRAILING,
                                     "%zu bytes after the CBOR item (which ends at offset %zu)",
                                     input.len - pos, pos));
    return TES_OK;
}
