/*
 * crypto_internal.h — private to src/crypto/: the key and certificate structs,
 * the process-wide caches (EC groups, fetched algorithms) and the OpenSSL error
 * helper. Nothing outside src/crypto/ may include this header (it pulls in OpenSSL).
 */
#ifndef TES_CRYPTO_INTERNAL_H
#define TES_CRYPTO_INTERNAL_H

#include <stdatomic.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tessera/crypto.h"

/* A key: EC keys always carry an EC_KEY (the fast path); the EVP_PKEY is created
 * lazily for EC (PEM/SPKI export, X.509 signing) and always present for Ed25519.
 * Immutable after construction except for that one-time lazy pointer. */
struct tes_key {
    atomic_int refs;
    tes_curve curve;
    bool has_private;
    EC_KEY *ec;               /* EC curves only */
    _Atomic(EVP_PKEY *) pkey; /* lazily created for EC; always set for Ed25519 */
    uint8_t okp_pub[32];      /* Ed25519 raw public key */
    /* EC public point x || y, filled at construction (immutable afterwards):
     * reading it back from OpenSSL costs a field inversion every time */
    uint8_t ec_xy[2 * TES_MAX_COORD];
};

/* A parsed certificate; everything in it is computed once at parse time. */
struct tes_cert {
    atomic_int refs;
    X509 *x509;
    uint8_t *der;
    size_t der_len;
    tes_key *key; /* NULL when the key algorithm is not supported (e.g. RSA) */
    tes_cert_info info;
};

/* Process-wide, created once, never modified afterwards. */
typedef struct tes_curve_params {
    int nid;
    EC_GROUP *group; /* named-curve group, shared template for EC_KEY_set_group */
    BIGNUM *p;       /* field prime */
    BIGNUM *order;
    size_t size; /* coordinate / scalar bytes */
} tes_curve_params;

/* Parameters of an EC curve (P-256/384/521): TES_ERR_UNSUPPORTED for other curves,
 * TES_ERR_CRYPTO when OpenSSL failed to initialise. */
tes_err tes_crypto_curve(tes_curve c, const tes_curve_params **out);
/* Curve for an OpenSSL curve NID, TES_CURVE_NONE when not supported. */
tes_curve tes_crypto_curve_from_nid(int nid);
/* Fetched digest for h (NULL for TES_HASH_NONE or when fetching failed). */
const EVP_MD *tes_crypto_md(tes_hash h);

/* Fetched HMAC, HKDF and AES-256-GCM implementations (NULL when fetching failed). */
EVP_MAC *tes_crypto_hmac(void);
EVP_KDF *tes_crypto_hkdf(void);
const EVP_CIPHER *tes_crypto_aes256gcm(void);
const EVP_CIPHER *tes_crypto_aes128gcm(void);

/* Records code with "what: <first OpenSSL error>" and clears OpenSSL's error queue. */
tes_err tes_crypto_ossl_fail(tes_err code, const char *what);
/* Clears OpenSSL's error queue (after expected failures such as format probing). */
void tes_crypto_clear_errors(void);

/* SHA-2 one-shot (out holds tes_hash_size(h) bytes), on the low-level SHA-2 API. */
tes_err tes_crypto_sha(tes_hash h, tes_bytes in, uint8_t *out);
/* Same over the concatenation of n pieces (nothing copied). */
tes_err tes_crypto_sha_parts(tes_hash h, const tes_bytes *parts, size_t n, uint8_t *out);
/* New key taking ownership of ec (EC curves) or pkey (Ed25519; for EC optional). */
tes_err tes_crypto_key_wrap(tes_curve c, EC_KEY *ec, EVP_PKEY *pkey, tes_key **out);
/* The key's EVP_PKEY (created on first use for EC keys); NULL with error recorded. */
EVP_PKEY *tes_crypto_key_pkey(const tes_key *k);
/* Key from an EVP_PKEY (takes a new reference to it; caller keeps its own). */
tes_err tes_crypto_key_from_pkey(EVP_PKEY *pkey, tes_err malformed, tes_key **out);
/* Key from a SubjectPublicKeyInfo already decoded by OpenSSL (cheap: no EVP export). */
tes_err tes_crypto_key_from_x509_pubkey(X509_PUBKEY *xpk, tes_key **out);

/* Appends the contents of a memory BIO to out. */
tes_err tes_crypto_bio_to_buf(BIO *bio, tes_buf *out);

#endif
