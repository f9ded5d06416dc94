/* tessera wallet enrol — the wallet obtains a credential from an issuing
 * authority over OpenID4VCI (pre-authorized code with the transaction code
 * the citizen was told at the counter): one key per copy is made in the
 * secure element, attested for the issuer's c_nonce (Tessera's x5c chain, or
 * an OpenID4VCI 1.0 key attestation JWT when the issuer asks for key
 * attestations: --proof), proves possession, and the copies are stored as
 * one credential. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/cbor.h"
#include "tessera/cose.h"
#include "tessera/wallet.h"

#include "cli.h"

#define MAX_BATCH 100
#define MAX_TX_CODE 16
/* An offer by value with a handful of credential configurations fits. */
#define MAX_OFFER 8192

/* Hex SHA-256 of a key's COSE_Key: its thumbprint as the issuer records it. */
static bool key_thumbprint(const tes_key *k, char out[65])
{
    tes_buf cose = {0};
    tes_cbor_enc e = {.out = &cose};
    tes_cose_key_write(&e, k);
    bool ok = tes_cbor_enc_finish(&e) == TES_OK;
    uint8_t h[32];
    out[0] = '\0';
    if (ok && tes_digest(TES_HASH_SHA256, tes_buf_bytes(&cose), h) == TES_OK)
        tes_hex_str(out, TES_BYTES(h, 32));
    tes_buf_free(&cose);
    return out[0] != '\0';
}

typedef struct enrol_args {
    const char *wallet, *offer, *offer_file, *name;
    int pin_fd, tx_code_fd, offer_fd;
    size_t batch;
    tes_oid4vci_proof_form proof;
} enrol_args;

/* --proof MODE */
static bool parse_proof_form(const char *s, tes_oid4vci_proof_form *out)
{
    static const struct {
        const char *name;
        tes_oid4vci_proof_form form;
    } forms[] = {
        {"auto", TES_OID4VCI_PROOF_AUTO},
        {"x5c", TES_OID4VCI_PROOF_X5C},
        {"key-attestation", TES_OID4VCI_PROOF_KEY_ATTESTATION},
        {"attestation", TES_OID4VCI_PROOF_ATTESTATION},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (strcmp(s, forms[i].name) == 0) {
            *out = forms[i].form;
            return true;
        }
    return false;
}

/* The offer: --offer URI as given, one line of --offer-fd, the file
 * --offer-file, or asked for on the terminal. *out is a.offer or malloc'd
 * (MAX_OFFER bytes). */
static int read_offer(const char *cmd, const enrol_args *a, char **out)
{
    if (a->offer != NULL) {
        *out = (char *)a->offer;
        return CLI_EXIT_OK;
    }
    char *buf = calloc(1, MAX_OFFER);
    if (buf == NULL)
        return cli_error(CLI_EXIT_USAGE, "%s: out of memory", cmd);
    int rc = CLI_EXIT_OK;
    if (a->offer_file != NULL) {
        tes_buf raw = {.secret = true};
        if (cli_read_secret(a->offer_file, &raw) != TES_OK) {
            rc = cli_fail(CLI_EXIT_USAGE, "%s: reading the offer", cmd);
        } else {
            size_t n = raw.len;
            while (n > 0 && (raw.ptr[n - 1] == '\n' || raw.ptr[n - 1] == '\r' ||
                             raw.ptr[n - 1] == ' ' || raw.ptr[n - 1] == '\t'))
                n--;
            if (n == 0)
                rc = cli_error(CLI_EXIT_USAGE, "%s: '%s' holds no offer", cmd, a->offer_file);
            else if (n >= MAX_OFFER)
                rc = cli_error(CLI_EXIT_USAGE, "%s: the offer in '%s' is longer than %d bytes",
                               cmd, a->offer_file, MAX_OFFER - 1);
            else if (memchr(raw.ptr, '\0', n) != NULL || memchr(raw.ptr, '\n', n) != NULL)
                rc = cli_error(CLI_EXIT_USAGE,
                               "%s: '%s' must hold one offer URI on one line (it has a NUL byte "
                               "or several lines)",
                               cmd, a->offer_file);
            else
                memcpy(buf, raw.ptr, n);
        }
        tes_buf_free(&raw);
    } else {
        rc = cli_secret_read(cmd, a->offer_fd, "--offer-fd", "credential offer", buf, MAX_OFFER);
        if (rc == CLI_EXIT_OK && buf[0] == '\0')
            rc = cli_error(CLI_EXIT_USAGE, "%s: the credential offer is empty", cmd);
    }
    if (rc != CLI_EXIT_OK) {
        tes_wipe(buf, MAX_OFFER);
        free(buf);
        return rc;
    }
    *out = buf;
    return CLI_EXIT_OK;
}

static int wallet_enrol(const char *cmd, const enrol_args *a)
{
    cli_wallet w;
    int rc = cli_wallet_open(cmd, a->wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    char pin[CLI_PIN_MAX] = "", tx[CLI_PIN_MAX] = "";
    char *offer = NULL;
    /* No PIN yet: say so before asking for anything (the library checks too). */
    int pin_left = 0, puk_left = 0;
    bool pin_set = false;
    tes_err e = w.se->ops->pin_status(w.se, &pin_left, &puk_left, &pin_set);
    if (e == TES_OK && !pin_set)
        e = tes_err_set(TES_ERR_PIN_NOT_SET, "the wallet has no PIN yet");
    if (e != TES_OK) {
        rc = cli_se_fail(&w, e, "%s: the copies' keys need the PIN", cmd);
        goto out;
    }
    /* The offer, the PIN, then the transaction code: the order of the lines
     * when they share one descriptor. None of them ever travels in argv (other
     * local users read argv in /proc), except an --offer URI given anyway. */
    if ((rc = read_offer(cmd, a, &offer)) != CLI_EXIT_OK)
        goto out;
    if ((rc = cli_pin_read(cmd, a->pin_fd, "PIN", pin)) != CLI_EXIT_OK)
        goto out;
    int tx_fd = a->tx_code_fd >= 0 ? a->tx_code_fd : a->pin_fd;
    if ((rc = cli_secret_read(cmd, tx_fd, "--tx-code-fd", "transaction code", tx, sizeof tx)) !=
        CLI_EXIT_OK)
        goto out;
    if (*tx == '\0' || strlen(tx) > MAX_TX_CODE) {
        rc = cli_usage_error(cmd, "the transaction code must be 1..%d characters", MAX_TX_CODE);
        goto out;
    }
    fprintf(stderr, "asking the issuer for %zu cop%s ...\n", a->batch, a->batch == 1 ? "y" : "ies");
    const tes_wallet_enrol_opts eo = {.offer_uri = offer,
                                      .tx_code = tx,
                                      .pin = pin,
                                      .copies = a->batch,
                                      .proof = a->proof,
                                      .display_name = a->name};
    tes_wallet_enrol_result r;
    e = tes_wallet_enrol(w.wallet, &eo, &r);
    if (e == TES_ERR_PIN_WRONG || e == TES_ERR_PIN_LOCKED || e == TES_ERR_PIN_NOT_SET) {
        rc = cli_se_fail(&w, e, "%s: checking the PIN", cmd);
        goto out;
    }
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: obtaining the credential", cmd);
        goto out;
    }
    printf("%lld\n", (long long)r.cred_id);
    tes_store_cred *cred = NULL;
    if (tes_wallet_credential(w.wallet, r.cred_id, &cred) == TES_OK) {
        char f1[21], f2[21];
        tes_time_format(r.valid_from, f1);
        tes_time_format(r.valid_until, f2);
        fprintf(stderr,
                "obtained credential %lld over OpenID4VCI: %s (%s) from %s, valid %s .. %s, %zu "
                "%scop%s%s\n",
                (long long)r.cred_id, cred->display_name, cred->doctype, cred->issuer, f1, f2,
                r.copies, r.single_use ? "single-use " : "", r.copies == 1 ? "y" : "ies",
                r.needs_pin ? ", needs the PIN" : "");
    }
    tes_store_creds_free(cred, cred ? 1 : 0);
    if (r.device_id[0] && !r.device_ids_differ)
        fprintf(stderr,
                "device id: %s\n(the authority records it with the copies; if the phone is "
                "lost: 'tessera wallet report-lost --device' with it)\n",
                r.device_id);
    else
        fprintf(stderr, "device id: none (the secure element made no attestation): the "
                        "authority knows each copy by its key's thumbprint\n");
    rc = CLI_EXIT_OK;
out:
    tes_wipe(pin, sizeof(pin));
    tes_wipe(tx, sizeof(tx));
    if (offer != NULL && offer != a->offer) {
        tes_wipe(offer, MAX_OFFER);
        free(offer);
    }
    cli_wallet_close(&w);
    return rc;
}

int cmd_wallet_enrol(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet enrol", &opts);
    const char *cmd = "wallet enrol";
    enrol_args a = {.pin_fd = -1, .tx_code_fd = -1, .offer_fd = -1, .batch = 1};
    int offers = 0;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            a.wallet = optarg;
            break;
        case 'o':
            a.offer = optarg;
            offers++;
            break;
        case 'O':
            if (!cli_parse_fd(optarg, &a.offer_fd))
                return cli_usage_error(cmd, "--offer-fd needs a file descriptor number, not '%s'",
                                       optarg);
            offers++;
            break;
        case 'F':
            a.offer_file = optarg;
            offers++;
            break;
        case 't':
            /* argv is readable by every local user (ps, /proc/PID/cmdline) */
            return cli_usage_error(cmd,
                                   "--tx-code on the command line is visible to other users of "
                                   "this machine; give the transaction code on the terminal or "
                                   "with --tx-code-fd N");
        case 'T':
            if (!cli_parse_fd(optarg, &a.tx_code_fd))
                return cli_usage_error(cmd,
                                       "--tx-code-fd needs a file descriptor number, not '%s'",
                                       optarg);
            break;
        case 'p':
            if (!cli_parse_fd(optarg, &a.pin_fd))
                return cli_usage_error(cmd, "--pin-fd needs a file descriptor number, not '%s'",
                                       optarg);
            break;
        case 'b':
            if (!cli_parse_size(optarg, MAX_BATCH, &a.batch) || a.batch == 0)
                return cli_usage_error(cmd, "--batch needs 1..%d copies, not '%s'", MAX_BATCH,
                                       optarg);
            break;
        case 'n':
            a.name = optarg;
            break;
        case 'P':
            if (!parse_proof_form(optarg, &a.proof))
                return cli_usage_error(cmd,
                                       "--proof needs auto, x5c, key-attestation or attestation, "
                                       "not '%s'",
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
    if (a.wallet == NULL || *a.wallet == '\0')
        return cli_usage_error(cmd, "missing --wallet");
    if (offers > 1)
        return cli_usage_error(cmd, "give the offer once: --offer-file, --offer-fd or --offer");
    if (a.offer != NULL && *a.offer == '\0')
        return cli_usage_error(cmd, "--offer is empty (the openid-credential-offer:// text of "
                                    "the authority's QR code)");
    if (a.offer_file != NULL && *a.offer_file == '\0')
        return cli_usage_error(cmd, "--offer-file is empty");
    if (a.offer_fd >= 0 && fcntl(a.offer_fd, F_GETFD) == -1)
        return cli_usage_error(cmd, "--offer-fd %d: file descriptor %d is not open", a.offer_fd,
                               a.offer_fd);
    if (a.tx_code_fd >= 0 && fcntl(a.tx_code_fd, F_GETFD) == -1)
        return cli_usage_error(cmd, "--tx-code-fd %d: file descriptor %d is not open",
                               a.tx_code_fd, a.tx_code_fd);
    if (offers == 0) {
        int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (tty < 0)
            return cli_usage_error(cmd, "missing --offer-file PATH or --offer-fd N (the "
                                        "openid-credential-offer:// text of the authority's QR "
                                        "code; no terminal to ask for it on)");
        close(tty);
    }
    if (a.offer != NULL)
        fprintf(stderr,
                "tessera: %s: warning: the --offer URI is visible to other users of this "
                "machine while the command runs (ps, /proc); whoever also learns the "
                "transaction code can redeem it first. Prefer --offer-file or --offer-fd.\n",
                cmd);
    if (a.name && *a.name == '\0')
        return cli_usage_error(cmd, "--name must not be empty");
    int rc = cli_pin_check_fd(cmd, a.pin_fd);
    if (rc != CLI_EXIT_OK)
        return rc;
    return wallet_enrol(cmd, &a);
}

/* ---- wallet device-id ---- */

/* Prints the phone's device id (tes_wallet_device_id), or, for a secure
 * element that makes no attestations, the thumbprints the authority knows its
 * keys by. */
static int wallet_device_id(const char *cmd, const char *dir)
{
    cli_wallet w;
    int rc = cli_wallet_open(cmd, dir, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    char dev[65];
    tes_err e = tes_wallet_device_id(w.wallet, dev);
    if (e == TES_OK) {
        printf("%s\n", dev);
        fprintf(stderr, "the device id of this phone (SHA-256 of its secure element's attestation "
                        "certificate);\nthe authority records it with every credential it "
                        "issues to this wallet\n");
        rc = CLI_EXIT_OK;
    } else if (e == TES_ERR_UNSUPPORTED) {
        tes_se *se = w.se;
        fprintf(stderr,
                "%s: this secure element (%s) makes no key attestations, so the wallet has no\n"
                "device id: the authority knows each key by its thumbprint instead. Report a lost\n"
                "phone for all your credentials ('tessera wallet report-lost' without --device),\n"
                "or give the counter these key thumbprints:\n",
                cmd, se->ops->name);
        char ids[64][TES_SE_ID_MAX];
        size_t n = 0;
        e = se->ops->list_keys(se, ids, 64, &n);
        if (e == TES_ERR_BUFFER_SMALL)
            n = 64;
        for (size_t i = 0; i < n; i++) {
            tes_key *pub = NULL;
            char th[65];
            if (se->ops->public_key(se, ids[i], &pub) == TES_OK && key_thumbprint(pub, th))
                printf("%s  key %s\n", th, ids[i]);
            tes_key_free(pub);
        }
        rc = CLI_EXIT_FAIL;
    } else {
        rc = cli_se_fail(&w, e, "%s: attesting a key of the wallet", cmd);
    }
    cli_wallet_close(&w);
    return rc;
}

int cmd_wallet_device_id(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet device-id", &opts);
    const char *cmd = "wallet device-id", *wallet = NULL;
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
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (wallet == NULL || *wallet == '\0')
        return cli_usage_error(cmd, "missing --wallet");
    return wallet_device_id(cmd, wallet);
}

/* ---- wallet report-lost ---- */

int cmd_wallet_report_lost(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("wallet report-lost", &opts);
    const char *cmd = "wallet report-lost", *issuer = NULL, *code = NULL, *device = NULL;
    int c, code_fd = -1;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            issuer = optarg;
            break;
        case 'r':
            code = optarg;
            break;
        case 'f':
            if (!cli_parse_fd(optarg, &code_fd))
                return cli_usage_error(cmd,
                                       "--recovery-code-fd needs a file descriptor number, "
                                       "not '%s'",
                                       optarg);
            break;
        case 'd':
            device = optarg;
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
    if (issuer == NULL ||
        (strncmp(issuer, "http://", 7) != 0 && strncmp(issuer, "https://", 8) != 0))
        return cli_usage_error(cmd, "missing --issuer URL (http:// or https://: the authority's "
                                    "service, as printed at enrolment)");
    if (code != NULL && code_fd >= 0)
        return cli_usage_error(cmd, "give the recovery code once: --recovery-code or "
                                    "--recovery-code-fd, not both");
    if (code != NULL && *code == '\0')
        return cli_usage_error(cmd, "--recovery-code is empty (the code given at enrolment)");
    if (code_fd >= 0 && fcntl(code_fd, F_GETFD) == -1)
        return cli_usage_error(cmd, "--recovery-code-fd %d: file descriptor %d is not open",
                               code_fd, code_fd);
    if (code == NULL && code_fd < 0) {
        int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (tty < 0)
            return cli_usage_error(cmd, "missing --recovery-code-fd N or --recovery-code CODE "
                                        "(given at enrolment; no terminal to ask for it on)");
        close(tty);
    }
    if (device != NULL) {
        bool hex = strlen(device) == 64;
        for (size_t i = 0; hex && i < 64; i++)
            hex = strchr("0123456789abcdefABCDEF", device[i]) != NULL;
        if (!hex)
            return cli_usage_error(cmd,
                                   "--device needs a device id (64 hex digits, as 'tessera wallet "
                                   "device-id' or 'wallet enrol' printed), not '%s'",
                                   device);
    }
    /* Without --recovery-code it is read from the descriptor or asked for on the
     * terminal without echo: a code on the command line is visible to every user
     * of the machine (ps, /proc). */
    char typed[CLI_PIN_MAX];
    if (code == NULL) {
        int rc = cli_pin_read(cmd, code_fd, "recovery code", typed);
        if (rc != CLI_EXIT_OK)
            return rc;
        code = typed;
    }
    size_t n = 0;
    tes_err e = tes_wallet_report_lost(issuer, code, device, &n);
    tes_wipe(typed, sizeof typed);
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e, "%s", cmd);
    printf("suspended %zu credential%s\n", n, n == 1 ? "" : "s");
    fprintf(stderr,
            "%s: the authority's status list says so from now on; verifiers see it when "
            "they next fetch the list.\nWhen the phone is found, the authority reinstates "
            "them ('tessera authority reinstate --device').\n",
            device ? "the credentials on that phone are suspended"
                   : "all your credentials are suspended");
    return CLI_EXIT_OK;
}
