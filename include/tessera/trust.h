/*
 * tessera/trust.h — X.509 certificate profiles of ISO/IEC 18013-5 Annex B and
 * trust stores; the profiles of key attestation under a chip vendor's root
 * (the one X.509 chain validator of libtessera: se and the issuer call it).
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

/* OIDs of Tessera's key attestation (its arc). TES_OID_KEY_ATTESTATION: the
 * extension of an attested key's certificate (CBOR map {"uv": bool,
 * "single_use": bool, "backend": tstr, "challenge": bstr}, see se.h);
 * TES_OID_KA_SIGNER: the extended key usage of a key attestation JWT signer. */
#define TES_OID_KEY_ATTESTATION "1.3.6.1.4.1.59999.1.1"
#define TES_OID_KA_SIGNER "1.3.6.1.4.1.59999.1.2"

typedef enum tes_trust_profile {
    TES_PROFILE_DS = 1,     /* document signer under an IACA root */
    TES_PROFILE_READER = 2, /* mdoc reader authentication under a reader root */
    /* key attestation under a chip vendor's root (tes_trust_validate_vendor) */
    TES_PROFILE_VENDOR_ATTESTED_KEY = 3, /* a key kept in a secure element, certified by
                                          * its attestation key (se.h attest()) */
    TES_PROFILE_VENDOR_KA_SIGNER = 4,    /* the signer of a key attestation JWT
                                          * (OpenID4VCI Appendix D), same chain */
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

/* Profile checks on their own (no chain building, no time). check_leaf takes
 * every profile; for the vendor profiles see tes_trust_validate_vendor. */
TES_MUST_CHECK tes_err tes_trust_check_root(const tes_cert *root);
TES_MUST_CHECK tes_err tes_trust_check_leaf(const tes_cert *leaf, tes_trust_profile p,
                                            const tes_cert *issuer);

/* ---- key attestation under a chip vendor's root ----
 * Vendor roots are not kept in a trust store (tes_trust_store_add and
 * tes_trust_validate refuse the vendor profiles with TES_ERR_ARG): the
 * verifier hands them over with each call, as a PEM (or DER) blob of up to
 * TES_TRUST_VENDOR_MAX_ROOTS certificates, and nothing is cached.
 *
 * Validates certs[0..n) (leaf first, parsed by the caller, not taken over)
 * for profile p (TES_PROFILE_VENDOR_ATTESTED_KEY or _KA_SIGNER) at time `at`:
 *   the leaf's profile:
 *     ATTESTED_KEY  carries the TES_OID_KEY_ATTESTATION extension; not a CA
 *     KA_SIGNER     not a CA; keyUsage, when present, has digitalSignature;
 *                   no TES_OID_KEY_ATTESTATION extension (a holder's attested
 *                   key signs whatever the holder wants); an extended key
 *                   usage, when present, includes TES_OID_KA_SIGNER
 *   then the chain: every certificate valid at `at` and without unknown
 *   critical extensions; each issued (names) and signed by the next, which
 *   must be a CA allowed to sign certificates (keyCertSign when keyUsage is
 *   present); the last one either is one of the vendor roots or is issued and
 *   signed by one that is such a CA; that root valid at `at`. Vendor roots
 *   need no IACA shape (no pathLen, cRLSign or SKI rules).
 * Errors: TES_ERR_ATTESTATION naming the failing certificate or link,
 * TES_ERR_ARG (NULL argument, n = 0, another profile), and the certificate
 * parse errors (TES_ERR_CERT_MALFORMED, ...) for unreadable vendor roots,
 * prefixed "vendor roots: ". Thread-safe (no shared state). */
#define TES_TRUST_VENDOR_MAX_ROOTS 32
TES_MUST_CHECK tes_err tes_trust_validate_vendor(tes_trust_profile p, tes_cert *const *certs,
                                                 size_t n, tes_bytes vendor_roots, int64_t at);


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

/* ---- the reader authority (tessera reader-ca) ----
 * The authority that licenses mdoc readers (a police bureau licensing hotels
 * to register guests) keeps, in a directory of its own:
 *     TES_READER_CA_CERT  its root certificate (PEM, 0644)
 *     TES_READER_CA_KEY   the root's private key (PKCS#8 PEM, 0600)
 * and issues reader certificates into another directory:
 *     TES_READER_CERT     the reader certificate (PEM, 0644)
 *     TES_READER_KEY      the reader's private key (PKCS#8 PEM, 0600)
 * Both directories are made with tes_dir_secret (0700, the caller's own). The
 * root follows the Annex B IACA shape (CA, pathLen 0, keyCertSign|cRLSign,
 * P-256), valid from an hour before now for ten years; a reader certificate
 * the reader profile (digitalSignature, EKU TES_OID_EKU_MDL_READER, its scope
 * in TES_OID_READER_SCOPE), valid from an hour before now for 365 days unless
 * told otherwise. Keys are generated by the library (P-256) and written
 * before the certificates. */
#define TES_READER_CA_CERT "reader_ca.pem"
#define TES_READER_CA_KEY "reader_ca_key.pem"
#define TES_READER_CERT "reader.pem"
#define TES_READER_KEY "reader_key.pem"
#define TES_READER_NAME_MAX 200 /* bytes of a name or purpose */
#define TES_READER_SCOPE_MAX 256 /* elements in one scope */
#define TES_RP_DNS_MAX 253       /* bytes of a relying party's DNS name */

/* True when s is a DNS name as tes_reader_cert_params.dns_name takes it. */
bool tes_rp_dns_name_ok(const char *s);

typedef struct tes_reader_ca_params {
    const char *dir;     /* required */
    const char *name;    /* required: the root's common name, 1..TES_READER_NAME_MAX bytes */
    const char *country; /* two upper-case letters; NULL: "UT" */
    bool force;          /* replace a reader authority already in dir */
    int64_t now;         /* 0: the system clock */
} tes_reader_ca_params;

/* Creates the reader authority in p->dir. *root_out (optional, may be NULL)
 * gets its root certificate (caller frees with tes_cert_free).
 * Errors: TES_ERR_ARG (a parameter missing or out of shape), TES_ERR_EXISTS
 * (dir already holds one of its files and force is not set: nothing is
 * touched), TES_ERR_DIR_UNSAFE / TES_ERR_IO (tes_dir_secret, writing),
 * TES_ERR_CRYPTO / TES_ERR_RANDOM (key or certificate creation). */
TES_MUST_CHECK tes_err tes_reader_ca_create(const tes_reader_ca_params *p, tes_cert **root_out);

typedef struct tes_reader_cert_params {
    const char *ca_dir;            /* required: a directory made by tes_reader_ca_create */
    const char *out_dir;           /* required: where the reader's certificate and key go */
    const char *name;              /* required: the reader's common name (e.g. "Hotel Utopia") */
    const char *purpose;           /* the scope's purpose; NULL: "" */
    const char *const *scope;      /* "namespace/element" each, 1..TES_READER_SCOPE_MAX */
    size_t n_scope;
    const char *country;           /* NULL: the root's country (if it has one) */
    int64_t not_before, not_after; /* 0: now - 1 hour, now + valid_days days */
    size_t valid_days;             /* 0: 365 */
    /* A relying party's access certificate (OpenID4VP, HAIP: a website
     * licensed like a reader): its DNS name, written as the subjectAltName
     * dNSName the wallet matches the request's client_id
     * "x509_san_dns:<dns_name>" against. Letters, digits, '-' and '.', labels
     * of 1..63, at most TES_RP_DNS_MAX bytes. NULL: a reader without SAN. */
    const char *dns_name;
    bool force;                    /* replace a reader certificate already in out_dir */
    int64_t now;                   /* 0: the system clock */
} tes_reader_cert_params;

/* Issues a reader certificate with key under the reader authority of
 * p->ca_dir into p->out_dir. *cert_out (optional) gets the new certificate
 * (caller frees). Errors: TES_ERR_ARG (a parameter missing or out of shape,
 * a scope element not "namespace/element", the validity ending before it
 * starts, dns_name not a DNS name), TES_ERR_NOT_FOUND (ca_dir holds no reader authority),
 * TES_ERR_CERT_MALFORMED / TES_ERR_KEY_MALFORMED (its files unreadable, or
 * the key not the root's), TES_ERR_EXISTS (out_dir already holds a reader
 * certificate or key and force is not set), TES_ERR_DIR_UNSAFE / TES_ERR_IO,
 * TES_ERR_CRYPTO / TES_ERR_RANDOM. */
TES_MUST_CHECK tes_err tes_reader_cert_issue(const tes_reader_cert_params *p, tes_cert **cert_out);

#ifdef __cplusplus
}
#endif
#endif
