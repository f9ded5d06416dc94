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
} verify_args;

/* ---- loading ---- */

/* Adds every certificate of each comma-separated file as an IACA root. */
static int load_trust(const verify_args *a, tes_trust_store *store)
{
    for (size_t i = 0; i < a->n_trust; i++) {
        char *list = strdup(a->trust[i]);
        if (list == NULL)
            return cli_error(CLI_EXIT_USAGE, "out of memory");
        int rc = CLI_EXIT_OK;
        for (char *save = NULL, *f = strtok_r(list, ",", &save); f && rc == CLI_EXIT_OK;
             f = strtok_r(NULL, ",", &save)) {
            tes_buf raw = {0};
            if (cli_read_file(f, &raw) != TES_OK)
                rc = cli_fail(CLI_EXIT_USAGE, "trust root");
            else if (tes_trust_store_add_blob(store, TES_PROFILE_DS, tes_buf_bytes(&raw)) != TES_OK)
                rc = cli_fail(CLI_EXIT_USAGE, "trust root %s", f);
            tes_buf_free(&raw);
        }
        free(list);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (tes_trust_store_count(store) == 0)
        return cli_usage_error("verify", "--trust names no certificate");
    return CLI_EXIT_OK;
}

/* ---- output ---- */

static json_t *jstr_bytes(tes_bytes b)
{
    return json_stringn(b.len ? (const char *)b.ptr : "", b.len);
}

static json_t *jtime(int64_t t)
{
    char s[21];
    tes_time_format(t, s);
    return json_string(s);
}

/* {"namespace": {"element": value}} in the order received. */
static json_t *elements_json(const tes_mdoc_document *doc, const cli_json_opts *o)
{
    json_t *all = json_object();
    for (size_t i = 0; all && i < doc->n_elems; i++) {
        const tes_mdoc_element *e = &doc->elems[i];
        char *ns = strndup((const char *)e->ns.ptr, e->ns.len);
        char *name = strndup((const char *)e->name.ptr, e->name.len);
        json_t *bucket = ns ? json_object_get(all, ns) : NULL;
        if (ns && bucket == NULL) {
            bucket = json_object();
            if (json_object_set_new(all, ns, bucket) != 0)
                bucket = NULL;
        }
        json_t *v = cli_cbor_to_json(e->value, o);
        bool ok = false;
        if (name && bucket && v)
            ok = json_object_set_new(bucket, name, v) == 0; /* takes v in every case */
        else
            json_decref(v);
        free(ns);
        free(name);
        if (!ok) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}

static json_t *document_json(const tes_mdoc_document *doc)
{
    json_t *elems = elements_json(doc, NULL);
    if (elems == NULL)
        return NULL;
    json_t *status = json_null();
    if (doc->has_status)
        status = json_pack("{sIso}", "idx", (json_int_t)doc->status_idx, "uri",
                           jstr_bytes(doc->status_uri));
    return json_pack("{sosssosososososo}", "docType", jstr_bytes(doc->doctype), "issuer",
                     doc->issuer, "signed", jtime(doc->signed_at), "validFrom",
                     jtime(doc->valid_from), "validUntil", jtime(doc->valid_until), "deviceAuth",
                     json_string(doc->device_mac ? "mac" : "signature"), "status", status,
                     "elements", elems);
}

static int print_json(tes_err verdict, const char *code, const char *message,
                      const tes_mdoc_result *r)
{
    json_t *docs = json_array();
    for (size_t i = 0; verdict == TES_OK && docs && i < r->n_docs; i++) {
        json_t *d = document_json(&r->docs[i]);
        if (d == NULL || json_array_append_new(docs, d) != 0) {
            json_decref(docs);
            return cli_fail(CLI_EXIT_USAGE, "rendering JSON");
        }
    }
    json_t *err =
        verdict == TES_OK ? json_null() : json_pack("{ssss}", "code", code, "message", message);
    json_t *top =
        json_pack("{sbsoso}", "valid", verdict == TES_OK, "error", err, "documents", docs);
    char *text = top ? json_dumps(top, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(top);
    if (text == NULL)
        return cli_error(CLI_EXIT_USAGE, "out of memory rendering JSON");
    puts(text);
    free(text);
    return verdict == TES_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static void print_value(const tes_mdoc_element *e)
{
    static const cli_json_opts o = {.abbreviate_bytes = 48};
    json_t *v = cli_cbor_to_json(e->value, &o);
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
    printf("    %.*s/%.*s = %s\n", (int)e->ns.len, (const char *)e->ns.ptr, (int)e->name.len,
           (const char *)e->name.ptr, text ? text : "(value cannot be shown)");
    free(text);
    json_decref(v);
}

static int print_human(tes_err verdict, const char *code, const char *message,
                       const tes_mdoc_result *r)
{
    if (verdict != TES_OK && (tes_err_is_caller(verdict) || tes_err_is_env(verdict)))
        return cli_error(CLI_EXIT_USAGE, "verify: could not check the response: %s: %s", code,
                         message);
    if (verdict != TES_OK) {
        printf("INVALID: %s: %s\n", code, message);
        return CLI_EXIT_FAIL;
    }
    printf("VALID\n");
    for (size_t i = 0; i < r->n_docs; i++) {
        const tes_mdoc_document *d = &r->docs[i];
        char t[21];
        printf("document %zu: %.*s\n", i + 1, (int)d->doctype.len, (const char *)d->doctype.ptr);
        printf("  issuer:      %s\n", d->issuer);
        tes_time_format(d->signed_at, t);
        printf("  signed:      %s\n", t);
        tes_time_format(d->valid_from, t);
        printf("  valid from:  %s\n", t);
        tes_time_format(d->valid_until, t);
        printf("  valid until: %s\n", t);
        printf("  device auth: %s\n", d->device_mac ? "MAC" : "signature");
        if (d->has_status)
            printf("  status:      index %llu in %.*s (not checked here)\n",
                   (unsigned long long)d->status_idx, (int)d->status_uri.len,
                   (const char *)d->status_uri.ptr);
        printf("  elements (%zu):\n", d->n_elems);
        for (size_t k = 0; k < d->n_elems; k++)
            print_value(&d->elems[k]);
    }
    return CLI_EXIT_OK;
}

/* ---- the command ---- */

static int verify(const verify_args *a)
{
    int rc = CLI_EXIT_USAGE;
    tes_trust_store *store = NULL;
    tes_key *reader = NULL;
    tes_buf transcript = {0}, response = {0};
    tes_mdoc_result result = {0};

    int64_t at = (int64_t)time(NULL);
    if (a->at && tes_time_parse(a->at, strlen(a->at), false, &at) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "--at");
    if (tes_trust_store_new(&store) != TES_OK) {
        cli_fail(rc, "trust store");
        goto done;
    }
    if ((rc = load_trust(a, store)) != CLI_EXIT_OK)
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
    const char *code = tes_err_name(verdict);
    rc = a->json ? print_json(verdict, code, message, &result)
                 : print_human(verdict, code, message, &result);
    /* "Could not check" is not "invalid": a caller-side problem (such as a
     * MAC-authenticated response without --reader-key) or an environment
     * failure exits with 2. */
    if (verdict != TES_OK && (tes_err_is_caller(verdict) || tes_err_is_env(verdict)))
        rc = CLI_EXIT_USAGE;
done:
    tes_mdoc_result_free(&result);
    tes_buf_free(&response);
    tes_buf_free(&transcript);
    tes_key_free(reader);
    tes_trust_store_free(store);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"trust", required_argument, NULL, 't'},
        {"transcript", required_argument, NULL, 's'},
        {"reader-key", required_argument, NULL, 'r'},
        {"at", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    verify_args a = {0};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
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
        case 'h':
            cli_print_usage("verify", false);
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
