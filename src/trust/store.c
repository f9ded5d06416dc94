/*
 * Trust stores: trusted roots per profile, chain building (leaf, at most one
 * intermediate, root) and a bounded cache of structural validations keyed by
 * the SHA-256 of the presented chain.
 *
 * What is cached is everything that does not depend on the time: parsing,
 * signatures and profiles. A cached entry keeps the path's validity window
 * (latest notBefore, earliest notAfter, and which certificate sets each) so
 * a hit only compares the time with it, through the same function a cold
 * validation uses: the error code and message of a hit equal a cold run's.
 * Chains that fail structurally are not cached.
 *
 * Locking: roots are read under a read lock (adding takes the write lock);
 * the cache has its own mutex, never held while parsing or verifying.
 * Evicted entries' certificates are retired, not freed, until the store is
 * freed, because tes_trust_result borrows them "while the store lives".
 */
#include "trust_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAX 1024     /* entries */
#define CACHE_BUCKETS 2048 /* power of two */
#define MAX_CHAIN 8
#define NIL (-1)

typedef struct root_ent {
    tes_cert *cert;
    tes_trust_profile profile;
} root_ent;

/* The validity window of a path and who bounds it. */
typedef struct window {
    int64_t not_before, not_after;
    const tes_cert *nb_cert, *na_cert;
    int nb_role, na_role;
} window;

typedef struct cache_ent {
    uint8_t key[32];
    bool used;
    bool referenced; /* clock bit */
    tes_cert *leaf;  /* owned reference */
    tes_cert *inter; /* owned reference or NULL */
    tes_cert *root;  /* owned reference (also held by the store) */
    window win;
    int32_t next; /* bucket chain */
} cache_ent;

struct tes_trust_store {
    pthread_rwlock_t roots_lock;
    root_ent *roots;
    size_t nroots, roots_cap;

    pthread_mutex_t cache_lock;
    cache_ent *ents; /* CACHE_MAX */
    int32_t buckets[CACHE_BUCKETS];
    size_t nents, hand;
    tes_cert **retired;
    size_t nretired, retired_cap;
};

tes_err tes_trust_store_new(tes_trust_store **out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "trust store: NULL output");
    *out = NULL;
    tes_trust_store *s = calloc(1, sizeof *s);
    if (!s)
        return tes_err_set(TES_ERR_NOMEM, "trust store: out of memory");
    s->ents = calloc(CACHE_MAX, sizeof *s->ents);
    if (!s->ents) {
        free(s);
        return tes_err_set(TES_ERR_NOMEM, "trust store: out of memory");
    }
    if (pthread_rwlock_init(&s->roots_lock, NULL) != 0) {
        free(s->ents);
        free(s);
        return tes_err_set(TES_ERR_NOMEM, "trust store: cannot create lock");
    }
    if (pthread_mutex_init(&s->cache_lock, NULL) != 0) {
        pthread_rwlock_destroy(&s->roots_lock);
        free(s->ents);
        free(s);
        return tes_err_set(TES_ERR_NOMEM, "trust store: cannot create lock");
    }
    for (size_t i = 0; i < CACHE_BUCKETS; i++)
        s->buckets[i] = NIL;
    *out = s;
    return TES_OK;
}

void tes_trust_store_free(tes_trust_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nents; i++) {
        tes_cert_free(s->ents[i].leaf);
        tes_cert_free(s->ents[i].inter);
        tes_cert_free(s->ents[i].root);
    }
    for (size_t i = 0; i < s->nretired; i++)
        tes_cert_free(s->retired[i]);
    for (size_t i = 0; i < s->nroots; i++)
        tes_cert_free(s->roots[i].cert);
    free(s->retired);
    free(s->roots);
    free(s->ents);
    pthread_mutex_destroy(&s->cache_lock);
    pthread_rwlock_destroy(&s->roots_lock);
    free(s);
}

static bool profile_ok(tes_trust_profile p)
{
    return p == TES_PROFILE_DS || p == TES_PROFILE_READER;
}

tes_err tes_trust_store_add(tes_trust_store *s, tes_trust_profile p, tes_cert *root)
{
    if (!s || !root || !profile_ok(p))
        return tes_err_set(TES_ERR_ARG, "trust store add: bad arguments");
    tes_err rc = tes_trust_check_root(root);
    if (rc != TES_OK)
        return rc;
    const uint8_t *h = tes_cert_get_info(root)->sha256;

    pthread_rwlock_wrlock(&s->roots_lock);
    for (size_t i = 0; i < s->nroots; i++) {
        if (s->roots[i].profile == p &&
            memcmp(tes_cert_get_info(s->roots[i].cert)->sha256, h, 32) == 0) {
            pthread_rwlock_unlock(&s->roots_lock);
            return TES_OK; /* already trusted */
        }
    }
    if (s->nroots == s->roots_cap) {
        size_t cap = s->roots_cap ? 2 * s->roots_cap : 8;
        root_ent *r = realloc(s->roots, cap * sizeof *r);
        if (!r) {
            pthread_rwlock_unlock(&s->roots_lock);
            return tes_err_set(TES_ERR_NOMEM, "trust store: out of memory");
        }
        s->roots = r;
        s->roots_cap = cap;
    }
    s->roots[s->nroots++] = (root_ent){tes_cert_ref(root), p};
    pthread_rwlock_unlock(&s->roots_lock);
    return TES_OK;
}

#define BLOB_MAX_CERTS 1024

tes_err tes_trust_store_add_blob(tes_trust_store *s, tes_trust_profile p, tes_bytes pem_or_der)
{
    if (!s || !profile_ok(p))
        return tes_err_set(TES_ERR_ARG, "trust store add: bad arguments");
    tes_cert **certs = calloc(BLOB_MAX_CERTS, sizeof *certs);
    if (!certs)
        return tes_err_set(TES_ERR_NOMEM, "trust store: out of memory");
    size_t n = 0;
    tes_err rc = tes_cert_parse_all(pem_or_der, certs, BLOB_MAX_CERTS, &n);
    /* All or nothing: every root must fit the profile before any is added. */
    for (size_t i = 0; rc == TES_OK && i < n; i++)
        rc = tes_trust_check_root(certs[i]);
    for (size_t i = 0; rc == TES_OK && i < n; i++)
        rc = tes_trust_store_add(s, p, certs[i]);
    for (size_t i = 0; i < n; i++)
        tes_cert_free(certs[i]);
    free(certs);
    return rc;
}

size_t tes_trust_store_count(const tes_trust_store *s)
{
    if (!s)
        return 0;
    tes_trust_store *m = (tes_trust_store *)s; /* the lock is not part of the value */
    pthread_rwlock_rdlock(&m->roots_lock);
    size_t n = m->nroots;
    pthread_rwlock_unlock(&m->roots_lock);
    return n;
}

/* ------------------------------------------------------------------ time */

static void window_add(window *w, const tes_cert *c, int role)
{
    const tes_cert_info *ci = tes_cert_get_info(c);
    if (!w->nb_cert || ci->not_before > w->not_before) {
        w->not_before = ci->not_before;
        w->nb_cert = c;
        w->nb_role = role;
    }
    if (!w->na_cert || ci->not_after < w->not_after) {
        w->not_after = ci->not_after;
        w->na_cert = c;
        w->na_role = role;
    }
}

/* The only time check, for cold validations and cache hits alike. */
static tes_err window_check(const window *w, tes_trust_profile p, int64_t at)
{
    char when[21], t[21];
    if (at < w->not_before) {
        tes_time_format(w->not_before, when);
        tes_time_format(at, t);
        return tes_err_set(
            TES_ERR_CERT_NOT_YET_VALID, "%s '%s' not valid before %s (evaluated at %s)",
            tes_trust_role(p, w->nb_role), tes_cert_get_info(w->nb_cert)->subject, when, t);
    }
    if (at > w->not_after) {
        tes_time_format(w->not_after, when);
        tes_time_format(at, t);
        return tes_err_set(TES_ERR_CERT_EXPIRED, "%s '%s' expired %s (evaluated at %s)",
                           tes_trust_role(p, w->na_role), tes_cert_get_info(w->na_cert)->subject,
                           when, t);
    }
    return TES_OK;
}

/* ------------------------------------------------------------------ chain building */

static bool same_der(const tes_cert *a, const tes_cert *b)
{
    return memcmp(tes_cert_get_info(a)->sha256, tes_cert_get_info(b)->sha256, 32) == 0 &&
           tes_bytes_eq(tes_cert_der(a), tes_cert_der(b));
}

/* Could `issuer` have issued c, judging by names and key identifiers? */
static bool names_issuer(const tes_cert *c, const tes_cert *issuer)
{
    if (!tes_cert_issuer_matches(c, issuer))
        return false;
    const tes_cert_info *ci = tes_cert_get_info(c), *ii = tes_cert_get_info(issuer);
    if (ci->aki_len && ii->ski_len &&
        (ci->aki_len != ii->ski_len || memcmp(ci->aki, ii->ski, ci->aki_len) != 0))
        return false;
    return true;
}

/* Finds the trusted root (roots_lock held for reading) that issued c:
 * TES_OK with *root set, TES_ERR_CHAIN_SIG when a root that names itself the
 * issuer does not verify the signature, TES_ERR_CHAIN_UNTRUSTED when none does. */
static tes_err find_root(tes_trust_store *s, tes_trust_profile p, const tes_cert *c, int role,
                         tes_cert **root)
{
    bool candidate = false;
    for (size_t i = 0; i < s->nroots; i++) {
        if (s->roots[i].profile != p || !names_issuer(c, s->roots[i].cert))
            continue;
        candidate = true;
        if (tes_cert_verify_signed_by(c, s->roots[i].cert) == TES_OK) {
            *root = s->roots[i].cert;
            return TES_OK;
        }
    }
    const tes_cert_info *ci = tes_cert_get_info(c);
    if (candidate)
        return tes_err_set(TES_ERR_CHAIN_SIG,
                           "%s '%s': signature does not verify with the trusted root '%s'",
                           tes_trust_role(p, role), ci->subject, ci->issuer);
    return tes_err_set(TES_ERR_CHAIN_UNTRUSTED, "%s '%s': issuer '%s' is not a trusted %s",
                       tes_trust_role(p, role), ci->subject, ci->issuer,
                       tes_trust_role(p, TES_TRUST_ROLE_ROOT));
}

static bool is_trusted_root(tes_trust_store *s, tes_trust_profile p, const tes_cert *c)
{
    for (size_t i = 0; i < s->nroots; i++)
        if (s->roots[i].profile == p && same_der(s->roots[i].cert, c))
            return true;
    return false;
}

/* Path leaf -> inter -> root, inter = chain[1] not itself a trusted root. */
static tes_err via_intermediate(tes_trust_store *s, tes_trust_profile p, const tes_cert *leaf,
                                const tes_cert *inter, tes_cert **root)
{
    const tes_cert_info *li = tes_cert_get_info(leaf), *ii = tes_cert_get_info(inter);
    if (!names_issuer(leaf, inter))
        return tes_err_set(TES_ERR_CHAIN_UNTRUSTED,
                           "%s '%s': issuer '%s' is neither a trusted root nor the next "
                           "certificate of the chain",
                           tes_trust_role(p, TES_TRUST_ROLE_LEAF), li->subject, li->issuer);
    tes_err rc = find_root(s, p, inter, TES_TRUST_ROLE_INTERMEDIATE, root);
    if (rc != TES_OK)
        return rc;
    const tes_cert_info *ri = tes_cert_get_info(*root);
    if (ri->path_len == 0)
        return tes_err_set(TES_ERR_CHAIN_UNTRUSTED,
                           "root '%s' has pathLenConstraint 0: intermediate '%s' not allowed",
                           ri->subject, ii->subject);
    if (!ii->is_ca || (ii->has_key_usage && !(ii->key_usage & TES_KU_KEY_CERT_SIGN)) ||
        ii->unknown_critical)
        return tes_err_set(TES_ERR_CHAIN_UNTRUSTED,
                           "intermediate '%s' is not a CA allowed to sign certificates",
                           ii->subject);
    if (tes_cert_verify_signed_by(leaf, inter) != TES_OK)
        return tes_err_set(TES_ERR_CHAIN_SIG,
                           "%s '%s': signature does not verify with intermediate '%s'",
                           tes_trust_role(p, TES_TRUST_ROLE_LEAF), li->subject, ii->subject);
    return TES_OK;
}

/* Structural validation (no time). On success *entry holds new references. */
static tes_err validate_cold(tes_trust_store *s, tes_trust_profile p, tes_cert **certs, size_t n,
                             cache_ent *entry)
{
    tes_cert *leaf = certs[0], *inter = NULL, *root = NULL;

    pthread_rwlock_rdlock(&s->roots_lock);
    tes_err rc = find_root(s, p, leaf, TES_TRUST_ROLE_LEAF, &root);
    if (rc != TES_OK && n >= 2 && !is_trusted_root(s, p, certs[1])) {
        tes_err direct = rc;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tes_err_message());
        rc = via_intermediate(s, p, leaf, certs[1], &root);
        if (rc == TES_OK)
            inter = certs[1];
        else if (rc == TES_ERR_CHAIN_UNTRUSTED && direct == TES_ERR_CHAIN_SIG)
            rc = tes_err_set(direct, "%s", msg); /* the more specific finding */
    }
    pthread_rwlock_unlock(&s->roots_lock);
    if (rc != TES_OK)
        return rc;

    rc = tes_trust_check_leaf(leaf, p, inter ? inter : root);
    if (rc != TES_OK)
        return rc;
    if (p == TES_PROFILE_DS && inter) {
        const tes_cert_info *ii = tes_cert_get_info(inter), *ri = tes_cert_get_info(root);
        if (strcmp(ii->country, ri->country) != 0)
            return tes_err_set(TES_ERR_DS_COUNTRY,
                               "intermediate '%s' has countryName '%s' but the IACA '%s' has '%s'",
                               ii->subject, ii->country, ri->subject, ri->country);
    }

    memset(entry, 0, sizeof *entry);
    entry->leaf = tes_cert_ref(leaf);
    entry->inter = inter ? tes_cert_ref(inter) : NULL;
    entry->root = tes_cert_ref(root);
    window_add(&entry->win, entry->leaf, TES_TRUST_ROLE_LEAF);
    if (entry->inter)
        window_add(&entry->win, entry->inter, TES_TRUST_ROLE_INTERMEDIATE);
    window_add(&entry->win, entry->root, TES_TRUST_ROLE_ROOT);
    return TES_OK;
}

/* ------------------------------------------------------------------ cache */

static uint32_t bucket_of(const uint8_t key[32])
{
    return ((uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16) &
           (CACHE_BUCKETS - 1);
}

/* cache_lock held. */
static cache_ent *cache_find(tes_trust_store *s, const uint8_t key[32])
{
    for (int32_t i = s->buckets[bucket_of(key)]; i != NIL; i = s->ents[i].next)
        if (memcmp(s->ents[i].key, key, 32) == 0)
            return &s->ents[i];
    return NULL;
}

static void cache_unlink(tes_trust_store *s, int32_t idx)
{
    int32_t *pp = &s->buckets[bucket_of(s->ents[idx].key)];
    while (*pp != idx)
        pp = &s->ents[*pp].next;
    *pp = s->ents[idx].next;
}

/* cache_lock held. Stores *e (taking over its references); returns the slot,
 * or NULL when memory for retiring an evicted entry is not available. */
static cache_ent *cache_insert(tes_trust_store *s, const uint8_t key[32], const cache_ent *e)
{
    int32_t idx;
    if (s->nents < CACHE_MAX) {
        idx = (int32_t)s->nents++;
    } else {
        if (s->nretired + 2 > s->retired_cap) {
            size_t cap = s->retired_cap ? 2 * s->retired_cap : 64;
            tes_cert **r = realloc(s->retired, cap * sizeof *r);
            if (!r)
                return NULL;
            s->retired = r;
            s->retired_cap = cap;
        }
        /* Clock: skip (and clear) recently used entries. */
        while (s->ents[s->hand].referenced) {
            s->ents[s->hand].referenced = false;
            s->hand = (s->hand + 1) % CACHE_MAX;
        }
        idx = (int32_t)s->hand;
        s->hand = (s->hand + 1) % CACHE_MAX;
        cache_ent *old = &s->ents[idx];
        cache_unlink(s, idx);
        s->retired[s->nretired++] = old->leaf;
        if (old->inter)
            s->retired[s->nretired++] = old->inter;
        tes_cert_free(old->root); /* still held by the store's root list */
    }
    cache_ent *slot = &s->ents[idx];
    *slot = *e;
    memcpy(slot->key, key, 32);
    slot->used = true;
    slot->referenced = false;
    uint32_t b = bucket_of(key);
    slot->next = s->buckets[b];
    s->buckets[b] = idx;
    return slot;
}

static void entry_release(cache_ent *e)
{
    tes_cert_free(e->leaf);
    tes_cert_free(e->inter);
    tes_cert_free(e->root);
}

/* SHA-256 over (profile, SHA-256 of each DER): lengths are implicit, so no
 * two different chains share a key. */
static tes_err chain_key(tes_trust_profile p, const tes_bytes *chain, size_t n, uint8_t key[32])
{
    uint8_t buf[1 + MAX_CHAIN * 32];
    buf[0] = (uint8_t)p;
    for (size_t i = 0; i < n; i++) {
        tes_err rc = tes_digest(TES_HASH_SHA256, chain[i], buf + 1 + 32 * i);
        if (rc != TES_OK)
            return rc;
    }
    return tes_digest(TES_HASH_SHA256, TES_BYTES(buf, 1 + 32 * n), key);
}

tes_err tes_trust_validate(tes_trust_store *s, tes_trust_profile p, const tes_bytes *chain,
                           size_t n, int64_t at, tes_trust_result *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!s || !chain || n == 0 || !profile_ok(p))
        return tes_err_set(TES_ERR_ARG, "trust validate: bad arguments");
    if (n > MAX_CHAIN)
        return tes_err_set(TES_ERR_ARG, "trust validate: chain of %zu certificates (at most %d)", n,
                           MAX_CHAIN);
    for (size_t i = 0; i < n; i++)
        if (!chain[i].ptr && chain[i].len)
            return tes_err_set(TES_ERR_ARG, "trust validate: NULL certificate %zu", i);

    uint8_t key[32];
    tes_err rc = chain_key(p, chain, n, key);
    if (rc != TES_OK)
        return rc;

    window win;
    const tes_cert *leaf, *root;
    bool hit = false;
    pthread_mutex_lock(&s->cache_lock);
    cache_ent *e = cache_find(s, key);
    if (e) {
        e->referenced = true;
        win = e->win;
        leaf = e->leaf;
        root = e->root;
        hit = true;
    }
    pthread_mutex_unlock(&s->cache_lock);

    if (!hit) {
        tes_cert *certs[MAX_CHAIN] = {0};
        for (size_t i = 0; i < n && rc == TES_OK; i++) {
            rc = tes_cert_parse(chain[i], &certs[i]);
            if (rc != TES_OK)
                rc = tes_err_set(TES_ERR_CERT_MALFORMED,
                                 "certificate %zu of the chain does not parse", i);
        }
        cache_ent fresh;
        if (rc == TES_OK)
            rc = validate_cold(s, p, certs, n, &fresh);
        for (size_t i = 0; i < n; i++)
            tes_cert_free(certs[i]);
        if (rc != TES_OK)
            return rc;

        pthread_mutex_lock(&s->cache_lock);
        e = cache_find(s, key); /* another thread may have been quicker */
        if (e) {
            entry_release(&fresh);
        } else {
            e = cache_insert(s, key, &fresh);
            if (!e) {
                pthread_mutex_unlock(&s->cache_lock);
                entry_release(&fresh);
                return tes_err_set(TES_ERR_NOMEM, "trust store: out of memory");
            }
        }
        win = e->win;
        leaf = e->leaf;
        root = e->root;
        pthread_mutex_unlock(&s->cache_lock);
    }

    if (out) {
        out->leaf = leaf;
        out->root = root;
        out->from_cache = hit;
    }
    return window_check(&win, p, at);
}
