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
static tes_err check_value_digests(const vctx *v, const tes_cbor_doc *d, uint32_t vd, size_t hl)
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
static bool text_in_array(const tes_cbor_doc *d, uint32_t a, tes_bytes text)
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
static tes_err check_device_key_info(const vctx *v, const tes_cbor_doc *d, uint32_t dki)
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
        if (name_spaces != TES_CBOR_NONE && text_in_array(d, name_spaces, ns)) {
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
static tes_err validity_date(const vctx *v, tes_cbor_cur *c, const char *name, int64_t *out)
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
static tes_err check_validity_info(const vctx *v, tes_cbor_cur *c, mso_view *m,
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
static tes_err parse_mso(const vctx *v, const tes_cose_msg *auth, tes_bytes doctype, mso_view *m,
                         tes_mdoc_document *out)
{
    size_t di = v->doc_index;
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

/* IssuerNameSpaces = {+ NameSpace => [+ IssuerSignedItemBytes]}: the shape, and the
 * number of items of all namespaces. */
static tes_err count_items(const vctx *v, const tes_cbor_doc *d, uint32_t ns_map, size_t *n)
{
    *n = 0;
    if (ns_map == TES_CBOR_NONE)
        return TES_OK;
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, ns_map);
    tes_cbor_enter_map(&c);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "document %zu: nameSpaces is not a map",
                           v->doc_index);
    while (tes_cbor_more(&c)) {
        tes_bytes ns;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_enter_array(&c);
        if (tes_cbor_cur_error(&c) != TES_OK || tes_cbor_items(&c) == 0)
            return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                               "document %zu: nameSpaces must map namespace text to a non-empty "
                               "array of IssuerSignedItemBytes", v->doc_index);
        *n += tes_cbor_items(&c);
        tes_cbor_exit_array(&c);
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

/* The digests of one namespace, DigestIDs = {+ DigestID => Digest}, sorted by digestID:
 * each disclosed item finds its digest in O(log n), so n items cost n log n, not n^2. */
typedef struct digest_ref {
    uint32_t id;
    tes_bytes digest;
} digest_ref;

typedef struct digest_index {
    digest_ref *refs;
    size_t n;
} digest_index;

static int by_ref_id(const void *a, const void *b)
{
    uint32_t x = ((const digest_ref *)a)->id, y = ((const digest_ref *)b)->id;
    return x < y ? -1 : x > y;
}

/* Indexes the map at node ns_digests (checked by check_value_digests); TES_CBOR_NONE: empty. */
static tes_err index_digests(const mso_view *m, uint32_t ns_digests, digest_index *ix)
{
    *ix = (digest_index){0};
    if (ns_digests == TES_CBOR_NONE)
        return TES_OK;
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, &m->doc, ns_digests);
    tes_cbor_enter_map(&c);
    ix->refs = malloc(((size_t)tes_cbor_items(&c) + 1) * sizeof(*ix->refs)); /* never malloc(0) */
    if (ix->refs == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    bool ascending = true;
    while (tes_cbor_more(&c)) {
        uint64_t id;
        tes_bytes digest;
        tes_cbor_next_uint(&c, &id);
        tes_cbor_next_bytes(&c, &digest);
        ix->refs[ix->n] = (digest_ref){.id = (uint32_t)id, .digest = digest};
        if (ix->n > 0 && ix->refs[ix->n - 1].id > ix->refs[ix->n].id)
            ascending = false;
        ix->n++;
    }
    /* deterministic encoding already lists them in order */
    if (!ascending)
        qsort(ix->refs, ix->n, sizeof(*ix->refs), by_ref_id);
    return TES_OK;
}

/* The digest of digestID id, or NULL. */
static const digest_ref *find_digest(const digest_index *ix, uint32_t id)
{
    digest_ref key = {.id = id};
    if (ix->n == 0)
        return NULL;
    return bsearch(&key, ix->refs, ix->n, sizeof(*ix->refs), by_ref_id);
}

/* Namespace and element name of an item, printable, for error messages. */
typedef struct item_names {
    char ns[96], el[96];
} item_names;

static void name_item(item_names *n, tes_bytes ns, tes_bytes el)
{
    tes_text_printable(n->ns, sizeof(n->ns), ns);
    tes_text_printable(n->el, sizeof(n->el), el);
}

/* IssuerSignedItemBytes = #6.24(bstr .cbor IssuerSignedItem)
 * IssuerSignedItem = {
 *   "digestID": uint,                    ; below 2^31
 *   "random": bstr,                      ; at least 16 bytes
 *   "elementIdentifier": DataElementIdentifier,
 *   "elementValue": DataElementValue
 * }
 * One disclosed item: its shape, its dates, and its digest against the MSO's digest
 * for its digestID in the namespace's digests; recorded in *el. */
static tes_err check_item(const vctx *v, const tes_cbor_doc *d, uint32_t item, tes_bytes ns,
                          const mso_view *m, const digest_index *digests, tes_mdoc_element *el,
                          uint8_t *scratch_hash)
{
    size_t di = v->doc_index;
    item_names nm;
    el->name = TES_BYTES(NULL, 0);
    tes_bytes inner;
    if (!tes_cbor_tag24_content(d, item, &inner)) {
        name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_MDOC_ITEM,
                           "document %zu: an item of namespace '%s' is not IssuerSignedItemBytes "
                           "(tag 24)", di, nm.ns);
    }
    tes_cbor_doc it;
    tes_cbor_node itn[32];
    tes_err e = tes_cbor_parse_with(inner, &limits, itn, 32, &it);
    if (e != TES_OK) {
        name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_MDOC_ITEM, "document %zu: an item of namespace '%s' is not CBOR: %s",
                           di, nm.ns, tes_err_message());
    }
    tes_cbor_cur c;
    uint64_t id;
    tes_bytes random;
    uint32_t value;
    tes_cbor_cur_init(&c, &it, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_uint_in(&c, "digestID", &id);
    if (tes_cbor_cur_error(&c) == TES_OK && id >= MDOC_DIGEST_ID_LIMIT) {
        tes_cbor_doc_free(&it);
        name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_MDOC_ITEM,
                           "document %zu: an item of namespace '%s' has a digestID of 2^31 or "
                           "more", di, nm.ns);
    }
    tes_cbor_bytes_in(&c, "random", &random);
    tes_cbor_text_in(&c, "elementIdentifier", &el->name);
    tes_cbor_item_in(&c, "elementValue", &value);
    if (tes_cbor_cur_error(&c) != TES_OK || random.len < 16) {
        tes_cbor_doc_free(&it);
        name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_MDOC_ITEM,
                           "document %zu: an item of namespace '%s' lacks digestID, random "
                           "(>= 16 bytes), elementIdentifier or elementValue", di, nm.ns);
    }
    el->ns = ns;
    el->value = tes_cbor_span(&it, value);
    el->digest_id = (uint32_t)id;
    /* dates anywhere in the value: tdate = 0(tstr), full-date = 1004(tstr) (18013-5 §7.2.1) */
    e = check_dates(&it, value);
    tes_cbor_doc_free(&it); /* the views point into the response, not into `it` */
    if (e != TES_OK) {
        name_item(&nm, ns, el->name);
        return tes_err_set(e, "document %zu: %s/%s: %s", di, nm.ns, nm.el, tes_err_message());
    }

    /* the MSO's digest for this digestID */
    const digest_ref *want = find_digest(digests, el->digest_id);
    size_t hl = tes_hash_size(m->hash);
    if (want == NULL) {
        name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_DIGEST_MISSING,
                           "document %zu: %s/%s (digestID %u) has no digest in the MSO", di, nm.ns,
                           nm.el, el->digest_id);
    }
    if (want->digest.len != hl) {
        name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_MSO_STRUCTURE,
                           "document %zu: MSO digest for %s digestID %u is not a %zu-byte bstr", di,
                           nm.ns, el->digest_id, hl);
    }
    e = tes_digest(m->hash, tes_cbor_span(d, item), scratch_hash);
    if (e != TES_OK)
        return e;
    if (!tes_ct_eq(TES_BYTES(scratch_hash, hl), want->digest)) {
        name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_DIGEST_MISMATCH,
                           "document %zu: %s/%s (digestID %u) does not match its MSO digest", di,
                           nm.ns, nm.el, el->digest_id);
    }
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
        if (text_in_array(d, name_spaces, ns))
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
            return text_in_array(d, elements, name);
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
static tes_err check_device(const vctx *v, const tes_cbor_doc *d, uint32_t dev_signed,
                            const mso_view *m, tes_bytes doctype, tes_mdoc_document *out,
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
    e = tes_cbor_parse_with(dns, &limits, ndn, 16, &nd);
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
                item_names nm;
                name_item(&nm, ns, name);
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

/* documentErrors = [+ DocumentError]
 * DocumentError = {DocType => ErrorCode}
 * ErrorCode = int                       (18013-5 §8.3.2.1.2.2) */
static tes_err check_document_errors(const tes_cbor_doc *d, uint32_t de)
{
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, de);
    tes_cbor_enter_array(&c);
    bool ok = tes_cbor_items(&c) > 0;
    while (ok && tes_cbor_more(&c)) {
        tes_bytes doctype;
        int64_t code;
        tes_cbor_enter_map(&c);
        ok = tes_cbor_items(&c) == 1;
        tes_cbor_next_text(&c, &doctype);
        tes_cbor_next_int(&c, &code);
        tes_cbor_exit_map(&c);
    }
    if (!ok || tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "DeviceResponse documentErrors must be a non-empty array of "
                           "{docType: int error code}");
    return TES_OK;
}

/* Errors = {+ NameSpace => ErrorItems}
 * ErrorItems = {+ DataElementIdentifier => ErrorCode}   (18013-5 §8.3.2.1.2.2) */
static tes_err check_errors(const vctx *v, const tes_cbor_doc *d, uint32_t er)
{
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, er);
    tes_cbor_enter_map(&c);
    bool ok = tes_cbor_items(&c) > 0;
    while (ok && tes_cbor_more(&c)) {
        tes_bytes ns;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_enter_map(&c);
        ok = tes_cbor_items(&c) > 0;
        while (ok && tes_cbor_more(&c)) {
            tes_bytes name;
            int64_t code;
            tes_cbor_next_text(&c, &name);
            tes_cbor_next_int(&c, &code);
        }
        tes_cbor_exit_map(&c);
    }
    if (!ok || tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "document %zu: errors must map namespaces to non-empty maps of "
                           "element identifier to int error code", v->doc_index);
    return TES_OK;
}

/* The digests of namespace ns in the MSO: valueDigests[ns], or TES_CBOR_NONE. */
static uint32_t ns_digests_of(const mso_view *m, tes_bytes ns)
{
    tes_cbor_cur c;
    uint32_t digests;
    tes_cbor_cur_init(&c, &m->doc, m->value_digests);
    tes_cbor_enter_map(&c);
    tes_cbor_item_in_text(&c, ns, &digests);
    return digests;
}

/* IssuerNameSpaces = {+ NameSpace => [+ IssuerSignedItemBytes]}
 * Every disclosed item against its digest, into out->elems (room for all: count_items);
 * no namespace discloses the same element or digestID twice. */
static tes_err check_disclosed(const vctx *v, const tes_cbor_doc *d, uint32_t ns_map,
                               const mso_view *m, tes_mdoc_document *out, size_t n_items)
{
    size_t di = v->doc_index;
    out->n_elems = 0;
    if (ns_map == TES_CBOR_NONE)
        return TES_OK;
    const tes_mdoc_element **sorted = malloc(n_items * sizeof(*sorted));
    if (sorted == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    tes_err e = TES_OK;
    uint8_t hash[TES_MAX_DIGEST];
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, ns_map);
    tes_cbor_enter_map(&c);
    while (e == TES_OK && tes_cbor_more(&c)) {
        tes_bytes ns;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_enter_array(&c);
        /* look the namespace's digests up once */
        uint32_t ns_digests = ns_digests_of(m, ns);
        if (ns_digests != TES_CBOR_NONE && !tes_cbor_is(&m->doc, ns_digests, TES_CBOR_MAP)) {
            char name[96];
            tes_text_printable(name, sizeof(name), ns);
            e = tes_err_set(TES_ERR_MSO_STRUCTURE, "document %zu: valueDigests['%s'] is not a map",
                            di, name);
            break;
        }
        digest_index digests;
        e = index_digests(m, ns_digests, &digests);
        size_t first = out->n_elems;
        while (e == TES_OK && tes_cbor_more(&c)) {
            uint32_t item;
            tes_cbor_next_item(&c, &item);
            e = check_item(v, d, item, ns, m, &digests, &out->elems[out->n_elems], hash);
            if (e == TES_OK)
                out->n_elems++;
        }
        free(digests.refs);
        tes_cbor_exit_array(&c);
        /* sorted, so a namespace of n items costs O(n log n), not n^2 comparisons */
        if (e == TES_OK)
            e = check_unique(v, out->elems + first, out->n_elems - first, sorted, ns);
    }
    free(sorted);
    return e;
}

/* Document = {
 *   "docType": DocType,
 *   "issuerSigned": IssuerSigned,
 *   "deviceSigned": DeviceSigned,
 *   ? "errors": Errors
 * }
 * IssuerSigned = {? "nameSpaces": IssuerNameSpaces, "issuerAuth": IssuerAuth}
 * IssuerAuth = COSE_Sign1 over MobileSecurityObjectBytes, x5chain the document signer's */
static tes_err verify_document(const vctx *v, const tes_cbor_doc *d, uint32_t node,
                               tes_mdoc_document *out)
{
    size_t di = v->doc_index;
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, node);
    tes_cbor_enter_map(&c);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "document %zu is not a map", di);
    uint32_t ds, er, ia, nsm = TES_CBOR_NONE;
    tes_cbor_text_in(&c, "docType", &out->doctype);
    tes_cbor_enter_map_in(&c, "issuerSigned");
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE,
                           "document %zu lacks docType (text) or issuerSigned (map)", di);
    if (tes_cbor_has(&c, "nameSpaces"))
        tes_cbor_item_in(&c, "nameSpaces", &nsm);
    bool has_auth = tes_cbor_has(&c, "issuerAuth");
    if (has_auth)
        tes_cbor_item_in(&c, "issuerAuth", &ia);
    tes_cbor_exit_map(&c);
    tes_cbor_map_in(&c, "deviceSigned", &ds);
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_DEVICE_AUTH,
                           "document %zu lacks deviceSigned: it is not bound to the device", di);
    if (tes_cbor_has(&c, "errors")) {
        tes_cbor_item_in(&c, "errors", &er);
        tes_err e = check_errors(v, d, er);
        if (e != TES_OK)
            return e;
    }
    if (!has_auth)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "document %zu: issuerSigned lacks issuerAuth", di);
    size_t n_items;
    tes_err e = count_items(v, d, nsm, &n_items);
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
    if (e == TES_OK)
        e = check_disclosed(v, d, nsm, &m, out, n_items);
    if (e == TES_OK)
        e = check_issuing_country(v, out->elems, out->n_elems, ci);
    if (e == TES_OK)
        e = check_device(v, d, ds, &m, out->doctype, out, out->n_elems, cap);
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
    /* DeviceResponse = {
     *   "version": tstr,                   ; "1.x"
     *   ? "documents": [+ Document],
     *   ? "documentErrors": [+ DocumentError],
     *   "status": uint                     ; 0: OK
     * } */
    tes_cbor_cur c;
    tes_bytes version;
    uint64_t status;
    uint32_t documents = TES_CBOR_NONE;
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_text_in(&c, "version", &version);
    tes_cbor_uint_in(&c, "status", &status);
    if (tes_cbor_has(&c, "documents"))
        tes_cbor_array_in(&c, "documents", &documents);
    if (tes_cbor_cur_error(&c) != TES_OK) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE,
                        "not a DeviceResponse: needs version (text), status (uint) and documents "
                        "(array)");
        goto out;
    }
    if (!version_1x(version)) {
        e = tes_err_set(TES_ERR_MDOC_VERSION, "DeviceResponse version is not 1.x");
        goto out;
    }
    bool has_errors = tes_cbor_has(&c, "documentErrors");
    if (has_errors) {
        uint32_t de;
        tes_cbor_item_in(&c, "documentErrors", &de);
        e = check_document_errors(&d, de);
        if (e != TES_OK)
            goto out;
    }
    if (status != 0) {
        e = tes_err_set(TES_ERR_DOC_ERRORS, "DeviceResponse status is %llu (not OK)",
                        (unsigned long long)status);
        goto out;
    }
    size_t n = documents == TES_CBOR_NONE ? 0 : (size_t)tes_cbor_count(&d, documents);
    if (documents != TES_CBOR_NONE && n == 0) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE,
                        "DeviceResponse documents is an empty array (absent or [+ Document])");
        goto out;
    }
    if (n == 0) {
        e = tes_err_set(TES_ERR_DOC_ERRORS, "DeviceResponse returns no documents%s",
                        has_errors ? " (documentErrors present)" : "");
        goto out;
    }
    r->docs = calloc(n, sizeof(*r->docs));
    if (r->docs == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    r->n_docs = n;
    tes_cbor_enter_array_in(&c, "documents");
    for (size_t i = 0; i < n; i++) {
        uint32_t document;
        tes_cbor_next_item(&c, &document);
        v.doc_index = i;
        e = verify_document(&v, &d, document, &r->docs[i]);
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
