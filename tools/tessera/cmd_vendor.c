/* tessera vendor init — a secure-element vendor root (for tests and small
 * deployments): the CA that certifies software secure elements' attestation
 * keys. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int vendor_init(const char *dir, const char *name, bool force)
{
    const char *cmd = "vendor init";
    char pem[PATH_MAX], key[PATH_MAX];
    if (!cli_path_in(pem, sizeof(pem), dir, "vendor.pem") ||
        !cli_path_in(key, sizeof(key), dir, "vendor_key.pem"))
        return cli_usage_error(cmd, "--dir path too long");
    bool created;
    int rc = cli_secret_dir(cmd, dir, &created);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!created) {
        if (!force && (access(pem, F_OK) == 0 || access(key, F_OK) == 0))
            return cli_error(CLI_EXIT_USAGE,
                             "%s: '%s' already holds a vendor root; refusing to overwrite its key "
                             "(use --force to replace it)",
                             cmd, dir);
    }
    if (chmod(dir, 0700) != 0)
        return cli_error(CLI_EXIT_USAGE, "%s: cannot set the mode of '%s': %s", cmd, dir,
                         strerror(errno));
    tes_err e = tes_se_vendor_create(dir, name, NULL);
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e, "%s: creating the vendor root in %s", cmd, dir);
    printf("created secure-element vendor root \"%s\" in %s\n", name, dir);
    printf("  vendor.pem      the root certificate (give it to issuers that check attestations)\n");
    printf("  vendor_key.pem  its private key (mode 0600): provisions secure elements with\n"
           "                  'tessera wallet init --vendor %s'\n",
           dir);
    return CLI_EXIT_OK;
}

int cmd_vendor(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("vendor init", &opts);
    const char *cmd = "vendor init";
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        cli_help(cmd);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("vendor", "missing subcommand 'init'");
    if (strcmp(argv[1], "init") != 0)
        return cli_usage_error("vendor", "unknown subcommand '%s' (only 'init')", argv[1]);
    argc--;
    argv++;
    const char *dir = NULL, *name = "Tessera Test SE Vendor";
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
    if (*name == '\0')
        return cli_usage_error(cmd, "--name must not be empty");
    return vendor_init(dir, name, force);
}
