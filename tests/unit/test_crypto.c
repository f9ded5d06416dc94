/*
 * Unit tests of the crypto adapter (tessera/crypto.h): known-answer tests, the
 * ISO 18013-5 Annex D worked example (ECDH, session keys, session encryption,
 * device MAC, issuer and reader signatures, certificates), round trips on every
 * curve, certificate creation, and rejection of bad input.
 *
 * Vectors come from tests/vectors/ (or $TES_VECTORS), through vectors.h.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"
#include "vectors.h"

#include <stdlib.h>
#include <string.h>

#include "fixed_env.h"
#include "tessera/crypto.h"

/* ---------------------------------------------------------------- helpers */

/* Reads <vectors>/iso18013-5-annexD/<name>.hex into out (hex-decoded). */
static tes_err load_vec(const char *name, tes_buf *out)
{
    return tes_test_annexd(name, out);
}

/* Decodes a hex literal into out. */
static tes_buf hex(const char *s)
{
    tes_buf b = {0};
    if (tes_hex_decode(&b, s, strlen(s)) != TES_OK)
        fprintf(stderr, "    bad hex literal in test\n");
    return b;
}

static bool contains_bytes(tes_bytes hay, tes_bytes needle)
{
    return needle.len > 0 && memmem(hay.ptr, hay.len, needle.ptr, needle.len) != NULL;
}

/* The last n bytes of b, provided they are preceded by the CBOR bstr header hdr. */
static bool cbor_tail_bstr(tes_bytes b, const uint8_t *hdr, size_t hdr_len, size_t n,
                           tes_bytes *out)
{
    if (b.len < n + hdr_len || memcmp(b.ptr + b.len - n - hdr_len, hdr, hdr_len) != 0)
        return false;
    *out = TES_BYTES(b.ptr + b.len - n, n);
    return true;
}

/* COSE Sig_structure ["Signature1", h'a10126', h'', payload] (payload < 65536 bytes). */
static void sig_structure(tes_buf *out, tes_bytes payload)
{
    static const uint8_t head[] = {0x84, 0x6a, 'S', 'i',  'g',  'n',  'a',  't', 'u',
                                   'r',  'e',  '1', 0x43, 0xa1, 0x01, 0x26, 0x40};
    tes_buf_append(out, head, sizeof head);
    uint8_t len_hdr[3] = {0x59, (uint8_t)(payload.len >> 8), (uint8_t)payload.len};
    tes_buf_append(out, len_hdr, sizeof len_hdr);
    tes_buf_append(out, payload.ptr, payload.len);
}

static tes_key *key_from_vectors(const char *prefix, bool priv)
{
    char nx[64], ny[64], nd[64];
    snprintf(nx, sizeof nx, "%s_x", prefix);
    snprintf(ny, sizeof ny, "%s_y", prefix);
    snprintf(nd, sizeof nd, "%s_d", prefix);
    tes_buf x = {0}, y = {0}, d = {.secret = true};
    tes_key *k = NULL;
    if (priv) {
        if (load_vec(nd, &d) == TES_OK &&
            tes_key_from_ec_private(TES_CURVE_P256, tes_buf_bytes(&d), &k) != TES_OK)
            k = NULL;
    } else if (load_vec(nx, &x) == TES_OK && load_vec(ny, &y) == TES_OK) {
        if (tes_key_from_ec_point(TES_CURVE_P256, tes_buf_bytes(&x), tes_buf_bytes(&y), &k) !=
            TES_OK)
            k = NULL;
    }
    tes_buf_free(&x);
    tes_buf_free(&y);
    tes_buf_free(&d);
    return k;
}

static tes_cert *cert_from_vectors(const char *name)
{
    tes_buf der = {0};
    tes_cert *c = NULL;
    if (load_vec(name, &der) == TES_OK && tes_cert_parse(tes_buf_bytes(&der), &c) != TES_OK) {
        fprintf(stderr, "    %s: %s\n", name, tes_err_message());
        c = NULL;
    }
    tes_buf_free(&der);
    return c;
}

/* SHA-256 of SessionTranscriptBytes (tag-24 wrapped), the HKDF salt of 18013-5 9.1.1.5. */
static bool transcript_salt(uint8_t salt[32])
{
    tes_buf st = {0};
    bool ok = load_vec("session_transcript_bytes", &st) == TES_OK &&
              tes_digest(TES_HASH_SHA256, tes_buf_bytes(&st), salt) == TES_OK;
    tes_buf_free(&st);
    return ok;
}

/* ---------------------------------------------------------------- known answers */

TEST(digest_known_answers)
{
    static const struct {
        tes_hash h;
        const char *want;
    } cases[] = {
        {TES_HASH_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {TES_HASH_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                          "8086072ba1e7cc2358baeca134c825a7"},
        {TES_HASH_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                          "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[TES_MAX_DIGEST];
        tes_buf want = hex(cases[i].want);
        CHECK_EQ_INT(tes_hash_size(cases[i].h), want.len);
        CHECK_ERR(tes_digest(cases[i].h, TES_BYTES_STR("abc"), out), TES_OK);
        CHECK_EQ_MEM(out, want.ptr, want.len);
        tes_buf_free(&want);
    }
    uint8_t out[32];
    CHECK_EQ_INT(tes_hash_size(TES_HASH_NONE), 0);
    CHECK_ERR(tes_digest(TES_HASH_NONE, TES_BYTES_STR("abc"), out), TES_ERR_ARG);
    /* empty input */
    tes_buf want = hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_ERR(tes_digest(TES_HASH_SHA256, TES_BYTES(NULL, 0), out), TES_OK);
    CHECK_EQ_MEM(out, want.ptr, 32);
    tes_buf_free(&want);
}

TEST(hmac_rfc4231_case2)
{
    uint8_t out[32];
    tes_buf want = hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK_ERR(
        tes_hmac_sha256(TES_BYTES_STR("Jefe"), TES_BYTES_STR("what do ya want for nothing?"), out),
        TES_OK);
    CHECK_EQ_MEM(out, want.ptr, 32);
    tes_buf_free(&want);
}

TEST(hkdf_rfc5869_case1)
{
    tes_buf ikm = hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
    tes_buf salt = hex("000102030405060708090a0b0c");
    tes_buf info = hex("f0f1f2f3f4f5f6f7f8f9");
    tes_buf okm = hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                      "34007208d5b887185865");
    uint8_t out[42];
    CHECK_ERR(tes_hkdf_sha256(tes_buf_bytes(&ikm), tes_buf_bytes(&salt), tes_buf_bytes(&info), out,
                              sizeof out),
              TES_OK);
    CHECK_EQ_MEM(out, okm.ptr, 42);
    /* RFC 5869 test case 3: no salt, no info. */
    tes_buf okm3 = hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                       "9d201395faa4b61a96c8");
    CHECK_ERR(tes_hkdf_sha256(tes_buf_bytes(&ikm), TES_BYTES(NULL, 0), TES_BYTES(NULL, 0), out,
                              sizeof out),
              TES_OK);
    CHECK_EQ_MEM(out, okm3.ptr, 42);
    CHECK_ERR(tes_hkdf_sha256(tes_buf_bytes(&ikm), TES_BYTES(NULL, 0), TES_BYTES(NULL, 0), out,
                              255 * 32 + 1),
              TES_ERR_ARG);
    tes_buf_free(&ikm);
    tes_buf_free(&salt);
    tes_buf_free(&info);
    tes_buf_free(&okm);
    tes_buf_free(&okm3);
}

TEST(random_bytes)
{
    uint8_t a[32] = {0}, b[32] = {0};
    CHECK_ERR(tes_rng_fill(NULL, a, sizeof a), TES_OK);
    CHECK_ERR(tes_rng_fill(NULL, b, sizeof b), TES_OK);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK_ERR(tes_rng_fill(NULL, NULL, 0), TES_OK);
    CHECK_ERR(tes_rng_fill(NULL, NULL, 1), TES_ERR_ARG);
}

/* The 16-octet serial of a certificate Tessera made (version 3, then INTEGER of 16). */
static const uint8_t *serial_of(const tes_cert *c)
{
    static const uint8_t head[] = {0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x10};
    tes_bytes d = tes_cert_der(c);
    for (size_t i = 0; i + sizeof head + 16 <= d.len; i++)
        if (memcmp(d.ptr + i, head, sizeof head) == 0)
            return d.ptr + i + sizeof head;
    return NULL;
}

/* A certificate's serial is drawn from the template's rng: the same seed
 * gives the same serial, a failing source no certificate. */
TEST(cert_serial_from_the_callers_rng)
{
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    tes_cert *c[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        uint64_t seed = 11;
        tes_rng rng = seeded_rng(&seed);
        tes_cert_template t = {.common_name = "serial",
                               .not_before = 1700000000,
                               .not_after = 1800000000,
                               .path_len = -1,
                               .rng = &rng};
        CHECK_ERR(tes_cert_create(&t, k, NULL, k, &c[i]), TES_OK);
    }
    const uint8_t *s0 = c[0] ? serial_of(c[0]) : NULL, *s1 = c[1] ? serial_of(c[1]) : NULL;
    CHECK(s0 != NULL && s1 != NULL && memcmp(s0, s1, 16) == 0);
    int calls = 0;
    tes_rng bad = failing_rng(&calls);
    tes_cert_template t = {.common_name = "serial",
                           .not_before = 1700000000,
                           .not_after = 1800000000,
                           .path_len = -1,
                           .rng = &bad};
    tes_cert *none = NULL;
    CHECK_ERR(tes_cert_create(&t, k, NULL, k, &none), TES_ERR_RANDOM);
    CHECK(none == NULL && calls == 1);
    tes_cert_free(c[0]);
    tes_cert_free(c[1]);
    tes_key_free(k);
}

/* ---------------------------------------------------------------- Annex D: session */

TEST(annex_d_ecdh)
{
    tes_key *edev = key_from_vectors("edevice_key", true);
    tes_key *edev_pub = key_from_vectors("edevice_key", false);
    tes_key *erdr = key_from_vectors("ereader_key", false);
    tes_key *erdr_priv = key_from_vectors("ereader_key", true);
    tes_buf want = {0};
    REQUIRE(edev && edev_pub && erdr && erdr_priv);
    REQUIRE(load_vec("derived_ecdh_shared_secret_edevice_ereader", &want) == TES_OK);

    CHECK(tes_key_has_private(edev));
    CHECK(!tes_key_has_private(erdr));
    CHECK_EQ_INT(tes_key_curve(edev), TES_CURVE_P256);
    /* d*G from the private scalar equals the published public key */
    CHECK(tes_key_equal_public(edev, edev_pub));
    CHECK(!tes_key_equal_public(edev, erdr));

    uint8_t z[TES_MAX_COORD], z2[TES_MAX_COORD];
    size_t zlen = 0, z2len = 0;
    CHECK_ERR(tes_key_ecdh(edev, erdr, z, &zlen), TES_OK);
    CHECK_EQ_INT(zlen, 32);
    CHECK_EQ_INT(want.len, 32);
    CHECK_EQ_MEM(z, want.ptr, 32);
    /* and the reader side gets the same secret */
    CHECK_ERR(tes_key_ecdh(erdr_priv, edev_pub, z2, &z2len), TES_OK);
    CHECK_EQ_MEM(z2, want.ptr, 32);
    /* a public key cannot be the private side */
    CHECK_ERR(tes_key_ecdh(erdr, edev, z, &zlen), TES_ERR_ARG);

    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    tes_buf vx = {0};
    CHECK_ERR(tes_key_public_raw(edev, x, y), TES_OK);
    CHECK(load_vec("edevice_key_x", &vx) == TES_OK && vx.len == 32);
    if (vx.len == 32)
        CHECK_EQ_MEM(x, vx.ptr, 32);
    tes_buf_free(&vx);
    tes_buf_free(&want);
    tes_key_free(edev);
    tes_key_free(edev_pub);
    tes_key_free(erdr);
    tes_key_free(erdr_priv);
}

TEST(annex_d_session_keys_and_encryption)
{
    tes_key *edev = key_from_vectors("edevice_key", true);
    tes_key *erdr = key_from_vectors("ereader_key", false);
    REQUIRE(edev && erdr);
    uint8_t salt[32], z[TES_MAX_COORD], sk_reader[32], sk_device[32];
    size_t zlen = 0;
    REQUIRE(transcript_salt(salt));
    REQUIRE(tes_key_ecdh(edev, erdr, z, &zlen) == TES_OK);
    CHECK_ERR(tes_hkdf_sha256(TES_BYTES(z, zlen), TES_BYTES(salt, 32), TES_BYTES_STR("SKReader"),
                              sk_reader, 32),
              TES_OK);
    CHECK_ERR(tes_hkdf_sha256(TES_BYTES(z, zlen), TES_BYTES(salt, 32), TES_BYTES_STR("SKDevice"),
                              sk_device, 32),
              TES_OK);
    tes_buf want_r = {0}, want_d = {0};
    REQUIRE(load_vec("derived_sk_reader", &want_r) == TES_OK && want_r.len == 32);
    REQUIRE(load_vec("derived_sk_device", &want_d) == TES_OK && want_d.len == 32);
    CHECK_EQ_MEM(sk_reader, want_r.ptr, 32);
    CHECK_EQ_MEM(sk_device, want_d.ptr, 32);

    /* Reader -> mdoc: SessionEstablishment.data decrypts to the DeviceRequest. */
    tes_buf est = {0}, req = {0}, plain = {0};
    static const uint8_t est_hdr[] = {0x64, 'd', 'a', 't', 'a', 0x59, 0x02, 0xdf};
    tes_bytes ct;
    REQUIRE(load_vec("session_establishment", &est) == TES_OK);
    REQUIRE(load_vec("device_request", &req) == TES_OK);
    REQUIRE(cbor_tail_bstr(tes_buf_bytes(&est), est_hdr, sizeof est_hdr, 735, &ct));
    uint8_t iv[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK_ERR(tes_aes256gcm_decrypt(sk_reader, iv, TES_BYTES(NULL, 0), ct, &plain), TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&plain), tes_buf_bytes(&req)));
    /* and encrypting the request again gives the same ciphertext */
    tes_buf again = {0};
    CHECK_ERR(tes_aes256gcm_encrypt(sk_reader, iv, TES_BYTES(NULL, 0), tes_buf_bytes(&req), &again),
              TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&again), ct));
    /* the wrong key (SKDevice) does not authenticate, and nothing is released */
    tes_buf_reset(&plain);
    CHECK_ERR(tes_aes256gcm_decrypt(sk_device, iv, TES_BYTES(NULL, 0), ct, &plain),
              TES_ERR_SIGNATURE);
    CHECK_EQ_INT(plain.len, 0);

    /* mdoc -> reader: SessionData.data decrypts to the DeviceResponse. */
    tes_buf sd = {0}, resp = {0}, plain2 = {0};
    static const uint8_t sd_hdr[] = {0x64, 'd', 'a', 't', 'a', 0x59, 0x0d, 0xfa};
    REQUIRE(load_vec("session_data", &sd) == TES_OK);
    REQUIRE(load_vec("device_response", &resp) == TES_OK);
    REQUIRE(cbor_tail_bstr(tes_buf_bytes(&sd), sd_hdr, sizeof sd_hdr, 3578, &ct));
    uint8_t iv2[12] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK_ERR(tes_aes256gcm_decrypt(sk_device, iv2, TES_BYTES(NULL, 0), ct, &plain2), TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&plain2), tes_buf_bytes(&resp)));

    tes_buf_free(&sd);
    tes_buf_free(&resp);
    tes_buf_free(&plain2);
    tes_buf_free(&est);
    tes_buf_free(&req);
    tes_buf_free(&plain);
    tes_buf_free(&again);
    tes_buf_free(&want_r);
    tes_buf_free(&want_d);
    tes_key_free(edev);
    tes_key_free(erdr);
}

TEST(annex_d_device_mac)
{
    tes_key *sdev = key_from_vectors("sdevice_key", true);
    tes_key *erdr = key_from_vectors("ereader_key", false);
    REQUIRE(sdev && erdr);
    uint8_t salt[32], z[TES_MAX_COORD], emac[32], tag[32];
    size_t zlen = 0;
    REQUIRE(transcript_salt(salt));
    CHECK_ERR(tes_key_ecdh(sdev, erdr, z, &zlen), TES_OK);
    CHECK_ERR(tes_hkdf_sha256(TES_BYTES(z, zlen), TES_BYTES(salt, 32), TES_BYTES_STR("EMacKey"),
                              emac, 32),
              TES_OK);
    tes_buf want = {0}, mac_structure = {0}, resp = {0};
    REQUIRE(load_vec("derived_emac_key", &want) == TES_OK && want.len == 32);
    CHECK_EQ_MEM(emac, want.ptr, 32);
    REQUIRE(load_vec("derived_mac_structure", &mac_structure) == TES_OK);
    REQUIRE(load_vec("device_response", &resp) == TES_OK);
    CHECK_ERR(tes_hmac_sha256(TES_BYTES(emac, 32), tes_buf_bytes(&mac_structure), tag), TES_OK);
    /* README: the tag starts e99521a8 and is the deviceMac tag (bstr of 32) in the response */
    CHECK(tag[0] == 0xe9 && tag[1] == 0x95 && tag[2] == 0x21 && tag[3] == 0xa8);
    uint8_t tagged[34] = {0x58, 0x20};
    memcpy(tagged + 2, tag, 32);
    CHECK(contains_bytes(tes_buf_bytes(&resp), TES_BYTES(tagged, 34)));
    /* a different key gives a tag that is not there */
    emac[0] ^= 1;
    CHECK_ERR(tes_hmac_sha256(TES_BYTES(emac, 32), tes_buf_bytes(&mac_structure), tag), TES_OK);
    CHECK(!contains_bytes(tes_buf_bytes(&resp), TES_BYTES(tag, 32)));
    tes_buf_free(&want);
    tes_buf_free(&mac_structure);
    tes_buf_free(&resp);
    tes_key_free(sdev);
    tes_key_free(erdr);
}

/* The one 18013-5 key derivation (crypto.h): SKReader, SKDevice and EMacKey of Annex D from
 * the shared secrets and SessionTranscriptBytes, and what it refuses. */
TEST(annex_d_iso18013_derive_key)
{
    tes_buf z = {0}, stb = {0}, plain = {0}, want_r = {0}, want_d = {0}, want_m = {0};
    REQUIRE(load_vec("derived_ecdh_shared_secret_edevice_ereader", &z) == TES_OK && z.len == 32);
    REQUIRE(load_vec("session_transcript_bytes", &stb) == TES_OK);
    REQUIRE(load_vec("extracted_session_transcript_untagged", &plain) == TES_OK);
    REQUIRE(load_vec("derived_sk_reader", &want_r) == TES_OK && want_r.len == 32);
    REQUIRE(load_vec("derived_sk_device", &want_d) == TES_OK && want_d.len == 32);
    REQUIRE(load_vec("derived_emac_key", &want_m) == TES_OK && want_m.len == 32);
    uint8_t out[32];
    CHECK_ERR(tes_iso18013_derive_key(tes_buf_bytes(&z), tes_buf_bytes(&stb), TES_ISO_SK_READER,
                                      out),
              TES_OK);
    CHECK_EQ_MEM(out, want_r.ptr, 32);
    CHECK_ERR(tes_iso18013_derive_key(tes_buf_bytes(&z), tes_buf_bytes(&stb), TES_ISO_SK_DEVICE,
                                      out),
              TES_OK);
    CHECK_EQ_MEM(out, want_d.ptr, 32);
    /* EMacKey: ECDH(SDeviceKey, EReaderKey), same salt */
    tes_key *sdev = key_from_vectors("sdevice_key", true);
    tes_key *erdr = key_from_vectors("ereader_key", false);
    REQUIRE(sdev && erdr);
    uint8_t zm[TES_MAX_COORD];
    size_t zml = 0;
    REQUIRE(tes_key_ecdh(sdev, erdr, zm, &zml) == TES_OK);
    CHECK_ERR(tes_iso18013_derive_key(TES_BYTES(zm, zml), tes_buf_bytes(&stb), TES_ISO_EMAC_KEY,
                                      out),
              TES_OK);
    CHECK_EQ_MEM(out, want_m.ptr, 32);

    /* the plain transcript as salt gives other (wrong) keys: refused, out wiped */
    static const uint8_t zero[32] = {0};
    CHECK_ERR(tes_iso18013_derive_key(tes_buf_bytes(&z), tes_buf_bytes(&plain), TES_ISO_SK_READER,
                                      out),
              TES_ERR_ARG);
    CHECK_EQ_MEM(out, zero, 32);
    CHECK(strstr(tes_err_message(), "SessionTranscriptBytes") != NULL);
    /* only the three labels of the standard */
    CHECK_ERR(tes_iso18013_derive_key(tes_buf_bytes(&z), tes_buf_bytes(&stb), "SKreader", out),
              TES_ERR_ARG);
    CHECK_ERR(tes_iso18013_derive_key(TES_BYTES(zm, 0), tes_buf_bytes(&stb), TES_ISO_EMAC_KEY, out),
              TES_ERR_ARG);
    CHECK_ERR(tes_iso18013_derive_key(tes_buf_bytes(&z), tes_buf_bytes(&stb), NULL, out),
              TES_ERR_ARG);
    tes_wipe(zm, sizeof zm);
    tes_key_free(sdev);
    tes_key_free(erdr);
    tes_buf_free(&z);
    tes_buf_free(&stb);
    tes_buf_free(&plain);
    tes_buf_free(&want_r);
    tes_buf_free(&want_d);
    tes_buf_free(&want_m);
}

/* ---------------------------------------------------------------- Annex D: certificates */

TEST(annex_d_certificates)
{
    tes_cert *iaca = cert_from_vectors("iaca_root_cert.der");
    tes_cert *ds = cert_from_vectors("issuer_ds_cert.der");
    tes_cert *rdr = cert_from_vectors("reader_cert.der");
    tes_cert *rdr_root = cert_from_vectors("reader_root_cert.der");
    REQUIRE(iaca && ds && rdr && rdr_root);

    const tes_cert_info *di = tes_cert_get_info(ds);
    CHECK(!di->is_ca);
    CHECK(di->has_key_usage);
    CHECK_EQ_INT(di->key_usage, TES_KU_DIGITAL_SIGNATURE);
    CHECK(di->has_eku);
    CHECK(tes_cert_has_eku(ds, "1.0.18013.5.1.2"));
    CHECK(!tes_cert_has_eku(ds, "1.0.18013.5.1.6"));
    CHECK_EQ_INT(di->not_before, 1601510400); /* 2020-10-01T00:00:00Z */
    CHECK_EQ_INT(di->not_after, 1633046400);  /* 2021-10-01T00:00:00Z */
    CHECK_EQ_STR(di->common_name, "utopia ds");
    CHECK_EQ_STR(di->country, "US");
    CHECK(strstr(di->subject, "CN=utopia ds") != NULL);
    CHECK(strstr(di->issuer, "CN=utopia iaca") != NULL);
    CHECK(!di->self_issued);
    CHECK(!di->unknown_critical);
    CHECK(di->aki_len > 0);
    uint8_t sha[32];
    tes_bytes der = tes_cert_der(ds);
    CHECK_ERR(tes_digest(TES_HASH_SHA256, der, sha), TES_OK);
    CHECK_EQ_MEM(sha, di->sha256, 32);
    CHECK_EQ_INT(der.ptr[0], 0x30);
    REQUIRE(tes_cert_key(ds) != NULL);
    CHECK_EQ_INT(tes_key_curve(tes_cert_key(ds)), TES_CURVE_P256);
    CHECK(!tes_key_has_private(tes_cert_key(ds)));
    /* CRL distribution points (2.5.29.31) present, non-critical */
    tes_bytes ext;
    bool critical = true;
    CHECK_ERR(tes_cert_extension(ds, "2.5.29.31", &ext, &critical), TES_OK);
    CHECK(!critical);
    CHECK(ext.len > 0 && ext.ptr[0] == 0x30);
    CHECK(contains_bytes(ext, TES_BYTES_STR("example.com")));
    CHECK_ERR(tes_cert_extension(ds, "1.2.3.4.5", &ext, &critical), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_cert_extension(ds, "not an oid", &ext, &critical), TES_ERR_ARG);
    CHECK_ERR(tes_cert_extension(ds, "2.5.29.15", &ext, &critical), TES_OK); /* keyUsage */
    CHECK(critical);

    const tes_cert_info *ii = tes_cert_get_info(iaca);
    CHECK(ii->is_ca);
    CHECK(ii->has_basic_constraints);
    CHECK_EQ_INT(ii->path_len, 0);
    CHECK_EQ_INT(ii->key_usage, TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN);
    CHECK(ii->self_issued);
    CHECK_EQ_STR(ii->common_name, "utopia iaca");
    CHECK_EQ_STR(ii->country, "US");
    CHECK(ii->ski_len == 20 && ii->ski[0] == 0x54 && ii->ski[1] == 0xfa);
    CHECK(di->aki_len == ii->ski_len && memcmp(di->aki, ii->ski, ii->ski_len) == 0);
    CHECK_EQ_INT(ii->not_before, 1601510400);

    CHECK_ERR(tes_cert_verify_signed_by(ds, iaca), TES_OK);
    CHECK(tes_cert_issuer_matches(ds, iaca));
    CHECK_ERR(tes_cert_verify_signed_by(iaca, iaca), TES_OK);
    CHECK_ERR(tes_cert_verify_signed_by(rdr, iaca), TES_ERR_CHAIN_SIG);
    CHECK(!tes_cert_issuer_matches(rdr, iaca));
    CHECK_ERR(tes_cert_verify_signed_by(iaca, ds), TES_ERR_CHAIN_SIG);

    const tes_cert_info *ri = tes_cert_get_info(rdr);
    CHECK_EQ_STR(ri->common_name, "reader");
    CHECK(tes_cert_has_eku(rdr, "1.0.18013.5.1.6"));
    CHECK_EQ_INT(ri->key_usage, TES_KU_DIGITAL_SIGNATURE);
    CHECK_ERR(tes_cert_verify_signed_by(rdr, rdr_root), TES_OK);
    CHECK(tes_cert_issuer_matches(rdr, rdr_root));
    const tes_cert_info *rri = tes_cert_get_info(rdr_root);
    CHECK(rri->is_ca);
    CHECK_EQ_INT(rri->path_len, 0);
    CHECK_EQ_STR(rri->common_name, "reader root");

    /* references */
    tes_cert *again = tes_cert_ref(ds);
    CHECK(again == ds);
    tes_cert_free(again);
    CHECK_EQ_STR(tes_cert_get_info(ds)->common_name, "utopia ds");

    /* PEM export and the PEM parsers */
    tes_buf pem = {0};
    CHECK_ERR(tes_cert_to_pem(ds, &pem), TES_OK);
    CHECK_ERR(tes_cert_to_pem(iaca, &pem), TES_OK);
    CHECK(contains_bytes(tes_buf_bytes(&pem), TES_BYTES_STR("-----BEGIN CERTIFICATE-----")));
    tes_cert *list[4] = {0};
    size_t n = 0;
    CHECK_ERR(tes_cert_parse_all(tes_buf_bytes(&pem), list, 4, &n), TES_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK(tes_bytes_eq(tes_cert_der(list[0]), tes_cert_der(ds)));
        CHECK(tes_bytes_eq(tes_cert_der(list[1]), tes_cert_der(iaca)));
    }
    for (size_t i = 0; i < n; i++)
        tes_cert_free(list[i]);
    CHECK_ERR(tes_cert_parse_all(tes_buf_bytes(&pem), list, 1, &n), TES_ERR_BUFFER_SMALL);
    CHECK_EQ_INT(n, 0);
    tes_cert *first = NULL;
    CHECK_ERR(tes_cert_parse_any(tes_buf_bytes(&pem), &first), TES_OK);
    CHECK(first != NULL && tes_bytes_eq(tes_cert_der(first), tes_cert_der(ds)));
    tes_cert_free(first);
    CHECK_ERR(tes_cert_parse_any(tes_cert_der(iaca), &first), TES_OK);
    CHECK(first != NULL && tes_bytes_eq(tes_cert_der(first), tes_cert_der(iaca)));
    tes_cert_free(first);
    tes_buf_free(&pem);

    /* malformed input */
    tes_cert *bad = NULL;
    tes_bytes dsd = tes_cert_der(ds);
    CHECK_ERR(tes_cert_parse(TES_BYTES(dsd.ptr, dsd.len - 1), &bad), TES_ERR_CERT_MALFORMED);
    CHECK(bad == NULL);
    tes_buf trailing = {0};
    tes_buf_append(&trailing, dsd.ptr, dsd.len);
    tes_buf_append(&trailing, "\0", 1);
    CHECK_ERR(tes_cert_parse(tes_buf_bytes(&trailing), &bad), TES_ERR_CERT_MALFORMED);
    tes_buf_free(&trailing);
    CHECK_ERR(tes_cert_parse(TES_BYTES_STR("hello"), &bad), TES_ERR_CERT_MALFORMED);
    CHECK_ERR(tes_cert_parse_any(TES_BYTES_STR("-----BEGIN PUBLIC KEY-----\nAAAA\n"
                                               "-----END PUBLIC KEY-----\n"),
                                 &bad),
              TES_ERR_CERT_MALFORMED);
    CHECK(bad == NULL);
    /* a flipped bit in the signature value */
    tes_buf flipped = {0};
    tes_buf_append(&flipped, dsd.ptr, dsd.len);
    flipped.ptr[flipped.len - 5] ^= 0x01;
    CHECK_ERR(tes_cert_parse(tes_buf_bytes(&flipped), &bad), TES_OK);
    if (bad)
        CHECK_ERR(tes_cert_verify_signed_by(bad, iaca), TES_ERR_CHAIN_SIG);
    tes_cert_free(bad);
    tes_buf_free(&flipped);

    tes_cert_free(iaca);
    tes_cert_free(ds);
    tes_cert_free(rdr);
    tes_cert_free(rdr_root);
}

TEST(annex_d_issuer_and_reader_signatures)
{
    tes_cert *ds = cert_from_vectors("issuer_ds_cert.der");
    tes_cert *rdr = cert_from_vectors("reader_cert.der");
    tes_buf ia = {0}, payload = {0}, ss = {0};
    REQUIRE(ds && rdr);
    REQUIRE(load_vec("extracted_issuer_auth", &ia) == TES_OK);
    REQUIRE(load_vec("extracted_mso_bytes_tag24", &payload) == TES_OK);
    /* IssuerAuth = [h'a10126', {33: cert}, payload, signature(64)]: the DS cert in the
     * x5chain is the DS certificate of the vectors */
    CHECK(contains_bytes(tes_buf_bytes(&ia), tes_cert_der(ds)));
    CHECK(contains_bytes(tes_buf_bytes(&ia), tes_buf_bytes(&payload)));
    static const uint8_t sig_hdr[] = {0x58, 0x40};
    tes_bytes sig;
    REQUIRE(cbor_tail_bstr(tes_buf_bytes(&ia), sig_hdr, 2, 64, &sig));
    sig_structure(&ss, tes_buf_bytes(&payload));
    REQUIRE(!ss.failed);
    const tes_key *dk = tes_cert_key(ds);
    CHECK_ERR(tes_key_verify(dk, TES_HASH_SHA256, tes_buf_bytes(&ss), sig), TES_OK);
    /* wrong hash, wrong length, flipped bit in message and in signature */
    CHECK_ERR(tes_key_verify(dk, TES_HASH_SHA384, tes_buf_bytes(&ss), sig), TES_ERR_SIGNATURE);
    CHECK_ERR(
        tes_key_verify(dk, TES_HASH_SHA256, tes_buf_bytes(&ss), TES_BYTES(sig.ptr, sig.len - 1)),
        TES_ERR_SIGNATURE);
    ss.ptr[ss.len - 1] ^= 0x80;
    CHECK_ERR(tes_key_verify(dk, TES_HASH_SHA256, tes_buf_bytes(&ss), sig), TES_ERR_SIGNATURE);
    ss.ptr[ss.len - 1] ^= 0x80;
    uint8_t sig2[64];
    memcpy(sig2, sig.ptr, 64);
    sig2[63] ^= 0x01;
    CHECK_ERR(tes_key_verify(dk, TES_HASH_SHA256, tes_buf_bytes(&ss), TES_BYTES(sig2, 64)),
              TES_ERR_SIGNATURE);
    /* r = 0 and s = n-ish garbage are wrong signatures, not backend failures */
    memset(sig2, 0, 64);
    CHECK_ERR(tes_key_verify(dk, TES_HASH_SHA256, tes_buf_bytes(&ss), TES_BYTES(sig2, 64)),
              TES_ERR_SIGNATURE);
    memset(sig2, 0xff, 64);
    CHECK_ERR(tes_key_verify(dk, TES_HASH_SHA256, tes_buf_bytes(&ss), TES_BYTES(sig2, 64)),
              TES_ERR_SIGNATURE);

    /* ReaderAuth: detached payload ReaderAuthenticationBytes */
    tes_buf ra = {0}, rab = {0}, rss = {0};
    REQUIRE(load_vec("reader_auth", &ra) == TES_OK);
    REQUIRE(load_vec("derived_reader_authentication_bytes", &rab) == TES_OK);
    REQUIRE(cbor_tail_bstr(tes_buf_bytes(&ra), sig_hdr, 2, 64, &sig));
    sig_structure(&rss, tes_buf_bytes(&rab));
    CHECK_ERR(tes_key_verify(tes_cert_key(rdr), TES_HASH_SHA256, tes_buf_bytes(&rss), sig), TES_OK);
    CHECK_ERR(tes_key_verify(dk, TES_HASH_SHA256, tes_buf_bytes(&rss), sig), TES_ERR_SIGNATURE);

    tes_buf_free(&ra);
    tes_buf_free(&rab);
    tes_buf_free(&rss);
    tes_buf_free(&ia);
    tes_buf_free(&payload);
    tes_buf_free(&ss);
    tes_cert_free(ds);
    tes_cert_free(rdr);
}

/* ---------------------------------------------------------------- keys */

TEST(sign_verify_all_curves)
{
    static const struct {
        tes_curve c;
        tes_hash h;
        size_t sig_len;
    } cases[] = {
        {TES_CURVE_P256, TES_HASH_SHA256, 64},  {TES_CURVE_P384, TES_HASH_SHA384, 96},
        {TES_CURVE_P521, TES_HASH_SHA512, 132}, {TES_CURVE_ED25519, TES_HASH_NONE, 64},
        {TES_CURVE_P256, TES_HASH_SHA512, 64}, /* any hash on any curve */
    };
    static const char msg[] = "the quick brown fox";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tes_key *k = NULL, *other = NULL;
        REQUIRE(tes_key_generate(cases[i].c, &k) == TES_OK);
        REQUIRE(tes_key_generate(cases[i].c, &other) == TES_OK);
        CHECK_EQ_INT(tes_key_curve(k), cases[i].c);
        CHECK(tes_key_has_private(k));
        uint8_t sig[TES_MAX_SIG];
        size_t sig_len = 0;
        CHECK_ERR(tes_key_sign(k, cases[i].h, TES_BYTES_STR(msg), sig, &sig_len), TES_OK);
        CHECK_EQ_INT(sig_len, cases[i].sig_len);
        CHECK_EQ_INT(sig_len,
                     cases[i].c == TES_CURVE_ED25519 ? 64 : 2 * tes_curve_size(cases[i].c));
        CHECK_ERR(tes_key_verify(k, cases[i].h, TES_BYTES_STR(msg), TES_BYTES(sig, sig_len)),
                  TES_OK);
        CHECK_ERR(tes_key_verify(other, cases[i].h, TES_BYTES_STR(msg), TES_BYTES(sig, sig_len)),
                  TES_ERR_SIGNATURE);
        sig[sig_len / 3] ^= 0x10;
        CHECK_ERR(tes_key_verify(k, cases[i].h, TES_BYTES_STR(msg), TES_BYTES(sig, sig_len)),
                  TES_ERR_SIGNATURE);
        sig[sig_len / 3] ^= 0x10;
        CHECK_ERR(tes_key_verify(k, cases[i].h, TES_BYTES_STR("the quick brown fix"),
                                 TES_BYTES(sig, sig_len)),
                  TES_ERR_SIGNATURE);
        CHECK_ERR(tes_key_verify(k, cases[i].h, TES_BYTES_STR(msg), TES_BYTES(sig, sig_len + 1)),
                  TES_ERR_SIGNATURE);
        CHECK_ERR(tes_key_verify(k, cases[i].h, TES_BYTES_STR(msg), TES_BYTES(sig, 0)),
                  TES_ERR_SIGNATURE);

        /* The public half alone, rebuilt from raw coordinates, verifies too. */
        uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
        CHECK_ERR(tes_key_public_raw(k, x, y), TES_OK);
        tes_key *pub = NULL;
        size_t cs = tes_curve_size(cases[i].c);
        if (cases[i].c == TES_CURVE_ED25519)
            CHECK_ERR(tes_key_from_okp(cases[i].c, TES_BYTES(x, cs), &pub), TES_OK);
        else
            CHECK_ERR(tes_key_from_ec_point(cases[i].c, TES_BYTES(x, cs), TES_BYTES(y, cs), &pub),
                      TES_OK);
        REQUIRE(pub != NULL);
        CHECK(!tes_key_has_private(pub));
        CHECK(tes_key_equal_public(pub, k));
        CHECK(!tes_key_equal_public(pub, other));
        CHECK_ERR(tes_key_verify(pub, cases[i].h, TES_BYTES_STR(msg), TES_BYTES(sig, sig_len)),
                  TES_OK);
        CHECK_ERR(tes_key_sign(pub, cases[i].h, TES_BYTES_STR(msg), sig, &sig_len), TES_ERR_ARG);
        /* hash / algorithm mismatch is a caller error */
        tes_hash wrong = cases[i].c == TES_CURVE_ED25519 ? TES_HASH_SHA256 : TES_HASH_NONE;
        CHECK_ERR(tes_key_sign(k, wrong, TES_BYTES_STR(msg), sig, &sig_len), TES_ERR_ARG);

        /* ECDH on EC curves: both sides agree */
        if (cases[i].c != TES_CURVE_ED25519) {
            uint8_t z1[TES_MAX_COORD], z2[TES_MAX_COORD];
            size_t l1 = 0, l2 = 0;
            CHECK_ERR(tes_key_ecdh(k, other, z1, &l1), TES_OK);
            CHECK_ERR(tes_key_ecdh(other, pub, z2, &l2), TES_OK);
            CHECK_EQ_INT(l1, cs);
            CHECK(l1 == l2 && memcmp(z1, z2, l1) == 0);
        } else {
            uint8_t z1[TES_MAX_COORD];
            size_t l1 = 0;
            CHECK_ERR(tes_key_ecdh(k, other, z1, &l1), TES_ERR_UNSUPPORTED);
        }
        tes_key_free(pub);
        tes_key_free(k);
        tes_key_free(other);
    }
    /* curves must match */
    tes_key *a = NULL, *b = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &a) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P384, &b) == TES_OK);
    uint8_t z[TES_MAX_COORD];
    size_t zl = 0;
    CHECK_ERR(tes_key_ecdh(a, b, z, &zl), TES_ERR_ARG);
    CHECK(!tes_key_equal_public(a, b));
    tes_key_free(a);
    tes_key_free(b);
    CHECK_ERR(tes_key_generate(TES_CURVE_NONE, &a), TES_ERR_UNSUPPORTED);
}

TEST(ec_point_validation)
{
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    REQUIRE(tes_key_public_raw(k, x, y) == TES_OK);
    tes_key *pub = NULL;
    y[31] ^= 0x01; /* off the curve */
    CHECK_ERR(tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(x, 32), TES_BYTES(y, 32), &pub),
              TES_ERR_KEY_MALFORMED);
    CHECK(pub == NULL);
    y[31] ^= 0x01;
    CHECK_ERR(tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(x, 31), TES_BYTES(y, 32), &pub),
              TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_from_ec_point(TES_CURVE_P384, TES_BYTES(x, 32), TES_BYTES(y, 32), &pub),
              TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_from_ec_point(TES_CURVE_ED25519, TES_BYTES(x, 32), TES_BYTES(y, 32), &pub),
              TES_ERR_UNSUPPORTED);
    /* (0, 0) and coordinates >= p */
    uint8_t zero[32] = {0}, ff[32];
    memset(ff, 0xff, sizeof ff);
    CHECK_ERR(tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(zero, 32), TES_BYTES(zero, 32), &pub),
              TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(ff, 32), TES_BYTES(y, 32), &pub),
              TES_ERR_KEY_MALFORMED);
    /* the valid point still imports after the failures */
    CHECK_ERR(tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(x, 32), TES_BYTES(y, 32), &pub),
              TES_OK);
    CHECK(tes_key_equal_public(pub, k));
    tes_key_free(pub);

    /* private scalars: 0 and >= n are rejected */
    tes_key *priv = NULL;
    CHECK_ERR(tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(zero, 32), &priv),
              TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(ff, 32), &priv),
              TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(ff, 33), &priv),
              TES_ERR_KEY_MALFORMED);
    CHECK(priv == NULL);
    CHECK_ERR(tes_key_from_okp(TES_CURVE_ED25519, TES_BYTES(zero, 31), &priv),
              TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_from_okp(TES_CURVE_P256, TES_BYTES(zero, 32), &priv), TES_ERR_UNSUPPORTED);

    /* references: the key stays usable until the last free */
    tes_key *r = tes_key_ref(k);
    CHECK(r == k);
    tes_key_free(k);
    CHECK_ERR(tes_key_public_raw(r, x, y), TES_OK);
    tes_key_free(r);
}

TEST(key_pem_der_round_trips)
{
    static const tes_curve curves[] = {TES_CURVE_P256, TES_CURVE_P384, TES_CURVE_P521,
                                       TES_CURVE_ED25519};
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++) {
        tes_key *k = NULL;
        REQUIRE(tes_key_generate(curves[i], &k) == TES_OK);
        tes_buf priv = {0}, pub = {0}, spki = {0};
        CHECK_ERR(tes_key_to_pem(k, true, &priv), TES_OK);
        CHECK(priv.secret);
        CHECK_ERR(tes_key_to_pem(k, false, &pub), TES_OK);
        CHECK_ERR(tes_key_spki_der(k, &spki), TES_OK);
        CHECK(contains_bytes(tes_buf_bytes(&priv), TES_BYTES_STR("-----BEGIN PRIVATE KEY-----")));
        CHECK(contains_bytes(tes_buf_bytes(&pub), TES_BYTES_STR("-----BEGIN PUBLIC KEY-----")));

        tes_key *kp = NULL, *kq = NULL, *kd = NULL;
        CHECK_ERR(tes_key_parse(tes_buf_bytes(&priv), &kp), TES_OK);
        CHECK_ERR(tes_key_parse(tes_buf_bytes(&pub), &kq), TES_OK);
        CHECK_ERR(tes_key_parse(tes_buf_bytes(&spki), &kd), TES_OK);
        REQUIRE(kp && kq && kd);
        CHECK(tes_key_has_private(kp));
        CHECK(!tes_key_has_private(kq));
        CHECK(!tes_key_has_private(kd));
        CHECK_EQ_INT(tes_key_curve(kp), curves[i]);
        CHECK(tes_key_equal_public(kp, k) && tes_key_equal_public(kq, k) &&
              tes_key_equal_public(kd, k));
        /* the parsed private key signs for the original public key */
        tes_hash h = curves[i] == TES_CURVE_ED25519 ? TES_HASH_NONE : TES_HASH_SHA256;
        uint8_t sig[TES_MAX_SIG];
        size_t sl = 0;
        CHECK_ERR(tes_key_sign(kp, h, TES_BYTES_STR("m"), sig, &sl), TES_OK);
        CHECK_ERR(tes_key_verify(kd, h, TES_BYTES_STR("m"), TES_BYTES(sig, sl)), TES_OK);
        /* the public PEM is the SPKI DER in base64 */
        tes_buf again = {0};
        CHECK_ERR(tes_key_spki_der(kq, &again), TES_OK);
        CHECK(tes_bytes_eq(tes_buf_bytes(&again), tes_buf_bytes(&spki)));
        /* no private PEM from a public key */
        CHECK_ERR(tes_key_to_pem(kq, true, &again), TES_ERR_ARG);
        /* PKCS#8 DER (the PEM body) parses too */
        const char *b = memmem(priv.ptr, priv.len, "-----\n", 6);
        const char *e = memmem(priv.ptr, priv.len, "-----END", 8);
        if (b && e) {
            tes_buf der = {.secret = true};
            tes_key *k8 = NULL;
            CHECK_ERR(tes_b64_decode(&der, b + 6, (size_t)(e - b - 6)), TES_OK);
            CHECK_ERR(tes_key_parse(tes_buf_bytes(&der), &k8), TES_OK);
            CHECK(tes_key_has_private(k8) && tes_key_equal_public(k8, k));
            tes_key_free(k8);
            tes_buf_append(&der, "", 1); /* trailing byte */
            CHECK_ERR(tes_key_parse(tes_buf_bytes(&der), &k8), TES_ERR_KEY_MALFORMED);
            tes_buf_free(&der);
        } else {
            CHECK(!"PEM framing");
        }
        tes_buf_free(&again);
        tes_buf_free(&priv);
        tes_buf_free(&pub);
        tes_buf_free(&spki);
        tes_key_free(k);
        tes_key_free(kp);
        tes_key_free(kq);
        tes_key_free(kd);
    }
}

TEST(key_parse_sec1_and_errors)
{
    static const char sec1[] = "-----BEGIN EC PRIVATE KEY-----\n"
                               "MHcCAQEEIKL6GN4GkCzfPd2lWoZ0zXhcdnt0aC2ieQfMpI+8mvAzoAoGCCqGSM49\n"
                               "AwEHoUQDQgAE0Ms9mauZcac4q4L48RCzxh0nDV68vjvGNcUOQAvvzWsv7FB7/TEB\n"
                               "4lIasBVuf1s7PRvLq37kofbcURDTd12yAQ==\n"
                               "-----END EC PRIVATE KEY-----\n";
    tes_key *k = NULL;
    CHECK_ERR(tes_key_parse(TES_BYTES_STR(sec1), &k), TES_OK);
    REQUIRE(k != NULL);
    CHECK_EQ_INT(tes_key_curve(k), TES_CURVE_P256);
    CHECK(tes_key_has_private(k));
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    CHECK_ERR(tes_key_public_raw(k, x, y), TES_OK);
    CHECK(x[0] == 0xd0 && x[1] == 0xcb); /* 04 d0cb3d99... in the key's public part */
    tes_key_free(k);

    /* SEC1 DER */
    tes_buf der = {.secret = true};
    const char *b = strstr(sec1, "-----\n") + 6, *e = strstr(sec1, "-----END");
    CHECK_ERR(tes_b64_decode(&der, b, (size_t)(e - b)), TES_OK);
    CHECK_ERR(tes_key_parse(tes_buf_bytes(&der), &k), TES_OK);
    CHECK(k != NULL && tes_key_has_private(k));
    tes_key_free(k);
    k = NULL;
    der.ptr[10] ^= 0xff; /* corrupt the scalar's encoding */
    der.len -= 3;
    CHECK_ERR(tes_key_parse(tes_buf_bytes(&der), &k), TES_ERR_KEY_MALFORMED);
    tes_buf_free(&der);

    CHECK_ERR(tes_key_parse(TES_BYTES_STR("garbage"), &k), TES_ERR_KEY_MALFORMED);
    CHECK(strlen(tes_err_message()) > 0);
    CHECK_ERR(tes_key_parse(TES_BYTES(NULL, 0), &k), TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_parse(TES_BYTES_STR("-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                          "-----END PRIVATE KEY-----\n"),
                            &k),
              TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_parse(TES_BYTES_STR("-----BEGIN CERTIFICATE-----\nAAAA\n"
                                          "-----END CERTIFICATE-----\n"),
                            &k),
              TES_ERR_KEY_MALFORMED);
    CHECK_ERR(tes_key_parse(TES_BYTES_STR("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                                          "-----END ENCRYPTED PRIVATE KEY-----\n"),
                            &k),
              TES_ERR_UNSUPPORTED);
    CHECK(k == NULL);
    /* after failures, a good parse still works (no stale OpenSSL errors in the way) */
    CHECK_ERR(tes_key_parse(TES_BYTES_STR(sec1), &k), TES_OK);
    tes_key_free(k);
}

/* ---------------------------------------------------------------- certificate creation */

TEST(cert_create_root_and_ds)
{
    tes_key *root_key = NULL, *ds_key = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P384, &root_key) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &ds_key) == TES_OK);
    tes_cert_template rt = {
        .common_name = "Test IACA",
        .country = "NL",
        .organization = "Tessera",
        .state = "Utrecht",
        .not_before = 1700000000,
        .not_after = 1700000000 + 9 * 365 * 86400LL,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
        .issuer_alt_uri = "https://iaca.example.org",
        .crl_uri = "https://iaca.example.org/crl",
    };
    tes_cert *root = NULL;
    CHECK_ERR(tes_cert_create(&rt, root_key, NULL, root_key, &root), TES_OK);
    REQUIRE(root != NULL);
    const tes_cert_info *ri = tes_cert_get_info(root);
    CHECK(ri->is_ca && ri->has_basic_constraints);
    CHECK_EQ_INT(ri->path_len, 0);
    CHECK(ri->has_key_usage);
    CHECK_EQ_INT(ri->key_usage, TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN);
    CHECK(!ri->has_eku);
    CHECK(ri->self_issued);
    CHECK(!ri->unknown_critical);
    CHECK_EQ_INT(ri->not_before, 1700000000);
    CHECK_EQ_INT(ri->not_after, 1700000000 + 9 * 365 * 86400LL);
    CHECK_EQ_STR(ri->common_name, "Test IACA");
    CHECK_EQ_STR(ri->country, "NL");
    CHECK_EQ_STR(ri->subject, "CN=Test IACA,O=Tessera,ST=Utrecht,C=NL");
    CHECK_EQ_STR(ri->issuer, ri->subject);
    CHECK_EQ_INT(ri->ski_len, 20);
    CHECK(ri->aki_len == 20 && memcmp(ri->aki, ri->ski, 20) == 0);
    CHECK(tes_key_equal_public(tes_cert_key(root), root_key));
    CHECK_ERR(tes_cert_verify_signed_by(root, root), TES_OK);
    tes_bytes v;
    bool crit = true;
    CHECK_ERR(tes_cert_extension(root, "2.5.29.18", &v, &crit), TES_OK); /* issuerAltName */
    CHECK(!crit && contains_bytes(v, TES_BYTES_STR("https://iaca.example.org")));
    CHECK_ERR(tes_cert_extension(root, "2.5.29.31", &v, &crit), TES_OK); /* CRL DP */
    CHECK(!crit && contains_bytes(v, TES_BYTES_STR("https://iaca.example.org/crl")));
    CHECK_ERR(tes_cert_extension(root, "2.5.29.19", &v, &crit), TES_OK); /* basicConstraints */
    CHECK(crit);
    /* serial: 16 octets, positive (DER: 02 10 0x.. with top bit clear) */
    tes_bytes der = tes_cert_der(root);
    CHECK(der.len > 30);
    const uint8_t *tbs = der.ptr + 4; /* 30 82 LL LL | 30 82 LL LL | a0 03 02 01 02 | 02 10 */
    CHECK(tbs[0] == 0x30 && tbs[4] == 0xa0 && tbs[9] == 0x02 && tbs[10] == 0x10 && tbs[11] < 0x80 &&
          tbs[11] != 0);

    static const uint8_t extra_der[] = {0x30, 0x03, 0x02, 0x01, 0x07};
    tes_cert_template dt = {
        .common_name = "Test DS",
        .country = "NL",
        .not_before = 1700000000,
        .not_after = 1700000000 + 365 * 86400LL,
        .is_ca = false,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE,
        .eku_oid = "1.0.18013.5.1.2",
        .crl_uri = "https://iaca.example.org/crl",
        .extra_oid = "1.3.6.1.4.1.99999.1",
        .extra_value = TES_BYTES(extra_der, sizeof extra_der),
    };
    tes_cert *ds = NULL;
    CHECK_ERR(tes_cert_create(&dt, ds_key, root, root_key, &ds), TES_OK);
    REQUIRE(ds != NULL);
    const tes_cert_info *di = tes_cert_get_info(ds);
    CHECK(!di->is_ca);
    CHECK(!di->has_basic_constraints);
    CHECK_EQ_INT(di->path_len, -1);
    CHECK_EQ_INT(di->key_usage, TES_KU_DIGITAL_SIGNATURE);
    CHECK(di->has_eku && tes_cert_has_eku(ds, "1.0.18013.5.1.2"));
    CHECK(!di->self_issued);
    CHECK(!di->unknown_critical);
    CHECK_EQ_STR(di->subject, "CN=Test DS,C=NL");
    CHECK_EQ_STR(di->issuer, ri->subject);
    CHECK(di->aki_len == ri->ski_len && memcmp(di->aki, ri->ski, ri->ski_len) == 0);
    CHECK(di->ski_len == 20 && memcmp(di->ski, ri->ski, 20) != 0);
    CHECK_ERR(tes_cert_extension(ds, "2.5.29.37", &v, &crit), TES_OK); /* EKU critical */
    CHECK(crit);
    CHECK_ERR(tes_cert_extension(ds, "1.3.6.1.4.1.99999.1", &v, &crit), TES_OK);
    CHECK(!crit && tes_bytes_eq(v, TES_BYTES(extra_der, sizeof extra_der)));
    CHECK(tes_cert_issuer_matches(ds, root));
    CHECK_ERR(tes_cert_verify_signed_by(ds, root), TES_OK);
    CHECK_ERR(tes_cert_verify_signed_by(ds, ds), TES_ERR_CHAIN_SIG);
    CHECK(tes_key_equal_public(tes_cert_key(ds), ds_key));

    /* an Ed25519 root signing an Ed25519 leaf */
    tes_key *ek = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_ED25519, &ek) == TES_OK);
    tes_cert *eroot = NULL, *eleaf = NULL;
    tes_cert_template ert = rt;
    ert.not_after = 2900000000LL; /* 2061: GeneralizedTime */
    CHECK_ERR(tes_cert_create(&ert, ek, NULL, ek, &eroot), TES_OK);
    REQUIRE(eroot != NULL);
    CHECK_EQ_INT(tes_cert_get_info(eroot)->not_after, 2900000000LL);
    CHECK_ERR(tes_cert_create(&dt, ds_key, eroot, ek, &eleaf), TES_OK);
    REQUIRE(eleaf != NULL);
    CHECK_ERR(tes_cert_verify_signed_by(eleaf, eroot), TES_OK);
    CHECK_ERR(tes_cert_verify_signed_by(eleaf, root), TES_ERR_CHAIN_SIG);
    CHECK_EQ_INT(tes_key_curve(tes_cert_key(eroot)), TES_CURVE_ED25519);

    /* caller mistakes */
    tes_cert *bad = NULL;
    CHECK_ERR(tes_cert_create(&dt, ds_key, root, ds_key, &bad), TES_ERR_ARG); /* wrong issuer key */
    CHECK_ERR(tes_cert_create(&dt, ds_key, NULL, root_key, &bad), TES_ERR_ARG); /* not self */
    tes_cert_template nt = dt;
    nt.common_name = NULL;
    CHECK_ERR(tes_cert_create(&nt, ds_key, root, root_key, &bad), TES_ERR_ARG);
    nt = dt;
    nt.country = "NLD";
    CHECK_ERR(tes_cert_create(&nt, ds_key, root, root_key, &bad), TES_ERR_ARG);
    nt = dt;
    nt.eku_oid = "mdl ds";
    CHECK_ERR(tes_cert_create(&nt, ds_key, root, root_key, &bad), TES_ERR_ARG);
    tes_key *pub_only = NULL;
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    REQUIRE(tes_key_public_raw(root_key, x, y) == TES_OK);
    REQUIRE(tes_key_from_ec_point(TES_CURVE_P384, TES_BYTES(x, 48), TES_BYTES(y, 48), &pub_only) ==
            TES_OK);
    CHECK_ERR(tes_cert_create(&dt, ds_key, root, pub_only, &bad), TES_ERR_ARG);
    CHECK(bad == NULL);

    tes_key_free(pub_only);
    tes_cert_free(eroot);
    tes_cert_free(eleaf);
    tes_key_free(ek);
    tes_cert_free(root);
    tes_cert_free(ds);
    tes_key_free(root_key);
    tes_key_free(ds_key);
}

/* ---------------------------------------------------------------- AES-GCM */

TEST(aes_gcm_round_trip_and_tamper)
{
    uint8_t key[32], iv[12];
    REQUIRE(tes_rng_fill(NULL, key, sizeof key) == TES_OK);
    REQUIRE(tes_rng_fill(NULL, iv, sizeof iv) == TES_OK);
    static const char plain[] = "attack at dawn, bring the portrait";
    static const char aad[] = "header";
    tes_buf ct = {0}, pt = {.secret = true};
    CHECK_ERR(tes_aes256gcm_encrypt(key, iv, TES_BYTES_STR(aad), TES_BYTES_STR(plain), &ct),
              TES_OK);
    CHECK_EQ_INT(ct.len, sizeof plain - 1 + 16);
    CHECK_ERR(tes_aes256gcm_decrypt(key, iv, TES_BYTES_STR(aad), tes_buf_bytes(&ct), &pt), TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&pt), TES_BYTES_STR(plain)));

    /* tamper with ciphertext, tag, AAD, IV: TES_ERR_SIGNATURE and nothing released */
    for (int what = 0; what < 4; what++) {
        tes_buf_reset(&pt);
        uint8_t iv2[12];
        memcpy(iv2, iv, 12);
        tes_bytes a = TES_BYTES_STR(aad);
        if (what == 0)
            ct.ptr[3] ^= 1;
        else if (what == 1)
            ct.ptr[ct.len - 1] ^= 1;
        else if (what == 2)
            a = TES_BYTES_STR("headeR");
        else
            iv2[11] ^= 1;
        CHECK_ERR(tes_aes256gcm_decrypt(key, iv2, a, tes_buf_bytes(&ct), &pt), TES_ERR_SIGNATURE);
        CHECK_EQ_INT(pt.len, 0);
        /* the (tampered) plaintext written during decryption did not stay behind */
        if (pt.cap >= sizeof plain - 1)
            CHECK(memmem(pt.ptr, sizeof plain - 1, "attack", 6) == NULL);
        if (what == 0)
            ct.ptr[3] ^= 1;
        else if (what == 1)
            ct.ptr[ct.len - 1] ^= 1;
    }
    /* appending: existing content is kept, and kept intact on failure */
    tes_buf_reset(&pt);
    tes_buf_append(&pt, "xy", 2);
    CHECK_ERR(tes_aes256gcm_decrypt(key, iv, TES_BYTES_STR(aad), tes_buf_bytes(&ct), &pt), TES_OK);
    CHECK(pt.len == 2 + sizeof plain - 1 && memcmp(pt.ptr, "xy", 2) == 0);
    ct.ptr[0] ^= 1;
    tes_buf_reset(&pt);
    tes_buf_append(&pt, "xy", 2);
    CHECK_ERR(tes_aes256gcm_decrypt(key, iv, TES_BYTES_STR(aad), tes_buf_bytes(&ct), &pt),
              TES_ERR_SIGNATURE);
    CHECK(pt.len == 2 && memcmp(pt.ptr, "xy", 2) == 0);
    /* too short to hold a tag */
    CHECK_ERR(tes_aes256gcm_decrypt(key, iv, TES_BYTES(NULL, 0), TES_BYTES(ct.ptr, 15), &pt),
              TES_ERR_SIGNATURE);

    /* empty plaintext: just the tag */
    tes_buf e = {0}, ep = {0};
    CHECK_ERR(tes_aes256gcm_encrypt(key, iv, TES_BYTES(NULL, 0), TES_BYTES(NULL, 0), &e), TES_OK);
    CHECK_EQ_INT(e.len, 16);
    CHECK_ERR(tes_aes256gcm_decrypt(key, iv, TES_BYTES(NULL, 0), tes_buf_bytes(&e), &ep), TES_OK);
    CHECK_EQ_INT(ep.len, 0);

    /* NIST GCM test case 14 (AES-256, zero key, zero IV, one zero block) */
    uint8_t zkey[32] = {0}, ziv[12] = {0}, zblock[16] = {0};
    tes_buf z = {0};
    tes_buf want = hex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
    CHECK_ERR(tes_aes256gcm_encrypt(zkey, ziv, TES_BYTES(NULL, 0), TES_BYTES(zblock, 16), &z),
              TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&z), tes_buf_bytes(&want)));

    tes_buf_free(&want);
    tes_buf_free(&z);
    tes_buf_free(&e);
    tes_buf_free(&ep);
    tes_buf_free(&ct);
    tes_buf_free(&pt);
}
