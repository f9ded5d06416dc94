/*
 * The verifier's status-list cache: a directory (0700) with one file (0600)
 * per list uri and issuer, named by the hex SHA-256 of the SHA-256 of the
 * issuer's IACA certificate followed by the uri, holding the CBOR map
 * {"iat": int, "token": bstr, "fetched": int} — the token's iat, the exact
 * token bytes as fetched and the time they were fetched — written atomically
 * (tes_file_write). ("iat" is absent from files of older versions.)
 *
 * Only tokens that verified when fetched are stored, and a cached token is
 * verified again (chain, signature, uri, exp at `now`) every time it is used,
 * so a damaged or edited cache file can make an answer UNDETERMINED but never
 * VALID or REVOKED.
 *
 * Every token is verified for the credential being checked: its signer must
 * belong to the credential's issuer (tes_status_token_verify_for), so a list
 * cached for one issuer never answers for another's credential. Entries are
 * kept per issuer too, so that checking another issuer's credential that
 * names the same uri can neither replace an issuer's cached list nor its
 * rollback floor (the iat).
 *
 * Freshness: ONLINE uses a cached token younger than its ttl (300 s when it
 * has none), capped at max_ttl (24 h by default), and fetches otherwise; if
 * the fetch or the fetched token fails, it falls back to a cached token
 * younger than max_age. A fetched token whose iat is earlier than the cached
 * one's (the file's "iat", or the cached token's own) is a rollback: never
 * stored, never used; the cached list answers if younger than max_age.
 * CACHED never fetches and uses only a cached token younger than max_age. A
 * `fetched` time later than `now` counts as too old (a clock that went back,
 * or an edited file).
 */
#include "status_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_TTL 300
#define ENTRY_MAX (TES_STATUS_TOKEN_MAX + 64)

struct tes_status_cache {
    char *dir;
    int64_t max_ttl;       /* 0: TES_STATUS_DEFAULT_MAX_TTL */
    size_t max_list_bytes; /* 0: TES_STATUS_DEFAULT_MAX_LIST_BYTES */
};

tes_err tes_status_cache_open(const char *dir, tes_status_cache **out)
{
    if (out == NULL || dir == NULL || dir[0] == '\0')
        return tes_err_set(TES_ERR_ARG, "status cache: bad arguments");
    *out = NULL;
    size_t n = strlen(dir);
    if (n > PATH_MAX - 96)
        return tes_err_set(TES_ERR_ARG, "status cache: directory path too long");
    if (mkdir(dir, 0700) != 0) {
        struct stat st;
        if (errno != EEXIST || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return tes_err_set(TES_ERR_IO, "status cache: cannot create directory '%s': %s", dir,
                               strerror(errno == EEXIST ? ENOTDIR : errno));
    }
    tes_status_cache *c = calloc(1, sizeof *c);
    if (c == NULL || (c->dir = malloc(n + 1)) == NULL) {
        free(c);
        return tes_err_set(TES_ERR_NOMEM, "status cache: out of memory");
    }
    memcpy(c->dir, dir, n + 1);
    *out = c;
    return TES_OK;
}

void tes_status_cache_set_max_ttl(tes_status_cache *c, int64_t max_ttl)
{
    if (c != NULL)
        c->max_ttl = max_ttl > 0 ? max_ttl : 0;
}

void tes_status_cache_set_max_list_bytes(tes_status_cache *c, size_t max_bytes)
{
    if (c != NULL)
        c->max_list_bytes = max_bytes;
}

void tes_status_cache_close(tes_status_cache *c)
{
    if (c == NULL)
        return;
    free(c->dir);
    free(c);
}

/* dir/<hex sha-256 of (the SHA-256 of the issuer's IACA certificate || uri)> */
static tes_err entry_path(const tes_status_cache *c, const tes_status_issuer *iss, const char *uri,
                          char path[PATH_MAX])
{
    uint8_t h[32];
    tes_buf in = {0};
    tes_buf_append(&in, tes_cert_get_info(iss->iaca)->sha256, 32);
    tes_buf_append(&in, uri, strlen(uri));
    tes_err e = in.failed ? tes_err_set(TES_ERR_NOMEM, "status cache: out of memory")
                          : tes_digest(TES_HASH_SHA256, tes_buf_bytes(&in), h);
    tes_buf_free(&in);
    if (e != TES_OK)
        return e;
    char name[65];
    tes_hex_str(name, TES_BYTES(h, 32));
    snprintf(path, PATH_MAX, "%s/%s", c->dir, name);
    return TES_OK;
}

typedef struct entry {
    bool present;
    tes_buf file;
    tes_bytes token; /* into file */
    int64_t fetched;
    int64_t iat;   /* the stored token's iat (0: not recorded) */
    char why[160]; /* why not present (for the detail) */
    tes_err why_code;
} entry;

static void entry_load(const tes_status_cache *c, const tes_status_issuer *iss, const char *uri,
                       entry *en)
{
    *en = (entry){0};
    char path[PATH_MAX];
    if (entry_path(c, iss, uri, path) != TES_OK) {
        snprintf(en->why, sizeof en->why, "cache unreadable");
        en->why_code = TES_ERR_IO;
        return;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(en->why, sizeof en->why, "no cached list");
        en->why_code = TES_ERR_NOT_FOUND;
        return;
    }
    if (tes_file_read(path, ENTRY_MAX, &en->file) != TES_OK) {
        snprintf(en->why, sizeof en->why, "cached list unreadable: %.120s", tes_err_message());
        en->why_code = TES_ERR_IO;
        tes_buf_free(&en->file);
        return;
    }
    en->why_code = TES_ERR_STATUS_TOKEN; /* damaged, unless it parses below */
    tes_cbor_limits lim = {.max_input = ENTRY_MAX, .max_depth = 2, .max_items = 16};
    tes_cbor_node nodes[8];
    tes_cbor_doc d;
    if (tes_cbor_parse_with(tes_buf_bytes(&en->file), &lim, nodes, 8, &d) != TES_OK) {
        snprintf(en->why, sizeof en->why, "cache file damaged");
        tes_buf_free(&en->file);
        return;
    }
    uint32_t t =
        tes_cbor_is(&d, 0, TES_CBOR_MAP) ? tes_cbor_map_get_text(&d, 0, "token") : TES_CBOR_NONE;
    uint32_t f =
        tes_cbor_is(&d, 0, TES_CBOR_MAP) ? tes_cbor_map_get_text(&d, 0, "fetched") : TES_CBOR_NONE;
    uint32_t ia =
        tes_cbor_is(&d, 0, TES_CBOR_MAP) ? tes_cbor_map_get_text(&d, 0, "iat") : TES_CBOR_NONE;
    if (t != TES_CBOR_NONE && tes_cbor_is(&d, t, TES_CBOR_BYTES) && f != TES_CBOR_NONE &&
        tes_cbor_get_int(&d, f, &en->fetched) &&
        (ia == TES_CBOR_NONE || (tes_cbor_get_int(&d, ia, &en->iat) && en->iat >= 0))) {
        const tes_cbor_node *n = tes_cbor_at(&d, t);
        en->token = TES_BYTES(n->data, n->len);
        en->present = true;
        en->why_code = TES_OK;
    } else {
        en->iat = 0;
        snprintf(en->why, sizeof en->why, "cache file damaged");
        tes_buf_free(&en->file);
    }
    tes_cbor_doc_free(&d);
}

static tes_err entry_store(const tes_status_cache *c, const tes_status_issuer *iss,
                           const char *uri, int64_t fetched, int64_t iat, tes_bytes token)
{
    char path[PATH_MAX];
    tes_err e = entry_path(c, iss, uri, path);
    if (e != TES_OK)
        return e;
    tes_buf b = {0};
    tes_cbor_enc enc = {.out = &b};
    /* "iat" (0x63...) sorts before "token" (0x65...) before "fetched" (0x67...) */
    tes_cbor_enc_map(&enc, 3);
    tes_cbor_enc_cstr(&enc, "iat");
    tes_cbor_enc_int(&enc, iat);
    tes_cbor_enc_cstr(&enc, "token");
    tes_cbor_enc_bytes(&enc, token.ptr, token.len);
    tes_cbor_enc_cstr(&enc, "fetched");
    tes_cbor_enc_int(&enc, fetched);
    e = tes_cbor_enc_finish(&enc);
    if (e == TES_OK)
        e = tes_file_write(path, tes_buf_bytes(&b), 0600);
    tes_buf_free(&b);
    return e;
}

static void detail(tes_status_check *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void detail(tes_status_check *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
}

/* Copies the thread's last error message (it is overwritten by the next failure). */
static void last_error(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", tes_err_message());
}

/* Reads entry idx of a verified token into out. */
static void answer(tes_status_check *out, const tes_status_token *t, uint64_t idx, int64_t fetched,
                   const char *source)
{
    out->fetched_at = fetched;
    out->reason = TES_OK;
    if (idx >= t->list.n) {
        out->value = TES_STATUS_UNDETERMINED;
        out->reason = TES_ERR_STATUS;
        detail(out, "index beyond the list (index %llu, the list has %zu entries; %s)",
               (unsigned long long)idx, t->list.n, source);
        return;
    }
    out->value = tes_status_list_get(&t->list, (size_t)idx);
    if (out->value == TES_STATUS_UNDETERMINED) {
        out->reason = TES_ERR_STATUS_TOKEN;
        detail(out, "the list's value at index %llu has no meaning here (%s)",
               (unsigned long long)idx, source);
    } else {
        detail(out, "%s%s", source, t->by_own_ds ? "" : "; signed by another document signer "
                                                        "of the credential's IACA");
    }
}

tes_err tes_status_check_ref(tes_status_cache *c, tes_status_mode mode, const char *uri,
                             uint64_t idx, tes_trust_store *trust, const tes_status_issuer *issuer,
                             int64_t now, int64_t max_age, int fetch_timeout_ms,
                             tes_status_check *out)
{
    if (out != NULL)
        *out = (tes_status_check){.value = TES_STATUS_UNDETERMINED};
    if (out == NULL || c == NULL || uri == NULL)
        return tes_err_set(TES_ERR_ARG, "status check: bad arguments");
    if (mode == TES_STATUS_OFF) {
        detail(out, "not checked (--status off)");
        return TES_OK;
    }
    if ((mode != TES_STATUS_ONLINE && mode != TES_STATUS_CACHED) || trust == NULL)
        return tes_err_set(TES_ERR_ARG, "status check: bad mode or no trust store");
    if (issuer == NULL || issuer->ds == NULL || issuer->iaca == NULL)
        return tes_err_set(TES_ERR_ARG, "status check: no issuer (the credential's document "
                                        "signer and IACA) to check the list's signer against");

    const int64_t max_ttl = c->max_ttl > 0 ? c->max_ttl : TES_STATUS_DEFAULT_MAX_TTL;
    entry en;
    entry_load(c, issuer, uri, &en);
    int64_t age = en.present ? now - en.fetched : -1;
    bool usable = en.present && age >= 0 && max_age > 0 && age < max_age; /* for fallback */
    tes_status_token tok = {0};
    bool tok_ok = false;
    tes_err e, ret = TES_OK;
    char src[200], why[200];

    if (mode == TES_STATUS_CACHED) {
        if (!usable) {
            if (en.present) {
                out->reason = TES_ERR_STATUS_EXPIRED;
                detail(out, "no list fetched in the last %lld s (the cached one is %lld s old)",
                       (long long)max_age, (long long)age);
            } else {
                out->reason = en.why_code;
                detail(out, "no list fetched in the last %lld s (%s)", (long long)max_age, en.why);
            }
            goto done;
        }
        e = tes_status_token_verify_for(en.token, uri, trust, issuer, now, c->max_list_bytes, &tok);
        if (tes_err_is_env(e)) {
            ret = e;
        } else if (e != TES_OK) {
            last_error(why, sizeof why);
            out->reason = e;
            detail(out, "cached list rejected: %s", why);
        } else {
            snprintf(src, sizeof src, "cached list fetched %lld s ago", (long long)age);
            answer(out, &tok, idx, en.fetched, src);
        }
        goto done;
    }

    /* ONLINE: a cached token within its ttl (capped) answers without the network. The
     * newest iat seen for this uri is the floor below which a fetched list is a rollback. */
    int64_t seen_iat = en.present ? en.iat : 0;
    if (en.present && age >= 0) {
        e = tes_status_token_verify_for(en.token, uri, trust, issuer, now, c->max_list_bytes,
                                        &tok);
        if (tes_err_is_env(e)) {
            ret = e;
            goto done;
        }
        if (e == TES_OK) {
            tok_ok = true;
            if (tok.iat > seen_iat)
                seen_iat = tok.iat;
            int64_t ttl = tok.ttl > 0 ? tok.ttl : DEFAULT_TTL;
            if (ttl > max_ttl)
                ttl = max_ttl;
            if (age < ttl) {
                snprintf(src, sizeof src, "cached list fetched %lld s ago (within its ttl)",
                         (long long)age);
                answer(out, &tok, idx, en.fetched, src);
                goto done;
            }
        } else {
            usable = false;
        }
    }

    tes_buf body = {0};
    tes_status_token fresh = {0};
    e = tes_status_http_get(uri, fetch_timeout_ms, &body);
    if (e == TES_ERR_NOMEM) {
        ret = e;
        tes_buf_free(&body);
        goto done;
    }
    if (e != TES_OK) {
        char m[160];
        last_error(m, sizeof m);
        snprintf(why, sizeof why, "fetch failed: %s", m);
    } else {
        e = tes_status_token_verify_for(tes_buf_bytes(&body), uri, trust, issuer, now,
                                        c->max_list_bytes, &fresh);
        if (tes_err_is_env(e)) {
            ret = e;
            tes_buf_free(&body);
            goto done;
        }
        if (e != TES_OK) {
            char m[160];
            last_error(m, sizeof m);
            snprintf(why, sizeof why, "fetched list rejected: %s", m);
        } else if (fresh.iat < seen_iat) {
            e = TES_ERR_STATUS_ROLLBACK;
            snprintf(why, sizeof why,
                     "fetched list rejected: issued at %lld, before the list already cached "
                     "(iat %lld): a rollback",
                     (long long)fresh.iat, (long long)seen_iat);
            tes_status_token_free(&fresh);
        }
    }
    if (e == TES_OK) {
        tes_err se = entry_store(c, issuer, uri, now, fresh.iat, tes_buf_bytes(&body));
        if (se == TES_OK) {
            snprintf(src, sizeof src, "list fetched now");
        } else {
            char m[120];
            last_error(m, sizeof m);
            snprintf(src, sizeof src, "list fetched now (not cached: %s)", m);
        }
        answer(out, &fresh, idx, now, src);
    } else if (usable && tok_ok) {
        snprintf(src, sizeof src, "%.140s; used the cached list fetched %lld s ago", why,
                 (long long)age);
        answer(out, &tok, idx, en.fetched, src);
    } else if (en.present) {
        out->reason = e;
        detail(out, "%s; no usable cached list (fetched %lld s ago, max age %lld s)", why,
               (long long)age, (long long)max_age);
    } else {
        out->reason = e;
        detail(out, "%s; %s", why, en.why);
    }
    tes_status_token_free(&fresh);
    tes_buf_free(&body);
done:
    tes_status_token_free(&tok);
    tes_buf_free(&en.file);
    return ret;
}

tes_err tes_status_check_doc(tes_status_cache *c, tes_status_mode mode,
                             const tes_mdoc_document *doc, tes_trust_store *trust, int64_t now,
                             int64_t max_age, int fetch_timeout_ms, tes_status_check *out)
{
    if (out != NULL)
        *out = (tes_status_check){.value = TES_STATUS_UNDETERMINED};
    if (out == NULL || doc == NULL || !doc->has_status)
        return tes_err_set(TES_ERR_ARG, "status check: no document, or it carries no status "
                                        "reference");
    char uri[sizeof(((tes_status_token *)0)->uri)];
    if (doc->status_uri.len >= sizeof uri) {
        out->reason = TES_ERR_STATUS;
        detail(out, "the status list URI is longer than %zu bytes", sizeof uri - 1);
        return TES_OK;
    }
    if (doc->status_uri.len == 0 || memchr(doc->status_uri.ptr, 0, doc->status_uri.len)) {
        out->reason = TES_ERR_STATUS;
        detail(out, "the status list URI is empty or contains a NUL byte");
        return TES_OK;
    }
    memcpy(uri, doc->status_uri.ptr, doc->status_uri.len);
    uri[doc->status_uri.len] = '\0';
    const tes_status_issuer iss = {.ds = doc->issuer_cert, .iaca = doc->issuer_root};
    return tes_status_check_ref(c, mode, uri, doc->status_idx, trust, &iss, now, max_age,
                                fetch_timeout_ms, out);
}
