/* tessera verify — a reader's verdict on a DeviceResponse. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera/mdoc.h"
#include "tessera/trust.h"

#include "cli.h"

#define MAX_TRUST_ARGS 64

typedef struct verify_args {
    const char *trust[MAX_TRUST_ARGS];
    size_t n_trust;
    const char *transcript, *reader_key, *at, *response;
    bool json;
    cli_status_opts status;
} verify_args;

/* ---- the command ---- */

static int verify(const verify_args *a)
{
    int rc = CLI_EXIT_USAGE;
    tes_trust_store *store = NULL;
    tes_key *reader = NULL;
    tes_buf transcript = {0}, response = {0};
    tes_mdoc_result result = {0};
    tes_status_verdict st = {0};

    int64_t at = (int64_t)time(NULL);
    if (a->at && tes_time_parse(a->at, strlen(a->at), false, &at) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "--at");
    if (tes_trust_store_new(&store) != TES_OK) {
        cli_fail(rc, "trust store");
        goto done;
    }
    if ((rc = cli_load_trust("verify", a->trust, a->n_trust, TES_PROFILE_DS, store)) != CLI_EXIT_OK)
        goto done;
    rc = CLI_EXIT_USAGE;
    if (cli_load_transcript(a->transcript, &transcript) != TES_OK) {
        cli_fail(rc, "session transcript");
        goto done;
    }
    if (a->reader_key) {
        if (cli_load_key(a->reader_key, &reader) != TES_OK) {
            cli_fail(rc, "reader key");
            goto done;
        }
        if (!tes_key_has_private(reader)) {
            cli_error(rc,
                      "reader key: %s is a public key; the device MAC needs the reader's "
                      "private key",
                      a->reader_key);
            goto done;
        }
    }
    if (cli_read_file(a->response, &response) != TES_OK) {
        cli_fail(rc, "reading the response");
        goto done;
    }
    cli_maybe_unhex(&response);

    const tes_mdoc_verify_opts o = {
        .trust = store,
        .transcript = tes_buf_bytes(&transcript),
        .reader_key = reader,
        .at = at,
    };
    tes_err verdict = tes_mdoc_verify(tes_buf_bytes(&response), &o, &result);
    char message[1024];
    snprintf(message, sizeof(message), "%s", verdict == TES_OK ? "" : tes_err_message());
    /* The status of what verified: the lists are signed by keys the same
     * IACA roots certify. */
    if (verdict == TES_OK &&
        (rc = cli_status_check_docs("verify", &a->status, store, &result, &st)) != CLI_EXIT_OK)
        goto done;
    cli_verdict v = {
        .verdict = verdict,
        .code = tes_err_name(verdict),
        .message = message,
        .r = &result,
    };
    cli_status_verdict(&v, &st);
    rc = a->json ? cli_verdict_json(&v) : cli_verdict_human("verify", &v);
    cli_status_warn("verify", &v);
    /* "Could not check" is not "invalid": a caller-side problem (such as a
     * MAC-authenticated response without --reader-key) or an environment
     * failure exits with 2. */
    if (verdict != TES_OK && (tes_err_is_caller(verdict) || tes_err_is_env(verdict)))
        rc = CLI_EXIT_USAGE;
done:
    tes_status_verdict_free(&st);
    tes_mdoc_result_free(&result);
    tes_buf_free(&response);
    tes_buf_free(&transcript);
    tes_key_free(reader);
    tes_trust_store_free(store);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("verify", &opts);
    verify_args a = {.status = {.mode = TES_STATUS_OFF, .max_age = CLI_STATUS_DEFAULT_MAX_AGE}};
    size_t max_age;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (a.n_trust == MAX_TRUST_ARGS)
                return cli_usage_error("verify", "too many --trust options");
            a.trust[a.n_trust++] = optarg;
            break;
        case 's':
            a.transcript = optarg;
            break;
        case 'r':
            a.reader_key = optarg;
            break;
        case 'a':
            a.at = optarg;
            break;
        case 'j':
            a.json = true;
            break;
        case 'S':
            if (tes_status_mode_parse(optarg, &a.status.mode) != TES_OK)
                return cli_usage_error("verify", "--status must be online, cached or off, not '%s'",
                                       optarg);
            break;
        case 'C':
            a.status.cache_dir = optarg;
            break;
        case 'M':
            if (!cli_parse_size(optarg, (size_t)INT32_MAX, &max_age))
                return cli_usage_error("verify", "--status-max-age needs seconds, not '%s'", optarg);
            a.status.max_age = (int64_t)max_age;
            break;
        case 'X':
            if (!cli_parse_size(optarg, (size_t)INT32_MAX, &max_age) || max_age == 0)
                return cli_usage_error("verify",
                                       "--status-max-ttl needs 1 or more seconds, not '%s'", optarg);
            a.status.max_ttl = (int64_t)max_age;
            break;
        case 'h':
            cli_help("verify");
            return CLI_EXIT_OK;
        default:
            return cli_bad_option("verify", c, argv);
        }
    }
    if (a.n_trust == 0)
        return cli_usage_error("verify", "missing --trust");
    if (a.transcript == NULL)
        return cli_usage_error("verify", "missing --transcript");
    if (optind >= argc)
        return cli_usage_error("verify", "missing the response file");
    if (optind + 1 < argc)
        return cli_usage_error("verify", "unexpected argument '%s'", argv[optind + 1]);
    a.response = argv[optind];
    return verify(&a);
}
