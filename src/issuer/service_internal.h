/*
 * What the files of the OpenID4VCI issuer service share (not public): the
 * service object, its limits, and the helpers every endpoint answers with.
 * service.c owns them; svc_token.c, svc_credential.c and svc_status.c are the
 * endpoints.
 */
#ifndef TES_ISSUER_SERVICE_INTERNAL_H
#define TES_ISSUER_SERVICE_INTERNAL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "tessera/cbor.h"
#include "tessera/cose.h"
#include "tessera/mdoc.h"
#include "tessera/registry.h"
#include "tessera/se.h"
#include "tessera/status.h"

#include "httpd/httpd_internal.h"
#include "issuer/issuer_internal.h"

#define DAY 86400LL
#define WORKERS 4
#define STATUS_CACHE_SECONDS 5
#define STATUS_LIST_NAME "1"
#define STATUS_CACHE_SLOTS 4 /* signed lists kept (the newest lists are fetched most) */
#define RL_BUCKETS 1024
#define RL_WAYS 4
#define RL_WINDOW 60
#define DECOYS 2
#define TX_DIGITS 6

typedef struct rl_slot {
    uint8_t key[16]; /* prefix of SHA-256(kind || key) */
    int64_t window;  /* start of the minute */
    int count;
    bool used;
} rl_slot;

struct tes_issuer {
    httpd *http;
    char *db_url, *public_url, *status_uri;
    char *metadata, *as_metadata; /* prebuilt JSON */
    tes_buf vendor_roots;
    iss_policy pol;
    tes_ds_signer *dss; /* the document signer (key file or HSM) */
    const tes_cert *ds; /* its certificate (owned by dss) */
    tes_clock clock;
    tes_rng rng;
    int64_t valid_days, token_lifetime, nonce_lifetime, status_ttl, status_lifetime, status_cache;
    size_t status_list_size;
    httpd_limits limits;
    int rate_limit;

    pthread_key_t tls; /* this worker's tes_registry */
    bool tls_made;
    pthread_mutex_t reg_mu;
    tes_registry **regs; /* every handle opened, closed at stop */
    size_t n_regs, cap_regs;

    pthread_mutex_t status_mu;
    struct status_slot {
        int64_t list; /* 0: empty */
        tes_buf token;
        int64_t built;
    } status[STATUS_CACHE_SLOTS];
    char *status_base; /* <public_url>/status/ : list N is at status_base N */
    tes_registry_budget budget;
    int nonce_rate_limit;

    pthread_mutex_t rl_mu;
    rl_slot rl[RL_BUCKETS][RL_WAYS];
};

static inline int64_t now_of(const tes_issuer *s)
{
    return tes_clock_now(&s->clock);
}

/* Sends the wire error for code e with description desc (NULL: the calling
 * thread's last error message, which is then only logged). A 500 gets a
 * fixed description and its cause is logged; a description that quotes an
 * internal layer is logged as it is and sent without the layer's name. */
enum MHD_Result svc_send_error(struct MHD_Connection *c, tes_err e, const char *desc);
/* Sends the calling thread's last error (message copied first), after prefix. */
enum MHD_Result svc_send_last_error(struct MHD_Connection *c, tes_err e, const char *prefix);
/* Counts one event (add 1) or only looks (add 0) for (kind, key) in the
 * current minute; returns the count in the window. */
int svc_rl_touch(tes_issuer *s, const char *kind, const char *key, size_t key_len, int add);
/* This worker thread's registry handle (opened on first use, closed at stop). */
tes_err svc_worker_registry(tes_issuer *s, tes_registry **out);
/* Drops every cached status list (a status change must show at once). */
void svc_status_cache_drop(tes_issuer *s);

/* The endpoints. */
enum MHD_Result svc_handle_token(tes_issuer *s, struct MHD_Connection *c, const tes_buf *body);
enum MHD_Result svc_handle_nonce(tes_issuer *s, struct MHD_Connection *c);
enum MHD_Result svc_handle_credential(tes_issuer *s, struct MHD_Connection *c, const tes_buf *body);
enum MHD_Result svc_handle_status(tes_issuer *s, struct MHD_Connection *c, int64_t list);
enum MHD_Result svc_handle_lost(tes_issuer *s, struct MHD_Connection *c, const tes_buf *body);

#endif
