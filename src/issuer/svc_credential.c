/*
 * The credential endpoint of the OpenID4VCI issuer service (service.c).
 *
 * Credential endpoint order of checks (each failure answers at once):
 *   bearer token (401 invalid_token) -> rate per token (429) -> JSON body
 *   (invalid_credential_request / unknown_credential_configuration) -> every proof JWT
 *   parsed, signature and claims checked, and the contents of a
 *   key_attestation header (invalid_proof) -> all proofs carry the same
 *   nonce and distinct keys, at most batch_max keys in all (invalid_proof)
 *   -> the nonce consumed once for the whole request (invalid_nonce) -> key
 *   attestations: their signers' chains to the vendor roots (invalid_proof)
 *   -> issue: one registry transaction checks the token again (withdrawn when
 *   the holder was revoked or suspended: invalid_token), the person and every
 *   phone (not revoked, suspended, or reported lost: credential_request_denied),
 *   the offer's and the person's budgets (credential_request_denied), and
 *   records the batch in the current status list, or the next one when it is
 *   full (/status/N).
 * The "attestation" proof type (OpenID4VCI 1.0 Appendix F.3, only with
 *   vendor roots): its one key attestation parsed and checked, nonce
 *   required (invalid_proof) -> at most batch_max attested keys -> its nonce
 *   consumed (invalid_nonce) -> its signer's chain (invalid_proof) -> one
 *   copy per attested key.
 * Keys bound: one copy per proof key, in proof order, then one per key a
 *   proof's key attestation names besides (Appendix F.1: "a Credential for
 *   each ... attested key"), each key once.
 *
 * Issuing a batch: the status indexes must be inside the signed MSO, so the
 * batch is recorded first (one registry transaction: credential rows, random
 * status indexes, device-key thumbprints), then the mdocs are signed in
 * memory, then the response is sent. If signing fails after the batch was
 * recorded, every credential of that batch is revoked (operator "system") so
 * no index stays VALID for a credential nobody holds, and the request gets
 * 500 server_error. A process killed between the two steps leaves recorded,
 * VALID, never-delivered credentials: harmless (no one holds them), and the
 * registry shows them as a batch with no later delivery.
 *
 * Times: signed and validFrom of every copy are the start of the current UTC
 * day, so copies of a batch (and batches of one day) cannot be told apart by
 * time, but never before the document signer certificate's notBefore (then
 * they are that notBefore); validUntil = start of the day + valid_days.
 *
 * The credential of the response is OpenID4VCI 1.0 Appendix A.2.4's form for
 * mso_mdoc: base64url (no padding) of the CBOR IssuerSigned of ISO 18013-5
 * ({"nameSpaces", "issuerAuth"}); the docType is the MSO's.
 */
#include "issuer/service_internal.h"

/* ------------------------------------------------------------------ /credential */

/* Reads "Authorization: Bearer <token>" into token (at most 63 characters). */
static bool bearer_token(struct MHD_Connection *c, char token[64], const char **why)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL) {
        *why = "the request has no Authorization: Bearer access token";
        return false;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *why = "the Authorization header is not a Bearer token";
        return false;
    }
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n > 0 && h[n - 1] == ' ')
        n--;
    if (n == 0 || n > 63) {
        *why = "the access token is unknown or expired";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        /* RFC 6750 b64token */
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              strchr("-._~+/=", ch) != NULL)) {
            *why = "the access token is malformed";
            return false;
        }
    }
    memcpy(token, h, n);
    token[n] = '\0';
    return true;
}

/* The IssuerSigned of a stored-credential map {"docType", "issuerSigned"}
 * (tes_mdoc_issue's output): a view into mdoc. OpenID4VCI 1.0 Appendix A.2.4:
 * the mso_mdoc credential is the base64url of the CBOR IssuerSigned (ISO
 * 18013-5 §8.3.2.1.2.2); the docType travels in the MSO. */
static tes_err issuer_signed_of(tes_bytes mdoc, tes_bytes *out)
{
    tes_cbor_doc d;
    tes_err err = tes_cbor_parse(mdoc, NULL, &d);
    if (err != TES_OK)
        return err;
    uint32_t is = tes_cbor_map_get_text(&d, 0, "issuerSigned");
    if (is == TES_CBOR_NONE || !tes_cbor_is(&d, is, TES_CBOR_MAP))
        err = tes_err_set(TES_ERR_MDOC_STRUCTURE, "issued mdoc has no issuerSigned map");
    else
        *out = tes_cbor_span(&d, is);
    tes_cbor_doc_free(&d);
    return err;
}

/* Signs n mdocs for the batch (indexes from the registry), copy i bound to keys[i]. */
static tes_err issue_copies(tes_issuer *s, const char *doctype, const tes_mdoc_claims *claims,
                            const tes_key *const *keys, const tes_registry_issued *issued, size_t n,
                            int64_t valid_from, int64_t valid_until, const char *status_uri,
                            json_t *list)
{
    const tes_signer signer = *tes_ds_signer_get(s->dss);
    const tes_bytes chain[1] = {tes_cert_der(s->ds)};
    /* what the holder's device may sign (the PID: its per-site pseudonym) is
     * the doctype's property */
    const tes_doctype *t = tes_doctype_find(doctype);
    tes_buf mdoc = {0}, text = {0};
    tes_err err = TES_OK;
    for (size_t i = 0; i < n && err == TES_OK; i++) {
        tes_buf_reset(&mdoc);
        tes_buf_reset(&text);
        const tes_mdoc_issue_params p = {
            .doctype = doctype,
            .claims = claims,
            .device_key = keys[i],
            .issuer = &signer,
            .ds_chain = chain,
            .ds_chain_len = 1,
            .signed_at = valid_from,
            .valid_from = valid_from,
            .valid_until = valid_until,
            .decoys = DECOYS,
            .status_uri = status_uri,
            .status_idx = issued[i].status_idx,
            .rng = &s->rng,
            .device_namespaces = t ? t->device_namespaces : NULL,
            .n_device_namespaces = t ? t->n_device_namespaces : 0,
        };
        tes_bytes is;
        if ((err = tes_mdoc_issue(&p, &mdoc)) != TES_OK ||
            (err = issuer_signed_of(tes_buf_bytes(&mdoc), &is)) != TES_OK)
            break;
        tes_b64url_encode(&text, is);
        tes_buf_append(&text, "", 1);
        if (text.failed) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
            break;
        }
        if (json_array_append_new(list, json_pack("{s:s}", "credential", (const char *)text.ptr)) !=
            0)
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    tes_buf_free(&mdoc);
    tes_buf_free(&text);
    return err;
}

/* The keys a credential request binds, each with its thumbprint and the
 * phone it is on (device id). Keys are borrowed from the proofs or the key
 * attestation they came from. */
typedef struct bindings {
    const tes_key **keys;
    char (*ids)[65];   /* thumbprints [0, cap), then device ids [cap, 2 cap) */
    const char **ptrs; /* into ids, as the registry takes them */
    size_t n, cap;
} bindings;

static void bindings_free(bindings *b)
{
    free(b->keys);
    free(b->ids);
    free(b->ptrs);
    memset(b, 0, sizeof *b);
}

static tes_err bindings_alloc(bindings *b, size_t cap)
{
    b->cap = cap;
    b->keys = calloc(cap, sizeof *b->keys);
    b->ids = calloc(2 * cap, sizeof *b->ids);
    b->ptrs = calloc(2 * cap, sizeof *b->ptrs);
    if (b->keys == NULL || b->ids == NULL || b->ptrs == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    return TES_OK;
}

/* Adds k unless it is bound already; device: its device id. */
static tes_err bindings_add(bindings *b, const tes_key *k, const char device[65])
{
    for (size_t i = 0; i < b->n; i++)
        if (tes_key_equal_public(b->keys[i], k))
            return TES_OK;
    if (b->n == b->cap)
        return tes_err_set(TES_ERR_ARG, "bindings: full");
    tes_err err = iss_key_thumbprint(k, b->ids[b->n]);
    if (err != TES_OK)
        return err;
    memcpy(b->ids[b->cap + b->n], device, 65);
    b->keys[b->n++] = k;
    return TES_OK;
}

/* "proof N: key attestation not accepted: ..." for a key attestation error. */
static enum MHD_Result send_ka_error(struct MHD_Connection *c, tes_err e, const char *prefix)
{
    if (e == TES_ERR_ATTESTATION || e == TES_ERR_ATTESTATION_FORMAT)
        return svc_send_last_error(c, TES_ERR_PROOF, prefix);
    return svc_send_last_error(c, e, NULL);
}

/* One Credential Request on its way through the steps below. Each step either
 * goes on (true) or has answered the client (false, the answer in ret). */
typedef struct cred_call {
    tes_issuer *s;
    struct MHD_Connection *c;
    tes_registry *r;
    int64_t now, person_id;
    char token[64];
    iss_cred_req req;
    iss_proof *proofs; /* jwt proofs: one per req.proofs[i] */
    iss_key_att ka;    /* proof type "attestation": its one key attestation */
    bindings b;        /* the keys to bind, in order, with their device ids */
    const char *nonce; /* the c_nonce the request answers (a view into proofs or ka) */
    enum MHD_Result ret;
} cred_call;

static bool answered(cred_call *x, enum MHD_Result ret)
{
    x->ret = ret;
    return false;
}

/* Proof type "attestation" (OpenID4VCI 1.0 Appendix F.3, only with vendor roots): its
 * one key attestation, parsed and checked, names every key. */
static bool bind_attested_keys(cred_call *x)
{
    const iss_policy *pol = &x->s->pol;
    char dev[65];
    if (pol->vendor_roots.len == 0)
        return answered(x, svc_send_error(x->c, TES_ERR_PROOF,
                                          "the attestation proof type needs a key attestation "
                                          "this issuer can trust, and it has no vendor roots: "
                                          "send jwt proofs"));
    tes_err err = iss_key_att_parse(pol, x->req.proofs[0], strlen(x->req.proofs[0]), x->now, false,
                                    NULL, &x->ka);
    if (err != TES_OK)
        return answered(x, send_ka_error(x->c, err, "key attestation not accepted"));
    if (x->ka.n > pol->batch_max) {
        char d[160];
        snprintf(d, sizeof d, "the key attestation attests %zu keys; at most %zu per request",
                 x->ka.n, pol->batch_max);
        return answered(x, svc_send_error(x->c, TES_ERR_PROOF, d));
    }
    if ((err = bindings_alloc(&x->b, x->ka.n)) != TES_OK)
        return answered(x, svc_send_error(x->c, err, NULL));
    for (size_t i = 0; i < x->ka.n; i++)
        if ((err = iss_key_att_device_id(&x->ka, x->ka.keys[i], dev)) != TES_OK ||
            (err = bindings_add(&x->b, x->ka.keys[i], dev)) != TES_OK)
            return answered(x, svc_send_last_error(x->c, err, "key attestation"));
    x->nonce = x->ka.nonce;
    return true;
}

/* jwt proofs: each one's framing, signature, claims and its key attestation's
 * contents; one c_nonce for all, a key per proof; then the keys to bind: each
 * proof's, then those its key attestation names besides (Appendix F.1: a credential
 * for each attested key) when vendor roots can vouch for them. */
static bool bind_proof_keys(cred_call *x)
{
    const iss_policy *pol = &x->s->pol;
    char prefix[64], dev[65];
    size_t cap = 0;
    tes_err err;
    for (size_t i = 0; i < x->req.n; i++) {
        err =
            iss_proof_parse(pol, x->req.proofs[i], strlen(x->req.proofs[i]), x->now, &x->proofs[i]);
        if (err != TES_OK) {
            if (err == TES_ERR_HTTP_REQUEST)
                err = TES_ERR_PROOF; /* a malformed JWT is an invalid proof */
            snprintf(prefix, sizeof prefix, "proof %zu", i);
            return answered(x, svc_send_last_error(x->c, err, prefix));
        }
        cap += 1 + x->proofs[i].ka.n;
    }
    for (size_t i = 1; i < x->req.n; i++)
        if (strcmp(x->proofs[i].nonce, x->proofs[0].nonce) != 0)
            return answered(x, svc_send_error(x->c, TES_ERR_PROOF,
                                              "all proofs of one request must carry the same "
                                              "c_nonce"));
    for (size_t i = 0; i < x->req.n; i++)
        for (size_t j = i + 1; j < x->req.n; j++)
            if (tes_key_equal_public(x->proofs[i].key, x->proofs[j].key)) {
                char d[160];
                snprintf(d, sizeof d,
                         "proofs %zu and %zu use the same key; each copy needs its own key", i, j);
                return answered(x, svc_send_error(x->c, TES_ERR_PROOF, d));
            }
    if ((err = bindings_alloc(&x->b, cap)) != TES_OK)
        return answered(x, svc_send_error(x->c, err, NULL));
    for (size_t i = 0; i < x->req.n; i++) {
        snprintf(prefix, sizeof prefix, "proof %zu", i);
        if ((err = iss_proof_device_id(&x->proofs[i], dev)) != TES_OK ||
            (err = bindings_add(&x->b, x->proofs[i].key, dev)) != TES_OK)
            return answered(x, svc_send_last_error(x->c, err, prefix));
    }
    /* Without vendor roots nobody vouches for a key attestation: its other keys
     * proved nothing (only the proof's key signed), so they get no credential. */
    for (size_t i = 0; i < x->req.n && pol->vendor_roots.len > 0; i++) {
        const iss_key_att *ka = &x->proofs[i].ka;
        for (size_t k = 0; k < ka->n; k++)
            if ((err = iss_key_att_device_id(ka, ka->keys[k], dev)) != TES_OK ||
                (err = bindings_add(&x->b, ka->keys[k], dev)) != TES_OK) {
                snprintf(prefix, sizeof prefix, "proof %zu", i);
                return answered(x, svc_send_last_error(x->c, err, prefix));
            }
    }
    if (x->b.n > pol->batch_max) {
        char d[160];
        snprintf(d, sizeof d,
                 "the proofs and their key attestations name %zu keys; at most %zu per request",
                 x->b.n, pol->batch_max);
        return answered(x, svc_send_error(x->c, TES_ERR_PROOF, d));
    }
    x->nonce = x->proofs[0].nonce;
    return true;
}

/* The nonce, consumed once for the whole request; then the key attestations'
 * signers, against the vendor roots. */
static bool consume_nonce_and_trust_keys(cred_call *x)
{
    const iss_policy *pol = &x->s->pol;
    if (strlen(x->nonce) > 63)
        return answered(
            x, svc_send_error(x->c, TES_ERR_NONCE, "the c_nonce is unknown, used or expired"));
    tes_err err = tes_registry_nonce_consume(x->r, x->nonce, x->now);
    if (err != TES_OK)
        return answered(x, svc_send_last_error(x->c, err, NULL));
    if (x->req.attestation) {
        if ((err = iss_key_att_trust(pol, &x->ka, x->now)) != TES_OK)
            return answered(x, send_ka_error(x->c, err, "key attestation not accepted"));
        return true;
    }
    for (size_t i = 0; i < x->req.n; i++)
        if ((err = iss_proof_attestation(pol, &x->proofs[i], x->now)) != TES_OK) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "proof %zu", i);
            return answered(x, svc_send_last_error(x->c, err, prefix));
        }
    return true;
}

/* The person's claims for the requested doctype, the batch recorded (status
 * indexes, state and budgets checked in the same transaction), the copies signed,
 * the answer sent. */
static bool issue_and_answer(cred_call *x)
{
    tes_issuer *s = x->s;
    char *doctype = NULL, *claims_json = NULL;
    tes_mdoc_claims claims = {0};
    tes_registry_issued *issued = NULL;
    json_t *list = json_array();
    bool ok = false;
    tes_err err = tes_registry_person_get(x->r, x->person_id, &doctype, &claims_json);
    if (err != TES_OK) {
        x->ret = svc_send_last_error(x->c, err == TES_ERR_NOT_FOUND ? TES_ERR_STORE : err, NULL);
        goto out;
    }
    if (strcmp(doctype, x->req.config_id) != 0) {
        char d[300];
        snprintf(d, sizeof d, "this access token is for %.128s, not %.128s", doctype,
                 x->req.config_id);
        x->ret = svc_send_error(x->c, TES_ERR_NOT_FOUND, d);
        goto out;
    }
    const tes_doctype *t = tes_doctype_find(doctype);
    if (t == NULL || tes_mdoc_claims_from_json(t, claims_json, strlen(claims_json), "/nonexistent",
                                               &claims) != TES_OK) {
        x->ret = svc_send_error(x->c, TES_ERR_STORE, NULL);
        goto out;
    }

    bindings *b = &x->b;
    for (size_t i = 0; i < b->n; i++) {
        b->ptrs[i] = b->ids[i];
        b->ptrs[b->n + i] = b->ids[b->cap + i];
    }
    if (list == NULL || (issued = calloc(b->n, sizeof *issued)) == NULL) {
        x->ret = svc_send_error(x->c, TES_ERR_NOMEM, NULL);
        goto out;
    }
    /* signed = validFrom = the start of the UTC day (one value for every copy of the
     * day), but never before the document signer's notBefore: ISO 18013-5 §9.3.1 wants
     * the MSO signed while the DS certificate is valid, and verifiers check it. On an
     * older authority's first day (DS valid from "an hour ago") that is the notBefore,
     * still one value for the whole day; validUntil stays on the day boundary. */
    const int64_t now = x->now;
    const int64_t day_start = now - ((now % DAY) + DAY) % DAY;
    const int64_t ds_not_before = tes_cert_get_info(s->ds)->not_before;
    int64_t valid_from = day_start;
    if (valid_from < ds_not_before)
        valid_from = ds_not_before < now ? ds_not_before : now;
    const int64_t valid_until = day_start + s->valid_days * DAY;
    char list_uri[TES_REGISTRY_URI_MAX];
    err = tes_registry_issue_for_token(x->r, x->token, now, doctype, valid_from, valid_until,
                                       s->status_base, s->status_list_size, &s->budget, b->ptrs,
                                       b->ptrs + b->n, b->n, issued, list_uri);
    if (err != TES_OK) {
        /* The holder's or the phone's state, the budget, a withdrawn token: say which. */
        if (err == TES_ERR_DENIED || err == TES_ERR_BUDGET || err == TES_ERR_TOKEN)
            x->ret = svc_send_last_error(x->c, err, NULL);
        else
            x->ret = svc_send_error(x->c, err, NULL);
        goto out;
    }
    err = issue_copies(s, doctype, &claims, b->keys, issued, b->n, valid_from, valid_until,
                       list_uri, list);
    if (err != TES_OK) {
        /* The batch is recorded but will not be delivered: revoke it. */
        for (size_t i = 0; i < b->n; i++) {
            /* Best effort: the answer is 500 either way, and a copy left VALID is one that
             * nobody holds. */
            tes_err re = tes_registry_set_status(x->r, issued[i].credential_id, x->person_id,
                                                 TES_STATUS_REVOKED, "system", NULL);
            (void)re;
        }
        x->ret = svc_send_error(x->c, err, NULL);
        goto out;
    }
    json_t *resp = json_pack("{s:O}", "credentials", list);
    /* "device_id" (not in OpenID4VCI; wallets ignore unknown members): the phone
     * the copies are bound to, for 'report lost'; only when all copies share one. */
    bool one_device = true;
    for (size_t i = 1; i < b->n; i++)
        one_device = one_device && strcmp(b->ids[b->cap + i], b->ids[b->cap]) == 0;
    if (resp != NULL && one_device)
        json_object_set_new(resp, "device_id", json_string(b->ids[b->cap]));
    x->ret = httpd_send_json(x->c, 200, resp, (httpd_reply_opts){.no_store = true});
    ok = true;
out:
    json_decref(list);
    free(issued);
    tes_mdoc_claims_free(&claims);
    free(doctype);
    free(claims_json);
    return ok;
}

/* The order of the checks is the file's head comment's. */
enum MHD_Result svc_handle_credential(tes_issuer *s, struct MHD_Connection *c, const tes_buf *body)
{
    cred_call x = {.s = s, .c = c, .ret = MHD_NO};
    const char *why = NULL;
    if (!bearer_token(c, x.token, &why)) {
        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) == NULL)
            /* RFC 6750 §3.1: no error code in the challenge when no token was sent. */
            return httpd_send_error(c, 401, "invalid_token", why,
                                    (httpd_reply_opts){.www_authenticate = "Bearer"});
        return svc_send_error(c, TES_ERR_TOKEN, why);
    }
    if (svc_rl_touch(s, "token", x.token, strlen(x.token), 1) > s->rate_limit) {
        tes_wipe(x.token, sizeof x.token);
        return svc_send_error(c, TES_ERR_RATE_LIMIT,
                              "too many credential requests with this access token; wait a "
                              "minute");
    }
    tes_err err = svc_worker_registry(s, &x.r);
    if (err != TES_OK) {
        tes_wipe(x.token, sizeof x.token);
        return svc_send_error(c, err, NULL);
    }
    x.now = now_of(s);
    /* The token is checked again where the batch is recorded (with the person's and
     * the phones' state, and the budgets), in the same transaction. */
    if ((err = tes_registry_token_check(x.r, x.token, x.now, &x.person_id)) != TES_OK) {
        tes_wipe(x.token, sizeof x.token);
        return svc_send_last_error(c, err, NULL);
    }
    if ((err = iss_cred_req_parse((const char *)body->ptr, body->len, s->pol.batch_max, &x.req)) !=
        TES_OK) {
        tes_wipe(x.token, sizeof x.token);
        return svc_send_last_error(c, err, NULL);
    }
    x.proofs = calloc(x.req.n, sizeof *x.proofs);
    bool going = x.proofs != NULL;
    if (!going)
        x.ret = svc_send_error(c, TES_ERR_NOMEM, "out of memory");
    else if (x.req.attestation)
        going = bind_attested_keys(&x);
    else
        going = bind_proof_keys(&x);
    if (going)
        going = consume_nonce_and_trust_keys(&x);
    if (going)
        (void)issue_and_answer(&x);

    tes_wipe(x.token, sizeof x.token);
    if (x.proofs)
        for (size_t i = 0; i < x.req.n; i++)
            iss_proof_free(&x.proofs[i]);
    free(x.proofs);
    iss_key_att_free(&x.ka);
    bindings_free(&x.b);
    iss_cred_req_free(&x.req);
    return x.ret;
}
