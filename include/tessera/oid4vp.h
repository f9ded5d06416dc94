/*
 * tessera/oid4vp.h — OpenID for Verifiable Presentations 1.0 under the HAIP
 * 1.0 profile, the wallet's side without HTTP (issue #13).
 *
 * Thread rules: no global state; every object is used by one thread at a
 * time.
 */
#ifndef TESSERA_OID4VP_H
#define TESSERA_OID4VP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/core.h"
#include "tessera/crypto.h"
#include "tessera/jose.h"
#include "tessera/trust.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Request object (JAR) ----
 * The signed request object a verifier (relying party) hands the wallet
 * (OpenID4VP 1.0 §5, JAR RFC 9101, HAIP 1.0): a compact JWS with "typ"
 * "oauth-authz-req+jwt", "alg" ES256 and an "x5c" chain (leaf first,
 * standard base64 DER) whose leaf is the relying party's access certificate
 * (trust.h: a reader certificate under a trusted RP root with its DNS name
 * as subjectAltName dNSName, validated with TES_PROFILE_READER). The
 * request's "client_id" names that certificate: "x509_san_dns:<dns>" (a
 * dNSName of the leaf) or "x509_hash:<base64url SHA-256 of the leaf DER>".
 *
 * Checked claims: "response_type" "vp_token"; "response_mode"
 * "direct_post.jwt" or "direct_post"; "response_uri" https (http only on a
 * loopback host when allow_loopback_http); "nonce" (1..TES_OID4VP_NONCE_MAX);
 * "state" optional (1..TES_OID4VP_STATE_MAX); "aud", when present,
 * "https://self-issued.me/v2"; "exp" / "iat", when present, against now with
 * skew; "dcql_query" an object, handed out as its JSON text (not parsed
 * here); "client_metadata" optional, when present its "jwks" holding exactly
 * one key usable for encryption (EC P-256, "use" "enc" or absent) and
 * "encrypted_response_enc_values_supported" from {"A128GCM","A256GCM"};
 * response_mode "direct_post.jwt" requires that key. */
#define TES_OID4VP_REQUEST_MAX 32768 /* characters of a request object */
#define TES_OID4VP_X5C_MAX 4         /* certificates in "x5c" */
#define TES_OID4VP_CERT_MAX 8192     /* bytes of one DER certificate */
#define TES_OID4VP_CLIENT_ID_MAX 300 /* bytes of client_id */
#define TES_OID4VP_URI_MAX 2048      /* bytes of response_uri */
#define TES_OID4VP_NONCE_MAX 256     /* bytes of nonce */
#define TES_OID4VP_STATE_MAX 256     /* bytes of state */
#define TES_OID4VP_KID_MAX 256       /* bytes of the encryption key's kid */
#define TES_OID4VP_JWKS_MAX 8        /* keys in client_metadata.jwks */
#define TES_OID4VP_SKEW 300          /* default clock skew, seconds */
#define TES_OID4VP_AUD "https://self-issued.me/v2"
#define TES_OID4VP_REQUEST_TYP "oauth-authz-req+jwt"

typedef struct tes_oid4vp_request_opts {
    tes_trust_store *rp_roots; /* required: the RP roots (TES_PROFILE_READER) */
    int64_t now;               /* required: Unix seconds */
    int64_t skew;              /* 0: TES_OID4VP_SKEW; < 0: none */
    const char *client_id;     /* the client_id of the request URL; NULL: none given */
    bool allow_loopback_http;  /* http://localhost, 127.0.0.1, [::1] response_uri (tests) */
} tes_oid4vp_request_opts;

enum {
    TES_OID4VP_ENC_A128GCM = 1u << 0,
    TES_OID4VP_ENC_A256GCM = 1u << 1,
};

/* A verified request (owned; tes_oid4vp_request_free). */
typedef struct tes_oid4vp_request {
    char *client_id;        /* as in the request, prefix included */
    char *dns_name;         /* the leaf's dNSName (x509_san_dns: the one named) */
    char *display_name;     /* the leaf's subject common name */
    tes_reader_scope scope; /* purpose and permitted elements (empty when the leaf has none) */
    char *response_uri;
    char *response_mode; /* "direct_post.jwt" or "direct_post" */
    char *nonce;
    char *state;      /* NULL when absent */
    char *dcql_query; /* compact JSON text of the "dcql_query" object */
    tes_key *enc_key; /* response-encryption key (public), NULL without client_metadata */
    char *enc_kid;    /* its "kid", NULL when absent */
    char enc_thumbprint[TES_JWK_THUMBPRINT_LEN + 1]; /* RFC 7638, "" without enc_key */
    uint32_t enc_values; /* TES_OID4VP_ENC_* supported; 0 when not given */
    tes_cert *leaf;      /* the RP's access certificate (owned reference) */
} tes_oid4vp_request;

/* Verifies the request object jws[0..len) for the wallet (see above) and
 * hands out *out (owned by the caller, tes_oid4vp_request_free); *out is NULL
 * on failure. Errors, in the order checked:
 *   TES_ERR_ARG               NULL argument, no rp_roots
 *   TES_ERR_JOSE / TES_ERR_SIGNATURE  len > TES_OID4VP_REQUEST_MAX, not a
 *                             compact JWS (duplicate member,
 *                             bad base64url, signature length)
 *   TES_ERR_JOSE_HEADER       "typ" not oauth-authz-req+jwt, "alg" not ES256,
 *                             "crit", "x5c" missing or malformed or too long
 *   trust.h errors            the chain (TES_ERR_CHAIN_UNTRUSTED,
 *                             TES_ERR_CERT_EXPIRED, TES_ERR_READER_PROFILE, ...)
 *   TES_ERR_SIGNATURE         the JWS is not signed by the leaf's key
 *   TES_ERR_CLIENT_ID_PREFIX  client_id without a supported prefix
 *   TES_ERR_RP_PROFILE        x509_san_dns and the leaf has no dNSName
 *   TES_ERR_CLIENT_ID_MISMATCH  the dns / hash does not name the leaf, or
 *                             client_id differs from o->client_id
 *   TES_ERR_REQUEST_EXPIRED   exp passed or iat in the future (beyond skew)
 *   TES_ERR_OID4VP_REQUEST    a claim missing, of the wrong type, too long or
 *                             of a refused value (response_type,
 *                             response_mode, nonce, state, aud, dcql_query,
 *                             client_metadata)
 *   TES_ERR_JWK               the encryption key is not EC P-256
 *   TES_ERR_RESPONSE_URI      response_uri not https (nor allowed loopback http)
 *   TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_oid4vp_request_verify(const char *jws, size_t len,
                                                 const tes_oid4vp_request_opts *o,
                                                 tes_oid4vp_request **out);
void tes_oid4vp_request_free(tes_oid4vp_request *r);

#ifdef __cplusplus
}
#endif
#endif
