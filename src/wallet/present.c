/* Presenting from the holder's wallet (tessera/wallet.h, "presenting"): a
 * file-based presentation and a proximity transaction, both on the wallet's
 * store and secure element, both through the holder's one sequence of PIN,
 * copy, signature or MAC, and log (tes_holder_answer_request). */
#include <stdlib.h>
#include <string.h>

#include "tessera/wallet.h"

bool tes_wallet_present_needs_pin(tes_wallet *w, int64_t cred_id)
{
    tes_store_cred *c = NULL;
    if (w == NULL || tes_wallet_credential(w, cred_id, &c) != TES_OK)
        return false;
    bool need = c->needs_pin || tes_wallet_needs_login(w);
    tes_store_creds_free(c, 1);
    return need;
}

void tes_wallet_present_result_free(tes_wallet_present_result *r)
{
    if (r == NULL)
        return;
    tes_holder_answer a = {.disclosed = r->disclosed, .n_disclosed = r->n_disclosed};
    tes_holder_answer_free(&a);
    *r = (tes_wallet_present_result){0};
}

/* The DocRequest of req for doctype. */
static tes_err request_for(const tes_mdoc_request *req, const char *doctype,
                           const tes_mdoc_doc_request **out)
{
    for (size_t i = 0; i < req->n_docs; i++)
        if (tes_bytes_eq(req->docs[i].doctype, TES_BYTES(doctype, strlen(doctype)))) {
            *out = &req->docs[i];
            return TES_OK;
        }
    return tes_err_set(TES_ERR_DOCTYPE_MISMATCH, "the request asks for no document of type '%s'",
                       doctype);
}

tes_err tes_wallet_present(tes_wallet *w, const tes_wallet_present_opts *o,
                           tes_buf *device_response, tes_wallet_present_result *res)
{
    if (res != NULL)
        *res = (tes_wallet_present_result){0};
    if (w == NULL || o == NULL || device_response == NULL || res == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_present: NULL argument");
    bool by_elems = o->elems != NULL && o->n_elems > 0;
    if (by_elems == (o->device_request.len > 0))
        return tes_err_set(TES_ERR_ARG, "presenting needs the elements asked for, or else a "
                                        "DeviceRequest (one of the two)");
    if (o->transcript.len == 0)
        return tes_err_set(TES_ERR_ARG, "presenting needs the session transcript");
    tes_store_cred *cred = NULL;
    tes_err e = tes_wallet_credential(w, o->credential_id, &cred);
    if (e != TES_OK)
        return e;
    tes_mdoc_request req = {0};
    bool have_req = false;
    const tes_mdoc_req_elem *elems = o->elems;
    size_t n_elems = o->n_elems;
    if (!by_elems) {
        const tes_mdoc_doc_request *dr = NULL;
        e = tes_mdoc_request_parse(o->device_request, &req);
        have_req = e == TES_OK;
        if (e == TES_OK)
            e = request_for(&req, cred->doctype, &dr);
        if (e != TES_OK)
            goto out;
        elems = dr->elems;
        n_elems = dr->n_elems;
        res->reader_auth_unchecked = dr->has_reader_auth;
        if (n_elems == 0) {
            e = tes_err_set(TES_ERR_MDOC_REQUEST, "the request asks for no element of '%s'",
                            cred->doctype);
            goto out;
        }
    }
    res->n_requested = n_elems;
    const tes_holder_answer_params ap = {
        .se = tes_wallet_se(w),
        .store = tes_wallet_store(w),
        .cred_id = o->credential_id,
        .elems = elems,
        .n_elems = n_elems,
        .transcript = o->transcript,
        .auth = o->auth,
        .reader_key = o->reader_key,
        .pin = o->pin,
        .relying_party = o->relying_party,
        .now = o->now,
    };
    tes_holder_answer ans = {0};
    e = tes_holder_answer_request(&ap, device_response, &ans);
    res->disclosed = ans.disclosed;
    res->n_disclosed = ans.n_disclosed;
    res->missing = ans.missing;
out:
    if (have_req)
        tes_mdoc_request_free(&req);
    tes_store_creds_free(cred, 1);
    return e;
}

tes_err tes_wallet_serve(tes_wallet *w, const tes_wallet_serve_opts *o, tes_holder_result *out)
{
    if (w == NULL || o == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_serve: NULL argument");
    tes_trust_store *own = NULL;
    tes_err e = TES_OK;
    if (o->reader_trust == NULL) {
        e = tes_trust_store_new(&own);
        if (e == TES_OK)
            e = tes_wallet_reader_roots_load(w, own, NULL);
        if (e != TES_OK) {
            tes_trust_store_free(own);
            return e;
        }
    }
    const tes_holder_params p = {
        .t = o->t,
        .engagement = o->engagement,
        .edevice = o->edevice,
        .nfc_handover_select = o->nfc_handover_select,
        .se = tes_wallet_se(w),
        .store = tes_wallet_store(w),
        .reader_trust = o->reader_trust ? o->reader_trust : own,
        .consent = o->consent,
        .consent_ctx = o->consent_ctx,
        .now = o->now ? o->now : tes_clock_now(NULL),
        .timeout_ms = o->timeout_ms,
    };
    e = tes_holder_serve(&p, out);
    tes_trust_store_free(own);
    return e;
}
