/* Wallet store: round trips, foreign files, two racing processes, kill -9 at random points. */
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixed_env.h"
#include "store_v1.h"
#include "tessera/store.h"

/* ------------------------------------------------------------------ helpers */

typedef struct {
    char dir[64];
    char path[128];
} tmp_store;

static int tmp_make(tmp_store *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/tes_store_XXXXXX");
    if (!mkdtemp(t->dir))
        return 0;
    snprintf(t->path, sizeof t->path, "%s/wallet.db", t->dir);
    return 1;
}

static void side_path(char *out, size_t n, const char *path, const char *suffix)
{
    snprintf(out, n, "%s%s", path, suffix);
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void tmp_remove_store_files(const tmp_store *t)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[160];
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        side_path(p, sizeof p, t->path, sfx[i]);
        unlink(p);
    }
}

static void tmp_clean(const tmp_store *t)
{
    tmp_remove_store_files(t);
    rmdir(t->dir);
}

static void fill_mdoc(uint8_t *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    if (n > 3)
        buf[3] = 0; /* embedded NUL: must survive as a BLOB */
}

/* Adds a credential with n copies keyed "<prefix>-<i>", mdoc bytes derived from the key. */
static tes_err add_cred(tes_store *s, const char *name, const char *prefix, size_t n,
                        bool single_use, int64_t *id)
{
    tes_store_new_copy copies[32];
    char keys[32][48];
    uint8_t mdocs[32][96];
    if (n > 32)
        return TES_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%s-%zu", prefix, i);
        fill_mdoc(mdocs[i], sizeof mdocs[i], (unsigned)(i * 7919u + (unsigned)strlen(prefix)));
        copies[i].key_id = keys[i];
        copies[i].mdoc = TES_BYTES(mdocs[i], sizeof mdocs[i]);
    }
    tes_store_cred meta = {0};
    meta.doctype = "org.iso.18013.5.1.mDL";
    meta.display_name = (char *)name;
    meta.issuer = "CN=Test DS";
    meta.valid_from = 1700000000;
    meta.valid_until = 1800000000;
    meta.needs_pin = single_use; /* both flags travel with the credential */
    return tes_store_add_credential(s, &meta, copies, n, single_use, id);
}

static const tes_store_cred *find_cred(const tes_store_cred *c, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (c[i].id == id)
            return &c[i];
    return NULL;
}

static int cmp_cred_id(const void *key, const void *elem)
{
    int64_t a = *(const int64_t *)key, b = ((const tes_store_cred *)elem)->id;
    return (a > b) - (a < b);
}

static int read_file_bytes(const char *path, uint8_t **out, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return 0;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *out = buf;
    *n = len;
    return 1;
}

static int write_file_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Runs PRAGMA integrity_check on path with SQLite directly; returns 1 when "ok". */
static int integrity_ok(const char *path)
{
    sqlite3 *db = NULL;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            const char *r = (const char *)sqlite3_column_text(st, 0);
            ok = r && strcmp(r, "ok") == 0;
            if (!ok)
                fprintf(stderr, "    integrity_check: %s\n", r ? r : "(null)");
        } else {
            fprintf(stderr, "    integrity_check could not run: %s\n", sqlite3_errmsg(db));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        c += w;
        n -= (size_t)w;
    }
    return 1;
}

/* ------------------------------------------------------------------ tests */

TEST(round_trip_single_use_copies)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);

    int64_t id = 0;
    CHECK_ERR(add_cred(s, "My eID", "se-key", 3, true, &id), TES_OK);
    CHECK(id > 0);

    tes_store_cred *c = NULL;
    size_t n = 0;
    CHECK_ERR(tes_store_list(s, &c, &n), TES_OK);
    REQUIRE(n == 1);
    CHECK_EQ_INT(c[0].id, id);
    CHECK_EQ_STR(c[0].doctype, "org.iso.18013.5.1.mDL");
    CHECK_EQ_STR(c[0].display_name, "My eID");
    CHECK_EQ_STR(c[0].issuer, "CN=Test DS");
    CHECK_EQ_INT(c[0].valid_from, 1700000000);
    CHECK_EQ_INT(c[0].valid_until, 1800000000);
    CHECK_EQ_INT(c[0].copies, 3);
    CHECK_EQ_INT(c[0].unused_copies, 3);
    CHECK(c[0].created_at >= 1700000000); /* 0 in meta -> now */
    tes_store_creds_free(c, n);

    char seen[3][48] = {{0}};
    for (int i = 0; i < 3; i++) {
        tes_store_copy cp;
        CHECK_ERR(tes_store_take_copy(s, id, &cp), TES_OK);
        REQUIRE(cp.key_id != NULL);
        CHECK_EQ_INT(cp.use_count, 1);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(seen[j], cp.key_id) != 0);
        snprintf(seen[i], sizeof seen[i], "%s", cp.key_id);
        /* the mdoc bytes are those added with this key */
        size_t k = (size_t)atoi(strrchr(cp.key_id, '-') + 1);
        uint8_t want[96];
        fill_mdoc(want, sizeof want, (unsigned)(k * 7919u + (unsigned)strlen("se-key")));
        CHECK_EQ_INT(cp.mdoc.len, sizeof want);
        if (cp.mdoc.len == sizeof want)
            CHECK_EQ_MEM(cp.mdoc.ptr, want, sizeof want);
        tes_store_copy_free(&cp);
        CHECK(cp.key_id == NULL && cp.mdoc.ptr == NULL);

        CHECK_ERR(tes_store_list(s, &c, &n), TES_OK);
        REQUIRE(n == 1);
        CHECK_EQ_INT(c[0].unused_copies, 2 - i);
        tes_store_creds_free(c, n);
    }
    tes_store_copy cp;
    CHECK_ERR(tes_store_take_copy(s, id, &cp), TES_ERR_KEY_USED);
    CHECK(strstr(tes_err_message(), "all 3 single-use copies") != NULL);
    CHECK(cp.key_id == NULL && cp.mdoc.ptr == NULL);
    CHECK_ERR(tes_store_take_copy(s, id + 1000, &cp), TES_ERR_NOT_FOUND);

    /* A credential whose copies may be shown repeatedly. */
    int64_t multi = 0;
    CHECK_ERR(add_cred(s, "Library card", "lib", 2, false, &multi), TES_OK);
    int64_t counts[2] = {0, 0};
    for (int i = 0; i < 5; i++) {
        CHECK_ERR(tes_store_take_copy(s, multi, &cp), TES_OK);
        REQUIRE(cp.key_id != NULL);
        int k = strcmp(cp.key_id, "lib-0") == 0 ? 0 : 1;
        counts[k]++;
        CHECK_EQ_INT(cp.use_count, counts[k]); /* least-used first, count incremented */
        tes_store_copy_free(&cp);
    }
    CHECK_EQ_INT(counts[0], 3);
    CHECK_EQ_INT(counts[1], 2);
    tes_store_close(s);

    /* Reopen: everything persisted. */
    s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    CHECK_ERR(tes_store_list(s, &c, &n), TES_OK);
    REQUIRE(n == 2);
    const tes_store_cred *a = find_cred(c, n, id), *b = find_cred(c, n, multi);
    REQUIRE(a && b);
    CHECK_EQ_INT(a->copies, 3);
    CHECK_EQ_INT(a->unused_copies, 0);
    CHECK_EQ_INT(b->copies, 2);
    CHECK_EQ_INT(b->unused_copies, 0); /* both shown at least once */
    tes_store_creds_free(c, n);
    CHECK_ERR(tes_store_take_copy(s, id, &cp), TES_ERR_KEY_USED);
    CHECK_ERR(tes_store_take_copy(s, multi, &cp), TES_OK);
    CHECK_EQ_STR(cp.key_id, "lib-1");
    CHECK_EQ_INT(cp.use_count, 3);
    tes_store_copy_free(&cp);
    tes_store_close(s);
    tmp_clean(&t);
}

TEST(new_store_file_and_header)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    int64_t id;
    CHECK_ERR(add_cred(s, "x", "k", 1, true, &id), TES_OK);

    struct stat sb;
    char side[160];
    REQUIRE(stat(t.path, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    side_path(side, sizeof side, t.path, "-wal");
    REQUIRE(stat(side, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    side_path(side, sizeof side, t.path, "-shm");
    REQUIRE(stat(side, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);

    CHECK_EQ_INT(raw_int(t.path, "PRAGMA application_id"), 0x54455357);
    CHECK_EQ_INT(raw_int(t.path, "PRAGMA user_version"), 3);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM migrations WHERE version = 1"), 1);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM migrations WHERE version = 2"), 1);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM migrations WHERE version = 3"), 1);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM copies WHERE credential_id = 1"), 1);
    tes_store_close(s);

    /* Pragmas that belong to the file survive; the journal stays WAL. */
    sqlite3 *db;
    REQUIRE(sqlite3_open(t.path, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* A pre-existing empty file (an interrupted creation) becomes a store. */
    tmp_remove_store_files(&t);
    REQUIRE(write_file_bytes(t.path, "", 0));
    s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    tes_store_close(s);
    tmp_clean(&t);
}

TEST(log_and_settings)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);

    tes_store_log_entry *l = NULL;
    size_t n = 99;
    CHECK_ERR(tes_store_log_list(s, &l, &n), TES_OK);
    CHECK_EQ_INT(n, 0);
    tes_store_log_free(l, n);

    tes_store_log_entry e1 = {.at = 1710000000,
                              .relying_party = "Hotel Front Desk",
                              .elements =
                                  "org.iso.18013.5.1/family_name,org.iso.18013.5.1/portrait*",
                              .cred_id = 7,
                              .outcome = "disclosed"};
    tes_store_log_entry e2 = {.at = 0,
                              .relying_party = "unauthenticated",
                              .elements = "org.iso.18013.5.1/age_over_18",
                              .cred_id = 0,
                              .outcome = "declined"};
    tes_store_log_entry e3 = {.at = 1600000000, /* earlier time, later entry: order is by id */
                              .relying_party = "shop.example",
                              .elements = NULL,
                              .cred_id = 7,
                              .outcome = "failed: device_signature"};
    time_t before = time(NULL);
    CHECK_ERR(tes_store_log_add(s, &e1), TES_OK);
    CHECK_ERR(tes_store_log_add(s, &e2), TES_OK);
    CHECK_ERR(tes_store_log_add(s, &e3), TES_OK);
    time_t after = time(NULL);
    tes_store_log_entry bad = {.relying_party = NULL, .outcome = "x"};
    CHECK_ERR(tes_store_log_add(s, &bad), TES_ERR_ARG);

    CHECK_ERR(tes_store_log_list(s, &l, &n), TES_OK);
    REQUIRE(n == 3);
    CHECK(l[0].id < l[1].id && l[1].id < l[2].id);
    CHECK_EQ_INT(l[0].at, 1710000000);
    CHECK_EQ_STR(l[0].relying_party, "Hotel Front Desk");
    CHECK_EQ_STR(l[0].elements, "org.iso.18013.5.1/family_name,org.iso.18013.5.1/portrait*");
    CHECK_EQ_INT(l[0].cred_id, 7);
    CHECK_EQ_STR(l[0].outcome, "disclosed");
    CHECK(l[1].at >= (int64_t)before && l[1].at <= (int64_t)after);
    CHECK_EQ_STR(l[1].relying_party, "unauthenticated");
    CHECK_EQ_STR(l[1].outcome, "declined");
    CHECK_EQ_INT(l[1].cred_id, 0);
    CHECK_EQ_INT(l[2].at, 1600000000);
    CHECK_EQ_STR(l[2].elements, "");
    CHECK_EQ_STR(l[2].outcome, "failed: device_signature");
    tes_store_log_free(l, n);

    char *v = (char *)1;
    CHECK_ERR(tes_store_get(s, "se", &v), TES_ERR_NOT_FOUND);
    CHECK(v == NULL);
    CHECK_ERR(tes_store_set(s, "se", "soft"), TES_OK);
    CHECK_ERR(tes_store_set(s, "other", "x"), TES_OK);
    CHECK_ERR(tes_store_get(s, "se", &v), TES_OK);
    CHECK_EQ_STR(v, "soft");
    free(v);
    CHECK_ERR(
        tes_store_set(s, "se", "pkcs11:/usr/lib/softhsm/libsofthsm2.so:tok'; DROP TABLE log;--"),
        TES_OK);
    tes_store_close(s);

    s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    CHECK_ERR(tes_store_get(s, "se", &v), TES_OK);
    CHECK_EQ_STR(v, "pkcs11:/usr/lib/softhsm/libsofthsm2.so:tok'; DROP TABLE log;--");
    free(v);
    CHECK_ERR(tes_store_get(s, "other", &v), TES_OK);
    CHECK_EQ_STR(v, "x");
    free(v);
    CHECK_ERR(tes_store_get(s, "SE", &v), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_store_log_list(s, &l, &n), TES_OK);
    CHECK_EQ_INT(n, 3);
    tes_store_log_free(l, n);
    tes_store_close(s);
    tmp_clean(&t);
}

/* The store's own times (a credential added or a log entry written without
 * one, a migration) come from the clock it is opened with: set at a chosen
 * instant (2009) and observed. */
TEST(clock_is_the_callers)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    int64_t at = 1234567890;
    tes_clock clk = fixed_clock(&at);
    tes_store_opts o = {.clock = &clk};
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open_with(t.path, &o, &s), TES_OK);
    REQUIRE(s != NULL);
    int64_t id = 0;
    CHECK_ERR(add_cred(s, "My eID", "k", 1, false, &id), TES_OK);
    at = 1300000000;
    tes_store_log_entry le = {
        .relying_party = "Hotel", .elements = "", .cred_id = id, .outcome = "disclosed"};
    CHECK_ERR(tes_store_log_add(s, &le), TES_OK);
    tes_store_cred *c = NULL;
    size_t n = 0;
    CHECK_ERR(tes_store_list(s, &c, &n), TES_OK);
    REQUIRE(n == 1);
    CHECK_EQ_INT(c[0].created_at, 1234567890);
    tes_store_creds_free(c, n);
    tes_store_log_entry *l = NULL;
    CHECK_ERR(tes_store_log_list(s, &l, &n), TES_OK);
    REQUIRE(n == 1);
    CHECK_EQ_INT(l[0].at, 1300000000);
    tes_store_log_free(l, n);
    tes_store_close(s);

    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    REQUIRE(sqlite3_open_v2(t.path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(db, "SELECT min(applied_at), max(applied_at) FROM migrations", -1,
                               &st, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int64(st, 0), 1234567890);
    CHECK_EQ_INT(sqlite3_column_int64(st, 1), 1234567890);
    sqlite3_finalize(st);
    sqlite3_close(db);
    tmp_clean(&t);
}

TEST(delete_cascades_copies)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    int64_t a = 0, b = 0;
    CHECK_ERR(add_cred(s, "A", "a", 4, true, &a), TES_OK);
    CHECK_ERR(add_cred(s, "B", "b", 2, true, &b), TES_OK);
    tes_store_log_entry le = {
        .relying_party = "rp", .elements = "", .cred_id = a, .outcome = "disclosed"};
    CHECK_ERR(tes_store_log_add(s, &le), TES_OK);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM copies"), 6);

    CHECK_ERR(tes_store_delete_credential(s, a), TES_OK);
    CHECK_ERR(tes_store_delete_credential(s, a), TES_ERR_NOT_FOUND);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM copies"), 2);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM copies WHERE credential_id = 1"), 0);

    tes_store_cred *c = NULL;
    size_t n = 0;
    CHECK_ERR(tes_store_list(s, &c, &n), TES_OK);
    REQUIRE(n == 1);
    CHECK_EQ_INT(c[0].id, b);
    CHECK_EQ_INT(c[0].copies, 2);
    tes_store_creds_free(c, n);
    tes_store_copy cp;
    CHECK_ERR(tes_store_take_copy(s, a, &cp), TES_ERR_NOT_FOUND);

    /* The holder's history survives the deletion. */
    tes_store_log_entry *l = NULL;
    CHECK_ERR(tes_store_log_list(s, &l, &n), TES_OK);
    REQUIRE(n == 1);
    CHECK_EQ_INT(l[0].cred_id, a);
    tes_store_log_free(l, n);
    tes_store_close(s);
    tmp_clean(&t);
}

TEST(bad_arguments)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(NULL, &s), TES_ERR_ARG);
    CHECK_ERR(tes_store_open("", &s), TES_ERR_ARG);
    CHECK_ERR(tes_store_open(t.dir, &s), TES_ERR_STORE); /* a directory */
    CHECK(s == NULL);
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    int64_t id;
    tes_store_cred meta = {0};
    CHECK_ERR(tes_store_add_credential(s, &meta, NULL, 0, true, &id), TES_ERR_ARG);
    meta.doctype = "d";
    CHECK_ERR(tes_store_add_credential(s, &meta, NULL, 0, true, &id), TES_ERR_ARG);
    tes_store_new_copy cp = {.key_id = NULL, .mdoc = TES_BYTES_STR("x")};
    CHECK_ERR(tes_store_add_credential(s, &meta, &cp, 1, true, &id), TES_ERR_ARG);
    cp.key_id = "k";
    cp.mdoc = TES_BYTES(NULL, 0);
    CHECK_ERR(tes_store_add_credential(s, &meta, &cp, 1, true, &id), TES_ERR_ARG);
    cp.mdoc = TES_BYTES_STR("x");
    CHECK_ERR(tes_store_add_credential(s, &meta, &cp, 1, true, &id), TES_OK); /* NULL names ok */
    tes_store_cred *c;
    size_t n;
    CHECK_ERR(tes_store_list(s, &c, &n), TES_OK);
    REQUIRE(n == 1);
    CHECK_EQ_STR(c[0].display_name, "");
    CHECK_EQ_STR(c[0].issuer, "");
    tes_store_creds_free(c, n);
    CHECK_ERR(tes_store_set(s, "k", NULL), TES_ERR_ARG);
    tes_store_close(s);
    tes_store_close(NULL);
    tmp_clean(&t);
}

/* Opens path expecting TES_ERR_STORE_CORRUPT and checks that nothing was written or created. */
static void expect_refused(const tmp_store *t, const void *content, size_t len, const char *needle)
{
    tmp_remove_store_files(t);
    REQUIRE(write_file_bytes(t->path, content, len));
    uint8_t *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    REQUIRE(read_file_bytes(t->path, &before, &nb));
    struct stat sb0, sb1;
    REQUIRE(stat(t->path, &sb0) == 0);

    tes_store *s = (tes_store *)1;
    CHECK_ERR(tes_store_open(t->path, &s), TES_ERR_STORE_CORRUPT);
    CHECK(s == NULL);
    if (needle && !strstr(tes_err_message(), needle))
        CHECK(!"message does not say what is wrong"),
            fprintf(stderr, "    %s\n", tes_err_message());

    REQUIRE(read_file_bytes(t->path, &after, &na));
    CHECK_EQ_INT(na, nb);
    if (na == nb)
        CHECK_EQ_MEM(after, before, nb);
    REQUIRE(stat(t->path, &sb1) == 0);
    CHECK_EQ_INT(sb1.st_mode, sb0.st_mode);
    char side[160];
    side_path(side, sizeof side, t->path, "-wal");
    CHECK(!file_exists(side));
    side_path(side, sizeof side, t->path, "-journal");
    CHECK(!file_exists(side));
    free(before);
    free(after);
}

TEST(foreign_files_refused_untouched)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));

    uint8_t aa[4096];
    memset(aa, 0xAA, sizeof aa);
    expect_refused(&t, aa, sizeof aa, "not an SQLite database");

    const char *text = "These are my notes, not a wallet.\nSecond line.\n";
    expect_refused(&t, text, strlen(text), "not a Tessera wallet store");

    expect_refused(&t, "x", 1, "not a Tessera wallet store"); /* shorter than the magic */

    /* Right magic, garbage after it: SQLite itself finds it is not a database. */
    uint8_t fake[4096];
    memset(fake, 0xAA, sizeof fake);
    memcpy(fake, "SQLite format 3", 16);
    expect_refused(&t, fake, sizeof fake, "damaged");

    /* A real SQLite database of another application. */
    tmp_remove_store_files(&t);
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(t.path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE foo(a INTEGER, b TEXT); INSERT INTO foo VALUES (1, 'x');",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    uint8_t *foreign = NULL;
    size_t nf = 0;
    REQUIRE(read_file_bytes(t.path, &foreign, &nf));
    expect_refused(&t, foreign, nf, "another application");

    /* Same, with a foreign application_id and no tables. */
    tmp_remove_store_files(&t);
    REQUIRE(sqlite3_open(t.path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA application_id = 1234;", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    free(foreign);
    REQUIRE(read_file_bytes(t.path, &foreign, &nf));
    expect_refused(&t, foreign, nf, "application_id 0x000004d2");
    free(foreign);
    tmp_clean(&t);
}

TEST(newer_schema_refused)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    tes_store_close(s);
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(t.path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 42;", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_ERR_STORE);
    CHECK(s == NULL);
    CHECK(strstr(tes_err_message(), "newer version") != NULL);
    CHECK_EQ_INT(raw_int(t.path, "PRAGMA user_version"), 42); /* not touched */
    tmp_clean(&t);
}

TEST(damaged_page_is_store_corrupt)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    int64_t id;
    for (int i = 0; i < 20; i++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "dmg%d", i);
        CHECK_ERR(add_cred(s, "damaged", prefix, 3, true, &id), TES_OK);
    }
    tes_store_close(s); /* last connection: checkpoints into the main file */

    long long root =
        raw_int(t.path, "SELECT rootpage FROM sqlite_schema WHERE name = 'credentials'");
    long long pagesz = raw_int(t.path, "PRAGMA page_size");
    REQUIRE(root > 1 && pagesz > 0);
    int fd = open(t.path, O_WRONLY);
    REQUIRE(fd >= 0);
    uint8_t junk[512];
    memset(junk, 0x5A, sizeof junk);
    CHECK(pwrite(fd, junk, sizeof junk, (off_t)((root - 1) * pagesz)) == (ssize_t)sizeof junk);
    close(fd);

    s = NULL;
    tes_err e = tes_store_open(t.path, &s);
    if (e == TES_OK) {
        tes_store_cred *c = NULL;
        size_t n = 0;
        e = tes_store_list(s, &c, &n);
        tes_store_creds_free(c, n);
        tes_store_close(s);
    }
    CHECK_ERR(e, TES_ERR_STORE_CORRUPT);
    tmp_clean(&t);
}

TEST(busy_beyond_timeout)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    /* Another connection holds the write lock for longer than the busy timeout. */
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(t.path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_ERR(tes_store_set(s, "k", "v"), TES_ERR_BUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(waited >= 4.5 && waited < 15);
    /* Readers are not blocked by a writer in WAL mode. */
    char *v = NULL;
    CHECK_ERR(tes_store_get(s, "k", &v), TES_ERR_NOT_FOUND);
    CHECK(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_ERR(tes_store_set(s, "k", "v"), TES_OK); /* the store is usable afterwards */
    tes_store_close(s);
    tmp_clean(&t);
}

/* Record a racing child sends per take_copy: the copy id, or 0 and the error. */
typedef struct {
    int64_t copy_id;
    int32_t err;
    int32_t child;
    char key_id[20];
} race_rec;

TEST(two_processes_take_each_single_use_copy_once)
{
    enum { COPIES = 20, CHILDREN = 2 };
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    int64_t cred = 0;
    CHECK_ERR(add_cred(s, "batch", "race", COPIES, true, &cred), TES_OK);
    tes_store_close(s); /* no connection is carried across fork */

    int go[2], res[2], ready[2];
    REQUIRE(pipe(go) == 0 && pipe(res) == 0 && pipe(ready) == 0);
    pid_t pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        REQUIRE(pids[c] >= 0);
        if (pids[c] == 0) {
            close(go[1]);
            close(res[0]);
            close(ready[0]);
            tes_store *cs = NULL;
            int code = 0;
            if (tes_store_open(t.path, &cs) != TES_OK)
                _exit(3);
            char b = 'r';
            if (!write_all(ready[1], &b, 1))
                _exit(3);
            close(ready[1]);
            while (read(go[0], &b, 1) < 0 && errno == EINTR) {
            } /* EOF when the parent closes the gate: both start together */
            for (;;) {
                tes_store_copy cp;
                race_rec r = {.child = c};
                tes_err e = tes_store_take_copy(cs, cred, &cp);
                if (e == TES_OK) {
                    r.copy_id = cp.id;
                    snprintf(r.key_id, sizeof r.key_id, "%s", cp.key_id);
                    tes_store_copy_free(&cp);
                } else {
                    r.err = (int32_t)e;
                }
                if (!write_all(res[1], &r, sizeof r))
                    code = 4;
                if (e != TES_OK || code)
                    break;
                /* Present the copy (a little work) before the next take, so that the
                 * other process gets its turn at the lock and the two interleave. */
                usleep((useconds_t)(100 + (r.copy_id * 37 + c * 11) % 400));
            }
            tes_store_close(cs);
            _exit(code);
        }
    }
    close(go[0]);
    close(res[1]);
    close(ready[1]);
    for (int c = 0; c < CHILDREN; c++) { /* wait until both have the store open */
        char b;
        ssize_t got;
        while ((got = read(ready[0], &b, 1)) < 0 && errno == EINTR) {
        }
        CHECK(got == 1);
    }
    close(ready[0]);
    close(go[1]); /* open the gate */

    race_rec recs[256];
    size_t nrec = 0;
    for (;;) {
        race_rec r;
        ssize_t got = read(res[0], &r, sizeof r);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        REQUIRE(got == (ssize_t)sizeof r); /* < PIPE_BUF: written atomically */
        if (nrec < sizeof recs / sizeof recs[0])
            recs[nrec++] = r;
    }
    close(res[0]);
    for (int c = 0; c < CHILDREN; c++) {
        int st = 0;
        REQUIRE(waitpid(pids[c], &st, 0) == pids[c]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }

    int handed = 0, key_used = 0, other = 0, per_child[CHILDREN] = {0};
    for (size_t i = 0; i < nrec; i++) {
        if (recs[i].err == 0) {
            handed++;
            if (recs[i].child >= 0 && recs[i].child < CHILDREN)
                per_child[recs[i].child]++;
            for (size_t j = 0; j < i; j++) {
                if (recs[j].err == 0) {
                    CHECK(recs[j].copy_id != recs[i].copy_id);
                    CHECK(strcmp(recs[j].key_id, recs[i].key_id) != 0);
                }
            }
        } else if (recs[i].err == TES_ERR_KEY_USED) {
            key_used++;
        } else {
            other++;
            fprintf(stderr, "    child got %s\n", tes_err_name((tes_err)recs[i].err));
        }
    }
    CHECK_EQ_INT(handed, COPIES);
    CHECK_EQ_INT(key_used, CHILDREN); /* each child stopped on TES_ERR_KEY_USED */
    CHECK_EQ_INT(other, 0);           /* in particular no TES_ERR_BUSY */
    printf("     race: the children took %d and %d copies\n", per_child[0], per_child[1]);

    s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    REQUIRE(s != NULL);
    tes_store_cred *c = NULL;
    size_t n = 0;
    CHECK_ERR(tes_store_list(s, &c, &n), TES_OK);
    REQUIRE(n == 1);
    CHECK_EQ_INT(c[0].unused_copies, 0);
    tes_store_creds_free(c, n);
    CHECK_EQ_INT(raw_int(t.path, "SELECT max(use_count) FROM copies"), 1);
    tes_store_close(s);
    tmp_clean(&t);
}

/* The child of the kill test: adds credentials (2 copies each) and log entries forever,
 * reporting each committed credential id on fd. */
static void kill_child(const char *path, int fd, int iteration)
{
    tes_store *s = NULL;
    tes_err e = tes_store_open(path, &s);
    if (e != TES_OK) {
        fprintf(stderr, "    child %d: open: %s: %s\n", iteration, tes_err_name(e),
                tes_err_message());
        _exit(3);
    }
    int64_t ready = 0; /* "store open": the parent starts its clock here */
    if (!write_all(fd, &ready, sizeof ready))
        _exit(5);
    for (int j = 0;; j++) {
        char name[32], prefix[32];
        snprintf(name, sizeof name, "c%d", iteration * 100000 + j);
        snprintf(prefix, sizeof prefix, "k%d.%d", iteration, j);
        int64_t id = 0;
        if ((e = add_cred(s, name, prefix, 2, true, &id)) != TES_OK) {
            fprintf(stderr, "    child %d: add: %s: %s\n", iteration, tes_err_name(e),
                    tes_err_message());
            _exit(4);
        }
        if (!write_all(fd, &id, sizeof id))
            _exit(5);
        tes_store_log_entry le = {
            .relying_party = name, .elements = "ns/e", .cred_id = id, .outcome = "disclosed"};
        if ((e = tes_store_log_add(s, &le)) != TES_OK) {
            fprintf(stderr, "    child %d: log: %s: %s\n", iteration, tes_err_name(e),
                    tes_err_message());
            _exit(6);
        }
    }
}

TEST(killed_writer_leaves_consistent_store)
{
    enum { ITERATIONS = 100, MAX_IDS = 100000 };
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    CHECK_ERR(tes_store_open(t.path, &s), TES_OK);
    tes_store_close(s);

    int64_t *committed = calloc(MAX_IDS, sizeof *committed);
    REQUIRE(committed != NULL);
    size_t ncommitted = 0;
    int killed_running = 0, bad_exit = 0, failures = 0;

    for (int i = 0; i < ITERATIONS && failures < 3; i++) {
        int p[2];
        REQUIRE(pipe(p) == 0);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            kill_child(t.path, p[1], i);
            _exit(7);
        }
        close(p[1]);
        /* Every fifth child is killed counting from fork (so also while opening the
         * store); the others from the moment the store is open, so the kills land in
         * the adds even when fork and open are slow (sanitizer builds). */
        if (i % 5 != 0) {
            int64_t ready = -1;
            ssize_t got;
            while ((got = read(p[0], &ready, sizeof ready)) < 0 && errno == EINTR) {
            }
            if (got != (ssize_t)sizeof ready || ready != 0)
                fprintf(stderr, "    iteration %d: no ready from the child (%zd)\n", i, got);
            CHECK(got == (ssize_t)sizeof ready && ready == 0);
        }
        /* Every fifth child, one later, waits for a first commit before its clock starts,
         * so commits are exercised however slow the machine (or the sanitizer) is. */
        if (i % 5 == 3) {
            int64_t first = 0;
            ssize_t got;
            while ((got = read(p[0], &first, sizeof first)) < 0 && errno == EINTR) {
            }
            CHECK(got == (ssize_t)sizeof first && first != 0);
            if (got == (ssize_t)sizeof first && first != 0 && ncommitted < MAX_IDS)
                committed[ncommitted++] = first;
        }
        /* 0..3.99 ms, spread over the microseconds so kills land everywhere. */
        useconds_t delay = (useconds_t)((i % 4) * 1000 + (i * 397) % 1000);
        if (delay)
            usleep(delay);
        kill(pid, SIGKILL);
        int st = 0;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
            killed_running++;
        else
            bad_exit++, fprintf(stderr, "    child ended with status 0x%x\n", (unsigned)st);
        for (;;) {
            int64_t id;
            ssize_t got = read(p[0], &id, sizeof id);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            if (got == (ssize_t)sizeof id && id != 0 && ncommitted < MAX_IDS)
                committed[ncommitted++] = id;
        }
        close(p[0]);

        int ok = 1;
        tes_store *v = NULL;
        tes_err e = tes_store_open(t.path, &v);
        if (e != TES_OK) {
            fprintf(stderr, "    iteration %d: open failed: %s: %s\n", i, tes_err_name(e),
                    tes_err_message());
            CHECK_ERR(e, TES_OK);
            failures++;
            continue;
        }
        if (!integrity_ok(t.path)) {
            fprintf(stderr, "    iteration %d: integrity_check failed\n", i);
            ok = 0;
        }
        tes_store_cred *c = NULL;
        size_t n = 0;
        e = tes_store_list(v, &c, &n);
        if (e != TES_OK) {
            fprintf(stderr, "    iteration %d: list failed: %s\n", i, tes_err_message());
            ok = 0;
        }
        for (size_t k = 0; k < n; k++)
            if (c[k].copies != 2 || c[k].unused_copies != 2 || c[k].display_name[0] != 'c' ||
                !c[k].single_use || !c[k].needs_pin) { /* flags committed with it */
                fprintf(stderr, "    iteration %d: credential %lld has %lld copies\n", i,
                        (long long)c[k].id, (long long)c[k].copies);
                ok = 0;
            }
        /* Every credential a child saw committed is there (the list is ordered by id). */
        for (size_t k = 0; k < ncommitted; k++)
            if (!bsearch(&committed[k], c, n, sizeof *c, cmp_cred_id)) {
                fprintf(stderr, "    iteration %d: committed credential %lld is missing\n", i,
                        (long long)committed[k]);
                ok = 0;
                break;
            }
        tes_store_creds_free(c, n);
        /* Log entries only name credentials that exist (nothing is deleted here). */
        long long dangling = raw_int(
            t.path,
            "SELECT count(*) FROM log WHERE credential_id NOT IN (SELECT id FROM credentials)");
        if (dangling != 0) {
            fprintf(stderr, "    iteration %d: %lld log entries without credential\n", i, dangling);
            ok = 0;
        }
        long long orphans = raw_int(
            t.path,
            "SELECT count(*) FROM copies WHERE credential_id NOT IN (SELECT id FROM credentials)");
        if (orphans != 0) {
            fprintf(stderr, "    iteration %d: %lld copies without credential\n", i, orphans);
            ok = 0;
        }
        tes_store_close(v);
        CHECK(ok);
        if (!ok)
            failures++;
    }
    CHECK_EQ_INT(bad_exit, 0);
    CHECK(killed_running > 0);
    CHECK(ncommitted > 0); /* the test did exercise commits */
    printf("     kill test: %d kills, %zu credentials reported committed, %lld in store\n",
           killed_running, ncommitted, raw_int(t.path, "SELECT count(*) FROM credentials"));
    free(committed);
    tmp_clean(&t);
}

TEST(killed_during_creation_store_still_opens)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    for (int i = 0; i < 20; i++) {
        tmp_remove_store_files(&t);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            tes_store *s = NULL;
            if (tes_store_open(t.path, &s) != TES_OK)
                _exit(3);
            int64_t id;
            if (add_cred(s, "c0", "k", 2, true, &id) != TES_OK)
                _exit(4);
            tes_store_close(s);
            _exit(0);
        }
        usleep((useconds_t)(i * 150));
        kill(pid, SIGKILL);
        int st;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        CHECK(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0));
        tes_store *s = NULL;
        tes_err e = tes_store_open(t.path, &s);
        CHECK_ERR(e, TES_OK);
        if (e != TES_OK) {
            fprintf(stderr, "    after %d us: %s\n", i * 150, tes_err_message());
            continue;
        }
        CHECK(integrity_ok(t.path));
        tes_store_cred *c = NULL;
        size_t n = 0;
        CHECK_ERR(tes_store_list(s, &c, &n), TES_OK);
        CHECK(n <= 1);
        if (n == 1)
            CHECK_EQ_INT(c[0].copies, 2);
        tes_store_creds_free(c, n);
        tes_store_close(s);
    }
    tmp_clean(&t);
}

/* The same copy (its key) cannot be stored twice: refused with TES_ERR_EXISTS in
 * the adding transaction, nothing added; the flags come back from one add. */
TEST(adding_a_key_twice_is_refused_and_flags_come_with_the_credential)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    tes_store *s = NULL;
    REQUIRE(tes_store_open(t.path, &s) == TES_OK);
    int64_t a = 0, b = 0;
    CHECK_ERR(add_cred(s, "eID", "dup", 2, true, &a), TES_OK);
    CHECK_ERR(add_cred(s, "eID again", "dup", 2, true, &b), TES_ERR_EXISTS);
    CHECK(strstr(tes_err_message(), "dup-0") != NULL);
    /* one copy of the batch under another credential: refused as well */
    CHECK_ERR(add_cred(s, "one shared key", "dup", 1, false, &b), TES_ERR_EXISTS);
    CHECK_ERR(add_cred(s, "other", "other", 1, false, &b), TES_OK);
    tes_store_cred *c = NULL;
    size_t n = 0;
    REQUIRE(tes_store_list(s, &c, &n) == TES_OK);
    CHECK_EQ_INT(n, 2);
    const tes_store_cred *ca = find_cred(c, n, a), *cb = find_cred(c, n, b);
    REQUIRE(ca != NULL && cb != NULL);
    CHECK(ca->single_use && ca->needs_pin && ca->copies == 2);
    CHECK(!cb->single_use && !cb->needs_pin);
    tes_store_creds_free(c, n);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM copies"), 3);
    /* peeking shows the copy a take would give, and spends nothing */
    tes_store_copy p1 = {0}, p2 = {0}, taken = {0};
    CHECK_ERR(tes_store_peek_copy(s, a, &p1), TES_OK);
    CHECK_ERR(tes_store_peek_copy(s, a, &p2), TES_OK);
    CHECK(p1.id == p2.id);
    CHECK_ERR(tes_store_take_copy(s, a, &taken), TES_OK);
    CHECK(taken.id == p1.id);
    CHECK_EQ_INT(raw_int(t.path, "SELECT count(*) FROM copies WHERE used = 1"), 1);
    tes_store_copy_free(&p1);
    tes_store_copy_free(&p2);
    tes_store_copy_free(&taken);
    tes_store_close(s);
    tmp_clean(&t);
}

/* A wallet made before the flag became a column kept it in the setting
 * "credential.N.uv": opening it carries the flag over. */
TEST(migration_carries_the_pin_flag_over)
{
    tmp_store t;
    REQUIRE(tmp_make(&t));
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(t.path, &db) == SQLITE_OK);
    static const char v1[] =
        TES_TEST_STORE_V1_SCHEMA
        "INSERT INTO credentials VALUES (1, 'd', 'uv', 'i', 0, 1, 1, 0), (2, 'd', 'plain', 'i', 0,"
        " 1, 0, 0), (12, 'd', 'uv12', 'i', 0, 1, 0, 0);"
        "INSERT INTO copies(credential_id, key_id, mdoc) VALUES (1, 'k1', x'a0'), (2, 'k2', x'a0'),"
        " (12, 'k12', x'a0');"
        "INSERT INTO settings VALUES ('credential.1.uv', '1'), ('credential.1.single_use', '1'),"
        " ('credential.12.uv', '1'), ('credential.2.uv', '0');"
        "PRAGMA user_version = 1;";
    CHECK(sqlite3_exec(db, v1, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    tes_store *s = NULL;
    REQUIRE(tes_store_open(t.path, &s) == TES_OK);
    tes_store_cred *c = NULL;
    size_t n = 0;
    REQUIRE(tes_store_list(s, &c, &n) == TES_OK);
    CHECK_EQ_INT(n, 3);
    const tes_store_cred *c1 = find_cred(c, n, 1), *c2 = find_cred(c, n, 2),
                         *c12 = find_cred(c, n, 12);
    REQUIRE(c1 && c2 && c12);
    CHECK(c1->needs_pin && c1->single_use);
    CHECK(!c2->needs_pin && !c2->single_use);
    CHECK(c12->needs_pin && !c12->single_use);
    tes_store_creds_free(c, n);
    tes_store_close(s);
    CHECK_EQ_INT(raw_int(t.path, "PRAGMA user_version"), 3);
    tmp_clean(&t);
}
