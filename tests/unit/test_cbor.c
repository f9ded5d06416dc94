/* CBOR cursor and encoder: well-formed input, malformed input of every shape, limits. */
#include <stdlib.h>
#include <string.h>

#include "tessera/cbor.h"
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

static tes_err parse_hex(const char *hex, tes_cbor_doc *d, tes_buf *keep)
{
    tes_buf_reset(keep);
    if (tes_hex_decode(keep, hex, strlen(hex)) != TES_OK)
        return TES_ERR_ARG;
    return tes_cbor_parse(tes_buf_bytes(keep), NULL, d);
}

static tes_err parse_err(const char *hex)
{
    tes_buf b = {0};
    tes_cbor_doc d;
    tes_err e = parse_hex(hex, &d, &b);
    if (e == TES_OK)
        tes_cbor_doc_free(&d);
    tes_buf_free(&b);
    return e;
}

TEST(well_formed_items)
{
    tes_buf b = {0};
    tes_cbor_doc d;
    /* {"a": [1, -2, h'0102', "x", true, null, 24(h'a0'), 1.5], 3: {}} */
    REQUIRE(parse_hex("a261618801214201026178f5f6d81841a0f93e0003a0", &d, &b) == TES_OK);
    CHECK_EQ_INT(d.count, 14); /* the tag's byte string is a node of its own */
    CHECK(tes_cbor_is(&d, 0, TES_CBOR_MAP));
    CHECK_EQ_INT(tes_cbor_count(&d, 0), 2);
    uint32_t arr = tes_cbor_map_get_text(&d, 0, "a");
    REQUIRE(arr != TES_CBOR_NONE);
    CHECK_EQ_INT(tes_cbor_count(&d, arr), 8);
    int64_t v;
    CHECK(tes_cbor_get_int(&d, tes_cbor_child_at(&d, arr, 0), &v) && v == 1);
    CHECK(tes_cbor_get_int(&d, tes_cbor_child_at(&d, arr, 1), &v) && v == -2);
    uint32_t bs = tes_cbor_child_at(&d, arr, 2);
    CHECK(tes_cbor_is(&d, bs, TES_CBOR_BYTES) && d.nodes[bs].len == 2);
    CHECK(tes_cbor_text_eq(&d, tes_cbor_child_at(&d, arr, 3), "x"));
    CHECK(tes_cbor_is(&d, tes_cbor_child_at(&d, arr, 4), TES_CBOR_TRUE));
    CHECK(tes_cbor_is(&d, tes_cbor_child_at(&d, arr, 5), TES_CBOR_NULL));
    uint32_t t = tes_cbor_child_at(&d, arr, 6);
    tes_bytes inner;
    CHECK(tes_cbor_tag24_content(&d, t, &inner) && inner.len == 1 && inner.ptr[0] == 0xa0);
    tes_bytes span = tes_cbor_span(&d, t);
    CHECK_EQ_INT(span.len, 4);
    uint32_t f = tes_cbor_child_at(&d, arr, 7);
    CHECK(tes_cbor_is(&d, f, TES_CBOR_FLOAT) && d.nodes[f].fval == 1.5);
    CHECK(tes_cbor_child_at(&d, arr, 8) == TES_CBOR_NONE);
    uint32_t m = tes_cbor_map_get_int(&d, 0, 3);
    CHECK(tes_cbor_is(&d, m, TES_CBOR_MAP) && tes_cbor_count(&d, m) == 0);
    CHECK(tes_cbor_map_get_text(&d, 0, "b") == TES_CBOR_NONE);
    CHECK_EQ_INT(tes_cbor_span(&d, 0).len, b.len);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}

TEST(non_canonical_but_valid_is_accepted)
{
    /* overlong integer heads, unsorted keys, indefinite-length containers */
    CHECK_ERR(parse_err("1b0000000000000001"), TES_OK);
    CHECK_ERR(parse_err("a2026161016162"), TES_OK);
    CHECK_ERR(parse_err("9f0102ff"), TES_OK);
    CHECK_ERR(parse_err("bf616101ff"), TES_OK);
    /* one-byte tags 6..20 (COSE uses 17 and 18), simple values, all float widths */
    CHECK_ERR(parse_err("d28440a0f640"), TES_OK);
    CHECK_ERR(parse_err("d18440a0f640"), TES_OK);
    CHECK_ERR(parse_err("c601"), TES_OK);
    CHECK_ERR(parse_err("d401"), TES_OK);
    CHECK_ERR(parse_err("83e0f3f820"), TES_OK);
    CHECK_ERR(parse_err("83f93c00fa3f800000fb3ff0000000000000"), TES_OK);
    /* float keys compare by bit pattern: NaN and 1.0, 0.0 and -0.0 are distinct keys */
    CHECK_ERR(parse_err("a2f97e0001f93c0002"), TES_OK);
    CHECK_ERR(parse_err("a2f9000001f9800002"), TES_OK);
    CHECK_ERR(parse_err("a2f93c0001f93c0002"), TES_ERR_CBOR_DUP_KEY);
    tes_buf b = {0};
    tes_cbor_doc d;
    REQUIRE(parse_hex("9f9f01ff02ff", &d, &b) == TES_OK);
    CHECK_EQ_INT(tes_cbor_count(&d, 0), 2);
    CHECK_EQ_INT(tes_cbor_count(&d, 1), 1);
    CHECK_EQ_INT(d.nodes[1].span, 3);
    CHECK_EQ_INT(d.nodes[0].span, 6);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}

struct bad {
    const char *name, *hex;
    tes_err want;
};

static const struct bad bad_inputs[] = {
    {"empty", "", TES_ERR_CBOR_TRUNCATED},
    {"truncated uint16", "1901", TES_ERR_CBOR_TRUNCATED},
    {"truncated bstr", "44010203", TES_ERR_CBOR_TRUNCATED},
    {"truncated array", "830102", TES_ERR_CBOR_TRUNCATED},
    {"truncated map value", "a101", TES_ERR_CBOR_TRUNCATED},
    {"huge array head", "9bffffffffffffffff", TES_ERR_CBOR_TRUNCATED},
    {"huge map head", "bbffffffffffffffff00", TES_ERR_CBOR_TRUNCATED},
    {"huge array 5-byte head", "9affffffff00", TES_ERR_CBOR_TRUNCATED},
    {"huge bstr head", "5bffffffffffffffff00", TES_ERR_CBOR_TRUNCATED},
    {"huge text head", "7a7fffffff41", TES_ERR_CBOR_TRUNCATED},
    {"trailing byte", "0000", TES_ERR_CBOR_TRAILING},
    {"trailing after map", "a0ff", TES_ERR_CBOR_TRAILING},
    {"duplicate int key", "a201020103", TES_ERR_CBOR_DUP_KEY},
    {"duplicate text key", "a2616101616102", TES_ERR_CBOR_DUP_KEY},
    {"duplicate key overlong", "a20102180103", TES_ERR_CBOR_DUP_KEY},
    {"indefinite bstr", "5f4101ff", TES_ERR_CBOR_INDEFINITE},
    {"indefinite text", "7f6161ff", TES_ERR_CBOR_INDEFINITE},
    {"stray break", "ff", TES_ERR_CBOR_INVALID},
    {"break in definite array", "8201ff", TES_ERR_CBOR_INVALID},
    {"odd indefinite map", "bf01ff", TES_ERR_CBOR_INVALID},
    {"reserved additional info", "1c", TES_ERR_CBOR_INVALID},
    {"unterminated indefinite", "9f0102", TES_ERR_CBOR_TRUNCATED},
    {"invalid utf8", "62c328", TES_ERR_CBOR_UTF8},
    {"utf8 surrogate", "63eda080", TES_ERR_CBOR_UTF8},
    {"utf8 overlong", "62c0af", TES_ERR_CBOR_UTF8},
    {"tag 24 over non-bstr", "d81801", TES_ERR_CBOR_TYPE},
    {"two-byte simple below 32", "f810", TES_ERR_CBOR_INVALID},
    {"truncated two-byte simple", "f8", TES_ERR_CBOR_TRUNCATED},
    {"reserved float-type info 28", "fc", TES_ERR_CBOR_INVALID},
};

TEST(malformed_matrix)
{
    for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
        tes_err e = parse_err(bad_inputs[i].hex);
        if (e != bad_inputs[i].want)
            fprintf(stderr, "  case '%s': got %s (%s)\n", bad_inputs[i].name, tes_err_name(e),
                    tes_err_message());
        CHECK_EQ_INT(e, bad_inputs[i].want);
    }
}

TEST(depth_limit)
{
    size_t n = 100;
    uint8_t *deep = malloc(n + 1);
    REQUIRE(deep != NULL);
    memset(deep, 0x81, n);
    deep[n] = 0x00;
    tes_cbor_doc d;
    CHECK_ERR(tes_cbor_parse(TES_BYTES(deep, n + 1), NULL, &d), TES_ERR_CBOR_TOO_DEEP);
    tes_cbor_limits lim = {.max_depth = 200};
    /* the hard limit still applies */
    CHECK_ERR(tes_cbor_parse(TES_BYTES(deep, n + 1), &lim, &d), TES_ERR_CBOR_TOO_DEEP);
    tes_cbor_limits lim2 = {.max_depth = 10};
    CHECK_ERR(tes_cbor_parse(TES_BYTES(deep + n - 10, 11), &lim2, &d), TES_OK);
    tes_cbor_doc_free(&d);
    free(deep);
}

TEST(size_and_count_limits)
{
    uint8_t arr[] = {0x85, 1, 2, 3, 4, 5};
    tes_cbor_doc d;
    tes_cbor_limits small = {.max_input = 5};
    CHECK_ERR(tes_cbor_parse(TES_BYTES(arr, sizeof(arr)), &small, &d), TES_ERR_CBOR_TOO_LARGE);
    tes_cbor_limits few = {.max_items = 4};
    CHECK_ERR(tes_cbor_parse(TES_BYTES(arr, sizeof(arr)), &few, &d), TES_ERR_CBOR_TOO_LARGE);
    CHECK_ERR(tes_cbor_parse(TES_BYTES(arr, sizeof(arr)), NULL, &d), TES_OK);
    CHECK_EQ_INT(d.count, 6);
    tes_cbor_doc_free(&d);
}

TEST(every_truncation_of_a_valid_item_fails_cleanly)
{
    tes_buf b = {0};
    const char *hex = "a3616183010203626262a2010243aabbcc636363636163d818450102030405";
    REQUIRE(tes_hex_decode(&b, hex, strlen(hex)) == TES_OK);
    tes_cbor_doc d;
    REQUIRE(tes_cbor_parse(tes_buf_bytes(&b), NULL, &d) == TES_OK);
    tes_cbor_doc_free(&d);
    for (size_t n = 0; n < b.len; n++) {
        tes_err e = tes_cbor_parse(TES_BYTES(b.ptr, n), NULL, &d);
        CHECK(e == TES_ERR_CBOR_TRUNCATED);
    }
    tes_buf_free(&b);
}

TEST(encoder_shortest_form_and_sorting)
{
    tes_buf out = {0};
    tes_cbor_enc e = {.out = &out};
    size_t m = tes_cbor_enc_pos(&e);
    tes_cbor_enc_map(&e, 4);
    tes_cbor_enc_cstr(&e, "bb");
    tes_cbor_enc_uint(&e, 24);
    tes_cbor_enc_int(&e, -1);
    tes_cbor_enc_int(&e, -25);
    tes_cbor_enc_cstr(&e, "a");
    tes_cbor_enc_bytes(&e, "\x01\x02", 2);
    tes_cbor_enc_uint(&e, 10);
    tes_cbor_enc_bool(&e, false);
    tes_cbor_enc_sort_map(&e, m);
    REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
    tes_buf hex = {0};
    tes_hex_encode(&hex, tes_buf_bytes(&out));
    tes_buf_append(&hex, "", 1);
    /* keys in bytewise order of their encodings: 0x0a, 0x20, 0x61 'a', 0x62 'bb' */
    CHECK_EQ_STR((char *)hex.ptr, "a40af420381861614201026262621818");
    tes_buf_free(&hex);

    tes_buf_reset(&out);
    tes_cbor_enc_map(&e, 2);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_uint(&e, 2);
    tes_cbor_enc_sort_map(&e, 0);
    CHECK_ERR(tes_cbor_enc_finish(&e), TES_ERR_CBOR_DUP_KEY);
    tes_buf_free(&out);
}

TEST(uint_heads)
{
    uint64_t vals[] = {0, 23, 24, 255, 256, 65535, 65536, 4294967295ull, 4294967296ull};
    size_t lens[] = {1, 1, 2, 2, 3, 3, 5, 5, 9};
    for (size_t i = 0; i < 9; i++) {
        tes_buf out = {0};
        tes_cbor_enc e = {.out = &out};
        tes_cbor_enc_uint(&e, vals[i]);
        CHECK(tes_cbor_enc_finish(&e) == TES_OK && out.len == lens[i]);
        tes_cbor_doc d;
        CHECK(tes_cbor_parse(tes_buf_bytes(&out), NULL, &d) == TES_OK && d.nodes[0].val == vals[i]);
        tes_cbor_doc_free(&d);
        tes_buf_free(&out);
    }
}

TEST(diagnostic_notation)
{
    tes_buf in = {0}, out = {0};
    const char *hex = "a26161d8184382010261628120";
    REQUIRE(tes_hex_decode(&in, hex, strlen(hex)) == TES_OK);
    REQUIRE(tes_cbor_diag(tes_buf_bytes(&in), true, &out) == TES_OK);
    tes_buf_append(&out, "", 1);
    CHECK(strstr((char *)out.ptr, "24(<<") != NULL);
    CHECK(strstr((char *)out.ptr, "\"b\": [\n    -1\n  ]") != NULL);
    tes_buf_free(&in);
    tes_buf_free(&out);
}

TEST(parse_into_caller_storage_and_spill_to_heap)
{
    uint8_t arr[] = {0x85, 1, 2, 3, 4, 5};
    tes_cbor_node small[3], big[8];
    tes_cbor_doc d;
    /* fits: no heap, nodes are the caller's */
    REQUIRE(tes_cbor_parse_with(TES_BYTES(arr, sizeof(arr)), NULL, big, 8, &d) == TES_OK);
    CHECK(d.nodes == big && !d.heap && d.count == 6);
    tes_cbor_doc_free(&d);
    /* does not fit: the same result from the heap, the storage's contents carried over */
    REQUIRE(tes_cbor_parse_with(TES_BYTES(arr, sizeof(arr)), NULL, small, 3, &d) == TES_OK);
    CHECK(d.nodes != small && d.heap && d.count == 6);
    int64_t v;
    CHECK(tes_cbor_get_int(&d, tes_cbor_child_at(&d, 0, 4), &v) && v == 5);
    CHECK(tes_cbor_get_int(&d, tes_cbor_child_at(&d, 0, 0), &v) && v == 1);
    tes_cbor_doc_free(&d);
    /* failures leave nothing to free and say the same as the heap decoder */
    CHECK_ERR(tes_cbor_parse_with(TES_BYTES(arr, 4), NULL, big, 8, &d), TES_ERR_CBOR_TRUNCATED);
    CHECK(d.nodes == NULL && d.count == 0);
}

/* ---------------------------------------------------------------- the cursor */

/* {"version": "1.0", "n": 5, "neg": -3, "b": h'0102', "ok": true, "e": 24(<<{}>>),
 *  "arr": [1, "x"], "m": {"k": 1}, 1: h'02', -2: 7} */
static void sample(tes_buf *b, tes_cbor_doc *d)
{
    tes_cbor_enc e = {.out = b};
    tes_cbor_enc_map(&e, 10);
    tes_cbor_enc_cstr(&e, "version");
    tes_cbor_enc_cstr(&e, "1.0");
    tes_cbor_enc_cstr(&e, "n");
    tes_cbor_enc_uint(&e, 5);
    tes_cbor_enc_cstr(&e, "neg");
    tes_cbor_enc_int(&e, -3);
    tes_cbor_enc_cstr(&e, "b");
    tes_cbor_enc_bytes(&e, "\x01\x02", 2);
    tes_cbor_enc_cstr(&e, "ok");
    tes_cbor_enc_bool(&e, true);
    tes_cbor_enc_cstr(&e, "e");
    tes_cbor_enc_tag(&e, 24);
    tes_cbor_enc_bytes(&e, "\xa0", 1);
    tes_cbor_enc_cstr(&e, "arr");
    tes_cbor_enc_array(&e, 2);
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_cstr(&e, "x");
    tes_cbor_enc_cstr(&e, "m");
    tes_cbor_enc_map(&e, 1);
    tes_cbor_enc_cstr(&e, "k");
    tes_cbor_enc_uint(&e, 1);
    tes_cbor_enc_int(&e, 1);
    tes_cbor_enc_bytes(&e, "\x02", 1);
    tes_cbor_enc_int(&e, -2);
    tes_cbor_enc_uint(&e, 7);
    REQUIRE(tes_cbor_enc_finish(&e) == TES_OK);
    REQUIRE(tes_cbor_parse(tes_buf_bytes(b), NULL, d) == TES_OK);
}

/* A cursor inside the sample's top-level map. */
static void in_sample(tes_cbor_cur *c, const tes_cbor_doc *d)
{
    tes_cbor_cur_init(c, d, 0);
    tes_cbor_enter_map(c);
    REQUIRE(tes_cbor_cur_error(c) == TES_OK);
}

TEST(cursor_reads_every_type_by_key_and_in_order)
{
    tes_buf b = {0};
    tes_cbor_doc d;
    sample(&b, &d);
    tes_cbor_cur c;
    in_sample(&c, &d);
    CHECK_EQ_INT(tes_cbor_items(&c), 10);
    tes_bytes ver, bs, emb, x, b1;
    uint64_t n, one;
    int64_t neg, k, seven;
    bool ok;
    uint32_t m7;
    tes_cbor_text_in(&c, "version", &ver);
    tes_cbor_uint_in(&c, "n", &n);
    tes_cbor_int_in(&c, "neg", &neg);
    tes_cbor_bytes_in(&c, "b", &bs);
    tes_cbor_bool_in(&c, "ok", &ok);
    tes_cbor_embedded_in(&c, "e", &emb);
    tes_cbor_bytes_in_int(&c, 1, &b1);
    tes_cbor_item_in_int(&c, -2, &m7);
    CHECK(tes_cbor_has(&c, "arr") && !tes_cbor_has(&c, "absent"));
    uint32_t mnode, anode, vnode;
    tes_cbor_map_in(&c, "m", &mnode);
    tes_cbor_array_in(&c, "arr", &anode);
    tes_cbor_item_in_text(&c, TES_BYTES_STR("version"), &vnode);
    CHECK(tes_cbor_is(&d, mnode, TES_CBOR_MAP) && tes_cbor_is(&d, anode, TES_CBOR_ARRAY));
    CHECK(tes_cbor_text_eq(&d, vnode, "1.0"));
    tes_cbor_enter_array_in(&c, "arr");
    CHECK_EQ_INT(tes_cbor_items(&c), 2);
    tes_cbor_next_uint(&c, &one);
    CHECK(tes_cbor_more(&c));
    tes_cbor_next_text(&c, &x);
    CHECK(!tes_cbor_more(&c));
    tes_cbor_exit_array(&c);
    tes_cbor_enter_map_in(&c, "m");
    tes_cbor_int_in(&c, "k", &k);
    tes_cbor_exit_map(&c);
    tes_cbor_exit_map(&c);
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_OK);
    CHECK(tes_bytes_eq(ver, TES_BYTES_STR("1.0")) && n == 5 && neg == -3 && ok && k == 1);
    CHECK(bs.len == 2 && bs.ptr[1] == 2 && emb.len == 1 && emb.ptr[0] == 0xa0);
    CHECK(b1.len == 1 && b1.ptr[0] == 2 && one == 1 && x.len == 1 && x.ptr[0] == 'x');
    CHECK(tes_cbor_get_int(&d, m7, &seven) && seven == 7);

    /* a map in order: key, value, key, value ... */
    in_sample(&c, &d);
    size_t pairs = 0;
    while (tes_cbor_more(&c)) {
        uint32_t key, val;
        tes_cbor_next_item(&c, &key);
        tes_cbor_next_item(&c, &val);
        pairs++;
    }
    tes_cbor_exit_map(&c);
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_OK);
    CHECK_EQ_INT(pairs, 10);
    /* every in-order reader, on [1, -1, h'', "", false, 24(<<1>>), {}] */
    tes_cbor_doc a;
    tes_buf ab = {0};
    REQUIRE(parse_hex("8701204060f4d8184101a0", &a, &ab) == TES_OK);
    tes_cbor_cur_init(&c, &a, 0);
    tes_cbor_enter_array(&c);
    int64_t minus;
    tes_bytes s1, s2, s3;
    bool f = true;
    tes_cbor_next_uint(&c, &one);
    tes_cbor_next_int(&c, &minus);
    tes_cbor_next_bytes(&c, &s1);
    tes_cbor_next_text(&c, &s2);
    tes_cbor_next_bool(&c, &f);
    tes_cbor_next_embedded(&c, &s3);
    tes_cbor_enter_map(&c);
    CHECK_EQ_INT(tes_cbor_items(&c), 0);
    CHECK(!tes_cbor_more(&c));
    tes_cbor_exit_map(&c);
    tes_cbor_exit_array(&c);
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_OK);
    CHECK(one == 1 && minus == -1 && s1.len == 0 && s2.len == 0 && !f && s3.len == 1);
    tes_cbor_doc_free(&a);
    tes_buf_free(&ab);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}

TEST(cursor_every_getter_on_a_missing_key)
{
    tes_buf b = {0};
    tes_cbor_doc d;
    sample(&b, &d);
    tes_cbor_cur c;
    tes_bytes s = TES_BYTES_STR("junk");
    uint64_t u = 9;
    int64_t i = 9;
    bool f = true;
    uint32_t node = 0;
#define MISSING(call)                                                                              \
    do {                                                                                           \
        in_sample(&c, &d);                                                                         \
        call;                                                                                      \
        CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_MISSING);                                   \
        CHECK(strstr(tes_err_message(), "no member") != NULL);                                     \
    } while (0)
    MISSING(tes_cbor_text_in(&c, "nope", &s));
    CHECK(s.ptr == NULL && s.len == 0);
    MISSING(tes_cbor_bytes_in(&c, "nope", &s));
    MISSING(tes_cbor_uint_in(&c, "nope", &u));
    CHECK(u == 0);
    MISSING(tes_cbor_int_in(&c, "nope", &i));
    CHECK(i == 0);
    MISSING(tes_cbor_bool_in(&c, "nope", &f));
    CHECK(!f);
    MISSING(tes_cbor_embedded_in(&c, "nope", &s));
    MISSING(tes_cbor_item_in(&c, "nope", &node));
    CHECK(node == TES_CBOR_NONE);
    MISSING(tes_cbor_enter_map_in(&c, "nope"));
    CHECK_EQ_INT(c.depth, 1);
    MISSING(tes_cbor_enter_array_in(&c, "nope"));
    MISSING(tes_cbor_bytes_in_int(&c, 2, &s));
    MISSING(tes_cbor_item_in_int(&c, -1, &node));
    MISSING(tes_cbor_item_in(&c, "Version", &node)); /* keys are case-sensitive */
    MISSING(tes_cbor_map_in(&c, "nope", &node));
    CHECK(node == TES_CBOR_NONE);
    MISSING(tes_cbor_array_in(&c, "nope", &node));
    MISSING(tes_cbor_item_in_text(&c, TES_BYTES("versio", 6), &node));
    CHECK(node == TES_CBOR_NONE);
#undef MISSING
    /* presence is asked without an error */
    in_sample(&c, &d);
    CHECK(!tes_cbor_has(&c, "nope"));
    CHECK_ERR(tes_cbor_cur_error(&c), TES_OK);
    /* no start node */
    tes_cbor_cur_init(&c, &d, TES_CBOR_NONE);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_MISSING);
    tes_cbor_cur_init(&c, &d, d.count);
    tes_cbor_enter_map(&c);
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_ERR_CBOR_MISSING);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}

TEST(cursor_every_getter_on_a_wrong_type)
{
    tes_buf b = {0};
    tes_cbor_doc d;
    sample(&b, &d);
    tes_cbor_cur c;
    tes_bytes s;
    uint64_t u;
    int64_t i;
    bool f;
#define WRONG(call)                                                                                \
    do {                                                                                           \
        in_sample(&c, &d);                                                                         \
        call;                                                                                      \
        CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_TYPE);                                      \
    } while (0)
    WRONG(tes_cbor_text_in(&c, "b", &s));
    CHECK(s.ptr == NULL);
    WRONG(tes_cbor_bytes_in(&c, "version", &s));
    WRONG(tes_cbor_uint_in(&c, "neg", &u));
    WRONG(tes_cbor_int_in(&c, "version", &i));
    WRONG(tes_cbor_bool_in(&c, "n", &f));
    WRONG(tes_cbor_embedded_in(&c, "b", &s));
    WRONG(tes_cbor_enter_map_in(&c, "arr"));
    CHECK_EQ_INT(c.depth, 1);
    WRONG(tes_cbor_enter_array_in(&c, "m"));
    WRONG(tes_cbor_bytes_in_int(&c, -2, &s));
    uint32_t node;
    WRONG(tes_cbor_map_in(&c, "arr", &node));
    CHECK(node == TES_CBOR_NONE);
    WRONG(tes_cbor_array_in(&c, "m", &node));
    /* in order */
    WRONG(tes_cbor_next_bytes(&c, &s)); /* the first key is text */
    WRONG(tes_cbor_next_uint(&c, &u));
    WRONG(tes_cbor_next_int(&c, &i));
    WRONG(tes_cbor_next_bool(&c, &f));
    WRONG(tes_cbor_next_embedded(&c, &s));
    WRONG(tes_cbor_enter_map(&c));
    WRONG(tes_cbor_enter_array(&c));
    uint32_t key;
    in_sample(&c, &d);
    tes_cbor_next_item(&c, &key);
    tes_cbor_next_bytes(&c, &s); /* "1.0" is text */
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_TYPE);
#undef WRONG
    /* an integer beyond int64 is not an int */
    tes_cbor_doc big;
    tes_buf bb = {0};
    REQUIRE(parse_hex("a161691bffffffffffffffff", &big, &bb) == TES_OK); /* {"i": 2^64-1} */
    tes_cbor_cur_init(&c, &big, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_int_in(&c, "i", &i);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_TYPE);
    tes_cbor_cur_init(&c, &big, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_uint_in(&c, "i", &u);
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_ERR_ARG); /* read fine, but the map is left entered */
    CHECK(u == UINT64_MAX);
    tes_cbor_doc_free(&big);
    tes_buf_free(&bb);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}

TEST(cursor_refuses_a_duplicate_key)
{
    /* the decoder refuses duplicate keys, also when one is not in shortest form */
    CHECK_ERR(parse_err("a2616b01616b02"), TES_ERR_CBOR_DUP_KEY); /* {"k": 1, "k": 2} */
    CHECK_ERR(parse_err("a20101180102"), TES_ERR_CBOR_DUP_KEY);   /* {1: 1, 1(as 0x1801): 2} */
    /* a document built otherwise: {"k": h'01', "j": h'02'} with "j" turned into "k",
     * and {1: h'01', 2: h'02'} with 2 turned into 1 */
    tes_buf b = {0};
    tes_cbor_doc d;
    REQUIRE(parse_hex("a2616b4101616a4102", &d, &b) == TES_OK);
    d.nodes[3].data = d.nodes[1].data;
    tes_cbor_cur c;
    tes_bytes s;
    uint32_t node;
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_bytes_in(&c, "k", &s);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_DUP_KEY);
    CHECK(s.ptr == NULL);
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    CHECK(!tes_cbor_has(&c, "k"));
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_DUP_KEY);
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_item_in(&c, "k", &node);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_DUP_KEY);
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_item_in_text(&c, TES_BYTES_STR("k"), &node);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_DUP_KEY);
    CHECK(node == TES_CBOR_NONE);
    tes_cbor_doc_free(&d);
    REQUIRE(parse_hex("a2014101024102", &d, &b) == TES_OK);
    d.nodes[3].val = 1;
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_bytes_in_int(&c, 1, &s);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_DUP_KEY);
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_map(&c);
    tes_cbor_item_in_int(&c, 1, &node);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_DUP_KEY);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}

TEST(cursor_enter_and_exit_must_match)
{
    tes_buf b = {0};
    tes_cbor_doc d;
    sample(&b, &d);
    tes_cbor_cur c;
    /* exit_array of a map */
    in_sample(&c, &d);
    tes_cbor_exit_array(&c);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_ARG);
    /* exit_map of an array */
    in_sample(&c, &d);
    tes_cbor_enter_array_in(&c, "arr");
    tes_cbor_exit_map(&c);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_ARG);
    /* exit with nothing entered */
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_exit_map(&c);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_ARG);
    /* a read by key needs an entered map: not at the start, not in an array */
    tes_bytes s;
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_text_in(&c, "version", &s);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_ARG);
    in_sample(&c, &d);
    tes_cbor_enter_array_in(&c, "arr");
    tes_cbor_text_in(&c, "version", &s);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_ARG);
    /* finishing with a container entered */
    in_sample(&c, &d);
    tes_cbor_enter_map_in(&c, "m");
    tes_cbor_exit_map(&c);
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_ERR_ARG);
    /* entering by key leaves the in-order position where it was */
    in_sample(&c, &d);
    tes_cbor_enter_map_in(&c, "m");
    tes_cbor_exit_map(&c);
    tes_cbor_next_text(&c, &s);
    CHECK(tes_bytes_eq(s, TES_BYTES_STR("version")));
    tes_cbor_exit_map(&c);
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_OK);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}

TEST(cursor_keeps_the_first_error)
{
    tes_buf b = {0};
    tes_cbor_doc d;
    sample(&b, &d);
    tes_cbor_cur c;
    in_sample(&c, &d);
    tes_bytes s;
    uint64_t u = 9;
    tes_cbor_text_in(&c, "missing_one", &s); /* the first error */
    tes_cbor_uint_in(&c, "n", &u);           /* would succeed: does nothing */
    tes_cbor_text_in(&c, "b", &s);           /* would be a type error: does nothing */
    tes_cbor_exit_array(&c);                 /* would be a mismatch: does nothing */
    tes_cbor_enter_map_in(&c, "m");
    CHECK(u == 0 && c.depth == 1);
    CHECK(!tes_cbor_more(&c) && tes_cbor_items(&c) == 0);
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_ERR_CBOR_MISSING);
    CHECK(strstr(tes_err_message(), "missing_one") != NULL);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}

TEST(cursor_bounds_of_depth_and_size)
{
    /* 13 nested arrays: 12 can be entered, the 13th is refused */
    tes_buf b = {0};
    tes_cbor_doc d;
    REQUIRE(parse_hex("81818181818181818181818180", &d, &b) == TES_OK);
    tes_cbor_cur c;
    tes_cbor_cur_init(&c, &d, 0);
    for (int i = 0; i < TES_CBOR_CUR_DEPTH; i++)
        tes_cbor_enter_array(&c);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_OK);
    tes_cbor_enter_array(&c);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_TOO_DEEP);
    tes_cbor_doc_free(&d);
    /* reading past the end of an array, of a map, of the document */
    REQUIRE(parse_hex("8201a1616101", &d, &b) == TES_OK); /* [1, {"a": 1}] */
    uint64_t u;
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_array(&c);
    CHECK_EQ_INT(tes_cbor_items(&c), 2);
    tes_cbor_next_uint(&c, &u);
    tes_cbor_enter_map(&c);
    CHECK_EQ_INT(tes_cbor_items(&c), 1);
    tes_bytes k;
    tes_cbor_next_text(&c, &k);
    tes_cbor_next_uint(&c, &u);
    CHECK(!tes_cbor_more(&c));
    tes_cbor_next_uint(&c, &u);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_END);
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_array(&c);
    uint32_t map;
    tes_cbor_next_uint(&c, &u);
    tes_cbor_next_item(&c, &map);
    CHECK(!tes_cbor_more(&c));
    tes_cbor_next_uint(&c, &u);
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_END);
    tes_cbor_cur_init(&c, &d, 0);
    tes_cbor_enter_array(&c);
    tes_cbor_exit_array(&c);
    tes_cbor_enter_array(&c); /* the document holds one item only */
    CHECK_ERR(tes_cbor_cur_error(&c), TES_ERR_CBOR_END);
    /* starting inside: the map alone, its parent's items out of reach */
    tes_cbor_cur_init(&c, &d, 2);
    tes_cbor_enter_map(&c);
    tes_cbor_next_text(&c, &k);
    tes_cbor_next_uint(&c, &u);
    tes_cbor_exit_map(&c);
    CHECK(!tes_cbor_more(&c));
    CHECK_ERR(tes_cbor_cur_finish(&c), TES_OK);
    tes_cbor_doc_free(&d);
    tes_buf_free(&b);
}
