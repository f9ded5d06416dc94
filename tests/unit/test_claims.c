/* Doctype tables and claims JSON -> CBOR: types, dates, files, limits, registration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/mdoc.h"
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

#define MDL_NS "\"org.iso.18013.5.1\""

/* A complete mDL claims set; %s slots: extra members of the mDL namespace. */
static const char *mdl_json_fmt =
    "{" MDL_NS ": {"
    "\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    "\"birth_date\": \"1964-08-12\","
    "\"issue_date\": \"2019-10-20T10:00:00+02:00\", \"expiry_date\": \"2029-10-19\","
    "\"issuing_country\": \"DE\", \"issuing_authority\": \"Stadt Koeln\","
    "\"document_number\": \"T22000129\","
    "\"portrait\": \"_9j_4A\","
    "\"driving_privileges\": [{\"vehicle_category_code\": \"B\","
    "   \"issue_date\": \"2018-05-01\", \"expiry_date\": \"2028-04-30\","
    "   \"codes\": [{\"code\": \"D\", \"sign\": \"=\", \"value\": \"P\"}]}],"
    "\"un_distinguishing_sign\": \"D\","
    "\"sex\": 2, \"height\": 170, \"age_over_18\": true, \"age_over_65\": false,"
    "\"portrait_capture_date\": \"2019-10-01T12:30:45.678Z\"%s"
    "}}";

static char *mdl_json(const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), mdl_json_fmt, extra);
    return buf;
}

static tes_err from_json(const tes_doctype *t, const char *json, const char *base_dir,
                         tes_mdoc_claims *out)
{
    return tes_mdoc_claims_from_json(t, json, strlen(json), base_dir, out);
}

static const tes_mdoc_claim *find(const tes_mdoc_claims *c, const char *ns, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].ns, ns) == 0 && strcmp(c->items[i].name, name) == 0)
            return &c->items[i];
    return NULL;
}

/* The claim's value equals the given encoded CBOR. */
static int value_is(const tes_mdoc_claims *c, const char *ns, const char *name, const void *cbor,
                    size_t n)
{
    const tes_mdoc_claim *cl = find(c, ns, name);
    return cl != NULL && cl->value.len == n && memcmp(cl->value.ptr, cbor, n) == 0;
}
#define VALUE_IS(c, ns, name, lit) value_is(c, ns, name, lit, sizeof(lit) - 1)

/* Converting must fail with code and a message containing every given word. */
static int fails_with(const tes_doctype *t, const char *json, tes_err code, const char *w1,
                      const char *w2)
{
    tes_mdoc_claims c = {(tes_mdoc_claim *)1, 7}; /* garbage: must be reset */
    tes_err e = from_json(t, json, NULL, &c);
    const char *m = tes_err_message();
    int ok = e == code && c.items == NULL && c.n == 0 && (w1 == NULL || strstr(m, w1) != NULL) &&
             (w2 == NULL || strstr(m, w2) != NULL);
    if (!ok)
        fprintf(stderr, "    got %s: %s\n", tes_err_name(e), m);
    tes_mdoc_claims_free(&c);
    return ok;
}

static const tes_doctype *mdl(void)
{
    return tes_doctype_find(TES_DOCTYPE_MDL);
}

TEST(builtin_tables)
{
    const tes_doctype *m = mdl(), *p = tes_doctype_find(TES_DOCTYPE_PID);
    REQUIRE(m != NULL && p != NULL);
    CHECK_EQ_STR(m->ns, TES_NS_MDL);
    CHECK_EQ_STR(p->ns, TES_NS_PID);
    CHECK(tes_doctype_find("org.example.nothing") == NULL);
    CHECK(tes_doctype_find(NULL) == NULL);
    const tes_elem_def *d = tes_doctype_elem(m, "portrait");
    REQUIRE(d != NULL);
    CHECK(d->type == TES_ELEM_BSTR && d->mandatory);
    d = tes_doctype_elem(m, "age_over_21");
    REQUIRE(d != NULL);
    CHECK_EQ_STR(d->name, "age_over_NN");
    CHECK(d->type == TES_ELEM_BOOL && !d->mandatory);
    CHECK(tes_doctype_elem(m, "age_over_1") == NULL);
    CHECK(tes_doctype_elem(m, "age_over_180") == NULL);
    CHECK(tes_doctype_elem(m, "age_over_x1") == NULL);
    CHECK(tes_doctype_elem(m, "age_over_NN") != NULL); /* the literal name is harmless */
    CHECK(tes_doctype_elem(m, "nope") == NULL);
    CHECK(tes_doctype_elem(p, "place_of_birth")->type == TES_ELEM_MAP);
    CHECK(tes_doctype_elem(p, "issuance_date")->mandatory == false);
    size_t mand = 0;
    for (size_t i = 0; i < m->n_elems; i++)
        mand += m->elems[i].mandatory;
    CHECK_EQ_INT(mand, 11);
    mand = 0;
    for (size_t i = 0; i < p->n_elems; i++)
        mand += p->elems[i].mandatory;
    CHECK_EQ_INT(mand, 6);
}

TEST(full_mdl)
{
    tes_mdoc_claims c;
    CHECK_ERR(from_json(mdl(), mdl_json(""), NULL, &c), TES_OK);
    CHECK_EQ_INT(c.n, 16);
    const char *ns = TES_NS_MDL;
    CHECK(VALUE_IS(&c, ns, "birth_date",
                   "\xd9\x03\xec\x6a"
                   "1964-08-12"));
    CHECK(VALUE_IS(&c, ns, "expiry_date",
                   "\xd9\x03\xec\x6a"
                   "2029-10-19"));
    /* full-date given as a date-time: tag 0, normalised to UTC */
    CHECK(VALUE_IS(&c, ns, "issue_date",
                   "\xc0\x74"
                   "2019-10-20T08:00:00Z"));
    /* tdate: fraction dropped */
    CHECK(VALUE_IS(&c, ns, "portrait_capture_date",
                   "\xc0\x74"
                   "2019-10-01T12:30:45Z"));
    CHECK(VALUE_IS(&c, ns, "family_name", "\x6aMustermann"));
    CHECK(VALUE_IS(&c, ns, "portrait", "\x44\xff\xd8\xff\xe0"));
    CHECK(VALUE_IS(&c, ns, "age_over_18", "\xf5"));
    CHECK(VALUE_IS(&c, ns, "age_over_65", "\xf4"));
    CHECK(VALUE_IS(&c, ns, "sex", "\x02"));
    CHECK(VALUE_IS(&c, ns, "height", "\x18\xaa"));

    /* driving_privileges: nested *_date members become full-date, map keys sorted */
    const tes_mdoc_claim *dp = find(&c, ns, "driving_privileges");
    REQUIRE(dp != NULL);
    tes_cbor_doc d;
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&dp->value), NULL, &d) == TES_OK);
    CHECK(tes_cbor_is(&d, 0, TES_CBOR_ARRAY) && tes_cbor_count(&d, 0) == 1);
    uint32_t m = tes_cbor_child(&d, 0);
    CHECK(tes_cbor_is(&d, m, TES_CBOR_MAP) && tes_cbor_count(&d, m) == 4);
    uint32_t id = tes_cbor_map_get_text(&d, m, "issue_date");
    REQUIRE(id != TES_CBOR_NONE);
    CHECK(tes_cbor_is(&d, id, TES_CBOR_TAG) && d.nodes[id].val == 1004);
    CHECK(tes_cbor_text_eq(&d, tes_cbor_child(&d, id), "2018-05-01"));
    uint32_t ed = tes_cbor_map_get_text(&d, m, "expiry_date");
    CHECK(ed != TES_CBOR_NONE && tes_cbor_is(&d, ed, TES_CBOR_TAG) && d.nodes[ed].val == 1004);
    CHECK(tes_cbor_text_eq(&d, tes_cbor_map_get_text(&d, m, "vehicle_category_code"), "B"));
    /* deterministic order: bytewise on encoded keys -> shorter text keys first */
    CHECK(tes_cbor_text_eq(&d, tes_cbor_child_at(&d, m, 0), "codes"));
    CHECK(tes_cbor_text_eq(&d, tes_cbor_child_at(&d, m, 6), "vehicle_category_code"));
    tes_cbor_doc_free(&d);

    /* claims are sorted by element name */
    for (size_t i = 1; i < c.n; i++)
        CHECK(strcmp(c.items[i - 1].name, c.items[i].name) < 0);
    tes_mdoc_claims_free(&c);
    CHECK(c.items == NULL && c.n == 0);
    tes_mdoc_claims_free(&c); /* twice is harmless */
}

TEST(portrait_from_file)
{
    char dir[] = "/tmp/tes_claims_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/face.jpg", dir);
    static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F'};
    REQUIRE(tes_file_write(path, TES_BYTES(jpeg, sizeof(jpeg)), 0600) == TES_OK);

    char json[4096], extra[512];
    const char *want = "\x4a\xff\xd8\xff\xe0\x00\x10JFIF";
    tes_mdoc_claims c;

    /* relative to base_dir */
    snprintf(json, sizeof(json), "%s", mdl_json(""));
    char *p = strstr(json, "\"_9j_4A\"");
    REQUIRE(p != NULL);
    memmove(p + 24, p + 8, strlen(p + 8) + 1);
    memcpy(p, "{\"file\": \"face.jpg\"}    ", 24); /* pad with spaces: same length */
    CHECK_ERR(from_json(mdl(), json, dir, &c), TES_OK);
    CHECK(value_is(&c, TES_NS_MDL, "portrait", want, 11));
    tes_mdoc_claims_free(&c);

    /* without base_dir the relative path is looked up in the current directory: absent */
    CHECK(fails_with(mdl(), json, TES_ERR_IO, "portrait", "face.jpg"));

    /* absolute path, and a bstr element of another kind ({"b64u"}) */
    snprintf(extra, sizeof(extra),
             ", \"signature_usual_mark\": {\"file\": \"%s\"}, "
             "\"biometric_template_face\": {\"b64u\": \"AQID\"}",
             path);
    CHECK_ERR(from_json(mdl(), mdl_json(extra), "/nonexistent", &c), TES_OK);
    CHECK(value_is(&c, TES_NS_MDL, "signature_usual_mark", want, 11));
    CHECK(VALUE_IS(&c, TES_NS_MDL, "biometric_template_face", "\x43\x01\x02\x03"));
    tes_mdoc_claims_free(&c);

    /* a missing file in the mDL namespace */
    CHECK(fails_with(mdl(), mdl_json(", \"signature_usual_mark\": {\"file\": \"/nonexistent/x\"}"),
                     TES_ERR_IO, "signature_usual_mark", "/nonexistent/x"));

    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0);
}

TEST(unknown_element)
{
    CHECK(fails_with(mdl(), mdl_json(", \"favourite_colour\": \"blue\""), TES_ERR_CLAIMS,
                     "unknown element 'favourite_colour'", TES_DOCTYPE_MDL));
    CHECK(fails_with(mdl(), mdl_json(", \"age_over_180\": true"), TES_ERR_CLAIMS, "age_over_180",
                     NULL));
    /* PID-only element in the mDL namespace */
    CHECK(fails_with(mdl(), mdl_json(", \"nationalities\": [\"DE\"]"), TES_ERR_CLAIMS,
                     "nationalities", NULL));
}

TEST(wrong_types)
{
    static const struct {
        const char *extra, *elem, *type;
    } cases[] = {
        {", \"age_over_21\": \"yes\"", "age_over_21", "bool"},
        {", \"age_over_21\": 1", "age_over_21", "bool"},
        {", \"weight\": -3", "weight", "uint"},
        {", \"weight\": 70.5", "weight", "uint"},
        {", \"weight\": \"70\"", "weight", "uint"},
        {", \"eye_colour\": 3", "eye_colour", "tstr"},
        {", \"biometric_template_iris\": {\"file\": 3}", "biometric_template_iris", "bstr"},
        {", \"biometric_template_iris\": [1]", "biometric_template_iris", "bstr"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* mdl_json's slot is at the end, so a later duplicate member would be a JSON error:
         * these elements are not in the base set */
        int ok = fails_with(mdl(), mdl_json(cases[i].extra), TES_ERR_CLAIMS, cases[i].elem,
                            cases[i].type);
        if (!ok)
            fprintf(stderr, "    case %zu\n", i);
        CHECK(ok);
    }

    /* replacing members of the base set */
    static const struct {
        const char *from, *to, *elem, *type;
    } repl[] = {
        {"\"age_over_18\": true", "\"age_over_18\": \"true\"", "age_over_18", "bool"},
        {"\"family_name\": \"Mustermann\"", "\"family_name\": 12345678", "family_name", "tstr"},
        {"\"birth_date\": \"1964-08-12\"", "\"birth_date\": \"1964-13-40\"", "birth_date",
         "full-date"},
        {"\"birth_date\": \"1964-08-12\"", "\"birth_date\": \"1964-02-30\"", "birth_date",
         "full-date"},
        {"\"birth_date\": \"1964-08-12\"", "\"birth_date\": 19640812", "birth_date", "full-date"},
        {"\"expiry_date\": \"2029-10-19\"", "\"expiry_date\": \"2029-10-19T25:00:00Z\"",
         "expiry_date", "full-date"},
        {"\"portrait\": \"_9j_4A\"", "\"portrait\": \"_9j_4A!!\"", "portrait", "base64url"},
        {"\"portrait\": \"_9j_4A\"", "\"portrait\": \"/9j/4A==\"", "portrait", "base64url"},
        {"\"driving_privileges\": [", "\"driving_privileges\": 7, \"x\": [", "driving_privileges",
         "array"},
        {"\"sex\": 2", "\"sex\": null", "sex", "uint"},
        {"\"portrait_capture_date\": \"2019-10-01T12:30:45.678Z\"",
         "\"portrait_capture_date\": \"2019-10-01\"", "portrait_capture_date", "tdate"},
        {"\"portrait_capture_date\": \"2019-10-01T12:30:45.678Z\"",
         "\"portrait_capture_date\": \"2019-10-01T12:30:45\"", "portrait_capture_date", "tdate"},
    };
    for (size_t i = 0; i < sizeof(repl) / sizeof(repl[0]); i++) {
        char json[4096];
        const char *base = mdl_json("");
        const char *at = strstr(base, repl[i].from);
        REQUIRE(at != NULL);
        snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - base), base, repl[i].to,
                 at + strlen(repl[i].from));
        int ok = fails_with(mdl(), json, TES_ERR_CLAIMS, repl[i].elem, repl[i].type);
        if (!ok)
            fprintf(stderr, "    replacement %zu\n", i);
        CHECK(ok);
    }
}

TEST(missing_mandatory)
{
    char json[4096];
    const char *base = mdl_json("");
    const char *at = strstr(base, "\"portrait\": \"_9j_4A\",");
    REQUIRE(at != NULL);
    snprintf(json, sizeof(json), "%.*s%s", (int)(at - base), base, at + 21);
    CHECK(fails_with(mdl(), json, TES_ERR_CLAIMS, "mandatory element 'portrait'", NULL));
    /* no mDL namespace at all: the first mandatory element of the table is named */
    CHECK(
        fails_with(mdl(), "{\"org.example\": {\"a\": 1}}", TES_ERR_CLAIMS, "'family_name'", NULL));
    CHECK(fails_with(mdl(), "{}", TES_ERR_CLAIMS, "family_name", NULL));
}

TEST(other_namespace_any_values)
{
    tes_mdoc_claims c;
    CHECK_ERR(from_json(mdl(),
                        mdl_json("}, \"org.example.extra\": {"
                                 "\"list\": [1, 2.5, null, {\"b\": 1, \"a\": \"x\"}, -7],"
                                 "\"hazmat_date\": \"2030-01-01\","
                                 "\"date_of_x\": \"2030-01-01\","
                                 "\"bad_date\": \"2030-02-30\","
                                 "\"blob\": {\"b64u\": \"AQI\"},"
                                 "\"flag\": false, \"text\": \"h\\u00e9\""),
                        NULL, &c),
              TES_OK);
    const char *ns = "org.example.extra";
    CHECK(VALUE_IS(&c, ns, "list",
                   "\x85\x01\xfa\x40\x20\x00\x00\xf6\xa2\x61\x61\x61\x78\x61\x62\x01\x26"));
    CHECK(VALUE_IS(&c, ns, "hazmat_date",
                   "\xd9\x03\xec\x6a"
                   "2030-01-01"));
    CHECK(VALUE_IS(&c, ns, "date_of_x",
                   "\x6a"
                   "2030-01-01"));
    CHECK(VALUE_IS(&c, ns, "bad_date",
                   "\x6a"
                   "2030-02-30"));
    CHECK(VALUE_IS(&c, ns, "blob", "\x42\x01\x02"));
    CHECK(VALUE_IS(&c, ns, "flag", "\xf4"));
    CHECK(VALUE_IS(&c, ns, "text", "\x63h\xc3\xa9"));
    /* the mDL namespace sorts before org.example.extra ("org.e" < "org.i") */
    CHECK_EQ_STR(c.items[0].ns, ns);
    CHECK_EQ_STR(c.items[c.n - 1].ns, TES_NS_MDL);
    tes_mdoc_claims_free(&c);

    /* bad base64url inside another namespace is still an error */
    CHECK(fails_with(mdl(), mdl_json("}, \"org.example.extra\": {\"blob\": {\"b64u\": \"A\"}"),
                     TES_ERR_CLAIMS, "blob", "base64url"));
}

TEST(pid)
{
    const tes_doctype *p = tes_doctype_find(TES_DOCTYPE_PID);
    REQUIRE(p != NULL);
    const char *json = "{\"eu.europa.ec.eudi.pid.1\": {"
                       "\"family_name\": \"Garcia\", \"given_name\": \"Javier\","
                       "\"birth_date\": \"1965-01-01\", \"issuing_authority\": \"Test PID issuer\","
                       "\"issuing_country\": \"FC\", \"expiry_date\": \"2030-01-01\","
                       "\"issuance_date\": \"2025-01-01T00:00:00Z\", \"age_over_18\": true,"
                       "\"nationalities\": [\"ES\", \"FR\"],"
                       "\"place_of_birth\": {\"locality\": \"Madrid\", \"country\": \"ES\"},"
                       "\"gender\": 1, \"portrait\": \"AQ\"}}";
    tes_mdoc_claims c;
    CHECK_ERR(from_json(p, json, NULL, &c), TES_OK);
    CHECK_EQ_INT(c.n, 12);
    const char *ns = TES_NS_PID;
    CHECK(VALUE_IS(&c, ns, "birth_date",
                   "\xd9\x03\xec\x6a"
                   "1965-01-01"));
    CHECK(VALUE_IS(&c, ns, "issuance_date",
                   "\xc0\x74"
                   "2025-01-01T00:00:00Z"));
    CHECK(VALUE_IS(&c, ns, "nationalities",
                   "\x82\x62"
                   "ES"
                   "\x62"
                   "FR"));
    CHECK(VALUE_IS(&c, ns, "place_of_birth",
                   "\xa2\x67"
                   "country"
                   "\x62"
                   "ES"
                   "\x68"
                   "locality"
                   "\x66"
                   "Madrid"));
    CHECK(VALUE_IS(&c, ns, "gender", "\x01"));
    CHECK(VALUE_IS(&c, ns, "portrait", "\x41\x01"));
    tes_mdoc_claims_free(&c);

    /* mDL-only element, missing expiry_date, map given for a tstr */
    CHECK(fails_with(p, "{\"eu.europa.ec.eudi.pid.1\": {\"driving_privileges\": []}}",
                     TES_ERR_CLAIMS, "driving_privileges", NULL));
    CHECK(fails_with(p,
                     "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"a\", \"given_name\": \"b\","
                     "\"birth_date\": \"1965-01-01\", \"issuing_authority\": \"c\","
                     "\"issuing_country\": \"FC\"}}",
                     TES_ERR_CLAIMS, "'expiry_date'", NULL));
    CHECK(fails_with(p, "{\"eu.europa.ec.eudi.pid.1\": {\"nationality\": {\"file\": \"x\"}}}",
                     TES_ERR_CLAIMS, "nationality", "tstr"));
    CHECK(fails_with(p, "{\"eu.europa.ec.eudi.pid.1\": {\"place_of_birth\": \"Madrid\"}}",
                     TES_ERR_CLAIMS, "place_of_birth", "map"));
}

TEST(json_and_shape_errors)
{
    CHECK(fails_with(mdl(), "{\"org.iso.18013.5.1\": {\"family_name\": }", TES_ERR_JSON, "line 1",
                     NULL));
    CHECK(fails_with(mdl(), "{\"a\": {}}\n{", TES_ERR_JSON, NULL, NULL));
    CHECK(fails_with(mdl(), "", TES_ERR_JSON, NULL, NULL));
    CHECK(fails_with(mdl(), "{\"a\": {\"x\": 1, \"x\": 2}}", TES_ERR_JSON, "duplicate", NULL));
    CHECK(fails_with(mdl(), "[{\"a\": {}}]", TES_ERR_CLAIMS, "object", NULL));
    CHECK(fails_with(mdl(), "{\"org.example\": [1]}", TES_ERR_CLAIMS, "org.example", NULL));
    CHECK(fails_with(mdl(), "{\"org.example\": {\"\": 1}}", TES_ERR_CLAIMS, "empty", NULL));
    tes_mdoc_claims c;
    CHECK_ERR(tes_mdoc_claims_from_json(NULL, "{}", 2, NULL, &c), TES_ERR_ARG);
    CHECK_ERR(tes_mdoc_claims_from_json(mdl(), NULL, 0, NULL, &c), TES_ERR_ARG);
    CHECK_ERR(tes_mdoc_claims_from_json(mdl(), "{}", 2, NULL, NULL), TES_ERR_ARG);
    /* len is honoured: the JSON ends before the garbage */
    const char *s = "{\"org.iso.18013.5.1\": 1}garbage";
    CHECK_ERR(tes_mdoc_claims_from_json(mdl(), s, 24, NULL, &c), TES_ERR_CLAIMS);
}

TEST(limits)
{
    /* nesting: 16 levels of containers pass, 17 fail */
    char json[512];
    for (int levels = 16; levels <= 17; levels++) {
        char *w = json;
        w += sprintf(w, "{\"org.example\": {\"deep\": ");
        for (int i = 0; i < levels; i++)
            *w++ = '[';
        for (int i = 0; i < levels; i++)
            *w++ = ']';
        sprintf(w, "}}");
        tes_mdoc_claims c;
        tes_err e = tes_mdoc_claims_from_json(mdl(), json, strlen(json), NULL, &c);
        /* the mDL namespace is absent, so success shows as the mandatory-element error */
        CHECK_ERR(e, TES_ERR_CLAIMS);
        CHECK((strstr(tes_err_message(), "nested") != NULL) == (levels == 17));
        tes_mdoc_claims_free(&c);
    }

    /* 10,000 elements pass the count check, 10,001 fail */
    size_t cap = 10001 * 16 + 64;
    char *big = malloc(cap);
    REQUIRE(big != NULL);
    for (int n = 10000; n <= 10001; n++) {
        char *w = big;
        w += sprintf(w, "{\"org.example\": {");
        for (int i = 0; i < n; i++)
            w += sprintf(w, "%s\"e%d\": %d", i ? "," : "", i, i);
        sprintf(w, "}}");
        int ok = fails_with(mdl(), big, TES_ERR_CLAIMS, n == 10000 ? "family_name" : "10000", NULL);
        CHECK(ok);
    }
    free(big);
}

TEST(deterministic_order)
{
    const char *a = "{\"org.b\": {\"z\": 1, \"a\": {\"y\": 1, \"x\": 2}},"
                    "\"org.a\": {\"m\": true, \"b\": \"t\"}}";
    const char *b = "{\"org.a\": {\"b\": \"t\", \"m\": true},"
                    "\"org.b\": {\"a\": {\"x\": 2, \"y\": 1}, \"z\": 1}}";
    /* a doctype without mandatory elements so these small sets convert */
    const char *def = "{\"docType\": \"org.example.free\", \"namespace\": \"org.example.free\","
                      " \"elements\": [{\"name\": \"n\", \"type\": \"any\"}]}";
    CHECK_ERR(tes_doctype_register_json(def, strlen(def)), TES_OK);
    const tes_doctype *t = tes_doctype_find("org.example.free");
    REQUIRE(t != NULL);
    tes_mdoc_claims ca, cb;
    REQUIRE(from_json(t, a, NULL, &ca) == TES_OK);
    REQUIRE(from_json(t, b, NULL, &cb) == TES_OK);
    REQUIRE(ca.n == 4 && cb.n == 4);
    static const char *const order[][2] = {
        {"org.a", "b"}, {"org.a", "m"}, {"org.b", "a"}, {"org.b", "z"}};
    for (size_t i = 0; i < 4; i++) {
        CHECK_EQ_STR(ca.items[i].ns, order[i][0]);
        CHECK_EQ_STR(ca.items[i].name, order[i][1]);
        CHECK_EQ_STR(cb.items[i].ns, order[i][0]);
        CHECK_EQ_STR(cb.items[i].name, order[i][1]);
        CHECK(tes_bytes_eq(tes_buf_bytes(&ca.items[i].value), tes_buf_bytes(&cb.items[i].value)));
    }
    CHECK(VALUE_IS(&ca, "org.b", "a", "\xa2\x61x\x02\x61y\x01"));
    tes_mdoc_claims_free(&ca);
    tes_mdoc_claims_free(&cb);
}

TEST(register_roomkey)
{
    const char *def = "{\"docType\": \"org.example.roomkey\", \"namespace\": \"org.example.hotel\","
                      " \"elements\": ["
                      "  {\"name\": \"room\", \"type\": \"tstr\", \"mandatory\": true},"
                      "  {\"name\": \"valid_until\", \"type\": \"tdate\", \"mandatory\": true},"
                      "  {\"name\": \"floor\", \"type\": \"int\"},"
                      "  {\"name\": \"guest_photo\", \"type\": \"bstr\", \"mandatory\": false},"
                      "  {\"name\": \"amenities\", \"type\": \"map\"},"
                      "  {\"name\": \"age_over_NN\", \"type\": \"bool\"}]}";
    CHECK(tes_doctype_find("org.example.roomkey") == NULL);
    CHECK_ERR(tes_doctype_register_json(def, strlen(def)), TES_OK);
    const tes_doctype *t = tes_doctype_find("org.example.roomkey");
    REQUIRE(t != NULL);
    CHECK_EQ_STR(t->ns, "org.example.hotel");
    CHECK_EQ_INT(t->n_elems, 6);
    CHECK(tes_doctype_elem(t, "room")->mandatory);
    CHECK(!tes_doctype_elem(t, "floor")->mandatory);
    CHECK(tes_doctype_elem(t, "age_over_18") != NULL);

    tes_mdoc_claims c;
    const char *ok = "{\"org.example.hotel\": {\"room\": \"412\","
                     " \"valid_until\": \"2025-06-02T11:00:00+02:00\", \"floor\": -1,"
                     " \"amenities\": {\"file\": \"not a bstr here\"}}}";
    CHECK_ERR(from_json(t, ok, NULL, &c), TES_OK);
    CHECK_EQ_INT(c.n, 4);
    CHECK(VALUE_IS(&c, "org.example.hotel", "room",
                   "\x63"
                   "412"));
    CHECK(VALUE_IS(&c, "org.example.hotel", "valid_until",
                   "\xc0\x74"
                   "2025-06-02T09:00:00Z"));
    CHECK(VALUE_IS(&c, "org.example.hotel", "floor", "\x20"));
    CHECK(VALUE_IS(&c, "org.example.hotel", "amenities",
                   "\xa1\x64"
                   "file"
                   "\x6f"
                   "not a bstr here"));
    tes_mdoc_claims_free(&c);

    CHECK(fails_with(t,
                     "{\"org.example.hotel\": {\"room\": \"1\", \"valid_until\": "
                     "\"2025-06-02T11:00:00Z\", \"minibar\": true}}",
                     TES_ERR_CLAIMS, "unknown element 'minibar'", "org.example.roomkey"));
    CHECK(fails_with(t, "{\"org.example.hotel\": {\"room\": \"1\"}}", TES_ERR_CLAIMS,
                     "'valid_until'", NULL));
    CHECK(fails_with(t,
                     "{\"org.example.hotel\": {\"room\": \"1\", \"valid_until\": "
                     "\"2025-06-02\"}}",
                     TES_ERR_CLAIMS, "valid_until", "tdate"));
    /* the mDL table is unaffected */
    CHECK(tes_doctype_elem(mdl(), "room") == NULL);
}

TEST(register_rejects_bad_definitions)
{
    static const struct {
        const char *json, *word;
        tes_err code;
    } bad[] = {
        {"{\"docType\": \"x.bad\", \"namespace\": \"x\", \"elements\": "
         "[{\"name\": \"a\", \"type\": \"string\"}]}",
         "type", TES_ERR_JSON},
        {"{\"docType\": \"x.bad\", \"namespace\": \"x\", \"elements\": [{\"type\": \"tstr\"}]}",
         "name", TES_ERR_JSON},
        {"{\"docType\": \"x.bad\", \"namespace\": \"x\", \"elements\": "
         "[{\"name\": \"a\", \"type\": \"tstr\"}, {\"name\": \"a\", \"type\": \"uint\"}]}",
         "twice", TES_ERR_JSON},
        {"{\"docType\": \"x.bad\", \"namespace\": \"x\", \"elements\": "
         "[{\"name\": \"a\", \"type\": \"tstr\", \"mandatory\": 1}]}",
         "mandatory", TES_ERR_JSON},
        {"{\"docType\": \"x.bad\", \"namespace\": \"x\", \"elements\": "
         "[{\"name\": \"a\", \"type\": \"tstr\", \"optional\": true}]}",
         "optional", TES_ERR_JSON},
        {"{\"docType\": \"x.bad\", \"namespace\": \"x\", \"elements\": []}", "elements",
         TES_ERR_JSON},
        {"{\"docType\": \"x.bad\", \"elements\": [{\"name\": \"a\", \"type\": \"tstr\"}]}",
         "namespace", TES_ERR_JSON},
        {"{\"docType\": \"\", \"namespace\": \"x\", \"elements\": "
         "[{\"name\": \"a\", \"type\": \"tstr\"}]}",
         "docType", TES_ERR_JSON},
        {"{\"docType\": \"x.bad\", \"namespace\": \"x\", \"elements\": [\"a\"]}", "elements[0]",
         TES_ERR_JSON},
        {"{\"docType\": \"x.bad\", \"namespace\": \"x\", \"elements\": "
         "[{\"name\": \"a\", \"type\": \"tstr\"}], \"docType\": \"y\"}",
         "duplicate", TES_ERR_JSON},
        {"{\"docType\": \"x.bad\",", "line", TES_ERR_JSON},
        {"[]", "object", TES_ERR_JSON},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tes_err e = tes_doctype_register_json(bad[i].json, strlen(bad[i].json));
        int ok = e == bad[i].code && strstr(tes_err_message(), bad[i].word) != NULL;
        if (!ok)
            fprintf(stderr, "    case %zu: %s: %s\n", i, tes_err_name(e), tes_err_message());
        CHECK(ok);
    }
    CHECK(tes_doctype_find("x.bad") == NULL);
    CHECK_ERR(tes_doctype_register_json(NULL, 0), TES_ERR_ARG);
}

TEST(register_overrides)
{
    const char *v1 = "{\"docType\": \"org.example.v\", \"namespace\": \"n\", \"elements\": "
                     "[{\"name\": \"a\", \"type\": \"tstr\"}]}";
    const char *v2 =
        "{\"docType\": \"org.example.v\", \"namespace\": \"n\", \"elements\": "
        "[{\"name\": \"a\", \"type\": \"uint\"}, {\"name\": \"b\", \"type\": \"bool\"}]}";
    CHECK_ERR(tes_doctype_register_json(v1, strlen(v1)), TES_OK);
    const tes_doctype *t1 = tes_doctype_find("org.example.v");
    CHECK_ERR(tes_doctype_register_json(v2, strlen(v2)), TES_OK);
    const tes_doctype *t2 = tes_doctype_find("org.example.v");
    REQUIRE(t1 != NULL && t2 != NULL);
    CHECK(t1 != t2);
    CHECK_EQ_INT(t2->n_elems, 2);
    CHECK(tes_doctype_elem(t2, "a")->type == TES_ELEM_UINT);
    CHECK(tes_doctype_elem(t1, "a")->type == TES_ELEM_TSTR); /* the old table stays valid */

    /* overriding a built-in table (last test: it changes the PID table for this process) */
    const char *pid = "{\"docType\": \"eu.europa.ec.eudi.pid.1\", \"namespace\": "
                      "\"eu.europa.ec.eudi.pid.1\", \"elements\": "
                      "[{\"name\": \"pseudonym\", \"type\": \"tstr\", \"mandatory\": true}]}";
    CHECK_ERR(tes_doctype_register_json(pid, strlen(pid)), TES_OK);
    const tes_doctype *p = tes_doctype_find(TES_DOCTYPE_PID);
    REQUIRE(p != NULL);
    CHECK_EQ_INT(p->n_elems, 1);
    tes_mdoc_claims c;
    CHECK_ERR(from_json(p, "{\"eu.europa.ec.eudi.pid.1\": {\"pseudonym\": \"p1\"}}", NULL, &c),
              TES_OK);
    CHECK_EQ_INT(c.n, 1);
    tes_mdoc_claims_free(&c);
    CHECK(tes_doctype_find(TES_DOCTYPE_MDL)->n_elems > 30); /* others untouched */
}
