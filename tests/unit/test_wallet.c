/* The holder's wallet as a library object (tessera/wallet.h): creating and
 * opening a wallet directory, the layout the current release makes, and
 * adding a batch of copies with its acceptance rules, each refusal with its
 * own error code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/mdoc.h"
#include "tessera/wallet.h"
#include "harness.h"

static const int64_t T0 = 1767225600; /* 2026-01-01T00:00:00Z */
#define DAY 86400

static const char pid_claims[] =
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    " \"birth_date\": \"1964-08-12\", \"issuing_authority\": \"Utopia\", \"issuing_country\": "
    "\"UT\","
    " \"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"nationality\": \"UT\"}}";

static const char mdl_claims[] =
    "{\"org.iso.18013.5.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    " \"birth_date\": \"1964-08-12\", \"issue_date\": \"2024-01-01\", \"expiry_date\": "
    "\"2034-01-01\","
    " \"issuing_country\": \"UT\", \"issuing_authority\": \"Utopia\", \"document_number\": "
    "\"T22000129\","
    " \"portrait\": \"_9j_4AAQSkZJRgABAQAAAQABAAD_2wBDAP__\", \"driving_privileges\": "
    "[{\"vehicle_category_code\": \"B\", \"issue_date\": \"2010-05-01\"}],"
    " \"un_distinguishing_sign\": \"UTO\", \"age_over_18\": true, \"age_over_21\": true,"
    " \"age_over_65\": false}}";

/* A document signer (self-signed: the wallet checks the issuer signature
 * against the DS certificate a credential carries, not the chain). */
typedef struct issuer {
    tes_key *key;
    tes_cert *cert;
    tes_mdoc_claims pid, mdl;
} issuer;

static bool issuer_make(issuer *is, const char *name)
{
    memset(is, 0, sizeof(*is));
    if (tes_key_generate(TES_CURVE_P256, &is->key) != TES_OK)
        return false;
    tes_cert_template t = {.common_name = name,
                           .country = "UT",
                           .not_before = T0 - 10 * DAY,
                           .not_after = T0 + 1000 * DAY,
                           .path_len = -1,
                           .key_usage = TES_KU_DIGITAL_SIGNATURE,
                           .eku_oid = TES_OID_EKU_MDL_DS};
    return tes_cert_create(&t, is->key, NULL, is->key, &is->cert) == TES_OK &&
           tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), pid_claims,
                                     strlen(pid_claims), NULL, &is->pid) == TES_OK &&
           tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_MDL), mdl_claims,
                                     strlen(mdl_claims), NULL, &is->mdl) == TES_OK;
}

static void issuer_free(issuer *is)
{
    tes_key_free(is->key);
    tes_cert_free(is->cert);
    tes_mdoc_claims_free(&is->pid);
    tes_mdoc_claims_free(&is->mdl);
}

/* Issues doctype to the public key `device`; valid from T0 + shift. */
static bool issue_to(issuer *is, const char *doctype, const tes_key *device, int64_t shift,
                     tes_buf *out)
{
    tes_signer s = tes_signer_from_key(is->key);
    tes_bytes chain = tes_cert_der(is->cert);
    bool pid = strcmp(doctype, TES_DOCTYPE_PID) == 0;
    tes_mdoc_issue_params p = {.doctype = doctype,
                               .claims = pid ? &is->pid : &is->mdl,
                               .device_key = device,
                               .issuer = &s,
                               .ds_chain = &chain,
                               .ds_chain_len = 1,
                               .signed_at = T0 + shift,
                               .valid_from = T0 + shift,
                               .valid_until = T0 + 365 * DAY - shift};
    *out = (tes_buf){0};
    return tes_mdoc_issue(&p, out) == TES_OK;
}

/* Issues doctype to key `id` of the wallet's SE. */
static bool issue_to_se(issuer *is, tes_wallet *w, const char *doctype, const char *id,
                        int64_t shift, tes_buf *out)
{
    tes_key *pub = NULL;
    if (tes_se_public_key(tes_wallet_se(w), id, &pub) != TES_OK)
        return false;
    bool ok = issue_to(is, doctype, pub, shift, out);
    tes_key_free(pub);
    return ok;
}

static bool new_key(tes_wallet *w, bool uv, bool single, char id[TES_SE_ID_MAX])
{
    const tes_se_key_opts o = {.user_verification = uv, .single_use = single};
    return tes_se_create_key(tes_wallet_se(w), &o, id) == TES_OK;
}

static size_t count_creds(tes_wallet *w, tes_store_cred *one)
{
    tes_store_cred *c = NULL;
    size_t n = 0;
    if (tes_store_list(tes_wallet_store(w), &c, &n) != TES_OK)
        return (size_t)-1;
    if (one && n == 1) {
        *one = c[0];
        one->doctype = strdup(c[0].doctype);
        one->display_name = strdup(c[0].display_name);
        one->issuer = strdup(c[0].issuer);
    }
    tes_store_creds_free(c, n);
    return n;
}

static void cred_free(tes_store_cred *c)
{
    free(c->doctype);
    free(c->display_name);
    free(c->issuer);
}

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "    could not remove %s\n", dir);
}

TEST(create_add_batch_reopen)
{
    char tmp[] = "/tmp/tes_wallet_XXXXXX", dir[128];
    REQUIRE(mkdtemp(tmp) != NULL);
    snprintf(dir, sizeof dir, "%s/w", tmp);
    issuer is;
    REQUIRE(issuer_make(&is, "Test DS"));

    tes_wallet *w = NULL;
    CHECK_ERR(tes_wallet_open(dir, NULL, &w), TES_ERR_NOT_FOUND);
    CHECK(w == NULL);
    CHECK(strstr(tes_err_message(), "does not exist") != NULL);

    CHECK_ERR(tes_wallet_create(dir, NULL, &w), TES_OK);
    REQUIRE(w != NULL);
    REQUIRE(tes_wallet_store(w) != NULL && tes_wallet_se(w) != NULL);
    CHECK_EQ_STR(tes_wallet_se_spec(w), "soft:se");
    CHECK_EQ_STR(tes_wallet_dir(w), dir);
    CHECK(!tes_wallet_needs_login(w));
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, TES_WALLET_DB);
    CHECK(stat(p, &st) == 0 && st.st_size > 0);
    snprintf(p, sizeof p, "%s/%s", dir, TES_WALLET_SE_DIR);
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    tes_wallet *again = NULL;
    CHECK_ERR(tes_wallet_create(dir, NULL, &again), TES_ERR_EXISTS);
    CHECK(again == NULL);

    /* a batch of two copies, each bound to its own key of this SE; the batch is
     * valid from the latest start to the earliest end */
    char k1[TES_SE_ID_MAX], k2[TES_SE_ID_MAX];
    REQUIRE(new_key(w, false, false, k1) && new_key(w, false, false, k2));
    tes_buf m1, m2;
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_PID, k1, 0, &m1));
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_PID, k2, 60, &m2));
    const tes_bytes batch[2] = {tes_buf_bytes(&m1), tes_buf_bytes(&m2)};
    int64_t id = 0;
    size_t bad = 99;
    CHECK_ERR(tes_wallet_add_batch(w, batch, 2, NULL, &id, &bad), TES_OK);
    CHECK(id > 0);
    tes_store_cred c = {0};
    REQUIRE(count_creds(w, &c) == 1);
    CHECK_EQ_INT(c.id, id);
    CHECK_EQ_STR(c.doctype, TES_DOCTYPE_PID);
    CHECK_EQ_STR(c.display_name, "PID");
    CHECK(strstr(c.issuer, "Test DS") != NULL);
    CHECK_EQ_INT(c.copies, 2);
    CHECK_EQ_INT(c.valid_from, T0 + 60);
    CHECK_EQ_INT(c.valid_until, T0 + 365 * DAY - 60);
    CHECK(!c.single_use && !c.needs_pin);
    cred_free(&c);
    tes_store_copy cp;
    CHECK_ERR(tes_store_take_copy(tes_wallet_store(w), id, &cp), TES_OK);
    CHECK(strcmp(cp.key_id, k1) == 0 || strcmp(cp.key_id, k2) == 0);
    tes_store_copy_free(&cp);

    /* the same batch again: already in the wallet */
    CHECK_ERR(tes_wallet_add_batch(w, batch, 2, NULL, &id, &bad), TES_ERR_EXISTS);
    tes_wallet_close(w);

    /* reopened: the same credential, the same keys */
    w = NULL;
    CHECK_ERR(tes_wallet_open(dir, NULL, &w), TES_OK);
    REQUIRE(w != NULL);
    REQUIRE(count_creds(w, &c) == 1);
    CHECK_EQ_INT(c.id, id);
    CHECK_EQ_INT(c.copies, 2);
    cred_free(&c);
    tes_se_key_info ki;
    CHECK_ERR(tes_wallet_se(w)->ops->key_info(tes_wallet_se(w), k2, &ki), TES_OK);

    /* a named single-use batch that needs the PIN */
    char s1[TES_SE_ID_MAX], s2[TES_SE_ID_MAX];
    REQUIRE(new_key(w, true, true, s1) && new_key(w, true, true, s2));
    tes_buf n1, n2;
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_MDL, s1, 0, &n1));
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_MDL, s2, 0, &n2));
    const tes_bytes sb[2] = {tes_buf_bytes(&n1), tes_buf_bytes(&n2)};
    int64_t id2 = 0;
    CHECK_ERR(tes_wallet_add_batch(w, sb, 2, "My licence", &id2, &bad), TES_OK);
    tes_store_cred *all = NULL;
    size_t n = 0;
    REQUIRE(tes_store_list(tes_wallet_store(w), &all, &n) == TES_OK);
    CHECK_EQ_INT(n, 2);
    for (size_t i = 0; i < n; i++)
        if (all[i].id == id2) {
            CHECK_EQ_STR(all[i].display_name, "My licence");
            CHECK(all[i].single_use && all[i].needs_pin);
        }
    tes_store_creds_free(all, n);

    tes_wallet_close(w);
    tes_buf_free(&m1);
    tes_buf_free(&m2);
    tes_buf_free(&n1);
    tes_buf_free(&n2);
    issuer_free(&is);
    rm_rf(tmp);
}

TEST(add_batch_refusals)
{
    char tmp[] = "/tmp/tes_wallet_XXXXXX", dir[128];
    REQUIRE(mkdtemp(tmp) != NULL);
    snprintf(dir, sizeof dir, "%s/w", tmp);
    issuer is;
    REQUIRE(issuer_make(&is, "Test DS"));
    tes_wallet *w = NULL;
    REQUIRE(tes_wallet_create(dir, NULL, &w) == TES_OK);
    char a[TES_SE_ID_MAX], b[TES_SE_ID_MAX], s[TES_SE_ID_MAX], u[TES_SE_ID_MAX];
    REQUIRE(new_key(w, false, false, a) && new_key(w, false, false, b));
    REQUIRE(new_key(w, false, true, s) && new_key(w, true, false, u));
    int64_t id = -1;
    size_t bad = 99;

    /* mixed doctype */
    tes_buf pa, mb;
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_PID, a, 0, &pa));
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_MDL, b, 0, &mb));
    const tes_bytes mixed[2] = {tes_buf_bytes(&pa), tes_buf_bytes(&mb)};
    CHECK_ERR(tes_wallet_add_batch(w, mixed, 2, NULL, &id, &bad), TES_ERR_BATCH_MIXED);
    CHECK_EQ_INT(bad, 1);

    /* another issuer (its DS subject), same doctype: mixed too */
    issuer other;
    REQUIRE(issuer_make(&other, "Other DS"));
    tes_buf ob;
    REQUIRE(issue_to_se(&other, w, TES_DOCTYPE_PID, b, 0, &ob));
    const tes_bytes two_issuers[2] = {tes_buf_bytes(&pa), tes_buf_bytes(&ob)};
    CHECK_ERR(tes_wallet_add_batch(w, two_issuers, 2, NULL, &id, &bad), TES_ERR_BATCH_MIXED);

    /* two copies bound to the same key */
    tes_buf pa2;
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_PID, a, 0, &pa2));
    const tes_bytes shared[2] = {tes_buf_bytes(&pa), tes_buf_bytes(&pa2)};
    CHECK_ERR(tes_wallet_add_batch(w, shared, 2, NULL, &id, &bad), TES_ERR_BATCH_KEY_SHARED);
    CHECK_EQ_INT(bad, 1);

    /* a copy bound to a key that is not in this SE */
    tes_key *foreign = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &foreign) == TES_OK);
    tes_buf pf;
    REQUIRE(issue_to(&is, TES_DOCTYPE_PID, foreign, 0, &pf));
    const tes_bytes not_ours[2] = {tes_buf_bytes(&pa), tes_buf_bytes(&pf)};
    CHECK_ERR(tes_wallet_add_batch(w, not_ours, 2, NULL, &id, &bad), TES_ERR_KEY_UNKNOWN);
    CHECK_EQ_INT(bad, 1);

    /* keys with other protections: single use, then the PIN */
    tes_buf ps, pu;
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_PID, s, 0, &ps));
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_PID, u, 0, &pu));
    const tes_bytes p1[2] = {tes_buf_bytes(&pa), tes_buf_bytes(&ps)};
    CHECK_ERR(tes_wallet_add_batch(w, p1, 2, NULL, &id, &bad), TES_ERR_BATCH_PROTECTIONS);
    CHECK_EQ_INT(bad, 1);
    const tes_bytes p2[2] = {tes_buf_bytes(&pa), tes_buf_bytes(&pu)};
    CHECK_ERR(tes_wallet_add_batch(w, p2, 2, NULL, &id, &bad), TES_ERR_BATCH_PROTECTIONS);

    /* not an mdoc at all: the mdoc's own error, and which copy */
    const uint8_t junk[] = {0xa0};
    const tes_bytes with_junk[2] = {tes_buf_bytes(&pa), {junk, sizeof junk}};
    tes_err e = tes_wallet_add_batch(w, with_junk, 2, NULL, &id, &bad);
    CHECK(e != TES_OK && e != TES_ERR_BATCH_MIXED);
    CHECK_EQ_INT(bad, 1);

    /* bad arguments */
    CHECK_ERR(tes_wallet_add_batch(w, mixed, 0, NULL, &id, &bad), TES_ERR_ARG);
    CHECK_ERR(tes_wallet_add_batch(w, mixed, 1, "", &id, &bad), TES_ERR_ARG);

    /* nothing was stored by any refusal, and the good pair still goes in */
    CHECK_EQ_INT(count_creds(w, NULL), 0);
    CHECK_EQ_INT(id, -1);
    tes_buf pb;
    REQUIRE(issue_to_se(&is, w, TES_DOCTYPE_PID, b, 0, &pb));
    const tes_bytes good[2] = {tes_buf_bytes(&pa), tes_buf_bytes(&pb)};
    CHECK_ERR(tes_wallet_add_batch(w, good, 2, NULL, &id, &bad), TES_OK);
    CHECK_EQ_INT(count_creds(w, NULL), 1);

    tes_wallet_close(w);
    tes_key_free(foreign);
    tes_buf *bufs[] = {&pa, &mb, &ob, &pa2, &pf, &ps, &pu, &pb};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        tes_buf_free(bufs[i]);
    issuer_free(&is);
    issuer_free(&other);
    rm_rf(tmp);
}

/* A wallet directory as the current release's `tessera wallet init` made it
 * (soft SE in se/, store wallet.db with setting se = "soft:se") opens
 * unchanged; a truncated store or one naming no SE is refused, not replaced. */
TEST(old_layout_and_damaged_wallets)
{
    char tmp[] = "/tmp/tes_wallet_XXXXXX", dir[128], db[192], sedir[192], spec[256];
    REQUIRE(mkdtemp(tmp) != NULL);
    snprintf(dir, sizeof dir, "%s/old", tmp);
    snprintf(db, sizeof db, "%s/wallet.db", dir);
    snprintf(sedir, sizeof sedir, "%s/se", dir);
    snprintf(spec, sizeof spec, "soft:%s", sedir);
    REQUIRE(mkdir(dir, 0700) == 0);
    tes_se *se = NULL;
    tes_store *st = NULL;
    char key[TES_SE_ID_MAX];
    const tes_se_key_opts ko = {0};
    REQUIRE(tes_se_open(spec, sedir, &se) == TES_OK);
    REQUIRE(tes_se_create_key(se, &ko, key) == TES_OK);
    tes_se_close(se);
    REQUIRE(tes_store_open(db, &st) == TES_OK);
    REQUIRE(tes_store_set(st, "se", "soft:se") == TES_OK);
    tes_store_close(st);

    tes_wallet *w = NULL;
    CHECK_ERR(tes_wallet_open(dir, NULL, &w), TES_OK);
    REQUIRE(w != NULL);
    tes_se_key_info ki;
    CHECK_ERR(tes_wallet_se(w)->ops->key_info(tes_wallet_se(w), key, &ki), TES_OK);
    tes_wallet_close(w);

    /* a directory without wallet.db is not a wallet */
    char empty[192];
    snprintf(empty, sizeof empty, "%s/empty", tmp);
    REQUIRE(mkdir(empty, 0700) == 0);
    w = NULL;
    CHECK_ERR(tes_wallet_open(empty, NULL, &w), TES_ERR_NOT_FOUND);
    CHECK(strstr(tes_err_message(), "is not a wallet") != NULL);
    CHECK(w == NULL);

    /* a store that names no secure element */
    char nose[192], nosedb[256];
    snprintf(nose, sizeof nose, "%s/nose", tmp);
    snprintf(nosedb, sizeof nosedb, "%s/wallet.db", nose);
    REQUIRE(mkdir(nose, 0700) == 0);
    REQUIRE(tes_store_open(nosedb, &st) == TES_OK);
    tes_store_close(st);
    CHECK_ERR(tes_wallet_open(nose, NULL, &w), TES_ERR_STORE_CORRUPT);
    CHECK(strstr(tes_err_message(), "names no secure element") != NULL);

    /* a truncated (empty) store is refused and left as it is */
    REQUIRE(truncate(db, 0) == 0);
    char wal[256];
    snprintf(wal, sizeof wal, "%s-wal", db);
    unlink(wal);
    CHECK_ERR(tes_wallet_open(dir, NULL, &w), TES_ERR_STORE_CORRUPT);
    CHECK(strstr(tes_err_message(), "empty (0 bytes)") != NULL);
    struct stat sb;
    CHECK(stat(db, &sb) == 0 && sb.st_size == 0);

    /* create refuses a bad SE spec and a vendor with a PKCS#11 SE */
    char fresh[192];
    snprintf(fresh, sizeof fresh, "%s/fresh", tmp);
    const tes_wallet_create_opts bad_spec = {.se_spec = "tpm"};
    CHECK_ERR(tes_wallet_create(fresh, &bad_spec, &w), TES_ERR_ARG);
    const tes_wallet_create_opts vend = {.se_spec = "pkcs11:/nonexistent.so", .vendor_dir = tmp};
    CHECK_ERR(tes_wallet_create(fresh, &vend, &w), TES_ERR_ARG);
    CHECK(access(fresh, F_OK) != 0); /* nothing made */
    rm_rf(tmp);
}

/* tes_wallet_add's options: the one rule for single use (by the keys, or as
 * the adder asks: what enrolment does for a batch), the keys made for each
 * copy (a copy bound to another key refused), and reading a credential back
 * with its typed flags (tes_wallet_credential). */
TEST(add_copy_use_and_named_keys)
{
    char tmp[] = "/tmp/tes_wallet_XXXXXX", dir[128];
    REQUIRE(mkdtemp(tmp) != NULL);
    snprintf(dir, sizeof dir, "%s/w", tmp);
    issuer is;
    REQUIRE(issuer_make(&is, "Test DS"));
    tes_wallet *w = NULL;
    REQUIRE(tes_wallet_create(dir, NULL, &w) == TES_OK);

    char k[6][TES_SE_ID_MAX];
    tes_buf m[6];
    for (int i = 0; i < 6; i++)
        REQUIRE(new_key(w, i >= 4, false, k[i]) &&
                issue_to_se(&is, w, TES_DOCTYPE_PID, k[i], 0, &m[i]));
    tes_bytes b[6];
    for (int i = 0; i < 6; i++)
        b[i] = tes_buf_bytes(&m[i]);

    /* the default: single-use exactly when the keys are (these are not) */
    int64_t id1 = 0, id2 = 0, id3 = 0;
    size_t bad = 99;
    CHECK_ERR(tes_wallet_add(w, b, 2, NULL, &id1, &bad), TES_OK);
    tes_store_cred *c = NULL;
    CHECK_ERR(tes_wallet_credential(w, id1, &c), TES_OK);
    REQUIRE(c != NULL);
    CHECK(!c->single_use && !c->needs_pin);
    CHECK_EQ_INT(c->copies, 2);
    CHECK_EQ_STR(c->display_name, "PID");
    tes_store_creds_free(c, 1);

    /* asked for: each copy presented once though the keys are not single-use */
    const char *named_wrong[2] = {k[3], k[2]};
    tes_wallet_add_opts o = {.display_name = "Enrolled",
                             .copy_use = TES_WALLET_COPIES_SINGLE_USE,
                             .key_ids = named_wrong};
    CHECK_ERR(tes_wallet_add(w, b + 2, 2, &o, &id2, &bad), TES_ERR_COPY_NOT_BOUND);
    CHECK_EQ_INT(bad, 0);
    CHECK(strstr(tes_err_message(), k[3]) != NULL);
    CHECK_EQ_INT(count_creds(w, NULL), 1); /* nothing stored */
    const char *named[2] = {k[2], k[3]};
    o.key_ids = named;
    CHECK_ERR(tes_wallet_add(w, b + 2, 2, &o, &id2, &bad), TES_OK);
    c = NULL;
    CHECK_ERR(tes_wallet_credential(w, id2, &c), TES_OK);
    REQUIRE(c != NULL);
    CHECK(c->single_use && !c->needs_pin);
    CHECK_EQ_STR(c->display_name, "Enrolled");
    tes_store_creds_free(c, 1);
    /* single-use copies: the store hands each out once */
    tes_store_copy cp;
    for (int i = 0; i < 2; i++) {
        CHECK_ERR(tes_store_take_copy(tes_wallet_store(w), id2, &cp), TES_OK);
        tes_store_copy_free(&cp);
    }
    CHECK_ERR(tes_store_take_copy(tes_wallet_store(w), id2, &cp), TES_ERR_KEY_USED);

    /* the keys' PIN protection is recorded as needs_pin */
    const tes_wallet_add_opts plain = {.copy_use = TES_WALLET_COPIES_AS_KEYS};
    CHECK_ERR(tes_wallet_add(w, b + 4, 2, &plain, &id3, &bad), TES_OK);
    c = NULL;
    CHECK_ERR(tes_wallet_credential(w, id3, &c), TES_OK);
    REQUIRE(c != NULL);
    CHECK(!c->single_use && c->needs_pin);
    tes_store_creds_free(c, 1);

    /* refusals */
    c = NULL;
    CHECK_ERR(tes_wallet_credential(w, 999, &c), TES_ERR_NOT_FOUND);
    CHECK(c == NULL);
    const tes_wallet_add_opts odd = {.copy_use = (tes_wallet_copy_use)7};
    CHECK_ERR(tes_wallet_add(w, b, 1, &odd, &id1, &bad), TES_ERR_ARG);

    for (int i = 0; i < 6; i++)
        tes_buf_free(&m[i]);
    tes_wallet_close(w);
    issuer_free(&is);
    rm_rf(tmp);
}
