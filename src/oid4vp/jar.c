/*
 * oid4vp/jar.c — the wallet's verification of an OpenID4VP signed request
 * object (JAR, RFC 9101; OpenID4VP 1.0 §5; HAIP 1.0): its signature by the
 * relying party's access certificate, the certificate's chain to a trusted
 * RP root, the client_id naming that certificate, and the claims the wallet
 * acts on (oid4vp.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tessera/oid4vp.h"

#define X509_SAN_DNS "x509_san_dns:"
#define X509_HASH "x509_hash:"

void tes_oid4vp_request_free(tes_oid4vp_request *r)
{
    if (r == NULL)
        return;
    free(r->client_id);
    free(r->dns_name);
    free(r->display_name);
    tes_reader_scope_free(&r->scope);
    free(r->response_uri);
    free(r->response_mode);
    if (r->nonce)
        tes_wipe(r->nonce, strlen(r->nonce));
    free(r->nonce);
    free(r->state);
    free(r->dcql_query);
    tes_key_free(r->enc_key);
    free(r->enc_kid);
    tes_cert_free(r->leaf);
    free(r);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The string claim name of 1..max bytes (no NUL) into *out (malloc'd).
 * Absent: TES_ERR_NOT_FOUND when optional, else TES_ERR_OID4VP_REQUEST. */
static tes_err claim_str(const json_t *claims, const char *name, size_t max, bool optional,
                         char **out)
{
    *out = NULL;
    const json_t *v = json_object_get(claims, name);
    if (v == NULL) {
        if (optional)
            return TES_ERR_NOT_FOUND;
        return tes_err_set(TES_ERR_OID4VP_REQUEST, "the request object has no \"%s\"", name);
    }
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || n == 0 || n > max || memchr(json_string_value(v), '\0', n))
        return tes_err_set(TES_ERR_OID4VP_REQUEST,
                           "\"%s\" of the request object is not a string of 1..%zu bytes", name,
                           max);
    if ((*out = dup_str(json_string_value(v))) == NULL)
        return TES_ERR_NOMEM;
    return TES_OK;
}

/* "x5c": 1..TES_OID4VP_X5C_MAX standard base64 DER certificates into ders. */
static tes_err read_x5c(const json_t *header, tes_buf *ders, size_t *n)
{
    const json_t *x5c = json_object_get(header, "x5c");
    if (!json_is_array(x5c) || json_array_size(x5c) == 0 ||
        json_array_size(x5c) > TES_OID4VP_X5C_MAX)
        return tes_err_set(TES_ERR_JOSE_HEADER,
                           "the request object's header has no \"x5c\" array of 1..%d "
                           "certificates",
                           TES_OID4VP_X5C_MAX);
    *n = json_array_size(x5c);
    for (size_t i = 0; i < *n; i++) {
        const json_t *c = json_array_get(x5c, i);
        size_t len = json_is_string(c) ? json_string_length(c) : 0;
        if (len == 0 || len > (TES_OID4VP_CERT_MAX / 3 + 1) * 4 ||
            tes_b64_decode(&ders[i], json_string_value(c), len) != TES_OK || ders[i].len == 0 ||
            ders[i].len > TES_OID4VP_CERT_MAX)
            return tes_err_set(TES_ERR_JOSE_HEADER,
                               "\"x5c\"[%zu] is not the base64 of a certificate of at most %d "
                               "bytes",
                               i, TES_OID4VP_CERT_MAX);
    }
    return TES_OK;
}

/* The client_id names the leaf: its dNSName or the hash of its DER. */
static tes_err check_client_id(tes_oid4vp_request *r, const tes_cert *leaf)
{
    const char *cid = r->client_id;
    if (strncmp(cid, X509_SAN_DNS, strlen(X509_SAN_DNS)) == 0) {
        const char *dns = cid + strlen(X509_SAN_DNS);
        char first[TES_RP_DNS_MAX + 1];
        tes_err e = tes_cert_san_dns(leaf, first, sizeof first);
        if (e == TES_ERR_NOT_FOUND)
            return tes_err_set(TES_ERR_RP_PROFILE,
                               "the relying party's certificate has no subjectAltName dNSName");
        if (e != TES_OK)
            return tes_err_set(TES_ERR_RP_PROFILE, "the relying party's certificate: %s",
                               tes_err_message());
        if (!tes_cert_san_has_dns(leaf, dns))
            return tes_err_set(TES_ERR_CLIENT_ID_MISMATCH,
                               "client_id names '%s', the certificate is for '%s'", dns, first);
        r->dns_name = dup_str(dns);
        return r->dns_name ? TES_OK : TES_ERR_NOMEM;
    }
    if (strncmp(cid, X509_HASH, strlen(X509_HASH)) == 0) {
        tes_buf want = {0};
        tes_b64url_encode(&want, TES_BYTES(tes_cert_get_info(leaf)->sha256, 32));
        const char *got = cid + strlen(X509_HASH);
        bool same = want.len == strlen(got) && memcmp(want.ptr, got, want.len) == 0;
        tes_buf_free(&want);
        if (!same)
            return tes_err_set(TES_ERR_CLIENT_ID_MISMATCH,
                               "client_id's x509_hash is not the hash of the signing "
                               "certificate");
        char dns[TES_RP_DNS_MAX + 1];
        if (tes_cert_san_dns(leaf, dns, sizeof dns) == TES_OK &&
            (r->dns_name = dup_str(dns)) == NULL)
            return TES_ERR_NOMEM;
        return TES_OK;
    }
    return tes_err_set(TES_ERR_CLIENT_ID_PREFIX,
                       "client_id '%.60s' has no supported prefix (x509_san_dns:, x509_hash:)",
                       cid);
}

static bool loopback_host(const char *host, size_t n)
{
    return (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (n == 9 && memcmp(host, "127.0.0.1", 9) == 0) ||
           (n == 5 && memcmp(host, "[::1]", 5) == 0);
}

static tes_err check_response_uri(const char *uri, bool allow_loopback_http)
{
    for (const char *c = uri; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return tes_err_set(TES_ERR_RESPONSE_URI, "response_uri holds a space or control");
    const char *host;
    bool http = false;
    if (strncasecmp(uri, "https://", 8) == 0)
        host = uri + 8;
    else if (strncasecmp(uri, "http://", 7) == 0) {
        host = uri + 7;
        http = true;
    } else
        return tes_err_set(TES_ERR_RESPONSE_URI, "response_uri is not an https URL");
    size_t hn = strcspn(host, ":/?#");
    if (host[0] == '[')
        hn = strcspn(host, "]") + 1;
    if (hn == 0 || strcspn(host, "@") < strcspn(host, "/?#"))
        return tes_err_set(TES_ERR_RESPONSE_URI, "response_uri has no host (or a userinfo)");
    if (http && !(allow_loopback_http && loopback_host(host, hn)))
        return tes_err_set(TES_ERR_RESPONSE_URI, "response_uri is plain http%s",
                           allow_loopback_http ? " on a host not loopback" : " (https required)");
    return TES_OK;
}

static tes_err check_times(const json_t *claims, const tes_oid4vp_request_opts *o)
{
    int64_t skew = o->skew == 0 ? TES_OID4VP_SKEW : o->skew < 0 ? 0 : o->skew;
    int64_t t;
    tes_err e = tes_jwt_int(claims, "exp", &t);
    if (e == TES_OK && t + skew <= o->now)
        return tes_err_set(TES_ERR_REQUEST_EXPIRED, "the request object expired at %lld",
                           (long long)t);
    if (e != TES_OK && e != TES_ERR_NOT_FOUND)
        return tes_err_set(TES_ERR_OID4VP_REQUEST, "\"exp\" is not a NumericDate");
    e = tes_jwt_int(claims, "iat", &t);
    if (e == TES_OK && t - skew > o->now)
        return tes_err_set(TES_ERR_REQUEST_EXPIRED, "the request object is issued in the future");
    if (e != TES_OK && e != TES_ERR_NOT_FOUND)
        return tes_err_set(TES_ERR_OID4VP_REQUEST, "\"iat\" is not a NumericDate");
    return TES_OK;
}

/* client_metadata: the response-encryption key and the enc values. */
static tes_err read_client_metadata(const json_t *claims, tes_oid4vp_request *r)
{
    const json_t *md = json_object_get(claims, "client_metadata");
    if (md == NULL)
        return TES_OK;
    if (!json_is_object(md))
        return tes_err_set(TES_ERR_OID4VP_REQUEST, "\"client_metadata\" is not an object");
    const json_t *jwks = json_object_get(md, "jwks");
    const json_t *keys = json_is_object(jwks) ? json_object_get(jwks, "keys") : NULL;
    if (!json_is_array(keys) || json_array_size(keys) == 0 ||
        json_array_size(keys) > TES_OID4VP_JWKS_MAX)
        return tes_err_set(TES_ERR_OID4VP_REQUEST,
                           "\"client_metadata\" has no \"jwks\" with 1..%d keys",
                           TES_OID4VP_JWKS_MAX);
    const json_t *chosen = NULL;
    size_t i;
    const json_t *k;
    json_array_foreach(keys, i, k)
    {
        const json_t *use = json_object_get(k, "use");
        if (!json_is_object(k) || (use != NULL && !json_is_string(use)))
            return tes_err_set(TES_ERR_OID4VP_REQUEST, "a key of \"jwks\" is malformed");
        if (use != NULL && strcmp(json_string_value(use), "enc") != 0)
            continue;
        if (chosen != NULL)
            return tes_err_set(TES_ERR_OID4VP_REQUEST,
                               "\"jwks\" holds more than one encryption key");
        chosen = k;
    }
    if (chosen == NULL)
        return tes_err_set(TES_ERR_OID4VP_REQUEST, "\"jwks\" holds no encryption key");
    tes_err e = tes_jwk_to_key(chosen, &r->enc_key);
    if (e != TES_OK)
        return tes_err_set(e, "the response-encryption key: %s", tes_err_message());
    if ((e = tes_jwk_thumbprint(r->enc_key, r->enc_thumbprint)) != TES_OK)
        return e;
    e = claim_str(chosen, "kid", TES_OID4VP_KID_MAX, true, &r->enc_kid);
    if (e != TES_OK && e != TES_ERR_NOT_FOUND)
        return e;
    const json_t *encs = json_object_get(md, "encrypted_response_enc_values_supported");
    if (encs == NULL)
        return TES_OK;
    if (!json_is_array(encs) || json_array_size(encs) == 0 || json_array_size(encs) > 8)
        return tes_err_set(TES_ERR_OID4VP_REQUEST,
                           "\"encrypted_response_enc_values_supported\" is not an array of "
                           "1..8 values");
    json_array_foreach(encs, i, k)
    {
        const char *v = json_string_value(k);
        if (v != NULL && strcmp(v, "A128GCM") == 0)
            r->enc_values |= TES_OID4VP_ENC_A128GCM;
        else if (v != NULL && strcmp(v, "A256GCM") == 0)
            r->enc_values |= TES_OID4VP_ENC_A256GCM;
        else if (v == NULL)
            return tes_err_set(TES_ERR_OID4VP_REQUEST,
                               "\"encrypted_response_enc_values_supported\" holds a non-string");
        /* other values: not for this wallet, ignored (HAIP: A128GCM, A256GCM) */
    }
    if (r->enc_values == 0)
        return tes_err_set(TES_ERR_OID4VP_REQUEST,
                           "the verifier supports neither A128GCM nor A256GCM");
    return TES_OK;
}

static tes_err check_claims(const json_t *claims, const tes_oid4vp_request_opts *o,
                            tes_oid4vp_request *r)
{
    char *rt = NULL;
    tes_err e = claim_str(claims, "response_type", 32, false, &rt);
    if (e != TES_OK)
        return e;
    bool vp = strcmp(rt, "vp_token") == 0;
    free(rt);
    if (!vp)
        return tes_err_set(TES_ERR_OID4VP_REQUEST, "response_type is not \"vp_token\"");
    if ((e = claim_str(claims, "response_mode", 32, false, &r->response_mode)) != TES_OK)
        return e;
    if (strcmp(r->response_mode, "direct_post.jwt") != 0 &&
        strcmp(r->response_mode, "direct_post") != 0)
        return tes_err_set(TES_ERR_OID4VP_REQUEST,
                           "response_mode '%.40s' is neither direct_post.jwt nor direct_post",
                           r->response_mode);
    if ((e = claim_str(claims, "nonce", TES_OID4VP_NONCE_MAX, false, &r->nonce)) != TES_OK)
        return e;
    e = claim_str(claims, "state", TES_OID4VP_STATE_MAX, true, &r->state);
    if (e != TES_OK && e != TES_ERR_NOT_FOUND)
        return e;
    if (json_object_get(claims, "aud") != NULL && !tes_jwt_aud_has(claims, TES_OID4VP_AUD))
        return tes_err_set(TES_ERR_OID4VP_REQUEST, "\"aud\" is not %s", TES_OID4VP_AUD);
    const json_t *dcql = json_object_get(claims, "dcql_query");
    if (!json_is_object(dcql))
        return tes_err_set(TES_ERR_OID4VP_REQUEST, "the request object has no \"dcql_query\" "
                                                   "object");
    if ((r->dcql_query = json_dumps(dcql, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
        return TES_ERR_NOMEM;
    if ((e = read_client_metadata(claims, r)) != TES_OK)
        return e;
    if (strcmp(r->response_mode, "direct_post.jwt") == 0 && r->enc_key == NULL)
        return tes_err_set(TES_ERR_OID4VP_REQUEST,
                           "direct_post.jwt without a response-encryption key in "
                           "client_metadata");
    if ((e = claim_str(claims, "response_uri", TES_OID4VP_URI_MAX, false, &r->response_uri)) !=
        TES_OK)
        return e;
    return check_response_uri(r->response_uri, o->allow_loopback_http);
}

static tes_err verify_parsed(const tes_jws *jws, const tes_oid4vp_request_opts *o,
                             tes_oid4vp_request *r)
{
    tes_err e = tes_jws_check_header(jws, TES_OID4VP_REQUEST_TYP);
    if (e != TES_OK)
        return e;
    tes_buf ders[TES_OID4VP_X5C_MAX] = {{0}};
    tes_bytes chain[TES_OID4VP_X5C_MAX];
    size_t n = 0;
    tes_trust_result tr;
    if ((e = read_x5c(jws->header, ders, &n)) != TES_OK)
        goto out;
    for (size_t i = 0; i < n; i++)
        chain[i] = tes_buf_bytes(&ders[i]);
    if ((e = tes_trust_validate(o->rp_roots, TES_PROFILE_READER, chain, n, o->now, &tr)) !=
        TES_OK) {
        e = tes_err_set(e, "the relying party's certificate chain: %s", tes_err_message());
        goto out;
    }
    r->leaf = tes_cert_ref((tes_cert *)tr.leaf);
    if ((e = tes_jws_verify(jws, tes_cert_key(r->leaf))) != TES_OK) {
        e = tes_err_set(e, "the request object is not signed by its certificate's key: %s",
                        tes_err_message());
        goto out;
    }
    if ((e = claim_str(jws->payload, "client_id", TES_OID4VP_CLIENT_ID_MAX, false,
                       &r->client_id)) != TES_OK)
        goto out;
    if ((e = check_client_id(r, r->leaf)) != TES_OK)
        goto out;
    if (o->client_id != NULL && strcmp(o->client_id, r->client_id) != 0) {
        e = tes_err_set(TES_ERR_CLIENT_ID_MISMATCH,
                        "the request object's client_id differs from the request URL's");
        goto out;
    }
    const tes_cert_info *ci = tes_cert_get_info(r->leaf);
    if ((r->display_name = dup_str(ci->common_name)) == NULL) {
        e = TES_ERR_NOMEM;
        goto out;
    }
    e = tes_reader_scope_from_cert(r->leaf, &r->scope);
    if (e == TES_ERR_NOT_FOUND)
        e = TES_OK;
    if (e != TES_OK)
        goto out;
    if ((e = check_times(jws->payload, o)) != TES_OK)
        goto out;
    e = check_claims(jws->payload, o, r);
out:
    for (size_t i = 0; i < TES_OID4VP_X5C_MAX; i++)
        tes_buf_free(&ders[i]);
    return e;
}

tes_err tes_oid4vp_request_verify(const char *text, size_t len, const tes_oid4vp_request_opts *o,
                                  tes_oid4vp_request **out)
{
    if (out)
        *out = NULL;
    if (text == NULL || o == NULL || o->rp_roots == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_oid4vp_request_verify: NULL argument");
    const tes_jws_limits lim = {.max_len = TES_OID4VP_REQUEST_MAX};
    tes_jws jws;
    tes_err e = tes_jws_parse(text, len, &lim, &jws);
    if (e != TES_OK)
        return tes_err_set(e, "the request object: %s", tes_err_message());
    tes_oid4vp_request *r = calloc(1, sizeof *r);
    if (r == NULL) {
        tes_jws_free(&jws);
        return TES_ERR_NOMEM;
    }
    e = verify_parsed(&jws, o, r);
    tes_jws_free(&jws);
    if (e != TES_OK) {
        tes_oid4vp_request_free(r);
        return e;
    }
    *out = r;
    return TES_OK;
}
