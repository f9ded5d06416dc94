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

#include "tessera/core.h"

void sqlite_file_lock(void);
void sqlite_file_unlock(void);
/* who ("store", "registry") and what ("a Tessera wallet store") name the file in messages.
 * Errors: TES_ERR_STORE (cannot create/open, not a regular file),
 * TES_ERR_STORE_CORRUPT (not an SQLite database). */
tes_err sqlite_file_precheck(const char *who, const char *what, const char *path);
void sqlite_file_opened(const char *path);
void sqlite_file_closed(const char *path);

#endif
