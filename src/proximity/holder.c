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
 *      overridden by the holder) AND held by the credential. The PIN is
 *      checked before a single-use copy is taken, so a wrong PIN costs no copy.
 *   6. DeviceResponse signed (or MACed) by the copy's secure-element key,
 *      sent as the final SessionData (status 20); the log records it.
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

/* ------------------------------------------------------------ the credential's elements */

typedef struct cred_elem {
    tes_bytes ns, name; /* point into the credential bytes */
    int age;            /* NN of age_over_NN, else -1 */
    bool value;         /* elementValue is true (for age_over_NN) */
} cred_elem;

typedef struct cred_elems {
    cred_elem *e;
    size_t n;
} cred_elems;

#define CRED_MAX_ELEMENTS 4096
static const tes_cbor_limits cred_limits = {.max_input = 16u << 20, .max_depth = 24};

/* Reads (namespace, elementIdentifier) of every IssuerSignedItem of a stored
 * credential ({"docType", "issuerSigned"} or a bare IssuerSigned). */
static tes_err cred_elements_read(tes_bytes mdoc, cred_elems *out)
{
    *out = (cred_elems){0};
    tes_cbor_doc d;
    tes_err e = tes_cbor_parse(mdoc, &cred_limits, &d);
    if (e != TES_OK)
        return e;
    uint32_t is = tes_cbor_map_get_text(&d, 0, "issuerSigned");
    if (is == TES_CBOR_NONE)
        is = 0;
    uint32_t nss = tes_cbor_map_get_text(&d, is, "nameSpaces");
    size_t total = 0;
    if (!tes_cbor_is(&d, nss, TES_CBOR_MAP)) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "stored credential has no issuerSigned nameSpaces");
        goto out;
    }
    for (uint32_t k = tes_cbor_child(&d, nss); k != TES_CBOR_NONE && k < d.nodes[nss].next;) {
        uint32_t arr = tes_cbor_next(&d, k);
        if (!tes_cbor_is(&d, k, TES_CBOR_TEXT) || !tes_cbor_is(&d, arr, TES_CBOR_ARRAY)) {
            e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "stored credential nameSpaces malformed");
            goto out;
        }
        total += tes_cbor_count(&d, arr);
        k = tes_cbor_next(&d, arr);
    }
    if (total > CRED_MAX_ELEMENTS) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "stored credential has more than %d elements",
                        CRED_MAX_ELEMENTS);
        goto out;
    }
    out->e = calloc(total ? total : 1, sizeof(*out->e));
    if (out->e == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint32_t k = tes_cbor_child(&d, nss); k != TES_CBOR_NONE && k < d.nodes[nss].next;) {
        uint32_t arr = tes_cbor_next(&d, k);
        tes_bytes ns = TES_BYTES(d.nodes[k].data, d.nodes[k].len);
        for (uint32_t c = tes_cbor_child(&d, arr); c != TES_CBOR_NONE && c < d.nodes[arr].next;
             c = tes_cbor_next(&d, c)) {
            tes_bytes inner;
            tes_cbor_doc it;
            if (!tes_cbor_tag24_content(&d, c, &inner) ||
                tes_cbor_parse(inner, &cred_limits, &it) != TES_OK) {
                e = tes_err_set(TES_ERR_MDOC_ITEM, "stored credential item is not "
                                                   "IssuerSignedItemBytes");
                goto out;
            }
            uint32_t id = tes_cbor_map_get_text(&it, 0, "elementIdentifier");
            uint32_t val = tes_cbor_map_get_text(&it, 0, "elementValue");
            if (!tes_cbor_is(&it, id, TES_CBOR_TEXT) || val == TES_CBOR_NONE) {
                tes_cbor_doc_free(&it);
                e = tes_err_set(TES_ERR_MDOC_ITEM, "stored credential item lacks "
                                                   "elementIdentifier or elementValue");
                goto out;
            }
            /* the text points into `inner`, i.e. into the credential bytes */
            cred_elem *x = &out->e[out->n++];
            x->ns = ns;
            x->name = TES_BYTES(it.nodes[id].data, it.nodes[id].len);
            x->age = prox_age_over_nn(x->name);
            x->value = tes_cbor_is(&it, val, TES_CBOR_TRUE);
            tes_cbor_doc_free(&it);
        }
        k = tes_cbor_next(&d, arr);
    }
out:
    tes_cbor_doc_free(&d);
    if (e != TES_OK) {
        free(out->e);
        *out = (cred_elems){0};
    }
    return e;
}

/* The credential holds the element, or answers age_over_NN by the nearest
 * match (a true age_over above NN, or a false one below it; 18013-5 §7.2.5). */
static bool cred_holds(const cred_elems *c, tes_bytes ns, tes_bytes name)
{
    int nn = prox_age_over_nn(name);
    for (size_t i = 0; i < c->n; i++) {
        const cred_elem *x = &c->e[i];
        if (!tes_bytes_eq(x->ns, ns))
            continue;
        if (tes_bytes_eq(x->name, name))
            return true;
        if (nn >= 0 && x->age >= 0 && ((x->age > nn && x->value) || (x->age < nn && !x->value)))
            return true;
    }
    return false;
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
                                 int64_t *cred_id, bool *single_use)
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
            *single_use = best->single_use;
            e = TES_OK;
        }
    }
    tes_store_creds_free(creds, n);
    return e;
}

typedef struct se_ecdh_ctx {
    tes_se *se;
    const char *id;
    const char *pin;
} se_ecdh_ctx;

static tes_err se_ecdh(void *ctx, const tes_key *peer, uint8_t out[TES_MAX_COORD], size_t *len)
{
    const se_ecdh_ctx *c = ctx;
    return c->se->ops->key_agreement(c->se, c->id, c->pin, peer, out, len);
}

static void log_elems_build(tes_buf *b, const tes_mdoc_req_elem *el, size_t n)
{
    tes_buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            tes_buf_append(b, ",", 1);
        tes_buf_append(b, el[i].ns.ptr, el[i].ns.len);
        tes_buf_append(b, "/", 1);
        tes_buf_append(b, el[i].name.ptr, el[i].name.len);
        if (el[i].intent_to_retain)
            tes_buf_append(b, "*", 1);
    }
    tes_buf_append(b, "", 1);
    if (b->failed)
        tes_buf_reset(b);
    else
        b->len--; /* keep the NUL outside len */
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
    tes_store_copy copy = {0};
    bool have_copy = false;
    cred_elems held = {0};
    bool held_known = false;
    tes_mdoc_req_elem *approved = NULL;
    tes_key *ereader = NULL;
    char pin[64] = {0};
    size_t doc = 0;
    bool single_use = false;

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
    e = choose_credential(&t, &req, &doc, &t.cred_id, &single_use);
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
    log_elems_build(&t.log_elems, dr->elems, dr->n_elems);

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

    /* 4. consent. A reusable credential's copy costs nothing to take now, so
     * what it holds is shown exactly; a single-use copy is taken only after
     * consent and PIN, so until then every element counts as held (the
     * holder may see an element that will turn out to be missing, never the
     * other way round). */
    if (!single_use) {
        e = tes_store_take_copy(p->store, t.cred_id, &copy);
        if (e == TES_OK) {
            have_copy = true;
            e = cred_elements_read(tes_buf_bytes(&copy.mdoc), &held);
            held_known = e == TES_OK;
        }
        if (e != TES_OK) {
            e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
            goto done;
        }
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
        it->held = !held_known || cred_holds(&held, it->ns, it->name);
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
    if (pin[0] != '\0') {
        e = p->se->ops->pin_verify(p->se, pin);
        if (e == TES_ERR_PIN_NOT_SET) {
            tes_wipe(pin, sizeof(pin)); /* no PIN on this SE: no key can need one */
            e = TES_OK;
        }
        if (e != TES_OK) {
            e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
            goto done;
        }
    }
    if (!have_copy) {
        e = tes_store_take_copy(p->store, t.cred_id, &copy);
        if (e != TES_OK) {
            e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
            goto done;
        }
        have_copy = true;
        e = cred_elements_read(tes_buf_bytes(&copy.mdoc), &held);
        if (e != TES_OK) {
            e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
            goto done;
        }
        size_t k = 0;
        for (size_t i = 0; i < n_approved; i++)
            if (cred_holds(&held, approved[i].ns, approved[i].name))
                approved[k++] = approved[i];
        n_approved = k;
    }
    log_elems_build(&t.log_elems, approved, n_approved);
    tes_se_key_info ki;
    e = p->se->ops->key_info(p->se, copy.key_id, &ki);
    if (e == TES_OK && ki.used)
        e = tes_err_set(TES_ERR_KEY_USED, "the single-use key of this copy was already used");
    if (e == TES_OK && ki.user_verification && pin[0] == '\0')
        e = tes_err_set(TES_ERR_PIN_REQUIRED, "the credential's key needs the PIN");
    if (e == TES_OK && ki.curve != TES_CURVE_P256)
        e = tes_err_set(TES_ERR_UNSUPPORTED, "the credential's key is not on P-256");
    if (e != TES_OK) {
        e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
        goto done;
    }

    /* 6. present: MAC when the SE can export an ECDH secret, else signature */
    const char *use_pin = pin[0] ? pin : NULL;
    se_ecdh_ctx ec = {p->se, copy.key_id, use_pin};
    tes_se_signer_ctx sc = {p->se, copy.key_id, use_pin};
    tes_signer signer = {tes_se_cose_sign, &sc, TES_COSE_ES256};
    tes_mdoc_present_params pp = {.mdoc = tes_buf_bytes(&copy.mdoc),
                                  .elems = approved,
                                  .n_elems = n_approved,
                                  .transcript = tes_session_transcript_bytes(t.s)};
    if ((tes_se_caps(p->se) & TES_SE_CAP_ECDH_EXPORT) && p->se->ops->key_agreement != NULL &&
        ereader_key_from_establishment(tes_buf_bytes(&est), &ereader) == TES_OK) {
        pp.reader_key = ereader;
        pp.device_ecdh = se_ecdh;
        pp.device_ecdh_ctx = &ec;
    } else {
        pp.device = &signer;
    }
    size_t missing = 0;
    tes_buf_reset(&resp);
    e = tes_mdoc_present(&pp, &resp, &missing);
    if (e == TES_OK)
        e = send_final(&t, tes_buf_bytes(&resp));
    if (e != TES_OK) {
        e = fail(&t, e, TES_SESSION_STATUS_TERMINATION);
        goto done;
    }
    out->disclosed = n_approved - (missing < n_approved ? missing : n_approved);
    log_add(&t, "disclosed");

done:
    tes_wipe(pin, sizeof(pin));
    tes_key_free(ereader);
    free(approved);
    free(cr.items);
    free(held.e);
    if (have_copy)
        tes_store_copy_free(&copy);
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
