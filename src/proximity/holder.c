/*
 * The holder's side of one ISO/IEC 18013-5 proximity transaction.
 *
 * Order, and what each step may release:
 *   1. SessionEstablishment -> session keys -> DeviceRequest (nothing sent but
 *      a status on failure: 10 decryption, 11 CBOR/structure).
 *   2. The first DocRequest whose docType the wallet holds; its readerAuth
 *      verified against the holder's reader roots; the reader's name and
 *      granted scope read from its certificate. A reader that cannot be
 *      authenticated is still shown to the holder, flagged, with the reason.
 *   3. More than two age_over_NN: refused (encrypted DeviceResponse with
 *      status 10, session ended) before anyone is asked.
 *   4. Consent (callback). Declined: the session is ended, nothing else.
 *   5. Released = approved by the holder AND (in the reader's scope OR
 *      overridden by the holder) AND held by the credential.
 *   6. tes_holder_answer_request (answer.c), the holder's one sequence: PIN
 *      checked before a copy is taken (a wrong PIN costs no copy), the
 *      DeviceResponse signed (or MACed) by the copy's secure-element key, the
 *      log entry; then sent as the final SessionData (status 20).
 * Every failure ends the session with the right status while the channel
 * works, discloses nothing, and is logged as "failed: <error name>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proximity_internal.h"

int prox_age_over_nn(tes_bytes name)
{
    static const char pre[] = "age_over_";
    if (name.len != sizeof(pre) + 1 || memcmp(name.ptr, pre, sizeof(pre) - 1) != 0)
        return -1;
    uint8_t a = name.ptr[sizeof(pre) - 1], b = name.ptr[sizeof(pre)];
    if (a < '0' || a > '9' || b < '0' || b > '9')
        return -1;
    return (a - '0') * 10 + (b - '0');
}

/* ------------------------------------------------------------ one transaction */

typedef struct holder_tx {
    const tes_holder_params *p;
    tes_holder_result *out;
    tes_session *s;
    bool ended;        /* the session was ended (or the channel is gone) */
    char rp[256];      /* relying party for the log */
    tes_buf log_elems; /* "ns/elem[*],..." NUL-terminated */
    int64_t cred_id;
    bool logged; /* the outcome is in the log already */
} holder_tx;

/* Sends a status-only SessionData (plain: it carries no data). */
static void send_status(holder_tx *t, uint64_t code)
{
    if (t->ended || code == 0)
        return;
    tes_buf m = {0};
    if (tes_session_status(code, &m) == TES_OK)
        (void)tes_transport_send(t->p->t, tes_buf_bytes(&m));
    tes_buf_free(&m);
    t->ended = true;
}

static void log_add(holder_tx *t, const char *outcome)
{
    static char none[] = "";
    tes_store_log_entry le = {
        .at = t->p->now,
        .relying_party = t->rp,
        .elements = t->log_elems.len ? (char *)t->log_elems.ptr : none,
        .cred_id = t->cred_id,
        .outcome = (char *)outcome,
    };
    if (tes_store_log_add(t->p->store, &le) != TES_OK) {
        /* the transaction's outcome stands; a log that cannot be written is not a reason to
         * change it (the caller sees the store's error on its next use) */
    }
}

/* Ends the session with `status` (0: nothing to send), logs the failure and
 * returns e with its message intact. */
static tes_err fail(holder_tx *t, tes_err e, uint64_t status)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", tes_err_message());
    send_status(t, status);
    char outcome[96];
    snprintf(outcome, sizeof(outcome), "failed: %s", tes_err_name(e));
    if (!t->logged)
        log_add(t, outcome);
    return tes_err_set(e, "%s", msg);
}

/* Sends the final SessionData {data: payload, status: 20}. */
static tes_err send_final(holder_tx *t, tes_bytes payload)
{
    tes_buf m = {0};
    tes_err e = tes_session_encrypt(t->s, payload, true, &m);
    if (e == TES_OK)
        e = tes_transport_send(t->p->t, tes_buf_bytes(&m));
    tes_buf_free(&m);
    t->ended = true; /* whether it arrived or not, this side is done */
    return e;
}

/* DeviceResponse without documents: {"version": "1.0", ["documentErrors":
 * [{docType: 0}],] "status": status}. */
static tes_err empty_response(tes_bytes doctype, uint64_t status, tes_buf *out)
{
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_map(&e, doctype.len ? 3 : 2);
    tes_cbor_enc_cstr(&e, "version");
    tes_cbor_enc_cstr(&e, "1.0");
    if (doctype.len) {
        tes_cbor_enc_cstr(&e, "documentErrors");
        tes_cbor_enc_array(&e, 1);
        tes_cbor_enc_map(&e, 1);
        tes_cbor_enc_text(&e, (const char *)doctype.ptr, doctype.len);
        tes_cbor_enc_uint(&e, 0); /* data not returned */
    }
    tes_cbor_enc_cstr(&e, "status");
    tes_cbor_enc_uint(&e, status);
    tes_cbor_enc_sort_map(&e, 0);
    return tes_cbor_enc_finish(&e);
}

/* The EReaderKey (public) from the SessionEstablishment's eReaderKey
 * (tag 24 COSE_Key), for device MAC. */
static tes_err ereader_key_from_establishment(tes_bytes est, tes_key **out)
{
    static const tes_cbor_limits lim = {.max_input = TES_TRANSPORT_MAX_MESSAGE, .max_depth = 8};
    tes_cbor_doc d;
    tes_bytes inner;
    tes_err e = tes_cbor_parse(est, &lim, &d);
    if (e != TES_OK)
        return e;
    uint32_t k = tes_cbor_map_get_text(&d, 0, "eReaderKey");
    e = tes_cbor_tag24_content(&d, k, &inner)
            ? tes_cose_key_parse(inner, out)
            : tes_err_set(TES_ERR_SESSION_MESSAGE, "SessionEstablishment lacks eReaderKey");
    tes_cbor_doc_free(&d);
    return e;
}

/* The credential to answer with: for the first DocRequest whose docType the
 * wallet holds, the most recent credential of that docType that still has an
 * unused copy (else the most recent one, whose take will fail cleanly). */
static tes_err choose_credential(holder_tx *t, const tes_mdoc_request *r, size_t *doc,
                                 int64_t *cred_id)
{
    tes_store_cred *creds = NULL;
    size_t n = 0;
    tes_err e = tes_store_list(t->p->store, &creds, &n);
    if (e != TES_OK)
        return e;
    e = tes_err_set(TES_ERR_NOT_FOUND, "the wallet holds none of the requested document types");
    for (size_t i = 0; i < r->n_docs && e != TES_OK; i++) {
        const tes_store_cred *best = NULL;
        bool best_usable = false;
        for (size_t j = 0; j < n; j++) {
            const tes_store_cred *c = &creds[j];
            if (strlen(c->doctype) != r->docs[i].doctype.len ||
                memcmp(c->doctype, r->docs[i].doctype.ptr, r->docs[i].doctype.len) != 0)
                continue;
            bool usable = !c->single_use || c->unused_copies > 0;
            bool newer = best == NULL || c->created_at > best->created_at ||
                         (c->created_at == best->created_at && c->id > best->id);
            if (best == NULL || (usable && !best_usable) || (usable == best_usable && newer)) {
                best = c;
                best_usable = usable;
            }
        }
        if (best != NULL) {
            *doc = i;
            *cred_id = best->id;
            e = TES_OK;
        }
    }
    tes_store_creds_free(creds, n);
    return e;
}

static tes_err check_params(const tes_holder_params *p, tes_holder_result *out)
{
    if (p == NULL || out == NULL || p->t == NULL || p->engagement == NULL || p->edevice == NULL ||
        p->se == NULL || p->store == NULL)
        return tes_err_set(TES_ERR_ARG, "holder: needs a transport, engagement, EDeviceKey, "
                                        "secure element and store");
    return TES_OK;
}

tes_err tes_holder_serve(const tes_holder_params *p, tes_holder_result *out)
{
    tes_err e = check_params(p, out);
    if (e != TES_OK)
        return e;
    *out = (tes_holder_result){0};
    holder_tx t = {.p = p, .out = out};
    snprintf(t.rp, sizeof(t.rp), "unknown reader");
    int timeout = p->timeout_ms > 0 ? p->timeout_ms : PROX_DEFAULT_TIMEOUT_MS;

    tes_buf est = {0}, request = {0}, resp = {0};
    tes_mdoc_request req = {0};
    tes_reader_scope scope = {0};
    bool have_scope = false;
    tes_consent_request cr = {0};
    tes_store_copy peek = {0};
    prox_cred_elems held = {0};
    tes_holder_answer ans = {0};
    tes_mdoc_req_elem *approved = NULL;
    tes_key *ereader = NULL;
    char pin[64] = {0};
    size_t doc = 0;

    /* 1. SessionEstablishment -> DeviceRequest */
    e = tes_transport_recv(p->t, &est, timeout);
    if (e != TES_OK) {
        t.ended = true; /* nothing arrived: nobody to answer */
        e = fail(&t, e, 0);
        goto done;
    }
    e = tes_session_holder_accept(p->engagement, p->edevice, p->nfc_handover_select,
                                  tes_buf_bytes(&est), &t.s, &request);
    if (e != TES_OK) {
        e = fail(&t, e,
                 e == TES_ERR_SESSION_DECRYPT ? TES_SESSION_STATUS_DECRYPT_ERROR
                                              : TES_SESSION_STATUS_CBOR_ERROR);
        goto done;
    }
    e = tes_mdoc_request_parse(tes_buf_bytes(&request), &req);
    if (e != TES_OK) {
        e = fail(&t, e, TES_SESSION_STATUS_CBOR_ERROR);
        goto done;
    }

    /* 2. which document; who asks, and what they may ask for */
    e = choose_credential(&t, &req, &doc, &t.cred_id);
    if (e != TES_OK) {
        e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
        goto done;
    }
    const tes_mdoc_doc_request *dr = &req.docs[doc];
    cr.credential_id = t.cred_id;
    tes_text_printable(cr.doctype, sizeof(cr.doctype), dr->doctype);
    const tes_cert *reader = NULL;
    tes_err ae = p->reader_trust == NULL
                     ? tes_err_set(TES_ERR_CHAIN_UNTRUSTED, "the wallet trusts no reader authority")
                     : tes_mdoc_request_verify_reader(&req, doc, tes_session_transcript_bytes(t.s),
                                                      p->reader_trust, p->now, &reader);
    if (ae == TES_OK) {
        const tes_cert_info *ci = tes_cert_get_info(reader);
        cr.reader_authenticated = true;
        const char *name = ci->common_name[0] ? ci->common_name : ci->subject;
        tes_text_printable(cr.reader_name, sizeof(cr.reader_name), TES_BYTES(name, strlen(name)));
        tes_text_printable(cr.reader_issuer, sizeof(cr.reader_issuer),
                           TES_BYTES(ci->issuer, strlen(ci->issuer)));
        snprintf(t.rp, sizeof(t.rp), "%s", cr.reader_name);
        /* no scope, or a malformed one: every element is out of scope */
        if (tes_reader_scope_from_cert(reader, &scope) == TES_OK) {
            have_scope = true;
            tes_text_printable(cr.purpose, sizeof(cr.purpose),
                               TES_BYTES(scope.purpose, strlen(scope.purpose)));
        }
    } else {
        if (tes_err_is_env(ae)) {
            e = fail(&t, ae, TES_SESSION_STATUS_TERMINATION);
            goto done;
        }
        char why[256];
        snprintf(why, sizeof(why), "%s: %s", tes_err_name(ae), tes_err_message());
        tes_text_printable(cr.reader_problem, sizeof(cr.reader_problem),
                           TES_BYTES(why, strlen(why)));
        snprintf(t.rp, sizeof(t.rp), "unauthenticated reader");
    }
    snprintf(out->reader_name, sizeof(out->reader_name), "%s", cr.reader_name);
    out->reader_authenticated = cr.reader_authenticated;
    out->credential_id = t.cred_id;
    prox_elems_list(&t.log_elems, dr->elems, dr->n_elems);

    /* 3. at most two age_over_NN (18013-5 §7.2.5) */
    size_t n_age = 0;
    for (size_t i = 0; i < dr->n_elems; i++) {
        if (prox_age_over_nn(dr->elems[i].name) < 0)
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = tes_bytes_eq(dr->elems[j].ns, dr->elems[i].ns) &&
                   tes_bytes_eq(dr->elems[j].name, dr->elems[i].name);
        n_age += !seen;
    }
    if (n_age > 2) {
        e = tes_err_set(TES_ERR_AGE_OVER_LIMIT,
                        "the reader asks for %zu age_over_NN elements; at most two are answered",
                        n_age);
        if (empty_response(TES_BYTES(NULL, 0), 10, &resp) == TES_OK)
            (void)send_final(&t, tes_buf_bytes(&resp));
        e = fail(&t, TES_ERR_AGE_OVER_LIMIT, TES_SESSION_STATUS_TERMINATION);
        goto done;
    }

    /* 4. consent, on what the copy the store would hand out holds (peeked:
     * nothing is taken or counted before consent) */
    e = tes_store_peek_copy(p->store, t.cred_id, &peek);
    if (e == TES_OK)
        e = prox_cred_elements_read(tes_buf_bytes(&peek.mdoc), &held);
    if (e != TES_OK) {
        e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
        goto done;
    }
    cr.items = calloc(dr->n_elems ? dr->n_elems : 1, sizeof(*cr.items));
    approved = calloc(dr->n_elems ? dr->n_elems : 1, sizeof(*approved));
    if (cr.items == NULL || approved == NULL) {
        e = fail(&t, tes_err_set(TES_ERR_NOMEM, "out of memory"), TES_SESSION_STATUS_TERMINATION);
        goto done;
    }
    cr.n_items = dr->n_elems;
    for (size_t i = 0; i < dr->n_elems; i++) {
        tes_consent_item *it = &cr.items[i];
        it->ns = dr->elems[i].ns;
        it->name = dr->elems[i].name;
        it->intent_to_retain = dr->elems[i].intent_to_retain;
        it->in_scope = have_scope && tes_reader_scope_allows(&scope, it->ns, it->name);
        it->held = prox_cred_answer(&held, it->ns, it->name) >= 0;
    }
    e = p->consent ? p->consent(p->consent_ctx, &cr, pin)
                   : tes_err_set(TES_ERR_CONSENT, "no consent callback: declined");
    pin[sizeof(pin) - 1] = '\0';
    if (e == TES_ERR_CONSENT) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", tes_err_message());
        send_status(&t, TES_SESSION_STATUS_TERMINATION);
        log_add(&t, "declined");
        e = tes_err_set(TES_ERR_CONSENT, "%s", msg);
        goto done;
    }
    if (e != TES_OK) {
        e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
        goto done;
    }

    /* 5. what is released: approved, in scope (or overridden), held */
    size_t n_approved = 0;
    for (size_t i = 0; i < cr.n_items; i++) {
        const tes_consent_item *it = &cr.items[i];
        if (it->approve && (it->in_scope || it->override_scope) && it->held)
            approved[n_approved++] = dr->elems[i];
    }
    if (n_approved == 0) {
        /* nothing to release: no key use, no copy spent */
        tes_buf_reset(&t.log_elems);
        e = empty_response(dr->doctype, 0, &resp);
        if (e == TES_OK)
            e = send_final(&t, tes_buf_bytes(&resp));
        if (e != TES_OK) {
            e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
            goto done;
        }
        log_add(&t, "disclosed");
        goto done;
    }
    /* 6. the holder's one sequence: PIN, copy, signature or MAC, log */
    tes_holder_answer_params ap = {.se = p->se,
                                   .store = p->store,
                                   .cred_id = t.cred_id,
                                   .elems = approved,
                                   .n_elems = n_approved,
                                   .transcript = tes_session_transcript_bytes(t.s),
                                   .auth = TES_DEVICE_AUTH_SIGNATURE,
                                   .pin = pin,
                                   .relying_party = t.rp,
                                   .now = p->now};
    /* MAC when the SE can export an ECDH secret, else signature */
    if ((tes_se_caps(p->se) & TES_SE_CAP_ECDH_EXPORT) && p->se->ops->key_agreement != NULL &&
        ereader_key_from_establishment(tes_buf_bytes(&est), &ereader) == TES_OK) {
        ap.auth = TES_DEVICE_AUTH_MAC;
        ap.reader_key = ereader;
    }
    e = tes_holder_answer_request(&ap, &resp, &ans);
    t.logged = true; /* the sequence logs its own outcome */
    if (e == TES_OK)
        e = send_final(&t, tes_buf_bytes(&resp));
    if (e != TES_OK) {
        e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
        goto done;
    }
    out->disclosed = ans.answered;

done:
    tes_wipe(pin, sizeof(pin));
    tes_key_free(ereader);
    free(approved);
    free(cr.items);
    free(held.e);
    tes_store_copy_free(&peek);
    tes_holder_answer_free(&ans);
    tes_reader_scope_free(&scope);
    tes_mdoc_request_free(&req);
    if (t.s)
        tes_session_free(t.s);
    tes_buf_free(&est);
    request.secret = true;
    tes_buf_free(&request);
    resp.secret = true;
    tes_buf_free(&resp);
    tes_buf_free(&t.log_elems);
    return e;
}
