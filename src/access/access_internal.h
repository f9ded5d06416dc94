/*
 * Private helpers shared by the files of the access module (not public API).
 */
#ifndef TES_ACCESS_INTERNAL_H
#define TES_ACCESS_INTERNAL_H

#include "tessera/access.h"

/* The AUTH0 command data, checked: every member present once with its length. */
typedef struct tes_access_auth0 {
    uint8_t flags, policy;
    uint16_t version;
    uint8_t reader_eph[TES_ACCESS_POINT_LEN];
    uint8_t tx_id[TES_ACCESS_TX_ID_LEN];
    uint8_t reader_id[TES_ACCESS_READER_ID_LEN];
} tes_access_auth0;

/* Strict: tags 41 (1), 42 (1), 5C (2), 87 (65, uncompressed), 4C (16), 4D (32) exactly
 * once each; vendor-specific B1 tolerated; anything else TES_ERR_TLV. */
TES_MUST_CHECK tes_err tes_access_auth0_parse(tes_bytes data, tes_access_auth0 *out);
void tes_access_auth0_build(const tes_access_auth0 *in, tes_buf *out);

/* The FCI the device answers SELECT with:
 * 6F { 84 AID, A5 { 80 0000, 5C 0100, 7F66 { 02 02 max command, 02 02 max response } } }
 * (the step-up applet's FCI has no 7F66). */
void tes_access_fci(const uint8_t aid[TES_ACCESS_AID_LEN], tes_buf *out);
/* Copies the A5 template (tag, length, value as encoded) out of an FCI. TES_ERR_TLV when
 * the FCI is malformed or lacks it, or when it is longer than TES_ACCESS_FCI_MAX. */
TES_MUST_CHECK tes_err tes_access_fci_parse(tes_bytes fci, uint8_t a5[TES_ACCESS_FCI_MAX],
                                            size_t *a5_len, tes_bytes *versions);
void tes_access_fci_template(const tes_buf *fci, uint8_t a5[TES_ACCESS_FCI_MAX], size_t *len);

/* The step-up message wrapper, a CBOR map {"data": bstr}. unwrap is strict (that map and
 * nothing else): TES_ERR_ACCESS_DOC_FORMAT. */
void tes_access_sealed_wrap(tes_bytes sealed, tes_buf *out);
TES_MUST_CHECK tes_err tes_access_sealed_unwrap(tes_bytes in, tes_bytes *sealed);

#endif
