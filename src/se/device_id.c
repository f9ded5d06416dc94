/* The device id of a secure element (se.h): hex SHA-256 of its attestation
 * certificate, the second certificate of every attestation of its keys. The
 * one computation of it, for the issuer (which records it with the copies it
 * issues) and for the wallet (which shows it to the holder). */
#include <string.h>

#include <jansson.h>

#include "tessera/cbor.h"
#include "tessera/se.h"

#define CHAIN_MAX_CERTS 16
#define CHAIN_MAX_BYTES (256u << 10)
#define JWT_HEADER_MAX 32768 /* characters of a key attestation's base64url header */

static tes_err hex_sha256(tes_bytes der, char out[65])
{
    uint8_t h[32];
    tes_err err = tes_digest(TES_HASH_SHA256, der, h);
    if (err == TES_OK)
        tes_hex_str(out, TES_BYTES(h, 32));
    return err;
}

tes_err tes_se_device_id(tes_bytes chain, char out[65])
{
    if (out == NULL || (chain.ptr == NULL && chain.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_se_device_id: NULL argument");
    out[0] = '\0';
    tes_cbor_limits lim = {
        .max_input = CHAIN_MAX_BYTES, .max_depth = 2, .max_items = CHAIN_MAX_CERTS + 1};
    tes_cbor_doc d;
    if (chain.len == 0 || tes_cbor_parse(chain, &lim, &d) != TES_OK)
        return tes_err_set(TES_ERR_ATTESTATION, "the attestation chain is not CBOR");
    tes_err err = TES_OK;
    uint32_t second = TES_CBOR_NONE;
    if (tes_cbor_is(&d, 0, TES_CBOR_ARRAY) && tes_cbor_count(&d, 0) >= 2)
        second = tes_cbor_child_at(&d, 0, 1);
    if (second == TES_CBOR_NONE) {
        err = tes_err_set(TES_ERR_NOT_FOUND, "the attestation chain has no secure-element "
                                             "certificate (fewer than two certificates)");
    } else if (!tes_cbor_is(&d, second, TES_CBOR_BYTES)) {
        err = tes_err_set(TES_ERR_ATTESTATION, "x5c[1] is not a certificate");
    } else {
        const tes_cbor_node *n = tes_cbor_at(&d, second);
        err = hex_sha256(TES_BYTES(n->data, n->len), out);
    }
    tes_cbor_doc_free(&d);
    return err;
}

tes_err tes_se_device_id_jwt(tes_bytes jwt, char out[65])
{
    if (out == NULL || (jwt.ptr == NULL && jwt.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_se_device_id_jwt: NULL argument");
    out[0] = '\0';
    const uint8_t *dot = jwt.len ? memchr(jwt.ptr, '.', jwt.len) : NULL;
    if (dot == NULL || dot - jwt.ptr > JWT_HEADER_MAX)
        return tes_err_set(TES_ERR_ATTESTATION, "the key attestation is not a JWT");
    tes_buf hdr = {0}, der = {0};
    json_t *h = NULL;
    tes_err err = TES_OK;
    if (tes_b64url_decode(&hdr, (const char *)jwt.ptr, (size_t)(dot - jwt.ptr)) != TES_OK ||
        (h = json_loadb((const char *)hdr.ptr, hdr.len, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
        err = tes_err_set(TES_ERR_ATTESTATION, "the key attestation's header is not JSON");
        goto out;
    }
    json_t *x5c = json_object_get(h, "x5c");
    json_t *second = json_array_get(x5c, 1);
    if (!json_is_array(x5c) || second == NULL) {
        err = tes_err_set(TES_ERR_NOT_FOUND, "the key attestation has no secure-element "
                                             "certificate (x5c of fewer than two certificates)");
    } else if (!json_is_string(second) ||
               tes_b64_decode(&der, json_string_value(second), json_string_length(second)) !=
                   TES_OK ||
               der.len == 0) {
        err = tes_err_set(TES_ERR_ATTESTATION, "x5c[1] is not a certificate");
    } else {
        err = hex_sha256(tes_buf_bytes(&der), out);
    }
out:
    json_decref(h);
    tes_buf_free(&hdr);
    tes_buf_free(&der);
    return err;
}
