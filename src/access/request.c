/*
 * The step-up document request (DeviceRequest), as the public readers build it, with text
 * keys: {"1": "1.0", "2": [{"1": 24(bstr .cbor {"1": {NS: {EL: true}}, "5": DOCTYPE})}]}.
 * The parser takes text or integer keys and ignores document types it does not know.
 */
#include <string.h>

#include "tessera/access.h"
#include "tessera/cbor.h"

static void put_doc_request(tes_cbor_enc *e, const char *doctype, const char *const *elements,
                            size_t n)
{
    tes_buf inner = {0};
    tes_cbor_enc ie = {.out = &inner};
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
    tes_cbor_enc_map(e, 1);
    tes_cbor_enc_cstr(e, "1");
    tes_cbor_enc_tag(e, 24);
    tes_cbor_enc_bytes(e, inner.ptr, inner.len);
    if (inner.failed || ie.err)
        e->out->failed = true;
    tes_buf_free(&inner);
}

tes_err tes_access_request_encode(bool access, bool revocation, tes_buf *out)
{
    if (!out || (!access && !revocation))
        return tes_err_set(TES_ERR_ARG, "tes_access_request_encode: nothing requested");
    static const char *const access_elements[] = {"element2", "element4"};
    static const char *const revocation_elements[] = {"element2"};
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "1");
    tes_cbor_enc_cstr(&e, "1.0");
    tes_cbor_enc_cstr(&e, "2");
    tes_cbor_enc_array(&e, (size_t)access + (size_t)revocation);
    if (access)
        put_doc_request(&e, TES_ACCESS_DOCTYPE, access_elements, 2);
    if (revocation)
        put_doc_request(&e, TES_REVOCATION_DOCTYPE, revocation_elements, 1);
    if (e.err)
        return e.err;
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "access: out of memory") : TES_OK;
}

/* A member by integer key k or its text form "k". */
static uint32_t member(const tes_cbor_doc *d, uint32_t map, int64_t k)
{
    char t[4] = {(char)('0' + k), 0};
    uint32_t v = tes_cbor_map_get_int(d, map, k);
    return v != TES_CBOR_NONE ? v : tes_cbor_map_get_text(d, map, t);
}

static tes_err bad(const char *what)
{
    return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, "step-up request: %s", what);
}

static tes_err doc_request(tes_bytes items_request, bool *access, bool *revocation)
{
    tes_cbor_limits lim = {.max_input = 2048, .max_depth = 6, .max_items = 256};
    tes_cbor_doc d;
    if (tes_cbor_parse(items_request, &lim, &d) != TES_OK)
        return bad("ItemsRequest is not CBOR within its bounds");
    tes_err err = TES_OK;
    uint32_t dt = tes_cbor_is(&d, 0, TES_CBOR_MAP) ? member(&d, 0, 5) : TES_CBOR_NONE;
    if (dt == TES_CBOR_NONE || !tes_cbor_is(&d, dt, TES_CBOR_TEXT))
        err = bad("ItemsRequest without its docType");
    else if (tes_cbor_text_eq(&d, dt, TES_ACCESS_DOCTYPE))
        *access = true;
    else if (tes_cbor_text_eq(&d, dt, TES_REVOCATION_DOCTYPE))
        *revocation = true;
    tes_cbor_doc_free(&d);
    return err;
}

tes_err tes_access_request_parse(tes_bytes in, bool *access, bool *revocation)
{
    if (!access || !revocation)
        return tes_err_set(TES_ERR_ARG, "tes_access_request_parse: NULL argument");
    *access = *revocation = false;
    tes_cbor_limits lim = {.max_input = 4096, .max_depth = 6, .max_items = 256};
    tes_cbor_doc d;
    if (tes_cbor_parse(in, &lim, &d) != TES_OK)
        return bad("not CBOR within its bounds");
    tes_err err = TES_OK;
    uint32_t v = tes_cbor_is(&d, 0, TES_CBOR_MAP) ? member(&d, 0, 1) : TES_CBOR_NONE;
    uint32_t reqs = tes_cbor_is(&d, 0, TES_CBOR_MAP) ? member(&d, 0, 2) : TES_CBOR_NONE;
    if (v == TES_CBOR_NONE || !tes_cbor_text_eq(&d, v, "1.0"))
        err = bad("version is not \"1.0\"");
    else if (reqs == TES_CBOR_NONE || !tes_cbor_is(&d, reqs, TES_CBOR_ARRAY) ||
             tes_cbor_count(&d, reqs) == 0 || tes_cbor_count(&d, reqs) > 4)
        err = bad("docRequests is not an array of 1 to 4 requests");
    for (uint32_t i = 0; !err && i < tes_cbor_count(&d, reqs); i++) {
        uint32_t r = tes_cbor_child_at(&d, reqs, i);
        uint32_t ir = tes_cbor_is(&d, r, TES_CBOR_MAP) ? member(&d, r, 1) : TES_CBOR_NONE;
        tes_bytes inner;
        if (ir == TES_CBOR_NONE || !tes_cbor_tag24_content(&d, ir, &inner))
            err = bad("a DocRequest without its tag-24 ItemsRequest");
        else
            err = doc_request(inner, access, revocation);
    }
    tes_cbor_doc_free(&d);
    if (err)
        *access = *revocation = false;
    return err;
}
