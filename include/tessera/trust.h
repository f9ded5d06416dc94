/*
 * tessera/trust.h — X.509 certificate profiles of ISO/IEC 18013-5 Annex B and
 * trust stores.
 *
 * A trust store holds the roots a verifier accepts (IACA roots for
 * credentials, reader roots for reader authentication); a verifier may hold
 * only some authorities' roots. Validation of a chain against the store is
 * cached by the SHA-256 of the presented chain, so a certificate seen before
 * is neither parsed nor verified again; only the time window is re-checked.
 * A store is safe to use from several threads.
 */
#ifndef TESSERA_TRUST_H
#define TESSERA_TRUST_H

#include "tessera/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Extended key usage OIDs of 18013-5. */
#define TES_OID_EKU_MDL_DS "1.0.18013.5.1.2"
#define TES_OID_EKU_MDL_READER "1.0.18013.5.1.6"

typedef enum tes_trust_profile {
    TES_PROFILE_DS = 1,     /* document signer under an IACA root */
    TES_PROFILE_READER = 2, /* mdoc reader authentication under a reader root */
} tes_trust_profile;

typedef struct tes_trust_store tes_trust_store;

TES_MUST_CHECK tes_err tes_trust_store_new(tes_trust_store **out);
void tes_trust_store_free(tes_trust_store *s);
/* Adds a root for a profile (takes a new reference). Roots are checked
 * against the root profile (CA, keyCertSign, SKI): TES_ERR_IACA_PROFILE
 * when an IACA root does not fit it. */
TES_MUST_CHECK tes_err tes_trust_store_add(tes_trust_store *s, tes_trust_profile p, tes_cert *root);
/* Adds every certificate in a PEM (or one DER) blob. */
TES_MUST_CHECK tes_err tes_trust_store_add_blob(tes_trust_store *s, tes_trust_profile p,
                                                tes_bytes pem_or_der);
size_t tes_trust_store_count(const tes_trust_store *s);

typedef struct tes_trust_result {
    const tes_cert *leaf; /* borrowed from the store's cache; valid while the store lives */
    const tes_cert *root; /* the trusted root the chain ends at (borrowed) */
    bool from_cache;      /* the chain had been validated before */
} tes_trust_result;

/* Validates chain (DER, leaf first; may or may not include the root) for
 * profile p at time `at` (Unix seconds). Errors, in the order checked:
 *   TES_ERR_CERT_MALFORMED   a certificate does not parse
 *   TES_ERR_CHAIN_UNTRUSTED  no trusted root issued the chain
 *   TES_ERR_CHAIN_SIG        a signature in the chain is wrong
 *   TES_ERR_DS_PROFILE / TES_ERR_READER_PROFILE  the leaf violates its profile
 *                            (EKU, keyUsage digitalSignature, not a CA,
 *                            AKI equal to the issuer's SKI, no critical extension
 *                            it does not enforce, a DS valid no longer than its IACA)
 *   TES_ERR_DS_COUNTRY       a DS (or intermediate) countryName missing or not the
 *                            IACA's (18013-5 Table B.3)
 *   TES_ERR_CERT_NOT_YET_VALID / TES_ERR_CERT_EXPIRED  at time `at`, for
 *                            any certificate of the chain, root included. */
TES_MUST_CHECK tes_err tes_trust_validate(tes_trust_store *s, tes_trust_profile p,
                                          const tes_bytes *chain, size_t n, int64_t at,
                                          tes_trust_result *out);

/* Profile checks on their own (no chain building, no time). */
TES_MUST_CHECK tes_err tes_trust_check_root(const tes_cert *root);
TES_MUST_CHECK tes_err tes_trust_check_leaf(const tes_cert *leaf, tes_trust_profile p,
                                            const tes_cert *issuer);


/* ---- reader scope ----
 * A reader certificate carries the scope its authority granted, in a
 * non-critical extension TES_OID_READER_SCOPE whose value is an OCTET STRING
 * holding CBOR {"purpose": tstr, "elements": [tstr "namespace/element", ...]}.
 * "ns/age_over_NN" in a scope allows every age_over_NN of that namespace. */
#define TES_OID_READER_SCOPE "1.3.6.1.4.1.59999.2.1"

typedef struct tes_reader_scope {
    char *purpose;
    char **elements; /* "ns/element" */
    size_t n;
} tes_reader_scope;

/* The DER extension value (OCTET STRING) for tes_cert_template.extra_value. */
TES_MUST_CHECK tes_err tes_reader_scope_encode(const char *purpose, const char *const *elements,
                                               size_t n, tes_buf *der);
/* Reads the scope of a reader certificate. TES_ERR_NOT_FOUND when it has
 * none; TES_ERR_READER_PROFILE when the extension is malformed. */
TES_MUST_CHECK tes_err tes_reader_scope_from_cert(const tes_cert *c, tes_reader_scope *out);
bool tes_reader_scope_allows(const tes_reader_scope *s, tes_bytes ns, tes_bytes element);
void tes_reader_scope_free(tes_reader_scope *s);

#ifdef __cplusplus
}
#endif
#endif
