/* A reader's verdict on a DeviceResponse, printed the same way by `tessera
 * verify` and `tessera reader checkin`; loading trust roots for either. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/mdoc.h"
#include "tessera/trust.h"

#include "cli.h"

/* ---- trust roots ---- */

int cli_load_trust(const char *cmd, const char *const *lists, size_t n_lists,
                   tes_trust_profile profile, tes_trust_store *store)
{
    for (size_t i = 0; i < n_lists; i++) {
        char *list = strdup(lists[i]);
        if (list == NULL)
            return cli_error(CLI_EXIT_USAGE, "out of memory");
        int rc = CLI_EXIT_OK;
        for (char *save = NULL, *f = strtok_r(list, ",", &save); f && rc == CLI_EXIT_OK;
             f = strtok_r(NULL, ",", &save)) {
            tes_buf raw = {0};
            if (cli_read_file(f, &raw) != TES_OK)
                rc = cli_fail(CLI_EXIT_USAGE, "%s: trust root", cmd);
            else if (tes_trust_store_add_blob(store, profile, tes_buf_bytes(&raw)) != TES_OK)
                rc = cli_fail(CLI_EXIT_USAGE, "%s: trust root %s", cmd, f);
            tes_buf_free(&raw);
        }
        free(list);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (tes_trust_store_count(store) == 0)
        return cli_usage_error(cmd, "the trust roots given name no certificate");
    return CLI_EXIT_OK;
}

/* ---- JSON ---- */

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

int cli_verdict_json(tes_err verdict, const char *code, const char *message,
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

/* ---- text ---- */

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

int cli_verdict_human(const char *cmd, tes_err verdict, const char *code, const char *message,
                      const tes_mdoc_result *r)
{
    if (verdict != TES_OK && (tes_err_is_caller(verdict) || tes_err_is_env(verdict)))
        return cli_error(CLI_EXIT_USAGE, "%s: could not check the response: %s: %s", cmd, code,
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
