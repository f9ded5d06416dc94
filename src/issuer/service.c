/*
 * The OpenID4VCI issuer service (issuer.h): the services' HTTP layer
 * (httpd/httpd_internal.h: connection limits in all and per address, a total
 * deadline per request, bounded bodies, strict framing, the one JSON error
 * writer) with a pool of worker threads, one registry handle per worker
 * (registry handles belong to one thread).
 *
 * Error descriptions are written for the client; what only the operator
 * should read (the registry's or database's own message, the cause of a 500)
 * goes to the configured log.
 *
 * Credential endpoint order of checks (each failure answers at once):
 *   bearer token (401 invalid_token) -> rate per token (429) -> JSON body
 *   (invalid_credential_request / unknown_credential_configuration) -> every proof JWT
 *   parsed, signature and claims checked, and the contents of a
 *   key_attestation header (invalid_proof) -> all proofs carry the same
 *   nonce and distinct keys, at most batch_max keys in all (invalid_proof)
 *   -> the nonce consumed once for the whole request (invalid_nonce) -> key
 *   attestations: their signers' chains to the vendor roots (invalid_proof)
 *   -> issue: one registry transaction checks the token again (withdrawn when
 *   the holder was revoked or suspended: invalid_token), the person and every
 *   phone (not revoked, suspended, or reported lost: credential_request_denied),
 *   the offer's and the person's budgets (credential_request_denied), and
 *   records the batch in the current status list, or the next one when it is
 *   full (/status/N).
 * The "attestation" proof type (OpenID4VCI 1.0 Appendix F.3, only with
 *   vendor roots): its one key attestation parsed and checked, nonce
 *   required (invalid_proof) -> at most batch_max attested keys -> its nonce
 *   consumed (invalid_nonce) -> its signer's chain (invalid_proof) -> one
 *   copy per attested key.
 * Keys bound: one copy per proof key, in proof order, then one per key a
 *   proof's key attestation names besides (Appendix F.1: "a Credential for
 *   each ... attested key"), each key once.
 *
 * Issuing a batch: the status indexes must be inside the signed MSO, so the
 * batch is recorded first (one registry transaction: credential rows, random
 * status indexes, device-key thumbprints), then the mdocs are signed in
 * memory, then the response is sent. If signing fails after the batch was
 * recorded, every credential of that batch is revoked (operator "system") so
 * no index stays VALID for a credential nobody holds, and the request gets
 * 500 server_error. A process killed between the two steps leaves recorded,
 * VALID, never-delivered credentials: harmless (no one holds them), and the
 * registry shows them as a batch with no later delivery.
 *
 * Times: signed and validFrom of every copy are the start of the current UTC
 * day, so copies of a batch (and batches of one day) cannot be told apart by
 * time, but never before the document signer certificate's notBefore (then
 * they are that notBefore); validUntil = start of the day + valid_days.
 *
 * The credential of the response is OpenID4VCI 1.0 Appendix A.2.4's form for
 * mso_mdoc: base64url (no padding) of the CBOR IssuerSigned of ISO 18013-5
 * ({"nameSpaces", "issuerAuth"}); the docType is the MSO's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "tessera/cbor.h"
#include "tessera/cose.h"
#include "tessera/mdoc.h"
#include "tessera/registry.h"
#include "tessera/se.h"
#include "tessera/status.h"

#include "httpd/httpd_internal.h"
#include "issuer/issuer_internal.h"

#define DAY 86400LL
#define WORKERS 4
#define STATUS_CACHE_SECONDS 5
#define STATUS_LIST_NAME "1"
#define STATUS_CACHE_SLOTS 4 /* signed lists kept (the newest lists are fetched most) */
#define RL_BUCKETS 1024
#define RL_WAYS 4
#define RL_WINDOW 60
#define DECOYS 2
#define TX_DIGITS 6

typedef struct rl_slot {
    uint8_t key[16]; /* prefix of SHA-256(kind || key) */
    int64_t window;  /* start of the minute */
    int count;
    bool used;
} rl_slot;

struct tes_issuer {
    httpd *http;
    char *db_url, *public_url, *status_uri;
    char *metadata, *as_metadata; /* prebuilt JSON */
    tes_buf vendor_roots;
    iss_policy pol;
    tes_ds_signer *dss; /* the document signer (key file or HSM) */
    const tes_cert *ds; /* its certificate (owned by dss) */
    tes_clock clock;
    tes_rng rng;
    int64_t valid_days, token_lifetime, nonce_lifetime, status_ttl, status_lifetime, status_cache;
    size_t status_list_size;
    httpd_limits limits;
    int rate_limit;

    pthread_key_t tls; /* this worker's tes_registry */
    bool tls_made;
    pthread_mutex_t reg_mu;
    tes_registry **regs; /* every handle opened, closed at stop */
    size_t n_regs, cap_regs;

    pthread_mutex_t status_mu;
    struct status_slot {
        int64_t list; /* 0: empty */
        tes_buf token;
        int64_t built;
    } status[STATUS_CACHE_SLOTS];
    char *status_base; /* <public_url>/status/ : list N is at status_base N */
    tes_registry_budget budget;
    int nonce_rate_limit;

    pthread_mutex_t rl_mu;
    rl_slot rl[RL_BUCKETS][RL_WAYS];
};

static int64_t now_of(const tes_issuer *s)
{
    return tes_clock_now(&s->clock);
}

/* Every registry of the service keeps the service's time and randomness. */
static tes_err open_registry(const tes_issuer *s, tes_registry **out)
{
    tes_registry_opts o = {.clock = &s->clock, .rng = &s->rng};
    return tes_registry_open_with(s->db_url, &o, out);
}

/* ------------------------------------------------------------------ responses */

#define send_text httpd_send_text
#define send_json httpd_send_json
#define send_error_as httpd_send_error

/* The service this thread answers for (set by on_request): where send_error logs. */
static _Thread_local tes_issuer *t_issuer;

/* Set while this thread answers a Credential Request: OpenID4VCI 1.0 §8.3.1.2
 * names a malformed one invalid_credential_request, where the OAuth endpoints
 * (token, and our /lost) say invalid_request. */
static _Thread_local bool t_in_credential_endpoint;

/* Prefixes by which the layers below name themselves in their messages: the
 * operator's reading, not the client's ("registry: c_nonce already used" is
 * "c_nonce already used" to the wallet). */
static const char *const INTERNAL_PREFIXES[] = {"registry: ", "store: "};

/* desc with every internal prefix removed into out; whether one was. */
static bool client_text(const char *desc, char *out, size_t cap)
{
    bool cut = false;
    size_t j = 0;
    for (size_t i = 0; desc[i] != '\0' && j + 1 < cap;) {
        size_t skip = 0;
        for (size_t k = 0; k < sizeof INTERNAL_PREFIXES / sizeof INTERNAL_PREFIXES[0]; k++) {
            size_t n = strlen(INTERNAL_PREFIXES[k]);
            if (strncmp(desc + i, INTERNAL_PREFIXES[k], n) == 0 && (i == 0 || desc[i - 1] == ' '))
                skip = n;
        }
        if (skip > 0) {
            cut = true;
            i += skip;
        } else {
            out[j++] = desc[i++];
        }
    }
    out[j] = '\0';
    return cut;
}

/* Sends the wire error for code e with description desc (NULL: the calling
 * thread's last error message, which is then only logged). A 500 gets a
 * fixed description and its cause is logged; a description that quotes an
 * internal layer is logged as it is and sent without the layer's name. */
static enum MHD_Result send_error(struct MHD_Connection *c, tes_err e, const char *desc)
{
    int status;
    const char *name = iss_wire_error(e, &status);
    if (t_in_credential_endpoint && strcmp(name, "invalid_request") == 0)
        name = "invalid_credential_request";
    httpd *log = t_issuer ? t_issuer->http : NULL;
    char text[512];
    if (status == 500) {
        httpd_log(log, "%s (%s): %s", name, tes_err_name(e), desc ? desc : tes_err_message());
        desc = "the issuer failed; try again later"; /* details stay on the server */
    } else if (desc != NULL && client_text(desc, text, sizeof text)) {
        httpd_log(log, "%s (%s): %s", name, tes_err_name(e), desc);
        desc = text;
    }
    const char *www = NULL;
    char hdr[600];
    if (e == TES_ERR_TOKEN) {
        /* RFC 6750 §3: a quoted-string; the OAuth text has no '"' or '\\'. */
        char clean[400];
        httpd_oauth_text(desc, clean, sizeof clean);
        snprintf(hdr, sizeof hdr, "Bearer error=\"invalid_token\", error_description=\"%s\"",
                 clean);
        www = hdr;
    }
    return send_error_as(c, (unsigned)status, name, desc, www, NULL);
}

/* Sends the calling thread's last error (message copied first). */
static enum MHD_Result send_last_error(struct MHD_Connection *c, tes_err e, const char *prefix)
{
    char desc[512];
    if (prefix)
        snprintf(desc, sizeof desc, "%s: %s", prefix, tes_err_message());
    else
        snprintf(desc, sizeof desc, "%s", tes_err_message());
    return send_error(c, e, desc);
}

/* ------------------------------------------------------------------ rate limiting */

/* Counts one event (add 1) or only looks (add 0) for (kind, key) in the
 * current minute; returns the count in the window. Fixed window, 4-way
 * buckets; under pressure the oldest entry of a bucket is replaced. */
static int rl_touch(tes_issuer *s, const char *kind, const char *key, size_t key_len, int add)
{
    uint8_t h[32];
    tes_buf in = {0};
    tes_buf_append(&in, kind, strlen(kind) + 1);
    tes_buf_append(&in, key, key_len);
    bool ok = !in.failed && tes_digest(TES_HASH_SHA256, tes_buf_bytes(&in), h) == TES_OK;
    tes_buf_free(&in);
    if (!ok)
        return 0;
    int64_t now = now_of(s), window = now - now % RL_WINDOW;
    uint32_t b = ((uint32_t)h[16] | (uint32_t)h[17] << 8 | (uint32_t)h[18] << 16) % RL_BUCKETS;
    pthread_mutex_lock(&s->rl_mu);
    rl_slot *hit = NULL, *victim = NULL;
    for (int w = 0; w < RL_WAYS; w++) {
        rl_slot *sl = &s->rl[b][w];
        if (sl->used && memcmp(sl->key, h, 16) == 0) {
            hit = sl;
            break;
        }
        if (victim == NULL || !sl->used || (victim->used && sl->window < victim->window))
            victim = sl;
    }
    if (hit == NULL) {
        hit = victim;
        memcpy(hit->key, h, 16);
        hit->used = true;
        hit->window = window;
        hit->count = 0;
    }
    if (hit->window != window) {
        hit->window = window;
        hit->count = 0;
    }
    if (add && hit->count < INT_MAX)
        hit->count += add;
    int count = hit->count;
    pthread_mutex_unlock(&s->rl_mu);
    return count;
}

/* ------------------------------------------------------------------ registry per worker */

static tes_err worker_registry(tes_issuer *s, tes_registry **out)
{
    tes_registry *r = pthread_getspecific(s->tls);
    if (r != NULL) {
        *out = r;
        return TES_OK;
    }
    tes_err err = open_registry(s, &r);
    if (err != TES_OK)
        return err;
    pthread_mutex_lock(&s->reg_mu);
    if (s->n_regs == s->cap_regs) {
        size_t cap = s->cap_regs ? 2 * s->cap_regs : 8;
        tes_registry **n = realloc(s->regs, cap * sizeof *n);
        if (n == NULL) {
            pthread_mutex_unlock(&s->reg_mu);
            tes_registry_close(r);
            return tes_err_set(TES_ERR_NOMEM, "out of memory");
        }
        s->regs = n;
        s->cap_regs = cap;
    }
    s->regs[s->n_regs++] = r;
    pthread_mutex_unlock(&s->reg_mu);
    if (pthread_setspecific(s->tls, r) != 0)
        return tes_err_set(TES_ERR_NOMEM, "pthread_setspecific failed");
    *out = r;
    return TES_OK;
}

/* ------------------------------------------------------------------ /token */

static bool is_form(struct MHD_Connection *c)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char form[] = "application/x-www-form-urlencoded";
    if (ct == NULL || strncasecmp(ct, form, sizeof form - 1) != 0)
        return false;
    const char *rest = ct + sizeof form - 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

static enum MHD_Result handle_token(tes_issuer *s, struct MHD_Connection *c, const tes_buf *body)
{
    if (!is_form(c))
        return send_error(c, TES_ERR_HTTP_REQUEST,
                          "the token request must be application/x-www-form-urlencoded");
    iss_token_req *req = malloc(sizeof *req);
    if (req == NULL)
        return send_error(c, TES_ERR_NOMEM, "out of memory");
    enum MHD_Result ret;
    tes_err err = iss_form_parse((const char *)body->ptr, body->len, req);
    if (err != TES_OK) {
        ret = send_last_error(c, err, NULL);
        goto out;
    }
    if (!req->has_grant_type) {
        ret = send_error(c, TES_ERR_HTTP_REQUEST, "grant_type is missing");
        goto out;
    }
    if (strcmp(req->grant_type, ISS_GRANT_PRE_AUTH) != 0) {
        ret = send_error(c, TES_ERR_UNSUPPORTED,
                         "only the grant type " ISS_GRANT_PRE_AUTH " is supported");
        goto out;
    }
    if (!req->has_code || req->code[0] == '\0') {
        ret = send_error(c, TES_ERR_HTTP_REQUEST, "pre-authorized_code is missing");
        goto out;
    }
    char ip[64];
    httpd_client_ip(c, ip);
    if (rl_touch(s, "ip-fail", ip, strlen(ip), 0) >= s->rate_limit) {
        ret = send_error(c, TES_ERR_RATE_LIMIT,
                         "too many failed token requests from this address; wait a minute");
        goto out;
    }
    if (rl_touch(s, "code", req->code, strlen(req->code), 1) > s->rate_limit) {
        ret = send_error(c, TES_ERR_RATE_LIMIT,
                         "too many requests for this pre-authorized code; wait a minute");
        goto out;
    }
    tes_registry *r;
    if ((err = worker_registry(s, &r)) != TES_OK) {
        ret = send_error(c, err, NULL);
        goto out;
    }
    char token[64];
    int64_t person_id;
    err = tes_registry_offer_redeem(r, req->code, req->has_tx_code ? req->tx_code : "", now_of(s),
                                    s->token_lifetime, token, &person_id);
    if (err != TES_OK) {
        if (err == TES_ERR_GRANT)
            (void)rl_touch(s, "ip-fail", ip, strlen(ip), 1);
        ret = send_last_error(c, err, NULL);
        goto out;
    }
    json_t *v = json_pack("{s:s, s:s, s:I}", "access_token", token, "token_type", "Bearer",
                          "expires_in", (json_int_t)s->token_lifetime);
    tes_wipe(token, sizeof token);
    ret = send_json(c, 200, v, true, NULL, NULL);
out:
    tes_wipe(req, sizeof *req);
    free(req);
    return ret;
}

/* ------------------------------------------------------------------ /nonce */

static enum MHD_Result handle_nonce(tes_issuer *s, struct MHD_Connection *c)
{
    /* Stateless nonces (the registry writes nothing for them), and a bound per
     * client address all the same: making one costs an HMAC. */
    char ip[64];
    httpd_client_ip(c, ip);
    if (s->nonce_rate_limit > 0 &&
        rl_touch(s, "nonce-ip", ip, strlen(ip), 1) > s->nonce_rate_limit)
        return send_error(c, TES_ERR_RATE_LIMIT,
                          "too many nonce requests from this address; wait a minute");
    tes_registry *r;
    tes_err err = worker_registry(s, &r);
    char nonce[64];
    if (err == TES_OK)
        err = tes_registry_nonce_new(r, now_of(s), s->nonce_lifetime, nonce);
    if (err != TES_OK)
        return send_last_error(c, err, NULL);
    return send_json(c, 200, json_pack("{s:s}", "c_nonce", nonce), true, NULL, NULL);
}

/* ------------------------------------------------------------------ /credential */

/* Reads "Authorization: Bearer <token>" into token (at most 63 characters). */
static bool bearer_token(struct MHD_Connection *c, char token[64], const char **why)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL) {
        *why = "the request has no Authorization: Bearer access token";
        return false;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *why = "the Authorization header is not a Bearer token";
        return false;
    }
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n > 0 && h[n - 1] == ' ')
        n--;
    if (n == 0 || n > 63) {
        *why = "the access token is unknown or expired";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        /* RFC 6750 b64token */
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              strchr("-._~+/=", ch) != NULL)) {
            *why = "the access token is malformed";
            return false;
        }
    }
    memcpy(token, h, n);
    token[n] = '\0';
    return true;
}

/* The IssuerSigned of a stored-credential map {"docType", "issuerSigned"}
 * (tes_mdoc_issue's output): a view into mdoc. OpenID4VCI 1.0 Appendix A.2.4:
 * the mso_mdoc credential is the base64url of the CBOR IssuerSigned (ISO
 * 18013-5 §8.3.2.1.2.2); the docType travels in the MSO. */
static tes_err issuer_signed_of(tes_bytes mdoc, tes_bytes *out)
{
    tes_cbor_doc d;
    tes_err err = tes_cbor_parse(mdoc, NULL, &d);
    if (err != TES_OK)
        return err;
    uint32_t is = tes_cbor_map_get_text(&d, 0, "issuerSigned");
    if (is == TES_CBOR_NONE || !tes_cbor_is(&d, is, TES_CBOR_MAP))
        err = tes_err_set(TES_ERR_MDOC_STRUCTURE, "issued mdoc has no issuerSigned map");
    else
        *out = tes_cbor_span(&d, is);
    tes_cbor_doc_free(&d);
    return err;
}

/* Signs n mdocs for the batch (indexes from the registry), copy i bound to keys[i]. */
static tes_err issue_copies(tes_issuer *s, const char *doctype, const tes_mdoc_claims *claims,
                            const tes_key *const *keys, const tes_registry_issued *issued, size_t n,
                            int64_t valid_from, int64_t valid_until, const char *status_uri,
                            json_t *list)
{
    const tes_signer signer = *tes_ds_signer_get(s->dss);
    const tes_bytes chain[1] = {tes_cert_der(s->ds)};
    tes_buf mdoc = {0}, text = {0};
    tes_err err = TES_OK;
    for (size_t i = 0; i < n && err == TES_OK; i++) {
        tes_buf_reset(&mdoc);
        tes_buf_reset(&text);
        const tes_mdoc_issue_params p = {
            .doctype = doctype,
            .claims = claims,
            .device_key = keys[i],
            .issuer = &signer,
            .ds_chain = chain,
            .ds_chain_len = 1,
            .signed_at = valid_from,
            .valid_from = valid_from,
            .valid_until = valid_until,
            .decoys = DECOYS,
            .status_uri = status_uri,
            .status_idx = issued[i].status_idx,
            .rng = &s->rng,
        };
        tes_bytes is;
        if ((err = tes_mdoc_issue(&p, &mdoc)) != TES_OK ||
            (err = issuer_signed_of(tes_buf_bytes(&mdoc), &is)) != TES_OK)
            break;
        tes_b64url_encode(&text, is);
        tes_buf_append(&text, "", 1);
        if (text.failed) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
            break;
        }
        if (json_array_append_new(list, json_pack("{s:s}", "credential", (const char *)text.ptr)) !=
            0)
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    tes_buf_free(&mdoc);
    tes_buf_free(&text);
    return err;
}

/* The keys a credential request binds, each with its thumbprint and the
 * phone it is on (device id). Keys are borrowed from the proofs or the key
 * attestation they came from. */
typedef struct bindings {
    const tes_key **keys;
    char (*ids)[65];   /* thumbprints [0, cap), then device ids [cap, 2 cap) */
    const char **ptrs; /* into ids, as the registry takes them */
    size_t n, cap;
} bindings;

static void bindings_free(bindings *b)
{
    free(b->keys);
    free(b->ids);
    free(b->ptrs);
    memset(b, 0, sizeof *b);
}

static tes_err bindings_alloc(bindings *b, size_t cap)
{
    b->cap = cap;
    b->keys = calloc(cap, sizeof *b->keys);
    b->ids = calloc(2 * cap, sizeof *b->ids);
    b->ptrs = calloc(2 * cap, sizeof *b->ptrs);
    if (b->keys == NULL || b->ids == NULL || b->ptrs == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    return TES_OK;
}

/* Adds k unless it is bound already; device: its device id. */
static tes_err bindings_add(bindings *b, const tes_key *k, const char device[65])
{
    for (size_t i = 0; i < b->n; i++)
        if (tes_key_equal_public(b->keys[i], k))
            return TES_OK;
    if (b->n == b->cap)
        return tes_err_set(TES_ERR_ARG, "bindings: full");
    tes_err err = iss_key_thumbprint(k, b->ids[b->n]);
    if (err != TES_OK)
        return err;
    memcpy(b->ids[b->cap + b->n], device, 65);
    b->keys[b->n++] = k;
    return TES_OK;
}

/* "proof N: key attestation not accepted: ..." for a key attestation error. */
static enum MHD_Result send_ka_error(struct MHD_Connection *c, tes_err e, const char *prefix)
{
    if (e == TES_ERR_ATTESTATION || e == TES_ERR_ATTESTATION_FORMAT)
        return send_last_error(c, TES_ERR_PROOF, prefix);
    return send_last_error(c, e, NULL);
}

static enum MHD_Result credential_request(tes_issuer *s, struct MHD_Connection *c,
                                          const tes_buf *body)
{
    char token[64];
    const char *why = NULL;
    if (!bearer_token(c, token, &why)) {
        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) == NULL)
            /* RFC 6750 §3.1: no error code in the challenge when no token was sent. */
            return send_error_as(c, 401, "invalid_token", why, "Bearer", NULL);
        return send_error(c, TES_ERR_TOKEN, why);
    }
    if (rl_touch(s, "token", token, strlen(token), 1) > s->rate_limit)
        return send_error(c, TES_ERR_RATE_LIMIT,
                          "too many credential requests with this access token; wait a minute");

    tes_registry *r;
    tes_err err = worker_registry(s, &r);
    if (err != TES_OK)
        return send_error(c, err, NULL);
    const int64_t now = now_of(s);
    int64_t person_id;
    if ((err = tes_registry_token_check(r, token, now, &person_id)) != TES_OK) {
        tes_wipe(token, sizeof token);
        return send_last_error(c, err, NULL);
    }
    /* The token is checked again where the batch is recorded (with the person's and
     * the phones' state, and the budgets), in the same transaction. */

    iss_cred_req req;
    if ((err = iss_cred_req_parse((const char *)body->ptr, body->len, s->pol.batch_max, &req)) !=
        TES_OK) {
        tes_wipe(token, sizeof token);
        return send_last_error(c, err, NULL);
    }

    enum MHD_Result ret = MHD_NO;
    iss_proof *proofs = calloc(req.n, sizeof *proofs);
    iss_key_att ka = {0}; /* the attestation proof type's one key attestation */
    bindings b = {0};
    char *doctype = NULL, *claims_json = NULL;
    tes_mdoc_claims claims = {0};
    tes_registry_issued *issued = NULL;
    json_t *list = json_array();
    const char *nonce = NULL; /* the c_nonce the request answers */
    char prefix[64], dev[65];
    if (proofs == NULL || list == NULL) {
        ret = send_error(c, TES_ERR_NOMEM, "out of memory");
        goto out;
    }

    if (req.attestation) {
        /* ---- proof type "attestation": one key attestation names every key */
        if (s->pol.vendor_roots.len == 0) {
            ret = send_error(c, TES_ERR_PROOF,
                             "the attestation proof type needs a key attestation this issuer can "
                             "trust, and it has no vendor roots: send jwt proofs");
            goto out;
        }
        err =
            iss_key_att_parse(&s->pol, req.proofs[0], strlen(req.proofs[0]), now, false, NULL, &ka);
        if (err != TES_OK) {
            ret = send_ka_error(c, err, "key attestation not accepted");
            goto out;
        }
        if (ka.n > s->pol.batch_max) {
            char d[160];
            snprintf(d, sizeof d, "the key attestation attests %zu keys; at most %zu per request",
                     ka.n, s->pol.batch_max);
            ret = send_error(c, TES_ERR_PROOF, d);
            goto out;
        }
        if ((err = bindings_alloc(&b, ka.n)) != TES_OK) {
            ret = send_error(c, err, NULL);
            goto out;
        }
        for (size_t i = 0; i < ka.n; i++)
            if ((err = iss_key_att_device_id(&ka, ka.keys[i], dev)) != TES_OK ||
                (err = bindings_add(&b, ka.keys[i], dev)) != TES_OK) {
                ret = send_last_error(c, err, "key attestation");
                goto out;
            }
        nonce = ka.nonce;
    } else {
        /* ---- every proof: framing, signature, claims, its key attestation's contents */
        size_t cap = 0;
        for (size_t i = 0; i < req.n; i++) {
            err = iss_proof_parse(&s->pol, req.proofs[i], strlen(req.proofs[i]), now, &proofs[i]);
            if (err != TES_OK) {
                if (err == TES_ERR_HTTP_REQUEST)
                    err = TES_ERR_PROOF; /* a malformed JWT is an invalid proof */
                snprintf(prefix, sizeof prefix, "proof %zu", i);
                ret = send_last_error(c, err, prefix);
                goto out;
            }
            cap += 1 + proofs[i].ka.n;
        }
        for (size_t i = 1; i < req.n; i++)
            if (strcmp(proofs[i].nonce, proofs[0].nonce) != 0) {
                ret = send_error(c, TES_ERR_PROOF,
                                 "all proofs of one request must carry the same "
                                 "c_nonce");
                goto out;
            }
        for (size_t i = 0; i < req.n; i++)
            for (size_t j = i + 1; j < req.n; j++)
                if (tes_key_equal_public(proofs[i].key, proofs[j].key)) {
                    char d[160];
                    snprintf(d, sizeof d,
                             "proofs %zu and %zu use the same key; each copy needs its "
                             "own key",
                             i, j);
                    ret = send_error(c, TES_ERR_PROOF, d);
                    goto out;
                }
        /* The keys: each proof's, then those its key attestation names besides
         * (OpenID4VCI 1.0 Appendix F.1: a credential for each attested key), once
         * the attestation was checked against the vendor roots. */
        if ((err = bindings_alloc(&b, cap)) != TES_OK) {
            ret = send_error(c, err, NULL);
            goto out;
        }
        for (size_t i = 0; i < req.n; i++) {
            snprintf(prefix, sizeof prefix, "proof %zu", i);
            if ((err = iss_proof_device_id(&proofs[i], dev)) != TES_OK ||
                (err = bindings_add(&b, proofs[i].key, dev)) != TES_OK) {
                ret = send_last_error(c, err, prefix);
                goto out;
            }
        }
        /* Without vendor roots nobody vouches for a key attestation: its other keys
         * proved nothing (only the proof's key signed), so they get no credential. */
        for (size_t i = 0; i < req.n && s->pol.vendor_roots.len > 0; i++)
            for (size_t k = 0; k < proofs[i].ka.n; k++)
                if ((err = iss_key_att_device_id(&proofs[i].ka, proofs[i].ka.keys[k], dev)) !=
                        TES_OK ||
                    (err = bindings_add(&b, proofs[i].ka.keys[k], dev)) != TES_OK) {
                    snprintf(prefix, sizeof prefix, "proof %zu", i);
                    ret = send_last_error(c, err, prefix);
                    goto out;
                }
        if (b.n > s->pol.batch_max) {
            char d[160];
            snprintf(d, sizeof d,
                     "the proofs and their key attestations name %zu keys; at most %zu per "
                     "request",
                     b.n, s->pol.batch_max);
            ret = send_error(c, TES_ERR_PROOF, d);
            goto out;
        }
        nonce = proofs[0].nonce;
    }

    /* ---- the nonce, once for the request */
    if (strlen(nonce) > 63) {
        ret = send_error(c, TES_ERR_NONCE, "the c_nonce is unknown, used or expired");
        goto out;
    }
    if ((err = tes_registry_nonce_consume(r, nonce, now)) != TES_OK) {
        ret = send_last_error(c, err, NULL);
        goto out;
    }

    /* ---- key attestations: the signers' trust */
    if (req.attestation) {
        if ((err = iss_key_att_trust(&s->pol, &ka, now)) != TES_OK) {
            ret = send_ka_error(c, err, "key attestation not accepted");
            goto out;
        }
    } else {
        for (size_t i = 0; i < req.n; i++) {
            if ((err = iss_proof_attestation(&s->pol, &proofs[i], now)) != TES_OK) {
                snprintf(prefix, sizeof prefix, "proof %zu", i);
                ret = send_last_error(c, err, prefix);
                goto out;
            }
        }
    }

    /* ---- the person's claims for the requested doctype */
    if ((err = tes_registry_person_get(r, person_id, &doctype, &claims_json)) != TES_OK) {
        ret = send_last_error(c, err == TES_ERR_NOT_FOUND ? TES_ERR_STORE : err, NULL);
        goto out;
    }
    if (strcmp(doctype, req.config_id) != 0) {
        char d[300];
        snprintf(d, sizeof d, "this access token is for %.128s, not %.128s", doctype,
                 req.config_id);
        ret = send_error(c, TES_ERR_NOT_FOUND, d);
        goto out;
    }
    const tes_doctype *t = tes_doctype_find(doctype);
    if (t == NULL || (err = tes_mdoc_claims_from_json(t, claims_json, strlen(claims_json),
                                                      "/nonexistent", &claims)) != TES_OK) {
        ret = send_error(c, TES_ERR_STORE, NULL);
        goto out;
    }

    /* ---- record the batch (status indexes), then sign */
    for (size_t i = 0; i < b.n; i++) {
        b.ptrs[i] = b.ids[i];
        b.ptrs[b.n + i] = b.ids[b.cap + i];
    }
    if ((issued = calloc(b.n, sizeof *issued)) == NULL) {
        ret = send_error(c, TES_ERR_NOMEM, NULL);
        goto out;
    }
    /* signed = validFrom = the start of the UTC day (one value for every copy of the
     * day), but never before the document signer's notBefore: ISO 18013-5 §9.3.1 wants
     * the MSO signed while the DS certificate is valid, and verifiers check it. On an
     * older authority's first day (DS valid from "an hour ago") that is the notBefore,
     * still one value for the whole day; validUntil stays on the day boundary. */
    const int64_t day_start = now - ((now % DAY) + DAY) % DAY;
    const int64_t ds_not_before = tes_cert_get_info(s->ds)->not_before;
    int64_t valid_from = day_start;
    if (valid_from < ds_not_before)
        valid_from = ds_not_before < now ? ds_not_before : now;
    const int64_t valid_until = day_start + s->valid_days * DAY;
    char list_uri[TES_REGISTRY_URI_MAX];
    if ((err = tes_registry_issue_for_token(r, token, now, doctype, valid_from, valid_until,
                                            s->status_base, s->status_list_size, &s->budget,
                                            b.ptrs, b.ptrs + b.n, b.n, issued, list_uri)) !=
        TES_OK) {
        /* The holder's or the phone's state, the budget, a withdrawn token: say which. */
        if (err == TES_ERR_DENIED || err == TES_ERR_BUDGET || err == TES_ERR_TOKEN)
            ret = send_last_error(c, err, NULL);
        else
            ret = send_error(c, err, NULL);
        goto out;
    }
    err = issue_copies(s, doctype, &claims, b.keys, issued, b.n, valid_from, valid_until,
                       list_uri, list);
    if (err != TES_OK) {
        /* The batch is recorded but will not be delivered: revoke it. */
        for (size_t i = 0; i < b.n; i++) {
            /* Best effort: the answer is 500 either way, and a copy left VALID is one that
             * nobody holds. */
            tes_err re = tes_registry_set_status(r, issued[i].credential_id, person_id,
                                                 TES_STATUS_REVOKED, "system", NULL);
            (void)re;
        }
        ret = send_error(c, err, NULL);
        goto out;
    }
    json_t *resp = json_pack("{s:O}", "credentials", list);
    /* "device_id" (not in OpenID4VCI; wallets ignore unknown members): the phone
     * the copies are bound to, for 'report lost'; only when all copies share one. */
    bool one_device = true;
    for (size_t i = 1; i < b.n; i++)
        one_device = one_device && strcmp(b.ids[b.cap + i], b.ids[b.cap]) == 0;
    if (resp != NULL && one_device)
        json_object_set_new(resp, "device_id", json_string(b.ids[b.cap]));
    ret = send_json(c, 200, resp, true, NULL, NULL);
out:
    tes_wipe(token, sizeof token);
    json_decref(list);
    if (proofs)
        for (size_t i = 0; i < req.n; i++)
            iss_proof_free(&proofs[i]);
    free(proofs);
    iss_key_att_free(&ka);
    bindings_free(&b);
    free(issued);
    tes_mdoc_claims_free(&claims);
    free(doctype);
    free(claims_json);
    iss_cred_req_free(&req);
    return ret;
}

/* ------------------------------------------------------------------ /status/N */

static tes_err build_status(tes_issuer *s, int64_t list, int64_t now, tes_buf *out)
{
    tes_registry *r;
    tes_err err = worker_registry(s, &r);
    if (err != TES_OK)
        return err;
    char uri[TES_REGISTRY_URI_MAX];
    snprintf(uri, sizeof uri, "%s%lld", s->status_base, (long long)list);
    tes_status_list l = {0};
    if ((err = tes_registry_status_list(r, uri, s->status_list_size, &l)) != TES_OK)
        return err;
    const tes_signer signer = *tes_ds_signer_get(s->dss);
    const tes_bytes chain[1] = {tes_cert_der(s->ds)};
    err = tes_status_token_build(&l, uri, now, now + s->status_lifetime, s->status_ttl, &signer,
                                 chain, 1, out);
    tes_status_list_free(&l);
    return err;
}

static enum MHD_Result handle_credential(tes_issuer *s, struct MHD_Connection *c,
                                         const tes_buf *body)
{
    t_in_credential_endpoint = true;
    enum MHD_Result ret = credential_request(s, c, body);
    t_in_credential_endpoint = false;
    return ret;
}

/* Drops every cached list (a status change must show at once). */
static void status_cache_drop(tes_issuer *s)
{
    pthread_mutex_lock(&s->status_mu);
    for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++)
        s->status[i].list = 0;
    pthread_mutex_unlock(&s->status_mu);
}

/* List N (1, 2, ...): lists after the registry's current one do not exist yet
 * (404); list 1 is always there (all valid before the first issuance). */
static enum MHD_Result handle_status(tes_issuer *s, struct MHD_Connection *c, int64_t list)
{
    const int64_t now = now_of(s);
    tes_buf tok = {0};
    pthread_mutex_lock(&s->status_mu);
    for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++) {
        struct status_slot *sl = &s->status[i];
        if (sl->list == list && now >= sl->built && now - sl->built < s->status_cache) {
            tes_buf_append(&tok, sl->token.ptr, sl->token.len);
            break;
        }
    }
    pthread_mutex_unlock(&s->status_mu);
    if (tok.len == 0 && !tok.failed) {
        tes_registry *r;
        int64_t current = 0;
        tes_err err = worker_registry(s, &r);
        if (err == TES_OK && list > 1)
            err = tes_registry_status_series(r, s->status_base, &current);
        if (err == TES_OK && list > 1 && list > current)
            return send_error_as(c, 404, "not_found", "no such status list", NULL, NULL);
        if (err == TES_OK)
            err = build_status(s, list, now, &tok);
        if (err != TES_OK) {
            tes_buf_free(&tok);
            return send_error(c, err, NULL);
        }
        pthread_mutex_lock(&s->status_mu);
        struct status_slot *victim = &s->status[0];
        for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++) {
            struct status_slot *sl = &s->status[i];
            if (sl->list == list) {
                victim = sl;
                break;
            }
            if (sl->list == 0 || (victim->list != 0 && sl->built < victim->built))
                victim = sl;
        }
        tes_buf_reset(&victim->token);
        tes_buf_append(&victim->token, tok.ptr, tok.len);
        victim->list = victim->token.failed ? 0 : list;
        victim->built = now;
        pthread_mutex_unlock(&s->status_mu);
    }
    if (tok.failed) {
        tes_buf_free(&tok);
        return send_error(c, TES_ERR_NOMEM, NULL);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(tok.len, tok.ptr, MHD_RESPMEM_MUST_COPY);
    tes_buf_free(&tok);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/statuslist+cwt");
    char cc[64];
    snprintf(cc, sizeof cc, "max-age=%lld", (long long)s->status_cache);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
    enum MHD_Result ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------------ /lost */

/* The holder reports the phone lost from another device: JSON
 * {"recovery_code": "ABCD-...", "device_id": "<64 hex>"} ("device_id" left
 * out: every credential of the person). The recovery code (given at
 * enrolment) names the person; only that person's credentials are
 * suspended. Wrong codes count against the client address like failed
 * token requests. */
static enum MHD_Result handle_lost(tes_issuer *s, struct MHD_Connection *c, const tes_buf *body)
{
    json_error_t jerr;
    json_t *v = json_loadb(body->len ? (const char *)body->ptr : "", body->len,
                           JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        return send_error(c, TES_ERR_JSON,
                          "the body must be a JSON object {\"recovery_code\": ..., "
                          "\"device_id\": ...}");
    }
    json_t *code = json_object_get(v, "recovery_code"), *dev = json_object_get(v, "device_id");
    size_t members = json_object_size(v);
    char code_s[72], dev_s[65] = "";
    bool ok = json_is_string(code) && json_string_length(code) < sizeof code_s &&
              members == 1u + (dev != NULL);
    if (ok)
        snprintf(code_s, sizeof code_s, "%s", json_string_value(code));
    if (ok && dev != NULL) {
        ok = json_is_string(dev) && json_string_length(dev) == 64;
        for (size_t i = 0; ok && i < 64; i++) {
            char ch = json_string_value(dev)[i];
            ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        }
        if (ok)
            snprintf(dev_s, sizeof dev_s, "%s", json_string_value(dev));
    }
    json_decref(v);
    if (!ok) {
        tes_wipe(code_s, sizeof code_s);
        return send_error(c, TES_ERR_HTTP_REQUEST,
                          "expected {\"recovery_code\": string, \"device_id\": 64 hex digits "
                          "(optional)} and nothing else");
    }
    char ip[64];
    httpd_client_ip(c, ip);
    if (rl_touch(s, "lost-fail", ip, strlen(ip), 0) >= s->rate_limit) {
        tes_wipe(code_s, sizeof code_s);
        return send_error(c, TES_ERR_RATE_LIMIT,
                          "too many wrong recovery codes from this address; wait a minute");
    }
    tes_registry *r;
    tes_err err = worker_registry(s, &r);
    int64_t person = 0;
    if (err == TES_OK)
        err = tes_registry_recovery_check(r, code_s, &person);
    tes_wipe(code_s, sizeof code_s);
    if (err != TES_OK) {
        if (err == TES_ERR_GRANT) {
            (void)rl_touch(s, "lost-fail", ip, strlen(ip), 1);
            return send_error(c, err, "unknown recovery code");
        }
        return send_last_error(c, err, NULL);
    }
    static const char op[] = "holder (recovery code)";
    size_t changed = 0;
    if (dev_s[0])
        err =
            tes_registry_set_status_by_device(r, dev_s, person, TES_STATUS_SUSPENDED, op, &changed);
    else
        err = tes_registry_set_status(r, 0, person, TES_STATUS_SUSPENDED, op, &changed);
    if (err == TES_ERR_NOT_FOUND)
        return send_error(c, TES_ERR_HTTP_REQUEST,
                          "none of your credentials is bound to that device");
    if (err != TES_OK)
        return send_last_error(c, err, NULL);
    /* The next status list served says so (no wait for the service's cache). */
    status_cache_drop(s);
    return send_json(c, 200, json_pack("{s:I}", "suspended", (json_int_t)changed), true, NULL,
                     NULL);
}

/* ------------------------------------------------------------------ dispatch */

static enum MHD_Result dispatch(tes_issuer *s, struct MHD_Connection *c, const char *url,
                                const char *method, const tes_buf *body)
{
    static const struct {
        const char *path, *method;
        int id;
    } routes[] = {
        {"/.well-known/openid-credential-issuer", "GET", 1},
        {"/.well-known/oauth-authorization-server", "GET", 2},
        {"/token", "POST", 3},
        {"/nonce", "POST", 4},
        {"/credential", "POST", 5},
        {"/status/" STATUS_LIST_NAME, "GET", 6},
        {"/lost", "POST", 7},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        if (strcmp(method, routes[i].method) != 0) {
            char d[96];
            snprintf(d, sizeof d, "%.16s is not allowed here; use %s", method, routes[i].method);
            return send_error_as(c, 405, "invalid_request", d, NULL, routes[i].method);
        }
        switch (routes[i].id) {
        case 1:
            return send_text(c, 200, "application/json", s->metadata, strlen(s->metadata), false,
                             NULL, NULL);
        case 2:
            return send_text(c, 200, "application/json", s->as_metadata, strlen(s->as_metadata),
                             false, NULL, NULL);
        case 3:
            return handle_token(s, c, body);
        case 4:
            return handle_nonce(s, c);
        case 5:
            return handle_credential(s, c, body);
        case 7:
            return handle_lost(s, c, body);
        default:
            return handle_status(s, c, 1);
        }
    }
    /* /status/N for the later lists: N decimal, no leading zero */
    const char *n = strncmp(url, "/status/", 8) == 0 ? url + 8 : NULL;
    size_t digits = n ? strspn(n, "0123456789") : 0;
    if (n && digits >= 1 && digits <= 9 && n[digits] == '\0' && n[0] != '0') {
        if (strcmp(method, "GET") != 0)
            return send_error_as(c, 405, "invalid_request", "use GET", NULL, "GET");
        return handle_status(s, c, strtoll(n, NULL, 10));
    }
    return send_error_as(c, 404, "not_found", "no such endpoint", NULL, NULL);
}

/* The HTTP layer's handler: a whole request, its body bounded. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const tes_buf *body)
{
    tes_issuer *s = cls;
    t_issuer = s;
    enum MHD_Result ret = dispatch(s, c, url, method, body);
    t_issuer = NULL;
    return ret;
}

/* ------------------------------------------------------------------ start / stop */

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 1);
    if (r) {
        memcpy(r, a, la);
        memcpy(r + la, b, lb + 1);
    }
    return r;
}

/* ds.pem with ds_key.pem or ds_key.hsm (tes_ds_signer_load; hsm_pin NULL:
 * TESSERA_HSM_PIN). */
static tes_err load_authority(tes_issuer *s, const char *dir, const char *hsm_pin)
{
    tes_err err = tes_ds_signer_load(dir, hsm_pin, &s->dss);
    if (err == TES_OK)
        s->ds = tes_ds_signer_cert(s->dss);
    return err;
}

/* Splits "HOST:PORT" / "[V6]:PORT" and binds a listening socket. */
static tes_err listen_on(const char *listen_spec, int *fd_out, int *port_out, bool *v6,
                         char *host_out, size_t host_cap)
{
    char host[256];
    const char *colon, *port_s;
    if (listen_spec[0] == '[') {
        const char *rb = strchr(listen_spec, ']');
        if (rb == NULL || rb[1] != ':' || (size_t)(rb - listen_spec - 1) >= sizeof host)
            return tes_err_set(TES_ERR_ARG, "listen: expected [ADDRESS]:PORT, got '%.100s'",
                               listen_spec);
        memcpy(host, listen_spec + 1, (size_t)(rb - listen_spec - 1));
        host[rb - listen_spec - 1] = '\0';
        port_s = rb + 2;
    } else {
        colon = strrchr(listen_spec, ':');
        if (colon == NULL || (size_t)(colon - listen_spec) >= sizeof host)
            return tes_err_set(TES_ERR_ARG, "listen: expected ADDRESS:PORT, got '%.100s'",
                               listen_spec);
        memcpy(host, listen_spec, (size_t)(colon - listen_spec));
        host[colon - listen_spec] = '\0';
        port_s = colon + 1;
    }
    char *end;
    long port = strtol(port_s, &end, 10);
    if (*port_s == '\0' || *end != '\0' || port < 0 || port > 65535)
        return tes_err_set(TES_ERR_ARG, "listen: bad port in '%.100s'", listen_spec);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port_s, &hints, &ai) != 0 || ai == NULL)
        return tes_err_set(TES_ERR_ARG, "listen: '%.100s' is not a numeric address", host);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    tes_err err = TES_OK;
    if (fd < 0) {
        err = tes_err_set(TES_ERR_IO, "socket: %s", strerror(errno));
    } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
               bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        err = tes_err_set(TES_ERR_IO, "cannot listen on %.100s: %s", listen_spec, strerror(errno));
    } else {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
            err = tes_err_set(TES_ERR_IO, "fcntl: %s", strerror(errno));
    }
    if (err == TES_OK) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
            err = tes_err_set(TES_ERR_IO, "getsockname: %s", strerror(errno));
        } else if (ss.ss_family == AF_INET6) {
            *port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            *v6 = true;
        } else {
            *port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            *v6 = false;
        }
    }
    freeaddrinfo(ai);
    if (err != TES_OK) {
        if (fd >= 0)
            close(fd);
        return err;
    }
    snprintf(host_out, host_cap, "%s", host[0] ? host : (*v6 ? "::1" : "127.0.0.1"));
    *fd_out = fd;
    return TES_OK;
}

static tes_err build_metadata(tes_issuer *s)
{
    const char *pub = s->public_url;
    char *cred = join(pub, "/credential"), *nonce = join(pub, "/nonce"),
         *token = join(pub, "/token");
    tes_err err = TES_OK;
    json_t *configs = json_object(), *md = NULL, *as = NULL;
    if (cred == NULL || nonce == NULL || token == NULL || configs == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    static const char *const doctypes[] = {TES_DOCTYPE_PID, TES_DOCTYPE_MDL};
    for (size_t i = 0; i < 2; i++) {
        json_t *types = json_object();
        json_t *jwt = json_pack("{s:[s]}", "proof_signing_alg_values_supported", "ES256");
        if (types != NULL && jwt != NULL)
            json_object_set_new(types, "jwt", jwt);
        if (types != NULL && jwt != NULL && s->vendor_roots.len > 0) {
            /* Key attestations are required: Tessera's x5c form or OpenID4VCI 1.0's
             * (Appendix D) in the proof's key_attestation header, or the attestation
             * proof type. With require_uv, the user_authentication values that say
             * every use needs the holder (keyatt.c). */
            json_t *kar =
                s->pol.require_uv
                    ? json_pack("{s:[s,s,s,s,s]}", "user_authentication", TES_KA_USER_AUTH_PIN,
                                "iso_18045_high", "iso_18045_moderate", "iso_18045_enhanced-basic",
                                "iso_18045_basic")
                    : json_object();
            json_object_set(jwt, "key_attestations_required", kar);
            json_object_set_new(types, "attestation",
                                json_pack("{s:[s], s:o}", "proof_signing_alg_values_supported",
                                          "ES256", "key_attestations_required", kar));
        }
        json_t *cfg = json_pack("{s:s, s:s, s:[s], s:[i], s:o}", "format", "mso_mdoc", "doctype",
                                doctypes[i], "cryptographic_binding_methods_supported", "cose_key",
                                "credential_signing_alg_values_supported", -7,
                                "proof_types_supported", types);
        if (cfg == NULL || json_object_set_new(configs, doctypes[i], cfg) != 0) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    md = json_pack("{s:s, s:s, s:s, s:O}", "credential_issuer", pub, "credential_endpoint", cred,
                   "nonce_endpoint", nonce, "credential_configurations_supported", configs);
    if (md && s->pol.batch_max >= 2)
        json_object_set_new(md, "batch_credential_issuance",
                            json_pack("{s:I}", "batch_size", (json_int_t)s->pol.batch_max));
    as = json_pack("{s:s, s:s, s:[s], s:b, s:[s]}", "issuer", pub, "token_endpoint", token,
                   "grant_types_supported", ISS_GRANT_PRE_AUTH,
                   "pre-authorized_grant_anonymous_access_supported", 1,
                   "token_endpoint_auth_methods_supported", "none");
    if (md == NULL || as == NULL ||
        (s->metadata = json_dumps(md, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
        (s->as_metadata = json_dumps(as, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
out:
    json_decref(configs);
    json_decref(md);
    json_decref(as);
    free(cred);
    free(nonce);
    free(token);
    return err;
}

void tes_issuer_stop(tes_issuer *s)
{
    if (s == NULL)
        return;
    httpd_stop(s->http); /* joins the workers; closes the listening socket */
    for (size_t i = 0; i < s->n_regs; i++)
        tes_registry_close(s->regs[i]);
    free(s->regs);
    if (s->tls_made)
        pthread_key_delete(s->tls);
    pthread_mutex_destroy(&s->reg_mu);
    pthread_mutex_destroy(&s->status_mu);
    pthread_mutex_destroy(&s->rl_mu);
    for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++)
        tes_buf_free(&s->status[i].token);
    free(s->status_base);
    tes_buf_free(&s->vendor_roots);
    tes_ds_signer_free(s->dss);
    free(s->db_url);
    free(s->public_url);
    free(s->status_uri);
    free(s->metadata);
    free(s->as_metadata);
    free(s);
}

tes_err tes_issuer_start(const tes_issuer_config *c, tes_issuer **out, int *port)
{
    if (c == NULL || out == NULL || c->authority_dir == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_issuer_start: NULL argument or no authority_dir");
    *out = NULL;
    tes_issuer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->reg_mu, NULL);
    pthread_mutex_init(&s->status_mu, NULL);
    pthread_mutex_init(&s->rl_mu, NULL);
    s->clock = c->clock ? *c->clock : tes_clock_system();
    s->rng = c->rng ? *c->rng : tes_rng_system();
    s->valid_days = c->valid_days > 0 ? c->valid_days : 365;
    s->token_lifetime = c->token_lifetime > 0 ? c->token_lifetime : 300;
    s->nonce_lifetime = c->nonce_lifetime > 0 ? c->nonce_lifetime : 300;
    s->status_ttl = c->status_ttl > 0 ? c->status_ttl : 3600;
    s->status_lifetime = c->status_lifetime > 0 ? c->status_lifetime : 2 * 86400;
    if (s->status_lifetime < 2 * s->status_ttl)
        s->status_lifetime = 2 * s->status_ttl;
    s->status_cache = c->status_cache > 0   ? c->status_cache
                      : c->status_cache < 0 ? 0
                                            : STATUS_CACHE_SECONDS;
    s->status_list_size = c->status_list_size > 0 ? c->status_list_size : (size_t)1 << 17;
    httpd_limits_resolve(&(httpd_limits){.max_connections = c->max_connections,
                                         .max_connections_per_ip = c->max_connections_per_ip,
                                         .request_deadline = c->request_deadline,
                                         .idle_timeout = c->idle_timeout,
                                         .max_body = c->max_body},
                         &s->limits);
    s->rate_limit = c->rate_limit > 0 ? c->rate_limit : 60;
    s->pol.batch_max = c->batch_max > 0 ? c->batch_max : 10;
    if (s->pol.batch_max > ISS_BATCH_HARD_MAX)
        s->pol.batch_max = ISS_BATCH_HARD_MAX;
    s->pol.require_uv = c->require_uv;
    const int64_t bmax = (int64_t)s->pol.batch_max;
    s->budget.per_offer = c->credentials_per_offer > 0   ? c->credentials_per_offer
                          : c->credentials_per_offer < 0 ? 0
                                                         : 3 * bmax;
    s->budget.per_person = c->credentials_per_person > 0   ? c->credentials_per_person
                           : c->credentials_per_person < 0 ? 0
                                                           : 10 * bmax;
    s->budget.period = c->budget_period > 0 ? c->budget_period : 86400;
    s->nonce_rate_limit = c->nonce_rate_limit > 0   ? c->nonce_rate_limit
                          : c->nonce_rate_limit < 0 ? 0
                                                    : 600;

    tes_err err = TES_OK;
    int fd = -1, bound = 0;
    bool v6 = false;
    char host[256];
    if (s->status_list_size > TES_STATUS_MAX_ENTRIES) {
        err = tes_err_set(TES_ERR_ARG, "status_list_size above %u", TES_STATUS_MAX_ENTRIES);
        goto fail;
    }
    if ((err = load_authority(s, c->authority_dir, c->hsm_pin)) != TES_OK)
        goto fail;
    if (c->vendor_roots != NULL) {
        tes_cert *roots[16];
        size_t nr = 0;
        if ((err = tes_file_read(c->vendor_roots, 1u << 20, &s->vendor_roots)) != TES_OK ||
            (err = tes_cert_parse_all(tes_buf_bytes(&s->vendor_roots), roots, 16, &nr)) != TES_OK) {
            err = tes_err_set(err, "vendor roots %s: %s", c->vendor_roots, tes_err_message());
            goto fail;
        }
        for (size_t i = 0; i < nr; i++)
            tes_cert_free(roots[i]);
        if (nr == 0) {
            err = tes_err_set(TES_ERR_CERT_MALFORMED, "vendor roots %s: no certificate",
                              c->vendor_roots);
            goto fail;
        }
        s->pol.vendor_roots = tes_buf_bytes(&s->vendor_roots);
    }
    s->db_url = c->db_url ? dup_str(c->db_url) : join(c->authority_dir, "/registry.db");
    if (s->db_url == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* Open once here: creates / migrates the schema and reports a bad URL now. */
    tes_registry *probe = NULL;
    if ((err = open_registry(s, &probe)) != TES_OK)
        goto fail;
    tes_registry_close(probe);

    if ((err = listen_on(c->listen ? c->listen : "127.0.0.1:8080", &fd, &bound, &v6, host,
                         sizeof host)) != TES_OK)
        goto fail;
    if (c->public_url != NULL) {
        size_t n = strlen(c->public_url);
        while (n > 0 && c->public_url[n - 1] == '/')
            n--;
        s->public_url = strndup(c->public_url, n);
    } else {
        char url[320];
        snprintf(url, sizeof url, v6 ? "http://[%s]:%d" : "http://%s:%d", host, bound);
        s->public_url = strdup(url);
    }
    if (s->public_url == NULL ||
        (s->status_uri = join(s->public_url, "/status/" STATUS_LIST_NAME)) == NULL ||
        (s->status_base = join(s->public_url, "/status/")) == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto fail;
    }
    s->pol.credential_issuer = s->public_url;
    if ((err = build_metadata(s)) != TES_OK)
        goto fail;
    if (pthread_key_create(&s->tls, NULL) != 0) {
        err = tes_err_set(TES_ERR_NOMEM, "pthread_key_create failed");
        goto fail;
    }
    s->tls_made = true;

    const httpd_config hc = {
        .listen_fd = fd,
        .v6 = v6,
        .workers = WORKERS,
        .limits = s->limits,
        .handler = on_request,
        .handler_cls = s,
        .log = c->log,
        .log_ctx = c->log_ctx,
        .name = "issuer",
    };
    if ((err = httpd_start(&hc, &s->http)) != TES_OK) {
        err = tes_err_set(err, "%s on %s", tes_err_message(), host);
        goto fail;
    }
    fd = -1; /* the daemon owns it now */
    *out = s;
    if (port)
        *port = bound;
    return TES_OK;
fail:
    if (fd >= 0)
        close(fd);
    {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tes_err_message());
        tes_issuer_stop(s);
        return tes_err_set(err, "%s", msg);
    }
}
