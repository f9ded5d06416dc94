/*
 * A phone and a lock wired together in memory for the access-engine tests: a soft secure
 * element with an endpoint key, a key ring held in a struct, and a transmit function that
 * hands each command APDU to the device (optionally through a tamperer).
 */
#ifndef TES_TESTS_ACCESS_FIXTURE_H
#define TES_TESTS_ACCESS_FIXTURE_H

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/access.h"
#include "tessera/se.h"

typedef struct fx_ring {
    bool has_key;
    tes_access_endpoint ep;
    bool has_kp;
    uint8_t kp_reader[TES_ACCESS_READER_ID_LEN];
    uint8_t kp[32];
    tes_buf docs; /* one CBOR item returned for "aliro-a" */
    tes_buf rev;  /* one CBOR item returned for "aliro-r" */
    int events;
    uint16_t last_status;
} fx_ring;

static tes_err fx_find(void *ctx, const uint8_t group[TES_ACCESS_GROUP_ID_LEN],
                       tes_access_endpoint *out)
{
    fx_ring *r = ctx;
    if (!r->has_key || memcmp(group, r->ep.group_id, TES_ACCESS_GROUP_ID_LEN) != 0)
        return TES_ERR_NOT_FOUND;
    *out = r->ep;
    return TES_OK;
}

static tes_err fx_kp_get(void *ctx, const tes_access_endpoint *e,
                         const uint8_t reader_id[TES_ACCESS_READER_ID_LEN], uint8_t k[32])
{
    (void)e;
    fx_ring *r = ctx;
    if (!r->has_kp || memcmp(reader_id, r->kp_reader, TES_ACCESS_READER_ID_LEN) != 0)
        return TES_ERR_NOT_FOUND;
    memcpy(k, r->kp, 32);
    return TES_OK;
}

static tes_err fx_kp_put(void *ctx, const tes_access_endpoint *e,
                         const uint8_t reader_id[TES_ACCESS_READER_ID_LEN], const uint8_t k[32])
{
    (void)e;
    fx_ring *r = ctx;
    r->has_kp = true;
    memcpy(r->kp_reader, reader_id, TES_ACCESS_READER_ID_LEN);
    memcpy(r->kp, k, 32);
    return TES_OK;
}

static tes_err fx_docs(void *ctx, const tes_access_endpoint *e, const char *doctype, tes_buf *items,
                       size_t *n)
{
    (void)e;
    fx_ring *r = ctx;
    *n = 0;
    if (strcmp(doctype, TES_ACCESS_DOCTYPE) == 0 && r->docs.len) {
        tes_buf_append(items, r->docs.ptr, r->docs.len);
        *n = 1;
    }
    if (strcmp(doctype, TES_REVOCATION_DOCTYPE) == 0 && r->rev.len) {
        tes_buf_append(items, r->rev.ptr, r->rev.len);
        *n = 1;
    }
    return TES_OK;
}

static void fx_event(void *ctx, const tes_access_endpoint *e, uint16_t status)
{
    (void)e;
    fx_ring *r = ctx;
    r->events++;
    r->last_status = status;
}

/* Tampering with the traffic: called with each command before the device sees it and
 * with each response before the reader sees it. */
typedef void (*fx_tamper_fn)(void *ctx, bool command, tes_buf *apdu);

typedef struct fx_link {
    tes_access_device *dev;
    fx_tamper_fn tamper;
    void *tamper_ctx;
    int fail_at;  /* >0: the n-th command finds no card (removed mid-transaction) */
    int count;
    tes_buf log[16]; /* the commands, for replays */
} fx_link;

static tes_err fx_transmit(void *ctx, tes_bytes command, tes_buf *response)
{
    fx_link *l = ctx;
    l->count++;
    if (l->fail_at && l->count >= l->fail_at)
        return tes_err_set(TES_ERR_PCSC, "test: the card left the field");
    tes_buf cmd = {0};
    tes_buf_append(&cmd, command.ptr, command.len);
    if (l->tamper)
        l->tamper(l->tamper_ctx, true, &cmd);
    if (l->count <= 16) {
        tes_buf_reset(&l->log[l->count - 1]);
        tes_buf_append(&l->log[l->count - 1], cmd.ptr, cmd.len);
    }
    size_t before = response->len;
    tes_err err = tes_access_device_process(l->dev, tes_buf_bytes(&cmd), response);
    tes_buf_free(&cmd);
    if (!err && l->tamper) {
        tes_buf r = {0};
        tes_buf_append(&r, response->ptr + before, response->len - before);
        l->tamper(l->tamper_ctx, false, &r);
        response->len = before;
        tes_buf_append(response, r.ptr, r.len);
        tes_buf_free(&r);
    }
    return err;
}

typedef struct fx {
    char dir[64];
    tes_se *se;
    fx_ring ring;
    tes_access_keyring kr;
    tes_access_device *dev;
    fx_link link;
    tes_key *reader_key;
    uint8_t reader_id[TES_ACCESS_READER_ID_LEN];
} fx;

static inline void fx_point(const tes_key *k, uint8_t out[TES_ACCESS_POINT_LEN])
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    if (tes_key_public_raw(k, x, y) != TES_OK)
        abort();
    out[0] = 0x04;
    memcpy(out + 1, x, 32);
    memcpy(out + 33, y, 32);
}

static inline bool fx_init(fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tes_access_XXXXXX");
    if (!mkdtemp(f->dir))
        return false;
    char spec[128];
    snprintf(spec, sizeof spec, "soft:%s/se", f->dir);
    tes_se_key_opts o = {0};
    tes_key *pub = NULL;
    if (tes_se_open(spec, NULL, &f->se) || tes_se_create_key(f->se, &o, f->ring.ep.se_key_id) ||
        tes_se_public_key(f->se, f->ring.ep.se_key_id, &pub))
        return false;
    fx_point(pub, f->ring.ep.endpoint_key);
    tes_key_free(pub);
    if (tes_key_generate(TES_CURVE_P256, &f->reader_key))
        return false;
    fx_point(f->reader_key, f->ring.ep.reader_key);
    for (int i = 0; i < TES_ACCESS_READER_ID_LEN; i++)
        f->reader_id[i] = (uint8_t)(0x10 + i);
    memcpy(f->ring.ep.group_id, f->reader_id, TES_ACCESS_GROUP_ID_LEN);
    memcpy(f->ring.ep.key_slot, "slot0001", 8);
    memcpy(f->ring.ep.issued_at, "2026-12-08T14:00:00Z", TES_ACCESS_TIMESTAMP_LEN);
    f->ring.ep.signaling = TES_ACCESS_SIG_ACCESS_DOC | TES_ACCESS_SIG_STEPUP_SELECT;
    f->ring.has_key = true;
    f->kr = (tes_access_keyring){&f->ring, fx_find, fx_kp_get, fx_kp_put, fx_docs, fx_event};
    tes_access_device_opts d = {.se = f->se, .ring = &f->kr};
    if (tes_access_device_new(&d, &f->dev))
        return false;
    f->link.dev = f->dev;
    return true;
}

static inline tes_access_reader_opts fx_reader_opts(fx *f, const tes_access_known *known, size_t n)
{
    tes_access_reader_opts o = {.reader_key = f->reader_key,
                                .fast = n > 0,
                                .policy = TES_ACCESS_POLICY_USER_DEVICE_SETTING,
                                .known = known,
                                .n_known = n,
                                .transmit = fx_transmit,
                                .transmit_ctx = &f->link};
    memcpy(o.reader_id, f->reader_id, TES_ACCESS_READER_ID_LEN);
    return o;
}

static inline void fx_free(fx *f)
{
    tes_access_device_free(f->dev);
    tes_se_close(f->se);
    tes_key_free(f->reader_key);
    tes_buf_free(&f->ring.docs);
    tes_buf_free(&f->ring.rev);
    for (int i = 0; i < 16; i++)
        tes_buf_free(&f->link.log[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
}

#endif
