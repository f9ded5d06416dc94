/*
 * In-memory transport: two linked ends, each with its own inbound queue, guarded by one
 * mutex and condition variable (holder and reader usually run in two threads). Also the
 * module's small time helpers and tes_transport_close.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport_internal.h"

/* ---------------------------------------------------------------- time helpers */

int64_t tes_tr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tes_tr_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX : tes_tr_now_ms() + timeout_ms;
}

int tes_tr_remaining(int64_t deadline)
{
    if (deadline == INT64_MAX)
        return -1;
    int64_t left = deadline - tes_tr_now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

struct timespec tes_tr_abs_ms(int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    return ts;
}

void tes_transport_close(tes_transport *t)
{
    if (t)
        t->ops->close(t);
}

/* ---------------------------------------------------------------- memory pair */

typedef struct mem_msg {
    struct mem_msg *next;
    size_t len;
    uint8_t data[];
} mem_msg;

typedef struct mem_shared mem_shared;

typedef struct mem_end {
    tes_transport base;
    mem_shared *sh;
    int side;
} mem_end;

struct mem_shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mem_msg *head[2], *tail[2]; /* queue[i]: messages waiting for end i */
    bool closed[2];
    int refs;
    mem_end ends[2];
};

static void mem_free_queue(mem_msg *m)
{
    while (m) {
        mem_msg *n = m->next;
        free(m);
        m = n;
    }
}

static tes_err mem_send(tes_transport *t, tes_bytes msg)
{
    mem_end *e = (mem_end *)t;
    mem_shared *s = e->sh;
    int peer = 1 - e->side;
    if (msg.len > TES_TRANSPORT_MAX_MESSAGE)
        return tes_err_set(TES_ERR_SESSION_MESSAGE,
                           "memory transport: message of %zu bytes exceeds %u", msg.len,
                           TES_TRANSPORT_MAX_MESSAGE);
    mem_msg *m = malloc(sizeof *m + msg.len);
    if (!m)
        return tes_err_set(TES_ERR_NOMEM, "memory transport: out of memory");
    m->next = NULL;
    m->len = msg.len;
    if (msg.len)
        memcpy(m->data, msg.ptr, msg.len);

    pthread_mutex_lock(&s->mu);
    if (s->closed[peer] || s->closed[e->side]) {
        pthread_mutex_unlock(&s->mu);
        free(m);
        return tes_err_set(TES_ERR_TRANSPORT, "memory transport: the peer closed its end");
    }
    if (s->tail[peer])
        s->tail[peer]->next = m;
    else
        s->head[peer] = m;
    s->tail[peer] = m;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return TES_OK;
}

static tes_err mem_recv(tes_transport *t, tes_buf *out, int timeout_ms)
{
    mem_end *e = (mem_end *)t;
    mem_shared *s = e->sh;
    int me = e->side;
    int64_t deadline = tes_tr_deadline(timeout_ms);

    pthread_mutex_lock(&s->mu);
    while (!s->head[me]) {
        if (s->closed[1 - me]) {
            pthread_mutex_unlock(&s->mu);
            return tes_err_set(TES_ERR_TRANSPORT, "memory transport: the peer closed its end");
        }
        if (deadline == INT64_MAX) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else {
            if (tes_tr_now_ms() >= deadline) {
                pthread_mutex_unlock(&s->mu);
                return tes_err_set(TES_ERR_TIMEOUT, "memory transport: no message within %d ms",
                                   timeout_ms);
            }
            struct timespec ts = tes_tr_abs_ms(deadline);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
    }
    mem_msg *m = s->head[me];
    s->head[me] = m->next;
    if (!s->head[me])
        s->tail[me] = NULL;
    pthread_mutex_unlock(&s->mu);

    tes_buf_append(out, m->data, m->len);
    free(m);
    if (out->failed)
        return tes_err_set(TES_ERR_NOMEM, "memory transport: out of memory");
    return TES_OK;
}

static void mem_close(tes_transport *t)
{
    mem_end *e = (mem_end *)t;
    mem_shared *s = e->sh;
    pthread_mutex_lock(&s->mu);
    s->closed[e->side] = true;
    int left = --s->refs;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (left == 0) {
        mem_free_queue(s->head[0]);
        mem_free_queue(s->head[1]);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
    }
}

static const tes_transport_ops mem_ops = {
    .size = sizeof(tes_transport_ops),
    .name = "memory",
    .send = mem_send,
    .recv = mem_recv,
    .close = mem_close,
};

tes_err tes_transport_memory_pair(tes_transport **a, tes_transport **b)
{
    if (!a || !b)
        return tes_err_set(TES_ERR_ARG, "tes_transport_memory_pair: NULL output");
    *a = *b = NULL;
    mem_shared *s = calloc(1, sizeof *s);
    if (!s)
        return tes_err_set(TES_ERR_NOMEM, "memory transport: out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        free(s);
        return tes_err_set(TES_ERR_NOMEM, "memory transport: cannot create mutex/condvar");
    }
    pthread_condattr_destroy(&ca);
    s->refs = 2;
    for (int i = 0; i < 2; i++)
        s->ends[i] = (mem_end){.base = {.ops = &mem_ops}, .sh = s, .side = i};
    *a = &s->ends[0].base;
    *b = &s->ends[1].base;
    return TES_OK;
}
