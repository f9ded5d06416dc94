/*
 * Fetching a Status List Token over HTTP(S) with libcurl: one GET, bounded in
 * time (the caller's timeout covers connect and transfer) and size
 * (TES_STATUS_TOKEN_MAX), http and https only, at most 3 redirects and none
 * from https to anything but https. The answer must be 2xx. The body is not
 * trusted here: the caller verifies it as a token.
 */
#include "status_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_REDIRECTS 3L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe: run it exactly once. */
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct sink {
    tes_buf *out;
    size_t start;
    bool too_big;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    sink *s = ctx;
    size_t n = size * nmemb;
    if (s->out->len - s->start + n > TES_STATUS_TOKEN_MAX) {
        s->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    tes_buf_append(s->out, data, n);
    return s->out->failed ? 0 : n;
}

tes_err tes_status_http_get(const char *url, int timeout_ms, tes_buf *body)
{
    if (url == NULL || body == NULL)
        return tes_err_set(TES_ERR_ARG, "status fetch: bad arguments");
    bool https = strncasecmp(url, "https://", 8) == 0;
    if (!https && strncasecmp(url, "http://", 7) != 0)
        return tes_err_set(TES_ERR_ARG, "status fetch: '%.100s' is not an http(s) uri", url);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return tes_err_set(TES_ERR_TRANSPORT, "status fetch: curl_global_init failed: %s",
                           curl_easy_strerror(curl_init_rc));
    CURL *h = curl_easy_init();
    if (h == NULL)
        return tes_err_set(TES_ERR_NOMEM, "status fetch: curl_easy_init failed");
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: " TES_STATUS_TYP);
    if (hdr == NULL) {
        curl_easy_cleanup(h);
        return tes_err_set(TES_ERR_NOMEM, "status fetch: out of memory");
    }
    long tmo = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    sink s = {.out = body, .start = body->len};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (rc == CURLE_OK)                                                                            \
    rc = curl_easy_setopt(h, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_HTTPGET, 1L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, tmo);
    SET(CURLOPT_CONNECTTIMEOUT_MS, tmo);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    SET(CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
    SET(CURLOPT_HTTPHEADER, hdr);
    SET(CURLOPT_USERAGENT, "tessera/0.1 (status list)");
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TES_STATUS_TOKEN_MAX);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &s);
    SET(CURLOPT_ERRORBUFFER, errbuf);
#undef SET
    tes_err e = TES_OK;
    if (rc != CURLE_OK) {
        e = tes_err_set(TES_ERR_TRANSPORT, "status fetch: libcurl refused an option: %s",
                        curl_easy_strerror(rc));
        goto done;
    }
    rc = curl_easy_perform(h);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        e = tes_err_set(TES_ERR_TIMEOUT, "status fetch: no answer from %.200s within %ld ms", url,
                        tmo);
    } else if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        e = tes_err_set(TES_ERR_TRANSPORT, "status fetch: answer from %.200s larger than %u bytes",
                        url, TES_STATUS_TOKEN_MAX);
    } else if (rc == CURLE_OUT_OF_MEMORY || body->failed) {
        e = tes_err_set(TES_ERR_NOMEM, "status fetch: out of memory");
    } else if (rc != CURLE_OK) {
        e = tes_err_set(TES_ERR_TRANSPORT, "status fetch: %.200s: %s", url,
                        errbuf[0] ? errbuf : curl_easy_strerror(rc));
    } else {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200 || code > 299)
            e = tes_err_set(TES_ERR_TRANSPORT, "status fetch: HTTP %ld from %.200s", code, url);
    }
done:
    if (e != TES_OK)
        body->len = s.start;
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return e;
}
