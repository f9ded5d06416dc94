/* `tessera rp`: a relying party's OpenID4VP verifier service (tessera/rp.h,
 * docs/RP.md): `rp init` makes the site directory, `rp serve` runs the
 * service until SIGINT / SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tessera/rp.h"

#define RP_TRUST_MAX 16

static int rp_init(int argc, char **argv)
{
    const char *cmd = "rp init";
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    tes_rp_init_params p = {0};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            p.dir = optarg;
            break;
        case 'c':
            p.cert_file = optarg;
            break;
        case 'C':
            p.chain_file = optarg;
            break;
        case 'k':
            p.key_file = optarg;
            break;
        case 'u':
            p.public_url = optarg;
            break;
        case 'n':
            p.name = optarg;
            break;
        case 'P':
            if (strcmp(optarg, "x509_san_dns") == 0)
                p.prefix = TES_RP_X509_SAN_DNS;
            else if (strcmp(optarg, "x509_hash") == 0)
                p.prefix = TES_RP_X509_HASH;
            else
                return cli_usage_error(cmd, "--client-id-prefix is x509_san_dns or x509_hash");
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
    if (p.dir == NULL || p.cert_file == NULL || p.key_file == NULL || p.public_url == NULL)
        return cli_usage_error(cmd, "needs --dir, --cert, --key-file and --public-url");
    tes_err e = tes_rp_init(&p);
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e, "%s", cmd);
    printf("site in %s: %s, %s, %s (0600: the backend's Bearer key), %s\n", p.dir, TES_RP_CERT,
           TES_RP_KEY, TES_RP_API_KEY, TES_RP_SITE_DCQL);
    return CLI_EXIT_OK;
}

typedef struct serve_args {
    tes_rp_config c;
    const char *trust[RP_TRUST_MAX];
    char *trust_list;
    const char *port_file;
} serve_args;

static void serve_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

static int split_trust(const char *cmd, serve_args *a, const char *arg)
{
    free(a->trust_list);
    if ((a->trust_list = strdup(arg)) == NULL)
        return cli_error(CLI_EXIT_USAGE, "out of memory");
    a->c.n_trust_files = 0;
    for (char *save = NULL, *t = strtok_r(a->trust_list, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (a->c.n_trust_files == RP_TRUST_MAX)
            return cli_usage_error(cmd, "--trust: at most %d files", RP_TRUST_MAX);
        a->trust[a->c.n_trust_files++] = t;
    }
    a->c.trust_files = a->trust;
    return CLI_EXIT_OK;
}

static int parse_serve(const char *cmd, int argc, char **argv, serve_args *a)
{
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c, rc;
    size_t n;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->c.dir = optarg;
            break;
        case 'l':
            a->c.listen = optarg;
            break;
        case 'u':
            a->c.public_url = optarg;
            break;
        case 'D':
            a->c.db_url = optarg;
            break;
        case 't':
            if ((rc = split_trust(cmd, a, optarg)) != CLI_EXIT_OK)
                return rc;
            break;
        case 'S':
            if (tes_status_mode_parse(optarg, &a->c.status) != TES_OK)
                return cli_usage_error(cmd, "--status is off, online or cached");
            break;
        case 'C':
            a->c.status_cache = optarg;
            break;
        case 'M':
            if (!cli_parse_size(optarg, 365 * 86400, &n) || n == 0)
                return cli_usage_error(cmd, "--status-max-age needs 1..31536000 seconds");
            a->c.status_max_age = (int64_t)n;
            break;
        case 'U':
            a->c.accept_undetermined = true;
            break;
        case 'T':
            if (!cli_parse_size(optarg, 86400, &n) || n < 10)
                return cli_usage_error(cmd, "--tx-lifetime needs 10..86400 seconds");
            a->c.tx_lifetime = (int64_t)n;
            break;
        case 'p':
            a->port_file = optarg;
            break;
        case 'h':
            cli_help(cmd);
            return -1;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (a->c.dir == NULL)
        return cli_usage_error(cmd, "missing --dir (the site directory of 'tessera rp init')");
    if (a->c.n_trust_files == 0)
        return cli_usage_error(cmd, "missing --trust (the issuers' IACA roots)");
    return CLI_EXIT_OK;
}

static int wait_for_signal(const char *cmd, sigset_t *stop)
{
    int sig = 0;
    for (;;) {
        int r = sigwait(stop, &sig);
        if (r == 0)
            break;
        if (r != EINTR)
            return cli_error(CLI_EXIT_USAGE, "%s: sigwait: %s", cmd, strerror(r));
    }
    fprintf(stderr, "%s: stopping (%s)\n", cmd, strsignal(sig));
    return CLI_EXIT_OK;
}

static int rp_serve(int argc, char **argv)
{
    const char *cmd = "rp serve";
    serve_args a = {.c = {.log = serve_log}};
    int rc = parse_serve(cmd, argc, argv, &a);
    if (rc != CLI_EXIT_OK) {
        free(a.trust_list);
        return rc < 0 ? CLI_EXIT_OK : rc;
    }
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &stop, &old) != 0) {
        free(a.trust_list);
        return cli_error(CLI_EXIT_USAGE, "%s: cannot block signals", cmd);
    }
    signal(SIGPIPE, SIG_IGN);
    tes_rp *s = NULL;
    int port = 0;
    tes_err e = tes_rp_start(&a.c, &s, &port);
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: starting the service", cmd);
        goto out;
    }
    if (a.port_file) {
        char p[16];
        int n = snprintf(p, sizeof p, "%d\n", port);
        if (cli_write_file(a.port_file, TES_BYTES(p, (size_t)n), CLI_FILE_PUBLIC) != TES_OK) {
            rc = cli_fail(CLI_EXIT_USAGE, "%s: writing --port-file", cmd);
            goto out;
        }
    }
    printf("serving OpenID4VP verifier at %s\n", tes_rp_public_url(s));
    fflush(stdout);
    fprintf(stderr,
            "  site %s, client_id %s, listening on port %d\n"
            "  login page %s/ ; backend API %s/api/v1/transactions (Bearer key in %s/%s)\n"
            "  stop with Ctrl-C (SIGINT) or SIGTERM\n",
            a.c.dir, tes_rp_client_id(s), port, tes_rp_public_url(s), tes_rp_public_url(s),
            a.c.dir, TES_RP_API_KEY);
    rc = wait_for_signal(cmd, &stop);
out:
    tes_rp_stop(s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(a.trust_list);
    return rc;
}

int cmd_rp(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        char full[64] = "rp";
        if (argc >= 3 && strcmp(argv[1], "help") == 0)
            snprintf(full, sizeof full, "rp %s", argv[2]);
        cli_help(full);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("rp", "missing subcommand (init, serve)");
    if (strcmp(argv[1], "init") == 0)
        return rp_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0)
        return rp_serve(argc - 1, argv + 1);
    return cli_usage_error("rp", "unknown subcommand '%s' (init, serve)", argv[1]);
}
