/*
 * tessera/proximity.h — the offline check-in: one ISO/IEC 18013-5 proximity
 * transaction, holder side and reader side, over any tes_transport.
 *
 * Holder: receives the SessionEstablishment, decrypts the DeviceRequest,
 * verifies the reader's authentication against its trusted reader roots and
 * reads the reader's name and granted scope from its certificate, asks for
 * consent (a callback: a terminal prompt, or a policy), and only then
 * presents the approved elements of a credential from the wallet store,
 * signed by its secure-element key (MAC where asked and possible), consuming
 * a single-use copy and writing a transaction-log entry. Nothing is released
 * before consent; elements outside the reader's scope are not released
 * unless the holder overrides for that element.
 *
 * Reader: sends the DeviceRequest with readerAuth, receives and decrypts
 * the DeviceResponse and verifies it with tes_mdoc_verify against its own
 * trust store.
 */
#ifndef TESSERA_PROXIMITY_H
#define TESSERA_PROXIMITY_H

#include "tessera/cose.h"
#include "tessera/mdoc.h"
#include "tessera/se.h"
#include "tessera/session.h"
#include "tessera/store.h"
#include "tessera/transport.h"
#include "tessera/trust.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- holder ---- */

typedef struct tes_consent_item {
    tes_bytes ns, name;     /* as requested (views, valid during the callback) */
    bool intent_to_retain;  /* the reader says it will keep it */
    bool in_scope;          /* the reader's certificate grants it */
    bool held;              /* the credential holds it (or an age_over answer) */
    bool approve;           /* set by the callback */
    bool override_scope;    /* set by the callback to release an out-of-scope element */
} tes_consent_item;

/* The text fields come from the reader and are shown to the holder: they are
 * made printable by tes_text_printable (UTF-8 kept, controls '?'). */
typedef struct tes_consent_request {
    bool reader_authenticated;
    char reader_name[256];   /* CN of the reader certificate, or "" */
    char reader_issuer[256]; /* its authority */
    char reader_problem[256];/* why it is not authenticated, or "" */
    char purpose[256];       /* from the granted scope, or "" */
    char doctype[256];
    int64_t credential_id;   /* the wallet credential that would answer */
    tes_consent_item *items;
    size_t n_items;
    /* Online (OpenID4VP): the site's DNS name from its verified access
     * certificate ("" for a proximity reader). A pseudonym for this site is
     * asked as the item TES_NS_PSEUDONYM / TES_ELEM_PSEUDONYM. */
    char site[256];
} tes_consent_request;

/* Fills approve/override_scope and writes the PIN (NUL-terminated, may stay
 * empty for keys without user verification). Returns TES_OK to go on (with
 * any subset approved, possibly none) or TES_ERR_CONSENT to decline all. */
typedef tes_err (*tes_consent_fn)(void *ctx, tes_consent_request *req, char pin[64]);

/* A consent policy from JSON, for scripts and unattended tests:
 *   {"readers": [{"name": "Hotel Utopia" | "*", "authenticated": true,
 *                 "allow": ["ns/elem", ...] | "*", "deny": ["ns/elem", ...],
 *                 "override_scope": false}],
 *    "unauthenticated": "decline" | "ask-nothing",
 *    "pin": "123456" (optional)}
 * The first rule whose name matches decides; no rule: decline. */
typedef struct tes_consent_policy tes_consent_policy;
TES_MUST_CHECK tes_err tes_consent_policy_parse(const char *json, size_t len,
                                                tes_consent_policy **out);
void tes_consent_policy_free(tes_consent_policy *p);
/* tes_consent_fn over a policy (ctx = the policy). */
tes_err tes_consent_policy_decide(void *ctx, tes_consent_request *req, char pin[64]);

typedef struct tes_holder_params {
    tes_transport *t;
    const tes_engagement *engagement; /* sent (QR) or served (NFC) */
    const tes_key *edevice;           /* its private key */
    tes_bytes nfc_handover_select;    /* NFC: the exact NDEF served; QR: empty */
    tes_se *se;
    tes_store *store;
    tes_trust_store *reader_trust;    /* roots of the authorities that license readers */
    tes_consent_fn consent;
    void *consent_ctx;
    int64_t now;
    int timeout_ms;
} tes_holder_params;

typedef struct tes_holder_result {
    size_t disclosed;     /* number of elements released */
    char reader_name[256];
    bool reader_authenticated;
    int64_t credential_id;
} tes_holder_result;

/* Serves one transaction. Returns TES_OK when a response (possibly with no
 * elements) was sent; on every failure the session is ended with the right
 * status (10 decryption, 11 CBOR, 20 termination) when the channel still
 * works, nothing is disclosed, and the log records the outcome. */
TES_MUST_CHECK tes_err tes_holder_serve(const tes_holder_params *p, tes_holder_result *out);

/* ---- answering a request from a stored credential ---- */

/* The holder's one sequence for "answer these elements from this stored
 * credential", used by tes_holder_serve after consent and by the wallet's
 * file-based presentation (tessera/wallet.h):
 *   1. peek at the copy the store would hand out and find which requested
 *      elements it holds (age_over_NN by the nearest-match rule of 18013-5
 *      §7.2.5). None: TES_ERR_ELEMENT_NOT_ISSUED, no copy taken, no PIN try
 *      spent;
 *   2. the PIN, when given, checked by the secure element (a wrong PIN costs
 *      no copy; an SE without a PIN set ignores it);
 *   3. the copy taken (a single-use copy is spent from here on, whatever
 *      follows);
 *   4. its key checked (not used up, PIN given when it needs one, P-256) and
 *      the DeviceResponse built, signed or MACed inside the secure element;
 *   5. the log entry written: "disclosed" with what was disclosed, before the
 *      response is handed back (a log that cannot be written fails the
 *      presentation: nothing is handed back).
 * Every failure after the argument checks is logged as "failed: <error
 * name>" with the requested elements. */

typedef enum tes_device_auth {
    TES_DEVICE_AUTH_SIGNATURE = 0, /* COSE_Sign1 by the copy's key */
    TES_DEVICE_AUTH_MAC = 1,       /* COSE_Mac0 from ECDH(copy's key, reader_key) in the SE:
                                      needs TES_SE_CAP_ECDH_EXPORT */
} tes_device_auth;

typedef struct tes_holder_answer_params {
    tes_se *se;
    tes_store *store;
    int64_t cred_id;
    const tes_mdoc_req_elem *elems; /* what to release (consented); 1 or more (or device
                                       elements); borrowed */
    size_t n_elems;
    tes_bytes transcript;           /* plain SessionTranscript */
    tes_device_auth auth;
    const tes_key *reader_key;      /* MAC: the reader's (ephemeral) public key */
    const char *pin;                /* NULL or "": none given */
    const char *relying_party;      /* the log's name for who asks (NULL: "unknown reader") */
    int64_t now;                    /* time of the log entry; 0: the store's clock */
    /* device-signed elements to add (borrowed; tes_mdoc_present_params): with
     * them, elems may be empty. They are logged as disclosed. */
    const tes_mdoc_device_elem *device_elems;
    size_t n_device_elems;
} tes_holder_answer_params;

/* One element released, as the credential holds it (a request for
 * age_over_NN may be answered by another age_over_MM). Owned strings. */
typedef struct tes_holder_disclosed {
    char *ns, *name;
    bool intent_to_retain; /* a request it answers announced retention */
} tes_holder_disclosed;

typedef struct tes_holder_answer {
    tes_holder_disclosed *disclosed; /* each released element once */
    size_t n_disclosed;
    size_t answered; /* requested elements answered */
    size_t missing;  /* requested elements the credential does not hold */
} tes_holder_answer;

/* Runs the sequence above; *response (reset first) receives the
 * DeviceResponse and *out what it discloses (free with
 * tes_holder_answer_free, also after a failure). Errors: TES_ERR_ARG
 * (parameters; not logged), TES_ERR_NOT_FOUND (no such credential),
 * TES_ERR_KEY_USED (every single-use copy spent, or the copy's key used),
 * TES_ERR_ELEMENT_NOT_ISSUED (the credential holds none of the elements),
 * TES_ERR_PIN_WRONG / TES_ERR_PIN_LOCKED / TES_ERR_PIN_REQUIRED,
 * TES_ERR_UNSUPPORTED (MAC without ECDH export, a key not on P-256), the
 * mdoc's errors (a malformed stored credential), the SE's and the store's.
 * Thread rules: those of the store and the SE (one thread). */
TES_MUST_CHECK tes_err tes_holder_answer_request(const tes_holder_answer_params *p,
                                                 tes_buf *response, tes_holder_answer *out);
void tes_holder_answer_free(tes_holder_answer *a);

/* ---- reader ---- */

typedef struct tes_reader_params {
    tes_transport *t;
    const tes_engagement *engagement; /* received (QR URI or NFC handover) */
    tes_bytes nfc_handover_select;    /* NFC: the exact NDEF read; QR: empty */
    const char *doctype;
    const tes_mdoc_req_elem *elems;
    size_t n_elems;
    const tes_signer *reader;         /* readerAuth signer (NULL: unauthenticated) */
    const tes_bytes *reader_chain;    /* its certificate chain, leaf first */
    size_t reader_chain_len;
    tes_trust_store *trust;           /* IACA roots the reader accepts */
    int64_t now;
    int timeout_ms;
} tes_reader_params;

/* Runs one transaction. *response receives the decrypted DeviceResponse
 * (result views point into it: keep it until tes_mdoc_result_free). */
TES_MUST_CHECK tes_err tes_reader_checkin(const tes_reader_params *p, tes_buf *response,
                                          tes_mdoc_result *result);

#ifdef __cplusplus
}
#endif
#endif
