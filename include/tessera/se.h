/*
 * tessera/se.h — the secure area: where credential keys are created and used,
 * and from which they never leave.
 *
 * One small runtime interface (a table of functions, versioned by its size so
 * members are only ever appended) with several backends:
 *   - "soft": the built-in software secure element (the embedded default). Its
 *     state is one file sealed with AES-256-GCM under a device key kept in a
 *     separate owner-only file; see docs/SECURE-ELEMENT.md for exactly what a
 *     software secure element can and cannot promise.
 *   - "pkcs11": any PKCS#11 token (SoftHSM2 in tests, a smart card through
 *     OpenSC), loaded through p11-kit from a module path.
 *
 * No function of this interface returns private key bytes. Keys are named by
 * a short text id (at most TES_SE_ID_MAX-1 characters) chosen by the backend.
 *
 * PIN: one holder PIN per secure element, 4..16 digits, with a PUK of 8..16
 * digits. The retry counter is decremented and persisted before the PIN is
 * compared; after TES_SE_PIN_TRIES wrong PINs in a row the PIN is locked
 * (TES_ERR_PIN_LOCKED) and only the PUK unblocks it; after TES_SE_PUK_TRIES
 * wrong PUKs the secure element is permanently blocked (TES_ERR_SE_BLOCKED).
 * Keys created with user_verification need the PIN on every sign or key
 * agreement; other keys do not.
 */
#ifndef TESSERA_SE_H
#define TESSERA_SE_H

#include "tessera/crypto.h"
#include "tessera/trust.h" /* the attestation OIDs and the chain validator */

#ifdef __cplusplus
extern "C" {
#endif

#define TES_SE_ID_MAX 64
#define TES_SE_PIN_TRIES 5
#define TES_SE_PUK_TRIES 10

/* Capability word: which protections the backend enforces itself. What it
 * does not enforce, Tessera enforces on top (and says so in key info). */
enum {
    TES_SE_CAP_HARDWARE = 1u << 0,          /* keys live in separate hardware */
    TES_SE_CAP_PIN_LOCKOUT = 1u << 1,       /* the backend itself locks its PIN */
    TES_SE_CAP_USER_VERIFICATION = 1u << 2, /* the backend itself gates keys on the PIN */
    TES_SE_CAP_SINGLE_USE = 1u << 3,        /* the backend itself refuses a second use */
    TES_SE_CAP_ECDH_EXPORT = 1u << 4,       /* key agreement may return the shared secret
                                               (needed for device MAC) */
    TES_SE_CAP_ATTESTATION = 1u << 5,       /* keys can be attested */
    TES_SE_CAP_ROLLBACK = 1u << 6,          /* refuses older copies of its own state */
    /* Not a protection but the PIN format, for the holder's keypad: without
     * this bit PINs are 4..16 ASCII digits and PUKs 8..16; with it they are
     * the token's own text (PKCS#11 user and SO PIN): PIN 4..63 bytes, PUK
     * 8..63, no control characters. Anything else is TES_ERR_PIN_FORMAT,
     * which costs no try. */
    TES_SE_CAP_TEXT_PIN = 1u << 7,
    /* Not a protection either: every use of a private key in a new session
     * needs the user PIN first (a PKCS#11 token logs its session in), whether
     * or not the key itself needs user verification. */
    TES_SE_CAP_LOGIN = 1u << 8,
    /* Not a protection: the backend computes per-site pseudonyms
     * (tes_se_pseudonym). */
    TES_SE_CAP_PSEUDONYM = 1u << 9,
};

typedef struct tes_se_key_opts {
    bool user_verification; /* every use needs the PIN */
    bool single_use;        /* one signature or key agreement, then refused */
} tes_se_key_opts;

typedef struct tes_se_key_info {
    char id[TES_SE_ID_MAX];
    tes_curve curve;
    bool user_verification;
    bool single_use;
    bool used;                    /* single-use key already used */
    uint32_t enforced_by_backend; /* TES_SE_CAP_* bits the backend enforces for this key */
} tes_se_key_info;

typedef struct tes_se tes_se;

/* The backend interface. `size` is sizeof(struct tes_se_ops) of the version
 * the backend was built against; callers check it before using a member
 * appended later. Every member is required unless noted. */
typedef struct tes_se_ops {
    size_t size;
    const char *name; /* "soft", "pkcs11" */
    uint32_t (*caps)(tes_se *se);
    tes_err (*create_key)(tes_se *se, const tes_se_key_opts *opts, char id[TES_SE_ID_MAX]);
    tes_err (*key_info)(tes_se *se, const char *id, tes_se_key_info *out);
    /* New reference to the public key. */
    tes_err (*public_key)(tes_se *se, const char *id, tes_key **out);
    /* ECDSA with SHA-256 over msg; raw r||s into sig (TES_MAX_SIG bytes).
     * pin may be NULL for keys without user verification. */
    tes_err (*sign)(tes_se *se, const char *id, const char *pin, tes_bytes msg, uint8_t *sig,
                    size_t *sig_len);
    /* ECDH with peer; the x-coordinate. Only with TES_SE_CAP_ECDH_EXPORT,
     * else TES_ERR_UNSUPPORTED. */
    tes_err (*key_agreement)(tes_se *se, const char *id, const char *pin, const tes_key *peer,
                             uint8_t out[TES_MAX_COORD], size_t *out_len);
    /* Attestation of key `id` as an x5chain: a CBOR array of DER certificates,
     * leaf first (see tes_se_attestation_verify). Optional (NULL). */
    tes_err (*attest)(tes_se *se, const char *id, tes_bytes challenge, tes_buf *chain);
    tes_err (*delete_key)(tes_se *se, const char *id);
    /* Sets the first PIN and PUK (TES_ERR_STATE when a PIN is already set). */
    tes_err (*pin_set)(tes_se *se, const char *pin, const char *puk);
    tes_err (*pin_verify)(tes_se *se, const char *pin);
    tes_err (*pin_change)(tes_se *se, const char *old_pin, const char *new_pin);
    tes_err (*pin_unblock)(tes_se *se, const char *puk, const char *new_pin);
    /* Tries left before lockout (PIN) and before the permanent block (PUK:
     * 0 means permanently blocked); *pin_set once a PIN was set. */
    tes_err (*pin_status)(tes_se *se, int *pin_tries_left, int *puk_tries_left, bool *pin_set);
    /* Lists key ids: *n receives the number copied; TES_ERR_BUFFER_SMALL when
     * more than max exist (the first max are copied). */
    tes_err (*list_keys)(tes_se *se, char (*ids)[TES_SE_ID_MAX], size_t max, size_t *n);
    void (*close)(tes_se *se);
    /* ---- appended members: present when `size` covers them (use the
     * wrappers, which check) ---- */
    /* Key attestation in JWT form (OpenID4VCI 1.0 Appendix D.1) for the keys
     * ids[0..n_ids-1], signed inside the secure element: see tes_se_attest_jwt
     * for the contract. Optional (NULL: the backend makes none). */
    tes_err (*attest_jwt)(tes_se *se, const char *const *ids, size_t n_ids, const char *nonce,
                          tes_buf *jwt);
    /* The wallet's pseudonym for a site: see tes_se_pseudonym for the
     * contract. Optional (NULL: the backend makes none). */
    tes_err (*pseudonym)(tes_se *se, const char *pin, tes_bytes site_key, uint8_t out[32]);
} tes_se_ops;

/* Every backend's instance starts with this header. */
struct tes_se {
    const tes_se_ops *ops;
};

/* Opens a secure element from a specification:
 *   "soft:DIR"                          the software SE whose files live in DIR
 *   "pkcs11:MODULE_PATH[:TOKEN_LABEL]"  a PKCS#11 token; state (Tessera's own
 *                                       PIN counters) kept in state_dir
 * The soft SE is created on first open (DIR is created with mode 0700).
 * Errors: TES_ERR_SE_TAMPERED, TES_ERR_SE_ROLLBACK, TES_ERR_SE_MODULE,
 * TES_ERR_SE_NO_TOKEN, TES_ERR_IO, TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_se_open(const char *spec, const char *state_dir, tes_se **out);
void tes_se_close(tes_se *se);

/* What a secure element takes from its caller. Both are copied at open;
 * their ctx must outlive the secure element. */
typedef struct tes_se_opts {
    /* NULL: system. The soft SE's certificates (its own attestation
     * certificate, attest()'s leaves, provisioning) are valid from this time
     * on, and its key attestation JWTs carry it as iat. */
    const tes_clock *clock;
    /* NULL: system. Key ids, the soft SE's private keys, PIN salts, sealing
     * IVs, device key and certificate serials. The one-time signer key of a
     * key attestation JWT too; signature nonces stay with OpenSSL (core.h). */
    const tes_rng *rng;
} tes_se_opts;
/* tes_se_open with the caller's clock and randomness (o NULL: as tes_se_open). */
TES_MUST_CHECK tes_err tes_se_open_with(const char *spec, const char *state_dir,
                                        const tes_se_opts *o, tes_se **out);

/* Convenience wrappers over se->ops (same errors as the members). */
uint32_t tes_se_caps(tes_se *se);
TES_MUST_CHECK tes_err tes_se_create_key(tes_se *se, const tes_se_key_opts *o,
                                         char id[TES_SE_ID_MAX]);
TES_MUST_CHECK tes_err tes_se_public_key(tes_se *se, const char *id, tes_key **out);
TES_MUST_CHECK tes_err tes_se_sign(tes_se *se, const char *id, const char *pin, tes_bytes msg,
                                   uint8_t *sig, size_t *sig_len);

/* Signing through the secure element for COSE: use as
 *     tes_se_signer_ctx c = {se, id, pin};
 *     tes_signer s = {tes_se_cose_sign, &c, TES_COSE_ES256};
 * (se.h sits beside cose.h in the layers, so it does not include it.)
 * Only alg -7 (ES256) is accepted. */
typedef struct tes_se_signer_ctx {
    tes_se *se;
    const char *id;
    const char *pin; /* may be NULL for keys without user verification */
} tes_se_signer_ctx;
tes_err tes_se_cose_sign(void *ctx, int64_t alg, tes_bytes msg, uint8_t *sig, size_t *sig_len);

/* Soft backend only: certifies the secure element's attestation key with a
 * vendor root (vendor.pem / vendor_key.pem in vendor_dir, see
 * tes_se_vendor_create), standing in for factory provisioning. Until then its
 * attestation chain ends at a self-signed certificate that nobody trusts. */
TES_MUST_CHECK tes_err tes_se_soft_provision(tes_se *se, const char *vendor_dir);

/* ---- attestation ---- */

/* The attestation extension TES_OID_KEY_ATTESTATION (trust.h; CBOR map
 * {"uv": bool, "single_use": bool, "backend": tstr, "challenge": bstr}). */

typedef struct tes_se_attested {
    tes_key *key; /* the attested public key (new reference: tes_key_free it) */
    bool user_verification, single_use;
    char backend[32];
} tes_se_attested;

/* Verifies an attestation chain (CBOR array of DER, leaf first) against the
 * vendor roots in `vendor_roots` (PEM or DER, several allowed) at time `at`,
 * and that it carries `challenge`. The X.509 part is trust.h's
 * tes_trust_validate_vendor for TES_PROFILE_VENDOR_ATTESTED_KEY. Errors:
 * TES_ERR_ATTESTATION_FORMAT, TES_ERR_ATTESTATION (chain, signature,
 * challenge or policy), TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_se_attestation_verify(tes_bytes chain, tes_bytes vendor_roots,
                                                 tes_bytes challenge, int64_t at,
                                                 tes_se_attested *out);
/* Creates a vendor root (self-signed CA) for tests and small deployments:
 * writes vendor.pem and vendor_key.pem into dir. Valid from o->clock's now
 * minus an hour, for 20 years; o NULL: system clock and randomness. */
TES_MUST_CHECK tes_err tes_se_vendor_create(const char *dir, const char *name,
                                            const tes_se_opts *o);

/* ---- key attestation as a JWT (OpenID4VCI 1.0 Appendix D.1) ----
 *
 * The standard's form of key attestation, for issuers that do not know
 * Tessera's x5c extension above. The JWT
 *     header  {"alg": "ES256", "typ": "key-attestation+jwt",
 *              "x5c": [signer certificate, attestation certificate]}
 *     payload {"iat": now, "exp": ..., "attested_keys": [JWK, ...],
 *              "key_storage": [...], "user_authentication": [...] (UV keys only),
 *              "nonce": nonce (when given)}
 * is signed (ES256) by a one-time signer key made inside the secure element
 * for this JWT and certified by its attestation key (the same attestation
 * certificate as attest() puts second, so x5c[1] names the phone). The
 * signer certificate is not a CA, has keyUsage digitalSignature and the
 * extended key usage TES_OID_KA_SIGNER (trust.h); its private key is wiped when the
 * call returns. See docs/SECURE-ELEMENT.md.
 *
 * key_storage and user_authentication state the keys' real protections with
 * the values below (collision-resistant URNs under Tessera's OID arc; the
 * software SE claims no ISO/IEC 18045 level, because it has not been
 * evaluated and cannot resist an attacker with the device's files):
 *   TES_KA_STORAGE_SOFT        key_storage: a software secure element
 *                              (docs/SECURE-ELEMENT.md says what it promises)
 *   TES_KA_STORAGE_SINGLE_USE  key_storage: the secure element refuses a
 *                              second signature or key agreement
 *   TES_KA_USER_AUTH_PIN       user_authentication: every use needs the
 *                              holder's PIN, checked by the secure element
 *                              with a retry counter (5 tries, then the PUK) */
#define TES_KA_JWT_TYP "key-attestation+jwt"
#define TES_KA_STORAGE_SOFT "urn:oid:1.3.6.1.4.1.59999.1.3.1"
#define TES_KA_STORAGE_SINGLE_USE "urn:oid:1.3.6.1.4.1.59999.1.3.2"
#define TES_KA_USER_AUTH_PIN "urn:oid:1.3.6.1.4.1.59999.1.3.3"
#define TES_KA_MAX_KEYS 100  /* keys in one key attestation */
#define TES_KA_NONCE_MAX 256 /* characters of its nonce */

/* Makes a key attestation JWT for the n_ids keys ids (1..TES_KA_MAX_KEYS,
 * distinct, all with the same protections: user verification and single use
 * alike) and appends its compact serialisation (no NUL) to *jwt; on failure
 * *jwt is left as it was. nonce (the issuer's c_nonce) may be NULL (no
 * "nonce" claim); otherwise 1..TES_KA_NONCE_MAX printable ASCII characters.
 * No PIN is needed: the keys are not used. Errors: TES_ERR_UNSUPPORTED (the
 * backend makes no key attestations, or was built before the member
 * existed), TES_ERR_ARG (bad arguments, a key listed twice, keys with
 * different protections), TES_ERR_KEY_UNKNOWN, TES_ERR_KEY_USED (a
 * single-use key already used), TES_ERR_SE_TAMPERED and the state errors of
 * every operation. */
TES_MUST_CHECK tes_err tes_se_attest_jwt(tes_se *se, const char *const *ids, size_t n_ids,
                                         const char *nonce, tes_buf *jwt);

/* ---- per-site pseudonyms (docs/PSEUDONYM.md) ----
 *
 * BSI TR-03110 Restricted Identification for websites: one secret P-256
 * scalar sk per secure element (the wallet's pseudonym key), made inside it
 * on first use and never exported, not even its public key; for a site
 * whose public key is PK_site (the 65-byte uncompressed point 04||x||y)
 *     pseudonym = SHA-256("Tessera pseudonym v1" || x(sk * PK_site) || PK_site)
 * (the label is its 20 ASCII bytes, x the 32-byte x-coordinate). The same
 * for every call with one secure element and one site, different for every
 * site and every secure element, and unlinkable between sites without sk.
 * The caller (the wallet) must take PK_site from the site's certificate it
 * has verified, whose key signed the request: never from a field the site
 * chooses freely. */
#define TES_SE_PSEUDONYM_LEN 32
#define TES_SE_PSEUDONYM_LABEL "Tessera pseudonym v1"

/* Computes the pseudonym for the site key site_key (65 bytes: 0x04 || x ||
 * y, on P-256) into out. The PIN is always needed: the pseudonym is released
 * only within a presentation the holder approved, and a wrong PIN counts
 * against the same tries as every other PIN use. A bad site key costs no
 * try. The pseudonym key is made on the first call (and kept before the
 * first pseudonym is released). On failure out is zeroed. Errors:
 * TES_ERR_SITE_KEY (not 65 bytes, not uncompressed, not on the curve),
 * TES_ERR_PIN_REQUIRED (pin NULL), TES_ERR_PIN_FORMAT, TES_ERR_PIN_WRONG,
 * TES_ERR_PIN_LOCKED, TES_ERR_PIN_NOT_SET, TES_ERR_SE_BLOCKED,
 * TES_ERR_UNSUPPORTED (the backend makes no pseudonyms, was built before the
 * member existed, or the token cannot do ECDH), TES_ERR_ARG, and the state
 * and token errors of every operation (TES_ERR_SE_TAMPERED,
 * TES_ERR_SE_ROLLBACK, TES_ERR_SE_BACKEND, TES_ERR_IO). Thread rules: as
 * every other operation of the secure element. */
TES_MUST_CHECK tes_err tes_se_pseudonym(tes_se *se, const char *pin, tes_bytes site_key,
                                        uint8_t out[TES_SE_PSEUDONYM_LEN]);

/* ---- the device id ----
 *
 * A phone's device id is the lower-case hex SHA-256 of the DER of its secure
 * element's attestation certificate: the second certificate of every
 * attestation of its keys, the same for all keys of one chip. The issuer
 * records it with the copies it issues (tessera/issuer.h) and the holder
 * names a lost phone by it (tes_wallet_device_id). out receives 64 digits and
 * a NUL ("" on failure); nothing is verified here (tes_se_attestation_verify
 * does that). */

/* From an attestation chain as attest makes it (CBOR array of DER
 * certificates, leaf first). Errors: TES_ERR_NOT_FOUND (an array of fewer
 * than two certificates, or no array: no secure-element certificate),
 * TES_ERR_ATTESTATION (empty, not CBOR or beyond 16 certificates / 256 KiB,
 * or the second element is not a byte string), TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_se_device_id(tes_bytes attestation_chain, char out[65]);
/* From a key attestation JWT (tes_se_attest_jwt): its header's x5c[1]
 * (base64 DER). Errors: TES_ERR_NOT_FOUND (no x5c of two or more entries),
 * TES_ERR_ATTESTATION (not a JWT, a header that is not JSON, x5c[1] not
 * base64), TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_se_device_id_jwt(tes_bytes key_attestation_jwt, char out[65]);

#ifdef __cplusplus
}
#endif
#endif
