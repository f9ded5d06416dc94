/*
 * PKCS#11 backend of the secure element against a SoftHSM2 token that this
 * test initialises itself in a temporary directory (SOFTHSM2_CONF). The
 * project installs softhsm2: when softhsm2-util or the module is missing the
 * test FAILS, it does not skip.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"
#include "se_conformance.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/p11-kit.h>

#include "fixed_env.h"
#include "tessera/core.h"
#include "tessera/crypto.h"
#include "tessera/se.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define SOFTHSM_UTIL "softhsm2-util"
#define SO_PIN "12345678" /* = the PUK (see the top of src/se/pkcs11.c) */
#define USER_PIN "123456"


static char g_tmp[256];
static bool g_ready;

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

/* Initialises a fresh token with label `label` and the given SO PIN (= the PUK)
 * and user PIN (no single quotes in any of them). */
static bool init_token_pins(const char *label, const char *so_pin, const char *user_pin)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             SOFTHSM_UTIL " --init-token --free --label '%s' --so-pin '%s' --pin '%s' >/dev/null",
             label, so_pin, user_pin);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "softhsm2-util --init-token failed (%d) for label %s\n", rc, label);
    return rc == 0;
}

/* SO PIN = PUK 12345678, user PIN 123456. */
static bool init_token(const char *label)
{
    return init_token_pins(label, SO_PIN, USER_PIN);
}

static void state_dir(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", g_tmp, name);
}

static tes_err open_token(const char *label, const char *state_name, tes_se **se)
{
    char spec[256], dir[300];
    snprintf(spec, sizeof spec, "pkcs11:" MODULE ":%s", label);
    state_dir(state_name, dir, sizeof dir);
    tes_err e = tes_se_open(spec, dir, se);
    if (e)
        fprintf(stderr, "    open %s: %s\n", spec, tes_err_message());
    return e;
}

static bool msg_has(const char *needle)
{
    bool ok = strstr(tes_err_message(), needle) != NULL;
    if (!ok)
        fprintf(stderr, "    message \"%s\" lacks \"%s\"\n", tes_err_message(), needle);
    return ok;
}

/* Path of the one pkcs11-*.state file in a state directory. */
static bool find_state_file(const char *state_name, char *out, size_t n)
{
    char dir[300];
    state_dir(state_name, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return false;
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (strncmp(de->d_name, "pkcs11-", 7) == 0 && l > 6 &&
            strcmp(de->d_name + l - 6, ".state") == 0) {
            snprintf(out, n, "%s/%s", dir, de->d_name);
            found++;
        }
    }
    closedir(d);
    return found == 1;
}

TEST(setup_softhsm)
{
    /* Not a skip: the project installs softhsm2 (scripts/deps.sh). */
    REQUIRE(system("command -v " SOFTHSM_UTIL " >/dev/null 2>&1") == 0);
    REQUIRE(access(MODULE, R_OK) == 0);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tes-p11-XXXXXX");
    REQUIRE(mkdtemp(g_tmp) != NULL);
    char path[400], tokens[300];
    snprintf(tokens, sizeof tokens, "%s/tokens", g_tmp);
    REQUIRE(mkdir(tokens, 0700) == 0);
    snprintf(path, sizeof path, "%s/softhsm2.conf", g_tmp);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens);
    fclose(f);
    REQUIRE(setenv("SOFTHSM2_CONF", path, 1) == 0);
    REQUIRE(init_token("tessera-test"));
    g_ready = true;
}

TEST(missing_module)
{
    REQUIRE(g_ready);
    tes_se *se = (tes_se *)1;
    char dir[300];
    state_dir("st-missing", dir, sizeof dir);
    CHECK_ERR(tes_se_open("pkcs11:/nonexistent/libnope-pkcs11.so:tessera-test", dir, &se),
              TES_ERR_SE_MODULE);
    CHECK(se == NULL);
    CHECK(msg_has("/nonexistent/libnope-pkcs11.so"));
    CHECK(msg_has("No such file"));
    /* A file that exists but is no loadable module. */
    char conf[300], spec[400];
    snprintf(conf, sizeof conf, "%s/softhsm2.conf", g_tmp);
    snprintf(spec, sizeof spec, "pkcs11:%s", conf);
    CHECK_ERR(tes_se_open(spec, dir, &se), TES_ERR_SE_MODULE);
    CHECK(se == NULL);
    CHECK(msg_has(conf));
}

TEST(wrong_label)
{
    REQUIRE(g_ready);
    tes_se *se = (tes_se *)1;
    char dir[300];
    state_dir("st-wrong", dir, sizeof dir);
    CHECK_ERR(tes_se_open("pkcs11:" MODULE ":no-such-token", dir, &se), TES_ERR_SE_NO_TOKEN);
    CHECK(se == NULL);
    CHECK(msg_has("no-such-token"));
    CHECK(msg_has("'tessera-test'")); /* the labels seen are listed */
    /* Without a label the first initialised token is taken. */
    CHECK_ERR(tes_se_open("pkcs11:" MODULE, dir, &se), TES_OK);
    tes_se_close(se);
}

TEST(conformance)
{
    REQUIRE(g_ready);
    tes_se *se = NULL;
    REQUIRE(open_token("tessera-test", "st-conf", &se) == TES_OK);
    CHECK_EQ_STR(se->ops->name, "pkcs11");
    uint32_t caps = tes_se_caps(se);
    CHECK((caps & (TES_SE_CAP_PIN_LOCKOUT | TES_SE_CAP_USER_VERIFICATION | TES_SE_CAP_SINGLE_USE |
                   TES_SE_CAP_ATTESTATION | TES_SE_CAP_ROLLBACK)) == 0);
    CHECK((caps & TES_SE_CAP_ECDH_EXPORT) != 0); /* SoftHSM2 offers CKM_ECDH1_DERIVE */
    CHECK((caps & TES_SE_CAP_HARDWARE) == 0);    /* SoftHSM2 is a soft token */
    CHECK((caps & TES_SE_CAP_LOGIN) != 0);       /* keys are used in a logged-in session */
    CHECK((caps & TES_SE_CAP_PSEUDONYM) != 0);   /* with CKM_ECDH1_DERIVE */
    CHECK(se->ops->attest == NULL);
    se_conformance(se, "pkcs11", TES_BYTES(NULL, 0));
    tes_se_close(se);
}

/* The protection attributes of the private half of key `id` as the token itself keeps them,
 * read through a PKCS#11 session of the test's own (the module loaded with p11-kit, the token
 * found by its label, the user logged in), not through the backend under test: libtessera has
 * no function for it. Call it with no tes_se open on the token. */
typedef struct key_attrs {
    bool sensitive, extractable, is_private, on_token, derive, sign;
    unsigned long publics; /* public objects with the same CKA_ID */
} key_attrs;

static bool token_key_attrs_raw(const char *label, tes_bytes idb, const char *id, key_attrs *out);

static bool token_key_attrs(const char *label, const char *id, key_attrs *out)
{
    tes_buf idb = {0};
    bool ok = tes_hex_decode(&idb, id, strlen(id)) == TES_OK && idb.len == 16 &&
              token_key_attrs_raw(label, tes_buf_bytes(&idb), id, out);
    tes_buf_free(&idb);
    return ok;
}

/* As token_key_attrs for the key whose CKA_ID is idb (id: its name in messages). */
static bool token_key_attrs_raw(const char *label, tes_bytes idb, const char *id, key_attrs *out)
{
    CK_FUNCTION_LIST *m = p11_kit_module_load(MODULE, 0);
    if (m == NULL || p11_kit_module_initialize(m) != CKR_OK) {
        fprintf(stderr, "    cannot load %s: %s\n", MODULE, p11_kit_message());
        if (m)
            p11_kit_module_release(m);
        return false;
    }
    bool ok = false;
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
    char want[32];
    memset(want, ' ', sizeof want); /* token labels are blank-padded, not terminated */
    memcpy(want, label, strlen(label) < sizeof want ? strlen(label) : sizeof want);
    if (m->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        goto done;
    for (CK_ULONG i = 0; i < n && sess == CK_INVALID_HANDLE; i++) {
        CK_TOKEN_INFO ti;
        if (m->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            memcmp(ti.label, want, sizeof want) == 0 &&
            m->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &sess) != CKR_OK)
            sess = CK_INVALID_HANDLE;
    }
    if (sess == CK_INVALID_HANDLE) {
        fprintf(stderr, "    no session on token '%s'\n", label);
        goto done;
    }
    CK_RV rv = m->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        goto close;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, (void *)idb.ptr, idb.len}};
    CK_OBJECT_HANDLE h[2];
    CK_ULONG found = 0;
    if (m->C_FindObjectsInit(sess, tmpl, 2) == CKR_OK) {
        rv = m->C_FindObjects(sess, h, 2, &found);
        m->C_FindObjectsFinal(sess);
        if (rv != CKR_OK)
            found = 0;
    }
    if (found == 1) {
        CK_BBOOL v[6] = {0};
        CK_ATTRIBUTE a[] = {{CKA_SENSITIVE, &v[0], 1}, {CKA_EXTRACTABLE, &v[1], 1},
                            {CKA_PRIVATE, &v[2], 1},   {CKA_TOKEN, &v[3], 1},
                            {CKA_DERIVE, &v[4], 1},    {CKA_SIGN, &v[5], 1}};
        if (m->C_GetAttributeValue(sess, h[0], a, 6) == CKR_OK) {
            *out = (key_attrs){.sensitive = v[0] == CK_TRUE,
                               .extractable = v[1] == CK_TRUE,
                               .is_private = v[2] == CK_TRUE,
                               .on_token = v[3] == CK_TRUE,
                               .derive = v[4] == CK_TRUE,
                               .sign = v[5] == CK_TRUE};
            ok = true;
        }
        cls = CKO_PUBLIC_KEY;
        out->publics = 99;
        if (ok && m->C_FindObjectsInit(sess, tmpl, 2) == CKR_OK) {
            if (m->C_FindObjects(sess, h, 2, &found) == CKR_OK)
                out->publics = found;
            m->C_FindObjectsFinal(sess);
        }
    } else {
        fprintf(stderr, "    %lu private keys with CKA_ID %s\n", (unsigned long)found, id);
    }
    m->C_Logout(sess);
close:
    m->C_CloseSession(sess);
done:
    p11_kit_module_finalize(m);
    p11_kit_module_release(m);
    return ok;
}

TEST(key_attributes)
{
    REQUIRE(g_ready);
    REQUIRE(init_token("tessera-attrs"));
    tes_se *se = NULL;
    REQUIRE(open_token("tessera-attrs", "st-attrs", &se) == TES_OK);
    char id[TES_SE_ID_MAX];
    /* A private token object cannot be created before the token is logged in. */
    CHECK_ERR(tes_se_create_key(se, NULL, id), TES_ERR_PIN_REQUIRED);
    CHECK_ERR(se->ops->pin_set(se, USER_PIN, SO_PIN), TES_OK);
    tes_se_key_opts uvo = {.user_verification = true};
    CHECK_ERR(tes_se_create_key(se, &uvo, id), TES_OK);
    CHECK_EQ_INT(strlen(id), 32);
    tes_se_key_info info;
    CHECK_ERR(se->ops->key_info(se, id, &info), TES_OK);
    CHECK(info.user_verification);
    CHECK_EQ_INT(info.enforced_by_backend, 0); /* Tessera enforces UV on top */

    /* ECDH with a peer on another curve is refused before touching the token. */
    tes_key *p384 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P384, &p384) == TES_OK);
    uint8_t z[TES_MAX_COORD];
    size_t zl = 0;
    CHECK_ERR(se->ops->key_agreement(se, id, USER_PIN, p384, z, &zl), TES_ERR_ARG);
    tes_key_free(p384);

    /* The state file holds counters and flags, not the PUK (= SO PIN) nor the PIN. */
    char path[600];
    REQUIRE(find_state_file("st-attrs", path, sizeof path));
    tes_buf b = {0};
    REQUIRE(tes_file_read(path, 1 << 20, &b) == TES_OK);
    tes_buf_append(&b, "", 1);
    CHECK(strstr((const char *)b.ptr, SO_PIN) == NULL);
    CHECK(strstr((const char *)b.ptr, USER_PIN) == NULL);
    CHECK(strstr((const char *)b.ptr, id) != NULL);
    tes_buf_free(&b);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0);
    tes_se_close(se);

    /* The key the backend made is, on the token, sensitive, never extractable, private and
     * permanent: read back through a session of our own. */
    key_attrs ka = {.extractable = true};
    CHECK(token_key_attrs("tessera-attrs", id, &ka));
    CHECK(ka.sensitive);
    CHECK(!ka.extractable);
    CHECK(ka.is_private);
    CHECK(ka.on_token);
}

/* Key ids come from the randomness the token is opened with (tes_se_opts):
 * the same seed on two tokens names their first keys alike; a random source
 * that fails creates no key. */
static tes_err open_token_rng(const char *label, const char *state_name, const tes_rng *rng,
                              tes_se **se)
{
    char spec[256], dir[300];
    snprintf(spec, sizeof spec, "pkcs11:" MODULE ":%s", label);
    state_dir(state_name, dir, sizeof dir);
    tes_se_opts o = {.rng = rng};
    return tes_se_open_with(spec, dir, &o, se);
}

TEST(key_ids_from_the_callers_rng)
{
    REQUIRE(g_ready);
    static const char *const labels[] = {"tessera-rng-a", "tessera-rng-b"};
    char ids[2][TES_SE_ID_MAX];
    for (int i = 0; i < 2; i++) {
        REQUIRE(init_token(labels[i]));
        uint64_t seed = 5;
        tes_rng rng = seeded_rng(&seed);
        tes_se *se = NULL;
        REQUIRE(open_token_rng(labels[i], labels[i], &rng, &se) == TES_OK);
        CHECK_ERR(se->ops->pin_set(se, USER_PIN, SO_PIN), TES_OK);
        CHECK_ERR(tes_se_create_key(se, NULL, ids[i]), TES_OK);
        tes_se_close(se);
    }
    CHECK_EQ_STR(ids[0], ids[1]);

    int calls = 0;
    tes_rng bad = failing_rng(&calls);
    tes_se *se = NULL;
    REQUIRE(open_token_rng(labels[0], labels[0], &bad, &se) == TES_OK);
    CHECK_ERR(se->ops->pin_verify(se, USER_PIN), TES_OK);
    char id[TES_SE_ID_MAX];
    CHECK_ERR(tes_se_create_key(se, NULL, id), TES_ERR_RANDOM);
    CHECK(calls == 1);
    tes_se_close(se);
}

TEST(flags_and_login_survive_reopen)
{
    REQUIRE(g_ready);
    REQUIRE(init_token("tessera-flags"));
    tes_se *se = NULL;
    REQUIRE(open_token("tessera-flags", "st-flags", &se) == TES_OK);
    CHECK_ERR(se->ops->pin_set(se, USER_PIN, SO_PIN), TES_OK);
    char plain[TES_SE_ID_MAX], uv[TES_SE_ID_MAX], once[TES_SE_ID_MAX];
    tes_se_key_opts uvo = {.user_verification = true}, onceo = {.single_use = true};
    CHECK_ERR(tes_se_create_key(se, NULL, plain), TES_OK);
    CHECK_ERR(tes_se_create_key(se, &uvo, uv), TES_OK);
    CHECK_ERR(tes_se_create_key(se, &onceo, once), TES_OK);
    CHECK_ERR(sec_sign_verify(se, once, NULL), TES_OK);
    tes_se_close(se);

    se = NULL;
    REQUIRE(open_token("tessera-flags", "st-flags", &se) == TES_OK);
    /* Public parts and info need no login. */
    tes_key *pub = NULL;
    CHECK_ERR(tes_se_public_key(se, plain, &pub), TES_OK);
    tes_key_free(pub);
    CHECK(sec_list_has(se, plain) && sec_list_has(se, uv) && sec_list_has(se, once));
    /* A fresh handle is not logged in: even a key without UV needs the PIN once. */
    CHECK_ERR(sec_sign_verify(se, plain, NULL), TES_ERR_PIN_REQUIRED);
    CHECK(msg_has("verify the PIN"));
    CHECK_ERR(sec_sign_verify(se, uv, NULL), TES_ERR_PIN_REQUIRED);
    CHECK_ERR(sec_sign_verify(se, once, USER_PIN), TES_ERR_KEY_USED); /* flag persisted */
    CHECK_ERR(se->ops->pin_verify(se, USER_PIN), TES_OK);
    CHECK_ERR(sec_sign_verify(se, plain, NULL), TES_OK);
    CHECK_ERR(sec_sign_verify(se, uv, NULL), TES_ERR_PIN_REQUIRED); /* UV flag persisted */
    CHECK_ERR(sec_sign_verify(se, uv, USER_PIN), TES_OK);
    /* A wrong PIN does not take the login away from keys without UV. */
    CHECK_ERR(sec_sign_verify(se, uv, "000000"), TES_ERR_PIN_WRONG);
    CHECK_ERR(sec_sign_verify(se, plain, NULL), TES_OK);
    CHECK_ERR(se->ops->delete_key(se, once), TES_OK);
    CHECK(!sec_list_has(se, once));
    tes_se_key_info info;
    CHECK_ERR(se->ops->key_info(se, once, &info), TES_ERR_KEY_UNKNOWN);
    tes_se_close(se);
}

/* A token whose issuer chose text PINs (an OpenPGP card, an HSM passphrase) works as it is:
 * the backend says so (TES_SE_CAP_TEXT_PIN) and takes the token's PINs. */
TEST(text_pins_of_the_token)
{
    REQUIRE(g_ready);
    static const char so[] = "Admin pass phrase 9", user[] = "open Sesame!";
    REQUIRE(init_token_pins("tessera-text", so, user));
    tes_se *se = NULL;
    REQUIRE(open_token("tessera-text", "st-text", &se) == TES_OK);
    CHECK(tes_se_caps(se) & TES_SE_CAP_TEXT_PIN);
    CHECK_ERR(se->ops->pin_set(se, "open Sesame?", so), TES_ERR_PIN_WRONG);
    CHECK_ERR(se->ops->pin_set(se, user, "Admin pass phrase 8"), TES_ERR_PUK_WRONG);
    CHECK_ERR(se->ops->pin_set(se, "op\x01n Sesame!", so), TES_ERR_PIN_FORMAT);
    CHECK_ERR(se->ops->pin_set(se, user, so), TES_OK);
    char uv[TES_SE_ID_MAX];
    tes_se_key_opts uvo = {.user_verification = true};
    CHECK_ERR(tes_se_create_key(se, &uvo, uv), TES_OK);
    CHECK_ERR(sec_sign_verify(se, uv, user), TES_OK);
    CHECK_ERR(sec_sign_verify(se, uv, "open sesame!"), TES_ERR_PIN_WRONG);
    CHECK_ERR(se->ops->pin_change(se, user, "a new phrase"), TES_OK);
    CHECK_ERR(sec_sign_verify(se, uv, "a new phrase"), TES_OK);
    CHECK_ERR(se->ops->pin_unblock(se, so, "back to digits 1"), TES_OK);
    CHECK_ERR(sec_sign_verify(se, uv, "back to digits 1"), TES_OK);
    tes_se_close(se);
}

TEST(pin_counter_survives_reopen)
{
    REQUIRE(g_ready);
    REQUIRE(init_token("tessera-lock"));
    tes_se *se = NULL;
    REQUIRE(open_token("tessera-lock", "st-lock", &se) == TES_OK);
    CHECK_ERR(se->ops->pin_set(se, USER_PIN, SO_PIN), TES_OK);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(se->ops->pin_verify(se, "999999"), TES_ERR_PIN_WRONG);
    CHECK(msg_has("2 tries left"));
    tes_se_close(se);

    se = NULL;
    REQUIRE(open_token("tessera-lock", "st-lock", &se) == TES_OK);
    CHECK_EQ_INT(sec_pin_tries(se), 2);
    CHECK_ERR(se->ops->pin_verify(se, "999999"), TES_ERR_PIN_WRONG);
    CHECK_ERR(se->ops->pin_verify(se, "999999"), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(sec_pin_tries(se), 0);
    tes_se_close(se);

    se = NULL;
    REQUIRE(open_token("tessera-lock", "st-lock", &se) == TES_OK);
    CHECK_EQ_INT(sec_pin_tries(se), 0);
    /* Locked by Tessera: the right PIN is refused although SoftHSM2 would accept it. */
    CHECK_ERR(se->ops->pin_verify(se, USER_PIN), TES_ERR_PIN_LOCKED);
    CHECK_ERR(se->ops->pin_change(se, USER_PIN, "4444"), TES_ERR_PIN_LOCKED);

    /* The token itself never locked (C_Login was not tried with 0 tries left; SoftHSM2
     * has no counter anyway): a handle with a fresh state directory logs in with the
     * right PIN. */
    tes_se *other = NULL;
    REQUIRE(open_token("tessera-lock", "st-lock-other", &other) == TES_OK);
    CHECK_ERR(other->ops->pin_set(other, USER_PIN, SO_PIN), TES_OK);
    tes_se_close(other);

    /* Unblock survives a reopen too, and really changes the token's user PIN. */
    CHECK_ERR(se->ops->pin_unblock(se, "87654321", "5555"), TES_ERR_PUK_WRONG);
    CHECK(msg_has("9 tries left"));
    tes_se_close(se);
    se = NULL;
    REQUIRE(open_token("tessera-lock", "st-lock", &se) == TES_OK);
    CHECK_EQ_INT(sec_puk_tries(se), 9);
    CHECK_ERR(se->ops->pin_unblock(se, SO_PIN, "5555"), TES_OK);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);
    CHECK_EQ_INT(sec_puk_tries(se), TES_SE_PUK_TRIES);
    tes_se_close(se);

    other = NULL;
    REQUIRE(open_token("tessera-lock", "st-lock-other2", &other) == TES_OK);
    CHECK_ERR(other->ops->pin_set(other, USER_PIN, SO_PIN), TES_ERR_PIN_WRONG);
    CHECK_ERR(other->ops->pin_set(other, "5555", SO_PIN), TES_OK);
    tes_se_close(other);
}

/* The try is recorded before the token sees the PIN: when the state file cannot be
 * written, the PIN is not checked at all (not even the right one). A file size limit
 * of one byte (RLIMIT_FSIZE, SIGXFSZ ignored) makes the write fail even for root. */
TEST(no_pin_check_without_recorded_try)
{
    REQUIRE(g_ready);
    REQUIRE(init_token("tessera-io"));
    tes_se *se = NULL;
    REQUIRE(open_token("tessera-io", "st-io", &se) == TES_OK);
    CHECK_ERR(se->ops->pin_set(se, USER_PIN, SO_PIN), TES_OK);
    char plain[TES_SE_ID_MAX];
    CHECK_ERR(tes_se_create_key(se, NULL, plain), TES_OK);
    tes_se_close(se);

    se = NULL;
    REQUIRE(open_token("tessera-io", "st-io", &se) == TES_OK);
    char path[600];
    REQUIRE(find_state_file("st-io", path, sizeof path));
    struct rlimit old_limit, one_byte;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    one_byte = old_limit;
    one_byte.rlim_cur = 1;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &one_byte) == 0);
    tes_err verified = se->ops->pin_verify(se, USER_PIN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    signal(SIGXFSZ, old_handler);
    CHECK_ERR(verified, TES_ERR_IO);
    CHECK_ERR(sec_sign_verify(se, plain, NULL), TES_ERR_PIN_REQUIRED); /* never logged in */
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);
    CHECK_ERR(se->ops->pin_verify(se, USER_PIN), TES_OK);
    CHECK_ERR(sec_sign_verify(se, plain, NULL), TES_OK);
    tes_se_close(se);
}

TEST(puk_block_is_permanent)
{
    REQUIRE(g_ready);
    REQUIRE(init_token("tessera-puk"));
    tes_se *se = NULL;
    REQUIRE(open_token("tessera-puk", "st-puk", &se) == TES_OK);
    /* pin_set checks that the PUK is the token's SO PIN. */
    CHECK_ERR(se->ops->pin_set(se, USER_PIN, "11111111"), TES_ERR_PUK_WRONG);
    CHECK(msg_has("SO PIN"));
    bool set = true;
    int pin = 0, puk = 0;
    CHECK_ERR(se->ops->pin_status(se, &pin, &puk, &set), TES_OK);
    CHECK(!set);
    CHECK_ERR(se->ops->pin_set(se, USER_PIN, SO_PIN), TES_OK);
    for (int i = 0; i < TES_SE_PUK_TRIES - 1; i++)
        CHECK_ERR(se->ops->pin_unblock(se, "11111111", "2222"), TES_ERR_PUK_WRONG);
    CHECK_ERR(se->ops->pin_unblock(se, "11111111", "2222"), TES_ERR_SE_BLOCKED);
    CHECK_EQ_INT(sec_puk_tries(se), 0);
    tes_se_close(se);
    se = NULL;
    REQUIRE(open_token("tessera-puk", "st-puk", &se) == TES_OK);
    CHECK_ERR(se->ops->pin_unblock(se, SO_PIN, "2222"), TES_ERR_SE_BLOCKED);
    CHECK_ERR(se->ops->pin_verify(se, USER_PIN), TES_ERR_SE_BLOCKED);
    tes_se_close(se);
}

TEST(damaged_state_file)
{
    REQUIRE(g_ready);
    tes_se *se = NULL;
    REQUIRE(open_token("tessera-puk", "st-puk", &se) == TES_OK);
    tes_se_close(se);
    char path[600];
    REQUIRE(find_state_file("st-puk", path, sizeof path));
    static const char bad[] = "tessera-pkcs11-state 1\npin_set 1\npin_tries 9\npuk_tries 0\n";
    REQUIRE(tes_file_write(path, TES_BYTES_STR(bad), 0600) == TES_OK);
    se = NULL;
    CHECK_ERR(open_token("tessera-puk", "st-puk", &se), TES_ERR_SE_TAMPERED);
    CHECK(se == NULL);
    static const char cut[] = "tessera-pkcs11-state 1\npin_set 1\npin_tr";
    REQUIRE(tes_file_write(path, TES_BYTES_STR(cut), 0600) == TES_OK);
    CHECK_ERR(open_token("tessera-puk", "st-puk", &se), TES_ERR_SE_TAMPERED);
    CHECK(se == NULL);
}

TEARDOWN(token)
{
    if (g_tmp[0] != '\0' && getenv("TES_KEEP_TMP") == NULL)
        rm_rf(g_tmp);
}

TEST(pseudonym)
{
    REQUIRE(g_ready);
    REQUIRE(init_token("tessera-pseud"));
    REQUIRE(init_token("tessera-pseud2"));
    tes_se *se = NULL, *other = NULL;
    REQUIRE(open_token("tessera-pseud", "st-pseud", &se) == TES_OK);
    uint8_t p1[32], p2[32];
    CHECK_ERR(sec_pseudonym(se, USER_PIN, 0x11, p1), TES_ERR_PIN_NOT_SET);
    CHECK_ERR(se->ops->pin_set(se, USER_PIN, SO_PIN), TES_OK);
    CHECK_ERR(sec_pseudonym(se, USER_PIN, 0x11, p1), TES_OK);
    tes_se_close(se);

    /* the key as the token keeps it: private, sensitive, never extractable, on the token,
     * for key agreement only, and no public half left behind */
    key_attrs ka;
    memset(&ka, 0, sizeof ka);
    CHECK(token_key_attrs_raw("tessera-pseud", TES_BYTES_STR("tessera-pseudonym"), "pseudonym",
                              &ka));
    CHECK(ka.sensitive && !ka.extractable && ka.is_private && ka.on_token && ka.derive);
    CHECK(!ka.sign);
    CHECK_EQ_INT(ka.publics, 0);

    /* the same after reopening; another token (another wallet): another pseudonym */
    se = NULL;
    REQUIRE(open_token("tessera-pseud", "st-pseud", &se) == TES_OK);
    CHECK_ERR(sec_pseudonym(se, USER_PIN, 0x11, p2), TES_OK);
    CHECK_EQ_MEM(p1, p2, 32);
    REQUIRE(open_token("tessera-pseud2", "st-pseud2", &other) == TES_OK);
    CHECK_ERR(other->ops->pin_set(other, USER_PIN, SO_PIN), TES_OK);
    se_conformance_pseudonym_two(se, USER_PIN, other, USER_PIN, "pkcs11");
    tes_se_close(other);
    tes_se_close(se);
}
