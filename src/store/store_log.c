/*
 * The wallet store: the holder's presentation log and the settings (key/value).
 * The store's design notes are wallet_store.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* -------------------------------------------------------------------- log */

tes_err tes_store_log_add(tes_store *s, const tes_store_log_entry *le)
{
    if (!s || !le || !le->relying_party || !le->outcome)
        return tes_err_set(TES_ERR_ARG, "store: a log entry needs a relying party and an outcome");
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = store_stmt_get(s, ST_LOG_INSERT, &st))) {
        if (!(e = store_bind_int(s, st, 1, le->at ? le->at : tes_clock_now(&s->clock))) &&
            !(e = store_bind_text(s, st, 2, le->relying_party)) &&
            !(e = store_bind_text(s, st, 3, le->elements)) && !(e = store_bind_int(s, st, 4, le->cred_id)) &&
            !(e = store_bind_text(s, st, 5, le->outcome))) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                e = store_sql_fail(s->db, rc, "adding a log entry");
        }
        store_stmt_done(st);
    }
    return store_tx_end(s, e);
}

void tes_store_log_free(tes_store_log_entry *le, size_t n)
{
    if (!le)
        return;
    for (size_t i = 0; i < n; i++) {
        free(le[i].relying_party);
        free(le[i].elements);
        free(le[i].outcome);
    }
    free(le);
}

tes_err tes_store_log_list(tes_store *s, tes_store_log_entry **out, size_t *n)
{
    if (!s || !out || !n)
        return tes_err_set(TES_ERR_ARG, "store: log_list needs a store and outputs");
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    tes_err e = store_stmt_get(s, ST_LOG_LIST, &st);
    if (e)
        return e;
    tes_store_log_entry *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            tes_store_log_entry *na = realloc(arr, ncap * sizeof *na);
            if (!na) {
                e = store_nomem("listing the log");
                break;
            }
            arr = na;
            cap = ncap;
        }
        tes_store_log_entry *le = &arr[len];
        memset(le, 0, sizeof *le);
        len++;
        le->id = sqlite3_column_int64(st, 0);
        le->at = sqlite3_column_int64(st, 1);
        le->relying_party = store_col_text(st, 2);
        le->elements = store_col_text(st, 3);
        le->cred_id = sqlite3_column_int64(st, 4);
        le->outcome = store_col_text(st, 5);
        if (!le->relying_party || !le->elements || !le->outcome) {
            e = store_nomem("listing the log");
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = store_sql_fail(s->db, rc, "listing the log");
    store_stmt_done(st);
    if (e) {
        tes_store_log_free(arr, len);
        return e;
    }
    *out = arr;
    *n = len;
    return TES_OK;
}

/* --------------------------------------------------------------- settings */

tes_err tes_store_set(tes_store *s, const char *key, const char *value)
{
    if (!s || !key || !value)
        return tes_err_set(TES_ERR_ARG, "store: set needs a store, a key and a value");
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = store_stmt_get(s, ST_SET, &st))) {
        if (!(e = store_bind_text(s, st, 1, key)) && !(e = store_bind_text(s, st, 2, value))) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                e = store_sql_fail(s->db, rc, "writing a setting");
        }
        store_stmt_done(st);
    }
    return store_tx_end(s, e);
}

tes_err tes_store_get(tes_store *s, const char *key, char **value)
{
    if (!s || !key || !value)
        return tes_err_set(TES_ERR_ARG, "store: get needs a store, a key and an output");
    *value = NULL;
    sqlite3_stmt *st = NULL;
    tes_err e = store_stmt_get(s, ST_GET, &st);
    if (e)
        return e;
    if (!(e = store_bind_text(s, st, 1, key))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *value = store_col_text(st, 0);
            if (!*value)
                e = store_nomem("reading a setting");
        } else if (rc == SQLITE_DONE) {
            e = tes_err_set(TES_ERR_NOT_FOUND, "store: no setting \"%s\"", key);
        } else {
            e = store_sql_fail(s->db, rc, "reading a setting");
        }
    }
    store_stmt_done(st);
    return e;
}
