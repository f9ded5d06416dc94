/*
 * se_internal.h — private to src/se/: the backends' constructors and helpers
 * shared between the files of the se module. Not installed, not public.
 */
#ifndef TESSERA_SE_INTERNAL_H
#define TESSERA_SE_INTERNAL_H

#include "tessera/se.h"

/* Opens (creating on first use) the software secure element whose files live
 * in dir, with its caller's clock and randomness (copied; NULL: system). Errors:
 * TES_ERR_SE_TAMPERED, TES_ERR_SE_ROLLBACK, TES_ERR_IO, TES_ERR_ARG. */
TES_MUST_CHECK tes_err se_soft_open(const char *dir, const tes_clock *clock, const tes_rng *rng,
                                    tes_se **out);

/* Opens a PKCS#11 token (src/se/pkcs11.c). label may be NULL (first token with
 * a token present); state_dir holds Tessera's own PIN counters. */
TES_MUST_CHECK tes_err se_pkcs11_open(const char *module, const char *label, const char *state_dir,
                                      const tes_rng *rng, tes_se **out);

/* Soft backend: the attestation step behind tes_se_soft_provision (se must be a
 * soft SE; TES_ERR_ARG otherwise). */
TES_MUST_CHECK tes_err se_soft_provision(tes_se *se, const char *vendor_dir);

/* Which secret se_check_pin_format checks, and the syntax its backend takes. */
typedef enum se_secret { SE_SECRET_PIN, SE_SECRET_PUK } se_secret;
typedef enum se_pin_syntax {
    SE_PIN_DIGITS, /* ASCII digits only, at most 16 */
    SE_PIN_TEXT,   /* any bytes but control characters, at most 63 (TES_SE_CAP_TEXT_PIN) */
} se_pin_syntax;
/* PIN / PUK syntax (see TES_SE_CAP_TEXT_PIN): SE_PIN_DIGITS, PIN 4..16 ASCII
 * digits and PUK 8..16; SE_PIN_TEXT, PIN 4..63 bytes and PUK 8..63 without
 * control characters. TES_OK or TES_ERR_PIN_FORMAT (what is wrong in the
 * message, never the PIN). */
TES_MUST_CHECK tes_err se_check_pin_format(const char *pin, se_secret which, se_pin_syntax syntax);

/* Builds the DER value of the attestation extension (an OCTET STRING holding
 * the CBOR map {"uv", "single_use", "backend", "challenge"}) into out. */
TES_MUST_CHECK tes_err se_attestation_ext(bool uv, bool single_use, const char *backend,
                                          tes_bytes challenge, tes_buf *out);

/* Per-site pseudonyms (pseudonym.c; tes_se_pseudonym). The site key must be
 * the 65-byte uncompressed P-256 point: its public key object into *out, or
 * TES_ERR_SITE_KEY. */
#define SE_SITE_KEY_LEN 65
TES_MUST_CHECK tes_err se_pseudonym_site_key(tes_bytes site_key, tes_key **out);
/* SHA-256(TES_SE_PSEUDONYM_LABEL || z || site_key) into out; z is the
 * x-coordinate of sk * PK_site (site_key already checked). */
TES_MUST_CHECK tes_err se_pseudonym_finish(const uint8_t z[32], tes_bytes site_key,
                                           uint8_t out[TES_SE_PSEUDONYM_LEN]);

#endif
