/* The wallet's HTTP client over libcurl, shared by its OpenID4VCI client
 * (oid4vci.c) and its OpenID4VP login (authz_http.c): no redirects, http and
 * https only, every answer bounded in size and time. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "wallet_internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    wallet_http *c = ctx;
    size_t len = size * n;
    if (c->body.len + len > c->max_body) {
        c->too_big = true;
        return 0;
    }
    tes_buf_append(&c->body, p, len);
    return c->body.failed ? 0 : len;
}

bool wallet_http_url(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           strlen(u) < 2048;
}

tes_err wallet_http_open(wallet_http *c, size_t max_body, long connect_ms, long total_ms)
{
    *c = (wallet_http){.max_body = max_body};
    if (pthread_once(&curl_once, curl_init) != 0 || curl_init_rc != CURLE_OK)
        return tes_err_set(TES_ERR_TRANSPORT, "libcurl could not be initialised");
    if ((c->h = curl_easy_init()) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(c->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
    curl_easy_setopt(c->h, CURLOPT_USERAGENT, "tessera-wallet");
    return TES_OK;
}

void wallet_http_close(wallet_http *c)
{
    if (c == NULL)
        return;
    c->body.secret = true;
    tes_buf_free(&c->body);
    if (c->h)
        curl_easy_cleanup(c->h);
    c->h = NULL;
}

static struct curl_slist *add(struct curl_slist *l, bool *ok, const char *fmt, const char *v)
{
    char line[256];
    if (!*ok || snprintf(line, sizeof line, fmt, v) >= (int)sizeof line) {
        *ok = false;
        return l;
    }
    struct curl_slist *t = curl_slist_append(l, line);
    tes_wipe(line, sizeof line);
    *ok = t != NULL;
    return t ? t : l;
}

/* The answer's media type: lower case, without parameters. */
static void read_ctype(wallet_http *c)
{
    const char *ct = NULL;
    c->ctype[0] = '\0';
    if (curl_easy_getinfo(c->h, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || ct == NULL)
        return;
    size_t n = strcspn(ct, "; \t");
    if (n >= sizeof c->ctype)
        return;
    for (size_t i = 0; i < n; i++)
        c->ctype[i] = (char)tolower((unsigned char)ct[i]);
    c->ctype[n] = '\0';
}

tes_err wallet_http_perform(wallet_http *c, const char *what, const char *url,
                            wallet_http_method m, const wallet_http_req *r)
{
    static const wallet_http_req none = {0};
    if (r == NULL)
        r = &none;
    if (!wallet_http_url(url))
        return tes_err_set(TES_ERR_HTTP_REQUEST, "%s: '%.200s' is not an http(s) URL", what,
                           url ? url : "(none)");
    tes_buf_reset(&c->body);
    c->too_big = false;
    c->errbuf[0] = '\0';
    c->status = 0;
    c->ctype[0] = '\0';
    bool ok = true;
    struct curl_slist *hdrs = add(NULL, &ok, "Accept: %s", r->accept ? r->accept : "application/json");
    hdrs = add(hdrs, &ok, "Expect:%s", "");
    if (r->content_type)
        hdrs = add(hdrs, &ok, "Content-Type: %s", r->content_type);
    if (r->bearer)
        hdrs = add(hdrs, &ok, "Authorization: Bearer %s", r->bearer);
    if (!ok) {
        curl_slist_free_all(hdrs);
        return tes_err_set(TES_ERR_NOMEM, "out of memory (or a header too long)");
    }
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
    if (m == WALLET_HTTP_POST) {
        curl_easy_setopt(c->h, CURLOPT_POST, 1L);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c->h);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        if (rc == CURLE_FILESIZE_EXCEEDED)
            c->too_big = true;
        if (c->too_big)
            return tes_err_set(TES_ERR_HTTP_REQUEST, "%s: the answer is larger than %zu bytes",
                               what, c->max_body);
        if (rc == CURLE_OPERATION_TIMEDOUT)
            return tes_err_set(TES_ERR_TIMEOUT, "%s: no answer from %.200s in time", what, url);
        return tes_err_set(TES_ERR_TRANSPORT, "%s: %.200s: %s", what, url,
                           c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
    read_ctype(c);
    return TES_OK;
}
