/*
 * The status-list and lost-phone endpoints of the OpenID4VCI issuer service
 * (service.c): signed Token Status Lists (/status/N, cached a few seconds), and
 * the holder's own lost-phone report (/lost).
 */
#include "issuer/service_internal.h"

/* ------------------------------------------------------------------ /status/N */

static tes_err build_status(tes_issuer *s, int64_t list, int64_t now, tes_buf *out)
{
    tes_registry *r;
    tes_err err = svc_worker_registry(s, &r);
    if (err != TES_OK)
        return err;
    char uri[TES_REGISTRY_URI_MAX];
    snprintf(uri, sizeof uri, "%s%lld", s->status_base, (long long)list);
    tes_status_list l = {0};
    if ((err = tes_registry_status_list(r, uri, s->status_list_size, &l)) != TES_OK)
        return err;
    const tes_signer signer = *tes_ds_signer_get(s->dss);
    const tes_bytes chain[1] = {tes_cert_der(s->ds)};
    err = tes_status_token_build(&l, uri, now, now + s->status_lifetime, s->status_ttl, &signer,
                                 chain, 1, out);
    tes_status_list_free(&l);
    return err;
}

/* Drops every cached list (a status change must show at once). */
void svc_status_cache_drop(tes_issuer *s)
{
    pthread_mutex_lock(&s->status_mu);
    for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++)
        s->status[i].list = 0;
    pthread_mutex_unlock(&s->status_mu);
}

/* List N (1, 2, ...): lists after the registry's current one do not exist yet
 * (404); list 1 is always there (all valid before the first issuance). */
enum MHD_Result svc_handle_status(tes_issuer *s, struct MHD_Connection *c, int64_t list)
{
    const int64_t now = now_of(s);
    tes_buf tok = {0};
    pthread_mutex_lock(&s->status_mu);
    for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++) {
        struct status_slot *sl = &s->status[i];
        if (sl->list == list && now >= sl->built && now - sl->built < s->status_cache) {
            tes_buf_append(&tok, sl->token.ptr, sl->token.len);
            break;
        }
    }
    pthread_mutex_unlock(&s->status_mu);
    if (tok.len == 0 && !tok.failed) {
        tes_registry *r;
        int64_t current = 0;
        tes_err err = svc_worker_registry(s, &r);
        if (err == TES_OK && list > 1)
            err = tes_registry_status_series(r, s->status_base, &current);
        if (err == TES_OK && list > 1 && list > current)
            return httpd_send_error(c, 404, "not_found", "no such status list",
                                    (httpd_reply_opts){0});
        if (err == TES_OK)
            err = build_status(s, list, now, &tok);
        if (err != TES_OK) {
            tes_buf_free(&tok);
            return svc_send_error(c, err, NULL);
        }
        pthread_mutex_lock(&s->status_mu);
        struct status_slot *victim = &s->status[0];
        for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++) {
            struct status_slot *sl = &s->status[i];
            if (sl->list == list) {
                victim = sl;
                break;
            }
            if (sl->list == 0 || (victim->list != 0 && sl->built < victim->built))
                victim = sl;
        }
        tes_buf_reset(&victim->token);
        tes_buf_append(&victim->token, tok.ptr, tok.len);
        victim->list = victim->token.failed ? 0 : list;
        victim->built = now;
        pthread_mutex_unlock(&s->status_mu);
    }
    if (tok.failed) {
        tes_buf_free(&tok);
        return svc_send_error(c, TES_ERR_NOMEM, NULL);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(tok.len, tok.ptr, MHD_RESPMEM_MUST_COPY);
    tes_buf_free(&tok);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/statuslist+cwt");
    char cc[64];
    snprintf(cc, sizeof cc, "max-age=%lld", (long long)s->status_cache);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
    enum MHD_Result ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------------ /lost */

/* The holder reports the phone lost from another device: JSON
 * {"recovery_code": "ABCD-...", "device_id": "<64 hex>"} ("device_id" left
 * out: every credential of the person). The recovery code (given at
 * enrolment) names the person; only that person's credentials are
 * suspended. Wrong codes count against the client address like failed
 * token requests. */
enum MHD_Result svc_handle_lost(tes_issuer *s, struct MHD_Connection *c, const tes_buf *body)
{
    json_error_t jerr;
    json_t *v = json_loadb(body->len ? (const char *)body->ptr : "", body->len,
                           JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        return svc_send_error(c, TES_ERR_JSON,
                              "the body must be a JSON object {\"recovery_code\": ..., "
                              "\"device_id\": ...}");
    }
    json_t *code = json_object_get(v, "recovery_code"), *dev = json_object_get(v, "device_id");
    size_t members = json_object_size(v);
    char code_s[72], dev_s[65] = "";
    bool ok = json_is_string(code) && json_string_length(code) < sizeof code_s &&
              members == 1u + (dev != NULL);
    if (ok)
        snprintf(code_s, sizeof code_s, "%s", json_string_value(code));
    if (ok && dev != NULL) {
        ok = json_is_string(dev) && json_string_length(dev) == 64;
        for (size_t i = 0; ok && i < 64; i++) {
            char ch = json_string_value(dev)[i];
            ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        }
        if (ok)
            snprintf(dev_s, sizeof dev_s, "%s", json_string_value(dev));
    }
    json_decref(v);
    if (!ok) {
        tes_wipe(code_s, sizeof code_s);
        return svc_send_error(c, TES_ERR_HTTP_REQUEST,
                              "expected {\"recovery_code\": string, \"device_id\": 64 hex digits "
                              "(optional)} and nothing else");
    }
    char ip[64];
    httpd_client_ip(c, ip);
    if (svc_rl_touch(s, "lost-fail", ip, strlen(ip), 0) >= s->rate_limit) {
        tes_wipe(code_s, sizeof code_s);
        return svc_send_error(c, TES_ERR_RATE_LIMIT,
                              "too many wrong recovery codes from this address; wait a minute");
    }
    tes_registry *r;
    tes_err err = svc_worker_registry(s, &r);
    int64_t person = 0;
    if (err == TES_OK)
        err = tes_registry_recovery_check(r, code_s, &person);
    tes_wipe(code_s, sizeof code_s);
    if (err != TES_OK) {
        if (err == TES_ERR_GRANT) {
            (void)svc_rl_touch(s, "lost-fail", ip, strlen(ip), 1);
            return svc_send_error(c, err, "unknown recovery code");
        }
        return svc_send_last_error(c, err, NULL);
    }
    static const char op[] = "holder (recovery code)";
    size_t changed = 0;
    if (dev_s[0])
        err =
            tes_registry_set_status_by_device(r, dev_s, person, TES_STATUS_SUSPENDED, op, &changed);
    else
        err = tes_registry_set_status(r, 0, person, TES_STATUS_SUSPENDED, op, &changed);
    if (err == TES_ERR_NOT_FOUND)
        return svc_send_error(c, TES_ERR_HTTP_REQUEST,
                              "none of your credentials is bound to that device");
    if (err != TES_OK)
        return svc_send_last_error(c, err, NULL);
    /* The next status list served says so (no wait for the service's cache). */
    svc_status_cache_drop(s);
    return httpd_send_json(c, 200, json_pack("{s:I}", "suspended", (json_int_t)changed),
                           (httpd_reply_opts){.no_store = true});
}
