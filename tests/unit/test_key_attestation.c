/*
 * OpenID4VCI 1.0 key attestations (Appendix D.1) end to end: the soft
 * secure element's key attestation JWT (tes_se_attest_jwt), the issuer's
 * checks of it (iss_key_att_parse / iss_key_att_trust, in a proof's
 * key_attestation header and as the "attestation" proof type), and the
 * wallet client's forms (tes_oid4vci_obtain_with), over HTTP on loopback.
 *
 * Fixture: an authority, a trusted chip vendor and an untrusted one, a soft
 * SE provisioned by each, and a "forge": an attestation CA the trusted vendor
 * issued to the test, with a key attestation signer certificate under it, so
 * that key attestations with any header and claims can be signed by a
 * trusted signer and each check of the issuer is met alone.
 *
 *  - the SE's JWT: header, claims, protections per key, signer certificate,
 *    errors (unknown, used, mixed, twice, bad nonce, backend without it);
 *  - end to end: AUTO with the callback sends key_attestation proofs; the
 *    attestation proof type (no signatures); the device id recorded is the
 *    SE's attestation certificate, as in the x5c form;
 *  - one negative case per check, each expecting exactly its code (parser)
 *    and its invalid_proof description (wire); the service serving after;
 *  - policy: require_uv maps to user_authentication; a development service
 *    (no vendor roots) neither asks for nor trusts key attestations.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "tessera/cose.h"
#include "tessera/issuer.h"
#include "tessera/wallet.h"
#include "tessera/mdoc.h"
#include "tessera/se.h"

#include "issuer/issuer_internal.h"
#include "issuer_fixture.h"

#define DAY 86400LL
#define BATCH_MAX 5
#define COUNTER "counter-3"
#define WELL_KNOWN "/.well-known/openid-credential-issuer"

/* ------------------------------------------------------------------ fixture */

typedef struct service {
    tes_issuer *iss;
    tes_issuer_config cfg;
    char url[128], db[160];
} service;

typedef struct env {
    bool ready, failed;
    char dir[64], auth[128], vendor_dir[128], vendor_pem[160];
    tes_se *se, *se_untrusted, *se_uv;
    service main, uv, dev;
    tes_buf roots; /* vendor.pem */
    /* the forge: an attestation CA under the trusted vendor, a signer under it */
    tes_key *ca_key, *signer_key;
    tes_cert *ca, *signer, *signer_no_eku_other;
} env;
static env E;

/* The forge: CA under the trusted vendor root, a key attestation signer under it. */
static bool make_forge(void)
{
    char p[256];
    tes_buf vk = {.secret = true}, vc = {0};
    tes_key *vkey = NULL;
    tes_cert *vroot = NULL;
    snprintf(p, sizeof p, "%s/vendor_key.pem", E.vendor_dir);
    bool ok = tes_file_read(p, 1 << 20, &vk) == TES_OK &&
              tes_key_parse(tes_buf_bytes(&vk), &vkey) == TES_OK &&
              tes_file_read(E.vendor_pem, 1 << 20, &vc) == TES_OK &&
              tes_cert_parse_any(tes_buf_bytes(&vc), &vroot) == TES_OK;
    int64_t now = time(NULL);
    tes_cert_template ct = {.common_name = "Test attestation CA",
                            .not_before = now - 3600,
                            .not_after = now + 365 * DAY,
                            .is_ca = true,
                            .path_len = 0,
                            .key_usage = TES_KU_KEY_CERT_SIGN};
    tes_cert_template st = {.common_name = "Test key attestation signer",
                            .not_before = now - 3600,
                            .not_after = now + 30 * DAY,
                            .path_len = -1,
                            .key_usage = TES_KU_DIGITAL_SIGNATURE,
                            .eku_oid = TES_OID_KA_SIGNER};
    tes_cert_template ot = st;
    ot.eku_oid = "1.3.6.1.5.5.7.3.2"; /* clientAuth only */
    ok = ok && tes_key_generate(TES_CURVE_P256, &E.ca_key) == TES_OK &&
         tes_key_generate(TES_CURVE_P256, &E.signer_key) == TES_OK &&
         tes_cert_create(&ct, E.ca_key, vroot, vkey, &E.ca) == TES_OK &&
         tes_cert_create(&st, E.signer_key, E.ca, E.ca_key, &E.signer) == TES_OK &&
         tes_cert_create(&ot, E.signer_key, E.ca, E.ca_key, &E.signer_no_eku_other) == TES_OK;
    tes_buf_free(&vk);
    tes_buf_free(&vc);
    tes_key_free(vkey);
    tes_cert_free(vroot);
    return ok;
}

static bool service_start(service *s, const char *name, bool roots, bool uv)
{
    snprintf(s->db, sizeof s->db, "%s/%s.db", E.dir, name);
    s->cfg = (tes_issuer_config){.authority_dir = E.auth,
                                 .db_url = s->db,
                                 .listen = "127.0.0.1:0",
                                 .vendor_roots = roots ? E.vendor_pem : NULL,
                                 .attestation = roots ? TES_ATTESTATION_REQUIRED
                                                      : TES_ATTESTATION_NOT_REQUIRED,
                                 .require_uv = uv,
                                 .batch_max = BATCH_MAX,
                                 .nonce_lifetime = 120,
                                 .rate_limit = 10000,
                                 .clock = &FX_TEST_CLOCK};
    return fx_service_start(&s->cfg, &s->iss, NULL, s->url, sizeof s->url);
}

static bool env_up(void)
{
    if (E.ready || E.failed)
        return E.ready;
    E.failed = true;
    if (!fx_temp_authority(E.dir, sizeof E.dir, "/tmp/tes_keyatt_XXXXXX", E.auth, sizeof E.auth,
                           NULL))
        return false;
    char vdir2[128];
    if (!fx_vendors(E.dir, E.vendor_dir, vdir2, E.vendor_pem) ||
        !fx_soft_se(E.dir, "se", E.vendor_dir, &E.se) ||
        !fx_soft_se(E.dir, "se2", vdir2, &E.se_untrusted) ||
        !fx_soft_se(E.dir, "se3", E.vendor_dir, &E.se_uv) ||
        E.se_uv->ops->pin_set(E.se_uv, "2468", "12345678") != TES_OK)
        return false;
    if (tes_file_read(E.vendor_pem, 1 << 20, &E.roots) != TES_OK || !make_forge())
        return false;
    if (!service_start(&E.main, "main", true, false) || !service_start(&E.uv, "uv", true, true) ||
        !service_start(&E.dev, "dev", false, false))
        return false;
    E.ready = true;
    E.failed = false;
    return true;
}

/* ------------------------------------------------------------------ JOSE helpers */

/* Signs header.claims (ES256) with key, or when key is NULL with the key id of
 * se; steals both; malloc'd compact JWS. */
static char *jws_by(json_t *hdr, json_t *claims, const tes_key *key, tes_se *se, const char *id)
{
    char *t = fx_jws(hdr, claims, key, se, id);
    json_decref(hdr);
    json_decref(claims);
    return t;
}

static char *jws(json_t *hdr, json_t *claims, const tes_key *key)
{
    return jws_by(hdr, claims, key, NULL, NULL);
}

static json_t *b64_cert(const tes_cert *c)
{
    tes_buf b = {0};
    tes_b64_encode(&b, tes_cert_der(c));
    json_t *s = json_stringn((const char *)b.ptr, b.len);
    tes_buf_free(&b);
    return s;
}

/* A key attestation header naming its signer by x5c [leaf, ca]. */
static json_t *ka_header_of(const tes_cert *leaf, const tes_cert *ca)
{
    return json_pack("{s:s, s:s, s:[o,o]}", "typ", TES_KA_JWT_TYP, "alg", "ES256", "x5c",
                     b64_cert(leaf), b64_cert(ca));
}

/* The forge's default key attestation header. */
static json_t *ka_header(void)
{
    return ka_header_of(E.signer, E.ca);
}

/* Default claims attesting keys k[0..n) for nonce (NULL: none). */
static json_t *ka_claims(tes_key *const *k, size_t n, const char *nonce)
{
    int64_t now = fx_test_now(NULL);
    json_t *keys = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(keys, fx_jwk_of(k[i]));
    json_t *c = json_pack("{s:I, s:I, s:o, s:[s], s:[s]}", "iat", (json_int_t)now, "exp",
                          (json_int_t)(now + 3600), "attested_keys", keys, "key_storage",
                          "iso_18045_moderate", "user_authentication", "iso_18045_moderate");
    if (nonce)
        json_object_set_new(c, "nonce", json_string(nonce));
    return c;
}

/* The forge's attestation: hdr (NULL: the default) and claims (stolen), signed
 * by its signer. */
static char *forged(json_t *hdr, json_t *claims)
{
    return jws(hdr ? hdr : ka_header(), claims, E.signer_key);
}

/* The header of a proof JWT naming key by jwk, with key_attestation ka (NULL:
 * none) and extra members (stolen, may be NULL). */
static json_t *proof_header(const tes_key *key, const char *ka, json_t *extra)
{
    json_t *hdr =
        json_pack("{s:s, s:s, s:o}", "typ", ISS_PROOF_TYP, "alg", "ES256", "jwk", fx_jwk_of(key));
    if (ka)
        json_object_set_new(hdr, "key_attestation", json_string(ka));
    if (extra)
        json_object_update(hdr, extra);
    json_decref(extra);
    return hdr;
}

static json_t *proof_claims(const char *aud, const char *nonce)
{
    return json_pack("{s:s, s:I, s:s}", "aud", aud, "iat", (json_int_t)fx_test_now(NULL), "nonce",
                     nonce);
}

/* A proof JWT signed by key (private) naming it by jwk, with key_attestation ka
 * (NULL: none) and extra header members (stolen, may be NULL). */
static char *proof_jwt(const tes_key *key, const char *nonce, const char *ka, json_t *extra,
                       const char *aud)
{
    return jws(proof_header(key, ka, extra), proof_claims(aud, nonce), key);
}

/* The SE's key attestation of its keys ids (NUL-terminated, malloc'd). */
static char *se_ka(tes_se *se, const char *const *ids, size_t n, const char *nonce)
{
    tes_buf b = {0};
    if (tes_se_attest_jwt(se, ids, n, nonce, &b) != TES_OK) {
        fprintf(stderr, "    attest_jwt: %s\n", tes_err_message());
        tes_buf_free(&b);
        return NULL;
    }
    tes_buf_append(&b, "", 1);
    return (char *)b.ptr;
}

/* Decodes part i (0 header, 1 payload) of a compact JWS as JSON. */
static json_t *jws_part(const char *jwt, int part)
{
    const char *p = jwt;
    for (int i = 0; i < part; i++)
        p = strchr(p, '.') + 1;
    size_t n = strcspn(p, ".");
    tes_buf raw = {0};
    json_t *v = NULL;
    if (tes_b64url_decode(&raw, p, n) == TES_OK)
        v = json_loadb((const char *)raw.ptr, raw.len, 0, NULL);
    tes_buf_free(&raw);
    return v;
}

static tes_cert *x5c_cert(json_t *hdr, size_t i)
{
    json_t *s = json_array_get(json_object_get(hdr, "x5c"), i);
    tes_buf der = {0};
    tes_cert *c = NULL;
    if (json_is_string(s) &&
        tes_b64_decode(&der, json_string_value(s), json_string_length(s)) == TES_OK &&
        tes_cert_parse(tes_buf_bytes(&der), &c) != TES_OK)
        c = NULL;
    tes_buf_free(&der);
    return c;
}

/* ------------------------------------------------------------------ HTTP */

static bool get_metadata(const service *s, fx_resp *r)
{
    return fx_http(s->url, "GET", WELL_KNOWN, NULL, NULL, NULL, 0, r);
}

/* The wire error is exactly `error` with a description holding `needle`
 * (as the wire writes it: RFC 6749 §5.2 has no '"', the service sends '\''). */
static bool wire_is(const fx_resp *r, long status, const char *error, const char *needle)
{
    json_t *v = fx_resp_json(r);
    json_t *e = json_object_get(v, "error"), *d = json_object_get(v, "error_description");
    char wire[256] = "";
    for (size_t i = 0; needle != NULL && needle[i] != '\0' && i + 1 < sizeof wire; i++)
        wire[i] = needle[i] == '"' ? '\'' : needle[i];
    bool ok = r->status == status && json_is_string(e) &&
              strcmp(json_string_value(e), error) == 0 && json_is_string(d) &&
              (needle == NULL || strstr(json_string_value(d), wire) != NULL);
    if (!ok)
        fprintf(stderr, "    got %ld %s; wanted %ld %s with \"%s\"\n", r->status,
                (const char *)r->body.ptr, status, error, needle ? needle : "");
    json_decref(v);
    return ok;
}

#define CHECK_WIRE(r, status, error, needle) CHECK(wire_is((r), (status), (error), (needle)))

/* POSTs {"credential_configuration_id": PID, "proofs": {type: [jwts...]}} (NULL-terminated). */
static bool post_proofs(const service *s, const char *token, const char *type, char **jwts,
                        fx_resp *r)
{
    return fx_post_proofs(s->url, token, TES_DOCTYPE_PID, type, jwts, r);
}

/* Posts jwts as proofs of type: checks the request went through and the answer
 * is exactly the wire error 400 `error` holding needle. */
static void send_failing(const service *s, const char *token, const char *type, char **jwts,
                         const char *error, const char *needle)
{
    fx_resp r;
    CHECK(post_proofs(s, token, type, jwts, &r));
    CHECK_WIRE(&r, 400, error, needle);
    tes_buf_free(&r.body);
}

/* ------------------------------------------------------------------ wallet callbacks */

typedef struct wallet_ctx {
    tes_se *se;
    const char *pin;
    bool uv;
    int creates, creates_with_challenge, signs, attestations;
    char ids[8][TES_SE_ID_MAX];
} wallet_ctx;

static tes_err w_create(void *ctx, tes_bytes challenge, char key_id[64], tes_buf *pem, tes_buf *att)
{
    wallet_ctx *w = ctx;
    tes_se_key_opts o = {.user_verification = w->uv};
    tes_key *pub = NULL;
    tes_err e = tes_se_create_key(w->se, &o, key_id);
    if (e == TES_OK)
        e = tes_se_public_key(w->se, key_id, &pub);
    if (e == TES_OK)
        e = tes_key_to_pem(pub, false, pem);
    if (e == TES_OK && challenge.len > 0) {
        w->creates_with_challenge++;
        e = w->se->ops->attest(w->se, key_id, challenge, att);
    }
    if (e == TES_OK && w->creates < 8)
        snprintf(w->ids[w->creates], TES_SE_ID_MAX, "%s", key_id);
    w->creates++;
    tes_key_free(pub);
    return e;
}

static tes_err w_sign(void *ctx, const char *key_id, tes_bytes msg, uint8_t sig[64])
{
    wallet_ctx *w = ctx;
    uint8_t s[TES_MAX_SIG];
    size_t n = 0;
    w->signs++;
    tes_err e = tes_se_sign(w->se, key_id, w->pin, msg, s, &n);
    if (e == TES_OK)
        memcpy(sig, s, 64);
    return e;
}

static tes_err w_attest(void *ctx, const char *const *ids, size_t n, const char *nonce,
                        tes_buf *jwt)
{
    wallet_ctx *w = ctx;
    w->attestations++;
    return tes_se_attest_jwt(w->se, ids, n, nonce, jwt);
}

/* Device recorded for the credential bound to k (SQLite registry at db). */
static bool device_of(const char *db_path, const tes_key *k, char device[65])
{
    char th[65];
    if (iss_key_thumbprint(k, th) != TES_OK)
        return false;
    bool ok = false;
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT device FROM credentials WHERE thumbprint = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, th, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
            snprintf(device, 65, "%s", (const char *)sqlite3_column_text(st, 0));
            ok = true;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

/* Obtains n copies at s with proof form f; checks each is bound to its SE key. */
static tes_err obtain(const service *s, wallet_ctx *w, size_t n, tes_oid4vci_proof_form f,
                      bool with_callback, tes_key **keys_out)
{
    tes_buf uri;
    char tx[16];
    if (!fx_enrol(&s->cfg, COUNTER, &uri, NULL, tx, NULL, NULL))
        return TES_ERR_STATE;
    tes_oid4vci_keys keys = {.create = w_create, .sign = w_sign, .ctx = w};
    tes_oid4vci_proof_opts po = {.form = f, .key_attestation = with_callback ? w_attest : NULL};
    tes_buf *mdocs = NULL;
    char(*ids)[64] = NULL;
    size_t got = 0;
    tes_err e =
        tes_oid4vci_obtain_with((const char *)uri.ptr, tx, n, &keys, &po, &mdocs, &ids, &got);
    tes_buf_free(&uri);
    if (e != TES_OK)
        return e;
    CHECK_EQ_INT(got, n);
    for (size_t i = 0; i < got; i++) {
        tes_mdoc_cred_info info;
        tes_key *pub = NULL;
        CHECK_ERR(tes_mdoc_cred_info_read(tes_buf_bytes(&mdocs[i]), &info), TES_OK);
        CHECK_ERR(tes_se_public_key(w->se, ids[i], &pub), TES_OK);
        CHECK(pub != NULL && tes_key_equal_public(pub, info.device_key));
        if (keys_out)
            keys_out[i] = pub;
        else
            tes_key_free(pub);
        tes_mdoc_cred_info_free(&info);
        tes_buf_free(&mdocs[i]);
    }
    free(mdocs);
    free(ids);
    return TES_OK;
}

/* ------------------------------------------------------------------ tests: the secure element */

/* The claims of the SE's key attestation of its key id, for nonce "x". */
static json_t *se_ka_claims_of(tes_se *se, const char *id)
{
    const char *ids[] = {id};
    char *jwt = se_ka(se, ids, 1, "x");
    json_t *c = jwt ? jws_part(jwt, 1) : NULL;
    free(jwt);
    return c;
}

TEST(se_attest_jwt)
{
    REQUIRE(env_up());
    tes_se *se = E.se;
    char plain[TES_SE_ID_MAX], plain2[TES_SE_ID_MAX], uv[TES_SE_ID_MAX], once[TES_SE_ID_MAX];
    tes_se_key_opts o0 = {0}, ouv = {.user_verification = true}, osu = {.single_use = true};
    REQUIRE(tes_se_create_key(se, &o0, plain) == TES_OK);
    REQUIRE(tes_se_create_key(se, &o0, plain2) == TES_OK);
    REQUIRE(tes_se_create_key(se, &ouv, uv) == TES_OK);
    REQUIRE(tes_se_create_key(se, &osu, once) == TES_OK);

    /* two plain keys, with a nonce that needs escaping */
    const char *two[] = {plain, plain2};
    char *jwt = se_ka(se, two, 2, "n\"o\\nce");
    REQUIRE(jwt != NULL);
    json_t *h = jws_part(jwt, 0), *c = jws_part(jwt, 1);
    REQUIRE(h != NULL && c != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(h, "typ")), "key-attestation+jwt");
    CHECK_EQ_STR(json_string_value(json_object_get(h, "alg")), "ES256");
    CHECK_EQ_INT(json_array_size(json_object_get(h, "x5c")), 2);
    CHECK(json_object_get(h, "kid") == NULL && json_object_get(h, "jwk") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(c, "nonce")), "n\"o\\nce");
    int64_t now = time(NULL), iat = json_integer_value(json_object_get(c, "iat"));
    CHECK(iat >= now - 5 && iat <= now + 5);
    CHECK(json_integer_value(json_object_get(c, "exp")) > iat + DAY);
    json_t *ak = json_object_get(c, "attested_keys");
    REQUIRE(json_array_size(ak) == 2);
    for (size_t i = 0; i < 2; i++) {
        tes_key *pub = NULL, *jk = NULL;
        CHECK_ERR(tes_se_public_key(se, two[i], &pub), TES_OK);
        CHECK_ERR(iss_jwk_parse(json_array_get(ak, i), TES_ERR_ARG, "k", &jk), TES_OK);
        CHECK(pub && jk && tes_key_equal_public(pub, jk));
        CHECK(json_object_get(json_array_get(ak, i), "d") == NULL);
        tes_key_free(pub);
        tes_key_free(jk);
    }
    json_t *ks = json_object_get(c, "key_storage");
    CHECK_EQ_INT(json_array_size(ks), 1);
    CHECK_EQ_STR(json_string_value(json_array_get(ks, 0)), TES_KA_STORAGE_SOFT);
    CHECK(json_object_get(c, "user_authentication") == NULL); /* the keys need no PIN */

    /* the signer: a one-time end-entity key certified by the SE's attestation certificate */
    tes_cert *signer = x5c_cert(h, 0), *att = x5c_cert(h, 1);
    REQUIRE(signer != NULL && att != NULL);
    const tes_cert_info *si = tes_cert_get_info(signer);
    CHECK(!si->is_ca && (si->key_usage & TES_KU_DIGITAL_SIGNATURE));
    CHECK(tes_cert_has_eku(signer, TES_OID_KA_SIGNER));
    CHECK_ERR(tes_cert_verify_signed_by(signer, att), TES_OK);
    char dev[65], want_dev[65];
    uint8_t hh[32];
    CHECK_ERR(tes_digest(TES_HASH_SHA256, tes_cert_der(att), hh), TES_OK);
    fx_hex32(hh, dev);
    REQUIRE(fx_se_device_id(se, want_dev));
    CHECK_EQ_STR(dev, want_dev); /* x5c[1] is the certificate the x5c form sends second */
    const char *dot = strrchr(jwt, '.');
    tes_buf sig = {0};
    REQUIRE(tes_b64url_decode(&sig, dot + 1, strlen(dot + 1)) == TES_OK);
    CHECK_ERR(tes_key_verify(tes_cert_key(signer), TES_HASH_SHA256,
                             TES_BYTES(jwt, (size_t)(dot - jwt)), tes_buf_bytes(&sig)),
              TES_OK);
    tes_buf_free(&sig);
    /* a second attestation has another signer key */
    char *again = se_ka(se, two, 2, NULL);
    REQUIRE(again != NULL);
    json_t *h2 = jws_part(again, 0), *c2 = jws_part(again, 1);
    tes_cert *signer2 = x5c_cert(h2, 0);
    CHECK(signer2 && !tes_key_equal_public(tes_cert_key(signer), tes_cert_key(signer2)));
    CHECK(json_object_get(c2, "nonce") == NULL);
    tes_cert_free(signer2);
    json_decref(h2);
    json_decref(c2);
    free(again);
    tes_cert_free(signer);
    tes_cert_free(att);
    json_decref(h);
    json_decref(c);
    free(jwt);

    /* the protections as they are: user verification, single use */
    c = se_ka_claims_of(se, uv);
    REQUIRE(c != NULL);
    json_t *ua = json_object_get(c, "user_authentication");
    CHECK_EQ_INT(json_array_size(ua), 1);
    CHECK_EQ_STR(json_string_value(json_array_get(ua, 0)), TES_KA_USER_AUTH_PIN);
    CHECK_EQ_INT(json_array_size(json_object_get(c, "key_storage")), 1);
    json_decref(c);
    c = se_ka_claims_of(se, once);
    REQUIRE(c != NULL);
    ks = json_object_get(c, "key_storage");
    CHECK_EQ_INT(json_array_size(ks), 2);
    CHECK_EQ_STR(json_string_value(json_array_get(ks, 1)), TES_KA_STORAGE_SINGLE_USE);
    CHECK(json_object_get(c, "user_authentication") == NULL);
    json_decref(c);

    /* errors; the output buffer is left as it was */
    tes_buf out = {0};
    tes_buf_append(&out, "keep", 4);
    const char *s1[] = {once};
    const char *mixed[] = {plain, uv}, *dup[] = {plain, plain}, *unknown[] = {"0123"};
    CHECK_ERR(tes_se_attest_jwt(se, mixed, 2, NULL, &out), TES_ERR_ARG);
    CHECK(strstr(tes_err_message(), "different protections") != NULL);
    CHECK_ERR(tes_se_attest_jwt(se, dup, 2, NULL, &out), TES_ERR_ARG);
    CHECK_ERR(tes_se_attest_jwt(se, unknown, 1, NULL, &out), TES_ERR_KEY_UNKNOWN);
    CHECK_ERR(tes_se_attest_jwt(se, two, 0, NULL, &out), TES_ERR_ARG);
    CHECK_ERR(tes_se_attest_jwt(se, two, 1, "", &out), TES_ERR_ARG);
    CHECK_ERR(tes_se_attest_jwt(se, two, 1, "line\nbreak", &out), TES_ERR_ARG);
    CHECK_ERR(tes_se_attest_jwt(se, two, 1, NULL, NULL), TES_ERR_ARG);
    uint8_t s[TES_MAX_SIG];
    size_t sl = 0;
    CHECK_ERR(tes_se_sign(se, once, NULL, TES_BYTES("m", 1), s, &sl), TES_OK);
    CHECK_ERR(tes_se_attest_jwt(se, s1, 1, NULL, &out), TES_ERR_KEY_USED);
    CHECK_EQ_INT(out.len, 4);
    tes_buf_free(&out);
}

/* A backend built before the member existed, or one without it. */
TEST(se_attest_jwt_unsupported)
{
    REQUIRE(env_up());
    tes_se_ops old = *E.se->ops;
    old.size = offsetof(tes_se_ops, attest_jwt); /* the table of an older build */
    tes_se fake = {&old};
    const char *ids[] = {"k"};
    tes_buf out = {0};
    CHECK_ERR(tes_se_attest_jwt(&fake, ids, 1, NULL, &out), TES_ERR_UNSUPPORTED);
    old.size = sizeof old;
    old.attest_jwt = NULL; /* PKCS#11 */
    CHECK_ERR(tes_se_attest_jwt(&fake, ids, 1, NULL, &out), TES_ERR_UNSUPPORTED);
    CHECK_EQ_INT(out.len, 0);
}

/* ------------------------------------------------------------------ tests: the issuer's checks */

/* The policy of the main service (vendor roots, no UV). */
static iss_policy policy(bool uv)
{
    return (iss_policy){.credential_issuer = E.main.url,
                        .vendor_roots = tes_buf_bytes(&E.roots),
                        .require_uv = uv,
                        .batch_max = BATCH_MAX};
}

TEST(parser_accepts_the_se)
{
    REQUIRE(env_up());
    char id[TES_SE_ID_MAX];
    tes_se_key_opts o = {0};
    REQUIRE(tes_se_create_key(E.se, &o, id) == TES_OK);
    const char *ids[] = {id};
    char *jwt = se_ka(E.se, ids, 1, "c-nonce-1");
    REQUIRE(jwt != NULL);
    iss_policy p = policy(false);
    iss_key_att ka;
    int64_t now = fx_test_now(NULL);
    CHECK_ERR(iss_key_att_parse(&p, jwt, strlen(jwt), now, true, "c-nonce-1", &ka), TES_OK);
    CHECK_EQ_INT(ka.n, 1);
    CHECK_EQ_STR(ka.nonce, "c-nonce-1");
    CHECK_ERR(iss_key_att_trust(&p, &ka, now), TES_OK);
    char dev[65], want[65];
    CHECK_ERR(iss_key_att_device_id(&ka, ka.keys[0], dev), TES_OK);
    REQUIRE(fx_se_device_id(E.se, want));
    CHECK_EQ_STR(dev, want);
    /* the attestation proof type reads the nonce from it */
    iss_key_att_free(&ka);
    CHECK_ERR(iss_key_att_parse(&p, jwt, strlen(jwt), now, false, NULL, &ka), TES_OK);
    CHECK_EQ_STR(ka.nonce, "c-nonce-1");
    iss_key_att_free(&ka);
    /* with UV required: these keys need no PIN */
    p.require_uv = true;
    CHECK_ERR(iss_key_att_parse(&p, jwt, strlen(jwt), now, true, "c-nonce-1", &ka),
              TES_ERR_ATTESTATION);
    CHECK(strstr(tes_err_message(), "user_authentication") != NULL);
    free(jwt);
    /* a chip of an untrusted vendor: well-formed, not trusted */
    REQUIRE(tes_se_create_key(E.se_untrusted, &o, id) == TES_OK);
    jwt = se_ka(E.se_untrusted, ids, 1, "c-nonce-1");
    REQUIRE(jwt != NULL);
    p.require_uv = false;
    CHECK_ERR(iss_key_att_parse(&p, jwt, strlen(jwt), now, true, "c-nonce-1", &ka), TES_OK);
    CHECK_ERR(iss_key_att_trust(&p, &ka, now), TES_ERR_ATTESTATION);
    CHECK(strstr(tes_err_message(), "does not lead to a trusted vendor root") != NULL);
    iss_policy dev_p = p;
    dev_p.vendor_roots = TES_BYTES(NULL, 0);
    CHECK_ERR(iss_key_att_trust(&dev_p, &ka, now), TES_OK); /* development: not checked */
    /* a year on, the SE's signer certificate has expired */
    CHECK_ERR(iss_key_att_trust(&p, &ka, now + 400 * DAY), TES_ERR_ATTESTATION);
    iss_key_att_free(&ka);
    free(jwt);
}

/* Parses (and, when that passes, trusts) jwt under the main policy: exactly
 * code want, the message holding needle. */
static void expect(const char *jwt, bool for_jwt, const char *c_nonce, bool uv, tes_err want,
                   const char *needle, const char *name)
{
    iss_policy p = policy(uv);
    iss_key_att ka;
    tes_err e =
        jwt ? iss_key_att_parse(&p, jwt, strlen(jwt), fx_test_now(NULL), for_jwt, c_nonce, &ka)
            : TES_ERR_ARG;
    if (e == TES_OK) {
        e = iss_key_att_trust(&p, &ka, fx_test_now(NULL));
        iss_key_att_free(&ka);
    }
    bool ok = e == want && (needle == NULL || strstr(tes_err_message(), needle) != NULL);
    if (!ok)
        fprintf(stderr, "    case %s: got %s (%s), wanted %s with \"%s\"\n", name, tes_err_name(e),
                tes_err_message(), tes_err_name(want), needle ? needle : "");
    CHECK(ok);
}

/* expect() of hdr (NULL: the forge's) and claims (both stolen) signed by
 * signer (NULL: the forge's), for a jwt proof with c_nonce, UV not required. */
static void expect_signed(json_t *hdr, json_t *claims, const tes_key *signer, const char *c_nonce,
                          tes_err want, const char *needle, const char *name)
{
    char *j = jws(hdr ? hdr : ka_header(), claims, signer ? signer : E.signer_key);
    expect(j, true, c_nonce, false, want, needle, name);
    free(j);
}

/* obj with member set to value (stolen). */
static json_t *with(json_t *obj, const char *member, json_t *value)
{
    json_object_set_new(obj, member, value);
    return obj;
}

/* obj without member. */
static json_t *without(json_t *obj, const char *member)
{
    json_object_del(obj, member);
    return obj;
}

TEST(parser_one_check_each)
{
    REQUIRE(env_up());
    tes_key *k = NULL, *k2 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k2) == TES_OK);
    int64_t now = fx_test_now(NULL);
    const char *N = "the-c-nonce";
    const tes_err BAD = TES_ERR_ATTESTATION, MALFORMED = TES_ERR_ATTESTATION_FORMAT;

    /* the forge's attestation passes every check */
    char *good = forged(NULL, ka_claims(&k, 1, N));
    expect(good, true, N, true, TES_OK, NULL, "good");
    expect(good, false, NULL, true, TES_OK, NULL, "good, attestation type");

    /* typ, alg, signer naming, crit */
    expect_signed(with(ka_header(), "typ", json_string("openid4vci-proof+jwt")),
                  ka_claims(&k, 1, N), NULL, N, BAD, "\"typ\" is not \"key-attestation+jwt\"",
                  "typ");
    expect_signed(with(ka_header(), "alg", json_string("ES384")), ka_claims(&k, 1, N), NULL, N, BAD,
                  "\"alg\" is not \"ES256\"", "alg");
    expect_signed(with(ka_header(), "kid", json_string("0")), ka_claims(&k, 1, N), NULL, N, BAD,
                  "by \"x5c\" alone", "kid");
    expect_signed(with(without(ka_header(), "x5c"), "jwk", fx_jwk_of(E.signer_key)),
                  ka_claims(&k, 1, N), NULL, N, BAD, "by \"x5c\" alone", "jwk instead of x5c");
    expect_signed(with(ka_header(), "crit", json_pack("[s]", "x")), ka_claims(&k, 1, N), NULL, N,
                  BAD, "\"crit\"", "crit");

    /* bad signature: another key, and a changed byte */
    expect_signed(NULL, ka_claims(&k, 1, N), k2, N, BAD, "signature does not verify",
                  "other signer");
    char *j = strdup(good);
    char *sp = strrchr(j, '.') + 10;
    *sp = *sp == 'A' ? 'B' : 'A';
    expect(j, true, N, false, BAD, "signature does not verify", "flipped");
    free(j);

    /* time */
    expect_signed(NULL,
                  with(with(ka_claims(&k, 1, N), "iat", json_integer(now + ISS_IAT_SKEW + 60)),
                       "exp", json_integer(now + 7200)),
                  NULL, N, BAD, "\"iat\" is in the future", "iat future");
    expect_signed(NULL, with(ka_claims(&k, 1, N), "iat", json_integer(now - ISS_KA_MAX_AGE - 60)),
                  NULL, N, BAD, "seconds old", "iat old");
    expect_signed(NULL,
                  with(with(ka_claims(&k, 1, N), "iat", json_integer(now - 600)), "exp",
                       json_integer(now - 1)),
                  NULL, N, BAD, "has expired", "exp past");
    expect_signed(NULL,
                  with(with(ka_claims(&k, 1, N), "iat", json_integer(now + 100)), "exp",
                       json_integer(now + 50)),
                  NULL, N, BAD, "\"exp\" is not after \"iat\"", "exp before iat");
    j = forged(NULL, without(ka_claims(&k, 1, N), "exp"));
    expect(j, true, N, false, BAD, "no \"exp\"", "no exp, jwt proof");
    expect(j, false, NULL, false, TES_OK, NULL, "no exp, attestation type");
    free(j);
    expect_signed(NULL, with(ka_claims(&k, 1, N), "iat", json_string("now")), NULL, N, MALFORMED,
                  "\"iat\" missing or not an integer", "iat string");

    /* keys */
    expect_signed(NULL, with(ka_claims(&k, 1, N), "attested_keys", json_array()), NULL, N,
                  MALFORMED, "\"attested_keys\"", "no keys");
    tes_key *kk[2] = {k, k};
    expect_signed(NULL, ka_claims(kk, 2, N), NULL, N, BAD, "same key", "key twice");
    json_t *c = ka_claims(&k, 1, N);
    with(json_array_get(json_object_get(c, "attested_keys"), 0), "d", json_string("AAAA"));
    expect_signed(NULL, c, NULL, N, MALFORMED, "private key", "private jwk");
    expect_signed(NULL, with(ka_claims(&k, 1, N), "key_storage", json_string("iso_18045_high")),
                  NULL, N, MALFORMED, "\"key_storage\"", "key_storage string");

    /* nonce */
    expect(good, true, "another-nonce", false, BAD, "not the proof's c_nonce", "nonce mismatch");
    j = forged(NULL, ka_claims(&k, 1, NULL));
    expect(j, true, N, false, TES_OK, NULL, "no nonce, jwt proof");
    expect(j, false, NULL, false, BAD, "no \"nonce\"", "no nonce, attestation");
    free(j);

    /* policy: require_uv */
    j = forged(NULL, without(ka_claims(&k, 1, N), "user_authentication"));
    expect(j, true, N, true, BAD, "user_authentication", "uv absent");
    expect(j, true, N, false, TES_OK, NULL, "uv absent, not required");
    free(j);
    j = forged(NULL, with(ka_claims(&k, 1, N), "user_authentication",
                          json_pack("[s]", TES_KA_USER_AUTH_PIN)));
    expect(j, true, N, true, TES_OK, NULL, "Tessera PIN value");
    free(j);

    /* trust: untrusted chain, a signer that is not one */
    json_t *h = ka_header();
    json_array_remove(json_object_get(h, "x5c"), 1); /* the signer alone: its issuer unknown */
    expect_signed(h, ka_claims(&k, 1, N), NULL, N, BAD, "does not lead to a trusted vendor root",
                  "chain cut");
    expect_signed(ka_header_of(E.signer_no_eku_other, E.ca), ka_claims(&k, 1, N), NULL, N, BAD,
                  "extended key usage", "other EKU");
    h = json_pack("{s:s, s:s, s:[o]}", "typ", TES_KA_JWT_TYP, "alg", "ES256", "x5c",
                  b64_cert(E.ca));
    expect_signed(h, ka_claims(&k, 1, N), E.ca_key, N, BAD, "is a CA", "CA as signer");
    {
        /* signer certificates under the trusted CA that may not sign attestations: key usage
         * without digitalSignature; a P-384 key (ES256 only) */
        int64_t t0 = time(NULL);
        tes_cert_template kt = {.common_name = "Key agreement only",
                                .not_before = t0 - 3600,
                                .not_after = t0 + 30 * DAY,
                                .path_len = -1,
                                .key_usage = TES_KU_KEY_AGREEMENT,
                                .eku_oid = TES_OID_KA_SIGNER};
        tes_cert_template pt = kt;
        pt.common_name = "P-384 signer";
        pt.key_usage = TES_KU_DIGITAL_SIGNATURE;
        tes_key *p384 = NULL;
        tes_cert *ka_only = NULL, *big = NULL;
        REQUIRE(tes_cert_create(&kt, E.signer_key, E.ca, E.ca_key, &ka_only) == TES_OK);
        REQUIRE(tes_key_generate(TES_CURVE_P384, &p384) == TES_OK &&
                tes_cert_create(&pt, p384, E.ca, E.ca_key, &big) == TES_OK);
        expect_signed(ka_header_of(ka_only, E.ca), ka_claims(&k, 1, N), NULL, N, BAD,
                      "lacks keyUsage digitalSignature", "keyAgreement signer");
        expect_signed(ka_header_of(big, E.ca), ka_claims(&k, 1, N), NULL, N, BAD, "not EC P-256",
                      "P-384 signer");
        tes_cert_free(ka_only);
        tes_cert_free(big);
        tes_key_free(p384);
    }
    /* the signer named by x5c and jwk at once */
    expect_signed(with(ka_header(), "jwk", fx_jwk_of(E.signer_key)), ka_claims(&k, 1, N), NULL, N,
                  BAD, "by \"x5c\" alone", "jwk beside x5c");
    {
        /* a holder's attested key (Tessera's x5c leaf) cannot vouch for other keys */
        char id[TES_SE_ID_MAX];
        tes_se_key_opts o = {0};
        tes_buf chain = {0};
        REQUIRE(tes_se_create_key(E.se, &o, id) == TES_OK);
        REQUIRE(E.se->ops->attest(E.se, id, TES_BYTES("x", 1), &chain) == TES_OK);
        json_t *x5c = fx_x5c_of(tes_buf_bytes(&chain));
        tes_buf_free(&chain);
        REQUIRE(x5c != NULL);
        h = json_pack("{s:s, s:s, s:o}", "typ", TES_KA_JWT_TYP, "alg", "ES256", "x5c", x5c);
        j = jws_by(h, ka_claims(&k, 1, N), NULL, E.se, id);
        REQUIRE(j != NULL);
        expect(j, true, N, false, BAD, "certifies a holder's attested key", "holder key as signer");
        free(j);
    }

    /* malformed: base64, JSON, framing */
    expect("ab$c.def.ghi", true, N, false, MALFORMED, "not base64url", "b64");
    expect("abc.def", true, N, false, MALFORMED, "three parts", "two parts");
    expect("", true, N, false, MALFORMED, "empty", "empty");
    {
        char *bad_hdr = fx_b64url_text("{\"typ\":", 7);
        char *pl = fx_b64url_text("{}", 2);
        char t[512];
        snprintf(t, sizeof t, "%s.%s.%s", bad_hdr, pl, strrchr(good, '.') + 1);
        expect(t, true, N, false, MALFORMED, "header is not JSON", "JSON");
        free(bad_hdr);
        snprintf(t, sizeof t, "%s.%s.%s", pl, pl, "AAAA");
        expect(t, true, N, false, MALFORMED, "not 64 bytes", "short signature");
        char *arr = fx_b64url_text("[1]", 3);
        snprintf(t, sizeof t, "%s.%s.%s", arr, pl, strrchr(good, '.') + 1);
        expect(t, true, N, false, MALFORMED, "not a JSON object", "array");
        free(arr);
        free(pl);
    }
    expect_signed(with(ka_header(), "x5c", json_pack("[s]", "not base64 DER!")),
                  ka_claims(&k, 1, N), NULL, N, MALFORMED, "x5c[0]", "x5c not DER");
    free(good);
    tes_key_free(k);
    tes_key_free(k2);
}

/* iss_proof_parse of jwt (freed) under p fails with TES_ERR_PROOF, the message
 * holding needle; the proof as parsed in *pr. */
static void expect_proof_refused(const iss_policy *p, char *jwt, int64_t now, const char *needle,
                                 iss_proof *pr)
{
    CHECK_ERR(iss_proof_parse(p, jwt, strlen(jwt), now, pr), TES_ERR_PROOF);
    CHECK(strstr(tes_err_message(), needle) != NULL);
    free(jwt);
}

TEST(proof_with_key_attestation)
{
    REQUIRE(env_up());
    tes_key *k = NULL, *other = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &other) == TES_OK);
    iss_policy p = policy(false);
    int64_t now = fx_test_now(NULL);
    const char *N = "nonce-p", *aud = E.main.url;
    tes_key *both[2] = {k, other};
    char *ka = forged(NULL, ka_claims(both, 2, N));
    REQUIRE(ka != NULL);
    iss_proof pr;
    char *j = proof_jwt(k, N, ka, NULL, aud);
    CHECK_ERR(iss_proof_parse(&p, j, strlen(j), now, &pr), TES_OK);
    CHECK(pr.has_ka && pr.ka.n == 2 && pr.attestation.len == 0);
    CHECK_ERR(iss_proof_attestation(&p, &pr, now), TES_OK);
    char dev[65], want[65];
    uint8_t hh[32];
    CHECK_ERR(iss_proof_device_id(&pr, dev), TES_OK);
    CHECK_ERR(tes_digest(TES_HASH_SHA256, tes_cert_der(E.ca), hh), TES_OK);
    fx_hex32(hh, want);
    CHECK_EQ_STR(dev, want); /* x5c[1] of the key attestation */
    iss_proof_free(&pr);
    free(j);
    /* the proof's key is not attested */
    tes_key *stranger = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &stranger) == TES_OK);
    expect_proof_refused(&p, proof_jwt(stranger, N, ka, NULL, aud), now,
                         "not one of its attested_keys", &pr);
    CHECK(pr.key == NULL && !pr.has_ka);
    /* a key attestation for another c_nonce */
    expect_proof_refused(&p, proof_jwt(k, "other-nonce", ka, NULL, aud), now,
                         "key attestation not accepted: its \"nonce\"", &pr);
    /* both forms at once; not a string */
    expect_proof_refused(&p, proof_jwt(k, N, ka, json_pack("{s:[s]}", "x5c", "AAAA"), aud), now,
                         "both \"x5c\" and \"key_attestation\"", &pr);
    expect_proof_refused(&p, proof_jwt(k, N, NULL, json_pack("{s:{}}", "key_attestation"), aud),
                         now, "not a JWT string", &pr);
    /* malformed key attestation: an invalid proof, not a malformed request */
    expect_proof_refused(&p, proof_jwt(k, N, "e30.e30.%%%", NULL, aud), now, "not base64url", &pr);
    /* missing when required */
    j = proof_jwt(k, N, NULL, NULL, aud);
    CHECK_ERR(iss_proof_parse(&p, j, strlen(j), now, &pr), TES_OK);
    CHECK_ERR(iss_proof_attestation(&p, &pr, now), TES_ERR_PROOF);
    CHECK(strstr(tes_err_message(), "neither \"key_attestation\" nor \"x5c\"") != NULL);
    iss_proof_free(&pr);
    free(j);
    free(ka);
    tes_key_free(k);
    tes_key_free(other);
    tes_key_free(stranger);
}

/* ------------------------------------------------------------------ tests: end to end */

/* proof_types_supported of doctype in a credential issuer's metadata. */
static json_t *proof_types(json_t *metadata, const char *doctype)
{
    return json_object_get(
        json_object_get(json_object_get(metadata, "credential_configurations_supported"), doctype),
        "proof_types_supported");
}

TEST(metadata)
{
    REQUIRE(env_up());
    fx_resp r;
    REQUIRE(get_metadata(&E.main, &r));
    json_t *v = fx_resp_json(&r);
    json_t *types = proof_types(v, TES_DOCTYPE_PID);
    json_t *kar = json_object_get(json_object_get(types, "jwt"), "key_attestations_required");
    CHECK(json_is_object(kar) && json_object_size(kar) == 0);
    json_t *att = json_object_get(types, "attestation");
    CHECK_EQ_STR(json_string_value(
                     json_array_get(json_object_get(att, "proof_signing_alg_values_supported"), 0)),
                 "ES256");
    CHECK(json_is_object(json_object_get(att, "key_attestations_required")));
    json_decref(v);
    tes_buf_free(&r.body);
    /* require_uv: the user_authentication values it accepts */
    REQUIRE(get_metadata(&E.uv, &r));
    v = fx_resp_json(&r);
    types = proof_types(v, TES_DOCTYPE_MDL);
    json_t *ua =
        json_object_get(json_object_get(json_object_get(types, "jwt"), "key_attestations_required"),
                        "user_authentication");
    CHECK_EQ_STR(json_string_value(json_array_get(ua, 0)), TES_KA_USER_AUTH_PIN);
    CHECK_EQ_STR(json_string_value(json_array_get(ua, 1)), "iso_18045_high");
    json_decref(v);
    tes_buf_free(&r.body);
    /* development: no key attestation asked for, no attestation proof type */
    REQUIRE(get_metadata(&E.dev, &r));
    v = fx_resp_json(&r);
    types = proof_types(v, TES_DOCTYPE_PID);
    CHECK(json_object_get(json_object_get(types, "jwt"), "key_attestations_required") == NULL);
    CHECK(json_object_get(types, "attestation") == NULL);
    json_decref(v);
    tes_buf_free(&r.body);
}

/* Obtains 3 copies at the main service on E.se with form f and the callback
 * (the counts in w): the registry knows the phone by the SE's attestation
 * certificate. */
static void obtain_three_on_the_se(wallet_ctx *w, tes_oid4vci_proof_form f)
{
    tes_key *keys[3] = {0};
    tes_err e = obtain(&E.main, w, 3, f, true, keys);
    if (e != TES_OK)
        fprintf(stderr, "    obtain: %s\n", tes_err_message());
    CHECK_ERR(e, TES_OK);
    char want[65], dev[65];
    REQUIRE(fx_se_device_id(E.se, want));
    for (size_t i = 0; i < 3 && keys[0]; i++) {
        CHECK(device_of(E.main.db, keys[i], dev));
        CHECK_EQ_STR(dev, want);
        tes_key_free(keys[i]);
    }
}

TEST(end_to_end_key_attestation_header)
{
    REQUIRE(env_up());
    wallet_ctx w = {.se = E.se};
    obtain_three_on_the_se(&w, TES_OID4VCI_PROOF_AUTO);
    /* AUTO chose the key attestation form: no x5c chains asked, one JWT per proof */
    CHECK_EQ_INT(w.creates, 3);
    CHECK_EQ_INT(w.creates_with_challenge, 0);
    CHECK_EQ_INT(w.attestations, 3);
    CHECK_EQ_INT(w.signs, 3);
    /* the x5c form still works against the same service (AUTO without the callback) */
    wallet_ctx w2 = {.se = E.se};
    CHECK_ERR(obtain(&E.main, &w2, 2, TES_OID4VCI_PROOF_AUTO, false, NULL), TES_OK);
    CHECK_EQ_INT(w2.creates_with_challenge, 2);
    CHECK_EQ_INT(w2.attestations, 0);
    /* and forced */
    wallet_ctx w3 = {.se = E.se};
    CHECK_ERR(obtain(&E.main, &w3, 1, TES_OID4VCI_PROOF_X5C, true, NULL), TES_OK);
    CHECK_EQ_INT(w3.attestations, 0);
    /* an untrusted chip: invalid_proof from the service, TES_ERR_PROOF from the client */
    wallet_ctx wu = {.se = E.se_untrusted};
    CHECK_ERR(obtain(&E.main, &wu, 2, TES_OID4VCI_PROOF_KEY_ATTESTATION, true, NULL),
              TES_ERR_PROOF);
    CHECK(strstr(tes_err_message(), "does not lead to a trusted vendor root") != NULL);
    /* a key attestation form without the callback */
    CHECK_ERR(obtain(&E.main, &w3, 1, TES_OID4VCI_PROOF_KEY_ATTESTATION, false, NULL), TES_ERR_ARG);
}

TEST(end_to_end_attestation_proof_type)
{
    REQUIRE(env_up());
    wallet_ctx w = {.se = E.se};
    obtain_three_on_the_se(&w, TES_OID4VCI_PROOF_ATTESTATION);
    CHECK_EQ_INT(w.attestations, 1); /* one attestation for the batch */
    CHECK_EQ_INT(w.signs, 0);        /* and no proof of possession */
    /* a development service does not offer it */
    wallet_ctx wd = {.se = E.se};
    CHECK_ERR(obtain(&E.dev, &wd, 1, TES_OID4VCI_PROOF_ATTESTATION, true, NULL),
              TES_ERR_UNSUPPORTED);
}

TEST(require_uv)
{
    REQUIRE(env_up());
    /* keys without user verification are refused for their key attestation */
    wallet_ctx w = {.se = E.se};
    CHECK_ERR(obtain(&E.uv, &w, 1, TES_OID4VCI_PROOF_AUTO, true, NULL), TES_ERR_PROOF);
    CHECK(strstr(tes_err_message(), "user_authentication") != NULL);
    /* PIN-protected keys pass, in both standard forms */
    wallet_ctx wu = {.se = E.se_uv, .pin = "2468", .uv = true};
    CHECK_ERR(obtain(&E.uv, &wu, 2, TES_OID4VCI_PROOF_AUTO, true, NULL), TES_OK);
    CHECK_EQ_INT(wu.attestations, 2);
    wallet_ctx wa = {.se = E.se_uv, .pin = "2468", .uv = true};
    CHECK_ERR(obtain(&E.uv, &wa, 2, TES_OID4VCI_PROOF_ATTESTATION, true, NULL), TES_OK);
}

/* The wallet's proofs carry the time of the clock it passes (proof->clock):
 * a wallet whose clock is a day behind the service's sends a proof the
 * service refuses as too old; on time, the same wallet gets its copy. */
static int64_t day_behind_now(void *ctx)
{
    (void)ctx;
    return fx_test_now(NULL) - FX_DAY;
}

TEST(proof_iat_from_the_wallets_clock)
{
    REQUIRE(env_up());
    wallet_ctx w = {.se = E.se};
    tes_oid4vci_keys keys = {.create = w_create, .sign = w_sign, .ctx = &w};
    tes_clock behind = {day_behind_now, NULL};
    for (int on_time = 0; on_time < 2; on_time++) {
        tes_buf uri;
        char tx[16];
        REQUIRE(fx_enrol(&E.dev.cfg, COUNTER, &uri, NULL, tx, NULL, NULL));
        tes_oid4vci_proof_opts po = {.form = TES_OID4VCI_PROOF_X5C,
                                     .clock = on_time ? &FX_TEST_CLOCK : &behind};
        tes_buf *mdocs = NULL;
        char(*ids)[64] = NULL;
        size_t got = 0;
        tes_err e =
            tes_oid4vci_obtain_with((const char *)uri.ptr, tx, 1, &keys, &po, &mdocs, &ids, &got);
        tes_buf_free(&uri);
        if (on_time) {
            CHECK_ERR(e, TES_OK);
            CHECK_EQ_INT(got, 1);
        } else {
            CHECK_ERR(e, TES_ERR_PROOF);
            CHECK(strstr(tes_err_message(), "iat") != NULL);
        }
        for (size_t i = 0; i < got; i++)
            tes_buf_free(&mdocs[i]);
        free(mdocs);
        free(ids);
    }
}

TEST(development_service)
{
    REQUIRE(env_up());
    /* AUTO with the callback keeps to x5c: the service asks for no key attestation */
    wallet_ctx w = {.se = E.se};
    CHECK_ERR(obtain(&E.dev, &w, 1, TES_OID4VCI_PROOF_AUTO, true, NULL), TES_OK);
    CHECK_EQ_INT(w.attestations, 0);
    /* a key attestation header is checked but its signer not trusted: an untrusted chip passes */
    wallet_ctx wu = {.se = E.se_untrusted};
    CHECK_ERR(obtain(&E.dev, &wu, 2, TES_OID4VCI_PROOF_KEY_ATTESTATION, true, NULL), TES_OK);
    /* the attestation proof type sent anyway: refused */
    char tok[128], nonce[128];
    REQUIRE(fx_fresh_token(&E.dev.cfg, COUNTER, tok) && fx_get_nonce(E.dev.url, nonce));
    char id[TES_SE_ID_MAX];
    tes_se_key_opts o = {0};
    REQUIRE(tes_se_create_key(E.se, &o, id) == TES_OK);
    const char *ids[] = {id};
    char *ka = se_ka(E.se, ids, 1, nonce);
    char *list[] = {ka, NULL};
    send_failing(&E.dev, tok, "attestation", list, "invalid_proof", "no vendor roots");
    free(ka);
    /* a key attestation nobody vouches for binds no key besides the proof's own: of the two it
     * names, only the one that signed the proof gets a credential */
    tes_key *k1 = NULL, *k2 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k1) == TES_OK &&
            tes_key_generate(TES_CURVE_P256, &k2) == TES_OK);
    REQUIRE(fx_fresh_token(&E.dev.cfg, COUNTER, tok) && fx_get_nonce(E.dev.url, nonce));
    tes_key *two[2] = {k1, k2};
    char *ka2 = forged(NULL, ka_claims(two, 2, nonce));
    REQUIRE(ka2 != NULL);
    char *pj = proof_jwt(k1, nonce, ka2, NULL, E.dev.url);
    REQUIRE(pj != NULL);
    char *pl[] = {pj, NULL};
    fx_resp r;
    CHECK(post_proofs(&E.dev, tok, "jwt", pl, &r));
    CHECK_EQ_INT(r.status, 200);
    json_t *v = fx_resp_json(&r);
    CHECK(v != NULL && json_array_size(json_object_get(v, "credentials")) == 1);
    json_decref(v);
    tes_buf_free(&r.body);
    free(pj);
    free(ka2);
    tes_key_free(k1);
    tes_key_free(k2);
}

/* Over HTTP at the main service with an access token and the current c_nonce. */
typedef struct wire {
    const char *tok, *nonce;
} wire;

/* A jwt proof by k for the c_nonce carrying key attestation ka (NULL: none) is
 * refused: invalid_proof holding needle. */
static void send_jwt(const wire *w, const tes_key *k, const char *ka, const char *needle)
{
    char *pj = proof_jwt(k, w->nonce, ka, NULL, E.main.url);
    char *l[] = {pj, NULL};
    send_failing(&E.main, w->tok, "jwt", l, "invalid_proof", needle);
    free(pj);
}

/* send_jwt() with a key attestation it frees. */
static void send_jwt_owned(const wire *w, const tes_key *k, char *ka, const char *needle)
{
    send_jwt(w, k, ka, needle);
    free(ka);
}

/* Each check over HTTP: invalid_proof, the description naming it. */
TEST(wire_errors)
{
    REQUIRE(env_up());
    const service *s = &E.main;
    char tok[128], nonce[128];
    REQUIRE(fx_fresh_token(&s->cfg, COUNTER, tok));
    const wire w = {tok, nonce};
    tes_key *k = NULL, *k2 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k2) == TES_OK);
    fx_resp r;
    char *ka, *pj;
    int64_t now = fx_test_now(NULL);

    /* a forged but well-signed attestation is accepted: the baseline */
    REQUIRE(fx_get_nonce(s->url, nonce));
    ka = forged(NULL, ka_claims(&k, 1, nonce));
    pj = proof_jwt(k, nonce, ka, NULL, s->url);
    char *ok1[] = {pj, NULL};
    CHECK(post_proofs(s, tok, "jwt", ok1, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_buf_free(&r.body);
    free(ka);
    free(pj);

    /* wrong typ */
    REQUIRE(fx_get_nonce(s->url, nonce));
    send_jwt_owned(&w, k,
                   forged(with(ka_header(), "typ", json_string("JWT")), ka_claims(&k, 1, nonce)),
                   "proof 0: key attestation not accepted: header \"typ\" is not");

    /* bad signature */
    send_jwt_owned(&w, k, jws(ka_header(), ka_claims(&k, 1, nonce), k2),
                   "signature does not verify with the key of its x5c[0]");

    /* expired, and iat in the future */
    send_jwt_owned(&w, k,
                   forged(NULL, with(with(ka_claims(&k, 1, nonce), "iat", json_integer(now - 7200)),
                                     "exp", json_integer(now - 3600))),
                   "has expired");
    send_jwt_owned(&w, k,
                   forged(NULL, with(with(ka_claims(&k, 1, nonce), "iat", json_integer(now + 3600)),
                                     "exp", json_integer(now + 7200))),
                   "\"iat\" is in the future");

    /* the proof's key is not among attested_keys */
    send_jwt_owned(&w, k, forged(NULL, ka_claims(&k2, 1, nonce)),
                   "the proof's jwk is not one of its attested_keys");

    /* nonce mismatch */
    send_jwt_owned(&w, k, forged(NULL, ka_claims(&k, 1, "an-old-nonce")),
                   "not the proof's c_nonce");

    /* malformed base64 and JSON */
    send_jwt(&w, k, "eyJ!.e30.AAAA", "not base64url");
    send_jwt(&w, k, "e30.e30.AAAA", "not 64 bytes");
    char t[512], *bad = fx_b64url_text("{\"typ\"", 6);
    ka = forged(NULL, ka_claims(&k, 1, nonce));
    snprintf(t, sizeof t, "%s.e30.%s", bad, strrchr(ka, '.') + 1);
    free(bad);
    free(ka);
    send_jwt(&w, k, t, "header is not JSON");

    /* missing when required (the nonce is consumed: the request got that far) */
    send_jwt(&w, k, NULL, "neither \"key_attestation\" nor \"x5c\"");

    /* an untrusted vendor's chip, through the SE */
    REQUIRE(fx_get_nonce(s->url, nonce));
    char id[TES_SE_ID_MAX];
    tes_se_key_opts o = {0};
    REQUIRE(tes_se_create_key(E.se_untrusted, &o, id) == TES_OK);
    const char *ids[] = {id};
    ka = se_ka(E.se_untrusted, ids, 1, nonce);
    tes_key *pub = NULL;
    REQUIRE(tes_se_public_key(E.se_untrusted, id, &pub) == TES_OK);
    pj = jws_by(proof_header(pub, ka, NULL), proof_claims(s->url, nonce), NULL, E.se_untrusted, id);
    REQUIRE(pj != NULL);
    char *lu[] = {pj, NULL};
    send_failing(s, tok, "jwt", lu, "invalid_proof", "does not lead to a trusted vendor root");
    free(pj);
    tes_key_free(pub);
    free(ka);

    /* the attestation proof type: nonce required, batch size, one attestation only */
    REQUIRE(fx_get_nonce(s->url, nonce));
    ka = forged(NULL, ka_claims(&k, 1, NULL));
    char *l1[] = {ka, NULL};
    send_failing(s, tok, "attestation", l1, "invalid_proof", "no \"nonce\"");
    char *l2[] = {ka, ka, NULL};
    send_failing(s, tok, "attestation", l2, "invalid_proof", "exactly one key attestation");
    free(ka);
    tes_key *six[BATCH_MAX + 1];
    for (size_t i = 0; i <= BATCH_MAX; i++)
        REQUIRE(tes_key_generate(TES_CURVE_P256, &six[i]) == TES_OK);
    ka = forged(NULL, ka_claims(six, BATCH_MAX + 1, nonce));
    char *l3[] = {ka, NULL};
    send_failing(s, tok, "attestation", l3, "invalid_proof", "at most 5 per request");
    free(ka);
    /* the same, as one jwt proof whose key attestation names six keys */
    send_jwt_owned(&w, six[0], forged(NULL, ka_claims(six, BATCH_MAX + 1, nonce)),
                   "name 6 keys; at most 5 per request");
    /* one jwt proof attesting three keys: three copies (Appendix F.1) */
    ka = forged(NULL, ka_claims(six, 3, nonce));
    pj = proof_jwt(six[1], nonce, ka, NULL, s->url);
    char *ok3[] = {pj, NULL};
    CHECK(post_proofs(s, tok, "jwt", ok3, &r));
    CHECK_EQ_INT(r.status, 200);
    json_t *v = fx_resp_json(&r);
    json_t *creds = json_object_get(v, "credentials");
    CHECK_EQ_INT(json_array_size(creds), 3);
    /* the proof's key first, then the others in attested order */
    const tes_key *order[3] = {six[1], six[0], six[2]};
    for (size_t i = 0; i < json_array_size(creds) && i < 3; i++) {
        json_t *cr = json_object_get(json_array_get(creds, i), "credential");
        tes_buf m = {0};
        tes_mdoc_cred_info info;
        CHECK(json_is_string(cr) &&
              tes_b64url_decode(&m, json_string_value(cr), json_string_length(cr)) == TES_OK);
        if (tes_mdoc_cred_info_read(tes_buf_bytes(&m), &info) == TES_OK) {
            CHECK(tes_key_equal_public(info.device_key, order[i]));
            tes_mdoc_cred_info_free(&info);
        } else {
            CHECK(0);
        }
        tes_buf_free(&m);
    }
    json_decref(v);
    tes_buf_free(&r.body);
    free(ka);
    free(pj);
    /* the nonce was consumed by that success */
    ka = forged(NULL, ka_claims(&k2, 1, nonce));
    char *l4[] = {ka, NULL};
    send_failing(s, tok, "attestation", l4, "invalid_nonce", NULL);
    free(ka);
    for (size_t i = 0; i <= BATCH_MAX; i++)
        tes_key_free(six[i]);
    tes_key_free(k);
    tes_key_free(k2);
    /* still serving */
    REQUIRE(get_metadata(s, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_buf_free(&r.body);
}

TEARDOWN(service)
{
    if (!E.ready)
        return;
    tes_issuer_stop(E.main.iss);
    tes_issuer_stop(E.uv.iss);
    tes_issuer_stop(E.dev.iss);
    tes_se_close(E.se);
    tes_se_close(E.se_untrusted);
    tes_se_close(E.se_uv);
    tes_buf_free(&E.roots);
    tes_key_free(E.ca_key);
    tes_key_free(E.signer_key);
    tes_cert_free(E.ca);
    tes_cert_free(E.signer);
    tes_cert_free(E.signer_no_eku_other);
    CHECK(fx_temp_remove(E.dir));
}
