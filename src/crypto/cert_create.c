/*
 * Certificate creation for the authority and reader PKIs (and tests): an X.509 v3
 * certificate with the 18013-5 Annex B style extensions, signed with ECDSA
 * (hash matching the issuer curve) or Ed25519, then re-parsed into a tes_cert.
 */
#include <limits.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "crypto_internal.h"

static tes_err fail(const char *what)
{
    return tes_crypto_ossl_fail(TES_ERR_CRYPTO, what);
}

static tes_err add_name_entry(X509_NAME *name, int nid, const char *value)
{
    if (value == NULL)
        return TES_OK;
    if (value[0] == '\0' || strlen(value) > 64)
        return tes_err_set(TES_ERR_ARG, "certificate %s must be 1..64 characters", OBJ_nid2sn(nid));
    /* OpenSSL's string table makes countryName a 2-letter PrintableString. */
    if (!X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (const unsigned char *)value, -1, -1,
                                    0))
        return tes_crypto_ossl_fail(TES_ERR_ARG, OBJ_nid2sn(nid));
    return TES_OK;
}

/* RFC 5280 4.2: whether a relying party that does not know the extension must reject. */
enum ext_criticality { EXT_NONCRITICAL, EXT_CRITICAL };

/* Adds ext (an i2d-able extension struct for nid); frees nothing. */
static tes_err add_ext(X509 *x, int nid, void *value, enum ext_criticality criticality)
{
    if (value == NULL || X509_add1_ext_i2d(x, nid, value, criticality == EXT_CRITICAL ? 1 : 0,
                                           X509V3_ADD_DEFAULT) != 1)
        return fail(OBJ_nid2sn(nid));
    return TES_OK;
}

/* SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2 method 1). */
static tes_err key_id(X509_PUBKEY *xpk, uint8_t out[20])
{
    const unsigned char *pk = NULL;
    int pklen = 0;
    const EVP_MD *sha1 = EVP_sha1();
    if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk) || pk == NULL ||
        !EVP_Digest(pk, (size_t)pklen, out, NULL, sha1, NULL))
        return fail("computing key identifier");
    return TES_OK;
}

static tes_err add_key_ids(X509 *x, const tes_cert *issuer)
{
    uint8_t ski[20], issuer_ski[64];
    size_t issuer_ski_len = 20;
    tes_err err = key_id(X509_get_X509_PUBKEY(x), ski);
    if (err)
        return err;
    if (issuer == NULL) {
        memcpy(issuer_ski, ski, 20);
    } else if (issuer->info.ski_len > 0) {
        memcpy(issuer_ski, issuer->info.ski, issuer->info.ski_len);
        issuer_ski_len = issuer->info.ski_len;
    } else if ((err = key_id(X509_get_X509_PUBKEY(issuer->x509), issuer_ski)) != TES_OK) {
        return err; /* issuer without SKI: its key identifier by the same method */
    }

    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    if (os == NULL || !ASN1_OCTET_STRING_set(os, ski, 20)) {
        ASN1_OCTET_STRING_free(os);
        return fail("subjectKeyIdentifier");
    }
    err = add_ext(x, NID_subject_key_identifier, os, EXT_NONCRITICAL);
    ASN1_OCTET_STRING_free(os);
    if (err)
        return err;

    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    if (akid == NULL || (akid->keyid = ASN1_OCTET_STRING_new()) == NULL ||
        !ASN1_OCTET_STRING_set(akid->keyid, issuer_ski, (int)issuer_ski_len)) {
        AUTHORITY_KEYID_free(akid);
        return fail("authorityKeyIdentifier");
    }
    err = add_ext(x, NID_authority_key_identifier, akid, EXT_NONCRITICAL);
    AUTHORITY_KEYID_free(akid);
    return err;
}

static tes_err add_basic_constraints(X509 *x, const tes_cert_template *t)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    if (bc == NULL)
        return fail("basicConstraints");
    bc->ca = 0xFF;
    if (t->path_len >= 0 && ((bc->pathlen = ASN1_INTEGER_new()) == NULL ||
                             !ASN1_INTEGER_set(bc->pathlen, t->path_len))) {
        BASIC_CONSTRAINTS_free(bc);
        return fail("basicConstraints pathLen");
    }
    tes_err err = add_ext(x, NID_basic_constraints, bc, EXT_CRITICAL);
    BASIC_CONSTRAINTS_free(bc);
    return err;
}

static tes_err add_key_usage(X509 *x, uint32_t ku)
{
    if (ku & ~(uint32_t)0x7F)
        return tes_err_set(TES_ERR_ARG, "unknown key usage bits 0x%x", (unsigned)(ku & ~0x7Fu));
    ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
    if (bs == NULL)
        return fail("keyUsage");
    for (int bit = 0; bit < 7; bit++) {
        if ((ku & (1u << bit)) && !ASN1_BIT_STRING_set_bit(bs, bit, 1)) {
            ASN1_BIT_STRING_free(bs);
            return fail("keyUsage");
        }
    }
    tes_err err = add_ext(x, NID_key_usage, bs, EXT_CRITICAL);
    ASN1_BIT_STRING_free(bs);
    return err;
}

static tes_err add_eku(X509 *x, const char *oid)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (obj == NULL) {
        tes_crypto_clear_errors();
        return tes_err_set(TES_ERR_ARG, "EKU \"%s\" is not a dotted OID", oid);
    }
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    if (eku == NULL || !sk_ASN1_OBJECT_push(eku, obj)) {
        ASN1_OBJECT_free(obj);
        sk_ASN1_OBJECT_free(eku);
        return fail("extendedKeyUsage");
    }
    /* 18013-5 Table B.3 / B.5: the EKU extension is critical. */
    tes_err err = add_ext(x, NID_ext_key_usage, eku, EXT_CRITICAL);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    return err;
}

/* A GENERAL_NAMES holding one URI. */
static GENERAL_NAMES *uri_names(const char *uri)
{
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    if (names == NULL || gn == NULL || ia5 == NULL || !ASN1_STRING_set(ia5, uri, -1)) {
        GENERAL_NAMES_free(names);
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(ia5);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
    if (!sk_GENERAL_NAME_push(names, gn)) {
        GENERAL_NAME_free(gn);
        GENERAL_NAMES_free(names);
        return NULL;
    }
    return names;
}

static bool ascii_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7E)
            return false;
    return true;
}

static tes_err add_issuer_alt_uri(X509 *x, const char *uri)
{
    if (uri[0] == '\0' || !ascii_printable(uri))
        return tes_err_set(TES_ERR_ARG, "issuerAltName URI must be non-empty printable ASCII");
    GENERAL_NAMES *names = uri_names(uri);
    if (names == NULL)
        return fail("issuerAltName");
    tes_err err = add_ext(x, NID_issuer_alt_name, names, EXT_NONCRITICAL);
    GENERAL_NAMES_free(names);
    return err;
}

static tes_err add_san_dns(X509 *x, const char *dns)
{
    if (dns[0] == '\0' || !ascii_printable(dns))
        return tes_err_set(TES_ERR_ARG, "subjectAltName dNSName must be non-empty printable ASCII");
    GENERAL_NAMES *names = uri_names(dns);
    if (names == NULL)
        return fail("subjectAltName");
    /* uri_names made a URI: the same IA5String, as a dNSName */
    GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, 0);
    gn->type = GEN_DNS;
    tes_err err = add_ext(x, NID_subject_alt_name, names, EXT_NONCRITICAL);
    GENERAL_NAMES_free(names);
    return err;
}

static tes_err add_crl_dp(X509 *x, const char *uri)
{
    if (uri[0] == '\0' || !ascii_printable(uri))
        return tes_err_set(TES_ERR_ARG, "CRL distribution point URI must be printable ASCII");
    CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
    DIST_POINT *dp = DIST_POINT_new();
    DIST_POINT_NAME *dpn = DIST_POINT_NAME_new();
    GENERAL_NAMES *names = uri_names(uri);
    if (dps == NULL || dp == NULL || dpn == NULL || names == NULL) {
        sk_DIST_POINT_free(dps);
        DIST_POINT_free(dp);
        DIST_POINT_NAME_free(dpn);
        GENERAL_NAMES_free(names);
        return fail("cRLDistributionPoints");
    }
    dpn->type = 0; /* fullName */
    dpn->name.fullname = names;
    dp->distpoint = dpn;
    if (!sk_DIST_POINT_push(dps, dp)) {
        DIST_POINT_free(dp);
        sk_DIST_POINT_free(dps);
        return fail("cRLDistributionPoints");
    }
    tes_err err = add_ext(x, NID_crl_distribution_points, dps, EXT_NONCRITICAL);
    CRL_DIST_POINTS_free(dps);
    return err;
}

static tes_err add_extra(X509 *x, const char *oid, tes_bytes value)
{
    if (value.ptr == NULL || value.len == 0 || value.len > INT_MAX)
        return tes_err_set(TES_ERR_ARG, "extra extension %s needs a DER value", oid);
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (obj == NULL) {
        tes_crypto_clear_errors();
        return tes_err_set(TES_ERR_ARG, "extra extension \"%s\" is not a dotted OID", oid);
    }
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int ok = os != NULL && ASN1_OCTET_STRING_set(os, value.ptr, (int)value.len) &&
             (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL &&
             X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ok ? TES_OK : fail("extra extension");
}

static tes_err set_serial(X509 *x, const tes_rng *rng)
{
    uint8_t serial[16];
    tes_err err = tes_rng_fill(rng, serial, sizeof serial);
    if (err)
        return err;
    serial[0] &= 0x7F; /* positive */
    if (serial[0] == 0)
        serial[0] = 0x01; /* and always 16 octets long */
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = ai != NULL && X509_set_serialNumber(x, ai);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return ok ? TES_OK : fail("serial number");
}

static tes_err check_template(const tes_cert_template *t, const tes_key *subject_key,
                              const tes_cert *issuer, const tes_key *issuer_key)
{
    if (t == NULL || subject_key == NULL || issuer_key == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_cert_create: NULL argument");
    if (t->common_name == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_cert_create: common_name is required");
    if (t->not_after < t->not_before)
        return tes_err_set(TES_ERR_ARG, "tes_cert_create: not_after before not_before");
    if (!tes_key_has_private(issuer_key))
        return tes_err_set(TES_ERR_ARG, "tes_cert_create: issuer key has no private part");
    if (issuer == NULL && !tes_key_equal_public(issuer_key, subject_key))
        return tes_err_set(TES_ERR_ARG,
                           "tes_cert_create: self-signed, but issuer key is not the subject key");
    if (issuer != NULL && !tes_key_equal_public(issuer_key, tes_cert_key(issuer)))
        return tes_err_set(TES_ERR_ARG,
                           "tes_cert_create: issuer key does not match the issuer certificate");
    if (t->extra_oid == NULL && t->extra_value.len != 0)
        return tes_err_set(TES_ERR_ARG, "tes_cert_create: extra_value without extra_oid");
    return TES_OK;
}

static const EVP_MD *sign_md(tes_curve c)
{
    switch (c) {
    case TES_CURVE_P256:
        return tes_crypto_md(TES_HASH_SHA256);
    case TES_CURVE_P384:
        return tes_crypto_md(TES_HASH_SHA384);
    case TES_CURVE_P521:
        return tes_crypto_md(TES_HASH_SHA512);
    default:
        return NULL; /* Ed25519: no separate digest */
    }
}

tes_err tes_cert_create(const tes_cert_template *t, const tes_key *subject_key,
                        const tes_cert *issuer, const tes_key *issuer_key, tes_cert **out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_cert_create: NULL output");
    *out = NULL;
    tes_err err = check_template(t, subject_key, issuer, issuer_key);
    if (err)
        return err;
    EVP_PKEY *subject_pkey = tes_crypto_key_pkey(subject_key);
    EVP_PKEY *issuer_pkey = tes_crypto_key_pkey(issuer_key);
    if (subject_pkey == NULL || issuer_pkey == NULL)
        return TES_ERR_CRYPTO;
    const EVP_MD *md = sign_md(tes_key_curve(issuer_key));
    if (md == NULL && tes_key_curve(issuer_key) != TES_CURVE_ED25519)
        return fail("fetching signature digest");

    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    unsigned char *der = NULL;
    if (x == NULL || name == NULL) {
        err = fail("allocating certificate");
        goto done;
    }
    if ((err = set_serial(x, t->rng)) != TES_OK)
        goto done;
    if ((err = add_name_entry(name, NID_countryName, t->country)) ||
        (err = add_name_entry(name, NID_stateOrProvinceName, t->state)) ||
        (err = add_name_entry(name, NID_organizationName, t->organization)) ||
        (err = add_name_entry(name, NID_commonName, t->common_name)))
        goto done;
    if (!X509_set_version(x, X509_VERSION_3) || !X509_set_subject_name(x, name) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->x509) : name) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)t->not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)t->not_after) ||
        !X509_set_pubkey(x, subject_pkey)) {
        err = fail("filling certificate");
        goto done;
    }
    if (t->is_ca && (err = add_basic_constraints(x, t)) != TES_OK)
        goto done;
    if (t->key_usage != 0 && (err = add_key_usage(x, t->key_usage)) != TES_OK)
        goto done;
    if (t->eku_oid != NULL && (err = add_eku(x, t->eku_oid)) != TES_OK)
        goto done;
    if ((err = add_key_ids(x, issuer)) != TES_OK)
        goto done;
    if (t->issuer_alt_uri != NULL && (err = add_issuer_alt_uri(x, t->issuer_alt_uri)) != TES_OK)
        goto done;
    if (t->crl_uri != NULL && (err = add_crl_dp(x, t->crl_uri)) != TES_OK)
        goto done;
    if (t->san_dns != NULL && (err = add_san_dns(x, t->san_dns)) != TES_OK)
        goto done;
    if (t->extra_oid != NULL && (err = add_extra(x, t->extra_oid, t->extra_value)) != TES_OK)
        goto done;
    if (X509_sign(x, issuer_pkey, md) <= 0) {
        err = fail("signing certificate");
        goto done;
    }
    int len = i2d_X509(x, &der);
    if (len <= 0) {
        err = fail("encoding certificate");
        goto done;
    }
    err = tes_cert_parse(TES_BYTES(der, (size_t)len), out);
done:
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_free(x);
    if (err)
        tes_crypto_clear_errors();
    return err;
}
