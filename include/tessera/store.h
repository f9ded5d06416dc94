/*
 * tessera/store.h — the wallet's store: credentials, their secure-element
 * keys and single-use batch copies, and the holder-readable transaction log.
 *
 * SQLite in WAL mode, one transaction per change, a busy timeout so two
 * processes can use one wallet at once. A process killed at any point leaves
 * either the old or the new state and the store always opens again.
 * Strings returned in structs are owned by the struct; free with the
 * matching *_free function.
 *
 * A tes_store belongs to one thread, and is not carried across fork(): a
 * child process opens its own (SQLite's POSIX locks belong to the process).
 */
#ifndef TESSERA_STORE_H
#define TESSERA_STORE_H

#include "tessera/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tes_store tes_store;

/* Opens (creating and migrating when needed) the store file at path.
 * Errors: TES_ERR_STORE_CORRUPT (not a Tessera store / damaged),
 * TES_ERR_STORE, TES_ERR_BUSY. */
TES_MUST_CHECK tes_err tes_store_open(const char *path, tes_store **out);
void tes_store_close(tes_store *s);

/* What the store takes from its caller (copied at open; the clock's ctx must
 * outlive the store). The store draws no randomness of its own. */
typedef struct tes_store_opts {
    /* NULL: system. The time of a credential added with created_at 0 and of
     * a log entry added with at 0. */
    const tes_clock *clock;
} tes_store_opts;
/* tes_store_open with the caller's clock (o NULL: as tes_store_open). */
TES_MUST_CHECK tes_err tes_store_open_with(const char *path, const tes_store_opts *o,
                                           tes_store **out);

/* One copy of a credential: the stored mdoc bytes and its device key. */
typedef struct tes_store_copy {
    int64_t id;
    char *key_id;      /* secure-element key id */
    tes_buf mdoc;      /* the stored credential bytes */
    int64_t use_count;
} tes_store_copy;

typedef struct tes_store_cred {
    int64_t id;
    char *doctype;
    char *display_name;
    char *issuer;      /* document signer subject */
    int64_t valid_from, valid_until;
    int64_t copies, unused_copies; /* unused: never shown */
    int64_t created_at;            /* 0 when adding: now (tes_store_opts.clock) */
    bool single_use;               /* copies are shown once each (listing only) */
    bool needs_pin;                /* the copies' keys need the PIN (recorded with the
                                      credential, in the same transaction) */
} tes_store_cred;

/* Adds a credential with n copies (each an mdoc bound to its own key) and its
 * flags (single_use, meta->needs_pin) in one transaction; *id receives the
 * credential id. A key that already serves a stored copy is refused with
 * TES_ERR_EXISTS (nothing added). */
typedef struct tes_store_new_copy {
    const char *key_id;
    tes_bytes mdoc;
} tes_store_new_copy;
TES_MUST_CHECK tes_err tes_store_add_credential(tes_store *s, const tes_store_cred *meta,
                                                const tes_store_new_copy *copies, size_t n,
                                                bool single_use, int64_t *id);
/* Lists credentials (allocated array; free with tes_store_creds_free). */
TES_MUST_CHECK tes_err tes_store_list(tes_store *s, tes_store_cred **out, size_t *n);
void tes_store_creds_free(tes_store_cred *c, size_t n);
/* Takes a copy to present: for single-use credentials the least-used unused
 * copy, marked used in the same transaction (never shown twice); otherwise the
 * copy with the lowest use count, its count incremented. A taken single-use
 * copy is spent even if the presentation then fails (the safe side).
 * TES_ERR_NOT_FOUND
 * when the credential does not exist, TES_ERR_KEY_USED when every single-use
 * copy is spent. */
TES_MUST_CHECK tes_err tes_store_take_copy(tes_store *s, int64_t cred_id, tes_store_copy *out);
/* The copy tes_store_take_copy would take now, without taking it (nothing
 * changes; same errors): to find out what a presentation would disclose before
 * a single-use copy is spent. */
TES_MUST_CHECK tes_err tes_store_peek_copy(tes_store *s, int64_t cred_id, tes_store_copy *out);
void tes_store_copy_free(tes_store_copy *c);
TES_MUST_CHECK tes_err tes_store_delete_credential(tes_store *s, int64_t cred_id);

/* The transaction log. */
typedef struct tes_store_log_entry {
    int64_t id, at;      /* at 0 when adding: now (tes_store_opts.clock) */
    char *relying_party; /* reader's or website's name from its certificate, or "unauthenticated" */
    char *elements;      /* "ns/elem[*],..." where * marks announced retention */
    int64_t cred_id;
    char *outcome;       /* "disclosed", "declined", "failed: <code>" */
} tes_store_log_entry;
TES_MUST_CHECK tes_err tes_store_log_add(tes_store *s, const tes_store_log_entry *e);
TES_MUST_CHECK tes_err tes_store_log_list(tes_store *s, tes_store_log_entry **out, size_t *n);
void tes_store_log_free(tes_store_log_entry *e, size_t n);

/* Small key/value settings (e.g. the secure-element spec of this wallet). */
TES_MUST_CHECK tes_err tes_store_set(tes_store *s, const char *key, const char *value);
/* *value is malloc'd; TES_ERR_NOT_FOUND when absent. */
TES_MUST_CHECK tes_err tes_store_get(tes_store *s, const char *key, char **value);


/* ---- door keys (issue 14; tessera/wallet.h's door keys are built on these) ----
 *
 * Generic rows: byte strings and numbers; what they mean (access documents,
 * endpoint and reader keys) is the wallet's business. Each change is one
 * transaction. Blobs returned are owned by the struct (free with the matching
 * *_free / *_clear). */

/* One door key. A key is 'requested' (active false: only se_key_id,
 * endpoint_key and created_at are set) from the moment the secure element
 * made it until the hotel's package activates it. */
typedef struct tes_store_access_key {
    int64_t id;
    bool active;
    char *se_key_id;
    tes_buf endpoint_key, group_id, reader_key, issuer_key, document, key_id;
    char *issuer;
    char *rooms; /* as the wallet wrote it */
    int64_t not_before, not_after, issued_at, created_at;
} tes_store_access_key;
void tes_store_access_key_clear(tes_store_access_key *k);
void tes_store_access_keys_free(tes_store_access_key *k, size_t n);

/* Records a requested key (created_at from the store's clock); *id its row.
 * Errors: TES_ERR_ARG (empty se_key_id or endpoint_key), TES_ERR_EXISTS (a
 * door key with that SE key or endpoint key is recorded already), the
 * store's. */
TES_MUST_CHECK tes_err tes_store_access_key_request(tes_store *s, const char *se_key_id,
                                                    tes_bytes endpoint_key, int64_t *id);

/* What activates (or renews) the requested key whose endpoint key is
 * endpoint_key (borrowed views). rev_document, when not empty, is the group's
 * revocation document of version rev_version, kept as by
 * tes_store_access_revocation_put but silently left out when not newer than
 * the one held. */
typedef struct tes_store_access_grant {
    tes_bytes endpoint_key;
    tes_bytes group_id, reader_key, issuer_key, document, key_id;
    const char *issuer, *rooms;
    int64_t not_before, not_after, issued_at;
    tes_bytes rev_document;
    int64_t rev_version;
} tes_store_access_grant;
/* One transaction: the row is made active with g's members; *id (may be
 * NULL) its row id. Errors: TES_ERR_ARG (missing members), TES_ERR_NOT_FOUND
 * (no key with that endpoint key), TES_ERR_EXISTS (the key is active already
 * with a document issued at or after g->issued_at: nothing changes), the
 * store's. */
TES_MUST_CHECK tes_err tes_store_access_key_activate(tes_store *s, const tes_store_access_grant *g,
                                                     int64_t *id);
/* The key with that endpoint key (*out cleared first; tes_store_access_key_clear
 * it). Errors: TES_ERR_NOT_FOUND, TES_ERR_ARG, the store's. */
TES_MUST_CHECK tes_err tes_store_access_key_by_endpoint(tes_store *s, tes_bytes endpoint_key,
                                                        tes_store_access_key *out);
/* The key to offer a reader of group group_id at time now: an active key of
 * the group whose validity has not ended (not_after > now), those valid now
 * (not_before <= now) first, then the most recently issued, then the newest
 * row. Errors: TES_ERR_NOT_FOUND (none), TES_ERR_ARG, the store's. */
TES_MUST_CHECK tes_err tes_store_access_key_find(tes_store *s, tes_bytes group_id, int64_t now,
                                                 tes_store_access_key *out);
/* Every door key, requested ones too, oldest first: free with
 * tes_store_access_keys_free(*out, *n). Errors: TES_ERR_ARG, the store's. */
TES_MUST_CHECK tes_err tes_store_access_keys_list(tes_store *s, tes_store_access_key **out,
                                                  size_t *n);
/* Deletes a door key (its persistent keys with it). Errors: TES_ERR_NOT_FOUND,
 * the store's. */
TES_MUST_CHECK tes_err tes_store_access_key_delete(tes_store *s, int64_t id);

/* The persistent key (32 bytes) a key shares with one reader (reader_id: 32
 * bytes). get: TES_ERR_NOT_FOUND when none; put replaces (updated_at from the
 * store's clock). Errors: TES_ERR_ARG (sizes), TES_ERR_NOT_FOUND (put: no
 * key row), the store's. */
TES_MUST_CHECK tes_err tes_store_access_persistent_get(tes_store *s, int64_t key,
                                                       tes_bytes reader_id, uint8_t out[32]);
TES_MUST_CHECK tes_err tes_store_access_persistent_put(tes_store *s, int64_t key,
                                                       tes_bytes reader_id, const uint8_t k[32]);

/* The newest revocation document of a group. put keeps it only when version
 * is newer than the one held: TES_ERR_EXISTS otherwise (nothing changes).
 * get: *version and *document (reset first) of the one held, or
 * TES_ERR_NOT_FOUND. Errors: TES_ERR_ARG (empty group or document, version
 * <= 0), the store's. */
TES_MUST_CHECK tes_err tes_store_access_revocation_put(tes_store *s, tes_bytes group_id,
                                                       int64_t version, tes_bytes document);
TES_MUST_CHECK tes_err tes_store_access_revocation_get(tes_store *s, tes_bytes group_id,
                                                       int64_t *version, tes_buf *document);

#ifdef __cplusplus
}
#endif
#endif
