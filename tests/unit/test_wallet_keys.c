/* The wallet's door keys (tessera/wallet.h, "door keys"): a real wallet directory with
 * the soft secure element and a hotel made here (issuer key, reader group key,
 * documents from tes_access_doc_issue). The key request and package, each refusal of
 * tes_wallet_key_add with its own error, revocation documents (newer kept, older or
 * equal ROLLBACK), and the keyring driven by the engine's reader side in memory:
 * standard, fast, step-up, the persistent key stored, an expired key not offered. */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "wallet_keys_fixture.h"

TEST(request_package_add_list)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_buf rq = {0};
    REQUIRE(tes_wallet_key_request(f.w, &rq) == TES_OK);
    tes_access_key_request r;
    REQUIRE(tes_access_key_request_parse(tes_buf_bytes(&rq), &r) == TES_OK);
    CHECK(r.attestation.len > 0); /* the soft SE attests its keys */
    /* the endpoint key lives in the wallet's SE, attested for the door-key challenge */
    tes_wallet_key_info *k = NULL;
    size_t n = 0;
    REQUIRE(tes_wallet_keys(f.w, &k, &n) == TES_OK);
    REQUIRE(n == 1);
    CHECK(!k[0].active && !k[0].revoked && k[0].issuer[0] == '\0' && k[0].key_id[0] == '\0');
    tes_key *pub = NULL;
    REQUIRE(tes_se_public_key(tes_wallet_se(f.w), k[0].se_key_id, &pub) == TES_OK);
    uint8_t pt[TES_ACCESS_POINT_LEN];
    point(pub, pt);
    CHECK_EQ_MEM(pt, r.endpoint_key, TES_ACCESS_POINT_LEN);
    tes_se_key_info ki;
    REQUIRE(tes_wallet_se(f.w)->ops->key_info(tes_wallet_se(f.w), k[0].se_key_id, &ki) == TES_OK);
    CHECK(!ki.user_verification && !ki.single_use); /* express mode, reusable */
    tes_key_free(pub);
    tes_wallet_keys_free(k, n);

    tes_access_grant g = grant_for(&f.h, r.endpoint_key, T0, T0 + 3 * DAY, T0 - 3600);
    snprintf(g.rooms[1], TES_ACCESS_ROOM_MAX, "spa");
    g.n_rooms = 2;
    tes_buf pk = {0};
    REQUIRE(package(&f.h, &g, NULL, TES_BYTES(NULL, 0), &pk));
    tes_wallet_key_info info;
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), &info), TES_OK);
    CHECK(info.active && !info.revoked);
    CHECK_EQ_STR(info.issuer, "Hotel Aurora");
    CHECK_EQ_STR(info.rooms, "101, spa");
    CHECK_EQ_INT(info.not_before, T0);
    CHECK_EQ_INT(info.not_after, T0 + 3 * DAY);
    CHECK_EQ_INT(info.issued_at, T0 - 3600);
    CHECK_EQ_STR(info.key_id, "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");

    /* the same package twice: refused, nothing changes */
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_EXISTS);
    CHECK(strstr(tes_err_message(), "added already") != NULL);
    /* an older document for the same key: refused */
    tes_buf old = {0};
    tes_access_grant g0 = g;
    g0.signed_at = T0 - 7200;
    REQUIRE(package(&f.h, &g0, NULL, TES_BYTES(NULL, 0), &old));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&old), NULL), TES_ERR_EXISTS);
    /* a newer one (the stay extended): replaces it */
    tes_buf ext = {0};
    tes_access_grant g2 = g;
    g2.not_after = T0 + 5 * DAY;
    g2.signed_at = T0 + DAY;
    REQUIRE(package(&f.h, &g2, NULL, TES_BYTES(NULL, 0), &ext));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&ext), &info), TES_OK);
    CHECK_EQ_INT(info.not_after, T0 + 5 * DAY);
    REQUIRE(tes_wallet_keys(f.w, &k, &n) == TES_OK);
    REQUIRE(n == 1); /* one key, renewed */
    CHECK(k[0].active);
    CHECK_EQ_INT(k[0].not_after, T0 + 5 * DAY);
    CHECK_EQ_INT(k[0].issued_at, T0 + DAY);
    tes_wallet_keys_free(k, n);

    /* the wallet reopens with its keys */
    tes_wallet_close(f.w);
    REQUIRE(tes_wallet_open(f.wdir, NULL, &f.w) == TES_OK);
    REQUIRE(tes_wallet_keys(f.w, &k, &n) == TES_OK);
    CHECK(n == 1 && k[0].active);
    tes_wallet_keys_free(k, n);
    tes_buf_free(&rq);
    tes_buf_free(&pk);
    tes_buf_free(&old);
    tes_buf_free(&ext);
    fx_free(&f);
}

TEST(package_refusals)
{
    fx f;
    REQUIRE(fx_init(&f));
    uint8_t ep[TES_ACCESS_POINT_LEN];
    REQUIRE(request(&f, ep));
    tes_buf pk = {0};

    /* an endpoint key this wallet never requested */
    tes_key *other = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &other) == TES_OK);
    uint8_t foreign[TES_ACCESS_POINT_LEN];
    point(other, foreign);
    tes_access_grant g = grant_for(&f.h, foreign, T0, T0 + DAY, T0);
    REQUIRE(package(&f.h, &g, NULL, TES_BYTES(NULL, 0), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_ACCESS_ENDPOINT);
    CHECK(strstr(tes_err_message(), "did not request") != NULL);

    /* a document signed by another key than the package's issuer key */
    tes_buf_reset(&pk);
    g = grant_for(&f.h, ep, T0, T0 + DAY, T0);
    REQUIRE(package(&f.h, &g, other, TES_BYTES(NULL, 0), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_ACCESS_ISSUER);

    /* a document for another reader group than the package's */
    tes_buf_reset(&pk);
    g = grant_for(&f.h, ep, T0, T0 + DAY, T0);
    memset(g.group_id, 0x77, sizeof g.group_id);
    REQUIRE(package(&f.h, &g, NULL, TES_BYTES(NULL, 0), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_ACCESS_DOC_FORMAT);
    CHECK(strstr(tes_err_message(), "reader group") != NULL);

    /* a revocation document signed by another key */
    tes_buf rev = {0};
    REQUIRE(revocation(&f.h, other, T0, NULL, 0, &rev));
    tes_buf_reset(&pk);
    g = grant_for(&f.h, ep, T0, T0 + DAY, T0);
    REQUIRE(package(&f.h, &g, NULL, tes_buf_bytes(&rev), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_ACCESS_ISSUER);

    /* a reader key or issuer key that is no point on the curve */
    hotel bent = f.h;
    memset(bent.reader_pt + 1, 0x5A, 64);
    tes_buf_reset(&pk);
    g = grant_for(&f.h, ep, T0, T0 + DAY, T0);
    REQUIRE(package(&bent, &g, NULL, TES_BYTES(NULL, 0), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_ACCESS_DOC_FORMAT);
    CHECK(strstr(tes_err_message(), "reader key") != NULL);
    bent = f.h;
    memset(bent.issuer_pt + 1, 0x5A, 64);
    tes_buf_reset(&pk);
    REQUIRE(package(&bent, &g, NULL, TES_BYTES(NULL, 0), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_ACCESS_DOC_FORMAT);
    CHECK(strstr(tes_err_message(), "issuer key") != NULL);

    /* a revocation document of another group in the package */
    hotel elsewhere = f.h;
    memset(elsewhere.group, 0x31, sizeof elsewhere.group);
    tes_buf rev2 = {0};
    REQUIRE(revocation(&elsewhere, NULL, T0, NULL, 0, &rev2));
    tes_buf_reset(&pk);
    REQUIRE(package(&f.h, &g, NULL, tes_buf_bytes(&rev2), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_ACCESS_DOC_FORMAT);
    CHECK(strstr(tes_err_message(), "revocation document is for another reader group") != NULL);
    tes_buf_free(&rev2);

    /* not a package at all */
    static const uint8_t junk[] = {0xA1, 0x61, 'v', 0x02};
    CHECK_ERR(tes_wallet_key_add(f.w, TES_BYTES(junk, sizeof junk), NULL),
              TES_ERR_ACCESS_DOC_FORMAT);

    /* nothing of that was stored: the key is still requested */
    tes_wallet_key_info *k = NULL;
    size_t n = 0;
    REQUIRE(tes_wallet_keys(f.w, &k, &n) == TES_OK);
    CHECK(n == 1 && !k[0].active);
    tes_wallet_keys_free(k, n);

    /* the endpoint key deleted from the SE meanwhile */
    REQUIRE(tes_wallet_keys(f.w, &k, &n) == TES_OK);
    REQUIRE(tes_wallet_se(f.w)->ops->delete_key(tes_wallet_se(f.w), k[0].se_key_id) == TES_OK);
    tes_wallet_keys_free(k, n);
    tes_buf_reset(&pk);
    g = grant_for(&f.h, ep, T0, T0 + DAY, T0);
    REQUIRE(package(&f.h, &g, NULL, TES_BYTES(NULL, 0), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_ERR_KEY_UNKNOWN);

    tes_key_free(other);
    tes_buf_free(&pk);
    tes_buf_free(&rev);
    fx_free(&f);
}

/* ---- the keyring under the engine's reader, in memory ---- */

typedef struct tlink {
    tes_access_device *dev;
} tlink;

static tes_err transmit(void *ctx, tes_bytes command, tes_buf *response)
{
    return tes_access_device_process(((tlink *)ctx)->dev, command, response);
}

static tes_access_reader_opts reader_opts(fx *f, tlink *l, const tes_access_known *known, size_t n)
{
    tes_access_reader_opts o = {.reader_key = f->h.reader,
                                .fast = n > 0,
                                .policy = TES_ACCESS_POLICY_USER_DEVICE_SETTING,
                                .known = known,
                                .n_known = n,
                                .transmit = transmit,
                                .transmit_ctx = l};
    memcpy(o.reader_id, f->h.group, TES_ACCESS_GROUP_ID_LEN);
    memset(o.reader_id + TES_ACCESS_GROUP_ID_LEN, 0x01, TES_ACCESS_READER_ID_LEN - 16);
    return o;
}

TEST(keyring_standard_fast_step_up)
{
    fx f;
    REQUIRE(fx_init(&f));
    int64_t now = T0 + DAY;
    tes_clock clock = {fixed_now, &now};
    tes_access_grant g;
    REQUIRE(key_added(&f, T0, T0 + 3 * DAY, T0 - 3600, &g));
    tes_wallet_keyring *kr = NULL;
    REQUIRE(tes_wallet_keyring_new(f.w, &clock, &kr) == TES_OK);
    tlink l = {0};
    const tes_access_device_opts d = {.se = tes_wallet_se(f.w),
                                      .ring = tes_wallet_keyring_ring(kr)};
    REQUIRE(tes_access_device_new(&d, &l.dev) == TES_OK);

    /* standard */
    tes_access_reader_opts o = reader_opts(&f, &l, NULL, 0);
    tes_access_reader *x = NULL;
    tes_access_result r;
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r), TES_OK);
    CHECK_ERR(tes_access_reader_auth1(x, &r), TES_OK);
    CHECK_EQ_INT(r.flow, TES_ACCESS_FLOW_STANDARD);
    CHECK_EQ_MEM(r.endpoint_key, g.endpoint_key, TES_ACCESS_POINT_LEN);
    uint8_t ts[TES_ACCESS_TIMESTAMP_LEN], zeros[TES_ACCESS_TIMESTAMP_LEN] = {0};
    tes_access_timestamp(T0 - 3600, ts);
    CHECK_EQ_MEM(r.issued_at, ts, TES_ACCESS_TIMESTAMP_LEN);
    CHECK_EQ_MEM(r.revoked_at, zeros, TES_ACCESS_TIMESTAMP_LEN);
    CHECK_EQ_INT(r.signaling, TES_ACCESS_SIG_ACCESS_DOC | TES_ACCESS_SIG_STEPUP_SELECT);
    REQUIRE(r.has_kpersistent);
    CHECK_ERR(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED), TES_OK);
    tes_access_reader_free(x);
    x = NULL;
    uint16_t st = 0;
    int64_t used = 0;
    CHECK_EQ_INT(tes_wallet_keyring_verdicts(kr, &st, &used), 1);
    CHECK_EQ_INT(st, TES_ACCESS_STATUS_UNLOCKED);
    CHECK(used > 0);
    /* the persistent key is in the store, for this reader */
    uint8_t kp[32];
    CHECK_ERR(tes_store_access_persistent_get(tes_wallet_store(f.w), used,
                                              TES_BYTES(o.reader_id, TES_ACCESS_READER_ID_LEN), kp),
              TES_OK);
    CHECK_EQ_MEM(kp, r.kpersistent, 32);

    /* fast: the reader finds the endpoint by the persistent key */
    tes_access_known known = {{0}, {0}};
    memcpy(known.endpoint_key, r.endpoint_key, TES_ACCESS_POINT_LEN);
    memcpy(known.kpersistent, r.kpersistent, 32);
    tes_access_reader_opts of = reader_opts(&f, &l, &known, 1);
    tes_access_result r2;
    CHECK_ERR(tes_access_reader_begin(&of, &x, &r2), TES_OK);
    CHECK_EQ_INT(r2.flow, TES_ACCESS_FLOW_FAST);
    CHECK_EQ_INT(r2.known_index, 0);
    CHECK_ERR(tes_access_reader_finish(x, TES_ACCESS_STATUS_NO_RIGHTS), TES_OK);
    tes_access_reader_free(x);
    x = NULL;
    CHECK_EQ_INT(tes_wallet_keyring_verdicts(kr, &st, NULL), 2);
    CHECK_EQ_INT(st, TES_ACCESS_STATUS_NO_RIGHTS);

    /* step-up: the stored access document, which verifies with the hotel's key */
    tes_access_result r3;
    tes_buf resp = {0};
    CHECK_ERR(tes_access_reader_begin(&o, &x, &r3), TES_OK);
    CHECK_ERR(tes_access_reader_auth1(x, &r3), TES_OK);
    CHECK_ERR(tes_access_reader_step_up(x, true, true, &resp, &r3), TES_OK);
    tes_bytes docs[4];
    size_t nd = 0;
    REQUIRE(tes_access_response_parse(tes_buf_bytes(&resp), docs, 4, &nd) == TES_OK);
    CHECK_EQ_INT(nd, 1); /* no revocation document held yet */
    tes_access_grant back;
    const tes_key *iss[] = {f.h.issuer};
    CHECK_ERR(tes_access_doc_verify(docs[0], iss, 1, &back), TES_OK);
    CHECK_EQ_MEM(back.key_id, g.key_id, TES_ACCESS_KEY_ID_LEN);
    CHECK_ERR(tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED), TES_OK);
    tes_access_reader_free(x);

    /* the log: one entry per verdict, named by the hotel */
    tes_store_log_entry *le = NULL;
    size_t nl = 0;
    REQUIRE(tes_wallet_log(f.w, &le, &nl) == TES_OK);
    REQUIRE(nl == 3);
    CHECK_EQ_STR(le[0].relying_party, "Hotel Aurora");
    CHECK_EQ_STR(le[0].elements, "door key");
    CHECK_EQ_STR(le[0].outcome, "opened");
    CHECK_EQ_STR(le[1].outcome, "refused (status 0025)");
    CHECK_EQ_INT(le[2].at, now);
    tes_store_log_free(le, nl);

    tes_buf_free(&resp);
    tes_access_device_free(l.dev);
    tes_wallet_keyring_free(kr);
    fx_free(&f);
}

TEST(keyring_offers_keys_by_validity)
{
    fx f;
    REQUIRE(fx_init(&f));
    int64_t now = T0 + 10 * DAY;
    tes_clock clock = {fixed_now, &now};
    tes_access_grant past, future;
    REQUIRE(key_added(&f, T0, T0 + 2 * DAY, T0, &past)); /* checked out already */
    tes_wallet_keyring *kr = NULL;
    REQUIRE(tes_wallet_keyring_new(f.w, &clock, &kr) == TES_OK);
    const tes_access_keyring *ring = tes_wallet_keyring_ring(kr);
    tes_access_endpoint ep;
    /* an expired key is not offered */
    CHECK_ERR(ring->find(ring->ctx, f.h.group, &ep), TES_ERR_NOT_FOUND);
    /* ... but it was, while valid */
    now = T0 + DAY;
    CHECK_ERR(ring->find(ring->ctx, f.h.group, &ep), TES_OK);
    CHECK_EQ_MEM(ep.endpoint_key, past.endpoint_key, TES_ACCESS_POINT_LEN);
    CHECK_EQ_MEM(ep.key_slot, past.key_id, 8);
    CHECK_EQ_MEM(ep.reader_key, f.h.reader_pt, TES_ACCESS_POINT_LEN);
    /* another group: nothing */
    uint8_t other[TES_ACCESS_GROUP_ID_LEN];
    memset(other, 0x43, sizeof other);
    CHECK_ERR(ring->find(ring->ctx, other, &ep), TES_ERR_NOT_FOUND);

    /* a key valid from next week: offered (the lock says why it refuses), but a key
     * valid now comes first */
    now = T0 + 10 * DAY;
    REQUIRE(key_added(&f, T0 + 17 * DAY, T0 + 20 * DAY, T0 + DAY, &future));
    CHECK_ERR(ring->find(ring->ctx, f.h.group, &ep), TES_OK);
    CHECK_EQ_MEM(ep.endpoint_key, future.endpoint_key, TES_ACCESS_POINT_LEN);
    tes_access_grant current;
    REQUIRE(key_added(&f, T0 + 9 * DAY, T0 + 12 * DAY, T0, &current));
    CHECK_ERR(ring->find(ring->ctx, f.h.group, &ep), TES_OK);
    CHECK_EQ_MEM(ep.endpoint_key, current.endpoint_key, TES_ACCESS_POINT_LEN);
    /* of two valid now, the most recently issued */
    tes_access_grant newer;
    REQUIRE(key_added(&f, T0 + 9 * DAY, T0 + 12 * DAY, T0 + 2 * DAY, &newer));
    CHECK_ERR(ring->find(ring->ctx, f.h.group, &ep), TES_OK);
    CHECK_EQ_MEM(ep.endpoint_key, newer.endpoint_key, TES_ACCESS_POINT_LEN);

    tes_wallet_keyring_free(kr);
    fx_free(&f);
}

TEST(revocations_newer_kept_older_refused)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_access_grant g;
    REQUIRE(key_added(&f, T0, T0 + 3 * DAY, T0, &g));
    tes_buf r1 = {0}, r2 = {0}, r0 = {0}, bad = {0}, foreign = {0};
    const uint8_t *mine[] = {g.key_id};
    uint8_t someone[TES_ACCESS_KEY_ID_LEN];
    memset(someone, 0x11, sizeof someone);
    const uint8_t *theirs[] = {someone};
    REQUIRE(revocation(&f.h, NULL, T0 + 100, theirs, 1, &r1));
    REQUIRE(revocation(&f.h, NULL, T0 + 200, mine, 1, &r2));
    REQUIRE(revocation(&f.h, NULL, T0 + 50, theirs, 1, &r0));

    tes_wallet_revocation_info ri;
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&r1), &ri), TES_OK);
    CHECK_EQ_INT(ri.version, T0 + 100);
    CHECK_EQ_INT(ri.n_keys, 1);
    CHECK_EQ_INT(ri.own_revoked, 0);
    CHECK_EQ_STR(ri.issuer, "Hotel Aurora");
    /* the same again, and an older one: ROLLBACK, the held one stays */
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&r1), NULL),
              TES_ERR_ACCESS_ROLLBACK);
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&r0), NULL),
              TES_ERR_ACCESS_ROLLBACK);
    int64_t version = 0;
    tes_buf held = {0};
    REQUIRE(tes_store_access_revocation_get(tes_wallet_store(f.w),
                                            TES_BYTES(f.h.group, TES_ACCESS_GROUP_ID_LEN), &version,
                                            &held) == TES_OK);
    CHECK_EQ_INT(version, T0 + 100);
    CHECK(tes_bytes_eq(tes_buf_bytes(&held), tes_buf_bytes(&r1)));

    /* the keyring announces it: revoked_at and the signaling bit */
    tes_wallet_keyring *kr = NULL;
    int64_t now = T0 + DAY;
    tes_clock clock = {fixed_now, &now};
    REQUIRE(tes_wallet_keyring_new(f.w, &clock, &kr) == TES_OK);
    const tes_access_keyring *ring = tes_wallet_keyring_ring(kr);
    tes_access_endpoint ep;
    REQUIRE(ring->find(ring->ctx, f.h.group, &ep) == TES_OK);
    uint8_t ts[TES_ACCESS_TIMESTAMP_LEN];
    tes_access_timestamp(T0 + 100, ts);
    CHECK_EQ_MEM(ep.revoked_at, ts, TES_ACCESS_TIMESTAMP_LEN);
    CHECK(ep.signaling & TES_ACCESS_SIG_REVOCATION_DOC);
    tes_buf items = {0};
    size_t n = 0;
    CHECK_ERR(ring->documents(ring->ctx, &ep, TES_REVOCATION_DOCTYPE, &items, &n), TES_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(tes_bytes_eq(tes_buf_bytes(&items), tes_buf_bytes(&r1)));
    tes_wallet_keyring_free(kr);

    /* signed by another key, or for a group the wallet holds no key of */
    tes_key *other = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &other) == TES_OK);
    REQUIRE(revocation(&f.h, other, T0 + 300, theirs, 1, &bad));
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&bad), NULL), TES_ERR_ACCESS_ISSUER);
    hotel h2 = f.h;
    memset(h2.group, 0x99, sizeof h2.group);
    REQUIRE(revocation(&h2, NULL, T0 + 300, theirs, 1, &foreign));
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&foreign), NULL), TES_ERR_NOT_FOUND);

    /* a second hotel whose key the wallet holds signs a revocation for the first's group */
    hotel second = f.h;
    REQUIRE(hotel_make(&second, 0x55));
    hotel first = f.h;
    f.h = second;
    tes_access_grant g2;
    REQUIRE(key_added(&f, T0, T0 + 3 * DAY, T0, &g2));
    f.h = first;
    hotel cross = first;
    cross.issuer = second.issuer;
    tes_buf crossed = {0};
    REQUIRE(revocation(&cross, NULL, T0 + 400, theirs, 1, &crossed));
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&crossed), NULL),
              TES_ERR_ACCESS_ISSUER);
    CHECK(strstr(tes_err_message(), "not signed by the hotel of its reader group") != NULL);
    tes_buf_free(&crossed);
    hotel_free(&second);

    /* a newer one revoking this wallet's own key: kept, the key listed as revoked */
    tes_wallet_key_info *k = NULL;
    size_t nk = 0;
    REQUIRE(tes_wallet_keys(f.w, &k, &nk) == TES_OK);
    CHECK(nk == 2 && !k[0].revoked && !k[1].revoked);
    tes_wallet_keys_free(k, nk);
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&r2), &ri), TES_OK);
    CHECK_EQ_INT(ri.own_revoked, 1);
    REQUIRE(tes_wallet_keys(f.w, &k, &nk) == TES_OK);
    CHECK(nk == 2 && k[0].revoked && k[0].active);
    CHECK(!k[1].revoked); /* the other hotel's key */
    tes_wallet_keys_free(k, nk);

    tes_key_free(other);
    tes_buf_free(&items);
    tes_buf_free(&held);
    tes_buf_free(&r0);
    tes_buf_free(&r1);
    tes_buf_free(&r2);
    tes_buf_free(&bad);
    tes_buf_free(&foreign);
    fx_free(&f);
}

TEST(revocation_without_keys_and_in_a_package)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_buf rv = {0}, older = {0}, pk = {0};
    REQUIRE(revocation(&f.h, NULL, T0 + 100, NULL, 0, &rv));
    REQUIRE(revocation(&f.h, NULL, T0 + 50, NULL, 0, &older));
    /* no key: no hotel to check it with */
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&rv), NULL), TES_ERR_NOT_FOUND);
    /* a package carrying the group's revocation document: kept with the key */
    uint8_t ep[TES_ACCESS_POINT_LEN];
    REQUIRE(request(&f, ep));
    tes_access_grant g = grant_for(&f.h, ep, T0, T0 + DAY, T0);
    REQUIRE(package(&f.h, &g, NULL, tes_buf_bytes(&rv), &pk));
    CHECK_ERR(tes_wallet_key_add(f.w, tes_buf_bytes(&pk), NULL), TES_OK);
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&rv), NULL),
              TES_ERR_ACCESS_ROLLBACK);
    CHECK_ERR(tes_wallet_key_revocation_add(f.w, tes_buf_bytes(&older), NULL),
              TES_ERR_ACCESS_ROLLBACK);
    tes_buf_free(&rv);
    tes_buf_free(&older);
    tes_buf_free(&pk);
    fx_free(&f);
}

TEST(store_door_key_rows)
{
    fx f;
    REQUIRE(fx_init(&f));
    tes_store *s = tes_wallet_store(f.w);
    uint8_t ep[65] = {4}, rid[32] = {1}, k[32];
    int64_t id = 0;
    CHECK_ERR(tes_store_access_key_request(s, "se-1", TES_BYTES(ep, 65), &id), TES_OK);
    CHECK_ERR(tes_store_access_key_request(s, "se-1", TES_BYTES(ep, 65), NULL), TES_ERR_EXISTS);
    CHECK_ERR(tes_store_access_key_request(s, "", TES_BYTES(ep, 65), NULL), TES_ERR_ARG);
    CHECK_ERR(tes_store_access_persistent_get(s, id, TES_BYTES(rid, 32), k), TES_ERR_NOT_FOUND);
    memset(k, 7, 32);
    CHECK_ERR(tes_store_access_persistent_put(s, id, TES_BYTES(rid, 32), k), TES_OK);
    memset(k, 8, 32);
    CHECK_ERR(tes_store_access_persistent_put(s, id, TES_BYTES(rid, 32), k), TES_OK); /* replaces */
    uint8_t back[32];
    CHECK_ERR(tes_store_access_persistent_get(s, id, TES_BYTES(rid, 32), back), TES_OK);
    CHECK_EQ_MEM(back, k, 32);
    CHECK_ERR(tes_store_access_persistent_put(s, id + 100, TES_BYTES(rid, 32), k),
              TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_store_access_persistent_get(s, id, TES_BYTES(rid, 31), back), TES_ERR_ARG);
    /* activating a key nobody requested */
    uint8_t other[65] = {4, 9};
    tes_store_access_grant g = {.endpoint_key = TES_BYTES(other, 65),
                                .group_id = TES_BYTES(rid, 16),
                                .reader_key = TES_BYTES(ep, 65),
                                .issuer_key = TES_BYTES(ep, 65),
                                .document = TES_BYTES(k, 32),
                                .key_id = TES_BYTES(k, 16),
                                .issuer = "H",
                                .rooms = "1",
                                .issued_at = 5};
    CHECK_ERR(tes_store_access_key_activate(s, &g, NULL), TES_ERR_NOT_FOUND);
    g.endpoint_key = TES_BYTES(ep, 65);
    CHECK_ERR(tes_store_access_key_activate(s, &g, NULL), TES_OK);
    CHECK_ERR(tes_store_access_key_activate(s, &g, NULL), TES_ERR_EXISTS); /* not newer */
    g.document = TES_BYTES(NULL, 0);
    CHECK_ERR(tes_store_access_key_activate(s, &g, NULL), TES_ERR_ARG);
    /* revocations: only newer */
    CHECK_ERR(tes_store_access_revocation_put(s, TES_BYTES(rid, 16), 10, TES_BYTES(k, 4)), TES_OK);
    CHECK_ERR(tes_store_access_revocation_put(s, TES_BYTES(rid, 16), 10, TES_BYTES(k, 4)),
              TES_ERR_EXISTS);
    CHECK_ERR(tes_store_access_revocation_put(s, TES_BYTES(rid, 16), 0, TES_BYTES(k, 4)),
              TES_ERR_ARG);
    /* deleting a key takes its persistent keys with it */
    CHECK_ERR(tes_store_access_key_delete(s, id), TES_OK);
    CHECK_ERR(tes_store_access_persistent_get(s, id, TES_BYTES(rid, 32), back), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_store_access_key_delete(s, id), TES_ERR_NOT_FOUND);
    fx_free(&f);
}

TEST(tap_status_texts)
{
    CHECK_EQ_STR(tes_wallet_tap_status_text(TES_ACCESS_STATUS_UNLOCKED), "unlocked");
    CHECK(strstr(tes_wallet_tap_status_text(TES_ACCESS_STATUS_EXPIRED), "check-out") != NULL);
    CHECK(strstr(tes_wallet_tap_status_text(TES_ACCESS_STATUS_NOT_TRUSTED), "revoked") != NULL);
    CHECK(strstr(tes_wallet_tap_status_text(TES_ACCESS_STATUS_NO_RIGHTS), "door") != NULL);
    /* the tap without a vpcd to talk to fails as a transport error, not a verdict */
    fx f;
    REQUIRE(fx_init(&f));
    tes_wallet_tap_result r;
    const tes_wallet_tap_opts o = {.vpcd = "127.0.0.1:1", .timeout_ms = 500};
    CHECK_ERR(tes_wallet_tap(f.w, &o, &r), TES_ERR_TRANSPORT);
    CHECK(!r.has_status && r.transactions == 0);
    CHECK_ERR(tes_wallet_tap(NULL, &o, &r), TES_ERR_ARG);
    fx_free(&f);
}
