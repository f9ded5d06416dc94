/* bench/floor.c — see floor.h. Deliberately uses OpenSSL's EC_KEY / low-level
 * SHA-256 API: the fastest paths OpenSSL 3.0 has (compiled with
 * OPENSSL_API_COMPAT=0x10100000L, like src/crypto/). */
#include "floor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdh.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

static void ossl_die(const char *what)
{
    fprintf(stderr, "bench floor: %s failed\n", what);
    exit(1);
}

static EC_GROUP *p256(void)
{
    static EC_GROUP *g;
    if (!g) {
        g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
        if (!g)
            ossl_die("EC_GROUP_new_by_curve_name");
    }
    return g;
}

const char *floor_openssl_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

/* ------------------------------------------------------------ small helpers */

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

/* HMAC-SHA-256 for keys of at most 64 bytes, on the low-level SHA-256. */
static void hmac256(const uint8_t *key, size_t klen, const uint8_t *m1, size_t n1,
                    const uint8_t *m2, size_t n2, uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    memcpy(k, key, klen);
    SHA256_CTX c;
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    SHA256_Init(&c);
    SHA256_Update(&c, pad, 64);
    SHA256_Update(&c, m1, n1);
    if (n2)
        SHA256_Update(&c, m2, n2);
    SHA256_Final(inner, &c);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&c);
    SHA256_Update(&c, pad, 64);
    SHA256_Update(&c, inner, 32);
    SHA256_Final(out, &c);
}

static EC_KEY *ec_from_tes_public(const tes_key *k)
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD], pt[65];
    if (tes_key_public_raw(k, x, y) != TES_OK)
        ossl_die("tes_key_public_raw");
    pt[0] = 4;
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    EC_KEY *ec = EC_KEY_new();
    EC_POINT *p = EC_POINT_new(p256());
    if (!ec || !p || !EC_KEY_set_group(ec, p256()) ||
        !EC_POINT_oct2point(p256(), p, pt, sizeof pt, NULL) || !EC_KEY_set_public_key(ec, p))
        ossl_die("EC_KEY import");
    EC_POINT_free(p);
    return ec;
}

static EC_KEY *ec_from_tes_private(const tes_key *k)
{
    tes_buf pem = {0};
    if (tes_key_to_pem(k, true, &pem) != TES_OK)
        ossl_die("tes_key_to_pem");
    BIO *b = BIO_new_mem_buf(pem.ptr, (int)pem.len);
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    EC_KEY *ec = pk ? EVP_PKEY_get1_EC_KEY(pk) : NULL;
    if (!ec)
        ossl_die("private EC_KEY import");
    EVP_PKEY_free(pk);
    BIO_free(b);
    tes_buf_free(&pem);
    return ec;
}

/* The per-verification device-key import: EC_KEY on the cached group, point
 * from its affine coordinates (OpenSSL checks it is on the curve). This is the
 * cheapest import OpenSSL 3.0 offers (cheaper than EVP_PKEY_fromdata or
 * d2i_PUBKEY, and than EC_KEY_set_public_key_affine_coordinates, which adds a
 * full key check). */
static EC_KEY *device_import(const uint8_t pt[65])
{
    EC_KEY *ec = EC_KEY_new();
    EC_POINT *p = EC_POINT_new(p256());
    if (!ec || !p || !EC_KEY_set_group(ec, p256()) ||
        !EC_POINT_oct2point(p256(), p, pt, 65, NULL) || !EC_KEY_set_public_key(ec, p))
        ossl_die("device key import");
    EC_POINT_free(p);
    return ec;
}

static ECDSA_SIG *sig_from_raw(const uint8_t raw[64])
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *ss = BN_bin2bn(raw + 32, 32, NULL);
    if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss))
        ossl_die("ECDSA_SIG");
    return s;
}

static int verify_raw(const uint8_t *tbs, size_t n, const uint8_t sig[64], EC_KEY *ec)
{
    uint8_t d[32];
    sha256(tbs, n, d);
    ECDSA_SIG *s = sig_from_raw(sig);
    int ok = ECDSA_do_verify(d, 32, s, ec);
    ECDSA_SIG_free(s);
    return ok;
}

/* [context, bstr prot, bstr '', bstr payload] */
static void to_be_signed(tes_buf *out, const char *context, tes_bytes prot, tes_bytes payload)
{
    tes_cbor_enc e = {.out = out};
    tes_cbor_enc_array(&e, 4);
    tes_cbor_enc_cstr(&e, context);
    tes_cbor_enc_bytes(&e, prot.ptr, prot.len);
    tes_cbor_enc_bytes(&e, "", 0);
    tes_cbor_enc_bytes(&e, payload.ptr, payload.len);
    if (tes_cbor_enc_finish(&e) != TES_OK)
        ossl_die("Sig_structure");
}

/* ------------------------------------------------------------ verification floors */

typedef struct floor_item {
    EC_KEY *issuer;            /* borrowed from floor_pool.ds_keys */
    tes_buf issuer_tbs;
    uint8_t issuer_sig[64];
    tes_buf device_tbs;        /* Sig_structure, or MAC_structure in a MAC world */
    uint8_t device_tag[64];    /* signature (64) or MAC tag (32) */
    uint8_t device_pt[65];     /* 04 || x || y */
    EC_KEY *reader;            /* EReaderKey private (MAC world) */
    tes_buf transcript_tagged; /* SessionTranscriptBytes (HKDF salt input) */
    /* the DS certificate (cold floor) */
    size_t auth;
    /* the disclosed IssuerSignedItemBytes (floor_sig_items) */
    size_t n_items;
    tes_bytes items[16]; /* views into the world's response */
} floor_item;

typedef struct floor_cert {
    uint8_t *tbs;
    size_t tbs_len;
    uint8_t *sig_der;
    size_t sig_len;
    EC_KEY *iaca;
} floor_cert;

struct floor_pool {
    size_t n;
    floor_item *it;
    EC_KEY *ds_keys[8];
    floor_cert certs[8];
    bool mac;
};

static void cert_prepare(floor_cert *c, const bench_authority *a)
{
    tes_bytes der = tes_cert_der(a->ds);
    const unsigned char *p = der.ptr;
    X509 *x = d2i_X509(NULL, &p, (long)der.len);
    if (!x)
        ossl_die("d2i_X509");
    unsigned char *tbs = NULL;
    int tl = i2d_re_X509_tbs(x, &tbs);
    const ASN1_BIT_STRING *sig = NULL;
    const X509_ALGOR *alg = NULL;
    X509_get0_signature(&sig, &alg, x);
    if (tl <= 0 || !sig)
        ossl_die("X509 tbs/signature");
    c->tbs = tbs;
    c->tbs_len = (size_t)tl;
    c->sig_len = (size_t)ASN1_STRING_length(sig);
    c->sig_der = malloc(c->sig_len);
    memcpy(c->sig_der, ASN1_STRING_get0_data(sig), c->sig_len);
    X509_free(x);
    c->iaca = ec_from_tes_public(tes_cert_key(a->iaca));
}

static int cert_verify(const floor_cert *c)
{
    uint8_t d[32];
    sha256(c->tbs, c->tbs_len, d);
    const unsigned char *p = c->sig_der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)c->sig_len);
    if (!s)
        ossl_die("d2i_ECDSA_SIG");
    int ok = ECDSA_do_verify(d, 32, s, c->iaca);
    ECDSA_SIG_free(s);
    return ok;
}

static uint32_t get(const tes_cbor_doc *d, uint32_t m, const char *k)
{
    uint32_t v = tes_cbor_map_get_text(d, m, k);
    if (v == TES_CBOR_NONE) {
        fprintf(stderr, "bench floor: response lacks '%s'\n", k);
        exit(1);
    }
    return v;
}

static void item_prepare(floor_pool *f, const bench_world *w, size_t i)
{
    const bench_holder *h = &w->h[i];
    floor_item *it = &f->it[i];
    it->auth = h->issuer;
    it->issuer = f->ds_keys[h->issuer];
    tes_cbor_doc d;
    if (tes_cbor_parse(tes_buf_bytes(&h->resp), NULL, &d) != TES_OK)
        ossl_die("parsing the response");
    uint32_t doc = tes_cbor_child(&d, get(&d, 0, "documents"));
    uint32_t dt = get(&d, doc, "docType");
    uint32_t is = get(&d, doc, "issuerSigned"), ds = get(&d, doc, "deviceSigned");
    uint32_t nsm = get(&d, is, "nameSpaces");
    for (uint32_t k = tes_cbor_child(&d, nsm); k != TES_CBOR_NONE && k < d.nodes[nsm].next;) {
        uint32_t arr = tes_cbor_next(&d, k);
        for (uint32_t c = tes_cbor_child(&d, arr); c != TES_CBOR_NONE && c < d.nodes[arr].next;
             c = tes_cbor_next(&d, c))
            if (it->n_items < 16)
                it->items[it->n_items++] = tes_cbor_span(&d, c);
        k = tes_cbor_next(&d, arr);
    }
    tes_cose_msg ia, da;
    if (tes_cose_sign1_decode(&d, get(&d, is, "issuerAuth"), &ia) != TES_OK || ia.tag.len != 64)
        ossl_die("issuerAuth");
    to_be_signed(&it->issuer_tbs, "Signature1", ia.protected_raw, ia.payload);
    memcpy(it->issuer_sig, ia.tag.ptr, 64);

    /* DeviceAuthenticationBytes = 24(<<["DeviceAuthentication", ST, docType, DNSBytes]>>) */
    tes_buf dab_in = {0}, dab = {0};
    tes_cbor_enc e = {.out = &dab_in};
    tes_cbor_enc_array(&e, 4);
    tes_cbor_enc_cstr(&e, "DeviceAuthentication");
    tes_cbor_enc_raw(&e, tes_buf_bytes(&h->transcript));
    tes_cbor_enc_text(&e, (const char *)d.nodes[dt].data, d.nodes[dt].len);
    tes_cbor_enc_raw(&e, tes_cbor_span(&d, get(&d, ds, "nameSpaces")));
    tes_cbor_enc e2 = {.out = &dab};
    tes_cbor_enc_tag(&e2, 24);
    tes_cbor_enc_bytes(&e2, dab_in.ptr, dab_in.len);
    if (tes_cbor_enc_finish(&e) != TES_OK || tes_cbor_enc_finish(&e2) != TES_OK)
        ossl_die("DeviceAuthenticationBytes");
    uint32_t dauth = get(&d, ds, "deviceAuth");
    if (w->mac) {
        if (tes_cose_mac0_decode(&d, get(&d, dauth, "deviceMac"), &da) != TES_OK || da.tag.len != 32)
            ossl_die("deviceMac");
        to_be_signed(&it->device_tbs, "MAC0", da.protected_raw, tes_buf_bytes(&dab));
        memcpy(it->device_tag, da.tag.ptr, 32);
        it->reader = ec_from_tes_private(h->ereader);
        tes_cbor_enc e3 = {.out = &it->transcript_tagged};
        tes_cbor_enc_tag(&e3, 24);
        tes_cbor_enc_bytes(&e3, h->transcript.ptr, h->transcript.len);
        if (tes_cbor_enc_finish(&e3) != TES_OK)
            ossl_die("SessionTranscriptBytes");
    } else {
        if (tes_cose_sign1_decode(&d, get(&d, dauth, "deviceSignature"), &da) != TES_OK ||
            da.tag.len != 64)
            ossl_die("deviceSignature");
        to_be_signed(&it->device_tbs, "Signature1", da.protected_raw, tes_buf_bytes(&dab));
        memcpy(it->device_tag, da.tag.ptr, 64);
    }
    tes_buf_free(&dab_in);
    tes_buf_free(&dab);
    tes_cbor_doc_free(&d);
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    if (tes_key_public_raw(h->device, x, y) != TES_OK)
        ossl_die("device key");
    it->device_pt[0] = 4;
    memcpy(it->device_pt + 1, x, 32);
    memcpy(it->device_pt + 33, y, 32);
}

static bool do_sig(floor_pool *f, size_t i)
{
    floor_item *it = &f->it[i];
    int ok = verify_raw(it->issuer_tbs.ptr, it->issuer_tbs.len, it->issuer_sig, it->issuer);
    EC_KEY *dev = device_import(it->device_pt);
    ok &= verify_raw(it->device_tbs.ptr, it->device_tbs.len, it->device_tag, dev);
    EC_KEY_free(dev);
    return ok == 1;
}

static bool do_mac(floor_pool *f, size_t i)
{
    floor_item *it = &f->it[i];
    int ok = verify_raw(it->issuer_tbs.ptr, it->issuer_tbs.len, it->issuer_sig, it->issuer);
    EC_KEY *dev = device_import(it->device_pt);
    uint8_t z[32], salt[32], prk[32], okm[32], tag[32];
    ok &= ECDH_compute_key(z, sizeof z, EC_KEY_get0_public_key(dev), it->reader, NULL) == 32;
    EC_KEY_free(dev);
    sha256(it->transcript_tagged.ptr, it->transcript_tagged.len, salt);
    hmac256(salt, 32, z, 32, NULL, 0, prk);                                  /* HKDF-Extract */
    hmac256(prk, 32, (const uint8_t *)"EMacKey", 7, (const uint8_t *)"\x01", 1, okm); /* Expand */
    hmac256(okm, 32, it->device_tbs.ptr, it->device_tbs.len, NULL, 0, tag);
    ok &= CRYPTO_memcmp(tag, it->device_tag, 32) == 0;
    OPENSSL_cleanse(z, sizeof z);
    OPENSSL_cleanse(okm, sizeof okm);
    return ok == 1;
}

floor_pool *floor_prepare(const bench_world *w)
{
    floor_pool *f = calloc(1, sizeof *f);
    if (!f || !(f->it = calloc(w->n, sizeof *f->it)))
        ossl_die("calloc");
    f->n = w->n;
    f->mac = w->mac;
    for (size_t a = 0; a < w->n_auth; a++) {
        f->ds_keys[a] = ec_from_tes_public(tes_cert_key(w->auth[a].ds));
        cert_prepare(&f->certs[a], &w->auth[a]);
        if (cert_verify(&f->certs[a]) != 1)
            ossl_die("DS certificate floor check");
    }
    for (size_t i = 0; i < w->n; i++) {
        item_prepare(f, w, i);
        if (!(w->mac ? do_mac(f, i) : do_sig(f, i))) {
            fprintf(stderr, "bench floor: the floor computation does not verify holder %zu\n", i);
            exit(1);
        }
    }
    return f;
}

void floor_free(floor_pool *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        tes_buf_free(&f->it[i].issuer_tbs);
        tes_buf_free(&f->it[i].device_tbs);
        tes_buf_free(&f->it[i].transcript_tagged);
        EC_KEY_free(f->it[i].reader);
    }
    for (size_t a = 0; a < 8; a++) {
        EC_KEY_free(f->ds_keys[a]);
        OPENSSL_free(f->certs[a].tbs);
        free(f->certs[a].sig_der);
        EC_KEY_free(f->certs[a].iaca);
    }
    free(f->it);
    free(f);
}

void floor_sig(floor_pool *f, size_t i)
{
    if (!do_sig(f, i))
        ossl_die("floor_sig");
}

void floor_sig_items(floor_pool *f, size_t i)
{
    uint8_t d[32];
    const floor_item *it = &f->it[i];
    for (size_t k = 0; k < it->n_items; k++)
        sha256(it->items[k].ptr, it->items[k].len, d);
    if (!do_sig(f, i))
        ossl_die("floor_sig_items");
}

void floor_cold(floor_pool *f, size_t i)
{
    if (cert_verify(&f->certs[f->it[i].auth]) != 1 || !do_sig(f, i))
        ossl_die("floor_cold");
}

void floor_mac(floor_pool *f, size_t i)
{
    if (!do_mac(f, i))
        ossl_die("floor_mac");
}

/* ------------------------------------------------------------ issuing floor */

struct floor_issue {
    size_t n_items;
    tes_buf items[64];
    tes_buf mso_tbs;
    EC_KEY *ds;
};

floor_issue *floor_issue_prepare(const bench_authority *a, tes_bytes mdoc)
{
    floor_issue *f = calloc(1, sizeof *f);
    if (!f)
        ossl_die("calloc");
    tes_cbor_doc d;
    if (tes_cbor_parse(mdoc, NULL, &d) != TES_OK)
        ossl_die("parsing the credential");
    uint32_t is = get(&d, 0, "issuerSigned");
    uint32_t nsm = get(&d, is, "nameSpaces");
    for (uint32_t k = tes_cbor_child(&d, nsm); k != TES_CBOR_NONE && k < d.nodes[nsm].next;) {
        uint32_t arr = tes_cbor_next(&d, k);
        for (uint32_t c = tes_cbor_child(&d, arr); c != TES_CBOR_NONE && c < d.nodes[arr].next;
             c = tes_cbor_next(&d, c)) {
            if (f->n_items == 64)
                ossl_die("too many items");
            tes_bytes s = tes_cbor_span(&d, c);
            tes_buf_append(&f->items[f->n_items++], s.ptr, s.len);
        }
        k = tes_cbor_next(&d, arr);
    }
    tes_cose_msg ia;
    if (tes_cose_sign1_decode(&d, get(&d, is, "issuerAuth"), &ia) != TES_OK)
        ossl_die("issuerAuth");
    to_be_signed(&f->mso_tbs, "Signature1", ia.protected_raw, ia.payload);
    tes_cbor_doc_free(&d);
    f->ds = ec_from_tes_private(a->ds_key);
    return f;
}

void floor_issue_free(floor_issue *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_items; i++)
        tes_buf_free(&f->items[i]);
    tes_buf_free(&f->mso_tbs);
    EC_KEY_free(f->ds);
    free(f);
}

void floor_issue_run(floor_issue *f)
{
    uint8_t d[32], raw[64];
    for (size_t i = 0; i < f->n_items; i++)
        sha256(f->items[i].ptr, f->items[i].len, d);
    sha256(f->mso_tbs.ptr, f->mso_tbs.len, d);
    ECDSA_SIG *s = ECDSA_do_sign(d, 32, f->ds);
    const BIGNUM *r = NULL, *ss = NULL;
    if (!s)
        ossl_die("ECDSA_do_sign");
    ECDSA_SIG_get0(s, &r, &ss);
    if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(ss, raw + 32, 32) != 32)
        ossl_die("BN_bn2binpad");
    ECDSA_SIG_free(s);
}

size_t floor_issue_hashes(const floor_issue *f) { return f->n_items + 1; }

/* ------------------------------------------------------------ login: the JWE half */

/* One encrypted OpenID4VP response split once at setup: what the cheapest
 * decryption needs (the recipient's EC_KEY, the ephemeral public point, the
 * protected header text as AAD, IV, ciphertext, tag). */
struct floor_login {
    EC_KEY *recipient;
    EC_POINT *epk;
    uint8_t *aad, *ct, *pt;
    size_t aad_len, ct_len;
    uint8_t iv[12], tag[16];
    uint8_t otherinfo[64]; /* Concat KDF: counter || Z || AlgorithmID || apu || apv || keydatalen */
};

static size_t b64url_part(const char *s, size_t n, uint8_t **out)
{
    tes_buf b = {0};
    if (tes_b64url_decode(&b, s, n) != TES_OK)
        ossl_die("base64url");
    *out = b.ptr;
    return b.len;
}

/* The ephemeral key's point from the header's "epk" {"x": ..., "y": ...}. */
static EC_POINT *epk_point(const char *hdr, size_t n)
{
    uint8_t pt[65] = {4};
    const char *names[2] = {"\"x\":\"", "\"y\":\""};
    for (int k = 0; k < 2; k++) {
        const char *p = memmem(hdr, n, names[k], strlen(names[k]));
        if (!p)
            ossl_die("epk coordinate");
        p += strlen(names[k]);
        const char *q = memchr(p, '"', (size_t)(hdr + n - p));
        uint8_t *c = NULL;
        if (!q || b64url_part(p, (size_t)(q - p), &c) != 32)
            ossl_die("epk coordinate length");
        memcpy(pt + 1 + 32 * k, c, 32);
        free(c);
    }
    EC_POINT *e = EC_POINT_new(p256());
    if (!e || !EC_POINT_oct2point(p256(), e, pt, sizeof pt, NULL))
        ossl_die("epk point");
    return e;
}

floor_login *floor_login_prepare(const tes_key *recipient, tes_bytes jwe)
{
    floor_login *f = calloc(1, sizeof(*f));
    const char *s = (const char *)jwe.ptr, *dot[4];
    size_t k = 0;
    for (size_t i = 0; i < jwe.len && k < 4; i++)
        if (s[i] == '.')
            dot[k++] = s + i;
    if (!f || k != 4 || dot[1] != dot[0] + 1)
        ossl_die("compact JWE (direct key agreement)");
    f->recipient = ec_from_tes_private(recipient);
    f->aad_len = (size_t)(dot[0] - s);
    f->aad = malloc(f->aad_len);
    memcpy(f->aad, s, f->aad_len);
    uint8_t *hdr = NULL, *iv = NULL, *tag = NULL;
    size_t hn = b64url_part(s, f->aad_len, &hdr);
    f->epk = epk_point((const char *)hdr, hn);
    if (!memmem(hdr, hn, "\"A256GCM\"", 9))
        ossl_die("enc A256GCM");
    free(hdr);
    if (b64url_part(dot[1] + 1, (size_t)(dot[2] - dot[1] - 1), &iv) != 12)
        ossl_die("IV length");
    memcpy(f->iv, iv, 12);
    free(iv);
    f->ct_len = b64url_part(dot[2] + 1, (size_t)(dot[3] - dot[2] - 1), &f->ct);
    if (b64url_part(dot[3] + 1, (size_t)(s + jwe.len - dot[3] - 1), &tag) != 16)
        ossl_die("tag length");
    memcpy(f->tag, tag, 16);
    free(tag);
    f->pt = malloc(f->ct_len + 1);
    /* RFC 7518 §4.6.2 OtherInfo for "A256GCM", empty apu/apv, 256 bits */
    static const uint8_t info[] = {0, 0, 0, 7, 'A', '2', '5', '6', 'G', 'C', 'M', 0, 0, 0, 0,
                                   0, 0, 0, 0, 0, 0, 1, 0};
    memcpy(f->otherinfo, info, sizeof info);
    if (!f->pt || !floor_login_run(f))
        ossl_die("floor_login (setup check)");
    return f;
}

/* ECDH, one SHA-256 (Concat KDF, one round), AES-256-GCM decryption + tag check. */
bool floor_login_run(floor_login *f)
{
    uint8_t z[32], key[32];
    if (ECDH_compute_key(z, sizeof z, f->epk, f->recipient, NULL) != 32)
        return false;
    SHA256_CTX c;
    static const uint8_t one[4] = {0, 0, 0, 1};
    SHA256_Init(&c);
    SHA256_Update(&c, one, 4);
    SHA256_Update(&c, z, 32);
    SHA256_Update(&c, f->otherinfo, 23);
    SHA256_Final(key, &c);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = x && EVP_DecryptInit_ex(x, EVP_aes_256_gcm(), NULL, key, f->iv) &&
              EVP_DecryptUpdate(x, NULL, &n, f->aad, (int)f->aad_len) &&
              EVP_DecryptUpdate(x, f->pt, &n, f->ct, (int)f->ct_len) &&
              EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, f->tag) &&
              EVP_DecryptFinal_ex(x, f->pt + n, &m) == 1;
    EVP_CIPHER_CTX_free(x);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(z, sizeof z);
    return ok && (size_t)(n + m) == f->ct_len;
}

void floor_login_free(floor_login *f)
{
    if (!f)
        return;
    EC_KEY_free(f->recipient);
    EC_POINT_free(f->epk);
    free(f->aad);
    free(f->ct);
    free(f->pt);
    free(f);
}
