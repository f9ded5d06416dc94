/* The wallet's PIN and PUK (tessera/wallet.h, "the PIN"): thin over the
 * secure element's PIN operations, which keep the counters and check. */
#include "tessera/wallet.h"

static tes_err pin_args(const char *what, tes_wallet *w, const char *a, const char *b)
{
    if (w == NULL || a == NULL || b == NULL)
        return tes_err_set(TES_ERR_ARG, "%s: NULL argument", what);
    return TES_OK;
}

tes_err tes_wallet_pin_set(tes_wallet *w, const char *pin, const char *puk)
{
    tes_err e = pin_args("tes_wallet_pin_set", w, pin, puk);
    if (e != TES_OK)
        return e;
    tes_se *se = tes_wallet_se(w);
    return se->ops->pin_set(se, pin, puk);
}

tes_err tes_wallet_pin_change(tes_wallet *w, const char *old_pin, const char *new_pin)
{
    tes_err e = pin_args("tes_wallet_pin_change", w, old_pin, new_pin);
    if (e != TES_OK)
        return e;
    tes_se *se = tes_wallet_se(w);
    return se->ops->pin_change(se, old_pin, new_pin);
}

tes_err tes_wallet_pin_unblock(tes_wallet *w, const char *puk, const char *new_pin)
{
    tes_err e = pin_args("tes_wallet_pin_unblock", w, puk, new_pin);
    if (e != TES_OK)
        return e;
    tes_se *se = tes_wallet_se(w);
    return se->ops->pin_unblock(se, puk, new_pin);
}

tes_err tes_wallet_pin_status(tes_wallet *w, tes_wallet_pin_state *out)
{
    if (w == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_pin_status: NULL argument");
    *out = (tes_wallet_pin_state){0};
    tes_se *se = tes_wallet_se(w);
    int pin_left = 0, puk_left = 0;
    bool set = false;
    tes_err e = se->ops->pin_status(se, &pin_left, &puk_left, &set);
    if (e != TES_OK)
        return e;
    out->set = set;
    out->pin_tries_left = pin_left;
    out->puk_tries_left = puk_left;
    out->locked = set && pin_left == 0 && puk_left > 0;
    out->blocked = set && puk_left == 0;
    return TES_OK;
}
