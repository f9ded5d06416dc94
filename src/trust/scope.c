/*
 * Reader scope: the elements a reader authority allows a reader to ask for,
 * carried in its certificate as a non-critical extension (TES_OID_READER_SCOPE)
 * whose value is a DER OCTET STRING holding the CBOR map
 *     {"purpose": tstr, "elements": [tstr "namespace/element", ...]}.
 *
 * The extension is read from a certificate whose chain has been validated,
 * but it is still parsed strictly and bounded: exactly those two keys, a
 * minimal DER length, no trailing bytes, every element "ns/name" with both
 * parts non-empty and no NUL.
 */
#include "trust_internal.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/cbor.h"

#define SCOPE_MAX_BYTES 16384 /* the whole extension value */
#define SCOPE_MAX_ELEMENTS 256
#define SCOPE_MAX_STRING 255 /* purpose and each "ns/element" */

static const tes_cbor_limits scope_limits = {
    .max_input = SCOPE_MAX_BYTES, .max_depth = 4, .max_items = 2 * SCOPE_MAX_ELEMENTS + 8};

/* "ns/name" with both parts non-empty, bounded, no NUL. */
static bool element_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || n > SCOPE_MAX_STRING || memchr(p, '\0', n) != NULL)
        return false;
    const uint8_t *slash = memchr(p, '/', n);
    return slash != NULL && slash != p && slash != p + n - 1;
}

tes_err tes_reader_scope_encode(const char *purpose, const char *const *elements, size_t n,
                                tes_buf *der)
{
    if (purpose == NULL || der == NULL || (n > 0 && elements == NULL))
        return tes_err_set(TES_ERR_ARG, "reader scope: NULL argument");
    if (strlen(purpose) > SCOPE_MAX_STRING)
        return tes_err_set(TES_ERR_ARG, "reader scope: purpose longer than %d bytes",
                           SCOPE_MAX_STRING);
    if (n > SCOPE_MAX_ELEMENTS)
        return tes_err_set(TES_ERR_ARG, "reader scope: more than %d elements", SCOPE_MAX_ELEMENTS);
    for (size_t i = 0; i < n; i++)
        if (elements[i] == NULL || !element_ok((const uint8_t *)elements[i], strlen(elements[i])))
            return tes_err_set(TES_ERR_ARG,
                               "reader scope: element %zu is not \"namespace/element\"", i);

    tes_buf cbor = {0};
    tes_cbor_enc e = {.out = &cbor};
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "purpose");
    tes_cbor_enc_cstr(&e, purpose);
    tes_cbor_enc_cstr(&e, "elements");
    tes_cbor_enc_array(&e, n);
    for (size_t i = 0; i < n; i++)
        tes_cbor_enc_cstr(&e, elements[i]);
    tes_cbor_enc_sort_map(&e, 0);
    tes_err err = tes_cbor_enc_finish(&e);
    if (err == TES_OK && cbor.len > SCOPE_MAX_BYTES - 4)
        err = tes_err_set(TES_ERR_ARG, "reader scope: encoding longer than %d bytes",
                          SCOPE_MAX_BYTES);
    if (err == TES_OK) {
        /* DER OCTET STRING: tag 04, minimal definite length. */
        uint8_t head[4] = {0x04};
        size_t hl;
        if (cbor.len < 0x80) {
            head[1] = (uint8_t)cbor.len;
            hl = 2;
        } else if (cbor.len < 0x100) {
            head[1] = 0x81;
            head[2] = (uint8_t)cbor.len;
            hl = 3;
        } else {
            head[1] = 0x82;
            head[2] = (uint8_t)(cbor.len >> 8);
            head[3] = (uint8_t)cbor.len;
            hl = 4;
        }
        tes_buf_append(der, head, hl);
        tes_buf_append(der, cbor.ptr, cbor.len);
        if (der->failed)
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    tes_buf_free(&cbor);
    return err;
}

/* The content of a DER OCTET STRING spanning all of in (minimal length form). */
static bool der_octet_string(tes_bytes in, tes_bytes *content)
{
    if (in.len < 2 || in.ptr[0] != 0x04)
        return false;
    size_t len, hl;
    uint8_t l0 = in.ptr[1];
    if (l0 < 0x80) {
        len = l0;
        hl = 2;
    } else if (l0 == 0x81 && in.len >= 3 && in.ptr[2] >= 0x80) {
        len = in.ptr[2];
        hl = 3;
    } else if (l0 == 0x82 && in.len >= 4 && in.ptr[2] != 0) {
        len = (size_t)in.ptr[2] << 8 | in.ptr[3];
        hl = 4;
    } else {
        return false; /* indefinite, non-minimal or longer than we accept */
    }
    if (in.len - hl != len)
        return false;
    *content = TES_BYTES(in.ptr + hl, len);
    return true;
}

tes_err tes_reader_scope_from_cert(const tes_cert *c, tes_reader_scope *out)
{
    if (c == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "reader scope: NULL argument");
    *out = (tes_reader_scope){0};
    const char *who = tes_cert_get_info(c)->subject;
    tes_bytes value, inner;
    bool critical = false;
    tes_err e = tes_cert_extension(c, TES_OID_READER_SCOPE, &value, &critical);
    if (e == TES_ERR_NOT_FOUND)
        return tes_err_set(TES_ERR_NOT_FOUND, "reader certificate '%s' carries no scope", who);
    if (e != TES_OK)
        return e;
    if (value.len > SCOPE_MAX_BYTES || !der_octet_string(value, &inner))
        return tes_err_set(TES_ERR_READER_PROFILE,
                           "reader certificate '%s': scope extension is not a DER OCTET STRING "
                           "of at most %d bytes",
                           who, SCOPE_MAX_BYTES);
    tes_cbor_doc d;
    e = tes_cbor_parse(inner, &scope_limits, &d);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_READER_PROFILE,
                           "reader certificate '%s': scope is not one CBOR item (%s)", who,
                           tes_err_message());
    uint32_t pu = tes_cbor_map_get_text(&d, 0, "purpose");
    uint32_t el = tes_cbor_map_get_text(&d, 0, "elements");
    if (!tes_cbor_is(&d, 0, TES_CBOR_MAP) || tes_cbor_count(&d, 0) != 2 ||
        !tes_cbor_is(&d, pu, TES_CBOR_TEXT) || !tes_cbor_is(&d, el, TES_CBOR_ARRAY)) {
        e = tes_err_set(TES_ERR_READER_PROFILE,
                        "reader certificate '%s': scope must be exactly {\"purpose\": text, "
                        "\"elements\": [text, ...]}",
                        who);
        goto out;
    }
    if (d.nodes[pu].len > SCOPE_MAX_STRING || memchr(d.nodes[pu].data, '\0', d.nodes[pu].len)) {
        e = tes_err_set(TES_ERR_READER_PROFILE,
                        "reader certificate '%s': scope purpose too long or holds NUL", who);
        goto out;
    }
    size_t n = (size_t)tes_cbor_count(&d, el);
    if (n > SCOPE_MAX_ELEMENTS) {
        e = tes_err_set(TES_ERR_READER_PROFILE,
                        "reader certificate '%s': scope lists more than %d elements", who,
                        SCOPE_MAX_ELEMENTS);
        goto out;
    }
    out->purpose = tes_bytes_cstr(TES_BYTES(d.nodes[pu].data, d.nodes[pu].len));
    out->elements = calloc(n ? n : 1, sizeof(char *));
    if (out->purpose == NULL || out->elements == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    uint32_t k = tes_cbor_child(&d, el);
    for (size_t i = 0; i < n; i++, k = tes_cbor_next(&d, k)) {
        const tes_cbor_node *x = &d.nodes[k];
        if (x->type != TES_CBOR_TEXT || !element_ok(x->data, x->len)) {
            e = tes_err_set(TES_ERR_READER_PROFILE,
                            "reader certificate '%s': scope element %zu is not "
                            "\"namespace/element\"",
                            who, i);
            goto out;
        }
        if ((out->elements[i] = tes_bytes_cstr(TES_BYTES(x->data, x->len))) == NULL) {
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
            goto out;
        }
        out->n = i + 1;
    }
out:
    tes_cbor_doc_free(&d);
    if (e != TES_OK)
        tes_reader_scope_free(out);
    return e;
}

/* NN of "age_over_NN" (two digits), else -1. */
static int age_over_nn(const uint8_t *p, size_t n)
{
    static const char pre[] = "age_over_";
    if (n != sizeof(pre) + 1 || memcmp(p, pre, sizeof(pre) - 1) != 0)
        return -1;
    uint8_t a = p[sizeof(pre) - 1], b = p[sizeof(pre)];
    if (a < '0' || a > '9' || b < '0' || b > '9')
        return -1;
    return (a - '0') * 10 + (b - '0');
}

bool tes_reader_scope_allows(const tes_reader_scope *s, tes_bytes ns, tes_bytes element)
{
    if (s == NULL || ns.len == 0 || element.len == 0)
        return false;
    bool is_age = age_over_nn(element.ptr, element.len) >= 0;
    for (size_t i = 0; i < s->n; i++) {
        const char *x = s->elements[i];
        size_t xl = strlen(x);
        if (xl != ns.len + 1 + element.len || memcmp(x, ns.ptr, ns.len) != 0 || x[ns.len] != '/')
            continue;
        const char *name = x + ns.len + 1;
        if (memcmp(name, element.ptr, element.len) == 0)
            return true;
        if (is_age && memcmp(name, "age_over_NN", sizeof("age_over_NN") - 1) == 0)
            return true;
    }
    return false;
}

void tes_reader_scope_free(tes_reader_scope *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->elements[i]);
    free(s->elements);
    free(s->purpose);
    *s = (tes_reader_scope){0};
}
