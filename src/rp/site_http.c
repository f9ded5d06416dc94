/*
 * The demo website served by the verifier itself (COMMON decision 2): the
 * login page (files of web/, embedded at build time: rp_web.c) and
 *   POST /site/login      a new login with the site's DCQL query, bound to
 *                         this browser by the HttpOnly cookie tessera_login
 *                         ("<tx>.<secret>"; the transaction keeps the
 *                         SHA-256 of the secret)
 *   GET|POST /site/status [?wait=N][&response_code=C]  how that login goes;
 *                         the first poll that sees it verified takes it
 *                         (once, atomically) and opens a session
 *   GET /site/me          the session's account, or 401
 *   POST /site/logout     ends the session
 *   GET /site/callback    the same-device return (the page reads
 *                         #response_code and posts it to /site/status)
 * Cookies: HttpOnly, SameSite=Lax, Path=/, Secure when the public URL is
 * https. POSTs with an Origin header from another origin are refused (403).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rp/rp_internal.h"

#define LOGIN_COOKIE "tessera_login"
#define SESSION_COOKIE "tessera_session"

static void sha256_hex(const char *s, char out[65])
{
    uint8_t h[32];
    if (tes_digest(TES_HASH_SHA256, TES_BYTES(s, strlen(s)), h) != TES_OK)
        memset(h, 0, sizeof h);
    tes_hex_str(out, TES_BYTES(h, 32));
}

static void cookie_header(const tes_rp *s, char *out, size_t cap, const char *name,
                          const char *value, int64_t max_age)
{
    snprintf(out, cap, "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%lld%s", name, value,
             (long long)max_age, s->site.secure ? "; Secure" : "");
}

static bool same_origin(const tes_rp *s, struct MHD_Connection *c)
{
    const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    return o == NULL || strcmp(o, s->site.public_url) == 0;
}

static enum MHD_Result send_file(struct MHD_Connection *c, const char *path)
{
    for (size_t i = 0; i < rp_web_files_count; i++)
        if (strcmp(rp_web_files[i].path, path) == 0)
            return httpd_send_text(c, 200, rp_web_files[i].type, rp_web_files[i].data,
                                   rp_web_files[i].len,
                                   (httpd_reply_opts){.no_store = true, .security_headers = true});
    return rp_send_error(c, 404, "not_found", "no such page");
}

/* True when the browser has closed this connection: a page reloaded or left during a long
 * poll aborts its request, and the answer would go nowhere. A verified login must not be
 * taken (and its session opened) for such a request: the page's next poll takes it. */
static bool client_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return false;
    char byte;
    return recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* ---- login ---- */

static enum MHD_Result login(tes_rp *s, struct MHD_Connection *c, const tes_buf *body)
{
    const char *flow = "cross_device";
    json_error_t je;
    json_t *req = body->len ? json_loadb((const char *)body->ptr, body->len, 0, &je) : NULL;
    const char *f = json_string_value(json_object_get(req, "flow"));
    if (f && strcmp(f, "same_device") == 0)
        flow = "same_device";
    json_decref(req);
    char secret[RP_TOKEN_MAX + 1], hash[65], cred_id[TES_DCQL_MAX_ID + 1], *compact = NULL;
    tes_err e = rp_token(s, 32, secret, sizeof secret);
    sha256_hex(secret, hash);
    if (e == TES_OK)
        e = rp_dcql_check(s->site.site_dcql, strlen(s->site.site_dcql), cred_id, sizeof cred_id,
                          &compact);
    rp_tx t;
    if (e == TES_OK)
        e = rp_tx_create(s, compact, cred_id, flow, hash, &t);
    free(compact);
    if (e != TES_OK)
        return rp_send_error(c, 500, "server_error", tes_err_message_for(e));
    json_t *v = rp_tx_created(s, &t);
    tes_buf svg = {0};
    const char *url = json_string_value(json_object_get(v, "authorization_request"));
    if (url && tes_qr_svg(url, &svg) == TES_OK)
        json_object_set_new(v, "qr_svg", json_stringn((const char *)svg.ptr, svg.len));
    tes_buf_free(&svg);
    json_object_del(v, "request_uri");
    char value[2 * RP_TOKEN_MAX + 2], hdr[512];
    snprintf(value, sizeof value, "%s.%s", t.id, secret);
    cookie_header(s, hdr, sizeof hdr, LOGIN_COOKIE, value, s->tx_lifetime);
    tes_wipe(secret, sizeof secret);
    rp_tx_free(&t);
    return httpd_send_json(c, 200, v,
                           (httpd_reply_opts){.no_store = true, .set_cookie = {hdr, NULL}});
}

/* ---- status ---- */

/* The login cookie's transaction id and secret hash; false when absent or malformed. */
static bool login_cookie(struct MHD_Connection *c, char id[RP_TOKEN_MAX + 1], char hash[65])
{
    const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, LOGIN_COOKIE);
    const char *dot = v ? strchr(v, '.') : NULL;
    if (dot == NULL || dot == v || (size_t)(dot - v) > RP_TOKEN_MAX || strlen(dot + 1) == 0 ||
        strlen(dot + 1) > RP_TOKEN_MAX)
        return false;
    memcpy(id, v, (size_t)(dot - v));
    id[dot - v] = '\0';
    sha256_hex(dot + 1, hash);
    return tes_jose_b64url_chars(id, strlen(id));
}

static json_t *state_reply(const char *state, const char *message)
{
    return json_pack("{s:s, s:s, s:n, s:n}", "state", state, "message", message, "age_over_18",
                     "pseudonym");
}

/* The account kept in a session: age_over_18 and the pseudonym. */
static json_t *account_of(const char *result)
{
    json_error_t je;
    json_t *r = json_loads(result, 0, &je);
    json_t *acc = json_object();
    json_t *claims = json_object_get(r, "claims"), *age = NULL, *ns;
    const char *k;
    json_object_foreach(claims, k, ns) if (age == NULL) age = json_object_get(ns, "age_over_18");
    json_object_set(acc, "age_over_18", age ? age : json_null());
    json_t *p = json_object_get(r, "pseudonym");
    json_object_set(acc, "pseudonym", p ? p : json_null());
    json_decref(r);
    return acc;
}

static enum MHD_Result logged_in(tes_rp *s, struct MHD_Connection *c, const char *tx_id)
{
    char *result = NULL, sid[RP_TOKEN_MAX + 1], hash[65], hdr[2][512];
    tes_err e = rp_tx_consume(s->db, tx_id, &result);
    if (e == TES_ERR_NOT_FOUND)
        return httpd_send_json(c, 200, state_reply("invalid", "This login was used already."),
                               (httpd_reply_opts){.no_store = true});
    json_t *acc = e == TES_OK ? account_of(result) : NULL;
    char *acc_text = acc ? json_dumps(acc, JSON_COMPACT) : NULL;
    free(result);
    if (e == TES_OK && acc_text == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (e == TES_OK)
        e = rp_token(s, 32, sid, sizeof sid);
    sha256_hex(e == TES_OK ? sid : "", hash);
    if (e == TES_OK)
        e = rp_session_insert(s->db, hash, acc_text, rp_now(s) + s->session_lifetime);
    free(acc_text);
    if (e != TES_OK) {
        json_decref(acc);
        return rp_send_error(c, 500, "server_error", tes_err_message_for(e));
    }
    cookie_header(s, hdr[0], sizeof hdr[0], SESSION_COOKIE, sid, s->session_lifetime);
    cookie_header(s, hdr[1], sizeof hdr[1], LOGIN_COOKIE, "", 0);
    tes_wipe(sid, sizeof sid);
    json_object_set_new(acc, "state", json_string("logged_in"));
    json_object_set_new(acc, "message", json_string("Logged in."));
    return httpd_send_json(c, 200, acc,
                           (httpd_reply_opts){.no_store = true, .set_cookie = {hdr[0], hdr[1]}});
}

static const char *result_text(const rp_tx *t, const char *member, const char *dflt)
{
    static _Thread_local char buf[512];
    json_error_t je;
    json_t *r = t->result ? json_loads(t->result, 0, &je) : NULL;
    const char *v = json_string_value(json_object_get(r, member));
    snprintf(buf, sizeof buf, "%s", v && *v ? v : dflt);
    json_decref(r);
    return buf;
}

static enum MHD_Result status(tes_rp *s, struct MHD_Connection *c)
{
    char id[RP_TOKEN_MAX + 1], hash[65];
    if (!login_cookie(c, id, hash))
        return httpd_send_json(c, 200, state_reply("none", "No login in progress."),
                               (httpd_reply_opts){.no_store = true});
    rp_tx t;
    tes_err e = rp_tx_wait(s, id, rp_query_wait(c), &t);
    if (e == TES_ERR_RP_TX_UNKNOWN)
        return httpd_send_json(c, 200, state_reply("none", "No login in progress."),
                               (httpd_reply_opts){.no_store = true});
    if (e != TES_OK)
        return rp_send_error(c, 500, "server_error", tes_err_message_for(e));
    bool mine = tes_ct_eq(TES_BYTES(hash, 64), TES_BYTES(t.browser, strlen(t.browser)));
    const char *st = rp_tx_wire_status(&t, rp_now(s));
    const char *code = rp_query(c, "response_code");
    bool code_ok = t.response_code[0] == '\0' ||
                   (code && tes_ct_eq(TES_BYTES(code, strlen(code)),
                                      TES_BYTES(t.response_code, strlen(t.response_code))));
    json_t *v;
    if (!mine)
        v = state_reply("invalid", "This login belongs to another browser.");
    else if (strcmp(st, "expired") == 0)
        v = state_reply("expired", "The login expired. Start again.");
    else if (strcmp(st, "declined") == 0)
        v = state_reply("declined", "You declined in your wallet.");
    else if (strcmp(st, "failed") == 0)
        v = state_reply("invalid", result_text(&t, "error_description",
                                               "The wallet's answer was not valid."));
    else if (strcmp(st, "verified") == 0 && code_ok) {
        rp_tx_free(&t);
        if (client_gone(c))
            return MHD_NO; /* left for the page's next poll */
        return logged_in(s, c, id);
    } else if (strcmp(st, "verified") == 0)
        v = state_reply("pending", "Continue in the window your wallet opened.");
    else
        v = state_reply("pending", "Waiting for your wallet.");
    rp_tx_free(&t);
    return httpd_send_json(c, 200, v, (httpd_reply_opts){.no_store = true});
}

/* ---- session ---- */

static bool session_hash(struct MHD_Connection *c, char hash[65])
{
    const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, SESSION_COOKIE);
    if (v == NULL || *v == '\0' || strlen(v) > RP_TOKEN_MAX)
        return false;
    sha256_hex(v, hash);
    return true;
}

static enum MHD_Result me(tes_rp *s, struct MHD_Connection *c)
{
    char hash[65], *acc = NULL;
    tes_err e = session_hash(c, hash) ? rp_session_get(s->db, hash, rp_now(s), &acc)
                                      : TES_ERR_NOT_FOUND;
    if (e == TES_ERR_NOT_FOUND)
        return httpd_send_error(c, 401, "not_logged_in", "no session", (httpd_reply_opts){0});
    if (e != TES_OK)
        return rp_send_error(c, 500, "server_error", tes_err_message_for(e));
    json_error_t je;
    json_t *v = json_loads(acc, 0, &je);
    free(acc);
    json_object_set_new(v, "logged_in", json_true());
    return httpd_send_json(c, 200, v, (httpd_reply_opts){.no_store = true});
}

static enum MHD_Result logout(tes_rp *s, struct MHD_Connection *c)
{
    char hash[65], hdr[512];
    if (session_hash(c, hash) && rp_session_delete(s->db, hash) != TES_OK)
        return rp_send_error(c, 500, "server_error", tes_err_message_for(TES_ERR_STORE));
    cookie_header(s, hdr, sizeof hdr, SESSION_COOKIE, "", 0);
    return httpd_send_json(c, 200, json_object(),
                           (httpd_reply_opts){.no_store = true, .set_cookie = {hdr, NULL}});
}

enum MHD_Result rp_site_http(tes_rp *s, struct MHD_Connection *c, const char *url,
                             const char *method, const tes_buf *body)
{
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (post && !same_origin(s, c))
        return rp_send_error(c, 403, "invalid_request", "cross-origin request refused");
    if (strcmp(url, "/site/login") == 0 && post)
        return login(s, c, body);
    if (strcmp(url, "/site/status") == 0 && (get || post))
        return status(s, c);
    if (strcmp(url, "/site/me") == 0 && get)
        return me(s, c);
    if (strcmp(url, "/site/logout") == 0 && post)
        return logout(s, c);
    if (!get)
        return rp_send_error(c, 405, "invalid_request", "method not allowed here");
    if (strcmp(url, "/") == 0 || strcmp(url, "/site/callback") == 0)
        return send_file(c, "/index.html");
    return send_file(c, url);
}
