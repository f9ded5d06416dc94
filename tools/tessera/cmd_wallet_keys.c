/* tessera wallet key-request | key-add | tap, and the door keys of 'wallet list': thin
 * over the wallet's door keys (tessera/wallet.h, "door keys"). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_TAP_SECONDS 86400
#define MAX_TAP_COUNT 1000

/* Writes data to a new file path (mode 0644); an existing file is never replaced. */
static tes_err write_new(const char *path, tes_bytes data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return tes_err_set(errno == EEXIST ? TES_ERR_EXISTS : TES_ERR_IO, "cannot create %s: %s%s",
                           path, strerror(errno),
                           errno == EEXIST ? " (refusing to overwrite it)" : "");
    size_t off = 0;
    while (off < data.len) {
        ssize_t w = write(fd, data.ptr + off, data.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = errno;
            close(fd);
            unlink(path);
            return tes_err_set(TES_ERR_IO, "cannot write %s: %s", path, strerror(err));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(path);
        return tes_err_set(TES_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    return TES_OK;
}

/* ---- wallet key-request ---- */

int cmd_wallet_key_request(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet key-request", &opts);
    const char *cmd = "wallet key-request", *wallet = NULL, *out = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wallet = optarg;
            break;
        case 'o':
            out = optarg;
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
    if (wallet == NULL || *wallet == '\0')
        return cli_usage_error(cmd, "missing --wallet");
    if (out == NULL || *out == '\0')
        return cli_usage_error(cmd, "missing --out");
    if (access(out, F_OK) == 0)
        return cli_error(CLI_EXIT_USAGE, "%s: %s exists already: refusing to overwrite it", cmd,
                         out);
    cli_wallet w;
    int rc = cli_wallet_open(cmd, wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    tes_buf rq = {0};
    tes_err e = tes_wallet_key_request(w.wallet, &rq);
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: making the door key", cmd);
    } else if ((e = write_new(out, tes_buf_bytes(&rq))) != TES_OK) {
        rc = cli_fail_code(CLI_EXIT_USAGE, e, "%s", cmd);
    } else {
        printf("door key request written to %s: hand it to the hotel's front desk\n", out);
        rc = CLI_EXIT_OK;
    }
    tes_buf_free(&rq);
    cli_wallet_close(&w);
    return rc;
}

/* ---- wallet key-add ---- */

/* A refusal of what the hotel sent is 1 (added already, for no key of this wallet), as
 * for a bad signature; the caller's and the environment's faults stay 2. */
static int add_exit(tes_err e)
{
    return e == TES_ERR_EXISTS || e == TES_ERR_NOT_FOUND ? CLI_EXIT_FAIL : cli_exit_for(e);
}

static void print_key(const tes_wallet_key_info *k)
{
    char f[21], u[21];
    tes_time_format(k->not_before, f);
    tes_time_format(k->not_after, u);
    printf("door key %lld from %s: room %s, %s .. %s%s\n", (long long)k->id, k->issuer, k->rooms, f,
           u, k->revoked ? " (REVOKED)" : "");
}

int cmd_wallet_key_add(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet key-add", &opts);
    const char *cmd = "wallet key-add", *wallet = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wallet = optarg;
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (wallet == NULL || *wallet == '\0')
        return cli_usage_error(cmd, "missing --wallet");
    if (optind >= argc)
        return cli_usage_error(cmd, "missing FILE (a key package or a revocation document)");
    if (optind + 1 < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    const char *file = argv[optind];
    tes_buf in = {0};
    tes_err e = cli_read_file(file, &in);
    if (e != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s: reading %s", cmd, file);
    cli_wallet w;
    int rc = cli_wallet_open(cmd, wallet, &w);
    if (rc != CLI_EXIT_OK) {
        tes_buf_free(&in);
        return rc;
    }
    /* a key package, or else a revocation document */
    tes_access_key_package probe;
    if (tes_access_key_package_parse(tes_buf_bytes(&in), &probe) == TES_OK) {
        tes_wallet_key_info k;
        e = tes_wallet_key_add(w.wallet, tes_buf_bytes(&in), &k);
        if (e != TES_OK) {
            rc = cli_fail_code(add_exit(e), e, "%s: the key package %s", cmd, file);
        } else {
            print_key(&k);
            rc = CLI_EXIT_OK;
        }
    } else {
        tes_wallet_revocation_info r;
        e = tes_wallet_key_revocation_add(w.wallet, tes_buf_bytes(&in), &r);
        if (e != TES_OK) {
            rc = cli_fail_code(add_exit(e), e,
                               "%s: %s is neither a key package nor a revocation document the "
                               "wallet takes",
                               cmd, file);
        } else {
            char v[21];
            tes_time_format(r.version, v);
            printf("revocation document of %s (version %s, %zu key%s revoked) kept: the next "
                   "locks this phone opens learn it\n",
                   r.issuer, v, r.n_keys, r.n_keys == 1 ? "" : "s");
            if (r.own_revoked)
                printf("%zu of this wallet's door keys %s revoked\n", r.own_revoked,
                       r.own_revoked == 1 ? "is" : "are");
            rc = CLI_EXIT_OK;
        }
    }
    tes_buf_free(&in);
    cli_wallet_close(&w);
    return rc;
}

/* ---- wallet tap ---- */

static volatile int tap_stop;

static void on_signal(int sig)
{
    (void)sig;
    tap_stop = 1;
}

int cmd_wallet_tap(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet tap", &opts);
    const char *cmd = "wallet tap", *wallet = NULL, *vpcd = NULL;
    size_t timeout_s = TES_WALLET_TAP_TIMEOUT_MS / 1000, count = 1;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wallet = optarg;
            break;
        case 'v':
            vpcd = optarg;
            break;
        case 'n':
            break; /* vpcd is the only NFC path for now */
        case 't':
            if (!cli_parse_size(optarg, MAX_TAP_SECONDS, &timeout_s) || timeout_s == 0)
                return cli_usage_error(cmd, "--timeout needs 1..%d seconds, not '%s'",
                                       MAX_TAP_SECONDS, optarg);
            break;
        case 'c':
            if (!cli_parse_size(optarg, MAX_TAP_COUNT, &count) || count == 0)
                return cli_usage_error(cmd, "--count needs 1..%d transactions, not '%s'",
                                       MAX_TAP_COUNT, optarg);
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
    if (wallet == NULL || *wallet == '\0')
        return cli_usage_error(cmd, "missing --wallet");
    if (vpcd != NULL && *vpcd == '\0')
        return cli_usage_error(cmd, "--vpcd needs HOST:PORT");
    cli_wallet w;
    int rc = cli_wallet_open(cmd, wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    tap_stop = 0;
    const tes_wallet_tap_opts o = {.vpcd = vpcd,
                                   .timeout_ms = (int)timeout_s * 1000,
                                   .stop = &tap_stop,
                                   .count = (unsigned)count};
    tes_wallet_tap_result r;
    fprintf(stderr, "hold the phone to the lock ...\n");
    tes_err e = tes_wallet_tap(w.wallet, &o, &r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (r.has_status) {
        if (r.opened) {
            printf("door opened: %s room %s\n", r.issuer[0] ? r.issuer : "(no key used)",
                   r.rooms[0] ? r.rooms : "-");
            rc = CLI_EXIT_OK;
        } else {
            printf("door stayed shut: %s (status %04X)\n", tes_wallet_tap_status_text(r.status),
                   (unsigned)r.status);
            rc = CLI_EXIT_FAIL;
        }
        if (r.transactions > 1)
            printf("%u transactions answered\n", r.transactions);
    } else if (e != TES_OK) {
        rc = cli_fail_code(CLI_EXIT_USAGE, e, "%s", cmd);
    } else {
        rc = cli_error(CLI_EXIT_USAGE, "%s: the reader gave no verdict", cmd);
    }
    cli_wallet_close(&w);
    return rc;
}

/* ---- the door keys of 'wallet list' ---- */

int cli_wallet_list_keys(cli_wallet *w)
{
    tes_wallet_key_info *k = NULL;
    size_t n = 0;
    tes_err e = tes_wallet_keys(w->wallet, &k, &n);
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e, "wallet list: reading the door keys");
    if (n > 0)
        printf("door keys:\n");
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++) {
        if (!k[i].active) {
            char a[21];
            tes_time_format(k[i].created_at, a);
            printf("key %lld  requested %s: waiting for the hotel's key package\n",
                   (long long)k[i].id, a);
            continue;
        }
        char f[21], u[21];
        tes_time_format(k[i].not_before, f);
        tes_time_format(k[i].not_after, u);
        printf("key %lld  %s  room %s\n", (long long)k[i].id, k[i].issuer, k[i].rooms);
        printf("    valid:       %s .. %s%s\n", f, u,
               now >= k[i].not_after   ? "  (EXPIRED)"
               : now < k[i].not_before ? "  (not yet valid)"
                                       : "");
        printf("    state:       %s\n",
               k[i].revoked ? "REVOKED (the hotel withdrew it)" : "active");
        printf("    key id:      %s\n", k[i].key_id);
    }
    tes_wallet_keys_free(k, n);
    return CLI_EXIT_OK;
}
