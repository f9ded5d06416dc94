/*
 * The issuing authority's registry: one test body run against both backends,
 * SQLite (a temporary file) and PostgreSQL (a throw-away cluster this test
 * starts through scripts/pg-test.sh on a free loopback port; if it cannot start,
 * the PostgreSQL tests fail, they are not skipped).
 *
 * Offers and transaction codes, tokens, nonces, races between two connections
 * (threads) on one code or nonce, batch issuance with random distinct indexes,
 * full lists, status changes and the audit log, and processes killed with
 * SIGKILL in the middle of issuing. Schema v3: revoking or suspending a
 * person or a phone withdraws offers and tokens and stops issuance (also
 * racing an issuer on another connection), budgets that survive a restart,
 * status lists that roll over, stateless nonces (forged, replayed, expired).
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <postgresql/libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixed_env.h"
#include "registry/registry_internal.h" /* the v1 schema text, to make a v1 database */
#include "tessera/registry.h"

#include "pg_fixture.h" /* the throw-away PostgreSQL cluster (pg_new_db) */

/* ------------------------------------------------------------ fixtures */

typedef enum { BK_SQLITE, BK_PG } backend;

typedef struct {
    backend bk;
    char dir[64];
    char path[128];
    char url[256];
} fixture;

static int fx_new(backend bk, fixture *f)
{
    memset(f, 0, sizeof *f);
    f->bk = bk;
    if (bk == BK_SQLITE) {
        snprintf(f->dir, sizeof f->dir, "/tmp/tes_reg_XXXXXX");
        if (!mkdtemp(f->dir))
            return 0;
        snprintf(f->path, sizeof f->path, "%s/registry.db", f->dir);
        snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
        return 1;
    }
    return pg_new_db(f->url, sizeof f->url);
}

static void fx_done(fixture *f)
{
    if (f->bk == BK_SQLITE && f->dir[0]) {
        static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
        char p[160];
        for (size_t i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
            unlink(p);
        }
        rmdir(f->dir);
    }
}

/* Direct SQL for checks the API does not offer: one integer, or -1 on error. */
static long long q_int(const fixture *f, const char *sql)
{
    long long v = -1;
    if (f->bk == BK_SQLITE) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        else
            fprintf(stderr, "    sqlite: %s: %s\n", sql, db ? sqlite3_errmsg(db) : "?");
        sqlite3_finalize(st);
        sqlite3_close(db);
    } else {
        PGconn *c = PQconnectdb(f->url);
        PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
        if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
            fprintf(stderr, "    pg: %s: %s\n", sql, r ? PQresultErrorMessage(r) : "no conn");
        PQclear(r);
        PQfinish(c);
    }
    return v;
}

/* All values of a one-column integer query, sorted ascending by the query. */
static long long *q_ints(const fixture *f, const char *sql, size_t *n)
{
    long long *out = NULL;
    size_t len = 0, cap = 0;
    *n = 0;
    if (f->bk == BK_SQLITE) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW) {
                if (len == cap) {
                    cap = cap ? cap * 2 : 256;
                    out = realloc(out, cap * sizeof *out);
                }
                out[len++] = sqlite3_column_int64(st, 0);
            }
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
    } else {
        PGconn *c = PQconnectdb(f->url);
        PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
        if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
            len = (size_t)PQntuples(r);
            out = malloc((len + 1) * sizeof *out);
            for (size_t i = 0; i < len; i++)
                out[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
        }
        PQclear(r);
        PQfinish(c);
    }
    *n = len;
    return out;
}

/* One test body, two tests. */
#define BOTH(name)                                                                                 \
    static void body_##name(backend bk);                                                           \
    TEST(sqlite_##name)                                                                            \
    {                                                                                              \
        body_##name(BK_SQLITE);                                                                    \
    }                                                                                              \
    TEST(pg_##name)                                                                                \
    {                                                                                              \
        body_##name(BK_PG);                                                                        \
    }                                                                                              \
    static void body_##name(backend bk)

#define OPEN(f, r)                                                                                 \
    fixture f;                                                                                     \
    REQUIRE(fx_new(bk, &f));                                                                       \
    tes_registry *r = NULL;                                                                        \
    CHECK_ERR(tes_registry_open(f.url, &r), TES_OK);                                               \
    if (!r) {                                                                                      \
        fprintf(stderr, "    open %s: %s\n", f.url, tes_err_message());                            \
        fx_done(&f);                                                                               \
        return;                                                                                    \
    }

static const char *const PID = "eu.europa.ec.eudi.pid.1";
static const char *const CLAIMS = "{\"family_name\":\"Mustermann\",\"given_name\":\"Erika\","
                                  "\"birth_date\":\"1984-01-26\"}";

static int has(const char *msg, const char *part)
{
    int ok = msg && strstr(msg, part) != NULL;
    if (!ok)
        fprintf(stderr, "    message \"%s\" lacks \"%s\"\n", msg ? msg : "(null)", part);
    return ok;
}

/* Expects code with a message containing part. */
#define CHECK_FAIL(expr, code, part)                                                               \
    do {                                                                                           \
        CHECK_ERR(expr, code);                                                                     \
        CHECK(has(tes_err_message(), part));                                                       \
    } while (0)

static void thumb(char out[65], unsigned seed)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 64; i++) {
        seed = seed * 1103515245u + 12345u;
        out[i] = hx[(seed >> 16) & 15];
    }
    out[64] = '\0';
}

static int64_t enrol(tes_registry *r)
{
    int64_t id = 0;
    CHECK_ERR(tes_registry_person_add(r, PID, CLAIMS, "clerk", &id), TES_OK);
    return id;
}

/* Issues n credentials with thumbprints derived from seed, all on device dev
 * (NULL: each on its own "device", its thumbprint, as for keys without attestation). */
static tes_err issue_dev(tes_registry *r, int64_t person, const char *uri, size_t size, size_t n,
                         unsigned seed, const char *dev, tes_registry_issued *out)
{
    char th[64][65];
    const char *tp[64], *dv[64];
    if (n > 64)
        return TES_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        thumb(th[i], seed + (unsigned)i);
        tp[i] = th[i];
        dv[i] = dev ? dev : th[i];
    }
    return tes_registry_issue_batch(r, person, PID, 1000, 2000, uri, size, tp, dv, n, out);
}

static tes_err issue(tes_registry *r, int64_t person, const char *uri, size_t size, size_t n,
                     unsigned seed, tes_registry_issued *out)
{
    return issue_dev(r, person, uri, size, n, seed, NULL, out);
}

/* ------------------------------------------------------------ people */

BOTH(enrol_and_get)
{
    OPEN(f, r);
    int64_t a = 0, b = 0;
    CHECK_ERR(tes_registry_person_add(r, PID, CLAIMS, "clerk-1", &a), TES_OK);
    CHECK_ERR(tes_registry_person_add(r, "org.iso.18013.5.1.mDL", "{\"x\":1}", "clerk-2", &b),
              TES_OK);
    CHECK(a > 0 && b > a);
    char *dt = NULL, *cj = NULL;
    CHECK_ERR(tes_registry_person_get(r, a, &dt, &cj), TES_OK);
    CHECK_EQ_STR(dt, PID);
    CHECK_EQ_STR(cj, CLAIMS);
    free(dt);
    free(cj);
    CHECK_FAIL(tes_registry_person_get(r, b + 100, &dt, &cj), TES_ERR_NOT_FOUND, "no person");
    CHECK(dt == NULL && cj == NULL);

    int64_t z = 0;
    CHECK_ERR(tes_registry_person_add(r, PID, "{\"a\":", "clerk", &z), TES_ERR_JSON);
    CHECK_ERR(tes_registry_person_add(r, PID, "[1,2]", "clerk", &z), TES_ERR_JSON);
    CHECK_ERR(tes_registry_person_add(r, PID, "{\"a\":1,\"a\":2}", "clerk", &z), TES_ERR_JSON);
    CHECK_ERR(tes_registry_person_add(r, "", CLAIMS, "clerk", &z), TES_ERR_ARG);
    CHECK_ERR(tes_registry_person_add(r, PID, CLAIMS, NULL, &z), TES_ERR_ARG);

    /* The data survives closing and reopening (and migration runs only once). */
    tes_registry_close(r);
    r = NULL;
    REQUIRE(tes_registry_open(f.url, &r) == TES_OK);
    CHECK_ERR(tes_registry_person_get(r, b, &dt, &cj), TES_OK);
    CHECK_EQ_STR(dt, "org.iso.18013.5.1.mDL");
    CHECK_EQ_STR(cj, "{\"x\":1}");
    free(dt);
    free(cj);

    tes_registry_audit_entry *e = NULL;
    size_t n = 0;
    CHECK_ERR(tes_registry_audit_list(r, &e, &n), TES_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_STR(e[0].action, "enrol");
        CHECK_EQ_STR(e[0].operator_name, "clerk-1");
        CHECK_EQ_STR(e[1].operator_name, "clerk-2");
        CHECK(e[0].id < e[1].id);
        CHECK(e[0].at > 1600000000);
        char want[32];
        snprintf(want, sizeof want, "person %lld", (long long)b);
        CHECK(has(e[1].detail, want));
    }
    tes_registry_audit_free(e, n);
    tes_registry_close(r);
    fx_done(&f);
}

/* ------------------------------------------------------------ offers */

BOTH(offer_wrong_tx_code_then_right)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    char code[64], tx[16], token[64];
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 600, 6, "clerk", code, tx), TES_OK);
    CHECK_EQ_INT(strlen(code), 43);
    CHECK_EQ_INT(strlen(tx), 6);
    CHECK(strspn(tx, "0123456789") == 6);
    CHECK(strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);

    char wrong[16];
    snprintf(wrong, sizeof wrong, "%06d", (atoi(tx) + 1) % 1000000);
    int64_t who = 0;
    CHECK_FAIL(tes_registry_offer_redeem(r, code, wrong, 1001, 300, token, &who), TES_ERR_GRANT,
               "wrong transaction code (4 tries left)");
    CHECK_FAIL(tes_registry_offer_redeem(r, code, "12", 1002, 300, token, &who), TES_ERR_GRANT,
               "wrong transaction code (3 tries left)");
    /* Missing code: refused, but no try is used up. */
    CHECK_FAIL(tes_registry_offer_redeem(r, code, NULL, 1002, 300, token, &who),
               TES_ERR_HTTP_REQUEST, "needs a transaction code");
    CHECK_FAIL(tes_registry_offer_redeem(r, code, "", 1002, 300, token, &who), TES_ERR_HTTP_REQUEST,
               "needs a transaction code");
    CHECK_ERR(tes_registry_offer_redeem(r, code, tx, 1003, 300, token, &who), TES_OK);
    CHECK_EQ_INT(who, p);
    CHECK_EQ_INT(strlen(token), 43);
    CHECK_FAIL(tes_registry_offer_redeem(r, code, tx, 1004, 300, token, &who), TES_ERR_GRANT,
               "already used");
    CHECK_FAIL(tes_registry_offer_redeem(r, "nonsense", tx, 1004, 300, token, &who), TES_ERR_GRANT,
               "unknown pre-authorized code");
    CHECK_FAIL(tes_registry_offer_redeem(r, "", tx, 1004, 300, token, &who), TES_ERR_GRANT,
               "unknown pre-authorized code");

    /* Unknown person, bad arguments. */
    CHECK_FAIL(tes_registry_offer_create(r, p + 99, 1000, 600, 6, "clerk", code, tx),
               TES_ERR_NOT_FOUND, "no person");
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 600, 3, "clerk", code, tx), TES_ERR_ARG);
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 600, 16, "clerk", code, tx), TES_ERR_ARG);
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 0, 6, "clerk", code, tx), TES_ERR_ARG);

    /* No transaction code at all. */
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 600, 0, "clerk", code, tx), TES_OK);
    CHECK_EQ_STR(tx, "");
    CHECK_ERR(tes_registry_offer_redeem(r, code, NULL, 1001, 300, token, &who), TES_OK);

    /* Secrets are stored hashed only. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM offers WHERE code_hash = '%s'", code);
    CHECK_EQ_INT(q_int(&f, sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tokens WHERE token_hash = '%s'", token);
    CHECK_EQ_INT(q_int(&f, sql), 0);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM offers WHERE length(code_hash) = 64"), 2);
    tes_registry_close(r);
    fx_done(&f);
}

BOTH(offer_locked_after_five_wrong_codes)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    char code[64], tx[16], token[64];
    int64_t who = 0;
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 600, 8, "clerk", code, tx), TES_OK);
    char wrong[16];
    snprintf(wrong, sizeof wrong, "%08ld", (atol(tx) + 7) % 100000000);
    for (int i = 0; i < 5; i++) {
        char want[64];
        snprintf(want, sizeof want, "wrong transaction code (%d %s left)", 4 - i,
                 4 - i == 1 ? "try" : "tries");
        CHECK_FAIL(tes_registry_offer_redeem(r, code, wrong, 1001 + i, 300, token, &who),
                   TES_ERR_GRANT, want);
        /* The count is committed: it survives reopening. */
        tes_registry_close(r);
        r = NULL;
        REQUIRE(tes_registry_open(f.url, &r) == TES_OK);
    }
    CHECK_FAIL(tes_registry_offer_redeem(r, code, tx, 1010, 300, token, &who), TES_ERR_GRANT,
               "offer locked after 5 wrong transaction codes");
    CHECK_FAIL(tes_registry_offer_redeem(r, code, wrong, 1010, 300, token, &who), TES_ERR_GRANT,
               "offer locked");
    CHECK_EQ_INT(q_int(&f, "SELECT max(attempts) FROM offers"), 5);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM tokens"), 0);
    tes_registry_close(r);
    fx_done(&f);
}

BOTH(offer_expiry)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    char c1[64], t1[16], c2[64], t2[16], token[64];
    int64_t who = 0;
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 60, 6, "clerk", c1, t1), TES_OK);
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 60, 6, "clerk", c2, t2), TES_OK);
    CHECK(strcmp(c1, c2) != 0);
    CHECK_FAIL(tes_registry_offer_redeem(r, c1, t1, 1060, 300, token, &who), TES_ERR_GRANT,
               "expired");
    /* An expired offer does not count tries either. */
    CHECK_FAIL(tes_registry_offer_redeem(r, c1, "000000", 1061, 300, token, &who), TES_ERR_GRANT,
               "expired");
    CHECK_ERR(tes_registry_offer_redeem(r, c2, t2, 1059, 300, token, &who), TES_OK);
    tes_registry_close(r);
    fx_done(&f);
}

BOTH(tx_codes_are_uniform_digits)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    long hist[10] = {0};
    for (int i = 0; i < 150; i++) {
        char code[64], tx[16];
        CHECK_ERR(tes_registry_offer_create(r, p, 1000, 60, 8, "clerk", code, tx), TES_OK);
        CHECK_EQ_INT(strlen(tx), 8);
        for (int k = 0; tx[k]; k++)
            if (tx[k] >= '0' && tx[k] <= '9')
                hist[tx[k] - '0']++;
    }
    /* 1200 digits, 120 expected each; a bias like "% 10 of a byte" stays far inside. */
    for (int d = 0; d < 10; d++)
        CHECK(hist[d] > 70 && hist[d] < 175);
    tes_registry_close(r);
    fx_done(&f);
}

/* ------------------------------------------------------------ tokens, nonces */

BOTH(token_check_and_expiry)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    char code[64], tx[16], token[64];
    int64_t who = 0;
    CHECK_ERR(tes_registry_offer_create(r, p, 1000, 600, 6, "clerk", code, tx), TES_OK);
    CHECK_ERR(tes_registry_offer_redeem(r, code, tx, 1000, 300, token, &who), TES_OK);
    who = 0;
    CHECK_ERR(tes_registry_token_check(r, token, 1000, &who), TES_OK);
    CHECK_EQ_INT(who, p);
    CHECK_ERR(tes_registry_token_check(r, token, 1299, &who), TES_OK);
    CHECK_FAIL(tes_registry_token_check(r, token, 1300, &who), TES_ERR_TOKEN, "expired");
    CHECK_FAIL(tes_registry_token_check(r, code, 1000, &who), TES_ERR_TOKEN, "unknown");
    CHECK_FAIL(tes_registry_token_check(r, "", 1000, &who), TES_ERR_TOKEN, "unknown");
    token[5] ^= 1;
    CHECK_FAIL(tes_registry_token_check(r, token, 1000, &who), TES_ERR_TOKEN, "unknown");
    tes_registry_close(r);
    fx_done(&f);
}

BOTH(nonce_once)
{
    OPEN(f, r);
    char n1[64], n2[64], n3[64];
    CHECK_ERR(tes_registry_nonce_new(r, 1000, 60, n1), TES_OK);
    CHECK_ERR(tes_registry_nonce_new(r, 1000, 60, n2), TES_OK);
    CHECK_EQ_INT(strlen(n1), 55);
    CHECK(strspn(n1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 55);
    CHECK(strcmp(n1, n2) != 0);
    CHECK_ERR(tes_registry_nonce_consume(r, n1, 1010), TES_OK);
    CHECK_FAIL(tes_registry_nonce_consume(r, n1, 1011), TES_ERR_NONCE, "already used");
    CHECK_FAIL(tes_registry_nonce_consume(r, n2, 1060), TES_ERR_NONCE, "expired");
    CHECK_FAIL(tes_registry_nonce_consume(r, "AAAAAAAAAAAAAAAAAAAAAA", 1010), TES_ERR_NONCE,
               "unknown");
    CHECK_ERR(tes_registry_nonce_consume(r, n2, 1059), TES_OK);
    /* Only used nonces are stored, until they expire: a later use purges them. */
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM nonces"), 2);
    CHECK_ERR(tes_registry_nonce_new(r, 5000, 60, n3), TES_OK);
    CHECK_ERR(tes_registry_nonce_consume(r, n3, 5001), TES_OK);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM nonces"), 1);
    CHECK_FAIL(tes_registry_nonce_consume(r, n1, 5001), TES_ERR_NONCE, "expired");
    CHECK_FAIL(tes_registry_nonce_consume(r, n3, 5002), TES_ERR_NONCE, "already used");
    tes_registry_close(r);
    fx_done(&f);
}

/* /nonce is not a database writer: thousands of nonces add no row; each is
 * good once, at any process on the registry (the key is in the registry),
 * until it expires; a forged or altered one is refused. */
BOTH(nonces_are_stateless)
{
    OPEN(f, r);
    char n[64], first[64] = "";
    for (int i = 0; i < 2000; i++) {
        CHECK_ERR(tes_registry_nonce_new(r, 1000, 60, n), TES_OK);
        if (i == 0)
            memcpy(first, n, sizeof n);
    }
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM nonces"), 0);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM secrets"), 1);
    /* Another connection (another process would do the same) accepts it once. */
    tes_registry *r2 = NULL;
    REQUIRE(tes_registry_open(f.url, &r2) == TES_OK);
    CHECK_ERR(tes_registry_nonce_consume(r2, first, 1001), TES_OK);
    CHECK_FAIL(tes_registry_nonce_consume(r, first, 1002), TES_ERR_NONCE, "already used");
    CHECK_FAIL(tes_registry_nonce_consume(r2, first, 1002), TES_ERR_NONCE, "already used");
    /* Reopened: the key and the used nonce survive. */
    tes_registry_close(r2);
    tes_registry_close(r);
    REQUIRE(tes_registry_open(f.url, &r) == TES_OK);
    CHECK_FAIL(tes_registry_nonce_consume(r, first, 1003), TES_ERR_NONCE, "already used");
    CHECK_ERR(tes_registry_nonce_consume(r, n, 1003), TES_OK);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM nonces"), 2);
    /* Forged: one character of the tag, of the expiry (a longer life), of the random part. */
    char forged[64];
    for (int pos = 0; pos < 3; pos++) {
        CHECK_ERR(tes_registry_nonce_new(r, 1000, 60, n), TES_OK);
        memcpy(forged, n, sizeof n);
        int at = pos == 0 ? 50 : pos == 1 ? 8 : 20;
        forged[at] = forged[at] == 'A' ? 'B' : 'A';
        CHECK_FAIL(tes_registry_nonce_consume(r, forged, 1004), TES_ERR_NONCE,
                   "authentication tag is wrong");
        CHECK_ERR(tes_registry_nonce_consume(r, n, 1004), TES_OK);
    }
    /* Wrong shapes. */
    CHECK_FAIL(tes_registry_nonce_consume(r, "", 1004), TES_ERR_NONCE, "unknown");
    memset(forged, '*', 55);
    forged[55] = '\0';
    CHECK_FAIL(tes_registry_nonce_consume(r, forged, 1004), TES_ERR_NONCE, "unknown");
    /* A key from another registry does not make nonces this one accepts. */
    fixture g;
    REQUIRE(fx_new(bk, &g));
    tes_registry *other = NULL;
    REQUIRE(tes_registry_open(g.url, &other) == TES_OK);
    CHECK_ERR(tes_registry_nonce_new(other, 1000, 60, n), TES_OK);
    CHECK_FAIL(tes_registry_nonce_consume(r, n, 1005), TES_ERR_NONCE, "authentication tag");
    tes_registry_close(other);
    fx_done(&g);
    /* Used nonces go once expired. */
    CHECK_ERR(tes_registry_nonce_new(r, 9000, 60, n), TES_OK);
    CHECK_ERR(tes_registry_nonce_consume(r, n, 9001), TES_OK);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM nonces"), 1);
    tes_registry_close(r);
    fx_done(&f);
}

/* ------------------------------------------------------------ races between connections */

typedef struct {
    const char *url;
    pthread_barrier_t *bar;
    int kind; /* 0 redeem, 1 nonce */
    const char *code, *tx;
    tes_err result;
    char msg[256];
    int64_t who;
} racer;

static void *race_main(void *arg)
{
    racer *x = arg;
    tes_registry *r = NULL;
    tes_err e = tes_registry_open(x->url, &r);
    pthread_barrier_wait(x->bar);
    if (!e) {
        char token[64];
        e = x->kind == 0 ? tes_registry_offer_redeem(r, x->code, x->tx, 1001, 300, token, &x->who)
                         : tes_registry_nonce_consume(r, x->code, 1001);
    }
    x->result = e;
    snprintf(x->msg, sizeof x->msg, "%s", e ? tes_err_message() : "");
    tes_registry_close(r);
    return NULL;
}

static void race(const fixture *f, int kind, const char *code, const char *tx, int *wins,
                 int *losses)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    racer x[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        x[i] = (racer){f->url, &bar, kind, code, tx, TES_OK, "", 0};
        pthread_create(&th[i], NULL, race_main, &x[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < 2; i++) {
        if (x[i].result == TES_OK)
            (*wins)++;
        else if (x[i].result == (kind == 0 ? TES_ERR_GRANT : TES_ERR_NONCE) &&
                 strstr(x[i].msg, "already used"))
            (*losses)++;
        else
            fprintf(stderr, "    racer failed: %s: %s\n", tes_err_name(x[i].result), x[i].msg);
    }
}

BOTH(concurrent_redeem_one_wins)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    for (int round = 0; round < 12; round++) {
        char code[64], tx[16];
        CHECK_ERR(tes_registry_offer_create(r, p, 1000, 600, 6, "clerk", code, tx), TES_OK);
        int wins = 0, losses = 0;
        race(&f, 0, code, tx, &wins, &losses);
        CHECK_EQ_INT(wins, 1);
        CHECK_EQ_INT(losses, 1);
    }
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM tokens"), 12);
    tes_registry_close(r);
    fx_done(&f);
}

BOTH(concurrent_nonce_one_wins)
{
    OPEN(f, r);
    for (int round = 0; round < 12; round++) {
        char n[64];
        CHECK_ERR(tes_registry_nonce_new(r, 1000, 600, n), TES_OK);
        int wins = 0, losses = 0;
        race(&f, 1, n, NULL, &wins, &losses);
        CHECK_EQ_INT(wins, 1);
        CHECK_EQ_INT(losses, 1);
    }
    tes_registry_close(r);
    fx_done(&f);
}

/* ------------------------------------------------------------ issuing */

static int cmp_ll(const void *a, const void *b);

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

BOTH(issue_batch_distinct_indexes)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    const char *uri = "https://authority.example/status/1";
    tes_registry_issued out[64];
    CHECK_ERR(issue(r, p, uri, 1 << 20, 3, 1, out), TES_OK);
    CHECK(out[0].status_idx != out[1].status_idx && out[1].status_idx != out[2].status_idx &&
          out[0].status_idx != out[2].status_idx);
    CHECK(out[0].credential_id > 0 && out[1].credential_id != out[0].credential_id);
    CHECK_EQ_INT(q_int(&f, "SELECT count(DISTINCT batch_id) FROM credentials"), 1);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials WHERE status = 0"), 3);
    /* Random, not in sequence: three consecutive indexes from 2^20 would be a giveaway. */
    uint32_t s[3] = {out[0].status_idx, out[1].status_idx, out[2].status_idx};
    qsort(s, 3, sizeof s[0], cmp_u32);
    CHECK(!(s[1] == s[0] + 1 && s[2] == s[1] + 1));

    /* 500 credentials in a list of 1024: all distinct, all in range. */
    const char *uri2 = "https://authority.example/status/2";
    uint32_t all[500];
    size_t k = 0;
    for (int b = 0; b < 10; b++) {
        CHECK_ERR(issue(r, p, uri2, 1024, 50, 100 + (unsigned)b * 50, out), TES_OK);
        for (int i = 0; i < 50; i++)
            all[k++] = out[i].status_idx;
    }
    qsort(all, k, sizeof all[0], cmp_u32);
    int distinct = 1;
    for (size_t i = 1; i < k; i++)
        distinct &= all[i] != all[i - 1];
    CHECK(distinct);
    CHECK(all[k - 1] < 1024);

    /* A small list filled to the last index (the crowded path picks among the free ones). */
    const char *uri3 = "https://authority.example/status/3";
    uint32_t fill[64];
    for (int i = 0; i < 64; i++) {
        CHECK_ERR(issue(r, p, uri3, 64, 1, 1000 + (unsigned)i, out), TES_OK);
        fill[i] = out[0].status_idx;
    }
    qsort(fill, 64, sizeof fill[0], cmp_u32);
    int each = 1;
    for (uint32_t i = 0; i < 64; i++)
        each &= fill[i] == i;
    CHECK(each);
    CHECK_FAIL(issue(r, p, uri3, 64, 1, 7, out), TES_ERR_STORE, "is full");

    /* Room for part of a batch only: nothing is written. */
    const char *uri4 = "https://authority.example/status/4";
    CHECK_ERR(issue(r, p, uri4, 8, 6, 1, out), TES_OK);
    long long before = q_int(&f, "SELECT count(*) FROM credentials");
    CHECK_FAIL(issue(r, p, uri4, 8, 3, 1, out), TES_ERR_STORE, "is full");
    CHECK_FAIL(issue(r, p, uri4, 8, 9, 1, out), TES_ERR_STORE, "is full");
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials"), before);
    CHECK_ERR(issue(r, p, uri4, 8, 2, 1, out), TES_OK);

    /* Wrong size for a known list, unknown person, bad thumbprint. */
    CHECK_FAIL(issue(r, p, uri2, 2048, 1, 1, out), TES_ERR_ARG, "has 1024 entries");
    CHECK_FAIL(issue(r, p + 50, uri2, 1024, 1, 1, out), TES_ERR_NOT_FOUND, "no person");
    const char *bad[] = {"abc"};
    char good_th[65];
    thumb(good_th, 77);
    const char *good[] = {good_th};
    CHECK_ERR(tes_registry_issue_batch(r, p, PID, 1000, 2000, uri, 1 << 20, bad, good, 1, out),
              TES_ERR_ARG);
    CHECK_FAIL(tes_registry_issue_batch(r, p, PID, 1000, 2000, uri, 1 << 20, good, bad, 1, out),
               TES_ERR_ARG, "device id");
    CHECK_ERR(tes_registry_issue_batch(r, p, PID, 1000, 2000, uri, 1 << 20, good, NULL, 1, out),
              TES_ERR_ARG);
    CHECK_ERR(issue(r, p, uri, 0, 1, 1, out), TES_ERR_ARG);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials"), before + 2);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM status_lists s WHERE used <> (SELECT count(*)"
                           " FROM credentials c WHERE c.list_uri = s.uri)"),
                 0);
    tes_registry_close(r);
    fx_done(&f);
}

/* Several connections issuing into one crowded list at once: every batch succeeds (conflicts
 * are waited for or retried, never reported) and no index is handed out twice. */
enum { ISSUERS = 4, ISSUER_BATCHES = 15, SHARED_LIST = 256 };

typedef struct {
    const char *url;
    int64_t person;
    unsigned seed;
    pthread_barrier_t *bar;
    int failures;
    uint32_t idx[ISSUER_BATCHES * 3];
} issuer_thread;

static void *issuer_main(void *arg)
{
    issuer_thread *t = arg;
    tes_registry *r = NULL;
    tes_err e = tes_registry_open(t->url, &r);
    pthread_barrier_wait(t->bar);
    for (int b = 0; !e && b < ISSUER_BATCHES; b++) {
        tes_registry_issued out[3];
        e = issue(r, t->person, "https://authority.example/status/shared", SHARED_LIST, 3,
                  t->seed + (unsigned)b * 3, out);
        if (e)
            fprintf(stderr, "    issuer: %s: %s\n", tes_err_name(e), tes_err_message());
        for (int i = 0; !e && i < 3; i++)
            t->idx[b * 3 + i] = out[i].status_idx;
    }
    t->failures = e != TES_OK;
    tes_registry_close(r);
    return NULL;
}

BOTH(concurrent_issuers_share_a_list)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, ISSUERS);
    issuer_thread t[ISSUERS];
    pthread_t th[ISSUERS];
    for (int i = 0; i < ISSUERS; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].url = f.url;
        t[i].person = p;
        t[i].seed = (unsigned)i * 1000;
        t[i].bar = &bar;
        pthread_create(&th[i], NULL, issuer_main, &t[i]);
    }
    for (int i = 0; i < ISSUERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    uint32_t all[ISSUERS * ISSUER_BATCHES * 3];
    size_t k = 0;
    int failures = 0;
    for (int i = 0; i < ISSUERS; i++) {
        failures += t[i].failures;
        for (int j = 0; j < ISSUER_BATCHES * 3; j++)
            all[k++] = t[i].idx[j];
    }
    CHECK_EQ_INT(failures, 0);
    qsort(all, k, sizeof all[0], cmp_u32);
    int distinct = 1;
    for (size_t i = 1; i < k; i++)
        distinct &= all[i] != all[i - 1];
    CHECK(distinct);
    CHECK_EQ_INT(q_int(&f, "SELECT used FROM status_lists"), ISSUERS * ISSUER_BATCHES * 3);
    tes_registry_close(r);
    fx_done(&f);
}

/* Many threads of one process, each with its own handle (as the issuer service's workers),
 * doing what a credential request does (nonce, consume it, record a batch) all at once:
 * nothing fails, every credential is there with its own index. On SQLite the writers queue
 * on the in-process write gate: none of them ever meets SQLite's lock, i.e. its busy
 * handler (whose pauses are what made concurrent issuing slow) is not called once. */
enum { WRITERS = 8, WRITER_ROUNDS = 20 };

typedef struct {
    const char *url;
    int64_t person;
    unsigned seed;
    pthread_barrier_t *opened, *go;
    int failures;
    char msg[256];
    uint32_t idx[WRITER_ROUNDS];
    int64_t id[WRITER_ROUNDS];
} writer_thread;

static void *writer_main(void *arg)
{
    writer_thread *t = arg;
    tes_registry *r = NULL;
    tes_err e = tes_registry_open(t->url, &r);
    if (e)
        snprintf(t->msg, sizeof t->msg, "open: %s", tes_err_message());
    pthread_barrier_wait(t->opened);
    pthread_barrier_wait(t->go);
    for (int k = 0; !e && k < WRITER_ROUNDS; k++) {
        char nonce[64];
        tes_registry_issued out[1];
        if (!(e = tes_registry_nonce_new(r, 1000, 600, nonce)) &&
            !(e = tes_registry_nonce_consume(r, nonce, 1001)) &&
            !(e = issue(r, t->person, "https://authority.example/status/writers", 1 << 16, 1,
                        t->seed + (unsigned)k, out))) {
            t->idx[k] = out[0].status_idx;
            t->id[k] = out[0].credential_id;
        }
        if (e)
            snprintf(t->msg, sizeof t->msg, "round %d: %s: %s", k, tes_err_name(e),
                     tes_err_message());
    }
    t->failures = e != TES_OK;
    tes_registry_close(r);
    return NULL;
}

BOTH(many_writers_in_one_process)
{
    OPEN(f, r);
    int64_t p = enrol(r);
    pthread_barrier_t opened, go;
    pthread_barrier_init(&opened, NULL, WRITERS + 1);
    pthread_barrier_init(&go, NULL, WRITERS + 1);
    static writer_thread t[WRITERS];
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        t[i] = (writer_thread){.url = f.url,
                               .person = p,
                               .seed = 5000 + (unsigned)i * 100,
                               .opened = &opened,
                               .go = &go};
        pthread_create(&th[i], NULL, writer_main, &t[i]);
    }
    pthread_barrier_wait(&opened); /* every handle open: count from here */
    reg_sqlite_stats before, after;
    reg_sqlite_stats_get(&before);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_barrier_wait(&go);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    reg_sqlite_stats_get(&after);
    pthread_barrier_destroy(&opened);
    pthread_barrier_destroy(&go);

    int failures = 0;
    uint32_t all[WRITERS * WRITER_ROUNDS];
    size_t k = 0;
    for (int i = 0; i < WRITERS; i++) {
        failures += t[i].failures;
        if (t[i].failures)
            fprintf(stderr, "    writer %d: %s\n", i, t[i].msg);
        for (int j = 0; j < WRITER_ROUNDS; j++)
            all[k++] = t[i].idx[j];
    }
    CHECK_EQ_INT(failures, 0);
    qsort(all, k, sizeof all[0], cmp_u32);
    int distinct = 1;
    for (size_t i = 1; i < k; i++)
        distinct &= all[i] != all[i - 1];
    CHECK(distinct);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials"), WRITERS * WRITER_ROUNDS);
    CHECK_EQ_INT(q_int(&f, "SELECT count(DISTINCT idx) FROM credentials"), WRITERS * WRITER_ROUNDS);
    CHECK_EQ_INT(q_int(&f, "SELECT used FROM status_lists"), WRITERS * WRITER_ROUNDS);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM nonces WHERE used = 1"), WRITERS * WRITER_ROUNDS);
    size_t nids = 0;
    long long *ids = q_ints(&f, "SELECT id FROM credentials ORDER BY id", &nids);
    size_t missing = 0;
    for (int i = 0; i < WRITERS; i++)
        for (int j = 0; j < WRITER_ROUNDS; j++) {
            long long key = t[i].id[j];
            if (!ids || !bsearch(&key, ids, nids, sizeof *ids, cmp_ll))
                missing++;
        }
    CHECK_EQ_INT(missing, 0);
    free(ids);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (bk == BK_SQLITE) {
        fprintf(stderr,
                "    sqlite: %d transactions in %.2f s, %llu waits on the gate, %llu busy "
                "handler calls\n",
                3 * WRITERS * WRITER_ROUNDS, secs,
                (unsigned long long)(after.gate_waits - before.gate_waits),
                (unsigned long long)(after.busy_calls - before.busy_calls));
        CHECK_EQ_INT(after.busy_calls - before.busy_calls, 0);
        CHECK_EQ_INT(after.gate_timeouts - before.gate_timeouts, 0);
        CHECK_EQ_INT(after.gate_late - before.gate_late, 0); /* every waiter was woken */
        /* The threads did contend (else the line above would prove nothing). */
        CHECK(after.gate_waits - before.gate_waits > 0);
    }
    tes_registry_close(r);
    fx_done(&f);
}

/* Several processes, each with several threads, issuing into one list at once: the waits
 * between processes go through SQLite's locks and the busy handler; every batch succeeds,
 * is whole, and no index is handed out twice. */
enum { PROCS = 3, PROC_THREADS = 3, PROC_BATCHES = 15 };

typedef struct {
    const char *url;
    int64_t person;
    unsigned seed;
    int failures;
} proc_thread;

static void *proc_thread_main(void *arg)
{
    proc_thread *t = arg;
    tes_registry *r = NULL;
    tes_err e = tes_registry_open(t->url, &r);
    for (int b = 0; !e && b < PROC_BATCHES; b++) {
        tes_registry_issued out[2];
        e = issue(r, t->person, "https://authority.example/status/procs", 1 << 16, 2,
                  t->seed + (unsigned)b * 2, out);
    }
    if (e)
        fprintf(stderr, "    process %d: %s: %s\n", (int)getpid(), tes_err_name(e),
                tes_err_message());
    t->failures = e != TES_OK;
    tes_registry_close(r);
    return NULL;
}

/* One process's threads; returns the number that failed. */
static int proc_run(const char *url, int64_t person, unsigned seed)
{
    proc_thread t[PROC_THREADS];
    pthread_t th[PROC_THREADS];
    for (int i = 0; i < PROC_THREADS; i++) {
        t[i] = (proc_thread){url, person, seed + (unsigned)i * 1000, 0};
        pthread_create(&th[i], NULL, proc_thread_main, &t[i]);
    }
    int failures = 0;
    for (int i = 0; i < PROC_THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += t[i].failures;
    }
    return failures;
}

BOTH(writers_in_several_processes)
{
    OPEN(f, r);
    int64_t person = enrol(r);
    tes_registry_close(r); /* no connection is carried across fork */
    r = NULL;
    int go[2];
    REQUIRE(pipe(go) == 0);
    pid_t kids[PROCS - 1];
    for (int i = 0; i < PROCS - 1; i++) {
        kids[i] = fork();
        REQUIRE(kids[i] >= 0);
        if (kids[i] == 0) {
            close(go[1]);
            char c;
            while (read(go[0], &c, 1) < 0 && errno == EINTR) {
            }
            _exit(proc_run(f.url, person, 100000 * (unsigned)(i + 1)));
        }
    }
    close(go[0]);
    close(go[1]); /* all start */
    int failures = proc_run(f.url, person, 0);
    for (int i = 0; i < PROCS - 1; i++) {
        int st = 0;
        REQUIRE(waitpid(kids[i], &st, 0) == kids[i]);
        CHECK(WIFEXITED(st));
        failures += WIFEXITED(st) ? WEXITSTATUS(st) : PROC_THREADS;
    }
    CHECK_EQ_INT(failures, 0);
    const long long n = PROCS * PROC_THREADS * PROC_BATCHES * 2;
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials"), n);
    CHECK_EQ_INT(q_int(&f, "SELECT count(DISTINCT idx) FROM credentials"), n);
    CHECK_EQ_INT(q_int(&f, "SELECT used FROM status_lists"), n);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM (SELECT batch_id FROM credentials"
                           " GROUP BY batch_id HAVING count(*) <> 2) t"),
                 0);
    fx_done(&f);
}

/* A write lock held outside the registry for longer than the timeout: a writer gets
 * TES_ERR_BUSY after REG_SQLITE_BUSY_MS (5 s), and so does a second one of the same process
 * queued behind it; its time on the gate counts toward the same 5 s, it does not start them
 * again. Once the lock is gone both handles work. */
typedef struct {
    tes_registry *r;
    pthread_barrier_t *bar;
    tes_err result;
    char msg[256];
    double secs;
} blocked_writer;

static void *blocked_main(void *arg)
{
    blocked_writer *w = arg;
    pthread_barrier_wait(w->bar);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t id = 0; /* a write (making a nonce no longer writes) */
    w->result = tes_registry_person_add(w->r, PID, CLAIMS, "clerk", &id);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    snprintf(w->msg, sizeof w->msg, "%s", w->result ? tes_err_message() : "");
    w->secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return NULL;
}

/* A writer queued on the gate is woken by the release that frees it, not by its deadline:
 * one connection holds a transaction, a second one queues behind it, the first commits and
 * nobody else comes. */
typedef struct gate_follower {
    reg_backend *b;
    tes_err begin, commit;
} gate_follower;

static void *gate_follower_main(void *arg)
{
    gate_follower *g = arg;
    g->begin = g->b->vt->begin(g->b, true);
    g->commit = g->begin == TES_OK ? g->b->vt->commit(g->b) : g->begin;
    return NULL;
}

TEST(sqlite_gate_release_wakes_the_waiter)
{
    backend bk = BK_SQLITE;
    OPEN(f, r);
    tes_registry_close(r);
    reg_backend *b1 = NULL, *b2 = NULL;
    REQUIRE(reg_sqlite_open(f.path, 0, &b1) == TES_OK && reg_sqlite_open(f.path, 0, &b2) == TES_OK);
    bool queued = false;
    /* the follower must have queued before the commit; give it longer on each attempt */
    for (int attempt = 1; attempt <= 5 && !queued; attempt++) {
        reg_sqlite_stats before, after;
        reg_sqlite_stats_get(&before);
        REQUIRE(b1->vt->begin(b1, true) == TES_OK);
        gate_follower g = {.b = b2};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, gate_follower_main, &g) == 0);
        struct timespec ts = {0, 20000000L * attempt};
        nanosleep(&ts, NULL);
        CHECK_ERR(b1->vt->commit(b1), TES_OK);
        pthread_join(th, NULL);
        reg_sqlite_stats_get(&after);
        CHECK_ERR(g.begin, TES_OK);
        CHECK_ERR(g.commit, TES_OK);
        queued = after.gate_waits - before.gate_waits == 1;
        if (queued) {
            CHECK_EQ_INT(after.gate_late - before.gate_late, 0); /* the release woke it */
            CHECK_EQ_INT(after.gate_timeouts - before.gate_timeouts, 0);
            CHECK_EQ_INT(after.busy_calls - before.busy_calls, 0);
        }
    }
    CHECK(queued);
    b1->vt->close(b1);
    b2->vt->close(b2);
    fx_done(&f);
}

TEST(sqlite_busy_beyond_timeout)
{
    backend bk = BK_SQLITE;
    OPEN(f, r);
    tes_registry *r2 = NULL;
    CHECK_ERR(tes_registry_open(f.url, &r2), TES_OK);
    REQUIRE(r2 != NULL);
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open_v2(f.path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);

    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    blocked_writer w[2] = {{.r = r, .bar = &bar}, {.r = r2, .bar = &bar}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, blocked_main, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < 2; i++) {
        fprintf(stderr, "    writer %d: %s after %.2f s: %s\n", i, tes_err_name(w[i].result),
                w[i].secs, w[i].msg);
        CHECK_ERR(w[i].result, TES_ERR_BUSY);
        CHECK(has(w[i].msg, "the database is locked by another process or connection beyond "
                            "5000 ms"));
        CHECK(w[i].secs > 4.9);
        CHECK(w[i].secs < 8.0); /* not 5 s on the gate and 5 more at SQLite's lock */
    }

    REQUIRE(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    int64_t pid = 0;
    CHECK_ERR(tes_registry_person_add(r, PID, CLAIMS, "clerk", &pid), TES_OK);
    CHECK_ERR(tes_registry_person_add(r2, PID, CLAIMS, "clerk", &pid), TES_OK);
    /* Held again, briefly: a writer waits for it instead of failing. */
    REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    pthread_barrier_init(&bar, NULL, 2);
    pthread_create(&th[0], NULL, blocked_main, &w[0]);
    pthread_barrier_wait(&bar);
    usleep(300000);
    REQUIRE(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    pthread_join(th[0], NULL);
    pthread_barrier_destroy(&bar);
    CHECK_ERR(w[0].result, TES_OK);
    CHECK(w[0].secs >= 0.25 && w[0].secs < 4.0);
    sqlite3_close(db);
    tes_registry_close(r2);
    tes_registry_close(r);
    fx_done(&f);
}

/* ------------------------------------------------------------ status and audit */

static int count_action(const tes_registry_audit_entry *e, size_t n, const char *action)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += strcmp(e[i].action, action) == 0;
    return c;
}

BOTH(set_status_and_lists)
{
    OPEN(f, r);
    int64_t a = enrol(r), b = enrol(r);
    const char *uri = "https://authority.example/status/7";
    tes_registry_issued ia[3], ib[2];
    CHECK_ERR(issue(r, a, uri, 4096, 3, 1, ia), TES_OK);
    CHECK_ERR(issue(r, b, uri, 4096, 2, 9, ib), TES_OK);
    size_t changed = 99;

    /* Revoke one of a's credentials. */
    CHECK_ERR(
        tes_registry_set_status(r, ia[0].credential_id, 0, TES_STATUS_REVOKED, "officer", &changed),
        TES_OK);
    CHECK_EQ_INT(changed, 1);
    tes_status_list l = {0};
    CHECK_ERR(tes_registry_status_list(r, uri, 4096, &l), TES_OK);
    CHECK_EQ_INT(l.n, 4096);
    CHECK_EQ_INT(tes_status_list_get(&l, ia[0].status_idx), TES_STATUS_REVOKED);
    CHECK_EQ_INT(tes_status_list_get(&l, ia[1].status_idx), TES_STATUS_VALID);
    tes_status_list_free(&l);

    /* Lost phone: suspend everything of a's; the revoked one stays revoked. */
    CHECK_ERR(tes_registry_set_status(r, 0, a, TES_STATUS_SUSPENDED, "officer", &changed), TES_OK);
    CHECK_EQ_INT(changed, 2);
    CHECK_ERR(tes_registry_set_status(r, 0, a, TES_STATUS_SUSPENDED, "officer", &changed), TES_OK);
    CHECK_EQ_INT(changed, 0);
    CHECK_ERR(tes_registry_status_list(r, uri, 4096, &l), TES_OK);
    CHECK_EQ_INT(tes_status_list_get(&l, ia[0].status_idx), TES_STATUS_REVOKED);
    CHECK_EQ_INT(tes_status_list_get(&l, ia[1].status_idx), TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(tes_status_list_get(&l, ia[2].status_idx), TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(tes_status_list_get(&l, ib[0].status_idx), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&l, ib[1].status_idx), TES_STATUS_VALID);
    tes_status_list_free(&l);

    /* Revoked is final. */
    CHECK_FAIL(
        tes_registry_set_status(r, ia[0].credential_id, 0, TES_STATUS_VALID, "officer", &changed),
        TES_ERR_STATE, "revocation is final");
    CHECK_FAIL(tes_registry_set_status(r, ia[0].credential_id, a, TES_STATUS_SUSPENDED, "officer",
                                       &changed),
               TES_ERR_STATE, "revoked");
    CHECK_ERR(
        tes_registry_set_status(r, ia[0].credential_id, 0, TES_STATUS_REVOKED, "officer", &changed),
        TES_OK);
    CHECK_EQ_INT(changed, 0);

    /* Phone found: reinstate a's credentials; the revoked one is skipped. */
    CHECK_ERR(tes_registry_set_status(r, 0, a, TES_STATUS_VALID, "officer", &changed), TES_OK);
    CHECK_EQ_INT(changed, 2);
    CHECK_ERR(tes_registry_status_list(r, uri, 4096, &l), TES_OK);
    CHECK_EQ_INT(tes_status_list_get(&l, ia[0].status_idx), TES_STATUS_REVOKED);
    CHECK_EQ_INT(tes_status_list_get(&l, ia[1].status_idx), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&l, ia[2].status_idx), TES_STATUS_VALID);
    size_t nonvalid = 0;
    for (size_t i = 0; i < l.n; i++)
        nonvalid += tes_status_list_get(&l, i) != TES_STATUS_VALID;
    CHECK_EQ_INT(nonvalid, 1);
    tes_status_list_free(&l);

    /* Suspend and reinstate a single credential. */
    CHECK_ERR(tes_registry_set_status(r, ib[1].credential_id, b, TES_STATUS_SUSPENDED, "officer",
                                      &changed),
              TES_OK);
    CHECK_EQ_INT(changed, 1);
    CHECK_ERR(tes_registry_set_status(r, ib[1].credential_id, 0, TES_STATUS_VALID, "officer", NULL),
              TES_OK);

    /* Errors: wrong owner, unknown ids, bad arguments. */
    CHECK_FAIL(tes_registry_set_status(r, ib[0].credential_id, a, TES_STATUS_SUSPENDED, "officer",
                                       &changed),
               TES_ERR_NOT_FOUND, "not person");
    CHECK_FAIL(tes_registry_set_status(r, 999999, 0, TES_STATUS_REVOKED, "officer", &changed),
               TES_ERR_NOT_FOUND, "no credential");
    CHECK_FAIL(tes_registry_set_status(r, 0, 999999, TES_STATUS_REVOKED, "officer", &changed),
               TES_ERR_NOT_FOUND, "no person");
    CHECK_ERR(tes_registry_set_status(r, 0, 0, TES_STATUS_REVOKED, "officer", &changed),
              TES_ERR_ARG);
    CHECK_ERR(tes_registry_set_status(r, ia[1].credential_id, 0, TES_STATUS_UNDETERMINED, "officer",
                                      &changed),
              TES_ERR_ARG);
    CHECK_ERR(tes_registry_set_status(r, ia[1].credential_id, 0, TES_STATUS_REVOKED, "", &changed),
              TES_ERR_ARG);

    /* Lists: unknown list is all valid; a known list with another size is refused. */
    CHECK_ERR(tes_registry_status_list(r, "https://authority.example/status/none", 16, &l), TES_OK);
    CHECK_EQ_INT(l.n, 16);
    tes_status_list_free(&l);
    CHECK_ERR(tes_registry_status_list(r, uri, 1024, &l), TES_ERR_ARG);

    /* The audit log: every action, in order, with the ids. */
    tes_registry_audit_entry *e = NULL;
    size_t n = 0;
    CHECK_ERR(tes_registry_audit_list(r, &e, &n), TES_OK);
    /* 2 enrol, revoke x2, suspend x2 + 1 single, reinstate person + single. */
    CHECK_EQ_INT(n, 9);
    CHECK_EQ_INT(count_action(e, n, "enrol"), 2);
    CHECK_EQ_INT(count_action(e, n, "revoke"), 2);
    CHECK_EQ_INT(count_action(e, n, "suspend"), 3);
    CHECK_EQ_INT(count_action(e, n, "reinstate"), 2);
    int ordered = 1;
    for (size_t i = 1; i < n; i++)
        ordered &= e[i].id > e[i - 1].id;
    CHECK(ordered);
    if (n == 9) {
        char want[64];
        snprintf(want, sizeof want, "credential %lld", (long long)ia[0].credential_id);
        CHECK_EQ_STR(e[2].action, "revoke");
        CHECK(has(e[2].detail, want));
        CHECK(has(e[2].detail, "valid -> revoked"));
        CHECK_EQ_STR(e[2].operator_name, "officer");
        CHECK_EQ_STR(e[3].action, "suspend");
        snprintf(want, sizeof want, "%lld, %lld", (long long)ia[1].credential_id,
                 (long long)ia[2].credential_id);
        CHECK(has(e[3].detail, want));
        CHECK(has(e[4].detail, "no credential changed"));
        CHECK_EQ_STR(e[6].action, "reinstate");
        CHECK(has(e[6].detail, "2 credentials set valid"));
    }
    tes_registry_audit_free(e, n);
    tes_registry_close(r);
    fx_done(&f);
}

BOTH(audit_every_operator_action)
{
    OPEN(f, r);
    int64_t p = 0;
    CHECK_ERR(tes_registry_person_add(r, PID, CLAIMS, "alice", &p), TES_OK);
    char code[64], tx[16], token[64];
    int64_t who = 0;
    CHECK_ERR(tes_registry_offer_create(r, p, 1700000000, 600, 6, "bob", code, tx), TES_OK);
    /* Wallet-side steps are not operator actions. */
    CHECK_ERR(tes_registry_offer_redeem(r, code, tx, 1700000001, 300, token, &who), TES_OK);
    tes_registry_issued out[2];
    CHECK_ERR(issue(r, p, "https://a.example/s", 128, 2, 3, out), TES_OK);
    CHECK_ERR(
        tes_registry_set_status(r, out[0].credential_id, 0, TES_STATUS_SUSPENDED, "carol", NULL),
        TES_OK);
    CHECK_ERR(tes_registry_set_status(r, out[0].credential_id, 0, TES_STATUS_VALID, "carol", NULL),
              TES_OK);
    CHECK_ERR(tes_registry_set_status(r, 0, p, TES_STATUS_REVOKED, "dave", NULL), TES_OK);
    /* A failed action leaves no entry. */
    CHECK_ERR(tes_registry_set_status(r, out[1].credential_id, 0, TES_STATUS_VALID, "eve", NULL),
              TES_ERR_STATE);

    tes_registry_audit_entry *e = NULL;
    size_t n = 0;
    CHECK_ERR(tes_registry_audit_list(r, &e, &n), TES_OK);
    static const char *const actions[] = {"enrol", "offer", "suspend", "reinstate", "revoke"};
    static const char *const ops[] = {"alice", "bob", "carol", "carol", "dave"};
    CHECK_EQ_INT(n, 5);
    for (size_t i = 0; i < n && i < 5; i++) {
        CHECK_EQ_STR(e[i].action, actions[i]);
        CHECK_EQ_STR(e[i].operator_name, ops[i]);
        CHECK(e[i].detail && e[i].detail[0]);
        if (i > 0)
            CHECK(e[i].id > e[i - 1].id);
    }
    if (n >= 5) {
        CHECK_EQ_INT(e[1].at, 1700000000);
        char want[64];
        snprintf(want, sizeof want, "person %lld", (long long)p);
        CHECK(has(e[1].detail, want));
        CHECK(has(e[4].detail, "2 credentials set revoked"));
    }
    tes_registry_audit_free(e, n);
    tes_registry_close(r);
    fx_done(&f);
}

/* The registry's own times come from the clock it is opened with, and its
 * codes and tokens from the rng it is opened with: set at chosen instants
 * (2009 and 2011, far from today) and observed in the audit log and the rows. */
BOTH(clock_and_rng_are_the_callers)
{
    fixture f;
    REQUIRE(fx_new(bk, &f));
    int64_t at = 1234567890;
    uint64_t seed = 42;
    tes_clock clk = fixed_clock(&at);
    tes_rng rng = seeded_rng(&seed);
    tes_registry_opts o = {.clock = &clk, .rng = &rng};
    tes_registry *r = NULL;
    REQUIRE(tes_registry_open_with(f.url, &o, &r) == TES_OK);
    CHECK_EQ_INT(q_int(&f, "SELECT min(applied_at) FROM migrations"), 1234567890);
    int64_t p = enrol(r);
    CHECK_EQ_INT(q_int(&f, "SELECT created_at FROM persons"), 1234567890);
    char code[64], tx[16];
    CHECK_ERR(tes_registry_offer_create(r, p, 1234567890, 600, 6, "bob", code, tx), TES_OK);
    at = 1300000000;
    tes_registry_issued out[2];
    CHECK_ERR(issue(r, p, "https://a.example/s", 128, 2, 7, out), TES_OK);
    CHECK_EQ_INT(q_int(&f, "SELECT created_at FROM batches"), 1300000000);
    CHECK_ERR(tes_registry_set_status(r, 0, p, TES_STATUS_SUSPENDED, "carol", NULL), TES_OK);
    CHECK_EQ_INT(q_int(&f, "SELECT withdrawn_at FROM offers"), 1300000000);
    tes_registry_audit_entry *e = NULL;
    size_t n = 0;
    CHECK_ERR(tes_registry_audit_list(r, &e, &n), TES_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(e[0].action, "enrol");
        CHECK_EQ_INT(e[0].at, 1234567890);
        CHECK_EQ_INT(e[1].at, 1234567890); /* the offer's: the `now` it was given */
        CHECK_EQ_STR(e[2].action, "suspend");
        CHECK_EQ_INT(e[2].at, 1300000000);
    }
    tes_registry_audit_free(e, n);
    tes_registry_close(r);
    fx_done(&f);

    /* The same seed in a fresh registry draws the same secrets and indexes. */
    fixture g;
    REQUIRE(fx_new(bk, &g));
    uint64_t seed2 = 42;
    tes_rng rng2 = seeded_rng(&seed2);
    at = 1234567890;
    tes_registry_opts o2 = {.clock = &clk, .rng = &rng2};
    REQUIRE(tes_registry_open_with(g.url, &o2, &r) == TES_OK);
    int64_t p2 = enrol(r);
    char code2[64], tx2[16];
    CHECK_ERR(tes_registry_offer_create(r, p2, 1234567890, 600, 6, "bob", code2, tx2), TES_OK);
    CHECK_EQ_STR(code2, code);
    CHECK_EQ_STR(tx2, tx);
    tes_registry_issued out2[2];
    CHECK_ERR(issue(r, p2, "https://a.example/s", 128, 2, 7, out2), TES_OK);
    CHECK_EQ_INT(out2[0].status_idx, out[0].status_idx);
    CHECK_EQ_INT(out2[1].status_idx, out[1].status_idx);
    tes_registry_close(r);
    fx_done(&g);

    /* A random source that fails: nothing random is made without it. */
    fixture h;
    REQUIRE(fx_new(bk, &h));
    int calls = 0;
    tes_rng bad = failing_rng(&calls);
    tes_registry_opts o3 = {.rng = &bad};
    REQUIRE(tes_registry_open_with(h.url, &o3, &r) == TES_OK);
    int64_t p3 = enrol(r);
    CHECK_ERR(tes_registry_offer_create(r, p3, 1234567890, 600, 6, "bob", code, tx),
              TES_ERR_RANDOM);
    char nonce[64];
    CHECK_ERR(tes_registry_nonce_new(r, 1234567890, 300, nonce), TES_ERR_RANDOM);
    CHECK(calls >= 2);
    tes_registry_close(r);
    fx_done(&h);
}

/* ------------------------------------------------------------ lost phone: devices, recovery */

BOTH(devices_lost_and_found)
{
    OPEN(f, r);
    int64_t a = enrol(r), b = enrol(r);
    const char *uri = "https://authority.example/status/dev";
    char phone1[65], phone2[65], upper[65];
    thumb(phone1, 4242);
    thumb(phone2, 5353);
    tes_registry_issued a1[3], a2[2], b1[1];
    CHECK_ERR(issue_dev(r, a, uri, 4096, 3, 10, phone1, a1), TES_OK); /* a's phone */
    CHECK_ERR(issue_dev(r, a, uri, 4096, 2, 20, phone2, a2), TES_OK); /* a's tablet */
    CHECK_ERR(issue_dev(r, b, uri, 4096, 1, 30, phone1, b1), TES_OK); /* b on a's phone */
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials WHERE device = thumbprint"), 0);
    size_t changed = 99;
    CHECK_ERR(
        tes_registry_set_status(r, a1[0].credential_id, 0, TES_STATUS_REVOKED, "officer", NULL),
        TES_OK);

    /* a's phone lost, reported with a's recovery code: only a's credentials on it. */
    CHECK_ERR(
        tes_registry_set_status_by_device(r, phone1, a, TES_STATUS_SUSPENDED, "holder", &changed),
        TES_OK);
    CHECK_EQ_INT(changed, 2);
    tes_status_list l = {0};
    CHECK_ERR(tes_registry_status_list(r, uri, 4096, &l), TES_OK);
    CHECK_EQ_INT(tes_status_list_get(&l, a1[0].status_idx), TES_STATUS_REVOKED);
    CHECK_EQ_INT(tes_status_list_get(&l, a1[1].status_idx), TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(tes_status_list_get(&l, a1[2].status_idx), TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(tes_status_list_get(&l, a2[0].status_idx), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&l, a2[1].status_idx), TES_STATUS_VALID);
    CHECK_EQ_INT(tes_status_list_get(&l, b1[0].status_idx), TES_STATUS_VALID);
    tes_status_list_free(&l);
    CHECK_ERR(
        tes_registry_set_status_by_device(r, phone1, a, TES_STATUS_SUSPENDED, "holder", &changed),
        TES_OK);
    CHECK_EQ_INT(changed, 0);

    /* At the counter, any person (device id in upper case is the same device). */
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(phone1[i] >= 'a' && phone1[i] <= 'f' ? phone1[i] - 'a' + 'A' : phone1[i]);
    CHECK_ERR(
        tes_registry_set_status_by_device(r, upper, 0, TES_STATUS_SUSPENDED, "officer", &changed),
        TES_OK);
    CHECK_EQ_INT(changed, 1); /* b's */
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials WHERE status = 2"), 3);

    /* Found: reinstate the phone; the revoked one stays revoked, the tablet untouched. */
    CHECK_ERR(
        tes_registry_set_status_by_device(r, phone1, 0, TES_STATUS_VALID, "officer", &changed),
        TES_OK);
    CHECK_EQ_INT(changed, 3);
    CHECK_ERR(tes_registry_status_list(r, uri, 4096, &l), TES_OK);
    CHECK_EQ_INT(tes_status_list_get(&l, a1[0].status_idx), TES_STATUS_REVOKED);
    size_t nonvalid = 0;
    for (size_t i = 0; i < l.n; i++)
        nonvalid += tes_status_list_get(&l, i) != TES_STATUS_VALID;
    CHECK_EQ_INT(nonvalid, 1);
    tes_status_list_free(&l);
    /* Revoking a device revokes for good. */
    CHECK_ERR(
        tes_registry_set_status_by_device(r, phone2, a, TES_STATUS_REVOKED, "officer", &changed),
        TES_OK);
    CHECK_EQ_INT(changed, 2);
    CHECK_ERR(
        tes_registry_set_status_by_device(r, phone2, 0, TES_STATUS_VALID, "officer", &changed),
        TES_OK);
    CHECK_EQ_INT(changed, 0);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials WHERE status = 1"), 3);

    /* Errors. */
    char nowhere[65];
    thumb(nowhere, 999);
    CHECK_FAIL(
        tes_registry_set_status_by_device(r, nowhere, 0, TES_STATUS_SUSPENDED, "officer", &changed),
        TES_ERR_NOT_FOUND, "no credential is bound");
    CHECK_FAIL(
        tes_registry_set_status_by_device(r, phone2, b, TES_STATUS_SUSPENDED, "officer", &changed),
        TES_ERR_NOT_FOUND, "no credential of person");
    CHECK_FAIL(tes_registry_set_status_by_device(r, phone1, 999999, TES_STATUS_SUSPENDED, "officer",
                                                 &changed),
               TES_ERR_NOT_FOUND, "no person");
    CHECK_ERR(
        tes_registry_set_status_by_device(r, "abc", 0, TES_STATUS_SUSPENDED, "officer", &changed),
        TES_ERR_ARG);
    CHECK_ERR(tes_registry_set_status_by_device(r, phone1, 0, TES_STATUS_UNDETERMINED, "officer",
                                                &changed),
              TES_ERR_ARG);
    CHECK_ERR(tes_registry_set_status_by_device(r, phone1, 0, TES_STATUS_SUSPENDED, "", &changed),
              TES_ERR_ARG);

    /* Audited: 2 enrol, 1 revoke + 1 device revoke, 3 suspend, 2 reinstate (one changing nothing).
     */
    tes_registry_audit_entry *e = NULL;
    size_t n = 0;
    CHECK_ERR(tes_registry_audit_list(r, &e, &n), TES_OK);
    CHECK_EQ_INT(n, 9);
    CHECK_EQ_INT(count_action(e, n, "suspend"), 3);
    CHECK_EQ_INT(count_action(e, n, "reinstate"), 2);
    if (n == 9) {
        CHECK_EQ_STR(e[3].operator_name, "holder");
        char want[128];
        snprintf(want, sizeof want, "device %s, person %lld: 2 credentials set suspended", phone1,
                 (long long)a);
        CHECK(has(e[3].detail, want));
        CHECK(has(e[4].detail, "no credential changed"));
    }
    tes_registry_audit_free(e, n);
    tes_registry_close(r);
    fx_done(&f);
}

BOTH(recovery_codes)
{
    OPEN(f, r);
    int64_t a = enrol(r), b = enrol(r), who = 0;
    char ca[32], cb[32], again[32];
    CHECK_ERR(tes_registry_recovery_set(r, a, 1700000000, ca), TES_OK);
    CHECK_ERR(tes_registry_recovery_set(r, b, 1700000000, cb), TES_OK);
    /* ABCD-EFGH-JKLM-NPQR: 4 groups of 4 symbols, no 0/O/1/I */
    CHECK_EQ_INT(strlen(ca), 19);
    int shape = 1;
    for (int i = 0; i < 19; i++)
        shape &=
            (i % 5 == 4) ? ca[i] == '-' : strchr("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", ca[i]) != NULL;
    CHECK(shape);
    CHECK(strcmp(ca, cb) != 0);
    CHECK_ERR(tes_registry_recovery_check(r, ca, &who), TES_OK);
    CHECK_EQ_INT(who, a);
    CHECK_ERR(tes_registry_recovery_check(r, cb, &who), TES_OK);
    CHECK_EQ_INT(who, b);
    /* case, dashes and blanks do not matter */
    char loose[40];
    size_t k = 0;
    for (int i = 0; i < 19; i++)
        if (ca[i] != '-') {
            loose[k++] = (char)(ca[i] >= 'A' && ca[i] <= 'Z' ? ca[i] - 'A' + 'a' : ca[i]);
            if (k == 6)
                loose[k++] = ' ';
        }
    loose[k] = '\0';
    CHECK_ERR(tes_registry_recovery_check(r, loose, &who), TES_OK);
    CHECK_EQ_INT(who, a);
    /* wrong, malformed */
    char wrong[32];
    memcpy(wrong, ca, sizeof wrong);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    CHECK_FAIL(tes_registry_recovery_check(r, wrong, &who), TES_ERR_GRANT, "unknown recovery code");
    CHECK_EQ_INT(who, 0);
    CHECK_ERR(tes_registry_recovery_check(r, "", &who), TES_ERR_GRANT);
    CHECK_ERR(tes_registry_recovery_check(r, "ABCD-EFGH-JKLM-NPQR-STUV", &who), TES_ERR_GRANT);
    CHECK_ERR(tes_registry_recovery_check(r, "0000-0000-0000-0000", &who), TES_ERR_GRANT);
    /* a new code replaces the old one */
    CHECK_ERR(tes_registry_recovery_set(r, a, 1700000100, again), TES_OK);
    CHECK_ERR(tes_registry_recovery_check(r, ca, &who), TES_ERR_GRANT);
    CHECK_ERR(tes_registry_recovery_check(r, again, &who), TES_OK);
    CHECK_EQ_INT(who, a);
    CHECK_ERR(tes_registry_recovery_set(r, 999999, 1700000000, wrong), TES_ERR_NOT_FOUND);
    /* hashes only */
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM recovery"), 2);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM recovery WHERE length(code_hash) = 64"
                           " AND code_hash NOT LIKE '%-%'"),
                 2);
    tes_registry_close(r);
    fx_done(&f);
}

/* Runs SQL (several statements) on the fixture's database directly. */
static int q_exec(const fixture *f, const char *sql)
{
    int ok = 0;
    if (f->bk == BK_SQLITE) {
        sqlite3 *db = NULL;
        char *err = NULL;
        ok = sqlite3_open(f->path, &db) == SQLITE_OK &&
             sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK;
        if (!ok)
            fprintf(stderr, "    sqlite: %s\n", err ? err : "?");
        sqlite3_free(err);
        sqlite3_close(db);
    } else {
        PGconn *c = PQconnectdb(f->url);
        PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
        ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "    pg: %s\n", r ? PQresultErrorMessage(r) : "no conn");
        PQclear(r);
        PQfinish(c);
    }
    return ok;
}

/* A registry written by the first release (schema v1) is migrated on open (to v3):
 * its credentials get their thumbprint as device, recovery codes work, its
 * people are valid. */
BOTH(migrates_v1_to_v2)
{
    fixture f;
    REQUIRE(fx_new(bk, &f));
    char th[65];
    thumb(th, 31337);
    char sql[4096];
    REQUIRE(q_exec(&f, bk == BK_SQLITE ? reg_migrations_sqlite[0] : reg_migrations_pg[0]));
    snprintf(sql, sizeof sql,
             "INSERT INTO migrations(version, applied_at) VALUES (1, 1600000000);"
             "INSERT INTO persons(doctype, claims, created_at) VALUES ('%s', '{}', 1);"
             "INSERT INTO status_lists(uri, size, used) VALUES ('https://a.example/s', 64, 1);"
             "INSERT INTO batches(person_id, copies, created_at) VALUES (1, 1, 1);"
             "INSERT INTO credentials(person_id, batch_id, doctype, valid_from, valid_until,"
             " thumbprint, status, list_uri, idx) VALUES (1, 1, '%s', 1, 2, '%s', 0,"
             " 'https://a.example/s', 7);%s",
             PID, PID, th,
             bk == BK_SQLITE ? "PRAGMA user_version = 1; PRAGMA application_id = 1413829458;" : "");
    REQUIRE(q_exec(&f, sql));
    CHECK_EQ_INT(q_int(&f, "SELECT max(version) FROM migrations"), 1);

    tes_registry *r = NULL;
    CHECK_ERR(tes_registry_open(f.url, &r), TES_OK);
    if (r) {
        CHECK_EQ_INT(q_int(&f, "SELECT max(version) FROM migrations"), 3);
        CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM credentials WHERE device = thumbprint"), 1);
        CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM persons WHERE state = 0"), 1);
        size_t changed = 0;
        CHECK_ERR(
            tes_registry_set_status_by_device(r, th, 1, TES_STATUS_SUSPENDED, "officer", &changed),
            TES_OK);
        CHECK_EQ_INT(changed, 1);
        char code[32];
        int64_t who = 0;
        CHECK_ERR(tes_registry_recovery_set(r, 1, 1700000000, code), TES_OK);
        CHECK_ERR(tes_registry_recovery_check(r, code, &who), TES_OK);
        CHECK_EQ_INT(who, 1);
        tes_registry_issued out[2];
        CHECK_ERR(issue(r, 1, "https://a.example/s", 64, 2, 5, out), TES_OK);
        tes_registry_close(r);
        /* opened again: nothing to migrate */
        CHECK_ERR(tes_registry_open(f.url, &r), TES_OK);
        tes_registry_close(r);
        CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM migrations"), 3);
        if (bk == BK_SQLITE)
            CHECK_EQ_INT(q_int(&f, "PRAGMA user_version"), 3);
    }
    fx_done(&f);
}

/* ------------------------------------------------------------ revocation stops issuance */

/* An offer for person p, redeemed: its access token into tok. */
static void offer_token(tes_registry *r, int64_t p, int64_t now, char tok[64])
{
    char code[64], tx[16];
    int64_t who = 0;
    tok[0] = '\0';
    CHECK_ERR(tes_registry_offer_create(r, p, now, 600, 6, "clerk", code, tx), TES_OK);
    CHECK_ERR(tes_registry_offer_redeem(r, code, tx, now, 300, tok, &who), TES_OK);
    CHECK_EQ_INT(who, p);
}

static const char *const SERIES = "https://authority.example/status/";

/* n credentials for the holder of tok, each key on device dev (NULL: its own). */
static tes_err issue_tok(tes_registry *r, const char *tok, int64_t now, size_t n, unsigned seed,
                         const char *dev, const tes_registry_budget *bud, size_t list_size,
                         char list_uri[TES_REGISTRY_URI_MAX])
{
    char th[16][65], uri[TES_REGISTRY_URI_MAX];
    const char *tp[16], *dv[16];
    tes_registry_issued out[16];
    if (n > 16)
        return TES_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        thumb(th[i], seed + (unsigned)i);
        tp[i] = th[i];
        dv[i] = dev ? dev : th[i];
    }
    return tes_registry_issue_for_token(r, tok, now, PID, 1000, 2000, SERIES, list_size, bud, tp,
                                        dv, n, out, list_uri ? list_uri : uri);
}

static long long creds_of(const fixture *f, int64_t p, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM credentials WHERE person_id = %lld%s",
             (long long)p, where);
    return q_int(f, sql);
}

BOTH(revocation_stops_issuance)
{
    OPEN(f, r);
    const int64_t now = 1700000000;
    size_t changed = 0;

    /* Revoked: the unexpired token, the open offer, a new offer, the old API. */
    int64_t p = enrol(r);
    char tok[64], code[64], tx[16], tok2[64];
    int64_t who = 0;
    offer_token(r, p, now, tok);
    CHECK_ERR(tes_registry_offer_create(r, p, now, 600, 6, "clerk", code, tx), TES_OK);
    CHECK_ERR(issue_tok(r, tok, now, 2, 1, NULL, NULL, 1024, NULL), TES_OK);
    CHECK_ERR(tes_registry_set_status(r, 0, p, TES_STATUS_REVOKED, "officer", &changed), TES_OK);
    CHECK_EQ_INT(changed, 2);
    CHECK_FAIL(tes_registry_token_check(r, tok, now + 1, &who), TES_ERR_TOKEN, "withdrawn");
    CHECK_FAIL(issue_tok(r, tok, now + 1, 3, 10, NULL, NULL, 1024, NULL), TES_ERR_TOKEN,
               "withdrawn");
    CHECK_EQ_INT(creds_of(&f, p, ""), 2);
    CHECK_FAIL(tes_registry_offer_redeem(r, code, tx, now + 1, 300, tok2, &who), TES_ERR_GRANT,
               "withdrawn");
    CHECK_FAIL(tes_registry_offer_create(r, p, now, 600, 6, "clerk", code, tx), TES_ERR_STATE,
               "revoked");
    CHECK_FAIL(tes_registry_set_status(r, 0, p, TES_STATUS_VALID, "officer", &changed),
               TES_ERR_STATE, "revocation is final");
    CHECK_FAIL(tes_registry_set_status(r, 0, p, TES_STATUS_SUSPENDED, "officer", &changed),
               TES_ERR_STATE, "revocation is final");
    tes_registry_issued out[4];
    CHECK_FAIL(issue(r, p, "https://authority.example/other", 64, 1, 50, out), TES_ERR_DENIED,
               "revoked");
    CHECK_EQ_INT(creds_of(&f, p, ""), 2);
    /* The audit entry says what was withdrawn. */
    tes_registry_audit_entry *e = NULL;
    size_t n = 0;
    CHECK_ERR(tes_registry_audit_list(r, &e, &n), TES_OK);
    CHECK(n > 0 && has(e[n - 1].detail, "1 open offer and 1 access token withdrawn"));
    tes_registry_audit_free(e, n);

    /* Suspended: the same; reinstated: a new offer works, the old token stays dead. */
    int64_t q = enrol(r);
    char tq[64], tq2[64], cq[64], txq[16];
    offer_token(r, q, now, tq);
    CHECK_ERR(tes_registry_offer_create(r, q, now, 600, 6, "clerk", cq, txq), TES_OK);
    CHECK_ERR(tes_registry_set_status(r, 0, q, TES_STATUS_SUSPENDED, "officer", NULL), TES_OK);
    CHECK_FAIL(issue_tok(r, tq, now + 1, 1, 20, NULL, NULL, 1024, NULL), TES_ERR_TOKEN,
               "withdrawn");
    CHECK_FAIL(tes_registry_offer_redeem(r, cq, txq, now + 1, 300, tok2, &who), TES_ERR_GRANT,
               "withdrawn");
    CHECK_FAIL(tes_registry_offer_create(r, q, now, 600, 6, "clerk", code, tx), TES_ERR_STATE,
               "suspended");
    CHECK_FAIL(issue(r, q, "https://authority.example/other", 64, 1, 60, out), TES_ERR_DENIED,
               "suspended");
    CHECK_ERR(tes_registry_set_status(r, 0, q, TES_STATUS_VALID, "officer", NULL), TES_OK);
    CHECK_FAIL(issue_tok(r, tq, now + 2, 1, 20, NULL, NULL, 1024, NULL), TES_ERR_TOKEN,
               "withdrawn");
    CHECK_FAIL(tes_registry_offer_redeem(r, cq, txq, now + 2, 300, tok2, &who), TES_ERR_GRANT,
               "withdrawn");
    offer_token(r, q, now + 2, tq2);
    CHECK_ERR(issue_tok(r, tq2, now + 2, 2, 30, NULL, NULL, 1024, NULL), TES_OK);
    CHECK_EQ_INT(creds_of(&f, q, " AND status = 0"), 2);

    /* A lost phone (by device): the holder's tokens and offers withdrawn, nothing more
     * issued onto that phone; a new offer onto another phone works. */
    int64_t d = enrol(r), other = enrol(r);
    char phone[65], tablet[65], td[64], td2[64], to[64];
    thumb(phone, 777);
    thumb(tablet, 888);
    offer_token(r, d, now, td);
    offer_token(r, other, now, to);
    CHECK_ERR(issue_tok(r, td, now, 2, 40, phone, NULL, 1024, NULL), TES_OK);
    CHECK_ERR(tes_registry_offer_create(r, d, now, 600, 6, "clerk", code, tx), TES_OK);
    CHECK_ERR(tes_registry_set_status_by_device(r, phone, d, TES_STATUS_SUSPENDED, "holder",
                                                &changed),
              TES_OK);
    CHECK_EQ_INT(changed, 2);
    CHECK_FAIL(issue_tok(r, td, now + 1, 1, 45, tablet, NULL, 1024, NULL), TES_ERR_TOKEN,
               "withdrawn");
    CHECK_FAIL(tes_registry_offer_redeem(r, code, tx, now + 1, 300, tok2, &who), TES_ERR_GRANT,
               "withdrawn");
    offer_token(r, d, now + 1, td2); /* the person is valid: the counter can make a new offer */
    CHECK_FAIL(issue_tok(r, td2, now + 1, 1, 46, phone, NULL, 1024, NULL), TES_ERR_DENIED,
               "reported lost");
    CHECK_ERR(issue_tok(r, td2, now + 1, 1, 47, tablet, NULL, 1024, NULL), TES_OK);
    /* only d is blocked on that phone; then the phone for anyone */
    CHECK_ERR(issue_tok(r, to, now + 1, 1, 48, phone, NULL, 1024, NULL), TES_OK);
    CHECK_ERR(tes_registry_set_status_by_device(r, phone, 0, TES_STATUS_SUSPENDED, "officer",
                                                &changed),
              TES_OK);
    CHECK_FAIL(issue_tok(r, to, now + 1, 1, 49, tablet, NULL, 1024, NULL), TES_ERR_TOKEN,
               "withdrawn"); /* other's token too: other had a credential on the phone */
    char to2[64];
    offer_token(r, other, now + 1, to2);
    CHECK_FAIL(issue_tok(r, to2, now + 1, 1, 50, phone, NULL, 1024, NULL), TES_ERR_DENIED,
               "reported lost");
    /* Found: reinstated for anyone; d's token made before stays withdrawn. */
    CHECK_ERR(tes_registry_set_status_by_device(r, phone, 0, TES_STATUS_VALID, "officer", NULL),
              TES_OK);
    CHECK_ERR(issue_tok(r, to2, now + 2, 1, 51, phone, NULL, 1024, NULL), TES_OK);
    CHECK_FAIL(issue_tok(r, td, now + 2, 1, 52, phone, NULL, 1024, NULL), TES_ERR_TOKEN,
               "withdrawn");
    /* A revoked phone is never unblocked. */
    CHECK_ERR(tes_registry_set_status_by_device(r, phone, 0, TES_STATUS_REVOKED, "officer", NULL),
              TES_OK);
    CHECK_ERR(tes_registry_set_status_by_device(r, phone, 0, TES_STATUS_VALID, "officer", NULL),
              TES_OK);
    char to3[64];
    offer_token(r, other, now + 3, to3);
    CHECK_FAIL(issue_tok(r, to3, now + 3, 1, 53, phone, NULL, 1024, NULL), TES_ERR_DENIED,
               "revoked");
    tes_registry_close(r);
    fx_done(&f);
}

/* A revocation racing an issuer on another connection: whatever the interleaving, no
 * credential of the person is left valid (the check is inside the issuing transaction). */
typedef struct {
    const char *url, *tok;
    pthread_barrier_t *bar;
    int issued, refused, other;
} race_issuer;

static void *race_issuer_main(void *arg)
{
    race_issuer *t = arg;
    tes_registry *r = NULL;
    tes_err e = tes_registry_open(t->url, &r);
    pthread_barrier_wait(t->bar);
    for (unsigned i = 0; !e && i < 400; i++) {
        e = issue_tok(r, t->tok, 1700000000, 2, 1000 + 2 * i, NULL, NULL, 1 << 16, NULL);
        if (!e)
            t->issued++;
    }
    if (e == TES_ERR_TOKEN || e == TES_ERR_DENIED)
        t->refused++;
    else if (e)
        t->other++, fprintf(stderr, "    issuer: %s: %s\n", tes_err_name(e), tes_err_message());
    tes_registry_close(r);
    return NULL;
}

BOTH(revocation_races_issuance)
{
    OPEN(f, r);
    for (int round = 0; round < 3; round++) {
        int64_t p = enrol(r);
        char tok[64];
        offer_token(r, p, 1700000000, tok);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        race_issuer t = {f.url, tok, &bar, 0, 0, 0};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, race_issuer_main, &t) == 0);
        pthread_barrier_wait(&bar);
        usleep(20000 * (useconds_t)round);
        CHECK_ERR(tes_registry_set_status(r, 0, p, round == 1 ? TES_STATUS_SUSPENDED
                                                              : TES_STATUS_REVOKED,
                                          "officer", NULL),
                  TES_OK);
        pthread_join(th, NULL);
        pthread_barrier_destroy(&bar);
        CHECK_EQ_INT(t.other, 0);
        CHECK_EQ_INT(t.refused, 1);
        CHECK_EQ_INT(creds_of(&f, p, ""), 2 * t.issued);
        CHECK_EQ_INT(creds_of(&f, p, " AND status = 0"), 0);
    }
    tes_registry_close(r);
    fx_done(&f);
}

/* ------------------------------------------------------------ budgets, list rollover */

BOTH(budgets_survive_restart)
{
    OPEN(f, r);
    const int64_t now = 1700000000;
    const tes_registry_budget bud = {.per_offer = 5, .per_person = 8, .period = 100};
    int64_t p = enrol(r);
    char t1[64], t2[64];
    offer_token(r, p, now, t1);
    CHECK_ERR(issue_tok(r, t1, now, 2, 1, NULL, &bud, 1024, NULL), TES_OK);
    /* A second connection (as another process) shares the budget. */
    tes_registry *r2 = NULL;
    REQUIRE(tes_registry_open(f.url, &r2) == TES_OK);
    CHECK_ERR(issue_tok(r2, t1, now, 2, 3, NULL, &bud, 1024, NULL), TES_OK);
    CHECK_FAIL(issue_tok(r, t1, now, 2, 5, NULL, &bud, 1024, NULL), TES_ERR_BUDGET,
               "this offer has obtained 4 of its 5 credentials");
    CHECK_ERR(issue_tok(r2, t1, now, 1, 7, NULL, &bud, 1024, NULL), TES_OK);
    CHECK_EQ_INT(creds_of(&f, p, ""), 5);
    /* Closed and reopened: still spent. */
    tes_registry_close(r2);
    tes_registry_close(r);
    REQUIRE(tes_registry_open(f.url, &r) == TES_OK);
    CHECK_FAIL(issue_tok(r, t1, now + 1, 1, 8, NULL, &bud, 1024, NULL), TES_ERR_BUDGET,
               "5 of its 5");
    /* A second offer: the person's budget (8 in 100 s) is the limit now. */
    offer_token(r, p, now + 1, t2);
    CHECK_ERR(issue_tok(r, t2, now + 1, 3, 9, NULL, &bud, 1024, NULL), TES_OK);
    CHECK_FAIL(issue_tok(r, t2, now + 2, 1, 12, NULL, &bud, 1024, NULL), TES_ERR_BUDGET,
               "obtained 8 credentials in the last 100 seconds");
    CHECK_EQ_INT(creds_of(&f, p, ""), 8);
    /* The window slides: 100 s after the first batches there is room again. */
    CHECK_ERR(issue_tok(r, t2, now + 101, 1, 13, NULL, &bud, 1024, NULL), TES_OK);
    CHECK_EQ_INT(creds_of(&f, p, ""), 9);
    /* No budget given: none applies. */
    offer_token(r, p, now + 101, t2);
    CHECK_ERR(issue_tok(r, t2, now + 101, 9, 20, NULL, NULL, 1024, NULL), TES_OK);
    tes_registry_close(r);
    fx_done(&f);
}

BOTH(status_lists_roll_over)
{
    OPEN(f, r);
    const int64_t now = 1700000000;
    int64_t p = enrol(r), cur = -1;
    char tok[64], uri[TES_REGISTRY_URI_MAX], want[TES_REGISTRY_URI_MAX];
    offer_token(r, p, now, tok);
    CHECK_ERR(tes_registry_status_series(r, SERIES, &cur), TES_OK);
    CHECK_EQ_INT(cur, 0);
    /* Lists of 4: batches of 3, then 1, then 3 -> lists 1, 1, 2 */
    CHECK_ERR(issue_tok(r, tok, now, 3, 1, NULL, NULL, 4, uri), TES_OK);
    snprintf(want, sizeof want, "%s1", SERIES);
    CHECK_EQ_STR(uri, want);
    CHECK_ERR(issue_tok(r, tok, now, 1, 4, NULL, NULL, 4, uri), TES_OK);
    CHECK_EQ_STR(uri, want);
    CHECK_ERR(issue_tok(r, tok, now, 3, 5, NULL, NULL, 4, uri), TES_OK);
    snprintf(want, sizeof want, "%s2", SERIES);
    CHECK_EQ_STR(uri, want);
    /* reopened: the series goes on where it was */
    tes_registry_close(r);
    REQUIRE(tes_registry_open(f.url, &r) == TES_OK);
    CHECK_ERR(tes_registry_status_series(r, SERIES, &cur), TES_OK);
    CHECK_EQ_INT(cur, 2);
    for (int i = 0; i < 5; i++)
        CHECK_ERR(issue_tok(r, tok, now, 2, 10 + 2 * (unsigned)i, NULL, NULL, 4, uri), TES_OK);
    snprintf(want, sizeof want, "%s5", SERIES);
    CHECK_EQ_STR(uri, want); /* list 2 (3 used) has no room for 2: lists 3, 3, 4, 4, 5 */
    CHECK_ERR(tes_registry_status_series(r, SERIES, &cur), TES_OK);
    CHECK_EQ_INT(cur, 5);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM status_lists WHERE used > size"), 0);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM status_lists"), 5);
    /* each list publishes its own entries */
    tes_status_list l = {0};
    size_t revoked = 0;
    CHECK_ERR(tes_registry_set_status(r, 0, p, TES_STATUS_REVOKED, "officer", NULL), TES_OK);
    for (int k = 1; k <= 5; k++) {
        snprintf(want, sizeof want, "%s%d", SERIES, k);
        CHECK_ERR(tes_registry_status_list(r, want, 4, &l), TES_OK);
        for (size_t i = 0; i < l.n; i++)
            revoked += tes_status_list_get(&l, i) == TES_STATUS_REVOKED;
        tes_status_list_free(&l);
    }
    CHECK_EQ_INT(revoked, 17);
    /* a batch larger than a list never fits; another size for the series is refused */
    offer_token(r, enrol(r), now, tok);
    CHECK_FAIL(issue_tok(r, tok, now, 5, 40, NULL, NULL, 4, uri), TES_ERR_STORE, "is full");
    CHECK_FAIL(issue_tok(r, tok, now, 1, 40, NULL, NULL, 8, uri), TES_ERR_ARG, "have 4 entries");
    tes_registry_close(r);
    fx_done(&f);
}

/* ------------------------------------------------------------ opening */

TEST(sqlite_refuses_foreign_files)
{
    fixture f;
    REQUIRE(fx_new(BK_SQLITE, &f));
    FILE *fp = fopen(f.path, "w");
    REQUIRE(fp != NULL);
    fputs("this is not a database, it is a shopping list\n", fp);
    fclose(fp);
    tes_registry *r = NULL;
    CHECK_ERR(tes_registry_open(f.path, &r), TES_ERR_STORE_CORRUPT);
    unlink(f.path);

    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(f.path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_ERR(tes_registry_open(f.url, &r), TES_ERR_STORE_CORRUPT);
    CHECK(r == NULL);
    CHECK_ERR(tes_registry_open("sqlite:", &r), TES_ERR_ARG);
    fx_done(&f);
}

TEST(pg_unreachable_server_is_a_store_error)
{
    tes_registry *r = NULL;
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/x?connect_timeout=2",
             free_port());
    CHECK_FAIL(tes_registry_open(url, &r), TES_ERR_STORE, "cannot connect");
    CHECK(r == NULL);
}

/* ------------------------------------------------------------ SIGKILL during issuance */

enum { KILL_ITERATIONS = 40, KILL_LIST = 1 << 16 };
static const char *const KILL_URI = "https://authority.example/status/kill";

static void kill_child(const char *url, int64_t person, int fd)
{
    tes_registry *r = NULL;
    if (tes_registry_open(url, &r) != TES_OK)
        _exit(3);
    int64_t zero = 0;
    if (write(fd, &zero, sizeof zero) != (ssize_t)sizeof zero)
        _exit(4);
    for (unsigned k = 0;; k++) {
        tes_registry_issued out[3];
        if (issue(r, person, KILL_URI, KILL_LIST, 3, k * 3, out) != TES_OK)
            _exit(5);
        int64_t ids[3] = {out[0].credential_id, out[1].credential_id, out[2].credential_id};
        if (write(fd, ids, sizeof ids) != (ssize_t)sizeof ids) /* atomic: < PIPE_BUF */
            _exit(6);
    }
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

BOTH(killed_issuer_leaves_whole_batches)
{
    OPEN(f, r);
    int64_t person = enrol(r);
    tes_registry_close(r); /* no connection is carried across fork */
    r = NULL;

    int64_t *reported = calloc(200000, sizeof *reported);
    REQUIRE(reported != NULL);
    size_t nrep = 0;
    int killed = 0, bad_exit = 0;
    for (int i = 0; i < KILL_ITERATIONS; i++) {
        int p[2];
        REQUIRE(pipe(p) == 0);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            kill_child(f.url, person, p[1]);
            _exit(7);
        }
        close(p[1]);
        /* Every eighth child is killed counting from fork (also while connecting), the
         * next one as soon as it is connected; the others only after they have reported
         * a first committed batch, so the kills land inside later issue_batch calls
         * however slow the machine (or the sanitizer) makes the first one. */
        if (i % 8 != 0) {
            int64_t ready = -1;
            ssize_t got;
            while ((got = read(p[0], &ready, sizeof ready)) < 0 && errno == EINTR) {
            }
            CHECK(got == (ssize_t)sizeof ready && ready == 0);
        }
        if (i % 8 >= 2) {
            int64_t first[3];
            size_t have = 0;
            while (have < sizeof first) {
                ssize_t got = read(p[0], (char *)first + have, sizeof first - have);
                if (got < 0 && errno == EINTR)
                    continue;
                if (got <= 0)
                    break;
                have += (size_t)got;
            }
            CHECK(have == sizeof first);
            for (size_t k = 0; k < have / sizeof first[0] && nrep < 200000; k++)
                reported[nrep++] = first[k];
        }
        /* 0 .. 7.9 ms, spread over the microseconds. */
        useconds_t delay = (useconds_t)((i % 8) * 1000 + (i * 397) % 1000);
        if (delay)
            usleep(delay);
        kill(pid, SIGKILL);
        int st = 0;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
            killed++;
        else
            bad_exit++, fprintf(stderr, "    child ended with status 0x%x\n", (unsigned)st);
        for (;;) {
            int64_t id;
            ssize_t got = read(p[0], &id, sizeof id);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            if (got == (ssize_t)sizeof id && id != 0 && nrep < 200000)
                reported[nrep++] = id;
        }
        close(p[0]);
    }
    CHECK_EQ_INT(bad_exit, 0);
    CHECK_EQ_INT(killed, KILL_ITERATIONS);
    CHECK(nrep > 0);

    /* Every batch is whole, no index is used twice, the list's count is right. */
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM (SELECT b.id FROM batches b LEFT JOIN"
                           " credentials c ON c.batch_id = b.id GROUP BY b.id"
                           " HAVING count(c.id) <> 3) t"),
                 0);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM (SELECT batch_id FROM credentials"
                           " GROUP BY batch_id HAVING count(*) <> 3) t"),
                 0);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM (SELECT list_uri, idx FROM credentials"
                           " GROUP BY list_uri, idx HAVING count(*) > 1) t"),
                 0);
    CHECK_EQ_INT(q_int(&f, "SELECT count(*) FROM status_lists s WHERE used <> (SELECT count(*)"
                           " FROM credentials c WHERE c.list_uri = s.uri)"),
                 0);
    /* Every id a child saw committed is there. */
    size_t nids = 0;
    long long *ids = q_ints(&f, "SELECT id FROM credentials ORDER BY id", &nids);
    CHECK(nids >= nrep);
    size_t missing = 0;
    for (size_t i = 0; i < nrep; i++) {
        long long key = reported[i];
        if (!ids || !bsearch(&key, ids, nids, sizeof *ids, cmp_ll))
            missing++;
    }
    CHECK_EQ_INT(missing, 0);
    fprintf(stderr, "    %s: %d kills, %zu credentials reported, %zu in the registry\n",
            bk == BK_SQLITE ? "sqlite" : "postgresql", killed, nrep, nids);
    free(ids);
    free(reported);

    /* The registry is usable afterwards (no lock left behind) and the list is right. */
    REQUIRE(tes_registry_open(f.url, &r) == TES_OK);
    tes_registry_issued out[3];
    CHECK_ERR(issue(r, person, KILL_URI, KILL_LIST, 3, 424242, out), TES_OK);
    CHECK_ERR(tes_registry_set_status(r, 0, person, TES_STATUS_SUSPENDED, "officer", NULL), TES_OK);
    tes_status_list l = {0};
    CHECK_ERR(tes_registry_status_list(r, KILL_URI, KILL_LIST, &l), TES_OK);
    size_t susp = 0;
    for (size_t i = 0; i < l.n; i++)
        susp += tes_status_list_get(&l, i) == TES_STATUS_SUSPENDED;
    CHECK_EQ_INT(susp, nids + 3);
    tes_status_list_free(&l);
    tes_registry_close(r);
    fx_done(&f);
}

/* ------------------------------------------------------------ teardown */

TEARDOWN(pg_cluster_stops)
{
    if (!pg.tried)
        return;
    if (pg.reaper_fd >= 0) {
        close(pg.reaper_fd); /* the reaper runs pg-test.sh stop */
        pg.reaper_fd = -1;
        int st = 0;
        CHECK(waitpid(pg.reaper, &st, 0) == pg.reaper);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    struct stat sb;
    CHECK(stat(pg.dir, &sb) != 0);
}
