/* Shared between the files of the session module; not public. */
#ifndef TES_SESSION_INTERNAL_H
#define TES_SESSION_INTERNAL_H

#include "tessera/session.h"

/* Limits for untrusted engagement / handover / session input. */
#define TES_SESSION_MAX_ENGAGEMENT 4096u    /* DeviceEngagement bytes */
#define TES_SESSION_MAX_URI 8192u           /* "mdoc:" URI characters */
#define TES_SESSION_MAX_NDEF 8192u          /* Handover Select NDEF message */
#define TES_SESSION_MAX_MESSAGE (16u << 20) /* SessionEstablishment / SessionData */

/* ASCII case-insensitive comparison of a byte view with a C string. */
bool session_bytes_eq_nocase(tes_bytes a, const char *s);

/*
 * NFC negotiated handover (18013-5 §9.1.5.1): Handover = [HandoverSelect,
 * HandoverRequest], both as the exact NDEF bytes. The public API only knows
 * static handover ([HandoverSelect, null]); these variants take the Handover
 * Request too (empty: static handover / QR as in the public functions) so
 * that a negotiated handover, such as the one of 18013-5 Annex D, can be
 * reproduced. A non-empty request requires a non-empty select.
 */
TES_MUST_CHECK tes_err session_transcript_ex(const tes_engagement *e, tes_bytes ereader_key_bytes,
                                             tes_bytes hs, tes_bytes hr, tes_buf *out);
TES_MUST_CHECK tes_err session_reader_new_ex(const tes_engagement *e, const tes_key *ereader,
                                             tes_bytes hs, tes_bytes hr, tes_session **out);
TES_MUST_CHECK tes_err session_holder_accept_ex(const tes_engagement *e, const tes_key *edevice,
                                                tes_bytes hs, tes_bytes hr, tes_bytes establishment,
                                                tes_session **out, tes_buf *request);

#endif
