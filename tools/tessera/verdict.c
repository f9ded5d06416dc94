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

static json_t *status_json(const tes_mdoc_document *doc, const tes_status_doc *st)
{
    if (!doc->has_status)
        return json_null();
    if (st == NULL || !st->checked)
        return json_pack("{sIso}", "idx", (json_int_t)doc->status_idx, "uri",
                         jstr_bytes(doc->status_uri));
    json_t *fetched = st->fetched_at > 0 ? jtime(st->fetched_at) : json_null();
    /* why it is undetermined, as a stable code name (e.g. "status_wrong_issuer") */
    json_t *reason = st->value == TES_STATUS_UNDETERMINED && st->reason != TES_OK
                         ? json_string(tes_err_name(st->reason))
                         : json_null();
    return json_pack("{sIsosssssoso}", "idx", (json_int_t)doc->status_idx, "uri",
                     jstr_bytes(doc->status_uri), "value", tes_status_value_name(st->value),
                     "detail", st->detail, "reason", reason, "fetched", fetched);
}

static json_t *document_json(const tes_mdoc_document *doc, const tes_status_doc *st)
{
    json_t *elems = elements_json(doc, NULL);
    if (elems == NULL)
        return NULL;
    json_t *status = status_json(doc, st);
    return json_pack("{sosssosososososo}", "docType", jstr_bytes(doc->doctype), "issuer",
                     doc->issuer, "signed", jtime(doc->signed_at), "validFrom",
                     jtime(doc->valid_from), "validUntil", jtime(doc->valid_until), "deviceAuth",
                     json_string(doc->device_mac ? "mac" : "signature"), "status", status,
                     "elements", elems);
}

int cli_verdict_json(const cli_verdict *v)
{
    bool verified = v->verdict == TES_OK;
    bool valid = verified && v->status_code == NULL;
    json_t *docs = json_array();
    /* A document refused for its status was verified: it is listed, with
     * its status, so that the caller sees which one and why. */
    for (size_t i = 0; verified && docs && i < v->r->n_docs; i++) {
        json_t *d = document_json(&v->r->docs[i], v->status ? &v->status[i] : NULL);
        if (d == NULL || json_array_append_new(docs, d) != 0) {
            json_decref(docs);
            return cli_fail(CLI_EXIT_USAGE, "rendering JSON");
        }
    }
    json_t *err = json_null();
    if (!verified)
        err = json_pack("{ssss}", "code", v->code, "message", v->message);
    else if (!valid)
        err = json_pack("{ssss}", "code", v->status_code, "message", v->status_message);
    json_t *top = json_pack("{sbsoso}", "valid", valid, "error", err, "documents", docs);
    char *text = top ? json_dumps(top, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(top);
    if (text == NULL)
        return cli_error(CLI_EXIT_USAGE, "out of memory rendering JSON");
    puts(text);
    free(text);
    return valid ? CLI_EXIT_OK : CLI_EXIT_FAIL;
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

static void print_status(const tes_mdoc_document *d, const tes_status_doc *st)
{
    if (!d->has_status) {
        if (st != NULL)
            printf("  status:      none (the credential carries no status reference)\n");
        return;
    }
    if (st == NULL || !st->checked) {
        printf("  status:      index %llu in %.*s (not checked: --status off)\n",
               (unsigned long long)d->status_idx, (int)d->status_uri.len,
               (const char *)d->status_uri.ptr);
        return;
    }
    char t[21] = "";
    if (st->fetched_at > 0)
        tes_time_format(st->fetched_at, t);
    switch (st->value) {
    case TES_STATUS_VALID:
        printf("  status:      valid (index %llu in %s; list fetched %s)\n",
               (unsigned long long)d->status_idx, st->uri, t);
        break;
    case TES_STATUS_REVOKED:
    case TES_STATUS_SUSPENDED:
        printf("  status:      %s (index %llu in %s; list fetched %s)\n",
               st->value == TES_STATUS_REVOKED ? "REVOKED" : "SUSPENDED",
               (unsigned long long)d->status_idx, st->uri, t);
        break;
    default:
        printf("  status:      UNDETERMINED (%s%s%s): neither known valid nor known revoked\n",
               st->reason != TES_OK ? tes_err_name(st->reason) : "",
               st->reason != TES_OK ? ": " : "", st->detail[0] ? st->detail : "no reason given");
        break;
    }
}

int cli_verdict_human(const char *cmd, const cli_verdict *v)
{
    if (v->verdict != TES_OK && (tes_err_is_caller(v->verdict) || tes_err_is_env(v->verdict)))
        return cli_error(CLI_EXIT_USAGE, "%s: could not check the response: %s: %s", cmd, v->code,
                         v->message);
    if (v->verdict != TES_OK) {
        printf("INVALID: %s: %s\n", v->code, v->message);
        return CLI_EXIT_FAIL;
    }
    const tes_mdoc_result *r = v->r;
    if (v->status_code != NULL) {
        /* The data of a revoked or suspended credential is not shown. */
        printf("INVALID: %s: %s\n", v->status_code, v->status_message);
        for (size_t i = 0; i < r->n_docs; i++) {
            printf("document %zu: %.*s\n", i + 1, (int)r->docs[i].doctype.len,
                   (const char *)r->docs[i].doctype.ptr);
            print_status(&r->docs[i], v->status ? &v->status[i] : NULL);
        }
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
        print_status(d, v->status ? &v->status[i] : NULL);
        printf("  elements (%zu):\n", d->n_elems);
        for (size_t k = 0; k < d->n_elems; k++)
            print_value(&d->elems[k]);
    }
    return CLI_EXIT_OK;
}
