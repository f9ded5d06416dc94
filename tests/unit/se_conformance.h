/*
 * se_conformance.h — the conformance test body every secure-element backend
 * must pass (tessera/se.h). Header-only; include it after harness.h:
 *
 *     #define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
 *     #include "harness.h"
 *     #include "se_conformance.h"
 *
 *     TEST(soft_conformance) { ... se_conformance(se, "soft", vendor_roots); ... }
 *
 * se_conformance ends with the per-site pseudonym checks (se_conformance_pseudonym) when the
 * backend has TES_SE_CAP_PSEUDONYM; se_conformance_pseudonym_two compares two wallets.
 *
 * Precondition: `se` is freshly opened, has no PIN set and no keys (the body
 * sets PIN "123456" / PUK "12345678" and ends with PIN "7654321"). It leaves
 * keys behind; the caller closes the secure element.
 *
 * vendor_roots: PEM/DER vendor roots the backend's attestation chains to. With
 * an empty slice the attestation chain is only checked for shape (non-empty
 * CBOR array), not verified.
 *
 * PIN state machine checked here (the same for every backend, whether the
 * backend or Tessera enforces it): the first TES_SE_PIN_TRIES wrong PINs each
 * give TES_ERR_PIN_WRONG with one try less; after that every PIN, right or
 * wrong, gives TES_ERR_PIN_LOCKED until pin_unblock with the right PUK.
 */
#ifndef TES_TESTS_SE_CONFORMANCE_H
#define TES_TESTS_SE_CONFORMANCE_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tessera/cbor.h"
#include "tessera/cose.h"
#include "tessera/se.h"

/* Checks expr == code and prints the backend label and the error message on failure. */
#define SEC_ERR(label, expr, code)                                                                 \
    do {                                                                                           \
        tes_err sec_e_ = (expr);                                                                   \
        CHECK_ERR(sec_e_, code);                                                                   \
        if (sec_e_ != (code))                                                                      \
            fprintf(stderr, "    [%s] message: %s\n", label,                                       \
                    sec_e_ != TES_OK ? tes_err_message() : "(none)");                              \
    } while (0)
#define SEC_OK(label, expr) SEC_ERR(label, expr, TES_OK)

static inline bool sec_list_has(tes_se *se, const char *id)
{
    static char ids[256][TES_SE_ID_MAX];
    size_t n = 0;
    if (se->ops->list_keys(se, ids, 256, &n) != TES_OK)
        return false;
    for (size_t i = 0; i < n && i < 256; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static inline int sec_pin_tries(tes_se *se)
{
    int pin = -1, puk = -1;
    bool set = false;
    if (se->ops->pin_status(se, &pin, &puk, &set) != TES_OK)
        return -100;
    return pin;
}

static inline int sec_puk_tries(tes_se *se)
{
    int pin = -1, puk = -1;
    bool set = false;
    if (se->ops->pin_status(se, &pin, &puk, &set) != TES_OK)
        return -100;
    return puk;
}

/* Signs msg with key id and verifies the signature with the SE's public key. */
static inline tes_err sec_sign_verify(tes_se *se, const char *id, const char *pin)
{
    static const char msg[] = "tessera conformance message";
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    tes_err e = tes_se_sign(se, id, pin, TES_BYTES_STR(msg), sig, &sig_len);
    if (e != TES_OK)
        return e;
    tes_key *pub = NULL;
    e = tes_se_public_key(se, id, &pub);
    if (e != TES_OK)
        return e;
    if (sig_len != 64)
        e = TES_ERR_SIGNATURE;
    else
        e = tes_key_verify(pub, TES_HASH_SHA256, TES_BYTES_STR(msg), TES_BYTES(sig, sig_len));
    tes_key_free(pub);
    return e;
}

/* The uncompressed point (04 || x || y) of a fixed site key: the P-256 key whose scalar is 32
 * bytes of `seed` (1..0xfe: always below the group order). */
static inline bool sec_site_point(uint8_t seed, uint8_t out[65])
{
    uint8_t d[32], x[TES_MAX_COORD], y[TES_MAX_COORD];
    memset(d, seed, sizeof d);
    tes_key *k = NULL;
    bool ok = tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(d, 32), &k) == TES_OK &&
              tes_key_public_raw(k, x, y) == TES_OK;
    tes_key_free(k);
    out[0] = 0x04;
    memcpy(out + 1, x, 32);
    memcpy(out + 33, y, 32);
    return ok;
}

/* The pseudonym of se for the fixed site `seed`. */
static inline tes_err sec_pseudonym(tes_se *se, const char *pin, uint8_t seed,
                                    uint8_t out[TES_SE_PSEUDONYM_LEN])
{
    uint8_t site[65];
    if (!sec_site_point(seed, site))
        return TES_ERR_CRYPTO;
    return tes_se_pseudonym(se, pin, TES_BYTES(site, sizeof site), out);
}

static inline size_t sec_key_count(tes_se *se)
{
    static char ids[256][TES_SE_ID_MAX];
    size_t n = 0;
    if (se->ops->list_keys(se, ids, 256, &n) != TES_OK)
        return (size_t)-1;
    return n;
}

/* Per-site pseudonyms on one secure element whose PIN is `pin` (tries full) and whose PUK is
 * the conformance PUK 12345678. */
__attribute__((unused)) static void se_conformance_pseudonym(tes_se *se, const char *label,
                                                             const char *pin)
{
    uint8_t a1[TES_SE_PSEUDONYM_LEN], a2[TES_SE_PSEUDONYM_LEN], b[TES_SE_PSEUDONYM_LEN];
    uint8_t zero[TES_SE_PSEUDONYM_LEN] = {0};
    uint8_t site_a[65], site_b[65], bad[66];
    REQUIRE(sec_site_point(0x11, site_a) && sec_site_point(0x22, site_b));
    size_t keys_before = sec_key_count(se);

    /* deterministic per site, different between sites */
    SEC_OK(label, sec_pseudonym(se, pin, 0x11, a1));
    SEC_OK(label, sec_pseudonym(se, pin, 0x11, a2));
    CHECK_EQ_MEM(a1, a2, sizeof a1);
    SEC_OK(label, sec_pseudonym(se, pin, 0x22, b));
    CHECK(memcmp(a1, b, sizeof a1) != 0);
    CHECK(memcmp(a1, zero, sizeof a1) != 0);
    /* the pseudonym key is no credential key: nothing new is listed */
    CHECK_EQ_INT(sec_key_count(se), keys_before);

    /* not a public value: not the site key, its hash, or the hash of label || site key */
    uint8_t h[32], lab[20 + 65];
    SEC_OK(label, tes_digest(TES_HASH_SHA256, TES_BYTES(site_a, 65), h));
    CHECK(memcmp(a1, h, 32) != 0);
    CHECK(memcmp(a1, site_a + 1, 32) != 0 && memcmp(a1, site_a + 33, 32) != 0);
    memcpy(lab, TES_SE_PSEUDONYM_LABEL, 20);
    memcpy(lab + 20, site_a, 65);
    SEC_OK(label, tes_digest(TES_HASH_SHA256, TES_BYTES(lab, sizeof lab), h));
    CHECK(memcmp(a1, h, 32) != 0);

    /* the PIN: always needed, counted like every other PIN use */
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);
    memset(a2, 0xa5, sizeof a2);
    SEC_ERR(label, sec_pseudonym(se, NULL, 0x11, a2), TES_ERR_PIN_REQUIRED);
    CHECK_EQ_MEM(a2, zero, sizeof a2); /* nothing released on failure */
    SEC_ERR(label, sec_pseudonym(se, "12", 0x11, a2), TES_ERR_PIN_FORMAT);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);
    memset(a2, 0xa5, sizeof a2);
    SEC_ERR(label, sec_pseudonym(se, "99999999", 0x11, a2), TES_ERR_PIN_WRONG);
    CHECK_EQ_MEM(a2, zero, sizeof a2);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES - 1);
    SEC_ERR(label, sec_pseudonym(se, "99999999", 0x11, a2), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES - 2);
    SEC_OK(label, sec_pseudonym(se, pin, 0x11, a2));
    CHECK_EQ_MEM(a1, a2, sizeof a1);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);

    /* a bad site key: its own error, and no PIN try spent (even with a wrong PIN) */
    memcpy(bad, site_a, 65);
    bad[65] = 0;
    SEC_ERR(label, tes_se_pseudonym(se, pin, TES_BYTES(bad, 64), a2), TES_ERR_SITE_KEY);
    SEC_ERR(label, tes_se_pseudonym(se, pin, TES_BYTES(bad, 66), a2), TES_ERR_SITE_KEY);
    SEC_ERR(label, tes_se_pseudonym(se, pin, TES_BYTES(bad, 0), a2), TES_ERR_SITE_KEY);
    SEC_ERR(label, tes_se_pseudonym(se, pin, TES_BYTES(bad, 33), a2), TES_ERR_SITE_KEY);
    bad[0] = 0x02; /* compressed form */
    SEC_ERR(label, tes_se_pseudonym(se, pin, TES_BYTES(bad, 65), a2), TES_ERR_SITE_KEY);
    bad[0] = 0x04;
    bad[64] ^= 0x01; /* y off the curve */
    SEC_ERR(label, tes_se_pseudonym(se, pin, TES_BYTES(bad, 65), a2), TES_ERR_SITE_KEY);
    SEC_ERR(label, tes_se_pseudonym(se, "99999999", TES_BYTES(bad, 65), a2), TES_ERR_SITE_KEY);
    memset(bad, 0, 65);
    bad[0] = 0x04; /* (0, 0) */
    SEC_ERR(label, tes_se_pseudonym(se, pin, TES_BYTES(bad, 65), a2), TES_ERR_SITE_KEY);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);
    SEC_ERR(label, tes_se_pseudonym(NULL, pin, TES_BYTES(site_a, 65), a2), TES_ERR_ARG);
    SEC_ERR(label, tes_se_pseudonym(se, pin, TES_BYTES(site_a, 65), NULL), TES_ERR_ARG);

    /* a locked PIN locks pseudonyms too, until the PUK (the conformance PUK) unblocks it */
    for (int i = 0; i < TES_SE_PIN_TRIES; i++)
        SEC_ERR(label, sec_pseudonym(se, "99999999", 0x11, a2), TES_ERR_PIN_WRONG);
    SEC_ERR(label, sec_pseudonym(se, pin, 0x11, a2), TES_ERR_PIN_LOCKED);
    SEC_OK(label, se->ops->pin_unblock(se, "12345678", pin));
    SEC_OK(label, sec_pseudonym(se, pin, 0x11, a2));
    CHECK_EQ_MEM(a1, a2, sizeof a1);
}

/* Two wallets (secure elements a and b, PINs pin_a and pin_b) give different pseudonyms for
 * the same site. */
__attribute__((unused)) static void se_conformance_pseudonym_two(tes_se *a, const char *pin_a,
                                                                 tes_se *b, const char *pin_b,
                                                                 const char *label)
{
    uint8_t pa[TES_SE_PSEUDONYM_LEN], pb[TES_SE_PSEUDONYM_LEN];
    SEC_OK(label, sec_pseudonym(a, pin_a, 0x11, pa));
    SEC_OK(label, sec_pseudonym(b, pin_b, 0x11, pb));
    CHECK(memcmp(pa, pb, sizeof pa) != 0);
}

__attribute__((unused)) static void se_conformance(tes_se *se, const char *label,
                                                   tes_bytes vendor_roots)
{
    fprintf(stderr, "se_conformance: backend %s\n", label);
    REQUIRE(se != NULL && se->ops != NULL);
    const tes_se_ops *ops = se->ops;
    REQUIRE(ops->size >= sizeof(tes_se_ops));
    REQUIRE(ops->name != NULL);
    uint32_t caps = tes_se_caps(se);

    /* ---- PIN: not set yet, format, set once */
    int pin_left = -1, puk_left = -1;
    bool pin_set = true;
    SEC_OK(label, ops->pin_status(se, &pin_left, &puk_left, &pin_set));
    CHECK(!pin_set);
    SEC_ERR(label, ops->pin_verify(se, "123456"), TES_ERR_PIN_NOT_SET);
    SEC_ERR(label, ops->pin_set(se, "12", "12345678"), TES_ERR_PIN_FORMAT);
    SEC_ERR(label, ops->pin_set(se, "123456", "1234"), TES_ERR_PIN_FORMAT); /* PUK too short */
    SEC_ERR(label, ops->pin_set(se, "12\t456", "12345678"), TES_ERR_PIN_FORMAT);
    SEC_ERR(label, ops->pin_set(se, "123456", "1234\n678"), TES_ERR_PIN_FORMAT);
    SEC_ERR(label,
            ops->pin_set(se, "1234567890123456789012345678901234567890123456789012345678901234",
                         "12345678"),
            TES_ERR_PIN_FORMAT);         /* 64: too long for either format */
    if (!(caps & TES_SE_CAP_TEXT_PIN)) { /* digits only (a token's PINs may be text) */
        SEC_ERR(label, ops->pin_set(se, "abcd", "12345678"), TES_ERR_PIN_FORMAT);
        SEC_ERR(label, ops->pin_set(se, "12345678901234567", "12345678"), TES_ERR_PIN_FORMAT);
        SEC_ERR(label, ops->pin_set(se, "123456", "1234567x"), TES_ERR_PIN_FORMAT);
    }
    SEC_OK(label, ops->pin_set(se, "123456", "12345678"));
    SEC_ERR(label, ops->pin_set(se, "654321", "87654321"), TES_ERR_STATE);
    SEC_OK(label, ops->pin_status(se, &pin_left, &puk_left, &pin_set));
    CHECK(pin_set);
    CHECK_EQ_INT(pin_left, TES_SE_PIN_TRIES);
    CHECK_EQ_INT(puk_left, TES_SE_PUK_TRIES);
    SEC_OK(label, ops->pin_verify(se, "123456"));
    SEC_ERR(label, ops->pin_verify(se, "12"), TES_ERR_PIN_FORMAT);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES); /* a malformed PIN costs no try */

    /* ---- a key without user verification */
    tes_se_key_opts plain_opts = {.user_verification = false, .single_use = false};
    char plain[TES_SE_ID_MAX] = {0};
    SEC_OK(label, tes_se_create_key(se, &plain_opts, plain));
    REQUIRE(plain[0] != '\0' && strlen(plain) < TES_SE_ID_MAX);
    SEC_OK(label, sec_sign_verify(se, plain, NULL));
    tes_key *plain_pub = NULL;
    SEC_OK(label, tes_se_public_key(se, plain, &plain_pub));
    REQUIRE(plain_pub != NULL);
    CHECK_EQ_INT(tes_key_curve(plain_pub), TES_CURVE_P256);
    CHECK(!tes_key_has_private(plain_pub));

    /* ---- a key with user verification */
    tes_se_key_opts uv_opts = {.user_verification = true, .single_use = false};
    char uv[TES_SE_ID_MAX] = {0};
    SEC_OK(label, tes_se_create_key(se, &uv_opts, uv));
    CHECK(strcmp(uv, plain) != 0);
    SEC_ERR(label, sec_sign_verify(se, uv, NULL), TES_ERR_PIN_REQUIRED);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);
    SEC_ERR(label, sec_sign_verify(se, uv, "999999"), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES - 1);
    SEC_ERR(label, sec_sign_verify(se, uv, "999999"), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES - 2);
    SEC_OK(label, sec_sign_verify(se, uv, "123456"));
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);

    /* ---- lockout: TES_SE_PIN_TRIES wrong PINs, then even the right one is refused */
    for (int i = 0; i < TES_SE_PIN_TRIES; i++) {
        SEC_ERR(label, ops->pin_verify(se, "111111"), TES_ERR_PIN_WRONG);
        CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES - 1 - i);
    }
    SEC_ERR(label, ops->pin_verify(se, "123456"), TES_ERR_PIN_LOCKED);
    SEC_ERR(label, ops->pin_verify(se, "111111"), TES_ERR_PIN_LOCKED);
    SEC_ERR(label, sec_sign_verify(se, uv, "123456"), TES_ERR_PIN_LOCKED);
    SEC_ERR(label, ops->pin_change(se, "123456", "2222"), TES_ERR_PIN_LOCKED);
    CHECK_EQ_INT(sec_pin_tries(se), 0);
    SEC_OK(label, sec_sign_verify(se, plain, NULL)); /* keys without UV still work */

    /* ---- unblock with the PUK */
    SEC_ERR(label, ops->pin_unblock(se, "00000000", "246810"), TES_ERR_PUK_WRONG);
    CHECK_EQ_INT(sec_puk_tries(se), TES_SE_PUK_TRIES - 1);
    SEC_ERR(label, ops->pin_unblock(se, "12345678", "24"), TES_ERR_PIN_FORMAT);
    SEC_ERR(label, ops->pin_verify(se, "123456"), TES_ERR_PIN_LOCKED);
    SEC_OK(label, ops->pin_unblock(se, "12345678", "246810"));
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);
    CHECK_EQ_INT(sec_puk_tries(se), TES_SE_PUK_TRIES);
    SEC_ERR(label, sec_sign_verify(se, uv, "123456"), TES_ERR_PIN_WRONG); /* old PIN gone */
    SEC_OK(label, sec_sign_verify(se, uv, "246810"));
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);

    /* ---- change */
    SEC_ERR(label, ops->pin_change(se, "000000", "7654321"), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES - 1);
    SEC_ERR(label, ops->pin_change(se, "246810", "76x"), TES_ERR_PIN_FORMAT);
    SEC_OK(label, ops->pin_change(se, "246810", "7654321"));
    CHECK_EQ_INT(sec_pin_tries(se), TES_SE_PIN_TRIES);
    SEC_ERR(label, ops->pin_verify(se, "246810"), TES_ERR_PIN_WRONG);
    SEC_OK(label, ops->pin_verify(se, "7654321"));
    SEC_OK(label, sec_sign_verify(se, uv, "7654321"));

    /* ---- single use */
    tes_se_key_opts once_opts = {.user_verification = false, .single_use = true};
    char once[TES_SE_ID_MAX] = {0};
    SEC_OK(label, tes_se_create_key(se, &once_opts, once));
    tes_se_key_info info;
    memset(&info, 0xa5, sizeof info);
    SEC_OK(label, ops->key_info(se, once, &info));
    CHECK(!info.used);
    SEC_OK(label, sec_sign_verify(se, once, NULL));
    SEC_ERR(label, sec_sign_verify(se, once, NULL), TES_ERR_KEY_USED);
    SEC_OK(label, ops->key_info(se, once, &info));
    CHECK(info.used);
    CHECK(info.single_use);

    /* ---- key info */
    memset(&info, 0xa5, sizeof info);
    SEC_OK(label, ops->key_info(se, uv, &info));
    CHECK_EQ_STR(info.id, uv);
    CHECK_EQ_INT(info.curve, TES_CURVE_P256);
    CHECK(info.user_verification);
    CHECK(!info.single_use);
    CHECK(!info.used);
    CHECK_EQ_INT(info.enforced_by_backend & ~caps, 0); /* only what the backend can do */
    memset(&info, 0xa5, sizeof info);
    SEC_OK(label, ops->key_info(se, plain, &info));
    CHECK_EQ_STR(info.id, plain);
    CHECK(!info.user_verification);
    CHECK(!info.single_use);
    CHECK(!info.used);
    SEC_ERR(label, ops->key_info(se, "no-such-key", &info), TES_ERR_KEY_UNKNOWN);

    /* ---- list */
    CHECK(sec_list_has(se, plain));
    CHECK(sec_list_has(se, uv));
    CHECK(sec_list_has(se, once));

    /* ---- key agreement */
    tes_key *peer = NULL;
    SEC_OK(label, tes_key_generate(TES_CURVE_P256, &peer));
    REQUIRE(peer != NULL);
    uint8_t z_se[TES_MAX_COORD], z_ref[TES_MAX_COORD];
    size_t z_se_len = 0, z_ref_len = 0;
    if (caps & TES_SE_CAP_ECDH_EXPORT) {
        SEC_OK(label, ops->key_agreement(se, plain, NULL, peer, z_se, &z_se_len));
        SEC_OK(label, tes_key_ecdh(peer, plain_pub, z_ref, &z_ref_len));
        CHECK_EQ_INT(z_se_len, 32);
        CHECK_EQ_INT(z_se_len, z_ref_len);
        CHECK_EQ_MEM(z_se, z_ref, z_ref_len);
        SEC_ERR(label, ops->key_agreement(se, uv, NULL, peer, z_se, &z_se_len),
                TES_ERR_PIN_REQUIRED);
        SEC_OK(label, ops->key_agreement(se, uv, "7654321", peer, z_se, &z_se_len));
        SEC_ERR(label, ops->key_agreement(se, once, NULL, peer, z_se, &z_se_len), TES_ERR_KEY_USED);
    } else {
        SEC_ERR(label, ops->key_agreement(se, plain, NULL, peer, z_se, &z_se_len),
                TES_ERR_UNSUPPORTED);
    }

    /* ---- attestation */
    if ((caps & TES_SE_CAP_ATTESTATION) && ops->attest != NULL) {
        static const char challenge[] = "conformance challenge 0123456789";
        tes_buf chain = {0};
        SEC_OK(label, ops->attest(se, uv, TES_BYTES_STR(challenge), &chain));
        tes_cbor_doc doc = {0};
        SEC_OK(label, tes_cbor_parse(tes_buf_bytes(&chain), NULL, &doc));
        CHECK(doc.count > 0 && tes_cbor_is(&doc, 0, TES_CBOR_ARRAY) &&
              tes_cbor_count(&doc, 0) >= 1);
        tes_cbor_doc_free(&doc);
        if (vendor_roots.len > 0) {
            tes_se_attested att;
            memset(&att, 0, sizeof att);
            SEC_OK(label,
                   tes_se_attestation_verify(tes_buf_bytes(&chain), vendor_roots,
                                             TES_BYTES_STR(challenge), (int64_t)time(NULL), &att));
            if (att.key != NULL) {
                tes_key *uv_pub = NULL;
                SEC_OK(label, tes_se_public_key(se, uv, &uv_pub));
                CHECK(uv_pub != NULL && tes_key_equal_public(att.key, uv_pub));
                tes_key_free(uv_pub);
                tes_key_free(att.key);
            }
            CHECK(att.user_verification);
            CHECK(!att.single_use);
            CHECK_EQ_STR(att.backend, ops->name);
            memset(&att, 0, sizeof att);
            SEC_ERR(label,
                    tes_se_attestation_verify(tes_buf_bytes(&chain), vendor_roots,
                                              TES_BYTES_STR("another challenge"),
                                              (int64_t)time(NULL), &att),
                    TES_ERR_ATTESTATION);
            tes_key_free(att.key);
        }
        tes_buf_free(&chain);
        SEC_ERR(label, ops->attest(se, "no-such-key", TES_BYTES_STR(challenge), &chain),
                TES_ERR_KEY_UNKNOWN);
        tes_buf_free(&chain);
    }

    /* ---- COSE_Sign1 through the secure element */
    {
        tes_se_signer_ctx sctx = {se, uv, "7654321"};
        tes_signer signer = {tes_se_cose_sign, &sctx, TES_COSE_ES256};
        tes_buf out = {0};
        tes_cbor_enc enc = {.out = &out};
        static const char payload[] = "payload signed in the secure element";
        tes_cose_sign1_write(&enc, &signer, TES_BYTES_STR(payload),
                             &(tes_cose_opts){.flags = TES_COSE_TAGGED});
        SEC_OK(label, tes_cbor_enc_finish(&enc));
        tes_cose_msg msg;
        SEC_OK(label, tes_cose_sign1_parse(tes_buf_bytes(&out), &msg));
        tes_key *uv_pub = NULL;
        SEC_OK(label, tes_se_public_key(se, uv, &uv_pub));
        if (uv_pub != NULL)
            SEC_OK(label,
                   tes_cose_sign1_verify(&msg, uv_pub, TES_BYTES(NULL, 0), TES_BYTES(NULL, 0)));
        tes_key_free(uv_pub);
        tes_buf_free(&out);
        uint8_t sig[TES_MAX_SIG];
        size_t sig_len = sizeof sig;
        SEC_ERR(label,
                tes_se_cose_sign(&sctx, TES_COSE_ES384, TES_BYTES_STR(payload), sig, &sig_len),
                TES_ERR_UNSUPPORTED);
    }

    /* ---- delete */
    SEC_OK(label, ops->delete_key(se, plain));
    SEC_ERR(label, sec_sign_verify(se, plain, NULL), TES_ERR_KEY_UNKNOWN);
    tes_key *gone = NULL;
    SEC_ERR(label, tes_se_public_key(se, plain, &gone), TES_ERR_KEY_UNKNOWN);
    CHECK(gone == NULL);
    SEC_ERR(label, ops->key_info(se, plain, &info), TES_ERR_KEY_UNKNOWN);
    SEC_ERR(label, ops->delete_key(se, plain), TES_ERR_KEY_UNKNOWN);
    CHECK(!sec_list_has(se, plain));
    CHECK(sec_list_has(se, uv));
    if (caps & TES_SE_CAP_ECDH_EXPORT)
        SEC_ERR(label, ops->key_agreement(se, plain, NULL, peer, z_se, &z_se_len),
                TES_ERR_KEY_UNKNOWN);

    /* ---- per-site pseudonyms */
    if (caps & TES_SE_CAP_PSEUDONYM) {
        se_conformance_pseudonym(se, label, "7654321");
    } else {
        uint8_t p[TES_SE_PSEUDONYM_LEN];
        SEC_ERR(label, sec_pseudonym(se, "7654321", 0x11, p), TES_ERR_UNSUPPORTED);
    }

    tes_key_free(peer);
    tes_key_free(plain_pub);
}

#endif /* TES_TESTS_SE_CONFORMANCE_H */
