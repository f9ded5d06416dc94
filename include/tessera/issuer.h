/*
 * tessera/issuer.h — the issuing authority's OpenID4VCI 1.0 service for the
 * mso_mdoc format (pre-authorized code flow with a transaction code, nonce
 * endpoint, proofs of possession as JWTs carrying the secure element's key
 * attestation, batch issuance), status list publication, and the operator
 * actions (enrol, revoke, suspend, reinstate).
 *
 * Wire profile (what tessera's wallet client speaks; any OpenID4VCI 1.0
 * wallet for mso_mdoc should too):
 *   GET  /.well-known/openid-credential-issuer   issuer metadata
 *   GET  /.well-known/oauth-authorization-server  AS metadata (token endpoint,
 *        grant pre-authorized_code supported)
 *   POST /token     application/x-www-form-urlencoded: grant_type=
 *        urn:ietf:params:oauth:grant-type:pre-authorized_code,
 *        pre-authorized_code=..., tx_code=...  -> {access_token, token_type
 *        "Bearer", expires_in}
 *   POST /nonce     -> {"c_nonce": "..."}  (Cache-Control: no-store)
 *   POST /credential  Authorization: Bearer ...; JSON {"credential_configuration_id":
 *        "<id>", "proofs": {"jwt": ["<proof JWT>", ...]}} -> {"credentials":
 *        [{"credential": "<base64url of the stored mdoc (mdoc.h format)>"}, ...]}
 *        One credential per proof (batch), each bound to its proof's key.
 *   GET  /status/<list>   the Status List Token (application/statuslist+cwt)
 *   Proof JWT: header {"typ": "openid4vci-proof+jwt", "alg": "ES256",
 *        "jwk": {EC P-256 public key}, "x5c": [attestation leaf, attestation
 *        CA] (base64 DER; the secure element's key attestation, whose leaf
 *        certifies exactly the jwk and whose challenge is the c_nonce)};
 *        claims {"aud": credential_issuer, "iat": ..., "nonce": c_nonce}.
 *   Errors: HTTP 400/401 with {"error": "invalid_grant" | "invalid_request"
 *        | "invalid_proof" | "invalid_nonce" | "invalid_token" |
 *        "unknown_credential_configuration" | "rate_limited", "error_description": ...}.
 *   Credential configuration ids: "eu.europa.ec.eudi.pid.1" and
 *        "org.iso.18013.5.1.mDL" (= the doctypes).
 *   Offer URI: openid-credential-offer://?credential_offer=<url-encoded JSON
 *        {"credential_issuer": URL, "credential_configuration_ids": [id],
 *         "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code":
 *         {"pre-authorized_code": code, "tx_code": {"input_mode": "numeric",
 *          "length": 6, "description": "..."}}}}>
 */
#ifndef TESSERA_ISSUER_H
#define TESSERA_ISSUER_H

#include "tessera/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tes_issuer_config {
    const char *authority_dir; /* iaca.pem, ds.pem, ds_key.pem (tessera authority init) */
    const char *db_url;        /* registry (tes_registry_open); default <authority_dir>/registry.db */
    const char *listen;        /* "127.0.0.1:PORT"; port 0 picks one */
    const char *public_url;    /* credential_issuer URL; default http://<listen> */
    const char *vendor_roots;  /* PEM file: secure-element vendors whose attestations are
                                  accepted; NULL: attestation not required (development) */
    bool require_uv;           /* refuse keys not attested as needing the PIN */
    size_t batch_max;          /* most proofs per request (default 10) */
    int64_t valid_days;        /* credential validity (default 365) */
    int64_t offer_lifetime;    /* seconds (default 600) */
    int64_t token_lifetime;    /* seconds (default 300) */
    int64_t nonce_lifetime;    /* seconds (default 300) */
    size_t status_list_size;   /* entries per list (default 1 << 17) */
    int64_t status_ttl;        /* seconds a verifier may cache a list (default 3600) */
    size_t max_body;           /* bytes (default 64 KiB) */
    int rate_limit;            /* requests per minute per token or code (default 60) */
    const tes_clock *clock;    /* NULL: system */
    /* appended members */
    int64_t status_lifetime;   /* seconds a published list stays valid (its exp), so that
                                  offline readers can keep using it (default 2 days,
                                  never less than 2 * status_ttl) */
    int64_t status_cache;      /* seconds the service reuses a signed list (default 5;
                                  negative: 0, rebuild on every request) */
} tes_issuer_config;

typedef struct tes_issuer tes_issuer;

/* Starts the service (libmicrohttpd, its own threads). *port receives the
 * bound port. Errors: TES_ERR_IO (bind), key/cert/registry errors. */
TES_MUST_CHECK tes_err tes_issuer_start(const tes_issuer_config *c, tes_issuer **out, int *port);
void tes_issuer_stop(tes_issuer *s);

/* Operator: enrols a person (claims JSON checked against the doctype table)
 * and creates an offer: *offer_uri gets the openid-credential-offer:// URI,
 * tx_code the one-time PIN given to the citizen at the counter. */
TES_MUST_CHECK tes_err tes_issuer_enrol(const tes_issuer_config *c, const char *doctype,
                                        const char *claims_json, const char *operator_name,
                                        tes_buf *offer_uri, char tx_code[16], int64_t *person_id);

/* ---- wallet side: an OpenID4VCI client ---- */

/* Key material the client asks for, per copy: creates a key, returns its
 * public key, its attestation chain (CBOR array, as tes_se attest) for the
 * challenge, and signs the proof JWT's signing input (ES256 raw r||s).
 * Implemented by the wallet over its secure element. */
typedef struct tes_oid4vci_keys {
    tes_err (*create)(void *ctx, tes_bytes challenge, char key_id[64], tes_buf *public_key_pem,
                      tes_buf *attestation);
    tes_err (*sign)(void *ctx, const char *key_id, tes_bytes msg, uint8_t sig[64]);
    void *ctx;
} tes_oid4vci_keys;

/* Obtains `batch` copies for the offer: parses the offer URI, fetches
 * metadata, redeems the code with tx_code, gets a c_nonce, makes one key and
 * proof per copy, requests the credentials; *mdocs receives `batch` stored
 * credentials (tes_buf array, caller frees each and the array) and key_ids
 * the matching key ids. Errors: TES_ERR_HTTP_REQUEST (bad offer),
 * TES_ERR_TRANSPORT (network), TES_ERR_GRANT / TES_ERR_PROOF / ... from the
 * issuer's error responses. */
TES_MUST_CHECK tes_err tes_oid4vci_obtain(const char *offer_uri, const char *tx_code, size_t batch,
                                          const tes_oid4vci_keys *keys, tes_buf **mdocs,
                                          char (**key_ids)[64], size_t *n);

#ifdef __cplusplus
}
#endif
#endif
