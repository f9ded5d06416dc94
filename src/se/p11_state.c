/*
 * The PKCS#11 backend's own state file: Tessera's PIN and PUK retry counters
 * and each key's flags (user verification, single use), beside the token
 * (the backend's design notes: pkcs11.c).
 */
#include "se/p11_internal.h"

/* ------------------------------------------------------------------ state */

void p11_state_free(p11_state *st)
{
    free(st->keys);
    *st = (p11_state){0};
}

static void state_defaults(p11_state *st)
{
    p11_state_free(st);
    st->pin_set = false;
    st->pin_tries = TES_SE_PIN_TRIES;
    st->puk_tries = TES_SE_PUK_TRIES;
}

bool p11_is_hex_id(const char *s)
{
    if (s == NULL || strlen(s) != P11_ID_HEX)
        return false;
    for (size_t i = 0; i < P11_ID_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

p11_keyflags *p11_state_find(p11_state *st, const char *id)
{
    for (size_t i = 0; i < st->nkeys; i++)
        if (strcmp(st->keys[i].id, id) == 0)
            return &st->keys[i];
    return NULL;
}

tes_err p11_state_add(p11_state *st, const p11_keyflags *k)
{
    p11_keyflags *cur = p11_state_find(st, k->id);
    if (cur) {
        *cur = *k;
        return TES_OK;
    }
    if (st->nkeys >= P11_MAX_KEYS)
        return tes_err_set(TES_ERR_SE_BACKEND, "pkcs11 state: too many keys");
    if (st->nkeys == st->capkeys) {
        size_t cap = st->capkeys ? 2 * st->capkeys : 8;
        p11_keyflags *n = realloc(st->keys, cap * sizeof *n);
        if (n == NULL)
            return tes_err_set(TES_ERR_NOMEM, "pkcs11 state: out of memory");
        st->keys = n;
        st->capkeys = cap;
    }
    st->keys[st->nkeys++] = *k;
    return TES_OK;
}

void p11_state_remove(p11_state *st, const char *id)
{
    p11_keyflags *k = p11_state_find(st, id);
    if (k) {
        size_t i = (size_t)(k - st->keys);
        memmove(&st->keys[i], &st->keys[i + 1], (st->nkeys - i - 1) * sizeof *k);
        st->nkeys--;
    }
}

/* Strict parse of the text state file. */
static tes_err state_parse(const char *path, const char *text, size_t len, p11_state *st)
{
    state_defaults(st);
    st->pin_tries = st->puk_tries = -1;
    int have_pin_set = 0;
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < len) {
        line_no++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (nl == NULL)
            goto bad; /* every line, the last included, ends with \n */
        size_t n = (size_t)(nl - (text + pos));
        char line[128];
        if (n >= sizeof line)
            goto bad;
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + 1;
        if (memchr(line, '\0', n) != NULL)
            goto bad;
        if (line_no == 1) {
            if (strcmp(line, P11_STATE_MAGIC) != 0)
                goto bad;
            continue;
        }
        int v = 0, a = 0, b = 0, c = 0, used = 0;
        char id[P11_ID_HEX + 2];
        if (sscanf(line, "pin_set %d%n", &v, &used) == 1 && (size_t)used == n &&
            have_pin_set == 0 && (v == 0 || v == 1)) {
            st->pin_set = v == 1;
            have_pin_set = 1;
        } else if (sscanf(line, "pin_tries %d%n", &v, &used) == 1 && (size_t)used == n &&
                   st->pin_tries < 0 && v >= 0 && v <= TES_SE_PIN_TRIES) {
            st->pin_tries = v;
        } else if (sscanf(line, "puk_tries %d%n", &v, &used) == 1 && (size_t)used == n &&
                   st->puk_tries < 0 && v >= 0 && v <= TES_SE_PUK_TRIES) {
            st->puk_tries = v;
        } else if (sscanf(line, "key %33s %d %d %d%n", id, &a, &b, &c, &used) == 4 &&
                   (size_t)used == n && p11_is_hex_id(id) && (a | b | c) >= 0 && a <= 1 && b <= 1 &&
                   c <= 1) {
            if (p11_state_find(st, id))
                goto bad;
            p11_keyflags k = {.uv = a, .single_use = b, .used = c};
            memcpy(k.id, id, sizeof k.id);
            tes_err e = p11_state_add(st, &k);
            if (e)
                return e;
        } else {
            goto bad;
        }
    }
    if (line_no == 0 || !have_pin_set || st->pin_tries < 0 || st->puk_tries < 0) {
        state_defaults(st);
        return tes_err_set(TES_ERR_SE_TAMPERED,
                           "PKCS#11 state file '%s' is damaged (a field is missing); refusing to "
                           "reset its PIN counters",
                           path);
    }
    return TES_OK;
bad:
    state_defaults(st);
    return tes_err_set(TES_ERR_SE_TAMPERED,
                       "PKCS#11 state file '%s' is damaged (line %zu); refusing to reset its PIN "
                       "counters",
                       path, line_no);
}

/* (Re)reads the state file; a missing file means a fresh state. */
tes_err p11_state_load(p11_se *s)
{
    struct stat sb;
    if (stat(s->path, &sb) != 0) {
        if (errno == ENOENT) {
            state_defaults(&s->st);
            return TES_OK;
        }
        return tes_err_set(TES_ERR_IO, "cannot stat PKCS#11 state '%s': %s", s->path,
                           strerror(errno));
    }
    tes_buf b = {0};
    tes_err e = tes_file_read(s->path, P11_STATE_MAX, &b);
    if (e) {
        tes_buf_free(&b);
        return e;
    }
    e = state_parse(s->path, (const char *)b.ptr, b.len, &s->st);
    tes_buf_free(&b);
    return e;
}

tes_err p11_state_save(p11_se *s)
{
    tes_buf b = {0};
    char line[128];
    int n = snprintf(line, sizeof line, "%s\npin_set %d\npin_tries %d\npuk_tries %d\n",
                     P11_STATE_MAGIC, s->st.pin_set ? 1 : 0, s->st.pin_tries, s->st.puk_tries);
    tes_buf_append(&b, line, (size_t)n);
    for (size_t i = 0; i < s->st.nkeys; i++) {
        const p11_keyflags *k = &s->st.keys[i];
        n = snprintf(line, sizeof line, "key %s %d %d %d\n", k->id, k->uv, k->single_use, k->used);
        tes_buf_append(&b, line, (size_t)n);
    }
    if (b.failed) {
        tes_buf_free(&b);
        return tes_err_set(TES_ERR_NOMEM, "pkcs11 state: out of memory");
    }
    tes_err e = tes_file_write(s->path, tes_buf_bytes(&b), 0600);
    tes_buf_free(&b);
    return e;
}
