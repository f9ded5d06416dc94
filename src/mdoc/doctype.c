/*
 * Doctype tables: the built-in mDL (ISO/IEC 18013-5 Table 5) and EUDI PID
 * tables, and tables registered at run time from JSON.
 *
 * Registered tables are kept in a static singly linked list, newest first,
 * guarded by a mutex. They are never freed: pointers handed out by
 * tes_doctype_find() stay valid until process exit (the list head is a
 * global, so leak checkers see them as reachable, not lost). A registered
 * table whose docType equals an earlier one (built-in or registered)
 * overrides it for later look-ups.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/mdoc.h"

/* ---- built-in tables ---- */

#define M true /* mandatory */
#define O false

static const tes_elem_def mdl_elems[] = {
    {"family_name", TES_ELEM_TSTR, M},
    {"given_name", TES_ELEM_TSTR, M},
    {"birth_date", TES_ELEM_FULL_DATE, M},
    {"issue_date", TES_ELEM_FULL_DATE, M},
    {"expiry_date", TES_ELEM_FULL_DATE, M},
    {"issuing_country", TES_ELEM_TSTR, M},
    {"issuing_authority", TES_ELEM_TSTR, M},
    {"document_number", TES_ELEM_TSTR, M},
    {"portrait", TES_ELEM_BSTR, M},
    {"driving_privileges", TES_ELEM_ARRAY, M},
    {"un_distinguishing_sign", TES_ELEM_TSTR, M},
    {"administrative_number", TES_ELEM_TSTR, O},
    {"sex", TES_ELEM_UINT, O},
    {"height", TES_ELEM_UINT, O},
    {"weight", TES_ELEM_UINT, O},
    {"eye_colour", TES_ELEM_TSTR, O},
    {"hair_colour", TES_ELEM_TSTR, O},
    {"birth_place", TES_ELEM_TSTR, O},
    {"resident_address", TES_ELEM_TSTR, O},
    {"portrait_capture_date", TES_ELEM_TDATE, O},
    {"age_in_years", TES_ELEM_UINT, O},
    {"age_birth_year", TES_ELEM_UINT, O},
    {"age_over_NN", TES_ELEM_BOOL, O},
    {"issuing_jurisdiction", TES_ELEM_TSTR, O},
    {"nationality", TES_ELEM_TSTR, O},
    {"resident_city", TES_ELEM_TSTR, O},
    {"resident_state", TES_ELEM_TSTR, O},
    {"resident_postal_code", TES_ELEM_TSTR, O},
    {"resident_country", TES_ELEM_TSTR, O},
    {"family_name_national_character", TES_ELEM_TSTR, O},
    {"given_name_national_character", TES_ELEM_TSTR, O},
    {"signature_usual_mark", TES_ELEM_BSTR, O},
    {"biometric_template_face", TES_ELEM_BSTR, O},
    {"biometric_template_finger", TES_ELEM_BSTR, O},
    {"biometric_template_signature_sign", TES_ELEM_BSTR, O},
    {"biometric_template_iris", TES_ELEM_BSTR, O},
};

static const tes_elem_def pid_elems[] = {
    {"family_name", TES_ELEM_TSTR, M},
    {"given_name", TES_ELEM_TSTR, M},
    {"birth_date", TES_ELEM_FULL_DATE, M},
    {"issuing_authority", TES_ELEM_TSTR, M},
    {"issuing_country", TES_ELEM_TSTR, M},
    {"expiry_date", TES_ELEM_FULL_DATE, M},
    {"issuance_date", TES_ELEM_FULL_DATE, O},
    {"age_over_NN", TES_ELEM_BOOL, O},
    {"age_in_years", TES_ELEM_UINT, O},
    {"age_birth_year", TES_ELEM_UINT, O},
    {"family_name_birth", TES_ELEM_TSTR, O},
    {"given_name_birth", TES_ELEM_TSTR, O},
    {"birth_place", TES_ELEM_TSTR, O},
    {"birth_country", TES_ELEM_TSTR, O},
    {"birth_state", TES_ELEM_TSTR, O},
    {"birth_city", TES_ELEM_TSTR, O},
    {"place_of_birth", TES_ELEM_MAP, O},
    {"resident_address", TES_ELEM_TSTR, O},
    {"resident_country", TES_ELEM_TSTR, O},
    {"resident_state", TES_ELEM_TSTR, O},
    {"resident_city", TES_ELEM_TSTR, O},
    {"resident_postal_code", TES_ELEM_TSTR, O},
    {"resident_street", TES_ELEM_TSTR, O},
    {"resident_house_number", TES_ELEM_TSTR, O},
    {"gender", TES_ELEM_UINT, O},
    {"sex", TES_ELEM_UINT, O},
    {"nationality", TES_ELEM_TSTR, O},
    {"nationalities", TES_ELEM_ARRAY, O},
    {"document_number", TES_ELEM_TSTR, O},
    {"administrative_number", TES_ELEM_TSTR, O},
    {"personal_administrative_number", TES_ELEM_TSTR, O},
    {"issuing_jurisdiction", TES_ELEM_TSTR, O},
    {"portrait", TES_ELEM_BSTR, O},
    {"email_address", TES_ELEM_TSTR, O},
    {"mobile_phone_number", TES_ELEM_TSTR, O},
    {"trust_anchor", TES_ELEM_TSTR, O},
};

#undef M
#undef O

static const char *const pid_device_ns[] = {TES_NS_PSEUDONYM};

static const tes_doctype builtin[] = {
    {TES_DOCTYPE_MDL, TES_NS_MDL, mdl_elems, sizeof(mdl_elems) / sizeof(mdl_elems[0]), NULL, 0},
    {TES_DOCTYPE_PID, TES_NS_PID, pid_elems, sizeof(pid_elems) / sizeof(pid_elems[0]),
     pid_device_ns, 1},
};

/* ---- registered tables ---- */

typedef struct reg_node {
    tes_doctype t;
    struct reg_node *next;
} reg_node;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_node *reg_head; /* newest first; nodes are never freed */

/* Bounds for a registered table. */
#define REG_MAX_JSON (1u << 20)
#define REG_MAX_ELEMS 10000
#define REG_MAX_NAME 256

const tes_doctype *tes_doctype_find(const char *doctype)
{
    if (doctype == NULL)
        return NULL;
    const tes_doctype *found = NULL;
    pthread_mutex_lock(&reg_lock);
    for (const reg_node *n = reg_head; n != NULL && found == NULL; n = n->next)
        if (strcmp(n->t.doctype, doctype) == 0)
            found = &n->t;
    pthread_mutex_unlock(&reg_lock);
    for (size_t i = 0; found == NULL && i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (strcmp(builtin[i].doctype, doctype) == 0)
            found = &builtin[i];
    return found;
}

/* "age_over_NN" in a table stands for age_over_ followed by exactly two digits. */
static bool name_matches(const char *pattern, const char *name)
{
    if (strcmp(pattern, name) == 0)
        return true;
    if (strcmp(pattern, "age_over_NN") != 0)
        return false;
    return strncmp(name, "age_over_", 9) == 0 && name[9] >= '0' && name[9] <= '9' &&
           name[10] >= '0' && name[10] <= '9' && name[11] == '\0';
}

const tes_elem_def *tes_doctype_elem(const tes_doctype *t, const char *name)
{
    if (t == NULL || name == NULL)
        return NULL;
    /* an exact entry wins over the age_over_NN pattern */
    for (size_t i = 0; i < t->n_elems; i++)
        if (strcmp(t->elems[i].name, name) == 0)
            return &t->elems[i];
    for (size_t i = 0; i < t->n_elems; i++)
        if (name_matches(t->elems[i].name, name))
            return &t->elems[i];
    return NULL;
}

static const struct {
    const char *name;
    tes_elem_type type;
} type_names[] = {
    {"tstr", TES_ELEM_TSTR},   {"bstr", TES_ELEM_BSTR},   {"uint", TES_ELEM_UINT},
    {"int", TES_ELEM_INT},     {"bool", TES_ELEM_BOOL},   {"full-date", TES_ELEM_FULL_DATE},
    {"tdate", TES_ELEM_TDATE}, {"array", TES_ELEM_ARRAY}, {"map", TES_ELEM_MAP},
    {"any", TES_ELEM_ANY},
};

/* A non-empty JSON string without embedded NUL, at most max bytes; NULL otherwise. */
static const char *json_name(const json_t *v, size_t max)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    return n > 0 && n <= max && strlen(s) == n ? s : NULL;
}

static void free_table(tes_doctype *t, size_t n_named)
{
    if (t->elems != NULL)
        for (size_t i = 0; i < n_named; i++)
            free((char *)t->elems[i].name);
    free((tes_elem_def *)t->elems);
    free((char *)t->doctype);
    free((char *)t->ns);
}

/* Checks that obj has no members other than those listed (NULL-terminated). */
static const char *unknown_member(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok)
            return key;
    }
    return NULL;
}

static tes_err build_table(json_t *root, tes_doctype *t, size_t *n_named)
{
    static const char *const top_members[] = {"docType", "namespace", "elements", NULL};
    static const char *const elem_members[] = {"name", "type", "mandatory", NULL};

    if (!json_is_object(root))
        return tes_err_set(TES_ERR_JSON, "doctype definition: top level must be a JSON object");
    const char *bad = unknown_member(root, top_members);
    if (bad != NULL)
        return tes_err_set(TES_ERR_JSON, "doctype definition: unknown member '%.64s'", bad);
    const char *doctype = json_name(json_object_get(root, "docType"), REG_MAX_NAME);
    if (doctype == NULL)
        return tes_err_set(TES_ERR_JSON,
                           "doctype definition: \"docType\" must be a non-empty "
                           "string of at most %u bytes",
                           REG_MAX_NAME);
    const char *ns = json_name(json_object_get(root, "namespace"), REG_MAX_NAME);
    if (ns == NULL)
        return tes_err_set(TES_ERR_JSON,
                           "doctype '%s': \"namespace\" must be a non-empty "
                           "string of at most %u bytes",
                           doctype, REG_MAX_NAME);
    json_t *elems = json_object_get(root, "elements");
    if (!json_is_array(elems) || json_array_size(elems) == 0 ||
        json_array_size(elems) > REG_MAX_ELEMS)
        return tes_err_set(TES_ERR_JSON,
                           "doctype '%s': \"elements\" must be an array of 1 to %u "
                           "element definitions",
                           doctype, REG_MAX_ELEMS);
    size_t n = json_array_size(elems);

    t->doctype = strdup(doctype);
    t->ns = strdup(ns);
    tes_elem_def *defs = calloc(n, sizeof(*defs));
    t->elems = defs;
    if (t->doctype == NULL || t->ns == NULL || defs == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory registering doctype");

    for (size_t i = 0; i < n; i++) {
        json_t *el = json_array_get(elems, i);
        if (!json_is_object(el))
            return tes_err_set(TES_ERR_JSON, "doctype '%s': elements[%zu] is not an object",
                               doctype, i);
        bad = unknown_member(el, elem_members);
        if (bad != NULL)
            return tes_err_set(TES_ERR_JSON,
                               "doctype '%s': elements[%zu] has unknown member "
                               "'%.64s'",
                               doctype, i, bad);
        const char *name = json_name(json_object_get(el, "name"), REG_MAX_NAME);
        if (name == NULL)
            return tes_err_set(TES_ERR_JSON,
                               "doctype '%s': elements[%zu] lacks a \"name\" "
                               "(non-empty string of at most %u bytes)",
                               doctype, i, REG_MAX_NAME);
        for (size_t j = 0; j < i; j++)
            if (strcmp(defs[j].name, name) == 0)
                return tes_err_set(TES_ERR_JSON, "doctype '%s': element '%s' defined twice",
                                   doctype, name);
        json_t *type = json_object_get(el, "type");
        const char *tname = json_is_string(type) ? json_string_value(type) : NULL;
        tes_elem_type ty = 0;
        for (size_t k = 0; tname != NULL && k < sizeof(type_names) / sizeof(type_names[0]); k++)
            if (strcmp(type_names[k].name, tname) == 0 && strlen(tname) == json_string_length(type))
                ty = type_names[k].type;
        if (ty == 0)
            return tes_err_set(TES_ERR_JSON,
                               "doctype '%s': element '%s' has %s type; expected "
                               "tstr, bstr, uint, int, bool, full-date, tdate, "
                               "array, map or any",
                               doctype, name, tname == NULL ? "no (string)" : "an unknown");
        json_t *mand = json_object_get(el, "mandatory");
        if (mand != NULL && !json_is_boolean(mand))
            return tes_err_set(TES_ERR_JSON,
                               "doctype '%s': element '%s': \"mandatory\" must be "
                               "true or false",
                               doctype, name);
        defs[i].name = strdup(name);
        if (defs[i].name == NULL)
            return tes_err_set(TES_ERR_NOMEM, "out of memory registering doctype");
        *n_named = i + 1;
        defs[i].type = ty;
        defs[i].mandatory = mand != NULL && json_is_true(mand);
    }
    t->n_elems = n;
    return TES_OK;
}

tes_err tes_doctype_register_json(const char *json, size_t len)
{
    if (json == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_doctype_register_json: json is NULL");
    if (len > REG_MAX_JSON)
        return tes_err_set(TES_ERR_JSON, "doctype definition larger than %u bytes", REG_MAX_JSON);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return tes_err_set(TES_ERR_JSON,
                           "doctype definition is not valid JSON: %s (line %d, "
                           "column %d)",
                           jerr.text, jerr.line, jerr.column);
    reg_node *node = calloc(1, sizeof(*node));
    if (node == NULL) {
        json_decref(root);
        return tes_err_set(TES_ERR_NOMEM, "out of memory registering doctype");
    }
    size_t n_named = 0;
    tes_err err = build_table(root, &node->t, &n_named);
    json_decref(root);
    if (err != TES_OK) {
        free_table(&node->t, n_named);
        free(node);
        return err;
    }
    pthread_mutex_lock(&reg_lock);
    node->next = reg_head;
    reg_head = node;
    pthread_mutex_unlock(&reg_lock);
    return TES_OK;
}
