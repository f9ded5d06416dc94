/*
 * The cursor over a decoded document (tessera/cbor.h, "Cursor"): enter, get
 * by key or in order with the type checked, exit; the first error is kept.
 */
#include <string.h>

#include "tessera/cbor.h"

/* Records the first error; later ones are dropped (the first says what went wrong). */
#define FAIL(c, code, ...)                                                                         \
    do {                                                                                           \
        if ((c)->err == TES_OK)                                                                    \
            (c)->err = tes_err_set((code), __VA_ARGS__);                                           \
    } while (0)

void tes_cbor_cur_init(tes_cbor_cur *c, const tes_cbor_doc *d, uint32_t node)
{
    c->doc = d;
    c->err = TES_OK;
    c->depth = 0;
    c->node[0] = TES_CBOR_NONE;
    if (node >= d->count) {
        c->pos[0] = c->end[0] = 0;
        FAIL(c, TES_ERR_CBOR_MISSING, "CBOR cursor: no item to start at");
        return;
    }
    c->pos[0] = node;
    c->end[0] = d->nodes[node].next;
}

tes_err tes_cbor_cur_finish(tes_cbor_cur *c)
{
    if (c->err == TES_OK && c->depth != 0)
        FAIL(c, TES_ERR_ARG, "CBOR cursor: %u containers entered and not exited",
             (unsigned)c->depth);
    return c->err;
}

static const char *type_name(uint8_t t)
{
    static const char *const names[] = {"uint",      "negint", "bstr",        "tstr", "array",
                                        "map",       "tag",    "false",       "true", "null",
                                        "undefined", "float",  "simple value"};
    return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* The next item of the current level, advancing past it; TES_CBOR_NONE after an error. */
static uint32_t take(tes_cbor_cur *c)
{
    if (c->err != TES_OK)
        return TES_CBOR_NONE;
    uint32_t l = c->depth;
    if (c->pos[l] >= c->end[l]) {
        FAIL(c, TES_ERR_CBOR_END, "CBOR cursor: no more items in the %s",
             l == 0 ? "document" : type_name(c->doc->nodes[c->node[l]].type));
        return TES_CBOR_NONE;
    }
    uint32_t i = c->pos[l];
    c->pos[l] = c->doc->nodes[i].next;
    return i;
}

/* The entered map, or TES_CBOR_NONE (an error) when the innermost container is not one. */
static uint32_t entered_map(tes_cbor_cur *c)
{
    if (c->err != TES_OK)
        return TES_CBOR_NONE;
    if (c->depth == 0 || c->doc->nodes[c->node[c->depth]].type != TES_CBOR_MAP) {
        FAIL(c, TES_ERR_ARG, "CBOR cursor: a read by key needs an entered map");
        return TES_CBOR_NONE;
    }
    return c->node[c->depth];
}

/* A member key to look for: a text string or an integer, named at the call site. */
enum key_kind { KEY_TEXT, KEY_INT };
struct member_key {
    enum key_kind kind;
    tes_bytes text; /* KEY_TEXT */
    int64_t num;    /* KEY_INT */
};

/* The value of the member whose key is key. Scans the whole map, so a key
 * present twice is an error, not a silent pick. */
static uint32_t find(tes_cbor_cur *c, struct member_key key)
{
    tes_bytes text = key.text;
    int64_t ikey = key.num;
    uint32_t map = entered_map(c);
    if (map == TES_CBOR_NONE)
        return TES_CBOR_NONE;
    const tes_cbor_doc *d = c->doc;
    size_t tl = text.len;
    uint32_t found = TES_CBOR_NONE;
    for (uint32_t k = map + 1; k < d->nodes[map].next;) {
        const tes_cbor_node *kn = &d->nodes[k];
        uint32_t v = kn->next;
        bool hit;
        if (key.kind == KEY_TEXT)
            hit = kn->type == TES_CBOR_TEXT && kn->len == tl &&
                  (tl == 0 || memcmp(kn->data, text.ptr, tl) == 0);
        else if (ikey >= 0)
            hit = kn->type == TES_CBOR_UINT && kn->val == (uint64_t)ikey;
        else
            hit = kn->type == TES_CBOR_NEGINT && kn->val == (uint64_t)(-1 - ikey);
        if (hit && found != TES_CBOR_NONE) {
            FAIL(c, TES_ERR_CBOR_DUP_KEY, "CBOR cursor: the map at offset %u has a key twice",
                 d->nodes[map].off);
            return TES_CBOR_NONE;
        }
        if (hit)
            found = v;
        k = d->nodes[v].next;
    }
    return found;
}

static uint32_t member(tes_cbor_cur *c, const char *key)
{
    uint32_t v =
        find(c, (struct member_key){.kind = KEY_TEXT, .text = TES_BYTES(key, strlen(key))});
    if (v == TES_CBOR_NONE)
        FAIL(c, TES_ERR_CBOR_MISSING, "CBOR map has no member \"%s\"", key);
    return v;
}

static uint32_t member_int(tes_cbor_cur *c, int64_t key)
{
    uint32_t v = find(c, (struct member_key){.kind = KEY_INT, .num = key});
    if (v == TES_CBOR_NONE)
        FAIL(c, TES_ERR_CBOR_MISSING, "CBOR map has no member %lld", (long long)key);
    return v;
}

/* Node i (already taken or found) is of type t; false (an error) otherwise. */
static bool typed(tes_cbor_cur *c, uint32_t i, tes_cbor_type t)
{
    if (i == TES_CBOR_NONE)
        return false;
    uint8_t got = c->doc->nodes[i].type;
    if (got == t)
        return true;
    FAIL(c, TES_ERR_CBOR_TYPE, "CBOR item at offset %u is a %s, not a %s", c->doc->nodes[i].off,
         type_name(got), type_name(t));
    return false;
}

static void enter(tes_cbor_cur *c, uint32_t i, tes_cbor_type t)
{
    if (!typed(c, i, t))
        return;
    if (c->depth == TES_CBOR_CUR_DEPTH) {
        FAIL(c, TES_ERR_CBOR_TOO_DEEP, "CBOR cursor: more than %d containers entered",
             TES_CBOR_CUR_DEPTH);
        return;
    }
    uint32_t l = ++c->depth;
    c->node[l] = i;
    c->pos[l] = i + 1;
    c->end[l] = c->doc->nodes[i].next;
}

void tes_cbor_enter_map(tes_cbor_cur *c)
{
    enter(c, take(c), TES_CBOR_MAP);
}
void tes_cbor_enter_array(tes_cbor_cur *c)
{
    enter(c, take(c), TES_CBOR_ARRAY);
}
void tes_cbor_enter_map_in(tes_cbor_cur *c, const char *key)
{
    enter(c, member(c, key), TES_CBOR_MAP);
}
void tes_cbor_enter_array_in(tes_cbor_cur *c, const char *key)
{
    enter(c, member(c, key), TES_CBOR_ARRAY);
}

static void exit_level(tes_cbor_cur *c, tes_cbor_type t)
{
    if (c->err != TES_OK)
        return;
    if (c->depth == 0 || c->doc->nodes[c->node[c->depth]].type != t) {
        FAIL(c, TES_ERR_ARG, "CBOR cursor: exit of a %s that is not the innermost entered one",
             type_name(t));
        return;
    }
    c->depth--;
}

void tes_cbor_exit_map(tes_cbor_cur *c)
{
    exit_level(c, TES_CBOR_MAP);
}
void tes_cbor_exit_array(tes_cbor_cur *c)
{
    exit_level(c, TES_CBOR_ARRAY);
}

bool tes_cbor_more(const tes_cbor_cur *c)
{
    return c->err == TES_OK && c->pos[c->depth] < c->end[c->depth];
}

uint64_t tes_cbor_items(const tes_cbor_cur *c)
{
    if (c->err != TES_OK || c->depth == 0)
        return 0;
    return c->doc->nodes[c->node[c->depth]].val;
}

/* ---- typed reads of a node already located (by position or by key) */

static void read_str(tes_cbor_cur *c, uint32_t i, tes_cbor_type t, tes_bytes *out)
{
    *out = TES_BYTES(NULL, 0);
    if (typed(c, i, t))
        *out = TES_BYTES(c->doc->nodes[i].data, c->doc->nodes[i].len);
}

static void read_uint(tes_cbor_cur *c, uint32_t i, uint64_t *out)
{
    *out = 0;
    if (typed(c, i, TES_CBOR_UINT))
        *out = c->doc->nodes[i].val;
}

static void read_int(tes_cbor_cur *c, uint32_t i, int64_t *out)
{
    *out = 0;
    if (i == TES_CBOR_NONE)
        return;
    if (!tes_cbor_get_int(c->doc, i, out))
        FAIL(c, TES_ERR_CBOR_TYPE, "CBOR item at offset %u is not an integer within int64",
             c->doc->nodes[i].off);
}

static void read_bool(tes_cbor_cur *c, uint32_t i, bool *out)
{
    *out = false;
    if (i == TES_CBOR_NONE)
        return;
    uint8_t t = c->doc->nodes[i].type;
    if (t == TES_CBOR_TRUE || t == TES_CBOR_FALSE)
        *out = t == TES_CBOR_TRUE;
    else
        FAIL(c, TES_ERR_CBOR_TYPE, "CBOR item at offset %u is a %s, not a bool",
             c->doc->nodes[i].off, type_name(t));
}

static void read_embedded(tes_cbor_cur *c, uint32_t i, tes_bytes *out)
{
    *out = TES_BYTES(NULL, 0);
    if (i != TES_CBOR_NONE && !tes_cbor_tag24_content(c->doc, i, out))
        FAIL(c, TES_ERR_CBOR_TYPE, "CBOR item at offset %u is not 24(bstr)", c->doc->nodes[i].off);
}

void tes_cbor_next_text(tes_cbor_cur *c, tes_bytes *out)
{
    read_str(c, take(c), TES_CBOR_TEXT, out);
}
void tes_cbor_next_bytes(tes_cbor_cur *c, tes_bytes *out)
{
    read_str(c, take(c), TES_CBOR_BYTES, out);
}
void tes_cbor_next_uint(tes_cbor_cur *c, uint64_t *out)
{
    read_uint(c, take(c), out);
}
void tes_cbor_next_int(tes_cbor_cur *c, int64_t *out)
{
    read_int(c, take(c), out);
}
void tes_cbor_next_bool(tes_cbor_cur *c, bool *out)
{
    read_bool(c, take(c), out);
}
void tes_cbor_next_embedded(tes_cbor_cur *c, tes_bytes *out)
{
    read_embedded(c, take(c), out);
}
void tes_cbor_next_item(tes_cbor_cur *c, uint32_t *node)
{
    *node = take(c);
}

bool tes_cbor_has(tes_cbor_cur *c, const char *key)
{
    return find(c, (struct member_key){.kind = KEY_TEXT, .text = TES_BYTES(key, strlen(key))}) !=
           TES_CBOR_NONE;
}
void tes_cbor_text_in(tes_cbor_cur *c, const char *key, tes_bytes *out)
{
    read_str(c, member(c, key), TES_CBOR_TEXT, out);
}
void tes_cbor_bytes_in(tes_cbor_cur *c, const char *key, tes_bytes *out)
{
    read_str(c, member(c, key), TES_CBOR_BYTES, out);
}
void tes_cbor_uint_in(tes_cbor_cur *c, const char *key, uint64_t *out)
{
    read_uint(c, member(c, key), out);
}
void tes_cbor_int_in(tes_cbor_cur *c, const char *key, int64_t *out)
{
    read_int(c, member(c, key), out);
}
void tes_cbor_bool_in(tes_cbor_cur *c, const char *key, bool *out)
{
    read_bool(c, member(c, key), out);
}
void tes_cbor_embedded_in(tes_cbor_cur *c, const char *key, tes_bytes *out)
{
    read_embedded(c, member(c, key), out);
}
void tes_cbor_item_in(tes_cbor_cur *c, const char *key, uint32_t *node)
{
    *node = member(c, key);
}

static void read_container(tes_cbor_cur *c, uint32_t i, tes_cbor_type t, uint32_t *node)
{
    *node = typed(c, i, t) ? i : TES_CBOR_NONE;
}

void tes_cbor_map_in(tes_cbor_cur *c, const char *key, uint32_t *node)
{
    read_container(c, member(c, key), TES_CBOR_MAP, node);
}
void tes_cbor_array_in(tes_cbor_cur *c, const char *key, uint32_t *node)
{
    read_container(c, member(c, key), TES_CBOR_ARRAY, node);
}

void tes_cbor_item_in_text(tes_cbor_cur *c, tes_bytes key, uint32_t *node)
{
    *node = find(c, (struct member_key){.kind = KEY_TEXT, .text = key});
    if (*node == TES_CBOR_NONE) {
        char shown[64];
        tes_text_printable(shown, sizeof(shown), key);
        FAIL(c, TES_ERR_CBOR_MISSING, "CBOR map has no member \"%s\"", shown);
    }
}
void tes_cbor_bytes_in_int(tes_cbor_cur *c, int64_t key, tes_bytes *out)
{
    read_str(c, member_int(c, key), TES_CBOR_BYTES, out);
}
void tes_cbor_item_in_int(tes_cbor_cur *c, int64_t key, uint32_t *node)
{
    *node = member_int(c, key);
}
