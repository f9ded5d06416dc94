/*
 * The request parsing of the verifier's routes and its backend API, apart
 * from the connection (rp_internal.h; pure and bounded, fuzzed by
 * tests/fuzz/fuzz_rp_http.c): which route a path names and its transaction
 * id, the wait and response_code query arguments, and the body of
 * POST /api/v1/transactions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"

#define P_REQUEST "/oid4vp/request/"
#define P_RESPONSE "/oid4vp/response/"
#define P_API "/api/"
#define P_API_CREATE "/api/v1/transactions"
#define P_API_TX "/api/v1/transactions/"

bool rp_tx_id_ok(const char *id, size_t len)
{
    return id != NULL && len > 0 && len <= RP_TOKEN_MAX && tes_jose_b64url_chars(id, len);
}

static bool has_prefix(const char *url, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(url, prefix, n) == 0;
}

static void route_id(const char *url, size_t len, const char *prefix, rp_route_kind kind,
                     rp_route *out)
{
    size_t n = strlen(prefix);
    out->kind = kind;
    out->id = url + n;
    out->id_len = len - n;
    out->id_ok = rp_tx_id_ok(out->id, out->id_len);
}

void rp_route_parse(const char *url, size_t len, rp_route *out)
{
    *out = (rp_route){.kind = RP_ROUTE_SITE};
    if (url == NULL)
        return;
    if (has_prefix(url, len, P_REQUEST))
        route_id(url, len, P_REQUEST, RP_ROUTE_REQUEST, out);
    else if (has_prefix(url, len, P_RESPONSE))
        route_id(url, len, P_RESPONSE, RP_ROUTE_RESPONSE, out);
    else if (len == strlen(P_API_CREATE) && has_prefix(url, len, P_API_CREATE))
        out->kind = RP_ROUTE_API_CREATE;
    else if (has_prefix(url, len, P_API_TX))
        route_id(url, len, P_API_TX, RP_ROUTE_API_TX, out);
    else if (has_prefix(url, len, P_API))
        out->kind = RP_ROUTE_API_UNKNOWN;
}

bool rp_query_usable(const char *v, size_t len)
{
    return v != NULL && len <= RP_QUERY_MAX && memchr(v, '\0', len) == NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int64_t rp_wait_parse(const char *v, size_t len)
{
    if (!rp_query_usable(v, len))
        return 0;
    size_t i = 0;
    while (i < len && is_space(v[i]))
        i++;
    bool negative = false;
    if (i < len && (v[i] == '+' || v[i] == '-'))
        negative = v[i++] == '-';
    size_t digits = 0;
    int64_t n = 0;
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++)
        if (n <= TES_RP_WAIT_MAX) /* saturates: only "more than the maximum" matters */
            n = n * 10 + (v[i] - '0');
    if (digits == 0 || i != len || negative)
        return 0;
    return n > TES_RP_WAIT_MAX ? TES_RP_WAIT_MAX : n;
}

rp_code_verdict rp_response_code_check(const char *expected, const char *given, size_t len)
{
    if (expected == NULL || expected[0] == '\0')
        return RP_CODE_CLAIMS;
    if (given == NULL)
        return RP_CODE_STATUS_ONLY;
    return tes_ct_eq(TES_BYTES(given, len), TES_BYTES(expected, strlen(expected))) ? RP_CODE_CLAIMS
                                                                                   : RP_CODE_WRONG;
}

void rp_create_req_free(rp_create_req *r)
{
    if (r == NULL)
        return;
    free(r->dcql);
    r->dcql = NULL;
}

tes_err rp_create_parse(const char *body, size_t len, rp_create_req *out)
{
    memset(out, 0, sizeof *out);
    if (body == NULL && len != 0)
        return tes_err_set(TES_ERR_ARG, "rp_create_parse: NULL body");
    json_error_t je;
    json_t *req = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    json_t *dq = json_object_get(req, "dcql_query");
    const json_t *fv = json_object_get(req, "flow");
    /* absent: cross-device; present, it must be one of the two names */
    const char *flow = fv == NULL ? "cross_device" : json_string_value(fv);
    if (!json_is_object(req) || !json_is_object(dq)) {
        json_decref(req);
        return tes_err_set(TES_ERR_RP_REQUEST,
                           "the body must be a JSON object with a \"dcql_query\" object");
    }
    if (flow == NULL || (strcmp(flow, "cross_device") != 0 && strcmp(flow, "same_device") != 0)) {
        json_decref(req);
        return tes_err_set(TES_ERR_RP_REQUEST, "\"flow\" is \"cross_device\" or \"same_device\"");
    }
    snprintf(out->flow, sizeof out->flow, "%s", flow);
    char *text = json_dumps(dq, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(req);
    tes_err e =
        text ? rp_dcql_check(text, strlen(text), out->cred_id, sizeof out->cred_id, &out->dcql)
             : tes_err_set(TES_ERR_NOMEM, "out of memory");
    free(text);
    if (e != TES_OK) {
        e = tes_err_set(e, "dcql_query: %s", tes_err_message_for(e));
        rp_create_req_free(out);
        memset(out, 0, sizeof *out);
    }
    return e;
}
