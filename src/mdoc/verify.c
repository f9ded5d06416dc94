/*
 * Verifying a DeviceResponse: every check 18013-5 §9.3 asks of a reader.
 * All hashes are taken over the exact received bytes; nothing is re-encoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

typedef struct vctx {
    const tes_mdoc_verify_opts *o;
    tes_bytes transcript;        /* plain SessionTranscript */
    tes_bytes transcript_tagged; /* SessionTranscriptBytes */
    size_t doc_index;
} vctx;

static const tes_cbor_limits limits = {.max_input = TES_MDOC_MAX_INPUT,
                                       .max_depth = TES_MDOC_MAX_DEPTH};

/* The MSO, parsed. */
#define MSO_NODES 160 /* an MSO with ~50 digests; larger ones spill to the heap */

typedef struct mso_view {
    tes_cbor_node nodes[MSO_NODES];
    tes_cbor_doc doc;
    tes_hash hash;
    uint32_t value_digests, device_key_info;
    int64_t expected_update;
    bool has_expected_update;
} mso_view;

/* 18013-5 §9.1.2.4: DigestID = uint, below 2^31; digest IDs unique per namespace
 * (the CBOR decoder refuses duplicate map keys). */
#define MDOC_DIGEST_ID_LIMIT (1u << 31)

/* ValueDigests = {+ NameSpace => DigestIDs}, DigestIDs = {+ DigestID => Digest}: every
 * entry, not only the disclosed ones, so a malformed MSO is refused whole. One pass. */
static tes_err check_value_digests(const vctx *v, const tes_cbor_doc *d, uint32_t vd, size_t hl)
{
    size_t di = v->doc_index;
    if (tes_cbor_count(d, vd) == 0)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO valueDigests is empty", di);
    for (uint32_t k = tes_cbor_child(d, vd); k != TES_CBOR_NONE && k < d->nodes[vd].next;) {
        uint32_t ids = tes_cbor_next(d, k);
        char ns[96] = "?";
        /* the name is rendered for error messages only, off the success path */
#define NS_NAME() (tes_cbor_is(d, k, TES_CBOR_TEXT) \
                       ? (tes_text_printable(ns, sizeof(ns), TES_BYTES(d->nodes[k].data, d->nodes[k].len)), true) \
                       : true)
        if ((!tes_cbor_is(d, k, TES_CBOR_TEXT) || !tes_cbor_is(d, ids, TES_CBOR_MAP) ||
             tes_cbor_count(d, ids) == 0) && NS_NAME())
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO valueDigests must map namespace text to a "
                               "non-empty map of digests ('%s')", di, ns);
        for (uint32_t q = tes_cbor_child(d, ids); q != TES_CBOR_NONE && q < d->nodes[ids].next;) {
            uint32_t dg = tes_cbor_next(d, q);
            if ((!tes_cbor_is(d, q, TES_CBOR_UINT) || d->nodes[q].val >= MDOC_DIGEST_ID_LIMIT) &&
                NS_NAME())
                return tes_err_set(TES_ERR_MSO_STRUCTURE,
                                   "document %zu: MSO valueDigests['%s'] has a digestID that is "
                                   "not an unsigned integer below 2^31", di, ns);
            if ((!tes_cbor_is(d, dg, TES_CBOR_BYTES) || d->nodes[dg].len != hl) && NS_NAME())
                return tes_err_set(TES_ERR_MSO_STRUCTURE,
                                   "document %zu: MSO digest for %s digestID %llu is not a %zu-byte "
                                   "bstr", di, ns, (unsigned long long)d->nodes[q].val, hl);
            q = tes_cbor_next(d, dg);
        }
        k = tes_cbor_next(d, ids);
#undef NS_NAME
    }
    return TES_OK;
}

/* True when every item of array a is text (and there is at least one). */
static bool text_array(const tes_cbor_doc *d, uint32_t a)
{
    if (!tes_cbor_is(d, a, TES_CBOR_ARRAY) || tes_cbor_count(d, a) == 0)
        return false;
    for (uint32_t c = tes_cbor_child(d, a); c != TES_CBOR_NONE && c < d->nodes[a].next;
         c = tes_cbor_next(d, c))
        if (!tes_cbor_is(d, c, TES_CBOR_TEXT))
            return false;
    return true;
}

/* DeviceKeyInfo = {"deviceKey", ? "keyAuthorizations", ? "keyInfo"} (18013-5 §9.1.2.4). */
static tes_err check_device_key_info(const vctx *v, const tes_cbor_doc *d, uint32_t dki)
{
    size_t di = v->doc_index;
    if (tes_cbor_map_get_text(d, dki, "deviceKey") == TES_CBOR_NONE)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO deviceKeyInfo lacks deviceKey",
                           di);
    uint32_t ki = tes_cbor_map_get_text(d, dki, "keyInfo");
    if (ki != TES_CBOR_NONE) {
        /* KeyInfo = {* int => any} */
        bool ok = tes_cbor_is(d, ki, TES_CBOR_MAP);
        for (uint32_t k = ok ? tes_cbor_child(d, ki) : TES_CBOR_NONE;
             ok && k != TES_CBOR_NONE && k < d->nodes[ki].next;) {
            int64_t label;
            ok = tes_cbor_get_int(d, k, &label);
            k = tes_cbor_next(d, tes_cbor_next(d, k));
        }
        if (!ok)
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO keyInfo must be a map with integer keys", di);
    }
    uint32_t ka = tes_cbor_map_get_text(d, dki, "keyAuthorizations");
    if (ka == TES_CBOR_NONE)
        return TES_OK;
    if (!tes_cbor_is(d, ka, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO keyAuthorizations is not a map",
                           di);
    /* AuthorizedNameSpaces = [+ NameSpace]; AuthorizedDataElements = {+ NameSpace =>
     * [+ DataElementIdentifier]}; a namespace in the first shall not be in the second. */
    uint32_t nss = tes_cbor_map_get_text(d, ka, "nameSpaces");
    uint32_t de = tes_cbor_map_get_text(d, ka, "dataElements");
    if (nss != TES_CBOR_NONE && !text_array(d, nss))
        return tes_err_set(TES_ERR_MSO_STRUCTURE,
                           "document %zu: MSO keyAuthorizations.nameSpaces must be a non-empty "
                           "array of namespaces", di);
    if (de == TES_CBOR_NONE)
        return TES_OK;
    if (!tes_cbor_is(d, de, TES_CBOR_MAP) || tes_cbor_count(d, de) == 0)
        return tes_err_set(TES_ERR_MSO_STRUCTURE,
                           "document %zu: MSO keyAuthorizations.dataElements must be a non-empty "
                           "map", di);
    for (uint32_t k = tes_cbor_child(d, de); k != TES_CBOR_NONE && k < d->nodes[de].next;) {
        uint32_t arr = tes_cbor_next(d, k);
        if (!tes_cbor_is(d, k, TES_CBOR_TEXT) || !text_array(d, arr))
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO keyAuthorizations.dataElements must map a "
                               "namespace to a non-empty array of element identifiers", di);
        tes_bytes ns = TES_BYTES(d->nodes[k].data, d->nodes[k].len);
        /* both lists are bounded by the (issuer-signed) MSO; keyAuthorizations are short */
        if (nss != TES_CBOR_NONE)
            for (uint32_t c = tes_cbor_child(d, nss); c != TES_CBOR_NONE && c < d->nodes[nss].next;
                 c = tes_cbor_next(d, c))
                if (tes_bytes_eq(TES_BYTES(d->nodes[c].data, d->nodes[c].len), ns)) {
                    char a[96];
                    tes_text_printable(a, sizeof(a), ns);
                    return tes_err_set(TES_ERR_MSO_STRUCTURE,
                                       "document %zu: MSO keyAuthorizations names namespace '%s' "
                                       "in both nameSpaces and dataElements", di, a);
                }
        k = tes_cbor_next(d, arr);
    }
    return TES_OK;
}

static tes_err parse_mso(const vctx *v, const tes_cose_msg *auth, tes_bytes doctype, mso_view *m,
                         tes_mdoc_document *out)
{
    size_t di = v->doc_index;
    /* payload = 24(bstr .cbor MobileSecurityObject) */
    tes_cbor_doc pd;
    tes_cbor_node pn[4];
    if (auth->detached)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: issuerAuth has no payload", di);
    tes_err e = tes_cbor_parse_with(auth->payload, &limits, pn, 4, &pd);
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
    e = tes_cbor_parse_with(inner, &limits, m->nodes, MSO_NODES, &m->doc);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO is not CBOR: %s", di,
                           tes_err_message());
    const tes_cbor_doc *d = &m->doc;
    if (!tes_cbor_is(d, 0, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO is not a map", di);
    uint32_t ver = tes_cbor_map_get_text(d, 0, "version");
    if (!tes_cbor_is(d, ver, TES_CBOR_TEXT))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no version", di);
    if (!tes_cbor_text_eq(d, ver, "1.0"))
        return tes_err_set(TES_ERR_MDOC_VERSION, "document %zu: MSO version is not \"1.0\"", di);
    uint32_t alg = tes_cbor_map_get_text(d, 0, "digestAlgorithm");
    if (!tes_cbor_is(d, alg, TES_CBOR_TEXT))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no digestAlgorithm", di);
    if (tes_cbor_text_eq(d, alg, "SHA-256"))
        m->hash = TES_HASH_SHA256;
    else if (tes_cbor_text_eq(d, alg, "SHA-384"))
        m->hash = TES_HASH_SHA384;
    else if (tes_cbor_text_eq(d, alg, "SHA-512"))
        m->hash = TES_HASH_SHA512;
    else {
        char a[32];
        tes_text_printable(a, sizeof(a), TES_BYTES(d->nodes[alg].data, d->nodes[alg].len));
        return tes_err_set(TES_ERR_MSO_DIGEST_ALG,
                           "document %zu: MSO digest algorithm '%s' is not supported", di, a);
    }
    uint32_t dt = tes_cbor_map_get_text(d, 0, "docType");
    if (!tes_cbor_is(d, dt, TES_CBOR_TEXT))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no docType", di);
    if (!tes_bytes_eq(TES_BYTES(d->nodes[dt].data, d->nodes[dt].len), doctype)) {
        char a[128], b[128];
        tes_text_printable(a, sizeof(a), TES_BYTES(d->nodes[dt].data, d->nodes[dt].len));
        tes_text_printable(b, sizeof(b), doctype);
        return tes_err_set(TES_ERR_DOCTYPE_MISMATCH,
                           "document %zu: MSO docType '%s' differs from the Document's '%s'", di, a,
                           b);
    }
    m->value_digests = tes_cbor_map_get_text(d, 0, "valueDigests");
    if (!tes_cbor_is(d, m->value_digests, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no valueDigests map", di);
    e = check_value_digests(v, d, m->value_digests, tes_hash_size(m->hash));
    if (e != TES_OK)
        return e;
    m->device_key_info = tes_cbor_map_get_text(d, 0, "deviceKeyInfo");
    if (!tes_cbor_is(d, m->device_key_info, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no deviceKeyInfo", di);
    e = check_device_key_info(v, d, m->device_key_info);
    if (e != TES_OK)
        return e;
    uint32_t vi = tes_cbor_map_get_text(d, 0, "validityInfo");
    if (!tes_cbor_is(d, vi, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: MSO has no validityInfo map", di);
    static const char *const names[] = {"signed", "validFrom", "validUntil", "expectedUpdate"};
    int64_t *dst[] = {&out->signed_at, &out->valid_from, &out->valid_until, &m->expected_update};
    for (size_t i = 0; i < 4; i++) {
        uint32_t n = tes_cbor_map_get_text(d, vi, names[i]);
        if (n == TES_CBOR_NONE && i == 3) {
            m->has_expected_update = false;
            break;
        }
        m->has_expected_update = i == 3;
        e = n == TES_CBOR_NONE ? TES_ERR_MSO_STRUCTURE : mdoc_read_tdate(d, n, dst[i]);
        if (e == TES_ERR_MDOC_DATE)
            return tes_err_set(e, "document %zu: MSO validityInfo.%s: %s", di, names[i],
                               tes_err_message());
        if (e != TES_OK)
            return tes_err_set(TES_ERR_MSO_STRUCTURE,
                               "document %zu: MSO validityInfo lacks %s as tdate (tag 0)", di,
                               names[i]);
    }
    /* 18013-5 §9.1.2.4: "validFrom shall be equal or later than the signed element",
     * validUntil "shall be later than the validFrom element" (so signed < validUntil). */
    const char *order = out->valid_from < out->signed_at    ? "validFrom is before signed"
                        : out->valid_until <= out->valid_from ? "validUntil is not after validFrom"
                                                              : NULL;
    if (order != NULL)
        return tes_err_set(TES_ERR_MSO_VALIDITY_ORDER, "document %zu: MSO validityInfo: %s", di,
                           order);
    uint32_t st = tes_cbor_map_get_text(d, 0, "status");
    if (st != TES_CBOR_NONE) {
        uint32_t sl = tes_cbor_map_get_text(d, st, "status_list");
        uint32_t idx = tes_cbor_map_get_text(d, sl, "idx");
        uint32_t uri = tes_cbor_map_get_text(d, sl, "uri");
        if (!tes_cbor_is(d, idx, TES_CBOR_UINT) || !tes_cbor_is(d, uri, TES_CBOR_TEXT))
            return tes_err_set(TES_ERR_STATUS,
                               "document %zu: MSO status lacks status_list {idx, uri}", di);
        out->has_status = true;
        out->status_idx = d->nodes[idx].val;
        out->status_uri = TES_BYTES(d->nodes[uri].data, d->nodes[uri].len);
    }
    return TES_OK;
}

static tes_err check_validity(const vctx *v, const tes_mdoc_document *doc,
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

/* Counts the IssuerSignedItemBytes of all namespaces, checking the shape. */
static tes_err count_items(const vctx *v, const tes_cbor_doc *d, uint32_t ns_map, size_t *n)
{
    *n = 0;
    if (ns_map == TES_CBOR_NONE)
        return TES_OK;
    if (!tes_cbor_is(d, ns_map, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "document %zu: nameSpaces is not a map",
                           v->doc_index);
    for (uint32_t k = tes_cbor_child(d, ns_map); k != TES_CBOR_NONE && k < d->nodes[ns_map].next;) {
        uint32_t arr = tes_cbor_next(d, k);
        if (!tes_cbor_is(d, k, TES_CBOR_TEXT) || !tes_cbor_is(d, arr, TES_CBOR_ARRAY) ||
            tes_cbor_count(d, arr) == 0)
            return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                               "document %zu: nameSpaces must map namespace text to a non-empty "
                               "array of IssuerSignedItemBytes", v->doc_index);
        *n += tes_cbor_count(d, arr);
        k = tes_cbor_next(d, arr);
    }
    return TES_OK;
}

/* Every tag 0 / tag 1004 inside the value at node val holds a date of the required form. */
static tes_err check_dates(const tes_cbor_doc *d, uint32_t val)
{
    for (uint32_t j = val; j < d->nodes[val].next && j < d->count; j++) {
        if (!tes_cbor_is(d, j, TES_CBOR_TAG) || (d->nodes[j].val != 0 && d->nodes[j].val != 1004))
            continue;
        if (!tes_cbor_is(d, j + 1, TES_CBOR_TEXT))
            return tes_err_set(TES_ERR_MDOC_DATE, "a tag %llu date is not a text string",
                               (unsigned long long)d->nodes[j].val);
        tes_bytes t = TES_BYTES(d->nodes[j + 1].data, d->nodes[j + 1].len);
        tes_err e = d->nodes[j].val == 0 ? mdoc_check_tdate_text(t, NULL)
                                         : mdoc_check_full_date_text(t);
        if (e != TES_OK)
            return e;
    }
    return TES_OK;
}

/* Checks one disclosed IssuerSignedItemBytes against the MSO and records it. */
static tes_err check_item(const vctx *v, const tes_cbor_doc *d, uint32_t item, tes_bytes ns,
                          const mso_view *m, uint32_t ns_digests, tes_mdoc_element *el,
                          uint8_t *scratch_hash)
{
    size_t di = v->doc_index;
    /* names are rendered for error messages only, off the success path */
    char nsname[96], ename[96];
#define NAMES() (tes_text_printable(nsname, sizeof(nsname), ns), \
                 tes_text_printable(ename, sizeof(ename), el->name))
    el->name = TES_BYTES(NULL, 0);
    tes_bytes inner;
    if (!tes_cbor_tag24_content(d, item, &inner) && (NAMES(), true))
        return tes_err_set(TES_ERR_MDOC_ITEM,
                           "document %zu: an item of namespace '%s' is not IssuerSignedItemBytes "
                           "(tag 24)", di, nsname);
    tes_cbor_doc it;
    tes_cbor_node itn[32];
    tes_err e = tes_cbor_parse_with(inner, &limits, itn, 32, &it);
    if (e != TES_OK && (NAMES(), true))
        return tes_err_set(TES_ERR_MDOC_ITEM, "document %zu: an item of namespace '%s' is not CBOR: %s",
                           di, nsname, tes_err_message());
    uint32_t id = tes_cbor_map_get_text(&it, 0, "digestID");
    uint32_t rnd = tes_cbor_map_get_text(&it, 0, "random");
    uint32_t name = tes_cbor_map_get_text(&it, 0, "elementIdentifier");
    uint32_t val = tes_cbor_map_get_text(&it, 0, "elementValue");
    if (tes_cbor_is(&it, id, TES_CBOR_UINT) && it.nodes[id].val >= MDOC_DIGEST_ID_LIMIT) {
        tes_cbor_doc_free(&it);
        NAMES();
        return tes_err_set(TES_ERR_MDOC_ITEM,
                           "document %zu: an item of namespace '%s' has a digestID of 2^31 or "
                           "more", di, nsname);
    }
    if (!tes_cbor_is(&it, 0, TES_CBOR_MAP) || !tes_cbor_is(&it, id, TES_CBOR_UINT) ||
        !tes_cbor_is(&it, rnd, TES_CBOR_BYTES) ||
        it.nodes[rnd].len < 16 || !tes_cbor_is(&it, name, TES_CBOR_TEXT) || val == TES_CBOR_NONE) {
        tes_cbor_doc_free(&it);
        NAMES();
        return tes_err_set(TES_ERR_MDOC_ITEM,
                           "document %zu: an item of namespace '%s' lacks digestID, random "
                           "(>= 16 bytes), elementIdentifier or elementValue", di, nsname);
    }
    el->ns = ns;
    el->name = TES_BYTES(it.nodes[name].data, it.nodes[name].len);
    el->value = tes_cbor_span(&it, val);
    el->digest_id = (uint32_t)it.nodes[id].val;
    /* dates anywhere in the value: tdate = 0(tstr), full-date = 1004(tstr) (18013-5 §7.2.1) */
    e = check_dates(&it, val);
    tes_cbor_doc_free(&it); /* the views point into the response, not into `it` */
    if (e != TES_OK && (NAMES(), true))
        return tes_err_set(e, "document %zu: %s/%s: %s", di, nsname, ename, tes_err_message());

    uint32_t want = ns_digests == TES_CBOR_NONE
                        ? TES_CBOR_NONE
                        : tes_cbor_map_get_int(&m->doc, ns_digests, el->digest_id);
    if (want == TES_CBOR_NONE && (NAMES(), true))
        return tes_err_set(TES_ERR_DIGEST_MISSING,
                           "document %zu: %s/%s (digestID %u) has no digest in the MSO", di, nsname,
                           ename, el->digest_id);
    size_t hl = tes_hash_size(m->hash);
    if ((!tes_cbor_is(&m->doc, want, TES_CBOR_BYTES) || m->doc.nodes[want].len != hl) &&
        (NAMES(), true))
        return tes_err_set(TES_ERR_MSO_STRUCTURE,
                           "document %zu: MSO digest for %s digestID %u is not a %zu-byte bstr", di,
                           nsname, el->digest_id, hl);
    e = tes_digest(m->hash, tes_cbor_span(d, item), scratch_hash);
    if (e != TES_OK)
        return e;
    if (!tes_ct_eq(TES_BYTES(scratch_hash, hl), TES_BYTES(m->doc.nodes[want].data, hl)) &&
        (NAMES(), true))
        return tes_err_set(TES_ERR_DIGEST_MISMATCH,
                           "document %zu: %s/%s (digestID %u) does not match its MSO digest", di,
                           nsname, ename, el->digest_id);
#undef NAMES
    return TES_OK;
}

static int by_digest_id(const void *a, const void *b)
{
    uint32_t x = (*(const tes_mdoc_element *const *)a)->digest_id;
    uint32_t y = (*(const tes_mdoc_element *const *)b)->digest_id;
    return x < y ? -1 : x > y;
}

static int by_name(const void *a, const void *b)
{
    tes_bytes x = (*(const tes_mdoc_element *const *)a)->name;
    tes_bytes y = (*(const tes_mdoc_element *const *)b)->name;
    int c = memcmp(x.ptr, y.ptr, x.len < y.len ? x.len : y.len);
    return c != 0 ? c : (x.len > y.len) - (x.len < y.len);
}

/* No two of the n items of one namespace share a digestID or an elementIdentifier. */
static tes_err check_unique(const vctx *v, const tes_mdoc_element *el, size_t n,
                            const tes_mdoc_element **scratch, tes_bytes ns)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = &el[i];
    for (int pass = 0; pass < 2; pass++) {
        qsort(scratch, n, sizeof(*scratch), pass == 0 ? by_digest_id : by_name);
        for (size_t i = 1; i < n; i++)
            if ((pass == 0 ? by_digest_id : by_name)(&scratch[i - 1], &scratch[i]) == 0) {
                char a[96], b[96];
                tes_text_printable(a, sizeof(a), ns);
                tes_text_printable(b, sizeof(b), scratch[i]->name);
                if (pass == 0)
                    return tes_err_set(TES_ERR_MDOC_ITEM,
                                       "document %zu: namespace '%s' discloses digestID %u twice",
                                       v->doc_index, a, scratch[i]->digest_id);
                return tes_err_set(TES_ERR_MDOC_ITEM,
                                   "document %zu: namespace '%s' discloses element '%s' twice",
                                   v->doc_index, a, b);
            }
    }
    return TES_OK;
}

/* The text of a CBOR value equals s (a short text string, as country codes are). */
static bool value_text_is(tes_bytes value, const char *s)
{
    tes_cbor_doc vd;
    tes_cbor_node vn[2];
    if (tes_cbor_parse_with(value, &limits, vn, 2, &vd) != TES_OK) {
        tes_err_clear();
        return false;
    }
    bool eq = tes_cbor_is(&vd, 0, TES_CBOR_TEXT) &&
              tes_bytes_eq(TES_BYTES(vd.nodes[0].data, vd.nodes[0].len), TES_BYTES(s, strlen(s)));
    tes_cbor_doc_free(&vd);
    return eq;
}

/* 18013-5 §7.2.1: issuing_country shall match the countryName of the DS certificate's
 * subject; issuing_jurisdiction its stateOrProvinceName, when the certificate has one.
 * The PID (eu.europa.ec.eudi.pid.1) carries the same issuing_country. Issuer-signed
 * elements only: device-signed ones carry no issuer's word. */
static tes_err check_issuing_country(const vctx *v, const tes_mdoc_element *el, size_t n,
                                     const tes_cert_info *ds)
{
    static const tes_bytes mdl = TES_BYTES_STR("org.iso.18013.5.1");
    static const tes_bytes pid = TES_BYTES_STR("eu.europa.ec.eudi.pid.1");
    for (size_t i = 0; i < n; i++) {
        bool in_mdl = tes_bytes_eq(el[i].ns, mdl);
        if (!in_mdl && !tes_bytes_eq(el[i].ns, pid))
            continue;
        char shown[64], ns[64];
        if (tes_bytes_eq(el[i].name, TES_BYTES_STR("issuing_country")) &&
            !value_text_is(el[i].value, ds->country)) {
            tes_text_printable(shown, sizeof(shown), el[i].value);
            tes_text_printable(ns, sizeof(ns), el[i].ns);
            return tes_err_set(TES_ERR_ISSUING_COUNTRY,
                               "document %zu: %s/issuing_country (CBOR '%s') is not the document "
                               "signer's countryName '%s'", v->doc_index, ns, shown, ds->country);
        }
        if (in_mdl && ds->state[0] != '\0' &&
            tes_bytes_eq(el[i].name, TES_BYTES_STR("issuing_jurisdiction")) &&
            !value_text_is(el[i].value, ds->state)) {
            tes_text_printable(shown, sizeof(shown), el[i].value);
            return tes_err_set(TES_ERR_ISSUING_JURISDICTION,
                               "document %zu: issuing_jurisdiction (CBOR '%s') is not the document "
                               "signer's stateOrProvinceName '%s'", v->doc_index, shown, ds->state);
        }
    }
    return TES_OK;
}

static bool authorised(const tes_cbor_doc *d, uint32_t key_info, tes_bytes ns, tes_bytes name)
{
    uint32_t ka = tes_cbor_map_get_text(d, key_info, "keyAuthorizations");
    if (!tes_cbor_is(d, ka, TES_CBOR_MAP))
        return false;
    uint32_t nss = tes_cbor_map_get_text(d, ka, "nameSpaces");
    if (tes_cbor_is(d, nss, TES_CBOR_ARRAY))
        for (uint32_t c = tes_cbor_child(d, nss); c != TES_CBOR_NONE && c < d->nodes[nss].next;
             c = tes_cbor_next(d, c))
            if (tes_cbor_is(d, c, TES_CBOR_TEXT) &&
                tes_bytes_eq(TES_BYTES(d->nodes[c].data, d->nodes[c].len), ns))
                return true;
    uint32_t de = tes_cbor_map_get_text(d, ka, "dataElements");
    if (!tes_cbor_is(d, de, TES_CBOR_MAP))
        return false;
    for (uint32_t k = tes_cbor_child(d, de); k != TES_CBOR_NONE && k < d->nodes[de].next;) {
        uint32_t arr = tes_cbor_next(d, k);
        if (tes_cbor_is(d, k, TES_CBOR_TEXT) &&
            tes_bytes_eq(TES_BYTES(d->nodes[k].data, d->nodes[k].len), ns) &&
            tes_cbor_is(d, arr, TES_CBOR_ARRAY))
            for (uint32_t c = tes_cbor_child(d, arr); c != TES_CBOR_NONE && c < d->nodes[arr].next;
                 c = tes_cbor_next(d, c))
                if (tes_cbor_is(d, c, TES_CBOR_TEXT) &&
                    tes_bytes_eq(TES_BYTES(d->nodes[c].data, d->nodes[c].len), name))
                    return true;
        k = tes_cbor_next(d, arr);
    }
    return false;
}

static tes_err check_device(const vctx *v, const tes_cbor_doc *d, uint32_t dev_signed,
                            const mso_view *m, tes_bytes doctype, tes_mdoc_document *out,
                            size_t first_free, size_t cap)
{
    size_t di = v->doc_index;
    uint32_t nsb = tes_cbor_map_get_text(d, dev_signed, "nameSpaces");
    uint32_t da = tes_cbor_map_get_text(d, dev_signed, "deviceAuth");
    tes_bytes dns;
    if (!tes_cbor_tag24_content(d, nsb, &dns) || !tes_cbor_is(d, da, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                           "document %zu: deviceSigned needs nameSpaces (tag 24) and deviceAuth",
                           di);
    uint32_t sig = tes_cbor_map_get_text(d, da, "deviceSignature");
    uint32_t mac = tes_cbor_map_get_text(d, da, "deviceMac");
    if ((sig == TES_CBOR_NONE) == (mac == TES_CBOR_NONE))
        return tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                           "document %zu: deviceAuth must hold exactly one of deviceSignature and "
                           "deviceMac", di);
    /* device key from the MSO */
    tes_key *dk = NULL;
    uint32_t dkn = tes_cbor_map_get_text(&m->doc, m->device_key_info, "deviceKey");
    tes_err e = dkn == TES_CBOR_NONE ? TES_ERR_COSE_KEY : tes_cose_key_decode(&m->doc, dkn, &dk);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_DEVICE_KEY, "document %zu: MSO deviceKey is unusable: %s", di,
                           dkn == TES_CBOR_NONE ? "missing" : tes_err_message());

    /* device-signed elements must be authorised by the MSO's keyAuthorizations */
    tes_cbor_doc nd = {0};
    tes_cbor_node ndn[16];
    e = tes_cbor_parse_with(dns, &limits, ndn, 16, &nd);
    if (e == TES_OK && !tes_cbor_is(&nd, 0, TES_CBOR_MAP))
        e = TES_ERR_CBOR_TYPE;
    if (e != TES_OK) {
        e = tes_err_set(TES_ERR_MDOC_DEVICE_AUTH, "document %zu: DeviceNameSpaces is not a map", di);
        goto out;
    }
    size_t n = out->n_elems = first_free;
    for (uint32_t k = tes_cbor_child(&nd, 0); k != TES_CBOR_NONE && k < nd.nodes[0].next;) {
        uint32_t em = tes_cbor_next(&nd, k);
        if (!tes_cbor_is(&nd, k, TES_CBOR_TEXT) || !tes_cbor_is(&nd, em, TES_CBOR_MAP) ||
            tes_cbor_count(&nd, em) == 0) {
            e = tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                            "document %zu: DeviceNameSpaces must map namespace to a non-empty "
                            "map of elements", di);
            goto out;
        }
        tes_bytes ns = TES_BYTES(nd.nodes[k].data, nd.nodes[k].len);
        for (uint32_t c = tes_cbor_child(&nd, em); c != TES_CBOR_NONE && c < nd.nodes[em].next;) {
            uint32_t val = tes_cbor_next(&nd, c);
            tes_bytes name = TES_BYTES(nd.nodes[c].data, nd.nodes[c].len);
            if (!tes_cbor_is(&nd, c, TES_CBOR_TEXT) || !authorised(&m->doc, m->device_key_info, ns, name)) {
                char a[96], b[96];
                tes_text_printable(a, sizeof(a), ns);
                tes_text_printable(b, sizeof(b), name);
                e = tes_err_set(TES_ERR_DEVICE_NAMESPACES,
                                "document %zu: device-signed element %s/%s is not authorised by "
                                "the MSO keyAuthorizations", di, a, b);
                goto out;
            }
            if (n == cap) {
                e = tes_err_set(TES_ERR_DEVICE_NAMESPACES, "document %zu: too many device-signed elements", di);
                goto out;
            }
            out->elems[n++] = (tes_mdoc_element){.ns = ns, .name = name,
                                                 .value = tes_cbor_span(&nd, val),
                                                 .device_signed = true};
            c = tes_cbor_next(&nd, val);
        }
        k = tes_cbor_next(&nd, em);
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

static size_t count_device_elems(const tes_cbor_doc *d, uint32_t dev_signed)
{
    tes_bytes dns;
    if (!tes_cbor_tag24_content(d, tes_cbor_map_get_text(d, dev_signed, "nameSpaces"), &dns))
        return 0;
    /* an upper bound without parsing: every element takes at least 2 bytes */
    return dns.len / 2;
}

/* "1.0", or a later minor version "1.<digits>" (same major: compatible). */
static bool version_1x(tes_bytes v)
{
    if (v.len < 3 || v.ptr[0] != '1' || v.ptr[1] != '.')
        return false;
    for (size_t i = 2; i < v.len; i++)
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
    return true;
}

/* documentErrors = [+ {DocType => ErrorCode}], ErrorCode = int (18013-5 §8.3.2.1.2.2). */
static tes_err check_document_errors(const tes_cbor_doc *d, uint32_t de)
{
    if (de == TES_CBOR_NONE)
        return TES_OK;
    bool ok = tes_cbor_is(d, de, TES_CBOR_ARRAY) && tes_cbor_count(d, de) > 0;
    for (uint32_t c = ok ? tes_cbor_child(d, de) : TES_CBOR_NONE;
         ok && c != TES_CBOR_NONE && c < d->nodes[de].next; c = tes_cbor_next(d, c)) {
        int64_t code;
        uint32_t k = tes_cbor_child(d, c);
        ok = tes_cbor_is(d, c, TES_CBOR_MAP) && tes_cbor_count(d, c) == 1 &&
             tes_cbor_is(d, k, TES_CBOR_TEXT) && tes_cbor_get_int(d, tes_cbor_next(d, k), &code);
    }
    if (!ok)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "DeviceResponse documentErrors must be a non-empty array of "
                           "{docType: int error code}");
    return TES_OK;
}

/* Errors = {+ NameSpace => {+ DataElementIdentifier => ErrorCode}} (18013-5 §8.3.2.1.2.2). */
static tes_err check_errors(const vctx *v, const tes_cbor_doc *d, uint32_t er)
{
    if (er == TES_CBOR_NONE)
        return TES_OK;
    bool ok = tes_cbor_is(d, er, TES_CBOR_MAP) && tes_cbor_count(d, er) > 0;
    for (uint32_t k = ok ? tes_cbor_child(d, er) : TES_CBOR_NONE;
         ok && k != TES_CBOR_NONE && k < d->nodes[er].next;) {
        uint32_t items = tes_cbor_next(d, k);
        ok = tes_cbor_is(d, k, TES_CBOR_TEXT) && tes_cbor_is(d, items, TES_CBOR_MAP) &&
             tes_cbor_count(d, items) > 0;
        for (uint32_t q = ok ? tes_cbor_child(d, items) : TES_CBOR_NONE;
             ok && q != TES_CBOR_NONE && q < d->nodes[items].next;) {
            int64_t code;
            ok = tes_cbor_is(d, q, TES_CBOR_TEXT) && tes_cbor_get_int(d, tes_cbor_next(d, q), &code);
            q = tes_cbor_next(d, tes_cbor_next(d, q));
        }
        k = tes_cbor_next(d, items);
    }
    if (!ok)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "document %zu: errors must map namespaces to non-empty maps of "
                           "element identifier to int error code", v->doc_index);
    return TES_OK;
}

static tes_err verify_document(const vctx *v, const tes_cbor_doc *d, uint32_t node,
                               tes_mdoc_document *out)
{
    size_t di = v->doc_index;
    if (!tes_cbor_is(d, node, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "document %zu is not a map", di);
    uint32_t dt = tes_cbor_map_get_text(d, node, "docType");
    uint32_t is = tes_cbor_map_get_text(d, node, "issuerSigned");
    uint32_t ds = tes_cbor_map_get_text(d, node, "deviceSigned");
    if (!tes_cbor_is(d, dt, TES_CBOR_TEXT) || !tes_cbor_is(d, is, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "document %zu lacks docType (text) or issuerSigned (map)", di);
    if (!tes_cbor_is(d, ds, TES_CBOR_MAP))
        return tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                           "document %zu lacks deviceSigned: it is not bound to the device", di);
    out->doctype = TES_BYTES(d->nodes[dt].data, d->nodes[dt].len);
    tes_err e = check_errors(v, d, tes_cbor_map_get_text(d, node, "errors"));
    if (e != TES_OK)
        return e;
    uint32_t ia = tes_cbor_map_get_text(d, is, "issuerAuth");
    uint32_t nsm = tes_cbor_map_get_text(d, is, "nameSpaces");
    if (ia == TES_CBOR_NONE)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "document %zu: issuerSigned lacks issuerAuth", di);
    size_t n_items;
    e = count_items(v, d, nsm, &n_items);
    if (e != TES_OK)
        return e;

    /* issuer: chain to a trusted IACA, DS profile, signature */
    tes_cose_msg auth;
    e = tes_cose_sign1_decode(d, ia, &auth);
    if (e != TES_OK)
        return e;
    if (auth.x5chain_len == 0)
        return tes_err_set(TES_ERR_COSE_X5CHAIN,
                           "document %zu: issuerAuth carries no x5chain (document signer)", di);
    tes_trust_result tr;
    e = tes_trust_validate(v->o->trust, TES_PROFILE_DS, auth.x5chain, auth.x5chain_len, v->o->at, &tr);
    if (e != TES_OK)
        return e;
    const tes_cert_info *ci = tes_cert_get_info(tr.leaf);
    snprintf(out->issuer, sizeof(out->issuer), "%s", ci->subject);
    snprintf(out->issuer_cn, sizeof(out->issuer_cn), "%s", ci->common_name);
    snprintf(out->issuer_country, sizeof(out->issuer_country), "%s", ci->country);
    e = tes_cose_sign1_verify(&auth, tes_cert_key(tr.leaf), TES_BYTES(NULL, 0), TES_BYTES(NULL, 0));
    if (e == TES_ERR_SIGNATURE)
        return tes_err_set(TES_ERR_ISSUER_SIG,
                           "document %zu: issuer signature over the MSO is wrong (signer '%s')", di,
                           ci->subject);
    if (e != TES_OK)
        return e;
    out->issuer_cert = tr.leaf;
    out->issuer_root = tr.root;

    mso_view m;
    m.doc = (tes_cbor_doc){0};
    e = parse_mso(v, &auth, out->doctype, &m, out);
    if (e == TES_OK)
        e = check_validity(v, out, ci);
    size_t cap = n_items + count_device_elems(d, ds);
    if (e == TES_OK && cap > 0) {
        out->elems = calloc(cap, sizeof(*out->elems));
        if (out->elems == NULL)
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    const tes_mdoc_element **sorted = NULL;
    if (e == TES_OK && n_items > 0 && (sorted = malloc(n_items * sizeof(*sorted))) == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    /* every disclosed item against its digest */
    size_t k = 0;
    uint8_t hash[TES_MAX_DIGEST];
    for (uint32_t nk = nsm == TES_CBOR_NONE ? TES_CBOR_NONE : tes_cbor_child(d, nsm);
         e == TES_OK && nk != TES_CBOR_NONE && nk < d->nodes[nsm].next;) {
        uint32_t arr = tes_cbor_next(d, nk);
        tes_bytes ns = TES_BYTES(d->nodes[nk].data, d->nodes[nk].len);
        char nsname[96] = "";
        /* look the namespace's digests up once */
        uint32_t ns_digests = TES_CBOR_NONE;
        for (uint32_t q = tes_cbor_child(&m.doc, m.value_digests);
             q != TES_CBOR_NONE && q < m.doc.nodes[m.value_digests].next;) {
            uint32_t qv = tes_cbor_next(&m.doc, q);
            if (tes_cbor_is(&m.doc, q, TES_CBOR_TEXT) &&
                tes_bytes_eq(TES_BYTES(m.doc.nodes[q].data, m.doc.nodes[q].len), ns)) {
                ns_digests = qv;
                break;
            }
            q = tes_cbor_next(&m.doc, qv);
        }
        if (ns_digests != TES_CBOR_NONE && !tes_cbor_is(&m.doc, ns_digests, TES_CBOR_MAP)) {
            tes_text_printable(nsname, sizeof(nsname), ns);
            e = tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: valueDigests['%s'] is not a map",
                            di, nsname);
            break;
        }
        size_t first = k;
        for (uint32_t it = tes_cbor_child(d, arr); e == TES_OK && it != TES_CBOR_NONE &&
                                                   it < d->nodes[arr].next;
             it = tes_cbor_next(d, it)) {
            e = check_item(v, d, it, ns, &m, ns_digests, &out->elems[k], hash);
            if (e != TES_OK)
                break;
            k++;
        }
        /* the same element or digest twice in one namespace is not allowed: sorted, so a
         * namespace of n items costs O(n log n), not n^2 comparisons */
        if (e == TES_OK)
            e = check_unique(v, out->elems + first, k - first, sorted, ns);
        nk = tes_cbor_next(d, arr);
    }
    out->n_elems = k;
    if (e == TES_OK)
        e = check_issuing_country(v, out->elems, k, ci);
    free(sorted);
    if (e == TES_OK)
        e = check_device(v, d, ds, &m, out->doctype, out, k, cap);
    tes_cbor_doc_free(&m.doc);
    /* status_uri points into the MSO, which lives inside the response bytes */
    return e;
}

void tes_mdoc_result_free(tes_mdoc_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_docs; i++)
        free(r->docs[i].elems);
    free(r->docs);
    *r = (tes_mdoc_result){.failed_doc = SIZE_MAX};
}

tes_err tes_mdoc_verify(tes_bytes response, const tes_mdoc_verify_opts *o, tes_mdoc_result *r)
{
    *r = (tes_mdoc_result){.failed_doc = SIZE_MAX};
    if (o == NULL || o->trust == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_mdoc_verify needs a trust store");
    tes_buf plain = {0}, tagged = {0};
    tes_err e = tes_mdoc_transcript_load(o->transcript, &plain, &tagged);
    if (e != TES_OK)
        return e;
    vctx v = {.o = o, .transcript = tes_buf_bytes(&plain), .transcript_tagged = tes_buf_bytes(&tagged)};
    tes_cbor_doc d = {0};
    e = tes_cbor_parse(response, &limits, &d);
    if (e != TES_OK)
        goto out;
    uint32_t ver = tes_cbor_map_get_text(&d, 0, "version");
    uint32_t docs = tes_cbor_map_get_text(&d, 0, "documents");
    uint32_t status = tes_cbor_map_get_text(&d, 0, "status");
    if (!tes_cbor_is(&d, 0, TES_CBOR_MAP) || !tes_cbor_is(&d, ver, TES_CBOR_TEXT) ||
        !tes_cbor_is(&d, status, TES_CBOR_UINT) ||
        (docs != TES_CBOR_NONE && !tes_cbor_is(&d, docs, TES_CBOR_ARRAY))) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE,
                        "not a DeviceResponse: needs version (text), status (uint) and documents "
                        "(array)");
        goto out;
    }
    if (!version_1x(TES_BYTES(d.nodes[ver].data, d.nodes[ver].len))) {
        e = tes_err_set(TES_ERR_MDOC_VERSION, "DeviceResponse version is not 1.x");
        goto out;
    }
    e = check_document_errors(&d, tes_cbor_map_get_text(&d, 0, "documentErrors"));
    if (e != TES_OK)
        goto out;
    if (d.nodes[status].val != 0) {
        e = tes_err_set(TES_ERR_DOC_ERRORS, "DeviceResponse status is %llu (not OK)",
                        (unsigned long long)d.nodes[status].val);
        goto out;
    }
    size_t n = docs == TES_CBOR_NONE ? 0 : (size_t)tes_cbor_count(&d, docs);
    if (docs != TES_CBOR_NONE && n == 0) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE,
                        "DeviceResponse documents is an empty array (absent or [+ Document])");
        goto out;
    }
    if (n == 0) {
        e = tes_err_set(TES_ERR_DOC_ERRORS, "DeviceResponse returns no documents%s",
                        tes_cbor_map_get_text(&d, 0, "documentErrors") != TES_CBOR_NONE
                            ? " (documentErrors present)" : "");
        goto out;
    }
    r->docs = calloc(n, sizeof(*r->docs));
    if (r->docs == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    r->n_docs = n;
    uint32_t c = tes_cbor_child(&d, docs);
    for (size_t i = 0; i < n; i++, c = tes_cbor_next(&d, c)) {
        v.doc_index = i;
        e = verify_document(&v, &d, c, &r->docs[i]);
        if (e != TES_OK) {
            r->failed_doc = i;
            break;
        }
    }
out:
    tes_cbor_doc_free(&d);
    tes_buf_free(&plain);
    tes_buf_free(&tagged);
    if (e != TES_OK) {
        size_t f = r->failed_doc;
        tes_mdoc_result_free(r);
        r->failed_doc = f;
    }
    return e;
}
