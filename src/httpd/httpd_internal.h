/*
 * The HTTP layer the services share (private to libtessera): libmicrohttpd
 * with the defences every service needs, and the one writer of JSON error
 * bodies. The issuer service uses it; the online verifier and the bank
 * services are meant to as well.
 *
 * Defences (docs/SERVICE-LIMITS.md):
 *  - connections: at most max_connections open in all, at most
 *    max_connections_per_ip from one client address (more are accepted and
 *    closed at once by libmicrohttpd);
 *  - a total deadline per request: its headers and body must have arrived
 *    within request_deadline seconds of the connection's start (or of the end
 *    of the previous answer on a kept-alive connection), however steadily the
 *    client trickles bytes; a watchdog thread shuts such connections down. The
 *    idle timeout (no byte for idle_timeout seconds) stays as well;
 *  - bodies: a declared Content-Length above max_body is answered 413 before
 *    the body is read; a chunked body is counted as it arrives and dropped
 *    past max_body (the connection is closed past max_body + 1 MiB);
 *  - framing: two Content-Length headers, Content-Length together with
 *    Transfer-Encoding, a Transfer-Encoding other than "chunked", and a URL
 *    with a control character (raw or percent-encoded, %00 included) are
 *    answered 400 and the connection closed.
 * Each refusal is answered with a JSON error body ({"error": "invalid_request",
 * "error_description": ...}) and logged. libmicrohttpd's own messages (e.g.
 * "Server reached connection limit") are logged too, at most 5 a second;
 * connections refused for the per-address limit are closed silently.
 *
 * Error bodies: httpd_send_error writes every one; its error_description holds
 * only the characters RFC 6749 §5.2 allows (%x20-21 / %x23-5B / %x5D-7E):
 * '"' becomes '\'', '\\' becomes '/', and control characters and non-ASCII
 * sequences become '?'. Internal details (registry, database, file messages)
 * belong in the log (httpd_log), not in a description.
 */
#ifndef TES_HTTPD_INTERNAL_H
#define TES_HTTPD_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "tessera/core.h"

#define HTTPD_DEFAULT_MAX_CONNECTIONS 256
#define HTTPD_DEFAULT_MAX_CONNECTIONS_PER_IP 16
#define HTTPD_DEFAULT_REQUEST_DEADLINE 10 /* seconds for one request's headers and body */
#define HTTPD_DEFAULT_IDLE_TIMEOUT 30     /* seconds without a byte */
#define HTTPD_DEFAULT_MAX_BODY (64 * 1024)

typedef struct httpd_limits {
    size_t max_connections;        /* 0: HTTPD_DEFAULT_MAX_CONNECTIONS */
    size_t max_connections_per_ip; /* 0: HTTPD_DEFAULT_MAX_CONNECTIONS_PER_IP (never above
                                      max_connections) */
    int64_t request_deadline;      /* seconds; 0: HTTPD_DEFAULT_REQUEST_DEADLINE */
    int64_t idle_timeout;          /* seconds; 0: HTTPD_DEFAULT_IDLE_TIMEOUT */
    size_t max_body;               /* bytes; 0: HTTPD_DEFAULT_MAX_BODY */
} httpd_limits;

/* A log line (no newline) for the operator; ctx as given. Called from the
 * service's threads, possibly at once from several. */
typedef void (*httpd_log_fn)(void *ctx, const char *line);

/* Answers one complete request: body holds all of it (at most max_body
 * bytes). Write the answer with the httpd_send_* functions. */
typedef enum MHD_Result (*httpd_handler_fn)(void *cls, struct MHD_Connection *c, const char *url,
                                            const char *method, const tes_buf *body);

typedef struct httpd_config {
    int listen_fd;       /* bound, listening, non-blocking; the daemon owns it once started */
    bool v6;             /* the socket is IPv6 */
    unsigned workers;    /* threads answering requests */
    httpd_limits limits; /* resolved with httpd_limits_resolve by httpd_start */
    httpd_handler_fn handler;
    void *handler_cls;
    httpd_log_fn log; /* NULL: nothing logged */
    void *log_ctx;
    const char *name; /* the service, as log lines start ("issuer") */
} httpd_config;

typedef struct httpd httpd;

/* The limits with every 0 replaced by its default. */
void httpd_limits_resolve(const httpd_limits *in, httpd_limits *out);

/* Starts the daemon and its deadline watchdog. On failure listen_fd is not
 * closed. Errors: TES_ERR_ARG (no handler, bad fd), TES_ERR_NOMEM, TES_ERR_IO. */
tes_err httpd_start(const httpd_config *c, httpd **out);
/* Splits listen_spec "HOST:PORT" / "[V6]:PORT" (numeric address; port 0: any)
 * and binds a non-blocking listening socket: *fd_out, the port bound, whether
 * it is IPv6, and the host as text (default loopback when empty). Errors:
 * TES_ERR_ARG (not HOST:PORT), TES_ERR_IO. */
tes_err httpd_listen(const char *listen_spec, int *fd_out, int *port_out, bool *v6,
                     char *host_out, size_t host_cap);
/* Stops the daemon (joins its threads, closes the listening socket). NULL: nothing. */
void httpd_stop(httpd *h);

/* Logs one line "<name>: <text>" through the configured callback. */
void httpd_log(httpd *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The client's address as text ("" when unknown). */
void httpd_client_ip(struct MHD_Connection *c, char out[64]);

/* RFC 6749 §5.2 text: in copied to out (cap > 0, always NUL-terminated) with
 * '"' -> '\'', '\\' -> '/', tab/CR/LF -> ' ', other control characters and
 * each non-ASCII sequence -> '?'. NULL in: "". */
void httpd_oauth_text(const char *in, char *out, size_t cap);

/* Headers of one answer beyond Content-Type, named at the call site:
 *   httpd_send_json(c, 200, v, (httpd_reply_opts){.no_store = true});
 * A zero struct ((httpd_reply_opts){0}) adds none. */
typedef struct httpd_reply_opts {
    bool no_store;                /* Cache-Control: no-store */
    const char *www_authenticate; /* WWW-Authenticate, when not NULL */
    const char *allow;            /* Allow, when not NULL */
    const char *set_cookie[2];    /* Set-Cookie headers, when not NULL */
    const char *location;         /* Location, when not NULL */
    bool security_headers;        /* nosniff, no framing, no referrer, a same-origin CSP (pages) */
} httpd_reply_opts;

/* Sends data as the answer (copied), with the headers opts names. */
enum MHD_Result httpd_send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                const void *data, size_t len, httpd_reply_opts opts);
/* Sends the JSON value v (taken; NULL: a 500 "out of memory" error). */
enum MHD_Result httpd_send_json(struct MHD_Connection *c, unsigned status, json_t *v,
                                httpd_reply_opts opts);
/* The one writer of error bodies: {"error": name, "error_description":
 * httpd_oauth_text(desc)} (no description member when desc is NULL or
 * empty), Cache-Control: no-store whatever opts.no_store says, and
 * opts.www_authenticate / opts.allow when set. */
enum MHD_Result httpd_send_error(struct MHD_Connection *c, unsigned status, const char *name,
                                 const char *desc, httpd_reply_opts opts);

#endif
