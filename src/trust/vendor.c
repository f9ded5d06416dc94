/*
 * Key attestation under a chip vendor's root (TES_PROFILE_VENDOR_ATTESTED_KEY,
 * TES_PROFILE_VENDOR_KA_SIGNER): the leaf profiles and the chain walk to the
 * vendor roots a verifier hands over with each call. Used by se
 * (tes_se_attestation_verify, Tessera's x5c form) and the issuer (key
 * attestation JWTs, OpenID4VCI Appendix D). Every rejection is
 * TES_ERR_ATTESTATION.
 */
#include "trust_internal.h"

#include <string.h>

static bool vendor_profile(tes_trust_profile p)
{
    return p == TES_PROFILE_VENDOR_ATTESTED_KEY || p == TES_PROFILE_VENDOR_KA_SIGNER;
}

tes_err trust_check_vendor_leaf(const tes_cert *c, tes_trust_profile p)
{
    if (c == NULL || !vendor_profile(p))
        return tes_err_set(TES_ERR_ARG, "trust: bad arguments to check_leaf");
    const tes_cert_info *i = tes_cert_get_info(c);
    tes_bytes v;
    bool critical = false;
    bool attested = tes_cert_extension(c, TES_OID_KEY_ATTESTATION, &v, &critical) == TES_OK;
    if (p == TES_PROFILE_VENDOR_ATTESTED_KEY) {
        if (!attested)
            return tes_err_set(TES_ERR_ATTESTATION,
                               "the leaf certificate has no key attestation extension (%s)",
                               TES_OID_KEY_ATTESTATION);
        if (i->is_ca)
            return tes_err_set(TES_ERR_ATTESTATION, "the attested key's certificate is a CA");
        return TES_OK;
    }
    /* x5c[0] may sign key attestations: an end entity for signatures, not a
     * certified holder key (attested-key certificates chain to the same roots
     * and their keys sign whatever the holder wants). */
    if (i->is_ca)
        return tes_err_set(TES_ERR_ATTESTATION, "the signer certificate (x5c[0]) is a CA");
    if (i->has_key_usage && !(i->key_usage & TES_KU_DIGITAL_SIGNATURE))
        return tes_err_set(TES_ERR_ATTESTATION,
                           "the signer certificate (x5c[0]) lacks keyUsage digitalSignature");
    if (attested)
        return tes_err_set(TES_ERR_ATTESTATION,
                           "the signer certificate (x5c[0]) certifies a holder's attested key, "
                           "not a key attestation signer");
    if (i->has_eku && !tes_cert_has_eku(c, TES_OID_KA_SIGNER))
        return tes_err_set(TES_ERR_ATTESTATION,
                           "the signer certificate (x5c[0]) has an extended key usage without "
                           "key attestation (" TES_OID_KA_SIGNER ")");
    return TES_OK;
}

static tes_err check_time(const tes_cert *c, const char *what, int64_t at)
{
    const tes_cert_info *i = tes_cert_get_info(c);
    if (at < i->not_before)
        return tes_err_set(TES_ERR_ATTESTATION, "%s certificate \"%s\" is not yet valid", what,
                           i->common_name);
    if (at > i->not_after)
        return tes_err_set(TES_ERR_ATTESTATION, "%s certificate \"%s\" has expired", what,
                           i->common_name);
    if (i->unknown_critical)
        return tes_err_set(TES_ERR_ATTESTATION,
                           "%s certificate \"%s\" has an unknown critical extension", what,
                           i->common_name);
    return TES_OK;
}

/* c may sign certificates: CA with keyCertSign when key usage is present. */
static bool is_signing_ca(const tes_cert *c)
{
    const tes_cert_info *i = tes_cert_get_info(c);
    return i->is_ca && (!i->has_key_usage || (i->key_usage & TES_KU_KEY_CERT_SIGN));
}

/* certs[0..n) leads to one of roots[0..nroots) at `at`. */
static tes_err walk(tes_trust_profile p, tes_cert *const *certs, size_t n, tes_cert *const *roots,
                    size_t nroots, int64_t at)
{
    tes_err err;
    for (size_t i = 0; i < n; i++)
        if ((err = check_time(certs[i],
                              tes_trust_role(p, i == 0 ? TES_TRUST_ROLE_LEAF
                                                       : TES_TRUST_ROLE_INTERMEDIATE),
                              at)) != TES_OK)
            return err;
    for (size_t i = 0; i + 1 < n; i++) {
        if (!is_signing_ca(certs[i + 1]))
            return tes_err_set(TES_ERR_ATTESTATION,
                               "attestation certificate %zu may not issue certificates", i + 1);
        if (!tes_cert_issuer_matches(certs[i], certs[i + 1]) ||
            tes_cert_verify_signed_by(certs[i], certs[i + 1]) != TES_OK)
            return tes_err_set(TES_ERR_ATTESTATION,
                               "attestation certificate %zu is not issued by certificate %zu", i,
                               i + 1);
    }
    const tes_cert *top = certs[n - 1], *anchor = NULL;
    for (size_t r = 0; r < nroots && anchor == NULL; r++) {
        if (tes_bytes_eq(tes_cert_der(top), tes_cert_der(roots[r])))
            anchor = roots[r]; /* the chain carries the root itself */
        else if (is_signing_ca(roots[r]) && tes_cert_issuer_matches(top, roots[r]) &&
                 tes_cert_verify_signed_by(top, roots[r]) == TES_OK)
            anchor = roots[r];
    }
    if (anchor == NULL)
        return tes_err_set(TES_ERR_ATTESTATION,
                           "attestation chain (issuer \"%.100s\") does not lead to a trusted "
                           "vendor root",
                           tes_cert_get_info(top)->issuer);
    return check_time(anchor, tes_trust_role(p, TES_TRUST_ROLE_ROOT), at);
}

tes_err tes_trust_validate_vendor(tes_trust_profile p, tes_cert *const *certs, size_t n,
                                  tes_bytes vendor_roots, int64_t at)
{
    if (certs == NULL || n == 0 || !vendor_profile(p) ||
        (vendor_roots.ptr == NULL && vendor_roots.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_trust_validate_vendor: bad arguments");
    for (size_t i = 0; i < n; i++)
        if (certs[i] == NULL)
            return tes_err_set(TES_ERR_ARG, "tes_trust_validate_vendor: NULL certificate");
    tes_err err = trust_check_vendor_leaf(certs[0], p);
    if (err != TES_OK)
        return err;
    tes_cert *roots[TES_TRUST_VENDOR_MAX_ROOTS] = {0};
    size_t nroots = 0;
    if ((err = tes_cert_parse_all(vendor_roots, roots, TES_TRUST_VENDOR_MAX_ROOTS, &nroots)) !=
        TES_OK)
        return tes_err_set(err, "vendor roots: %s", tes_err_message());
    err = walk(p, certs, n, roots, nroots, at);
    for (size_t i = 0; i < nroots; i++)
        tes_cert_free(roots[i]);
    return err;
}
