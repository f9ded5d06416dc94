/*
 * tessera/access.h — door and car keys: the Aliro 1.0 NFC transaction (the
 * "UnifiedAccess" family shared by CSA Aliro, Apple Home Key and CCC Digital
 * Key), both sides, and the access and revocation documents a hotel signs.
 *
 * docs/KEYS.md describes the transaction byte by byte (which public
 * descriptions each part follows), the profile choices where the public
 * material stops, and the threat model. In short:
 *
 *   reader (lock)                                  device (phone)
 *   SELECT A000000909ACCE5501             ->       FCI 6F{84 AID, A5{80 0000, 5C versions, 7F66}}
 *   AUTH0 41 flags 42 policy 5C version
 *         87 reader ephemeral key 4C tx id
 *         4D reader id (group 16 || instance 16)  ->  86 device ephemeral key [9D cryptogram]
 *   (fast: the reader finds the endpoint whose persistent key decrypts 9D)
 *   AUTH1 41 01 9E reader signature       ->       encrypted {5A endpoint key | 4E slot,
 *                                                      9E device signature, 5E, 91, 92}
 *   [SELECT A000000909ACCE5502, ENVELOPE 53{CBOR {"data": encrypted DeviceRequest}}
 *                                          ->      53{CBOR {"data": encrypted DeviceResponse}}]
 *   EXCHANGE encrypted {97 reader status}  ->      encrypted {00 02 00 00}
 *
 * Keys: X9.63-KDF(SHA-256, ECDH(ephemerals), shared info = tx id) -> Kdh;
 * HKDF-SHA-256(Kdh, salt = reader key x || "Volatile****" || reader id ||
 * interface || 5C 02 version || reader ephemeral x || tx id || flags ||
 * policy || FCI A5 template, info = device ephemeral x) -> 160 bytes of
 * exchange/step-up/BLE/UWB keys; the persistent key with "Persistent**" and
 * the endpoint key x appended; the fast path HKDF(Kpersistent, "VolatileFast"
 * salt) -> cryptogram key and exchange keys. The secure channel is
 * AES-256-GCM, IV = 8-byte direction prefix (reader 0..0, device 0..01) ||
 * 4-byte counter starting at 1, one counter per direction.
 *
 * Ownership: every function copies what it keeps; buffers passed in are
 * borrowed for the call. Secrets (persistent keys, session keys) are wiped
 * when the object holding them is freed.
 */
#ifndef TESSERA_ACCESS_H
#define TESSERA_ACCESS_H

#include "tessera/core.h"
#include "tessera/cose.h"
#include "tessera/crypto.h"
#include "tessera/se.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- constants */

#define TES_ACCESS_AID_PRIMARY_HEX "A000000909ACCE5501"
#define TES_ACCESS_AID_STEPUP_HEX "A000000909ACCE5502"
#define TES_ACCESS_AID_LEN 9
extern const uint8_t tes_access_aid_primary[TES_ACCESS_AID_LEN];
extern const uint8_t tes_access_aid_stepup[TES_ACCESS_AID_LEN];

#define TES_ACCESS_GROUP_ID_LEN 16  /* reader group identifier */
#define TES_ACCESS_READER_ID_LEN 32 /* group identifier || reader instance identifier */
#define TES_ACCESS_TX_ID_LEN 16     /* transaction identifier (nonce) */
#define TES_ACCESS_POINT_LEN 65     /* uncompressed P-256 point 04 || x || y */
#define TES_ACCESS_KEY_ID_LEN 16    /* a key's id in its access document */
#define TES_ACCESS_TIMESTAMP_LEN 20 /* "YYYY-MM-DDTHH:MM:SSZ", or 20 zero bytes when unset */
#define TES_ACCESS_CRYPTOGRAM_LEN 64
#define TES_ACCESS_FCI_MAX 128 /* the FCI proprietary template (A5 TLV) */

#define TES_ACCESS_INTERFACE_NFC 0x5E
#define TES_ACCESS_VERSION_1_0 0x0100

/* AUTH0 tag 41 (transaction flags) */
#define TES_ACCESS_FLAG_STANDARD 0x00
#define TES_ACCESS_FLAG_FAST 0x01
/* AUTH0 tag 42 (authentication policy / transaction code) */
#define TES_ACCESS_POLICY_USER_DEVICE_SETTING 0x01

/* Signaling bitmap (tag 5E) bits */
#define TES_ACCESS_SIG_ACCESS_DOC 0x0001     /* access document retrievable */
#define TES_ACCESS_SIG_REVOCATION_DOC 0x0002 /* revocation document retrievable */
#define TES_ACCESS_SIG_STEPUP_SELECT 0x0004  /* SELECT step-up applet before ENVELOPE */

/* Reader status (EXCHANGE tag 97, two bytes) */
#define TES_ACCESS_STATUS_UNLOCKED 0x0101    /* "state unsecure": the door opened */
#define TES_ACCESS_STATUS_LOCKED 0x0100      /* "state secure" */
#define TES_ACCESS_STATUS_FAILURE 0x0000     /* failure, no information */
#define TES_ACCESS_STATUS_NOT_FOUND 0x0001   /* access credential public key not found */
#define TES_ACCESS_STATUS_EXPIRED 0x0002     /* access credential expired */
#define TES_ACCESS_STATUS_NOT_TRUSTED 0x0003 /* access credential not trusted (revoked) */
#define TES_ACCESS_STATUS_BAD_SIGNATURE 0x0004
#define TES_ACCESS_STATUS_NO_RIGHTS 0x0025 /* invalid access rights (room, schedule) */

/* ---------------------------------------------------------------- BER-TLV */

/* One BER-TLV data object (ISO/IEC 7816-4 §5.2). tag is the 1- or 2-byte tag
 * as a number (0x5C, 0x7F66); value and raw point into the parsed input. */
typedef struct tes_tlv {
    uint32_t tag;
    tes_bytes value;
    tes_bytes raw; /* tag, length and value as they were encoded */
} tes_tlv;

/* Parses a sequence of data objects filling `in` exactly. Strict and bounded:
 * tags of 1 or 2 bytes, definite lengths in short form or 81/82 (at most
 * 65535), no trailing or missing bytes, at most `max` objects. Constructed
 * objects are not descended into (parse their value again). Errors:
 * TES_ERR_TLV (with what and where), TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_tlv_parse(tes_bytes in, tes_tlv *out, size_t max, size_t *n);
/* The first object with `tag`, or NULL. */
const tes_tlv *tes_tlv_find(const tes_tlv *objs, size_t n, uint32_t tag);
/* Appends tag || length || value (minimal length encoding). */
void tes_tlv_put(tes_buf *out, uint32_t tag, tes_bytes value);

/* ---------------------------------------------------------------- key schedule */

/* Everything both sides must agree on for the key derivations. */
typedef struct tes_access_context {
    uint8_t reader_key_x[32];                    /* reader group public key x */
    uint8_t reader_id[TES_ACCESS_READER_ID_LEN]; /* tag 4D */
    uint8_t interface;                           /* TES_ACCESS_INTERFACE_NFC */
    uint16_t version;                            /* tag 5C chosen by the reader */
    uint8_t reader_eph_x[32];                    /* tag 87 x */
    uint8_t device_eph_x[32];                    /* tag 86 x */
    uint8_t tx_id[TES_ACCESS_TX_ID_LEN];         /* tag 4C */
    uint8_t flags;                               /* tag 41 of AUTH0 */
    uint8_t policy;                              /* tag 42 of AUTH0 */
    uint8_t fci[TES_ACCESS_FCI_MAX];             /* the A5 template as encoded (tag+len+value) */
    size_t fci_len;
} tes_access_context;

/* Session keys of one transaction. The derivations fill the exchange keys,
 * the UWB key, the cryptogram key (fast) and the step-up and BLE materials;
 * the step-up and BLE key pairs are expanded from their materials only when
 * a transaction needs them (tes_access_keys_expand): an NFC tap without
 * step-up never pays for them. */
typedef struct tes_access_keys {
    uint8_t exchange_reader[32], exchange_device[32];
    uint8_t stepup_material[32], ble_material[32];
    uint8_t stepup_reader[32], stepup_device[32]; /* standard flow only, once expanded */
    uint8_t ble_reader[32], ble_device[32];       /* once expanded */
    uint8_t uwb_ranging[32];
    uint8_t cryptogram[32];   /* fast flow only */
    bool has_stepup_material; /* standard flow */
    bool has_stepup, has_ble; /* expanded */
} tes_access_keys;
#define TES_ACCESS_KEYS_STEPUP 1u /* SKReader / SKDevice of the step-up channel */
#define TES_ACCESS_KEYS_BLE 2u    /* BleSKReader / BleSKDevice */
/* Expands the key pairs asked for (idempotent). TES_ERR_STATE when step-up
 * keys are asked of a fast transaction's keys (they have none). */
TES_MUST_CHECK tes_err tes_access_keys_expand(tes_access_keys *k, unsigned which);

/* ANSI X9.63 KDF with SHA-256 (SEC 1 §3.6.1): out_len bytes. */
TES_MUST_CHECK tes_err tes_x963_kdf_sha256(tes_bytes z, tes_bytes shared_info, uint8_t *out,
                                           size_t out_len);
/* Standard flow: from the ECDH x-coordinate z, the session keys and Kdh (the
 * X9.63 output, kept to derive the persistent key). */
TES_MUST_CHECK tes_err tes_access_derive_standard(const tes_access_context *c, const uint8_t z[32],
                                                  tes_access_keys *out, uint8_t kdh[32]);
/* The persistent key for the next fast transactions with this reader. */
TES_MUST_CHECK tes_err tes_access_derive_persistent(const tes_access_context *c,
                                                    const uint8_t kdh[32],
                                                    const uint8_t endpoint_key_x[32],
                                                    uint8_t kpersistent[32]);
/* Fast flow: the cryptogram key and the exchange keys from a persistent key. */
/* Only the cryptogram key (the first 32 bytes of the fast expansion): what a
 * lock needs to try one of its known persistent keys on a cryptogram. */
TES_MUST_CHECK tes_err tes_access_derive_cryptogram_key(const tes_access_context *c,
                                                        const uint8_t kpersistent[32],
                                                        const uint8_t endpoint_key_x[32],
                                                        uint8_t key[32]);
TES_MUST_CHECK tes_err tes_access_derive_fast(const tes_access_context *c,
                                              const uint8_t kpersistent[32],
                                              const uint8_t endpoint_key_x[32],
                                              tes_access_keys *out);
/* The signed data of AUTH1: 4D reader id, 86 device ephemeral x, 87 reader
 * ephemeral x, 4C tx id, 93 usage (415D9569 reader, 4E887B4C device). */
#define TES_ACCESS_AUTH_INPUT_LEN 126
void tes_access_auth_input(const tes_access_context *c, bool device,
                           uint8_t out[TES_ACCESS_AUTH_INPUT_LEN]);

/* The secure channel: AES-256-GCM, IV = direction prefix || counter. */
typedef struct tes_access_channel {
    uint8_t sk_reader[32], sk_device[32];
    uint32_t ctr_reader, ctr_device; /* next counters (start at 1) */
} tes_access_channel;
void tes_access_channel_init(tes_access_channel *ch, const uint8_t sk_reader[32],
                             const uint8_t sk_device[32]);
/* Seals plain (empty stays empty; the counter steps all the same) from the reader
 * (from_reader) or the device; the counter of that direction advances. */
TES_MUST_CHECK tes_err tes_access_channel_seal(tes_access_channel *ch, bool from_reader,
                                               tes_bytes plain, tes_buf *out);
/* Opens what the other side sealed. TES_ERR_ACCESS_CHANNEL when it fails
 * authentication (altered, reflected, replayed, reordered); the counter then
 * does not advance and out is left empty. */
TES_MUST_CHECK tes_err tes_access_channel_open(tes_access_channel *ch, bool from_reader,
                                               tes_bytes cipher, tes_buf *out);
void tes_access_channel_wipe(tes_access_channel *ch);

/* ---------------------------------------------------------------- the device (phone) */

/* One access credential of the device, as the wallet holds it. */
typedef struct tes_access_endpoint {
    char se_key_id[TES_SE_ID_MAX];                /* the endpoint key in the secure element */
    uint8_t endpoint_key[TES_ACCESS_POINT_LEN];   /* its public key */
    uint8_t group_id[TES_ACCESS_GROUP_ID_LEN];    /* the reader group it opens */
    uint8_t reader_key[TES_ACCESS_POINT_LEN];     /* the group's key that signs AUTH1 */
    uint8_t key_slot[8];                          /* tag 4E */
    uint8_t issued_at[TES_ACCESS_TIMESTAMP_LEN];  /* tag 91: the access document's signing time */
    uint8_t revoked_at[TES_ACCESS_TIMESTAMP_LEN]; /* tag 92: newest revocation document held */
    uint16_t signaling;                           /* tag 5E */
} tes_access_endpoint;

/* What the device asks of the wallet. Every member required but event. */
typedef struct tes_access_keyring {
    void *ctx;
    /* The credential for a reader group: TES_ERR_NOT_FOUND when none. */
    tes_err (*find)(void *ctx, const uint8_t group_id[TES_ACCESS_GROUP_ID_LEN],
                    tes_access_endpoint *out);
    /* The persistent key shared with one reader (full reader id). NOT_FOUND when none. */
    tes_err (*persistent_get)(void *ctx, const tes_access_endpoint *e,
                              const uint8_t reader_id[TES_ACCESS_READER_ID_LEN], uint8_t k[32]);
    tes_err (*persistent_put)(void *ctx, const tes_access_endpoint *e,
                              const uint8_t reader_id[TES_ACCESS_READER_ID_LEN],
                              const uint8_t k[32]);
    /* Appends the encoded Document of docType `doctype` (TES_ACCESS_DOCTYPE or
     * TES_REVOCATION_DOCTYPE) the wallet holds for e, one CBOR item, and sets
     * *n to 1; *n = 0 when it holds none. */
    tes_err (*documents)(void *ctx, const tes_access_endpoint *e, const char *doctype,
                         tes_buf *items, size_t *n);
    /* Optional: the reader's verdict (EXCHANGE 97 or CONTROL FLOW), for the
     * holder's screen and log. e is NULL when no credential was used. */
    void (*event)(void *ctx, const tes_access_endpoint *e, uint16_t reader_status);
} tes_access_keyring;

typedef struct tes_access_device_opts {
    tes_se *se; /* signs AUTH1 with the endpoint key (no PIN: express) */
    const tes_access_keyring *ring;
    const tes_rng *rng; /* NULL: the system's */
} tes_access_device_opts;

typedef struct tes_access_device tes_access_device;
TES_MUST_CHECK tes_err tes_access_device_new(const tes_access_device_opts *o,
                                             tes_access_device **out);
/* Processes one command APDU and appends the response APDU (data || SW1 SW2).
 * Every input gets a response: malformed or out-of-sequence commands get
 * status words (6700 length, 6A80 data, 6985 sequence, 6982 reader not
 * authenticated, 6A82 AID, 6D00 INS, 6E00 CLA) and end the transaction; a
 * reader that failed AUTH1 learns nothing of the credential. Fails only for
 * NULL arguments and out-of-memory. */
TES_MUST_CHECK tes_err tes_access_device_process(tes_access_device *d, tes_bytes command,
                                                 tes_buf *response);
/* Field off / card reset: forgets the transaction (keys wiped). */
void tes_access_device_reset(tes_access_device *d);
/* Whether the last transaction ended with the reader's verdict, and which. */
bool tes_access_device_verdict(const tes_access_device *d, uint16_t *reader_status);
void tes_access_device_free(tes_access_device *d);

/* ---------------------------------------------------------------- the reader (lock) */

/* Sends one command APDU and returns the response APDU (data || SW). */
typedef tes_err (*tes_apdu_transmit_fn)(void *ctx, tes_bytes command, tes_buf *response);

/* A persistent key the reader holds for an endpoint it authenticated before. */
typedef struct tes_access_known {
    uint8_t endpoint_key[TES_ACCESS_POINT_LEN];
    uint8_t kpersistent[32];
} tes_access_known;

typedef struct tes_access_reader_opts {
    const tes_key *reader_key;                   /* the group's private key (signs AUTH1) */
    uint8_t reader_id[TES_ACCESS_READER_ID_LEN]; /* group id || instance id */
    bool fast;                                   /* ask for the fast cryptogram */
    uint8_t policy;                              /* tag 42 */
    const tes_access_known *known;               /* tried in order on the fast path */
    size_t n_known;
    const tes_rng *rng;
    tes_apdu_transmit_fn transmit;
    void *transmit_ctx;
} tes_access_reader_opts;

typedef enum {
    TES_ACCESS_FLOW_NONE = 0,
    TES_ACCESS_FLOW_FAST,
    TES_ACCESS_FLOW_STANDARD,
    TES_ACCESS_FLOW_STEP_UP,
} tes_access_flow;

typedef struct tes_access_result {
    tes_access_flow flow;
    int known_index;                            /* fast: which known key matched, else -1 */
    uint8_t endpoint_key[TES_ACCESS_POINT_LEN]; /* authenticated endpoint key */
    uint8_t kpersistent[32];                    /* standard: the new persistent key */
    bool has_kpersistent;
    uint8_t issued_at[TES_ACCESS_TIMESTAMP_LEN];  /* tag 91 */
    uint8_t revoked_at[TES_ACCESS_TIMESTAMP_LEN]; /* tag 92 */
    uint16_t signaling;                           /* tag 5E */
    uint16_t version;                             /* protocol version chosen */
} tes_access_result;

typedef struct tes_access_reader tes_access_reader;

/* SELECT + AUTH0; on the fast path, the matching known key (r->flow FAST,
 * r->known_index). Errors: TES_ERR_APDU (status words, no Aliro applet),
 * TES_ERR_TLV (malformed answers), TES_ERR_PCSC / TES_ERR_TRANSPORT (link). */
TES_MUST_CHECK tes_err tes_access_reader_begin(const tes_access_reader_opts *o,
                                               tes_access_reader **out, tes_access_result *r);
/* AUTH1: the reader proves itself; the device's answer is decrypted and its
 * signature verified. r gets the endpoint key, the new persistent key, the
 * timestamps and the signaling bitmap (flow STANDARD). Errors:
 * TES_ERR_ACCESS_READER (the device refused the reader: 6982),
 * TES_ERR_ACCESS_CHANNEL, TES_ERR_ACCESS_ENDPOINT (signature wrong), TES_ERR_TLV. */
TES_MUST_CHECK tes_err tes_access_reader_auth1(tes_access_reader *x, tes_access_result *r);
/* Step-up (after AUTH1): SELECT the step-up applet when the device asks for it,
 * ENVELOPE the document request (access and/or revocation documents) and
 * return the decrypted DeviceResponse bytes in *device_response (flow
 * STEP_UP). */
TES_MUST_CHECK tes_err tes_access_reader_step_up(tes_access_reader *x, bool access_doc,
                                                 bool revocation_doc, tes_buf *device_response,
                                                 tes_access_result *r);
/* Tells the device the outcome: EXCHANGE 97 <status> on the secure channel
 * (CONTROL FLOW when there is none). */
TES_MUST_CHECK tes_err tes_access_reader_finish(tes_access_reader *x, uint16_t status);
void tes_access_reader_free(tes_access_reader *x);

/* ---------------------------------------------------------------- documents */

#define TES_ACCESS_DOCTYPE "aliro-a"
#define TES_REVOCATION_DOCTYPE "aliro-r"
#define TES_ACCESS_MAX_ROOMS 16
#define TES_ACCESS_ROOM_MAX 16 /* characters of a room/door name, NUL included */
#define TES_ACCESS_MAX_REVOKED 256

/* What an access document grants (profile "tessera-hotel-1", docs/KEYS.md). */
typedef struct tes_access_grant {
    uint8_t key_id[TES_ACCESS_KEY_ID_LEN];     /* chosen by the issuer, names the key */
    uint8_t group_id[TES_ACCESS_GROUP_ID_LEN]; /* the doors it is for */
    char rooms[TES_ACCESS_MAX_ROOMS][TES_ACCESS_ROOM_MAX];
    size_t n_rooms;
    int64_t not_before, not_after;    /* check-in, check-out (seconds, UTC) */
    uint16_t daily_from, daily_until; /* minutes after midnight UTC; 0,0: all day */
    int64_t signed_at;
    uint8_t endpoint_key[TES_ACCESS_POINT_LEN]; /* the phone's endpoint key it is bound to */
} tes_access_grant;

/* A revocation document: every key of the group revoked so far. */
typedef struct tes_access_revocation {
    uint8_t group_id[TES_ACCESS_GROUP_ID_LEN];
    int64_t version; /* strictly increasing (the issuer's signing time, seconds) */
    size_t n_keys;
    uint8_t keys[TES_ACCESS_MAX_REVOKED][TES_ACCESS_KEY_ID_LEN];
} tes_access_revocation;

/* ---------------------------------------------------------------- provisioning */

/* How a key reaches a phone (docs/KEYS.md, "Provisioning"): the wallet makes
 * an endpoint key in its secure element and hands the hotel a key request;
 * the hotel answers with a key package. Both are CBOR maps with text keys:
 *   request  {"v": 1, "endpoint_key": bstr(65), ? "attestation": bstr
 *             (the x5chain of tes_se attest: the key lives in a secure element)}
 *   package  {"v": 1, "issuer": tstr (the hotel's name), "group_id": bstr(16),
 *             "reader_key": bstr(65) (the group key that signs AUTH1),
 *             "issuer_key": bstr(65) (the key that signs the documents),
 *             "document": bstr (the access Document), ? "revocation": bstr
 *             (the newest revocation Document of the group)}
 * The parsers are strict and bounded (64 KiB); the byte strings point into
 * the input. Errors: TES_ERR_ACCESS_DOC_FORMAT, TES_ERR_ARG, TES_ERR_NOMEM. */
typedef struct tes_access_key_request {
    uint8_t endpoint_key[TES_ACCESS_POINT_LEN];
    tes_bytes attestation; /* empty when absent */
} tes_access_key_request;
TES_MUST_CHECK tes_err tes_access_key_request_encode(const tes_access_key_request *r, tes_buf *out);
TES_MUST_CHECK tes_err tes_access_key_request_parse(tes_bytes in, tes_access_key_request *out);

typedef struct tes_access_key_package {
    char issuer[64];
    uint8_t group_id[TES_ACCESS_GROUP_ID_LEN];
    uint8_t reader_key[TES_ACCESS_POINT_LEN];
    uint8_t issuer_key[TES_ACCESS_POINT_LEN];
    tes_bytes document;
    tes_bytes revocation; /* empty when absent */
} tes_access_key_package;
TES_MUST_CHECK tes_err tes_access_key_package_encode(const tes_access_key_package *p, tes_buf *out);
TES_MUST_CHECK tes_err tes_access_key_package_parse(tes_bytes in, tes_access_key_package *out);

/* The documents' wire format (profile "tessera-hotel-1", docs/KEYS.md), an
 * mdoc-like structure with integer keys:
 *   Document = {5: docType, 1: {1: {docType: [24(bstr .cbor IssuerSignedItem)]},
 *                               2: issuerAuth}}
 *   IssuerSignedItem = {1: digestID, 2: random bstr(16), 3: "element2", 4: data}
 *   issuerAuth = [bstr .cbor {1: -7}, {4: kid bstr(8)}, bstr .cbor 24(bstr .cbor MSO),
 *                 signature bstr(64) r||s]           (untagged COSE_Sign1, ES256)
 *   MSO = {1: "1.0", 2: "SHA-256", 3: {docType: {digestID: bstr(32)}},
 *          ? 4: {1: COSE_Key P-256},                  (aliro-a only: the endpoint key)
 *          5: docType, 6: {1: signed, 2: validFrom, 3: validUntil}}  (tdates, tag 0)
 *   access data (aliro-a) = {0: 1, 1: key_id bstr(16),
 *                            2: [{0: group_id bstr(16), 1: [+ room tstr]}],
 *                            ? 3: [{0: from_minute, 1: until_minute}]}
 *   revocation data (aliro-r) = {0: 1, 1: group_id bstr(16), 2: [* key_id bstr(16)]}
 * kid = the first 8 bytes of SHA-256(04 || x || y) of the issuer's public key;
 * each digest is SHA-256 over the item's exact bytes, 24(bstr) included.
 *
 * The verifiers are strict and bounded: every map holds exactly the members
 * above (no other key, none twice), every member has its type and size, the
 * document is at most TES_ACCESS_DOC_MAX bytes; they judge neither time nor
 * room nor revocation (the lock does). Their outputs are plain copies (nothing
 * points into the document). */
#define TES_ACCESS_KID_LEN 8
#define TES_ACCESS_DOC_MAX 16384      /* bytes of one Document */
#define TES_ACCESS_RESPONSE_MAX 65536 /* bytes of a DeviceResponse */
#define TES_ACCESS_REQUEST_MAX 4096   /* bytes of a DeviceRequest */
#define TES_ACCESS_DAY_MINUTES 1440
#define TES_ACCESS_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

/* t as "YYYY-MM-DDTHH:MM:SSZ" (UTC, no NUL); t <= 0 or beyond
 * TES_ACCESS_TIME_MAX gives 20 zero bytes (unset). */
void tes_access_timestamp(int64_t t, uint8_t out[TES_ACCESS_TIMESTAMP_LEN]);
/* The reverse: 20 zero bytes give 0; anything but the exact form above (a
 * real date and time after 1970-01-01T00:00:00Z up to TES_ACCESS_TIME_MAX,
 * upper-case T and Z, seconds 00..59) is TES_ERR_TLV. TES_ERR_ARG for NULL. */
TES_MUST_CHECK tes_err tes_access_timestamp_parse(const uint8_t in[TES_ACCESS_TIMESTAMP_LEN],
                                                  int64_t *t);

/* The kid of an issuer key (P-256, public part used). TES_ERR_ARG for NULL or
 * another curve. */
TES_MUST_CHECK tes_err tes_access_doc_kid(const tes_key *issuer_public,
                                          uint8_t kid[TES_ACCESS_KID_LEN]);

/* Issues the access document ("aliro-a") of grant g, bound to g->endpoint_key,
 * valid from g->not_before to g->not_after, signed at g->signed_at by issuer
 * (an ES256 signer whose public key is issuer_public: the kid is taken from
 * it), the item's random from rng (NULL: the system's). Appends the Document
 * to out (nothing appended on failure). Errors: TES_ERR_ARG (NULL argument; a
 * signer not ES256 or a public key not P-256; no room or more than
 * TES_ACCESS_MAX_ROOMS; a room empty, not NUL-terminated within
 * TES_ACCESS_ROOM_MAX, with a character outside printable ASCII 0x20..0x7e, or
 * named twice; not_before <= 0, not_before >= not_after, not_after or
 * signed_at outside 1..TES_ACCESS_TIME_MAX; a schedule other than 0,0 (all
 * day) or from < until <= 1440; an endpoint key that is not an uncompressed
 * P-256 point on the curve), TES_ERR_RANDOM, TES_ERR_NOMEM, the signer's
 * error (TES_ERR_CRYPTO when it gives no 64-byte signature). */
TES_MUST_CHECK tes_err tes_access_doc_issue(const tes_access_grant *g, const tes_signer *issuer,
                                            const tes_key *issuer_public, const tes_rng *rng,
                                            tes_buf *out);
/* Verifies an access document against the trusted issuer keys (any curve may
 * be listed; only P-256 keys can match) and fills *out: endpoint_key from
 * deviceKeyInfo, not_before/not_after/signed_at from validityInfo, key_id,
 * group_id, rooms (NUL-terminated) and schedule (0,0 when absent) from the
 * access data. On failure *out is zeroed. Errors:
 *   TES_ERR_ARG                NULL document pointer with a length, NULL out,
 *                              NULL issuers with n_issuers > 0 or a NULL issuer;
 *   TES_ERR_ACCESS_DOC_FORMAT  any malformation: not CBOR, trailing bytes,
 *                              larger than TES_ACCESS_DOC_MAX, a map member
 *                              missing, unknown or twice, a wrong type or
 *                              size, docType or namespace not "aliro-a", a
 *                              protected header other than {1: -7}, a kid not
 *                              8 bytes, a signature not 64 bytes, an MSO
 *                              version other than "1.0" or digest algorithm
 *                              other than "SHA-256", a deviceKey that is not a
 *                              P-256 point on the curve, a tdate not
 *                              YYYY-MM-DDTHH:MM:SSZ, validUntil not after
 *                              validFrom, more than 8 items or 16 digests, two
 *                              items with one digestID or element, no
 *                              "element2", access data out of its bounds
 *                              (version not 1, not one reader group, no room
 *                              or more than TES_ACCESS_MAX_ROOMS, a room empty,
 *                              longer than TES_ACCESS_ROOM_MAX - 1, not
 *                              printable ASCII or named twice, a schedule not
 *                              one window from < until <= 1440);
 *   TES_ERR_ACCESS_ISSUER      alg not ES256 (-7), no issuer with that kid,
 *                              the signature verifies with none of them, the
 *                              MSO's docType not the Document's, an item whose
 *                              digestID has no digest in the MSO or whose
 *                              digest differs;
 *   TES_ERR_NOMEM, TES_ERR_CRYPTO. */
TES_MUST_CHECK tes_err tes_access_doc_verify(tes_bytes document, const tes_key *const *issuers,
                                             size_t n_issuers, tes_access_grant *out);

/* Whether document is one CBOR map whose member 5 (docType) is the text
 * doctype (TES_ACCESS_DOCTYPE or TES_REVOCATION_DOCTYPE): which verifier a
 * document of a DeviceResponse is for. Checks nothing else; false for NULL. */
bool tes_access_doc_is(tes_bytes document, const char *doctype);

/* Issues the revocation document ("aliro-r") of r: signed = validFrom =
 * r->version, validUntil = version + 10 years (315569520 s), no deviceKeyInfo.
 * Errors: TES_ERR_ARG (NULL argument, signer or key as above, version outside
 * 1..TES_ACCESS_TIME_MAX - 10 years, more than TES_ACCESS_MAX_REVOKED keys, a
 * key listed twice), TES_ERR_RANDOM, TES_ERR_NOMEM, the signer's error. */
TES_MUST_CHECK tes_err tes_access_revocation_issue(const tes_access_revocation *r,
                                                   const tes_signer *issuer,
                                                   const tes_key *issuer_public, const tes_rng *rng,
                                                   tes_buf *out);
/* Verifies a revocation document as tes_access_doc_verify does an access
 * document (docType and namespace "aliro-r", no deviceKeyInfo, validFrom equal
 * to signed) and fills *out (version = signed; zeroed on failure). Errors: as
 * tes_access_doc_verify, the revocation data's bounds being version 1, a
 * 16-byte group id, at most TES_ACCESS_MAX_REVOKED distinct 16-byte keys. */
TES_MUST_CHECK tes_err tes_access_revocation_verify(tes_bytes document,
                                                    const tes_key *const *issuers, size_t n_issuers,
                                                    tes_access_revocation *out);

/* The step-up DeviceRequest (reader -> device), with text keys as the public
 * reader writes it: {"1": "1.0", "2": [{"1": 24(bstr .cbor {"1": {NS: {EL:
 * true}}, "5": docType})}, ...]}, the access document request ("aliro-a",
 * elements "element2" and "element4") first, then the revocation one
 * ("aliro-r", "element2"). Appends to out. Errors: TES_ERR_ARG (NULL out, or
 * neither document asked), TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_access_request_encode(bool access, bool revocation, tes_buf *out);
/* Reads a DeviceRequest (keys 1, 2, 5 as integers or as the texts "1", "2",
 * "5"; other members refused): which of the two documents it asks for.
 * Document requests of another docType are ignored. At most
 * TES_ACCESS_REQUEST_MAX bytes, 8 document requests, 8 namespaces of 32
 * elements each. Errors: TES_ERR_ARG (NULL), TES_ERR_ACCESS_DOC_FORMAT (any
 * malformation, a version other than "1.0"). */
TES_MUST_CHECK tes_err tes_access_request_parse(tes_bytes in, bool *access, bool *revocation);

/* The DeviceResponse (device -> reader) {1: "1.0", 2: [Document...], 3: 0},
 * each docs[i] copied verbatim (each must be exactly one CBOR item of at most
 * TES_ACCESS_DOC_MAX bytes; n may be 0). Appends to out. Errors: TES_ERR_ARG
 * (NULL, a doc not one CBOR item or too large, the whole beyond
 * TES_ACCESS_RESPONSE_MAX), TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_access_response_encode(const tes_bytes *docs, size_t n, tes_buf *out);
/* Reads a DeviceResponse: docs[0..*n) point into `in` (each the exact bytes of
 * one Document map, to give to the verifiers). Strict: integer keys 1, 2, 3
 * only, version "1.0", status 0, every document a map, at most max documents
 * and TES_ACCESS_RESPONSE_MAX bytes. Errors: TES_ERR_ARG (NULL),
 * TES_ERR_ACCESS_DOC_FORMAT (*n is then 0). */
TES_MUST_CHECK tes_err tes_access_response_parse(tes_bytes in, tes_bytes *docs, size_t max,
                                                 size_t *n);

/* ---------------------------------------------------------------- the hotel */

/* The issuer of door keys (docs/KEYS.md, "The hotel"). A hotel directory
 * (0700) holds hotel.json (name, reader group id), issuer_key.pem (signs the
 * documents) and reader_key.pem (the group key the locks sign AUTH1 with),
 * both 0600 and created exclusively; issued.jsonl (one line per key issued:
 * key id, rooms, validity, the phone's endpoint key, the guest), and
 * revocation.cbor (the newest revocation document), both written atomically. */
typedef struct tes_hotel tes_hotel;
typedef struct tes_hotel_opts {
    const tes_clock *clock; /* NULL: the system's */
    const tes_rng *rng;     /* NULL: the system's */
} tes_hotel_opts;
/* Errors: TES_ERR_EXISTS, TES_ERR_IO, TES_ERR_DIR_UNSAFE, TES_ERR_ARG (name
 * empty, longer than 63 bytes or with control characters). */
TES_MUST_CHECK tes_err tes_hotel_init(const char *dir, const char *name, const tes_hotel_opts *o);
/* Errors: TES_ERR_LOCK_CONFIG (a file missing or inconsistent), TES_ERR_IO. */
TES_MUST_CHECK tes_err tes_hotel_open(const char *dir, const tes_hotel_opts *o, tes_hotel **out);
void tes_hotel_close(tes_hotel *h);
const char *tes_hotel_name(const tes_hotel *h);
const uint8_t *tes_hotel_group_id(const tes_hotel *h);
const tes_key *tes_hotel_reader_key(const tes_hotel *h); /* private: for tes_lock_init */
const tes_key *tes_hotel_issuer_key(const tes_hotel *h); /* private: public part for locks */
/* A P-256 private key from a PEM (or DER) file of at most 8 KiB, the file's
 * bytes wiped after parsing (the hotel's and the locks' keys). Errors:
 * TES_ERR_IO, TES_ERR_KEY_MALFORMED (not a P-256 private key), TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_access_key_read(const char *path, tes_key **out);

typedef struct tes_hotel_key_params {
    const char *const *rooms; /* 1..TES_ACCESS_MAX_ROOMS */
    size_t n_rooms;
    int64_t not_before, not_after;    /* check-in, check-out */
    uint16_t daily_from, daily_until; /* minutes after midnight UTC; 0,0 all day */
    const char *guest;                /* for the hotel's records (may be NULL) */
} tes_hotel_key_params;
/* Issues a room key for the phone that made `key_request`: a fresh key id, the
 * access document bound to the request's endpoint key, and the key package
 * for the wallet (with the newest revocation document). Recorded in
 * issued.jsonl. Errors: TES_ERR_ACCESS_DOC_FORMAT (the request),
 * TES_ERR_ARG (rooms, dates), TES_ERR_IO. */
TES_MUST_CHECK tes_err tes_hotel_issue_key(tes_hotel *h, tes_bytes key_request,
                                           const tes_hotel_key_params *p, tes_buf *package,
                                           uint8_t key_id[TES_ACCESS_KEY_ID_LEN]);
/* Revokes one key (key_id) or every key issued to one phone (endpoint_key):
 * a new revocation document (version = now, or the last version + 1) listing
 * every key revoked so far, written to revocation.cbor and appended to *doc
 * (when doc is not NULL). *n_new gets how many keys were newly revoked.
 * Errors: TES_ERR_NOT_FOUND (no such key issued), TES_ERR_ARG (neither or
 * both given), TES_ERR_IO. */
TES_MUST_CHECK tes_err tes_hotel_revoke(tes_hotel *h, const uint8_t *key_id,
                                        const uint8_t *endpoint_key, size_t *n_new, tes_buf *doc);
/* The newest revocation document (nothing appended when none was made). */
TES_MUST_CHECK tes_err tes_hotel_revocation(tes_hotel *h, tes_buf *doc);

#ifdef __cplusplus
}
#endif
#endif
