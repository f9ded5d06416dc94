/*
 * tessera/crypto.h — the cryptography adapter. src/crypto/ is the only place in
 * libtessera that includes OpenSSL; everything else goes through this header.
 *
 * Keys (tes_key) and certificates (tes_cert) are opaque, reference-counted
 * and immutable after creation, so they can be shared between threads and
 * cached. Every constructor returns a new reference; release with *_free().
 * Signatures are in raw form (r || s, each padded to the curve size) as
 * COSE wants them; DER conversion happens inside the adapter.
 */
#ifndef TESSERA_CRYPTO_H
#define TESSERA_CRYPTO_H

#include "tessera/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Curves, numbered as in the COSE "crv" registry. */
typedef enum tes_curve {
    TES_CURVE_NONE = 0,
    TES_CURVE_P256 = 1,
    TES_CURVE_P384 = 2,
    TES_CURVE_P521 = 3,
    TES_CURVE_ED25519 = 6,
} tes_curve;

typedef enum tes_hash {
    TES_HASH_NONE = 0, /* EdDSA: the message is signed as is */
    TES_HASH_SHA256 = 1,
    TES_HASH_SHA384 = 2,
    TES_HASH_SHA512 = 3,
} tes_hash;

#define TES_MAX_DIGEST 64
#define TES_MAX_COORD 66        /* P-521 coordinate / scalar */
#define TES_MAX_SIG (2 * TES_MAX_COORD)

/* Digest size in bytes (0 for TES_HASH_NONE). */
size_t tes_hash_size(tes_hash h);
/* One-shot digest; out must hold tes_hash_size(h) bytes. */
TES_MUST_CHECK tes_err tes_digest(tes_hash h, tes_bytes in, uint8_t *out);
/* Digest of the concatenation of parts[0..n) (nothing is copied); same out. */
TES_MUST_CHECK tes_err tes_digest_parts(tes_hash h, const tes_bytes *parts, size_t n, uint8_t *out);
/* HMAC-SHA-256 (out 32 bytes). */
TES_MUST_CHECK tes_err tes_hmac_sha256(tes_bytes key, tes_bytes msg, uint8_t out[32]);
/* HKDF-SHA-256 (RFC 5869), out_len <= 255*32. */
TES_MUST_CHECK tes_err tes_hkdf_sha256(tes_bytes ikm, tes_bytes salt, tes_bytes info,
                                       uint8_t *out, size_t out_len);
/* The key derivation of ISO/IEC 18013-5 (§9.1.1.5 SKReader and SKDevice,
 * §9.1.3.5 EMacKey): HKDF-SHA-256 with IKM = z (the ECDH shared secret),
 * salt = SHA-256(session_transcript_bytes), info = `info`, 32 bytes into out.
 * session_transcript_bytes is SessionTranscriptBytes, the tag-24 form
 * #6.24(bstr .cbor SessionTranscript), exactly as it is hashed (the plain
 * SessionTranscript gives wrong keys and is refused); info is one of
 * TES_ISO_SK_READER, TES_ISO_SK_DEVICE, TES_ISO_EMAC_KEY. The one place the
 * derivation is computed: the session keys (session.h) and deviceMac (mdoc.h,
 * tes_mdoc_derive_key*, which also take the plain transcript) call it. Errors:
 * TES_ERR_ARG (NULL argument, empty z, a transcript not tag-24 wrapped, another
 * info), TES_ERR_CRYPTO. On failure out is wiped. */
#define TES_ISO_SK_READER "SKReader"
#define TES_ISO_SK_DEVICE "SKDevice"
#define TES_ISO_EMAC_KEY "EMacKey"
TES_MUST_CHECK tes_err tes_iso18013_derive_key(tes_bytes z, tes_bytes session_transcript_bytes,
                                               const char *info, uint8_t out[32]);
/* AES-256-GCM with a 12-byte IV and 16-byte tag appended to the ciphertext.
 * Decrypt verifies the tag before releasing any plaintext: on a wrong tag it
 * returns TES_ERR_SIGNATURE and out is left empty (wiped). */
TES_MUST_CHECK tes_err tes_aes256gcm_encrypt(const uint8_t key[32], const uint8_t iv[12],
                                             tes_bytes aad, tes_bytes plain, tes_buf *out);
TES_MUST_CHECK tes_err tes_aes256gcm_decrypt(const uint8_t key[32], const uint8_t iv[12],
                                             tes_bytes aad, tes_bytes cipher, tes_buf *out);
/* The same with a key of key_len bytes: 32 (AES-256-GCM) or 16 (AES-128-GCM);
 * another length is TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_aesgcm_encrypt(const uint8_t *key, size_t key_len,
                                          const uint8_t iv[12], tes_bytes aad, tes_bytes plain,
                                          tes_buf *out);
TES_MUST_CHECK tes_err tes_aesgcm_decrypt(const uint8_t *key, size_t key_len,
                                          const uint8_t iv[12], tes_bytes aad, tes_bytes cipher,
                                          tes_buf *out);
/* (Random bytes: tes_rng_fill in core.h, the one randomness API.) */

/* ---- keys ---- */
typedef struct tes_key tes_key;

/* New key pair on curve c (P-256/384/521 or Ed25519). */
TES_MUST_CHECK tes_err tes_key_generate(tes_curve c, tes_key **out);
/* Private or public key from PEM text: PKCS#8 ("PRIVATE KEY"), SEC1
 * ("EC PRIVATE KEY") or SubjectPublicKeyInfo ("PUBLIC KEY"); also DER of
 * any of these when the input is not PEM. TES_ERR_KEY_MALFORMED otherwise. */
TES_MUST_CHECK tes_err tes_key_parse(tes_bytes pem_or_der, tes_key **out);
/* Public EC key from affine coordinates (big-endian, each exactly the curve
 * size). Checks the point is on the curve: TES_ERR_KEY_MALFORMED otherwise.
 * This is the cheap path used for per-response device keys. */
TES_MUST_CHECK tes_err tes_key_from_ec_point(tes_curve c, tes_bytes x, tes_bytes y,
                                             tes_key **out);
/* Private EC key from its scalar d (public key derived). */
TES_MUST_CHECK tes_err tes_key_from_ec_private(tes_curve c, tes_bytes d, tes_key **out);
/* Ed25519 public key from its 32 raw bytes. */
TES_MUST_CHECK tes_err tes_key_from_okp(tes_curve c, tes_bytes x, tes_key **out);
tes_key *tes_key_ref(tes_key *k);
void tes_key_free(tes_key *k);

tes_curve tes_key_curve(const tes_key *k);
bool tes_key_has_private(const tes_key *k);
/* Coordinate / scalar size in bytes for the curve (32, 48, 66, 32). */
size_t tes_curve_size(tes_curve c);
/* Public coordinates (EC: x and y, each tes_curve_size bytes; Ed25519: x only,
 * y untouched). */
TES_MUST_CHECK tes_err tes_key_public_raw(const tes_key *k, uint8_t x[TES_MAX_COORD],
                                          uint8_t y[TES_MAX_COORD]);
/* True when both keys have the same public part. */
bool tes_key_equal_public(const tes_key *a, const tes_key *b);
/* PEM export: private (PKCS#8) when priv is true, else SubjectPublicKeyInfo. */
TES_MUST_CHECK tes_err tes_key_to_pem(const tes_key *k, bool priv, tes_buf *out);
/* SubjectPublicKeyInfo DER of the public key. */
TES_MUST_CHECK tes_err tes_key_spki_der(const tes_key *k, tes_buf *out);

/* Sign msg: ECDSA with hash h (raw r||s, 2*curve size bytes), or Ed25519
 * (h must be TES_HASH_NONE, 64 bytes). sig must hold TES_MAX_SIG bytes. */
TES_MUST_CHECK tes_err tes_key_sign(const tes_key *k, tes_hash h, tes_bytes msg,
                                    uint8_t *sig, size_t *sig_len);
/* Verify a raw signature: TES_OK, TES_ERR_SIGNATURE when the signature is
 * wrong (wrong length included), TES_ERR_CRYPTO when the backend failed. */
TES_MUST_CHECK tes_err tes_key_verify(const tes_key *k, tes_hash h, tes_bytes msg,
                                      tes_bytes sig);
/* ECDH: x-coordinate of priv * pub (curve size bytes). Both on the same curve. */
TES_MUST_CHECK tes_err tes_key_ecdh(const tes_key *priv, const tes_key *pub,
                                    uint8_t out[TES_MAX_COORD], size_t *out_len);

/* ---- certificates ---- */
typedef struct tes_cert tes_cert;

/* Key usage bits (as X.509: bit 0 = digitalSignature). */
enum {
    TES_KU_DIGITAL_SIGNATURE = 1u << 0,
    TES_KU_NON_REPUDIATION = 1u << 1,
    TES_KU_KEY_ENCIPHERMENT = 1u << 2,
    TES_KU_DATA_ENCIPHERMENT = 1u << 3,
    TES_KU_KEY_AGREEMENT = 1u << 4,
    TES_KU_KEY_CERT_SIGN = 1u << 5,
    TES_KU_CRL_SIGN = 1u << 6,
};

/* Facts read from a parsed certificate (filled once at parse time). */
typedef struct tes_cert_info {
    int64_t not_before, not_after; /* Unix seconds */
    bool is_ca;                    /* basicConstraints cA */
    bool has_basic_constraints;
    int path_len;                  /* -1 when absent */
    bool has_key_usage;
    uint32_t key_usage;            /* TES_KU_* bits */
    bool has_eku;
    bool self_issued;              /* subject == issuer */
    bool unknown_critical;         /* a critical extension this library does not enforce
                                      (any but basicConstraints, keyUsage, extKeyUsage) */
    uint8_t ski[64];
    size_t ski_len;                /* 0 when absent */
    uint8_t aki[64];
    size_t aki_len;                /* 0 when absent (keyIdentifier only) */
    char subject[256];             /* one-line RFC 2253 form */
    char issuer[256];
    char common_name[128];         /* subject CN, "" when absent */
    char country[8];               /* subject C, "" when absent */
    char state[128];               /* subject ST (stateOrProvinceName), "" when absent */
    char critical_ext[64];         /* OID of the first unenforced critical extension, or "" */
    uint8_t sha256[32];            /* of the DER encoding */
} tes_cert_info;

/* Parses one DER certificate. The DER is copied. */
TES_MUST_CHECK tes_err tes_cert_parse(tes_bytes der, tes_cert **out);
/* Parses PEM (first CERTIFICATE block) or DER. */
TES_MUST_CHECK tes_err tes_cert_parse_any(tes_bytes pem_or_der, tes_cert **out);
/* Parses all CERTIFICATE blocks of a PEM file (or one DER); *n set to count. */
TES_MUST_CHECK tes_err tes_cert_parse_all(tes_bytes pem_or_der, tes_cert **out, size_t max,
                                          size_t *n);
tes_cert *tes_cert_ref(tes_cert *c);
void tes_cert_free(tes_cert *c);

const tes_cert_info *tes_cert_get_info(const tes_cert *c);
tes_bytes tes_cert_der(const tes_cert *c);
/* The subject public key (borrowed; lives as long as the certificate). */
const tes_key *tes_cert_key(const tes_cert *c);
/* True when the certificate's subjectAltName holds the dNSName dns (compared
 * byte for byte, ASCII case-insensitively as RFC 5280 §7.2 asks; a name with
 * a NUL inside never matches). False without a subjectAltName. */
bool tes_cert_san_has_dns(const tes_cert *c, const char *dns);
/* The first dNSName of the subjectAltName into out (NUL-terminated):
 * TES_OK, TES_ERR_NOT_FOUND (none), TES_ERR_CERT_MALFORMED (longer than
 * cap - 1 or holding a NUL). */
TES_MUST_CHECK tes_err tes_cert_san_dns(const tes_cert *c, char *out, size_t cap);
/* True when the certificate lists this EKU OID (dotted text). */
bool tes_cert_has_eku(const tes_cert *c, const char *oid);
/* Looks up an extension by OID; returns its DER value (the OCTET STRING
 * content) borrowed from the certificate, or TES_ERR_NOT_FOUND. */
TES_MUST_CHECK tes_err tes_cert_extension(const tes_cert *c, const char *oid, tes_bytes *value,
                                          bool *critical);
/* Verifies c's signature with issuer's public key: TES_OK or TES_ERR_CHAIN_SIG. */
TES_MUST_CHECK tes_err tes_cert_verify_signed_by(const tes_cert *c, const tes_cert *issuer);
/* True when c's issuer name equals issuer's subject name. */
bool tes_cert_issuer_matches(const tes_cert *c, const tes_cert *issuer);
TES_MUST_CHECK tes_err tes_cert_to_pem(const tes_cert *c, tes_buf *out);

/* Certificate creation (authority and reader PKI, tests). */
typedef struct tes_cert_template {
    const char *common_name;   /* required */
    const char *country;       /* optional, 2 letters */
    const char *organization;  /* optional */
    const char *state;         /* optional (ST) */
    int64_t not_before, not_after;
    bool is_ca;
    int path_len;              /* -1: no pathLenConstraint */
    uint32_t key_usage;        /* TES_KU_* bits, marked critical; 0: omitted */
    const char *eku_oid;       /* optional, dotted text (e.g. 1.0.18013.5.1.2) */
    const char *issuer_alt_uri;/* optional issuerAltName URI */
    const char *crl_uri;       /* optional CRL distribution point URI */
    const char *san_dns;       /* optional subjectAltName dNSName (non-critical) */
    /* Optional extra non-critical extension (OID, DER value), e.g. a reader scope. */
    const char *extra_oid;
    tes_bytes extra_value;
    const tes_rng *rng;        /* the serial's source; NULL: system */
} tes_cert_template;

/* Creates a certificate for subject_key signed by issuer_key (ECDSA with the
 * hash matching the issuer curve, or Ed25519). issuer NULL means self-signed
 * (issuer_key must then be subject_key's private half). SKI is always set;
 * AKI is set from the issuer's SKI. The serial is 16 random bytes (t->rng). */
TES_MUST_CHECK tes_err tes_cert_create(const tes_cert_template *t, const tes_key *subject_key,
                                       const tes_cert *issuer, const tes_key *issuer_key,
                                       tes_cert **out);

#ifdef __cplusplus
}
#endif
#endif
