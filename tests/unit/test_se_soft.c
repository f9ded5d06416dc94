/*
 * Tests of the built-in software secure element (tessera/se.h, backend "soft"):
 * the shared conformance body, then what only the soft backend promises —
 * nothing secret on disk, tamper / truncation / rollback detection without a
 * silent reset, PIN lockout across restarts and processes, no try gained by
 * killing the process during a PIN check, and attestation to a vendor root.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"
#include "se_conformance.h"

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixed_env.h"
#include "se/se_internal.h"
#include "se/soft_internal.h"
#include "tessera/se.h"

/* ---------------------------------------------------------------- helpers */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct tmpdir {
    char path[256];
} tmpdir;

static bool tmp_make(tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->path, sizeof t->path, "%s/tes_se_soft_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(t->path) != NULL;
}

/* "soft:<dir>/se" */
static void soft_spec(const tmpdir *t, char spec[300])
{
    snprintf(spec, 300, "soft:%s/se", t->path);
}

static void se_file(const tmpdir *t, const char *name, char path[400])
{
    snprintf(path, 400, "%s/se/%s", t->path, name);
}

static tes_err open_soft(const tmpdir *t, tes_se **se)
{
    char spec[300];
    soft_spec(t, spec);
    tes_err e = tes_se_open(spec, NULL, se);
    if (e != TES_OK && e != TES_ERR_SE_TAMPERED && e != TES_ERR_SE_ROLLBACK)
        fprintf(stderr, "    open: %s\n", tes_err_message());
    return e;
}

static bool read_all(const char *path, tes_buf *out)
{
    tes_buf_reset(out);
    return tes_file_read(path, 1u << 24, out) == TES_OK;
}

static bool write_all(const char *path, tes_bytes b)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return false;
    bool ok = fwrite(b.ptr, 1, b.len, f) == b.len;
    return fclose(f) == 0 && ok;
}

static bool same_file(const char *path, tes_bytes expect)
{
    tes_buf b = {0};
    bool ok = read_all(path, &b) && tes_bytes_eq(tes_buf_bytes(&b), expect);
    tes_buf_free(&b);
    return ok;
}

static int pin_tries(tes_se *se)
{
    int pin = -1, puk = -1;
    bool set = false;
    if (se->ops->pin_status(se, &pin, &puk, &set) != TES_OK)
        return -100;
    return pin;
}

/* A fresh SE with a PIN and one key of each kind; returns the UV key id. */
static bool setup(const tmpdir *t, tes_se **se, char uv_id[TES_SE_ID_MAX])
{
    if (open_soft(t, se) != TES_OK)
        return false;
    tes_se_key_opts uv = {.user_verification = true};
    return (*se)->ops->pin_set(*se, "123456", "12345678") == TES_OK &&
           tes_se_create_key(*se, &uv, uv_id) == TES_OK;
}

/* ---------------------------------------------------------------- conformance */

TEST(soft_conformance)
{
    tmpdir t, v;
    REQUIRE(tmp_make(&t) && tmp_make(&v));
    char vdir[300];
    snprintf(vdir, sizeof vdir, "%s/vendor", v.path);
    CHECK_ERR(tes_se_vendor_create(vdir, "Tessera Test SE Vendor", NULL), TES_OK);
    char vpem[400];
    snprintf(vpem, sizeof vpem, "%s/vendor.pem", vdir);
    tes_buf roots = {0};
    CHECK(read_all(vpem, &roots));

    tes_se *se = NULL;
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    CHECK_EQ_STR(se->ops->name, "soft");
    uint32_t caps = tes_se_caps(se);
    CHECK_EQ_INT(caps, TES_SE_CAP_PIN_LOCKOUT | TES_SE_CAP_USER_VERIFICATION |
                           TES_SE_CAP_SINGLE_USE | TES_SE_CAP_ECDH_EXPORT | TES_SE_CAP_ATTESTATION |
                           TES_SE_CAP_ROLLBACK | TES_SE_CAP_PSEUDONYM);
    CHECK_ERR(tes_se_soft_provision(se, vdir), TES_OK);
    se_conformance(se, "soft", tes_buf_bytes(&roots));
    tes_se_close(se);

    /* Unprovisioned: the conformance body without vendor roots. */
    tmpdir t2;
    REQUIRE(tmp_make(&t2));
    CHECK_ERR(open_soft(&t2, &se), TES_OK);
    if (se != NULL) {
        se_conformance(se, "soft (unprovisioned)", TES_BYTES(NULL, 0));
        tes_se_close(se);
    }
    tes_buf_free(&roots);
    rm_rf(t.path);
    rm_rf(t2.path);
    rm_rf(v.path);
}

TEST(open_specs)
{
    tes_se *se = (tes_se *)1;
    CHECK_ERR(tes_se_open("soft:", NULL, &se), TES_ERR_ARG);
    CHECK(se == NULL);
    CHECK_ERR(tes_se_open("bogus:/tmp/x", NULL, &se), TES_ERR_ARG);
    CHECK_ERR(tes_se_open("pkcs11:", NULL, &se), TES_ERR_ARG);
    CHECK_ERR(tes_se_open("pkcs11:/nonexistent/libnothing.so", "/tmp", &se), TES_ERR_SE_MODULE);
    CHECK_ERR(tes_se_open("soft:/proc/nonexistent/se", NULL, &se), TES_ERR_IO);
    CHECK_ERR(tes_se_soft_provision(NULL, "/tmp"), TES_ERR_ARG);
    tes_se_close(NULL);
}

/* ---------------------------------------------------------------- nothing secret on disk */

static bool file_contains(const char *path, tes_bytes needle)
{
    tes_buf b = {0};
    bool found = read_all(path, &b) && needle.len > 0 && b.len > 0 &&
                 memmem(b.ptr, b.len, needle.ptr, needle.len) != NULL;
    tes_buf_free(&b);
    return found;
}

/* Searches every regular file in dir for the scalar in raw, hex (both cases),
 * base64 and base64url form. Returns the number of hits. */
static int scan_dir_for(const char *dir, const uint8_t d[32], int *files)
{
    tes_buf forms[5] = {{0}};
    tes_bytes raw = TES_BYTES(d, 32);
    tes_buf_append(&forms[0], d, 32);
    tes_hex_encode(&forms[1], raw);
    tes_hex_encode(&forms[2], raw);
    for (size_t i = 0; i < forms[2].len; i++)
        if (forms[2].ptr[i] >= 'a' && forms[2].ptr[i] <= 'f')
            forms[2].ptr[i] = (uint8_t)(forms[2].ptr[i] - 'a' + 'A');
    tes_b64_encode(&forms[3], TES_BYTES(d, 30)); /* 30 bytes: no padding, alignment-free */
    tes_b64url_encode(&forms[4], TES_BYTES(d, 30));
    int hits = 0;
    *files = 0;
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return -1;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        (*files)++;
        for (int f = 0; f < 5; f++)
            if (file_contains(path, tes_buf_bytes(&forms[f]))) {
                fprintf(stderr, "    scalar (form %d) found in %s\n", f, path);
                hits++;
            }
    }
    closedir(dh);
    for (int f = 0; f < 5; f++)
        tes_buf_free(&forms[f]);
    return hits;
}

/* The private scalar of key `id` of the soft SE `se`, for the search below. libtessera has
 * no function that hands a scalar out: the test unseals the SE's state itself, under the
 * SE's lock, with the module's own loader (src/se/soft_internal.h), as whoever holds the
 * device key file could. */
static tes_err sealed_scalar(tes_se *se, const char *id, uint8_t out[SOFT_SCALAR_LEN])
{
    if (se == NULL || strcmp(se->ops->name, "soft") != 0)
        return TES_ERR_ARG;
    soft_se *s = (soft_se *)se;
    tes_err e = soft_lock(s);
    if (e != TES_OK)
        return e;
    soft_state st;
    if ((e = soft_state_load(s, &st)) == TES_OK) {
        const soft_key *k = soft_state_find(&st, id);
        if (k == NULL)
            e = TES_ERR_KEY_UNKNOWN;
        else
            memcpy(out, k->d, SOFT_SCALAR_LEN);
        soft_state_free(&st);
    }
    soft_unlock(s);
    return e;
}

TEST(no_private_scalar_on_disk)
{
    tmpdir t, v;
    REQUIRE(tmp_make(&t) && tmp_make(&v));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    char vdir[300];
    snprintf(vdir, sizeof vdir, "%s/vendor", v.path);
    CHECK_ERR(tes_se_vendor_create(vdir, "Vendor", NULL), TES_OK);
    CHECK_ERR(tes_se_soft_provision(se, vdir), TES_OK);

    char ids[6][TES_SE_ID_MAX];
    memcpy(ids[0], uv, TES_SE_ID_MAX);
    for (int i = 1; i < 6; i++) {
        tes_se_key_opts o = {.user_verification = i % 2 == 0, .single_use = i % 3 == 0};
        CHECK_ERR(tes_se_create_key(se, &o, ids[i]), TES_OK);
    }
    /* use them, so every code path that touches a scalar has run */
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    for (int i = 0; i < 6; i++)
        CHECK_ERR(tes_se_sign(se, ids[i], "123456", TES_BYTES_STR("m"), sig, &sig_len), TES_OK);
    tes_buf chain = {0};
    CHECK_ERR(se->ops->attest(se, ids[0], TES_BYTES_STR("c"), &chain), TES_OK);
    tes_buf_free(&chain);

    char dir[400];
    snprintf(dir, sizeof dir, "%s/se", t.path);
    int files = 0;
    for (int i = 0; i < 6; i++) {
        uint8_t d[32];
        CHECK_ERR(sealed_scalar(se, ids[i], d), TES_OK);
        /* the scalar itself is real: it makes the SE's public key */
        tes_key *priv = NULL, *pub = NULL;
        CHECK_ERR(tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(d, 32), &priv), TES_OK);
        CHECK_ERR(tes_se_public_key(se, ids[i], &pub), TES_OK);
        CHECK(priv != NULL && pub != NULL && tes_key_equal_public(priv, pub));
        tes_key_free(priv);
        tes_key_free(pub);
        CHECK_EQ_INT(scan_dir_for(dir, d, &files), 0);
        tes_wipe(d, sizeof d);
    }
    CHECK(files >= 5); /* device.key, state.bin, counter, lock, attest.pem */

    /* the self-test of the search: a file that does hold a scalar is found */
    uint8_t d0[32];
    CHECK_ERR(sealed_scalar(se, ids[0], d0), TES_OK);
    char planted[500];
    snprintf(planted, sizeof planted, "%s/planted", t.path);
    tes_buf hexd = {0};
    tes_hex_encode(&hexd, TES_BYTES(d0, 32));
    CHECK(write_all(planted, tes_buf_bytes(&hexd)));
    CHECK_EQ_INT(scan_dir_for(t.path, d0, &files), 1);
    tes_buf_free(&hexd);

    /* permissions */
    struct stat sb;
    char p[400];
    CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    se_file(&t, "device.key", p);
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 077) == 0 && sb.st_size == 32);
    se_file(&t, "state.bin", p);
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 077) == 0);

    tes_se_close(se);
    rm_rf(t.path);
    rm_rf(v.path);
}

/* ---------------------------------------------------------------- tamper, truncation, rollback */

TEST(tampered_state_is_refused_and_kept)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    tes_se_close(se);
    char sp[400];
    se_file(&t, "state.bin", sp);
    tes_buf good = {0};
    REQUIRE(read_all(sp, &good));
    REQUIRE(good.len > 60);

    /* flip one bit at: magic, counter, IV, ciphertext start, middle, tag */
    size_t where[] = {0, 3, 4, 11, 12, 23, 24, good.len / 2, good.len - 16, good.len - 1};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        tes_buf bad = {0};
        tes_buf_append(&bad, good.ptr, good.len);
        bad.ptr[where[i]] ^= 0x01;
        REQUIRE(write_all(sp, tes_buf_bytes(&bad)));
        se = (tes_se *)1;
        CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
        CHECK(se == NULL);
        CHECK(strstr(tes_err_message(), where[i] < 4 ? "does not start with" : "authentication") !=
              NULL);
        CHECK(same_file(sp, tes_buf_bytes(&bad))); /* never reset */
        tes_buf_free(&bad);
    }
    /* truncated */
    size_t cuts[] = {0, 1, 11, 30, good.len / 2, good.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        REQUIRE(write_all(sp, TES_BYTES(good.ptr, cuts[i])));
        CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
        CHECK(strstr(tes_err_message(), cuts[i] < 40 ? "truncated" : "authentication") != NULL);
        CHECK(same_file(sp, TES_BYTES(good.ptr, cuts[i])));
    }
    /* appended garbage */
    tes_buf longer = {0};
    tes_buf_append(&longer, good.ptr, good.len);
    tes_buf_append(&longer, "x", 1);
    REQUIRE(write_all(sp, tes_buf_bytes(&longer)));
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
    tes_buf_free(&longer);

    /* the original still opens and still holds the key */
    REQUIRE(write_all(sp, tes_buf_bytes(&good)));
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    if (se != NULL) {
        tes_se_key_info info;
        CHECK_ERR(se->ops->key_info(se, uv, &info), TES_OK);
        tes_se_close(se);
    }
    tes_buf_free(&good);
    rm_rf(t.path);
}

TEST(tampered_while_open)
{
    /* A handle re-reads the state on every operation, so damage is seen at once. */
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    char sp[400];
    se_file(&t, "state.bin", sp);
    tes_buf good = {0};
    REQUIRE(read_all(sp, &good));
    good.ptr[good.len - 3] ^= 0x80;
    REQUIRE(write_all(sp, tes_buf_bytes(&good)));
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    CHECK_ERR(tes_se_sign(se, uv, "123456", TES_BYTES_STR("m"), sig, &sig_len),
              TES_ERR_SE_TAMPERED);
    CHECK_ERR(se->ops->pin_verify(se, "123456"), TES_ERR_SE_TAMPERED);
    CHECK(same_file(sp, tes_buf_bytes(&good)));
    tes_se_close(se);
    tes_buf_free(&good);
    rm_rf(t.path);
}

TEST(rollback_is_refused)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    char sp[400], cp[400];
    se_file(&t, "state.bin", sp);
    se_file(&t, "counter", cp);
    tes_buf old_state = {0}, old_counter = {0}, new_counter = {0};
    REQUIRE(read_all(sp, &old_state) && read_all(cp, &old_counter));

    /* the attacker's motive: a wrong PIN, then the old state with all tries back */
    CHECK_ERR(se->ops->pin_verify(se, "000000"), TES_ERR_PIN_WRONG);
    tes_se_close(se);
    REQUIRE(read_all(cp, &new_counter));
    REQUIRE(write_all(sp, tes_buf_bytes(&old_state)));
    se = (tes_se *)1;
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_ROLLBACK);
    CHECK(se == NULL);
    CHECK(strstr(tes_err_message(), "older copy") != NULL);
    CHECK(same_file(sp, tes_buf_bytes(&old_state)));
    CHECK(same_file(cp, tes_buf_bytes(&new_counter)));

    /* rolling back both files together defeats a software counter (documented) */
    REQUIRE(write_all(cp, tes_buf_bytes(&old_counter)));
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    if (se != NULL)
        tes_se_close(se);

    tes_buf_free(&old_state);
    tes_buf_free(&old_counter);
    tes_buf_free(&new_counter);
    rm_rf(t.path);
}

TEST(crash_between_state_and_counter_is_finished)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    char cp[400];
    se_file(&t, "counter", cp);
    tes_buf before = {0}, after = {0}, now = {0};
    REQUIRE(read_all(cp, &before));
    CHECK_ERR(se->ops->pin_verify(se, "000000"), TES_ERR_PIN_WRONG);
    tes_se_close(se);
    REQUIRE(read_all(cp, &after));
    CHECK(!tes_bytes_eq(tes_buf_bytes(&before), tes_buf_bytes(&after)));
    /* state.bin of the last update is on disk, the counter write "did not happen" */
    REQUIRE(write_all(cp, tes_buf_bytes(&before)));
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    CHECK(read_all(cp, &now) && tes_bytes_eq(tes_buf_bytes(&now), tes_buf_bytes(&after)));
    CHECK_EQ_INT(pin_tries(se), TES_SE_PIN_TRIES - 1); /* the try stays spent */
    tes_se_close(se);

    /* a counter two updates behind the state is not a crash: refused */
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    CHECK_ERR(se->ops->pin_verify(se, "123456"), TES_OK); /* at least one more update */
    tes_se_close(se);
    REQUIRE(write_all(cp, tes_buf_bytes(&before)));
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
    CHECK(same_file(cp, tes_buf_bytes(&before)));
    /* garbage in the counter */
    REQUIRE(write_all(cp, TES_BYTES_STR("12abc\n")));
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
    tes_buf_free(&before);
    tes_buf_free(&after);
    tes_buf_free(&now);
    rm_rf(t.path);
}

TEST(missing_files_are_refused)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    tes_se_close(se);
    char kp[400], sp[400], cp[400], aside[500];
    se_file(&t, "device.key", kp);
    se_file(&t, "state.bin", sp);
    se_file(&t, "counter", cp);
    snprintf(aside, sizeof aside, "%s/aside", t.path);
    tes_buf state = {0};
    REQUIRE(read_all(sp, &state));

    /* device key missing */
    REQUIRE(rename(kp, aside) == 0);
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
    CHECK(strstr(tes_err_message(), "device key") != NULL);
    CHECK(access(kp, F_OK) != 0); /* not re-created */
    CHECK(same_file(sp, tes_buf_bytes(&state)));
    /* another device key: the state does not authenticate */
    uint8_t other[32] = {1, 2, 3};
    REQUIRE(write_all(kp, TES_BYTES(other, sizeof other)));
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
    CHECK(same_file(sp, tes_buf_bytes(&state)));
    REQUIRE(write_all(kp, TES_BYTES(other, 31)));
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
    REQUIRE(rename(aside, kp) == 0);

    /* state missing */
    REQUIRE(rename(sp, aside) == 0);
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
    CHECK(strstr(tes_err_message(), "state missing") != NULL);
    CHECK(access(sp, F_OK) != 0);
    REQUIRE(rename(aside, sp) == 0);

    /* counter missing */
    REQUIRE(rename(cp, aside) == 0);
    CHECK_ERR(open_soft(&t, &se), TES_ERR_SE_TAMPERED);
    CHECK(strstr(tes_err_message(), "counter missing") != NULL);
    CHECK(access(cp, F_OK) != 0);
    REQUIRE(rename(aside, cp) == 0);

    CHECK_ERR(open_soft(&t, &se), TES_OK);
    if (se != NULL)
        tes_se_close(se);
    tes_buf_free(&state);
    rm_rf(t.path);
}

/* ---------------------------------------------------------------- PIN across restarts and handles
 */

TEST(lockout_survives_reopen)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    CHECK_ERR(se->ops->pin_verify(se, "000000"), TES_ERR_PIN_WRONG);
    CHECK_ERR(se->ops->pin_verify(se, "000000"), TES_ERR_PIN_WRONG);
    tes_se_close(se);
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    CHECK_EQ_INT(pin_tries(se), 3);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(se->ops->pin_verify(se, "000000"), TES_ERR_PIN_WRONG);
    tes_se_close(se);
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    CHECK_EQ_INT(pin_tries(se), 0);
    CHECK_ERR(se->ops->pin_verify(se, "123456"), TES_ERR_PIN_LOCKED);
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    CHECK_ERR(tes_se_sign(se, uv, "123456", TES_BYTES_STR("m"), sig, &sig_len), TES_ERR_PIN_LOCKED);

    /* PUK exhaustion: permanently blocked, also after reopening */
    for (int i = 0; i < TES_SE_PUK_TRIES; i++)
        CHECK_ERR(se->ops->pin_unblock(se, "87654321", "123456"), TES_ERR_PUK_WRONG);
    CHECK_ERR(se->ops->pin_unblock(se, "12345678", "123456"), TES_ERR_SE_BLOCKED);
    tes_se_close(se);
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    int pin = -1, puk = -1;
    bool set = false;
    CHECK_ERR(se->ops->pin_status(se, &pin, &puk, &set), TES_OK);
    CHECK(set);
    CHECK_EQ_INT(puk, 0);
    CHECK_ERR(se->ops->pin_unblock(se, "12345678", "123456"), TES_ERR_SE_BLOCKED);
    CHECK_ERR(se->ops->pin_verify(se, "123456"), TES_ERR_SE_BLOCKED);
    CHECK_ERR(tes_se_sign(se, uv, "123456", TES_BYTES_STR("m"), sig, &sig_len), TES_ERR_SE_BLOCKED);
    tes_se_close(se);
    rm_rf(t.path);
}

TEST(single_use_survives_reopen)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX], once[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    tes_se_key_opts o = {.single_use = true};
    CHECK_ERR(tes_se_create_key(se, &o, once), TES_OK);
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    CHECK_ERR(tes_se_sign(se, once, NULL, TES_BYTES_STR("m"), sig, &sig_len), TES_OK);
    tes_se_close(se);
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    CHECK_ERR(tes_se_sign(se, once, NULL, TES_BYTES_STR("m"), sig, &sig_len), TES_ERR_KEY_USED);
    /* a malformed PIN for a UV key costs no try */
    CHECK_ERR(tes_se_sign(se, uv, "12x", TES_BYTES_STR("m"), sig, &sig_len), TES_ERR_PIN_FORMAT);
    CHECK_EQ_INT(pin_tries(se), TES_SE_PIN_TRIES);
    tes_se_close(se);
    rm_rf(t.path);
}

TEST(two_handles_share_state)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *a = NULL, *b = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &a, uv));
    CHECK_ERR(open_soft(&t, &b), TES_OK);
    REQUIRE(b != NULL);
    CHECK_EQ_INT(pin_tries(b), TES_SE_PIN_TRIES);
    CHECK_ERR(a->ops->pin_verify(a, "000000"), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(pin_tries(b), TES_SE_PIN_TRIES - 1);
    CHECK_ERR(b->ops->pin_verify(b, "000000"), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(pin_tries(a), TES_SE_PIN_TRIES - 2);
    /* a key made through one handle is usable through the other */
    char k[TES_SE_ID_MAX];
    tes_se_key_opts o = {0};
    CHECK_ERR(tes_se_create_key(b, &o, k), TES_OK);
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    CHECK_ERR(tes_se_sign(a, k, NULL, TES_BYTES_STR("m"), sig, &sig_len), TES_OK);
    CHECK_ERR(a->ops->delete_key(a, k), TES_OK);
    CHECK_ERR(tes_se_sign(b, k, NULL, TES_BYTES_STR("m"), sig, &sig_len), TES_ERR_KEY_UNKNOWN);
    /* interleaved updates from both handles never trip the rollback check */
    for (int i = 0; i < 10; i++) {
        CHECK_ERR((i % 2 ? a : b)->ops->pin_verify(i % 2 ? a : b, "123456"), TES_OK);
    }
    CHECK_EQ_INT(pin_tries(a), TES_SE_PIN_TRIES);
    tes_se_close(a);
    tes_se_close(b);
    rm_rf(t.path);
}

/* ---------------------------------------------------------------- killed during PIN checks */

TEST(kill_during_pin_check_gains_no_try)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    tes_se_close(se);
    char spec[300];
    soft_spec(&t, spec);

    /* Calibrate: how long one uninterrupted child takes (sanitizer builds are
     * slower), so that the kill delays cover its whole run: 0..max(2 ms, 1.5 x) for every
     * other iteration, 0..2 ms for the rest. */
    long max_delay_us = 2000;
    {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            tes_se *c = NULL;
            if (tes_se_open(spec, NULL, &c) != TES_OK)
                _exit(3);
            _exit(c->ops->pin_verify(c, "123456") == TES_OK ? 0 : 4);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
        if (us * 3 / 2 > max_delay_us)
            max_delay_us = us * 3 / 2;
    }
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "    kill test seed %u\n", seed);
    srand(seed);
    int killed = 0, finished = 0, spent_when_killed = 0, unblocks = 0;
    for (int iter = 0; iter < 200; iter++) {
        se = NULL;
        CHECK_ERR(tes_se_open(spec, NULL, &se), TES_OK);
        REQUIRE(se != NULL);
        int before = pin_tries(se);
        if (before == 0) {
            CHECK_ERR(se->ops->pin_unblock(se, "12345678", "123456"), TES_OK);
            before = pin_tries(se);
            unblocks++;
        }
        CHECK(before > 0);
        tes_se_close(se);

        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            tes_se *c = NULL;
            if (tes_se_open(spec, NULL, &c) != TES_OK)
                _exit(3);
            tes_err e = c->ops->pin_verify(c, "000000");
            _exit(e == TES_ERR_PIN_WRONG ? 0 : 4);
        }
        /* half the kills in the first 2 ms (open, first write), half over the whole run */
        long range = iter % 2 ? 2000 : max_delay_us;
        useconds_t delay = (useconds_t)(rand() % (range + 1));
        if (delay > 0)
            usleep(delay);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        bool completed = WIFEXITED(status);
        if (completed)
            CHECK_EQ_INT(WEXITSTATUS(status), 0);

        se = NULL;
        tes_err e = tes_se_open(spec, NULL, &se); /* never tampered, never rolled back */
        CHECK_ERR(e, TES_OK);
        if (e != TES_OK) {
            fprintf(stderr, "    iteration %d: %s\n", iter, tes_err_message());
            break;
        }
        int after = pin_tries(se);
        CHECK(after <= before - (completed ? 1 : 0)); /* never a try gained */
        CHECK(after >= before - 1);                   /* one attempt costs one try */
        if (completed) {
            finished++;
        } else {
            killed++;
            spent_when_killed += before - after;
        }
        tes_se_close(se);
    }
    fprintf(stderr,
            "    kill test (delays 0..%ld us): %d finished, %d killed (%d of them had spent the "
            "try), %d unblocks\n",
            max_delay_us, finished, killed, spent_when_killed, unblocks);
    rm_rf(t.path);
}

/* ---------------------------------------------------------------- attestation */

TEST(attestation)
{
    tmpdir t, v;
    REQUIRE(tmp_make(&t) && tmp_make(&v));
    char vdir[300], vdir2[300], vpem[400];
    snprintf(vdir, sizeof vdir, "%s/vendor", v.path);
    snprintf(vdir2, sizeof vdir2, "%s/other", v.path);
    CHECK_ERR(tes_se_vendor_create(vdir, "Tessera Test SE Vendor", NULL), TES_OK);
    CHECK_ERR(tes_se_vendor_create(vdir, "again", NULL), TES_ERR_STATE); /* never replaces a root */
    CHECK_ERR(tes_se_vendor_create(vdir2, "Another Vendor", NULL), TES_OK);
    tes_buf roots = {0}, other = {0}, both = {0};
    snprintf(vpem, sizeof vpem, "%s/vendor.pem", vdir);
    REQUIRE(read_all(vpem, &roots));
    snprintf(vpem, sizeof vpem, "%s/vendor.pem", vdir2);
    REQUIRE(read_all(vpem, &other));
    tes_buf_append(&both, other.ptr, other.len);
    tes_buf_append(&both, roots.ptr, roots.len);
    snprintf(vpem, sizeof vpem, "%s/vendor_key.pem", vdir);
    struct stat sb;
    CHECK(stat(vpem, &sb) == 0 && (sb.st_mode & 077) == 0);

    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX], once[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    tes_se_key_opts o = {.single_use = true};
    CHECK_ERR(tes_se_create_key(se, &o, once), TES_OK);
    int64_t now = (int64_t)time(NULL);
    tes_bytes ch = TES_BYTES_STR("issuer nonce 7f3a");
    tes_se_attested att;

    /* before provisioning: self-signed, trusted by nobody */
    tes_buf chain = {0};
    CHECK_ERR(se->ops->attest(se, uv, ch, &chain), TES_OK);
    CHECK_ERR(
        tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots), ch, now, &att),
        TES_ERR_ATTESTATION);
    CHECK(att.key == NULL);
    tes_buf_free(&chain);

    CHECK_ERR(tes_se_soft_provision(se, vdir), TES_OK);
    char ap[400];
    se_file(&t, "attest.pem", ap);
    tes_buf apem = {0};
    CHECK(read_all(ap, &apem));
    tes_cert *certs[4] = {0};
    size_t n = 0;
    CHECK_ERR(tes_cert_parse_all(tes_buf_bytes(&apem), certs, 4, &n), TES_OK);
    CHECK_EQ_INT(n, 2);
    for (size_t i = 0; i < n; i++)
        tes_cert_free(certs[i]);
    tes_buf_free(&apem);

    /* provisioned, and still so after reopening */
    tes_se_close(se);
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    CHECK_ERR(se->ops->attest(se, uv, ch, &chain), TES_OK);
    memset(&att, 0, sizeof att);
    CHECK_ERR(
        tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots), ch, now, &att),
        TES_OK);
    tes_key *pub = NULL;
    CHECK_ERR(tes_se_public_key(se, uv, &pub), TES_OK);
    CHECK(att.key != NULL && pub != NULL && tes_key_equal_public(att.key, pub));
    CHECK(att.user_verification);
    CHECK(!att.single_use);
    CHECK_EQ_STR(att.backend, "soft");
    tes_key_free(att.key);
    tes_key_free(pub);
    /* several roots, the right one among them */
    CHECK_ERR(tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&both), ch, now, &att),
              TES_OK);
    tes_key_free(att.key);

    /* wrong challenge, wrong root, wrong time */
    CHECK_ERR(tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots),
                                        TES_BYTES_STR("issuer nonce 7f3b"), now, &att),
              TES_ERR_ATTESTATION);
    CHECK(att.key == NULL);
    CHECK_ERR(tes_se_attestation_verify(tes_buf_bytes(&chain), TES_BYTES(NULL, 0), ch, now, &att),
              TES_ERR_ARG);
    CHECK_ERR(
        tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&other), ch, now, &att),
        TES_ERR_ATTESTATION);
    CHECK_ERR(tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots), ch,
                                        now + 40LL * 366 * 86400, &att),
              TES_ERR_ATTESTATION);
    CHECK_ERR(tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots), ch,
                                        now - 86400, &att),
              TES_ERR_ATTESTATION);

    /* a single-use key says so */
    tes_buf chain2 = {0};
    CHECK_ERR(se->ops->attest(se, once, ch, &chain2), TES_OK);
    CHECK_ERR(
        tes_se_attestation_verify(tes_buf_bytes(&chain2), tes_buf_bytes(&roots), ch, now, &att),
        TES_OK);
    CHECK(att.single_use && !att.user_verification);
    tes_key_free(att.key);
    tes_buf_free(&chain2);

    /* malformed */
    CHECK_ERR(
        tes_se_attestation_verify(TES_BYTES_STR("garbage"), tes_buf_bytes(&roots), ch, now, &att),
        TES_ERR_ATTESTATION_FORMAT);
    CHECK_ERR(tes_se_attestation_verify(TES_BYTES(chain.ptr, chain.len - 1), tes_buf_bytes(&roots),
                                        ch, now, &att),
              TES_ERR_ATTESTATION_FORMAT);
    static const uint8_t two_junk[] = {0x82, 0x41, 0x00, 0x41, 0x01}; /* [h'00', h'01'] */
    CHECK_ERR(tes_se_attestation_verify(TES_BYTES(two_junk, sizeof two_junk), tes_buf_bytes(&roots),
                                        ch, now, &att),
              TES_ERR_ATTESTATION_FORMAT);
    static const uint8_t empty[] = {0x80};
    CHECK_ERR(tes_se_attestation_verify(TES_BYTES(empty, 1), tes_buf_bytes(&roots), ch, now, &att),
              TES_ERR_ATTESTATION_FORMAT);
    /* leaf only: the attestation certificate is missing */
    {
        tes_cbor_doc d = {0};
        REQUIRE(tes_cbor_parse(tes_buf_bytes(&chain), NULL, &d) == TES_OK);
        uint32_t leaf = tes_cbor_child(&d, 0);
        tes_buf one = {0};
        tes_cbor_enc e = {.out = &one};
        tes_cbor_enc_array(&e, 1);
        tes_cbor_enc_raw(&e, tes_cbor_span(&d, leaf));
        CHECK_ERR(tes_cbor_enc_finish(&e), TES_OK);
        CHECK_ERR(
            tes_se_attestation_verify(tes_buf_bytes(&one), tes_buf_bytes(&roots), ch, now, &att),
            TES_ERR_ATTESTATION_FORMAT);
        /* leaf twice: the leaf did not issue itself */
        tes_buf_reset(&one);
        tes_cbor_enc_array(&e, 2);
        tes_cbor_enc_raw(&e, tes_cbor_span(&d, leaf));
        tes_cbor_enc_raw(&e, tes_cbor_span(&d, leaf));
        CHECK_ERR(tes_cbor_enc_finish(&e), TES_OK);
        CHECK_ERR(
            tes_se_attestation_verify(tes_buf_bytes(&one), tes_buf_bytes(&roots), ch, now, &att),
            TES_ERR_ATTESTATION);
        tes_buf_free(&one);
        tes_cbor_doc_free(&d);
    }
    /* a bit flipped inside the leaf's signed part */
    {
        tes_buf bad = {0};
        tes_buf_append(&bad, chain.ptr, chain.len);
        bad.ptr[60] ^= 0x01;
        tes_err e =
            tes_se_attestation_verify(tes_buf_bytes(&bad), tes_buf_bytes(&roots), ch, now, &att);
        CHECK(e == TES_ERR_ATTESTATION || e == TES_ERR_ATTESTATION_FORMAT);
        tes_buf_free(&bad);
    }
    CHECK_ERR(se->ops->attest(se, "no-such-key", ch, &chain), TES_ERR_KEY_UNKNOWN);
    CHECK_ERR(tes_se_soft_provision(se, "/nonexistent/vendor"), TES_ERR_IO);

    tes_buf_free(&chain);
    tes_buf_free(&roots);
    tes_buf_free(&other);
    tes_buf_free(&both);
    tes_se_close(se);
    rm_rf(t.path);
    rm_rf(v.path);
}

/* ---------------------------------------------------------------- injected clock and rng */

/* The soft SE, its vendor root and their certificates live at the clock they
 * are given: a secure element made, provisioned and attesting in 2009 gives
 * an attestation that verifies in 2009 and has expired today; its key
 * attestation JWT carries 2009 as iat. The same seed makes the same secure
 * element; a failing random source makes none. */
TEST(clock_and_rng_are_the_callers)
{
    tmpdir t, v;
    REQUIRE(tmp_make(&t) && tmp_make(&v));
    int64_t at = 1234567890;
    uint64_t seed = 7;
    tes_clock clk = fixed_clock(&at);
    tes_rng rng = seeded_rng(&seed);
    tes_se_opts o = {.clock = &clk, .rng = &rng};
    char vdir[300], vpem[400], spec[300];
    snprintf(vdir, sizeof vdir, "%s/vendor", v.path);
    CHECK_ERR(tes_se_vendor_create(vdir, "Vendor of 2009", &o), TES_OK);
    snprintf(vpem, sizeof vpem, "%s/vendor.pem", vdir);
    tes_buf roots = {0};
    REQUIRE(read_all(vpem, &roots));
    tes_cert *root = NULL;
    CHECK_ERR(tes_cert_parse_any(tes_buf_bytes(&roots), &root), TES_OK);
    if (root != NULL)
        CHECK_EQ_INT(tes_cert_get_info(root)->not_before, 1234567890 - 3600);
    tes_cert_free(root);

    soft_spec(&t, spec);
    tes_se *se = NULL;
    REQUIRE(tes_se_open_with(spec, NULL, &o, &se) == TES_OK);
    char id[TES_SE_ID_MAX];
    tes_se_key_opts ko = {0};
    CHECK_ERR(tes_se_create_key(se, &ko, id), TES_OK);
    at += 60;
    CHECK_ERR(tes_se_soft_provision(se, vdir), TES_OK);
    at += 60;
    tes_bytes ch = TES_BYTES_STR("nonce of 2009");
    tes_buf chain = {0};
    CHECK_ERR(se->ops->attest(se, id, ch, &chain), TES_OK);
    tes_se_attested att = {0};
    CHECK_ERR(tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots), ch,
                                        1234567890 + 86400, &att),
              TES_OK);
    tes_key_free(att.key);
    CHECK_ERR(tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots), ch,
                                        (int64_t)time(NULL), &att),
              TES_ERR_ATTESTATION); /* the 2009 leaf lived a year */
    CHECK_ERR(tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots), ch,
                                        1234567890 - 86400, &att),
              TES_ERR_ATTESTATION); /* not yet valid the day before */

    tes_buf jwt = {0};
    const char *ids[] = {id};
    CHECK_ERR(tes_se_attest_jwt(se, ids, 1, "n-0S6_WzA2Mj", &jwt), TES_OK);
    const char *dot1 = memchr(jwt.ptr, '.', jwt.len);
    const char *dot2 =
        dot1 ? memchr(dot1 + 1, '.', jwt.len - (size_t)(dot1 + 1 - (char *)jwt.ptr)) : NULL;
    tes_buf payload = {0};
    REQUIRE(dot1 && dot2);
    CHECK_ERR(tes_b64url_decode(&payload, dot1 + 1, (size_t)(dot2 - dot1 - 1)), TES_OK);
    tes_buf_append(&payload, "", 1);
    CHECK(strstr((const char *)payload.ptr, "\"iat\":1234568010") != NULL);
    tes_buf_free(&payload);
    tes_buf_free(&jwt);
    tes_buf_free(&chain);
    tes_key *pub1 = NULL;
    CHECK_ERR(tes_se_public_key(se, id, &pub1), TES_OK);
    tes_se_close(se);

    /* the same seed in another directory: the same key id and key */
    tmpdir t2;
    REQUIRE(tmp_make(&t2));
    uint64_t seed2 = 7;
    tes_rng rng2 = seeded_rng(&seed2);
    tes_se_opts o2 = {.clock = &clk, .rng = &rng2};
    snprintf(vdir, sizeof vdir, "%s/vendor2", v.path);
    CHECK_ERR(tes_se_vendor_create(vdir, "Vendor of 2009", &o2), TES_OK); /* same draws */
    soft_spec(&t2, spec);
    REQUIRE(tes_se_open_with(spec, NULL, &o2, &se) == TES_OK);
    char id2[TES_SE_ID_MAX];
    CHECK_ERR(tes_se_create_key(se, &ko, id2), TES_OK);
    CHECK_EQ_STR(id2, id);
    tes_key *pub2 = NULL;
    CHECK_ERR(tes_se_public_key(se, id2, &pub2), TES_OK);
    CHECK(pub1 != NULL && pub2 != NULL && tes_key_equal_public(pub1, pub2));
    tes_key_free(pub1);
    tes_key_free(pub2);
    tes_se_close(se);

    /* no randomness, no secure element (and nothing half made is kept open) */
    tmpdir t3;
    REQUIRE(tmp_make(&t3));
    int calls = 0;
    tes_rng bad = failing_rng(&calls);
    tes_se_opts o3 = {.rng = &bad};
    soft_spec(&t3, spec);
    se = NULL;
    CHECK_ERR(tes_se_open_with(spec, NULL, &o3, &se), TES_ERR_RANDOM);
    CHECK(se == NULL && calls > 0);

    tes_buf_free(&roots);
    rm_rf(t.path);
    rm_rf(t2.path);
    rm_rf(t3.path);
    rm_rf(v.path);
}

/* ---------------------------------------------------------------- per-site pseudonyms */

/* The pseudonym scalar of the soft SE se, unsealed by the test as sealed_scalar does. */
static tes_err sealed_pseudonym_scalar(tes_se *se, uint8_t out[SOFT_SCALAR_LEN], bool *have)
{
    soft_se *s = (soft_se *)se;
    tes_err e = soft_lock(s);
    if (e != TES_OK)
        return e;
    soft_state st;
    if ((e = soft_state_load(s, &st)) == TES_OK) {
        *have = st.have_pseud;
        memcpy(out, st.pseud_d, SOFT_SCALAR_LEN);
        soft_state_free(&st);
    }
    soft_unlock(s);
    return e;
}

TEST(pseudonym)
{
    tmpdir t, t2;
    REQUIRE(tmp_make(&t) && tmp_make(&t2));
    tes_se *se = NULL, *other = NULL;
    char uv[TES_SE_ID_MAX], uv2[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    uint8_t d[32];
    bool have = true;
    CHECK_ERR(sealed_pseudonym_scalar(se, d, &have), TES_OK);
    CHECK(!have); /* made on first use only */
    uint8_t p1[32], p2[32];
    CHECK_ERR(sec_pseudonym(se, "123456", 0x11, p1), TES_OK);

    /* the documented formula, recomputed from the unsealed scalar */
    CHECK_ERR(sealed_pseudonym_scalar(se, d, &have), TES_OK);
    CHECK(have);
    uint8_t site[65], z[TES_MAX_COORD], in[20 + 32 + 65], want[32];
    size_t z_len = 0;
    REQUIRE(sec_site_point(0x11, site));
    tes_key *priv = NULL, *pub = NULL;
    CHECK_ERR(tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(d, 32), &priv), TES_OK);
    CHECK_ERR(tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(site + 1, 32),
                                    TES_BYTES(site + 33, 32), &pub),
              TES_OK);
    CHECK_ERR(tes_key_ecdh(priv, pub, z, &z_len), TES_OK);
    CHECK_EQ_INT(z_len, 32);
    memcpy(in, "Tessera pseudonym v1", 20);
    memcpy(in + 20, z, 32);
    memcpy(in + 52, site, 65);
    CHECK_ERR(tes_digest(TES_HASH_SHA256, TES_BYTES(in, sizeof in), want), TES_OK);
    CHECK_EQ_MEM(p1, want, 32);
    tes_key_free(priv);
    tes_key_free(pub);

    /* the scalar is in no file of the secure element */
    char dir[400];
    snprintf(dir, sizeof dir, "%s/se", t.path);
    int files = 0;
    CHECK_EQ_INT(scan_dir_for(dir, d, &files), 0);
    CHECK(files >= 3);
    tes_wipe(d, sizeof d);

    /* the same after reopening */
    tes_se_close(se);
    se = NULL;
    CHECK_ERR(open_soft(&t, &se), TES_OK);
    REQUIRE(se != NULL);
    CHECK_ERR(sec_pseudonym(se, "123456", 0x11, p2), TES_OK);
    CHECK_EQ_MEM(p1, p2, 32);

    /* another wallet: another pseudonym for the same site */
    REQUIRE(setup(&t2, &other, uv2));
    se_conformance_pseudonym_two(se, "123456", other, "123456", "soft");

    tes_se_close(other);
    tes_se_close(se);
    rm_rf(t.path);
    rm_rf(t2.path);
}

TEST(pseudonym_key_added_to_an_older_state)
{
    tmpdir t;
    REQUIRE(tmp_make(&t));
    tes_se *se = NULL;
    char uv[TES_SE_ID_MAX];
    REQUIRE(setup(&t, &se, uv));
    uint8_t p[32];
    CHECK_ERR(sec_pseudonym(se, "123456", 0x11, p), TES_OK);
    /* reseal the state without its pseudonym key, as a release before pseudonyms wrote it */
    soft_se *s = (soft_se *)se;
    REQUIRE(soft_lock(s) == TES_OK);
    soft_state st;
    REQUIRE(soft_state_load(s, &st) == TES_OK);
    st.have_pseud = false;
    st.dirty = true;
    CHECK_ERR(soft_state_store(s, &st), TES_OK);
    soft_state_free(&st);
    soft_unlock(s);
    /* an old state opens and makes its pseudonym key on first use */
    uint8_t q[32];
    CHECK_ERR(sec_pseudonym(se, "123456", 0x11, q), TES_OK);
    CHECK(memcmp(p, q, 32) != 0); /* a new key: a new pseudonym (as on a new phone) */
    tes_se_close(se);
    rm_rf(t.path);
}
