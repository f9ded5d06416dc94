/*
 * Verifying a DeviceResponse, the issuer-signed items (18013-5 §9.3.1): each disclosed
 * IssuerSignedItemBytes against its MSO digest, its dates, no element or digestID twice in
 * a namespace, issuing_country / issuing_jurisdiction against the document signer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

/* IssuerNameSpaces = {+ NameSpace => [+ IssuerSignedItemBytes]}: the shape, and the
 * number of items of all namespaces. */
tes_err mdoc_count_items(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t ns_map, size_t *n)
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
static tes_err index_digests(const mdoc_mso *m, uint32_t ns_digests, digest_index *ix)
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

/* IssuerSignedItemBytes = #6.24(bstr .cbor IssuerSignedItem)
 * IssuerSignedItem = {
 *   "digestID": uint,                    ; below 2^31
 *   "random": bstr,                      ; at least 16 bytes
 *   "elementIdentifier": DataElementIdentifier,
 *   "elementValue": DataElementValue
 * }
 * One disclosed item: its shape, its dates, and its digest against the MSO's digest
 * for its digestID in the namespace's digests; recorded in *el. */
static tes_err check_item(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t item, tes_bytes ns,
                          const mdoc_mso *m, const digest_index *digests, tes_mdoc_element *el,
                          uint8_t *scratch_hash)
{
    size_t di = v->doc_index;
    mdoc_item_names nm;
    el->name = TES_BYTES(NULL, 0);
    tes_bytes inner;
    if (!tes_cbor_tag24_content(d, item, &inner)) {
        mdoc_name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_MDOC_ITEM,
                           "document %zu: an item of namespace '%s' is not IssuerSignedItemBytes "
                           "(tag 24)", di, nm.ns);
    }
    tes_cbor_doc it;
    tes_cbor_node itn[32];
    tes_err e = tes_cbor_parse_with(inner, &mdoc_verify_limits, itn, 32, &it);
    if (e != TES_OK) {
        mdoc_name_item(&nm, ns, el->name);
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
        mdoc_name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_MDOC_ITEM,
                           "document %zu: an item of namespace '%s' has a digestID of 2^31 or "
                           "more", di, nm.ns);
    }
    tes_cbor_bytes_in(&c, "random", &random);
    tes_cbor_text_in(&c, "elementIdentifier", &el->name);
    tes_cbor_item_in(&c, "elementValue", &value);
    if (tes_cbor_cur_error(&c) != TES_OK || random.len < 16) {
        tes_cbor_doc_free(&it);
        mdoc_name_item(&nm, ns, el->name);
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
        mdoc_name_item(&nm, ns, el->name);
        return tes_err_set(e, "document %zu: %s/%s: %s", di, nm.ns, nm.el, tes_err_message());
    }

    /* the MSO's digest for this digestID */
    const digest_ref *want = find_digest(digests, el->digest_id);
    size_t hl = tes_hash_size(m->hash);
    if (want == NULL) {
        mdoc_name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_DIGEST_MISSING,
                           "document %zu: %s/%s (digestID %u) has no digest in the MSO", di, nm.ns,
                           nm.el, el->digest_id);
    }
    if (want->digest.len != hl) {
        mdoc_name_item(&nm, ns, el->name);
        return tes_err_set(TES_ERR_MSO_STRUCTURE,
                           "document %zu: MSO digest for %s digestID %u is not a %zu-byte bstr", di,
                           nm.ns, el->digest_id, hl);
    }
    e = tes_digest(m->hash, tes_cbor_span(d, item), scratch_hash);
    if (e != TES_OK)
        return e;
    if (!tes_ct_eq(TES_BYTES(scratch_hash, hl), want->digest)) {
        mdoc_name_item(&nm, ns, el->name);
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
static tes_err check_unique(const mdoc_vctx *v, const tes_mdoc_element *el, size_t n,
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
    if (tes_cbor_parse_with(value, &mdoc_verify_limits, vn, 2, &vd) != TES_OK) {
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
tes_err mdoc_check_issuing_country(const mdoc_vctx *v, const tes_mdoc_element *el, size_t n,
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

/* The digests of namespace ns in the MSO: valueDigests[ns], or TES_CBOR_NONE. */
static uint32_t ns_digests_of(const mdoc_mso *m, tes_bytes ns)
{
    tes_cbor_cur c;
    uint32_t digests;
    tes_cbor_cur_init(&c, &m->doc, m->value_digests);
    tes_cbor_enter_map(&c);
    tes_cbor_item_in_text(&c, ns, &digests);
    return digests;
}

/* IssuerNameSpaces = {+ NameSpace => [+ IssuerSignedItemBytes]}
 * Every disclosed item against its digest, into out->elems (room for all: mdoc_count_items);
 * no namespace discloses the same element or digestID twice. */
tes_err mdoc_check_disclosed(const mdoc_vctx *v, const tes_cbor_doc *d, uint32_t ns_map,
                               const mdoc_mso *m, tes_mdoc_document *out, size_t n_items)
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
