/*
 * The verifier's transactions and site sessions (rp_internal.h), written once
 * for both engines (db_sqlite.c, db_pg.c): portable SQL, $N parameters, all
 * values text (integers in decimal). Every decision on a row is a single
 * statement, so several instances on one PostgreSQL database (or processes
 * on one SQLite file) agree without explicit transactions:
 *   - a response is accepted at most once: rp_tx_claim's UPDATE ... WHERE
 *     status IN ('pending', 'fetched') AND expires > now RETURNING id succeeds
 *     for exactly one caller;
 *   - results are written by the one who claimed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"

static const char *const SCHEMA[] = {
    "CREATE TABLE IF NOT EXISTS rp_tx ("
    " id TEXT PRIMARY KEY, nonce TEXT NOT NULL, state TEXT NOT NULL, enc_key TEXT NOT NULL,"
    " flow TEXT NOT NULL, dcql TEXT NOT NULL, cred_id TEXT NOT NULL, browser TEXT NOT NULL,"
    " created BIGINT NOT NULL, expires BIGINT NOT NULL, status TEXT NOT NULL,"
    " fetched INTEGER NOT NULL DEFAULT 0, response_code TEXT, result TEXT)",
    "CREATE INDEX IF NOT EXISTS rp_tx_expires ON rp_tx (expires)",
    "CREATE TABLE IF NOT EXISTS rp_session ("
    " id TEXT PRIMARY KEY, account TEXT NOT NULL, expires BIGINT NOT NULL)",
};

#define TX_COLS                                                                                    \
    "id, nonce, state, enc_key, flow, dcql, cred_id, browser, created, expires, status, fetched, " \
    "response_code, result"

void rp_rows_free(rp_rows *r)
{
    if (r == NULL || r->cell == NULL)
        return;
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cell[i]);
    free(r->cell);
    memset(r, 0, sizeof *r);
}

const char *rp_cell(const rp_rows *r, size_t row, size_t col)
{
    if (row >= r->nrows || col >= r->ncols)
        return NULL;
    return r->cell[row * r->ncols + col];
}

tes_err rp_db_exec(rp_db *d, const char *sql, const char *const *args, size_t nargs,
                   rp_rows *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    pthread_mutex_lock(&d->mu);
    tes_err e = d->vt->exec(d, sql, args, nargs, out);
    pthread_mutex_unlock(&d->mu);
    if (e != TES_OK && out)
        rp_rows_free(out);
    return e;
}

tes_err rp_db_open(const char *url, rp_db **out)
{
    rp_db *d = NULL;
    tes_err e = strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0
                    ? rp_db_pg_open(url, &d)
                    : rp_db_sqlite_open(url, &d);
    if (e != TES_OK)
        return e;
    pthread_mutex_init(&d->mu, NULL);
    for (size_t i = 0; e == TES_OK && i < sizeof SCHEMA / sizeof SCHEMA[0]; i++) {
        e = rp_db_exec(d, SCHEMA[i], NULL, 0, NULL);
        if (e != TES_OK) /* another instance creating it at the same moment */
            e = rp_db_exec(d, SCHEMA[i], NULL, 0, NULL);
    }
    if (e != TES_OK) {
        rp_db_close(d);
        return e;
    }
    *out = d;
    return TES_OK;
}

void rp_db_close(rp_db *d)
{
    if (d == NULL)
        return;
    pthread_mutex_destroy(&d->mu);
    d->vt->close(d);
}

void rp_tx_free(rp_tx *t)
{
    free(t->dcql);
    free(t->enc_sealed);
    free(t->result);
    tes_wipe(t, sizeof *t);
}

static void num(char out[24], int64_t v)
{
    snprintf(out, 24, "%" PRId64, v);
}

tes_err rp_tx_insert(rp_db *d, const rp_tx *t)
{
    char created[24], expires[24];
    num(created, t->created);
    num(expires, t->expires);
    const char *args[] = {t->id,      t->nonce,   t->state,   t->enc_sealed, t->flow, t->dcql,
                          t->cred_id, t->browser, created,    expires,       t->status};
    return rp_db_exec(d,
                      "INSERT INTO rp_tx (id, nonce, state, enc_key, flow, dcql, cred_id, browser,"
                      " created, expires, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                      " $11)",
                      args, 11, NULL);
}

static bool copy_cell(char *dst, size_t cap, const char *v)
{
    if (v == NULL)
        v = "";
    size_t n = strlen(v);
    if (n >= cap)
        return false;
    memcpy(dst, v, n + 1);
    return true;
}

static char *dup_cell(const char *v)
{
    return v ? strdup(v) : NULL;
}

static tes_err row_to_tx(const rp_rows *r, rp_tx *t)
{
    memset(t, 0, sizeof *t);
    bool ok = copy_cell(t->id, sizeof t->id, rp_cell(r, 0, 0)) &&
              copy_cell(t->nonce, sizeof t->nonce, rp_cell(r, 0, 1)) &&
              copy_cell(t->state, sizeof t->state, rp_cell(r, 0, 2)) &&
              copy_cell(t->flow, sizeof t->flow, rp_cell(r, 0, 4)) &&
              copy_cell(t->cred_id, sizeof t->cred_id, rp_cell(r, 0, 6)) &&
              copy_cell(t->browser, sizeof t->browser, rp_cell(r, 0, 7)) &&
              copy_cell(t->status, sizeof t->status, rp_cell(r, 0, 10)) &&
              copy_cell(t->response_code, sizeof t->response_code, rp_cell(r, 0, 12));
    if (!ok)
        return tes_err_set(TES_ERR_STORE_CORRUPT, "rp: a transaction row is out of shape");
    t->enc_sealed = dup_cell(rp_cell(r, 0, 3));
    t->dcql = dup_cell(rp_cell(r, 0, 5));
    t->result = dup_cell(rp_cell(r, 0, 13));
    t->created = strtoll(rp_cell(r, 0, 8) ? rp_cell(r, 0, 8) : "0", NULL, 10);
    t->expires = strtoll(rp_cell(r, 0, 9) ? rp_cell(r, 0, 9) : "0", NULL, 10);
    t->fetched = rp_cell(r, 0, 11) && strcmp(rp_cell(r, 0, 11), "0") != 0;
    if (t->enc_sealed == NULL || t->dcql == NULL || (rp_cell(r, 0, 13) && t->result == NULL)) {
        rp_tx_free(t);
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    return TES_OK;
}

tes_err rp_tx_get(rp_db *d, const char *id, rp_tx *out)
{
    rp_rows r;
    const char *args[] = {id};
    tes_err e = rp_db_exec(d, "SELECT " TX_COLS " FROM rp_tx WHERE id = $1", args, 1, &r);
    if (e != TES_OK)
        return e;
    if (r.nrows == 0)
        e = tes_err_set(TES_ERR_RP_TX_UNKNOWN, "no such transaction");
    else
        e = row_to_tx(&r, out);
    rp_rows_free(&r);
    return e;
}

tes_err rp_tx_mark_fetched(rp_db *d, const char *id)
{
    const char *args[] = {id};
    return rp_db_exec(d,
                      "UPDATE rp_tx SET fetched = fetched + 1, status = CASE WHEN status = "
                      "'pending' THEN 'fetched' ELSE status END WHERE id = $1",
                      args, 1, NULL);
}

tes_err rp_tx_claim(rp_db *d, const char *id, int64_t now)
{
    char n[24];
    num(n, now);
    const char *args[] = {id, n};
    rp_rows r;
    tes_err e = rp_db_exec(d,
                           "UPDATE rp_tx SET status = 'answering' WHERE id = $1 AND status IN "
                           "('pending', 'fetched') AND expires > CAST($2 AS BIGINT) RETURNING id",
                           args, 2, &r);
    if (e != TES_OK)
        return e;
    size_t got = r.nrows;
    rp_rows_free(&r);
    if (got == 1)
        return TES_OK;
    rp_tx t;
    if ((e = rp_tx_get(d, id, &t)) != TES_OK)
        return e;
    bool open = strcmp(t.status, "pending") == 0 || strcmp(t.status, "fetched") == 0;
    rp_tx_free(&t);
    if (open)
        return tes_err_set(TES_ERR_RP_TX_EXPIRED, "the transaction has expired");
    return tes_err_set(TES_ERR_RP_TX_USED, "the transaction has been answered already");
}

tes_err rp_tx_finish(rp_db *d, const char *id, const char *status, const char *result,
                     const char *response_code)
{
    const char *args[] = {id, status, result, response_code};
    return rp_db_exec(d,
                      "UPDATE rp_tx SET status = $2, result = $3, response_code = $4 WHERE id = "
                      "$1 AND status = 'answering'",
                      args, 4, NULL);
}

tes_err rp_tx_consume(rp_db *d, const char *id, char **result)
{
    const char *args[] = {id};
    rp_rows r;
    *result = NULL;
    tes_err e = rp_db_exec(d,
                           "UPDATE rp_tx SET status = 'consumed' WHERE id = $1 AND status = "
                           "'verified' RETURNING result",
                           args, 1, &r);
    if (e != TES_OK)
        return e;
    if (r.nrows != 1 || rp_cell(&r, 0, 0) == NULL)
        e = TES_ERR_NOT_FOUND;
    else if ((*result = strdup(rp_cell(&r, 0, 0))) == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    rp_rows_free(&r);
    return e;
}

const char *rp_tx_wire_status(const rp_tx *t, int64_t now)
{
    if (strcmp(t->status, "consumed") == 0)
        return "verified";
    bool open = strcmp(t->status, "pending") == 0 || strcmp(t->status, "fetched") == 0;
    if (open && now >= t->expires)
        return "expired";
    if (strcmp(t->status, "answering") == 0)
        return "fetched";
    return t->status;
}

tes_err rp_session_insert(rp_db *d, const char *id_hash, const char *account, int64_t expires)
{
    char e[24];
    num(e, expires);
    const char *args[] = {id_hash, account, e};
    return rp_db_exec(d, "INSERT INTO rp_session (id, account, expires) VALUES ($1, $2, $3)",
                      args, 3, NULL);
}

tes_err rp_session_get(rp_db *d, const char *id_hash, int64_t now, char **account)
{
    char n[24];
    num(n, now);
    const char *args[] = {id_hash, n};
    rp_rows r;
    tes_err e = rp_db_exec(d,
                           "SELECT account FROM rp_session WHERE id = $1 AND expires > "
                           "CAST($2 AS BIGINT)",
                           args, 2, &r);
    if (e != TES_OK)
        return e;
    if (r.nrows == 0 || rp_cell(&r, 0, 0) == NULL)
        e = TES_ERR_NOT_FOUND;
    else if ((*account = strdup(rp_cell(&r, 0, 0))) == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    rp_rows_free(&r);
    return e;
}

tes_err rp_session_delete(rp_db *d, const char *id_hash)
{
    const char *args[] = {id_hash};
    return rp_db_exec(d, "DELETE FROM rp_session WHERE id = $1", args, 1, NULL);
}

/* Transactions are kept a day after they end (the backend may ask late). */
tes_err rp_db_purge(rp_db *d, int64_t now)
{
    char n[24], day[24];
    num(n, now);
    num(day, now - 86400);
    const char *a1[] = {day};
    const char *a2[] = {n};
    tes_err e = rp_db_exec(d, "DELETE FROM rp_tx WHERE expires < CAST($1 AS BIGINT)", a1, 1, NULL);
    if (e == TES_OK)
        e = rp_db_exec(d, "DELETE FROM rp_session WHERE expires < CAST($1 AS BIGINT)", a2, 1,
                       NULL);
    return e;
}
