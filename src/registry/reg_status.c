/*
 * The registry's status changes of credentials, people and devices, and the lists they make
 * (the registry's design notes: registry.c).
 */
#include "registry/reg_logic.h"

/* ------------------------------------------------------------------ status */

typedef struct {
    int64_t cred, person;
    tes_status_value v;
    const char *op;
    size_t changed;
} status_ctx;

static const char *action_name(tes_status_value v)
{
    return v == TES_STATUS_REVOKED ? "revoke" : v == TES_STATUS_SUSPENDED ? "suspend" : "reinstate";
}

const char *reg_value_name(int64_t v)
{
    return v == TES_STATUS_VALID       ? "valid"
           : v == TES_STATUS_REVOKED   ? "revoked"
           : v == TES_STATUS_SUSPENDED ? "suspended"
                                       : "?";
}

static tes_err status_one(tes_registry *r, status_ctx *c)
{
    reg_result res = {0};
    reg_arg a[] = {REG_INT(c->cred)};
    tes_err e = reg_exec(r, RS_CRED_LOCK, a, 1, &res);
    if (e)
        return e;
    if (res.nrows == 0) {
        reg_result_free(&res);
        return tes_err_set(TES_ERR_NOT_FOUND, "registry: no credential %lld", (long long)c->cred);
    }
    int64_t owner = reg_cell_int(&res, 0, 0), cur = reg_cell_int(&res, 0, 1);
    reg_result_free(&res);
    if (c->person && owner != c->person)
        return tes_err_set(TES_ERR_NOT_FOUND, "registry: credential %lld is not person %lld's",
                           (long long)c->cred, (long long)c->person);
    if (cur == TES_STATUS_REVOKED && c->v != TES_STATUS_REVOKED)
        return tes_err_set(TES_ERR_STATE,
                           "registry: credential %lld is revoked; revocation is final (cannot %s)",
                           (long long)c->cred, action_name(c->v));
    char detail[160];
    if (cur == (int64_t)c->v) {
        c->changed = 0;
        snprintf(detail, sizeof detail, "credential %lld (person %lld): already %s",
                 (long long)c->cred, (long long)owner, reg_value_name(cur));
    } else {
        reg_arg u[] = {REG_INT(c->cred), REG_INT((int64_t)c->v)};
        if ((e = reg_exec(r, RS_CRED_SET, u, 2, NULL)))
            return e;
        c->changed = 1;
        snprintf(detail, sizeof detail, "credential %lld (person %lld): %s -> %s",
                 (long long)c->cred, (long long)owner, reg_value_name(cur), reg_value_name(c->v));
    }
    return reg_audit(r, reg_now(r), c->op, action_name(c->v), detail);
}

/* Writes the audit entry of a status change: "<head>N credentials set <value>: id, id"
 * (ids sorted); takes ownership of ids. */
/* The credential ids a status UPDATE ... RETURNING gave (first column), as an
 * array the caller frees; res is freed either way. NULL when out of memory. */
static int64_t *changed_ids(reg_result *res, size_t *n)
{
    int64_t *ids = malloc((res->nrows + 1) * sizeof *ids);
    if (ids) {
        for (size_t i = 0; i < res->nrows; i++)
            ids[i] = reg_cell_int(res, i, 0);
        *n = res->nrows;
    }
    reg_result_free(res);
    return ids;
}

static tes_err audit_status_change(tes_registry *r, const char *op, tes_status_value v,
                                   const char *head, int64_t *ids, size_t changed, const char *tail)
{
    qsort(ids, changed, sizeof *ids, reg_cmp_i64);
    tes_buf d = {0};
    char tmp[96];
    tes_buf_append(&d, head, strlen(head));
    if (changed == 0) {
        tes_buf_append(&d, "no credential changed", 21);
    } else {
        int k = snprintf(tmp, sizeof tmp, "%zu %s set %s:", changed,
                         changed == 1 ? "credential" : "credentials", reg_value_name(v));
        tes_buf_append(&d, tmp, (size_t)k);
        for (size_t i = 0; i < changed; i++) {
            k = snprintf(tmp, sizeof tmp, "%s%lld", i ? ", " : " ", (long long)ids[i]);
            tes_buf_append(&d, tmp, (size_t)k);
        }
    }
    if (tail)
        tes_buf_append(&d, tail, strlen(tail));
    tes_buf_append(&d, "", 1);
    free(ids);
    if (d.failed) {
        tes_buf_free(&d);
        return reg_nomem("writing the audit entry");
    }
    tes_err e = reg_audit(r, reg_now(r), op, action_name(v), (const char *)d.ptr);
    tes_buf_free(&d);
    return e;
}

/* Withdraws the open offers and the access tokens of one person (device
 * NULL) or of every person with a credential on device; "; N offers and M
 * access tokens withdrawn" into tail ("" when none). */
static tes_err withdraw(tes_registry *r, int64_t person, const char *device, char *tail, size_t cap)
{
    tail[0] = '\0';
    int64_t now = reg_now(r);
    reg_result res = {0};
    reg_arg a[] = {device ? REG_TEXT(device) : REG_INT(person), REG_INT(now)};
    tes_err e = reg_exec(r, device ? RS_OFFERS_WITHDRAW_DEVICE : RS_OFFERS_WITHDRAW, a, 2, &res);
    size_t offers = res.nrows;
    reg_result_free(&res);
    if (e)
        return e;
    e = reg_exec(r, device ? RS_TOKENS_WITHDRAW_DEVICE : RS_TOKENS_WITHDRAW, a, 2, &res);
    size_t tokens = res.nrows;
    reg_result_free(&res);
    if (!e && (offers || tokens))
        snprintf(tail, cap, "; %zu open %s and %zu access %s withdrawn", offers,
                 offers == 1 ? "offer" : "offers", tokens, tokens == 1 ? "token" : "tokens");
    return e;
}

static tes_err status_person(tes_registry *r, status_ctx *c)
{
    /* The person's state first (its row stays locked), then offers, tokens and
     * credentials: an issuance (which locks the same first) sees all or none. */
    tes_err e = reg_lock_issuance(r);
    int64_t state = 0;
    if (!e)
        e = reg_person_state(r, c->person, &state);
    if (e)
        return e;
    if (state == TES_STATUS_REVOKED && c->v != TES_STATUS_REVOKED)
        return tes_err_set(TES_ERR_STATE,
                           "registry: person %lld is revoked; revocation is final (cannot %s)",
                           (long long)c->person, action_name(c->v));
    reg_result res = {0};
    if (state != (int64_t)c->v) {
        reg_arg s[] = {REG_INT(c->person), REG_INT((int64_t)c->v)};
        if ((e = reg_exec(r, RS_PERSON_STATE_SET, s, 2, NULL)))
            return e;
    }
    char tail[96] = "";
    if (c->v != TES_STATUS_VALID && (e = withdraw(r, c->person, NULL, tail, sizeof tail)))
        return e;
    reg_arg a[] = {REG_INT(c->person), REG_INT((int64_t)c->v)};
    if ((e = reg_exec(r, RS_CRED_SET_PERSON, a, 2, &res)))
        return e;
    int64_t *ids = changed_ids(&res, &c->changed);
    if (!ids)
        return reg_nomem("setting status");
    char head[96];
    snprintf(head, sizeof head, "person %lld: ", (long long)c->person);
    return audit_status_change(r, c->op, c->v, head, ids, c->changed, tail);
}

static tes_err status_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    status_ctx *c = vctx;
    c->changed = 0;
    return c->cred ? status_one(r, c) : status_person(r, c);
}

tes_err tes_registry_set_status(tes_registry *r, int64_t credential_id, int64_t person_id,
                                tes_status_value v, const char *operator_name, size_t *changed)
{
    if (changed)
        *changed = 0;
    if (!r || !reg_text_ok(operator_name, REG_MAX_TEXT))
        return tes_err_set(TES_ERR_ARG, "registry: set_status needs a registry and an operator "
                                        "name");
    if (v != TES_STATUS_VALID && v != TES_STATUS_REVOKED && v != TES_STATUS_SUSPENDED)
        return tes_err_set(TES_ERR_ARG, "registry: status %d is not valid, revoked or suspended",
                           (int)v);
    if (credential_id <= 0 && person_id <= 0)
        return tes_err_set(TES_ERR_ARG, "registry: set_status needs a credential id or a person "
                                        "id");
    if (credential_id < 0 || person_id < 0)
        return tes_err_set(TES_ERR_ARG, "registry: negative id");
    status_ctx c = {credential_id, person_id, v, operator_name, 0};
    tes_err e = reg_run_tx(r, status_body, &c);
    if (!e && changed)
        *changed = c.changed;
    return e;
}

tes_err tes_registry_status_list(tes_registry *r, const char *list_uri, size_t list_size,
                                 tes_status_list *out)
{
    if (!r || !reg_text_ok(list_uri, REG_MAX_TEXT - 1) || !out)
        return tes_err_set(TES_ERR_ARG, "registry: status_list needs a registry, a uri and an "
                                        "output");
    memset(out, 0, sizeof *out);
    if (list_size == 0 || list_size > TES_STATUS_MAX_ENTRIES)
        return tes_err_set(TES_ERR_ARG, "registry: a status list has 1 to %u entries, not %zu",
                           TES_STATUS_MAX_ENTRIES, list_size);
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(list_uri)};
    tes_err e = reg_exec(r, RS_LIST_GET, a, 1, &res);
    if (!e && res.nrows == 1 && reg_cell_int(&res, 0, 0) != (int64_t)list_size)
        e = tes_err_set(TES_ERR_ARG, "registry: status list %s has %lld entries, not %zu", list_uri,
                        (long long)reg_cell_int(&res, 0, 0), list_size);
    reg_result_free(&res);
    if (e)
        return e;
    if ((e = reg_exec(r, RS_CRED_NONVALID_IN_LIST, a, 1, &res)))
        return e;
    tes_status_list l = {0};
    e = tes_status_list_new(list_size, &l);
    for (size_t i = 0; !e && i < res.nrows; i++) {
        int64_t idx = reg_cell_int(&res, i, 0), v = reg_cell_int(&res, i, 1);
        if (idx < 0 || (uint64_t)idx >= list_size || (v != 1 && v != 2))
            e = tes_err_set(TES_ERR_STORE_CORRUPT,
                            "registry: status list %s: entry %lld with value %lld out of range",
                            list_uri, (long long)idx, (long long)v);
        else
            e = tes_status_list_set(&l, (size_t)idx, (tes_status_value)v);
    }
    reg_result_free(&res);
    if (e) {
        tes_status_list_free(&l);
        return e;
    }
    *out = l;
    return TES_OK;
}

/* ------------------------------------------------------- devices (schema v2) */

typedef struct {
    const char *device; /* 64 lower-case hex digits */
    int64_t person;     /* 0: any */
    tes_status_value v;
    const char *op;
    size_t changed;
} device_status_ctx;

static tes_err device_status_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    device_status_ctx *c = vctx;
    c->changed = 0;
    tes_err e = reg_lock_issuance(r);
    if (e)
        return e;
    if (c->person && (e = reg_person_exists(r, c->person)))
        return e;
    /* Something must be bound to the device (for that person): a mistyped
     * device id is an error, not "nothing changed". */
    reg_result res = {0};
    reg_arg q[] = {REG_TEXT(c->device), REG_INT(c->person)};
    if ((e = reg_exec(r, c->person ? RS_CRED_DEVICE_PERSON_ANY : RS_CRED_DEVICE_ANY, q,
                      c->person ? 2 : 1, &res)))
        return e;
    size_t any = res.nrows;
    reg_result_free(&res);
    if (!any)
        return c->person
                   ? tes_err_set(TES_ERR_NOT_FOUND,
                                 "registry: no credential of person %lld is bound to "
                                 "device %.16s...",
                                 (long long)c->person, c->device)
                   : tes_err_set(TES_ERR_NOT_FOUND,
                                 "registry: no credential is bound to device %.16s...", c->device);
    if (c->person) {
        reg_arg a[] = {REG_TEXT(c->device), REG_INT(c->person), REG_INT((int64_t)c->v)};
        e = reg_exec(r, RS_CRED_SET_DEVICE_PERSON, a, 3, &res);
    } else {
        reg_arg a[] = {REG_TEXT(c->device), REG_INT((int64_t)c->v)};
        e = reg_exec(r, RS_CRED_SET_DEVICE, a, 2, &res);
    }
    if (e)
        return e;
    int64_t *ids = changed_ids(&res, &c->changed);
    if (!ids)
        return reg_nomem("setting status");
    /* The phone itself: nothing more is issued onto it (for the person, or for
     * anyone) until it is reinstated; a revoked phone stays blocked. The
     * affected holders' open offers and access tokens are withdrawn. */
    char tail[96] = "";
    if (c->v != TES_STATUS_VALID) {
        reg_arg k[] = {REG_TEXT(c->device), REG_INT(c->person), REG_INT((int64_t)c->v)};
        e = reg_exec(r, RS_DEVICE_BLOCK, k, 3, NULL);
        if (!e)
            e = withdraw(r, c->person, c->person ? NULL : c->device, tail, sizeof tail);
    } else {
        reg_arg k[] = {REG_TEXT(c->device), REG_INT(c->person)};
        e = reg_exec(r, c->person ? RS_DEVICE_UNBLOCK_PERSON : RS_DEVICE_UNBLOCK, k,
                     c->person ? 2 : 1, NULL);
    }
    if (e) {
        free(ids);
        return e;
    }
    char head[160];
    if (c->person)
        snprintf(head, sizeof head, "device %s, person %lld: ", c->device, (long long)c->person);
    else
        snprintf(head, sizeof head, "device %s: ", c->device);
    return audit_status_change(r, c->op, c->v, head, ids, c->changed, tail);
}

tes_err tes_registry_set_status_by_device(tes_registry *r, const char *device, int64_t person_id,
                                          tes_status_value v, const char *operator_name,
                                          size_t *changed)
{
    if (changed)
        *changed = 0;
    if (!r || !reg_text_ok(operator_name, REG_MAX_TEXT))
        return tes_err_set(TES_ERR_ARG, "registry: set_status_by_device needs a registry and an "
                                        "operator name");
    if (!reg_thumbprint_ok(device))
        return tes_err_set(TES_ERR_ARG, "registry: a device id is 64 hex digits (SHA-256)");
    if (v != TES_STATUS_VALID && v != TES_STATUS_REVOKED && v != TES_STATUS_SUSPENDED)
        return tes_err_set(TES_ERR_ARG, "registry: status %d is not valid, revoked or suspended",
                           (int)v);
    if (person_id < 0)
        return tes_err_set(TES_ERR_ARG, "registry: negative id");
    char dev[65];
    reg_hex64_lower(device, dev);
    device_status_ctx c = {dev, person_id, v, operator_name, 0};
    tes_err e = reg_run_tx(r, device_status_body, &c);
    if (!e && changed)
        *changed = c.changed;
    return e;
}
