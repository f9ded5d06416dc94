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

enum MHD_Result svc_handle_credential(tes_issuer *s, struct MHD_Connection *c,
                                          const tes_buf *body)
{
    char token[64];
    const char *why = NULL;
    if (!bearer_token(c, token, &why)) {
        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) == NULL)
            /* RFC 6750 §3.1: no error code in the challenge when no token was sent. */
            return httpd_send_error(c, 401, "invalid_token", why, "Bearer", NULL);
        return svc_send_error(c, TES_ERR_TOKEN, why);
    }
    if (svc_rl_touch(s, "token", token, strlen(token), 1) > s->rate_limit)
        return svc_send_error(c, TES_ERR_RATE_LIMIT,
                          "too many credential requests with this access token; wait a minute");

    tes_registry *r;
    tes_err err = svc_worker_registry(s, &r);
    if (err != TES_OK)
        return svc_send_error(c, err, NULL);
    const int64_t now = now_of(s);
    int64_t person_id;
    if ((err = tes_registry_token_check(r, token, now, &person_id)) != TES_OK) {
        tes_wipe(token, sizeof token);
        return svc_send_last_error(c, err, NULL);
    }
    /* The token is checked again where the batch is recorded (with the person's and
     * the phones' state, and the budgets), in the same transaction. */

    iss_cred_req req;
    if ((err = iss_cred_req_parse((const char *)body->ptr, body->len, s->pol.batch_max, &req)) !=
        TES_OK) {
        tes_wipe(token, sizeof token);
        return svc_send_last_error(c, err, NULL);
    }

    enum MHD_Result ret = MHD_NO;
    iss_proof *proofs = calloc(req.n, sizeof *proofs);
    iss_key_att ka = {0}; /* the attestation proof type's one key attestation */
    bindings b = {0};
    char *doctype = NULL, *claims_json = NULL;
    tes_mdoc_claims claims = {0};
    tes_registry_issued *issued = NULL;
    json_t *list = json_array();
    const char *nonce = NULL; /* the c_nonce the request answers */
    char prefix[64], dev[65];
    if (proofs == NULL || list == NULL) {
        ret = svc_send_error(c, TES_ERR_NOMEM, "out of memory");
        goto out;
    }

    if (req.attestation) {
        /* ---- proof type "attestation": one key attestation names every key */
        if (s->pol.vendor_roots.len == 0) {
            ret = svc_send_error(c, TES_ERR_PROOF,
                             "the attestation proof type needs a key attestation this issuer can "
                             "trust, and it has no vendor roots: send jwt proofs");
            goto out;
        }
        err =
            iss_key_att_parse(&s->pol, req.proofs[0], strlen(req.proofs[0]), now, false, NULL, &ka);
        if (err != TES_OK) {
            ret = send_ka_error(c, err, "key attestation not accepted");
            goto out;
        }
        if (ka.n > s->pol.batch_max) {
            char d[160];
            snprintf(d, sizeof d, "the key attestation attests %zu keys; at most %zu per request",
                     ka.n, s->pol.batch_max);
            ret = svc_send_error(c, TES_ERR_PROOF, d);
            goto out;
        }
        if ((err = bindings_alloc(&b, ka.n)) != TES_OK) {
            ret = svc_send_error(c, err, NULL);
            goto out;
        }
        for (size_t i = 0; i < ka.n; i++)
            if ((err = iss_key_att_device_id(&ka, ka.keys[i], dev)) != TES_OK ||
                (err = bindings_add(&b, ka.keys[i], dev)) != TES_OK) {
                ret = svc_send_last_error(c, err, "key attestation");
                goto out;
            }
        nonce = ka.nonce;
    } else {
        /* ---- every proof: framing, signature, claims, its key attestation's contents */
        size_t cap = 0;
        for (size_t i = 0; i < req.n; i++) {
            err = iss_proof_parse(&s->pol, req.proofs[i], strlen(req.proofs[i]), now, &proofs[i]);
            if (err != TES_OK) {
                if (err == TES_ERR_HTTP_REQUEST)
                    err = TES_ERR_PROOF; /* a malformed JWT is an invalid proof */
                snprintf(prefix, sizeof prefix, "proof %zu", i);
                ret = svc_send_last_error(c, err, prefix);
                goto out;
            }
            cap += 1 + proofs[i].ka.n;
        }
        for (size_t i = 1; i < req.n; i++)
            if (strcmp(proofs[i].nonce, proofs[0].nonce) != 0) {
                ret = svc_send_error(c, TES_ERR_PROOF,
                                 "all proofs of one request must carry the same "
                                 "c_nonce");
                goto out;
            }
        for (size_t i = 0; i < req.n; i++)
            for (size_t j = i + 1; j < req.n; j++)
                if (tes_key_equal_public(proofs[i].key, proofs[j].key)) {
                    char d[160];
                    snprintf(d, sizeof d,
                             "proofs %zu and %zu use the same key; each copy needs its "
                             "own key",
                             i, j);
                    ret = svc_send_error(c, TES_ERR_PROOF, d);
                    goto out;
                }
        /* The keys: each proof's, then those its key attestation names besides
         * (OpenID4VCI 1.0 Appendix F.1: a credential for each attested key), once
         * the attestation was checked against the vendor roots. */
        if ((err = bindings_alloc(&b, cap)) != TES_OK) {
            ret = svc_send_error(c, err, NULL);
            goto out;
        }
        for (size_t i = 0; i < req.n; i++) {
            snprintf(prefix, sizeof prefix, "proof %zu", i);
            if ((err = iss_proof_device_id(&proofs[i], dev)) != TES_OK ||
                (err = bindings_add(&b, proofs[i].key, dev)) != TES_OK) {
                ret = svc_send_last_error(c, err, prefix);
                goto out;
            }
        }
        /* Without vendor roots nobody vouches for a key attestation: its other keys
         * proved nothing (only the proof's key signed), so they get no credential. */
        for (size_t i = 0; i < req.n && s->pol.vendor_roots.len > 0; i++)
            for (size_t k = 0; k < proofs[i].ka.n; k++)
                if ((err = iss_key_att_device_id(&proofs[i].ka, proofs[i].ka.keys[k], dev)) !=
                        TES_OK ||
                    (err = bindings_add(&b, proofs[i].ka.keys[k], dev)) != TES_OK) {
                    snprintf(prefix, sizeof prefix, "proof %zu", i);
                    ret = svc_send_last_error(c, err, prefix);
                    goto out;
                }
        if (b.n > s->pol.batch_max) {
            char d[160];
            snprintf(d, sizeof d,
                     "the proofs and their key attestations name %zu keys; at most %zu per "
                     "request",
                     b.n, s->pol.batch_max);
            ret = svc_send_error(c, TES_ERR_PROOF, d);
            goto out;
        }
        nonce = proofs[0].nonce;
    }

    /* ---- the nonce, once for the request */
    if (strlen(nonce) > 63) {
        ret = svc_send_error(c, TES_ERR_NONCE, "the c_nonce is unknown, used or expired");
        goto out;
    }
    if ((err = tes_registry_nonce_consume(r, nonce, now)) != TES_OK) {
        ret = svc_send_last_error(c, err, NULL);
        goto out;
    }

    /* ---- key attestations: the signers' trust */
    if (req.attestation) {
        if ((err = iss_key_att_trust(&s->pol, &ka, now)) != TES_OK) {
            ret = send_ka_error(c, err, "key attestation not accepted");
            goto out;
        }
    } else {
        for (size_t i = 0; i < req.n; i++) {
            if ((err = iss_proof_attestation(&s->pol, &proofs[i], now)) != TES_OK) {
                snprintf(prefix, sizeof prefix, "proof %zu", i);
                ret = svc_send_last_error(c, err, prefix);
                goto out;
            }
        }
    }

    /* ---- the person's claims for the requested doctype */
    if ((err = tes_registry_person_get(r, person_id, &doctype, &claims_json)) != TES_OK) {
        ret = svc_send_last_error(c, err == TES_ERR_NOT_FOUND ? TES_ERR_STORE : err, NULL);
        goto out;
    }
    if (strcmp(doctype, req.config_id) != 0) {
        char d[300];
        snprintf(d, sizeof d, "this access token is for %.128s, not %.128s", doctype,
                 req.config_id);
        ret = svc_send_error(c, TES_ERR_NOT_FOUND, d);
        goto out;
    }
    const tes_doctype *t = tes_doctype_find(doctype);
    if (t == NULL || (err = tes_mdoc_claims_from_json(t, claims_json, strlen(claims_json),
                                                      "/nonexistent", &claims)) != TES_OK) {
        ret = svc_send_error(c, TES_ERR_STORE, NULL);
        goto out;
    }

    /* ---- record the batch (status indexes), then sign */
    for (size_t i = 0; i < b.n; i++) {
        b.ptrs[i] = b.ids[i];
        b.ptrs[b.n + i] = b.ids[b.cap + i];
    }
    if ((issued = calloc(b.n, sizeof *issued)) == NULL) {
        ret = svc_send_error(c, TES_ERR_NOMEM, NULL);
        goto out;
    }
    /* signed = validFrom = the start of the UTC day (one value for every copy of the
     * day), but never before the document signer's notBefore: ISO 18013-5 §9.3.1 wants
     * the MSO signed while the DS certificate is valid, and verifiers check it. On an
     * older authority's first day (DS valid from "an hour ago") that is the notBefore,
     * still one value for the whole day; validUntil stays on the day boundary. */
    const int64_t day_start = now - ((now % DAY) + DAY) % DAY;
    const int64_t ds_not_before = tes_cert_get_info(s->ds)->not_before;
    int64_t valid_from = day_start;
    if (valid_from < ds_not_before)
        valid_from = ds_not_before < now ? ds_not_before : now;
    const int64_t valid_until = day_start + s->valid_days * DAY;
    char list_uri[TES_REGISTRY_URI_MAX];
    if ((err = tes_registry_issue_for_token(r, token, now, doctype, valid_from, valid_until,
                                            s->status_base, s->status_list_size, &s->budget,
                                            b.ptrs, b.ptrs + b.n, b.n, issued, list_uri)) !=
        TES_OK) {
        /* The holder's or the phone's state, the budget, a withdrawn token: say which. */
        if (err == TES_ERR_DENIED || err == TES_ERR_BUDGET || err == TES_ERR_TOKEN)
            ret = svc_send_last_error(c, err, NULL);
        else
            ret = svc_send_error(c, err, NULL);
        goto out;
    }
    err = issue_copies(s, doctype, &claims, b.keys, issued, b.n, valid_from, valid_until,
                       list_uri, list);
    if (err != TES_OK) {
        /* The batch is recorded but will not be delivered: revoke it. */
        for (size_t i = 0; i < b.n; i++) {
            /* Best effort: the answer is 500 either way, and a copy left VALID is one that
             * nobody holds. */
            tes_err re = tes_registry_set_status(r, issued[i].credential_id, person_id,
                                                 TES_STATUS_REVOKED, "system", NULL);
            (void)re;
        }
        ret = svc_send_error(c, err, NULL);
        goto out;
    }
    json_t *resp = json_pack("{s:O}", "credentials", list);
    /* "device_id" (not in OpenID4VCI; wallets ignore unknown members): the phone
     * the copies are bound to, for 'report lost'; only when all copies share one. */
    bool one_device = true;
    for (size_t i = 1; i < b.n; i++)
        one_device = one_device && strcmp(b.ids[b.cap + i], b.ids[b.cap]) == 0;
    if (resp != NULL && one_device)
        json_object_set_new(resp, "device_id", json_string(b.ids[b.cap]));
    ret = httpd_send_json(c, 200, resp, true, NULL, NULL);
out:
    tes_wipe(token, sizeof token);
    json_decref(list);
    if (proofs)
        for (size_t i = 0; i < req.n; i++)
            iss_proof_free(&proofs[i]);
    free(proofs);
    iss_key_att_free(&ka);
    bindings_free(&b);
    free(issued);
    tes_mdoc_claims_free(&claims);
    free(doctype);
    free(claims_json);
    iss_cred_req_free(&req);
    return ret;
}
