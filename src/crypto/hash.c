/* Digests, HMAC-SHA-256, HKDF-SHA-256 (and the ISO/IEC 18013-5 key derivation built on it)
 * and random bytes. */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "crypto_internal.h"

size_t tes_hash_size(tes_hash h)
{
    switch (h) {
    case TES_HASH_SHA256:
        return 32;
    case TES_HASH_SHA384:
        return 48;
    case TES_HASH_SHA512:
        return 64;
    default:
        return 0;
    }
}

tes_err tes_digest(tes_hash h, tes_bytes in, uint8_t *out)
{
    if (out == NULL || (in.ptr == NULL && in.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_digest: NULL argument");
    if (tes_hash_size(h) == 0)
        return tes_err_set(TES_ERR_ARG, "tes_digest: hash %d is not a digest", (int)h);
    return tes_crypto_sha(h, in, out);
}

tes_err tes_digest_parts(tes_hash h, const tes_bytes *parts, size_t n, uint8_t *out)
{
    if (out == NULL || (parts == NULL && n != 0))
        return tes_err_set(TES_ERR_ARG, "tes_digest_parts: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (parts[i].ptr == NULL && parts[i].len != 0)
            return tes_err_set(TES_ERR_ARG, "tes_digest_parts: NULL piece");
    if (tes_hash_size(h) == 0)
        return tes_err_set(TES_ERR_ARG, "tes_digest_parts: hash %d is not a digest", (int)h);
    return tes_crypto_sha_parts(h, parts, n, out);
}

tes_err tes_crypto_sha(tes_hash h, tes_bytes in, uint8_t *out)
{
    return tes_crypto_sha_parts(h, &in, 1, out);
}

/* The low-level SHA-2 functions, as the floors of bench/ use them. In OpenSSL 3.0
 * the one-shot SHA256() is EVP_Q_digest: a fetch (a read-locked look-up of the
 * provider's method store) and a new EVP_MD_CTX on every call, ~3.5 k
 * instructions and two rwlock round trips per digest; an issuance takes a dozen. */
tes_err tes_crypto_sha_parts(tes_hash h, const tes_bytes *parts, size_t n, uint8_t *out)
{
    if (h == TES_HASH_SHA256) {
        SHA256_CTX c;
        int ok = SHA256_Init(&c);
        for (size_t i = 0; ok && i < n; i++)
            if (parts[i].len)
                ok = SHA256_Update(&c, parts[i].ptr, parts[i].len);
        /* SHA256_Final cleanses the block buffer; what stays in c is the
         * digest itself and the length. */
        ok = ok && SHA256_Final(out, &c);
        return ok ? TES_OK : tes_crypto_ossl_fail(TES_ERR_CRYPTO, "computing digest");
    }
    if (h != TES_HASH_SHA384 && h != TES_HASH_SHA512)
        return tes_err_set(TES_ERR_ARG, "hash %d is not a digest", (int)h);
    SHA512_CTX c;
    int ok = h == TES_HASH_SHA384 ? SHA384_Init(&c) : SHA512_Init(&c);
    for (size_t i = 0; ok && i < n; i++)
        if (parts[i].len)
            ok = SHA512_Update(&c, parts[i].ptr, parts[i].len);
    ok = ok && (h == TES_HASH_SHA384 ? SHA384_Final(out, &c) : SHA512_Final(out, &c));
    tes_wipe(&c, sizeof c); /* SHA512_Final leaves the last block in c */
    return ok ? TES_OK : tes_crypto_ossl_fail(TES_ERR_CRYPTO, "computing digest");
}

tes_err tes_hmac_sha256(tes_bytes key, tes_bytes msg, uint8_t out[32])
{
    if (out == NULL || (key.ptr == NULL && key.len != 0) || (msg.ptr == NULL && msg.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_hmac_sha256: NULL argument");
    EVP_MAC *mac = tes_crypto_hmac();
    if (mac == NULL)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "fetching HMAC");
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "HMAC context");
    static const uint8_t empty[1];
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t len = 0;
    /* A zero-length key is legal in HMAC (it is padded with zeros like any other). */
    int ok = EVP_MAC_init(ctx, key.len ? key.ptr : empty, key.len, params) &&
             EVP_MAC_update(ctx, msg.len ? msg.ptr : empty, msg.len) &&
             EVP_MAC_final(ctx, out, &len, 32) && len == 32;
    EVP_MAC_CTX_free(ctx); /* frees (and cleanses) the keyed state */
    if (!ok) {
        tes_wipe(out, 32);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "computing HMAC-SHA-256");
    }
    return TES_OK;
}

tes_err tes_hkdf_sha256(tes_bytes ikm, tes_bytes salt, tes_bytes info, uint8_t *out, size_t out_len)
{
    if (out == NULL || (ikm.ptr == NULL && ikm.len != 0) || (salt.ptr == NULL && salt.len != 0) ||
        (info.ptr == NULL && info.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_hkdf_sha256: NULL argument");
    if (out_len == 0 || out_len > 255 * 32)
        return tes_err_set(TES_ERR_ARG, "tes_hkdf_sha256: output length %zu not in 1..8160",
                           out_len);
    EVP_KDF *kdf = tes_crypto_hkdf();
    if (kdf == NULL)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "fetching HKDF");
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    if (ctx == NULL)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "HKDF context");
    static uint8_t empty[1];
    OSSL_PARAM params[5];
    size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_KEY, ikm.len ? (void *)ikm.ptr : (void *)empty, ikm.len);
    /* No salt is the same as HashLen zero bytes (RFC 5869 2.2), which HMAC's key padding
     * makes identical to an empty salt; info defaults to empty. */
    if (salt.len)
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt.ptr, salt.len);
    if (info.len)
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.ptr, info.len);
    params[n] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, out_len, params);
    EVP_KDF_CTX_free(ctx); /* clears the copied key material */
    if (ok <= 0) {
        tes_wipe(out, out_len);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "deriving HKDF-SHA-256");
    }
    return TES_OK;
}

tes_err tes_iso18013_derive_key(tes_bytes z, tes_bytes session_transcript_bytes, const char *info,
                                uint8_t out[32])
{
    const tes_bytes st = session_transcript_bytes;
    if (out == NULL || info == NULL || z.ptr == NULL || st.ptr == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_iso18013_derive_key: NULL argument");
    tes_wipe(out, 32);
    if (z.len == 0)
        return tes_err_set(TES_ERR_ARG, "tes_iso18013_derive_key: empty shared secret");
    /* #6.24(bstr): d8 18, then a byte string head (major type 2) */
    if (st.len < 3 || st.ptr[0] != 0xd8 || st.ptr[1] != 0x18 || (st.ptr[2] >> 5) != 2)
        return tes_err_set(TES_ERR_ARG,
                           "tes_iso18013_derive_key: the salt is the hash of SessionTranscriptBytes "
                           "(tag 24 around the SessionTranscript), not of the plain transcript");
    if (strcmp(info, TES_ISO_SK_READER) != 0 && strcmp(info, TES_ISO_SK_DEVICE) != 0 &&
        strcmp(info, TES_ISO_EMAC_KEY) != 0)
        return tes_err_set(TES_ERR_ARG,
                           "tes_iso18013_derive_key: info \"%.32s\" is none of SKReader, "
                           "SKDevice, EMacKey",
                           info);
    uint8_t salt[32];
    tes_err e = tes_digest(TES_HASH_SHA256, st, salt);
    if (e == TES_OK)
        e = tes_hkdf_sha256(z, TES_BYTES(salt, sizeof salt), TES_BYTES(info, strlen(info)), out,
                            32);
    if (e != TES_OK)
        tes_wipe(out, 32);
    return e;
}
