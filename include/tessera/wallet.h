/*
 * tessera/wallet.h — the holder's wallet as an object: a wallet directory
 * holding the store of credentials and the secure element their keys live in.
 *
 * Layout of a wallet directory D (mode 0700, the caller's own):
 *   D/wallet.db   the store (tessera/store.h): credentials, their copies,
 *                 the transaction log and the wallet's settings
 *   D/se/         the software secure element's files (sealed state, device
 *                 key 0600), or, for a PKCS#11 token, Tessera's own PIN
 *                 counters for the token
 *   D/reader_roots.pem  the roots of the authorities that license readers
 *                 (TES_WALLET_READER_ROOTS): PEM certificates, one after the
 *                 other, at most TES_WALLET_MAX_READER_ROOTS; absent: the
 *                 wallet trusts no reader (readers are shown as not
 *                 authenticated). Written by tes_wallet_reader_roots_add/_set.
 * The store's setting "se" (TES_WALLET_SETTING_SE) names the secure element:
 * "soft:se" (a relative soft directory is taken relative to D) or
 * "pkcs11:MODULE[:LABEL]". This is the layout `tessera wallet init` has
 * always made: a wallet directory from an earlier release opens unchanged
 * (the store migrates its own schema).
 *
 * A tes_wallet owns its store and secure element; both belong to one thread
 * like the store itself. The accessors lend them (valid until
 * tes_wallet_close) for what this module does not do yet.
 */
#ifndef TESSERA_WALLET_H
#define TESSERA_WALLET_H

#include "tessera/core.h"
#include "tessera/se.h"
#include "tessera/store.h"
#include "tessera/proximity.h"
#include "tessera/jose.h"
#include "tessera/access.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TES_WALLET_DB "wallet.db"
#define TES_WALLET_SE_DIR "se"
#define TES_WALLET_SETTING_SE "se"
/* The most copies tes_wallet_add_batch takes in one batch. */
#define TES_WALLET_MAX_COPIES 256

typedef struct tes_wallet tes_wallet;

typedef struct tes_wallet_create_opts {
    /* The secure element as stored: NULL or "soft" for the software SE in
     * D/se ("soft:se"), or "pkcs11:MODULE[:LABEL]" (MODULE an absolute
     * path or a bare library name). */
    const char *se_spec;
    /* Optional: a vendor directory (vendor.pem, vendor_key.pem) whose key
     * provisions the software SE's attestation key. Soft only. */
    const char *vendor_dir;
} tes_wallet_create_opts;

typedef struct tes_wallet_open_opts {
    int reserved; /* no options yet; pass NULL */
} tes_wallet_open_opts;

/* Creates wallet directory dir (mode 0700; an existing directory is accepted
 * when it is the caller's own, writable by nobody else, and holds no
 * wallet.db), its secure element (first: a missing PKCS#11 module leaves no
 * store), and the store recording the SE spec; returns it open.
 * Errors: TES_ERR_ARG (bad se_spec, vendor_dir with a PKCS#11 SE, path too
 * long), TES_ERR_EXISTS (dir already holds a wallet), TES_ERR_DIR_UNSAFE,
 * TES_ERR_IO, the SE's errors (TES_ERR_SE_MODULE, TES_ERR_SE_NO_TOKEN, ...)
 * and the store's. */
TES_MUST_CHECK tes_err tes_wallet_create(const char *dir, const tes_wallet_create_opts *o,
                                         tes_wallet **out);

/* Opens the wallet in dir (o may be NULL). Never creates anything: a missing
 * or truncated store is refused, not replaced by an empty one.
 * Errors: TES_ERR_NOT_FOUND (dir does not exist, or holds no wallet.db),
 * TES_ERR_STORE_CORRUPT (wallet.db is empty, damaged, or names no secure
 * element), TES_ERR_ARG (path too long), the store's and the SE's errors. */
TES_MUST_CHECK tes_err tes_wallet_open(const char *dir, const tes_wallet_open_opts *o,
                                       tes_wallet **out);
/* Closes the store and the secure element; NULL is fine. */
void tes_wallet_close(tes_wallet *w);

/* Borrowed; valid until tes_wallet_close. */
tes_store *tes_wallet_store(tes_wallet *w);
tes_se *tes_wallet_se(tes_wallet *w);
/* The wallet directory and the SE spec as stored (borrowed strings). */
const char *tes_wallet_dir(const tes_wallet *w);
const char *tes_wallet_se_spec(const tes_wallet *w);

/* True when every use of a private key in a new process needs the PIN (the
 * SE reports TES_SE_CAP_LOGIN: a PKCS#11 token logs its session in with the
 * user PIN), whether or not the key itself needs user verification. */
bool tes_wallet_needs_login(tes_wallet *w);

/* The display name of a credential added without one: "PID", "mDL" or the
 * doctype itself (borrowed: static or doctype). */
const char *tes_wallet_default_name(const char *doctype);

/* Adds n (1..TES_WALLET_MAX_COPIES) copies of one credential, each an
 * IssuerSigned mdoc (tessera/mdoc.h) bound to its own key in this wallet's
 * secure element, as one credential; *cred_id is its id in the store.
 * display_name NULL: "PID", "mDL" or the doctype. The acceptance rules:
 *  - every copy is a well-formed, issuer-signed mdoc (the mdoc's errors);
 *  - all copies have the same doctype and issuer: TES_ERR_BATCH_MIXED;
 *  - each copy's device key is a key of this SE: TES_ERR_KEY_UNKNOWN;
 *  - no two copies share a key: TES_ERR_BATCH_KEY_SHARED;
 *  - all keys have the same protections (needs the PIN, single use):
 *    TES_ERR_BATCH_PROTECTIONS;
 *  - no copy is bound to a single-use key already used: TES_ERR_KEY_USED;
 *  - the credential is not in the wallet yet: TES_ERR_EXISTS.
 * The credential is valid from the latest start to the earliest end of its
 * copies. On failure nothing is stored, and *bad (when not NULL) is the index
 * of the copy at fault (for TES_ERR_BATCH_KEY_SHARED the later of the two), or
 * n when no single copy is. Other errors: TES_ERR_ARG, the SE's and the
 * store's. The same as tes_wallet_add with only a display name. */
TES_MUST_CHECK tes_err tes_wallet_add_batch(tes_wallet *w, const tes_bytes *mdocs, size_t n,
                                            const char *display_name, int64_t *cred_id,
                                            size_t *bad);


/* ---- credentials and the transaction log ---- */

/* The wallet's credentials (thin over tes_store_list): *out an allocated
 * array (free with tes_store_creds_free(*out, *n)). Errors: the store's. */
TES_MUST_CHECK tes_err tes_wallet_list(tes_wallet *w, tes_store_cred **out, size_t *n);
/* One credential by id: *out allocated (free with tes_store_creds_free(*out,
 * 1)). Errors: TES_ERR_NOT_FOUND (no credential id), the store's. */
TES_MUST_CHECK tes_err tes_wallet_credential(tes_wallet *w, int64_t id, tes_store_cred **out);
/* The transaction log, oldest first (thin over tes_store_log_list): free
 * with tes_store_log_free(*out, *n). Each entry's outcome is "disclosed",
 * "declined" or "failed: <error name>"; its elements "ns/elem[*],..." ('*':
 * the relying party announced it keeps the element). Errors: the store's. */
TES_MUST_CHECK tes_err tes_wallet_log(tes_wallet *w, tes_store_log_entry **out, size_t *n);

/* ---- reader trust ---- */

#define TES_WALLET_READER_ROOTS "reader_roots.pem"
#define TES_WALLET_MAX_READER_ROOTS 64

/* The roots the wallet trusts to license readers, in the order added:
 * *out an allocated array of new references (free each with tes_cert_free,
 * then the array with free); *n 0 and *out NULL when it trusts none.
 * Errors: TES_ERR_CERT_MALFORMED (the file is damaged), TES_ERR_IO,
 * TES_ERR_ARG (path too long). */
TES_MUST_CHECK tes_err tes_wallet_reader_roots_get(tes_wallet *w, tes_cert ***out, size_t *n);
/* Adds the wallet's reader roots to store (profile TES_PROFILE_READER);
 * *n (may be NULL) how many: 0 when it trusts none. Errors: those of
 * tes_wallet_reader_roots_get and tes_trust_store_add. */
TES_MUST_CHECK tes_err tes_wallet_reader_roots_load(tes_wallet *w, tes_trust_store *store,
                                                    size_t *n);
/* Adds roots (not taken over), after those the wallet trusts, skipping the
 * ones it trusts already (same certificate); *added (may be NULL) how many
 * were new. Every root is checked first (tes_trust_check_root: a CA with
 * keyCertSign): on any failure nothing changes. Errors: TES_ERR_ARG,
 * TES_ERR_IACA_PROFILE (not a root; *bad, when not NULL, its index),
 * TES_ERR_READER_ROOTS_FULL (more than TES_WALLET_MAX_READER_ROOTS in all),
 * those of tes_wallet_reader_roots_get, TES_ERR_IO. */
TES_MUST_CHECK tes_err tes_wallet_reader_roots_add(tes_wallet *w, tes_cert *const *roots,
                                                   size_t n, size_t *added, size_t *bad);
/* Replaces the roots by roots[0..n) (n 0: trusts none; the file is removed).
 * Same checks and errors as tes_wallet_reader_roots_add. */
TES_MUST_CHECK tes_err tes_wallet_reader_roots_set(tes_wallet *w, tes_cert *const *roots,
                                                   size_t n, size_t *bad);

/* ---- presenting ---- */

/* True when presenting credential cred_id needs the PIN: its keys need
 * user verification, or the SE needs a login for every key use
 * (tes_wallet_needs_login). False for an unknown credential. */
bool tes_wallet_present_needs_pin(tes_wallet *w, int64_t cred_id);

/* A file-based presentation (the DeviceResponse goes to the caller, e.g. a
 * file; the session transcript comes from the caller). */
typedef struct tes_wallet_present_opts {
    int64_t credential_id;
    /* What is asked: the elements (borrowed views), or else a DeviceRequest
     * whose DocRequest for the credential's docType is answered (its
     * readerAuth is not checked: the result says whether it had one). */
    const tes_mdoc_req_elem *elems;
    size_t n_elems;
    tes_bytes device_request;
    tes_bytes transcript;      /* plain SessionTranscript (tes_mdoc_transcript_load) */
    tes_device_auth auth;      /* signature (default) or MAC */
    const tes_key *reader_key; /* MAC: the reader's public key */
    const char *pin;           /* NULL: none; needed when tes_wallet_present_needs_pin */
    const char *relying_party; /* the log's name for it; NULL: "unknown reader" */
    int64_t now;               /* the log entry's time; 0: the store's clock */
} tes_wallet_present_opts;

typedef struct tes_wallet_present_result {
    tes_holder_disclosed *disclosed; /* each released element once (owned) */
    size_t n_disclosed;
    size_t n_requested;   /* elements asked for */
    size_t missing;       /* of those, not in the credential */
    bool reader_auth_unchecked; /* the DeviceRequest carried readerAuth (not verified) */
} tes_wallet_present_result;
void tes_wallet_present_result_free(tes_wallet_present_result *r);

/* Presents credential o->credential_id: the PIN checked, a copy taken only
 * when something will be disclosed, the DeviceResponse signed or MACed by the
 * copy's secure-element key into *device_response (reset first; freed on
 * failure), the log entry written (tes_holder_answer_request: the sequence
 * and its errors). *res (free with tes_wallet_present_result_free, also
 * after a failure) says what was disclosed. Errors besides those:
 * TES_ERR_ARG (no elements, or both elements and a request, missing
 * transcript), TES_ERR_NOT_FOUND (no such credential), TES_ERR_MDOC_REQUEST
 * and the CBOR errors (a malformed DeviceRequest), TES_ERR_DOCTYPE_MISMATCH
 * (the request asks for no document of the credential's type). Failures
 * before the sequence (arguments, request) are not logged. */
TES_MUST_CHECK tes_err tes_wallet_present(tes_wallet *w, const tes_wallet_present_opts *o,
                                          tes_buf *device_response,
                                          tes_wallet_present_result *res);

/* A proximity presentation (ISO 18013-5 device retrieval): one transaction
 * of tes_holder_serve on the wallet's store and secure element. */
typedef struct tes_wallet_serve_opts {
    tes_transport *t;                 /* borrowed; the caller closes it */
    const tes_engagement *engagement; /* sent (QR) or served (NFC) */
    const tes_key *edevice;           /* its private key */
    tes_bytes nfc_handover_select;    /* NFC: the exact NDEF served; QR: empty */
    tes_consent_fn consent;           /* asks the holder (and for the PIN) */
    void *consent_ctx;
    /* NULL: the wallet's own reader roots (tes_wallet_reader_roots_load);
     * else these instead (borrowed). */
    tes_trust_store *reader_trust;
    int64_t now;                      /* 0: the system clock (tes_clock_now) */
    int timeout_ms;                   /* <= 0: the default */
} tes_wallet_serve_opts;

/* Serves one transaction (tes_holder_serve: its errors and its log). With
 * no roots at all every reader is shown to the holder as not authenticated.
 * Errors besides: TES_ERR_ARG, those of tes_wallet_reader_roots_load. */
TES_MUST_CHECK tes_err tes_wallet_serve(tes_wallet *w, const tes_wallet_serve_opts *o,
                                        tes_holder_result *out);
/* ---- OpenID4VCI client ----
 *
 * The wallet's side of OpenID4VCI 1.0 (pre-authorized code flow with a
 * transaction code, mso_mdoc), speaking the wire profile documented in
 * tessera/issuer.h (the issuer's side). Most front ends call
 * tes_wallet_enrol below, which drives it over the wallet's secure element
 * and stores the copies; these are the calls it is made of, for a front end
 * with keys elsewhere. Stateless: any thread. */

/* Key material the client asks for, per copy: creates a key, returns its
 * public key, its attestation chain (CBOR array, as tes_se attest) for the
 * challenge, and signs the proof JWT's signing input (ES256 raw r||s).
 * Implemented by the wallet over its secure element. In the key attestation
 * forms below the challenge given to create is empty and a chain returned is
 * not used (create may skip attesting). */
typedef struct tes_oid4vci_keys {
    tes_err (*create)(void *ctx, tes_bytes challenge, char key_id[64], tes_buf *public_key_pem,
                      tes_buf *attestation);
    tes_err (*sign)(void *ctx, const char *key_id, tes_bytes msg, uint8_t sig[64]);
    void *ctx;
} tes_oid4vci_keys;

/* Which proofs the client sends (tes_oid4vci_proof_opts.form). */
typedef enum tes_oid4vci_proof_form {
    /* key_attestation given and the issuer's metadata has
     * key_attestations_required for the jwt proof type: as KEY_ATTESTATION;
     * otherwise as X5C. */
    TES_OID4VCI_PROOF_AUTO = 0,
    /* Tessera's own form: jwt proofs whose header carries "jwk" and, when
     * create returned one, the attestation chain as "x5c" (the challenge
     * given to create is the c_nonce). What tes_oid4vci_obtain sends. */
    TES_OID4VCI_PROOF_X5C = 1,
    /* OpenID4VCI 1.0: one jwt proof per key, its header {"typ",
     * "alg": "ES256", "jwk", "key_attestation": a key attestation JWT of that
     * key for the c_nonce (Appendix D.1, F.1)}. Needs key_attestation. */
    TES_OID4VCI_PROOF_KEY_ATTESTATION = 2,
    /* OpenID4VCI 1.0 proof type "attestation" (Appendix F.3): one key
     * attestation of all the batch's keys for the c_nonce, no signature by
     * the keys. Needs key_attestation and an issuer that lists the proof
     * type (TES_ERR_UNSUPPORTED otherwise). */
    TES_OID4VCI_PROOF_ATTESTATION = 3,
} tes_oid4vci_proof_form;

/* How keys are attested to the issuer (tes_oid4vci_obtain_with). */
typedef struct tes_oid4vci_proof_opts {
    tes_oid4vci_proof_form form;
    /* Appends to *jwt a key attestation JWT (OpenID4VCI 1.0 Appendix D.1)
     * of the n keys key_ids made by keys->create, with "nonce" = nonce (e.g.
     * tes_se_attest_jwt); ctx is keys->ctx. NULL: only the X5C form. */
    tes_err (*key_attestation)(void *ctx, const char *const *key_ids, size_t n, const char *nonce,
                               tes_buf *jwt);
    /* appended: the proofs' "iat" (NULL: the system clock) */
    const tes_clock *clock;
} tes_oid4vci_proof_opts;

/* Obtains `batch` copies for the offer: parses the offer URI, fetches
 * metadata, redeems the code with tx_code, gets a c_nonce, makes one key per
 * copy and the proofs proof->form says (proof NULL: as X5C), requests the
 * credentials; *mdocs receives `batch` stored credentials (tes_buf array,
 * caller frees each and the array) and key_ids the matching key ids (each
 * copy checked to be bound to its key, whatever order the issuer answers
 * in, and to carry the configuration's doctype). The issuer sends each in
 * OpenID4VCI 1.0's mso_mdoc form (base64url of the CBOR IssuerSigned; the
 * stored credential wraps it with the MSO's docType) or, legacy, as the
 * stored-credential map itself. Errors: TES_ERR_HTTP_REQUEST (bad offer),
 * TES_ERR_MDOC_STRUCTURE (a credential of neither form),
 * TES_ERR_DOCTYPE_MISMATCH, TES_ERR_TRANSPORT
 * (network), TES_ERR_UNSUPPORTED (the issuer does not offer what the proof
 * form needs), TES_ERR_ARG (a key attestation form without the callback),
 * TES_ERR_GRANT / TES_ERR_PROOF / ... from the issuer's error responses. */
TES_MUST_CHECK tes_err tes_oid4vci_obtain_with(const char *offer_uri, const char *tx_code,
                                               size_t batch, const tes_oid4vci_keys *keys,
                                               const tes_oid4vci_proof_opts *proof, tes_buf **mdocs,
                                               char (**key_ids)[64], size_t *n);
/* tes_oid4vci_obtain_with with proof NULL (Tessera's x5c form). */
TES_MUST_CHECK tes_err tes_oid4vci_obtain(const char *offer_uri, const char *tx_code, size_t batch,
                                          const tes_oid4vci_keys *keys, tes_buf **mdocs,
                                          char (**key_ids)[64], size_t *n);

/* Reports a lost phone (POST <issuer_url>/lost, see the wire profile): from
 * any machine, with the holder's recovery code; device_id (64 hex digits)
 * names the phone, NULL every credential of the holder. *suspended (may be
 * NULL) receives how many credentials were suspended now. Errors:
 * TES_ERR_GRANT (wrong recovery code), TES_ERR_RATE_LIMIT,
 * TES_ERR_HTTP_REQUEST (bad device id, none of the holder's credentials on
 * it, or a bad answer), TES_ERR_TRANSPORT / TES_ERR_TIMEOUT (network). */
TES_MUST_CHECK tes_err tes_oid4vci_report_lost(const char *issuer_url, const char *recovery_code,
                                               const char *device_id, size_t *suspended);

/* ---- adding with options ----
 *
 * How often a copy may be presented is one rule, stated here: a credential is
 * stored single-use (the store hands each copy out once, then it is spent:
 * tes_store_take_copy) when its keys are single-use in the secure element,
 * or when the adder asks for it with TES_WALLET_COPIES_SINGLE_USE. The second
 * is what enrolment does for a batch of more than one copy: the keys it makes
 * are not single-use in the SE, because the proof of possession the issuer
 * asks for is a key's first signature, so a single-use key would be spent
 * before its first presentation; the store keeps each copy to one
 * presentation instead (unlinkability: no two readers see the same copy).
 * `tessera wallet add` keeps the default (single-use exactly when the keys
 * are), as tes_wallet_add_batch always has. */
typedef enum tes_wallet_copy_use {
    TES_WALLET_COPIES_AS_KEYS = 0,   /* single-use when the copies' keys are */
    TES_WALLET_COPIES_SINGLE_USE = 1 /* each copy presented once, whatever its key allows */
} tes_wallet_copy_use;

typedef struct tes_wallet_add_opts {
    const char *display_name;     /* NULL: tes_wallet_default_name of the doctype */
    tes_wallet_copy_use copy_use; /* 0: TES_WALLET_COPIES_AS_KEYS */
    /* Optional: n key ids, key_ids[i] the key made for copy i; each copy must
     * then be bound to its own (TES_ERR_COPY_NOT_BOUND), not merely to some
     * key of the SE. NULL: any key of the SE (TES_ERR_KEY_UNKNOWN). */
    const char *const *key_ids;
} tes_wallet_add_opts;

/* tes_wallet_add_batch with options (o NULL: the defaults): the same
 * acceptance rules and errors, plus TES_ERR_COPY_NOT_BOUND with key_ids. */
TES_MUST_CHECK tes_err tes_wallet_add(tes_wallet *w, const tes_bytes *mdocs, size_t n,
                                      const tes_wallet_add_opts *o, int64_t *cred_id, size_t *bad);

/* ---- device id ---- */

/* The phone's device id (tes_se_device_id, tessera/se.h): the hex SHA-256 of
 * its secure element's attestation certificate, which the issuer records with
 * every copy it issues to this wallet and which names the phone when it is
 * reported lost (tes_wallet_report_lost). A key of the wallet is attested for
 * it (a temporary key, deleted after, when the wallet has none yet). No PIN
 * needed. Errors: TES_ERR_UNSUPPORTED (the SE makes no key attestations, e.g.
 * PKCS#11: the issuer then knows each key by its thumbprint),
 * TES_ERR_NOT_FOUND / TES_ERR_ATTESTATION (an attestation without an SE
 * certificate), TES_ERR_ARG, the SE's errors. */
TES_MUST_CHECK tes_err tes_wallet_device_id(tes_wallet *w, char out[65]);

/* ---- enrolment ----
 *
 * The holder's enrolment over OpenID4VCI: the citizen, enrolled at the
 * counter, scans the offer (openid-credential-offer://...) and types the
 * transaction code and the wallet's PIN. In this order:
 *   1. the SE must have a PIN (TES_ERR_PIN_NOT_SET) and the PIN must be right
 *      (TES_ERR_PIN_WRONG, TES_ERR_PIN_LOCKED): checked before the one-time
 *      offer is redeemed, so a mistyped PIN does not spend it;
 *   2. the offer is redeemed with the transaction code and one key per copy
 *      is made in the SE (user verification: every use needs the PIN; not
 *      single-use, see tes_wallet_copy_use), attested for the issuer's
 *      c_nonce and proves possession (tes_oid4vci_obtain_with);
 *   3. the copies are checked to be bound each to the key made for it and
 *      stored as ONE credential through tes_wallet_add (its acceptance
 *      rules), TES_WALLET_COPIES_SINGLE_USE for more than one copy.
 * On failure nothing is stored, and the keys made are deleted from the SE
 * again (a key the SE refuses to delete is named in the message). Keys made
 * for copies the issuer did not send are deleted on success too. The
 * library keeps no copy of the PIN or the transaction code (the token
 * request that carries the code is wiped); the caller wipes its own. One
 * thread, like the wallet. */
typedef struct tes_wallet_enrol_opts {
    const char *offer_uri; /* required: the openid-credential-offer:// URI */
    const char *tx_code;   /* the transaction code (1..16 characters) when the offer needs one */
    const char *pin;       /* required: the wallet's PIN */
    size_t copies;         /* 1..TES_WALLET_MAX_COPIES; 0: 1. The client asks for at most
                              100 in one request (TES_ERR_ARG beyond), the issuer its batch_max */
    tes_oid4vci_proof_form proof; /* 0: TES_OID4VCI_PROOF_AUTO */
    const char *display_name;     /* NULL: tes_wallet_default_name of the doctype */
    const tes_clock *clock;       /* the proofs' "iat"; NULL: the system clock */
} tes_wallet_enrol_opts;

typedef struct tes_wallet_enrol_result {
    int64_t cred_id;                 /* in the store (tes_wallet_credential) */
    size_t copies;                   /* stored: as many as asked, fewer if the issuer sent fewer */
    int64_t valid_from, valid_until; /* the credential's, all copies valid within */
    bool single_use;                 /* each copy is presented once */
    bool needs_pin;                  /* every presentation needs the PIN (always, for now) */
    /* The device id the issuer recorded (the SE's, from the attestations
     * made: tes_se_device_id); "" when the SE made no attestation (the issuer
     * then knows each copy by its key's thumbprint) */
    char device_id[65];
    bool device_ids_differ; /* the attestations named several devices: device_id is the
                               first one's and not what the issuer recorded */
} tes_wallet_enrol_result;

/* Enrols (above); *r (required) is filled on success and zeroed otherwise.
 * Errors: TES_ERR_ARG (options missing or out of range), TES_ERR_PIN_NOT_SET,
 * TES_ERR_PIN_WRONG, TES_ERR_PIN_LOCKED, TES_ERR_UNSUPPORTED (a key
 * attestation proof form the SE cannot make), tes_oid4vci_obtain_with's
 * (TES_ERR_GRANT for a wrong or used transaction code or offer, TES_ERR_PROOF,
 * TES_ERR_TRANSPORT, ...), TES_ERR_HTTP_REQUEST (the issuer sent no copy or
 * more than asked), tes_wallet_add's, the SE's and the store's. */
TES_MUST_CHECK tes_err tes_wallet_enrol(tes_wallet *w, const tes_wallet_enrol_opts *o,
                                        tes_wallet_enrol_result *r);

/* Reports the phone lost: tes_oid4vci_report_lost (same arguments, same
 * errors); device_id from tes_wallet_device_id, or NULL for every credential
 * of the holder. Needs no wallet: the phone is gone. */
TES_MUST_CHECK tes_err tes_wallet_report_lost(const char *issuer_url, const char *recovery_code,
                                              const char *device_id, size_t *n_suspended);


/* ---- the PIN ----
 *
 * The wallet's PIN (every use of a key made with user verification needs
 * it) and the PUK that unblocks it, kept and checked by the secure element:
 * after TES_SE_PIN_TRIES wrong PINs in a row the PIN is locked and only the
 * PUK unblocks it; after TES_SE_PUK_TRIES wrong PUKs it is blocked for good.
 * The library keeps no copy of a PIN or PUK; the caller wipes its own
 * (tes_wipe). One thread, like the wallet. */

/* Sets the first PIN and PUK. Errors: TES_ERR_ARG (NULL argument),
 * TES_ERR_PIN_FORMAT (not the digits the SE takes), TES_ERR_STATE (a PIN
 * is set already: change or unblock it), the SE's. */
TES_MUST_CHECK tes_err tes_wallet_pin_set(tes_wallet *w, const char *pin, const char *puk);
/* Replaces the PIN, the current one given. Errors: TES_ERR_ARG,
 * TES_ERR_PIN_FORMAT, TES_ERR_PIN_NOT_SET, TES_ERR_PIN_WRONG (a try spent),
 * TES_ERR_PIN_LOCKED, TES_ERR_SE_BLOCKED, the SE's. */
TES_MUST_CHECK tes_err tes_wallet_pin_change(tes_wallet *w, const char *old_pin,
                                             const char *new_pin);
/* Unblocks (or resets) the PIN with the PUK: new_pin set, the PIN's tries
 * reset. Errors: TES_ERR_ARG, TES_ERR_PIN_FORMAT, TES_ERR_PIN_NOT_SET,
 * TES_ERR_PIN_WRONG (a PUK try spent), TES_ERR_SE_BLOCKED (too many wrong
 * PUKs: blocked for good), the SE's. */
TES_MUST_CHECK tes_err tes_wallet_pin_unblock(tes_wallet *w, const char *puk,
                                              const char *new_pin);

typedef struct tes_wallet_pin_state {
    bool set;           /* a PIN was set */
    int pin_tries_left; /* of TES_SE_PIN_TRIES; 0: locked */
    int puk_tries_left; /* of TES_SE_PUK_TRIES; 0: blocked for good */
    bool locked;        /* set, the PIN locked, the PUK can unblock it */
    bool blocked;       /* set, the PUK blocked for good */
} tes_wallet_pin_state;

/* Where the PIN stands (*out zeroed first). Needs no PIN. Errors:
 * TES_ERR_ARG, the SE's. */
TES_MUST_CHECK tes_err tes_wallet_pin_status(tes_wallet *w, tes_wallet_pin_state *out);

/* ---- online login: OpenID4VP 1.0 (docs/WALLET.md) ----
 *
 * The wallet's side of OpenID for Verifiable Presentations 1.0 under HAIP
 * for mso_mdoc: a website shows an authorization request URL (QR code or
 * link); the wallet fetches its signed request object by request_uri,
 * verifies it (tes_oid4vp_request_verify) against the roots it trusts to
 * license relying parties — the same reader roots as for proximity readers
 * (TES_WALLET_READER_ROOTS, `tessera wallet trust-reader`): a site's access
 * certificate is issued by a reader authority with the site's DNS name —,
 * requires the response_uri's host to be the certificate's DNS name
 * (x509_san_dns, OpenID4VP §5.9.3), evaluates the DCQL query over the
 * wallet's credentials, refuses a request for elements outside the
 * certificate's scope, asks the holder (consent callback: who — display
 * name, DNS name, purpose —, what — the elements, and "a pseudonym for this
 * site" —), takes a single-use copy, builds the DeviceResponse over the
 * OpenID4VP SessionTranscript (device signature in the SE), with the
 * site's pseudonym as a device-signed element when asked, encrypts it to
 * the request's key (JWE ECDH-ES; A256GCM when the site offers it, else
 * A128GCM, the default of encrypted_response_enc_values_supported) and
 * POSTs it (direct_post.jwt) to response_uri.
 *
 * The pseudonym (docs/PSEUDONYM.md): asked for as the claim
 * [TES_NS_PSEUDONYM, TES_ELEM_PSEUDONYM] inside a Credential Query of a
 * credential whose MSO authorises that namespace (keyAuthorizations); its
 * value is tes_se_pseudonym with the verified leaf certificate's public
 * key (65 bytes uncompressed) as the site key, a CBOR bstr of 32 bytes. It
 * is outside every scope check (it is not a personal attribute and belongs
 * to this site alone) but shown to the holder, who may refuse it.
 *
 * Refusals the verifier is told of (an OpenID4VP error response POSTed to
 * its response_uri with its state): no credential matches (access_denied,
 * TES_ERR_DCQL_UNSATISFIED), the holder declines (access_denied,
 * TES_ERR_CONSENT), the request asks beyond the certificate's scope
 * (invalid_request, TES_ERR_READER_SCOPE), a DCQL query Tessera does not
 * understand (invalid_request, TES_ERR_DCQL / TES_ERR_DCQL_UNSUPPORTED).
 * A request that does not verify, or whose response_uri is not the
 * certificate's host, gets no answer at all (its response_uri is not
 * trusted). Nothing is disclosed before the request verified and the holder
 * consented; every transaction that reached consent is in the wallet's log
 * (relying party "<display name> (<dns name>)"). Only the request_uri form is
 * accepted (HAIP): a URL carrying the request object by value ("request=")
 * is refused with TES_ERR_AUTHZ_URL. */

#define TES_WALLET_AUTHZ_URL_MAX 4096 /* bytes of an authorization request URL */
#define TES_WALLET_AUTHZ_TIMEOUT_MS 30000 /* default per HTTP exchange */

/* Splits an authorization request URL: "openid4vp://?client_id=..&request_uri=.."
 * (also "openid4vp:", "haip://", "eudi-openid4vp://" and an https URL of the
 * same query, the same-device forms); the values percent-decoded into
 * *client_id and *request_uri (owned: free). Strict: at most
 * TES_WALLET_AUTHZ_URL_MAX bytes, no parameter twice, request_uri an http(s)
 * URL, request_uri_method absent or "get", no "request" (by value).
 * Errors: TES_ERR_ARG, TES_ERR_AUTHZ_URL (what is wrong in the message),
 * TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_wallet_authz_url_parse(const char *url, char **client_id,
                                                  char **request_uri);

typedef struct tes_wallet_authorize_opts {
    tes_consent_fn consent; /* asks the holder and for the PIN (or tes_consent_policy_decide) */
    void *consent_ctx;
    /* NULL: the wallet's own reader roots; else these instead (borrowed). */
    tes_trust_store *rp_trust;
    /* accept http://localhost, 127.0.0.1, [::1] request_uri and response_uri
     * (tests, a site on this machine); https otherwise */
    bool allow_loopback_http;
    int64_t now;    /* 0: the system clock */
    int timeout_ms; /* per HTTP exchange; <= 0: TES_WALLET_AUTHZ_TIMEOUT_MS */
} tes_wallet_authorize_opts;

typedef struct tes_wallet_authorize_result {
    char rp_name[256];      /* the certificate's display name ("" before it verified) */
    char rp_dns[256];       /* its DNS name */
    char *response_uri;     /* owned; NULL before the request verified */
    int64_t credential_id;  /* the credential presented (0: none) */
    tes_holder_disclosed *disclosed; /* issuer-signed elements released (owned) */
    size_t n_disclosed;
    char pseudonym[TES_JWK_THUMBPRINT_LEN + 1]; /* base64url of the pseudonym released, or "" */
    const char *error_sent; /* the OpenID4VP error told to the verifier (static), or NULL */
    char *redirect_uri;     /* owned: the verifier's redirect_uri (same-device), or NULL */
} tes_wallet_authorize_result;
void tes_wallet_authorize_result_free(tes_wallet_authorize_result *r);

/* The pure core, without HTTP: from the request object jws[0..len) (as
 * fetched from request_uri) and the client_id of the URL, every step up to
 * the form body to POST to res->response_uri: "response=<JWE>" on success,
 * "error=..&error_description=..&state=.." for a refusal the verifier is told
 * of (res->error_sent says which); form empty when nothing may be sent.
 * *res (free with tes_wallet_authorize_result_free, also after a failure).
 * Errors: those of tes_oid4vp_request_verify (request, signature, chain,
 * client_id, expiry), TES_ERR_RESPONSE_URI (its host is not the
 * certificate's DNS name), TES_ERR_DCQL / TES_ERR_DCQL_UNSUPPORTED,
 * TES_ERR_DCQL_UNSATISFIED (no credential matches), TES_ERR_READER_SCOPE
 * (asks beyond the certificate's scope), TES_ERR_CONSENT (the holder
 * declined), those of tes_se_pseudonym and tes_holder_answer_request (PIN,
 * copy, signature, log), TES_ERR_JWK, TES_ERR_NOMEM, the store's. */
TES_MUST_CHECK tes_err tes_wallet_authorize_request(tes_wallet *w, const char *jws, size_t len,
                                                    const char *client_id,
                                                    const tes_wallet_authorize_opts *o,
                                                    tes_buf *form,
                                                    tes_wallet_authorize_result *res);

/* The whole exchange for the authorization request URL url: parse it, GET
 * request_uri (Accept application/oauth-authz-req+jwt, at most
 * TES_OID4VP_REQUEST_MAX bytes, within the timeout), tes_wallet_authorize_request,
 * POST the form to response_uri (also an error response), read its JSON
 * answer and its redirect_uri. Errors: those of tes_wallet_authz_url_parse
 * and tes_wallet_authorize_request, TES_ERR_REQUEST_URI (request_uri
 * answered with an error status, another content type, or more than
 * TES_OID4VP_REQUEST_MAX bytes), TES_ERR_VERIFIER_REFUSED (response_uri
 * answered with an error: its error and error_description in the message),
 * TES_ERR_TRANSPORT, TES_ERR_TIMEOUT. */
TES_MUST_CHECK tes_err tes_wallet_authorize(tes_wallet *w, const char *url,
                                            const tes_wallet_authorize_opts *o,
                                            tes_wallet_authorize_result *res);


/* ---- door keys (issue 14; docs/WALLET.md "Door keys", docs/KEYS.md) ----
 *
 * The phone's side of hotel room keys. At check-in the wallet makes an
 * endpoint key in its secure element (no PIN: doors open in express mode, as
 * the public wallets do; not single-use) and hands the hotel a key request
 * (tes_wallet_key_request); the hotel answers with a key package (its access
 * document for that endpoint key, its reader group key and issuer key), which
 * tes_wallet_key_add verifies and keeps. tes_wallet_tap then answers a lock's
 * Aliro transaction (standard, fast, step-up) through vpcd. Revocation
 * documents a phone carries (tes_wallet_key_revocation_add) reach offline
 * locks with the next transaction. One thread, like the wallet. */

/* The challenge the key request's attestation chain carries (tes_se attest):
 * the hotel checks it with tes_se_attestation_verify. */
#define TES_WALLET_KEY_ATTEST_CHALLENGE "tessera door key request"
#define TES_WALLET_KEY_ISSUER_MAX 64
#define TES_WALLET_KEY_ROOMS_MAX (TES_ACCESS_MAX_ROOMS * (TES_ACCESS_ROOM_MAX + 2))
#define TES_WALLET_TAP_TIMEOUT_MS 30000 /* default wait for the reader */
#define TES_WALLET_TAP_LINGER_MS 2000   /* after the verdict, until the reader lets go */

/* Makes a new endpoint key in the wallet's secure element, records it as
 * requested and appends the encoded key request (tes_access_key_request_encode)
 * to *request: its public key and, when the secure element makes key
 * attestations, its attestation chain for TES_WALLET_KEY_ATTEST_CHALLENGE. On
 * failure nothing is appended and the key is deleted again. Errors:
 * TES_ERR_ARG, the SE's (TES_ERR_SE_*), the store's, TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_wallet_key_request(tes_wallet *w, tes_buf *request);

/* A door key as the holder sees it. */
typedef struct tes_wallet_key_info {
    int64_t id;                 /* its row in the store */
    bool active;                /* false: requested, no key package added yet */
    bool revoked;               /* a revocation document the wallet holds lists it */
    char issuer[TES_WALLET_KEY_ISSUER_MAX]; /* the hotel's name ("" when requested) */
    char rooms[TES_WALLET_KEY_ROOMS_MAX];   /* "101, 102" */
    int64_t not_before, not_after;          /* check-in, check-out (0 when requested) */
    int64_t issued_at;                      /* the access document's signing time */
    int64_t created_at;                     /* when the key was requested */
    char key_id[2 * TES_ACCESS_KEY_ID_LEN + 1]; /* hex, "" when requested */
    char se_key_id[TES_SE_ID_MAX];
} tes_wallet_key_info;

/* Adds a hotel's key package (tes_access_key_package_parse). Checks, in this
 * order: the package is well-formed (TES_ERR_ACCESS_DOC_FORMAT), its issuer
 * key is a P-256 point (TES_ERR_ACCESS_DOC_FORMAT), the access document
 * verifies with it (tes_access_doc_verify's errors: TES_ERR_ACCESS_ISSUER for
 * a document signed by another key, TES_ERR_ACCESS_DOC_FORMAT), names the
 * package's group (TES_ERR_ACCESS_DOC_FORMAT), the reader key is a P-256
 * point (TES_ERR_ACCESS_DOC_FORMAT), the revocation document, when present,
 * verifies with the issuer key for the same group (tes_access_revocation_verify's
 * errors, TES_ERR_ACCESS_DOC_FORMAT); the document's endpoint key is one this
 * wallet requested (TES_ERR_ACCESS_ENDPOINT) whose key its secure element
 * still holds (TES_ERR_KEY_UNKNOWN); the key is not active with this very
 * document or a later one (TES_ERR_EXISTS: a package added twice). A newer
 * document for an active key (an extended stay) replaces the older. The key,
 * its document and the revocation document (kept when newer than the group's
 * held one) are stored in one transaction. *out (may be NULL) describes the
 * key. Other errors: TES_ERR_ARG, TES_ERR_NOMEM, the SE's, the store's. */
TES_MUST_CHECK tes_err tes_wallet_key_add(tes_wallet *w, tes_bytes package,
                                          tes_wallet_key_info *out);

typedef struct tes_wallet_revocation_info {
    char issuer[TES_WALLET_KEY_ISSUER_MAX]; /* the hotel of the group */
    int64_t version;
    size_t n_keys;      /* keys the document revokes */
    size_t own_revoked; /* of those, keys of this wallet */
} tes_wallet_revocation_info;

/* Keeps a revocation document of a reader group this wallet holds an active
 * key of, to carry it to offline locks (the next transaction announces it).
 * Errors: TES_ERR_ACCESS_DOC_FORMAT (malformed), TES_ERR_NOT_FOUND (the
 * wallet holds no key of the document's group, or no key whose hotel signed
 * it), TES_ERR_ACCESS_ISSUER (signed by none of the hotels whose keys the
 * wallet holds, or by another hotel than the group's),
 * TES_ERR_ACCESS_ROLLBACK (not newer than the group's document held: nothing
 * changes), TES_ERR_ARG, TES_ERR_NOMEM, the store's. *out may be NULL. */
TES_MUST_CHECK tes_err tes_wallet_key_revocation_add(tes_wallet *w, tes_bytes revocation_doc,
                                                     tes_wallet_revocation_info *out);

/* Every door key, requested ones too, oldest first: *out allocated (free with
 * tes_wallet_keys_free), NULL when none. Errors: TES_ERR_ARG, TES_ERR_NOMEM,
 * the store's. */
TES_MUST_CHECK tes_err tes_wallet_keys(tes_wallet *w, tes_wallet_key_info **out, size_t *n);
void tes_wallet_keys_free(tes_wallet_key_info *k, size_t n);

/* The keyring the access engine's device asks (tes_access_keyring) over the
 * wallet's store:
 *   find         the active key of the reader's group whose validity has not
 *                ended at the clock's now, those valid now first, then the
 *                most recently issued; endpoint issued_at = the document's
 *                signing time, revoked_at = the version of the group's
 *                revocation document held (zeros without), signaling =
 *                ACCESS_DOC | STEPUP_SELECT (| REVOCATION_DOC when held),
 *                key_slot = the first 8 bytes of the key id;
 *   persistent   per key and full reader id, in the store;
 *   documents    "aliro-a": the key's access document; "aliro-r": the group's
 *                revocation document, when held;
 *   event        the wallet's log: relying party the hotel's name ("unknown
 *                reader" when no key was used), elements "door key", outcome
 *                "opened" (status 0101) or "refused (status SSSS)", SSSS the
 *                reader status in 4 hex digits.
 * The keyring borrows w (and clock) until freed. */
typedef struct tes_wallet_keyring tes_wallet_keyring;
/* clock NULL: the system clock. Errors: TES_ERR_ARG, TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_wallet_keyring_new(tes_wallet *w, const tes_clock *clock,
                                              tes_wallet_keyring **out);
/* The keyring to give tes_access_device_opts.ring (borrowed from k). */
const tes_access_keyring *tes_wallet_keyring_ring(tes_wallet_keyring *k);
/* Verdicts seen so far (event calls), and the last one's status and key
 * (*key_id 0 when no key was used). */
unsigned tes_wallet_keyring_verdicts(const tes_wallet_keyring *k, uint16_t *last_status,
                                     int64_t *key_id);
void tes_wallet_keyring_free(tes_wallet_keyring *k);

/* What a reader status means, for the holder ("unlocked", "key expired",
 * "key not trusted (revoked)", "no rights for this door", ...; static). */
const char *tes_wallet_tap_status_text(uint16_t status);

typedef struct tes_wallet_tap_opts {
    const char *vpcd;     /* "host:port"; NULL: vpcd's default 127.0.0.1:35963 */
    int timeout_ms;       /* without a command from the reader; <= 0: TES_WALLET_TAP_TIMEOUT_MS */
    volatile int *stop;   /* set (e.g. by a signal handler) to stop; may be NULL */
    unsigned count;       /* transactions to answer (verdicts); 0: 1 */
    const tes_clock *clock; /* which keys are valid; NULL: the system clock */
    const tes_rng *rng;     /* ephemeral keys; NULL: the system's */
} tes_wallet_tap_opts;

typedef struct tes_wallet_tap_result {
    unsigned transactions; /* verdicts received */
    bool has_status;
    uint16_t status;       /* the last reader status (TES_ACCESS_STATUS_UNLOCKED: opened) */
    bool opened;           /* status is TES_ACCESS_STATUS_UNLOCKED */
    int64_t key_id;        /* the key used in the last transaction (0: none) */
    char issuer[TES_WALLET_KEY_ISSUER_MAX]; /* its hotel */
    char rooms[TES_WALLET_KEY_ROOMS_MAX];   /* its rooms */
} tes_wallet_tap_result;

/* Serves the Aliro applets (primary and step-up; other applets get 6A82)
 * through vpcd (tes_vpcd_serve) with the wallet's keys until the reader has
 * given its verdict for o->count transactions, the card is removed (pcscd
 * closes the link), stop is set or the reader stays silent for the timeout.
 * *r (required, zeroed first) says what the reader said last. A transaction
 * the reader ended without a verdict is not counted. Errors: TES_ERR_ARG,
 * TES_ERR_TRANSPORT (vpcd unreachable: is pcscd running?), TES_ERR_TIMEOUT
 * (no command within the timeout), TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_wallet_tap(tes_wallet *w, const tes_wallet_tap_opts *o,
                                      tes_wallet_tap_result *r);

#ifdef __cplusplus
}
#endif

#endif
