/*
 * libFuzzer target: tessera/jose.h on untrusted text. Byte 0 mod 4 selects:
 *   0  tes_jws_parse of the rest (default bounds), then tes_jws_check_header
 *      and tes_jws_verify with the RFC 7515 A.3 key and, when the header has
 *      a "jwk", with that key (as a proof of possession is checked)
 *   1  tes_jwk_to_key of the rest as JSON; an accepted key must give back
 *      the same JWK (tes_jwk_from_key) and a 43-character thumbprint
 *   2  tes_jose_json_decode of the rest (bound 4096 characters); an accepted
 *      segment re-encodes (tes_jose_json_encode) into text that decodes to
 *      an equal object
 *   3  tes_jwe_decrypt of the rest with the RFC 7518 Appendix C key of Bob
 *      (the seed made by panva/jose decrypts); the plaintext is appended only
 *      on success
 * Checked: only the documented codes come back, nothing is handed out on
 * failure, accepted output is what jose.h promises (objects, 64-byte
 * signature, signing input inside the input, header.payload).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/jose.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static tes_key *A3, *BOB;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x",
                          "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y",
                          "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
    CHECK(j != NULL && tes_jwk_to_key(j, &A3) == TES_OK);
    json_decref(j);
    static const uint8_t bob_d[32] = {
        0x54, 0x49, 0x83, 0x66, 0x90, 0xd7, 0x5c, 0xaf, 0x29, 0xf0, 0xdd, 0x02, 0x9d, 0xdb, 0x31, 0xb3,
        0xdd, 0xb8, 0xab, 0xa9, 0xd2, 0xd5, 0x15, 0xc5, 0x01, 0x24, 0x65, 0xe8, 0x17, 0xd4, 0xa9, 0xdc};
    CHECK(tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(bob_d, 32), &BOB) == TES_OK);
    return 0;
}

static void jws(const char *s, size_t n)
{
    tes_jws j;
    tes_err e = tes_jws_parse(s, n, NULL, &j);
    CHECK(e == TES_OK || e == TES_ERR_JOSE || e == TES_ERR_SIGNATURE || e == TES_ERR_NOMEM);
    if (e != TES_OK) {
        CHECK(j.header == NULL && j.payload == NULL && j.signing_input == NULL);
        return;
    }
    CHECK(json_is_object(j.header) && json_is_object(j.payload));
    CHECK(j.signing_input == s && j.signing_input_len < n && s[j.signing_input_len] == '.');
    e = tes_jws_check_header(&j, NULL);
    CHECK(e == TES_OK || e == TES_ERR_JOSE_HEADER);
    e = tes_jws_verify(&j, A3);
    CHECK(e == TES_OK || e == TES_ERR_SIGNATURE);
    tes_key *k = NULL;
    e = tes_jwk_to_key(json_object_get(j.header, "jwk"), &k);
    CHECK(e == TES_OK || e == TES_ERR_JWK || e == TES_ERR_NOMEM);
    CHECK((e == TES_OK) == (k != NULL));
    if (k != NULL) {
        e = tes_jws_verify(&j, k);
        CHECK(e == TES_OK || e == TES_ERR_SIGNATURE);
        tes_key_free(k);
    }
    tes_jws_free(&j);
}

static void jwk(const char *s, size_t n)
{
    json_t *v = json_loadb(s, n, 0, NULL);
    tes_key *k = NULL;
    tes_err e = tes_jwk_to_key(v, &k);
    CHECK(e == TES_OK || e == TES_ERR_JWK || e == TES_ERR_NOMEM);
    CHECK((e == TES_OK) == (k != NULL));
    if (k != NULL) {
        json_t *back = NULL;
        CHECK(tes_jwk_from_key(k, &back) == TES_OK);
        CHECK(json_equal(json_object_get(back, "x"), json_object_get(v, "x")) &&
              json_equal(json_object_get(back, "y"), json_object_get(v, "y")));
        char th[TES_JWK_THUMBPRINT_LEN + 1];
        CHECK(tes_jwk_thumbprint(k, th) == TES_OK && strlen(th) == TES_JWK_THUMBPRINT_LEN);
        json_decref(back);
        tes_key_free(k);
    }
    json_decref(v);
}

static void segment(const char *s, size_t n)
{
    json_t *o = NULL;
    tes_err e = tes_jose_json_decode(s, n, 4096, &o);
    CHECK(e == TES_OK || e == TES_ERR_JOSE || e == TES_ERR_NOMEM);
    CHECK((e == TES_OK) == (o != NULL));
    if (o == NULL)
        return;
    CHECK(json_is_object(o));
    tes_buf b = {0};
    CHECK(tes_jose_json_encode(o, &b) == TES_OK);
    json_t *again = NULL;
    CHECK(tes_jose_json_decode((const char *)b.ptr, b.len, b.len, &again) == TES_OK);
    CHECK(json_equal(o, again));
    json_decref(again);
    json_decref(o);
    tes_buf_free(&b);
}

static void jwe(const char *s, size_t n)
{
    json_t *h = NULL;
    tes_buf pt = {.secret = true};
    tes_err e = tes_jwe_decrypt(s, n, 0, tes_jwe_key_agree, BOB, &h, &pt);
    CHECK(e == TES_OK || e == TES_ERR_JOSE || e == TES_ERR_JOSE_HEADER || e == TES_ERR_JWK ||
          e == TES_ERR_SIGNATURE || e == TES_ERR_NOMEM);
    CHECK((e == TES_OK) == (h != NULL));
    if (e != TES_OK)
        CHECK(pt.len == 0);
    else
        CHECK(json_is_object(h) && pt.len < n);
    json_decref(h);
    tes_buf_free(&pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (A3 == NULL)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size == 0)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        jws(s, n);
        break;
    case 1:
        jwk(s, n);
        break;
    case 2:
        segment(s, n);
        break;
    default:
        jwe(s, n);
        break;
    }
    return 0;
}
