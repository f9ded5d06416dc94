/*
 * The wallet's OpenID4VCI client (tes_oid4vci_obtain, wallet.h; the wire
 * profile is the issuer's, tessera/issuer.h): offer URI ->
 * issuer and AS metadata -> token (pre-authorized code + tx code) -> c_nonce
 * -> one key, attestation and proof JWT per copy -> credential request ->
 * every returned mdoc checked to be bound to the key made for it and to carry
 * the docType of the offered configuration. Credentials come in OpenID4VCI
 * 1.0's mso_mdoc form (base64url of the CBOR IssuerSigned) and are kept as
 * stored-credential maps (mdoc.h); the older Tessera form (the map itself) is
 * still accepted (legacy, see credential_to_stored). Members of the metadata,
 * offer and responses that the client does not use are ignored.
 *
 * Attestation forms (tes_oid4vci_proof_opts): Tessera's x5c chain in each
 * proof; an OpenID4VCI 1.0 key attestation JWT in each proof's
 * "key_attestation" header (Appendix D.1, F.1), chosen by AUTO when the
 * issuer's metadata has key_attestations_required and the wallet can make
 * one; or the "attestation" proof type (Appendix F.3), one key attestation
 * for the whole batch and no signature by the keys.
 *
 * Everything received is untrusted: responses are bounded (32 MiB), parsed
 * strictly (duplicate JSON members refused), redirects are not followed,
 * only http and https are spoken, every request has a connect and a total
 * timeout.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tessera/cbor.h"
#include "tessera/jose.h"
#include "tessera/mdoc.h"

#include "tessera/wallet.h"

#include "wallet_internal.h"

#define MAX_RESPONSE (32u << 20)
#define MAX_OFFER 16384
#define CONNECT_TIMEOUT_MS 10000L
#define TOTAL_TIMEOUT_MS 60000L
#define OFFER_SCHEME "openid-credential-offer://"
/* The protocol's names and the bounds this client keeps to (the issuer's own
 * are in src/issuer/issuer_internal.h: the two sides share no code). */
#define GRANT_PRE_AUTH "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#define PROOF_TYP "openid4vci-proof+jwt"
#define BATCH_HARD_MAX 100 /* copies in one request */
#define X5C_MAX 4          /* certificates in an attestation chain */
#define NONCE_MAX 256      /* bytes of a c_nonce */

/* ------------------------------------------------------------------ HTTP */

typedef wallet_http client;
#define http_url wallet_http_url

/* Maps an OAuth / OpenID4VCI error name to a code. */
static tes_err wire_code(const char *name)
{
    static const struct {
        const char *name;
        tes_err code;
    } map[] = {
        {"invalid_grant", TES_ERR_GRANT},     {"invalid_proof", TES_ERR_PROOF},
        {"invalid_nonce", TES_ERR_NONCE},     {"invalid_token", TES_ERR_TOKEN},
        {"rate_limited", TES_ERR_RATE_LIMIT}, {"credential_request_denied", TES_ERR_DENIED},
    };
    for (size_t i = 0; name && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0)
            return map[i].code;
    return TES_ERR_HTTP_REQUEST;
}

typedef enum http_method { HTTP_GET, HTTP_POST } http_method;

/* One request (HTTP_POST sends body[0 .. body_len)); on a 2xx answer *out
 * receives the JSON object. Error answers become codes with the issuer's
 * error_description in the message. */
static tes_err http_call(client *c, const char *what, const char *url, const char *ctype,
                         const char *bearer, const char *body, size_t body_len, http_method method,
                         json_t **out)
{
    const wallet_http_req hr = {.content_type = ctype, .bearer = bearer, .body = body,
                               .body_len = body_len};
    tes_err perr = wallet_http_perform(c, what, url,
                                       method == HTTP_POST ? WALLET_HTTP_POST : WALLET_HTTP_GET, &hr);
    if (perr != TES_OK)
        return perr;
    json_error_t jerr;
    json_t *v = json_loadb(c->body.len ? (const char *)c->body.ptr : "", c->body.len,
                           JSON_REJECT_DUPLICATES, &jerr);
    if (c->status < 200 || c->status > 299) {
        json_t *e = json_is_object(v) ? json_object_get(v, "error") : NULL;
        json_t *d = json_is_object(v) ? json_object_get(v, "error_description") : NULL;
        tes_err code = json_is_string(e) ? wire_code(json_string_value(e)) : TES_ERR_HTTP_REQUEST;
        tes_err r = tes_err_set(code, "%s: HTTP %ld %s: %.300s", what, c->status,
                                json_is_string(e) ? json_string_value(e) : "(no error code)",
                                json_is_string(d) ? json_string_value(d) : "");
        json_decref(v);
        return r;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return tes_err_set(TES_ERR_HTTP_REQUEST, "%s: the answer is not a JSON object", what);
    }
    *out = v;
    return TES_OK;
}

/* ------------------------------------------------------------------ offer */

typedef struct offer {
    char *issuer, *config_id, *code;
    bool needs_tx;
} offer;

static void offer_free(offer *o)
{
    free(o->issuer);
    free(o->config_id);
    if (o->code) {
        tes_wipe(o->code, strlen(o->code));
        free(o->code);
    }
    memset(o, 0, sizeof *o);
}

static tes_err offer_parse(const char *uri, offer *o)
{
    memset(o, 0, sizeof *o);
    if (strncmp(uri, OFFER_SCHEME, sizeof OFFER_SCHEME - 1) != 0)
        return tes_err_set(TES_ERR_HTTP_REQUEST, "offer: not an " OFFER_SCHEME " URI");
    const char *q = strchr(uri, '?');
    if (q == NULL)
        return tes_err_set(TES_ERR_HTTP_REQUEST, "offer: the URI has no query");
    const char *val = NULL;
    size_t val_len = 0;
    for (const char *p = q + 1; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > 17 && strncmp(p, "credential_offer=", 17) == 0) {
            if (val != NULL)
                return tes_err_set(TES_ERR_HTTP_REQUEST, "offer: credential_offer given twice");
            val = p + 17;
            val_len = n - 17;
        } else if (n >= 21 && strncmp(p, "credential_offer_uri=", 21) == 0) {
            return tes_err_set(TES_ERR_UNSUPPORTED,
                               "offer: credential_offer_uri (offer by reference) is not supported");
        }
        p += n + (amp ? 1 : 0);
    }
    if (val == NULL)
        return tes_err_set(TES_ERR_HTTP_REQUEST, "offer: no credential_offer parameter");
    char *text = malloc(MAX_OFFER + 1);
    if (text == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    size_t len;
    tes_err err = tes_url_decode(val, val_len, true, text, MAX_OFFER + 1, &len);
    json_error_t jerr;
    json_t *j = err == TES_OK ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    tes_wipe(text, MAX_OFFER + 1); /* the pre-authorized code */
    free(text);
    if (err != TES_OK)
        return tes_err_set(TES_ERR_HTTP_REQUEST, "offer: %s", tes_err_message());
    if (!json_is_object(j)) {
        json_decref(j);
        return tes_err_set(TES_ERR_HTTP_REQUEST, "offer: credential_offer is not a JSON object");
    }
    json_t *iss = json_object_get(j, "credential_issuer");
    json_t *ids = json_object_get(j, "credential_configuration_ids");
    json_t *grant = json_object_get(json_object_get(j, "grants"), GRANT_PRE_AUTH);
    json_t *code = json_object_get(grant, "pre-authorized_code");
    json_t *id0 = json_array_get(ids, 0);
    if (!json_is_string(iss) || !http_url(json_string_value(iss))) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST, "offer: credential_issuer is not an http(s) URL");
    } else if (!json_is_string(id0)) {
        err =
            tes_err_set(TES_ERR_HTTP_REQUEST,
                        "offer: credential_configuration_ids is not a non-empty array of strings");
    } else if (!json_is_object(grant) || !json_is_string(code) || json_string_length(code) == 0) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST,
                          "offer: no pre-authorized code grant (only that grant is supported)");
    } else {
        o->issuer = strdup(json_string_value(iss));
        o->config_id = strdup(json_string_value(id0));
        o->code = strdup(json_string_value(code));
        o->needs_tx = json_object_get(grant, "tx_code") != NULL;
        if (o->issuer == NULL || o->config_id == NULL || o->code == NULL)
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        else {
            size_t n = strlen(o->issuer);
            while (n > 0 && o->issuer[n - 1] == '/')
                o->issuer[--n] = '\0';
        }
    }
    json_decref(j);
    if (err != TES_OK)
        offer_free(o);
    return err;
}

/* https://host[/path] -> https://host/.well-known/<name>[/path] (RFC 8414 §3,
 * OpenID4VCI §12.2.2). */
static char *well_known(const char *base, const char *name)
{
    const char *auth = strstr(base, "://");
    if (auth == NULL)
        return NULL;
    auth += 3;
    const char *path = strchr(auth, '/');
    size_t host_len = path ? (size_t)(path - base) : strlen(base);
    const char *rest = path ? path : "";
    if (strcmp(rest, "/") == 0)
        rest = "";
    size_t n = host_len + strlen("/.well-known/") + strlen(name) + strlen(rest) + 1;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%.*s/.well-known/%s%s", (int)host_len, base, name, rest);
    return u;
}

static const char *str_member(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ------------------------------------------------------------------ proofs */

/* The header's x5c from an attestation chain (CBOR array of DER). */
static tes_err x5c_from_chain(tes_bytes chain, json_t **out)
{
    tes_cbor_limits lim = {.max_input = 64 * 1024, .max_depth = 2, .max_items = X5C_MAX + 1};
    tes_cbor_doc d;
    if (tes_cbor_parse(chain, &lim, &d) != TES_OK)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "attestation: %s", tes_err_message());
    tes_err err = TES_OK;
    json_t *arr = json_array();
    if (!tes_cbor_is(&d, 0, TES_CBOR_ARRAY) || tes_cbor_count(&d, 0) == 0)
        err = tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                          "attestation is not a CBOR array of certificates");
    uint64_t count = err == TES_OK ? tes_cbor_count(&d, 0) : 0;
    uint32_t node = count ? tes_cbor_child(&d, 0) : TES_CBOR_NONE;
    tes_buf b64 = {0};
    for (uint64_t k = 0; k < count && err == TES_OK; k++, node = tes_cbor_next(&d, node)) {
        const tes_cbor_node *n = tes_cbor_at(&d, node);
        if (!tes_cbor_is(&d, node, TES_CBOR_BYTES)) {
            err = tes_err_set(TES_ERR_ATTESTATION_FORMAT, "attestation item %llu is not bytes",
                              (unsigned long long)k);
            break;
        }
        tes_buf_reset(&b64);
        tes_b64_encode(&b64, TES_BYTES(n->data, n->len));
        if (b64.failed || arr == NULL ||
            json_array_append_new(arr, json_stringn((const char *)b64.ptr, b64.len)) != 0)
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    tes_buf_free(&b64);
    tes_cbor_doc_free(&d);
    if (err != TES_OK || arr == NULL) {
        json_decref(arr);
        return err != TES_OK ? err : tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    *out = arr;
    return TES_OK;
}

/* Makes the key for one copy (keys->create): its id, public key and, when
 * challenge is not empty, the attestation chain create returned. */
static tes_err make_key(const tes_oid4vci_keys *keys, const char *challenge, char key_id[64],
                        tes_key **key, tes_buf *att)
{
    tes_buf pem = {0};
    tes_err err =
        keys->create(keys->ctx, TES_BYTES(challenge, strlen(challenge)), key_id, &pem, att);
    key_id[63] = '\0';
    if (err == TES_OK)
        err = tes_key_parse(tes_buf_bytes(&pem), key);
    if (err == TES_OK && tes_key_curve(*key) != TES_CURVE_P256)
        err = tes_err_set(TES_ERR_UNSUPPORTED, "key %s is not an EC P-256 key", key_id);
    tes_buf_free(&pem);
    return err;
}

/* A key attestation JWT of the n keys ids for nonce (keys->key_attestation),
 * NUL-terminated in ka. */
static tes_err make_key_attestation(const tes_oid4vci_keys *keys,
                                    const tes_oid4vci_proof_opts *proof, const char *const *ids,
                                    size_t n, const char *nonce, tes_buf *ka)
{
    tes_buf_reset(ka);
    tes_err err = proof->key_attestation(keys->ctx, ids, n, nonce, ka);
    if (err != TES_OK)
        return err;
    if (ka->len == 0 || memchr(ka->ptr, '\0', ka->len) != NULL)
        return tes_err_set(TES_ERR_ARG, "the key attestation callback gave no JWT text");
    tes_buf_append(ka, "", 1);
    return ka->failed ? tes_err_set(TES_ERR_NOMEM, "out of memory") : TES_OK;
}

/* keys->sign as a tes_jws_signer: the key stays where keys keep it. */
typedef struct proof_signer {
    const tes_oid4vci_keys *keys;
    const char *key_id;
} proof_signer;

static tes_err proof_sign(void *ctx, tes_bytes msg, uint8_t sig[TES_JWS_ES256_SIG_LEN])
{
    const proof_signer *ps = ctx;
    return ps->keys->sign(ps->keys->ctx, ps->key_id, msg, sig);
}

/* The proof JWT (NUL-terminated in jwt) for key_id / key: its header names
 * the key by "jwk" and carries either the key attestation ka (OpenID4VCI 1.0
 * Appendix F.1) or, without ka, the attestation chain att as "x5c"
 * (Tessera's form; nothing when att is empty). */
static tes_err make_proof(const tes_oid4vci_keys *keys, const char *aud, const char *nonce,
                          const char *key_id, const tes_key *key, const tes_buf *att,
                          const char *ka, int64_t iat, tes_buf *jwt)
{
    json_t *jwk = NULL, *hdr = NULL, *claims = NULL;
    tes_err err = tes_jwk_from_key(key, &jwk);
    if (err != TES_OK)
        return err;
    hdr = json_pack("{s:s, s:s, s:o}", "typ", PROOF_TYP, "alg", "ES256", "jwk", jwk);
    if (hdr != NULL && ka != NULL) {
        json_object_set_new(hdr, "key_attestation", json_string(ka));
    } else if (hdr != NULL && att->len > 0) {
        json_t *x5c = NULL;
        if ((err = x5c_from_chain(tes_buf_bytes(att), &x5c)) != TES_OK)
            goto out;
        json_object_set_new(hdr, "x5c", x5c);
    }
    claims = json_pack("{s:s, s:I, s:s}", "aud", aud, "iat", (json_int_t)iat, "nonce", nonce);
    if (hdr == NULL || claims == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    const proof_signer ps = {keys, key_id};
    if ((err = tes_jws_sign(hdr, claims, proof_sign, (void *)&ps, jwt)) != TES_OK)
        goto out;
    tes_buf_append(jwt, "", 1);
    if (jwt->failed)
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
out:
    json_decref(hdr);
    json_decref(claims);
    return err;
}

/* The proof form for this issuer's credential configuration cfg. */
static tes_err proof_form_for(const tes_oid4vci_proof_opts *keys, json_t *cfg,
                              tes_oid4vci_proof_form *form)
{
    json_t *types = json_object_get(cfg, "proof_types_supported");
    bool ka_required =
        json_is_object(json_object_get(json_object_get(types, "jwt"), "key_attestations_required"));
    bool attestation_type = json_is_object(json_object_get(types, "attestation"));
    switch (keys->form) {
    case TES_OID4VCI_PROOF_AUTO:
        *form = keys->key_attestation != NULL && ka_required ? TES_OID4VCI_PROOF_KEY_ATTESTATION
                                                             : TES_OID4VCI_PROOF_X5C;
        return TES_OK;
    case TES_OID4VCI_PROOF_X5C:
        *form = TES_OID4VCI_PROOF_X5C;
        return TES_OK;
    case TES_OID4VCI_PROOF_KEY_ATTESTATION:
    case TES_OID4VCI_PROOF_ATTESTATION:
        if (keys->key_attestation == NULL)
            return tes_err_set(TES_ERR_ARG, "a key attestation proof form needs the "
                                            "key_attestation callback");
        if (keys->form == TES_OID4VCI_PROOF_ATTESTATION && !attestation_type)
            return tes_err_set(TES_ERR_UNSUPPORTED,
                               "issuer metadata: the issuer does not accept the attestation proof "
                               "type (it is not in proof_types_supported)");
        *form = keys->form;
        return TES_OK;
    }
    return tes_err_set(TES_ERR_ARG, "tes_oid4vci_obtain: unknown proof form %d", (int)keys->form);
}

/* ------------------------------------------------------------------ credentials */

/* The stored-credential map (mdoc.h) of one received credential, into out.
 * The standard form (OpenID4VCI 1.0 Appendix A.2.4) is the CBOR IssuerSigned
 * of ISO 18013-5, {"nameSpaces", "issuerAuth"}: it is wrapped as
 * {"docType": the MSO's docType, "issuerSigned": the received bytes as they
 * are}. LEGACY: Tessera issuers before OpenID4VCI 1.0 conformance sent the
 * stored-credential map itself, {"docType", "issuerSigned"}; it is taken as
 * it is (tes_mdoc_cred_info_read then checks its docType is the MSO's).
 * Anything else (a DeviceResponse, ...) is refused. info receives what the
 * credential says (its issuer signature checked with the DS it carries). */
static tes_err credential_to_stored(size_t i, tes_bytes got, tes_buf *out, tes_mdoc_cred_info *info)
{
    const tes_cbor_limits lim = {.max_input = MAX_RESPONSE};
    tes_cbor_doc d;
    bool standard = false, legacy = false;
    if (tes_cbor_parse(got, &lim, &d) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "credential %zu is not CBOR: %s", i,
                           tes_err_message());
    if (tes_cbor_is(&d, 0, TES_CBOR_MAP)) {
        standard = tes_cbor_map_get_text(&d, 0, "issuerAuth") != TES_CBOR_NONE &&
                   tes_cbor_map_get_text(&d, 0, "docType") == TES_CBOR_NONE;
        legacy = tes_cbor_map_get_text(&d, 0, "issuerSigned") != TES_CBOR_NONE &&
                 tes_cbor_map_get_text(&d, 0, "docType") != TES_CBOR_NONE &&
                 tes_cbor_count(&d, 0) == 2;
    }
    tes_cbor_doc_free(&d);
    if (!standard && !legacy)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "credential %zu is not an mso_mdoc credential: expected the CBOR "
                           "IssuerSigned of ISO 18013-5 (nameSpaces, issuerAuth)",
                           i);
    tes_err err = tes_mdoc_cred_info_read(got, info);
    if (err != TES_OK)
        return tes_err_set(err, "credential %zu: %s", i, tes_err_message());
    if (legacy) {
        tes_buf_append(out, got.ptr, got.len);
    } else {
        tes_cbor_enc e = {.out = out};
        tes_cbor_enc_map(&e, 2);
        tes_cbor_enc_cstr(&e, "docType");
        tes_cbor_enc_cstr(&e, info->doctype);
        tes_cbor_enc_cstr(&e, "issuerSigned");
        tes_cbor_enc_raw(&e, got);
        if (tes_cbor_enc_finish(&e) != TES_OK)
            out->failed = true;
    }
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "out of memory") : TES_OK;
}

/* ------------------------------------------------------------------ the flow */

tes_err tes_oid4vci_obtain(const char *offer_uri, const char *tx_code, size_t batch,
                           const tes_oid4vci_keys *keys, tes_buf **mdocs, char (**key_ids)[64],
                           size_t *n)
{
    return tes_oid4vci_obtain_with(offer_uri, tx_code, batch, keys, NULL, mdocs, key_ids, n);
}

tes_err tes_oid4vci_obtain_with(const char *offer_uri, const char *tx_code, size_t batch,
                                const tes_oid4vci_keys *keys, const tes_oid4vci_proof_opts *proof,
                                tes_buf **mdocs, char (**key_ids)[64], size_t *n)
{
    static const tes_oid4vci_proof_opts x5c_only = {.form = TES_OID4VCI_PROOF_X5C};
    if (proof == NULL)
        proof = &x5c_only;
    if (offer_uri == NULL || keys == NULL || keys->create == NULL || keys->sign == NULL ||
        mdocs == NULL || key_ids == NULL || n == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_oid4vci_obtain: NULL argument");
    *mdocs = NULL;
    *key_ids = NULL;
    *n = 0;
    if (batch == 0 || batch > BATCH_HARD_MAX)
        return tes_err_set(TES_ERR_ARG, "tes_oid4vci_obtain: batch must be 1..%d", BATCH_HARD_MAX);
    offer o;
    tes_err err = offer_parse(offer_uri, &o);
    if (err != TES_OK)
        return err;
    if (o.needs_tx && (tx_code == NULL || tx_code[0] == '\0')) {
        offer_free(&o);
        return tes_err_set(TES_ERR_ARG, "the offer needs a transaction code (tx_code)");
    }

    client c = {0};
    json_t *md = NULL, *as = NULL, *tok = NULL, *nonce_j = NULL, *resp = NULL, *req = NULL;
    char *md_url = NULL, *as_url = NULL, *token = NULL, *req_text = NULL;
    tes_buf form = {.secret = true}, jwt = {0}, att = {0}, ka = {0}, got = {0};
    tes_key **made = calloc(batch, sizeof *made);
    tes_buf *out = calloc(batch, sizeof *out);
    char(*ids)[64] = calloc(batch, sizeof *ids);
    const char **id_ptrs = NULL;
    bool *filled = calloc(batch, sizeof *filled);
    tes_mdoc_cred_info info = {0};
    if (made == NULL || out == NULL || ids == NULL || filled == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = wallet_http_open(&c, MAX_RESPONSE, CONNECT_TIMEOUT_MS, TOTAL_TIMEOUT_MS)) != TES_OK)
        goto out;

    /* ---- metadata */
    if ((md_url = well_known(o.issuer, "openid-credential-issuer")) == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = http_call(&c, "issuer metadata", md_url, NULL, NULL, NULL, 0, HTTP_GET, &md)) !=
        TES_OK)
        goto out;
    const char *md_issuer = str_member(md, "credential_issuer");
    const char *cred_ep = str_member(md, "credential_endpoint");
    const char *nonce_ep = str_member(md, "nonce_endpoint");
    if (md_issuer == NULL || strcmp(md_issuer, o.issuer) != 0) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST,
                          "issuer metadata: credential_issuer is not the offer's issuer");
        goto out;
    }
    if (cred_ep == NULL || nonce_ep == NULL) {
        err = tes_err_set(TES_ERR_UNSUPPORTED,
                          "issuer metadata: no credential_endpoint or no nonce_endpoint");
        goto out;
    }
    json_t *cfg =
        json_object_get(json_object_get(md, "credential_configurations_supported"), o.config_id);
    const char *fmt = str_member(cfg, "format");
    if (fmt == NULL || strcmp(fmt, "mso_mdoc") != 0) {
        err = tes_err_set(TES_ERR_UNSUPPORTED,
                          "issuer metadata: configuration %.128s is missing or not mso_mdoc",
                          o.config_id);
        goto out;
    }
    /* The docType the credentials must carry (Appendix A.2.2: REQUIRED for mso_mdoc). */
    const char *want_doctype = str_member(cfg, "doctype");
    if (want_doctype == NULL) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST,
                          "issuer metadata: configuration %.128s has no doctype", o.config_id);
        goto out;
    }
    tes_oid4vci_proof_form pf = TES_OID4VCI_PROOF_X5C;
    if ((err = proof_form_for(proof, cfg, &pf)) != TES_OK)
        goto out;
    json_t *bs = json_object_get(json_object_get(md, "batch_credential_issuance"), "batch_size");
    size_t batch_size =
        json_is_integer(bs) && json_integer_value(bs) > 0 ? (size_t)json_integer_value(bs) : 1;
    if (batch > batch_size) {
        err = tes_err_set(TES_ERR_UNSUPPORTED, "the issuer issues at most %zu copies per request",
                          batch_size);
        goto out;
    }
    json_t *as_list = json_object_get(md, "authorization_servers");
    const char *as_issuer = json_is_string(json_array_get(as_list, 0))
                                ? json_string_value(json_array_get(as_list, 0))
                                : o.issuer;
    if (!http_url(as_issuer) ||
        (as_url = well_known(as_issuer, "oauth-authorization-server")) == NULL) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST, "authorization server URL is not http(s)");
        goto out;
    }
    if ((err = http_call(&c, "authorization server metadata", as_url, NULL, NULL, NULL, 0, HTTP_GET,
                         &as)) != TES_OK)
        goto out;
    const char *token_ep = str_member(as, "token_endpoint");
    const char *as_iss = str_member(as, "issuer");
    if (as_iss == NULL || strcmp(as_iss, as_issuer) != 0 || token_ep == NULL) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST, "authorization server metadata: wrong issuer or "
                                                "no token_endpoint");
        goto out;
    }

    /* ---- token */
    tes_buf_append(&form, "grant_type=", 11);
    tes_url_encode(&form, GRANT_PRE_AUTH, strlen(GRANT_PRE_AUTH));
    tes_buf_append(&form, "&pre-authorized_code=", 21);
    tes_url_encode(&form, o.code, strlen(o.code));
    if (o.needs_tx) {
        tes_buf_append(&form, "&tx_code=", 9);
        tes_url_encode(&form, tx_code, strlen(tx_code));
    }
    if (form.failed) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = http_call(&c, "token", token_ep, "application/x-www-form-urlencoded", NULL,
                         (const char *)form.ptr, form.len, HTTP_POST, &tok)) != TES_OK)
        goto out;
    const char *at = str_member(tok, "access_token"), *tt = str_member(tok, "token_type");
    if (at == NULL || tt == NULL || strcasecmp(tt, "Bearer") != 0 || strlen(at) > 128) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST, "token: no Bearer access_token in the answer");
        goto out;
    }
    if ((token = strdup(at)) == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }

    /* ---- nonce */
    if ((err = http_call(&c, "nonce", nonce_ep, NULL, NULL, "", 0, HTTP_POST, &nonce_j)) != TES_OK)
        goto out;
    const char *nonce = str_member(nonce_j, "c_nonce");
    if (nonce == NULL || nonce[0] == '\0' || strlen(nonce) > NONCE_MAX) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST, "nonce: no c_nonce in the answer");
        goto out;
    }

    /* ---- keys and proofs */
    json_t *jwts = json_array();
    req = json_pack("{s:s, s:{s:o}}", "credential_configuration_id", o.config_id, "proofs",
                    pf == TES_OID4VCI_PROOF_ATTESTATION ? "attestation" : "jwt", jwts);
    if (req == NULL || (id_ptrs = calloc(batch, sizeof *id_ptrs)) == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* The key attestation forms ask create for no chain (empty challenge). */
    const char *challenge = pf == TES_OID4VCI_PROOF_X5C ? nonce : "";
    for (size_t i = 0; i < batch; i++) {
        tes_buf_reset(&att);
        if ((err = make_key(keys, challenge, ids[i], &made[i], &att)) != TES_OK)
            goto out;
        id_ptrs[i] = ids[i];
        if (pf == TES_OID4VCI_PROOF_ATTESTATION)
            continue; /* one attestation for all, below; no proof of possession */
        if (pf == TES_OID4VCI_PROOF_KEY_ATTESTATION &&
            (err = make_key_attestation(keys, proof, &id_ptrs[i], 1, nonce, &ka)) != TES_OK)
            goto out;
        tes_buf_reset(&jwt);
        if ((err = make_proof(keys, o.issuer, nonce, ids[i], made[i], &att,
                              pf == TES_OID4VCI_PROOF_KEY_ATTESTATION ? (const char *)ka.ptr : NULL,
                              tes_clock_now(proof != NULL ? proof->clock : NULL), &jwt)) != TES_OK)
            goto out;
        if (json_array_append_new(jwts, json_string((const char *)jwt.ptr)) != 0) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (pf == TES_OID4VCI_PROOF_ATTESTATION) {
        if ((err = make_key_attestation(keys, proof, id_ptrs, batch, nonce, &ka)) != TES_OK)
            goto out;
        if (json_array_append_new(jwts, json_string((const char *)ka.ptr)) != 0) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if ((req_text = json_dumps(req, JSON_COMPACT)) == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }

    /* ---- credentials */
    if ((err = http_call(&c, "credential", cred_ep, "application/json", token, req_text,
                         strlen(req_text), HTTP_POST, &resp)) != TES_OK)
        goto out;
    json_t *creds = json_object_get(resp, "credentials");
    if (!json_is_array(creds) || json_array_size(creds) != batch) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST,
                          "credential: the answer does not hold %zu credentials", batch);
        goto out;
    }
    /* Each copy goes to the key it is bound to (an issuer may answer in another order). */
    for (size_t i = 0; i < batch; i++) {
        json_t *cr = json_object_get(json_array_get(creds, i), "credential");
        tes_buf_reset(&got);
        if (!json_is_string(cr) ||
            tes_b64url_decode(&got, json_string_value(cr), json_string_length(cr)) != TES_OK) {
            err = tes_err_set(TES_ERR_HTTP_REQUEST, "credential %zu is not base64url text", i);
            goto out;
        }
        tes_buf stored = {0};
        err = credential_to_stored(i, tes_buf_bytes(&got), &stored, &info);
        tes_buf_free(&got);
        got = stored;
        if (err != TES_OK)
            goto out;
        size_t k = 0;
        while (k < batch && (filled[k] || info.device_key == NULL ||
                             !tes_key_equal_public(info.device_key, made[k])))
            k++;
        if (k == batch) {
            err = tes_err_set(TES_ERR_DEVICE_KEY,
                              "credential %zu is not bound to a key made for this request (or to "
                              "one already bound)",
                              i);
            goto out;
        }
        if (strcmp(info.doctype, want_doctype) != 0) {
            err = tes_err_set(TES_ERR_DOCTYPE_MISMATCH,
                              "credential %zu is a %.128s, not the %.128s of configuration %.128s",
                              i, info.doctype, want_doctype, o.config_id);
            goto out;
        }
        tes_mdoc_cred_info_free(&info);
        memset(&info, 0, sizeof info);
        out[k] = got;
        memset(&got, 0, sizeof got);
        filled[k] = true;
    }
    *mdocs = out;
    *key_ids = ids;
    *n = batch;
    out = NULL;
    ids = NULL;
out:
    tes_mdoc_cred_info_free(&info);
    if (out)
        for (size_t i = 0; i < batch; i++)
            tes_buf_free(&out[i]);
    free(out);
    free(ids);
    free(id_ptrs);
    free(filled);
    tes_buf_free(&att);
    tes_buf_free(&ka);
    tes_buf_free(&got);
    if (made)
        for (size_t i = 0; i < batch; i++)
            tes_key_free(made[i]);
    free(made);
    if (token) {
        tes_wipe(token, strlen(token));
        free(token);
    }
    free(req_text);
    json_decref(req);
    json_decref(md);
    json_decref(as);
    json_decref(tok);
    json_decref(nonce_j);
    json_decref(resp);
    free(md_url);
    free(as_url);
    tes_buf_free(&form);
    tes_buf_free(&jwt);
    wallet_http_close(&c);
    offer_free(&o);
    return err;
}

/* ------------------------------------------------------------------ lost phone */

tes_err tes_oid4vci_report_lost(const char *issuer_url, const char *recovery_code,
                                const char *device_id, size_t *suspended)
{
    if (suspended)
        *suspended = 0;
    if (issuer_url == NULL || recovery_code == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_oid4vci_report_lost: NULL argument");
    if (!http_url(issuer_url))
        return tes_err_set(TES_ERR_ARG, "report lost: '%.200s' is not an http(s) URL", issuer_url);
    if (strlen(recovery_code) > 64)
        return tes_err_set(TES_ERR_ARG, "report lost: the recovery code is too long");
    if (device_id != NULL) {
        bool ok = strlen(device_id) == 64;
        for (size_t i = 0; ok && i < 64; i++) {
            char ch = device_id[i];
            ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        }
        if (!ok)
            return tes_err_set(TES_ERR_ARG, "report lost: a device id is 64 hex digits");
    }
    size_t n = strlen(issuer_url);
    while (n > 0 && issuer_url[n - 1] == '/')
        n--;
    char *url = malloc(n + sizeof "/lost");
    json_t *req = json_pack("{s:s}", "recovery_code", recovery_code);
    if (req != NULL && device_id != NULL)
        json_object_set_new(req, "device_id", json_string(device_id));
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    client c = {0};
    json_t *resp = NULL;
    tes_err err = TES_OK;
    if (url == NULL || body == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = wallet_http_open(&c, MAX_RESPONSE, CONNECT_TIMEOUT_MS, TOTAL_TIMEOUT_MS)) != TES_OK)
        goto out;
    memcpy(url, issuer_url, n);
    memcpy(url + n, "/lost", sizeof "/lost");
    if ((err = http_call(&c, "report lost", url, "application/json", NULL, body, strlen(body),
                         HTTP_POST, &resp)) != TES_OK)
        goto out;
    json_t *k = json_object_get(resp, "suspended");
    if (!json_is_integer(k) || json_integer_value(k) < 0) {
        err = tes_err_set(TES_ERR_HTTP_REQUEST, "report lost: no \"suspended\" count in the "
                                                "answer");
        goto out;
    }
    if (suspended)
        *suspended = (size_t)json_integer_value(k);
out:
    json_decref(resp);
    if (body) {
        tes_wipe(body, strlen(body));
        free(body);
    }
    free(url);
    wallet_http_close(&c);
    return err;
}
