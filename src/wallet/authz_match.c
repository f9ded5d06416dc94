/* The wallet's credentials as DCQL candidates (tessera/oid4vp.h) for an
 * OpenID4VP login: each credential's issuer-signed elements with their
 * values (strings, integers, booleans), and the pseudonym element when its
 * MSO lets the device sign TES_NS_PSEUDONYM. Read from the copy the store
 * would hand out (peeked: nothing is taken). */
#include <stdlib.h>
#include <string.h>

#include "tessera/cbor.h"
#include "tessera/mdoc.h"

#include "authz_internal.h"

/* The DCQL value of an encoded CBOR element value, when it is a text, an
 * integer or a boolean; false otherwise (the value is then not given). */
static bool dcql_value(tes_bytes cbor, tes_dcql_value *v, char **str)
{
    tes_cbor_doc d;
    if (tes_cbor_parse(cbor, NULL, &d) != TES_OK)
        return false;
    const tes_cbor_node *n = &d.nodes[0];
    bool ok = true;
    if (n->type == TES_CBOR_TEXT && memchr(n->data, '\0', n->len) == NULL) {
        *str = tes_bytes_cstr(TES_BYTES(n->data, n->len));
        *v = (tes_dcql_value){.type = TES_DCQL_VALUE_STRING, .str = *str};
        ok = *str != NULL;
    } else if (n->type == TES_CBOR_UINT && n->val <= INT64_MAX) {
        *v = (tes_dcql_value){.type = TES_DCQL_VALUE_INT, .i = (int64_t)n->val};
    } else if (n->type == TES_CBOR_NEGINT && n->val <= INT64_MAX) {
        *v = (tes_dcql_value){.type = TES_DCQL_VALUE_INT, .i = -1 - (int64_t)n->val};
    } else if (n->type == TES_CBOR_TRUE || n->type == TES_CBOR_FALSE) {
        *v = (tes_dcql_value){.type = TES_DCQL_VALUE_BOOL, .b = n->type == TES_CBOR_TRUE};
    } else {
        ok = false;
    }
    tes_cbor_doc_free(&d);
    return ok;
}

/* One credential as a candidate; false when it cannot be shown now (no copy
 * left, outside its validity, damaged): it is then left out. */
static bool one_candidate(authz_cands *c, tes_store *store, const tes_store_cred *cred,
                          int64_t now)
{
    if (now < cred->valid_from || now >= cred->valid_until)
        return false;
    tes_store_copy copy = {0};
    tes_mdoc_cred_info info = {0};
    authz_cand *x = &c->items[c->n];
    *x = (authz_cand){.cred_id = cred->id};
    bool ok = tes_store_peek_copy(store, cred->id, &copy) == TES_OK &&
              tes_mdoc_cred_info_read(tes_buf_bytes(&copy.mdoc), &info) == TES_OK &&
              tes_mdoc_cred_elements(tes_buf_bytes(&copy.mdoc), &x->claims) == TES_OK;
    size_t n = x->claims.n + 1;
    if (ok) {
        x->doctype = strdup(info.doctype);
        x->el = calloc(n, sizeof *x->el);
        x->vals = calloc(n, sizeof *x->vals);
        x->strs = calloc(n, sizeof *x->strs);
        ok = x->doctype && x->el && x->vals && x->strs;
    }
    for (size_t i = 0; ok && i < x->claims.n; i++) {
        const tes_mdoc_claim *m = &x->claims.items[i];
        x->el[i] = (tes_dcql_element){.ns = m->ns, .name = m->name};
        if (dcql_value(tes_buf_bytes(&m->value), &x->vals[i], &x->strs[i]))
            x->el[i].value = &x->vals[i];
    }
    x->n_el = ok ? x->claims.n : 0;
    if (ok && tes_mdoc_cred_info_device_ns(&info, TES_NS_PSEUDONYM))
        x->el[x->n_el++] = (tes_dcql_element){.ns = TES_NS_PSEUDONYM, .name = TES_ELEM_PSEUDONYM};
    tes_mdoc_cred_info_free(&info);
    tes_store_copy_free(&copy);
    if (!ok) {
        authz_cand_free(x);
        return false;
    }
    c->cand[c->n] = (tes_dcql_candidate){.doctype = x->doctype, .n_elements = x->n_el,
                                         .elements = x->el};
    c->n++;
    return true;
}

void authz_cand_free(authz_cand *x)
{
    for (size_t i = 0; x->strs && i < x->claims.n; i++)
        free(x->strs[i]);
    free(x->strs);
    free(x->vals);
    free(x->el);
    free(x->doctype);
    tes_mdoc_claims_free(&x->claims);
    *x = (authz_cand){0};
}

void authz_cands_free(authz_cands *c)
{
    for (size_t i = 0; i < c->n; i++)
        authz_cand_free(&c->items[i]);
    free(c->items);
    free(c->cand);
    *c = (authz_cands){0};
}

tes_err authz_cands_load(tes_wallet *w, int64_t now, authz_cands *c)
{
    *c = (authz_cands){0};
    tes_store_cred *creds = NULL;
    size_t n = 0;
    tes_err e = tes_wallet_list(w, &creds, &n);
    if (e != TES_OK)
        return e;
    c->items = calloc(n ? n : 1, sizeof *c->items);
    c->cand = calloc(n ? n : 1, sizeof *c->cand);
    if (c->items == NULL || c->cand == NULL)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    /* newest first (the store lists by id): the matcher picks the first candidate that
     * satisfies the query, so the login uses the most recent credential that can be shown,
     * as the front desk does (src/proximity/holder.c, choose_credential) */
    for (size_t i = n; e == TES_OK && i-- > 0;)
        (void)one_candidate(c, tes_wallet_store(w), &creds[i], now);
    tes_store_creds_free(creds, n);
    if (e != TES_OK)
        authz_cands_free(c);
    return e;
}
