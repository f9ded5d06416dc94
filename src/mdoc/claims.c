/*
 * Claims JSON -> per-element CBOR values, checked against a doctype table.
 *
 * Input: {"namespace": {"element": value, ...}, ...}. Elements of the
 * doctype's own namespace must be in its table and fit the element's type;
 * mandatory elements must be present. Elements of other namespaces take any
 * value through the generic conversion:
 *   string  -> tstr, except a member whose key ends in "_date" holding a
 *              valid "YYYY-MM-DD", which becomes 1004("YYYY-MM-DD")
 *   integer -> int, real -> float, true/false/null
 *   array   -> array, object -> map with deterministically sorted keys,
 *   except an object of exactly {"file": "path"} or {"b64u": "text"} -> bstr.
 * The output is sorted by namespace, then element name (strcmp order), so the
 * same JSON always yields the same claims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/mdoc.h"

#define CLAIMS_MAX_ELEMS 10000
#define CLAIMS_MAX_DEPTH 16
#define CLAIMS_MAX_FILE (16u << 20)

#define TAG_TDATE 0
#define TAG_FULL_DATE 1004

/* What an error message needs to say where it happened. */
typedef struct conv {
    const char *ns;
    const char *elem;
    const char *base_dir;
} conv;

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static tes_err type_error(const conv *c, const char *expected, const json_t *v)
{
    char got[80];
    switch (json_typeof(v)) {
    case JSON_STRING:
        snprintf(got, sizeof(got), "the string \"%.40s%s\"", json_string_value(v),
                 json_string_length(v) > 40 ? "..." : "");
        break;
    case JSON_INTEGER:
        snprintf(got, sizeof(got), "the integer %lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(got, sizeof(got), "the number %g", json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        snprintf(got, sizeof(got), "%s", json_is_true(v) ? "true" : "false");
        break;
    case JSON_NULL:
        snprintf(got, sizeof(got), "null");
        break;
    case JSON_ARRAY:
        snprintf(got, sizeof(got), "an array");
        break;
    default:
        snprintf(got, sizeof(got), "an object");
        break;
    }
    return tes_err_set(TES_ERR_CLAIMS,
                       "element '%.128s' in namespace '%.128s': expected %s, got %s", c->elem,
                       c->ns, expected, got);
}

/* Re-reports the calling thread's last error with the element named.
 * Malformed text becomes TES_ERR_CLAIMS; I/O and memory failures keep their code. */
static tes_err wrap_error(const conv *c, tes_err code, const char *what)
{
    char inner[256];
    snprintf(inner, sizeof(inner), "%s", tes_err_message()); /* copy: tes_err_set overwrites */
    if (code == TES_ERR_ENCODING)
        code = TES_ERR_CLAIMS;
    return tes_err_set(code, "element '%.128s' in namespace '%.128s': %s: %s", c->elem, c->ns, what,
                       inner);
}

/* If v is exactly {"file": "..."} or {"b64u": "..."}, returns that key and the text. */
static const char *bstr_object(json_t *v, json_t **text)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return NULL;
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        if ((strcmp(key, "file") == 0 || strcmp(key, "b64u") == 0) && json_is_string(val)) {
            *text = val;
            return key;
        }
    }
    return NULL;
}

/* Writes a bstr from base64url text (kind "b64u") or a file's content (kind "file"). */
static tes_err enc_bstr_from(const conv *c, tes_cbor_enc *e, const char *kind, json_t *text)
{
    const char *s = json_string_value(text);
    size_t n = json_string_length(text);
    tes_buf data = {0};
    tes_err err;
    if (strcmp(kind, "b64u") == 0) {
        err = tes_b64url_decode(&data, s, n);
        if (err != TES_OK)
            err = wrap_error(c, err, "bad base64url");
    } else {
        if (n == 0 || strlen(s) != n)
            return tes_err_set(TES_ERR_CLAIMS,
                               "element '%.128s' in namespace '%.128s': empty or invalid file path",
                               c->elem, c->ns);
        char *joined = NULL;
        const char *path = s;
        if (s[0] != '/' && c->base_dir != NULL && c->base_dir[0] != '\0') {
            size_t bl = strlen(c->base_dir);
            joined = malloc(bl + 1 + n + 1);
            if (joined == NULL)
                return tes_err_set(TES_ERR_NOMEM, "out of memory");
            memcpy(joined, c->base_dir, bl);
            joined[bl] = '/';
            memcpy(joined + bl + 1, s, n + 1);
            path = joined;
        }
        err = tes_file_read(path, CLAIMS_MAX_FILE, &data);
        free(joined);
        if (err != TES_OK)
            err = wrap_error(c, err, "cannot read file");
    }
    if (err == TES_OK)
        tes_cbor_enc_bytes(e, data.ptr, data.len);
    tes_buf_free(&data);
    return err;
}

/* Writes 0("YYYY-MM-DDThh:mm:ssZ") for an RFC 3339 date-time (normalised to
 * UTC, fraction dropped); false if s is not one. */
static bool enc_date_time(tes_cbor_enc *e, const char *s, size_t n)
{
    int64_t t;
    if (tes_time_parse(s, n, false, &t) != TES_OK)
        return false;
    char text[21];
    tes_time_format(t, text);
    if (strcmp(text, "0000-00-00T00:00:00Z") == 0) /* year outside 0000..9999 after shifting */
        return false;
    tes_cbor_enc_tag(e, TAG_TDATE);
    tes_cbor_enc_text(e, text, 20);
    return true;
}

static void enc_full_date(tes_cbor_enc *e, const char *s)
{
    tes_cbor_enc_tag(e, TAG_FULL_DATE);
    tes_cbor_enc_text(e, s, 10);
}

/* Generic conversion. key is the member name v sits under (NULL in arrays);
 * depth counts containers, the element's value being at depth 1. bstr_obj
 * enables the {"file"}/{"b64u"} rule for an object v. */
static tes_err enc_generic(const conv *c, tes_cbor_enc *e, const char *key, json_t *v,
                           unsigned depth, bool bstr_obj)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (key != NULL && ends_with(key, "_date") && n == 10 && tes_date_valid(s, n))
            enc_full_date(e, s);
        else
            tes_cbor_enc_text(e, s, n);
        return TES_OK;
    }
    case JSON_INTEGER:
        tes_cbor_enc_int(e, (int64_t)json_integer_value(v));
        return TES_OK;
    case JSON_REAL:
        tes_cbor_enc_float(e, json_real_value(v));
        return TES_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        tes_cbor_enc_bool(e, json_is_true(v));
        return TES_OK;
    case JSON_NULL:
        tes_cbor_enc_null(e);
        return TES_OK;
    default:
        break;
    }

    json_t *text;
    const char *kind = bstr_obj ? bstr_object(v, &text) : NULL;
    if (kind != NULL)
        return enc_bstr_from(c, e, kind, text);
    if (depth > CLAIMS_MAX_DEPTH)
        return tes_err_set(TES_ERR_CLAIMS,
                           "element '%.128s' in namespace '%.128s': value nested deeper than %d "
                           "levels",
                           c->elem, c->ns, CLAIMS_MAX_DEPTH);
    tes_err err = TES_OK;
    if (json_is_array(v)) {
        tes_cbor_enc_array(e, json_array_size(v));
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            err = enc_generic(c, e, NULL, item, depth + 1, true);
            if (err != TES_OK)
                return err;
        }
        return TES_OK;
    }
    size_t map_off = e->out->len;
    tes_cbor_enc_map(e, json_object_size(v));
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        tes_cbor_enc_text(e, k, strlen(k));
        err = enc_generic(c, e, k, val, depth + 1, true);
        if (err != TES_OK)
            return err;
    }
    tes_cbor_enc_sort_map(e, map_off);
    return TES_OK;
}

/* Conversion of an element of the doctype's own namespace. */
static tes_err enc_typed(const conv *c, tes_cbor_enc *e, const tes_elem_def *d, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s != NULL ? json_string_length(v) : 0;
    switch (d->type) {
    case TES_ELEM_TSTR:
        if (s == NULL)
            return type_error(c, "tstr (a JSON string)", v);
        tes_cbor_enc_text(e, s, n);
        return TES_OK;
    case TES_ELEM_BSTR: {
        json_t *text = NULL;
        const char *kind = s != NULL ? "b64u" : bstr_object(v, &text);
        if (kind == NULL)
            return type_error(c, "bstr (base64url text, {\"file\": path} or {\"b64u\": text})", v);
        return enc_bstr_from(c, e, kind, s != NULL ? v : text);
    }
    case TES_ELEM_UINT:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return type_error(c, "uint (a non-negative integer)", v);
        tes_cbor_enc_uint(e, (uint64_t)json_integer_value(v));
        return TES_OK;
    case TES_ELEM_INT:
        if (!json_is_integer(v))
            return type_error(c, "int (an integer)", v);
        tes_cbor_enc_int(e, (int64_t)json_integer_value(v));
        return TES_OK;
    case TES_ELEM_BOOL:
        if (!json_is_boolean(v))
            return type_error(c, "bool (true or false)", v);
        tes_cbor_enc_bool(e, json_is_true(v));
        return TES_OK;
    case TES_ELEM_FULL_DATE:
        if (s != NULL && n == 10 && tes_date_valid(s, n)) {
            enc_full_date(e, s);
            return TES_OK;
        }
        if (s == NULL || !enc_date_time(e, s, n))
            return type_error(c, "full-date (\"YYYY-MM-DD\" or an RFC 3339 date-time)", v);
        return TES_OK;
    case TES_ELEM_TDATE:
        if (s == NULL || !enc_date_time(e, s, n))
            return type_error(c, "tdate (an RFC 3339 date-time)", v);
        return TES_OK;
    case TES_ELEM_ARRAY:
        if (!json_is_array(v))
            return type_error(c, "array", v);
        return enc_generic(c, e, c->elem, v, 1, true);
    case TES_ELEM_MAP:
        if (!json_is_object(v))
            return type_error(c, "map (a JSON object)", v);
        return enc_generic(c, e, c->elem, v, 1, false); /* a map even if it looks like {"file"} */
    case TES_ELEM_ANY:
        return enc_generic(c, e, c->elem, v, 1, true);
    }
    return tes_err_set(TES_ERR_CLAIMS, "element '%.128s': doctype table gives an unknown type %d",
                       c->elem, (int)d->type);
}

/* Sorted member names of obj (borrowed from obj); *keys is NULL when empty. */
static tes_err sorted_keys(json_t *obj, const char ***keys)
{
    size_t n = json_object_size(obj), i = 0;
    *keys = NULL;
    if (n == 0)
        return TES_OK;
    const char **k = malloc(n * sizeof(*k));
    if (k == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        k[i++] = key;
    }
    qsort(k, n, sizeof(*k), cmp_cstr);
    *keys = k;
    return TES_OK;
}

/* Converts one element and appends it to out (out->items has room). */
static tes_err add_claim(const tes_doctype *t, const char *ns, const char *name, json_t *v,
                         const char *base_dir, bool *seen, tes_mdoc_claims *out)
{
    conv c = {ns, name, base_dir};
    if (name[0] == '\0')
        return tes_err_set(TES_ERR_CLAIMS, "empty element name in namespace '%.128s'", ns);
    const tes_elem_def *def = NULL;
    bool own = strcmp(ns, t->ns) == 0;
    if (own) {
        def = tes_doctype_elem(t, name);
        if (def == NULL)
            return tes_err_set(
                TES_ERR_CLAIMS,
                "unknown element '%.128s' in namespace '%.128s' for doctype '%.128s'", name, ns,
                t->doctype);
        seen[def - t->elems] = true;
    }
    tes_mdoc_claim *cl = &out->items[out->n++];
    cl->ns = strdup(ns);
    cl->name = strdup(name);
    if (cl->ns == NULL || cl->name == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    tes_cbor_enc e = {.out = &cl->value};
    tes_err err = own ? enc_typed(&c, &e, def, v) : enc_generic(&c, &e, name, v, 1, true);
    if (err == TES_OK)
        err = tes_cbor_enc_finish(&e);
    return err;
}

static tes_err convert(const tes_doctype *t, json_t *root, const char *base_dir, bool *seen,
                       tes_mdoc_claims *out)
{
    if (!json_is_object(root))
        return tes_err_set(
            TES_ERR_CLAIMS,
            "claims must be a JSON object of namespaces {\"ns\": {\"element\": value}}");
    size_t total = 0;
    const char *ns;
    json_t *elems;
    json_object_foreach(root, ns, elems)
    {
        if (ns[0] == '\0')
            return tes_err_set(TES_ERR_CLAIMS, "empty namespace name in claims");
        if (!json_is_object(elems))
            return tes_err_set(TES_ERR_CLAIMS, "namespace '%.128s' is not a JSON object", ns);
        total += json_object_size(elems);
        if (total > CLAIMS_MAX_ELEMS)
            return tes_err_set(TES_ERR_CLAIMS, "more than %d elements in claims", CLAIMS_MAX_ELEMS);
    }
    if (total > 0) {
        out->items = calloc(total, sizeof(*out->items));
        if (out->items == NULL)
            return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }

    const char **ns_keys;
    tes_err err = sorted_keys(root, &ns_keys);
    for (size_t i = 0; err == TES_OK && i < json_object_size(root); i++) {
        json_t *obj = json_object_get(root, ns_keys[i]);
        const char **names;
        err = sorted_keys(obj, &names);
        for (size_t j = 0; err == TES_OK && j < json_object_size(obj); j++)
            err = add_claim(t, ns_keys[i], names[j], json_object_get(obj, names[j]), base_dir, seen,
                            out);
        free(names);
    }
    free(ns_keys);
    if (err != TES_OK)
        return err;

    for (size_t i = 0; i < t->n_elems; i++)
        if (t->elems[i].mandatory && !seen[i])
            return tes_err_set(TES_ERR_CLAIMS,
                               "mandatory element '%.128s' missing from namespace '%.128s' for "
                               "doctype '%.128s'",
                               t->elems[i].name, t->ns, t->doctype);
    return TES_OK;
}

tes_err tes_mdoc_claims_from_json(const tes_doctype *t, const char *json, size_t len,
                                  const char *base_dir, tes_mdoc_claims *out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_mdoc_claims_from_json: out is NULL");
    *out = (tes_mdoc_claims){0};
    if (t == NULL || t->ns == NULL || t->doctype == NULL || json == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_mdoc_claims_from_json: doctype or json is NULL");

    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return tes_err_set(TES_ERR_JSON, "claims are not valid JSON: %s (line %d, column %d)",
                           jerr.text, jerr.line, jerr.column);
    bool *seen = calloc(t->n_elems + 1, sizeof(*seen));
    tes_err err = seen == NULL ? tes_err_set(TES_ERR_NOMEM, "out of memory")
                               : convert(t, root, base_dir, seen, out);
    free(seen);
    json_decref(root);
    if (err != TES_OK)
        tes_mdoc_claims_free(out);
    return err;
}

void tes_mdoc_claims_free(tes_mdoc_claims *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].ns);
        free(c->items[i].name);
        tes_buf_free(&c->items[i].value);
    }
    free(c->items);
    *c = (tes_mdoc_claims){0};
}
