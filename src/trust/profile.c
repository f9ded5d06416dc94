/*
 * Certificate profiles of ISO/IEC 18013-5 Annex B: IACA (and reader) roots,
 * document signers and mdoc reader authentication certificates. (The vendor
 * attestation profiles: vendor.c.)
 */
#include "trust_internal.h"

#include <string.h>

const char *tes_trust_role(tes_trust_profile p, int role)
{
    if (p == TES_PROFILE_VENDOR_ATTESTED_KEY || p == TES_PROFILE_VENDOR_KA_SIGNER) {
        if (role == TES_TRUST_ROLE_LEAF)
            return p == TES_PROFILE_VENDOR_ATTESTED_KEY ? "attested key" : "the signer";
        return role == TES_TRUST_ROLE_INTERMEDIATE ? "attestation" : "vendor root";
    }
    switch (role) {
    case TES_TRUST_ROLE_LEAF:
        return p == TES_PROFILE_READER ? "reader certificate" : "document signer";
    case TES_TRUST_ROLE_INTERMEDIATE:
        return "intermediate CA";
    default:
        return p == TES_PROFILE_READER ? "reader root" : "IACA root";
    }
}

tes_err tes_trust_check_root(const tes_cert *root)
{
    if (!root)
        return tes_err_set(TES_ERR_ARG, "trust: NULL root");
    const tes_cert_info *ci = tes_cert_get_info(root);
    const char *who = ci->subject;
    if (!ci->has_basic_constraints || !ci->is_ca)
        return tes_err_set(TES_ERR_IACA_PROFILE, "root '%s' is not a CA (basicConstraints cA)",
                           who);
    if (ci->path_len > 0)
        return tes_err_set(TES_ERR_IACA_PROFILE,
                           "root '%s' has pathLenConstraint %d; the IACA profile requires 0", who,
                           ci->path_len);
    if (!ci->has_key_usage || !(ci->key_usage & TES_KU_KEY_CERT_SIGN))
        return tes_err_set(TES_ERR_IACA_PROFILE, "root '%s' keyUsage lacks keyCertSign", who);
    if (!(ci->key_usage & TES_KU_CRL_SIGN))
        return tes_err_set(TES_ERR_IACA_PROFILE, "root '%s' keyUsage lacks cRLSign", who);
    if (ci->ski_len == 0)
        return tes_err_set(TES_ERR_IACA_PROFILE, "root '%s' has no subject key identifier", who);
    if (ci->unknown_critical)
        return tes_err_set(TES_ERR_IACA_PROFILE,
                           "root '%s' has a critical extension %s that is not enforced here "
                           "(only basicConstraints, keyUsage and extKeyUsage are)", who,
                           ci->critical_ext);
    /* 18013-5 Annex B / §9.1.5: IACA and reader roots carry elliptic-curve keys (ECDSA or
     * EdDSA); a certificate whose key the crypto layer cannot represent (RSA, DSA) has none. */
    if (tes_cert_key(root) == NULL)
        return tes_err_set(TES_ERR_IACA_PROFILE,
                           "root '%s' has no elliptic-curve (ECDSA/EdDSA) public key; the "
                           "profile does not allow RSA or other key types", who);
    return TES_OK;
}

tes_err tes_trust_check_leaf(const tes_cert *leaf, tes_trust_profile p, const tes_cert *issuer)
{
    if (leaf && (p == TES_PROFILE_VENDOR_ATTESTED_KEY || p == TES_PROFILE_VENDOR_KA_SIGNER))
        return trust_check_vendor_leaf(leaf, p);
    if (!leaf || (p != TES_PROFILE_DS && p != TES_PROFILE_READER))
        return tes_err_set(TES_ERR_ARG, "trust: bad arguments to check_leaf");
    tes_err code = p == TES_PROFILE_DS ? TES_ERR_DS_PROFILE : TES_ERR_READER_PROFILE;
    const char *eku = p == TES_PROFILE_DS ? TES_OID_EKU_MDL_DS : TES_OID_EKU_MDL_READER;
    const char *role = tes_trust_role(p, TES_TRUST_ROLE_LEAF);
    const tes_cert_info *ci = tes_cert_get_info(leaf);
    const char *who = ci->subject;

    if (!tes_cert_has_eku(leaf, eku))
        return tes_err_set(code, "%s '%s' lacks extended key usage %s", role, who, eku);
    if (!ci->has_key_usage || !(ci->key_usage & TES_KU_DIGITAL_SIGNATURE))
        return tes_err_set(code, "%s '%s' keyUsage lacks digitalSignature", role, who);
    if (ci->is_ca)
        return tes_err_set(code, "%s '%s' is a CA certificate", role, who);
    if (ci->aki_len == 0)
        return tes_err_set(code, "%s '%s' has no authority key identifier", role, who);
    if (issuer) {
        const tes_cert_info *ii = tes_cert_get_info(issuer);
        if (ii->ski_len != 0 &&
            (ii->ski_len != ci->aki_len || memcmp(ii->ski, ci->aki, ci->aki_len) != 0))
            return tes_err_set(code,
                               "%s '%s' authority key identifier differs from the "
                               "subject key identifier of its issuer '%s'",
                               role, who, ii->subject);
    }
    if (ci->unknown_critical)
        return tes_err_set(code,
                           "%s '%s' has a critical extension %s that is not enforced here "
                           "(only basicConstraints, keyUsage and extKeyUsage are)", role, who,
                           ci->critical_ext);
    if (p == TES_PROFILE_DS && issuer) {
        const tes_cert_info *ii = tes_cert_get_info(issuer);
        /* 18013-5 Table B.3: the DS countryName is the IACA's. */
        if (ci->country[0] == '\0' || strcmp(ci->country, ii->country) != 0)
            return tes_err_set(TES_ERR_DS_COUNTRY,
                               "%s '%s' has countryName '%s' but its issuer '%s' has '%s'", role,
                               who, ci->country, ii->subject, ii->country);
        /* A DS is never valid beyond the IACA that vouches for it. */
        if (ci->not_after > ii->not_after) {
            char a[21], b[21];
            tes_time_format(ci->not_after, a);
            tes_time_format(ii->not_after, b);
            return tes_err_set(code, "%s '%s' is valid until %s, beyond its issuer '%s' (%s)",
                               role, who, a, ii->subject, b);
        }
    }
    return TES_OK;
}
