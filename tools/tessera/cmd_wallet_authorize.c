/* tessera wallet authorize — log in to a website with the wallet (OpenID4VP
 * 1.0, tes_wallet_authorize in tessera/wallet.h): the holder is asked on the
 * terminal (or a policy file decides), the PIN from --pin-file, the policy
 * or the terminal; what was disclosed, the pseudonym and the verifier's
 * redirect are printed. Thin: every step is the library's. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tessera/proximity.h"
#include "tessera/wallet.h"

#include "cli.h"

#define CMD "wallet authorize"

typedef struct authz_args {
    const char *wallet, *policy, *pin_file, *url;
    bool loopback;
    size_t timeout;
} authz_args;

typedef struct authz_ctx {
    cli_wallet *w;
    tes_consent_policy *policy; /* NULL: ask on the terminal */
    const char *policy_path;
    int pin_fd; /* -1: none */
} authz_ctx;

static bool is_pseudonym(const tes_consent_item *it)
{
    return tes_bytes_eq(it->ns, TES_BYTES_STR(TES_NS_PSEUDONYM)) &&
           tes_bytes_eq(it->name, TES_BYTES_STR(TES_ELEM_PSEUDONYM));
}

static void print_request(FILE *f, const tes_consent_request *req)
{
    fprintf(f, "site:      %s (%s), verified; licensed by %s\n", req->reader_name, req->site,
            req->reader_issuer);
    if (req->purpose[0])
        fprintf(f, "purpose:   %s\n", req->purpose);
    fprintf(f, "asks for:  from your %s (credential %lld)\n", req->doctype,
            (long long)req->credential_id);
    for (size_t i = 0; i < req->n_items; i++) {
        const tes_consent_item *it = &req->items[i];
        if (is_pseudonym(it))
            fprintf(f, "  %2zu. a pseudonym for this site (the same on every visit, different "
                       "at every other site)\n",
                    i + 1);
        else
            fprintf(f, "  %2zu. %.*s/%.*s%s\n", i + 1, (int)it->ns.len, (const char *)it->ns.ptr,
                    (int)it->name.len, (const char *)it->name.ptr,
                    it->intent_to_retain ? "  will be kept" : "");
    }
    fflush(f);
}

/* The terminal: all or nothing (a login needs everything it asks). */
static tes_err ask_terminal(tes_consent_request *req)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        return tes_err_set(TES_ERR_CONSENT, "no terminal to ask the holder (give --policy)");
    print_request(tty, req);
    fputs("Log in and share all of this? [y/N] ", tty);
    fflush(tty);
    char a[16] = "";
    bool yes = fgets(a, sizeof a, tty) != NULL && (a[0] == 'y' || a[0] == 'Y');
    fclose(tty);
    for (size_t i = 0; i < req->n_items; i++)
        req->items[i].approve = yes;
    return yes ? TES_OK : tes_err_set(TES_ERR_CONSENT, "the holder declined");
}

static tes_err consent_cb(void *ctx, tes_consent_request *req, char pin[64])
{
    authz_ctx *c = ctx;
    pin[0] = '\0';
    tes_err e;
    if (c->policy) {
        print_request(stdout, req);
        e = tes_consent_policy_decide(c->policy, req, pin);
        printf("consent:   %s by the policy %s\n", e == TES_OK ? "given" : "declined",
               c->policy_path);
        fflush(stdout);
    } else {
        e = ask_terminal(req);
    }
    if (e != TES_OK) {
        tes_wipe(pin, 64);
        return e;
    }
    if (pin[0] == '\0' || c->pin_fd >= 0) {
        char p[CLI_PIN_MAX];
        if (cli_pin_read(CMD, c->pin_fd, "PIN", p) != CLI_EXIT_OK)
            return tes_err_set(TES_ERR_CONSENT, "no PIN entered");
        snprintf(pin, 64, "%s", p);
        tes_wipe(p, sizeof p);
    }
    return TES_OK;
}

static void print_result(const tes_wallet_authorize_result *r)
{
    printf("disclosed: ");
    for (size_t i = 0; i < r->n_disclosed; i++)
        printf("%s%s/%s", i ? ", " : "", r->disclosed[i].ns, r->disclosed[i].name);
    printf("%s\n", r->n_disclosed ? "" : "(no attribute)");
    if (r->pseudonym[0])
        printf("pseudonym: %s\n", r->pseudonym);
    if (r->redirect_uri)
        printf("redirect:  %s\n", r->redirect_uri);
    printf("logged in at %s (%s)\n", r->rp_name, r->rp_dns);
}

static int authorize(const authz_args *a)
{
    cli_wallet w;
    int rc = cli_wallet_open(CMD, a->wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    authz_ctx cc = {.w = &w, .policy_path = a->policy, .pin_fd = -1};
    tes_buf pol = {0};
    tes_err e = TES_OK;
    rc = CLI_EXIT_USAGE;
    if (a->policy && (cli_read_file(a->policy, &pol) != TES_OK ||
                      (e = tes_consent_policy_parse((const char *)pol.ptr, pol.len,
                                                    &cc.policy)) != TES_OK)) {
        cli_fail_code(rc, e ? e : TES_ERR_IO, "%s: policy %s", CMD, a->policy);
        goto out;
    }
    if (a->pin_file && (cc.pin_fd = open(a->pin_file, O_RDONLY | O_CLOEXEC)) < 0) {
        cli_error(rc, "%s: --pin-file %s: %s", CMD, a->pin_file, strerror(errno));
        goto out;
    }
    const tes_wallet_authorize_opts o = {.consent = consent_cb,
                                         .consent_ctx = &cc,
                                         .allow_loopback_http = a->loopback,
                                         .now = (int64_t)time(NULL),
                                         .timeout_ms = (int)a->timeout * 1000};
    tes_wallet_authorize_result res;
    e = tes_wallet_authorize(w.wallet, a->url, &o, &res);
    if (e == TES_OK) {
        print_result(&res);
        rc = CLI_EXIT_OK;
    } else {
        rc = cli_fail_code(cli_exit_for(e), e, "%s", CMD);
        if (res.error_sent)
            fprintf(stderr, "tessera: %s: the site was told: %s\n", CMD, res.error_sent);
    }
    tes_wallet_authorize_result_free(&res);
out:
    if (cc.pin_fd >= 0)
        close(cc.pin_fd);
    tes_consent_policy_free(cc.policy);
    tes_buf_free(&pol);
    cli_wallet_close(&w);
    return rc;
}

int cmd_wallet_authorize(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for(CMD, &opts);
    authz_args a = {.timeout = 30};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            a.wallet = optarg;
            break;
        case 'P':
            a.policy = optarg;
            break;
        case 'f':
            a.pin_file = optarg;
            break;
        case 'L':
            a.loopback = true;
            break;
        case 'T':
            if (!cli_parse_size(optarg, 3600, &a.timeout) || a.timeout == 0)
                return cli_usage_error(CMD, "--timeout needs 1..3600 seconds, not '%s'", optarg);
            break;
        case 'h':
            cli_help(CMD);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (a.wallet == NULL || *a.wallet == '\0')
        return cli_usage_error(CMD, "missing --wallet");
    if (optind + 1 != argc)
        return cli_usage_error(CMD, "give exactly one authorization request URL "
                                    "('openid4vp://?client_id=...&request_uri=...')");
    a.url = argv[optind];
    return authorize(&a);
}
