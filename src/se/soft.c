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

soft_se *soft_of(tes_se *se)
{
    return se != NULL && se->ops == &soft_ops ? (soft_se *)se : NULL;
}

/* ---------------------------------------------------------------- operation frame */

/* Locks and loads; on failure nothing is held. */
tes_err soft_op_begin(soft_se *s, soft_state *st)
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
tes_err soft_op_end(soft_se *s, soft_state *st, tes_err err)
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

tes_err soft_pin_check(soft_se *s, soft_state *st, const char *pin)
{
    return pin_check(s, st, pin);
}

static tes_err soft_pin_set(tes_se *se, const char *pin, const char *puk)
{
    soft_se *s = soft_of(se);
    tes_err err;
    if ((err = se_check_pin_format(pin, SE_SECRET_PIN, SE_PIN_DIGITS)) != TES_OK ||
        (err = se_check_pin_format(puk, SE_SECRET_PUK, SE_PIN_DIGITS)) != TES_OK)
        return err;
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
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
    return soft_op_end(s, &st, err);
}

static tes_err soft_pin_verify(tes_se *se, const char *pin)
{
    soft_se *s = soft_of(se);
    tes_err err = se_check_pin_format(pin, SE_SECRET_PIN, SE_PIN_DIGITS);
    if (err)
        return err;
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    return soft_op_end(s, &st, pin_check(s, &st, pin));
}

static tes_err soft_pin_change(tes_se *se, const char *old_pin, const char *new_pin)
{
    soft_se *s = soft_of(se);
    tes_err err;
    if ((err = se_check_pin_format(old_pin, SE_SECRET_PIN, SE_PIN_DIGITS)) != TES_OK)
        return err;
    if ((err = se_check_pin_format(new_pin, SE_SECRET_PIN, SE_PIN_DIGITS)) != TES_OK)
        return tes_err_set(err, "new PIN: %s", tes_err_message());
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    if ((err = pin_check(s, &st, old_pin)) == TES_OK &&
        (err = secret_set(s, new_pin, false, st.pin_salt, st.pin_hash)) == TES_OK)
        st.dirty = true;
    return soft_op_end(s, &st, err);
}

static tes_err soft_pin_unblock(tes_se *se, const char *puk, const char *new_pin)
{
    soft_se *s = soft_of(se);
    tes_err err;
    if ((err = se_check_pin_format(puk, SE_SECRET_PUK, SE_PIN_DIGITS)) != TES_OK)
        return err;
    if ((err = se_check_pin_format(new_pin, SE_SECRET_PIN, SE_PIN_DIGITS)) != TES_OK)
        return tes_err_set(err, "new PIN: %s", tes_err_message());
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
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
    return soft_op_end(s, &st, err);
}

static tes_err soft_pin_status(tes_se *se, int *pin_tries_left, int *puk_tries_left, bool *pin_set)
{
    soft_se *s = soft_of(se);
    soft_state st;
    tes_err err = soft_op_begin(s, &st);
    if (err)
        return err;
    if (pin_tries_left != NULL)
        *pin_tries_left = st.pin_set ? st.pin_tries : TES_SE_PIN_TRIES;
    if (puk_tries_left != NULL)
        *puk_tries_left = !st.pin_set ? TES_SE_PUK_TRIES : st.blocked ? 0 : st.puk_tries;
    if (pin_set != NULL)
        *pin_set = st.pin_set;
    return soft_op_end(s, &st, TES_OK);
}

/* ---------------------------------------------------------------- keys */

static uint32_t soft_caps(tes_se *se)
{
    (void)se;
    return SOFT_CAPS | TES_SE_CAP_PSEUDONYM;
}

tes_err soft_check_id(const char *id)
{
    if (id == NULL)
        return tes_err_set(TES_ERR_ARG, "no key id given");
    if (strnlen(id, TES_SE_ID_MAX) >= TES_SE_ID_MAX)
        return tes_err_set(TES_ERR_KEY_UNKNOWN, "no such key (id longer than %d characters)",
                           TES_SE_ID_MAX - 1);
    return TES_OK;
}

tes_err soft_key_unknown(const char *id)
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
    if ((err = soft_op_begin(s, &st)) != TES_OK) {
        tes_wipe(&k, sizeof k);
        return err;
    }
    err = soft_state_add_key(&st, &k);
    tes_wipe(k.d, sizeof k.d);
    if (err == TES_OK && st.dirty)
        err = soft_state_store(s, &st); /* committed before the id is handed out */
    if (err == TES_OK)
        memcpy(id, k.id, sizeof k.id);
    return soft_op_end(s, &st, err);
}

static tes_err soft_key_info(tes_se *se, const char *id, tes_se_key_info *out)
{
    soft_se *s = soft_of(se);
    tes_err err = soft_check_id(id);
    if (err)
        return err;
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "key_info: NULL argument");
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    const soft_key *k = soft_state_find(&st, id);
    if (k == NULL) {
        err = soft_key_unknown(id);
    } else {
        memset(out, 0, sizeof *out);
        memcpy(out->id, k->id, sizeof k->id);
        out->curve = TES_CURVE_P256;
        out->user_verification = k->uv;
        out->single_use = k->single_use;
        out->used = k->used;
        out->enforced_by_backend = SOFT_CAPS;
    }
    return soft_op_end(s, &st, err);
}

/* The key object of k (private; free after use). */
tes_err soft_key_object(const soft_key *k, tes_key **out)
{
    return tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(k->d, SOFT_SCALAR_LEN), out);
}

static tes_err soft_public_key(tes_se *se, const char *id, tes_key **out)
{
    soft_se *s = soft_of(se);
    tes_err err = soft_check_id(id);
    if (err)
        return err;
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "public_key: NULL argument");
    *out = NULL;
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    const soft_key *k = soft_state_find(&st, id);
    tes_key *priv = NULL;
    tes_buf spki = {0};
    if (k == NULL) {
        err = soft_key_unknown(id);
    } else if ((err = soft_key_object(k, &priv)) == TES_OK &&
               (err = tes_key_spki_der(priv, &spki)) == TES_OK) {
        err = tes_key_parse(tes_buf_bytes(&spki), out); /* a public-only object */
    }
    tes_key_free(priv);
    tes_buf_free(&spki);
    return soft_op_end(s, &st, err);
}

/* Shared gate of sign and key agreement (state loaded, lock held): key exists,
 * not used up, PIN when needed. */
static tes_err use_gate(soft_se *s, soft_state *st, const char *id, const char *pin, soft_key **out)
{
    soft_key *k = soft_state_find(st, id);
    if (k == NULL)
        return soft_key_unknown(id);
    if (k->single_use && k->used)
        return tes_err_set(TES_ERR_KEY_USED, "single-use key \"%s\" was already used", id);
    if (k->uv) {
        if (pin == NULL)
            return tes_err_set(TES_ERR_PIN_REQUIRED,
                               "key \"%s\" needs user verification: give the PIN", id);
        tes_err err = se_check_pin_format(pin, SE_SECRET_PIN,
                                          SE_PIN_DIGITS); /* a malformed PIN costs no try */
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
    tes_err err = soft_check_id(id);
    if (err)
        return err;
    if (sig == NULL || sig_len == NULL || (msg.ptr == NULL && msg.len != 0))
        return tes_err_set(TES_ERR_ARG, "sign: NULL argument");
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    soft_key *k = NULL;
    tes_key *priv = NULL;
    uint8_t tmp[TES_MAX_SIG];
    size_t tmp_len = 0;
    if ((err = use_gate(s, &st, id, pin, &k)) != TES_OK)
        goto out;
    if ((err = soft_key_object(k, &priv)) != TES_OK ||
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
    return soft_op_end(s, &st, err);
}

static tes_err soft_key_agreement(tes_se *se, const char *id, const char *pin, const tes_key *peer,
                                  uint8_t out[TES_MAX_COORD], size_t *out_len)
{
    soft_se *s = soft_of(se);
    tes_err err = soft_check_id(id);
    if (err)
        return err;
    if (peer == NULL || out == NULL || out_len == NULL)
        return tes_err_set(TES_ERR_ARG, "key_agreement: NULL argument");
    if (tes_key_curve(peer) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_ARG, "key_agreement: the peer key is not on P-256");
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    soft_key *k = NULL;
    tes_key *priv = NULL;
    uint8_t z[TES_MAX_COORD];
    size_t z_len = 0;
    if ((err = use_gate(s, &st, id, pin, &k)) != TES_OK)
        goto out;
    if ((err = soft_key_object(k, &priv)) != TES_OK || (err = tes_key_ecdh(priv, peer, z, &z_len)))
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
    return soft_op_end(s, &st, err);
}

static tes_err soft_delete_key(tes_se *se, const char *id)
{
    soft_se *s = soft_of(se);
    tes_err err = soft_check_id(id);
    if (err)
        return err;
    soft_state st;
    if ((err = soft_op_begin(s, &st)) != TES_OK)
        return err;
    soft_key *k = soft_state_find(&st, id);
    if (k == NULL)
        err = soft_key_unknown(id);
    else
        soft_state_remove_key(&st, k);
    return soft_op_end(s, &st, err);
}

static tes_err soft_list_keys(tes_se *se, char (*ids)[TES_SE_ID_MAX], size_t max, size_t *n)
{
    soft_se *s = soft_of(se);
    if (n == NULL || (ids == NULL && max != 0))
        return tes_err_set(TES_ERR_ARG, "list_keys: NULL argument");
    *n = 0;
    soft_state st;
    tes_err err = soft_op_begin(s, &st);
    if (err)
        return err;
    size_t i = 0;
    for (; i < st.nkeys && i < max; i++)
        memcpy(ids[i], st.keys[i].id, sizeof st.keys[i].id);
    *n = i;
    if (st.nkeys > max)
        err = tes_err_set(TES_ERR_BUFFER_SMALL, "%zu keys, room for %zu", st.nkeys, max);
    return soft_op_end(s, &st, err);
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
    .pseudonym = soft_pseudonym,
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
        err = soft_att_self_signed(s, att_key, &st.att_cert);
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
