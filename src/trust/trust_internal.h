/* Private declarations shared by the files of src/trust/. */
#ifndef TESSERA_TRUST_INTERNAL_H
#define TESSERA_TRUST_INTERNAL_H

#include "tessera/trust.h"

/* Position of a certificate in a validated path (for messages). */
enum {
    TES_TRUST_ROLE_LEAF = 0,
    TES_TRUST_ROLE_INTERMEDIATE = 1,
    TES_TRUST_ROLE_ROOT = 2,
};

/* "document signer", "reader certificate", "intermediate CA", "IACA root", "reader root";
 * vendor profiles: "attested key" / "the signer", "attestation", "vendor root". */
const char *tes_trust_role(tes_trust_profile p, int role);

/* The leaf profile of TES_PROFILE_VENDOR_ATTESTED_KEY / _KA_SIGNER (vendor.c):
 * TES_ERR_ATTESTATION, TES_ERR_ARG for another profile. */
TES_MUST_CHECK tes_err trust_check_vendor_leaf(const tes_cert *c, tes_trust_profile p);

#endif
