/*
 * jwe.c — compact JWE with "alg":"ECDH-ES" (direct key agreement, RFC 7518
 * §4.6) and "enc":"A256GCM" or "A128GCM" (RFC 7518 §5.3), as OpenID4VP's direct_post.jwt
 * uses it (tessera/jose.h). The key agreement goes through a callback, so
 * the recipient's key can stay in a secure element. Untrusted input: every
 * part bounded and strictly decoded before any key agreement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/jose.h"

#include "jose_internal.h"

#define JWE_IV_LEN 12
#define JWE_TAG_LEN 16
#define JWE_PARTY_MAX 256 /* bytes of a decoded "apu" / "apv" */

/* ---------------------------------------------------------------- Concat KDF */

static void be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

static void lv(tes_buf *b, tes_bytes v)
{
    uint8_t l[4];
    be32(l, (uint32_t)v.len);
    tes_buf_append(b, l, 4);
    tes_buf_append(b, v.ptr, v.len);
}

tes_err tes_jwe_concat_kdf(tes_bytes z, const char *enc, tes_bytes apu, tes_bytes apv,
                           uint8_t *key, size_t key_len)
{
    if (z.ptr == NULL || enc == NULL || key == NULL || key_len == 0 || key_len > 32 ||
        (apu.ptr == NULL && apu.len != 0) || (apv.ptr == NULL && apv.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_jwe_concat_kdf: bad argument");
    /* One round of SHA-256 gives 32 bytes: enough for A128GCM and A256GCM. */
    tes_buf in = {.secret = true};
    uint8_t n[4];
    be32(n, 1);
    tes_buf_append(&in, n, 4);
    tes_buf_append(&in, z.ptr, z.len);
    lv(&in, TES_BYTES(enc, strlen(enc)));
    lv(&in, apu);
    lv(&in, apv);
    be32(n, (uint32_t)(key_len * 8));
    tes_buf_append(&in, n, 4);
    uint8_t h[32];
    tes_err err = in.failed ? tes_err_set(TES_ERR_NOMEM, "out of memory")
                            : tes_digest(TES_HASH_SHA256, tes_buf_bytes(&in), h);
    if (err == TES_OK)
        memcpy(key, h, key_len);
    tes_wipe(h, sizeof h);
    tes_buf_free(&in);
    return err;
}

tes_err tes_jwe_key_agree(void *ctx, const tes_key *peer, uint8_t z[32])
{
    const tes_key *k = ctx;
    if (k == NULL || peer == NULL || z == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jwe_key_agree: NULL argument");
    uint8_t out[TES_MAX_COORD];
    size_t n = 0;
    tes_err err = tes_key_ecdh(k, peer, out, &n);
    if (err == TES_OK && n != 32)
        err = tes_err_set(TES_ERR_JOSE_HEADER, "ECDH-ES here is on P-256 only");
    if (err == TES_OK)
        memcpy(z, out, 32);
    tes_wipe(out, sizeof out);
    return err;
}

/* ---------------------------------------------------------------- "enc" */

/* The "enc" value of e and its key length; NULL for an unknown e. */
static const char *enc_name(tes_jwe_enc e, size_t *key_len)
{
    switch (e) {
    case TES_JWE_ENC_A256GCM:
        *key_len = 32;
        return "A256GCM";
    case TES_JWE_ENC_A128GCM:
        *key_len = 16;
        return "A128GCM";
    }
    return NULL;
}

/* The received "enc" member: A256GCM or A128GCM, else TES_ERR_JOSE_HEADER. */
static tes_err enc_of(const json_t *enc, const char **name, size_t *key_len)
{
    static const tes_jwe_enc all[] = {TES_JWE_ENC_A256GCM, TES_JWE_ENC_A128GCM};
    for (size_t i = 0; json_is_string(enc) && i < sizeof all / sizeof all[0]; i++) {
        const char *n = enc_name(all[i], key_len);
        if (json_string_length(enc) == strlen(n) && strcmp(json_string_value(enc), n) == 0) {
            *name = n;
            return TES_OK;
        }
    }
    return tes_err_set(TES_ERR_JOSE_HEADER, "JWE \"enc\" is not \"A256GCM\" or \"A128GCM\" "
                                            "(the only ones accepted)");
}

/* ---------------------------------------------------------------- parts */

/* Strict base64url of a header member name (absent: empty) into out, at most
 * max bytes. */
static tes_err party(const json_t *hdr, const char *name, tes_buf *out)
{
    json_t *v = json_object_get(hdr, name);
    if (v == NULL)
        return TES_OK;
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n > (JWE_PARTY_MAX / 3 + 1) * 4 ||
        !tes_jose_b64url_chars(json_string_value(v), n) ||
        tes_b64url_decode(out, json_string_value(v), n) != TES_OK || out->len > JWE_PARTY_MAX)
        return tes_err_set(TES_ERR_JOSE_HEADER,
                           "header \"%s\" is not base64url of at most %d bytes", name,
                           JWE_PARTY_MAX);
    return TES_OK;
}

/* Strict base64url s[0..n) decoding to exactly want bytes (0: any) into out. */
static tes_err part(const char *s, size_t n, size_t want, const char *what, tes_buf *out)
{
    if (!tes_jose_b64url_chars(s, n) || tes_b64url_decode(out, s, n) != TES_OK ||
        (want != 0 && out->len != want))
        return tes_err_set(TES_ERR_JOSE, "%s is not %s%s base64url", what,
                           want == 16 ? "16 bytes of " : want == 12 ? "12 bytes of " : "",
                           "canonical");
    return TES_OK;
}

tes_err tes_jwe_decrypt(const char *text, size_t len, size_t max_len, tes_jwe_agree agree,
                        void *ctx, json_t **header, tes_buf *plaintext)
{
    if ((text == NULL && len != 0) || agree == NULL || plaintext == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jwe_decrypt: NULL argument");
    if (header)
        *header = NULL;
    if (max_len == 0)
        max_len = TES_JWS_MAX;
    if (len == 0 || len > max_len)
        return tes_err_set(TES_ERR_JOSE, "JWE empty or longer than %zu characters", max_len);
    /* ---- five parts: header.encrypted_key.iv.ciphertext.tag */
    const char *p[5];
    size_t l[5];
    const char *at = text, *end = text + len;
    for (int i = 0; i < 5; i++) {
        const char *dot = i < 4 ? memchr(at, '.', (size_t)(end - at)) : NULL;
        if (i < 4 && dot == NULL)
            return tes_err_set(TES_ERR_JOSE, "not a compact JWE of five parts");
        p[i] = at;
        l[i] = (size_t)((i < 4 ? dot : end) - at);
        at = i < 4 ? dot + 1 : end;
    }
    if (memchr(p[4], '.', l[4]) != NULL)
        return tes_err_set(TES_ERR_JOSE, "not a compact JWE of five parts");
    json_t *hdr = NULL, *epk_j;
    tes_key *epk = NULL;
    tes_buf iv = {0}, ct = {0}, tag = {0}, apu = {0}, apv = {0};
    uint8_t z[32], cek[32];
    tes_err err = tes_jose_json_decode(p[0], l[0], TES_JWS_PART_MAX, &hdr);
    if (err != TES_OK) {
        err = tes_err_set(err, "JWE header %s", tes_err_message());
        goto done;
    }
    /* ---- the header's meaning */
    json_t *alg = json_object_get(hdr, "alg"), *enc = json_object_get(hdr, "enc");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "ECDH-ES") != 0 ||
        json_string_length(alg) != 7) {
        err = tes_err_set(TES_ERR_JOSE_HEADER, "JWE \"alg\" is not \"ECDH-ES\" (the only one "
                                               "accepted)");
        goto done;
    }
    const char *enc_value = NULL;
    size_t key_len = 0;
    if ((err = enc_of(enc, &enc_value, &key_len)) != TES_OK)
        goto done;
    if (json_object_get(hdr, "crit") != NULL || json_object_get(hdr, "zip") != NULL) {
        err = tes_err_set(TES_ERR_JOSE_HEADER, "JWE header has \"crit\" or \"zip\"");
        goto done;
    }
    if (l[1] != 0) { /* RFC 7516 §5.2 step 10: direct key agreement has no encrypted key */
        err = tes_err_set(TES_ERR_JOSE, "JWE encrypted key is not empty (ECDH-ES is direct)");
        goto done;
    }
    if ((err = part(p[2], l[2], JWE_IV_LEN, "JWE IV", &iv)) != TES_OK ||
        (err = part(p[4], l[4], JWE_TAG_LEN, "JWE tag", &tag)) != TES_OK ||
        (err = part(p[3], l[3], 0, "JWE ciphertext", &ct)) != TES_OK)
        goto done;
    tes_buf_append(&ct, tag.ptr, tag.len); /* AES-GCM here takes the tag after the text */
    if (ct.failed) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((err = party(hdr, "apu", &apu)) != TES_OK || (err = party(hdr, "apv", &apv)) != TES_OK)
        goto done;
    epk_j = json_object_get(hdr, "epk");
    if (epk_j == NULL) {
        err = tes_err_set(TES_ERR_JOSE_HEADER, "JWE header has no \"epk\"");
        goto done;
    }
    if ((err = tes_jwk_to_key(epk_j, &epk)) != TES_OK) {
        err = tes_err_set(err, "JWE \"epk\" %s", tes_err_message());
        goto done;
    }
    /* ---- key agreement, Concat KDF (its length follows "enc"), AES-GCM with
     * the received header as AAD */
    if ((err = agree(ctx, epk, z)) != TES_OK ||
        (err = tes_jwe_concat_kdf(TES_BYTES(z, 32), enc_value, tes_buf_bytes(&apu),
                                  tes_buf_bytes(&apv), cek, key_len)) != TES_OK)
        goto done;
    size_t before = plaintext->len;
    err = tes_aesgcm_decrypt(cek, key_len, iv.ptr, TES_BYTES(p[0], l[0]), tes_buf_bytes(&ct),
                             plaintext);
    if (err != TES_OK) {
        if (before == 0)
            tes_buf_free(plaintext); /* nothing handed out, not even the room */
        else
            plaintext->len = before;
        if (err == TES_ERR_SIGNATURE || err == TES_ERR_CRYPTO)
            err = tes_err_set(TES_ERR_SIGNATURE,
                              "JWE does not decrypt (another key, or changed on the way)");
        goto done;
    }
    if (header) {
        *header = hdr;
        hdr = NULL;
    }
done:
    tes_wipe(z, sizeof z);
    tes_wipe(cek, sizeof cek);
    json_decref(hdr);
    tes_key_free(epk);
    tes_buf_free(&iv);
    tes_buf_free(&ct);
    tes_buf_free(&tag);
    tes_buf_free(&apu);
    tes_buf_free(&apv);
    return err;
}

tes_err tes_jwe_encrypt_with(const tes_jwe_encrypt_opts *o, tes_bytes plaintext,
                             const tes_key *recipient, tes_buf *out)
{
    const json_t *extra = o ? o->extra : NULL;
    const tes_rng *rng = o ? o->rng : NULL;
    size_t key_len = 0;
    const char *enc = enc_name(o ? o->enc : TES_JWE_ENC_A256GCM, &key_len);
    if (recipient == NULL || out == NULL || (plaintext.ptr == NULL && plaintext.len != 0) ||
        (extra != NULL && !json_is_object(extra)) || enc == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jwe_encrypt: bad argument");
    if (extra && (json_object_get(extra, "alg") || json_object_get(extra, "enc") ||
                  json_object_get(extra, "epk") || json_object_get(extra, "crit") ||
                  json_object_get(extra, "zip")))
        return tes_err_set(TES_ERR_ARG, "tes_jwe_encrypt: extra header members may not set "
                                        "alg, enc, epk, crit or zip");
    tes_key *eph = NULL;
    json_t *hdr = NULL, *epk = NULL;
    tes_buf apu = {0}, apv = {0}, jwe = {0}, ct = {0};
    uint8_t z[32], cek[32], iv[JWE_IV_LEN];
    tes_err err;
    if ((err = tes_key_generate(TES_CURVE_P256, &eph)) != TES_OK ||
        (err = tes_jwk_from_key(eph, &epk)) != TES_OK)
        goto done;
    hdr = json_pack("{s:s, s:s, s:o}", "alg", "ECDH-ES", "enc", enc, "epk", epk);
    epk = NULL; /* stolen by json_pack, even when it fails */
    if (hdr == NULL || (extra != NULL && json_object_update(hdr, (json_t *)extra) != 0)) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((err = party(hdr, "apu", &apu)) != TES_OK || (err = party(hdr, "apv", &apv)) != TES_OK) {
        err = tes_err_set(TES_ERR_ARG, "tes_jwe_encrypt: %s", tes_err_message());
        goto done;
    }
    if ((err = tes_jwe_key_agree(eph, recipient, z)) != TES_OK ||
        (err = tes_jwe_concat_kdf(TES_BYTES(z, 32), enc, tes_buf_bytes(&apu),
                                  tes_buf_bytes(&apv), cek, key_len)) != TES_OK ||
        (err = tes_rng_fill(rng, iv, sizeof iv)) != TES_OK ||
        (err = tes_jose_json_encode(hdr, &jwe)) != TES_OK)
        goto done;
    if ((err = tes_aesgcm_encrypt(cek, key_len, iv, tes_buf_bytes(&jwe), plaintext, &ct)) !=
        TES_OK)
        goto done;
    if (ct.len < JWE_TAG_LEN) {
        err = tes_err_set(TES_ERR_CRYPTO, "AES-GCM output shorter than its tag");
        goto done;
    }
    tes_buf_append(&jwe, "..", 2);
    tes_b64url_encode(&jwe, TES_BYTES(iv, sizeof iv));
    tes_buf_append(&jwe, ".", 1);
    tes_b64url_encode(&jwe, TES_BYTES(ct.ptr, ct.len - JWE_TAG_LEN));
    tes_buf_append(&jwe, ".", 1);
    tes_b64url_encode(&jwe, TES_BYTES(ct.ptr + ct.len - JWE_TAG_LEN, JWE_TAG_LEN));
    err = jwx_append(out, &jwe);
done:
    tes_wipe(z, sizeof z);
    tes_wipe(cek, sizeof cek);
    json_decref(hdr);
    json_decref(epk);
    tes_key_free(eph);
    tes_buf_free(&apu);
    tes_buf_free(&apv);
    tes_buf_free(&jwe);
    tes_buf_free(&ct);
    return err;
}

tes_err tes_jwe_encrypt(const json_t *extra, tes_bytes plaintext, const tes_key *recipient,
                        const tes_rng *rng, tes_buf *out)
{
    const tes_jwe_encrypt_opts o = {.enc = TES_JWE_ENC_A256GCM, .extra = extra, .rng = rng};
    return tes_jwe_encrypt_with(&o, plaintext, recipient, out);
}
