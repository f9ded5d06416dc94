/*
 * tessera — command-line tool of the Tessera mdoc wallet library.
 *
 * main() only dispatches; each subcommand lives in its own cmd_*.c file and
 * parses its own options with getopt_long, with the table that commands.c
 * builds from the one specification of the command line (which also gives
 * the --help texts and the man page docs/tessera.1: `tessera --man`).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

/* The top-level commands' functions; their options, help and man page
 * sections are in the table of commands.c. */
static int cmd_help(int argc, char **argv);

static const struct {
    const char *name;
    cli_cmd_fn fn;
} DISPATCH[] = {
    {"authority", cmd_authority}, {"issue", cmd_issue},         {"present", cmd_present},
    {"verify", cmd_verify},       {"inspect", cmd_inspect},     {"wallet", cmd_wallet},
    {"vendor", cmd_vendor},       {"reader-ca", cmd_reader_ca}, {"reader", cmd_reader},
    {"rp", cmd_rp},
    {"hotel", cmd_hotel},
    {"lock", cmd_lock},
    {"help", cmd_help},
};

static cli_cmd_fn find_fn(const char *name)
{
    for (size_t i = 0; i < sizeof(DISPATCH) / sizeof(DISPATCH[0]); i++)
        if (strcmp(DISPATCH[i].name, name) == 0)
            return DISPATCH[i].fn;
    return NULL;
}

void cli_help(const char *cmd)
{
    const cli_command *c = cli_command_find(cmd);
    if (c == NULL)
        cli_overview(stdout);
    else
        cli_command_help(c, stdout);
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (find_fn(argv[1]) == NULL) {
        fprintf(stderr, "tessera: help: unknown command '%s' (see 'tessera --help')\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    if (argc >= 3) {
        char full[128];
        snprintf(full, sizeof(full), "%s %s", argv[1], argv[2]);
        if (cli_command_find(full) == NULL) {
            fprintf(stderr, "tessera: help: unknown subcommand '%s' (see 'tessera help %s')\n",
                    full, argv[1]);
            return CLI_EXIT_USAGE;
        }
        cli_help(full);
        return CLI_EXIT_OK;
    }
    cli_help(argv[1]);
    return CLI_EXIT_OK;
}

/* `tessera-issuerd ARGS` is `tessera authority serve ARGS`. */
static bool called_as_issuerd(const char *argv0)
{
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;
    base = base ? base + 1 : argv0;
    return base != NULL && strcmp(base, "tessera-issuerd") == 0;
}

int main(int argc, char **argv)
{
    if (called_as_issuerd(argv[0])) {
        if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
            printf("tessera-issuerd %s\n", CLI_VERSION);
            return CLI_EXIT_OK;
        }
        int rc = cmd_authority_serve(argc, argv);
        if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
            rc = cli_error(CLI_EXIT_USAGE, "cannot write to standard output");
        return rc;
    }
    if (argc < 2) {
        cli_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        cli_overview(stdout);
        return CLI_EXIT_OK;
    }
    /* Hidden: the man page (build target `man` writes docs/tessera.1) and the
     * table in a form tests/cli/man.sh reads. */
    if (strcmp(name, "--man") == 0 || strcmp(name, "--spec") == 0) {
        if (strcmp(name, "--man") == 0)
            cli_man_page(stdout);
        else
            cli_spec_dump(stdout);
        return fflush(stdout) == 0 ? CLI_EXIT_OK
                                   : cli_error(CLI_EXIT_USAGE, "cannot write to standard output");
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("tessera %s\n", CLI_VERSION);
        return CLI_EXIT_OK;
    }
    cli_cmd_fn fn = find_fn(name);
    if (fn == NULL) {
        fprintf(stderr, "tessera: unknown command '%s' (see 'tessera --help')\n", name);
        return CLI_EXIT_USAGE;
    }
    int rc = fn(argc - 1, argv + 1);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
        rc = cli_error(CLI_EXIT_USAGE, "cannot write to standard output");
    return rc;
}
