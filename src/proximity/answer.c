/*
 * Answering a request from a stored credential (tes_holder_answer_request):
 * the holder's one sequence of PIN, copy, device signature or MAC, and log,
 * used by tes_holder_serve and by the wallet's file-based presentation.
 * The steps and what each may cost are in tessera/proximity.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proximity_internal.h"

/* ------------------------------------------------------------ the credential's elements */

#define CRED_MAX_ELEMENTS 4096
static const tes_cbor_limits cred_limits = {.max_input = 16u << 20, .max_depth = 24};

/* Reads (namespace, elementIdentifier) of every IssuerSignedItem of a stored
 * credential ({"docType", "issuerSigned"} or a bare IssuerSigned). */
tes_err prox_cred_elements_read(tes_bytes mdoc, prox_cred_elems *out)
{
    *out = (prox_cred_elems){0};
    tes_cbor_doc d;
    tes_err e = tes_cbor_parse(mdoc, &cred_limits, &d);
    if (e != TES_OK)
        return e;
    uint32_t is = tes_cbor_map_get_text(&d, 0, "issuerSigned");
    if (is == TES_CBOR_NONE)
        is = 0;
    uint32_t nss = tes_cbor_map_get_text(&d, is, "nameSpaces");
    size_t total = 0;
    if (!tes_cbor_is(&d, nss, TES_CBOR_MAP)) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "stored credential has no issuerSigned nameSpaces");
        goto out;
    }
    for (uint32_t k = tes_cbor_child(&d, nss); k != TES_CBOR_NONE && k < d.nodes[nss].next;) {
        uint32_t arr = tes_cbor_next(&d, k);
        if (!tes_cbor_is(&d, k, TES_CBOR_TEXT) || !tes_cbor_is(&d, arr, TES_CBOR_ARRAY)) {
            e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "stored credential nameSpaces malformed");
            goto out;
        }
        total += tes_cbor_count(&d, arr);
        k = tes_cbor_next(&d, arr);
    }
    if (total > CRED_MAX_ELEMENTS) {
        e = tes_err_set(TES_ERR_MDOC_STRUCTURE, "stored credential has more than %d elements",
                        CRED_MAX_ELEMENTS);
        goto out;
    }
    out->e = calloc(total ? total : 1, sizeof(*out->e));
    if (out->e == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint32_t k = tes_cbor_child(&d, nss); k != TES_CBOR_NONE && k < d.nodes[nss].next;) {
        uint32_t arr = tes_cbor_next(&d, k);
        tes_bytes ns = TES_BYTES(d.nodes[k].data, d.nodes[k].len);
        for (uint32_t c = tes_cbor_child(&d, arr); c != TES_CBOR_NONE && c < d.nodes[arr].next;
             c = tes_cbor_next(&d, c)) {
            tes_bytes inner;
            tes_cbor_doc it;
            if (!tes_cbor_tag24_content(&d, c, &inner) ||
                tes_cbor_parse(inner, &cred_limits, &it) != TES_OK) {
                e = tes_err_set(TES_ERR_MDOC_ITEM, "stored credential item is not "
                                                   "IssuerSignedItemBytes");
                goto out;
            }
            uint32_t id = tes_cbor_map_get_text(&it, 0, "elementIdentifier");
            uint32_t val = tes_cbor_map_get_text(&it, 0, "elementValue");
            if (!tes_cbor_is(&it, id, TES_CBOR_TEXT) || val == TES_CBOR_NONE) {
                tes_cbor_doc_free(&it);
                e = tes_err_set(TES_ERR_MDOC_ITEM, "stored credential item lacks "
                                                   "elementIdentifier or elementValue");
                goto out;
            }
            /* the text points into `inner`, i.e. into the credential bytes */
            prox_cred_elem *x = &out->e[out->n++];
            x->ns = ns;
            x->name = TES_BYTES(it.nodes[id].data, it.nodes[id].len);
            x->age = prox_age_over_nn(x->name);
            x->value = tes_cbor_is(&it, val, TES_CBOR_TRUE);
            tes_cbor_doc_free(&it);
        }
        k = tes_cbor_next(&d, arr);
    }
out:
    tes_cbor_doc_free(&d);
    if (e != TES_OK) {
        free(out->e);
        *out = (prox_cred_elems){0};
    }
    return e;
}

long prox_cred_answer(const prox_cred_elems *c, tes_bytes ns, tes_bytes name)
{
    long best = -1;
    for (size_t i = 0; i < c->n; i++)
        if (tes_bytes_eq(c->e[i].ns, ns) && tes_bytes_eq(c->e[i].name, name))
            return (long)i;
    int nn = prox_age_over_nn(name);
    if (nn < 0)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        const prox_cred_elem *x = &c->e[i];
        if (tes_bytes_eq(x->ns, ns) && x->age > nn && x->value &&
            (best < 0 || x->age < c->e[best].age))
            best = (long)i;
    }
    if (best >= 0)
        return best;
    for (size_t i = 0; i < c->n; i++) {
        const prox_cred_elem *x = &c->e[i];
        if (tes_bytes_eq(x->ns, ns) && x->age >= 0 && x->age < nn && !x->value &&
            (best < 0 || x->age > c->e[best].age))
            best = (long)i;
    }
    return best;
}

void prox_elems_list(tes_buf *b, const tes_mdoc_req_elem *el, size_t n)
{
    tes_buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            tes_buf_append(b, ",", 1);
        tes_buf_append(b, el[i].ns.ptr, el[i].ns.len);
        tes_buf_append(b, "/", 1);
        tes_buf_append(b, el[i].name.ptr, el[i].name.len);
        if (el[i].intent_to_retain)
            tes_buf_append(b, "*", 1);
    }
    tes_buf_append(b, "", 1);
    if (b->failed)
        tes_buf_reset(b);
    else
        b->len--; /* keep the NUL outside len */
}

/* ------------------------------------------------------------ the sequence */

typedef struct se_ecdh_ctx {
    tes_se *se;
    const char *id;
    const char *pin;
} se_ecdh_ctx;

static tes_err se_ecdh(void *ctx, const tes_key *peer, uint8_t out[TES_MAX_COORD], size_t *len)
{
    const se_ecdh_ctx *c = ctx;
    return c->se->ops->key_agreement(c->se, c->id, c->pin, peer, out, len);
}

void tes_holder_answer_free(tes_holder_answer *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n_disclosed; i++) {
        free(a->disclosed[i].ns);
        free(a->disclosed[i].name);
    }
    free(a->disclosed);
    *a = (tes_holder_answer){0};
}

/* Which elements of copy `mdoc` answer the request: each released element
 * once, in the credential's order; counts answered and missing requests. */
static tes_err choose(const tes_holder_answer_params *p, tes_bytes mdoc, tes_holder_answer *out)
{
    prox_cred_elems held;
    tes_err e = prox_cred_elements_read(mdoc, &held);
    if (e != TES_OK)
        return e;
    tes_holder_answer_free(out);
    signed char *pick = calloc(held.n ? held.n : 1, 1); /* 0 no, 1 yes, 2 yes and retained */
    if (pick == NULL) {
        free(held.e);
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    for (size_t r = 0; r < p->n_elems; r++) {
        long i = prox_cred_answer(&held, p->elems[r].ns, p->elems[r].name);
        if (i < 0) {
            out->missing++;
            continue;
        }
        out->answered++;
        if (pick[i] < 2)
            pick[i] = p->elems[r].intent_to_retain ? 2 : 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < held.n; i++)
        n += pick[i] != 0;
    out->disclosed = calloc(n ? n : 1, sizeof(*out->disclosed));
    if (out->disclosed == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    for (size_t i = 0; e == TES_OK && i < held.n; i++) {
        if (!pick[i])
            continue;
        tes_holder_disclosed *d = &out->disclosed[out->n_disclosed++];
        d->ns = tes_bytes_cstr(held.e[i].ns);
        d->name = tes_bytes_cstr(held.e[i].name);
        d->intent_to_retain = pick[i] == 2;
        if (d->ns == NULL || d->name == NULL)
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    free(pick);
    free(held.e);
    return e;
}

/* "ns/elem[*],..." of what was disclosed (the device-signed elements too),
 * NUL-terminated outside len. */
static tes_err disclosed_list(tes_buf *b, const tes_holder_answer *a,
                              const tes_holder_answer_params *p)
{
    size_t n = a->n_disclosed + p->n_device_elems;
    tes_mdoc_req_elem *el = calloc(n ? n : 1, sizeof(*el));
    if (el == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < a->n_disclosed; i++)
        el[i] = (tes_mdoc_req_elem){TES_BYTES(a->disclosed[i].ns, strlen(a->disclosed[i].ns)),
                                    TES_BYTES(a->disclosed[i].name, strlen(a->disclosed[i].name)),
                                    a->disclosed[i].intent_to_retain};
    for (size_t i = 0; i < p->n_device_elems; i++) {
        const tes_mdoc_device_elem *d = &p->device_elems[i];
        el[a->n_disclosed + i] = (tes_mdoc_req_elem){TES_BYTES(d->ns, strlen(d->ns)),
                                                     TES_BYTES(d->name, strlen(d->name)), false};
    }
    prox_elems_list(b, el, n);
    free(el);
    return b->len || n == 0 ? TES_OK : tes_err_set(TES_ERR_NOMEM, "out of memory");
}

static tes_err log_write(const tes_holder_answer_params *p, const tes_buf *elems,
                         const char *outcome)
{
    static char none[] = "";
    const tes_store_log_entry le = {
        .at = p->now,
        .relying_party = (char *)(p->relying_party ? p->relying_party : "unknown reader"),
        .elements = elems->len ? (char *)elems->ptr : none,
        .cred_id = p->cred_id,
        .outcome = (char *)outcome,
    };
    return tes_store_log_add(p->store, &le);
}

/* Logs the failure e with the requested elements; returns e with its
 * message intact (a log that cannot be written does not hide the failure). */
static tes_err failed(const tes_holder_answer_params *p, tes_err e)
{
    char msg[512], outcome[96];
    snprintf(msg, sizeof(msg), "%s", tes_err_message_for(e));
    snprintf(outcome, sizeof(outcome), "failed: %s", tes_err_name(e));
    tes_buf l = {0};
    prox_elems_list(&l, p->elems, p->n_elems);
    (void)log_write(p, &l, outcome);
    tes_buf_free(&l);
    return tes_err_set(e, "%s", msg);
}

/* The copy's key may answer: unused, the PIN given when it needs one, P-256. */
static tes_err key_check(const tes_holder_answer_params *p, const char *key_id, const char *pin)
{
    tes_se_key_info ki;
    tes_err e = p->se->ops->key_info(p->se, key_id, &ki);
    if (e != TES_OK)
        return e;
    if (ki.used)
        return tes_err_set(TES_ERR_KEY_USED, "the single-use key of this copy was already used");
    if (ki.user_verification && pin == NULL)
        return tes_err_set(TES_ERR_PIN_REQUIRED, "the credential's key needs the PIN");
    if (ki.curve != TES_CURVE_P256)
        return tes_err_set(TES_ERR_UNSUPPORTED, "the credential's key is not on P-256");
    return TES_OK;
}

static tes_err answer(const tes_holder_answer_params *p, tes_buf *response, tes_holder_answer *out)
{
    const char *pin = p->pin && p->pin[0] ? p->pin : NULL;
    bool mac = p->auth == TES_DEVICE_AUTH_MAC;
    if (mac && (!(tes_se_caps(p->se) & TES_SE_CAP_ECDH_EXPORT) || p->se->ops->key_agreement == NULL))
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "device MAC needs the device key's ECDH result, and the %s secure "
                           "element does not let it leave (no ecdh-export capability); present "
                           "with a device signature instead",
                           p->se->ops->name);
    /* 1. what the copy the store would hand out answers: nothing, no copy */
    tes_store_copy copy = {0};
    tes_err e = tes_store_peek_copy(p->store, p->cred_id, &copy);
    if (e == TES_OK)
        e = choose(p, tes_buf_bytes(&copy.mdoc), out);
    tes_store_copy_free(&copy);
    if (e != TES_OK)
        return e;
    if (out->n_disclosed == 0 && p->n_device_elems == 0)
        return tes_err_set(TES_ERR_ELEMENT_NOT_ISSUED,
                           "none of the %zu requested elements is in credential %lld; nothing "
                           "disclosed, no copy spent",
                           p->n_elems, (long long)p->cred_id);
    /* 2. the PIN before a copy is taken */
    if (pin != NULL) {
        e = p->se->ops->pin_verify(p->se, pin);
        if (e == TES_ERR_PIN_NOT_SET)
            pin = NULL, e = TES_OK; /* no PIN on this SE: no key can need one */
        if (e != TES_OK)
            return e;
    }
    /* 3. the copy (another process may have taken the peeked one: choose again) */
    if ((e = tes_store_take_copy(p->store, p->cred_id, &copy)) != TES_OK)
        return e;
    e = choose(p, tes_buf_bytes(&copy.mdoc), out);
    if (e == TES_OK && out->n_disclosed == 0 && p->n_device_elems == 0)
        e = tes_err_set(TES_ERR_ELEMENT_NOT_ISSUED,
                        "the copy taken of credential %lld holds none of the %zu requested "
                        "elements",
                        (long long)p->cred_id, p->n_elems);
    /* 4. the key, and the response signed or MACed inside the SE */
    if (e == TES_OK)
        e = key_check(p, copy.key_id, pin);
    se_ecdh_ctx ec = {p->se, copy.key_id, pin};
    tes_se_signer_ctx sc = {p->se, copy.key_id, pin};
    tes_signer signer = {tes_se_cose_sign, &sc, TES_COSE_ES256};
    tes_mdoc_present_params pp = {.mdoc = tes_buf_bytes(&copy.mdoc),
                                  .elems = p->elems,
                                  .n_elems = p->n_elems,
                                  .device_elems = p->device_elems,
                                  .n_device_elems = p->n_device_elems,
                                  .transcript = p->transcript,
                                  .reader_key = mac ? p->reader_key : NULL,
                                  .device = mac ? NULL : &signer,
                                  .device_ecdh = mac ? se_ecdh : NULL,
                                  .device_ecdh_ctx = mac ? &ec : NULL};
    if (e == TES_OK)
        e = tes_mdoc_present(&pp, response, NULL);
    tes_store_copy_free(&copy);
    if (e != TES_OK)
        return e;
    /* 5. logged before the response leaves: the log never misses a disclosure */
    tes_buf l = {0};
    e = disclosed_list(&l, out, p);
    if (e == TES_OK)
        e = log_write(p, &l, "disclosed");
    tes_buf_free(&l);
    return e;
}

tes_err tes_holder_answer_request(const tes_holder_answer_params *p, tes_buf *response,
                                  tes_holder_answer *out)
{
    if (out != NULL)
        *out = (tes_holder_answer){0};
    if (p == NULL || response == NULL || out == NULL || p->se == NULL || p->store == NULL ||
        (p->n_elems == 0 && p->n_device_elems == 0) || (p->n_elems > 0 && p->elems == NULL) ||
        (p->auth != TES_DEVICE_AUTH_SIGNATURE && p->auth != TES_DEVICE_AUTH_MAC) ||
        (p->auth == TES_DEVICE_AUTH_MAC && p->reader_key == NULL))
        return tes_err_set(TES_ERR_ARG, "answering: needs a secure element, a store, at least "
                                        "one element, and for MAC the reader's key");
    tes_buf_reset(response);
    tes_err e = answer(p, response, out);
    if (e != TES_OK) {
        response->secret = true; /* personal data that was never released */
        tes_buf_free(response);
        tes_holder_answer_free(out);
        return failed(p, e);
    }
    return TES_OK;
}
