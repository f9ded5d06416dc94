/*
 * Request parsing of the OpenID4VCI service: the token form, the credential
 * request JSON and the proof-of-possession JWT (see issuer_internal.h).
 * No HTTP, no registry: pure functions over untrusted bytes, fuzzed by
 * tests/fuzz/fuzz_issuer_http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/cbor.h"
#include "tessera/cose.h"
#include "tessera/jose.h"
#include "tessera/mdoc.h"
#include "tessera/se.h"

#include "issuer/issuer_internal.h"

/* ------------------------------------------------------------------ wire errors */

const char *iss_wire_error(tes_err e, int *http_status)
{
    int st = 400;
    const char *name;
    switch (e) {
    case TES_ERR_HTTP_REQUEST:
    case TES_ERR_JSON:
    case TES_ERR_ARG:
        name = "invalid_request";
        break;
    case TES_ERR_GRANT:
        name = "invalid_grant";
        break;
    case TES_ERR_UNSUPPORTED:
        name = "unsupported_grant_type";
        break;
    case TES_ERR_TOKEN:
        name = "invalid_token";
        st = 401;
        break;
    case TES_ERR_PROOF:
        name = "invalid_proof";
        break;
    case TES_ERR_NONCE:
        name = "invalid_nonce";
        break;
    case TES_ERR_NOT_FOUND:
        name = "unknown_credential_configuration";
        break;
    case TES_ERR_RATE_LIMIT:
        name = "rate_limited";
        st = 429;
        break;
    case TES_ERR_DENIED: /* OpenID4VCI 1.0 §8.3.1.2 */
    case TES_ERR_BUDGET:
        name = "credential_request_denied";
        break;
    default:
        name = "server_error";
        st = 500;
        break;
    }
    if (http_status)
        *http_status = st;
    return name;
}

/* ------------------------------------------------------------------ token form */

tes_err iss_form_parse(const char *body, size_t len, iss_token_req *out)
{
    if (out == NULL || (body == NULL && len != 0))
        return tes_err_set(TES_ERR_ARG, "iss_form_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (len == 0)
        return tes_err_set(TES_ERR_HTTP_REQUEST, "empty token request");
    size_t pos = 0, params = 0;
    while (pos <= len) {
        const char *amp = memchr(body + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - body) : len;
        if (end == pos)
            return tes_err_set(TES_ERR_HTTP_REQUEST, "empty parameter at offset %zu", pos);
        if (++params > ISS_FORM_MAX_PARAMS)
            return tes_err_set(TES_ERR_HTTP_REQUEST, "more than %d parameters",
                               ISS_FORM_MAX_PARAMS);
        const char *eq = memchr(body + pos, '=', end - pos);
        if (eq == NULL)
            return tes_err_set(TES_ERR_HTTP_REQUEST, "parameter at offset %zu has no '='", pos);
        char name[64];
        size_t name_len = (size_t)(eq - (body + pos));
        if (name_len == 0)
            return tes_err_set(TES_ERR_HTTP_REQUEST, "parameter at offset %zu has no name", pos);
        tes_err err = tes_url_decode(body + pos, name_len, true, name, sizeof name, NULL);
        if (err != TES_OK) {
            if (err == TES_ERR_HTTP_REQUEST && name_len >= sizeof name) {
                /* A long unknown name: validate it, then ignore it. */
                char big[ISS_FORM_MAX_VALUE + 1];
                if (tes_url_decode(body + pos, name_len, true, big, sizeof big, NULL) != TES_OK)
                    return tes_err_set(TES_ERR_HTTP_REQUEST, "parameter name: %s",
                                       tes_err_message());
                name[0] = '\0';
            } else {
                return tes_err_set(err, "parameter name: %s", tes_err_message());
            }
        }
        char *dst = NULL;
        bool *seen = NULL;
        if (strcmp(name, "grant_type") == 0) {
            dst = out->grant_type;
            seen = &out->has_grant_type;
        } else if (strcmp(name, "pre-authorized_code") == 0) {
            dst = out->code;
            seen = &out->has_code;
        } else if (strcmp(name, "tx_code") == 0) {
            dst = out->tx_code;
            seen = &out->has_tx_code;
        }
        const char *val = eq + 1;
        size_t val_len = end - (size_t)(val - body);
        if (dst != NULL) {
            err = tes_url_decode(val, val_len, true, dst, ISS_FORM_MAX_VALUE + 1, NULL);
        } else {
            /* An unknown parameter (client_id, a client assertion, ...): checked for
             * syntax only, whatever its length (the body is bounded), then ignored. */
            char *scratch = malloc(val_len + 1);
            if (scratch == NULL)
                return tes_err_set(TES_ERR_NOMEM, "out of memory");
            err = tes_url_decode(val, val_len, true, scratch, val_len + 1, NULL);
            free(scratch);
        }
        if (err != TES_OK)
            return tes_err_set(err, "parameter '%.63s': %s", name[0] ? name : "(long name)",
                               tes_err_message());
        if (seen) {
            if (*seen)
                return tes_err_set(TES_ERR_HTTP_REQUEST, "parameter '%s' given twice", name);
            *seen = true;
        }
        if (amp == NULL)
            break;
        pos = end + 1;
        if (pos == len)
            return tes_err_set(TES_ERR_HTTP_REQUEST, "trailing '&'");
    }
    return TES_OK;
}

/* ------------------------------------------------------------------ credential request */

bool iss_config_known(const char *id)
{
    return id && (strcmp(id, TES_DOCTYPE_PID) == 0 || strcmp(id, TES_DOCTYPE_MDL) == 0);
}

void iss_cred_req_free(iss_cred_req *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->proofs[i]);
    free(r->proofs);
    r->proofs = NULL;
    r->n = 0;
}

tes_err iss_cred_req_parse(const char *body, size_t len, size_t batch_max, iss_cred_req *out)
{
    if (out == NULL || (body == NULL && len != 0))
        return tes_err_set(TES_ERR_ARG, "iss_cred_req_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (batch_max == 0 || batch_max > ISS_BATCH_HARD_MAX)
        batch_max = ISS_BATCH_HARD_MAX;
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return tes_err_set(TES_ERR_JSON, "credential request is not JSON: %.200s (line %d)",
                           jerr.text, jerr.line);
    tes_err err = TES_OK;
    if (!json_is_object(root)) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST, "credential request is not a JSON object");
        goto done;
    }
    /* OpenID4VCI 1.0 §8.2: members this issuer does not know are ignored. Of those
     * it knows, two it cannot serve are refused rather than ignored: an identifier
     * from authorization_details (its token endpoint returns none) and response
     * encryption (its metadata offers none; a plain answer would surprise the wallet). */
    if (json_object_get(root, "credential_identifier") != NULL) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST,
                          "credential_identifier: this issuer returns no authorization_details "
                          "with identifiers; send credential_configuration_id");
        goto done;
    }
    if (json_object_get(root, "credential_response_encryption") != NULL) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST,
                          "credential_response_encryption: this issuer does not encrypt "
                          "credential responses (its metadata has no "
                          "credential_response_encryption)");
        goto done;
    }
    json_t *id = json_object_get(root, "credential_configuration_id");
    if (!json_is_string(id)) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST,
                          "credential_configuration_id missing or not a string");
        goto done;
    }
    const char *ids = json_string_value(id);
    if (json_string_length(id) > ISS_CONFIG_ID_MAX || !iss_config_known(ids)) {
        err =
            tes_err_set(TES_ERR_NOT_FOUND, "credential configuration '%.128s' is not offered", ids);
        goto done;
    }
    memcpy(out->config_id, ids, json_string_length(id) + 1);

    json_t *proofs = json_object_get(root, "proofs");
    if (proofs == NULL) {
        err = tes_err_set(TES_ERR_PROOF,
                          json_object_get(root, "proof") != NULL
                              ? "the request has no proofs (the single proof of the drafts is "
                                "not OpenID4VCI 1.0: send proofs)"
                              : "the request has no proofs");
        goto done;
    }
    if (!json_is_object(proofs) || json_object_size(proofs) != 1) {
        err = tes_err_set(TES_ERR_PROOF, "proofs must be an object with exactly one proof type");
        goto done;
    }
    json_t *jwts = json_object_get(proofs, "jwt");
    if (jwts == NULL && (jwts = json_object_get(proofs, "attestation")) != NULL) {
        /* OpenID4VCI 1.0 Appendix F.3: exactly one key attestation, no proof of
         * possession; it names every key to bind. */
        if (!json_is_array(jwts) || json_array_size(jwts) != 1) {
            err = tes_err_set(TES_ERR_PROOF,
                              "proofs.attestation must be an array of exactly one key attestation");
            goto done;
        }
        out->attestation = true;
    }
    if (jwts == NULL) {
        err = tes_err_set(TES_ERR_PROOF,
                          "proof type not supported (only \"jwt\" and \"attestation\")");
        goto done;
    }
    if (!json_is_array(jwts) || json_array_size(jwts) == 0) {
        err = tes_err_set(TES_ERR_PROOF, "proofs.jwt must be a non-empty array");
        goto done;
    }
    size_t n = json_array_size(jwts);
    if (n > batch_max) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST, "%zu proofs: at most %zu per request (batch_size)",
                          n, batch_max);
        goto done;
    }
    out->proofs = calloc(n, sizeof *out->proofs);
    if (out->proofs == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(jwts, i);
        size_t max = out->attestation ? ISS_KA_MAX : ISS_JWT_MAX;
        if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > max) {
            err = tes_err_set(TES_ERR_PROOF, "proof %zu is not a JWT string of 1..%zu characters",
                              i, max);
            goto done;
        }
        size_t l = json_string_length(j);
        out->proofs[i] = malloc(l + 1);
        if (out->proofs[i] == NULL) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(out->proofs[i], json_string_value(j), l + 1);
        out->n = i + 1;
    }
done:
    json_decref(root);
    if (err != TES_OK)
        iss_cred_req_free(out);
    return err;
}

/* ------------------------------------------------------------------ proof JWT */

void iss_proof_free(iss_proof *p)
{
    if (p == NULL)
        return;
    tes_key_free(p->key);
    tes_buf_free(&p->attestation);
    iss_key_att_free(&p->ka);
    memset(p, 0, sizeof *p);
}

tes_err iss_jwk_parse(json_t *jwk, tes_err code, const char *what, tes_key **out)
{
    tes_err err = tes_jwk_to_key(jwk, out);
    return err == TES_ERR_JWK ? tes_err_set(code, "%s %s", what, tes_err_message()) : err;
}

static tes_err parse_jwk(json_t *jwk, tes_key **out)
{
    if (!json_is_object(jwk))
        return tes_err_set(TES_ERR_PROOF, "proof header has no \"jwk\" object");
    return iss_jwk_parse(jwk, TES_ERR_PROOF, "jwk", out);
}

tes_err iss_x5c_parse(json_t *x5c, tes_err code, const char *prefix, tes_buf *out)
{
    if (!json_is_array(x5c) || json_array_size(x5c) == 0 || json_array_size(x5c) > ISS_X5C_MAX)
        return tes_err_set(code, "%s\"x5c\" must be an array of 1..%d certificates", prefix,
                           ISS_X5C_MAX);
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_array(&e, json_array_size(x5c));
    tes_buf der = {0};
    tes_err err = TES_OK;
    for (size_t i = 0; i < json_array_size(x5c) && err == TES_OK; i++) {
        json_t *c = json_array_get(x5c, i);
        tes_buf_reset(&der);
        if (!json_is_string(c) || json_string_length(c) == 0 ||
            json_string_length(c) > (ISS_X5C_CERT_MAX / 3 + 1) * 4) {
            err = tes_err_set(code, "%sx5c[%zu] is not a base64 string of at most %d bytes", prefix,
                              i, ISS_X5C_CERT_MAX);
            break;
        }
        if (tes_b64_decode(&der, json_string_value(c), json_string_length(c)) != TES_OK ||
            der.len == 0 || der.len > ISS_X5C_CERT_MAX) {
            err = tes_err_set(code, "%sx5c[%zu] is not base64 DER", prefix, i);
            break;
        }
        tes_cbor_enc_bytes(&e, der.ptr, der.len);
    }
    tes_buf_free(&der);
    if (err == TES_OK && tes_cbor_enc_finish(&e) != TES_OK)
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    return err;
}

static tes_err check_claims(const iss_policy *p, json_t *claims, int64_t now, iss_proof *out)
{
    if (!tes_jwt_aud_has(claims, p->credential_issuer))
        return tes_err_set(TES_ERR_PROOF, "proof \"aud\" is not this issuer (%.200s)",
                           p->credential_issuer);
    int64_t t, exp;
    if (tes_jwt_int(claims, "iat", &t) != TES_OK)
        return tes_err_set(TES_ERR_PROOF, "proof \"iat\" missing or not an integer");
    if (t < now - ISS_IAT_SKEW || t > now + ISS_IAT_SKEW)
        return tes_err_set(TES_ERR_PROOF, "proof \"iat\" is more than %d seconds from now",
                           ISS_IAT_SKEW);
    out->iat = t;
    tes_err err = tes_jwt_int(claims, "exp", &exp);
    if (err == TES_ERR_JOSE || (err == TES_OK && exp <= now))
        return tes_err_set(TES_ERR_PROOF, "proof has expired (\"exp\")");
    json_t *nonce = json_object_get(claims, "nonce");
    if (!json_is_string(nonce) || json_string_length(nonce) == 0)
        return tes_err_set(TES_ERR_PROOF, "proof carries no \"nonce\" (get one at the nonce "
                                          "endpoint)");
    if (tes_jwt_string(claims, "nonce", ISS_NONCE_MAX, out->nonce) != TES_OK)
        return tes_err_set(TES_ERR_PROOF, "proof \"nonce\" is not a c_nonce of this issuer");
    return TES_OK;
}

tes_err iss_proof_parse(const iss_policy *p, const char *jwt, size_t len, int64_t now,
                        iss_proof *out)
{
    if (p == NULL || p->credential_issuer == NULL || out == NULL || (jwt == NULL && len != 0))
        return tes_err_set(TES_ERR_ARG, "iss_proof_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (len == 0 || len > ISS_JWT_MAX)
        return tes_err_set(TES_ERR_HTTP_REQUEST, "proof JWT empty or longer than %d characters",
                           ISS_JWT_MAX);
    /* ---- framing, base64url, JSON (tessera/jose.h) */
    const tes_jws_limits lim = {ISS_JWT_MAX, ISS_JWT_HEADER_MAX, ISS_JWT_PAYLOAD_MAX};
    tes_jws jws;
    tes_err err = tes_jws_parse(jwt, len, &lim, &jws);
    if (err == TES_ERR_JOSE || err == TES_ERR_SIGNATURE)
        return tes_err_set(err == TES_ERR_JOSE ? TES_ERR_HTTP_REQUEST : TES_ERR_PROOF, "proof %s",
                           tes_err_message());
    if (err != TES_OK)
        return err;
    json_t *hdr = jws.header;

    /* ---- header */
    if ((err = tes_jws_check_header(&jws, ISS_PROOF_TYP)) != TES_OK) {
        if (err == TES_ERR_JOSE_HEADER)
            err = tes_err_set(TES_ERR_PROOF, "proof %s", tes_err_message());
        goto done;
    }
    if (json_object_get(hdr, "kid") != NULL) {
        err = tes_err_set(TES_ERR_PROOF, "proof header must name its key by \"jwk\", not \"kid\"");
        goto done;
    }
    if ((err = parse_jwk(json_object_get(hdr, "jwk"), &out->key)) != TES_OK)
        goto done;
    json_t *x5c = json_object_get(hdr, "x5c"), *ka = json_object_get(hdr, "key_attestation");
    if (x5c != NULL && ka != NULL) {
        err = tes_err_set(TES_ERR_PROOF, "proof header carries both \"x5c\" and "
                                         "\"key_attestation\": send one form of key attestation");
        goto done;
    }
    if (ka != NULL && (!json_is_string(ka) || json_string_length(ka) == 0)) {
        err = tes_err_set(TES_ERR_PROOF, "proof header \"key_attestation\" is not a JWT string");
        goto done;
    }
    if (x5c != NULL && (err = iss_x5c_parse(x5c, TES_ERR_PROOF, "", &out->attestation)) != TES_OK)
        goto done;

    /* ---- signature over the exact received header.payload */
    if ((err = tes_jws_verify(&jws, out->key)) == TES_ERR_SIGNATURE) {
        err = tes_err_set(TES_ERR_PROOF, "proof signature does not verify with its jwk");
        goto done;
    }
    if (err != TES_OK)
        goto done;

    /* ---- claims */
    if ((err = check_claims(p, jws.payload, now, out)) != TES_OK)
        goto done;

    /* ---- the key attestation (OpenID4VCI 1.0 Appendix D.1): all but its signer's trust */
    if (ka != NULL) {
        err = iss_key_att_parse(p, json_string_value(ka), json_string_length(ka), now, true,
                                out->nonce, &out->ka);
        if (err == TES_ERR_ATTESTATION || err == TES_ERR_ATTESTATION_FORMAT) {
            err = tes_err_set(TES_ERR_PROOF, "key attestation not accepted: %s", tes_err_message());
            goto done;
        }
        if (err != TES_OK)
            goto done;
        out->has_ka = true;
        bool listed = false;
        for (size_t i = 0; i < out->ka.n && !listed; i++)
            listed = tes_key_equal_public(out->ka.keys[i], out->key);
        if (!listed)
            err = tes_err_set(TES_ERR_PROOF, "key attestation not accepted: the proof's jwk is not "
                                             "one of its attested_keys");
    }
done:
    tes_jws_free(&jws);
    if (err != TES_OK)
        iss_proof_free(out);
    return err;
}

tes_err iss_proof_attestation(const iss_policy *p, const iss_proof *proof, int64_t now)
{
    if (p == NULL || proof == NULL || proof->key == NULL)
        return tes_err_set(TES_ERR_ARG, "iss_proof_attestation: NULL argument");
    if (p->vendor_roots.len == 0)
        return TES_OK;
    if (proof->has_ka) {
        tes_err e = iss_key_att_trust(p, &proof->ka, now);
        if (e == TES_ERR_ATTESTATION || e == TES_ERR_ATTESTATION_FORMAT)
            return tes_err_set(TES_ERR_PROOF, "key attestation not accepted: %s",
                               tes_err_message());
        return e;
    }
    if (proof->attestation.len == 0)
        return tes_err_set(TES_ERR_PROOF, "key attestation required: the proof header has neither "
                                          "\"key_attestation\" nor \"x5c\"");
    tes_se_attested att = {0};
    tes_err err =
        tes_se_attestation_verify(tes_buf_bytes(&proof->attestation), p->vendor_roots,
                                  TES_BYTES(proof->nonce, strlen(proof->nonce)), now, &att);
    if (err == TES_ERR_ATTESTATION || err == TES_ERR_ATTESTATION_FORMAT)
        return tes_err_set(TES_ERR_PROOF, "key attestation not accepted: %s", tes_err_message());
    if (err != TES_OK)
        return err;
    if (!tes_key_equal_public(att.key, proof->key))
        err = tes_err_set(TES_ERR_PROOF, "the key attestation certifies a different key than "
                                         "the proof's jwk");
    else if (p->require_uv && !att.user_verification)
        err = tes_err_set(TES_ERR_PROOF, "the attested key does not require user verification "
                                         "(PIN), which this issuer requires");
    tes_key_free(att.key);
    return err;
}

/* ------------------------------------------------------------------ keys */

tes_err iss_key_thumbprint(const tes_key *k, char out[65])
{
    tes_buf cose = {0}, hex = {0};
    tes_cbor_enc e = {.out = &cose};
    tes_cose_key_write(&e, k);
    uint8_t h[32];
    tes_err err = tes_cbor_enc_finish(&e);
    if (err == TES_OK)
        err = tes_digest(TES_HASH_SHA256, tes_buf_bytes(&cose), h);
    if (err == TES_OK) {
        tes_hex_encode(&hex, TES_BYTES(h, 32));
        if (hex.failed || hex.len != 64)
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        else {
            memcpy(out, hex.ptr, 64);
            out[64] = '\0';
        }
    }
    tes_buf_free(&cose);
    tes_buf_free(&hex);
    return err;
}

/* Hex SHA-256 of the second certificate of chain (CBOR array of DER:
 * tes_se_device_id), or the thumbprint of k when the chain is empty or has
 * fewer than two certificates. */
static tes_err chain_device_id(tes_bytes chain, const tes_key *k, char out[65])
{
    if (chain.len == 0)
        return iss_key_thumbprint(k, out);
    tes_err err = tes_se_device_id(chain, out);
    if (err == TES_ERR_NOT_FOUND)
        return iss_key_thumbprint(k, out);
    if (err == TES_ERR_ATTESTATION) {
        char why[256];
        snprintf(why, sizeof why, "%s", tes_err_message());
        return tes_err_set(TES_ERR_PROOF, "%s", why);
    }
    return err;
}

tes_err iss_proof_device_id(const iss_proof *p, char out[65])
{
    if (p == NULL || p->key == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "iss_proof_device_id: NULL argument");
    return chain_device_id(tes_buf_bytes(p->has_ka ? &p->ka.chain : &p->attestation), p->key, out);
}

tes_err iss_key_att_device_id(const iss_key_att *ka, const tes_key *k, char out[65])
{
    if (ka == NULL || k == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "iss_key_att_device_id: NULL argument");
    return chain_device_id(tes_buf_bytes(&ka->chain), k, out);
}

tes_err iss_key_jwk(const tes_key *k, tes_buf *jwk_x, tes_buf *jwk_y)
{
    if (k == NULL || tes_key_curve(k) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_UNSUPPORTED, "proof keys must be EC P-256");
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    tes_err err = tes_key_public_raw(k, x, y);
    if (err != TES_OK)
        return err;
    tes_b64url_encode(jwk_x, TES_BYTES(x, 32));
    tes_b64url_encode(jwk_y, TES_BYTES(y, 32));
    if (jwk_x->failed || jwk_y->failed)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    return TES_OK;
}

/* ------------------------------------------------------------------ offer URI */

tes_err iss_offer_uri(const char *credential_issuer, const char *config_id, const char *code,
                      int tx_digits, tes_buf *out)
{
    if (credential_issuer == NULL || config_id == NULL || code == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "iss_offer_uri: NULL argument");
    json_t *offer = json_pack("{s:s, s:[s], s:{s:{s:s, s:{s:s, s:i, s:s}}}}", "credential_issuer",
                              credential_issuer, "credential_configuration_ids", config_id,
                              "grants", ISS_GRANT_PRE_AUTH, "pre-authorized_code", code, "tx_code",
                              "input_mode", "numeric", "length", tx_digits, "description",
                              "the one-time code you received at the counter");
    if (offer == NULL)
        return tes_err_set(TES_ERR_NOMEM, "cannot build the credential offer");
    char *text = json_dumps(offer, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(offer);
    if (text == NULL)
        return tes_err_set(TES_ERR_NOMEM, "cannot build the credential offer");
    static const char prefix[] = "openid-credential-offer://?credential_offer=";
    tes_buf_append(out, prefix, sizeof prefix - 1);
    tes_url_encode(out, text, strlen(text));
    free(text);
    if (out->failed)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    return TES_OK;
}
