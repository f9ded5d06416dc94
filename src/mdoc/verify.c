/*
 * Verifying a DeviceResponse: every check 18013-5 §9.3 asks of a reader.
 * All hashes are taken over the exact received bytes; nothing is re-encoded.
 * This file: the DeviceResponse and Document walk and the public entry; the MSO is
 * checked in verify_mso.c, the issuer-signed items in verify_items.c, DeviceSigned in
 * verify_device.c (what they share: mdoc_internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

const tes_cbor_limits mdoc_verify_limits = {.max_input = TES_MDOC_MAX_INPUT,
                                           .max_depth = TES_MDOC_MAX_DEPTH};

/* "1.0", or a later minor version "1.<digits>" (same major: compatible). */
static bool version_1x(tes_bytes v)
{
    if (v.len < 3 || v.ptr[0] != '1' || v.ptr[1] != '.')
        return false;
    for (size_t i = 2; i < v.len; i++)
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
    return true;
}

/* documentErrors = [+ DocumentError]
 * DocumentError = {DocType => ErrorCode}
 * ErrorCode = int                       (18013-5 §8.3.2.1.2.2) */
static tes_err check_document_errors(const tes_cbor_doc *d, uint32_t de)
{
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, de);
    tes_cbor_enter_array(&c);
    bool ok = tes_cbor_items(&c) > 0;
    while (ok && tes_cbor_more(&c)) {
        tes_bytes doctype;
        int64_t code;
        tes_cbor_enter_map(&c);
        ok = tes_cbor_items(&c) == 1;
        tes_cbor_next_text(&c, &doctype);
        tes_cbor_next_int(&c, &code);
        tes_cbor_exit_map(&c);
    }
    if (!ok || tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "DeviceResponse documentErrors must be a non-empty array of "
                           "{docType: int error code}");
    return TES_OK;
}

/* Errors = {+ NameSpace => ErrorItems}
 * ErrorItems = {+ DataElementIdentifier => ErrorCode}   (18013-5 §8.3.2.1.2.2) */
static tes_err check_errors(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t er)
{
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, er);
    tes_cbor_enter_map(&c);
    bool ok = tes_cbor_items(&c) > 0;
    while (ok && tes_cbor_more(&c)) {
        tes_bytes ns;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_enter_map(&c);
        ok = tes_cbor_items(&c) > 0;
        while (ok && tes_cbor_more(&c)) {
            tes_bytes name;
            int64_t code;
            tes_cbor_next_text(&c, &name);
            tes_cbor_next_int(&c, &code);
        }
        tes_cbor_exit_map(&c);
    }
    if (!ok || tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "document %zu: errors must map namespaces to non-empty maps of "
                           "element identifier to int error code", v->doc_index);
    return TES_OK;
}

/* Document = {
 *   "docType": DocType,
 *   "issuerSigned": IssuerSigned,
 *   "deviceSigned": DeviceSigned,
 *   ? "errors": Errors
 * }
 * IssuerSigned = {? "nameSpaces": IssuerNameSpaces, "issuerAuth": IssuerAuth}
 * IssuerAuth = COSE_Sign1 over MobileSecurityObjectBytes, x5chain the document signer's */
static tes_err verify_document(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t node,
                               tes_mdoc_document *out)
{
    size_t di = v->doc_index;
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, node);
    tes_cbor_enter_map(&c);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "document %zu is not a map", di);
    uint32_t ds, er, ia, nsm = TES_CBOR_NONE;
    tes_cbor_text_in(&c, "docType", &out->doctype);
    tes_cbor_enter_map_in(&c, "issuerSigned");
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "document %zu lacks docType (text) or issuerSigned (map)", di);
    if (tes_cbor_has(&c, "nameSpaces"))
        tes_cbor_item_in(&c, "nameSpaces", &nsm);
    bool has_auth = tes_cbor_has(&c, "issuerAuth");
    if (has_auth)
        tes_cbor_item_in(&c, "issuerAuth", &ia);
    tes_cbor_exit_map(&c);
    tes_cbor_map_in(&c, "deviceSigned", &ds);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                           "document %zu lacks deviceSigned: it is not bound to the device", di);
    if (tes_cbor_has(&c, "errors")) {
        tes_cbor_item_in(&c, "errors", &er);
        tes_err e = check_errors(v, d, er);
        if (e != TES_OK)
            return e;
    }
    if (!has_auth)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "document %zu: issuerSigned lacks issuerAuth", di);
    size_t n_items;
    tes_err e = mdoc_count_items(v, d, nsm, &n_items);
    if (e != TES_OK)
        return e;

    /* issuer: chain to a trusted IACA, DS profile, signature */
    tes_cose_msg auth;
    e = tes_cose_sign1_decode(d, ia, &auth);
    if (e != TES_OK)
        return e;
    if (auth.x5chain_len == 0)
        return tes_err_set(TES_ERR_COSE_X5CHAIN,
                           "document %zu: issuerAuth carries no x5chain (document signer)", di);
    tes_trust_result tr;
    e = tes_trust_validate(v->o->trust, TES_PROFILE_DS, auth.x5chain, auth.x5chain_len, v->o->at, &tr);
    if (e != TES_OK)
        return e;
    const tes_cert_info *ci = tes_cert_get_info(tr.leaf);
    snprintf(out->issuer, sizeof(out->issuer), "%s", ci->subject);
    snprintf(out->issuer_cn, sizeof(out->issuer_cn), "%s", ci->common_name);
    snprintf(out->issuer_country, sizeof(out->issuer_country), "%s", ci->country);
    e = tes_cose_sign1_verify(&auth, tes_cert_key(tr.leaf), TES_BYTES(NULL, 0), TES_BYTES(NULL, 0));
    if (e == TES_ERR_SIGNATURE)
        return tes_err_set(TES_ERR_ISSUER_SIG,
                           "document %zu: issuer signature over the MSO is wrong (signer '%s')", di,
                           ci->subject);
    if (e != TES_OK)
        return e;
    out->issuer_cert = tr.leaf;
    out->issuer_root = tr.root;

    mdoc_mso m;
    m.doc = (tes_cbor_doc){0};
    e = mdoc_parse_mso(v, &auth, out->doctype, &m, out);
    if (e == TES_OK)
        e = mdoc_check_validity(v, out, ci);
    size_t cap = n_items + mdoc_count_device_elems(d, ds);
    if (e == TES_OK && cap > 0) {
        out->elems = calloc(cap, sizeof(*out->elems));
        if (out->elems == NULL)
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    if (e == TES_OK)
        e = mdoc_check_disclosed(v, d, nsm, &m, out, n_items);
    if (e == TES_OK)
        e = mdoc_check_issuing_country(v, out->elems, out->n_elems, ci);
    if (e == TES_OK)
        e = mdoc_check_device(v, d, ds, &m, out->doctype, out, out->n_elems, cap);
    tes_cbor_doc_free(&m.doc);
    /* status_uri points into the MSO, which lives inside the response bytes */
    return e;
}

void tes_mdoc_result_free(tes_mdoc_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_docs; i++)
        free(r->docs[i].elems);
    free(r->docs);
    *r = (tes_mdoc_result){.failed_doc = SIZE_MAX};
}

tes_err tes_mdoc_verify(tes_bytes response, const tes_mdoc_verify_opts *o, tes_mdoc_result *r)
{
    *r = (tes_mdoc_result){.failed_doc = SIZE_MAX};
    if (o == NULL || o->trust == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_mdoc_verify needs a trust store");
    tes_buf plain = {0}, tagged = {0};
    tes_err e = tes_mdoc_transcript_load(o->transcript, &plain, &tagged);
    if (e != TES_OK)
        return e;
    mdoc_vctx v = {.o = o, .transcript = tes_buf_bytes(&plain), .transcript_tagged = tes_buf_bytes(&tagged)};
    tes_cbor_doc d = {0};
    e = tes_cbor_parse(response, &mdoc_verify_limits, &d);
    if (e != TES_OK)
        goto out;
    /* DeviceResponse = {
     *   "version": tstr,                   ; "1.x"
     *   ? "documents": [+ Document],
     *   ? "documentErrors": [+ DocumentError],
     *   "status": uint                     ; 0: OK
     * } */
    tes_cbor_cur c;
    tes_bytes version;
    uint64_t status;
    uint32_t documents = TES_CBOR_NONE;
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_text_in(&c, "version", &version);
    tes_cbor_uint_in(&c, "status", &status);
    if (tes_cbor_has(&c, "documents"))
        tes_cbor_array_in(&c, "documents", &documents);
    if (tes_cbor_cur_error(&c) != TES_OK) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE,
                        "not a DeviceResponse: needs version (text), status (uint) and documents "
                        "(array)");
        goto out;
    }
    if (!version_1x(version)) {
        e = tes_err_set(TES_ERR_MDOC_VERSION, "DeviceResponse version is not 1.x");
        goto out;
    }
    bool has_errors = tes_cbor_has(&c, "documentErrors");
    if (has_errors) {
        uint32_t de;
        tes_cbor_item_in(&c, "documentErrors", &de);
        e = check_document_errors(&d, de);
        if (e != TES_OK)
            goto out;
    }
    if (status != 0) {
        e = tes_err_set(TES_ERR_DOC_ERRORS, "DeviceResponse status is %llu (not OK)",
                        (unsigned long long)status);
        goto out;
    }
    size_t n = documents == TES_CBOR_NONE ? 0 : (size_t)tes_cbor_count(&d, documents);
    if (documents != TES_CBOR_NONE && n == 0) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE,
                        "DeviceResponse documents is an empty array (absent or [+ Document])");
        goto out;
    }
    if (n == 0) {
        e = tes_err_set(TES_ERR_DOC_ERRORS, "DeviceResponse returns no documents%s",
                        has_errors ? " (documentErrors present)" : "");
        goto out;
    }
    r->docs = calloc(n, sizeof(*r->docs));
    if (r->docs == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    r->n_docs = n;
    tes_cbor_enter_array_in(&c, "documents");
    for (size_t i = 0; i < n; i++) {
        uint32_t document;
        tes_cbor_next_item(&c, &document);
        v.doc_index = i;
        e = verify_document(&v, &d, document, &r->docs[i]);
        if (e != TES_OK) {
            r->failed_doc = i;
            break;
        }
    }
out:
    tes_cbor_doc_free(&d);
    tes_buf_free(&plain);
    tes_buf_free(&tagged);
    if (e != TES_OK) {
        size_t f = r->failed_doc;
        tes_mdoc_result_free(r);
        r->failed_doc = f;
    }
    return e;
}
