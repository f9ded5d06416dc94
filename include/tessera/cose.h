/*
 * tessera/cose.h — COSE_Sign1, COSE_Mac0 and COSE_Key (RFC 9052/9053) as
 * 18013-5 uses them: ES256/ES384/ES512/EdDSA signatures, HMAC 256/256 MACs,
 * tagged (18/17) or untagged messages, detached or embedded payloads, and
 * x5chain (label 33) as a single bstr or an array of bstr.
 *
 * Decoded messages are views: every tes_bytes in them points into the
 * parsed input, which must outlive the view. Nothing is allocated.
 */
#ifndef TESSERA_COSE_H
#define TESSERA_COSE_H

#include "tessera/cbor.h"
#include "tessera/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TES_COSE_ES256 = -7,
    TES_COSE_ES384 = -35,
    TES_COSE_ES512 = -36,
    TES_COSE_EDDSA = -8,
    TES_COSE_HMAC256 = 5, /* HMAC 256/256 */
};

enum {
    TES_COSE_HDR_ALG = 1,
    TES_COSE_HDR_KID = 4,
    TES_COSE_HDR_X5CHAIN = 33,
};

#define TES_COSE_MAX_CHAIN 8

typedef struct tes_cose_msg {
    bool tagged;             /* was wrapped in tag 18 (Sign1) or 17 (Mac0) */
    int64_t alg;             /* from the protected header */
    tes_bytes protected_raw; /* content of the protected bstr (may be empty) */
    bool detached;           /* payload was nil */
    tes_bytes payload;       /* embedded payload (empty when detached) */
    tes_bytes tag;           /* signature (Sign1) or MAC tag (Mac0) */
    size_t x5chain_len;      /* number of certificates in x5chain (0: none) */
    tes_bytes x5chain[TES_COSE_MAX_CHAIN]; /* DER, leaf first */
} tes_cose_msg;

/* Decodes node `i` of a parsed document as COSE_Sign1 (or, for the _mac0
 * variant, COSE_Mac0). Accepts the untagged array and the tagged form;
 * rejects any other tag. Checks: 4-element array; protected a bstr holding a
 * map (or empty) with an integer alg; unprotected a map; payload bstr or nil;
 * signature/tag a bstr; no header label in both buckets; x5chain well formed.
 * Errors: TES_ERR_COSE_MALFORMED, TES_ERR_COSE_ALG (alg missing, not in the
 * protected bucket or unknown), TES_ERR_COSE_X5CHAIN. */
TES_MUST_CHECK tes_err tes_cose_sign1_decode(const tes_cbor_doc *d, uint32_t i, tes_cose_msg *out);
TES_MUST_CHECK tes_err tes_cose_mac0_decode(const tes_cbor_doc *d, uint32_t i, tes_cose_msg *out);
/* Same, from standalone bytes (the views point into `in`). */
TES_MUST_CHECK tes_err tes_cose_sign1_parse(tes_bytes in, tes_cose_msg *out);
TES_MUST_CHECK tes_err tes_cose_mac0_parse(tes_bytes in, tes_cose_msg *out);

/* Verifies a Sign1 with `key` over Sig_structure ["Signature1", protected,
 * external_aad, payload]; payload is m->payload unless `detached_payload` is
 * given (non-NULL ptr), which is required when m->detached.
 * TES_ERR_SIGNATURE when the signature is wrong; TES_ERR_COSE_ALG when the
 * alg does not fit the key. */
TES_MUST_CHECK tes_err tes_cose_sign1_verify(const tes_cose_msg *m, const tes_key *key,
                                             tes_bytes detached_payload, tes_bytes external_aad);
/* Verifies a Mac0 (HMAC 256/256) over MAC_structure ["MAC0", protected,
 * external_aad, payload] in constant time. TES_ERR_SIGNATURE when wrong. */
TES_MUST_CHECK tes_err tes_cose_mac0_verify(const tes_cose_msg *m, tes_bytes mac_key,
                                            tes_bytes detached_payload, tes_bytes external_aad);

/* A signer: the private key may live anywhere (software key, secure element).
 * sign() writes a raw COSE signature for msg and returns TES_OK. */
typedef struct tes_signer {
    tes_err (*sign)(void *ctx, int64_t alg, tes_bytes msg, uint8_t *sig, size_t *sig_len);
    void *ctx;
    int64_t alg; /* the COSE alg the signer produces */
} tes_signer;
/* A signer backed by a software key (borrowed; must outlive the signer).
 * alg is chosen from the curve: P-256 ES256, P-384 ES384, P-521 ES512, Ed25519 EdDSA. */
tes_signer tes_signer_from_key(const tes_key *k);

/* How the writers below shape a message. Pass NULL for the defaults: the
 * payload embedded, no tag, no x5chain, no external AAD. The struct and what
 * it points to are borrowed for the call only. */
enum {
    TES_COSE_DETACHED = 1u << 0, /* payload slot nil (the signature/tag still covers it) */
    TES_COSE_TAGGED = 1u << 1,   /* wrapped in tag 18 (Sign1) or 17 (Mac0) */
};
typedef struct tes_cose_opts {
    unsigned flags;           /* TES_COSE_DETACHED | TES_COSE_TAGGED; other bits: TES_ERR_ARG */
    const tes_bytes *x5chain; /* Sign1 only: unprotected {33: x5chain}, leaf first */
    size_t chain_len;         /* 0: no x5chain header; at most TES_COSE_MAX_CHAIN */
    tes_bytes external_aad;   /* empty: none */
} tes_cose_opts;

/* Writes a COSE_Sign1 into e: protected {1: alg}, unprotected {33: x5chain}
 * when o->chain_len > 0 (a single bstr for one certificate, else an array).
 * Errors (left in e->err, as every writer here does): TES_ERR_ARG (no signer,
 * unknown flag, chain_len with no x5chain or above TES_COSE_MAX_CHAIN),
 * TES_ERR_COSE_ALG (the signer's alg), the signer's own error. */
void tes_cose_sign1_write(tes_cbor_enc *e, const tes_signer *s, tes_bytes payload,
                          const tes_cose_opts *o);
/* Room tes_cose_sign1_write_inbuf needs in front of the payload. */
#define TES_COSE_SIGN1_ROOM 40
/* Same as tes_cose_sign1_write with an embedded payload and no external_aad
 * (TES_COSE_DETACHED or an external_aad in o: TES_ERR_ARG),
 * for a payload the caller has already written at buf[payload_off .. end):
 * the Sig_structure is assembled in place, in the bytes right before it
 * (at most TES_COSE_SIGN1_ROOM of them, overwritten), so the payload is not
 * copied to be signed. buf must not be e->out. TES_ERR_ARG when payload_off
 * leaves too little room. */
void tes_cose_sign1_write_inbuf(tes_cbor_enc *e, const tes_signer *s, uint8_t *buf,
                                size_t payload_off, size_t end, const tes_cose_opts *o);
/* Writes a COSE_Mac0 with HMAC 256/256: protected {1: 5}, empty unprotected.
 * Errors: TES_ERR_ARG (unknown flag, an x5chain in o), the HMAC's. */
void tes_cose_mac0_write(tes_cbor_enc *e, tes_bytes mac_key, tes_bytes payload,
                         const tes_cose_opts *o);

/* COSE_Key: EC2 (kty 2; crv 1,2,3; x, y as bstr; a y given as a bool
 * compressed point is rejected) or OKP (kty 1; crv 6 Ed25519; x). A private
 * part ("d") is ignored on decode. Errors: TES_ERR_COSE_KEY. */
TES_MUST_CHECK tes_err tes_cose_key_decode(const tes_cbor_doc *d, uint32_t i, tes_key **out);
TES_MUST_CHECK tes_err tes_cose_key_parse(tes_bytes in, tes_key **out);
/* Writes the public COSE_Key of k (deterministic key order). */
void tes_cose_key_write(tes_cbor_enc *e, const tes_key *k);

/* Hash used by a COSE signature algorithm (TES_HASH_NONE for EdDSA);
 * false when alg is not a supported signature algorithm. */
bool tes_cose_alg_hash(int64_t alg, tes_hash *h);

#ifdef __cplusplus
}
#endif
#endif
