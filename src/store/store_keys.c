/*
 * The wallet store: door keys (issue 14) — the keys the secure element made for
 * hotels, their persistent keys shared with locks, and the newest revocation
 * document of each reader group (migration 3). Generic rows: blobs and numbers;
 * the wallet (src/wallet/keys.c) gives them their meaning. Statements are
 * prepared per call (door keys are used a few times a day). The store's design
 * notes are wallet_store.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define KEY_COLUMNS                                                                                \
    "id, state, se_key_id, endpoint_key, group_id, issuer, reader_key, issuer_key, document,"      \
    " key_id, rooms, not_before, not_after, issued_at, created_at"

static tes_err prepare(tes_store *s, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return store_sql_fail(s->db, rc, "preparing a statement");
    }
    return TES_OK;
}

/* Steps a statement that returns no rows; finalizes it. */
static tes_err run(tes_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    tes_err e = rc == SQLITE_DONE ? TES_OK : store_sql_fail(s->db, rc, what);
    sqlite3_finalize(st);
    return e;
}

static bool col_blob(sqlite3_stmt *st, int i, tes_buf *out)
{
    tes_buf_reset(out);
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (n > 0 && p)
        tes_buf_append(out, p, (size_t)n);
    return !out->failed;
}

void tes_store_access_key_clear(tes_store_access_key *k)
{
    if (!k)
        return;
    free(k->se_key_id);
    free(k->issuer);
    free(k->rooms);
    tes_buf_free(&k->endpoint_key);
    tes_buf_free(&k->group_id);
    tes_buf_free(&k->reader_key);
    tes_buf_free(&k->issuer_key);
    tes_buf_free(&k->document);
    tes_buf_free(&k->key_id);
    memset(k, 0, sizeof *k);
}

void tes_store_access_keys_free(tes_store_access_key *k, size_t n)
{
    if (!k)
        return;
    for (size_t i = 0; i < n; i++)
        tes_store_access_key_clear(&k[i]);
    free(k);
}

/* Reads a row selected with KEY_COLUMNS. */
static tes_err read_key(sqlite3_stmt *st, tes_store_access_key *k)
{
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(st, 0);
    const unsigned char *state = sqlite3_column_text(st, 1);
    k->active = state && strcmp((const char *)state, "active") == 0;
    k->se_key_id = store_col_text(st, 2);
    k->issuer = store_col_text(st, 5);
    k->rooms = store_col_text(st, 10);
    bool ok = k->se_key_id && k->issuer && k->rooms && col_blob(st, 3, &k->endpoint_key) &&
              col_blob(st, 4, &k->group_id) && col_blob(st, 6, &k->reader_key) &&
              col_blob(st, 7, &k->issuer_key) && col_blob(st, 8, &k->document) &&
              col_blob(st, 9, &k->key_id);
    k->not_before = sqlite3_column_int64(st, 11);
    k->not_after = sqlite3_column_int64(st, 12);
    k->issued_at = sqlite3_column_int64(st, 13);
    k->created_at = sqlite3_column_int64(st, 14);
    if (!ok) {
        tes_store_access_key_clear(k);
        return store_nomem("reading a door key");
    }
    return TES_OK;
}

/* Runs a SELECT of KEY_COLUMNS expected to give at most one row. */
static tes_err one_key(tes_store *s, sqlite3_stmt *st, tes_store_access_key *out, const char *none)
{
    int rc = sqlite3_step(st);
    tes_err e;
    if (rc == SQLITE_ROW)
        e = read_key(st, out);
    else if (rc == SQLITE_DONE)
        e = tes_err_set(TES_ERR_NOT_FOUND, "store: %s", none);
    else
        e = store_sql_fail(s->db, rc, "reading a door key");
    sqlite3_finalize(st);
    return e;
}

tes_err tes_store_access_key_request(tes_store *s, const char *se_key_id, tes_bytes endpoint_key,
                                     int64_t *id)
{
    if (!s || !se_key_id || !*se_key_id || endpoint_key.len == 0 || !endpoint_key.ptr)
        return tes_err_set(TES_ERR_ARG, "store: a door key needs its SE key id and endpoint key");
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = prepare(s,
                      "INSERT INTO access_keys(state, se_key_id, endpoint_key, created_at)"
                      " VALUES ('requested', ?1, ?2, ?3)",
                      &st))) {
        if (!(e = store_bind_text(s, st, 1, se_key_id)) &&
            !(e = store_bind_blob(s, st, 2, endpoint_key)) &&
            !(e = store_bind_int(s, st, 3, tes_clock_now(&s->clock)))) {
            int rc = sqlite3_step(st);
            if ((rc & 0xff) == SQLITE_CONSTRAINT)
                e = tes_err_set(TES_ERR_EXISTS,
                                "store: a door key with SE key %s or its endpoint key is "
                                "recorded already",
                                se_key_id);
            else if (rc != SQLITE_DONE)
                e = store_sql_fail(s->db, rc, "recording a door key");
        }
        sqlite3_finalize(st);
    }
    if (!e && id)
        *id = sqlite3_last_insert_rowid(s->db);
    return store_tx_end(s, e);
}

/* Inside a transaction: keeps document when version is newer than the one held
 * (TES_ERR_EXISTS otherwise). */
static tes_err revocation_put(tes_store *s, tes_bytes group_id, int64_t version, tes_bytes document)
{
    sqlite3_stmt *st = NULL;
    tes_err e = prepare(s, "SELECT version FROM access_revocations WHERE group_id = ?1", &st);
    if (e)
        return e;
    int64_t held = 0;
    bool has = false;
    if (!(e = store_bind_blob(s, st, 1, group_id))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            has = true;
            held = sqlite3_column_int64(st, 0);
        } else if (rc != SQLITE_DONE) {
            e = store_sql_fail(s->db, rc, "reading a revocation");
        }
    }
    sqlite3_finalize(st);
    if (e)
        return e;
    if (has && held >= version)
        return tes_err_set(TES_ERR_EXISTS,
                           "store: the group's revocation document held (version %lld) is not "
                           "older than version %lld",
                           (long long)held, (long long)version);
    if ((e = prepare(s,
                     "INSERT INTO access_revocations(group_id, version, document)"
                     " VALUES (?1, ?2, ?3) ON CONFLICT(group_id) DO UPDATE SET"
                     " version = excluded.version, document = excluded.document",
                     &st)))
        return e;
    if ((e = store_bind_blob(s, st, 1, group_id)) || (e = store_bind_int(s, st, 2, version)) ||
        (e = store_bind_blob(s, st, 3, document))) {
        sqlite3_finalize(st);
        return e;
    }
    return run(s, st, "keeping a revocation");
}

tes_err tes_store_access_revocation_put(tes_store *s, tes_bytes group_id, int64_t version,
                                        tes_bytes document)
{
    if (!s || group_id.len == 0 || document.len == 0 || version <= 0)
        return tes_err_set(TES_ERR_ARG,
                           "store: a revocation needs a group, a positive version and a document");
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    return store_tx_end(s, revocation_put(s, group_id, version, document));
}

tes_err tes_store_access_revocation_get(tes_store *s, tes_bytes group_id, int64_t *version,
                                        tes_buf *document)
{
    if (!s || group_id.len == 0 || !version || !document)
        return tes_err_set(TES_ERR_ARG, "store: revocation_get needs a group and outputs");
    *version = 0;
    tes_buf_reset(document);
    sqlite3_stmt *st = NULL;
    tes_err e =
        prepare(s, "SELECT version, document FROM access_revocations WHERE group_id = ?1", &st);
    if (e)
        return e;
    if (!(e = store_bind_blob(s, st, 1, group_id))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *version = sqlite3_column_int64(st, 0);
            if (!col_blob(st, 1, document))
                e = store_nomem("reading a revocation");
        } else if (rc == SQLITE_DONE) {
            e = tes_err_set(TES_ERR_NOT_FOUND, "store: no revocation document for that group");
        } else {
            e = store_sql_fail(s->db, rc, "reading a revocation");
        }
    }
    sqlite3_finalize(st);
    return e;
}

tes_err tes_store_access_key_activate(tes_store *s, const tes_store_access_grant *g, int64_t *id)
{
    if (!s || !g || g->endpoint_key.len == 0 || g->group_id.len == 0 || g->reader_key.len == 0 ||
        g->issuer_key.len == 0 || g->document.len == 0 || g->key_id.len == 0 || !g->issuer ||
        !g->rooms)
        return tes_err_set(TES_ERR_ARG, "store: activating a door key needs every member");
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    int64_t row = 0, held = 0;
    bool active = false;
    if ((e = prepare(s, "SELECT id, state, issued_at FROM access_keys WHERE endpoint_key = ?1",
                     &st)))
        return store_tx_end(s, e);
    if (!(e = store_bind_blob(s, st, 1, g->endpoint_key))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            row = sqlite3_column_int64(st, 0);
            const unsigned char *state = sqlite3_column_text(st, 1);
            active = state && strcmp((const char *)state, "active") == 0;
            held = sqlite3_column_int64(st, 2);
        } else if (rc == SQLITE_DONE) {
            e = tes_err_set(TES_ERR_NOT_FOUND, "store: no door key with that endpoint key");
        } else {
            e = store_sql_fail(s->db, rc, "reading a door key");
        }
    }
    sqlite3_finalize(st);
    if (!e && active && held >= g->issued_at)
        e = tes_err_set(TES_ERR_EXISTS,
                        "store: door key %lld is active already with a document issued at %lld "
                        "(not before %lld)",
                        (long long)row, (long long)held, (long long)g->issued_at);
    if (!e && !(e = prepare(s,
                            "UPDATE access_keys SET state = 'active', group_id = ?2, issuer = ?3,"
                            " reader_key = ?4, issuer_key = ?5, document = ?6, key_id = ?7,"
                            " rooms = ?8, not_before = ?9, not_after = ?10, issued_at = ?11"
                            " WHERE id = ?1",
                            &st))) {
        if ((e = store_bind_int(s, st, 1, row)) || (e = store_bind_blob(s, st, 2, g->group_id)) ||
            (e = store_bind_text(s, st, 3, g->issuer)) ||
            (e = store_bind_blob(s, st, 4, g->reader_key)) ||
            (e = store_bind_blob(s, st, 5, g->issuer_key)) ||
            (e = store_bind_blob(s, st, 6, g->document)) ||
            (e = store_bind_blob(s, st, 7, g->key_id)) ||
            (e = store_bind_text(s, st, 8, g->rooms)) ||
            (e = store_bind_int(s, st, 9, g->not_before)) ||
            (e = store_bind_int(s, st, 10, g->not_after)) ||
            (e = store_bind_int(s, st, 11, g->issued_at)))
            sqlite3_finalize(st);
        else
            e = run(s, st, "activating a door key");
    }
    if (!e && g->rev_document.len) {
        e = revocation_put(s, g->group_id, g->rev_version, g->rev_document);
        if (e == TES_ERR_EXISTS) /* the wallet holds a newer one already */
            e = TES_OK;
    }
    if (!e && id)
        *id = row;
    return store_tx_end(s, e);
}

tes_err tes_store_access_key_by_endpoint(tes_store *s, tes_bytes endpoint_key,
                                         tes_store_access_key *out)
{
    if (!s || !out || endpoint_key.len == 0)
        return tes_err_set(TES_ERR_ARG, "store: key_by_endpoint needs an endpoint key and out");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    tes_err e = prepare(s, "SELECT " KEY_COLUMNS " FROM access_keys WHERE endpoint_key = ?1", &st);
    if (e)
        return e;
    if ((e = store_bind_blob(s, st, 1, endpoint_key))) {
        sqlite3_finalize(st);
        return e;
    }
    return one_key(s, st, out, "no door key with that endpoint key");
}

tes_err tes_store_access_key_find(tes_store *s, tes_bytes group_id, int64_t now,
                                  tes_store_access_key *out)
{
    if (!s || !out || group_id.len == 0)
        return tes_err_set(TES_ERR_ARG, "store: key_find needs a group and out");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    tes_err e = prepare(s,
                        "SELECT " KEY_COLUMNS " FROM access_keys"
                        " WHERE state = 'active' AND group_id = ?1 AND not_after > ?2"
                        " ORDER BY (not_before <= ?2) DESC, issued_at DESC, id DESC LIMIT 1",
                        &st);
    if (e)
        return e;
    if ((e = store_bind_blob(s, st, 1, group_id)) || (e = store_bind_int(s, st, 2, now))) {
        sqlite3_finalize(st);
        return e;
    }
    return one_key(s, st, out, "no door key for that reader group");
}

tes_err tes_store_access_keys_list(tes_store *s, tes_store_access_key **out, size_t *n)
{
    if (!s || !out || !n)
        return tes_err_set(TES_ERR_ARG, "store: access_keys_list needs outputs");
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    tes_err e = prepare(s, "SELECT " KEY_COLUMNS " FROM access_keys ORDER BY id", &st);
    if (e)
        return e;
    tes_store_access_key *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            tes_store_access_key *na = realloc(arr, ncap * sizeof *na);
            if (!na) {
                e = store_nomem("listing door keys");
                break;
            }
            arr = na;
            cap = ncap;
        }
        if ((e = read_key(st, &arr[len])))
            break;
        len++;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_sql_fail(s->db, rc, "listing door keys");
    sqlite3_finalize(st);
    if (e) {
        tes_store_access_keys_free(arr, len);
        return e;
    }
    *out = arr;
    *n = len;
    return TES_OK;
}

tes_err tes_store_access_key_delete(tes_store *s, int64_t id)
{
    if (!s)
        return tes_err_set(TES_ERR_ARG, "store: key_delete needs a store");
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = prepare(s, "DELETE FROM access_keys WHERE id = ?1", &st))) {
        if ((e = store_bind_int(s, st, 1, id)))
            sqlite3_finalize(st);
        else if (!(e = run(s, st, "deleting a door key")) && sqlite3_changes(s->db) == 0)
            e = tes_err_set(TES_ERR_NOT_FOUND, "store: no door key %lld", (long long)id);
    }
    return store_tx_end(s, e);
}

tes_err tes_store_access_persistent_get(tes_store *s, int64_t key, tes_bytes reader_id,
                                        uint8_t out[32])
{
    if (!s || !out || reader_id.len != 32)
        return tes_err_set(TES_ERR_ARG, "store: persistent_get needs a 32-byte reader id");
    sqlite3_stmt *st = NULL;
    tes_err e = prepare(s,
                        "SELECT kpersistent FROM access_persistent WHERE key = ?1 AND"
                        " reader_id = ?2",
                        &st);
    if (e)
        return e;
    if (!(e = store_bind_int(s, st, 1, key)) && !(e = store_bind_blob(s, st, 2, reader_id))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32)
            memcpy(out, sqlite3_column_blob(st, 0), 32);
        else if (rc == SQLITE_ROW)
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "store: a persistent key is not 32 bytes");
        else if (rc == SQLITE_DONE)
            e = tes_err_set(TES_ERR_NOT_FOUND, "store: no persistent key for that reader");
        else
            e = store_sql_fail(s->db, rc, "reading a persistent key");
    }
    sqlite3_finalize(st);
    return e;
}

tes_err tes_store_access_persistent_put(tes_store *s, int64_t key, tes_bytes reader_id,
                                        const uint8_t k[32])
{
    if (!s || !k || reader_id.len != 32)
        return tes_err_set(TES_ERR_ARG, "store: persistent_put needs a 32-byte reader id");
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = prepare(s,
                      "INSERT INTO access_persistent(key, reader_id, kpersistent, updated_at)"
                      " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(key, reader_id) DO UPDATE SET"
                      " kpersistent = excluded.kpersistent, updated_at = excluded.updated_at",
                      &st))) {
        if ((e = store_bind_int(s, st, 1, key)) || (e = store_bind_blob(s, st, 2, reader_id)) ||
            (e = store_bind_blob(s, st, 3, TES_BYTES(k, 32))) ||
            (e = store_bind_int(s, st, 4, tes_clock_now(&s->clock)))) {
            sqlite3_finalize(st);
        } else {
            int rc = sqlite3_step(st);
            if ((rc & 0xff) == SQLITE_CONSTRAINT)
                e = tes_err_set(TES_ERR_NOT_FOUND, "store: no door key %lld", (long long)key);
            else if (rc != SQLITE_DONE)
                e = store_sql_fail(s->db, rc, "keeping a persistent key");
            sqlite3_finalize(st);
        }
    }
    return store_tx_end(s, e);
}
