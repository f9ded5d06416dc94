/*
 * se.c — the secure-element front: opening a backend from its specification,
 * the convenience wrappers, COSE signing through a secure element, PIN syntax,
 * and key attestation (building the extension, verifying chains, creating a
 * vendor root). The backends live in soft.c / soft_state.c and pkcs11.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "se/se_internal.h"
#include "tessera/cbor.h"
#include "tessera/trust.h"

/* se_pkcs11_open lives in pkcs11.c. There was a weak "not built" fallback here
 * until that file landed; it had to go: in a static library a weak definition in
 * se.o satisfies the reference, so the linker never pulls pkcs11.o into programs
 * that reach it only through tes_se_open (the CLI, test_se_soft). */

/* ---------------------------------------------------------------- open / close */

tes_err tes_se_open(const char *spec, const char *state_dir, tes_se **out)
{
    return tes_se_open_with(spec, state_dir, NULL, out);
}

tes_err tes_se_open_with(const char *spec, const char *state_dir, const tes_se_opts *o,
                         tes_se **out)
{
    if (spec == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_se_open: NULL argument");
    const tes_clock *clock = o != NULL ? o->clock : NULL;
    const tes_rng *rng = o != NULL ? o->rng : NULL;
    *out = NULL;
    if (strncmp(spec, "soft:", 5) == 0) {
        const char *dir = spec + 5;
        if (dir[0] == '\0')
            return tes_err_set(TES_ERR_ARG, "secure element \"soft:\" needs a directory");
        return se_soft_open(dir, clock, rng, out);
    }
    if (strncmp(spec, "pkcs11:", 7) == 0) {
        /* MODULE_PATH[:TOKEN_LABEL]; the module path ends at the first ':'. */
        const char *module = spec + 7;
        const char *colon = strchr(module, ':');
        size_t mlen = colon != NULL ? (size_t)(colon - module) : strlen(module);
        if (mlen == 0)
            return tes_err_set(TES_ERR_ARG, "secure element \"pkcs11:\" needs a module path");
        char mpath[4096];
        if (mlen >= sizeof mpath)
            return tes_err_set(TES_ERR_ARG, "PKCS#11 module path too long");
        memcpy(mpath, module, mlen);
        mpath[mlen] = '\0';
        const char *label = colon != NULL && colon[1] != '\0' ? colon + 1 : NULL;
        return se_pkcs11_open(mpath, label, state_dir, rng, out);
    }
    return tes_err_set(TES_ERR_ARG,
                       "unknown secure element \"%.64s\" (want soft:DIR or pkcs11:MODULE[:LABEL])",
                       spec);
}

void tes_se_close(tes_se *se)
{
    if (se != NULL && se->ops != NULL && se->ops->close != NULL)
        se->ops->close(se);
}

/* ---------------------------------------------------------------- wrappers */

uint32_t tes_se_caps(tes_se *se)
{
    return se != NULL ? se->ops->caps(se) : 0;
}

tes_err tes_se_create_key(tes_se *se, const tes_se_key_opts *o, char id[TES_SE_ID_MAX])
{
    if (se == NULL || id == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_se_create_key: NULL argument");
    static const tes_se_key_opts none = {false, false};
    return se->ops->create_key(se, o != NULL ? o : &none, id);
}

tes_err tes_se_public_key(tes_se *se, const char *id, tes_key **out)
{
    if (se == NULL || id == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_se_public_key: NULL argument");
    *out = NULL;
    return se->ops->public_key(se, id, out);
}

tes_err tes_se_sign(tes_se *se, const char *id, const char *pin, tes_bytes msg, uint8_t *sig,
                    size_t *sig_len)
{
    if (se == NULL || id == NULL || sig == NULL || sig_len == NULL ||
        (msg.ptr == NULL && msg.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_se_sign: NULL argument");
    return se->ops->sign(se, id, pin, msg, sig, sig_len);
}

tes_err tes_se_attest_jwt(tes_se *se, const char *const *ids, size_t n_ids, const char *nonce,
                          tes_buf *jwt)
{
    if (se == NULL || se->ops == NULL || ids == NULL || jwt == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_se_attest_jwt: NULL argument");
    const tes_se_ops *o = se->ops;
    if (o->size < offsetof(tes_se_ops, attest_jwt) + sizeof o->attest_jwt || o->attest_jwt == NULL)
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "the %s secure element makes no key attestations in JWT form",
                           o->name ? o->name : "(unnamed)");
    return o->attest_jwt(se, ids, n_ids, nonce, jwt);
}

tes_err tes_se_cose_sign(void *ctx, int64_t alg, tes_bytes msg, uint8_t *sig, size_t *sig_len)
{
    const tes_se_signer_ctx *c = ctx;
    if (c == NULL || c->se == NULL || c->id == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_se_cose_sign: no secure element or key id");
    if (alg != -7)
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "secure-element keys sign with ES256 (-7) only, not %lld",
                           (long long)alg);
    return tes_se_sign(c->se, c->id, c->pin, msg, sig, sig_len);
}

tes_err tes_se_soft_provision(tes_se *se, const char *vendor_dir)
{
    return se_soft_provision(se, vendor_dir);
}

/* ---------------------------------------------------------------- PIN syntax */

tes_err se_check_pin_format(const char *pin, se_secret which, se_pin_syntax syntax)
{
    bool puk = which == SE_SECRET_PUK, text = syntax == SE_PIN_TEXT;
    const char *what = puk ? "PUK" : "PIN";
    size_t min = puk ? 8 : 4, max = text ? 63 : 16;
    if (pin == NULL)
        return tes_err_set(TES_ERR_PIN_FORMAT, "no %s given", what);
    size_t n = 0;
    for (; pin[n] != '\0' && n <= max; n++) {
        unsigned char ch = (unsigned char)pin[n];
        if (text ? ch < 0x20 || ch == 0x7f : ch < '0' || ch > '9')
            return tes_err_set(TES_ERR_PIN_FORMAT,
                               text ? "the %s contains a control character"
                                    : "the %s must consist of digits only",
                               what);
    }
    if (n < min || n > max)
        return tes_err_set(TES_ERR_PIN_FORMAT,
                           text ? "the %s must have %zu to %zu characters"
                                : "the %s must have %zu to %zu digits",
                           what, min, max);
    return TES_OK;
}

/* ---------------------------------------------------------------- attestation */

#define ATT_MAX_CHAIN 4
#define ATT_MAX_CHALLENGE 1024

tes_err se_attestation_ext(bool uv, bool single_use, const char *backend, tes_bytes challenge,
                           tes_buf *out)
{
    if (backend == NULL || out == NULL || challenge.len > ATT_MAX_CHALLENGE ||
        (challenge.ptr == NULL && challenge.len != 0))
        return tes_err_set(TES_ERR_ARG, "attestation extension: bad argument");
    tes_buf cbor = {0};
    tes_cbor_enc e = {.out = &cbor};
    size_t map = tes_cbor_enc_pos(&e);
    tes_cbor_enc_map(&e, 4);
    tes_cbor_enc_cstr(&e, "uv");
    tes_cbor_enc_bool(&e, uv);
    tes_cbor_enc_cstr(&e, "single_use");
    tes_cbor_enc_bool(&e, single_use);
    tes_cbor_enc_cstr(&e, "backend");
    tes_cbor_enc_cstr(&e, backend);
    tes_cbor_enc_cstr(&e, "challenge");
    tes_cbor_enc_bytes(&e, challenge.ptr, challenge.len);
    tes_cbor_enc_sort_map(&e, map);
    tes_err err = tes_cbor_enc_finish(&e);
    if (err == TES_OK) {
        /* DER OCTET STRING around the CBOR: 04, definite length (short or long form). */
        uint8_t head[6] = {0x04};
        size_t hl = 1, n = cbor.len;
        if (n < 0x80) {
            head[hl++] = (uint8_t)n;
        } else if (n <= 0xff) {
            head[hl++] = 0x81;
            head[hl++] = (uint8_t)n;
        } else {
            head[hl++] = 0x82;
            head[hl++] = (uint8_t)(n >> 8);
            head[hl++] = (uint8_t)n;
        }
        tes_buf_append(out, head, hl);
        tes_buf_append(out, cbor.ptr, cbor.len);
        if (out->failed)
            err = tes_err_set(TES_ERR_NOMEM, "attestation extension: out of memory");
    }
    tes_buf_free(&cbor);
    return err;
}

/* Strips the DER OCTET STRING around the extension's CBOR. */
static tes_err ext_unwrap(tes_bytes v, tes_bytes *cbor)
{
    if (v.len < 2 || v.ptr[0] != 0x04)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                           "attestation extension is not an OCTET STRING");
    size_t len, hl;
    if (v.ptr[1] < 0x80) {
        len = v.ptr[1];
        hl = 2;
    } else if (v.ptr[1] == 0x81 && v.len >= 3 && v.ptr[2] >= 0x80) {
        len = v.ptr[2];
        hl = 3;
    } else if (v.ptr[1] == 0x82 && v.len >= 4 && v.ptr[2] != 0) {
        len = ((size_t)v.ptr[2] << 8) | v.ptr[3];
        hl = 4;
    } else {
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                           "attestation extension: bad or non-DER length");
    }
    if (hl + len != v.len)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                           "attestation extension: OCTET STRING length %zu does not fit %zu bytes",
                           len, v.len - hl);
    *cbor = TES_BYTES(v.ptr + hl, len);
    return TES_OK;
}

/* Reads the leaf's attestation extension into out (not the key) and its challenge. */
static tes_err ext_read(const tes_cert *leaf, tes_se_attested *out, tes_bytes *challenge)
{
    tes_bytes v;
    bool critical = false;
    if (tes_cert_extension(leaf, TES_OID_KEY_ATTESTATION, &v, &critical) != TES_OK)
        return tes_err_set(TES_ERR_ATTESTATION,
                           "the leaf certificate has no key attestation extension (%s)",
                           TES_OID_KEY_ATTESTATION);
    tes_bytes cbor;
    tes_err err = ext_unwrap(v, &cbor);
    if (err)
        return err;
    tes_cbor_limits lim = {.max_input = 4096, .max_depth = 2, .max_items = 16};
    tes_cbor_doc d = {0};
    if (tes_cbor_parse(cbor, &lim, &d) != TES_OK)
        return tes_err_set(TES_ERR_ATTESTATION_FORMAT, "attestation extension: CBOR malformed: %s",
                           tes_err_message());
    err = TES_OK;
    uint32_t uv = TES_CBOR_NONE, su = TES_CBOR_NONE, be = TES_CBOR_NONE, ch = TES_CBOR_NONE;
    if (!tes_cbor_is(&d, 0, TES_CBOR_MAP)) {
        err = tes_err_set(TES_ERR_ATTESTATION_FORMAT, "attestation extension is not a CBOR map");
        goto done;
    }
    uv = tes_cbor_map_get_text(&d, 0, "uv");
    su = tes_cbor_map_get_text(&d, 0, "single_use");
    be = tes_cbor_map_get_text(&d, 0, "backend");
    ch = tes_cbor_map_get_text(&d, 0, "challenge");
    if (uv == TES_CBOR_NONE || su == TES_CBOR_NONE || be == TES_CBOR_NONE || ch == TES_CBOR_NONE) {
        err = tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                          "attestation extension lacks uv, single_use, backend or challenge");
        goto done;
    }
    bool uv_t = tes_cbor_is(&d, uv, TES_CBOR_TRUE), su_t = tes_cbor_is(&d, su, TES_CBOR_TRUE);
    if ((!uv_t && !tes_cbor_is(&d, uv, TES_CBOR_FALSE)) ||
        (!su_t && !tes_cbor_is(&d, su, TES_CBOR_FALSE)) || !tes_cbor_is(&d, be, TES_CBOR_TEXT) ||
        !tes_cbor_is(&d, ch, TES_CBOR_BYTES)) {
        err = tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                          "attestation extension: a member has the wrong type");
        goto done;
    }
    const tes_cbor_node *bn = tes_cbor_at(&d, be);
    if (bn->len >= sizeof out->backend || memchr(bn->data, 0, bn->len) != NULL) {
        err = tes_err_set(TES_ERR_ATTESTATION_FORMAT, "attestation extension: bad backend name");
        goto done;
    }
    out->user_verification = uv_t;
    out->single_use = su_t;
    memcpy(out->backend, bn->data, bn->len);
    out->backend[bn->len] = '\0';
    const tes_cbor_node *cn = tes_cbor_at(&d, ch);
    *challenge = TES_BYTES(cn->data, cn->len); /* points into the certificate */
done:
    tes_cbor_doc_free(&d);
    return err;
}

tes_err tes_se_attestation_verify(tes_bytes chain, tes_bytes vendor_roots, tes_bytes challenge,
                                  int64_t at, tes_se_attested *out)
{
    if (out == NULL || (chain.ptr == NULL && chain.len != 0) ||
        (challenge.ptr == NULL && challenge.len != 0) ||
        (vendor_roots.ptr == NULL && vendor_roots.len != 0))
        return tes_err_set(TES_ERR_ARG, "tes_se_attestation_verify: NULL argument");
    memset(out, 0, sizeof *out);
    if (vendor_roots.len == 0)
        return tes_err_set(TES_ERR_ARG, "tes_se_attestation_verify: no vendor roots given");

    tes_cert *certs[ATT_MAX_CHAIN] = {0};
    size_t ncerts = 0;
    tes_cbor_doc d = {0};
    tes_bytes got_challenge = {0};
    tes_err err;

    /* ---- shape: a CBOR array of 2..ATT_MAX_CHAIN DER certificates, leaf first */
    tes_cbor_limits lim = {.max_input = 64 * 1024, .max_depth = 2, .max_items = ATT_MAX_CHAIN + 1};
    if (tes_cbor_parse(chain, &lim, &d) != TES_OK) {
        err = tes_err_set(TES_ERR_ATTESTATION_FORMAT, "attestation is not a bounded CBOR item: %s",
                          tes_err_message());
        goto done;
    }
    if (!tes_cbor_is(&d, 0, TES_CBOR_ARRAY) || tes_cbor_count(&d, 0) < 2 ||
        tes_cbor_count(&d, 0) > ATT_MAX_CHAIN) {
        err = tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                          "attestation must be a CBOR array of 2..%d certificates", ATT_MAX_CHAIN);
        goto done;
    }
    /* Counted walk: `next` of the last child is not TES_CBOR_NONE. */
    uint64_t count = tes_cbor_count(&d, 0);
    uint32_t node = tes_cbor_child(&d, 0);
    for (uint64_t k = 0; k < count; k++, node = tes_cbor_next(&d, node)) {
        if (!tes_cbor_is(&d, node, TES_CBOR_BYTES)) {
            err = tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                              "attestation certificate %zu is not a byte string", ncerts);
            goto done;
        }
        const tes_cbor_node *n = tes_cbor_at(&d, node);
        if (tes_cert_parse(TES_BYTES(n->data, n->len), &certs[ncerts]) != TES_OK) {
            err = tes_err_set(TES_ERR_ATTESTATION_FORMAT,
                              "attestation certificate %zu cannot be parsed: %s", ncerts,
                              tes_err_message());
            goto done;
        }
        ncerts++;
    }
    if ((err = ext_read(certs[0], out, &got_challenge)) != TES_OK)
        goto done;

    /* ---- trust: the leaf's profile (not a CA) and the chain to a vendor root */
    if ((err = tes_trust_validate_vendor(TES_PROFILE_VENDOR_ATTESTED_KEY, certs, ncerts,
                                         vendor_roots, at)) != TES_OK)
        goto done;

    /* ---- challenge */
    if (!tes_ct_eq(got_challenge, challenge)) {
        err = tes_err_set(TES_ERR_ATTESTATION, "the attestation answers a different challenge");
        goto done;
    }
    out->key = tes_key_ref((tes_key *)tes_cert_key(certs[0]));
    err = TES_OK;
done:
    if (err != TES_OK)
        memset(out, 0, sizeof *out);
    tes_cbor_doc_free(&d);
    for (size_t i = 0; i < ncerts; i++)
        tes_cert_free(certs[i]);
    return err;
}

/* ---------------------------------------------------------------- vendor root */

tes_err tes_se_vendor_create(const char *dir, const char *name, const tes_se_opts *o)
{
    if (dir == NULL || name == NULL || name[0] == '\0')
        return tes_err_set(TES_ERR_ARG, "tes_se_vendor_create: NULL argument");
    char cert_path[4096], key_path[4096];
    if (snprintf(cert_path, sizeof cert_path, "%s/vendor.pem", dir) >= (int)sizeof cert_path ||
        snprintf(key_path, sizeof key_path, "%s/vendor_key.pem", dir) >= (int)sizeof key_path)
        return tes_err_set(TES_ERR_ARG, "vendor directory path too long");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return tes_err_set(TES_ERR_IO, "cannot create '%s': %s", dir, strerror(errno));
    if (access(key_path, F_OK) == 0)
        return tes_err_set(TES_ERR_STATE, "'%s' exists: refusing to replace a vendor root key",
                           key_path);
    tes_key *key = NULL;
    tes_cert *cert = NULL;
    tes_buf key_pem = {.secret = true}, cert_pem = {0};
    tes_err err = tes_key_generate(TES_CURVE_P256, &key);
    if (err)
        goto done;
    int64_t now = tes_clock_now(o != NULL ? o->clock : NULL);
    tes_cert_template t = {
        .rng = o != NULL ? o->rng : NULL,
        .common_name = name,
        .not_before = now - 3600,
        .not_after = now + 20 * 366 * 86400LL,
        .is_ca = true,
        .path_len = 1,
        .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
    };
    if ((err = tes_cert_create(&t, key, NULL, key, &cert)) != TES_OK ||
        (err = tes_key_to_pem(key, true, &key_pem)) != TES_OK ||
        (err = tes_cert_to_pem(cert, &cert_pem)) != TES_OK)
        goto done;
    if ((err = tes_file_write(key_path, tes_buf_bytes(&key_pem), 0600)) != TES_OK)
        goto done;
    err = tes_file_write(cert_path, tes_buf_bytes(&cert_pem), 0644);
done:
    tes_buf_free(&key_pem);
    tes_buf_free(&cert_pem);
    tes_cert_free(cert);
    tes_key_free(key);
    return err;
}
