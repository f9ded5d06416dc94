/*
 * DCQL (OpenID4VP 1.0 §6): a strict, bounded parser of a query for the
 * mso_mdoc format, and the matcher of a query against held credentials.
 *
 * The parsed query keeps the jansson document: every string of the query
 * points into it (it is freed with the query).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/oid4vp.h"

typedef struct tes_dcql_priv {
    json_t *root;
} tes_dcql_priv;

/* ---------------------------------------------------------------- parsing helpers */

static tes_err bad(const char *where, const char *what)
{
    return tes_err_set(TES_ERR_DCQL, "DCQL: %s %s", where, what);
}

/* Refuses members of o not in allowed (NULL-terminated). */
static tes_err only_members(json_t *o, const char *where, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        (void)v;
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return tes_err_set(TES_ERR_DCQL, "DCQL: %s has the unknown member \"%.64s\"",
                               where, key);
    }
    return TES_OK;
}

/* A string of 1..TES_DCQL_MAX_STRING bytes without NUL. */
static tes_err get_string(json_t *v, const char *where, const char **out)
{
    if (!json_is_string(v))
        return bad(where, "is not a string");
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0)
        return bad(where, "is empty");
    if (n > TES_DCQL_MAX_STRING)
        return bad(where, "is longer than " "TES_DCQL_MAX_STRING bytes");
    if (memchr(s, '\0', n) != NULL)
        return bad(where, "holds a NUL character");
    *out = s;
    return TES_OK;
}

/* An id: 1..TES_DCQL_MAX_ID of [A-Za-z0-9_-] (§6.1, §6.3). */
static tes_err get_id(json_t *v, const char *where, const char **out)
{
    const char *s;
    tes_err err = get_string(v, where, &s);
    if (err != TES_OK)
        return err;
    size_t n = strlen(s);
    if (n > TES_DCQL_MAX_ID)
        return bad(where, "is longer than TES_DCQL_MAX_ID characters");
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return bad(where, "has a character other than alphanumerics, '_' and '-'");
    }
    *out = s;
    return TES_OK;
}

static tes_err get_bool(json_t *o, const char *key, const char *where, bool dflt, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        *out = dflt;
        return TES_OK;
    }
    if (!json_is_boolean(v))
        return tes_err_set(TES_ERR_DCQL, "DCQL: %s.%s is not a boolean", where, key);
    *out = json_is_true(v);
    return TES_OK;
}

/* A non-empty array of at most max items. */
static tes_err get_array(json_t *v, const char *where, size_t max, size_t *n)
{
    if (!json_is_array(v))
        return bad(where, "is not an array");
    *n = json_array_size(v);
    if (*n == 0)
        return bad(where, "is an empty array");
    if (*n > max)
        return tes_err_set(TES_ERR_DCQL, "DCQL: %s has more than %zu items", where, max);
    return TES_OK;
}

static void *alloc_n(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

/* ---------------------------------------------------------------- parsing */

static tes_err parse_value(json_t *v, tes_dcql_value *out)
{
    if (json_is_string(v)) {
        tes_err err = get_string(v, "a claim value", &out->str);
        if (err != TES_OK)
            return err;
        out->type = TES_DCQL_VALUE_STRING;
    } else if (json_is_integer(v)) {
        out->type = TES_DCQL_VALUE_INT;
        out->i = (int64_t)json_integer_value(v);
    } else if (json_is_boolean(v)) {
        out->type = TES_DCQL_VALUE_BOOL;
        out->b = json_is_true(v);
    } else {
        return bad("a claim value", "is not a string, an integer or a boolean");
    }
    return TES_OK;
}

static tes_err parse_claim(json_t *o, tes_dcql_claim *c)
{
    static const char *const members[] = {"id", "path", "values", "intent_to_retain", NULL};
    if (!json_is_object(o))
        return bad("a claims entry", "is not an object");
    tes_err err = only_members(o, "a claims entry", members);
    json_t *v;
    if (err == TES_OK && (v = json_object_get(o, "id")) != NULL)
        err = get_id(v, "claims[].id", &c->id);
    if (err != TES_OK)
        return err;
    json_t *path = json_object_get(o, "path");
    if (path == NULL)
        return bad("a claims entry", "has no path");
    if (!json_is_array(path) || json_array_size(path) != 2)
        return bad("claims[].path", "is not [namespace, element] (mso_mdoc: two strings)");
    if ((err = get_string(json_array_get(path, 0), "claims[].path[0] (namespace)", &c->ns)) !=
            TES_OK ||
        (err = get_string(json_array_get(path, 1), "claims[].path[1] (element)", &c->element)) !=
            TES_OK)
        return err;
    if ((err = get_bool(o, "intent_to_retain", "claims[]", false, &c->intent_to_retain)) != TES_OK)
        return err;
    json_t *values = json_object_get(o, "values");
    if (values != NULL) {
        if ((err = get_array(values, "claims[].values", TES_DCQL_MAX_VALUES, &c->n_values)) !=
            TES_OK)
            return err;
        if ((c->values = alloc_n(c->n_values, sizeof *c->values)) == NULL)
            return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
        for (size_t i = 0; i < c->n_values; i++)
            if ((err = parse_value(json_array_get(values, i), &c->values[i])) != TES_OK)
                return err;
    }
    return TES_OK;
}

/* Resolves an array of ids (non-empty, no duplicates) to indices of names[0..n). */
static tes_err resolve_ids(json_t *arr, const char *where, size_t max, const char *const *names,
                           size_t stride, size_t n, tes_dcql_claim_set *out)
{
    tes_err err = get_array(arr, where, max, &out->n);
    if (err != TES_OK)
        return err;
    if ((out->claims = alloc_n(out->n, sizeof *out->claims)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
    for (size_t i = 0; i < out->n; i++) {
        const char *id;
        if ((err = get_id(json_array_get(arr, i), where, &id)) != TES_OK)
            return err;
        size_t k = 0;
        while (k < n) {
            const char *name = *(const char *const *)((const char *)names + k * stride);
            if (name != NULL && strcmp(name, id) == 0)
                break;
            k++;
        }
        if (k == n)
            return tes_err_set(TES_ERR_DCQL, "DCQL: %s names the unknown id \"%s\"", where, id);
        for (size_t j = 0; j < i; j++)
            if (out->claims[j] == k)
                return tes_err_set(TES_ERR_DCQL, "DCQL: %s names \"%s\" twice", where, id);
        out->claims[i] = k;
    }
    return TES_OK;
}

static tes_err parse_trusted_authorities(json_t *v, size_t *n)
{
    static const char *const members[] = {"type", "values", NULL};
    tes_err err = get_array(v, "trusted_authorities", TES_DCQL_MAX_AUTHORITIES, n);
    for (size_t i = 0; err == TES_OK && i < *n; i++) {
        json_t *a = json_array_get(v, i);
        const char *s;
        size_t nv;
        if (!json_is_object(a))
            return bad("a trusted_authorities entry", "is not an object");
        if ((err = only_members(a, "a trusted_authorities entry", members)) != TES_OK ||
            (err = get_string(json_object_get(a, "type"), "trusted_authorities[].type", &s)) !=
                TES_OK ||
            (err = get_array(json_object_get(a, "values"), "trusted_authorities[].values",
                             TES_DCQL_MAX_AUTHORITIES, &nv)) != TES_OK)
            return err;
        for (size_t j = 0; err == TES_OK && j < nv; j++)
            err = get_string(json_array_get(json_object_get(a, "values"), j),
                             "trusted_authorities[].values[]", &s);
    }
    return err;
}

static tes_err parse_credential(json_t *o, tes_dcql_credential *c)
{
    static const char *const members[] = {
        "id",     "format",     "multiple",   "meta", "trusted_authorities",
        "claims", "claim_sets", "require_cryptographic_holder_binding", NULL};
    static const char *const meta_members[] = {"doctype_value", NULL};
    if (!json_is_object(o))
        return bad("a credentials entry", "is not an object");
    tes_err err = only_members(o, "a credentials entry", members);
    const char *format;
    if (err == TES_OK)
        err = get_id(json_object_get(o, "id"), "credentials[].id", &c->id);
    if (err == TES_OK)
        err = get_string(json_object_get(o, "format"), "credentials[].format", &format);
    if (err != TES_OK)
        return err;
    if (strcmp(format, "mso_mdoc") != 0)
        return tes_err_set(TES_ERR_DCQL_UNSUPPORTED,
                           "DCQL: credential query \"%s\" asks for the format \"%.64s\"; only "
                           "mso_mdoc is supported",
                           c->id, format);
    json_t *meta = json_object_get(o, "meta");
    if (meta == NULL)
        return bad("a credentials entry", "has no meta");
    if (!json_is_object(meta))
        return bad("credentials[].meta", "is not an object");
    if ((err = only_members(meta, "credentials[].meta", meta_members)) != TES_OK ||
        (err = get_string(json_object_get(meta, "doctype_value"),
                          "credentials[].meta.doctype_value", &c->doctype)) != TES_OK ||
        (err = get_bool(o, "multiple", "credentials[]", false, &c->multiple)) != TES_OK ||
        (err = get_bool(o, "require_cryptographic_holder_binding", "credentials[]", true,
                        &c->require_cryptographic_holder_binding)) != TES_OK)
        return err;
    json_t *ta = json_object_get(o, "trusted_authorities");
    if (ta != NULL && (err = parse_trusted_authorities(ta, &c->n_trusted_authorities)) != TES_OK)
        return err;

    json_t *claims = json_object_get(o, "claims");
    json_t *sets = json_object_get(o, "claim_sets");
    if (claims == NULL) {
        if (sets != NULL)
            return bad("a credentials entry", "has claim_sets without claims");
        return TES_OK;
    }
    if ((err = get_array(claims, "credentials[].claims", TES_DCQL_MAX_CLAIMS, &c->n_claims)) !=
        TES_OK)
        return err;
    if ((c->claims = alloc_n(c->n_claims, sizeof *c->claims)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
    for (size_t i = 0; i < c->n_claims; i++) {
        if ((err = parse_claim(json_array_get(claims, i), &c->claims[i])) != TES_OK)
            return err;
        for (size_t j = 0; j < i; j++)
            if (c->claims[i].id != NULL && c->claims[j].id != NULL &&
                strcmp(c->claims[i].id, c->claims[j].id) == 0)
                return tes_err_set(TES_ERR_DCQL, "DCQL: credential query \"%s\" has the claim id "
                                                 "\"%s\" twice",
                                   c->id, c->claims[i].id);
    }
    if (sets == NULL)
        return TES_OK;
    for (size_t i = 0; i < c->n_claims; i++)
        if (c->claims[i].id == NULL)
            return bad("a claims entry", "has no id, which claim_sets requires");
    if ((err = get_array(sets, "credentials[].claim_sets", TES_DCQL_MAX_CLAIM_SETS,
                         &c->n_claim_sets)) != TES_OK)
        return err;
    if ((c->claim_sets = alloc_n(c->n_claim_sets, sizeof *c->claim_sets)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
    for (size_t i = 0; i < c->n_claim_sets; i++)
        if ((err = resolve_ids(json_array_get(sets, i), "credentials[].claim_sets[]",
                               TES_DCQL_MAX_CLAIMS, &c->claims[0].id, sizeof(tes_dcql_claim),
                               c->n_claims, &c->claim_sets[i])) != TES_OK)
            return err;
    return TES_OK;
}

static tes_err parse_credential_set(json_t *o, const tes_dcql_query *q,
                                    tes_dcql_credential_set *s)
{
    /* purpose: the draft's free-form explanation for the holder; accepted
     * (string or object) and not used. */
    static const char *const members[] = {"options", "required", "purpose", NULL};
    if (!json_is_object(o))
        return bad("a credential_sets entry", "is not an object");
    tes_err err = only_members(o, "a credential_sets entry", members);
    json_t *purpose = json_object_get(o, "purpose");
    if (err == TES_OK && purpose != NULL && !json_is_string(purpose) && !json_is_object(purpose))
        return bad("credential_sets[].purpose", "is neither a string nor an object");
    if (err == TES_OK)
        err = get_bool(o, "required", "credential_sets[]", true, &s->required);
    json_t *options = json_object_get(o, "options");
    if (err == TES_OK)
        err = get_array(options, "credential_sets[].options", TES_DCQL_MAX_OPTIONS, &s->n_options);
    if (err != TES_OK)
        return err;
    if ((s->options = alloc_n(s->n_options, sizeof *s->options)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
    for (size_t i = 0; i < s->n_options; i++)
        if ((err = resolve_ids(json_array_get(options, i), "credential_sets[].options[]",
                               TES_DCQL_MAX_CREDENTIALS, &q->credentials[0].id,
                               sizeof(tes_dcql_credential), q->n_credentials, &s->options[i])) !=
            TES_OK)
            return err;
    return TES_OK;
}

static tes_err parse_query(json_t *root, tes_dcql_query *q)
{
    static const char *const members[] = {"credentials", "credential_sets", NULL};
    if (!json_is_object(root))
        return bad("the query", "is not a JSON object");
    tes_err err = only_members(root, "the query", members);
    json_t *creds = json_object_get(root, "credentials");
    if (err == TES_OK && creds == NULL)
        return bad("the query", "has no credentials");
    if (err == TES_OK)
        err = get_array(creds, "credentials", TES_DCQL_MAX_CREDENTIALS, &q->n_credentials);
    if (err != TES_OK)
        return err;
    if ((q->credentials = alloc_n(q->n_credentials, sizeof *q->credentials)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
    for (size_t i = 0; i < q->n_credentials; i++) {
        if ((err = parse_credential(json_array_get(creds, i), &q->credentials[i])) != TES_OK)
            return err;
        for (size_t j = 0; j < i; j++)
            if (strcmp(q->credentials[i].id, q->credentials[j].id) == 0)
                return tes_err_set(TES_ERR_DCQL, "DCQL: the credential query id \"%s\" is used "
                                                 "twice",
                                   q->credentials[i].id);
    }
    json_t *sets = json_object_get(root, "credential_sets");
    if (sets == NULL)
        return TES_OK;
    if ((err = get_array(sets, "credential_sets", TES_DCQL_MAX_CREDENTIAL_SETS,
                         &q->n_credential_sets)) != TES_OK)
        return err;
    if ((q->credential_sets = alloc_n(q->n_credential_sets, sizeof *q->credential_sets)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
    for (size_t i = 0; i < q->n_credential_sets; i++)
        if ((err = parse_credential_set(json_array_get(sets, i), q, &q->credential_sets[i])) !=
            TES_OK)
            return err;
    return TES_OK;
}

tes_err tes_dcql_parse(const char *json, size_t len, tes_dcql_query **out)
{
    if (json == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "DCQL: NULL argument");
    if (len > TES_DCQL_MAX_INPUT)
        return tes_err_set(TES_ERR_DCQL, "DCQL: the query is %zu bytes, more than %d", len,
                           TES_DCQL_MAX_INPUT);
    json_error_t jerr;
    /* Depth: a DCQL query nests at most 5 deep (query, credentials, entry,
     * claims, entry, path/values); jansson bounds its own recursion. */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return tes_err_set(TES_ERR_DCQL, "DCQL: not JSON (%.80s, at line %d column %d)",
                           jerr.text, jerr.line, jerr.column);
    tes_dcql_query *q = calloc(1, sizeof *q);
    tes_dcql_priv *p = calloc(1, sizeof *p);
    if (q == NULL || p == NULL) {
        free(q);
        free(p);
        json_decref(root);
        return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
    }
    p->root = root;
    q->priv = p;
    tes_err err = parse_query(root, q);
    if (err != TES_OK) {
        tes_dcql_query_free(q);
        return err;
    }
    *out = q;
    return TES_OK;
}

void tes_dcql_query_free(tes_dcql_query *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; q->credentials != NULL && i < q->n_credentials; i++) {
        tes_dcql_credential *c = &q->credentials[i];
        for (size_t j = 0; c->claims != NULL && j < c->n_claims; j++)
            free(c->claims[j].values);
        for (size_t j = 0; c->claim_sets != NULL && j < c->n_claim_sets; j++)
            free(c->claim_sets[j].claims);
        free(c->claims);
        free(c->claim_sets);
    }
    for (size_t i = 0; q->credential_sets != NULL && i < q->n_credential_sets; i++) {
        tes_dcql_credential_set *s = &q->credential_sets[i];
        for (size_t j = 0; s->options != NULL && j < s->n_options; j++)
            free(s->options[j].claims);
        free(s->options);
    }
    free(q->credentials);
    free(q->credential_sets);
    tes_dcql_priv *p = q->priv;
    if (p != NULL) {
        json_decref(p->root);
        free(p);
    }
    free(q);
}

/* ---------------------------------------------------------------- matching */

static bool value_eq(const tes_dcql_value *a, const tes_dcql_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case TES_DCQL_VALUE_STRING:
        return a->str != NULL && b->str != NULL && strcmp(a->str, b->str) == 0;
    case TES_DCQL_VALUE_INT:
        return a->i == b->i;
    case TES_DCQL_VALUE_BOOL:
        return a->b == b->b;
    }
    return false;
}

/* Whether candidate holds claim c; *unchecked set when c has values and the
 * element's value was not given. */
static bool holds(const tes_dcql_candidate *cand, const tes_dcql_claim *c, bool *unchecked)
{
    for (size_t i = 0; i < cand->n_elements; i++) {
        const tes_dcql_element *e = &cand->elements[i];
        if (strcmp(e->ns, c->ns) != 0 || strcmp(e->name, c->element) != 0)
            continue;
        if (c->n_values == 0)
            return true;
        if (e->value == NULL) {
            *unchecked = true;
            return true;
        }
        for (size_t k = 0; k < c->n_values; k++)
            if (value_eq(&c->values[k], e->value))
                return true;
        return false;
    }
    return false;
}

/* Whether cand satisfies cq; fills m (claims allocated) when it does. */
static tes_err match_one(const tes_dcql_credential *cq, const tes_dcql_candidate *cand,
                         bool *ok, tes_dcql_match *m)
{
    *ok = false;
    if (strcmp(cand->doctype, cq->doctype) != 0)
        return TES_OK;
    size_t n_sets = cq->n_claim_sets ? cq->n_claim_sets : 1;
    for (size_t s = 0; s < n_sets; s++) {
        size_t n = cq->n_claim_sets ? cq->claim_sets[s].n : cq->n_claims;
        bool unchecked = false, all = true;
        for (size_t k = 0; k < n && all; k++) {
            size_t idx = cq->n_claim_sets ? cq->claim_sets[s].claims[k] : k;
            all = holds(cand, &cq->claims[idx], &unchecked);
        }
        if (!all)
            continue;
        if ((m->claims = alloc_n(n, sizeof *m->claims)) == NULL)
            return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
        for (size_t k = 0; k < n; k++)
            m->claims[k] = cq->n_claim_sets ? cq->claim_sets[s].claims[k] : k;
        m->n_claims = n;
        m->needs_value_check = unchecked;
        *ok = true;
        return TES_OK;
    }
    return TES_OK;
}

static bool option_met(const tes_dcql_claim_set *opt, const tes_dcql_result *r)
{
    for (size_t k = 0; k < opt->n; k++)
        if (r->credentials[opt->claims[k]].n_matches == 0)
            return false;
    return true;
}

tes_err tes_dcql_match_candidates(const tes_dcql_query *query, const tes_dcql_candidate *candidates,
                       size_t n, tes_dcql_result *out)
{
    if (query == NULL || out == NULL || (candidates == NULL && n > 0))
        return tes_err_set(TES_ERR_ARG, "DCQL match: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (candidates[i].doctype == NULL ||
            (candidates[i].elements == NULL && candidates[i].n_elements > 0))
            return tes_err_set(TES_ERR_ARG, "DCQL match: candidate %zu has no doctype", i);
        for (size_t k = 0; k < candidates[i].n_elements; k++)
            if (candidates[i].elements[k].ns == NULL || candidates[i].elements[k].name == NULL)
                return tes_err_set(TES_ERR_ARG, "DCQL match: candidate %zu element %zu has no "
                                                "name",
                                   i, k);
    }
    tes_dcql_result r = {.n = query->n_credentials};
    if ((r.credentials = alloc_n(r.n, sizeof *r.credentials)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
    tes_err err = TES_OK;
    for (size_t q = 0; q < r.n && err == TES_OK; q++) {
        tes_dcql_query_result *qr = &r.credentials[q];
        if ((qr->matches = alloc_n(n, sizeof *qr->matches)) == NULL) {
            err = tes_err_set(TES_ERR_NOMEM, "DCQL: out of memory");
            break;
        }
        for (size_t i = 0; i < n && err == TES_OK; i++) {
            bool ok;
            tes_dcql_match m = {.candidate = i};
            err = match_one(&query->credentials[q], &candidates[i], &ok, &m);
            if (err == TES_OK && ok)
                qr->matches[qr->n_matches++] = m;
        }
    }
    if (err != TES_OK) {
        tes_dcql_result_free(&r);
        return err;
    }

    bool satisfied = true;
    if (query->n_credential_sets == 0) {
        for (size_t q = 0; q < r.n; q++) {
            r.credentials[q].selected = r.credentials[q].n_matches > 0;
            satisfied = satisfied && r.credentials[q].selected;
        }
    } else {
        for (size_t s = 0; s < query->n_credential_sets; s++) {
            const tes_dcql_credential_set *set = &query->credential_sets[s];
            size_t o = 0;
            while (o < set->n_options && !option_met(&set->options[o], &r))
                o++;
            if (o == set->n_options) {
                satisfied = satisfied && !set->required;
                continue;
            }
            for (size_t k = 0; k < set->options[o].n; k++)
                r.credentials[set->options[o].claims[k]].selected = true;
        }
    }
    *out = r;
    if (!satisfied)
        return tes_err_set(TES_ERR_DCQL_UNSATISFIED,
                           "DCQL: the credentials held do not satisfy the query");
    return TES_OK;
}

void tes_dcql_result_free(tes_dcql_result *r)
{
    if (r == NULL)
        return;
    for (size_t q = 0; r->credentials != NULL && q < r->n; q++) {
        for (size_t i = 0; i < r->credentials[q].n_matches; i++)
            free(r->credentials[q].matches[i].claims);
        free(r->credentials[q].matches);
    }
    free(r->credentials);
    r->credentials = NULL;
    r->n = 0;
}
