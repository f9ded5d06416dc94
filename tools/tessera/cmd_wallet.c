/* tessera wallet — the holder's wallet: a store of credentials whose keys live
 * in a secure element (software SE or a PKCS#11 token). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tessera/mdoc.h"

#include "cli.h"

#define MAX_COPIES 256
#define MAX_CHALLENGE 1024

/* ---- small helpers ---- */

static void fmt_time(int64_t t, char out[21])
{
    tes_time_format(t, out);
}

static void print_caps(FILE *f, uint32_t caps)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {TES_SE_CAP_HARDWARE, "hardware"},
        {TES_SE_CAP_PIN_LOCKOUT, "pin-lockout"},
        {TES_SE_CAP_USER_VERIFICATION, "user-verification"},
        {TES_SE_CAP_SINGLE_USE, "single-use"},
        {TES_SE_CAP_ECDH_EXPORT, "ecdh-export"},
        {TES_SE_CAP_ATTESTATION, "attestation"},
        {TES_SE_CAP_ROLLBACK, "rollback"},
        {TES_SE_CAP_PSEUDONYM, "pseudonym"},
    };
    bool any = false;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (caps & names[i].bit) {
            fprintf(f, "%s%s", any ? ", " : "", names[i].name);
            any = true;
        }
    if (!any)
        fputs("(none: Tessera enforces every protection itself)", f);
    if (caps & TES_SE_CAP_TEXT_PIN)
        fputs("; PIN and PUK are the token's (text)", f);
}

/* Parses the common options of a wallet subcommand: returns -1 to go on, or
 * an exit code. */
typedef struct wopts {
    const char *wallet;
    int pin_fd;
    bool json;
} wopts;

/* ---- wallet init ---- */

/* Checks "soft" / "pkcs11:MODULE[:LABEL]" and makes a relative module path
 * absolute (the wallet may be used from another directory later). */
static int parse_se_spec(const char *in, char *spec, size_t cap)
{
    if (strcmp(in, "soft") == 0) {
        snprintf(spec, cap, "soft:%s", CLI_WALLET_SE_DIR);
        return CLI_EXIT_OK;
    }
    if (strncmp(in, "pkcs11:", 7) != 0 || in[7] == '\0' || in[7] == ':')
        return cli_usage_error(
            "wallet init", "--se must be 'soft' or 'pkcs11:MODULE_PATH[:TOKEN_LABEL]', not '%s'",
            in);
    const char *module = in + 7;
    const char *colon = strchr(module, ':');
    size_t mlen = colon ? (size_t)(colon - module) : strlen(module);
    char mod[PATH_MAX];
    if (mlen >= sizeof(mod))
        return cli_usage_error("wallet init", "--se module path too long");
    memcpy(mod, module, mlen);
    mod[mlen] = '\0';
    char abs[PATH_MAX];
    const char *use = mod;
    if (strchr(mod, '/') != NULL && mod[0] != '/') {
        if (realpath(mod, abs) == NULL)
            return cli_error(CLI_EXIT_USAGE, "wallet init: PKCS#11 module '%s': %s", mod,
                             strerror(errno));
        use = abs;
    }
    if (snprintf(spec, cap, "pkcs11:%s%s", use, colon ? colon : "") >= (int)cap)
        return cli_usage_error("wallet init", "--se too long");
    return CLI_EXIT_OK;
}

static int wallet_init(const char *dir, const char *se_arg, const char *vendor)
{
    const char *cmd = "wallet init";
    char spec[PATH_MAX + 16];
    int rc = parse_se_spec(se_arg, spec, sizeof(spec));
    if (rc != CLI_EXIT_OK)
        return rc;
    bool soft = strncmp(spec, "soft:", 5) == 0;
    if (vendor != NULL && !soft)
        return cli_usage_error(cmd, "--vendor provisions the software secure element only "
                                    "(a PKCS#11 token has no Tessera attestation key)");
    if (vendor != NULL) {
        char vp[PATH_MAX], vk[PATH_MAX];
        if (!cli_path_in(vp, sizeof(vp), vendor, "vendor.pem") ||
            !cli_path_in(vk, sizeof(vk), vendor, "vendor_key.pem"))
            return cli_usage_error(cmd, "--vendor path too long");
        if (access(vp, R_OK) != 0 || access(vk, R_OK) != 0)
            return cli_error(CLI_EXIT_USAGE,
                             "%s: '%s' is not a vendor directory (needs vendor.pem and "
                             "vendor_key.pem; make one with 'tessera vendor init')",
                             cmd, vendor);
    }

    tes_wallet *w = NULL;
    const tes_wallet_create_opts co = {.se_spec = spec, .vendor_dir = vendor};
    tes_err e = tes_wallet_create(dir, &co, &w);
    if (e == TES_ERR_ARG)
        return cli_usage_error(cmd, "%s", tes_err_message());
    if (e == TES_ERR_EXISTS || e == TES_ERR_DIR_UNSAFE || e == TES_ERR_IO)
        return cli_error(CLI_EXIT_USAGE, "%s: %s", cmd, tes_err_message());
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e,
                             "%s: creating the wallet in %s (secure element '%s')", cmd, dir,
                             soft ? "soft" : spec);
    tes_se *se = tes_wallet_se(w);
    printf("created wallet in %s\n", dir);
    printf("  %-10s credentials, their copies and the transaction log (SQLite)\n", CLI_WALLET_DB);
    if (soft)
        printf("  %-10s the software secure element (sealed state, device key 0600)\n",
               CLI_WALLET_SE_DIR "/");
    else
        printf("  %-10s Tessera's own PIN counters for the token\n", CLI_WALLET_SE_DIR "/");
    printf("  secure element: %s (%s); capabilities: ", se->ops->name, soft ? "soft" : spec);
    print_caps(stdout, tes_se_caps(se));
    printf("\n");
    if (vendor)
        printf("  attestation: provisioned with the vendor root in %s\n", vendor);
    printf("next: set the PIN with 'tessera wallet pin set --wallet %s'\n", dir);
    tes_wallet_close(w);
    return CLI_EXIT_OK;
}

static int cmd_init(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet init", &opts);
    const char *cmd = "wallet init";
    const char *dir = NULL, *se = "soft", *vendor = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 's':
            se = optarg;
            break;
        case 'v':
            vendor = optarg;
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
    return wallet_init(dir, se, vendor);
}

/* ---- common option parsing for --wallet / --pin-fd / --json ---- */

/* Whether this command reads --pin-fd: "wallet pin status" shares the table of
 * "wallet pin" but asks for nothing. (--json needs no such rule: each command's
 * getopt table from commands.c holds it only where it belongs.) */
enum pin_fd_rule { PIN_FD_REFUSED, PIN_FD_READ };

static int parse_wallet_opts(const char *cmd, int argc, char **argv, enum pin_fd_rule pin_fd,
                             wopts *o)
{
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    *o = (wopts){.pin_fd = -1};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            o->wallet = optarg;
            break;
        case 'p':
            if (pin_fd == PIN_FD_REFUSED)
                return cli_usage_error(cmd, "unknown option '--pin-fd'");
            if (!cli_parse_fd(optarg, &o->pin_fd))
                return cli_usage_error(cmd, "--pin-fd needs a file descriptor number, not '%s'",
                                       optarg);
            break;
        case 'j':
            o->json = true;
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
    if (o->wallet == NULL || *o->wallet == '\0')
        return cli_usage_error(cmd, "missing --wallet");
    int rc = cli_pin_check_fd(cmd, o->pin_fd);
    return rc != CLI_EXIT_OK ? rc : -1;
}

/* ---- wallet pin ---- */

static int pin_status(cli_wallet *w)
{
    tes_wallet_pin_state st;
    tes_err e = tes_wallet_pin_status(w->wallet, &st);
    if (e != TES_OK)
        return cli_se_fail(w, e, "wallet pin status");
    if (!st.set)
        printf("PIN: not set\n");
    else if (st.blocked)
        printf("PIN: blocked for good (no PUK tries left)\n");
    else if (st.locked)
        printf("PIN: locked (unblock with the PUK); PUK tries left: %d of %d\n",
               st.puk_tries_left, TES_SE_PUK_TRIES);
    else
        printf("PIN: set; tries left: %d of %d; PUK tries left: %d of %d\n", st.pin_tries_left,
               TES_SE_PIN_TRIES, st.puk_tries_left, TES_SE_PUK_TRIES);
    return CLI_EXIT_OK;
}

static int cmd_pin(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc < 2)
            return cli_usage_error("wallet pin", "missing set, change, unblock or status");
        cli_help("wallet pin");
        return CLI_EXIT_OK;
    }
    const char *what = argv[1];
    enum { SET, CHANGE, UNBLOCK, STATUS } op;
    if (strcmp(what, "set") == 0)
        op = SET;
    else if (strcmp(what, "change") == 0)
        op = CHANGE;
    else if (strcmp(what, "unblock") == 0)
        op = UNBLOCK;
    else if (strcmp(what, "status") == 0)
        op = STATUS;
    else
        return cli_usage_error("wallet pin", "unknown action '%s' (set, change, unblock, status)",
                               what);
    const char *cmd = "wallet pin";
    wopts o;
    int rc =
        parse_wallet_opts(cmd, argc - 1, argv + 1, op == STATUS ? PIN_FD_REFUSED : PIN_FD_READ, &o);
    if (rc >= 0)
        return rc;
    cli_wallet w;
    if ((rc = cli_wallet_open(cmd, o.wallet, &w)) != CLI_EXIT_OK)
        return rc;
    if (op == STATUS) {
        rc = pin_status(&w);
        cli_wallet_close(&w);
        return rc;
    }
    char a[CLI_PIN_MAX] = "", b[CLI_PIN_MAX] = "";
    tes_err e = TES_OK;
    switch (op) {
    case SET:
        if ((rc = cli_pin_read_new(cmd, o.pin_fd, "new PIN", a)) == CLI_EXIT_OK &&
            (rc = cli_pin_read_new(cmd, o.pin_fd, "new PUK", b)) == CLI_EXIT_OK) {
            e = tes_wallet_pin_set(w.wallet, a, b);
            rc = e == TES_OK ? CLI_EXIT_OK : cli_se_fail(&w, e, "wallet pin set");
        }
        break;
    case CHANGE:
        if ((rc = cli_pin_read(cmd, o.pin_fd, "current PIN", a)) == CLI_EXIT_OK &&
            (rc = cli_pin_read_new(cmd, o.pin_fd, "new PIN", b)) == CLI_EXIT_OK) {
            e = tes_wallet_pin_change(w.wallet, a, b);
            rc = e == TES_OK ? CLI_EXIT_OK : cli_se_fail(&w, e, "wallet pin change");
        }
        break;
    case UNBLOCK:
        if ((rc = cli_pin_read(cmd, o.pin_fd, "PUK", a)) == CLI_EXIT_OK &&
            (rc = cli_pin_read_new(cmd, o.pin_fd, "new PIN", b)) == CLI_EXIT_OK) {
            e = tes_wallet_pin_unblock(w.wallet, a, b);
            rc = e == TES_OK ? CLI_EXIT_OK : cli_se_fail(&w, e, "wallet pin unblock");
        }
        break;
    case STATUS:
        break;
    }
    tes_wipe(a, sizeof(a));
    tes_wipe(b, sizeof(b));
    if (rc == CLI_EXIT_OK)
        fprintf(stderr, "%s\n",
                op == SET      ? "PIN and PUK set"
                : op == CHANGE ? "PIN changed"
                               : "PIN unblocked and replaced; tries reset");
    cli_wallet_close(&w);
    return rc;
}

/* ---- wallet list ---- */

static int cmd_list(int argc, char **argv)
{
    const char *cmd = "wallet list";
    wopts o;
    int rc = parse_wallet_opts(cmd, argc, argv, PIN_FD_REFUSED, &o);
    if (rc >= 0)
        return rc;
    cli_wallet w;
    if ((rc = cli_wallet_open(cmd, o.wallet, &w)) != CLI_EXIT_OK)
        return rc;
    tes_store_cred *creds = NULL;
    size_t n = 0;
    tes_err e = tes_wallet_list(w.wallet, &creds, &n);
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: reading the store", cmd);
        goto out;
    }
    if (o.json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            char f[21], u[21], a[21];
            fmt_time(creds[i].valid_from, f);
            fmt_time(creds[i].valid_until, u);
            fmt_time(creds[i].created_at, a);
            bool single = creds[i].single_use;
            bool uv = creds[i].needs_pin;
            json_array_append_new(
                arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:b, s:s}", "id",
                               (json_int_t)creds[i].id, "docType",
                               creds[i].doctype ? creds[i].doctype : "", "name",
                               creds[i].display_name ? creds[i].display_name : "", "issuer",
                               creds[i].issuer ? creds[i].issuer : "", "validFrom", f, "validUntil",
                               u, "copies", (json_int_t)creds[i].copies, "copiesLeft",
                               (json_int_t)(single ? creds[i].unused_copies : creds[i].copies),
                               "singleUse", single, "needsPin", uv, "added", a));
        }
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(arr);
        if (s == NULL) {
            rc = cli_error(CLI_EXIT_USAGE, "out of memory");
            goto out;
        }
        printf("%s\n", s);
        free(s);
    } else if (n == 0) {
        printf("no credentials in %s\n", o.wallet);
        rc = cli_wallet_list_keys(&w);
        goto out;
    } else {
        int64_t now = (int64_t)time(NULL);
        for (size_t i = 0; i < n; i++) {
            const tes_store_cred *c = &creds[i];
            char f[21], u[21];
            fmt_time(c->valid_from, f);
            fmt_time(c->valid_until, u);
            bool single = c->single_use;
            bool uv = c->needs_pin;
            printf("%lld  %s  (%s)%s\n", (long long)c->id, c->display_name ? c->display_name : "",
                   c->doctype ? c->doctype : "", uv ? "  needs the PIN" : "");
            printf("    issuer:      %s\n", c->issuer ? c->issuer : "");
            printf("    valid:       %s .. %s%s\n", f, u,
                   now > c->valid_until  ? "  (EXPIRED)"
                   : now < c->valid_from ? "  (not yet valid)"
                                         : "");
            if (single)
                printf("    copies left: %lld of %lld (single-use)\n", (long long)c->unused_copies,
                       (long long)c->copies);
            else
                printf("    copies left: %lld of %lld (reusable; %lld shown at least once)\n",
                       (long long)c->copies, (long long)c->copies,
                       (long long)(c->copies - c->unused_copies));
        }
        rc = cli_wallet_list_keys(&w);
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    tes_store_creds_free(creds, n);
    cli_wallet_close(&w);
    return rc;
}

/* ---- wallet log ---- */

static json_t *elements_json(const char *list)
{
    json_t *arr = json_array();
    if (list == NULL)
        return arr;
    char *copy = strdup(list);
    if (copy == NULL)
        return arr;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(t);
        bool retain = len > 0 && t[len - 1] == '*';
        if (retain)
            t[--len] = '\0';
        char *slash = strrchr(t, '/');
        json_t *item = slash ? json_pack("{s:s%, s:s, s:b}", "namespace", t, (size_t)(slash - t),
                                         "element", slash + 1, "intentToRetain", retain)
                             : json_pack("{s:n, s:s, s:b}", "namespace", "element", t,
                                         "intentToRetain", retain);
        json_array_append_new(arr, item);
    }
    free(copy);
    return arr;
}

static int cmd_log(int argc, char **argv)
{
    const char *cmd = "wallet log";
    wopts o;
    int rc = parse_wallet_opts(cmd, argc, argv, PIN_FD_REFUSED, &o);
    if (rc >= 0)
        return rc;
    cli_wallet w;
    if ((rc = cli_wallet_open(cmd, o.wallet, &w)) != CLI_EXIT_OK)
        return rc;
    tes_store_log_entry *ents = NULL;
    size_t n = 0;
    tes_err e = tes_wallet_log(w.wallet, &ents, &n);
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: reading the log", cmd);
        goto out;
    }
    if (o.json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            char at[21];
            fmt_time(ents[i].at, at);
            json_array_append_new(
                arr, json_pack("{s:I, s:s, s:I, s:s, s:o, s:s}", "id", (json_int_t)ents[i].id, "at",
                               at, "credential", (json_int_t)ents[i].cred_id, "relyingParty",
                               ents[i].relying_party ? ents[i].relying_party : "", "elements",
                               elements_json(ents[i].elements), "outcome",
                               ents[i].outcome ? ents[i].outcome : ""));
        }
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(arr);
        if (s == NULL) {
            rc = cli_error(CLI_EXIT_USAGE, "out of memory");
            goto out;
        }
        printf("%s\n", s);
        free(s);
    } else if (n == 0) {
        printf("no transactions in %s\n", o.wallet);
    } else {
        for (size_t i = 0; i < n; i++) {
            char at[21];
            fmt_time(ents[i].at, at);
            printf("%s  credential %lld  to %s: %s\n", at, (long long)ents[i].cred_id,
                   ents[i].relying_party ? ents[i].relying_party : "?",
                   ents[i].outcome ? ents[i].outcome : "?");
            if (ents[i].elements && *ents[i].elements)
                printf("    elements: %s\n", ents[i].elements);
        }
        printf("(* = the relying party announced it will keep the element)\n");
    }
    rc = CLI_EXIT_OK;
out:
    tes_store_log_free(ents, n);
    cli_wallet_close(&w);
    return rc;
}

/* ---- wallet keygen ---- */

static int cmd_keygen(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet keygen", &opts);
    const char *cmd = "wallet keygen";
    const char *wallet = NULL, *challenge_hex = NULL, *out = NULL, *att_out = NULL;
    bool attest = false;
    int pin_fd = -1;
    tes_se_key_opts ko = {0};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wallet = optarg;
            break;
        case 'a':
            attest = true;
            break;
        case 'c':
            challenge_hex = optarg;
            break;
        case 'u':
            ko.user_verification = true;
            break;
        case 's':
            ko.single_use = true;
            break;
        case 'o':
            out = optarg;
            break;
        case 'A':
            att_out = optarg;
            break;
        case 'p':
            if (!cli_parse_fd(optarg, &pin_fd))
                return cli_usage_error(cmd, "--pin-fd needs a file descriptor number, not '%s'",
                                       optarg);
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
    if (wallet == NULL)
        return cli_usage_error(cmd, "missing --wallet");
    if (att_out)
        attest = true;
    if (attest && att_out == NULL)
        return cli_usage_error(cmd, "--attest needs --attestation-out FILE");
    if (challenge_hex && !attest)
        return cli_usage_error(cmd, "--challenge only goes with --attest");
    int prc = cli_pin_check_fd(cmd, pin_fd);
    if (prc != CLI_EXIT_OK)
        return prc;
    tes_buf challenge = {0};
    if (challenge_hex) {
        size_t len = strlen(challenge_hex);
        if (len == 0 || len > 2 * MAX_CHALLENGE ||
            tes_hex_decode(&challenge, challenge_hex, len) != TES_OK || challenge.failed) {
            tes_buf_free(&challenge);
            return cli_usage_error(cmd, "--challenge must be 1..%d bytes of hex", MAX_CHALLENGE);
        }
    }

    cli_wallet w;
    int rc = cli_wallet_open(cmd, wallet, &w);
    if (rc != CLI_EXIT_OK) {
        tes_buf_free(&challenge);
        return rc;
    }
    char id[TES_SE_ID_MAX] = "";
    tes_key *pub = NULL;
    tes_buf pem = {0}, chain = {0};
    if (attest && w.se->ops->attest == NULL) {
        rc = cli_error(CLI_EXIT_FAIL, "%s: the %s secure element cannot attest keys", cmd,
                       w.se->ops->name);
        goto out;
    }
    tes_err e = tes_se_create_key(w.se, &ko, id);
    if (e == TES_ERR_PIN_REQUIRED) {
        /* e.g. a PKCS#11 token: creating keys needs a logged-in session */
        char pin[CLI_PIN_MAX];
        if ((rc = cli_pin_read(cmd, pin_fd, "PIN", pin)) != CLI_EXIT_OK)
            goto out;
        e = w.se->ops->pin_verify(w.se, pin);
        tes_wipe(pin, sizeof(pin));
        if (e != TES_OK) {
            rc = cli_se_fail(&w, e, "%s: checking the PIN", cmd);
            goto out;
        }
        e = tes_se_create_key(w.se, &ko, id);
    }
    if (e != TES_OK) {
        rc = cli_se_fail(&w, e, "%s: creating the key", cmd);
        goto out;
    }
    if ((e = tes_se_public_key(w.se, id, &pub)) != TES_OK ||
        (e = tes_key_to_pem(pub, false, &pem)) != TES_OK) {
        rc = cli_se_fail(&w, e, "%s: reading the public key of %s", cmd, id);
        goto out;
    }
    if (out && cli_write_file(out, tes_buf_bytes(&pem), CLI_FILE_PUBLIC) != TES_OK) {
        rc = cli_fail(CLI_EXIT_USAGE, "%s: writing the public key", cmd);
        goto out;
    }
    if (attest) {
        e = w.se->ops->attest(w.se, id, tes_buf_bytes(&challenge), &chain);
        if (e != TES_OK) {
            rc = cli_se_fail(&w, e, "%s: attesting key %s", cmd, id);
            goto out;
        }
        if (cli_write_file(att_out, tes_buf_bytes(&chain), CLI_FILE_PUBLIC) != TES_OK) {
            rc = cli_fail(CLI_EXIT_USAGE, "%s: writing the attestation", cmd);
            goto out;
        }
    }
    printf("%s\n", id);
    fprintf(stderr, "created key %s in the %s secure element (P-256%s%s)", id, w.se->ops->name,
            ko.user_verification ? ", needs the PIN" : "", ko.single_use ? ", single use" : "");
    if (out)
        fprintf(stderr, "; public key in %s", out);
    if (attest)
        fprintf(stderr, "; attestation chain in %s", att_out);
    fputc('\n', stderr);
    if (!out) /* the public key follows the id line */
        fwrite(pem.ptr, 1, pem.len, stdout);
    rc = CLI_EXIT_OK;
out:
    tes_buf_free(&chain);
    tes_buf_free(&pem);
    tes_buf_free(&challenge);
    tes_key_free(pub);
    cli_wallet_close(&w);
    return rc;
}

/* ---- wallet add ---- */

static int wallet_add(const char *wallet, const char **files, size_t nfiles, const char *name)
{
    const char *cmd = "wallet add";
    cli_wallet w;
    int rc = cli_wallet_open(cmd, wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    tes_buf *raw = calloc(nfiles, sizeof(*raw));
    tes_bytes *mdocs = calloc(nfiles, sizeof(*mdocs));
    rc = CLI_EXIT_USAGE;
    if (!raw || !mdocs) {
        cli_error(rc, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (cli_read_file(files[i], &raw[i]) != TES_OK) {
            rc = cli_fail(CLI_EXIT_USAGE, "%s: reading the credential", cmd);
            goto out;
        }
        cli_maybe_unhex(&raw[i]);
        mdocs[i] = tes_buf_bytes(&raw[i]);
    }
    int64_t id = 0;
    size_t bad = nfiles;
    tes_err e = tes_wallet_add_batch(w.wallet, mdocs, nfiles, name, &id, &bad);
    if (e != TES_OK) {
        /* a refused copy (or one already in the wallet) is the input's fault */
        int code = e == TES_ERR_EXISTS || (bad < nfiles && !tes_err_is_env(e)) ? CLI_EXIT_FAIL
                                                                               : cli_exit_for(e);
        if (bad < nfiles)
            rc = cli_fail_code(code, e, "%s: %s", cmd, files[bad]);
        else
            rc = cli_fail_code(code, e, "%s: storing the credential", cmd);
        goto out;
    }
    printf("%lld\n", (long long)id);
    tes_store_cred *creds = NULL;
    size_t n = 0;
    if (tes_store_list(w.store, &creds, &n) == TES_OK)
        for (size_t i = 0; i < n; i++)
            if (creds[i].id == id) {
                const tes_store_cred *c = &creds[i];
                char f1[21], f2[21];
                fmt_time(c->valid_from, f1);
                fmt_time(c->valid_until, f2);
                fprintf(stderr,
                        "added credential %lld: %s (%s) from %s, valid %s .. %s, %zu %scop%s%s\n",
                        (long long)id, c->display_name, c->doctype, c->issuer, f1, f2, nfiles,
                        c->single_use ? "single-use " : "", nfiles == 1 ? "y" : "ies",
                        c->needs_pin ? ", needs the PIN" : "");
            }
    tes_store_creds_free(creds, n);
    rc = CLI_EXIT_OK;
out:
    if (raw)
        for (size_t i = 0; i < nfiles; i++)
            tes_buf_free(&raw[i]);
    free(raw);
    free(mdocs);
    cli_wallet_close(&w);
    return rc;
}

static int cmd_add(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet add", &opts);
    const char *cmd = "wallet add";
    const char *wallet = NULL, *name = NULL;
    const char *files[MAX_COPIES];
    size_t nfiles = 0;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wallet = optarg;
            break;
        case 'm':
            if (nfiles == MAX_COPIES)
                return cli_usage_error(cmd, "more than %d --mdoc copies", MAX_COPIES);
            files[nfiles++] = optarg;
            break;
        case 'n':
            name = optarg;
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
    if (wallet == NULL)
        return cli_usage_error(cmd, "missing --wallet");
    if (nfiles == 0)
        return cli_usage_error(cmd, "missing --mdoc");
    if (name && *name == '\0')
        return cli_usage_error(cmd, "--name must not be empty");
    return wallet_add(wallet, files, nfiles, name);
}

/* ---- dispatch ---- */

int cmd_wallet(int argc, char **argv)
{
    static const struct {
        const char *name;
        cli_cmd_fn fn;
    } subs[] = {
        {"init", cmd_init},
        {"pin", cmd_pin},
        {"list", cmd_list},
        {"log", cmd_log},
        {"keygen", cmd_keygen},
        {"add", cmd_add},
        {"present", cmd_wallet_present},
        {"trust-reader", cmd_wallet_trust_reader},
        {"authorize", cmd_wallet_authorize},
        {"enrol", cmd_wallet_enrol},
        {"enroll", cmd_wallet_enrol},
        {"device-id", cmd_wallet_device_id},
        {"report-lost", cmd_wallet_report_lost},
        {"key-request", cmd_wallet_key_request},
        {"key-add", cmd_wallet_key_add},
        {"tap", cmd_wallet_tap},
    };
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        char full[64] = "wallet";
        if (argc >= 3 && strcmp(argv[1], "help") == 0)
            snprintf(full, sizeof(full), "wallet %s", argv[2]);
        cli_help(full);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error(
            "wallet",
            "missing subcommand (init, pin, list, log, keygen, add, enrol, device-id, report-lost, "
            "present, trust-reader, authorize, key-request, key-add, tap)");
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    return cli_usage_error(
        "wallet",
        "unknown subcommand '%s' (init, pin, list, log, keygen, add, enrol, device-id, "
        "report-lost, present, trust-reader, authorize, key-request, key-add, tap)",
        argv[1]);
}
