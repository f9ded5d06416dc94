/*
 * libFuzzer target: tes_mdoc_transcript_load (plain and tagged outputs, and each alone) and
 * tes_mdoc_status_ref on the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/mdoc.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tes_bytes in = TES_BYTES(data, size);

    tes_buf plain = {0}, tagged = {0};
    tes_err e = tes_mdoc_transcript_load(in, &plain, &tagged);
    if (e == TES_OK) {
        /* plain is one CBOR item; tagged is 24(bstr(plain)); loading either gives the same */
        tes_cbor_doc d;
        CHECK(tes_cbor_parse(tes_buf_bytes(&plain), NULL, &d) == TES_OK);
        tes_cbor_doc_free(&d);
        CHECK(tes_cbor_parse(tes_buf_bytes(&tagged), NULL, &d) == TES_OK);
        tes_bytes inner;
        CHECK(tes_cbor_tag24_content(&d, 0, &inner));
        CHECK(tes_bytes_eq(inner, tes_buf_bytes(&plain)));
        tes_cbor_doc_free(&d);

        tes_buf p2 = {0}, t2 = {0};
        CHECK(tes_mdoc_transcript_load(tes_buf_bytes(&tagged), &p2, &t2) == TES_OK);
        CHECK(tes_bytes_eq(tes_buf_bytes(&p2), tes_buf_bytes(&plain)));
        CHECK(tes_bytes_eq(tes_buf_bytes(&t2), tes_buf_bytes(&tagged)));
        tes_buf_free(&p2);
        tes_buf_free(&t2);
        CHECK(tes_mdoc_transcript_load(tes_buf_bytes(&plain), &p2, NULL) == TES_OK);
        CHECK(tes_bytes_eq(tes_buf_bytes(&p2), tes_buf_bytes(&plain)));
        tes_buf_free(&p2);
    } else {
        CHECK(tes_err_is_malformed(e) || tes_err_is_env(e));
    }
    tes_buf_free(&plain);
    tes_buf_free(&tagged);

    /* one output only: same verdict */
    tes_buf only = {0};
    tes_err e1 = tes_mdoc_transcript_load(in, &only, NULL);
    CHECK((e1 == TES_OK) == (e == TES_OK));
    tes_buf_free(&only);
    tes_err e2 = tes_mdoc_transcript_load(in, NULL, &only);
    CHECK((e2 == TES_OK) == (e == TES_OK));
    tes_buf_free(&only);

    uint64_t idx = 0;
    tes_buf uri = {0};
    tes_err se = tes_mdoc_status_ref(in, &idx, &uri);
    CHECK(se == TES_OK || tes_err_is_caller(se) || tes_err_is_malformed(se) || tes_err_is_check(se) ||
          tes_err_is_env(se));
    tes_buf_free(&uri);
    return 0;
}
