/* tessera present — a DeviceResponse for a request, signed or MACed by the device key. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera/mdoc.h"

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
 * credential does not hold. */
static void report(const present_args *a, const tes_mdoc_req_elem *elems, size_t n, size_t missing,
                   tes_bytes response)
{
    fprintf(stderr, "presented %zu of %zu requested elements (device %s%s) to %s\n", n - missing, n,
            a->mac ? "MAC" : "signature", a->wallet ? ", key in the secure element" : "", a->out);
    if (missing == 0)
        return;
    tes_cbor_doc d;
    size_t listed = 0;
    bool ok = tes_cbor_parse(response, NULL, &d) == TES_OK;
    if (ok) {
        for (size_t i = 0; i < n; i++)
            listed += !disclosed(&d, elems[i].ns, elems[i].name);
    }
    if (!ok || listed != missing) {
        /* e.g. age_over_NN answered by a neighbouring age_over_MM */
        fprintf(stderr, "not in the credential: %zu requested element(s)\n", missing);
    } else {
        fprintf(stderr, "not in the credential (left out):");
        for (size_t i = 0; i < n; i++)
            if (!disclosed(&d, elems[i].ns, elems[i].name))
                fprintf(stderr, " %.*s/%.*s", (int)elems[i].ns.len, (const char *)elems[i].ns.ptr,
                        (int)elems[i].name.len, (const char *)elems[i].name.ptr);
        fputc('\n', stderr);
    }
    if (ok)
        tes_cbor_doc_free(&d);
}

/* Appends "ns/name[*]" for every element the response discloses; '*' when the
 * request announced it will be retained. */
static void disclosed_list(tes_bytes response, const tes_mdoc_req_elem *elems, size_t n,
                           tes_buf *out)
{
    tes_cbor_doc d;
    if (tes_cbor_parse(response, NULL, &d) != TES_OK)
        return;
    uint32_t docs = tes_cbor_map_get_text(&d, 0, "documents");
    uint32_t doc = docs != TES_CBOR_NONE && tes_cbor_is(&d, docs, TES_CBOR_ARRAY) &&
                           tes_cbor_count(&d, docs) > 0
                       ? tes_cbor_child(&d, docs)
                       : TES_CBOR_NONE;
    uint32_t is = doc != TES_CBOR_NONE && tes_cbor_is(&d, doc, TES_CBOR_MAP)
                      ? tes_cbor_map_get_text(&d, doc, "issuerSigned")
                      : TES_CBOR_NONE;
    uint32_t nss = is != TES_CBOR_NONE && tes_cbor_is(&d, is, TES_CBOR_MAP)
                       ? tes_cbor_map_get_text(&d, is, "nameSpaces")
                       : TES_CBOR_NONE;
    if (nss == TES_CBOR_NONE || !tes_cbor_is(&d, nss, TES_CBOR_MAP)) {
        tes_cbor_doc_free(&d);
        return;
    }
    for (uint32_t k = tes_cbor_child(&d, nss); k != TES_CBOR_NONE && k < d.nodes[nss].next;
         k = tes_cbor_next(&d, tes_cbor_next(&d, k))) {
        const tes_cbor_node *kn = tes_cbor_at(&d, k);
        uint32_t items = tes_cbor_next(&d, k);
        if (kn->type != TES_CBOR_TEXT || !tes_cbor_is(&d, items, TES_CBOR_ARRAY))
            continue;
        tes_bytes ns = TES_BYTES(kn->data, kn->len);
        for (uint32_t it = tes_cbor_child(&d, items);
             it != TES_CBOR_NONE && it < d.nodes[items].next; it = tes_cbor_next(&d, it)) {
            tes_bytes inner;
            tes_cbor_doc sub;
            if (!tes_cbor_tag24_content(&d, it, &inner) ||
                tes_cbor_parse(inner, NULL, &sub) != TES_OK)
                continue;
            uint32_t id = tes_cbor_is(&sub, 0, TES_CBOR_MAP)
                              ? tes_cbor_map_get_text(&sub, 0, "elementIdentifier")
                              : TES_CBOR_NONE;
            if (id != TES_CBOR_NONE && tes_cbor_is(&sub, id, TES_CBOR_TEXT)) {
                tes_bytes name = TES_BYTES(sub.nodes[id].data, sub.nodes[id].len);
                bool retain = false;
                for (size_t i = 0; i < n; i++)
                    if (elems[i].intent_to_retain && tes_bytes_eq(elems[i].ns, ns) &&
                        tes_bytes_eq(elems[i].name, name))
                        retain = true;
                if (out->len)
                    tes_buf_append(out, ",", 1);
                tes_buf_append(out, ns.ptr, ns.len);
                tes_buf_append(out, "/", 1);
                tes_buf_append(out, name.ptr, name.len);
                if (retain)
                    tes_buf_append(out, "*", 1);
            }
            tes_cbor_doc_free(&sub);
        }
    }
    tes_cbor_doc_free(&d);
}

/* The requested elements, for a log entry of a failed presentation. */
static void requested_list(const tes_mdoc_req_elem *elems, size_t n, tes_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (out->len)
            tes_buf_append(out, ",", 1);
        tes_buf_append(out, elems[i].ns.ptr, elems[i].ns.len);
        tes_buf_append(out, "/", 1);
        tes_buf_append(out, elems[i].name.ptr, elems[i].name.len);
        if (elems[i].intent_to_retain)
            tes_buf_append(out, "*", 1);
    }
}

/* The name `present` gives the relying party in the log: the reader is not
 * authenticated by this command. */
#define UNKNOWN_READER "unknown reader"

/* Writes one log entry; false (reported) when the store refused it. */
static bool log_entry(cli_wallet *w, int64_t cred, tes_buf *elements, const char *outcome)
{
    tes_buf_append(elements, "", 1); /* NUL */
    const tes_store_log_entry ent = {
        .at = (int64_t)time(NULL),
        .relying_party = UNKNOWN_READER,
        .elements = elements->failed ? "" : (char *)elements->ptr,
        .cred_id = cred,
        .outcome = (char *)outcome,
    };
    tes_err e = tes_store_log_add(w->store, &ent);
    if (e != TES_OK) {
        cli_fail_code(CLI_EXIT_FAIL, e, "present: writing the wallet's transaction log");
        return false;
    }
    return true;
}

static void log_failure(cli_wallet *w, int64_t cred, const tes_mdoc_req_elem *elems, size_t n,
                        tes_err e)
{
    char msg[1024], outcome[128];
    snprintf(msg, sizeof(msg), "%s", tes_err_message_for(e)); /* keep the failure's message */
    snprintf(outcome, sizeof(outcome), "failed: %s", tes_err_name(e));
    tes_buf l = {0};
    requested_list(elems, n, &l);
    log_entry(w, cred, &l, outcome);
    tes_buf_free(&l);
    tes_err_set(e, "%s", msg);
}

/* ECDH in the secure element, for device MAC. */
typedef struct se_ecdh_ctx {
    tes_se *se;
    const char *id, *pin;
} se_ecdh_ctx;

static tes_err se_ecdh(void *ctx, const tes_key *peer, uint8_t out[TES_MAX_COORD], size_t *out_len)
{
    const se_ecdh_ctx *c = ctx;
    return c->se->ops->key_agreement(c->se, c->id, c->pin, peer, out, out_len);
}

/* Stand-ins for the device key while finding out what a presentation would
 * disclose: they never touch the secure element (so spend nothing). */
static tes_err dry_sign(void *ctx, int64_t alg, tes_bytes msg, uint8_t *sig, size_t *sig_len)
{
    (void)ctx, (void)alg, (void)msg;
    if (*sig_len < 64)
        return tes_err_set(TES_ERR_BUFFER_SMALL, "dry run: signature buffer too small");
    memset(sig, 0, 64);
    *sig_len = 64;
    return TES_OK;
}

static tes_err dry_ecdh(void *ctx, const tes_key *peer, uint8_t out[TES_MAX_COORD], size_t *out_len)
{
    (void)ctx, (void)peer;
    memset(out, 0, 32);
    *out_len = 32;
    return TES_OK;
}

/* How many of the requested elements a presentation of credential cred would
 * disclose, from the copy the store would hand out (not taken). */
static tes_err would_disclose(cli_wallet *w, int64_t cred, const tes_mdoc_present_params *base,
                              size_t *n)
{
    tes_store_copy peek = {0};
    tes_err e = tes_store_peek_copy(w->store, cred, &peek);
    if (e != TES_OK)
        return e;
    tes_signer dry = {dry_sign, NULL, TES_COSE_ES256};
    tes_mdoc_present_params p = *base;
    p.mdoc = tes_buf_bytes(&peek.mdoc);
    if (p.reader_key != NULL) {
        p.device_ecdh = dry_ecdh;
        p.device_ecdh_ctx = NULL;
        p.device = NULL;
    } else {
        p.device = &dry;
    }
    tes_buf out = {0};
    size_t missing = 0;
    e = tes_mdoc_present(&p, &out, &missing);
    tes_buf_free(&out);
    tes_store_copy_free(&peek);
    if (e == TES_OK)
        *n = base->n_elems - (missing < base->n_elems ? missing : base->n_elems);
    return e;
}

static int present(const present_args *a)
{
    int rc = CLI_EXIT_USAGE;
    tes_buf mdoc_file = {0}, req_raw = {0}, transcript = {0}, out = {0};
    tes_key *device = NULL, *reader = NULL;
    tes_mdoc_request req = {0};
    bool have_req = false;
    char *list = NULL;
    static tes_mdoc_req_elem list_elems[MAX_ELEMENTS];
    const tes_mdoc_req_elem *elems = NULL;
    size_t n_elems = 0, missing = 0;
    cli_wallet w = {0};
    bool wallet_open = false, have_copy = false;
    tes_store_copy copy = {0};
    tes_store_cred *creds = NULL;
    size_t n_creds = 0;
    char pin[CLI_PIN_MAX] = "";
    bool have_pin = false;
    char doctype[256] = "";
    tes_err e;

    if (a->wallet) {
        if ((rc = cli_wallet_open("present", a->wallet, &w)) != CLI_EXIT_OK)
            goto done;
        wallet_open = true;
        rc = CLI_EXIT_USAGE;
        if ((e = tes_store_list(w.store, &creds, &n_creds)) != TES_OK) {
            rc = cli_fail_code(cli_exit_for(e), e, "present: reading the wallet");
            goto done;
        }
        const tes_store_cred *cred = NULL;
        for (size_t i = 0; i < n_creds; i++)
            if (creds[i].id == a->credential)
                cred = &creds[i];
        if (cred == NULL) {
            rc = cli_error(CLI_EXIT_USAGE,
                           "present: the wallet %s holds no credential %lld (see 'tessera wallet "
                           "list --wallet %s')",
                           a->wallet, (long long)a->credential, a->wallet);
            goto done;
        }
        snprintf(doctype, sizeof(doctype), "%s", cred->doctype ? cred->doctype : "");
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
    } else {
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
    }
    if (a->mac && cli_load_key(a->reader_pub, &reader) != TES_OK) {
        cli_fail(rc, "reader public key");
        goto done;
    }
    if (cli_load_transcript(a->transcript, &transcript) != TES_OK) {
        cli_fail(rc, "session transcript");
        goto done;
    }

    if (!a->wallet)
        mdoc_doctype(tes_buf_bytes(&mdoc_file), doctype, sizeof(doctype));
    if (a->request) {
        if (cli_read_file(a->request, &req_raw) != TES_OK) {
            cli_fail(rc, "reading the request");
            goto done;
        }
        cli_maybe_unhex(&req_raw);
        e = tes_mdoc_request_parse(tes_buf_bytes(&req_raw), &req);
        if (e != TES_OK) {
            rc = cli_fail(cli_exit_for(e), "request %s", a->request);
            goto done;
        }
        have_req = true;
        const tes_mdoc_doc_request *match = NULL;
        for (size_t i = 0; i < req.n_docs && match == NULL; i++)
            if (*doctype ? tes_bytes_eq(req.docs[i].doctype, TES_BYTES(doctype, strlen(doctype)))
                         : req.n_docs == 1)
                match = &req.docs[i];
        if (match == NULL) {
            rc = cli_error(CLI_EXIT_FAIL, "request %s asks for no document of type '%s'",
                           a->request, *doctype ? doctype : "(unknown)");
            goto done;
        }
        if (match->has_reader_auth)
            fprintf(stderr, "note: the request's reader authentication is not checked here "
                            "(the reader is untrusted)\n");
        elems = match->elems;
        n_elems = match->n_elems;
    } else {
        const tes_doctype *t = *doctype ? tes_doctype_find(doctype) : NULL;
        list = strdup(a->elements);
        if (list == NULL) {
            rc = cli_error(CLI_EXIT_USAGE, "out of memory");
            goto done;
        }
        if ((rc = parse_elements(list, t ? t->ns : NULL, list_elems, &n_elems)) != CLI_EXIT_OK)
            goto done;
        rc = CLI_EXIT_USAGE;
        elems = list_elems;
    }

    tes_signer signer;
    tes_se_signer_ctx sctx;
    se_ecdh_ctx ectx;
    tes_mdoc_present_params p = {
        .elems = elems,
        .n_elems = n_elems,
        .transcript = tes_buf_bytes(&transcript),
        .reader_key = a->mac ? reader : NULL,
    };
    if (a->wallet) {
        /* A key that needs the PIN: ask for it and check it before a copy is
         * spent, so that a mistyped PIN costs no single-use copy. */
        bool need_pin = cli_wallet_cred_flag(&w, CLI_SETTING_CRED_UV_FMT, a->credential);
        /* A PKCS#11 token's private keys are usable only in a session logged in
         * with the user PIN, whether or not the key needs user verification. */
        need_pin = need_pin || cli_se_needs_login(w.se);
        if (need_pin) {
            if ((rc = cli_pin_read("present", a->pin_fd, "PIN", pin)) != CLI_EXIT_OK)
                goto done;
            have_pin = true;
            e = w.se->ops->pin_verify(w.se, pin);
            if (e != TES_OK) {
                log_failure(&w, a->credential, elems, n_elems, e);
                rc = cli_se_fail(&w, e, "present: checking the PIN");
                goto done;
            }
        }
        /* Nothing of the request in the credential: nothing to disclose, no
         * copy spent. */
        size_t n_disclosed = 0;
        e = would_disclose(&w, a->credential, &p, &n_disclosed);
        if (e == TES_OK && n_disclosed == 0) {
            e = tes_err_set(TES_ERR_ELEMENT_NOT_ISSUED,
                            "none of the %zu requested elements is in credential %lld; nothing "
                            "disclosed, no copy spent",
                            n_elems, (long long)a->credential);
            log_failure(&w, a->credential, elems, n_elems, e);
            rc = cli_fail_code(CLI_EXIT_FAIL, e, "present");
            goto done;
        }
        if (e == TES_OK)
            e = tes_store_take_copy(w.store, a->credential, &copy);
        if (e != TES_OK) {
            if (e != TES_ERR_NOT_FOUND)
                log_failure(&w, a->credential, elems, n_elems, e);
            rc = cli_fail_code(cli_exit_for(e), e, "present: taking a copy of credential %lld",
                               (long long)a->credential);
            goto done;
        }
        have_copy = true;
        tes_se_key_info ki;
        e = w.se->ops->key_info(w.se, copy.key_id, &ki);
        if (e != TES_OK) {
            log_failure(&w, a->credential, elems, n_elems, e);
            rc = cli_se_fail(&w, e, "present: key %s of credential %lld", copy.key_id,
                             (long long)a->credential);
            goto done;
        }
        if (ki.user_verification && !have_pin) {
            if ((rc = cli_pin_read("present", a->pin_fd, "PIN", pin)) != CLI_EXIT_OK)
                goto done;
            have_pin = true;
        }
        sctx = (tes_se_signer_ctx){w.se, copy.key_id, have_pin ? pin : NULL};
        signer = (tes_signer){tes_se_cose_sign, &sctx, TES_COSE_ES256};
        ectx = (se_ecdh_ctx){w.se, copy.key_id, have_pin ? pin : NULL};
        p.mdoc = tes_buf_bytes(&copy.mdoc);
        if (a->mac) {
            p.device_ecdh = se_ecdh;
            p.device_ecdh_ctx = &ectx;
        } else {
            p.device = &signer;
        }
    } else {
        signer = tes_signer_from_key(device);
        p.mdoc = tes_buf_bytes(&mdoc_file);
        p.device = a->mac ? NULL : &signer;
        p.device_key = a->mac ? device : NULL;
    }
    e = tes_mdoc_present(&p, &out, &missing);
    if (e != TES_OK) {
        if (a->wallet) {
            log_failure(&w, a->credential, elems, n_elems, e);
            rc = cli_se_fail(&w, e, "presenting credential %lld", (long long)a->credential);
        } else {
            rc = cli_fail(cli_exit_for(e), "presenting %s", a->mdoc);
        }
        goto done;
    }
    if (a->wallet) {
        /* Logged before the response leaves: the holder's log never misses a
         * disclosure. */
        tes_buf l = {0};
        disclosed_list(tes_buf_bytes(&out), elems, n_elems, &l);
        bool logged = log_entry(&w, a->credential, &l, "disclosed");
        tes_buf_free(&l);
        if (!logged) {
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    }
    if (cli_write_file(a->out, tes_buf_bytes(&out), true) != TES_OK) {
        rc = cli_fail(CLI_EXIT_USAGE, "writing the response");
        goto done;
    }
    report(a, elems, n_elems, missing, tes_buf_bytes(&out));
    rc = CLI_EXIT_OK;
done:
    tes_wipe(pin, sizeof(pin));
    if (have_copy)
        tes_store_copy_free(&copy);
    tes_store_creds_free(creds, n_creds);
    if (wallet_open)
        cli_wallet_close(&w);
    if (have_req)
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
