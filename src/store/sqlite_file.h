/*
 * Opening SQLite files safely, shared by the wallet store and the authority's
 * registry (private to libtessera).
 *
 * Before SQLite first touches a file, sqlite_file_precheck creates it (0600,
 * directory entry synced) or checks that it is a regular file whose header
 * is SQLite's, so that a foreign file is refused unmodified.
 *
 * That check open()s and close()s the file; closing any descriptor of a file
 * drops all of the process's POSIX locks on it, those of SQLite connections
 * already open included (they would then read stale data and may corrupt the
 * file). So the check is skipped while this process has the file open through
 * SQLite: bracket precheck, sqlite3_open_v2 and sqlite_file_opened with
 * sqlite_file_lock / sqlite_file_unlock, and call sqlite_file_closed after
 * sqlite3_close.
 */
#ifndef TES_STORE_SQLITE_FILE_H
#define TES_STORE_SQLITE_FILE_H

#include <sqlite3.h>

#include "tessera/core.h"

/* Who uses the file, for messages and identification: the wallet store or the registry. */
typedef struct sqlite_file_kind {
    const char *who;   /* "store", "registry": message prefix */
    const char *noun;  /* "store", "database": "the <noun> is locked", "the <noun> file" */
    const char *what;  /* "a Tessera wallet store": "<path> is not <what>" */
    int busy_ms;       /* the busy timeout, for messages */
    int64_t app_id;    /* PRAGMA application_id of its files */
    int64_t version;   /* newest schema version this build knows */
} sqlite_file_kind;

/* Maps an SQLite result code (with the connection's message) to a tes_err. */
tes_err sqlite_file_fail(const sqlite_file_kind *k, sqlite3 *db, int rc, const char *what);
/* Runs constant SQL text (pragmas, schema); only for text without values. */
tes_err sqlite_file_exec(const sqlite_file_kind *k, sqlite3 *db, const char *sql, const char *what);
/* Identifies an open file without writing: *version receives its schema version (0 for
 * a new, empty database). TES_ERR_STORE_CORRUPT for another application's database,
 * TES_ERR_STORE for a newer schema than k->version. */
tes_err sqlite_file_identify(const sqlite_file_kind *k, sqlite3 *db, const char *path,
                             int64_t *version);

void sqlite_file_lock(void);
void sqlite_file_unlock(void);
/* Errors: TES_ERR_STORE (cannot create/open, not a regular file),
 * TES_ERR_STORE_CORRUPT (not an SQLite database). */
tes_err sqlite_file_precheck(const sqlite_file_kind *k, const char *path);
void sqlite_file_opened(const char *path);
void sqlite_file_closed(const char *path);

#endif
