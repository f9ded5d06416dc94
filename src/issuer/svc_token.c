/*
 * The token and nonce endpoints of the OpenID4VCI issuer service (service.c):
 * the pre-authorized code grant with its transaction code, and stateless nonces.
 */
#include "issuer/service_internal.h"

/* ------------------------------------------------------------------ /token */

static bool is_form(struct MHD_Connection *c)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char form[] = "application/x-www-form-urlencoded";
    if (ct == NULL || strncasecmp(ct, form, sizeof form - 1) != 0)
        return false;
    const char *rest = ct + sizeof form - 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

enum MHD_Result svc_handle_token(tes_issuer *s, struct MHD_Connection *c, const tes_buf *body)
{
    if (!is_form(c))
        return svc_send_error(c, TES_ERR_HTTP_REQUEST,
                              "the token request must be application/x-www-form-urlencoded");
    iss_token_req *req = malloc(sizeof *req);
    if (req == NULL)
        return svc_send_error(c, TES_ERR_NOMEM, "out of memory");
    enum MHD_Result ret;
    tes_err err = iss_form_parse((const char *)body->ptr, body->len, req);
    if (err != TES_OK) {
        ret = svc_send_last_error(c, err, NULL);
        goto out;
    }
    if (!req->has_grant_type) {
        ret = svc_send_error(c, TES_ERR_HTTP_REQUEST, "grant_type is missing");
        goto out;
    }
    if (strcmp(req->grant_type, ISS_GRANT_PRE_AUTH) != 0) {
        ret = svc_send_error(c, TES_ERR_UNSUPPORTED,
                             "only the grant type " ISS_GRANT_PRE_AUTH " is supported");
        goto out;
    }
    if (!req->has_code || req->code[0] == '\0') {
        ret = svc_send_error(c, TES_ERR_HTTP_REQUEST, "pre-authorized_code is missing");
        goto out;
    }
    char ip[64];
    httpd_client_ip(c, ip);
    if (svc_rl_touch(s, "ip-fail", ip, strlen(ip), 0) >= s->rate_limit) {
        ret = svc_send_error(c, TES_ERR_RATE_LIMIT,
                             "too many failed token requests from this address; wait a minute");
        goto out;
    }
    if (svc_rl_touch(s, "code", req->code, strlen(req->code), 1) > s->rate_limit) {
        ret = svc_send_error(c, TES_ERR_RATE_LIMIT,
                             "too many requests for this pre-authorized code; wait a minute");
        goto out;
    }
    tes_registry *r;
    if ((err = svc_worker_registry(s, &r)) != TES_OK) {
        ret = svc_send_error(c, err, NULL);
        goto out;
    }
    char token[64];
    int64_t person_id;
    err = tes_registry_offer_redeem(r, req->code, req->has_tx_code ? req->tx_code : "", now_of(s),
                                    s->token_lifetime, token, &person_id);
    if (err != TES_OK) {
        if (err == TES_ERR_GRANT)
            (void)svc_rl_touch(s, "ip-fail", ip, strlen(ip), 1);
        ret = svc_send_last_error(c, err, NULL);
        goto out;
    }
    json_t *v = json_pack("{s:s, s:s, s:I}", "access_token", token, "token_type", "Bearer",
                          "expires_in", (json_int_t)s->token_lifetime);
    tes_wipe(token, sizeof token);
    ret = httpd_send_json(c, 200, v, (httpd_reply_opts){.no_store = true});
out:
    tes_wipe(req, sizeof *req);
    free(req);
    return ret;
}

/* ------------------------------------------------------------------ /nonce */

enum MHD_Result svc_handle_nonce(tes_issuer *s, struct MHD_Connection *c)
{
    /* Stateless nonces (the registry writes nothing for them), and a bound per
     * client address all the same: making one costs an HMAC. */
    char ip[64];
    httpd_client_ip(c, ip);
    if (s->nonce_rate_limit > 0 &&
        svc_rl_touch(s, "nonce-ip", ip, strlen(ip), 1) > s->nonce_rate_limit)
        return svc_send_error(c, TES_ERR_RATE_LIMIT,
                              "too many nonce requests from this address; wait a minute");
    tes_registry *r;
    tes_err err = svc_worker_registry(s, &r);
    char nonce[64];
    if (err == TES_OK)
        err = tes_registry_nonce_new(r, now_of(s), s->nonce_lifetime, nonce);
    if (err != TES_OK)
        return svc_send_last_error(c, err, NULL);
    return httpd_send_json(c, 200, json_pack("{s:s}", "c_nonce", nonce),
                           (httpd_reply_opts){.no_store = true});
}
