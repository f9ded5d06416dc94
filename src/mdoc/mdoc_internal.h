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
 * Verifying a DeviceResponse (tes_mdoc_verify), in four files: verify.c walks the
 * DeviceResponse and each Document, verify_mso.c checks the MSO, verify_items.c the
 * issuer-signed items, verify_device.c DeviceSigned. Each check returns TES_OK or sets the
 * error (code and message naming document v->doc_index) and returns it.
 */
typedef struct mdoc_vctx {
    const tes_mdoc_verify_opts *o;
    tes_bytes transcript;        /* plain SessionTranscript */
    tes_bytes transcript_tagged; /* SessionTranscriptBytes */
    size_t doc_index;
} mdoc_vctx;

/* Limits for every CBOR the verifier parses. */
extern const tes_cbor_limits mdoc_verify_limits;

/* The MSO, parsed. */
#define MDOC_MSO_NODES 160 /* an MSO with ~50 digests; larger ones spill to the heap */

typedef struct mdoc_mso {
    tes_cbor_node nodes[MDOC_MSO_NODES];
    tes_cbor_doc doc;
    tes_hash hash;
    uint32_t value_digests, device_key_info;
    int64_t expected_update;
    bool has_expected_update;
} mdoc_mso;

/* 18013-5 §9.1.2.4: DigestID = uint, below 2^31; digest IDs unique per namespace
 * (the CBOR decoder refuses duplicate map keys). */
#define MDOC_DIGEST_ID_LIMIT (1u << 31)

/* verify_mso.c. The MSO of issuerAuth (its signature checked before) into *m (free m->doc,
 * also on failure; start it zeroed) and its dates, status into *out. */
tes_err mdoc_parse_mso(const mdoc_vctx *v, const tes_cose_msg *auth, tes_bytes doctype,
                       mdoc_mso *m, tes_mdoc_document *out);
/* The MSO's dates against the document signer certificate ds and the evaluation time. */
tes_err mdoc_check_validity(const mdoc_vctx *v, const tes_mdoc_document *doc,
                            const tes_cert_info *ds);
/* True when the array at node a (of text, checked before) holds `text`. */
bool mdoc_text_in_array(const tes_cbor_doc *d, uint32_t a, tes_bytes text);

/* verify_items.c. The shape of IssuerNameSpaces at node ns_map (TES_CBOR_NONE: none) and the
 * number of its items. */
tes_err mdoc_count_items(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t ns_map, size_t *n);
/* Every disclosed item against its MSO digest, into out->elems (room for n_items). */
tes_err mdoc_check_disclosed(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t ns_map,
                             const mdoc_mso *m, tes_mdoc_document *out, size_t n_items);
/* issuing_country / issuing_jurisdiction of the n elements against the document signer. */
tes_err mdoc_check_issuing_country(const mdoc_vctx *v, const tes_mdoc_element *el, size_t n,
                                   const tes_cert_info *ds);

/* verify_device.c. DeviceSigned at node dev_signed: its elements appended to out->elems
 * from first_free (room for cap), its signature or MAC checked. */
tes_err mdoc_check_device(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t dev_signed,
                          const mdoc_mso *m, tes_bytes doctype, tes_mdoc_document *out,
                          size_t first_free, size_t cap);
/* An upper bound of the device-signed elements of DeviceSigned at node dev_signed. */
size_t mdoc_count_device_elems(const tes_cbor_doc *d, uint32_t dev_signed);

/* Namespace and element name of an item, printable, for error messages. */
typedef struct mdoc_item_names {
    char ns[96], el[96];
} mdoc_item_names;

static inline void mdoc_name_item(mdoc_item_names *n, tes_bytes ns, tes_bytes el)
{
    tes_text_printable(n->ns, sizeof(n->ns), ns);
    tes_text_printable(n->el, sizeof(n->el), el);
}

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
