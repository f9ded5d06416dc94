/*
 * tessera/jose.h — the JOSE pieces Tessera speaks (docs/JOSE.md): compact
 * JWS with ES256 only (RFC 7515, RFC 7518 §3.4), EC P-256 public JWKs and
 * their RFC 7638 thumbprint (RFC 7517, RFC 7518 §6.2), the JWT claims
 * checks the OpenID4VCI issuer and wallet share (RFC 7519), and compact
 * JWE with ECDH-ES + A256GCM or A128GCM for OpenID4VP responses (RFC 7516).
 *
 * Built on jansson (struct json_t is jansson's json_t: callers that look
 * into the objects include <jansson.h>) and crypto.h. Strict on hostile
 * input, every input bounded:
 *  - base64url without padding, only its 64 characters, and canonical (the
 *    unused bits of the last character zero): one text per byte string;
 *  - header and payload are JSON objects with no member given twice (RFC
 *    7515 §5.2 allows refusing them; Tessera does), no NUL in a string;
 *  - "alg" must be "ES256" ("none" and every other value refused), "crit"
 *    is refused (Tessera understands no extension, RFC 7515 §4.1.11);
 *  - the signature is the 64 bytes r||s (RFC 7518 §3.4: DER is refused);
 *    high-S values verify, as RFC 7518 and FIPS 186 allow.
 * The key of a signature never has to leave its holder: tes_jws_sign asks
 * a callback (a secure element) for the signature over the signing input.
 *
 * Errors: TES_ERR_JOSE (216) the compact serialization, a base64url part or
 * a JSON segment is malformed or too long; TES_ERR_JOSE_HEADER (217) the
 * header asks for what is refused ("alg", "crit", "typ", a key unfit for
 * ES256); TES_ERR_JWK (218) a JWK is not an EC P-256 public key;
 * TES_ERR_SIGNATURE the signature is not 64 bytes or does not verify;
 * TES_ERR_ARG, TES_ERR_NOMEM. Callers that answer with their own codes map
 * these (the message says what failed).
 *
 * Thread rules: no global state; a tes_jws is used by one thread at a time.
 */
#ifndef TESSERA_JOSE_H
#define TESSERA_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/core.h"
#include "tessera/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t;

#define TES_JWS_ES256_SIG_LEN 64     /* r || s, RFC 7518 §3.4 */
#define TES_JWS_MAX 65536            /* characters of a compact JWS (default bound) */
#define TES_JWS_PART_MAX 32768       /* characters of its header or payload (default) */
#define TES_JWK_THUMBPRINT_LEN 43    /* base64url of a SHA-256, without the NUL */

/* ---------------------------------------------------------------- base64url */

/* True when s[0..n) has only base64url characters (A-Z a-z 0-9 - _, no '='). */
bool tes_jose_b64url_chars(const char *s, size_t n);

/* Decodes the base64url JSON object s[0..n) (a JWS header or payload) into
 * *out (new reference, the caller json_decref()s it). Refused with
 * TES_ERR_JOSE: n == 0, n > max_chars, padding or another character,
 * non-canonical text (unused bits set, impossible length), not JSON, a
 * member given twice, not an object. */
TES_MUST_CHECK tes_err tes_jose_json_decode(const char *s, size_t n, size_t max_chars,
                                            struct json_t **out);

/* Appends the base64url of the compact JSON text of v (members in their
 * insertion order) to out. TES_ERR_ARG (not a JSON value), TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_jose_json_encode(const struct json_t *v, tes_buf *out);

/* ---------------------------------------------------------------- compact JWS */

/* Bounds of a compact JWS (characters); 0 = the default above. */
typedef struct tes_jws_limits {
    size_t max_len;     /* the whole text */
    size_t max_header;  /* the base64url header */
    size_t max_payload; /* the base64url payload */
} tes_jws_limits;

/* A parsed compact JWS whose payload is a JSON object. header and payload
 * are owned (tes_jws_free); signing_input points into the text given to
 * tes_jws_parse, which must outlive its use. */
typedef struct tes_jws {
    struct json_t *header;
    struct json_t *payload;
    uint8_t sig[TES_JWS_ES256_SIG_LEN];
    const char *signing_input; /* header "." payload, exactly as received */
    size_t signing_input_len;
} tes_jws;

/* Splits and decodes text[0..len): three base64url parts (no padding;
 * header and payload not empty), within lim (NULL: the defaults), a 64-byte signature, header and
 * payload JSON objects without duplicate members. Checked in this order:
 * the length, the three parts (TES_ERR_JOSE), the signature length
 * (TES_ERR_SIGNATURE), the JSON of the header and of the payload
 * (TES_ERR_JOSE). Nothing of the header's meaning is checked yet
 * (tes_jws_check_header). On failure *out is zeroed, nothing to free. */
TES_MUST_CHECK tes_err tes_jws_parse(const char *text, size_t len, const tes_jws_limits *lim,
                                     tes_jws *out);
void tes_jws_free(tes_jws *jws);

/* The header's meaning: "typ" equal to typ (when typ is not NULL), then
 * "alg" exactly "ES256", then no "crit". TES_ERR_JOSE_HEADER otherwise. */
TES_MUST_CHECK tes_err tes_jws_check_header(const tes_jws *jws, const char *typ);

/* Verifies the ES256 signature over the signing input with key:
 * TES_ERR_JOSE_HEADER when key is not EC P-256, TES_ERR_SIGNATURE when the
 * signature does not verify. */
TES_MUST_CHECK tes_err tes_jws_verify(const tes_jws *jws, const tes_key *key);

/* Produces the raw ES256 signature (r||s) of msg into sig. */
typedef tes_err (*tes_jws_signer)(void *ctx, tes_bytes msg, uint8_t sig[TES_JWS_ES256_SIG_LEN]);

/* A tes_jws_signer for a key in memory (ctx: a const tes_key * with its
 * private half, EC P-256). */
tes_err tes_jws_key_signer(void *ctx, tes_bytes msg, uint8_t sig[TES_JWS_ES256_SIG_LEN]);

/* Appends the compact JWS of header and payload (JSON objects, written in
 * their insertion order; header must say "alg":"ES256") signed by sign to
 * out, NUL not included. TES_ERR_ARG (not objects, no ES256 "alg"), what
 * sign returns, TES_ERR_NOMEM; out is unchanged on failure. */
TES_MUST_CHECK tes_err tes_jws_sign(const struct json_t *header, const struct json_t *payload,
                                    tes_jws_signer sign, void *ctx, tes_buf *out);

/* ---------------------------------------------------------------- JWK */

/* An EC P-256 public JWK -> *out (new key, tes_key_free). TES_ERR_JWK: not
 * an object, a private part ("d"), "kty" not "EC", "crv" not "P-256", "x"
 * or "y" not 32 bytes of canonical base64url, not a point of the curve. */
TES_MUST_CHECK tes_err tes_jwk_to_key(const struct json_t *jwk, tes_key **out);

/* The public JWK {"kty":"EC","crv":"P-256","x":...,"y":...} of an EC P-256
 * key into *out (new reference). TES_ERR_JWK: another curve or key type. */
TES_MUST_CHECK tes_err tes_jwk_from_key(const tes_key *key, struct json_t **out);

/* The RFC 7638 thumbprint of key's public JWK: base64url SHA-256 of
 * {"crv":"P-256","kty":"EC","x":"...","y":"..."}, NUL-terminated.
 * TES_ERR_JWK: not an EC P-256 key. */
TES_MUST_CHECK tes_err tes_jwk_thumbprint(const tes_key *key,
                                          char out[TES_JWK_THUMBPRINT_LEN + 1]);

/* ---------------------------------------------------------------- JWE */

/* Compact JWE (RFC 7516) with "alg":"ECDH-ES" (direct key agreement, RFC
 * 7518 §4.6) and "enc":"A256GCM" or "A128GCM" (the two HAIP allows), on
 * P-256: OpenID4VP's encrypted response (direct_post.jwt). Every other
 * algorithm is refused (TES_ERR_JOSE_HEADER). */

/* The content encryption ("enc"); the Concat KDF derives a key of its length. */
typedef enum tes_jwe_enc {
    TES_JWE_ENC_A256GCM = 0, /* AES-256-GCM, 32-byte key (the default) */
    TES_JWE_ENC_A128GCM = 1, /* AES-128-GCM, 16-byte key */
} tes_jwe_enc;

/* The ECDH of the recipient's key with the sender's public key peer: its
 * x-coordinate (32 bytes) into z. A secure element can do it (its key stays
 * inside). */
typedef tes_err (*tes_jwe_agree)(void *ctx, const tes_key *peer, uint8_t z[32]);

/* A tes_jwe_agree for a key in memory (ctx: a const tes_key * with its
 * private half, P-256). */
tes_err tes_jwe_key_agree(void *ctx, const tes_key *peer, uint8_t z[32]);

/* Decrypts text[0..len) (at most max_len characters; 0: TES_JWS_MAX): five
 * parts, header a JSON object without duplicates, "alg" "ECDH-ES", "enc"
 * "A256GCM" or "A128GCM", no "crit" or "zip", empty encrypted key, IV 12 and
 * tag 16 bytes, "epk" an EC P-256 public JWK (point on the curve),
 * "apu"/"apv" at most 256 bytes; then agree, the Concat KDF (a key of 32 or
 * 16 bytes, as "enc" says) and AES-GCM with the received header as AAD. Appends the plaintext to plaintext (give it
 * .secret = true to have it wiped); *header (when header is not NULL) gets
 * the protected header (new reference). Errors: TES_ERR_JOSE (malformed),
 * TES_ERR_JOSE_HEADER (refused header), TES_ERR_JWK ("epk"),
 * TES_ERR_SIGNATURE (does not decrypt: another key or changed), what agree
 * returns, TES_ERR_NOMEM; nothing appended or handed out on failure. The
 * secrets (Z, the content key) are wiped. */
TES_MUST_CHECK tes_err tes_jwe_decrypt(const char *text, size_t len, size_t max_len,
                                       tes_jwe_agree agree, void *ctx, struct json_t **header,
                                       tes_buf *plaintext);

/* Options of tes_jwe_encrypt_with (borrowed for the call). */
typedef struct tes_jwe_encrypt_opts {
    tes_jwe_enc enc;            /* the content encryption */
    const struct json_t *extra; /* NULL, or header members to add (below) */
    const tes_rng *rng;         /* the IV's source; NULL: the system's */
} tes_jwe_encrypt_opts;

/* Encrypts plaintext to recipient (an EC P-256 public key) with a fresh
 * ephemeral key (ECDH-ES, o->enc; o NULL: A256GCM, no extra members, the
 * system's randomness); o->extra adds header members ("kid", "apu", "apv",
 * ...; not "alg", "enc", "epk", "crit", "zip": TES_ERR_ARG). Appends the
 * compact JWE to out. TES_ERR_ARG (also an unknown enc), TES_ERR_RANDOM,
 * TES_ERR_NOMEM, TES_ERR_CRYPTO. */
TES_MUST_CHECK tes_err tes_jwe_encrypt_with(const tes_jwe_encrypt_opts *o, tes_bytes plaintext,
                                            const tes_key *recipient, tes_buf *out);

/* tes_jwe_encrypt_with with enc A256GCM, extra and rng. */
TES_MUST_CHECK tes_err tes_jwe_encrypt(const struct json_t *extra, tes_bytes plaintext,
                                       const tes_key *recipient, const tes_rng *rng,
                                       tes_buf *out);

/* The Concat KDF of RFC 7518 §4.6.2 with SHA-256 (one round): key_len
 * (1..32) bytes of key from the shared secret z, the "enc" value and the
 * decoded apu / apv. TES_ERR_ARG, TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_jwe_concat_kdf(tes_bytes z, const char *enc, tes_bytes apu,
                                          tes_bytes apv, uint8_t *key, size_t key_len);

/* ---------------------------------------------------------------- JWT claims */

/* True when the "aud" claim of claims is aud, or an array holding it
 * (RFC 7519 §4.1.3; compared byte for byte, no NUL inside). */
bool tes_jwt_aud_has(const struct json_t *claims, const char *aud);

/* The integer claim name (a NumericDate, RFC 7519 §2) into *out:
 * TES_OK, TES_ERR_NOT_FOUND when absent, TES_ERR_JOSE when not an integer. */
TES_MUST_CHECK tes_err tes_jwt_int(const struct json_t *claims, const char *name, int64_t *out);

/* The string claim name into out (NUL-terminated): TES_OK, TES_ERR_NOT_FOUND
 * when absent, TES_ERR_JOSE when not a string of 1..max characters without
 * NUL (out holds max + 1 bytes). */
TES_MUST_CHECK tes_err tes_jwt_string(const struct json_t *claims, const char *name, size_t max,
                                      char *out);

#ifdef __cplusplus
}
#endif

#endif
