/* DeviceRequest: parsing, reader authentication, building (18013-5 §8.3.2.1.2.1, §9.1.4). */
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

#define MAX_DOC_REQUESTS 16
#define MAX_REQUESTED_ELEMENTS 1024

static const tes_cbor_limits limits = {.max_input = 1u << 20, .max_depth = 16};

void tes_mdoc_request_free(tes_mdoc_request *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_docs; i++)
        free(r->docs[i].elems);
    free(r->docs);
    *r = (tes_mdoc_request){0};
}

/* ItemsRequestBytes = #6.24(bstr .cbor ItemsRequest)
 * ItemsRequest = {
 *   "docType": DocType,
 *   "nameSpaces": NameSpaces,
 *   ? "requestInfo": {* tstr => any}
 * }
 * NameSpaces = {+ NameSpace => DataElements}
 * DataElements = {+ DataElementIdentifier => IntentToRetain}
 * IntentToRetain = bool */
static tes_err parse_items_request(tes_bytes bytes, tes_mdoc_doc_request *dr, size_t di)
{
    tes_cbor_doc d;
    tes_bytes inner;
    tes_err e = tes_cbor_parse(bytes, &limits, &d);
    if (e != TES_OK)
        return e;
    bool wrapped = tes_cbor_tag24_content(&d, 0, &inner);
    tes_cbor_doc_free(&d);
    if (!wrapped)
        return tes_err_set(TES_ERR_MDOC_REQUEST, "docRequest %zu: itemsRequest is not tag 24", di);
    e = tes_cbor_parse(inner, &limits, &d);
    if (e != TES_OK)
        return e;
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_text_in(&c, "docType", &dr->doctype);
    tes_cbor_enter_map_in(&c, "nameSpaces");
    if (tes_cbor_cur_error(&c) != TES_OK) {
        e = tes_err_set(TES_ERR_MDOC_REQUEST, "docRequest %zu: ItemsRequest needs docType and nameSpaces", di);
        goto out;
    }
    /* the namespaces and the number of elements, bounded before anything is allocated */
    size_t n = 0;
    while (tes_cbor_more(&c)) {
        tes_bytes ns;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_enter_map(&c);
        if (tes_cbor_cur_error(&c) != TES_OK) {
            e = tes_err_set(TES_ERR_MDOC_REQUEST,
                            "docRequest %zu: nameSpaces must map namespace to {element: bool}", di);
            goto out;
        }
        n += tes_cbor_items(&c);
        tes_cbor_exit_map(&c);
    }
    tes_cbor_exit_map(&c);
    if (n > MAX_REQUESTED_ELEMENTS) {
        e = tes_err_set(TES_ERR_MDOC_REQUEST, "docRequest %zu asks for more than %d elements", di,
                        MAX_REQUESTED_ELEMENTS);
        goto out;
    }
    dr->elems = calloc(n ? n : 1, sizeof(*dr->elems));
    if (dr->elems == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* the elements */
    tes_cbor_enter_map_in(&c, "nameSpaces");
    while (tes_cbor_more(&c)) {
        tes_bytes ns;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_enter_map(&c);
        while (tes_cbor_more(&c)) {
            tes_mdoc_req_elem *el = &dr->elems[dr->n_elems];
            tes_cbor_next_text(&c, &el->name);
            tes_cbor_next_bool(&c, &el->intent_to_retain);
            if (tes_cbor_cur_error(&c) != TES_OK) {
                e = tes_err_set(TES_ERR_MDOC_REQUEST,
                                "docRequest %zu: each requested element maps to IntentToRetain (bool)", di);
                goto out;
            }
            el->ns = ns;
            dr->n_elems++;
        }
        tes_cbor_exit_map(&c);
    }
out:
    tes_cbor_doc_free(&d);
    return e;
}

/* DeviceRequest = {
 *   "version": tstr,                 ; "1.x"
 *   "docRequests": [+ DocRequest]
 * }
 * DocRequest = {
 *   "itemsRequest": ItemsRequestBytes,
 *   ? "readerAuth": ReaderAuth       ; COSE_Sign1, detached payload
 * } */
tes_err tes_mdoc_request_parse(tes_bytes in, tes_mdoc_request *out)
{
    *out = (tes_mdoc_request){0};
    tes_cbor_doc d;
    tes_err e = tes_cbor_parse(in, &limits, &d);
    if (e != TES_OK)
        return e;
    tes_cbor_cur c;
    tes_bytes version;
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_text_in(&c, "version", &version);
    tes_cbor_enter_array_in(&c, "docRequests");
    if (tes_cbor_cur_error(&c) != TES_OK || tes_cbor_items(&c) == 0) {
        e = tes_err_set(TES_ERR_MDOC_REQUEST,
                        "not a DeviceRequest: needs version and a non-empty docRequests array");
        goto fail;
    }
    if (version.len < 2 || memcmp(version.ptr, "1.", 2) != 0) {
        e = tes_err_set(TES_ERR_MDOC_VERSION, "DeviceRequest version is not 1.x");
        goto fail;
    }
    size_t n = (size_t)tes_cbor_items(&c);
    if (n > MAX_DOC_REQUESTS) {
        e = tes_err_set(TES_ERR_MDOC_REQUEST, "more than %d docRequests", MAX_DOC_REQUESTS);
        goto fail;
    }
    out->docs = calloc(n, sizeof(*out->docs));
    if (out->docs == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        out->n_docs = i + 1;
        tes_mdoc_doc_request *dr = &out->docs[i];
        uint32_t items_request;
        tes_cbor_enter_map(&c);
        tes_cbor_item_in(&c, "itemsRequest", &items_request);
        if (tes_cbor_cur_error(&c) != TES_OK) {
            e = tes_err_set(TES_ERR_MDOC_REQUEST, "docRequest %zu lacks itemsRequest", i);
            goto fail;
        }
        dr->items_request_bytes = tes_cbor_span(&d, items_request);
        e = parse_items_request(dr->items_request_bytes, dr, i);
        if (e != TES_OK)
            goto fail;
        if (tes_cbor_has(&c, "readerAuth")) {
            uint32_t reader_auth;
            tes_cbor_item_in(&c, "readerAuth", &reader_auth);
            e = tes_cose_sign1_decode(&d, reader_auth, &dr->reader_auth);
            if (e != TES_OK)
                goto fail;
            dr->has_reader_auth = true;
        }
        tes_cbor_exit_map(&c);
    }
    tes_cbor_doc_free(&d);
    return TES_OK;
fail:
    tes_cbor_doc_free(&d);
    tes_mdoc_request_free(out);
    return e;
}

/* ReaderAuthenticationBytes = 24(bstr(["ReaderAuthentication", transcript, ItemsRequestBytes])) */
static void reader_auth_bytes(tes_buf *out, tes_bytes transcript, tes_bytes items_request_bytes)
{
    tes_buf tmp = {0};
    tes_cbor_enc e = {.out = &tmp};
    tes_cbor_enc_array(&e, 3);
    tes_cbor_enc_cstr(&e, "ReaderAuthentication");
    tes_cbor_enc_raw(&e, transcript);
    tes_cbor_enc_raw(&e, items_request_bytes);
    tes_cbor_enc o = {.out = out};
    tes_cbor_enc_tag(&o, 24);
    tes_cbor_enc_bytes(&o, tmp.ptr, tmp.len);
    if (tmp.failed)
        out->failed = true;
    tes_buf_free(&tmp);
}

tes_err tes_mdoc_request_verify_reader(const tes_mdoc_request *r, size_t i, tes_bytes transcript,
                                       tes_trust_store *trust, int64_t at, const tes_cert **reader)
{
    if (i >= r->n_docs)
        return tes_err_set(TES_ERR_ARG, "no docRequest %zu", i);
    const tes_mdoc_doc_request *dr = &r->docs[i];
    if (!dr->has_reader_auth)
        return tes_err_set(TES_ERR_NOT_FOUND, "docRequest %zu carries no readerAuth", i);
    if (dr->reader_auth.x5chain_len == 0)
        return tes_err_set(TES_ERR_COSE_X5CHAIN, "readerAuth carries no reader certificate");
    tes_buf plain = {0}, rab = {0};
    tes_err e = tes_mdoc_transcript_load(transcript, &plain, NULL);
    if (e != TES_OK)
        return e;
    tes_trust_result tr;
    e = tes_trust_validate(trust, TES_PROFILE_READER, dr->reader_auth.x5chain,
                           dr->reader_auth.x5chain_len, at, &tr);
    if (e == TES_OK) {
        reader_auth_bytes(&rab, tes_buf_bytes(&plain), dr->items_request_bytes);
        e = rab.failed ? tes_err_set(TES_ERR_NOMEM, "out of memory")
                       : tes_cose_sign1_verify(&dr->reader_auth, tes_cert_key(tr.leaf),
                                               tes_buf_bytes(&rab), TES_BYTES(NULL, 0));
        if (e == TES_ERR_SIGNATURE)
            e = tes_err_set(TES_ERR_READER_SIG,
                            "reader authentication signature of '%s' is wrong (wrong transcript or "
                            "altered request)", tes_cert_get_info(tr.leaf)->subject);
        if (e == TES_OK && reader)
            *reader = tr.leaf;
    }
    tes_buf_free(&plain);
    tes_buf_free(&rab);
    return e;
}

tes_err tes_mdoc_request_build(const char *doctype, const tes_mdoc_req_elem *elems, size_t n,
                               tes_bytes transcript, const tes_signer *reader,
                               const tes_bytes *chain, size_t chain_len, tes_buf *out)
{
    /* ItemsRequest = {"docType": .., "nameSpaces": {ns: {elem: intent}}} */
    tes_buf ir = {0}, irb = {0}, plain = {0}, rab = {0}, ra = {0};
    tes_cbor_enc e = {.out = &ir};
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_cstr(&e, "docType");
    tes_cbor_enc_cstr(&e, doctype);
    tes_cbor_enc_cstr(&e, "nameSpaces");
    size_t nsm = tes_cbor_enc_pos(&e);
    size_t n_ns = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = tes_bytes_eq(elems[j].ns, elems[i].ns);
        n_ns += !seen;
    }
    tes_cbor_enc_map(&e, n_ns);
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = tes_bytes_eq(elems[j].ns, elems[i].ns);
        if (seen)
            continue;
        size_t cnt = 0;
        for (size_t j = i; j < n; j++)
            cnt += tes_bytes_eq(elems[j].ns, elems[i].ns);
        tes_cbor_enc_text(&e, (const char *)elems[i].ns.ptr, elems[i].ns.len);
        size_t m = tes_cbor_enc_pos(&e);
        tes_cbor_enc_map(&e, cnt);
        for (size_t j = i; j < n; j++)
            if (tes_bytes_eq(elems[j].ns, elems[i].ns)) {
                tes_cbor_enc_text(&e, (const char *)elems[j].name.ptr, elems[j].name.len);
                tes_cbor_enc_bool(&e, elems[j].intent_to_retain);
            }
        tes_cbor_enc_sort_map(&e, m);
    }
    tes_cbor_enc_sort_map(&e, nsm);
    tes_cbor_enc_sort_map(&e, 0);
    tes_err err = tes_cbor_enc_finish(&e);
    tes_cbor_enc be = {.out = &irb};
    tes_cbor_enc_tag(&be, 24);
    tes_cbor_enc_bytes(&be, ir.ptr, ir.len);
    if (err == TES_OK)
        err = tes_cbor_enc_finish(&be);
    if (err == TES_OK && reader) {
        err = tes_mdoc_transcript_load(transcript, &plain, NULL);
        if (err == TES_OK) {
            reader_auth_bytes(&rab, tes_buf_bytes(&plain), tes_buf_bytes(&irb));
            tes_cbor_enc ae = {.out = &ra};
            tes_cose_sign1_write(&ae, reader, tes_buf_bytes(&rab),
                                 &(tes_cose_opts){.flags = TES_COSE_DETACHED,
                                                  .x5chain = chain,
                                                  .chain_len = chain_len});
            err = rab.failed ? TES_ERR_NOMEM : tes_cbor_enc_finish(&ae);
        }
    }
    if (err == TES_OK) {
        tes_cbor_enc oe = {.out = out};
        size_t top = tes_cbor_enc_pos(&oe);
        tes_cbor_enc_map(&oe, 2);
        tes_cbor_enc_cstr(&oe, "version");
        tes_cbor_enc_cstr(&oe, "1.0");
        tes_cbor_enc_cstr(&oe, "docRequests");
        tes_cbor_enc_array(&oe, 1);
        tes_cbor_enc_map(&oe, reader ? 2 : 1);
        tes_cbor_enc_cstr(&oe, "itemsRequest");
        tes_cbor_enc_raw(&oe, tes_buf_bytes(&irb));
        if (reader) {
            tes_cbor_enc_cstr(&oe, "readerAuth");
            tes_cbor_enc_raw(&oe, tes_buf_bytes(&ra));
        }
        tes_cbor_enc_sort_map(&oe, top);
        err = tes_cbor_enc_finish(&oe);
    }
    tes_buf_free(&ir);
    tes_buf_free(&irb);
    tes_buf_free(&plain);
    tes_buf_free(&rab);
    tes_buf_free(&ra);
    return err;
}

tes_err tes_mdoc_status_ref(tes_bytes issuer_auth, uint64_t *idx, tes_buf *uri)
{
    tes_cose_msg m;
    tes_err e = tes_cose_sign1_parse(issuer_auth, &m);
    if (e != TES_OK)
        return e;
    tes_cbor_doc pd, md;
    tes_bytes inner;
    e = tes_cbor_parse(m.payload, &limits, &pd);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "MSO payload is not CBOR");
    bool ok = tes_cbor_tag24_content(&pd, 0, &inner);
    tes_cbor_doc_free(&pd);
    if (!ok || tes_cbor_parse(inner, &limits, &md) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "issuerAuth payload is not an MSO");
    /* MobileSecurityObject = {..., ? "status": {"status_list": {"idx": uint, "uri": tstr}}} */
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, &md, 0);
    tes_cbor_enter_map(&c);
    if (!tes_cbor_has(&c, "status")) {
        tes_cbor_doc_free(&md);
        return tes_err_set(TES_ERR_NOT_FOUND, "the MSO carries no status reference");
    }
    uint64_t list_idx;
    tes_bytes list_uri;
    tes_cbor_enter_map_in(&c, "status");
    tes_cbor_enter_map_in(&c, "status_list");
    tes_cbor_uint_in(&c, "idx", &list_idx);
    tes_cbor_text_in(&c, "uri", &list_uri);
    if (tes_cbor_cur_error(&c) != TES_OK) {
        e = tes_err_set(TES_ERR_STATUS, "MSO status lacks status_list {idx, uri}");
    } else {
        *idx = list_idx;
        tes_buf_append(uri, list_uri.ptr, list_uri.len);
    }
    tes_cbor_doc_free(&md);
    return e;
}
