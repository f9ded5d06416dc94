/*
 * tessera/issuer.h — the issuing authority's OpenID4VCI 1.0 service for the
 * mso_mdoc format (pre-authorized code flow with a transaction code, nonce
 * endpoint, proofs of possession as JWTs carrying the secure element's key
 * attestation, batch issuance), status list publication, and the operator
 * actions (enrol, revoke, suspend, reinstate).
 *
 * Wire profile (what tessera's wallet client, tessera/wallet.h, speaks; any
 * OpenID4VCI 1.0 wallet for mso_mdoc should too):
 *   GET  /.well-known/openid-credential-issuer   issuer metadata
 *   GET  /.well-known/oauth-authorization-server  AS metadata (token endpoint,
 *        grant pre-authorized_code supported)
 *   POST /token     application/x-www-form-urlencoded: grant_type=
 *        urn:ietf:params:oauth:grant-type:pre-authorized_code,
 *        pre-authorized_code=..., tx_code=...  -> {access_token, token_type
 *        "Bearer", expires_in}. Other parameters are ignored. No tx_code
 *        for an offer that needs one: invalid_request; a wrong one:
 *        invalid_grant (OpenID4VCI 1.0 §6.3).
 *   POST /nonce     -> {"c_nonce": "..."}  (Cache-Control: no-store)
 *   POST /credential  Authorization: Bearer ...; JSON {"credential_configuration_id":
 *        "<id>", "proofs": {"jwt": ["<proof JWT>", ...]}} (other members
 *        ignored, §8.2) -> {"credentials": [{"credential": "<base64url, no
 *        padding, of the CBOR IssuerSigned {nameSpaces, issuerAuth}>"}, ...]}
 *        (OpenID4VCI 1.0 Appendix A.2.4; the docType is the MSO's)
 *        One credential per proof (batch), each bound to its proof's key, in
 *        proof order, then one per further key the proofs' key attestations
 *        attest (OpenID4VCI 1.0 Appendix F.1). Or, with vendor roots, proof
 *        type "attestation" (Appendix F.3): "proofs": {"attestation": ["<key
 *        attestation JWT>"]} (its "nonce" the c_nonce) -> one credential per
 *        attested key, in attested_keys order.
 *        Next to "credentials" the answer carries "device_id": "<64 hex>" (not
 *        an OpenID4VCI member; other wallets ignore it) when every copy is on
 *        one phone: the device id is the lower-case hex SHA-256 of the DER of
 *        the proof's x5c[1], the secure element's attestation certificate
 *        (the same for all keys of one chip), or, for a proof without an
 *        attestation chain (development mode), the key's thumbprint (hex
 *        SHA-256 of its COSE_Key). The registry records it per credential.
 *        Without vendor roots the chain is not verified: the device id is
 *        then the wallet's claim.
 *   POST /lost      the holder reports a lost phone (Tessera's own endpoint):
 *        JSON {"recovery_code": "ABCD-EFGH-JKLM-NPQR", "device_id": "<hex>"}
 *        ("device_id" omitted: every credential of the holder) -> {"suspended":
 *        N}. The recovery code (tes_issuer_enrol) names the person; only that
 *        person's credentials are suspended. A wrong code: 400 invalid_grant,
 *        counted per client address (429 rate_limited after rate_limit a
 *        minute); a device with none of the person's credentials: 400
 *        invalid_request.
 *   GET  /status/<N>   the Status List Token (application/statuslist+cwt) of
 *        list N = 1, 2, ...: when a list is full the next one is started
 *        (tes_registry_issue_for_token); lists not started yet: 404.
 *   Proof JWT: header {"typ": "openid4vci-proof+jwt", "alg": "ES256",
 *        "jwk": {EC P-256 public key}, "x5c": [attestation leaf, attestation
 *        CA] (base64 DER; the secure element's key attestation, whose leaf
 *        certifies exactly the jwk and whose challenge is the c_nonce)};
 *        claims {"aud": credential_issuer, "iat": ..., "nonce": c_nonce}.
 *        Instead of "x5c" (never both) the header may carry
 *        "key_attestation": a key attestation JWT (OpenID4VCI 1.0 Appendix
 *        D.1): header {"typ": "key-attestation+jwt", "alg": "ES256", "x5c":
 *        [signer, ... ] chaining to a vendor root}, claims {"iat" (not in the
 *        future, at most a day old), "exp" (required, after now),
 *        "attested_keys": [JWK, ...] (the jwk among them), "key_storage",
 *        "user_authentication", "nonce" (if present: the c_nonce)}. With
 *        require_uv, user_authentication must hold TES_KA_USER_AUTH_PIN
 *        (se.h) or an "iso_18045_*" value; the metadata's
 *        key_attestations_required lists them. The device id of such a proof
 *        is the SHA-256 of the key attestation's x5c[1].
 *   Errors: HTTP 400/401 with {"error": "invalid_grant" | "invalid_request"
 *        | "invalid_proof" | "invalid_nonce" | "invalid_token" |
 *        "unknown_credential_configuration" | "credential_request_denied" |
 *        "rate_limited", "error_description": ...}. A holder whose credentials
 *        were revoked or suspended (by person, or a lost phone) finds the open
 *        offer refused (invalid_grant) and the access token withdrawn
 *        (invalid_token); a key on a phone reported lost, or a spent budget:
 *        credential_request_denied (OpenID4VCI 1.0 §8.3.1.2).
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
#include "tessera/cose.h"
#include "tessera/crypto.h"
#include "tessera/se.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether the service requires key attestation (tes_issuer_config.attestation). */
typedef enum tes_issuer_attestation {
    /* The default: every proof's key must be attested by a secure element of
     * a vendor in vendor_roots (x5c or key_attestation, see above). */
    TES_ATTESTATION_REQUIRED = 0,
    /* Development only: keys need no attestation and none is checked (any
     * software key gets credentials); vendor_roots must then be NULL. */
    TES_ATTESTATION_NOT_REQUIRED = 1,
} tes_issuer_attestation;

typedef struct tes_issuer_config {
    const char *authority_dir; /* iaca.pem, ds.pem, ds_key.pem or ds_key.hsm
                                  (tessera authority init) */
    const char *db_url;        /* registry (tes_registry_open); default <authority_dir>/registry.db */
    const char *listen;        /* "127.0.0.1:PORT"; port 0 picks one */
    const char *public_url;    /* credential_issuer URL; default http://<listen> */
    const char *vendor_roots;  /* PEM file: secure-element vendors whose attestations are
                                  accepted; required unless attestation (below) is
                                  TES_ATTESTATION_NOT_REQUIRED */
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
    const char *hsm_pin;       /* PIN of the PKCS#11 token holding the document signer key
                                  (authority_dir/ds_key.hsm); required for one, never read from
                                  the environment by the library (the tessera tool takes it
                                  from --hsm-pin-fd or TESSERA_HSM_PIN and wipes the latter).
                                  Not used for a ds_key.pem file. */
    /* Budgets, kept in the registry (they survive restarts and bind every
     * service on one registry; tes_registry_issue_for_token). 0: the default;
     * negative: no limit. Exceeding one: 400 credential_request_denied. */
    int64_t credentials_per_offer;  /* in all, by one offer's access tokens
                                       (default 3 * batch_max) */
    int64_t credentials_per_person; /* per person within budget_period
                                       (default 10 * batch_max) */
    int64_t budget_period;          /* seconds (default 86400) */
    int nonce_rate_limit;           /* POST /nonce per client address per minute (default 600;
                                       negative: no limit); then 429 rate_limited */
    /* appended: the HTTP layer's defences (docs/SERVICE-LIMITS.md); 0: the default */
    size_t max_connections;        /* open connections in all (default 256) */
    size_t max_connections_per_ip; /* open connections from one client address (default 16;
                                      never more than max_connections); more are closed at
                                      once */
    int64_t request_deadline;      /* seconds within which a request's headers and body must
                                      have arrived, counted from the connection's start (or
                                      the previous answer on a kept-alive one), however
                                      steadily they trickle (default 10) */
    int64_t idle_timeout;          /* seconds without a byte before a connection is closed
                                      (default 30) */
    /* The service's log for the operator (NULL: none): refused requests and
     * connections cut at the deadline, the cause behind every 500, and the
     * internal message behind a description written for the client. One
     * line per call, no newline; called from the service's threads. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    /* appended: the randomness of the service and of its registry (NULL:
     * system); clock above is the registry's clock too (tes_registry_opts). */
    const tes_rng *rng;
    /* appended: key attestation (tes_issuer_attestation). The zero value,
     * TES_ATTESTATION_REQUIRED, with no vendor_roots is a configuration error,
     * as is TES_ATTESTATION_NOT_REQUIRED with vendor_roots (tes_issuer_start). */
    tes_issuer_attestation attestation;
} tes_issuer_config;

typedef struct tes_issuer tes_issuer;

/* Starts the service (libmicrohttpd, its own threads). *port receives the
 * bound port. Errors: TES_ERR_ARG (a configuration error, among them key
 * attestation required without vendor_roots), TES_ERR_IO (bind),
 * key/cert/registry errors. */
TES_MUST_CHECK tes_err tes_issuer_start(const tes_issuer_config *c, tes_issuer **out, int *port);
void tes_issuer_stop(tes_issuer *s);

/* Operator: enrols a person (claims JSON checked against the doctype table)
 * and creates an offer: *offer_uri gets the openid-credential-offer:// URI,
 * tx_code the one-time PIN given to the citizen at the counter,
 * recovery_code the person's recovery code for reporting a lost phone
 * ("ABCD-EFGH-JKLM-NPQR", tes_registry_recovery_set; shown once, to be kept
 * on paper, away from the phone). */
TES_MUST_CHECK tes_err tes_issuer_enrol(const tes_issuer_config *c, const char *doctype,
                                        const char *claims_json, const char *operator_name,
                                        tes_buf *offer_uri, char tx_code[16], int64_t *person_id,
                                        char recovery_code[32]);

/* ---- the document signer, as a file or in an HSM ---- */

/* An authority directory holds ds.pem and either ds_key.pem (the private key
 * as a file) or TES_DS_HSM_FILE, a small JSON reference with no secret in it,
 *     {"se": "pkcs11:MODULE_PATH[:TOKEN_LABEL]", "key_id": "<id>"},
 * naming a key pair generated inside a PKCS#11 token (tessera authority init
 * --ds-hsm); Tessera's PIN counters for that token live in
 * <authority_dir>/TES_DS_HSM_STATE_DIR. The token PIN is never stored: it is
 * given to tes_ds_signer_load by its caller (the library reads no environment;
 * TES_HSM_PIN_ENV is the variable the tessera tool takes it from). The IACA key
 * (iaca_key.pem) stays a file by design: it signs rarely and is kept offline. */
#define TES_DS_HSM_FILE "ds_key.hsm"
#define TES_DS_HSM_STATE_DIR "hsm-state"
#define TES_HSM_PIN_ENV "TESSERA_HSM_PIN"

typedef struct tes_ds_signer tes_ds_signer;

/* Loads the document signer of authority_dir: ds.pem and ds_key.pem (checked
 * to belong to the certificate) or ds_key.hsm (the token is opened, the
 * token's public key is checked to equal the certificate's, and the PIN is
 * verified once, so a wrong PIN fails here and not at the first signature).
 * hsm_pin: the token PIN (NULL or "": TES_ERR_PIN_REQUIRED for a key in a
 * token); ignored for a key file. Signing is serialised inside
 * (one PKCS#11 session), so the signer may be used from several threads.
 * Errors: file and parse errors, TES_ERR_KEY_MALFORMED (key and certificate
 * differ), TES_ERR_PIN_REQUIRED (no PIN given), TES_ERR_PIN_WRONG,
 * TES_ERR_PIN_LOCKED, TES_ERR_KEY_UNKNOWN (no such key in the token),
 * TES_ERR_SE_MODULE, TES_ERR_SE_NO_TOKEN. */
TES_MUST_CHECK tes_err tes_ds_signer_load(const char *authority_dir, const char *hsm_pin,
                                          tes_ds_signer **out);
/* Borrowed; valid until tes_ds_signer_free. */
const tes_signer *tes_ds_signer_get(tes_ds_signer *d);
const tes_cert *tes_ds_signer_cert(tes_ds_signer *d);
/* Whether the key lives in a PKCS#11 token. */
bool tes_ds_signer_in_hsm(const tes_ds_signer *d);
void tes_ds_signer_free(tes_ds_signer *d);

/* ---- creating an authority (tessera authority init) ----
 *
 * tes_authority_create writes an authority directory:
 *     iaca.pem       the IACA root (PEM, 0644): "<name> IACA", C=<country>,
 *                    CA with pathLen 0, keyCertSign|cRLSign (critical),
 *                    issuerAltName URI <url>, P-256; ten years
 *     iaca_key.pem   its private key (PKCS#8 PEM, 0600; keep it offline)
 *     ds.pem         the document signer (PEM, 0644): "<name> Document
 *                    Signer", C=<country>, digitalSignature, EKU
 *                    TES_OID_EKU_MDL_DS, issuerAltName <url>, CRL
 *                    distribution point <url>/crl/iaca.crl; three years
 *     ds_key.pem     its private key (0600), or, with ds_hsm,
 *     TES_DS_HSM_FILE  the reference to a key pair generated inside a
 *                    PKCS#11 token (above; the PIN counters in
 *                    TES_DS_HSM_STATE_DIR/)
 * the profiles of ISO 18013-5 Annex B. Both certificates start at midnight
 * UTC of the day an hour before now: the service rounds every MSO's signed
 * time down to midnight UTC (unlinkability), and ISO 18013-5 §9.3.1 wants it
 * inside the DS validity. The directory is made with tes_dir_secret. Keys are
 * written before certificates; with force, a DS key of the other kind left by
 * an earlier authority is removed. */
#define TES_AUTHORITY_IACA_CERT "iaca.pem"
#define TES_AUTHORITY_IACA_KEY "iaca_key.pem"
#define TES_AUTHORITY_DS_CERT "ds.pem"
#define TES_AUTHORITY_DS_KEY "ds_key.pem"
#define TES_AUTHORITY_NAME_MAX 200 /* bytes of the name */
#define TES_DS_HSM_SPEC_MAX 4352   /* bytes of "pkcs11:/abs/module[:LABEL]", NUL included */

/* Asks the operator for a secret of the token: `what` is "token PIN" or
 * "token SO PIN" (asked only the first time Tessera meets the token: its PIN
 * counter is unblocked with it, src/se/pkcs11.c). Writes a NUL-terminated
 * secret of at most cap - 1 bytes into out, which the library wipes after
 * use. Another result than TES_OK makes tes_authority_create fail with it. */
typedef tes_err (*tes_authority_secret_fn)(void *ctx, const char *what, char *out, size_t cap);

typedef struct tes_authority_params {
    const char *dir;     /* required */
    const char *country; /* two upper-case letters; NULL: "UT" */
    const char *name;    /* 1..TES_AUTHORITY_NAME_MAX bytes; NULL: "Utopia" */
    const char *url;     /* issuerAltName URI; NULL: "https://iaca.<cc>.example" */
    bool force;          /* replace an authority already in dir */
    int64_t now;         /* 0: the system clock */
    /* The DS key in a PKCS#11 token: "pkcs11:MODULE_PATH[:TOKEN_LABEL]" (a
     * relative module path is made absolute: the service may run from
     * another directory); NULL: the DS key is a file. The key is created
     * without user verification (the service signs unattended). */
    const char *ds_hsm;
    tes_authority_secret_fn secret; /* required with ds_hsm: the token's PINs */
    void *secret_ctx;
} tes_authority_params;

/* What tes_authority_create made. */
typedef struct tes_authority_result {
    tes_cert *iaca; /* owned: tes_authority_result_free */
    tes_cert *ds;   /* owned */
    bool ds_in_hsm;
    char ds_hsm_spec[TES_DS_HSM_SPEC_MAX]; /* as written to TES_DS_HSM_FILE */
    char ds_key_id[TES_SE_ID_MAX];
    /* Not a failure, for the operator: a stale DS key of the other kind that
     * force could not remove ("" when none). */
    char warning[512];
} tes_authority_result;

/* Creates the authority in p->dir (out may be NULL). On failure a DS key
 * created in the token is deleted again (the message says so when even that
 * fails); files written
 * before the failure stay. Errors: TES_ERR_ARG (a parameter missing or out of
 * shape: country, name, url, ds_hsm not "pkcs11:..."), TES_ERR_EXISTS (dir
 * already holds an authority file, TES_DS_HSM_FILE included, and force is not
 * set: nothing is touched), TES_ERR_DIR_UNSAFE / TES_ERR_IO (tes_dir_secret,
 * writing), TES_ERR_CRYPTO / TES_ERR_RANDOM; with ds_hsm TES_ERR_SE_MODULE,
 * TES_ERR_SE_NO_TOKEN, TES_ERR_PIN_WRONG, TES_ERR_PUK_WRONG (the SO PIN),
 * TES_ERR_PIN_LOCKED, TES_ERR_SE_BACKEND, and whatever p->secret returned. */
TES_MUST_CHECK tes_err tes_authority_create(const tes_authority_params *p,
                                            tes_authority_result *out);
void tes_authority_result_free(tes_authority_result *r);

#ifdef __cplusplus
}
#endif
#endif
