/*
 * libFuzzer target: the request parsing of the verifier service's routes and
 * backend API (src/rp/rp_internal.h, src/rp/http_parse.c), called directly.
 *
 * Byte 0 mod 4 selects:
 *   0  rp_route_parse on the rest as a request path
 *   1  rp_query_usable / rp_wait_parse on the rest as the wait= value,
 *      against strtol on a NUL-terminated copy (what the service did before)
 *   2  rp_response_code_check: byte 1 bit 0 set: no response_code given;
 *      the rest up to the first '\n' is the transaction's code (at most
 *      RP_TOKEN_MAX bytes, no NUL), after it the given one
 *   3  rp_create_parse on the rest as the body of POST /api/v1/transactions
 * Checked: only the documented codes come back, with the documented wire
 * messages; accepted output is consistent (a route's id is the rest of the
 * path after its prefix and id_ok says exactly whether it is 1..RP_TOKEN_MAX
 * base64url characters; wait is within 0..TES_RP_WAIT_MAX and agrees with
 * strtol; the code verdict agrees with a plain comparison; a parsed body has a
 * known flow, a non-empty bounded credential id and a compact query that
 * checks again to itself); nothing leaks on failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static bool starts(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && memcmp(s, p, k) == 0;
}

static bool b64url_id(const char *s, size_t n)
{
    if (n == 0 || n > RP_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[i]) ||
            s[i] == '\0')
            return false;
    return true;
}

static void check_id(const char *url, size_t n, const char *prefix, const rp_route *r)
{
    size_t k = strlen(prefix);
    CHECK(starts(url, n, prefix));
    CHECK(r->id == url + k && r->id_len == n - k);
    CHECK(r->id_ok == b64url_id(r->id, r->id_len));
    CHECK(r->id_ok == rp_tx_id_ok(r->id, r->id_len));
}

static void fuzz_route(const char *url, size_t n)
{
    rp_route r;
    rp_route_parse(url, n, &r);
    switch (r.kind) {
    case RP_ROUTE_REQUEST:
        check_id(url, n, "/oid4vp/request/", &r);
        break;
    case RP_ROUTE_RESPONSE:
        check_id(url, n, "/oid4vp/response/", &r);
        break;
    case RP_ROUTE_API_TX:
        check_id(url, n, "/api/v1/transactions/", &r);
        break;
    case RP_ROUTE_API_CREATE:
        CHECK(n == 20 && memcmp(url, "/api/v1/transactions", 20) == 0);
        CHECK(r.id == NULL && r.id_len == 0 && !r.id_ok);
        break;
    case RP_ROUTE_API_UNKNOWN:
        CHECK(starts(url, n, "/api/") && !starts(url, n, "/api/v1/transactions/"));
        CHECK(!(n == 20 && memcmp(url, "/api/v1/transactions", 20) == 0));
        CHECK(r.id == NULL && r.id_len == 0 && !r.id_ok);
        break;
    case RP_ROUTE_SITE:
        CHECK(!starts(url, n, "/oid4vp/request/") && !starts(url, n, "/oid4vp/response/") &&
              !starts(url, n, "/api/"));
        CHECK(r.id == NULL && r.id_len == 0 && !r.id_ok);
        break;
    default:
        CHECK(0);
    }
}

/* What the service computed before the parser was split out. */
static int64_t wait_reference(const char *w, size_t n)
{
    if (n > RP_QUERY_MAX || memchr(w, '\0', n) != NULL)
        return 0;
    char copy[RP_QUERY_MAX + 1];
    memcpy(copy, w, n);
    copy[n] = '\0';
    char *end;
    errno = 0;
    long v = strtol(copy, &end, 10);
    if (copy[0] == '\0' || *end != '\0' || v < 0)
        return 0;
    return v > TES_RP_WAIT_MAX ? TES_RP_WAIT_MAX : v;
}

static void fuzz_wait(const char *w, size_t n)
{
    bool usable = rp_query_usable(w, n);
    CHECK(usable == (n <= RP_QUERY_MAX && memchr(w, '\0', n) == NULL));
    int64_t v = rp_wait_parse(w, n);
    CHECK(v >= 0 && v <= TES_RP_WAIT_MAX);
    CHECK(v == wait_reference(w, n));
    CHECK(rp_wait_parse(NULL, 0) == 0);
}

static void fuzz_code(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    bool absent = data[0] & 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(in, '\n', n);
    size_t el = nl ? (size_t)(nl - in) : n;
    if (el > RP_TOKEN_MAX || memchr(in, '\0', el) != NULL)
        return;
    char expected[RP_TOKEN_MAX + 1];
    memcpy(expected, in, el);
    expected[el] = '\0';
    const char *given = nl ? nl + 1 : in + n;
    size_t gl = nl ? n - el - 1 : 0;
    rp_code_verdict k = rp_response_code_check(expected, absent ? NULL : given, gl);
    if (el == 0)
        CHECK(k == RP_CODE_CLAIMS);
    else if (absent)
        CHECK(k == RP_CODE_STATUS_ONLY);
    else
        CHECK(k ==
              ((gl == el && memcmp(given, expected, el) == 0) ? RP_CODE_CLAIMS : RP_CODE_WRONG));
}

static void fuzz_create(const char *body, size_t n)
{
    rp_create_req r;
    tes_err e = rp_create_parse(body, n, &r);
    CHECK(e == TES_OK || e == TES_ERR_RP_REQUEST || e == TES_ERR_DCQL ||
          e == TES_ERR_DCQL_UNSUPPORTED || e == TES_ERR_NOMEM);
    if (e != TES_OK) {
        CHECK(r.dcql == NULL);
        const char *m = tes_err_message_for(e);
        CHECK(strncmp(m, "dcql_query: ", 12) == 0 ||
              (e == TES_ERR_RP_REQUEST &&
               (strcmp(m, "the body must be a JSON object with a \"dcql_query\" object") == 0 ||
                strcmp(m, "\"flow\" is \"cross_device\" or \"same_device\"") == 0)));
        rp_create_req_free(&r); /* harmless on failure */
        return;
    }
    CHECK(strcmp(r.flow, "cross_device") == 0 || strcmp(r.flow, "same_device") == 0);
    size_t cl = strnlen(r.cred_id, sizeof r.cred_id);
    CHECK(cl > 0 && cl <= TES_DCQL_MAX_ID);
    CHECK(r.dcql != NULL && r.dcql[0] == '{');
    /* the stored query checks again to the same id and the same text */
    char again_id[TES_DCQL_MAX_ID + 1];
    char *again = NULL;
    tes_err e2 = rp_dcql_check(r.dcql, strlen(r.dcql), again_id, sizeof again_id, &again);
    CHECK(e2 == TES_OK || e2 == TES_ERR_NOMEM);
    if (e2 == TES_OK) {
        CHECK(strcmp(again_id, r.cred_id) == 0 && strcmp(again, r.dcql) == 0);
        free(again);
    }
    rp_create_req_free(&r);
    CHECK(r.dcql == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        fuzz_route(in, n);
        break;
    case 1:
        fuzz_wait(in, n);
        break;
    case 2:
        fuzz_code(data + 1, n);
        break;
    default:
        fuzz_create(in, n);
        break;
    }
    return 0;
}
