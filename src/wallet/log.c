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

tes_err tes_wallet_log(tes_wallet *w, tes_store_log_entry **out, size_t *n)
{
    if (w == NULL || out == NULL || n == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_log: NULL argument");
    return tes_store_log_list(tes_wallet_store(w), out, n);
}
