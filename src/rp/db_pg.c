/*
 * The verifier's PostgreSQL engine (libpq), for a site served by several
 * instances: one connection (rp_db.mu: one statement at a time), statements
 * run with PQexecParams in text form, each its own transaction (the logic in
 * db.c decides in single statements). A connection found broken is reset
 * once and the statement run again. libpq's notices are swallowed.
 */
#include <postgresql/libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"

typedef struct pg_db {
    rp_db base;
    PGconn *conn;
} pg_db;

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void pg_close(rp_db *d)
{
    pg_db *p = (pg_db *)d;
    if (p->conn)
        PQfinish(p->conn);
    free(p);
}

static tes_err pg_fail(pg_db *p, const PGresult *res)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (msg == NULL || *msg == '\0')
        msg = PQerrorMessage(p->conn);
    int len = (int)strcspn(msg ? msg : "", "\n");
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                  strcmp(state, "55P03") == 0))
        return tes_err_set(TES_ERR_BUSY, "rp: PostgreSQL %s: %.*s", state, len, msg);
    return tes_err_set(TES_ERR_STORE, "rp: PostgreSQL %s: %.*s", state ? state : "", len,
                       msg ? msg : "");
}

static tes_err collect(const PGresult *res, rp_rows *out)
{
    size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);
    if (nc > RP_DB_MAX_COLS)
        return tes_err_set(TES_ERR_STORE, "rp: too many columns");
    out->ncols = nc;
    out->cell = calloc(nr * nc + 1, sizeof *out->cell);
    if (out->cell == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    for (size_t r = 0; r < nr; r++) {
        out->nrows = r + 1;
        for (size_t c = 0; c < nc; c++) {
            if (PQgetisnull(res, (int)r, (int)c))
                continue;
            const char *v = PQgetvalue(res, (int)r, (int)c);
            if ((out->cell[r * nc + c] = strdup(v)) == NULL)
                return tes_err_set(TES_ERR_NOMEM, "out of memory");
        }
    }
    return TES_OK;
}

static tes_err pg_exec(rp_db *d, const char *sql, const char *const *args, size_t nargs,
                       rp_rows *out)
{
    pg_db *p = (pg_db *)d;
    for (int attempt = 0;; attempt++) {
        PGresult *res = PQexecParams(p->conn, sql, (int)nargs, NULL, args, NULL, NULL, 0);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            tes_err e = out != NULL && st == PGRES_TUPLES_OK ? collect(res, out) : TES_OK;
            PQclear(res);
            return e;
        }
        if (attempt == 0 && PQstatus(p->conn) == CONNECTION_BAD) {
            PQclear(res);
            PQreset(p->conn);
            continue;
        }
        tes_err e = pg_fail(p, res);
        PQclear(res);
        return e;
    }
}

static const rp_db_vt pg_vt = {pg_close, pg_exec};

tes_err rp_db_pg_open(const char *url, rp_db **out)
{
    *out = NULL;
    pg_db *p = calloc(1, sizeof *p);
    if (p == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    p->base.vt = &pg_vt;
    p->conn = PQconnectdb(url);
    if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
        tes_err e = tes_err_set(TES_ERR_STORE, "rp: cannot connect to PostgreSQL: %.*s",
                                p->conn ? (int)strcspn(PQerrorMessage(p->conn), "\n") : 13,
                                p->conn ? PQerrorMessage(p->conn) : "out of memory");
        pg_close(&p->base);
        return e;
    }
    PQsetNoticeProcessor(p->conn, quiet, NULL);
    *out = &p->base;
    return TES_OK;
}
