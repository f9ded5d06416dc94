/* The OpenID4VP login over HTTP (tes_wallet_authorize, tessera/wallet.h):
 * GET the request object from request_uri, the core
 * (tes_wallet_authorize_request), POST the answer to response_uri, read the
 * verifier's redirect_uri. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/oid4vp.h"
#include "tessera/wallet.h"

#include "wallet_internal.h"

#define CONNECT_TIMEOUT_MS 10000L
#define ANSWER_MAX 65536 /* bytes of the verifier's answer to the POST */
#define REQUEST_TYPE "application/oauth-authz-req+jwt"

static bool loopback_http(const char *u)
{
    static const char *const hosts[] = {"http://localhost", "http://127.0.0.1", "http://[::1]"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(u, hosts[i], n) == 0 && strchr(":/?", u[n]) != NULL)
            return true;
    }
    return false;
}

/* https, or loopback http when allowed. */
static tes_err check_scheme(const char *what, const char *u, bool allow_loopback_http)
{
    if (strncmp(u, "https://", 8) == 0 || (allow_loopback_http && loopback_http(u)))
        return TES_OK;
    return tes_err_set(TES_ERR_AUTHZ_URL, "%s is not an https URL%s", what,
                       allow_loopback_http ? " (nor loopback http)" : "");
}

/* GET request_uri: 200, the request object's media type, bounded. */
static tes_err fetch(wallet_http *c, const char *uri, bool allow_loopback_http)
{
    tes_err e = check_scheme("request_uri", uri, allow_loopback_http);
    if (e != TES_OK)
        return e;
    const wallet_http_req r = {.accept = REQUEST_TYPE};
    e = wallet_http_perform(c, "request_uri", uri, WALLET_HTTP_GET, &r);
    if (e == TES_ERR_HTTP_REQUEST && c->too_big)
        return tes_err_set(TES_ERR_REQUEST_URI, "the request object is larger than %d bytes",
                           TES_OID4VP_REQUEST_MAX);
    if (e != TES_OK)
        return e;
    if (c->status != 200)
        return tes_err_set(TES_ERR_REQUEST_URI, "request_uri answered HTTP %ld", c->status);
    if (strcmp(c->ctype, REQUEST_TYPE) != 0)
        return tes_err_set(TES_ERR_REQUEST_URI,
                           "request_uri answered '%.100s', not " REQUEST_TYPE, c->ctype);
    return TES_OK;
}

/* The verifier's JSON answer to the POST: its redirect_uri, or its error. */
static tes_err read_answer(const wallet_http *c, tes_wallet_authorize_result *res)
{
    json_error_t je;
    json_t *v = c->body.len ? json_loadb((const char *)c->body.ptr, c->body.len,
                                         JSON_REJECT_DUPLICATES, &je)
                            : json_object();
    tes_err e = TES_OK;
    if (c->status < 200 || c->status > 299) {
        json_t *er = json_is_object(v) ? json_object_get(v, "error") : NULL;
        json_t *d = json_is_object(v) ? json_object_get(v, "error_description") : NULL;
        e = tes_err_set(TES_ERR_VERIFIER_REFUSED, "the verifier answered HTTP %ld %.64s: %.300s",
                        c->status, json_is_string(er) ? json_string_value(er) : "",
                        json_is_string(d) ? json_string_value(d) : "");
    } else if (!json_is_object(v)) {
        e = tes_err_set(TES_ERR_VERIFIER_REFUSED, "the verifier's answer is not a JSON object");
    } else {
        json_t *ru = json_object_get(v, "redirect_uri");
        if (json_is_string(ru) && wallet_http_url(json_string_value(ru)) &&
            (res->redirect_uri = strdup(json_string_value(ru))) == NULL)
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    json_decref(v);
    return e;
}

/* POSTs the form to response_uri; a refusal keeps the core's error. */
static tes_err post(wallet_http *c, const tes_buf *form, tes_wallet_authorize_result *res,
                    tes_err core)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", tes_err_message_for(core));
    c->max_body = ANSWER_MAX;
    const wallet_http_req r = {.accept = "application/json",
                               .content_type = "application/x-www-form-urlencoded",
                               .body = (const char *)form->ptr,
                               .body_len = form->len};
    tes_err e = wallet_http_perform(c, "response_uri", res->response_uri, WALLET_HTTP_POST, &r);
    if (e == TES_OK)
        e = read_answer(c, res);
    if (core != TES_OK)
        return tes_err_set(core, "%s%s", msg,
                           e == TES_OK ? " (the verifier was told)" : " (telling the verifier "
                                                                      "failed too)");
    return e;
}

tes_err tes_wallet_authorize(tes_wallet *w, const char *url, const tes_wallet_authorize_opts *o,
                             tes_wallet_authorize_result *res)
{
    if (res != NULL)
        *res = (tes_wallet_authorize_result){0};
    if (w == NULL || url == NULL || o == NULL || res == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_authorize: NULL argument");
    char *client_id = NULL, *request_uri = NULL;
    tes_err e = tes_wallet_authz_url_parse(url, &client_id, &request_uri);
    if (e != TES_OK)
        return e;
    long total = o->timeout_ms > 0 ? o->timeout_ms : TES_WALLET_AUTHZ_TIMEOUT_MS;
    wallet_http c;
    tes_buf form = {.secret = true};
    e = wallet_http_open(&c, TES_OID4VP_REQUEST_MAX, total < CONNECT_TIMEOUT_MS ? total
                                                                                : CONNECT_TIMEOUT_MS,
                         total);
    if (e == TES_OK)
        e = fetch(&c, request_uri, o->allow_loopback_http);
    size_t n = c.body.len; /* a line end after the JWS is no part of it */
    while (n > 0 && (c.body.ptr[n - 1] == '\n' || c.body.ptr[n - 1] == '\r'))
        n--;
    if (e == TES_OK)
        e = tes_wallet_authorize_request(w, c.body.ptr ? (const char *)c.body.ptr : "", n,
                                         client_id, o, &form, res);
    if (form.len > 0)
        e = post(&c, &form, res, e);
    tes_buf_free(&form);
    wallet_http_close(&c);
    free(client_id);
    free(request_uri);
    return e;
}
