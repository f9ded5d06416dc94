/*
 * The registry's stateless c_nonces: made with the registry's key, recorded once used
 * (the registry's design notes: registry.c).
 */
#include "registry/reg_logic.h"

/* ------------------------------------------------------------------ nonces */

/* A c_nonce is stateless until used: base64url of
 *     version (1) || expiry (8, big endian) || random (16) || tag (16)
 * with tag = the first 16 bytes of HMAC-SHA-256(key, "tessera c_nonce" ||
 * version || expiry || random), key a 32-byte secret made once per registry
 * (table secrets, so every process on the registry makes and accepts the
 * same nonces). Making one writes nothing; consuming one checks the tag and
 * the expiry, then records its hash (table nonces) until it expires, so a
 * second use is refused; recorded nonces past their expiry are purged by
 * every consumption. 41 bytes: 55 characters. */
#define NONCE_VERSION 1
#define NONCE_RAW 41
#define NONCE_TAG 16
#define NONCE_TEXT 55
static const char NONCE_KEY_NAME[] = "c_nonce-hmac-v1";
static const char NONCE_LABEL[] = "tessera c_nonce";

typedef struct {
    const char *hash;
    int64_t now, expires;
} nonce_ctx;

typedef struct {
    const char *fresh; /* hex of a new key, inserted unless one exists */
    char got[65];
} secret_ctx;

static tes_err secret_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    secret_ctx *c = vctx;
    reg_arg a[] = {REG_TEXT(NONCE_KEY_NAME), REG_TEXT(c->fresh)};
    tes_err e = reg_exec(r, RS_SECRET_ENSURE, a, 2, NULL);
    if (e)
        return e;
    reg_result res = {0};
    if ((e = reg_exec(r, RS_SECRET_GET, a, 1, &res)))
        return e;
    const char *v = res.nrows == 1 ? reg_cell(&res, 0, 0) : NULL;
    if (!v || strlen(v) != 64)
        e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: the c_nonce key is missing or damaged");
    else
        memcpy(c->got, v, 65);
    reg_result_free(&res);
    return e;
}

/* Loads (once per handle) the registry's c_nonce key, making it if none exists. */
static tes_err nonce_key(tes_registry *r)
{
    if (r->have_nonce_key)
        return TES_OK;
    uint8_t raw[32];
    char hex[65];
    tes_err e = reg_rand_fill(r, raw, sizeof raw);
    if (e)
        return e;
    tes_hex_str(hex, TES_BYTES(raw, sizeof raw));
    tes_wipe(raw, sizeof raw);
    secret_ctx c = {hex, ""};
    e = reg_run_tx(r, secret_body, &c);
    tes_wipe(hex, sizeof hex);
    for (int i = 0; !e && i < 32; i++) {
        int hi = tes_hex_digit(c.got[2 * i]), lo = tes_hex_digit(c.got[2 * i + 1]);
        if (hi < 0 || lo < 0)
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: the c_nonce key is not hex");
        else
            r->nonce_key[i] = (uint8_t)(hi << 4 | lo);
    }
    tes_wipe(c.got, sizeof c.got);
    if (!e)
        r->have_nonce_key = true;
    return e;
}

static tes_err nonce_tag(const tes_registry *r, const uint8_t *raw, uint8_t tag[NONCE_TAG])
{
    uint8_t msg[sizeof NONCE_LABEL - 1 + NONCE_RAW - NONCE_TAG], mac[32];
    memcpy(msg, NONCE_LABEL, sizeof NONCE_LABEL - 1);
    memcpy(msg + sizeof NONCE_LABEL - 1, raw, NONCE_RAW - NONCE_TAG);
    tes_err e = tes_hmac_sha256(TES_BYTES(r->nonce_key, sizeof r->nonce_key),
                                TES_BYTES(msg, sizeof msg), mac);
    if (!e)
        memcpy(tag, mac, NONCE_TAG);
    tes_wipe(mac, sizeof mac);
    return e;
}

tes_err tes_registry_nonce_new(tes_registry *r, int64_t now, int64_t lifetime, char nonce[64])
{
    if (!r || !nonce)
        return tes_err_set(TES_ERR_ARG, "registry: nonce_new needs a registry and an output");
    nonce[0] = '\0';
    if (lifetime <= 0 || now < 0 || now > INT64_MAX - lifetime)
        return tes_err_set(TES_ERR_ARG, "registry: nonce lifetime must be positive");
    tes_err e = nonce_key(r);
    if (e)
        return e;
    uint8_t raw[NONCE_RAW];
    uint64_t exp = (uint64_t)(now + lifetime);
    raw[0] = NONCE_VERSION;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (uint8_t)(exp >> (56 - 8 * i));
    if ((e = reg_rand_fill(r, raw + 9, 16)) || (e = nonce_tag(r, raw, raw + NONCE_RAW - NONCE_TAG)))
        return e;
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(raw, sizeof raw));
    if (b.failed || b.len != NONCE_TEXT) {
        tes_buf_free(&b);
        return reg_nomem("making a c_nonce");
    }
    memcpy(nonce, b.ptr, b.len);
    nonce[b.len] = '\0';
    tes_buf_free(&b);
    return TES_OK;
}

static tes_err nonce_consume_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    nonce_ctx *c = vctx;
    reg_arg p[] = {REG_INT(c->now)};
    tes_err e = reg_exec(r, RS_NONCE_PURGE, p, 1, NULL);
    if (e)
        return e;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(c->hash), REG_INT(c->expires)};
    if ((e = reg_exec(r, RS_NONCE_RECORD, a, 2, &res)))
        return e;
    size_t recorded = res.nrows;
    reg_result_free(&res);
    return recorded == 1 ? TES_OK : tes_err_set(TES_ERR_NONCE, "registry: c_nonce already used");
}

tes_err tes_registry_nonce_consume(tes_registry *r, const char *nonce, int64_t now)
{
    if (!r || !nonce)
        return tes_err_set(TES_ERR_ARG, "registry: nonce_consume needs a registry and a nonce");
    size_t len = strnlen(nonce, REG_MAX_SECRET + 1);
    if (len != NONCE_TEXT)
        return tes_err_set(TES_ERR_NONCE, "registry: unknown c_nonce (not one this issuer makes)");
    tes_err e = nonce_key(r);
    if (e)
        return e;
    tes_buf raw = {0};
    raw.secret = true;
    if (tes_b64url_decode(&raw, nonce, len) != TES_OK || raw.len != NONCE_RAW ||
        raw.ptr[0] != NONCE_VERSION) {
        tes_buf_free(&raw);
        return tes_err_set(TES_ERR_NONCE, "registry: unknown c_nonce (not one this issuer makes)");
    }
    uint8_t tag[NONCE_TAG];
    if ((e = nonce_tag(r, raw.ptr, tag))) {
        tes_buf_free(&raw);
        return e;
    }
    bool genuine =
        tes_ct_eq(TES_BYTES(tag, NONCE_TAG), TES_BYTES(raw.ptr + NONCE_RAW - NONCE_TAG, NONCE_TAG));
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = exp << 8 | raw.ptr[1 + i];
    tes_buf_free(&raw);
    if (!genuine)
        return tes_err_set(TES_ERR_NONCE,
                           "registry: unknown c_nonce (its authentication tag is wrong)");
    if (exp > INT64_MAX || now >= (int64_t)exp)
        return tes_err_set(TES_ERR_NONCE, "registry: c_nonce expired");
    char h[65];
    if ((e = reg_hash_hex(nonce, NULL, h)))
        return e;
    nonce_ctx c = {h, now, (int64_t)exp};
    return reg_run_tx(r, nonce_consume_body, &c);
}
