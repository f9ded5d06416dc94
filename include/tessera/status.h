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
 */
#ifndef TESSERA_STATUS_H
#define TESSERA_STATUS_H

#include "tessera/crypto.h"
#include "tessera/cose.h"
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
 * is bounded by max_entries (decompression bombs: TES_ERR_STATUS_TOKEN). */
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
} tes_status_token;

/* Verifier: parses and verifies a token: COSE_Sign1 signature by the x5chain
 * leaf, which must chain to a root in `trust` under the document-signer
 * profile's issuer (the list signer is certified by the same IACA), the
 * expected uri, not expired at `at`. Errors: TES_ERR_STATUS_TOKEN (shape),
 * TES_ERR_SIGNATURE / trust errors, TES_ERR_STATUS_EXPIRED. */
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

/* A cache kept as files in dir (created 0700): one verified token per uri,
 * written atomically with the time it was fetched. */
TES_MUST_CHECK tes_err tes_status_cache_open(const char *dir, tes_status_cache **out);
void tes_status_cache_close(tes_status_cache *c);

typedef struct tes_status_check {
    tes_status_value value;
    int64_t fetched_at; /* when the list used was fetched (0: none) */
    char detail[256];   /* why undetermined, or where the answer came from */
} tes_status_check;

/* Checks entry idx of the list at uri. Network, signature, age and shape
 * problems give TES_OK with value TES_STATUS_UNDETERMINED and the reason in
 * detail; the function fails only on caller or environment errors.
 * fetch_timeout_ms bounds the HTTP request. */
TES_MUST_CHECK tes_err tes_status_check_ref(tes_status_cache *c, tes_status_mode mode,
                                            const char *uri, uint64_t idx, tes_trust_store *trust,
                                            int64_t now, int64_t max_age, int fetch_timeout_ms,
                                            tes_status_check *out);

#ifdef __cplusplus
}
#endif
#endif
