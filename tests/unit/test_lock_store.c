/* The lock's store (tessera/lock.h): files, endpoints (MRU, eviction), revocation (rollback,
 * purge), log, counters, reopening, and SIGKILL at random moments of a writing process. */
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tessera/lock.h"

/* ------------------------------------------------------------------ helpers */

typedef struct {
    char dir[64];
    char path[128];
} tmp_store;

static int tmp_make(tmp_store *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/tes_lockstore_XXXXXX");
    if (!mkdtemp(t->dir))
        return 0;
    snprintf(t->path, sizeof t->path, "%s/lock.db", t->dir);
    return 1;
}

static void tmp_clean(const tmp_store *t)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal", ".link"};
    char p[160];
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(p, sizeof p, "%s%s", t->path, sfx[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static const uint8_t group_a[16] = "group-A-16bytes!";
static const uint8_t group_b[16] = "group-B-16bytes!";

/* Endpoint idx at generation gen: every field derived from (idx, gen), so a row mixing two
 * writes is detectable (check_endpoint). */
static void ep_key(unsigned idx, uint8_t key[TES_ACCESS_POINT_LEN])
{
    key[0] = 0x04;
    for (size_t j = 1; j < TES_ACCESS_POINT_LEN; j++)
        key[j] = (uint8_t)(idx * 131u + j * 7u + 1u);
}

static void key_id_of(int64_t gen, uint8_t kid[16])
{
    memcpy(kid, "KID:", 4);
    for (int j = 0; j < 8; j++)
        kid[4 + j] = (uint8_t)((uint64_t)gen >> (8 * (7 - j)));
    memcpy(kid + 12, "!end", 4);
}

static void kp_of(const uint8_t key[TES_ACCESS_POINT_LEN], int64_t gen, uint8_t kp[32])
{
    for (int j = 0; j < 32; j++)
        kp[j] = (uint8_t)(key[1 + j] ^ (uint8_t)((uint64_t)gen >> (8 * (j % 8))) ^ (j * 37));
}

static void make_ep(unsigned idx, int64_t gen, int64_t last_used, tes_lock_endpoint *e)
{
    memset(e, 0, sizeof *e);
    ep_key(idx, e->endpoint_key);
    kp_of(e->endpoint_key, gen, e->kpersistent);
    tes_access_grant *g = &e->grant;
    key_id_of(gen, g->key_id);
    memcpy(g->group_id, group_a, 16);
    snprintf(g->rooms[0], sizeof g->rooms[0], "%u", 100 + idx);
    snprintf(g->rooms[1], sizeof g->rooms[1], "suite-%u", idx);
    g->n_rooms = 2;
    g->not_before = gen;
    g->not_after = gen + 86400;
    g->daily_from = (uint16_t)(idx % 3 ? 0 : 360);
    g->daily_until = (uint16_t)(idx % 3 ? 0 : 1320);
    g->signed_at = gen;
    memcpy(g->endpoint_key, e->endpoint_key, TES_ACCESS_POINT_LEN);
    e->last_used = last_used;
}

/* Whether e is exactly make_ep(idx, its signed_at, its last_used) for some idx < 64. */
static int ep_consistent(const tes_lock_endpoint *e, unsigned *idx_out)
{
    for (unsigned idx = 0; idx < 64; idx++) {
        uint8_t key[TES_ACCESS_POINT_LEN];
        ep_key(idx, key);
        if (memcmp(key, e->endpoint_key, sizeof key) != 0)
            continue;
        tes_lock_endpoint want;
        make_ep(idx, e->grant.signed_at, e->last_used, &want);
        if (idx_out)
            *idx_out = idx;
        return memcmp(&want, e, sizeof want) == 0;
    }
    return 0;
}

static int ep_equal(const tes_lock_endpoint *a, const tes_lock_endpoint *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Runs one SQL text on the file directly (not through the store). */
static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_text(const char *path, const char *sql, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static tes_lock_store *open_new(tmp_store *t)
{
    if (!tmp_make(t))
        return NULL;
    tes_lock_store *s = NULL;
    return tes_lock_store_open(t->path, &s) == TES_OK ? s : NULL;
}

/* ------------------------------------------------------------------ files */

TEST(creates_0600_with_its_identity)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    struct stat sb;
    REQUIRE(stat(t.path, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 07777, 0600);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", t.path);
    if (stat(wal, &sb) == 0) /* SQLite gives its side files the database's mode */
        CHECK_EQ_INT(sb.st_mode & 07777, 0600);
    tes_lock_store_close(s);
    CHECK_EQ_INT(raw_int(t.path, "PRAGMA application_id"), 0x5445534C);
    CHECK_EQ_INT(raw_int(t.path, "PRAGMA user_version"), 1);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM migrations"), 1);
    char mode[16] = "";
    raw_text(t.path, "PRAGMA journal_mode", mode, sizeof mode);
    CHECK_EQ_STR(mode, "wal"); /* kept in the file's header */
    tmp_clean(&t);
}

TEST(refuses_a_file_that_is_not_sqlite_unmodified)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    static const char text[] = "room 101: not a database, just a note of some length\n";
    REQUIRE(tes_file_write(t.path, TES_BYTES(text, sizeof text - 1), 0600) == TES_OK);
    tes_lock_store *s = NULL;
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_STORE_CORRUPT);
    CHECK(s == NULL);
    tes_buf back = {0};
    REQUIRE(tes_file_read(t.path, 4096, &back) == TES_OK);
    CHECK(back.len == sizeof text - 1 && memcmp(back.ptr, text, back.len) == 0);
    tes_buf_free(&back);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", t.path);
    CHECK(!file_exists(wal));
    tmp_clean(&t);
}

TEST(refuses_another_applications_database)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    REQUIRE(raw_exec(t.path, "CREATE TABLE guests(name TEXT)") == SQLITE_OK);
    REQUIRE(chmod(t.path, 0600) == 0);
    tes_lock_store *s = NULL;
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_STORE_CORRUPT);
    CHECK_EQ_INT(raw_int(t.path, "PRAGMA application_id"), 0);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM sqlite_schema"), 1);
    /* a wallet store's application id is another application's too */
    unlink(t.path);
    REQUIRE(raw_exec(t.path, "PRAGMA application_id = 1413829463; CREATE TABLE x(y)") == SQLITE_OK);
    REQUIRE(chmod(t.path, 0600) == 0);
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_STORE_CORRUPT);
    tmp_clean(&t);
}

TEST(refuses_open_modes_and_another_users_file)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_store_close(s);
    s = NULL;
    REQUIRE(chmod(t.path, 0640) == 0);
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_DIR_UNSAFE);
    REQUIRE(chmod(t.path, 0604) == 0);
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_DIR_UNSAFE);
    REQUIRE(chmod(t.path, 0620) == 0);
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_DIR_UNSAFE);
    REQUIRE(chmod(t.path, 0600) == 0);
    REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
    tes_lock_store_close(s);
    s = NULL;
    if (geteuid() == 0) { /* only root can give a file away */
        REQUIRE(chown(t.path, 65534, 65534) == 0);
        CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_DIR_UNSAFE);
        REQUIRE(chown(t.path, 0, 0) == 0);
        REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
        tes_lock_store_close(s);
    }
    tmp_clean(&t);
}

TEST(refuses_a_symlink_and_a_directory)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_store_close(s);
    s = NULL;
    char link[160];
    snprintf(link, sizeof link, "%s.link", t.path);
    REQUIRE(symlink(t.path, link) == 0);
    CHECK_ERR(tes_lock_store_open(link, &s), TES_ERR_STORE);
    CHECK_ERR(tes_lock_store_open(t.dir, &s), TES_ERR_STORE);
    CHECK(s == NULL);
    tmp_clean(&t);
}

TEST(refuses_a_newer_schema_and_a_missing_table)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_store_close(s);
    s = NULL;
    REQUIRE(raw_exec(t.path, "PRAGMA user_version = 2") == SQLITE_OK);
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_STORE);
    REQUIRE(raw_exec(t.path, "PRAGMA user_version = 1; DROP TABLE revoked") == SQLITE_OK);
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_ERR_STORE_CORRUPT);
    tmp_clean(&t);
}

TEST(an_empty_file_becomes_a_store)
{
    /* an interrupted creation leaves an empty file: it is taken as a new store */
    tmp_store t;
    REQUIRE(tmp_make(&t));
    int fd = open(t.path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    close(fd);
    tes_lock_store *s = NULL;
    CHECK_ERR(tes_lock_store_open(t.path, &s), TES_OK);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

TEST(open_arguments)
{
    tes_lock_store *s = (tes_lock_store *)1;
    CHECK_ERR(tes_lock_store_open(NULL, &s), TES_ERR_ARG);
    CHECK(s == NULL);
    CHECK_ERR(tes_lock_store_open("", &s), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_open("/tmp/x", NULL), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_open("/nonexistent-dir-tessera/lock.db", &s), TES_ERR_STORE);
    tes_lock_store_close(NULL);
}

/* ------------------------------------------------------------------ endpoints */

TEST(endpoint_round_trip)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_endpoint e, got;
    make_ep(3, 1000, 1234, &e);
    /* rooms past n_rooms are not stored and read back as zeros */
    tes_lock_endpoint with_junk = e;
    strcpy(with_junk.grant.rooms[5], "junk");
    CHECK_ERR(tes_lock_store_endpoint_put(s, &with_junk, 8), TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s, e.endpoint_key, &got), TES_OK);
    CHECK(ep_equal(&got, &e));
    CHECK_EQ_STR(got.grant.rooms[1], "suite-3");
    CHECK_EQ_INT(got.grant.daily_from, 360);
    CHECK_EQ_INT(got.last_used, 1234);

    uint8_t other[TES_ACCESS_POINT_LEN];
    ep_key(4, other);
    CHECK_ERR(tes_lock_store_endpoint_get(s, other, &got), TES_ERR_NOT_FOUND);

    /* replace: same endpoint key, new persistent key and grant; still one row */
    tes_lock_endpoint e2;
    make_ep(3, 2000, 2000, &e2);
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e2, 8), TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s, e.endpoint_key, &got), TES_OK);
    CHECK(ep_equal(&got, &e2));
    tes_lock_endpoint all[4];
    size_t n = 99;
    CHECK_ERR(tes_lock_store_endpoints(s, all, 4, &n), TES_OK);
    CHECK_EQ_INT(n, 1);

    /* no rooms, extreme times */
    tes_lock_endpoint e3;
    make_ep(5, 7, 0, &e3);
    e3.grant.n_rooms = 0;
    memset(e3.grant.rooms, 0, sizeof e3.grant.rooms);
    e3.grant.not_before = INT64_MIN;
    e3.grant.not_after = INT64_MAX;
    e3.grant.daily_from = 65535;
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e3, 8), TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s, e3.endpoint_key, &got), TES_OK);
    CHECK(ep_equal(&got, &e3));
    tes_wipe(&got, sizeof got);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

TEST(endpoint_put_refusals)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_endpoint e, bad;
    make_ep(1, 10, 10, &e);
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 0), TES_ERR_ARG);
    bad = e;
    bad.grant.endpoint_key[64] ^= 1;
    CHECK_ERR(tes_lock_store_endpoint_put(s, &bad, 8), TES_ERR_ARG);
    bad = e;
    memset(bad.grant.rooms[1], 'x', TES_ACCESS_ROOM_MAX); /* not NUL-terminated */
    CHECK_ERR(tes_lock_store_endpoint_put(s, &bad, 8), TES_ERR_ARG);
    bad = e;
    bad.grant.n_rooms = TES_ACCESS_MAX_ROOMS + 1;
    CHECK_ERR(tes_lock_store_endpoint_put(s, &bad, 8), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_endpoint_put(NULL, &e, 8), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_endpoint_put(s, NULL, 8), TES_ERR_ARG);
    size_t n = 7;
    tes_lock_endpoint out[2];
    CHECK_ERR(tes_lock_store_endpoints(s, out, 2, &n), TES_OK);
    CHECK_EQ_INT(n, 0); /* none of the refused ones was stored */
    CHECK_ERR(tes_lock_store_endpoints(s, NULL, 2, &n), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_endpoints(s, NULL, 0, &n), TES_OK);
    /* a room of 15 characters is the longest */
    bad = e;
    memset(bad.grant.rooms[1], 'y', TES_ACCESS_ROOM_MAX - 1);
    bad.grant.rooms[1][TES_ACCESS_ROOM_MAX - 1] = '\0';
    CHECK_ERR(tes_lock_store_endpoint_put(s, &bad, 8), TES_OK);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

TEST(mru_order_and_eviction)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_endpoint e, out[8];
    size_t n = 0;
    for (unsigned i = 0; i < 5; i++) {
        make_ep(i, 100 + i, 100 + i, &e);
        CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 3), TES_OK);
    }
    CHECK_ERR(tes_lock_store_endpoints(s, out, 8, &n), TES_OK);
    REQUIRE(n == 3);
    unsigned idx[3] = {99, 99, 99};
    for (size_t i = 0; i < n; i++)
        CHECK(ep_consistent(&out[i], &idx[i]));
    CHECK_EQ_INT(idx[0], 4);
    CHECK_EQ_INT(idx[1], 3);
    CHECK_EQ_INT(idx[2], 2);
    uint8_t key[TES_ACCESS_POINT_LEN];
    ep_key(0, key);
    CHECK_ERR(tes_lock_store_endpoint_get(s, key, &e), TES_ERR_NOT_FOUND);
    ep_key(1, key);
    CHECK_ERR(tes_lock_store_endpoint_get(s, key, &e), TES_ERR_NOT_FOUND);

    /* a smaller max lists the most recent ones only */
    CHECK_ERR(tes_lock_store_endpoints(s, out, 2, &n), TES_OK);
    CHECK_EQ_INT(n, 2);
    CHECK(ep_consistent(&out[0], &idx[0]) && idx[0] == 4);

    /* equal last_used: the one put last comes first */
    make_ep(5, 200, 500, &e);
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 8), TES_OK);
    make_ep(6, 201, 500, &e);
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 8), TES_OK);
    CHECK_ERR(tes_lock_store_endpoints(s, out, 8, &n), TES_OK);
    REQUIRE(n == 5);
    CHECK(ep_consistent(&out[0], &idx[0]) && idx[0] == 6);
    CHECK(ep_consistent(&out[1], &idx[1]) && idx[1] == 5);

    /* shrinking max on a put evicts down to it, the oldest first */
    make_ep(7, 300, 600, &e);
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 2), TES_OK);
    CHECK_ERR(tes_lock_store_endpoints(s, out, 8, &n), TES_OK);
    REQUIRE(n == 2);
    CHECK(ep_consistent(&out[0], &idx[0]) && idx[0] == 7);
    CHECK(ep_consistent(&out[1], &idx[1]) && idx[1] == 6);
    tes_wipe(out, sizeof out);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

TEST(touch_reorders_and_delete_forgets)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_endpoint e, out[4];
    size_t n = 0;
    for (unsigned i = 0; i < 3; i++) {
        make_ep(i, 10 + i, 10 + i, &e);
        CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 3), TES_OK);
    }
    uint8_t key0[TES_ACCESS_POINT_LEN], key1[TES_ACCESS_POINT_LEN], key9[TES_ACCESS_POINT_LEN];
    ep_key(0, key0);
    ep_key(1, key1);
    ep_key(9, key9);
    CHECK_ERR(tes_lock_store_endpoint_touch(s, key0, 50), TES_OK);
    CHECK_ERR(tes_lock_store_endpoints(s, out, 4, &n), TES_OK);
    REQUIRE(n == 3);
    CHECK(memcmp(out[0].endpoint_key, key0, sizeof key0) == 0);
    CHECK_EQ_INT(out[0].last_used, 50);
    CHECK(memcmp(out[0].kpersistent, e.kpersistent, 32) != 0); /* idx 0's own key, untouched */
    /* touching at the same second as the newest still makes it the first */
    CHECK_ERR(tes_lock_store_endpoint_touch(s, key1, 50), TES_OK);
    CHECK_ERR(tes_lock_store_endpoints(s, out, 4, &n), TES_OK);
    CHECK(memcmp(out[0].endpoint_key, key1, sizeof key1) == 0);
    /* so the next put with room for 3 evicts idx 2 (the least recently used) */
    make_ep(3, 60, 60, &e);
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 3), TES_OK);
    uint8_t key2[TES_ACCESS_POINT_LEN];
    ep_key(2, key2);
    CHECK_ERR(tes_lock_store_endpoint_get(s, key2, &e), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_lock_store_endpoint_get(s, key0, &e), TES_OK);

    CHECK_ERR(tes_lock_store_endpoint_touch(s, key9, 70), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_lock_store_endpoint_delete(s, key0), TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s, key0, &e), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_lock_store_endpoint_delete(s, key0), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_lock_store_endpoints(s, out, 4, &n), TES_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_ERR(tes_lock_store_endpoint_touch(NULL, key0, 1), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_endpoint_delete(s, NULL), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_endpoint_get(s, NULL, &e), TES_ERR_ARG);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

TEST(damaged_rows_are_reported_corrupt)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_endpoint e, out[2];
    make_ep(1, 10, 10, &e);
    REQUIRE(tes_lock_store_endpoint_put(s, &e, 8) == TES_OK);
    tes_lock_store_close(s);
    /* the CHECK constraints refuse it, unless a writer ignores them */
    CHECK(raw_exec(t.path, "UPDATE endpoints SET kpersistent = x'00'") == SQLITE_CONSTRAINT);
    REQUIRE(raw_exec(t.path, "PRAGMA ignore_check_constraints = ON;"
                             "UPDATE endpoints SET kpersistent = x'0011'") == SQLITE_OK);
    REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s, e.endpoint_key, out), TES_ERR_STORE_CORRUPT);
    size_t n = 5;
    CHECK_ERR(tes_lock_store_endpoints(s, out, 2, &n), TES_ERR_STORE_CORRUPT);
    CHECK_EQ_INT(n, 0);
    tes_lock_store_close(s);
    /* a room without its NUL */
    REQUIRE(raw_exec(t.path, "PRAGMA ignore_check_constraints = ON;"
                             "UPDATE endpoints SET kpersistent = zeroblob(32),"
                             " rooms = x'41414141414141414141414141414141'") == SQLITE_OK);
    REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s, e.endpoint_key, out), TES_ERR_STORE_CORRUPT);
    tes_lock_store_close(s);
    REQUIRE(raw_exec(t.path, "PRAGMA ignore_check_constraints = ON;"
                             "UPDATE endpoints SET rooms = x'', daily_until = 70000") == SQLITE_OK);
    REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s, e.endpoint_key, out), TES_ERR_STORE_CORRUPT);
    tes_lock_store_close(s);
    REQUIRE(raw_exec(t.path, "UPDATE endpoints SET daily_until = 0") == SQLITE_OK);
    REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s, e.endpoint_key, out), TES_OK);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

/* ------------------------------------------------------------------ revocation */

static tes_access_revocation *rev_new(int64_t version, const uint8_t group[16])
{
    tes_access_revocation *r = calloc(1, sizeof *r);
    if (r) {
        r->version = version;
        memcpy(r->group_id, group, 16);
    }
    return r;
}

static void rev_add(tes_access_revocation *r, int64_t gen)
{
    key_id_of(gen, r->keys[r->n_keys++]);
}

TEST(revocation_apply_purges_and_refuses_rollback)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_access_revocation *got = calloc(1, sizeof *got), *r = rev_new(1000, group_a);
    REQUIRE(got && r);
    got->version = 77;
    CHECK_ERR(tes_lock_store_revocation(s, got), TES_OK);
    CHECK_EQ_INT(got->version, 0);
    CHECK_EQ_INT(got->n_keys, 0);

    tes_lock_endpoint e, out[8];
    for (unsigned i = 0; i < 4; i++) {
        make_ep(i, 10 + i, 10 + i, &e); /* key ids of generations 10..13 */
        REQUIRE(tes_lock_store_endpoint_put(s, &e, 8) == TES_OK);
    }
    rev_add(r, 11);
    rev_add(r, 13);
    rev_add(r, 999); /* a key this lock never saw */
    CHECK_ERR(tes_lock_store_revocation_apply(s, r), TES_OK);
    size_t n = 0;
    CHECK_ERR(tes_lock_store_endpoints(s, out, 8, &n), TES_OK);
    REQUIRE(n == 2);
    CHECK_EQ_INT(out[0].grant.signed_at, 12);
    CHECK_EQ_INT(out[1].grant.signed_at, 10);
    CHECK_ERR(tes_lock_store_revocation(s, got), TES_OK);
    CHECK_EQ_INT(got->version, 1000);
    CHECK_EQ_INT(got->n_keys, 3);
    CHECK(memcmp(got->group_id, group_a, 16) == 0);
    CHECK(memcmp(got->keys, r->keys, 3 * 16) == 0); /* in the document's order */
    bool rv = false;
    uint8_t kid[16];
    key_id_of(13, kid);
    CHECK_ERR(tes_lock_store_is_revoked(s, kid, &rv), TES_OK);
    CHECK(rv);
    key_id_of(12, kid);
    CHECK_ERR(tes_lock_store_is_revoked(s, kid, &rv), TES_OK);
    CHECK(!rv);

    /* a revoked key is not cached again */
    make_ep(1, 11, 50, &e);
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 8), TES_ERR_ACCESS_REVOKED);
    CHECK_ERR(tes_lock_store_endpoint_get(s, e.endpoint_key, &e), TES_ERR_NOT_FOUND);

    /* the same or an older version: refused, nothing changes */
    tes_access_revocation *old = rev_new(1000, group_a);
    REQUIRE(old);
    rev_add(old, 10);
    rev_add(old, 12);
    CHECK_ERR(tes_lock_store_revocation_apply(s, old), TES_ERR_ACCESS_ROLLBACK);
    old->version = 999;
    CHECK_ERR(tes_lock_store_revocation_apply(s, old), TES_ERR_ACCESS_ROLLBACK);
    old->version = INT64_MIN + 1;
    CHECK_ERR(tes_lock_store_revocation_apply(s, old), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_endpoints(s, out, 8, &n), TES_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_ERR(tes_lock_store_revocation(s, got), TES_OK);
    CHECK_EQ_INT(got->version, 1000);
    CHECK_EQ_INT(got->n_keys, 3);
    CHECK(memcmp(got->keys, r->keys, 3 * 16) == 0);

    /* another group's revocation: refused, nothing changes */
    tes_access_revocation *foreign = rev_new(5000, group_b);
    REQUIRE(foreign);
    rev_add(foreign, 10);
    CHECK_ERR(tes_lock_store_revocation_apply(s, foreign), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_endpoints(s, out, 8, &n), TES_OK);
    CHECK_EQ_INT(n, 2);

    /* bounds */
    foreign->version = 0;
    memcpy(foreign->group_id, group_a, 16);
    CHECK_ERR(tes_lock_store_revocation_apply(s, foreign), TES_ERR_ARG);
    foreign->version = 6000;
    foreign->n_keys = TES_ACCESS_MAX_REVOKED + 1;
    CHECK_ERR(tes_lock_store_revocation_apply(s, foreign), TES_ERR_ARG);

    /* the newer document's set replaces the old one (a key given back, then re-instated
     * is not revoked any more), duplicates counted once */
    tes_access_revocation *newer = rev_new(2000, group_a);
    REQUIRE(newer);
    rev_add(newer, 10);
    rev_add(newer, 13);
    rev_add(newer, 10);
    CHECK_ERR(tes_lock_store_revocation_apply(s, newer), TES_OK);
    CHECK_ERR(tes_lock_store_endpoints(s, out, 8, &n), TES_OK);
    REQUIRE(n == 1);
    CHECK_EQ_INT(out[0].grant.signed_at, 12);
    CHECK_ERR(tes_lock_store_revocation(s, got), TES_OK);
    CHECK_EQ_INT(got->version, 2000);
    CHECK_EQ_INT(got->n_keys, 2);
    key_id_of(11, kid);
    CHECK_ERR(tes_lock_store_is_revoked(s, kid, &rv), TES_OK);
    CHECK(!rv);
    make_ep(1, 11, 60, &e);
    CHECK_ERR(tes_lock_store_endpoint_put(s, &e, 8), TES_OK);

    /* a full document of TES_ACCESS_MAX_REVOKED keys */
    tes_access_revocation *full = rev_new(3000, group_a);
    REQUIRE(full);
    for (int i = 0; i < TES_ACCESS_MAX_REVOKED; i++)
        rev_add(full, 100000 + i);
    CHECK_ERR(tes_lock_store_revocation_apply(s, full), TES_OK);
    CHECK_ERR(tes_lock_store_revocation(s, got), TES_OK);
    CHECK_EQ_INT(got->n_keys, TES_ACCESS_MAX_REVOKED);
    CHECK(memcmp(got->keys, full->keys, sizeof full->keys) == 0);
    CHECK_ERR(tes_lock_store_is_revoked(s, NULL, &rv), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_revocation(s, NULL), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_revocation_apply(s, NULL), TES_ERR_ARG);
    free(full);
    free(newer);
    free(foreign);
    free(old);
    free(r);
    free(got);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

/* ------------------------------------------------------------------ log and counters */

TEST(log_lines)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    uint8_t kid[16];
    key_id_of(42, kid);
    CHECK_ERR(tes_lock_store_log(s, 1765152000, "unlocked", "fast", TES_OK, kid, NULL), TES_OK);
    CHECK_ERR(tes_lock_store_log(s, 1765152060, "refused", "step-up", TES_ERR_ACCESS_DENIED, kid,
                                 "room 102 \x01\"quoted\""),
              TES_OK);
    CHECK_ERR(tes_lock_store_log(s, 1765152120, "refused", "none", TES_ERR_ACCESS_READER, NULL,
                                 "bad \xff utf-8"),
              TES_OK);
    CHECK_ERR(tes_lock_store_log(s, 1, "opened", "fast", TES_OK, NULL, NULL), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_log(s, 1, "unlocked", "slow", TES_OK, NULL, NULL), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_log(s, 1, NULL, "fast", TES_OK, NULL, NULL), TES_ERR_ARG);
    char longer[TES_LOCK_LOG_DETAIL_MAX + 2];
    memset(longer, 'd', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK_ERR(tes_lock_store_log(s, 1, "refused", "none", TES_OK, NULL, longer), TES_ERR_ARG);
    longer[TES_LOCK_LOG_DETAIL_MAX] = '\0';
    CHECK_ERR(
        tes_lock_store_log(s, 1765152180, "refused", "standard", TES_ERR_ACCESS_RATE, NULL, longer),
        TES_OK);

    tes_buf b = {0};
    CHECK_ERR(tes_lock_store_log_list(s, 0, &b), TES_OK);
    char *text = tes_bytes_cstr(tes_buf_bytes(&b));
    REQUIRE(text != NULL);
    json_t *lines[5] = {0};
    int nlines = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && nlines < 5;
         l = strtok_r(NULL, "\n", &save))
        lines[nlines++] = json_loads(l, 0, NULL);
    CHECK_EQ_INT(nlines, 4);
    CHECK(b.len > 0 && b.ptr[b.len - 1] == '\n');
    REQUIRE(lines[0] && lines[1] && lines[2] && lines[3]);
    CHECK_EQ_INT(json_integer_value(json_object_get(lines[0], "at")), 1765152000);
    CHECK_EQ_STR(json_string_value(json_object_get(lines[0], "time")), "2025-12-08T00:00:00Z");
    CHECK_EQ_STR(json_string_value(json_object_get(lines[0], "outcome")), "unlocked");
    CHECK_EQ_STR(json_string_value(json_object_get(lines[0], "flow")), "fast");
    CHECK_EQ_STR(json_string_value(json_object_get(lines[0], "reason")), tes_err_name(TES_OK));
    CHECK_EQ_STR(json_string_value(json_object_get(lines[0], "key_id")),
                 "4b49443a000000000000002a21656e64");
    CHECK(json_is_null(json_object_get(lines[0], "detail")));
    CHECK_EQ_STR(json_string_value(json_object_get(lines[1], "reason")),
                 tes_err_name(TES_ERR_ACCESS_DENIED));
    CHECK_EQ_STR(json_string_value(json_object_get(lines[1], "flow")), "step-up");
    CHECK_EQ_STR(json_string_value(json_object_get(lines[1], "detail")), "room 102 ?\"quoted\"");
    CHECK(json_is_null(json_object_get(lines[2], "key_id")));
    CHECK_EQ_STR(json_string_value(json_object_get(lines[2], "detail")), "bad ? utf-8");
    CHECK_EQ_INT(strlen(json_string_value(json_object_get(lines[3], "detail"))),
                 TES_LOCK_LOG_DETAIL_MAX);
    for (int i = 0; i < nlines; i++)
        json_decref(lines[i]);
    free(text);

    /* the newest two, oldest first, appended after what the buffer held */
    tes_buf_reset(&b);
    tes_buf_append(&b, "#", 1);
    CHECK_ERR(tes_lock_store_log_list(s, 2, &b), TES_OK);
    text = tes_bytes_cstr(tes_buf_bytes(&b));
    REQUIRE(text != NULL);
    CHECK(text[0] == '#');
    char *first = strstr(text, "1765152120"), *second = strstr(text, "1765152180");
    CHECK(first && second && first < second);
    CHECK(strstr(text, "1765152060") == NULL);
    free(text);
    tes_buf_free(&b);
    CHECK_ERR(tes_lock_store_log_list(s, 1, NULL), TES_ERR_ARG);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

TEST(log_keeps_the_newest_rows)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_store_close(s);
    /* fill to the bound directly (one transaction, not 10000 fsyncs) */
    char sql[512];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
             " INSERT INTO log(at, outcome, flow, reason, key_id, detail)"
             " SELECT i, 'refused', 'none', 367, NULL, NULL FROM n",
             TES_LOCK_LOG_KEEP);
    REQUIRE(raw_exec(t.path, sql) == SQLITE_OK);
    REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
    CHECK_ERR(tes_lock_store_log(s, 20000, "unlocked", "fast", TES_OK, NULL, NULL), TES_OK);
    CHECK_ERR(tes_lock_store_log(s, 20001, "unlocked", "fast", TES_OK, NULL, NULL), TES_OK);
    tes_lock_store_close(s);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM log"), TES_LOCK_LOG_KEEP);
    CHECK_EQ_INT(raw_int(t.path, "SELECT min(at) FROM log"), 3);
    CHECK_EQ_INT(raw_int(t.path, "SELECT max(at) FROM log"), 20001);
    tmp_clean(&t);
}

TEST(counters)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    int64_t v = 5;
    CHECK_ERR(tes_lock_store_meta_get(s, "rate.window", &v), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_lock_store_meta_put(s, "rate.window", 1765152000), TES_OK);
    CHECK_ERR(tes_lock_store_meta_put(s, "rate.count", -3), TES_OK);
    CHECK_ERR(tes_lock_store_meta_get(s, "rate.window", &v), TES_OK);
    CHECK_EQ_INT(v, 1765152000);
    CHECK_ERR(tes_lock_store_meta_put(s, "rate.window", INT64_MAX), TES_OK);
    CHECK_ERR(tes_lock_store_meta_get(s, "rate.window", &v), TES_OK);
    CHECK(v == INT64_MAX);
    CHECK_ERR(tes_lock_store_meta_get(s, "rate.count", &v), TES_OK);
    CHECK_EQ_INT(v, -3);
    char name[TES_LOCK_META_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    CHECK_ERR(tes_lock_store_meta_put(s, name, 1), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_meta_get(s, name, &v), TES_ERR_ARG);
    name[TES_LOCK_META_NAME_MAX] = '\0';
    CHECK_ERR(tes_lock_store_meta_put(s, name, 1), TES_OK);
    CHECK_ERR(tes_lock_store_meta_put(s, "", 1), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_meta_put(s, NULL, 1), TES_ERR_ARG);
    CHECK_ERR(tes_lock_store_meta_get(s, "rate.count", NULL), TES_ERR_ARG);
    tes_lock_store_close(s);
    tmp_clean(&t);
}

TEST(reopen_keeps_everything)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_endpoint e[3], out[4];
    for (unsigned i = 0; i < 3; i++) {
        make_ep(i, 500 + i, 500 + i, &e[i]);
        REQUIRE(tes_lock_store_endpoint_put(s, &e[i], 4) == TES_OK);
    }
    tes_access_revocation *r = rev_new(42, group_a), *got = calloc(1, sizeof *got);
    REQUIRE(r && got);
    rev_add(r, 7);
    REQUIRE(tes_lock_store_revocation_apply(s, r) == TES_OK);
    REQUIRE(tes_lock_store_log(s, 9, "unlocked", "standard", TES_OK, NULL, "first") == TES_OK);
    REQUIRE(tes_lock_store_meta_put(s, "c", 11) == TES_OK);
    tes_lock_store_close(s);

    /* a second connection in the same process sees the same state */
    tes_lock_store *s2 = NULL;
    REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
    REQUIRE(tes_lock_store_open(t.path, &s2) == TES_OK);
    size_t n = 0;
    CHECK_ERR(tes_lock_store_endpoints(s2, out, 4, &n), TES_OK);
    REQUIRE(n == 3);
    for (unsigned i = 0; i < 3; i++)
        CHECK(ep_equal(&out[i], &e[2 - i]));
    CHECK_ERR(tes_lock_store_revocation(s2, got), TES_OK);
    CHECK_EQ_INT(got->version, 42);
    CHECK_EQ_INT(got->n_keys, 1);
    int64_t v = 0;
    CHECK_ERR(tes_lock_store_meta_get(s, "c", &v), TES_OK);
    CHECK_EQ_INT(v, 11);
    tes_buf b = {0};
    CHECK_ERR(tes_lock_store_log_list(s, 0, &b), TES_OK);
    char *text = tes_bytes_cstr(tes_buf_bytes(&b));
    CHECK(text && strstr(text, "\"detail\":\"first\"") != NULL);
    free(text);
    tes_buf_free(&b);
    /* a write through one is seen by the other */
    CHECK_ERR(tes_lock_store_endpoint_delete(s, e[0].endpoint_key), TES_OK);
    CHECK_ERR(tes_lock_store_endpoint_get(s2, e[0].endpoint_key, out), TES_ERR_NOT_FOUND);
    tes_lock_store_close(s2);
    tes_lock_store_close(s);
    free(r);
    free(got);
    tmp_clean(&t);
}

/* ------------------------------------------------------------------ SIGKILL */

#define CRASH_ROUNDS 30
#define CRASH_MAX_EP 8
#define CRASH_IDS 12
#define CRASH_REV_WINDOW 200

/* The writer: puts endpoints (generation gen at index gen % CRASH_IDS), every fourth
 * generation a revocation of the key of generation gen - 3 (the set: the last
 * CRASH_REV_WINDOW revoked, version + 1), a log entry and a counter now and then.
 * After each commit it reports "P idx gen", "R version" or "M gen" on fd. Never
 * returns: killed by the parent. */
static void crash_writer(const char *path, int fd, int64_t gen)
{
    char line[64];
    tes_lock_store *s = NULL;
    tes_err e = tes_lock_store_open(path, &s);
    tes_access_revocation *r = calloc(1, sizeof *r);
    if (!e && !r)
        e = TES_ERR_NOMEM;
    if (!e)
        e = tes_lock_store_revocation(s, r);
    while (!e) {
        gen++;
        unsigned idx = (unsigned)(gen % CRASH_IDS);
        tes_lock_endpoint ep;
        make_ep(idx, gen, gen, &ep);
        if ((e = tes_lock_store_endpoint_put(s, &ep, CRASH_MAX_EP)))
            break;
        int len = snprintf(line, sizeof line, "P %u %lld\n", idx, (long long)gen);
        if (write(fd, line, (size_t)len) != len)
            _exit(5);
        if (gen % 4 == 1) { /* the first put of each run, then every fourth */
            if (r->n_keys == CRASH_REV_WINDOW) {
                memmove(r->keys[0], r->keys[1], (CRASH_REV_WINDOW - 1) * 16);
                r->n_keys--;
            }
            memcpy(r->group_id, group_a, 16);
            key_id_of(gen - 3, r->keys[r->n_keys++]);
            r->version++;
            if ((e = tes_lock_store_revocation_apply(s, r)))
                break;
            len = snprintf(line, sizeof line, "R %lld\n", (long long)r->version);
            if (write(fd, line, (size_t)len) != len)
                _exit(5);
        }
        if (gen % 3 == 0) {
            if ((e = tes_lock_store_log(s, gen, "unlocked", "fast", TES_OK, ep.grant.key_id,
                                        "crash test")) ||
                (e = tes_lock_store_meta_put(s, "gen", gen)))
                break;
            len = snprintf(line, sizeof line, "M %lld\n", (long long)gen);
            if (write(fd, line, (size_t)len) != len)
                _exit(5);
        }
    }
    int len = snprintf(line, sizeof line, "E %d\n", (int)e);
    if (write(fd, line, (size_t)len) != len)
        _exit(5);
    _exit(4);
}

typedef struct {
    long long last_rev;  /* newest revocation version reported committed (0: none) */
    long long last_meta; /* newest counter reported */
    long long last_gen;  /* newest put reported */
    unsigned last_idx;
    int errors; /* "E" lines */
    long puts;
} crash_report;

static char report_buf[1 << 20];
static size_t report_got;

/* Reads the writer's reports until one starts with `first` (or it died). */
static void wait_report(int fd, char first)
{
    for (;;) {
        report_buf[report_got] = '\0';
        for (const char *l = report_buf; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
            if (*l == first && strchr(l, '\n'))
                return;
        ssize_t r = read(fd, report_buf + report_got, sizeof report_buf - 1 - report_got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        report_got += (size_t)r;
    }
}

/* Reads the rest of the writer's reports (after its death) and parses them all. */
static void read_report(int fd, crash_report *rep)
{
    char *buf = report_buf;
    size_t got = report_got;
    for (;;) {
        ssize_t r = read(fd, buf + got, sizeof report_buf - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    report_got = 0;
    rep->last_gen = -1;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        long long a = 0;
        unsigned u = 0;
        if (sscanf(l, "P %u %lld", &u, &a) == 2) {
            rep->last_idx = u;
            rep->last_gen = a;
            rep->puts++;
        } else if (sscanf(l, "R %lld", &a) == 1) {
            rep->last_rev = a;
        } else if (sscanf(l, "M %lld", &a) == 1) {
            rep->last_meta = a;
        } else {
            rep->errors++;
            fprintf(stderr, "    writer: %s\n", l);
        }
    }
}

/* Every invariant of the store after a kill. */
static void crash_check(const char *path, const crash_report *rep, long long *rev_floor)
{
    /* the file as SQLite sees it (a writer killed before it created the file left none:
     * then it must have reported nothing) */
    if (!file_exists(path)) {
        CHECK(rep->puts == 0 && rep->last_rev == 0 && rep->last_meta == 0);
    } else {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        const char *ok = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            ok = (const char *)sqlite3_column_text(st, 0);
        if (!ok)
            fprintf(stderr, "    integrity_check: %s\n", db ? sqlite3_errmsg(db) : "no memory");
        CHECK_EQ_STR(ok, "ok");
        sqlite3_finalize(st);
        sqlite3_close(db);
    }

    tes_lock_store *s = NULL;
    CHECK_ERR(tes_lock_store_open(path, &s), TES_OK);
    if (!s)
        return;
    tes_access_revocation *r = calloc(1, sizeof *r);
    if (!r) {
        tes_lock_store_close(s);
        return;
    }
    CHECK_ERR(tes_lock_store_revocation(s, r), TES_OK);
    /* never behind what was reported committed, at most one step ahead of it (committed,
     * not yet reported) */
    long long floor = rep->last_rev > *rev_floor ? rep->last_rev : *rev_floor;
    if (r->version < floor || r->version > floor + 1)
        fprintf(stderr, "    revocation version %lld (before %lld, reported %lld)\n",
                (long long)r->version, *rev_floor, rep->last_rev);
    CHECK(r->version >= floor && r->version <= floor + 1);
    CHECK(r->n_keys <= CRASH_REV_WINDOW && (r->version == 0) == (r->n_keys == 0));
    *rev_floor = r->version;

    tes_lock_endpoint out[CRASH_IDS + 4];
    size_t n = 0;
    CHECK_ERR(tes_lock_store_endpoints(s, out, CRASH_IDS + 4, &n), TES_OK);
    CHECK(n <= CRASH_MAX_EP);
    bool seen_last = rep->last_gen < 0;
    for (size_t i = 0; i < n; i++) {
        unsigned idx = 99;
        int consistent = ep_consistent(&out[i], &idx);
        if (!consistent)
            fprintf(stderr, "    endpoint %zu is inconsistent (generation %lld)\n", i,
                    (long long)out[i].grant.signed_at);
        CHECK(consistent);
        bool rv = true;
        CHECK_ERR(tes_lock_store_is_revoked(s, out[i].grant.key_id, &rv), TES_OK);
        CHECK(!rv);
        for (size_t k = 0; k < r->n_keys; k++)
            CHECK(memcmp(r->keys[k], out[i].grant.key_id, 16) != 0);
        if (i > 0) /* MRU: generations (last_used) decrease */
            CHECK(out[i].last_used < out[i - 1].last_used);
        if (idx == rep->last_idx && out[i].grant.signed_at >= rep->last_gen)
            seen_last = true;
    }
    if (!seen_last)
        fprintf(stderr, "    the last reported put (%u, %lld) is lost\n", rep->last_idx,
                rep->last_gen);
    CHECK(seen_last);
    int64_t meta = 0;
    tes_err e = tes_lock_store_meta_get(s, "gen", &meta);
    CHECK(e == TES_OK || (e == TES_ERR_NOT_FOUND && rep->last_meta == 0));
    CHECK(meta >= rep->last_meta);
    tes_wipe(out, sizeof out);
    free(r);
    tes_lock_store_close(s);
}

TEST(survives_sigkill_at_random_moments)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("TES_CRASH_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    printf("# crash seed %u (TES_CRASH_SEED to repeat)\n", seed);
    srand(seed);
    long long rev_floor = 0;
    long total_puts = 0, total_revs = 0;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_writer(t.path, fds[1], (int64_t)(round + 1) * 1000000);
        }
        close(fds[1]);
        /* a few rounds kill during open and creation; the others once the writer has
         * committed its first revocation, after a random delay */
        if (round % 5 == 0) {
            usleep((useconds_t)(rand() % 3000));
        } else {
            wait_report(fds[0], 'R');
            usleep((useconds_t)(rand() % 150000));
        }
        REQUIRE(kill(pid, SIGKILL) == 0);
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        crash_report rep = {0};
        read_report(fds[0], &rep);
        close(fds[0]);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        CHECK_EQ_INT(rep.errors, 0);
        long long before = rev_floor;
        crash_check(t.path, &rep, &rev_floor);
        total_puts += rep.puts;
        total_revs += rev_floor - before;
    }
    printf("# %d kills: %ld puts and %ld revocations committed and reported\n", CRASH_ROUNDS,
           total_puts, total_revs);
    CHECK(total_puts >= CRASH_ROUNDS - CRASH_ROUNDS / 5); /* it got going each time it could */
    CHECK(rev_floor > 0);
    tmp_clean(&t);
}

/* ------------------------------------------------------------------ two writers */

/* Two processes apply the same increasing versions and put endpoints: the version check
 * and the write happen under one write lock, so each version is applied once, the newest
 * wins, and the cache never exceeds its bound. */
TEST(two_processes_race_without_losing_a_version)
{
    tmp_store t;
    tes_lock_store *s = open_new(&t);
    REQUIRE(s != NULL);
    tes_lock_store_close(s);
    enum { VERSIONS = 40, WRITERS = 2 };
    int fds[WRITERS][2];
    pid_t pids[WRITERS];
    fflush(NULL);
    for (int w = 0; w < WRITERS; w++) {
        REQUIRE(pipe(fds[w]) == 0);
        pids[w] = fork();
        REQUIRE(pids[w] >= 0);
        if (pids[w] == 0) {
            close(fds[w][0]);
            tes_lock_store *c = NULL;
            int applied = 0, code = 0;
            tes_access_revocation *r = rev_new(0, group_a);
            if (!r || tes_lock_store_open(t.path, &c) != TES_OK)
                _exit(3);
            for (int v = 1; v <= VERSIONS && !code; v++) {
                r->version = v;
                r->n_keys = 0;
                rev_add(r, 1000 * v + w);
                tes_err e = tes_lock_store_revocation_apply(c, r);
                if (e == TES_OK)
                    applied++;
                else if (e != TES_ERR_ACCESS_ROLLBACK)
                    code = (int)e;
                tes_lock_endpoint ep;
                make_ep((unsigned)(w * 20 + v % 10), 1000 * v + 500 + w, v, &ep);
                if (!code && (e = tes_lock_store_endpoint_put(c, &ep, 4)) != TES_OK)
                    code = (int)e;
            }
            char line[32];
            int len = snprintf(line, sizeof line, "%d %d\n", applied, code);
            _exit(write(fds[w][1], line, (size_t)len) == len ? 0 : 5);
        }
        close(fds[w][1]);
    }
    int applied_total = 0;
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        REQUIRE(waitpid(pids[w], &status, 0) == pids[w]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        char line[32] = "";
        ssize_t r = read(fds[w][0], line, sizeof line - 1);
        close(fds[w][0]);
        int applied = -1, code = -1;
        CHECK(r > 0 && sscanf(line, "%d %d", &applied, &code) == 2);
        CHECK_ERR(code, TES_OK);
        applied_total += applied;
    }
    CHECK_EQ_INT(applied_total, VERSIONS); /* each version applied by exactly one writer */
    REQUIRE(tes_lock_store_open(t.path, &s) == TES_OK);
    tes_access_revocation *got = calloc(1, sizeof *got);
    REQUIRE(got);
    CHECK_ERR(tes_lock_store_revocation(s, got), TES_OK);
    CHECK_EQ_INT(got->version, VERSIONS);
    CHECK_EQ_INT(got->n_keys, 1);
    tes_lock_endpoint out[8];
    size_t n = 0;
    CHECK_ERR(tes_lock_store_endpoints(s, out, 8, &n), TES_OK);
    CHECK(n >= 1 && n <= 4);
    for (size_t i = 0; i < n; i++)
        CHECK(ep_consistent(&out[i], NULL));
    free(got);
    tes_lock_store_close(s);
    tmp_clean(&t);
}
