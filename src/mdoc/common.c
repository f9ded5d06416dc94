/* Pieces shared by issuing, presenting and verifying. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "mdoc_internal.h"

void mdoc_enc_tdate(tes_cbor_enc *e, int64_t t)
{
    char s[21];
    tes_time_format(t, s);
    tes_cbor_enc_tag(e, 0);
    tes_cbor_enc_text(e, s, 20);
}

static bool year_zero(const uint8_t *p)
{
    return memcmp(p, "0000", 4) == 0;
}

tes_err mdoc_check_tdate_text(tes_bytes s, int64_t *out)
{
    const uint8_t *p = s.ptr;
    int64_t t;
    char shown[48];
    /* 18013-5 §7.2.1 / §9.1.2.4: tdate is an RFC 3339 date-time without fraction of
     * seconds and with no local offset ("Z"); years 0001..9999. */
    if (s.len != 20 || p[10] != 'T' || p[19] != 'Z' || year_zero(p) ||
        tes_time_parse((const char *)p, 20, true, &t) != TES_OK) {
        tes_text_printable(shown, sizeof(shown), s);
        return tes_err_set(TES_ERR_MDOC_DATE,
                           "tdate '%s' is not YYYY-MM-DDThh:mm:ssZ (UTC 'Z', no fraction of "
                           "seconds, no offset, year 0001 or later)", shown);
    }
    if (out)
        *out = t;
    return TES_OK;
}

tes_err mdoc_check_full_date_text(tes_bytes s)
{
    char shown[48];
    if (s.len != 10 || year_zero(s.ptr) || !tes_date_valid((const char *)s.ptr, 10)) {
        tes_text_printable(shown, sizeof(shown), s);
        return tes_err_set(TES_ERR_MDOC_DATE,
                           "full-date '%s' is not YYYY-MM-DD (RFC 3339 full-date, year 0001 or "
                           "later)", shown);
    }
    return TES_OK;
}

tes_err mdoc_read_tdate(const tes_cbor_doc *d, uint32_t i, int64_t *out)
{
    if (!tes_cbor_is(d, i, TES_CBOR_TAG) || d->nodes[i].val != 0 ||
        !tes_cbor_is(d, i + 1, TES_CBOR_TEXT))
        return tes_err_set(TES_ERR_MSO_STRUCTURE, "not a tdate (tag 0 text)");
    const tes_cbor_node *t = &d->nodes[i + 1];
    return mdoc_check_tdate_text(TES_BYTES(t->data, t->len), out);
}

bool mdoc_get_tdate(const tes_cbor_doc *d, uint32_t i, int64_t *out)
{
    return mdoc_read_tdate(d, i, out) == TES_OK;
}

void mdoc_device_auth_bytes(tes_buf *out, tes_bytes transcript, tes_bytes doctype,
                            tes_bytes device_ns_bytes)
{
    /* inner array first, then wrap: the bstr head needs the inner length */
    static const char label[] = "DeviceAuthentication";
    tes_buf tmp = {0};
    tes_cbor_enc e = {.out = &tmp};
    tes_cbor_enc_array(&e, 4);
    tes_cbor_enc_text(&e, label, sizeof(label) - 1);
    tes_cbor_enc_raw(&e, transcript);
    tes_cbor_enc_text(&e, (const char *)doctype.ptr, doctype.len);
    tes_cbor_enc_raw(&e, device_ns_bytes);
    tes_cbor_enc o = {.out = out};
    tes_cbor_enc_tag(&o, 24);
    tes_cbor_enc_bytes(&o, tmp.ptr, tmp.len);
    if (e.err != TES_OK || tmp.failed)
        out->failed = true;
    tes_buf_free(&tmp);
}

/* A credential file is one of
 *   DeviceResponse = {..., "documents": [Document]}      ; exactly one Document
 *   Document = {"docType": DocType, "issuerSigned": IssuerSigned, ...}
 *   IssuerSigned = {? "nameSpaces": IssuerNameSpaces, "issuerAuth": IssuerAuth}
 * A bare IssuerSigned takes its docType from the MSO. */
tes_err mdoc_cred_load(tes_bytes in, mdoc_cred *c)
{
    memset(c, 0, sizeof(*c));
    tes_cbor_limits lim = {.max_input = TES_MDOC_MAX_INPUT, .max_depth = TES_MDOC_MAX_DEPTH};
    tes_err e = tes_cbor_parse(in, &lim, &c->doc);
    if (e != TES_OK)
        return e;
    tes_cbor_doc *d = &c->doc;
    tes_cbor_cur top;
    tes_cbor_cur_init(&top, d, 0);
    tes_cbor_enter_map(&top);
    if (tes_cbor_cur_error(&top) != TES_OK) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "credential is not a CBOR map");
        goto fail;
    }
    uint32_t root = 0;
    if (tes_cbor_has(&top, "documents")) {
        /* a DeviceResponse holding one document */
        uint32_t docs;
        tes_cbor_item_in(&top, "documents", &docs);
        if (!tes_cbor_is(d, docs, TES_CBOR_ARRAY) || tes_cbor_count(d, docs) != 1) {
            e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "credential file holds %s documents",
                            tes_cbor_is(d, docs, TES_CBOR_ARRAY) ? "several or no" : "no");
            goto fail;
        }
        tes_cbor_enter_array_in(&top, "documents");
        tes_cbor_next_item(&top, &root);
    }
    /* the Document (or the bare IssuerSigned) */
    tes_cbor_cur doc;
    uint32_t is = TES_CBOR_NONE;
    tes_cbor_cur_init(&doc, d, root);
    tes_cbor_enter_map(&doc);
    if (tes_cbor_has(&doc, "issuerSigned"))
        tes_cbor_item_in(&doc, "issuerSigned", &is);
    else if (tes_cbor_has(&doc, "issuerAuth"))
        is = root;
    if (!tes_cbor_is(d, is, TES_CBOR_MAP)) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "credential has no issuerSigned map");
        goto fail;
    }
    c->issuer_signed = is;
    c->issuer_auth = TES_CBOR_NONE;
    c->name_spaces = TES_CBOR_NONE;
    tes_cbor_cur isc;
    tes_cbor_cur_init(&isc, d, is);
    tes_cbor_enter_map(&isc);
    if (tes_cbor_has(&isc, "issuerAuth"))
        tes_cbor_item_in(&isc, "issuerAuth", &c->issuer_auth);
    if (tes_cbor_has(&isc, "nameSpaces"))
        tes_cbor_item_in(&isc, "nameSpaces", &c->name_spaces);
    if (c->issuer_auth == TES_CBOR_NONE ||
        (c->name_spaces != TES_CBOR_NONE && !tes_cbor_is(d, c->name_spaces, TES_CBOR_MAP))) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE,
                        "issuerSigned lacks issuerAuth or has bad nameSpaces");
        goto fail;
    }
    uint32_t dt = TES_CBOR_NONE;
    if (tes_cbor_has(&doc, "docType"))
        tes_cbor_item_in(&doc, "docType", &dt);
    if (tes_cbor_is(d, dt, TES_CBOR_TEXT)) {
        c->doctype = TES_BYTES(d->nodes[dt].data, d->nodes[dt].len);
    } else {
        /* bare IssuerSigned: take docType from the MSO */
        tes_cose_msg m;
        e = tes_cose_sign1_decode(d, c->issuer_auth, &m);
        if (e != TES_OK)
            goto fail;
        tes_cbor_doc pd;
        tes_bytes mso;
        e = tes_cbor_parse(m.payload, &lim, &pd);
        if (e != TES_OK)
            goto fail;
        bool ok = tes_cbor_tag24_content(&pd, 0, &mso);
        tes_cbor_doc_free(&pd);
        tes_cbor_doc md;
        if (!ok || tes_cbor_parse(mso, &lim, &md) != TES_OK) {
            e = tes_err_set(TES_ERR_MSO_STRUCTURE, "credential MSO cannot be read");
            goto fail;
        }
        /* MobileSecurityObject = {..., "docType": tstr, ...} */
        tes_cbor_cur mc;
        tes_bytes mso_doctype;
        tes_cbor_cur_init(&mc, &md, 0);
        tes_cbor_enter_map(&mc);
        tes_cbor_text_in(&mc, "docType", &mso_doctype);
        if (tes_cbor_cur_error(&mc) == TES_OK)
            c->doctype = mso_doctype;
        tes_cbor_doc_free(&md);
        if (c->doctype.len == 0) {
            e = tes_err_set(TES_ERR_MSO_STRUCTURE, "credential MSO has no docType");
            goto fail;
        }
    }
    return TES_OK;
fail:
    tes_cbor_doc_free(&c->doc);
    return e;
}

tes_err tes_mdoc_transcript_load(tes_bytes in, tes_buf *plain, tes_buf *tagged)
{
    tes_cbor_doc d;
    tes_cbor_node dn[32], idn[32];
    tes_cbor_limits lim = {.max_input = 1u << 20, .max_depth = 16};
    tes_err e = tes_cbor_parse_with(in, &lim, dn, 32, &d);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_MDOC_TRANSCRIPT, "SessionTranscript is not valid CBOR: %s",
                           tes_err_message());
    tes_bytes inner = in;
    tes_cbor_doc id = {0};
    bool wrapped = tes_cbor_tag24_content(&d, 0, &inner);
    if (wrapped) {
        e = tes_cbor_parse_with(inner, &lim, idn, 32, &id);
        if (e != TES_OK) {
            tes_cbor_doc_free(&d);
            return tes_err_set(TES_ERR_MDOC_TRANSCRIPT,
                               "SessionTranscriptBytes do not hold valid CBOR");
        }
    }
    const tes_cbor_doc *t = wrapped ? &id : &d;
    bool ok = tes_cbor_is(t, 0, TES_CBOR_ARRAY) && tes_cbor_count(t, 0) == 3;
    tes_cbor_doc_free(&id);
    tes_cbor_doc_free(&d);
    if (!ok)
        return tes_err_set(TES_ERR_MDOC_TRANSCRIPT,
                           "SessionTranscript must be an array of 3 items "
                           "[DeviceEngagementBytes, EReaderKeyBytes, Handover]");
    if (plain)
        tes_buf_append(plain, inner.ptr, inner.len);
    if (tagged) {
        tes_cbor_enc en = {.out = tagged};
        tes_cbor_enc_tag(&en, 24);
        tes_cbor_enc_bytes(&en, inner.ptr, inner.len);
    }
    if ((plain && plain->failed) || (tagged && tagged->failed))
        return tes_err_set(TES_ERR_NOMEM, "out of memory copying the transcript");
    return TES_OK;
}

tes_err tes_mdoc_derive_key_from_secret(tes_bytes z, tes_bytes transcript, const char *info,
                                        uint8_t out[32])
{
    tes_buf tagged = {0};
    tes_err e = tes_mdoc_transcript_load(transcript, NULL, &tagged);
    if (e != TES_OK)
        return e;
    e = tes_iso18013_derive_key(z, tes_buf_bytes(&tagged), info, out);
    tes_buf_free(&tagged);
    return e;
}

tes_err tes_mdoc_derive_key(const tes_key *priv, const tes_key *pub, tes_bytes transcript,
                            const char *info, uint8_t out[32])
{
    uint8_t z[TES_MAX_COORD];
    size_t zlen = 0;
    tes_err e = tes_key_ecdh(priv, pub, z, &zlen);
    if (e == TES_OK)
        e = tes_mdoc_derive_key_from_secret(TES_BYTES(z, zlen), transcript, info, out);
    tes_wipe(z, sizeof(z));
    return e;
}

/* keyAuthorizations.nameSpaces of DeviceKeyInfo dki, as far as they fit. */
static void read_device_namespaces(const tes_cbor_doc *md, uint32_t dki, tes_mdoc_cred_info *f)
{
    uint32_t ka = tes_cbor_map_get_text(md, dki, "keyAuthorizations");
    uint32_t ns = ka == TES_CBOR_NONE ? TES_CBOR_NONE : tes_cbor_map_get_text(md, ka, "nameSpaces");
    if (!tes_cbor_is(md, ns, TES_CBOR_ARRAY))
        return;
    for (uint32_t c = tes_cbor_child(md, ns); c != TES_CBOR_NONE && c < md->nodes[ns].next;
         c = tes_cbor_next(md, c)) {
        if (!tes_cbor_is(md, c, TES_CBOR_TEXT) || md->nodes[c].len >= 256 ||
            memchr(md->nodes[c].data, '\0', md->nodes[c].len) != NULL ||
            f->n_device_namespaces == TES_MDOC_MAX_DEVICE_NAMESPACES)
            continue;
        char *out = f->device_namespaces[f->n_device_namespaces++];
        memcpy(out, md->nodes[c].data, md->nodes[c].len);
        out[md->nodes[c].len] = '\0';
    }
}

bool tes_mdoc_cred_info_device_ns(const tes_mdoc_cred_info *info, const char *ns)
{
    for (size_t i = 0; info && ns && i < info->n_device_namespaces; i++)
        if (strcmp(info->device_namespaces[i], ns) == 0)
            return true;
    return false;
}

#define CRED_MAX_ELEMENTS 4096

/* One IssuerSignedItemBytes node of d into the claim x. */
static tes_err cred_item(const tes_cbor_doc *d, uint32_t node, tes_bytes ns, tes_mdoc_claim *x)
{
    tes_bytes inner;
    tes_cbor_doc it;
    if (!tes_cbor_tag24_content(d, node, &inner) || tes_cbor_parse(inner, NULL, &it) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_ITEM, "credential item is not IssuerSignedItemBytes");
    uint32_t id = tes_cbor_map_get_text(&it, 0, "elementIdentifier");
    uint32_t val = tes_cbor_map_get_text(&it, 0, "elementValue");
    tes_err e = TES_OK;
    if (!tes_cbor_is(&it, id, TES_CBOR_TEXT) || val == TES_CBOR_NONE)
        e = tes_err_set(TES_ERR_MDOC_ITEM, "credential item lacks elementIdentifier or "
                                           "elementValue");
    if (e == TES_OK) {
        tes_bytes v = tes_cbor_span(&it, val);
        x->ns = tes_bytes_cstr(ns);
        x->name = tes_bytes_cstr(TES_BYTES(it.nodes[id].data, it.nodes[id].len));
        tes_buf_append(&x->value, v.ptr, v.len);
        if (x->ns == NULL || x->name == NULL || x->value.failed)
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    tes_cbor_doc_free(&it);
    return e;
}

tes_err tes_mdoc_cred_elements(tes_bytes mdoc, tes_mdoc_claims *out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_mdoc_cred_elements: NULL argument");
    *out = (tes_mdoc_claims){0};
    mdoc_cred c;
    tes_err e = mdoc_cred_load(mdoc, &c);
    if (e != TES_OK)
        return e;
    const tes_cbor_doc *d = &c.doc;
    uint32_t nss = c.name_spaces;
    size_t total = 0;
    for (uint32_t k = nss == TES_CBOR_NONE ? TES_CBOR_NONE : tes_cbor_child(d, nss);
         k != TES_CBOR_NONE && k < d->nodes[nss].next;) {
        uint32_t arr = tes_cbor_next(d, k);
        if (!tes_cbor_is(d, k, TES_CBOR_TEXT) || !tes_cbor_is(d, arr, TES_CBOR_ARRAY)) {
            e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "credential nameSpaces malformed");
            goto out;
        }
        total += tes_cbor_count(d, arr);
        k = tes_cbor_next(d, arr);
    }
    if (total > CRED_MAX_ELEMENTS) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "credential has more than %d elements",
                        CRED_MAX_ELEMENTS);
        goto out;
    }
    out->items = calloc(total ? total : 1, sizeof(*out->items));
    if (out->items == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint32_t k = nss == TES_CBOR_NONE ? TES_CBOR_NONE : tes_cbor_child(d, nss);
         e == TES_OK && k != TES_CBOR_NONE && k < d->nodes[nss].next;) {
        uint32_t arr = tes_cbor_next(d, k);
        tes_bytes ns = TES_BYTES(d->nodes[k].data, d->nodes[k].len);
        for (uint32_t i = tes_cbor_child(d, arr);
             e == TES_OK && i != TES_CBOR_NONE && i < d->nodes[arr].next; i = tes_cbor_next(d, i))
            e = cred_item(d, i, ns, &out->items[out->n++]);
        k = tes_cbor_next(d, arr);
    }
out:
    tes_cbor_doc_free(&c.doc);
    if (e != TES_OK)
        tes_mdoc_claims_free(out);
    return e;
}

tes_err tes_mdoc_cred_info_read(tes_bytes mdoc, tes_mdoc_cred_info *f)
{
    memset(f, 0, sizeof(*f));
    tes_cbor_limits lim = {.max_input = TES_MDOC_MAX_INPUT, .max_depth = TES_MDOC_MAX_DEPTH};
    mdoc_cred c;
    tes_err e = mdoc_cred_load(mdoc, &c);
    if (e != TES_OK)
        return e;
    tes_cbor_doc pd = {0}, md = {0};
    tes_cert *ds = NULL;
    tes_cose_msg m;
    if ((e = tes_cose_sign1_decode(&c.doc, c.issuer_auth, &m)) != TES_OK)
        goto done;
    if (m.x5chain_len == 0) {
        e = tes_err_set(TES_ERR_COSE_X5CHAIN, "issuerAuth carries no document signer certificate");
        goto done;
    }
    if ((e = tes_cert_parse(m.x5chain[0], &ds)) != TES_OK)
        goto done;
    snprintf(f->issuer, sizeof(f->issuer), "%s", tes_cert_get_info(ds)->subject);
    e = tes_cose_sign1_verify(&m, tes_cert_key(ds), TES_BYTES(NULL, 0), TES_BYTES(NULL, 0));
    if (e == TES_ERR_SIGNATURE)
        e = tes_err_set(TES_ERR_ISSUER_SIG,
                        "the issuer signature over the MSO does not verify with the document "
                        "signer certificate it carries");
    if (e != TES_OK)
        goto done;
    tes_bytes mso;
    if (m.detached || tes_cbor_parse(m.payload, &lim, &pd) != TES_OK ||
        !tes_cbor_tag24_content(&pd, 0, &mso) || tes_cbor_parse(mso, &lim, &md) != TES_OK ||
        !tes_cbor_is(&md, 0, TES_CBOR_MAP)) {
        e = tes_err_set(TES_ERR_MSO_STRUCTURE, "the MSO (issuerAuth payload) cannot be read");
        goto done;
    }
    uint32_t dt = tes_cbor_map_get_text(&md, 0, "docType");
    uint32_t vi = tes_cbor_map_get_text(&md, 0, "validityInfo");
    uint32_t dki = tes_cbor_map_get_text(&md, 0, "deviceKeyInfo");
    uint32_t dk = tes_cbor_map_get_text(&md, dki, "deviceKey");
    if (!tes_cbor_is(&md, dt, TES_CBOR_TEXT) || !tes_cbor_is(&md, vi, TES_CBOR_MAP) ||
        dk == TES_CBOR_NONE) {
        e = tes_err_set(TES_ERR_MSO_STRUCTURE, "the MSO lacks docType, validityInfo or deviceKey");
        goto done;
    }
    tes_bytes mdt = TES_BYTES(md.nodes[dt].data, md.nodes[dt].len);
    tes_text_printable(f->doctype, sizeof(f->doctype), mdt);
    if (!tes_bytes_eq(mdt, c.doctype)) {
        e = tes_err_set(TES_ERR_DOCTYPE_MISMATCH,
                        "the credential's docType differs from its MSO's ('%s')", f->doctype);
        goto done;
    }
    if (!mdoc_get_tdate(&md, tes_cbor_map_get_text(&md, vi, "signed"), &f->signed_at) ||
        !mdoc_get_tdate(&md, tes_cbor_map_get_text(&md, vi, "validFrom"), &f->valid_from) ||
        !mdoc_get_tdate(&md, tes_cbor_map_get_text(&md, vi, "validUntil"), &f->valid_until)) {
        e = tes_err_set(TES_ERR_MSO_STRUCTURE,
                        "the MSO's validityInfo lacks signed, validFrom or validUntil");
        goto done;
    }
    e = tes_cose_key_decode(&md, dk, &f->device_key);
    if (e != TES_OK)
        e = tes_err_set(TES_ERR_DEVICE_KEY, "the MSO deviceKey is unusable: %s", tes_err_message());
    if (e == TES_OK)
        read_device_namespaces(&md, dki, f);
done:
    tes_cert_free(ds);
    tes_cbor_doc_free(&md);
    tes_cbor_doc_free(&pd);
    tes_cbor_doc_free(&c.doc);
    if (e != TES_OK)
        tes_mdoc_cred_info_free(f);
    return e;
}

void tes_mdoc_cred_info_free(tes_mdoc_cred_info *info)
{
    tes_key_free(info->device_key);
    info->device_key = NULL;
}
