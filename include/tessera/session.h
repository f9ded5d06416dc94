/*
 * tessera/session.h — ISO/IEC 18013-5 proximity sessions: device engagement
 * (QR "mdoc:" URI, NFC static handover), the SessionTranscript, session
 * establishment and session encryption (§9.1.1).
 *
 * The exact received bytes of the DeviceEngagement and of the handover are
 * kept and hashed; nothing that is verified is ever re-encoded.
 *
 * Session encryption: SKReader / SKDevice = HKDF-SHA-256(ECDH(EDevice,
 * EReader), salt = SHA-256(SessionTranscriptBytes), info "SKReader" /
 * "SKDevice", 32 bytes); AES-256-GCM, no AAD, IV = identifier (8 bytes:
 * reader 00..00, mdoc 00..01) || message counter (4 bytes BE, from 1).
 * Each side keeps its own send counter and the counter it expects next from
 * the peer: a replayed, reordered, reflected or altered message fails to
 * decrypt (TES_ERR_SESSION_DECRYPT) and the session must then be ended with
 * status 10. Keys are wiped when the session is freed.
 */
#ifndef TESSERA_SESSION_H
#define TESSERA_SESSION_H

#include "tessera/cbor.h"
#include "tessera/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SessionData status codes (18013-5 Table 20). */
enum {
    TES_SESSION_STATUS_DECRYPT_ERROR = 10,
    TES_SESSION_STATUS_CBOR_ERROR = 11,
    TES_SESSION_STATUS_TERMINATION = 20,
};

/* ---- device engagement ---- */

typedef struct tes_engagement {
    tes_buf bytes;        /* exact DeviceEngagement bytes (as sent or received) */
    tes_key *edevice_pub; /* EDeviceKey public key (owned) */
    tes_buf edevice_key_bytes; /* exact EDeviceKeyBytes (tag 24 COSE_Key) */
} tes_engagement;

/* Holder: builds a DeviceEngagement {0: "1.0", 1: [1, EDeviceKeyBytes]} for the
 * ephemeral key edevice (private, fresh per session). */
TES_MUST_CHECK tes_err tes_engagement_build(const tes_key *edevice, tes_engagement *out);
/* Parses DeviceEngagement bytes (strict, bounded; version 1.x, cipher suite
 * 1, EDeviceKey P-256). Errors: TES_ERR_ENGAGEMENT (+ CBOR errors). */
TES_MUST_CHECK tes_err tes_engagement_parse(tes_bytes in, tes_engagement *out);
void tes_engagement_free(tes_engagement *e);

/* QR: "mdoc:" + base64url(DeviceEngagement), no padding. */
TES_MUST_CHECK tes_err tes_engagement_to_uri(const tes_engagement *e, tes_buf *uri);
TES_MUST_CHECK tes_err tes_engagement_from_uri(const char *uri, size_t len, tes_engagement *out);

/* NFC static handover: an NDEF Handover Select message (Hs 1.5) whose
 * carrier is the external record "iso.org:18013:nfc" (NFC data retrieval,
 * with maximum command and response data lengths) and whose auxiliary data
 * is the external record "iso.org:18013:deviceengagement" (id "mdoc")
 * holding the DeviceEngagement. */
TES_MUST_CHECK tes_err tes_handover_select_build(const tes_engagement *e, uint32_t max_cmd,
                                                 uint32_t max_rsp, tes_buf *ndef);
/* Parses an NDEF message as above; out receives the DeviceEngagement, and
 * max_cmd/max_rsp (may be NULL) the NFC carrier's data lengths.
 * Errors: TES_ERR_HANDOVER. */
TES_MUST_CHECK tes_err tes_handover_select_parse(tes_bytes ndef, tes_engagement *out,
                                                 uint32_t *max_cmd, uint32_t *max_rsp);

/* ---- transcript ---- */

/* SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, Handover]
 * as plain CBOR: handover is null for QR, [HandoverSelect bytes, null] for
 * NFC static handover (pass the exact NDEF bytes as nfc_handover_select). */
TES_MUST_CHECK tes_err tes_session_transcript(const tes_engagement *e,
                                              tes_bytes ereader_key_bytes,
                                              tes_bytes nfc_handover_select, tes_buf *out);

/* ---- sessions ---- */

typedef enum tes_session_role {
    TES_SESSION_READER = 1,
    TES_SESSION_HOLDER = 2,
} tes_session_role;

typedef struct tes_session tes_session;

/* Reader: from the received engagement, a fresh EReaderKey (private) and
 * the handover (NULL/empty for QR). Derives the keys and the transcript. */
TES_MUST_CHECK tes_err tes_session_reader_new(const tes_engagement *e, const tes_key *ereader,
                                              tes_bytes nfc_handover_select, tes_session **out);
/* Holder: from its own engagement (whose EDevice private key it keeps) and
 * the received SessionEstablishment; returns the decrypted first message
 * (the DeviceRequest) in `request`. Errors: TES_ERR_SESSION_MESSAGE
 * (malformed establishment), TES_ERR_SESSION_DECRYPT. */
TES_MUST_CHECK tes_err tes_session_holder_accept(const tes_engagement *e, const tes_key *edevice,
                                                 tes_bytes nfc_handover_select,
                                                 tes_bytes establishment, tes_session **out,
                                                 tes_buf *request);
/* Reader: SessionEstablishment {eReaderKey: EReaderKeyBytes, data: encrypted request}. */
TES_MUST_CHECK tes_err tes_session_establish(tes_session *s, tes_bytes request, tes_buf *out);
/* Either side: SessionData {data: encrypted payload} (status omitted) or,
 * with final, {data, status: 20}. */
TES_MUST_CHECK tes_err tes_session_encrypt(tes_session *s, tes_bytes payload, bool final,
                                           tes_buf *out);
/* Either side: SessionData -> payload. *status receives the status (0 when
 * absent). A message with only a status has no payload (out stays empty).
 * Errors: TES_ERR_SESSION_MESSAGE, TES_ERR_SESSION_DECRYPT; after either the
 * session is dead (every later call fails with TES_ERR_STATE). */
TES_MUST_CHECK tes_err tes_session_decrypt(tes_session *s, tes_bytes session_data, tes_buf *out,
                                           uint64_t *status);
/* SessionData {status: code} without data (termination or error). */
TES_MUST_CHECK tes_err tes_session_status(uint64_t code, tes_buf *out);
/* The plain SessionTranscript bytes of this session (view, lives with s). */
tes_bytes tes_session_transcript_bytes(const tes_session *s);
void tes_session_free(tes_session *s);

#ifdef __cplusplus
}
#endif
#endif
