/*
 * Certificates: parsing (DER / PEM), the facts in tes_cert_info (computed once),
 * extension lookup and signature checks.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crypto_internal.h"

#define MAX_CERT_DER (1u << 20)

/* ---------------------------------------------------------------- helpers */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static tes_err time_to_unix(const ASN1_TIME *t, const char *which, int64_t *out)
{
    struct tm tm;
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return tes_crypto_ossl_fail(TES_ERR_CERT_MALFORMED, which);
    int64_t days =
        days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
    *out = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return TES_OK;
}

/* Copies s into out (size n), truncated at a UTF-8 character boundary. */
static void copy_truncated(char *out, size_t n, const char *s, size_t len)
{
    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--; /* do not cut a multi-byte character */
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

static tes_err name_oneline(const X509_NAME *name, char *out, size_t n)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return tes_crypto_ossl_fail(TES_ERR_NOMEM, "memory BIO");
    char *data = NULL;
    long len;
    /* RFC 2253 escaping (ESC_MSB) keeps the output ASCII. */
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0 ||
        (len = BIO_get_mem_data(bio, &data)) < 0) {
        BIO_free(bio);
        return tes_crypto_ossl_fail(TES_ERR_CERT_MALFORMED, "printing name");
    }
    copy_truncated(out, n, data ? data : "", (size_t)len);
    BIO_free(bio);
    return TES_OK;
}

/* First attribute nid of name as UTF-8 ("" when absent). */
static tes_err name_attr(const X509_NAME *name, int nid, char *out, size_t n)
{
    out[0] = '\0';
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0)
        return TES_OK;
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, v);
    if (len < 0)
        return tes_crypto_ossl_fail(TES_ERR_CERT_MALFORMED, "name attribute not convertible");
    if (memchr(utf8, 0, (size_t)len) != NULL) {
        OPENSSL_free(utf8);
        return tes_err_set(TES_ERR_CERT_MALFORMED, "NUL character in %s", OBJ_nid2sn(nid));
    }
    copy_truncated(out, n, (const char *)utf8, (size_t)len);
    OPENSSL_free(utf8);
    return TES_OK;
}

static tes_err copy_key_id(const ASN1_OCTET_STRING *id, const char *which, uint8_t *out,
                           size_t *out_len)
{
    *out_len = 0;
    if (id == NULL)
        return TES_OK;
    int len = ASN1_STRING_length(id);
    if (len <= 0 || len > 64)
        return tes_err_set(TES_ERR_CERT_MALFORMED, "%s of %d bytes (1..64 supported)", which, len);
    memcpy(out, ASN1_STRING_get0_data(id), (size_t)len);
    *out_len = (size_t)len;
    return TES_OK;
}

static uint32_t map_key_usage(uint32_t ku)
{
    static const struct {
        uint32_t ossl, tes;
    } map[] = {
        {KU_DIGITAL_SIGNATURE, TES_KU_DIGITAL_SIGNATURE},
        {KU_NON_REPUDIATION, TES_KU_NON_REPUDIATION},
        {KU_KEY_ENCIPHERMENT, TES_KU_KEY_ENCIPHERMENT},
        {KU_DATA_ENCIPHERMENT, TES_KU_DATA_ENCIPHERMENT},
        {KU_KEY_AGREEMENT, TES_KU_KEY_AGREEMENT},
        {KU_KEY_CERT_SIGN, TES_KU_KEY_CERT_SIGN},
        {KU_CRL_SIGN, TES_KU_CRL_SIGN},
    };
    uint32_t out = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (ku & map[i].ossl)
            out |= map[i].tes;
    return out;
}

static tes_err fill_info(tes_cert *c)
{
    X509 *x = c->x509;
    tes_cert_info *ci = &c->info;
    tes_err err;
    if ((err = time_to_unix(X509_get0_notBefore(x), "notBefore malformed", &ci->not_before)) ||
        (err = time_to_unix(X509_get0_notAfter(x), "notAfter malformed", &ci->not_after)))
        return err;

    /* Also caches OpenSSL's view of the extensions (done here, once, single-threaded). */
    uint32_t flags = X509_get_extension_flags(x);
    if (flags & EXFLAG_INVALID) {
        tes_crypto_clear_errors();
        return tes_err_set(TES_ERR_CERT_MALFORMED,
                           "certificate extensions malformed (or an extension repeated)");
    }
    ci->has_basic_constraints = (flags & EXFLAG_BCONS) != 0;
    ci->is_ca = (flags & EXFLAG_CA) != 0;
    long pl = X509_get_pathlen(x);
    ci->path_len = ci->is_ca && pl >= 0 && pl <= INT_MAX ? (int)pl : -1;
    ci->has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
    ci->key_usage = ci->has_key_usage ? map_key_usage(X509_get_key_usage(x)) : 0;
    ci->has_eku = (flags & EXFLAG_XKUSAGE) != 0;
    /* OpenSSL's EXFLAG_CRITICAL only marks critical extensions OpenSSL itself does not
     * know; nameConstraints or policyConstraints, which it knows but this library never
     * enforces, would pass. A critical extension is accepted only when the profile
     * checks enforce it (src/trust/profile.c). */
    ci->unknown_critical = false;
    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);
        if (X509_EXTENSION_get_critical(ext) <= 0)
            continue;
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
        if (nid == NID_basic_constraints || nid == NID_key_usage || nid == NID_ext_key_usage)
            continue;
        ci->unknown_critical = true;
        if (OBJ_obj2txt(ci->critical_ext, sizeof ci->critical_ext, X509_EXTENSION_get_object(ext),
                        1) <= 0)
            snprintf(ci->critical_ext, sizeof ci->critical_ext, "(unreadable OID)");
        break;
    }

    if ((err = copy_key_id(X509_get0_subject_key_id(x), "subjectKeyIdentifier", ci->ski,
                           &ci->ski_len)) ||
        (err = copy_key_id(X509_get0_authority_key_id(x), "authorityKeyIdentifier", ci->aki,
                           &ci->aki_len)))
        return err;

    const X509_NAME *subj = X509_get_subject_name(x), *iss = X509_get_issuer_name(x);
    ci->self_issued = X509_NAME_cmp(subj, iss) == 0;
    if ((err = name_oneline(subj, ci->subject, sizeof ci->subject)) ||
        (err = name_oneline(iss, ci->issuer, sizeof ci->issuer)) ||
        (err = name_attr(subj, NID_commonName, ci->common_name, sizeof ci->common_name)) ||
        (err = name_attr(subj, NID_countryName, ci->country, sizeof ci->country)) ||
        (err = name_attr(subj, NID_stateOrProvinceName, ci->state, sizeof ci->state)))
        return err;
    return tes_digest(TES_HASH_SHA256, TES_BYTES(c->der, c->der_len), ci->sha256);
}

/* ---------------------------------------------------------------- parsing */

tes_err tes_cert_parse(tes_bytes der, tes_cert **out)
{
    if (out == NULL || (der.ptr == NULL && der.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_cert_parse: NULL argument");
    *out = NULL;
    if (der.len == 0 || der.len > MAX_CERT_DER)
        return tes_err_set(TES_ERR_CERT_MALFORMED, "certificate of %zu bytes (1..%u accepted)",
                           der.len, MAX_CERT_DER);
    tes_cert *c = calloc(1, sizeof *c);
    if (c == NULL || (c->der = malloc(der.len)) == NULL) {
        free(c);
        return tes_err_set(TES_ERR_NOMEM, "out of memory for a certificate");
    }
    atomic_init(&c->refs, 1);
    memcpy(c->der, der.ptr, der.len);
    c->der_len = der.len;
    const unsigned char *p = c->der;
    tes_err err;
    c->x509 = d2i_X509(NULL, &p, (long)der.len);
    if (c->x509 == NULL) {
        err = tes_crypto_ossl_fail(TES_ERR_CERT_MALFORMED, "certificate DER malformed");
        goto fail;
    }
    if (p != c->der + c->der_len) {
        err = tes_err_set(TES_ERR_CERT_MALFORMED, "%zu trailing bytes after the certificate",
                          (size_t)(c->der + c->der_len - p));
        goto fail;
    }
    if ((err = fill_info(c)) != TES_OK)
        goto fail;
    X509_PUBKEY *xpk = X509_get_X509_PUBKEY(c->x509);
    err = tes_crypto_key_from_x509_pubkey(xpk, &c->key);
    if (err == TES_ERR_UNSUPPORTED) {
        c->key = NULL; /* e.g. an RSA root in a bundle: parsed, but no tes_key */
        tes_err_clear();
    } else if (err) {
        if (err == TES_ERR_KEY_MALFORMED)
            err = tes_err_set(TES_ERR_CERT_MALFORMED, "certificate public key malformed");
        goto fail;
    }
    *out = c;
    return TES_OK;
fail:
    tes_crypto_clear_errors();
    tes_cert_free(c);
    return err;
}

static bool is_pem(tes_bytes in)
{
    return memmem(in.ptr, in.len, "-----BEGIN ", 11) != NULL;
}

/* Reads the next CERTIFICATE block of bio into a new certificate; *done at the end. */
static tes_err next_pem_cert(BIO *bio, tes_cert **out, bool *done)
{
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long len = 0;
        if (!PEM_read_bio(bio, &name, &header, &data, &len)) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                tes_crypto_clear_errors();
                *done = true;
                return TES_OK;
            }
            return tes_crypto_ossl_fail(TES_ERR_CERT_MALFORMED, "PEM text malformed");
        }
        bool is_cert = strcmp(name, PEM_STRING_X509) == 0;
        tes_err err = TES_OK;
        if (is_cert)
            err = tes_cert_parse(TES_BYTES(data, (size_t)len), out);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (is_cert) {
            *done = false;
            return err;
        }
    }
}

tes_err tes_cert_parse_all(tes_bytes in, tes_cert **out, size_t max, size_t *n)
{
    if (out == NULL || n == NULL || (in.ptr == NULL && in.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_cert_parse_all: NULL argument");
    *n = 0;
    if (max == 0)
        return tes_err_set(TES_ERR_BUFFER_SMALL, "tes_cert_parse_all: no room for a certificate");
    if (!is_pem(in)) {
        tes_err err = tes_cert_parse(in, &out[0]);
        if (err == TES_OK)
            *n = 1;
        return err;
    }
    if (in.len > INT_MAX)
        return tes_err_set(TES_ERR_CERT_MALFORMED, "PEM input too large");
    BIO *bio = BIO_new_mem_buf(in.ptr, (int)in.len);
    if (bio == NULL)
        return tes_crypto_ossl_fail(TES_ERR_NOMEM, "memory BIO");
    tes_err err = TES_OK;
    size_t count = 0;
    for (;;) {
        tes_cert *c = NULL;
        bool done = false;
        if ((err = next_pem_cert(bio, &c, &done)) != TES_OK || done)
            break;
        if (count == max) {
            tes_cert_free(c);
            err = tes_err_set(TES_ERR_BUFFER_SMALL, "more than %zu certificates in PEM input", max);
            break;
        }
        out[count++] = c;
    }
    BIO_free(bio);
    if (err == TES_OK && count == 0)
        err = tes_err_set(TES_ERR_CERT_MALFORMED, "no CERTIFICATE block in PEM text");
    if (err != TES_OK) {
        for (size_t i = 0; i < count; i++) {
            tes_cert_free(out[i]);
            out[i] = NULL;
        }
        return err;
    }
    *n = count;
    return TES_OK;
}

tes_err tes_cert_parse_any(tes_bytes in, tes_cert **out)
{
    if (out == NULL || (in.ptr == NULL && in.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_cert_parse_any: NULL argument");
    *out = NULL;
    if (!is_pem(in))
        return tes_cert_parse(in, out);
    if (in.len > INT_MAX)
        return tes_err_set(TES_ERR_CERT_MALFORMED, "PEM input too large");
    BIO *bio = BIO_new_mem_buf(in.ptr, (int)in.len);
    if (bio == NULL)
        return tes_crypto_ossl_fail(TES_ERR_NOMEM, "memory BIO");
    bool done = false;
    tes_err err = next_pem_cert(bio, out, &done);
    BIO_free(bio);
    if (err == TES_OK && done)
        err = tes_err_set(TES_ERR_CERT_MALFORMED, "no CERTIFICATE block in PEM text");
    return err;
}

/* ---------------------------------------------------------------- references */

tes_cert *tes_cert_ref(tes_cert *c)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void tes_cert_free(tes_cert *c)
{
    if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    X509_free(c->x509);
    tes_key_free(c->key);
    free(c->der);
    free(c);
}

/* ---------------------------------------------------------------- accessors */

const tes_cert_info *tes_cert_get_info(const tes_cert *c)
{
    return c ? &c->info : NULL;
}

tes_bytes tes_cert_der(const tes_cert *c)
{
    return c ? TES_BYTES(c->der, c->der_len) : TES_BYTES(NULL, 0);
}

const tes_key *tes_cert_key(const tes_cert *c)
{
    return c ? c->key : NULL;
}

bool tes_cert_has_eku(const tes_cert *c, const char *oid)
{
    if (c == NULL || oid == NULL || !c->info.has_eku)
        return false;
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(c->x509, NID_ext_key_usage, NULL, NULL);
    if (eku == NULL) {
        tes_crypto_clear_errors();
        return false;
    }
    bool found = false;
    char buf[128];
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku) && !found; i++) {
        int len = OBJ_obj2txt(buf, sizeof buf, sk_ASN1_OBJECT_value(eku, i), 1);
        found = len > 0 && (size_t)len < sizeof buf && strcmp(buf, oid) == 0;
    }
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    return found;
}

/* Calls fn on each dNSName of c's subjectAltName until it returns true. */
static bool each_san_dns(const tes_cert *c, bool (*fn)(void *, const char *, size_t), void *ctx)
{
    if (c == NULL)
        return false;
    GENERAL_NAMES *names = X509_get_ext_d2i(c->x509, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) {
        tes_crypto_clear_errors();
        return false;
    }
    bool done = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && !done; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        int type;
        const ASN1_STRING *v = GENERAL_NAME_get0_value(gn, &type);
        if (type != GEN_DNS || v == NULL)
            continue;
        done = fn(ctx, (const char *)ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
    }
    GENERAL_NAMES_free(names);
    return done;
}

static bool dns_equal(void *ctx, const char *name, size_t len)
{
    const char *want = ctx;
    return strlen(want) == len && memchr(name, '\0', len) == NULL &&
           strncasecmp(want, name, len) == 0;
}

bool tes_cert_san_has_dns(const tes_cert *c, const char *dns)
{
    return dns != NULL && *dns != '\0' && each_san_dns(c, dns_equal, (void *)dns);
}

struct san_first {
    char *out;
    size_t cap;
    tes_err e;
};

static bool dns_first(void *ctx, const char *name, size_t len)
{
    struct san_first *f = ctx;
    if (len >= f->cap || memchr(name, '\0', len) != NULL)
        f->e = tes_err_set(TES_ERR_CERT_MALFORMED, "subjectAltName dNSName too long or with NUL");
    else {
        memcpy(f->out, name, len);
        f->out[len] = '\0';
        f->e = TES_OK;
    }
    return true;
}

tes_err tes_cert_san_dns(const tes_cert *c, char *out, size_t cap)
{
    if (c == NULL || out == NULL || cap == 0)
        return tes_err_set(TES_ERR_ARG, "tes_cert_san_dns: NULL argument");
    struct san_first f = {out, cap, TES_OK};
    if (!each_san_dns(c, dns_first, &f))
        return tes_err_set(TES_ERR_NOT_FOUND, "certificate has no subjectAltName dNSName");
    return f.e;
}

tes_err tes_cert_extension(const tes_cert *c, const char *oid, tes_bytes *value, bool *critical)
{
    if (c == NULL || oid == NULL || value == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_cert_extension: NULL argument");
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (obj == NULL) {
        tes_crypto_clear_errors();
        return tes_err_set(TES_ERR_ARG, "\"%s\" is not a dotted OID", oid);
    }
    int i = X509_get_ext_by_OBJ(c->x509, obj, -1);
    ASN1_OBJECT_free(obj);
    if (i < 0)
        return tes_err_set(TES_ERR_NOT_FOUND, "certificate has no extension %s", oid);
    X509_EXTENSION *ext = X509_get_ext(c->x509, i);
    const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(ext);
    *value = TES_BYTES(ASN1_STRING_get0_data(data), (size_t)ASN1_STRING_length(data));
    if (critical != NULL)
        *critical = X509_EXTENSION_get_critical(ext) > 0;
    return TES_OK;
}

tes_err tes_cert_verify_signed_by(const tes_cert *c, const tes_cert *issuer)
{
    if (c == NULL || issuer == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_cert_verify_signed_by: NULL argument");
    EVP_PKEY *pkey = X509_get0_pubkey(issuer->x509);
    if (pkey == NULL) {
        tes_crypto_clear_errors();
        return tes_err_set(TES_ERR_CHAIN_SIG, "issuer \"%s\" has no usable public key",
                           issuer->info.subject);
    }
    if (X509_verify(c->x509, pkey) != 1) {
        tes_crypto_clear_errors();
        return tes_err_set(TES_ERR_CHAIN_SIG, "signature of \"%s\" does not verify with \"%s\"",
                           c->info.subject, issuer->info.subject);
    }
    return TES_OK;
}

bool tes_cert_issuer_matches(const tes_cert *c, const tes_cert *issuer)
{
    return c != NULL && issuer != NULL &&
           X509_NAME_cmp(X509_get_issuer_name(c->x509), X509_get_subject_name(issuer->x509)) == 0;
}

tes_err tes_cert_to_pem(const tes_cert *c, tes_buf *out)
{
    if (c == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_cert_to_pem: NULL argument");
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return tes_crypto_ossl_fail(TES_ERR_NOMEM, "memory BIO");
    tes_err err = PEM_write_bio(bio, PEM_STRING_X509, "", c->der, (long)c->der_len) > 0
                      ? tes_crypto_bio_to_buf(bio, out)
                      : tes_crypto_ossl_fail(TES_ERR_CRYPTO, "writing PEM certificate");
    BIO_free(bio);
    return err;
}
