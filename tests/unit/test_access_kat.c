/*
 * The Aliro key schedule and secure channel against known answers computed independently
 * of Tessera's code: tests/vectors/aliro/kat.json, made by tests/interop/aliro/kat.py with
 * Python's `cryptography` from the public descriptions (its README says which). Both
 * directions, the standard and the fast flow, the AUTH1 signature inputs, signatures made by
 * Python verified here, the cryptogram, the step-up channel, and the phone's answers to the
 * same commands byte for byte where they are deterministic (SELECT).
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"

#include <jansson.h>

#include "access/access_internal.h"
#include "tessera/access.h"
#include "vectors.h"

static json_t *kat;

static bool load(void)
{
    if (kat)
        return true;
    char path[1024];
    snprintf(path, sizeof path, "%s/aliro/kat.json", tes_test_vectors_dir());
    kat = json_load_file(path, 0, NULL);
    if (!kat)
        fprintf(stderr, "    cannot load %s\n", path);
    return kat != NULL;
}

/* The hex value at "inputs/NAME" or "outputs/NAME", decoded. */
static tes_buf hexv(const char *section, const char *name)
{
    tes_buf b = {0};
    const char *s = json_string_value(json_object_get(json_object_get(kat, section), name));
    if (!s || tes_hex_decode(&b, s, strlen(s)) != TES_OK) {
        fprintf(stderr, "    kat.json: no %s/%s\n", section, name);
        b.failed = true;
    }
    return b;
}

static tes_key *key_of(const char *name)
{
    tes_buf d = hexv("inputs", name);
    tes_key *k = NULL;
    if (tes_key_from_ec_private(TES_CURVE_P256, tes_buf_bytes(&d), &k) != TES_OK)
        k = NULL;
    tes_buf_free(&d);
    return k;
}

static void x_of(const tes_key *k, uint8_t x[32])
{
    uint8_t xx[TES_MAX_COORD], yy[TES_MAX_COORD];
    if (tes_key_public_raw(k, xx, yy) == TES_OK)
        memcpy(x, xx, 32);
}

static uint8_t byte_of(const char *name)
{
    tes_buf b = hexv("inputs", name);
    uint8_t v = b.len ? b.ptr[0] : 0xFF;
    tes_buf_free(&b);
    return v;
}

/* The context of the standard (fast = false) or the fast transaction of the vectors. */
static bool context(tes_access_context *c, bool fast)
{
    memset(c, 0, sizeof *c);
    tes_key *rk = key_of("reader_key_d");
    tes_key *re = key_of(fast ? "fast_reader_eph_d" : "reader_eph_d");
    tes_key *de = key_of(fast ? "fast_device_eph_d" : "device_eph_d");
    tes_buf rid = hexv("inputs", "reader_id"), tx = hexv("inputs", fast ? "fast_tx_id" : "tx_id"),
            fci = hexv("inputs", "fci_a5"), ver = hexv("inputs", "version");
    bool ok = rk && re && de && rid.len == 32 && tx.len == 16 && fci.len <= TES_ACCESS_FCI_MAX &&
              ver.len == 2;
    if (ok) {
        x_of(rk, c->reader_key_x);
        x_of(re, c->reader_eph_x);
        x_of(de, c->device_eph_x);
        memcpy(c->reader_id, rid.ptr, 32);
        memcpy(c->tx_id, tx.ptr, 16);
        memcpy(c->fci, fci.ptr, fci.len);
        c->fci_len = fci.len;
        c->version = (uint16_t)(ver.ptr[0] << 8 | ver.ptr[1]);
        c->interface = byte_of("interface");
        c->flags = byte_of(fast ? "fast_flags" : "flags");
        c->policy = byte_of(fast ? "fast_policy" : "policy");
    }
    tes_key_free(rk);
    tes_key_free(re);
    tes_key_free(de);
    tes_buf_free(&rid);
    tes_buf_free(&tx);
    tes_buf_free(&fci);
    tes_buf_free(&ver);
    return ok;
}

#define CHECK_OUT(NAME_, P_, N_)                                                                   \
    do {                                                                                           \
        tes_buf want_ = hexv("outputs", NAME_);                                                    \
        CHECK_EQ_INT(want_.len, (N_));                                                             \
        if (want_.len == (N_))                                                                     \
            CHECK_EQ_MEM((P_), want_.ptr, (N_));                                                   \
        tes_buf_free(&want_);                                                                      \
    } while (0)

TEST(x963_kdf_and_standard_keys)
{
    REQUIRE(load());
    tes_access_context c;
    REQUIRE(context(&c, false));
    tes_key *re = key_of("reader_eph_d"), *de = key_of("device_eph_d");
    REQUIRE(re && de);
    uint8_t z[TES_MAX_COORD];
    size_t zl = 0;
    CHECK_ERR(tes_key_ecdh(re, de, z, &zl), TES_OK);
    CHECK_OUT("ecdh_z", z, 32);
    tes_access_keys k;
    uint8_t kdh[32];
    CHECK_ERR(tes_access_derive_standard(&c, z, &k, kdh), TES_OK);
    CHECK_OUT("kdh", kdh, 32);
    CHECK_OUT("standard_exchange_reader", k.exchange_reader, 32);
    CHECK_OUT("standard_exchange_device", k.exchange_device, 32);
    CHECK_OUT("standard_uwb_ranging", k.uwb_ranging, 32);
    CHECK_OUT("standard_stepup_reader", k.stepup_reader, 32);
    CHECK_OUT("standard_stepup_device", k.stepup_device, 32);
    CHECK_OUT("standard_ble_reader", k.ble_reader, 32);
    CHECK_OUT("standard_ble_device", k.ble_device, 32);
    tes_key *ek = key_of("endpoint_key_d");
    REQUIRE(ek);
    uint8_t ex[32], kp[32];
    x_of(ek, ex);
    CHECK_ERR(tes_access_derive_persistent(&c, kdh, ex, kp), TES_OK);
    CHECK_OUT("persistent_key", kp, 32);
    /* the flags byte is part of the salt: flags 00 gives the vectors' other OKM */
    c.flags = 0x00;
    tes_access_keys k0;
    CHECK_ERR(tes_access_derive_standard(&c, z, &k0, kdh), TES_OK);
    tes_buf okm0 = hexv("outputs", "standard_flags00_okm");
    REQUIRE(okm0.len >= 64);
    CHECK_EQ_MEM(k0.exchange_reader, okm0.ptr, 32);
    CHECK_EQ_MEM(k0.exchange_device, okm0.ptr + 32, 32);
    tes_buf_free(&okm0);
    tes_key_free(re);
    tes_key_free(de);
    tes_key_free(ek);
}

TEST(auth1_inputs_and_signatures_of_the_other_implementation)
{
    REQUIRE(load());
    tes_access_context c;
    REQUIRE(context(&c, false));
    uint8_t in_r[TES_ACCESS_AUTH_INPUT_LEN], in_d[TES_ACCESS_AUTH_INPUT_LEN];
    tes_access_auth_input(&c, false, in_r);
    tes_access_auth_input(&c, true, in_d);
    CHECK_OUT("auth1_reader_input", in_r, sizeof in_r);
    CHECK_OUT("auth1_device_input", in_d, sizeof in_d);
    tes_key *rk = key_of("reader_key_d"), *ek = key_of("endpoint_key_d");
    REQUIRE(rk && ek);
    tes_buf rs = hexv("outputs", "auth1_reader_signature"),
            ds = hexv("outputs", "auth1_device_signature");
    CHECK_ERR(tes_key_verify(rk, TES_HASH_SHA256, TES_BYTES(in_r, sizeof in_r), tes_buf_bytes(&rs)),
              TES_OK);
    CHECK_ERR(tes_key_verify(ek, TES_HASH_SHA256, TES_BYTES(in_d, sizeof in_d), tes_buf_bytes(&ds)),
              TES_OK);
    /* and not crosswise: the usage constant separates the two */
    CHECK_ERR(tes_key_verify(rk, TES_HASH_SHA256, TES_BYTES(in_d, sizeof in_d), tes_buf_bytes(&rs)),
              TES_ERR_SIGNATURE);
    tes_buf_free(&rs);
    tes_buf_free(&ds);
    tes_key_free(rk);
    tes_key_free(ek);
}

/* The device's messages on a channel: msg_device_1, _2; on the standard exchange channel
 * the AUTH1 answer comes first (device counter 1), then msg_device_1. */
static void channel_case(const uint8_t sk_r[32], const uint8_t sk_d[32], const char *prefix,
                         bool auth1_first)
{
    char name[64];
    tes_access_channel reader, device;
    tes_access_channel_init(&reader, sk_r, sk_d);
    tes_access_channel_init(&device, sk_r, sk_d);
    for (int i = 1; i <= 2; i++) {
        char in[32];
        snprintf(in, sizeof in, "msg_reader_%d", i);
        tes_buf m = hexv("inputs", in), sealed = {0}, opened = {0};
        CHECK_ERR(tes_access_channel_seal(&reader, true, tes_buf_bytes(&m), &sealed), TES_OK);
        snprintf(name, sizeof name, "%s_reader_ctr%d", prefix, i);
        CHECK_OUT(name, sealed.ptr, sealed.len);
        CHECK_ERR(tes_access_channel_open(&device, true, tes_buf_bytes(&sealed), &opened), TES_OK);
        CHECK(tes_bytes_eq(tes_buf_bytes(&opened), tes_buf_bytes(&m)));
        tes_buf_free(&m);
        tes_buf_free(&sealed);
        tes_buf_free(&opened);
    }
    for (int i = 1; i <= 2; i++) {
        char in[32];
        snprintf(in, sizeof in, "msg_device_%d", auth1_first ? i - 1 : i);
        tes_buf m = i == 1 && auth1_first ? hexv("outputs", "auth1_response_plain")
                                          : hexv("inputs", in),
                sealed = {0};
        CHECK_ERR(tes_access_channel_seal(&device, false, tes_buf_bytes(&m), &sealed), TES_OK);
        snprintf(name, sizeof name, "%s_device_ctr%d", prefix, i);
        CHECK_OUT(name, sealed.ptr, sealed.len);
        tes_buf_free(&m);
        tes_buf_free(&sealed);
    }
}

TEST(secure_channel_both_directions_standard_and_step_up)
{
    REQUIRE(load());
    tes_access_context c;
    REQUIRE(context(&c, false));
    tes_key *re = key_of("reader_eph_d"), *de = key_of("device_eph_d");
    REQUIRE(re && de);
    uint8_t z[TES_MAX_COORD], kdh[32];
    size_t zl;
    tes_access_keys k;
    REQUIRE(tes_key_ecdh(re, de, z, &zl) == TES_OK);
    REQUIRE(tes_access_derive_standard(&c, z, &k, kdh) == TES_OK);
    channel_case(k.exchange_reader, k.exchange_device, "exchange", true);
    channel_case(k.stepup_reader, k.stepup_device, "stepup", false);
    tes_key_free(re);
    tes_key_free(de);
}

TEST(fast_keys_and_cryptogram)
{
    REQUIRE(load());
    tes_access_context c;
    REQUIRE(context(&c, true));
    tes_buf kp = hexv("outputs", "persistent_key");
    tes_key *ek = key_of("endpoint_key_d");
    REQUIRE(kp.len == 32 && ek);
    uint8_t ex[32];
    x_of(ek, ex);
    tes_access_keys k;
    CHECK_ERR(tes_access_derive_fast(&c, kp.ptr, ex, &k), TES_OK);
    CHECK_OUT("fast_cryptogram_key", k.cryptogram, 32);
    CHECK_OUT("fast_exchange_reader", k.exchange_reader, 32);
    CHECK_OUT("fast_exchange_device", k.exchange_device, 32);
    CHECK_OUT("fast_uwb_ranging", k.uwb_ranging, 32);
    CHECK_OUT("fast_ble_reader", k.ble_reader, 32);
    CHECK_OUT("fast_ble_device", k.ble_device, 32);
    static const uint8_t zero_iv[12];
    tes_buf plain = hexv("inputs", "cryptogram_plain"), cg = {0};
    CHECK_ERR(tes_aes256gcm_encrypt(k.cryptogram, zero_iv, TES_BYTES(NULL, 0), tes_buf_bytes(&plain),
                                    &cg),
              TES_OK);
    CHECK_OUT("cryptogram", cg.ptr, cg.len);
    channel_case(k.exchange_reader, k.exchange_device, "fast_exchange", false);
    tes_buf_free(&plain);
    tes_buf_free(&cg);
    tes_buf_free(&kp);
    tes_key_free(ek);
}

TEST(the_phone_answers_select_as_the_vectors_say)
{
    REQUIRE(load());
    tes_buf fci = {0};
    tes_access_fci(tes_access_aid_primary, &fci);
    tes_buf want = hexv("outputs", "select_response");
    REQUIRE(want.len > 2);
    CHECK_EQ_INT(fci.len, want.len - 2); /* the vector ends with 90 00 */
    if (fci.len == want.len - 2)
        CHECK_EQ_MEM(fci.ptr, want.ptr, fci.len);
    tes_buf_free(&fci);
    tes_buf_free(&want);
}

TEST(tlv_cases_of_the_other_implementation)
{
    REQUIRE(load());
    json_t *cases = json_object_get(kat, "tlv");
    REQUIRE(json_is_array(cases));
    size_t i;
    json_t *tc;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        const char *in = json_string_value(json_object_get(tc, "input"));
        json_t *objs = json_object_get(tc, "objects");
        tes_buf b = {0};
        REQUIRE(in && tes_hex_decode(&b, in, strlen(in)) == TES_OK);
        tes_tlv t[16];
        size_t n = 0;
        tes_err err = tes_tlv_parse(tes_buf_bytes(&b), t, 16, &n);
        if (json_is_array(objs)) {
            if (err != TES_OK)
                fprintf(stderr, "    tlv case \"%s\" refused: %s\n", name, tes_err_message());
            CHECK_ERR(err, TES_OK);
            CHECK_EQ_INT(n, json_array_size(objs));
        } else {
            if (err == TES_OK)
                fprintf(stderr, "    tlv case \"%s\" accepted\n", name);
            CHECK_ERR(err, TES_ERR_TLV);
        }
        tes_buf_free(&b);
    }
}

TEARDOWN(free_kat) { json_decref(kat); }
