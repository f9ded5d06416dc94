/* tessera authority serve | enrol | revoke | suspend | reinstate — the issuing
 * authority's OpenID4VCI service (also run as `tessera-issuerd`) and the
 * operator's actions on its registry. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/issuer.h"
#include "tessera/registry.h"

#include "cli.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define REGISTRY_FILE "registry.db"
/* Written by `serve` once it listens: the URL offers made by `enrol` point at
 * (unless --public-url says otherwise). */
#define ISSUER_URL_FILE "issuer_url"
#define MAX_URL 1024

/* ---- shared ---- */

/* The authority directory must hold what 'authority init' made. */
static int check_authority(const char *cmd, const char *dir)
{
    static const char *const need[] = {"iaca.pem", "ds.pem", "ds_key.pem"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        char p[PATH_MAX];
        if (!cli_path_in(p, sizeof(p), dir, need[i]))
            return cli_usage_error(cmd, "--dir path too long");
        /* the DS key may be in a PKCS#11 token instead (ds_key.hsm) */
        if (access(p, R_OK) != 0 && strcmp(need[i], "ds_key.pem") == 0 &&
            cli_path_in(p, sizeof(p), dir, TES_DS_HSM_FILE) && access(p, R_OK) == 0)
            continue;
        if (access(p, R_OK) != 0)
            return cli_error(CLI_EXIT_USAGE,
                             "%s: '%s' is not an issuing authority (%s: %s; make one with "
                             "'tessera authority init --dir %s')",
                             cmd, dir, need[i], strerror(errno), dir);
    }
    return CLI_EXIT_OK;
}

/* The registry URL: --db, else DIR/registry.db. */
static int registry_url(const char *cmd, const char *dir, const char *db, char *out, size_t cap)
{
    if (db != NULL) {
        if (snprintf(out, cap, "%s", db) >= (int)cap)
            return cli_usage_error(cmd, "--db too long");
        return CLI_EXIT_OK;
    }
    if (!cli_path_in(out, cap, dir, REGISTRY_FILE))
        return cli_usage_error(cmd, "--dir path too long");
    return CLI_EXIT_OK;
}

/* What an operator is called in the audit log: --operator, else the login
 * name, else "operator". */
static const char *operator_name(const char *given)
{
    if (given != NULL)
        return given;
    const char *u = getenv("USER");
    if (u == NULL || *u == '\0')
        u = getenv("LOGNAME");
    return u != NULL && *u != '\0' ? u : "operator";
}

/* A passwordless URL for printing (postgresql://user:secret@host/db). */
static void redact_url(const char *url, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at != NULL && colon != NULL && colon < at)
        snprintf(out, cap, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(out, cap, "%s", url);
}

/* ---- serve ---- */

/* The service's log: one line on stderr each. */
static void serve_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

typedef struct serve_args {
    const char *dir, *db, *listen, *public_url, *vendor_root, *port_file;
    bool require_uv;
    size_t batch_max, valid_days, status_ttl, status_cache;
    bool have_status_ttl, have_status_cache;
    /* the HTTP layer's defences (0: the library's defaults) */
    size_t max_conns, max_conns_per_addr, request_deadline, idle_timeout, max_body, rate_limit;
    int hsm_pin_fd; /* token PIN of an HSM-held DS key; -1: TESSERA_HSM_PIN */
    /* budgets and the /nonce rate (tes_issuer_config): 0 the default, -1 no limit */
    int64_t per_offer, per_person, budget_period;
    int nonce_rate;
} serve_args;

static int serve(const char *cmd, const serve_args *a)
{
    int rc = check_authority(cmd, a->dir);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (a->vendor_root && access(a->vendor_root, R_OK) != 0)
        return cli_error(CLI_EXIT_USAGE, "%s: --vendor-root %s: %s", cmd, a->vendor_root,
                         strerror(errno));
    char db[PATH_MAX + 64];
    if ((rc = registry_url(cmd, a->dir, a->db, db, sizeof(db))) != CLI_EXIT_OK)
        return rc;

    /* SIGINT and SIGTERM are taken by sigwait below: blocked here, before
     * the service's threads start, so that none of them gets the signal. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigset_t old;
    if (pthread_sigmask(SIG_BLOCK, &stop, &old) != 0)
        return cli_error(CLI_EXIT_USAGE, "%s: cannot block signals", cmd);
    signal(SIGPIPE, SIG_IGN);

    tes_issuer_config c = {
        .authority_dir = a->dir,
        .db_url = db,
        .listen = a->listen ? a->listen : DEFAULT_LISTEN,
        .public_url = a->public_url,
        .vendor_roots = a->vendor_root,
        /* without --vendor-root: development, unattested keys accepted (as before) */
        .attestation = a->vendor_root ? TES_ATTESTATION_REQUIRED : TES_ATTESTATION_NOT_REQUIRED,
        .require_uv = a->require_uv,
        .batch_max = a->batch_max,
        .valid_days = (int64_t)a->valid_days,
        .status_ttl = a->have_status_ttl ? (int64_t)a->status_ttl : 0,
        .status_cache = a->have_status_cache ? (a->status_cache ? (int64_t)a->status_cache : -1) : 0,
        .credentials_per_offer = a->per_offer,
        .credentials_per_person = a->per_person,
        .budget_period = a->budget_period,
        .nonce_rate_limit = a->nonce_rate,
        .max_connections = a->max_conns,
        .max_connections_per_ip = a->max_conns_per_addr,
        .request_deadline = (int64_t)a->request_deadline,
        .idle_timeout = (int64_t)a->idle_timeout,
        .max_body = a->max_body,
        .rate_limit = (int)a->rate_limit,
        .log = serve_log,
    };
    char hsm_pin[CLI_PIN_MAX];
    if ((rc = cli_hsm_pin_read(cmd, a->hsm_pin_fd, hsm_pin, &c.hsm_pin)) != CLI_EXIT_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    tes_issuer *s = NULL;
    int port = 0;
    tes_err e = tes_issuer_start(&c, &s, &port);
    tes_wipe(hsm_pin, sizeof(hsm_pin)); /* verified and logged in: not needed any more */
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: starting the service on %s", cmd, c.listen);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    /* The URL it serves at: --public-url, else http://HOST:PORT with the
     * port actually bound. */
    char url[MAX_URL];
    if (a->public_url) {
        snprintf(url, sizeof(url), "%s", a->public_url);
    } else {
        const char *colon = strrchr(c.listen, ':');
        int hostlen = colon ? (int)(colon - c.listen) : (int)strlen(c.listen);
        snprintf(url, sizeof(url), "http://%.*s:%d", hostlen, c.listen, port);
    }
    char path[PATH_MAX];
    if (!cli_path_in(path, sizeof(path), a->dir, ISSUER_URL_FILE) ||
        cli_write_file(path, TES_BYTES(url, strlen(url)), CLI_FILE_PUBLIC) != TES_OK) {
        rc = cli_fail(CLI_EXIT_USAGE, "%s: recording the URL in %s", cmd, a->dir);
        goto stop;
    }
    if (a->port_file) {
        char p[16];
        int n = snprintf(p, sizeof(p), "%d\n", port);
        if (cli_write_file(a->port_file, TES_BYTES(p, (size_t)n), CLI_FILE_PUBLIC) != TES_OK) {
            rc = cli_fail(CLI_EXIT_USAGE, "%s: writing --port-file", cmd);
            goto stop;
        }
    }
    char shown_db[PATH_MAX + 64];
    redact_url(db, shown_db, sizeof(shown_db));
    printf("serving OpenID4VCI at %s\n", url);
    fflush(stdout);
    fprintf(stderr,
            "  authority %s, registry %s, listening on port %d\n"
            "  key attestation: %s%s\n"
            "  stop with Ctrl-C (SIGINT) or SIGTERM\n",
            a->dir, shown_db, port,
            a->vendor_root ? "required, vendors in " : "not required (development)",
            a->vendor_root ? a->vendor_root : "");
    if (a->require_uv)
        fprintf(stderr, "  keys must need the holder's PIN (--require-uv)\n");

    int sig = 0;
    for (;;) {
        int r = sigwait(&stop, &sig);
        if (r == 0)
            break;
        if (r != EINTR) {
            rc = cli_error(CLI_EXIT_USAGE, "%s: sigwait: %s", cmd, strerror(r));
            goto stop;
        }
    }
    fprintf(stderr, "%s: stopping (%s)\n", cmd, strsignal(sig));
    rc = CLI_EXIT_OK;
stop:
    tes_issuer_stop(s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int cmd_authority_serve(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("authority serve", &opts);
    const char *cmd = "authority serve";
    serve_args a = {.hsm_pin_fd = -1};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a.dir = optarg;
            break;
        case 'b':
            a.db = optarg;
            break;
        case 'l':
            a.listen = optarg;
            break;
        case 'u':
            a.public_url = optarg;
            break;
        case 'v':
            a.vendor_root = optarg;
            break;
        case 'U':
            a.require_uv = true;
            break;
        case 'B':
            if (!cli_parse_size(optarg, 1000, &a.batch_max) || a.batch_max == 0)
                return cli_usage_error(cmd, "--batch-max needs 1..1000, not '%s'", optarg);
            break;
        case 'V':
            if (!cli_parse_size(optarg, 36500, &a.valid_days) || a.valid_days == 0)
                return cli_usage_error(cmd, "--valid-days needs 1..36500, not '%s'", optarg);
            break;
        case 'K':
            if (!cli_parse_size(optarg, 86400, &a.status_cache))
                return cli_usage_error(cmd, "--status-cache needs seconds, not '%s'", optarg);
            a.have_status_cache = true;
            break;
        case 'T':
            if (!cli_parse_size(optarg, 366 * 86400, &a.status_ttl))
                return cli_usage_error(cmd, "--status-ttl needs seconds, not '%s'", optarg);
            a.have_status_ttl = true;
            break;
        case 'C':
            if (!cli_parse_size(optarg, 100000, &a.max_conns) || a.max_conns == 0)
                return cli_usage_error(cmd, "--max-connections needs 1..100000, not '%s'", optarg);
            break;
        case 'A':
            if (!cli_parse_size(optarg, 100000, &a.max_conns_per_addr) || a.max_conns_per_addr == 0)
                return cli_usage_error(
                    cmd, "--max-connections-per-address needs 1..100000, not '%s'", optarg);
            break;
        case 'D':
            if (!cli_parse_size(optarg, 3600, &a.request_deadline) || a.request_deadline == 0)
                return cli_usage_error(cmd, "--request-deadline needs 1..3600 seconds, not '%s'",
                                       optarg);
            break;
        case 'I':
            if (!cli_parse_size(optarg, 3600, &a.idle_timeout) || a.idle_timeout == 0)
                return cli_usage_error(cmd, "--idle-timeout needs 1..3600 seconds, not '%s'",
                                       optarg);
            break;
        case 'M':
            if (!cli_parse_size(optarg, (size_t)64 << 20, &a.max_body) || a.max_body == 0)
                return cli_usage_error(cmd, "--max-body needs 1..67108864 bytes, not '%s'", optarg);
            break;
        case 'R':
            if (!cli_parse_size(optarg, 1000000, &a.rate_limit) || a.rate_limit == 0)
                return cli_usage_error(cmd, "--rate-limit needs 1..1000000 a minute, not '%s'",
                                       optarg);
            break;
        case 'p':
            a.port_file = optarg;
            break;
        case 'P':
            if (!cli_parse_fd(optarg, &a.hsm_pin_fd) || fcntl(a.hsm_pin_fd, F_GETFD) == -1)
                return cli_usage_error(cmd, "--hsm-pin-fd needs an open file descriptor, not "
                                            "'%s'",
                                       optarg);
            break;
        case 'O':
        case 'Q':
        case 'N': {
            /* 0 on the command line: no limit */
            size_t v = 0;
            if (!cli_parse_size(optarg, 1000000000, &v))
                return cli_usage_error(cmd, "--%s needs a count (0: no limit), not '%s'",
                                       c == 'O'   ? "credentials-per-offer"
                                       : c == 'Q' ? "credentials-per-person"
                                                  : "nonce-rate",
                                       optarg);
            int64_t lim = v ? (int64_t)v : -1;
            if (c == 'O')
                a.per_offer = lim;
            else if (c == 'Q')
                a.per_person = lim;
            else
                a.nonce_rate = (int)lim;
            break;
        }
        case 'W': {
            size_t v = 0;
            if (!cli_parse_size(optarg, 366 * 86400, &v) || v == 0)
                return cli_usage_error(cmd, "--budget-period needs seconds (1..%d), not '%s'",
                                       366 * 86400, optarg);
            a.budget_period = (int64_t)v;
            break;
        }
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (a.dir == NULL || *a.dir == '\0')
        return cli_usage_error(cmd, "missing --dir (made by 'tessera authority init')");
    if (a.listen && strchr(a.listen, ':') == NULL)
        return cli_usage_error(cmd, "--listen needs HOST:PORT, not '%s'", a.listen);
    if (a.public_url && strncmp(a.public_url, "http://", 7) != 0 &&
        strncmp(a.public_url, "https://", 8) != 0)
        return cli_usage_error(cmd, "--public-url must be an http:// or https:// URL");
    return serve(cmd, &a);
}

/* ---- enrol ---- */

/* Replaces every {"file": "path"} (relative to base) by {"b64u": "..."}: the
 * registry keeps the claims as text, and the service that issues them later
 * runs elsewhere. */
static int inline_files(const char *cmd, json_t *v, const char *base)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (inline_files(cmd, x, base) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_OK;
    }
    if (!json_is_object(v))
        return CLI_EXIT_OK;
    json_t *f = json_object_get(v, "file");
    if (json_object_size(v) == 1 && json_is_string(f)) {
        const char *rel = json_string_value(f);
        char path[PATH_MAX];
        if ((rel[0] == '/' ? snprintf(path, sizeof(path), "%s", rel)
                           : snprintf(path, sizeof(path), "%s/%s", base, rel)) >= (int)sizeof(path))
            return cli_usage_error(cmd, "claims: file path too long: %s", rel);
        tes_buf data = {0}, text = {0};
        if (cli_read_file(path, &data) != TES_OK)
            return cli_fail(CLI_EXIT_USAGE, "%s: claims: reading %s", cmd, path);
        tes_b64url_encode(&text, tes_buf_bytes(&data));
        tes_buf_free(&data);
        int rc = CLI_EXIT_OK;
        if (text.failed || json_object_del(v, "file") != 0 ||
            json_object_set_new(v, "b64u", json_stringn((const char *)text.ptr, text.len)) != 0)
            rc = cli_error(CLI_EXIT_USAGE, "%s: out of memory", cmd);
        tes_buf_free(&text);
        return rc;
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        if (inline_files(cmd, x, base) != CLI_EXIT_OK)
            return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

typedef struct enrol_args {
    const char *dir, *db, *claims, *doctype, *public_url, *operator_name, *qr_png;
    bool json;
} enrol_args;

static int enrol(const char *cmd, const enrol_args *a)
{
    int rc = check_authority(cmd, a->dir);
    if (rc != CLI_EXIT_OK)
        return rc;
    char db[PATH_MAX + 64], url[MAX_URL] = "";
    if ((rc = registry_url(cmd, a->dir, a->db, db, sizeof(db))) != CLI_EXIT_OK)
        return rc;
    if (a->public_url) {
        snprintf(url, sizeof(url), "%s", a->public_url);
    } else {
        char p[PATH_MAX];
        tes_buf raw = {0};
        if (!cli_path_in(p, sizeof(p), a->dir, ISSUER_URL_FILE) ||
            tes_file_read(p, MAX_URL - 1, &raw) != TES_OK) {
            tes_buf_free(&raw);
            return cli_usage_error(cmd, "no --public-url, and %s has no %s (it is written by "
                                        "'tessera authority serve'): give the URL the wallet "
                                        "reaches the service at",
                                   a->dir, ISSUER_URL_FILE);
        }
        size_t n = raw.len;
        while (n > 0 && (raw.ptr[n - 1] == '\n' || raw.ptr[n - 1] == '\r'))
            n--;
        snprintf(url, sizeof(url), "%.*s", (int)n, (const char *)raw.ptr);
        tes_buf_free(&raw);
    }

    /* The claims, with files inlined. */
    tes_buf raw = {.secret = true};
    if (cli_read_secret(a->claims, &raw) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s: reading the claims", cmd);
    json_error_t jerr;
    json_t *claims = json_loadb((const char *)raw.ptr, raw.len, JSON_REJECT_DUPLICATES, &jerr);
    tes_buf_free(&raw);
    if (claims == NULL)
        return cli_error(CLI_EXIT_FAIL, "%s: claims %s: not JSON (line %d: %s)", cmd, a->claims,
                         jerr.line, jerr.text);
    char dirbuf[PATH_MAX];
    snprintf(dirbuf, sizeof(dirbuf), "%s", a->claims);
    const char *base = dirname(dirbuf);
    char *text = NULL;
    tes_buf offer = {0};
    char tx[16] = "", recovery[32] = "";
    int64_t person = 0;
    if ((rc = inline_files(cmd, claims, base)) != CLI_EXIT_OK)
        goto out;
    text = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        rc = cli_error(CLI_EXIT_USAGE, "%s: out of memory", cmd);
        goto out;
    }
    const tes_issuer_config c = {
        .authority_dir = a->dir,
        .db_url = db,
        .public_url = url,
    };
    tes_err e = tes_issuer_enrol(&c, a->doctype, text, operator_name(a->operator_name), &offer, tx,
                                 &person, recovery);
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: enrolling from %s", cmd, a->claims);
        goto out;
    }
    tes_buf_append(&offer, "", 1);
    if (offer.failed) {
        rc = cli_error(CLI_EXIT_USAGE, "%s: out of memory", cmd);
        goto out;
    }
    const char *uri = (const char *)offer.ptr;
    if (a->qr_png && cli_qr_write_png(a->qr_png, uri) != TES_OK) {
        rc = cli_fail(CLI_EXIT_USAGE, "%s: writing the QR code", cmd);
        goto out;
    }
    if (a->json) {
        json_t *j = json_pack("{sIssssssssssss?}", "person", (json_int_t)person, "doctype",
                              a->doctype, "offer", uri, "tx_code", tx, "recovery_code", recovery,
                              "credential_issuer", url, "qr_png", a->qr_png);
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (s == NULL) {
            rc = cli_error(CLI_EXIT_USAGE, "%s: out of memory", cmd);
            goto out;
        }
        puts(s);
        free(s);
    } else {
        printf("enrolled person %lld for %s\n", (long long)person, a->doctype);
        printf("credential offer (for the citizen's wallet; 'tessera wallet enrol --offer-file F'):\n");
        printf("offer: %s\n", uri);
        fflush(stdout);
        if (cli_qr_print(stdout, uri, isatty(STDOUT_FILENO) ? CLI_QR_ANSI : CLI_QR_PLAIN) !=
            TES_OK) {
            rc = cli_fail(CLI_EXIT_USAGE, "%s: drawing the QR code", cmd);
            goto out;
        }
        printf("transaction code: tell the citizen: %s\n", tx);
        printf("(say it at the counter; never send it with the offer. The offer and its code\n"
               " work once, expire, and die after 5 wrong codes.)\n");
        printf("person id: %lld\n", (long long)person);
        printf("recovery code for a lost phone: %s\n", recovery);
        printf("(print it for the citizen to keep away from the phone: with it, 'tessera wallet\n"
               " report-lost --issuer %s' (it asks for the code) suspends the eID\n"
               " from any device. Shown only now.)\n",
               url);
    }
    rc = CLI_EXIT_OK;
out:
    tes_wipe(tx, sizeof(tx));
    tes_wipe(recovery, sizeof(recovery));
    tes_buf_free(&offer);
    if (text) {
        tes_wipe(text, strlen(text));
        free(text);
    }
    json_decref(claims);
    return rc;
}

int cmd_authority_enrol(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("authority enrol", &opts);
    const char *cmd = "authority enrol";
    enrol_args a = {.doctype = TES_DOCTYPE_PID};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a.dir = optarg;
            break;
        case 'b':
            a.db = optarg;
            break;
        case 'c':
            a.claims = optarg;
            break;
        case 't':
            a.doctype = optarg;
            break;
        case 'u':
            a.public_url = optarg;
            break;
        case 'o':
            a.operator_name = optarg;
            break;
        case 'q':
            a.qr_png = optarg;
            break;
        case 'j':
            a.json = true;
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
    if (a.dir == NULL || *a.dir == '\0')
        return cli_usage_error(cmd, "missing --dir (made by 'tessera authority init')");
    if (a.claims == NULL)
        return cli_usage_error(cmd, "missing --claims PERSON.json");
    if (a.operator_name && *a.operator_name == '\0')
        return cli_usage_error(cmd, "--operator must not be empty");
    return enrol(cmd, &a);
}

/* ---- revoke / suspend / reinstate ---- */

int cmd_authority_status(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("authority revoke", &opts);
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "authority %s", argv[0]);
    tes_status_value v;
    const char *done;
    if (strcmp(argv[0], "revoke") == 0) {
        v = TES_STATUS_REVOKED;
        done = "revoked";
    } else if (strcmp(argv[0], "suspend") == 0) {
        v = TES_STATUS_SUSPENDED;
        done = "suspended";
    } else {
        v = TES_STATUS_VALID;
        done = "reinstated";
    }
    const char *dir = NULL, *db = NULL, *op = NULL, *device = NULL;
    size_t cred = 0, person = 0;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'b':
            db = optarg;
            break;
        case 'c':
            if (!cli_parse_size(optarg, (size_t)INT64_MAX, &cred) || cred == 0)
                return cli_usage_error(cmd, "--credential needs a credential id, not '%s'", optarg);
            break;
        case 'p':
            if (!cli_parse_size(optarg, (size_t)INT64_MAX, &person) || person == 0)
                return cli_usage_error(cmd, "--person needs a person id, not '%s'", optarg);
            break;
        case 'D': {
            bool hex = strlen(optarg) == 64;
            for (size_t i = 0; hex && i < 64; i++)
                hex = strchr("0123456789abcdefABCDEF", optarg[i]) != NULL;
            if (!hex)
                return cli_usage_error(cmd,
                                       "--device needs a device id (64 hex digits, as 'tessera "
                                       "wallet device-id' prints), not '%s'",
                                       optarg);
            device = optarg;
            break;
        }
        case 'o':
            op = optarg;
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
        return cli_usage_error(cmd, "missing --dir (made by 'tessera authority init')");
    if (device != NULL && cred != 0)
        return cli_usage_error(cmd, "--device and --credential do not go together");
    if (device == NULL && (cred == 0) == (person == 0))
        return cli_usage_error(cmd, "give exactly one of --credential ID, --person ID and "
                                    "--device ID (with --device, --person limits it to the "
                                    "person)");
    if (op && *op == '\0')
        return cli_usage_error(cmd, "--operator must not be empty");
    char url[PATH_MAX + 64];
    int rc = registry_url(cmd, dir, db, url, sizeof(url));
    if (rc != CLI_EXIT_OK)
        return rc;
    if (db == NULL && access(url, F_OK) != 0)
        return cli_error(CLI_EXIT_USAGE,
                         "%s: %s has no registry (%s): nothing was ever issued from it",
                         cmd, dir, url);
    tes_registry *r = NULL;
    tes_err e = tes_registry_open(url, &r);
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e, "%s: opening the registry", cmd);
    size_t changed = 0;
    if (device != NULL)
        e = tes_registry_set_status_by_device(r, device, (int64_t)person, v, operator_name(op),
                                              &changed);
    else
        e = tes_registry_set_status(r, (int64_t)cred, (int64_t)person, v, operator_name(op),
                                    &changed);
    if (e != TES_OK) {
        /* No such credential or person, or reinstating a revoked one: the
         * request failed on its input. */
        rc = cli_fail_code(e == TES_ERR_NOT_FOUND || e == TES_ERR_STATE ? CLI_EXIT_FAIL
                                                                          : cli_exit_for(e),
                           e, "%s", cmd);
    } else {
        if (device)
            printf("%s the credentials on device %.16s...: %zu credential%s changed\n", done,
                   device, changed, changed == 1 ? "" : "s");
        else if (cred)
            printf("%s credential %zu: %zu credential%s changed\n", done, cred, changed,
                   changed == 1 ? "" : "s");
        else
            printf("%s the credentials of person %zu: %zu credential%s changed\n", done, person,
                   changed, changed == 1 ? "" : "s");
        fprintf(stderr,
                "the status lists served from now on say so; verifiers see it when they next "
                "fetch the list (within its ttl)\n");
        rc = CLI_EXIT_OK;
    }
    tes_registry_close(r);
    return rc;
}
