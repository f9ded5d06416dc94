/*
 * tessera/cbor.h — CBOR for untrusted input and deterministic output.
 *
 * Decoding: tes_cbor_parse() decodes one complete CBOR item from untrusted
 * bytes (built on libcbor's cbor_stream_decode, never cbor_load) into a flat
 * array of nodes in pre-order. Nothing is copied: every node keeps the exact
 * byte span it was read from, and strings point into the input. The input
 * must therefore outlive the document. Limits bound input size, depth, number
 * of items and string length; duplicate map keys, trailing bytes,
 * indefinite-length strings and invalid UTF-8 in text strings are rejected.
 * Non-canonical (non-shortest, unsorted) encodings are accepted.
 *
 * Encoding: tes_cbor_enc writes shortest-form heads with libcbor's
 * cbor_encode_* primitives into a tes_buf. Errors are sticky; check
 * tes_cbor_enc_finish() once. tes_cbor_enc_sort_map() re-orders a map just
 * written into RFC 8949 core deterministic order (bytewise-lexicographic keys).
 */
#ifndef TESSERA_CBOR_H
#define TESSERA_CBOR_H

#include "tessera/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tes_cbor_type {
    TES_CBOR_UINT = 0,   /* val = value */
    TES_CBOR_NEGINT = 1, /* value is -1 - val */
    TES_CBOR_BYTES = 2,  /* data/len */
    TES_CBOR_TEXT = 3,   /* data/len (valid UTF-8, not NUL-terminated) */
    TES_CBOR_ARRAY = 4,  /* val = number of items */
    TES_CBOR_MAP = 5,    /* val = number of pairs; children alternate key, value */
    TES_CBOR_TAG = 6,    /* val = tag number; exactly one child */
    TES_CBOR_FALSE = 7,
    TES_CBOR_TRUE = 8,
    TES_CBOR_NULL = 9,
    TES_CBOR_UNDEFINED = 10,
    TES_CBOR_FLOAT = 11, /* fval */
    TES_CBOR_SIMPLE = 12,/* other simple value, val = number */
} tes_cbor_type;

typedef struct tes_cbor_node {
    uint8_t type;       /* tes_cbor_type */
    uint8_t indefinite; /* container had indefinite length */
    uint32_t off;       /* offset of the item's first byte in the input */
    uint32_t span;      /* number of bytes of the whole item, children included */
    uint32_t next;      /* index of the node after this item's subtree */
    uint64_t val;
    double fval;
    const uint8_t *data;/* BYTES/TEXT content, points into the input */
    size_t len;
} tes_cbor_node;

typedef struct tes_cbor_limits {
    size_t max_input;   /* bytes; default 16 MiB */
    uint32_t max_depth; /* default 24 */
    uint32_t max_items; /* default 1,000,000 */
} tes_cbor_limits;

typedef struct tes_cbor_doc {
    tes_bytes input;       /* borrowed */
    tes_cbor_node *nodes;  /* nodes[0] is the top-level item */
    uint32_t count;
    bool heap;             /* nodes were allocated (else: the caller's storage) */
} tes_cbor_doc;

/* Decodes exactly one item spanning all of `input`. limits may be NULL.
 * On success *doc owns its node array (free with tes_cbor_doc_free) and
 * borrows input. On failure *doc is empty and nothing needs freeing. */
TES_MUST_CHECK tes_err tes_cbor_parse(tes_bytes input, const tes_cbor_limits *limits,
                                      tes_cbor_doc *doc);
void tes_cbor_doc_free(tes_cbor_doc *doc);
/* The same, decoding into the caller's array of cap nodes first: no
 * allocation while the item has at most cap nodes (more spill to the heap).
 * storage must outlive the document; tes_cbor_doc_free is still required. */
TES_MUST_CHECK tes_err tes_cbor_parse_with(tes_bytes input, const tes_cbor_limits *limits,
                                           tes_cbor_node *storage, uint32_t cap,
                                           tes_cbor_doc *doc);

/* Navigation. Node indices are uint32_t; TES_CBOR_NONE means "absent". */
#define TES_CBOR_NONE UINT32_MAX
static inline const tes_cbor_node *tes_cbor_at(const tes_cbor_doc *d, uint32_t i) {
    return i < d->count ? &d->nodes[i] : NULL;
}
/* The exact encoded bytes of node i. */
tes_bytes tes_cbor_span(const tes_cbor_doc *d, uint32_t i);
/* First child of a container or tag (TES_CBOR_NONE when empty). */
uint32_t tes_cbor_child(const tes_cbor_doc *d, uint32_t i);
/* The k-th child (for maps: counts keys and values alike). */
uint32_t tes_cbor_child_at(const tes_cbor_doc *d, uint32_t i, uint32_t k);
/* The node after item i's subtree. Among siblings this is the next sibling;
 * after the last child it is the parent's own next, so loop while the result
 * is below the parent's `next` (see tes_cbor_child_at). */
static inline uint32_t tes_cbor_next(const tes_cbor_doc *d, uint32_t i) {
    return d->nodes[i].next;
}
/* Map look-up by text key or integer key; returns the value node or TES_CBOR_NONE. */
uint32_t tes_cbor_map_get_text(const tes_cbor_doc *d, uint32_t map, const char *key);
uint32_t tes_cbor_map_get_int(const tes_cbor_doc *d, uint32_t map, int64_t key);
/* Number of children of a container: items for arrays, pairs for maps. */
static inline uint64_t tes_cbor_count(const tes_cbor_doc *d, uint32_t i) {
    return d->nodes[i].val;
}
bool tes_cbor_is(const tes_cbor_doc *d, uint32_t i, tes_cbor_type t);
/* Integer value as int64 (UINT or NEGINT within range). */
bool tes_cbor_get_int(const tes_cbor_doc *d, uint32_t i, int64_t *out);
bool tes_cbor_text_eq(const tes_cbor_doc *d, uint32_t i, const char *s);
/* If node i is tag 24 wrapping a bstr, returns the bstr content (the embedded
 * CBOR bytes) and true. */
bool tes_cbor_tag24_content(const tes_cbor_doc *d, uint32_t i, tes_bytes *inner);

/* Cursor: reading a decoded document by its structure, as the CDDL reads
 * ("spiffy decode", after QCBOR). Enter a map or array, get members by key
 * or items in order with their type checked, exit, and check one status at
 * the end:
 *
 *     tes_cbor_cur c;
 *     tes_cbor_cur_init(&c, doc, node);
 *     tes_cbor_enter_map(&c);                  // MSO = {
 *     tes_cbor_text_in(&c, "version", &ver);   //   "version": tstr,
 *     tes_cbor_enter_map_in(&c, "valueDigests");
 *     while (tes_cbor_more(&c)) {              //   {+ NameSpace => ...}
 *         tes_cbor_next_text(&c, &ns);         //   a map's items alternate key, value
 *         tes_cbor_next_item(&c, &digests);
 *     }
 *     tes_cbor_exit_map(&c);
 *     tes_cbor_exit_map(&c);
 *     tes_err e = tes_cbor_cur_finish(&c);
 *
 * Errors are sticky: the first is kept (and set as the thread's error, see
 * tes_err_set), every later call does nothing and returns empty outputs
 * (empty bytes, 0, TES_CBOR_NONE), so a sequence of reads is checked once.
 * The errors:
 *   TES_ERR_CBOR_MISSING  a member asked for by key is absent, or the start node is absent
 *   TES_ERR_CBOR_END      an item is read past the end of the entered container
 *   TES_ERR_CBOR_TYPE     an item is not of the type asked for (an int beyond
 *                         int64, a tag other than 24(bstr) included)
 *   TES_ERR_CBOR_DUP_KEY  the key occurs twice (tes_cbor_parse refuses such maps;
 *                         this guards documents built otherwise)
 *   TES_ERR_CBOR_TOO_DEEP more than TES_CBOR_CUR_DEPTH containers entered
 *   TES_ERR_ARG           a by-key read or an exit with no map/array entered,
 *                         exit_map of an array (or the reverse), or (finish only)
 *                         a container left entered
 * Reading by key scans the entered map once (linear in its size) and does not
 * move the position of tes_cbor_next_*; entering by key enters that member.
 * The cursor borrows the document, allocates nothing and needs no freeing;
 * one cursor belongs to one thread. */
#define TES_CBOR_CUR_DEPTH 12
typedef struct tes_cbor_cur {
    const tes_cbor_doc *doc;
    tes_err err;      /* the first error, TES_OK while there is none */
    uint32_t depth;   /* containers entered; level 0 holds the start node alone */
    uint32_t node[TES_CBOR_CUR_DEPTH + 1]; /* the container entered at each level */
    uint32_t pos[TES_CBOR_CUR_DEPTH + 1];  /* its next unread item */
    uint32_t end[TES_CBOR_CUR_DEPTH + 1];  /* the node after its last item */
} tes_cbor_cur;

/* Starts at node (the item the first enter or next_* reads); TES_CBOR_NONE or
 * an index beyond the document sets TES_ERR_CBOR_MISSING. */
void tes_cbor_cur_init(tes_cbor_cur *c, const tes_cbor_doc *d, uint32_t node);
/* The first error so far (TES_OK when none). */
static inline tes_err tes_cbor_cur_error(const tes_cbor_cur *c) { return c->err; }
/* The final status: the first error, else TES_ERR_ARG if a container is still
 * entered, else TES_OK. */
TES_MUST_CHECK tes_err tes_cbor_cur_finish(tes_cbor_cur *c);

/* Entering the next item of the current level, or the member `key` of the
 * entered map; exiting the innermost entered container (of that kind). */
void tes_cbor_enter_map(tes_cbor_cur *c);
void tes_cbor_enter_array(tes_cbor_cur *c);
void tes_cbor_enter_map_in(tes_cbor_cur *c, const char *key);
void tes_cbor_enter_array_in(tes_cbor_cur *c, const char *key);
void tes_cbor_exit_map(tes_cbor_cur *c);
void tes_cbor_exit_array(tes_cbor_cur *c);

/* True while there is no error and the current level has unread items. */
bool tes_cbor_more(const tes_cbor_cur *c);
/* Items of the entered array, pairs of the entered map (0 at level 0 or after an error). */
uint64_t tes_cbor_items(const tes_cbor_cur *c);

/* The next item of the current level, type-checked (in a map: a key, then
 * its value). Text and byte strings point into the document's input. */
void tes_cbor_next_text(tes_cbor_cur *c, tes_bytes *out);
void tes_cbor_next_bytes(tes_cbor_cur *c, tes_bytes *out);
void tes_cbor_next_uint(tes_cbor_cur *c, uint64_t *out);
void tes_cbor_next_int(tes_cbor_cur *c, int64_t *out);   /* uint or negint within int64 */
void tes_cbor_next_bool(tes_cbor_cur *c, bool *out);
void tes_cbor_next_embedded(tes_cbor_cur *c, tes_bytes *out); /* 24(bstr): the bstr content */
void tes_cbor_next_item(tes_cbor_cur *c, uint32_t *node);  /* any type, skipped whole */

/* The member `key` (text) of the entered map, type-checked. */
bool tes_cbor_has(tes_cbor_cur *c, const char *key); /* present? never an error by absence */
void tes_cbor_text_in(tes_cbor_cur *c, const char *key, tes_bytes *out);
void tes_cbor_bytes_in(tes_cbor_cur *c, const char *key, tes_bytes *out);
void tes_cbor_uint_in(tes_cbor_cur *c, const char *key, uint64_t *out);
void tes_cbor_int_in(tes_cbor_cur *c, const char *key, int64_t *out);
void tes_cbor_bool_in(tes_cbor_cur *c, const char *key, bool *out);
void tes_cbor_embedded_in(tes_cbor_cur *c, const char *key, tes_bytes *out);
void tes_cbor_item_in(tes_cbor_cur *c, const char *key, uint32_t *node);
/* The member, a map or an array, as a node to walk later or hand on. */
void tes_cbor_map_in(tes_cbor_cur *c, const char *key, uint32_t *node);
void tes_cbor_array_in(tes_cbor_cur *c, const char *key, uint32_t *node);
/* The member whose text key is `key` (bytes read elsewhere, not NUL-terminated). */
void tes_cbor_item_in_text(tes_cbor_cur *c, tes_bytes key, uint32_t *node);
/* The member with integer key `key` of the entered map. */
void tes_cbor_bytes_in_int(tes_cbor_cur *c, int64_t key, tes_bytes *out);
void tes_cbor_item_in_int(tes_cbor_cur *c, int64_t key, uint32_t *node);

/* Encoder. Zero-initialise, or set `out` to a caller buffer to append to. */
typedef struct tes_cbor_enc {
    tes_buf *out;
    tes_err err;
} tes_cbor_enc;

void tes_cbor_enc_uint(tes_cbor_enc *e, uint64_t v);
void tes_cbor_enc_int(tes_cbor_enc *e, int64_t v);
void tes_cbor_enc_bytes(tes_cbor_enc *e, const void *p, size_t n);
void tes_cbor_enc_text(tes_cbor_enc *e, const char *s, size_t n);
void tes_cbor_enc_cstr(tes_cbor_enc *e, const char *s);
void tes_cbor_enc_array(tes_cbor_enc *e, size_t n);
void tes_cbor_enc_map(tes_cbor_enc *e, size_t n);
void tes_cbor_enc_tag(tes_cbor_enc *e, uint64_t tag);
void tes_cbor_enc_bool(tes_cbor_enc *e, bool v);
void tes_cbor_enc_null(tes_cbor_enc *e);
void tes_cbor_enc_float(tes_cbor_enc *e, double v); /* shortest exact form */
/* Appends already-encoded CBOR as-is. */
void tes_cbor_enc_raw(tes_cbor_enc *e, tes_bytes encoded);
/* Writes a byte-string head of n bytes and returns the offset in out where
 * the content starts (the caller appends exactly n bytes next). */
size_t tes_cbor_enc_bytes_head(tes_cbor_enc *e, size_t n);
/* Re-orders the definite-length map starting at byte offset `map_off` of
 * e->out (and ending at the current end) into deterministic key order.
 * Fails with TES_ERR_CBOR_DUP_KEY if two keys are equal. */
void tes_cbor_enc_sort_map(tes_cbor_enc *e, size_t map_off);
static inline size_t tes_cbor_enc_pos(const tes_cbor_enc *e) { return e->out->len; }
/* Raw heads, for writers that lay out bytes themselves (issuing signs the MSO
 * where it lies): the size of the shortest head for argument v, and writing
 * it for major type `major` (0x00 uint, 0x40 bstr, 0x60 tstr, 0x80 array,
 * 0xa0 map, 0xc0 tag) into p, which has room for 9 bytes; returns the size. */
static inline size_t tes_cbor_head_size(uint64_t v) {
    return v < 24 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffffu ? 5 : 9;
}
static inline size_t tes_cbor_put_head(uint8_t *p, uint8_t major, uint64_t v) {
    size_t n = tes_cbor_head_size(v);
    if (n == 1) {
        p[0] = (uint8_t)(major | v);
        return 1;
    }
    p[0] = (uint8_t)(major | (n == 2 ? 24 : n == 3 ? 25 : n == 5 ? 26 : 27));
    for (size_t i = 1; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}
/* Returns the first error (buffer failure included), TES_OK otherwise. */
TES_MUST_CHECK tes_err tes_cbor_enc_finish(tes_cbor_enc *e);

/* Renders CBOR diagnostic notation (RFC 8949 §8). With unwrap24, tag-24 byte
 * strings holding valid CBOR are rendered as 24(<<...>>) with their content. */
TES_MUST_CHECK tes_err tes_cbor_diag(tes_bytes input, bool unwrap24, tes_buf *out);

#ifdef __cplusplus
}
#endif
#endif
