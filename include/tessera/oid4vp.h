/*
 * tessera/oid4vp.h — the pieces of OpenID for Verifiable Presentations 1.0
 * (final) that need no HTTP, for the mso_mdoc format: the Digital
 * Credentials Query Language (DCQL, §6) and its matcher, the mdoc
 * SessionTranscript with the OpenID4VPHandover (Appendix B.2.6.1), and the
 * verification of signed request objects (JAR, RFC 9101).
 *
 * Ownership: every result a function returns through an out-parameter is
 * the caller's and is freed with the matching *_free function; inputs are
 * borrowed for the call only. Thread rules: no shared state; distinct
 * objects may be used from distinct threads; one object from one thread at
 * a time. Errors are reported as in core.h (tes_err_message() says what was
 * wrong).
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

/* ---- DCQL ---- */

/* A DCQL query (OpenID4VP 1.0 §6), parsed strictly: every member the
 * specification defines for a query, a Credential Query, a Claims Query
 * (mso_mdoc) and a Credential Set Query is checked for type and
 * constraints; any other member, a duplicate id, an empty array, a claim
 * path that is not [namespace, element] (two strings), a claim_sets entry
 * naming an unknown claim id, a credential_sets option naming an unknown
 * Credential Query, a value that is not a string, integer or boolean, and
 * anything beyond the limits below is refused with TES_ERR_DCQL and a
 * message that says which. A Credential Query whose format is not
 * "mso_mdoc" is refused with TES_ERR_DCQL_UNSUPPORTED. trusted_authorities
 * is checked for shape (non-empty array of {type, values}) and kept only as
 * a count: the matcher does not evaluate it (the caller may refuse a query
 * that has it, or check the issuer itself). A credential set's "purpose"
 * (in the drafts' examples) is accepted as a string or object and ignored.
 * Duplicate JSON keys are refused. */

#define TES_DCQL_MAX_INPUT 65536       /* bytes of JSON */
#define TES_DCQL_MAX_CREDENTIALS 16    /* Credential Queries in a query */
#define TES_DCQL_MAX_CLAIMS 64         /* Claims Queries in one Credential Query */
#define TES_DCQL_MAX_CLAIM_SETS 16     /* claim_sets of one Credential Query */
#define TES_DCQL_MAX_VALUES 16         /* values of one Claims Query */
#define TES_DCQL_MAX_CREDENTIAL_SETS 8 /* credential_sets of a query */
#define TES_DCQL_MAX_OPTIONS 8         /* options of one credential set */
#define TES_DCQL_MAX_AUTHORITIES 8     /* trusted_authorities (and their values) */
#define TES_DCQL_MAX_STRING 512        /* bytes of any string (ids: 64) */
#define TES_DCQL_MAX_ID 64

typedef enum tes_dcql_value_type {
    TES_DCQL_VALUE_STRING = 1,
    TES_DCQL_VALUE_INT = 2,
    TES_DCQL_VALUE_BOOL = 3,
} tes_dcql_value_type;

/* A claim value: one of the `values` of a Claims Query, or an element value
 * the caller gives the matcher. */
typedef struct tes_dcql_value {
    tes_dcql_value_type type;
    const char *str; /* TES_DCQL_VALUE_STRING: NUL-terminated UTF-8 */
    int64_t i;       /* TES_DCQL_VALUE_INT */
    bool b;          /* TES_DCQL_VALUE_BOOL */
} tes_dcql_value;

typedef struct tes_dcql_claim {
    const char *id;      /* NULL when absent (allowed only without claim_sets) */
    const char *ns;      /* path[0] */
    const char *element; /* path[1] */
    bool intent_to_retain;
    size_t n_values; /* 0: any value */
    tes_dcql_value *values;
} tes_dcql_claim;

typedef struct tes_dcql_claim_set {
    size_t n;
    size_t *claims; /* indices into the Credential Query's claims */
} tes_dcql_claim_set;

typedef struct tes_dcql_credential {
    const char *id;
    const char *doctype; /* meta.doctype_value */
    bool multiple;                             /* default false */
    bool require_cryptographic_holder_binding; /* default true */
    size_t n_trusted_authorities;              /* parsed, not evaluated */
    size_t n_claims; /* 0: no claims requested (claims absent) */
    tes_dcql_claim *claims;
    size_t n_claim_sets; /* 0: every claim is requested */
    tes_dcql_claim_set *claim_sets;
} tes_dcql_credential;

typedef struct tes_dcql_credential_set {
    bool required; /* default true */
    size_t n_options;
    tes_dcql_claim_set *options; /* each: indices into the query's credentials */
} tes_dcql_credential_set;

typedef struct tes_dcql_query {
    size_t n_credentials;
    tes_dcql_credential *credentials;
    size_t n_credential_sets; /* 0: every Credential Query is required */
    tes_dcql_credential_set *credential_sets;
    void *priv; /* the parsed JSON the strings point into */
} tes_dcql_query;

/* Parses the DCQL query JSON json[0..len) into *out (the caller's; free
 * with tes_dcql_query_free; untouched on failure). Errors: TES_ERR_ARG
 * (NULL argument), TES_ERR_DCQL (not JSON, malformed or beyond the
 * limits), TES_ERR_DCQL_UNSUPPORTED (a format other than mso_mdoc),
 * TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_dcql_parse(const char *json, size_t len, tes_dcql_query **out);
void tes_dcql_query_free(tes_dcql_query *q);

/* A credential the holder could present: its doctype and the elements it
 * holds, each with its value when the caller gives it (value NULL: not
 * given). Borrowed by the matcher for the call only. */
typedef struct tes_dcql_element {
    const char *ns;
    const char *name;
    const tes_dcql_value *value; /* NULL: value not given */
} tes_dcql_element;

typedef struct tes_dcql_candidate {
    const char *doctype;
    size_t n_elements;
    const tes_dcql_element *elements;
} tes_dcql_candidate;

/* One candidate that satisfies a Credential Query, and what to release. */
typedef struct tes_dcql_match {
    size_t candidate; /* index into the candidates given */
    size_t n_claims;
    size_t *claims;   /* indices into the Credential Query's claims */
    /* true when a released claim has `values` and the candidate's element
     * value was not given: the matcher counted it as matching, and the
     * caller MUST compare the element's value with the claim's values
     * before presenting (and treat the candidate as not matching if none
     * is equal). */
    bool needs_value_check;
} tes_dcql_match;

typedef struct tes_dcql_query_result {
    size_t n_matches; /* every matching candidate, in candidate order */
    tes_dcql_match *matches;
    /* to be presented: it matches and (no credential_sets) or it belongs to
     * the first satisfiable option of a credential set. Present
     * matches[0], or every match when the query has multiple = true. */
    bool selected;
} tes_dcql_query_result;

typedef struct tes_dcql_result {
    size_t n;                          /* = query->n_credentials */
    tes_dcql_query_result *credentials; /* one per Credential Query, same order */
} tes_dcql_result;

/* Matches query against candidates[0..n). A candidate satisfies a
 * Credential Query when its doctype equals doctype_value and it holds the
 * claims requested: every claim when there are no claim_sets, else the
 * first claim set (in query order) whose claims it all holds — those are
 * the claims to release (none when the query has no claims). A claim with
 * `values` matches only an element whose given value equals one of them
 * (strings byte for byte, integers, booleans; types must agree); an element
 * whose value was not given matches and sets needs_value_check (see
 * tes_dcql_match). The query is satisfied when, without credential_sets,
 * every Credential Query has a match, or else every required credential set
 * has an option all of whose Credential Queries have a match.
 *
 * *out (the caller's, free with tes_dcql_result_free) is filled both on
 * TES_OK and on TES_ERR_DCQL_UNSATISFIED (so the caller can say what is
 * missing). Errors: TES_ERR_ARG (NULL argument or a candidate with NULL
 * strings), TES_ERR_DCQL_UNSATISFIED (the query cannot be satisfied),
 * TES_ERR_NOMEM (out untouched). */
TES_MUST_CHECK tes_err tes_dcql_match_candidates(const tes_dcql_query *query,
                                      const tes_dcql_candidate *candidates, size_t n,
                                      tes_dcql_result *out);
void tes_dcql_result_free(tes_dcql_result *r);

/* ---- SessionTranscript (Appendix B) ---- */

/* The mdoc SessionTranscript of OpenID4VP 1.0 Appendix B.2.6.1 (invocation
 * via redirects), appended to out as plain CBOR (what tes_mdoc_present and
 * tes_mdoc_verify take as `transcript`):
 *
 *   SessionTranscript     = [null, null, OpenID4VPHandover]
 *   OpenID4VPHandover     = ["OpenID4VPHandover", SHA-256(OpenID4VPHandoverInfoBytes)]
 *   OpenID4VPHandoverInfo = [clientId, nonce, jwkThumbprint / null, responseUri]
 *
 * client_id is the request's client_id with its prefix (e.g.
 * "x509_san_dns:example.com"), nonce its nonce, response_uri its
 * response_uri (or redirect_uri); jwk_thumbprint the 32-byte RFC 7638
 * SHA-256 thumbprint (raw, not base64url) of the verifier's
 * response-encryption JWK, or NULL when the response is not encrypted
 * (CBOR null). The Digital Credentials API variant is not built here.
 * Errors: TES_ERR_ARG (a NULL or empty string, out NULL), TES_ERR_NOMEM,
 * TES_ERR_CRYPTO; out is unchanged on failure. */
TES_MUST_CHECK tes_err tes_oid4vp_session_transcript(const char *client_id, const char *nonce,
                                                     const uint8_t *jwk_thumbprint,
                                                     const char *response_uri, tes_buf *out);

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
