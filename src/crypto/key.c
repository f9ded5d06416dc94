/*
 * Keys: construction, import/export, ECDSA / Ed25519 signatures and ECDH.
 *
 * EC keys use the EC_KEY API on purpose: importing a raw point into an EC_KEY
 * built on a cached EC_GROUP and verifying with ECDSA_do_verify is several times
 * cheaper than the EVP decoder / EVP_PKEY_fromdata path (see DESIGN.md,
 * "Performance targets"). The EVP_PKEY of an EC key is only made when needed.
 */
#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdh.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include "crypto_internal.h"

#define ED25519_LEN 32
#define ED25519_SIG_LEN 64

/* ---------------------------------------------------------------- construction */

/* Wraps ec or pkey into a new key. xy (may be NULL) is the EC public point
 * x || y when the caller already has it; else it is computed once here. */
static tes_err key_wrap(tes_curve c, EC_KEY *ec, EVP_PKEY *pkey, const uint8_t *xy, tes_key **out);

tes_err tes_crypto_key_wrap(tes_curve c, EC_KEY *ec, EVP_PKEY *pkey, tes_key **out)
{
    return key_wrap(c, ec, pkey, NULL, out);
}

static tes_err key_wrap(tes_curve c, EC_KEY *ec, EVP_PKEY *pkey, const uint8_t *xy, tes_key **out)
{
    tes_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        EC_KEY_free(ec);
        EVP_PKEY_free(pkey);
        return tes_err_set(TES_ERR_NOMEM, "out of memory for a key");
    }
    atomic_init(&k->refs, 1);
    atomic_init(&k->pkey, pkey);
    k->curve = c;
    k->ec = ec;
    if (ec != NULL) {
        k->has_private = EC_KEY_get0_private_key(ec) != NULL;
        size_t size = tes_curve_size(c);
        if (xy != NULL) {
            memcpy(k->ec_xy, xy, 2 * size);
        } else {
            uint8_t buf[1 + 2 * TES_MAX_COORD];
            size_t n = EC_POINT_point2oct(EC_KEY_get0_group(ec), EC_KEY_get0_public_key(ec),
                                          POINT_CONVERSION_UNCOMPRESSED, buf, sizeof buf, NULL);
            if (n != 1 + 2 * size) {
                tes_key_free(k);
                return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "encoding EC public key");
            }
            memcpy(k->ec_xy, buf + 1, 2 * size);
        }
    } else {
        size_t len = ED25519_LEN;
        if (pkey == NULL || EVP_PKEY_get_raw_public_key(pkey, k->okp_pub, &len) != 1 ||
            len != ED25519_LEN) {
            tes_key_free(k);
            return tes_crypto_ossl_fail(TES_ERR_KEY_MALFORMED, "reading Ed25519 public key");
        }
        /* Only a key with a private half reports a raw private length. */
        size_t plen = 0;
        k->has_private = EVP_PKEY_get_raw_private_key(pkey, NULL, &plen) == 1 && plen != 0;
        tes_crypto_clear_errors();
    }
    *out = k;
    return TES_OK;
}

/* A fresh EC_KEY on the cached group of c. */
static tes_err new_ec_key(tes_curve c, const tes_curve_params **cp, EC_KEY **out)
{
    tes_err err = tes_crypto_curve(c, cp);
    if (err)
        return err;
    EC_KEY *ec = EC_KEY_new();
    if (ec == NULL || !EC_KEY_set_group(ec, (*cp)->group)) {
        EC_KEY_free(ec);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "creating EC key");
    }
    *out = ec;
    return TES_OK;
}

/* Sets the public key of ec to d*G. */
static tes_err derive_public(EC_KEY *ec)
{
    const EC_GROUP *g = EC_KEY_get0_group(ec);
    EC_POINT *pub = EC_POINT_new(g);
    int ok = pub != NULL && EC_POINT_mul(g, pub, EC_KEY_get0_private_key(ec), NULL, NULL, NULL) &&
             EC_KEY_set_public_key(ec, pub);
    EC_POINT_free(pub);
    if (!ok)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "deriving EC public key");
    return TES_OK;
}

tes_err tes_key_generate(tes_curve c, tes_key **out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_key_generate: NULL output");
    *out = NULL;
    if (c == TES_CURVE_ED25519) {
        EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (pkey == NULL)
            return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "generating Ed25519 key");
        return tes_crypto_key_wrap(c, NULL, pkey, out);
    }
    const tes_curve_params *cp;
    EC_KEY *ec = NULL;
    tes_err err = new_ec_key(c, &cp, &ec);
    if (err)
        return err;
    if (!EC_KEY_generate_key(ec)) {
        EC_KEY_free(ec);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "generating EC key");
    }
    return tes_crypto_key_wrap(c, ec, NULL, out);
}

tes_err tes_key_from_ec_point(tes_curve c, tes_bytes x, tes_bytes y, tes_key **out)
{
    if (out == NULL || x.ptr == NULL || y.ptr == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_key_from_ec_point: NULL argument");
    *out = NULL;
    const tes_curve_params *cp;
    tes_err err = tes_crypto_curve(c, &cp);
    if (err)
        return err;
    if (x.len != cp->size || y.len != cp->size)
        return tes_err_set(TES_ERR_KEY_MALFORMED,
                           "EC coordinates must be %zu bytes each (got %zu and %zu)", cp->size,
                           x.len, y.len);
    BIGNUM *bx = BN_bin2bn(x.ptr, (int)x.len, NULL);
    BIGNUM *by = BN_bin2bn(y.ptr, (int)y.len, NULL);
    EC_KEY *ec = NULL;
    EC_POINT *pt = NULL;
    if (bx == NULL || by == NULL) {
        err = tes_crypto_ossl_fail(TES_ERR_CRYPTO, "importing EC coordinates");
        goto done;
    }
    /* OpenSSL would silently reduce a coordinate >= p; such a point is not canonical. */
    if (BN_cmp(bx, cp->p) >= 0 || BN_cmp(by, cp->p) >= 0) {
        err = tes_err_set(TES_ERR_KEY_MALFORMED, "EC coordinate not below the field prime");
        goto done;
    }
    if ((err = new_ec_key(c, &cp, &ec)) != TES_OK)
        goto done;
    pt = EC_POINT_new(cp->group);
    if (pt == NULL) {
        err = tes_crypto_ossl_fail(TES_ERR_CRYPTO, "creating EC point");
        goto done;
    }
    /* The curves are of prime order (cofactor 1): on the curve is all a key must be. */
    if (!EC_POINT_set_affine_coordinates(cp->group, pt, bx, by, NULL) ||
        EC_POINT_is_on_curve(cp->group, pt, NULL) != 1) {
        tes_crypto_clear_errors();
        err = tes_err_set(TES_ERR_KEY_MALFORMED, "EC point is not on the curve");
        goto done;
    }
    if (!EC_KEY_set_public_key(ec, pt)) {
        err = tes_crypto_ossl_fail(TES_ERR_CRYPTO, "setting EC public key");
        goto done;
    }
    uint8_t xy[2 * TES_MAX_COORD];
    memcpy(xy, x.ptr, x.len);
    memcpy(xy + x.len, y.ptr, y.len);
    err = key_wrap(c, ec, NULL, xy, out);
    ec = NULL; /* owned by the key, or freed by wrap */
done:
    EC_POINT_free(pt);
    EC_KEY_free(ec);
    BN_free(bx);
    BN_free(by);
    return err;
}

tes_err tes_key_from_ec_private(tes_curve c, tes_bytes d, tes_key **out)
{
    if (out == NULL || d.ptr == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_key_from_ec_private: NULL argument");
    *out = NULL;
    if (c == TES_CURVE_ED25519) {
        /* Extension beyond the header's wording: an Ed25519 private key from its seed. */
        if (d.len != ED25519_LEN)
            return tes_err_set(TES_ERR_KEY_MALFORMED, "Ed25519 private key must be 32 bytes");
        EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d.ptr, d.len);
        if (pkey == NULL)
            return tes_crypto_ossl_fail(TES_ERR_KEY_MALFORMED, "importing Ed25519 private key");
        return tes_crypto_key_wrap(c, NULL, pkey, out);
    }
    const tes_curve_params *cp;
    tes_err err = tes_crypto_curve(c, &cp);
    if (err)
        return err;
    if (d.len == 0 || d.len > cp->size)
        return tes_err_set(TES_ERR_KEY_MALFORMED,
                           "EC private scalar must be 1..%zu bytes (got %zu)", cp->size, d.len);
    EC_KEY *ec = NULL;
    BIGNUM *bd = BN_secure_new();
    if (bd == NULL || BN_bin2bn(d.ptr, (int)d.len, bd) == NULL) {
        err = tes_crypto_ossl_fail(TES_ERR_CRYPTO, "importing EC private scalar");
        goto done;
    }
    if (BN_is_zero(bd) || BN_cmp(bd, cp->order) >= 0) {
        err = tes_err_set(TES_ERR_KEY_MALFORMED, "EC private scalar not in 1..n-1");
        goto done;
    }
    if ((err = new_ec_key(c, &cp, &ec)) != TES_OK)
        goto done;
    if (!EC_KEY_set_private_key(ec, bd)) {
        err = tes_crypto_ossl_fail(TES_ERR_CRYPTO, "setting EC private key");
        goto done;
    }
    if ((err = derive_public(ec)) != TES_OK)
        goto done;
    err = tes_crypto_key_wrap(c, ec, NULL, out);
    ec = NULL;
done:
    EC_KEY_free(ec); /* clears the private scalar */
    BN_clear_free(bd);
    return err;
}

tes_err tes_key_from_okp(tes_curve c, tes_bytes x, tes_key **out)
{
    if (out == NULL || x.ptr == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_key_from_okp: NULL argument");
    *out = NULL;
    if (c != TES_CURVE_ED25519)
        return tes_err_set(TES_ERR_UNSUPPORTED, "OKP curve %d not supported (only Ed25519)",
                           (int)c);
    if (x.len != ED25519_LEN)
        return tes_err_set(TES_ERR_KEY_MALFORMED, "Ed25519 public key must be 32 bytes (got %zu)",
                           x.len);
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x.ptr, x.len);
    if (pkey == NULL)
        return tes_crypto_ossl_fail(TES_ERR_KEY_MALFORMED, "importing Ed25519 public key");
    return tes_crypto_key_wrap(c, NULL, pkey, out);
}

tes_err tes_crypto_key_from_pkey(EVP_PKEY *pkey, tes_err malformed, tes_key **out)
{
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_ED25519) {
        if (!EVP_PKEY_up_ref(pkey))
            return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "referencing key");
        return tes_crypto_key_wrap(TES_CURVE_ED25519, NULL, pkey, out);
    }
    if (id != EVP_PKEY_EC)
        return tes_err_set(TES_ERR_UNSUPPORTED, "key type %s not supported (EC or Ed25519 only)",
                           OBJ_nid2sn(id));
    EC_KEY *ec = EVP_PKEY_get1_EC_KEY(pkey);
    if (ec == NULL)
        return tes_crypto_ossl_fail(malformed, "reading EC key");
    const EC_GROUP *g = EC_KEY_get0_group(ec);
    tes_curve c = g ? tes_crypto_curve_from_nid(EC_GROUP_get_curve_name(g)) : TES_CURVE_NONE;
    if (c == TES_CURVE_NONE) {
        EC_KEY_free(ec);
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "EC key not on a supported named curve (P-256, P-384, P-521)");
    }
    tes_err err;
    if (EC_KEY_get0_private_key(ec) != NULL) {
        /* SEC1 allows omitting the public key; make sure it is there and matches. */
        if (EC_KEY_get0_public_key(ec) == NULL && (err = derive_public(ec)) != TES_OK) {
            EC_KEY_free(ec);
            return err;
        }
        if (EC_KEY_check_key(ec) != 1) {
            EC_KEY_free(ec);
            return tes_crypto_ossl_fail(malformed, "EC private key inconsistent");
        }
    } else if (EC_KEY_get0_public_key(ec) == NULL) {
        EC_KEY_free(ec);
        return tes_err_set(malformed, "EC key has neither public nor private part");
    }
    if (!EVP_PKEY_up_ref(pkey)) {
        EC_KEY_free(ec);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "referencing key");
    }
    return tes_crypto_key_wrap(c, ec, pkey, out);
}

tes_err tes_crypto_key_from_x509_pubkey(X509_PUBKEY *xpk, tes_key **out)
{
    ASN1_OBJECT *alg = NULL;
    const unsigned char *pk = NULL;
    int pklen = 0;
    X509_ALGOR *pa = NULL;
    if (!X509_PUBKEY_get0_param(&alg, &pk, &pklen, &pa, xpk) || pk == NULL)
        return tes_crypto_ossl_fail(TES_ERR_KEY_MALFORMED, "reading SubjectPublicKeyInfo");
    int nid = OBJ_obj2nid(alg);
    if (nid == NID_ED25519)
        return tes_key_from_okp(TES_CURVE_ED25519, TES_BYTES(pk, (size_t)pklen), out);
    if (nid != NID_X9_62_id_ecPublicKey)
        return tes_err_set(TES_ERR_UNSUPPORTED, "public key algorithm %s not supported",
                           OBJ_nid2sn(nid));
    int ptype = 0;
    const void *pval = NULL;
    X509_ALGOR_get0(NULL, &ptype, &pval, pa);
    if (ptype != V_ASN1_OBJECT)
        return tes_err_set(TES_ERR_UNSUPPORTED, "EC key without a named curve");
    tes_curve c = tes_crypto_curve_from_nid(OBJ_obj2nid(pval));
    if (c == TES_CURVE_NONE)
        return tes_err_set(TES_ERR_UNSUPPORTED, "EC curve %s not supported",
                           OBJ_nid2sn(OBJ_obj2nid(pval)));
    const tes_curve_params *cp;
    EC_KEY *ec = NULL;
    tes_err err = new_ec_key(c, &cp, &ec);
    if (err)
        return err;
    EC_POINT *pt = EC_POINT_new(cp->group);
    if (pt == NULL || !EC_POINT_oct2point(cp->group, pt, pk, (size_t)pklen, NULL) ||
        EC_POINT_is_on_curve(cp->group, pt, NULL) != 1 || !EC_KEY_set_public_key(ec, pt)) {
        EC_POINT_free(pt);
        EC_KEY_free(ec);
        return tes_crypto_ossl_fail(TES_ERR_KEY_MALFORMED, "EC public key point invalid");
    }
    EC_POINT_free(pt);
    return tes_crypto_key_wrap(c, ec, NULL, out);
}

/* ---------------------------------------------------------------- parsing */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* never prompt; encrypted keys are refused */
}

static bool contains(tes_bytes in, const char *s)
{
    return memmem(in.ptr, in.len, s, strlen(s)) != NULL;
}

tes_err tes_key_parse(tes_bytes in, tes_key **out)
{
    if (out == NULL || (in.ptr == NULL && in.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_key_parse: NULL argument");
    *out = NULL;
    if (in.len == 0 || in.len > INT_MAX)
        return tes_err_set(TES_ERR_KEY_MALFORMED, "key input is empty or too large");
    EVP_PKEY *pkey = NULL;
    if (contains(in, "-----BEGIN")) {
        if (contains(in, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(in, "Proc-Type:"))
            return tes_err_set(TES_ERR_UNSUPPORTED, "encrypted private keys are not supported");
        bool priv = contains(in, "PRIVATE KEY-----");
        if (!priv && !contains(in, "-----BEGIN PUBLIC KEY-----"))
            return tes_err_set(TES_ERR_KEY_MALFORMED,
                               "no PRIVATE KEY, EC PRIVATE KEY or PUBLIC KEY block in PEM text");
        BIO *bio = BIO_new_mem_buf(in.ptr, (int)in.len);
        if (bio == NULL)
            return tes_crypto_ossl_fail(TES_ERR_NOMEM, "memory BIO");
        pkey = priv ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                    : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
        if (pkey == NULL)
            return tes_crypto_ossl_fail(TES_ERR_KEY_MALFORMED, priv ? "PEM private key malformed"
                                                                    : "PEM public key malformed");
    } else {
        /* DER: PKCS#8 or SEC1 private key, then SubjectPublicKeyInfo; all input consumed. */
        const unsigned char *p = in.ptr;
        pkey = d2i_AutoPrivateKey(NULL, &p, (long)in.len);
        if (pkey != NULL && p != in.ptr + in.len) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        if (pkey == NULL) {
            p = in.ptr;
            pkey = d2i_PUBKEY(NULL, &p, (long)in.len);
            if (pkey != NULL && p != in.ptr + in.len) {
                EVP_PKEY_free(pkey);
                tes_crypto_clear_errors();
                return tes_err_set(TES_ERR_KEY_MALFORMED, "trailing bytes after DER key");
            }
        }
        if (pkey == NULL) {
            tes_crypto_clear_errors();
            return tes_err_set(TES_ERR_KEY_MALFORMED,
                               "not a PEM key nor DER PKCS#8, SEC1 or SubjectPublicKeyInfo");
        }
        tes_crypto_clear_errors(); /* from the probing that failed */
    }
    tes_err err = tes_crypto_key_from_pkey(pkey, TES_ERR_KEY_MALFORMED, out);
    EVP_PKEY_free(pkey);
    return err;
}

/* ---------------------------------------------------------------- references */

tes_key *tes_key_ref(tes_key *k)
{
    if (k != NULL)
        atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
    return k;
}

void tes_key_free(tes_key *k)
{
    if (k == NULL || atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
        return;
    EC_KEY_free(k->ec); /* clears the private scalar */
    EVP_PKEY_free(atomic_load(&k->pkey));
    tes_wipe(k, sizeof *k);
    free(k);
}

/* ---------------------------------------------------------------- accessors */

tes_curve tes_key_curve(const tes_key *k)
{
    return k ? k->curve : TES_CURVE_NONE;
}

bool tes_key_has_private(const tes_key *k)
{
    return k != NULL && k->has_private;
}

size_t tes_curve_size(tes_curve c)
{
    switch (c) {
    case TES_CURVE_P256:
        return 32;
    case TES_CURVE_P384:
        return 48;
    case TES_CURVE_P521:
        return 66;
    case TES_CURVE_ED25519:
        return 32;
    default:
        return 0;
    }
}

EVP_PKEY *tes_crypto_key_pkey(const tes_key *k)
{
    tes_key *mk = (tes_key *)k; /* the lazy pointer is the one mutable member */
    EVP_PKEY *p = atomic_load_explicit(&mk->pkey, memory_order_acquire);
    if (p != NULL)
        return p;
    p = EVP_PKEY_new();
    if (p == NULL || !EVP_PKEY_set1_EC_KEY(p, k->ec)) {
        EVP_PKEY_free(p);
        tes_crypto_ossl_fail(TES_ERR_CRYPTO, "wrapping EC key");
        return NULL;
    }
    EVP_PKEY *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&mk->pkey, &expected, p, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        EVP_PKEY_free(p); /* another thread won */
        p = expected;
    }
    return p;
}

tes_err tes_key_public_raw(const tes_key *k, uint8_t x[TES_MAX_COORD], uint8_t y[TES_MAX_COORD])
{
    if (k == NULL || x == NULL || (k->ec != NULL && y == NULL))
        return tes_err_set(TES_ERR_ARG, "tes_key_public_raw: NULL argument");
    if (k->ec == NULL) {
        memcpy(x, k->okp_pub, ED25519_LEN);
        return TES_OK;
    }
    size_t size = tes_curve_size(k->curve);
    memcpy(x, k->ec_xy, size);
    memcpy(y, k->ec_xy + size, size);
    return TES_OK;
}

bool tes_key_equal_public(const tes_key *a, const tes_key *b)
{
    if (a == NULL || b == NULL || a->curve != b->curve)
        return false;
    if (a->ec == NULL || b->ec == NULL)
        return a->ec == NULL && b->ec == NULL && memcmp(a->okp_pub, b->okp_pub, ED25519_LEN) == 0;
    return memcmp(a->ec_xy, b->ec_xy, 2 * tes_curve_size(a->curve)) == 0;
}

/* ---------------------------------------------------------------- export */

tes_err tes_key_to_pem(const tes_key *k, bool priv, tes_buf *out)
{
    if (k == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_key_to_pem: NULL argument");
    if (priv && !k->has_private)
        return tes_err_set(TES_ERR_ARG, "tes_key_to_pem: key has no private part");
    EVP_PKEY *pkey = tes_crypto_key_pkey(k);
    if (pkey == NULL)
        return TES_ERR_CRYPTO;
    BIO *bio = BIO_new(BIO_s_mem()); /* its buffer is cleansed when freed */
    if (bio == NULL)
        return tes_crypto_ossl_fail(TES_ERR_NOMEM, "memory BIO");
    int ok = priv ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_bio_PUBKEY(bio, pkey);
    tes_err err;
    if (!ok) {
        err = tes_crypto_ossl_fail(TES_ERR_CRYPTO, "writing PEM key");
    } else {
        if (priv)
            out->secret = true; /* the caller's buffer now holds a private key */
        err = tes_crypto_bio_to_buf(bio, out);
    }
    BIO_free(bio);
    return err;
}

tes_err tes_key_spki_der(const tes_key *k, tes_buf *out)
{
    if (k == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_key_spki_der: NULL argument");
    EVP_PKEY *pkey = tes_crypto_key_pkey(k);
    if (pkey == NULL)
        return TES_ERR_CRYPTO;
    int n = i2d_PUBKEY(pkey, NULL);
    if (n <= 0)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "encoding SubjectPublicKeyInfo");
    size_t old_len = out->len;
    uint8_t *p = tes_buf_extend(out, (size_t)n);
    if (p == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (i2d_PUBKEY(pkey, &p) != n) {
        out->len = old_len;
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "encoding SubjectPublicKeyInfo");
    }
    return TES_OK;
}

/* ---------------------------------------------------------------- signatures */

static tes_err hash_for_ecdsa(tes_hash h, tes_bytes msg, uint8_t *dgst, size_t *dlen)
{
    if (tes_hash_size(h) == 0)
        return tes_err_set(TES_ERR_ARG, "ECDSA needs a hash (got %d)", (int)h);
    *dlen = tes_hash_size(h);
    return tes_crypto_sha(h, msg, dgst);
}

tes_err tes_key_sign(const tes_key *k, tes_hash h, tes_bytes msg, uint8_t *sig, size_t *sig_len)
{
    if (k == NULL || sig == NULL || sig_len == NULL || (msg.ptr == NULL && msg.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_key_sign: NULL argument");
    if (!k->has_private)
        return tes_err_set(TES_ERR_ARG, "tes_key_sign: key has no private part");
    if (k->ec == NULL) {
        if (h != TES_HASH_NONE)
            return tes_err_set(TES_ERR_ARG, "Ed25519 signs the message itself (hash must be none)");
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        static const uint8_t empty[1];
        size_t n = ED25519_SIG_LEN;
        int ok = ctx != NULL &&
                 EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL,
                                       atomic_load(&((tes_key *)k)->pkey), NULL) == 1 &&
                 EVP_DigestSign(ctx, sig, &n, msg.len ? msg.ptr : empty, msg.len) == 1 &&
                 n == ED25519_SIG_LEN;
        EVP_MD_CTX_free(ctx);
        if (!ok)
            return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "Ed25519 signing");
        *sig_len = n;
        return TES_OK;
    }
    uint8_t dgst[TES_MAX_DIGEST];
    size_t dlen = 0;
    tes_err err = hash_for_ecdsa(h, msg, dgst, &dlen);
    if (err)
        return err;
    ECDSA_SIG *es = ECDSA_do_sign(dgst, (int)dlen, k->ec);
    if (es == NULL)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "ECDSA signing");
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(es, &r, &s);
    size_t size = tes_curve_size(k->curve);
    int ok = BN_bn2binpad(r, sig, (int)size) == (int)size &&
             BN_bn2binpad(s, sig + size, (int)size) == (int)size;
    ECDSA_SIG_free(es);
    if (!ok)
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "encoding ECDSA signature");
    *sig_len = 2 * size;
    return TES_OK;
}

tes_err tes_key_verify(const tes_key *k, tes_hash h, tes_bytes msg, tes_bytes sig)
{
    if (k == NULL || (msg.ptr == NULL && msg.len != 0) || (sig.ptr == NULL && sig.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_key_verify: NULL argument");
    if (k->ec == NULL) {
        if (h != TES_HASH_NONE)
            return tes_err_set(TES_ERR_ARG,
                               "Ed25519 verifies the message itself (hash must be none)");
        if (sig.len != ED25519_SIG_LEN)
            return tes_err_set(TES_ERR_SIGNATURE, "Ed25519 signature must be 64 bytes (got %zu)",
                               sig.len);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        static const uint8_t empty[1];
        if (ctx == NULL || EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL,
                                                   atomic_load(&((tes_key *)k)->pkey), NULL) != 1) {
            EVP_MD_CTX_free(ctx);
            return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "Ed25519 verify init");
        }
        int r = EVP_DigestVerify(ctx, sig.ptr, sig.len, msg.len ? msg.ptr : empty, msg.len);
        EVP_MD_CTX_free(ctx);
        if (r == 1)
            return TES_OK;
        if (r == 0) {
            tes_crypto_clear_errors();
            return tes_err_set(TES_ERR_SIGNATURE, "Ed25519 signature does not verify");
        }
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "Ed25519 verification");
    }
    size_t size = tes_curve_size(k->curve);
    if (sig.len != 2 * size)
        return tes_err_set(TES_ERR_SIGNATURE, "ECDSA signature must be %zu bytes (got %zu)",
                           2 * size, sig.len);
    uint8_t dgst[TES_MAX_DIGEST];
    size_t dlen = 0;
    tes_err err = hash_for_ecdsa(h, msg, dgst, &dlen);
    if (err)
        return err;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig.ptr, (int)size, NULL);
    BIGNUM *s = BN_bin2bn(sig.ptr + size, (int)size, NULL);
    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "building ECDSA signature");
    }
    int v = ECDSA_do_verify(dgst, (int)dlen, es, k->ec);
    ECDSA_SIG_free(es);
    if (v == 1)
        return TES_OK;
    if (v == 0) {
        tes_crypto_clear_errors();
        return tes_err_set(TES_ERR_SIGNATURE, "ECDSA signature does not verify");
    }
    return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "ECDSA verification");
}

tes_err tes_key_ecdh(const tes_key *priv, const tes_key *pub, uint8_t out[TES_MAX_COORD],
                     size_t *out_len)
{
    if (priv == NULL || pub == NULL || out == NULL || out_len == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_key_ecdh: NULL argument");
    if (priv->ec == NULL || pub->ec == NULL)
        return tes_err_set(TES_ERR_UNSUPPORTED, "ECDH needs EC keys (P-256, P-384, P-521)");
    if (priv->curve != pub->curve)
        return tes_err_set(TES_ERR_ARG, "ECDH keys on different curves (%d, %d)", (int)priv->curve,
                           (int)pub->curve);
    if (!priv->has_private)
        return tes_err_set(TES_ERR_ARG, "ECDH: first key has no private part");
    size_t size = tes_curve_size(priv->curve);
    int n = ECDH_compute_key(out, TES_MAX_COORD, EC_KEY_get0_public_key(pub->ec), priv->ec, NULL);
    if (n != (int)size) {
        tes_wipe(out, TES_MAX_COORD);
        return tes_crypto_ossl_fail(TES_ERR_CRYPTO, "ECDH");
    }
    *out_len = size;
    return TES_OK;
}
