/* CBOR diagnostic notation (RFC 8949 §8), for `tessera inspect`. */
#include <stdio.h>
#include <string.h>

#include "tessera/cbor.h"

static void puts_buf(tes_buf *o, const char *s)
{
    tes_buf_append(o, s, strlen(s));
}

static void indent(tes_buf *o, int level)
{
    tes_buf_append(o, "\n", 1);
    for (int i = 0; i < level; i++)
        tes_buf_append(o, "  ", 2);
}

static tes_err render(const tes_cbor_doc *d, uint32_t i, bool unwrap24, int level, tes_buf *o);

static void render_text(tes_buf *o, const uint8_t *s, size_t n)
{
    tes_buf_append(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        if (s[i] == '"' || s[i] == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", s[i]);
            puts_buf(o, esc);
        } else if (s[i] < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
            puts_buf(o, esc);
        } else {
            tes_buf_append(o, &s[i], 1);
        }
    }
    tes_buf_append(o, "\"", 1);
}

static tes_err render(const tes_cbor_doc *d, uint32_t i, bool unwrap24, int level, tes_buf *o)
{
    const tes_cbor_node *n = &d->nodes[i];
    char num[64];
    switch ((tes_cbor_type)n->type) {
    case TES_CBOR_UINT:
        snprintf(num, sizeof(num), "%llu", (unsigned long long)n->val);
        puts_buf(o, num);
        break;
    case TES_CBOR_NEGINT:
        if (n->val == UINT64_MAX)
            puts_buf(o, "-18446744073709551616");
        else {
            snprintf(num, sizeof(num), "-%llu", (unsigned long long)n->val + 1);
            puts_buf(o, num);
        }
        break;
    case TES_CBOR_BYTES:
        if (n->len > 64 && level > 0) {
            snprintf(num, sizeof(num), "h'");
            puts_buf(o, num);
            tes_hex_encode(o, TES_BYTES(n->data, 32));
            snprintf(num, sizeof(num), "...' /%zu bytes/", n->len);
            puts_buf(o, num);
        } else {
            puts_buf(o, "h'");
            tes_hex_encode(o, TES_BYTES(n->data, n->len));
            puts_buf(o, "'");
        }
        break;
    case TES_CBOR_TEXT:
        render_text(o, n->data, n->len);
        break;
    case TES_CBOR_ARRAY:
    case TES_CBOR_MAP: {
        bool map = n->type == TES_CBOR_MAP;
        puts_buf(o, map ? "{" : "[");
        if (n->indefinite)
            puts_buf(o, "_ ");
        uint32_t c = tes_cbor_child(d, i);
        bool first = true, key = true;
        while (c != TES_CBOR_NONE && c < n->next) {
            if (!map || key) {
                if (!first)
                    puts_buf(o, ",");
                indent(o, level + 1);
            }
            tes_err e = render(d, c, unwrap24, level + 1, o);
            if (e != TES_OK)
                return e;
            if (map && key)
                puts_buf(o, ": ");
            first = false;
            key = !key;
            c = d->nodes[c].next;
        }
        if (!first)
            indent(o, level);
        puts_buf(o, map ? "}" : "]");
        break;
    }
    case TES_CBOR_TAG: {
        snprintf(num, sizeof(num), "%llu(", (unsigned long long)n->val);
        puts_buf(o, num);
        tes_bytes inner;
        tes_cbor_doc sub;
        if (unwrap24 && tes_cbor_tag24_content(d, i, &inner) &&
            tes_cbor_parse(inner, NULL, &sub) == TES_OK) {
            puts_buf(o, "<< /embedded CBOR, ");
            snprintf(num, sizeof(num), "%zu bytes/ ", inner.len);
            puts_buf(o, num);
            tes_err e = render(&sub, 0, unwrap24, level, o);
            tes_cbor_doc_free(&sub);
            if (e != TES_OK)
                return e;
            puts_buf(o, " >>");
        } else {
            tes_err e = render(d, i + 1, unwrap24, level, o);
            if (e != TES_OK)
                return e;
        }
        puts_buf(o, ")");
        break;
    }
    case TES_CBOR_FALSE:
        puts_buf(o, "false");
        break;
    case TES_CBOR_TRUE:
        puts_buf(o, "true");
        break;
    case TES_CBOR_NULL:
        puts_buf(o, "null");
        break;
    case TES_CBOR_UNDEFINED:
        puts_buf(o, "undefined");
        break;
    case TES_CBOR_FLOAT:
        snprintf(num, sizeof(num), "%.17g", n->fval);
        if (!strpbrk(num, ".eni"))
            strcat(num, ".0");
        puts_buf(o, num);
        break;
    case TES_CBOR_SIMPLE:
        snprintf(num, sizeof(num), "simple(%llu)", (unsigned long long)n->val);
        puts_buf(o, num);
        break;
    }
    return TES_OK;
}

tes_err tes_cbor_diag(tes_bytes input, bool unwrap24, tes_buf *out)
{
    tes_cbor_doc d;
    tes_err e = tes_cbor_parse(input, NULL, &d);
    if (e != TES_OK)
        return e;
    e = render(&d, 0, unwrap24, 0, out);
    tes_buf_append(out, "\n", 1);
    tes_cbor_doc_free(&d);
    if (e == TES_OK && out->failed)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory rendering CBOR");
    return e;
}
