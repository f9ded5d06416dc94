/*
 * The registry's PostgreSQL backend (libpq), for an authority that outgrows
 * one machine: several service processes share one database.
 *
 *   - One PGconn per tes_registry (PQconnectdb with the URL as given).
 *     libpq's notices are swallowed: the library never prints.
 *   - Transactions are READ COMMITTED (set explicitly, whatever the server's
 *     default); the registry's logic takes every decision on a row it has
 *     locked (SELECT ... FOR UPDATE, or the deciding UPDATE itself), see
 *     registry.c. Failures with SQLSTATE 40001 (serialization failure) or
 *     40P01 (deadlock detected) are flagged retryable and the transaction is
 *     run again; 55P03 (lock not available) is TES_ERR_BUSY; XX001/XX002
 *     (data corrupted) TES_ERR_STORE_CORRUPT; anything else TES_ERR_STORE with
 *     the server's message.
 *   - Statements are prepared once per connection (PQprepare, named
 *     "tes_reg_<n>") the first time they are used and run with
 *     PQexecPrepared, parameters and results in text form. A connection found
 *     broken at the start of a transaction is reset once (PQreset) and its
 *     statements prepared again.
 *   - Schema: the same migrations as SQLite (registry.c), applied in one
 *     transaction under a transaction-level advisory lock, so processes
 *     opening a new database at once do not race; the version is the highest
 *     row of the migrations table.
 *   - Do not carry an open registry across fork(): the child must connect
 *     itself.
 */
#include <postgresql/libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_internal.h"

/* Advisory lock key taken while migrating: "TESR". */
#define REG_PG_LOCK_KEY "1413829458"
#define REG_PG_MAX_ARGS 16

typedef struct pg_backend {
    reg_backend base;
    PGconn *conn;
    bool prepared[RS_COUNT];
} pg_backend;

static void quiet_notice(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

/* Maps a failed result (or, with res NULL, the connection's state) to a
 * tes_err; marks transient conflicts retryable. Does not PQclear. */
static tes_err pg_fail(pg_backend *p, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg)
        msg = PQerrorMessage(p->conn);
    if (!msg || !*msg)
        msg = "no message";
    int len = (int)strcspn(msg, "\n"); /* first line only */
    if (!state)
        state = "";
    if (PQstatus(p->conn) == CONNECTION_BAD)
        return tes_err_set(TES_ERR_STORE,
                           "registry: %s: the connection to PostgreSQL is lost: %.*s", what, len,
                           msg);
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        p->base.retryable = true;
        return tes_err_set(TES_ERR_BUSY,
                           "registry: %s: conflict with a concurrent transaction (%s: %.*s)", what,
                           state, len, msg);
    }
    if (strcmp(state, "55P03") == 0)
        return tes_err_set(TES_ERR_BUSY, "registry: %s: a lock is not available (%.*s)", what, len,
                           msg);
    if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0)
        return tes_err_set(TES_ERR_STORE_CORRUPT,
                           "registry: %s: the database is damaged (%s: %.*s)", what, state, len,
                           msg);
    return tes_err_set(TES_ERR_STORE, "registry: %s: PostgreSQL error %s: %.*s", what,
                       *state ? state : "(none)", len, msg);
}

/* Runs constant SQL with no parameters that must return no rows. */
static tes_err pg_simple(pg_backend *p, const char *sql, const char *what)
{
    PGresult *res = PQexec(p->conn, sql);
    tes_err e = TES_OK;
    if (!res)
        e = pg_fail(p, NULL, what);
    else if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        e = pg_fail(p, res, what);
    PQclear(res);
    return e;
}

static tes_err pg_prepare(pg_backend *p, int which)
{
    char name[32], sql[1024];
    snprintf(name, sizeof name, "tes_reg_%d", which);
    int n = snprintf(sql, sizeof sql, "%s%s", reg_stmts[which].sql,
                     reg_stmts[which].for_update ? " FOR UPDATE" : "");
    if (n < 0 || (size_t)n >= sizeof sql)
        return tes_err_set(TES_ERR_STORE, "registry: statement %d too long", which);
    PGresult *res = PQprepare(p->conn, name, sql, 0, NULL);
    tes_err e = TES_OK;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        e = pg_fail(p, res, "preparing a statement");
    PQclear(res);
    if (!e)
        p->prepared[which] = true;
    return e;
}

static tes_err pg_exec(reg_backend *b, int which, const reg_arg *args, size_t nargs,
                       reg_result *out)
{
    pg_backend *p = (pg_backend *)b;
    if (out)
        memset(out, 0, sizeof *out);
    if (nargs > REG_PG_MAX_ARGS)
        return tes_err_set(TES_ERR_STORE, "registry: too many parameters");
    tes_err e = TES_OK;
    if (!p->prepared[which] && (e = pg_prepare(p, which)))
        return e;
    char nums[REG_PG_MAX_ARGS][24];
    const char *values[REG_PG_MAX_ARGS];
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].text) {
            values[i] = args[i].text;
        } else {
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)args[i].i);
            values[i] = nums[i];
        }
    }
    char name[32];
    snprintf(name, sizeof name, "tes_reg_%d", which);
    PGresult *res = PQexecPrepared(p->conn, name, (int)nargs, values, NULL, NULL, 0);
    if (!res)
        return pg_fail(p, NULL, "running a statement");
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK && out) {
        int rows = PQntuples(res), cols = PQnfields(res);
        for (int r = 0; !e && r < rows; r++) {
            if ((e = reg_result_add_row(out, (size_t)cols)))
                break;
            for (int c = 0; !e && c < cols; c++)
                if (!PQgetisnull(res, r, c))
                    e = reg_result_set(out, (size_t)c, PQgetvalue(res, r, c),
                                       (size_t)PQgetlength(res, r, c));
        }
    } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        e = pg_fail(p, res, "running a statement");
    }
    PQclear(res);
    if (e && out)
        reg_result_free(out);
    return e;
}

static tes_err pg_begin(reg_backend *b, bool durable)
{
    pg_backend *p = (pg_backend *)b;
    if (PQstatus(p->conn) == CONNECTION_BAD) {
        PQreset(p->conn);
        if (PQstatus(p->conn) != CONNECTION_OK)
            return pg_fail(p, NULL, "reconnecting");
        memset(p->prepared, 0, sizeof p->prepared);
    }
    /* One round trip; SET LOCAL ends with the transaction. */
    tes_err e = pg_simple(p,
                          durable ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                                  : "BEGIN ISOLATION LEVEL READ COMMITTED;"
                                    " SET LOCAL synchronous_commit = off",
                          "starting a transaction");
    if (e != TES_OK) /* BEGIN may have worked and SET failed: leave no aborted transaction */
        PQclear(PQexec(p->conn, "ROLLBACK"));
    return e;
}

static void pg_rollback(reg_backend *b)
{
    pg_backend *p = (pg_backend *)b;
    PGTransactionStatusType ts = PQtransactionStatus(p->conn);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *res = PQexec(p->conn, "ROLLBACK"); /* keep the recorded error */
        PQclear(res);
    }
}

static tes_err pg_commit(reg_backend *b)
{
    pg_backend *p = (pg_backend *)b;
    PGresult *res = PQexec(p->conn, "COMMIT");
    tes_err e = TES_OK;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        e = pg_fail(p, res, "committing");
    else if (strcmp(PQcmdStatus(res), "COMMIT") !=
             0) /* an aborted transaction "commits" as ROLLBACK */
        e = tes_err_set(TES_ERR_STORE, "registry: committing: the transaction was rolled back");
    PQclear(res);
    if (e)
        pg_rollback(b);
    return e;
}

static void pg_close(reg_backend *b)
{
    pg_backend *p = (pg_backend *)b;
    if (!p)
        return;
    PQfinish(p->conn);
    free(p);
}

static const reg_backend_class pg_class = {
    "postgresql", pg_close, pg_begin, pg_commit, pg_rollback, pg_exec,
};

/* ------------------------------------------------------------------- open */

/* One value of a one-row query (text), copied to out. */
static tes_err pg_value(pg_backend *p, const char *sql, int nparams, const char *const *params,
                        char *out, size_t cap, const char *what)
{
    PGresult *res = PQexecParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    tes_err e = TES_OK;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        e = pg_fail(p, res, what);
    else if (PQntuples(res) != 1 || PQnfields(res) != 1)
        e = tes_err_set(TES_ERR_STORE, "registry: %s: no result", what);
    else
        snprintf(out, cap, "%s", PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return e;
}

static tes_err pg_migrate(pg_backend *p, int64_t now)
{
    tes_err e = pg_simple(p, "BEGIN", "starting the migration");
    if (e)
        return e;
    char v[64];
    int64_t version = 0;
    if (!(e = pg_simple(p, "SELECT pg_advisory_xact_lock(" REG_PG_LOCK_KEY ")",
                        "locking for the migration")) &&
        !(e = pg_value(p, "SELECT to_regclass('migrations') IS NOT NULL", 0, NULL, v, sizeof v,
                       "reading the schema")) &&
        strcmp(v, "t") == 0 &&
        !(e = pg_value(p, "SELECT COALESCE(max(version), 0) FROM migrations", 0, NULL, v, sizeof v,
                       "reading the schema version")))
        version = strtoll(v, NULL, 10);
    if (!e && version > reg_migrations_count)
        e = tes_err_set(TES_ERR_STORE,
                        "registry: the database was written by a newer version of Tessera "
                        "(schema version %lld; this build knows up to %d)",
                        (long long)version, reg_migrations_count);
    for (int64_t k = version; !e && k < reg_migrations_count; k++) {
        char ver[24], at[24];
        snprintf(ver, sizeof ver, "%lld", (long long)(k + 1));
        snprintf(at, sizeof at, "%lld", (long long)now);
        const char *params[] = {ver, at};
        if ((e = pg_simple(p, reg_migrations_pg[k], "migrating the schema")))
            break;
        PGresult *res =
            PQexecParams(p->conn, "INSERT INTO migrations(version, applied_at) VALUES ($1, $2)", 2,
                         NULL, params, NULL, NULL, 0);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
            e = pg_fail(p, res, "recording the migration");
        PQclear(res);
    }
    for (size_t i = 0; !e && i < reg_required_tables_count; i++) {
        const char *params[] = {reg_required_tables[i]};
        if (!(e = pg_value(p, "SELECT to_regclass($1) IS NOT NULL", 1, params, v, sizeof v,
                           "reading the schema")) &&
            strcmp(v, "t") != 0)
            e = tes_err_set(TES_ERR_STORE_CORRUPT,
                            "registry: the database is damaged: table %s "
                            "is missing",
                            reg_required_tables[i]);
    }
    if (e) {
        pg_rollback(&p->base);
        return e;
    }
    return pg_commit(&p->base);
}

tes_err reg_pg_open(const char *url, int64_t now, reg_backend **out)
{
    *out = NULL;
    pg_backend *p = calloc(1, sizeof *p);
    if (!p)
        return reg_nomem("opening");
    p->base.vt = &pg_class;
    p->conn = PQconnectdb(url);
    if (!p->conn) {
        free(p);
        return reg_nomem("connecting to PostgreSQL");
    }
    tes_err e = TES_OK;
    if (PQstatus(p->conn) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(p->conn);
        e = tes_err_set(TES_ERR_STORE, "registry: cannot connect to PostgreSQL: %.*s",
                        (int)strcspn(msg, "\n"), msg);
        pg_close(&p->base);
        return e;
    }
    PQsetNoticeReceiver(p->conn, quiet_notice, NULL);
    if ((e = pg_simple(p, "SET client_min_messages = warning", "configuring the session")) ||
        (e = pg_migrate(p, now))) {
        pg_close(&p->base);
        return e;
    }
    *out = &p->base;
    return TES_OK;
}
