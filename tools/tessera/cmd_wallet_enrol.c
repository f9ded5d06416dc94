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

#include <jansson.h>

#include "tessera/cbor.h"
#include "tessera/cose.h"
#include "tessera/issuer.h"

#include "tessera/wallet.h"

#include "cli.h"

#define MAX_BATCH 100
#define MAX_TX_CODE 16
/* An offer by value with a handful of credential configurations fits. */
#define MAX_OFFER 8192

typedef struct enrol_ctx {
    cli_wallet *w;
    const char *pin;
    tes_se_key_opts ko;
    char (*created)[TES_SE_ID_MAX]; /* keys made so far (deleted if enrolment fails) */
    size_t n_created, cap;
    char device[65]; /* the phone's device id, from the first attestation ("" none) */
    bool device_differs;
} enrol_ctx;

static void hex_sha256(tes_bytes data, char out[65])
{
    uint8_t h[32];
    out[0] = '\0';
    if (tes_digest(TES_HASH_SHA256, data, h) == TES_OK)
        tes_hex_str(out, TES_BYTES(h, 32));
}

/* The device id an issuer records for keys attested with this chain (CBOR
 * array of DER, leaf first): hex SHA-256 of the second certificate, the
 * secure element's attestation certificate (issuer.h). False when the chain
 * has fewer than two certificates. */
static bool device_id_of_chain(tes_bytes chain, char out[65])
{
    tes_cbor_doc d;
    out[0] = '\0';
    if (tes_cbor_parse(chain, NULL, &d) != TES_OK)
        return false;
    uint32_t second = tes_cbor_is(&d, 0, TES_CBOR_ARRAY) && tes_cbor_count(&d, 0) >= 2
                          ? tes_cbor_child_at(&d, 0, 1)
                          : TES_CBOR_NONE;
    bool ok = second != TES_CBOR_NONE && tes_cbor_is(&d, second, TES_CBOR_BYTES);
    if (ok) {
        const tes_cbor_node *n = tes_cbor_at(&d, second);
        hex_sha256(TES_BYTES(n->data, n->len), out);
        ok = out[0] != '\0';
    }
    tes_cbor_doc_free(&d);
    return ok;
}

/* Hex SHA-256 of a key's COSE_Key: its thumbprint as the issuer records it. */
static bool key_thumbprint(const tes_key *k, char out[65])
{
    tes_buf cose = {0};
    tes_cbor_enc e = {.out = &cose};
    tes_cose_key_write(&e, k);
    bool ok = tes_cbor_enc_finish(&e) == TES_OK;
    if (ok)
        hex_sha256(tes_buf_bytes(&cose), out);
    tes_buf_free(&cose);
    return ok && out[0] != '\0';
}

/* Notes the device id of one attestation: the first one seen, or that they differ. */
static void note_device(enrol_ctx *c, const char dev[65])
{
    if (c->device[0] == '\0')
        memcpy(c->device, dev, 65);
    else if (strcmp(c->device, dev) != 0)
        c->device_differs = true;
}

/* The device id of a key attestation JWT: hex SHA-256 of its header's x5c[1]
 * (the secure element's attestation certificate, as in the x5c form). */
static bool device_id_of_jwt(tes_bytes jwt, char out[65])
{
    out[0] = '\0';
    const uint8_t *dot = memchr(jwt.ptr, '.', jwt.len);
    tes_buf hdr = {0}, der = {0};
    json_t *h = NULL;
    bool ok = dot != NULL &&
              tes_b64url_decode(&hdr, (const char *)jwt.ptr, (size_t)(dot - jwt.ptr)) == TES_OK &&
              (h = json_loadb((const char *)hdr.ptr, hdr.len, 0, NULL)) != NULL;
    json_t *second = ok ? json_array_get(json_object_get(h, "x5c"), 1) : NULL;
    ok = json_is_string(second) &&
         tes_b64_decode(&der, json_string_value(second), json_string_length(second)) == TES_OK;
    if (ok)
        hex_sha256(tes_buf_bytes(&der), out);
    json_decref(h);
    tes_buf_free(&hdr);
    tes_buf_free(&der);
    return ok && out[0] != '\0';
}

/* OpenID4VCI 1.0 key attestation (Appendix D.1), signed inside the secure element. */
static tes_err key_attest_jwt(void *ctx, const char *const *key_ids, size_t n, const char *nonce,
                              tes_buf *jwt)
{
    enrol_ctx *c = ctx;
    size_t before = jwt->len;
    tes_err e = tes_se_attest_jwt(c->w->se, key_ids, n, nonce, jwt);
    char dev[65];
    if (e == TES_OK && device_id_of_jwt(TES_BYTES(jwt->ptr + before, jwt->len - before), dev))
        note_device(c, dev);
    return e;
}

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
     * development service); one that requires it answers invalid_proof. An
     * empty challenge: the client sends a key attestation JWT instead. */
    if (challenge.len > 0 && se->ops->attest != NULL &&
        (e = se->ops->attest(se, id, challenge, attestation)) != TES_OK)
        return e;
    char dev[65];
    if (attestation->len > 0 && device_id_of_chain(tes_buf_bytes(attestation), dev))
        note_device(c, dev);
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
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "key %s is not a P-256 key (signature of %zu bytes)", key_id, len);
    memcpy(sig, raw, 64);
    return TES_OK;
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
            bool same =
                strcmp(f.doctype, first.doctype) == 0 && strcmp(f.issuer, first.issuer) == 0;
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
        .display_name = (char *)(name ? name : tes_wallet_default_name(first.doctype)),
        .issuer = first.issuer,
        .valid_from = first.valid_from,
        .valid_until = first.valid_until,
        .copies = (int64_t)n,
        .needs_pin = ko->user_verification,
    };
    int64_t id = 0;
    tes_err e = tes_store_add_credential(w->store, &meta, copies, n, single, &id);
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: storing the credential", cmd);
        goto out;
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
    const char *txc = tx;
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
    /* A secure element without key attestation JWTs (PKCS#11) keeps to the x5c form. */
    bool jwt_attest = w.se->ops->size >= sizeof(tes_se_ops) && w.se->ops->attest_jwt != NULL;
    if (!jwt_attest && (a->proof == TES_OID4VCI_PROOF_KEY_ATTESTATION ||
                        a->proof == TES_OID4VCI_PROOF_ATTESTATION)) {
        rc = cli_se_fail(&w,
                         tes_err_set(TES_ERR_UNSUPPORTED,
                                     "the %s secure element makes no key attestation JWTs",
                                     w.se->ops->name),
                         "%s: --proof", cmd);
        goto out;
    }
    const tes_oid4vci_keys keys = {.create = key_create, .sign = key_sign, .ctx = &ctx};
    const tes_oid4vci_proof_opts proof = {.form = a->proof,
                                          .key_attestation = jwt_attest ? key_attest_jwt : NULL};
    fprintf(stderr, "asking the issuer for %zu cop%s ...\n", a->batch, a->batch == 1 ? "y" : "ies");
    e = tes_oid4vci_obtain_with(offer, txc, a->batch, &keys, &proof, &mdocs, &key_ids, &n);
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
    if (rc == CLI_EXIT_OK) {
        if (ctx.device[0] && !ctx.device_differs)
            fprintf(stderr,
                    "device id: %s\n(the authority records it with the copies; if the phone is "
                    "lost: 'tessera wallet report-lost --device' with it)\n",
                    ctx.device);
        else
            fprintf(stderr, "device id: none (the secure element made no attestation): the "
                            "authority knows each copy by its key's thumbprint\n");
    }
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
    if (offer != NULL && offer != a->offer) {
        tes_wipe(offer, MAX_OFFER);
        free(offer);
    }
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

/* Prints the phone's device id: the hex SHA-256 of the secure element's
 * attestation certificate, which every attestation of the wallet's keys
 * carries second. A key is attested for it (a temporary one when the wallet
 * has none yet). */
static int wallet_device_id(const char *cmd, const char *dir)
{
    cli_wallet w;
    int rc = cli_wallet_open(cmd, dir, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    tes_se *se = w.se;
    char ids[64][TES_SE_ID_MAX];
    size_t n = 0;
    tes_err e = se->ops->list_keys(se, ids, 64, &n);
    if (e == TES_ERR_BUFFER_SMALL)
        e = TES_OK, n = 64;
    if (e != TES_OK) {
        rc = cli_se_fail(&w, e, "%s: listing the keys", cmd);
        goto out;
    }
    if (se->ops->attest == NULL) {
        fprintf(stderr,
                "%s: this secure element (%s) makes no key attestations, so the wallet has no\n"
                "device id: the authority knows each key by its thumbprint instead. Report a lost\n"
                "phone for all your credentials ('tessera wallet report-lost' without --device),\n"
                "or give the counter these key thumbprints:\n",
                cmd, se->ops->name);
        for (size_t i = 0; i < n; i++) {
            tes_key *pub = NULL;
            char th[65];
            if (se->ops->public_key(se, ids[i], &pub) == TES_OK && key_thumbprint(pub, th))
                printf("%s  key %s\n", th, ids[i]);
            tes_key_free(pub);
        }
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    char tmp[TES_SE_ID_MAX] = "";
    const char *key = n > 0 ? ids[0] : NULL;
    if (key == NULL) {
        tes_se_key_opts ko = {0};
        if ((e = tes_se_create_key(se, &ko, tmp)) != TES_OK) {
            rc = cli_se_fail(&w, e, "%s: making a key to attest", cmd);
            goto out;
        }
        key = tmp;
    }
    static const char challenge[] = "tessera device-id";
    tes_buf chain = {0};
    e = se->ops->attest(se, key, TES_BYTES(challenge, sizeof challenge - 1), &chain);
    if (tmp[0] && se->ops->delete_key(se, tmp) != TES_OK) {
        /* best effort: an unused key */
    }
    char dev[65];
    if (e != TES_OK) {
        rc = cli_se_fail(&w, e, "%s: attesting key %s", cmd, key);
    } else if (!device_id_of_chain(tes_buf_bytes(&chain), dev)) {
        rc = cli_error(CLI_EXIT_FAIL,
                       "%s: the attestation of key %s has no secure-element certificate", cmd, key);
    } else {
        printf("%s\n", dev);
        fprintf(stderr, "the device id of this phone (SHA-256 of its secure element's attestation "
                        "certificate);\nthe authority records it with every credential it "
                        "issues to this wallet\n");
        rc = CLI_EXIT_OK;
    }
    tes_buf_free(&chain);
out:
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
    tes_err e = tes_oid4vci_report_lost(issuer, code, device, &n);
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
