/*
 * Presenting: a DeviceResponse disclosing the requested elements, copied as
 * the exact IssuerSignedItemBytes the issuer signed, with device
 * authentication by signature or MAC (18013-5 §8.3.2.1.2, §9.1.3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

typedef struct held {
    uint32_t node;  /* tag-24 item node in the credential */
    tes_bytes name; /* elementIdentifier */
    int age;        /* NN for age_over_NN, else -1 */
    bool value;     /* age_over value */
    bool chosen;
} held;

static int age_nn(tes_bytes name)
{
    static const char p[] = "age_over_";
    if (name.len != sizeof(p) + 1 || memcmp(name.ptr, p, sizeof(p) - 1) != 0)
        return -1;
    uint8_t a = name.ptr[sizeof(p) - 1], b = name.ptr[sizeof(p)];
    if (a < '0' || a > '9' || b < '0' || b > '9')
        return -1;
    return (a - '0') * 10 + (b - '0');
}

/* The items of one namespace of the credential:
 * [+ IssuerSignedItemBytes], IssuerSignedItemBytes = #6.24(bstr .cbor IssuerSignedItem),
 * IssuerSignedItem = {..., "elementIdentifier": tstr, "elementValue": any} */
static tes_err read_items(const tes_cbor_doc *d, uint32_t arr, held *h, size_t *n)
{
    *n = 0;
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, arr);
    tes_cbor_enter_array(&c);
    while (tes_cbor_more(&c)) {
        uint32_t node;
        tes_bytes inner;
        tes_cbor_doc it;
        tes_cbor_next_item(&c, &node);
        if (!tes_cbor_tag24_content(d, node, &inner) || tes_cbor_parse(inner, NULL, &it) != TES_OK)
            return tes_err_set(TES_ERR_MDOC_ITEM, "credential item is not IssuerSignedItemBytes");
        tes_cbor_cur ic;
        tes_bytes name;
        uint32_t value;
        tes_cbor_cur_init(&ic, &it, 0);
        tes_cbor_enter_map(&ic);
        tes_cbor_text_in(&ic, "elementIdentifier", &name);
        tes_cbor_item_in(&ic, "elementValue", &value);
        if (tes_cbor_cur_error(&ic) != TES_OK) {
            tes_cbor_doc_free(&it);
            return tes_err_set(TES_ERR_MDOC_ITEM, "credential item lacks elementIdentifier");
        }
        held *x = &h[(*n)++];
        *x = (held){.node = node, .name = name};
        x->age = age_nn(x->name);
        x->value = tes_cbor_is(&it, value, TES_CBOR_TRUE);
        tes_cbor_doc_free(&it);
    }
    return TES_OK;
}

/* IssuerNameSpaces = {+ NameSpace => [+ IssuerSignedItemBytes]}: the number of items held. */
static tes_err count_held(const tes_cbor_doc *d, uint32_t name_spaces, size_t *total)
{
    *total = 0;
    if (name_spaces == TES_CBOR_NONE)
        return TES_OK;
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, d, name_spaces);
    tes_cbor_enter_map(&c);
    while (tes_cbor_more(&c)) {
        tes_bytes ns;
        tes_cbor_next_text(&c, &ns);
        tes_cbor_enter_array(&c);
        *total += tes_cbor_items(&c);
        tes_cbor_exit_array(&c);
    }
    if (tes_cbor_cur_error(&c) != TES_OK)
        return tes_err_set(TES_ERR_MDOC_STRUCTURE, "credential nameSpaces malformed");
    return TES_OK;
}

/* Marks the item answering a request for `name`; false when none does.
 * age_over_NN not held exactly: the nearest NN above that is true, else the
 * nearest NN below that is false (18013-5 §7.2.5). */
static bool choose(held *h, size_t n, tes_bytes name)
{
    for (size_t i = 0; i < n; i++)
        if (tes_bytes_eq(h[i].name, name)) {
            h[i].chosen = true;
            return true;
        }
    int nn = age_nn(name);
    if (nn < 0)
        return false;
    held *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (h[i].age > nn && h[i].value && (best == NULL || h[i].age < best->age))
            best = &h[i];
    if (best == NULL)
        for (size_t i = 0; i < n; i++)
            if (h[i].age >= 0 && h[i].age < nn && !h[i].value &&
                (best == NULL || h[i].age > best->age))
                best = &h[i];
    if (best)
        best->chosen = true;
    return best != NULL;
}

/* Checks the device-signed elements: bounded, names non-empty, each value one
 * CBOR item, no (ns, name) twice. */
static tes_err check_device_elems(const tes_mdoc_present_params *p)
{
    size_t n = p->n_device_elems;
    if (n == 0)
        return TES_OK;
    if (p->device_elems == NULL || n > TES_MDOC_MAX_DEVICE_ELEMS)
        return tes_err_set(TES_ERR_ARG, "device-signed elements: 1 to %d",
                           TES_MDOC_MAX_DEVICE_ELEMS);
    for (size_t i = 0; i < n; i++) {
        const tes_mdoc_device_elem *x = &p->device_elems[i];
        tes_cbor_doc d;
        if (x->ns == NULL || x->name == NULL || !x->ns[0] || !x->name[0] ||
            x->value.len == 0 || tes_cbor_parse(x->value, NULL, &d) != TES_OK)
            return tes_err_set(TES_ERR_ARG, "device-signed element %zu: needs a namespace, a "
                                            "name and one CBOR value", i);
        tes_cbor_doc_free(&d);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->device_elems[j].ns, x->ns) == 0 &&
                strcmp(p->device_elems[j].name, x->name) == 0)
                return tes_err_set(TES_ERR_ARG, "device-signed element %s/%s given twice", x->ns,
                                   x->name);
    }
    return TES_OK;
}

/* DeviceNameSpacesBytes = #6.24(bstr .cbor DeviceNameSpaces),
 * DeviceNameSpaces = {* NameSpace => {+ DataElementIdentifier => DataElementValue}},
 * canonical (maps sorted), into out. */
static tes_err device_ns_bytes(const tes_mdoc_present_params *p, tes_buf *out)
{
    tes_buf inner = {0};
    tes_cbor_enc en = {.out = &inner};
    size_t n = p->n_device_elems, n_ns = 0;
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(p->device_elems[j].ns, p->device_elems[i].ns) != 0;
        n_ns += first;
    }
    tes_cbor_enc_map(&en, n_ns);
    for (size_t i = 0; i < n; i++) {
        const char *ns = p->device_elems[i].ns;
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(p->device_elems[j].ns, ns) != 0;
        if (!first)
            continue;
        size_t count = 0;
        for (size_t j = i; j < n; j++)
            count += strcmp(p->device_elems[j].ns, ns) == 0;
        tes_cbor_enc_cstr(&en, ns);
        size_t m = tes_cbor_enc_pos(&en);
        tes_cbor_enc_map(&en, count);
        for (size_t j = i; j < n; j++)
            if (strcmp(p->device_elems[j].ns, ns) == 0) {
                tes_cbor_enc_cstr(&en, p->device_elems[j].name);
                tes_cbor_enc_raw(&en, p->device_elems[j].value);
            }
        tes_cbor_enc_sort_map(&en, m);
    }
    tes_cbor_enc_sort_map(&en, 0);
    tes_err e = tes_cbor_enc_finish(&en);
    if (e == TES_OK) {
        tes_cbor_enc oe = {.out = out};
        tes_cbor_enc_tag(&oe, 24);
        tes_cbor_enc_bytes(&oe, inner.ptr, inner.len);
        e = tes_cbor_enc_finish(&oe);
    }
    tes_buf_free(&inner);
    return e;
}

/* Presents the credential; `flaws` (mdoc_internal.h, "Test hooks") is read only in
 * the test build: elsewhere every MDOC_FLAW() is false and the flaws are dead code. */
static tes_err present(const tes_mdoc_present_params *p, unsigned flaws, tes_buf *out,
                       size_t *missing)
{
    (void)flaws;
    if (p == NULL ||
        (p->device == NULL &&
         (p->reader_key == NULL || (p->device_key == NULL && p->device_ecdh == NULL))))
        return tes_err_set(TES_ERR_ARG,
                           "presenting needs a device signer, or a device key and the reader's "
                           "ephemeral key for MAC");
    if (missing)
        *missing = 0;
    tes_err e = check_device_elems(p);
    if (e != TES_OK)
        return e;
    mdoc_cred c;
    e = mdoc_cred_load(p->mdoc, &c);
    if (e != TES_OK)
        return e;
    const tes_cbor_doc *d = &c.doc;
    size_t total;
    e = count_held(d, c.name_spaces, &total);
    if (e != TES_OK) {
        tes_cbor_doc_free(&c.doc);
        return e;
    }
    held *h = calloc(total ? total : 1, sizeof(*h));
    tes_buf resp = {0}, dab = {0}, auth = {0}, dns = {0};
    if (h == NULL) {
        tes_cbor_doc_free(&c.doc);
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    /* the response */
    tes_cbor_enc en = {.out = &resp};
    tes_cbor_enc_map(&en, 3);
    tes_cbor_enc_cstr(&en, "version");
    tes_cbor_enc_cstr(&en, "1.0");
    tes_cbor_enc_cstr(&en, "documents");
    tes_cbor_enc_array(&en, 1);
    size_t docm = tes_cbor_enc_pos(&en);
    tes_cbor_enc_map(&en, MDOC_FLAW(flaws, MDOC_FLAW_NO_DEVICE_SIGNED) ? 2 : 3);
    tes_cbor_enc_cstr(&en, "docType");
    tes_cbor_enc_text(&en, (const char *)c.doctype.ptr, c.doctype.len);
    tes_cbor_enc_cstr(&en, "issuerSigned");
    tes_cbor_enc_map(&en, 2);
    tes_cbor_enc_cstr(&en, "nameSpaces");
    /* count namespaces with at least one chosen item, choose per namespace */
    size_t n_missing = 0;
    bool *answered = calloc(p->n_elems ? p->n_elems : 1, sizeof(bool));
    size_t used_ns = 0;
    if (answered == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    size_t base = 0;
    tes_cbor_cur nc;
    if (e == TES_OK && c.name_spaces != TES_CBOR_NONE) {
        tes_cbor_cur_init(&nc, d, c.name_spaces);
        tes_cbor_enter_map(&nc);
        while (e == TES_OK && tes_cbor_more(&nc)) {
            tes_bytes ns;
            uint32_t arr;
            size_t n;
            tes_cbor_next_text(&nc, &ns);
            tes_cbor_next_item(&nc, &arr);
            e = read_items(d, arr, h + base, &n);
            bool any = false;
            for (size_t r = 0; r < p->n_elems && e == TES_OK; r++)
                if (tes_bytes_eq(p->elems[r].ns, ns) && choose(h + base, n, p->elems[r].name)) {
                    answered[r] = true;
                    any = true;
                }
            used_ns += any;
            base += n;
        }
    }
    for (size_t r = 0; r < p->n_elems && answered; r++)
        n_missing += !answered[r];
    free(answered);
    size_t nsm = tes_cbor_enc_pos(&en);
    tes_cbor_enc_map(&en, used_ns);
    base = 0;
    if (e == TES_OK && c.name_spaces != TES_CBOR_NONE) {
        tes_cbor_cur_init(&nc, d, c.name_spaces);
        tes_cbor_enter_map(&nc);
        while (tes_cbor_more(&nc)) {
            uint32_t ns, arr;
            tes_cbor_next_item(&nc, &ns);
            tes_cbor_next_item(&nc, &arr);
            size_t n = (size_t)tes_cbor_count(d, arr), chosen = 0;
            for (size_t i = 0; i < n; i++)
                chosen += h[base + i].chosen;
            if (chosen > 0) {
                tes_cbor_enc_raw(&en, tes_cbor_span(d, ns));
                tes_cbor_enc_array(&en, chosen);
                for (size_t i = 0; i < n; i++)
                    if (h[base + i].chosen)
                        tes_cbor_enc_raw(&en, tes_cbor_span(d, h[base + i].node));
            }
            base += n;
        }
    }
    tes_cbor_enc_sort_map(&en, nsm);
    tes_cbor_enc_cstr(&en, "issuerAuth");
    tes_cbor_enc_raw(&en, tes_cbor_span(d, c.issuer_auth));

    /* device authentication over DeviceAuthenticationBytes, with the device-signed elements */
    static const uint8_t empty_ns[] = {0xd8, 0x18, 0x41, 0xa0}; /* 24(<<{}>>) */
    /* 24(<<{"org.example": {"extra": "x"}}>>), for MDOC_FLAW_DEVICE_NS */
    static const uint8_t extra_ns[] = {0xd8, 0x18, 0x56, 0xa1, 0x6b, 'o', 'r', 'g', '.', 'e', 'x',
                                       'a', 'm', 'p', 'l', 'e', 0xa1, 0x65, 'e', 'x', 't', 'r',
                                       'a', 0x61, 'x'};
    tes_bytes dev_ns = MDOC_FLAW(flaws, MDOC_FLAW_DEVICE_NS)
                           ? TES_BYTES(extra_ns, sizeof(extra_ns))
                           : TES_BYTES(empty_ns, sizeof(empty_ns));
    if (e == TES_OK && p->n_device_elems > 0 && !MDOC_FLAW(flaws, MDOC_FLAW_DEVICE_NS)) {
        e = device_ns_bytes(p, &dns);
        dev_ns = tes_buf_bytes(&dns);
    }
    mdoc_device_auth_bytes(&dab, p->transcript, c.doctype, dev_ns);
    tes_cbor_enc ae = {.out = &auth};
    bool mac = p->reader_key != NULL;
    if (e == TES_OK && dab.failed)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (e == TES_OK && mac) {
        uint8_t emac[32];
        if (p->device_ecdh) {
            uint8_t z[TES_MAX_COORD];
            size_t zl = 0;
            e = p->device_ecdh(p->device_ecdh_ctx, p->reader_key, z, &zl);
            if (e == TES_OK)
                e = tes_mdoc_derive_key_from_secret(TES_BYTES(z, zl), p->transcript, TES_ISO_EMAC_KEY,
                                                    emac);
            tes_wipe(z, sizeof(z));
        } else {
            e = tes_mdoc_derive_key(p->device_key, p->reader_key, p->transcript, TES_ISO_EMAC_KEY, emac);
        }
        if (e == TES_OK)
            tes_cose_mac0_write(&ae, TES_BYTES(emac, 32), tes_buf_bytes(&dab),
                                &(tes_cose_opts){.flags = TES_COSE_DETACHED});
        tes_wipe(emac, sizeof(emac));
    } else if (e == TES_OK) {
        tes_cose_sign1_write(&ae, p->device, tes_buf_bytes(&dab),
                             &(tes_cose_opts){.flags = TES_COSE_DETACHED});
    }
    if (e == TES_OK)
        e = tes_cbor_enc_finish(&ae);
    if (e == TES_OK && MDOC_FLAW(flaws, MDOC_FLAW_DEVICE_SIG))
        auth.ptr[auth.len - 1] ^= 0x01; /* the signature or tag is the last item */
    if (e != TES_OK && en.err == TES_OK)
        en.err = e; /* nothing more to encode: a half-built response would only fail again
                       and record another failure's message over this one */
    if (!MDOC_FLAW(flaws, MDOC_FLAW_NO_DEVICE_SIGNED)) {
        tes_cbor_enc_cstr(&en, "deviceSigned");
        tes_cbor_enc_map(&en, 2);
        tes_cbor_enc_cstr(&en, "nameSpaces");
        tes_cbor_enc_raw(&en, dev_ns);
        tes_cbor_enc_cstr(&en, "deviceAuth");
        tes_cbor_enc_map(&en, 1);
        tes_cbor_enc_cstr(&en, mac ? "deviceMac" : "deviceSignature");
        tes_cbor_enc_raw(&en, tes_buf_bytes(&auth));
    }
    tes_cbor_enc_sort_map(&en, docm);
    tes_cbor_enc_cstr(&en, "status");
    tes_cbor_enc_uint(&en, 0);
    tes_cbor_enc_sort_map(&en, 0);
    if (e == TES_OK)
        e = tes_cbor_enc_finish(&en);
    if (e == TES_OK) {
        tes_buf_append(out, resp.ptr, resp.len);
        if (out->failed)
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    if (missing)
        *missing = n_missing;
    free(h);
    tes_buf_free(&resp);
    tes_buf_free(&dab);
    tes_buf_free(&auth);
    dns.secret = true; /* the device-signed values (a pseudonym) */
    tes_buf_free(&dns);
    tes_cbor_doc_free(&c.doc);
    return e;
}

tes_err tes_mdoc_present(const tes_mdoc_present_params *p, tes_buf *out, size_t *missing)
{
    return present(p, 0, out, missing);
}

#ifdef TES_TEST_HOOKS
tes_err mdoc_present_flawed(const tes_mdoc_present_params *p, unsigned flaws, tes_buf *out,
                            size_t *missing)
{
    return present(p, flaws, out, missing);
}
#endif
