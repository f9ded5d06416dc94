/* tessera authority init — an IACA root and a document signer, each with its key
 * (made by tes_authority_create, issuer.h; here the options, the token PINs and
 * the summary); dispatch of the other authority subcommands
 * (cmd_authority_service.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tessera/issuer.h"

#include "cli.h"

/* The token's PINs for the library, read from --pin-fd or the terminal. */
typedef struct pin_ctx {
    int fd;
    int rc; /* the exit code of a failed read (already reported) */
} pin_ctx;

static tes_err read_secret(void *ctx, const char *what, char *out, size_t cap)
{
    pin_ctx *c = ctx;
    char pin[CLI_PIN_MAX];
    c->rc = cli_pin_read("authority init", c->fd, what, pin);
    if (c->rc != CLI_EXIT_OK)
        return tes_err_set(TES_ERR_PIN_REQUIRED, "no %s", what);
    bool fits = strlen(pin) < cap;
    if (fits)
        memcpy(out, pin, strlen(pin) + 1);
    tes_wipe(pin, sizeof pin);
    if (!fits)
        return tes_err_set(TES_ERR_PIN_FORMAT, "the %s is longer than %zu characters", what,
                           cap - 1);
    return TES_OK;
}

static bool valid_country(const char *cc)
{
    return strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z';
}

static int authority_init(const char *dir, const char *country, const char *name, const char *url,
                          bool force, const char *ds_hsm, int pin_fd)
{
    pin_ctx pc = {.fd = pin_fd, .rc = CLI_EXIT_OK};
    const tes_authority_params p = {
        .dir = dir,
        .country = country,
        .name = name,
        .url = url,
        .force = force,
        .ds_hsm = ds_hsm,
        .secret = read_secret,
        .secret_ctx = &pc,
    };
    tes_authority_result r;
    tes_err e = tes_authority_create(&p, &r);
    if (e != TES_OK) {
        if (pc.rc != CLI_EXIT_OK)
            return pc.rc; /* the PIN could not be read: reported */
        if (e == TES_ERR_EXISTS)
            return cli_error(CLI_EXIT_USAGE, "authority init: %s (use --force to replace it)",
                             tes_err_message());
        return cli_fail_code(cli_exit_for(e), e, "authority init");
    }
    if (r.warning[0] != '\0')
        fprintf(stderr, "tessera: warning: %s\n", r.warning);

    const tes_cert_info *ri = tes_cert_get_info(r.iaca);
    const tes_cert_info *di = tes_cert_get_info(r.ds);
    char t1[21], t2[21];
    printf("created authority in %s\n", dir);
    tes_time_format(ri->not_after, t1);
    printf("  iaca.pem      %s (root, valid until %s)\n", ri->subject, t1);
    printf("  iaca_key.pem  root private key (keep offline)\n");
    tes_time_format(di->not_before, t1);
    tes_time_format(di->not_after, t2);
    printf("  ds.pem        %s (document signer, %s .. %s)\n", di->subject, t1, t2);
    if (r.ds_in_hsm)
        printf("  ds_key.hsm    document signer key %s in the PKCS#11 token %s (not a file; "
               "the token PIN is not stored: give it to 'tessera issue' and 'tessera authority "
               "serve' with --hsm-pin-fd or TESSERA_HSM_PIN)\n",
               r.ds_key_id, r.ds_hsm_spec);
    else
        printf("  ds_key.pem    document signer private key\n");
    tes_authority_result_free(&r);
    return CLI_EXIT_OK;
}

int cmd_authority(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("authority init", &opts);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        char full[64] = "authority";
        if (argc >= 3 && strcmp(argv[1], "help") == 0)
            snprintf(full, sizeof(full), "authority %s", argv[2]);
        cli_help(full);
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
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
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
            cli_help("authority init");
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
