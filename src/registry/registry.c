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
 *   credentials issued (and revokes them). A transaction that fails with a transient conflict
 * (40001 serialization failure, 40P01 deadlock) is run again, up to REG_MAX_TRIES times with a
 * growing random pause; then TES_ERR_BUSY. Every commit is durable when the call returns (SQLite
 * synchronous=FULL). Making a nonce writes nothing (schema v3: nonces are authenticated, not
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
#include "registry/reg_logic.h"

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

const char *const reg_required_tables[] = {
    "migrations",    "persons",       "offers",      "tokens", "nonces",
    "batches",       "status_lists",  "credentials", "audit",  "recovery",
    "device_blocks", "status_series", "locks",       "secrets"};
const size_t reg_required_tables_count = sizeof reg_required_tables / sizeof(const char *);

const reg_stmt reg_stmts[RS_COUNT] = {
    [RS_PERSON_INSERT] = {.sql =
                              "INSERT INTO persons(doctype, claims, created_at) VALUES ($1, $2, $3)"
                              " RETURNING id"},
    [RS_PERSON_GET] = {.sql = "SELECT doctype, claims FROM persons WHERE id = $1"},
    [RS_PERSON_EXISTS] = {.sql = "SELECT id FROM persons WHERE id = $1"},
    [RS_OFFER_INSERT] =
        {.sql = "INSERT INTO offers(person_id, code_hash, tx_hash, tx_digits, created_at,"
                " expires_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING id"},
    [RS_OFFER_LOCK] =
        {.sql = "SELECT id, person_id, tx_hash, tx_digits, expires_at, attempts, used_at,"
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
    [RS_CRED_LOCK] = {.sql = "SELECT person_id, status FROM credentials WHERE id = $1",
                      .for_update = true},
    [RS_CRED_SET] = {.sql = "UPDATE credentials SET status = $2 WHERE id = $1"},
    [RS_CRED_SET_PERSON] = {.sql = "UPDATE credentials SET status = $2 WHERE person_id = $1"
                                   " AND status <> 1 AND status <> $2 RETURNING id"},
    [RS_CRED_NONVALID_IN_LIST] = {.sql = "SELECT idx, status FROM credentials WHERE list_uri = $1"
                                         " AND status <> 0"},
    [RS_AUDIT_INSERT] = {.sql = "INSERT INTO audit(at, operator_name, action, detail)"
                                " VALUES ($1, $2, $3, $4)"},
    [RS_AUDIT_LIST] = {.sql =
                           "SELECT id, at, operator_name, action, detail FROM audit ORDER BY id"},
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
    [RS_OFFERS_WITHDRAW_DEVICE] = {.sql =
                                       "UPDATE offers SET withdrawn_at = $2 WHERE used_at IS NULL"
                                       " AND withdrawn_at IS NULL AND person_id IN"
                                       " (SELECT person_id FROM credentials WHERE device = $1)"
                                       " RETURNING id"},
    [RS_TOKENS_WITHDRAW_DEVICE] =
        {.sql = "UPDATE tokens SET withdrawn_at = $2 WHERE withdrawn_at IS NULL"
                " AND person_id IN"
                " (SELECT person_id FROM credentials WHERE device = $1)"
                " RETURNING offer_id"},
    [RS_DEVICE_BLOCK] =
        {.sql = "INSERT INTO device_blocks(device, person_id, state) VALUES ($1, $2, $3)"
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
    [RS_PERSON_ISSUED_SINCE] = {.sql =
                                    "SELECT COALESCE(SUM(copies), 0), MIN(created_at) FROM batches"
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
    [RS_NONCE_RECORD] = {.sql =
                             "INSERT INTO nonces(nonce_hash, expires_at, used) VALUES ($1, $2, 1)"
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
    char *c = tes_bytes_cstr(TES_BYTES(value, len));
    if (!c)
        return reg_nomem("reading rows");
    res->cell[(res->nrows - 1) * res->ncols + col] = c;
    return TES_OK;
}

/* ------------------------------------------------------------ transactions */

tes_err reg_exec(tes_registry *r, int which, const reg_arg *args, size_t nargs, reg_result *res)
{
    return r->b->vt->exec(r->b, which, args, nargs, res);
}

tes_err reg_rand_fill(tes_registry *r, uint8_t *p, size_t n)
{
    return tes_rng_fill(&r->rng, p, n);
}

int64_t reg_now(const tes_registry *r)
{
    return tes_clock_now(&r->clock);
}

/* Uniform in [0, bound), bound >= 1, by rejection. */
tes_err reg_rand_below(tes_registry *r, uint64_t bound, uint64_t *out)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound; /* multiple of bound */
    for (;;) {
        uint8_t b[8];
        tes_err e = reg_rand_fill(r, b, sizeof b);
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
    if (reg_rand_below(r, cap_us, &d) != TES_OK)
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
tes_err reg_run_tx(tes_registry *r, reg_body body, void *ctx)
{
    return run_tx_as(r, true, body, ctx);
}

tes_err reg_audit(tes_registry *r, int64_t at, const char *op, const char *action,
                  const char *detail)
{
    reg_arg a[] = {REG_INT(at), REG_TEXT(op), REG_TEXT(action), REG_TEXT(detail)};
    return reg_exec(r, RS_AUDIT_INSERT, a, 4, NULL);
}

tes_err reg_person_exists(tes_registry *r, int64_t person_id)
{
    reg_result res = {0};
    reg_arg a[] = {REG_INT(person_id)};
    tes_err e = reg_exec(r, RS_PERSON_EXISTS, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_NOT_FOUND, "registry: no person %lld", (long long)person_id);
    reg_result_free(&res);
    return e;
}

/* The person's person-wide status (0 valid, 1 revoked, 2 suspended), its row
 * locked (PostgreSQL) until the transaction ends. TES_ERR_NOT_FOUND. */
tes_err reg_person_state(tes_registry *r, int64_t person_id, int64_t *state)
{
    reg_result res = {0};
    reg_arg a[] = {REG_INT(person_id)};
    tes_err e = reg_exec(r, RS_PERSON_STATE_LOCK, a, 1, &res);
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
tes_err reg_lock_issuance(tes_registry *r)
{
    reg_result res = {0};
    tes_err e = reg_exec(r, RS_LOCK_ISSUANCE, NULL, 0, &res);
    if (!e && res.nrows != 1)
        e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: the issuance lock row is missing");
    reg_result_free(&res);
    return e;
}

/* ----------------------------------------------------------------- secrets */

/* Hex SHA-256 of a || ":" || b (b may be NULL: just a). */
tes_err reg_hash_hex(const char *a, const char *b, char out[65])
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
tes_err reg_rand_b64url(tes_registry *r, size_t nbytes, char *out, size_t cap)
{
    uint8_t raw[64];
    if (nbytes > sizeof raw)
        return tes_err_set(TES_ERR_ARG, "registry: secret too long");
    tes_err e = reg_rand_fill(r, raw, nbytes);
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
tes_err reg_rand_digits(tes_registry *r, int n, char *out, size_t cap)
{
    if ((size_t)n >= cap)
        return tes_err_set(TES_ERR_ARG, "registry: too many digits");
    int got = 0;
    while (got < n) {
        uint8_t b[32];
        tes_err e = reg_rand_fill(r, b, sizeof b);
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

bool reg_text_ok(const char *s, size_t max)
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
    int64_t now = reg_now(r); /* migrations.applied_at */
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
    tes_err e = reg_exec(r, RS_AUDIT_LIST, NULL, 0, &res);
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
