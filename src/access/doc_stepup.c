/*
 * The step-up phase's messages (inside the ENVELOPE's secure channel): the
 * reader's DeviceRequest for the access and/or revocation document, written
 * with text keys as the public reader writes it and read with integer or text
 * keys, and the device's DeviceResponse carrying the Documents verbatim.
 */
#include <string.h>

#include "doc_internal.h"

#define FMT(...) tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, __VA_ARGS__)

#define MAX_DOC_REQUESTS 8
#define MAX_NAMESPACES 8
#define MAX_ELEMENTS 32

static const tes_cbor_limits request_limits = {
    .max_input = TES_ACCESS_REQUEST_MAX, .max_depth = 8, .max_items = 1024};
static const tes_cbor_limits response_limits = {
    .max_input = TES_ACCESS_RESPONSE_MAX, .max_depth = 16, .max_items = 8192};

/* ---------------------------------------------------------------- DeviceRequest */

/* {"1": 24(bstr .cbor {"1": {NS: {EL: true...}}, "5": NS})} */
static void write_doc_request(tes_cbor_enc *e, const char *doctype, const char *const *elements,
                              size_t n)
{
    tes_buf items = {0};
    tes_cbor_enc ie = {.out = &items};
    tes_cbor_enc_map(&ie, 2);
    tes_cbor_enc_cstr(&ie, "1");
    tes_cbor_enc_map(&ie, 1);
    tes_cbor_enc_cstr(&ie, doctype);
    tes_cbor_enc_map(&ie, n);
    for (size_t i = 0; i < n; i++) {
        tes_cbor_enc_cstr(&ie, elements[i]);
        tes_cbor_enc_bool(&ie, true);
    }
    tes_cbor_enc_cstr(&ie, "5");
    tes_cbor_enc_cstr(&ie, doctype);
    tes_err err = tes_cbor_enc_finish(&ie);
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "1");
    tes_cbor_enc_tag(e, 24);
    tes_cbor_enc_bytes(e, items.ptr, items.len);
    if (err != TES_OK && e->err == TES_OK)
        e->err = err;
    tes_buf_free(&items);
}

tes_err tes_access_request_encode(bool access, bool revocation, tes_buf *out)
{
    if (out == NULL || (!access && !revocation))
        return tes_err_set(TES_ERR_ARG, "tes_access_request_encode: NULL out or nothing asked");
    static const char *const access_elements[2] = {ACCESSDOC_ELEMENT, "element4"};
    static const char *const revocation_elements[1] = {ACCESSDOC_ELEMENT};
    size_t before = out->len;
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "1");
    tes_cbor_enc_cstr(&e, "1.0");
    tes_cbor_enc_cstr(&e, "2");
    tes_cbor_enc_array(&e, (size_t)access + revocation);
    if (access)
        write_doc_request(&e, TES_ACCESS_DOCTYPE, access_elements, 2);
    if (revocation)
        write_doc_request(&e, TES_REVOCATION_DOCTYPE, revocation_elements, 1);
    tes_err err = tes_cbor_enc_finish(&e);
    if (err != TES_OK)
        out->len = before;
    return err;
}

/* NameSpaces = {+ NS => {+ element => bool}} (read, not judged) */
static bool namespaces_ok(const tes_cbor_doc *d, uint32_t m)
{
    if (!tes_cbor_is(d, m, TES_CBOR_MAP) || tes_cbor_count(d, m) == 0 ||
        tes_cbor_count(d, m) > MAX_NAMESPACES)
        return false;
    uint32_t k = m + 1;
    for (uint64_t p = 0; p < tes_cbor_count(d, m); p++) {
        uint32_t els = tes_cbor_next(d, k);
        if (!tes_cbor_is(d, k, TES_CBOR_TEXT) || !tes_cbor_is(d, els, TES_CBOR_MAP) ||
            tes_cbor_count(d, els) == 0 || tes_cbor_count(d, els) > MAX_ELEMENTS)
            return false;
        uint32_t ek = els + 1;
        for (uint64_t q = 0; q < tes_cbor_count(d, els); q++) {
            uint32_t ev = tes_cbor_next(d, ek);
            if (!tes_cbor_is(d, ek, TES_CBOR_TEXT) ||
                !(tes_cbor_is(d, ev, TES_CBOR_TRUE) || tes_cbor_is(d, ev, TES_CBOR_FALSE)))
                return false;
            ek = tes_cbor_next(d, ev);
        }
        k = tes_cbor_next(d, els);
    }
    return true;
}

/* DocRequest = {1: 24(bstr .cbor ItemsRequest)}, ItemsRequest = {1: NameSpaces, 5: docType} */
static tes_err read_doc_request(const tes_cbor_doc *d, uint32_t r, bool *access, bool *revocation)
{
    static const int64_t one[1] = {1}, ikeys[2] = {1, 5};
    uint32_t ir, v[2];
    tes_bytes inner;
    if (!accessdoc_members(d, r, one, 1, true, &ir) || !tes_cbor_tag24_content(d, ir, &inner))
        return FMT("DeviceRequest: a document request is not {1: 24(bstr ItemsRequest)}");
    tes_cbor_node st[48];
    tes_cbor_doc id;
    if (tes_cbor_parse_with(inner, &request_limits, st, 48, &id) != TES_OK)
        return FMT("DeviceRequest: an ItemsRequest is not one CBOR item: %s", tes_err_message());
    tes_err e = TES_OK;
    if (!accessdoc_members(&id, 0, ikeys, 2, true, v) || v[0] == TES_CBOR_NONE ||
        !tes_cbor_is(&id, v[1], TES_CBOR_TEXT) || !namespaces_ok(&id, v[0]))
        e = FMT("DeviceRequest: an ItemsRequest is not {1: {+ namespace: {+ element: bool}}, "
                "5: docType}");
    else if (tes_cbor_text_eq(&id, v[1], TES_ACCESS_DOCTYPE))
        *access = true;
    else if (tes_cbor_text_eq(&id, v[1], TES_REVOCATION_DOCTYPE))
        *revocation = true;
    tes_cbor_doc_free(&id);
    return e;
}

tes_err tes_access_request_parse(tes_bytes in, bool *access, bool *revocation)
{
    if ((in.ptr == NULL && in.len > 0) || access == NULL || revocation == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_access_request_parse: NULL argument");
    *access = *revocation = false;
    if (in.len > TES_ACCESS_REQUEST_MAX)
        return FMT("DeviceRequest: %zu bytes, above %d", in.len, TES_ACCESS_REQUEST_MAX);
    tes_cbor_node st[32];
    tes_cbor_doc d;
    if (tes_cbor_parse_with(in, &request_limits, st, 32, &d) != TES_OK)
        return FMT("DeviceRequest: not one CBOR item: %s", tes_err_message());
    static const int64_t keys[2] = {1, 2};
    uint32_t v[2];
    tes_err e = TES_OK;
    if (!accessdoc_members(&d, 0, keys, 2, true, v) || v[0] == TES_CBOR_NONE ||
        !tes_cbor_is(&d, v[1], TES_CBOR_ARRAY) || tes_cbor_count(&d, v[1]) == 0 ||
        tes_cbor_count(&d, v[1]) > MAX_DOC_REQUESTS)
        e = FMT("DeviceRequest: not {1: version, 2: [1 to %d document requests]}",
                MAX_DOC_REQUESTS);
    else if (!tes_cbor_text_eq(&d, v[0], "1.0"))
        e = FMT("DeviceRequest: version is not \"1.0\"");
    uint32_t r = e == TES_OK ? v[1] + 1 : 0;
    for (uint64_t k = 0; e == TES_OK && k < tes_cbor_count(&d, v[1]); k++) {
        e = read_doc_request(&d, r, access, revocation);
        r = tes_cbor_next(&d, r);
    }
    tes_cbor_doc_free(&d);
    if (e != TES_OK)
        *access = *revocation = false;
    return e;
}

/* ---------------------------------------------------------------- DeviceResponse */

tes_err tes_access_response_encode(const tes_bytes *docs, size_t n, tes_buf *out)
{
    if (out == NULL || (docs == NULL && n > 0))
        return tes_err_set(TES_ERR_ARG, "tes_access_response_encode: NULL argument");
    size_t total = 16;
    for (size_t i = 0; i < n; i++) {
        static const tes_cbor_limits one_doc = {
            .max_input = TES_ACCESS_DOC_MAX, .max_depth = 16, .max_items = 4096};
        tes_cbor_doc d;
        if (docs[i].ptr == NULL || docs[i].len > TES_ACCESS_DOC_MAX ||
            tes_cbor_parse(docs[i], &one_doc, &d) != TES_OK)
            return tes_err_set(TES_ERR_ARG,
                               "DeviceResponse: document %zu is not one CBOR item of "
                               "at most %d bytes",
                               i, TES_ACCESS_DOC_MAX);
        tes_cbor_doc_free(&d);
        total += docs[i].len;
    }
    if (total > TES_ACCESS_RESPONSE_MAX)
        return tes_err_set(TES_ERR_ARG, "DeviceResponse: %zu bytes, above %d", total,
                           TES_ACCESS_RESPONSE_MAX);
    size_t before = out->len;
    if (tes_buf_extend(out, total) != NULL)
        out->len = before;
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_map(&e, 3);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_cstr(&e, "1.0");
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_array(&e, n);
    for (size_t i = 0; i < n; i++)
        tes_cbor_enc_raw(&e, docs[i]);
    tes_cbor_enc_uint(&e, 3);
    tes_cbor_enc_uint(&e, 0);
    tes_err err = tes_cbor_enc_finish(&e);
    if (err != TES_OK)
        out->len = before;
    return err;
}

tes_err tes_access_response_parse(tes_bytes in, tes_bytes *docs, size_t max, size_t *n)
{
    if ((in.ptr == NULL && in.len > 0) || (docs == NULL && max > 0) || n == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_access_response_parse: NULL argument");
    *n = 0;
    if (in.len > TES_ACCESS_RESPONSE_MAX)
        return FMT("DeviceResponse: %zu bytes, above %d", in.len, TES_ACCESS_RESPONSE_MAX);
    tes_cbor_node st[128];
    tes_cbor_doc d;
    if (tes_cbor_parse_with(in, &response_limits, st, 128, &d) != TES_OK)
        return FMT("DeviceResponse: not one CBOR item: %s", tes_err_message());
    static const int64_t keys[3] = {1, 2, 3};
    uint32_t v[3];
    tes_err e = TES_OK;
    if (!accessdoc_members(&d, 0, keys, 3, false, v) || v[0] == TES_CBOR_NONE ||
        v[1] == TES_CBOR_NONE || v[2] == TES_CBOR_NONE || !tes_cbor_is(&d, v[1], TES_CBOR_ARRAY))
        e = FMT("DeviceResponse: not {1: version, 2: [documents], 3: status}");
    else if (!tes_cbor_text_eq(&d, v[0], "1.0"))
        e = FMT("DeviceResponse: version is not \"1.0\"");
    else if (!accessdoc_uint(&d, v[2], 0, NULL))
        e = FMT("DeviceResponse: status is not 0");
    else if (tes_cbor_count(&d, v[1]) > max)
        e = FMT("DeviceResponse: %llu documents, more than %zu",
                (unsigned long long)tes_cbor_count(&d, v[1]), max);
    uint32_t i = e == TES_OK ? v[1] + 1 : 0;
    size_t count = 0;
    for (uint64_t k = 0; e == TES_OK && k < tes_cbor_count(&d, v[1]); k++) {
        if (!tes_cbor_is(&d, i, TES_CBOR_MAP))
            e = FMT("DeviceResponse: document %llu is not a map", (unsigned long long)k);
        else
            docs[count++] = tes_cbor_span(&d, i);
        i = tes_cbor_next(&d, i);
    }
    tes_cbor_doc_free(&d);
    if (e == TES_OK)
        *n = count;
    return e;
}
