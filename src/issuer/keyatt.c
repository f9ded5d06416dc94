/*
 * Key attestations in JWT form (OpenID4VCI 1.0 Appendix D.1), as the issuer
 * receives them: in a proof's "key_attestation" JOSE header (Appendix F.1)
 * or as the "attestation" proof type (Appendix F.3). See issuer_internal.h
 * for the checks and their order; untrusted input, bounded, no pointer into
 * it kept.
 *
 * Trust: the attestation is signed by the key certified by x5c[0], whose
 * chain must lead to one of the issuer's vendor roots (the same roots as
 * Tessera's x5c form): trust.h's tes_trust_validate_vendor for
 * TES_PROFILE_VENDOR_KA_SIGNER, the validator tes_se_attestation_verify uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/cbor.h"
#include "tessera/jose.h"
#include "tessera/se.h"
#include "tessera/trust.h"

#include "issuer/issuer_internal.h"

void iss_key_att_free(iss_key_att *ka)
{
    if (ka == NULL)
        return;
    for (size_t i = 0; i < ka->n; i++)
        tes_key_free(ka->keys[i]);
    free(ka->keys);
    tes_buf_free(&ka->chain);
    memset(ka, 0, sizeof *ka);
}

/* The DER certificates of a CBOR chain (as iss_x5c_parse makes it), parsed. */
static tes_err chain_certs(tes_bytes chain, tes_cert *certs[ISS_X5C_MAX], size_t *n)
{
    *n = 0;
    tes_cbor_limits lim = {.max_input = ISS_X5C_MAX * (ISS_X5C_CERT_MAX + 16),
                           .max_depth = 2,
                           .max_items = ISS_X5C_MAX + 1};
    tes_cbor_doc d;
    if (tes_cbor_parse(chain, &lim, &d) != TES_OK)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "x5c is not a certificate chain");
    tes_err err = TES_OK;
    uint64_t count = tes_cbor_is(&d, 0, TES_CBOR_ARRAY) ? tes_cbor_count(&d, 0) : 0;
    if (count == 0 || count > ISS_X5C_MAX)
        err = tes_err_set(TES_ERR_ATTESTATION_FORMAT, "x5c must hold 1..%d certificates",
                          ISS_X5C_MAX);
    uint32_t node = tes_cbor_child(&d, 0);
    for (uint64_t k = 0; err == TES_OK && k < count; k++, node = tes_cbor_next(&d, node)) {
        const tes_cbor_node *c = tes_cbor_at(&d, node);
        if (!tes_cbor_is(&d, node, TES_CBOR_BYTES) ||
            tes_cert_parse(TES_BYTES(c->data, c->len), &certs[*n]) != TES_OK)
            err = tes_err_set(TES_ERR_ATTESTATION_FORMAT, "x5c[%zu] is not a DER certificate", *n);
        else
            (*n)++;
    }
    tes_cbor_doc_free(&d);
    if (err != TES_OK) {
        for (size_t i = 0; i < *n; i++)
            tes_cert_free(certs[i]);
        *n = 0;
    }
    return err;
}

/* A non-empty array of strings (key_storage, user_authentication). */
static tes_err string_array(json_t *v, const char *name)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 32)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "\"%s\" is not an array of 1..32 strings",
                           name);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
            return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "\"%s\"[%zu] is not a string", name, i);
    return TES_OK;
}

/* Does a user_authentication value say that every use of the keys needs the
 * holder (this issuer's require_uv)? Tessera's PIN value, or any ISO/IEC
 * 18045 attack-potential value of Appendix D.2 (they rate a user
 * authentication that exists). */
static bool asserts_user_verification(json_t *ua)
{
    for (size_t i = 0; ua != NULL && i < json_array_size(ua); i++) {
        const char *s = json_string_value(json_array_get(ua, i));
        if (s != NULL &&
            (strcmp(s, TES_KA_USER_AUTH_PIN) == 0 || strcmp(s, "iso_18045_high") == 0 ||
             strcmp(s, "iso_18045_moderate") == 0 || strcmp(s, "iso_18045_enhanced-basic") == 0 ||
             strcmp(s, "iso_18045_basic") == 0))
            return true;
    }
    return false;
}

static tes_err parse_claims(const iss_policy *p, json_t *cl, int64_t now, bool for_jwt_proof,
                            const char *c_nonce, iss_key_att *out)
{
    /* ---- time */
    json_t *iat = json_object_get(cl, "iat"), *exp = json_object_get(cl, "exp");
    if (!json_is_integer(iat))
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "\"iat\" missing or not an integer");
    out->iat = json_integer_value(iat);
    if (out->iat > now + ISS_IAT_SKEW)
        return tes_err_set(TES_ERR_ATTESTATION,
                           "\"iat\" is in the future (more than %d seconds ahead)", ISS_IAT_SKEW);
    if (out->iat < now - ISS_KA_MAX_AGE)
        return tes_err_set(TES_ERR_ATTESTATION, "\"iat\" is more than %d seconds old",
                           ISS_KA_MAX_AGE);
    if (exp == NULL) {
        if (for_jwt_proof)
            return tes_err_set(TES_ERR_ATTESTATION,
                               "no \"exp\" (required with the jwt proof type, OpenID4VCI 1.0 "
                               "Appendix D.1)");
    } else if (!json_is_integer(exp)) {
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "\"exp\" is not an integer");
    } else {
        out->exp = json_integer_value(exp);
        if (out->exp <= now)
            return tes_err_set(TES_ERR_ATTESTATION, "it has expired (\"exp\")");
        if (out->exp <= out->iat)
            return tes_err_set(TES_ERR_ATTESTATION, "\"exp\" is not after \"iat\"");
    }

    /* ---- the keys */
    json_t *keys = json_object_get(cl, "attested_keys");
    if (!json_is_array(keys) || json_array_size(keys) == 0 ||
        json_array_size(keys) > ISS_BATCH_HARD_MAX)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                           "\"attested_keys\" is not an array of 1..%d JWKs", ISS_BATCH_HARD_MAX);
    size_t n = json_array_size(keys);
    if ((out->keys = calloc(n, sizeof *out->keys)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char what[40];
        snprintf(what, sizeof what, "attested_keys[%zu]", i);
        tes_err err =
            iss_jwk_parse(json_array_get(keys, i), TES_ERR_ATTESTATION_FORMAT, what, &out->keys[i]);
        if (err != TES_OK)
            return err;
        out->n = i + 1;
        for (size_t j = 0; j < i; j++)
            if (tes_key_equal_public(out->keys[j], out->keys[i]))
                return tes_err_set(TES_ERR_ATTESTATION,
                                   "attested_keys[%zu] and [%zu] are the same key", j, i);
    }

    /* ---- what they are worth */
    json_t *ks = json_object_get(cl, "key_storage"),
           *ua = json_object_get(cl, "user_authentication");
    tes_err err;
    if ((ks != NULL && (err = string_array(ks, "key_storage")) != TES_OK) ||
        (ua != NULL && (err = string_array(ua, "user_authentication")) != TES_OK))
        return err;

    /* ---- freshness */
    json_t *nonce = json_object_get(cl, "nonce");
    if (nonce != NULL) {
        size_t nl = json_string_length(nonce);
        if (!json_is_string(nonce) || nl == 0 || nl > ISS_NONCE_MAX ||
            strlen(json_string_value(nonce)) != nl)
            return tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                               "\"nonce\" is not a string of 1..%d characters", ISS_NONCE_MAX);
        memcpy(out->nonce, json_string_value(nonce), nl + 1);
        if (c_nonce != NULL && strcmp(out->nonce, c_nonce) != 0)
            return tes_err_set(TES_ERR_ATTESTATION,
                               "its \"nonce\" is not the proof's c_nonce (a key attestation made "
                               "for another request)");
    } else if (c_nonce == NULL) {
        return tes_err_set(TES_ERR_ATTESTATION, "no \"nonce\" (the attestation proof type must "
                                                "carry the c_nonce)");
    }

    /* ---- this issuer's policy */
    if (p->require_uv && !asserts_user_verification(ua))
        return tes_err_set(TES_ERR_ATTESTATION,
                           "its \"user_authentication\" does not say that every use of the keys "
                           "needs the holder (e.g. \"%s\"), which this issuer requires",
                           TES_KA_USER_AUTH_PIN);
    return TES_OK;
}

tes_err iss_key_att_parse(const iss_policy *p, const char *jwt, size_t len, int64_t now,
                          bool for_jwt_proof, const char *c_nonce, iss_key_att *out)
{
    if (p == NULL || out == NULL || (jwt == NULL && len != 0))
        return tes_err_set(TES_ERR_ARG, "iss_key_att_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (len == 0 || len > ISS_KA_MAX)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "empty or longer than %d characters",
                           ISS_KA_MAX);

    /* ---- framing, base64url, JSON (tessera/jose.h) */
    const tes_jws_limits lim = {ISS_KA_MAX, ISS_KA_MAX, ISS_KA_MAX};
    tes_jws jws;
    tes_err err = tes_jws_parse(jwt, len, &lim, &jws);
    if (err == TES_ERR_JOSE || err == TES_ERR_SIGNATURE)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "%s", tes_err_message());
    if (err != TES_OK)
        return err;
    json_t *hdr = jws.header;
    tes_cert *certs[ISS_X5C_MAX] = {0};
    size_t ncerts = 0;

    /* ---- header */
    if ((err = tes_jws_check_header(&jws, TES_KA_JWT_TYP)) != TES_OK) {
        if (err == TES_ERR_JOSE_HEADER)
            err = tes_err_set(TES_ERR_ATTESTATION, "%s", tes_err_message());
        goto done;
    }
    json_t *x5c = json_object_get(hdr, "x5c");
    if (x5c == NULL || json_object_get(hdr, "jwk") != NULL || json_object_get(hdr, "kid") != NULL ||
        json_object_get(hdr, "trust_chain") != NULL) {
        err = tes_err_set(TES_ERR_ATTESTATION,
                          "the header must name its signer by \"x5c\" alone (\"jwk\", \"kid\" and "
                          "\"trust_chain\" are not accepted)");
        goto done;
    }
    if ((err = iss_x5c_parse(x5c, TES_ERR_ATTESTATION_FORMAT, "", &out->chain)) != TES_OK ||
        (err = chain_certs(tes_buf_bytes(&out->chain), certs, &ncerts)) != TES_OK)
        goto done;

    /* ---- signature over the exact received header.payload */
    err = tes_jws_verify(&jws, tes_cert_key(certs[0]));
    if (err == TES_ERR_JOSE_HEADER) {
        err = tes_err_set(TES_ERR_ATTESTATION, "the x5c[0] key is not EC P-256 (ES256)");
        goto done;
    }
    if (err == TES_ERR_SIGNATURE) {
        err = tes_err_set(TES_ERR_ATTESTATION,
                          "its signature does not verify with the key of its x5c[0] certificate");
        goto done;
    }
    if (err != TES_OK)
        goto done;

    /* ---- claims */
    err = parse_claims(p, jws.payload, now, for_jwt_proof, c_nonce, out);
done:
    for (size_t i = 0; i < ncerts; i++)
        tes_cert_free(certs[i]);
    tes_jws_free(&jws);
    if (err != TES_OK)
        iss_key_att_free(out);
    return err;
}

/* ------------------------------------------------------------------ trust */

tes_err iss_key_att_trust(const iss_policy *p, const iss_key_att *ka, int64_t now)
{
    if (p == NULL || ka == NULL)
        return tes_err_set(TES_ERR_ARG, "iss_key_att_trust: NULL argument");
    if (p->vendor_roots.len == 0)
        return TES_OK;
    tes_cert *certs[ISS_X5C_MAX] = {0};
    size_t ncerts = 0;
    tes_err err = chain_certs(tes_buf_bytes(&ka->chain), certs, &ncerts);
    if (err != TES_OK)
        return err;
    err = tes_trust_validate_vendor(TES_PROFILE_VENDOR_KA_SIGNER, certs, ncerts, p->vendor_roots,
                                    now);
    for (size_t i = 0; i < ncerts; i++)
        tes_cert_free(certs[i]);
    return err;
}
