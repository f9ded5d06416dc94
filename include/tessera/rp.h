/*
 * tessera/rp.h — the relying party's side of OpenID for Verifiable
 * Presentations 1.0 under HAIP 1.0 (issue 13): a verifier service a website
 * runs beside its backend (docs/RP.md).
 *
 * A site directory (tes_rp_init) holds the site's access certificate (issued
 * by a reader authority with its DNS name, `tessera reader-ca issue --dns`),
 * its private key, the API key its backend presents, the site's settings and
 * the DCQL query of its login page. The service (tes_rp_start) answers on
 * HTTP (docs/RP.md has the contract):
 *   wallet:   GET  /oid4vp/request/<tx>   the signed request object (JAR)
 *             POST /oid4vp/response/<tx>  direct_post.jwt (or the wallet's error)
 *   backend:  POST /api/v1/transactions, GET /api/v1/transactions/<tx>
 *             (Authorization: Bearer <api key>)
 *   site:     GET / (the login page, embedded from web/), POST /site/login,
 *             GET|POST /site/status, GET /site/me, POST /site/logout,
 *             GET /site/callback
 * Transactions live in SQLite (<dir>/rp.db) or PostgreSQL (db_url
 * "postgresql://..."), so that several instances serve one site.
 *
 * Ownership: what a function hands out is the caller's and is freed with the
 * matching *_free; inputs are borrowed for the call. A running tes_rp is used
 * from its own threads; tes_rp_stop from one thread once. Errors as in
 * core.h.
 */
#ifndef TESSERA_RP_H
#define TESSERA_RP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/core.h"
#include "tessera/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Files of a site directory. */
#define TES_RP_CERT "site.pem"          /* access certificate, then its chain (PEM, 0644) */
#define TES_RP_KEY "site_key.pem"       /* the certificate's private key (PKCS#8 PEM, 0600) */
#define TES_RP_API_KEY "api_key"        /* the backend's Bearer key (0600, one line) */
#define TES_RP_SETTINGS "site.json"     /* public_url, client_id prefix, name (0644) */
#define TES_RP_SITE_DCQL "site_dcql.json" /* the login page's DCQL query (0644) */
#define TES_RP_DB "rp.db"               /* transactions (SQLite, 0600) */

/* The per-site pseudonym (COMMON decision 1): device-signed element. */
#define TES_RP_PSEUDONYM_NS "org.tessera.pseudonym.1"
#define TES_RP_PSEUDONYM_ELEMENT "pseudonym"
#define TES_RP_PID_DOCTYPE "eu.europa.ec.eudi.pid.1"

#define TES_RP_TX_LIFETIME 300          /* default seconds a transaction lives */
#define TES_RP_SESSION_LIFETIME 3600    /* default seconds a site session lives */
#define TES_RP_MAX_BODY (192 * 1024)    /* bytes of any request body */
#define TES_RP_RESPONSE_MAX (128 * 1024) /* characters of the "response" JWE */
#define TES_RP_WAIT_MAX 25              /* seconds a long poll may wait */
#define TES_RP_TX_ID_BYTES 16           /* random bytes of a transaction id (base64url) */

typedef enum tes_rp_client_id_prefix {
    TES_RP_X509_SAN_DNS = 0, /* "x509_san_dns:<dNSName of the certificate>" (default) */
    TES_RP_X509_HASH = 1,    /* "x509_hash:<base64url SHA-256 of the certificate DER>" */
} tes_rp_client_id_prefix;

typedef struct tes_rp_init_params {
    const char *dir;        /* required: created 0700 (tes_dir_secret) */
    const char *cert_file;  /* required: PEM, the access certificate first, then its chain */
    const char *chain_file; /* optional: more PEM certificates appended to the chain */
    const char *key_file;   /* required: its private key (PEM); copied 0600, O_EXCL */
    tes_rp_client_id_prefix prefix;
    const char *public_url; /* required: https://host[:port] the wallet and browser reach
                               (http only for localhost, 127.0.0.1, [::1]) */
    const char *name;       /* NULL: the certificate's common name */
    int64_t now;            /* 0: the system clock */
} tes_rp_init_params;

/* Creates a site directory: copies the certificate (and chain) and the key
 * (checked to belong to the certificate; for x509_san_dns the certificate
 * must carry a dNSName, and the public URL's host must be it), writes a new
 * API key (32 random bytes, base64url, 0600, O_EXCL), the settings and the
 * default DCQL query (the PID's age_over_18 and the pseudonym). Errors:
 * TES_ERR_ARG (a parameter missing or out of shape), TES_ERR_EXISTS (dir
 * already holds a site: nothing touched), TES_ERR_CERT_MALFORMED,
 * TES_ERR_KEY_MALFORMED (unreadable, or not the certificate's key),
 * TES_ERR_RP_PROFILE (x509_san_dns and no dNSName), TES_ERR_RP_CONFIG (the
 * public URL's host is not the certificate's name), TES_ERR_DIR_UNSAFE,
 * TES_ERR_IO, TES_ERR_RANDOM. */
TES_MUST_CHECK tes_err tes_rp_init(const tes_rp_init_params *p);

typedef void (*tes_rp_log_fn)(void *ctx, const char *line);

typedef struct tes_rp_config {
    const char *dir;        /* required: a site directory (tes_rp_init) */
    const char *listen;     /* "HOST:PORT" or "[V6]:PORT"; NULL: 127.0.0.1:8090; port 0: any */
    const char *public_url; /* NULL: the site's setting */
    const char *db_url;     /* NULL: <dir>/rp.db; a path, or "postgresql://..." */
    const char *const *trust_files; /* required: PEM files of the issuers' IACA roots */
    size_t n_trust_files;
    tes_status_mode status; /* credential status: OFF, ONLINE (default 0 = OFF), CACHED */
    const char *status_cache; /* NULL: <dir>/status-cache */
    int64_t status_max_age;   /* seconds; 0: 2 days */
    bool accept_undetermined; /* accept a credential whose status cannot be determined */
    int64_t tx_lifetime;      /* seconds; 0: TES_RP_TX_LIFETIME */
    int64_t session_lifetime; /* seconds; 0: TES_RP_SESSION_LIFETIME */
    unsigned workers;         /* 0: 16 (long polls hold one each) */
    size_t max_connections;   /* 0: the HTTP layer's default */
    const tes_clock *clock;   /* NULL: system */
    const tes_rng *rng;       /* NULL: system */
    tes_rp_log_fn log;        /* NULL: nothing logged */
    void *log_ctx;
} tes_rp_config;

typedef struct tes_rp tes_rp;

/* Loads the site, opens (creates / migrates) the database, listens and
 * serves. *port (may be NULL) gets the bound port. Errors: TES_ERR_ARG,
 * TES_ERR_RP_CONFIG (the site directory incomplete or inconsistent),
 * certificate / key errors, TES_ERR_STORE / TES_ERR_BUSY (database),
 * TES_ERR_IO (cannot listen), TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_rp_start(const tes_rp_config *c, tes_rp **out, int *port);
/* Stops serving, closes everything. NULL: nothing. */
void tes_rp_stop(tes_rp *s);
/* The public URL the service announces (no trailing '/'). */
const char *tes_rp_public_url(const tes_rp *s);
/* The client_id of its request objects. */
const char *tes_rp_client_id(const tes_rp *s);

/* ---- the response endpoint's parsing, as pure functions (fuzzed) ---- */

/* The form body of POST /oid4vp/response/<tx> (application/x-www-form-
 * urlencoded): either "response" (a compact JWE, direct_post.jwt) or
 * "error" with optional "error_description", and optional "state". Every
 * member at most once; no other member; values percent-decoded strictly
 * (tes_url_decode, '+' a space). */
typedef struct tes_rp_form {
    char *response;          /* NULL when absent */
    char *error;             /* NULL when absent */
    char *error_description; /* NULL when absent */
    char *state;             /* NULL when absent */
} tes_rp_form;

/* Parses body[0..len) into *out (zeroed first; tes_rp_form_free in every
 * case). Errors: TES_ERR_ARG (NULL), TES_ERR_RP_RESPONSE (empty, a member
 * twice, unknown, without '=', badly encoded, too long, neither or both of
 * response and error, error not an OAuth error code), TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_rp_form_parse(const char *body, size_t len, tes_rp_form *out);
void tes_rp_form_free(tes_rp_form *f);

/* The decrypted payload of a direct_post.jwt response: the JSON object
 * {"vp_token": {"<credential_id>": ["<base64url DeviceResponse>"]},
 * "state": "..."} (no duplicate member; other members ignored). *state gets
 * the state (NULL when absent; malloc'd), device_response the decoded
 * DeviceResponse. Errors: TES_ERR_ARG, TES_ERR_RP_RESPONSE (not JSON, no
 * vp_token, vp_token not an object holding exactly credential_id, not an
 * array of exactly one base64url string, state not a string),
 * TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_rp_payload_parse(const char *json, size_t len,
                                            const char *credential_id, char **state,
                                            tes_buf *device_response);

#ifdef __cplusplus
}
#endif

#endif
