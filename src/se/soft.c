/*
 * soft.c — the built-in software secure element: the tes_se_ops of the "soft"
 * backend, creation on first open, PIN/PUK state machine, keys, attestation.
 *
 * Every operation takes the directory lock, re-reads and authenticates the
 * sealed state (another process may have changed it), does its work, persists
 * what changed, and drops the lock. Private scalars exist in memory only for
 * the duration of one operation and are wiped afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "se/soft_internal.h"
#include "tessera/cbor.h"

#define SOFT_CAPS                                                                                  \
    (TES_SE_CAP_PIN_LOCKOUT | TES_SE_CAP_USER_VERIFICATION | TES_SE_CAP_SINGLE_USE |               \
     TES_SE_CAP_ECDH_EXPORT | TES_SE_CAP_ATTESTATION | TES_SE_CAP_ROLLBACK)

static const tes_se_ops soft_ops;

static soft_se *soft_of(tes_se *se)
{
    return se != NULL && se->ops == &soft_ops ? (soft_se *)se : NULL;
}

/* ---------------------------------------------------------------- operation frame */

/* Locks and loads; on failure nothing is held. */
static tes_err op_begin(soft_se *s, soft_state *st)
{
    tes_err err = soft_lock(s);
    if (err)
        return err;
    err = soft_state_load(s, st);
    if (err)
        soft_unlock(s);
    return err;
}

/* Persists pending changes (if err is still TES_OK), wipes, unlocks. */
static tes_err op_end(soft_se *s, soft_state *st, tes_err err)
{
    if (st->dirty) {
        tes_err e2 = soft_state_store(s, st);
        if (err == TES_OK)
            err = e2;
    }
    soft_state_free(st);
    soft_unlock(s);
    return err;
}

/* ---------------------------------------------------------------- PIN / PUK */

static tes_err secret_hash(const char *secret, bool puk, const uint8_t salt[SOFT_SALT_LEN],
                           uint8_t out[SOFT_HASH_LEN])
{
    const char *info = puk ? "tessera soft-se puk" : "tessera soft-se pin";
    return tes_hkdf_sha256(TES_BYTES(secret, strlen(secret)), TES_BYTES(salt, SOFT_SALT_LEN),
                           TES_BYTES(info, strlen(info)), out, SOFT_HASH_LEN);
}

/* New salt and hash for a PIN or PUK (format already checked). */
static tes_err secret_set(soft_se *s, const char *secret, bool puk, uint8_t salt[SOFT_SALT_LEN],
                          uint8_t hash[SOFT_HASH_LEN])
{
    tes_err err = tes_rng_fill(&s->rng, salt, SOFT_SALT_LEN);
    return err ? err : secret_hash(secret, puk, salt, hash);
}

/* The PIN check of every PIN-gated operation (state loaded, lock held, format
 * checked): refuse when blocked or locked, decrement and persist, then compare.
 * On success the tries are reset in memory (st->dirty: op_end persists). */
static tes_err pin_check(soft_se *s, soft_state *st, const char *pin)
{
    if (!st->pin_set)
        return tes_err_set(TES_ERR_PIN_NOT_SET, "no PIN is set on this secure element");
    if (st->blocked || st->puk_tries <= 0)
        return tes_err_set(TES_ERR_SE_BLOCKED,
                           "the secure element is permanently blocked (too many wrong PUKs)");
    if (st->pin_tries <= 0)
        return tes_err_set(TES_ERR_PIN_LOCKED,
                           "the PIN is locked after %d wrong attempts: unblock it with the PUK",
                           TES_SE_PIN_TRIES);
    uint8_t h[SOFT_HASH_LEN];
    tes_err err = secret_hash(pin, false, st->pin_salt, h);
    if (err)
        return err;
    st->pin_tries--;
    st->dirty = true;
    if ((err = soft_state_store(s, st)) != TES_OK) {
        tes_wipe(h, sizeof h);
        return err;
    }
    bool ok = tes_ct_eq(TES_BYTES(h, sizeof h), TES_BYTES(st->pin_hash, SOFT_HASH_LEN));
    tes_wipe(h, sizeof h);
    if (!ok) {
        if (st->pin_tries == 0)
            return tes_err_set(TES_ERR_PIN_WRONG,
                               "wrong PIN: no tries left, the PIN is now locked (unblock it "
                               "with the PUK)");
        return tes_err_set(TES_ERR_PIN_WRONG, "wrong PIN: %d %s left", st->pin_tries,
                           st->pin_tries == 1 ? "try" : "tries");
    }
    if (st->pin_tries != TES_SE_PIN_TRIES) {
        st->pin_tries = TES_SE_PIN_TRIES;
        st->dirty = true;
    }
    return TES_OK;
}

static tes_err soft_pin_set(tes_se *se, const char *pin, const char *puk)
{
    soft_se *s = soft_of(se);
    tes_err err;
    if ((err = se_check_pin_format(pin, false, false)) != TES_OK ||
        (err = se_check_pin_format(puk, true, false)) != TES_OK)
        return err;
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    if (st.pin_set) {
        err = tes_err_set(TES_ERR_STATE, "a PIN is already set: use change or unblock");
    } else if ((err = secret_set(s, pin, false, st.pin_salt, st.pin_hash)) == TES_OK &&
               (err = secret_set(s, puk, true, st.puk_salt, st.puk_hash)) == TES_OK) {
        st.pin_set = true;
        st.pin_tries = TES_SE_PIN_TRIES;
        st.puk_tries = TES_SE_PUK_TRIES;
        st.blocked = false;
        st.dirty = true;
    }
    return op_end(s, &st, err);
}

static tes_err soft_pin_verify(tes_se *se, const char *pin)
{
    soft_se *s = soft_of(se);
    tes_err err = se_check_pin_format(pin, false, false);
    if (err)
        return err;
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    return op_end(s, &st, pin_check(s, &st, pin));
}

static tes_err soft_pin_change(tes_se *se, const char *old_pin, const char *new_pin)
{
    soft_se *s = soft_of(se);
    tes_err err;
    if ((err = se_check_pin_format(old_pin, false, false)) != TES_OK)
        return err;
    if ((err = se_check_pin_format(new_pin, false, false)) != TES_OK)
        return tes_err_set(err, "new PIN: %s", tes_err_message());
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    if ((err = pin_check(s, &st, old_pin)) == TES_OK &&
        (err = secret_set(s, new_pin, false, st.pin_salt, st.pin_hash)) == TES_OK)
        st.dirty = true;
    return op_end(s, &st, err);
}

static tes_err soft_pin_unblock(tes_se *se, const char *puk, const char *new_pin)
{
    soft_se *s = soft_of(se);
    tes_err err;
    if ((err = se_check_pin_format(puk, true, false)) != TES_OK)
        return err;
    if ((err = se_check_pin_format(new_pin, false, false)) != TES_OK)
        return tes_err_set(err, "new PIN: %s", tes_err_message());
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    if (!st.pin_set) {
        err = tes_err_set(TES_ERR_PIN_NOT_SET, "no PIN (and no PUK) is set on this secure element");
        goto out;
    }
    if (st.blocked || st.puk_tries <= 0) {
        if (!st.blocked) {
            st.blocked = true; /* killed after the last decrement: finish it */
            st.dirty = true;
        }
        err = tes_err_set(TES_ERR_SE_BLOCKED,
                          "the secure element is permanently blocked (too many wrong PUKs)");
        goto out;
    }
    uint8_t h[SOFT_HASH_LEN];
    if ((err = secret_hash(puk, true, st.puk_salt, h)) != TES_OK)
        goto out;
    st.puk_tries--;
    st.dirty = true;
    if ((err = soft_state_store(s, &st)) != TES_OK) {
        tes_wipe(h, sizeof h);
        goto out;
    }
    bool ok = tes_ct_eq(TES_BYTES(h, sizeof h), TES_BYTES(st.puk_hash, SOFT_HASH_LEN));
    tes_wipe(h, sizeof h);
    if (!ok) {
        if (st.puk_tries == 0) {
            st.blocked = true;
            st.dirty = true;
            err = tes_err_set(TES_ERR_PUK_WRONG, "wrong PUK: no tries left, the secure element "
                                                 "is now permanently blocked");
        } else {
            err = tes_err_set(TES_ERR_PUK_WRONG, "wrong PUK: %d %s left", st.puk_tries,
                              st.puk_tries == 1 ? "try" : "tries");
        }
        goto out;
    }
    if ((err = secret_set(s, new_pin, false, st.pin_salt, st.pin_hash)) != TES_OK)
        goto out;
    st.pin_tries = TES_SE_PIN_TRIES;
    st.puk_tries = TES_SE_PUK_TRIES;
    st.dirty = true;
out:
    return op_end(s, &st, err);
}

static tes_err soft_pin_status(tes_se *se, int *pin_tries_left, int *puk_tries_left, bool *pin_set)
{
    soft_se *s = soft_of(se);
    soft_state st;
    tes_err err = op_begin(s, &st);
    if (err)
        return err;
    if (pin_tries_left != NULL)
        *pin_tries_left = st.pin_set ? st.pin_tries : TES_SE_PIN_TRIES;
    if (puk_tries_left != NULL)
        *puk_tries_left = !st.pin_set ? TES_SE_PUK_TRIES : st.blocked ? 0 : st.puk_tries;
    if (pin_set != NULL)
        *pin_set = st.pin_set;
    return op_end(s, &st, TES_OK);
}

/* ---------------------------------------------------------------- keys */

static uint32_t soft_caps(tes_se *se)
{
    (void)se;
    return SOFT_CAPS;
}

static tes_err check_id(const char *id)
{
    if (id == NULL)
        return tes_err_set(TES_ERR_ARG, "no key id given");
    if (strnlen(id, TES_SE_ID_MAX) >= TES_SE_ID_MAX)
        return tes_err_set(TES_ERR_KEY_UNKNOWN, "no such key (id longer than %d characters)",
                           TES_SE_ID_MAX - 1);
    return TES_OK;
}

static tes_err key_unknown(const char *id)
{
    return tes_err_set(TES_ERR_KEY_UNKNOWN, "no key \"%.64s\" in this secure element", id);
}

static tes_err soft_create_key(tes_se *se, const tes_se_key_opts *opts, char id[TES_SE_ID_MAX])
{
    soft_se *s = soft_of(se);
    if (opts == NULL || id == NULL)
        return tes_err_set(TES_ERR_ARG, "create_key: NULL argument");
    soft_key k;
    memset(&k, 0, sizeof k);
    uint8_t rid[16];
    tes_err err = tes_rng_fill(&s->rng, rid, sizeof rid);
    if (err)
        return err;
    for (size_t i = 0; i < sizeof rid; i++)
        snprintf(k.id + 2 * i, 3, "%02x", rid[i]);
    k.uv = opts->user_verification;
    k.single_use = opts->single_use;
    if ((err = soft_scalar_new(&s->rng, k.d, NULL)) != TES_OK)
        return err;
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK) {
        tes_wipe(&k, sizeof k);
        return err;
    }
    err = soft_state_add_key(&st, &k);
    tes_wipe(k.d, sizeof k.d);
    if (err == TES_OK && st.dirty)
        err = soft_state_store(s, &st); /* committed before the id is handed out */
    if (err == TES_OK)
        memcpy(id, k.id, sizeof k.id);
    return op_end(s, &st, err);
}

static tes_err soft_key_info(tes_se *se, const char *id, tes_se_key_info *out)
{
    soft_se *s = soft_of(se);
    tes_err err = check_id(id);
    if (err)
        return err;
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "key_info: NULL argument");
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    const soft_key *k = soft_state_find(&st, id);
    if (k == NULL) {
        err = key_unknown(id);
    } else {
        memset(out, 0, sizeof *out);
        memcpy(out->id, k->id, sizeof k->id);
        out->curve = TES_CURVE_P256;
        out->user_verification = k->uv;
        out->single_use = k->single_use;
        out->used = k->used;
        out->enforced_by_backend = SOFT_CAPS;
    }
    return op_end(s, &st, err);
}

/* The key object of k (private; free after use). */
static tes_err key_object(const soft_key *k, tes_key **out)
{
    return tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(k->d, SOFT_SCALAR_LEN), out);
}

static tes_err soft_public_key(tes_se *se, const char *id, tes_key **out)
{
    soft_se *s = soft_of(se);
    tes_err err = check_id(id);
    if (err)
        return err;
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "public_key: NULL argument");
    *out = NULL;
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    const soft_key *k = soft_state_find(&st, id);
    tes_key *priv = NULL;
    tes_buf spki = {0};
    if (k == NULL) {
        err = key_unknown(id);
    } else if ((err = key_object(k, &priv)) == TES_OK &&
               (err = tes_key_spki_der(priv, &spki)) == TES_OK) {
        err = tes_key_parse(tes_buf_bytes(&spki), out); /* a public-only object */
    }
    tes_key_free(priv);
    tes_buf_free(&spki);
    return op_end(s, &st, err);
}

/* Shared gate of sign and key agreement (state loaded, lock held): key exists,
 * not used up, PIN when needed. */
static tes_err use_gate(soft_se *s, soft_state *st, const char *id, const char *pin, soft_key **out)
{
    soft_key *k = soft_state_find(st, id);
    if (k == NULL)
        return key_unknown(id);
    if (k->single_use && k->used)
        return tes_err_set(TES_ERR_KEY_USED, "single-use key \"%s\" was already used", id);
    if (k->uv) {
        if (pin == NULL)
            return tes_err_set(TES_ERR_PIN_REQUIRED,
                               "key \"%s\" needs user verification: give the PIN", id);
        tes_err err = se_check_pin_format(pin, false, false); /* a malformed PIN costs no try */
        if (err == TES_OK)
            err = pin_check(s, st, pin);
        if (err)
            return err;
    }
    *out = k;
    return TES_OK;
}

static tes_err soft_sign(tes_se *se, const char *id, const char *pin, tes_bytes msg, uint8_t *sig,
                         size_t *sig_len)
{
    soft_se *s = soft_of(se);
    tes_err err = check_id(id);
    if (err)
        return err;
    if (sig == NULL || sig_len == NULL || (msg.ptr == NULL && msg.len != 0))
        return tes_err_set(TES_ERR_ARG, "sign: NULL argument");
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    soft_key *k = NULL;
    tes_key *priv = NULL;
    uint8_t tmp[TES_MAX_SIG];
    size_t tmp_len = 0;
    if ((err = use_gate(s, &st, id, pin, &k)) != TES_OK)
        goto out;
    if ((err = key_object(k, &priv)) != TES_OK ||
        (err = tes_key_sign(priv, TES_HASH_SHA256, msg, tmp, &tmp_len)) != TES_OK)
        goto out;
    if (k->single_use) {
        k->used = true;
        st.dirty = true;
    }
    if (st.dirty && (err = soft_state_store(s, &st)) != TES_OK)
        goto out; /* the signature is released only once "used" is on disk */
    memcpy(sig, tmp, tmp_len);
    *sig_len = tmp_len;
out:
    tes_key_free(priv);
    tes_wipe(tmp, sizeof tmp);
    return op_end(s, &st, err);
}

static tes_err soft_key_agreement(tes_se *se, const char *id, const char *pin, const tes_key *peer,
                                  uint8_t out[TES_MAX_COORD], size_t *out_len)
{
    soft_se *s = soft_of(se);
    tes_err err = check_id(id);
    if (err)
        return err;
    if (peer == NULL || out == NULL || out_len == NULL)
        return tes_err_set(TES_ERR_ARG, "key_agreement: NULL argument");
    if (tes_key_curve(peer) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_ARG, "key_agreement: the peer key is not on P-256");
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    soft_key *k = NULL;
    tes_key *priv = NULL;
    uint8_t z[TES_MAX_COORD];
    size_t z_len = 0;
    if ((err = use_gate(s, &st, id, pin, &k)) != TES_OK)
        goto out;
    if ((err = key_object(k, &priv)) != TES_OK || (err = tes_key_ecdh(priv, peer, z, &z_len)))
        goto out;
    if (k->single_use) {
        k->used = true;
        st.dirty = true;
    }
    if (st.dirty && (err = soft_state_store(s, &st)) != TES_OK)
        goto out;
    memcpy(out, z, z_len);
    *out_len = z_len;
out:
    tes_key_free(priv);
    tes_wipe(z, sizeof z);
    return op_end(s, &st, err);
}

static tes_err soft_delete_key(tes_se *se, const char *id)
{
    soft_se *s = soft_of(se);
    tes_err err = check_id(id);
    if (err)
        return err;
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    soft_key *k = soft_state_find(&st, id);
    if (k == NULL)
        err = key_unknown(id);
    else
        soft_state_remove_key(&st, k);
    return op_end(s, &st, err);
}

static tes_err soft_list_keys(tes_se *se, char (*ids)[TES_SE_ID_MAX], size_t max, size_t *n)
{
    soft_se *s = soft_of(se);
    if (n == NULL || (ids == NULL && max != 0))
        return tes_err_set(TES_ERR_ARG, "list_keys: NULL argument");
    *n = 0;
    soft_state st;
    tes_err err = op_begin(s, &st);
    if (err)
        return err;
    size_t i = 0;
    for (; i < st.nkeys && i < max; i++)
        memcpy(ids[i], st.keys[i].id, sizeof st.keys[i].id);
    *n = i;
    if (st.nkeys > max)
        err = tes_err_set(TES_ERR_BUFFER_SMALL, "%zu keys, room for %zu", st.nkeys, max);
    return op_end(s, &st, err);
}

/* ---------------------------------------------------------------- attestation */

#define SOFT_LEAF_DAYS 365
#define SOFT_ATT_YEARS 20

static tes_err soft_attest(tes_se *se, const char *id, tes_bytes challenge, tes_buf *chain)
{
    soft_se *s = soft_of(se);
    tes_err err = check_id(id);
    if (err)
        return err;
    if (chain == NULL || (challenge.ptr == NULL && challenge.len != 0))
        return tes_err_set(TES_ERR_ARG, "attest: NULL argument");
    if (challenge.len > 1024)
        return tes_err_set(TES_ERR_ARG, "attest: challenge longer than 1024 bytes");
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    tes_key *att_key = NULL, *priv = NULL;
    tes_cert *att_cert = NULL, *leaf = NULL;
    tes_buf ext = {0};
    const soft_key *k = soft_state_find(&st, id);
    if (k == NULL) {
        err = key_unknown(id);
        goto out;
    }
    if ((err = se_attestation_ext(k->uv, k->single_use, "soft", challenge, &ext)) != TES_OK ||
        (err = key_object(k, &priv)) != TES_OK ||
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
    return op_end(s, &st, err);
}

/* ---------------------------------------------------------------- key attestation JWT */

/* Appends s (printable ASCII, checked by the caller) as a JSON string. */
static void json_str(tes_buf *b, const char *s)
{
    tes_buf_append(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            tes_buf_append(b, "\\", 1);
        tes_buf_append(b, s, 1);
    }
    tes_buf_append(b, "\"", 1);
}

/* Appends the public JWK of an EC P-256 key. */
static tes_err json_jwk(tes_buf *b, const tes_key *k)
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    tes_err err = tes_key_public_raw(k, x, y);
    if (err != TES_OK)
        return err;
    static const char head[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"";
    tes_buf_append(b, head, sizeof head - 1);
    tes_b64url_encode(b, TES_BYTES(x, SOFT_SCALAR_LEN));
    tes_buf_append(b, "\",\"y\":\"", 7);
    tes_b64url_encode(b, TES_BYTES(y, SOFT_SCALAR_LEN));
    tes_buf_append(b, "\"}", 2);
    return TES_OK;
}

static void json_int(tes_buf *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    tes_buf_append(b, t, (size_t)n);
}

/* Checks the arguments of attest_jwt that need no state. */
static tes_err ka_args(const char *const *ids, size_t n_ids, const char *nonce, tes_buf *jwt)
{
    if (ids == NULL || jwt == NULL)
        return tes_err_set(TES_ERR_ARG, "attest_jwt: NULL argument");
    if (n_ids == 0 || n_ids > TES_KA_MAX_KEYS)
        return tes_err_set(TES_ERR_ARG, "attest_jwt: 1..%d keys, not %zu", TES_KA_MAX_KEYS, n_ids);
    for (size_t i = 0; i < n_ids; i++) {
        tes_err err = check_id(ids[i]);
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

/* The claims: keys and their protections as they are in the sealed state. */
static tes_err ka_payload(soft_state *st, const char *const *ids, size_t n_ids, const char *nonce,
                          int64_t iat, int64_t exp, tes_buf *out)
{
    const soft_key *first = NULL;
    tes_err err = TES_OK;
    tes_buf_append(out, "{\"iat\":", 7);
    json_int(out, iat);
    tes_buf_append(out, ",\"exp\":", 7);
    json_int(out, exp);
    tes_buf_append(out, ",\"attested_keys\":[", 18);
    for (size_t i = 0; i < n_ids && err == TES_OK; i++) {
        const soft_key *k = soft_state_find(st, ids[i]);
        tes_key *priv = NULL;
        if (k == NULL)
            return key_unknown(ids[i]);
        if (k->single_use && k->used)
            return tes_err_set(TES_ERR_KEY_USED,
                               "key \"%.64s\" is single-use and already used: nothing to attest",
                               k->id);
        if (first == NULL)
            first = k;
        else if (k->uv != first->uv || k->single_use != first->single_use)
            return tes_err_set(TES_ERR_ARG,
                               "attest_jwt: keys \"%s\" and \"%s\" have different protections "
                               "(user verification, single use); attest them separately",
                               first->id, k->id);
        if (i > 0)
            tes_buf_append(out, ",", 1);
        if ((err = key_object(k, &priv)) == TES_OK) /* only the public half is written */
            err = json_jwk(out, priv);
        tes_key_free(priv);
    }
    if (err != TES_OK)
        return err;
    tes_buf_append(out, "],\"key_storage\":[", 17);
    json_str(out, TES_KA_STORAGE_SOFT);
    if (first->single_use) {
        tes_buf_append(out, ",", 1);
        json_str(out, TES_KA_STORAGE_SINGLE_USE);
    }
    tes_buf_append(out, "]", 1);
    if (first->uv) {
        tes_buf_append(out, ",\"user_authentication\":[", 24);
        json_str(out, TES_KA_USER_AUTH_PIN);
        tes_buf_append(out, "]", 1);
    }
    if (nonce != NULL) {
        tes_buf_append(out, ",\"nonce\":", 9);
        json_str(out, nonce);
    }
    tes_buf_append(out, "}", 1);
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "out of memory") : TES_OK;
}

static tes_err soft_attest_jwt(tes_se *se, const char *const *ids, size_t n_ids, const char *nonce,
                               tes_buf *jwt)
{
    soft_se *s = soft_of(se);
    tes_err err = ka_args(ids, n_ids, nonce, jwt);
    if (err)
        return err;
    soft_state st;
    if ((err = op_begin(s, &st)) != TES_OK)
        return err;
    tes_key *att_key = NULL, *signer = NULL;
    tes_cert *att_cert = NULL, *signer_cert = NULL;
    tes_buf hdr = {0}, payload = {0}, out = {0};
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
    static const char h1[] = "{\"alg\":\"ES256\",\"typ\":\"" TES_KA_JWT_TYP "\",\"x5c\":[\"";
    tes_buf_append(&hdr, h1, sizeof h1 - 1);
    tes_b64_encode(&hdr, tes_cert_der(signer_cert));
    tes_buf_append(&hdr, "\",\"", 3);
    tes_b64_encode(&hdr, tes_cert_der(att_cert));
    tes_buf_append(&hdr, "\"]}", 3);
    tes_b64url_encode(&out, tes_buf_bytes(&hdr));
    tes_buf_append(&out, ".", 1);
    tes_b64url_encode(&out, tes_buf_bytes(&payload));
    if (hdr.failed || out.failed) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = 0;
    if ((err = tes_key_sign(signer, TES_HASH_SHA256, tes_buf_bytes(&out), sig, &sig_len)) != TES_OK)
        goto out;
    tes_buf_append(&out, ".", 1);
    tes_b64url_encode(&out, TES_BYTES(sig, sig_len));
    if (out.failed) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t before = jwt->len;
    tes_buf_append(jwt, out.ptr, out.len);
    if (jwt->failed) {
        jwt->len = before;
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
out:
    tes_cert_free(signer_cert);
    tes_cert_free(att_cert);
    tes_key_free(signer);
    tes_key_free(att_key);
    tes_buf_free(&hdr);
    tes_buf_free(&payload);
    tes_buf_free(&out);
    return op_end(s, &st, err);
}

/* Self-signed attestation certificate for a new secure element. */
static tes_err att_self_signed(soft_se *s, const tes_key *att_key, tes_buf *der)
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
    if ((err = op_begin(s, &st)) != TES_OK)
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
        err = op_end(s, &st, err);
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

/* ---------------------------------------------------------------- open / close */

static void soft_close(tes_se *se)
{
    soft_se *s = soft_of(se);
    if (s == NULL)
        return;
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    tes_wipe(s, sizeof *s);
    free(s);
}

static const tes_se_ops soft_ops = {
    .size = sizeof(tes_se_ops),
    .name = "soft",
    .caps = soft_caps,
    .create_key = soft_create_key,
    .key_info = soft_key_info,
    .public_key = soft_public_key,
    .sign = soft_sign,
    .key_agreement = soft_key_agreement,
    .attest = soft_attest,
    .delete_key = soft_delete_key,
    .pin_set = soft_pin_set,
    .pin_verify = soft_pin_verify,
    .pin_change = soft_pin_change,
    .pin_unblock = soft_pin_unblock,
    .pin_status = soft_pin_status,
    .list_keys = soft_list_keys,
    .close = soft_close,
    .attest_jwt = soft_attest_jwt,
};

static bool file_exists(const char *path, tes_err *err)
{
    if (access(path, F_OK) == 0)
        return true;
    if (errno != ENOENT)
        *err = tes_err_set(TES_ERR_IO, "cannot access '%s': %s", path, strerror(errno));
    return false;
}

/* Derives the sealing key from device.key (creating device.key when create). */
static tes_err load_device_key(soft_se *s, bool create)
{
    char path[PATH_MAX];
    soft_path(s, "device.key", path);
    tes_buf b = {.secret = true};
    tes_err err;
    if (create) {
        uint8_t k[32];
        if ((err = tes_rng_fill(&s->rng, k, sizeof k)) != TES_OK)
            return err;
        err = tes_file_write(path, TES_BYTES(k, sizeof k), 0600);
        tes_wipe(k, sizeof k);
        if (err)
            return err;
    }
    if ((err = tes_file_read(path, 64, &b)) != TES_OK) {
        tes_buf_free(&b);
        return err;
    }
    if (b.len != 32) {
        err = tes_err_set(TES_ERR_SE_TAMPERED, "device key '%s' has %zu bytes instead of 32", path,
                          b.len);
    } else {
        static const char info[] = "tessera soft-se state";
        err = tes_hkdf_sha256(tes_buf_bytes(&b), TES_BYTES(NULL, 0), TES_BYTES_STR(info),
                              s->seal_key, sizeof s->seal_key);
    }
    tes_buf_free(&b);
    return err;
}

/* First open (or an initialisation cut short before any state existed):
 * counter 0, then the first sealed state (version 1), then counter 1. */
static tes_err soft_init(soft_se *s)
{
    soft_state st;
    memset(&st, 0, sizeof st);
    tes_key *att_key = NULL;
    tes_err err = soft_counter_write(s, 0);
    if (err == TES_OK)
        err = soft_scalar_new(&s->rng, st.att_d, &att_key);
    if (err == TES_OK)
        err = att_self_signed(s, att_key, &st.att_cert);
    tes_key_free(att_key);
    st.counter = 0;
    st.pin_tries = TES_SE_PIN_TRIES;
    st.puk_tries = TES_SE_PUK_TRIES;
    if (err == TES_OK)
        err = soft_state_store(s, &st);
    soft_state_free(&st);
    return err;
}

/* Under the lock: decides between "new", "finish an interrupted creation" and
 * "existing", and checks the existing state. */
static tes_err soft_open_locked(soft_se *s)
{
    char kpath[PATH_MAX], spath[PATH_MAX];
    soft_path(s, "device.key", kpath);
    soft_path(s, "state.bin", spath);
    tes_err err = TES_OK;
    bool have_key = file_exists(kpath, &err);
    bool have_state = file_exists(spath, &err);
    uint64_t n = 0;
    bool have_counter = false;
    if (err == TES_OK)
        err = soft_counter_read(s, &n, &have_counter);
    if (err)
        return err;
    if (!have_key) {
        if (have_state || have_counter)
            return tes_err_set(TES_ERR_SE_TAMPERED,
                               "device key '%s' is missing but the secure element's state "
                               "exists: the state cannot be opened",
                               kpath);
        if ((err = load_device_key(s, true)) != TES_OK)
            return err;
        return soft_init(s);
    }
    if ((err = load_device_key(s, false)) != TES_OK)
        return err;
    /* Creation was interrupted before any sealed state existed: nothing to lose. */
    if (!have_state && (!have_counter || n == 0))
        return soft_init(s);
    soft_state st;
    if ((err = soft_state_load(s, &st)) != TES_OK)
        return err;
    soft_state_free(&st);
    return TES_OK;
}

tes_err se_soft_open(const char *dir, const tes_clock *clock, const tes_rng *rng, tes_se **out)
{
    if (dir == NULL || out == NULL || dir[0] == '\0')
        return tes_err_set(TES_ERR_ARG, "se_soft_open: NULL argument");
    *out = NULL;
    soft_se *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory opening the secure element");
    s->base.ops = &soft_ops;
    s->lock_fd = -1;
    s->clock = clock != NULL ? *clock : tes_clock_system();
    s->rng = rng != NULL ? *rng : tes_rng_system();
    tes_err err = TES_OK;
    if (strlen(dir) >= sizeof s->dir) {
        err = tes_err_set(TES_ERR_ARG, "secure element directory path too long");
        goto fail;
    }
    strcpy(s->dir, dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        err = tes_err_set(TES_ERR_IO, "cannot create '%s': %s", dir, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        err = tes_err_set(TES_ERR_IO, "'%s' is not a directory", dir);
        goto fail;
    }
    char lpath[PATH_MAX];
    soft_path(s, "lock", lpath);
    s->lock_fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        err = tes_err_set(TES_ERR_IO, "cannot open '%s': %s", lpath, strerror(errno));
        goto fail;
    }
    if ((err = soft_lock(s)) != TES_OK)
        goto fail;
    err = soft_open_locked(s);
    soft_unlock(s);
    if (err)
        goto fail;
    *out = &s->base;
    return TES_OK;
fail:
    soft_close(&s->base);
    return err;
}
