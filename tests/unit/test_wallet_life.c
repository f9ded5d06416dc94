/*
 * A whole wallet life through tessera/wallet.h alone (issue #11), no CLI:
 * the authority runs as a real issuer service on loopback (its service API
 * only, tests/unit/issuer_fixture.h) and the hotel is a reader thread running
 * tes_reader_checkin (tessera/proximity.h). The holder:
 *   creates a wallet whose soft SE a trusted vendor provisioned, sets and
 *   changes the PIN, enrols a batch of 2 from the issuer with a real offer and
 *   transaction code, trusts the hotel's reader authority, serves a check-in
 *   over the in-memory transport with a consent policy (the reader gets
 *   exactly the consented elements, verified against the authority's IACA,
 *   and the credential's status is valid), finds the check-in in its log with
 *   one copy used, reports the phone lost with the recovery code and device
 *   id: the next check-in's response is judged suspended.
 * And a wallet directory as the previous release left it (store schema 1,
 * the PIN flag in settings "credential.N.uv") opens and presents.
 */
#include <sqlite3.h>
#include <unistd.h>

#include "harness.h"

#include "issuer_fixture.h"
#include "tessera/proximity.h"
#include "tessera/status.h"

#define DAY 86400
static int64_t T0; /* now, for the hotel's certificates (prox_fixture.h) */
#include "prox_fixture.h"
#include "store_v1.h"

#define PID_NS "eu.europa.ec.eudi.pid.1"
#define PIN "123456"
#define PIN2 "246810"
#define PUK "12345678"

/* ------------------------------------------------------------------ the hotel */

static const char *const hotel_scope[] = {PID_NS "/family_name", PID_NS "/given_name",
                                          PID_NS "/age_over_NN"};

typedef struct hotel {
    tes_key *root_key, *reader_key;
    tes_cert *root, *reader;
    tes_trust_store *iaca_trust; /* the reader accepts the authority's IACA */
} hotel;

static bool hotel_make(hotel *h, tes_cert *iaca)
{
    memset(h, 0, sizeof *h);
    if (tes_key_generate(TES_CURVE_P256, &h->root_key) != TES_OK ||
        tes_key_generate(TES_CURVE_P256, &h->reader_key) != TES_OK)
        return false;
    h->root = fx_root("Police Bureau", h->root_key);
    h->reader = h->root ? fx_reader("Hotel Utopia", h->reader_key, h->root, h->root_key,
                                    T0 - DAY, T0 + 365 * DAY, hotel_scope, 3)
                        : NULL;
    return h->reader && tes_trust_store_new(&h->iaca_trust) == TES_OK &&
           tes_trust_store_add(h->iaca_trust, TES_PROFILE_DS, iaca) == TES_OK;
}

static void hotel_free(hotel *h)
{
    tes_key_free(h->root_key);
    tes_key_free(h->reader_key);
    tes_cert_free(h->root);
    tes_cert_free(h->reader);
    tes_trust_store_free(h->iaca_trust);
}

/* The holder's consent: the hotel gets the family name and the age, never
 * the given name; the PIN typed is PIN2. */
static const char policy_json[] =
    "{\"readers\": [{\"name\": \"Hotel Utopia\", \"authenticated\": true,"
    " \"allow\": [\"" PID_NS "/family_name\", \"" PID_NS "/age_over_18\"],"
    " \"deny\": [\"" PID_NS "/given_name\"]}],"
    " \"unauthenticated\": \"decline\", \"pin\": \"" PIN2 "\"}";

/* One check-in: the wallet serves in a thread with the policy, the hotel's
 * reader asks for family name, given name, age over 18 and birth date. */
static bool checkin(tes_wallet *w, hotel *h, tes_consent_policy *policy, fx_serve_run *run,
                    tes_err *reader_err, tes_mdoc_result *result, tes_buf *response)
{
    static const tes_mdoc_req_elem el[] = {
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("family_name"), true},
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("given_name"), false},
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("age_over_18"), false},
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("birth_date"), false}};
    const fx_reader_ask ask = {el, 4, h->reader_key, h->reader, h->iaca_trust, T0};
    return fx_wallet_checkin(w, tes_consent_policy_decide, policy, &ask, run, reader_err, result,
                             response);
}

/* The names of the elements the reader verified, "a,b" in document order. */
static void verified_names(const tes_mdoc_result *r, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; r->n_docs == 1 && i < r->docs[0].n_elems; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%.*s", l ? "," : "", (int)r->docs[0].elems[i].name.len,
                 (const char *)r->docs[0].elems[i].name.ptr);
    }
}

/* The reader's status verdict on a verified response, online, with its own
 * cache in cache_dir (a fresh reader: nothing cached). */
static tes_status_value verdict_of(hotel *h, const tes_mdoc_result *r, const char *cache_dir,
                                   size_t *n_checked, char message[768])
{
    const tes_status_opts so = {.mode = TES_STATUS_ONLINE, .cache_dir = cache_dir,
                                .max_age = 3600, .now = T0};
    tes_status_verdict v;
    tes_err e = tes_status_check_response(&so, h->iaca_trust, r, &v);
    tes_status_value val = e == TES_OK ? v.value : TES_STATUS_UNDETERMINED;
    *n_checked = v.n_checked;
    snprintf(message, 768, "%s", v.message);
    if (val == TES_STATUS_UNDETERMINED && v.n_docs > 0)
        fprintf(stderr, "    status: %s\n", v.docs[0].detail);
    tes_status_verdict_free(&v);
    return val;
}

static int64_t unused_copies(tes_wallet *w, int64_t id)
{
    tes_store_cred *c = NULL;
    if (tes_wallet_credential(w, id, &c) != TES_OK)
        return -1;
    int64_t n = c->unused_copies;
    tes_store_creds_free(c, 1);
    return n;
}

/* ------------------------------------------------------------------ the life */

TEST(a_wallet_life_through_wallet_h)
{
    T0 = (int64_t)time(NULL);
    char dir[64], auth[128], vendor_dir[128], untrusted[128], vendor_pem[160], db[160],
        url[128], wdir[160], cache[160];
    tes_cert *iaca = NULL;
    REQUIRE(fx_temp_authority(dir, sizeof dir, "/tmp/tes_wlife_XXXXXX", auth, sizeof auth,
                              &iaca));
    REQUIRE(fx_vendors(dir, vendor_dir, untrusted, vendor_pem));
    snprintf(db, sizeof db, "%s/registry.db", dir);
    tes_issuer_config cfg = {.authority_dir = auth,
                             .db_url = db,
                             .listen = "127.0.0.1:0",
                             .vendor_roots = vendor_pem,
                             .attestation = TES_ATTESTATION_REQUIRED,
                             .require_uv = true,
                             .clock = &FX_TEST_CLOCK};
    tes_issuer *iss = NULL;
    REQUIRE(fx_service_start(&cfg, &iss, NULL, url, sizeof url));
    hotel h;
    REQUIRE(hotel_make(&h, iaca));

    /* 1. the phone: a wallet whose soft SE the trusted vendor provisioned */
    snprintf(wdir, sizeof wdir, "%s/phone", dir);
    const tes_wallet_create_opts co = {.vendor_dir = vendor_dir};
    tes_wallet *w = NULL;
    REQUIRE(tes_wallet_create(wdir, &co, &w) == TES_OK);

    /* 2. the PIN: none yet; set; a wrong current PIN costs a try; changed */
    tes_wallet_pin_state ps;
    CHECK_ERR(tes_wallet_pin_status(w, &ps), TES_OK);
    CHECK(!ps.set);
    CHECK_ERR(tes_wallet_pin_change(w, PIN, PIN2), TES_ERR_PIN_NOT_SET);
    CHECK_ERR(tes_wallet_pin_set(w, PIN, PUK), TES_OK);
    CHECK_ERR(tes_wallet_pin_set(w, PIN2, PUK), TES_ERR_STATE);
    CHECK_ERR(tes_wallet_pin_change(w, "999999", PIN2), TES_ERR_PIN_WRONG);
    CHECK_ERR(tes_wallet_pin_status(w, &ps), TES_OK);
    CHECK(ps.set && !ps.locked && !ps.blocked);
    CHECK_EQ_INT(ps.pin_tries_left, TES_SE_PIN_TRIES - 1);
    CHECK_EQ_INT(ps.puk_tries_left, TES_SE_PUK_TRIES);
    CHECK_ERR(tes_wallet_pin_change(w, PIN, PIN2), TES_OK);
    CHECK_ERR(tes_wallet_pin_status(w, &ps), TES_OK);
    CHECK_EQ_INT(ps.pin_tries_left, TES_SE_PIN_TRIES);

    /* 3. enrolment at the counter, then from the phone: a batch of 2 */
    tes_buf offer;
    char tx[16], recovery[32];
    int64_t person = 0;
    REQUIRE(fx_enrol(&cfg, "counter-1", &offer, NULL, tx, &person, recovery));
    tes_wallet_enrol_opts eo = {
        .offer_uri = (const char *)offer.ptr, .tx_code = tx, .pin = PIN, .copies = 2};
    tes_wallet_enrol_result er;
    CHECK_ERR(tes_wallet_enrol(w, &eo, &er), TES_ERR_PIN_WRONG); /* the old PIN */
    eo.pin = PIN2;
    CHECK_ERR(tes_wallet_enrol(w, &eo, &er), TES_OK);
    CHECK_EQ_INT(er.copies, 2);
    CHECK(er.single_use && er.needs_pin);
    CHECK(er.valid_from <= T0 && er.valid_until > T0);
    char dev[65];
    CHECK_ERR(tes_wallet_device_id(w, dev), TES_OK);
    CHECK_EQ_STR(er.device_id, dev);
    tes_store_cred *creds = NULL;
    size_t n = 0;
    REQUIRE(tes_wallet_list(w, &creds, &n) == TES_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_INT(creds[0].id, er.cred_id);
        CHECK_EQ_STR(creds[0].doctype, TES_DOCTYPE_PID);
        CHECK_EQ_INT(creds[0].unused_copies, 2);
    }
    tes_store_creds_free(creds, n);

    /* 4. the hotel's reader authority trusted */
    size_t added = 0;
    tes_cert *roots[] = {h.root};
    CHECK_ERR(tes_wallet_reader_roots_add(w, roots, 1, &added, NULL), TES_OK);
    CHECK_EQ_INT(added, 1);

    /* 5. the check-in: exactly the consented elements, verified against the IACA */
    tes_consent_policy *policy = NULL;
    REQUIRE(tes_consent_policy_parse(policy_json, strlen(policy_json), &policy) == TES_OK);
    fx_serve_run run;
    tes_err rerr = TES_ERR_ARG;
    tes_mdoc_result result = {0};
    tes_buf response = {0};
    REQUIRE(checkin(w, &h, policy, &run, &rerr, &result, &response));
    CHECK_ERR(run.err, TES_OK);
    CHECK_ERR(rerr, TES_OK);
    CHECK(run.res.reader_authenticated);
    CHECK_EQ_STR(run.res.reader_name, "Hotel Utopia");
    CHECK_EQ_INT(run.res.credential_id, er.cred_id);
    CHECK_EQ_INT(run.res.disclosed, 2);
    char names[256];
    verified_names(&result, names, sizeof names);
    CHECK(strcmp(names, "family_name,age_over_18") == 0 ||
          strcmp(names, "age_over_18,family_name") == 0);
    if (result.n_docs == 1) {
        CHECK(result.docs[0].issuer_root != NULL &&
              tes_bytes_eq(tes_cert_der(result.docs[0].issuer_root), tes_cert_der(iaca)));
    }
    size_t checked = 0;
    char message[768];
    snprintf(cache, sizeof cache, "%s/hotel1_cache", dir);
    CHECK_EQ_INT(verdict_of(&h, &result, cache, &checked, message), TES_STATUS_VALID);
    CHECK_EQ_INT(checked, 1);
    tes_mdoc_result_free(&result);
    tes_buf_free(&response);

    /* 6. the log: the hotel, the elements disclosed; one copy used */
    tes_store_log_entry *le = NULL;
    REQUIRE(tes_wallet_log(w, &le, &n) == TES_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_STR(le[0].relying_party, "Hotel Utopia");
        CHECK_EQ_STR(le[0].outcome, "disclosed");
        CHECK_EQ_INT(le[0].cred_id, er.cred_id);
        CHECK(strstr(le[0].elements, PID_NS "/family_name*") != NULL);
        CHECK(strstr(le[0].elements, PID_NS "/age_over_18") != NULL);
        CHECK(strstr(le[0].elements, "given_name") == NULL);
        CHECK(strstr(le[0].elements, "birth_date") == NULL);
    }
    tes_store_log_free(le, n);
    CHECK_EQ_INT(unused_copies(w, er.cred_id), 1);

    /* 7. the phone lost: reported with the recovery code and its device id */
    size_t suspended = 0;
    CHECK_ERR(tes_wallet_report_lost(url, "AAAA-BBBB-CCCC-DDDD", dev, &suspended),
              TES_ERR_GRANT);
    CHECK_ERR(tes_wallet_report_lost(url, recovery, dev, &suspended), TES_OK);
    CHECK_EQ_INT(suspended, 2);

    /* 8. the next check-in (another hotel reader, nothing cached): the
     * response still verifies, its status says suspended */
    REQUIRE(checkin(w, &h, policy, &run, &rerr, &result, &response));
    CHECK_ERR(run.err, TES_OK);
    CHECK_ERR(rerr, TES_OK);
    snprintf(cache, sizeof cache, "%s/hotel2_cache", dir);
    CHECK_EQ_INT(verdict_of(&h, &result, cache, &checked, message), TES_STATUS_SUSPENDED);
    CHECK_EQ_INT(checked, 1);
    CHECK(strstr(message, "suspended") != NULL);
    tes_mdoc_result_free(&result);
    tes_buf_free(&response);
    CHECK_EQ_INT(unused_copies(w, er.cred_id), 0);

    tes_consent_policy_free(policy);
    tes_buf_free(&offer);
    tes_wallet_close(w);
    hotel_free(&h);
    tes_cert_free(iaca);
    tes_issuer_stop(iss);
    CHECK(fx_temp_remove(dir));
}

/* ------------------------------------------------------------------ an old wallet directory */

/* The store as the previous release wrote it: schema version 1, where a
 * credential's "needs the PIN" flag was the setting "credential.N.uv". */
static const char store_v1[] = TES_TEST_STORE_V1_SCHEMA;

/* Rewrites dir's wallet.db (closed) at schema version 1 with the same
 * credentials, copies and settings, each credential's PIN flag moved to
 * "credential.N.uv"; the credential ids moved up by 6 (a flag under the
 * wrong id would show). */
static bool downgrade_to_v1(const char *dir)
{
    char cur[256], old[256];
    snprintf(cur, sizeof cur, "%s/%s", dir, TES_WALLET_DB);
    snprintf(old, sizeof old, "%s/v1.db", dir);
    sqlite3 *db = NULL;
    bool ok = sqlite3_open(old, &db) == SQLITE_OK &&
              sqlite3_exec(db, store_v1, NULL, NULL, NULL) == SQLITE_OK;
    char *sql = sqlite3_mprintf(
        "ATTACH %Q AS cur;"
        "INSERT INTO credentials SELECT id + 6, doctype, display_name, issuer, valid_from,"
        " valid_until, single_use, created_at FROM cur.credentials;"
        "INSERT INTO copies SELECT id, credential_id + 6, key_id, mdoc, use_count, used"
        " FROM cur.copies;"
        "INSERT INTO settings SELECT key, value FROM cur.settings;"
        "INSERT INTO settings SELECT 'credential.' || (id + 6) || '.uv', '1' FROM cur.credentials"
        " WHERE needs_pin = 1;"
        "DETACH cur;",
        cur);
    char *err = NULL;
    ok = ok && sql != NULL && sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK;
    if (err)
        fprintf(stderr, "    v1: %s\n", err);
    sqlite3_free(err);
    sqlite3_free(sql);
    sqlite3_close(db);
    return ok && rename(old, cur) == 0;
}

static int64_t user_version(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, TES_WALLET_DB);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A PID bound to a new key of w's SE that needs the PIN, signed by ds under iaca. */
static bool add_old_pid(tes_wallet *w, tes_key *ds_key, tes_cert *ds, int64_t *id)
{
    tes_mdoc_claims claims = {0};
    const tes_se_key_opts ko = {.user_verification = true};
    char kid[TES_SE_ID_MAX];
    tes_key *pub = NULL;
    tes_buf mdoc = {0};
    bool ok = tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), FX_PID_CLAIMS,
                                        strlen(FX_PID_CLAIMS), NULL, &claims) == TES_OK &&
              tes_se_create_key(tes_wallet_se(w), &ko, kid) == TES_OK &&
              tes_se_public_key(tes_wallet_se(w), kid, &pub) == TES_OK;
    tes_signer signer = tes_signer_from_key(ds_key);
    tes_bytes chain = tes_cert_der(ds);
    tes_mdoc_issue_params ip = {.doctype = TES_DOCTYPE_PID,
                                .claims = &claims,
                                .device_key = pub,
                                .issuer = &signer,
                                .ds_chain = &chain,
                                .ds_chain_len = 1,
                                .signed_at = T0 - 3600,
                                .valid_from = T0 - 3600,
                                .valid_until = T0 + 365 * DAY};
    ok = ok && tes_mdoc_issue(&ip, &mdoc) == TES_OK;
    tes_bytes view = tes_buf_bytes(&mdoc);
    ok = ok && tes_wallet_add_batch(w, &view, 1, "Old PID", id, NULL) == TES_OK;
    tes_buf_free(&mdoc);
    tes_key_free(pub);
    tes_mdoc_claims_free(&claims);
    return ok;
}

TEST(a_wallet_directory_of_the_previous_release_opens_and_presents)
{
    T0 = (int64_t)time(NULL);
    char dir[64] = "/tmp/tes_wold_XXXXXX", wdir[128];
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(wdir, sizeof wdir, "%s/w", dir);
    tes_key *iaca_key = NULL, *ds_key = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &iaca_key) == TES_OK &&
            tes_key_generate(TES_CURVE_P256, &ds_key) == TES_OK);
    tes_cert *iaca = fx_root("Utopia IACA", iaca_key);
    tes_cert *ds = iaca ? fx_ds(ds_key, iaca, iaca_key) : NULL;
    REQUIRE(ds != NULL);

    /* the directory: a soft SE with a key that needs the PIN, a credential on it */
    tes_wallet *w = NULL;
    int64_t id = 0;
    REQUIRE(tes_wallet_create(wdir, NULL, &w) == TES_OK);
    REQUIRE(tes_wallet_pin_set(w, PIN, PUK) == TES_OK);
    REQUIRE(add_old_pid(w, ds_key, ds, &id));
    tes_wallet_close(w);
    w = NULL;
    /* its store as the previous release kept it */
    REQUIRE(downgrade_to_v1(wdir));
    CHECK_EQ_INT(user_version(wdir), 1);

    /* opens with this release: migrated, the PIN flag carried over */
    REQUIRE(tes_wallet_open(wdir, NULL, &w) == TES_OK);
    CHECK_EQ_INT(user_version(wdir), 3);
    CHECK_EQ_STR(tes_wallet_se_spec(w), "soft:se");
    tes_store_cred *c = NULL;
    CHECK_ERR(tes_wallet_credential(w, id, &c), TES_ERR_NOT_FOUND); /* ids as the old store had */
    REQUIRE(tes_wallet_credential(w, id + 6, &c) == TES_OK);
    CHECK(c->needs_pin && !c->single_use);
    CHECK_EQ_STR(c->display_name, "Old PID");
    CHECK_EQ_INT(c->copies, 1);
    tes_store_creds_free(c, 1);
    CHECK(tes_wallet_present_needs_pin(w, id + 6));

    /* and presents: not without the PIN, with it verified against the IACA */
    static const tes_mdoc_req_elem ask[] = {
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("family_name"), false}};
    tes_wallet_present_opts po = {.credential_id = id + 6,
                                  .elems = ask,
                                  .n_elems = 1,
                                  .transcript = FX_TRANSCRIPT,
                                  .relying_party = "Old Hotel"};
    tes_buf resp = {0};
    tes_wallet_present_result res;
    CHECK_ERR(tes_wallet_present(w, &po, &resp, &res), TES_ERR_PIN_REQUIRED);
    tes_wallet_present_result_free(&res);
    po.pin = PIN;
    CHECK_ERR(tes_wallet_present(w, &po, &resp, &res), TES_OK);
    CHECK_EQ_INT(res.n_disclosed, 1);
    tes_wallet_present_result_free(&res);
    tes_trust_store *trust = NULL;
    REQUIRE(tes_trust_store_new(&trust) == TES_OK &&
            tes_trust_store_add(trust, TES_PROFILE_DS, iaca) == TES_OK);
    tes_mdoc_result r = {0};
    CHECK_ERR(fx_verify_response(&resp, trust, T0, &r), TES_OK);
    char names[256];
    verified_names(&r, names, sizeof names);
    CHECK_EQ_STR(names, "family_name");
    tes_mdoc_result_free(&r);
    tes_store_log_entry *le = NULL;
    size_t n = 0;
    REQUIRE(tes_wallet_log(w, &le, &n) == TES_OK);
    CHECK(n == 2 && strcmp(le[n - 1].outcome, "disclosed") == 0 &&
          strcmp(le[n - 1].relying_party, "Old Hotel") == 0);
    tes_store_log_free(le, n);

    tes_trust_store_free(trust);
    tes_buf_free(&resp);
    tes_wallet_close(w);
    tes_cert_free(ds);
    tes_cert_free(iaca);
    tes_key_free(ds_key);
    tes_key_free(iaca_key);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}
