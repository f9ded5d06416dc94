/* Opening SQLite files safely (see sqlite_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sqlite_file.h"

typedef struct open_file {
    dev_t dev;
    ino_t ino;
    int refs;
} open_file;

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static open_file open_files[64];

void sqlite_file_lock(void)
{
    pthread_mutex_lock(&open_lock);
}

void sqlite_file_unlock(void)
{
    pthread_mutex_unlock(&open_lock);
}

static open_file *find(dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < sizeof open_files / sizeof open_files[0]; i++)
        if (open_files[i].refs > 0 && open_files[i].dev == dev && open_files[i].ino == ino)
            return &open_files[i];
    return NULL;
}

/* Called with the lock held (opened) or taking it (closed). */
static void track(const char *path, int delta)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return;
    open_file *f = find(sb.st_dev, sb.st_ino);
    if (f == NULL && delta > 0)
        for (size_t i = 0; i < sizeof open_files / sizeof open_files[0] && !f; i++)
            if (open_files[i].refs == 0) {
                f = &open_files[i];
                *f = (open_file){.dev = sb.st_dev, .ino = sb.st_ino};
            }
    if (f)
        f->refs += delta;
}

void sqlite_file_opened(const char *path)
{
    track(path, +1);
}

void sqlite_file_closed(const char *path)
{
    pthread_mutex_lock(&open_lock);
    track(path, -1);
    pthread_mutex_unlock(&open_lock);
}

static void sync_parent_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: durability of a new, still empty file */
        close(fd);
    }
}

tes_err sqlite_file_precheck(const sqlite_file_kind *k, const char *path)
{
    const char *who = k->who;
    struct stat known;
    if (stat(path, &known) == 0 && find(known.st_dev, known.st_ino) != NULL)
        return TES_OK; /* open here already: checked then, and must not be touched now */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        /* New, empty file: SQLite treats it as an empty database. Make its directory
         * entry durable (SQLite syncs the directory for its -wal file, not for this). */
        int r = fsync(fd);
        close(fd);
        sync_parent_dir(path);
        (void)r;
        return TES_OK;
    }
    if (errno != EEXIST)
        return tes_err_set(TES_ERR_STORE, "%s: cannot create %s: %s", who, path, strerror(errno));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return tes_err_set(TES_ERR_STORE, "%s: cannot open %s: %s", who, path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return tes_err_set(TES_ERR_STORE, "%s: cannot stat %s: %s", who, path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return tes_err_set(TES_ERR_STORE, "%s: %s is not a regular file", who, path);
    }
    if (sb.st_size == 0) {
        close(fd); /* empty: an interrupted creation, or a fresh file */
        return TES_OK;
    }
    static const char magic[16] = "SQLite format 3";
    char head[16];
    size_t got = 0;
    while (got < sizeof head) {
        ssize_t r = read(fd, head + got, sizeof head - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got < sizeof head || memcmp(head, magic, sizeof magic) != 0)
        return tes_err_set(TES_ERR_STORE_CORRUPT,
                           "%s: %s is not %s: not an SQLite database (the file header is wrong)",
                           who, path, k->what);
    return TES_OK;
}

tes_err sqlite_file_fail(const sqlite_file_kind *k, sqlite3 *db, int rc, const char *what)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return tes_err_set(TES_ERR_BUSY,
                           "%s: %s: the %s is locked by another process or connection beyond "
                           "%d ms (%s)",
                           k->who, what, k->noun, k->busy_ms, msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return tes_err_set(TES_ERR_STORE_CORRUPT, "%s: %s: the %s file is damaged (%s)", k->who,
                           what, k->noun, msg);
    case SQLITE_NOMEM:
        return tes_err_set(TES_ERR_NOMEM, "%s: %s: out of memory", k->who, what);
    default:
        return tes_err_set(TES_ERR_STORE, "%s: %s: SQLite error %d: %s", k->who, what, rc, msg);
    }
}

tes_err sqlite_file_exec(const sqlite_file_kind *k, sqlite3 *db, const char *sql, const char *what)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    sqlite3_free(err); /* sqlite3_errmsg still holds the message */
    return rc == SQLITE_OK ? TES_OK : sqlite_file_fail(k, db, rc, what);
}

/* Reads one integer from constant SQL. */
static tes_err query_int(const sqlite_file_kind *k, sqlite3 *db, const char *sql, int64_t *out,
                         const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite_file_fail(k, db, rc, what);
    rc = sqlite3_step(st);
    tes_err e = TES_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        e = rc == SQLITE_DONE ? tes_err_set(TES_ERR_STORE, "%s: %s: no result", k->who, what)
                              : sqlite_file_fail(k, db, rc, what);
    sqlite3_finalize(st);
    return e;
}

tes_err sqlite_file_identify(const sqlite_file_kind *k, sqlite3 *db, const char *path,
                             int64_t *version)
{
    int64_t app = 0, ver = 0, objects = 0;
    tes_err e;
    if ((e = query_int(k, db, "PRAGMA application_id", &app, "reading the application id")) ||
        (e = query_int(k, db, "PRAGMA user_version", &ver, "reading the schema version")) ||
        (e = query_int(k, db, "SELECT count(*) FROM sqlite_schema", &objects,
                       "reading the schema")))
        return e;
    if (app == k->app_id) {
        if (ver > k->version)
            return tes_err_set(TES_ERR_STORE,
                               "%s: %s was written by a newer version of Tessera (schema "
                               "version %lld; this build knows up to %lld)",
                               k->who, path, (long long)ver, (long long)k->version);
        *version = ver;
        return TES_OK;
    }
    if (app == 0 && ver == 0 && objects == 0) {
        *version = 0; /* a new, empty database */
        return TES_OK;
    }
    return tes_err_set(TES_ERR_STORE_CORRUPT,
                       "%s: %s is not %s: an SQLite database of another application "
                       "(application_id 0x%08llx, %lld schema objects)",
                       k->who, path, k->what, (unsigned long long)(uint32_t)app,
                       (long long)objects);
}
