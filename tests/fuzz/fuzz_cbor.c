/*
 * libFuzzer target: the CBOR decoder, the navigation helpers, diagnostic notation and the
 * deterministic map sort.
 *
 * Each input is decoded twice (default limits; max_depth 4 / max_items 64). Every decoded
 * document is walked node by node and its structural invariants are checked; a violation
 * is a bug in the decoder or navigation code and traps. The input is also rendered with
 * tes_cbor_diag (unwrap24), and a top-level definite map is re-sorted with
 * tes_cbor_enc_sort_map on a copy, which must succeed and re-decode to the same shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/cbor.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* Looks key k of map m up with the public helpers; the answer must be the value of the
 * first key in m that the helper's notion of equality matches (maps have unique keys). */
static void check_lookup(const tes_cbor_doc *d, uint32_t m, uint32_t k)
{
    const tes_cbor_node *kn = &d->nodes[k];
    int64_t ik;
    if (kn->type == TES_CBOR_TEXT && kn->len < 256 && memchr(kn->data, 0, kn->len) == NULL) {
        char key[256];
        memcpy(key, kn->data, kn->len);
        key[kn->len] = '\0';
        CHECK(tes_cbor_map_get_text(d, m, key) == kn->next);
    } else if (tes_cbor_get_int(d, k, &ik)) {
        CHECK(tes_cbor_map_get_int(d, m, ik) == kn->next);
    }
}

static void walk(const tes_cbor_doc *d)
{
    const size_t in_len = d->input.len;
    CHECK(d->count > 0 && d->nodes != NULL);
    CHECK(d->nodes[0].off == 0 && d->nodes[0].span == in_len && d->nodes[0].next == d->count);
    CHECK(tes_cbor_child(d, d->count) == TES_CBOR_NONE);
    CHECK(tes_cbor_span(d, d->count).len == 0);

    for (uint32_t i = 0; i < d->count; i++) {
        const tes_cbor_node *n = &d->nodes[i];
        CHECK(n->type <= TES_CBOR_SIMPLE);
        CHECK(n->span > 0 && (size_t)n->off + n->span <= in_len);
        CHECK(n->next > i && n->next <= d->count);
        tes_bytes sp = tes_cbor_span(d, i);
        CHECK(sp.ptr == d->input.ptr + n->off && sp.len == n->span);

        if (n->type == TES_CBOR_BYTES || n->type == TES_CBOR_TEXT) {
            CHECK(n->next == i + 1);
            CHECK(n->len <= n->span);
            if (n->len)
                CHECK(n->data >= sp.ptr && n->data + n->len == sp.ptr + sp.len);
        }
        if (n->type == TES_CBOR_TAG && n->val == 24) {
            tes_bytes inner;
            CHECK(tes_cbor_tag24_content(d, i, &inner));
            CHECK(inner.ptr == d->nodes[i + 1].data && inner.len == d->nodes[i + 1].len);
        }

        bool container = n->type == TES_CBOR_ARRAY || n->type == TES_CBOR_MAP ||
                         n->type == TES_CBOR_TAG;
        if (!container) {
            CHECK(n->next == i + 1);
            CHECK(tes_cbor_child(d, i) == TES_CBOR_NONE);
            continue;
        }
        CHECK(n->type != TES_CBOR_TAG || !n->indefinite);

        /* children: consecutive siblings inside the parent's subtree and byte span */
        uint64_t nchild = 0;
        uint32_t prev_end = n->off; /* children start after the head, in order */
        uint32_t c = tes_cbor_child(d, i);
        CHECK(c == TES_CBOR_NONE || c == i + 1);
        while (c != TES_CBOR_NONE && c < n->next) {
            const tes_cbor_node *cn = &d->nodes[c];
            CHECK(cn->next <= n->next);
            CHECK(cn->off > prev_end || (nchild == 0 && cn->off > n->off));
            CHECK((uint64_t)cn->off + cn->span <= (uint64_t)n->off + n->span);
            CHECK(tes_cbor_child_at(d, i, (uint32_t)nchild) == c);
            if (n->type == TES_CBOR_MAP && nchild % 2 == 0) {
                CHECK(cn->next < n->next); /* a key has a value */
                check_lookup(d, i, c);
            }
            prev_end = cn->off + cn->span - 1;
            nchild++;
            c = tes_cbor_next(d, c);
        }
        CHECK(c == n->next || (c == TES_CBOR_NONE && nchild == 0));
        CHECK(tes_cbor_child_at(d, i, (uint32_t)nchild) == TES_CBOR_NONE || nchild > UINT32_MAX);
        uint64_t want = n->type == TES_CBOR_TAG ? 1 : n->type == TES_CBOR_MAP ? 2 * n->val : n->val;
        CHECK(nchild == want);
        CHECK(tes_cbor_count(d, i) == n->val);
        /* the last child ends where the container ends (an indefinite one has a break byte) */
        if (nchild > 0)
            CHECK(prev_end + 1u + (n->indefinite ? 1u : 0u) == n->off + n->span);
    }
}

/* Re-sorts a copy of a top-level definite map: must succeed (keys are unique) and the
 * result must decode to a map with the same number of nodes. */
static void check_sort(const tes_cbor_doc *d)
{
    if (d->nodes[0].type != TES_CBOR_MAP || d->nodes[0].indefinite)
        return;
    tes_buf copy = {0};
    tes_buf_append(&copy, d->input.ptr, d->input.len);
    tes_cbor_enc e = {.out = &copy};
    tes_cbor_enc_sort_map(&e, 0);
    tes_err err = tes_cbor_enc_finish(&e);
    CHECK(err == TES_OK || err == TES_ERR_NOMEM);
    if (err == TES_OK) {
        CHECK(copy.len == d->input.len);
        tes_cbor_doc d2;
        CHECK(tes_cbor_parse(tes_buf_bytes(&copy), NULL, &d2) == TES_OK);
        CHECK(d2.count == d->count && d2.nodes[0].val == d->nodes[0].val);
        tes_cbor_doc_free(&d2);
    }
    tes_buf_free(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tes_bytes in = TES_BYTES(data, size);
    tes_cbor_doc d;

    tes_err err = tes_cbor_parse(in, NULL, &d);
    if (err == TES_OK) {
        walk(&d);
        check_sort(&d);
        tes_cbor_doc_free(&d);
    } else {
        CHECK(d.nodes == NULL && d.count == 0);
        CHECK(tes_err_is_malformed(err) || err == TES_ERR_NOMEM);
    }

    const tes_cbor_limits tight = {.max_depth = 4, .max_items = 64};
    tes_err err2 = tes_cbor_parse(in, &tight, &d);
    if (err2 == TES_OK) {
        CHECK(err == TES_OK); /* tighter limits never accept more */
        CHECK(d.count <= 64);
        walk(&d);
        tes_cbor_doc_free(&d);
    } else {
        CHECK(d.nodes == NULL && d.count == 0);
    }

    tes_buf diag = {0};
    tes_err derr = tes_cbor_diag(in, true, &diag);
    CHECK(derr != TES_OK || err == TES_OK); /* diag accepts only what the decoder accepts */
    tes_buf_free(&diag);
    return 0;
}
