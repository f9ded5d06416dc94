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
 * store's. */
TES_MUST_CHECK tes_err tes_wallet_add_batch(tes_wallet *w, const tes_bytes *mdocs, size_t n,
                                            const char *display_name, int64_t *cred_id,
                                            size_t *bad);

#ifdef __cplusplus
}
#endif

#endif
