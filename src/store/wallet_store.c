/*
 * The wallet store (tessera/store.h) on SQLite.
 *
 * Threads and processes
 *   A tes_store is one SQLite connection opened with SQLITE_OPEN_NOMUTEX: use a
 *   tes_store from one thread at a time (one tes_store per thread). Several
 *   stores, in one process or in several, may have the same file open at once;
 *   SQLite's file locks and WAL keep them consistent. Do not carry an open store
 *   across fork(): the child must open its own (POSIX record locks are per
 *   process, so a child closing an inherited connection would drop the parent's
 *   locks).
 *
 * Durability
 *   journal_mode=WAL, synchronous=FULL (every commit fsyncs the WAL), so a
 *   process killed at any instant leaves the last committed state. Every change
 *   is one BEGIN IMMEDIATE ... COMMIT transaction (ROLLBACK on any error); the
 *   write lock is taken at BEGIN, so two processes never interleave a
 *   read-then-update (this is what makes tes_store_take_copy hand out each
 *   single-use copy once). A lock held by someone else is waited for up to
 *   5000 ms (sqlite3_busy_timeout); beyond that the call fails with
 *   TES_ERR_BUSY.
 *
 * Recognising a store
 *   The header is checked by hand before SQLite sees the file: a non-empty file
 *   that does not start with "SQLite format 3\0" is refused as
 *   TES_ERR_STORE_CORRUPT without SQLite ever opening it (so no journal, WAL or
 *   shm file is created beside it and it is never written). An SQLite file is
 *   then only read (PRAGMA application_id / user_version, the schema count)
 *   before anything is written: a foreign application_id, or an application_id
 *   of 0 with tables in it, is another program's database and is refused as
 *   TES_ERR_STORE_CORRUPT, unmodified (journal_mode=WAL would otherwise rewrite
 *   its header). A Tessera store whose user_version is newer than this build
 *   knows fails with TES_ERR_STORE ("newer version").
 *
 *   No PRAGMA quick_check on open: it reads every page (O(store size), and mdocs
 *   with portraits make the store large) on every open, to find damage that
 *   WAL + synchronous=FULL does not produce on a crash, and that SQLite reports
 *   anyway as SQLITE_CORRUPT when a damaged page is read. Instead, any
 *   SQLITE_CORRUPT or SQLITE_NOTADB from any statement maps to
 *   TES_ERR_STORE_CORRUPT, and on open the expected tables must all exist.
 *
 * Files
 *   A missing store file is created by us with mode 0600 (O_CREAT|O_EXCL) before
 *   SQLite opens it; SQLite gives its -wal and -shm files the mode of the
 *   database file. An existing file's mode is left alone. The last component of
 *   the path must not be a symbolic link (SQLITE_OPEN_NOFOLLOW, O_NOFOLLOW).
 *
 * Semantics chosen where the header leaves room
 *   - display_name and issuer may be NULL on input and are then stored as "";
 *     strings returned are never NULL. doctype is required.
 *   - meta->created_at of 0 means now; meta->copies / unused_copies / id are
 *     ignored on input.
 *   - copies.used is 1 once a copy has been presented at all (for either kind
 *     of credential), so unused_copies counts copies never shown. For a
 *     single-use credential that is the number still available.
 *   - tes_store_copy.use_count is the count after this take (1 on the first
 *     take of a copy).
 *   - The log keeps credential_id as a plain number (no foreign key): the
 *     holder's history survives deleting the credential, and an entry for a
 *     failed or declined request may name no credential (0).
 *   - A log entry's at (a credential's created_at) of 0 means the store's clock
 *     (tes_store_opts) now. relying_party and outcome are
 *     required; elements may be NULL (stored as "").
 *
 * Files of the store
 *   This file: opening, recognising and migrating the store, its prepared
 *   statements and transactions. store_creds.c: credentials and copies.
 *   store_log.c: the log and the settings. store_keys.c: door keys (their own
 *   statements, prepared per call). Shared: store_internal.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/sqlite_file.h"
#include "store/store_internal.h"

/* PRAGMA application_id of a Tessera wallet store: "TESW". */
#define TES_STORE_APP_ID 0x54455357
#define TES_STORE_BUSY_MS 5000

/* Schema migrations, in order; migration i brings user_version from i to i+1.
 * Each runs in the same BEGIN IMMEDIATE transaction that records it in the
 * migrations table (applied_at from the store's clock) and sets user_version
 * (both written by migrate()). */
static const char *const migrations[] = {
    /* 1: initial schema */
    "PRAGMA application_id = 1413829463;" /* == TES_STORE_APP_ID */
    "CREATE TABLE migrations ("
    "  version INTEGER PRIMARY KEY,"
    "  applied_at INTEGER NOT NULL);"
    "CREATE TABLE credentials ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  doctype TEXT NOT NULL,"
    "  display_name TEXT NOT NULL,"
    "  issuer TEXT NOT NULL,"
    "  valid_from INTEGER NOT NULL,"
    "  valid_until INTEGER NOT NULL,"
    "  single_use INTEGER NOT NULL CHECK (single_use IN (0, 1)),"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE copies ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  credential_id INTEGER NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,"
    "  key_id TEXT NOT NULL,"
    "  mdoc BLOB NOT NULL,"
    "  use_count INTEGER NOT NULL DEFAULT 0 CHECK (use_count >= 0),"
    "  used INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)));"
    "CREATE INDEX copies_by_credential ON copies(credential_id, used, use_count);"
    "CREATE TABLE log ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  relying_party TEXT NOT NULL,"
    "  elements TEXT NOT NULL,"
    "  credential_id INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL);"
    "CREATE TABLE settings ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);",
    /* 2: a credential's "needs the PIN" flag lives with the credential (written in the
     * same transaction; wallets kept it in settings "credential.N.uv" before), and
     * copies are found by key (one key never serves two stored copies) */
    "ALTER TABLE credentials ADD COLUMN needs_pin INTEGER NOT NULL DEFAULT 0"
    "  CHECK (needs_pin IN (0, 1));"
    "UPDATE credentials SET needs_pin = 1 WHERE id IN ("
    "  SELECT CAST(substr(key, 12, length(key) - 14) AS INTEGER) FROM settings"
    "  WHERE key LIKE 'credential.%.uv' AND value = '1');"
    "CREATE INDEX copies_by_key ON copies(key_id);",
    /* 3: door keys (issue 14, store_keys.c): the keys the wallet's secure element made
     * for hotels ('requested' until the hotel's package makes them 'active'), the
     * persistent keys shared with each lock, the newest revocation document per group */
    "CREATE TABLE access_keys ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  state TEXT NOT NULL CHECK (state IN ('requested', 'active')),"
    "  se_key_id TEXT NOT NULL UNIQUE,"
    "  endpoint_key BLOB NOT NULL UNIQUE,"
    "  group_id BLOB NOT NULL DEFAULT x'',"
    "  issuer TEXT NOT NULL DEFAULT '',"
    "  reader_key BLOB NOT NULL DEFAULT x'',"
    "  issuer_key BLOB NOT NULL DEFAULT x'',"
    "  document BLOB NOT NULL DEFAULT x'',"
    "  key_id BLOB NOT NULL DEFAULT x'',"
    "  rooms TEXT NOT NULL DEFAULT '',"
    "  not_before INTEGER NOT NULL DEFAULT 0,"
    "  not_after INTEGER NOT NULL DEFAULT 0,"
    "  issued_at INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX access_keys_by_group ON access_keys(group_id, state);"
    "CREATE TABLE access_persistent ("
    "  key INTEGER NOT NULL REFERENCES access_keys(id) ON DELETE CASCADE,"
    "  reader_id BLOB NOT NULL CHECK (length(reader_id) = 32),"
    "  kpersistent BLOB NOT NULL CHECK (length(kpersistent) = 32),"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (key, reader_id));"
    "CREATE TABLE access_revocations ("
    "  group_id BLOB PRIMARY KEY,"
    "  version INTEGER NOT NULL,"
    "  document BLOB NOT NULL);",
};
#define TES_STORE_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

static const char *const required_tables[] = {"migrations",  "credentials",       "copies",
                                              "log",         "settings",          "access_keys",
                                              "access_persistent", "access_revocations"};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_CRED_INSERT] = "INSERT INTO credentials(doctype, display_name, issuer, valid_from,"
                       " valid_until, single_use, created_at, needs_pin)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_COPY_INSERT] = "INSERT INTO copies(credential_id, key_id, mdoc) VALUES (?1, ?2, ?3)",
    [ST_COPY_BY_KEY] = "SELECT credential_id FROM copies WHERE key_id = ?1 LIMIT 1",
    [ST_LIST] = "SELECT c.id, c.doctype, c.display_name, c.issuer, c.valid_from, c.valid_until,"
                " c.created_at,"
                " (SELECT count(*) FROM copies k WHERE k.credential_id = c.id),"
                " (SELECT count(*) FROM copies k WHERE k.credential_id = c.id AND k.used = 0),"
                " c.single_use, c.needs_pin"
                " FROM credentials c ORDER BY c.id",
    [ST_CRED_SINGLE_USE] = "SELECT single_use FROM credentials WHERE id = ?1",
    [ST_COPY_PICK_UNUSED] = "SELECT id, key_id, mdoc, use_count FROM copies"
                            " WHERE credential_id = ?1 AND used = 0"
                            " ORDER BY use_count, id LIMIT 1",
    [ST_COPY_PICK_LEAST] = "SELECT id, key_id, mdoc, use_count FROM copies"
                           " WHERE credential_id = ?1 ORDER BY use_count, id LIMIT 1",
    [ST_COPY_COUNT] = "SELECT count(*) FROM copies WHERE credential_id = ?1",
    [ST_COPY_MARK] = "UPDATE copies SET used = 1, use_count = use_count + 1 WHERE id = ?1",
    [ST_CRED_DELETE] = "DELETE FROM credentials WHERE id = ?1",
    [ST_LOG_INSERT] = "INSERT INTO log(at, relying_party, elements, credential_id, outcome)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_LOG_LIST] = "SELECT id, at, relying_party, elements, credential_id, outcome"
                    " FROM log ORDER BY id",
    [ST_SET] = "INSERT INTO settings(key, value) VALUES (?1, ?2)"
               " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_GET] = "SELECT value FROM settings WHERE key = ?1",
};

/* ------------------------------------------------------------------ errors */

/* Maps an SQLite result code (with the connection's message) to a tes_err and
 * records the message. Call before anything else touches the connection. */
static const sqlite_file_kind store_kind = {
    .who = "store",
    .noun = "store",
    .what = "a Tessera wallet store",
    .busy_ms = TES_STORE_BUSY_MS,
    .app_id = TES_STORE_APP_ID,
    .version = TES_STORE_VERSION,
};

tes_err store_sql_fail(sqlite3 *db, int rc, const char *what)
{
    return sqlite_file_fail(&store_kind, db, rc, what);
}

tes_err store_nomem(const char *what)
{
    return tes_err_set(TES_ERR_NOMEM, "store: %s: out of memory", what);
}

/* -------------------------------------------------------------- statements */

tes_err store_stmt_get(tes_store *s, int which, sqlite3_stmt **out)
{
    if (!s->st[which]) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->st[which], NULL);
        if (rc != SQLITE_OK) {
            s->st[which] = NULL;
            return store_sql_fail(s->db, rc, "preparing a statement");
        }
    }
    *out = s->st[which];
    return TES_OK;
}

/* Resets a statement after use (keeps it prepared, drops its bindings). */
void store_stmt_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* Runs a statement that returns no rows. */
static tes_err stmt_exec(tes_store *s, int which, const char *what)
{
    sqlite3_stmt *st = NULL;
    tes_err e = store_stmt_get(s, which, &st);
    if (e)
        return e;
    int rc = sqlite3_step(st);
    e = rc == SQLITE_DONE ? TES_OK : store_sql_fail(s->db, rc, what);
    store_stmt_done(st);
    return e;
}

tes_err store_bind_text(tes_store *s, sqlite3_stmt *st, int i, const char *v)
{
    int rc = sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? TES_OK : store_sql_fail(s->db, rc, "binding a parameter");
}

tes_err store_bind_int(tes_store *s, sqlite3_stmt *st, int i, int64_t v)
{
    int rc = sqlite3_bind_int64(st, i, v);
    return rc == SQLITE_OK ? TES_OK : store_sql_fail(s->db, rc, "binding a parameter");
}

tes_err store_bind_blob(tes_store *s, sqlite3_stmt *st, int i, tes_bytes v)
{
    if (v.len > INT_MAX)
        return tes_err_set(TES_ERR_ARG, "store: mdoc of %zu bytes is too large", v.len);
    /* zeroblob for empty: a NULL pointer would bind SQL NULL. */
    int rc = v.len ? sqlite3_bind_blob(st, i, v.ptr, (int)v.len, SQLITE_STATIC)
                   : sqlite3_bind_zeroblob(st, i, 0);
    return rc == SQLITE_OK ? TES_OK : store_sql_fail(s->db, rc, "binding a parameter");
}

/* Copies a text column (never NULL on success). */
char *store_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    char *r = malloc((size_t)n + 1);
    if (!r)
        return NULL;
    if (n && t)
        memcpy(r, t, (size_t)n);
    r[n] = '\0';
    return r;
}

/* ------------------------------------------------------------ transactions */

tes_err store_tx_begin(tes_store *s)
{
    return stmt_exec(s, ST_BEGIN, "starting a transaction");
}

/* Rolls back the open transaction, if any, keeping the recorded error message. */
static void tx_rollback(tes_store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return; /* nothing open (or SQLite already rolled back) */
    sqlite3_stmt *st = NULL;
    if (store_stmt_get(s, ST_ROLLBACK, &st) == TES_OK) {
        (void)sqlite3_step(st);
        store_stmt_done(st);
    } else {
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* Commits; on failure rolls back and returns the commit's error. */
static tes_err tx_commit(tes_store *s)
{
    tes_err e = stmt_exec(s, ST_COMMIT, "committing");
    if (e)
        tx_rollback(s);
    return e;
}

/* Ends a transaction: commit when e is TES_OK, otherwise roll back. */
tes_err store_tx_end(tes_store *s, tes_err e)
{
    if (e) {
        tx_rollback(s);
        return e;
    }
    return tx_commit(s);
}

/* ------------------------------------------------------------------- open */

static tes_err migrate(tes_store *s, const char *path)
{
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    /* Re-read inside the write lock: another process may have migrated meanwhile. */
    int64_t ver = 0;
    e = sqlite_file_identify(&store_kind, s->db, path, &ver);
    for (int64_t v = ver; !e && v < TES_STORE_VERSION; v++) {
        /* Recorded at the store's clock (tes_store_opts), like the registry's. */
        char book[160];
        snprintf(book, sizeof book,
                 "INSERT INTO migrations(version, applied_at) VALUES (%lld, %lld);"
                 "PRAGMA user_version = %lld;",
                 (long long)(v + 1), (long long)tes_clock_now(&s->clock), (long long)(v + 1));
        if (!(e = sqlite_file_exec(&store_kind, s->db, migrations[v], "migrating the schema")))
            e = sqlite_file_exec(&store_kind, s->db, book, "recording the migration");
    }
    return store_tx_end(s, e);
}

static tes_err check_tables(tes_store *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_sql_fail(s->db, rc, "reading the schema");
    tes_err e = TES_OK;
    for (size_t i = 0; !e && i < sizeof required_tables / sizeof required_tables[0]; i++) {
        sqlite3_reset(st);
        rc = sqlite3_bind_text(st, 1, required_tables[i], -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "store: %s is damaged: table %s is missing",
                            path, required_tables[i]);
        else if (rc != SQLITE_ROW)
            e = store_sql_fail(s->db, rc, "reading the schema");
    }
    sqlite3_finalize(st);
    return e;
}

tes_err tes_store_open(const char *path, tes_store **out)
{
    return tes_store_open_with(path, NULL, out);
}

tes_err tes_store_open_with(const char *path, const tes_store_opts *o, tes_store **out)
{
    if (!path || !*path || !out)
        return tes_err_set(TES_ERR_ARG, "store: tes_store_open needs a path and an output");
    *out = NULL;

    sqlite_file_lock();
    tes_err e = sqlite_file_precheck(&store_kind, path);
    tes_store *s = e ? NULL : calloc(1, sizeof *s);
    if (!e && (!s || !(s->path = strdup(path)))) {
        free(s);
        s = NULL;
        e = store_nomem("opening");
    }
    if (s)
        s->clock = o && o->clock ? *o->clock : tes_clock_system();
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
        e = s->db ? store_sql_fail(s->db, rc, "opening") : store_nomem("opening");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, TES_STORE_BUSY_MS);

    /* Read-only identification first: nothing is written to a foreign file. */
    int64_t version = 0;
    if ((e = sqlite_file_identify(&store_kind, s->db, path, &version)))
        goto fail;

    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        e = store_sql_fail(s->db, rc, "switching to WAL");
        sqlite3_finalize(st);
        goto fail;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        e = tes_err_set(TES_ERR_STORE, "store: %s: cannot use WAL journal (got %s)", path,
                        mode ? mode : "nothing");
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);

    if ((e = sqlite_file_exec(&store_kind, s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                        "setting pragmas")))
        goto fail;

    if (version < TES_STORE_VERSION && (e = migrate(s, path)))
        goto fail;
    if ((e = check_tables(s, path)))
        goto fail;

    *out = s;
    return TES_OK;

fail:
    tes_store_close(s);
    return e;
}

void tes_store_close(tes_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db); /* all statements are finalized: always closes */
    sqlite_file_closed(s->path);
    free(s->path);
    free(s);
}
