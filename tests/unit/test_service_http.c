/*
 * The services' HTTP layer (src/httpd), through the issuer service, over raw
 * sockets on loopback:
 *
 *  - connection starvation: an attacker at 127.0.0.2 opens as many trickling
 *    connections as the service takes in all; only max_connections_per_ip of
 *    them are kept, the rest closed at once, and a client at 127.0.0.1 is
 *    served meanwhile. The same attack against a service whose per-address
 *    limit equals its total (as before the limit existed) starves that client.
 *  - the total request deadline: a client that trickles one header line every
 *    300 ms (never idle) is cut after the deadline; so is one that trickles
 *    its body; a kept-alive connection whose requests each arrive in time is
 *    served past the deadline.
 *  - strict framing: two Content-Length headers, Content-Length with
 *    Transfer-Encoding chunked, another Transfer-Encoding, a URL with %00 or
 *    another percent-encoded control character: 400 with a JSON error.
 *  - every error answer the issuer service gives (each endpoint, unknown path,
 *    wrong method, bad content type, oversize bodies, framing, a 500): a JSON
 *    object with an "error" member, error and error_description only of
 *    RFC 6749 §5.2 characters, no internal layer's text ("registry: ...") in
 *    the description, which the log has instead.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "issuer_fixture.h"

#define ATTACKER "127.0.0.2"
#define CLIENT "127.0.0.1"

/* ------------------------------------------------------------------ fixture */

static struct {
    bool ready, failed;
    char dir[64], auth[128], db[160];
} E;

/* The service's log, kept for the checks. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static tes_buf log_text;

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    pthread_mutex_lock(&log_mu);
    tes_buf_append(&log_text, line, strlen(line));
    tes_buf_append(&log_text, "\n", 2); /* the NUL kept after the text */
    log_text.len--;
    pthread_mutex_unlock(&log_mu);
}

static bool log_has(const char *needle)
{
    pthread_mutex_lock(&log_mu);
    bool yes = log_text.len > 0 && strstr((const char *)log_text.ptr, needle) != NULL;
    pthread_mutex_unlock(&log_mu);
    return yes;
}

/* log_has, allowing ms for a line written just after the event the client saw. */
static bool log_wait(const char *needle, int ms)
{
    for (int i = 0; i <= ms / 20; i++) {
        if (log_has(needle))
            return true;
        usleep(20000);
    }
    return false;
}

static bool env_up(void)
{
    if (E.ready || E.failed)
        return E.ready;
    E.failed = true;
    if (!fx_temp_authority(E.dir, sizeof E.dir, "/tmp/tes_httpd_XXXXXX", E.auth, sizeof E.auth,
                           NULL))
        return false;
    snprintf(E.db, sizeof E.db, "%s/registry.db", E.dir);
    E.ready = true;
    E.failed = false;
    return true;
}

/* A service on 127.0.0.1 with cfg's limits (the rest filled in here). */
static bool start(tes_issuer_config *cfg, tes_issuer **iss, int *port, char *url, size_t cap)
{
    if (!env_up())
        return false;
    cfg->authority_dir = E.auth;
    cfg->db_url = E.db;
    cfg->listen = "127.0.0.1:0";
    cfg->clock = &FX_TEST_CLOCK;
    cfg->log = log_line;
    cfg->attestation = TES_ATTESTATION_NOT_REQUIRED; /* software keys */
    return fx_service_start(cfg, iss, port, url, cap);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ raw sockets */

/* A TCP connection from address `from` to 127.0.0.1:port (-1 on failure). */
static int raw_connect(const char *from, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
        connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads what arrives within ms into *got (when not NULL); true when the peer
 * closed (end of stream or reset) by then. */
static bool peer_closed(int fd, int ms, tes_buf *got)
{
    int64_t end = mono_ms() + ms;
    for (;;) {
        int64_t left = end - mono_ms();
        if (left < 0)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r == 0)
            return false;
        if (r < 0)
            continue;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return true;
        if (got)
            tes_buf_append(got, buf, (size_t)n);
    }
}

typedef struct raw_resp {
    int status;
    char body[4096];
    char headers[8192]; /* the header lines, each after "\r\n" */
    bool conn_close;
} raw_resp;

/* Parses one HTTP answer (with Content-Length) from the start of raw. */
static bool parse_resp(const tes_buf *raw, raw_resp *r)
{
    memset(r, 0, sizeof *r);
    char text[8192];
    size_t n = raw->len < sizeof text - 1 ? raw->len : sizeof text - 1;
    if (n > 0)
        memcpy(text, raw->ptr, n);
    text[n] = '\0';
    if (sscanf(text, "HTTP/1.%*d %d", &r->status) != 1)
        return false;
    char *hend = strstr(text, "\r\n\r\n");
    if (hend == NULL)
        return false;
    *hend = '\0';
    r->conn_close = strcasestr(text, "\r\nConnection: close") != NULL;
    snprintf(r->headers, sizeof r->headers, "%s", text);
    snprintf(r->body, sizeof r->body, "%s", hend + 4);
    return true;
}

/* Sends req on a fresh connection from `from` and reads the answer until the
 * service closes or wait_ms pass. */
static bool raw_request(int port, const char *from, const char *req, size_t len, int wait_ms,
                        raw_resp *r)
{
    int fd = raw_connect(from, port);
    if (fd < 0)
        return false;
    tes_buf got = {0};
    bool ok = send_all(fd, req, len);
    (void)peer_closed(fd, wait_ms, &got);
    close(fd);
    ok = ok && parse_resp(&got, r);
    tes_buf_free(&got);
    return ok;
}

/* Whether the answer has the header line starting with line ("Allow: GET"). */
static bool has_header(const raw_resp *r, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\r\n%s", line);
    return strcasestr(r->headers, want) != NULL;
}

#define RAW(port, text, r) raw_request((port), CLIENT, (text), sizeof(text) - 1, 10000, (r))

/* ------------------------------------------------------------------ error body checks */

/* RFC 6749 §5.2: error and error_description are %x20-21 / %x23-5B / %x5D-7E. */
static bool oauth_chars(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x22 || c == 0x5c || c > 0x7e)
            return false;
    }
    return true;
}

static const char *const INTERNAL[] = {"registry:", "store:",   "sqlite", "SQLITE", "postgres",
                                       "tes_",      "database", "errno",  ".db"};

static int n_error_bodies;

/* body is a conforming error answer with "error" == want (NULL: any). */
static bool error_body_ok(long status, const char *body, const char *want, const char *what)
{
    n_error_bodies++;
    json_t *v = json_loads(body, 0, NULL);
    json_t *e = json_object_get(v, "error"), *d = json_object_get(v, "error_description");
    bool ok = status >= 400 && json_is_object(v) && json_is_string(e) &&
              json_string_length(e) > 0 && oauth_chars(json_string_value(e)) &&
              (want == NULL || strcmp(json_string_value(e), want) == 0) &&
              (d == NULL || (json_is_string(d) && oauth_chars(json_string_value(d))));
    for (size_t i = 0; ok && d && i < sizeof INTERNAL / sizeof INTERNAL[0]; i++)
        ok = strstr(json_string_value(d), INTERNAL[i]) == NULL;
    if (!ok)
        fprintf(stderr, "    %s: %ld %s (wanted error %s)\n", what, status, body,
                want ? want : "any");
    json_decref(v);
    return ok;
}

/* The error_description of body holds needle. */
static bool desc_has(const char *body, const char *needle)
{
    json_t *v = json_loads(body, 0, NULL);
    json_t *d = json_object_get(v, "error_description");
    bool yes = json_is_string(d) && strstr(json_string_value(d), needle) != NULL;
    json_decref(v);
    return yes;
}

/* One request by libcurl at url, checked as an error answer. */
static bool http_error(const char *url, const char *method, const char *path, const char *ctype,
                       const char *bearer, const char *body, long status, const char *want)
{
    fx_resp r;
    bool ok = fx_http(url, method, path, ctype, bearer, body, body ? strlen(body) : 0, &r);
    ok = ok && r.status == status && strncmp(r.ctype, "application/json", 16) == 0 &&
         error_body_ok(r.status, (const char *)r.body.ptr, want, path);
    if (!ok)
        fprintf(stderr, "    %s %s: %ld %s\n", method, path, r.status, (const char *)r.body.ptr);
    tes_buf_free(&r.body);
    return ok;
}

#define CHECK_ERROR(url, method, path, ctype, bearer, body, status, want)                          \
    CHECK(http_error((url), (method), (path), (ctype), (bearer), (body), (status), (want)))

/* A raw request answered with a conforming error. */
static bool raw_error(int port, const char *req, size_t len, int status, const char *want)
{
    raw_resp r;
    bool ok = raw_request(port, CLIENT, req, len, 10000, &r) && r.status == status &&
              error_body_ok(r.status, r.body, want, req);
    if (!ok)
        fprintf(stderr, "    raw %.60s...: %d %s\n", req, r.status, r.body);
    return ok;
}

#define CHECK_RAW_ERROR(port, text, status, want)                                                  \
    CHECK(raw_error((port), (text), sizeof(text) - 1, (status), (want)))

/* ------------------------------------------------------------------ connection limits */

#define TOTAL 12
#define PER_IP 4

/* Opens n connections from ATTACKER, each sending the start of a request
 * (fds[i] -1 where the connection itself failed). */
static void attack(int port, int *fds, size_t n)
{
    static const char start_line[] = "POST /token HTTP/1.1\r\nHost: x\r\n";
    for (size_t i = 0; i < n; i++) {
        fds[i] = raw_connect(ATTACKER, port);
        if (fds[i] >= 0)
            (void)send_all(fds[i], start_line, sizeof start_line - 1);
    }
}

/* Waits until the service has closed at least `want` of the attacker's
 * connections, or ms pass; closed ones are set to -1. Returns how many are
 * closed (those -1 before included). */
static size_t wait_closed(int *fds, size_t n, size_t want, int ms)
{
    int64_t end = mono_ms() + ms;
    for (;;) {
        size_t closed = 0;
        struct pollfd p[64];
        size_t np = 0;
        for (size_t i = 0; i < n; i++) {
            if (fds[i] < 0)
                closed++;
            else if (np < 64)
                p[np++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        }
        int64_t left = end - mono_ms();
        if (closed >= want || left <= 0)
            return closed;
        if (poll(p, np, (int)left) <= 0)
            continue;
        for (size_t k = 0; k < np; k++)
            if (p[k].revents != 0 && peer_closed(p[k].fd, 0, NULL))
                for (size_t i = 0; i < n; i++)
                    if (fds[i] == p[k].fd) {
                        close(fds[i]);
                        fds[i] = -1;
                    }
    }
}

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* GET of the issuer metadata from CLIENT answers 200. */
static bool client_served(int port, int wait_ms)
{
    static const char get[] = "GET /.well-known/openid-credential-issuer HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n";
    raw_resp r;
    return raw_request(port, CLIENT, get, sizeof get - 1, wait_ms, &r) && r.status == 200 &&
           strstr(r.body, "credential_issuer") != NULL;
}

TEST(per_address_limit_keeps_others_served)
{
    tes_issuer_config cfg = {.max_connections = TOTAL,
                             .max_connections_per_ip = PER_IP,
                             .request_deadline = 60,
                             .idle_timeout = 60};
    tes_issuer *iss = NULL;
    int port = 0;
    char url[64];
    REQUIRE(start(&cfg, &iss, &port, url, sizeof url));

    /* The attacker takes every connection the service would hold in all. */
    int fds[TOTAL];
    attack(port, fds, TOTAL);
    size_t opened = 0;
    for (size_t i = 0; i < TOTAL; i++)
        opened += fds[i] >= 0;
    CHECK_EQ_INT((int)opened, TOTAL); /* the kernel accepted them all */
    /* Only PER_IP are kept (the deadline is a minute away: nothing else closes them). */
    CHECK_EQ_INT((int)wait_closed(fds, TOTAL, TOTAL - PER_IP, 5000), TOTAL - PER_IP);
    CHECK_EQ_INT((int)wait_closed(fds, TOTAL, TOTAL, 500), TOTAL - PER_IP);
    /* A client elsewhere is served while the attacker holds its connections, also
     * when it keeps trying for more. */
    CHECK(client_served(port, 10000));
    int more[4];
    attack(port, more, 4);
    CHECK(client_served(port, 10000));
    CHECK_EQ_INT((int)wait_closed(more, 4, 4, 5000), 4);
    CHECK_EQ_INT((int)wait_closed(fds, TOTAL, TOTAL, 200), TOTAL - PER_IP); /* still held */
    close_all(fds, TOTAL);
    tes_issuer_stop(iss);

    /* The same attack on a service without a per-address limit (it equals the total, as
     * before the limit existed) keeps every connection and starves the client. */
    cfg.max_connections_per_ip = TOTAL;
    REQUIRE(start(&cfg, &iss, &port, url, sizeof url));
    attack(port, fds, TOTAL);
    CHECK_EQ_INT((int)wait_closed(fds, TOTAL, 1, 1000), 0);
    CHECK(!client_served(port, 2000));
    CHECK(log_wait("libmicrohttpd: Server reached connection limit", 3000)); /* operator sees it */
    close_all(fds, TOTAL);
    tes_issuer_stop(iss);
}

/* ------------------------------------------------------------------ the request deadline */

#define DEADLINE 2

TEST(request_deadline_cuts_tricklers)
{
    tes_issuer_config cfg = {.max_connections = TOTAL,
                             .max_connections_per_ip = PER_IP,
                             .request_deadline = DEADLINE,
                             .idle_timeout = 60};
    tes_issuer *iss = NULL;
    int port = 0;
    char url[64];
    REQUIRE(start(&cfg, &iss, &port, url, sizeof url));

    /* Headers: one line every 300 ms, never idle, never done. */
    int64_t t0 = mono_ms();
    int fd = raw_connect(ATTACKER, port);
    REQUIRE(fd >= 0);
    bool cut = false;
    CHECK(send_all(fd, "POST /token HTTP/1.1\r\n", 22));
    for (int i = 0; i < 50 && !cut; i++) { /* at most 15 s */
        cut = peer_closed(fd, 300, NULL);
        if (!cut) {
            char line[64];
            int n = snprintf(line, sizeof line, "X-Slow-%d: %d\r\n", i, i);
            cut = !send_all(fd, line, (size_t)n);
        }
    }
    int64_t lived = mono_ms() - t0;
    close(fd);
    CHECK(cut);
    CHECK(lived >= DEADLINE * 1000); /* cut by the deadline, not before */
    CHECK(log_wait("request not received within 2 s", 3000));

    /* Body: the headers at once, then one byte every 200 ms of a 1000-byte body. */
    static const char head[] = "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n";
    fd = raw_connect(ATTACKER, port);
    REQUIRE(fd >= 0);
    CHECK(send_all(fd, head, sizeof head - 1));
    cut = false;
    for (int i = 0; i < 75 && !cut; i++) /* at most 15 s */
        cut = peer_closed(fd, 200, NULL) || !send_all(fd, "a", 1);
    close(fd);
    CHECK(cut);

    /* A kept-alive connection whose requests each arrive at once is served for longer
     * than the deadline: the deadline is per request. */
    static const char get[] =
        "GET /.well-known/openid-credential-issuer HTTP/1.1\r\nHost: x\r\n\r\n";
    fd = raw_connect(CLIENT, port);
    REQUIRE(fd >= 0);
    int served = 0;
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            CHECK(!peer_closed(fd, 1500, NULL)); /* 1.5 s of quiet between requests */
        tes_buf got = {0};
        raw_resp r;
        CHECK(send_all(fd, get, sizeof get - 1));
        int64_t end = mono_ms() + 5000;
        while (mono_ms() < end && (got.len == 0 || memchr(got.ptr, '}', got.len) == NULL))
            if (peer_closed(fd, 100, &got))
                break;
        tes_buf_append(&got, "", 1);
        served += parse_resp(&got, &r) && r.status == 200;
        tes_buf_free(&got);
    }
    close(fd);
    CHECK_EQ_INT(served, 3);
    tes_issuer_stop(iss);
}

/* ------------------------------------------------------------------ strict framing */

TEST(framing_and_url_refused)
{
    tes_issuer_config cfg = {0};
    tes_issuer *iss = NULL;
    int port = 0;
    char url[64];
    REQUIRE(start(&cfg, &iss, &port, url, sizeof url));

    /* Each is a request the service answered 200 before (first Content-Length
     * winning, chunked over Content-Length, %00 ending the path). */
    CHECK_RAW_ERROR(port,
                    "POST /nonce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n"
                    "\r\nhello",
                    400, "invalid_request");
    CHECK_RAW_ERROR(port,
                    "POST /nonce HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
                    "chunked\r\n\r\n0\r\n\r\n",
                    400, "invalid_request");
    CHECK_RAW_ERROR(port,
                    "POST /nonce HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                    "0\r\n\r\n",
                    400, "invalid_request");
    CHECK_RAW_ERROR(port, "GET /status/1%00.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                    "invalid_request");
    CHECK_RAW_ERROR(port, "GET /status/1%0a HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request");
    CHECK_RAW_ERROR(port, "GET /status/1?x=%7F HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                    "invalid_request");
    raw_resp r;
    CHECK(RAW(port, "GET /status/1%00.txt HTTP/1.1\r\nHost: x\r\n\r\n", &r) && r.conn_close &&
          desc_has(r.body, "control character"));
    CHECK(log_has("refused a request from 127.0.0.1: the request has more than one "
                  "Content-Length"));
    /* Headers beyond libmicrohttpd's memory pool: refused by libmicrohttpd itself (its own
     * short answer), the request's state freed (the sanitizer build checks). */
    {
        tes_buf req = {0};
        static const char head[] = "GET /status/1 HTTP/1.1\r\nHost: x\r\nX-Big: ";
        tes_buf_append(&req, head, sizeof head - 1);
        for (int i = 0; i < 40000; i++)
            tes_buf_append(&req, "a", 1);
        tes_buf_append(&req, "\r\n\r\n", 4);
        CHECK(raw_request(port, CLIENT, (const char *)req.ptr, req.len, 10000, &r) &&
              r.status >= 400 && r.status < 500);
        tes_buf_free(&req);
    }

    /* Well-formed ones still work: one Content-Length, chunked alone, %2F-free paths. */
    CHECK(RAW(port,
              "POST /nonce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
              "close\r\n\r\n",
              &r) &&
          r.status == 200 && strstr(r.body, "c_nonce"));
    CHECK(RAW(port,
              "POST /nonce HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
              "Connection: close\r\n\r\n0\r\n\r\n",
              &r) &&
          r.status == 200 && strstr(r.body, "c_nonce"));
    CHECK(RAW(port, "GET /status/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r) &&
          r.status == 200);

    /* The headers each answer names (httpd_reply_opts): no-store on nonces and
     * every error, Allow on a 405, WWW-Authenticate on a 401, none on metadata. */
    CHECK(RAW(port,
              "POST /nonce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
              "close\r\n\r\n",
              &r) &&
          r.status == 200 && has_header(&r, "Cache-Control: no-store") &&
          !has_header(&r, "Allow:") && !has_header(&r, "WWW-Authenticate:"));
    CHECK(RAW(port, "GET /nonce HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r) &&
          r.status == 405 && has_header(&r, "Allow: POST") &&
          has_header(&r, "Cache-Control: no-store") && !has_header(&r, "WWW-Authenticate:"));
    CHECK(RAW(port,
              "POST /status/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
              "close\r\n\r\n",
              &r) &&
          r.status == 405 && has_header(&r, "Allow: GET"));
    CHECK(RAW(port,
              "POST /credential HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
              "close\r\n\r\n",
              &r) &&
          r.status == 401 && has_header(&r, "WWW-Authenticate: Bearer") &&
          has_header(&r, "Cache-Control: no-store") && !has_header(&r, "Allow:"));
    CHECK(RAW(port,
              "GET /.well-known/openid-credential-issuer HTTP/1.1\r\nHost: x\r\nConnection: "
              "close\r\n\r\n",
              &r) &&
          r.status == 200 && !has_header(&r, "Cache-Control:") && !has_header(&r, "Allow:") &&
          !has_header(&r, "WWW-Authenticate:"));
    CHECK(RAW(port, "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r) &&
          r.status == 404 && has_header(&r, "Cache-Control: no-store") &&
          !has_header(&r, "Allow:"));
    tes_issuer_stop(iss);
}

/* ------------------------------------------------------------------ every error answer */

/* A proof JWT of key for aud and nonce. */
static char *proof_jwt(const tes_key *key, const char *aud, const char *nonce)
{
    json_t *hdr = json_pack("{s:s, s:s, s:o}", "typ", "openid4vci-proof+jwt", "alg", "ES256", "jwk",
                            fx_jwk_of(key));
    json_t *claims =
        json_pack("{s:s, s:I, s:s}", "aud", aud, "iat", (json_int_t)time(NULL), "nonce", nonce);
    char *jwt = fx_jws(hdr, claims, key, NULL, NULL);
    json_decref(hdr);
    json_decref(claims);
    return jwt;
}

static bool post_proof(const char *url, const char *token, const char *config, const char *jwt,
                       long status, const char *want)
{
    char *proofs[2] = {(char *)jwt, NULL};
    fx_resp r;
    bool ok = fx_post_proofs(url, token, config, "jwt", proofs, &r) && r.status == status &&
              error_body_ok(r.status, (const char *)r.body.ptr, want, "credential");
    if (!ok)
        fprintf(stderr, "    credential: %ld %s\n", r.status, (const char *)r.body.ptr);
    tes_buf_free(&r.body);
    return ok;
}

#define RL 8 /* the service's rate limit in the test below */

TEST(every_error_answer_conforms)
{
    tes_issuer_config cfg = {.rate_limit = RL, .max_body = 4096};
    tes_issuer *iss = NULL;
    int port = 0;
    char url[64];
    REQUIRE(start(&cfg, &iss, &port, url, sizeof url));
    const char *form = "application/x-www-form-urlencoded";
    n_error_bodies = 0;

    /* ---- paths and methods */
    CHECK_ERROR(url, "GET", "/nope", NULL, NULL, NULL, 404, "not_found");
    CHECK_ERROR(url, "GET", "/status/2", NULL, NULL, NULL, 404, "not_found");
    CHECK_ERROR(url, "GET", "/token", NULL, NULL, NULL, 405, "invalid_request");
    CHECK_ERROR(url, "PUT", "/token", NULL, NULL, NULL, 405, "invalid_request");
    CHECK_ERROR(url, "GET", "/nonce", NULL, NULL, NULL, 405, "invalid_request");
    CHECK_ERROR(url, "GET", "/credential", NULL, NULL, NULL, 405, "invalid_request");
    CHECK_ERROR(url, "GET", "/lost", NULL, NULL, NULL, 405, "invalid_request");
    CHECK_ERROR(url, "POST", "/status/1", NULL, NULL, "", 405, "invalid_request");
    CHECK_ERROR(url, "POST", "/.well-known/openid-credential-issuer", NULL, NULL, "", 405,
                "invalid_request");
    CHECK_ERROR(url, "DELETE", "/.well-known/oauth-authorization-server", NULL, NULL, NULL, 405,
                "invalid_request");

    /* ---- bodies and framing */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_ERROR(url, "POST", "/token", form, NULL, big, 413, "invalid_request");
    {
        tes_buf req = {0};
        static const char head[] = "POST /lost HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                   "application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        tes_buf_append(&req, head, sizeof head - 1);
        for (int i = 0; i < 5; i++) {
            tes_buf_append(&req, "3e8\r\n", 5);
            tes_buf_append(&req, big, 1000);
            tes_buf_append(&req, "\r\n", 2);
        }
        tes_buf_append(&req, "0\r\n\r\n", 5);
        CHECK(raw_error(port, (const char *)req.ptr, req.len, 413, "invalid_request"));
        tes_buf_free(&req);
    }
    CHECK_RAW_ERROR(port,
                    "POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n"
                    "\r\nx",
                    400, "invalid_request");
    CHECK_RAW_ERROR(port, "GET /status/1%00.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                    "invalid_request");

    /* ---- /credential (tokens first: failed token requests below lock this address) */
    char token[128], token2[128];
    REQUIRE(fx_fresh_token(&cfg, "counter", token));
    int64_t person2 = 0;
    {
        tes_buf uri;
        char code[128], tx[16];
        REQUIRE(fx_enrol(&cfg, "counter", &uri, code, tx, &person2, NULL));
        REQUIRE(fx_get_token(url, code, tx, token2));
        tes_buf_free(&uri);
    }
    CHECK_ERROR(url, "POST", "/credential", "application/json", NULL, "{}", 401, "invalid_token");
    CHECK_ERROR(url, "POST", "/credential", "application/json", "bad\"token", "{}", 401,
                "invalid_token");
    CHECK_ERROR(url, "POST", "/credential", "application/json", "unknownToken", "{}", 401,
                "invalid_token");
    CHECK(log_has("registry: unknown access token")); /* the internals: in the log only */
    CHECK_ERROR(url, "POST", "/credential", "application/json", token, "{not json", 400,
                "invalid_credential_request");
    CHECK_ERROR(url, "POST", "/credential", "application/json", token,
                "{\"credential_configuration_id\": \"x\\\"y\\\\z\\u00e9\", \"proofs\": "
                "{\"jwt\": [\"a.b.c\"]}}",
                400, NULL);
    tes_key *key = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &key) == TES_OK);
    char nonce[128];
    REQUIRE(fx_get_nonce(url, nonce));
    char *jwt = proof_jwt(key, "https://elsewhere.example", nonce);
    CHECK(post_proof(url, token, TES_DOCTYPE_PID, jwt, 400, "invalid_proof")); /* "aud" */
    free(jwt);
    CHECK(post_proof(url, token, TES_DOCTYPE_PID, "not-a-jwt", 400, "invalid_proof"));
    jwt = proof_jwt(key, url, "no-such-nonce");
    CHECK(post_proof(url, token, TES_DOCTYPE_PID, jwt, 400, "invalid_nonce"));
    free(jwt);
    REQUIRE(fx_get_nonce(url, nonce));
    jwt = proof_jwt(key, url, nonce);
    CHECK(post_proof(url, token, TES_DOCTYPE_MDL, jwt, 400, "unknown_credential_configuration"));
    free(jwt);
    /* A 500: the person's stored claims broken behind the service's back. */
    {
        sqlite3 *db = NULL;
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE persons SET claims = '{\"broken' WHERE id = %lld",
                 (long long)person2);
        CHECK(sqlite3_open(E.db, &db) == SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
        REQUIRE(fx_get_nonce(url, nonce));
        jwt = proof_jwt(key, url, nonce);
        CHECK(post_proof(url, token2, TES_DOCTYPE_PID, jwt, 500, "server_error"));
        free(jwt);
        CHECK(log_has("server_error (store)"));
    }
    /* Per access token: rate_limit requests a minute (6 made above). */
    for (int i = 6; i < RL; i++)
        CHECK_ERROR(url, "POST", "/credential", "application/json", token, "{}", 400, NULL);
    CHECK_ERROR(url, "POST", "/credential", "application/json", token, "{}", 429, "rate_limited");
    tes_key_free(key);

    /* ---- /lost */
    CHECK_ERROR(url, "POST", "/lost", "application/json", NULL, "[1", 400, "invalid_request");
    CHECK_ERROR(url, "POST", "/lost", "application/json", NULL, "{\"recovery_code\": 5}", 400,
                "invalid_request");
    CHECK_ERROR(url, "POST", "/lost", "application/json", NULL,
                "{\"recovery_code\": \"AAAA-BBBB-CCCC-DDDD\", \"device_id\": \"zz\"}", 400,
                "invalid_request");
    for (int i = 0; i < RL; i++)
        CHECK_ERROR(url, "POST", "/lost", "application/json", NULL,
                    "{\"recovery_code\": \"AAAA-BBBB-CCCC-DDDD\"}", 400, "invalid_grant");
    CHECK_ERROR(url, "POST", "/lost", "application/json", NULL,
                "{\"recovery_code\": \"AAAA-BBBB-CCCC-DDDD\"}", 429, "rate_limited");

    /* ---- /token */
    char code[128], tx[16];
    {
        tes_buf uri;
        REQUIRE(fx_enrol(&cfg, "counter", &uri, code, tx, NULL, NULL));
        tes_buf_free(&uri);
    }
    CHECK_ERROR(url, "POST", "/token", "application/json", NULL, "{}", 400, "invalid_request");
    CHECK_ERROR(url, "POST", "/token", form, NULL, "grant_type=%zz", 400, "invalid_request");
    CHECK_ERROR(url, "POST", "/token", form, NULL, "", 400, "invalid_request");
    CHECK_ERROR(url, "POST", "/token", form, NULL, "grant_type=authorization_code", 400,
                "unsupported_grant_type");
    CHECK_ERROR(url, "POST", "/token", form, NULL,
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code", 400,
                "invalid_request");
    {
        tes_buf f = {0};
        fx_token_form(&f, "no-such-code", "123456");
        tes_buf_append(&f, "", 1);
        CHECK_ERROR(url, "POST", "/token", form, NULL, (const char *)f.ptr, 400, "invalid_grant");
        CHECK(log_has("registry: unknown pre-authorized code"));
        tes_buf_reset(&f);
        fx_token_form(&f, code, "000000");
        tes_buf_append(&f, "", 1);
        CHECK_ERROR(url, "POST", "/token", form, NULL, (const char *)f.ptr, 400, "invalid_grant");
        tes_buf_reset(&f);
        fx_token_form(&f, code, "");
        tes_buf_append(&f, "", 1);
        CHECK_ERROR(url, "POST", "/token", form, NULL, (const char *)f.ptr, 400, NULL);
        /* RL failures from this address (two so far: a missing transaction code is a
         * malformed request, not a failed guess): locked for the minute */
        tes_buf_reset(&f);
        fx_token_form(&f, "no-such-code", "123456");
        tes_buf_append(&f, "", 1);
        for (int i = 2; i < RL; i++)
            CHECK_ERROR(url, "POST", "/token", form, NULL, (const char *)f.ptr, 400,
                        "invalid_grant");
        tes_buf_reset(&f);
        fx_token_form(&f, code, tx);
        tes_buf_append(&f, "", 1);
        CHECK_ERROR(url, "POST", "/token", form, NULL, (const char *)f.ptr, 429, "rate_limited");
        tes_buf_free(&f);
    }
    CHECK(n_error_bodies >= 45);
    tes_issuer_stop(iss);
}

TEST(oauth_text)
{
    /* The writer's mapping itself, through a description the client chose. */
    tes_issuer_config cfg = {0};
    tes_issuer *iss = NULL;
    int port = 0;
    char url[64];
    REQUIRE(start(&cfg, &iss, &port, url, sizeof url));
    fx_resp r;
    CHECK(fx_http(url, "POST", "/nonce?x=1", NULL, NULL, "", 0, &r) && r.status == 200);
    tes_buf_free(&r.body);
    CHECK(fx_http(url, "\"Q\\", "/nonce", NULL, NULL, NULL, 0, &r) && r.status == 405);
    CHECK(error_body_ok(r.status, (const char *)r.body.ptr, "invalid_request", "method"));
    CHECK(desc_has((const char *)r.body.ptr, "'Q/ is not allowed"));
    tes_buf_free(&r.body);
    tes_issuer_stop(iss);
}

TEST(teardown)
{
    if (E.ready)
        CHECK(fx_temp_remove(E.dir));
    tes_buf_free(&log_text);
}
