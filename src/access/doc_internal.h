/* Access and revocation documents: what doc.c (the mdoc-like envelope: items,
 * MSO, issuerAuth) shares with doc_grant.c (the two documents' data) and
 * doc_stepup.c (the step-up request and response). */
#ifndef TES_ACCESS_DOC_INTERNAL_H
#define TES_ACCESS_DOC_INTERNAL_H

#include "tessera/access.h"
#include "tessera/cbor.h"
#include "tessera/cose.h"

#define ACCESSDOC_ELEMENT "element2" /* the data element of both documents */
#define ACCESSDOC_MAX_ITEMS 8        /* items in the namespace */
#define ACCESSDOC_MAX_DIGESTS 16     /* digests in the MSO's namespace */
#define ACCESSDOC_RANDOM_LEN 16
#define ACCESSDOC_TEN_YEARS 315569520LL /* 10 Gregorian years, seconds */

/* What one document says besides its data element. */
typedef struct accessdoc_envelope {
    const char *doctype; /* TES_ACCESS_DOCTYPE or TES_REVOCATION_DOCTYPE (also the namespace) */
    tes_bytes value;     /* issue: the encoded data; verify: its bytes in the document */
    bool has_device_key; /* deviceKeyInfo (required for aliro-a, absent for aliro-r) */
    uint8_t device_key[TES_ACCESS_POINT_LEN];
    int64_t signed_at, valid_from, valid_until;
} accessdoc_envelope;

/* Writes the Document around env->value (issue: signer ES256, kid of issuer_public). */
tes_err accessdoc_issue(const accessdoc_envelope *env, const tes_signer *issuer,
                        const tes_key *issuer_public, const tes_rng *rng, tes_buf *out);
/* Parses and checks the Document of docType env->doctype, with deviceKeyInfo
 * required when env->has_device_key and refused otherwise (both set by the
 * caller); fills the rest of env, env->value pointing into document. Errors as
 * tes_access_doc_verify's, without the data's own. */
tes_err accessdoc_verify(tes_bytes document, const tes_key *const *issuers, size_t n_issuers,
                         accessdoc_envelope *env);

/* A map member's key as a small integer: an int, or (flex) the decimal text of
 * one ("1", "5"). False for anything else. */
bool accessdoc_key(const tes_cbor_doc *d, uint32_t k, bool flex, int64_t *out);
/* The members of map node m whose keys are keys[0..n) (vals[j] the value node,
 * TES_CBOR_NONE when absent); false when m is not a map or a key is not one of
 * them or occurs twice (in either form). */
bool accessdoc_members(const tes_cbor_doc *d, uint32_t m, const int64_t *keys, size_t n, bool flex,
                       uint32_t *vals);
/* True when node i is a byte string of exactly len bytes (copied to out when non-NULL). */
bool accessdoc_bytes(const tes_cbor_doc *d, uint32_t i, size_t len, uint8_t *out);
/* True when node i is an unsigned integer no larger than max. */
bool accessdoc_uint(const tes_cbor_doc *d, uint32_t i, uint64_t max, uint64_t *out);
/* Writes / reads a tdate (tag 0, "YYYY-MM-DDTHH:MM:SSZ"); t in 1..TES_ACCESS_TIME_MAX. */
void accessdoc_enc_tdate(tes_cbor_enc *e, int64_t t);
bool accessdoc_tdate(const tes_cbor_doc *d, uint32_t i, int64_t *t);
/* A room name: 1..TES_ACCESS_ROOM_MAX-1 bytes of printable ASCII. */
bool accessdoc_room_ok(const uint8_t *s, size_t n);

#endif
