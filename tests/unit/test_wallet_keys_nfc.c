/* tes_wallet_tap through the real PC/SC stack: pcscd (scripts/pcscd-test.sh) with
 * vsmartcard's vpcd, the wallet answering as the card in one thread, the engine's reader
 * side over tes_pcsc_card in the other: a standard transaction with step-up (the stored
 * access document comes back), then a fast one with the persistent key, two verdicts,
 * the tap's result and the wallet's log. Named *_nfc: it needs pcscd as root, like
 * test_nfc, and runs outside the default `ctest -E nfc`. */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include <pthread.h>

#include "harness.h"
#include "tessera/transport.h"
#include "wallet_keys_fixture.h"

typedef struct tapper {
    tes_wallet *w;
    tes_clock clock;
    tes_wallet_tap_result r;
    tes_err err;
} tapper;

static void *tap_thread(void *ctx)
{
    tapper *t = ctx;
    const tes_wallet_tap_opts o = {.timeout_ms = 20000, .count = 2, .clock = &t->clock};
    t->err = tes_wallet_tap(t->w, &o, &t->r);
    return NULL;
}

static void reader_side(fx *f, const tes_access_grant *g)
{
    tes_pcsc_card *card = NULL;
    REQUIRE(tes_pcsc_card_connect(NULL, 15000, &card) == TES_OK);
    tes_access_reader_opts o = {.reader_key = f->h.reader,
                                .policy = TES_ACCESS_POLICY_USER_DEVICE_SETTING,
                                .transmit = tes_pcsc_card_transmit,
                                .transmit_ctx = card};
    memcpy(o.reader_id, f->h.group, TES_ACCESS_GROUP_ID_LEN);
    memset(o.reader_id + TES_ACCESS_GROUP_ID_LEN, 0x02, 16);

    /* first tap: standard + step-up */
    tes_access_reader *x = NULL;
    tes_access_result r;
    tes_buf resp = {0};
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    CHECK_ERR(tes_access_reader_auth1(x, &r), TES_OK);
    CHECK_EQ_MEM(r.endpoint_key, g->endpoint_key, TES_ACCESS_POINT_LEN);
    CHECK_ERR(tes_access_reader_step_up(x, true, false, &resp, &r), TES_OK);
    tes_bytes docs[2];
    size_t nd = 0;
    CHECK_ERR(tes_access_response_parse(tes_buf_bytes(&resp), docs, 2, &nd), TES_OK);
    CHECK_EQ_INT(nd, 1);
    tes_access_grant back;
    const tes_key *iss[] = {f->h.issuer};
    CHECK_ERR(nd ? tes_access_doc_verify(docs[0], iss, 1, &back) : TES_ERR_NOT_FOUND, TES_OK);
    CHECK_ERR(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED), TES_OK);
    tes_access_reader_free(x);
    tes_buf_free(&resp);

    /* second tap: fast */
    tes_access_known known;
    memcpy(known.endpoint_key, r.endpoint_key, TES_ACCESS_POINT_LEN);
    memcpy(known.kpersistent, r.kpersistent, 32);
    o.fast = true;
    o.known = &known;
    o.n_known = 1;
    tes_access_result r2;
    x = NULL;
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r2), TES_OK);
    CHECK_EQ_INT(r2.flow, TES_ACCESS_FLOW_FAST);
    CHECK_ERR(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED), TES_OK);
    tes_access_reader_free(x);
    tes_pcsc_card_free(card);
}

TEST(tap_through_pcscd_and_vpcd)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_access_grant g;
    REQUIRE(key_added(&f, T0, T0 + 3 * DAY, T0, &g));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "bash scripts/pcscd-test.sh start %s", f.dir);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "test_wallet_keys_nfc: FAILED to start pcscd with vpcd (exit %d)\n", rc);
        CHECK(!"pcscd could not be started");
        fx_free(&f);
        return;
    }
    static int64_t now = 1796140800 + DAY;
    tapper t = {.w = f.w, .clock = {fixed_now, &now}};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, tap_thread, &t) == 0);
    reader_side(&f, &g);
    pthread_join(th, NULL);
    snprintf(cmd, sizeof cmd, "bash scripts/pcscd-test.sh stop %s", f.dir);
    CHECK(system(cmd) == 0);

    CHECK_ERR(t.err, TES_OK);
    CHECK_EQ_INT(t.r.transactions, 2);
    CHECK(t.r.has_status && t.r.opened);
    CHECK_EQ_INT(t.r.status, TES_ACCESS_STATUS_UNLOCKED);
    CHECK_EQ_STR(t.r.issuer, "Hotel Aurora");
    CHECK_EQ_STR(t.r.rooms, "101");
    tes_store_log_entry *le = NULL;
    size_t n = 0;
    REQUIRE(tes_wallet_log(f.w, &le, &n) == TES_OK);
    CHECK_EQ_INT(n, 2);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_STR(le[i].outcome, "opened");
        CHECK_EQ_STR(le[i].relying_party, "Hotel Aurora");
    }
    tes_store_log_free(le, n);
    fx_free(&f);
}
