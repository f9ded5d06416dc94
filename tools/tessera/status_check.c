/* Credential status for verifiers (IETF Token Status List): the --status,
 * --status-cache and --status-max-age options shared by `tessera verify` and
 * `tessera reader checkin`, and the check of every verified document that
 * carries a status reference. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

bool cli_status_parse_mode(const char *s, tes_status_mode *out)
{
    if (strcmp(s, "off") == 0)
        *out = TES_STATUS_OFF;
    else if (strcmp(s, "online") == 0)
        *out = TES_STATUS_ONLINE;
    else if (strcmp(s, "cached") == 0)
        *out = TES_STATUS_CACHED;
    else
        return false;
    return true;
}

const char *cli_status_value_name(tes_status_value v)
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

/* mkdir -p with mode 0700 for the directories it creates. */
static bool mkdirs(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
        return false;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return false;
        *s = '/';
    }
    return mkdir(p, 0700) == 0 || errno == EEXIST;
}

/* The cache directory: given, else the default of the command. */
static int cache_dir(const char *cmd, const cli_status_opts *o, char *out, size_t cap)
{
    if (o->cache_dir != NULL) {
        if (snprintf(out, cap, "%s", o->cache_dir) >= (int)cap)
            return cli_usage_error(cmd, "--status-cache path too long");
        return CLI_EXIT_OK;
    }
    if (o->default_dir != NULL) {
        if (snprintf(out, cap, "%s", o->default_dir) >= (int)cap)
            return cli_usage_error(cmd, "status cache path too long");
        return CLI_EXIT_OK;
    }
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(out, cap, "%s/tessera/status", xdg);
    else if (home != NULL && *home != '\0')
        n = snprintf(out, cap, "%s/.cache/tessera/status", home);
    else
        return cli_usage_error(cmd, "no HOME to keep status lists in: give --status-cache DIR");
    if (n >= (int)cap)
        return cli_usage_error(cmd, "status cache path too long");
    return CLI_EXIT_OK;
}

int cli_status_check_docs(const char *cmd, const cli_status_opts *o, tes_trust_store *trust,
                          const tes_mdoc_result *r, cli_doc_status **out)
{
    *out = NULL;
    if (o->mode == TES_STATUS_OFF || r->n_docs == 0)
        return CLI_EXIT_OK;
    cli_doc_status *st = calloc(r->n_docs, sizeof(*st));
    if (st == NULL)
        return cli_error(CLI_EXIT_USAGE, "%s: out of memory", cmd);
    tes_status_cache *cache = NULL;
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < r->n_docs; i++) {
        const tes_mdoc_document *d = &r->docs[i];
        if (!d->has_status)
            continue;
        cli_doc_status *s = &st[i];
        s->checked = true;
        s->value = TES_STATUS_UNDETERMINED;
        s->reason = TES_ERR_STATUS;
        if (d->status_uri.len >= sizeof(s->uri)) {
            snprintf(s->detail, sizeof(s->detail), "the status list URI is longer than %zu bytes",
                     sizeof(s->uri) - 1);
            continue;
        }
        memcpy(s->uri, d->status_uri.ptr, d->status_uri.len);
        s->uri[d->status_uri.len] = '\0';
        if (strlen(s->uri) != d->status_uri.len) {
            snprintf(s->detail, sizeof(s->detail), "the status list URI contains a NUL byte");
            continue;
        }
        if (cache == NULL) {
            char dir[PATH_MAX];
            if ((rc = cache_dir(cmd, o, dir, sizeof(dir))) != CLI_EXIT_OK)
                goto out;
            if (!mkdirs(dir)) {
                rc = cli_error(CLI_EXIT_USAGE, "%s: cannot create the status cache '%s': %s", cmd,
                               dir, strerror(errno));
                goto out;
            }
            tes_err e = tes_status_cache_open(dir, &cache);
            if (e != TES_OK) {
                rc = cli_fail_code(cli_exit_for(e), e, "%s: opening the status cache %s", cmd, dir);
                goto out;
            }
            tes_status_cache_set_max_ttl(cache, o->max_ttl);
        }
        /* The library binds the list to the document's own issuer (its IACA). */
        tes_status_check c = {0};
        tes_err e = tes_status_check_doc(cache, o->mode, d, trust, (int64_t)time(NULL), o->max_age,
                                         CLI_STATUS_TIMEOUT_MS, &c);
        if (e != TES_OK) {
            rc = cli_fail_code(cli_exit_for(e), e, "%s: checking the status of document %zu", cmd,
                               i + 1);
            goto out;
        }
        s->value = c.value;
        s->fetched_at = c.fetched_at;
        s->reason = c.reason;
        snprintf(s->detail, sizeof(s->detail), "%s", c.detail);
    }
out:
    if (cache)
        tes_status_cache_close(cache);
    if (rc != CLI_EXIT_OK) {
        free(st);
        return rc;
    }
    *out = st;
    return CLI_EXIT_OK;
}

void cli_status_verdict(cli_verdict *v)
{
    v->status_code = NULL;
    v->status_message[0] = '\0';
    if (v->verdict != TES_OK || v->status == NULL)
        return;
    /* Revoked outranks suspended: the first revoked document, else the first
     * suspended one, makes the response invalid. */
    for (int pass = 0; pass < 2 && v->status_code == NULL; pass++) {
        tes_status_value want = pass == 0 ? TES_STATUS_REVOKED : TES_STATUS_SUSPENDED;
        for (size_t i = 0; i < v->r->n_docs; i++) {
            const cli_doc_status *s = &v->status[i];
            if (!s->checked || s->value != want)
                continue;
            const tes_mdoc_document *d = &v->r->docs[i];
            v->status_code = pass == 0 ? "credential_revoked" : "credential_suspended";
            snprintf(v->status_message, sizeof(v->status_message),
                     "document %zu (%.*s) is %s by its issuer (index %llu of the status list "
                     "%s)",
                     i + 1, (int)d->doctype.len, (const char *)d->doctype.ptr,
                     cli_status_value_name(want), (unsigned long long)d->status_idx, s->uri);
            break;
        }
    }
}

void cli_status_warn(const char *cmd, const cli_verdict *v)
{
    if (v->verdict != TES_OK || v->status == NULL || v->status_code != NULL)
        return;
    for (size_t i = 0; i < v->r->n_docs; i++) {
        const cli_doc_status *s = &v->status[i];
        if (s->checked && s->value == TES_STATUS_UNDETERMINED)
            fprintf(stderr,
                    "tessera: %s: WARNING: the status of document %zu could not be determined "
                    "(%s): it may have been revoked or suspended; it is NOT known to be valid\n",
                    cmd, i + 1, s->detail[0] ? s->detail : "no reason given");
    }
}
