/*
 * Consent policies: the holder's decisions written down in advance, for
 * scripts and unattended tests (format in tessera/proximity.h).
 *
 * Matching, from the first rule to the last:
 *  - an authenticated reader matches a rule whose "name" is its certificate
 *    CN or "*";
 *  - an unauthenticated reader has no verified name: it matches only a rule
 *    with "name": "*" and "authenticated": false. A rule with "authenticated"
 *    true (the default) never matches it.
 * The first matching rule decides. With no matching rule an authenticated
 * reader is declined, and an unauthenticated one gets what "unauthenticated"
 * says: "decline" (default; TES_ERR_CONSENT) or "ask-nothing" (go on with
 * nothing approved: the reader receives a response without documents).
 *
 * Within a rule an element is approved when "allow" is "*" or lists it, and
 * "deny" (a list, or "*") does not; the reader's scope must grant it unless
 * the rule says "override_scope": true. Entries are "namespace/element";
 * "namespace/age_over_NN" stands for every age_over_NN of the namespace.
 *
 * The parser is strict: JSON with no duplicate keys, no unknown members,
 * bounded sizes; anything else is TES_ERR_POLICY (TES_ERR_JSON when the text
 * is not JSON at all) with a message naming the member.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/proximity.h"

#define POLICY_MAX_BYTES (64u * 1024)
#define POLICY_MAX_RULES 64
#define POLICY_MAX_LIST 256
#define POLICY_MAX_STRING 255

typedef struct policy_list {
    bool all; /* "*" */
    char **items;
    size_t n;
} policy_list;

typedef struct policy_rule {
    char *name; /* "*" matches every authenticated reader */
    bool authenticated;
    bool override_scope;
    policy_list allow, deny;
} policy_rule;

struct tes_consent_policy {
    policy_rule *rules;
    size_t n_rules;
    bool unauth_ask_nothing;
    char pin[17]; /* "" when absent */
};

static void list_free(policy_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    *l = (policy_list){0};
}

void tes_consent_policy_free(tes_consent_policy *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_rules; i++) {
        free(p->rules[i].name);
        list_free(&p->rules[i].allow);
        list_free(&p->rules[i].deny);
    }
    free(p->rules);
    tes_wipe(p->pin, sizeof(p->pin));
    free(p);
}

/* A bounded, NUL-free string member. */
static tes_err get_string(json_t *v, const char *what, size_t idx, char **out)
{
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || n == 0 || n > POLICY_MAX_STRING ||
        memchr(json_string_value(v), '\0', n) != NULL)
        return tes_err_set(TES_ERR_POLICY,
                           "policy: readers[%zu].%s must be a non-empty string of "
                           "at most %d bytes",
                           idx, what, POLICY_MAX_STRING);
    if ((*out = strdup(json_string_value(v))) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    return TES_OK;
}

/* "*" or ["ns/elem", ...]. */
static tes_err get_list(json_t *v, const char *what, size_t idx, policy_list *out)
{
    if (json_is_string(v) && strcmp(json_string_value(v), "*") == 0 && json_string_length(v) == 1) {
        out->all = true;
        return TES_OK;
    }
    if (!json_is_array(v) || json_array_size(v) > POLICY_MAX_LIST)
        return tes_err_set(TES_ERR_POLICY,
                           "policy: readers[%zu].%s must be \"*\" or an array of at most %d "
                           "\"namespace/element\" strings",
                           idx, what, POLICY_MAX_LIST);
    size_t n = json_array_size(v);
    out->items = calloc(n ? n : 1, sizeof(char *));
    if (out->items == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        size_t len = json_is_string(s) ? json_string_length(s) : 0;
        const char *t = json_is_string(s) ? json_string_value(s) : NULL;
        const char *slash = t ? memchr(t, '/', len) : NULL;
        if (t == NULL || len > POLICY_MAX_STRING || memchr(t, '\0', len) != NULL || slash == NULL ||
            slash == t || slash == t + len - 1)
            return tes_err_set(TES_ERR_POLICY,
                               "policy: readers[%zu].%s[%zu] is not \"namespace/element\"", idx,
                               what, i);
        if ((out->items[i] = strdup(t)) == NULL)
            return tes_err_set(TES_ERR_NOMEM, "out of memory");
        out->n = i + 1;
    }
    return TES_OK;
}

static tes_err parse_rule(json_t *r, size_t idx, policy_rule *out)
{
    out->authenticated = true;
    if (!json_is_object(r))
        return tes_err_set(TES_ERR_POLICY, "policy: readers[%zu] is not an object", idx);
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "authenticated") != 0 &&
            strcmp(key, "allow") != 0 && strcmp(key, "deny") != 0 &&
            strcmp(key, "override_scope") != 0)
            return tes_err_set(TES_ERR_POLICY,
                               "policy: readers[%zu] has an unknown member (allowed: name, "
                               "authenticated, allow, deny, override_scope)",
                               idx);
    }
    tes_err e = get_string(json_object_get(r, "name"), "name", idx, &out->name);
    if (e != TES_OK)
        return e;
    if ((v = json_object_get(r, "authenticated")) != NULL) {
        if (!json_is_boolean(v))
            return tes_err_set(TES_ERR_POLICY,
                               "policy: readers[%zu].authenticated must be "
                               "true or false",
                               idx);
        out->authenticated = json_is_true(v);
    }
    if (!out->authenticated && strcmp(out->name, "*") != 0)
        return tes_err_set(TES_ERR_POLICY,
                           "policy: readers[%zu] is for unauthenticated readers, whose name "
                           "nobody vouches for: its name must be \"*\"",
                           idx);
    if ((v = json_object_get(r, "override_scope")) != NULL) {
        if (!json_is_boolean(v))
            return tes_err_set(TES_ERR_POLICY,
                               "policy: readers[%zu].override_scope must be "
                               "true or false",
                               idx);
        out->override_scope = json_is_true(v);
    }
    if ((v = json_object_get(r, "allow")) != NULL &&
        (e = get_list(v, "allow", idx, &out->allow)) != TES_OK)
        return e;
    if ((v = json_object_get(r, "deny")) != NULL &&
        (e = get_list(v, "deny", idx, &out->deny)) != TES_OK)
        return e;
    return TES_OK;
}

static tes_err parse_root(json_t *root, tes_consent_policy *p)
{
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "readers") != 0 && strcmp(key, "unauthenticated") != 0 &&
            strcmp(key, "pin") != 0)
            return tes_err_set(TES_ERR_POLICY, "policy: unknown member (allowed: readers, "
                                               "unauthenticated, pin)");
    }
    if ((v = json_object_get(root, "readers")) != NULL) {
        if (!json_is_array(v) || json_array_size(v) > POLICY_MAX_RULES)
            return tes_err_set(TES_ERR_POLICY,
                               "policy: readers must be an array of at most %d rules",
                               POLICY_MAX_RULES);
        size_t n = json_array_size(v);
        p->rules = calloc(n ? n : 1, sizeof(*p->rules));
        if (p->rules == NULL)
            return tes_err_set(TES_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            p->n_rules = i + 1;
            tes_err e = parse_rule(json_array_get(v, i), i, &p->rules[i]);
            if (e != TES_OK)
                return e;
        }
    }
    if ((v = json_object_get(root, "unauthenticated")) != NULL) {
        if (json_is_string(v) && strcmp(json_string_value(v), "decline") == 0 &&
            json_string_length(v) == 7)
            p->unauth_ask_nothing = false;
        else if (json_is_string(v) && strcmp(json_string_value(v), "ask-nothing") == 0 &&
                 json_string_length(v) == 11)
            p->unauth_ask_nothing = true;
        else
            return tes_err_set(TES_ERR_POLICY,
                               "policy: unauthenticated must be \"decline\" or \"ask-nothing\"");
    }
    if ((v = json_object_get(root, "pin")) != NULL) {
        size_t n = json_is_string(v) ? json_string_length(v) : 0;
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        bool ok = n >= 4 && n <= 16;
        for (size_t i = 0; ok && i < n; i++)
            ok = s[i] >= '0' && s[i] <= '9';
        if (!ok)
            return tes_err_set(TES_ERR_POLICY, "policy: pin must be a string of 4 to 16 digits");
        memcpy(p->pin, s, n);
        p->pin[n] = '\0';
    }
    return TES_OK;
}

tes_err tes_consent_policy_parse(const char *json, size_t len, tes_consent_policy **out)
{
    if (out == NULL || (json == NULL && len != 0))
        return tes_err_set(TES_ERR_ARG, "policy: NULL argument");
    *out = NULL;
    if (len > POLICY_MAX_BYTES)
        return tes_err_set(TES_ERR_POLICY, "policy: longer than %u bytes", POLICY_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return tes_err_set(TES_ERR_JSON, "policy is not valid JSON: %s (line %d, column %d)",
                           jerr.text, jerr.line, jerr.column);
    tes_consent_policy *p = calloc(1, sizeof(*p));
    tes_err e = p == NULL ? tes_err_set(TES_ERR_NOMEM, "out of memory")
                : !json_is_object(root)
                    ? tes_err_set(TES_ERR_POLICY, "policy: the top level must be an object")
                    : parse_root(root, p);
    json_decref(root);
    if (e != TES_OK) {
        tes_consent_policy_free(p);
        return e;
    }
    *out = p;
    return TES_OK;
}

/* "ns/name" of a list entry matches the item; "ns/age_over_NN" matches every age_over_dd. */
static bool entry_matches(const char *entry, tes_bytes ns, tes_bytes name)
{
    size_t el = strlen(entry);
    if (el != ns.len + 1 + name.len || memcmp(entry, ns.ptr, ns.len) != 0 || entry[ns.len] != '/')
        return false;
    const char *en = entry + ns.len + 1;
    if (memcmp(en, name.ptr, name.len) == 0)
        return true;
    static const char age[] = "age_over_";
    return strcmp(en, "age_over_NN") == 0 && name.len == sizeof(age) + 1 &&
           memcmp(name.ptr, age, sizeof(age) - 1) == 0 && name.ptr[9] >= '0' &&
           name.ptr[9] <= '9' && name.ptr[10] >= '0' && name.ptr[10] <= '9';
}

static bool list_has(const policy_list *l, tes_bytes ns, tes_bytes name)
{
    if (l->all)
        return true;
    for (size_t i = 0; i < l->n; i++)
        if (entry_matches(l->items[i], ns, name))
            return true;
    return false;
}

tes_err tes_consent_policy_decide(void *ctx, tes_consent_request *req, char pin[64])
{
    const tes_consent_policy *p = ctx;
    if (p == NULL || req == NULL || pin == NULL)
        return tes_err_set(TES_ERR_ARG, "policy: NULL argument");
    for (size_t i = 0; i < req->n_items; i++)
        req->items[i].approve = req->items[i].override_scope = false;
    pin[0] = '\0';
    const policy_rule *rule = NULL;
    for (size_t i = 0; i < p->n_rules && rule == NULL; i++) {
        const policy_rule *r = &p->rules[i];
        if (req->reader_authenticated)
            rule = strcmp(r->name, "*") == 0 ||
                           strncmp(r->name, req->reader_name, sizeof(req->reader_name)) == 0
                       ? r
                       : NULL;
        else
            rule = !r->authenticated ? r : NULL; /* its name is "*" (checked when parsing) */
    }
    if (rule == NULL) {
        if (req->reader_authenticated || !p->unauth_ask_nothing)
            return tes_err_set(TES_ERR_CONSENT, "policy: no rule for %s reader '%s': declined",
                               req->reader_authenticated ? "authenticated" : "unauthenticated",
                               req->reader_authenticated ? req->reader_name : "?");
        memcpy(pin, p->pin, sizeof(p->pin));
        return TES_OK; /* ask-nothing: go on, nothing approved */
    }
    for (size_t i = 0; i < req->n_items; i++) {
        tes_consent_item *it = &req->items[i];
        bool allowed =
            list_has(&rule->allow, it->ns, it->name) && !list_has(&rule->deny, it->ns, it->name);
        it->override_scope = allowed && !it->in_scope && rule->override_scope;
        it->approve = allowed && it->held && (it->in_scope || it->override_scope);
    }
    memcpy(pin, p->pin, sizeof(p->pin));
    return TES_OK;
}
