/*
 * tools/tessera/commands.c — the one specification of the command line (see
 * commands.h): the table of commands below, and what is built from it: the
 * getopt_long tables, the --help texts and the man page (`tessera --man`
 * writes docs/tessera.1; `cmake --build build --target man` regenerates it).
 *
 * Text fields are plain text for the help; `man` fields are roff. An option's
 * `val` is the case its command's switch handles.
 */
#include "commands.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define OPTS(a) .opts = (a), .n_opts = sizeof(a) / sizeof((a)[0])

/* ---- rendering helpers ---- */

/* Whether command c belongs to group g ("wallet" for "wallet enrol"). */
static bool in_group(const cli_command *c, const char *g)
{
    size_t n = strlen(g);
    return strncmp(c->name, g, n) == 0 && c->name[n] == ' ';
}

/* A command group ("wallet"): its synopsis is its subcommands'. */
static bool is_group(const cli_command *c)
{
    return c->synopsis == NULL && c->help_as == NULL;
}

/* Number of words of a command's name ("wallet enrol": 2). */
static size_t name_words(const char *name)
{
    size_t n = 1;
    for (const char *p = name; *p; p++)
        n += *p == ' ';
    return n;
}

/* Prints one synopsis form (one line, no newline) after `lead`, wrapped at 80
 * columns between the bracket groups, continuation lines aligned after the
 * command's name. */
static void print_form(FILE *f, const char *lead, const char *form, size_t len, size_t words)
{
    size_t col = strlen(lead), indent = col;
    fputs(lead, f);
    const char *p = form, *end = form + len;
    size_t w = 0;
    bool first = true;
    while (p < end) {
        /* one token: up to a space outside brackets and parentheses */
        const char *q = p;
        int depth = 0;
        while (q < end && (depth > 0 || *q != ' ')) {
            depth += (*q == '[' || *q == '(') - (*q == ']' || *q == ')');
            q++;
        }
        /* an option and its value stay together: "--out MDOC.cbor" */
        if (*p == '-' && q < end && q + 1 < end && !strchr("[(|-", q[1])) {
            q++;
            while (q < end && *q != ' ')
                q++;
        }
        size_t tl = (size_t)(q - p);
        if (!first && w > words && col + 1 + tl > 80) {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, tl, f);
        col += tl;
        if (++w == words + 1)
            indent = col + 1; /* after "tessera NAME" */
        first = false;
        p = q;
        while (p < end && *p == ' ')
            p++;
    }
    fputc('\n', f);
}

static void print_synopsis(FILE *f, const cli_command *c, bool *first)
{
    const char *p = c->synopsis;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        print_form(f, *first ? "usage: " : "       ", p, len, name_words(c->name));
        *first = false;
        p = nl ? nl + 1 : p + len;
    }
}

/* Prints text with every line indented by `indent` spaces (the first line
 * after `col` columns already written). */
static void print_lines(FILE *f, const char *text, size_t indent, size_t col)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (col < indent)
            fprintf(f, "%*s", (int)(indent - col), "");
        fwrite(p, 1, len, f);
        fputc('\n', f);
        col = 0;
        p = nl ? nl + 1 : p + len;
    }
}

static size_t opt_label(char *out, size_t cap, const cli_opt *o)
{
    int n;
    if (o->short_name)
        n = snprintf(out, cap, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
    else
        n = snprintf(out, cap, "--%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
    return n < 0 ? 0 : (size_t)n;
}

/* ---- lookups ---- */

const cli_command *cli_command_find(const char *name)
{
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_command *c = &cli_commands[i];
        if (strcmp(c->name, name) == 0)
            return c;
        for (size_t a = 0; a < sizeof(c->aliases) / sizeof(c->aliases[0]); a++)
            if (c->aliases[a] && strcmp(c->aliases[a], name) == 0)
                return c;
    }
    return NULL;
}

void cli_getopt_for(const char *name, cli_getopt *g)
{
    const cli_command *c = cli_command_find(name);
    if (c == NULL || c->n_opts > CLI_OPTS_MAX) {
        fprintf(stderr, "tessera: internal error: no option table for '%s'\n", name);
        abort();
    }
    size_t n = 0, s = 0;
    g->shortopts[s++] = ':';
    g->shortopts[s++] = 'h';
    for (size_t i = 0; i < c->n_opts; i++) {
        const cli_opt *o = &c->opts[i];
        if (o->name == NULL)
            continue;
        g->longopts[n++] = (struct option){o->name,
                                           o->arg == CLI_ARG_NONE       ? no_argument
                                           : o->arg == CLI_ARG_REQUIRED ? required_argument
                                                                        : optional_argument,
                                           NULL, o->val};
        if (o->short_name) {
            g->shortopts[s++] = o->short_name;
            if (o->arg != CLI_ARG_NONE)
                g->shortopts[s++] = ':';
            if (o->arg == CLI_ARG_OPTIONAL)
                g->shortopts[s++] = ':';
        }
    }
    g->longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    g->longopts[n] = (struct option){NULL, 0, NULL, 0};
    g->shortopts[s] = '\0';
}

/* ---- --help ---- */

void cli_command_help(const cli_command *c, FILE *f)
{
    if (c->help_as != NULL)
        c = cli_command_find(c->help_as);
    bool first = true;
    if (is_group(c)) {
        for (size_t i = 0; i < cli_n_commands; i++)
            if (in_group(&cli_commands[i], c->name))
                print_synopsis(f, &cli_commands[i], &first);
    } else {
        print_synopsis(f, c, &first);
    }
    if (c->description)
        fprintf(f, "\n%s\n", c->description);
    if (c->n_opts > 0) {
        /* the help column: after the longest label, at most 26 */
        size_t width = 0;
        char label[160];
        for (size_t i = 0; i < c->n_opts; i++) {
            size_t l = c->opts[i].name ? opt_label(label, sizeof(label), &c->opts[i]) : 0;
            if (l + 4 <= 26 && l + 4 > width)
                width = l + 4;
        }
        if (width < 14)
            width = 14;
        fputs("\noptions:\n", f);
        for (size_t i = 0; i < c->n_opts; i++) {
            const cli_opt *o = &c->opts[i];
            if (o->name == NULL) {
                fprintf(f, "\n%s\n", o->heading);
                continue;
            }
            size_t l = opt_label(label, sizeof(label), o);
            fprintf(f, "  %s", label);
            if (l + 4 > width) { /* at least two blanks before the help */
                fputc('\n', f);
                print_lines(f, o->help, width, 0);
            } else {
                print_lines(f, o->help, width, l + 2);
            }
        }
    }
    if (c->epilogue)
        fprintf(f, "\n%s\n", c->epilogue);
}

static const char OVERVIEW_HEAD[] =
    "usage: tessera COMMAND [OPTIONS]\n"
    "       tessera COMMAND --help | tessera --help | tessera --version\n"
    "\n"
    "Tessera: ISO/IEC 18013-5 mdoc credentials (issue, present, verify).\n"
    "\n"
    "commands:\n";

static const char OVERVIEW_TAIL[] =
    "\n"
    "exit status: 0 success; 1 the operation failed on its input (verify: the\n"
    "response is invalid); 2 usage error or unreadable input\n"
    "\n"
    "a whole story:\n"
    "  tessera authority init --dir ministry\n"
    "  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 \\\n"
    "      -nocrypt -out device_key.pem\n"
    "  openssl pkey -in device_key.pem -pubout -out device_pub.pem\n"
    "  tessera issue --authority ministry --doctype eu.europa.ec.eudi.pid.1 \\\n"
    "      --claims pid.json --device-key device_pub.pem --out pid.mdoc\n"
    "  echo 83f6f6826474657374420102 | xxd -r -p > st.cbor  # a SessionTranscript\n"
    "  tessera present --mdoc pid.mdoc --device-key device_key.pem \\\n"
    "      --elements family_name,age_over_18 --transcript st.cbor --out resp.cbor\n"
    "  tessera verify --trust ministry/iaca.pem --transcript st.cbor resp.cbor\n"
    "\n"
    "with a wallet whose keys live in a secure element: see 'tessera wallet --help'.\n"
    "\n"
    "See 'tessera COMMAND --help' and tessera(1).\n";

void cli_overview(FILE *f)
{
    fputs(OVERVIEW_HEAD, f);
    for (size_t i = 0; i < cli_n_commands; i++)
        if (cli_commands[i].summary && strchr(cli_commands[i].name, ' ') == NULL)
            fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fputs(OVERVIEW_TAIL, f);
}

/* ---- the man page ---- */

/* Plain text as roff: '\' -> \e, '-' -> \-, a leading '.' or '\'' guarded.
 * Text laid out with blanks (a table, JSON) keeps its lines (.nf); else the
 * lines are filled, their leading blanks dropped (they would break the line). */
static void roff_text(FILE *f, const char *text)
{
    bool bol = true, laid_out = strstr(text, "\n ") != NULL || strstr(text, "  ") != NULL;
    if (laid_out)
        fputs(".nf\n", f);
    for (const char *p = text; *p; p++) {
        if (bol) {
            while (*p == ' ' && !laid_out)
                p++;
            if (*p == '\0')
                break;
            if (*p == '.' || *p == '\'')
                fputs("\\&", f);
            bol = false;
        }
        if (*p == '\\')
            fputs("\\e", f);
        else if (*p == '-')
            fputs("\\-", f);
        else
            fputc(*p, f);
        if (*p == '\n')
            bol = true;
    }
    if (!bol)
        fputc('\n', f);
    if (laid_out)
        fputs(".fi\n", f);
}

/* Writes n bytes of s with every '-' as roff's minus sign \-. */
static void roff_dashes(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '-')
            fputs("\\-", f);
        else
            fputc(s[i], f);
}

/* A synopsis form as roff: options and lower-case words bold, the rest
 * (metavariables) italic, brackets, bars and parentheses roman. */
static void roff_form(FILE *f, const char *p, size_t len)
{
    const char *end = p + len;
    bool after_option = false;
    while (p < end) {
        if (*p == ' ' && after_option && p + 1 < end && !strchr("[(|-", p[1])) {
            fputs("\\ ", f); /* no line break between an option and its value */
            p++;
            continue;
        }
        if (strchr(" []()|,", *p)) {
            after_option = false;
            fputc(*p++, f);
            continue;
        }
        const char *q = p;
        while (q < end && !strchr(" []()|,", *q))
            q++;
        bool bold = p[0] == '-';
        after_option = bold;
        if (!bold) {
            bold = true;
            for (const char *r = p; r < q; r++)
                if (!((*r >= 'a' && *r <= 'z') || *r == '-'))
                    bold = false;
        }
        fputs(bold ? "\\fB" : "\\fI", f);
        roff_dashes(f, p, (size_t)(q - p));
        fputs("\\fR", f);
        p = q;
    }
}

static void man_synopsis(FILE *f, const cli_command *c)
{
    const char *p = c->synopsis;
    bool first = true;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fputs(first ? ".PP\n" : ".br\n", f);
        roff_form(f, p, len);
        fputc('\n', f);
        first = false;
        p = nl ? nl + 1 : p + len;
    }
}

static void man_option(FILE *f, const cli_opt *o)
{
    if (o->name == NULL) {
        fputs(".PP\n", f);
        roff_text(f, o->heading);
        return;
    }
    fputs(".TP\n", f);
    char label[80];
    if (o->short_name)
        snprintf(label, sizeof(label), "\\-%c, \\-\\-", o->short_name);
    else
        snprintf(label, sizeof(label), "\\-\\-");
    fprintf(f, "%s", o->metavar ? ".BI \"" : ".B \"");
    fputs(label, f);
    roff_dashes(f, o->name, strlen(o->name));
    fputc('"', f);
    if (o->metavar) {
        fputs(" \" ", f);
        roff_dashes(f, o->metavar, strlen(o->metavar));
        fputc('"', f);
    }
    fputc('\n', f);
    if (o->man)
        fprintf(f, "%s\n", o->man);
    else
        roff_text(f, o->help);
}

static void man_command(FILE *f, const cli_command *c)
{
    fputs(".SS ", f);
    if (c->man_title)
        fputs(c->man_title, f);
    else
        roff_dashes(f, c->name, strlen(c->name));
    fputc('\n', f);
    if (c->man)
        fprintf(f, "%s\n", c->man);
    for (size_t i = 0; i < c->n_opts; i++)
        man_option(f, &c->opts[i]);
}
static const cli_opt OPTS_AUTHORITY_INIT[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "DIR", "where to create the authority (required)", NULL,
     NULL},
    {"country", 0, CLI_ARG_REQUIRED, 'c', "CC", "two-letter country code (default UT)",
     "two upper-case letters (default UT).", NULL},
    {"name", 0, CLI_ARG_REQUIRED, 'n', "NAME",
     "authority name used in the certificates (default Utopia)",
     "the authority's name (default Utopia).", NULL},
    {"url", 0, CLI_ARG_REQUIRED, 'u', "URL",
     "issuerAltName / CRL base URL (default https://iaca.<cc>.example)",
     "base URL for issuerAltName and the CRL (default https://iaca.\\fIcc\\fR.example).", NULL},
    {"force", 0, CLI_ARG_NONE, 'f', NULL,
     "replace an existing authority in DIR (its keys are lost)",
     "replace an authority already in \\fIDIR\\fR. Without it, \\fBtessera\\fR refuses (exit "
     "status 2)\n"
     "when any of its key or certificate files exists.",
     NULL},
    {"ds-hsm", 0, CLI_ARG_REQUIRED, 'H', "pkcs11:MODULE_PATH[:TOKEN_LABEL]",
     "generate the document signer key in this PKCS#11 token (e.g.\n"
     "/usr/lib/softhsm/libsofthsm2.so; without a label: the first\n"
     "initialised token). Logs in with the token's user PIN; the first\n"
     "time Tessera meets the token it also asks for the token's SO PIN\n"
     "once (it unblocks Tessera's PIN counter). Neither is stored: give\n"
     "the PIN to 'tessera issue' and 'tessera authority serve' with\n"
     "--hsm-pin-fd N or the environment variable TESSERA_HSM_PIN.",
     "generate the document signer's key pair inside a PKCS#11 token (an HSM; SoftHSM2 in tests:\n"
     "/usr/lib/softhsm/libsofthsm2.so) instead of a file: P-256, sensitive, not extractable, not\n"
     "needing the PIN on every signature (the service signs unattended). Without a label the "
     "first\n"
     "initialised token is used; a relative module path is made absolute. The IACA issues the DS\n"
     "certificate for the token's public key as usual. Instead of ds_key.pem, \\fIDIR\\fR gets\n"
     ".B ds_key.hsm\n"
     "({\"se\": \"pkcs11:...\", \"key_id\": \"...\"}: which token and key; no secret) and\n"
     ".B hsm\\-state/\n"
     "(mode 0700: Tessera's PIN retry counter for the token: 5 wrong PINs in a row lock it).\n"
     "Creating the key needs a session logged in with the token's user PIN; the first time "
     "Tessera\n"
     "meets the token it also asks once for the token's SO PIN (it is what unblocks Tessera's PIN\n"
     "counter for that token; it is checked by the token, not kept). The PINs are never stored: "
     "give\n"
     "the user PIN to \\fBissue\\fR and \\fBauthority serve\\fR with \\fB\\-\\-hsm\\-pin\\-fd\\fR "
     "or the\n"
     "environment variable \\fBTESSERA_HSM_PIN\\fR. The IACA key stays a file (iaca_key.pem) by "
     "design:\n"
     "it signs only DS certificates, rarely, and belongs offline, not next to a running service.",
     NULL},
    {"pin-fd", 0, CLI_ARG_REQUIRED, 'P', "N",
     "read the token PIN, then (first time only) the SO PIN, one per line\n"
     "from file descriptor N instead of the terminal",
     "with \\fB\\-\\-ds\\-hsm\\fR: read the token's user PIN, then (first time only) its SO PIN, "
     "one per\n"
     "line from file descriptor \\fIN\\fR instead of asking on the terminal.",
     NULL},
};

static const cli_opt OPTS_AUTHORITY_SERVE[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "DIR",
     "the authority (made by 'tessera authority init'): ds.pem and\n"
     "ds_key.pem (or the token key named by ds_key.hsm) sign\n"
     "credentials and status lists",
     NULL, NULL},
    {"db", 0, CLI_ARG_REQUIRED, 'b', "URL",
     "the registry: a file path, sqlite:PATH or postgresql://...\n"
     "(default DIR/registry.db)",
     "the registry: a file path, sqlite:\\fIPATH\\fR, or postgresql://... (default\n"
     "\\fIDIR\\fR/registry.db).",
     NULL},
    {"listen", 0, CLI_ARG_REQUIRED, 'l', "HOST:PORT",
     "where to listen (default 127.0.0.1:8080; port 0 picks a free one)",
     "default 127.0.0.1:8080; port 0 picks a free port (see \\fB\\-\\-port\\-file\\fR).", NULL},
    {"public-url", 0, CLI_ARG_REQUIRED, 'u', "URL",
     "the credential_issuer URL wallets reach (default http://HOST:PORT\n"
     "with the port bound; set it behind a TLS proxy)",
     "the credential_issuer URL wallets reach (default http://\\fIHOST\\fR:\\fIPORT\\fR with the "
     "bound\n"
     "port).",
     NULL},
    {"vendor-root", 0, CLI_ARG_REQUIRED, 'v', "PEM",
     "secure-element vendor roots: proofs must carry a key attestation\n"
     "that chains to one of them (without: attestation not required,\n"
     "for development only)",
     "secure-element vendor roots: every proof must carry a key attestation chaining to one of "
     "them,\n"
     "for the proof's key and with the c_nonce as challenge. Without this option attestation is "
     "not\n"
     "required (development only).",
     NULL},
    {"require-uv", 0, CLI_ARG_NONE, 'U', NULL,
     "refuse keys not attested as needing the holder's PIN",
     "refuse keys whose attestation does not say they need the holder's PIN.", NULL},
    {"batch-max", 0, CLI_ARG_REQUIRED, 'B', "N", "most copies per credential request (default 10)",
     "most copies per credential request (default 10).", NULL},
    {"valid-days", 0, CLI_ARG_REQUIRED, 'V', "N", "validity of issued credentials (default 365)",
     "validity of issued credentials (default 365; signed and validFrom are rounded so that "
     "copies\n"
     "cannot be told apart by time).",
     NULL},
    {"status-ttl", 0, CLI_ARG_REQUIRED, 'T', "SEC",
     "how long verifiers may cache a status list before fetching it\n"
     "again (default 3600)",
     "how long verifiers may cache a status list (the token's ttl; default 3600). The token "
     "expires\n"
     "after twice the ttl.",
     NULL},
    {"status-cache", 0, CLI_ARG_REQUIRED, 'K', "SEC",
     "how long the service reuses a signed list (default 5; 0: rebuild\n"
     "it on every request)",
     NULL, NULL},
    {"port-file", 0, CLI_ARG_REQUIRED, 'p', "FILE",
     "write the bound port to FILE once listening (for scripts)",
     "write the bound port (one line) once listening.", NULL},
    {"hsm-pin-fd", 0, CLI_ARG_REQUIRED, 'P', "N",
     "the PIN of the PKCS#11 token holding the document signer key\n"
     "(authority init --ds-hsm): one line from file descriptor N.\n"
     "Without it the PIN comes from the environment variable\n"
     "TESSERA_HSM_PIN (for a service under a supervisor). It is\n"
     "checked at start (a wrong PIN: exit 1, one of Tessera's 5\n"
     "tries for the token spent) and never written anywhere.",
     "when the document signer key is in a PKCS#11 token (\\fBauthority init \\-\\-ds\\-hsm\\fR): "
     "read\n"
     "the token PIN (one line) from file descriptor \\fIN\\fR. Without this option the PIN is "
     "taken\n"
     "from the environment variable \\fBTESSERA_HSM_PIN\\fR, the usual way for a service under a\n"
     "supervisor (systemd: an EnvironmentFile readable only by the service's user). The PIN is\n"
     "checked once, at start: a wrong or missing PIN, a key the token does not hold, or a token "
     "key\n"
     "that is not ds.pem's key stop the service before it listens (exit status 1, or 2 when no "
     "PIN\n"
     "is given). It is not written anywhere. Signatures go through the token one at a time.",
     NULL},
    {"credentials-per-offer", 0, CLI_ARG_REQUIRED, 'O', "N",
     "most credentials one offer obtains in all (default 3 x\n"
     "--batch-max; 0: no limit); kept in the registry",
     "most credentials one offer (its access token) obtains in all (default 3 times\n"
     "\\fB\\-\\-batch\\-max\\fR; 0: no limit). Kept in the registry: it survives restarts and "
     "binds every\n"
     "service on the registry. Beyond it: credential_request_denied.",
     NULL},
    {"credentials-per-person", 0, CLI_ARG_REQUIRED, 'Q', "N",
     "most credentials one person obtains within\n"
     "--budget-period (default 10 x --batch-max; 0: no limit)",
     "most credentials one person obtains within \\fB\\-\\-budget\\-period\\fR (default 10 times\n"
     "\\fB\\-\\-batch\\-max\\fR; 0: no limit).",
     NULL},
    {"budget-period", 0, CLI_ARG_REQUIRED, 'W', "SEC",
     "the window of the person's budget (default 86400)",
     "the sliding window of the person's budget (default 86400).", NULL},
    {"nonce-rate", 0, CLI_ARG_REQUIRED, 'N', "N",
     "most /nonce requests per client address a minute (default 600;\n"
     "0: no limit). See docs/SERVICE-LIMITS.md.",
     "most /nonce requests per client address a minute (default 600; 0: no limit), then 429\n"
     "rate_limited. Nonces are stateless (an HMAC under a key kept in the registry); only used "
     "ones\n"
     "are recorded, until they expire. See docs/SERVICE-LIMITS.md.",
     NULL},
    {.heading = "defences against hostile clients (docs/SERVICE-LIMITS.md):"},
    {"max-connections", 0, CLI_ARG_REQUIRED, 'C', "N", "open connections in all (default 256)",
     "open connections in all (default 256).", NULL},
    {"max-connections-per-address", 0, CLI_ARG_REQUIRED, 'A', "N",
     "open connections from one client address (default 16); more\n"
     "are closed at once",
     "open connections from one client address (default 16, never more than\n"
     "\\fB\\-\\-max\\-connections\\fR); further ones are closed at once. Behind a reverse proxy "
     "every\n"
     "client has the proxy's address: raise it there, and let the proxy limit per client.",
     NULL},
    {"request-deadline", 0, CLI_ARG_REQUIRED, 'D', "SEC",
     "a request's headers and body must arrive within SEC seconds of\n"
     "the connection (or the previous answer), however steadily they\n"
     "trickle; then the connection is closed (default 10)",
     "a request's headers and body must have arrived within \\fISEC\\fR seconds of the "
     "connection's\n"
     "start (or of the previous answer on a kept-alive connection), however steadily they "
     "trickle;\n"
     "otherwise the connection is closed (default 10).",
     NULL},
    {"idle-timeout", 0, CLI_ARG_REQUIRED, 'I', "SEC",
     "close a connection silent for SEC seconds (default 30)",
     "close a connection on which nothing arrived for \\fISEC\\fR seconds (default 30).", NULL},
    {"max-body", 0, CLI_ARG_REQUIRED, 'M', "BYTES",
     "largest request body (default 65536; larger: 413)",
     "largest request body (default 65536): a larger declared one is answered 413 before it is "
     "read,\n"
     "a larger chunked one is dropped as it arrives.",
     NULL},
    {"rate-limit", 0, CLI_ARG_REQUIRED, 'R', "N",
     "token and /lost failures per client address, requests per\n"
     "pre-authorized code and per access token, each a minute\n"
     "(default 60; more: 429)",
     "a minute: failed token requests and wrong recovery codes per client address, token requests\n"
     "per pre-authorized code, credential requests per access token (default 60); more are "
     "answered\n"
     "429 rate_limited.",
     NULL},
};

static const cli_opt OPTS_AUTHORITY_ENROL[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "DIR", "the authority", NULL, NULL},
    {"claims", 0, CLI_ARG_REQUIRED, 'c', "FILE",
     "{\"namespace\": {\"element\": value}} as for 'tessera issue';\n"
     "{\"file\": \"path\"} values (relative to FILE) are read now",
     NULL, NULL},
    {"doctype", 0, CLI_ARG_REQUIRED, 't', "T", "default eu.europa.ec.eudi.pid.1", NULL, NULL},
    {"db", 0, CLI_ARG_REQUIRED, 'b', "URL", "the registry (default DIR/registry.db)", NULL, NULL},
    {"public-url", 0, CLI_ARG_REQUIRED, 'u', "URL",
     "the service's URL (default: the one 'authority serve' recorded\n"
     "in DIR/issuer_url)",
     NULL, NULL},
    {"operator", 0, CLI_ARG_REQUIRED, 'o', "NAME", "who enrols, for the audit log (default $USER)",
     NULL, NULL},
    {"json", 0, CLI_ARG_NONE, 'j', NULL,
     "{\"person\", \"doctype\", \"offer\", \"tx_code\", \"recovery_code\",\n"
     " \"credential_issuer\"} instead of the text and the QR code",
     NULL, NULL},
    {"qr-png", 0, CLI_ARG_REQUIRED, 'q', "FILE", "also write the offer's QR code as a PNG image",
     NULL, NULL},
};

static const cli_opt OPTS_AUTHORITY_REVOKE[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "DIR", "the authority", NULL, NULL},
    {"db", 0, CLI_ARG_REQUIRED, 'b', "URL", "the registry (default DIR/registry.db)", NULL, NULL},
    {"credential", 0, CLI_ARG_REQUIRED, 'c', "ID", "one credential (one copy of a batch)", NULL,
     NULL},
    {"person", 0, CLI_ARG_REQUIRED, 'p', "ID",
     "every credential of the person (as printed by 'authority enrol')", NULL, NULL},
    {"device", 0, CLI_ARG_REQUIRED, 'D', "HEX",
     "every credential on the phone with this device id (64 hex\n"
     "digits: SHA-256 of its secure element's attestation certificate,\n"
     "printed by 'tessera wallet enrol' and 'tessera wallet device-id';\n"
     "for keys issued without attestation, the key's thumbprint)",
     NULL, NULL},
    {"operator", 0, CLI_ARG_REQUIRED, 'o', "NAME", "who acts, for the audit log (default $USER)",
     NULL, NULL},
};

static const cli_opt OPTS_ISSUE[] = {
    {"authority", 0, CLI_ARG_REQUIRED, 'a', "DIR", "directory made by 'tessera authority init'",
     "a directory made by \\fBauthority init\\fR (ds.pem and ds_key.pem are used; or, when the\n"
     "directory holds ds_key.hsm, the key in the PKCS#11 token it names).",
     NULL},
    {"doctype", 0, CLI_ARG_REQUIRED, 't', "DOCTYPE",
     "org.iso.18013.5.1.mDL, eu.europa.ec.eudi.pid.1, or one\n"
     "added with --doctype-table",
     "org.iso.18013.5.1.mDL, eu.europa.ec.eudi.pid.1, or a doctype added with\n"
     "\\fB\\-\\-doctype\\-table\\fR. An unknown doctype is an error that lists the known ones.",
     NULL},
    {"claims", 0, CLI_ARG_REQUIRED, 'c', "CLAIMS.json",
     "{\"namespace\": {\"element\": value, ...}, ...}; dates as\n"
     "\"YYYY-MM-DD\", byte strings as base64url text or\n"
     "{\"file\": \"path\"} (relative to the claims file)",
     "{\"\\fInamespace\\fR\": {\"\\fIelement\\fR\": \\fIvalue\\fR, ...}, ...}. Elements of the "
     "doctype's\n"
     "own namespace must be in its table, have the right type, and the mandatory ones must be\n"
     "present; the error names the offending element. Dates are \"YYYY-MM-DD\"; byte strings are\n"
     "base64url text or {\"file\": \"\\fIpath\\fR\"}, relative to the claims file's directory.\n"
     "Elements of other namespaces take any JSON value.",
     NULL},
    {"device-key", 0, CLI_ARG_REQUIRED, 'k', "PUB.pem",
     "the holder's device public key (PEM or DER; a private key\n"
     "file also works, only its public half is used)",
     "the holder's device public key (a private key file is accepted; only its public half is "
     "used).",
     NULL},
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D",
     "with --key, instead of --device-key: the public key of key ID\n"
     "in the secure element of wallet D (see 'tessera wallet keygen')",
     NULL, NULL},
    {"key", 0, CLI_ARG_REQUIRED, 'K', "ID",
     "with --wallet: the id of the key ('tessera wallet keygen' printed it)", NULL, NULL},
    {"valid-days", 0, CLI_ARG_REQUIRED, 'v', "N", "validity from now (default 365)",
     "validity from now, in days (default 365). signed = validFrom = now.", NULL},
    {"decoys", 0, CLI_ARG_REQUIRED, 'y', "N", "decoy digests per namespace (default 2)",
     "decoy digests added per namespace, to hide how many elements there are (default 2).", NULL},
    {"attestation", 0, CLI_ARG_REQUIRED, 'A', "FILE",
     "the device key's attestation chain (from 'tessera wallet keygen\n"
     "--attest'); checked before anything is issued",
     NULL, NULL},
    {"vendor-root", 0, CLI_ARG_REQUIRED, 'V', "PEM",
     "secure-element vendor roots the issuer accepts (with\n"
     "--attestation; several certificates in one PEM allowed)",
     NULL, NULL},
    {"challenge", 0, CLI_ARG_REQUIRED, 'C', "HEX", "the challenge the attestation must carry",
     "the challenge the issuer gave the wallet for this attestation.", NULL},
    {"require-uv", 0, CLI_ARG_NONE, 'U', NULL,
     "refuse keys whose attestation does not say they need the PIN",
     "refuse keys whose attestation does not say that every use needs the holder's PIN.", NULL},
    {"doctype-table", 0, CLI_ARG_REQUIRED, 'T', "FILE",
     "registers a doctype first: {\"docType\", \"namespace\",\n"
     "\"elements\": [{\"name\", \"type\", \"mandatory\"}]}",
     "registers a doctype first: {\"docType\": ..., \"namespace\": ..., \"elements\": [{\"name\": "
     "...,\n"
     "\"type\": \"tstr|bstr|uint|int|bool|full-date|tdate|array|map|any\", \"mandatory\": "
     "true|false}]}.",
     NULL},
    {"out", 'o', CLI_ARG_REQUIRED, 'o', "MDOC.cbor", "where to write the credential", NULL, NULL},
    {"hsm-pin-fd", 0, CLI_ARG_REQUIRED, 'P', "N",
     "the token PIN when the document signer key is in a PKCS#11\n"
     "token (ds_key.hsm): one line from file descriptor N; without\n"
     "it, the environment variable TESSERA_HSM_PIN",
     "the token PIN for a document signer key in a PKCS#11 token, one line from descriptor "
     "\\fIN\\fR;\n"
     "without it, the environment variable \\fBTESSERA_HSM_PIN\\fR. A wrong PIN fails with exit "
     "status\n"
     "2 (\"[pin_wrong]\", tries left) and costs one of Tessera's 5 tries for the token.",
     NULL},
};

static const cli_opt OPTS_PRESENT[] = {
    {"mdoc", 0, CLI_ARG_REQUIRED, 'm', "MDOC.cbor", "credential made by 'tessera issue'",
     "a credential made by \\fBissue\\fR.", NULL},
    {"device-key", 0, CLI_ARG_REQUIRED, 'k', "KEY.pem",
     "the device PRIVATE key the credential is bound to",
     "the device \\fIprivate\\fR key the credential is bound to.", NULL},
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D",
     "instead of --mdoc and --device-key: present from wallet D;", NULL, NULL},
    {"credential", 0, CLI_ARG_REQUIRED, 'c', "ID",
     "a copy of credential ID ('tessera wallet list') is taken\n"
     "(single-use copies are never shown twice) and the device\n"
     "key in the secure element signs; the presentation goes into\n"
     "the wallet's log (relying party \"unknown reader\")",
     NULL, NULL},
    {"pin-fd", 0, CLI_ARG_REQUIRED, 'p', "N",
     "read the PIN as one line from file descriptor N instead of\n"
     "the terminal; it is asked when the key needs user\n"
     "verification (checked before a copy is spent), and on a\n"
     "PKCS#11 token for every key (its session needs a login)",
     "with \\fB\\-\\-wallet\\fR: read the PIN as one line from file descriptor \\fIN\\fR instead\n"
     "of asking on the terminal.",
     NULL},
    {"request", 0, CLI_ARG_REQUIRED, 'r', "REQUEST.cbor",
     "a DeviceRequest: the first DocRequest for the mdoc's\n"
     "docType is answered (its reader authentication is NOT\n"
     "checked by this command)",
     "a DeviceRequest; the first DocRequest whose docType is the credential's is answered.\n"
     "The request's reader authentication is \\fInot\\fR checked by this command (a note says so).",
     NULL},
    {"elements", 0, CLI_ARG_REQUIRED, 'e', "LIST",
     "comma-separated NAMESPACE/ELEMENT; a bare ELEMENT means\n"
     "the doctype's own namespace",
     "comma-separated \\fINAMESPACE\\fR/\\fIELEMENT\\fR; a bare \\fIELEMENT\\fR is in the "
     "doctype's own\n"
     "namespace (built-in doctypes only).",
     NULL},
    {"transcript", 0, CLI_ARG_REQUIRED, 's', "ST.cbor",
     "SessionTranscript, plain or tag-24 wrapped (binary or hex)",
     "the SessionTranscript, plain or as SessionTranscriptBytes (tag 24).", NULL},
    {"mac", 0, CLI_ARG_NONE, 'M', NULL,
     "device MAC instead of a device signature (with --wallet only\n"
     "when the secure element may release the ECDH result)",
     "authenticate by device MAC (HMAC-SHA-256 keyed from ECDH between the device key and the\n"
     "reader's ephemeral key) instead of a device signature. Needs \\fB\\-\\-reader\\-pub\\fR.\n"
     "With \\fB\\-\\-wallet\\fR only when the secure element lets the ECDH result leave it\n"
     "(capability ecdh-export, shown by \\fBwallet init\\fR); otherwise the command refuses\n"
     "(exit status 1) before a copy is spent.",
     NULL},
    {"reader-pub", 0, CLI_ARG_REQUIRED, 'R', "READER.pem",
     "the reader's ephemeral public key (with --mac)",
     "the reader's ephemeral public key (implies \\fB\\-\\-mac\\fR).", NULL},
    {"out", 'o', CLI_ARG_REQUIRED, 'o', "RESPONSE.cbor", "where to write the DeviceResponse", NULL,
     NULL},
};

static const cli_opt OPTS_VERIFY[] = {
    {"trust", 0, CLI_ARG_REQUIRED, 't', "FILES",
     "IACA root certificates (PEM, every certificate of each file;\n"
     "or DER); comma-separated, option may be repeated",
     "IACA root certificates: comma-separated files (the option may be repeated); every "
     "certificate\n"
     "of a PEM file is trusted, or one DER certificate.",
     NULL},
    {"transcript", 0, CLI_ARG_REQUIRED, 's', "ST.cbor",
     "SessionTranscript, plain or tag-24 wrapped (binary or hex)",
     "the SessionTranscript the response must be bound to (plain or tag 24).", NULL},
    {"reader-key", 0, CLI_ARG_REQUIRED, 'r', "KEY.pem",
     "the reader's ephemeral PRIVATE key; needed when the response\n"
     "is authenticated by device MAC",
     "the reader's ephemeral \\fIprivate\\fR key; needed when the response is authenticated by "
     "device\n"
     "MAC. Without it such a response cannot be checked (exit status 2, with a message saying so).",
     NULL},
    {"at", 0, CLI_ARG_REQUIRED, 'a', "TIME",
     "evaluation time, RFC 3339 (default: now),\n"
     "e.g. 2021-01-01T00:00:00Z",
     "evaluation time in RFC 3339, e.g. 2021-01-01T00:00:00Z (default: now).", NULL},
    {"json", 0, CLI_ARG_NONE, 'j', NULL,
     "machine-readable output:\n"
     "{\"valid\", \"error\": null|{\"code\",\"message\"}, \"documents\": [\n"
     " {\"docType\", \"issuer\", \"signed\", \"validFrom\", \"validUntil\",\n"
     "  \"deviceAuth\": \"signature\"|\"mac\", \"status\": null|{\"idx\",\"uri\"[,\n"
     "  \"value\": \"valid\"|\"revoked\"|\"suspended\"|\"undetermined\",\n"
     "  \"detail\", \"reason\", \"fetched\"]}, \"elements\": {NAMESPACE:\n"
     "  {ELEMENT: value}}}]}; a revoked or suspended document is\n"
     "listed, with \"valid\": false and the error credential_revoked\n"
     "or credential_suspended",
     "print the verdict as JSON (below) instead of text.", NULL},
    {"status", 0, CLI_ARG_REQUIRED, 'S', "MODE",
     "off (default): not checked; online: fetch the list when the\n"
     "cached one is older than its ttl (if the fetch fails, a cached\n"
     "list younger than --status-max-age is used); cached: never\n"
     "fetch, use a cached list younger than --status-max-age",
     "the status of every verified document that carries a status reference (IETF Token Status\n"
     "List, CWT form). A list is accepted only from the document's own issuer: its signer's chain\n"
     "must end at the same trusted IACA root as the document signer's, and the signer must be "
     "that\n"
     "document signer or another document signer that IACA certified (e.g. after a rotation); a "
     "list\n"
     "signed under any other root, even one trusted with \\fB\\-\\-trust\\fR, leaves the status\n"
     "undetermined (reason status_wrong_issuer).\n"
     "\\fBoff\\fR (default) does not check;\n"
     "\\fBonline\\fR fetches the list when the cached copy is older than the list's ttl (or "
     "absent;\n"
     "a ttl above 24 hours counts as 24 hours), and if the fetch fails uses a cached list younger\n"
     "than \\fB\\-\\-status\\-max\\-age\\fR; a fetched list issued before the cached one (an "
     "earlier\n"
     "iat: a rollback) is neither cached nor used (reason status_rollback);\n"
     "\\fBcached\\fR never fetches and uses only a cached list younger than "
     "\\fB\\-\\-status\\-max\\-age\\fR.\n"
     "A list that inflates beyond 16 MiB is refused while inflating (reason "
     "status_list_too_large).\n"
     "Fetches time out after 5 seconds. The status is checked at the current time, not at "
     "\\fB\\-\\-at\\fR.\n"
     "The outcome is one of four: valid; revoked or suspended (the response is invalid: exit "
     "status\n"
     "1, error code credential_revoked or credential_suspended, the elements are not shown);\n"
     "undetermined (the list could not be fetched, did not verify, is not the issuer's, or is too\n"
     "old or expired): exit status 0 with a WARNING on standard error and \"status: UNDETERMINED\n"
     "(\\fIreason\\fR)\" \\(em never reported as valid, nor as revoked.",
     NULL},
    {"status-cache", 0, CLI_ARG_REQUIRED, 'C', "DIR",
     "where fetched lists are kept (default\n"
     "$XDG_CACHE_HOME/tessera/status or ~/.cache/tessera/status)",
     "where fetched lists are kept, one verified token per list and issuer, written atomically\n"
     "(default $XDG_CACHE_HOME/tessera/status, else ~/.cache/tessera/status; created with mode "
     "0700).",
     NULL},
    {"status-max-age", 0, CLI_ARG_REQUIRED, 'M', "SEC",
     "the oldest cached list accepted (default 86400)",
     "the oldest cached list accepted (default 86400); 0 accepts none.", NULL},
    {"status-max-ttl", 0, CLI_ARG_REQUIRED, 'X', "SEC",
     "the longest ttl of a list honoured (default 86400)",
     "the longest ttl of a list honoured (default 86400): a cached list is used without fetching "
     "for\n"
     "at most this long, whatever ttl its issuer wrote.",
     NULL},
};

static const cli_opt OPTS_WALLET_INIT[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "D",
     "the wallet directory (created; an existing one must hold no\n"
     "wallet.db)",
     NULL, NULL},
    {"se", 0, CLI_ARG_REQUIRED, 's', "soft|pkcs11:MODULE_PATH[:TOKEN_LABEL]",
     "soft: the built-in software secure element (default);\n"
     "pkcs11:...: a PKCS#11 token, e.g. pkcs11:/usr/lib/softhsm/libsofthsm2.so:t;\n"
     "without a label the first token present. The token's user\n"
     "PIN is the wallet PIN and its SO PIN the PUK ('wallet pin set'\n"
     "checks both with the token; Tessera counts the tries itself)",
     NULL, NULL},
    {"vendor", 0, CLI_ARG_REQUIRED, 'v', "VENDOR_DIR",
     "certify the software secure element's attestation key with the\n"
     "vendor root made by 'tessera vendor init' (soft only)",
     "certify the software secure element's attestation key with the vendor root made by\n"
     "\\fBvendor init\\fR (standing in for factory provisioning). Software secure element only.",
     NULL},
};

static const cli_opt OPTS_WALLET_PIN[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"pin-fd", 0, CLI_ARG_REQUIRED, 'p', "N",
     "read the answers from file descriptor N, one per line, in the order\n"
     "above (confirmations included) instead of asking on the terminal,\n"
     "e.g. 3< <(printf '123456\\n123456\\n12345678\\n12345678\\n')",
     NULL, NULL},
};

static const cli_opt OPTS_WALLET_KEYGEN[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"uv", 0, CLI_ARG_NONE, 'u', NULL, "every use of the key needs the PIN",
     "every use of the key needs the PIN.", NULL},
    {"single-use", 0, CLI_ARG_NONE, 's', NULL,
     "the key signs (or agrees) once, then refuses; for batches of\n"
     "single-use credential copies",
     "the key signs (or agrees) once and then refuses: for batches of single-use credential "
     "copies.",
     NULL},
    {"out", 'o', CLI_ARG_REQUIRED, 'o', "PUB.pem",
     "write the public key (PEM) here, for 'tessera issue'",
     "writes the public key (PEM, mode 0644) for \\fBissue\\fR.", NULL},
    {"attest", 0, CLI_ARG_NONE, 'a', NULL,
     "also write the key's attestation: a CBOR array of DER\n"
     "certificates, leaf first, stating the key's protections and\n"
     "chaining to the secure element's vendor root",
     NULL, NULL},
    {"attestation-out", 0, CLI_ARG_REQUIRED, 'A', "FILE",
     "where the attestation goes (implies --attest)", NULL, NULL},
    {"challenge", 0, CLI_ARG_REQUIRED, 'c', "HEX", "the issuer's nonce, carried in the attestation",
     "the issuer's nonce to carry in the attestation (1..1024 bytes).", NULL},
    {"pin-fd", 0, CLI_ARG_REQUIRED, 'p', "N",
     "when the secure element needs the PIN to create keys (a\n"
     "PKCS#11 token: the session must be logged in), read it as\n"
     "one line from file descriptor N instead of the terminal",
     "when the secure element needs the PIN to create keys (a PKCS#11 token), read it from\n"
     "descriptor \\fIN\\fR.",
     NULL},
};

static const cli_opt OPTS_WALLET_ADD[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"mdoc", 0, CLI_ARG_REQUIRED, 'm', "FILE", "a credential copy (repeat for a batch, up to 256)",
     NULL, NULL},
    {"name", 0, CLI_ARG_REQUIRED, 'n', "DISPLAY",
     "the name shown in 'tessera wallet list' (default: PID, mDL, or\n"
     "the doctype)",
     NULL, NULL},
};

static const cli_opt OPTS_WALLET_LIST[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"json", 0, CLI_ARG_NONE, 'j', NULL,
     "[{\"id\", \"docType\", \"name\", \"issuer\", \"validFrom\", \"validUntil\",\n"
     " \"copies\", \"copiesLeft\", \"singleUse\", \"needsPin\", \"added\"}]",
     NULL, NULL},
};

static const cli_opt OPTS_WALLET_LOG[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"json", 0, CLI_ARG_NONE, 'j', NULL,
     "[{\"id\", \"at\", \"credential\", \"relyingParty\", \"elements\":\n"
     " [{\"namespace\", \"element\", \"intentToRetain\"}], \"outcome\"}]",
     NULL, NULL},
};

static const cli_opt OPTS_WALLET_ENROL[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory (its PIN must be set)", NULL,
     NULL},
    {"offer-file", 0, CLI_ARG_REQUIRED, 'F', "F",
     "the file holding the offer: openid-credential-offer://...\n"
     "(the QR code's text) on one line",
     NULL, NULL},
    {"offer-fd", 0, CLI_ARG_REQUIRED, 'O', "N",
     "read the offer as one line from descriptor N\n"
     "(without either, it is asked on the terminal)",
     NULL, NULL},
    {"offer", 0, CLI_ARG_REQUIRED, 'o', "URI",
     "the offer on the command line: works, with a warning (other\n"
     "users can read it while the command runs)",
     NULL, NULL},
    {"pin-fd", 0, CLI_ARG_REQUIRED, 'p', "N",
     "read the PIN (then the transaction code) one per line from N", NULL, NULL},
    {"tx-code-fd", 0, CLI_ARG_REQUIRED, 'T', "N",
     "read the transaction code as one line from descriptor N", NULL, NULL},
    {"tx-code", 0, CLI_ARG_REQUIRED, 't', "CODE",
     "refused (exit status 2): the transaction code does not belong\n"
     "on the command line; use --tx-code-fd or the prompt",
     NULL, NULL},
    {"batch", 0, CLI_ARG_REQUIRED, 'b', "N",
     "copies to obtain, each bound to its own key (default 1; the\n"
     "issuer may allow up to 10)",
     NULL, NULL},
    {"name", 0, CLI_ARG_REQUIRED, 'n', "DISPLAY", "display name (default PID, mDL, or the doctype)",
     NULL, NULL},
    {"proof", 0, CLI_ARG_REQUIRED, 'P', "MODE",
     "how the keys are attested to the issuer:\n"
     "auto             key-attestation when the issuer's metadata\n"
     "                 asks for key attestations, else x5c (default)\n"
     "key-attestation  OpenID4VCI 1.0: each proof's header carries a\n"
     "                 key attestation JWT made in the secure element\n"
     "x5c              Tessera's own form: the attestation certificate\n"
     "                 chain in each proof's x5c header (older Tessera\n"
     "                 issuers)\n"
     "attestation      OpenID4VCI 1.0 proof type \"attestation\": one key\n"
     "                 attestation of all the keys, no signatures\n"
     "A PKCS#11 secure element makes no attestations: auto sends\n"
     "proofs without.",
     NULL, NULL},
};

static const cli_opt OPTS_WALLET_DEVICE_ID[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
};

static const cli_opt OPTS_WALLET_REPORT_LOST[] = {
    {"issuer", 0, CLI_ARG_REQUIRED, 'i', "URL",
     "the authority's service (the offer's credential_issuer)", NULL, NULL},
    {"recovery-code-fd", 0, CLI_ARG_REQUIRED, 'f', "N",
     "read the recovery code (one line) from file descriptor N", NULL, NULL},
    {"recovery-code", 0, CLI_ARG_REQUIRED, 'r', "CODE",
     "ABCD-EFGH-JKLM-NPQR (case and dashes do not matter); visible to\n"
     "other users of the machine (ps), so prefer the descriptor or\n"
     "the prompt: with neither option the code is asked for on the\n"
     "terminal, without echo",
     NULL, NULL},
    {"device", 0, CLI_ARG_REQUIRED, 'd', "HEX",
     "the lost phone's device id ('tessera wallet device-id', or as\n"
     "'tessera wallet enrol' printed it)",
     NULL, NULL},
};

/* door keys (cmd_wallet_keys.c) */
static const cli_opt OPTS_WALLET_KEY_REQUEST[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"out", 0, CLI_ARG_REQUIRED, 'o', "FILE",
     "where the key request goes (a new file, mode 0644; an existing\n"
     "file is never overwritten)",
     NULL, NULL},
};

static const cli_opt OPTS_WALLET_KEY_ADD[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
};

static const cli_opt OPTS_WALLET_TAP[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"nfc", 0, CLI_ARG_NONE, 'n', NULL,
     "answer over NFC through vsmartcard's vpcd (pcscd): the default\n"
     "and, for now, the only way",
     NULL, NULL},
    {"vpcd", 0, CLI_ARG_REQUIRED, 'v', "HOST:PORT", "vpcd's address (default 127.0.0.1:35963)",
     NULL, NULL},
    {"timeout", 0, CLI_ARG_REQUIRED, 't', "S",
     "give up when the reader sends nothing for S seconds (default 30)", NULL, NULL},
    {"count", 0, CLI_ARG_REQUIRED, 'c', "N",
     "answer N transactions (reader verdicts) before exiting (default 1)", NULL, NULL},
};

static const cli_opt OPTS_WALLET_PRESENT[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"qr", 0, CLI_ARG_NONE, 'q', NULL,
     "with --tcp: the engagement is shown as a QR code in the\n"
     "terminal (and its \"mdoc:\" text)",
     NULL, NULL},
    {"tcp", 0, CLI_ARG_REQUIRED, 't', "HOST:PORT",
     "the data goes over TCP on HOST:PORT, which the reader is told\n"
     "out of band (printed; port 0 picks one); without --qr the QR\n"
     "code is not drawn",
     NULL, NULL},
    {"nfc", 0, CLI_ARG_NONE, 'n', NULL,
     "the phone plays an NFC card through vsmartcard's vpcd (pcscd):\n"
     "the reader reads the Handover Select, then exchanges the\n"
     "session messages with ENVELOPE / GET RESPONSE",
     NULL, NULL},
    {"policy", 0, CLI_ARG_REQUIRED, 'P', "FILE",
     "decide by rules instead of asking (for scripts):\n"
     "{\"readers\": [{\"name\": \"Hotel Utopia\" | \"*\",\n"
     "  \"authenticated\": true, \"allow\": [\"ns/elem\", ...] | \"*\",\n"
     "  \"deny\": [...], \"override_scope\": false}],\n"
     " \"unauthenticated\": \"decline\", \"pin\": \"123456\"}",
     NULL, NULL},
    {"pin-fd", 0, CLI_ARG_REQUIRED, 'p', "N",
     "read the PIN as one line from descriptor N (else the policy's\n"
     "\"pin\", else the terminal without echo)",
     NULL, NULL},
    {"reader-trust", 0, CLI_ARG_REQUIRED, 'r', "FILE",
     "reader authority roots (repeatable); default the wallet's own\n"
     "(see 'tessera wallet trust-reader')",
     NULL, NULL},
    {"qr-png", 0, CLI_ARG_REQUIRED, 'g', "FILE",
     "also write the QR code as a PNG image (implies --qr)", NULL, NULL},
    {"uri-out", 0, CLI_ARG_REQUIRED, 'u', "FILE",
     "also write the \"mdoc:\" URI to FILE (for scripts; written once\n"
     "the phone listens)",
     NULL, NULL},
    {"timeout", 0, CLI_ARG_REQUIRED, 'T', "SEC",
     "waiting for the reader and for each message (default 120)", NULL, NULL},
    {"vpcd", 0, CLI_ARG_REQUIRED, 'v', "HOST:PORT", "where vpcd listens (default 127.0.0.1:35963)",
     NULL, NULL},
};

static const cli_opt OPTS_WALLET_TRUST_READER[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"root", 0, CLI_ARG_REQUIRED, 'r', "FILE",
     "a PEM file of root certificates (repeatable); none: only list", NULL, NULL},
};

static const cli_opt OPTS_WALLET_AUTHORIZE[] = {
    {"wallet", 0, CLI_ARG_REQUIRED, 'w', "D", "the wallet directory", NULL, NULL},
    {"policy", 0, CLI_ARG_REQUIRED, 'P', "FILE",
     "decide by rules instead of asking (the format of 'wallet\n"
     "present --policy'; a rule's name is the site's verified name)",
     NULL, NULL},
    {"pin-file", 0, CLI_ARG_REQUIRED, 'f', "F",
     "read the PIN as the first line of file F (else the policy's\n"
     "\"pin\", else the terminal without echo)",
     NULL, NULL},
    {"allow-loopback-http", 0, CLI_ARG_NONE, 'L', NULL,
     "accept plain http to localhost, 127.0.0.1 and [::1] for\n"
     "request_uri and response_uri (a site on this machine, tests)",
     NULL, NULL},
    {"timeout", 0, CLI_ARG_REQUIRED, 'T', "SEC", "per HTTP exchange (default 30)", NULL, NULL},
};

static const cli_opt OPTS_READER_CA_INIT[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "D", "where to create the reader authority", NULL, NULL},
    {"name", 0, CLI_ARG_REQUIRED, 'n', "NAME", "the authority's name", NULL, NULL},
    {"country", 0, CLI_ARG_REQUIRED, 'c', "CC", "two-letter country (default UT)", NULL, NULL},
    {"force", 0, CLI_ARG_NONE, 'f', NULL, "replace files already there", NULL, NULL},
};

static const cli_opt OPTS_READER_CA_ISSUE[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "D", "the reader authority's directory", NULL, NULL},
    {"name", 0, CLI_ARG_REQUIRED, 'n', "READER", "the reader's name, which wallets show the holder",
     NULL, NULL},
    {"country", 0, CLI_ARG_REQUIRED, 'c', "CC", "two-letter country (default the root's)", NULL,
     NULL},
    {"scope", 0, CLI_ARG_REQUIRED, 's', "LIST",
     "comma-separated NAMESPACE/ELEMENT the reader may ask for;\n"
     "NS/age_over_NN allows every age_over_NN of NS",
     NULL, NULL},
    {"purpose", 0, CLI_ARG_REQUIRED, 'p', "TEXT",
     "why it may ask, shown to the holder (e.g. \"hotel registration\")", NULL, NULL},
    {"valid-days", 0, CLI_ARG_REQUIRED, 'v', "N", "validity from one hour ago (default 365)", NULL,
     NULL},
    {"valid-from", 0, CLI_ARG_REQUIRED, 'F', "T",
     "with --valid-until: an explicit validity (RFC 3339), e.g. to\n"
     "make an expired certificate for tests",
     NULL, NULL},
    {"valid-until", 0, CLI_ARG_REQUIRED, 'U', "T",
     "the end of the explicit validity (with --valid-from)", NULL, NULL},
    {"out", 'o', CLI_ARG_REQUIRED, 'o', "DIR", "where the reader's certificate and key go", NULL,
     NULL},
    {"dns", 0, CLI_ARG_REQUIRED, 'D', "NAME",
     "a website's access certificate (OpenID4VP): its DNS name as\n"
     "subjectAltName dNSName, which wallets match against the\n"
     "request's client_id x509_san_dns:NAME and response_uri host",
     NULL, NULL},
    {"force", 0, CLI_ARG_NONE, 'f', NULL, "replace files already there", NULL, NULL},
};

static const cli_opt OPTS_RP_INIT[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "D", "the site directory to create (mode 0700)", NULL, NULL},
    {"cert", 0, CLI_ARG_REQUIRED, 'c', "PEM",
     "the site's access certificate ('reader-ca issue --dns'),\n"
     "then its chain", NULL, NULL},
    {"chain", 0, CLI_ARG_REQUIRED, 'C', "PEM", "more chain certificates", NULL, NULL},
    {"key-file", 0, CLI_ARG_REQUIRED, 'k', "PEM",
     "the certificate's private key (copied into D, mode 0600)", NULL, NULL},
    {"client-id-prefix", 0, CLI_ARG_REQUIRED, 'P', "PREFIX",
     "x509_san_dns (default) or x509_hash", NULL, NULL},
    {"public-url", 0, CLI_ARG_REQUIRED, 'u', "URL",
     "https://NAME[:PORT] the wallet and browsers reach (http\n"
     "only for localhost, 127.0.0.1, [::1])", NULL, NULL},
    {"name", 0, CLI_ARG_REQUIRED, 'n', "NAME", "the site's name (default the certificate's CN)",
     NULL, NULL},
};

static const cli_opt OPTS_HOTEL_INIT[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "D", "the hotel directory to create (mode 0700)", NULL, NULL},
    {"name", 0, CLI_ARG_REQUIRED, 'n', "NAME", "the hotel's name (shown on the guests' phones)",
     NULL, NULL},
};

static const cli_opt OPTS_HOTEL_ISSUE_KEY[] = {
    {"hotel", 0, CLI_ARG_REQUIRED, 'H', "D", "the hotel directory ('tessera hotel init')", NULL,
     NULL},
    {"request", 0, CLI_ARG_REQUIRED, 'r', "FILE",
     "the phone's key request ('tessera wallet key-request')", NULL, NULL},
    {"room", 0, CLI_ARG_REQUIRED, 'R', "ROOM", "a room or door the key opens (repeatable, up to 16)",
     NULL, NULL},
    {"from", 0, CLI_ARG_REQUIRED, 'F', "TIME", "check-in (RFC 3339, e.g. 2026-12-08T14:00:00Z)",
     NULL, NULL},
    {"until", 0, CLI_ARG_REQUIRED, 'U', "TIME", "check-out (RFC 3339)", NULL, NULL},
    {"daily", 0, CLI_ARG_REQUIRED, 'D', "HH:MM-HH:MM",
     "opens only within these hours every day (UTC)", NULL, NULL},
    {"guest", 0, CLI_ARG_REQUIRED, 'g', "NAME", "the guest, for the hotel's records", NULL, NULL},
    {"out", 0, CLI_ARG_REQUIRED, 'o', "FILE", "the key package for the phone (mode 0600)", NULL,
     NULL},
};

static const cli_opt OPTS_HOTEL_REVOKE[] = {
    {"hotel", 0, CLI_ARG_REQUIRED, 'H', "D", "the hotel directory", NULL, NULL},
    {"key-id", 0, CLI_ARG_REQUIRED, 'k', "ID", "the key to revoke (32 hex digits)", NULL, NULL},
    {"phone", 0, CLI_ARG_REQUIRED, 'r', "REQUEST",
     "revoke every key issued to the phone of this key request\n(a lost phone)", NULL, NULL},
    {"out", 0, CLI_ARG_REQUIRED, 'o', "FILE", "also write the new revocation document here", NULL,
     NULL},
};

static const cli_opt OPTS_HOTEL_REVOCATION[] = {
    {"hotel", 0, CLI_ARG_REQUIRED, 'H', "D", "the hotel directory", NULL, NULL},
    {"out", 0, CLI_ARG_REQUIRED, 'o', "FILE", "where to write the newest revocation document",
     NULL, NULL},
};

static const cli_opt OPTS_LOCK_INIT[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "LOCK_DIR", "the lock directory to create (mode 0700)", NULL,
     NULL},
    {"hotel", 0, CLI_ARG_REQUIRED, 'H', "D", "the hotel whose doors it belongs to", NULL, NULL},
    {"room", 0, CLI_ARG_REQUIRED, 'R', "ROOM", "the room or door this lock closes", NULL, NULL},
    {"instance-id", 0, CLI_ARG_REQUIRED, 'i', "HEX",
     "the reader instance id (32 hex digits; default random)", NULL, NULL},
    {"max-endpoints", 0, CLI_ARG_REQUIRED, 'm', "N",
     "phones remembered for the fast path (default 64)", NULL, NULL},
    {"standard-per-minute", 0, CLI_ARG_REQUIRED, 'r', "N",
     "full transactions allowed per minute (default 30)", NULL, NULL},
};

static const cli_opt OPTS_LOCK_SERVE[] = {
    {"config", 0, CLI_ARG_REQUIRED, 'c', "LOCK_DIR", "the lock directory ('tessera lock init')",
     NULL, NULL},
    {"nfc", 0, CLI_ARG_NONE, 'N', NULL, "talk to phones over NFC through PC/SC (the default)", NULL,
     NULL},
    {"reader", 0, CLI_ARG_REQUIRED, 'r', "NAME",
     "the first PC/SC reader whose name contains NAME (default any)", NULL, NULL},
    {"count", 0, CLI_ARG_REQUIRED, 'n', "N", "stop after N taps (default: until a signal)", NULL,
     NULL},
    {"timeout", 0, CLI_ARG_REQUIRED, 't', "SEC",
     "give up when no phone comes for SEC seconds (default: wait)", NULL, NULL},
};

static const cli_opt OPTS_LOCK_LOG[] = {
    {"config", 0, CLI_ARG_REQUIRED, 'c', "LOCK_DIR", "the lock directory", NULL, NULL},
    {"last", 0, CLI_ARG_REQUIRED, 'n', "N", "the last N entries (default 100)", NULL, NULL},
};

static const cli_opt OPTS_LOCK_REVOCATION[] = {
    {"config", 0, CLI_ARG_REQUIRED, 'c', "LOCK_DIR", "the lock directory", NULL, NULL},
};

static const cli_opt OPTS_RP_SERVE[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "D", "the site directory ('tessera rp init')", NULL, NULL},
    {"listen", 0, CLI_ARG_REQUIRED, 'l', "HOST:PORT", "where to listen (default 127.0.0.1:8090)",
     NULL, NULL},
    {"public-url", 0, CLI_ARG_REQUIRED, 'u', "URL", "overrides the site's public URL", NULL,
     NULL},
    {"db", 0, CLI_ARG_REQUIRED, 'D', "URL",
     "transactions in this SQLite file or postgresql://... database\n"
     "(default D/rp.db)", NULL, NULL},
    {"trust", 0, CLI_ARG_REQUIRED, 't', "FILES",
     "comma-separated PEM files of the issuers' IACA roots", NULL, NULL},
    {"status", 0, CLI_ARG_REQUIRED, 'S', "MODE",
     "credential status: off (default), online, cached", NULL, NULL},
    {"status-cache", 0, CLI_ARG_REQUIRED, 'C', "DIR", "status lists (default D/status-cache)",
     NULL, NULL},
    {"status-max-age", 0, CLI_ARG_REQUIRED, 'M', "SEC",
     "the oldest cached status list used (default 2 days)", NULL, NULL},
    {"accept-undetermined", 0, CLI_ARG_NONE, 'U', NULL,
     "accept a credential whose status cannot be determined\n"
     "(default: refuse it)", NULL, NULL},
    {"tx-lifetime", 0, CLI_ARG_REQUIRED, 'T', "SEC", "how long a transaction lives (default 300)",
     NULL, NULL},
    {"port-file", 0, CLI_ARG_REQUIRED, 'p', "FILE", "write the bound port there", NULL, NULL},
};

static const cli_opt OPTS_READER_CHECKIN[] = {
    {"reader", 0, CLI_ARG_REQUIRED, 'r', "DIR", "the reader's certificate (+ chain) and key", NULL,
     NULL},
    {"trust", 0, CLI_ARG_REQUIRED, 't', "ROOTS.pem",
     "IACA roots accepted (repeatable, comma-separated lists)", NULL, NULL},
    {"qr", 0, CLI_ARG_REQUIRED, 'q', "URI", "the \"mdoc:\" text of the phone's QR code", NULL,
     NULL},
    {"qr-png", 0, CLI_ARG_REQUIRED, 'g', "FILE",
     "an image (PNG) of the phone's QR code, decoded with zbar", NULL, NULL},
    {"tcp", 0, CLI_ARG_REQUIRED, 'c', "HOST:PORT", "with --qr/--qr-png: the phone's data channel",
     NULL, NULL},
    {"nfc", 0, CLI_ARG_NONE, 'n', NULL,
     "tap: the phone is found through PC/SC (pcscd); the\n"
     "engagement comes from its NFC handover",
     NULL, NULL},
    {"pcsc-reader", 0, CLI_ARG_REQUIRED, 'P', "NAME",
     "the first PC/SC reader whose name contains NAME (default any)", NULL, NULL},
    {"elements", 0, CLI_ARG_REQUIRED, 'e', "LIST",
     "NAMESPACE/ELEMENT or ELEMENT (the doctype's namespace);\n"
     "default family_name, given_name, document_number, portrait,\n"
     "nationality, age_over_18",
     NULL, NULL},
    {"retain", 0, CLI_ARG_REQUIRED, 'R', "LIST|all",
     "elements announced as kept by the hotel (intentToRetain);\n"
     "default none",
     NULL, NULL},
    {"doctype", 0, CLI_ARG_REQUIRED, 'd', "T", "default eu.europa.ec.eudi.pid.1", NULL, NULL},
    {"json", 0, CLI_ARG_NONE, 'j', NULL,
     "{\"valid\", \"error\", \"documents\"} as 'tessera verify --json'", NULL, NULL},
    {"portrait-out", 0, CLI_ARG_REQUIRED, 'p', "FILE", "write the disclosed portrait here", NULL,
     NULL},
    {"timeout", 0, CLI_ARG_REQUIRED, 'T', "SEC", "for the connection and each answer (default 30)",
     NULL, NULL},
    {"status", 0, CLI_ARG_REQUIRED, 'S', "MODE",
     "the credential's status (IETF Token Status List), as for\n"
     "'tessera verify': cached (default: the front desk has no\n"
     "network; a list fetched within --status-max-age), online (fetch\n"
     "when the cached list is past its ttl: the reader refreshes its\n"
     "lists), off. A revoked or suspended eID is rejected; an\n"
     "undetermined status is a WARNING (the guest's data is shown)",
     NULL, NULL},
    {"status-cache", 0, CLI_ARG_REQUIRED, 'C', "DIR",
     "default DIR/status-cache in the --reader directory", NULL, NULL},
    {"status-max-age", 0, CLI_ARG_REQUIRED, 'M', "SEC",
     "the oldest cached list accepted (default 86400)", NULL, NULL},
    {"status-max-ttl", 0, CLI_ARG_REQUIRED, 'X', "SEC",
     "the longest ttl of a list honoured (default 86400)", NULL, NULL},
};

static const cli_opt OPTS_VENDOR_INIT[] = {
    {"dir", 0, CLI_ARG_REQUIRED, 'd', "V", "where to create it", NULL, NULL},
    {"name", 0, CLI_ARG_REQUIRED, 'n', "NAME",
     "the root's name (default \"Tessera Test SE Vendor\")", NULL, NULL},
    {"force", 0, CLI_ARG_NONE, 'f', NULL, "replace a vendor root already in V", NULL, NULL},
};

/* ---- the commands ---- */

const cli_command cli_commands[] = {
    {
        .name = "authority",
        .summary = "the issuing authority: keys, OpenID4VCI service, enrolment, revocation",
        .description =
            "The issuing authority: its root and document signer (init), its OpenID4VCI service\n"
            "(serve; also the 'tessera-issuerd' program), the counter where a citizen is enrolled\n"
            "after identity proofing (enrol), and the operator's status changes (revoke, suspend,\n"
            "reinstate), all on the authority's registry (DIR/registry.db, or --db\n"
            "postgresql://...).",
        .epilogue =
            "See 'tessera help authority SUBCOMMAND'.\n"
            "exit status: 0 done; 1 the operation failed on its input (claims do not fit, no such\n"
            "             credential, a revoked credential cannot be reinstated, ...); 2 usage\n"
            "             error, not an authority, I/O or registry failure\n"
            "\n"
            "example (the lost-phone story):\n"
            "  tessera authority init --dir ministry\n"
            "  tessera authority serve --dir ministry --listen 127.0.0.1:8080 \\\n"
            "      --vendor-root chipmaker/vendor.pem --require-uv &\n"
            "  tessera authority enrol --dir ministry --claims person.json   # offer + code\n"
            "  tessera wallet enrol --wallet phone --offer-file offer.txt --batch 3  # PIN, code\n"
            "  tessera wallet report-lost --issuer http://127.0.0.1:8080 \\\n"
            "      --recovery-code ABCD-EFGH-JKLM-NPQR --device HEX         # phone lost (any "
            "machine)\n"
            "  tessera authority suspend --dir ministry --device HEX         # or at the counter\n"
            "  tessera authority reinstate --dir ministry --device HEX       # phone found",
    },
    {
        .name = "authority init",
        .synopsis = "tessera authority init --dir DIR [--country CC] [--name NAME] [--url URL] "
                    "[--force] [--ds-hsm pkcs11:MODULE_PATH[:TOKEN_LABEL] [--pin-fd N]]",
        .description =
            "Creates an issuing authority: a new directory DIR (mode 0700) holding\n"
            "  iaca.pem      IACA root certificate \"<NAME> IACA\", C=CC, CA with pathLen 0,\n"
            "                keyCertSign+cRLSign, issuerAltName URL; valid 10 years\n"
            "  iaca_key.pem  its private key (P-256, PKCS#8, mode 0600)\n"
            "  ds.pem        document signer certificate \"<NAME> Document Signer\", C=CC,\n"
            "                digitalSignature, EKU 1.0.18013.5.1.2 (mdlDS), CRL URL/crl/iaca.crl;\n"
            "                valid 3 years\n"
            "  ds_key.pem    its private key (P-256, PKCS#8, mode 0600)\n"
            "With --ds-hsm the document signer key pair is generated inside a PKCS#11 token\n"
            "(sensitive, not extractable) and DIR holds instead of ds_key.pem\n"
            "  ds_key.hsm    {\"se\": \"pkcs11:...\", \"key_id\": \"...\"}: which token and key "
            "(no secret)\n"
            "  hsm-state/    Tessera's PIN retry counter for the token (5 tries)\n"
            "The IACA key stays a file by design: it signs rarely and belongs offline.\n"
            "Both certificates start at midnight UTC of the day an hour ago: in the past, for\n"
            "clock skew, and on the day boundary the service rounds credentials' signing time to.",
        OPTS(OPTS_AUTHORITY_INIT),
        .epilogue =
            "exit status: 0 created; 1 wrong token PIN or SO PIN; 2 usage error, DIR already\n"
            "             holds an authority, the token cannot be used, or I/O error\n"
            "\n"
            "example:\n"
            "  tessera authority init --dir ministry --country UT --name \"Utopia Ministry of "
            "Interior\"\n"
            "  tessera authority init --dir ministry --ds-hsm "
            "pkcs11:/usr/lib/softhsm/libsofthsm2.so:ds",
        .man =
            "Creates the directory\n"
            ".I DIR\n"
            "(mode 0700) holding a new issuing authority, with P-256 keys:\n"
            ".TP\n"
            ".B iaca.pem\n"
            "the IACA root certificate: CN \"\\fINAME\\fR IACA\", C=\\fICC\\fR, CA with pathLen 0, "
            "keyUsage\n"
            "keyCertSign and cRLSign, issuerAltName \\fIURL\\fR; valid for 10 years.\n"
            ".TP\n"
            ".B iaca_key.pem\n"
            "its private key (PKCS#8, mode 0600). Keep it offline.\n"
            ".TP\n"
            ".B ds.pem\n"
            "the document signer certificate: CN \"\\fINAME\\fR Document Signer\", C=\\fICC\\fR, "
            "keyUsage\n"
            "digitalSignature, extended key usage 1.0.18013.5.1.2 (mdlDS), CRL distribution point\n"
            "\\fIURL\\fR/crl/iaca.crl, issuerAltName \\fIURL\\fR; valid for 3 years.\n"
            ".TP\n"
            ".B ds_key.pem\n"
            "its private key (PKCS#8, mode 0600).\n"
            ".PP\n"
            "Both certificates are valid from midnight UTC of the day one hour before the time of "
            "creation:\n"
            "at least an hour in the past, to tolerate clock skew between issuer and readers, and "
            "on a day\n"
            "boundary, because the issuer service rounds each credential's signing time down to "
            "midnight UTC\n"
            "(so that copies cannot be told apart by time) and ISO 18013-5 wants that time inside "
            "the document\n"
            "signer's validity.",
    },
    {
        .name = "authority serve",
        .synopsis =
            "tessera authority serve --dir DIR [--db URL] [--listen HOST:PORT] [--public-url URL] "
            "[--vendor-root PEM] [--require-uv] [--batch-max N] [--valid-days N] [--status-ttl "
            "SEC] [--status-cache SEC] [--port-file FILE] [--hsm-pin-fd N] "
            "[--credentials-per-offer N] [--credentials-per-person N] [--budget-period SEC] "
            "[--nonce-rate N] [--max-connections N] [--max-connections-per-address N] "
            "[--request-deadline SEC] [--idle-timeout SEC] [--max-body BYTES] [--rate-limit N]\n"
            "tessera-issuerd (the same options)",
        .description =
            "Runs the authority's OpenID4VCI 1.0 issuer (mso_mdoc, pre-authorized code with a\n"
            "transaction code, nonce endpoint, proofs of possession with the secure element's key\n"
            "attestation, batch issuance) and publishes its Token Status Lists, until SIGINT or\n"
            "SIGTERM (then it stops cleanly). Endpoints: /.well-known/openid-credential-issuer,\n"
            "/.well-known/oauth-authorization-server, /token, /nonce, /credential,\n"
            "/status/N (list 1, 2, ...: a new one when one is full), and /lost (the holder\n"
            "reports a lost phone with the recovery code; 'tessera wallet report-lost'). Prints\n"
            "\"serving OpenID4VCI at URL\" once it listens, and records URL in DIR/issuer_url\n"
            "(where 'authority enrol' points its offers).\n"
            "\n"
            "The status lists are built from the registry: a revoke, suspend or reinstate is in\n"
            "the next list served. Verifiers cache a list for its ttl (--status-ttl).",
        OPTS(OPTS_AUTHORITY_SERVE),
        .epilogue =
            "Refused requests, connections cut at the deadline, and the cause of every server\n"
            "error are logged on stderr, one line each.\n"
            "\n"
            "exit status: 0 stopped by a signal; 1 the document signer does not load (wrong or\n"
            "             locked token PIN, key not in the token, key and ds.pem differ); 2 usage\n"
            "             error, not an authority, cannot listen, or the registry cannot be "
            "opened\n"
            "\n"
            "example:\n"
            "  tessera authority serve --dir ministry --listen 127.0.0.1:0 --port-file port \\\n"
            "      --vendor-root chipmaker/vendor.pem --require-uv",
        .man = "Runs the authority's OpenID4VCI 1.0 issuer for the mso_mdoc format (also installed "
               "as\n"
               "\\fBtessera\\-issuerd\\fR, which takes the same options) until SIGINT or SIGTERM, "
               "then stops\n"
               "cleanly (exit status 0). Endpoints: /.well-known/openid-credential-issuer,\n"
               "/.well-known/oauth-authorization-server, /token (pre-authorized code with the "
               "transaction code),\n"
               "/nonce, /credential (proofs of possession as JWTs carrying the secure element's "
               "key attestation;\n"
               "batch issuance: one credential per proof, each bound to its own key, with its own "
               "random\n"
               "status-list index; next to \"credentials\" the answer carries \"device_id\", see "
               "\\fBwallet\n"
               "device\\-id\\fR), /status/1 (the Token Status List, CWT form, signed by the "
               "document signer) and\n"
               "/lost (the holder reports a lost phone with the recovery code, see \\fBwallet "
               "report\\-lost\\fR;\n"
               "wrong codes are answered invalid_grant and counted per client address, like failed "
               "token\n"
               "requests). Errors are the standard ones (invalid_grant, invalid_proof, "
               "invalid_nonce, ...) with a\n"
               "JSON body. Once it listens it prints \"serving OpenID4VCI at \\fIURL\\fR\" and "
               "records \\fIURL\\fR in\n"
               "\\fIDIR\\fR/issuer_url, where \\fBauthority enrol\\fR points its offers.\n"
               ".PP\n"
               "Requests with two Content-Length headers, with Content-Length and "
               "Transfer-Encoding together,\n"
               "with a Transfer-Encoding other than chunked, or with a control character in the "
               "URL (raw or\n"
               "percent-encoded, %00 included) are answered 400 and the connection closed. Every "
               "error answer\n"
               "is a JSON object {\"error\", \"error_description\"} whose description holds only "
               "the characters\n"
               "RFC 6749 \\(sc5.2 allows and is written for the client; refused requests, "
               "connections closed at\n"
               "the deadline, the cause of every 500, and the internal message behind a "
               "description (such as\n"
               "the registry's) are logged on standard error, one line each. See "
               "docs/SERVICE-LIMITS.md.\n"
               ".PP\n"
               "The status lists are built from the registry when requested; the service keeps the "
               "signed token\n"
               "it built for 5 seconds. So a status change made with \\fBauthority revoke\\fR, "
               "\\fBsuspend\\fR or\n"
               "\\fBreinstate\\fR (another process, on the same registry) is in the lists served "
               "at most 5 s\n"
               "later, and a verifier sees it when it next fetches the list: at the latest after "
               "the ttl.",
    },
    {
        .name = "authority enrol",
        .aliases = {"authority enroll"},
        .synopsis = "tessera authority enrol --dir DIR --claims PERSON.json [--doctype T] [--db "
                    "URL] [--public-url URL] [--operator NAME] [--json] [--qr-png FILE]",
        .description =
            "At the counter, after identity proofing: records the person's claims in the registry\n"
            "and makes a credential offer (OpenID4VCI pre-authorized code). Prints the\n"
            "openid-credential-offer:// URI, its QR code (for the citizen's wallet), the one-time\n"
            "transaction code to tell the citizen (never sent with the offer), the person id\n"
            "(for 'authority suspend --person') and the person's recovery code for a lost phone\n"
            "(ABCD-EFGH-JKLM-NPQR, shown only now: for the citizen to keep on paper; with it\n"
            "'tessera wallet report-lost' suspends the eID from any machine; a new enrolment of\n"
            "the person replaces it). The offer works once, expires after 10 minutes, and dies\n"
            "after 5 wrong transaction codes. The service need not run meanwhile.",
        OPTS(OPTS_AUTHORITY_ENROL),
        .epilogue = "exit status: 0 enrolled; 1 the claims do not fit the doctype; 2 usage error,\n"
                    "             unreadable claims, not an authority, registry failure\n"
                    "\n"
                    "example:\n"
                    "  tessera authority enrol --dir ministry --claims erika.json",
        .man = "At the counter, after identity proofing: records the person's claims (the claims "
               "file of\n"
               "\\fBissue\\fR; {\"file\": \"path\"} values, relative to the claims file, are read "
               "now and stored\n"
               "inline) in the registry, audited under \\fB\\-\\-operator\\fR (default $USER), and "
               "creates a\n"
               "credential offer: a random pre-authorized code and a 6-digit transaction code. "
               "Prints the\n"
               "person id, the \"offer: openid-credential-offer://...\" line, its QR code in the "
               "terminal, and\n"
               "\"transaction code: tell the citizen: \\fINNNNNN\\fR\" (tell it in person; never "
               "send it with the\n"
               "offer), and \"recovery code for a lost phone: \\fIABCD\\-EFGH\\-JKLM\\-NPQR\\fR\": "
               "16 random symbols\n"
               "(80 bits) the registry keeps only as a hash, shown this once, to be printed for "
               "the citizen\n"
               "and kept away from the phone; with it \\fBwallet report\\-lost\\fR suspends the "
               "citizen's\n"
               "credentials from any machine. Enrolling the person again gives a new code and "
               "voids the old.\n"
               "The offer works once, expires after 10 minutes and dies after 5 wrong codes; the\n"
               "service need not run while enrolling. \\fB\\-\\-json\\fR prints {\"person\", "
               "\"doctype\", \"offer\",\n"
               "\"tx_code\", \"recovery_code\", \"credential_issuer\"} instead; "
               "\\fB\\-\\-qr\\-png\\fR also writes the QR code as PNG.\n"
               "\\fB\\-\\-public\\-url\\fR overrides the URL recorded by \\fBauthority serve\\fR "
               "(without either, the\n"
               "command fails). \\fB\\-\\-doctype\\fR defaults to eu.europa.ec.eudi.pid.1.",
    },
    {
        .name = "authority revoke",
        .aliases = {"authority suspend", "authority reinstate"},
        .man_title = "authority revoke, suspend, reinstate",
        .synopsis = "tessera authority revoke|suspend|reinstate --dir DIR [--db URL] (--credential "
                    "ID | --person ID | --device HEX [--person ID]) [--operator NAME]",
        .description =
            "Changes the status of one issued credential (--credential: the registry's credential\n"
            "id), of every credential of a person (--person), or of every credential bound to one\n"
            "phone (--device: the phone was lost or found; with --person only that person's), in\n"
            "one audited transaction on the registry; prints how many credentials changed.\n"
            "Suspended credentials can be reinstated; revoked is final (revoked ones are "
            "skipped).\n"
            "\n"
            "The running service builds its status lists from the registry, so the change is in\n"
            "the next list it serves; a verifier sees it when it fetches the list again, at the\n"
            "latest after the list's ttl ('authority serve --status-ttl', default 3600 s) unless\n"
            "it refreshes sooner.",
        OPTS(OPTS_AUTHORITY_REVOKE),
        .epilogue =
            "exit status: 0 done; 1 no such credential or person, no credential on that device,\n"
            "             or reinstating a revoked credential; 2 usage error or registry failure\n"
            "\n"
            "example:\n"
            "  tessera authority suspend --dir ministry --person 7 --operator \"desk 3\"\n"
            "  tessera authority reinstate --dir ministry --device 5f0c...e1 # the phone was found",
        .man = "Sets the status of one issued credential (\\fB\\-\\-credential\\fR \\fIID\\fR, the "
               "registry's id of\n"
               "one copy), of every credential of a person (\\fB\\-\\-person\\fR \\fIID\\fR, as "
               "printed by\n"
               "\\fBenrol\\fR), or of every credential bound to one phone (\\fB\\-\\-device\\fR "
               "\\fIHEX\\fR, its\n"
               "device id as \\fBwallet device\\-id\\fR and \\fBwallet enrol\\fR print it: the "
               "lost or found phone;\n"
               "with \\fB\\-\\-person\\fR only that person's) in one audited transaction, and "
               "prints how many\n"
               "credentials changed. Suspended credentials can be reinstated; revoked is final "
               "(revoked\n"
               "credentials are skipped by \\fB\\-\\-person\\fR and \\fB\\-\\-device\\fR; "
               "reinstating a revoked\n"
               "credential fails with exit status 1, as does an unknown id or a device with no "
               "credential). Verifiers see the change as\n"
               "described under \\fBauthority serve\\fR. Revoking or suspending a person or a "
               "device also stops\n"
               "issuance at once: the holder's open offers and access tokens are withdrawn for "
               "good (after\n"
               "\\fBreinstate\\fR the holder needs a new offer), nothing more is issued to a "
               "revoked or suspended\n"
               "person or onto a suspended or revoked phone, and a revoked person cannot be "
               "suspended or\n"
               "reinstated (exit status 1). See docs/SERVICE-LIMITS.md.",
    },
    {
        .name = "issue",
        .summary = "issue an mdoc bound to a device key",
        .synopsis = "tessera issue --authority DIR --doctype DOCTYPE --claims CLAIMS.json "
                    "(--device-key PUB.pem | --wallet D --key ID) --out MDOC.cbor [--valid-days N] "
                    "[--decoys N] [--doctype-table TABLE.json] [--hsm-pin-fd N] [--attestation "
                    "FILE --vendor-root PEM [--challenge HEX] [--require-uv]]",
        .description =
            "Issues one mdoc (ISO/IEC 18013-5 IssuerSigned with a signed MSO), signed by the\n"
            "document signer of DIR (ds.pem with ds_key.pem, or with the PKCS#11 token key that\n"
            "ds_key.hsm names) and bound to the holder's device key.\n"
            "MDOC.cbor is the stored credential {\"docType\": ..., \"issuerSigned\": ...} (mode "
            "0644).",
        OPTS(OPTS_ISSUE),
        .epilogue =
            "A summary line \"issued <doctype> with N elements to <out>\" goes to stderr.\n"
            "exit status: 0 issued; 1 the claims do not fit the doctype or issuing failed;\n"
            "             2 usage error or unreadable input\n"
            "\n"
            "example:\n"
            "  tessera issue --authority ministry --doctype eu.europa.ec.eudi.pid.1 \\\n"
            "      --claims pid.json --device-key device_pub.pem --out pid.mdoc",
        .man = "Issues one mdoc: each claim becomes an IssuerSignedItem with a random salt, and a "
               "Mobile\n"
               "Security Object (MSO) holding their digests, the device public key and the "
               "validity period is\n"
               "signed by the authority's document signer (COSE_Sign1, x5chain = the DS "
               "certificate).\n"
               "The credential is written to \\fIMDOC.cbor\\fR as {\"docType\": ..., "
               "\"issuerSigned\": ...}.\n"
               "On success one line \"issued \\fIDOCTYPE\\fR with \\fIN\\fR elements to "
               "\\fIMDOC.cbor\\fR\" goes to\n"
               "standard error.\n"
               ".TP\n"
               ".BI \\-\\-wallet \" D \" \\-\\-key \" ID\"\n"
               "instead of \\fB\\-\\-device\\-key\\fR: the public key of key \\fIID\\fR (from\n"
               "\\fBwallet keygen\\fR) in the secure element of wallet \\fID\\fR.\n"
               ".TP\n"
               ".BI \\-\\-attestation \" FILE \" \\-\\-vendor\\-root \" PEM\"\n"
               "before issuing, checks the device key's attestation chain (written by \\fBwallet "
               "keygen\n"
               "\\-\\-attest\\fR): it must chain to one of the secure-element vendor roots in "
               "\\fIPEM\\fR, attest\n"
               "exactly the device key, and carry the challenge. Nothing is issued otherwise (exit "
               "status 1).",
    },
    {
        .name = "present",
        .summary = "answer a request with a DeviceResponse",
        .synopsis =
            "tessera present (--mdoc MDOC.cbor --device-key KEY.pem | --wallet D --credential ID "
            "[--pin-fd N]) (--request REQUEST.cbor | --elements NS/NAME,...) --transcript ST.cbor "
            "[--mac --reader-pub READER.pem] --out RESPONSE.cbor",
        .description =
            "Builds a DeviceResponse disclosing the requested elements the credential holds,\n"
            "authenticated with the device key: by signature (default) or, with --mac, by a MAC\n"
            "keyed from ECDH between the device key and the reader's ephemeral key.",
        OPTS(OPTS_PRESENT),
        .epilogue =
            "stderr tells how many elements were disclosed and which requested ones the\n"
            "credential does not hold (they are left out, not an error).\n"
            "exit status: 0 written; 1 the library refused (also: wrong PIN, locked PIN, every\n"
            "             single-use copy spent); 2 usage error or unreadable input\n"
            "\n"
            "examples:\n"
            "  tessera present --mdoc pid.mdoc --device-key device_key.pem \\\n"
            "      --elements family_name,given_name,age_over_18 --transcript st.cbor --out "
            "resp.cbor\n"
            "  tessera present --wallet phone --credential 1 --pin-fd 3 \\\n"
            "      --elements family_name,age_over_18 --transcript st.cbor --out resp.cbor",
        .man = "Builds a DeviceResponse disclosing the requested elements the credential holds, "
               "authenticated\n"
               "by the device key over the session transcript. Requested elements that the "
               "credential does not\n"
               "hold are left out (not an error); standard error reports how many elements were "
               "disclosed and\n"
               "names the missing ones.\n"
               ".TP\n"
               ".BI \\-\\-wallet \" D \" \\-\\-credential \" ID\"\n"
               "instead of \\fB\\-\\-mdoc\\fR and \\fB\\-\\-device\\-key\\fR: present credential "
               "\\fIID\\fR of\n"
               "wallet \\fID\\fR (see \\fBwallet list\\fR). A copy is taken from the store (a "
               "single-use copy\n"
               "is marked used in the same transaction and never shown again; when every "
               "single-use copy is\n"
               "spent the command fails with key_used) and the device key in the secure element "
               "signs. When\n"
               "the credential's keys need user verification, the PIN is asked and checked\n"
               "\\fIbefore\\fR a copy is taken, so a mistyped PIN spends no copy; a PKCS#11 token "
               "needs the\n"
               "PIN for every key (its session must be logged in). Every attempt goes into the "
               "wallet's\n"
               "transaction log: the relying party (this command does not authenticate the reader, "
               "so\n"
               "\"unknown reader\"), the elements disclosed (or requested, when it failed) and the "
               "outcome.",
    },
    {
        .name = "verify",
        .summary = "verify a DeviceResponse as a reader",
        .synopsis =
            "tessera verify --trust ROOT.pem[,ROOT2.pem...] --transcript ST.cbor [--reader-key "
            "EREADER.pem] [--at TIME] [--json] [--status online|cached|off] [--status-cache DIR] "
            "[--status-max-age SEC] [--status-max-ttl SEC] RESPONSE.cbor",
        .description =
            "Verifies a DeviceResponse as a reader does: the document signer chains to one of\n"
            "the trusted IACA roots, the issuer signature, the MSO validity at TIME, every\n"
            "disclosed element's digest, and the device signature or MAC over the transcript.\n"
            "With --status, then the status of every document that carries a status reference\n"
            "(IETF Token Status List, signed by the credential's own issuer: a document signer\n"
            "of the same IACA): valid, REVOKED or SUSPENDED (the response is then invalid), or\n"
            "undetermined (list unreachable, not verifiable, not the issuer's, older than the\n"
            "cached one or too old: a warning, never reported as valid nor as revoked).",
        OPTS(OPTS_VERIFY),
        .epilogue =
            "Fetches time out after 5 s; the status is checked at the current time (not --at).\n"
            "\n"
            "Output: \"VALID\" and the disclosed data (with each document's status), or\n"
            "\"INVALID: <code>: <reason>\" (credential_revoked / credential_suspended: the data "
            "is\n"
            "not shown). An undetermined status adds a WARNING on standard error.\n"
            "exit status: 0 valid (also with an undetermined status); 1 invalid, revoked or\n"
            "             suspended; 2 usage error or unreadable input (missing file, unreadable\n"
            "             key or root, bad --at, unusable status cache)\n"
            "\n"
            "example:\n"
            "  tessera verify --trust ministry/iaca.pem --transcript st.cbor --json resp.cbor\n"
            "  tessera verify --trust ministry/iaca.pem --transcript st.cbor --status online "
            "resp.cbor",
        .man = "Verifies a DeviceResponse as a reader does, at time \\fITIME\\fR: the document "
               "signer chains to\n"
               "one of the trusted roots and fits its profile, all certificates are valid, the "
               "issuer signature\n"
               "over the MSO, the MSO's docType and validity period, the digest of every disclosed "
               "element, and\n"
               "the device signature or MAC over the session transcript. Undisclosed elements are "
               "normal.\n"
               ".PP\n"
               "The text output is \"VALID\" followed, per document, by docType, issuer, signed, "
               "valid from,\n"
               "valid until, the device authentication (signature or MAC), the status-list "
               "reference if any,\n"
               "and one line \"\\fInamespace\\fR/\\fIelement\\fR = \\fIvalue\\fR\" per disclosed "
               "element (long byte\n"
               "strings shortened to \"<N bytes>\"); or one line \"INVALID: \\fIcode\\fR: "
               "\\fIreason\\fR\".\n"
               ".PP\n"
               "The JSON output is exactly:\n"
               ".PP\n"
               ".nf\n"
               ".RS\n"
               "{\"valid\": true|false,\n"
               " \"error\": null | {\"code\": \"\\fIcode\\fR\", \"message\": \"\\fIreason\\fR\"},\n"
               " \"documents\": [{\"docType\": ..., \"issuer\": ..., \"signed\": ..., "
               "\"validFrom\": ...,\n"
               "                \"validUntil\": ..., \"deviceAuth\": \"signature\"|\"mac\",\n"
               "                \"status\": null | {\"idx\": \\fIn\\fR, \"uri\": ...[, \"value\":\n"
               "                           \"valid\"|\"revoked\"|\"suspended\"|\"undetermined\",\n"
               "                           \"detail\": ..., \"reason\": \\fIcode\\fR|null,\n"
               "                           \"fetched\": \\fItime\\fR|null]},\n"
               "                \"elements\": {\"\\fInamespace\\fR\": {\"\\fIelement\\fR\": "
               "\\fIvalue\\fR}}}]}\n"
               ".RE\n"
               ".fi\n"
               ".PP\n"
               "Times are \"YYYY-MM-DDThh:mm:ssZ\". \"documents\" is empty when the response is "
               "not valid, except\n"
               "when it is invalid only because of a document's status (revoked or suspended): "
               "then the\n"
               "documents are listed with their status. \"value\", \"detail\", \"reason\" and "
               "\"fetched\" are present\n"
               "only when the status was checked (\\fB\\-\\-status\\fR online or cached); "
               "\"reason\" is the code of\n"
               "what made an undetermined status undetermined (e.g. status_wrong_issuer, "
               "status_rollback,\n"
               "status_expired, transport), null otherwise.\n"
               "Element values are converted from CBOR: text as strings, byte strings as base64url "
               "strings,\n"
               "integers as numbers, booleans, null, floats as numbers (NaN and infinities as "
               "strings);\n"
               "full-dates (tag 1004, tag 100) and date-times (tag 0, tag 1) as their text; other "
               "tags as\n"
               "{\"tag\": \\fIN\\fR, \"value\": ...}; arrays and maps recursively, in the order "
               "received (map keys\n"
               "other than text in CBOR diagnostic notation).\n"
               ".PP\n"
               "Error codes are the stable names of libtessera's error codes, among them\n"
               "chain_untrusted, chain_signature, certificate_expired, certificate_not_yet_valid,\n"
               "document_signer_profile, ds_country, issuer_signature, doctype_mismatch, "
               "mso_expired,\n"
               "mso_not_yet_valid, mso_validity_order, mso_signed_outside_certificate, "
               "issuing_country,\n"
               "issuing_jurisdiction, digest_mismatch, digest_missing, device_signature, "
               "device_mac, and the\n"
               "\"malformed input\" codes (cbor_*, cose_*, mdoc_structure, mso_structure, "
               "mdoc_date_form, ...).\n"
               "docs/ISO18013-5-AUDIT.md lists every check with its code.",
    },
    {
        .name = "inspect",
        .summary = "print CBOR in diagnostic notation",
        .synopsis = "tessera inspect FILE",
        .description =
            "Prints FILE as CBOR diagnostic notation (RFC 8949 section 8), with embedded CBOR\n"
            "(tag 24) unwrapped as 24(<< ... >>). FILE may be binary CBOR or hex text; '-'\n"
            "reads standard input.\n"
            "\n"
            "exit status: 0 printed; 1 not well-formed CBOR; 2 usage error or unreadable file\n"
            "\n"
            "example:\n"
            "  tessera inspect resp.cbor",
        .man = "Prints \\fIFILE\\fR in CBOR diagnostic notation (RFC 8949 section 8) with embedded "
               "CBOR (tag 24)\n"
               "unwrapped as 24(<<\\ ...\\ >>). Then every byte string that holds a complete CBOR "
               "map, array or\n"
               "tag (a COSE payload such as the MSO, a protected header) is printed decoded, under "
               "a comment\n"
               "naming its place (e.g. / .documents[0].issuerSigned.issuerAuth[2]: ... /).\n"
               "\\fIFILE\\fR may be binary CBOR or hex text; \"\\-\" reads standard input.",
    },
    {
        .name = "wallet",
        .summary = "the holder's wallet: secure-element keys, credentials, PIN, log",
        .description =
            "The holder's wallet: credentials in a store (D/wallet.db), their device keys in a\n"
            "secure element that never lets them out (the software secure element in D/se/, or a\n"
            "PKCS#11 token). At a front desk: 'tessera wallet present' (QR or NFC); on a website:\n"
            "'tessera wallet authorize URL' (OpenID4VP login); from files:\n"
            "'tessera present --wallet D --credential ID'.\n"
            "\n"
            "PINs are never given on the command line: they are asked on the terminal (no echo)\n"
            "or, with --pin-fd N, read one per line from file descriptor N.",
        .epilogue = "See 'tessera wallet SUBCOMMAND --help'.\n"
                    "exit status: 0 done; 1 the operation failed (wrong PIN or PUK, locked PIN, no "
                    "matching\n"
                    "             key, ...); 2 usage error, not a wallet, or unreadable input\n"
                    "\n"
                    "example (software secure element):\n"
                    "  tessera vendor init --dir vendor\n"
                    "  tessera wallet init --dir phone --vendor vendor\n"
                    "  tessera wallet pin set --wallet phone\n"
                    "  id=$(tessera wallet keygen --wallet phone --uv --out dev.pem)\n"
                    "  tessera issue --authority ministry --doctype eu.europa.ec.eudi.pid.1 \\\n"
                    "      --claims pid.json --wallet phone --key \"$id\" --out pid.mdoc\n"
                    "  tessera wallet add --wallet phone --mdoc pid.mdoc --name \"My eID\"",
    },
    {
        .name = "wallet init",
        .synopsis = "tessera wallet init --dir D [--se soft | --se "
                    "pkcs11:MODULE_PATH[:TOKEN_LABEL]] [--vendor VENDOR_DIR]",
        .description =
            "Creates a wallet: the directory D (mode 0700) with\n"
            "  wallet.db  the store: credentials, their copies, the transaction log, and the\n"
            "             setting \"se\" naming the secure element\n"
            "  se/        the software secure element's sealed state and device key (--se soft),\n"
            "             or Tessera's own PIN retry counters for the token (--se pkcs11:...)",
        OPTS(OPTS_WALLET_INIT),
        .epilogue = "exit status: 0 created; 1 the secure element refused; 2 usage error, D "
                    "already holds a\n"
                    "             wallet, PKCS#11 module missing or token not found, or I/O error\n"
                    "\n"
                    "example:\n"
                    "  tessera wallet init --dir phone --vendor vendor",
        .man =
            "Creates a wallet: the directory \\fID\\fR (mode 0700) with the store "
            "\\fBwallet.db\\fR and the\n"
            "secure element's directory \\fBse/\\fR (see FILES). An existing \\fID\\fR is accepted "
            "when it holds\n"
            "no wallet.db. The secure element is opened (created, for the software one) before the "
            "store, so\n"
            "a missing PKCS#11 module or token leaves no store behind. Prints the backend and its\n"
            "capabilities (hardware, pin-lockout, user-verification, single-use, ecdh-export, "
            "attestation,\n"
            "rollback: what the backend enforces itself; Tessera enforces the rest on top; and\n"
            "pseudonym: it derives per-site pseudonyms, docs/PSEUDONYM.md).\n"
            ".TP\n"
            ".B \\-\\-se soft\n"
            "the built-in software secure element (the default): its state sealed with AES-256-GCM "
            "under a\n"
            "device key in a separate owner-only file, PIN retry counter persisted before every "
            "check,\n"
            "anti-rollback counter.\n"
            ".TP\n"
            ".BI \"\\-\\-se pkcs11:\" MODULE_PATH\\fR[\\fB:\\fITOKEN_LABEL\\fR]\n"
            "a PKCS#11 token through p11-kit, e.g. pkcs11:/usr/lib/softhsm/libsofthsm2.so:t; "
            "without a\n"
            "label the first token present. A relative module path is made absolute. The token's "
            "user PIN\n"
            "is the wallet PIN and its SO PIN the PUK; Tessera keeps its own retry counters for "
            "the token\n"
            "in \\fID\\fR/se/.",
    },
    {
        .name = "wallet pin",
        .synopsis = "tessera wallet pin set|change|unblock --wallet D [--pin-fd N]\n"
                    "tessera wallet pin status --wallet D",
        .description =
            "Manages the secure element's holder PIN (4..16 digits) and its PUK (8..16 digits);\n"
            "on a PKCS#11 token they are the token's user and SO PIN (text, 4..63 and 8..63).\n"
            "After 5 wrong PINs in a row the PIN is locked and the keys that need it refuse to\n"
            "work until the PUK unblocks it; after 10 wrong PUKs the secure element is blocked "
            "for\n"
            "good. Every failure says how many tries are left.\n"
            "\n"
            "  set      sets the first PIN and PUK. Asks, in this order:\n"
            "             new PIN, new PIN again, new PUK, new PUK again\n"
            "  change   asks: current PIN, new PIN, new PIN again\n"
            "  unblock  asks: PUK, new PIN, new PIN again (resets the PIN tries)\n"
            "  status   prints whether a PIN is set and the PIN and PUK tries left",
        OPTS(OPTS_WALLET_PIN),
        .epilogue =
            "exit status: 0 done; 1 wrong PIN or PUK, PIN locked, secure element blocked; 2 usage\n"
            "             error, a PIN already set, the two entries differ, malformed PIN or PUK, "
            "no\n"
            "             terminal and no --pin-fd\n"
            "\n"
            "example:\n"
            "  tessera wallet pin change --wallet phone",
        .man =
            ".TP\n"
            ".B set\n"
            "sets the first PIN (4..16 digits) and PUK (8..16 digits; on a PKCS#11 token the "
            "token's user\n"
            "and SO PIN, text of 4..63 and 8..63 characters). Asks: new PIN, new PIN again, new\n"
            "PUK, new PUK again.\n"
            ".TP\n"
            ".B change\n"
            "asks: current PIN, new PIN, new PIN again.\n"
            ".TP\n"
            ".B unblock\n"
            "asks: PUK, new PIN, new PIN again; unlocks a locked PIN and resets its tries.\n"
            ".TP\n"
            ".B status\n"
            "prints whether a PIN is set, and the PIN and PUK tries left.\n"
            ".PP\n"
            "PINs and PUKs are never taken from the command line. They are asked on the terminal\n"
            "(/dev/tty, without echo), or with \\fB\\-\\-pin\\-fd\\fR \\fIN\\fR read one per line "
            "from file\n"
            "descriptor \\fIN\\fR, in the order above, confirmations included. The descriptor is "
            "read one byte\n"
            "at a time, never past the last line a command needs, so several commands may read "
            "their PINs\n"
            "from one descriptor in turn. Without a terminal and without \\fB\\-\\-pin\\-fd\\fR "
            "the command fails\n"
            "(exit status 2). Each wrong PIN or PUK is reported with its error code (pin_wrong, "
            "puk_wrong)\n"
            "and the tries left; after 5 wrong PINs in a row the PIN is locked (pin_locked) and "
            "the keys\n"
            "that need it refuse to work until \\fBunblock\\fR; after 10 wrong PUKs the secure "
            "element is\n"
            "blocked for good (se_blocked).",
    },
    {
        .name = "wallet keygen",
        .synopsis = "tessera wallet keygen --wallet D [--uv] [--single-use] [--out PUB.pem] "
                    "[--attest --attestation-out FILE [--challenge HEX]] [--pin-fd N]",
        .description =
            "Creates a P-256 key in the wallet's secure element. The key's id goes to standard\n"
            "output (the first line; without --out the public key PEM follows it); the private "
            "key\n"
            "never leaves the secure element.",
        OPTS(OPTS_WALLET_KEYGEN),
        .epilogue =
            "exit status: 0 created; 1 the secure element refused; 2 usage error or I/O error\n"
            "\n"
            "example:\n"
            "  tessera wallet keygen --wallet phone --uv --attest --challenge 0011aabb \\\n"
            "      --out dev.pem --attestation-out dev.att",
        .man = "Creates a P-256 key in the secure element and prints its id on standard output "
               "(the first\n"
               "line; without \\fB\\-\\-out\\fR the public key PEM follows). The private key never "
               "leaves the\n"
               "secure element.\n"
               ".TP\n"
               ".BR \\-\\-attest \", \" \\-\\-attestation\\-out \" \\fIFILE\\fR\"\n"
               "writes the key's attestation to \\fIFILE\\fR: a CBOR array of DER certificates, "
               "leaf first,\n"
               "chaining to the secure element's vendor root; the leaf's extension "
               "1.3.6.1.4.1.59999.1.1 states\n"
               "the key's protections (user verification, single use, backend) and the challenge.",
    },
    {
        .name = "wallet add",
        .synopsis = "tessera wallet add --wallet D --mdoc FILE [--mdoc FILE...] [--name DISPLAY]",
        .description =
            "Stores a credential in the wallet. Each FILE is an mdoc made by 'tessera issue' for "
            "a\n"
            "key of the wallet's secure element: the key is found by the MSO's deviceKey. Several\n"
            "FILEs are copies of one credential (same doctype and issuer), each bound to its own\n"
            "key; when those keys are single-use, every copy is shown at most once. The doctype,\n"
            "validity and issuer (document signer subject) are read from the MSO and the document\n"
            "signer certificate, whose signature over the MSO is checked (the chain is not: the\n"
            "wallet holds no trust roots). The new credential's id goes to standard output.",
        OPTS(OPTS_WALLET_ADD),
        .epilogue =
            "exit status: 0 added; 1 no key of the secure element matches, copies that do not\n"
            "             belong together, a damaged credential; 2 usage error or unreadable file\n"
            "\n"
            "example:\n"
            "  tessera wallet add --wallet phone --mdoc pid1.mdoc --mdoc pid2.mdoc --name \"My "
            "eID\"",
        .man = "Stores a credential. Each \\fB\\-\\-mdoc\\fR \\fIFILE\\fR (made by \\fBissue\\fR; "
               "repeat for a batch\n"
               "of copies, up to 256) must be bound to a key of the wallet's secure element: the "
               "key whose\n"
               "public key equals the MSO's deviceKey is found by listing the secure element's "
               "keys. The\n"
               "doctype, validity (for a batch: the latest validFrom to the earliest validUntil) "
               "and issuer\n"
               "(the document signer's subject) are read from the MSO and the DS certificate, "
               "whose signature\n"
               "over the MSO is checked; the chain is not (a wallet holds no trust roots). Copies "
               "must have the\n"
               "same doctype and issuer, keys of their own, and the same protections; the "
               "credential is\n"
               "single-use when its keys are. Prints the new credential's id on standard output.\n"
               "\\fB\\-\\-name\\fR \\fIDISPLAY\\fR sets the name shown by \\fBwallet list\\fR "
               "(default PID, mDL or the\n"
               "doctype).",
    },
    {
        .name = "wallet list",
        .synopsis = "tessera wallet list --wallet D [--json]",
        .description =
            "Lists the wallet's credentials: id, display name, doctype, issuer, validity, whether\n"
            "presenting needs the PIN, and how many copies are left (a single-use copy once shown\n"
            "is gone; reusable copies stay).",
        OPTS(OPTS_WALLET_LIST),
        .epilogue = "exit status: 0 listed; 1 the store failed; 2 usage error or not a wallet",
        .man = "Prints each credential: id, name, doctype, whether presenting needs the PIN, "
               "issuer, validity\n"
               "(with EXPIRED or not yet valid), and the copies left (single-use: copies never "
               "shown;\n"
               "reusable: all). With \\fB\\-\\-json\\fR:\n"
               ".PP\n"
               ".nf\n"
               ".RS\n"
               "[{\"id\", \"docType\", \"name\", \"issuer\", \"validFrom\", \"validUntil\", "
               "\"copies\",\n"
               "  \"copiesLeft\", \"singleUse\", \"needsPin\", \"added\"}]\n"
               ".RE\n"
               ".fi",
    },
    {
        .name = "wallet log",
        .synopsis = "tessera wallet log --wallet D [--json]",
        .description =
            "Prints the wallet's transaction log, oldest first: when, which credential, to whom\n"
            "(the reader's or website's name from its certificate, \"unknown reader\" when it was\n"
            "not authenticated), which elements (* = the relying party announced it keeps them)\n"
            "and the outcome (\"disclosed\", \"declined\" or \"failed: <code>\").",
        OPTS(OPTS_WALLET_LOG),
        .epilogue = "exit status: 0 printed; 1 the store failed; 2 usage error or not a wallet",
        .man =
            "Prints the transaction log, oldest first: time, credential, relying party, outcome\n"
            "(\"disclosed\", \"declined\", or \"failed: \\fIcode\\fR\") and the elements as\n"
            "\\fInamespace\\fR/\\fIelement\\fR, marked * when the relying party announced it would "
            "keep them.\n"
            "With \\fB\\-\\-json\\fR:\n"
            ".PP\n"
            ".nf\n"
            ".RS\n"
            "[{\"id\", \"at\", \"credential\", \"relyingParty\",\n"
            "  \"elements\": [{\"namespace\", \"element\", \"intentToRetain\"}], \"outcome\"}]\n"
            ".RE\n"
            ".fi",
    },
    {
        .name = "wallet enrol",
        .aliases = {"wallet enroll"},
        .synopsis = "tessera wallet enrol --wallet D [--offer-file F | --offer-fd N] [--pin-fd N] "
                    "[--tx-code-fd N] [--batch N] [--name DISPLAY] [--proof MODE]",
        .description =
            "Obtains a credential from an issuing authority over OpenID4VCI 1.0: redeems the\n"
            "offer's pre-authorized code with the transaction code the citizen was told, gets a\n"
            "c_nonce, makes one key per copy in the wallet's secure element (each needs the PIN),\n"
            "attests it for the c_nonce (the issuer checks that the key lives in a chip it\n"
            "trusts), proves possession with a signature, and stores the copies it receives as\n"
            "one credential. With --batch N > 1 the copies are single-use: each presentation\n"
            "spends one, so that verifiers cannot link presentations. (The keys themselves are\n"
            "not single-use in the secure element: the proof of possession is their first\n"
            "signature; the store hands out each copy once.)\n"
            "\n"
            "The PIN is checked before the offer is redeemed (an offer works once). Neither the\n"
            "offer nor the transaction code belongs on the command line, where every user of the\n"
            "machine can read it (ps, /proc): each is read from a file descriptor, or asked on "
            "the\n"
            "terminal without echo. Order of the lines on a shared descriptor: the offer (with\n"
            "--offer-fd), the PIN, then the transaction code (from --pin-fd unless --tx-code-fd\n"
            "names another descriptor).",
        OPTS(OPTS_WALLET_ENROL),
        .epilogue =
            "Prints the new credential id on standard output and, on standard error, a summary\n"
            "and the phone's device id (see 'tessera wallet device-id').\n"
            "exit status: 0 stored; 1 the issuer refused (invalid_grant: wrong, used or expired\n"
            "             offer or transaction code, with the tries left; invalid_proof: the "
            "key's\n"
            "             attestation is not accepted; ...), wrong PIN; 2 usage error, not a "
            "wallet,\n"
            "             no PIN set, the issuer cannot be reached\n"
            "\n"
            "example:\n"
            "  tessera wallet enrol --wallet phone --batch 3 --offer-file offer.txt\n"
            "      (asks for the PIN, then the transaction code)",
        .man =
            "Obtains a credential over OpenID4VCI from an offer (the QR code's text): redeems the\n"
            "pre-authorized code with the transaction code, gets a c_nonce, creates one P-256 key "
            "per copy\n"
            "(\\fB\\-\\-batch\\fR \\fIN\\fR, default 1) in the wallet's secure element, each "
            "needing the PIN and\n"
            "attested for the c_nonce (the service checks that the key lives in a chip it trusts), "
            "signs\n"
            "one proof per key, and stores the copies as one credential (printed id; summary on "
            "standard\n"
            "error). With \\fIN\\fR > 1 the copies are single-use: each presentation takes a copy "
            "never shown\n"
            "before, so that verifiers cannot link presentations. The keys themselves are not "
            "made\n"
            "single-use in the secure element, because the proof of possession is their first "
            "signature;\n"
            "the store hands each copy out once. The wallet's PIN must be set; it is asked once "
            "and\n"
            "checked before the offer is redeemed (an offer works once). Neither the offer nor "
            "the\n"
            "transaction code belongs on the command line, which every user of the machine can "
            "read (ps,\n"
            "/proc): the offer comes from the file \\fB\\-\\-offer\\-file\\fR \\fIF\\fR (one line) "
            "or one line of\n"
            "descriptor \\fB\\-\\-offer\\-fd\\fR \\fIN\\fR, else it is asked on the terminal; "
            "\\fB\\-\\-offer\\fR \\fIURI\\fR\n"
            "still works but warns. The transaction code comes from \\fB\\-\\-tx\\-code\\-fd\\fR "
            "\\fIN\\fR, else from\n"
            "\\fB\\-\\-pin\\-fd\\fR after the PIN, else it is asked on the terminal after the "
            "PIN;\n"
            "\\fB\\-\\-tx\\-code\\fR \\fICODE\\fR is refused (exit status 2). Lines read from one "
            "shared descriptor\n"
            "come in this order: the offer (with \\fB\\-\\-offer\\-fd\\fR), the PIN, the "
            "transaction code. Refusals by the service exit with status 1 and name the standard "
            "error:\n"
            "invalid_grant (wrong, used or expired offer, or wrong transaction code, with the "
            "tries left),\n"
            "invalid_proof (for instance a key attestation from a vendor the service does not "
            "trust); an\n"
            "unreachable service exits with 2. On success it also prints the phone's device id on "
            "standard\n"
            "error.\n"
            ".IP\n"
            "\\fB\\-\\-proof\\fR \\fIMODE\\fR says how the keys are attested. \\fBauto\\fR (the "
            "default): when the\n"
            "issuer's metadata asks for key attestations (\\fBkey_attestations_required\\fR), as\n"
            "\\fBkey\\-attestation\\fR, else as \\fBx5c\\fR. \\fBkey\\-attestation\\fR: OpenID4VCI "
            "1.0 \\(em each\n"
            "proof's JOSE header carries, in \\fBkey_attestation\\fR, a key attestation JWT\n"
            "(\\fBtyp\\fR key\\-attestation+jwt) of its key for the c_nonce, made and signed "
            "inside the secure\n"
            "element, whose \\fBkey_storage\\fR and \\fBuser_authentication\\fR state the key's "
            "protections\n"
            "(docs/SECURE\\-ELEMENT.md). \\fBx5c\\fR: Tessera's own form, the secure element's "
            "attestation\n"
            "certificate chain in each proof's \\fBx5c\\fR header (what Tessera issuers before "
            "OpenID4VCI 1.0\n"
            "key attestations accept). \\fBattestation\\fR: the OpenID4VCI 1.0 proof type "
            "\\fBattestation\\fR,\n"
            "one key attestation of all the batch's keys and no signature by them (the service "
            "must list\n"
            "it in its metadata). A PKCS#11 secure element makes no attestations: \\fBauto\\fR "
            "sends its\n"
            "proofs without, and the two key attestation modes exit with status 1.",
    },
    {
        .name = "wallet device-id",
        .synopsis = "tessera wallet device-id --wallet D",
        .description =
            "Prints the phone's device id: the hex SHA-256 of its secure element's attestation\n"
            "certificate, which every key attestation of the wallet carries (x5c[1] of the\n"
            "OpenID4VCI proofs). The issuing authority records it with every credential it\n"
            "issues to the wallet, so that all of them can be suspended at once when the phone\n"
            "is lost ('tessera wallet report-lost --device', 'tessera authority suspend\n"
            "--device'). Note it somewhere other than the phone. A key is attested to read it (a\n"
            "temporary one when the wallet has no key yet; no PIN needed).\n"
            "\n"
            "A PKCS#11 wallet makes no attestations and has no device id: the authority knows\n"
            "each key by its thumbprint; the command lists those and exits with 1.\n"
            "\n"
            "exit status: 0 printed; 1 the secure element makes no attestations or refused; 2\n"
            "             usage error or not a wallet\n"
            "\n"
            "example:\n"
            "  tessera wallet device-id --wallet phone",
        OPTS(OPTS_WALLET_DEVICE_ID),
        .man = "Prints the phone's device id: the lowercase hex SHA-256 of the DER of its secure "
               "element's\n"
               "attestation certificate, which every key attestation of the wallet carries second "
               "(x5c[1] of\n"
               "the OpenID4VCI proofs). The issuing service records it with every credential it "
               "issues to the\n"
               "wallet (and returns it as \"device_id\"), so \\fBwallet report\\-lost "
               "\\-\\-device\\fR and\n"
               "\\fBauthority suspend \\-\\-device\\fR reach every credential on the phone at "
               "once. A key is\n"
               "attested to read it (a temporary key when the wallet holds none). A PKCS#11 wallet "
               "makes no\n"
               "attestations and has no device id: the service then records each key's thumbprint "
               "(hex\n"
               "SHA-256 of its COSE_Key) as its device; the command lists those thumbprints and "
               "exits with 1.",
    },
    {
        .name = "wallet report-lost",
        .synopsis = "tessera wallet report-lost --issuer URL [--recovery-code-fd N | "
                    "--recovery-code CODE] [--device HEX]",
        .description =
            "Reports a lost phone to the issuing authority, from any machine (no wallet needed):\n"
            "POST URL/lost with the recovery code the citizen got at enrolment. The authority\n"
            "suspends every credential of the citizen bound to the phone --device names, or\n"
            "with no --device every credential of the citizen; verifiers see it when they next\n"
            "fetch the status list. Prints how many credentials were suspended. When the phone\n"
            "is found, the authority reinstates them ('tessera authority reinstate --device').",
        OPTS(OPTS_WALLET_REPORT_LOST),
        .epilogue =
            "exit status: 0 suspended; 1 wrong recovery code (invalid_grant), too many wrong "
            "codes,\n"
            "             none of the citizen's credentials on that device; 2 usage error, the\n"
            "             authority cannot be reached\n"
            "\n"
            "example:\n"
            "  tessera wallet report-lost --issuer https://eid.ut.example --device 5f0c...e1\n"
            "  Recovery code: (typed, not shown)",
        .man = "Reports a lost phone from any machine, without a wallet: POST \\fIURL\\fR/lost "
               "with the\n"
               "recovery code \\fICODE\\fR printed at enrolment (case, dashes and blanks do not "
               "matter) and the\n"
               "phone's device id (\\fB\\-\\-device\\fR), or without \\fB\\-\\-device\\fR for "
               "every credential of\n"
               "the citizen. The service suspends the citizen's credentials on that phone, audited "
               "as\n"
               "\"holder (recovery code)\", and prints how many; verifiers see it when they next "
               "fetch the\n"
               "status list. Exit status 1 for a wrong code (invalid_grant), too many wrong codes "
               "from this\n"
               "address (rate_limited) or a device with none of the citizen's credentials; 2 when "
               "the\n"
               "service cannot be reached. Reinstating is done at the counter (\\fBauthority "
               "reinstate\n"
               "\\-\\-device\\fR).\n"
               "The code is read from file descriptor \\fIN\\fR with "
               "\\fB\\-\\-recovery\\-code\\-fd\\fR (one\n"
               "line), or asked for on the terminal without echo when neither option is given;\n"
               "\\fB\\-\\-recovery\\-code\\fR puts it on the command line, where other users of "
               "the machine can\n"
               "read it (ps, /proc), and is meant for throw-away test codes.",
    },
    {
        .name = "wallet key-request",
        .synopsis = "tessera wallet key-request --wallet D --out FILE",
        .description =
            "Door keys, step 1 (docs/WALLET.md, \"Door keys\"): makes a new endpoint key in the\n"
            "wallet's secure element (no PIN: doors open in express mode; reusable) and writes\n"
            "the key request for the hotel's front desk to FILE: the endpoint's public key and,\n"
            "when the secure element makes them, its attestation chain. The key waits as\n"
            "\"requested\" until the hotel's key package is added ('tessera wallet key-add').",
        OPTS(OPTS_WALLET_KEY_REQUEST),
        .epilogue = "exit status: 0 written; 1 the secure element or store refused; 2 usage "
                    "error, not a\n"
                    "             wallet, FILE exists or cannot be written\n"
                    "\n"
                    "example:\n"
                    "  tessera wallet key-request --wallet phone --out key-request.cbor",
        .man = "Makes a new endpoint key in the wallet's secure element (no user verification: "
               "doors open in\n"
               "express mode; not single-use), records it as requested and writes the key request "
               "(CBOR\n"
               "{\"v\": 1, \"endpoint_key\", ? \"attestation\"}, docs/KEYS.md) to a new file "
               "\\fIFILE\\fR\n"
               "(mode 0644; an existing file is refused). The attestation chain carries the "
               "challenge\n"
               "\"tessera door key request\".",
    },
    {
        .name = "wallet key-add",
        .synopsis = "tessera wallet key-add --wallet D FILE",
        .description =
            "Door keys, step 2: adds what the hotel sent. FILE is either a key package (the\n"
            "access document for a key this wallet requested, the hotel's reader group key and\n"
            "issuer key, perhaps the group's revocation document) or a revocation document of\n"
            "a hotel whose key the wallet holds (kept when newer than the one held, and handed\n"
            "to the next locks the phone opens). The package's access document must verify\n"
            "with its issuer key and be bound to a key this wallet requested; the same package\n"
            "twice is refused; a newer document for the same key (an extended stay) replaces\n"
            "the older.",
        OPTS(OPTS_WALLET_KEY_ADD),
        .epilogue = "exit status: 0 added; 1 refused (not for this wallet, bad signature, "
                    "added already,\n"
                    "             not newer); 2 usage error, not a wallet, FILE unreadable\n"
                    "\n"
                    "example:\n"
                    "  tessera wallet key-add --wallet phone key-package.cbor",
        .man = "Adds a key package (tried first) or a revocation document. A package is checked: "
               "its access\n"
               "document verifies with the package's issuer key and names the package's reader "
               "group, its\n"
               "endpoint key is one this wallet requested (else \\fBaccess_endpoint\\fR) and "
               "still holds, and\n"
               "it is not the document held already (\\fBexists\\fR). A revocation document "
               "must verify with the\n"
               "issuer key of a group the wallet holds a key of and be newer than the one held "
               "(else\n"
               "\\fBaccess_rollback\\fR); a key it lists is shown as revoked by \\fBwallet "
               "list\\fR.",
    },
    {
        .name = "wallet tap",
        .synopsis = "tessera wallet tap --wallet D [--nfc] [--vpcd HOST:PORT] [--timeout S] "
                    "[--count N]",
        .description =
            "Door keys, step 3: the phone at the door. Answers the lock's Aliro transaction\n"
            "(standard, fast, step-up with the access and revocation documents) with the key\n"
            "of the lock's reader group, as an NFC card through vsmartcard's vpcd (pcscd must\n"
            "run). Prints \"door opened: <hotel> room <rooms>\" or \"door stayed shut:\n"
            "<reason>\" and logs the tap in the wallet's log.",
        OPTS(OPTS_WALLET_TAP),
        .epilogue = "exit status: 0 the door opened; 1 the lock refused; 2 usage error, not a "
                    "wallet, no\n"
                    "             vpcd, or no verdict within the timeout\n"
                    "\n"
                    "example:\n"
                    "  tessera wallet tap --wallet phone --nfc",
        .man = "Serves the Aliro applets (A000000909ACCE5501 and the step-up applet ...5502; "
               "other applets\n"
               "get 6A82) through vpcd until the reader has given its verdict for \\fIN\\fR "
               "transactions. Keys\n"
               "whose validity ended are not offered. Exit status 0 when the last verdict is "
               "\"unlocked\"\n"
               "(0101), 1 for any other verdict, 2 when there was none.",
    },
    {
        .name = "wallet present",
        .synopsis = "tessera wallet present --wallet D (--qr --tcp HOST:PORT | --tcp HOST:PORT | "
                    "--nfc) [--policy FILE] [--pin-fd N] [--reader-trust ROOTS.pem] [--qr-png "
                    "FILE] [--uri-out FILE] [--timeout SEC] [--vpcd HOST:PORT]",
        .description =
            "The phone at the front desk (ISO/IEC 18013-5 proximity presentation). A fresh\n"
            "ephemeral key and device engagement are made for the session, then:\n"
            "  --qr --tcp H:P   the engagement is shown as a QR code in the terminal (and its\n"
            "                   \"mdoc:\" text); the data goes over TCP on H:P, which the reader\n"
            "                   is told out of band (printed; port 0 picks one)\n"
            "  --tcp H:P        the same without drawing the QR code\n"
            "  --nfc            the phone plays an NFC card through vsmartcard's vpcd (pcscd):\n"
            "                   the reader reads the Handover Select, then exchanges the session\n"
            "                   messages with ENVELOPE / GET RESPONSE\n"
            "The reader's request is decrypted and its reader authentication checked against\n"
            "the trusted reader authorities; then the holder is asked: the reader's verified name\n"
            "and authority (or a WARNING that it is not authenticated, and why), the purpose, "
            "each\n"
            "requested element (\"will be kept\" when the reader says so, \"OUTSIDE THE READER'S\n"
            "PERMITTED SCOPE\" when its certificate does not grant it). The holder shares all,\n"
            "some (by number) or none; each out-of-scope element needs its own 'yes'; then the\n"
            "PIN. Nothing is released before that. The answer is signed in the secure element\n"
            "and the wallet's log records the transaction.",
        OPTS(OPTS_WALLET_PRESENT),
        .epilogue =
            "exit status: 0 answered (what was disclosed is printed); 1 declined or the session\n"
            "             failed on the reader's input; 2 usage error, no terminal and no policy,\n"
            "             I/O error or timeout\n"
            "\n"
            "example:\n"
            "  tessera wallet present --wallet phone --qr --tcp 127.0.0.1:47001",
        .man =
            "The phone at a front desk: one ISO/IEC 18013\\-5 proximity presentation. A fresh "
            "ephemeral\n"
            "key (EDeviceKey) and device engagement are made for the session. With \\fB\\-\\-qr "
            "\\-\\-tcp\\fR\n"
            "\\fIHOST:PORT\\fR the engagement is drawn as a QR code in the terminal (libqrencode, "
            "two\n"
            "modules per character with half blocks, quiet zone of 4 modules; "
            "\\fB\\-\\-qr\\-png\\fR also writes\n"
            "it as a PNG) and printed as its \"mdoc:\" URI; the data channel is TCP on "
            "\\fIHOST:PORT\\fR, which\n"
            "is printed for the reader (in development the address is agreed out of band; port 0 "
            "picks\n"
            "one). \\fB\\-\\-uri\\-out\\fR writes the URI to a file once the phone listens, for "
            "scripts.\n"
            "\\fB\\-\\-tcp\\fR alone does the same without drawing the code. With "
            "\\fB\\-\\-nfc\\fR the phone plays an\n"
            "NFC card through vsmartcard's vpcd (\\fB\\-\\-vpcd\\fR, default 127.0.0.1:35963): the "
            "reader reads\n"
            "the NDEF Handover Select carrying the engagement, then the session runs over ENVELOPE "
            "and GET\n"
            "RESPONSE.\n"
            ".IP\n"
            "The request's reader authentication is verified against the trusted reader "
            "authorities\n"
            "(\\fB\\-\\-reader\\-trust\\fR, else those set with \\fBwallet trust\\-reader\\fR; "
            "none: every reader\n"
            "is shown as not authenticated). Then the holder decides: without \\fB\\-\\-policy\\fR "
            "on the\n"
            "terminal, which shows the reader's verified name and its authority (or a WARNING that "
            "it could\n"
            "not be authenticated, and why), the purpose from its certificate, and each requested "
            "element,\n"
            "marked \"will be kept\" when the reader announces it keeps it and \"OUTSIDE THE "
            "READER'S\n"
            "PERMITTED SCOPE\" when its certificate does not grant it. The holder shares all, some "
            "(by\n"
            "number) or none; each out-of-scope element is released only after its own explicit "
            "\"yes\".\n"
            "Then the PIN is asked without echo (or read from \\fB\\-\\-pin\\-fd\\fR) when the key "
            "needs it.\n"
            "With \\fB\\-\\-policy\\fR \\fIFILE\\fR the decision comes from rules:\n"
            ".PP\n"
            ".nf\n"
            ".RS\n"
            "{\"readers\": [{\"name\": \"Hotel Utopia\" | \"*\", \"authenticated\": true,\n"
            "              \"allow\": [\"ns/elem\", ...] | \"*\", \"deny\": [\"ns/elem\", ...],\n"
            "              \"override_scope\": false}],\n"
            " \"unauthenticated\": \"decline\" | \"ask\\-nothing\", \"pin\": \"123456\"}\n"
            ".RE\n"
            ".fi\n"
            ".IP\n"
            "The first rule whose name matches decides; no rule declines. The PIN comes from\n"
            "\\fB\\-\\-pin\\-fd\\fR, else the policy's \"pin\", else the terminal. Nothing is "
            "released before the\n"
            "decision; the response is authenticated with the secure\\-element key, a single\\-use "
            "copy is\n"
            "spent, and the wallet's log records the transaction. What was disclosed is printed. "
            "Exit 0\n"
            "when a response was sent, 1 when the holder (or policy) declined or the session "
            "failed on the\n"
            "reader's input, 2 on usage errors, no terminal and no policy, I/O errors and "
            "timeouts\n"
            "(\\fB\\-\\-timeout\\fR, default 120 s).",
    },
    {
        .name = "wallet authorize",
        .synopsis = "tessera wallet authorize --wallet D [--policy FILE] [--pin-file F] "
                    "[--allow-loopback-http] [--timeout SEC] URL",
        .description =
            "Logs in to a website with the wallet (OpenID4VP 1.0, HAIP; docs/WALLET.md). URL is\n"
            "the site's authorization request: 'openid4vp://?client_id=...&request_uri=...' from\n"
            "its QR code, or the same query on an https link (same device). The request object\n"
            "is fetched from request_uri and verified: signed by the site's access certificate,\n"
            "which must chain to a reader authority the wallet trusts ('wallet trust-reader')\n"
            "and match client_id; the answer goes only to the certificate's host. The query is\n"
            "matched against the wallet's credentials and must stay within the certificate's\n"
            "scope. The holder sees who asks (verified name, DNS name, purpose) and what (the\n"
            "elements, and a pseudonym for this site) and agrees to all or nothing; then the\n"
            "PIN. The answer is signed in the secure element, encrypted to the site and posted;\n"
            "a refusal (declined, no matching credential, beyond the scope) is posted as an\n"
            "OpenID4VP error. The wallet's log records the login.",
        OPTS(OPTS_WALLET_AUTHORIZE),
        .epilogue =
            "output (stdout): the request ('site:', 'purpose:', 'asks for:'), then on success\n"
            "  disclosed: NS/ELEMENT, ...\n"
            "  pseudonym: <43 base64url characters>     (when asked)\n"
            "  redirect:  <the verifier's redirect_uri>  (same-device flow)\n"
            "  logged in at NAME (DNS)\n"
            "exit status: 0 logged in; 1 refused (the reason on stderr, and what the site was\n"
            "             told), the site's request failed a check, or the site refused the\n"
            "             answer; 2 usage, I/O, network or timeout\n"
            "\n"
            "example:\n"
            "  tessera wallet authorize --wallet phone --policy allow.json --pin-file pin \\\n"
            "    'openid4vp://?client_id=x509_san_dns%3Ashop.example&request_uri=https%3A...'",
        .man = "Logs in to a website with the wallet: the wallet side of OpenID4VP 1.0 under "
               "HAIP, for\n"
               "mso_mdoc. \\fIURL\\fR is the site's authorization request "
               "(\\fBopenid4vp://?client_id=\\fR...\\fB&request_uri=\\fR...,\n"
               "or the same query on an https link); a request object given by value is "
               "refused. The\n"
               "request object is fetched from request_uri (application/oauth\\-authz\\-req+jwt, "
               "bounded in\n"
               "size and time) and verified against the reader authorities of \\fBwallet "
               "trust\\-reader\\fR; its\n"
               "client_id must name the certificate, and the response goes only to the "
               "certificate's DNS\n"
               "name. The DCQL query is matched against the wallet's credentials; elements "
               "outside the\n"
               "certificate's scope are refused. The holder is shown who asks and what, "
               "including a\n"
               "pseudonym for this site (computed in the secure element from the site's "
               "certificate key),\n"
               "and agrees to all or nothing (\\fB\\-\\-policy\\fR decides instead); then the PIN "
               "(\\fB\\-\\-pin\\-file\\fR,\n"
               "the policy's, or the terminal). Prints what was disclosed, the pseudonym and the "
               "site's\n"
               "redirect. Exit 0 logged in, 1 refused or failed a check, 2 usage, I/O, network "
               "errors.",
    },
    {
        .name = "wallet trust-reader",
        .synopsis = "tessera wallet trust-reader --wallet D [--root READER_CA.pem ...]",
        .description =
            "Adds reader authority roots (made by 'tessera reader-ca init') to those the wallet\n"
            "trusts, kept in D/reader_roots.pem, and lists them. 'wallet present' shows a reader\n"
            "as verified only when its certificate chains to one of them.",
        OPTS(OPTS_WALLET_TRUST_READER),
        .epilogue =
            "exit status: 0 done; 1 a certificate is not a root; 2 usage error or I/O error\n"
            "\n"
            "example:\n"
            "  tessera wallet trust-reader --wallet phone --root police/reader_ca.pem",
        .man = "Adds the root certificates of \\fB\\-\\-root\\fR files (reader authorities made by "
               "\\fBreader\\-ca\n"
               "init\\fR) to \\fID\\fR/reader_roots.pem, skipping those already there, and lists "
               "the trusted\n"
               "reader authorities. A certificate that is not a root (CA, keyCertSign, SKI) is "
               "refused (exit 1).",
    },
    {
        .name = "reader-ca",
        .summary = "the authority that licenses readers, and reader certificates",
        .description =
            "The authority that licenses mdoc readers (for example the police bureau that\n"
            "authorises hotels to register guests) and the reader certificates it issues.\n"
            "\n"
            "  init    creates D (mode 0700) with\n"
            "            reader_ca.pem      root certificate CN=NAME, C=CC: CA, pathLen 0,\n"
            "                               keyCertSign+cRLSign, SKI; valid 10 years\n"
            "            reader_ca_key.pem  its private key (P-256, PKCS#8, mode 0600)\n"
            "  issue   creates DIR (mode 0700) with\n"
            "            reader.pem         reader certificate CN=READER, signed by D's root: EKU\n"
            "                               1.0.18013.5.1.6 (mdoc reader authentication),\n"
            "                               keyUsage digitalSignature, AKI, not a CA, and the\n"
            "                               granted scope (extension 1.3.6.1.4.1.59999.2.1:\n"
            "                               purpose and the elements the reader may ask for)\n"
            "            reader_key.pem     its private key (P-256, PKCS#8, mode 0600)",
        .epilogue =
            "See 'tessera help reader-ca SUBCOMMAND'.\n"
            "exit status: 0 created; 1 creating a key or certificate failed; 2 usage error, files\n"
            "             already there, not a reader authority, or I/O error\n"
            "\n"
            "example:\n"
            "  tessera reader-ca init --dir police --name \"Utopia Police Bureau\"\n"
            "  tessera reader-ca issue --dir police --name \"Hotel Utopia\" --out hotel \\\n"
            "      --purpose \"hotel registration\" --scope "
            "eu.europa.ec.eudi.pid.1/family_name,\\\n"
            "  eu.europa.ec.eudi.pid.1/given_name,eu.europa.ec.eudi.pid.1/portrait",
    },
    {
        .name = "reader-ca init",
        .synopsis = "tessera reader-ca init --dir D --name NAME [--country CC] [--force]",
        .description =
            "Creates the authority that licenses mdoc readers (for example the police bureau\n"
            "that authorises hotels to register guests): the directory D (mode 0700) with\n"
            "  reader_ca.pem      root certificate CN=NAME, C=CC: CA, pathLen 0,\n"
            "                     keyCertSign+cRLSign, SKI; valid 10 years\n"
            "  reader_ca_key.pem  its private key (P-256, PKCS#8, mode 0600)",
        OPTS(OPTS_READER_CA_INIT),
        .epilogue =
            "exit status: 0 created; 1 creating a key or certificate failed; 2 usage error, files\n"
            "             already there, or I/O error\n"
            "\n"
            "example:\n"
            "  tessera reader-ca init --dir police --name \"Utopia Police Bureau\"",
        .man = "Creates the authority that licenses mdoc readers (for example \"Utopia Police "
               "Bureau\", which\n"
               "authorises hotels to register guests): the directory \\fID\\fR (mode 0700) with\n"
               "\\fBreader_ca.pem\\fR, a self\\-signed root CN=\\fINAME\\fR, C=\\fICC\\fR (default "
               "UT), CA with\n"
               "pathLen 0, keyCertSign and cRLSign, SKI, valid 10 years from one hour ago, and\n"
               "\\fBreader_ca_key.pem\\fR, its P\\-256 key (PKCS#8, mode 0600). Refuses to "
               "overwrite without\n"
               "\\fB\\-\\-force\\fR.",
    },
    {
        .name = "reader-ca issue",
        .synopsis = "tessera reader-ca issue --dir D --name READER --scope NS/ELEM,... --out DIR "
                    "[--purpose TEXT] [--valid-days N | --valid-from T --valid-until T] [--country "
                    "CC] [--dns NAME] [--force]",
        .description =
            "Issues a reader certificate with the root of the reader authority D: the directory\n"
            "DIR (mode 0700) with\n"
            "  reader.pem      reader certificate CN=READER, signed by D's root: EKU\n"
            "                  1.0.18013.5.1.6 (mdoc reader authentication), keyUsage\n"
            "                  digitalSignature, AKI, not a CA, and the granted scope (extension\n"
            "                  1.3.6.1.4.1.59999.2.1: purpose and the elements the reader may ask "
            "for)\n"
            "  reader_key.pem  its private key (P-256, PKCS#8, mode 0600)",
        OPTS(OPTS_READER_CA_ISSUE),
        .epilogue =
            "exit status: 0 created; 1 creating a key or certificate failed; 2 usage error, files\n"
            "             already there, not a reader authority, or I/O error\n"
            "\n"
            "example:\n"
            "  tessera reader-ca issue --dir police --name \"Hotel Utopia\" --out hotel \\\n"
            "      --purpose \"hotel registration\" --scope "
            "eu.europa.ec.eudi.pid.1/family_name,\\\n"
            "  eu.europa.ec.eudi.pid.1/given_name,eu.europa.ec.eudi.pid.1/portrait",
        .man = "Licenses a reader: a new P\\-256 key and a certificate CN=\\fIREADER\\fR signed by "
               "\\fID\\fR's root\n"
               "with the ISO/IEC 18013\\-5 reader profile (EKU 1.0.18013.5.1.6, keyUsage "
               "digitalSignature\n"
               "(critical), AKI from the root's SKI, not a CA) and the granted scope in the "
               "non\\-critical\n"
               "extension 1.3.6.1.4.1.59999.2.1: CBOR {\"purpose\": \\fITEXT\\fR, \"elements\": "
               "[\\fIns/elem\\fR,\n"
               "\\&...]} from \\fB\\-\\-purpose\\fR and \\fB\\-\\-scope\\fR (NS/age_over_NN grants "
               "every age_over_NN).\n"
               "Writes \\fIDIR\\fR/\\fBreader.pem\\fR and \\fIDIR\\fR/\\fBreader_key.pem\\fR (mode "
               "0600). Valid from one\n"
               "hour ago for \\fB\\-\\-valid\\-days\\fR (default 365), or "
               "\\fB\\-\\-valid\\-from\\fR/\\fB\\-\\-valid\\-until\\fR\n"
               "(RFC 3339). The country defaults to the root's.",
    },
    {
        .name = "rp",
        .summary = "a website's OpenID4VP verifier service (online login with the eID)",
        .description =
            "A relying party's verifier service (OpenID4VP 1.0 under HAIP 1.0, docs/RP.md): a\n"
            "website licensed with an access certificate ('reader-ca issue --dns NAME') asks\n"
            "wallets for claims (DCQL), signs its request objects, decrypts and verifies the\n"
            "answers, and serves a demo login page.\n"
            "\n"
            "  init    creates the site directory D\n"
            "  serve   runs the service",
        .epilogue = "See 'tessera help rp SUBCOMMAND'.",
    },
    {
        .name = "rp init",
        .synopsis = "tessera rp init --dir D --cert PEM --key-file PEM --public-url URL "
                    "[--chain PEM] [--client-id-prefix x509_san_dns|x509_hash] [--name NAME]",
        .description =
            "Creates the site directory D (mode 0700): site.pem (the access certificate and its\n"
            "chain), site_key.pem (its key, 0600), api_key (a new random Bearer key for the\n"
            "site's backend, 0600), site.json (public URL, client_id prefix, name) and\n"
            "site_dcql.json (the login page's DCQL query: the PID's age_over_18 and the\n"
            "per-site pseudonym). With x509_san_dns the public URL's host must be the\n"
            "certificate's DNS name.",
        OPTS(OPTS_RP_INIT),
        .epilogue =
            "exit status: 0 created; 1 the key is not the certificate's; 2 usage error, D\n"
            "             already holds a site, or I/O error\n"
            "\n"
            "example:\n"
            "  tessera reader-ca issue --dir rpca --name \"Shop\" --purpose \"age check\" \\\n"
            "      --scope eu.europa.ec.eudi.pid.1/age_over_18 --dns localhost --out shopcert\n"
            "  tessera rp init --dir shop --cert shopcert/reader.pem \\\n"
            "      --key-file shopcert/reader_key.pem --public-url http://localhost:8090",
        .man = "Creates the site directory \\fID\\fR of a relying party: its access "
               "certificate and chain\n"
               "(\\fBsite.pem\\fR), its key (\\fBsite_key.pem\\fR, mode 0600), the backend's "
               "Bearer key\n"
               "(\\fBapi_key\\fR, mode 0600), its settings (\\fBsite.json\\fR) and the login "
               "page's DCQL query\n"
               "(\\fBsite_dcql.json\\fR). See docs/RP.md.",
    },
    {
        .name = "rp serve",
        .synopsis = "tessera rp serve --dir D --trust FILES [--listen HOST:PORT] [--public-url URL] "
                    "[--db URL] [--status off|online|cached] [--status-cache DIR] "
                    "[--status-max-age SEC] [--accept-undetermined] [--tx-lifetime SEC] "
                    "[--port-file FILE]",
        .description =
            "Runs the site's OpenID4VP verifier until SIGINT or SIGTERM: GET\n"
            "/oid4vp/request/TX (the signed request object), POST /oid4vp/response/TX\n"
            "(direct_post.jwt), the backend API /api/v1/transactions (Bearer key D/api_key),\n"
            "and the demo login page / with /site/login, /site/status, /site/me,\n"
            "/site/logout, /site/callback. Transactions are kept in D/rp.db or --db.",
        OPTS(OPTS_RP_SERVE),
        .epilogue =
            "exit status: 0 stopped by a signal; 2 usage error, not a site directory, cannot\n"
            "             listen, or the database cannot be opened\n"
            "\n"
            "example:\n"
            "  tessera rp serve --dir shop --listen 127.0.0.1:8090 --trust auth/iaca.pem",
        .man = "Runs the relying party's OpenID4VP 1.0 verifier service for the site "
               "directory \\fID\\fR until\n"
               "SIGINT or SIGTERM. Its HTTP interface is described in docs/RP.md.",
    },
    {
        .name = "hotel",
        .summary = "door keys: issue room keys to guests' phones, revoke them",
        .description =
            "The hotel's side of door keys (docs/KEYS.md): the key that signs access and\n"
            "revocation documents, and the reader group key its locks use.\n"
            "\n"
            "  init         creates the hotel directory\n"
            "  issue-key    issues a room key for a phone's key request\n"
            "  revoke       revokes a key, or every key of a lost phone\n"
            "  revocation   writes the newest revocation document",
        .epilogue = "See 'tessera help hotel SUBCOMMAND'.",
    },
    {
        .name = "hotel init",
        .synopsis = "tessera hotel init --dir D --name NAME",
        .description =
            "Creates the hotel directory D (mode 0700): hotel.json (name, reader group id),\n"
            "issuer_key.pem (signs the documents) and reader_key.pem (the locks' group key),\n"
            "both 0600.",
        OPTS(OPTS_HOTEL_INIT),
        .epilogue = "exit status: 0 created; 2 usage error, D holds a hotel already, or I/O error\n"
                    "\n"
                    "example:\n"
                    "  tessera hotel init --dir hotel --name \"Hotel Zur Post\"",
        .man = "Creates the hotel directory \\fID\\fR: its document signing key, its "
               "locks' reader group\n"
               "key and its settings. See docs/KEYS.md.",
    },
    {
        .name = "hotel issue-key",
        .synopsis = "tessera hotel issue-key --hotel D --request FILE --room ROOM [--room ROOM...] "
                    "--from TIME --until TIME [--daily HH:MM-HH:MM] [--guest NAME] --out FILE",
        .description =
            "Issues a room key for the phone that made the key request: an access document\n"
            "bound to the phone's endpoint key (which never leaves its secure element), for\n"
            "the rooms and the stay given, signed by the hotel. The key package written to\n"
            "--out goes to the phone ('tessera wallet key-add'); the hotel records the key in\n"
            "D/issued.jsonl.",
        OPTS(OPTS_HOTEL_ISSUE_KEY),
        .epilogue = "exit status: 0 issued; 1 the request is malformed; 2 usage or I/O error\n"
                    "\n"
                    "example:\n"
                    "  tessera hotel issue-key --hotel hotel --request guest.req --room 101 \\\n"
                    "      --from 2026-12-08T14:00:00Z --until 2026-12-10T11:00:00Z --out guest.key",
        .man = "Issues a room key for a phone's key request: the access document and the "
               "key package\n"
               "the wallet adds. See docs/KEYS.md.",
    },
    {
        .name = "hotel revoke",
        .synopsis = "tessera hotel revoke --hotel D (--key-id ID | --phone REQUEST) [--out FILE]",
        .description =
            "Revokes one key (given back early) or every key issued to a phone (reported\n"
            "lost): a new revocation document listing every key revoked so far, kept in\n"
            "D/revocation.cbor. Offline locks learn it from any phone that carries it (each\n"
            "new key package includes it; 'tessera wallet key-add' takes it alone too) or from\n"
            "maintenance ('tessera lock revocation').",
        OPTS(OPTS_HOTEL_REVOKE),
        .epilogue = "exit status: 0 revoked; 1 no such key was issued; 2 usage or I/O error",
        .man = "Revokes a key or every key of a lost phone with a new revocation document.",
    },
    {
        .name = "hotel revocation",
        .synopsis = "tessera hotel revocation --hotel D --out FILE",
        .description = "Writes the hotel's newest revocation document to FILE.",
        OPTS(OPTS_HOTEL_REVOCATION),
        .epilogue = "exit status: 0 written; 1 nothing was revoked yet; 2 usage or I/O error",
        .man = "Writes the newest revocation document.",
    },
    {
        .name = "lock",
        .summary = "door keys: a door lock that opens for the phones the hotel keyed",
        .description =
            "A door lock (docs/KEYS.md): it speaks the Aliro NFC transaction with phones\n"
            "(the fast path for phones it knows, the full path with the access document for\n"
            "the others), works offline, and learns revocations from the phones.\n"
            "\n"
            "  init         creates a lock directory for one door of a hotel\n"
            "  serve        runs the door on a PC/SC reader\n"
            "  log          prints the lock's log of taps\n"
            "  revocation   applies a revocation document (maintenance)",
        .epilogue = "See 'tessera help lock SUBCOMMAND'.",
    },
    {
        .name = "lock init",
        .synopsis = "tessera lock init --dir LOCK_DIR --hotel D --room ROOM [--instance-id HEX] "
                    "[--max-endpoints N] [--standard-per-minute N]",
        .description =
            "Creates a lock directory (mode 0700) for the door of ROOM: lock.json (the\n"
            "hotel's reader group and document key, the room, the limits), reader_key.pem\n"
            "(the group key, 0600) and lock.db (its crash-safe store).",
        OPTS(OPTS_LOCK_INIT),
        .epilogue = "exit status: 0 created; 2 usage error, LOCK_DIR holds a lock already, or I/O "
                    "error\n"
                    "\n"
                    "example:\n"
                    "  tessera lock init --dir door101 --hotel hotel --room 101",
        .man = "Creates the lock directory of one door. See docs/KEYS.md.",
    },
    {
        .name = "lock serve",
        .synopsis = "tessera lock serve --config LOCK_DIR [--nfc] [--reader NAME] [--count N] "
                    "[--timeout SEC]",
        .description =
            "Runs the door: waits for a phone on the PC/SC reader, runs one transaction per\n"
            "presentation and prints its outcome as one JSON line: {\"result\":\n"
            "\"unlocked\"|\"refused\", \"room\", \"flow\": \"fast\"|\"standard\"|\"step-up\",\n"
            "\"reason\", \"key_id\", \"learned_revocation\", \"ms\", \"detail\"}. Every tap is in\n"
            "the lock's log ('tessera lock log').",
        OPTS(OPTS_LOCK_SERVE),
        .epilogue = "exit status: 0 stopped by a signal, or every one of --count taps opened; 1 a\n"
                    "             tap was refused; 2 usage error, not a lock, no pcscd or reader\n"
                    "\n"
                    "example:\n"
                    "  tessera lock serve --config door101 --nfc",
        .man = "Runs a door lock on a PC/SC reader; one JSON line per tap.",
    },
    {
        .name = "lock log",
        .synopsis = "tessera lock log --config LOCK_DIR [--last N]",
        .description = "Prints the lock's last taps, one JSON object a line (oldest first):\n"
                       "at, outcome, flow, reason, key_id, detail.",
        OPTS(OPTS_LOCK_LOG),
        .epilogue = "exit status: 0 printed; 2 usage error or not a lock",
        .man = "Prints the lock's log.",
    },
    {
        .name = "lock revocation",
        .synopsis = "tessera lock revocation --config LOCK_DIR FILE",
        .description =
            "Applies a revocation document brought by maintenance (a staff member's device,\n"
            "a service cable); phones bring them too, during their taps.",
        OPTS(OPTS_LOCK_REVOCATION),
        .epilogue = "exit status: 0 applied; 1 refused (not the hotel's, another group, older than\n"
                    "             the lock's); 2 usage error or not a lock",
        .man = "Applies a revocation document to a lock.",
    },
    {
        .name = "reader",
        .summary = "front desk: check a guest in from the phone (QR or NFC)",
        .help_as = "reader checkin",
    },
    {
        .name = "reader checkin",
        .synopsis = "tessera reader checkin --reader DIR --trust ROOTS.pem[,ROOTS2.pem] (--qr URI "
                    "--tcp HOST:PORT | --qr-png FILE --tcp HOST:PORT | --nfc [--pcsc-reader NAME]) "
                    "[--elements NS/ELEM,...] [--retain NS/ELEM,...|all] [--doctype T] [--json] "
                    "[--portrait-out FILE] [--timeout SEC] [--status cached|online|off] "
                    "[--status-cache DIR] [--status-max-age SEC] [--status-max-ttl SEC]",
        .description =
            "The front desk's side of an offline check-in (ISO/IEC 18013-5 proximity\n"
            "presentation): takes the phone's device engagement, opens an encrypted session,\n"
            "asks for the elements with reader authentication (DIR/reader.pem and\n"
            "DIR/reader_key.pem from 'tessera reader-ca issue'), and verifies the answer with\n"
            "the issuing authorities' roots at the current time, with no network. The verdict\n"
            "is printed as by 'tessera verify' (--json: the same JSON). Nothing is stored; the\n"
            "portrait is written only to --portrait-out.",
        OPTS(OPTS_READER_CHECKIN),
        .epilogue =
            "exit status: 0 valid (also with an undetermined status); 1 invalid, revoked or\n"
            "             suspended, declined by the holder (session_ended) or the phone's\n"
            "             engagement is malformed; 2 usage error, unreadable input, no connection\n"
            "             or timeout\n"
            "\n"
            "example:\n"
            "  tessera reader checkin --reader hotel --trust ministry/iaca.pem \\\n"
            "      --qr \"$(cat uri.txt)\" --tcp 127.0.0.1:47001 --portrait-out guest.png",
        .man =
            "The front desk's side. The engagement comes from \\fB\\-\\-qr\\fR \\fIURI\\fR (the QR "
            "code's text) or\n"
            "\\fB\\-\\-qr\\-png\\fR \\fIFILE\\fR (an image of it, decoded with zbar), with the "
            "phone's data channel\n"
            "\\fB\\-\\-tcp\\fR \\fIHOST:PORT\\fR, or from an NFC tap (\\fB\\-\\-nfc\\fR): the "
            "reader is a PC/SC client of\n"
            "pcscd and reads the Handover Select from the first reader with a card (or the first "
            "whose name\n"
            "contains \\fB\\-\\-pcsc\\-reader\\fR). It makes a fresh EReaderKey, sends the "
            "DeviceRequest for\n"
            "\\fB\\-\\-elements\\fR (default the hotel set of the PID: family_name, given_name,\n"
            "document_number, portrait, nationality, age_over_18; \\fB\\-\\-doctype\\fR default\n"
            "eu.europa.ec.eudi.pid.1; \\fB\\-\\-retain\\fR names those announced as kept) with "
            "readerAuth by\n"
            "\\fIDIR\\fR/reader_key.pem and the chain in \\fIDIR\\fR/reader.pem, and verifies the "
            "decrypted\n"
            "DeviceResponse with the roots of \\fB\\-\\-trust\\fR at the current time. The verdict "
            "is printed as\n"
            "by \\fBverify\\fR, with \\fB\\-\\-json\\fR in the same JSON shape. The reader keeps "
            "nothing: the\n"
            "portrait is written only to \\fB\\-\\-portrait\\-out\\fR. Exit 0 when valid; 1 when "
            "invalid, when\n"
            "the holder declined (error code session_ended: the phone ended the session) or the "
            "engagement\n"
            "is malformed; 2 on usage errors, unreadable files, no connection, no PC/SC reader or "
            "card, and\n"
            "timeouts (\\fB\\-\\-timeout\\fR, default 30 s).\n"
            ".PP\n"
            "The status of the eID is checked as by \\fBverify\\fR, with \\fB\\-\\-status\\fR "
            "defaulting to\n"
            "\\fBcached\\fR (the front desk may have no network: a list fetched within\n"
            "\\fB\\-\\-status\\-max\\-age\\fR, default 24 h, is used; "
            "\\fB\\-\\-status\\-max\\-ttl\\fR as for\n"
            "\\fBverify\\fR) and the cache in \\fIDIR\\fR/status\\-cache by default; "
            "\\fB\\-\\-status online\\fR\n"
            "refreshes the lists (a hotel reader that is online now and\n"
            "then). A revoked or suspended eID is rejected (exit status 1, no portrait written); "
            "an\n"
            "undetermined status is a warning.",
    },
    {
        .name = "vendor",
        .summary = "create a secure-element vendor root (for key attestation)",
        .help_as = "vendor init",
    },
    {
        .name = "vendor init",
        .synopsis = "tessera vendor init --dir V [--name NAME] [--force]",
        .description =
            "Creates a secure-element vendor root, standing in for a chip maker's: the directory "
            "V\n"
            "(mode 0700) with\n"
            "  vendor.pem      the self-signed root certificate; issuers check key attestations\n"
            "                  against it\n"
            "  vendor_key.pem  its private key (mode 0600); 'tessera wallet init --vendor V' uses "
            "it\n"
            "                  to certify a software secure element's attestation key",
        OPTS(OPTS_VENDOR_INIT),
        .epilogue = "exit status: 0 created; 2 usage error, V already holds a root, or I/O error\n"
                    "\n"
                    "example:\n"
                    "  tessera vendor init --dir vendor --name \"Utopia Chip Works\"",
        .man = "Creates a secure-element vendor root, standing in for a chip maker's, in the "
               "directory\n"
               "\\fIV\\fR (mode 0700): \\fBvendor.pem\\fR, the self-signed root certificate that "
               "issuers check key\n"
               "attestations against, and \\fBvendor_key.pem\\fR, its private key (mode 0600), "
               "used by\n"
               "\\fBwallet init \\-\\-vendor\\fR. \\fB\\-\\-name\\fR names the root (default "
               "\"Tessera Test SE\n"
               "Vendor\"); \\fB\\-\\-force\\fR replaces a root already in \\fIV\\fR.",
    },
    {
        .name = "help",
        .summary = "show help for a command",
        .synopsis =
            "tessera help [COMMAND [SUBCOMMAND]] | tessera COMMAND --help | tessera --version",
    },
};

const size_t cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);

/* ---- the man page's sections around the commands (roff) ---- */

static const char MAN_NAME[] =
    "tessera \\- issue, hold, present, verify and inspect ISO/IEC 18013-5 mdoc credentials\n";

static const char MAN_DESCRIPTION[] =
    ".B tessera\n"
    "plays every role of an ISO/IEC 18013-5 mobile document (mdoc) exchange from the shell: an\n"
    "issuing authority creates its keys and certificates and issues credentials, a holder keeps "
    "them\n"
    "in a wallet whose keys live in a secure element and presents selected elements of a "
    "credential,\n"
    "and a reader verifies what it received, offline.\n"
    "The tool only parses arguments, reads and writes files and prints; all protocol work is done "
    "by\n"
    ".BR libtessera .\n"
    ".PP\n"
    "Keys are read as PEM (PKCS#8 \"PRIVATE KEY\", SEC1 \"EC PRIVATE KEY\" or \"PUBLIC KEY\") or "
    "DER.\n"
    "Certificates are PEM or DER. CBOR inputs (credentials, requests, responses, transcripts) may\n"
    "be binary or hex text. Every input file is limited to 64 MiB. Outputs are written atomically\n"
    "(a temporary file with an unpredictable name, created exclusively in the target's directory,\n"
    "flushed, then renamed over the target, and the directory flushed); private keys and personal\n"
    "data (credentials from \\fBissue \\-\\-out\\fR, responses from \\fBpresent \\-\\-out\\fR, QR "
    "code PNGs,\n"
    "which may carry a pre-authorized code) with mode 0600, everything else 0644. An output that\n"
    "is an existing device or FIFO (\\fB/dev/null\\fR, \\fB/dev/stdout\\fR) is written in place, "
    "never\n"
    "replaced; \"\\-\" is standard output. A directory that \\fBauthority init\\fR, \\fBwallet "
    "init\\fR,\n"
    "\\fBreader\\-ca init\\fR or \\fBvendor init\\fR is to fill with secrets is created with mode "
    "0700; an\n"
    "existing one must belong to the user and be writable by nobody else (exit status 2 "
    "otherwise).\n"
    "Private key material read from files is wiped from memory after use.\n";

static const char MAN_EXIT_STATUS[] =
    ".TP\n"
    ".B 0\n"
    "success; for \\fBverify\\fR and \\fBreader checkin\\fR: the response is valid (also when its\n"
    "status is undetermined); for \\fBauthority serve\\fR: stopped by SIGINT or SIGTERM.\n"
    ".TP\n"
    ".B 1\n"
    "the operation failed on its input: \\fBverify\\fR: the response is invalid (malformed, or a "
    "check\n"
    "failed, or a document is revoked or suspended);\n"
    "\\fBwallet enrol\\fR: the issuer refused (invalid_grant, invalid_proof, ...);\n"
    "\\fBauthority revoke\\fR/\\fBsuspend\\fR/\\fBreinstate\\fR: no such credential or person, no\n"
    "credential on the device, or a revoked credential cannot be reinstated;\n"
    "\\fBwallet report\\-lost\\fR: wrong recovery code, rate limited, or nothing of the citizen's "
    "on\n"
    "the device; \\fBwallet device\\-id\\fR: no attestation (PKCS#11); \\fBinspect\\fR: not "
    "well-formed CBOR; \\fBissue\\fR: the claims do not fit the doctype;\n"
    "\\fBpresent\\fR: the credential or request is malformed; with a wallet or secure element: a\n"
    "wrong PIN or PUK, a locked PIN, a blocked secure element, every single-use copy spent\n"
    "(key_used), no key matching a credential, a damaged or rolled-back secure-element state.\n"
    ".TP\n"
    ".B 2\n"
    "usage error, or an input could not be read or used: a missing file, an unreadable key or\n"
    "certificate, a bad \\fB\\-\\-at\\fR, an existing authority without \\fB\\-\\-force\\fR, an "
    "unknown\n"
    "doctype, a directory that is not a wallet, an unknown credential id, a PIN given twice\n"
    "differently or malformed, no terminal and no \\fB\\-\\-pin\\-fd\\fR, a missing PKCS#11 module "
    "or\n"
    "token; \\fBverify\\fR also returns 2 when it could not check the response at all (a\n"
    "MAC-authenticated response without \\fB\\-\\-reader\\-key\\fR).\n"
    ".PP\n"
    "Every failure is reported on standard error as \"tessera: \\fIwhat\\fR: \\fIreason\\fR\"; "
    "failures\n"
    "of the wallet and secure element end with the stable error code in brackets, e.g.\n"
    "\"[pin_wrong]\", followed by a line with the tries left.\n";

static const char MAN_ENVIRONMENT[] =
    ".TP\n"
    ".B TESSERA_HSM_PIN\n"
    "the PIN of the PKCS#11 token that holds the authority's document signer key\n"
    "(\\fBauthority init \\-\\-ds\\-hsm\\fR), for \\fBissue\\fR and \\fBauthority serve\\fR /\n"
    "\\fBtessera\\-issuerd\\fR when \\fB\\-\\-hsm\\-pin\\-fd\\fR is not given. Meant for services "
    "started by\n"
    "a supervisor; keep it out of shell history and world-readable unit files.\n"
    ".TP\n"
    ".B SOFTHSM2_CONF\n"
    "SoftHSM2's configuration (where its tokens live), read by the SoftHSM2 module itself.\n";

static const char MAN_FILES[] =
    "A wallet directory \\fID\\fR (mode 0700) holds:\n"
    ".TP\n"
    ".IB D /wallet.db\n"
    "the store (SQLite, WAL mode: also wallet.db-wal and wallet.db-shm): credentials with their\n"
    "copies (the mdoc bytes and the secure-element key id of each), the transaction log, and\n"
    "settings: \"se\", the secure element (soft:se, a directory relative to \\fID\\fR, or\n"
    "pkcs11:\\fIMODULE\\fR[:\\fILABEL\\fR]); \"credential.\\fIN\\fR.uv\" and\n"
    "\"credential.\\fIN\\fR.single_use\", the protections of credential \\fIN\\fR's keys.\n"
    ".TP\n"
    ".IB D /se/\n"
    "the software secure element: its sealed state, the device key that seals it (mode 0600), the\n"
    "anti-rollback counter and the attestation certificate; for a PKCS#11 wallet, Tessera's PIN "
    "and\n"
    "PUK retry counters and key flags for the token. No private key is ever stored in plain.\n"
    ".PP\n"
    "An authority directory holds iaca.pem, iaca_key.pem, ds.pem, ds_key.pem (or, with the key in\n"
    "a PKCS#11 token, ds_key.hsm and hsm\\-state/; see \\fBauthority init\\fR), registry.db (the "
    "registry: people enrolled, offers, issued\n"
    "credentials with their status-list indexes, the audit log; SQLite in WAL mode) and "
    "issuer_url\n"
    "(written by \\fBauthority serve\\fR); a reader directory may hold status\\-cache/ (the status "
    "lists\n"
    "\\fBreader checkin\\fR fetched); a vendor directory vendor.pem and vendor_key.pem; a reader "
    "authority\n"
    "reader_ca.pem and reader_ca_key.pem; a reader directory reader.pem and reader_key.pem. A\n"
    "wallet's trusted reader authorities are in \\fID\\fR/reader_roots.pem.\n";

static const char MAN_EXAMPLES[] =
    "A whole exchange, with a device key made by openssl:\n"
    ".PP\n"
    ".nf\n"
    ".RS\n"
    "tessera authority init \\-\\-dir ministry \\-\\-name \"Utopia Ministry of Interior\" "
    "\\-\\-country UT\n"
    "openssl ecparam \\-name prime256v1 \\-genkey \\-noout |\n"
    "    openssl pkcs8 \\-topk8 \\-nocrypt \\-out device_key.pem\n"
    "openssl pkey \\-in device_key.pem \\-pubout \\-out device_pub.pem\n"
    "tessera issue \\-\\-authority ministry \\-\\-doctype eu.europa.ec.eudi.pid.1 \\e\n"
    "    \\-\\-claims pid.json \\-\\-device\\-key device_pub.pem \\-\\-out pid.mdoc\n"
    "echo 83f6f6826474657374420102 | xxd \\-r \\-p > transcript.cbor\n"
    "tessera present \\-\\-mdoc pid.mdoc \\-\\-device\\-key device_key.pem \\e\n"
    "    \\-\\-elements family_name,given_name,portrait,age_over_18 \\e\n"
    "    \\-\\-transcript transcript.cbor \\-\\-out response.cbor\n"
    "tessera verify \\-\\-trust ministry/iaca.pem \\-\\-transcript transcript.cbor \\-\\-json "
    "response.cbor\n"
    ".RE\n"
    ".fi\n"
    ".PP\n"
    "where pid.json is, for example:\n"
    ".PP\n"
    ".nf\n"
    ".RS\n"
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\",\n"
    "  \"birth_date\": \"1984-01-26\", \"age_over_18\": true, \"issuing_authority\": \"Utopia\",\n"
    "  \"issuing_country\": \"UT\", \"expiry_date\": \"2031-12-31\",\n"
    "  \"portrait\": {\"file\": \"portrait.jpg\"}}}\n"
    ".RE\n"
    ".fi\n"
    ".PP\n"
    "The holder with a wallet on the software secure element, PINs from a script:\n"
    ".PP\n"
    ".nf\n"
    ".RS\n"
    "tessera vendor init \\-\\-dir vendor\n"
    "tessera wallet init \\-\\-dir phone \\-\\-vendor vendor\n"
    "tessera wallet pin set \\-\\-wallet phone \\-\\-pin\\-fd 3 \\e\n"
    "    3< <(printf '123456\\en123456\\en12345678\\en12345678\\en')\n"
    "id=$(tessera wallet keygen \\-\\-wallet phone \\-\\-uv \\-\\-attest \\-\\-challenge 0102 \\e\n"
    "    \\-\\-out dev.pem \\-\\-attestation\\-out dev.att)\n"
    "tessera issue \\-\\-authority ministry \\-\\-doctype eu.europa.ec.eudi.pid.1 \\e\n"
    "    \\-\\-claims pid.json \\-\\-wallet phone \\-\\-key \"$id\" \\-\\-out pid.mdoc\n"
    "cred=$(tessera wallet add \\-\\-wallet phone \\-\\-mdoc pid.mdoc \\-\\-name \"My eID\")\n"
    "tessera present \\-\\-wallet phone \\-\\-credential \"$cred\" \\-\\-pin\\-fd 3 \\e\n"
    "    \\-\\-elements family_name,age_over_18 \\-\\-transcript transcript.cbor \\e\n"
    "    \\-\\-out response.cbor 3< <(echo 123456)\n"
    "tessera wallet log \\-\\-wallet phone\n"
    ".RE\n"
    ".fi\n"
    ".PP\n"
    "A PKCS#11 wallet on a SoftHSM2 token:\n"
    ".PP\n"
    ".nf\n"
    ".RS\n"
    "softhsm2\\-util \\-\\-init\\-token \\-\\-free \\-\\-label t \\-\\-so\\-pin 12345678 \\-\\-pin "
    "123456\n"
    "tessera wallet init \\-\\-dir card \\-\\-se pkcs11:/usr/lib/softhsm/libsofthsm2.so:t\n"
    "tessera wallet pin set \\-\\-wallet card   # PIN = user PIN, PUK = SO PIN\n"
    ".RE\n"
    ".fi\n"
    ".PP\n"
    "Verifying the ISO/IEC 18013-5 Annex D example (device MAC) at a time when it was valid:\n"
    ".PP\n"
    ".nf\n"
    ".RS\n"
    "tessera verify \\-\\-trust iaca.pem \\-\\-transcript session_transcript_bytes.bin \\e\n"
    "    \\-\\-reader\\-key ereader.pem \\-\\-at 2021\\-01\\-01T00:00:00Z device_response.bin\n"
    ".RE\n"
    ".fi\n"
    ".PP\n"
    "The issuing authority's service, a wallet that obtains its eID over OpenID4VCI, and the lost\n"
    "phone:\n"
    ".PP\n"
    ".nf\n"
    ".RS\n"
    "tessera authority serve \\-\\-dir ministry \\-\\-listen 127.0.0.1:0 \\-\\-port\\-file port "
    "\\e\n"
    "    \\-\\-vendor\\-root chipmaker/vendor.pem \\-\\-require\\-uv &\n"
    "tessera authority enrol \\-\\-dir ministry \\-\\-claims pid.json   # offer, QR, codes, person "
    "id\n"
    "tessera wallet enrol \\-\\-wallet phone \\-\\-batch 3 \\-\\-offer\\-file offer.txt   # PIN, "
    "then the code\n"
    "tessera verify \\-\\-trust ministry/iaca.pem \\-\\-transcript st.cbor \\-\\-status online "
    "resp.cbor\n"
    "tessera wallet device\\-id \\-\\-wallet phone                   # note it with the recovery "
    "code\n"
    "tessera wallet report\\-lost \\-\\-issuer http://127.0.0.1:8080 \\e\n"
    "    \\-\\-device HEX                        # lost, from the laptop: asks for the code\n"
    "tessera authority suspend \\-\\-dir ministry \\-\\-device HEX     # or at the counter\n"
    "tessera authority reinstate \\-\\-dir ministry \\-\\-device HEX   # ... and found\n"
    ".RE\n"
    ".fi\n";

static const char MAN_SEE_ALSO[] =
    ".BR openssl (1),\n"
    ".BR softhsm2\\-util (1),\n"
    "docs/SECURE-ELEMENT.md (what a software secure element can and cannot promise),\n"
    "scripts/demo.sh (the whole story, run by \\fBmake demo\\fR).\n"
    "ISO/IEC 18013-5:2021; RFC 8949 (CBOR); RFC 9052 (COSE).\n";

static const char MAN_OPTIONS[] =
    "Every command takes\n"
    ".BR \\-\\-help \" (\" \\-h ),\n"
    "which prints its usage, options, exit status and examples; \\fBtessera help\\fR\n"
    "\\fICOMMAND\\fR [\\fISUBCOMMAND\\fR] does the same. The options of each command are listed\n"
    "with it under COMMANDS.\n"
    ".TP\n"
    ".BR \\-\\-help \", \" \\-h\n"
    "without a command: the list of commands.\n"
    ".TP\n"
    ".BR \\-\\-version \", \" \\-V\n"
    "prints \"tessera \\fIVERSION\\fR\" (\\fBtessera\\-issuerd \\-\\-version\\fR: "
    "\"tessera\\-issuerd\n"
    "\\fIVERSION\\fR\").\n"
    ".PP\n"
    "Options take their value as the next argument or after \"=\" (\\fB\\-\\-dir=\\fIDIR\\fR).\n"
    "Secrets (PINs, transaction codes, recovery codes) are never taken as option values, except\n"
    "where marked: they are asked on the terminal without echo or read from a file descriptor.\n";

void cli_man_page(FILE *f)
{
    fputs(
        ".\\\" tessera(1), the command-line tool of Tessera. View with: man ./docs/tessera.1\n"
        ".\\\" Generated by `tessera --man` from tools/tessera/commands.c: edit that table, then\n"
        ".\\\" run `cmake --build build --target man` (tests/cli/man.sh checks this file).\n",
        f);
    fprintf(f, ".TH TESSERA 1 \"2026\" \"Tessera %s\" \"User Commands\"\n", CLI_VERSION);
    fprintf(f, ".SH NAME\n%s.SH SYNOPSIS\n.nh\n.ad l\n", MAN_NAME);
    for (size_t i = 0; i < cli_n_commands; i++)
        if (cli_commands[i].synopsis)
            man_synopsis(f, &cli_commands[i]);
    fprintf(f, ".ad\n.hy\n.SH DESCRIPTION\n%s.SH COMMANDS\n", MAN_DESCRIPTION);
    for (size_t i = 0; i < cli_n_commands; i++)
        if (cli_commands[i].man)
            man_command(f, &cli_commands[i]);
    fprintf(f, ".SH OPTIONS\n%s", MAN_OPTIONS);
    fprintf(f, ".SH EXIT STATUS\n%s.SH ENVIRONMENT\n%s.SH FILES\n%s.SH EXAMPLES\n%s",
            MAN_EXIT_STATUS, MAN_ENVIRONMENT, MAN_FILES, MAN_EXAMPLES);
    fprintf(f, ".SH SEE ALSO\n%s", MAN_SEE_ALSO);
}

/* ---- for tests/cli/man.sh ---- */

void cli_spec_dump(FILE *f)
{
    static const char *const kinds[] = {"none", "required", "optional"};
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_command *c = &cli_commands[i];
        fprintf(f, "command %s\n", c->name);
        for (size_t a = 0; a < sizeof(c->aliases) / sizeof(c->aliases[0]); a++)
            if (c->aliases[a])
                fprintf(f, "alias %s\n", c->aliases[a]);
        for (size_t o = 0; o < c->n_opts; o++)
            if (c->opts[o].name)
                fprintf(f, "option %s\t--%s %s %c %c\n", c->name, c->opts[o].name,
                        kinds[c->opts[o].arg], c->opts[o].short_name ? c->opts[o].short_name : '-',
                        c->opts[o].val);
    }
}
