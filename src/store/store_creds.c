/*
 * The wallet store: credentials and their copies (add with the copies, list,
 * take / peek a copy, delete). The store's design notes are wallet_store.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* ------------------------------------------------------------ credentials */

tes_err tes_store_add_credential(tes_store *s, const tes_store_cred *meta,
                                 const tes_store_new_copy *copies, size_t n, bool single_use,
                                 int64_t *id)
{
    if (!s || !meta || !meta->doctype || !*meta->doctype || !id || (n && !copies))
        return tes_err_set(TES_ERR_ARG, "store: add_credential needs a store, a doctype and an id "
                                        "output");
    if (n == 0)
        return tes_err_set(TES_ERR_ARG, "store: a credential needs at least one copy");
    for (size_t i = 0; i < n; i++) {
        if (!copies[i].key_id || !*copies[i].key_id)
            return tes_err_set(TES_ERR_ARG, "store: copy %zu has no key id", i);
        if (copies[i].mdoc.len == 0 || !copies[i].mdoc.ptr)
            return tes_err_set(TES_ERR_ARG, "store: copy %zu has no mdoc bytes", i);
    }

    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    int64_t cred = 0;
    /* A key already serving a stored copy (the same mdoc added again, or
     * another mdoc for that key): two copies sharing a key would be linkable and
     * a single-use key could not be shown by both. Checked under the write lock. */
    for (size_t i = 0; !e && i < n; i++) {
        int64_t other = 0;
        bool dup = false;
        st = NULL;
        if (!(e = store_stmt_get(s, ST_COPY_BY_KEY, &st)) &&
            !(e = store_bind_text(s, st, 1, copies[i].key_id))) {
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                dup = true;
                other = sqlite3_column_int64(st, 0);
            } else if (rc != SQLITE_DONE) {
                e = store_sql_fail(s->db, rc, "looking for the key's copies");
            }
        }
        store_stmt_done(st);
        if (!e && dup)
            e = tes_err_set(TES_ERR_EXISTS,
                            "store: key %s already belongs to a copy of credential %lld (the "
                            "same credential added twice?)",
                            copies[i].key_id, (long long)other);
    }
    if (e)
        return store_tx_end(s, e);
    if (!(e = store_stmt_get(s, ST_CRED_INSERT, &st)) && !(e = store_bind_text(s, st, 1, meta->doctype)) &&
        !(e = store_bind_text(s, st, 2, meta->display_name)) &&
        !(e = store_bind_text(s, st, 3, meta->issuer)) && !(e = store_bind_int(s, st, 4, meta->valid_from)) &&
        !(e = store_bind_int(s, st, 5, meta->valid_until)) &&
        !(e = store_bind_int(s, st, 6, single_use ? 1 : 0)) &&
        !(e = store_bind_int(s, st, 7, meta->created_at ? meta->created_at : tes_clock_now(&s->clock))) &&
        !(e = store_bind_int(s, st, 8, meta->needs_pin ? 1 : 0))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            cred = sqlite3_last_insert_rowid(s->db);
        else
            e = store_sql_fail(s->db, rc, "adding a credential");
    }
    store_stmt_done(st);

    for (size_t i = 0; !e && i < n; i++) {
        st = NULL;
        if (!(e = store_stmt_get(s, ST_COPY_INSERT, &st)) && !(e = store_bind_int(s, st, 1, cred)) &&
            !(e = store_bind_text(s, st, 2, copies[i].key_id)) &&
            !(e = store_bind_blob(s, st, 3, copies[i].mdoc))) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                e = store_sql_fail(s->db, rc, "adding a copy");
        }
        store_stmt_done(st);
    }
    e = store_tx_end(s, e);
    if (!e)
        *id = cred;
    return e;
}

void tes_store_creds_free(tes_store_cred *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++) {
        free(c[i].doctype);
        free(c[i].display_name);
        free(c[i].issuer);
    }
    free(c);
}

tes_err tes_store_list(tes_store *s, tes_store_cred **out, size_t *n)
{
    if (!s || !out || !n)
        return tes_err_set(TES_ERR_ARG, "store: list needs a store and outputs");
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    tes_err e = store_stmt_get(s, ST_LIST, &st);
    if (e)
        return e;
    tes_store_cred *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            tes_store_cred *na = realloc(arr, ncap * sizeof *na);
            if (!na) {
                e = store_nomem("listing credentials");
                break;
            }
            arr = na;
            cap = ncap;
        }
        tes_store_cred *c = &arr[len];
        memset(c, 0, sizeof *c);
        len++;
        c->id = sqlite3_column_int64(st, 0);
        c->doctype = store_col_text(st, 1);
        c->display_name = store_col_text(st, 2);
        c->issuer = store_col_text(st, 3);
        c->valid_from = sqlite3_column_int64(st, 4);
        c->valid_until = sqlite3_column_int64(st, 5);
        c->created_at = sqlite3_column_int64(st, 6);
        c->copies = sqlite3_column_int64(st, 7);
        c->unused_copies = sqlite3_column_int64(st, 8);
        c->single_use = sqlite3_column_int64(st, 9) != 0;
        c->needs_pin = sqlite3_column_int64(st, 10) != 0;
        if (!c->doctype || !c->display_name || !c->issuer) {
            e = store_nomem("listing credentials");
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = store_sql_fail(s->db, rc, "listing credentials");
    store_stmt_done(st);
    if (e) {
        tes_store_creds_free(arr, len);
        return e;
    }
    *out = arr;
    *n = len;
    return TES_OK;
}

void tes_store_copy_free(tes_store_copy *c)
{
    if (!c)
        return;
    free(c->key_id);
    tes_buf_free(&c->mdoc);
    memset(c, 0, sizeof *c);
}

/* Runs a statement with one integer parameter expecting one integer row.
 * *found is false when there is no row. */
static tes_err one_int(tes_store *s, int which, int64_t arg, int64_t *val, bool *found,
                       const char *what)
{
    sqlite3_stmt *st = NULL;
    tes_err e = store_stmt_get(s, which, &st);
    if (e)
        return e;
    *found = false;
    if (!(e = store_bind_int(s, st, 1, arg))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *found = true;
            *val = sqlite3_column_int64(st, 0);
        } else if (rc != SQLITE_DONE) {
            e = store_sql_fail(s->db, rc, what);
        }
    }
    store_stmt_done(st);
    return e;
}

/* Selects a copy (pick statement) into out; *found false when none. */
static tes_err pick_copy(tes_store *s, int which, int64_t cred_id, tes_store_copy *out, bool *found)
{
    sqlite3_stmt *st = NULL;
    tes_err e = store_stmt_get(s, which, &st);
    if (e)
        return e;
    *found = false;
    if (!(e = store_bind_int(s, st, 1, cred_id))) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            out->id = sqlite3_column_int64(st, 0);
            out->key_id = store_col_text(st, 1);
            const void *blob = sqlite3_column_blob(st, 2);
            int blen = sqlite3_column_bytes(st, 2);
            if (blen > 0 && blob)
                tes_buf_append(&out->mdoc, blob, (size_t)blen);
            out->use_count = sqlite3_column_int64(st, 3) + 1; /* after this take */
            if (!out->key_id || out->mdoc.failed || (blen > 0 && !blob))
                e = store_nomem("reading a copy");
            else
                *found = true;
        } else if (rc != SQLITE_DONE) {
            e = store_sql_fail(s->db, rc, "selecting a copy");
        }
    }
    store_stmt_done(st);
    return e;
}

/* Picks the copy to present and, with take, marks it (one transaction). */
static tes_err pick_or_take(tes_store *s, int64_t cred_id, tes_store_copy *out, bool take)
{
    if (!s || !out)
        return tes_err_set(TES_ERR_ARG, "store: take_copy needs a store and an output");
    memset(out, 0, sizeof *out);

    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    int64_t single_use = 0, total = 0;
    bool found = false;
    e = one_int(s, ST_CRED_SINGLE_USE, cred_id, &single_use, &found, "reading a credential");
    if (!e && !found)
        e = tes_err_set(TES_ERR_NOT_FOUND, "store: no credential %lld", (long long)cred_id);
    if (!e)
        e = pick_copy(s, single_use ? ST_COPY_PICK_UNUSED : ST_COPY_PICK_LEAST, cred_id, out,
                      &found);
    if (!e && !found) {
        e = one_int(s, ST_COPY_COUNT, cred_id, &total, &found, "counting copies");
        if (!e && single_use)
            e = tes_err_set(TES_ERR_KEY_USED,
                            "store: all %lld single-use copies of credential %lld are used",
                            (long long)total, (long long)cred_id);
        else if (!e)
            e = tes_err_set(TES_ERR_NOT_FOUND, "store: credential %lld has no copies",
                            (long long)cred_id);
    }
    if (!e && take) {
        sqlite3_stmt *st = NULL;
        if (!(e = store_stmt_get(s, ST_COPY_MARK, &st))) {
            if (!(e = store_bind_int(s, st, 1, out->id))) {
                int rc = sqlite3_step(st);
                if (rc != SQLITE_DONE)
                    e = store_sql_fail(s->db, rc, "marking a copy used");
                else if (sqlite3_changes(s->db) != 1)
                    e = tes_err_set(TES_ERR_STORE, "store: copy %lld vanished while marking it",
                                    (long long)out->id);
            }
            store_stmt_done(st);
        }
    }
    e = store_tx_end(s, e);
    if (e)
        tes_store_copy_free(out);
    return e;
}

tes_err tes_store_take_copy(tes_store *s, int64_t cred_id, tes_store_copy *out)
{
    return pick_or_take(s, cred_id, out, true);
}

tes_err tes_store_peek_copy(tes_store *s, int64_t cred_id, tes_store_copy *out)
{
    return pick_or_take(s, cred_id, out, false);
}

tes_err tes_store_delete_credential(tes_store *s, int64_t cred_id)
{
    if (!s)
        return tes_err_set(TES_ERR_ARG, "store: delete_credential needs a store");
    tes_err e = store_tx_begin(s);
    if (e)
        return e;
    sqlite3_stmt *st = NULL;
    if (!(e = store_stmt_get(s, ST_CRED_DELETE, &st))) {
        if (!(e = store_bind_int(s, st, 1, cred_id))) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                e = store_sql_fail(s->db, rc, "deleting a credential");
            else if (sqlite3_changes(s->db) == 0)
                e = tes_err_set(TES_ERR_NOT_FOUND, "store: no credential %lld", (long long)cred_id);
        }
        store_stmt_done(st);
    }
    return store_tx_end(s, e);
}
