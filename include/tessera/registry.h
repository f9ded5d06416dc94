/*
 * tessera/registry.h — the issuing authority's registry: people enrolled
 * after identity proofing, credential offers, access tokens and nonces of
 * OpenID4VCI, issued credentials with their status-list indexes, and an
 * audit log of every operator action.
 *
 * Two backends with the same schema, migrations and behaviour: SQLite (a
 * file; the default) and PostgreSQL (libpq) for an authority that outgrows
 * one machine. Every change is one transaction: a service killed at any
 * point leaves no half-issued batch and no lost or doubly used status index.
 * A tes_registry belongs to one thread (open one per thread / connection).
 * Secrets (pre-authorized codes, transaction codes, access tokens) are
 * stored as SHA-256 hashes only.
 */
#ifndef TESSERA_REGISTRY_H
#define TESSERA_REGISTRY_H

#include "tessera/core.h"
#include "tessera/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tes_registry tes_registry;

/* url: a file path or "sqlite:PATH", or "postgresql://..." / "postgres://...".
 * Creates / migrates the schema. Errors: TES_ERR_STORE, TES_ERR_STORE_CORRUPT. */
TES_MUST_CHECK tes_err tes_registry_open(const char *url, tes_registry **out);
void tes_registry_close(tes_registry *r);

/* What the registry takes from its caller. Both are copied at open; their
 * ctx must outlive the registry (and be safe to use from the registry's
 * thread). */
typedef struct tes_registry_opts {
    /* NULL: system. The time of what the calls below are not given a `now`
     * for: enrolment, status changes and their audit entries, withdrawals,
     * batches recorded by tes_registry_issue_batch, schema migrations. */
    const tes_clock *clock;
    /* NULL: system. Codes, transaction codes, access tokens, recovery codes,
     * c_nonces and their key, status indexes, pauses between retries. */
    const tes_rng *rng;
} tes_registry_opts;
/* tes_registry_open with the caller's clock and randomness (o NULL: as
 * tes_registry_open). */
TES_MUST_CHECK tes_err tes_registry_open_with(const char *url, const tes_registry_opts *o,
                                              tes_registry **out);

/* ---- people ---- */
/* Enrols a person: the claims established at identity proofing (JSON text as
 * for tes_mdoc_claims_from_json) for a doctype. */
TES_MUST_CHECK tes_err tes_registry_person_add(tes_registry *r, const char *doctype,
                                               const char *claims_json, const char *operator_name,
                                               int64_t *person_id);
/* *doctype and *claims_json are malloc'd. TES_ERR_NOT_FOUND. */
TES_MUST_CHECK tes_err tes_registry_person_get(tes_registry *r, int64_t person_id, char **doctype,
                                               char **claims_json);
/* Gives the person a fresh random recovery code (16 symbols of
 * A-Z without I and O, and 2-9: 80 bits), returned once in clear as
 * "ABCD-EFGH-JKLM-NPQR" and stored only as a SHA-256 hash. It replaces any
 * earlier code of the person. With it the holder reports a lost phone from
 * another device (POST /lost). One transaction, audited ("recovery-code",
 * operator "system"). Errors: TES_ERR_NOT_FOUND (no such person). */
TES_MUST_CHECK tes_err tes_registry_recovery_set(tes_registry *r, int64_t person_id, int64_t now,
                                                 char code[32]);
/* Resolves a recovery code (case, dashes and blanks ignored) to its person;
 * the code is looked up by its hash. No try counting here: callers rate-limit.
 * Errors: TES_ERR_GRANT (unknown code). */
TES_MUST_CHECK tes_err tes_registry_recovery_check(tes_registry *r, const char *code,
                                                   int64_t *person_id);

/* ---- offers, tokens, nonces (OpenID4VCI pre-authorized code flow) ---- */
/* Creates an offer for a person: a fresh random pre-authorized code and a
 * numeric transaction code (tx_digits digits), both returned once in clear. */
TES_MUST_CHECK tes_err tes_registry_offer_create(tes_registry *r, int64_t person_id, int64_t now,
                                                 int64_t lifetime, int tx_digits,
                                                 const char *operator_name, char code[64],
                                                 char tx_code[16]);
/* Redeems a code: one transaction checks it exists, is unused, not expired,
 * the tx code matches (at most 5 wrong tries, then the offer is dead), marks
 * it used and creates an access token (returned in clear) valid for
 * token_lifetime. Errors: TES_ERR_GRANT (message says which), TES_ERR_HTTP_REQUEST
 * (the offer needs a tx code and none was given: no try is counted),
 * TES_ERR_RATE_LIMIT. */
TES_MUST_CHECK tes_err tes_registry_offer_redeem(tes_registry *r, const char *code,
                                                 const char *tx_code, int64_t now,
                                                 int64_t token_lifetime, char token[64],
                                                 int64_t *person_id);
/* Resolves an access token. Errors: TES_ERR_TOKEN. */
TES_MUST_CHECK tes_err tes_registry_token_check(tes_registry *r, const char *token, int64_t now,
                                                int64_t *person_id);
/* A fresh c_nonce valid for lifetime; consume checks and uses it up once.
 * Nonces are stateless until used: an expiry and 16 random bytes
 * authenticated with a key kept in the registry (made on first use; shared
 * by every process on the registry), 55 base64url characters. Making one
 * writes nothing (after the key exists); consuming one checks the tag and the
 * expiry, then records it until it expires (purged by later consumptions),
 * so a nonce is good once. Errors: TES_ERR_NONCE (forged, expired, used). */
TES_MUST_CHECK tes_err tes_registry_nonce_new(tes_registry *r, int64_t now, int64_t lifetime,
                                              char nonce[64]);
TES_MUST_CHECK tes_err tes_registry_nonce_consume(tes_registry *r, const char *nonce, int64_t now);

/* ---- issued credentials and status ---- */
typedef struct tes_registry_issued {
    int64_t credential_id;
    uint32_t status_idx; /* random, unused index in the list */
} tes_registry_issued;

/* Records a batch of n credentials for a person in one transaction (after
 * the person and device checks of tes_registry_issue_for_token: a revoked or
 * suspended person, or a device reported lost, gets nothing: TES_ERR_DENIED): each
 * gets a random unused index in the status list at list_uri (list size
 * list_size entries), the device key thumbprint (SHA-256 of the COSE_Key,
 * hex) and the device id of the phone holding the key (hex SHA-256 of the
 * secure element's attestation certificate, or the key thumbprint when the
 * key came without an attestation; see issuer.h), one of each per
 * credential. Both are 64 hex digits, stored in lower case.
 * Errors: TES_ERR_ARG, TES_ERR_STORE (list full...). */
TES_MUST_CHECK tes_err tes_registry_issue_batch(tes_registry *r, int64_t person_id,
                                                const char *doctype, int64_t valid_from,
                                                int64_t valid_until, const char *list_uri,
                                                size_t list_size, const char *const *thumbprints,
                                                const char *const *devices, size_t n,
                                                tes_registry_issued *out);
/* What one offer and one person may obtain (tes_registry_issue_for_token). */
typedef struct tes_registry_budget {
    int64_t per_offer;  /* credentials one offer's access tokens obtain in all; <= 0: no limit */
    int64_t per_person; /* credentials of one person within `period`; <= 0: no limit */
    int64_t period;     /* seconds (sliding window), > 0 with per_person */
} tes_registry_budget;

#define TES_REGISTRY_URI_MAX 512

/* Issues a batch for the holder of an access token, in one transaction that
 * first takes the issuance lock (every person- and device-wide status change
 * takes it too, so the two never overlap) and checks, before writing
 * anything: the token (known, not expired at now, not withdrawn:
 * TES_ERR_TOKEN), the person (not revoked or suspended: TES_ERR_DENIED),
 * every device of the batch (not reported lost, for this person or for
 * anyone: TES_ERR_DENIED), the budget (NULL: none; TES_ERR_BUDGET, the
 * message saying which and how much; the offer's share is charged only when
 * the batch is recorded). The status lists form a series under list_base:
 * list_base "1", "2", ...; the batch goes into the current one, or, when it
 * has no room for the whole batch, into the next one, created then
 * (rollover); list_uri receives the list used. Otherwise as
 * tes_registry_issue_batch; batches.created_at is now. */
TES_MUST_CHECK tes_err tes_registry_issue_for_token(
    tes_registry *r, const char *token, int64_t now, const char *doctype, int64_t valid_from,
    int64_t valid_until, const char *list_base, size_t list_size, const tes_registry_budget *budget,
    const char *const *thumbprints, const char *const *devices, size_t n, tes_registry_issued *out,
    char list_uri[TES_REGISTRY_URI_MAX]);
/* The number of the series' current list (0: nothing issued under list_base yet). */
TES_MUST_CHECK tes_err tes_registry_status_series(tes_registry *r, const char *list_base,
                                                  int64_t *current);

/* Sets the status of one credential, or (credential_id 0) of every
 * credential of person_id: revoke, suspend, reinstate (VALID). One
 * transaction, audited. Revoked is final: reinstating it fails (TES_ERR_STATE).
 * *changed (may be NULL) receives the number of credentials changed.
 * Person-wide, the person's own state is set too (suspending or reinstating a
 * revoked person fails with TES_ERR_STATE), and revoking or suspending
 * withdraws the person's open offers and access tokens for good: reinstating
 * does not bring them back (the person needs a new offer, which
 * tes_registry_offer_create refuses for a revoked or suspended person with
 * TES_ERR_STATE). Redeeming a withdrawn offer fails with TES_ERR_GRANT, using
 * a withdrawn token with TES_ERR_TOKEN, each saying so. */
TES_MUST_CHECK tes_err tes_registry_set_status(tes_registry *r, int64_t credential_id,
                                               int64_t person_id, tes_status_value v,
                                               const char *operator_name, size_t *changed);
/* The list at list_uri as it must be published now. */
TES_MUST_CHECK tes_err tes_registry_status_list(tes_registry *r, const char *list_uri,
                                                size_t list_size, tes_status_list *out);
/* Lost / found phone: sets the status of every credential bound to device
 * (64 hex digits), only those of person_id unless it is 0. Same rules as
 * tes_registry_set_status for a person: one transaction, one audit entry,
 * revoked credentials and those already at the value are skipped (revoked
 * is final), *changed (may be NULL) counts the credentials changed.
 * Suspending or revoking also blocks the device (nothing more is issued onto
 * it, for person_id, or for anyone when 0) and withdraws the open offers and
 * access tokens of the person (of every person with a credential on the
 * device when 0); reinstating lifts a suspension's block (that person's, or
 * every one when 0), never a revocation's.
 * Errors: TES_ERR_NOT_FOUND (no such person, or no credential (of the
 * person) bound to the device), TES_ERR_ARG. */
TES_MUST_CHECK tes_err tes_registry_set_status_by_device(tes_registry *r, const char *device,
                                                         int64_t person_id, tes_status_value v,
                                                         const char *operator_name,
                                                         size_t *changed);

/* ---- audit ---- */
typedef struct tes_registry_audit_entry {
    int64_t id, at;
    char *operator_name, *action, *detail;
} tes_registry_audit_entry;
TES_MUST_CHECK tes_err tes_registry_audit_list(tes_registry *r, tes_registry_audit_entry **out,
                                               size_t *n);
void tes_registry_audit_free(tes_registry_audit_entry *e, size_t n);

#ifdef __cplusplus
}
#endif
#endif
