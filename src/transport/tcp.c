/*
 * TCP transport: each message is a 4-byte big-endian length followed by the message.
 * Sockets are non-blocking; every wait is a poll() with a deadline. A length above
 * TES_TRANSPORT_MAX_MESSAGE is refused before anything is allocated. A receive that times
 * out in the middle of a message keeps what it has read, so the next receive continues
 * the same message. SIGPIPE is never raised (MSG_NOSIGNAL).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/transport_internal.h"

/* A send that cannot make progress for this long fails (the peer stopped reading). */
#define TCP_SEND_TIMEOUT_MS 30000

/* ---------------------------------------------------------------- helpers */

tes_err tes_tr_resolve(const char *host_port, bool passive, struct addrinfo **out)
{
    *out = NULL;
    if (!host_port)
        return tes_err_set(TES_ERR_ARG, "tcp: NULL address");
    char host[256];
    const char *port;
    const char *colon = strrchr(host_port, ':');
    if (!colon)
        return tes_err_set(TES_ERR_ARG, "tcp: address \"%s\" is not host:port", host_port);
    size_t hlen = (size_t)(colon - host_port);
    const char *h = host_port;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') { /* [v6]:port */
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return tes_err_set(TES_ERR_ARG, "tcp: host name too long");
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    port = colon + 1;
    char *end;
    long pn = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || pn < 0 || pn > 65535)
        return tes_err_set(TES_ERR_ARG, "tcp: bad port in \"%s\"", host_port);

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    bool any = hlen == 0;
    if (!any && strcmp(host, "localhost") != 0)
        hints.ai_flags |= AI_NUMERICHOST; /* literals only: no DNS from the library */
    int rc = getaddrinfo(any ? NULL : host, port, &hints, out);
    if (rc != 0)
        return tes_err_set(TES_ERR_ARG, "tcp: cannot resolve \"%s\": %s", host_port,
                           gai_strerror(rc));
    return TES_OK;
}

static int set_nonblock_nodelay(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

/* Waits for events on fd before deadline: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, tes_tr_remaining(deadline));
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

tes_err tes_tr_read_full(int fd, uint8_t *p, size_t n, size_t *got, int64_t deadline)
{
    while (*got < n) {
        ssize_t r = recv(fd, p + *got, n - *got, 0);
        if (r > 0) {
            *got += (size_t)r;
            continue;
        }
        if (r == 0)
            return tes_err_set(TES_ERR_TRANSPORT, "tcp: the peer closed the connection%s",
                               *got ? " in the middle of a message" : "");
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return tes_err_set(TES_ERR_TRANSPORT, "tcp: receive failed: %s", strerror(errno));
        int w = wait_fd(fd, POLLIN, deadline);
        if (w == 0)
            return tes_err_set(TES_ERR_TIMEOUT, "tcp: no data in time");
        if (w < 0)
            return tes_err_set(TES_ERR_TRANSPORT, "tcp: poll failed: %s", strerror(errno));
    }
    return TES_OK;
}

tes_err tes_tr_write_full(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return tes_err_set(TES_ERR_TRANSPORT, "tcp: send failed: %s", strerror(errno));
        int w = wait_fd(fd, POLLOUT, deadline);
        if (w == 0)
            return tes_err_set(TES_ERR_TIMEOUT, "tcp: the peer does not read (send timed out)");
        if (w < 0)
            return tes_err_set(TES_ERR_TRANSPORT, "tcp: poll failed: %s", strerror(errno));
    }
    return TES_OK;
}

/* Non-blocking connect to one address. */
static tes_err dial_one(const struct addrinfo *ai, int64_t deadline, int *fd_out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return tes_err_set(TES_ERR_TRANSPORT, "tcp: socket: %s", strerror(errno));
    if (set_nonblock_nodelay(fd) < 0) {
        close(fd);
        return tes_err_set(TES_ERR_TRANSPORT, "tcp: fcntl: %s", strerror(errno));
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            tes_err e = tes_err_set(TES_ERR_TRANSPORT, "tcp: connect: %s", strerror(errno));
            close(fd);
            return e;
        }
        int w = wait_fd(fd, POLLOUT, deadline);
        if (w <= 0) {
            close(fd);
            return w == 0 ? tes_err_set(TES_ERR_TIMEOUT, "tcp: connect timed out")
                          : tes_err_set(TES_ERR_TRANSPORT, "tcp: poll: %s", strerror(errno));
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
            tes_err e =
                tes_err_set(TES_ERR_TRANSPORT, "tcp: connect: %s", strerror(soerr ? soerr : errno));
            close(fd);
            return e;
        }
    }
    *fd_out = fd;
    return TES_OK;
}

tes_err tes_tr_tcp_dial(const char *host_port, int timeout_ms, int *fd_out)
{
    struct addrinfo *res;
    tes_err err = tes_tr_resolve(host_port, false, &res);
    if (err)
        return err;
    int64_t deadline = tes_tr_deadline(timeout_ms);
    err = tes_err_set(TES_ERR_TRANSPORT, "tcp: no address for \"%s\"", host_port);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        err = dial_one(ai, deadline, fd_out);
        if (err == TES_OK || err == TES_ERR_TIMEOUT)
            break;
    }
    freeaddrinfo(res);
    if (err == TES_ERR_TRANSPORT || err == TES_ERR_TIMEOUT)
        return tes_err_set(err, "tcp: cannot connect to %s: %s", host_port, tes_err_message());
    return err;
}

/* ---------------------------------------------------------------- connection */

typedef struct tcp_conn {
    tes_transport base;
    int fd;
    /* receive state, kept across a timeout in the middle of a message */
    uint8_t hdr[4];
    size_t hdr_got;
    bool have_len;
    uint32_t len;
    tes_buf body;
    size_t body_got;
    bool broken; /* oversized length: the stream cannot be resynchronised */
} tcp_conn;

static tes_err tcp_send(tes_transport *t, tes_bytes msg)
{
    tcp_conn *c = (tcp_conn *)t;
    if (msg.len > TES_TRANSPORT_MAX_MESSAGE)
        return tes_err_set(TES_ERR_SESSION_MESSAGE, "tcp: message of %zu bytes exceeds %u", msg.len,
                           TES_TRANSPORT_MAX_MESSAGE);
    uint8_t hdr[4] = {(uint8_t)(msg.len >> 24), (uint8_t)(msg.len >> 16), (uint8_t)(msg.len >> 8),
                      (uint8_t)msg.len};
    int64_t deadline = tes_tr_deadline(TCP_SEND_TIMEOUT_MS);
    /* one segment for small messages (header and body together) */
    if (msg.len <= 4096) {
        uint8_t one[4 + 4096];
        memcpy(one, hdr, 4);
        if (msg.len)
            memcpy(one + 4, msg.ptr, msg.len);
        return tes_tr_write_full(c->fd, one, 4 + msg.len, deadline);
    }
    tes_err err = tes_tr_write_full(c->fd, hdr, 4, deadline);
    if (err)
        return err;
    return tes_tr_write_full(c->fd, msg.ptr, msg.len, deadline);
}

static tes_err tcp_recv(tes_transport *t, tes_buf *out, int timeout_ms)
{
    tcp_conn *c = (tcp_conn *)t;
    if (c->broken)
        return tes_err_set(TES_ERR_TRANSPORT,
                           "tcp: connection unusable after an oversized message");
    int64_t deadline = tes_tr_deadline(timeout_ms);
    tes_err err;
    if (!c->have_len) {
        err = tes_tr_read_full(c->fd, c->hdr, 4, &c->hdr_got, deadline);
        if (err)
            return err;
        c->len = (uint32_t)c->hdr[0] << 24 | (uint32_t)c->hdr[1] << 16 | (uint32_t)c->hdr[2] << 8 |
                 c->hdr[3];
        if (c->len > TES_TRANSPORT_MAX_MESSAGE) {
            c->broken = true;
            return tes_err_set(TES_ERR_SESSION_MESSAGE,
                               "tcp: peer announces a %u-byte message (limit %u)", c->len,
                               TES_TRANSPORT_MAX_MESSAGE);
        }
        c->have_len = true;
        c->body_got = 0;
        tes_buf_reset(&c->body);
        if (c->len && !tes_buf_extend(&c->body, c->len))
            return tes_err_set(TES_ERR_NOMEM, "tcp: out of memory");
    }
    err = tes_tr_read_full(c->fd, c->body.ptr, c->len, &c->body_got, deadline);
    if (err)
        return err;
    tes_buf_append(out, c->body.ptr, c->len);
    c->have_len = false;
    c->hdr_got = 0;
    tes_buf_free(&c->body);
    if (out->failed)
        return tes_err_set(TES_ERR_NOMEM, "tcp: out of memory");
    return TES_OK;
}

static void tcp_close(tes_transport *t)
{
    tcp_conn *c = (tcp_conn *)t;
    close(c->fd);
    tes_buf_free(&c->body);
    free(c);
}

static const tes_transport_ops tcp_ops = {
    .size = sizeof(tes_transport_ops),
    .name = "tcp",
    .send = tcp_send,
    .recv = tcp_recv,
    .close = tcp_close,
};

static tes_err conn_new(int fd, tes_transport **out)
{
    tcp_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return tes_err_set(TES_ERR_NOMEM, "tcp: out of memory");
    }
    c->base.ops = &tcp_ops;
    c->fd = fd;
    *out = &c->base;
    return TES_OK;
}

tes_err tes_tcp_connect(const char *host_port, int timeout_ms, tes_transport **out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "tes_tcp_connect: NULL output");
    *out = NULL;
    int fd;
    tes_err err = tes_tr_tcp_dial(host_port, timeout_ms, &fd);
    if (err)
        return err;
    return conn_new(fd, out);
}

/* ---------------------------------------------------------------- listener */

struct tes_tcp_listener {
    int fd;
};

tes_err tes_tcp_listen(const char *host_port, tes_tcp_listener **out, int *port_out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "tes_tcp_listen: NULL output");
    *out = NULL;
    struct addrinfo *res;
    tes_err err = tes_tr_resolve(host_port, true, &res);
    if (err)
        return err;
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 8) == 0 &&
            set_nonblock_nodelay(fd) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return tes_err_set(TES_ERR_TRANSPORT, "tcp: cannot listen on %s: %s", host_port,
                           strerror(saved));
    if (port_out) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
            close(fd);
            return tes_err_set(TES_ERR_TRANSPORT, "tcp: getsockname: %s", strerror(errno));
        }
        *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    tes_tcp_listener *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return tes_err_set(TES_ERR_NOMEM, "tcp: out of memory");
    }
    l->fd = fd;
    *out = l;
    return TES_OK;
}

tes_err tes_tcp_accept(tes_tcp_listener *l, int timeout_ms, tes_transport **out)
{
    if (!l || !out)
        return tes_err_set(TES_ERR_ARG, "tes_tcp_accept: NULL argument");
    *out = NULL;
    int64_t deadline = tes_tr_deadline(timeout_ms);
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return conn_new(fd, out);
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return tes_err_set(TES_ERR_TRANSPORT, "tcp: accept: %s", strerror(errno));
        int w = wait_fd(l->fd, POLLIN, deadline);
        if (w == 0)
            return tes_err_set(TES_ERR_TIMEOUT, "tcp: no peer connected within %d ms", timeout_ms);
        if (w < 0)
            return tes_err_set(TES_ERR_TRANSPORT, "tcp: poll: %s", strerror(errno));
    }
}

void tes_tcp_listener_free(tes_tcp_listener *l)
{
    if (!l)
        return;
    close(l->fd);
    free(l);
}
