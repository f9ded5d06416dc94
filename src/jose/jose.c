/*
 * jose.c — compact JWS (ES256), EC P-256 JWKs and JWT claims (tessera/jose.h).
 * Untrusted input: every length bounded before anything is decoded, no
 * pointer kept into the input except the signing input the caller asked for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/jose.h"

#include "jose_internal.h"

#define P256_LEN 32

/* ---------------------------------------------------------------- base64url */

bool tes_jose_b64url_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Canonical base64url s[0..n) -> out (tes_b64url_decode refuses set unused
 * bits and impossible lengths; padding is refused here). */
static tes_err b64url_strict(const char *s, size_t n, tes_buf *out)
{
    if (!tes_jose_b64url_chars(s, n))
        return tes_err_set(TES_ERR_JOSE, "not base64url (no padding)");
    if (tes_b64url_decode(out, s, n) != TES_OK)
        return tes_err_set(TES_ERR_JOSE, "not canonical base64url (unused bits set or a length "
                                         "no encoding has)");
    return TES_OK;
}

tes_err tes_jose_json_decode(const char *s, size_t n, size_t max_chars, json_t **out)
{
    if (out == NULL || (s == NULL && n != 0))
        return tes_err_set(TES_ERR_ARG, "tes_jose_json_decode: NULL argument");
    *out = NULL;
    if (n == 0)
        return tes_err_set(TES_ERR_JOSE, "empty");
    if (n > max_chars)
        return tes_err_set(TES_ERR_JOSE, "longer than %zu characters", max_chars);
    tes_buf raw = {0};
    tes_err err = b64url_strict(s, n, &raw);
    if (err != TES_OK) {
        tes_buf_free(&raw);
        return err;
    }
    json_error_t jerr;
    *out = json_loadb(raw.len ? (const char *)raw.ptr : "", raw.len, JSON_REJECT_DUPLICATES, &jerr);
    tes_buf_free(&raw);
    if (*out == NULL)
        return tes_err_set(TES_ERR_JOSE, "is not JSON: %.200s", jerr.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return tes_err_set(TES_ERR_JOSE, "is not a JSON object");
    }
    return TES_OK;
}

tes_err tes_jose_json_encode(const json_t *v, tes_buf *out)
{
    if (v == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jose_json_encode: NULL argument");
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return tes_err_set(TES_ERR_NOMEM, "cannot write JSON");
    size_t before = out->len;
    tes_b64url_encode(out, TES_BYTES(text, strlen(text)));
    free(text);
    if (out->failed) {
        out->len = before;
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    return TES_OK;
}

tes_err jwx_append(tes_buf *out, const tes_buf *text)
{
    size_t before = out->len;
    if (!text->failed)
        tes_buf_append(out, text->ptr, text->len);
    if (text->failed || out->failed) {
        out->len = before;
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    return TES_OK;
}

/* ---------------------------------------------------------------- compact JWS */

void tes_jws_free(tes_jws *jws)
{
    if (jws == NULL)
        return;
    json_decref(jws->header);
    json_decref(jws->payload);
    memset(jws, 0, sizeof *jws);
}

tes_err tes_jws_parse(const char *text, size_t len, const tes_jws_limits *lim, tes_jws *out)
{
    if (out == NULL || (text == NULL && len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_jws_parse: NULL argument");
    memset(out, 0, sizeof *out);
    size_t max_len = lim && lim->max_len ? lim->max_len : TES_JWS_MAX;
    size_t max_h = lim && lim->max_header ? lim->max_header : TES_JWS_PART_MAX;
    size_t max_p = lim && lim->max_payload ? lim->max_payload : TES_JWS_PART_MAX;
    if (len == 0 || len > max_len)
        return tes_err_set(TES_ERR_JOSE, "empty or longer than %zu characters", max_len);
    /* ---- framing: header.payload.signature */
    const char *d1 = memchr(text, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - text)) : NULL;
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - text)) != NULL)
        return tes_err_set(TES_ERR_JOSE, "not a compact JWS of three parts");
    size_t hl = (size_t)(d1 - text), pl = (size_t)(d2 - d1 - 1), sl = len - (size_t)(d2 + 1 - text);
    if (hl == 0 || pl == 0) /* an empty signature fails its length check below */
        return tes_err_set(TES_ERR_JOSE, "header or payload is empty");
    if (hl > max_h || pl > max_p)
        return tes_err_set(TES_ERR_JOSE, "header or payload too long (%zu, %zu characters)", max_h,
                           max_p);
    if (!tes_jose_b64url_chars(text, hl) || !tes_jose_b64url_chars(d1 + 1, pl) ||
        !tes_jose_b64url_chars(d2 + 1, sl))
        return tes_err_set(TES_ERR_JOSE, "parts are not base64url (no padding)");
    /* ---- signature: r||s, RFC 7518 §3.4 (a DER signature is refused here) */
    tes_buf sig = {0};
    tes_err err = TES_OK;
    if (sl != 86 || tes_b64url_decode(&sig, d2 + 1, sl) != TES_OK ||
        sig.len != TES_JWS_ES256_SIG_LEN) {
        tes_buf_free(&sig);
        return tes_err_set(TES_ERR_SIGNATURE, "signature is not 64 bytes (ES256 r||s)");
    }
    memcpy(out->sig, sig.ptr, TES_JWS_ES256_SIG_LEN);
    tes_buf_free(&sig);
    /* ---- header and payload */
    if ((err = tes_jose_json_decode(text, hl, max_h, &out->header)) != TES_OK) {
        err = tes_err_set(err, "header %s", tes_err_message());
    } else if ((err = tes_jose_json_decode(d1 + 1, pl, max_p, &out->payload)) != TES_OK) {
        err = tes_err_set(err, "payload %s", tes_err_message());
    }
    if (err != TES_OK) {
        tes_jws_free(out);
        return err;
    }
    out->signing_input = text;
    out->signing_input_len = hl + 1 + pl;
    return TES_OK;
}

tes_err tes_jws_check_header(const tes_jws *jws, const char *typ)
{
    if (jws == NULL || jws->header == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jws_check_header: NULL argument");
    json_t *t = json_object_get(jws->header, "typ"), *alg = json_object_get(jws->header, "alg");
    if (typ != NULL && (!json_is_string(t) || json_string_length(t) != strlen(typ) ||
                        strcmp(json_string_value(t), typ) != 0))
        return tes_err_set(TES_ERR_JOSE_HEADER, "header \"typ\" is not \"%s\"", typ);
    if (!json_is_string(alg) || json_string_length(alg) != 5 ||
        strcmp(json_string_value(alg), "ES256") != 0)
        return tes_err_set(TES_ERR_JOSE_HEADER,
                           "header \"alg\" is not \"ES256\" (the only algorithm accepted)");
    if (json_object_get(jws->header, "crit") != NULL)
        return tes_err_set(TES_ERR_JOSE_HEADER, "header has \"crit\" parameters");
    return TES_OK;
}

tes_err tes_jws_verify(const tes_jws *jws, const tes_key *key)
{
    if (jws == NULL || key == NULL || jws->signing_input == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jws_verify: NULL argument");
    if (tes_key_curve(key) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_JOSE_HEADER, "the key is not EC P-256 (ES256)");
    tes_err err = tes_key_verify(key, TES_HASH_SHA256,
                                 TES_BYTES(jws->signing_input, jws->signing_input_len),
                                 TES_BYTES(jws->sig, TES_JWS_ES256_SIG_LEN));
    if (err == TES_ERR_SIGNATURE)
        return tes_err_set(TES_ERR_SIGNATURE, "signature does not verify");
    return err;
}

tes_err tes_jws_key_signer(void *ctx, tes_bytes msg, uint8_t sig[TES_JWS_ES256_SIG_LEN])
{
    const tes_key *k = ctx;
    if (k == NULL || sig == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jws_key_signer: NULL argument");
    if (tes_key_curve(k) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_JOSE_HEADER, "the key is not EC P-256 (ES256)");
    uint8_t s[TES_MAX_SIG];
    size_t n = 0;
    tes_err err = tes_key_sign(k, TES_HASH_SHA256, msg, s, &n);
    if (err == TES_OK && n != TES_JWS_ES256_SIG_LEN)
        err = tes_err_set(TES_ERR_CRYPTO, "ES256 signature of %zu bytes", n);
    if (err == TES_OK)
        memcpy(sig, s, TES_JWS_ES256_SIG_LEN);
    return err;
}

tes_err tes_jws_sign(const json_t *header, const json_t *payload, tes_jws_signer sign, void *ctx,
                     tes_buf *out)
{
    if (!json_is_object(header) || !json_is_object(payload) || sign == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jws_sign: header and payload must be JSON objects");
    json_t *alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0)
        return tes_err_set(TES_ERR_ARG, "tes_jws_sign: the header must say \"alg\":\"ES256\"");
    tes_buf jws = {0};
    uint8_t sig[TES_JWS_ES256_SIG_LEN];
    tes_err err;
    if ((err = tes_jose_json_encode(header, &jws)) != TES_OK)
        goto done;
    tes_buf_append(&jws, ".", 1);
    if ((err = tes_jose_json_encode(payload, &jws)) != TES_OK)
        goto done;
    if (jws.failed) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((err = sign(ctx, tes_buf_bytes(&jws), sig)) != TES_OK)
        goto done;
    tes_buf_append(&jws, ".", 1);
    tes_b64url_encode(&jws, TES_BYTES(sig, sizeof sig));
    err = jwx_append(out, &jws);
done:
    tes_buf_free(&jws);
    return err;
}

/* ---------------------------------------------------------------- JWK */

/* The base64url member name of jwk: exactly 32 bytes, canonical. */
static tes_err jwk_coord(const json_t *jwk, const char *name, uint8_t out[P256_LEN])
{
    json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v))
        return tes_err_set(TES_ERR_JWK, "\"%s\" missing or not a string", name);
    tes_buf b = {0};
    tes_err err = json_string_length(v) == 43
                      ? b64url_strict(json_string_value(v), json_string_length(v), &b)
                      : TES_ERR_JOSE;
    if (err == TES_OK && b.len != P256_LEN)
        err = TES_ERR_JOSE;
    if (err == TES_OK)
        memcpy(out, b.ptr, P256_LEN);
    tes_buf_free(&b);
    return err == TES_OK ? TES_OK
                         : tes_err_set(TES_ERR_JWK, "\"%s\" is not 32 bytes of base64url", name);
}

static bool str_is(const json_t *v, const char *want)
{
    return json_is_string(v) && json_string_length(v) == strlen(want) &&
           strcmp(json_string_value(v), want) == 0;
}

tes_err tes_jwk_to_key(const json_t *jwk, tes_key **out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jwk_to_key: NULL argument");
    *out = NULL;
    if (!json_is_object(jwk))
        return tes_err_set(TES_ERR_JWK, "is not a JSON object");
    if (json_object_get(jwk, "d") != NULL)
        return tes_err_set(TES_ERR_JWK, "carries a private key (\"d\")");
    if (!str_is(json_object_get(jwk, "kty"), "EC"))
        return tes_err_set(TES_ERR_JWK, "\"kty\" must be \"EC\"");
    if (!str_is(json_object_get(jwk, "crv"), "P-256"))
        return tes_err_set(TES_ERR_JWK, "\"crv\" must be \"P-256\"");
    uint8_t x[P256_LEN], y[P256_LEN];
    tes_err err;
    if ((err = jwk_coord(jwk, "x", x)) != TES_OK || (err = jwk_coord(jwk, "y", y)) != TES_OK)
        return err;
    if (tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(x, P256_LEN), TES_BYTES(y, P256_LEN),
                              out) != TES_OK)
        return tes_err_set(TES_ERR_JWK, "is not a point on P-256");
    return TES_OK;
}

/* x and y of a P-256 key, base64url (44 bytes with the NUL each). */
static tes_err coords_b64(const tes_key *key, char x64[44], char y64[44])
{
    if (key == NULL || tes_key_curve(key) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_JWK, "the key is not EC P-256");
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    tes_err err = tes_key_public_raw(key, x, y);
    if (err != TES_OK)
        return err;
    tes_buf bx = {0}, by = {0};
    tes_b64url_encode(&bx, TES_BYTES(x, P256_LEN));
    tes_b64url_encode(&by, TES_BYTES(y, P256_LEN));
    if (bx.failed || by.failed || bx.len != 43 || by.len != 43) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    } else {
        memcpy(x64, bx.ptr, 43);
        memcpy(y64, by.ptr, 43);
        x64[43] = y64[43] = '\0';
    }
    tes_buf_free(&bx);
    tes_buf_free(&by);
    return err;
}

tes_err tes_jwk_from_key(const tes_key *key, json_t **out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jwk_from_key: NULL argument");
    *out = NULL;
    char x[44], y[44];
    tes_err err = coords_b64(key, x, y);
    if (err != TES_OK)
        return err;
    *out = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", x, "y", y);
    return *out ? TES_OK : tes_err_set(TES_ERR_NOMEM, "out of memory");
}

tes_err tes_jwk_thumbprint(const tes_key *key, char out[TES_JWK_THUMBPRINT_LEN + 1])
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jwk_thumbprint: NULL argument");
    char x[44], y[44], text[160];
    tes_err err = coords_b64(key, x, y);
    if (err != TES_OK)
        return err;
    /* RFC 7638 §3.2: the required members only, in lexicographic order, no spaces. */
    int n = snprintf(text, sizeof text, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                     x, y);
    uint8_t h[32];
    if ((err = tes_digest(TES_HASH_SHA256, TES_BYTES(text, (size_t)n), h)) != TES_OK)
        return err;
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(h, sizeof h));
    if (b.failed || b.len != TES_JWK_THUMBPRINT_LEN) {
        tes_buf_free(&b);
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    memcpy(out, b.ptr, TES_JWK_THUMBPRINT_LEN);
    out[TES_JWK_THUMBPRINT_LEN] = '\0';
    tes_buf_free(&b);
    return TES_OK;
}

/* ---------------------------------------------------------------- JWT claims */

bool tes_jwt_aud_has(const json_t *claims, const char *aud)
{
    if (claims == NULL || aud == NULL)
        return false;
    json_t *a = json_object_get(claims, "aud");
    if (json_is_string(a))
        return str_is(a, aud);
    for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++)
        if (str_is(json_array_get(a, i), aud))
            return true;
    return false;
}

tes_err tes_jwt_int(const json_t *claims, const char *name, int64_t *out)
{
    if (claims == NULL || name == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jwt_int: NULL argument");
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return tes_err_set(TES_ERR_NOT_FOUND, "no \"%s\"", name);
    if (!json_is_integer(v))
        return tes_err_set(TES_ERR_JOSE, "\"%s\" is not an integer", name);
    *out = json_integer_value(v);
    return TES_OK;
}

tes_err tes_jwt_string(const json_t *claims, const char *name, size_t max, char *out)
{
    if (claims == NULL || name == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_jwt_string: NULL argument");
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return tes_err_set(TES_ERR_NOT_FOUND, "no \"%s\"", name);
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n == 0 || n > max || strlen(json_string_value(v)) != n)
        return tes_err_set(TES_ERR_JOSE, "\"%s\" is not a string of 1..%zu characters", name, max);
    memcpy(out, json_string_value(v), n + 1);
    return TES_OK;
}
