/*
 * Private to src/status/: shared between the list, token and cache files, and
 * reachable from the module's unit test and fuzz target (which add src/ to
 * their include path). Not part of the public API.
 */
#ifndef TES_STATUS_INTERNAL_H
#define TES_STATUS_INTERNAL_H

#include "tessera/status.h"

/* Media type of a Status List Token in CWT form (COSE typ, label 16, and the
 * HTTP Accept header). */
#define TES_STATUS_TYP "application/statuslist+cwt"

/* CWT claim keys (RFC 8392; draft-ietf-oauth-status-list §5.2). */
#define TES_CWT_SUB 2
#define TES_CWT_EXP 4
#define TES_CWT_IAT 6
#define TES_CWT_STATUS_LIST 65533
#define TES_CWT_TTL 65534

/* Largest token accepted from the network, from the cache or by the parser. */
#define TES_STATUS_TOKEN_MAX (32u * 1024 * 1024)

/* Inflates a zlib stream holding a list of `bits` (1, 2, 4 or 8) per entry,
 * bounded by max_entries (0: TES_STATUS_MAX_ENTRIES) and by max_bytes of
 * inflated data (0: TES_STATUS_DEFAULT_MAX_LIST_BYTES), into a 2-bit
 * tes_status_list. Values that do not mean valid/revoked/suspended (3 and,
 * for 4 and 8 bits, anything above 2) are stored as 3, which
 * tes_status_list_get reports as UNDETERMINED. TES_ERR_STATUS_TOKEN for a
 * stream that is malformed, truncated, followed by other bytes or empty;
 * TES_ERR_STATUS_TOO_LARGE for one that inflates beyond either bound (found
 * while inflating: nothing beyond the bound is ever allocated). */
TES_MUST_CHECK tes_err tes_status_lst_decode(tes_bytes z, unsigned bits, size_t max_entries,
                                             size_t max_bytes, tes_status_list *out);

/* The parsed CWT claims of a Status List Token payload (views into it). */
typedef struct tes_status_claims {
    tes_bytes sub;
    int64_t iat;
    bool has_exp, has_ttl;
    int64_t exp, ttl;
    unsigned bits;
    tes_bytes lst; /* compressed list */
} tes_status_claims;

/* Parses the payload shape (no signature, no time): TES_ERR_STATUS_TOKEN. */
TES_MUST_CHECK tes_err tes_status_claims_parse(tes_bytes payload, tes_status_claims *out);

/* GETs url with libcurl (http/https only, Accept: TES_STATUS_TYP, body at most
 * TES_STATUS_TOKEN_MAX, at most 3 redirects and never from https to http).
 * Errors: TES_ERR_ARG (scheme), TES_ERR_TIMEOUT, TES_ERR_TRANSPORT (connection,
 * HTTP status other than 2xx, body too large), TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_status_http_get(const char *url, int timeout_ms, tes_buf *body);

#endif
