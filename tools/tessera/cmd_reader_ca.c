/* tessera reader-ca — the authority that licenses mdoc readers (a police bureau
 * licensing hotels to register guests): its root, and reader certificates that
 * carry the scope it grants (made by tes_reader_ca_create and
 * tes_reader_cert_issue, trust.h; here the options, the scope list and the
 * summary). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/trust.h"

#include "cli.h"

#define READER_DAYS 365
#define MAX_SCOPE TES_READER_SCOPE_MAX

#define CA_CERT TES_READER_CA_CERT
#define CA_KEY TES_READER_CA_KEY
#define READER_CERT TES_READER_CERT
#define READER_KEY TES_READER_KEY

static bool valid_country(const char *cc)
{
    return strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z';
}

/* A library failure of cmd: an existing file hints at --force. */
static int report(const char *cmd, tes_err e)
{
    if (e == TES_ERR_EXISTS)
        return cli_error(CLI_EXIT_USAGE, "%s: %s (use --force to replace it)", cmd,
                         tes_err_message());
    return cli_fail(cli_exit_for(e), "%s", cmd);
}

/* ---- reader-ca init ---- */

static int ca_init(const char *dir, const char *name, const char *country, bool force)
{
    const char *cmd = "reader-ca init";
    const tes_reader_ca_params p = {.dir = dir, .name = name, .country = country, .force = force};
    tes_cert *root = NULL;
    tes_err e = tes_reader_ca_create(&p, &root);
    if (e != TES_OK)
        return report(cmd, e);
    const tes_cert_info *ri = tes_cert_get_info(root);
    char until[21];
    tes_time_format(ri->not_after, until);
    printf("created reader authority in %s\n", dir);
    printf("  %-18s %s (root of reader certificates, valid until %s)\n", CA_CERT, ri->subject,
           until);
    printf("  %-18s its private key (keep offline)\n", CA_KEY);
    printf("wallets that should trust readers it licenses: 'tessera wallet trust-reader --root "
           "%s/%s'\n",
           dir, CA_CERT);
    tes_cert_free(root);
    return CLI_EXIT_OK;
}

static int cmd_init(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("reader-ca init", &opts);
    const char *cmd = "reader-ca init";
    const char *dir = NULL, *name = NULL, *country = "UT";
    bool force = false;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'c':
            country = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || *dir == '\0')
        return cli_usage_error(cmd, "missing --dir");
    if (name == NULL || *name == '\0')
        return cli_usage_error(cmd, "missing --name (e.g. \"Utopia Police Bureau\")");
    if (strlen(name) > 200)
        return cli_usage_error(cmd, "--name is too long");
    if (!valid_country(country))
        return cli_usage_error(cmd, "--country must be two upper-case letters, not '%s'", country);
    return ca_init(dir, name, country, force);
}

/* ---- reader-ca issue ---- */

typedef struct issue_args {
    const char *dir, *name, *scope, *purpose, *out, *country, *valid_from, *valid_until, *dns;
    size_t days;
    bool force;
} issue_args;

/* Splits "ns/elem,ns/elem" in place into elems (each must be NAMESPACE/ELEMENT). */
static int parse_scope(const char *cmd, char *list, const char **elems, size_t *n)
{
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && tok[len - 1] == ' ')
            tok[--len] = '\0';
        if (len == 0)
            continue;
        char *slash = strrchr(tok, '/');
        if (slash == NULL || slash == tok || slash[1] == '\0')
            return cli_usage_error(cmd, "--scope: '%s' is not NAMESPACE/ELEMENT", tok);
        if (*n == MAX_SCOPE)
            return cli_usage_error(cmd, "--scope lists more than %d elements", MAX_SCOPE);
        elems[(*n)++] = tok;
    }
    if (*n == 0)
        return cli_usage_error(cmd, "--scope lists no element");
    return CLI_EXIT_OK;
}

static int ca_issue(const issue_args *a)
{
    const char *cmd = "reader-ca issue";
    int64_t nb = 0, na = 0;
    if (a->valid_from && tes_time_parse(a->valid_from, strlen(a->valid_from), false, &nb) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s: --valid-from", cmd);
    if (a->valid_until &&
        tes_time_parse(a->valid_until, strlen(a->valid_until), false, &na) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s: --valid-until", cmd);

    char *list = strdup(a->scope);
    const char **elems = calloc(MAX_SCOPE, sizeof(*elems));
    tes_cert *cert = NULL;
    int rc = CLI_EXIT_USAGE;
    size_t n = 0;
    if (list == NULL || elems == NULL) {
        cli_error(rc, "out of memory");
        goto out;
    }
    if ((rc = parse_scope(cmd, list, elems, &n)) != CLI_EXIT_OK)
        goto out;
    const tes_reader_cert_params p = {
        .ca_dir = a->dir,
        .out_dir = a->out,
        .name = a->name,
        .purpose = a->purpose,
        .scope = elems,
        .n_scope = n,
        .country = a->country,
        .not_before = nb,
        .not_after = na,
        .valid_days = a->days,
        .dns_name = a->dns,
        .force = a->force,
    };
    tes_err e = tes_reader_cert_issue(&p, &cert);
    if (e == TES_ERR_NOT_FOUND)
        rc = cli_error(CLI_EXIT_USAGE, "%s: %s; make one with 'tessera reader-ca init'", cmd,
                       tes_err_message());
    else if (e != TES_OK)
        rc = report(cmd, e);
    if (e != TES_OK)
        goto out;
    const tes_cert_info *ci = tes_cert_get_info(cert);
    char t1[21], t2[21];
    tes_time_format(ci->not_before, t1);
    tes_time_format(ci->not_after, t2);
    printf("licensed reader \"%s\" in %s\n", a->name, a->out);
    printf("  %-15s %s (mdoc reader, EKU %s, %s .. %s)\n", READER_CERT, ci->subject,
           TES_OID_EKU_MDL_READER, t1, t2);
    printf("                  issued by %s\n", ci->issuer);
    printf("  %-15s its private key (mode 0600)\n", READER_KEY);
    if (a->dns)
        printf("  site name       %s (subjectAltName dNSName: client_id x509_san_dns:%s)\n",
               a->dns, a->dns);
    printf("  scope%s%s%s: ", a->purpose ? " (" : "", a->purpose ? a->purpose : "",
           a->purpose ? ")" : "");
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", elems[i]);
    printf("\n");
    rc = CLI_EXIT_OK;
out:
    tes_cert_free(cert);
    free(elems);
    free(list);
    return rc;
}

static int cmd_issue_reader(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("reader-ca issue", &opts);
    const char *cmd = "reader-ca issue";
    issue_args a = {.days = READER_DAYS};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a.dir = optarg;
            break;
        case 'n':
            a.name = optarg;
            break;
        case 's':
            a.scope = optarg;
            break;
        case 'p':
            a.purpose = optarg;
            break;
        case 'v':
            if (!cli_parse_size(optarg, 100 * 365, &a.days) || a.days == 0)
                return cli_usage_error(cmd, "--valid-days needs 1..36500, not '%s'", optarg);
            break;
        case 'F':
            a.valid_from = optarg;
            break;
        case 'U':
            a.valid_until = optarg;
            break;
        case 'c':
            a.country = optarg;
            break;
        case 'o':
            a.out = optarg;
            break;
        case 'D':
            a.dns = optarg;
            break;
        case 'f':
            a.force = true;
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (a.dns != NULL && !tes_rp_dns_name_ok(a.dns))
        return cli_usage_error(cmd, "--dns '%s' is not a DNS name (letters, digits, '-', '.')",
                               a.dns);
    if (a.dir == NULL || *a.dir == '\0')
        return cli_usage_error(cmd, "missing --dir (the reader authority)");
    if (a.name == NULL || *a.name == '\0')
        return cli_usage_error(cmd, "missing --name (the reader's name, e.g. \"Hotel Utopia\")");
    if (strlen(a.name) > 200)
        return cli_usage_error(cmd, "--name is too long");
    if (a.scope == NULL)
        return cli_usage_error(cmd, "missing --scope NAMESPACE/ELEMENT,...");
    if (a.purpose && strlen(a.purpose) > 200)
        return cli_usage_error(cmd, "--purpose is too long");
    if (a.out == NULL || *a.out == '\0')
        return cli_usage_error(cmd, "missing --out DIR");
    if (a.country && !valid_country(a.country))
        return cli_usage_error(cmd, "--country must be two upper-case letters, not '%s'",
                               a.country);
    return ca_issue(&a);
}

int cmd_reader_ca(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        char full[64] = "reader-ca";
        if (argc >= 3 && strcmp(argv[1], "help") == 0)
            snprintf(full, sizeof(full), "reader-ca %s", argv[2]);
        cli_help(full);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("reader-ca", "missing subcommand (init, issue)");
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "issue") == 0)
        return cmd_issue_reader(argc - 1, argv + 1);
    return cli_usage_error("reader-ca", "unknown subcommand '%s' (init, issue)", argv[1]);
}
