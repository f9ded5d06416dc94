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

#include "tessera/store.h"
#include "store/sqlite_file.h"

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
};
#define TES_STORE_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

static const char *const required_tables[] = {"migrations", "credentials", "copies", "log",
                                              "settings"};

/* Prepared statements, kept for the life of the connection. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_CRED_INSERT,
    ST_COPY_INSERT,
    ST_COPY_BY_KEY,
    ST_LIST,
    ST_CRED_SINGLE_USE,
    ST_COPY_PICK_UNUSED,
    ST_COPY_PICK_LEAST,
    ST_COPY_COUNT,
    ST_COPY_MARK,
    ST_CRED_DELETE,
    ST_LOG_INSERT,
    ST_LOG_LIST,
    ST_SET,
    ST_GET,
    ST_COUNT
};

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

struct tes_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    char *path; /* as opened: counted in sqlite_file's table of open files */
    tes_clock clock; /* the opener's (tes_store_opts) */
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

static tes_err sql_fail(sqlite3 *db, int rc, const char *what)
{
    return sqlite_file_fail(&store_kind, db, rc, what);
}

static tes_err nomem(const char *what)
{
    return tes_err_set(TES_ERR_NOMEM, "store: %s: out of memory", what);
}

/* -------------------------------------------------------------- statements */

static tes_err stmt_get(tes_store *s, int which, sqlite3_stmt **out)
{
    if (!s->st[which]) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->st[which], NULL);
        if (rc != SQLITE_OK) {
            s->st[which] = NULL;
            return sql_fail(s->db, rc, "preparing a statement");
        }
    }
    *out = s->st[which];
    return TES_OK;
}

/* Resets a statement after use (keeps it prepared, drops its bindings). */
static void stmt_done(sqlite3_stmt *st)
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
    tes_err e = stmt_get(s, which, &st);
    if (e)
        return e;
    int rc = sqlite3_step(st);
    e = rc == SQLITE_DONE ? TES_OK : sql_fail(s->db, rc, what);
    stmt_done(st);
    return e;
}

static tes_err bind_text(tes_store *s, sqlite3_stmt *st, int i, const char *v)
{
    int rc = sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? TES_OK : sql_fail(s->db, rc, "binding a parameter");
}

static tes_err bind_int(tes_store *s, sqlite3_stmt *st, int i, int64_t v)
{
    int rc = sqlite3_bind_int64(st, i, v);
    return rc == SQLITE_OK ? TES_OK : sql_fail(s->db, rc, "binding a parameter");
}

static tes_err bind_blob(tes_store *s, sqlite3_stmt *st, int i, tes_bytes v)
{
    if (v.len > INT_MAX)
        return tes_err_set(TES_ERR_ARG, "store: mdoc of %zu bytes is too large", v.len);
    /* zeroblob for empty: a NULL pointer would bind SQL NULL. */
    int rc = v.len ? sqlite3_bind_blob(st, i, v.ptr, (int)v.len, SQLITE_STATIC)
                   : sqlite3_bind_zeroblob(st, i, 0);
    return rc == SQLITE_OK ? TES_OK : sql_fail(s->db, rc, "binding a parameter");
}

/* Copies a text column (never NULL on success). */
static char *col_text(sqlite3_stmt *st, int i)
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

static tes_err tx_begin(tes_store *s)
{
    return stmt_exec(s, ST_BEGIN, "starting a transaction");
}

/* Rolls back the open transaction, if any, keeping the recorded error message. */
static void tx_rollback(tes_store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return; /* nothing open (or SQLite already rolled back) */
    sqlite3_stmt *st = NULL;
    if (stmt_get(s, ST_ROLLBACK, &st) == TES_OK) {
        (void)sqlite3_step(st);
        stmt_done(st);
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
static tes_err tx_end(tes_store *s, tes_err e)
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
    tes_err e = tx_begin(s);
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
    return tx_end(s, e);
}

static tes_err check_tables(tes_store *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s->db, rc, "reading the schema");
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
            e = sql_fail(s->db, rc, "reading the schema");
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
        e = nomem("opening");
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
        e = s->db ? sql_fail(s->db, rc, "opening") : nomem("opening");
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
        e = sql_fail(s->db, rc, "switching to WAL");
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

/* ------------------------------------------------------------ credentials */

tes_err tes_store_add_credential(tes_store *s, const tes_store_cred *meta,
                                 const tes_store_new_copy *copies, size_t n, bool single_use,
                                 int64_t *id)
{
    if (!s || !meta || !meta->doctype || !*meta->doctype || !id || (n && !copies))
        return tes_err_set(TES_ERR_ARG, "store: add_credential needs a store, a doctype and an id "
                                        "output");
    if (n == 0)
        return tes_err_set(TES_ERR_ARG, "store: a credential needs at least one copy");
    for (size_t i = 0; i < n; i++) {
        if (!copies[i].key_id || !*copies[i].key_id)
            return tes_err_set(TES_ERR_ARG, "store: copy %zu has no key id", i);
        if (copies[i].mdoc.len == 0 || !copies[i].mdoc.ptr)
            return tes_err_set(TES_ERR_ARG, "store: copy %zu has no mdoc bytes", i);
    }

    tes_err e = tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    int64_t cred = 0;
    /* A key already serving a stored copy (the same mdoc added again, or
     * another mdoc for that key): two copies sharing a key would be linkable and
     * a single-use key could not be shown by both. Checked under the write lock. */
    for (size_t i = 0; !e && i < n; i++) {
        int64_t other = 0;
        bool dup = false;
        st = NULL;
        if (!(e = stmt_get(s, ST_COPY_BY_KEY, &st)) &&
            !(e = bind_text(s, st, 1, copies[i].key_id))) {
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                dup = true;
                other = sqlite3_column_int64(st, 0);
            } else if (rc != SQLITE_DONE) {
                e = sql_fail(s->db, rc, "looking for the key's copies");
            }
        }
        stmt_done(st);
        if (!e && dup)
            e = tes_err_set(TES_ERR_EXISTS,
                            "store: key %s already belongs to a copy of credential %lld (the "
                            "same credential added twice?)",
                            copies[i].key_id, (long long)other);
    }
    if (e)
        return tx_end(s, e);
    if (!(e = stmt_get(s, ST_CRED_INSERT, &st)) && !(e = bind_text(s, st, 1, meta->doctype)) &&
        !(e = bind_text(s, st, 2, meta->display_name)) &&
        !(e = bind_text(s, st, 3, meta->issuer)) && !(e = bind_int(s, st, 4, meta->valid_from)) &&
        !(e = bind_int(s, st, 5, meta->valid_until)) &&
        !(e = bind_int(s, st, 6, single_use ? 1 : 0)) &&
        !(e = bind_int(s, st, 7, meta->created_at ? meta->created_at : tes_clock_now(&s->clock))) &&
        !(e = bind_int(s, st, 8, meta->needs_pin ? 1 : 0))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            cred = sqlite3_last_insert_rowid(s->db);
        else
            e = sql_fail(s->db, rc, "adding a credential");
    }
    stmt_done(st);

    for (size_t i = 0; !e && i < n; i++) {
        st = NULL;
        if (!(e = stmt_get(s, ST_COPY_INSERT, &st)) && !(e = bind_int(s, st, 1, cred)) &&
            !(e = bind_text(s, st, 2, copies[i].key_id)) &&
            !(e = bind_blob(s, st, 3, copies[i].mdoc))) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                e = sql_fail(s->db, rc, "adding a copy");
        }
        stmt_done(st);
    }
    e = tx_end(s, e);
    if (!e)
        *id = cred;
    return e;
}

void tes_store_creds_free(tes_store_cred *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++) {
        free(c[i].doctype);
        free(c[i].display_name);
        free(c[i].issuer);
    }
    free(c);
}

tes_err tes_store_list(tes_store *s, tes_store_cred **out, size_t *n)
{
    if (!s || !out || !n)
        return tes_err_set(TES_ERR_ARG, "store: list needs a store and outputs");
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    tes_err e = stmt_get(s, ST_LIST, &st);
    if (e)
        return e;
    tes_store_cred *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            tes_store_cred *na = realloc(arr, ncap * sizeof *na);
            if (!na) {
                e = nomem("listing credentials");
                break;
            }
            arr = na;
            cap = ncap;
        }
        tes_store_cred *c = &arr[len];
        memset(c, 0, sizeof *c);
        len++;
        c->id = sqlite3_column_int64(st, 0);
        c->doctype = col_text(st, 1);
        c->display_name = col_text(st, 2);
        c->issuer = col_text(st, 3);
        c->valid_from = sqlite3_column_int64(st, 4);
        c->valid_until = sqlite3_column_int64(st, 5);
        c->created_at = sqlite3_column_int64(st, 6);
        c->copies = sqlite3_column_int64(st, 7);
        c->unused_copies = sqlite3_column_int64(st, 8);
        c->single_use = sqlite3_column_int64(st, 9) != 0;
        c->needs_pin = sqlite3_column_int64(st, 10) != 0;
        if (!c->doctype || !c->display_name || !c->issuer) {
            e = nomem("listing credentials");
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = sql_fail(s->db, rc, "listing credentials");
    stmt_done(st);
    if (e) {
        tes_store_creds_free(arr, len);
        return e;
    }
    *out = arr;
    *n = len;
    return TES_OK;
}

void tes_store_copy_free(tes_store_copy *c)
{
    if (!c)
        return;
    free(c->key_id);
    tes_buf_free(&c->mdoc);
    memset(c, 0, sizeof *c);
}

/* Runs a statement with one integer parameter expecting one integer row.
 * *found is false when there is no row. */
static tes_err one_int(tes_store *s, int which, int64_t arg, int64_t *val, bool *found,
                       const char *what)
{
    sqlite3_stmt *st = NULL;
    tes_err e = stmt_get(s, which, &st);
    if (e)
        return e;
    *found = false;
    if (!(e = bind_int(s, st, 1, arg))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *found = true;
            *val = sqlite3_column_int64(st, 0);
        } else if (rc != SQLITE_DONE) {
            e = sql_fail(s->db, rc, what);
        }
    }
    stmt_done(st);
    return e;
}

/* Selects a copy (pick statement) into out; *found false when none. */
static tes_err pick_copy(tes_store *s, int which, int64_t cred_id, tes_store_copy *out, bool *found)
{
    sqlite3_stmt *st = NULL;
    tes_err e = stmt_get(s, which, &st);
    if (e)
        return e;
    *found = false;
    if (!(e = bind_int(s, st, 1, cred_id))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            out->id = sqlite3_column_int64(st, 0);
            out->key_id = col_text(st, 1);
            const void *blob = sqlite3_column_blob(st, 2);
            int blen = sqlite3_column_bytes(st, 2);
            if (blen > 0 && blob)
                tes_buf_append(&out->mdoc, blob, (size_t)blen);
            out->use_count = sqlite3_column_int64(st, 3) + 1; /* after this take */
            if (!out->key_id || out->mdoc.failed || (blen > 0 && !blob))
                e = nomem("reading a copy");
            else
                *found = true;
        } else if (rc != SQLITE_DONE) {
            e = sql_fail(s->db, rc, "selecting a copy");
        }
    }
    stmt_done(st);
    return e;
}

/* Picks the copy to present and, with take, marks it (one transaction). */
static tes_err pick_or_take(tes_store *s, int64_t cred_id, tes_store_copy *out, bool take)
{
    if (!s || !out)
        return tes_err_set(TES_ERR_ARG, "store: take_copy needs a store and an output");
    memset(out, 0, sizeof *out);

    tes_err e = tx_begin(s);
    if (e)
        return e;
    int64_t single_use = 0, total = 0;
    bool found = false;
    e = one_int(s, ST_CRED_SINGLE_USE, cred_id, &single_use, &found, "reading a credential");
    if (!e && !found)
        e = tes_err_set(TES_ERR_NOT_FOUND, "store: no credential %lld", (long long)cred_id);
    if (!e)
        e = pick_copy(s, single_use ? ST_COPY_PICK_UNUSED : ST_COPY_PICK_LEAST, cred_id, out,
                      &found);
    if (!e && !found) {
        e = one_int(s, ST_COPY_COUNT, cred_id, &total, &found, "counting copies");
        if (!e && single_use)
            e = tes_err_set(TES_ERR_KEY_USED,
                            "store: all %lld single-use copies of credential %lld are used",
                            (long long)total, (long long)cred_id);
        else if (!e)
            e = tes_err_set(TES_ERR_NOT_FOUND, "store: credential %lld has no copies",
                            (long long)cred_id);
    }
    if (!e && take) {
        sqlite3_stmt *st = NULL;
        if (!(e = stmt_get(s, ST_COPY_MARK, &st))) {
            if (!(e = bind_int(s, st, 1, out->id))) {
                int rc = sqlite3_step(st);
                if (rc != SQLITE_DONE)
                    e = sql_fail(s->db, rc, "marking a copy used");
                else if (sqlite3_changes(s->db) != 1)
                    e = tes_err_set(TES_ERR_STORE, "store: copy %lld vanished while marking it",
                                    (long long)out->id);
            }
            stmt_done(st);
        }
    }
    e = tx_end(s, e);
    if (e)
        tes_store_copy_free(out);
    return e;
}

tes_err tes_store_take_copy(tes_store *s, int64_t cred_id, tes_store_copy *out)
{
    return pick_or_take(s, cred_id, out, true);
}

tes_err tes_store_peek_copy(tes_store *s, int64_t cred_id, tes_store_copy *out)
{
    return pick_or_take(s, cred_id, out, false);
}

tes_err tes_store_delete_credential(tes_store *s, int64_t cred_id)
{
    if (!s)
        return tes_err_set(TES_ERR_ARG, "store: delete_credential needs a store");
    tes_err e = tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = stmt_get(s, ST_CRED_DELETE, &st))) {
        if (!(e = bind_int(s, st, 1, cred_id))) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                e = sql_fail(s->db, rc, "deleting a credential");
            else if (sqlite3_changes(s->db) == 0)
                e = tes_err_set(TES_ERR_NOT_FOUND, "store: no credential %lld", (long long)cred_id);
        }
        stmt_done(st);
    }
    return tx_end(s, e);
}

/* -------------------------------------------------------------------- log */

tes_err tes_store_log_add(tes_store *s, const tes_store_log_entry *le)
{
    if (!s || !le || !le->relying_party || !le->outcome)
        return tes_err_set(TES_ERR_ARG, "store: a log entry needs a relying party and an outcome");
    tes_err e = tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = stmt_get(s, ST_LOG_INSERT, &st))) {
        if (!(e = bind_int(s, st, 1, le->at ? le->at : tes_clock_now(&s->clock))) &&
            !(e = bind_text(s, st, 2, le->relying_party)) &&
            !(e = bind_text(s, st, 3, le->elements)) && !(e = bind_int(s, st, 4, le->cred_id)) &&
            !(e = bind_text(s, st, 5, le->outcome))) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                e = sql_fail(s->db, rc, "adding a log entry");
        }
        stmt_done(st);
    }
    return tx_end(s, e);
}

void tes_store_log_free(tes_store_log_entry *le, size_t n)
{
    if (!le)
        return;
    for (size_t i = 0; i < n; i++) {
        free(le[i].relying_party);
        free(le[i].elements);
        free(le[i].outcome);
    }
    free(le);
}

tes_err tes_store_log_list(tes_store *s, tes_store_log_entry **out, size_t *n)
{
    if (!s || !out || !n)
        return tes_err_set(TES_ERR_ARG, "store: log_list needs a store and outputs");
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    tes_err e = stmt_get(s, ST_LOG_LIST, &st);
    if (e)
        return e;
    tes_store_log_entry *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            tes_store_log_entry *na = realloc(arr, ncap * sizeof *na);
            if (!na) {
                e = nomem("listing the log");
                break;
            }
            arr = na;
            cap = ncap;
        }
        tes_store_log_entry *le = &arr[len];
        memset(le, 0, sizeof *le);
        len++;
        le->id = sqlite3_column_int64(st, 0);
        le->at = sqlite3_column_int64(st, 1);
        le->relying_party = col_text(st, 2);
        le->elements = col_text(st, 3);
        le->cred_id = sqlite3_column_int64(st, 4);
        le->outcome = col_text(st, 5);
        if (!le->relying_party || !le->elements || !le->outcome) {
            e = nomem("listing the log");
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = sql_fail(s->db, rc, "listing the log");
    stmt_done(st);
    if (e) {
        tes_store_log_free(arr, len);
        return e;
    }
    *out = arr;
    *n = len;
    return TES_OK;
}

/* --------------------------------------------------------------- settings */

tes_err tes_store_set(tes_store *s, const char *key, const char *value)
{
    if (!s || !key || !value)
        return tes_err_set(TES_ERR_ARG, "store: set needs a store, a key and a value");
    tes_err e = tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = stmt_get(s, ST_SET, &st))) {
        if (!(e = bind_text(s, st, 1, key)) && !(e = bind_text(s, st, 2, value))) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                e = sql_fail(s->db, rc, "writing a setting");
        }
        stmt_done(st);
    }
    return tx_end(s, e);
}

tes_err tes_store_get(tes_store *s, const char *key, char **value)
{
    if (!s || !key || !value)
        return tes_err_set(TES_ERR_ARG, "store: get needs a store, a key and an output");
    *value = NULL;
    sqlite3_stmt *st = NULL;
    tes_err e = stmt_get(s, ST_GET, &st);
    if (e)
        return e;
    if (!(e = bind_text(s, st, 1, key))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *value = col_text(st, 0);
            if (!*value)
                e = nomem("reading a setting");
        } else if (rc == SQLITE_DONE) {
            e = tes_err_set(TES_ERR_NOT_FOUND, "store: no setting \"%s\"", key);
        } else {
            e = sql_fail(s->db, rc, "reading a setting");
        }
    }
    stmt_done(st);
    return e;
}
