/* The wallet module's own pieces shared between its files (not installed). */
#ifndef TES_WALLET_INTERNAL_H
#define TES_WALLET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "tessera/core.h"

/* ---- the wallet's HTTP client (http.c): OpenID4VCI and OpenID4VP ---- */

typedef struct wallet_http {
    CURL *h;
    char errbuf[CURL_ERROR_SIZE];
    tes_buf body;        /* the answer's body (reset per request) */
    size_t max_body;     /* more is refused (too_big) */
    bool too_big;
    long status;         /* the answer's HTTP status */
    char ctype[128];     /* its Content-Type (lower case, parameters cut), or "" */
} wallet_http;

typedef enum wallet_http_method { WALLET_HTTP_GET, WALLET_HTTP_POST } wallet_http_method;

/* One request's headers and body (all optional). */
typedef struct wallet_http_req {
    const char *accept;       /* NULL: application/json */
    const char *content_type; /* of body */
    const char *bearer;       /* Authorization: Bearer (wiped from the stack after use) */
    const char *body;         /* POST: body[0..body_len) */
    size_t body_len;
} wallet_http_req;

/* A client (no redirects followed, http and https only, bounded answer,
 * connect and total timeouts in ms). Errors: TES_ERR_TRANSPORT, TES_ERR_NOMEM. */
tes_err wallet_http_open(wallet_http *c, size_t max_body, long connect_ms, long total_ms);
void wallet_http_close(wallet_http *c);
/* Performs one request; TES_OK when an answer (of any status) arrived: its
 * status, content type and body in c. Errors: TES_ERR_HTTP_REQUEST (not an
 * http(s) URL, answer larger than max_body), TES_ERR_TIMEOUT,
 * TES_ERR_TRANSPORT, TES_ERR_NOMEM. */
tes_err wallet_http_perform(wallet_http *c, const char *what, const char *url,
                            wallet_http_method m, const wallet_http_req *r);
/* True when u is an http:// or https:// URL shorter than 2048 bytes. */
bool wallet_http_url(const char *u);

#endif
