/*
 * The issuer tests' shared fixture (test_issuer, test_key_attestation,
 * test_ds_hsm, test_wallet_enrol): header-only, static inline, included after harness.h.
 *
 *  - a test clock the tests move (fx_clock_offset);
 *  - a temp dir with an authority as `tessera authority init` makes it;
 *  - chip vendors and soft secure elements they provisioned;
 *  - starting a service on loopback;
 *  - software wallet keys (tes_oid4vci_keys callbacks);
 *  - HTTP over libcurl (status, body, WWW-Authenticate, Content-Type);
 *  - the protocol steps by hand: enrol, offer code, token, nonce, credential;
 *  - JOSE: base64url, JWK, x5c, a compact JWS signed by a key or in an SE;
 *  - an SE's device id (hex SHA-256 of its attestation certificate);
 *  - presenting an mdoc and verifying it as a reader would.
 */
#ifndef TES_TESTS_ISSUER_FIXTURE_H
#define TES_TESTS_ISSUER_FIXTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tessera/cbor.h"
#include "tessera/core.h"
#include "tessera/crypto.h"
#include "tessera/issuer.h"
#include "tessera/wallet.h"
#include "tessera/mdoc.h"
#include "tessera/se.h"
#include "tessera/trust.h"

#include "issuer/issuer_internal.h"

#define FX_DAY 86400LL

#define FX_PID_CLAIMS                                                                              \
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","   \
    " \"birth_date\": \"1964-08-12\", \"issuing_authority\": \"Utopia\", \"issuing_country\": "    \
    "\"UT\", \"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"nationality\": \"UT\"}}"

/* ------------------------------------------------------------------ test clock */

static _Atomic int64_t fx_clock_offset;
static inline int64_t fx_test_now(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL) + atomic_load(&fx_clock_offset);
}
static const tes_clock FX_TEST_CLOCK = {fx_test_now, NULL};

/* ------------------------------------------------------------------ authority, service */

static inline bool fx_write_pem_cert(const char *dir, const char *name, const tes_cert *c)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tes_buf pem = {0};
    bool ok = tes_cert_to_pem(c, &pem) == TES_OK &&
              tes_file_write(p, tes_buf_bytes(&pem), 0644) == TES_OK;
    tes_buf_free(&pem);
    return ok;
}

/* An authority in dir (iaca.pem, ds.pem, ds_key.pem) whose certificates are
 * valid from not_before; the IACA certificate to *iaca_out when not NULL. */
static inline bool fx_make_authority_from(const char *dir, int64_t not_before, tes_cert **iaca_out)
{
    int64_t now = time(NULL);
    tes_key *ik = NULL, *dk = NULL;
    tes_cert *iaca = NULL, *ds = NULL;
    bool ok = tes_key_generate(TES_CURVE_P256, &ik) == TES_OK &&
              tes_key_generate(TES_CURVE_P256, &dk) == TES_OK;
    tes_cert_template rt = {.common_name = "Utopia IACA",
                            .country = "UT",
                            .not_before = not_before,
                            .not_after = now + 3650 * FX_DAY,
                            .is_ca = true,
                            .path_len = 0,
                            .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
                            .issuer_alt_uri = "https://iaca.ut.example"};
    tes_cert_template dt = {.common_name = "Utopia Document Signer",
                            .country = "UT",
                            .not_before = not_before,
                            .not_after = now + 1000 * FX_DAY,
                            .path_len = -1,
                            .key_usage = TES_KU_DIGITAL_SIGNATURE,
                            .eku_oid = TES_OID_EKU_MDL_DS,
                            .issuer_alt_uri = "https://iaca.ut.example",
                            .crl_uri = "https://iaca.ut.example/crl/iaca.crl"};
    ok = ok && tes_cert_create(&rt, ik, NULL, ik, &iaca) == TES_OK &&
         tes_cert_create(&dt, dk, iaca, ik, &ds) == TES_OK;
    tes_buf pem = {.secret = true};
    char p[256];
    snprintf(p, sizeof p, "%s/ds_key.pem", dir);
    ok = ok && tes_key_to_pem(dk, true, &pem) == TES_OK &&
         tes_file_write(p, tes_buf_bytes(&pem), 0600) == TES_OK &&
         fx_write_pem_cert(dir, "ds.pem", ds) && fx_write_pem_cert(dir, "iaca.pem", iaca);
    tes_buf_free(&pem);
    tes_key_free(ik);
    tes_key_free(dk);
    tes_cert_free(ds);
    if (iaca_out)
        *iaca_out = iaca;
    else
        tes_cert_free(iaca);
    return ok;
}

/* An authority in dir as `tessera authority init` makes it: valid from
 * midnight UTC of the day an hour ago. */
static inline bool fx_make_authority(const char *dir, tes_cert **iaca_out)
{
    int64_t t = (int64_t)time(NULL) - 3600;
    return fx_make_authority_from(dir, t - t % FX_DAY, iaca_out);
}

/* The start of a test environment: libcurl, a temp dir made from tmpl (e.g.
 * "/tmp/tes_x_XXXXXX") in dir, an authority in <dir>/authority (auth); the
 * IACA certificate to *iaca_out when not NULL. */
static inline bool fx_temp_authority(char *dir, size_t dir_cap, const char *tmpl, char *auth,
                                     size_t auth_cap, tes_cert **iaca_out)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dir, dir_cap, "%s", tmpl);
    if (!mkdtemp(dir))
        return false;
    snprintf(auth, auth_cap, "%s/authority", dir);
    mkdir(auth, 0700);
    return fx_make_authority(auth, iaca_out);
}

/* The end of it: the temp dir removed (true when that worked), libcurl cleaned up. */
static inline bool fx_temp_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    bool ok = system(cmd) == 0;
    curl_global_cleanup();
    return ok;
}

/* Two chip vendors under dir: vendor_dir <dir>/vendor, "Trusted Chip Vendor"
 * (its root in vendor_pem), and untrusted_dir <dir>/vendor2, one the issuer
 * does not know. */
static inline bool fx_vendors(const char *dir, char vendor_dir[128], char untrusted_dir[128],
                              char vendor_pem[160])
{
    snprintf(vendor_dir, 128, "%s/vendor", dir);
    snprintf(untrusted_dir, 128, "%s/vendor2", dir);
    snprintf(vendor_pem, 160, "%s/vendor.pem", vendor_dir);
    return tes_se_vendor_create(vendor_dir, "Trusted Chip Vendor", NULL) == TES_OK &&
           tes_se_vendor_create(untrusted_dir, "Unknown Chip Vendor", NULL) == TES_OK;
}

/* The soft SE soft:<dir>/<name>, provisioned by the vendor at vendor_dir. */
static inline bool fx_soft_se(const char *dir, const char *name, const char *vendor_dir,
                              tes_se **se)
{
    char spec[256];
    snprintf(spec, sizeof spec, "soft:%s/%s", dir, name);
    return tes_se_open(spec, NULL, se) == TES_OK &&
           tes_se_soft_provision(*se, vendor_dir) == TES_OK;
}

/* Starts a service on cfg (listen 127.0.0.1:0); its URL to url, which becomes
 * cfg->public_url (for enrolment: the service derived the same). */
static inline bool fx_service_start(tes_issuer_config *cfg, tes_issuer **iss, int *port, char *url,
                                    size_t cap)
{
    int p = 0;
    if (tes_issuer_start(cfg, iss, &p) != TES_OK) {
        fprintf(stderr, "issuer start: %s\n", tes_err_message());
        return false;
    }
    snprintf(url, cap, "http://127.0.0.1:%d", p);
    cfg->public_url = url;
    if (port)
        *port = p;
    return true;
}

/* ------------------------------------------------------------------ software keys */

#define FX_SOFT_KEYS_MAX 4

/* Wallet keys in software for tes_oid4vci_obtain: ids "k0", "k1", ... */
typedef struct fx_soft_keys {
    tes_key *k[FX_SOFT_KEYS_MAX];
    size_t n;
} fx_soft_keys;

static inline tes_err fx_soft_create(void *ctx, tes_bytes challenge, char key_id[64], tes_buf *pem,
                                     tes_buf *att)
{
    (void)challenge;
    (void)att;
    fx_soft_keys *s = ctx;
    if (s->n == FX_SOFT_KEYS_MAX)
        return TES_ERR_ARG;
    tes_err e = tes_key_generate(TES_CURVE_P256, &s->k[s->n]);
    if (e == TES_OK)
        e = tes_key_to_pem(s->k[s->n], false, pem);
    if (e == TES_OK)
        snprintf(key_id, 64, "k%zu", s->n++);
    return e;
}

static inline tes_err fx_soft_sign(void *ctx, const char *key_id, tes_bytes msg, uint8_t sig[64])
{
    fx_soft_keys *s = ctx;
    size_t i = (size_t)(key_id[1] - '0'), n = 0;
    uint8_t out[TES_MAX_SIG];
    if (key_id[0] != 'k' || i >= s->n)
        return TES_ERR_KEY_UNKNOWN;
    tes_err e = tes_key_sign(s->k[i], TES_HASH_SHA256, msg, out, &n);
    if (e == TES_OK)
        memcpy(sig, out, 64);
    return e;
}

static inline void fx_soft_keys_clear(fx_soft_keys *s)
{
    for (size_t i = 0; i < s->n; i++)
        tes_key_free(s->k[i]);
    s->n = 0;
}

/* ------------------------------------------------------------------ HTTP */

typedef struct fx_resp {
    long status;
    tes_buf body; /* NUL-terminated beyond len */
    char www_auth[256];
    char ctype[128];
} fx_resp;

static inline size_t fx_on_body(char *p, size_t sz, size_t n, void *ctx)
{
    tes_buf_append(&((fx_resp *)ctx)->body, p, sz * n);
    return sz * n;
}

static inline size_t fx_on_header(char *p, size_t sz, size_t n, void *ctx)
{
    fx_resp *r = ctx;
    size_t len = sz * n;
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(len < 511 ? len : 511), p);
    line[strcspn(line, "\r\n")] = '\0';
    if (strncasecmp(line, "WWW-Authenticate:", 17) == 0)
        snprintf(r->www_auth, sizeof r->www_auth, "%.200s", line + 18);
    if (strncasecmp(line, "Content-Type:", 13) == 0)
        snprintf(r->ctype, sizeof r->ctype, "%.100s", line + 14);
    return len;
}

/* method at base + path: "POST" sends body (NULL: empty) of len bytes; ctype
 * and bearer (headers) may be NULL. */
static inline bool fx_http(const char *base, const char *method, const char *path,
                           const char *ctype, const char *bearer, const char *body, size_t len,
                           fx_resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return false;
    char url[512], line[600];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        hd = curl_slist_append(hd, line);
    }
    if (bearer) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", bearer);
        hd = curl_slist_append(hd, line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fx_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fx_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    tes_buf_append(&r->body, "", 1);
    r->body.len--;
    return rc == CURLE_OK;
}

static inline json_t *fx_resp_json(const fx_resp *r)
{
    return json_loadb((const char *)r->body.ptr, r->body.len, 0, NULL);
}

/* ------------------------------------------------------------------ protocol steps by hand */

/* The pre-authorized code inside an offer URI. */
static inline bool fx_offer_code(const char *uri, char *code, size_t cap)
{
    const char *q = strstr(uri, "credential_offer=");
    if (!q)
        return false;
    char *dec = malloc(8192);
    size_t n;
    bool ok = tes_url_decode(q + 17, strlen(q + 17), true, dec, 8192, &n) == TES_OK;
    json_t *j = ok ? json_loadb(dec, n, 0, NULL) : NULL;
    json_t *c = json_object_get(json_object_get(json_object_get(j, "grants"), ISS_GRANT_PRE_AUTH),
                                "pre-authorized_code");
    ok = json_is_string(c);
    if (ok)
        snprintf(code, cap, "%s", json_string_value(c));
    json_decref(j);
    free(dec);
    return ok;
}

/* Enrols a PID holder at `counter` of cfg: the offer URI
 * (NUL-terminated beyond len) and tx code out; its pre-authorized code, the
 * person and the recovery code out when not NULL. */
static inline bool fx_enrol(const tes_issuer_config *cfg, const char *counter, tes_buf *uri,
                            char code[128], char tx[16], int64_t *person, char recovery[32])
{
    memset(uri, 0, sizeof *uri);
    int64_t p;
    char rc[32];
    tes_err e = tes_issuer_enrol(cfg, TES_DOCTYPE_PID, FX_PID_CLAIMS, counter, uri, tx,
                                 person ? person : &p, recovery ? recovery : rc);
    if (e != TES_OK) {
        fprintf(stderr, "enrol: %s\n", tes_err_message());
        return false;
    }
    tes_buf_append(uri, "", 1);
    uri->len--;
    return code == NULL || fx_offer_code((const char *)uri->ptr, code, 128);
}

/* The /token form for a pre-authorized code (tx NULL: none). */
static inline void fx_token_form(tes_buf *f, const char *code, const char *tx)
{
    tes_buf_append(f, "grant_type=", 11);
    tes_url_encode(f, ISS_GRANT_PRE_AUTH, strlen(ISS_GRANT_PRE_AUTH));
    tes_buf_append(f, "&pre-authorized_code=", 21);
    tes_url_encode(f, code, strlen(code));
    if (tx) {
        tes_buf_append(f, "&tx_code=", 9);
        tes_buf_append(f, tx, strlen(tx));
    }
}

/* Redeems code and tx at the service at base: the access token out. */
static inline bool fx_get_token(const char *base, const char *code, const char *tx, char out[128])
{
    tes_buf f = {0};
    fx_token_form(&f, code, tx);
    fx_resp r;
    bool ok = fx_http(base, "POST", "/token", "application/x-www-form-urlencoded", NULL,
                      (const char *)f.ptr, f.len, &r) &&
              r.status == 200;
    json_t *v = ok ? fx_resp_json(&r) : NULL;
    json_t *t = json_object_get(v, "access_token");
    ok = ok && json_is_string(t);
    if (ok)
        snprintf(out, 128, "%s", json_string_value(t));
    else
        fprintf(stderr, "    token: %ld %s\n", r.status, (const char *)r.body.ptr);
    json_decref(v);
    tes_buf_free(&f);
    tes_buf_free(&r.body);
    return ok;
}

/* A fresh c_nonce of the service at base. */
static inline bool fx_get_nonce(const char *base, char out[128])
{
    fx_resp r;
    bool ok = fx_http(base, "POST", "/nonce", NULL, NULL, "", 0, &r) && r.status == 200;
    json_t *v = ok ? fx_resp_json(&r) : NULL;
    json_t *n = json_object_get(v, "c_nonce");
    ok = ok && json_is_string(n);
    if (ok)
        snprintf(out, 128, "%s", json_string_value(n));
    json_decref(v);
    tes_buf_free(&r.body);
    return ok;
}

/* A fresh access token (new person, redeemed offer) at cfg's service (public_url). */
static inline bool fx_fresh_token(const tes_issuer_config *cfg, const char *counter,
                                  char token[128])
{
    tes_buf uri;
    char code[128], tx[16];
    bool ok = fx_enrol(cfg, counter, &uri, code, tx, NULL, NULL) &&
              fx_get_token(cfg->public_url, code, tx, token);
    tes_buf_free(&uri);
    return ok;
}

/* POSTs {"credential_configuration_id": config, "proofs": {type: [proofs...]}}
 * (NULL-terminated list) to the service at base. */
static inline bool fx_post_proofs(const char *base, const char *token, const char *config,
                                  const char *type, char **proofs, fx_resp *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; proofs[i]; i++)
        json_array_append_new(arr, json_string(proofs[i]));
    json_t *req =
        json_pack("{s:s, s:{s:o}}", "credential_configuration_id", config, "proofs", type, arr);
    char *body = json_dumps(req, JSON_COMPACT);
    bool ok =
        fx_http(base, "POST", "/credential", "application/json", token, body, strlen(body), r);
    free(body);
    json_decref(req);
    return ok;
}

/* ------------------------------------------------------------------ JOSE */

/* base64url of p[0..n) (NUL-terminated, malloc'd). */
static inline char *fx_b64url_text(const void *p, size_t n)
{
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(p, n));
    tes_buf_append(&b, "", 1);
    return (char *)b.ptr;
}

static inline char *fx_b64url_json(const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT);
    char *r = fx_b64url_text(t, strlen(t));
    free(t);
    return r;
}

/* Compact JWS of hdr.claims (neither taken), ES256 with key, or when key is
 * NULL with the key id of se; malloc'd, NULL when the signature fails. */
static inline char *fx_jws(const json_t *hdr, const json_t *claims, const tes_key *key, tes_se *se,
                           const char *id)
{
    char *h = fx_b64url_json(hdr), *c = fx_b64url_json(claims);
    tes_buf t = {0};
    tes_buf_append(&t, h, strlen(h));
    tes_buf_append(&t, ".", 1);
    tes_buf_append(&t, c, strlen(c));
    uint8_t sig[TES_MAX_SIG];
    size_t sl = 0;
    tes_err e = key ? tes_key_sign(key, TES_HASH_SHA256, tes_buf_bytes(&t), sig, &sl)
                    : tes_se_sign(se, id, NULL, tes_buf_bytes(&t), sig, &sl);
    tes_buf_append(&t, ".", 1);
    tes_b64url_encode(&t, TES_BYTES(sig, sl));
    tes_buf_append(&t, "", 1);
    free(h);
    free(c);
    if (e != TES_OK) {
        tes_buf_free(&t);
        return NULL;
    }
    return (char *)t.ptr;
}

/* The public JWK of an EC P-256 key. */
static inline json_t *fx_jwk_of(const tes_key *k)
{
    tes_buf x = {0}, y = {0};
    json_t *j = NULL;
    if (iss_key_jwk(k, &x, &y) == TES_OK)
        j = json_pack("{s:s, s:s, s:s%, s:s%}", "kty", "EC", "crv", "P-256", "x", (char *)x.ptr,
                      x.len, "y", (char *)y.ptr, y.len);
    tes_buf_free(&x);
    tes_buf_free(&y);
    return j;
}

/* An "x5c" array (base64 DER) of a CBOR array of certificates (an SE's attest()). */
static inline json_t *fx_x5c_of(tes_bytes chain)
{
    tes_cbor_doc d;
    if (tes_cbor_parse(chain, NULL, &d) != TES_OK)
        return NULL;
    json_t *a = json_array();
    uint32_t node = tes_cbor_child(&d, 0);
    for (uint64_t k = 0; k < tes_cbor_count(&d, 0); k++, node = tes_cbor_next(&d, node)) {
        const tes_cbor_node *n = tes_cbor_at(&d, node);
        tes_buf b = {0};
        tes_b64_encode(&b, TES_BYTES(n->data, n->len));
        json_array_append_new(a, json_stringn((const char *)b.ptr, b.len));
        tes_buf_free(&b);
    }
    tes_cbor_doc_free(&d);
    return a;
}

/* ------------------------------------------------------------------ secure element */

static inline void fx_hex32(const uint8_t h[32], char out[65])
{
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The device id of a secure element: hex SHA-256 of its attestation
 * certificate, read from the attestation of a fresh key (deleted after). */
static inline bool fx_se_device_id(tes_se *se, char out[65])
{
    tes_se_key_opts o = {0};
    char id[TES_SE_ID_MAX];
    tes_buf chain = {0};
    bool created = tes_se_create_key(se, &o, id) == TES_OK;
    bool ok = created && se->ops->attest(se, id, TES_BYTES("x", 1), &chain) == TES_OK;
    tes_cbor_doc d;
    ok = ok && tes_cbor_parse(tes_buf_bytes(&chain), NULL, &d) == TES_OK;
    if (ok) {
        uint32_t second = tes_cbor_child_at(&d, 0, 1);
        uint8_t h[32];
        ok = second != TES_CBOR_NONE &&
             tes_digest(TES_HASH_SHA256,
                        TES_BYTES(tes_cbor_at(&d, second)->data, tes_cbor_at(&d, second)->len),
                        h) == TES_OK;
        if (ok)
            fx_hex32(h, out);
        tes_cbor_doc_free(&d);
    }
    if (created && se->ops->delete_key(se, id) != TES_OK) {
        /* best effort */
    }
    tes_buf_free(&chain);
    return ok;
}

/* ------------------------------------------------------------------ presentation */

/* The SessionTranscript of the tests' presentations. */
#define FX_TRANSCRIPT TES_BYTES("\x83\xf6\xf6\xf6", 4)

/* Presents family_name of mdoc, device-signed by dev over FX_TRANSCRIPT: the
 * DeviceResponse to dr. */
static inline tes_err fx_present_family_name(tes_bytes mdoc, const tes_signer *dev, tes_buf *dr)
{
    tes_mdoc_req_elem el[] = {{TES_BYTES_STR(TES_NS_PID), TES_BYTES_STR("family_name"), false}};
    tes_mdoc_present_params pp = {
        .mdoc = mdoc, .elems = el, .n_elems = 1, .transcript = FX_TRANSCRIPT, .device = dev};
    return tes_mdoc_present(&pp, dr, NULL);
}

/* Verifies DeviceResponse dr over FX_TRANSCRIPT as a reader trusting trust at `at`. */
static inline tes_err fx_verify_response(const tes_buf *dr, tes_trust_store *trust, int64_t at,
                                         tes_mdoc_result *res)
{
    tes_mdoc_verify_opts vo = {.trust = trust, .transcript = FX_TRANSCRIPT, .at = at};
    return tes_mdoc_verify(tes_buf_bytes(dr), &vo, res);
}

#endif /* TES_TESTS_ISSUER_FIXTURE_H */
