/*
 * The registry's SQLite backend (the default: a file on one machine).
 *
 * House rules as in the wallet store (src/store/wallet_store.c):
 *   - One connection per tes_registry, SQLITE_OPEN_NOMUTEX (one thread at a
 *     time); several connections and processes may share the file. Do not
 *     carry an open registry across fork().
 *   - journal_mode=WAL, synchronous=FULL: a process killed at any instant
 *     leaves the last committed state. Every change is one BEGIN IMMEDIATE ...
 *     COMMIT (the write lock is taken at BEGIN, so read-decide-write never
 *     interleaves with another connection). A lock held elsewhere is waited
 *     for up to REG_SQLITE_BUSY_MS, then TES_ERR_BUSY.
 *   - The file is recognised before anything is written: a non-empty file not
 *     starting with the SQLite header, or an SQLite database of another
 *     application (application_id other than "TESR", or 0 with tables in it)
 *     is refused as TES_ERR_STORE_CORRUPT, unmodified; a newer schema version
 *     than this build knows is TES_ERR_STORE. SQLITE_CORRUPT / NOTADB from
 *     any statement map to TES_ERR_STORE_CORRUPT.
 *   - A missing file is created 0600 (O_EXCL); the last path component must
 *     not be a symbolic link.
 *   - Statements are prepared once (SQLITE_PREPARE_PERSISTENT) and kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry_internal.h"
#include "store/sqlite_file.h"

/* PRAGMA application_id of a Tessera registry: "TESR". */
#define REG_SQLITE_APP_ID 0x54455352
#define REG_SQLITE_BUSY_MS 5000

typedef struct sqlite_backend {
    reg_backend base;
    sqlite3 *db;
    sqlite3_stmt *st[RS_COUNT];
    sqlite3_stmt *begin, *commit, *rollback;
    char *path;   /* as opened */
    bool tracked; /* counted in open_files */
} sqlite_backend;

static const sqlite_file_kind registry_kind = {
    .who = "registry",
    .noun = "database",
    .what = "a Tessera registry",
    .busy_ms = REG_SQLITE_BUSY_MS,
    .app_id = REG_SQLITE_APP_ID,
};

static tes_err sql_fail(sqlite3 *db, int rc, const char *what)
{
    return sqlite_file_fail(&registry_kind, db, rc, what);
}

/* ------------------------------------------------------------- statements */

static tes_err prepare(sqlite_backend *s, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return sql_fail(s->db, rc, "preparing a statement");
    }
    return TES_OK;
}

/* The portable text uses $N; SQLite's numbered parameters are ?N. */
static tes_err stmt_get(sqlite_backend *s, int which, sqlite3_stmt **out)
{
    if (!s->st[which]) {
        const char *src = reg_stmts[which].sql;
        size_t n = strlen(src);
        char *sql = malloc(n + 1);
        if (!sql)
            return reg_nomem("preparing a statement");
        for (size_t i = 0; i <= n; i++)
            sql[i] = src[i] == '$' && src[i + 1] >= '0' && src[i + 1] <= '9' ? '?' : src[i];
        tes_err e = prepare(s, sql, &s->st[which]);
        free(sql);
        if (e)
            return e;
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

static tes_err step_none(sqlite_backend *s, sqlite3_stmt **slot, const char *sql, const char *what)
{
    tes_err e = TES_OK;
    if (!*slot && (e = prepare(s, sql, slot)))
        return e;
    int rc = sqlite3_step(*slot);
    e = rc == SQLITE_DONE ? TES_OK : sql_fail(s->db, rc, what);
    sqlite3_reset(*slot);
    return e;
}

static tes_err sq_exec(reg_backend *b, int which, const reg_arg *args, size_t nargs,
                       reg_result *res)
{
    sqlite_backend *s = (sqlite_backend *)b;
    if (res)
        memset(res, 0, sizeof *res);
    sqlite3_stmt *st = NULL;
    tes_err e = stmt_get(s, which, &st);
    if (e)
        return e;
    for (size_t i = 0; !e && i < nargs; i++) {
        int rc = args[i].text ? sqlite3_bind_text(st, (int)i + 1, args[i].text, -1, SQLITE_STATIC)
                              : sqlite3_bind_int64(st, (int)i + 1, args[i].i);
        if (rc != SQLITE_OK)
            e = sql_fail(s->db, rc, "binding a parameter");
    }
    int rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!res)
            continue;
        int ncols = sqlite3_column_count(st);
        if ((e = reg_result_add_row(res, (size_t)ncols)))
            break;
        for (int c = 0; !e && c < ncols; c++) {
            if (sqlite3_column_type(st, c) == SQLITE_NULL)
                continue;
            const char *t = (const char *)sqlite3_column_text(st, c);
            if (!t) {
                e = reg_nomem("reading a row");
                break;
            }
            e = reg_result_set(res, (size_t)c, t, (size_t)sqlite3_column_bytes(st, c));
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = sql_fail(s->db, rc, "running a statement");
    stmt_done(st);
    if (e && res)
        reg_result_free(res);
    return e;
}

/* ----------------------------------------------------------- transactions */

static tes_err sq_begin(reg_backend *b)
{
    sqlite_backend *s = (sqlite_backend *)b;
    return step_none(s, &s->begin, "BEGIN IMMEDIATE", "starting a transaction");
}

static void sq_rollback(reg_backend *b)
{
    sqlite_backend *s = (sqlite_backend *)b;
    if (sqlite3_get_autocommit(s->db))
        return; /* nothing open (or SQLite already rolled back) */
    if (!s->rollback && prepare(s, "ROLLBACK", &s->rollback) != TES_OK) {
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return;
    }
    (void)sqlite3_step(s->rollback);
    sqlite3_reset(s->rollback);
}

static tes_err sq_commit(reg_backend *b)
{
    sqlite_backend *s = (sqlite_backend *)b;
    tes_err e = step_none(s, &s->commit, "COMMIT", "committing");
    if (e)
        sq_rollback(b);
    return e;
}

static void sq_close(reg_backend *b)
{
    sqlite_backend *s = (sqlite_backend *)b;
    if (!s)
        return;

    for (int i = 0; i < RS_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->rollback);
    sqlite3_close(s->db); /* all statements finalized: always closes */
    if (s->tracked)
        sqlite_file_closed(s->path);
    free(s->path);
    free(s);
}

static const reg_backend_class sqlite_class = {
    "sqlite", sq_close, sq_begin, sq_commit, sq_rollback, sq_exec,
};

/* ------------------------------------------------------------------- open */

/* reg_migrations_count is not a constant expression: the kind gets it here. */
static tes_err identify(sqlite3 *db, const char *path, int64_t *version)
{
    sqlite_file_kind k = registry_kind;
    k.version = reg_migrations_count;
    return sqlite_file_identify(&k, db, path, version);
}

static tes_err migrate(sqlite_backend *s, const char *path)
{
    tes_err e = sq_begin(&s->base);
    if (e)
        return e;
    int64_t ver = 0;
    e = identify(s->db, path, &ver); /* again, under the write lock */
    for (int64_t v = ver; !e && v < reg_migrations_count; v++) {
        char book[160];
        snprintf(book, sizeof book,
                 "INSERT INTO migrations(version, applied_at) VALUES (%lld, %lld);"
                 "PRAGMA user_version = %lld;",
                 (long long)(v + 1), (long long)time(NULL), (long long)(v + 1));
        if (!(e = sqlite_file_exec(&registry_kind, s->db, reg_migrations_sqlite[v], "migrating the schema")))
            e = sqlite_file_exec(&registry_kind, s->db, book, "recording the migration");
    }
    if (!e && ver < reg_migrations_count) {
        char app[64];
        snprintf(app, sizeof app, "PRAGMA application_id = %d;", REG_SQLITE_APP_ID);
        e = sqlite_file_exec(&registry_kind, s->db, app, "marking the database");
    }
    if (e) {
        sq_rollback(&s->base);
        return e;
    }
    return sq_commit(&s->base);
}

static tes_err check_tables(sqlite_backend *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s->db, rc, "reading the schema");
    tes_err e = TES_OK;
    for (size_t i = 0; !e && i < reg_required_tables_count; i++) {
        sqlite3_reset(st);
        rc = sqlite3_bind_text(st, 1, reg_required_tables[i], -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: %s is damaged: table %s is missing",
                            path, reg_required_tables[i]);
        else if (rc != SQLITE_ROW)
            e = sql_fail(s->db, rc, "reading the schema");
    }
    sqlite3_finalize(st);
    return e;
}

tes_err reg_sqlite_open(const char *path, reg_backend **out)
{
    *out = NULL;
    if (!*path)
        return tes_err_set(TES_ERR_ARG, "registry: empty path");
    sqlite_file_lock();
    tes_err e = sqlite_file_precheck(&registry_kind, path);
    sqlite_backend *s = e ? NULL : calloc(1, sizeof *s);
    if (!e && (!s || !(s->path = strdup(path)))) {
        free(s);
        e = reg_nomem("opening");
    }
    if (e) {
        sqlite_file_unlock();
        return e;
    }
    s->base.vt = &sqlite_class;
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_NOFOLLOW,
                             NULL);
    sqlite_file_opened(path);
    s->tracked = true;
    sqlite_file_unlock();
    if (rc != SQLITE_OK) {
        e = s->db ? sql_fail(s->db, rc, "opening") : reg_nomem("opening");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, REG_SQLITE_BUSY_MS);

    int64_t version = 0;
    if ((e = identify(s->db, path, &version)))
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
        e = tes_err_set(TES_ERR_STORE, "registry: %s: cannot use WAL journal (got %s)", path,
                        mode ? mode : "nothing");
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    if ((e = sqlite_file_exec(&registry_kind, s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                        "setting pragmas")))
        goto fail;
    if (version < reg_migrations_count && (e = migrate(s, path)))
        goto fail;
    if ((e = check_tables(s, path)))
        goto fail;
    *out = &s->base;
    return TES_OK;

fail:
    sq_close(&s->base);
    return e;
}
