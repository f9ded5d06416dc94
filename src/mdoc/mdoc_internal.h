/* Shared between the files of the mdoc module; not public. */
#ifndef TES_MDOC_INTERNAL_H
#define TES_MDOC_INTERNAL_H

#include "tessera/mdoc.h"

/* Limits for untrusted mdoc input. */
#define TES_MDOC_MAX_INPUT (16u << 20)
#define TES_MDOC_MAX_DEPTH 24

/* A stored credential located inside its CBOR document. */
typedef struct mdoc_cred {
    tes_cbor_doc doc;
    tes_bytes doctype;
    uint32_t issuer_signed; /* IssuerSigned map */
    uint32_t name_spaces;   /* nameSpaces map or TES_CBOR_NONE */
    uint32_t issuer_auth;   /* COSE_Sign1 node */
} mdoc_cred;

/* Parses a stored credential (see mdoc.h). */
tes_err mdoc_cred_load(tes_bytes in, mdoc_cred *c);

/* Writes 0("YYYY-MM-DDThh:mm:ssZ"). */
void mdoc_enc_tdate(tes_cbor_enc *e, int64_t t);
/* Reads a tdate: tag 0 text "YYYY-MM-DDThh:mm:ssZ" as 18013-5 requires (no fraction,
 * no offset, year >= 0001). */
bool mdoc_get_tdate(const tes_cbor_doc *d, uint32_t i, int64_t *out);
/* The same with the reason: TES_ERR_MSO_STRUCTURE when node i is not tag 0 text,
 * TES_ERR_MDOC_DATE when the text is not in the required form. */
tes_err mdoc_read_tdate(const tes_cbor_doc *d, uint32_t i, int64_t *out);
/* Checks the text of a tdate / a full-date (tag 1004) (TES_ERR_MDOC_DATE). */
tes_err mdoc_check_tdate_text(tes_bytes s, int64_t *out);
tes_err mdoc_check_full_date_text(tes_bytes s);

/* DeviceAuthenticationBytes = 24(bstr(["DeviceAuthentication", transcript,
 * doctype, DeviceNameSpacesBytes])), transcript and namespaces as raw CBOR. */
void mdoc_device_auth_bytes(tes_buf *out, tes_bytes transcript, tes_bytes doctype,
                            tes_bytes device_ns_bytes);

/*
 * Test hooks. Deliberate flaws for the negative test matrix ("sign, then
 * corrupt X", as t_cose's test options do): each makes exactly one thing wrong
 * in an otherwise correct, correctly signed credential or response.
 *
 * They exist only in the test build of issue.c and present.c: compiled again
 * with -DTES_TEST_HOOKS (CMake target tessera_testhooks) into libtessera_test.a,
 * which only tests link and which is never installed. In libtessera itself
 * MDOC_FLAW() is the constant false and no flawed generator is compiled
 * (tests/install/install.sh checks the installed libtessera.a with nm).
 */
enum mdoc_flaw {
    MDOC_FLAW_MSO_DOCTYPE = 1u << 0,      /* MSO docType differs from the Document's */
    MDOC_FLAW_MSO_VERSION = 1u << 1,      /* MSO version "2.0" */
    MDOC_FLAW_MSO_DIGEST_ALG = 1u << 2,   /* digestAlgorithm "MD5" */
    MDOC_FLAW_MSO_NO_VALIDITY = 1u << 3,  /* validityInfo left out */
    MDOC_FLAW_MSO_UNTAGGED = 1u << 4,     /* payload is the MSO without tag 24 */
    MDOC_FLAW_MSO_DEVICE_KEY = 1u << 5,   /* deviceKey with an unknown curve */
    MDOC_FLAW_MSO_STATUS = 1u << 6,       /* status without status_list */
    MDOC_FLAW_DIGEST_OMIT = 1u << 7,      /* first item's digest left out of the MSO */
    MDOC_FLAW_SHORT_RANDOM = 1u << 8,     /* first item's random only 8 bytes */
    MDOC_FLAW_NO_X5CHAIN = 1u << 9,       /* issuerAuth without x5chain */
    MDOC_FLAW_DEVICE_SIG = 1u << 10,      /* device signature/MAC tag bit flipped */
    MDOC_FLAW_DEVICE_NS = 1u << 11,       /* an unauthorised device-signed element */
    MDOC_FLAW_NO_DEVICE_SIGNED = 1u << 12,/* deviceSigned left out */
    MDOC_FLAW_ISSUER_SIG = 1u << 13,      /* issuer signature bit flipped */
    MDOC_FLAW_ISSUER_ALG = 1u << 14,      /* protected alg -1 (not a signature algorithm) */
};
#ifdef TES_TEST_HOOKS
#define MDOC_FLAW(flaws, f) (((flaws) & (f)) != 0)
/* tes_mdoc_issue / tes_mdoc_present with the flaws set in `flaws`. */
tes_err mdoc_issue_flawed(const tes_mdoc_issue_params *p, unsigned flaws, tes_buf *out);
tes_err mdoc_present_flawed(const tes_mdoc_present_params *p, unsigned flaws, tes_buf *out,
                            size_t *missing);
#else
#define MDOC_FLAW(flaws, f) false
#endif

#endif
