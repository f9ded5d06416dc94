/*
 * The issuing authority's document-signer key in a PKCS#11 token (SoftHSM2,
 * initialised by this test in a temp dir through SOFTHSM2_CONF). When
 * softhsm2-util, the module or the tessera CLI is missing the test FAILS, it
 * does not skip.
 *
 *  - `tessera authority init --ds-hsm` ($TESSERA_BIN) makes an authority whose
 *    DS key is in the token: ds_key.hsm and hsm-state/, no ds_key.pem, no DS
 *    private key anywhere in the directory (iaca_key.pem stays a file);
 *  - tes_ds_signer_load: issue an mdoc with it, present, verify against the IACA;
 *  - tes_authority_create with ds_hsm, no CLI: the PINs through its callback,
 *    the key deleted from the token again when the authority cannot be
 *    written, ds_key.hsm written by the library and read back by it;
 *  - the service started on that authority: enrol (CLI), obtain a batch over
 *    OpenID4VCI from several threads at once (signing serialised on the one
 *    PKCS#11 session), present and verify, fetch and verify the status list;
 *  - failures: wrong PIN (TES_ERR_PIN_WRONG, also from tes_issuer_start), no
 *    PIN (TES_ERR_PIN_REQUIRED), the PIN from TESSERA_HSM_PIN, ds_key.hsm
 *    naming a key not in the token (TES_ERR_KEY_UNKNOWN), a token key that is
 *    not ds.pem's key (TES_ERR_KEY_MALFORMED, message says so), a malformed
 *    ds_key.hsm (TES_ERR_JSON).
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tessera/core.h"
#include "tessera/cose.h"
#include "tessera/crypto.h"
#include "tessera/issuer.h"
#include "tessera/wallet.h"
#include "tessera/mdoc.h"
#include "tessera/se.h"
#include "tessera/status.h"
#include "tessera/trust.h"

#include "issuer_fixture.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define SOFTHSM_UTIL "softhsm2-util"
#define LABEL "ds"
#define SO_PIN "12345678"
#define USER_PIN "123456"
#define THREADS 4
#define BATCH 3

static char g_tmp[256], g_auth[320], g_claims[320];
static const char *g_bin;
static bool g_ready;
static tes_trust_store *g_trust;

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

static bool write_text(const char *path, const char *text)
{
    return tes_file_write(path, TES_BYTES(text, strlen(text)), 0600) == TES_OK;
}

/* Runs a shell command line; its output goes to out (may be NULL). */
static int sh(const char *cmdline, tes_buf *out)
{
    FILE *p = popen(cmdline, "r");
    if (p == NULL)
        return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        if (out)
            tes_buf_append(out, buf, n);
    if (out) {
        tes_buf_append(out, "", 1);
        out->len--;
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A copy of the authority whose ds_key.hsm says `json` (ds.pem and hsm-state copied). */
static bool variant(const char *name, const char *json, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", g_tmp, name);
    char cmd[1200], p[400];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp -r '%s/ds.pem' '%s/iaca.pem' '%s/hsm-state' '%s/'", dir, g_auth,
             g_auth, g_auth, dir);
    if (system(cmd) != 0)
        return false;
    snprintf(p, sizeof p, "%s/ds_key.hsm", dir);
    return write_text(p, json);
}

/* ------------------------------------------------------------------ setup */

TEST(setup)
{
    g_bin = getenv("TESSERA_BIN");
    REQUIRE(g_bin != NULL && access(g_bin, X_OK) == 0);
    /* Not a skip: the project installs softhsm2 (scripts/deps.sh). */
    REQUIRE(system("command -v " SOFTHSM_UTIL " >/dev/null 2>&1") == 0);
    REQUIRE(access(MODULE, R_OK) == 0);
    REQUIRE(unsetenv(TES_HSM_PIN_ENV) == 0);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tes-dshsm-XXXXXX");
    REQUIRE(mkdtemp(g_tmp) != NULL);
    char conf[400], tokens[300];
    snprintf(tokens, sizeof tokens, "%s/tokens", g_tmp);
    REQUIRE(mkdir(tokens, 0700) == 0);
    snprintf(conf, sizeof conf, "%s/softhsm2.conf", g_tmp);
    FILE *f = fopen(conf, "w");
    REQUIRE(f != NULL);
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens);
    fclose(f);
    REQUIRE(setenv("SOFTHSM2_CONF", conf, 1) == 0);
    REQUIRE(system(SOFTHSM_UTIL " --init-token --free --label " LABEL " --so-pin " SO_PIN
                                " --pin " USER_PIN " >/dev/null") == 0);

    /* The authority, DS key in the token: PIN and SO PIN on standard input. */
    snprintf(g_auth, sizeof g_auth, "%s/authority", g_tmp);
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "printf '" USER_PIN "\\n" SO_PIN "\\n' | '%s' authority init --dir '%s' "
             "--ds-hsm pkcs11:" MODULE ":" LABEL " --pin-fd 0",
             g_bin, g_auth);
    tes_buf out = {0};
    int rc = sh(cmd, &out);
    if (rc != 0)
        fprintf(stderr, "    authority init: exit %d\n%s\n", rc, (const char *)out.ptr);
    CHECK(out.ptr && strstr((const char *)out.ptr, "ds_key.hsm") != NULL);
    tes_buf_free(&out);
    REQUIRE(rc == 0);

    snprintf(g_claims, sizeof g_claims, "%s/person.json", g_tmp);
    REQUIRE(write_text(g_claims, FX_PID_CLAIMS));

    tes_buf iaca = {0};
    char p[400];
    snprintf(p, sizeof p, "%s/iaca.pem", g_auth);
    REQUIRE(tes_file_read(p, 1u << 20, &iaca) == TES_OK);
    tes_cert *root = NULL;
    REQUIRE(tes_cert_parse_any(tes_buf_bytes(&iaca), &root) == TES_OK);
    tes_buf_free(&iaca);
    REQUIRE(tes_trust_store_new(&g_trust) == TES_OK);
    tes_err e = tes_trust_store_add(g_trust, TES_PROFILE_DS, root); /* takes its own reference */
    tes_cert_free(root);
    REQUIRE(e == TES_OK);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_ready = true;
}

/* ------------------------------------------------------------------ the directory */

static bool file_has(const char *path, const char *needle)
{
    tes_buf b = {0};
    bool has = tes_file_read(path, 64u << 20, &b) == TES_OK && b.len > 0 &&
               memmem(b.ptr, b.len, needle, strlen(needle)) != NULL;
    tes_buf_free(&b);
    return has;
}

/* Counts files under dir (recursively) holding needle, except `except`. */
static int files_with(const char *dir, const char *needle, const char *except)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += files_with(p, needle, except);
        } else if (strcmp(e->d_name, except) != 0 && file_has(p, needle)) {
            fprintf(stderr, "    %s holds \"%s\"\n", p, needle);
            n++;
        }
    }
    closedir(d);
    return n;
}

TEST(no_private_key_in_the_directory)
{
    REQUIRE(g_ready);
    char p[400];
    snprintf(p, sizeof p, "%s/ds_key.pem", g_auth);
    CHECK(access(p, F_OK) != 0);
    snprintf(p, sizeof p, "%s/iaca_key.pem", g_auth); /* the root key stays a file, by design */
    CHECK(file_has(p, "PRIVATE KEY"));
    CHECK_EQ_INT(files_with(g_auth, "PRIVATE KEY", "iaca_key.pem"), 0);
    CHECK_EQ_INT(files_with(g_auth, USER_PIN, ""), 0); /* nor the PIN */
    CHECK_EQ_INT(files_with(g_auth, SO_PIN, ""), 0);
    snprintf(p, sizeof p, "%s/hsm-state", g_auth);
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);

    /* ds_key.hsm: {"se", "key_id"} and nothing else */
    snprintf(p, sizeof p, "%s/ds_key.hsm", g_auth);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    REQUIRE(j != NULL);
    CHECK_EQ_INT(json_object_size(j), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "se")), "pkcs11:" MODULE ":" LABEL);
    const char *id = json_string_value(json_object_get(j, "key_id"));
    CHECK(id != NULL && strlen(id) == 32);
    json_decref(j);
}

/* ------------------------------------------------------------------ issue + verify */

static void present_and_verify(tes_bytes mdoc, const tes_key *device_key, const char *status_uri)
{
    const tes_signer dev = tes_signer_from_key(device_key);
    tes_buf dr = {0};
    CHECK_ERR(fx_present_family_name(mdoc, &dev, &dr), TES_OK);
    tes_mdoc_result res = {0};
    tes_err e = fx_verify_response(&dr, g_trust, (int64_t)time(NULL), &res);
    if (e != TES_OK)
        fprintf(stderr, "    verify: %s\n", tes_err_message());
    CHECK_ERR(e, TES_OK);
    if (e == TES_OK) {
        CHECK_EQ_INT(res.n_docs, 1);
        CHECK_EQ_INT(res.docs[0].n_elems, 1);
        if (status_uri)
            CHECK(res.docs[0].has_status &&
                  tes_bytes_eq(res.docs[0].status_uri, TES_BYTES(status_uri, strlen(status_uri))));
    }
    tes_mdoc_result_free(&res);
    tes_buf_free(&dr);
}

TEST(load_issue_present_verify)
{
    REQUIRE(g_ready);
    tes_ds_signer *d = NULL;
    tes_err e = tes_ds_signer_load(g_auth, USER_PIN, &d);
    if (e != TES_OK)
        fprintf(stderr, "    load: %s\n", tes_err_message());
    REQUIRE(e == TES_OK);
    CHECK(tes_ds_signer_in_hsm(d));
    const tes_signer *s = tes_ds_signer_get(d);
    const tes_cert *ds = tes_ds_signer_cert(d);
    REQUIRE(s != NULL && ds != NULL);
    CHECK_EQ_INT(s->alg, TES_COSE_ES256);

    tes_key *device = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &device) == TES_OK);
    tes_mdoc_claims claims = {0};
    REQUIRE(tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), FX_PID_CLAIMS,
                                      strlen(FX_PID_CLAIMS), ".", &claims) == TES_OK);
    const int64_t now = (int64_t)time(NULL);
    const tes_bytes chain[1] = {tes_cert_der(ds)};
    const tes_mdoc_issue_params p = {.doctype = TES_DOCTYPE_PID,
                                     .claims = &claims,
                                     .device_key = device,
                                     .issuer = s,
                                     .ds_chain = chain,
                                     .ds_chain_len = 1,
                                     .signed_at = now,
                                     .valid_from = now,
                                     .valid_until = now + 30 * 86400,
                                     .decoys = 2};
    tes_buf mdoc = {0};
    e = tes_mdoc_issue(&p, &mdoc);
    if (e != TES_OK)
        fprintf(stderr, "    issue: %s\n", tes_err_message());
    CHECK_ERR(e, TES_OK);
    if (e == TES_OK)
        present_and_verify(tes_buf_bytes(&mdoc), device, NULL);

    /* a raw signature through the signer verifies with ds.pem's key */
    uint8_t sig[TES_MAX_SIG];
    size_t n = 0;
    CHECK_ERR(s->sign(s->ctx, TES_COSE_ES256, TES_BYTES_STR("hello"), sig, &n), TES_OK);
    CHECK_EQ_INT(n, 64);
    CHECK_ERR(tes_key_verify(tes_cert_key(ds), TES_HASH_SHA256, TES_BYTES_STR("hello"),
                             TES_BYTES(sig, n)),
              TES_OK);
    tes_buf_free(&mdoc);
    tes_mdoc_claims_free(&claims);
    tes_key_free(device);
    tes_ds_signer_free(d);
}

/* ------------------------------------------------------------------ PIN handling */

TEST(wrong_or_missing_pin)
{
    REQUIRE(g_ready);
    tes_ds_signer *d = NULL;
    CHECK_ERR(tes_ds_signer_load(g_auth, "654321", &d), TES_ERR_PIN_WRONG);
    CHECK(d == NULL);
    CHECK(strstr(tes_err_message(), "tries left") != NULL);
    CHECK_ERR(tes_ds_signer_load(g_auth, NULL, &d), TES_ERR_PIN_REQUIRED);
    CHECK(strstr(tes_err_message(), TES_HSM_PIN_ENV) != NULL);

    /* the service refuses to start with a wrong PIN (not at the first request) */
    tes_issuer_config cfg = {.authority_dir = g_auth, .listen = "127.0.0.1:0", .hsm_pin = "654321",
                             .attestation = TES_ATTESTATION_NOT_REQUIRED};
    tes_issuer *iss = NULL;
    CHECK_ERR(tes_issuer_start(&cfg, &iss, NULL), TES_ERR_PIN_WRONG);
    CHECK(iss == NULL);

    /* the library never takes a secret from the environment: only its caller may */
    REQUIRE(setenv(TES_HSM_PIN_ENV, USER_PIN, 1) == 0);
    CHECK_ERR(tes_ds_signer_load(g_auth, NULL, &d), TES_ERR_PIN_REQUIRED);
    CHECK(d == NULL);
    unsetenv(TES_HSM_PIN_ENV);
    /* a correct PIN resets Tessera's counter */
    CHECK_ERR(tes_ds_signer_load(g_auth, USER_PIN, &d), TES_OK);
    tes_ds_signer_free(d);
    d = NULL;
}

TEST(reference_to_an_unknown_key)
{
    REQUIRE(g_ready);
    char dir[400];
    REQUIRE(variant("unknown",
                    "{\"se\": \"pkcs11:" MODULE ":" LABEL "\", "
                    "\"key_id\": \"00112233445566778899aabbccddeeff\"}",
                    dir, sizeof dir));
    tes_ds_signer *d = NULL;
    CHECK_ERR(tes_ds_signer_load(dir, USER_PIN, &d), TES_ERR_KEY_UNKNOWN);
    CHECK(d == NULL);
    /* a token that does not exist */
    REQUIRE(variant("notoken",
                    "{\"se\": \"pkcs11:" MODULE ":no-such-token\", "
                    "\"key_id\": \"00112233445566778899aabbccddeeff\"}",
                    dir, sizeof dir));
    CHECK_ERR(tes_ds_signer_load(dir, USER_PIN, &d), TES_ERR_SE_NO_TOKEN);
    /* not JSON, missing member */
    REQUIRE(variant("garbage", "not json", dir, sizeof dir));
    CHECK_ERR(tes_ds_signer_load(dir, USER_PIN, &d), TES_ERR_JSON);
    REQUIRE(variant("nokey", "{\"se\": \"pkcs11:" MODULE ":" LABEL "\"}", dir, sizeof dir));
    CHECK_ERR(tes_ds_signer_load(dir, USER_PIN, &d), TES_ERR_JSON);
}

TEST(token_key_is_not_the_certificate_key)
{
    REQUIRE(g_ready);
    /* another key pair in the same token */
    char state[400], id[TES_SE_ID_MAX], json[300], dir[400];
    snprintf(state, sizeof state, "%s/hsm-state", g_auth);
    tes_se *se = NULL;
    REQUIRE(tes_se_open("pkcs11:" MODULE ":" LABEL, state, &se) == TES_OK);
    CHECK_ERR(se->ops->pin_verify(se, USER_PIN), TES_OK);
    const tes_se_key_opts o = {0};
    tes_err e = tes_se_create_key(se, &o, id);
    tes_se_close(se);
    REQUIRE(e == TES_OK);
    snprintf(json, sizeof json, "{\"se\": \"pkcs11:" MODULE ":" LABEL "\", \"key_id\": \"%s\"}",
             id);
    REQUIRE(variant("otherkey", json, dir, sizeof dir));
    tes_ds_signer *d = NULL;
    CHECK_ERR(tes_ds_signer_load(dir, USER_PIN, &d), TES_ERR_KEY_MALFORMED);
    CHECK(strstr(tes_err_message(), "is not the key of") != NULL);
    CHECK(d == NULL);
}

/* ------------------------------------------------------------------ the library makes it */

/* The secrets an operator gives: pins[i] for the i-th question; the questions asked. */
typedef struct secrets {
    const char *pins[2];
    int asked;
    char what[2][32];
} secrets;

static tes_err give_secret(void *ctx, const char *what, char *out, size_t cap)
{
    secrets *s = ctx;
    if (s->asked >= 2 || s->pins[s->asked] == NULL)
        return tes_err_set(TES_ERR_PIN_REQUIRED, "the operator gave no %s", what);
    snprintf(s->what[s->asked], sizeof s->what[0], "%s", what);
    snprintf(out, cap, "%s", s->pins[s->asked++]);
    return TES_OK;
}

static size_t token_keys(void)
{
    char state[400], ids[64][TES_SE_ID_MAX];
    snprintf(state, sizeof state, "%s/hsm-state", g_auth);
    tes_se *se = NULL;
    size_t n = 0;
    if (tes_se_open("pkcs11:" MODULE ":" LABEL, state, &se) != TES_OK ||
        se->ops->list_keys(se, ids, 64, &n) != TES_OK)
        n = (size_t)-1;
    tes_se_close(se);
    return n;
}

/* tes_authority_create with ds_hsm, no CLI: the PIN and (a new state directory: the
 * first time Tessera meets the token here) the SO PIN are asked through the callback;
 * ds_key.hsm is written by the library and read back by tes_ds_signer_load. */
TEST(library_creates_an_authority_with_its_ds_key_in_the_token)
{
    REQUIRE(g_ready);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/library", g_tmp);
    size_t before = token_keys();
    REQUIRE(before != (size_t)-1);

    /* the operator gives up at the SO PIN: nothing created, nothing left in the token */
    secrets giveup = {.pins = {USER_PIN, NULL}};
    tes_authority_params p = {.dir = dir,
                              .name = "Utopia Ministry",
                              .ds_hsm = "pkcs11:" MODULE ":" LABEL,
                              .secret = give_secret,
                              .secret_ctx = &giveup};
    tes_authority_result r;
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_PIN_REQUIRED);
    CHECK(strstr(tes_err_message(), "token SO PIN") != NULL);
    CHECK_EQ_INT(token_keys(), before);

    /* ds_key.hsm in the way (a directory: it cannot be written) after the key is made in
     * the token: the failure is reported and the new key is deleted again */
    char blocker[500];
    snprintf(blocker, sizeof blocker, "%s/%s", dir, TES_DS_HSM_FILE);
    REQUIRE(mkdir(blocker, 0700) == 0);
    secrets once = {.pins = {USER_PIN, SO_PIN}};
    p.secret_ctx = &once;
    p.force = true;
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_IO);
    CHECK(strstr(tes_err_message(), TES_DS_HSM_FILE) != NULL);
    CHECK_EQ_INT(token_keys(), before);
    REQUIRE(rmdir(blocker) == 0);

    secrets ok = {.pins = {USER_PIN, SO_PIN}};
    p.secret_ctx = &ok;
    tes_err e = tes_authority_create(&p, &r);
    if (e != TES_OK)
        fprintf(stderr, "    create: %s\n", tes_err_message());
    REQUIRE(e == TES_OK);
    /* this state directory had met the token in the failed attempt above: the PIN only */
    CHECK_EQ_INT(ok.asked, 1);
    CHECK(strcmp(ok.what[0], "token PIN") == 0);
    CHECK(r.ds_in_hsm);
    CHECK(strcmp(r.ds_hsm_spec, "pkcs11:" MODULE ":" LABEL) == 0);
    CHECK_EQ_INT(strlen(r.ds_key_id), 32);
    CHECK_EQ_INT(token_keys(), before + 1);
    char path[500];
    snprintf(path, sizeof path, "%s/ds_key.pem", dir);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ_INT(files_with(dir, "PRIVATE KEY", "iaca_key.pem"), 0);

    /* the descriptor: exactly {"se", "key_id"} */
    tes_buf ref = {0};
    REQUIRE(tes_file_read(blocker, 4096, &ref) == TES_OK);
    json_t *j = json_loadb((const char *)ref.ptr, ref.len, 0, NULL);
    CHECK(j && json_object_size(j) == 2);
    CHECK(j && strcmp(json_string_value(json_object_get(j, "se")), r.ds_hsm_spec) == 0);
    CHECK(j && strcmp(json_string_value(json_object_get(j, "key_id")), r.ds_key_id) == 0);
    json_decref(j);
    tes_buf_free(&ref);

    /* loaded as the service loads it: the token's key is ds.pem's, and it signs */
    tes_ds_signer *d = NULL;
    CHECK_ERR(tes_ds_signer_load(dir, USER_PIN, &d), TES_OK);
    if (d) {
        CHECK(tes_ds_signer_in_hsm(d));
        CHECK(tes_bytes_eq(tes_cert_der(tes_ds_signer_cert(d)), tes_cert_der(r.ds)));
        const tes_signer *s = tes_ds_signer_get(d);
        uint8_t sig[TES_MAX_SIG];
        size_t n = 0;
        CHECK_ERR(s->sign(s->ctx, TES_COSE_ES256, TES_BYTES_STR("hello"), sig, &n), TES_OK);
        CHECK_ERR(tes_key_verify(tes_cert_key(r.ds), TES_HASH_SHA256, TES_BYTES_STR("hello"),
                                 TES_BYTES(sig, n)),
                  TES_OK);
        tes_ds_signer_free(d);
    }
    CHECK_ERR(tes_trust_check_leaf(r.ds, TES_PROFILE_DS, r.iaca), TES_OK);
    tes_authority_result_free(&r);
}

/* ------------------------------------------------------------------ the service */

typedef struct job {
    char offer[2048], tx[16];
    fx_soft_keys keys;
    tes_buf *mdocs;
    char (*ids)[64];
    size_t n;
    tes_err err;
    char msg[512];
} job;

static void *obtain_worker(void *arg)
{
    job *j = arg;
    tes_oid4vci_keys k = {fx_soft_create, fx_soft_sign, &j->keys};
    j->err = tes_oid4vci_obtain(j->offer, j->tx, BATCH, &k, &j->mdocs, &j->ids, &j->n);
    if (j->err != TES_OK)
        snprintf(j->msg, sizeof j->msg, "%s", tes_err_message());
    return NULL;
}

/* Enrols through the CLI (`tessera authority enrol --json`): offer URI and tx code. */
static bool cli_enrol(const char *url, job *j)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd,
             "'%s' authority enrol --dir '%s' --claims '%s' --doctype " TES_DOCTYPE_PID
             " --public-url '%s' --operator test --json",
             g_bin, g_auth, g_claims, url);
    tes_buf out = {0};
    int rc = sh(cmd, &out);
    json_t *v = rc == 0 && out.ptr ? json_loads((const char *)out.ptr, 0, NULL) : NULL;
    const char *offer = json_string_value(json_object_get(v, "offer"));
    const char *tx = json_string_value(json_object_get(v, "tx_code"));
    bool ok = offer && tx && strlen(offer) < sizeof j->offer && strlen(tx) < sizeof j->tx;
    if (ok) {
        snprintf(j->offer, sizeof j->offer, "%s", offer);
        snprintf(j->tx, sizeof j->tx, "%s", tx);
    } else {
        fprintf(stderr, "    authority enrol: exit %d: %s\n", rc,
                out.ptr ? (const char *)out.ptr : "");
    }
    json_decref(v);
    tes_buf_free(&out);
    return ok;
}

TEST(service_with_the_hsm_key)
{
    REQUIRE(g_ready);
    tes_issuer_config cfg = {.authority_dir = g_auth, .listen = "127.0.0.1:0",
                             .hsm_pin = USER_PIN, .attestation = TES_ATTESTATION_NOT_REQUIRED};
    tes_issuer *iss = NULL;
    int port = 0;
    tes_err e = tes_issuer_start(&cfg, &iss, &port);
    if (e != TES_OK)
        fprintf(stderr, "    start: %s\n", tes_err_message());
    REQUIRE(e == TES_OK);
    char url[64], status_uri[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    snprintf(status_uri, sizeof status_uri, "%s/status/1", url);

    static job jobs[THREADS];
    memset(jobs, 0, sizeof jobs);
    bool enrolled = true;
    for (int i = 0; i < THREADS; i++)
        enrolled = enrolled && cli_enrol(url, &jobs[i]);
    CHECK(enrolled);
    if (enrolled) {
        /* several workers sign at once through the one PKCS#11 session */
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
            REQUIRE(pthread_create(&t[i], NULL, obtain_worker, &jobs[i]) == 0);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < THREADS; i++) {
            job *j = &jobs[i];
            if (j->err != TES_OK)
                fprintf(stderr, "    obtain %d: %s\n", i, j->msg);
            CHECK_ERR(j->err, TES_OK);
            if (j->err == TES_OK) {
                CHECK_EQ_INT(j->n, BATCH);
                for (size_t k = 0; k < j->n && k < BATCH; k++) {
                    size_t ki = (size_t)(j->ids[k][1] - '0');
                    REQUIRE(ki < j->keys.n);
                    present_and_verify(tes_buf_bytes(&j->mdocs[k]), j->keys.k[ki], status_uri);
                }
            }
            for (size_t k = 0; k < j->n; k++)
                tes_buf_free(&j->mdocs[k]);
            free(j->mdocs);
            free(j->ids);
            for (size_t k = 0; k < j->keys.n; k++)
                tes_key_free(j->keys.k[k]);
        }
    }

    /* the status list, signed with the token's key */
    fx_resp r;
    CHECK(fx_http(url, "GET", "/status/1", NULL, NULL, NULL, 0, &r));
    CHECK_EQ_INT(r.status, 200);
    tes_status_token st = {0};
    e = tes_status_token_verify(tes_buf_bytes(&r.body), status_uri, g_trust, (int64_t)time(NULL),
                                &st);
    if (e != TES_OK)
        fprintf(stderr, "    status token: %s\n", tes_err_message());
    CHECK_ERR(e, TES_OK);
    tes_status_token_free(&st);
    tes_buf_free(&r.body);
    tes_issuer_stop(iss);
}

TEARDOWN(token)
{
    if (g_trust)
        tes_trust_store_free(g_trust);
    g_trust = NULL;
    curl_global_cleanup();
    if (g_tmp[0])
        rm_rf(g_tmp);
}
