/*
 * The key schedule of the Aliro transaction and its secure channel (docs/KEYS.md):
 *   Kdh         = X9.63-KDF-SHA-256(z = ECDH x of the two ephemeral keys, shared info = tx id)
 *   standard    = HKDF-SHA-256(Kdh, salt("Volatile****"), info = device ephemeral x, 160)
 *   persistent  = HKDF-SHA-256(Kdh, salt("Persistent**") || endpoint x, info, 32)
 *   fast        = HKDF-SHA-256(Kpersistent, salt("VolatileFast") || endpoint x, info, 160)
 * salt(label) = reader key x || label || reader id || interface || 5C 02 version ||
 *               reader ephemeral x || tx id || flags || policy || FCI A5 template.
 * Sub-keys (step-up, BLE) = HKDF-SHA-256(material, 32 zero bytes, label, 32).
 */
#include <string.h>

#include "tessera/access.h"

const uint8_t tes_access_aid_primary[TES_ACCESS_AID_LEN] = {0xA0, 0x00, 0x00, 0x09, 0x09,
                                                            0xAC, 0xCE, 0x55, 0x01};
const uint8_t tes_access_aid_stepup[TES_ACCESS_AID_LEN] = {0xA0, 0x00, 0x00, 0x09, 0x09,
                                                           0xAC, 0xCE, 0x55, 0x02};

#define SALT_MAX (32 + 12 + 32 + 1 + 4 + 32 + 16 + 2 + TES_ACCESS_FCI_MAX + 32)

tes_err tes_x963_kdf_sha256(tes_bytes z, tes_bytes shared_info, uint8_t *out, size_t out_len)
{
    if (!out || (z.len && !z.ptr) || (shared_info.len && !shared_info.ptr))
        return tes_err_set(TES_ERR_ARG, "tes_x963_kdf_sha256: NULL argument");
    uint8_t block[32];
    for (uint32_t counter = 1; out_len > 0; counter++) {
        uint8_t c[4] = {(uint8_t)(counter >> 24), (uint8_t)(counter >> 16), (uint8_t)(counter >> 8),
                        (uint8_t)counter};
        tes_bytes parts[3] = {z, TES_BYTES(c, 4), shared_info};
        tes_err err = tes_digest_parts(TES_HASH_SHA256, parts, 3, block);
        if (err)
            return err;
        size_t k = out_len < 32 ? out_len : 32;
        memcpy(out, block, k);
        out += k;
        out_len -= k;
    }
    tes_wipe(block, sizeof block);
    return TES_OK;
}

/* salt(label) [|| endpoint x]; returns its length (0 when the FCI is too long). */
static size_t build_salt(const tes_access_context *c, const char *label, const uint8_t *endpoint_x,
                         uint8_t out[SALT_MAX])
{
    if (c->fci_len > TES_ACCESS_FCI_MAX)
        return 0;
    size_t n = 0;
    memcpy(out + n, c->reader_key_x, 32), n += 32;
    memcpy(out + n, label, 12), n += 12;
    memcpy(out + n, c->reader_id, TES_ACCESS_READER_ID_LEN), n += TES_ACCESS_READER_ID_LEN;
    out[n++] = c->interface;
    out[n++] = 0x5C;
    out[n++] = 0x02;
    out[n++] = (uint8_t)(c->version >> 8);
    out[n++] = (uint8_t)c->version;
    memcpy(out + n, c->reader_eph_x, 32), n += 32;
    memcpy(out + n, c->tx_id, TES_ACCESS_TX_ID_LEN), n += TES_ACCESS_TX_ID_LEN;
    out[n++] = c->flags;
    out[n++] = c->policy;
    memcpy(out + n, c->fci, c->fci_len), n += c->fci_len;
    if (endpoint_x)
        memcpy(out + n, endpoint_x, 32), n += 32;
    return n;
}

static tes_err sub_key(const uint8_t material[32], const char *label, uint8_t out[32])
{
    static const uint8_t zero[32];
    return tes_hkdf_sha256(TES_BYTES(material, 32), TES_BYTES(zero, 32),
                           TES_BYTES(label, strlen(label)), out, 32);
}

static tes_err expand(const tes_access_context *c, tes_bytes ikm, const char *label,
                      const uint8_t *endpoint_x, uint8_t *okm, size_t okm_len)
{
    uint8_t salt[SALT_MAX];
    size_t n = build_salt(c, label, endpoint_x, salt);
    if (!n)
        return tes_err_set(TES_ERR_ARG, "access: FCI template of %zu bytes is too long",
                           c->fci_len);
    return tes_hkdf_sha256(ikm, TES_BYTES(salt, n), TES_BYTES(c->device_eph_x, 32), okm, okm_len);
}

tes_err tes_access_derive_standard(const tes_access_context *c, const uint8_t z[32],
                                   tes_access_keys *out, uint8_t kdh[32])
{
    if (!c || !z || !out || !kdh)
        return tes_err_set(TES_ERR_ARG, "tes_access_derive_standard: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t okm[160];
    tes_err err =
        tes_x963_kdf_sha256(TES_BYTES(z, 32), TES_BYTES(c->tx_id, TES_ACCESS_TX_ID_LEN), kdh, 32);
    if (!err)
        err = expand(c, TES_BYTES(kdh, 32), "Volatile****", NULL, okm, sizeof okm);
    if (!err) {
        memcpy(out->exchange_reader, okm, 32);
        memcpy(out->exchange_device, okm + 32, 32);
        memcpy(out->stepup_material, okm + 64, 32);
        memcpy(out->ble_material, okm + 96, 32);
        memcpy(out->uwb_ranging, okm + 128, 32);
        out->has_stepup_material = true;
    }
    tes_wipe(okm, sizeof okm);
    if (err) {
        tes_wipe(out, sizeof *out);
        tes_wipe(kdh, 32);
    }
    return err;
}

tes_err tes_access_keys_expand(tes_access_keys *k, unsigned which)
{
    if (!k || (which & ~(TES_ACCESS_KEYS_STEPUP | TES_ACCESS_KEYS_BLE)))
        return tes_err_set(TES_ERR_ARG, "tes_access_keys_expand: bad argument");
    tes_err err = TES_OK;
    if ((which & TES_ACCESS_KEYS_STEPUP) && !k->has_stepup) {
        if (!k->has_stepup_material)
            return tes_err_set(TES_ERR_STATE, "access: a fast transaction has no step-up keys");
        err = sub_key(k->stepup_material, "SKReader", k->stepup_reader);
        if (!err)
            err = sub_key(k->stepup_material, "SKDevice", k->stepup_device);
        k->has_stepup = !err;
    }
    if (!err && (which & TES_ACCESS_KEYS_BLE) && !k->has_ble) {
        err = sub_key(k->ble_material, "BleSKReader", k->ble_reader);
        if (!err)
            err = sub_key(k->ble_material, "BleSKDevice", k->ble_device);
        k->has_ble = !err;
    }
    return err;
}

tes_err tes_access_derive_persistent(const tes_access_context *c, const uint8_t kdh[32],
                                     const uint8_t endpoint_key_x[32], uint8_t kpersistent[32])
{
    if (!c || !kdh || !endpoint_key_x || !kpersistent)
        return tes_err_set(TES_ERR_ARG, "tes_access_derive_persistent: NULL argument");
    return expand(c, TES_BYTES(kdh, 32), "Persistent**", endpoint_key_x, kpersistent, 32);
}

tes_err tes_access_derive_fast(const tes_access_context *c, const uint8_t kpersistent[32],
                               const uint8_t endpoint_key_x[32], tes_access_keys *out)
{
    if (!c || !kpersistent || !endpoint_key_x || !out)
        return tes_err_set(TES_ERR_ARG, "tes_access_derive_fast: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t okm[160];
    tes_err err =
        expand(c, TES_BYTES(kpersistent, 32), "VolatileFast", endpoint_key_x, okm, sizeof okm);
    if (!err) {
        memcpy(out->cryptogram, okm, 32);
        memcpy(out->exchange_reader, okm + 32, 32);
        memcpy(out->exchange_device, okm + 64, 32);
        memcpy(out->ble_material, okm + 96, 32);
        memcpy(out->uwb_ranging, okm + 128, 32);
    }
    tes_wipe(okm, sizeof okm);
    if (err)
        tes_wipe(out, sizeof *out);
    return err;
}

tes_err tes_access_derive_cryptogram_key(const tes_access_context *c, const uint8_t kpersistent[32],
                                         const uint8_t endpoint_key_x[32], uint8_t key[32])
{
    if (!c || !kpersistent || !endpoint_key_x || !key)
        return tes_err_set(TES_ERR_ARG, "tes_access_derive_cryptogram_key: NULL argument");
    /* HKDF's first output block does not depend on the length asked for */
    return expand(c, TES_BYTES(kpersistent, 32), "VolatileFast", endpoint_key_x, key, 32);
}

void tes_access_auth_input(const tes_access_context *c, bool device,
                           uint8_t out[TES_ACCESS_AUTH_INPUT_LEN])
{
    static const uint8_t usage_reader[4] = {0x41, 0x5D, 0x95, 0x69};
    static const uint8_t usage_device[4] = {0x4E, 0x88, 0x7B, 0x4C};
    size_t n = 0;
    out[n++] = 0x4D, out[n++] = TES_ACCESS_READER_ID_LEN;
    memcpy(out + n, c->reader_id, TES_ACCESS_READER_ID_LEN), n += TES_ACCESS_READER_ID_LEN;
    out[n++] = 0x86, out[n++] = 32;
    memcpy(out + n, c->device_eph_x, 32), n += 32;
    out[n++] = 0x87, out[n++] = 32;
    memcpy(out + n, c->reader_eph_x, 32), n += 32;
    out[n++] = 0x4C, out[n++] = TES_ACCESS_TX_ID_LEN;
    memcpy(out + n, c->tx_id, TES_ACCESS_TX_ID_LEN), n += TES_ACCESS_TX_ID_LEN;
    out[n++] = 0x93, out[n++] = 4;
    memcpy(out + n, device ? usage_device : usage_reader, 4);
}

/* ---------------------------------------------------------------- secure channel */

void tes_access_channel_init(tes_access_channel *ch, const uint8_t sk_reader[32],
                             const uint8_t sk_device[32])
{
    memcpy(ch->sk_reader, sk_reader, 32);
    memcpy(ch->sk_device, sk_device, 32);
    ch->ctr_reader = 1;
    ch->ctr_device = 1;
}

static void channel_iv(bool from_reader, uint32_t ctr, uint8_t iv[12])
{
    memset(iv, 0, 8);
    iv[7] = from_reader ? 0 : 1;
    iv[8] = (uint8_t)(ctr >> 24);
    iv[9] = (uint8_t)(ctr >> 16);
    iv[10] = (uint8_t)(ctr >> 8);
    iv[11] = (uint8_t)ctr;
}

tes_err tes_access_channel_seal(tes_access_channel *ch, bool from_reader, tes_bytes plain,
                                tes_buf *out)
{
    if (!ch || !out)
        return tes_err_set(TES_ERR_ARG, "tes_access_channel_seal: NULL argument");
    uint32_t *ctr = from_reader ? &ch->ctr_reader : &ch->ctr_device;
    if (plain.len == 0) { /* nothing to seal; the counter still steps (as the public readers do) */
        (*ctr)++;
        return TES_OK;
    }
    if (*ctr == UINT32_MAX)
        return tes_err_set(TES_ERR_ACCESS_CHANNEL, "access: secure channel counter exhausted");
    uint8_t iv[12];
    channel_iv(from_reader, *ctr, iv);
    tes_err err = tes_aes256gcm_encrypt(from_reader ? ch->sk_reader : ch->sk_device, iv,
                                        TES_BYTES(NULL, 0), plain, out);
    if (!err)
        (*ctr)++;
    return err;
}

tes_err tes_access_channel_open(tes_access_channel *ch, bool from_reader, tes_bytes cipher,
                                tes_buf *out)
{
    if (!ch || !out)
        return tes_err_set(TES_ERR_ARG, "tes_access_channel_open: NULL argument");
    uint32_t *ctr = from_reader ? &ch->ctr_reader : &ch->ctr_device;
    if (cipher.len == 0) {
        (*ctr)++;
        return TES_OK;
    }
    if (cipher.len < 16)
        return tes_err_set(TES_ERR_ACCESS_CHANNEL,
                           "access: secure-channel message of %zu bytes is shorter than its tag",
                           cipher.len);
    if (*ctr == UINT32_MAX)
        return tes_err_set(TES_ERR_ACCESS_CHANNEL, "access: secure channel counter exhausted");
    uint8_t iv[12];
    channel_iv(from_reader, *ctr, iv);
    size_t before = out->len;
    tes_err err = tes_aes256gcm_decrypt(from_reader ? ch->sk_reader : ch->sk_device, iv,
                                        TES_BYTES(NULL, 0), cipher, out);
    if (err == TES_ERR_SIGNATURE) {
        out->len = before;
        return tes_err_set(TES_ERR_ACCESS_CHANNEL,
                           "access: secure-channel message from the %s (counter %u) fails "
                           "authentication: altered, reflected, replayed or out of order",
                           from_reader ? "reader" : "device", (unsigned)*ctr);
    }
    if (!err)
        (*ctr)++;
    return err;
}

void tes_access_channel_wipe(tes_access_channel *ch)
{
    if (ch)
        tes_wipe(ch, sizeof *ch);
}
