/* tessera authority init — an IACA root and a document signer, each with its key;
 * dispatch of the other authority subcommands (cmd_authority_service.c). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tessera/trust.h"

#include "cli.h"

#define DAY 86400LL
#define SKEW 3600LL              /* not_before <= now - 1 hour (clock skew) */
#define IACA_DAYS (10 * 365 + 3) /* 10 years */
#define DS_DAYS (3 * 365 + 1)    /* 3 years */

static const char *const FILES[] = {"iaca.pem", "iaca_key.pem", "ds.pem", "ds_key.pem",
                                     "ds_key.hsm"};

static bool path_in(char *out, size_t cap, const char *dir, const char *file)
{
    return snprintf(out, cap, "%s/%s", dir, file) < (int)cap;
}

static bool valid_country(const char *cc)
{
    return strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z';
}

/* Writes a key (PKCS#8, 0600) from a secret buffer. */
static int write_key(const char *dir, const char *file, const tes_key *k)
{
    char path[PATH_MAX];
    if (!path_in(path, sizeof(path), dir, file))
        return cli_error(CLI_EXIT_USAGE, "path too long: %s/%s", dir, file);
    tes_buf pem = {.secret = true};
    tes_err e = tes_key_to_pem(k, true, &pem);
    if (e == TES_OK)
        e = cli_write_file(path, tes_buf_bytes(&pem), true);
    tes_buf_free(&pem);
    return e == TES_OK ? CLI_EXIT_OK : cli_fail(CLI_EXIT_USAGE, "writing %s", path);
}

static int write_cert(const char *dir, const char *file, const tes_cert *c)
{
    char path[PATH_MAX];
    if (!path_in(path, sizeof(path), dir, file))
        return cli_error(CLI_EXIT_USAGE, "path too long: %s/%s", dir, file);
    tes_buf pem = {0};
    tes_err e = tes_cert_to_pem(c, &pem);
    if (e == TES_OK)
        e = cli_write_file(path, tes_buf_bytes(&pem), false);
    tes_buf_free(&pem);
    return e == TES_OK ? CLI_EXIT_OK : cli_fail(CLI_EXIT_USAGE, "writing %s", path);
}

/* Creates dir with mode 0700, or accepts an existing directory that holds no
 * authority yet (or holds one and force is set). */
static int prepare_dir(const char *dir, bool force)
{
    bool created;
    int rc = cli_secret_dir("authority init", dir, &created);
    if (rc != CLI_EXIT_OK || created)
        return rc;
    for (size_t i = 0; i < sizeof(FILES) / sizeof(FILES[0]); i++) {
        char path[PATH_MAX];
        if (!path_in(path, sizeof(path), dir, FILES[i]))
            return cli_error(CLI_EXIT_USAGE, "path too long: %s", dir);
        if (access(path, F_OK) == 0 && !force)
            return cli_error(
                CLI_EXIT_USAGE,
                "authority init: '%s' already holds an authority (%s exists); refusing to "
                "overwrite its keys (use --force to replace it)",
                dir, FILES[i]);
    }
    return CLI_EXIT_OK;
}

static int authority_init(const char *dir, const char *country, const char *name, const char *url,
                          bool force, const char *ds_hsm, int pin_fd)
{
    int rc = prepare_dir(dir, force);
    if (rc != CLI_EXIT_OK)
        return rc;

    char iaca_cn[256], ds_cn[256], default_url[64], crl[512];
    if (snprintf(iaca_cn, sizeof(iaca_cn), "%s IACA", name) >= (int)sizeof(iaca_cn) ||
        snprintf(ds_cn, sizeof(ds_cn), "%s Document Signer", name) >= (int)sizeof(ds_cn))
        return cli_usage_error("authority", "--name is too long");
    if (url == NULL) {
        snprintf(default_url, sizeof(default_url), "https://iaca.%c%c.example",
                 country[0] - 'A' + 'a', country[1] - 'A' + 'a');
        url = default_url;
    }
    if (snprintf(crl, sizeof(crl), "%s/crl/iaca.crl", url) >= (int)sizeof(crl))
        return cli_usage_error("authority", "--url is too long");

    int64_t now = (int64_t)time(NULL);
    /* Both certificates start at midnight UTC of the day an hour ago: the issuer
     * service rounds every MSO's signed time down to midnight UTC (unlinkability),
     * and ISO 18013-5 §9.3.1 wants it inside the DS validity, so the DS must be
     * valid from a day boundary no later than today's. */
    const int64_t not_before = (now - SKEW) - (now - SKEW) % DAY;
    tes_key *iaca_key = NULL, *ds_key = NULL;
    tes_cert *iaca = NULL, *ds = NULL;
    cli_ds_hsm hsm = {0};
    bool hsm_done = false;
    tes_err e = tes_key_generate(TES_CURVE_P256, &iaca_key);
    if (e != TES_OK) {
        rc = cli_fail(CLI_EXIT_FAIL, "generating the IACA key");
        goto out;
    }
    if (ds_hsm != NULL) {
        /* The DS key pair is generated inside the token; only its public half leaves it. */
        if ((rc = cli_ds_hsm_create("authority init", dir, ds_hsm, pin_fd, &hsm, &ds_key)) !=
            CLI_EXIT_OK)
            goto out;
        e = TES_OK;
    } else
        e = tes_key_generate(TES_CURVE_P256, &ds_key);
    if (e != TES_OK) {
        rc = cli_fail(CLI_EXIT_FAIL, "generating the document signer key");
        goto out;
    }

    const tes_cert_template root_t = {
        .common_name = iaca_cn,
        .country = country,
        .not_before = not_before,
        .not_after = now + IACA_DAYS * DAY,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
        .issuer_alt_uri = url,
    };
    e = tes_cert_create(&root_t, iaca_key, NULL, iaca_key, &iaca);
    if (e != TES_OK) {
        rc = cli_fail(CLI_EXIT_FAIL, "creating the IACA certificate");
        goto out;
    }
    const tes_cert_template ds_t = {
        .common_name = ds_cn,
        .country = country,
        .not_before = not_before,
        .not_after = now + DS_DAYS * DAY,
        .is_ca = false,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE,
        .eku_oid = TES_OID_EKU_MDL_DS,
        .issuer_alt_uri = url,
        .crl_uri = crl,
    };
    e = tes_cert_create(&ds_t, ds_key, iaca, iaca_key, &ds);
    if (e != TES_OK) {
        rc = cli_fail(CLI_EXIT_FAIL, "creating the document signer certificate");
        goto out;
    }

    /* Keys first: a directory with certificates but no keys would be useless. */
    if ((rc = write_key(dir, "iaca_key.pem", iaca_key)) != CLI_EXIT_OK ||
        (rc = ds_hsm ? cli_ds_hsm_write_ref("authority init", dir, &hsm)
                     : write_key(dir, "ds_key.pem", ds_key)) != CLI_EXIT_OK ||
        (rc = write_cert(dir, "ds.pem", ds)) != CLI_EXIT_OK ||
        (rc = write_cert(dir, "iaca.pem", iaca)) != CLI_EXIT_OK)
        goto out;
    hsm_done = true;
    {
        /* --force over an authority of the other kind: drop its stale DS key. */
        char stale[PATH_MAX];
        if (path_in(stale, sizeof(stale), dir, ds_hsm ? "ds_key.pem" : "ds_key.hsm") &&
            unlink(stale) != 0 && errno != ENOENT)
            fprintf(stderr, "tessera: warning: could not remove the stale %s: %s\n", stale,
                    strerror(errno));
    }

    const tes_cert_info *ri = tes_cert_get_info(iaca);
    const tes_cert_info *di = tes_cert_get_info(ds);
    char t1[21], t2[21];
    printf("created authority in %s\n", dir);
    tes_time_format(ri->not_after, t1);
    printf("  iaca.pem      %s (root, valid until %s)\n", ri->subject, t1);
    printf("  iaca_key.pem  root private key (keep offline)\n");
    tes_time_format(di->not_before, t1);
    tes_time_format(di->not_after, t2);
    printf("  ds.pem        %s (document signer, %s .. %s)\n", di->subject, t1, t2);
    if (ds_hsm)
        printf("  ds_key.hsm    document signer key %s in the PKCS#11 token %s (not a file; "
               "the token PIN is not stored: give it to 'tessera issue' and 'tessera authority "
               "serve' with --hsm-pin-fd or TESSERA_HSM_PIN)\n",
               hsm.key_id, hsm.spec);
    else
        printf("  ds_key.pem    document signer private key\n");
    rc = CLI_EXIT_OK;
out:
    cli_ds_hsm_close(&hsm, hsm_done);
    tes_cert_free(ds);
    tes_cert_free(iaca);
    tes_key_free(ds_key);
    tes_key_free(iaca_key);
    return rc;
}

int cmd_authority(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"country", required_argument, NULL, 'c'},
        {"name", required_argument, NULL, 'n'},
        {"url", required_argument, NULL, 'u'},
        {"force", no_argument, NULL, 'f'},
        {"ds-hsm", required_argument, NULL, 'H'},
        {"pin-fd", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        char full[64] = "authority";
        if (argc >= 3 && strcmp(argv[1], "help") == 0)
            snprintf(full, sizeof(full), "authority %s", argv[2]);
        cli_print_usage(full, false);
        return CLI_EXIT_OK;
    }
    static const struct {
        const char *name;
        cli_cmd_fn fn;
    } subs[] = {
        {"serve", cmd_authority_serve},       {"enrol", cmd_authority_enrol},
        {"enroll", cmd_authority_enrol},      {"revoke", cmd_authority_status},
        {"suspend", cmd_authority_status},    {"reinstate", cmd_authority_status},
    };
    if (argc < 2)
        return cli_usage_error("authority", "missing subcommand (init, serve, enrol, revoke, "
                                            "suspend, reinstate)");
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    if (strcmp(argv[1], "init") != 0)
        return cli_usage_error("authority",
                               "unknown subcommand '%s' (init, serve, enrol, revoke, suspend, "
                               "reinstate)",
                               argv[1]);
    argc--;
    argv++;

    const char *dir = NULL, *country = "UT", *name = "Utopia", *url = NULL, *ds_hsm = NULL;
    bool force = false;
    int pin_fd = -1;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'c':
            country = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'u':
            url = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'H':
            ds_hsm = optarg;
            break;
        case 'P':
            if (!cli_parse_fd(optarg, &pin_fd))
                return cli_usage_error("authority", "--pin-fd needs a file descriptor number, "
                                                    "not '%s'",
                                       optarg);
            break;
        case 'h':
            cli_print_usage("authority init", false);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option("authority", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("authority", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || *dir == '\0')
        return cli_usage_error("authority", "missing --dir");
    if (!valid_country(country))
        return cli_usage_error("authority", "--country must be two upper-case letters, not '%s'",
                               country);
    if (*name == '\0')
        return cli_usage_error("authority", "--name must not be empty");
    if (pin_fd >= 0 && ds_hsm == NULL)
        return cli_usage_error("authority", "--pin-fd goes with --ds-hsm");
    if (cli_pin_check_fd("authority init", pin_fd) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    return authority_init(dir, country, name, url, force, ds_hsm, pin_fd);
}
