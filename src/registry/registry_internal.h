/*
 * Private to src/registry/: the small database interface the registry's logic
 * (registry.c) runs on, and its two implementations (reg_sqlite.c, reg_pg.c).
 *
 * The logic is written once, against numbered statements (reg_stmts[]) whose
 * SQL is portable between SQLite 3.35+ and PostgreSQL 15: $1, $2 ... for
 * parameters (SQLite reads them as ?1, ?2 ...), INSERT ... RETURNING,
 * ON CONFLICT ... DO NOTHING, BIGINT and TEXT only (the registry stores no
 * binary values: hashes are hex, claims are JSON text). A statement that
 * decides on a row and then changes it is flagged for_update: PostgreSQL runs
 * it as SELECT ... FOR UPDATE (row lock, READ COMMITTED); SQLite needs no
 * flag because BEGIN IMMEDIATE already holds the database's write lock.
 *
 * Results come back as text cells (what both engines give cheaply): integers
 * in decimal, SQL NULL as a NULL cell.
 */
#ifndef TES_REGISTRY_INTERNAL_H
#define TES_REGISTRY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/registry.h"

/* ---- statements ---- */
enum {
    RS_PERSON_INSERT,
    RS_PERSON_GET,
    RS_PERSON_EXISTS,
    RS_OFFER_INSERT,
    RS_OFFER_LOCK,
    RS_OFFER_ATTEMPT,
    RS_OFFER_USE,
    RS_TOKEN_INSERT,
    RS_TOKEN_GET,
    RS_TOKEN_PURGE,
    RS_NONCE_PURGE,
    RS_LIST_ENSURE,
    RS_LIST_RESERVE,
    RS_LIST_GET,
    RS_CRED_INSERT,
    RS_CRED_USED_IDX,
    RS_CRED_LOCK,
    RS_CRED_SET,
    RS_CRED_SET_PERSON,
    RS_CRED_NONVALID_IN_LIST,
    RS_AUDIT_INSERT,
    RS_AUDIT_LIST,
    /* schema v2: devices and recovery codes */
    RS_CRED_SET_DEVICE,
    RS_CRED_SET_DEVICE_PERSON,
    RS_CRED_DEVICE_ANY,
    RS_CRED_DEVICE_PERSON_ANY,
    RS_RECOVERY_DELETE,
    RS_RECOVERY_INSERT,
    RS_RECOVERY_GET,
    /* schema v3: person and device state, withdrawn offers and tokens, budgets,
     * status list series, stateless nonces */
    RS_LOCK_ISSUANCE,
    RS_PERSON_STATE_LOCK,
    RS_PERSON_STATE_SET,
    RS_OFFERS_WITHDRAW,
    RS_TOKENS_WITHDRAW,
    RS_OFFERS_WITHDRAW_DEVICE,
    RS_TOKENS_WITHDRAW_DEVICE,
    RS_DEVICE_BLOCK,
    RS_DEVICE_UNBLOCK,
    RS_DEVICE_UNBLOCK_PERSON,
    RS_DEVICE_BLOCKED,
    RS_TOKEN_LOCK,
    RS_OFFER_CHARGE,
    RS_OFFER_ISSUED,
    RS_PERSON_ISSUED_SINCE,
    RS_SERIES_ENSURE,
    RS_SERIES_LOCK,
    RS_SERIES_SET,
    RS_SERIES_GET,
    RS_BATCH_INSERT_OFFER,
    RS_SECRET_ENSURE,
    RS_SECRET_GET,
    RS_NONCE_RECORD,
    RS_PERSON_STATE_GET,
    RS_COUNT
};

typedef struct reg_stmt {
    const char *sql;
    bool for_update; /* PostgreSQL: append " FOR UPDATE" */
} reg_stmt;

extern const reg_stmt reg_stmts[RS_COUNT];

/* Schema migrations, one text per version (migration i brings the schema from
 * version i to i+1), the same CREATE TABLE text instantiated for each engine:
 * only the type of the generated primary keys differs. Each backend runs them
 * in one transaction together with its own bookkeeping. */
extern const char *const reg_migrations_sqlite[];
extern const char *const reg_migrations_pg[];
extern const int reg_migrations_count;
/* Tables that must exist after migration. */
extern const char *const reg_required_tables[];
extern const size_t reg_required_tables_count;

/* ---- statement arguments and results ---- */
typedef struct reg_arg {
    const char *text; /* text value, or NULL for an integer */
    int64_t i;
} reg_arg;

#define REG_INT(v) ((reg_arg){NULL, (int64_t)(v)})
#define REG_TEXT(v) ((reg_arg){(v), 0})

typedef struct reg_result {
    size_t nrows, ncols;
    char **cell; /* nrows * ncols, row-major; NULL cell for SQL NULL */
    size_t cap;  /* cells allocated */
} reg_result;

void reg_result_free(reg_result *res);
/* Cell access (row/col in range). */
const char *reg_cell(const reg_result *res, size_t row, size_t col);
int64_t reg_cell_int(const reg_result *res, size_t row, size_t col);

/* ---- the backend interface (one connection) ---- */
typedef struct reg_backend reg_backend;

typedef struct reg_backend_class {
    const char *name;
    void (*close)(reg_backend *b);
    /* Starts a read-write transaction. durable false: its commit need not be on disk when
     * commit returns (SQLite synchronous=NORMAL for it, PostgreSQL synchronous_commit off):
     * a power loss or OS crash may undo it, a killed process may not, and it is never
     * half applied nor kept while a later durable commit is lost (both engines write their
     * log in commit order and make it durable up to a point). Only for changes whose loss
     * harms no one: a fresh c_nonce (the wallet asks for another). */
    tes_err (*begin)(reg_backend *b, bool durable);
    tes_err (*commit)(reg_backend *b);
    /* Rolls back the open transaction, if any, keeping the recorded error. */
    void (*rollback)(reg_backend *b);
    /* Runs statement `which` with nargs arguments; rows (if any) into *res
     * when res is not NULL (*res is zeroed first and owned by the caller). */
    tes_err (*exec)(reg_backend *b, int which, const reg_arg *args, size_t nargs, reg_result *res);
} reg_backend_class;

struct reg_backend {
    const reg_backend_class *vt;
    /* Set by a failing exec/commit when the failure is a transient conflict
     * with another transaction (PostgreSQL 40001 serialization failure, 40P01
     * deadlock): the whole transaction may be run again. */
    bool retryable;
};

/* now: the time a migration run by the open is recorded at (migrations.applied_at). */
tes_err reg_sqlite_open(const char *path, int64_t now, reg_backend **out);
tes_err reg_pg_open(const char *url, int64_t now, reg_backend **out);

/* Counters of the SQLite backend since the process started (for tests and benchmarks):
 * writers that queued on a file's in-process write gate, waits on it that timed out,
 * waits that found the gate free only at their deadline (no release woke them: should
 * not happen), and calls of the busy handler (a lock held outside the gate: another
 * process). */
typedef struct reg_sqlite_stats {
    uint64_t gate_waits, gate_timeouts, gate_late, busy_calls;
} reg_sqlite_stats;
void reg_sqlite_stats_get(reg_sqlite_stats *out);

/* Helpers shared by the backends. */
tes_err reg_nomem(const char *what);
/* Appends a row of ncols NULL cells to a result. */
tes_err reg_result_add_row(reg_result *res, size_t ncols);
/* Sets a cell of the last row to a copy of value[0..len) (value NULL: SQL NULL). */
tes_err reg_result_set(reg_result *res, size_t col, const char *value, size_t len);

#endif
