/* The reader authorities a wallet trusts: D/reader_roots.pem, PEM
 * certificates one after the other (tessera/wallet.h, "reader trust"; the
 * file `tessera wallet trust-reader` has always written). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/wallet.h"

#define ROOTS_MAX_BYTES (1u << 20)

static tes_err roots_path(tes_wallet *w, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s/%s", tes_wallet_dir(w), TES_WALLET_READER_ROOTS) >= (int)cap)
        return tes_err_set(TES_ERR_ARG, "wallet path too long");
    return TES_OK;
}

static void certs_free(tes_cert **c, size_t n)
{
    for (size_t i = 0; c != NULL && i < n; i++)
        tes_cert_free(c[i]);
    free(c);
}

tes_err tes_wallet_reader_roots_get(tes_wallet *w, tes_cert ***out, size_t *n)
{
    if (out == NULL || n == NULL || w == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_reader_roots_get: NULL argument");
    *out = NULL;
    *n = 0;
    char path[PATH_MAX];
    tes_err e = roots_path(w, path, sizeof(path));
    if (e != TES_OK)
        return e;
    if (access(path, F_OK) != 0) {
        if (errno == ENOENT)
            return TES_OK; /* trusts none */
        return tes_err_set(TES_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    tes_buf raw = {0};
    if ((e = tes_file_read(path, ROOTS_MAX_BYTES, &raw)) != TES_OK)
        return e;
    tes_cert **certs = calloc(TES_WALLET_MAX_READER_ROOTS, sizeof(*certs));
    size_t k = 0;
    if (certs == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    else if (raw.len > 0)
        e = tes_cert_parse_all(tes_buf_bytes(&raw), certs, TES_WALLET_MAX_READER_ROOTS, &k);
    tes_buf_free(&raw);
    if (e != TES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", tes_err_message_for(e));
        certs_free(certs, k);
        return tes_err_set(e, "the wallet's reader roots %s: %s", path, msg);
    }
    if (k == 0) {
        free(certs);
        return TES_OK;
    }
    *out = certs;
    *n = k;
    return TES_OK;
}

tes_err tes_wallet_reader_roots_load(tes_wallet *w, tes_trust_store *store, size_t *n)
{
    if (n != NULL)
        *n = 0;
    if (store == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_reader_roots_load: store is NULL");
    tes_cert **certs = NULL;
    size_t k = 0;
    tes_err e = tes_wallet_reader_roots_get(w, &certs, &k);
    for (size_t i = 0; e == TES_OK && i < k; i++)
        e = tes_trust_store_add(store, TES_PROFILE_READER, certs[i]);
    certs_free(certs, k);
    if (e == TES_OK && n != NULL)
        *n = k;
    return e;
}

static bool same_cert(const tes_cert *a, const tes_cert *b)
{
    return memcmp(tes_cert_get_info(a)->sha256, tes_cert_get_info(b)->sha256, 32) == 0;
}

/* Writes certs[0..n) as the wallet's roots (n 0: removes the file). */
static tes_err roots_write(tes_wallet *w, tes_cert *const *certs, size_t n)
{
    char path[PATH_MAX];
    tes_err e = roots_path(w, path, sizeof(path));
    if (e != TES_OK)
        return e;
    if (n == 0) {
        if (unlink(path) != 0 && errno != ENOENT)
            return tes_err_set(TES_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        return TES_OK;
    }
    tes_buf pem = {0};
    for (size_t i = 0; e == TES_OK && i < n; i++)
        e = tes_cert_to_pem(certs[i], &pem);
    if (e == TES_OK)
        e = tes_file_write(path, tes_buf_bytes(&pem), 0644);
    tes_buf_free(&pem);
    return e;
}

/* Checks every root (nothing changes on a failure). */
static tes_err roots_check(tes_cert *const *roots, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        tes_err e = roots[i] == NULL ? tes_err_set(TES_ERR_ARG, "reader root %zu is NULL", i)
                                     : tes_trust_check_root(roots[i]);
        if (e != TES_OK) {
            if (bad)
                *bad = i;
            return e;
        }
    }
    return TES_OK;
}

/* Appends the roots not in certs[0..*k) (capacity TES_WALLET_MAX_READER_ROOTS). */
static tes_err roots_merge(tes_cert **certs, size_t *k, tes_cert *const *roots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < *k && !dup; j++)
            dup = same_cert(certs[j], roots[i]);
        if (dup)
            continue;
        if (*k == TES_WALLET_MAX_READER_ROOTS)
            return tes_err_set(TES_ERR_READER_ROOTS_FULL,
                               "the wallet trusts at most %d reader authorities; %s not added",
                               TES_WALLET_MAX_READER_ROOTS, tes_cert_get_info(roots[i])->subject);
        certs[(*k)++] = tes_cert_ref(roots[i]);
    }
    return TES_OK;
}

tes_err tes_wallet_reader_roots_add(tes_wallet *w, tes_cert *const *roots, size_t n,
                                    size_t *added, size_t *bad)
{
    if (added)
        *added = 0;
    if (w == NULL || (roots == NULL && n > 0))
        return tes_err_set(TES_ERR_ARG, "tes_wallet_reader_roots_add: NULL argument");
    tes_err e = roots_check(roots, n, bad);
    if (e != TES_OK)
        return e;
    tes_cert **have = NULL;
    size_t k = 0;
    if ((e = tes_wallet_reader_roots_get(w, &have, &k)) != TES_OK)
        return e;
    tes_cert **all = calloc(TES_WALLET_MAX_READER_ROOTS, sizeof(*all));
    if (all == NULL) {
        certs_free(have, k);
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    if (k > 0)
        memcpy(all, have, k * sizeof(*all));
    free(have);
    size_t before = k;
    e = roots_merge(all, &k, roots, n);
    if (e == TES_OK && k > before)
        e = roots_write(w, all, k);
    if (e == TES_OK && added)
        *added = k - before;
    certs_free(all, k);
    return e;
}

tes_err tes_wallet_reader_roots_set(tes_wallet *w, tes_cert *const *roots, size_t n, size_t *bad)
{
    if (w == NULL || (roots == NULL && n > 0))
        return tes_err_set(TES_ERR_ARG, "tes_wallet_reader_roots_set: NULL argument");
    tes_err e = roots_check(roots, n, bad);
    if (e != TES_OK)
        return e;
    tes_cert **all = calloc(TES_WALLET_MAX_READER_ROOTS, sizeof(*all));
    size_t k = 0;
    if (all == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    e = roots_merge(all, &k, roots, n);
    if (e == TES_OK)
        e = roots_write(w, all, k);
    certs_free(all, k);
    return e;
}
