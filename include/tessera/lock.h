/*
 * tessera/lock.h — the door lock: its crash-safe store (endpoints it has
 * authenticated, with their persistent keys and grants; the revocation
 * watermark; its log) and its decisions over the access engine (access.h).
 *
 * A lock directory holds lock.json (group id, instance id, the door's room,
 * the hotel's issuer key, limits), reader_key.pem (0600: the reader group's
 * private key, which signs AUTH1) and lock.db (SQLite, the store below).
 * See docs/KEYS.md.
 */
#ifndef TESSERA_LOCK_H
#define TESSERA_LOCK_H

#include "tessera/access.h"
#include "tessera/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An endpoint the lock knows: authenticated by a standard transaction and
 * granted by a verified access document. */
typedef struct tes_lock_endpoint {
    uint8_t endpoint_key[TES_ACCESS_POINT_LEN];
    uint8_t kpersistent[32]; /* secret */
    tes_access_grant grant;
    int64_t last_used;
} tes_lock_endpoint;

/* ---- the store (declared by the lock-store helper) ---- */

/*
 * The lock's store: one SQLite file (lock.db), src/lock/store.c.
 *
 * Durability: journal_mode=WAL with synchronous=FULL; every change below is
 * one BEGIN IMMEDIATE ... COMMIT transaction (rolled back on any error), so
 * a process killed at any instant (SIGKILL, power loss) leaves the last
 * committed state: a revocation once applied is never lost, a persistent key
 * is never half-written. secure_delete is on: an evicted or revoked
 * endpoint's persistent key is overwritten in the file, not left in a free
 * page.
 *
 * Files: a missing file is created with mode 0600 (O_CREAT|O_EXCL, the last
 * component must not be a symbolic link); an existing file must be the
 * caller's (effective uid) and neither readable nor writable by its group or
 * others (it holds persistent keys). A non-empty file that is not SQLite, or
 * an SQLite database of another application (PRAGMA application_id "TESL"),
 * is refused unmodified. The schema is versioned (PRAGMA user_version).
 *
 * Threads and processes: a tes_lock_store is one SQLite connection; use it
 * from one thread at a time. Several processes may open the same file (a
 * write lock held by another is waited for up to 5000 ms, then
 * TES_ERR_BUSY). Do not carry an open store across fork(): the child opens
 * its own.
 *
 * Errors common to every function: TES_ERR_ARG (a NULL or out-of-range
 * argument, said which in the message), TES_ERR_STORE (SQLite failed),
 * TES_ERR_STORE_CORRUPT (the file is damaged), TES_ERR_BUSY (locked by
 * another process beyond the timeout), TES_ERR_NOMEM.
 */
typedef struct tes_lock_store tes_lock_store;

#define TES_LOCK_LOG_KEEP 10000     /* log rows kept (the oldest are trimmed) */
#define TES_LOCK_LOG_DETAIL_MAX 200 /* bytes of a log entry's detail */
#define TES_LOCK_META_NAME_MAX 64   /* bytes of a counter's name */

/* Opens (creating when missing) the store at path; *out is the caller's
 * (tes_lock_store_close). Errors: TES_ERR_STORE (cannot create or open, not
 * a regular file, a schema newer than this build), TES_ERR_STORE_CORRUPT
 * (not SQLite, another application's database, or tables missing),
 * TES_ERR_DIR_UNSAFE (another user's file, or group/other mode bits set),
 * TES_ERR_BUSY, TES_ERR_ARG, TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_lock_store_open(const char *path, tes_lock_store **out);
/* Closes the store (NULL is fine). Everything committed is on disk already. */
void tes_lock_store_close(tes_lock_store *s);

/* ---- endpoints: the cache of authenticated endpoints, most recently used first.
 * Order: last_used, newest first; equal last_used: the one put or touched
 * last first. Copies out include the persistent key (a secret): the caller
 * wipes them (tes_wipe) when done. */

/* At most max endpoints into out[0..max), most recently used first; *n
 * receives their number (0 when none). Errors: common ones. */
TES_MUST_CHECK tes_err tes_lock_store_endpoints(tes_lock_store *s, tes_lock_endpoint *out,
                                                size_t max, size_t *n);
/* The endpoint whose endpoint_key is key. Errors: TES_ERR_NOT_FOUND, common ones. */
TES_MUST_CHECK tes_err tes_lock_store_endpoint_get(tes_lock_store *s,
                                                   const uint8_t key[TES_ACCESS_POINT_LEN],
                                                   tes_lock_endpoint *out);
/* Inserts e or replaces the endpoint with the same endpoint_key (persistent
 * key, grant and last_used all taken from e), then evicts the least recently
 * used beyond max_endpoints (>= 1), in one transaction. e->grant.rooms[i]
 * must be NUL-terminated for i < n_rooms (<= TES_ACCESS_MAX_ROOMS); rooms past
 * n_rooms are not stored and every name reads back NUL-padded (zeros after
 * its end, zeros in the unused rooms). Errors:
 * TES_ERR_ACCESS_REVOKED (e->grant.key_id is in the applied revocation:
 * nothing stored), TES_ERR_ARG (bad rooms, max_endpoints 0), common ones. */
TES_MUST_CHECK tes_err tes_lock_store_endpoint_put(tes_lock_store *s, const tes_lock_endpoint *e,
                                                   size_t max_endpoints);
/* Marks an endpoint used at `now` (it becomes the most recently used).
 * Errors: TES_ERR_NOT_FOUND, common ones. */
TES_MUST_CHECK tes_err tes_lock_store_endpoint_touch(tes_lock_store *s,
                                                     const uint8_t key[TES_ACCESS_POINT_LEN],
                                                     int64_t now);
/* Forgets an endpoint (its persistent key overwritten in the file).
 * Errors: TES_ERR_NOT_FOUND, common ones. */
TES_MUST_CHECK tes_err tes_lock_store_endpoint_delete(tes_lock_store *s,
                                                      const uint8_t key[TES_ACCESS_POINT_LEN]);

/* ---- revocation: the newest revocation document applied (its version is
 * the lock's revocation watermark) */

/* The applied revocation: version 0, no keys and a zero group id when none
 * was ever applied. Errors: common ones. */
TES_MUST_CHECK tes_err tes_lock_store_revocation(tes_lock_store *s, tes_access_revocation *out);
/* Applies a verified revocation document (the caller has checked its
 * signature and that it is for this lock's group): in one transaction, its
 * version and its whole set of revoked key ids replace the stored ones, and
 * every cached endpoint whose grant.key_id is in the set is deleted.
 * Errors: TES_ERR_ACCESS_ROLLBACK (r->version <= the stored version: nothing
 * changes), TES_ERR_ARG (version <= 0, n_keys > TES_ACCESS_MAX_REVOKED, or a
 * group id other than the one of the revocation applied before), common ones. */
TES_MUST_CHECK tes_err tes_lock_store_revocation_apply(tes_lock_store *s,
                                                       const tes_access_revocation *r);
/* Whether key_id is in the applied revocation. Errors: common ones. */
TES_MUST_CHECK tes_err tes_lock_store_is_revoked(tes_lock_store *s,
                                                 const uint8_t key_id[TES_ACCESS_KEY_ID_LEN],
                                                 bool *revoked);

/* ---- log: what the lock decided, for `tessera lock log` */

/* Appends one entry and trims the log to the newest TES_LOCK_LOG_KEEP rows,
 * in one transaction. outcome: "unlocked" or "refused"; flow: "fast",
 * "standard", "step-up" or "none"; reason: TES_OK or the refusal's code;
 * key_id (16 bytes) and detail (at most TES_LOCK_LOG_DETAIL_MAX bytes) may be
 * NULL. detail is stored made printable (tes_text_printable). Errors:
 * TES_ERR_ARG (another outcome or flow, detail too long), common ones. */
TES_MUST_CHECK tes_err tes_lock_store_log(tes_lock_store *s, int64_t at, const char *outcome,
                                          const char *flow, tes_err reason, const uint8_t *key_id,
                                          const char *detail);
/* Appends the newest max_rows entries (0: all kept) to json_lines, oldest
 * first, newest last, one JSON object a line ("\n"-terminated):
 * {"at":N,"time":"YYYY-MM-DDTHH:MM:SSZ","outcome":..,"flow":..,
 *  "reason":tes_err_name(reason),"key_id":hex|null,"detail":text|null}.
 * Errors: common ones. */
TES_MUST_CHECK tes_err tes_lock_store_log_list(tes_lock_store *s, size_t max_rows,
                                               tes_buf *json_lines);

/* ---- counters: named integers (e.g. the rate limiter's window) */

/* name: 1..TES_LOCK_META_NAME_MAX bytes. get errors: TES_ERR_NOT_FOUND,
 * common ones; put (insert or replace, one transaction): common ones. */
TES_MUST_CHECK tes_err tes_lock_store_meta_get(tes_lock_store *s, const char *name, int64_t *value);
TES_MUST_CHECK tes_err tes_lock_store_meta_put(tes_lock_store *s, const char *name, int64_t value);

/* ---- the lock ---- */

#define TES_LOCK_DEFAULT_MAX_ENDPOINTS 64
#define TES_LOCK_DEFAULT_STANDARD_PER_MINUTE 30

/* What `tessera lock init` writes into a lock directory. */
typedef struct tes_lock_init_params {
    char hotel[64];                                /* the hotel's name (for logs) */
    uint8_t group_id[TES_ACCESS_GROUP_ID_LEN];
    uint8_t instance_id[TES_ACCESS_GROUP_ID_LEN];  /* this door's reader instance */
    char room[TES_ACCESS_ROOM_MAX];                /* the door: a room or a door name */
    const tes_key *reader_key;                     /* the group's private key */
    const tes_key *issuer_key;                     /* the hotel's document signer (public) */
    size_t max_endpoints;                          /* 0: TES_LOCK_DEFAULT_MAX_ENDPOINTS */
    unsigned standard_per_minute;                  /* 0: TES_LOCK_DEFAULT_STANDARD_PER_MINUTE */
} tes_lock_init_params;

/* Creates dir (0700) with lock.json, reader_key.pem (0600, O_EXCL) and an
 * empty lock.db. Errors: TES_ERR_EXISTS (a lock is there already),
 * TES_ERR_IO, TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_lock_init(const char *dir, const tes_lock_init_params *p);

typedef struct tes_lock_opts {
    const tes_clock *clock; /* NULL: the system's */
    const tes_rng *rng;     /* NULL: the system's */
} tes_lock_opts;

typedef struct tes_lock tes_lock;
/* Opens a lock directory. Errors: TES_ERR_LOCK_CONFIG (lock.json missing or
 * inconsistent, reader key unreadable or not the group's), the store's. */
TES_MUST_CHECK tes_err tes_lock_open(const char *dir, const tes_lock_opts *o, tes_lock **out);
void tes_lock_close(tes_lock *l);

/* The outcome of one tap. */
typedef struct tes_lock_outcome {
    bool unlocked;
    tes_access_flow flow;
    tes_err reason;                  /* TES_OK when unlocked */
    char detail[200];                /* what the log says */
    bool has_key_id;
    uint8_t key_id[TES_ACCESS_KEY_ID_LEN];
    bool learned_revocation;         /* a newer revocation document was applied */
} tes_lock_outcome;

/* One transaction with the phone behind `transmit`: the fast path for an
 * endpoint the lock knows (its grant checked again), else AUTH1 and, for an
 * endpoint it does not know or whose document is newer, the access document
 * by step-up; a revocation document when the phone announces one newer than
 * the lock's watermark. The grant must cover this door's room, now (check-in
 * to check-out, the daily window) and not be revoked. The reader's verdict is
 * sent to the phone and the outcome logged. Returns TES_OK when the
 * transaction reached a verdict (out->unlocked says which; out->reason is
 * TES_ERR_ACCESS_* for a refusal); link and protocol failures are returned
 * (and logged as refusals). Full (standard) transactions are limited to
 * standard_per_minute: beyond it the phone is refused before AUTH1
 * (TES_ERR_ACCESS_RATE), so a phone cannot make the lock sign without end. */
TES_MUST_CHECK tes_err tes_lock_transaction(tes_lock *l, tes_apdu_transmit_fn transmit, void *ctx,
                                            tes_lock_outcome *out);
/* Applies a revocation document brought by maintenance (not by a phone).
 * Errors: TES_ERR_ACCESS_ISSUER, TES_ERR_ACCESS_DOC_FORMAT, TES_ERR_ACCESS_DENIED
 * (another group), TES_ERR_ACCESS_ROLLBACK, the store's. */
TES_MUST_CHECK tes_err tes_lock_apply_revocation(tes_lock *l, tes_bytes revocation_doc);
/* The lock's store (borrowed; valid until tes_lock_close). */
tes_lock_store *tes_lock_store_of(tes_lock *l);
/* This door's room. */
const char *tes_lock_room(const tes_lock *l);

#ifdef __cplusplus
}
#endif
#endif
