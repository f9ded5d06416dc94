/*
 * tessera/mdoc.h — ISO/IEC 18013-5 mobile documents: the doctype table,
 * issuing (IssuerSigned with MSO), presenting (DeviceResponse with device
 * signature or MAC) and verifying (every check a reader makes).
 *
 * Byte formats used throughout:
 *  - a stored credential ("mdoc file") is the CBOR map
 *      {"docType": tstr, "issuerSigned": IssuerSigned}
 *    i.e. a Document without deviceSigned. Loading also accepts a bare
 *    IssuerSigned and a DeviceResponse holding one document.
 *  - a SessionTranscript is given either as the plain CBOR array or as
 *    SessionTranscriptBytes (tag 24 wrapping it); tes_mdoc_transcript_load
 *    accepts both.
 */
#ifndef TESSERA_MDOC_H
#define TESSERA_MDOC_H

#include "tessera/cbor.h"
#include "tessera/cose.h"
#include "tessera/crypto.h"
#include "tessera/trust.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TES_DOCTYPE_MDL "org.iso.18013.5.1.mDL"
#define TES_NS_MDL "org.iso.18013.5.1"
#define TES_DOCTYPE_PID "eu.europa.ec.eudi.pid.1"
#define TES_NS_PID "eu.europa.ec.eudi.pid.1"
/* The per-site pseudonym (docs/PSEUDONYM.md): a device-signed element, so the
 * MSO must authorise its namespace (keyAuthorizations). Its value is a bstr
 * of the 32 bytes of tes_se_pseudonym. */
#define TES_NS_PSEUDONYM "org.tessera.pseudonym.1"
#define TES_ELEM_PSEUDONYM "pseudonym"
/* Most namespaces in tes_mdoc_issue_params.device_namespaces. */
#define TES_MDOC_MAX_DEVICE_NAMESPACES 8

/* ---- doctype table ---- */

typedef enum tes_elem_type {
    TES_ELEM_TSTR = 1,
    TES_ELEM_BSTR,      /* JSON: base64url text or {"file": "path"} */
    TES_ELEM_UINT,
    TES_ELEM_INT,
    TES_ELEM_BOOL,
    TES_ELEM_FULL_DATE, /* "YYYY-MM-DD" -> 1004("YYYY-MM-DD"); a date-time -> 0("...Z") */
    TES_ELEM_TDATE,     /* RFC 3339 date-time -> 0("YYYY-MM-DDThh:mm:ssZ") */
    TES_ELEM_ARRAY,     /* any JSON array; "*_date" members become full-date */
    TES_ELEM_MAP,       /* any JSON object; same rule */
    TES_ELEM_ANY,
} tes_elem_type;

typedef struct tes_elem_def {
    const char *name; /* "age_over_NN" matches age_over_00 .. age_over_99 */
    tes_elem_type type;
    bool mandatory;
} tes_elem_def;

typedef struct tes_doctype {
    const char *doctype;
    const char *ns;         /* the doctype's own namespace */
    const tes_elem_def *elems;
    size_t n_elems;
    /* The namespaces whose elements the holder's device may sign itself (the
     * MSO's keyAuthorizations.nameSpaces when an issuer follows the table):
     * the PID's is TES_NS_PSEUDONYM; none for the mDL and registered ones. */
    const char *const *device_namespaces;
    size_t n_device_namespaces;
} tes_doctype;

/* Built-in tables (mDL, PID) and those added with tes_doctype_register. */
const tes_doctype *tes_doctype_find(const char *doctype);
/* Element definition in the doctype's namespace, or NULL. */
const tes_elem_def *tes_doctype_elem(const tes_doctype *t, const char *name);
/* Adds a doctype from JSON data:
 *   {"docType": "...", "namespace": "...",
 *    "elements": [{"name": "...", "type": "tstr|bstr|uint|int|bool|full-date|tdate|array|map|any",
 *                  "mandatory": true}, ...]}
 * The table lives until process exit. */
TES_MUST_CHECK tes_err tes_doctype_register_json(const char *json, size_t len);

/* One claim: namespace, element, and its value as encoded CBOR. */
typedef struct tes_mdoc_claim {
    char *ns;
    char *name;
    tes_buf value; /* encoded CBOR */
} tes_mdoc_claim;

typedef struct tes_mdoc_claims {
    tes_mdoc_claim *items;
    size_t n;
} tes_mdoc_claims;

/* Converts claims JSON {"namespace": {"element": value}} for doctype t.
 * Elements of t's namespace must be in its table with the right JSON type;
 * mandatory elements must be present. Other namespaces take any value.
 * base_dir resolves {"file": "path"} (NULL: current directory).
 * Errors: TES_ERR_JSON (not JSON), TES_ERR_CLAIMS (message names the element). */
TES_MUST_CHECK tes_err tes_mdoc_claims_from_json(const tes_doctype *t, const char *json, size_t len,
                                                 const char *base_dir, tes_mdoc_claims *out);
void tes_mdoc_claims_free(tes_mdoc_claims *c);

/* ---- issuing ---- */

typedef struct tes_mdoc_issue_params {
    const char *doctype;
    const tes_mdoc_claims *claims;
    const tes_key *device_key;      /* public key bound into the MSO */
    const tes_signer *issuer;       /* document signer */
    const tes_bytes *ds_chain;      /* x5chain, DER, leaf first */
    size_t ds_chain_len;
    int64_t signed_at, valid_from, valid_until; /* seconds, fractions dropped */
    size_t decoys;                  /* decoy digests per namespace */
    const tes_rng *rng;             /* NULL: system */
    /* optional IETF Token Status List reference */
    const char *status_uri;
    uint32_t status_idx;
    /* optional: namespaces the device may sign elements of (borrowed), written
     * as DeviceKeyInfo keyAuthorizations {"nameSpaces": [...]} (18013-5
     * §9.1.2.4); at most TES_MDOC_MAX_DEVICE_NAMESPACES, each a non-empty
     * string, none twice. n 0: no keyAuthorizations (the device may sign
     * nothing). Usually the doctype's device_namespaces. */
    const char *const *device_namespaces;
    size_t n_device_namespaces;
} tes_mdoc_issue_params;

/* Issues one mdoc; out receives the stored-credential map (see top). Each
 * IssuerSignedItem gets 32 random bytes and a random digestID < 2^31.
 * Errors: TES_ERR_ARG (a missing parameter, validity, claims out of order,
 * bad device_namespaces), TES_ERR_NOMEM, the signer's. */
TES_MUST_CHECK tes_err tes_mdoc_issue(const tes_mdoc_issue_params *p, tes_buf *out);

/* What a wallet records about a stored credential, read from its MSO and
 * document signer certificate. The issuer signature is checked against the
 * DS certificate the credential carries, so a damaged or altered credential
 * is refused; the chain is not (a wallet holds no trust roots). */
typedef struct tes_mdoc_cred_info {
    char doctype[256];
    char issuer[256];    /* document signer subject */
    int64_t signed_at, valid_from, valid_until;
    tes_key *device_key; /* MSO deviceKeyInfo.deviceKey (owned: freed by _free) */
    /* keyAuthorizations.nameSpaces: the namespaces the device may sign (the
     * first TES_MDOC_MAX_DEVICE_NAMESPACES; longer names are left out) */
    size_t n_device_namespaces;
    char device_namespaces[TES_MDOC_MAX_DEVICE_NAMESPACES][256];
} tes_mdoc_cred_info;
TES_MUST_CHECK tes_err tes_mdoc_cred_info_read(tes_bytes mdoc, tes_mdoc_cred_info *out);
void tes_mdoc_cred_info_free(tes_mdoc_cred_info *info);
/* True when info's MSO lets the device sign elements of namespace ns. */
bool tes_mdoc_cred_info_device_ns(const tes_mdoc_cred_info *info, const char *ns);

/* The issuer-signed elements of a stored credential, each with its value
 * (encoded CBOR), into *out (the caller's: tes_mdoc_claims_free; at most
 * 4096). Nothing is verified (tes_mdoc_cred_info_read does). Errors:
 * TES_ERR_MDOC_STRUCTURE, TES_ERR_MDOC_ITEM, the CBOR errors, TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_mdoc_cred_elements(tes_bytes mdoc, tes_mdoc_claims *out);

/* ---- requests ---- */

typedef struct tes_mdoc_req_elem {
    tes_bytes ns, name;     /* views into the request bytes, or caller strings */
    bool intent_to_retain;
} tes_mdoc_req_elem;

typedef struct tes_mdoc_doc_request {
    tes_bytes doctype;
    tes_mdoc_req_elem *elems;
    size_t n_elems;
    tes_bytes items_request_bytes; /* exact tag-24 ItemsRequestBytes */
    bool has_reader_auth;
    tes_cose_msg reader_auth;
} tes_mdoc_doc_request;

typedef struct tes_mdoc_request {
    tes_mdoc_doc_request *docs;
    size_t n_docs;
} tes_mdoc_request;

/* Parses a DeviceRequest (views into `in`, which must outlive the result).
 * Errors: CBOR errors, TES_ERR_MDOC_REQUEST, TES_ERR_MDOC_VERSION. */
TES_MUST_CHECK tes_err tes_mdoc_request_parse(tes_bytes in, tes_mdoc_request *out);
void tes_mdoc_request_free(tes_mdoc_request *r);
/* Verifies readerAuth of docs[i] over ReaderAuthentication built from the
 * plain SessionTranscript bytes, against reader roots in `trust` at time at.
 * On success *reader points at the reader certificate (borrowed from trust).
 * Errors: TES_ERR_NOT_FOUND (no readerAuth), trust errors, TES_ERR_READER_SIG. */
TES_MUST_CHECK tes_err tes_mdoc_request_verify_reader(const tes_mdoc_request *r, size_t i,
                                                      tes_bytes transcript, tes_trust_store *trust,
                                                      int64_t at, const tes_cert **reader);
/* Builds a DeviceRequest for one doctype with optional reader authentication. */
TES_MUST_CHECK tes_err tes_mdoc_request_build(const char *doctype, const tes_mdoc_req_elem *elems,
                                              size_t n, tes_bytes transcript,
                                              const tes_signer *reader, const tes_bytes *chain,
                                              size_t chain_len, tes_buf *out);

/* ---- presenting ---- */

/* One device-signed element: DeviceNameSpaces ns -> {name: value} (18013-5
 * §8.3.2.1.2.2). The verifier accepts it only when the MSO's
 * keyAuthorizations authorise it. */
typedef struct tes_mdoc_device_elem {
    const char *ns, *name;
    tes_bytes value; /* one encoded CBOR data item (borrowed) */
} tes_mdoc_device_elem;
#define TES_MDOC_MAX_DEVICE_ELEMS 8

typedef struct tes_mdoc_present_params {
    tes_bytes mdoc;                 /* stored credential */
    const tes_mdoc_req_elem *elems; /* requested elements (e.g. from a DocRequest) */
    size_t n_elems;
    /* device-signed elements (borrowed; 0..TES_MDOC_MAX_DEVICE_ELEMS), put
     * into deviceSigned.nameSpaces and so covered by the device signature or
     * MAC; (ns, name) pairs distinct. */
    const tes_mdoc_device_elem *device_elems;
    size_t n_device_elems;
    tes_bytes transcript;           /* plain SessionTranscript bytes */
    /* device authentication: by signature with `device`, or by MAC when
     * reader_key (EReaderKey public) is set, using device_key for ECDH */
    const tes_signer *device;
    const tes_key *device_key;
    const tes_key *reader_key;
    /* MAC with a device key held elsewhere (a secure element): when set, it
     * computes ECDH(device private key, peer) -> x-coordinate and is used
     * instead of device_key. */
    tes_err (*device_ecdh)(void *ctx, const tes_key *peer, uint8_t out[TES_MAX_COORD],
                           size_t *out_len);
    void *device_ecdh_ctx;
} tes_mdoc_present_params;

/* Builds a DeviceResponse disclosing exactly the requested elements that the
 * credential holds (age_over_NN by the nearest-match rule of 18013-5
 * §7.2.5), and the device-signed elements given; requested elements it does
 * not hold are left out and reported in `missing` (may be NULL). Whether
 * the MSO authorises the device-signed elements is the caller's business
 * (a verifier refuses them otherwise). Errors: TES_ERR_MDOC_* when the
 * credential is malformed, TES_ERR_ARG when neither auth mode is usable or
 * the device-signed elements are malformed (too many, empty names, a value
 * that is not one CBOR item, a pair twice). */
TES_MUST_CHECK tes_err tes_mdoc_present(const tes_mdoc_present_params *p, tes_buf *out,
                                        size_t *missing);

/* ---- transcripts and session keys ---- */

/* Accepts a plain SessionTranscript or SessionTranscriptBytes; writes the
 * plain array encoding into plain and the tag-24 form into tagged (either may
 * be NULL). Error: TES_ERR_MDOC_TRANSCRIPT. */
TES_MUST_CHECK tes_err tes_mdoc_transcript_load(tes_bytes in, tes_buf *plain, tes_buf *tagged);
/* HKDF-SHA-256(ECDH(priv, pub), SHA-256(SessionTranscriptBytes), info):
 * tes_iso18013_derive_key (crypto.h) after ECDH, with the transcript in
 * either form (plain SessionTranscript or SessionTranscriptBytes). Errors:
 * TES_ERR_MDOC_TRANSCRIPT and those of tes_key_ecdh / tes_iso18013_derive_key. */
TES_MUST_CHECK tes_err tes_mdoc_derive_key(const tes_key *priv, const tes_key *pub,
                                           tes_bytes transcript, const char *info,
                                           uint8_t out[32]);
/* The same from an already computed shared secret z. */
TES_MUST_CHECK tes_err tes_mdoc_derive_key_from_secret(tes_bytes z, tes_bytes transcript,
                                                       const char *info, uint8_t out[32]);

/* ---- verifying ---- */

typedef struct tes_mdoc_element {
    tes_bytes ns, name;  /* views into the response */
    tes_bytes value;     /* encoded CBOR of elementValue (view) */
    uint32_t digest_id;
    bool device_signed;  /* came from deviceSigned (authorised by the MSO) */
} tes_mdoc_element;

typedef struct tes_mdoc_document {
    tes_bytes doctype;
    char issuer[256];        /* document signer subject */
    char issuer_cn[128];
    char issuer_country[8];
    int64_t signed_at, valid_from, valid_until;
    bool device_mac;         /* authenticated by MAC (else signature) */
    bool has_status;
    uint64_t status_idx;
    tes_bytes status_uri;
    /* Who signed it, for binding its status list to the same issuer
     * (tes_status_check_doc): the document signer's certificate and the
     * trusted IACA root its chain ended at. Borrowed from the trust store
     * given to tes_mdoc_verify: valid while that store lives. */
    const tes_cert *issuer_cert, *issuer_root;
    tes_mdoc_element *elems;
    size_t n_elems;
} tes_mdoc_document;

typedef struct tes_mdoc_result {
    tes_mdoc_document *docs;
    size_t n_docs;
    /* index of the document a failure concerns (or SIZE_MAX) */
    size_t failed_doc;
} tes_mdoc_result;

typedef struct tes_mdoc_verify_opts {
    tes_trust_store *trust;  /* IACA roots */
    tes_bytes transcript;    /* SessionTranscript (plain or tag-24) */
    const tes_key *reader_key; /* EReaderKey private half, for device MAC */
    int64_t at;              /* evaluation time */
} tes_mdoc_verify_opts;

/* Verifies a DeviceResponse. Checks, for every document: structure and
 * version; x5chain; chain to a trusted root and the DS profile at `at`;
 * the issuer signature; MSO structure, version and digest algorithm; MSO
 * docType equals the Document's; validity window at `at`; each disclosed
 * IssuerSignedItem digest, computed over the exact received tag-24 bytes;
 * device signature or MAC over DeviceAuthentication with the transcript;
 * device-signed elements only where the MSO authorises them.
 * Undisclosed digests are normal. The first failing check's code is
 * returned (tes_err_message() names what failed) and result->failed_doc
 * says which document. On success the result holds views into `response`
 * (keep it alive); free with tes_mdoc_result_free in every case. */
TES_MUST_CHECK tes_err tes_mdoc_verify(tes_bytes response, const tes_mdoc_verify_opts *o,
                                       tes_mdoc_result *result);
void tes_mdoc_result_free(tes_mdoc_result *r);

/* Reads the status reference from an IssuerAuth (COSE_Sign1 over an MSO)
 * without verifying it. TES_ERR_NOT_FOUND when the MSO has none. */
TES_MUST_CHECK tes_err tes_mdoc_status_ref(tes_bytes issuer_auth, uint64_t *idx, tes_buf *uri);

#ifdef __cplusplus
}
#endif
#endif
