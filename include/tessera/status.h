/*
 * tessera/status.h — IETF Token Status List (draft-ietf-oauth-status-list),
 * CWT form, as referenced from an mdoc MSO: status: {status_list: {idx, uri}}.
 *
 * A list holds 2 bits per credential: 0 valid, 1 revoked, 2 suspended
 * (3 reserved). The issuer publishes it as a Status List Token: a COSE_Sign1
 * (protected: alg, typ 16 = "application/statuslist+cwt"; unprotected:
 * x5chain of the list signer) over CWT claims {2 sub: uri, 6 iat, 4 exp,
 * 65534 ttl, 65533 status_list: {"bits": 2, "lst": zlib-compressed bytes}}.
 *
 * A verifier checks a credential's status with a tes_status_cache: "online"
 * fetches (libcurl) and caches lists, "cached" only uses a list fetched within
 * a maximum age (a hotel reader without network), "off" skips. Valid,
 * revoked, suspended and undetermined are four different outcomes: a list
 * that cannot be fetched, does not verify, or is too old is UNDETERMINED,
 * never revoked and never valid.
 *
 * Whose list: a credential's status is read only from a list its own issuer
 * signed. The list signer's x5chain must end at the SAME trusted IACA root as
 * the credential's document signer, and the signer must be either that
 * document signer itself or another certificate that IACA issued under the
 * document-signer profile (mDL DS EKU, digitalSignature, not a CA: e.g. the
 * authority's next document signer after a rotation). A list signed under
 * any other root, even one the verifier trusts for credentials, gives
 * UNDETERMINED with TES_ERR_STATUS_ISSUER, never valid or revoked.
 *
 * Limits a verifier applies to what an issuer publishes: the inflated list is
 * bounded in bytes (whatever its bits per entry), checked while inflating;
 * the ttl honoured is capped; a list never replaces a cached one with a
 * later iat (a rollback).
 */
#ifndef TESSERA_STATUS_H
#define TESSERA_STATUS_H

#include "tessera/crypto.h"
#include "tessera/cose.h"
#include "tessera/mdoc.h"
#include "tessera/trust.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tes_status_value {
    TES_STATUS_VALID = 0,
    TES_STATUS_REVOKED = 1,
    TES_STATUS_SUSPENDED = 2,
    TES_STATUS_UNDETERMINED = 255, /* not a list value: "could not check" */
} tes_status_value;

#define TES_STATUS_MAX_ENTRIES (1u << 28) /* 268 million entries; 64 MiB at 2 bits */
/* Default bound on an inflated list in bytes, for every bits per entry (16 MiB:
 * 64 million entries at 2 bits, 16 million at 8). */
#define TES_STATUS_DEFAULT_MAX_LIST_BYTES (16u * 1024 * 1024)
/* Default cap on the ttl a verifier honours (24 h): a longer ttl counts as this. */
#define TES_STATUS_DEFAULT_MAX_TTL (24 * 3600)

/* An in-memory list of 2-bit entries. */
typedef struct tes_status_list {
    uint8_t *bits; /* packed, entry i at bits [2i, 2i+1] of byte i/4, LSB first */
    size_t n;      /* entries */
} tes_status_list;

TES_MUST_CHECK tes_err tes_status_list_new(size_t n, tes_status_list *out);
void tes_status_list_free(tes_status_list *l);
TES_MUST_CHECK tes_err tes_status_list_set(tes_status_list *l, size_t idx, tes_status_value v);
tes_status_value tes_status_list_get(const tes_status_list *l, size_t idx);

/* Compressed form (zlib, RFC 1950) of the packed bits, and back. Inflation
 * is bounded by max_entries (0: TES_STATUS_DEFAULT_MAX_LIST_BYTES, i.e. 4
 * entries per byte), checked while inflating: a stream that would inflate
 * beyond it is a decompression bomb, refused with TES_ERR_STATUS_TOO_LARGE
 * before anything beyond the bound is allocated. */
TES_MUST_CHECK tes_err tes_status_list_compress(const tes_status_list *l, tes_buf *out);
TES_MUST_CHECK tes_err tes_status_list_decompress(tes_bytes z, size_t max_entries,
                                                  tes_status_list *out);

/* Issuer: a signed Status List Token for the list published at uri. */
TES_MUST_CHECK tes_err tes_status_token_build(const tes_status_list *l, const char *uri,
                                              int64_t iat, int64_t exp, int64_t ttl,
                                              const tes_signer *signer, const tes_bytes *chain,
                                              size_t chain_len, tes_buf *out);

typedef struct tes_status_token {
    char uri[512];
    int64_t iat, exp, ttl; /* exp/ttl 0 when absent */
    tes_status_list list;  /* owned */
    bool by_own_ds;        /* _for: signed by the credential's own document signer
                              (else by another signer of the same IACA) */
} tes_status_token;

/* The credential a list must belong to: its document signer's certificate and
 * the trusted root (IACA) its chain ended at, as tes_mdoc_verify reports them
 * (tes_mdoc_document.issuer_cert / issuer_root). Borrowed. */
typedef struct tes_status_issuer {
    const tes_cert *ds;
    const tes_cert *iaca;
} tes_status_issuer;

/* Verifier: parses and verifies a token for the credential of `issuer`:
 * COSE_Sign1 signature by the x5chain leaf, which must chain to a root in
 * `trust` under the document-signer profile, that root must be the issuer's
 * IACA (the same certificate), the expected uri, not expired at `at`, the
 * list inflating to at most max_list_bytes (0: the default). Errors, in the
 * order checked: TES_ERR_STATUS_TOKEN (shape), trust errors,
 * TES_ERR_SIGNATURE, TES_ERR_STATUS_ISSUER (a valid token of another
 * issuer), TES_ERR_STATUS_TOKEN (claims, uri), TES_ERR_STATUS_EXPIRED,
 * TES_ERR_STATUS_TOO_LARGE. */
TES_MUST_CHECK tes_err tes_status_token_verify_for(tes_bytes token, const char *expected_uri,
                                                   tes_trust_store *trust,
                                                   const tes_status_issuer *issuer, int64_t at,
                                                   size_t max_list_bytes, tes_status_token *out);
/* The same without an issuer: checks only that SOME authority trusted in
 * `trust` signed the token. It does not say whose list it is: never use it
 * to decide a credential's status (that is tes_status_token_verify_for's,
 * or tes_status_check_*'s, job); the issuer uses it to check its own lists. */
TES_MUST_CHECK tes_err tes_status_token_verify(tes_bytes token, const char *expected_uri,
                                               tes_trust_store *trust, int64_t at,
                                               tes_status_token *out);
void tes_status_token_free(tes_status_token *t);

/* ---- the verifier's cache ---- */

typedef enum tes_status_mode {
    TES_STATUS_OFF = 0,    /* skip the check */
    TES_STATUS_ONLINE = 1, /* fetch when the cached list is older than its ttl (or absent) */
    TES_STATUS_CACHED = 2, /* never fetch: use a cached list younger than max_age */
} tes_status_mode;

typedef struct tes_status_cache tes_status_cache;

/* A cache kept as files in dir (created 0700): one verified token per uri and
 * issuer (IACA), written atomically with the time it was fetched and its iat. */
TES_MUST_CHECK tes_err tes_status_cache_open(const char *dir, tes_status_cache **out);
void tes_status_cache_close(tes_status_cache *c);
/* The longest ttl honoured: a cached list is used without fetching for at
 * most min(its ttl, max_ttl) seconds (0: TES_STATUS_DEFAULT_MAX_TTL), so a
 * token with a huge ttl cannot pin the cache. */
void tes_status_cache_set_max_ttl(tes_status_cache *c, int64_t max_ttl);
/* The bound on an inflated list, in bytes (0: TES_STATUS_DEFAULT_MAX_LIST_BYTES). */
void tes_status_cache_set_max_list_bytes(tes_status_cache *c, size_t max_bytes);

typedef struct tes_status_check {
    tes_status_value value;
    int64_t fetched_at; /* when the list used was fetched (0: none) */
    char detail[256];   /* why undetermined, or where the answer came from */
    tes_err reason;     /* UNDETERMINED: the code of what failed (e.g. TES_ERR_STATUS_ISSUER,
                           TES_ERR_STATUS_ROLLBACK, TES_ERR_TRANSPORT); TES_OK when the
                           value is known or the check was off */
} tes_status_check;

/* Checks entry idx of the list at uri for the credential of `issuer`.
 * Network, signature, issuer, age and shape problems give TES_OK with value
 * TES_STATUS_UNDETERMINED, the code in reason and the explanation in detail;
 * the function fails only on caller or environment errors.
 * fetch_timeout_ms bounds the HTTP request.
 *
 * ONLINE uses a cached list younger than min(its ttl, the cap) and fetches
 * otherwise. A fetched list whose iat is earlier than the cached one's is a
 * rollback: it is not cached and not used (TES_ERR_STATUS_ROLLBACK); the
 * cached list answers if it is younger than max_age. */
TES_MUST_CHECK tes_err tes_status_check_ref(tes_status_cache *c, tes_status_mode mode,
                                            const char *uri, uint64_t idx, tes_trust_store *trust,
                                            const tes_status_issuer *issuer, int64_t now,
                                            int64_t max_age, int fetch_timeout_ms,
                                            tes_status_check *out);

/* The same for a document tes_mdoc_verify accepted with `trust`: its status
 * reference and its issuer (issuer_cert / issuer_root). A document without a
 * status reference is a caller error (TES_ERR_ARG); a reference whose uri is
 * too long or holds a NUL is UNDETERMINED (TES_ERR_STATUS). */
TES_MUST_CHECK tes_err tes_status_check_doc(tes_status_cache *c, tes_status_mode mode,
                                            const tes_mdoc_document *doc, tes_trust_store *trust,
                                            int64_t now, int64_t max_age, int fetch_timeout_ms,
                                            tes_status_check *out);

/* ---- the verifier's verdict over a verified response ----
 * What `tessera verify`, `tessera reader checkin` and a reader app decide
 * after tes_mdoc_verify (or tes_reader_checkin) accepted a response: the
 * status of every document that carries a status reference, and one verdict
 * for the response. */

#define TES_STATUS_DEFAULT_TIMEOUT_MS 5000 /* each fetch gives up after this long */

typedef struct tes_status_opts {
    tes_status_mode mode;  /* OFF: nothing is checked, nothing is touched */
    const char *cache_dir; /* required unless mode is OFF: the tes_status_cache
                              directory, created (0700, with its parents) when it is
                              first needed */
    int64_t max_age;       /* seconds: the oldest cached list still used (CACHED, and
                              ONLINE when a fetch fails or is a rollback) */
    int64_t max_ttl;       /* tes_status_cache_set_max_ttl (0: the default cap) */
    int fetch_timeout_ms;  /* 0: TES_STATUS_DEFAULT_TIMEOUT_MS */
    int64_t now;           /* 0: the system clock */
} tes_status_opts;

/* The status of one verified document. */
typedef struct tes_status_doc {
    bool checked;           /* it carries a status reference and the mode is not OFF */
    tes_status_value value; /* TES_STATUS_UNDETERMINED: could not check */
    int64_t fetched_at;     /* when the list used was fetched (0: none) */
    char uri[512];          /* the list's uri ("" when too long or holding a NUL) */
    char detail[256];       /* why undetermined, or where the answer came from */
    tes_err reason;         /* undetermined: what failed (tes_status_check.reason) */
} tes_status_doc;

typedef struct tes_status_verdict {
    /* REVOKED when a document is revoked, else SUSPENDED when one is
     * suspended (the response is then invalid), else UNDETERMINED when the
     * status of one could not be determined (NOT known valid: the caller
     * decides whether to accept it, and should say so), else VALID (also
     * when nothing was checked: see n_checked). */
    tes_status_value value;
    size_t doc;            /* the first document that decides value (0 when VALID) */
    size_t n_checked;      /* documents whose status was checked */
    size_t n_undetermined; /* of them, undetermined */
    /* REVOKED / SUSPENDED: "document N (<doctype>) is revoked by its issuer
     * (index I of the status list <uri>)"; else "". */
    char message[768];
    tes_status_doc *docs;  /* one per document of the result (owned;
                              tes_status_verdict_free), NULL when mode is OFF */
    size_t n_docs;
} tes_status_verdict;

/* Checks every document of r (a result tes_mdoc_verify accepted with
 * `trust`, whose IACA roots also certify the list signers) that carries a
 * status reference, with one cache in o->cache_dir, and gives the verdict.
 * Network, age, signature and issuer problems are UNDETERMINED documents, not
 * failures. *out is always initialised; free it with tes_status_verdict_free.
 * Errors (the cache cannot be used at all): TES_ERR_ARG (NULL argument, no
 * cache_dir), TES_ERR_IO (the cache directory cannot be created), the errors
 * of tes_status_cache_open and tes_status_check_doc. */
TES_MUST_CHECK tes_err tes_status_check_response(const tes_status_opts *o, tes_trust_store *trust,
                                                 const tes_mdoc_result *r,
                                                 tes_status_verdict *out);
void tes_status_verdict_free(tes_status_verdict *v);

/* "valid", "revoked", "suspended", "undetermined". */
const char *tes_status_value_name(tes_status_value v);
/* "off", "online", "cached"; anything else is TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_status_mode_parse(const char *s, tes_status_mode *out);

#ifdef __cplusplus
}
#endif
#endif
