/*
 * Operator: enrolment of a person and creation of their credential offer
 * (tes_issuer_enrol, issuer.h).
 *
 * The claims are checked against the doctype table, then stored. Binary
 * elements given as {"file": "path"} are read now and stored inline as
 * {"b64u": "..."}: the service that later issues from the registry never
 * opens files named by stored data, and the claims do not change when a file
 * does. The inlined JSON must convert to exactly the same claims as the
 * original (else TES_ERR_CLAIMS: a map element that merely looks like
 * {"file": ...} would change meaning).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/mdoc.h"
#include "tessera/registry.h"

#include "issuer/issuer_internal.h"

#define ENROL_MAX_FILE (16u << 20) /* as the claims converter */
#define ENROL_MAX_DEPTH 32
#define TX_DIGITS 6

/* Replaces every object that is exactly {"file": "path"} by {"b64u": content}. */
static tes_err inline_files(json_t *v, unsigned depth)
{
    if (depth > ENROL_MAX_DEPTH)
        return tes_err_set(TES_ERR_CLAIMS, "claims nested deeper than %d", ENROL_MAX_DEPTH);
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            tes_err err = inline_files(json_array_get(v, i), depth + 1);
            if (err != TES_OK)
                return err;
        }
        return TES_OK;
    }
    if (!json_is_object(v))
        return TES_OK;
    json_t *file = json_object_get(v, "file");
    if (json_object_size(v) == 1 && json_is_string(file)) {
        tes_buf data = {0}, text = {0};
        tes_err err = tes_file_read(json_string_value(file), ENROL_MAX_FILE, &data);
        if (err != TES_OK) {
            tes_buf_free(&data);
            return tes_err_set(TES_ERR_CLAIMS, "cannot read %.200s: %s", json_string_value(file),
                               tes_err_message());
        }
        tes_b64url_encode(&text, tes_buf_bytes(&data));
        tes_buf_append(&text, "", 1);
        tes_buf_free(&data);
        if (text.failed) {
            tes_buf_free(&text);
            return tes_err_set(TES_ERR_NOMEM, "out of memory");
        }
        int rc = json_object_del(v, "file");
        if (rc == 0)
            rc = json_object_set_new(v, "b64u", json_string((const char *)text.ptr));
        tes_buf_free(&text);
        return rc == 0 ? TES_OK : tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        tes_err err = inline_files(val, depth + 1);
        if (err != TES_OK)
            return err;
    }
    return TES_OK;
}

static bool same_claims(const tes_mdoc_claims *a, const tes_mdoc_claims *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].ns, b->items[i].ns) != 0 ||
            strcmp(a->items[i].name, b->items[i].name) != 0 ||
            !tes_bytes_eq(tes_buf_bytes(&a->items[i].value), tes_buf_bytes(&b->items[i].value)))
            return false;
    return true;
}

/* The credential_issuer URL the service will announce for this config. */
static tes_err issuer_url(const tes_issuer_config *c, tes_buf *out)
{
    if (c->public_url != NULL) {
        size_t n = strlen(c->public_url);
        while (n > 0 && c->public_url[n - 1] == '/')
            n--;
        tes_buf_append(out, c->public_url, n);
    } else {
        const char *l = c->listen ? c->listen : "127.0.0.1:8080";
        size_t n = strlen(l);
        if (n >= 2 && strcmp(l + n - 2, ":0") == 0)
            return tes_err_set(TES_ERR_ARG, "enrol: the offer needs the issuer's URL: set "
                                            "public_url (listen has port 0)");
        tes_buf_append(out, "http://", 7);
        tes_buf_append(out, l, n);
    }
    tes_buf_append(out, "", 1);
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "out of memory") : TES_OK;
}

tes_err tes_issuer_enrol(const tes_issuer_config *c, const char *doctype, const char *claims_json,
                         const char *operator_name, tes_buf *offer_uri, char tx_code[16],
                         int64_t *person_id, char recovery_code[32])
{
    if (c == NULL || doctype == NULL || claims_json == NULL || operator_name == NULL ||
        offer_uri == NULL || tx_code == NULL || person_id == NULL || recovery_code == NULL ||
        (c->db_url == NULL && c->authority_dir == NULL))
        return tes_err_set(TES_ERR_ARG, "tes_issuer_enrol: NULL argument");
    if (!iss_config_known(doctype))
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "enrol: the issuer offers only " TES_DOCTYPE_PID " and " TES_DOCTYPE_MDL
                           ", not '%.128s'",
                           doctype);
    const tes_doctype *t = tes_doctype_find(doctype);
    if (t == NULL)
        return tes_err_set(TES_ERR_UNSUPPORTED, "enrol: doctype %.128s has no table", doctype);

    tes_err err;
    tes_buf url = {0};
    tes_mdoc_claims orig = {0}, again = {0};
    json_t *root = NULL;
    char *stored = NULL, *db = NULL;
    tes_registry *r = NULL;
    char code[64];

    if ((err = issuer_url(c, &url)) != TES_OK)
        goto out;
    /* ---- the claims: valid for the doctype, files inlined, same meaning */
    if ((err = tes_mdoc_claims_from_json(t, claims_json, strlen(claims_json), NULL, &orig)) !=
        TES_OK)
        goto out;
    json_error_t jerr;
    root = json_loads(claims_json, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        err = tes_err_set(TES_ERR_JSON, "claims: %.200s", jerr.text);
        goto out;
    }
    if ((err = inline_files(root, 0)) != TES_OK)
        goto out;
    stored = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (stored == NULL) {
        err = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = tes_mdoc_claims_from_json(t, stored, strlen(stored), "/nonexistent", &again)) !=
        TES_OK)
        goto out;
    if (!same_claims(&orig, &again)) {
        err = tes_err_set(TES_ERR_CLAIMS, "claims: a map shaped like {\"file\": ...} cannot be "
                                          "stored; give binary data as {\"b64u\": ...}");
        goto out;
    }

    /* ---- registry: person, offer */
    const char *db_url = c->db_url;
    if (db_url == NULL) {
        size_t n = strlen(c->authority_dir);
        db = malloc(n + sizeof "/registry.db");
        if (db == NULL) {
            err = tes_err_set(TES_ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(db, c->authority_dir, n);
        memcpy(db + n, "/registry.db", sizeof "/registry.db");
        db_url = db;
    }
    const tes_clock clk = c->clock ? *c->clock : tes_clock_system();
    const tes_registry_opts ro = {.clock = &clk, .rng = c->rng};
    if ((err = tes_registry_open_with(db_url, &ro, &r)) != TES_OK)
        goto out;
    if ((err = tes_registry_person_add(r, doctype, stored, operator_name, person_id)) != TES_OK)
        goto out;
    const int64_t lifetime = c->offer_lifetime > 0 ? c->offer_lifetime : 600;
    if ((err = tes_registry_recovery_set(r, *person_id, tes_clock_now(&clk), recovery_code)) !=
        TES_OK)
        goto out;
    if ((err = tes_registry_offer_create(r, *person_id, tes_clock_now(&clk), lifetime, TX_DIGITS,
                                         operator_name, code, tx_code)) != TES_OK)
        goto out;
    err = iss_offer_uri((const char *)url.ptr, doctype, code, TX_DIGITS, offer_uri);
    tes_wipe(code, sizeof code);
out:
    if (r != NULL)
        tes_registry_close(r);
    json_decref(root);
    free(stored);
    free(db);
    tes_buf_free(&url);
    tes_mdoc_claims_free(&orig);
    tes_mdoc_claims_free(&again);
    return err;
}
