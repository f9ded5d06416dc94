/*
 * The registry's SQLite backend (the default: a file on one machine).
 *
 * House rules as in the wallet store (src/store/wallet_store.c):
 *   - One connection per tes_registry, SQLITE_OPEN_NOMUTEX (one thread at a
 *     time); several connections and processes may share the file. Do not
 *     carry an open registry across fork().
 *   - journal_mode=WAL, synchronous=FULL: a process killed at any instant
 *     leaves the last committed state, and a commit is on disk when it
 *     returns (except a transaction begun non-durable, registry_internal.h:
 *     synchronous=NORMAL for it alone). Every change is one BEGIN IMMEDIATE ...
 *     COMMIT (the write lock is taken at BEGIN, so read-decide-write never
 *     interleaves with another connection). A lock held elsewhere is waited
 *     for up to REG_SQLITE_BUSY_MS in all, then TES_ERR_BUSY.
 *   - Waiting for the write lock (see "The write gate" below): connections of
 *     this process to one database file (same device and inode) queue for it
 *     on an in-process gate, taken before BEGIN IMMEDIATE and released after
 *     COMMIT or ROLLBACK, in arrival order (bar one overtaking, see there),
 *     each woken the moment its turn comes. Only a lock held by another
 *     process (or by a connection that is not the registry's) reaches
 *     SQLite's busy handler, which here polls with short pauses (yield, then
 *     50 to 200 us) instead of SQLite's default 1 to 100 ms sleeps. The gate
 *     is an optimisation only: SQLite's own file locks still decide, so
 *     several processes stay correct.
 *   - Waits and deadlines are measured on CLOCK_MONOTONIC, never the wall
 *     clock (which is the registry's injected tes_clock, registry.c). The busy
 *     handler's pause jitter is a per-connection xorshift seeded from the
 *     connection's address, the monotonic clock and the pid: scheduling noise
 *     that nothing depends on, deliberately not drawn from the injected
 *     tes_rng so that connections sharing one deterministic test rng still
 *     spread their retries.
 *   - The file is recognised before anything is written: a non-empty file not
 *     starting with the SQLite header, or an SQLite database of another
 *     application (application_id other than "TESR", or 0 with tables in it)
 *     is refused as TES_ERR_STORE_CORRUPT, unmodified; a newer schema version
 *     than this build knows is TES_ERR_STORE. SQLITE_CORRUPT / NOTADB from
 *     any statement map to TES_ERR_STORE_CORRUPT.
 *   - A missing file is created 0600 (O_EXCL); the last path component must
 *     not be a symbolic link.
 *   - Statements are prepared once (SQLITE_PREPARE_PERSISTENT) and kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry_internal.h"
#include "store/sqlite_file.h"

/* PRAGMA application_id of a Tessera registry: "TESR". */
#define REG_SQLITE_APP_ID 0x54455352
#define REG_SQLITE_BUSY_MS 5000

typedef struct reg_gate reg_gate;

typedef struct sqlite_backend {
    reg_backend base;
    sqlite3 *db;
    sqlite3_stmt *st[RS_COUNT];
    sqlite3_stmt *begin, *commit, *rollback;
    sqlite3_stmt *sync[2];  /* PRAGMA synchronous = NORMAL, = FULL */
    bool sync_full;         /* the connection's current setting */
    char *path;             /* as opened */
    bool tracked;           /* counted in open_files */
    reg_gate *gate;         /* this file's write gate (NULL: none could be made) */
    bool gate_held;         /* between BEGIN and COMMIT/ROLLBACK */
    pid_t pid;              /* the process that opened the connection */
    int64_t begin_deadline; /* while BEGIN runs: when its wait (gate included) ends, ns */
    int64_t busy_until;     /* the busy handler's current deadline, ns */
    uint32_t rng;           /* jitter of the busy handler's pauses */
} sqlite_backend;

static const sqlite_file_kind registry_kind = {
    .who = "registry",
    .noun = "database",
    .what = "a Tessera registry",
    .busy_ms = REG_SQLITE_BUSY_MS,
    .app_id = REG_SQLITE_APP_ID,
};

static tes_err sql_fail(sqlite3 *db, int rc, const char *what)
{
    return sqlite_file_fail(&registry_kind, db, rc, what);
}

/* --------------------------------------------------------- the write gate */

/*
 * SQLite's write lock is a file lock: a writer that finds it taken can only
 * poll, through the busy handler, and sqlite3_busy_timeout's handler sleeps 1,
 * 2, 5, 10 ... 100 ms between tries. With several service threads writing at
 * once, most of their time went into those sleeps while the lock was free.
 *
 * So the connections of one process to one file queue in front of the lock:
 * a reg_gate per file (keyed by device and inode, like open_files in
 * store/sqlite_file.c, so two paths to one file share it), taken before BEGIN
 * IMMEDIATE and released after COMMIT or ROLLBACK. Waiters sleep on their own
 * condition variable in a FIFO queue; a release wakes the first. Until that
 * thread runs, a writer that just arrives may take the free gate (on a busy
 * machine the woken thread can wait a while for a CPU, and the gate would sit
 * idle meanwhile); but if the first waiter, once woken, still has not got the
 * gate at the next release, that release hands the gate to it directly. So a
 * waiter at the head of the queue is passed at most once, and no writer can
 * starve into its timeout. A waiter gives up at the deadline of the whole
 * BEGIN (REG_SQLITE_BUSY_MS from its start), with the error a busy SQLite
 * lock gives.
 *
 * Lock order: gate, then SQLite's write lock. Only writers take the gate, and
 * a thread holds at most one (a transaction never spans registry calls).
 *
 * fork(): a child does not use its parent's connections (house rule) and must
 * not inherit its queue: a gate belongs to the process that made it (pid), a
 * child opening the file makes its own, and gates_mu is held across fork() so
 * a child never finds it locked.
 */
typedef struct gate_waiter {
    pthread_cond_t cv;
    bool granted; /* the gate was handed to this waiter */
    bool woken;   /* a release woke it (as first waiter) without handing it the gate */
    struct gate_waiter *next;
} gate_waiter;

struct reg_gate {
    dev_t dev;
    ino_t ino;
    pid_t pid;
    int refs; /* connections attached; under gates_mu */
    pthread_mutex_t mu;
    bool held;
    gate_waiter *head, *tail; /* FIFO of waiters */
    reg_gate *next;
};

static pthread_mutex_t gates_mu = PTHREAD_MUTEX_INITIALIZER;
static reg_gate *gates;
static pthread_once_t gates_once = PTHREAD_ONCE_INIT;
static pthread_condattr_t mono_attr; /* condition variables timed on CLOCK_MONOTONIC */
static atomic_uint_least64_t stat_gate_waits, stat_gate_timeouts, stat_gate_late, stat_busy_calls;

static void gates_prefork(void)
{
    pthread_mutex_lock(&gates_mu);
}

static void gates_postfork(void)
{
    pthread_mutex_unlock(&gates_mu);
}

/* The child forgets the parent's gates (their mutexes may be held by parent threads
 * that do not exist here, their queues point into those threads' stacks): its own
 * connections get gates of their own. Connections carried across fork keep pointing at
 * the old ones, which gate_detach then leaves alone. */
static void gates_postfork_child(void)
{
    gates = NULL;
    pthread_mutex_unlock(&gates_mu);
}

static void gates_init(void)
{
    pthread_condattr_init(&mono_attr);
    pthread_condattr_setclock(&mono_attr, CLOCK_MONOTONIC);
    (void)pthread_atfork(gates_prefork, gates_postfork, gates_postfork_child);
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Attaches s to the gate of the file at path (made on first use). Without one (the file
 * cannot be stat'ed, no memory) the connection only has SQLite's locking: still correct. */
static void gate_attach(sqlite_backend *s, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return;
    pthread_once(&gates_once, gates_init);
    pid_t pid = getpid();
    pthread_mutex_lock(&gates_mu);
    reg_gate *g = gates;
    while (g && !(g->dev == sb.st_dev && g->ino == sb.st_ino && g->pid == pid))
        g = g->next;
    if (!g && (g = calloc(1, sizeof *g)) != NULL) {
        if (pthread_mutex_init(&g->mu, NULL) != 0) {
            free(g);
            g = NULL;
        } else {
            g->dev = sb.st_dev;
            g->ino = sb.st_ino;
            g->pid = pid;
            g->next = gates;
            gates = g;
        }
    }
    if (g)
        g->refs++;
    pthread_mutex_unlock(&gates_mu);
    s->gate = g;
}

static void gate_detach(sqlite_backend *s)
{
    reg_gate *g = s->gate;
    if (!g)
        return;
    s->gate = NULL;
    pthread_mutex_lock(&gates_mu);
    /* A connection carried into a fork()ed child leaves its parent's gate alone. */
    if (--g->refs == 0 && g->pid == getpid()) {
        reg_gate **p = &gates;
        while (*p != NULL && *p != g)
            p = &(*p)->next;
        if (*p == g) { /* not found: a gate inherited across fork (pid reused), left alone */
            *p = g->next;
            pthread_mutex_destroy(&g->mu);
            free(g);
        }
    }
    pthread_mutex_unlock(&gates_mu);
}

/* Removes w from g's queue (g->mu held). */
static void gate_unqueue(reg_gate *g, gate_waiter *w)
{
    gate_waiter *prev = NULL, *q = g->head;
    while (q && q != w) {
        prev = q;
        q = q->next;
    }
    if (!q)
        return;
    if (prev)
        prev->next = w->next;
    else
        g->head = w->next;
    if (g->tail == w)
        g->tail = prev;
    w->next = NULL;
}

/* Takes s's gate, waiting at most until deadline (CLOCK_MONOTONIC ns). */
static bool gate_take(sqlite_backend *s, int64_t deadline)
{
    reg_gate *g = s->gate;
    pthread_mutex_lock(&g->mu);
    if (!g->held) {
        g->held = true;
        pthread_mutex_unlock(&g->mu);
        s->gate_held = true;
        return true;
    }
    atomic_fetch_add_explicit(&stat_gate_waits, 1, memory_order_relaxed);
    gate_waiter w = {.granted = false, .woken = false, .next = NULL};
    pthread_cond_init(&w.cv, &mono_attr);
    if (g->tail)
        g->tail->next = &w;
    else
        g->head = &w;
    g->tail = &w;
    struct timespec until = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    int rc = 0, cancel_state;
    /* pthread_cond_timedwait is a cancellation point: a thread cancelled here would leave
     * its waiter (on its stack) queued and the gate's mutex locked. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    while (!w.granted && g->held && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w.cv, &g->mu, &until);
    bool got = w.granted; /* handed over: already off the queue, held stays true */
    if (!got) {
        gate_unqueue(g, &w);
        if (!g->held) {
            got = g->held = true;
            if (rc == ETIMEDOUT) /* free at the deadline: a release did not wake us */
                atomic_fetch_add_explicit(&stat_gate_late, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&stat_gate_timeouts, 1, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&g->mu);
    pthread_setcancelstate(cancel_state, NULL);
    pthread_cond_destroy(&w.cv);
    s->gate_held = got;
    return got;
}

/* Releases s's gate if it holds it: wakes the first waiter, or hands the gate to it if an
 * earlier release woke it already (someone arriving took the gate before it ran). */
static void gate_give(sqlite_backend *s)
{
    reg_gate *g = s->gate;
    if (!s->gate_held)
        return;
    s->gate_held = false;
    pthread_mutex_lock(&g->mu);
    gate_waiter *w = g->head;
    if (w && w->woken) {
        g->head = w->next;
        if (!g->head)
            g->tail = NULL;
        w->next = NULL;
        w->granted = true; /* held stays true: it is w's now */
    } else {
        g->held = false;
        if (w)
            w->woken = true;
    }
    if (w)
        pthread_cond_signal(&w->cv); /* under mu: w cannot return and destroy cv before */
    pthread_mutex_unlock(&g->mu);
}

void reg_sqlite_stats_get(reg_sqlite_stats *out)
{
    out->gate_waits = atomic_load(&stat_gate_waits);
    out->gate_timeouts = atomic_load(&stat_gate_timeouts);
    out->gate_late = atomic_load(&stat_gate_late);
    out->busy_calls = atomic_load(&stat_busy_calls);
}

/* ------------------------------------------------------ the busy handler */

/*
 * Called by SQLite when a lock it needs is held by another connection: with
 * the gate, by another process (or a connection outside the registry). That
 * holder keeps the write lock for one transaction, typically well under a
 * millisecond plus an fdatasync, so poll often: yield twice, then pause 50,
 * 100, 200 us (with jitter, so two waiting processes do not poll in step),
 * 200 us on; after 100 ms of waiting (something holds it long) 1 ms.
 * SQLite restarts count at 0 for every statement it runs. The wait ends at
 * the deadline of BEGIN (which began before the gate) or REG_SQLITE_BUSY_MS
 * after the first call; then SQLite reports SQLITE_BUSY -> TES_ERR_BUSY.
 */
static int busy_wait(void *arg, int count)
{
    sqlite_backend *s = arg;
    int64_t now = mono_ns();
    if (count == 0)
        s->busy_until =
            s->begin_deadline ? s->begin_deadline : now + (int64_t)REG_SQLITE_BUSY_MS * 1000000;
    if (now >= s->busy_until)
        return 0;
    atomic_fetch_add_explicit(&stat_busy_calls, 1, memory_order_relaxed);
    if (count < 2) {
        sched_yield();
        return 1;
    }
    int64_t waited = now - (s->busy_until - (int64_t)REG_SQLITE_BUSY_MS * 1000000);
    int64_t us = waited > 100000000 ? 1000 : count == 2 ? 50 : count == 3 ? 100 : 200;
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 17;
    s->rng ^= s->rng << 5;
    int64_t ns = us * 1000 + (int64_t)(s->rng % (uint32_t)(us * 250)); /* + 0..25 % */
    if (ns > s->busy_until - now)
        ns = s->busy_until - now;
    struct timespec d = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {
    }
    return 1;
}

/* ------------------------------------------------------------- statements */

static tes_err prepare(sqlite_backend *s, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return sql_fail(s->db, rc, "preparing a statement");
    }
    return TES_OK;
}

/* The portable text uses $N; SQLite's numbered parameters are ?N. */
static tes_err stmt_get(sqlite_backend *s, int which, sqlite3_stmt **out)
{
    if (!s->st[which]) {
        const char *src = reg_stmts[which].sql;
        size_t n = strlen(src);
        char *sql = malloc(n + 1);
        if (!sql)
            return reg_nomem("preparing a statement");
        for (size_t i = 0; i <= n; i++)
            sql[i] = src[i] == '$' && src[i + 1] >= '0' && src[i + 1] <= '9' ? '?' : src[i];
        tes_err e = prepare(s, sql, &s->st[which]);
        free(sql);
        if (e)
            return e;
    }
    *out = s->st[which];
    return TES_OK;
}

static void stmt_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static tes_err step_none(sqlite_backend *s, sqlite3_stmt **slot, const char *sql, const char *what)
{
    tes_err e = TES_OK;
    if (!*slot && (e = prepare(s, sql, slot)))
        return e;
    int rc = sqlite3_step(*slot);
    e = rc == SQLITE_DONE ? TES_OK : sql_fail(s->db, rc, what);
    sqlite3_reset(*slot);
    return e;
}

static tes_err sq_exec(reg_backend *b, int which, const reg_arg *args, size_t nargs,
                       reg_result *res)
{
    sqlite_backend *s = (sqlite_backend *)b;
    if (res)
        memset(res, 0, sizeof *res);
    sqlite3_stmt *st = NULL;
    tes_err e = stmt_get(s, which, &st);
    if (e)
        return e;
    for (size_t i = 0; !e && i < nargs; i++) {
        int rc = args[i].text ? sqlite3_bind_text(st, (int)i + 1, args[i].text, -1, SQLITE_STATIC)
                              : sqlite3_bind_int64(st, (int)i + 1, args[i].i);
        if (rc != SQLITE_OK)
            e = sql_fail(s->db, rc, "binding a parameter");
    }
    int rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!res)
            continue;
        int ncols = sqlite3_column_count(st);
        if ((e = reg_result_add_row(res, (size_t)ncols)))
            break;
        for (int c = 0; !e && c < ncols; c++) {
            if (sqlite3_column_type(st, c) == SQLITE_NULL)
                continue;
            const char *t = (const char *)sqlite3_column_text(st, c);
            if (!t) {
                e = reg_nomem("reading a row");
                break;
            }
            e = reg_result_set(res, (size_t)c, t, (size_t)sqlite3_column_bytes(st, c));
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = sql_fail(s->db, rc, "running a statement");
    stmt_done(st);
    if (e && res)
        reg_result_free(res);
    return e;
}

/* ----------------------------------------------------------- transactions */

/* The gate first, then SQLite's write lock, within one REG_SQLITE_BUSY_MS. A non-durable
 * transaction runs with synchronous=NORMAL: in WAL mode its commit appends to the WAL
 * without fdatasync, and the next FULL commit's fdatasync (or a checkpoint's) covers it. */
static tes_err sq_begin(reg_backend *b, bool durable)
{
    sqlite_backend *s = (sqlite_backend *)b;
    if (durable != s->sync_full) {
        static const char *const sql[2] = {"PRAGMA synchronous = NORMAL",
                                           "PRAGMA synchronous = FULL"};
        tes_err e = step_none(s, &s->sync[durable], sql[durable], "setting pragmas");
        if (e)
            return e; /* still the old setting: a durable change never runs without FULL */
        s->sync_full = durable;
    }
    int64_t deadline = mono_ns() + (int64_t)REG_SQLITE_BUSY_MS * 1000000;
    if (s->gate && !s->gate_held && !gate_take(s, deadline))
        /* The same error as SQLite's own SQLITE_BUSY after the timeout. */
        return sqlite_file_fail(&registry_kind, NULL, SQLITE_BUSY, "starting a transaction");
    s->begin_deadline = deadline;
    tes_err e = step_none(s, &s->begin, "BEGIN IMMEDIATE", "starting a transaction");
    s->begin_deadline = 0;
    if (e)
        gate_give(s);
    return e;
}

static void sq_rollback(reg_backend *b)
{
    sqlite_backend *s = (sqlite_backend *)b;
    if (sqlite3_get_autocommit(s->db)) {
        gate_give(s); /* nothing open (or SQLite already rolled back) */
        return;
    }
    if (!s->rollback && prepare(s, "ROLLBACK", &s->rollback) != TES_OK)
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else {
        (void)sqlite3_step(s->rollback);
        sqlite3_reset(s->rollback);
    }
    gate_give(s);
}

static tes_err sq_commit(reg_backend *b)
{
    sqlite_backend *s = (sqlite_backend *)b;
    tes_err e = step_none(s, &s->commit, "COMMIT", "committing");
    if (e)
        sq_rollback(b); /* gives the gate back */
    else
        gate_give(s);
    return e;
}

static void sq_close(reg_backend *b)
{
    sqlite_backend *s = (sqlite_backend *)b;
    if (!s)
        return;

    for (int i = 0; i < RS_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->rollback);
    sqlite3_finalize(s->sync[0]);
    sqlite3_finalize(s->sync[1]);
    sqlite3_close(s->db); /* all statements finalized: always closes */
    if (s->gate_held && s->pid == getpid())
        gate_give(s);
    gate_detach(s);
    if (s->tracked)
        sqlite_file_closed(s->path);
    free(s->path);
    free(s);
}

static const reg_backend_class sqlite_class = {
    "sqlite", sq_close, sq_begin, sq_commit, sq_rollback, sq_exec,
};

/* ------------------------------------------------------------------- open */

/* reg_migrations_count is not a constant expression: the kind gets it here. */
static tes_err identify(sqlite3 *db, const char *path, int64_t *version)
{
    sqlite_file_kind k = registry_kind;
    k.version = reg_migrations_count;
    return sqlite_file_identify(&k, db, path, version);
}

static tes_err migrate(sqlite_backend *s, const char *path, int64_t now)
{
    tes_err e = sq_begin(&s->base, true);
    if (e)
        return e;
    int64_t ver = 0;
    e = identify(s->db, path, &ver); /* again, under the write lock */
    for (int64_t v = ver; !e && v < reg_migrations_count; v++) {
        char book[160];
        snprintf(book, sizeof book,
                 "INSERT INTO migrations(version, applied_at) VALUES (%lld, %lld);"
                 "PRAGMA user_version = %lld;",
                 (long long)(v + 1), (long long)now, (long long)(v + 1));
        if (!(e = sqlite_file_exec(&registry_kind, s->db, reg_migrations_sqlite[v],
                                   "migrating the schema")))
            e = sqlite_file_exec(&registry_kind, s->db, book, "recording the migration");
    }
    if (!e && ver < reg_migrations_count) {
        char app[64];
        snprintf(app, sizeof app, "PRAGMA application_id = %d;", REG_SQLITE_APP_ID);
        e = sqlite_file_exec(&registry_kind, s->db, app, "marking the database");
    }
    if (e) {
        sq_rollback(&s->base);
        return e;
    }
    return sq_commit(&s->base);
}

static tes_err check_tables(sqlite_backend *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s->db, rc, "reading the schema");
    tes_err e = TES_OK;
    for (size_t i = 0; !e && i < reg_required_tables_count; i++) {
        sqlite3_reset(st);
        rc = sqlite3_bind_text(st, 1, reg_required_tables[i], -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: %s is damaged: table %s is missing",
                            path, reg_required_tables[i]);
        else if (rc != SQLITE_ROW)
            e = sql_fail(s->db, rc, "reading the schema");
    }
    sqlite3_finalize(st);
    return e;
}

tes_err reg_sqlite_open(const char *path, int64_t now, reg_backend **out)
{
    *out = NULL;
    if (!*path)
        return tes_err_set(TES_ERR_ARG, "registry: empty path");
    sqlite_file_lock();
    tes_err e = sqlite_file_precheck(&registry_kind, path);
    sqlite_backend *s = e ? NULL : calloc(1, sizeof *s);
    if (!e && (!s || !(s->path = strdup(path)))) {
        free(s);
        e = reg_nomem("opening");
    }
    if (e) {
        sqlite_file_unlock();
        return e;
    }
    s->base.vt = &sqlite_class;
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_NOFOLLOW,
                             NULL);
    sqlite_file_opened(path);
    s->tracked = true;
    sqlite_file_unlock();
    if (rc != SQLITE_OK) {
        e = s->db ? sql_fail(s->db, rc, "opening") : reg_nomem("opening");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    s->pid = getpid();
    s->rng = (uint32_t)(uintptr_t)s ^ (uint32_t)mono_ns() ^ (uint32_t)s->pid;
    s->rng |= 1; /* xorshift: never 0 */
    sqlite3_busy_handler(s->db, busy_wait, s);
    gate_attach(s, path);

    int64_t version = 0;
    if ((e = identify(s->db, path, &version)))
        goto fail;

    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        e = sql_fail(s->db, rc, "switching to WAL");
        sqlite3_finalize(st);
        goto fail;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        e = tes_err_set(TES_ERR_STORE, "registry: %s: cannot use WAL journal (got %s)", path,
                        mode ? mode : "nothing");
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    if ((e = sqlite_file_exec(&registry_kind, s->db,
                              "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                              "setting pragmas")))
        goto fail;
    s->sync_full = true;
    if (version < reg_migrations_count && (e = migrate(s, path, now)))
        goto fail;
    if ((e = check_tables(s, path)))
        goto fail;
    *out = &s->base;
    return TES_OK;

fail:
    sq_close(&s->base);
    return e;
}
