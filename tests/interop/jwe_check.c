/*
 * tests/interop/jwe_check.c — the C side of tests/interop/jwe.sh (compact
 * JWE, ECDH-ES on P-256 with A128GCM and A256GCM, against npm `jose`):
 *   jwe_check keygen DIR            a recipient key: DIR/tes_key.pem, DIR/tes_pub.jwk
 *   jwe_check decrypt DIR FILE ENC  FILE decrypts with DIR's key, its "enc" is
 *                                   ENC; prints the plaintext
 *   jwe_check encrypt JWK ENC OUT   "tessera to jose ENC" encrypted to the public
 *                                   JWK file JWK with ENC into OUT
 * Exit 0 on success, 1 with the error on stderr.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tessera/jose.h"

static int fail(const char *what)
{
    fprintf(stderr, "jwe_check: %s: %s\n", what, tes_err_message());
    return 1;
}

static int keygen(const char *dir)
{
    char p[512];
    tes_key *k = NULL;
    json_t *jwk = NULL;
    tes_buf pem = {.secret = true};
    if (tes_key_generate(TES_CURVE_P256, &k) != TES_OK || tes_key_to_pem(k, true, &pem) != TES_OK ||
        tes_jwk_from_key(k, &jwk) != TES_OK)
        return fail("keygen");
    snprintf(p, sizeof p, "%s/tes_key.pem", dir);
    if (tes_file_write(p, tes_buf_bytes(&pem), 0600) != TES_OK)
        return fail("writing the key");
    snprintf(p, sizeof p, "%s/tes_pub.jwk", dir);
    if (json_dump_file(jwk, p, JSON_COMPACT) != 0)
        return fail("writing the JWK");
    json_decref(jwk);
    tes_buf_free(&pem);
    tes_key_free(k);
    return 0;
}

static int decrypt(const char *dir, const char *file, const char *enc)
{
    char p[512];
    snprintf(p, sizeof p, "%s/tes_key.pem", dir);
    tes_buf pem = {.secret = true}, jwe = {0}, pt = {.secret = true};
    tes_key *k = NULL;
    json_t *h = NULL;
    if (tes_file_read(p, 1u << 16, &pem) != TES_OK || tes_key_parse(tes_buf_bytes(&pem), &k))
        return fail("reading the key");
    if (tes_file_read(file, 1u << 16, &jwe) != TES_OK)
        return fail("reading the JWE");
    size_t n = jwe.len;
    while (n > 0 && (jwe.ptr[n - 1] == '\n' || jwe.ptr[n - 1] == '\r'))
        n--;
    if (tes_jwe_decrypt((const char *)jwe.ptr, n, 0, tes_jwe_key_agree, k, &h, &pt) != TES_OK)
        return fail("decrypt");
    const char *got = json_string_value(json_object_get(h, "enc"));
    if (got == NULL || strcmp(got, enc) != 0) {
        fprintf(stderr, "jwe_check: enc is '%s', not '%s'\n", got ? got : "", enc);
        return 1;
    }
    printf("%.*s\n", (int)pt.len, (const char *)pt.ptr);
    json_decref(h);
    tes_key_free(k);
    tes_buf_free(&pem);
    tes_buf_free(&jwe);
    tes_buf_free(&pt);
    return 0;
}

static int encrypt(const char *jwk_file, const char *enc, const char *out)
{
    json_error_t je;
    json_t *jwk = json_load_file(jwk_file, JSON_REJECT_DUPLICATES, &je);
    json_t *pub = json_pack("{s:O, s:O, s:O, s:O}", "kty", json_object_get(jwk, "kty"), "crv",
                            json_object_get(jwk, "crv"), "x", json_object_get(jwk, "x"), "y",
                            json_object_get(jwk, "y"));
    tes_key *k = NULL;
    if (pub == NULL || tes_jwk_to_key(pub, &k) != TES_OK)
        return fail("the recipient's JWK");
    char msg[64];
    snprintf(msg, sizeof msg, "tessera to jose %s", enc);
    json_t *extra = json_pack("{s:s}", "kid", "jose-1");
    const tes_jwe_encrypt_opts o = {
        .enc = strcmp(enc, "A128GCM") == 0 ? TES_JWE_ENC_A128GCM : TES_JWE_ENC_A256GCM,
        .extra = extra};
    tes_buf jwe = {0};
    if (tes_jwe_encrypt_with(&o, TES_BYTES(msg, strlen(msg)), k, &jwe) != TES_OK)
        return fail("encrypt");
    if (tes_file_write(out, tes_buf_bytes(&jwe), 0644) != TES_OK)
        return fail("writing the JWE");
    json_decref(extra);
    json_decref(pub);
    json_decref(jwk);
    tes_key_free(k);
    tes_buf_free(&jwe);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "keygen") == 0)
        return keygen(argv[2]);
    if (argc == 5 && strcmp(argv[1], "decrypt") == 0)
        return decrypt(argv[2], argv[3], argv[4]);
    if (argc == 5 && strcmp(argv[1], "encrypt") == 0)
        return encrypt(argv[2], argv[3], argv[4]);
    return 2;
}
