/*
 * The OpenID4VCI issuer service (issuer.h): the services' HTTP layer
 * (httpd/httpd_internal.h: connection limits in all and per address, a total
 * deadline per request, bounded bodies, strict framing, the one JSON error
 * writer) with a pool of worker threads, one registry handle per worker
 * (registry handles belong to one thread).
 *
 * Error descriptions are written for the client; what only the operator
 * should read (the registry's or database's own message, the cause of a 500)
 * goes to the configured log.
 *
 * The endpoints live one file each: svc_token.c (/token, /nonce),
 * svc_credential.c (/credential), svc_status.c (/status/N, /lost); this file is
 * what they share (service_internal.h), the routes, and start / stop.
 */
#include "issuer/service_internal.h"

/* Every registry of the service keeps the service's time and randomness. */
static tes_err open_registry(const tes_issuer *s, tes_registry **out)
{
    tes_registry_opts o = {.clock = &s->clock, .rng = &s->rng};
    return tes_registry_open_with(s->db_url, &o, out);
}

/* ------------------------------------------------------------------ responses */

/* The service this thread answers for (set by on_request): where send_error logs. */
static _Thread_local tes_issuer *t_issuer;

/* Set while this thread answers a Credential Request: OpenID4VCI 1.0 §8.3.1.2
 * names a malformed one invalid_credential_request, where the OAuth endpoints
 * (token, and our /lost) say invalid_request. */
static _Thread_local bool t_in_credential_endpoint;

/* Prefixes by which the layers below name themselves in their messages: the
 * operator's reading, not the client's ("registry: c_nonce already used" is
 * "c_nonce already used" to the wallet). */
static const char *const INTERNAL_PREFIXES[] = {"registry: ", "store: "};

/* desc with every internal prefix removed into out; whether one was. */
static bool client_text(const char *desc, char *out, size_t cap)
{
    bool cut = false;
    size_t j = 0;
    for (size_t i = 0; desc[i] != '\0' && j + 1 < cap;) {
        size_t skip = 0;
        for (size_t k = 0; k < sizeof INTERNAL_PREFIXES / sizeof INTERNAL_PREFIXES[0]; k++) {
            size_t n = strlen(INTERNAL_PREFIXES[k]);
            if (strncmp(desc + i, INTERNAL_PREFIXES[k], n) == 0 && (i == 0 || desc[i - 1] == ' '))
                skip = n;
        }
        if (skip > 0) {
            cut = true;
            i += skip;
        } else {
            out[j++] = desc[i++];
        }
    }
    out[j] = '\0';
    return cut;
}

/* Sends the wire error for code e with description desc (NULL: the calling
 * thread's last error message, which is then only logged). A 500 gets a
 * fixed description and its cause is logged; a description that quotes an
 * internal layer is logged as it is and sent without the layer's name. */
enum MHD_Result svc_send_error(struct MHD_Connection *c, tes_err e, const char *desc)
{
    int status;
    const char *name = iss_wire_error(e, &status);
    if (t_in_credential_endpoint && strcmp(name, "invalid_request") == 0)
        name = "invalid_credential_request";
    httpd *log = t_issuer ? t_issuer->http : NULL;
    char text[512];
    if (status == 500) {
        httpd_log(log, "%s (%s): %s", name, tes_err_name(e), desc ? desc : tes_err_message());
        desc = "the issuer failed; try again later"; /* details stay on the server */
    } else if (desc != NULL && client_text(desc, text, sizeof text)) {
        httpd_log(log, "%s (%s): %s", name, tes_err_name(e), desc);
        desc = text;
    }
    const char *www = NULL;
    char hdr[600];
    if (e == TES_ERR_TOKEN) {
        /* RFC 6750 §3: a quoted-string; the OAuth text has no '"' or '\\'. */
        char clean[400];
        httpd_oauth_text(desc, clean, sizeof clean);
        snprintf(hdr, sizeof hdr, "Bearer error=\"invalid_token\", error_description=\"%s\"",
                 clean);
        www = hdr;
    }
    return httpd_send_error(c, (unsigned)status, name, desc,
                            (httpd_reply_opts){.www_authenticate = www});
}

/* Sends the calling thread's last error (message copied first). */
enum MHD_Result svc_send_last_error(struct MHD_Connection *c, tes_err e, const char *prefix)
{
    char desc[512];
    if (prefix)
        snprintf(desc, sizeof desc, "%s: %s", prefix, tes_err_message());
    else
        snprintf(desc, sizeof desc, "%s", tes_err_message());
    return svc_send_error(c, e, desc);
}

/* ------------------------------------------------------------------ rate limiting */

/* Counts one event (add 1) or only looks (add 0) for (kind, key) in the
 * current minute; returns the count in the window. Fixed window, 4-way
 * buckets; under pressure the oldest entry of a bucket is replaced. */
int svc_rl_touch(tes_issuer *s, const char *kind, const char *key, size_t key_len, int add)
{
    uint8_t h[32];
    tes_buf in = {0};
    tes_buf_append(&in, kind, strlen(kind) + 1);
    tes_buf_append(&in, key, key_len);
    bool ok = !in.failed && tes_digest(TES_HASH_SHA256, tes_buf_bytes(&in), h) == TES_OK;
    tes_buf_free(&in);
    if (!ok)
        return 0;
    int64_t now = now_of(s), window = now - now % RL_WINDOW;
    uint32_t b = ((uint32_t)h[16] | (uint32_t)h[17] << 8 | (uint32_t)h[18] << 16) % RL_BUCKETS;
    pthread_mutex_lock(&s->rl_mu);
    rl_slot *hit = NULL, *victim = NULL;
    for (int w = 0; w < RL_WAYS; w++) {
        rl_slot *sl = &s->rl[b][w];
        if (sl->used && memcmp(sl->key, h, 16) == 0) {
            hit = sl;
            break;
        }
        if (victim == NULL || !sl->used || (victim->used && sl->window < victim->window))
            victim = sl;
    }
    if (hit == NULL) {
        hit = victim;
        memcpy(hit->key, h, 16);
        hit->used = true;
        hit->window = window;
        hit->count = 0;
    }
    if (hit->window != window) {
        hit->window = window;
        hit->count = 0;
    }
    if (add && hit->count < INT_MAX)
        hit->count += add;
    int count = hit->count;
    pthread_mutex_unlock(&s->rl_mu);
    return count;
}

/* ------------------------------------------------------------------ registry per worker */

tes_err svc_worker_registry(tes_issuer *s, tes_registry **out)
{
    tes_registry *r = pthread_getspecific(s->tls);
    if (r != NULL) {
        *out = r;
        return TES_OK;
    }
    tes_err err = open_registry(s, &r);
    if (err != TES_OK)
        return err;
    pthread_mutex_lock(&s->reg_mu);
    if (s->n_regs == s->cap_regs) {
        size_t cap = s->cap_regs ? 2 * s->cap_regs : 8;
        tes_registry **n = realloc(s->regs, cap * sizeof *n);
        if (n == NULL) {
            pthread_mutex_unlock(&s->reg_mu);
            tes_registry_close(r);
            return tes_err_set(TES_ERR_NOMEM, "out of memory");
        }
        s->regs = n;
        s->cap_regs = cap;
    }
    s->regs[s->n_regs++] = r;
    pthread_mutex_unlock(&s->reg_mu);
    if (pthread_setspecific(s->tls, r) != 0)
        return tes_err_set(TES_ERR_NOMEM, "pthread_setspecific failed");
    *out = r;
    return TES_OK;
}

/* ------------------------------------------------------------------ dispatch */

static enum MHD_Result dispatch(tes_issuer *s, struct MHD_Connection *c, const char *url,
                                const char *method, const tes_buf *body)
{
    static const struct {
        const char *path, *method;
        int id;
    } routes[] = {
        {"/.well-known/openid-credential-issuer", "GET", 1},
        {"/.well-known/oauth-authorization-server", "GET", 2},
        {"/token", "POST", 3},
        {"/nonce", "POST", 4},
        {"/credential", "POST", 5},
        {"/status/" STATUS_LIST_NAME, "GET", 6},
        {"/lost", "POST", 7},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        if (strcmp(method, routes[i].method) != 0) {
            char d[96];
            snprintf(d, sizeof d, "%.16s is not allowed here; use %s", method, routes[i].method);
            return httpd_send_error(c, 405, "invalid_request", d,
                                    (httpd_reply_opts){.allow = routes[i].method});
        }
        switch (routes[i].id) {
        case 1:
            return httpd_send_text(c, 200, "application/json", s->metadata, strlen(s->metadata),
                                   (httpd_reply_opts){0});
        case 2:
            return httpd_send_text(c, 200, "application/json", s->as_metadata,
                                   strlen(s->as_metadata), (httpd_reply_opts){0});
        case 3:
            return svc_handle_token(s, c, body);
        case 4:
            return svc_handle_nonce(s, c);
        case 5: {
            t_in_credential_endpoint = true;
            enum MHD_Result ret = svc_handle_credential(s, c, body);
            t_in_credential_endpoint = false;
            return ret;
        }
        case 7:
            return svc_handle_lost(s, c, body);
        default:
            return svc_handle_status(s, c, 1);
        }
    }
    /* /status/N for the later lists: N decimal, no leading zero */
    const char *n = strncmp(url, "/status/", 8) == 0 ? url + 8 : NULL;
    size_t digits = n ? strspn(n, "0123456789") : 0;
    if (n && digits >= 1 && digits <= 9 && n[digits] == '\0' && n[0] != '0') {
        if (strcmp(method, "GET") != 0)
            return httpd_send_error(c, 405, "invalid_request", "use GET",
                                    (httpd_reply_opts){.allow = "GET"});
        return svc_handle_status(s, c, strtoll(n, NULL, 10));
    }
    return httpd_send_error(c, 404, "not_found", "no such endpoint", (httpd_reply_opts){0});
}

/* The HTTP layer's handler: a whole request, its body bounded. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const tes_buf *body)
{
    tes_issuer *s = cls;
    t_issuer = s;
    enum MHD_Result ret = dispatch(s, c, url, method, body);
    t_issuer = NULL;
    return ret;
}

/* ------------------------------------------------------------------ start / stop */

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 1);
    if (r) {
        memcpy(r, a, la);
        memcpy(r + la, b, lb + 1);
    }
    return r;
}

/* ds.pem with ds_key.pem or ds_key.hsm (tes_ds_signer_load; hsm_pin NULL:
 * TESSERA_HSM_PIN). */
static tes_err load_authority(tes_issuer *s, const char *dir, const char *hsm_pin)
{
    tes_err err = tes_ds_signer_load(dir, hsm_pin, &s->dss);
    if (err == TES_OK)
        s->ds = tes_ds_signer_cert(s->dss);
    return err;
}

static tes_err build_metadata(tes_issuer *s)
{
    const char *pub = s->public_url;
    char *cred = join(pub, "/credential"), *nonce = join(pub, "/nonce"),
         *token = join(pub, "/token");
    tes_err err = TES_OK;
    json_t *configs = json_object(), *md = NULL, *as = NULL;
    if (cred == NULL || nonce == NULL || token == NULL || configs == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    static const char *const doctypes[] = {TES_DOCTYPE_PID, TES_DOCTYPE_MDL};
    for (size_t i = 0; i < 2; i++) {
        json_t *types = json_object();
        json_t *jwt = json_pack("{s:[s]}", "proof_signing_alg_values_supported", "ES256");
        if (types != NULL && jwt != NULL)
            json_object_set_new(types, "jwt", jwt);
        if (types != NULL && jwt != NULL && s->vendor_roots.len > 0) {
            /* Key attestations are required: Tessera's x5c form or OpenID4VCI 1.0's
             * (Appendix D) in the proof's key_attestation header, or the attestation
             * proof type. With require_uv, the user_authentication values that say
             * every use needs the holder (keyatt.c). */
            json_t *kar =
                s->pol.require_uv
                    ? json_pack("{s:[s,s,s,s,s]}", "user_authentication", TES_KA_USER_AUTH_PIN,
                                "iso_18045_high", "iso_18045_moderate", "iso_18045_enhanced-basic",
                                "iso_18045_basic")
                    : json_object();
            json_object_set(jwt, "key_attestations_required", kar);
            json_object_set_new(types, "attestation",
                                json_pack("{s:[s], s:o}", "proof_signing_alg_values_supported",
                                          "ES256", "key_attestations_required", kar));
        }
        json_t *cfg = json_pack("{s:s, s:s, s:[s], s:[i], s:o}", "format", "mso_mdoc", "doctype",
                                doctypes[i], "cryptographic_binding_methods_supported", "cose_key",
                                "credential_signing_alg_values_supported", -7,
                                "proof_types_supported", types);
        if (cfg == NULL || json_object_set_new(configs, doctypes[i], cfg) != 0) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    md = json_pack("{s:s, s:s, s:s, s:O}", "credential_issuer", pub, "credential_endpoint", cred,
                   "nonce_endpoint", nonce, "credential_configurations_supported", configs);
    if (md && s->pol.batch_max >= 2)
        json_object_set_new(md, "batch_credential_issuance",
                            json_pack("{s:I}", "batch_size", (json_int_t)s->pol.batch_max));
    as = json_pack("{s:s, s:s, s:[s], s:b, s:[s]}", "issuer", pub, "token_endpoint", token,
                   "grant_types_supported", ISS_GRANT_PRE_AUTH,
                   "pre-authorized_grant_anonymous_access_supported", 1,
                   "token_endpoint_auth_methods_supported", "none");
    if (md == NULL || as == NULL ||
        (s->metadata = json_dumps(md, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
        (s->as_metadata = json_dumps(as, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
out:
    json_decref(configs);
    json_decref(md);
    json_decref(as);
    free(cred);
    free(nonce);
    free(token);
    return err;
}

void tes_issuer_stop(tes_issuer *s)
{
    if (s == NULL)
        return;
    httpd_stop(s->http); /* joins the workers; closes the listening socket */
    for (size_t i = 0; i < s->n_regs; i++)
        tes_registry_close(s->regs[i]);
    free(s->regs);
    if (s->tls_made)
        pthread_key_delete(s->tls);
    pthread_mutex_destroy(&s->reg_mu);
    pthread_mutex_destroy(&s->status_mu);
    pthread_mutex_destroy(&s->rl_mu);
    for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++)
        tes_buf_free(&s->status[i].token);
    free(s->status_base);
    tes_buf_free(&s->vendor_roots);
    tes_ds_signer_free(s->dss);
    free(s->db_url);
    free(s->public_url);
    free(s->status_uri);
    free(s->metadata);
    free(s->as_metadata);
    free(s);
}

/* Key attestation required (the default) needs vendor roots; not required takes none. */
static tes_err attestation_config(const tes_issuer_config *c)
{
    switch (c->attestation) {
    case TES_ATTESTATION_REQUIRED:
        if (c->vendor_roots == NULL)
            return tes_err_set(TES_ERR_ARG,
                               "tes_issuer_start: key attestation is required "
                               "(TES_ATTESTATION_REQUIRED, the default) but no vendor_roots are "
                               "given: name the secure-element vendors whose attestations are "
                               "accepted, or set attestation = TES_ATTESTATION_NOT_REQUIRED to "
                               "give credentials to unattested keys (development only)");
        return TES_OK;
    case TES_ATTESTATION_NOT_REQUIRED:
        if (c->vendor_roots != NULL)
            return tes_err_set(TES_ERR_ARG,
                               "tes_issuer_start: vendor_roots %s given but attestation is "
                               "TES_ATTESTATION_NOT_REQUIRED: drop one of them",
                               c->vendor_roots);
        return TES_OK;
    }
    return tes_err_set(TES_ERR_ARG, "tes_issuer_start: attestation %d is none of "
                                    "TES_ATTESTATION_REQUIRED, TES_ATTESTATION_NOT_REQUIRED",
                       (int)c->attestation);
}

tes_err tes_issuer_start(const tes_issuer_config *c, tes_issuer **out, int *port)
{
    if (c == NULL || out == NULL || c->authority_dir == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_issuer_start: NULL argument or no authority_dir");
    *out = NULL;
    tes_err cfg_err = attestation_config(c);
    if (cfg_err != TES_OK)
        return cfg_err;
    tes_issuer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->reg_mu, NULL);
    pthread_mutex_init(&s->status_mu, NULL);
    pthread_mutex_init(&s->rl_mu, NULL);
    s->clock = c->clock ? *c->clock : tes_clock_system();
    s->rng = c->rng ? *c->rng : tes_rng_system();
    s->valid_days = c->valid_days > 0 ? c->valid_days : 365;
    s->token_lifetime = c->token_lifetime > 0 ? c->token_lifetime : 300;
    s->nonce_lifetime = c->nonce_lifetime > 0 ? c->nonce_lifetime : 300;
    s->status_ttl = c->status_ttl > 0 ? c->status_ttl : 3600;
    s->status_lifetime = c->status_lifetime > 0 ? c->status_lifetime : 2 * 86400;
    if (s->status_lifetime < 2 * s->status_ttl)
        s->status_lifetime = 2 * s->status_ttl;
    s->status_cache = c->status_cache > 0   ? c->status_cache
                      : c->status_cache < 0 ? 0
                                            : STATUS_CACHE_SECONDS;
    s->status_list_size = c->status_list_size > 0 ? c->status_list_size : (size_t)1 << 17;
    httpd_limits_resolve(&(httpd_limits){.max_connections = c->max_connections,
                                         .max_connections_per_ip = c->max_connections_per_ip,
                                         .request_deadline = c->request_deadline,
                                         .idle_timeout = c->idle_timeout,
                                         .max_body = c->max_body},
                         &s->limits);
    s->rate_limit = c->rate_limit > 0 ? c->rate_limit : 60;
    s->pol.batch_max = c->batch_max > 0 ? c->batch_max : 10;
    if (s->pol.batch_max > ISS_BATCH_HARD_MAX)
        s->pol.batch_max = ISS_BATCH_HARD_MAX;
    s->pol.require_uv = c->require_uv;
    const int64_t bmax = (int64_t)s->pol.batch_max;
    s->budget.per_offer = c->credentials_per_offer > 0   ? c->credentials_per_offer
                          : c->credentials_per_offer < 0 ? 0
                                                         : 3 * bmax;
    s->budget.per_person = c->credentials_per_person > 0   ? c->credentials_per_person
                           : c->credentials_per_person < 0 ? 0
                                                           : 10 * bmax;
    s->budget.period = c->budget_period > 0 ? c->budget_period : 86400;
    s->nonce_rate_limit = c->nonce_rate_limit > 0   ? c->nonce_rate_limit
                          : c->nonce_rate_limit < 0 ? 0
                                                    : 600;

    tes_err err = TES_OK;
    int fd = -1, bound = 0;
    bool v6 = false;
    char host[256];
    if (s->status_list_size > TES_STATUS_MAX_ENTRIES) {
        err = tes_err_set(TES_ERR_ARG, "status_list_size above %u", TES_STATUS_MAX_ENTRIES);
        goto fail;
    }
    if ((err = load_authority(s, c->authority_dir, c->hsm_pin)) != TES_OK)
        goto fail;
    if (c->vendor_roots != NULL) {
        tes_cert *roots[16];
        size_t nr = 0;
        if ((err = tes_file_read(c->vendor_roots, 1u << 20, &s->vendor_roots)) != TES_OK ||
            (err = tes_cert_parse_all(tes_buf_bytes(&s->vendor_roots), roots, 16, &nr)) != TES_OK) {
            err = tes_err_set(err, "vendor roots %s: %s", c->vendor_roots, tes_err_message());
            goto fail;
        }
        for (size_t i = 0; i < nr; i++)
            tes_cert_free(roots[i]);
        if (nr == 0) {
            err = tes_err_set(TES_ERR_CERT_MALFORMED, "vendor roots %s: no certificate",
                              c->vendor_roots);
            goto fail;
        }
        s->pol.vendor_roots = tes_buf_bytes(&s->vendor_roots);
    }
    s->db_url = c->db_url ? dup_str(c->db_url) : join(c->authority_dir, "/registry.db");
    if (s->db_url == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* Open once here: creates / migrates the schema and reports a bad URL now. */
    tes_registry *probe = NULL;
    if ((err = open_registry(s, &probe)) != TES_OK)
        goto fail;
    tes_registry_close(probe);

    if ((err = httpd_listen(c->listen ? c->listen : "127.0.0.1:8080", &fd, &bound, &v6, host,
                         sizeof host)) != TES_OK)
        goto fail;
    if (c->public_url != NULL) {
        size_t n = strlen(c->public_url);
        while (n > 0 && c->public_url[n - 1] == '/')
            n--;
        s->public_url = strndup(c->public_url, n);
    } else {
        char url[320];
        snprintf(url, sizeof url, v6 ? "http://[%s]:%d" : "http://%s:%d", host, bound);
        s->public_url = strdup(url);
    }
    if (s->public_url == NULL ||
        (s->status_uri = join(s->public_url, "/status/" STATUS_LIST_NAME)) == NULL ||
        (s->status_base = join(s->public_url, "/status/")) == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto fail;
    }
    s->pol.credential_issuer = s->public_url;
    if ((err = build_metadata(s)) != TES_OK)
        goto fail;
    if (pthread_key_create(&s->tls, NULL) != 0) {
        err = tes_err_set(TES_ERR_NOMEM, "pthread_key_create failed");
        goto fail;
    }
    s->tls_made = true;

    const httpd_config hc = {
        .listen_fd = fd,
        .v6 = v6,
        .workers = WORKERS,
        .limits = s->limits,
        .handler = on_request,
        .handler_cls = s,
        .log = c->log,
        .log_ctx = c->log_ctx,
        .name = "issuer",
    };
    if ((err = httpd_start(&hc, &s->http)) != TES_OK) {
        err = tes_err_set(err, "%s on %s", tes_err_message(), host);
        goto fail;
    }
    fd = -1; /* the daemon owns it now */
    *out = s;
    if (port)
        *port = bound;
    return TES_OK;
fail:
    if (fd >= 0)
        close(fd);
    {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tes_err_message());
        tes_issuer_stop(s);
        return tes_err_set(err, "%s", msg);
    }
}
