/* tessera issue — one mdoc signed by an authority's document signer. */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera/issuer.h"
#include "tessera/mdoc.h"
#include "tessera/se.h"

#include "cli.h"

#define DAY 86400LL
#define MAX_VALID_DAYS 36500
#define MAX_DECOYS 1000

typedef struct issue_args {
    const char *authority, *doctype, *claims, *device_key, *table, *out;
    const char *wallet, *key_id; /* device key from a wallet's secure element */
    /* key attestation checked before binding: chain file, vendor roots, challenge */
    const char *attestation, *vendor_root, *challenge;
    bool require_uv;
    size_t valid_days, decoys;
    int hsm_pin_fd; /* the DS key's token PIN (ds_key.hsm); -1: TESSERA_HSM_PIN */
} issue_args;

/* Checks that the device key lives in a secure element the issuer accepts:
 * the attestation chain verifies to a vendor root, carries our challenge,
 * attests exactly this key, and (with --require-uv) says the key needs the PIN. */
static int check_attestation(const issue_args *a, const tes_key *device)
{
    tes_buf chain = {0}, roots = {0}, challenge = {0};
    int rc = CLI_EXIT_USAGE;
    tes_se_attested att = {0};
    if (cli_read_file(a->attestation, &chain) != TES_OK) {
        cli_fail(rc, "reading the key attestation");
        goto done;
    }
    if (cli_read_file(a->vendor_root, &roots) != TES_OK) {
        cli_fail(rc, "reading the secure-element vendor roots");
        goto done;
    }
    if (a->challenge && tes_hex_decode(&challenge, a->challenge, strlen(a->challenge)) != TES_OK) {
        cli_usage_error("issue", "--challenge must be hex");
        goto done;
    }
    tes_err e = tes_se_attestation_verify(tes_buf_bytes(&chain), tes_buf_bytes(&roots),
                                          tes_buf_bytes(&challenge), (int64_t)time(NULL), &att);
    if (e != TES_OK) {
        rc = cli_fail(cli_exit_for(e), "issue: the device key's attestation is not accepted");
        goto done;
    }
    rc = CLI_EXIT_FAIL;
    if (!tes_key_equal_public(att.key, device)) {
        cli_error(rc, "issue: the attestation is for another key than the device key");
        goto done;
    }
    if (a->require_uv && !att.user_verification) {
        cli_error(rc, "issue: policy needs a key that asks for the PIN; the attestation says "
                      "it does not (create it with 'tessera wallet keygen --uv')");
        goto done;
    }
    fprintf(stderr, "device key attested: in a %s secure element%s%s\n", att.backend,
            att.user_verification ? ", needs the PIN" : "", att.single_use ? ", single use" : "");
    rc = CLI_EXIT_OK;
done:
    tes_key_free(att.key);
    tes_buf_free(&chain);
    tes_buf_free(&roots);
    tes_buf_free(&challenge);
    return rc;
}

/* Registers the doctype table and remembers its docType for error messages. */
static int register_table(const char *path, char *registered, size_t cap)
{
    tes_buf raw = {0};
    if (cli_read_file(path, &raw) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "reading the doctype table");
    int rc = CLI_EXIT_OK;
    if (tes_doctype_register_json((const char *)raw.ptr, raw.len) != TES_OK) {
        rc = cli_fail(CLI_EXIT_USAGE, "doctype table %s", path);
    } else {
        json_t *j = json_loadb((const char *)raw.ptr, raw.len, 0, NULL);
        const char *dt = json_string_value(json_object_get(j, "docType"));
        snprintf(registered, cap, "%s", dt ? dt : "");
        json_decref(j);
    }
    tes_buf_free(&raw);
    return rc;
}

static int unknown_doctype(const char *doctype, const char *registered)
{
    fprintf(stderr, "tessera: issue: unknown doctype '%s'; known doctypes: %s, %s", doctype,
            TES_DOCTYPE_MDL, TES_DOCTYPE_PID);
    if (*registered)
        fprintf(stderr, ", %s", registered);
    fprintf(stderr, " (add one with --doctype-table)\n");
    return CLI_EXIT_USAGE;
}

static int load_claims(const tes_doctype *t, const char *path, tes_mdoc_claims *claims)
{
    tes_buf raw = {0};
    if (cli_read_file(path, &raw) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "reading the claims");
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    const char *base = dirname(dir);
    int rc = CLI_EXIT_OK;
    tes_err e = tes_mdoc_claims_from_json(t, (const char *)raw.ptr, raw.len, base, claims);
    if (e != TES_OK)
        rc = cli_fail(cli_exit_for(e), "claims %s", path);
    tes_wipe(raw.ptr, raw.len); /* personal data */
    tes_buf_free(&raw);
    return rc;
}

static int issue(const issue_args *a)
{
    char registered[256] = "";
    int rc;
    if (a->table && (rc = register_table(a->table, registered, sizeof(registered))) != 0)
        return rc;
    const tes_doctype *t = tes_doctype_find(a->doctype);
    if (t == NULL)
        return unknown_doctype(a->doctype, registered);

    tes_ds_signer *dss = NULL;
    tes_key *device = NULL;
    tes_mdoc_claims claims = {0};
    tes_buf out = {0};
    char pin_buf[CLI_PIN_MAX];
    const char *pin = NULL;
    if ((rc = cli_hsm_pin_read("issue", a->hsm_pin_fd, pin_buf, &pin)) != CLI_EXIT_OK)
        return rc;
    /* ds.pem with ds_key.pem, or ds_key.hsm (the key in a PKCS#11 token). */
    tes_err le = tes_ds_signer_load(a->authority, pin, &dss);
    tes_wipe(pin_buf, sizeof(pin_buf));
    if (le != TES_OK) {
        rc = cli_fail_code(CLI_EXIT_USAGE, le, "document signer of %s", a->authority);
        goto done;
    }
    const tes_cert *ds = tes_ds_signer_cert(dss);
    rc = CLI_EXIT_USAGE;
    if (a->wallet) {
        cli_wallet w;
        if ((rc = cli_wallet_open("issue", a->wallet, &w)) != CLI_EXIT_OK)
            goto done;
        tes_err ke = tes_se_public_key(w.se, a->key_id, &device);
        if (ke != TES_OK)
            rc = cli_se_fail(&w, ke, "issue: key %s of wallet %s", a->key_id, a->wallet);
        cli_wallet_close(&w);
        if (ke != TES_OK)
            goto done;
        rc = CLI_EXIT_USAGE;
    } else if (cli_load_key(a->device_key, &device) != TES_OK) {
        cli_fail(rc, "device key");
        goto done;
    }
    if (a->attestation && (rc = check_attestation(a, device)) != CLI_EXIT_OK)
        goto done;
    if ((rc = load_claims(t, a->claims, &claims)) != CLI_EXIT_OK)
        goto done;

    const int64_t now = (int64_t)time(NULL);
    const tes_signer signer = *tes_ds_signer_get(dss);
    const tes_bytes chain[1] = {tes_cert_der(ds)};
    const tes_mdoc_issue_params p = {
        .doctype = a->doctype,
        .claims = &claims,
        .device_key = device,
        .issuer = &signer,
        .ds_chain = chain,
        .ds_chain_len = 1,
        .signed_at = now,
        .valid_from = now,
        .valid_until = now + (int64_t)a->valid_days * DAY,
        .decoys = a->decoys,
        .device_namespaces = t->device_namespaces,
        .n_device_namespaces = t->n_device_namespaces,
    };
    tes_err e = tes_mdoc_issue(&p, &out);
    if (e != TES_OK) {
        rc = cli_fail(cli_exit_for(e), "issuing %s", a->doctype);
        goto done;
    }
    if (cli_write_file(a->out, tes_buf_bytes(&out), CLI_FILE_PRIVATE) != TES_OK) {
        rc = cli_fail(CLI_EXIT_USAGE, "writing the credential");
        goto done;
    }
    fprintf(stderr, "issued %s with %zu elements to %s\n", a->doctype, claims.n, a->out);
    rc = CLI_EXIT_OK;
done:
    tes_buf_free(&out);
    tes_mdoc_claims_free(&claims);
    tes_key_free(device);
    tes_ds_signer_free(dss);
    return rc;
}

int cmd_issue(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("issue", &opts);
    issue_args a = {.valid_days = 365, .decoys = 2, .hsm_pin_fd = -1};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            a.authority = optarg;
            break;
        case 't':
            a.doctype = optarg;
            break;
        case 'c':
            a.claims = optarg;
            break;
        case 'k':
            a.device_key = optarg;
            break;
        case 'T':
            a.table = optarg;
            break;
        case 'o':
            a.out = optarg;
            break;
        case 'w':
            a.wallet = optarg;
            break;
        case 'K':
            a.key_id = optarg;
            break;
        case 'A':
            a.attestation = optarg;
            break;
        case 'V':
            a.vendor_root = optarg;
            break;
        case 'C':
            a.challenge = optarg;
            break;
        case 'U':
            a.require_uv = true;
            break;
        case 'P':
            if (!cli_parse_fd(optarg, &a.hsm_pin_fd))
                return cli_usage_error("issue", "--hsm-pin-fd needs a file descriptor number, "
                                                "not '%s'",
                                       optarg);
            break;
        case 'v':
            if (!cli_parse_size(optarg, MAX_VALID_DAYS, &a.valid_days) || a.valid_days == 0)
                return cli_usage_error("issue", "--valid-days must be 1..%d, not '%s'",
                                       MAX_VALID_DAYS, optarg);
            break;
        case 'y':
            if (!cli_parse_size(optarg, MAX_DECOYS, &a.decoys))
                return cli_usage_error("issue", "--decoys must be 0..%d, not '%s'", MAX_DECOYS,
                                       optarg);
            break;
        case 'h':
            cli_help("issue");
            return CLI_EXIT_OK;
        default:
            return cli_bad_option("issue", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("issue", "unexpected argument '%s'", argv[optind]);
    if ((a.attestation == NULL) != (a.vendor_root == NULL))
        return cli_usage_error("issue", "--attestation and --vendor-root go together");
    if ((a.challenge || a.require_uv) && a.attestation == NULL)
        return cli_usage_error("issue", "--challenge and --require-uv need --attestation");
    if (a.wallet || a.key_id) {
        if (a.device_key)
            return cli_usage_error("issue", "give either --device-key or --wallet and --key");
        if (a.wallet == NULL)
            return cli_usage_error("issue", "--key needs --wallet");
        if (a.key_id == NULL)
            return cli_usage_error("issue",
                                   "--wallet needs --key ID (from 'tessera wallet keygen')");
        a.device_key = "(wallet)";
    }
    const struct {
        const char *v, *name;
    } req[] = {{a.authority, "--authority"},
               {a.doctype, "--doctype"},
               {a.claims, "--claims"},
               {a.device_key, "--device-key (or --wallet and --key)"},
               {a.out, "--out"}};
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
        if (req[i].v == NULL)
            return cli_usage_error("issue", "missing %s", req[i].name);
    if (a.hsm_pin_fd >= 0 && fcntl(a.hsm_pin_fd, F_GETFD) == -1)
        return cli_usage_error("issue", "--hsm-pin-fd %d: file descriptor %d is not open",
                               a.hsm_pin_fd, a.hsm_pin_fd);
    return issue(&a);
}
