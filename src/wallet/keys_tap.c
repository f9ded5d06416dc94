/* The wallet's door keys at the door (tessera/wallet.h, "door keys"): the keyring the
 * access engine's device asks, over the store, and the tap that serves the Aliro
 * applets through vpcd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/transport.h"
#include "wallet/keys_internal.h"

struct tes_wallet_keyring {
    tes_wallet *w;
    tes_clock clock;
    tes_access_keyring ring;
    /* the key of the last find (a transaction asks find first) */
    int64_t row;
    uint8_t endpoint_key[TES_ACCESS_POINT_LEN];
    char issuer[TES_WALLET_KEY_ISSUER_MAX];
    char rooms[TES_WALLET_KEY_ROOMS_MAX];
    /* verdicts */
    unsigned verdicts;
    uint16_t last_status;
    int64_t last_key;
    char last_issuer[TES_WALLET_KEY_ISSUER_MAX];
    char last_rooms[TES_WALLET_KEY_ROOMS_MAX];
};

static bool row_sizes_ok(const tes_store_access_key *k)
{
    return k->endpoint_key.len == TES_ACCESS_POINT_LEN &&
           k->group_id.len == TES_ACCESS_GROUP_ID_LEN &&
           k->reader_key.len == TES_ACCESS_POINT_LEN && k->key_id.len == TES_ACCESS_KEY_ID_LEN &&
           k->se_key_id && strlen(k->se_key_id) < TES_SE_ID_MAX;
}

static tes_err ring_find(void *ctx, const uint8_t group_id[TES_ACCESS_GROUP_ID_LEN],
                         tes_access_endpoint *out)
{
    tes_wallet_keyring *kr = ctx;
    tes_store *s = tes_wallet_store(kr->w);
    tes_store_access_key k;
    tes_err e = tes_store_access_key_find(s, TES_BYTES(group_id, TES_ACCESS_GROUP_ID_LEN),
                                          tes_clock_now(&kr->clock), &k);
    if (e != TES_OK)
        return e;
    if (!row_sizes_ok(&k)) {
        tes_store_access_key_clear(&k);
        return tes_err_set(TES_ERR_STORE_CORRUPT, "door key row with members of the wrong size");
    }
    memset(out, 0, sizeof *out);
    snprintf(out->se_key_id, sizeof out->se_key_id, "%s", k.se_key_id);
    memcpy(out->endpoint_key, k.endpoint_key.ptr, TES_ACCESS_POINT_LEN);
    memcpy(out->group_id, k.group_id.ptr, TES_ACCESS_GROUP_ID_LEN);
    memcpy(out->reader_key, k.reader_key.ptr, TES_ACCESS_POINT_LEN);
    memcpy(out->key_slot, k.key_id.ptr, sizeof out->key_slot);
    tes_access_timestamp(k.issued_at, out->issued_at);
    out->signaling = TES_ACCESS_SIG_ACCESS_DOC | TES_ACCESS_SIG_STEPUP_SELECT;
    tes_buf rev = {0};
    int64_t version = 0;
    if (tes_store_access_revocation_get(s, tes_buf_bytes(&k.group_id), &version, &rev) == TES_OK) {
        tes_access_timestamp(version, out->revoked_at);
        out->signaling |= TES_ACCESS_SIG_REVOCATION_DOC;
    }
    tes_buf_free(&rev);
    kr->row = k.id;
    memcpy(kr->endpoint_key, out->endpoint_key, TES_ACCESS_POINT_LEN);
    snprintf(kr->issuer, sizeof kr->issuer, "%s", k.issuer);
    snprintf(kr->rooms, sizeof kr->rooms, "%s", k.rooms);
    tes_store_access_key_clear(&k);
    return TES_OK;
}

/* The store row of endpoint e (the last find's, or looked up). */
static tes_err ring_row(tes_wallet_keyring *kr, const tes_access_endpoint *e, int64_t *row)
{
    if (kr->row && memcmp(kr->endpoint_key, e->endpoint_key, TES_ACCESS_POINT_LEN) == 0) {
        *row = kr->row;
        return TES_OK;
    }
    tes_store_access_key k;
    tes_err err = tes_store_access_key_by_endpoint(
        tes_wallet_store(kr->w), TES_BYTES(e->endpoint_key, TES_ACCESS_POINT_LEN), &k);
    if (err == TES_OK)
        *row = k.id;
    tes_store_access_key_clear(&k);
    return err;
}

static tes_err ring_kp_get(void *ctx, const tes_access_endpoint *e,
                           const uint8_t reader_id[TES_ACCESS_READER_ID_LEN], uint8_t k[32])
{
    tes_wallet_keyring *kr = ctx;
    int64_t row = 0;
    tes_err err = ring_row(kr, e, &row);
    if (err == TES_OK)
        err = tes_store_access_persistent_get(tes_wallet_store(kr->w), row,
                                              TES_BYTES(reader_id, TES_ACCESS_READER_ID_LEN), k);
    return err;
}

static tes_err ring_kp_put(void *ctx, const tes_access_endpoint *e,
                           const uint8_t reader_id[TES_ACCESS_READER_ID_LEN], const uint8_t k[32])
{
    tes_wallet_keyring *kr = ctx;
    int64_t row = 0;
    tes_err err = ring_row(kr, e, &row);
    if (err == TES_OK)
        err = tes_store_access_persistent_put(tes_wallet_store(kr->w), row,
                                              TES_BYTES(reader_id, TES_ACCESS_READER_ID_LEN), k);
    return err;
}

static tes_err ring_docs(void *ctx, const tes_access_endpoint *e, const char *doctype,
                         tes_buf *items, size_t *n)
{
    tes_wallet_keyring *kr = ctx;
    tes_store *s = tes_wallet_store(kr->w);
    *n = 0;
    if (strcmp(doctype, TES_ACCESS_DOCTYPE) == 0) {
        tes_store_access_key k;
        tes_err err = tes_store_access_key_by_endpoint(
            s, TES_BYTES(e->endpoint_key, TES_ACCESS_POINT_LEN), &k);
        if (err == TES_OK && k.active && k.document.len) {
            tes_buf_append(items, k.document.ptr, k.document.len);
            *n = 1;
        }
        tes_store_access_key_clear(&k);
        return err == TES_ERR_NOT_FOUND ? TES_OK : err;
    }
    if (strcmp(doctype, TES_REVOCATION_DOCTYPE) == 0) {
        tes_buf rev = {0};
        int64_t version = 0;
        tes_err err = tes_store_access_revocation_get(
            s, TES_BYTES(e->group_id, TES_ACCESS_GROUP_ID_LEN), &version, &rev);
        if (err == TES_OK) {
            tes_buf_append(items, rev.ptr, rev.len);
            *n = 1;
        }
        tes_buf_free(&rev);
        return err == TES_ERR_NOT_FOUND ? TES_OK : err;
    }
    return TES_OK;
}

static void ring_event(void *ctx, const tes_access_endpoint *e, uint16_t status)
{
    tes_wallet_keyring *kr = ctx;
    kr->verdicts++;
    kr->last_status = status;
    kr->last_key = 0;
    kr->last_issuer[0] = kr->last_rooms[0] = '\0';
    int64_t row = 0;
    if (e && ring_row(kr, e, &row) == TES_OK) {
        kr->last_key = row;
        if (row == kr->row) {
            snprintf(kr->last_issuer, sizeof kr->last_issuer, "%s", kr->issuer);
            snprintf(kr->last_rooms, sizeof kr->last_rooms, "%s", kr->rooms);
        }
    }
    char outcome[40];
    if (status == TES_ACCESS_STATUS_UNLOCKED)
        snprintf(outcome, sizeof outcome, "opened");
    else
        snprintf(outcome, sizeof outcome, "refused (status %04X)", (unsigned)status);
    const tes_store_log_entry le = {
        .relying_party = kr->last_issuer[0] ? kr->last_issuer : "unknown reader",
        .elements = "door key",
        .outcome = outcome,
        .at = tes_clock_now(&kr->clock),
    };
    if (tes_store_log_add(tes_wallet_store(kr->w), &le) != TES_OK) {
        /* the door's verdict stands; a log the disk refused is not the reader's business */
    }
}

tes_err tes_wallet_keyring_new(tes_wallet *w, const tes_clock *clock, tes_wallet_keyring **out)
{
    if (w == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_keyring_new: NULL argument");
    tes_wallet_keyring *kr = calloc(1, sizeof *kr);
    if (kr == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    kr->w = w;
    kr->clock = clock ? *clock : tes_clock_system();
    kr->ring = (tes_access_keyring){kr, ring_find, ring_kp_get, ring_kp_put, ring_docs, ring_event};
    *out = kr;
    return TES_OK;
}

const tes_access_keyring *tes_wallet_keyring_ring(tes_wallet_keyring *k)
{
    return k ? &k->ring : NULL;
}

unsigned tes_wallet_keyring_verdicts(const tes_wallet_keyring *k, uint16_t *last_status,
                                     int64_t *key_id)
{
    if (k == NULL)
        return 0;
    if (last_status)
        *last_status = k->last_status;
    if (key_id)
        *key_id = k->last_key;
    return k->verdicts;
}

void tes_wallet_keyring_free(tes_wallet_keyring *k)
{
    free(k);
}

const char *tes_wallet_tap_status_text(uint16_t status)
{
    switch (status) {
    case TES_ACCESS_STATUS_UNLOCKED:
        return "unlocked";
    case TES_ACCESS_STATUS_LOCKED:
        return "the door stays locked";
    case TES_ACCESS_STATUS_FAILURE:
        return "the lock refused the key (no reason given)";
    case TES_ACCESS_STATUS_NOT_FOUND:
        return "the lock does not know this key";
    case TES_ACCESS_STATUS_EXPIRED:
        return "the key is not valid now (before check-in or after check-out)";
    case TES_ACCESS_STATUS_NOT_TRUSTED:
        return "the key is not trusted (revoked, or from another hotel)";
    case TES_ACCESS_STATUS_BAD_SIGNATURE:
        return "the key's signature is wrong";
    case TES_ACCESS_STATUS_NO_RIGHTS:
        return "the key does not open this door (room or schedule)";
    default:
        return "the lock refused the key";
    }
}

/* ---- the tap ---- */

typedef struct tap {
    tes_access_device *dev;
    tes_wallet_keyring *kr;
    unsigned want;
} tap;

static tes_err tap_process(void *ctx, tes_bytes command, tes_buf *response)
{
    return tes_access_device_process(((tap *)ctx)->dev, command, response);
}

static void tap_reset(void *ctx)
{
    tes_access_device_reset(((tap *)ctx)->dev);
}

static bool tap_finished(void *ctx)
{
    tap *t = ctx;
    return tes_wallet_keyring_verdicts(t->kr, NULL, NULL) >= t->want;
}

tes_err tes_wallet_tap(tes_wallet *w, const tes_wallet_tap_opts *o, tes_wallet_tap_result *r)
{
    if (r)
        memset(r, 0, sizeof *r);
    if (w == NULL || r == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_tap: NULL argument");
    static const tes_wallet_tap_opts defaults = {0};
    if (o == NULL)
        o = &defaults;
    tap t = {.want = o->count ? o->count : 1};
    tes_err e = tes_wallet_keyring_new(w, o->clock, &t.kr);
    if (e != TES_OK)
        return e;
    const tes_access_device_opts d = {
        .se = tes_wallet_se(w), .ring = tes_wallet_keyring_ring(t.kr), .rng = o->rng};
    if ((e = tes_access_device_new(&d, &t.dev)) != TES_OK)
        goto out;
    const tes_card card = {tap_process, tap_reset, tap_finished, &t, TES_WALLET_TAP_LINGER_MS};
    e = tes_vpcd_serve(&card, o->vpcd,
                       o->timeout_ms > 0 ? o->timeout_ms : TES_WALLET_TAP_TIMEOUT_MS, o->stop);
    r->transactions = tes_wallet_keyring_verdicts(t.kr, &r->status, &r->key_id);
    r->has_status = r->transactions > 0;
    r->opened = r->has_status && r->status == TES_ACCESS_STATUS_UNLOCKED;
    if (r->has_status) {
        snprintf(r->issuer, sizeof r->issuer, "%s", t.kr->last_issuer);
        snprintf(r->rooms, sizeof r->rooms, "%s", t.kr->last_rooms);
    }
out:
    tes_access_device_free(t.dev);
    tes_wallet_keyring_free(t.kr);
    return e;
}
