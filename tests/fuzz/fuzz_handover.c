/*
 * libFuzzer target: tes_handover_select_parse on the input as an NDEF Handover Select
 * message. An accepted message yields an engagement whose exact bytes lie in the input;
 * rebuilding a Handover Select from it (with the NFC lengths found, or defaults) and parsing
 * that again gives the same engagement and lengths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/session.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tes_engagement e;
    uint32_t cmd = 1, rsp = 1;
    tes_err err = tes_handover_select_parse(TES_BYTES(data, size), &e, &cmd, &rsp);
    if (err != TES_OK) {
        CHECK(tes_err_is_malformed(err) || err == TES_ERR_NOMEM);
        CHECK(e.bytes.len == 0 && e.edevice_pub == NULL && cmd == 0 && rsp == 0);
        return 0;
    }
    CHECK(e.bytes.len > 0 && e.edevice_pub != NULL);
    CHECK(memmem(data, size, e.bytes.ptr, e.bytes.len) != NULL);
    CHECK((cmd == 0) == (rsp == 0));
    CHECK(cmd <= 0xffff && rsp <= 0xffffff);

    /* the NULL outputs give the same verdict */
    tes_engagement e2;
    CHECK(tes_handover_select_parse(TES_BYTES(data, size), &e2, NULL, NULL) == TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&e2.bytes), tes_buf_bytes(&e.bytes)));
    tes_engagement_free(&e2);

    uint32_t want_cmd = cmd ? cmd : 255, want_rsp = rsp ? rsp : 65536;
    tes_buf ndef = {0};
    CHECK(tes_handover_select_build(&e, want_cmd, want_rsp, &ndef) == TES_OK);
    CHECK(tes_handover_select_parse(tes_buf_bytes(&ndef), &e2, &cmd, &rsp) == TES_OK);
    CHECK(cmd == want_cmd && rsp == want_rsp);
    CHECK(tes_bytes_eq(tes_buf_bytes(&e2.bytes), tes_buf_bytes(&e.bytes)));
    CHECK(tes_bytes_eq(tes_buf_bytes(&e2.edevice_key_bytes), tes_buf_bytes(&e.edevice_key_bytes)));
    tes_engagement_free(&e2);
    tes_buf_free(&ndef);
    tes_engagement_free(&e);
    return 0;
}
