/* CBOR element values rendered as JSON for `tessera verify`. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static json_t *conv(const tes_cbor_doc *d, uint32_t i, const cli_json_opts *o);

static json_t *text_json(const uint8_t *p, size_t n)
{
    json_t *j = json_stringn((const char *)p, n);
    if (j == NULL)
        tes_err_set(TES_ERR_NOMEM, "cannot convert a text string to JSON");
    return j;
}

static json_t *bytes_json(const uint8_t *p, size_t n, const cli_json_opts *o)
{
    if (o->abbreviate_bytes && n > o->abbreviate_bytes) {
        char s[64];
        snprintf(s, sizeof(s), "<%zu bytes>", n);
        return json_string(s);
    }
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(p, n));
    json_t *j = b.failed ? NULL : json_stringn(b.len ? (const char *)b.ptr : "", b.len);
    tes_buf_free(&b);
    if (j == NULL)
        tes_err_set(TES_ERR_NOMEM, "cannot convert a byte string to JSON");
    return j;
}

/* Map key as a JSON object key: text as is, anything else in diagnostic notation. */
static bool key_text(const tes_cbor_doc *d, uint32_t k, tes_buf *out)
{
    const tes_cbor_node *n = &d->nodes[k];
    if (n->type == TES_CBOR_TEXT) {
        tes_buf_append(out, n->data, n->len);
    } else {
        if (tes_cbor_diag(tes_cbor_span(d, k), false, out) != TES_OK)
            return false;
        while (out->len > 0 && out->ptr[out->len - 1] == '\n')
            out->len--;
    }
    tes_buf_append(out, "", 1); /* NUL */
    return !out->failed;
}

static json_t *tagged(const tes_cbor_doc *d, uint32_t i, const cli_json_opts *o)
{
    const tes_cbor_node *n = &d->nodes[i];
    uint32_t c = tes_cbor_child(d, i);
    const tes_cbor_node *cn = tes_cbor_at(d, c);
    if (cn == NULL) {
        tes_err_set(TES_ERR_CBOR_INVALID, "tag %llu without content", (unsigned long long)n->val);
        return NULL;
    }
    /* Dates and date-times are shown as their text. */
    if ((n->val == 1004 || n->val == 0) && cn->type == TES_CBOR_TEXT)
        return text_json(cn->data, cn->len);
    int64_t v;
    /* 100(days since 1970) and 1(seconds since 1970), within years 0000..9999 */
    if ((n->val == 100 || n->val == 1) && tes_cbor_get_int(d, c, &v)) {
        int64_t secs = n->val == 100 ? (v > -800000 && v < 3000000 ? v * 86400 : INT64_MIN) : v;
        if (secs > -62167219200 && secs < 253402300800) {
            char t[21];
            tes_time_format(secs, t);
            if (n->val == 100)
                t[10] = '\0';
            return json_string(t);
        }
    }
    json_t *inner = conv(d, c, o);
    if (inner == NULL)
        return NULL;
    json_t *obj = json_object();
    if (obj == NULL || json_object_set_new(obj, "tag", json_integer((json_int_t)n->val)) != 0 ||
        json_object_set_new(obj, "value", inner) != 0) {
        json_decref(obj);
        tes_err_set(TES_ERR_NOMEM, "out of memory building JSON");
        return NULL;
    }
    return obj;
}

static json_t *conv(const tes_cbor_doc *d, uint32_t i, const cli_json_opts *o)
{
    const tes_cbor_node *n = &d->nodes[i];
    json_t *j = NULL;
    switch ((tes_cbor_type)n->type) {
    case TES_CBOR_UINT:
        j = n->val <= INT64_MAX ? json_integer((json_int_t)n->val) : json_real((double)n->val);
        break;
    case TES_CBOR_NEGINT:
        j = n->val <= INT64_MAX ? json_integer(-1 - (json_int_t)n->val)
                                : json_real(-1.0 - (double)n->val);
        break;
    case TES_CBOR_BYTES:
        return bytes_json(n->data, n->len, o);
    case TES_CBOR_TEXT:
        return text_json(n->data, n->len);
    case TES_CBOR_ARRAY: {
        j = json_array();
        for (uint32_t c = tes_cbor_child(d, i); j && c != TES_CBOR_NONE && c < n->next;
             c = tes_cbor_next(d, c)) {
            json_t *v = conv(d, c, o);
            if (v == NULL || json_array_append_new(j, v) != 0) {
                json_decref(j);
                return NULL;
            }
        }
        break;
    }
    case TES_CBOR_MAP: {
        j = json_object();
        uint32_t c = tes_cbor_child(d, i);
        while (j && c != TES_CBOR_NONE && c < n->next) {
            uint32_t vi = tes_cbor_next(d, c);
            tes_buf key = {0};
            json_t *v = key_text(d, c, &key) ? conv(d, vi, o) : NULL;
            if (v == NULL || json_object_set_new(j, (const char *)key.ptr, v) != 0) {
                tes_buf_free(&key);
                json_decref(j);
                return NULL;
            }
            tes_buf_free(&key);
            c = tes_cbor_next(d, vi);
        }
        break;
    }
    case TES_CBOR_TAG:
        return tagged(d, i, o);
    case TES_CBOR_FALSE:
        return json_false();
    case TES_CBOR_TRUE:
        return json_true();
    case TES_CBOR_NULL:
    case TES_CBOR_UNDEFINED:
        return json_null();
    case TES_CBOR_FLOAT:
        if (isnan(n->fval))
            j = json_string("NaN");
        else if (isinf(n->fval))
            j = json_string(n->fval > 0 ? "Infinity" : "-Infinity");
        else
            j = json_real(n->fval);
        break;
    case TES_CBOR_SIMPLE:
        j = json_pack("{sI}", "simple", (json_int_t)n->val);
        break;
    }
    if (j == NULL)
        tes_err_set(TES_ERR_NOMEM, "out of memory building JSON");
    return j;
}

json_t *cli_cbor_to_json(tes_bytes encoded, const cli_json_opts *o)
{
    static const cli_json_opts defaults = {0};
    tes_cbor_doc d;
    if (tes_cbor_parse(encoded, NULL, &d) != TES_OK)
        return NULL;
    json_t *j = conv(&d, 0, o ? o : &defaults);
    tes_cbor_doc_free(&d);
    return j;
}
