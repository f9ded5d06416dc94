/*
 * The services' HTTP layer (httpd_internal.h): libmicrohttpd with connection
 * limits, a total deadline per request enforced by a watchdog thread, body
 * bounds, strict framing, and the one JSON error writer.
 *
 * Deadline bookkeeping: every open connection has an entry (libmicrohttpd's
 * socket context, NOTIFY_CONNECTION) with the time its current request began
 * to arrive and whether it is still arriving. It begins when the connection
 * opens and again when an answer completes (keep-alive); it stops arriving
 * when the handler has the whole body. The watchdog looks every 250 ms and
 * shuts down (shutdown(2), both directions) the socket of an entry that has
 * been arriving for longer than the deadline; libmicrohttpd then sees the
 * end of the stream and closes the connection. Entries are removed (under the
 * same mutex) in the CLOSED notification, which libmicrohttpd sends before it
 * closes the descriptor, so the watchdog never touches a reused descriptor.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd/httpd_internal.h"

#define DISCARD_SLACK (1u << 20) /* chunked body past max_body: read this much more, then drop */
#define WATCH_PERIOD_MS 250
#define MHD_LOG_PER_SECOND 5 /* libmicrohttpd's own messages logged at most this often */

typedef struct hconn {
    struct hconn *prev, *next;
    int fd;
    int64_t since_ms; /* when the current request began to arrive */
    bool arriving;    /* its headers or body are still arriving */
    bool cut;         /* shut down by the watchdog */
    char ip[64];
} hconn;

/* One request (libmicrohttpd's con_cls), made by the URI callback. */
typedef struct hreq {
    tes_buf body;
    size_t seen;
    bool bad_url; /* a control character, raw or percent-encoded, in the URL */
    bool started, too_large, answered;
} hreq;

struct httpd {
    struct MHD_Daemon *mhd;
    httpd_limits lim;
    httpd_handler_fn handler;
    void *handler_cls;
    httpd_log_fn log;
    void *log_ctx;
    char name[32];

    pthread_mutex_t log_mu; /* the libmicrohttpd message budget */
    int64_t log_second;
    unsigned log_count, log_dropped;

    pthread_mutex_t mu; /* conns, stop */
    pthread_cond_t cv;
    hconn *conns;
    bool stop;
    pthread_t watchdog;
    bool watchdog_started;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ log, text */

void httpd_log(httpd *h, const char *fmt, ...)
{
    if (h == NULL || h->log == NULL)
        return;
    char line[768];
    int n = snprintf(line, sizeof line, "%s: ", h->name);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One line, printable: the text may carry client-chosen bytes. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    h->log(h->log_ctx, line);
}

/* libmicrohttpd's own messages ("Server reached connection limit", ...), at
 * most MHD_LOG_PER_SECOND a second: a flood of refused connections must not
 * flood the log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    httpd *h = cls;
    int64_t sec = mono_ms() / 1000;
    unsigned dropped = 0;
    pthread_mutex_lock(&h->log_mu);
    if (sec != h->log_second) {
        dropped = h->log_dropped;
        h->log_second = sec;
        h->log_count = 0;
        h->log_dropped = 0;
    }
    bool say = h->log_count < MHD_LOG_PER_SECOND;
    if (say)
        h->log_count++;
    else
        h->log_dropped++;
    pthread_mutex_unlock(&h->log_mu);
    if (dropped > 0)
        httpd_log(h, "libmicrohttpd: %u more messages not shown", dropped);
    if (!say)
        return;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    httpd_log(h, "libmicrohttpd: %s", text);
}

void httpd_oauth_text(const char *in, char *out, size_t cap)
{
    if (cap == 0)
        return;
    size_t j = 0;
    for (size_t i = 0; in != NULL && in[i] != '\0' && j + 1 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];
        char o;
        if (ch == '"')
            o = '\'';
        else if (ch == '\\')
            o = '/';
        else if (ch == '\t' || ch == '\r' || ch == '\n')
            o = ' ';
        else if (ch < 0x20 || ch == 0x7f)
            o = '?';
        else if (ch >= 0x80) {
            o = '?';
            /* one '?' for a whole UTF-8 sequence: skip its continuation bytes */
            while (in[i + 1] != '\0' && ((unsigned char)in[i + 1] & 0xc0) == 0x80)
                i++;
        } else
            o = (char)ch;
        out[j++] = o;
    }
    out[j] = '\0';
}

void httpd_client_ip(struct MHD_Connection *c, char out[64])
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, 64);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, 64);
}

/* ------------------------------------------------------------------ responses */

/* What becomes of the connection after an answer: kept for the next request,
 * or closed (a refusal of the request's framing, whose rest cannot be trusted). */
enum conn_after { CONN_KEEP, CONN_CLOSE };

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 const void *data, size_t len, httpd_reply_opts o,
                                 enum conn_after after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (o.no_store)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (o.www_authenticate)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, o.www_authenticate);
    for (size_t i = 0; i < 2; i++)
        if (o.set_cookie[i])
            MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, o.set_cookie[i]);
    if (o.location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, o.location);
    if (o.security_headers) {
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    }
    if (o.allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, o.allow);
    if (after == CONN_CLOSE)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result httpd_send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                const void *data, size_t len, httpd_reply_opts opts)
{
    return send_text(c, status, type, data, len, opts, CONN_KEEP);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *v,
                                 httpd_reply_opts o, enum conn_after after)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (text == NULL) {
        static const char oom[] =
            "{\"error\":\"server_error\",\"error_description\":\"out of memory\"}";
        return send_text(c, 500, "application/json", oom, sizeof oom - 1,
                         (httpd_reply_opts){.no_store = true}, after);
    }
    enum MHD_Result ret = send_text(c, status, "application/json", text, strlen(text), o, after);
    free(text);
    return ret;
}

enum MHD_Result httpd_send_json(struct MHD_Connection *c, unsigned status, json_t *v,
                                httpd_reply_opts opts)
{
    return send_json(c, status, v, opts, CONN_KEEP);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *name,
                                  const char *desc, httpd_reply_opts o, enum conn_after after)
{
    char clean[512];
    httpd_oauth_text(desc, clean, sizeof clean);
    json_t *v = clean[0] ? json_pack("{s:s, s:s}", "error", name, "error_description", clean)
                         : json_pack("{s:s}", "error", name);
    o.no_store = true;
    return send_json(c, status, v, o, after);
}

enum MHD_Result httpd_send_error(struct MHD_Connection *c, unsigned status, const char *name,
                                 const char *desc, httpd_reply_opts opts)
{
    return send_error(c, status, name, desc, opts, CONN_KEEP);
}

/* ------------------------------------------------------------------ connections */

static hconn *conn_entry(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (hconn *)ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    httpd *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        hconn *e = calloc(1, sizeof *e);
        if (e == NULL)
            return; /* not watched; the idle timeout still applies */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        e->fd = ci ? (int)ci->connect_fd : -1;
        httpd_client_ip(c, e->ip);
        e->since_ms = mono_ms();
        e->arriving = true;
        pthread_mutex_lock(&h->mu);
        e->next = h->conns;
        if (h->conns)
            h->conns->prev = e;
        h->conns = e;
        pthread_mutex_unlock(&h->mu);
        *socket_context = e;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        hconn *e = *socket_context;
        if (e == NULL)
            return;
        pthread_mutex_lock(&h->mu);
        if (e->prev)
            e->prev->next = e->next;
        else
            h->conns = e->next;
        if (e->next)
            e->next->prev = e->prev;
        pthread_mutex_unlock(&h->mu);
        free(e);
        *socket_context = NULL;
    }
}

/* Where a connection's current request is, for the deadline watchdog. */
enum req_phase {
    REQ_ARRIVING, /* a new request begins: its deadline starts now */
    REQ_ARRIVED,  /* the whole request is here: the deadline no longer runs */
};

static void mark(httpd *h, struct MHD_Connection *c, enum req_phase phase)
{
    hconn *e = conn_entry(c);
    if (e == NULL)
        return;
    bool arriving = phase == REQ_ARRIVING;
    pthread_mutex_lock(&h->mu);
    e->arriving = arriving;
    if (arriving)
        e->since_ms = mono_ms();
    pthread_mutex_unlock(&h->mu);
}

static void *watchdog(void *arg)
{
    httpd *h = arg;
    const int64_t limit_ms = h->lim.request_deadline * 1000;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* h->cv waits on the monotonic clock */
        ts.tv_nsec += WATCH_PERIOD_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        if (h->stop)
            break;
        int64_t now = mono_ms();
        size_t cut = 0;
        char ip[64] = "";
        for (hconn *e = h->conns; e != NULL; e = e->next) {
            if (!e->arriving || e->cut || e->fd < 0 || now - e->since_ms <= limit_ms)
                continue;
            e->cut = true;
            (void)shutdown(e->fd, SHUT_RDWR);
            if (cut++ == 0)
                snprintf(ip, sizeof ip, "%s", e->ip);
        }
        if (cut > 0) {
            pthread_mutex_unlock(&h->mu);
            httpd_log(h,
                      "closed %zu connection(s) (first from %s): request not received within "
                      "%lld s",
                      cut, ip, (long long)h->lim.request_deadline);
            pthread_mutex_lock(&h->mu);
        }
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ------------------------------------------------------------------ requests */

/* Whether the raw URI carries a control character, as it is or percent-encoded. */
static bool uri_has_control(const char *uri)
{
    for (size_t i = 0; uri[i]; i++) {
        unsigned char ch = (unsigned char)uri[i];
        if (ch < 0x20 || ch == 0x7f)
            return true;
        if (ch == '%' && tes_hex_digit(uri[i + 1]) >= 0 && tes_hex_digit(uri[i + 2]) >= 0) {
            int v = tes_hex_digit(uri[i + 1]) * 16 + tes_hex_digit(uri[i + 2]);
            if (v < 0x20 || v == 0x7f)
                return true;
        }
    }
    return false;
}

/* Called with the raw URI before libmicrohttpd decodes it (which turns %00
 * into an end of string); its result is the request's con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    hreq *r = calloc(1, sizeof *r);
    if (r != NULL && uri != NULL)
        r->bad_url = uri_has_control(uri);
    return r;
}

typedef struct header_count {
    unsigned content_length, transfer_encoding;
    bool te_chunked;
} header_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    header_count *n = cls;
    if (key == NULL)
        return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        n->content_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        n->transfer_encoding++;
        n->te_chunked = value != NULL && strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

/* A refusal of the request's framing or URL: logged, answered 400, connection closed. */
static enum MHD_Result refuse(httpd *h, struct MHD_Connection *c, hreq *r, unsigned status,
                              const char *desc)
{
    char ip[64];
    httpd_client_ip(c, ip);
    httpd_log(h, "refused a request from %s: %s", ip, desc);
    r->answered = true;
    return send_error(c, status, "invalid_request", desc, (httpd_reply_opts){0}, CONN_CLOSE);
}

static enum MHD_Result too_large(httpd *h, struct MHD_Connection *c, hreq *r)
{
    char d[96];
    snprintf(d, sizeof d, "the request body is larger than %zu bytes", h->lim.max_body);
    r->answered = true;
    return send_error(c, 413, "invalid_request", d, (httpd_reply_opts){0}, CONN_CLOSE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    httpd *h = cls;
    hreq *r = *con_cls;
    if (r == NULL) /* the URI callback could not allocate */
        return MHD_NO;
    if (!r->started) {
        r->started = true;
        if (r->bad_url)
            return refuse(h, c, r, 400,
                          "the URL contains a control character (raw or "
                          "percent-encoded)");
        header_count n = {0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &n);
        if (n.content_length > 1)
            return refuse(h, c, r, 400, "the request has more than one Content-Length header");
        if (n.transfer_encoding > 1 || (n.transfer_encoding == 1 && !n.te_chunked))
            return refuse(h, c, r, 400,
                          "the only Transfer-Encoding accepted is one 'chunked' header");
        if (n.transfer_encoding > 0 && n.content_length > 0)
            return refuse(h, c, r, 400,
                          "the request has both Content-Length and Transfer-Encoding");
        /* A declared body beyond the limit is refused before reading it. */
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            char *end;
            errno = 0;
            unsigned long long len = strtoull(cl, &end, 10);
            if (errno != 0 || end == cl || *end != '\0' || len > h->lim.max_body)
                return too_large(h, c, r);
        }
        return MHD_YES;
    }
    if (r->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        size_t len = *upload_data_size;
        r->seen += len;
        if (!r->too_large && r->body.len + len > h->lim.max_body) {
            r->too_large = true;
            tes_buf_free(&r->body);
        }
        if (r->too_large) {
            if (r->seen - h->lim.max_body > DISCARD_SLACK)
                return MHD_NO; /* a chunked flood: drop the connection */
        } else {
            tes_buf_append(&r->body, upload_data, len);
            if (r->body.failed)
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The whole request is here: the deadline no longer runs. */
    mark(h, c, REQ_ARRIVED);
    if (r->too_large)
        return too_large(h, c, r);
    r->answered = true;
    return h->handler(h->handler_cls, c, url, method, &r->body);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    httpd *h = cls;
    (void)toe;
    hreq *r = *con_cls;
    if (r != NULL) {
        tes_buf_free(&r->body);
        free(r);
        *con_cls = NULL;
    }
    /* A kept-alive connection: the next request's deadline starts now. */
    mark(h, c, REQ_ARRIVING);
}

/* ------------------------------------------------------------------ start / stop */

void httpd_limits_resolve(const httpd_limits *in, httpd_limits *out)
{
    httpd_limits l = in ? *in : (httpd_limits){0};
    if (l.max_connections == 0)
        l.max_connections = HTTPD_DEFAULT_MAX_CONNECTIONS;
    if (l.max_connections_per_ip == 0)
        l.max_connections_per_ip = HTTPD_DEFAULT_MAX_CONNECTIONS_PER_IP;
    if (l.max_connections_per_ip > l.max_connections)
        l.max_connections_per_ip = l.max_connections;
    if (l.request_deadline <= 0)
        l.request_deadline = HTTPD_DEFAULT_REQUEST_DEADLINE;
    if (l.idle_timeout <= 0)
        l.idle_timeout = HTTPD_DEFAULT_IDLE_TIMEOUT;
    if (l.max_body == 0)
        l.max_body = HTTPD_DEFAULT_MAX_BODY;
    *out = l;
}

void httpd_stop(httpd *h)
{
    if (h == NULL)
        return;
    if (h->mhd)
        MHD_stop_daemon(h->mhd); /* joins the workers; every connection closed (and unlisted) */
    if (h->watchdog_started) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->watchdog, NULL);
    }
    while (h->conns) { /* only when the daemon did not start */
        hconn *e = h->conns;
        h->conns = e->next;
        free(e);
    }
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->log_mu);
    free(h);
}

tes_err httpd_start(const httpd_config *c, httpd **out)
{
    if (c == NULL || out == NULL || c->handler == NULL || c->listen_fd < 0)
        return tes_err_set(TES_ERR_ARG, "httpd_start: NULL argument, no handler or no socket");
    *out = NULL;
    httpd *h = calloc(1, sizeof *h);
    if (h == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->log_mu, NULL);
    /* Timed on CLOCK_MONOTONIC: a wall-clock step must not stall or hurry the watchdog. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    httpd_limits_resolve(&c->limits, &h->lim);
    h->handler = c->handler;
    h->handler_cls = c->handler_cls;
    h->log = c->log;
    h->log_ctx = c->log_ctx;
    snprintf(h->name, sizeof h->name, "%s", c->name ? c->name : "http");

    if (pthread_create(&h->watchdog, NULL, watchdog, h) != 0) {
        httpd_stop(h);
        return tes_err_set(TES_ERR_NOMEM, "cannot start the request deadline thread");
    }
    h->watchdog_started = true;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (c->v6)
        flags |= MHD_USE_IPv6;
    if (h->log != NULL)
        flags |= MHD_USE_ERROR_LOG;
    unsigned workers = c->workers ? c->workers : 1;
    if (workers > h->lim.max_connections) /* each worker takes its share of the limit */
        workers = (unsigned)h->lim.max_connections;
    /* the pool size as an option array, empty with a thread per connection (MHD refuses a
     * pool there, and warns about a pool of 0) */
    struct MHD_OptionItem pool[2] = {{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)workers, NULL},
                                     {MHD_OPTION_END, 0, NULL}};
    if (c->threading == HTTPD_THREAD_PER_CONNECTION) {
        flags = (flags & ~(unsigned)MHD_USE_AUTO) | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
        pool[0] = pool[1];
    }
    h->mhd = MHD_start_daemon(
        /* the logger first: libmicrohttpd warns about options set before it */
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)c->listen_fd,
        MHD_OPTION_ARRAY, pool, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)h->lim.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)h->lim.max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)h->lim.idle_timeout, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        h, MHD_OPTION_END);
    if (h->mhd == NULL) {
        httpd_stop(h);
        return tes_err_set(TES_ERR_IO, "libmicrohttpd could not start");
    }
    *out = h;
    return TES_OK;
}

/* Splits "HOST:PORT" / "[V6]:PORT" and binds a listening socket. */
tes_err httpd_listen(const char *listen_spec, int *fd_out, int *port_out, bool *v6,
                         char *host_out, size_t host_cap)
{
    char host[256];
    const char *colon, *port_s;
    if (listen_spec[0] == '[') {
        const char *rb = strchr(listen_spec, ']');
        if (rb == NULL || rb[1] != ':' || (size_t)(rb - listen_spec - 1) >= sizeof host)
            return tes_err_set(TES_ERR_ARG, "listen: expected [ADDRESS]:PORT, got '%.100s'",
                               listen_spec);
        memcpy(host, listen_spec + 1, (size_t)(rb - listen_spec - 1));
        host[rb - listen_spec - 1] = '\0';
        port_s = rb + 2;
    } else {
        colon = strrchr(listen_spec, ':');
        if (colon == NULL || (size_t)(colon - listen_spec) >= sizeof host)
            return tes_err_set(TES_ERR_ARG, "listen: expected ADDRESS:PORT, got '%.100s'",
                               listen_spec);
        memcpy(host, listen_spec, (size_t)(colon - listen_spec));
        host[colon - listen_spec] = '\0';
        port_s = colon + 1;
    }
    char *end;
    long port = strtol(port_s, &end, 10);
    if (*port_s == '\0' || *end != '\0' || port < 0 || port > 65535)
        return tes_err_set(TES_ERR_ARG, "listen: bad port in '%.100s'", listen_spec);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port_s, &hints, &ai) != 0 || ai == NULL)
        return tes_err_set(TES_ERR_ARG, "listen: '%.100s' is not a numeric address", host);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    tes_err err = TES_OK;
    if (fd < 0) {
        err = tes_err_set(TES_ERR_IO, "socket: %s", strerror(errno));
    } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
               bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        err = tes_err_set(TES_ERR_IO, "cannot listen on %.100s: %s", listen_spec, strerror(errno));
    } else {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
            err = tes_err_set(TES_ERR_IO, "fcntl: %s", strerror(errno));
    }
    if (err == TES_OK) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
            err = tes_err_set(TES_ERR_IO, "getsockname: %s", strerror(errno));
        } else if (ss.ss_family == AF_INET6) {
            *port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            *v6 = true;
        } else {
            *port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            *v6 = false;
        }
    }
    freeaddrinfo(ai);
    if (err != TES_OK) {
        if (fd >= 0)
            close(fd);
        return err;
    }
    snprintf(host_out, host_cap, "%s", host[0] ? host : (*v6 ? "::1" : "127.0.0.1"));
    *fd_out = fd;
    return TES_OK;
}
