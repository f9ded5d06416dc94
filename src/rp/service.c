/*
 * The verifier service (rp.h): start / stop, the routes, the wallet's
 * endpoints (request_uri, response_uri), and what the backend API and the
 * demo site share: creating a transaction, its wire form, waiting for it.
 *
 * The request object is served for as long as the transaction is open
 * (pending or fetched, not expired), as often as asked (a wallet may retry
 * a fetch); each fetch is counted. It carries the same nonce, state and key
 * each time and a fresh iat / exp.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "rp/rp_internal.h"

#define DEFAULT_LISTEN "127.0.0.1:8090"
#define DEFAULT_WORKERS 16
#define POLL_MS 200

static _Thread_local tes_rp *t_rp;

tes_err rp_token(const tes_rp *s, size_t nbytes, char *out, size_t cap)
{
    uint8_t r[48];
    if (nbytes > sizeof r || cap < 2 * nbytes)
        return tes_err_set(TES_ERR_ARG, "rp_token: bad size");
    tes_err e = tes_rng_fill(&s->rng, r, nbytes);
    tes_buf b = {0};
    if (e == TES_OK)
        tes_b64url_encode(&b, TES_BYTES(r, nbytes));
    if (e == TES_OK && (b.failed || b.len >= cap))
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (e == TES_OK) {
        memcpy(out, b.ptr, b.len);
        out[b.len] = '\0';
    }
    tes_wipe(r, sizeof r);
    tes_buf_free(&b);
    return e;
}

/* ---- transactions ---- */

tes_err rp_dcql_check(const char *json, size_t len, char *cred_id, size_t cap, char **compact)
{
    tes_dcql_query *q = NULL;
    tes_err e = tes_dcql_parse(json, len, &q);
    if (e != TES_OK)
        return e;
    if (q->n_credentials != 1 || q->n_credential_sets != 0 || q->credentials[0].multiple)
        e = tes_err_set(TES_ERR_RP_REQUEST,
                        "the DCQL query must have exactly one Credential Query (without "
                        "credential_sets or multiple)");
    else if (q->credentials[0].n_claims == 0 || q->credentials[0].n_claim_sets != 0)
        e = tes_err_set(TES_ERR_RP_REQUEST,
                        "the Credential Query must name its claims (without claim_sets)");
    else
        snprintf(cred_id, cap, "%s", q->credentials[0].id);
    tes_dcql_query_free(q);
    if (e != TES_OK)
        return e;
    json_error_t je;
    json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    *compact = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(v);
    return *compact ? TES_OK : tes_err_set(TES_ERR_NOMEM, "out of memory");
}

tes_err rp_tx_create(tes_rp *s, const char *dcql, const char *cred_id, const char *flow,
                     const char *browser, rp_tx *t)
{
    memset(t, 0, sizeof *t);
    tes_err e = rp_token(s, TES_RP_TX_ID_BYTES, t->id, sizeof t->id);
    if (e == TES_OK)
        e = rp_token(s, 24, t->nonce, sizeof t->nonce);
    if (e == TES_OK)
        e = rp_token(s, 24, t->state, sizeof t->state);
    if (e == TES_OK)
        e = rp_tx_enc_new(s, t->id, &t->enc_sealed);
    snprintf(t->flow, sizeof t->flow, "%s", flow);
    snprintf(t->status, sizeof t->status, "pending");
    snprintf(t->browser, sizeof t->browser, "%s", browser);
    snprintf(t->cred_id, sizeof t->cred_id, "%s", cred_id);
    t->created = rp_now(s);
    t->expires = t->created + s->tx_lifetime;
    if (e == TES_OK && (t->dcql = strdup(dcql)) == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (e == TES_OK)
        e = rp_tx_insert(s->db, t);
    if (e != TES_OK)
        rp_tx_free(t);
    return e;
}

tes_err rp_auth_request_url(const tes_rp *s, const char *tx_id, tes_buf *out)
{
    char req[TES_OID4VP_URI_MAX];
    rp_tx_uri(s, "request", tx_id, req, sizeof req);
    tes_buf_append(out, "openid4vp://?client_id=", 23);
    tes_url_encode(out, s->site.client_id, strlen(s->site.client_id));
    tes_buf_append(out, "&request_uri=", 13);
    tes_url_encode(out, req, strlen(req));
    tes_buf_append(out, "", 1);
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "out of memory") : TES_OK;
}

json_t *rp_tx_wire(const rp_tx *t, int64_t now)
{
    json_t *v = json_pack("{s:s, s:s, s:I}", "transaction_id", t->id, "status",
                          rp_tx_wire_status(t, now), "expires_at", (json_int_t)t->expires);
    if (v == NULL || t->result == NULL)
        return v;
    json_error_t je;
    json_t *r = json_loads(t->result, 0, &je);
    const char *k;
    json_t *m;
    json_object_foreach(r, k, m) json_object_set(v, k, m);
    json_decref(r);
    return v;
}

static bool open_status(const char *st)
{
    return strcmp(st, "pending") == 0 || strcmp(st, "fetched") == 0 ||
           strcmp(st, "answering") == 0;
}

tes_err rp_tx_wait(tes_rp *s, const char *id, int64_t wait, rp_tx *out)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        tes_err e = rp_tx_get(s->db, id, out);
        if (e != TES_OK)
            return e;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (!open_status(out->status) || rp_now(s) >= out->expires || ms >= wait * 1000 ||
            s->stopping)
            return TES_OK;
        rp_tx_free(out);
        struct timespec pause = {0, POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* ---- HTTP helpers ---- */

enum MHD_Result rp_send_error(struct MHD_Connection *c, unsigned status, const char *name,
                              const char *desc)
{
    if (status >= 500 && t_rp != NULL) {
        httpd_log(t_rp->http, "%s: %s", name, desc ? desc : "");
        desc = "the verifier failed; try again later";
    }
    return httpd_send_error(c, status, name, desc, (httpd_reply_opts){0});
}

const char *rp_query(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v && strlen(v) <= 256 ? v : NULL;
}

int64_t rp_query_wait(struct MHD_Connection *c)
{
    const char *w = rp_query(c, "wait");
    if (w == NULL)
        return 0;
    char *end;
    long v = strtol(w, &end, 10);
    if (*w == '\0' || *end != '\0' || v < 0)
        return 0;
    return v > TES_RP_WAIT_MAX ? TES_RP_WAIT_MAX : v;
}

/* The wire error of a failure the wallet or a client caused. */
static enum MHD_Result send_tes_error(struct MHD_Connection *c, tes_err e, const char *name)
{
    char desc[512];
    snprintf(desc, sizeof desc, "%s", tes_err_message_for(e));
    if (e == TES_ERR_RP_TX_UNKNOWN)
        return rp_send_error(c, 404, name, "unknown transaction");
    if (tes_err_is_env(e) || e == TES_ERR_STORE_CORRUPT)
        return rp_send_error(c, 500, "server_error", desc);
    return rp_send_error(c, 400, name, desc);
}

/* ---- wallet endpoints ---- */

static bool tx_id_ok(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= RP_TOKEN_MAX && tes_jose_b64url_chars(id, n);
}

static enum MHD_Result get_request(tes_rp *s, struct MHD_Connection *c, const char *id)
{
    rp_tx t;
    tes_err e = rp_tx_get(s->db, id, &t);
    if (e != TES_OK)
        return send_tes_error(c, e, "invalid_request");
    tes_buf jws = {0};
    if (strcmp(rp_tx_wire_status(&t, rp_now(s)), "expired") == 0)
        e = tes_err_set(TES_ERR_RP_TX_EXPIRED, "the transaction has expired");
    else if (strcmp(t.status, "pending") != 0 && strcmp(t.status, "fetched") != 0)
        e = tes_err_set(TES_ERR_RP_TX_USED, "the transaction has been answered already");
    if (e == TES_OK)
        e = rp_request_object(s, &t, &jws);
    if (e == TES_OK)
        e = rp_tx_mark_fetched(s->db, id);
    rp_tx_free(&t);
    enum MHD_Result r =
        e == TES_OK ? httpd_send_text(c, 200, "application/oauth-authz-req+jwt", jws.ptr, jws.len,
                                      (httpd_reply_opts){.no_store = true})
                    : send_tes_error(c, e, "invalid_request");
    tes_buf_free(&jws);
    return r;
}

static enum MHD_Result post_response(tes_rp *s, struct MHD_Connection *c, const char *id,
                                     const tes_buf *body)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return rp_send_error(c, 400, "invalid_request",
                             "the response must be application/x-www-form-urlencoded");
    json_t *reply = NULL;
    const char *name = "invalid_request";
    tes_err e = rp_response_handle(s, id, body, &reply, &name);
    if (e != TES_OK) {
        httpd_log(s->http, "response for %.8s...: %s: %s", id, tes_err_name(e),
                  tes_err_message_for(e));
        return send_tes_error(c, e, name);
    }
    return httpd_send_json(c, 200, reply, (httpd_reply_opts){.no_store = true});
}

/* ---- dispatch ---- */

static const char *after(const char *url, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(url, prefix, n) == 0 ? url + n : NULL;
}

static enum MHD_Result dispatch(tes_rp *s, struct MHD_Connection *c, const char *url,
                                const char *method, const tes_buf *body)
{
    const char *id;
    if ((id = after(url, "/oid4vp/request/")) != NULL) {
        if (strcmp(method, "GET") != 0)
            return httpd_send_error(c, 405, "invalid_request", "use GET",
                                    (httpd_reply_opts){.allow = "GET"});
        if (!tx_id_ok(id))
            return rp_send_error(c, 404, "invalid_request", "unknown transaction");
        return get_request(s, c, id);
    }
    if ((id = after(url, "/oid4vp/response/")) != NULL) {
        if (strcmp(method, "POST") != 0)
            return httpd_send_error(c, 405, "invalid_request", "use POST",
                                    (httpd_reply_opts){.allow = "POST"});
        if (!tx_id_ok(id))
            return rp_send_error(c, 404, "invalid_request", "unknown transaction");
        return post_response(s, c, id, body);
    }
    if (after(url, "/api/") != NULL)
        return rp_api(s, c, url, method, body);
    return rp_site_http(s, c, url, method, body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const tes_buf *body)
{
    tes_rp *s = cls;
    t_rp = s;
    enum MHD_Result r = dispatch(s, c, url, method, body);
    t_rp = NULL;
    return r;
}

/* ---- start / stop ---- */

const char *tes_rp_public_url(const tes_rp *s)
{
    return s ? s->site.public_url : NULL;
}

const char *tes_rp_client_id(const tes_rp *s)
{
    return s ? s->site.client_id : NULL;
}

void tes_rp_stop(tes_rp *s)
{
    if (s == NULL)
        return;
    s->stopping = true;
    httpd_stop(s->http);
    rp_db_close(s->db);
    tes_trust_store_free(s->trust);
    rp_site_free(&s->site);
    free(s);
}

static tes_err load_trust(tes_rp *s, const tes_rp_config *c)
{
    if (c->n_trust_files == 0 || c->trust_files == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_rp_start: no trust_files (the issuers' IACA roots)");
    tes_err e = tes_trust_store_new(&s->trust);
    for (size_t i = 0; e == TES_OK && i < c->n_trust_files; i++) {
        tes_buf b = {0};
        tes_cert *certs[16];
        size_t n = 0;
        e = tes_file_read(c->trust_files[i], 1u << 20, &b);
        if (e == TES_OK)
            e = tes_cert_parse_all(tes_buf_bytes(&b), certs, 16, &n);
        for (size_t k = 0; k < n; k++) {
            if (e == TES_OK)
                e = tes_trust_store_add(s->trust, TES_PROFILE_DS, certs[k]);
            tes_cert_free(certs[k]);
        }
        if (e == TES_OK && n == 0)
            e = tes_err_set(TES_ERR_CERT_MALFORMED, "no certificate");
        tes_buf_free(&b);
        if (e != TES_OK)
            e = tes_err_set(e, "trust file %s: %s", c->trust_files[i], tes_err_message());
    }
    return e;
}

static tes_err configure(tes_rp *s, const tes_rp_config *c)
{
    s->clock = c->clock ? *c->clock : tes_clock_system();
    s->rng = c->rng ? *c->rng : tes_rng_system();
    s->tx_lifetime = c->tx_lifetime > 0 ? c->tx_lifetime : TES_RP_TX_LIFETIME;
    s->session_lifetime = c->session_lifetime > 0 ? c->session_lifetime : TES_RP_SESSION_LIFETIME;
    s->accept_undetermined = c->accept_undetermined;
    if (c->status_cache)
        snprintf(s->status_cache, sizeof s->status_cache, "%s", c->status_cache);
    else
        snprintf(s->status_cache, sizeof s->status_cache, "%s/status-cache", c->dir);
    s->status = (tes_status_opts){.mode = c->status,
                                  .cache_dir = s->status_cache,
                                  .max_age = c->status_max_age > 0 ? c->status_max_age : 2 * 86400};
    tes_err e = rp_site_load(c->dir, c->public_url, &s->site);
    if (e == TES_OK)
        e = load_trust(s, c);
    char db[4200];
    if (c->db_url)
        snprintf(db, sizeof db, "%s", c->db_url);
    else
        snprintf(db, sizeof db, "%s/%s", c->dir, TES_RP_DB);
    if (e == TES_OK)
        e = rp_db_open(db, &s->db);
    if (e == TES_OK)
        e = rp_db_purge(s->db, rp_now(s));
    return e;
}

tes_err tes_rp_start(const tes_rp_config *c, tes_rp **out, int *port)
{
    if (c == NULL || out == NULL || c->dir == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_rp_start: NULL argument or no dir");
    *out = NULL;
    tes_rp *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    int fd = -1, bound = 0;
    bool v6 = false;
    char host[256];
    tes_err e = configure(s, c);
    if (e == TES_OK)
        e = httpd_listen(c->listen ? c->listen : DEFAULT_LISTEN, &fd, &bound, &v6, host,
                         sizeof host);
    if (e == TES_OK) {
        httpd_config hc = {
            .listen_fd = fd,
            .v6 = v6,
            .workers = c->workers ? c->workers : DEFAULT_WORKERS,
            .limits = {.max_connections = c->max_connections, .max_body = TES_RP_MAX_BODY},
            .handler = on_request,
            .handler_cls = s,
            .log = c->log,
            .log_ctx = c->log_ctx,
            .name = "rp",
        };
        if ((e = httpd_start(&hc, &s->http)) == TES_OK)
            fd = -1;
    }
    if (e != TES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tes_err_message_for(e));
        if (fd >= 0)
            close(fd);
        tes_rp_stop(s);
        return tes_err_set(e, "%s", msg);
    }
    *out = s;
    if (port)
        *port = bound;
    return TES_OK;
}
