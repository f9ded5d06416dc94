/*
 * issuer_internal.h — private to src/issuer/: the request parsers of the
 * OpenID4VCI service (token form, credential request JSON, proof JWT), kept
 * free of HTTP and registry so the fuzz target (tests/fuzz/fuzz_issuer_http.c)
 * and the unit test can call them directly, plus small helpers shared by the
 * service, the operator's enrolment and the wallet client.
 *
 * Every parser here takes untrusted bytes, is bounded (sizes below), never
 * keeps a pointer into its input, and fails with one of:
 *   TES_ERR_HTTP_REQUEST  malformed form / JSON shape / JWT framing  -> invalid_request
 *   TES_ERR_JSON          body is not JSON (or has duplicate members) -> invalid_request
 *   TES_ERR_PROOF         a proof does not verify or lacks what it must carry -> invalid_proof
 *   TES_ERR_NOT_FOUND     unknown credential configuration -> unknown_credential_configuration
 *   TES_ERR_NOMEM         allocation
 * with tes_err_message() saying what was wrong.
 */
#ifndef TES_ISSUER_INTERNAL_H
#define TES_ISSUER_INTERNAL_H

#include "tessera/crypto.h"
#include "tessera/issuer.h"

#define ISS_GRANT_PRE_AUTH "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#define ISS_PROOF_TYP "openid4vci-proof+jwt"

#define ISS_FORM_MAX_PARAMS 32   /* parameters in a token request */
#define ISS_FORM_MAX_VALUE 512   /* bytes of one decoded parameter value */
#define ISS_BATCH_HARD_MAX 100   /* batch_max is clamped to this */
#define ISS_JWT_MAX 32768        /* characters of one proof JWT */
#define ISS_JWT_HEADER_MAX 24576 /* characters of its base64url header */
#define ISS_JWT_PAYLOAD_MAX 4096 /* characters of its base64url payload */
#define ISS_X5C_MAX 4            /* certificates in an attestation chain */
#define ISS_X5C_CERT_MAX 8192    /* bytes of one DER certificate */
#define ISS_NONCE_MAX 256        /* bytes of a nonce claim (the registry's are < 64) */
#define ISS_IAT_SKEW 300         /* |iat - now| allowed, seconds */
#define ISS_CONFIG_ID_MAX 128
#define ISS_KA_MAX 24576     /* characters of one key attestation JWT */
#define ISS_KA_MAX_AGE 86400 /* seconds a key attestation's "iat" may lie in the past */

/* The fixed facts a request is checked against. */
typedef struct iss_policy {
    const char *credential_issuer; /* "aud" of proofs */
    tes_bytes vendor_roots;        /* PEM; empty: attestation not required */
    bool require_uv;
    size_t batch_max;
} iss_policy;

/* ---- token request (application/x-www-form-urlencoded) ---- */
typedef struct iss_token_req {
    char grant_type[ISS_FORM_MAX_VALUE + 1];
    char code[ISS_FORM_MAX_VALUE + 1]; /* pre-authorized_code */
    char tx_code[ISS_FORM_MAX_VALUE + 1];
    bool has_grant_type, has_code, has_tx_code;
} iss_token_req;

/* Parses a form body strictly: name=value pairs joined by '&', '+' is a
 * space, '%' must be followed by two hex digits, no decoded NUL or control
 * characters, no parameter twice (RFC 6749 §3.2), at most
 * ISS_FORM_MAX_PARAMS pairs; unknown parameters are ignored (RFC 6749 §3.2),
 * whatever the length of their values (their syntax is still checked).
 * TES_ERR_HTTP_REQUEST otherwise. */
TES_MUST_CHECK tes_err iss_form_parse(const char *body, size_t len, iss_token_req *out);

/* ---- credential request (JSON) ---- */
typedef struct iss_cred_req {
    char config_id[ISS_CONFIG_ID_MAX + 1];
    char **proofs; /* n malloc'd NUL-terminated JWT strings */
    size_t n;
    bool attestation; /* proof type "attestation": proofs[0] is the one key attestation */
} iss_cred_req;

/* Parses {"credential_configuration_id": id, "proofs": {"jwt": [jwt, ...]}}
 * (1..batch_max proofs) or {..., "proofs": {"attestation": [key attestation
 * JWT]}} (exactly one; n = 1, attestation set), with duplicate members
 * refused and other members ignored (OpenID4VCI 1.0 §8.2), except
 * "credential_identifier" and "credential_response_encryption", which this
 * issuer cannot serve (TES_ERR_HTTP_REQUEST). The id must be one of the two
 * doctypes (TES_ERR_NOT_FOUND otherwise). */
TES_MUST_CHECK tes_err iss_cred_req_parse(const char *body, size_t len, size_t batch_max,
                                          iss_cred_req *out);
void iss_cred_req_free(iss_cred_req *r);

/* True for the credential configuration ids the service offers. */
bool iss_config_known(const char *id);

/* ---- key attestation JWT (OpenID4VCI 1.0 Appendix D.1; keyatt.c) ---- */
typedef struct iss_key_att {
    tes_key **keys; /* attested_keys (owned), distinct */
    size_t n;
    tes_buf chain;                 /* the header's x5c as a CBOR array of DER, signer first */
    char nonce[ISS_NONCE_MAX + 1]; /* "" when the attestation has none */
    int64_t iat, exp;              /* exp 0 when absent */
} iss_key_att;

/* Parses and checks a key attestation JWT, everything but the trust in its
 * signer (iss_key_att_trust): three base64url parts; header {"typ":
 * "key-attestation+jwt", "alg": "ES256", "x5c": [1..ISS_X5C_MAX base64 DER]}
 * with no "crit", "jwk", "kid" or "trust_chain"; the ES256 signature with
 * x5c[0]'s key; integer "iat" not more than ISS_IAT_SKEW in the future nor
 * more than ISS_KA_MAX_AGE in the past; integer "exp" after now (required
 * when for_jwt_proof, as Appendix D.1 says); "attested_keys" 1..
 * ISS_BATCH_HARD_MAX distinct EC P-256 public JWKs; "key_storage" and
 * "user_authentication" (if present) non-empty arrays of strings; "nonce":
 * when c_nonce is given, equal to it if present; when not (the attestation
 * proof type), required. Policy: with require_uv, "user_authentication"
 * must hold TES_KA_USER_AUTH_PIN or an "iso_18045_..." value. Errors:
 * TES_ERR_ATTESTATION_FORMAT (framing, base64, JSON, a member of the wrong
 * shape) or TES_ERR_ATTESTATION (a check failed), each message naming the
 * check; TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err iss_key_att_parse(const iss_policy *p, const char *jwt, size_t len,
                                         int64_t now, bool for_jwt_proof, const char *c_nonce,
                                         iss_key_att *out);
/* Checks the signer of a parsed key attestation against the policy's vendor
 * roots at time now: x5c[0] is not a CA, has keyUsage digitalSignature (if
 * any), no Tessera key-attestation extension (it would be a holder's key),
 * and the extended key usage TES_OID_KA_SIGNER if it has one; each
 * certificate is issued by the next, a CA that may sign certificates; the
 * last is issued by a vendor root or is one; every certificate, the root
 * included, is valid at now with no unknown critical extension. TES_OK when
 * the policy has no vendor roots. TES_ERR_ATTESTATION (message naming the
 * check), TES_ERR_ATTESTATION_FORMAT, TES_ERR_NOMEM otherwise. */
TES_MUST_CHECK tes_err iss_key_att_trust(const iss_policy *p, const iss_key_att *ka, int64_t now);
/* The device id of keys attested by ka (see iss_proof_device_id): hex
 * SHA-256 of x5c[1] (the secure element's attestation certificate), or the
 * thumbprint of k when the chain has one certificate. */
TES_MUST_CHECK tes_err iss_key_att_device_id(const iss_key_att *ka, const tes_key *k, char out[65]);
void iss_key_att_free(iss_key_att *ka);

/* ---- proof of possession (JWT) ---- */
typedef struct iss_proof {
    tes_key *key;        /* from the header's jwk (owned) */
    tes_buf attestation; /* the header's x5c as a CBOR array of DER (empty: no x5c) */
    char nonce[ISS_NONCE_MAX + 1];
    int64_t iat;
    bool has_ka;    /* the header carried "key_attestation" (parsed into ka) */
    iss_key_att ka; /* its key attestation, checked but for the trust in its signer */
} iss_proof;

/* Parses and checks one proof JWT: three base64url parts (no padding);
 * header {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": EC P-256,
 * optional "x5c" (Tessera's attestation chain) or "key_attestation" (a key
 * attestation JWT, OpenID4VCI 1.0 Appendix D.1), not both} with no "crit",
 * "kid" or private "d"; the ES256 signature over header.payload with the jwk
 * key; claims "aud" == credential_issuer (string, or array holding it),
 * integer "iat" within ISS_IAT_SKEW of now, "exp" (if any) after now, string
 * "nonce". A key_attestation is checked with iss_key_att_parse (c_nonce =
 * the proof's nonce) and the jwk must be one of its attested_keys. The
 * nonce is not looked up here. TES_ERR_HTTP_REQUEST for framing,
 * TES_ERR_PROOF for the rest. */
TES_MUST_CHECK tes_err iss_proof_parse(const iss_policy *p, const char *jwt, size_t len,
                                       int64_t now, iss_proof *out);
/* Checks the proof's key attestation when the policy has vendor roots: a
 * key_attestation's signer (iss_key_att_trust); else the x5c: chain to a
 * vendor root, challenge = the nonce bytes, the attested key is the jwk key,
 * user verification when required; one of the two must be there. TES_OK
 * when the policy has no vendor roots. TES_ERR_PROOF with the reason
 * otherwise. */
TES_MUST_CHECK tes_err iss_proof_attestation(const iss_policy *p, const iss_proof *proof,
                                             int64_t now);
void iss_proof_free(iss_proof *p);

/* ---- JOSE pieces shared by the proof and key attestation parsers ----
 * (struct json_t is jansson's json_t; callers that build JSON include
 * <jansson.h>.) Each failure is `code` with a message naming `what`. */
struct json_t;
/* (Compact JWS, base64url and JWK themselves: tessera/jose.h.)
 * An EC P-256 public JWK (no "d") -> key: tes_jwk_to_key, its refusals as code. */
TES_MUST_CHECK tes_err iss_jwk_parse(struct json_t *jwk, tes_err code, const char *what,
                                     tes_key **out);
/* An x5c array (1..ISS_X5C_MAX standard-base64 DER) -> CBOR array of bstr
 * appended to out; messages start with prefix. */
TES_MUST_CHECK tes_err iss_x5c_parse(struct json_t *x5c, tes_err code, const char *prefix,
                                     tes_buf *out);

/* Hex SHA-256 of the public COSE_Key of k (65 bytes with the NUL). */
TES_MUST_CHECK tes_err iss_key_thumbprint(const tes_key *k, char out[65]);

/* The device id of a proof (65 bytes with the NUL): the lower-case hex
 * SHA-256 of the DER of its attestation chain's second certificate (x5c[1],
 * the secure element's attestation certificate, the same for every key of
 * one phone) -- the x5c of the key attestation when the proof carries one;
 * the key thumbprint when the proof has no chain of two or more
 * certificates. Only as trustworthy as the chain: verified when the policy
 * has vendor roots (iss_proof_attestation), the wallet's word otherwise. */
TES_MUST_CHECK tes_err iss_proof_device_id(const iss_proof *p, char out[65]);

/* base64url of each 32-byte coordinate of a P-256 key into jwk_x / jwk_y. */
TES_MUST_CHECK tes_err iss_key_jwk(const tes_key *k, tes_buf *jwk_x, tes_buf *jwk_y);

/* Builds the offer URI of issuer.h for an offer. */
TES_MUST_CHECK tes_err iss_offer_uri(const char *credential_issuer, const char *config_id,
                                     const char *code, int tx_digits, tes_buf *out);

/* Error name of the OpenID4VCI / OAuth wire and its HTTP status for a code. */
const char *iss_wire_error(tes_err e, int *http_status);

/* ---- the DS-in-HSM descriptor (ds_signer.c): written by tes_authority_create,
 * read by tes_ds_signer_load; {"se": "pkcs11:MODULE[:LABEL]", "key_id": "<id>"}
 * and nothing else, at most ISS_DS_HSM_FILE_MAX bytes. ---- */
#define ISS_DS_HSM_FILE_MAX 4096
/* Checks "pkcs11:MODULE[:LABEL]" and makes a relative module path absolute
 * into spec. TES_ERR_ARG (not of that form, too long), TES_ERR_SE_MODULE
 * (a relative module path that does not resolve). */
tes_err iss_ds_hsm_spec(const char *in, char *spec, size_t cap);
tes_err iss_ds_hsm_write(const char *path, const char *spec, const char *key_id);
tes_err iss_ds_hsm_read(const char *path, char *spec, size_t spec_cap,
                        char key_id[TES_SE_ID_MAX]);

#endif
