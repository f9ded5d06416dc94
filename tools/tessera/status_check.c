/* Credential status for verifiers (IETF Token Status List): the --status,
 * --status-cache and --status-max-age options shared by `tessera verify` and
 * `tessera reader checkin`: where the cache lives, the library's verdict
 * (tes_status_check_response, status.h) turned into the commands' error code,
 * and the warning about undetermined documents. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
                          const tes_mdoc_result *r, tes_status_verdict *out)
{
    memset(out, 0, sizeof *out);
    char dir[PATH_MAX] = "";
    bool any = false; /* no reference, no cache: HOME is not needed */
    for (size_t i = 0; i < r->n_docs; i++)
        any = any || r->docs[i].has_status;
    if (o->mode != TES_STATUS_OFF && any) {
        int rc = cache_dir(cmd, o, dir, sizeof dir);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    const tes_status_opts so = {
        .mode = o->mode,
        .cache_dir = dir,
        .max_age = o->max_age,
        .max_ttl = o->max_ttl,
        .fetch_timeout_ms = CLI_STATUS_TIMEOUT_MS,
    };
    tes_err e = tes_status_check_response(&so, trust, r, out);
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e, "%s", cmd);
    return CLI_EXIT_OK;
}

void cli_status_verdict(cli_verdict *v, const tes_status_verdict *sv)
{
    v->status = sv->docs;
    v->status_code = NULL;
    v->status_message[0] = '\0';
    if (v->verdict != TES_OK || sv->docs == NULL)
        return;
    if (sv->value == TES_STATUS_REVOKED || sv->value == TES_STATUS_SUSPENDED) {
        v->status_code =
            sv->value == TES_STATUS_REVOKED ? "credential_revoked" : "credential_suspended";
        snprintf(v->status_message, sizeof v->status_message, "%s", sv->message);
    }
}

void cli_status_warn(const char *cmd, const cli_verdict *v)
{
    if (v->verdict != TES_OK || v->status == NULL || v->status_code != NULL)
        return;
    for (size_t i = 0; i < v->r->n_docs; i++) {
        const tes_status_doc *s = &v->status[i];
        if (s->checked && s->value == TES_STATUS_UNDETERMINED)
            fprintf(stderr,
                    "tessera: %s: WARNING: the status of document %zu could not be determined "
                    "(%s): it may have been revoked or suspended; it is NOT known to be valid\n",
                    cmd, i + 1, s->detail[0] ? s->detail : "no reason given");
    }
}
