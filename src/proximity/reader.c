/*
 * The reader's side of one ISO/IEC 18013-5 proximity transaction: a fresh
 * EReaderKey, the DeviceRequest (with readerAuth when the reader has a key),
 * the SessionEstablishment, then the holder's SessionData, decrypted and
 * verified with tes_mdoc_verify against the reader's own trust store.
 *
 * On top of the verifier's checks the reader refuses a response that
 * discloses anything it did not ask for (another docType, another element;
 * an age_over_NN counts as asked when some age_over_NN of the same namespace
 * was, as the nearest-match rule may answer with a neighbour).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proximity_internal.h"

static void send_status(tes_transport *t, uint64_t code)
{
    tes_buf m = {0};
    if (tes_session_status(code, &m) == TES_OK)
        (void)tes_transport_send(t, tes_buf_bytes(&m));
    tes_buf_free(&m);
}

static bool was_requested(const tes_reader_params *p, tes_bytes ns, tes_bytes name)
{
    bool age = prox_age_over_nn(name) >= 0;
    for (size_t i = 0; i < p->n_elems; i++) {
        if (!tes_bytes_eq(p->elems[i].ns, ns))
            continue;
        if (tes_bytes_eq(p->elems[i].name, name) ||
            (age && prox_age_over_nn(p->elems[i].name) >= 0))
            return true;
    }
    return false;
}

/* Every disclosed document and element was asked for. */
static tes_err check_only_requested(const tes_reader_params *p, const tes_mdoc_result *r)
{
    tes_bytes want = TES_BYTES(p->doctype, strlen(p->doctype));
    if (r->n_docs != 1)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "the response holds %zu documents; one was requested", r->n_docs);
    const tes_mdoc_document *d = &r->docs[0];
    char a[128], b[128];
    if (!tes_bytes_eq(d->doctype, want)) {
        tes_text_printable(a, sizeof(a), d->doctype);
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "the response discloses a %s document; %s was requested", a, p->doctype);
    }
    for (size_t i = 0; i < d->n_elems; i++)
        if (!was_requested(p, d->elems[i].ns, d->elems[i].name)) {
            tes_text_printable(a, sizeof(a), d->elems[i].ns);
            tes_text_printable(b, sizeof(b), d->elems[i].name);
            return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                               "the response discloses %s/%s, which was not requested", a, b);
        }
    return TES_OK;
}

tes_err tes_reader_checkin(const tes_reader_params *p, tes_buf *response, tes_mdoc_result *result)
{
    if (result != NULL)
        *result = (tes_mdoc_result){.failed_doc = SIZE_MAX};
    if (p == NULL || response == NULL || result == NULL || p->t == NULL || p->engagement == NULL ||
        p->doctype == NULL || (p->n_elems > 0 && p->elems == NULL) || p->trust == NULL ||
        (p->reader != NULL && p->reader_chain_len == 0))
        return tes_err_set(TES_ERR_ARG,
                           "reader: needs a transport, the engagement, a docType, "
                           "the elements, a trust store, and a chain with a reader key");
    int timeout = p->timeout_ms > 0 ? p->timeout_ms : PROX_DEFAULT_TIMEOUT_MS;
    tes_buf_reset(response);
    tes_key *ereader = NULL;
    tes_session *s = NULL;
    tes_buf req = {0}, est = {0}, msg = {0}, payload = {0};
    bool ended = false; /* no termination to send any more */
    uint64_t status = 0;

    tes_err e = tes_key_generate(TES_CURVE_P256, &ereader);
    if (e == TES_OK)
        e = tes_session_reader_new(p->engagement, ereader, p->nfc_handover_select, &s);
    if (e == TES_OK)
        e = tes_mdoc_request_build(p->doctype, p->elems, p->n_elems,
                                   tes_session_transcript_bytes(s), p->reader, p->reader_chain,
                                   p->reader_chain_len, &req);
    if (e == TES_OK)
        e = tes_session_establish(s, tes_buf_bytes(&req), &est);
    if (e != TES_OK) {
        ended = true; /* nothing was sent yet */
        goto done;
    }
    e = tes_transport_send(p->t, tes_buf_bytes(&est));
    if (e != TES_OK) {
        ended = true;
        goto done;
    }
    e = tes_transport_recv(p->t, &msg, timeout);
    if (e == TES_ERR_TRANSPORT)
        ended = true;
    if (e != TES_OK)
        goto done;
    payload.secret = true;
    e = tes_session_decrypt(s, tes_buf_bytes(&msg), &payload, &status);
    if (e == TES_ERR_SESSION_DECRYPT) {
        char m[512];
        snprintf(m, sizeof(m), "%s", tes_err_message());
        send_status(p->t, TES_SESSION_STATUS_DECRYPT_ERROR);
        ended = true;
        e = tes_err_set(e, "%s", m);
        goto done;
    }
    if (e != TES_OK) {
        char m[512];
        snprintf(m, sizeof(m), "%s", tes_err_message());
        send_status(p->t, TES_SESSION_STATUS_CBOR_ERROR);
        ended = true;
        e = tes_err_set(e, "%s", m);
        goto done;
    }
    if (status == TES_SESSION_STATUS_TERMINATION)
        ended = true;
    if (payload.len == 0 || (status != 0 && status != TES_SESSION_STATUS_TERMINATION)) {
        ended = true;
        const char *why = status == TES_SESSION_STATUS_TERMINATION     ? "termination"
                          : status == TES_SESSION_STATUS_DECRYPT_ERROR ? "decryption error"
                          : status == TES_SESSION_STATUS_CBOR_ERROR    ? "CBOR error"
                                                                       : "unknown status";
        e = tes_err_set(TES_ERR_SESSION_ENDED,
                        "the holder ended the session without a response: status %llu (%s)",
                        (unsigned long long)status, why);
        goto done;
    }
    tes_buf_append(response, payload.ptr, payload.len);
    if (response->failed) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto done;
    }
    tes_mdoc_verify_opts vo = {.trust = p->trust,
                               .transcript = tes_session_transcript_bytes(s),
                               .reader_key = ereader,
                               .at = p->now};
    e = tes_mdoc_verify(tes_buf_bytes(response), &vo, result);
    if (e == TES_OK)
        e = check_only_requested(p, result);

done:
    if (!ended) {
        char m[512];
        snprintf(m, sizeof(m), "%s", tes_err_message());
        send_status(p->t, TES_SESSION_STATUS_TERMINATION);
        if (e != TES_OK)
            e = tes_err_set(e, "%s", m);
    }
    if (e != TES_OK) {
        /* nothing unverified (or unrequested) is handed out */
        tes_mdoc_result_free(result);
        response->secret = true;
        tes_buf_free(response);
    }
    tes_buf_free(&payload);
    tes_buf_free(&msg);
    tes_buf_free(&est);
    tes_buf_free(&req);
    if (s)
        tes_session_free(s);
    tes_key_free(ereader);
    return e;
}
