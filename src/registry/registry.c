/*
 * The issuing authority's registry (tessera/registry.h): the logic, written
 * once over the backend interface of registry_internal.h (SQLite in
 * reg_sqlite.c, PostgreSQL in reg_pg.c).
 *
 * Transactions
 *   Every public call that changes something runs one transaction (run_tx):
 *   begin, the body, commit; any error rolls back. SQLite begins with BEGIN
 *   IMMEDIATE (the write lock is held from the start, so read-decide-write is
 *   serial). PostgreSQL runs READ COMMITTED and every decision is taken on a
 *   row read with SELECT ... FOR UPDATE (statements flagged for_update) or
 *   made inside one UPDATE ... WHERE <condition> statement, so two
 *   connections never both act on the same row state: two redeems of one
 *   code, two consumes of one nonce, two batches drawing indexes from one list
 *   (the list's row in status_lists is updated first and stays locked until
 *   commit). Every issuance and every person- or device-wide status change
 *   first locks the one row of table locks ('issuance'), so on PostgreSQL,
 *   as on SQLite, a revocation and an issuance never overlap: the issuance
 *   sees the revocation (and is refused) or the revocation sees the
 *   credentials issued (and revokes them). A transaction that fails with a transient conflict (40001
 *   serialization failure, 40P01 deadlock) is run again, up to REG_MAX_TRIES
 *   times with a growing random pause; then TES_ERR_BUSY.
 *   Every commit is durable when the call returns (SQLite synchronous=FULL).
 *   Making a nonce writes nothing (schema v3: nonces are authenticated, not
 *   stored, until used; see the nonce section).
 *
 * Secrets
 *   Pre-authorized codes and access tokens are 32 random bytes in base64url;
 *   the database keeps the hex SHA-256 of each (and of each used nonce). The transaction
 *   code is hashed together with its pre-authorized code (SHA-256 of
 *   "code:txcode"), so a copy of the database does not let anyone try the
 *   10^digits transaction codes without the 256-bit code. Transaction-code
 *   hashes are compared in constant time. Clear secrets in our buffers are
 *   wiped before returning.
 *
 * Semantics chosen where the header leaves room
 *   - tx_digits is 0 (no transaction code: tx_code comes back "" and redeem
 *     ignores what it is given) or 4..15. A redeem without a transaction code
 *     for an offer that has one fails (TES_ERR_GRANT) without using up a try.
 *   - Validity windows are half open: a code, token or nonce made at t with
 *     lifetime L is good for t <= now < t + L.
 *   - Expired tokens are deleted when a code is redeemed, used nonces once
 *     expired when a nonce is consumed (an expired nonce is refused by its
 *     own expiry, recorded or not).
 *   - A status list is registered (uri, size) by the first batch that uses it;
 *     later calls naming the same uri with another size fail with TES_ERR_ARG.
 *     A list that no batch has used yet is published as all valid.
 *   - Indexes: random tries (uniform in [0, size)) until a free one is found;
 *     after REG_RANDOM_TRIES collisions in a crowded list, a uniformly random
 *     one of the free indexes is taken directly. A list without room for the
 *     whole batch fails before anything is written (TES_ERR_STORE, "full").
 *   - Device key thumbprints are 64 hex digits (stored in lower case).
 *   - set_status: revoking a revoked credential, or setting the value it
 *     already has, succeeds with *changed 0; suspending or reinstating a
 *     revoked one fails with TES_ERR_STATE. Person-wide, revoked credentials
 *     and those already at the value are skipped. Given both a credential id
 *     and a person id, the credential must belong to that person
 *     (TES_ERR_NOT_FOUND otherwise). Every successful call writes one audit
 *     entry, also when nothing changed (the operator did act).
 *   - Schema v2 adds credentials.device (the phone: hex SHA-256 of its
 *     secure element's attestation certificate; credentials recorded under v1
 *     get their own thumbprint) and the recovery table (one code hash per
 *     person). set_status_by_device follows the person-wide rules of
 *     set_status, and fails with TES_ERR_NOT_FOUND when nothing (of the
 *     person) is bound to the device, so a mistyped id is not "0 changed".
 *     Recovery codes are hashed as SHA-256("recovery:" || 16 normalized
 *     symbols).
 *   - Schema v3 (see REG_SCHEMA_V3): person state, withdrawn offers and
 *     tokens, device blocks, budgets, status list series, stateless nonces.
 *     Withdrawal is recorded (withdrawn_at), not a deletion, so the wallet is
 *     told why. Person-wide suspend/reinstate of a revoked person fails with
 *     TES_ERR_STATE (the person's revocation is final, like a credential's).
 *   - The header passes no time to person_add and set_status: their audit
 *     entries (and persons.created_at, batches.created_at, withdrawals,
 *     migrations.applied_at) use the registry's clock (tes_registry_opts);
 *     the offer's audit entry uses the `now` it is given. Every random value
 *     (codes, tokens, nonces and their key, indexes, retry pauses) comes from
 *     the registry's rng.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/registry_internal.h"
#include "tessera/crypto.h"

#define REG_MAX_TRIES 12    /* runs of one transaction on transient conflicts */
#define REG_RANDOM_TRIES 48 /* random index draws before picking among the free ones */
#define REG_MAX_TX_TRIES 5  /* wrong transaction codes before an offer is dead */
#define REG_MAX_CLAIMS (8u << 20)
#define REG_MAX_TEXT 512   /* doctype, list uri, operator name */
#define REG_MAX_SECRET 256 /* presented codes, tokens, nonces */
#define REG_CODE_BYTES 32
#define REG_TOKEN_BYTES 32
#define REG_NONCE_BYTES 16

struct tes_registry {
    reg_backend *b;
    tes_clock clock; /* the opener's (tes_registry_opts) */
    tes_rng rng;
    uint8_t nonce_key[32]; /* the c_nonce key (table secrets), once loaded */
    bool have_nonce_key;
};

/* ------------------------------------------------------------------ schema */

/* Version 1. ID is the engine's type for a generated 64-bit primary key. */
#define REG_SCHEMA_V1(ID)                                                                          \
    "CREATE TABLE migrations ("                                                                    \
    "  version BIGINT PRIMARY KEY,"                                                                \
    "  applied_at BIGINT NOT NULL);"                                                               \
    "CREATE TABLE persons ("                                                                       \
    "  id " ID ","                                                                                 \
    "  doctype TEXT NOT NULL,"                                                                     \
    "  claims TEXT NOT NULL,"                                                                      \
    "  created_at BIGINT NOT NULL);"                                                               \
    "CREATE TABLE offers ("                                                                        \
    "  id " ID ","                                                                                 \
    "  person_id BIGINT NOT NULL REFERENCES persons(id),"                                          \
    "  code_hash TEXT NOT NULL UNIQUE,"                                                            \
    "  tx_hash TEXT NOT NULL,"                                                                     \
    "  tx_digits BIGINT NOT NULL,"                                                                 \
    "  created_at BIGINT NOT NULL,"                                                                \
    "  expires_at BIGINT NOT NULL,"                                                                \
    "  attempts BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),"                                  \
    "  used_at BIGINT);"                                                                           \
    "CREATE INDEX offers_by_person ON offers(person_id);"                                          \
    "CREATE TABLE tokens ("                                                                        \
    "  token_hash TEXT PRIMARY KEY,"                                                               \
    "  person_id BIGINT NOT NULL REFERENCES persons(id),"                                          \
    "  offer_id BIGINT NOT NULL REFERENCES offers(id),"                                            \
    "  expires_at BIGINT NOT NULL);"                                                               \
    "CREATE INDEX tokens_by_expiry ON tokens(expires_at);"                                         \
    "CREATE TABLE nonces ("                                                                        \
    "  nonce_hash TEXT PRIMARY KEY,"                                                               \
    "  expires_at BIGINT NOT NULL,"                                                                \
    "  used BIGINT NOT NULL DEFAULT 0 CHECK (used IN (0, 1)));"                                    \
    "CREATE INDEX nonces_by_expiry ON nonces(expires_at);"                                         \
    "CREATE TABLE status_lists ("                                                                  \
    "  uri TEXT PRIMARY KEY,"                                                                      \
    "  size BIGINT NOT NULL CHECK (size > 0),"                                                     \
    "  used BIGINT NOT NULL CHECK (used >= 0));"                                                   \
    "CREATE TABLE batches ("                                                                       \
    "  id " ID ","                                                                                 \
    "  person_id BIGINT NOT NULL REFERENCES persons(id),"                                          \
    "  copies BIGINT NOT NULL,"                                                                    \
    "  created_at BIGINT NOT NULL);"                                                               \
    "CREATE TABLE credentials ("                                                                   \
    "  id " ID ","                                                                                 \
    "  person_id BIGINT NOT NULL REFERENCES persons(id),"                                          \
    "  batch_id BIGINT NOT NULL REFERENCES batches(id),"                                           \
    "  doctype TEXT NOT NULL,"                                                                     \
    "  valid_from BIGINT NOT NULL,"                                                                \
    "  valid_until BIGINT NOT NULL,"                                                               \
    "  thumbprint TEXT NOT NULL,"                                                                  \
    "  status BIGINT NOT NULL CHECK (status IN (0, 1, 2)),"                                        \
    "  list_uri TEXT NOT NULL REFERENCES status_lists(uri),"                                       \
    "  idx BIGINT NOT NULL CHECK (idx >= 0),"                                                      \
    "  UNIQUE (list_uri, idx));"                                                                   \
    "CREATE INDEX credentials_by_person ON credentials(person_id);"                                \
    "CREATE INDEX credentials_by_batch ON credentials(batch_id);"                                  \
    "CREATE INDEX credentials_by_thumbprint ON credentials(thumbprint);"                           \
    "CREATE TABLE audit ("                                                                         \
    "  id " ID ","                                                                                 \
    "  at BIGINT NOT NULL,"                                                                        \
    "  operator_name TEXT NOT NULL,"                                                               \
    "  action TEXT NOT NULL,"                                                                      \
    "  detail TEXT NOT NULL);"

/* Version 2: the phone ("device") each credential is bound to, and a recovery
 * code per person (for reporting a lost phone from elsewhere). Credentials
 * issued before it get their own key thumbprint as device (what the service
 * records for keys without an attestation). */
#define REG_SCHEMA_V2                                                                              \
    "ALTER TABLE credentials ADD COLUMN device TEXT NOT NULL DEFAULT '';"                          \
    "UPDATE credentials SET device = thumbprint;"                                                  \
    "CREATE INDEX credentials_by_device ON credentials(device);"                                   \
    "CREATE TABLE recovery ("                                                                      \
    "  person_id BIGINT PRIMARY KEY REFERENCES persons(id),"                                       \
    "  code_hash TEXT NOT NULL UNIQUE,"                                                            \
    "  created_at BIGINT NOT NULL);"

/* Version 3: issuance stops with revocation, and cannot be run without bound.
 * persons.state (0 valid, 1 revoked, 2 suspended: the person-wide status last
 * set); offers.withdrawn_at and tokens.withdrawn_at (set when the person or
 * the phone is revoked or suspended: never valid again); offers.issued (the
 * credentials its access tokens obtained) and batches.offer_id for the
 * budgets; device_blocks (phones reported lost: no credential is issued onto
 * them, for one person or, person_id 0, for anyone); status_series (the list
 * a service issues into now, per base URI: lists roll over when full); locks
 * (one row every issuance and every person- or device-wide status change
 * locks first, so that they are serial on PostgreSQL as on SQLite); secrets
 * (the key that authenticates c_nonces). Nonces are no longer stored when
 * made: the table keeps only used ones until they expire. */
#define REG_SCHEMA_V3                                                                              \
    "ALTER TABLE persons ADD COLUMN state BIGINT NOT NULL DEFAULT 0;"                              \
    "ALTER TABLE offers ADD COLUMN withdrawn_at BIGINT;"                                           \
    "ALTER TABLE offers ADD COLUMN issued BIGINT NOT NULL DEFAULT 0;"                              \
    "ALTER TABLE tokens ADD COLUMN withdrawn_at BIGINT;"                                           \
    "ALTER TABLE batches ADD COLUMN offer_id BIGINT NOT NULL DEFAULT 0;"                           \
    "CREATE INDEX batches_by_person ON batches(person_id, created_at);"                            \
    "CREATE INDEX tokens_by_person ON tokens(person_id);"                                          \
    "CREATE TABLE device_blocks ("                                                                 \
    "  device TEXT NOT NULL,"                                                                      \
    "  person_id BIGINT NOT NULL,"                                                                 \
    "  state BIGINT NOT NULL CHECK (state IN (1, 2)),"                                             \
    "  PRIMARY KEY (device, person_id));"                                                          \
    "CREATE TABLE status_series ("                                                                 \
    "  base TEXT PRIMARY KEY,"                                                                     \
    "  current BIGINT NOT NULL CHECK (current >= 1),"                                              \
    "  size BIGINT NOT NULL CHECK (size > 0));"                                                    \
    "CREATE TABLE locks ("                                                                         \
    "  name TEXT PRIMARY KEY,"                                                                     \
    "  n BIGINT NOT NULL);"                                                                        \
    "INSERT INTO locks(name, n) VALUES ('issuance', 0);"                                           \
    "CREATE TABLE secrets ("                                                                       \
    "  name TEXT PRIMARY KEY,"                                                                     \
    "  value TEXT NOT NULL);"                                                                      \
    "DELETE FROM nonces;"

/* SQLite: INTEGER PRIMARY KEY is the rowid; AUTOINCREMENT never reuses an id. */
const char *const reg_migrations_sqlite[] = {
    REG_SCHEMA_V1("INTEGER PRIMARY KEY AUTOINCREMENT"),
    REG_SCHEMA_V2,
    REG_SCHEMA_V3,
};
const char *const reg_migrations_pg[] = {
    REG_SCHEMA_V1("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    REG_SCHEMA_V2,
    REG_SCHEMA_V3,
};
const int reg_migrations_count = (int)(sizeof reg_migrations_sqlite / sizeof(const char *));
_Static_assert(sizeof reg_migrations_sqlite == sizeof reg_migrations_pg,
               "both engines have the same migrations");

const char *const reg_required_tables[] = {"migrations",   "persons",     "offers",
                                           "tokens",       "nonces",      "batches",
                                           "status_lists", "credentials", "audit",
                                           "recovery",     "device_blocks", "status_series",
                                           "locks",        "secrets"};
const size_t reg_required_tables_count = sizeof reg_required_tables / sizeof(const char *);

const reg_stmt reg_stmts[RS_COUNT] = {
    [RS_PERSON_INSERT] = {.sql = "INSERT INTO persons(doctype, claims, created_at) VALUES ($1, $2, $3)"
                          " RETURNING id"},
    [RS_PERSON_GET] = {.sql = "SELECT doctype, claims FROM persons WHERE id = $1"},
    [RS_PERSON_EXISTS] = {.sql = "SELECT id FROM persons WHERE id = $1"},
    [RS_OFFER_INSERT] = {.sql = "INSERT INTO offers(person_id, code_hash, tx_hash, tx_digits, created_at,"
                         " expires_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING id"},
    [RS_OFFER_LOCK] = {.sql = "SELECT id, person_id, tx_hash, tx_digits, expires_at, attempts, used_at,"
                       " withdrawn_at FROM offers WHERE code_hash = $1",
                       .for_update = true},
    [RS_OFFER_ATTEMPT] = {.sql = "UPDATE offers SET attempts = attempts + 1 WHERE id = $1"
                          " RETURNING attempts"},
    [RS_OFFER_USE] = {.sql = "UPDATE offers SET used_at = $2 WHERE id = $1 AND used_at IS NULL"
                      " RETURNING id"},
    [RS_TOKEN_INSERT] = {.sql = "INSERT INTO tokens(token_hash, person_id, offer_id, expires_at)"
                         " VALUES ($1, $2, $3, $4)"},
    [RS_TOKEN_GET] = {.sql = "SELECT person_id, expires_at, withdrawn_at FROM tokens"
                      " WHERE token_hash = $1"},
    [RS_TOKEN_PURGE] = {.sql = "DELETE FROM tokens WHERE expires_at <= $1"},
    [RS_NONCE_PURGE] = {.sql = "DELETE FROM nonces WHERE expires_at <= $1"},
    [RS_LIST_ENSURE] = {.sql = "INSERT INTO status_lists(uri, size, used) VALUES ($1, $2, 0)"
                        " ON CONFLICT (uri) DO NOTHING"},
    [RS_LIST_RESERVE] = {.sql = "UPDATE status_lists SET used = used + $2 WHERE uri = $1"
                         " RETURNING size, used"},
    [RS_LIST_GET] = {.sql = "SELECT size, used FROM status_lists WHERE uri = $1"},
    [RS_CRED_INSERT] = {.sql = "INSERT INTO credentials(person_id, batch_id, doctype, valid_from,"
                        " valid_until, thumbprint, status, list_uri, idx, device)"
                        " VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)"
                        " ON CONFLICT (list_uri, idx) DO NOTHING RETURNING id"},
    [RS_CRED_USED_IDX] = {.sql = "SELECT idx FROM credentials WHERE list_uri = $1 ORDER BY idx"},
    [RS_CRED_LOCK] = {.sql = "SELECT person_id, status FROM credentials WHERE id = $1", .for_update = true},
    [RS_CRED_SET] = {.sql = "UPDATE credentials SET status = $2 WHERE id = $1"},
    [RS_CRED_SET_PERSON] = {.sql = "UPDATE credentials SET status = $2 WHERE person_id = $1"
                            " AND status <> 1 AND status <> $2 RETURNING id"},
    [RS_CRED_NONVALID_IN_LIST] = {.sql = "SELECT idx, status FROM credentials WHERE list_uri = $1"
                                  " AND status <> 0"},
    [RS_AUDIT_INSERT] = {.sql = "INSERT INTO audit(at, operator_name, action, detail)"
                         " VALUES ($1, $2, $3, $4)"},
    [RS_AUDIT_LIST] = {.sql = "SELECT id, at, operator_name, action, detail FROM audit ORDER BY id"},
    [RS_CRED_SET_DEVICE] = {.sql = "UPDATE credentials SET status = $2 WHERE device = $1"
                            " AND status <> 1 AND status <> $2 RETURNING id"},
    [RS_CRED_SET_DEVICE_PERSON] = {.sql = "UPDATE credentials SET status = $3 WHERE device = $1"
                                   " AND person_id = $2 AND status <> 1 AND status <> $3"
                                   " RETURNING id"},
    [RS_CRED_DEVICE_ANY] = {.sql = "SELECT id FROM credentials WHERE device = $1 LIMIT 1"},
    [RS_CRED_DEVICE_PERSON_ANY] = {.sql = "SELECT id FROM credentials WHERE device = $1"
                                   " AND person_id = $2 LIMIT 1"},
    [RS_RECOVERY_DELETE] = {.sql = "DELETE FROM recovery WHERE person_id = $1"},
    [RS_RECOVERY_INSERT] = {.sql = "INSERT INTO recovery(person_id, code_hash, created_at)"
                            " VALUES ($1, $2, $3)"},
    [RS_RECOVERY_GET] = {.sql = "SELECT person_id FROM recovery WHERE code_hash = $1"},
    [RS_LOCK_ISSUANCE] = {.sql = "SELECT n FROM locks WHERE name = 'issuance'", .for_update = true},
    [RS_PERSON_STATE_LOCK] = {.sql = "SELECT state FROM persons WHERE id = $1", .for_update = true},
    [RS_PERSON_STATE_GET] = {.sql = "SELECT state FROM persons WHERE id = $1"},
    [RS_PERSON_STATE_SET] = {.sql = "UPDATE persons SET state = $2 WHERE id = $1"},
    [RS_OFFERS_WITHDRAW] = {.sql = "UPDATE offers SET withdrawn_at = $2 WHERE person_id = $1"
                            " AND used_at IS NULL AND withdrawn_at IS NULL RETURNING id"},
    [RS_TOKENS_WITHDRAW] = {.sql = "UPDATE tokens SET withdrawn_at = $2 WHERE person_id = $1"
                            " AND withdrawn_at IS NULL RETURNING offer_id"},
    [RS_OFFERS_WITHDRAW_DEVICE] = {.sql = "UPDATE offers SET withdrawn_at = $2 WHERE used_at IS NULL"
                                   " AND withdrawn_at IS NULL AND person_id IN"
                                   " (SELECT person_id FROM credentials WHERE device = $1)"
                                   " RETURNING id"},
    [RS_TOKENS_WITHDRAW_DEVICE] = {.sql = "UPDATE tokens SET withdrawn_at = $2 WHERE withdrawn_at IS NULL"
                                   " AND person_id IN"
                                   " (SELECT person_id FROM credentials WHERE device = $1)"
                                   " RETURNING offer_id"},
    [RS_DEVICE_BLOCK] = {.sql = "INSERT INTO device_blocks(device, person_id, state) VALUES ($1, $2, $3)"
                         " ON CONFLICT (device, person_id) DO UPDATE SET state = excluded.state"
                         " WHERE device_blocks.state <> 1"},
    [RS_DEVICE_UNBLOCK] = {.sql = "DELETE FROM device_blocks WHERE device = $1 AND state = 2"},
    [RS_DEVICE_UNBLOCK_PERSON] = {.sql = "DELETE FROM device_blocks WHERE device = $1"
                                  " AND person_id = $2 AND state = 2"},
    [RS_DEVICE_BLOCKED] = {.sql = "SELECT state, person_id FROM device_blocks WHERE device = $1"
                           " AND (person_id = 0 OR person_id = $2) ORDER BY state LIMIT 1"},
    [RS_TOKEN_LOCK] = {.sql = "SELECT person_id, offer_id, expires_at, withdrawn_at FROM tokens"
                       " WHERE token_hash = $1"},
    [RS_OFFER_CHARGE] = {.sql = "UPDATE offers SET issued = issued + $2 WHERE id = $1"
                         " AND issued + $2 <= $3 RETURNING issued"},
    [RS_OFFER_ISSUED] = {.sql = "SELECT issued FROM offers WHERE id = $1"},
    [RS_PERSON_ISSUED_SINCE] = {.sql = "SELECT COALESCE(SUM(copies), 0), MIN(created_at) FROM batches"
                                " WHERE person_id = $1 AND created_at > $2"},
    [RS_SERIES_ENSURE] = {.sql = "INSERT INTO status_series(base, current, size) VALUES ($1, 1, $2)"
                          " ON CONFLICT (base) DO NOTHING"},
    [RS_SERIES_LOCK] = {.sql = "SELECT current, size FROM status_series WHERE base = $1",
                        .for_update = true},
    [RS_SERIES_SET] = {.sql = "UPDATE status_series SET current = $2 WHERE base = $1"},
    [RS_SERIES_GET] = {.sql = "SELECT current, size FROM status_series WHERE base = $1"},
    [RS_BATCH_INSERT_OFFER] = {.sql = "INSERT INTO batches(person_id, copies, created_at, offer_id)"
                               " VALUES ($1, $2, $3, $4) RETURNING id"},
    [RS_SECRET_ENSURE] = {.sql = "INSERT INTO secrets(name, value) VALUES ($1, $2)"
                          " ON CONFLICT (name) DO NOTHING"},
    [RS_SECRET_GET] = {.sql = "SELECT value FROM secrets WHERE name = $1"},
    [RS_NONCE_RECORD] = {.sql = "INSERT INTO nonces(nonce_hash, expires_at, used) VALUES ($1, $2, 1)"
                         " ON CONFLICT (nonce_hash) DO NOTHING RETURNING expires_at"},
};

/* ----------------------------------------------------------------- results */

void reg_result_free(reg_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->nrows * res->ncols; i++)
        free(res->cell[i]);
    free(res->cell);
    memset(res, 0, sizeof *res);
}

const char *reg_cell(const reg_result *res, size_t row, size_t col)
{
    return res->cell[row * res->ncols + col];
}

int64_t reg_cell_int(const reg_result *res, size_t row, size_t col)
{
    const char *s = reg_cell(res, row, col);
    return s ? strtoll(s, NULL, 10) : 0;
}

tes_err reg_nomem(const char *what)
{
    return tes_err_set(TES_ERR_NOMEM, "registry: %s: out of memory", what);
}

tes_err reg_result_add_row(reg_result *res, size_t ncols)
{
    if (ncols == 0 || (res->nrows && res->ncols != ncols))
        return tes_err_set(TES_ERR_STORE, "registry: rows of different widths");
    res->ncols = ncols;
    size_t have = res->nrows * ncols, need = have + ncols;
    if (need > res->cap) {
        size_t ncap = res->cap ? res->cap * 2 : 8 * ncols;
        while (ncap < need)
            ncap *= 2;
        char **nc = realloc(res->cell, ncap * sizeof *nc);
        if (!nc)
            return reg_nomem("reading rows");
        res->cell = nc;
        res->cap = ncap;
    }
    for (size_t i = have; i < need; i++)
        res->cell[i] = NULL;
    res->nrows++;
    return TES_OK;
}

tes_err reg_result_set(reg_result *res, size_t col, const char *value, size_t len)
{
    if (!value)
        return TES_OK;
    char *c = malloc(len + 1);
    if (!c)
        return reg_nomem("reading rows");
    memcpy(c, value, len);
    c[len] = '\0';
    res->cell[(res->nrows - 1) * res->ncols + col] = c;
    return TES_OK;
}

/* ------------------------------------------------------------ transactions */

/* An error decided inside a transaction that must still commit (a wrong
 * transaction code: the try is counted). */
typedef struct reg_after {
    tes_err code;
    char msg[256];
} reg_after;

typedef tes_err (*reg_body)(tes_registry *r, void *ctx, reg_after *after);

static tes_err x(tes_registry *r, int which, const reg_arg *args, size_t nargs, reg_result *res)
{
    return r->b->vt->exec(r->b, which, args, nargs, res);
}

static tes_err rand_fill(tes_registry *r, uint8_t *p, size_t n)
{
    return tes_rng_fill(&r->rng, p, n);
}

static int64_t now_of(const tes_registry *r)
{
    return tes_clock_now(&r->clock);
}

/* Uniform in [0, bound), bound >= 1, by rejection. */
static tes_err rand_below(tes_registry *r, uint64_t bound, uint64_t *out)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound; /* multiple of bound */
    for (;;) {
        uint8_t b[8];
        tes_err e = rand_fill(r, b, sizeof b);
        if (e)
            return e;
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | b[i];
        if (v < limit) {
            *out = v % bound;
            return TES_OK;
        }
    }
}

static void backoff(tes_registry *r, int attempt)
{
    uint64_t cap_us = 1000u << (attempt < 7 ? attempt : 7); /* 1 ms .. 128 ms */
    uint64_t d = 0;
    if (rand_below(r, cap_us, &d) != TES_OK)
        d = cap_us / 2;
    usleep((useconds_t)(d + 200));
}

static tes_err run_tx_as(tes_registry *r, bool durable, reg_body body, void *ctx)
{
    for (int attempt = 0;; attempt++) {
        reg_after after = {TES_OK, ""};
        r->b->retryable = false;
        tes_err e = r->b->vt->begin(r->b, durable);
        if (!e) {
            e = body(r, ctx, &after);
            if (e)
                r->b->vt->rollback(r->b);
            else
                e = r->b->vt->commit(r->b); /* rolls back itself on failure */
        }
        if (!e)
            return after.code ? tes_err_set(after.code, "%s", after.msg) : TES_OK;
        if (!r->b->retryable)
            return e;
        if (attempt + 1 >= REG_MAX_TRIES)
            return tes_err_set(TES_ERR_BUSY,
                               "registry: gave up after %d runs conflicting with concurrent "
                               "transactions (last: %s)",
                               REG_MAX_TRIES, tes_err_message());
        backoff(r, attempt);
    }
}

/* Every change is durable when its call returns, except a new nonce (see nonce_new). */
static tes_err run_tx(tes_registry *r, reg_body body, void *ctx)
{
    return run_tx_as(r, true, body, ctx);
}

static tes_err audit(tes_registry *r, int64_t at, const char *op, const char *action,
                     const char *detail)
{
    reg_arg a[] = {REG_INT(at), REG_TEXT(op), REG_TEXT(action), REG_TEXT(detail)};
    return x(r, RS_AUDIT_INSERT, a, 4, NULL);
}

static tes_err person_exists(tes_registry *r, int64_t person_id)
{
    reg_result res = {0};
    reg_arg a[] = {REG_INT(person_id)};
    tes_err e = x(r, RS_PERSON_EXISTS, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_NOT_FOUND, "registry: no person %lld", (long long)person_id);
    reg_result_free(&res);
    return e;
}

static const char *value_name(int64_t v);

/* The person's person-wide status (0 valid, 1 revoked, 2 suspended), its row
 * locked (PostgreSQL) until the transaction ends. TES_ERR_NOT_FOUND. */
static tes_err person_state(tes_registry *r, int64_t person_id, int64_t *state)
{
    reg_result res = {0};
    reg_arg a[] = {REG_INT(person_id)};
    tes_err e = x(r, RS_PERSON_STATE_LOCK, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_NOT_FOUND, "registry: no person %lld", (long long)person_id);
    if (!e)
        *state = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    return e;
}

/* Takes the issuance lock: every issuance and every person- or device-wide
 * status change runs after it (PostgreSQL row lock; SQLite's BEGIN IMMEDIATE
 * is already serial), so a revocation and an issuance never overlap. */
static tes_err lock_issuance(tes_registry *r)
{
    reg_result res = {0};
    tes_err e = x(r, RS_LOCK_ISSUANCE, NULL, 0, &res);
    if (!e && res.nrows != 1)
        e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: the issuance lock row is missing");
    reg_result_free(&res);
    return e;
}

/* ----------------------------------------------------------------- secrets */

/* Hex SHA-256 of a || ":" || b (b may be NULL: just a). */
static tes_err hash_hex(const char *a, const char *b, char out[65])
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    uint8_t buf[2 * REG_MAX_SECRET + 2];
    if (la > REG_MAX_SECRET || lb > REG_MAX_SECRET)
        return tes_err_set(TES_ERR_ARG, "registry: secret too long");
    memcpy(buf, a, la);
    size_t n = la;
    if (b) {
        buf[n++] = ':';
        memcpy(buf + n, b, lb);
        n += lb;
    }
    uint8_t d[32];
    tes_err e = tes_digest(TES_HASH_SHA256, TES_BYTES(buf, n), d);
    tes_wipe(buf, sizeof buf);
    if (!e)
        tes_hex_str(out, TES_BYTES(d, sizeof d));
    tes_wipe(d, sizeof d);
    return e;
}

/* nbytes random bytes as base64url into out (cap >= 4*nbytes/3 + 2). */
static tes_err rand_b64url(tes_registry *r, size_t nbytes, char *out, size_t cap)
{
    uint8_t raw[64];
    if (nbytes > sizeof raw)
        return tes_err_set(TES_ERR_ARG, "registry: secret too long");
    tes_err e = rand_fill(r, raw, nbytes);
    if (e)
        return e;
    tes_buf b = {0};
    b.secret = true;
    tes_b64url_encode(&b, TES_BYTES(raw, nbytes));
    tes_wipe(raw, sizeof raw);
    if (b.failed) {
        tes_buf_free(&b);
        return reg_nomem("making a secret");
    }
    if (b.len + 1 > cap) {
        tes_buf_free(&b);
        return tes_err_set(TES_ERR_BUFFER_SMALL, "registry: secret does not fit");
    }
    memcpy(out, b.ptr, b.len);
    out[b.len] = '\0';
    tes_buf_free(&b);
    return TES_OK;
}

/* n uniformly random decimal digits (n < cap). */
static tes_err rand_digits(tes_registry *r, int n, char *out, size_t cap)
{
    if ((size_t)n >= cap)
        return tes_err_set(TES_ERR_ARG, "registry: too many digits");
    int got = 0;
    while (got < n) {
        uint8_t b[32];
        tes_err e = rand_fill(r, b, sizeof b);
        if (e)
            return e;
        for (size_t i = 0; i < sizeof b && got < n; i++)
            if (b[i] < 250) /* 250 = 25 * 10: keeps the digits uniform */
                out[got++] = (char)('0' + b[i] % 10);
        tes_wipe(b, sizeof b);
    }
    out[n] = '\0';
    return TES_OK;
}

static bool text_ok(const char *s, size_t max)
{
    return s && *s && strnlen(s, max + 1) <= max;
}

/* --------------------------------------------------------------------- open */

tes_err tes_registry_open(const char *url, tes_registry **out)
{
    return tes_registry_open_with(url, NULL, out);
}

tes_err tes_registry_open_with(const char *url, const tes_registry_opts *o, tes_registry **out)
{
    if (!out || !url || !*url)
        return tes_err_set(TES_ERR_ARG, "registry: tes_registry_open needs a url and an output");
    *out = NULL;
    tes_registry *r = calloc(1, sizeof *r);
    if (!r)
        return reg_nomem("opening");
    r->clock = o && o->clock ? *o->clock : tes_clock_system();
    r->rng = o && o->rng ? *o->rng : tes_rng_system();
    int64_t now = now_of(r); /* migrations.applied_at */
    tes_err e;
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        e = reg_pg_open(url, now, &r->b);
    else if (strncmp(url, "sqlite:", 7) == 0)
        e = url[7] ? reg_sqlite_open(url + 7, now, &r->b)
                   : tes_err_set(TES_ERR_ARG, "registry: \"sqlite:\" needs a path");
    else
        e = reg_sqlite_open(url, now, &r->b);
    if (e) {
        free(r);
        return e;
    }
    *out = r;
    return TES_OK;
}

void tes_registry_close(tes_registry *r)
{
    if (!r)
        return;
    if (r->b)
        r->b->vt->close(r->b);
    tes_wipe(r->nonce_key, sizeof r->nonce_key);
    free(r);
}

/* ------------------------------------------------------------------ people */

typedef struct {
    const char *doctype, *claims, *op;
    int64_t id;
} person_add_ctx;

static tes_err person_add_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    person_add_ctx *c = vctx;
    int64_t now = now_of(r);
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(c->doctype), REG_TEXT(c->claims), REG_INT(now)};
    tes_err e = x(r, RS_PERSON_INSERT, a, 3, &res);
    if (!e && res.nrows != 1)
        e = tes_err_set(TES_ERR_STORE, "registry: enrolling: no id returned");
    if (!e)
        c->id = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    if (e)
        return e;
    char detail[REG_MAX_TEXT + 64];
    snprintf(detail, sizeof detail, "person %lld, doctype %s", (long long)c->id, c->doctype);
    return audit(r, now, c->op, "enrol", detail);
}

tes_err tes_registry_person_add(tes_registry *r, const char *doctype, const char *claims_json,
                                const char *operator_name, int64_t *person_id)
{
    if (!r || !person_id || !text_ok(doctype, REG_MAX_TEXT) ||
        !text_ok(operator_name, REG_MAX_TEXT) || !claims_json)
        return tes_err_set(TES_ERR_ARG, "registry: person_add needs a registry, a doctype, claims, "
                                        "an operator name and an id output");
    size_t len = strnlen(claims_json, REG_MAX_CLAIMS + 1);
    if (len > REG_MAX_CLAIMS)
        return tes_err_set(TES_ERR_ARG, "registry: claims larger than %u bytes", REG_MAX_CLAIMS);
    json_error_t jerr;
    json_t *j = json_loadb(claims_json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return tes_err_set(TES_ERR_JSON, "registry: claims are not JSON: %s (line %d)", jerr.text,
                           jerr.line);
    bool obj = json_is_object(j);
    json_decref(j);
    if (!obj)
        return tes_err_set(TES_ERR_JSON, "registry: claims must be a JSON object");

    person_add_ctx c = {doctype, claims_json, operator_name, 0};
    tes_err e = run_tx(r, person_add_body, &c);
    if (!e)
        *person_id = c.id;
    return e;
}

tes_err tes_registry_person_get(tes_registry *r, int64_t person_id, char **doctype,
                                char **claims_json)
{
    if (!r || !doctype || !claims_json)
        return tes_err_set(TES_ERR_ARG, "registry: person_get needs a registry and outputs");
    *doctype = *claims_json = NULL;
    reg_result res = {0};
    reg_arg a[] = {REG_INT(person_id)};
    tes_err e = x(r, RS_PERSON_GET, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_NOT_FOUND, "registry: no person %lld", (long long)person_id);
    if (!e) {
        /* take the cells over */
        *doctype = res.cell[0];
        *claims_json = res.cell[1];
        res.cell[0] = res.cell[1] = NULL;
        if (!*doctype || !*claims_json) {
            free(*doctype);
            free(*claims_json);
            *doctype = *claims_json = NULL;
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: person %lld has NULL fields",
                            (long long)person_id);
        }
    }
    reg_result_free(&res);
    return e;
}

/* ------------------------------------------------------------------ offers */

typedef struct {
    int64_t person_id, now, lifetime;
    int tx_digits;
    const char *op;
    const char *code_hash, *tx_hash;
} offer_create_ctx;

static tes_err offer_create_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    offer_create_ctx *c = vctx;
    int64_t state = 0;
    tes_err e = person_state(r, c->person_id, &state);
    if (e)
        return e;
    if (state == TES_STATUS_REVOKED)
        return tes_err_set(TES_ERR_STATE,
                           "registry: person %lld is revoked; revocation is final (no new offer)",
                           (long long)c->person_id);
    if (state != TES_STATUS_VALID)
        return tes_err_set(TES_ERR_STATE,
                           "registry: person %lld is suspended: reinstate the person before "
                           "making a new offer",
                           (long long)c->person_id);
    reg_result res = {0};
    reg_arg a[] = {REG_INT(c->person_id), REG_TEXT(c->code_hash), REG_TEXT(c->tx_hash),
                   REG_INT(c->tx_digits), REG_INT(c->now),        REG_INT(c->now + c->lifetime)};
    e = x(r, RS_OFFER_INSERT, a, 6, &res);
    if (!e && res.nrows != 1)
        e = tes_err_set(TES_ERR_STORE, "registry: creating an offer: no id returned");
    int64_t offer = e ? 0 : reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    if (e)
        return e;
    char detail[128];
    snprintf(detail, sizeof detail, "person %lld, offer %lld, expires at %lld",
             (long long)c->person_id, (long long)offer, (long long)(c->now + c->lifetime));
    return audit(r, c->now, c->op, "offer", detail);
}

tes_err tes_registry_offer_create(tes_registry *r, int64_t person_id, int64_t now, int64_t lifetime,
                                  int tx_digits, const char *operator_name, char code[64],
                                  char tx_code[16])
{
    if (!r || !code || !tx_code || !text_ok(operator_name, REG_MAX_TEXT))
        return tes_err_set(TES_ERR_ARG, "registry: offer_create needs a registry, an operator "
                                        "name and outputs");
    code[0] = tx_code[0] = '\0';
    if (lifetime <= 0 || now < 0 || now > INT64_MAX - lifetime)
        return tes_err_set(TES_ERR_ARG, "registry: offer lifetime must be positive");
    if (tx_digits != 0 && (tx_digits < 4 || tx_digits > 15))
        return tes_err_set(TES_ERR_ARG,
                           "registry: a transaction code has 4 to 15 digits (or 0 for none), "
                           "not %d",
                           tx_digits);

    char c_code[64], c_tx[16] = "", code_hash[65], tx_hash[65] = "";
    tes_err e = rand_b64url(r, REG_CODE_BYTES, c_code, sizeof c_code);
    if (!e && tx_digits)
        e = rand_digits(r, tx_digits, c_tx, sizeof c_tx);
    if (!e)
        e = hash_hex(c_code, NULL, code_hash);
    if (!e && tx_digits)
        e = hash_hex(c_code, c_tx, tx_hash);
    if (!e) {
        offer_create_ctx c = {person_id,     now,       lifetime, tx_digits,
                              operator_name, code_hash, tx_hash};
        e = run_tx(r, offer_create_body, &c);
    }
    if (!e) {
        memcpy(code, c_code, strlen(c_code) + 1);
        memcpy(tx_code, c_tx, strlen(c_tx) + 1);
    }
    tes_wipe(c_code, sizeof c_code);
    tes_wipe(c_tx, sizeof c_tx);
    return e;
}

typedef struct {
    const char *code, *tx_code, *code_hash, *token_hash;
    int64_t now, token_lifetime;
    int64_t person_id;
} redeem_ctx;

static tes_err redeem_body(tes_registry *r, void *vctx, reg_after *after)
{
    redeem_ctx *c = vctx;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(c->code_hash)};
    tes_err e = x(r, RS_OFFER_LOCK, a, 1, &res);
    if (e)
        return e;
    if (res.nrows == 0) {
        reg_result_free(&res);
        return tes_err_set(TES_ERR_GRANT, "registry: unknown pre-authorized code");
    }
    int64_t offer = reg_cell_int(&res, 0, 0), person = reg_cell_int(&res, 0, 1);
    char tx_hash[65];
    snprintf(tx_hash, sizeof tx_hash, "%s", reg_cell(&res, 0, 2) ? reg_cell(&res, 0, 2) : "");
    int64_t tx_digits = reg_cell_int(&res, 0, 3), expires = reg_cell_int(&res, 0, 4),
            attempts = reg_cell_int(&res, 0, 5);
    bool used = reg_cell(&res, 0, 6) != NULL, withdrawn = reg_cell(&res, 0, 7) != NULL;
    reg_result_free(&res);

    if (withdrawn)
        return tes_err_set(TES_ERR_GRANT,
                           "registry: pre-authorized code withdrawn: the holder's credentials "
                           "were revoked or suspended");
    if (used)
        return tes_err_set(TES_ERR_GRANT, "registry: pre-authorized code already used");
    /* Read without a lock (a status change locks the person, then the offers: taking
     * them in the other order here would deadlock); a concurrent revocation waits for
     * this offer's row and then withdraws the token made here. */
    reg_arg ps[] = {REG_INT(person)};
    if ((e = x(r, RS_PERSON_STATE_GET, ps, 1, &res)))
        return e;
    int64_t state = res.nrows ? reg_cell_int(&res, 0, 0) : TES_STATUS_REVOKED;
    reg_result_free(&res);
    if (state != TES_STATUS_VALID)
        return tes_err_set(TES_ERR_GRANT, "registry: the holder's credentials are %s",
                           value_name(state));
    if (c->now >= expires)
        return tes_err_set(TES_ERR_GRANT, "registry: pre-authorized code expired");
    if (attempts >= REG_MAX_TX_TRIES)
        return tes_err_set(TES_ERR_GRANT, "registry: offer locked after %d wrong transaction codes",
                           REG_MAX_TX_TRIES);
    if (tx_digits > 0) {
        if (!c->tx_code || !*c->tx_code)
            /* A missing parameter, not a wrong one: OpenID4VCI 1.0 §6.3 invalid_request. */
            return tes_err_set(TES_ERR_HTTP_REQUEST,
                               "registry: this offer needs a transaction code (tx_code)");
        char got[65] = "";
        bool ok = false;
        if (strlen(c->tx_code) <= 32 && hash_hex(c->code, c->tx_code, got) == TES_OK)
            ok = tes_ct_eq(TES_BYTES(got, 64), TES_BYTES(tx_hash, strlen(tx_hash)));
        if (!ok) {
            /* Count the try and commit it, then report. */
            reg_arg b[] = {REG_INT(offer)};
            e = x(r, RS_OFFER_ATTEMPT, b, 1, &res);
            if (e)
                return e;
            int64_t now_attempts = res.nrows ? reg_cell_int(&res, 0, 0) : REG_MAX_TX_TRIES;
            reg_result_free(&res);
            int64_t left = REG_MAX_TX_TRIES - now_attempts;
            after->code = TES_ERR_GRANT;
            snprintf(after->msg, sizeof after->msg,
                     "registry: wrong transaction code (%lld %s left)", (long long)left,
                     left == 1 ? "try" : "tries");
            return TES_OK;
        }
    }
    reg_arg u[] = {REG_INT(offer), REG_INT(c->now)};
    e = x(r, RS_OFFER_USE, u, 2, &res);
    if (!e && res.nrows != 1)
        e = tes_err_set(TES_ERR_GRANT, "registry: pre-authorized code already used");
    reg_result_free(&res);
    if (e)
        return e;
    reg_arg p[] = {REG_INT(c->now)};
    if ((e = x(r, RS_TOKEN_PURGE, p, 1, NULL)))
        return e;
    reg_arg t[] = {REG_TEXT(c->token_hash), REG_INT(person), REG_INT(offer),
                   REG_INT(c->now + c->token_lifetime)};
    if ((e = x(r, RS_TOKEN_INSERT, t, 4, NULL)))
        return e;
    c->person_id = person;
    return TES_OK;
}

tes_err tes_registry_offer_redeem(tes_registry *r, const char *code, const char *tx_code,
                                  int64_t now, int64_t token_lifetime, char token[64],
                                  int64_t *person_id)
{
    if (!r || !code || !token || !person_id)
        return tes_err_set(TES_ERR_ARG, "registry: offer_redeem needs a registry, a code and "
                                        "outputs");
    token[0] = '\0';
    if (token_lifetime <= 0 || now > INT64_MAX - token_lifetime)
        return tes_err_set(TES_ERR_ARG, "registry: token lifetime must be positive");
    if (!*code || strnlen(code, REG_MAX_SECRET + 1) > REG_MAX_SECRET)
        return tes_err_set(TES_ERR_GRANT, "registry: unknown pre-authorized code");

    char tok[64], code_hash[65], token_hash[65];
    tes_err e = rand_b64url(r, REG_TOKEN_BYTES, tok, sizeof tok);
    if (!e)
        e = hash_hex(code, NULL, code_hash);
    if (!e)
        e = hash_hex(tok, NULL, token_hash);
    if (!e) {
        redeem_ctx c = {code, tx_code, code_hash, token_hash, now, token_lifetime, 0};
        e = run_tx(r, redeem_body, &c);
        if (!e) {
            memcpy(token, tok, strlen(tok) + 1);
            *person_id = c.person_id;
        }
    }
    tes_wipe(tok, sizeof tok);
    return e;
}

tes_err tes_registry_token_check(tes_registry *r, const char *token, int64_t now,
                                 int64_t *person_id)
{
    if (!r || !token || !person_id)
        return tes_err_set(TES_ERR_ARG, "registry: token_check needs a registry, a token and an "
                                        "output");
    if (!*token || strnlen(token, REG_MAX_SECRET + 1) > REG_MAX_SECRET)
        return tes_err_set(TES_ERR_TOKEN, "registry: unknown access token");
    char h[65];
    tes_err e = hash_hex(token, NULL, h);
    if (e)
        return e;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(h)};
    e = x(r, RS_TOKEN_GET, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_TOKEN, "registry: unknown access token");
    if (!e && reg_cell(&res, 0, 2) != NULL)
        e = tes_err_set(TES_ERR_TOKEN, "registry: access token withdrawn: the holder's "
                                       "credentials were revoked or suspended");
    if (!e && now >= reg_cell_int(&res, 0, 1))
        e = tes_err_set(TES_ERR_TOKEN, "registry: access token expired");
    if (!e)
        *person_id = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    return e;
}

/* ------------------------------------------------------------------ nonces */

/* A c_nonce is stateless until used: base64url of
 *     version (1) || expiry (8, big endian) || random (16) || tag (16)
 * with tag = the first 16 bytes of HMAC-SHA-256(key, "tessera c_nonce" ||
 * version || expiry || random), key a 32-byte secret made once per registry
 * (table secrets, so every process on the registry makes and accepts the
 * same nonces). Making one writes nothing; consuming one checks the tag and
 * the expiry, then records its hash (table nonces) until it expires, so a
 * second use is refused; recorded nonces past their expiry are purged by
 * every consumption. 41 bytes: 55 characters. */
#define NONCE_VERSION 1
#define NONCE_RAW 41
#define NONCE_TAG 16
#define NONCE_TEXT 55
static const char NONCE_KEY_NAME[] = "c_nonce-hmac-v1";
static const char NONCE_LABEL[] = "tessera c_nonce";

typedef struct {
    const char *hash;
    int64_t now, expires;
} nonce_ctx;

typedef struct {
    const char *fresh; /* hex of a new key, inserted unless one exists */
    char got[65];
} secret_ctx;

static tes_err secret_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    secret_ctx *c = vctx;
    reg_arg a[] = {REG_TEXT(NONCE_KEY_NAME), REG_TEXT(c->fresh)};
    tes_err e = x(r, RS_SECRET_ENSURE, a, 2, NULL);
    if (e)
        return e;
    reg_result res = {0};
    if ((e = x(r, RS_SECRET_GET, a, 1, &res)))
        return e;
    const char *v = res.nrows == 1 ? reg_cell(&res, 0, 0) : NULL;
    if (!v || strlen(v) != 64)
        e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: the c_nonce key is missing or damaged");
    else
        memcpy(c->got, v, 65);
    reg_result_free(&res);
    return e;
}

/* Loads (once per handle) the registry's c_nonce key, making it if none exists. */
static tes_err nonce_key(tes_registry *r)
{
    if (r->have_nonce_key)
        return TES_OK;
    uint8_t raw[32];
    char hex[65];
    tes_err e = rand_fill(r, raw, sizeof raw);
    if (e)
        return e;
    tes_hex_str(hex, TES_BYTES(raw, sizeof raw));
    tes_wipe(raw, sizeof raw);
    secret_ctx c = {hex, ""};
    e = run_tx(r, secret_body, &c);
    tes_wipe(hex, sizeof hex);
    for (int i = 0; !e && i < 32; i++) {
        int hi = tes_hex_digit(c.got[2 * i]), lo = tes_hex_digit(c.got[2 * i + 1]);
        if (hi < 0 || lo < 0)
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: the c_nonce key is not hex");
        else
            r->nonce_key[i] = (uint8_t)(hi << 4 | lo);
    }
    tes_wipe(c.got, sizeof c.got);
    if (!e)
        r->have_nonce_key = true;
    return e;
}

static tes_err nonce_tag(const tes_registry *r, const uint8_t *raw, uint8_t tag[NONCE_TAG])
{
    uint8_t msg[sizeof NONCE_LABEL - 1 + NONCE_RAW - NONCE_TAG], mac[32];
    memcpy(msg, NONCE_LABEL, sizeof NONCE_LABEL - 1);
    memcpy(msg + sizeof NONCE_LABEL - 1, raw, NONCE_RAW - NONCE_TAG);
    tes_err e = tes_hmac_sha256(TES_BYTES(r->nonce_key, sizeof r->nonce_key),
                                TES_BYTES(msg, sizeof msg), mac);
    if (!e)
        memcpy(tag, mac, NONCE_TAG);
    tes_wipe(mac, sizeof mac);
    return e;
}

tes_err tes_registry_nonce_new(tes_registry *r, int64_t now, int64_t lifetime, char nonce[64])
{
    if (!r || !nonce)
        return tes_err_set(TES_ERR_ARG, "registry: nonce_new needs a registry and an output");
    nonce[0] = '\0';
    if (lifetime <= 0 || now < 0 || now > INT64_MAX - lifetime)
        return tes_err_set(TES_ERR_ARG, "registry: nonce lifetime must be positive");
    tes_err e = nonce_key(r);
    if (e)
        return e;
    uint8_t raw[NONCE_RAW];
    uint64_t exp = (uint64_t)(now + lifetime);
    raw[0] = NONCE_VERSION;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (uint8_t)(exp >> (56 - 8 * i));
    if ((e = rand_fill(r, raw + 9, 16)) || (e = nonce_tag(r, raw, raw + NONCE_RAW - NONCE_TAG)))
        return e;
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(raw, sizeof raw));
    if (b.failed || b.len != NONCE_TEXT) {
        tes_buf_free(&b);
        return reg_nomem("making a c_nonce");
    }
    memcpy(nonce, b.ptr, b.len);
    nonce[b.len] = '\0';
    tes_buf_free(&b);
    return TES_OK;
}

static tes_err nonce_consume_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    nonce_ctx *c = vctx;
    reg_arg p[] = {REG_INT(c->now)};
    tes_err e = x(r, RS_NONCE_PURGE, p, 1, NULL);
    if (e)
        return e;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(c->hash), REG_INT(c->expires)};
    if ((e = x(r, RS_NONCE_RECORD, a, 2, &res)))
        return e;
    size_t recorded = res.nrows;
    reg_result_free(&res);
    return recorded == 1 ? TES_OK : tes_err_set(TES_ERR_NONCE, "registry: c_nonce already used");
}

tes_err tes_registry_nonce_consume(tes_registry *r, const char *nonce, int64_t now)
{
    if (!r || !nonce)
        return tes_err_set(TES_ERR_ARG, "registry: nonce_consume needs a registry and a nonce");
    size_t len = strnlen(nonce, REG_MAX_SECRET + 1);
    if (len != NONCE_TEXT)
        return tes_err_set(TES_ERR_NONCE, "registry: unknown c_nonce (not one this issuer makes)");
    tes_err e = nonce_key(r);
    if (e)
        return e;
    tes_buf raw = {0};
    raw.secret = true;
    if (tes_b64url_decode(&raw, nonce, len) != TES_OK || raw.len != NONCE_RAW ||
        raw.ptr[0] != NONCE_VERSION) {
        tes_buf_free(&raw);
        return tes_err_set(TES_ERR_NONCE, "registry: unknown c_nonce (not one this issuer makes)");
    }
    uint8_t tag[NONCE_TAG];
    if ((e = nonce_tag(r, raw.ptr, tag))) {
        tes_buf_free(&raw);
        return e;
    }
    bool genuine = tes_ct_eq(TES_BYTES(tag, NONCE_TAG),
                             TES_BYTES(raw.ptr + NONCE_RAW - NONCE_TAG, NONCE_TAG));
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = exp << 8 | raw.ptr[1 + i];
    tes_buf_free(&raw);
    if (!genuine)
        return tes_err_set(TES_ERR_NONCE,
                           "registry: unknown c_nonce (its authentication tag is wrong)");
    if (exp > INT64_MAX || now >= (int64_t)exp)
        return tes_err_set(TES_ERR_NONCE, "registry: c_nonce expired");
    char h[65];
    if ((e = hash_hex(nonce, NULL, h)))
        return e;
    nonce_ctx c = {h, now, (int64_t)exp};
    return run_tx(r, nonce_consume_body, &c);
}

/* ----------------------------------------------------------- issued batches */

typedef struct {
    int64_t person_id, valid_from, valid_until;
    const char *doctype, *uri;
    size_t size;
    const char (*thumbs)[65];
    const char (*devs)[65];
    size_t n;
    tes_registry_issued *out;
    /* tes_registry_issue_for_token only (token_hash NULL otherwise) */
    const char *token_hash, *base;
    int64_t now, offer_id;
    const tes_registry_budget *budget;
    char list_uri[TES_REGISTRY_URI_MAX];
} issue_ctx;

/* Inside the issuance transaction, before anything is written: the access
 * token (still valid, not withdrawn), the person (valid), every phone of the
 * batch (not reported lost), then the budgets (the offer's is charged here).
 * The issuance lock is taken first: a status change of the person or of a
 * phone runs entirely before or entirely after. */
static tes_err issue_checks(tes_registry *r, issue_ctx *c)
{
    tes_err e = lock_issuance(r);
    if (e)
        return e;
    reg_result res = {0};
    if (c->token_hash) {
        reg_arg t[] = {REG_TEXT(c->token_hash)};
        if ((e = x(r, RS_TOKEN_LOCK, t, 1, &res)))
            return e;
        if (res.nrows == 0)
            e = tes_err_set(TES_ERR_TOKEN, "registry: unknown access token");
        else if (reg_cell(&res, 0, 3) != NULL)
            e = tes_err_set(TES_ERR_TOKEN, "registry: access token withdrawn: the holder's "
                                           "credentials were revoked or suspended");
        else if (c->now >= reg_cell_int(&res, 0, 2))
            e = tes_err_set(TES_ERR_TOKEN, "registry: access token expired");
        else {
            c->person_id = reg_cell_int(&res, 0, 0);
            c->offer_id = reg_cell_int(&res, 0, 1);
        }
        reg_result_free(&res);
        if (e)
            return e;
    }
    int64_t state = 0;
    if ((e = person_state(r, c->person_id, &state)))
        return e;
    if (state != TES_STATUS_VALID)
        return tes_err_set(TES_ERR_DENIED, "registry: person %lld is %s: nothing is issued",
                           (long long)c->person_id, value_name(state));
    for (size_t i = 0; i < c->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->devs[j], c->devs[i]) == 0;
        if (seen)
            continue;
        reg_arg d[] = {REG_TEXT(c->devs[i]), REG_INT(c->person_id)};
        if ((e = x(r, RS_DEVICE_BLOCKED, d, 2, &res)))
            return e;
        if (res.nrows)
            e = tes_err_set(TES_ERR_DENIED,
                            "registry: the phone %.16s... of key %zu is %s (reported lost): "
                            "nothing is issued onto it",
                            c->devs[i], i, value_name(reg_cell_int(&res, 0, 0)));
        reg_result_free(&res);
        if (e)
            return e;
    }
    const tes_registry_budget *b = c->budget;
    if (b && b->per_offer > 0 && c->offer_id > 0) {
        reg_arg o[] = {REG_INT(c->offer_id), REG_INT((int64_t)c->n), REG_INT(b->per_offer)};
        if ((e = x(r, RS_OFFER_CHARGE, o, 3, &res)))
            return e;
        size_t charged = res.nrows;
        reg_result_free(&res);
        if (!charged) {
            if ((e = x(r, RS_OFFER_ISSUED, o, 1, &res)))
                return e;
            int64_t had = res.nrows ? reg_cell_int(&res, 0, 0) : 0;
            reg_result_free(&res);
            return tes_err_set(TES_ERR_BUDGET,
                               "registry: this offer has obtained %lld of its %lld credentials; "
                               "%zu more do not fit (ask the authority for a new offer)",
                               (long long)had, (long long)b->per_offer, c->n);
        }
    }
    if (b && b->per_person > 0 && b->period > 0) {
        int64_t since = c->now > INT64_MIN + b->period ? c->now - b->period : INT64_MIN;
        reg_arg q[] = {REG_INT(c->person_id), REG_INT(since)};
        if ((e = x(r, RS_PERSON_ISSUED_SINCE, q, 2, &res)))
            return e;
        int64_t had = reg_cell_int(&res, 0, 0), oldest = reg_cell_int(&res, 0, 1);
        reg_result_free(&res);
        if (had + (int64_t)c->n > b->per_person)
            return tes_err_set(TES_ERR_BUDGET,
                               "registry: person %lld obtained %lld credentials in the last %lld "
                               "seconds, at most %lld are allowed; %zu more do not fit (room "
                               "again from %lld)",
                               (long long)c->person_id, (long long)had, (long long)b->period,
                               (long long)b->per_person, c->n, (long long)(oldest + b->period));
    }
    return TES_OK;
}

/* The list of the series under c->base to issue n into: the current one, or,
 * when it has no room for the whole batch, the next (created now: rollover). */
static tes_err pick_list(tes_registry *r, issue_ctx *c)
{
    reg_arg a[] = {REG_TEXT(c->base), REG_INT((int64_t)c->size)};
    tes_err e = x(r, RS_SERIES_ENSURE, a, 2, NULL);
    if (e)
        return e;
    reg_result res = {0};
    if ((e = x(r, RS_SERIES_LOCK, a, 1, &res)))
        return e;
    if (res.nrows != 1) {
        reg_result_free(&res);
        return tes_err_set(TES_ERR_STORE, "registry: status list series %s vanished", c->base);
    }
    int64_t current = reg_cell_int(&res, 0, 0), size = reg_cell_int(&res, 0, 1);
    reg_result_free(&res);
    if (size != (int64_t)c->size)
        return tes_err_set(TES_ERR_ARG, "registry: the status lists under %s have %lld entries, "
                                        "not %zu",
                           c->base, (long long)size, c->size);
    for (int64_t start = current;; current++) {
        if (current - start > 1000000)
            return tes_err_set(TES_ERR_STORE, "registry: no status list under %s has room",
                               c->base);
        snprintf(c->list_uri, sizeof c->list_uri, "%s%lld", c->base, (long long)current);
        reg_arg q[] = {REG_TEXT(c->list_uri)};
        if ((e = x(r, RS_LIST_GET, q, 1, &res)))
            return e;
        bool room = res.nrows == 0 || (reg_cell_int(&res, 0, 0) == (int64_t)c->size &&
                                       reg_cell_int(&res, 0, 1) + (int64_t)c->n <=
                                           reg_cell_int(&res, 0, 0));
        reg_result_free(&res);
        if (room)
            break;
    }
    reg_arg u[] = {REG_TEXT(c->base), REG_INT(current)};
    if ((e = x(r, RS_SERIES_SET, u, 2, NULL)))
        return e;
    c->uri = c->list_uri;
    return TES_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x1 = *(const int64_t *)a, x2 = *(const int64_t *)b;
    return (x1 > x2) - (x1 < x2);
}

/* Picks a uniformly random index not in used[0..nused) (sorted, distinct), given that
 * size > nused. */
static tes_err pick_free(tes_registry *r, const int64_t *used, size_t nused, size_t size,
                         int64_t *out)
{
    uint64_t k = 0;
    tes_err e = rand_below(r, (uint64_t)(size - nused), &k);
    if (e)
        return e;
    /* The k-th free index: walk the used ones in order. */
    int64_t cand = (int64_t)k;
    for (size_t i = 0; i < nused && used[i] <= cand; i++)
        cand++;
    *out = cand;
    return TES_OK;
}

/* Inserts one credential at idx; *id 0 when the index is taken. */
static tes_err cred_insert(tes_registry *r, const issue_ctx *c, int64_t batch, size_t i,
                           int64_t idx, int64_t *id)
{
    reg_result res = {0};
    reg_arg a[] = {REG_INT(c->person_id),   REG_INT(batch),
                   REG_TEXT(c->doctype),    REG_INT(c->valid_from),
                   REG_INT(c->valid_until), REG_TEXT(c->thumbs[i]),
                   REG_TEXT(c->uri),        REG_INT(idx),
                   REG_TEXT(c->devs[i])};
    tes_err e = x(r, RS_CRED_INSERT, a, 9, &res);
    *id = !e && res.nrows == 1 ? reg_cell_int(&res, 0, 0) : 0;
    reg_result_free(&res);
    return e;
}

static tes_err issue_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    issue_ctx *c = vctx;
    tes_err e = issue_checks(r, c);
    if (!e && c->base)
        e = pick_list(r, c);
    if (e)
        return e;
    /* Register the list, then lock its row while reserving room for the batch. */
    reg_arg l[] = {REG_TEXT(c->uri), REG_INT((int64_t)c->size)};
    if ((e = x(r, RS_LIST_ENSURE, l, 2, NULL)))
        return e;
    reg_result res = {0};
    reg_arg rv[] = {REG_TEXT(c->uri), REG_INT((int64_t)c->n)};
    if ((e = x(r, RS_LIST_RESERVE, rv, 2, &res)))
        return e;
    if (res.nrows != 1) {
        reg_result_free(&res);
        return tes_err_set(TES_ERR_STORE, "registry: status list %s vanished", c->uri);
    }
    int64_t size = reg_cell_int(&res, 0, 0), used = reg_cell_int(&res, 0, 1);
    reg_result_free(&res);
    if (size != (int64_t)c->size)
        return tes_err_set(TES_ERR_ARG, "registry: status list %s has %lld entries, not %zu",
                           c->uri, (long long)size, c->size);
    if (used > size)
        return tes_err_set(TES_ERR_STORE,
                           "registry: status list %s is full: %lld of %lld indexes in use, "
                           "the batch needs %zu more",
                           c->uri, (long long)(used - (int64_t)c->n), (long long)size, c->n);

    reg_arg b[] = {REG_INT(c->person_id), REG_INT((int64_t)c->n),
                   REG_INT(c->token_hash ? c->now : now_of(r)), REG_INT(c->offer_id)};
    if ((e = x(r, RS_BATCH_INSERT_OFFER, b, 4, &res)))
        return e;
    int64_t batch = res.nrows == 1 ? reg_cell_int(&res, 0, 0) : 0;
    reg_result_free(&res);
    if (!batch)
        return tes_err_set(TES_ERR_STORE, "registry: recording a batch: no id returned");

    /* Indexes in use, loaded only if random draws keep hitting taken ones. */
    int64_t *taken = NULL;
    size_t ntaken = 0;
    bool dense = false;
    for (size_t i = 0; !e && i < c->n; i++) {
        int64_t id = 0, idx = 0;
        for (int t = 0; !e && !id && !dense && t < REG_RANDOM_TRIES; t++) {
            uint64_t v = 0;
            if (!(e = rand_below(r, c->size, &v)))
                e = cred_insert(r, c, batch, i, idx = (int64_t)v, &id);
        }
        if (!e && !id) {
            if (!dense) {
                /* Crowded list: read the taken indexes once; we hold the list's lock
                 * (PostgreSQL row lock / SQLite write lock), so nobody adds any. */
                dense = true;
                reg_arg q[] = {REG_TEXT(c->uri)};
                if (!(e = x(r, RS_CRED_USED_IDX, q, 1, &res))) {
                    taken = malloc((res.nrows + c->n + 1) * sizeof *taken);
                    if (!taken)
                        e = reg_nomem("issuing");
                    for (size_t k = 0; !e && k < res.nrows; k++)
                        taken[ntaken++] = reg_cell_int(&res, k, 0);
                }
                reg_result_free(&res);
            }
            if (!e && ntaken >= c->size)
                e = tes_err_set(TES_ERR_STORE, "registry: status list %s is full", c->uri);
            if (!e)
                e = pick_free(r, taken, ntaken, c->size, &idx);
            if (!e)
                e = cred_insert(r, c, batch, i, idx, &id);
            if (!e && !id)
                e = tes_err_set(TES_ERR_STORE,
                                "registry: status list %s: index %lld taken although it "
                                "was free",
                                c->uri, (long long)idx);
        }
        if (!e) {
            if (dense) {
                /* keep taken sorted */
                taken[ntaken++] = idx;
                qsort(taken, ntaken, sizeof *taken, cmp_i64);
            }
            c->out[i].credential_id = id;
            c->out[i].status_idx = (uint32_t)idx;
        }
    }
    free(taken);
    return e;
}

static bool thumbprint_ok(const char *t)
{
    if (!t || strnlen(t, 65) != 64)
        return false;
    for (int i = 0; i < 64; i++) {
        char ch = t[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return false;
    }
    return true;
}

/* Copies a 64-hex-digit SHA-256 in lower case. */
static void hex64_lower(const char *in, char out[65])
{
    for (int k = 0; k < 64; k++) {
        char ch = in[k];
        out[k] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
    }
    out[64] = '\0';
}

/* Checks the arguments shared by both issuing calls, copies the hex ids in
 * lower case and runs the transaction for c (whose other members are set). */
static tes_err issue_run(tes_registry *r, issue_ctx *c, const char *list_name,
                         const char *const *thumbprints, const char *const *devices)
{
    size_t n = c->n;
    if (!r || !text_ok(c->doctype, REG_MAX_TEXT) || !text_ok(list_name, REG_MAX_TEXT - 24) ||
        !thumbprints || !devices || !c->out || n == 0)
        return tes_err_set(TES_ERR_ARG,
                           "registry: issuing needs a registry, a doctype, a list "
                           "uri (< %d bytes), n >= 1 thumbprints and devices and an output",
                           REG_MAX_TEXT - 24);
    if (c->size == 0 || c->size > TES_STATUS_MAX_ENTRIES)
        return tes_err_set(TES_ERR_ARG, "registry: a status list has 1 to %u entries, not %zu",
                           TES_STATUS_MAX_ENTRIES, c->size);
    if (n > c->size)
        return tes_err_set(TES_ERR_STORE,
                           "registry: status list %s is full: a batch of %zu does "
                           "not fit in %zu entries",
                           list_name, n, c->size);
    if (c->valid_until <= c->valid_from)
        return tes_err_set(TES_ERR_ARG, "registry: valid_until must be after valid_from");
    char(*thumbs)[65] = malloc(2 * n * sizeof *thumbs);
    if (!thumbs)
        return reg_nomem("issuing");
    char(*devs)[65] = thumbs + n;
    for (size_t i = 0; i < n; i++) {
        if (!thumbprint_ok(thumbprints[i])) {
            free(thumbs);
            return tes_err_set(TES_ERR_ARG,
                               "registry: thumbprint %zu is not 64 hex digits (SHA-256)", i);
        }
        if (!thumbprint_ok(devices[i])) {
            free(thumbs);
            return tes_err_set(TES_ERR_ARG,
                               "registry: device id %zu is not 64 hex digits (SHA-256)", i);
        }
        hex64_lower(thumbprints[i], thumbs[i]);
        hex64_lower(devices[i], devs[i]);
    }
    c->thumbs = (const char(*)[65])thumbs;
    c->devs = (const char(*)[65])devs;
    tes_err e = run_tx(r, issue_body, c);
    free(thumbs);
    if (e)
        memset(c->out, 0, n * sizeof *c->out);
    return e;
}

tes_err tes_registry_issue_batch(tes_registry *r, int64_t person_id, const char *doctype,
                                 int64_t valid_from, int64_t valid_until, const char *list_uri,
                                 size_t list_size, const char *const *thumbprints,
                                 const char *const *devices, size_t n, tes_registry_issued *out)
{
    issue_ctx c = {.person_id = person_id,
                   .valid_from = valid_from,
                   .valid_until = valid_until,
                   .doctype = doctype,
                   .uri = list_uri,
                   .size = list_size,
                   .n = n,
                   .out = out};
    return issue_run(r, &c, list_uri, thumbprints, devices);
}

tes_err tes_registry_issue_for_token(tes_registry *r, const char *token, int64_t now,
                                     const char *doctype, int64_t valid_from,
                                     int64_t valid_until, const char *list_base,
                                     size_t list_size, const tes_registry_budget *budget,
                                     const char *const *thumbprints, const char *const *devices,
                                     size_t n, tes_registry_issued *out,
                                     char list_uri[TES_REGISTRY_URI_MAX])
{
    if (list_uri)
        list_uri[0] = '\0';
    if (!r || !token || !list_uri)
        return tes_err_set(TES_ERR_ARG, "registry: issue_for_token needs a registry, a token and "
                                        "a list uri output");
    if (!*token || strnlen(token, REG_MAX_SECRET + 1) > REG_MAX_SECRET)
        return tes_err_set(TES_ERR_TOKEN, "registry: unknown access token");
    if (budget && budget->per_person > 0 && budget->period <= 0)
        return tes_err_set(TES_ERR_ARG, "registry: a per-person budget needs a period");
    char h[65];
    tes_err e = hash_hex(token, NULL, h);
    if (e)
        return e;
    issue_ctx c = {.valid_from = valid_from,
                   .valid_until = valid_until,
                   .doctype = doctype,
                   .size = list_size,
                   .n = n,
                   .out = out,
                   .token_hash = h,
                   .base = list_base,
                   .now = now,
                   .budget = budget};
    e = issue_run(r, &c, list_base, thumbprints, devices);
    if (!e)
        memcpy(list_uri, c.list_uri, strlen(c.list_uri) + 1);
    return e;
}

tes_err tes_registry_status_series(tes_registry *r, const char *list_base, int64_t *current)
{
    if (!r || !text_ok(list_base, REG_MAX_TEXT - 24) || !current)
        return tes_err_set(TES_ERR_ARG, "registry: status_series needs a registry, a base uri "
                                        "and an output");
    *current = 0;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(list_base)};
    tes_err e = x(r, RS_SERIES_GET, a, 1, &res);
    if (!e && res.nrows == 1)
        *current = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    return e;
}

/* ------------------------------------------------------------------ status */

typedef struct {
    int64_t cred, person;
    tes_status_value v;
    const char *op;
    size_t changed;
} status_ctx;

static const char *action_name(tes_status_value v)
{
    return v == TES_STATUS_REVOKED ? "revoke" : v == TES_STATUS_SUSPENDED ? "suspend" : "reinstate";
}

static const char *value_name(int64_t v)
{
    return v == TES_STATUS_VALID       ? "valid"
           : v == TES_STATUS_REVOKED   ? "revoked"
           : v == TES_STATUS_SUSPENDED ? "suspended"
                                       : "?";
}

static tes_err status_one(tes_registry *r, status_ctx *c)
{
    reg_result res = {0};
    reg_arg a[] = {REG_INT(c->cred)};
    tes_err e = x(r, RS_CRED_LOCK, a, 1, &res);
    if (e)
        return e;
    if (res.nrows == 0) {
        reg_result_free(&res);
        return tes_err_set(TES_ERR_NOT_FOUND, "registry: no credential %lld", (long long)c->cred);
    }
    int64_t owner = reg_cell_int(&res, 0, 0), cur = reg_cell_int(&res, 0, 1);
    reg_result_free(&res);
    if (c->person && owner != c->person)
        return tes_err_set(TES_ERR_NOT_FOUND, "registry: credential %lld is not person %lld's",
                           (long long)c->cred, (long long)c->person);
    if (cur == TES_STATUS_REVOKED && c->v != TES_STATUS_REVOKED)
        return tes_err_set(TES_ERR_STATE,
                           "registry: credential %lld is revoked; revocation is final (cannot %s)",
                           (long long)c->cred, action_name(c->v));
    char detail[160];
    if (cur == (int64_t)c->v) {
        c->changed = 0;
        snprintf(detail, sizeof detail, "credential %lld (person %lld): already %s",
                 (long long)c->cred, (long long)owner, value_name(cur));
    } else {
        reg_arg u[] = {REG_INT(c->cred), REG_INT((int64_t)c->v)};
        if ((e = x(r, RS_CRED_SET, u, 2, NULL)))
            return e;
        c->changed = 1;
        snprintf(detail, sizeof detail, "credential %lld (person %lld): %s -> %s",
                 (long long)c->cred, (long long)owner, value_name(cur), value_name(c->v));
    }
    return audit(r, now_of(r), c->op, action_name(c->v), detail);
}

/* Writes the audit entry of a status change: "<head>N credentials set <value>: id, id"
 * (ids sorted); takes ownership of ids. */
static tes_err audit_status_change(tes_registry *r, const char *op, tes_status_value v,
                                   const char *head, int64_t *ids, size_t changed,
                                   const char *tail)
{
    qsort(ids, changed, sizeof *ids, cmp_i64);
    tes_buf d = {0};
    char tmp[96];
    tes_buf_append(&d, head, strlen(head));
    if (changed == 0) {
        tes_buf_append(&d, "no credential changed", 21);
    } else {
        int k = snprintf(tmp, sizeof tmp, "%zu %s set %s:", changed,
                         changed == 1 ? "credential" : "credentials", value_name(v));
        tes_buf_append(&d, tmp, (size_t)k);
        for (size_t i = 0; i < changed; i++) {
            k = snprintf(tmp, sizeof tmp, "%s%lld", i ? ", " : " ", (long long)ids[i]);
            tes_buf_append(&d, tmp, (size_t)k);
        }
    }
    if (tail)
        tes_buf_append(&d, tail, strlen(tail));
    tes_buf_append(&d, "", 1);
    free(ids);
    if (d.failed) {
        tes_buf_free(&d);
        return reg_nomem("writing the audit entry");
    }
    tes_err e = audit(r, now_of(r), op, action_name(v), (const char *)d.ptr);
    tes_buf_free(&d);
    return e;
}

/* Withdraws the open offers and the access tokens of one person (device
 * NULL) or of every person with a credential on device; "; N offers and M
 * access tokens withdrawn" into tail ("" when none). */
static tes_err withdraw(tes_registry *r, int64_t person, const char *device, char *tail,
                        size_t cap)
{
    tail[0] = '\0';
    int64_t now = now_of(r);
    reg_result res = {0};
    reg_arg a[] = {device ? REG_TEXT(device) : REG_INT(person), REG_INT(now)};
    tes_err e = x(r, device ? RS_OFFERS_WITHDRAW_DEVICE : RS_OFFERS_WITHDRAW, a, 2, &res);
    size_t offers = res.nrows;
    reg_result_free(&res);
    if (e)
        return e;
    e = x(r, device ? RS_TOKENS_WITHDRAW_DEVICE : RS_TOKENS_WITHDRAW, a, 2, &res);
    size_t tokens = res.nrows;
    reg_result_free(&res);
    if (!e && (offers || tokens))
        snprintf(tail, cap, "; %zu open %s and %zu access %s withdrawn", offers,
                 offers == 1 ? "offer" : "offers", tokens, tokens == 1 ? "token" : "tokens");
    return e;
}

static tes_err status_person(tes_registry *r, status_ctx *c)
{
    /* The person's state first (its row stays locked), then offers, tokens and
     * credentials: an issuance (which locks the same first) sees all or none. */
    tes_err e = lock_issuance(r);
    int64_t state = 0;
    if (!e)
        e = person_state(r, c->person, &state);
    if (e)
        return e;
    if (state == TES_STATUS_REVOKED && c->v != TES_STATUS_REVOKED)
        return tes_err_set(TES_ERR_STATE,
                           "registry: person %lld is revoked; revocation is final (cannot %s)",
                           (long long)c->person, action_name(c->v));
    reg_result res = {0};
    if (state != (int64_t)c->v) {
        reg_arg s[] = {REG_INT(c->person), REG_INT((int64_t)c->v)};
        if ((e = x(r, RS_PERSON_STATE_SET, s, 2, NULL)))
            return e;
    }
    char tail[96] = "";
    if (c->v != TES_STATUS_VALID && (e = withdraw(r, c->person, NULL, tail, sizeof tail)))
        return e;
    reg_arg a[] = {REG_INT(c->person), REG_INT((int64_t)c->v)};
    if ((e = x(r, RS_CRED_SET_PERSON, a, 2, &res)))
        return e;
    int64_t *ids = malloc((res.nrows + 1) * sizeof *ids);
    if (!ids) {
        reg_result_free(&res);
        return reg_nomem("setting status");
    }
    for (size_t i = 0; i < res.nrows; i++)
        ids[i] = reg_cell_int(&res, i, 0);
    c->changed = res.nrows;
    reg_result_free(&res);
    char head[96];
    snprintf(head, sizeof head, "person %lld: ", (long long)c->person);
    return audit_status_change(r, c->op, c->v, head, ids, c->changed, tail);
}

static tes_err status_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    status_ctx *c = vctx;
    c->changed = 0;
    return c->cred ? status_one(r, c) : status_person(r, c);
}

tes_err tes_registry_set_status(tes_registry *r, int64_t credential_id, int64_t person_id,
                                tes_status_value v, const char *operator_name, size_t *changed)
{
    if (changed)
        *changed = 0;
    if (!r || !text_ok(operator_name, REG_MAX_TEXT))
        return tes_err_set(TES_ERR_ARG, "registry: set_status needs a registry and an operator "
                                        "name");
    if (v != TES_STATUS_VALID && v != TES_STATUS_REVOKED && v != TES_STATUS_SUSPENDED)
        return tes_err_set(TES_ERR_ARG, "registry: status %d is not valid, revoked or suspended",
                           (int)v);
    if (credential_id <= 0 && person_id <= 0)
        return tes_err_set(TES_ERR_ARG, "registry: set_status needs a credential id or a person "
                                        "id");
    if (credential_id < 0 || person_id < 0)
        return tes_err_set(TES_ERR_ARG, "registry: negative id");
    status_ctx c = {credential_id, person_id, v, operator_name, 0};
    tes_err e = run_tx(r, status_body, &c);
    if (!e && changed)
        *changed = c.changed;
    return e;
}

tes_err tes_registry_status_list(tes_registry *r, const char *list_uri, size_t list_size,
                                 tes_status_list *out)
{
    if (!r || !text_ok(list_uri, REG_MAX_TEXT - 1) || !out)
        return tes_err_set(TES_ERR_ARG, "registry: status_list needs a registry, a uri and an "
                                        "output");
    memset(out, 0, sizeof *out);
    if (list_size == 0 || list_size > TES_STATUS_MAX_ENTRIES)
        return tes_err_set(TES_ERR_ARG, "registry: a status list has 1 to %u entries, not %zu",
                           TES_STATUS_MAX_ENTRIES, list_size);
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(list_uri)};
    tes_err e = x(r, RS_LIST_GET, a, 1, &res);
    if (!e && res.nrows == 1 && reg_cell_int(&res, 0, 0) != (int64_t)list_size)
        e = tes_err_set(TES_ERR_ARG, "registry: status list %s has %lld entries, not %zu", list_uri,
                        (long long)reg_cell_int(&res, 0, 0), list_size);
    reg_result_free(&res);
    if (e)
        return e;
    if ((e = x(r, RS_CRED_NONVALID_IN_LIST, a, 1, &res)))
        return e;
    tes_status_list l = {0};
    e = tes_status_list_new(list_size, &l);
    for (size_t i = 0; !e && i < res.nrows; i++) {
        int64_t idx = reg_cell_int(&res, i, 0), v = reg_cell_int(&res, i, 1);
        if (idx < 0 || (uint64_t)idx >= list_size || (v != 1 && v != 2))
            e = tes_err_set(TES_ERR_STORE_CORRUPT,
                            "registry: status list %s: entry %lld with value %lld out of range",
                            list_uri, (long long)idx, (long long)v);
        else
            e = tes_status_list_set(&l, (size_t)idx, (tes_status_value)v);
    }
    reg_result_free(&res);
    if (e) {
        tes_status_list_free(&l);
        return e;
    }
    *out = l;
    return TES_OK;
}

/* ------------------------------------------------------------------- audit */

void tes_registry_audit_free(tes_registry_audit_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].operator_name);
        free(e[i].action);
        free(e[i].detail);
    }
    free(e);
}

tes_err tes_registry_audit_list(tes_registry *r, tes_registry_audit_entry **out, size_t *n)
{
    if (!r || !out || !n)
        return tes_err_set(TES_ERR_ARG, "registry: audit_list needs a registry and outputs");
    *out = NULL;
    *n = 0;
    reg_result res = {0};
    tes_err e = x(r, RS_AUDIT_LIST, NULL, 0, &res);
    if (e)
        return e;
    tes_registry_audit_entry *arr = calloc(res.nrows + 1, sizeof *arr);
    if (!arr) {
        reg_result_free(&res);
        return reg_nomem("listing the audit log");
    }
    for (size_t i = 0; i < res.nrows; i++) {
        arr[i].id = reg_cell_int(&res, i, 0);
        arr[i].at = reg_cell_int(&res, i, 1);
        /* take the text cells over */
        arr[i].operator_name = res.cell[i * res.ncols + 2];
        arr[i].action = res.cell[i * res.ncols + 3];
        arr[i].detail = res.cell[i * res.ncols + 4];
        res.cell[i * res.ncols + 2] = res.cell[i * res.ncols + 3] = res.cell[i * res.ncols + 4] =
            NULL;
        if (!arr[i].operator_name || !arr[i].action || !arr[i].detail)
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: audit entry %lld has NULL fields",
                            (long long)arr[i].id);
    }
    size_t count = res.nrows;
    reg_result_free(&res);
    if (e) {
        tes_registry_audit_free(arr, count);
        return e;
    }
    *out = arr;
    *n = count;
    return TES_OK;
}

/* ------------------------------------------------------- devices (schema v2) */

typedef struct {
    const char *device; /* 64 lower-case hex digits */
    int64_t person;     /* 0: any */
    tes_status_value v;
    const char *op;
    size_t changed;
} device_status_ctx;

static tes_err device_status_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    device_status_ctx *c = vctx;
    c->changed = 0;
    tes_err e = lock_issuance(r);
    if (e)
        return e;
    if (c->person && (e = person_exists(r, c->person)))
        return e;
    /* Something must be bound to the device (for that person): a mistyped
     * device id is an error, not "nothing changed". */
    reg_result res = {0};
    reg_arg q[] = {REG_TEXT(c->device), REG_INT(c->person)};
    if ((e = x(r, c->person ? RS_CRED_DEVICE_PERSON_ANY : RS_CRED_DEVICE_ANY, q, c->person ? 2 : 1,
               &res)))
        return e;
    size_t any = res.nrows;
    reg_result_free(&res);
    if (!any)
        return c->person
                   ? tes_err_set(TES_ERR_NOT_FOUND,
                                 "registry: no credential of person %lld is bound to "
                                 "device %.16s...",
                                 (long long)c->person, c->device)
                   : tes_err_set(TES_ERR_NOT_FOUND,
                                 "registry: no credential is bound to device %.16s...", c->device);
    if (c->person) {
        reg_arg a[] = {REG_TEXT(c->device), REG_INT(c->person), REG_INT((int64_t)c->v)};
        e = x(r, RS_CRED_SET_DEVICE_PERSON, a, 3, &res);
    } else {
        reg_arg a[] = {REG_TEXT(c->device), REG_INT((int64_t)c->v)};
        e = x(r, RS_CRED_SET_DEVICE, a, 2, &res);
    }
    if (e)
        return e;
    int64_t *ids = malloc((res.nrows + 1) * sizeof *ids);
    if (!ids) {
        reg_result_free(&res);
        return reg_nomem("setting status");
    }
    for (size_t i = 0; i < res.nrows; i++)
        ids[i] = reg_cell_int(&res, i, 0);
    c->changed = res.nrows;
    reg_result_free(&res);
    /* The phone itself: nothing more is issued onto it (for the person, or for
     * anyone) until it is reinstated; a revoked phone stays blocked. The
     * affected holders' open offers and access tokens are withdrawn. */
    char tail[96] = "";
    if (c->v != TES_STATUS_VALID) {
        reg_arg k[] = {REG_TEXT(c->device), REG_INT(c->person), REG_INT((int64_t)c->v)};
        e = x(r, RS_DEVICE_BLOCK, k, 3, NULL);
        if (!e)
            e = withdraw(r, c->person, c->person ? NULL : c->device, tail, sizeof tail);
    } else {
        reg_arg k[] = {REG_TEXT(c->device), REG_INT(c->person)};
        e = x(r, c->person ? RS_DEVICE_UNBLOCK_PERSON : RS_DEVICE_UNBLOCK, k, c->person ? 2 : 1,
              NULL);
    }
    if (e) {
        free(ids);
        return e;
    }
    char head[160];
    if (c->person)
        snprintf(head, sizeof head, "device %s, person %lld: ", c->device, (long long)c->person);
    else
        snprintf(head, sizeof head, "device %s: ", c->device);
    return audit_status_change(r, c->op, c->v, head, ids, c->changed, tail);
}

tes_err tes_registry_set_status_by_device(tes_registry *r, const char *device, int64_t person_id,
                                          tes_status_value v, const char *operator_name,
                                          size_t *changed)
{
    if (changed)
        *changed = 0;
    if (!r || !text_ok(operator_name, REG_MAX_TEXT))
        return tes_err_set(TES_ERR_ARG, "registry: set_status_by_device needs a registry and an "
                                        "operator name");
    if (!thumbprint_ok(device))
        return tes_err_set(TES_ERR_ARG, "registry: a device id is 64 hex digits (SHA-256)");
    if (v != TES_STATUS_VALID && v != TES_STATUS_REVOKED && v != TES_STATUS_SUSPENDED)
        return tes_err_set(TES_ERR_ARG, "registry: status %d is not valid, revoked or suspended",
                           (int)v);
    if (person_id < 0)
        return tes_err_set(TES_ERR_ARG, "registry: negative id");
    char dev[65];
    hex64_lower(device, dev);
    device_status_ctx c = {dev, person_id, v, operator_name, 0};
    tes_err e = run_tx(r, device_status_body, &c);
    if (!e && changed)
        *changed = c.changed;
    return e;
}

/* ------------------------------------------------ recovery codes (schema v2) */

/* 32 symbols without 0/O, 1/I (read aloud, typed from paper). */
static const char REC_ALPHABET[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
#define REC_SYMBOLS 16 /* 80 bits */

/* Upper-cases, drops '-' and blanks; false unless exactly REC_SYMBOLS symbols remain. */
static bool recovery_normalize(const char *in, char out[REC_SYMBOLS + 1])
{
    size_t n = 0;
    for (size_t i = 0; in[i]; i++) {
        char ch = in[i];
        if (ch == '-' || ch == ' ' || ch == '\t')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (n == REC_SYMBOLS || ch == '\0' || !strchr(REC_ALPHABET, ch))
            return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n == REC_SYMBOLS;
}

typedef struct {
    int64_t person, now;
    const char *hash;
} recovery_ctx;

static tes_err recovery_set_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    recovery_ctx *c = vctx;
    tes_err e = person_exists(r, c->person);
    if (e)
        return e;
    reg_arg d[] = {REG_INT(c->person)};
    if ((e = x(r, RS_RECOVERY_DELETE, d, 1, NULL)))
        return e;
    reg_arg a[] = {REG_INT(c->person), REG_TEXT(c->hash), REG_INT(c->now)};
    if ((e = x(r, RS_RECOVERY_INSERT, a, 3, NULL)))
        return e;
    char detail[96];
    snprintf(detail, sizeof detail, "person %lld: new recovery code (any earlier one is void)",
             (long long)c->person);
    return audit(r, c->now, "system", "recovery-code", detail);
}

tes_err tes_registry_recovery_set(tes_registry *r, int64_t person_id, int64_t now, char code[32])
{
    if (!r || !code || person_id <= 0)
        return tes_err_set(TES_ERR_ARG, "registry: recovery_set needs a registry, a person and an "
                                        "output");
    code[0] = '\0';
    uint8_t raw[REC_SYMBOLS];
    char sym[REC_SYMBOLS + 1], h[65];
    tes_err e = rand_fill(r, raw, sizeof raw);
    if (!e) {
        for (int i = 0; i < REC_SYMBOLS; i++)
            sym[i] = REC_ALPHABET[raw[i] & 31]; /* 256 = 8 * 32: uniform */
        sym[REC_SYMBOLS] = '\0';
        e = hash_hex("recovery", sym, h);
    }
    if (!e) {
        recovery_ctx c = {person_id, now, h};
        e = run_tx(r, recovery_set_body, &c);
    }
    if (!e) {
        /* ABCD-EFGH-JKLM-NPQR */
        size_t k = 0;
        for (int i = 0; i < REC_SYMBOLS; i++) {
            if (i && i % 4 == 0)
                code[k++] = '-';
            code[k++] = sym[i];
        }
        code[k] = '\0';
    }
    tes_wipe(raw, sizeof raw);
    tes_wipe(sym, sizeof sym);
    return e;
}

tes_err tes_registry_recovery_check(tes_registry *r, const char *code, int64_t *person_id)
{
    if (!r || !code || !person_id)
        return tes_err_set(TES_ERR_ARG, "registry: recovery_check needs a registry, a code and an "
                                        "output");
    *person_id = 0;
    char sym[REC_SYMBOLS + 1], h[65];
    if (strnlen(code, REG_MAX_SECRET + 1) > REG_MAX_SECRET || !recovery_normalize(code, sym)) {
        tes_wipe(sym, sizeof sym);
        return tes_err_set(TES_ERR_GRANT, "registry: unknown recovery code");
    }
    /* Looked up by its hash: nothing is compared byte by byte with the secret. */
    tes_err e = hash_hex("recovery", sym, h);
    tes_wipe(sym, sizeof sym);
    if (e)
        return e;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(h)};
    e = x(r, RS_RECOVERY_GET, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_GRANT, "registry: unknown recovery code");
    if (!e)
        *person_id = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    return e;
}
