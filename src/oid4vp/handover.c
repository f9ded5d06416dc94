/*
 * The mdoc SessionTranscript of OpenID4VP 1.0 Appendix B.2.6.1 (invocation
 * via redirects): [null, null, ["OpenID4VPHandover", SHA-256(info)]] with
 * info = [clientId, nonce, jwkThumbprint / null, responseUri].
 */
#include <string.h>

#include "tessera/cbor.h"
#include "tessera/crypto.h"
#include "tessera/oid4vp.h"

tes_err tes_oid4vp_session_transcript(const char *client_id, const char *nonce,
                                      const uint8_t *jwk_thumbprint, const char *response_uri,
                                      tes_buf *out)
{
    if (client_id == NULL || nonce == NULL || response_uri == NULL || out == NULL ||
        client_id[0] == '\0' || nonce[0] == '\0' || response_uri[0] == '\0')
        return tes_err_set(TES_ERR_ARG, "OpenID4VP SessionTranscript: client_id, nonce and "
                                        "response_uri must be non-empty strings");
    tes_buf info = {0};
    tes_cbor_enc e = {.out = &info};
    tes_cbor_enc_array(&e, 4);
    tes_cbor_enc_cstr(&e, client_id);
    tes_cbor_enc_cstr(&e, nonce);
    if (jwk_thumbprint != NULL)
        tes_cbor_enc_bytes(&e, jwk_thumbprint, 32);
    else
        tes_cbor_enc_null(&e);
    tes_cbor_enc_cstr(&e, response_uri);
    tes_err err = e.err != TES_OK ? e.err : info.failed ? TES_ERR_NOMEM : TES_OK;
    uint8_t hash[32];
    if (err == TES_OK)
        err = tes_digest(TES_HASH_SHA256, tes_buf_bytes(&info), hash);
    tes_buf_free(&info);
    if (err != TES_OK)
        return tes_err_set(err, "OpenID4VP SessionTranscript: %s", tes_err_describe(err));

    size_t start = out->len;
    tes_cbor_enc t = {.out = out};
    tes_cbor_enc_array(&t, 3);
    tes_cbor_enc_null(&t);
    tes_cbor_enc_null(&t);
    tes_cbor_enc_array(&t, 2);
    tes_cbor_enc_cstr(&t, "OpenID4VPHandover");
    tes_cbor_enc_bytes(&t, hash, sizeof hash);
    if (t.err != TES_OK || out->failed) {
        err = t.err != TES_OK ? t.err : TES_ERR_NOMEM;
        if (!out->failed)
            out->len = start;
        return tes_err_set(err, "OpenID4VP SessionTranscript: %s", tes_err_describe(err));
    }
    return TES_OK;
}
