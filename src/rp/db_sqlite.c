/*
 * The verifier's SQLite engine (the default: <site>/rp.db). One connection,
 * used by one statement at a time (rp_db.mu); WAL journal, synchronous FULL;
 * the file is recognised before anything is written (store/sqlite_file.h:
 * created 0600, another application's database refused unmodified). Every
 * statement is one implicit transaction: the logic (db.c) decides in single
 * statements (UPDATE ... WHERE ... RETURNING), so none needs more.
 * Parameters are written $1, $2 ... as PostgreSQL wants; SQLite reads them as
 * ?1, ?2 once rewritten here.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"
#include "store/sqlite_file.h"

#define RP_SQLITE_APP_ID 0x54455356 /* "TESV" */
#define RP_SQLITE_BUSY_MS 5000
#define RP_SQLITE_VERSION 1

static const sqlite_file_kind rp_kind = {
    .who = "rp",
    .noun = "database",
    .what = "a Tessera verifier database",
    .busy_ms = RP_SQLITE_BUSY_MS,
    .app_id = RP_SQLITE_APP_ID,
    .version = RP_SQLITE_VERSION,
};

typedef struct sq_db {
    rp_db base;
    sqlite3 *db;
    char *path;
} sq_db;

static void sq_close(rp_db *d)
{
    sq_db *s = (sq_db *)d;
    if (s->db) {
        sqlite3_close(s->db);
        sqlite_file_lock();
        sqlite_file_closed(s->path);
        sqlite_file_unlock();
    }
    free(s->path);
    free(s);
}

/* "$N" -> "?N" (the statements are constant text of db.c). */
static char *sqlite_text(const char *sql)
{
    char *t = strdup(sql);
    for (char *p = t; p && *p; p++)
        if (*p == '$')
            *p = '?';
    return t;
}

static tes_err collect(sqlite3_stmt *st, rp_rows *out)
{
    size_t ncols = (size_t)sqlite3_column_count(st);
    if (ncols > RP_DB_MAX_COLS)
        return tes_err_set(TES_ERR_STORE, "rp: too many columns");
    out->ncols = ncols;
    char **cells = realloc(out->cell, (out->nrows + 1) * ncols * sizeof *cells + 1);
    if (cells == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    out->cell = cells;
    for (size_t c = 0; c < ncols; c++) {
        const unsigned char *v = sqlite3_column_text(st, (int)c);
        size_t n = (size_t)sqlite3_column_bytes(st, (int)c);
        char *copy = NULL;
        if (v != NULL && (copy = malloc(n + 1)) != NULL) {
            memcpy(copy, v, n);
            copy[n] = '\0';
        }
        cells[out->nrows * ncols + c] = copy;
        if (v != NULL && copy == NULL) {
            out->nrows++;
            return tes_err_set(TES_ERR_NOMEM, "out of memory");
        }
    }
    out->nrows++;
    return TES_OK;
}

static tes_err sq_exec(rp_db *d, const char *sql, const char *const *args, size_t nargs,
                       rp_rows *out)
{
    sq_db *s = (sq_db *)d;
    char *text = sqlite_text(sql);
    if (text == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, text, -1, &st, NULL);
    free(text);
    if (rc != SQLITE_OK)
        return sqlite_file_fail(&rp_kind, s->db, rc, "preparing a statement");
    for (size_t i = 0; rc == SQLITE_OK && i < nargs; i++)
        rc = args[i] ? sqlite3_bind_text(st, (int)i + 1, args[i], -1, SQLITE_STATIC)
                     : sqlite3_bind_null(st, (int)i + 1);
    tes_err e = rc == SQLITE_OK ? TES_OK : sqlite_file_fail(&rp_kind, s->db, rc, "binding");
    while (e == TES_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if (out != NULL)
            e = collect(st, out);
    if (e == TES_OK && rc != SQLITE_DONE)
        e = sqlite_file_fail(&rp_kind, s->db, rc, "running a statement");
    sqlite3_finalize(st);
    return e;
}

static const rp_db_vt sq_vt = {sq_close, sq_exec};

tes_err rp_db_sqlite_open(const char *path, rp_db **out)
{
    *out = NULL;
    sqlite_file_lock();
    tes_err e = sqlite_file_precheck(&rp_kind, path);
    sq_db *s = e ? NULL : calloc(1, sizeof *s);
    if (e == TES_OK && (s == NULL || (s->path = strdup(path)) == NULL)) {
        free(s);
        s = NULL;
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    int rc = SQLITE_OK;
    if (e == TES_OK) {
        s->base.vt = &sq_vt;
        rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
                             NULL);
        sqlite_file_opened(path);
    }
    sqlite_file_unlock();
    if (e != TES_OK)
        return e;
    int64_t version = 0;
    if (rc != SQLITE_OK)
        e = sqlite_file_fail(&rp_kind, s->db, rc, "opening");
    if (e == TES_OK) {
        sqlite3_busy_timeout(s->db, RP_SQLITE_BUSY_MS);
        e = sqlite_file_identify(&rp_kind, s->db, path, &version);
    }
    if (e == TES_OK)
        e = sqlite_file_exec(&rp_kind, s->db,
                             "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
                             "setting pragmas");
    if (e == TES_OK && version == 0) {
        char app[96];
        snprintf(app, sizeof app, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 RP_SQLITE_APP_ID, RP_SQLITE_VERSION);
        e = sqlite_file_exec(&rp_kind, s->db, app, "marking the database");
    }
    if (e != TES_OK) {
        sq_close(&s->base);
        return e;
    }
    *out = &s->base;
    return TES_OK;
}
