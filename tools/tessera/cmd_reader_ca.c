/* tessera reader-ca — the authority that licenses mdoc readers (a police bureau
 * licensing hotels to register guests): its root, and reader certificates that
 * carry the scope it grants. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tessera/trust.h"

#include "cli.h"

#define DAY 86400LL
#define SKEW 3600LL              /* not_before = now - 1 hour (clock skew) */
#define ROOT_DAYS (10 * 365 + 3) /* 10 years */
#define READER_DAYS 365
#define MAX_SCOPE 256

#define CA_CERT "reader_ca.pem"
#define CA_KEY "reader_ca_key.pem"
#define READER_CERT "reader.pem"
#define READER_KEY "reader_key.pem"

static bool valid_country(const char *cc)
{
    return strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z';
}

static int write_key(const char *cmd, const char *dir, const char *file, const tes_key *k)
{
    char path[PATH_MAX];
    if (!cli_path_in(path, sizeof(path), dir, file))
        return cli_usage_error(cmd, "path too long: %s/%s", dir, file);
    tes_buf pem = {.secret = true};
    tes_err e = tes_key_to_pem(k, true, &pem);
    if (e == TES_OK)
        e = cli_write_file(path, tes_buf_bytes(&pem), true);
    tes_buf_free(&pem);
    return e == TES_OK ? CLI_EXIT_OK : cli_fail(CLI_EXIT_USAGE, "%s: writing %s", cmd, path);
}

static int write_cert(const char *cmd, const char *dir, const char *file, const tes_cert *c)
{
    char path[PATH_MAX];
    if (!cli_path_in(path, sizeof(path), dir, file))
        return cli_usage_error(cmd, "path too long: %s/%s", dir, file);
    tes_buf pem = {0};
    tes_err e = tes_cert_to_pem(c, &pem);
    if (e == TES_OK)
        e = cli_write_file(path, tes_buf_bytes(&pem), false);
    tes_buf_free(&pem);
    return e == TES_OK ? CLI_EXIT_OK : cli_fail(CLI_EXIT_USAGE, "%s: writing %s", cmd, path);
}

/* Creates dir (0700), or accepts an existing directory holding none of files
 * (or holding them, with force). */
static int prepare_dir(const char *cmd, const char *dir, const char *const *files, size_t n,
                       bool force)
{
    bool created;
    int rc = cli_secret_dir(cmd, dir, &created);
    if (rc != CLI_EXIT_OK || created)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (!cli_path_in(path, sizeof(path), dir, files[i]))
            return cli_usage_error(cmd, "path too long: %s", dir);
        if (access(path, F_OK) == 0 && !force)
            return cli_error(CLI_EXIT_USAGE,
                             "%s: '%s' already holds %s; refusing to overwrite it (use --force "
                             "to replace it)",
                             cmd, dir, files[i]);
    }
    return CLI_EXIT_OK;
}

/* ---- reader-ca init ---- */

static int ca_init(const char *dir, const char *name, const char *country, bool force)
{
    const char *cmd = "reader-ca init";
    static const char *const files[] = {CA_CERT, CA_KEY};
    int rc = prepare_dir(cmd, dir, files, 2, force);
    if (rc != CLI_EXIT_OK)
        return rc;
    int64_t now = (int64_t)time(NULL);
    tes_key *key = NULL;
    tes_cert *root = NULL;
    if (tes_key_generate(TES_CURVE_P256, &key) != TES_OK) {
        rc = cli_fail(CLI_EXIT_FAIL, "%s: generating the root key", cmd);
        goto out;
    }
    const tes_cert_template t = {
        .common_name = name,
        .country = country,
        .not_before = now - SKEW,
        .not_after = now + ROOT_DAYS * DAY,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
    };
    if (tes_cert_create(&t, key, NULL, key, &root) != TES_OK) {
        rc = cli_fail(CLI_EXIT_FAIL, "%s: creating the root certificate", cmd);
        goto out;
    }
    if ((rc = write_key(cmd, dir, CA_KEY, key)) != CLI_EXIT_OK ||
        (rc = write_cert(cmd, dir, CA_CERT, root)) != CLI_EXIT_OK)
        goto out;
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
    rc = CLI_EXIT_OK;
out:
    tes_cert_free(root);
    tes_key_free(key);
    return rc;
}

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},     {"name", required_argument, NULL, 'n'},
        {"country", required_argument, NULL, 'c'}, {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *cmd = "reader-ca init";
    const char *dir = NULL, *name = NULL, *country = "UT";
    bool force = false;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
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
            cli_print_usage(cmd, false);
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
    const char *dir, *name, *scope, *purpose, *out, *country, *valid_from, *valid_until;
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
    char ca_cert[PATH_MAX], ca_key[PATH_MAX];
    if (!cli_path_in(ca_cert, sizeof(ca_cert), a->dir, CA_CERT) ||
        !cli_path_in(ca_key, sizeof(ca_key), a->dir, CA_KEY))
        return cli_usage_error(cmd, "--dir path too long");
    if (access(ca_cert, R_OK) != 0 || access(ca_key, R_OK) != 0)
        return cli_error(CLI_EXIT_USAGE,
                         "%s: '%s' is not a reader authority (needs %s and %s; make one with "
                         "'tessera reader-ca init')",
                         cmd, a->dir, CA_CERT, CA_KEY);
    int64_t now = (int64_t)time(NULL);
    int64_t nb = now - SKEW, na = now + (int64_t)a->days * DAY;
    if (a->valid_from && tes_time_parse(a->valid_from, strlen(a->valid_from), false, &nb) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s: --valid-from", cmd);
    if (a->valid_until &&
        tes_time_parse(a->valid_until, strlen(a->valid_until), false, &na) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s: --valid-until", cmd);
    if (na <= nb)
        return cli_usage_error(cmd, "the validity ends before it starts");

    char *list = strdup(a->scope);
    const char **elems = calloc(MAX_SCOPE, sizeof(*elems));
    tes_cert *root = NULL, *cert = NULL;
    tes_key *root_key = NULL, *key = NULL;
    tes_buf ext = {0};
    int rc = CLI_EXIT_USAGE;
    size_t n = 0;
    if (list == NULL || elems == NULL) {
        cli_error(rc, "out of memory");
        goto out;
    }
    if ((rc = parse_scope(cmd, list, elems, &n)) != CLI_EXIT_OK)
        goto out;
    rc = CLI_EXIT_USAGE;
    if (cli_load_cert(ca_cert, &root) != TES_OK) {
        cli_fail(rc, "%s: reader authority certificate", cmd);
        goto out;
    }
    if (cli_load_key(ca_key, &root_key) != TES_OK) {
        cli_fail(rc, "%s: reader authority key", cmd);
        goto out;
    }
    if (!tes_key_has_private(root_key) || !tes_key_equal_public(root_key, tes_cert_key(root))) {
        cli_error(rc, "%s: %s is not the private key of %s", cmd, ca_key, ca_cert);
        goto out;
    }
    static const char *const files[] = {READER_CERT, READER_KEY};
    if ((rc = prepare_dir(cmd, a->out, files, 2, a->force)) != CLI_EXIT_OK)
        goto out;
    rc = CLI_EXIT_FAIL;
    if (tes_reader_scope_encode(a->purpose ? a->purpose : "", elems, n, &ext) != TES_OK) {
        cli_fail(rc, "%s: encoding the scope", cmd);
        goto out;
    }
    if (tes_key_generate(TES_CURVE_P256, &key) != TES_OK) {
        cli_fail(rc, "%s: generating the reader key", cmd);
        goto out;
    }
    const char *country = a->country;
    if (country == NULL && tes_cert_get_info(root)->country[0] != '\0')
        country = tes_cert_get_info(root)->country;
    const tes_cert_template t = {
        .common_name = a->name,
        .country = country,
        .not_before = nb,
        .not_after = na,
        .is_ca = false,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE,
        .eku_oid = TES_OID_EKU_MDL_READER,
        .extra_oid = TES_OID_READER_SCOPE,
        .extra_value = tes_buf_bytes(&ext),
    };
    if (tes_cert_create(&t, key, root, root_key, &cert) != TES_OK) {
        cli_fail(rc, "%s: creating the reader certificate", cmd);
        goto out;
    }
    if ((rc = write_key(cmd, a->out, READER_KEY, key)) != CLI_EXIT_OK ||
        (rc = write_cert(cmd, a->out, READER_CERT, cert)) != CLI_EXIT_OK)
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
    printf("  scope%s%s%s: ", a->purpose ? " (" : "", a->purpose ? a->purpose : "",
           a->purpose ? ")" : "");
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", elems[i]);
    printf("\n");
    rc = CLI_EXIT_OK;
out:
    tes_buf_free(&ext);
    tes_cert_free(cert);
    tes_cert_free(root);
    tes_key_free(key);
    tes_key_free(root_key);
    free(elems);
    free(list);
    return rc;
}

static int cmd_issue_reader(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},
        {"scope", required_argument, NULL, 's'},
        {"purpose", required_argument, NULL, 'p'},
        {"valid-days", required_argument, NULL, 'v'},
        {"valid-from", required_argument, NULL, 'F'},
        {"valid-until", required_argument, NULL, 'U'},
        {"country", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "reader-ca issue";
    issue_args a = {.days = READER_DAYS};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
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
        case 'f':
            a.force = true;
            break;
        case 'h':
            cli_print_usage(cmd, false);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
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
        cli_print_usage(full, false);
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
