/*
 * Processing a wallet's answer at POST /oid4vp/response/<tx> (OpenID4VP 1.0
 * §8.2 direct_post.jwt, §8.5 error responses, Appendix B.2 mso_mdoc).
 *
 * Order, each failure with its own code:
 *   1. the transaction exists (TES_ERR_RP_TX_UNKNOWN), is open
 *      (TES_ERR_RP_TX_USED) and not expired (TES_ERR_RP_TX_EXPIRED);
 *   2. the form (tes_rp_form_parse: TES_ERR_RP_RESPONSE);
 *   3. a wallet error response: its state must be the transaction's
 *      (TES_ERR_RP_STATE); the transaction is then declined;
 *   4. the JWE decrypts with the transaction's key (TES_ERR_RP_DECRYPT:
 *      another key, changed bytes; TES_ERR_RP_RESPONSE: not a JWE we take);
 *   5. the payload (tes_rp_payload_parse) and its state (TES_ERR_RP_STATE);
 *   6. the transaction is taken, atomically, once (TES_ERR_RP_TX_USED for the
 *      loser of a race or a replay);
 *   7. the DeviceResponse (tes_mdoc_verify over the OpenID4VP
 *      SessionTranscript of this transaction: its errors), the requested
 *      document and claims (TES_ERR_RP_CLAIMS), the status
 *      (TES_ERR_RP_STATUS, TES_ERR_RP_STATUS_UNKNOWN).
 * Failures in 1-5 leave the transaction open: only the holder of the
 * transaction's key and state can end it, so a stranger who learnt the URL
 * cannot spoil a login by posting garbage. From 6 on, a failure ends the
 * transaction as "failed" with the reason (and no claims).
 */
#include <stdlib.h>
#include <string.h>

#include "tessera/cbor.h"
#include "rp/rp_internal.h"

/* A claim value as JSON: scalars, text (also tagged: dates), bytes as
 * base64url; anything else as null. */
static json_t *value_json(tes_bytes cbor)
{
    tes_cbor_doc d;
    if (tes_cbor_parse(cbor, NULL, &d) != TES_OK)
        return json_null();
    uint32_t i = 0;
    if (d.nodes[0].type == TES_CBOR_TAG && d.count > 1)
        i = 1;
    const tes_cbor_node *n = &d.nodes[i];
    json_t *j = NULL;
    switch ((tes_cbor_type)n->type) {
    case TES_CBOR_TRUE:
        j = json_true();
        break;
    case TES_CBOR_FALSE:
        j = json_false();
        break;
    case TES_CBOR_UINT:
        j = n->val <= INT64_MAX ? json_integer((json_int_t)n->val) : json_null();
        break;
    case TES_CBOR_NEGINT:
        j = n->val <= INT64_MAX ? json_integer(-1 - (json_int_t)n->val) : json_null();
        break;
    case TES_CBOR_TEXT:
        j = json_stringn((const char *)n->data, n->len);
        break;
    case TES_CBOR_BYTES: {
        tes_buf b = {0};
        tes_b64url_encode(&b, TES_BYTES(n->data, n->len));
        j = b.failed ? NULL : json_stringn((const char *)b.ptr, b.len);
        tes_buf_free(&b);
        break;
    }
    default:
        j = json_null();
    }
    tes_cbor_doc_free(&d);
    return j ? j : json_null();
}

static bool bytes_is(tes_bytes b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

static const tes_mdoc_element *find_elem(const tes_mdoc_document *doc, const char *ns,
                                         const char *name)
{
    for (size_t i = 0; i < doc->n_elems; i++)
        if (bytes_is(doc->elems[i].ns, ns) && bytes_is(doc->elems[i].name, name))
            return &doc->elems[i];
    return NULL;
}

/* The requested claims of the one Credential Query, from the one document:
 * {"doctype", "claims": {ns: {el: value}}, "pseudonym"?}. The pseudonym
 * must be device-signed (COMMON decision 1): an issuer-signed one would be
 * the issuer's word, not the secure element's. */
static tes_err collect_claims(const tes_dcql_credential *cq, const tes_mdoc_result *r,
                              json_t *out)
{
    if (r->n_docs != 1 || !bytes_is(r->docs[0].doctype, cq->doctype))
        return tes_err_set(TES_ERR_RP_CLAIMS, "the presentation is not one %s document",
                           cq->doctype);
    const tes_mdoc_document *doc = &r->docs[0];
    json_t *claims = json_object();
    json_object_set_new(out, "doctype", json_string(cq->doctype));
    json_object_set_new(out, "claims", claims);
    for (size_t i = 0; i < cq->n_claims; i++) {
        const tes_dcql_claim *c = &cq->claims[i];
        const tes_mdoc_element *e = find_elem(doc, c->ns, c->element);
        bool pseudonym = strcmp(c->ns, TES_RP_PSEUDONYM_NS) == 0 &&
                         strcmp(c->element, TES_RP_PSEUDONYM_ELEMENT) == 0;
        if (e == NULL)
            return tes_err_set(TES_ERR_RP_CLAIMS, "the presentation lacks %s/%s", c->ns,
                               c->element);
        if (pseudonym && !e->device_signed)
            return tes_err_set(TES_ERR_RP_CLAIMS, "the pseudonym is not device-signed");
        json_t *v = value_json(e->value);
        if (pseudonym) {
            if (!json_is_string(v) || json_string_length(v) != 43) {
                json_decref(v);
                return tes_err_set(TES_ERR_RP_CLAIMS, "the pseudonym is not 32 bytes");
            }
            json_object_set(out, "pseudonym", v);
        }
        json_t *ns = json_object_get(claims, c->ns);
        if (ns == NULL) {
            ns = json_object();
            json_object_set_new(claims, c->ns, ns);
        }
        json_object_set_new(ns, c->element, v);
    }
    return TES_OK;
}

static tes_err check_status(tes_rp *s, const tes_mdoc_result *r)
{
    if (s->status.mode == TES_STATUS_OFF)
        return TES_OK;
    tes_status_opts o = s->status;
    o.now = rp_now(s);
    tes_status_verdict v;
    tes_err e = tes_status_check_response(&o, s->trust, r, &v);
    if (e == TES_OK && (v.value == TES_STATUS_REVOKED || v.value == TES_STATUS_SUSPENDED))
        e = tes_err_set(TES_ERR_RP_STATUS, "%s", v.message);
    else if (e == TES_OK && v.value == TES_STATUS_UNDETERMINED && !s->accept_undetermined)
        e = tes_err_set(TES_ERR_RP_STATUS_UNKNOWN,
                        "the credential's status could not be determined");
    tes_status_verdict_free(&v);
    return e;
}

/* The SessionTranscript of t (Appendix B.2.6.1). */
static tes_err transcript_of(const tes_rp *s, const rp_tx *t, tes_buf *out)
{
    tes_key *enc = NULL;
    char tp[TES_JWK_THUMBPRINT_LEN + 1], uri[TES_OID4VP_URI_MAX];
    tes_buf raw = {0};
    tes_err e = rp_tx_enc_key(s, t, &enc);
    if (e == TES_OK)
        e = tes_jwk_thumbprint(enc, tp);
    tes_key_free(enc);
    if (e == TES_OK)
        e = tes_b64url_decode(&raw, tp, strlen(tp));
    rp_tx_uri(s, "response", t->id, uri, sizeof uri);
    if (e == TES_OK)
        e = tes_oid4vp_session_transcript(s->site.client_id, t->nonce, raw.ptr, uri, out);
    tes_buf_free(&raw);
    return e;
}

tes_err rp_presentation_verify(tes_rp *s, const rp_tx *t, tes_bytes device_response,
                               json_t **result)
{
    tes_dcql_query *q = NULL;
    tes_buf st = {0};
    tes_mdoc_result r = {0};
    json_t *out = json_object();
    tes_err e = tes_dcql_parse(t->dcql, strlen(t->dcql), &q);
    if (e == TES_OK)
        e = transcript_of(s, t, &st);
    if (e == TES_OK) {
        const tes_mdoc_verify_opts o = {
            .trust = s->trust, .transcript = tes_buf_bytes(&st), .at = rp_now(s)};
        e = tes_mdoc_verify(device_response, &o, &r);
    }
    if (e == TES_OK)
        e = collect_claims(&q->credentials[0], &r, out);
    if (e == TES_OK)
        e = check_status(s, &r);
    tes_mdoc_result_free(&r);
    tes_dcql_query_free(q);
    tes_buf_free(&st);
    if (e != TES_OK || out == NULL) {
        json_decref(out);
        return e != TES_OK ? e : tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    *result = out;
    return TES_OK;
}

/* ---- the endpoint's steps ---- */

static bool same_state(const rp_tx *t, const char *state)
{
    return state != NULL &&
           tes_ct_eq(TES_BYTES(state, strlen(state)), TES_BYTES(t->state, strlen(t->state)));
}

static tes_err check_open(const tes_rp *s, const rp_tx *t)
{
    if (strcmp(t->status, "pending") != 0 && strcmp(t->status, "fetched") != 0)
        return tes_err_set(TES_ERR_RP_TX_USED, "the transaction has been answered already");
    if (rp_now(s) >= t->expires)
        return tes_err_set(TES_ERR_RP_TX_EXPIRED, "the transaction has expired");
    return TES_OK;
}

/* Decrypts the JWE with the transaction's key into plain (secret). */
static tes_err decrypt(const tes_rp *s, const rp_tx *t, const char *jwe, tes_buf *plain)
{
    tes_key *k = NULL;
    tes_err e = rp_tx_enc_key(s, t, &k);
    if (e != TES_OK)
        return e;
    json_t *hdr = NULL;
    e = tes_jwe_decrypt(jwe, strlen(jwe), TES_RP_RESPONSE_MAX, tes_jwe_key_agree, k, &hdr, plain);
    char tp[TES_JWK_THUMBPRINT_LEN + 1];
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    if (e == TES_OK && kid && tes_jwk_thumbprint(k, tp) == TES_OK && strcmp(kid, tp) != 0)
        e = tes_err_set(TES_ERR_RP_DECRYPT, "the response is encrypted to another key (kid)");
    json_decref(hdr);
    tes_key_free(k);
    if (e == TES_ERR_SIGNATURE)
        return tes_err_set(TES_ERR_RP_DECRYPT,
                           "the response does not decrypt with the transaction's key (another "
                           "key, or changed on the way)");
    if (e == TES_ERR_JOSE || e == TES_ERR_JOSE_HEADER || e == TES_ERR_JWK)
        return tes_err_set(TES_ERR_RP_RESPONSE, "the response is not a JWE this verifier takes: %s",
                           tes_err_message());
    return e;
}

static tes_err new_response_code(tes_rp *s, const rp_tx *t, char *code, size_t cap)
{
    code[0] = '\0';
    if (strcmp(t->flow, "same_device") != 0)
        return TES_OK;
    return rp_token(s, 16, code, cap);
}

/* The reply to the wallet: {} or {"redirect_uri": ...#response_code=...}. */
static json_t *wallet_reply(const tes_rp *s, const rp_tx *t, const char *code)
{
    if (code[0] == '\0' || t->browser[0] == '\0')
        return json_object();
    char uri[TES_OID4VP_URI_MAX];
    snprintf(uri, sizeof uri, "%s/site/callback#response_code=%s", s->site.public_url, code);
    return json_pack("{s:s}", "redirect_uri", uri);
}

static tes_err finish_failed(tes_rp *s, const rp_tx *t, tes_err why, const char *status)
{
    json_t *res = json_pack("{s:s, s:s}", "error", tes_err_name(why), "error_description",
                            tes_err_message_for(why));
    char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
    json_decref(res);
    tes_err e = rp_tx_finish(s->db, t->id, status, text, NULL);
    free(text);
    return e;
}

/* The wallet's error response (OpenID4VP 1.0 §8.5): the transaction is declined. */
static tes_err handle_error(tes_rp *s, const rp_tx *t, const tes_rp_form *f, char *code,
                           size_t cap)
{
    if (!same_state(t, f->state))
        return tes_err_set(TES_ERR_RP_STATE, "the error response's state is not the "
                                             "transaction's");
    tes_err e = rp_tx_claim(s->db, t->id, rp_now(s));
    if (e != TES_OK)
        return e;
    json_t *res = json_pack("{s:s, s:s}", "error", f->error, "error_description",
                            f->error_description ? f->error_description : "");
    char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
    json_decref(res);
    e = text ? new_response_code(s, t, code, cap) : tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (e == TES_OK)
        e = rp_tx_finish(s->db, t->id, "declined", text, code[0] ? code : NULL);
    free(text);
    return e;
}

static tes_err handle_response(tes_rp *s, const rp_tx *t, const tes_rp_form *f, char *code,
                               size_t cap)
{
    tes_buf plain = {.secret = true}, dr = {0};
    char *state = NULL;
    tes_err e = decrypt(s, t, f->response, &plain);
    if (e == TES_OK)
        e = tes_rp_payload_parse((const char *)plain.ptr, plain.len, t->cred_id, &state, &dr);
    if (e == TES_OK && !same_state(t, state))
        e = tes_err_set(TES_ERR_RP_STATE, "the response's state is not the transaction's");
    free(state);
    tes_buf_free(&plain);
    if (e == TES_OK)
        e = rp_tx_claim(s->db, t->id, rp_now(s));
    if (e != TES_OK) {
        tes_buf_free(&dr);
        return e;
    }
    json_t *result = NULL;
    e = rp_presentation_verify(s, t, tes_buf_bytes(&dr), &result);
    tes_buf_free(&dr);
    if (e != TES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tes_err_message_for(e));
        if (finish_failed(s, t, e, "failed") != TES_OK)
            return TES_ERR_STORE;
        return tes_err_set(e, "%s", msg);
    }
    char *text = json_dumps(result, JSON_COMPACT);
    json_decref(result);
    tes_err f_e = text ? new_response_code(s, t, code, cap) : TES_ERR_NOMEM;
    if (f_e == TES_OK)
        f_e = rp_tx_finish(s->db, t->id, "verified", text, code[0] ? code : NULL);
    free(text);
    return f_e;
}

tes_err rp_response_handle(tes_rp *s, const char *id, const tes_buf *body, json_t **reply,
                           const char **wire_error)
{
    *reply = NULL;
    *wire_error = "invalid_request";
    rp_tx t;
    tes_err e = rp_tx_get(s->db, id, &t);
    if (e != TES_OK)
        return e;
    tes_rp_form f = {0};
    char code[RP_TOKEN_MAX + 1] = "";
    if ((e = check_open(s, &t)) == TES_OK)
        e = tes_rp_form_parse(body->ptr ? (const char *)body->ptr : "", body->len, &f);
    if (e == TES_OK)
        e = f.error ? handle_error(s, &t, &f, code, sizeof code)
                    : handle_response(s, &t, &f, code, sizeof code);
    tes_rp_form_free(&f);
    if (e == TES_OK && (*reply = wallet_reply(s, &t, code)) == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    rp_tx_free(&t);
    return e;
}
