/*
 * tools/tessera/commands.h — the one specification of the `tessera` command
 * line (commands.c): every command and subcommand with its synopsis,
 * description and options. The getopt_long tables, the --help texts and the
 * man page docs/tessera.1 (`tessera --man`) are all built from it, so that
 * they cannot disagree; tests/cli/man.sh checks the committed page and every
 * option against the parsers.
 */
#ifndef TESSERA_CLI_COMMANDS_H
#define TESSERA_CLI_COMMANDS_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

typedef enum cli_arg_kind { CLI_ARG_NONE, CLI_ARG_REQUIRED, CLI_ARG_OPTIONAL } cli_arg_kind;

/* One option of a command. A row with only .heading set is a heading line
 * between groups of options in the help. */
typedef struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* also accepted as -x, or 0 */
    cli_arg_kind arg;
    int val;             /* what getopt_long returns: the case in the command's switch */
    const char *metavar; /* shown after the name; NULL for CLI_ARG_NONE */
    const char *help;    /* lines ('\n'), printed at the command's help column */
    const char *man;     /* roff of the man page's item, or NULL: help, filled */
    const char *heading;
} cli_opt;

typedef struct cli_command {
    const char *name;       /* "wallet enrol" */
    const char *aliases[3]; /* further names of the same command ("wallet enroll") */
    const char *man_title;  /* the man page's .SS title (roff), or NULL: name */
    const char *summary;    /* top-level commands: the line in 'tessera --help' */
    /* one usage form a line, each beginning "tessera "; wrapped when printed.
     * A command group's synopsis is its subcommands' (NULL here). */
    const char *synopsis;
    const char *description; /* text between the synopsis and the options */
    const cli_opt *opts;
    size_t n_opts;
    const char *epilogue; /* after the options: output, exit status, examples */
    const char *man;      /* roff of the man page's COMMANDS subsection before the
                             option items; NULL: no subsection (command groups) */
    const char *help_as;  /* show this command's help instead (a group of one) */
} cli_command;

/* The table, in the order of the man page. */
extern const cli_command cli_commands[];
extern const size_t cli_n_commands;

/* The command called name or one of its aliases, or NULL. */
const cli_command *cli_command_find(const char *name);

/* getopt_long's tables for a command, built from its specification plus
 * --help (val 'h', short -h). The `val` of every option is the case the
 * command's switch already handles. shortopts begins with ':' (a missing
 * value is reported as ':'). */
#define CLI_OPTS_MAX 40
typedef struct cli_getopt {
    struct option longopts[CLI_OPTS_MAX + 2];
    char shortopts[2 * CLI_OPTS_MAX + 8];
} cli_getopt;
/* Fills *g for the command called name (an alias works too). A name that is
 * not in the table is a programming error: reported and abort(). */
void cli_getopt_for(const char *name, cli_getopt *g);

/* Writes the help of a command (or of a command group: the synopses of all
 * its subcommands) to f. */
void cli_command_help(const cli_command *c, FILE *f);
/* 'tessera --help'. */
void cli_overview(FILE *f);
/* The man page docs/tessera.1 (`tessera --man`). */
void cli_man_page(FILE *f);
/* `tessera --spec`, for tests/cli/man.sh: a line a command ("command NAME"),
 * one an alias ("alias NAME"), one an option ("option NAME<TAB>--LONG
 * none|required|optional SHORT|- VAL"). */
void cli_spec_dump(FILE *f);

#endif
