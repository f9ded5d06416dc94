/* tessera present — a DeviceResponse for a request, signed or MACed by the device key. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera/mdoc.h"
#include "tessera/wallet.h"

#include "cli.h"

#define MAX_ELEMENTS 1024

typedef struct present_args {
    const char *mdoc, *device_key, *request, *elements, *transcript, *reader_pub, *out;
    bool mac;
    /* with a wallet instead of --mdoc/--device-key */
    const char *wallet;
    int64_t credential;
    bool have_credential;
    int pin_fd;
} present_args;

/* The credential's docType: the stored-credential map's "docType", or that of
 * the first document of a DeviceResponse. Empty when absent (bare IssuerSigned). */
static void mdoc_doctype(tes_bytes mdoc, char *out, size_t cap)
{
    out[0] = '\0';
    tes_cbor_doc d;
    if (tes_cbor_parse(mdoc, NULL, &d) != TES_OK)
        return;
    uint32_t dt = TES_CBOR_NONE;
    if (tes_cbor_is(&d, 0, TES_CBOR_MAP)) {
        dt = tes_cbor_map_get_text(&d, 0, "docType");
        uint32_t docs = tes_cbor_map_get_text(&d, 0, "documents");
        if (dt == TES_CBOR_NONE && docs != TES_CBOR_NONE && tes_cbor_is(&d, docs, TES_CBOR_ARRAY) &&
            tes_cbor_count(&d, docs) > 0) {
            uint32_t first = tes_cbor_child(&d, docs);
            if (tes_cbor_is(&d, first, TES_CBOR_MAP))
                dt = tes_cbor_map_get_text(&d, first, "docType");
        }
    }
    if (dt != TES_CBOR_NONE && tes_cbor_is(&d, dt, TES_CBOR_TEXT)) {
        const tes_cbor_node *n = tes_cbor_at(&d, dt);
        snprintf(out, cap, "%.*s", (int)n->len, (const char *)n->data);
    }
    tes_cbor_doc_free(&d);
}

/* Splits "ns/name,ns/name,name" in place; a bare name takes default_ns. */
static int parse_elements(char *list, const char *default_ns, tes_mdoc_req_elem *elems, size_t *n)
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
            return cli_usage_error("present", "more than %d elements", MAX_ELEMENTS);
        char *slash = strrchr(tok, '/');
        tes_mdoc_req_elem *e = &elems[(*n)++];
        *e = (tes_mdoc_req_elem){0};
        if (slash) {
            if (slash == tok || slash[1] == '\0')
                return cli_usage_error("present", "'%s' is not NAMESPACE/ELEMENT", tok);
            e->ns = TES_BYTES(tok, (size_t)(slash - tok));
            e->name = TES_BYTES(slash + 1, strlen(slash + 1));
        } else {
            if (default_ns == NULL)
                return cli_usage_error("present",
                                       "'%s' needs a namespace (NAMESPACE/ELEMENT): the "
                                       "credential's doctype is not known",
                                       tok);
            e->ns = TES_BYTES(default_ns, strlen(default_ns));
            e->name = TES_BYTES(tok, len);
        }
    }
    if (*n == 0)
        return cli_usage_error("present", "--elements lists no element");
    return CLI_EXIT_OK;
}

/* Whether the response discloses (ns, name) among its IssuerSignedItems. */
static bool disclosed(const tes_cbor_doc *d, tes_bytes ns, tes_bytes name)
{
    uint32_t docs = tes_cbor_map_get_text(d, 0, "documents");
    if (docs == TES_CBOR_NONE || !tes_cbor_is(d, docs, TES_CBOR_ARRAY))
        return false;
    for (uint32_t doc = tes_cbor_child(d, docs); doc != TES_CBOR_NONE && doc < d->nodes[docs].next;
         doc = tes_cbor_next(d, doc)) {
        uint32_t is = tes_cbor_is(d, doc, TES_CBOR_MAP)
                          ? tes_cbor_map_get_text(d, doc, "issuerSigned")
                          : TES_CBOR_NONE;
        uint32_t nss = is != TES_CBOR_NONE && tes_cbor_is(d, is, TES_CBOR_MAP)
                           ? tes_cbor_map_get_text(d, is, "nameSpaces")
                           : TES_CBOR_NONE;
        if (nss == TES_CBOR_NONE || !tes_cbor_is(d, nss, TES_CBOR_MAP))
            continue;
        for (uint32_t k = tes_cbor_child(d, nss); k != TES_CBOR_NONE && k < d->nodes[nss].next;
             k = tes_cbor_next(d, tes_cbor_next(d, k))) {
            const tes_cbor_node *kn = tes_cbor_at(d, k);
            uint32_t items = tes_cbor_next(d, k);
            if (kn->type != TES_CBOR_TEXT || !tes_bytes_eq(TES_BYTES(kn->data, kn->len), ns) ||
                !tes_cbor_is(d, items, TES_CBOR_ARRAY))
                continue;
            for (uint32_t it = tes_cbor_child(d, items);
                 it != TES_CBOR_NONE && it < d->nodes[items].next; it = tes_cbor_next(d, it)) {
                tes_bytes inner;
                tes_cbor_doc sub;
                if (!tes_cbor_tag24_content(d, it, &inner) ||
                    tes_cbor_parse(inner, NULL, &sub) != TES_OK)
                    continue;
                uint32_t id = tes_cbor_is(&sub, 0, TES_CBOR_MAP)
                                  ? tes_cbor_map_get_text(&sub, 0, "elementIdentifier")
                                  : TES_CBOR_NONE;
                bool match = false;
                if (id != TES_CBOR_NONE && tes_cbor_is(&sub, id, TES_CBOR_TEXT)) {
                    const tes_cbor_node *in = tes_cbor_at(&sub, id);
                    match = tes_bytes_eq(TES_BYTES(in->data, in->len), name);
                }
                tes_cbor_doc_free(&sub);
                if (match)
                    return true;
            }
        }
    }
    return false;
}

/* Tells on stderr what was disclosed and which requested elements the
 * credential does not hold: from the wallet's result when there is one, else
 * from the response. */
static void report(const present_args *a, const tes_mdoc_req_elem *elems, size_t n, size_t missing,
                   tes_bytes response, const tes_wallet_present_result *res)
{
    fprintf(stderr, "presented %zu of %zu requested elements (device %s%s) to %s\n", n - missing, n,
            a->mac ? "MAC" : "signature", a->wallet ? ", key in the secure element" : "", a->out);
    if (missing == 0)
        return;
    tes_cbor_doc d;
    size_t listed = 0;
    bool ok = elems != NULL && (res != NULL || tes_cbor_parse(response, NULL, &d) == TES_OK);
    bool *shown = ok ? calloc(n ? n : 1, sizeof(bool)) : NULL;
    for (size_t i = 0; shown && i < n; i++) {
        for (size_t j = 0; res && j < res->n_disclosed && !shown[i]; j++)
            shown[i] = tes_bytes_eq(elems[i].ns, TES_BYTES(res->disclosed[j].ns,
                                                           strlen(res->disclosed[j].ns))) &&
                       tes_bytes_eq(elems[i].name, TES_BYTES(res->disclosed[j].name,
                                                             strlen(res->disclosed[j].name)));
        if (res == NULL)
            shown[i] = disclosed(&d, elems[i].ns, elems[i].name);
        listed += !shown[i];
    }
    if (shown == NULL || listed != missing) {
        /* e.g. age_over_NN answered by a neighbouring age_over_MM */
        fprintf(stderr, "not in the credential: %zu requested element(s)\n", missing);
    } else {
        fprintf(stderr, "not in the credential (left out):");
        for (size_t i = 0; i < n; i++)
            if (!shown[i])
                fprintf(stderr, " %.*s/%.*s", (int)elems[i].ns.len, (const char *)elems[i].ns.ptr,
                        (int)elems[i].name.len, (const char *)elems[i].name.ptr);
        fputc('\n', stderr);
    }
    free(shown);
    if (ok && res == NULL)
        tes_cbor_doc_free(&d);
}

/* The request's DocRequest for doctype (any single one when it is not known). */
static int request_elems(const present_args *a, tes_bytes raw, const char *doctype,
                         tes_mdoc_request *req, const tes_mdoc_req_elem **elems, size_t *n)
{
    tes_err e = tes_mdoc_request_parse(raw, req);
    if (e != TES_OK)
        return cli_fail(cli_exit_for(e), "request %s", a->request);
    const tes_mdoc_doc_request *match = NULL;
    for (size_t i = 0; i < req->n_docs && match == NULL; i++)
        if (*doctype ? tes_bytes_eq(req->docs[i].doctype, TES_BYTES(doctype, strlen(doctype)))
                     : req->n_docs == 1)
            match = &req->docs[i];
    if (match == NULL)
        return cli_error(CLI_EXIT_FAIL, "request %s asks for no document of type '%s'", a->request,
                         *doctype ? doctype : "(unknown)");
    if (match->has_reader_auth)
        fprintf(stderr, "note: the request's reader authentication is not checked here "
                        "(the reader is untrusted)\n");
    *elems = match->elems;
    *n = match->n_elems;
    return CLI_EXIT_OK;
}

/* --elements into elems (list: the strdup'ed text they point into). */
static int list_elems(const present_args *a, const char *doctype, char **list,
                      tes_mdoc_req_elem *elems, size_t *n)
{
    const tes_doctype *t = *doctype ? tes_doctype_find(doctype) : NULL;
    if ((*list = strdup(a->elements)) == NULL)
        return cli_error(CLI_EXIT_USAGE, "out of memory");
    return parse_elements(*list, t ? t->ns : NULL, elems, n);
}

/* The reader's public key (--mac) and the session transcript. */
static int load_inputs(const present_args *a, tes_key **reader, tes_buf *transcript)
{
    if (a->mac && cli_load_key(a->reader_pub, reader) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "reader public key");
    if (cli_load_transcript(a->transcript, transcript) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "session transcript");
    return CLI_EXIT_OK;
}

/* From the holder's wallet: everything from the PIN to the log entry is one
 * library call (tes_wallet_present). */
static int present_wallet(const present_args *a)
{
    cli_wallet w;
    int rc = cli_wallet_open("present", a->wallet, &w);
    if (rc != CLI_EXIT_OK)
        return rc;
    tes_buf req_raw = {0}, transcript = {0}, out = {0};
    tes_key *reader = NULL;
    tes_store_cred *cred = NULL;
    char *list = NULL;
    static tes_mdoc_req_elem elems[MAX_ELEMENTS];
    size_t n_elems = 0;
    char pin[CLI_PIN_MAX] = "";
    tes_wallet_present_result res = {0};
    tes_err e = tes_wallet_credential(w.wallet, a->credential, &cred);
    rc = CLI_EXIT_USAGE;
    if (e == TES_ERR_NOT_FOUND) {
        rc = cli_error(CLI_EXIT_USAGE,
                       "present: the wallet %s holds no credential %lld (see 'tessera wallet "
                       "list --wallet %s')",
                       a->wallet, (long long)a->credential, a->wallet);
        goto done;
    }
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "present: reading the wallet");
        goto done;
    }
    /* An output that cannot be written must not cost a single-use copy. */
    if ((e = cli_check_output(a->out)) != TES_OK) {
        rc = cli_fail_code(CLI_EXIT_USAGE, e, "present: the response cannot be written");
        goto done;
    }
    if (a->mac && !(tes_se_caps(w.se) & TES_SE_CAP_ECDH_EXPORT)) {
        rc = cli_error(CLI_EXIT_FAIL,
                       "present: --mac needs the device key's ECDH result, and the wallet's "
                       "%s secure element does not let it leave (no ecdh-export capability); "
                       "present with a device signature instead",
                       w.se->ops->name);
        goto done;
    }
    if (load_inputs(a, &reader, &transcript) != CLI_EXIT_OK)
        goto done;
    tes_wallet_present_opts o = {.credential_id = a->credential,
                                 .transcript = tes_buf_bytes(&transcript),
                                 .auth = a->mac ? TES_DEVICE_AUTH_MAC : TES_DEVICE_AUTH_SIGNATURE,
                                 .reader_key = reader};
    if (a->request) {
        if (cli_read_file(a->request, &req_raw) != TES_OK) {
            cli_fail(rc, "reading the request");
            goto done;
        }
        cli_maybe_unhex(&req_raw);
        o.device_request = tes_buf_bytes(&req_raw);
    } else {
        if ((rc = list_elems(a, cred->doctype, &list, elems, &n_elems)) != CLI_EXIT_OK)
            goto done;
        o.elems = elems;
        o.n_elems = n_elems;
    }
    /* The PIN is asked when the credential's keys need it (or the token needs
     * a login); the library checks it before a copy is spent. */
    if (tes_wallet_present_needs_pin(w.wallet, a->credential)) {
        if ((rc = cli_pin_read("present", a->pin_fd, "PIN", pin)) != CLI_EXIT_OK)
            goto done;
        o.pin = pin;
    }
    e = tes_wallet_present(w.wallet, &o, &out, &res);
    tes_wipe(pin, sizeof(pin));
    if (res.reader_auth_unchecked)
        fprintf(stderr, "note: the request's reader authentication is not checked here "
                        "(the reader is untrusted)\n");
    if (e != TES_OK) {
        rc = cli_se_fail(&w, e, "present: credential %lld", (long long)a->credential);
        goto done;
    }
    if (cli_write_file(a->out, tes_buf_bytes(&out), CLI_FILE_PRIVATE) != TES_OK) {
        rc = cli_fail(CLI_EXIT_USAGE, "writing the response");
        goto done;
    }
    report(a, a->request ? NULL : elems, res.n_requested, res.missing, tes_buf_bytes(&out), &res);
    rc = CLI_EXIT_OK;
done:
    tes_wipe(pin, sizeof(pin));
    tes_wallet_present_result_free(&res);
    tes_store_creds_free(cred, cred ? 1 : 0);
    cli_wallet_close(&w);
    free(list);
    tes_key_free(reader);
    out.secret = true;
    tes_buf_free(&out);
    tes_buf_free(&transcript);
    tes_buf_free(&req_raw);
    return rc;
}

/* From a credential file and a device key file. */
static int present_file(const present_args *a)
{
    int rc = CLI_EXIT_USAGE;
    tes_buf mdoc_file = {0}, req_raw = {0}, transcript = {0}, out = {0};
    tes_key *device = NULL, *reader = NULL;
    tes_mdoc_request req = {0};
    char *list = NULL;
    static tes_mdoc_req_elem list_elems_buf[MAX_ELEMENTS];
    const tes_mdoc_req_elem *elems = NULL;
    size_t n_elems = 0, missing = 0;
    char doctype[256] = "";
    tes_err e;

    if (cli_read_file(a->mdoc, &mdoc_file) != TES_OK) {
        cli_fail(rc, "reading the credential");
        goto done;
    }
    cli_maybe_unhex(&mdoc_file);
    if (cli_load_key(a->device_key, &device) != TES_OK) {
        cli_fail(rc, "device key");
        goto done;
    }
    if (!tes_key_has_private(device)) {
        cli_error(rc, "device key: %s is a public key; presenting needs the private key",
                  a->device_key);
        goto done;
    }
    if (load_inputs(a, &reader, &transcript) != CLI_EXIT_OK)
        goto done;
    mdoc_doctype(tes_buf_bytes(&mdoc_file), doctype, sizeof(doctype));
    if (a->request) {
        if (cli_read_file(a->request, &req_raw) != TES_OK) {
            cli_fail(rc, "reading the request");
            goto done;
        }
        cli_maybe_unhex(&req_raw);
        if ((rc = request_elems(a, tes_buf_bytes(&req_raw), doctype, &req, &elems, &n_elems)) !=
            CLI_EXIT_OK)
            goto done;
    } else {
        if ((rc = list_elems(a, doctype, &list, list_elems_buf, &n_elems)) != CLI_EXIT_OK)
            goto done;
        elems = list_elems_buf;
    }
    rc = CLI_EXIT_USAGE;
    tes_signer signer = tes_signer_from_key(device);
    tes_mdoc_present_params p = {
        .mdoc = tes_buf_bytes(&mdoc_file),
        .elems = elems,
        .n_elems = n_elems,
        .transcript = tes_buf_bytes(&transcript),
        .reader_key = a->mac ? reader : NULL,
        .device = a->mac ? NULL : &signer,
        .device_key = a->mac ? device : NULL,
    };
    e = tes_mdoc_present(&p, &out, &missing);
    if (e != TES_OK) {
        rc = cli_fail(cli_exit_for(e), "presenting %s", a->mdoc);
        goto done;
    }
    if (cli_write_file(a->out, tes_buf_bytes(&out), CLI_FILE_PRIVATE) != TES_OK) {
        rc = cli_fail(CLI_EXIT_USAGE, "writing the response");
        goto done;
    }
    report(a, elems, n_elems, missing, tes_buf_bytes(&out), NULL);
    rc = CLI_EXIT_OK;
done:
    tes_mdoc_request_free(&req);
    free(list);
    tes_key_free(reader);
    tes_key_free(device);
    tes_buf_free(&out);
    tes_buf_free(&transcript);
    tes_buf_free(&req_raw);
    tes_buf_free(&mdoc_file);
    return rc;
}

static int present(const present_args *a)
{
    return a->wallet ? present_wallet(a) : present_file(a);
}

int cmd_present(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("present", &opts);
    present_args a = {.pin_fd = -1};
    int c;
    size_t v;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            a.mdoc = optarg;
            break;
        case 'k':
            a.device_key = optarg;
            break;
        case 'r':
            a.request = optarg;
            break;
        case 'e':
            a.elements = optarg;
            break;
        case 's':
            a.transcript = optarg;
            break;
        case 'M':
            a.mac = true;
            break;
        case 'R':
            a.reader_pub = optarg;
            break;
        case 'o':
            a.out = optarg;
            break;
        case 'w':
            a.wallet = optarg;
            break;
        case 'c':
            if (!cli_parse_size(optarg, INT64_MAX, &v))
                return cli_usage_error("present", "--credential needs a credential id, not '%s'",
                                       optarg);
            a.credential = (int64_t)v;
            a.have_credential = true;
            break;
        case 'p':
            if (!cli_parse_fd(optarg, &a.pin_fd))
                return cli_usage_error("present",
                                       "--pin-fd needs a file descriptor number, not "
                                       "'%s'",
                                       optarg);
            break;
        case 'h':
            cli_help("present");
            return CLI_EXIT_OK;
        default:
            return cli_bad_option("present", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("present", "unexpected argument '%s'", argv[optind]);
    if (a.wallet || a.have_credential) {
        if (a.mdoc || a.device_key)
            return cli_usage_error("present", "give either --wallet and --credential, or --mdoc "
                                              "and --device-key");
        if (a.wallet == NULL)
            return cli_usage_error("present", "--credential needs --wallet");
        if (!a.have_credential)
            return cli_usage_error("present", "--wallet needs --credential ID (see 'tessera "
                                              "wallet list')");
    } else {
        if (a.pin_fd >= 0)
            return cli_usage_error("present", "--pin-fd goes with --wallet");
        if (a.mdoc == NULL)
            return cli_usage_error("present", "missing --mdoc (or --wallet and --credential)");
        if (a.device_key == NULL)
            return cli_usage_error("present", "missing --device-key");
    }
    const struct {
        const char *v, *name;
    } req[] = {{a.transcript, "--transcript"}, {a.out, "--out"}};
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
        if (req[i].v == NULL)
            return cli_usage_error("present", "missing %s", req[i].name);
    if ((a.request == NULL) == (a.elements == NULL))
        return cli_usage_error("present", "give exactly one of --request and --elements");
    if (a.reader_pub)
        a.mac = true; /* --reader-pub only makes sense for a MAC */
    if (a.mac && a.reader_pub == NULL)
        return cli_usage_error("present", "--mac needs --reader-pub (the reader's public key)");
    int rc = cli_pin_check_fd("present", a.pin_fd);
    if (rc != CLI_EXIT_OK)
        return rc;
    return present(&a);
}
