/* Enrolment over OpenID4VCI through tessera/wallet.h alone, from a real
 * issuer service on loopback (tests/unit/issuer_fixture.h starts it and
 * enrols the person at the counter):
 *  - a batch of 3 is stored as ONE single-use credential with 3 copies, each
 *    needing the PIN; the device id reported is tes_wallet_device_id's; one
 *    copy is not single-use (the keys never are: tes_wallet_copy_use);
 *  - a wrong PIN is refused before the one-time offer is redeemed (the offer
 *    still works afterwards), as is a wallet without a PIN; no key is made;
 *  - a wrong transaction code: TES_ERR_GRANT, nothing stored, no key left;
 *  - the issuer answered but storing failed: nothing stored, the keys made
 *    deleted from the SE, and the error says so;
 *  - reporting the phone lost by its device id (tes_wallet_report_lost);
 *  - the device id itself (tes_se_device_id, _jwt): one id from a chain and
 *    from a key attestation JWT of one SE, and what each refuses.
 * The acceptance rule "each copy bound to the key made for it" is tested
 * through tes_wallet_add in test_wallet.c (the service does not misbehave). */
#include <sqlite3.h>
#include <unistd.h>

#include "harness.h"

#include "issuer_fixture.h"

#define PIN "123456"
#define PUK "12345678"

typedef struct env {
    bool ready, failed;
    char dir[64], auth[128], vendor_pem[160], db[160], url[128];
    tes_issuer *iss;
    tes_issuer_config cfg;
    char vendor_dir[128];
    int n_wallets;
} env;
static env E;

static bool env_up(void)
{
    if (E.ready || E.failed)
        return E.ready;
    E.failed = true;
    char untrusted[128];
    if (!fx_temp_authority(E.dir, sizeof E.dir, "/tmp/tes_wenrol_XXXXXX", E.auth, sizeof E.auth,
                           NULL) ||
        !fx_vendors(E.dir, E.vendor_dir, untrusted, E.vendor_pem))
        return false;
    snprintf(E.db, sizeof E.db, "%s/registry.db", E.dir);
    E.cfg = (tes_issuer_config){.authority_dir = E.auth,
                                .db_url = E.db,
                                .listen = "127.0.0.1:0",
                                .vendor_roots = E.vendor_pem,
                                .require_uv = true,
                                .clock = &FX_TEST_CLOCK};
    if (!fx_service_start(&E.cfg, &E.iss, NULL, E.url, sizeof E.url))
        return false;
    E.ready = true;
    E.failed = false;
    return true;
}

TEARDOWN(stop_service)
{
    if (E.iss)
        tes_issuer_stop(E.iss);
    if (E.dir[0])
        fx_temp_remove(E.dir);
}

/* A fresh phone: a wallet whose soft SE the trusted vendor provisioned, with
 * PIN set unless no_pin. */
static tes_wallet *phone(bool no_pin)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/phone%d", E.dir, E.n_wallets++);
    const tes_wallet_create_opts co = {.vendor_dir = E.vendor_dir};
    tes_wallet *w = NULL;
    if (tes_wallet_create(dir, &co, &w) != TES_OK)
        return NULL;
    tes_se *se = tes_wallet_se(w);
    if (!no_pin && se->ops->pin_set(se, PIN, PUK) != TES_OK) {
        tes_wallet_close(w);
        return NULL;
    }
    return w;
}

static size_t n_keys(tes_wallet *w)
{
    char ids[16][TES_SE_ID_MAX];
    size_t n = 0;
    tes_se *se = tes_wallet_se(w);
    return se->ops->list_keys(se, ids, 16, &n) == TES_OK ? n : (size_t)-1;
}

static size_t n_creds(tes_wallet *w)
{
    tes_store_cred *c = NULL;
    size_t n = 0;
    if (tes_store_list(tes_wallet_store(w), &c, &n) != TES_OK)
        return (size_t)-1;
    tes_store_creds_free(c, n);
    return n;
}

TEST(enrol_batch_of_three_as_one_single_use_credential)
{
    REQUIRE(env_up());
    tes_wallet *w = phone(false);
    REQUIRE(w != NULL);
    tes_buf uri;
    char tx[16], recovery[32];
    int64_t person = 0;
    REQUIRE(fx_enrol(&E.cfg, "counter-1", &uri, NULL, tx, &person, recovery));

    const tes_wallet_enrol_opts o = {.offer_uri = (const char *)uri.ptr,
                                     .tx_code = tx,
                                     .pin = PIN,
                                     .copies = 3,
                                     .display_name = "My PID"};
    tes_wallet_enrol_result r;
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_OK);
    CHECK(r.cred_id > 0);
    CHECK_EQ_INT(r.copies, 3);
    CHECK(r.single_use && r.needs_pin);
    CHECK(r.valid_from > 0 && r.valid_until > r.valid_from);
    CHECK_EQ_INT(n_creds(w), 1);
    CHECK_EQ_INT(n_keys(w), 3);

    tes_store_cred *c = NULL;
    CHECK_ERR(tes_wallet_credential(w, r.cred_id, &c), TES_OK);
    REQUIRE(c != NULL);
    CHECK_EQ_INT(c->copies, 3);
    CHECK(c->single_use && c->needs_pin);
    CHECK_EQ_STR(c->display_name, "My PID");
    CHECK_EQ_STR(c->doctype, TES_DOCTYPE_PID);
    CHECK_EQ_INT(c->valid_from, r.valid_from);
    CHECK_EQ_INT(c->valid_until, r.valid_until);
    tes_store_creds_free(c, 1);

    /* the keys are not single-use in the SE (their first signature was the
     * proof of possession), but need the PIN */
    char ids[4][TES_SE_ID_MAX];
    size_t n = 0;
    tes_se *se = tes_wallet_se(w);
    REQUIRE(se->ops->list_keys(se, ids, 4, &n) == TES_OK && n == 3);
    for (size_t i = 0; i < n; i++) {
        tes_se_key_info ki;
        CHECK_ERR(se->ops->key_info(se, ids[i], &ki), TES_OK);
        CHECK(ki.user_verification && !ki.single_use);
    }

    /* the device id: what the wallet reports, what the issuer recorded */
    char dev[65];
    CHECK_ERR(tes_wallet_device_id(w, dev), TES_OK);
    CHECK_EQ_INT(strlen(dev), 64);
    CHECK_EQ_STR(r.device_id, dev);
    CHECK(!r.device_ids_differ);
    CHECK_EQ_INT(n_keys(w), 3); /* attesting an existing key made none */

    /* the phone reported lost by its device id: its 3 copies suspended */
    size_t suspended = 0;
    CHECK_ERR(tes_wallet_report_lost(E.url, recovery, dev, &suspended), TES_OK);
    CHECK_EQ_INT(suspended, 3);
    CHECK_ERR(tes_wallet_report_lost(E.url, "AAAA-BBBB-CCCC-DDDD", dev, &suspended), TES_ERR_GRANT);

    tes_buf_free(&uri);
    tes_wallet_close(w);
}

TEST(enrol_one_copy_is_not_single_use)
{
    REQUIRE(env_up());
    tes_wallet *w = phone(false);
    REQUIRE(w != NULL);
    tes_buf uri;
    char tx[16];
    REQUIRE(fx_enrol(&E.cfg, "counter-1", &uri, NULL, tx, NULL, NULL));
    const tes_wallet_enrol_opts o = {
        .offer_uri = (const char *)uri.ptr, .tx_code = tx, .pin = PIN, .copies = 1};
    tes_wallet_enrol_result r;
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_OK);
    CHECK_EQ_INT(r.copies, 1);
    CHECK(!r.single_use && r.needs_pin);
    tes_store_cred *c = NULL;
    CHECK_ERR(tes_wallet_credential(w, r.cred_id, &c), TES_OK);
    REQUIRE(c != NULL);
    CHECK(!c->single_use);
    CHECK_EQ_STR(c->display_name, "PID"); /* the default name */
    tes_store_creds_free(c, 1);
    tes_buf_free(&uri);
    tes_wallet_close(w);
}

TEST(enrol_wrong_pin_keeps_the_offer)
{
    REQUIRE(env_up());
    tes_wallet *w = phone(false);
    REQUIRE(w != NULL);
    tes_buf uri;
    char tx[16];
    REQUIRE(fx_enrol(&E.cfg, "counter-2", &uri, NULL, tx, NULL, NULL));
    tes_wallet_enrol_opts o = {
        .offer_uri = (const char *)uri.ptr, .tx_code = tx, .pin = "654321", .copies = 2};
    tes_wallet_enrol_result r;
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(r.cred_id, 0);
    CHECK_EQ_INT(n_keys(w), 0);
    CHECK_EQ_INT(n_creds(w), 0);

    /* a wallet without a PIN: refused before the offer too */
    tes_wallet *bare = phone(true);
    REQUIRE(bare != NULL);
    o.pin = PIN;
    CHECK_ERR(tes_wallet_enrol(bare, &o, &r), TES_ERR_PIN_NOT_SET);
    CHECK_EQ_INT(n_keys(bare), 0);
    tes_wallet_close(bare);

    /* the offer was not redeemed: it still works, once */
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_OK);
    CHECK_EQ_INT(r.copies, 2);
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_ERR_GRANT);
    CHECK_EQ_INT(n_creds(w), 1);
    CHECK_EQ_INT(n_keys(w), 2);
    tes_buf_free(&uri);
    tes_wallet_close(w);
}

TEST(enrol_wrong_tx_code_and_bad_options)
{
    REQUIRE(env_up());
    tes_wallet *w = phone(false);
    REQUIRE(w != NULL);
    tes_buf uri;
    char tx[16], wrong[16];
    REQUIRE(fx_enrol(&E.cfg, "counter-3", &uri, NULL, tx, NULL, NULL));
    snprintf(wrong, sizeof wrong, "%s", tx);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    tes_wallet_enrol_opts o = {
        .offer_uri = (const char *)uri.ptr, .tx_code = wrong, .pin = PIN, .copies = 2};
    tes_wallet_enrol_result r;
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_ERR_GRANT);
    CHECK_EQ_INT(n_creds(w), 0);
    CHECK_EQ_INT(n_keys(w), 0);

    /* options out of range: TES_ERR_ARG before anything else */
    o.tx_code = tx;
    o.copies = TES_WALLET_MAX_COPIES + 1;
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_ERR_ARG);
    o.copies = 1;
    o.tx_code = "12345678901234567";
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_ERR_ARG);
    o.tx_code = tx;
    o.display_name = "";
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_ERR_ARG);
    o.display_name = NULL;
    o.pin = NULL;
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_ERR_ARG);
    o.pin = PIN;
    o.proof = (tes_oid4vci_proof_form)9;
    CHECK_ERR(tes_wallet_enrol(w, &o, &r), TES_ERR_ARG);
    CHECK_ERR(tes_wallet_enrol(w, NULL, &r), TES_ERR_ARG);
    tes_buf_free(&uri);
    tes_wallet_close(w);
}

/* The issuer answered, storing failed (the store refuses every new copy):
 * nothing stored, the keys made for it deleted, and the error says so. */
TEST(enrol_store_failure_deletes_the_keys)
{
    REQUIRE(env_up());
    tes_wallet *w = phone(false);
    REQUIRE(w != NULL);
    char db[256];
    snprintf(db, sizeof db, "%s/%s", tes_wallet_dir(w), TES_WALLET_DB);
    sqlite3 *h = NULL;
    REQUIRE(sqlite3_open(db, &h) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h,
                         "CREATE TRIGGER no_copies BEFORE INSERT ON copies "
                         "BEGIN SELECT RAISE(ABORT, 'the test refuses copies'); END;",
                         NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);

    tes_buf uri;
    char tx[16];
    REQUIRE(fx_enrol(&E.cfg, "counter-4", &uri, NULL, tx, NULL, NULL));
    const tes_wallet_enrol_opts o = {
        .offer_uri = (const char *)uri.ptr, .tx_code = tx, .pin = PIN, .copies = 2};
    tes_wallet_enrol_result r;
    tes_err e = tes_wallet_enrol(w, &o, &r);
    CHECK(e != TES_OK);
    CHECK(strstr(tes_err_message(), "nothing stored") != NULL);
    CHECK(strstr(tes_err_message(), "2 keys made for it deleted") != NULL);
    CHECK_EQ_INT(r.cred_id, 0);
    CHECK_EQ_INT(n_creds(w), 0);
    CHECK_EQ_INT(n_keys(w), 0);
    tes_buf_free(&uri);
    tes_wallet_close(w);
}

/* tes_se_device_id and its JWT form: the same id from an attestation chain
 * and from a key attestation JWT of one SE (what the issuer records either
 * way), and what each refuses. */
TEST(se_device_id_of_chain_and_jwt)
{
    REQUIRE(env_up());
    tes_wallet *w = phone(false);
    REQUIRE(w != NULL);
    tes_se *se = tes_wallet_se(w);
    char id[TES_SE_ID_MAX], want[65], got[65];
    const tes_se_key_opts ko = {0};
    REQUIRE(tes_se_create_key(se, &ko, id) == TES_OK);
    REQUIRE(fx_se_device_id(se, want));
    tes_buf chain = {0}, jwt = {0};
    REQUIRE(se->ops->attest(se, id, TES_BYTES("n", 1), &chain) == TES_OK);
    CHECK_ERR(tes_se_device_id(tes_buf_bytes(&chain), got), TES_OK);
    CHECK_EQ_STR(got, want);
    const char *ids[1] = {id};
    REQUIRE(tes_se_attest_jwt(se, ids, 1, "nonce", &jwt) == TES_OK);
    CHECK_ERR(tes_se_device_id_jwt(tes_buf_bytes(&jwt), got), TES_OK);
    CHECK_EQ_STR(got, want);
    CHECK_ERR(tes_wallet_device_id(w, got), TES_OK);
    CHECK_EQ_STR(got, want);

    /* a chain of one certificate: no SE certificate; not CBOR; x5c[1] no bytes */
    static const uint8_t one[] = {0x81, 0x41, 0x00};
    CHECK_ERR(tes_se_device_id(TES_BYTES(one, sizeof one), got), TES_ERR_NOT_FOUND);
    CHECK_EQ_STR(got, "");
    static const uint8_t junk[] = {0xff, 0x00};
    CHECK_ERR(tes_se_device_id(TES_BYTES(junk, sizeof junk), got), TES_ERR_ATTESTATION);
    static const uint8_t not_bytes[] = {0x82, 0x41, 0x00, 0x01};
    CHECK_ERR(tes_se_device_id(TES_BYTES(not_bytes, sizeof not_bytes), got), TES_ERR_ATTESTATION);
    CHECK_ERR(tes_se_device_id(TES_BYTES(NULL, 0), got), TES_ERR_ATTESTATION);
    /* JWTs: no x5c ({"alg":"ES256"}), not a JWT, a header that is not JSON */
    CHECK_ERR(tes_se_device_id_jwt(TES_BYTES_STR("eyJhbGciOiJFUzI1NiJ9.e30.sig"), got),
              TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_se_device_id_jwt(TES_BYTES_STR("no dot at all"), got), TES_ERR_ATTESTATION);
    CHECK_ERR(tes_se_device_id_jwt(TES_BYTES_STR("bm90IGpzb24.e30.sig"), got), TES_ERR_ATTESTATION);
    tes_buf_free(&chain);
    tes_buf_free(&jwt);
    tes_wallet_close(w);
}
