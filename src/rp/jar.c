/*
 * The verifier's signed request object (OpenID4VP 1.0 §5, JAR RFC 9101,
 * HAIP 1.0) and the per-transaction response-encryption key.
 *
 * The key's private half is kept in the database sealed with the site's
 * db_key (AES-256-GCM, the transaction id as AAD): a copy of the database
 * alone decrypts no response. Unsealed keys live only for one call.
 */
#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"

#define REQUEST_TTL 300 /* the request object's exp after iat */

tes_err rp_tx_enc_new(const tes_rp *s, const char *tx_id, char **sealed)
{
    tes_key *k = NULL;
    tes_buf pem = {.secret = true}, ct = {0}, out = {0};
    uint8_t iv[12];
    tes_err e = tes_key_generate(TES_CURVE_P256, &k);
    if (e == TES_OK)
        e = tes_key_to_pem(k, true, &pem);
    if (e == TES_OK)
        e = tes_rng_fill(&s->rng, iv, sizeof iv);
    if (e == TES_OK)
        e = tes_aes256gcm_encrypt(s->site.db_key, iv, TES_BYTES(tx_id, strlen(tx_id)),
                                  tes_buf_bytes(&pem), &ct);
    if (e == TES_OK) {
        tes_buf raw = {0};
        tes_buf_append(&raw, iv, sizeof iv);
        tes_buf_append(&raw, ct.ptr, ct.len);
        tes_b64url_encode(&out, tes_buf_bytes(&raw));
        tes_buf_free(&raw);
        if (out.failed || (*sealed = tes_bytes_cstr(tes_buf_bytes(&out))) == NULL)
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    tes_key_free(k);
    tes_buf_free(&pem);
    tes_buf_free(&ct);
    tes_buf_free(&out);
    return e;
}

tes_err rp_tx_enc_key(const tes_rp *s, const rp_tx *t, tes_key **out)
{
    tes_buf raw = {0}, pem = {.secret = true};
    tes_err e = tes_b64url_decode(&raw, t->enc_sealed, strlen(t->enc_sealed));
    if (e == TES_OK && raw.len < 12 + 16)
        e = TES_ERR_STORE_CORRUPT;
    if (e == TES_OK)
        e = tes_aes256gcm_decrypt(s->site.db_key, raw.ptr, TES_BYTES(t->id, strlen(t->id)),
                                  TES_BYTES(raw.ptr + 12, raw.len - 12), &pem);
    if (e == TES_OK)
        e = tes_key_parse(tes_buf_bytes(&pem), out);
    tes_buf_free(&raw);
    tes_buf_free(&pem);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_STORE_CORRUPT,
                           "rp: the transaction's key does not unseal (another site's db_key?)");
    return TES_OK;
}

static json_t *x5c(const rp_site *site)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < site->n_chain; i++) {
        tes_buf b = {0};
        tes_b64_encode(&b, tes_cert_der(site->chain[i]));
        if (b.failed || json_array_append_new(a, json_stringn((const char *)b.ptr, b.len)) != 0) {
            tes_buf_free(&b);
            json_decref(a);
            return NULL;
        }
        tes_buf_free(&b);
    }
    return a;
}

/* client_metadata: the transaction's encryption key and what the verifier takes. */
static json_t *client_metadata(const tes_key *enc, const char *kid)
{
    json_t *jwk = NULL;
    if (tes_jwk_from_key(enc, &jwk) != TES_OK)
        return NULL;
    json_object_set_new(jwk, "use", json_string("enc"));
    json_object_set_new(jwk, "alg", json_string("ECDH-ES"));
    json_object_set_new(jwk, "kid", json_string(kid));
    return json_pack("{s:{s:[o]}, s:[s, s], s:{s:{s:[i], s:[i]}}}", "jwks", "keys", jwk,
                     "encrypted_response_enc_values_supported", "A128GCM", "A256GCM",
                     "vp_formats_supported", "mso_mdoc", "issuerauth_alg_values", -7,
                     "deviceauth_alg_values", -7);
}

void rp_tx_uri(const tes_rp *s, const char *what, const char *tx_id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/oid4vp/%s/%s", s->site.public_url, what, tx_id);
}

tes_err rp_request_object(const tes_rp *s, const rp_tx *t, tes_buf *out)
{
    tes_key *enc = NULL;
    tes_err e = rp_tx_enc_key(s, t, &enc);
    if (e != TES_OK)
        return e;
    char response_uri[TES_OID4VP_URI_MAX], kid[TES_JWK_THUMBPRINT_LEN + 1];
    rp_tx_uri(s, "response", t->id, response_uri, sizeof response_uri);
    e = tes_jwk_thumbprint(enc, kid);
    json_error_t je;
    json_t *dcql = e == TES_OK ? json_loads(t->dcql, JSON_REJECT_DUPLICATES, &je) : NULL;
    json_t *md = dcql ? client_metadata(enc, kid) : NULL;
    tes_key_free(enc);
    int64_t now = rp_now(s);
    json_t *payload = NULL, *header = NULL;
    if (dcql && md) /* json_pack takes the "o" references, whatever it returns */
        payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o}",
                            "client_id", s->site.client_id, "response_type", "vp_token",
                            "response_mode", "direct_post.jwt", "response_uri", response_uri,
                            "nonce", t->nonce, "state", t->state, "aud", TES_OID4VP_AUD, "iat",
                            (json_int_t)now, "exp", (json_int_t)(now + REQUEST_TTL),
                            "dcql_query", dcql, "client_metadata", md);
    else {
        json_decref(dcql);
        json_decref(md);
    }
    json_t *chain = payload ? x5c(&s->site) : NULL;
    if (chain)
        header = json_pack("{s:s, s:s, s:o}", "alg", "ES256", "typ", TES_OID4VP_REQUEST_TYP,
                           "x5c", chain);
    if (e == TES_OK && header == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "building the request object");
    if (e == TES_OK)
        e = tes_jws_sign(header, payload, tes_jws_key_signer, (void *)s->site.key, out);
    json_decref(payload);
    json_decref(header);
    return e;
}
