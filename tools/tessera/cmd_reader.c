/* tessera reader checkin — the front desk's side of the offline check-in: takes
 * the phone's engagement (QR text or image, or an NFC tap through PC/SC), asks
 * for the guest's data with reader authentication, verifies the answer against
 * its own trust roots, prints it, and keeps nothing (the portrait goes to a file
 * only when asked). */
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tessera/proximity.h"

#include "cli.h"

#define MAX_TRUST_ARGS 64
#define MAX_ELEMENTS 256
#define MAX_CHAIN 8
#define DEFAULT_TIMEOUT 30
#define CLI_READER_STATUS_CACHE "status-cache"

/* The hotel registration set of the PID. */
static const char DEFAULT_ELEMENTS[] =
    "family_name,given_name,document_number,portrait,nationality,age_over_18";

typedef struct checkin_args {
    const char *reader, *qr, *qr_png, *tcp, *elements, *retain, *doctype, *portrait_out,
        *pcsc_reader;
    const char *trust[MAX_TRUST_ARGS];
    size_t n_trust;
    bool nfc, json;
    size_t timeout;
    cli_status_opts status;
} checkin_args;

/* Splits "ns/name,name" in place; a bare name takes default_ns. */
static int parse_elements(const char *cmd, char *list, const char *default_ns,
                          tes_mdoc_req_elem *elems, size_t *n)
{
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && tok[len - 1] == ' ')
            tok[--len] = '\0';
        if (len == 0)
            continue;
        if (*n == MAX_ELEMENTS)
            return cli_usage_error(cmd, "more than %d elements", MAX_ELEMENTS);
        char *slash = strrchr(tok, '/');
        tes_mdoc_req_elem *e = &elems[(*n)++];
        *e = (tes_mdoc_req_elem){0};
        if (slash) {
            if (slash == tok || slash[1] == '\0')
                return cli_usage_error(cmd, "'%s' is not NAMESPACE/ELEMENT", tok);
            e->ns = TES_BYTES(tok, (size_t)(slash - tok));
            e->name = TES_BYTES(slash + 1, strlen(slash + 1));
        } else {
            e->ns = TES_BYTES(default_ns, strlen(default_ns));
            e->name = TES_BYTES(tok, len);
        }
    }
    if (*n == 0)
        return cli_usage_error(cmd, "--elements lists no element");
    return CLI_EXIT_OK;
}

/* Marks the elements named in the --retain list ("all", or ns/name / name). */
static int mark_retained(const char *cmd, const char *list, const char *default_ns,
                         tes_mdoc_req_elem *elems, size_t n)
{
    if (strcmp(list, "all") == 0) {
        for (size_t i = 0; i < n; i++)
            elems[i].intent_to_retain = true;
        return CLI_EXIT_OK;
    }
    char *copy = strdup(list);
    if (copy == NULL)
        return cli_error(CLI_EXIT_USAGE, "out of memory");
    static tes_mdoc_req_elem keep[MAX_ELEMENTS];
    size_t k = 0;
    int rc = parse_elements(cmd, copy, default_ns, keep, &k);
    for (size_t j = 0; rc == CLI_EXIT_OK && j < k; j++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            if (tes_bytes_eq(elems[i].ns, keep[j].ns) && tes_bytes_eq(elems[i].name, keep[j].name))
                found = elems[i].intent_to_retain = true;
        if (!found)
            rc = cli_usage_error(cmd, "--retain: %.*s/%.*s is not requested", (int)keep[j].ns.len,
                                 (const char *)keep[j].ns.ptr, (int)keep[j].name.len,
                                 (const char *)keep[j].name.ptr);
    }
    free(copy);
    return rc;
}

/* Writes the first disclosed "portrait" (a byte string) to path. */
static int write_portrait(const char *cmd, const tes_mdoc_result *r, const char *path)
{
    for (size_t d = 0; d < r->n_docs; d++)
        for (size_t i = 0; i < r->docs[d].n_elems; i++) {
            const tes_mdoc_element *el = &r->docs[d].elems[i];
            if (!tes_bytes_eq(el->name, TES_BYTES_STR("portrait")))
                continue;
            tes_cbor_doc doc;
            if (tes_cbor_parse(el->value, NULL, &doc) != TES_OK)
                return cli_fail(CLI_EXIT_FAIL, "%s: the portrait", cmd);
            int rc = CLI_EXIT_OK;
            if (doc.nodes[0].type != TES_CBOR_BYTES)
                rc = cli_error(CLI_EXIT_FAIL, "%s: the portrait is not a byte string", cmd);
            else if (cli_write_file(path, TES_BYTES(doc.nodes[0].data, doc.nodes[0].len),
                                    CLI_FILE_PRIVATE) != TES_OK)
                rc = cli_fail(CLI_EXIT_USAGE, "%s: writing the portrait", cmd);
            else
                fprintf(stderr, "portrait (%zu bytes) written to %s\n", (size_t)doc.nodes[0].len,
                        path);
            tes_cbor_doc_free(&doc);
            return rc;
        }
    fprintf(stderr, "tessera: %s: no portrait was disclosed; %s not written\n", cmd, path);
    return CLI_EXIT_OK;
}

/* The reader's certificate chain (every certificate of DIR/reader.pem, leaf
 * first) and its key. */
static int load_reader(const char *cmd, const char *dir, tes_cert **chain, size_t *n, tes_key **key)
{
    char cp[PATH_MAX], kp[PATH_MAX];
    if (!cli_path_in(cp, sizeof(cp), dir, "reader.pem") ||
        !cli_path_in(kp, sizeof(kp), dir, "reader_key.pem"))
        return cli_usage_error(cmd, "--reader path too long");
    if (access(cp, R_OK) != 0 || access(kp, R_OK) != 0)
        return cli_error(CLI_EXIT_USAGE,
                         "%s: '%s' is not a reader (needs reader.pem and reader_key.pem; make one "
                         "with 'tessera reader-ca issue')",
                         cmd, dir);
    tes_buf raw = {0};
    tes_err e = cli_read_file(cp, &raw);
    if (e == TES_OK)
        e = tes_cert_parse_all(tes_buf_bytes(&raw), chain, MAX_CHAIN, n);
    tes_buf_free(&raw);
    if (e != TES_OK || *n == 0) {
        *n = 0;
        return cli_fail(CLI_EXIT_USAGE, "%s: reader certificate %s", cmd, cp);
    }
    if (cli_load_key(kp, key) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "%s: reader key", cmd);
    if (!tes_key_has_private(*key) || !tes_key_equal_public(*key, tes_cert_key(chain[0])))
        return cli_error(CLI_EXIT_USAGE, "%s: %s is not the private key of %s", cmd, kp, cp);
    return CLI_EXIT_OK;
}

static int checkin(const checkin_args *a)
{
    const char *cmd = "reader checkin";
    int rc = CLI_EXIT_USAGE;
    tes_trust_store *trust = NULL;
    tes_cert *chain[MAX_CHAIN];
    size_t n_chain = 0;
    tes_key *key = NULL;
    tes_engagement eng = {0};
    bool have_eng = false;
    tes_buf ndef = {0}, response = {0};
    tes_transport *t = NULL;
    tes_mdoc_result result = {0};
    char *uri = NULL, *list = NULL;
    tes_status_verdict st = {0};
    static tes_mdoc_req_elem elems[MAX_ELEMENTS];
    size_t n_elems = 0;
    int timeout_ms = (int)a->timeout * 1000;
    tes_err e;

    const char *doctype = a->doctype ? a->doctype : TES_DOCTYPE_PID;
    const tes_doctype *dt = tes_doctype_find(doctype);
    const char *default_ns = dt ? dt->ns : doctype;
    list = strdup(a->elements ? a->elements : DEFAULT_ELEMENTS);
    if (list == NULL) {
        cli_error(rc, "out of memory");
        goto out;
    }
    if ((rc = parse_elements(cmd, list, default_ns, elems, &n_elems)) != CLI_EXIT_OK ||
        (a->retain &&
         (rc = mark_retained(cmd, a->retain, default_ns, elems, n_elems)) != CLI_EXIT_OK))
        goto out;
    rc = CLI_EXIT_USAGE;
    if (tes_trust_store_new(&trust) != TES_OK) {
        cli_fail(rc, "%s: trust store", cmd);
        goto out;
    }
    if ((rc = cli_load_trust(cmd, a->trust, a->n_trust, TES_PROFILE_DS, trust)) != CLI_EXIT_OK ||
        (rc = load_reader(cmd, a->reader, chain, &n_chain, &key)) != CLI_EXIT_OK)
        goto out;

    /* The engagement: from the QR code, or read from the phone over NFC. */
    rc = CLI_EXIT_USAGE;
    if (a->qr_png) {
        if (cli_qr_read_png(a->qr_png, &uri) != TES_OK) {
            cli_fail(rc, "%s: --qr-png", cmd);
            goto out;
        }
    }
    const char *text = a->qr ? a->qr : uri;
    if (text) {
        if ((e = tes_engagement_from_uri(text, strlen(text), &eng)) != TES_OK) {
            rc = cli_fail_code(CLI_EXIT_FAIL, e, "%s: the QR code is not a device engagement", cmd);
            goto out;
        }
        have_eng = true;
        if ((e = tes_tcp_connect(a->tcp, timeout_ms, &t)) != TES_OK) {
            rc =
                cli_fail_code(cli_exit_for(e), e, "%s: connecting to the phone at %s", cmd, a->tcp);
            goto out;
        }
        if (!a->json)
            fprintf(stderr, "connected to the phone at %s (engagement from the QR code)\n", a->tcp);
    } else {
        if (!a->json)
            fprintf(stderr, "waiting for a phone on the NFC reader (%zu s)...\n", a->timeout);
        if ((e = tes_pcsc_connect(a->pcsc_reader, timeout_ms, &ndef, &t)) != TES_OK) {
            rc = cli_fail_code(cli_exit_for(e), e, "%s: NFC", cmd);
            goto out;
        }
        if ((e = tes_handover_select_parse(tes_buf_bytes(&ndef), &eng, NULL, NULL)) != TES_OK) {
            rc = cli_fail_code(CLI_EXIT_FAIL, e, "%s: the phone's NFC handover", cmd);
            goto out;
        }
        have_eng = true;
        if (!a->json)
            fprintf(stderr, "phone found on the NFC reader (engagement from its handover)\n");
    }

    tes_bytes der[MAX_CHAIN];
    for (size_t i = 0; i < n_chain; i++)
        der[i] = tes_cert_der(chain[i]);
    tes_signer signer = tes_signer_from_key(key);
    const tes_reader_params p = {
        .t = t,
        .engagement = &eng,
        .nfc_handover_select = tes_buf_bytes(&ndef),
        .doctype = doctype,
        .elems = elems,
        .n_elems = n_elems,
        .reader = &signer,
        .reader_chain = der,
        .reader_chain_len = n_chain,
        .trust = trust,
        .now = (int64_t)time(NULL),
        .timeout_ms = timeout_ms,
    };
    if (!a->json)
        fprintf(stderr, "asking as \"%s\" for %zu element(s) of %s\n",
                tes_cert_get_info(chain[0])->common_name, n_elems, doctype);
    tes_err verdict = tes_reader_checkin(&p, &response, &result);
    char message[1024];
    snprintf(message, sizeof(message), "%s", verdict == TES_OK ? "" : tes_err_message());
    /* The status, once the session is over: from the reader's cache (no
     * network at the front desk) or, with --status online, fetched. */
    if (verdict == TES_OK &&
        (rc = cli_status_check_docs(cmd, &a->status, trust, &result, &st)) != CLI_EXIT_OK)
        goto out;
    cli_verdict v = {
        .verdict = verdict,
        .code = tes_err_name(verdict),
        .message = message,
        .r = &result,
    };
    cli_status_verdict(&v, &st);
    rc = a->json ? cli_verdict_json(&v) : cli_verdict_human(cmd, &v);
    cli_status_warn(cmd, &v);
    if (verdict != TES_OK && (tes_err_is_caller(verdict) || tes_err_is_env(verdict)))
        rc = CLI_EXIT_USAGE;
    /* No portrait of a revoked or suspended credential. */
    if (verdict == TES_OK && v.status_code == NULL && a->portrait_out) {
        int prc = write_portrait(cmd, &result, a->portrait_out);
        if (prc != CLI_EXIT_OK)
            rc = prc;
    }
out:
    tes_status_verdict_free(&st);
    tes_mdoc_result_free(&result);
    tes_buf_free(&response);
    if (t)
        tes_transport_close(t);
    if (have_eng)
        tes_engagement_free(&eng);
    tes_buf_free(&ndef);
    for (size_t i = 0; i < n_chain; i++)
        tes_cert_free(chain[i]);
    tes_key_free(key);
    tes_trust_store_free(trust);
    free(uri);
    free(list);
    return rc;
}

static int cmd_checkin(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("reader checkin", &opts);
    const char *cmd = "reader checkin";
    checkin_args a = {
        .timeout = DEFAULT_TIMEOUT,
        .status = {.mode = TES_STATUS_CACHED, .max_age = CLI_STATUS_DEFAULT_MAX_AGE},
    };
    size_t max_age;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            a.reader = optarg;
            break;
        case 't':
            if (a.n_trust == MAX_TRUST_ARGS)
                return cli_usage_error(cmd, "too many --trust options");
            a.trust[a.n_trust++] = optarg;
            break;
        case 'q':
            a.qr = optarg;
            break;
        case 'g':
            a.qr_png = optarg;
            break;
        case 'n':
            a.nfc = true;
            break;
        case 'c':
            a.tcp = optarg;
            break;
        case 'e':
            a.elements = optarg;
            break;
        case 'R':
            a.retain = optarg;
            break;
        case 'd':
            a.doctype = optarg;
            break;
        case 'j':
            a.json = true;
            break;
        case 'p':
            a.portrait_out = optarg;
            break;
        case 'T':
            if (!cli_parse_size(optarg, 86400, &a.timeout) || a.timeout == 0)
                return cli_usage_error(cmd, "--timeout needs 1..86400 seconds, not '%s'", optarg);
            break;
        case 'P':
            a.pcsc_reader = optarg;
            break;
        case 'S':
            if (tes_status_mode_parse(optarg, &a.status.mode) != TES_OK)
                return cli_usage_error(cmd, "--status must be online, cached or off, not '%s'",
                                       optarg);
            break;
        case 'C':
            a.status.cache_dir = optarg;
            break;
        case 'M':
            if (!cli_parse_size(optarg, (size_t)INT32_MAX, &max_age))
                return cli_usage_error(cmd, "--status-max-age needs seconds, not '%s'", optarg);
            a.status.max_age = (int64_t)max_age;
            break;
        case 'X':
            if (!cli_parse_size(optarg, (size_t)INT32_MAX, &max_age) || max_age == 0)
                return cli_usage_error(cmd, "--status-max-ttl needs 1 or more seconds, not '%s'",
                                       optarg);
            a.status.max_ttl = (int64_t)max_age;
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
    if (a.reader == NULL)
        return cli_usage_error(cmd, "missing --reader DIR (made by 'tessera reader-ca issue')");
    if (a.n_trust == 0)
        return cli_usage_error(cmd, "missing --trust ROOTS.pem (the issuing authorities accepted)");
    int sources = (a.qr != NULL) + (a.qr_png != NULL) + a.nfc;
    if (sources == 0)
        return cli_usage_error(cmd, a.tcp ? "--tcp is the data channel; the engagement comes from "
                                            "--qr URI or --qr-png FILE"
                                          : "give --qr URI --tcp HOST:PORT, --qr-png FILE --tcp "
                                            "HOST:PORT, or --nfc");
    if (sources > 1)
        return cli_usage_error(cmd, "give only one of --qr, --qr-png and --nfc");
    if (a.nfc && a.tcp)
        return cli_usage_error(cmd, "--nfc carries the data itself (no --tcp)");
    if (!a.nfc && a.tcp == NULL)
        return cli_usage_error(cmd, "the QR code carries the engagement; give the phone's data "
                                    "channel with --tcp HOST:PORT");
    if (a.pcsc_reader && !a.nfc)
        return cli_usage_error(cmd, "--pcsc-reader goes with --nfc");
    /* The reader keeps the lists it fetched beside its certificate. */
    char cache[PATH_MAX];
    if (!cli_path_in(cache, sizeof(cache), a.reader, CLI_READER_STATUS_CACHE))
        return cli_usage_error(cmd, "--reader path too long");
    a.status.default_dir = cache;
    return checkin(&a);
}

int cmd_reader(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        cli_help("reader checkin");
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("reader", "missing subcommand 'checkin'");
    if (strcmp(argv[1], "checkin") == 0)
        return cmd_checkin(argc - 1, argv + 1);
    return cli_usage_error("reader", "unknown subcommand '%s' (only 'checkin')", argv[1]);
}
