/*
 * tessera/core.h — errors, byte slices, growable buffers, injected clock and
 * randomness, hex and base64url.
 *
 * Conventions used by every libtessera module:
 *  - Fallible functions return tes_err. TES_OK is 0. On failure the library
 *    also records a human-readable message for the calling thread, retrievable
 *    with tes_err_message() until the next failing call on that thread.
 *  - Input buffers are borrowed (tes_bytes): the library never keeps a pointer
 *    past the call unless the function says so.
 *  - Output buffers (tes_buf) are owned by the caller; free with tes_buf_free().
 *  - The library never prints and never exits.
 */
#ifndef TESSERA_CORE_H
#define TESSERA_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TES_MUST_CHECK __attribute__((warn_unused_result))

/*
 * Error codes, grouped in ranges so "whose fault is it?" is one comparison.
 * Codes are never renumbered; new ones are appended within their range.
 *   1..99     the caller misused the API
 *   100..299  the input is malformed (cannot be parsed as what it claims)
 *   300..599  the input is well-formed but a check failed
 *   600..699  the environment failed (memory, I/O, crypto backend)
 */
typedef enum tes_err {
    TES_OK = 0,

    /* caller mistakes */
    TES_ERR_ARG = 1,             /* invalid argument */
    TES_ERR_BUFFER_SMALL = 2,    /* output buffer too small */
    TES_ERR_STATE = 3,           /* call out of sequence */
    TES_ERR_UNSUPPORTED = 4,     /* algorithm or feature not supported */
    TES_ERR_NOT_FOUND = 5,       /* requested item does not exist */
    TES_ERR_PIN_REQUIRED = 6,    /* the key needs user verification: give the PIN */
    TES_ERR_PIN_FORMAT = 7,      /* PIN/PUK not of the allowed length or alphabet */
    TES_ERR_EXISTS = 8,          /* the item exists already (e.g. a credential added twice) */

    /* malformed input: CBOR */
    TES_ERR_CBOR_TRUNCATED = 100,   /* input ends inside an item */
    TES_ERR_CBOR_TRAILING = 101,    /* bytes after the top-level item */
    TES_ERR_CBOR_INVALID = 102,     /* reserved or ill-formed encoding */
    TES_ERR_CBOR_TOO_DEEP = 103,    /* nesting beyond the decoder's limit */
    TES_ERR_CBOR_TOO_LARGE = 104,   /* input, string or item count beyond limits */
    TES_ERR_CBOR_DUP_KEY = 105,     /* a map has the same key twice */
    TES_ERR_CBOR_INDEFINITE = 106,  /* indefinite-length string (not supported) */
    TES_ERR_CBOR_TYPE = 107,        /* an item has the wrong type for its place */
    TES_ERR_CBOR_UTF8 = 108,        /* text string is not valid UTF-8 */
    /* malformed input: COSE */
    TES_ERR_COSE_MALFORMED = 120,   /* not a COSE_Sign1 / COSE_Mac0 / COSE_Key */
    TES_ERR_COSE_ALG = 121,         /* missing or unsupported algorithm */
    TES_ERR_COSE_X5CHAIN = 122,     /* x5chain missing or malformed */
    TES_ERR_COSE_KEY = 123,         /* COSE_Key malformed or unsupported */
    /* malformed input: certificates and keys */
    TES_ERR_CERT_MALFORMED = 140,   /* certificate cannot be parsed */
    TES_ERR_KEY_MALFORMED = 141,    /* key cannot be parsed */
    /* malformed input: mdoc */
    TES_ERR_MDOC_STRUCTURE = 160,   /* DeviceResponse/Document/IssuerSigned shape */
    TES_ERR_MDOC_VERSION = 161,     /* unsupported version */
    TES_ERR_MSO_STRUCTURE = 162,    /* MobileSecurityObject shape */
    TES_ERR_MDOC_ITEM = 163,        /* IssuerSignedItem shape */
    TES_ERR_MDOC_REQUEST = 164,     /* DeviceRequest shape */
    TES_ERR_MDOC_TRANSCRIPT = 165,  /* SessionTranscript shape */
    TES_ERR_MDOC_DEVICE_AUTH = 166, /* DeviceSigned/DeviceAuth shape */
    TES_ERR_JSON = 180,             /* JSON input malformed */
    TES_ERR_CLAIMS = 181,           /* claims do not fit the doctype */
    TES_ERR_ENCODING = 182,         /* hex / base64url / PEM text malformed */
    TES_ERR_SE_TAMPERED = 200,      /* secure-element state fails authentication or is cut short */
    TES_ERR_SE_ROLLBACK = 201,      /* secure-element state is older than the monotonic counter */
    TES_ERR_STORE_CORRUPT = 202,    /* the wallet store is not a store or is damaged */
    TES_ERR_ATTESTATION_FORMAT = 203, /* a key attestation cannot be parsed */
    TES_ERR_ENGAGEMENT = 204,       /* DeviceEngagement / "mdoc:" URI malformed */
    TES_ERR_HANDOVER = 205,         /* NFC handover (NDEF) malformed */
    TES_ERR_SESSION_MESSAGE = 206,  /* SessionEstablishment / SessionData malformed */
    TES_ERR_APDU = 207,             /* APDU malformed or out of sequence */
    TES_ERR_POLICY = 208,           /* consent policy file malformed */
    TES_ERR_STATUS_TOKEN = 209,     /* status list token malformed (or a decompression bomb) */
    TES_ERR_HTTP_REQUEST = 210,     /* an HTTP request body, JWT or parameter is malformed */
    TES_ERR_STATUS_TOO_LARGE = 211, /* status list inflates beyond the bound (decompression bomb) */
    /* ISO 18013-5 audit */
    TES_ERR_MDOC_DATE = 212,        /* a tdate / full-date not in the form 18013-5 requires */
    /* cbor: */
    TES_ERR_CBOR_MISSING = 213,     /* a map lacks a member the reader requires */
    TES_ERR_CBOR_END = 214,         /* an array or map has fewer items than the reader reads */
    /* jose: */
    TES_ERR_JOSE = 216,             /* a compact JWS, base64url part or JSON segment is malformed */
    TES_ERR_JOSE_HEADER = 217,      /* a JOSE header asks for what is refused (alg, crit, typ) */
    TES_ERR_JWK = 218,              /* a JWK is not an EC P-256 public key */
    /* dcql: */
    TES_ERR_DCQL = 219,             /* a DCQL query is malformed or beyond its limits */
    TES_ERR_DCQL_UNSUPPORTED = 220, /* a DCQL query asks for a format Tessera does not present */
    /* ---- rpsvc (issue 13) ---- */
    TES_ERR_RP_RESPONSE = 221,      /* a response to the verifier (form, payload, vp_token) is malformed */
    TES_ERR_RP_REQUEST = 222,       /* a call of the verifier's backend API is malformed */
    /* ---- end rpsvc ---- */
    /* ---- access (issue 14) ---- */
    TES_ERR_TLV = 215,              /* BER-TLV malformed, beyond its bounds, or a field of the
                                       wrong length */
    TES_ERR_ACCESS_DOC_FORMAT = 223,/* an access or revocation document is malformed */
    /* ---- end access ---- */

    /* failed checks */
    TES_ERR_ISSUER_SIG = 300,        /* issuer signature over the MSO is wrong */
    TES_ERR_CHAIN_UNTRUSTED = 301,   /* DS does not chain to a trusted root */
    TES_ERR_CHAIN_SIG = 302,         /* a certificate signature in the chain is wrong */
    TES_ERR_CERT_EXPIRED = 303,      /* a certificate has expired at the evaluation time */
    TES_ERR_CERT_NOT_YET_VALID = 304,/* a certificate is not yet valid */
    TES_ERR_DS_PROFILE = 305,        /* document signer violates the 18013-5 profile */
    TES_ERR_IACA_PROFILE = 306,      /* root violates the IACA profile */
    TES_ERR_READER_PROFILE = 307,    /* reader certificate violates its profile */
    TES_ERR_DOCTYPE_MISMATCH = 308,  /* MSO docType differs from the Document's */
    TES_ERR_MSO_EXPIRED = 309,       /* evaluation time after validUntil */
    TES_ERR_MSO_NOT_YET_VALID = 310, /* evaluation time before validFrom */
    TES_ERR_DIGEST_MISMATCH = 311,   /* a disclosed item's digest differs from the MSO */
    TES_ERR_DIGEST_MISSING = 312,    /* a disclosed item has no digest in the MSO */
    TES_ERR_DEVICE_SIG = 313,        /* device signature is wrong */
    TES_ERR_DEVICE_MAC = 314,        /* device MAC is wrong */
    TES_ERR_READER_SIG = 315,        /* reader authentication signature is wrong */
    TES_ERR_MSO_DIGEST_ALG = 316,    /* MSO digest algorithm not supported */
    TES_ERR_DEVICE_KEY = 317,        /* MSO deviceKey unusable for the requested auth */
    TES_ERR_ELEMENT_NOT_ISSUED = 318,/* requested element is not in the credential */
    TES_ERR_SIGNATURE = 319,         /* a generic COSE signature or MAC check failed */
    TES_ERR_DEVICE_NAMESPACES = 320, /* device-signed elements not allowed / mismatched */
    TES_ERR_STATUS = 321,            /* MSO status member malformed */
    TES_ERR_DOC_ERRORS = 322,        /* response reports documentErrors/status != 0 */
    TES_ERR_PIN_WRONG = 330,         /* wrong PIN (tries left in the message) */
    TES_ERR_PIN_LOCKED = 331,        /* too many wrong PINs: unblock with the PUK */
    TES_ERR_PUK_WRONG = 332,         /* wrong PUK */
    TES_ERR_SE_BLOCKED = 333,        /* too many wrong PUKs: permanently blocked */
    TES_ERR_KEY_UNKNOWN = 334,       /* no such key (never created or deleted) */
    TES_ERR_KEY_USED = 335,          /* a single-use key was already used */
    TES_ERR_ATTESTATION = 336,       /* key attestation does not verify or is not accepted */
    TES_ERR_PIN_NOT_SET = 337,       /* the secure element has no PIN yet */
    TES_ERR_SESSION_DECRYPT = 338,   /* session message fails authentication (altered,
                                        replayed, reordered or reflected) */
    TES_ERR_SESSION_ENDED = 339,     /* the peer ended the session (status in the message) */
    TES_ERR_READER_SCOPE = 340,      /* the reader asks beyond the scope its certificate grants */
    TES_ERR_CONSENT = 341,           /* the holder declined */
    TES_ERR_AGE_OVER_LIMIT = 342,    /* more than two age_over_NN asked (18013-5 §7.2.5) */
    TES_ERR_STATUS_EXPIRED = 343,    /* status list token expired or older than allowed */
    TES_ERR_GRANT = 344,             /* pre-authorized code unknown, used, expired, or wrong tx code */
    TES_ERR_TOKEN = 345,             /* access token unknown or expired */
    TES_ERR_NONCE = 346,             /* c_nonce unknown, used or expired */
    TES_ERR_PROOF = 347,             /* proof of possession does not verify */
    TES_ERR_RATE_LIMIT = 348,        /* too many requests for this offer */
    /* issuance refused by the registry */
    TES_ERR_DENIED = 349,            /* the person or device is revoked or suspended: no issuance */
    TES_ERR_BUDGET = 350,            /* the offer's or person's credential budget is used up */
    /* status lists */
    TES_ERR_STATUS_ISSUER = 351,     /* status list not signed by the credential's own issuer */
    TES_ERR_STATUS_ROLLBACK = 352,   /* status list older (iat) than one already seen */
    /* ISO 18013-5 audit */
    TES_ERR_DS_COUNTRY = 353,        /* DS countryName missing or not its IACA's */
    TES_ERR_ISSUING_COUNTRY = 354,   /* issuing_country differs from the DS countryName */
    TES_ERR_ISSUING_JURISDICTION = 355, /* issuing_jurisdiction differs from the DS
                                           stateOrProvinceName */
    TES_ERR_MSO_VALIDITY_ORDER = 356,/* validityInfo out of order (signed <= validFrom <
                                        validUntil) */
    TES_ERR_MSO_SIGNED_OUTSIDE_DS = 357, /* MSO signed outside the DS certificate's validity */
    /* a wallet's batch of copies refused (tes_wallet_add_batch) */
    TES_ERR_BATCH_MIXED = 358,       /* copies of one batch differ in doctype or issuer */
    TES_ERR_BATCH_KEY_SHARED = 359,  /* two copies of one batch are bound to the same key */
    TES_ERR_BATCH_PROTECTIONS = 360, /* the copies' keys differ in protections (PIN, single use) */
    /* enrol: */
    TES_ERR_COPY_NOT_BOUND = 361,    /* a copy is not bound to the key made for it */
    /* present: */
    TES_ERR_READER_ROOTS_FULL = 365, /* the wallet's list of reader authorities is full */
    /* pseudo: */
    TES_ERR_SITE_KEY = 375, /* a pseudonym's site key is not an uncompressed P-256 point on
                               the curve */
    /* ---- authz (issue 13) ---- */
    TES_ERR_AUTHZ_URL = 390,        /* an authorization request URL is malformed or unsupported */
    TES_ERR_REQUEST_URI = 391,      /* request_uri answered an error, another type or too much */
    TES_ERR_VERIFIER_REFUSED = 392, /* the verifier refused the wallet's response */
    /* ---- end authz ---- */
    /* dcql: */
    TES_ERR_DCQL_UNSATISFIED = 366,  /* no held credentials satisfy the DCQL query */
    /* jar: */
    TES_ERR_OID4VP_REQUEST = 369,    /* an OpenID4VP request object's claims are refused */
    TES_ERR_CLIENT_ID_PREFIX = 370,  /* client_id prefix not x509_san_dns / x509_hash */
    TES_ERR_CLIENT_ID_MISMATCH = 371,/* client_id does not match the certificate or the URL */
    TES_ERR_RESPONSE_URI = 372,      /* response_uri not https (or loopback http if allowed) */
    TES_ERR_REQUEST_EXPIRED = 373,   /* request object expired or issued in the future */
    TES_ERR_RP_PROFILE = 374,        /* RP access certificate lacks its dNSName SAN */
    /* ---- rpsvc (issue 13) ---- */
    TES_ERR_RP_TX_UNKNOWN = 376,     /* no such verifier transaction */
    TES_ERR_RP_TX_EXPIRED = 377,     /* the verifier transaction has expired */
    TES_ERR_RP_TX_USED = 378,        /* the verifier transaction was answered already (replay) */
    TES_ERR_RP_STATE = 379,          /* the response's state is not the transaction's */
    TES_ERR_RP_DECRYPT = 380,        /* the response does not decrypt with the transaction's key */
    TES_ERR_RP_DECLINED = 381,       /* the wallet declined (an error response) */
    TES_ERR_RP_CLAIMS = 382,         /* the presentation lacks a requested document or claim */
    TES_ERR_RP_STATUS = 383,         /* the credential is revoked or suspended */
    TES_ERR_RP_STATUS_UNKNOWN = 384, /* the credential's status could not be determined */
    TES_ERR_RP_AUTH = 385,           /* the backend's API key or the site cookie is wrong */
    /* ---- end rpsvc ---- */
    /* ---- access (issue 14) ---- */
    TES_ERR_ACCESS_READER = 362,     /* the reader (lock) did not authenticate: AUTH1 signature
                                        wrong, or no key of the wallet for its reader group */
    TES_ERR_ACCESS_ENDPOINT = 363,   /* the phone did not authenticate: device signature wrong,
                                        endpoint unknown and no access document */
    TES_ERR_ACCESS_ISSUER = 364,     /* an access or revocation document is not signed by a
                                        trusted issuer (or its digests do not match) */
    TES_ERR_ACCESS_DENIED = 367,     /* the key does not open this door (group, room, schedule) */
    TES_ERR_ACCESS_EXPIRED = 368,    /* the key is outside its validity (before check-in, after
                                        check-out) */
    TES_ERR_ACCESS_REVOKED = 386,    /* the key was revoked (given back, phone lost) */
    TES_ERR_ACCESS_CHANNEL = 387,    /* a secure-channel message fails authentication (altered,
                                        reflected, replayed or reordered) */
    TES_ERR_ACCESS_RATE = 388,       /* too many full (standard) transactions: try later */
    TES_ERR_ACCESS_ROLLBACK = 389,   /* a revocation document older than one already applied */
    /* ---- end access ---- */

    /* environment */
    TES_ERR_NOMEM = 600,   /* allocation failed */
    TES_ERR_IO = 601,      /* file or socket I/O failed */
    TES_ERR_CRYPTO = 602,  /* the crypto backend failed unexpectedly */
    TES_ERR_RANDOM = 603,  /* the random source failed */
    TES_ERR_SE_MODULE = 604,   /* PKCS#11 module missing or cannot be loaded */
    TES_ERR_SE_NO_TOKEN = 605, /* no token (card) present / token label not found */
    TES_ERR_SE_BACKEND = 606,  /* the secure element failed (PKCS#11 CKR_* in the message) */
    TES_ERR_STORE = 607,       /* the store (SQLite/PostgreSQL) failed */
    TES_ERR_BUSY = 608,        /* the store is locked by another process beyond the timeout */
    TES_ERR_TRANSPORT = 609,   /* the connection failed or the peer went away */
    TES_ERR_TIMEOUT = 610,     /* no answer in time */
    TES_ERR_PCSC = 611,        /* PC/SC failed (no pcscd, no reader, card removed) */
    /* secret directories (tes_dir_secret) */
    TES_ERR_DIR_UNSAFE = 612,  /* a directory for secrets is another user's or writable by others */
    /* ---- rpsvc (issue 13) ---- */
    TES_ERR_RP_CONFIG = 613,   /* a verifier site directory is incomplete or inconsistent */
    /* ---- end rpsvc ---- */
    /* ---- access (issue 14) ---- */
    TES_ERR_LOCK_CONFIG = 614, /* a lock's or hotel's directory is incomplete or inconsistent */
    /* ---- end access ---- */
} tes_err;

static inline bool tes_err_is_caller(tes_err e) { return e > 0 && e < 100; }
static inline bool tes_err_is_malformed(tes_err e) { return e >= 100 && e < 300; }
static inline bool tes_err_is_check(tes_err e) { return e >= 300 && e < 600; }
static inline bool tes_err_is_env(tes_err e) { return e >= 600; }

/* Stable symbolic name, e.g. "TES_ERR_ISSUER_SIG" -> "issuer_signature". Never NULL. */
const char *tes_err_name(tes_err e);
/* One-line description of the code (static text). Never NULL. */
const char *tes_err_describe(tes_err e);
/* Message of the calling thread's most recent failure (details: which item,
 * which element). Valid until the next libtessera call on this thread. */
const char *tes_err_message(void);
/* The message to report for a failure that returned e: the most recent
 * message when it was recorded with code e, else tes_err_describe(e) — never
 * the leftover text of another, later or earlier, failure. */
const char *tes_err_message_for(tes_err e);
/* Records code and message for the calling thread and returns code. */
tes_err tes_err_set(tes_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tes_err_clear(void);

/* A borrowed, read-only byte slice. */
typedef struct tes_bytes {
    const uint8_t *ptr;
    size_t len;
} tes_bytes;

#define TES_BYTES(p, n) ((tes_bytes){(const uint8_t *)(p), (n)})
#define TES_BYTES_STR(s) ((tes_bytes){(const uint8_t *)(s), sizeof(s) - 1})
bool tes_bytes_eq(tes_bytes a, tes_bytes b);
/* A NUL-terminated copy of b (which need not be NUL-terminated: unlike
 * strndup, nothing past b.len is read); the caller frees it with free().
 * NULL when out of memory. */
char *tes_bytes_cstr(tes_bytes b);
/* Constant-time equality of two equal-length slices; false if lengths differ. */
bool tes_ct_eq(tes_bytes a, tes_bytes b);
/* Overwrites memory in a way the compiler will not elide. */
void tes_wipe(void *p, size_t n);

/* A growable, owned byte buffer. Zero-initialise before first use.
 * Errors are sticky: after an allocation failure every append is a no-op and
 * `failed` stays set; check once at the end. */
typedef struct tes_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    bool failed;
    bool secret; /* wipe on growth and on free */
} tes_buf;

void tes_buf_append(tes_buf *b, const void *data, size_t n);
/* Reserves n bytes at the end, returns a pointer to them (NULL after failure). */
uint8_t *tes_buf_extend(tes_buf *b, size_t n);
void tes_buf_reset(tes_buf *b);
void tes_buf_free(tes_buf *b);
static inline tes_bytes tes_buf_bytes(const tes_buf *b) { return TES_BYTES(b->ptr, b->len); }

/* Injected clock: seconds since the Unix epoch (UTC). Every wall-clock time
 * the library reads comes from a tes_clock its caller gives (a NULL clock
 * meaning the system's), so a time-dependent rule can be tested at a chosen
 * instant; only the system clock below calls time(). Timeouts and pauses are
 * measured on CLOCK_MONOTONIC, which is no wall-clock time. */
typedef struct tes_clock {
    int64_t (*now)(void *ctx);
    void *ctx;
} tes_clock;
/* The system clock. */
tes_clock tes_clock_system(void);
int64_t tes_clock_now(const tes_clock *c);

/* Injected randomness: the library's one randomness API. fill() returns 0 on
 * success. Every random value Tessera itself draws (codes, tokens, nonces,
 * ids, salts, IVs, certificate serials, status indexes, the software secure
 * element's keys) comes from a tes_rng its caller gives, a NULL rng meaning
 * the system's. Two draws stay inside OpenSSL, seeded by the operating
 * system: key generation in OpenSSL (tes_key_generate: ephemeral session
 * keys, authority keys) and the per-signature ECDSA nonce, which a
 * deterministic caller-supplied source must never reach (a repeated nonce
 * gives the private key away). The temporary names of tes_file_write are
 * drawn from the system source directly: they must stay unpredictable to
 * other local users whatever rng a test injects. */
typedef struct tes_rng {
    int (*fill)(void *ctx, uint8_t *out, size_t n);
    void *ctx;
} tes_rng;
/* The operating system's CSPRNG (getrandom). */
tes_rng tes_rng_system(void);
TES_MUST_CHECK tes_err tes_rng_fill(const tes_rng *r, uint8_t *out, size_t n);

/* Hex (lower case out; either case in; whitespace at the end tolerated on input). */
void tes_hex_encode(tes_buf *out, tes_bytes in);
/* The same as a C string: 2 * in.len digits and a NUL into out, which holds at
 * least 2 * in.len + 1 bytes (char[65] for a SHA-256). */
void tes_hex_str(char *out, tes_bytes in);
TES_MUST_CHECK tes_err tes_hex_decode(tes_buf *out, const char *text, size_t len);
/* The value of one hex digit (either case), or -1 for any other character. */
int tes_hex_digit(char c);
/* Exactly n bytes from a C string of exactly 2 * n hex digits (either case, nothing
 * else): true and out filled, or false and out untouched. For fixed-size ids. */
bool tes_hex_fixed(const char *s, uint8_t *out, size_t n);
/* base64url without padding on output; padding tolerated on input. */
void tes_b64url_encode(tes_buf *out, tes_bytes in);
TES_MUST_CHECK tes_err tes_b64url_decode(tes_buf *out, const char *text, size_t len);
/* Standard base64 (for PEM); whitespace skipped on input. */
void tes_b64_encode(tes_buf *out, tes_bytes in);
TES_MUST_CHECK tes_err tes_b64_decode(tes_buf *out, const char *text, size_t len);
/* Percent (URL) decoding of one form component or URI query value, strictly:
 * '%' must be followed by two hex digits, '+' is a space when plus_space, a
 * raw byte <= 0x20 or >= 0x7f and a decoded control character are refused.
 * Writes the decoded bytes NUL-terminated into out (cap bytes including the
 * NUL); *out_len (may be NULL) receives their number. Errors: TES_ERR_ARG
 * (NULL out, cap 0), TES_ERR_HTTP_REQUEST (malformed, or longer than cap - 1:
 * the callers parse HTTP forms and OpenID4VCI offer URIs). */
TES_MUST_CHECK tes_err tes_url_decode(const char *in, size_t len, bool plus_space, char *out,
                                      size_t cap, size_t *out_len);
/* Appends the percent-encoding of s[0..len) to out: the RFC 3986 unreserved
 * characters kept, every other byte as %XX (upper case). */
void tes_url_encode(tes_buf *out, const char *s, size_t len);

/* Untrusted text (a name, a doctype, a value from the wire) made safe to put in
 * a message or show to a person: the bytes of v into out as a C string of at
 * most cap - 1 bytes (cap >= 1; nothing is written when cap is 0). Well-formed
 * UTF-8 is kept and never cut inside a character; each control character (C0,
 * DEL, C1, the line and paragraph separators, the bidirectional controls that
 * could reorder what is shown) and each byte that is not well-formed UTF-8
 * becomes one '?'. */
void tes_text_printable(char *out, size_t cap, tes_bytes v);

/* Calendar time helpers (UTC, proleptic Gregorian). */
/* Formats t as "YYYY-MM-DDThh:mm:ssZ" into out (at least 21 bytes). */
void tes_time_format(int64_t t, char out[21]);
/* Parses RFC 3339 "YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)". frac is accepted
 * and truncated unless strict is true, in which case it is rejected. */
TES_MUST_CHECK tes_err tes_time_parse(const char *s, size_t len, bool strict, int64_t *out);
/* Validates "YYYY-MM-DD". */
bool tes_date_valid(const char *s, size_t len);

/* QR codes (ISO/IEC 18004, error correction level M, 8-bit mode): the one
 * encoder the CLI (terminal, PNG) and the services (SVG) draw from. */
#define TES_QR_MAX_TEXT 2331 /* characters encoded */
#define TES_QR_QUIET 4       /* quiet zone, modules */
typedef struct tes_qr {
    int width;        /* modules on a side, without the quiet zone */
    uint8_t *modules; /* width * width, row-major, 1 = dark (owned; tes_qr_free) */
} tes_qr;
/* Encodes text (1..TES_QR_MAX_TEXT characters). Errors: TES_ERR_ARG, TES_ERR_NOMEM. */
TES_MUST_CHECK tes_err tes_qr_encode(const char *text, tes_qr *out);
void tes_qr_free(tes_qr *q);
/* Whether module (x, y) of the code drawn with its quiet zone (coordinates
 * 0 .. width + 2 * TES_QR_QUIET - 1) is dark; false outside. */
bool tes_qr_dark(const tes_qr *q, int x, int y);
/* Appends an SVG image of the code (with its quiet zone, one unit a module,
 * black on white, scalable) to out. Errors: those of tes_qr_encode. */
TES_MUST_CHECK tes_err tes_qr_svg(const char *text, tes_buf *out);

/* Reads a whole file (bounded by max bytes). */
TES_MUST_CHECK tes_err tes_file_read(const char *path, size_t max, tes_buf *out);
/* Writes a file atomically: a temp file with an unpredictable name in the
 * target's directory, created exclusively (O_EXCL|O_NOFOLLOW) with `mode`
 * (e.g. 0600 for secrets and personal data, less the umask), fsync, rename
 * over the target, fsync of the directory. An existing target that is not a
 * regular file (a device such as /dev/null, a FIFO, /dev/stdout) is written in
 * place, never replaced; a directory is refused. */
TES_MUST_CHECK tes_err tes_file_write(const char *path, tes_bytes data, unsigned mode);
/* A directory that will hold secrets (keys): creates it with mode 0700
 * exactly (*created = true), or accepts an existing one (*created = false)
 * only when it is the caller's own (effective uid) and writable by nobody
 * else, since whoever may write into it can swap the keys written there for
 * their own. Errors: TES_ERR_IO (cannot create, not a directory),
 * TES_ERR_DIR_UNSAFE (owned by another user, or writable by its group or by
 * others). */
TES_MUST_CHECK tes_err tes_dir_secret(const char *dir, bool *created);

#ifdef __cplusplus
}
#endif
#endif
