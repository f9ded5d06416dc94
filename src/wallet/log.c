/* The wallet's credentials and transaction log, read through the wallet
 * (tessera/wallet.h, "credentials and the transaction log"). */
#include <stdlib.h>

#include "tessera/wallet.h"

tes_err tes_wallet_list(tes_wallet *w, tes_store_cred **out, size_t *n)
{
    if (w == NULL || out == NULL || n == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_list: NULL argument");
    return tes_store_list(tes_wallet_store(w), out, n);
}

tes_err tes_wallet_credential(tes_wallet *w, int64_t id, tes_store_cred **out)
{
    if (out != NULL)
        *out = NULL;
    tes_store_cred *all = NULL;
    size_t n = 0;
    tes_err e = out == NULL ? tes_err_set(TES_ERR_ARG, "tes_wallet_credential: out is NULL")
                            : tes_wallet_list(w, &all, &n);
    if (e != TES_OK)
        return e;
    size_t at = n;
    for (size_t i = 0; i < n; i++)
        if (all[i].id == id)
            at = i;
    if (at == n) {
        tes_store_creds_free(all, n);
        return tes_err_set(TES_ERR_NOT_FOUND, "the wallet holds no credential %lld",
                           (long long)id);
    }
    /* the one asked for moves to the front; the others' strings are freed
     * (the array stays: tes_store_creds_free(*out, 1) frees it) */
    tes_store_cred one = all[at];
    all[at] = all[0];
    all[0] = one;
    for (size_t i = 1; i < n; i++) {
        free(all[i].doctype);
        free(all[i].display_name);
        free(all[i].issuer);
    }
    *out = all;
    return TES_OK;
}

tes_err tes_wallet_log(tes_wallet *w, tes_store_log_entry **out, size_t *n)
{
    if (w == NULL || out == NULL || n == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_log: NULL argument");
    return tes_store_log_list(tes_wallet_store(w), out, n);
}
