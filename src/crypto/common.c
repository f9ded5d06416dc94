/*
 * Process-wide state of the crypto adapter: EC groups per curve and fetched
 * algorithm objects, created once (pthread_once) and released at exit, plus the
 * OpenSSL error helper shared by the adapter's files.
 */
#include <pthread.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>

#include "crypto_internal.h"

enum { CURVE_P256, CURVE_P384, CURVE_P521, CURVE_COUNT };

struct cache {
    bool ok;
    tes_curve_params curves[CURVE_COUNT];
    EVP_MD *md[3]; /* SHA-256, SHA-384, SHA-512 */
    EVP_MAC *hmac;
    EVP_KDF *hkdf;
    EVP_CIPHER *aes256gcm;
    EVP_CIPHER *aes128gcm;
};
static struct cache g_cache;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void cache_release(void)
{
    for (int i = 0; i < CURVE_COUNT; i++) {
        EC_GROUP_free(g_cache.curves[i].group);
        BN_free(g_cache.curves[i].p);
        BN_free(g_cache.curves[i].order);
    }
    for (int i = 0; i < 3; i++)
        EVP_MD_free(g_cache.md[i]);
    EVP_MAC_free(g_cache.hmac);
    EVP_KDF_free(g_cache.hkdf);
    EVP_CIPHER_free(g_cache.aes256gcm);
    EVP_CIPHER_free(g_cache.aes128gcm);
    g_cache = (struct cache){0};
}

static void cache_init(void)
{
    static const int nids[CURVE_COUNT] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
    static const char *const mds[3] = {"SHA256", "SHA384", "SHA512"};
    /* Initialise OpenSSL first: its own exit handler is then registered before
     * ours, so ours (which frees objects tied to its providers) runs first. */
    if (!OPENSSL_init_crypto(0, NULL))
        return;
    bool ok = true;
    for (int i = 0; i < CURVE_COUNT && ok; i++) {
        tes_curve_params *cp = &g_cache.curves[i];
        cp->nid = nids[i];
        cp->group = EC_GROUP_new_by_curve_name(nids[i]);
        cp->p = BN_new();
        cp->order = BN_new();
        ok = cp->group && cp->p && cp->order &&
             EC_GROUP_get_curve(cp->group, cp->p, NULL, NULL, NULL) &&
             EC_GROUP_get_order(cp->group, cp->order, NULL);
        if (ok)
            cp->size = (size_t)(EC_GROUP_get_degree(cp->group) + 7) / 8;
    }
    for (int i = 0; i < 3 && ok; i++) {
        g_cache.md[i] = EVP_MD_fetch(NULL, mds[i], NULL);
        ok = g_cache.md[i] != NULL;
    }
    if (ok) {
        g_cache.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        g_cache.hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        g_cache.aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
        g_cache.aes128gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
        ok = g_cache.hmac && g_cache.hkdf && g_cache.aes256gcm && g_cache.aes128gcm;
    }
    if (!ok) {
        cache_release();
        return;
    }
    g_cache.ok = true;
    atexit(cache_release);
}

static bool cache_ready(void)
{
    if (pthread_once(&g_once, cache_init) != 0 || !g_cache.ok)
        return false;
    return true;
}

tes_err tes_crypto_curve(tes_curve c, const tes_curve_params **out)
{
    int i;
    switch (c) {
    case TES_CURVE_P256:
        i = CURVE_P256;
        break;
    case TES_CURVE_P384:
        i = CURVE_P384;
        break;
    case TES_CURVE_P521:
        i = CURVE_P521;
        break;
    default:
        return tes_err_set(TES_ERR_UNSUPPORTED, "curve %d is not a supported EC curve", (int)c);
    }
    if (!cache_ready())
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "initialising EC groups");
    *out = &g_cache.curves[i];
    return TES_OK;
}

tes_curve tes_crypto_curve_from_nid(int nid)
{
    switch (nid) {
    case NID_X9_62_prime256v1:
        return TES_CURVE_P256;
    case NID_secp384r1:
        return TES_CURVE_P384;
    case NID_secp521r1:
        return TES_CURVE_P521;
    default:
        return TES_CURVE_NONE;
    }
}

const EVP_MD *tes_crypto_md(tes_hash h)
{
    if (h < TES_HASH_SHA256 || h > TES_HASH_SHA512 || !cache_ready())
        return NULL;
    return g_cache.md[h - TES_HASH_SHA256];
}

EVP_MAC *tes_crypto_hmac(void)
{
    return cache_ready() ? g_cache.hmac : NULL;
}

EVP_KDF *tes_crypto_hkdf(void)
{
    return cache_ready() ? g_cache.hkdf : NULL;
}

const EVP_CIPHER *tes_crypto_aes256gcm(void)
{
    return cache_ready() ? g_cache.aes256gcm : NULL;
}

const EVP_CIPHER *tes_crypto_aes128gcm(void)
{
    return cache_ready() ? g_cache.aes128gcm : NULL;
}

tes_err tes_crypto_ossl_fail(tes_err code, const char *what)
{
    unsigned long e = ERR_get_error();
    char msg[256] = "no OpenSSL error recorded";
    if (e != 0)
        ERR_error_string_n(e, msg, sizeof msg);
    ERR_clear_error();
    return tes_err_set(code, "%s: %s", what, msg);
}

void tes_crypto_clear_errors(void)
{
    ERR_clear_error();
}

tes_err tes_crypto_bio_to_buf(BIO *bio, tes_buf *out)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n < 0)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "reading memory BIO");
    tes_buf_append(out, data, (size_t)n);
    if (out->failed)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    return TES_OK;
}
