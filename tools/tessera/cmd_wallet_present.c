/* tessera wallet present — the holder's side of the offline check-in (ISO/IEC
 * 18013-5 proximity presentation): engagement by QR code (data over TCP) or NFC
 * (the phone plays the card through vpcd), reader authentication against the
 * wallet's trusted reader authorities, the holder's consent (terminal prompt or
 * policy file), then the response. And `wallet trust-reader`, which sets the
 * reader authorities the wallet trusts. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tessera/proximity.h"
#include "tessera/wallet.h"

#include "cli.h"

#define MAX_TRUST_ARGS 64
#define MAX_ROOTS TES_WALLET_MAX_READER_ROOTS
#define DEFAULT_TIMEOUT 120
#define DEFAULT_VPCD "127.0.0.1:35963"
/* NFC data retrieval sizes announced in the Handover Select (extended length). */
#define NFC_MAX_CMD 65535u
#define NFC_MAX_RSP 65535u

/* ---- consent ---- */

typedef struct consent_ctx {
    cli_wallet *w;
    int pin_fd;
    tes_consent_policy *policy; /* NULL: ask on the terminal */
    const char *policy_path;
    tes_buf released; /* "ns/elem, ns/elem" as decided */
    size_t n_released;
    int rc; /* exit code of a failure inside the callback (0: none) */
} consent_ctx;

static void print_request(FILE *f, const tes_consent_request *req)
{
    fprintf(f, "\n-- a reader asks for your %s --\n", req->doctype);
    if (req->reader_authenticated) {
        fprintf(f, "reader:   %s (verified", req->reader_name);
        if (req->reader_issuer[0])
            fprintf(f, "; licensed by %s", req->reader_issuer);
        fprintf(f, ")\n");
    } else {
        fprintf(f, "WARNING:  the reader could NOT be authenticated%s%s%s.\n",
                req->reader_problem[0] ? " (" : "", req->reader_problem,
                req->reader_problem[0] ? ")" : "");
        fprintf(f, "          Anyone could be asking%s%s%s.\n",
                req->reader_name[0] ? "; it calls itself \"" : "", req->reader_name,
                req->reader_name[0] ? "\"" : "");
    }
    if (req->purpose[0])
        fprintf(f, "purpose:  %s\n", req->purpose);
    fprintf(f, "credential %lld; requested:\n", (long long)req->credential_id);
    for (size_t i = 0; i < req->n_items; i++) {
        const tes_consent_item *it = &req->items[i];
        fprintf(f, "  %2zu. %.*s/%.*s", i + 1, (int)it->ns.len, (const char *)it->ns.ptr,
                (int)it->name.len, (const char *)it->name.ptr);
        if (!it->held)
            fprintf(f, "  (not in your credential)");
        if (it->intent_to_retain)
            fprintf(f, "  will be kept");
        if (!it->in_scope)
            fprintf(f, "  OUTSIDE THE READER'S PERMITTED SCOPE");
        fputc('\n', f);
    }
}

static bool released(const tes_consent_item *it)
{
    return it->approve && it->held && (it->in_scope || it->override_scope);
}

static void note_released(consent_ctx *c, const tes_consent_request *req)
{
    tes_buf_reset(&c->released);
    c->n_released = 0;
    for (size_t i = 0; i < req->n_items; i++) {
        const tes_consent_item *it = &req->items[i];
        if (!released(it))
            continue;
        if (c->released.len)
            tes_buf_append(&c->released, ", ", 2);
        tes_buf_append(&c->released, it->ns.ptr, it->ns.len);
        tes_buf_append(&c->released, "/", 1);
        tes_buf_append(&c->released, it->name.ptr, it->name.len);
        if (it->override_scope && !it->in_scope)
            tes_buf_append(&c->released, " (scope overridden)", 19);
        c->n_released++;
    }
    tes_buf_append(&c->released, "", 1);
}

static bool need_pin(consent_ctx *c, int64_t cred)
{
    return tes_wallet_present_needs_pin(c->w->wallet, cred);
}

/* Reads one answer line from the terminal. */
static bool ask(FILE *tty, const char *prompt, char *out, size_t cap)
{
    fputs(prompt, tty);
    fflush(tty);
    if (fgets(out, (int)cap, tty) == NULL)
        return false;
    out[strcspn(out, "\r\n")] = '\0';
    return true;
}

/* Out-of-scope elements the holder picked: one explicit "yes" each. */
static void confirm_out_of_scope(FILE *tty, tes_consent_request *req)
{
    for (size_t i = 0; i < req->n_items; i++) {
        tes_consent_item *it = &req->items[i];
        if (!it->approve || it->in_scope)
            continue;
        char q[512], a[16];
        snprintf(q, sizeof(q),
                 "%.*s/%.*s is OUTSIDE what the reader's authority permits it to ask.\n"
                 "  Release it anyway? Type 'yes' to release, anything else to keep it: ",
                 (int)it->ns.len, (const char *)it->ns.ptr, (int)it->name.len,
                 (const char *)it->name.ptr);
        bool yes = ask(tty, q, a, sizeof(a)) && strcmp(a, "yes") == 0;
        it->approve = yes;
        it->override_scope = yes;
    }
}

static tes_err consent_terminal(consent_ctx *c, tes_consent_request *req)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL) {
        c->rc = cli_error(CLI_EXIT_USAGE,
                          "wallet present: no terminal to ask for consent on; give the decision "
                          "rules with --policy FILE");
        return tes_err_set(TES_ERR_CONSENT, "no terminal to ask the holder");
    }
    print_request(tty, req);
    size_t held = 0;
    for (size_t i = 0; i < req->n_items; i++)
        held += req->items[i].held;
    char a[512];
    tes_err e = TES_OK;
    for (;;) {
        if (held == 0) {
            fputs("Your credential holds none of these: nothing to share.\n", tty);
            e = TES_ERR_CONSENT;
            break;
        }
        if (!ask(tty, "Share [a]ll, [s]ome (by number) or [n]one? ", a, sizeof(a))) {
            e = TES_ERR_CONSENT;
            break;
        }
        if (strcmp(a, "a") == 0 || strcmp(a, "all") == 0) {
            for (size_t i = 0; i < req->n_items; i++)
                req->items[i].approve = req->items[i].held;
        } else if (strcmp(a, "s") == 0 || strcmp(a, "some") == 0) {
            if (!ask(tty, "Numbers to share, e.g. 1,3,4: ", a, sizeof(a))) {
                e = TES_ERR_CONSENT;
                break;
            }
            bool bad = false;
            for (size_t i = 0; i < req->n_items; i++)
                req->items[i].approve = false;
            for (char *save = NULL, *t = strtok_r(a, ", ", &save); t;
                 t = strtok_r(NULL, ", ", &save)) {
                size_t k;
                if (!cli_parse_size(t, req->n_items, &k) || k == 0) {
                    fprintf(tty, "'%s' is not one of the numbers 1..%zu\n", t, req->n_items);
                    bad = true;
                    break;
                }
                if (!req->items[k - 1].held)
                    fprintf(tty, "%zu is not in your credential; skipped\n", k);
                req->items[k - 1].approve = req->items[k - 1].held;
            }
            if (bad)
                continue;
        } else if (strcmp(a, "n") == 0 || strcmp(a, "none") == 0) {
            e = TES_ERR_CONSENT;
            break;
        } else {
            continue;
        }
        confirm_out_of_scope(tty, req);
        size_t n = 0;
        for (size_t i = 0; i < req->n_items; i++)
            n += released(&req->items[i]);
        if (n == 0) {
            fputs("Nothing selected: the reader gets nothing.\n", tty);
            e = TES_ERR_CONSENT;
        }
        break;
    }
    fclose(tty);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_CONSENT, "the holder declined");
    return TES_OK;
}

static tes_err consent_cb(void *ctx, tes_consent_request *req, char pin[64])
{
    consent_ctx *c = ctx;
    tes_err e;
    pin[0] = '\0';
    if (c->policy) {
        print_request(stdout, req);
        e = tes_consent_policy_decide(c->policy, req, pin);
        if (e != TES_OK) {
            printf("consent:  declined by the policy %s\n", c->policy_path);
            fflush(stdout);
            tes_wipe(pin, 64);
            return e;
        }
        note_released(c, req);
        printf("consent:  given by the policy %s: %s\n", c->policy_path,
               c->n_released ? (const char *)c->released.ptr : "nothing");
    } else {
        e = consent_terminal(c, req);
        if (e != TES_OK)
            return e;
        note_released(c, req);
    }
    fflush(stdout);
    if (c->n_released > 0 && pin[0] == '\0' && need_pin(c, req->credential_id)) {
        char p[CLI_PIN_MAX];
        int rc = cli_pin_read("wallet present", c->pin_fd, "PIN", p);
        if (rc != CLI_EXIT_OK) {
            c->rc = rc;
            return tes_err_set(TES_ERR_CONSENT, "no PIN entered");
        }
        snprintf(pin, 64, "%s", p);
        tes_wipe(p, sizeof(p));
    }
    return TES_OK;
}

/* ---- NFC: the card pump in its own thread ---- */

typedef struct nfc_pump {
    tes_apdu_card *card;
    const char *vpcd;
    int timeout_ms;
    volatile int stop;
    tes_err rc;
    char msg[512];
} nfc_pump;

static void *pump_main(void *arg)
{
    nfc_pump *p = arg;
    p->rc = tes_vpcd_run(p->card, p->vpcd, p->timeout_ms, &p->stop);
    if (p->rc != TES_OK)
        snprintf(p->msg, sizeof(p->msg), "%s", tes_err_message());
    return NULL;
}

/* ---- the command ---- */

typedef struct present_args {
    const char *wallet, *tcp, *policy, *qr_png, *uri_out, *vpcd;
    const char *trust[MAX_TRUST_ARGS];
    size_t n_trust;
    bool qr, nfc;
    int pin_fd;
    size_t timeout;
} present_args;

/* --reader-trust into *store; without it *store stays NULL (tes_wallet_serve
 * uses the wallet's own roots) and a wallet that trusts none is told so. */
static int load_reader_trust(const present_args *a, cli_wallet *w, tes_trust_store **store)
{
    const char *cmd = "wallet present";
    *store = NULL;
    if (a->n_trust > 0) {
        if (tes_trust_store_new(store) != TES_OK)
            return cli_fail(CLI_EXIT_USAGE, "%s: trust store", cmd);
        return cli_load_trust(cmd, a->trust, a->n_trust, TES_PROFILE_READER, *store);
    }
    tes_cert **roots = NULL;
    size_t n = 0;
    tes_err e = tes_wallet_reader_roots_get(w->wallet, &roots, &n);
    if (e != TES_OK)
        return cli_fail_code(CLI_EXIT_USAGE, e, "%s: the wallet's reader roots", cmd);
    for (size_t i = 0; i < n; i++)
        tes_cert_free(roots[i]);
    free(roots);
    if (n == 0)
        fprintf(stderr,
                "tessera: wallet present: the wallet trusts no reader authority: every reader "
                "will be shown as NOT authenticated (add one with 'tessera wallet trust-reader "
                "--wallet %s --root PEM')\n",
                w->dir);
    return CLI_EXIT_OK;
}

/* Prints the outcome of tes_holder_serve; returns the exit code. */
static int report(const char *cmd, cli_wallet *w, const consent_ctx *cc, tes_err e,
                  const tes_holder_result *res)
{
    if (e == TES_OK) {
        printf("disclosed %zu element(s) to %s%s: %s\n", res->disclosed,
               res->reader_name[0] ? res->reader_name : "an unknown reader",
               res->reader_authenticated ? " (authenticated)" : " (NOT authenticated)",
               cc->n_released && !cc->released.failed ? (const char *)cc->released.ptr : "nothing");
        printf("the wallet's log records it ('tessera wallet log --wallet %s')\n", w->dir);
        return CLI_EXIT_OK;
    }
    int rc = cc->rc ? cc->rc : e == TES_ERR_CONSENT ? CLI_EXIT_FAIL : cli_exit_for(e);
    if (e == TES_ERR_CONSENT)
        printf("declined: nothing was disclosed\n");
    return cli_fail_code(rc, e, "%s: %s", cmd,
                         e == TES_ERR_CONSENT ? "nothing was disclosed" : "the check-in failed");
}

/* QR / TCP: listen first, then show the engagement (so that a reader holding
 * it can connect at once), then wait for the reader. */
static int open_tcp(const present_args *a, const tes_engagement *eng, tes_tcp_listener **l,
                    tes_transport **t)
{
    const char *cmd = "wallet present";
    int port = 0, rc = CLI_EXIT_FAIL;
    tes_buf uri = {0};
    tes_err e = tes_tcp_listen(a->tcp, l, &port);
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e, "%s: listening on %s", cmd, a->tcp);
    if ((e = tes_engagement_to_uri(eng, &uri)) != TES_OK) {
        cli_fail_code(rc, e, "%s: the engagement URI", cmd);
        goto out;
    }
    tes_buf_append(&uri, "\n", 1);
    if (uri.failed) {
        rc = cli_error(CLI_EXIT_USAGE, "out of memory");
        goto out;
    }
    uri.ptr[uri.len - 1] = '\0';
    const char *text = (const char *)uri.ptr;
    char host[256];
    const char *colon = strrchr(a->tcp, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon ? colon - a->tcp : 0), a->tcp);
    if (a->qr) {
        printf("Show this QR code to the reader (device engagement, a fresh key for this "
               "session):\n");
        fflush(stdout);
        if (cli_qr_print(stdout, text, isatty(STDOUT_FILENO) ? CLI_QR_ANSI : CLI_QR_PLAIN) !=
            TES_OK) {
            cli_fail(rc, "%s: drawing the QR code", cmd);
            goto out;
        }
    }
    printf("engagement: %s\n", text);
    printf("data channel: TCP %s:%d (the reader connects with --tcp %s:%d)\n", host, port, host,
           port);
    if (a->qr_png) {
        if (cli_qr_write_png(a->qr_png, text) != TES_OK) {
            rc = cli_fail(CLI_EXIT_USAGE, "%s: writing the QR code PNG", cmd);
            goto out;
        }
        printf("QR code written to %s\n", a->qr_png);
    }
    if (a->uri_out) {
        uri.ptr[uri.len - 1] = '\n';
        e = cli_write_file(a->uri_out, tes_buf_bytes(&uri), CLI_FILE_PUBLIC);
        uri.ptr[uri.len - 1] = '\0';
        if (e != TES_OK) {
            rc = cli_fail(CLI_EXIT_USAGE, "%s: writing the URI", cmd);
            goto out;
        }
    }
    printf("waiting for the reader (%zu s)...\n", a->timeout);
    fflush(stdout);
    if ((e = tes_tcp_accept(*l, (int)a->timeout * 1000, t)) != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: waiting for the reader", cmd);
        goto out;
    }
    printf("reader connected\n");
    fflush(stdout);
    rc = CLI_EXIT_OK;
out:
    tes_buf_free(&uri);
    return rc;
}

/* NFC: the card logic is pumped through vpcd in a thread while the holder's
 * session runs over the card's transport in this one. */
static tes_err serve_nfc(const present_args *a, cli_wallet *w, tes_wallet_serve_opts *p,
                         tes_apdu_card *card, tes_holder_result *res)
{
    const char *cmd = "wallet present";
    nfc_pump pump = {.card = card, .vpcd = a->vpcd, .timeout_ms = p->timeout_ms};
    pthread_t th;
    if (pthread_create(&th, NULL, pump_main, &pump) != 0)
        return tes_err_set(TES_ERR_IO, "cannot start the NFC thread");
    printf("NFC: the phone is on the reader (card through vpcd at %s); waiting for the reader "
           "(%zu s)...\n",
           a->vpcd, a->timeout);
    fflush(stdout);
    p->t = tes_apdu_card_transport(card);
    tes_err e = tes_wallet_serve(w->wallet, p, res);
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", tes_err_message());
    /* Give the reader time to fetch the last response, then take the card away. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    if (pthread_timedjoin_np(th, NULL, &until) != 0) {
        pump.stop = 1;
        pthread_join(th, NULL);
    }
    if (pump.rc != TES_OK && pump.rc != TES_ERR_TIMEOUT)
        fprintf(stderr, "tessera: %s: the NFC link ended with: %s [%s]\n", cmd, pump.msg,
                tes_err_name(pump.rc));
    if (e != TES_OK)
        tes_err_set(e, "%s", msg);
    return e;
}

static int present(const present_args *a)
{
    const char *cmd = "wallet present";
    cli_wallet w;
    int rc = cli_wallet_open(cmd, a->wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    tes_trust_store *trust = NULL;
    tes_consent_policy *policy = NULL;
    tes_key *edevice = NULL;
    tes_engagement eng = {0};
    tes_buf ndef = {0}, pol = {0};
    tes_tcp_listener *l = NULL;
    tes_transport *t = NULL;
    tes_apdu_card *card = NULL;
    consent_ctx cc = {.w = &w, .pin_fd = a->pin_fd, .policy_path = a->policy};
    tes_err e;

    if ((rc = load_reader_trust(a, &w, &trust)) != CLI_EXIT_OK)
        goto out;
    rc = CLI_EXIT_USAGE;
    if (a->policy) {
        if (cli_read_file(a->policy, &pol) != TES_OK) {
            cli_fail(rc, "%s: reading the policy", cmd);
            goto out;
        }
        if ((e = tes_consent_policy_parse((const char *)pol.ptr, pol.len, &policy)) != TES_OK) {
            cli_fail_code(rc, e, "%s: policy %s", cmd, a->policy);
            goto out;
        }
        cc.policy = policy;
    }

    /* A fresh ephemeral device key and engagement for this one session. */
    rc = CLI_EXIT_FAIL;
    if ((e = tes_key_generate(TES_CURVE_P256, &edevice)) != TES_OK ||
        (e = tes_engagement_build(edevice, &eng)) != TES_OK) {
        cli_fail_code(rc, e, "%s: building the device engagement", cmd);
        goto out;
    }
    if (a->nfc) {
        if ((e = tes_handover_select_build(&eng, NFC_MAX_CMD, NFC_MAX_RSP, &ndef)) != TES_OK ||
            (e = tes_apdu_card_new(tes_buf_bytes(&ndef), &card)) != TES_OK) {
            cli_fail_code(rc, e, "%s: preparing the NFC card", cmd);
            goto out;
        }
    } else if ((rc = open_tcp(a, &eng, &l, &t)) != CLI_EXIT_OK) {
        goto out;
    }

    tes_wallet_serve_opts p = {
        .t = t,
        .engagement = &eng,
        .edevice = edevice,
        .nfc_handover_select = tes_buf_bytes(&ndef),
        .reader_trust = trust, /* NULL: the wallet's own roots */
        .consent = consent_cb,
        .consent_ctx = &cc,
        .now = (int64_t)time(NULL),
        .timeout_ms = (int)a->timeout * 1000,
    };
    tes_holder_result res = {0};
    e = a->nfc ? serve_nfc(a, &w, &p, card, &res) : tes_wallet_serve(w.wallet, &p, &res);
    rc = report(cmd, &w, &cc, e, &res);
out:
    if (t)
        tes_transport_close(t);
    tes_tcp_listener_free(l);
    tes_apdu_card_free(card);
    tes_engagement_free(&eng);
    tes_key_free(edevice);
    tes_consent_policy_free(policy);
    tes_trust_store_free(trust);
    tes_buf_free(&cc.released);
    tes_buf_free(&pol);
    tes_buf_free(&ndef);
    cli_wallet_close(&w);
    return rc;
}

int cmd_wallet_present(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet present", &opts);
    const char *cmd = "wallet present";
    present_args a = {.pin_fd = -1, .timeout = DEFAULT_TIMEOUT, .vpcd = DEFAULT_VPCD};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            a.wallet = optarg;
            break;
        case 'q':
            a.qr = true;
            break;
        case 'n':
            a.nfc = true;
            break;
        case 't':
            a.tcp = optarg;
            break;
        case 'P':
            a.policy = optarg;
            break;
        case 'p':
            if (!cli_parse_fd(optarg, &a.pin_fd))
                return cli_usage_error(cmd, "--pin-fd needs a file descriptor number, not '%s'",
                                       optarg);
            break;
        case 'r':
            if (a.n_trust == MAX_TRUST_ARGS)
                return cli_usage_error(cmd, "too many --reader-trust options");
            a.trust[a.n_trust++] = optarg;
            break;
        case 'g':
            a.qr_png = optarg;
            break;
        case 'u':
            a.uri_out = optarg;
            break;
        case 'T':
            if (!cli_parse_size(optarg, 86400, &a.timeout) || a.timeout == 0)
                return cli_usage_error(cmd, "--timeout needs 1..86400 seconds, not '%s'", optarg);
            break;
        case 'v':
            a.vpcd = optarg;
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
    if (a.wallet == NULL || *a.wallet == '\0')
        return cli_usage_error(cmd, "missing --wallet");
    if (a.qr_png)
        a.qr = true;
    if (a.nfc && (a.qr || a.tcp || a.uri_out))
        return cli_usage_error(cmd, "--nfc goes alone: the engagement is read from the phone by "
                                    "NFC, and so is the data (not with --qr, --tcp or --uri-out)");
    if (!a.nfc && a.tcp == NULL)
        return cli_usage_error(cmd, a.qr ? "--qr needs --tcp HOST:PORT: the QR code carries the "
                                           "engagement, the data goes over TCP"
                                         : "give --qr --tcp HOST:PORT, or --nfc");
    if (a.tcp && strrchr(a.tcp, ':') == NULL)
        return cli_usage_error(cmd, "--tcp needs HOST:PORT, not '%s'", a.tcp);
    int rc = cli_pin_check_fd(cmd, a.pin_fd);
    if (rc != CLI_EXIT_OK)
        return rc;
    return present(&a);
}

/* ---- wallet trust-reader ---- */

int cmd_wallet_trust_reader(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet trust-reader", &opts);
    const char *cmd = "wallet trust-reader";
    const char *wallet = NULL, *roots[MAX_TRUST_ARGS];
    size_t n_roots = 0;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wallet = optarg;
            break;
        case 'r':
            if (n_roots == MAX_TRUST_ARGS)
                return cli_usage_error(cmd, "too many --root options");
            roots[n_roots++] = optarg;
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

    cli_wallet w;
    int rc = cli_wallet_open(cmd, wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    tes_cert *add[MAX_ROOTS], **have = NULL;
    size_t from[MAX_ROOTS]; /* which --root each certificate came from */
    size_t n_add = 0, n = 0, added = 0, bad = 0;
    tes_buf raw = {0};
    tes_err e;
    rc = CLI_EXIT_USAGE;
    for (size_t i = 0; i < n_roots; i++) {
        size_t k = 0;
        if (cli_read_file(roots[i], &raw) != TES_OK) {
            cli_fail(rc, "%s: --root", cmd);
            goto out;
        }
        e = tes_cert_parse_all(tes_buf_bytes(&raw), add + n_add, MAX_ROOTS - n_add, &k);
        tes_buf_reset(&raw);
        if (e != TES_OK || k == 0) {
            cli_error(rc, "%s: %s holds no certificate", cmd, roots[i]);
            goto out;
        }
        for (size_t j = 0; j < k; j++)
            from[n_add + j] = i;
        n_add += k;
    }
    e = tes_wallet_reader_roots_add(w.wallet, add, n_add, &added, &bad);
    if (e == TES_ERR_ARG || tes_err_is_env(e)) {
        cli_fail_code(rc, e, "%s: the wallet's reader roots", cmd);
        goto out;
    }
    if (e != TES_OK) {
        rc = e == TES_ERR_READER_ROOTS_FULL
                 ? cli_fail_code(CLI_EXIT_FAIL, e, "%s: nothing added", cmd)
                 : cli_fail_code(CLI_EXIT_FAIL, e, "%s: %s is not a root certificate", cmd,
                                 bad < n_add ? roots[from[bad]] : "?");
        goto out;
    }
    if ((e = tes_wallet_reader_roots_get(w.wallet, &have, &n)) != TES_OK) {
        cli_fail_code(rc, e, "%s: the wallet's reader roots", cmd);
        goto out;
    }
    if (n == 0) {
        printf("the wallet %s trusts no reader authority (readers are shown as not "
               "authenticated)\n",
               wallet);
    } else {
        printf("the wallet %s trusts readers licensed by (%s/%s):\n", wallet, wallet,
               TES_WALLET_READER_ROOTS);
        for (size_t i = 0; i < n; i++) {
            char until[21];
            tes_time_format(tes_cert_get_info(have[i])->not_after, until);
            printf("  %s (until %s)%s\n", tes_cert_get_info(have[i])->subject, until,
                   i >= n - added ? "  [added]" : "");
        }
    }
    rc = CLI_EXIT_OK;
out:
    for (size_t i = 0; i < n_add; i++)
        tes_cert_free(add[i]);
    for (size_t i = 0; i < n; i++)
        tes_cert_free(have[i]);
    free(have);
    tes_buf_free(&raw);
    cli_wallet_close(&w);
    return rc;
}
