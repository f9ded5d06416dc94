/*
 * The door lock's decisions (docs/KEYS.md, "The lock"): which path a tap takes, what it
 * checks, what it learns and remembers. The protocol itself is the access engine's
 * (src/access/reader.c); what the lock remembers lives in its store (store.c).
 *
 *   fast      a known endpoint: its cached grant is checked again (time, room, revocation)
 *   standard  AUTH1; a known endpoint's grant is checked, an unknown one needs step-up
 *   step-up   the access document (unknown endpoint, or a newer one announced in 91) and
 *             the revocation document when the phone announces one newer than the lock's
 *             watermark (92); revocations apply before the grant is judged
 * Only granted endpoints are cached (at most max_endpoints, least recently used evicted),
 * so the fast path never opens for a key the lock would refuse.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tessera/lock.h"

#define LOCK_JSON_MAX 16384
#define MAX_ISSUERS 4
#define RATE_WINDOW 60 /* seconds */

struct tes_lock {
    char hotel[64];
    uint8_t group_id[TES_ACCESS_GROUP_ID_LEN];
    uint8_t reader_id[TES_ACCESS_READER_ID_LEN];
    char room[TES_ACCESS_ROOM_MAX];
    tes_key *reader_key;
    tes_key *issuers[MAX_ISSUERS];
    size_t n_issuers;
    size_t max_endpoints;
    unsigned standard_per_minute;
    tes_lock_store *store;
    tes_clock clock;
    const tes_rng *rng;
    int64_t rate_window_start; /* the current minute's standard transactions */
    unsigned rate_count;
};

/* ---------------------------------------------------------------- configuration */

static tes_err cfg_fail(const char *dir, const char *what)
{
    return tes_err_set(TES_ERR_LOCK_CONFIG, "lock %s: %s", dir, what);
}

static tes_err point_of(const tes_key *k, uint8_t out[TES_ACCESS_POINT_LEN])
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    if (tes_key_curve(k) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_ARG, "lock: keys must be P-256");
    tes_err err = tes_key_public_raw(k, x, y);
    if (err)
        return err;
    out[0] = 0x04;
    memcpy(out + 1, x, 32);
    memcpy(out + 33, y, 32);
    return TES_OK;
}

static bool room_ok(const char *room)
{
    size_t n = strlen(room);
    if (n == 0 || n >= TES_ACCESS_ROOM_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (room[i] < 0x21 || room[i] > 0x7E)
            return false;
    return true;
}

tes_err tes_lock_init(const char *dir, const tes_lock_init_params *p)
{
    if (!dir || !p || !p->reader_key || !p->issuer_key || !tes_key_has_private(p->reader_key))
        return tes_err_set(TES_ERR_ARG, "tes_lock_init: missing argument or reader key");
    if (!room_ok(p->room))
        return tes_err_set(TES_ERR_ARG, "lock: room \"%s\" is not 1 to %d printable characters",
                           p->room, TES_ACCESS_ROOM_MAX - 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/lock.json", dir);
    struct stat st;
    if (stat(path, &st) == 0)
        return tes_err_set(TES_ERR_EXISTS, "lock: %s exists already", path);
    bool created;
    tes_err err = tes_dir_secret(dir, &created);
    if (err)
        return err;
    uint8_t issuer[TES_ACCESS_POINT_LEN];
    char gid[33], iid[33], ihex[2 * TES_ACCESS_POINT_LEN + 1];
    err = point_of(p->issuer_key, issuer);
    if (err)
        return err;
    tes_hex_str(gid, TES_BYTES(p->group_id, 16));
    tes_hex_str(iid, TES_BYTES(p->instance_id, 16));
    tes_hex_str(ihex, TES_BYTES(issuer, TES_ACCESS_POINT_LEN));
    json_t *j = json_pack(
        "{s:i, s:s, s:s, s:s, s:s, s:[s], s:I, s:I}", "version", 1, "hotel", p->hotel, "group_id",
        gid, "instance_id", iid, "room", p->room, "issuer_keys", ihex, "max_endpoints",
        (json_int_t)(p->max_endpoints ? p->max_endpoints : TES_LOCK_DEFAULT_MAX_ENDPOINTS),
        "standard_per_minute",
        (json_int_t)(p->standard_per_minute ? p->standard_per_minute
                                            : TES_LOCK_DEFAULT_STANDARD_PER_MINUTE));
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text)
        return tes_err_set(TES_ERR_NOMEM, "lock: out of memory");
    tes_buf pem = {.secret = true};
    err = tes_key_to_pem(p->reader_key, true, &pem);
    char kpath[4096];
    snprintf(kpath, sizeof kpath, "%s/reader_key.pem", dir);
    if (!err)
        err = tes_file_write(kpath, tes_buf_bytes(&pem), 0600);
    tes_buf_free(&pem);
    if (!err) {
        tes_lock_store *s = NULL;
        snprintf(kpath, sizeof kpath, "%s/lock.db", dir);
        err = tes_lock_store_open(kpath, &s);
        tes_lock_store_close(s);
    }
    if (!err) /* last: lock.json makes the directory a lock */
        err = tes_file_write(path, TES_BYTES(text, strlen(text)), 0644);
    free(text);
    return err;
}

static tes_err load_config(tes_lock *l, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lock.json", dir);
    tes_buf text = {0};
    tes_err err = tes_file_read(path, LOCK_JSON_MAX, &text);
    if (err) {
        tes_buf_free(&text);
        return tes_err_set(TES_ERR_LOCK_CONFIG, "lock %s: cannot read lock.json: %s", dir,
                           tes_err_message());
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, &je);
    tes_buf_free(&text);
    if (!j)
        return cfg_fail(dir, "lock.json is not JSON");
    const char *hotel = NULL, *gid = NULL, *iid = NULL, *room = NULL;
    json_t *issuers = NULL;
    json_int_t ver = 0, max_ep = 0, rate = 0;
    if (json_unpack(j, "{s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:I}", "version", &ver, "hotel", &hotel,
                    "group_id", &gid, "instance_id", &iid, "room", &room, "issuer_keys", &issuers,
                    "max_endpoints", &max_ep, "standard_per_minute", &rate) != 0)
        err = cfg_fail(dir, "lock.json lacks a member or has one of the wrong type");
    else if (ver != 1)
        err = cfg_fail(dir, "lock.json is of another version");
    else if (!tes_hex_fixed(gid, l->reader_id, 16) || !tes_hex_fixed(iid, l->reader_id + 16, 16))
        err = cfg_fail(dir, "group_id / instance_id are not 32 hex digits");
    else if (!room_ok(room) || strlen(hotel) >= sizeof l->hotel)
        err = cfg_fail(dir, "room or hotel name out of bounds");
    else if (!json_is_array(issuers) || json_array_size(issuers) == 0 ||
             json_array_size(issuers) > MAX_ISSUERS)
        err = cfg_fail(dir, "issuer_keys is not a list of 1 to 4 keys");
    else if (max_ep < 1 || max_ep > 4096 || rate < 1 || rate > 100000)
        err = cfg_fail(dir, "max_endpoints or standard_per_minute out of bounds");
    for (size_t i = 0; !err && i < json_array_size(issuers); i++) {
        uint8_t pt[TES_ACCESS_POINT_LEN];
        const char *h = json_string_value(json_array_get(issuers, i));
        if (!tes_hex_fixed(h, pt, sizeof pt) || pt[0] != 0x04 ||
            tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(pt + 1, 32), TES_BYTES(pt + 33, 32),
                                  &l->issuers[i]) != TES_OK)
            err = cfg_fail(dir, "an issuer key is not an uncompressed P-256 point");
        else
            l->n_issuers++;
    }
    if (!err) {
        memcpy(l->group_id, l->reader_id, 16);
        snprintf(l->hotel, sizeof l->hotel, "%s", hotel);
        snprintf(l->room, sizeof l->room, "%s", room);
        l->max_endpoints = (size_t)max_ep;
        l->standard_per_minute = (unsigned)rate;
    }
    json_decref(j);
    return err;
}

tes_err tes_lock_open(const char *dir, const tes_lock_opts *o, tes_lock **out)
{
    if (!dir || !out)
        return tes_err_set(TES_ERR_ARG, "tes_lock_open: NULL argument");
    *out = NULL;
    tes_lock *l = calloc(1, sizeof *l);
    if (!l)
        return tes_err_set(TES_ERR_NOMEM, "lock: out of memory");
    l->clock = o && o->clock ? *o->clock : tes_clock_system();
    l->rng = o ? o->rng : NULL;
    tes_err err = load_config(l, dir);
    char path[4096];
    if (!err) {
        snprintf(path, sizeof path, "%s/reader_key.pem", dir);
        if (tes_access_key_read(path, &l->reader_key) != TES_OK)
            err = cfg_fail(dir, "reader_key.pem is not a P-256 private key");
    }
    if (!err) {
        snprintf(path, sizeof path, "%s/lock.db", dir);
        err = tes_lock_store_open(path, &l->store);
    }
    if (err) {
        tes_lock_close(l);
        return err;
    }
    *out = l;
    return TES_OK;
}

void tes_lock_close(tes_lock *l)
{
    if (!l)
        return;
    tes_key_free(l->reader_key);
    for (size_t i = 0; i < l->n_issuers; i++)
        tes_key_free(l->issuers[i]);
    tes_lock_store_close(l->store);
    tes_wipe(l, sizeof *l);
    free(l);
}

tes_lock_store *tes_lock_store_of(tes_lock *l)
{
    return l ? l->store : NULL;
}
const char *tes_lock_room(const tes_lock *l)
{
    return l ? l->room : "";
}

/* ---------------------------------------------------------------- decisions */

typedef struct tap {
    tes_lock *l;
    tes_lock_outcome *out;
    tes_access_reader *x;
    tes_access_result r;
    int64_t now;
    bool known;                     /* the endpoint is in the store */
    tes_lock_endpoint ep;           /* its record (known) or the one being learned */
    const tes_lock_endpoint *cache; /* the store's endpoints, read once for this tap */
    size_t n_cache;
} tap;

/* The store's record of an endpoint, from what this tap read of it already. */
static bool cached(tap *t, const uint8_t key[TES_ACCESS_POINT_LEN])
{
    for (size_t i = 0; i < t->n_cache; i++) {
        if (memcmp(t->cache[i].endpoint_key, key, TES_ACCESS_POINT_LEN) == 0) {
            t->ep = t->cache[i];
            return true;
        }
    }
    return false;
}

static tes_err refuse(tap *t, tes_err reason, const char *fmt, const char *arg)
{
    t->out->unlocked = false;
    t->out->reason = reason;
    snprintf(t->out->detail, sizeof t->out->detail, fmt, arg);
    return reason;
}

static uint16_t status_for(tes_err reason)
{
    switch (reason) {
    case TES_ERR_ACCESS_EXPIRED:
        return TES_ACCESS_STATUS_EXPIRED;
    case TES_ERR_ACCESS_REVOKED:
    case TES_ERR_ACCESS_ISSUER:
        return TES_ACCESS_STATUS_NOT_TRUSTED;
    case TES_ERR_ACCESS_DENIED:
        return TES_ACCESS_STATUS_NO_RIGHTS;
    case TES_ERR_ACCESS_ENDPOINT:
        return TES_ACCESS_STATUS_NOT_FOUND;
    default:
        return TES_ACCESS_STATUS_FAILURE;
    }
}

static const char *flow_name(tes_access_flow f)
{
    switch (f) {
    case TES_ACCESS_FLOW_FAST:
        return "fast";
    case TES_ACCESS_FLOW_STANDARD:
        return "standard";
    case TES_ACCESS_FLOW_STEP_UP:
        return "step-up";
    default:
        return "none";
    }
}

/* Does the grant open this door now? */
static tes_err judge(tap *t, const tes_access_grant *g)
{
    tes_lock *l = t->l;
    bool revoked = false;
    tes_err err = tes_lock_store_is_revoked(l->store, g->key_id, &revoked);
    if (err)
        return err;
    t->out->has_key_id = true;
    memcpy(t->out->key_id, g->key_id, TES_ACCESS_KEY_ID_LEN);
    if (revoked)
        return refuse(t, TES_ERR_ACCESS_REVOKED, "the key was revoked%s", "");
    if (memcmp(g->group_id, l->group_id, TES_ACCESS_GROUP_ID_LEN) != 0)
        return refuse(t, TES_ERR_ACCESS_DENIED, "the key is for another group of doors%s", "");
    if (t->now < g->not_before)
        return refuse(t, TES_ERR_ACCESS_EXPIRED, "the key is not valid yet (before check-in)%s",
                      "");
    if (t->now >= g->not_after)
        return refuse(t, TES_ERR_ACCESS_EXPIRED, "the key has expired (after check-out)%s", "");
    bool room = false;
    for (size_t i = 0; i < g->n_rooms && i < TES_ACCESS_MAX_ROOMS; i++)
        room |= strncmp(g->rooms[i], l->room, TES_ACCESS_ROOM_MAX) == 0;
    if (!room)
        return refuse(t, TES_ERR_ACCESS_DENIED, "the key does not open room %s", l->room);
    if (g->daily_from != g->daily_until) {
        int64_t day = t->now % 86400;
        unsigned minute = (unsigned)((day < 0 ? day + 86400 : day) / 60);
        bool in = g->daily_from < g->daily_until
                      ? minute >= g->daily_from && minute < g->daily_until
                      : minute >= g->daily_from || minute < g->daily_until; /* over midnight */
        if (!in)
            return refuse(t, TES_ERR_ACCESS_DENIED, "outside the key's daily hours%s", "");
    }
    return TES_OK;
}

static bool rate_take(tes_lock *l, int64_t now)
{
    if (now - l->rate_window_start >= RATE_WINDOW || now < l->rate_window_start) {
        l->rate_window_start = now;
        l->rate_count = 0;
    }
    if (l->rate_count >= l->standard_per_minute)
        return false;
    l->rate_count++;
    return true;
}

/* 20-byte timestamps compare as text ("YYYY-MM-DDTHH:MM:SSZ"; zeros sort first). */
static int ts_cmp(const uint8_t a[TES_ACCESS_TIMESTAMP_LEN],
                  const uint8_t b[TES_ACCESS_TIMESTAMP_LEN])
{
    return memcmp(a, b, TES_ACCESS_TIMESTAMP_LEN);
}

/* Step-up: the documents the phone offers, verified and applied. */
static tes_err step_up(tap *t, bool want_access, bool want_revocation)
{
    tes_lock *l = t->l;
    tes_buf resp = {0};
    tes_err err = tes_access_reader_step_up(t->x, want_access, want_revocation, &resp, &t->r);
    tes_bytes docs[4];
    size_t n = 0;
    if (!err)
        err = tes_access_response_parse(tes_buf_bytes(&resp), docs, 4, &n);
    bool got_access = false;
    for (size_t i = 0; !err && i < n; i++) {
        if (tes_access_doc_is(docs[i], TES_REVOCATION_DOCTYPE)) {
            tes_access_revocation *rev = calloc(1, sizeof *rev);
            if (!rev) {
                err = tes_err_set(TES_ERR_NOMEM, "lock: out of memory");
                break;
            }
            err = tes_access_revocation_verify(docs[i], (const tes_key *const *)l->issuers,
                                               l->n_issuers, rev);
            if (!err && memcmp(rev->group_id, l->group_id, TES_ACCESS_GROUP_ID_LEN) != 0)
                err = TES_OK; /* another hotel's: not ours to apply */
            else if (!err) {
                err = tes_lock_store_revocation_apply(l->store, rev);
                if (err == TES_ERR_ACCESS_ROLLBACK)
                    err = TES_OK; /* the lock knew as much already */
                else if (!err)
                    t->out->learned_revocation = true;
            }
            free(rev);
            if (err)
                err = refuse(t, err, "the revocation document is refused: %s", tes_err_message());
        } else if (want_access && !got_access && tes_access_doc_is(docs[i], TES_ACCESS_DOCTYPE)) {
            tes_access_grant g;
            err = tes_access_doc_verify(docs[i], (const tes_key *const *)l->issuers, l->n_issuers,
                                        &g);
            if (err)
                err = refuse(t, err, "the access document is refused: %s", tes_err_message());
            else if (memcmp(g.endpoint_key, t->r.endpoint_key, TES_ACCESS_POINT_LEN) != 0)
                err = refuse(t, TES_ERR_ACCESS_ENDPOINT,
                             "the access document is for another phone's key%s", "");
            else {
                t->ep.grant = g;
                got_access = true;
            }
        }
    }
    tes_buf_free(&resp);
    if (!err && want_access && !got_access)
        err = refuse(t, TES_ERR_ACCESS_ENDPOINT,
                     "the phone is unknown to this lock and gave no access document%s", "");
    return err;
}

static tes_err remember(tap *t)
{
    memcpy(t->ep.endpoint_key, t->r.endpoint_key, TES_ACCESS_POINT_LEN);
    if (t->r.has_kpersistent)
        memcpy(t->ep.kpersistent, t->r.kpersistent, 32);
    t->ep.last_used = t->now;
    return tes_lock_store_endpoint_put(t->l->store, &t->ep, t->l->max_endpoints);
}

static tes_err decide(tap *t)
{
    tes_lock *l = t->l;
    tes_access_revocation *wm = calloc(1, sizeof *wm);
    if (!wm)
        return tes_err_set(TES_ERR_NOMEM, "lock: out of memory");
    tes_err err = tes_lock_store_revocation(l->store, wm);
    uint8_t watermark[TES_ACCESS_TIMESTAMP_LEN];
    tes_access_timestamp(wm->version, watermark);
    free(wm);
    if (err)
        return err;

    if (t->r.flow == TES_ACCESS_FLOW_FAST) {
        t->known = cached(t, t->r.endpoint_key);
        bool newer_rev = ts_cmp(t->r.revoked_at, watermark) > 0;
        uint8_t cached_ts[TES_ACCESS_TIMESTAMP_LEN] = {0};
        if (t->known)
            tes_access_timestamp(t->ep.grant.signed_at, cached_ts);
        bool newer_doc = t->known && ts_cmp(t->r.issued_at, cached_ts) > 0;
        if (t->known && !newer_rev && !newer_doc) {
            err = judge(t, &t->ep.grant);
            if (!err) {
                t->out->unlocked = true;
                if (tes_lock_store_endpoint_touch(l->store, t->ep.endpoint_key, t->now) != TES_OK)
                    snprintf(t->out->detail, sizeof t->out->detail,
                             "opened; the store could not note it: %s", tes_err_message());
            }
            return err;
        }
        /* the phone has news (a revocation or a newer key): the full path learns it */
    }
    if (!rate_take(l, t->now))
        return refuse(t, TES_ERR_ACCESS_RATE,
                      "too many full transactions this minute: try again shortly%s", "");
    err = tes_access_reader_auth1(t->x, &t->r);
    if (err == TES_ERR_ACCESS_READER || err == TES_ERR_ACCESS_ENDPOINT ||
        err == TES_ERR_ACCESS_CHANNEL)
        return refuse(t, err, "%s", tes_err_message());
    if (err)
        return err;
    t->known = cached(t, t->r.endpoint_key);
    uint8_t cached_ts[TES_ACCESS_TIMESTAMP_LEN] = {0};
    if (t->known)
        tes_access_timestamp(t->ep.grant.signed_at, cached_ts);
    bool want_access = !t->known || ts_cmp(t->r.issued_at, cached_ts) > 0;
    bool want_revocation =
        ts_cmp(t->r.revoked_at, watermark) > 0 && (t->r.signaling & TES_ACCESS_SIG_REVOCATION_DOC);
    if (want_access || want_revocation) {
        err = step_up(t, want_access, want_revocation);
        if (err)
            return err;
    }
    err = judge(t, &t->ep.grant);
    if (err) {
        /* a phone the lock knows has just stored the new persistent key: keep the lock's in
         * step, so that its next tap is judged on the fast path instead of costing a full
         * transaction (a revoked one is forgotten instead) */
        if (t->known && err != TES_ERR_ACCESS_REVOKED && remember(t) != TES_OK)
            snprintf(t->out->detail + strlen(t->out->detail),
                     sizeof t->out->detail - strlen(t->out->detail), " (store: %s)",
                     tes_err_message());
        return err;
    }
    err = remember(t);
    if (err)
        return err;
    t->out->unlocked = true;
    return TES_OK;
}

tes_err tes_lock_transaction(tes_lock *l, tes_apdu_transmit_fn transmit, void *ctx,
                             tes_lock_outcome *out)
{
    if (!l || !transmit || !out)
        return tes_err_set(TES_ERR_ARG, "tes_lock_transaction: NULL argument");
    memset(out, 0, sizeof *out);
    tap t = {.l = l, .out = out, .now = tes_clock_now(&l->clock)};
    tes_lock_endpoint *cache = calloc(l->max_endpoints, sizeof *cache);
    tes_access_known *known = calloc(l->max_endpoints, sizeof *known);
    size_t n = 0;
    tes_err err = cache && known ? TES_OK : tes_err_set(TES_ERR_NOMEM, "lock: out of memory");
    if (!err)
        err = tes_lock_store_endpoints(l->store, cache, l->max_endpoints, &n);
    for (size_t i = 0; !err && i < n; i++) {
        memcpy(known[i].endpoint_key, cache[i].endpoint_key, TES_ACCESS_POINT_LEN);
        memcpy(known[i].kpersistent, cache[i].kpersistent, 32);
    }
    t.cache = cache;
    t.n_cache = err ? 0 : n;
    tes_access_reader_opts o = {.reader_key = l->reader_key,
                                .fast = n > 0,
                                .policy = TES_ACCESS_POLICY_USER_DEVICE_SETTING,
                                .known = known,
                                .n_known = n,
                                .rng = l->rng,
                                .transmit = transmit,
                                .transmit_ctx = ctx};
    memcpy(o.reader_id, l->reader_id, TES_ACCESS_READER_ID_LEN);
    bool verdict = false;
    if (!err)
        err = tes_access_reader_begin(&o, &t.x, &t.r);
    if (!err) {
        tes_err d = decide(&t);
        verdict = d == TES_OK || (out->reason != TES_OK && d == out->reason);
        err = verdict ? TES_OK : d;
    }
    out->flow = t.r.flow;
    if (verdict && t.x) {
        tes_err f = tes_access_reader_finish(t.x, out->unlocked ? TES_ACCESS_STATUS_UNLOCKED
                                                                : status_for(out->reason));
        if (f && out->unlocked) { /* the phone did not get the verdict: it left */
            snprintf(out->detail, sizeof out->detail,
                     "unlocked; the phone left before the "
                     "verdict reached it");
        }
    }
    if (!verdict) {
        out->unlocked = false;
        out->reason = err;
        snprintf(out->detail, sizeof out->detail, "%s", tes_err_message());
    } else if (out->unlocked) {
        snprintf(out->detail, sizeof out->detail, "room %s opened", l->room);
    }
    tes_err logged = tes_lock_store_log(l->store, t.now, out->unlocked ? "unlocked" : "refused",
                                        flow_name(out->flow), out->unlocked ? TES_OK : out->reason,
                                        out->has_key_id ? out->key_id : NULL, out->detail);
    if (logged && !err) /* a lock that cannot keep its log says so */
        err = logged;
    if (known)
        tes_wipe(known, l->max_endpoints * sizeof *known);
    free(known);
    if (cache)
        tes_wipe(cache, l->max_endpoints * sizeof *cache);
    free(cache);
    tes_access_reader_free(t.x);
    tes_wipe(&t.ep, sizeof t.ep);
    tes_wipe(&t.r, sizeof t.r);
    return err;
}

tes_err tes_lock_apply_revocation(tes_lock *l, tes_bytes doc)
{
    if (!l)
        return tes_err_set(TES_ERR_ARG, "tes_lock_apply_revocation: NULL argument");
    tes_access_revocation *rev = calloc(1, sizeof *rev);
    if (!rev)
        return tes_err_set(TES_ERR_NOMEM, "lock: out of memory");
    tes_err err =
        tes_access_revocation_verify(doc, (const tes_key *const *)l->issuers, l->n_issuers, rev);
    if (!err && memcmp(rev->group_id, l->group_id, TES_ACCESS_GROUP_ID_LEN) != 0)
        err = tes_err_set(TES_ERR_ACCESS_DENIED,
                          "the revocation document is for another group of doors");
    if (!err)
        err = tes_lock_store_revocation_apply(l->store, rev);
    free(rev);
    return err;
}
