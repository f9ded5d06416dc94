/*
 * tessera/jose.h: compact JWS ES256 (RFC 7515 / RFC 7518 §3.4), EC P-256
 * JWKs and their RFC 7638 thumbprint, JWT claim helpers. Every refusal of
 * docs/JOSE.md's hostile inputs with its error, the RFC 7515 A.3 vector, a
 * round trip through a signing callback.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#include <jansson.h>

#include "tessera/jose.h"

/* RFC 7515 Appendix A.3: the ES256 example, its key. */
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_JWS                                                                                     \
    "eyJhbGciOiJFUzI1NiJ9."                                                                        \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl" \
    "fQ."                                                                                          \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
/* base64url SHA-256 of {"crv":"P-256","kty":"EC","x":A3_X,"y":A3_Y}, computed
 * with Python's hashlib and with libjose's jose_jwk_thp (they agree). */
#define A3_THUMBPRINT "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"

static const char HDR[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
static const char PAY[] = "{\"iss\":\"x\",\"aud\":[\"a\",\"b\"],\"iat\":1800000000,\"nonce\":\"n\"}";

static tes_key *A3_key(void)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", A3_X, "y", A3_Y);
    tes_key *k = NULL;
    if (tes_jwk_to_key(j, &k) != TES_OK)
        k = NULL;
    json_decref(j);
    return k;
}

/* ------------------------------------------------------------------ building inputs */

static void b64_text(tes_buf *out, const char *text, size_t n)
{
    tes_b64url_encode(out, TES_BYTES(text, n));
}

/* base64url(hdr) "." base64url(payload) "." base64url(sig), NUL-terminated (free). */
static char *compact(const char *hdr, size_t hl, const char *payload, const uint8_t *sig,
                     size_t sl)
{
    tes_buf b = {0};
    b64_text(&b, hdr, hl);
    tes_buf_append(&b, ".", 1);
    b64_text(&b, payload, strlen(payload));
    tes_buf_append(&b, ".", 1);
    tes_b64url_encode(&b, TES_BYTES(sig, sl));
    tes_buf_append(&b, "", 1);
    return (char *)b.ptr;
}

enum { RAW, DER, HIGH_S };

/* hdr.payload signed by k (raw r||s, DER, or with s replaced by n - s). */
static char *signed_jws(const char *hdr, const char *payload, const tes_key *k, int form)
{
    tes_buf si = {0};
    b64_text(&si, hdr, strlen(hdr));
    tes_buf_append(&si, ".", 1);
    b64_text(&si, payload, strlen(payload));
    uint8_t sig[64];
    if (tes_jws_key_signer((void *)k, tes_buf_bytes(&si), sig) != TES_OK) {
        tes_buf_free(&si);
        return NULL;
    }
    tes_buf_free(&si);
    if (form == HIGH_S) { /* s' = n - s, the other valid signature (P-256 order n) */
        static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                      0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
        int borrow = 0;
        for (int i = 31; i >= 0; i--) {
            int d = n[i] - sig[32 + i] - borrow;
            borrow = d < 0;
            sig[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
        }
    }
    if (form != DER)
        return compact(hdr, strlen(hdr), payload, sig, sizeof sig);
    /* SEQUENCE { INTEGER r, INTEGER s }, minimal, a 0x00 before a high bit */
    uint8_t der[72];
    size_t o = 2;
    for (int h = 0; h < 2; h++) {
        const uint8_t *v = sig + 32 * h;
        size_t skip = 0;
        while (skip < 31 && v[skip] == 0)
            skip++;
        bool pad = v[skip] & 0x80;
        der[o++] = 0x02;
        der[o++] = (uint8_t)(32 - skip + pad);
        if (pad)
            der[o++] = 0;
        memcpy(der + o, v + skip, 32 - skip);
        o += 32 - skip;
    }
    der[0] = 0x30;
    der[1] = (uint8_t)(o - 2);
    return compact(hdr, strlen(hdr), payload, der, o);
}

/* The first refusal of text: parse, then the header (typ when not NULL), then
 * the signature with k. */
static tes_err first_refusal(const char *text, size_t len, const tes_jws_limits *lim,
                             const tes_key *k, const char *typ)
{
    tes_jws j;
    tes_err e = tes_jws_parse(text, len, lim, &j);
    if (e != TES_OK) {
        CHECK(j.header == NULL && j.payload == NULL);
        return e;
    }
    if ((e = tes_jws_check_header(&j, typ)) == TES_OK)
        e = tes_jws_verify(&j, k);
    tes_jws_free(&j);
    return e;
}

static tes_err refusal(const char *text, const tes_key *k)
{
    return text ? first_refusal(text, strlen(text), NULL, k, NULL) : TES_ERR_ARG;
}

/* ------------------------------------------------------------------ tests */

TEST(rfc7515_a3_vector_verifies)
{
    tes_key *k = A3_key();
    REQUIRE(k != NULL);
    tes_jws j;
    REQUIRE(tes_jws_parse(A3_JWS, strlen(A3_JWS), NULL, &j) == TES_OK);
    CHECK_ERR(tes_jws_check_header(&j, NULL), TES_OK);
    CHECK_ERR(tes_jws_verify(&j, k), TES_OK);
    CHECK_EQ_STR(json_string_value(json_object_get(j.payload, "iss")), "joe");
    int64_t exp = 0;
    CHECK_ERR(tes_jwt_int(j.payload, "exp", &exp), TES_OK);
    CHECK(exp == 1300819380);
    /* the signing input is the received text, not a re-encoding */
    CHECK(j.signing_input == (const char *)A3_JWS &&
          j.signing_input_len == strlen(A3_JWS) - 87);
    tes_jws_free(&j);
    /* one flipped bit of the signature */
    char *bad = strdup(A3_JWS);
    bad[strlen(bad) - 5] ^= 1;
    CHECK_ERR(refusal(bad, k), TES_ERR_SIGNATURE);
    free(bad);
    tes_key_free(k);
}

/* What tes_jws_sign hands to the signer: counted, signed with the key. */
static int SIGN_CALLS;
static tes_err counting_signer(void *ctx, tes_bytes msg, uint8_t sig[64])
{
    SIGN_CALLS++;
    return tes_jws_key_signer(ctx, msg, sig);
}
static tes_err failing_signer(void *ctx, tes_bytes msg, uint8_t sig[64])
{
    (void)ctx, (void)msg, (void)sig;
    return tes_err_set(TES_ERR_PIN_WRONG, "wrong PIN");
}

TEST(round_trip_through_a_signing_callback)
{
    tes_key *k = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    json_t *h = json_loads(HDR, 0, NULL), *p = json_loads(PAY, 0, NULL);
    REQUIRE(h && p);
    tes_buf out = {0};
    tes_buf_append(&out, "x", 1); /* appended after what is there */
    CHECK_ERR(tes_jws_sign(h, p, counting_signer, k, &out), TES_OK);
    CHECK(SIGN_CALLS == 1);
    REQUIRE(out.len > 1 && out.ptr[0] == 'x');
    tes_jws j;
    REQUIRE(tes_jws_parse((const char *)out.ptr + 1, out.len - 1, NULL, &j) == TES_OK);
    CHECK_ERR(tes_jws_check_header(&j, "JWT"), TES_OK);
    CHECK_ERR(tes_jws_verify(&j, k), TES_OK);
    CHECK(json_equal(j.header, h) && json_equal(j.payload, p));
    /* members in their insertion order, compact: the header text is HDR */
    tes_buf hb = {0};
    CHECK_ERR(tes_jose_json_encode(h, &hb), TES_OK);
    CHECK(hb.len < out.len && memcmp(hb.ptr, out.ptr + 1, hb.len) == 0);
    tes_buf_free(&hb);
    CHECK(tes_jwt_aud_has(j.payload, "b") && !tes_jwt_aud_has(j.payload, "c"));
    char nonce[8];
    CHECK_ERR(tes_jwt_string(j.payload, "nonce", 7, nonce), TES_OK);
    CHECK_EQ_STR(nonce, "n");
    CHECK_ERR(tes_jwt_string(j.payload, "none", 7, nonce), TES_ERR_NOT_FOUND);
    CHECK_ERR(tes_jwt_string(j.payload, "iat", 7, nonce), TES_ERR_JOSE);
    CHECK_ERR(tes_jwt_int(j.payload, "iss", &(int64_t){0}), TES_ERR_JOSE);
    tes_jws_free(&j);

    /* a signer that fails: its error, out untouched */
    size_t before = out.len;
    CHECK_ERR(tes_jws_sign(h, p, failing_signer, NULL, &out), TES_ERR_PIN_WRONG);
    CHECK(out.len == before);
    /* nothing but ES256 is signed */
    json_object_set_new(h, "alg", json_string("none"));
    CHECK_ERR(tes_jws_sign(h, p, counting_signer, k, &out), TES_ERR_ARG);
    CHECK(SIGN_CALLS == 1 && out.len == before);
    tes_buf_free(&out);
    json_decref(h);
    json_decref(p);
    tes_key_free(k);
}

TEST(hostile_compact_jws_each_refused)
{
    tes_key *k = NULL, *other = NULL, *k384 = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &k) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P256, &other) == TES_OK);
    REQUIRE(tes_key_generate(TES_CURVE_P384, &k384) == TES_OK);
    char *good = signed_jws(HDR, PAY, k, RAW);
    REQUIRE(good != NULL);
    CHECK_ERR(refusal(good, k), TES_OK);
    struct {
        const char *what;
        char *jws;
        tes_err want;
    } cases[] = {
        {"duplicate alg", signed_jws("{\"alg\":\"ES256\",\"alg\":\"ES256\"}", PAY, k, RAW),
         TES_ERR_JOSE},
        {"duplicate claim", signed_jws(HDR, "{\"iss\":\"x\",\"iss\":\"y\"}", k, RAW), TES_ERR_JOSE},
        {"alg none, 64-byte signature", signed_jws("{\"alg\":\"none\"}", PAY, k, RAW),
         TES_ERR_JOSE_HEADER},
        {"alg ES384", signed_jws("{\"alg\":\"ES384\"}", PAY, k, RAW), TES_ERR_JOSE_HEADER},
        {"alg HS256", signed_jws("{\"alg\":\"HS256\"}", PAY, k, RAW), TES_ERR_JOSE_HEADER},
        {"alg es256", signed_jws("{\"alg\":\"es256\"}", PAY, k, RAW), TES_ERR_JOSE_HEADER},
        {"alg not a string", signed_jws("{\"alg\":[\"ES256\"]}", PAY, k, RAW),
         TES_ERR_JOSE_HEADER},
        {"no alg", signed_jws("{\"typ\":\"JWT\"}", PAY, k, RAW), TES_ERR_JOSE_HEADER},
        {"crit", signed_jws("{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", PAY, k, RAW),
         TES_ERR_JOSE_HEADER},
        {"empty crit", signed_jws("{\"alg\":\"ES256\",\"crit\":[]}", PAY, k, RAW),
         TES_ERR_JOSE_HEADER},
        {"DER signature", signed_jws(HDR, PAY, k, DER), TES_ERR_SIGNATURE},
        {"another key's signature", signed_jws(HDR, PAY, other, RAW), TES_ERR_SIGNATURE},
        {"header an array", signed_jws("[\"ES256\"]", PAY, k, RAW), TES_ERR_JOSE},
        {"header not JSON", signed_jws("{alg:ES256}", PAY, k, RAW), TES_ERR_JOSE},
        {"header with trailing data", signed_jws("{\"alg\":\"ES256\"}{}", PAY, k, RAW),
         TES_ERR_JOSE},
        {"payload a string", signed_jws(HDR, "\"hello\"", k, RAW), TES_ERR_JOSE},
        {"payload with NUL escape", signed_jws(HDR, "{\"iss\":\"a\\u0000b\"}", k, RAW),
         TES_ERR_JOSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tes_err got = refusal(cases[i].jws, k);
        if (got != cases[i].want)
            fprintf(stderr, "    case \"%s\": got %s (%s)\n", cases[i].what, tes_err_name(got),
                    tes_err_message());
        CHECK(got == cases[i].want);
        free(cases[i].jws);
    }

    /* high-S verifies: RFC 7518 §3.4 and FIPS 186 do not ask for low S */
    char *high = signed_jws(HDR, PAY, k, HIGH_S);
    CHECK_ERR(refusal(high, k), TES_OK);
    free(high);
    /* "alg":"none" with the empty signature it comes with */
    {
        tes_buf b = {0};
        b64_text(&b, "{\"alg\":\"none\"}", 14);
        tes_buf_append(&b, ".", 1);
        b64_text(&b, PAY, strlen(PAY));
        tes_buf_append(&b, ".", 2); /* the dot and the NUL */
        CHECK_ERR(refusal((const char *)b.ptr, k), TES_ERR_SIGNATURE);
        tes_buf_free(&b);
    }
    /* ES256 with a P-384 key */
    CHECK_ERR(refusal(good, k384), TES_ERR_JOSE_HEADER);
    /* typ */
    CHECK_ERR(first_refusal(good, strlen(good), NULL, k, "openid4vci-proof+jwt"),
              TES_ERR_JOSE_HEADER);
    CHECK_ERR(first_refusal(good, strlen(good), NULL, k, "JWT"), TES_OK);

    /* framing and base64url */
    size_t n = strlen(good);
    const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
    char *t = malloc(n + 8);
    REQUIRE(t != NULL);
    snprintf(t, n + 8, "%s.AAAA", good); /* four parts */
    CHECK_ERR(refusal(t, k), TES_ERR_JOSE);
    snprintf(t, n + 8, "%.*s", (int)(d2 - good), good); /* two parts */
    CHECK_ERR(refusal(t, k), TES_ERR_JOSE);
    snprintf(t, n + 8, "%s", d1); /* empty header */
    CHECK_ERR(refusal(t, k), TES_ERR_JOSE);
    snprintf(t, n + 8, "%.*s.%s", (int)(d1 - good), good, d2); /* empty payload */
    CHECK_ERR(refusal(t, k), TES_ERR_JOSE);
    snprintf(t, n + 8, "%.*s=%s", (int)(d1 - good), good, d1); /* padding in the header */
    CHECK_ERR(refusal(t, k), TES_ERR_JOSE);
    snprintf(t, n + 8, "%s==", good); /* padding after the signature */
    CHECK_ERR(refusal(t, k), TES_ERR_JOSE);
    snprintf(t, n + 8, "%s", good);
    t[1] = '+'; /* base64, not base64url */
    CHECK_ERR(refusal(t, k), TES_ERR_JOSE);
    t[1] = good[1];
    t[d2 - good + 3] = '/';
    CHECK_ERR(refusal(t, k), TES_ERR_JOSE);
    /* non-canonical: an unused bit of the signature's last character set (86
     * characters carry 64 bytes and 4 bits that must be zero) */
    snprintf(t, n + 8, "%s", good);
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    t[n - 1] = al[(strchr(al, t[n - 1]) - al) | 1];
    CHECK_ERR(refusal(t, k), TES_ERR_SIGNATURE);
    /* ... and of the header's: {"alg":"ES256"} is 15 bytes, 20 characters, no
     * unused bits; {"alg":"ES256","x":12} is 22 bytes: 30 characters, 4 unused bits */
    free(t);
    {
        uint8_t sig[64] = {1};
        char *c = compact("{\"alg\":\"ES256\",\"x\":12}", 22, PAY, sig, 64);
        REQUIRE(c != NULL && strchr(c, '.') - c == 30);
        c[29] = al[(strchr(al, c[29]) - al) | 1];
        CHECK_ERR(refusal(c, k), TES_ERR_JOSE);
        free(c);
        /* a signature of 63 and of 65 bytes */
        c = compact(HDR, strlen(HDR), PAY, sig, 63);
        CHECK_ERR(refusal(c, k), TES_ERR_SIGNATURE);
        free(c);
        uint8_t sig65[65] = {0};
        c = compact(HDR, strlen(HDR), PAY, sig65, 65);
        CHECK_ERR(refusal(c, k), TES_ERR_SIGNATURE);
        free(c);
    }

    /* sizes: the whole, the header, the payload */
    {
        tes_jws_limits lim = {.max_len = n - 1};
        CHECK_ERR(first_refusal(good, n, &lim, k, NULL), TES_ERR_JOSE);
        lim = (tes_jws_limits){.max_header = (size_t)(d1 - good) - 1};
        CHECK_ERR(first_refusal(good, n, &lim, k, NULL), TES_ERR_JOSE);
        lim = (tes_jws_limits){.max_payload = (size_t)(d2 - d1 - 1) - 1};
        CHECK_ERR(first_refusal(good, n, &lim, k, NULL), TES_ERR_JOSE);
        lim = (tes_jws_limits){.max_len = n, .max_header = (size_t)(d1 - good),
                               .max_payload = (size_t)(d2 - d1 - 1)};
        CHECK_ERR(first_refusal(good, n, &lim, k, NULL), TES_OK);
        /* a 40000-byte header: over the default part bound */
        size_t big = 40000;
        char *h = malloc(big + 1);
        REQUIRE(h != NULL);
        memset(h, ' ', big);
        memcpy(h, "{\"alg\":\"ES256\"", 14);
        h[big - 1] = '}';
        h[big] = '\0';
        char *c = signed_jws(h, PAY, k, RAW);
        CHECK_ERR(refusal(c, k), TES_ERR_JOSE);
        free(c);
        free(h);
        CHECK_ERR(first_refusal("", 0, NULL, k, NULL), TES_ERR_JOSE);
    }
    free(good);
    tes_key_free(k);
    tes_key_free(other);
    tes_key_free(k384);
}

TEST(jwk_round_trip_thumbprint_and_refusals)
{
    tes_key *k = A3_key(), *back = NULL, *k384 = NULL;
    REQUIRE(k != NULL);
    char th[TES_JWK_THUMBPRINT_LEN + 1];
    CHECK_ERR(tes_jwk_thumbprint(k, th), TES_OK);
    CHECK_EQ_STR(th, A3_THUMBPRINT);
    json_t *j = NULL;
    CHECK_ERR(tes_jwk_from_key(k, &j), TES_OK);
    REQUIRE(j != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "x")), A3_X);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "y")), A3_Y);
    CHECK(json_object_get(j, "d") == NULL);
    CHECK_ERR(tes_jwk_to_key(j, &back), TES_OK);
    CHECK(back && tes_key_equal_public(k, back));
    tes_key_free(back);

    struct {
        const char *what, *member;
        json_t *value; /* NULL: member deleted */
    } bad[] = {
        {"private part", "d", json_string("jpsQnnGQmL-YBIffH1136cLnT8EgfH3cTzP9kGkoFtM")},
        {"kty RSA", "kty", json_string("RSA")},
        {"kty missing", "kty", NULL},
        {"crv P-384", "crv", json_string("P-384")},
        {"crv secp256k1", "crv", json_string("secp256k1")},
        {"x missing", "x", NULL},
        {"x a number", "x", json_integer(1)},
        {"x 31 bytes", "x", json_string("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVA")},
        {"x padded", "x", json_string("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=")},
        {"x base64", "x", json_string("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvR+EU")},
        {"x non-canonical", "x", json_string("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEV")},
        {"y off the curve", "y", json_string("y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *c = json_deep_copy(j);
        if (bad[i].value)
            json_object_set_new(c, bad[i].member, bad[i].value);
        else
            json_object_del(c, bad[i].member);
        tes_key *got = NULL;
        tes_err e = tes_jwk_to_key(c, &got);
        if (e != TES_ERR_JWK)
            fprintf(stderr, "    jwk case \"%s\": got %s\n", bad[i].what, tes_err_name(e));
        CHECK(e == TES_ERR_JWK && got == NULL);
        tes_key_free(got);
        json_decref(c);
    }
    json_t *arr = json_array();
    CHECK_ERR(tes_jwk_to_key(arr, &back), TES_ERR_JWK);
    json_decref(arr);
    /* only P-256 keys become JWKs */
    REQUIRE(tes_key_generate(TES_CURVE_P384, &k384) == TES_OK);
    json_t *none = NULL;
    CHECK_ERR(tes_jwk_from_key(k384, &none), TES_ERR_JWK);
    CHECK(none == NULL);
    CHECK_ERR(tes_jwk_thumbprint(k384, th), TES_ERR_JWK);
    json_decref(j);
    tes_key_free(k);
    tes_key_free(k384);
}

TEST(segment_decode_bounds_and_aud_forms)
{
    json_t *o = NULL;
    CHECK_ERR(tes_jose_json_decode("e30", 3, 3, &o), TES_OK); /* {} */
    CHECK(json_is_object(o));
    json_decref(o);
    CHECK_ERR(tes_jose_json_decode("e30", 3, 2, &o), TES_ERR_JOSE);
    CHECK(o == NULL);
    CHECK_ERR(tes_jose_json_decode("", 0, 8, &o), TES_ERR_JOSE);
    CHECK_ERR(tes_jose_json_decode("e31", 3, 8, &o), TES_ERR_JOSE); /* unused bit set */
    CHECK_ERR(tes_jose_json_decode("e30=", 4, 8, &o), TES_ERR_JOSE);
    CHECK(tes_jose_b64url_chars("-_09azAZ", 8) && !tes_jose_b64url_chars("a=", 2) &&
          !tes_jose_b64url_chars("a+", 2) && !tes_jose_b64url_chars("a/", 2));
    json_t *c = json_pack("{s:s}", "aud", "https://i.example");
    CHECK(tes_jwt_aud_has(c, "https://i.example") && !tes_jwt_aud_has(c, "https://i.exampl"));
    json_object_set_new(c, "aud", json_pack("[i, s]", 1, "https://i.example"));
    CHECK(tes_jwt_aud_has(c, "https://i.example"));
    json_object_set_new(c, "aud", json_stringn("https://i.example\0x", 19));
    CHECK(!tes_jwt_aud_has(c, "https://i.example"));
    json_decref(c);
}

/* ------------------------------------------------------------------ JWE */

/* RFC 7518 Appendix C: Bob's key (the recipient) and Alice's ephemeral key. */
#define BOB_X "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ"
#define BOB_Y "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck"
#define BOB_D "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"
#define ALICE_X "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0"
#define ALICE_Y "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"
#define ALICE_D "0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"

/* Made by panva/jose 6.1.3 (tests/interop/node_modules): CompactEncrypt of
 * {"vp_token":"eyJ...","state":"s1"} to Bob, ECDH-ES, A256GCM, kid "bob",
 * setKeyManagementParameters apu "Alice", apv "Bob" (jose's compactDecrypt
 * decrypts it). */
#define PANVA_JWE \
    "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSIsImtpZCI6ImJvYiIsImVwayI6eyJ4IjoiMi1nVFh0TzZ5RllN" \
    "N3g0WlBVQ2pHZ3hZbll1dTc3RDNNMS1DZGdLVDdZOCIsImNydiI6IlAtMjU2Iiwia3R5IjoiRUMiLCJ5IjoidzM0ZUo5" \
    "X1JtanR3cmRqNGtNd3VONWwtMHpyNjV6Y3ZhNkxzcTI3MFdabyJ9LCJhcHUiOiJRV3hwWTJVIiwiYXB2IjoiUW05aSJ9" \
    "..Dmyk57jPNy38Et8l.z6bv5_QEd24aU0K4ykjipl-iLMuReZbo8FZKQuOyyacMMA.mUlji7GjARUCzT_8E60u5A"
#define PANVA_PLAIN "{\"vp_token\":\"eyJ...\",\"state\":\"s1\"}"

static tes_key *private_key(const char *d64)
{
    tes_buf d = {.secret = true};
    tes_key *k = NULL;
    if (tes_b64url_decode(&d, d64, strlen(d64)) != TES_OK || d.len != 32 ||
        tes_key_from_ec_private(TES_CURVE_P256, tes_buf_bytes(&d), &k) != TES_OK)
        k = NULL;
    tes_buf_free(&d);
    return k;
}

TEST(jwe_concat_kdf_rfc7518_appendix_c)
{
    tes_key *alice = private_key(ALICE_D), *bob = private_key(BOB_D);
    REQUIRE(alice && bob);
    uint8_t z1[32], z2[32], key[16];
    CHECK_ERR(tes_jwe_key_agree(alice, bob, z1), TES_OK);
    CHECK_ERR(tes_jwe_key_agree(bob, alice, z2), TES_OK);
    CHECK(memcmp(z1, z2, 32) == 0);
    CHECK_ERR(tes_jwe_concat_kdf(TES_BYTES(z1, 32), "A128GCM", TES_BYTES("Alice", 5),
                                 TES_BYTES("Bob", 3), key, sizeof key),
              TES_OK);
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(key, sizeof key));
    tes_buf_append(&b, "", 1);
    CHECK_EQ_STR((const char *)b.ptr, "VqqN6vgjbSBcIijNcacQGg");
    tes_buf_free(&b);
    tes_key_free(alice);
    tes_key_free(bob);
}

TEST(jwe_from_panva_jose_decrypts)
{
    tes_key *bob = private_key(BOB_D), *alice = private_key(ALICE_D);
    REQUIRE(bob && alice);
    tes_buf pt = {.secret = true};
    json_t *h = NULL;
    CHECK_ERR(tes_jwe_decrypt(PANVA_JWE, strlen(PANVA_JWE), 0, tes_jwe_key_agree, bob, &h, &pt),
              TES_OK);
    CHECK(pt.len == strlen(PANVA_PLAIN) && memcmp(pt.ptr, PANVA_PLAIN, pt.len) == 0);
    CHECK_EQ_STR(json_string_value(json_object_get(h, "kid")), "bob");
    json_decref(h);
    /* another recipient key: does not decrypt, nothing appended */
    size_t before = pt.len;
    h = (json_t *)1;
    CHECK_ERR(tes_jwe_decrypt(PANVA_JWE, strlen(PANVA_JWE), 0, tes_jwe_key_agree, alice, &h, &pt),
              TES_ERR_SIGNATURE);
    CHECK(pt.len == before && h == NULL);
    /* any changed character of the header (the AAD), IV, ciphertext or tag */
    char *t = strdup(PANVA_JWE);
    size_t n = strlen(t);
    const size_t at[] = {2, n - 78, n - 40, n - 2}; /* header, IV, ciphertext, tag */
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        char was = t[at[i]];
        t[at[i]] = was == 'A' ? 'Q' : 'A';
        tes_err e = tes_jwe_decrypt(t, n, 0, tes_jwe_key_agree, bob, NULL, &pt);
        CHECK(e == TES_ERR_SIGNATURE || e == TES_ERR_JOSE || e == TES_ERR_JOSE_HEADER ||
              e == TES_ERR_JWK);
        CHECK(e != TES_OK && pt.len == before);
        t[at[i]] = was;
    }
    free(t);
    tes_buf_free(&pt);
    tes_key_free(bob);
    tes_key_free(alice);
}

/* A compact JWE of header (JSON text) and the parts of a real one after it. */
static char *jwe_with_header(const char *real, const char *hdr)
{
    tes_buf b = {0};
    b64_text(&b, hdr, strlen(hdr));
    const char *rest = strchr(real, '.');
    tes_buf_append(&b, rest, strlen(rest) + 1);
    return (char *)b.ptr;
}

/* A128GCM: the header says it, the key is 16 bytes (a 32-byte Concat KDF
 * key would not open it: checked by re-deriving with both lengths). */
TEST(jwe_a128gcm_round_trip)
{
    tes_key *bob = private_key(BOB_D);
    REQUIRE(bob != NULL);
    tes_buf jwe = {0}, pt = {0};
    static const char msg[] = "{\"vp_token\":\"y\"}";
    json_t *extra = json_pack("{s:s}", "kid", "k1");
    const tes_jwe_encrypt_opts o = {.enc = TES_JWE_ENC_A128GCM, .extra = extra};
    CHECK_ERR(tes_jwe_encrypt_with(&o, TES_BYTES(msg, strlen(msg)), bob, &jwe), TES_OK);
    tes_buf_append(&jwe, "", 1);
    const char *text = (const char *)jwe.ptr;
    json_t *h = NULL;
    CHECK_ERR(tes_jwe_decrypt(text, strlen(text), 0, tes_jwe_key_agree, bob, &h, &pt), TES_OK);
    CHECK(pt.len == strlen(msg) && memcmp(pt.ptr, msg, pt.len) == 0);
    CHECK_EQ_STR(json_string_value(json_object_get(h, "enc")), "A128GCM");
    CHECK_EQ_STR(json_string_value(json_object_get(h, "kid")), "k1");
    json_decref(h);
    tes_buf_free(&pt);
    /* the same header rewritten to A256GCM no longer decrypts (the AAD and the
     * key length both change) */
    const char *dot = strchr(text, '.');
    tes_buf hb = {0};
    REQUIRE(tes_b64url_decode(&hb, text, (size_t)(dot - text)) == TES_OK);
    tes_buf_append(&hb, "", 1);
    char *hdr = strdup((const char *)hb.ptr);
    char *at = strstr(hdr, "A128GCM");
    REQUIRE(at != NULL);
    memcpy(at, "A256GCM", 7);
    char *j = jwe_with_header(text, hdr);
    CHECK_ERR(tes_jwe_decrypt(j, strlen(j), 0, tes_jwe_key_agree, bob, NULL, &pt),
              TES_ERR_SIGNATURE);
    CHECK(pt.len == 0);
    free(j);
    free(hdr);
    tes_buf_free(&hb);
    /* an unknown enc is refused by encrypt */
    const tes_jwe_encrypt_opts bad = {.enc = (tes_jwe_enc)7};
    CHECK_ERR(tes_jwe_encrypt_with(&bad, TES_BYTES(msg, 3), bob, &pt), TES_ERR_ARG);
    CHECK(pt.len == 0);
    json_decref(extra);
    tes_buf_free(&jwe);
    tes_key_free(bob);
}

TEST(jwe_round_trip_and_refusals)
{
    tes_key *bob = private_key(BOB_D), *k384 = NULL;
    REQUIRE(bob != NULL);
    REQUIRE(tes_key_generate(TES_CURVE_P384, &k384) == TES_OK);
    json_t *extra = json_pack("{s:s, s:s}", "kid", "v1", "apv", "Qm9i");
    tes_buf jwe = {0}, pt = {0};
    static const char msg[] = "{\"vp_token\":\"x\"}";
    CHECK_ERR(tes_jwe_encrypt(extra, TES_BYTES(msg, strlen(msg)), bob, NULL, &jwe), TES_OK);
    tes_buf_append(&jwe, "", 1);
    const char *text = (const char *)jwe.ptr;
    json_t *h = NULL;
    CHECK_ERR(tes_jwe_decrypt(text, strlen(text), 0, tes_jwe_key_agree, bob, &h, &pt), TES_OK);
    CHECK(pt.len == strlen(msg) && memcmp(pt.ptr, msg, pt.len) == 0);
    CHECK_EQ_STR(json_string_value(json_object_get(h, "alg")), "ECDH-ES");
    CHECK_EQ_STR(json_string_value(json_object_get(h, "kid")), "v1");
    json_decref(h);
    tes_buf_free(&pt);

    /* what encrypt refuses */
    json_t *bad = json_pack("{s:s}", "enc", "A128GCM");
    CHECK_ERR(tes_jwe_encrypt(bad, TES_BYTES(msg, 3), bob, NULL, &pt), TES_ERR_ARG);
    json_decref(bad);
    CHECK_ERR(tes_jwe_encrypt(NULL, TES_BYTES(msg, 3), k384, NULL, &pt), TES_ERR_ARG);
    CHECK(pt.len == 0);

    /* the header: each refused with its error; the rest of the JWE is a real one */
    const char *epk = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" ALICE_X "\",\"y\":\"" ALICE_Y "\"}";
    char hdr[512];
    struct {
        const char *fmt;
        tes_err want;
    } cases[] = {
        {"{\"alg\":\"ECDH-ES\",\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"epk\":%s}", TES_ERR_JOSE},
        {"{\"alg\":\"ECDH-ES+A128KW\",\"enc\":\"A256GCM\",\"epk\":%s}", TES_ERR_JOSE_HEADER},
        {"{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"epk\":%s}", TES_ERR_JOSE_HEADER},
        /* A128GCM is accepted, but this JWE was made with A256GCM: the key
         * derived for A128GCM does not open it */
        {"{\"alg\":\"ECDH-ES\",\"enc\":\"A128GCM\",\"epk\":%s}", TES_ERR_SIGNATURE},
        {"{\"alg\":\"ECDH-ES\",\"enc\":\"A192GCM\",\"epk\":%s}", TES_ERR_JOSE_HEADER},
        {"{\"alg\":\"ECDH-ES\",\"enc\":\"a128gcm\",\"epk\":%s}", TES_ERR_JOSE_HEADER},
        {"{\"alg\":\"ECDH-ES\",\"enc\":\"A128CBC-HS256\",\"epk\":%s}", TES_ERR_JOSE_HEADER},
        {"{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"zip\":\"DEF\",\"epk\":%s}", TES_ERR_JOSE_HEADER},
        {"{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"crit\":[\"x\"],\"epk\":%s}",
         TES_ERR_JOSE_HEADER},
        {"{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"apu\":\"QWxpY2U=\",\"epk\":%s}",
         TES_ERR_JOSE_HEADER},
        {"{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\"%.0s}", TES_ERR_JOSE_HEADER}, /* no epk */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(hdr, sizeof hdr, cases[i].fmt, epk, "");
        char *j = jwe_with_header(text, hdr);
        tes_err e = tes_jwe_decrypt(j, strlen(j), 0, tes_jwe_key_agree, bob, NULL, &pt);
        if (e != cases[i].want)
            fprintf(stderr, "    jwe case %zu: got %s (%s)\n", i, tes_err_name(e),
                    tes_err_message());
        CHECK(e == cases[i].want && pt.len == 0);
        free(j);
    }
    /* an epk off the curve, another curve, with "d" */
    const char *epks[] = {
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" ALICE_X "\",\"y\":\"" BOB_Y "\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" ALICE_X "\",\"y\":\"" ALICE_Y "\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" ALICE_X "\",\"y\":\"" ALICE_Y
        "\",\"d\":\"" ALICE_D "\"}",
    };
    for (size_t i = 0; i < sizeof epks / sizeof epks[0]; i++) {
        snprintf(hdr, sizeof hdr, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"epk\":%s}", epks[i]);
        char *j = jwe_with_header(text, hdr);
        CHECK_ERR(tes_jwe_decrypt(j, strlen(j), 0, tes_jwe_key_agree, bob, NULL, &pt), TES_ERR_JWK);
        free(j);
    }
    /* the right header but Alice's epk instead of the sender's: the tag fails */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"epk\":%s}", epk);
    char *j = jwe_with_header(text, hdr);
    CHECK_ERR(tes_jwe_decrypt(j, strlen(j), 0, tes_jwe_key_agree, bob, NULL, &pt),
              TES_ERR_SIGNATURE);
    free(j);

    /* framing: parts, encrypted key, IV and tag lengths, padding, bound */
    size_t n = strlen(text);
    char *t = malloc(n + 16);
    REQUIRE(t != NULL);
    const char *d1 = strchr(text, '.');
    snprintf(t, n + 16, "%s.AAAA", text); /* six parts */
    CHECK_ERR(tes_jwe_decrypt(t, strlen(t), 0, tes_jwe_key_agree, bob, NULL, &pt), TES_ERR_JOSE);
    snprintf(t, n + 16, "%.*s", (int)(strrchr(text, '.') - text), text); /* four parts */
    CHECK_ERR(tes_jwe_decrypt(t, strlen(t), 0, tes_jwe_key_agree, bob, NULL, &pt), TES_ERR_JOSE);
    snprintf(t, n + 16, "%.*sAAAA%s", (int)(d1 - text + 1), text, d1 + 1); /* an encrypted key */
    CHECK_ERR(tes_jwe_decrypt(t, strlen(t), 0, tes_jwe_key_agree, bob, NULL, &pt), TES_ERR_JOSE);
    snprintf(t, n + 16, "%.*sAAAA%s", (int)(d1 - text + 2), text, d1 + 2); /* IV of 15 bytes */
    CHECK_ERR(tes_jwe_decrypt(t, strlen(t), 0, tes_jwe_key_agree, bob, NULL, &pt), TES_ERR_JOSE);
    snprintf(t, n + 16, "%sAAAA", text); /* tag of 19 bytes */
    CHECK_ERR(tes_jwe_decrypt(t, strlen(t), 0, tes_jwe_key_agree, bob, NULL, &pt), TES_ERR_JOSE);
    snprintf(t, n + 16, "%s==", text); /* padding */
    CHECK_ERR(tes_jwe_decrypt(t, strlen(t), 0, tes_jwe_key_agree, bob, NULL, &pt), TES_ERR_JOSE);
    CHECK_ERR(tes_jwe_decrypt(text, n, n - 1, tes_jwe_key_agree, bob, NULL, &pt), TES_ERR_JOSE);
    CHECK(pt.len == 0);
    free(t);
    json_decref(extra);
    tes_buf_free(&jwe);
    tes_key_free(bob);
    tes_key_free(k384);
}
