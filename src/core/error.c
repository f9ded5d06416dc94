/* Error codes: names, descriptions and the per-thread last message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tessera/core.h"

static _Thread_local char last_message[512];
/* The code last_message was set with: a message is only ever reported for its
 * own code (tes_err_message_for). */
static _Thread_local tes_err last_code;

typedef struct {
    tes_err code;
    const char *name;
    const char *text;
} err_entry;

static const err_entry table[] = {
    {TES_OK, "ok", "success"},
    {TES_ERR_ARG, "invalid_argument", "invalid argument"},
    {TES_ERR_BUFFER_SMALL, "buffer_too_small", "output buffer too small"},
    {TES_ERR_STATE, "bad_state", "call out of sequence"},
    {TES_ERR_UNSUPPORTED, "unsupported", "algorithm or feature not supported"},
    {TES_ERR_NOT_FOUND, "not_found", "requested item does not exist"},
    {TES_ERR_PIN_REQUIRED, "pin_required", "the key needs the PIN"},
    {TES_ERR_PIN_FORMAT, "pin_format", "PIN or PUK has the wrong length or characters"},
    {TES_ERR_EXISTS, "already_exists", "the item exists already"},
    {TES_ERR_CBOR_TRUNCATED, "cbor_truncated", "CBOR input ends inside an item"},
    {TES_ERR_CBOR_TRAILING, "cbor_trailing_bytes", "bytes after the CBOR item"},
    {TES_ERR_CBOR_INVALID, "cbor_invalid", "ill-formed CBOR encoding"},
    {TES_ERR_CBOR_TOO_DEEP, "cbor_too_deep", "CBOR nesting too deep"},
    {TES_ERR_CBOR_TOO_LARGE, "cbor_too_large", "CBOR input beyond size limits"},
    {TES_ERR_CBOR_DUP_KEY, "cbor_duplicate_key", "CBOR map has a duplicate key"},
    {TES_ERR_CBOR_INDEFINITE, "cbor_indefinite", "indefinite-length CBOR string"},
    {TES_ERR_CBOR_TYPE, "cbor_type", "CBOR item of the wrong type"},
    {TES_ERR_CBOR_UTF8, "cbor_utf8", "CBOR text string is not valid UTF-8"},
    {TES_ERR_COSE_MALFORMED, "cose_malformed", "malformed COSE structure"},
    {TES_ERR_COSE_ALG, "cose_algorithm", "missing or unsupported COSE algorithm"},
    {TES_ERR_COSE_X5CHAIN, "cose_x5chain", "x5chain missing or malformed"},
    {TES_ERR_COSE_KEY, "cose_key", "COSE_Key malformed or unsupported"},
    {TES_ERR_CERT_MALFORMED, "certificate_malformed", "certificate cannot be parsed"},
    {TES_ERR_KEY_MALFORMED, "key_malformed", "key cannot be parsed"},
    {TES_ERR_MDOC_STRUCTURE, "mdoc_structure", "malformed DeviceResponse or Document"},
    {TES_ERR_MDOC_VERSION, "mdoc_version", "unsupported mdoc version"},
    {TES_ERR_MSO_STRUCTURE, "mso_structure", "malformed MobileSecurityObject"},
    {TES_ERR_MDOC_ITEM, "issuer_signed_item", "malformed IssuerSignedItem"},
    {TES_ERR_MDOC_REQUEST, "device_request", "malformed DeviceRequest"},
    {TES_ERR_MDOC_TRANSCRIPT, "session_transcript", "malformed SessionTranscript"},
    {TES_ERR_MDOC_DEVICE_AUTH, "device_signed_structure", "malformed DeviceSigned"},
    {TES_ERR_JSON, "json", "malformed JSON"},
    {TES_ERR_CLAIMS, "claims", "claims do not fit the document type"},
    {TES_ERR_ENCODING, "encoding", "malformed hex, base64url or PEM text"},
    {TES_ERR_SE_TAMPERED, "se_tampered", "secure-element state is damaged or was altered"},
    {TES_ERR_SE_ROLLBACK, "se_rollback", "secure-element state is an older copy (rollback)"},
    {TES_ERR_STORE_CORRUPT, "store_corrupt", "the wallet store is damaged"},
    {TES_ERR_ATTESTATION_FORMAT, "attestation_format", "key attestation cannot be parsed"},
    {TES_ERR_ENGAGEMENT, "engagement", "DeviceEngagement or mdoc: URI malformed"},
    {TES_ERR_HANDOVER, "handover", "NFC handover message malformed"},
    {TES_ERR_SESSION_MESSAGE, "session_message", "session message malformed"},
    {TES_ERR_APDU, "apdu", "APDU malformed or out of sequence"},
    {TES_ERR_POLICY, "policy", "consent policy malformed"},
    {TES_ERR_STATUS_TOKEN, "status_token", "status list token malformed"},
    {TES_ERR_HTTP_REQUEST, "http_request", "HTTP request malformed"},
    {TES_ERR_STATUS_TOO_LARGE, "status_list_too_large", "status list inflates beyond the bound"},
    {TES_ERR_MDOC_DATE, "mdoc_date_form", "a tdate or full-date is not in the 18013-5 form"},
    /* cbor: */
    {TES_ERR_CBOR_MISSING, "cbor_missing", "a CBOR map lacks a required member"},
    {TES_ERR_CBOR_END, "cbor_end", "a CBOR array or map has fewer items than required"},
    /* jose: */
    {TES_ERR_JOSE, "jose", "a JWS, base64url part or JOSE JSON segment is malformed"},
    {TES_ERR_JOSE_HEADER, "jose_header", "a JOSE header asks for what is refused"},
    {TES_ERR_JWK, "jwk", "a JWK is not an EC P-256 public key"},
    /* dcql: */
    {TES_ERR_DCQL, "dcql", "a DCQL query is malformed or beyond its limits"},
    {TES_ERR_DCQL_UNSUPPORTED, "dcql_unsupported", "a DCQL query asks for an unsupported format"},
    /* ---- rpsvc (issue 13) ---- */
    {TES_ERR_RP_RESPONSE, "rp_response", "the response to the verifier is malformed"},
    {TES_ERR_RP_REQUEST, "rp_request", "the call of the verifier's API is malformed"},
    {TES_ERR_RP_TX_UNKNOWN, "rp_transaction_unknown", "no such verifier transaction"},
    {TES_ERR_RP_TX_EXPIRED, "rp_transaction_expired", "the verifier transaction has expired"},
    {TES_ERR_RP_TX_USED, "rp_transaction_used", "the verifier transaction was answered already"},
    {TES_ERR_RP_STATE, "rp_state", "the response's state is not the transaction's"},
    {TES_ERR_RP_DECRYPT, "rp_decrypt", "the response does not decrypt with the transaction's key"},
    {TES_ERR_RP_DECLINED, "rp_declined", "the wallet declined"},
    {TES_ERR_RP_CLAIMS, "rp_claims", "the presentation lacks a requested document or claim"},
    {TES_ERR_RP_STATUS, "rp_status", "the credential is revoked or suspended"},
    {TES_ERR_RP_STATUS_UNKNOWN, "rp_status_unknown", "the credential's status could not be determined"},
    {TES_ERR_RP_AUTH, "rp_auth", "the API key or the site cookie is wrong"},
    {TES_ERR_RP_CONFIG, "rp_config", "the verifier's site directory is incomplete or inconsistent"},
    /* ---- end rpsvc ---- */
    /* ---- access (issue 14) ---- */
    {TES_ERR_TLV, "tlv", "BER-TLV data is malformed or beyond its bounds"},
    {TES_ERR_ACCESS_DOC_FORMAT, "access_document_format",
     "an access or revocation document is malformed"},
    {TES_ERR_ACCESS_READER, "access_reader", "the lock did not authenticate to the phone"},
    {TES_ERR_ACCESS_ENDPOINT, "access_endpoint", "the phone did not authenticate to the lock"},
    {TES_ERR_ACCESS_ISSUER, "access_issuer",
     "the access or revocation document is not signed by a trusted issuer"},
    {TES_ERR_ACCESS_DENIED, "access_denied", "the key does not open this door"},
    {TES_ERR_ACCESS_EXPIRED, "access_expired", "the key is outside its validity"},
    {TES_ERR_ACCESS_REVOKED, "access_revoked", "the key was revoked"},
    {TES_ERR_ACCESS_CHANNEL, "access_channel",
     "a secure-channel message fails authentication"},
    {TES_ERR_ACCESS_RATE, "access_rate", "too many full transactions: try later"},
    {TES_ERR_ACCESS_ROLLBACK, "access_rollback",
     "the revocation document is older than one already applied"},
    {TES_ERR_LOCK_CONFIG, "lock_config", "the lock's or hotel's directory is incomplete or inconsistent"},
    /* ---- end access ---- */
    {TES_ERR_ISSUER_SIG, "issuer_signature", "issuer signature is wrong"},
    {TES_ERR_CHAIN_UNTRUSTED, "chain_untrusted", "issuer does not chain to a trusted root"},
    {TES_ERR_CHAIN_SIG, "chain_signature", "a certificate signature in the chain is wrong"},
    {TES_ERR_CERT_EXPIRED, "certificate_expired", "certificate expired"},
    {TES_ERR_CERT_NOT_YET_VALID, "certificate_not_yet_valid", "certificate not yet valid"},
    {TES_ERR_DS_PROFILE, "document_signer_profile", "document signer violates its profile"},
    {TES_ERR_IACA_PROFILE, "iaca_profile", "root certificate violates the IACA profile"},
    {TES_ERR_READER_PROFILE, "reader_profile", "reader certificate violates its profile"},
    {TES_ERR_DOCTYPE_MISMATCH, "doctype_mismatch", "MSO docType differs from the Document"},
    {TES_ERR_MSO_EXPIRED, "mso_expired", "credential expired (validUntil passed)"},
    {TES_ERR_MSO_NOT_YET_VALID, "mso_not_yet_valid", "credential not yet valid (validFrom)"},
    {TES_ERR_DIGEST_MISMATCH, "digest_mismatch", "disclosed element does not match its digest"},
    {TES_ERR_DIGEST_MISSING, "digest_missing", "disclosed element has no digest in the MSO"},
    {TES_ERR_DEVICE_SIG, "device_signature", "device signature is wrong"},
    {TES_ERR_DEVICE_MAC, "device_mac", "device MAC is wrong"},
    {TES_ERR_READER_SIG, "reader_signature", "reader authentication signature is wrong"},
    {TES_ERR_MSO_DIGEST_ALG, "mso_digest_algorithm", "MSO digest algorithm not supported"},
    {TES_ERR_DEVICE_KEY, "device_key", "MSO deviceKey unusable"},
    {TES_ERR_ELEMENT_NOT_ISSUED, "element_not_issued", "element is not in the credential"},
    {TES_ERR_SIGNATURE, "signature", "signature or MAC is wrong"},
    {TES_ERR_DEVICE_NAMESPACES, "device_namespaces", "device-signed elements not accepted"},
    {TES_ERR_STATUS, "status_reference", "MSO status member malformed"},
    {TES_ERR_DOC_ERRORS, "document_errors", "response reports errors"},
    {TES_ERR_PIN_WRONG, "pin_wrong", "wrong PIN"},
    {TES_ERR_PIN_LOCKED, "pin_locked", "PIN locked after too many wrong tries; unblock with the PUK"},
    {TES_ERR_PUK_WRONG, "puk_wrong", "wrong PUK"},
    {TES_ERR_SE_BLOCKED, "se_blocked", "secure element permanently blocked (PUK exhausted)"},
    {TES_ERR_KEY_UNKNOWN, "key_unknown", "no such key in the secure element"},
    {TES_ERR_KEY_USED, "key_used", "single-use key already used"},
    {TES_ERR_ATTESTATION, "attestation", "key attestation does not verify or is not accepted"},
    {TES_ERR_PIN_NOT_SET, "pin_not_set", "the secure element has no PIN yet"},
    {TES_ERR_SESSION_DECRYPT, "session_decrypt", "session message fails authentication"},
    {TES_ERR_SESSION_ENDED, "session_ended", "the peer ended the session"},
    {TES_ERR_READER_SCOPE, "reader_scope", "the reader asks beyond its granted scope"},
    {TES_ERR_CONSENT, "consent_declined", "the holder declined"},
    {TES_ERR_AGE_OVER_LIMIT, "age_over_limit", "more than two age_over_NN requested"},
    {TES_ERR_STATUS_EXPIRED, "status_expired", "status list token expired"},
    {TES_ERR_GRANT, "invalid_grant", "pre-authorized code or transaction code not accepted"},
    {TES_ERR_TOKEN, "invalid_token", "access token unknown or expired"},
    {TES_ERR_NONCE, "invalid_nonce", "c_nonce unknown, used or expired"},
    {TES_ERR_PROOF, "invalid_proof", "proof of possession does not verify"},
    {TES_ERR_RATE_LIMIT, "rate_limited", "too many requests"},
    {TES_ERR_DENIED, "credential_request_denied",
     "the person or device is revoked or suspended: nothing is issued"},
    {TES_ERR_BUDGET, "credential_budget", "the offer's or person's credential budget is used up"},
    {TES_ERR_STATUS_ISSUER, "status_wrong_issuer",
     "status list not signed by the credential's issuer"},
    {TES_ERR_STATUS_ROLLBACK, "status_rollback", "status list older than one already seen"},
    {TES_ERR_DS_COUNTRY, "ds_country", "document signer country differs from its IACA's"},
    {TES_ERR_ISSUING_COUNTRY, "issuing_country",
     "issuing_country differs from the document signer's country"},
    {TES_ERR_ISSUING_JURISDICTION, "issuing_jurisdiction",
     "issuing_jurisdiction differs from the document signer's state or province"},
    {TES_ERR_MSO_VALIDITY_ORDER, "mso_validity_order", "MSO validityInfo dates out of order"},
    {TES_ERR_MSO_SIGNED_OUTSIDE_DS, "mso_signed_outside_certificate",
     "MSO signed outside the document signer certificate's validity"},
    {TES_ERR_BATCH_MIXED, "batch_mixed",
     "the copies are not copies of one credential (doctype or issuer differ)"},
    {TES_ERR_BATCH_KEY_SHARED, "batch_key_shared", "two copies are bound to the same key"},
    {TES_ERR_BATCH_PROTECTIONS, "batch_protections",
     "the copies' keys differ in their protections"},
    /* enrol: */
    {TES_ERR_COPY_NOT_BOUND, "copy_not_bound", "a copy is not bound to the key made for it"},
    /* present: */
    {TES_ERR_READER_ROOTS_FULL, "reader_roots_full",
     "the wallet trusts as many reader authorities as it can hold"},
    /* pseudo: */
    {TES_ERR_SITE_KEY, "site_key",
     "the site key for a pseudonym is not an uncompressed P-256 point on the curve"},
    /* ---- authz (issue 13) ---- */
    {TES_ERR_AUTHZ_URL, "authz_url", "the authorization request URL is malformed or unsupported"},
    {TES_ERR_REQUEST_URI, "request_uri",
     "the request object could not be fetched (HTTP status, content type or size)"},
    {TES_ERR_VERIFIER_REFUSED, "verifier_refused", "the verifier refused the wallet's response"},
    /* ---- end authz ---- */
    /* dcql: */
    {TES_ERR_DCQL_UNSATISFIED, "dcql_unsatisfied", "no held credentials satisfy the DCQL query"},
    /* jar: */
    {TES_ERR_OID4VP_REQUEST, "oid4vp_request", "the request object's claims are refused"},
    {TES_ERR_CLIENT_ID_PREFIX, "client_id_prefix",
     "the client_id prefix is not supported (x509_san_dns, x509_hash)"},
    {TES_ERR_CLIENT_ID_MISMATCH, "client_id_mismatch",
     "the client_id does not match the relying party's certificate or the request URL"},
    {TES_ERR_RESPONSE_URI, "response_uri", "the response_uri is refused"},
    {TES_ERR_REQUEST_EXPIRED, "request_expired",
     "the request object is expired or issued in the future"},
    {TES_ERR_RP_PROFILE, "rp_profile",
     "the relying party's access certificate has no subjectAltName dNSName"},
    {TES_ERR_NOMEM, "out_of_memory", "allocation failed"},
    {TES_ERR_IO, "io", "file or socket I/O failed"},
    {TES_ERR_CRYPTO, "crypto_backend", "the crypto backend failed"},
    {TES_ERR_RANDOM, "random", "the random source failed"},
    {TES_ERR_SE_MODULE, "se_module", "PKCS#11 module missing or cannot be loaded"},
    {TES_ERR_SE_NO_TOKEN, "se_no_token", "no token present or token label not found"},
    {TES_ERR_SE_BACKEND, "se_backend", "the secure element failed"},
    {TES_ERR_STORE, "store", "the store failed"},
    {TES_ERR_BUSY, "busy", "the store is locked by another process"},
    {TES_ERR_TRANSPORT, "transport", "the connection failed"},
    {TES_ERR_TIMEOUT, "timeout", "no answer in time"},
    {TES_ERR_PCSC, "pcsc", "PC/SC failed"},
    {TES_ERR_DIR_UNSAFE, "dir_unsafe", "a directory for secrets is not safe"},
};

static const err_entry *find(tes_err e)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].code == e)
            return &table[i];
    return NULL;
}

const char *tes_err_name(tes_err e)
{
    const err_entry *t = find(e);
    return t ? t->name : "unknown_error";
}

const char *tes_err_describe(tes_err e)
{
    const err_entry *t = find(e);
    return t ? t->text : "unknown error";
}

const char *tes_err_message(void)
{
    return last_message;
}

tes_err tes_err_set(tes_err code, const char *fmt, ...)
{
    /* format into a copy first: callers may pass tes_err_message() as an argument */
    char msg[sizeof(last_message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(last_message, msg, sizeof(msg));
    last_code = code;
    return code;
}

const char *tes_err_message_for(tes_err e)
{
    if (e == last_code && last_message[0] != '\0')
        return last_message;
    return tes_err_describe(e);
}

void tes_err_clear(void)
{
    last_message[0] = '\0';
    last_code = TES_OK;
}
