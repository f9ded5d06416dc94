/*
 * soft_state.c — the software secure element's sealed state: lock, monotonic
 * counter, sealing (AES-256-GCM under the device key) and the CBOR form.
 *
 * state.bin = "TSE1" || counter (8 bytes BE) || IV (12) || AES-256-GCM(ciphertext || tag)
 * with aad = the first 12 bytes. The counter is in clear so that an older,
 * authentic copy can be told apart from a damaged one (rollback vs tamper); it
 * is authenticated as aad and repeated inside the plaintext.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "se/soft_internal.h"
#include "tessera/cbor.h"

void soft_path(const soft_se *s, const char *name, char out[PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s/%s", s->dir, name);
}

/* ---------------------------------------------------------------- lock */

tes_err soft_lock(soft_se *s)
{
    while (flock(s->lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR)
            return tes_err_set(TES_ERR_IO, "cannot lock the secure element in '%s': %s", s->dir,
                               strerror(errno));
    }
    return TES_OK;
}

void soft_unlock(soft_se *s)
{
    flock(s->lock_fd, LOCK_UN);
}

/* ---------------------------------------------------------------- counter */

tes_err soft_counter_read(const soft_se *s, uint64_t *value, bool *exists)
{
    char path[PATH_MAX];
    soft_path(s, "counter", path);
    *value = 0;
    *exists = false;
    if (access(path, F_OK) != 0) {
        if (errno == ENOENT)
            return TES_OK;
        return tes_err_set(TES_ERR_IO, "cannot access '%s': %s", path, strerror(errno));
    }
    struct stat sb;
    if (stat(path, &sb) == 0 && (!S_ISREG(sb.st_mode) || sb.st_size > 32))
        return tes_err_set(TES_ERR_SE_TAMPERED, "counter file '%s' is not a short regular file",
                           path);
    tes_buf b = {0};
    tes_err err = tes_file_read(path, 32, &b);
    if (err) {
        tes_buf_free(&b);
        return err;
    }
    *exists = true;
    size_t n = b.len;
    if (n > 0 && b.ptr[n - 1] == '\n')
        n--;
    uint64_t v = 0;
    bool ok = n > 0 && n <= 19;
    for (size_t i = 0; ok && i < n; i++) {
        if (b.ptr[i] < '0' || b.ptr[i] > '9')
            ok = false;
        else
            v = v * 10 + (uint64_t)(b.ptr[i] - '0');
    }
    tes_buf_free(&b);
    if (!ok)
        return tes_err_set(TES_ERR_SE_TAMPERED, "counter file '%s' is not a decimal number", path);
    *value = v;
    return TES_OK;
}

tes_err soft_counter_write(const soft_se *s, uint64_t value)
{
    char path[PATH_MAX], text[32];
    soft_path(s, "counter", path);
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)value);
    return tes_file_write(path, TES_BYTES(text, (size_t)n), 0600);
}

/* ---------------------------------------------------------------- keys */

soft_key *soft_state_find(soft_state *st, const char *id)
{
    if (id == NULL)
        return NULL;
    for (size_t i = 0; i < st->nkeys; i++)
        if (strcmp(st->keys[i].id, id) == 0)
            return &st->keys[i];
    return NULL;
}

tes_err soft_state_add_key(soft_state *st, const soft_key *k)
{
    if (st->nkeys >= SOFT_MAX_KEYS)
        return tes_err_set(TES_ERR_SE_BACKEND, "the secure element is full (%d keys)",
                           SOFT_MAX_KEYS);
    /* Grow by copying so that no unwiped copy of scalars stays behind in freed memory. */
    soft_key *nk = calloc(st->nkeys + 1, sizeof *nk);
    if (nk == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory adding a key");
    if (st->nkeys > 0)
        memcpy(nk, st->keys, st->nkeys * sizeof *nk);
    nk[st->nkeys] = *k;
    if (st->keys != NULL) {
        tes_wipe(st->keys, st->nkeys * sizeof *st->keys);
        free(st->keys);
    }
    st->keys = nk;
    st->nkeys++;
    st->dirty = true;
    return TES_OK;
}

void soft_state_remove_key(soft_state *st, soft_key *k)
{
    size_t i = (size_t)(k - st->keys);
    if (i >= st->nkeys)
        return;
    memmove(&st->keys[i], &st->keys[i + 1], (st->nkeys - i - 1) * sizeof *k);
    st->nkeys--;
    tes_wipe(&st->keys[st->nkeys], sizeof *k);
    st->dirty = true;
}

void soft_state_free(soft_state *st)
{
    if (st->keys != NULL) {
        tes_wipe(st->keys, st->nkeys * sizeof *st->keys);
        free(st->keys);
    }
    tes_buf_free(&st->att_cert);
    tes_wipe(st, sizeof *st);
}

tes_err soft_scalar_new(const tes_rng *rng, uint8_t d[SOFT_SCALAR_LEN], tes_key **key)
{
    /* Rejection sampling (FIPS 186-4 B.4.2): retry the ~2^-32 case d >= n or d == 0. */
    for (int attempt = 0; attempt < 16; attempt++) {
        tes_err err = tes_rng_fill(rng, d, SOFT_SCALAR_LEN);
        if (err)
            return err;
        tes_key *k = NULL;
        err = tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(d, SOFT_SCALAR_LEN), &k);
        if (err == TES_OK) {
            if (key != NULL)
                *key = k;
            else
                tes_key_free(k);
            return TES_OK;
        }
        if (err != TES_ERR_KEY_MALFORMED)
            return err;
    }
    tes_wipe(d, SOFT_SCALAR_LEN);
    return tes_err_set(TES_ERR_RANDOM, "no valid P-256 scalar in 16 draws");
}

/* ---------------------------------------------------------------- CBOR form */

static void enc_state(tes_cbor_enc *e, const soft_state *st)
{
    tes_cbor_enc_map(e, st->have_pseud ? 14 : 13);
    tes_cbor_enc_cstr(e, "v");
    tes_cbor_enc_uint(e, SOFT_STATE_VERSION);
    tes_cbor_enc_cstr(e, "ctr");
    tes_cbor_enc_uint(e, st->counter);
    tes_cbor_enc_cstr(e, "pin_set");
    tes_cbor_enc_bool(e, st->pin_set);
    tes_cbor_enc_cstr(e, "pin_salt");
    tes_cbor_enc_bytes(e, st->pin_salt, SOFT_SALT_LEN);
    tes_cbor_enc_cstr(e, "pin_hash");
    tes_cbor_enc_bytes(e, st->pin_hash, SOFT_HASH_LEN);
    tes_cbor_enc_cstr(e, "puk_salt");
    tes_cbor_enc_bytes(e, st->puk_salt, SOFT_SALT_LEN);
    tes_cbor_enc_cstr(e, "puk_hash");
    tes_cbor_enc_bytes(e, st->puk_hash, SOFT_HASH_LEN);
    tes_cbor_enc_cstr(e, "pin_tries");
    tes_cbor_enc_uint(e, (uint64_t)st->pin_tries);
    tes_cbor_enc_cstr(e, "puk_tries");
    tes_cbor_enc_uint(e, (uint64_t)st->puk_tries);
    tes_cbor_enc_cstr(e, "blocked");
    tes_cbor_enc_bool(e, st->blocked);
    tes_cbor_enc_cstr(e, "att_d");
    tes_cbor_enc_bytes(e, st->att_d, SOFT_SCALAR_LEN);
    tes_cbor_enc_cstr(e, "att_cert");
    tes_cbor_enc_bytes(e, st->att_cert.ptr, st->att_cert.len);
    tes_cbor_enc_cstr(e, "keys");
    tes_cbor_enc_array(e, st->nkeys);
    for (size_t i = 0; i < st->nkeys; i++) {
        const soft_key *k = &st->keys[i];
        tes_cbor_enc_map(e, 5);
        tes_cbor_enc_cstr(e, "id");
        tes_cbor_enc_cstr(e, k->id);
        tes_cbor_enc_cstr(e, "d");
        tes_cbor_enc_bytes(e, k->d, SOFT_SCALAR_LEN);
        tes_cbor_enc_cstr(e, "uv");
        tes_cbor_enc_bool(e, k->uv);
        tes_cbor_enc_cstr(e, "single_use");
        tes_cbor_enc_bool(e, k->single_use);
        tes_cbor_enc_cstr(e, "used");
        tes_cbor_enc_bool(e, k->used);
    }
    if (st->have_pseud) { /* optional: states from before pseudonyms lack it */
        tes_cbor_enc_cstr(e, "pseud_d");
        tes_cbor_enc_bytes(e, st->pseud_d, SOFT_SCALAR_LEN);
    }
}

static bool get_bytes(const tes_cbor_doc *d, uint32_t map, const char *key, void *out, size_t n)
{
    uint32_t i = tes_cbor_map_get_text(d, map, key);
    if (i == TES_CBOR_NONE || !tes_cbor_is(d, i, TES_CBOR_BYTES) || d->nodes[i].len != n)
        return false;
    memcpy(out, d->nodes[i].data, n);
    return true;
}

static bool get_bool(const tes_cbor_doc *d, uint32_t map, const char *key, bool *out)
{
    uint32_t i = tes_cbor_map_get_text(d, map, key);
    if (i == TES_CBOR_NONE)
        return false;
    if (tes_cbor_is(d, i, TES_CBOR_TRUE))
        *out = true;
    else if (tes_cbor_is(d, i, TES_CBOR_FALSE))
        *out = false;
    else
        return false;
    return true;
}

static bool get_uint(const tes_cbor_doc *d, uint32_t map, const char *key, uint64_t max,
                     uint64_t *out)
{
    uint32_t i = tes_cbor_map_get_text(d, map, key);
    if (i == TES_CBOR_NONE || !tes_cbor_is(d, i, TES_CBOR_UINT) || d->nodes[i].val > max)
        return false;
    *out = d->nodes[i].val;
    return true;
}

static bool is_hex_id(const uint8_t *p, size_t n)
{
    if (n != 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* Decodes the authenticated plaintext. Failures here mean a state this code
 * did not write (another version, or a bug): reported as tampered. */
static tes_err dec_state(tes_bytes plain, soft_state *st)
{
    tes_cbor_limits lim = {
        .max_input = SOFT_MAX_STATE, .max_depth = 4, .max_items = 64 + 12 * SOFT_MAX_KEYS};
    tes_cbor_doc d = {0};
    if (tes_cbor_parse(plain, &lim, &d) != TES_OK)
        return tes_err_set(TES_ERR_SE_TAMPERED,
                           "secure-element state authenticates but is not "
                           "valid CBOR: %s",
                           tes_err_message());
    tes_err err = TES_OK;
    uint64_t v = 0, pin_tries = 0, puk_tries = 0;
    const char *what = NULL;
    if (!tes_cbor_is(&d, 0, TES_CBOR_MAP))
        what = "not a map";
    else if (!get_uint(&d, 0, "v", UINT64_MAX, &v) || v != SOFT_STATE_VERSION)
        what = "unknown version";
    else if (!get_uint(&d, 0, "ctr", UINT64_MAX, &st->counter))
        what = "ctr";
    else if (!get_bool(&d, 0, "pin_set", &st->pin_set))
        what = "pin_set";
    else if (!get_bytes(&d, 0, "pin_salt", st->pin_salt, SOFT_SALT_LEN) ||
             !get_bytes(&d, 0, "pin_hash", st->pin_hash, SOFT_HASH_LEN) ||
             !get_bytes(&d, 0, "puk_salt", st->puk_salt, SOFT_SALT_LEN) ||
             !get_bytes(&d, 0, "puk_hash", st->puk_hash, SOFT_HASH_LEN))
        what = "PIN/PUK hashes";
    else if (!get_uint(&d, 0, "pin_tries", TES_SE_PIN_TRIES, &pin_tries) ||
             !get_uint(&d, 0, "puk_tries", TES_SE_PUK_TRIES, &puk_tries))
        what = "tries";
    else if (!get_bool(&d, 0, "blocked", &st->blocked))
        what = "blocked";
    else if (!get_bytes(&d, 0, "att_d", st->att_d, SOFT_SCALAR_LEN))
        what = "attestation key";
    else if (tes_cbor_map_get_text(&d, 0, "pseud_d") != TES_CBOR_NONE &&
             !(st->have_pseud = get_bytes(&d, 0, "pseud_d", st->pseud_d, SOFT_SCALAR_LEN)))
        what = "pseudonym key";
    if (what == NULL) {
        uint32_t c = tes_cbor_map_get_text(&d, 0, "att_cert");
        if (c == TES_CBOR_NONE || !tes_cbor_is(&d, c, TES_CBOR_BYTES) || d.nodes[c].len == 0)
            what = "attestation certificate";
        else
            tes_buf_append(&st->att_cert, d.nodes[c].data, d.nodes[c].len);
    }
    uint32_t keys = TES_CBOR_NONE;
    if (what == NULL) {
        keys = tes_cbor_map_get_text(&d, 0, "keys");
        if (keys == TES_CBOR_NONE || !tes_cbor_is(&d, keys, TES_CBOR_ARRAY) ||
            tes_cbor_count(&d, keys) > SOFT_MAX_KEYS)
            what = "keys";
    }
    if (what == NULL && tes_cbor_count(&d, keys) > 0) {
        st->keys = calloc((size_t)tes_cbor_count(&d, keys), sizeof *st->keys);
        if (st->keys == NULL) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory loading the secure element");
            goto done;
        }
    }
    /* Counted walk: a node's `next` is the index after its subtree, which for the
     * last child is not TES_CBOR_NONE. */
    uint64_t nk = what == NULL ? tes_cbor_count(&d, keys) : 0;
    uint32_t k = nk > 0 ? tes_cbor_child(&d, keys) : TES_CBOR_NONE;
    for (uint64_t ki = 0; ki < nk && what == NULL; ki++, k = tes_cbor_next(&d, k)) {
        soft_key *sk = &st->keys[st->nkeys];
        uint32_t id = tes_cbor_map_get_text(&d, k, "id");
        if (!tes_cbor_is(&d, k, TES_CBOR_MAP) || id == TES_CBOR_NONE ||
            !tes_cbor_is(&d, id, TES_CBOR_TEXT) || !is_hex_id(d.nodes[id].data, d.nodes[id].len) ||
            !get_bytes(&d, k, "d", sk->d, SOFT_SCALAR_LEN) || !get_bool(&d, k, "uv", &sk->uv) ||
            !get_bool(&d, k, "single_use", &sk->single_use) ||
            !get_bool(&d, k, "used", &sk->used)) {
            what = "a key entry";
            break;
        }
        memcpy(sk->id, d.nodes[id].data, 32);
        sk->id[32] = '\0';
        st->nkeys++;
    }
    if (what == NULL && st->att_cert.failed)
        err = tes_err_set(TES_ERR_NOMEM, "out of memory loading the secure element");
    else if (what != NULL)
        err = tes_err_set(TES_ERR_SE_TAMPERED,
                          "secure-element state authenticates but its content is malformed (%s)",
                          what);
    st->pin_tries = (int)pin_tries;
    st->puk_tries = (int)puk_tries;
done:
    tes_cbor_doc_free(&d);
    return err;
}

/* ---------------------------------------------------------------- load / store */

static void be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

tes_err soft_state_load(soft_se *s, soft_state *st)
{
    memset(st, 0, sizeof *st);
    st->att_cert.secret = false;
    char path[PATH_MAX];
    soft_path(s, "state.bin", path);

    uint64_t n = 0;
    bool have_counter = false;
    tes_err err = soft_counter_read(s, &n, &have_counter);
    if (err)
        return err;
    bool have_state = access(path, F_OK) == 0;
    if (!have_state && errno != ENOENT)
        return tes_err_set(TES_ERR_IO, "cannot access '%s': %s", path, strerror(errno));
    if (!have_state)
        return tes_err_set(TES_ERR_SE_TAMPERED,
                           "secure-element state missing: '%s' does not exist (counter %s)", path,
                           have_counter ? "present" : "missing too");
    if (!have_counter)
        return tes_err_set(TES_ERR_SE_TAMPERED,
                           "monotonic counter missing: '%s/counter' does not exist", s->dir);

    tes_buf file = {0}, plain = {.secret = true};
    if ((err = tes_file_read(path, SOFT_MAX_STATE, &file)) != TES_OK)
        goto done;
    if (file.len < SOFT_HEADER_LEN + SOFT_IV_LEN + SOFT_TAG_LEN) {
        err = tes_err_set(TES_ERR_SE_TAMPERED,
                          "secure-element state truncated: '%s' has %zu bytes, fewer than a "
                          "sealed state can have",
                          path, file.len);
        goto done;
    }
    if (memcmp(file.ptr, SOFT_MAGIC, 4) != 0) {
        err = tes_err_set(
            TES_ERR_SE_TAMPERED,
            "secure-element state damaged: '%s' does not start with \"" SOFT_MAGIC "\"", path);
        goto done;
    }
    uint64_t c = get_be64(file.ptr + 4);
    const size_t body = SOFT_HEADER_LEN + SOFT_IV_LEN;
    err = tes_aes256gcm_decrypt(s->seal_key, file.ptr + SOFT_HEADER_LEN,
                                TES_BYTES(file.ptr, SOFT_HEADER_LEN),
                                TES_BYTES(file.ptr + body, file.len - body), &plain);
    if (err != TES_OK && err != TES_ERR_SIGNATURE)
        goto done;
    if (err == TES_ERR_SIGNATURE) {
        err = tes_err_set(TES_ERR_SE_TAMPERED,
                          "secure-element state fails authentication: '%s' was modified or "
                          "truncated, or sealed under another device key",
                          path);
        goto done;
    }
    if (c < n) {
        err = tes_err_set(TES_ERR_SE_ROLLBACK,
                          "secure-element state is version %llu but the monotonic counter is at "
                          "%llu: an older copy of '%s' was put back",
                          (unsigned long long)c, (unsigned long long)n, path);
        goto done;
    }
    if (c > n + 1) {
        err = tes_err_set(TES_ERR_SE_TAMPERED,
                          "monotonic counter (%llu) is behind the state (version %llu) by more "
                          "than one update: the counter file was replaced",
                          (unsigned long long)n, (unsigned long long)c);
        goto done;
    }
    if ((err = dec_state(tes_buf_bytes(&plain), st)) != TES_OK)
        goto done;
    if (st->counter != c) {
        err = tes_err_set(TES_ERR_SE_TAMPERED,
                          "secure-element state: sealed version %llu, inner version %llu",
                          (unsigned long long)c, (unsigned long long)st->counter);
        goto done;
    }
    if (c == n + 1) {
        /* Killed between writing state.bin and the counter: finish that update. */
        err = soft_counter_write(s, c);
    }
done:
    tes_buf_free(&file);
    tes_buf_free(&plain);
    if (err != TES_OK)
        soft_state_free(st);
    return err;
}

tes_err soft_state_store(soft_se *s, soft_state *st)
{
    uint64_t next = st->counter + 1;
    uint64_t saved = st->counter;
    st->counter = next;
    tes_buf plain = {.secret = true}, file = {0};
    tes_cbor_enc e = {.out = &plain};
    enc_state(&e, st);
    tes_err err = tes_cbor_enc_finish(&e);
    if (err)
        goto fail;
    uint8_t *head = tes_buf_extend(&file, SOFT_HEADER_LEN + SOFT_IV_LEN);
    if (head == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory sealing the secure element");
        goto fail;
    }
    memcpy(head, SOFT_MAGIC, 4);
    be64(head + 4, next);
    if ((err = tes_rng_fill(&s->rng, head + SOFT_HEADER_LEN, SOFT_IV_LEN)) != TES_OK)
        goto fail;
    uint8_t iv[SOFT_IV_LEN], aad[SOFT_HEADER_LEN];
    memcpy(iv, head + SOFT_HEADER_LEN, SOFT_IV_LEN);
    memcpy(aad, head, SOFT_HEADER_LEN);
    /* encrypt appends to file (head may move) */
    if ((err = tes_aes256gcm_encrypt(s->seal_key, iv, TES_BYTES(aad, sizeof aad),
                                     tes_buf_bytes(&plain), &file)) != TES_OK)
        goto fail;
    char path[PATH_MAX];
    soft_path(s, "state.bin", path);
    if ((err = tes_file_write(path, tes_buf_bytes(&file), 0600)) != TES_OK)
        goto fail;
    /* From here the new state is committed: a failed counter write is repaired by
     * the next load (state one ahead of the counter). */
    st->dirty = false;
    err = soft_counter_write(s, next);
    tes_buf_free(&plain);
    tes_buf_free(&file);
    return err;
fail:
    st->counter = saved;
    tes_buf_free(&plain);
    tes_buf_free(&file);
    return err;
}
