/*
 * soft_attest.c — the software secure element's attestations: the X.509
 * attestation of a key (soft_attest), OpenID4VCI key attestation JWTs signed
 * inside (soft_attest_jwt), and provisioning by a vendor root (se_soft_provision).
 * The backend's design notes: soft.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "se/soft_internal.h"
#include "tessera/cbor.h"
#include "tessera/jose.h"

/* ---------------------------------------------------------------- attestation */

#define SOFT_LEAF_DAYS 365
#define SOFT_ATT_YEARS 20

tes_err soft_attest(tes_se *se, const char *id, tes_bytes challenge, tes_buf *chain)
{
    soft_se *s = soft_of(se);
    tes_err err = soft_check_id(id);
    if (err)
        return err;
    if (chain == NULL || (challenge.ptr == NULL && challenge.len != 0))
        return tes_err_set(TES_ERR_ARG, "attest: NULL argument");
    if (challenge.len > 1024)
        return tes_err_set(TES_ERR_ARG, "attest: challenge longer than 1024 bytes");
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    tes_key *att_key = NULL, *priv = NULL;
    tes_cert *att_cert = NULL, *leaf = NULL;
    tes_buf ext = {0};
    const soft_key *k = soft_state_find(&st, id);
    if (k == NULL) {
        err = soft_key_unknown(id);
        goto out;
    }
    if ((err = se_attestation_ext(k->uv, k->single_use, "soft", challenge, &ext)) != TES_OK ||
        (err = soft_key_object(k, &priv)) != TES_OK ||
        (err = tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(st.att_d, SOFT_SCALAR_LEN),
                                       &att_key)) != TES_OK)
        goto out;
    if (tes_cert_parse(tes_buf_bytes(&st.att_cert), &att_cert) != TES_OK ||
        !tes_key_equal_public(tes_cert_key(att_cert), att_key)) {
        err = tes_err_set(TES_ERR_SE_TAMPERED,
                          "the sealed attestation certificate does not fit the attestation key");
        goto out;
    }
    char cn[64];
    snprintf(cn, sizeof cn, "Tessera soft SE key %s", k->id);
    int64_t now = tes_clock_now(&s->clock);
    int64_t not_after = now + SOFT_LEAF_DAYS * 86400LL;
    if (not_after > tes_cert_get_info(att_cert)->not_after)
        not_after = tes_cert_get_info(att_cert)->not_after;
    tes_cert_template t = {
        .common_name = cn,
        .not_before = now - 300,
        .not_after = not_after,
        .is_ca = false,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE | TES_KU_KEY_AGREEMENT,
        .extra_oid = TES_OID_KEY_ATTESTATION,
        .extra_value = tes_buf_bytes(&ext),
        .rng = &s->rng,
    };
    /* The subject key is only read for its public half. */
    if ((err = tes_cert_create(&t, priv, att_cert, att_key, &leaf)) != TES_OK)
        goto out;
    tes_cbor_enc e = {.out = chain};
    tes_cbor_enc_array(&e, 2);
    tes_bytes leaf_der = tes_cert_der(leaf), att_der = tes_cert_der(att_cert);
    tes_cbor_enc_bytes(&e, leaf_der.ptr, leaf_der.len);
    tes_cbor_enc_bytes(&e, att_der.ptr, att_der.len);
    err = tes_cbor_enc_finish(&e);
out:
    tes_cert_free(leaf);
    tes_cert_free(att_cert);
    tes_key_free(att_key);
    tes_key_free(priv);
    tes_buf_free(&ext);
    return soft_op_end(s, &st, err);
}

/* ---------------------------------------------------------------- key attestation JWT */

/* Checks the arguments of attest_jwt that need no state. */
static tes_err ka_args(const char *const *ids, size_t n_ids, const char *nonce, tes_buf *jwt)
{
    if (ids == NULL || jwt == NULL)
        return tes_err_set(TES_ERR_ARG, "attest_jwt: NULL argument");
    if (n_ids == 0 || n_ids > TES_KA_MAX_KEYS)
        return tes_err_set(TES_ERR_ARG, "attest_jwt: 1..%d keys, not %zu", TES_KA_MAX_KEYS, n_ids);
    for (size_t i = 0; i < n_ids; i++) {
        tes_err err = soft_check_id(ids[i]);
        if (err)
            return err;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ids[i], ids[j]) == 0)
                return tes_err_set(TES_ERR_ARG, "attest_jwt: key \"%.64s\" is listed twice",
                                   ids[i]);
    }
    if (nonce != NULL) {
        size_t n = strlen(nonce);
        if (n == 0 || n > TES_KA_NONCE_MAX)
            return tes_err_set(TES_ERR_ARG, "attest_jwt: the nonce must have 1..%d characters",
                               TES_KA_NONCE_MAX);
        for (size_t i = 0; i < n; i++)
            if (nonce[i] < 0x20 || nonce[i] > 0x7e)
                return tes_err_set(
                    TES_ERR_ARG, "attest_jwt: the nonce must be printable ASCII (byte %zu is not)",
                    i);
    }
    return TES_OK;
}

/* The claims: keys and their protections as they are in the sealed state.
 * *out: a new JSON object. */
static tes_err ka_payload(soft_state *st, const char *const *ids, size_t n_ids, const char *nonce,
                          int64_t iat, int64_t exp, json_t **out)
{
    const soft_key *first = NULL;
    tes_err err = TES_OK;
    json_t *keys = json_array(), *storage = json_array(), *jwk = NULL;
    *out = json_object();
    if (keys == NULL || storage == NULL || *out == NULL)
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_ids && err == TES_OK; i++) {
        const soft_key *k = soft_state_find(st, ids[i]);
        tes_key *priv = NULL;
        if (k == NULL) {
            err = soft_key_unknown(ids[i]);
        } else if (k->single_use && k->used) {
            err = tes_err_set(TES_ERR_KEY_USED,
                              "key \"%.64s\" is single-use and already used: nothing to attest",
                              k->id);
        } else if (first != NULL && (k->uv != first->uv || k->single_use != first->single_use)) {
            err = tes_err_set(TES_ERR_ARG,
                              "attest_jwt: keys \"%s\" and \"%s\" have different protections "
                              "(user verification, single use); attest them separately",
                              first->id, k->id);
        } else if ((err = soft_key_object(k, &priv)) == TES_OK &&
                   (err = tes_jwk_from_key(priv, &jwk)) == TES_OK) { /* the public half only */
            if (json_array_append_new(keys, jwk) != 0)
                err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        }
        if (first == NULL)
            first = k;
        tes_key_free(priv);
    }
    if (err == TES_OK &&
        (json_object_set_new(*out, "iat", json_integer(iat)) != 0 ||
         json_object_set_new(*out, "exp", json_integer(exp)) != 0 ||
         json_object_set(*out, "attested_keys", keys) != 0 ||
         json_array_append_new(storage, json_string(TES_KA_STORAGE_SOFT)) != 0 ||
         (first->single_use &&
          json_array_append_new(storage, json_string(TES_KA_STORAGE_SINGLE_USE)) != 0) ||
         json_object_set(*out, "key_storage", storage) != 0 ||
         (first->uv && json_object_set_new(*out, "user_authentication",
                                           json_pack("[s]", TES_KA_USER_AUTH_PIN)) != 0) ||
         (nonce != NULL && json_object_set_new(*out, "nonce", json_string(nonce)) != 0)))
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    json_decref(keys);
    json_decref(storage);
    if (err != TES_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

tes_err soft_attest_jwt(tes_se *se, const char *const *ids, size_t n_ids, const char *nonce,
                        tes_buf *jwt)
{
    soft_se *s = soft_of(se);
    tes_err err = ka_args(ids, n_ids, nonce, jwt);
    if (err)
        return err;
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    tes_key *att_key = NULL, *signer = NULL;
    tes_cert *att_cert = NULL, *signer_cert = NULL;
    json_t *hdr = NULL, *payload = NULL;
    if ((err = tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(st.att_d, SOFT_SCALAR_LEN),
                                       &att_key)) != TES_OK)
        goto out;
    if (tes_cert_parse(tes_buf_bytes(&st.att_cert), &att_cert) != TES_OK ||
        !tes_key_equal_public(tes_cert_key(att_cert), att_key)) {
        err = tes_err_set(TES_ERR_SE_TAMPERED,
                          "the sealed attestation certificate does not fit the attestation key");
        goto out;
    }
    /* Valid like attest()'s leaf: a year, at most as long as the attestation certificate. */
    int64_t now = tes_clock_now(&s->clock);
    int64_t exp = now + SOFT_LEAF_DAYS * 86400LL;
    if (exp > tes_cert_get_info(att_cert)->not_after)
        exp = tes_cert_get_info(att_cert)->not_after;
    if (exp <= now) {
        err = tes_err_set(TES_ERR_STATE, "the attestation certificate has expired");
        goto out;
    }
    if ((err = ka_payload(&st, ids, n_ids, nonce, now, exp, &payload)) != TES_OK)
        goto out;
    /* The one-time signer: made here, certified by the attestation key, gone on return. */
    tes_cert_template t = {
        .common_name = "Tessera soft SE key attestation",
        .not_before = now - 300,
        .not_after = exp,
        .is_ca = false,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE,
        .eku_oid = TES_OID_KA_SIGNER,
        .rng = &s->rng,
    };
    uint8_t signer_d[SOFT_SCALAR_LEN];
    err = soft_scalar_new(&s->rng, signer_d, &signer);
    tes_wipe(signer_d, sizeof signer_d);
    if (err != TES_OK ||
        (err = tes_cert_create(&t, signer, att_cert, att_key, &signer_cert)) != TES_OK)
        goto out;
    tes_buf x5c0 = {0}, x5c1 = {0};
    tes_b64_encode(&x5c0, tes_cert_der(signer_cert));
    tes_b64_encode(&x5c1, tes_cert_der(att_cert));
    tes_buf_append(&x5c0, "", 1);
    tes_buf_append(&x5c1, "", 1);
    hdr = x5c0.failed || x5c1.failed
              ? NULL
              : json_pack("{s:s, s:s, s:[s, s]}", "alg", "ES256", "typ", TES_KA_JWT_TYP, "x5c",
                          (const char *)x5c0.ptr, (const char *)x5c1.ptr);
    tes_buf_free(&x5c0);
    tes_buf_free(&x5c1);
    if (hdr == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = tes_jws_sign(hdr, payload, tes_jws_key_signer, signer, jwt);
out:
    tes_cert_free(signer_cert);
    tes_cert_free(att_cert);
    tes_key_free(signer);
    tes_key_free(att_key);
    json_decref(hdr);
    json_decref(payload);
    return soft_op_end(s, &st, err);
}

/* Self-signed attestation certificate for a new secure element. */
tes_err soft_att_self_signed(soft_se *s, const tes_key *att_key, tes_buf *der)
{
    uint8_t serial[8];
    tes_err err = tes_rng_fill(&s->rng, serial, sizeof serial);
    if (err)
        return err;
    char cn[64];
    int n = snprintf(cn, sizeof cn, "Tessera soft SE ");
    for (size_t i = 0; i < sizeof serial; i++)
        n += snprintf(cn + n, sizeof cn - (size_t)n, "%02x", serial[i]);
    int64_t now = tes_clock_now(&s->clock);
    tes_cert_template t = {
        .rng = &s->rng,
        .common_name = cn,
        .not_before = now - 300,
        .not_after = now + SOFT_ATT_YEARS * 366 * 86400LL,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN,
    };
    tes_cert *c = NULL;
    if ((err = tes_cert_create(&t, att_key, NULL, att_key, &c)) != TES_OK)
        return err;
    tes_buf_append(der, tes_cert_der(c).ptr, tes_cert_der(c).len);
    tes_cert_free(c);
    return der->failed ? tes_err_set(TES_ERR_NOMEM, "out of memory") : TES_OK;
}

tes_err se_soft_provision(tes_se *se, const char *vendor_dir)
{
    soft_se *s = soft_of(se);
    if (s == NULL)
        return tes_err_set(TES_ERR_ARG, "provisioning needs a software secure element");
    if (vendor_dir == NULL)
        return tes_err_set(TES_ERR_ARG, "provision: no vendor directory");
    char path[PATH_MAX];
    tes_buf vpem = {0}, kpem = {.secret = true}, chain_pem = {0};
    tes_cert *vendor = NULL, *old = NULL, *issued = NULL;
    tes_key *vkey = NULL, *att_key = NULL;
    soft_state st;
    bool begun = false;
    tes_err err;
    snprintf(path, sizeof path, "%s/vendor.pem", vendor_dir);
    if ((err = tes_file_read(path, 1u << 20, &vpem)) != TES_OK ||
        (err = tes_cert_parse_any(tes_buf_bytes(&vpem), &vendor)) != TES_OK)
        goto out;
    snprintf(path, sizeof path, "%s/vendor_key.pem", vendor_dir);
    if ((err = tes_file_read(path, 1u << 20, &kpem)) != TES_OK ||
        (err = tes_key_parse(tes_buf_bytes(&kpem), &vkey)) != TES_OK)
        goto out;
    if (!tes_key_has_private(vkey) || !tes_key_equal_public(vkey, tes_cert_key(vendor))) {
        err = tes_err_set(TES_ERR_ARG, "vendor_key.pem is not the private key of vendor.pem");
        goto out;
    }
    if (!tes_cert_get_info(vendor)->is_ca) {
        err = tes_err_set(TES_ERR_ARG, "vendor.pem is not a CA certificate");
        goto out;
    }
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        goto out;
    begun = true;
    if ((err = tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(st.att_d, SOFT_SCALAR_LEN),
                                       &att_key)) != TES_OK ||
        (err = tes_cert_parse(tes_buf_bytes(&st.att_cert), &old)) != TES_OK)
        goto out;
    int64_t now = tes_clock_now(&s->clock);
    int64_t not_after = now + SOFT_ATT_YEARS * 366 * 86400LL;
    if (not_after > tes_cert_get_info(vendor)->not_after)
        not_after = tes_cert_get_info(vendor)->not_after;
    tes_cert_template t = {
        .rng = &s->rng,
        .common_name = tes_cert_get_info(old)->common_name,
        .not_before = now - 300,
        .not_after = not_after,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN,
    };
    if ((err = tes_cert_create(&t, att_key, vendor, vkey, &issued)) != TES_OK)
        goto out;
    tes_buf_reset(&st.att_cert);
    tes_buf_append(&st.att_cert, tes_cert_der(issued).ptr, tes_cert_der(issued).len);
    if (st.att_cert.failed) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    st.dirty = true;
    if ((err = soft_state_store(s, &st)) != TES_OK)
        goto out;
    /* attest.pem: the chain as issued (attestation certificate, vendor root), for
     * people and tools; attest() uses the sealed copy. */
    if ((err = tes_cert_to_pem(issued, &chain_pem)) != TES_OK ||
        (err = tes_cert_to_pem(vendor, &chain_pem)) != TES_OK)
        goto out;
    soft_path(s, "attest.pem", path);
    err = tes_file_write(path, tes_buf_bytes(&chain_pem), 0644);
out:
    if (begun)
        err = soft_op_end(s, &st, err);
    tes_buf_free(&vpem);
    tes_buf_free(&kpem);
    tes_buf_free(&chain_pem);
    tes_cert_free(vendor);
    tes_cert_free(old);
    tes_cert_free(issued);
    tes_key_free(vkey);
    tes_key_free(att_key);
    return err;
}
