/*
 * Private to src/store/: what the files of the wallet store share.
 * wallet_store.c: opening, recognising and migrating the store, the statements
 * and transactions; store_creds.c: credentials and copies; store_log.c: the log
 * and the settings. The design notes are wallet_store.c's.
 */
#ifndef TES_STORE_STORE_INTERNAL_H
#define TES_STORE_STORE_INTERNAL_H

#include <sqlite3.h>

#include "tessera/store.h"

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

struct tes_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    char *path; /* as opened: counted in sqlite_file's table of open files */
    tes_clock clock; /* the opener's (tes_store_opts) */
};

/* Maps an SQLite result code (with the connection's message) to a tes_err and
 * records the message. Call before anything else touches the connection. */
tes_err store_sql_fail(sqlite3 *db, int rc, const char *what);
/* TES_ERR_NOMEM, "store: <what>: out of memory". */
tes_err store_nomem(const char *what);
/* The prepared statement `which` (ST_*), prepared on first use. */
tes_err store_stmt_get(tes_store *s, int which, sqlite3_stmt **out);
/* Resets a statement after use (keeps it prepared, drops its bindings). */
void store_stmt_done(sqlite3_stmt *st);
/* Bind parameter i; text NULL binds "". */
tes_err store_bind_text(tes_store *s, sqlite3_stmt *st, int i, const char *v);
tes_err store_bind_int(tes_store *s, sqlite3_stmt *st, int i, int64_t v);
/* TES_ERR_ARG for more than INT_MAX bytes. */
tes_err store_bind_blob(tes_store *s, sqlite3_stmt *st, int i, tes_bytes v);
/* Copies a text column (never NULL on success; NULL: out of memory). */
char *store_col_text(sqlite3_stmt *st, int i);
/* BEGIN IMMEDIATE. */
tes_err store_tx_begin(tes_store *s);
/* Ends a transaction: commit when e is TES_OK, otherwise roll back (returns e, or the
 * commit's error). */
tes_err store_tx_end(tes_store *s, tes_err e);

#endif
