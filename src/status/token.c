/*
 * Status List Tokens in CWT form (draft-ietf-oauth-status-list §5.2): a
 * COSE_Sign1 with protected {1: alg, 16: "application/statuslist+cwt", 33: x5chain},
 * unprotected {} (tokens with the x5chain unprotected, as Tessera wrote them before,
 * verify too), over the CWT claims
 *   {2 sub: uri, 4 exp, 6 iat, 65533 status_list: {"lst": bstr, "bits": 2},
 *    65534 ttl}
 * written in deterministic key order, tag 18 on the outside.
 *
 * cose.h's writer only knows protected {1: alg}, so the Sign1 is written
 * here (same Sig_structure, the tes_signer signs it). Reading goes through
 * tes_cose_sign1_decode / tes_cose_sign1_verify, which take any protected map
 * with an alg; the typ is read from the exact protected bytes.
 *
 * Verification order: shape, typ, x5chain, chain (tes_trust_validate under
 * the document-signer profile), signature by the chain's leaf, the issuer
 * (the chain's root is the credential's IACA), claims, uri, expiry, and only
 * then inflation of the list: nothing unauthenticated is ever inflated.
 */
#include "status_internal.h"

#include <stdio.h>
#include <string.h>

#include "tessera/cbor.h"

/* Re-labels a malformed-input error of a lower layer as TES_ERR_STATUS_TOKEN,
 * keeping its message. Other codes pass through. */
static tes_err shape(tes_err e, const char *what)
{
    if (!tes_err_is_malformed(e) || e == TES_ERR_STATUS_TOKEN)
        return e;
    char msg[200];
    snprintf(msg, sizeof msg, "%s", tes_err_message());
    return tes_err_set(TES_ERR_STATUS_TOKEN, "status list token: %s: %s", what, msg);
}

/* ------------------------------------------------------------------ claims */

tes_err tes_status_claims_parse(tes_bytes payload, tes_status_claims *out)
{
    *out = (tes_status_claims){0};
    tes_cbor_limits lim = {.max_input = TES_STATUS_TOKEN_MAX, .max_depth = 8, .max_items = 256};
    tes_cbor_node nodes[48];
    tes_cbor_doc d;
    tes_err e = tes_cbor_parse_with(payload, &lim, nodes, 48, &d);
    if (e != TES_OK)
        return shape(e, "claims are not CBOR");
    e = TES_ERR_STATUS_TOKEN;
    int64_t v;
    uint32_t i, sl, k;
    const tes_cbor_node *n;
    if (!tes_cbor_is(&d, 0, TES_CBOR_MAP)) {
        tes_err_set(e, "status list token: claims are not a map");
        goto done;
    }
    i = tes_cbor_map_get_int(&d, 0, TES_CWT_SUB);
    if (i == TES_CBOR_NONE || !tes_cbor_is(&d, i, TES_CBOR_TEXT)) {
        tes_err_set(e, "status list token: sub (2) missing or not text");
        goto done;
    }
    n = tes_cbor_at(&d, i);
    if (n->len == 0 || n->len >= sizeof(((tes_status_token *)0)->uri) ||
        memchr(n->data, 0, n->len)) {
        tes_err_set(e, "status list token: sub (2) of %zu bytes is not a usable uri", n->len);
        goto done;
    }
    out->sub = TES_BYTES(n->data, n->len);

    i = tes_cbor_map_get_int(&d, 0, TES_CWT_IAT);
    if (i == TES_CBOR_NONE || !tes_cbor_get_int(&d, i, &out->iat) || out->iat < 0) {
        tes_err_set(e, "status list token: iat (6) missing or not a time");
        goto done;
    }
    i = tes_cbor_map_get_int(&d, 0, TES_CWT_EXP);
    if (i != TES_CBOR_NONE) {
        if (!tes_cbor_get_int(&d, i, &out->exp) || out->exp <= 0) {
            tes_err_set(e, "status list token: exp (4) is not a time");
            goto done;
        }
        out->has_exp = true;
    }
    i = tes_cbor_map_get_int(&d, 0, TES_CWT_TTL);
    if (i != TES_CBOR_NONE) {
        if (!tes_cbor_is(&d, i, TES_CBOR_UINT) || !tes_cbor_get_int(&d, i, &out->ttl)) {
            tes_err_set(e, "status list token: ttl (65534) is not a number of seconds");
            goto done;
        }
        out->has_ttl = true;
    }

    sl = tes_cbor_map_get_int(&d, 0, TES_CWT_STATUS_LIST);
    if (sl == TES_CBOR_NONE || !tes_cbor_is(&d, sl, TES_CBOR_MAP)) {
        tes_err_set(e, "status list token: status_list (65533) missing or not a map");
        goto done;
    }
    k = tes_cbor_map_get_text(&d, sl, "bits");
    if (k == TES_CBOR_NONE || !tes_cbor_is(&d, k, TES_CBOR_UINT) || !tes_cbor_get_int(&d, k, &v) ||
        (v != 1 && v != 2 && v != 4 && v != 8)) {
        tes_err_set(e, "status list token: status_list bits missing or not 1, 2, 4 or 8");
        goto done;
    }
    out->bits = (unsigned)v;
    k = tes_cbor_map_get_text(&d, sl, "lst");
    if (k == TES_CBOR_NONE || !tes_cbor_is(&d, k, TES_CBOR_BYTES)) {
        tes_err_set(e, "status list token: status_list lst missing or not a byte string");
        goto done;
    }
    n = tes_cbor_at(&d, k);
    out->lst = TES_BYTES(n->data, n->len);
    e = TES_OK;
done:
    tes_cbor_doc_free(&d);
    if (e != TES_OK)
        *out = (tes_status_claims){0};
    return e;
}

/* ------------------------------------------------------------------ build */

/* Protected header {1: alg, 16: typ, 33: x5chain}, deterministic order (1 < 16 < 33).
 * The chain is signed with the list: verifiers that look for it only among the
 * protected parameters (@owf/mdoc, tests/interop step G) find it, and those that read
 * either bucket (RFC 9360 allows both; tes_cose_sign1_decode does) too. */
static void write_protected(tes_cbor_enc *e, int64_t alg, const tes_bytes *chain,
                            size_t chain_len)
{
    tes_cbor_enc_map(e, 3);
    tes_cbor_enc_int(e, TES_COSE_HDR_ALG);
    tes_cbor_enc_int(e, alg);
    tes_cbor_enc_int(e, 16);
    tes_cbor_enc_cstr(e, TES_STATUS_TYP);
    tes_cbor_enc_int(e, TES_COSE_HDR_X5CHAIN);
    if (chain_len == 1) {
        tes_cbor_enc_bytes(e, chain[0].ptr, chain[0].len);
        return;
    }
    tes_cbor_enc_array(e, chain_len);
    for (size_t j = 0; j < chain_len; j++)
        tes_cbor_enc_bytes(e, chain[j].ptr, chain[j].len);
}

static void write_claims(tes_cbor_enc *e, const char *uri, int64_t iat, int64_t exp, int64_t ttl,
                         tes_bytes lst)
{
    tes_cbor_enc_map(e, 3 + (exp > 0) + (ttl > 0));
    tes_cbor_enc_uint(e, TES_CWT_SUB);
    tes_cbor_enc_cstr(e, uri);
    if (exp > 0) {
        tes_cbor_enc_uint(e, TES_CWT_EXP);
        tes_cbor_enc_int(e, exp);
    }
    tes_cbor_enc_uint(e, TES_CWT_IAT);
    tes_cbor_enc_int(e, iat);
    tes_cbor_enc_uint(e, TES_CWT_STATUS_LIST);
    tes_cbor_enc_map(e, 2); /* "lst" (0x63...) sorts before "bits" (0x64...) */
    tes_cbor_enc_cstr(e, "lst");
    tes_cbor_enc_bytes(e, lst.ptr, lst.len);
    tes_cbor_enc_cstr(e, "bits");
    tes_cbor_enc_uint(e, 2);
    if (ttl > 0) {
        tes_cbor_enc_uint(e, TES_CWT_TTL);
        tes_cbor_enc_int(e, ttl);
    }
}

tes_err tes_status_token_build(const tes_status_list *l, const char *uri, int64_t iat, int64_t exp,
                               int64_t ttl, const tes_signer *signer, const tes_bytes *chain,
                               size_t chain_len, tes_buf *out)
{
    if (l == NULL || l->bits == NULL || uri == NULL || signer == NULL || signer->sign == NULL ||
        out == NULL || chain == NULL)
        return tes_err_set(TES_ERR_ARG, "status token build: bad arguments");
    size_t ulen = strlen(uri);
    if (ulen == 0 || ulen >= sizeof(((tes_status_token *)0)->uri))
        return tes_err_set(TES_ERR_ARG, "status token build: uri of %zu bytes", ulen);
    if (iat < 0 || exp < 0 || ttl < 0 || (exp > 0 && exp <= iat))
        return tes_err_set(TES_ERR_ARG, "status token build: iat %lld, exp %lld, ttl %lld",
                           (long long)iat, (long long)exp, (long long)ttl);
    if (chain_len == 0 || chain_len > TES_COSE_MAX_CHAIN)
        return tes_err_set(TES_ERR_ARG,
                           "status token build: x5chain of %zu certificates "
                           "(1 to %d)",
                           chain_len, TES_COSE_MAX_CHAIN);
    for (size_t j = 0; j < chain_len; j++)
        if (chain[j].ptr == NULL || chain[j].len == 0)
            return tes_err_set(TES_ERR_ARG, "status token build: certificate %zu is empty", j);
    if (!tes_cose_alg_hash(signer->alg, NULL))
        return tes_err_set(TES_ERR_COSE_ALG, "status token build: unsupported alg %lld",
                           (long long)signer->alg);

    tes_buf lst = {0}, prot = {0}, payload = {0}, tbs = {0};
    tes_err rc = tes_status_list_compress(l, &lst);
    tes_cbor_enc e = {.out = &prot};
    if (rc == TES_OK) {
        write_protected(&e, signer->alg, chain, chain_len);
        rc = tes_cbor_enc_finish(&e);
    }
    if (rc == TES_OK) {
        e = (tes_cbor_enc){.out = &payload};
        write_claims(&e, uri, iat, exp, ttl, tes_buf_bytes(&lst));
        rc = tes_cbor_enc_finish(&e);
    }
    tes_buf_free(&lst);
    if (rc == TES_OK) { /* Sig_structure = ["Signature1", protected, h'', payload] */
        e = (tes_cbor_enc){.out = &tbs};
        tes_cbor_enc_array(&e, 4);
        tes_cbor_enc_cstr(&e, "Signature1");
        tes_cbor_enc_bytes(&e, prot.ptr, prot.len);
        tes_cbor_enc_bytes(&e, NULL, 0);
        tes_cbor_enc_bytes(&e, payload.ptr, payload.len);
        rc = tes_cbor_enc_finish(&e);
    }
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    if (rc == TES_OK)
        rc = signer->sign(signer->ctx, signer->alg, tes_buf_bytes(&tbs), sig, &sig_len);
    tes_buf_free(&tbs);
    if (rc == TES_OK && sig_len > sizeof sig)
        rc = tes_err_set(TES_ERR_CRYPTO, "status token build: signer overflowed its buffer");
    if (rc == TES_OK) {
        size_t start = out->len;
        e = (tes_cbor_enc){.out = out};
        tes_cbor_enc_tag(&e, 18);
        tes_cbor_enc_array(&e, 4);
        tes_cbor_enc_bytes(&e, prot.ptr, prot.len);
        tes_cbor_enc_map(&e, 0);
        tes_cbor_enc_bytes(&e, payload.ptr, payload.len);
        tes_cbor_enc_bytes(&e, sig, sig_len);
        rc = tes_cbor_enc_finish(&e);
        if (rc != TES_OK)
            out->len = start;
    }
    tes_buf_free(&prot);
    tes_buf_free(&payload);
    return rc;
}

/* ------------------------------------------------------------------ verify */

/* The typ (label 16) of the protected header must be the status list's. */
static tes_err check_typ(tes_bytes prot)
{
    /* room for the x5chain the protected header now carries */
    tes_cbor_limits lim = {.max_input = 65536, .max_depth = 4, .max_items = 64};
    tes_cbor_node nodes[32];
    tes_cbor_doc d;
    tes_err e = tes_cbor_parse_with(prot, &lim, nodes, 32, &d);
    if (e != TES_OK)
        return shape(e, "protected header");
    e = TES_OK;
    uint32_t t = tes_cbor_is(&d, 0, TES_CBOR_MAP) ? tes_cbor_map_get_int(&d, 0, 16) : TES_CBOR_NONE;
    if (t == TES_CBOR_NONE) {
        e = tes_err_set(TES_ERR_STATUS_TOKEN, "status list token: no typ (16) in the protected "
                                              "header (want \"" TES_STATUS_TYP "\")");
    } else if (!tes_cbor_text_eq(&d, t, TES_STATUS_TYP)) {
        const tes_cbor_node *n = tes_cbor_at(&d, t);
        if (n->type == TES_CBOR_TEXT)
            e = tes_err_set(TES_ERR_STATUS_TOKEN,
                            "status list token: typ is \"%.*s\", not \"" TES_STATUS_TYP "\"",
                            (int)(n->len > 64 ? 64 : n->len), (const char *)n->data);
        else
            e = tes_err_set(TES_ERR_STATUS_TOKEN,
                            "status list token: typ is not the text \"" TES_STATUS_TYP "\"");
    }
    tes_cbor_doc_free(&d);
    return e;
}

/* The list must be the credential's issuer's: the signer's chain ended at the
 * credential's IACA (the same certificate), and the signer is the credential's
 * document signer or another document signer of that IACA (the DS profile
 * was checked by tes_trust_validate). */
static tes_err check_issuer(const tes_trust_result *tr, const tes_status_issuer *iss, bool *own)
{
    const tes_cert_info *root = tes_cert_get_info(tr->root);
    const tes_cert_info *want = tes_cert_get_info(iss->iaca);
    const tes_cert_info *leaf = tes_cert_get_info(tr->leaf);
    const tes_cert_info *ds = tes_cert_get_info(iss->ds);
    if (memcmp(root->sha256, want->sha256, sizeof root->sha256) != 0)
        return tes_err_set(TES_ERR_STATUS_ISSUER,
                           "status list token: not from the credential's own issuer (signed "
                           "under the IACA '%.60s', the credential under '%.60s'; signer '%.60s')",
                           root->subject, want->subject, leaf->subject);
    *own = memcmp(leaf->sha256, ds->sha256, sizeof leaf->sha256) == 0;
    return TES_OK;
}

static tes_err verify(tes_bytes token, const char *expected_uri, tes_trust_store *trust,
                      const tes_status_issuer *issuer, int64_t at, size_t max_list_bytes,
                      tes_status_token *out)
{
    if (out != NULL)
        *out = (tes_status_token){0};
    if (out == NULL || expected_uri == NULL || trust == NULL || (token.ptr == NULL && token.len))
        return tes_err_set(TES_ERR_ARG, "status token verify: bad arguments");
    if (token.len > TES_STATUS_TOKEN_MAX)
        return tes_err_set(TES_ERR_STATUS_TOKEN, "status list token: %zu bytes (at most %u)",
                           token.len, TES_STATUS_TOKEN_MAX);

    tes_cbor_limits lim = {.max_input = TES_STATUS_TOKEN_MAX, .max_depth = 8, .max_items = 128};
    tes_cbor_node nodes[32];
    tes_cbor_doc d;
    tes_err e = tes_cbor_parse_with(token, &lim, nodes, 32, &d);
    if (e != TES_OK)
        return shape(e, "not CBOR");
    tes_cose_msg m;
    tes_status_claims c;
    tes_trust_result tr;
    e = tes_cose_sign1_decode(&d, 0, &m);
    tes_cbor_doc_free(&d); /* m's views point into token, not into d */
    if (e != TES_OK)
        return shape(e, "not a COSE_Sign1");
    if (m.detached)
        return tes_err_set(TES_ERR_STATUS_TOKEN, "status list token: detached payload");
    if ((e = check_typ(m.protected_raw)) != TES_OK)
        return e;
    if (m.x5chain_len == 0)
        return tes_err_set(TES_ERR_STATUS_TOKEN, "status list token: no x5chain (33) to verify "
                                                 "the signer");
    if ((e = tes_trust_validate(trust, TES_PROFILE_DS, m.x5chain, m.x5chain_len, at, &tr)) !=
        TES_OK)
        return e;
    e = tes_cose_sign1_verify(&m, tes_cert_key(tr.leaf), (tes_bytes){0}, (tes_bytes){0});
    if (e == TES_ERR_SIGNATURE)
        return tes_err_set(TES_ERR_SIGNATURE, "status list token: the signature does not verify "
                                              "with the x5chain's leaf");
    if (e != TES_OK)
        return shape(e, "signature");
    bool own = false;
    if (issuer != NULL && (e = check_issuer(&tr, issuer, &own)) != TES_OK)
        return e;
    if ((e = tes_status_claims_parse(m.payload, &c)) != TES_OK)
        return e;
    size_t ulen = strlen(expected_uri);
    if (c.sub.len != ulen || memcmp(c.sub.ptr, expected_uri, ulen) != 0)
        return tes_err_set(TES_ERR_STATUS_TOKEN,
                           "status list token: list for another uri (\"%.*s\", expected \"%s\")",
                           (int)c.sub.len, (const char *)c.sub.ptr, expected_uri);
    if (c.has_exp && at >= c.exp) {
        char when[21];
        tes_time_format(c.exp, when);
        return tes_err_set(TES_ERR_STATUS_EXPIRED, "status list token: expired at %s", when);
    }
    if ((e = tes_status_lst_decode(c.lst, c.bits, TES_STATUS_MAX_ENTRIES, max_list_bytes,
                                   &out->list)) != TES_OK)
        return e;
    out->by_own_ds = own;
    memcpy(out->uri, c.sub.ptr, c.sub.len);
    out->uri[c.sub.len] = '\0';
    out->iat = c.iat;
    out->exp = c.has_exp ? c.exp : 0;
    out->ttl = c.has_ttl ? c.ttl : 0;
    return TES_OK;
}

tes_err tes_status_token_verify_for(tes_bytes token, const char *expected_uri,
                                    tes_trust_store *trust, const tes_status_issuer *issuer,
                                    int64_t at, size_t max_list_bytes, tes_status_token *out)
{
    if (issuer == NULL || issuer->ds == NULL || issuer->iaca == NULL) {
        if (out != NULL)
            *out = (tes_status_token){0};
        return tes_err_set(TES_ERR_ARG, "status token verify: no issuer (document signer and "
                                        "IACA) to check the list's signer against");
    }
    return verify(token, expected_uri, trust, issuer, at, max_list_bytes, out);
}

tes_err tes_status_token_verify(tes_bytes token, const char *expected_uri, tes_trust_store *trust,
                                int64_t at, tes_status_token *out)
{
    return verify(token, expected_uri, trust, NULL, at, 0, out);
}

void tes_status_token_free(tes_status_token *t)
{
    if (t == NULL)
        return;
    tes_status_list_free(&t->list);
    *t = (tes_status_token){0};
}
