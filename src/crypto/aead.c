/*
 * AES-GCM (256- or 128-bit key), 12-byte IV, 16-byte tag appended to the ciphertext.
 * Both functions append to out; on any failure out is restored to its previous
 * length and whatever was written past it is wiped. Decryption releases nothing
 * unless the tag verified.
 */
#include <limits.h>
#include <string.h>

#include "crypto_internal.h"

#define TAG_LEN 16

/* Undo a partial append: wipe the bytes after old_len and restore the length. */
static void rollback(tes_buf *out, size_t old_len)
{
    if (out->ptr != NULL && out->len > old_len)
        tes_wipe(out->ptr + old_len, out->len - old_len);
    if (out->len > old_len)
        out->len = old_len;
}

static tes_err check_args(const uint8_t *key, const uint8_t *iv, tes_bytes aad, tes_bytes in,
                          tes_buf *out, const char *fn)
{
    if (key == NULL || iv == NULL || out == NULL || (aad.ptr == NULL && aad.len != 0) ||
        (in.ptr == NULL && in.len != 0))
        return tes_err_set(TES_ERR_ARG, "%s: NULL argument", fn);
    if (aad.len > INT_MAX || in.len > INT_MAX - TAG_LEN)
        return tes_err_set(TES_ERR_ARG, "%s: input too large", fn);
    if (out->failed)
        return tes_err_set(TES_ERR_NOMEM, "%s: output buffer is in the failed state", fn);
    return TES_OK;
}

/* The cipher for a key of key_len bytes (16 or 32), or NULL. */
static const EVP_CIPHER *gcm_cipher(size_t key_len)
{
    return key_len == 32 ? tes_crypto_aes256gcm() : key_len == 16 ? tes_crypto_aes128gcm() : NULL;
}

tes_err tes_aesgcm_encrypt(const uint8_t *key, size_t key_len, const uint8_t iv[12],
                           tes_bytes aad, tes_bytes plain, tes_buf *out)
{
    tes_err err = check_args(key, iv, aad, plain, out, "tes_aesgcm_encrypt");
    if (err)
        return err;
    if (key_len != 16 && key_len != 32)
        return tes_err_set(TES_ERR_ARG, "tes_aesgcm_encrypt: the key must be 16 or 32 bytes");
    const EVP_CIPHER *cipher = gcm_cipher(key_len);
    if (cipher == NULL)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "fetching AES-GCM");
    size_t old_len = out->len;
    uint8_t *dst = tes_buf_extend(out, plain.len + TAG_LEN);
    if (dst == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory for AES-GCM output");
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    int ok = ctx != NULL && EVP_EncryptInit_ex2(ctx, cipher, key, iv, NULL) &&
             (aad.len == 0 || EVP_EncryptUpdate(ctx, NULL, &len, aad.ptr, (int)aad.len)) &&
             (plain.len == 0 || EVP_EncryptUpdate(ctx, dst, &len, plain.ptr, (int)plain.len)) &&
             (plain.len == 0 || (size_t)len == plain.len) &&
             EVP_EncryptFinal_ex(ctx, dst + plain.len, &fin) && fin == 0 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, dst + plain.len);
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    if (!ok) {
        rollback(out, old_len);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "AES-GCM encryption");
    }
    return TES_OK;
}

tes_err tes_aes256gcm_encrypt(const uint8_t key[32], const uint8_t iv[12], tes_bytes aad,
                              tes_bytes plain, tes_buf *out)
{
    return tes_aesgcm_encrypt(key, 32, iv, aad, plain, out);
}

tes_err tes_aesgcm_decrypt(const uint8_t *key, size_t key_len, const uint8_t iv[12],
                           tes_bytes aad, tes_bytes cipher_text, tes_buf *out)
{
    tes_err err = check_args(key, iv, aad, cipher_text, out, "tes_aesgcm_decrypt");
    if (err)
        return err;
    if (key_len != 16 && key_len != 32)
        return tes_err_set(TES_ERR_ARG, "tes_aesgcm_decrypt: the key must be 16 or 32 bytes");
    if (cipher_text.len < TAG_LEN)
        return tes_err_set(TES_ERR_SIGNATURE, "AES-GCM ciphertext shorter than its tag (%zu bytes)",
                           cipher_text.len);
    const EVP_CIPHER *cipher = gcm_cipher(key_len);
    if (cipher == NULL)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "fetching AES-GCM");
    size_t body = cipher_text.len - TAG_LEN;
    size_t old_len = out->len;
    /* Reserve at least one byte so dst is never NULL for an empty plaintext. */
    uint8_t *dst = tes_buf_extend(out, body ? body : 1);
    if (dst == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory for AES-GCM output");
    out->len = old_len + body;
    uint8_t tag[TAG_LEN];
    memcpy(tag, cipher_text.ptr + body, TAG_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    int ok = ctx != NULL && EVP_DecryptInit_ex2(ctx, cipher, key, iv, NULL) &&
             (aad.len == 0 || EVP_DecryptUpdate(ctx, NULL, &len, aad.ptr, (int)aad.len)) &&
             (body == 0 || EVP_DecryptUpdate(ctx, dst, &len, cipher_text.ptr, (int)body)) &&
             (body == 0 || (size_t)len == body) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag);
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        rollback(out, old_len);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "AES-GCM decryption");
    }
    /* The tag check: a failure here is a wrong key, IV, AAD or tampered data. */
    int tag_ok = EVP_DecryptFinal_ex(ctx, dst + body, &fin) > 0;
    EVP_CIPHER_CTX_free(ctx);
    if (!tag_ok) {
        rollback(out, old_len);
        tes_crypto_clear_errors();
        return tes_err_set(TES_ERR_SIGNATURE, "AES-GCM tag does not verify");
    }
    return TES_OK;
}

tes_err tes_aes256gcm_decrypt(const uint8_t key[32], const uint8_t iv[12], tes_bytes aad,
                              tes_bytes cipher_text, tes_buf *out)
{
    return tes_aesgcm_decrypt(key, 32, iv, aad, cipher_text, out);
}
