/*
 * The site backend's API (docs/RP.md), behind the Bearer API key of the
 * site directory (compared in constant time):
 *   POST /api/v1/transactions        {"dcql_query": {...}, "flow": ...} -> 201
 *   GET  /api/v1/transactions/<tx>[?wait=N][&response_code=C]
 * A same-device transaction's claims are handed out only with the
 * response_code the wallet's redirect carried (OpenID4VP 1.0 §8.2): whoever
 * learnt the transaction id alone (it is in the QR code) gets its status, not
 * its claims.
 */
#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"

#define BEARER "Bearer "

static bool authorised(const tes_rp *s, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncmp(h, BEARER, strlen(BEARER)) != 0)
        return false;
    const char *k = h + strlen(BEARER);
    return tes_ct_eq(TES_BYTES(k, strlen(k)),
                     TES_BYTES(s->site.api_key, strlen(s->site.api_key)));
}

static enum MHD_Result unauthorised(struct MHD_Connection *c)
{
    return httpd_send_error(c, 401, "invalid_token", "the API key is missing or wrong",
                            (httpd_reply_opts){.www_authenticate = "Bearer error=\"invalid_token\""});
}

/* {"transaction_id", "authorization_request", "request_uri", "expires_at"}. */
json_t *rp_tx_created(const tes_rp *s, const rp_tx *t)
{
    tes_buf url = {0};
    char req[TES_OID4VP_URI_MAX];
    rp_tx_uri(s, "request", t->id, req, sizeof req);
    json_t *v = NULL;
    if (rp_auth_request_url(s, t->id, &url) == TES_OK)
        v = json_pack("{s:s, s:s, s:s, s:I}", "transaction_id", t->id, "authorization_request",
                      (const char *)url.ptr, "request_uri", req, "expires_at",
                      (json_int_t)t->expires);
    tes_buf_free(&url);
    return v;
}

static enum MHD_Result create(tes_rp *s, struct MHD_Connection *c, const tes_buf *body)
{
    json_error_t je;
    json_t *req = json_loadb(body->ptr ? (const char *)body->ptr : "", body->len,
                             JSON_REJECT_DUPLICATES, &je);
    json_t *dq = json_object_get(req, "dcql_query");
    const char *flow = json_string_value(json_object_get(req, "flow"));
    if (!json_is_object(req) || !json_is_object(dq)) {
        json_decref(req);
        return rp_send_error(c, 400, "invalid_request",
                             "the body must be a JSON object with a \"dcql_query\" object");
    }
    if (flow == NULL)
        flow = "cross_device";
    if (strcmp(flow, "cross_device") != 0 && strcmp(flow, "same_device") != 0) {
        json_decref(req);
        return rp_send_error(c, 400, "invalid_request",
                             "\"flow\" is \"cross_device\" or \"same_device\"");
    }
    char *text = json_dumps(dq, JSON_COMPACT | JSON_PRESERVE_ORDER), *compact = NULL;
    char cred_id[TES_DCQL_MAX_ID + 1];
    char flow_copy[16];
    snprintf(flow_copy, sizeof flow_copy, "%s", flow);
    json_decref(req);
    tes_err e = text ? rp_dcql_check(text, strlen(text), cred_id, sizeof cred_id, &compact)
                     : tes_err_set(TES_ERR_NOMEM, "out of memory");
    free(text);
    if (e != TES_OK) {
        char d[400];
        snprintf(d, sizeof d, "dcql_query: %s", tes_err_message_for(e));
        return rp_send_error(c, tes_err_is_env(e) ? 500 : 400, "invalid_request", d);
    }
    rp_tx t;
    e = rp_tx_create(s, compact, cred_id, flow_copy, "", &t);
    free(compact);
    if (e != TES_OK)
        return rp_send_error(c, 500, "server_error", tes_err_message_for(e));
    json_t *v = rp_tx_created(s, &t);
    rp_tx_free(&t);
    return httpd_send_json(c, 201, v, (httpd_reply_opts){.no_store = true});
}

static enum MHD_Result get(tes_rp *s, struct MHD_Connection *c, const char *id)
{
    rp_tx t;
    tes_err e = rp_tx_wait(s, id, rp_query_wait(c), &t);
    if (e == TES_ERR_RP_TX_UNKNOWN)
        return rp_send_error(c, 404, "invalid_request", "unknown transaction");
    if (e != TES_OK)
        return rp_send_error(c, 500, "server_error", tes_err_message_for(e));
    const char *code = rp_query(c, "response_code");
    bool needs_code = t.response_code[0] != '\0';
    if (needs_code && code != NULL &&
        !tes_ct_eq(TES_BYTES(code, strlen(code)),
                   TES_BYTES(t.response_code, strlen(t.response_code)))) {
        rp_tx_free(&t);
        return rp_send_error(c, 400, "invalid_request", "the response_code is not this "
                                                        "transaction's");
    }
    if (needs_code && code == NULL) {
        free(t.result); /* status only: the claims need the response_code */
        t.result = NULL;
    }
    json_t *v = rp_tx_wire(&t, rp_now(s));
    rp_tx_free(&t);
    return httpd_send_json(c, 200, v, (httpd_reply_opts){.no_store = true});
}

enum MHD_Result rp_api(tes_rp *s, struct MHD_Connection *c, const char *url, const char *method,
                       const tes_buf *body)
{
    if (!authorised(s, c))
        return unauthorised(c);
    if (strcmp(url, "/api/v1/transactions") == 0) {
        if (strcmp(method, "POST") != 0)
            return httpd_send_error(c, 405, "invalid_request", "use POST",
                                    (httpd_reply_opts){.allow = "POST"});
        return create(s, c, body);
    }
    const char *prefix = "/api/v1/transactions/";
    if (strncmp(url, prefix, strlen(prefix)) == 0) {
        const char *id = url + strlen(prefix);
        if (strcmp(method, "GET") != 0)
            return httpd_send_error(c, 405, "invalid_request", "use GET",
                                    (httpd_reply_opts){.allow = "GET"});
        size_t n = strlen(id);
        if (n == 0 || n > RP_TOKEN_MAX || !tes_jose_b64url_chars(id, n))
            return rp_send_error(c, 404, "invalid_request", "unknown transaction");
        return get(s, c, id);
    }
    return rp_send_error(c, 404, "not_found", "no such endpoint");
}
