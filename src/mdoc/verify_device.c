/*
 * Verifying a DeviceResponse, DeviceSigned (18013-5 §9.1.3): the device-signed elements
 * against the MSO's KeyAuthorizations, and DeviceAuth, the device signature or the device
 * MAC (EMacKey from ECDH with the reader's key and the 18013-5 key derivation), over
 * DeviceAuthenticationBytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

/* Does KeyAuthorizations (in DeviceKeyInfo, its shape checked by check_device_key_info)
 * authorise the device to sign element ns/name: the whole namespace in nameSpaces, or the
 * element among dataElements[ns]? */
static bool authorised(const tes_cbor_doc *d, uint32_t key_info, tes_bytes ns, tes_bytes name)
{
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, key_info);
    tes_cbor_enter_map(&c);
    if (!tes_cbor_has(&c, "keyAuthorizations"))
        return false;
    tes_cbor_enter_map_in(&c, "keyAuthorizations");
    if (tes_cbor_has(&c, "nameSpaces")) {
        uint32_t name_spaces;
        tes_cbor_array_in(&c, "nameSpaces", &name_spaces);
        if (mdoc_text_in_array(d, name_spaces, ns))
            return true;
    }
    if (!tes_cbor_has(&c, "dataElements"))
        return false;
    tes_cbor_enter_map_in(&c, "dataElements");
    while (tes_cbor_more(&c)) {
        tes_bytes key;
        uint32_t elements;
        tes_cbor_next_text(&c, &key);
        tes_cbor_next_item(&c, &elements);
        if (tes_bytes_eq(key, ns))
            return mdoc_text_in_array(d, elements, name);
    }
    return false;
}

/* DeviceSigned = {
 *   "nameSpaces": DeviceNameSpacesBytes,  ; #6.24(bstr .cbor DeviceNameSpaces)
 *   "deviceAuth": DeviceAuth
 * }
 * DeviceAuth = {"deviceSignature": DeviceSignature} / {"deviceMac": DeviceMac}
 * DeviceNameSpaces = {* NameSpace => DeviceSignedItems}
 * DeviceSignedItems = {+ DataElementIdentifier => DataElementValue}
 * Device-signed elements must be authorised by the MSO's keyAuthorizations; the signature
 * or MAC is over DeviceAuthenticationBytes (18013-5 §9.1.3). */
tes_err mdoc_check_device(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t dev_signed,
                            const mdoc_mso *m, tes_bytes doctype, tes_mdoc_document *out,
                            size_t first_free, size_t cap)
{
    size_t di = v->doc_index;
    tes_cbor_cur c;
    tes_bytes dns;
    uint32_t nsb;
    tes_cbor_cur_init(&c, d, dev_signed);
    tes_cbor_enter_map(&c);
    tes_cbor_item_in(&c, "nameSpaces", &nsb);
    tes_cbor_embedded_in(&c, "nameSpaces", &dns);
    tes_cbor_enter_map_in(&c, "deviceAuth");
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                           "document %zu: deviceSigned needs nameSpaces (tag 24) and deviceAuth",
                           di);
    bool by_signature = tes_cbor_has(&c, "deviceSignature");
    if (by_signature == tes_cbor_has(&c, "deviceMac"))
        return tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                           "document %zu: deviceAuth must hold exactly one of deviceSignature and "
                           "deviceMac", di);
    uint32_t sig = TES_CBOR_NONE, mac = TES_CBOR_NONE;
    if (by_signature)
        tes_cbor_item_in(&c, "deviceSignature", &sig);
    else
        tes_cbor_item_in(&c, "deviceMac", &mac);

    /* the device key, from the MSO (present: check_device_key_info) */
    tes_key *dk = NULL;
    tes_cbor_cur mc;
    uint32_t dkn;
    tes_cbor_cur_init(&mc, &m->doc, m->device_key_info);
    tes_cbor_enter_map(&mc);
    tes_cbor_item_in(&mc, "deviceKey", &dkn);
    tes_err e = tes_cbor_cur_error(&mc) != TES_OK ? TES_ERR_COSE_KEY
                                                 : tes_cose_key_decode(&m->doc, dkn, &dk);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_DEVICE_KEY, "document %zu: MSO deviceKey is unusable: %s", di,
                           dkn == TES_CBOR_NONE ? "missing" : tes_err_message());

    /* device-signed elements must be authorised by the MSO's keyAuthorizations */
    tes_cbor_doc nd = {0};
    tes_cbor_node ndn[16];
    size_t n = out->n_elems = first_free;
    e = tes_cbor_parse_with(dns, &mdoc_verify_limits, ndn, 16, &nd);
    tes_cbor_cur dc;
    tes_cbor_cur_init(&dc, &nd, 0);
    tes_cbor_enter_map(&dc);
    if (e != TES_OK || tes_cbor_cur_error(&dc) != TES_OK) {
        e = tes_err_set(TES_ERR_MDOC_DEVICE_AUTH, "document %zu: DeviceNameSpaces is not a map", di);
        goto out;
    }
    while (tes_cbor_more(&dc)) {
        tes_bytes ns;
        tes_cbor_next_text(&dc, &ns);
        tes_cbor_enter_map(&dc);
        if (tes_cbor_cur_error(&dc) != TES_OK || tes_cbor_items(&dc) == 0) {
            e = tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                            "document %zu: DeviceNameSpaces must map namespace to a non-empty "
                            "map of elements", di);
            goto out;
        }
        while (tes_cbor_more(&dc)) {
            tes_bytes name;
            uint32_t value;
            tes_cbor_next_text(&dc, &name);
            tes_cbor_next_item(&dc, &value);
            if (tes_cbor_cur_error(&dc) != TES_OK ||
                !authorised(&m->doc, m->device_key_info, ns, name)) {
                mdoc_item_names nm;
                mdoc_name_item(&nm, ns, name);
                e = tes_err_set(TES_ERR_DEVICE_NAMESPACES,
                                "document %zu: device-signed element %s/%s is not authorised by "
                                "the MSO keyAuthorizations", di, nm.ns, nm.el);
                goto out;
            }
            if (n == cap) {
                e = tes_err_set(TES_ERR_DEVICE_NAMESPACES, "document %zu: too many device-signed elements", di);
                goto out;
            }
            out->elems[n++] = (tes_mdoc_element){.ns = ns, .name = name,
                                                 .value = tes_cbor_span(&nd, value),
                                                 .device_signed = true};
        }
        tes_cbor_exit_map(&dc);
    }

    tes_buf dab = {0};
    mdoc_device_auth_bytes(&dab, v->transcript, doctype, tes_cbor_span(d, nsb));
    if (dab.failed) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory building DeviceAuthentication");
        tes_buf_free(&dab);
        goto out;
    }
    tes_cose_msg cm;
    if (sig != TES_CBOR_NONE) {
        e = tes_cose_sign1_decode(d, sig, &cm);
        if (e == TES_OK && !cm.detached)
            e = tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                            "document %zu: deviceSignature must have a nil (detached) payload", di);
        if (e == TES_OK) {
            e = tes_cose_sign1_verify(&cm, dk, tes_buf_bytes(&dab), TES_BYTES(NULL, 0));
            if (e == TES_ERR_SIGNATURE)
                e = tes_err_set(TES_ERR_DEVICE_SIG,
                                "document %zu: device signature over DeviceAuthentication is wrong "
                                "(wrong key, transcript or deviceSigned)", di);
        }
    } else {
        out->device_mac = true;
        e = tes_cose_mac0_decode(d, mac, &cm);
        if (e == TES_OK && cm.alg != TES_COSE_HMAC256)
            e = tes_err_set(TES_ERR_COSE_ALG, "document %zu: deviceMac algorithm %lld is not HMAC 256/256",
                            di, (long long)cm.alg);
        if (e == TES_OK && !cm.detached)
            e = tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                            "document %zu: deviceMac must have a nil (detached) payload", di);
        if (e == TES_OK && v->o->reader_key == NULL)
            e = tes_err_set(TES_ERR_ARG,
                            "document %zu: the response is authenticated by device MAC; verifying "
                            "it needs the reader's ephemeral private key (EReaderKey)", di);
        uint8_t emac[32];
        if (e == TES_OK) {
            uint8_t z[TES_MAX_COORD];
            size_t zl = 0;
            e = tes_key_ecdh(v->o->reader_key, dk, z, &zl);
            if (e == TES_OK)
                e = tes_iso18013_derive_key(TES_BYTES(z, zl), v->transcript_tagged,
                                            TES_ISO_EMAC_KEY, emac);
            tes_wipe(z, sizeof(z));
        }
        if (e == TES_OK) {
            e = tes_cose_mac0_verify(&cm, TES_BYTES(emac, 32), tes_buf_bytes(&dab), TES_BYTES(NULL, 0));
            if (e == TES_ERR_SIGNATURE)
                e = tes_err_set(TES_ERR_DEVICE_MAC,
                                "document %zu: device MAC over DeviceAuthentication is wrong "
                                "(wrong reader key, transcript or deviceSigned)", di);
        }
        tes_wipe(emac, sizeof(emac));
    }
    tes_buf_free(&dab);
    if (e == TES_OK)
        out->n_elems = n;
out:
    tes_cbor_doc_free(&nd);
    tes_key_free(dk);
    return e;
}

size_t mdoc_count_device_elems(const tes_cbor_doc *d, uint32_t dev_signed)
{
    tes_bytes dns;
    if (!tes_cbor_tag24_content(d, tes_cbor_map_get_text(d, dev_signed, "nameSpaces"), &dns))
        return 0;
    /* an upper bound without parsing: every element takes at least 2 bytes */
    return dns.len / 2;
}
