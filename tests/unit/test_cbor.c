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
