/*
 * The registry's issued batches: state and budget checks, status list series, indexes
 * (the registry's design notes: registry.c).
 */
#include "registry/reg_logic.h"

/* ----------------------------------------------------------- issued batches */

typedef struct {
    int64_t person_id, valid_from, valid_until;
    const char *doctype, *uri;
    size_t size;
    const char (*thumbs)[65];
    const char (*devs)[65];
    size_t n;
    tes_registry_issued *out;
    /* tes_registry_issue_for_token only (token_hash NULL otherwise) */
    const char *token_hash, *base;
    int64_t now, offer_id;
    const tes_registry_budget *budget;
    char list_uri[TES_REGISTRY_URI_MAX];
} issue_ctx;

/* Inside the issuance transaction, before anything is written: the access
 * token (still valid, not withdrawn), the person (valid), every phone of the
 * batch (not reported lost), then the budgets (the offer's is charged here).
 * The issuance lock is taken first: a status change of the person or of a
 * phone runs entirely before or entirely after. */
static tes_err issue_checks(tes_registry *r, issue_ctx *c)
{
    tes_err e = reg_lock_issuance(r);
    if (e)
        return e;
    reg_result res = {0};
    if (c->token_hash) {
        reg_arg t[] = {REG_TEXT(c->token_hash)};
        if ((e = reg_exec(r, RS_TOKEN_LOCK, t, 1, &res)))
            return e;
        if (res.nrows == 0)
            e = tes_err_set(TES_ERR_TOKEN, "registry: unknown access token");
        else if (reg_cell(&res, 0, 3) != NULL)
            e = tes_err_set(TES_ERR_TOKEN, "registry: access token withdrawn: the holder's "
                                           "credentials were revoked or suspended");
        else if (c->now >= reg_cell_int(&res, 0, 2))
            e = tes_err_set(TES_ERR_TOKEN, "registry: access token expired");
        else {
            c->person_id = reg_cell_int(&res, 0, 0);
            c->offer_id = reg_cell_int(&res, 0, 1);
        }
        reg_result_free(&res);
        if (e)
            return e;
    }
    int64_t state = 0;
    if ((e = reg_person_state(r, c->person_id, &state)))
        return e;
    if (state != TES_STATUS_VALID)
        return tes_err_set(TES_ERR_DENIED, "registry: person %lld is %s: nothing is issued",
                           (long long)c->person_id, reg_value_name(state));
    for (size_t i = 0; i < c->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->devs[j], c->devs[i]) == 0;
        if (seen)
            continue;
        reg_arg d[] = {REG_TEXT(c->devs[i]), REG_INT(c->person_id)};
        if ((e = reg_exec(r, RS_DEVICE_BLOCKED, d, 2, &res)))
            return e;
        if (res.nrows)
            e = tes_err_set(TES_ERR_DENIED,
                            "registry: the phone %.16s... of key %zu is %s (reported lost): "
                            "nothing is issued onto it",
                            c->devs[i], i, reg_value_name(reg_cell_int(&res, 0, 0)));
        reg_result_free(&res);
        if (e)
            return e;
    }
    const tes_registry_budget *b = c->budget;
    if (b && b->per_offer > 0 && c->offer_id > 0) {
        reg_arg o[] = {REG_INT(c->offer_id), REG_INT((int64_t)c->n), REG_INT(b->per_offer)};
        if ((e = reg_exec(r, RS_OFFER_CHARGE, o, 3, &res)))
            return e;
        size_t charged = res.nrows;
        reg_result_free(&res);
        if (!charged) {
            if ((e = reg_exec(r, RS_OFFER_ISSUED, o, 1, &res)))
                return e;
            int64_t had = res.nrows ? reg_cell_int(&res, 0, 0) : 0;
            reg_result_free(&res);
            return tes_err_set(TES_ERR_BUDGET,
                               "registry: this offer has obtained %lld of its %lld credentials; "
                               "%zu more do not fit (ask the authority for a new offer)",
                               (long long)had, (long long)b->per_offer, c->n);
        }
    }
    if (b && b->per_person > 0 && b->period > 0) {
        int64_t since = c->now > INT64_MIN + b->period ? c->now - b->period : INT64_MIN;
        reg_arg q[] = {REG_INT(c->person_id), REG_INT(since)};
        if ((e = reg_exec(r, RS_PERSON_ISSUED_SINCE, q, 2, &res)))
            return e;
        int64_t had = reg_cell_int(&res, 0, 0), oldest = reg_cell_int(&res, 0, 1);
        reg_result_free(&res);
        if (had + (int64_t)c->n > b->per_person)
            return tes_err_set(TES_ERR_BUDGET,
                               "registry: person %lld obtained %lld credentials in the last %lld "
                               "seconds, at most %lld are allowed; %zu more do not fit (room "
                               "again from %lld)",
                               (long long)c->person_id, (long long)had, (long long)b->period,
                               (long long)b->per_person, c->n, (long long)(oldest + b->period));
    }
    return TES_OK;
}

/* The list of the series under c->base to issue n into: the current one, or,
 * when it has no room for the whole batch, the next (created now: rollover). */
static tes_err pick_list(tes_registry *r, issue_ctx *c)
{
    reg_arg a[] = {REG_TEXT(c->base), REG_INT((int64_t)c->size)};
    tes_err e = reg_exec(r, RS_SERIES_ENSURE, a, 2, NULL);
    if (e)
        return e;
    reg_result res = {0};
    if ((e = reg_exec(r, RS_SERIES_LOCK, a, 1, &res)))
        return e;
    if (res.nrows != 1) {
        reg_result_free(&res);
        return tes_err_set(TES_ERR_STORE, "registry: status list series %s vanished", c->base);
    }
    int64_t current = reg_cell_int(&res, 0, 0), size = reg_cell_int(&res, 0, 1);
    reg_result_free(&res);
    if (size != (int64_t)c->size)
        return tes_err_set(TES_ERR_ARG,
                           "registry: the status lists under %s have %lld entries, "
                           "not %zu",
                           c->base, (long long)size, c->size);
    for (int64_t start = current;; current++) {
        if (current - start > 1000000)
            return tes_err_set(TES_ERR_STORE, "registry: no status list under %s has room",
                               c->base);
        snprintf(c->list_uri, sizeof c->list_uri, "%s%lld", c->base, (long long)current);
        reg_arg q[] = {REG_TEXT(c->list_uri)};
        if ((e = reg_exec(r, RS_LIST_GET, q, 1, &res)))
            return e;
        bool room = res.nrows == 0 ||
                    (reg_cell_int(&res, 0, 0) == (int64_t)c->size &&
                     reg_cell_int(&res, 0, 1) + (int64_t)c->n <= reg_cell_int(&res, 0, 0));
        reg_result_free(&res);
        if (room)
            break;
    }
    reg_arg u[] = {REG_TEXT(c->base), REG_INT(current)};
    if ((e = reg_exec(r, RS_SERIES_SET, u, 2, NULL)))
        return e;
    c->uri = c->list_uri;
    return TES_OK;
}

int reg_cmp_i64(const void *a, const void *b)
{
    int64_t x1 = *(const int64_t *)a, x2 = *(const int64_t *)b;
    return (x1 > x2) - (x1 < x2);
}

/* Picks a uniformly random index not in used[0..nused) (sorted, distinct), given that
 * size > nused. */
static tes_err pick_free(tes_registry *r, const int64_t *used, size_t nused, size_t size,
                         int64_t *out)
{
    uint64_t k = 0;
    tes_err e = reg_rand_below(r, (uint64_t)(size - nused), &k);
    if (e)
        return e;
    /* The k-th free index: walk the used ones in order. */
    int64_t cand = (int64_t)k;
    for (size_t i = 0; i < nused && used[i] <= cand; i++)
        cand++;
    *out = cand;
    return TES_OK;
}

/* Inserts one credential at idx; *id 0 when the index is taken. */
static tes_err cred_insert(tes_registry *r, const issue_ctx *c, int64_t batch, size_t i,
                           int64_t idx, int64_t *id)
{
    reg_result res = {0};
    reg_arg a[] = {REG_INT(c->person_id),   REG_INT(batch),
                   REG_TEXT(c->doctype),    REG_INT(c->valid_from),
                   REG_INT(c->valid_until), REG_TEXT(c->thumbs[i]),
                   REG_TEXT(c->uri),        REG_INT(idx),
                   REG_TEXT(c->devs[i])};
    tes_err e = reg_exec(r, RS_CRED_INSERT, a, 9, &res);
    *id = !e && res.nrows == 1 ? reg_cell_int(&res, 0, 0) : 0;
    reg_result_free(&res);
    return e;
}

static tes_err issue_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    issue_ctx *c = vctx;
    tes_err e = issue_checks(r, c);
    if (!e && c->base)
        e = pick_list(r, c);
    if (e)
        return e;
    /* Register the list, then lock its row while reserving room for the batch. */
    reg_arg l[] = {REG_TEXT(c->uri), REG_INT((int64_t)c->size)};
    if ((e = reg_exec(r, RS_LIST_ENSURE, l, 2, NULL)))
        return e;
    reg_result res = {0};
    reg_arg rv[] = {REG_TEXT(c->uri), REG_INT((int64_t)c->n)};
    if ((e = reg_exec(r, RS_LIST_RESERVE, rv, 2, &res)))
        return e;
    if (res.nrows != 1) {
        reg_result_free(&res);
        return tes_err_set(TES_ERR_STORE, "registry: status list %s vanished", c->uri);
    }
    int64_t size = reg_cell_int(&res, 0, 0), used = reg_cell_int(&res, 0, 1);
    reg_result_free(&res);
    if (size != (int64_t)c->size)
        return tes_err_set(TES_ERR_ARG, "registry: status list %s has %lld entries, not %zu",
                           c->uri, (long long)size, c->size);
    if (used > size)
        return tes_err_set(TES_ERR_STORE,
                           "registry: status list %s is full: %lld of %lld indexes in use, "
                           "the batch needs %zu more",
                           c->uri, (long long)(used - (int64_t)c->n), (long long)size, c->n);

    reg_arg b[] = {REG_INT(c->person_id), REG_INT((int64_t)c->n),
                   REG_INT(c->token_hash ? c->now : reg_now(r)), REG_INT(c->offer_id)};
    if ((e = reg_exec(r, RS_BATCH_INSERT_OFFER, b, 4, &res)))
        return e;
    int64_t batch = res.nrows == 1 ? reg_cell_int(&res, 0, 0) : 0;
    reg_result_free(&res);
    if (!batch)
        return tes_err_set(TES_ERR_STORE, "registry: recording a batch: no id returned");

    /* Indexes in use, loaded only if random draws keep hitting taken ones. */
    int64_t *taken = NULL;
    size_t ntaken = 0;
    bool dense = false;
    for (size_t i = 0; !e && i < c->n; i++) {
        int64_t id = 0, idx = 0;
        for (int t = 0; !e && !id && !dense && t < REG_RANDOM_TRIES; t++) {
            uint64_t v = 0;
            if (!(e = reg_rand_below(r, c->size, &v)))
                e = cred_insert(r, c, batch, i, idx = (int64_t)v, &id);
        }
        if (!e && !id) {
            if (!dense) {
                /* Crowded list: read the taken indexes once; we hold the list's lock
                 * (PostgreSQL row lock / SQLite write lock), so nobody adds any. */
                dense = true;
                reg_arg q[] = {REG_TEXT(c->uri)};
                if (!(e = reg_exec(r, RS_CRED_USED_IDX, q, 1, &res))) {
                    taken = malloc((res.nrows + c->n + 1) * sizeof *taken);
                    if (!taken)
                        e = reg_nomem("issuing");
                    for (size_t k = 0; !e && k < res.nrows; k++)
                        taken[ntaken++] = reg_cell_int(&res, k, 0);
                }
                reg_result_free(&res);
            }
            if (!e && ntaken >= c->size)
                e = tes_err_set(TES_ERR_STORE, "registry: status list %s is full", c->uri);
            if (!e)
                e = pick_free(r, taken, ntaken, c->size, &idx);
            if (!e)
                e = cred_insert(r, c, batch, i, idx, &id);
            if (!e && !id)
                e = tes_err_set(TES_ERR_STORE,
                                "registry: status list %s: index %lld taken although it "
                                "was free",
                                c->uri, (long long)idx);
        }
        if (!e) {
            if (dense) {
                /* keep taken sorted */
                taken[ntaken++] = idx;
                qsort(taken, ntaken, sizeof *taken, reg_cmp_i64);
            }
            c->out[i].credential_id = id;
            c->out[i].status_idx = (uint32_t)idx;
        }
    }
    free(taken);
    return e;
}

bool reg_thumbprint_ok(const char *t)
{
    if (!t || strnlen(t, 65) != 64)
        return false;
    for (int i = 0; i < 64; i++) {
        char ch = t[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return false;
    }
    return true;
}

/* Copies a 64-hex-digit SHA-256 in lower case. */
void reg_hex64_lower(const char *in, char out[65])
{
    for (int k = 0; k < 64; k++) {
        char ch = in[k];
        out[k] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
    }
    out[64] = '\0';
}

/* Checks the arguments shared by both issuing calls, copies the hex ids in
 * lower case and runs the transaction for c (whose other members are set). */
static tes_err issue_run(tes_registry *r, issue_ctx *c, const char *list_name,
                         const char *const *thumbprints, const char *const *devices)
{
    size_t n = c->n;
    if (!r || !reg_text_ok(c->doctype, REG_MAX_TEXT) ||
        !reg_text_ok(list_name, REG_MAX_TEXT - 24) || !thumbprints || !devices || !c->out || n == 0)
        return tes_err_set(TES_ERR_ARG,
                           "registry: issuing needs a registry, a doctype, a list "
                           "uri (< %d bytes), n >= 1 thumbprints and devices and an output",
                           REG_MAX_TEXT - 24);
    if (c->size == 0 || c->size > TES_STATUS_MAX_ENTRIES)
        return tes_err_set(TES_ERR_ARG, "registry: a status list has 1 to %u entries, not %zu",
                           TES_STATUS_MAX_ENTRIES, c->size);
    if (n > c->size)
        return tes_err_set(TES_ERR_STORE,
                           "registry: status list %s is full: a batch of %zu does "
                           "not fit in %zu entries",
                           list_name, n, c->size);
    if (c->valid_until <= c->valid_from)
        return tes_err_set(TES_ERR_ARG, "registry: valid_until must be after valid_from");
    char(*thumbs)[65] = malloc(2 * n * sizeof *thumbs);
    if (!thumbs)
        return reg_nomem("issuing");
    char(*devs)[65] = thumbs + n;
    for (size_t i = 0; i < n; i++) {
        if (!reg_thumbprint_ok(thumbprints[i])) {
            free(thumbs);
            return tes_err_set(TES_ERR_ARG,
                               "registry: thumbprint %zu is not 64 hex digits (SHA-256)", i);
        }
        if (!reg_thumbprint_ok(devices[i])) {
            free(thumbs);
            return tes_err_set(TES_ERR_ARG,
                               "registry: device id %zu is not 64 hex digits (SHA-256)", i);
        }
        reg_hex64_lower(thumbprints[i], thumbs[i]);
        reg_hex64_lower(devices[i], devs[i]);
    }
    c->thumbs = (const char(*)[65])thumbs;
    c->devs = (const char(*)[65])devs;
    tes_err e = reg_run_tx(r, issue_body, c);
    free(thumbs);
    if (e)
        memset(c->out, 0, n * sizeof *c->out);
    return e;
}

tes_err tes_registry_issue_batch(tes_registry *r, int64_t person_id, const char *doctype,
                                 int64_t valid_from, int64_t valid_until, const char *list_uri,
                                 size_t list_size, const char *const *thumbprints,
                                 const char *const *devices, size_t n, tes_registry_issued *out)
{
    issue_ctx c = {.person_id = person_id,
                   .valid_from = valid_from,
                   .valid_until = valid_until,
                   .doctype = doctype,
                   .uri = list_uri,
                   .size = list_size,
                   .n = n,
                   .out = out};
    return issue_run(r, &c, list_uri, thumbprints, devices);
}

tes_err tes_registry_issue_for_token(tes_registry *r, const char *token, int64_t now,
                                     const char *doctype, int64_t valid_from, int64_t valid_until,
                                     const char *list_base, size_t list_size,
                                     const tes_registry_budget *budget,
                                     const char *const *thumbprints, const char *const *devices,
                                     size_t n, tes_registry_issued *out,
                                     char list_uri[TES_REGISTRY_URI_MAX])
{
    if (list_uri)
        list_uri[0] = '\0';
    if (!r || !token || !list_uri)
        return tes_err_set(TES_ERR_ARG, "registry: issue_for_token needs a registry, a token and "
                                        "a list uri output");
    if (!*token || strnlen(token, REG_MAX_SECRET + 1) > REG_MAX_SECRET)
        return tes_err_set(TES_ERR_TOKEN, "registry: unknown access token");
    if (budget && budget->per_person > 0 && budget->period <= 0)
        return tes_err_set(TES_ERR_ARG, "registry: a per-person budget needs a period");
    char h[65];
    tes_err e = reg_hash_hex(token, NULL, h);
    if (e)
        return e;
    issue_ctx c = {.valid_from = valid_from,
                   .valid_until = valid_until,
                   .doctype = doctype,
                   .size = list_size,
                   .n = n,
                   .out = out,
                   .token_hash = h,
                   .base = list_base,
                   .now = now,
                   .budget = budget};
    e = issue_run(r, &c, list_base, thumbprints, devices);
    if (!e)
        memcpy(list_uri, c.list_uri, strlen(c.list_uri) + 1);
    return e;
}

tes_err tes_registry_status_series(tes_registry *r, const char *list_base, int64_t *current)
{
    if (!r || !reg_text_ok(list_base, REG_MAX_TEXT - 24) || !current)
        return tes_err_set(TES_ERR_ARG, "registry: status_series needs a registry, a base uri "
                                        "and an output");
    *current = 0;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(list_base)};
    tes_err e = reg_exec(r, RS_SERIES_GET, a, 1, &res);
    if (!e && res.nrows == 1)
        *current = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    return e;
}
