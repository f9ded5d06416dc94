/* The wallet's door keys (tessera/wallet.h, "door keys"): the key request, adding the
 * hotel's key package and revocation documents, listing the keys. The keyring the
 * access engine asks and the tap over vpcd are in keys_tap.c; shared: keys_internal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wallet/keys_internal.h"

/* ---- helpers (keys_internal.h) ---- */

tes_err keys_point_key(const uint8_t p[TES_ACCESS_POINT_LEN], const char *what, tes_key **out)
{
    *out = NULL;
    if (p[0] != 0x04 || tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(p + 1, 32),
                                              TES_BYTES(p + 33, 32), out) != TES_OK)
        return tes_err_set(TES_ERR_ACCESS_DOC_FORMAT,
                           "the key package's %s is not an uncompressed P-256 point", what);
    return TES_OK;
}

void keys_rooms_join(const tes_access_grant *g, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < g->n_rooms && i < TES_ACCESS_MAX_ROOMS; i++) {
        int n = snprintf(out + at, cap - at, "%s%.*s", i ? ", " : "", TES_ACCESS_ROOM_MAX - 1,
                         g->rooms[i]);
        if (n < 0 || (size_t)n >= cap - at)
            break;
        at += (size_t)n;
    }
}

/* Whether the group's revocation document held (verified with the key's issuer
 * key) lists k's key id. Errors of reading or verifying count as not revoked
 * here: the document was verified when it was kept. */
static bool key_revoked(tes_wallet *w, const tes_store_access_key *k)
{
    if (!k->active || k->issuer_key.len != TES_ACCESS_POINT_LEN ||
        k->key_id.len != TES_ACCESS_KEY_ID_LEN)
        return false;
    tes_buf doc = {0};
    int64_t version = 0;
    tes_key *ik = NULL;
    tes_access_revocation *rv = calloc(1, sizeof *rv);
    bool revoked = false;
    if (rv &&
        tes_store_access_revocation_get(tes_wallet_store(w), tes_buf_bytes(&k->group_id), &version,
                                        &doc) == TES_OK &&
        keys_point_key(k->issuer_key.ptr, "issuer key", &ik) == TES_OK) {
        const tes_key *const iss[] = {ik};
        if (tes_access_revocation_verify(tes_buf_bytes(&doc), iss, 1, rv) == TES_OK)
            for (size_t i = 0; i < rv->n_keys && !revoked; i++)
                revoked = tes_ct_eq(TES_BYTES(rv->keys[i], TES_ACCESS_KEY_ID_LEN),
                                    tes_buf_bytes(&k->key_id));
    }
    tes_key_free(ik);
    tes_buf_free(&doc);
    free(rv);
    return revoked;
}

void keys_info_from_row(tes_wallet *w, const tes_store_access_key *k, tes_wallet_key_info *out)
{
    memset(out, 0, sizeof *out);
    out->id = k->id;
    out->active = k->active;
    snprintf(out->issuer, sizeof out->issuer, "%s", k->issuer ? k->issuer : "");
    snprintf(out->rooms, sizeof out->rooms, "%s", k->rooms ? k->rooms : "");
    snprintf(out->se_key_id, sizeof out->se_key_id, "%s", k->se_key_id ? k->se_key_id : "");
    out->not_before = k->not_before;
    out->not_after = k->not_after;
    out->issued_at = k->issued_at;
    out->created_at = k->created_at;
    if (k->key_id.len == TES_ACCESS_KEY_ID_LEN)
        tes_hex_str(out->key_id, tes_buf_bytes(&k->key_id));
    out->revoked = key_revoked(w, k);
}

/* ---- the key request ---- */

tes_err tes_wallet_key_request(tes_wallet *w, tes_buf *request)
{
    if (w == NULL || request == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_key_request: NULL argument");
    tes_se *se = tes_wallet_se(w);
    const tes_se_key_opts ko = {.user_verification = false, .single_use = false};
    char id[TES_SE_ID_MAX] = "";
    tes_access_key_request rq = {0};
    tes_key *pub = NULL;
    tes_buf chain = {0};
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    tes_err e = tes_se_create_key(se, &ko, id);
    if (e != TES_OK)
        return e;
    if ((e = tes_se_public_key(se, id, &pub)) != TES_OK ||
        (e = tes_key_public_raw(pub, x, y)) != TES_OK)
        goto out;
    rq.endpoint_key[0] = 0x04;
    memcpy(rq.endpoint_key + 1, x, 32);
    memcpy(rq.endpoint_key + 33, y, 32);
    if (se->ops->attest != NULL) {
        static const char ch[] = TES_WALLET_KEY_ATTEST_CHALLENGE;
        if ((e = se->ops->attest(se, id, TES_BYTES(ch, sizeof ch - 1), &chain)) != TES_OK)
            goto out;
        rq.attestation = tes_buf_bytes(&chain);
    }
    if ((e = tes_store_access_key_request(tes_wallet_store(w), id,
                                          TES_BYTES(rq.endpoint_key, TES_ACCESS_POINT_LEN),
                                          NULL)) != TES_OK)
        goto out;
    size_t before = request->len;
    if ((e = tes_access_key_request_encode(&rq, request)) != TES_OK) {
        request->len = before;
        /* the row stays 'requested' for a key that is deleted below: drop it too */
        tes_store_access_key k = {0};
        if (tes_store_access_key_by_endpoint(tes_wallet_store(w),
                                             TES_BYTES(rq.endpoint_key, TES_ACCESS_POINT_LEN),
                                             &k) == TES_OK &&
            tes_store_access_key_delete(tes_wallet_store(w), k.id) != TES_OK) {
            /* best effort: a requested key nobody can activate is harmless */
        }
        tes_store_access_key_clear(&k);
    }
out:
    if (e != TES_OK && id[0] && se->ops->delete_key(se, id) != TES_OK) {
        /* best effort: a key never handed out */
    }
    tes_key_free(pub);
    tes_buf_free(&chain);
    return e;
}

/* ---- adding a key package ---- */

/* The package's documents verified: the grant, and the revocation when present. */
static tes_err check_package(const tes_access_key_package *p, tes_access_grant *g,
                             tes_access_revocation *rv, bool *has_rv)
{
    tes_key *ik = NULL, *rk = NULL;
    *has_rv = false;
    tes_err e = keys_point_key(p->issuer_key, "issuer key", &ik);
    if (e != TES_OK)
        return e;
    const tes_key *const iss[] = {ik};
    if ((e = tes_access_doc_verify(p->document, iss, 1, g)) != TES_OK)
        goto out;
    if (!tes_ct_eq(TES_BYTES(g->group_id, TES_ACCESS_GROUP_ID_LEN),
                   TES_BYTES(p->group_id, TES_ACCESS_GROUP_ID_LEN))) {
        e = tes_err_set(TES_ERR_ACCESS_DOC_FORMAT,
                        "the key package's reader group is not the one its access document "
                        "grants");
        goto out;
    }
    if ((e = keys_point_key(p->reader_key, "reader key", &rk)) != TES_OK)
        goto out;
    if (p->revocation.len) {
        if ((e = tes_access_revocation_verify(p->revocation, iss, 1, rv)) != TES_OK)
            goto out;
        if (!tes_ct_eq(TES_BYTES(rv->group_id, TES_ACCESS_GROUP_ID_LEN),
                       TES_BYTES(p->group_id, TES_ACCESS_GROUP_ID_LEN))) {
            e = tes_err_set(TES_ERR_ACCESS_DOC_FORMAT,
                            "the key package's revocation document is for another reader group");
            goto out;
        }
        *has_rv = true;
    }
out:
    tes_key_free(ik);
    tes_key_free(rk);
    return e;
}

/* The requested key the document is bound to, still in the secure element. */
static tes_err requested_key(tes_wallet *w, const tes_access_grant *g, tes_bytes document,
                             tes_store_access_key *row)
{
    tes_err e = tes_store_access_key_by_endpoint(
        tes_wallet_store(w), TES_BYTES(g->endpoint_key, TES_ACCESS_POINT_LEN), row);
    if (e == TES_ERR_NOT_FOUND)
        return tes_err_set(TES_ERR_ACCESS_ENDPOINT,
                           "the key package is for an endpoint key this wallet did not request "
                           "(a key request of another phone or wallet?)");
    if (e != TES_OK)
        return e;
    if (row->active && tes_bytes_eq(tes_buf_bytes(&row->document), document))
        return tes_err_set(TES_ERR_EXISTS,
                           "this key package was added already (door key %lld from %s)",
                           (long long)row->id, row->issuer);
    if (row->active && row->issued_at >= g->signed_at)
        return tes_err_set(TES_ERR_EXISTS,
                           "door key %lld holds an access document of %s signed at the same time "
                           "or later: the package's is not newer",
                           (long long)row->id, row->issuer);
    tes_key *pub = NULL, *want = NULL;
    bool held = tes_se_public_key(tes_wallet_se(w), row->se_key_id, &pub) == TES_OK &&
                keys_point_key(g->endpoint_key, "endpoint key", &want) == TES_OK &&
                tes_key_equal_public(pub, want);
    tes_key_free(pub);
    tes_key_free(want);
    if (!held)
        return tes_err_set(TES_ERR_KEY_UNKNOWN,
                           "the secure element no longer holds the endpoint key %s the package "
                           "is for",
                           row->se_key_id);
    return TES_OK;
}

tes_err tes_wallet_key_add(tes_wallet *w, tes_bytes package, tes_wallet_key_info *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (w == NULL || (package.len && package.ptr == NULL))
        return tes_err_set(TES_ERR_ARG, "tes_wallet_key_add: NULL argument");
    tes_access_key_package p;
    tes_access_grant g;
    tes_access_revocation *rv = calloc(1, sizeof *rv);
    tes_store_access_key row = {0};
    bool has_rv = false;
    tes_err e;
    if (rv == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    if ((e = tes_access_key_package_parse(package, &p)) != TES_OK ||
        (e = check_package(&p, &g, rv, &has_rv)) != TES_OK ||
        (e = requested_key(w, &g, p.document, &row)) != TES_OK)
        goto out;
    char rooms[TES_WALLET_KEY_ROOMS_MAX];
    keys_rooms_join(&g, rooms, sizeof rooms);
    const tes_store_access_grant sg = {
        .endpoint_key = TES_BYTES(g.endpoint_key, TES_ACCESS_POINT_LEN),
        .group_id = TES_BYTES(g.group_id, TES_ACCESS_GROUP_ID_LEN),
        .reader_key = TES_BYTES(p.reader_key, TES_ACCESS_POINT_LEN),
        .issuer_key = TES_BYTES(p.issuer_key, TES_ACCESS_POINT_LEN),
        .document = p.document,
        .key_id = TES_BYTES(g.key_id, TES_ACCESS_KEY_ID_LEN),
        .issuer = p.issuer,
        .rooms = rooms,
        .not_before = g.not_before,
        .not_after = g.not_after,
        .issued_at = g.signed_at,
        .rev_document = has_rv ? p.revocation : TES_BYTES(NULL, 0),
        .rev_version = has_rv ? rv->version : 0,
    };
    if ((e = tes_store_access_key_activate(tes_wallet_store(w), &sg, NULL)) != TES_OK)
        goto out;
    if (out) {
        tes_store_access_key_clear(&row);
        if ((e = tes_store_access_key_by_endpoint(tes_wallet_store(w), sg.endpoint_key, &row)) ==
            TES_OK)
            keys_info_from_row(w, &row, out);
    }
out:
    tes_store_access_key_clear(&row);
    free(rv);
    return e;
}

/* ---- revocation documents ---- */

/* The distinct issuer keys of the wallet's active keys (of group g when g is not NULL). */
static tes_err issuer_keys(const tes_store_access_key *k, size_t n, const uint8_t *group,
                           tes_key **out, size_t *n_out)
{
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        if (!k[i].active || k[i].issuer_key.len != TES_ACCESS_POINT_LEN)
            continue;
        if (group && !(k[i].group_id.len == TES_ACCESS_GROUP_ID_LEN &&
                       memcmp(k[i].group_id.ptr, group, TES_ACCESS_GROUP_ID_LEN) == 0))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = k[j].active &&
                   (!group || tes_bytes_eq(tes_buf_bytes(&k[j].group_id),
                                           TES_BYTES(group, TES_ACCESS_GROUP_ID_LEN))) &&
                   tes_bytes_eq(tes_buf_bytes(&k[j].issuer_key), tes_buf_bytes(&k[i].issuer_key));
        if (seen)
            continue;
        tes_err e = keys_point_key(k[i].issuer_key.ptr, "issuer key", &out[*n_out]);
        if (e != TES_OK)
            return e;
        (*n_out)++;
    }
    return TES_OK;
}

static void free_keys(tes_key **k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tes_key_free(k[i]);
}

tes_err tes_wallet_key_revocation_add(tes_wallet *w, tes_bytes doc, tes_wallet_revocation_info *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (w == NULL || (doc.len && doc.ptr == NULL))
        return tes_err_set(TES_ERR_ARG, "tes_wallet_key_revocation_add: NULL argument");
    tes_store_access_key *k = NULL;
    size_t n = 0, n_all = 0, n_group = 0;
    tes_key **all = NULL, **group = NULL;
    tes_access_revocation *rv = calloc(1, sizeof *rv);
    tes_err e = rv ? tes_store_access_keys_list(tes_wallet_store(w), &k, &n)
                   : tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (e != TES_OK)
        goto out;
    all = calloc(n ? n : 1, sizeof *all);
    group = calloc(n ? n : 1, sizeof *group);
    if (!all || !group) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((e = issuer_keys(k, n, NULL, all, &n_all)) != TES_OK)
        goto out;
    if (n_all == 0) {
        e = tes_err_set(TES_ERR_NOT_FOUND,
                        "the wallet holds no door key, so no hotel whose revocations it carries");
        goto out;
    }
    /* which group: any hotel the wallet knows may have signed it ... */
    if ((e = tes_access_revocation_verify(doc, (const tes_key *const *)all, n_all, rv)) != TES_OK)
        goto out;
    /* ... but it counts only when signed by the hotel of that group */
    if ((e = issuer_keys(k, n, rv->group_id, group, &n_group)) != TES_OK)
        goto out;
    if (n_group == 0) {
        e = tes_err_set(TES_ERR_NOT_FOUND,
                        "the wallet holds no key of the revocation document's reader group");
        goto out;
    }
    if ((e = tes_access_revocation_verify(doc, (const tes_key *const *)group, n_group, rv)) !=
        TES_OK) {
        if (e == TES_ERR_ACCESS_ISSUER)
            e = tes_err_set(TES_ERR_ACCESS_ISSUER,
                            "the revocation document is not signed by the hotel of its reader "
                            "group");
        goto out;
    }
    e = tes_store_access_revocation_put(
        tes_wallet_store(w), TES_BYTES(rv->group_id, TES_ACCESS_GROUP_ID_LEN), rv->version, doc);
    if (e == TES_ERR_EXISTS) {
        e = tes_err_set(TES_ERR_ACCESS_ROLLBACK,
                        "the wallet holds a revocation document of this group that is as new or "
                        "newer (version %lld given): kept the held one",
                        (long long)rv->version);
        goto out;
    }
    if (e != TES_OK || out == NULL)
        goto out;
    out->version = rv->version;
    out->n_keys = rv->n_keys;
    for (size_t i = 0; i < n; i++) {
        if (!k[i].active || k[i].group_id.len != TES_ACCESS_GROUP_ID_LEN ||
            memcmp(k[i].group_id.ptr, rv->group_id, TES_ACCESS_GROUP_ID_LEN) != 0)
            continue;
        if (!out->issuer[0])
            snprintf(out->issuer, sizeof out->issuer, "%s", k[i].issuer);
        for (size_t j = 0; j < rv->n_keys; j++)
            if (k[i].key_id.len == TES_ACCESS_KEY_ID_LEN &&
                memcmp(rv->keys[j], k[i].key_id.ptr, TES_ACCESS_KEY_ID_LEN) == 0) {
                out->own_revoked++;
                break;
            }
    }
out:
    if (all)
        free_keys(all, n_all);
    if (group)
        free_keys(group, n_group);
    free(all);
    free(group);
    free(rv);
    tes_store_access_keys_free(k, n);
    return e;
}

/* ---- listing ---- */

tes_err tes_wallet_keys(tes_wallet *w, tes_wallet_key_info **out, size_t *n)
{
    if (w == NULL || out == NULL || n == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_keys: NULL argument");
    *out = NULL;
    *n = 0;
    tes_store_access_key *k = NULL;
    size_t nk = 0;
    tes_err e = tes_store_access_keys_list(tes_wallet_store(w), &k, &nk);
    if (e != TES_OK || nk == 0)
        return e;
    tes_wallet_key_info *info = calloc(nk, sizeof *info);
    if (info == NULL) {
        tes_store_access_keys_free(k, nk);
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nk; i++)
        keys_info_from_row(w, &k[i], &info[i]);
    tes_store_access_keys_free(k, nk);
    *out = info;
    *n = nk;
    return TES_OK;
}

void tes_wallet_keys_free(tes_wallet_key_info *k, size_t n)
{
    (void)n;
    free(k);
}
