/* tessera wallet enrol — the wallet obtains a credential from an issuing
 * authority over OpenID4VCI (pre-authorized code with the transaction code
 * the citizen was told at the counter): one key per copy is made in the
 * secure element, attested for the issuer's c_nonce, proves possession, and
 * the copies are stored as one credential. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/issuer.h"

#include "cli.h"

#define MAX_BATCH 100
#define MAX_TX_CODE 16

typedef struct enrol_ctx {
    cli_wallet *w;
    const char *pin;
    tes_se_key_opts ko;
    char (*created)[TES_SE_ID_MAX]; /* keys made so far (deleted if enrolment fails) */
    size_t n_created, cap;
} enrol_ctx;

static tes_err key_create(void *ctx, tes_bytes challenge, char key_id[64], tes_buf *public_key_pem,
                          tes_buf *attestation)
{
    enrol_ctx *c = ctx;
    tes_se *se = c->w->se;
    if (c->n_created == c->cap)
        return tes_err_set(TES_ERR_ARG, "the issuer's client asked for more keys than copies");
    char id[TES_SE_ID_MAX];
    tes_err e = tes_se_create_key(se, &c->ko, id);
    if (e != TES_OK)
        return e;
    snprintf(c->created[c->n_created++], TES_SE_ID_MAX, "%s", id);
    tes_key *pub = NULL;
    if ((e = tes_se_public_key(se, id, &pub)) != TES_OK)
        return e;
    e = tes_key_to_pem(pub, false, public_key_pem);
    tes_key_free(pub);
    if (e != TES_OK)
        return e;
    /* Without an attestation the issuer may still accept the key (a
     * development service); one that requires it answers invalid_proof. */
    if (se->ops->attest != NULL && (e = se->ops->attest(se, id, challenge, attestation)) != TES_OK)
        return e;
    snprintf(key_id, 64, "%s", id);
    return TES_OK;
}

static tes_err key_sign(void *ctx, const char *key_id, tes_bytes msg, uint8_t sig[64])
{
    enrol_ctx *c = ctx;
    uint8_t raw[TES_MAX_SIG];
    size_t len = sizeof(raw);
    tes_err e = tes_se_sign(c->w->se, key_id, c->pin, msg, raw, &len);
    if (e != TES_OK)
        return e;
    if (len != 64)
        return tes_err_set(TES_ERR_UNSUPPORTED, "key %s is not a P-256 key (signature of %zu bytes)",
                           key_id, len);
    memcpy(sig, raw, 64);
    return TES_OK;
}

static const char *default_name(const char *doctype)
{
    if (strcmp(doctype, TES_DOCTYPE_PID) == 0)
        return "PID";
    if (strcmp(doctype, TES_DOCTYPE_MDL) == 0)
        return "mDL";
    return doctype;
}

/* Checks the copies (each bound to the key it was asked for, all of one
 * credential) and stores them; prints the credential id. */
static int store_copies(const char *cmd, cli_wallet *w, tes_buf *mdocs, char (*key_ids)[64],
                        size_t n, const char *name, const tes_se_key_opts *ko)
{
    tes_store_new_copy *copies = calloc(n, sizeof(*copies));
    tes_mdoc_cred_info first = {0};
    bool have_first = false;
    int rc = CLI_EXIT_FAIL;
    if (copies == NULL) {
        rc = cli_error(CLI_EXIT_USAGE, "%s: out of memory", cmd);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        tes_mdoc_cred_info f;
        tes_err e = tes_mdoc_cred_info_read(tes_buf_bytes(&mdocs[i]), &f);
        if (e != TES_OK) {
            rc = cli_fail_code(CLI_EXIT_FAIL, e, "%s: copy %zu from the issuer", cmd, i + 1);
            goto out;
        }
        tes_key *pub = NULL;
        e = tes_se_public_key(w->se, key_ids[i], &pub);
        bool bound = e == TES_OK && tes_key_equal_public(pub, f.device_key);
        tes_key_free(pub);
        if (!bound) {
            rc = cli_error(CLI_EXIT_FAIL,
                           "%s: copy %zu from the issuer is not bound to the key %s it was asked "
                           "for",
                           cmd, i + 1, key_ids[i]);
            tes_mdoc_cred_info_free(&f);
            goto out;
        }
        if (!have_first) {
            first = f;
            have_first = true;
        } else {
            bool same = strcmp(f.doctype, first.doctype) == 0 && strcmp(f.issuer, first.issuer) == 0;
            if (f.valid_from > first.valid_from)
                first.valid_from = f.valid_from;
            if (f.valid_until < first.valid_until)
                first.valid_until = f.valid_until;
            tes_mdoc_cred_info_free(&f);
            if (!same) {
                rc = cli_error(CLI_EXIT_FAIL, "%s: the issuer's copies are not of one credential",
                               cmd);
                goto out;
            }
        }
        copies[i].key_id = key_ids[i];
        copies[i].mdoc = tes_buf_bytes(&mdocs[i]);
    }
    bool single = n > 1;
    const tes_store_cred meta = {
        .doctype = first.doctype,
        .display_name = (char *)(name ? name : default_name(first.doctype)),
        .issuer = first.issuer,
        .valid_from = first.valid_from,
        .valid_until = first.valid_until,
        .copies = (int64_t)n,
    };
    int64_t id = 0;
    tes_err e = tes_store_add_credential(w->store, &meta, copies, n, single, &id);
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: storing the credential", cmd);
        goto out;
    }
    const char *flags[2] = {ko->user_verification ? CLI_SETTING_CRED_UV_FMT : NULL,
                            single ? CLI_SETTING_CRED_SINGLE_FMT : NULL};
    for (size_t i = 0; i < 2; i++) {
        char key[96];
        if (flags[i] == NULL)
            continue;
        snprintf(key, sizeof(key), flags[i], (long long)id);
        if ((e = tes_store_set(w->store, key, "1")) != TES_OK) {
            rc = cli_fail_code(cli_exit_for(e), e,
                               "%s: recording the protections of credential %lld", cmd,
                               (long long)id);
            goto out;
        }
    }
    printf("%lld\n", (long long)id);
    char f1[21], f2[21];
    tes_time_format(first.valid_from, f1);
    tes_time_format(first.valid_until, f2);
    fprintf(stderr,
            "obtained credential %lld over OpenID4VCI: %s (%s) from %s, valid %s .. %s, %zu "
            "%scop%s%s\n",
            (long long)id, meta.display_name, first.doctype, first.issuer, f1, f2, n,
            single ? "single-use " : "", n == 1 ? "y" : "ies",
            ko->user_verification ? ", needs the PIN" : "");
    rc = CLI_EXIT_OK;
out:
    if (have_first)
        tes_mdoc_cred_info_free(&first);
    free(copies);
    return rc;
}

typedef struct enrol_args {
    const char *wallet, *offer, *tx_code, *name;
    int pin_fd;
    size_t batch;
} enrol_args;

static int wallet_enrol(const char *cmd, const enrol_args *a)
{
    cli_wallet w;
    int rc = cli_wallet_open(cmd, a->wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    char pin[CLI_PIN_MAX] = "", tx[CLI_PIN_MAX] = "";
    tes_buf *mdocs = NULL;
    char(*key_ids)[64] = NULL;
    size_t n = 0;
    /* Every copy's key needs the PIN. Keys are not made single-use in the
     * secure element: the proof of possession is their first signature, so a
     * single-use key would be spent before its first presentation. The store
     * takes each copy once instead (single-use credential). */
    enrol_ctx ctx = {.w = &w, .ko = {.user_verification = true}, .cap = a->batch};
    ctx.created = calloc(a->batch, TES_SE_ID_MAX);
    if (ctx.created == NULL) {
        rc = cli_error(CLI_EXIT_USAGE, "%s: out of memory", cmd);
        goto out;
    }
    int pin_left = 0, puk_left = 0;
    bool pin_set = false;
    tes_err e = w.se->ops->pin_status(w.se, &pin_left, &puk_left, &pin_set);
    if (e != TES_OK) {
        rc = cli_se_fail(&w, e, "%s: the secure element", cmd);
        goto out;
    }
    if (!pin_set) {
        rc = cli_se_fail(&w, tes_err_set(TES_ERR_PIN_NOT_SET, "the wallet has no PIN yet"),
                         "%s: the copies' keys need the PIN", cmd);
        goto out;
    }
    /* The PIN first, then the transaction code (the order on --pin-fd). */
    if ((rc = cli_pin_read(cmd, a->pin_fd, "PIN", pin)) != CLI_EXIT_OK)
        goto out;
    if (a->tx_code == NULL &&
        (rc = cli_pin_read(cmd, a->pin_fd, "transaction code", tx)) != CLI_EXIT_OK)
        goto out;
    const char *txc = a->tx_code ? a->tx_code : tx;
    if (*txc == '\0' || strlen(txc) > MAX_TX_CODE) {
        rc = cli_usage_error(cmd, "the transaction code must be 1..%d characters", MAX_TX_CODE);
        goto out;
    }
    /* A wrong PIN is found here, before the offer is redeemed (it works once). */
    if ((e = w.se->ops->pin_verify(w.se, pin)) != TES_OK) {
        rc = cli_se_fail(&w, e, "%s: checking the PIN", cmd);
        goto out;
    }
    ctx.pin = pin;
    const tes_oid4vci_keys keys = {.create = key_create, .sign = key_sign, .ctx = &ctx};
    fprintf(stderr, "asking the issuer for %zu cop%s ...\n", a->batch, a->batch == 1 ? "y" : "ies");
    e = tes_oid4vci_obtain(a->offer, txc, a->batch, &keys, &mdocs, &key_ids, &n);
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: obtaining the credential", cmd);
        goto out;
    }
    if (n == 0 || n > a->batch) {
        rc = cli_error(CLI_EXIT_FAIL, "%s: the issuer returned %zu credentials for %zu keys", cmd,
                       n, a->batch);
        goto out;
    }
    rc = store_copies(cmd, &w, mdocs, key_ids, n, a->name, &ctx.ko);
out:
    if (rc != CLI_EXIT_OK && ctx.created != NULL) {
        /* Nothing stored: the keys made for it are of no use. */
        for (size_t i = 0; i < ctx.n_created; i++)
            if (w.se->ops->delete_key(w.se, ctx.created[i]) != TES_OK) {
                /* best effort */
            }
    } else if (rc == CLI_EXIT_OK && n < ctx.n_created) {
        /* Keys the issuer issued nothing for. */
        for (size_t i = 0; i < ctx.n_created; i++) {
            bool used = false;
            for (size_t k = 0; k < n; k++)
                used = used || strcmp(key_ids[k], ctx.created[i]) == 0;
            if (!used && w.se->ops->delete_key(w.se, ctx.created[i]) != TES_OK) {
                /* best effort */
            }
        }
    }
    tes_wipe(pin, sizeof(pin));
    tes_wipe(tx, sizeof(tx));
    if (mdocs != NULL)
        for (size_t i = 0; i < n; i++)
            tes_buf_free(&mdocs[i]);
    free(mdocs);
    free(key_ids);
    free(ctx.created);
    cli_wallet_close(&w);
    return rc;
}

int cmd_wallet_enrol(int argc, char **argv)
{
    static const struct option opts[] = {
        {"wallet", required_argument, NULL, 'w'},
        {"offer", required_argument, NULL, 'o'},
        {"tx-code", required_argument, NULL, 't'},
        {"pin-fd", required_argument, NULL, 'p'},
        {"batch", required_argument, NULL, 'b'},
        {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "wallet enrol";
    enrol_args a = {.pin_fd = -1, .batch = 1};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            a.wallet = optarg;
            break;
        case 'o':
            a.offer = optarg;
            break;
        case 't':
            a.tx_code = optarg;
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
        case 'h':
            cli_print_usage(cmd, false);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (a.wallet == NULL || *a.wallet == '\0')
        return cli_usage_error(cmd, "missing --wallet");
    if (a.offer == NULL || *a.offer == '\0')
        return cli_usage_error(cmd, "missing --offer URI (the openid-credential-offer:// text of "
                                    "the authority's QR code)");
    if (a.name && *a.name == '\0')
        return cli_usage_error(cmd, "--name must not be empty");
    int rc = cli_pin_check_fd(cmd, a.pin_fd);
    if (rc != CLI_EXIT_OK)
        return rc;
    return wallet_enrol(cmd, &a);
}
