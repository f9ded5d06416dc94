/*
 * The door lock's store (tessera/lock.h, "the store"): endpoints it has
 * authenticated with their persistent keys and grants, the revocation
 * watermark and its set of revoked keys, the decision log and a few named
 * counters, in one SQLite file.
 *
 * Opening follows the wallet store (src/store/wallet_store.c) with the shared
 * helpers of store/sqlite_file.h: the file is created 0600 with O_EXCL before
 * SQLite sees it, or checked to be an SQLite file, then identified read-only
 * (application_id "TESL", user_version) before anything is written, so a
 * foreign file is refused unmodified. On top of that, an existing file must be
 * the caller's and closed to its group and others: it holds persistent keys.
 *
 * Crash safety: journal_mode=WAL, synchronous=FULL; every change is one
 * BEGIN IMMEDIATE ... COMMIT (rolled back on any error), including the
 * compound ones (put + eviction, revocation + purge of revoked endpoints,
 * log insert + trim). secure_delete=ON overwrites deleted rows (persistent
 * keys) in the database pages.
 *
 * Secrets: persistent keys are bound straight from the caller's memory
 * (SQLITE_STATIC, no copy of ours) and copied out into the caller's
 * tes_lock_endpoint; an output array is wiped again when a listing fails
 * half-way. SQLite's own page cache and record buffers are beyond reach.
 *
 * Invariants the schema and the code keep: every stored blob has its exact
 * length (CHECK constraints, verified again on read: TES_ERR_STORE_CORRUPT
 * otherwise); no cached endpoint's grant.key_id is in the revoked set (apply
 * deletes them, put refuses them, both inside the write transaction); a
 * cached grant is bound to its endpoint key (put refuses another).
 *
 * No clock: every time stored (last_used, a log entry's at) is the caller's,
 * and migrations are recorded without one.
 */
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sqlite_file.h"
#include "tessera/lock.h"

/* PRAGMA application_id of a lock store: "TESL". */
#define LOCK_STORE_APP_ID 0x5445534C
#define LOCK_STORE_BUSY_MS 5000
#define ROOMS_BLOB_MAX (TES_ACCESS_MAX_ROOMS * TES_ACCESS_ROOM_MAX)

/* Migration i brings user_version from i to i+1 (run by migrate() in one
 * BEGIN IMMEDIATE transaction that also records it in table migrations). */
static const char *const migrations[] = {
    /* 1: initial schema */
    "PRAGMA application_id = 1413829452;" /* == LOCK_STORE_APP_ID */
    "CREATE TABLE migrations ("
    "  version INTEGER PRIMARY KEY);"
    "CREATE TABLE endpoints ("
    "  endpoint_key BLOB PRIMARY KEY CHECK (length(endpoint_key) = 65),"
    "  kpersistent BLOB NOT NULL CHECK (length(kpersistent) = 32),"
    "  key_id BLOB NOT NULL CHECK (length(key_id) = 16),"
    "  group_id BLOB NOT NULL CHECK (length(group_id) = 16),"
    "  rooms BLOB NOT NULL CHECK (length(rooms) % 16 = 0 AND length(rooms) <= 256),"
    "  not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  daily_from INTEGER NOT NULL CHECK (daily_from BETWEEN 0 AND 65535),"
    "  daily_until INTEGER NOT NULL CHECK (daily_until BETWEEN 0 AND 65535),"
    "  signed_at INTEGER NOT NULL,"
    "  last_used INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX endpoints_by_use ON endpoints(last_used, seq);"
    "CREATE INDEX endpoints_by_key_id ON endpoints(key_id);"
    "CREATE TABLE revocation ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  group_id BLOB NOT NULL CHECK (length(group_id) = 16),"
    "  version INTEGER NOT NULL CHECK (version > 0));"
    "CREATE TABLE revoked ("
    "  key_id BLOB PRIMARY KEY CHECK (length(key_id) = 16),"
    "  pos INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE log ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  flow TEXT NOT NULL,"
    "  reason INTEGER NOT NULL,"
    "  key_id BLOB CHECK (key_id IS NULL OR length(key_id) = 16),"
    "  detail TEXT);"
    "CREATE TABLE meta ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL) WITHOUT ROWID;",
};
#define LOCK_STORE_VERSION ((int64_t)(sizeof migrations / sizeof migrations[0]))

static const char *const required_tables[] = {"migrations", "endpoints", "revocation",
                                              "revoked",    "log",       "meta"};

enum {
    LS_BEGIN,
    LS_COMMIT,
    LS_ROLLBACK,
    LS_EP_LIST,
    LS_EP_GET,
    LS_EP_PUT,
    LS_EP_EVICT,
    LS_EP_TOUCH,
    LS_EP_DELETE,
    LS_REV_GET,
    LS_REV_KEYS,
    LS_REV_SET,
    LS_REV_CLEAR,
    LS_REV_ADD,
    LS_REV_PURGE,
    LS_REV_IS,
    LS_LOG_ADD,
    LS_LOG_TRIM,
    LS_LOG_LIST,
    LS_META_GET,
    LS_META_PUT,
    LS_COUNT
};

#define EP_COLS                                                                                    \
    "endpoint_key, kpersistent, key_id, group_id, rooms, not_before, not_after, daily_from,"       \
    " daily_until, signed_at, last_used"
#define EP_ORDER "ORDER BY last_used DESC, seq DESC"

static const char *const stmt_sql[LS_COUNT] = {
    [LS_BEGIN] = "BEGIN IMMEDIATE",
    [LS_COMMIT] = "COMMIT",
    [LS_ROLLBACK] = "ROLLBACK",
    [LS_EP_LIST] = "SELECT " EP_COLS " FROM endpoints " EP_ORDER " LIMIT ?1",
    [LS_EP_GET] = "SELECT " EP_COLS " FROM endpoints WHERE endpoint_key = ?1",
    [LS_EP_PUT] = "INSERT INTO endpoints(" EP_COLS ", seq)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                  "  (SELECT coalesce(max(seq), 0) + 1 FROM endpoints))"
                  " ON CONFLICT(endpoint_key) DO UPDATE SET kpersistent = excluded.kpersistent,"
                  "  key_id = excluded.key_id, group_id = excluded.group_id,"
                  "  rooms = excluded.rooms, not_before = excluded.not_before,"
                  "  not_after = excluded.not_after, daily_from = excluded.daily_from,"
                  "  daily_until = excluded.daily_until, signed_at = excluded.signed_at,"
                  "  last_used = excluded.last_used, seq = excluded.seq",
    [LS_EP_EVICT] = "DELETE FROM endpoints WHERE endpoint_key NOT IN"
                    " (SELECT endpoint_key FROM endpoints " EP_ORDER " LIMIT ?1)",
    [LS_EP_TOUCH] = "UPDATE endpoints SET last_used = ?2,"
                    " seq = (SELECT max(seq) + 1 FROM endpoints) WHERE endpoint_key = ?1",
    [LS_EP_DELETE] = "DELETE FROM endpoints WHERE endpoint_key = ?1",
    [LS_REV_GET] = "SELECT group_id, version FROM revocation WHERE id = 1",
    [LS_REV_KEYS] = "SELECT key_id FROM revoked ORDER BY pos",
    [LS_REV_SET] = "INSERT INTO revocation(id, group_id, version) VALUES (1, ?1, ?2)"
                   " ON CONFLICT(id) DO UPDATE SET group_id = excluded.group_id,"
                   " version = excluded.version",
    [LS_REV_CLEAR] = "DELETE FROM revoked",
    [LS_REV_ADD] = "INSERT OR IGNORE INTO revoked(key_id, pos) VALUES (?1, ?2)",
    [LS_REV_PURGE] = "DELETE FROM endpoints WHERE key_id IN (SELECT key_id FROM revoked)",
    [LS_REV_IS] = "SELECT 1 FROM revoked WHERE key_id = ?1",
    [LS_LOG_ADD] = "INSERT INTO log(at, outcome, flow, reason, key_id, detail)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [LS_LOG_TRIM] = "DELETE FROM log WHERE id <"
                    " (SELECT id FROM log ORDER BY id DESC LIMIT 1 OFFSET ?1)",
    [LS_LOG_LIST] = "SELECT at, outcome, flow, reason, key_id, detail FROM"
                    " (SELECT * FROM log ORDER BY id DESC LIMIT ?1) ORDER BY id",
    [LS_META_GET] = "SELECT value FROM meta WHERE name = ?1",
    [LS_META_PUT] = "INSERT INTO meta(name, value) VALUES (?1, ?2)"
                    " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
};

struct tes_lock_store {
    sqlite3 *db;
    sqlite3_stmt *st[LS_COUNT];
    char *path; /* as opened: counted in sqlite_file's table of open files */
};

static const sqlite_file_kind lock_kind = {
    .who = "lock store",
    .noun = "lock store",
    .what = "a Tessera lock store",
    .busy_ms = LOCK_STORE_BUSY_MS,
    .app_id = LOCK_STORE_APP_ID,
    .version = LOCK_STORE_VERSION,
};

/* ------------------------------------------------------------ statements */

static tes_err sql_fail(tes_lock_store *s, int rc, const char *what)
{
    return sqlite_file_fail(&lock_kind, s->db, rc, what);
}

static tes_err corrupt(const char *what)
{
    return tes_err_set(TES_ERR_STORE_CORRUPT,
                       "lock store: %s: a stored value has the wrong "
                       "size or range (the file is damaged)",
                       what);
}

static tes_err stmt(tes_lock_store *s, int which, sqlite3_stmt **out)
{
    if (!s->st[which]) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->st[which], NULL);
        if (rc != SQLITE_OK) {
            s->st[which] = NULL;
            return sql_fail(s, rc, "preparing a statement");
        }
    }
    *out = s->st[which];
    return TES_OK;
}

static void stmt_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static tes_err bind_blob(tes_lock_store *s, sqlite3_stmt *st, int i, const void *p, size_t n)
{
    /* zeroblob for empty: a NULL pointer would bind SQL NULL */
    int rc =
        n ? sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC) : sqlite3_bind_zeroblob(st, i, 0);
    return rc == SQLITE_OK ? TES_OK : sql_fail(s, rc, "binding a parameter");
}

static tes_err bind_int(tes_lock_store *s, sqlite3_stmt *st, int i, int64_t v)
{
    int rc = sqlite3_bind_int64(st, i, v);
    return rc == SQLITE_OK ? TES_OK : sql_fail(s, rc, "binding a parameter");
}

static tes_err bind_text(tes_lock_store *s, sqlite3_stmt *st, int i, const char *v)
{
    int rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? TES_OK : sql_fail(s, rc, "binding a parameter");
}

/* Steps a statement that returns no rows; *changes (may be NULL) gets the rows changed. */
static tes_err step_done(tes_lock_store *s, sqlite3_stmt *st, const char *what, int *changes)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        return sql_fail(s, rc, what);
    if (changes)
        *changes = sqlite3_changes(s->db);
    return TES_OK;
}

/* Runs a prepared statement without parameters that returns no rows. */
static tes_err exec_stmt(tes_lock_store *s, int which, const char *what)
{
    sqlite3_stmt *st = NULL;
    tes_err e = stmt(s, which, &st);
    if (!e)
        e = step_done(s, st, what, NULL);
    stmt_done(st);
    return e;
}

/* Copies a blob column of exactly n bytes. */
static bool col_blob(sqlite3_stmt *st, int i, void *out, size_t n)
{
    const void *p = sqlite3_column_blob(st, i);
    if ((size_t)sqlite3_column_bytes(st, i) != n || (n && !p))
        return false;
    memcpy(out, p, n);
    return true;
}

/* ---------------------------------------------------------- transactions */

static tes_err tx_begin(tes_lock_store *s)
{
    return exec_stmt(s, LS_BEGIN, "starting a transaction");
}

static void tx_rollback(tes_lock_store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return; /* nothing open (or SQLite rolled back already) */
    sqlite3_stmt *st = NULL;
    if (stmt(s, LS_ROLLBACK, &st) == TES_OK) {
        (void)sqlite3_step(st);
        stmt_done(st);
    } else {
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* Commits when e is TES_OK, otherwise rolls back; returns e or the commit's error. */
static tes_err tx_end(tes_lock_store *s, tes_err e)
{
    if (!e)
        e = exec_stmt(s, LS_COMMIT, "committing");
    if (e)
        tx_rollback(s);
    return e;
}

/* ------------------------------------------------------------------ open */

static tes_err migrate(tes_lock_store *s, const char *path)
{
    tes_err e = tx_begin(s);
    if (e)
        return e;
    int64_t ver = 0; /* read again under the write lock: another process may have migrated */
    e = sqlite_file_identify(&lock_kind, s->db, path, &ver);
    for (int64_t v = ver; !e && v < LOCK_STORE_VERSION; v++) {
        char book[160];
        snprintf(book, sizeof book,
                 "INSERT INTO migrations(version) VALUES (%lld);"
                 "PRAGMA user_version = %lld;",
                 (long long)(v + 1), (long long)(v + 1));
        if (!(e = sqlite_file_exec(&lock_kind, s->db, migrations[v], "migrating the schema")))
            e = sqlite_file_exec(&lock_kind, s->db, book, "recording the migration");
    }
    return tx_end(s, e);
}

static tes_err check_tables(tes_lock_store *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, rc, "reading the schema");
    tes_err e = TES_OK;
    for (size_t i = 0; !e && i < sizeof required_tables / sizeof required_tables[0]; i++) {
        sqlite3_reset(st);
        rc = sqlite3_bind_text(st, 1, required_tables[i], -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "lock store: %s is damaged: table %s is missing",
                            path, required_tables[i]);
        else if (rc != SQLITE_ROW)
            e = sql_fail(s, rc, "reading the schema");
    }
    sqlite3_finalize(st);
    return e;
}

/* The file holds persistent keys: it must be the caller's and closed to everyone else. */
static tes_err check_owner(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return tes_err_set(TES_ERR_STORE, "lock store: %s is not a regular file", path);
    if (sb.st_uid != geteuid())
        return tes_err_set(TES_ERR_DIR_UNSAFE,
                           "lock store: %s is owned by another user (uid %ld, you are uid %ld); "
                           "a file that holds persistent keys must be your own",
                           path, (long)sb.st_uid, (long)geteuid());
    if (sb.st_mode & 077)
        return tes_err_set(TES_ERR_DIR_UNSAFE,
                           "lock store: %s is open to %s (mode %04o); a file that holds "
                           "persistent keys must be 0600 (chmod 600 '%s')",
                           path, (sb.st_mode & 007) ? "other users" : "its group",
                           (unsigned)(sb.st_mode & 07777), path);
    return TES_OK;
}

static tes_err set_wal(tes_lock_store *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    tes_err e = TES_OK;
    if (rc != SQLITE_ROW) {
        e = sql_fail(s, rc, "switching to WAL");
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0)
            e = tes_err_set(TES_ERR_STORE, "lock store: %s: cannot use the WAL journal (got %s)",
                            path, mode ? mode : "nothing");
    }
    sqlite3_finalize(st);
    return e;
}

tes_err tes_lock_store_open(const char *path, tes_lock_store **out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "lock store: open needs an output");
    *out = NULL;
    if (!path || !*path)
        return tes_err_set(TES_ERR_ARG, "lock store: open needs a path");

    sqlite_file_lock();
    tes_err e = sqlite_file_precheck(&lock_kind, path);
    if (!e)
        e = check_owner(path);
    tes_lock_store *s = e ? NULL : calloc(1, sizeof *s);
    if (!e && (!s || !(s->path = strdup(path)))) {
        free(s);
        s = NULL;
        e = tes_err_set(TES_ERR_NOMEM, "lock store: opening: out of memory");
    }
    int rc = SQLITE_CANTOPEN;
    if (!e) {
        rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_NOFOLLOW,
                             NULL);
        sqlite_file_opened(path);
    }
    sqlite_file_unlock();
    if (e)
        return e;
    if (rc != SQLITE_OK) {
        e = s->db ? sql_fail(s, rc, "opening")
                  : tes_err_set(TES_ERR_NOMEM, "lock store: opening: out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, LOCK_STORE_BUSY_MS);

    int64_t version = 0; /* read-only identification first: a foreign file stays untouched */
    if ((e = sqlite_file_identify(&lock_kind, s->db, path, &version)) || (e = set_wal(s, path)) ||
        (e = sqlite_file_exec(&lock_kind, s->db,
                              "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;",
                              "setting pragmas")))
        goto fail;
    if (version < LOCK_STORE_VERSION && (e = migrate(s, path)))
        goto fail;
    if ((e = check_tables(s, path)))
        goto fail;
    *out = s;
    return TES_OK;

fail:
    tes_lock_store_close(s);
    return e;
}

void tes_lock_store_close(tes_lock_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < LS_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db); /* every statement is finalized: always closes */
    if (s->path)
        sqlite_file_closed(s->path);
    free(s->path);
    free(s);
}

/* -------------------------------------------------------------- endpoints */

/* One row (EP_COLS) into out; false when a value is out of shape. */
static bool read_endpoint(sqlite3_stmt *st, tes_lock_endpoint *out)
{
    memset(out, 0, sizeof *out);
    tes_access_grant *g = &out->grant;
    if (!col_blob(st, 0, out->endpoint_key, sizeof out->endpoint_key) ||
        !col_blob(st, 1, out->kpersistent, sizeof out->kpersistent) ||
        !col_blob(st, 2, g->key_id, sizeof g->key_id) ||
        !col_blob(st, 3, g->group_id, sizeof g->group_id))
        return false;
    size_t rooms_len = (size_t)sqlite3_column_bytes(st, 4);
    const uint8_t *rooms = sqlite3_column_blob(st, 4);
    if (rooms_len % TES_ACCESS_ROOM_MAX || rooms_len > ROOMS_BLOB_MAX || (rooms_len && !rooms))
        return false;
    g->n_rooms = rooms_len / TES_ACCESS_ROOM_MAX;
    for (size_t i = 0; i < g->n_rooms; i++) {
        memcpy(g->rooms[i], rooms + i * TES_ACCESS_ROOM_MAX, TES_ACCESS_ROOM_MAX);
        if (g->rooms[i][TES_ACCESS_ROOM_MAX - 1] != '\0')
            return false;
    }
    g->not_before = sqlite3_column_int64(st, 5);
    g->not_after = sqlite3_column_int64(st, 6);
    int64_t from = sqlite3_column_int64(st, 7), until = sqlite3_column_int64(st, 8);
    if (from < 0 || from > UINT16_MAX || until < 0 || until > UINT16_MAX)
        return false;
    g->daily_from = (uint16_t)from;
    g->daily_until = (uint16_t)until;
    g->signed_at = sqlite3_column_int64(st, 9);
    memcpy(g->endpoint_key, out->endpoint_key, sizeof g->endpoint_key);
    out->last_used = sqlite3_column_int64(st, 10);
    return true;
}

tes_err tes_lock_store_endpoints(tes_lock_store *s, tes_lock_endpoint *out, size_t max, size_t *n)
{
    if (n)
        *n = 0;
    if (!s || !n || (!out && max))
        return tes_err_set(TES_ERR_ARG, "lock store: endpoints needs a store and outputs");
    if (!max)
        return TES_OK;
    sqlite3_stmt *st = NULL;
    tes_err e = stmt(s, LS_EP_LIST, &st);
    if (e)
        return e;
    size_t got = 0;
    int rc = SQLITE_DONE;
    if (!(e = bind_int(s, st, 1, max > INT64_MAX ? INT64_MAX : (int64_t)max))) {
        while (got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (!read_endpoint(st, &out[got])) {
                e = corrupt("reading an endpoint");
                got++;
                break;
            }
            got++;
        }
        if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
            e = sql_fail(s, rc, "listing the endpoints");
    }
    stmt_done(st);
    if (e) {
        tes_wipe(out, got * sizeof *out);
        return e;
    }
    *n = got;
    return TES_OK;
}

tes_err tes_lock_store_endpoint_get(tes_lock_store *s, const uint8_t key[TES_ACCESS_POINT_LEN],
                                    tes_lock_endpoint *out)
{
    if (!s || !key || !out)
        return tes_err_set(TES_ERR_ARG,
                           "lock store: endpoint_get needs a store, a key and an output");
    sqlite3_stmt *st = NULL;
    tes_err e = stmt(s, LS_EP_GET, &st);
    if (e)
        return e;
    if (!(e = bind_blob(s, st, 1, key, TES_ACCESS_POINT_LEN))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            e = tes_err_set(TES_ERR_NOT_FOUND, "lock store: no such endpoint");
        else if (rc != SQLITE_ROW)
            e = sql_fail(s, rc, "reading an endpoint");
        else if (!read_endpoint(st, out))
            e = corrupt("reading an endpoint");
    }
    stmt_done(st);
    if (e)
        tes_wipe(out, sizeof *out);
    return e;
}

/* The rooms of g packed as n_rooms fixed 16-byte, NUL-padded names; *len their size. */
static tes_err pack_rooms(const tes_access_grant *g, uint8_t rooms[ROOMS_BLOB_MAX], size_t *len)
{
    if (g->n_rooms > TES_ACCESS_MAX_ROOMS)
        return tes_err_set(TES_ERR_ARG, "lock store: a grant of %zu rooms (at most %d)", g->n_rooms,
                           TES_ACCESS_MAX_ROOMS);
    memset(rooms, 0, ROOMS_BLOB_MAX);
    for (size_t i = 0; i < g->n_rooms; i++) {
        const char *r = g->rooms[i];
        size_t l = strnlen(r, TES_ACCESS_ROOM_MAX);
        if (l == TES_ACCESS_ROOM_MAX)
            return tes_err_set(TES_ERR_ARG,
                               "lock store: room %zu of the grant is not NUL-terminated", i);
        memcpy(rooms + i * TES_ACCESS_ROOM_MAX, r, l);
    }
    *len = g->n_rooms * TES_ACCESS_ROOM_MAX;
    return TES_OK;
}

/* Inside a transaction: *revoked = key_id is in the revoked set. */
static tes_err is_revoked(tes_lock_store *s, const uint8_t key_id[TES_ACCESS_KEY_ID_LEN],
                          bool *revoked)
{
    sqlite3_stmt *st = NULL;
    tes_err e = stmt(s, LS_REV_IS, &st);
    if (e)
        return e;
    if (!(e = bind_blob(s, st, 1, key_id, TES_ACCESS_KEY_ID_LEN))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            *revoked = rc == SQLITE_ROW;
        else
            e = sql_fail(s, rc, "reading the revoked keys");
    }
    stmt_done(st);
    return e;
}

static tes_err put_row(tes_lock_store *s, const tes_lock_endpoint *ep, const uint8_t *rooms,
                       size_t rooms_len)
{
    const tes_access_grant *g = &ep->grant;
    sqlite3_stmt *st = NULL;
    tes_err e = stmt(s, LS_EP_PUT, &st);
    if (e)
        return e;
    if (!(e = bind_blob(s, st, 1, ep->endpoint_key, sizeof ep->endpoint_key)) &&
        !(e = bind_blob(s, st, 2, ep->kpersistent, sizeof ep->kpersistent)) &&
        !(e = bind_blob(s, st, 3, g->key_id, sizeof g->key_id)) &&
        !(e = bind_blob(s, st, 4, g->group_id, sizeof g->group_id)) &&
        !(e = bind_blob(s, st, 5, rooms, rooms_len)) && !(e = bind_int(s, st, 6, g->not_before)) &&
        !(e = bind_int(s, st, 7, g->not_after)) && !(e = bind_int(s, st, 8, g->daily_from)) &&
        !(e = bind_int(s, st, 9, g->daily_until)) && !(e = bind_int(s, st, 10, g->signed_at)) &&
        !(e = bind_int(s, st, 11, ep->last_used)))
        e = step_done(s, st, "storing an endpoint", NULL);
    stmt_done(st);
    return e;
}

static tes_err evict(tes_lock_store *s, size_t keep)
{
    sqlite3_stmt *st = NULL;
    tes_err e = stmt(s, LS_EP_EVICT, &st);
    if (e)
        return e;
    if (!(e = bind_int(s, st, 1, keep > INT64_MAX ? INT64_MAX : (int64_t)keep)))
        e = step_done(s, st, "evicting endpoints", NULL);
    stmt_done(st);
    return e;
}

tes_err tes_lock_store_endpoint_put(tes_lock_store *s, const tes_lock_endpoint *ep,
                                    size_t max_endpoints)
{
    if (!s || !ep)
        return tes_err_set(TES_ERR_ARG, "lock store: endpoint_put needs a store and an endpoint");
    if (max_endpoints == 0)
        return tes_err_set(TES_ERR_ARG, "lock store: endpoint_put with room for no endpoint");
    if (memcmp(ep->grant.endpoint_key, ep->endpoint_key, TES_ACCESS_POINT_LEN) != 0)
        return tes_err_set(TES_ERR_ARG, "lock store: the grant is bound to another endpoint key");
    uint8_t rooms[ROOMS_BLOB_MAX];
    size_t rooms_len = 0;
    tes_err e = pack_rooms(&ep->grant, rooms, &rooms_len);
    if (e)
        return e;
    if ((e = tx_begin(s)))
        return e;
    bool revoked = false;
    if (!(e = is_revoked(s, ep->grant.key_id, &revoked)) && revoked)
        e = tes_err_set(TES_ERR_ACCESS_REVOKED,
                        "lock store: the endpoint's key is revoked: not cached");
    if (!e && !(e = put_row(s, ep, rooms, rooms_len)))
        e = evict(s, max_endpoints);
    return tx_end(s, e);
}

/* Runs a statement on one endpoint (?1 = key, ?2 = value when has_value) in its own
 * transaction; TES_ERR_NOT_FOUND when it changed no row. */
static tes_err endpoint_change(tes_lock_store *s, int which, const uint8_t *key, bool has_value,
                               int64_t value, const char *what)
{
    tes_err e = tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    int changes = 0;
    if (!(e = stmt(s, which, &st))) {
        if (!(e = bind_blob(s, st, 1, key, TES_ACCESS_POINT_LEN)) &&
            !(e = has_value ? bind_int(s, st, 2, value) : TES_OK) &&
            !(e = step_done(s, st, what, &changes)) && changes == 0)
            e = tes_err_set(TES_ERR_NOT_FOUND, "lock store: %s: no such endpoint", what);
        stmt_done(st);
    }
    return tx_end(s, e);
}

tes_err tes_lock_store_endpoint_touch(tes_lock_store *s, const uint8_t key[TES_ACCESS_POINT_LEN],
                                      int64_t now)
{
    if (!s || !key)
        return tes_err_set(TES_ERR_ARG, "lock store: endpoint_touch needs a store and a key");
    return endpoint_change(s, LS_EP_TOUCH, key, true, now, "marking an endpoint used");
}

tes_err tes_lock_store_endpoint_delete(tes_lock_store *s, const uint8_t key[TES_ACCESS_POINT_LEN])
{
    if (!s || !key)
        return tes_err_set(TES_ERR_ARG, "lock store: endpoint_delete needs a store and a key");
    return endpoint_change(s, LS_EP_DELETE, key, false, 0, "deleting an endpoint");
}

/* ------------------------------------------------------------- revocation */

/* The stored version and group (version 0, zero group when none). */
static tes_err rev_head(tes_lock_store *s, int64_t *version,
                        uint8_t group_id[TES_ACCESS_GROUP_ID_LEN])
{
    *version = 0;
    memset(group_id, 0, TES_ACCESS_GROUP_ID_LEN);
    sqlite3_stmt *st = NULL;
    tes_err e = stmt(s, LS_REV_GET, &st);
    if (e)
        return e;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 1);
        if (!col_blob(st, 0, group_id, TES_ACCESS_GROUP_ID_LEN) || *version <= 0)
            e = corrupt("reading the revocation");
    } else if (rc != SQLITE_DONE) {
        e = sql_fail(s, rc, "reading the revocation");
    }
    stmt_done(st);
    return e;
}

tes_err tes_lock_store_revocation(tes_lock_store *s, tes_access_revocation *out)
{
    if (!s || !out)
        return tes_err_set(TES_ERR_ARG, "lock store: revocation needs a store and an output");
    memset(out, 0, sizeof *out);
    /* one read transaction: the head and the keys of the same revocation */
    int rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, rc, "starting a transaction");
    tes_err e = rev_head(s, &out->version, out->group_id);
    sqlite3_stmt *st = NULL;
    if (!e && !(e = stmt(s, LS_REV_KEYS, &st))) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (out->n_keys == TES_ACCESS_MAX_REVOKED ||
                !col_blob(st, 0, out->keys[out->n_keys], TES_ACCESS_KEY_ID_LEN)) {
                e = corrupt("reading the revoked keys");
                break;
            }
            out->n_keys++;
        }
        if (!e && rc != SQLITE_DONE)
            e = sql_fail(s, rc, "reading the revoked keys");
        stmt_done(st);
    }
    if (!e && out->version == 0 && out->n_keys != 0)
        e = corrupt("revoked keys without a revocation");
    tes_err end = tx_end(s, e);
    if (!e)
        e = end;
    if (e)
        memset(out, 0, sizeof *out);
    return e;
}

tes_err tes_lock_store_revocation_apply(tes_lock_store *s, const tes_access_revocation *r)
{
    if (!s || !r)
        return tes_err_set(TES_ERR_ARG,
                           "lock store: revocation_apply needs a store and a revocation");
    if (r->version <= 0)
        return tes_err_set(TES_ERR_ARG, "lock store: a revocation of version %lld (must be > 0)",
                           (long long)r->version);
    if (r->n_keys > TES_ACCESS_MAX_REVOKED)
        return tes_err_set(TES_ERR_ARG, "lock store: a revocation of %zu keys (at most %d)",
                           r->n_keys, TES_ACCESS_MAX_REVOKED);
    tes_err e = tx_begin(s);
    if (e)
        return e;
    int64_t have = 0;
    uint8_t group[TES_ACCESS_GROUP_ID_LEN];
    if ((e = rev_head(s, &have, group)))
        return tx_end(s, e);
    if (r->version <= have)
        return tx_end(s, tes_err_set(TES_ERR_ACCESS_ROLLBACK,
                                     "lock store: revocation version %lld is not newer than the "
                                     "applied version %lld",
                                     (long long)r->version, (long long)have));
    if (have > 0 && memcmp(group, r->group_id, sizeof group) != 0)
        return tx_end(s,
                      tes_err_set(TES_ERR_ARG, "lock store: a revocation of another reader group"));
    sqlite3_stmt *st = NULL;
    if (!(e = stmt(s, LS_REV_SET, &st))) {
        if (!(e = bind_blob(s, st, 1, r->group_id, sizeof r->group_id)) &&
            !(e = bind_int(s, st, 2, r->version)))
            e = step_done(s, st, "storing the revocation", NULL);
        stmt_done(st);
    }
    if (!e)
        e = exec_stmt(s, LS_REV_CLEAR, "replacing the revoked keys");
    if (!e && !(e = stmt(s, LS_REV_ADD, &st))) {
        for (size_t i = 0; !e && i < r->n_keys; i++) {
            if (!(e = bind_blob(s, st, 1, r->keys[i], TES_ACCESS_KEY_ID_LEN)) &&
                !(e = bind_int(s, st, 2, (int64_t)i)))
                e = step_done(s, st, "storing a revoked key", NULL);
            stmt_done(st);
        }
    }
    if (!e)
        e = exec_stmt(s, LS_REV_PURGE, "deleting revoked endpoints");
    return tx_end(s, e);
}

tes_err tes_lock_store_is_revoked(tes_lock_store *s, const uint8_t key_id[TES_ACCESS_KEY_ID_LEN],
                                  bool *revoked)
{
    if (revoked)
        *revoked = false;
    if (!s || !key_id || !revoked)
        return tes_err_set(TES_ERR_ARG,
                           "lock store: is_revoked needs a store, a key id and an output");
    return is_revoked(s, key_id, revoked);
}

/* -------------------------------------------------------------------- log */

static bool one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(v, set[i]) == 0)
            return true;
    return false;
}

tes_err tes_lock_store_log(tes_lock_store *s, int64_t at, const char *outcome, const char *flow,
                           tes_err reason, const uint8_t *key_id, const char *detail)
{
    static const char *const outcomes[] = {"unlocked", "refused"};
    static const char *const flows[] = {"fast", "standard", "step-up", "none"};
    if (!s)
        return tes_err_set(TES_ERR_ARG, "lock store: log needs a store");
    if (!one_of(outcome, outcomes, 2))
        return tes_err_set(TES_ERR_ARG, "lock store: log outcome must be unlocked or refused");
    if (!one_of(flow, flows, 4))
        return tes_err_set(TES_ERR_ARG,
                           "lock store: log flow must be fast, standard, step-up or none");
    char clean[TES_LOCK_LOG_DETAIL_MAX + 1];
    if (detail) {
        size_t len = strnlen(detail, TES_LOCK_LOG_DETAIL_MAX + 1);
        if (len > TES_LOCK_LOG_DETAIL_MAX)
            return tes_err_set(TES_ERR_ARG, "lock store: a log detail longer than %d bytes",
                               TES_LOCK_LOG_DETAIL_MAX);
        tes_text_printable(clean, sizeof clean, TES_BYTES(detail, len));
    }
    tes_err e = tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = stmt(s, LS_LOG_ADD, &st))) {
        if (!(e = bind_int(s, st, 1, at)) && !(e = bind_text(s, st, 2, outcome)) &&
            !(e = bind_text(s, st, 3, flow)) && !(e = bind_int(s, st, 4, (int64_t)reason)) &&
            !(e = key_id ? bind_blob(s, st, 5, key_id, TES_ACCESS_KEY_ID_LEN)
                         : bind_text(s, st, 5, NULL)) &&
            !(e = bind_text(s, st, 6, detail ? clean : NULL)))
            e = step_done(s, st, "adding a log entry", NULL);
        stmt_done(st);
    }
    if (!e && !(e = stmt(s, LS_LOG_TRIM, &st))) {
        if (!(e = bind_int(s, st, 1, TES_LOCK_LOG_KEEP - 1)))
            e = step_done(s, st, "trimming the log", NULL);
        stmt_done(st);
    }
    return tx_end(s, e);
}

/* A text column as a JSON string (null for SQL NULL; NULL for text that is not UTF-8). */
static json_t *col_json_text(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    const char *t = (const char *)sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    return t ? json_stringn(t, (size_t)n) : NULL;
}

static tes_err log_line(sqlite3_stmt *st, tes_buf *out)
{
    int64_t at = sqlite3_column_int64(st, 0);
    char when[21];
    tes_time_format(at, when);
    json_t *key = json_null();
    if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
        uint8_t kid[TES_ACCESS_KEY_ID_LEN];
        char hex[2 * TES_ACCESS_KEY_ID_LEN + 1];
        if (!col_blob(st, 4, kid, sizeof kid))
            return corrupt("reading the log");
        tes_hex_str(hex, TES_BYTES(kid, sizeof kid));
        key = json_string(hex);
    }
    json_t *o = json_object();
    int bad = !o || !key;
    bad |= json_object_set_new(o, "at", json_integer(at));
    bad |= json_object_set_new(o, "time", json_string(when));
    bad |= json_object_set_new(o, "outcome", col_json_text(st, 1));
    bad |= json_object_set_new(o, "flow", col_json_text(st, 2));
    bad |= json_object_set_new(o, "reason",
                               json_string(tes_err_name((tes_err)sqlite3_column_int64(st, 3))));
    bad |= json_object_set_new(o, "key_id", key);
    bad |= json_object_set_new(o, "detail", col_json_text(st, 5));
    char *text = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return tes_err_set(TES_ERR_STORE_CORRUPT,
                           "lock store: a log entry cannot be written as JSON (damaged text?)");
    tes_buf_append(out, text, strlen(text));
    tes_buf_append(out, "\n", 1);
    free(text);
    return TES_OK;
}

tes_err tes_lock_store_log_list(tes_lock_store *s, size_t max_rows, tes_buf *json_lines)
{
    if (!s || !json_lines)
        return tes_err_set(TES_ERR_ARG, "lock store: log_list needs a store and an output");
    sqlite3_stmt *st = NULL;
    tes_err e = stmt(s, LS_LOG_LIST, &st);
    if (e)
        return e;
    size_t start = json_lines->len;
    int64_t limit = max_rows == 0 || max_rows > INT64_MAX ? -1 : (int64_t)max_rows;
    if (!(e = bind_int(s, st, 1, limit))) {
        int rc;
        while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW)
            e = log_line(st, json_lines);
        if (!e && rc != SQLITE_DONE)
            e = sql_fail(s, rc, "listing the log");
    }
    stmt_done(st);
    if (!e && json_lines->failed)
        e = tes_err_set(TES_ERR_NOMEM, "lock store: listing the log: out of memory");
    if (e && !json_lines->failed)
        json_lines->len = start;
    return e;
}

/* --------------------------------------------------------------- counters */

static tes_err meta_name_ok(const char *name)
{
    if (!name || !*name || strnlen(name, TES_LOCK_META_NAME_MAX + 1) > TES_LOCK_META_NAME_MAX)
        return tes_err_set(TES_ERR_ARG, "lock store: a counter name of 1 to %d bytes is needed",
                           TES_LOCK_META_NAME_MAX);
    return TES_OK;
}

tes_err tes_lock_store_meta_get(tes_lock_store *s, const char *name, int64_t *value)
{
    if (!s || !value)
        return tes_err_set(TES_ERR_ARG, "lock store: meta_get needs a store and an output");
    tes_err e = meta_name_ok(name);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if ((e = stmt(s, LS_META_GET, &st)))
        return e;
    if (!(e = bind_text(s, st, 1, name))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *value = sqlite3_column_int64(st, 0);
        else if (rc == SQLITE_DONE)
            e = tes_err_set(TES_ERR_NOT_FOUND, "lock store: no counter \"%s\"", name);
        else
            e = sql_fail(s, rc, "reading a counter");
    }
    stmt_done(st);
    return e;
}

tes_err tes_lock_store_meta_put(tes_lock_store *s, const char *name, int64_t value)
{
    if (!s)
        return tes_err_set(TES_ERR_ARG, "lock store: meta_put needs a store");
    tes_err e = meta_name_ok(name);
    if (e || (e = tx_begin(s)))
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = stmt(s, LS_META_PUT, &st))) {
        if (!(e = bind_text(s, st, 1, name)) && !(e = bind_int(s, st, 2, value)))
            e = step_done(s, st, "writing a counter", NULL);
        stmt_done(st);
    }
    return tx_end(s, e);
}
