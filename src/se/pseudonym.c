/*
 * se/pseudonym.c — the backend-independent half of per-site pseudonyms
 * (tes_se_pseudonym, docs/PSEUDONYM.md): the wrapper, the check of the site
 * key and the final hash over the secret x-coordinate the backend computed.
 */
#include <stddef.h>
#include <string.h>

#include "se/se_internal.h"

tes_err tes_se_pseudonym(tes_se *se, const char *pin, tes_bytes site_key,
                         uint8_t out[TES_SE_PSEUDONYM_LEN])
{
    if (out != NULL)
        memset(out, 0, TES_SE_PSEUDONYM_LEN);
    if (se == NULL || se->ops == NULL || out == NULL || (site_key.ptr == NULL && site_key.len))
        return tes_err_set(TES_ERR_ARG, "tes_se_pseudonym: NULL argument");
    const tes_se_ops *o = se->ops;
    if (o->size < offsetof(tes_se_ops, pseudonym) + sizeof o->pseudonym || o->pseudonym == NULL)
        return tes_err_set(TES_ERR_UNSUPPORTED, "the %s secure element makes no pseudonyms",
                           o->name ? o->name : "(unnamed)");
    tes_err e = o->pseudonym(se, pin, site_key, out);
    if (e != TES_OK)
        memset(out, 0, TES_SE_PSEUDONYM_LEN);
    return e;
}

tes_err se_pseudonym_site_key(tes_bytes site_key, tes_key **out)
{
    *out = NULL;
    if (site_key.len != SE_SITE_KEY_LEN || site_key.ptr == NULL)
        return tes_err_set(TES_ERR_SITE_KEY,
                           "site key has %zu bytes: a pseudonym needs the uncompressed P-256 "
                           "point (65 bytes, 04 || x || y)",
                           site_key.len);
    if (site_key.ptr[0] != 0x04)
        return tes_err_set(TES_ERR_SITE_KEY,
                           "site key starts with 0x%02x: a pseudonym needs the uncompressed "
                           "P-256 point (04 || x || y)",
                           site_key.ptr[0]);
    tes_err e = tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(site_key.ptr + 1, 32),
                                      TES_BYTES(site_key.ptr + 33, 32), out);
    if (e == TES_ERR_KEY_MALFORMED)
        return tes_err_set(TES_ERR_SITE_KEY, "site key is not a point on P-256");
    return e;
}

tes_err se_pseudonym_finish(const uint8_t z[32], tes_bytes site_key,
                            uint8_t out[TES_SE_PSEUDONYM_LEN])
{
    static const char label[] = TES_SE_PSEUDONYM_LABEL;
    uint8_t in[sizeof label - 1 + 32 + SE_SITE_KEY_LEN];
    memcpy(in, label, sizeof label - 1);
    memcpy(in + sizeof label - 1, z, 32);
    memcpy(in + sizeof label - 1 + 32, site_key.ptr, SE_SITE_KEY_LEN);
    tes_err e = tes_digest(TES_HASH_SHA256, TES_BYTES(in, sizeof in), out);
    tes_wipe(in, sizeof in);
    return e;
}
