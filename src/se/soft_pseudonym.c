/*
 * se/soft_pseudonym.c — per-site pseudonyms in the software secure element
 * (tes_se_pseudonym, docs/PSEUDONYM.md). The pseudonym key is one P-256
 * scalar in the sealed state ("pseud_d"), made on first use and never a
 * soft_key: no id names it, so sign, key agreement, attestation and listing
 * cannot reach it, and its public key is never computed for anyone.
 */
#include <string.h>

#include "se/soft_internal.h"

tes_err soft_pseudonym(tes_se *se, const char *pin, tes_bytes site_key, uint8_t out[32])
{
    soft_se *s = soft_of(se);
    if (s == NULL)
        return tes_err_set(TES_ERR_ARG, "pseudonym: not a soft secure element");
    tes_key *site = NULL;
    tes_err err = se_pseudonym_site_key(site_key, &site); /* a bad key costs no try */
    if (err)
        return err;
    if (pin == NULL) {
        tes_key_free(site);
        return tes_err_set(TES_ERR_PIN_REQUIRED, "a pseudonym needs the holder's PIN");
    }
    if ((err = se_check_pin_format(pin, SE_SECRET_PIN, SE_PIN_DIGITS)) != TES_OK) {
        tes_key_free(site);
        return err;
    }
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK) {
        tes_key_free(site);
        return err;
    }
    tes_key *priv = NULL;
    uint8_t z[TES_MAX_COORD];
    size_t z_len = 0;
    if ((err = soft_pin_check(s, &st, pin)) != TES_OK)
        goto out;
    if (!st.have_pseud) {
        if ((err = soft_scalar_new(&s->rng, st.pseud_d, NULL)) != TES_OK)
            goto out;
        st.have_pseud = true;
        st.dirty = true;
    }
    /* Kept before the first pseudonym leaves: a crash never changes it. */
    if (st.dirty && (err = soft_state_store(s, &st)) != TES_OK)
        goto out;
    if ((err = tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(st.pseud_d, SOFT_SCALAR_LEN),
                                       &priv)) != TES_OK ||
        (err = tes_key_ecdh(priv, site, z, &z_len)) != TES_OK)
        goto out;
    if (z_len != 32) {
        err = tes_err_set(TES_ERR_CRYPTO, "pseudonym: ECDH gave %zu bytes", z_len);
        goto out;
    }
    err = se_pseudonym_finish(z, site_key, out);
out:
    tes_wipe(z, sizeof z);
    tes_key_free(priv);
    tes_key_free(site);
    return soft_op_end(s, &st, err);
}
