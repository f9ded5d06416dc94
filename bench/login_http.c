/* bench/login_http.c — row 8b: OpenID4VP logins over HTTP on loopback (see login.h). */
#include "login.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tessera/jose.h"
#include "tessera/oid4vp.h"
#include "tessera/rp.h"
#include "tessera/trust.h"

#define CRED_ID "mdl"
#define HTTP_REPLY_MAX (256 * 1024)

static const char DCQL[] =
    "{\"dcql_query\":{\"credentials\":[{\"id\":\"" CRED_ID "\",\"format\":\"mso_mdoc\","
    "\"meta\":{\"doctype_value\":\"org.iso.18013.5.1.mDL\"},"
    "\"claims\":[{\"path\":[\"org.iso.18013.5.1\",\"age_over_18\"]}]}]},"
    "\"flow\":\"cross_device\"}";

static const tes_mdoc_req_elem AGE[] = {
    {.ns = TES_BYTES_STR("org.iso.18013.5.1"), .name = TES_BYTES_STR("age_over_18")}};

struct login_http {
    const bench_world *w;
    char dir[4096];
    tes_rp *rp;
    int port;
    char api_key[128];
    tes_trust_store *rp_roots; /* the wallet's: the reader authority of the site */
    atomic_size_t next;        /* holder round-robin */
    atomic_size_t logins, failed;
    atomic_bool stop;
};


/* ------------------------------------------------------------------ a minimal HTTP/1.1 client */

/* One request on its own connection (Connection: close), the reply's status and body. */
static int http_call(int port, const char *method, const char *path, const char *auth,
                     const char *ctype, const char *body, size_t body_len, tes_buf *reply)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n"
                     "%s%s%s%s%s%sContent-Length: %zu\r\n\r\n",
                     method, path, port, auth ? "Authorization: Bearer " : "", auth ? auth : "",
                     auth ? "\r\n" : "", ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", body_len);
    bool ok = n > 0 && (size_t)n < sizeof head && write(fd, head, (size_t)n) == n &&
              (body_len == 0 || write(fd, body, body_len) == (ssize_t)body_len);
    tes_buf in = {0};
    while (ok && in.len < HTTP_REPLY_MAX) {
        uint8_t *p = tes_buf_extend(&in, 16384);
        ssize_t r = p ? read(fd, p, 16384) : -1;
        if (r < 0 && errno == EINTR)
            r = 0;
        in.len -= 16384 - (size_t)(r > 0 ? r : 0);
        if (r <= 0)
            break;
    }
    close(fd);
    int status = -1;
    const char *s = (const char *)in.ptr;
    const char *sep = in.len ? memmem(s, in.len, "\r\n\r\n", 4) : NULL;
    if (ok && sep && in.len > 12 && memcmp(s, "HTTP/1.1 ", 9) == 0) {
        status = atoi(s + 9);
        tes_buf_reset(reply);
        tes_buf_append(reply, sep + 4, in.len - (size_t)(sep + 4 - s));
        tes_buf_append(reply, "", 1); /* NUL, not counted */
        reply->len--;
    }
    tes_buf_free(&in);
    return status;
}

/* The path of an http://localhost:PORT/... URL. */
static const char *url_path(const char *url)
{
    const char *p = strstr(url, "://");
    return p ? strchr(p + 3, '/') : NULL;
}

/* ------------------------------------------------------------------ the wallet's work */

/* What a wallet sends for the verified request r, holder h: the form body. */
static bool wallet_body(const bench_holder *h, const tes_oid4vp_request *r, tes_buf *body)
{
    tes_buf tp = {0}, transcript = {0}, resp = {0}, b64 = {0}, jwe = {0};
    tes_signer dev = tes_signer_from_key(h->device);
    bool ok = tes_b64url_decode(&tp, r->enc_thumbprint, strlen(r->enc_thumbprint)) == TES_OK &&
              tp.len == 32 &&
              tes_oid4vp_session_transcript(r->client_id, r->nonce, tp.ptr, r->response_uri,
                                            &transcript) == TES_OK;
    tes_mdoc_present_params pp = {.mdoc = tes_buf_bytes(&h->mdoc), .elems = AGE, .n_elems = 1,
                                  .transcript = tes_buf_bytes(&transcript), .device = &dev};
    ok = ok && tes_mdoc_present(&pp, &resp, NULL) == TES_OK;
    json_t *payload = NULL;
    if (ok) {
        tes_b64url_encode(&b64, tes_buf_bytes(&resp));
        payload = json_pack("{s:{s:[s%]},s:s?}", "vp_token", CRED_ID, (const char *)b64.ptr,
                            b64.len, "state", r->state);
    }
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_t *extra = r->enc_kid ? json_pack("{s:s}", "kid", r->enc_kid) : NULL;
    ok = text && tes_jwe_encrypt(extra, TES_BYTES(text, strlen(text)), r->enc_key, NULL, &jwe) ==
                     TES_OK;
    if (ok) {
        tes_buf_append(body, "response=", 9);
        tes_buf_append(body, jwe.ptr, jwe.len); /* base64url and dots: nothing to escape */
    }
    json_decref(extra);
    json_decref(payload);
    free(text);
    tes_buf_free(&tp);
    tes_buf_free(&transcript);
    tes_buf_free(&resp);
    tes_buf_free(&b64);
    tes_buf_free(&jwe);
    return ok && !body->failed;
}

/* One whole login: the site's backend opens a transaction, the wallet fetches and verifies
 * the request object, answers, and the backend reads the verified result. */
static bool one_login(login_http *b, const bench_holder *h)
{
    tes_buf reply = {0}, body = {0};
    char tx[64] = "", req_path[256] = "", path[320];
    json_t *j = NULL;
    tes_oid4vp_request *r = NULL;
    bool ok = http_call(b->port, "POST", "/api/v1/transactions", b->api_key, "application/json",
                        DCQL, sizeof DCQL - 1, &reply) == 201 &&
              (j = json_loadb((const char *)reply.ptr, reply.len, 0, NULL)) != NULL;
    const char *id = ok ? json_string_value(json_object_get(j, "transaction_id")) : NULL;
    const char *ru = ok ? json_string_value(json_object_get(j, "request_uri")) : NULL;
    ok = id && ru && url_path(ru) && strlen(id) < sizeof tx && strlen(url_path(ru)) < sizeof req_path;
    if (ok) {
        snprintf(tx, sizeof tx, "%s", id);
        snprintf(req_path, sizeof req_path, "%s", url_path(ru));
    }
    json_decref(j);
    tes_oid4vp_request_opts o = {.rp_roots = b->rp_roots, .now = (int64_t)time(NULL),
                                 .client_id = tes_rp_client_id(b->rp),
                                 .allow_loopback_http = true};
    ok = ok && http_call(b->port, "GET", req_path, NULL, NULL, NULL, 0, &reply) == 200 &&
         tes_oid4vp_request_verify((const char *)reply.ptr, reply.len, &o, &r) == TES_OK &&
         wallet_body(h, r, &body) && url_path(r->response_uri) &&
         http_call(b->port, "POST", url_path(r->response_uri), NULL,
                   "application/x-www-form-urlencoded", (const char *)body.ptr, body.len,
                   &reply) == 200;
    snprintf(path, sizeof path, "/api/v1/transactions/%s", tx);
    ok = ok && http_call(b->port, "GET", path, b->api_key, NULL, NULL, 0, &reply) == 200 &&
         strstr((const char *)reply.ptr, "\"verified\"") != NULL;
    tes_oid4vp_request_free(r);
    tes_buf_free(&reply);
    tes_buf_free(&body);
    return ok;
}

static void *client_main(void *arg)
{
    login_http *b = arg;
    while (!atomic_load(&b->stop)) {
        size_t i = atomic_fetch_add(&b->next, 1) % b->w->n;
        if (one_login(b, &b->w->h[i]))
            atomic_fetch_add(&b->logins, 1);
        else
            atomic_fetch_add(&b->failed, 1);
    }
    return NULL;
}

/* ------------------------------------------------------------------ set-up */

static bool site_files(login_http *b, char *trust_file, size_t cap)
{
    char ca[4200], site[4200], sdir[4200], cert[4300], key[4300], url[64];
    snprintf(ca, sizeof ca, "%s/rp-ca", b->dir);
    snprintf(site, sizeof site, "%s/site-cert", b->dir);
    snprintf(sdir, sizeof sdir, "%s/site", b->dir);
    snprintf(cert, sizeof cert, "%s/%s", site, TES_READER_CERT);
    snprintf(key, sizeof key, "%s/%s", site, TES_READER_KEY);
    snprintf(trust_file, cap, "%s/iaca.pem", b->dir);
    const char *scope[] = {"org.iso.18013.5.1/age_over_18"};
    tes_reader_ca_params cp = {.dir = ca, .name = "Bench RP CA"};
    tes_reader_cert_params rp = {.ca_dir = ca, .out_dir = site, .name = "Bench site",
                                 .purpose = "benchmark", .scope = scope, .n_scope = 1,
                                 .dns_name = "localhost"};
    tes_cert *root = NULL;
    tes_buf iaca = {0}; /* every issuer's root, one PEM file */
    for (size_t i = 0; i < b->w->n_auth; i++)
        if (tes_cert_to_pem(b->w->auth[i].iaca, &iaca) != TES_OK)
            iaca.failed = true;
    bool ok = !iaca.failed && tes_reader_ca_create(&cp, &root) == TES_OK &&
              tes_reader_cert_issue(&rp, NULL) == TES_OK &&
              tes_trust_store_new(&b->rp_roots) == TES_OK &&
              tes_trust_store_add(b->rp_roots, TES_PROFILE_READER, root) == TES_OK &&
              tes_file_write(trust_file, tes_buf_bytes(&iaca), 0644) == TES_OK;
    tes_cert_free(root);
    tes_buf_free(&iaca);
    snprintf(url, sizeof url, "http://localhost:%d", b->port);
    tes_rp_init_params ip = {.dir = sdir, .cert_file = cert, .key_file = key,
                             .public_url = url};
    if (!ok || tes_rp_init(&ip) != TES_OK) {
        fprintf(stderr, "bench login http: site set-up: %s\n", tes_err_message());
        return false;
    }
    snprintf(cert, sizeof cert, "%s/%s", sdir, TES_RP_API_KEY);
    tes_buf k = {.secret = true};
    ok = tes_file_read(cert, 256, &k) == TES_OK && k.len > 0 && k.len < sizeof b->api_key;
    if (ok) {
        memcpy(b->api_key, k.ptr, k.len);
        b->api_key[k.len] = 0;
        b->api_key[strcspn(b->api_key, "\r\n")] = 0;
    }
    tes_buf_free(&k);
    return ok;
}

/* A free loopback port (the site's public URL names it before the service binds it). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t l = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

login_http *login_http_start(const bench_world *w, const char *parent_dir)
{
    login_http *b = calloc(1, sizeof(*b));
    char trust[4300], sdir[4200], listen[32];
    if (!b)
        return NULL;
    b->w = w;
    snprintf(b->dir, sizeof b->dir, "%s/login-http.XXXXXX", parent_dir);
    b->port = free_port();
    if (!mkdtemp(b->dir) || b->port <= 0 || !site_files(b, trust, sizeof trust)) {
        login_http_stop(b);
        return NULL;
    }
    snprintf(sdir, sizeof sdir, "%s/site", b->dir);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", b->port);
    const char *trust_files[] = {trust};
    tes_rp_config c = {.dir = sdir, .listen = listen, .trust_files = trust_files,
                       .n_trust_files = 1};
    if (tes_rp_start(&c, &b->rp, NULL) != TES_OK) {
        fprintf(stderr, "bench login http: tes_rp_start: %s\n", tes_err_message());
        login_http_stop(b);
        return NULL;
    }
    if (!one_login(b, &w->h[0])) {
        fprintf(stderr, "bench login http: the first login failed\n");
        login_http_stop(b);
        return NULL;
    }
    return b;
}

bool login_http_run(login_http *b, int threads, double secs, login_http_run_figures *out)
{
    pthread_t t[16];
    if (threads < 1 || threads > 16)
        return false;
    atomic_store(&b->logins, 0);
    atomic_store(&b->failed, 0);
    atomic_store(&b->stop, false);
    double w0 = bench_wall(), c0 = bench_cpu_process();
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&t[started], NULL, client_main, b) != 0)
            break;
    struct timespec d = {.tv_sec = (time_t)secs, .tv_nsec = (long)((secs - (time_t)secs) * 1e9)};
    nanosleep(&d, NULL);
    atomic_store(&b->stop, true);
    for (int k = 0; k < started; k++)
        pthread_join(t[k], NULL);
    double el = bench_wall() - w0;
    out->threads = started;
    out->logins = atomic_load(&b->logins);
    out->failed = atomic_load(&b->failed);
    out->rate = (double)out->logins / el;
    out->cpu = (bench_cpu_process() - c0) / el;
    return started == threads && out->logins > 0;
}

void login_http_stop(login_http *b)
{
    if (!b)
        return;
    tes_rp_stop(b->rp);
    tes_trust_store_free(b->rp_roots);
    if (b->dir[0] && strstr(b->dir, "login-http."))
        nftw(b->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(b);
}
