/*
 * Private to src/rp/: the verifier service's pieces (tessera/rp.h).
 *
 *   site.c      the site directory: tes_rp_init, loading it (rp_site)
 *   db.c        transactions and sessions over a tiny two-engine interface
 *   db_sqlite.c / db_pg.c  the engines
 *   jar.c       the signed request object
 *   form.c      the response endpoint's parsing (pure: fuzzed)
 *   response.c  processing a response into a transaction's result
 *   service.c   start / stop, routes, the wallet endpoints
 *   api.c       the backend API
 *   site_http.c the demo site and its embedded page files
 */
#ifndef TES_RP_INTERNAL_H
#define TES_RP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "httpd/httpd_internal.h"
#include "tessera/crypto.h"
#include "tessera/jose.h"
#include "tessera/mdoc.h"
#include "tessera/oid4vp.h"
#include "tessera/rp.h"
#include "tessera/status.h"
#include "tessera/trust.h"

#define RP_CHAIN_MAX 4
#define RP_DB_KEY "db_key" /* 32 bytes sealing the transactions' private keys (0600) */
#define RP_ID_LEN 22       /* base64url of TES_RP_TX_ID_BYTES */
#define RP_TOKEN_MAX 64    /* bytes of ids, codes, cookies we hand out */

/* ---- the site ---- */
typedef struct rp_site {
    tes_cert *chain[RP_CHAIN_MAX]; /* leaf first */
    size_t n_chain;
    tes_key *key;
    char client_id[TES_OID4VP_CLIENT_ID_MAX + 1];
    char public_url[TES_OID4VP_URI_MAX / 2];
    char name[TES_READER_NAME_MAX + 1];
    char api_key[RP_TOKEN_MAX + 1];
    uint8_t db_key[32];
    char *site_dcql; /* compact JSON of the login page's query */
    bool secure;     /* public URL is https: cookies get Secure */
} rp_site;

/* Loads <dir>; public_url overrides the setting. Errors: TES_ERR_RP_CONFIG and
 * those of reading certificates and keys. */
tes_err rp_site_load(const char *dir, const char *public_url, rp_site *out);
void rp_site_free(rp_site *s);
/* 1 when url is https://HOST[:PORT] or http:// on a loopback host, with no
 * path beyond '/'; its host into host. */
bool rp_url_host(const char *url, char *host, size_t cap, bool *https);

/* ---- the database ---- */
#define RP_DB_MAX_COLS 16
typedef struct rp_rows {
    size_t nrows, ncols;
    char **cell; /* nrows * ncols, NULL for SQL NULL */
} rp_rows;
void rp_rows_free(rp_rows *r);
const char *rp_cell(const rp_rows *r, size_t row, size_t col);

typedef struct rp_db rp_db;
typedef struct rp_db_vt {
    void (*close)(rp_db *d);
    /* Runs sql ($1.. parameters, all text; NULL: SQL NULL); rows into *out
     * when out is not NULL. */
    tes_err (*exec)(rp_db *d, const char *sql, const char *const *args, size_t nargs,
                    rp_rows *out);
} rp_db_vt;
struct rp_db {
    const rp_db_vt *vt;
    pthread_mutex_t mu; /* one statement at a time on the connection */
};
tes_err rp_db_sqlite_open(const char *path, rp_db **out);
tes_err rp_db_pg_open(const char *url, rp_db **out);
/* Opens url (a path or postgresql://...) and creates the schema. */
tes_err rp_db_open(const char *url, rp_db **out);
void rp_db_close(rp_db *d);
tes_err rp_db_exec(rp_db *d, const char *sql, const char *const *args, size_t nargs,
                   rp_rows *out);

/* A transaction as stored. */
typedef struct rp_tx {
    char id[RP_TOKEN_MAX + 1];
    char nonce[RP_TOKEN_MAX + 1];
    char state[RP_TOKEN_MAX + 1];
    char flow[16];           /* cross_device, same_device */
    char status[16];         /* pending fetched answering verified failed declined */
    char browser[RP_TOKEN_MAX + 1]; /* the site's browser binding ("" for API) */
    char response_code[RP_TOKEN_MAX + 1];
    char cred_id[TES_DCQL_MAX_ID + 1];
    int64_t created, expires;
    bool fetched;
    char *dcql;        /* owned */
    char *enc_sealed;  /* owned: the sealed private key */
    char *result;      /* owned: JSON, NULL until answered */
} rp_tx;
void rp_tx_free(rp_tx *t);

tes_err rp_tx_insert(rp_db *d, const rp_tx *t);
/* TES_ERR_RP_TX_UNKNOWN when absent. */
tes_err rp_tx_get(rp_db *d, const char *id, rp_tx *out);
tes_err rp_tx_mark_fetched(rp_db *d, const char *id);
/* Takes the transaction for answering, atomically: only one caller ever
 * succeeds, and only while it is pending or fetched and not expired.
 * TES_ERR_RP_TX_UNKNOWN, TES_ERR_RP_TX_EXPIRED, TES_ERR_RP_TX_USED. */
tes_err rp_tx_claim(rp_db *d, const char *id, int64_t now);
tes_err rp_tx_finish(rp_db *d, const char *id, const char *status, const char *result,
                     const char *response_code);
/* A verified site login taken once for a session: its result (malloc'd), or
 * TES_ERR_NOT_FOUND when it is not (or no longer) verified. */
tes_err rp_tx_consume(rp_db *d, const char *id, char **result);
/* The wire status of a stored transaction at now ("expired" when it is). */
const char *rp_tx_wire_status(const rp_tx *t, int64_t now);

tes_err rp_session_insert(rp_db *d, const char *id_hash, const char *account, int64_t expires);
/* The account JSON of a live session (malloc'd) or TES_ERR_NOT_FOUND. */
tes_err rp_session_get(rp_db *d, const char *id_hash, int64_t now, char **account);
tes_err rp_session_delete(rp_db *d, const char *id_hash);
tes_err rp_db_purge(rp_db *d, int64_t now);

/* ---- the service ---- */
struct tes_rp {
    rp_site site;
    rp_db *db;
    tes_trust_store *trust;
    tes_status_opts status;
    char status_cache[1024];
    bool accept_undetermined;
    int64_t tx_lifetime, session_lifetime;
    tes_clock clock;
    tes_rng rng;
    httpd *http;
    volatile bool stopping; /* long polls give up */
};

static inline int64_t rp_now(const tes_rp *s)
{
    return tes_clock_now(&s->clock);
}

/* A random base64url token of nbytes into out (cap >= 2 * nbytes). */
tes_err rp_token(const tes_rp *s, size_t nbytes, char *out, size_t cap);
/* A new transaction for dcql (compact JSON, already checked) and flow;
 * browser binds it to a site cookie ("" for the API). Its id into *out. */
tes_err rp_tx_create(tes_rp *s, const char *dcql, const char *cred_id, const char *flow,
                     const char *browser, rp_tx *out);
/* Parses and checks a DCQL query for a transaction: one Credential Query
 * (mso_mdoc) with claims; its id into cred_id. TES_ERR_DCQL*, TES_ERR_RP_REQUEST. */
tes_err rp_dcql_check(const char *json, size_t len, char *cred_id, size_t cap, char **compact);
/* The authorization request URL (openid4vp://?client_id=..&request_uri=..). */
tes_err rp_auth_request_url(const tes_rp *s, const char *tx_id, tes_buf *out);
/* response_uri / request_uri of a transaction. */
void rp_tx_uri(const tes_rp *s, const char *what, const char *tx_id, char *out, size_t cap);

/* jar.c: the signed request object of t, its encryption key unsealed. */
tes_err rp_request_object(const tes_rp *s, const rp_tx *t, tes_buf *out);
/* The transaction's private encryption key (unsealed; tes_key_free). */
tes_err rp_tx_enc_key(const tes_rp *s, const rp_tx *t, tes_key **out);
/* A new encryption key sealed for the transaction id. */
tes_err rp_tx_enc_new(const tes_rp *s, const char *tx_id, char **sealed);

/* response.c: handles the POST body for transaction id. On TES_OK *reply is
 * the 200 JSON; on failure *wire_error the OAuth error name. */
tes_err rp_response_handle(tes_rp *s, const char *id, const tes_buf *body, json_t **reply,
                           const char **wire_error);
/* Processes a decrypted presentation for t: the claims JSON result. */
tes_err rp_presentation_verify(tes_rp *s, const rp_tx *t, tes_bytes device_response,
                               json_t **result);

/* The 201 answer of a new transaction (new reference; NULL: out of memory). */
json_t *rp_tx_created(const tes_rp *s, const rp_tx *t);
/* The wire object of GET /api/v1/transactions/<id> (new reference). */
json_t *rp_tx_wire(const rp_tx *t, int64_t now);
/* Waits until the transaction is answered or expired or wait seconds passed
 * (polling the database: several instances may share it). */
tes_err rp_tx_wait(tes_rp *s, const char *id, int64_t wait, rp_tx *out);

/* http helpers */
enum MHD_Result rp_send_error(struct MHD_Connection *c, unsigned status, const char *name,
                              const char *desc);
enum MHD_Result rp_api(tes_rp *s, struct MHD_Connection *c, const char *url, const char *method,
                       const tes_buf *body);
enum MHD_Result rp_site_http(tes_rp *s, struct MHD_Connection *c, const char *url,
                             const char *method, const tes_buf *body);
/* A query argument, bounded: NULL when absent. */
const char *rp_query(struct MHD_Connection *c, const char *name);
int64_t rp_query_wait(struct MHD_Connection *c);

/* Static page files embedded from web/ at build time (rp_web.c, generated). */
typedef struct rp_web_file {
    const char *path; /* "/index.html" */
    const char *type;
    const unsigned char *data;
    size_t len;
} rp_web_file;
extern const rp_web_file rp_web_files[];
extern const size_t rp_web_files_count;

#endif
