/*
 * Verifying a DeviceResponse, the MobileSecurityObject (18013-5 §9.1.2.4): its shape,
 * digest algorithm, docType, valueDigests, DeviceKeyInfo with its KeyAuthorizations,
 * ValidityInfo and status; then its dates against the document signer and the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

/* A name from the input, printable, for an error message ("?" when there is none). */
static void shown(char *out, size_t cap, tes_bytes text)
{
    if (text.ptr == NULL)
        snprintf(out, cap, "?");
    else
        tes_text_printable(out, cap, text);
}

/* ValueDigests = {+ NameSpace => DigestIDs}
 * DigestIDs = {+ DigestID => Digest}
 * DigestID = uint                  ; below 2^31 (18013-5 §9.1.2.4)
 * Digest = bstr                    ; of the digestAlgorithm's size
 * Every entry, not only the disclosed ones, so a malformed MSO is refused whole. */
static tes_err check_value_digests(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t vd, size_t hl)
{
    size_t di = v->doc_index;
    char ns_name[96];
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, vd);
    tes_cbor_enter_map(&c);
    if (tes_cbor_items(&c) == 0)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO valueDigests is empty", di);
    while (tes_cbor_more(&c)) {
        tes_bytes ns;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_enter_map(&c);
        if (tes_cbor_cur_error(&c) != TES_OK || tes_cbor_items(&c) == 0) {
            shown(ns_name, sizeof(ns_name), ns);
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO valueDigests must map namespace text to a "
                               "non-empty map of digests ('%s')", di, ns_name);
        }
        while (tes_cbor_more(&c)) {
            uint64_t id;
            tes_bytes digest;
            tes_cbor_next_uint(&c, &id);
            if (tes_cbor_cur_error(&c) != TES_OK || id >= MDOC_DIGEST_ID_LIMIT) {
                shown(ns_name, sizeof(ns_name), ns);
                return tes_err_set(TES_ERR_MSO_STRUCTURE,
                                   "document %zu: MSO valueDigests['%s'] has a digestID that is "
                                   "not an unsigned integer below 2^31", di, ns_name);
            }
            tes_cbor_next_bytes(&c, &digest);
            if (tes_cbor_cur_error(&c) != TES_OK || digest.len != hl) {
                shown(ns_name, sizeof(ns_name), ns);
                return tes_err_set(TES_ERR_MSO_STRUCTURE,
                                   "document %zu: MSO digest for %s digestID %llu is not a %zu-byte "
                                   "bstr", di, ns_name, (unsigned long long)id, hl);
            }
        }
        tes_cbor_exit_map(&c);
    }
    return TES_OK;
}

/* [+ tstr]: true when node a is a non-empty array of text. */
static bool text_array(const tes_cbor_doc *d, uint32_t a)
{
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, a);
    tes_cbor_enter_array(&c);
    bool some = tes_cbor_items(&c) > 0;
    while (tes_cbor_more(&c)) {
        tes_bytes text;
        tes_cbor_next_text(&c, &text);
    }
    tes_cbor_exit_array(&c);
    return some && tes_cbor_cur_finish(&c) == TES_OK;
}

/* True when the array at node a (of text, checked before) holds `text`. */
bool mdoc_text_in_array(const tes_cbor_doc *d, uint32_t a, tes_bytes text)
{
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, a);
    tes_cbor_enter_array(&c);
    while (tes_cbor_more(&c)) {
        tes_bytes item;
        tes_cbor_next_text(&c, &item);
        if (tes_bytes_eq(item, text))
            return true;
    }
    return false;
}

/* DeviceKeyInfo = {
 *   "deviceKey": DeviceKey,
 *   ? "keyAuthorizations": KeyAuthorizations,
 *   ? "keyInfo": KeyInfo
 * }
 * KeyInfo = {* int => any}
 * KeyAuthorizations = {? "nameSpaces": AuthorizedNameSpaces,
 *                      ? "dataElements": AuthorizedDataElements}
 * AuthorizedNameSpaces = [+ NameSpace]
 * AuthorizedDataElements = {+ NameSpace => DataElementsArray}
 * DataElementsArray = [+ DataElementIdentifier]
 * A namespace in AuthorizedNameSpaces shall not be in AuthorizedDataElements (18013-5 §9.1.2.4). */
static tes_err check_device_key_info(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t dki)
{
    size_t di = v->doc_index;
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, dki);
    tes_cbor_enter_map(&c);
    if (!tes_cbor_has(&c, "deviceKey"))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO deviceKeyInfo lacks deviceKey",
                           di);
    if (tes_cbor_has(&c, "keyInfo")) {
        tes_cbor_enter_map_in(&c, "keyInfo");
        while (tes_cbor_more(&c)) {
            int64_t label;
            uint32_t value;
            tes_cbor_next_int(&c, &label);
            tes_cbor_next_item(&c, &value);
        }
        tes_cbor_exit_map(&c);
        if (tes_cbor_cur_error(&c) != TES_OK)
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO keyInfo must be a map with integer keys", di);
    }
    if (!tes_cbor_has(&c, "keyAuthorizations"))
        return TES_OK;
    tes_cbor_enter_map_in(&c, "keyAuthorizations");
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO keyAuthorizations is not a map",
                           di);
    uint32_t name_spaces = TES_CBOR_NONE;
    if (tes_cbor_has(&c, "nameSpaces")) {
        tes_cbor_item_in(&c, "nameSpaces", &name_spaces);
        if (!text_array(d, name_spaces))
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO keyAuthorizations.nameSpaces must be a non-empty "
                               "array of namespaces", di);
    }
    if (!tes_cbor_has(&c, "dataElements"))
        return TES_OK;
    tes_cbor_enter_map_in(&c, "dataElements");
    if (tes_cbor_cur_error(&c) != TES_OK || tes_cbor_items(&c) == 0)
        return tes_err_set(TES_ERR_MSO_STRUCTURE,
                           "document %zu: MSO keyAuthorizations.dataElements must be a non-empty "
                           "map", di);
    while (tes_cbor_more(&c)) {
        tes_bytes ns;
        uint32_t elements;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_next_item(&c, &elements);
        if (tes_cbor_cur_error(&c) != TES_OK || !text_array(d, elements))
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO keyAuthorizations.dataElements must map a "
                               "namespace to a non-empty array of element identifiers", di);
        /* both lists are bounded by the (issuer-signed) MSO; keyAuthorizations are short */
        if (name_spaces != TES_CBOR_NONE && mdoc_text_in_array(d, name_spaces, ns)) {
            char a[96];
            tes_text_printable(a, sizeof(a), ns);
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO keyAuthorizations names namespace '%s' "
                               "in both nameSpaces and dataElements", di, a);
        }
    }
    return TES_OK;
}

/* The hash named by digestAlgorithm, or false when it is none of those 18013-5 allows. */
static bool digest_algorithm(tes_bytes name, tes_hash *out)
{
    if (tes_bytes_eq(name, TES_BYTES_STR("SHA-256")))
        *out = TES_HASH_SHA256;
    else if (tes_bytes_eq(name, TES_BYTES_STR("SHA-384")))
        *out = TES_HASH_SHA384;
    else if (tes_bytes_eq(name, TES_BYTES_STR("SHA-512")))
        *out = TES_HASH_SHA512;
    else
        return false;
    return true;
}

/* One tdate of the entered ValidityInfo: "<name>": tdate. */
static tes_err validity_date(const mdoc_vctx *v, tes_cbor_cur *c, const char *name, int64_t *out)
{
    uint32_t node;
    tes_cbor_item_in(c, name, &node);
    tes_err e = tes_cbor_cur_error(c) != TES_OK ? TES_ERR_MSO_STRUCTURE
                                                : mdoc_read_tdate(c->doc, node, out);
    if (e == TES_ERR_MDOC_DATE)
        return tes_err_set(e, "document %zu: MSO validityInfo.%s: %s", v->doc_index, name,
                           tes_err_message());
    if (e != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE,
                           "document %zu: MSO validityInfo lacks %s as tdate (tag 0)", v->doc_index,
                           name);
    return TES_OK;
}

/* ValidityInfo = {
 *   "signed": tdate,
 *   "validFrom": tdate,         ; equal to or later than signed
 *   "validUntil": tdate,        ; later than validFrom
 *   ? "expectedUpdate": tdate
 * }  (18013-5 §9.1.2.4) */
static tes_err check_validity_info(const mdoc_vctx *v, tes_cbor_cur *c, mdoc_mso *m,
                                   tes_mdoc_document *out)
{
    size_t di = v->doc_index;
    tes_cbor_enter_map_in(c, "validityInfo");
    if (tes_cbor_cur_error(c) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no validityInfo map", di);
    tes_err e = validity_date(v, c, "signed", &out->signed_at);
    if (e == TES_OK)
        e = validity_date(v, c, "validFrom", &out->valid_from);
    if (e == TES_OK)
        e = validity_date(v, c, "validUntil", &out->valid_until);
    m->has_expected_update = e == TES_OK && tes_cbor_has(c, "expectedUpdate");
    if (m->has_expected_update)
        e = validity_date(v, c, "expectedUpdate", &m->expected_update);
    if (e != TES_OK)
        return e;
    tes_cbor_exit_map(c);
    const char *order = NULL;
    if (out->valid_from < out->signed_at)
        order = "validFrom is before signed";
    else if (out->valid_until <= out->valid_from)
        order = "validUntil is not after validFrom";
    if (order != NULL)
        return tes_err_set(TES_ERR_MSO_VALIDITY_ORDER, "document %zu: MSO validityInfo: %s", di,
                           order);
    return TES_OK;
}

/* MobileSecurityObjectBytes = #6.24(bstr .cbor MobileSecurityObject)
 * MobileSecurityObject = {
 *   "version": tstr,                     ; "1.0"
 *   "digestAlgorithm": tstr,             ; "SHA-256" / "SHA-384" / "SHA-512"
 *   "docType": tstr,                     ; the Document's
 *   "valueDigests": ValueDigests,
 *   "deviceKeyInfo": DeviceKeyInfo,
 *   "validityInfo": ValidityInfo,
 *   ? "status": {"status_list": {"idx": uint, "uri": tstr}}
 * } */
tes_err mdoc_parse_mso(const mdoc_vctx *v, const tes_cose_msg *auth, tes_bytes doctype, mdoc_mso *m,
                         tes_mdoc_document *out)
{
    size_t di = v->doc_index;
    tes_cbor_doc pd;
    tes_cbor_node pn[4];
    if (auth->detached)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: issuerAuth has no payload", di);
    tes_err e = tes_cbor_parse_with(auth->payload, &mdoc_verify_limits, pn, 4, &pd);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO payload is not CBOR: %s", di,
                           tes_err_message());
    tes_bytes inner;
    bool wrapped = tes_cbor_tag24_content(&pd, 0, &inner);
    tes_cbor_doc_free(&pd);
    if (!wrapped)
        return tes_err_set(TES_ERR_MSO_STRUCTURE,
                           "document %zu: issuerAuth payload is not MobileSecurityObjectBytes "
                           "(tag 24)", di);
    e = tes_cbor_parse_with(inner, &mdoc_verify_limits, m->nodes, MDOC_MSO_NODES, &m->doc);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO is not CBOR: %s", di,
                           tes_err_message());
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, &m->doc, 0);
    tes_cbor_enter_map(&c);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO is not a map", di);

    tes_bytes version, alg, dt;
    tes_cbor_text_in(&c, "version", &version);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no version", di);
    if (!tes_bytes_eq(version, TES_BYTES_STR("1.0")))
        return tes_err_set(TES_ERR_MDOC_VERSION, "document %zu: MSO version is not \"1.0\"", di);

    tes_cbor_text_in(&c, "digestAlgorithm", &alg);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no digestAlgorithm", di);
    if (!digest_algorithm(alg, &m->hash)) {
        char a[32];
        tes_text_printable(a, sizeof(a), alg);
        return tes_err_set(TES_ERR_MSO_DIGEST_ALG,
                           "document %zu: MSO digest algorithm '%s' is not supported", di, a);
    }

    tes_cbor_text_in(&c, "docType", &dt);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no docType", di);
    if (!tes_bytes_eq(dt, doctype)) {
        char a[128], b[128];
        tes_text_printable(a, sizeof(a), dt);
        tes_text_printable(b, sizeof(b), doctype);
        return tes_err_set(TES_ERR_DOCTYPE_MISMATCH,
                           "document %zu: MSO docType '%s' differs from the Document's '%s'", di, a,
                           b);
    }

    tes_cbor_map_in(&c, "valueDigests", &m->value_digests);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no valueDigests map", di);
    e = check_value_digests(v, &m->doc, m->value_digests, tes_hash_size(m->hash));
    if (e != TES_OK)
        return e;

    tes_cbor_map_in(&c, "deviceKeyInfo", &m->device_key_info);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no deviceKeyInfo", di);
    e = check_device_key_info(v, &m->doc, m->device_key_info);
    if (e != TES_OK)
        return e;

    e = check_validity_info(v, &c, m, out);
    if (e != TES_OK)
        return e;

    if (tes_cbor_has(&c, "status")) {
        tes_cbor_enter_map_in(&c, "status");
        tes_cbor_enter_map_in(&c, "status_list");
        tes_cbor_uint_in(&c, "idx", &out->status_idx);
        tes_cbor_text_in(&c, "uri", &out->status_uri);
        if (tes_cbor_cur_error(&c) != TES_OK)
            return tes_err_set(TES_ERR_STATUS,
                               "document %zu: MSO status lacks status_list {idx, uri}", di);
        out->has_status = true;
    }
    return TES_OK;
}

tes_err mdoc_check_validity(const mdoc_vctx *v, const tes_mdoc_document *doc,
                              const tes_cert_info *ds)
{
    char a[21], b[21], c[21];
    /* 18013-5 §9.3.1: the MSO was signed while the DS certificate was valid. (An MSO
     * signed in the future is out of order, validFrom before signed, or not yet valid.) */
    if (doc->signed_at < ds->not_before || doc->signed_at > ds->not_after) {
        tes_time_format(doc->signed_at, a);
        tes_time_format(ds->not_before, b);
        tes_time_format(ds->not_after, c);
        return tes_err_set(TES_ERR_MSO_SIGNED_OUTSIDE_DS,
                           "document %zu: MSO signed %s, outside the validity of its document "
                           "signer certificate (%s to %s)", v->doc_index, a, b, c);
    }
    if (v->o->at < doc->valid_from) {
        tes_time_format(v->o->at, b);
        tes_time_format(doc->valid_from, a);
        return tes_err_set(TES_ERR_MSO_NOT_YET_VALID,
                           "document %zu: not valid before %s (evaluated at %s)", v->doc_index, a, b);
    }
    if (v->o->at > doc->valid_until) {
        tes_time_format(v->o->at, b);
        tes_time_format(doc->valid_until, a);
        return tes_err_set(TES_ERR_MSO_EXPIRED, "document %zu: expired %s (evaluated at %s)",
                           v->doc_index, a, b);
    }
    return TES_OK;
}
