/*
 * The door lock's decisions end to end in memory: a hotel (tes_hotel_*) issues a room key
 * for a phone's endpoint key, locks made for rooms 101 and 102 (tes_lock_*) decide taps of
 * Tessera's phone (tes_access_device): first tap step-up, then fast; the wrong room, before
 * check-in, after check-out, a revoked key (the revocation learnt from another phone), a
 * foreign hotel's key, the standard-path rate limit. Each refusal has its reason and is in
 * the lock's log. The same over pcscd + vpcd and against the independent Python phone and
 * reader: tests/cli/door_keys.sh.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"

#include "access_fixture.h"
#include "tessera/lock.h"

static int64_t fixed_now(void *ctx) { return *(int64_t *)ctx; }

#define CHECK_IN 1796000000LL /* 2026-11-30 */
#define CHECK_OUT (CHECK_IN + 3 * 86400)

typedef struct world {
    char dir[64];
    int64_t now;
    tes_clock clock;
    tes_hotel *hotel;
    tes_lock *lock101, *lock102;
} world;

static bool make_lock(world *w, const char *room, tes_lock **out, unsigned rate)
{
    char d[128];
    snprintf(d, sizeof d, "%s/lock%s", w->dir, room);
    tes_lock_init_params p = {.reader_key = tes_hotel_reader_key(w->hotel),
                              .issuer_key = tes_hotel_issuer_key(w->hotel),
                              .standard_per_minute = rate};
    snprintf(p.hotel, sizeof p.hotel, "%s", tes_hotel_name(w->hotel));
    snprintf(p.room, sizeof p.room, "%s", room);
    memcpy(p.group_id, tes_hotel_group_id(w->hotel), 16);
    p.instance_id[0] = (uint8_t)room[2];
    tes_lock_opts o = {.clock = &w->clock};
    return tes_lock_init(d, &p) == TES_OK && tes_lock_open(d, &o, out) == TES_OK;
}

static bool world_init(world *w, unsigned rate)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/tes_lock_XXXXXX");
    if (!mkdtemp(w->dir))
        return false;
    w->now = CHECK_IN + 3600;
    w->clock = (tes_clock){fixed_now, &w->now};
    char d[128];
    snprintf(d, sizeof d, "%s/hotel", w->dir);
    tes_hotel_opts o = {.clock = &w->clock};
    return tes_hotel_init(d, "Hotel Zur Post", &o) == TES_OK &&
           tes_hotel_open(d, &o, &w->hotel) == TES_OK && make_lock(w, "101", &w->lock101, rate) &&
           make_lock(w, "102", &w->lock102, rate);
}

static void world_free(world *w)
{
    tes_lock_close(w->lock101);
    tes_lock_close(w->lock102);
    tes_hotel_close(w->hotel);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", w->dir);
}

/* The phone of fixture f gets a key for `room` from the hotel, as the wallet would. */
static bool give_key(world *w, fx *f, const char *room, uint8_t key_id[16])
{
    tes_access_key_request q;
    memset(&q, 0, sizeof q);
    memcpy(q.endpoint_key, f->ring.ep.endpoint_key, TES_ACCESS_POINT_LEN);
    tes_buf req = {0}, pkg = {0};
    const char *rooms[1] = {room};
    tes_hotel_key_params kp = {.rooms = rooms, .n_rooms = 1, .not_before = CHECK_IN,
                               .not_after = CHECK_OUT, .guest = "A. Guest"};
    tes_access_key_package p;
    bool ok = tes_access_key_request_encode(&q, &req) == TES_OK &&
              tes_hotel_issue_key(w->hotel, tes_buf_bytes(&req), &kp, &pkg, key_id) == TES_OK &&
              tes_access_key_package_parse(tes_buf_bytes(&pkg), &p) == TES_OK;
    if (ok) {
        memcpy(f->ring.ep.group_id, p.group_id, 16);
        memcpy(f->ring.ep.reader_key, p.reader_key, TES_ACCESS_POINT_LEN);
        tes_buf_reset(&f->ring.docs);
        tes_buf_append(&f->ring.docs, p.document.ptr, p.document.len);
        tes_access_timestamp(w->now, f->ring.ep.issued_at);
        f->ring.ep.signaling = TES_ACCESS_SIG_ACCESS_DOC | TES_ACCESS_SIG_STEPUP_SELECT;
        f->ring.has_kp = false;
    }
    tes_buf_free(&req);
    tes_buf_free(&pkg);
    return ok;
}

static tes_err tap(tes_lock *l, fx *f, tes_lock_outcome *o)
{
    tes_access_device_reset(f->dev);
    f->link.count = 0;
    return tes_lock_transaction(l, fx_transmit, &f->link, o);
}

TEST(first_tap_step_up_then_fast_and_the_wrong_room)
{
    world w;
    fx f;
    REQUIRE(world_init(&w, 30));
    REQUIRE(fx_init(&f));
    uint8_t kid[16];
    REQUIRE(give_key(&w, &f, "101", kid));
    tes_lock_outcome o;
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(o.unlocked);
    CHECK_EQ_INT(o.flow, TES_ACCESS_FLOW_STEP_UP);
    CHECK(o.has_key_id && memcmp(o.key_id, kid, 16) == 0);
    uint16_t st = 0;
    CHECK(tes_access_device_verdict(f.dev, &st) && st == TES_ACCESS_STATUS_UNLOCKED);
    /* second tap: fast */
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(o.unlocked);
    CHECK_EQ_INT(o.flow, TES_ACCESS_FLOW_FAST);
    /* room 102 stays shut */
    CHECK_ERR(tap(w.lock102, &f, &o), TES_OK);
    CHECK(!o.unlocked);
    CHECK_ERR(o.reason, TES_ERR_ACCESS_DENIED);
    CHECK(tes_access_device_verdict(f.dev, &st) && st == TES_ACCESS_STATUS_NO_RIGHTS);
    /* and the refusal was not cached: 102 has no endpoint to try fast */
    tes_lock_endpoint ep;
    CHECK_ERR(tes_lock_store_endpoint_get(tes_lock_store_of(w.lock102), f.ring.ep.endpoint_key,
                                          &ep),
              TES_ERR_NOT_FOUND);
    /* the log says why */
    tes_buf log = {0};
    CHECK_ERR(tes_lock_store_log_list(tes_lock_store_of(w.lock102), 10, &log), TES_OK);
    tes_buf_append(&log, "", 1);
    CHECK(strstr((char *)log.ptr, "refused") && strstr((char *)log.ptr, "access_denied"));
    tes_buf_free(&log);
    fx_free(&f);
    world_free(&w);
}

TEST(before_check_in_and_after_check_out)
{
    world w;
    fx f;
    REQUIRE(world_init(&w, 30));
    REQUIRE(fx_init(&f));
    uint8_t kid[16];
    REQUIRE(give_key(&w, &f, "101", kid));
    tes_lock_outcome o;
    w.now = CHECK_IN - 60;
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(!o.unlocked);
    CHECK_ERR(o.reason, TES_ERR_ACCESS_EXPIRED);
    w.now = CHECK_IN + 60;
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(o.unlocked);
    /* after check-out even the fast path refuses: the cached grant is judged again */
    w.now = CHECK_OUT;
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(!o.unlocked);
    CHECK_EQ_INT(o.flow, TES_ACCESS_FLOW_FAST);
    CHECK_ERR(o.reason, TES_ERR_ACCESS_EXPIRED);
    uint16_t st = 0;
    CHECK(tes_access_device_verdict(f.dev, &st) && st == TES_ACCESS_STATUS_EXPIRED);
    /* the phone loses its persistent key: a full transaction, refused, and the lock keeps
     * the phone's new persistent key, so the next refusal is cheap again (fast) */
    f.ring.has_kp = false;
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(!o.unlocked && o.flow == TES_ACCESS_FLOW_STANDARD);
    CHECK_ERR(o.reason, TES_ERR_ACCESS_EXPIRED);
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(!o.unlocked && o.flow == TES_ACCESS_FLOW_FAST);
    fx_free(&f);
    world_free(&w);
}

TEST(revocation_learnt_from_another_phone)
{
    world w;
    fx guest, other;
    REQUIRE(world_init(&w, 30));
    REQUIRE(fx_init(&guest));
    REQUIRE(fx_init(&other));
    uint8_t kid[16], kid2[16];
    REQUIRE(give_key(&w, &guest, "101", kid));
    tes_lock_outcome o;
    CHECK_ERR(tap(w.lock101, &guest, &o), TES_OK);
    CHECK(o.unlocked);
    /* the phone is reported lost: the hotel revokes every key it issued to it */
    w.now += 60;
    size_t n_new = 0;
    tes_buf rev = {0};
    CHECK_ERR(tes_hotel_revoke(w.hotel, NULL, guest.ring.ep.endpoint_key, &n_new, &rev), TES_OK);
    CHECK_EQ_INT(n_new, 1);
    /* the lock has not heard of it yet: the lost phone still opens (offline lock) */
    CHECK_ERR(tap(w.lock101, &guest, &o), TES_OK);
    CHECK(o.unlocked);
    /* another guest's phone, checked in later, carries the revocation */
    w.now += 60;
    REQUIRE(give_key(&w, &other, "101", kid2));
    tes_buf_append(&other.ring.rev, rev.ptr, rev.len);
    tes_access_revocation *r = calloc(1, sizeof *r);
    const tes_key *iss[1] = {tes_hotel_issuer_key(w.hotel)};
    CHECK_ERR(tes_access_revocation_verify(tes_buf_bytes(&rev), iss, 1, r), TES_OK);
    tes_access_timestamp(r->version, other.ring.ep.revoked_at);
    free(r);
    other.ring.ep.signaling |= TES_ACCESS_SIG_REVOCATION_DOC;
    CHECK_ERR(tap(w.lock101, &other, &o), TES_OK);
    CHECK(o.unlocked);
    CHECK(o.learned_revocation);
    /* now the lost phone is refused, on whatever path */
    CHECK_ERR(tap(w.lock101, &guest, &o), TES_OK);
    CHECK(!o.unlocked);
    CHECK_ERR(o.reason, TES_ERR_ACCESS_REVOKED);
    uint16_t st = 0;
    CHECK(tes_access_device_verdict(guest.dev, &st) && st == TES_ACCESS_STATUS_NOT_TRUSTED);
    /* an older revocation document from maintenance is refused */
    CHECK_ERR(tes_lock_apply_revocation(w.lock101, tes_buf_bytes(&rev)), TES_ERR_ACCESS_ROLLBACK);
    tes_buf_free(&rev);
    fx_free(&guest);
    fx_free(&other);
    world_free(&w);
}

TEST(foreign_hotel_key_is_refused)
{
    world w, foreign;
    fx f;
    REQUIRE(world_init(&w, 30));
    REQUIRE(world_init(&foreign, 30));
    REQUIRE(fx_init(&f));
    uint8_t kid[16];
    REQUIRE(give_key(&foreign, &f, "101", kid)); /* room 101 of another hotel */
    tes_lock_outcome o;
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(!o.unlocked);
    CHECK_ERR(o.reason, TES_ERR_ACCESS_READER); /* the phone has no key for this group */
    CHECK(!f.ring.has_kp);
    fx_free(&f);
    world_free(&foreign);
    world_free(&w);
}

TEST(document_of_another_phone_is_refused)
{
    world w;
    fx f, thief;
    REQUIRE(world_init(&w, 30));
    REQUIRE(fx_init(&f));
    REQUIRE(fx_init(&thief));
    uint8_t kid[16];
    REQUIRE(give_key(&w, &f, "101", kid));
    /* the thief copies the guest's document (and group, reader key) into its own phone */
    thief.ring.ep = f.ring.ep;
    memcpy(thief.ring.ep.se_key_id, "", 1);
    {
        tes_key *pub = NULL;
        tes_se_key_opts ko = {0};
        REQUIRE(tes_se_create_key(thief.se, &ko, thief.ring.ep.se_key_id) == TES_OK);
        REQUIRE(tes_se_public_key(thief.se, thief.ring.ep.se_key_id, &pub) == TES_OK);
        fx_point(pub, thief.ring.ep.endpoint_key);
        tes_key_free(pub);
    }
    tes_buf_append(&thief.ring.docs, f.ring.docs.ptr, f.ring.docs.len);
    tes_lock_outcome o;
    CHECK_ERR(tap(w.lock101, &thief, &o), TES_OK);
    CHECK(!o.unlocked);
    CHECK_ERR(o.reason, TES_ERR_ACCESS_ENDPOINT);
    fx_free(&f);
    fx_free(&thief);
    world_free(&w);
}

TEST(forced_slow_path_is_rate_limited)
{
    world w;
    fx f;
    REQUIRE(world_init(&w, 2));
    REQUIRE(fx_init(&f));
    uint8_t kid[16];
    REQUIRE(give_key(&w, &f, "101", kid));
    tes_lock_outcome o;
    for (int i = 0; i < 2; i++) {
        f.ring.has_kp = false; /* the phone pretends to have no persistent key */
        CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
        CHECK(o.unlocked);
        CHECK(o.flow != TES_ACCESS_FLOW_FAST);
    }
    f.ring.has_kp = false;
    int auth1_before = f.link.count;
    (void)auth1_before;
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(!o.unlocked);
    CHECK_ERR(o.reason, TES_ERR_ACCESS_RATE);
    CHECK_EQ_INT(f.link.count, 3); /* SELECT, AUTH0, CONTROL FLOW: no AUTH1 signed */
    /* the fast path is not limited, and the next minute the budget is back */
    w.now += 61;
    CHECK_ERR(tap(w.lock101, &f, &o), TES_OK);
    CHECK(o.unlocked);
    fx_free(&f);
    world_free(&w);
}

TEST(lock_and_hotel_directories)
{
    world w;
    REQUIRE(world_init(&w, 30));
    char d[160];
    snprintf(d, sizeof d, "%s/lock101/reader_key.pem", w.dir);
    struct stat st;
    CHECK(stat(d, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(d, sizeof d, "%s/hotel/issuer_key.pem", w.dir);
    CHECK(stat(d, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* a second init over an existing lock or hotel is refused */
    tes_lock_init_params p = {.reader_key = tes_hotel_reader_key(w.hotel),
                              .issuer_key = tes_hotel_issuer_key(w.hotel),
                              .room = "101"};
    snprintf(d, sizeof d, "%s/lock101", w.dir);
    CHECK_ERR(tes_lock_init(d, &p), TES_ERR_EXISTS);
    snprintf(d, sizeof d, "%s/hotel", w.dir);
    CHECK_ERR(tes_hotel_init(d, "Again", NULL), TES_ERR_EXISTS);
    /* a broken lock.json is a configuration error */
    snprintf(d, sizeof d, "%s/lock101/lock.json", w.dir);
    CHECK_ERR(tes_file_write(d, TES_BYTES("{\"version\": 1}", 14), 0644), TES_OK);
    tes_lock *l = NULL;
    snprintf(d, sizeof d, "%s/lock101", w.dir);
    CHECK_ERR(tes_lock_open(d, NULL, &l), TES_ERR_LOCK_CONFIG);
    /* revoking a key the hotel never issued */
    uint8_t nokey[16] = {1};
    size_t n;
    CHECK_ERR(tes_hotel_revoke(w.hotel, nokey, NULL, &n, NULL), TES_ERR_NOT_FOUND);
    world_free(&w);
}
