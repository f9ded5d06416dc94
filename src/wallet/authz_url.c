/* The authorization request URL of an OpenID4VP login (tessera/wallet.h,
 * tes_wallet_authz_url_parse): the custom schemes of the cross-device flow
 * and the https form of the same-device flow, by reference only (HAIP). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tessera/oid4vp.h"
#include "tessera/wallet.h"

#include "wallet_internal.h"

/* The schemes a QR code or link may use ("openid4vp://" is OpenID4VP's own;
 * "haip://" HAIP's; "eudi-openid4vp://" the EU reference wallet's). */
static const char *const SCHEMES[] = {"openid4vp://", "openid4vp:", "haip://",
                                      "eudi-openid4vp://", "https://"};

/* The query of url (after '?'), or NULL when the scheme is not one above. */
static const char *query_of(const char *url)
{
    for (size_t i = 0; i < sizeof SCHEMES / sizeof SCHEMES[0]; i++) {
        size_t n = strlen(SCHEMES[i]);
        if (strncasecmp(url, SCHEMES[i], n) != 0)
            continue;
        const char *q = strchr(url + n, '?');
        return q ? q + 1 : NULL;
    }
    return NULL;
}

typedef struct url_params {
    char *client_id, *request_uri, *method;
    bool by_value;
} url_params;

/* Decodes the value v[0..n) of parameter name into *slot (once only). */
static tes_err take(const char *name, char **slot, const char *v, size_t n)
{
    if (*slot != NULL)
        return tes_err_set(TES_ERR_AUTHZ_URL, "the authorization request URL gives %s twice",
                           name);
    char *out = malloc(n + 1);
    if (out == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    size_t len = 0;
    if (tes_url_decode(v, n, false, out, n + 1, &len) != TES_OK || len == 0 ||
        memchr(out, '\0', len) != NULL) {
        free(out);
        return tes_err_set(TES_ERR_AUTHZ_URL, "the authorization request URL's %s is empty or "
                                              "not percent-encoded text", name);
    }
    *slot = out;
    return TES_OK;
}

static tes_err one_param(url_params *p, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    const char *v = eq ? eq + 1 : s + n;
    size_t vn = eq ? n - kn - 1 : 0;
    if (kn == 9 && memcmp(s, "client_id", 9) == 0)
        return take("client_id", &p->client_id, v, vn);
    if (kn == 11 && memcmp(s, "request_uri", 11) == 0)
        return take("request_uri", &p->request_uri, v, vn);
    if (kn == 18 && memcmp(s, "request_uri_method", 18) == 0)
        return take("request_uri_method", &p->method, v, vn);
    if (kn == 7 && memcmp(s, "request", 7) == 0)
        p->by_value = true;
    return TES_OK; /* the request object's own claims rule: other parameters are ignored */
}

static tes_err check(const url_params *p)
{
    if (p->by_value)
        return tes_err_set(TES_ERR_AUTHZ_URL,
                           "the authorization request carries its request object by value "
                           "(\"request\"); Tessera fetches it by reference only (request_uri), as "
                           "HAIP requires");
    if (p->client_id == NULL || p->request_uri == NULL)
        return tes_err_set(TES_ERR_AUTHZ_URL,
                           "the authorization request URL lacks client_id or request_uri");
    if (strlen(p->client_id) > TES_OID4VP_CLIENT_ID_MAX)
        return tes_err_set(TES_ERR_AUTHZ_URL, "the client_id is longer than %d bytes",
                           TES_OID4VP_CLIENT_ID_MAX);
    if (!wallet_http_url(p->request_uri))
        return tes_err_set(TES_ERR_AUTHZ_URL, "request_uri is not an http(s) URL");
    if (p->method != NULL && strcmp(p->method, "get") != 0)
        return tes_err_set(TES_ERR_AUTHZ_URL,
                           "request_uri_method '%.20s' is not supported (only \"get\")",
                           p->method);
    return TES_OK;
}

tes_err tes_wallet_authz_url_parse(const char *url, char **client_id, char **request_uri)
{
    if (url == NULL || client_id == NULL || request_uri == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_authz_url_parse: NULL argument");
    *client_id = *request_uri = NULL;
    size_t len = strnlen(url, TES_WALLET_AUTHZ_URL_MAX + 1);
    if (len > TES_WALLET_AUTHZ_URL_MAX)
        return tes_err_set(TES_ERR_AUTHZ_URL, "the authorization request URL is longer than %d "
                                              "bytes", TES_WALLET_AUTHZ_URL_MAX);
    const char *q = query_of(url);
    if (q == NULL)
        return tes_err_set(TES_ERR_AUTHZ_URL,
                           "not an OpenID4VP authorization request URL (openid4vp://?..., "
                           "haip://?... or https://...?...)");
    if (strchr(q, '#') != NULL)
        return tes_err_set(TES_ERR_AUTHZ_URL, "the authorization request URL has a fragment");
    url_params p = {0};
    tes_err e = TES_OK;
    for (const char *s = q; e == TES_OK && *s;) {
        size_t n = strcspn(s, "&");
        if (n > 0)
            e = one_param(&p, s, n);
        s += n + (s[n] == '&');
    }
    if (e == TES_OK)
        e = check(&p);
    free(p.method);
    if (e != TES_OK) {
        free(p.client_id);
        free(p.request_uri);
        return e;
    }
    *client_id = p.client_id;
    *request_uri = p.request_uri;
    return TES_OK;
}
