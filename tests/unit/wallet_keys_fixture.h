/*
 * A wallet directory (soft secure element) and a hotel made in the test (issuer key,
 * reader group key, documents from tes_access_doc_issue) for the door-key tests
 * (test_wallet_keys.c, test_wallet_keys_nfc.c).
 */
#ifndef TES_TESTS_WALLET_KEYS_FIXTURE_H
#define TES_TESTS_WALLET_KEYS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/access.h"
#include "tessera/cose.h"
#include "tessera/wallet.h"

#define DAY 86400
static const int64_t T0 = 1796140800; /* 2026-12-01T00:00:00Z */

/* ---- a fixed clock ---- */

static inline int64_t fixed_now(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* ---- the hotel ---- */

typedef struct hotel {
    tes_key *issuer, *reader;
    uint8_t issuer_pt[TES_ACCESS_POINT_LEN], reader_pt[TES_ACCESS_POINT_LEN];
    uint8_t group[TES_ACCESS_GROUP_ID_LEN];
    uint8_t key_counter;
} hotel;

static inline void point(const tes_key *k, uint8_t out[TES_ACCESS_POINT_LEN])
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    if (tes_key_public_raw(k, x, y) != TES_OK)
        abort();
    out[0] = 0x04;
    memcpy(out + 1, x, 32);
    memcpy(out + 33, y, 32);
}

static inline bool hotel_make(hotel *h, uint8_t group_byte)
{
    memset(h, 0, sizeof *h);
    if (tes_key_generate(TES_CURVE_P256, &h->issuer) ||
        tes_key_generate(TES_CURVE_P256, &h->reader))
        return false;
    point(h->issuer, h->issuer_pt);
    point(h->reader, h->reader_pt);
    memset(h->group, group_byte, sizeof h->group);
    return true;
}

static inline void hotel_free(hotel *h)
{
    tes_key_free(h->issuer);
    tes_key_free(h->reader);
}

/* A grant for the endpoint key of a request, room "101", valid [nb, na), signed at sa. */
static inline tes_access_grant grant_for(hotel *h, const uint8_t endpoint[TES_ACCESS_POINT_LEN],
                                         int64_t nb, int64_t na, int64_t sa)
{
    tes_access_grant g;
    memset(&g, 0, sizeof g);
    memset(g.key_id, 0xA0 + ++h->key_counter, sizeof g.key_id);
    memcpy(g.group_id, h->group, sizeof g.group_id);
    snprintf(g.rooms[0], TES_ACCESS_ROOM_MAX, "101");
    g.n_rooms = 1;
    g.not_before = nb;
    g.not_after = na;
    g.signed_at = sa;
    memcpy(g.endpoint_key, endpoint, TES_ACCESS_POINT_LEN);
    return g;
}

/* The package of grant g, its document signed by `signer` (the hotel's issuer when
 * NULL); rev: a revocation document to carry (may be empty). */
static inline bool package(const hotel *h, const tes_access_grant *g, const tes_key *signer,
                           tes_bytes rev, tes_buf *out)
{
    const tes_key *k = signer ? signer : h->issuer;
    tes_signer s = tes_signer_from_key(k);
    tes_buf doc = {0};
    bool ok = tes_access_doc_issue(g, &s, k, NULL, &doc) == TES_OK;
    tes_access_key_package p = {.document = tes_buf_bytes(&doc), .revocation = rev};
    snprintf(p.issuer, sizeof p.issuer, "Hotel Aurora");
    memcpy(p.group_id, h->group, sizeof p.group_id);
    memcpy(p.reader_key, h->reader_pt, sizeof p.reader_key);
    memcpy(p.issuer_key, h->issuer_pt, sizeof p.issuer_key);
    ok = ok && tes_access_key_package_encode(&p, out) == TES_OK;
    tes_buf_free(&doc);
    return ok;
}

static inline bool revocation(const hotel *h, const tes_key *signer, int64_t version,
                              const uint8_t *const *keys, size_t n, tes_buf *out)
{
    const tes_key *k = signer ? signer : h->issuer;
    tes_signer s = tes_signer_from_key(k);
    tes_access_revocation *r = calloc(1, sizeof *r);
    if (!r)
        return false;
    memcpy(r->group_id, h->group, sizeof r->group_id);
    r->version = version;
    r->n_keys = n;
    for (size_t i = 0; i < n; i++)
        memcpy(r->keys[i], keys[i], TES_ACCESS_KEY_ID_LEN);
    bool ok = tes_access_revocation_issue(r, &s, k, NULL, out) == TES_OK;
    free(r);
    return ok;
}

/* ---- the wallet ---- */

typedef struct fx {
    char dir[64], wdir[80];
    tes_wallet *w;
    hotel h;
} fx;

static inline bool fx_init(fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tes_wkeys_XXXXXX");
    if (!mkdtemp(f->dir))
        return false;
    snprintf(f->wdir, sizeof f->wdir, "%s/w", f->dir);
    return tes_wallet_create(f->wdir, NULL, &f->w) == TES_OK && hotel_make(&f->h, 0x42);
}

static inline void fx_free(fx *f)
{
    tes_wallet_close(f->w);
    hotel_free(&f->h);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
}

/* A key request; its endpoint key into ep. */
static inline bool request(fx *f, uint8_t ep[TES_ACCESS_POINT_LEN])
{
    tes_buf rq = {0};
    tes_access_key_request r;
    bool ok = tes_wallet_key_request(f->w, &rq) == TES_OK &&
              tes_access_key_request_parse(tes_buf_bytes(&rq), &r) == TES_OK;
    if (ok)
        memcpy(ep, r.endpoint_key, TES_ACCESS_POINT_LEN);
    tes_buf_free(&rq);
    return ok;
}

/* Requests a key and adds its package for grant [nb, na) signed at sa; g gets the grant. */
static inline bool key_added(fx *f, int64_t nb, int64_t na, int64_t sa, tes_access_grant *g)
{
    uint8_t ep[TES_ACCESS_POINT_LEN];
    tes_buf pk = {0};
    if (!request(f, ep))
        return false;
    *g = grant_for(&f->h, ep, nb, na, sa);
    bool ok = package(&f->h, g, NULL, TES_BYTES(NULL, 0), &pk) &&
              tes_wallet_key_add(f->w, tes_buf_bytes(&pk), NULL) == TES_OK;
    tes_buf_free(&pk);
    return ok;
}

#endif
