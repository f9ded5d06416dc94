/* The holder's wallet: its directory (store + secure element), opening and
 * creating it, adding a batch of copies with the acceptance rules, reading a
 * credential back, and the phone's device id. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tessera/mdoc.h"
#include "tessera/wallet.h"

#define MAX_KEYS 4096

struct tes_wallet {
    char dir[PATH_MAX];
    char spec[PATH_MAX + 16]; /* as stored */
    tes_store *store;
    tes_se *se;
};

static bool path_in(char *out, size_t cap, const char *dir, const char *file)
{
    return snprintf(out, cap, "%s/%s", dir, file) < (int)cap;
}

/* Turns the stored spec into one tes_se_open accepts: a relative soft
 * directory is relative to the wallet directory. */
static bool resolve_spec(const char *dir, const char *spec, char *out, size_t cap)
{
    if (strncmp(spec, "soft:", 5) == 0 && spec[5] != '/')
        return snprintf(out, cap, "soft:%s/%s", dir, spec + 5) < (int)cap;
    return snprintf(out, cap, "%s", spec) < (int)cap;
}

static tes_err wallet_new(const char *dir, tes_wallet **out)
{
    *out = NULL;
    if (dir == NULL || *dir == '\0')
        return tes_err_set(TES_ERR_ARG, "no wallet directory given");
    tes_wallet *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (snprintf(w->dir, sizeof(w->dir), "%s", dir) >= (int)sizeof(w->dir)) {
        free(w);
        return tes_err_set(TES_ERR_ARG, "wallet path too long");
    }
    *out = w;
    return TES_OK;
}

tes_err tes_wallet_open(const char *dir, const tes_wallet_open_opts *o, tes_wallet **out)
{
    (void)o;
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_open: out is NULL");
    tes_wallet *w;
    tes_err e = wallet_new(dir, &w);
    if (e != TES_OK)
        return e;
    char db[PATH_MAX], state[PATH_MAX], wal[PATH_MAX + 8];
    if (!path_in(db, sizeof(db), dir, TES_WALLET_DB) ||
        !path_in(state, sizeof(state), dir, TES_WALLET_SE_DIR) ||
        snprintf(wal, sizeof(wal), "%s-wal", db) >= (int)sizeof(wal)) {
        e = tes_err_set(TES_ERR_ARG, "wallet path too long");
        goto fail;
    }
    struct stat st, wst;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        e = tes_err_set(TES_ERR_NOT_FOUND, "wallet '%s' does not exist", dir);
        goto fail;
    }
    if (stat(db, &st) != 0) {
        e = tes_err_set(TES_ERR_NOT_FOUND, "'%s' is not a wallet: it has no %s", dir,
                        TES_WALLET_DB);
        goto fail;
    }
    /* A new wallet's store has several pages; an empty file is a truncated
     * store, not a new one: opening it would silently make a fresh, empty
     * store in its place. (Its data could only be in the -wal file.) */
    if (S_ISREG(st.st_mode) && st.st_size == 0 && (stat(wal, &wst) != 0 || wst.st_size == 0)) {
        e = tes_err_set(TES_ERR_STORE_CORRUPT,
                        "the wallet store %s is empty (0 bytes): it was truncated or damaged; "
                        "refusing to create a new store over it (restore it from a backup)",
                        db);
        goto fail;
    }
    if ((e = tes_store_open(db, &w->store)) != TES_OK)
        goto fail;
    char *spec = NULL;
    e = tes_store_get(w->store, TES_WALLET_SETTING_SE, &spec);
    if (e == TES_ERR_NOT_FOUND)
        e = tes_err_set(TES_ERR_STORE_CORRUPT,
                        "the wallet store %s names no secure element (setting '%s' missing): it "
                        "is damaged or was not made as a wallet",
                        db, TES_WALLET_SETTING_SE);
    if (e != TES_OK)
        goto fail;
    bool fits = snprintf(w->spec, sizeof(w->spec), "%s", spec) < (int)sizeof(w->spec);
    free(spec);
    char resolved[PATH_MAX + 32];
    if (!fits || !resolve_spec(dir, w->spec, resolved, sizeof(resolved))) {
        e = tes_err_set(TES_ERR_ARG, "wallet path too long");
        goto fail;
    }
    if ((e = tes_se_open(resolved, state, &w->se)) != TES_OK)
        goto fail;
    *out = w;
    return TES_OK;
fail:
    tes_wallet_close(w);
    return e;
}

tes_err tes_wallet_create(const char *dir, const tes_wallet_create_opts *o, tes_wallet **out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_create: out is NULL");
    *out = NULL;
    const char *in = o && o->se_spec ? o->se_spec : "soft";
    const char *vendor = o ? o->vendor_dir : NULL;
    tes_wallet *w;
    tes_err e = wallet_new(dir, &w);
    if (e != TES_OK)
        return e;
    bool soft = strcmp(in, "soft") == 0 || strcmp(in, "soft:" TES_WALLET_SE_DIR) == 0;
    if (soft)
        snprintf(w->spec, sizeof(w->spec), "soft:%s", TES_WALLET_SE_DIR);
    else if (strncmp(in, "pkcs11:", 7) != 0 || in[7] == '\0' || in[7] == ':') {
        e = tes_err_set(TES_ERR_ARG,
                        "the secure element must be 'soft' or 'pkcs11:MODULE[:LABEL]', not '%s'",
                        in);
        goto fail;
    } else if (snprintf(w->spec, sizeof(w->spec), "%s", in) >= (int)sizeof(w->spec)) {
        e = tes_err_set(TES_ERR_ARG, "secure element spec too long");
        goto fail;
    }
    if (vendor != NULL && !soft) {
        e = tes_err_set(TES_ERR_ARG, "a vendor provisions the software secure element only (a "
                                     "PKCS#11 token has no Tessera attestation key)");
        goto fail;
    }
    char db[PATH_MAX], state[PATH_MAX], open_spec[PATH_MAX + 32];
    if (!path_in(db, sizeof(db), dir, TES_WALLET_DB) ||
        !path_in(state, sizeof(state), dir, TES_WALLET_SE_DIR) ||
        snprintf(open_spec, sizeof(open_spec), "soft:%s", state) >= (int)sizeof(open_spec)) {
        e = tes_err_set(TES_ERR_ARG, "wallet path too long");
        goto fail;
    }
    bool created;
    if ((e = tes_dir_secret(dir, &created)) != TES_OK)
        goto fail;
    if (!created) {
        struct stat st;
        if (stat(db, &st) == 0) {
            e = tes_err_set(TES_ERR_EXISTS,
                            "'%s' already holds a wallet (%s exists); refusing to touch it", dir,
                            TES_WALLET_DB);
            goto fail;
        }
        if (chmod(dir, 0700) != 0) {
            e = tes_err_set(TES_ERR_IO, "cannot set the mode of '%s': %s", dir, strerror(errno));
            goto fail;
        }
    }
    if (!soft && mkdir(state, 0700) != 0 && errno != EEXIST) {
        e = tes_err_set(TES_ERR_IO, "cannot create '%s': %s", state, strerror(errno));
        goto fail;
    }
    /* The secure element first: a missing PKCS#11 module leaves no store. */
    if ((e = tes_se_open(soft ? open_spec : w->spec, state, &w->se)) != TES_OK)
        goto fail;
    if (vendor != NULL && (e = tes_se_soft_provision(w->se, vendor)) != TES_OK)
        goto fail;
    if ((e = tes_store_open(db, &w->store)) != TES_OK)
        goto fail;
    if ((e = tes_store_set(w->store, TES_WALLET_SETTING_SE, w->spec)) != TES_OK)
        goto fail;
    *out = w;
    return TES_OK;
fail:
    tes_wallet_close(w);
    return e;
}

void tes_wallet_close(tes_wallet *w)
{
    if (w == NULL)
        return;
    if (w->se)
        tes_se_close(w->se);
    if (w->store)
        tes_store_close(w->store);
    free(w);
}

tes_store *tes_wallet_store(tes_wallet *w)
{
    return w ? w->store : NULL;
}

tes_se *tes_wallet_se(tes_wallet *w)
{
    return w ? w->se : NULL;
}

const char *tes_wallet_dir(const tes_wallet *w)
{
    return w ? w->dir : "";
}

const char *tes_wallet_se_spec(const tes_wallet *w)
{
    return w ? w->spec : "";
}

bool tes_wallet_needs_login(tes_wallet *w)
{
    return w != NULL && w->se != NULL && (tes_se_caps(w->se) & TES_SE_CAP_LOGIN) != 0;
}

/* ---- adding a batch ---- */

/* Finds the secure-element key whose public key is `want`. */
static tes_err find_key(tes_se *se, const tes_key *want, char (*ids)[TES_SE_ID_MAX], size_t n,
                        char id[TES_SE_ID_MAX])
{
    for (size_t i = 0; i < n; i++) {
        tes_key *k = NULL;
        if (tes_se_public_key(se, ids[i], &k) != TES_OK)
            continue;
        bool eq = tes_key_equal_public(k, want);
        tes_key_free(k);
        if (eq) {
            snprintf(id, TES_SE_ID_MAX, "%s", ids[i]);
            return TES_OK;
        }
    }
    return tes_err_set(TES_ERR_KEY_UNKNOWN, "no key in the wallet's secure element matches the "
                                            "credential's device key");
}

const char *tes_wallet_default_name(const char *doctype)
{
    if (strcmp(doctype, TES_DOCTYPE_PID) == 0)
        return "PID";
    if (strcmp(doctype, TES_DOCTYPE_MDL) == 0)
        return "mDL";
    return doctype;
}

/* Copy i's key when the adder named it: the copy must be bound to it. */
static tes_err expected_key(tes_se *se, const tes_key *want, size_t i, const char *id,
                            char out[TES_SE_ID_MAX])
{
    tes_key *k = NULL;
    bool bound = id != NULL && strlen(id) < TES_SE_ID_MAX &&
                 tes_se_public_key(se, id, &k) == TES_OK && tes_key_equal_public(k, want);
    tes_key_free(k);
    if (!bound)
        return tes_err_set(TES_ERR_COPY_NOT_BOUND,
                           "copy %zu is not bound to the key %s made for it", i,
                           id ? id : "(none)");
    snprintf(out, TES_SE_ID_MAX, "%s", id);
    return TES_OK;
}

tes_err tes_wallet_add_batch(tes_wallet *w, const tes_bytes *mdocs, size_t n,
                             const char *display_name, int64_t *cred_id, size_t *bad)
{
    const tes_wallet_add_opts o = {.display_name = display_name};
    return tes_wallet_add(w, mdocs, n, &o, cred_id, bad);
}

tes_err tes_wallet_add(tes_wallet *w, const tes_bytes *mdocs, size_t n,
                       const tes_wallet_add_opts *o, int64_t *cred_id, size_t *bad)
{
    static const tes_wallet_add_opts defaults = {0};
    if (o == NULL)
        o = &defaults;
    const char *display_name = o->display_name;
    if (bad)
        *bad = n;
    if (w == NULL || mdocs == NULL || cred_id == NULL || n == 0 || n > TES_WALLET_MAX_COPIES)
        return tes_err_set(TES_ERR_ARG,
                           "tes_wallet_add: needs a wallet, 1..%d copies and "
                           "cred_id",
                           TES_WALLET_MAX_COPIES);
    if (o->copy_use != TES_WALLET_COPIES_AS_KEYS && o->copy_use != TES_WALLET_COPIES_SINGLE_USE)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_add: unknown copy use %d", (int)o->copy_use);
    if (display_name != NULL && *display_name == '\0')
        return tes_err_set(TES_ERR_ARG, "the display name must not be empty");
    tes_se *se = w->se;
    tes_store_new_copy *copies = calloc(n, sizeof(*copies));
    char(*key_ids)[TES_SE_ID_MAX] = calloc(n, TES_SE_ID_MAX);
    /* without the keys named, every key of the SE is a candidate */
    char(*all)[TES_SE_ID_MAX] = o->key_ids ? NULL : calloc(MAX_KEYS, TES_SE_ID_MAX);
    tes_mdoc_cred_info first = {0};
    size_t n_all = 0, at = n;
    bool single = false, uv = false;
    tes_err e;
    if (!copies || !key_ids || (!all && !o->key_ids)) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (all && (e = se->ops->list_keys(se, all, MAX_KEYS, &n_all)) != TES_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        at = i;
        tes_mdoc_cred_info f;
        if ((e = tes_mdoc_cred_info_read(mdocs[i], &f)) != TES_OK)
            goto out;
        if (i > 0 &&
            (strcmp(f.doctype, first.doctype) != 0 || strcmp(f.issuer, first.issuer) != 0)) {
            e = tes_err_set(TES_ERR_BATCH_MIXED,
                            "copy %zu is not a copy of the same credential as copy 0 (%s from "
                            "%s, not %s from %s)",
                            i, f.doctype, f.issuer, first.doctype, first.issuer);
            tes_mdoc_cred_info_free(&f);
            goto out;
        }
        e = o->key_ids ? expected_key(se, f.device_key, i, o->key_ids[i], key_ids[i])
                       : find_key(se, f.device_key, all, n_all, key_ids[i]);
        if (e != TES_OK) {
            tes_mdoc_cred_info_free(&f);
            goto out;
        }
        if (i == 0) {
            first = f;
        } else {
            /* the batch is valid from the latest start to the earliest end */
            if (f.valid_from > first.valid_from)
                first.valid_from = f.valid_from;
            if (f.valid_until < first.valid_until)
                first.valid_until = f.valid_until;
            tes_mdoc_cred_info_free(&f);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(key_ids[j], key_ids[i]) == 0) {
                e = tes_err_set(TES_ERR_BATCH_KEY_SHARED,
                                "copies %zu and %zu are bound to the same key %s (copies need "
                                "keys of their own)",
                                j, i, key_ids[i]);
                goto out;
            }
        tes_se_key_info ki;
        if ((e = se->ops->key_info(se, key_ids[i], &ki)) != TES_OK)
            goto out;
        if (i == 0) {
            single = ki.single_use;
            uv = ki.user_verification;
        } else if (ki.single_use != single || ki.user_verification != uv) {
            e = tes_err_set(TES_ERR_BATCH_PROTECTIONS,
                            "the copies' keys differ in their protections (key %s is%s "
                            "single-use and %s the PIN; key %s is%s single-use and %s the PIN)",
                            key_ids[0], single ? "" : " not", uv ? "needs" : "does not need",
                            key_ids[i], ki.single_use ? "" : " not",
                            ki.user_verification ? "needs" : "does not need");
            goto out;
        }
        if (ki.single_use && ki.used) {
            e = tes_err_set(TES_ERR_KEY_USED,
                            "copy %zu is bound to single-use key %s, already used", i, key_ids[i]);
            goto out;
        }
        copies[i].key_id = key_ids[i];
        copies[i].mdoc = mdocs[i];
    }
    at = n;
    const tes_store_cred meta = {
        .doctype = first.doctype,
        .display_name =
            (char *)(display_name ? display_name : tes_wallet_default_name(first.doctype)),
        .issuer = first.issuer,
        .valid_from = first.valid_from,
        .valid_until = first.valid_until,
        .copies = (int64_t)n,
        .needs_pin = uv,
    };
    /* single-use: by the keys, or as the adder asks (tes_wallet_copy_use) */
    single = single || o->copy_use == TES_WALLET_COPIES_SINGLE_USE;
    e = tes_store_add_credential(w->store, &meta, copies, n, single, cred_id);
out:
    if (e != TES_OK && bad)
        *bad = at;
    tes_mdoc_cred_info_free(&first);
    free(copies);
    free(key_ids);
    free(all);
    return e;
}

tes_err tes_wallet_credential(tes_wallet *w, int64_t id, tes_store_cred **out)
{
    if (w == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_credential: NULL argument");
    *out = NULL;
    tes_store_cred *all = NULL;
    size_t n = 0;
    tes_err e = tes_store_list(w->store, &all, &n);
    if (e != TES_OK)
        return e;
    size_t at = n;
    for (size_t i = 0; i < n && at == n; i++)
        if (all[i].id == id)
            at = i;
    if (at == n) {
        e = tes_err_set(TES_ERR_NOT_FOUND, "the wallet has no credential %lld", (long long)id);
    } else if ((*out = calloc(1, sizeof(**out))) == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    } else {
        **out = all[at]; /* moved: its strings now belong to *out */
        all[at] = (tes_store_cred){0};
    }
    tes_store_creds_free(all, n);
    return e;
}

/* ---- the device id ---- */

tes_err tes_wallet_device_id(tes_wallet *w, char out[65])
{
    if (w == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_device_id: NULL argument");
    out[0] = '\0';
    tes_se *se = w->se;
    if (se->ops->attest == NULL)
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "this secure element (%s) makes no key attestations, so the wallet has "
                           "no device id: the issuer knows each key by its thumbprint",
                           se->ops->name);
    char ids[1][TES_SE_ID_MAX], tmp[TES_SE_ID_MAX] = "";
    size_t n = 0;
    tes_err e = se->ops->list_keys(se, ids, 1, &n);
    if (e == TES_ERR_BUFFER_SMALL)
        e = TES_OK, n = 1;
    if (e != TES_OK)
        return e;
    const char *key = ids[0];
    if (n == 0) {
        const tes_se_key_opts ko = {0};
        if ((e = tes_se_create_key(se, &ko, tmp)) != TES_OK)
            return e;
        key = tmp;
    }
    static const char challenge[] = "tessera device-id";
    tes_buf chain = {0};
    e = se->ops->attest(se, key, TES_BYTES(challenge, sizeof challenge - 1), &chain);
    if (tmp[0] && se->ops->delete_key(se, tmp) != TES_OK) {
        /* best effort: a key never used */
    }
    if (e == TES_OK)
        e = tes_se_device_id(tes_buf_bytes(&chain), out);
    tes_buf_free(&chain);
    return e;
}
