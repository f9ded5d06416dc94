/*
 * status/verdict.c — the verifier's status verdict over a verified response
 * (tessera verify, tessera reader checkin, a reader app): the status of each
 * document that carries a reference, from one cache, and which outcome
 * decides the response (revoked outranks suspended outranks undetermined).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tessera/status.h"

const char *tes_status_value_name(tes_status_value v)
{
    switch (v) {
    case TES_STATUS_VALID:
        return "valid";
    case TES_STATUS_REVOKED:
        return "revoked";
    case TES_STATUS_SUSPENDED:
        return "suspended";
    default:
        return "undetermined";
    }
}

tes_err tes_status_mode_parse(const char *s, tes_status_mode *out)
{
    if (s == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_status_mode_parse: NULL argument");
    if (strcmp(s, "off") == 0)
        *out = TES_STATUS_OFF;
    else if (strcmp(s, "online") == 0)
        *out = TES_STATUS_ONLINE;
    else if (strcmp(s, "cached") == 0)
        *out = TES_STATUS_CACHED;
    else
        return tes_err_set(TES_ERR_ARG, "the status mode must be online, cached or off, not '%s'",
                           s);
    return TES_OK;
}

/* mkdir -p with mode 0700 for the directories it creates. */
static tes_err mkdirs(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return tes_err_set(TES_ERR_ARG, "status cache path too long");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            goto fail;
        *s = '/';
    }
    if (mkdir(p, 0700) == 0 || errno == EEXIST)
        return TES_OK;
fail:
    return tes_err_set(TES_ERR_IO, "cannot create the status cache '%s': %s", path,
                       strerror(errno));
}

/* Revoked outranks suspended outranks undetermined: the first document of
 * the strongest outcome decides. */
static void decide(const tes_mdoc_result *r, tes_status_verdict *v)
{
    static const tes_status_value order[] = {TES_STATUS_REVOKED, TES_STATUS_SUSPENDED,
                                             TES_STATUS_UNDETERMINED};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        for (size_t i = 0; i < v->n_docs; i++) {
            const tes_status_doc *s = &v->docs[i];
            if (!s->checked || s->value != order[k])
                continue;
            v->value = order[k];
            v->doc = i;
            if (order[k] != TES_STATUS_UNDETERMINED) {
                const tes_mdoc_document *d = &r->docs[i];
                snprintf(v->message, sizeof v->message,
                         "document %zu (%.*s) is %s by its issuer (index %llu of the status "
                         "list %s)",
                         i + 1, (int)d->doctype.len, (const char *)d->doctype.ptr,
                         tes_status_value_name(order[k]), (unsigned long long)d->status_idx,
                         s->uri);
            }
            return;
        }
    }
}

tes_err tes_status_check_response(const tes_status_opts *o, tes_trust_store *trust,
                                  const tes_mdoc_result *r, tes_status_verdict *out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_status_check_response: NULL argument");
    memset(out, 0, sizeof *out);
    out->value = TES_STATUS_VALID;
    if (o == NULL || r == NULL || (r->n_docs > 0 && r->docs == NULL))
        return tes_err_set(TES_ERR_ARG, "tes_status_check_response: NULL argument");
    if (o->mode == TES_STATUS_OFF || r->n_docs == 0)
        return TES_OK;
    if (o->mode != TES_STATUS_ONLINE && o->mode != TES_STATUS_CACHED)
        return tes_err_set(TES_ERR_ARG, "tes_status_check_response: unknown mode %d",
                           (int)o->mode);
    out->docs = calloc(r->n_docs, sizeof *out->docs);
    if (out->docs == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    out->n_docs = r->n_docs;
    int64_t now = o->now ? o->now : tes_clock_now(NULL); /* 0: the system clock */
    int timeout = o->fetch_timeout_ms > 0 ? o->fetch_timeout_ms : TES_STATUS_DEFAULT_TIMEOUT_MS;
    tes_status_cache *cache = NULL;
    tes_err e = TES_OK;
    for (size_t i = 0; i < r->n_docs; i++) {
        const tes_mdoc_document *d = &r->docs[i];
        if (!d->has_status)
            continue;
        tes_status_doc *s = &out->docs[i];
        s->checked = true;
        out->n_checked++;
        s->value = TES_STATUS_UNDETERMINED;
        s->reason = TES_ERR_STATUS;
        if (d->status_uri.len >= sizeof s->uri) {
            snprintf(s->detail, sizeof s->detail, "the status list URI is longer than %zu bytes",
                     sizeof s->uri - 1);
            continue;
        }
        memcpy(s->uri, d->status_uri.ptr, d->status_uri.len);
        s->uri[d->status_uri.len] = '\0';
        if (strlen(s->uri) != d->status_uri.len) {
            s->uri[0] = '\0';
            snprintf(s->detail, sizeof s->detail, "the status list URI contains a NUL byte");
            continue;
        }
        if (cache == NULL) {
            if (o->cache_dir == NULL || *o->cache_dir == '\0') {
                e = tes_err_set(TES_ERR_ARG, "no status cache directory given");
                break;
            }
            if ((e = mkdirs(o->cache_dir)) != TES_OK)
                break;
            if ((e = tes_status_cache_open(o->cache_dir, &cache)) != TES_OK) {
                e = tes_err_set(e, "opening the status cache %s: %s", o->cache_dir,
                                tes_err_message());
                break;
            }
            tes_status_cache_set_max_ttl(cache, o->max_ttl);
        }
        /* The list is bound to the document's own issuer (its IACA). */
        tes_status_check c = {0};
        if ((e = tes_status_check_doc(cache, o->mode, d, trust, now, o->max_age, timeout, &c)) !=
            TES_OK) {
            e = tes_err_set(e, "checking the status of document %zu: %s", i + 1,
                            tes_err_message());
            break;
        }
        s->value = c.value;
        s->fetched_at = c.fetched_at;
        s->reason = c.reason;
        snprintf(s->detail, sizeof s->detail, "%s", c.detail);
    }
    if (cache)
        tes_status_cache_close(cache);
    if (e != TES_OK) {
        tes_status_verdict_free(out);
        out->value = TES_STATUS_UNDETERMINED;
        return e;
    }
    for (size_t i = 0; i < out->n_docs; i++)
        if (out->docs[i].checked && out->docs[i].value == TES_STATUS_UNDETERMINED)
            out->n_undetermined++;
    decide(r, out);
    return TES_OK;
}

void tes_status_verdict_free(tes_status_verdict *v)
{
    if (v == NULL)
        return;
    free(v->docs);
    memset(v, 0, sizeof *v);
}
