/*
 * libFuzzer target: the input as DeviceEngagement bytes (tes_engagement_parse) and as an
 * engagement URI (tes_engagement_from_uri on the input as is, and with "mdoc:" put in front
 * so the fuzzer starts past the scheme). An accepted engagement keeps the exact bytes, its
 * EDeviceKeyBytes lie inside them, and it survives the QR URI and the NFC Handover Select
 * round trips and a SessionTranscript unchanged.
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

/* A fixed EReaderKeyBytes (ISO/IEC 18013-5 Annex D) for the transcript. */
static const uint8_t EREADER_KEY_BYTES[79] = {
    0xd8, 0x18, 0x58, 0x4b, 0xa4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58, 0x20, 0x60, 0xe3, 0x39, 0x23,
    0x85, 0x04, 0x1f, 0x51, 0x40, 0x30, 0x51, 0xf2, 0x41, 0x55, 0x31, 0xcb, 0x56, 0xdd, 0x3f, 0x99,
    0x9c, 0x71, 0x68, 0x70, 0x13, 0xaa, 0xc6, 0x76, 0x8b, 0xc8, 0x18, 0x7e, 0x22, 0x58, 0x20, 0xe5,
    0x8d, 0xeb, 0x8f, 0xdb, 0xe9, 0x07, 0xf7, 0xdd, 0x53, 0x68, 0x24, 0x55, 0x51, 0xa3, 0x47, 0x96,
    0xf7, 0xd2, 0x21, 0x5c, 0x44, 0x0c, 0x33, 0x9b, 0xb0, 0xf7, 0xb6, 0x7b, 0xec, 0xcd, 0xfa,
};

static bool contains(tes_bytes hay, tes_bytes needle)
{
    return needle.len <= hay.len && memmem(hay.ptr, hay.len, needle.ptr, needle.len) != NULL;
}

/* Invariants of an accepted engagement whose exact bytes are `want`. */
static void check_engagement(const tes_engagement *e, tes_bytes want)
{
    CHECK(tes_bytes_eq(tes_buf_bytes(&e->bytes), want));
    CHECK(e->edevice_pub != NULL && tes_key_curve(e->edevice_pub) == TES_CURVE_P256);
    CHECK(e->edevice_key_bytes.len > 2 && e->edevice_key_bytes.ptr[0] == 0xd8 &&
          e->edevice_key_bytes.ptr[1] == 0x18);
    CHECK(contains(want, tes_buf_bytes(&e->edevice_key_bytes)));

    /* QR URI round trip */
    tes_buf uri = {0};
    CHECK(tes_engagement_to_uri(e, &uri) == TES_OK);
    tes_engagement back;
    CHECK(tes_engagement_from_uri((const char *)uri.ptr, uri.len, &back) == TES_OK);
    CHECK(tes_bytes_eq(tes_buf_bytes(&back.bytes), want));
    CHECK(tes_key_equal_public(back.edevice_pub, e->edevice_pub));
    tes_engagement_free(&back);
    tes_buf_free(&uri);

    /* NFC Handover Select round trip */
    tes_buf ndef = {0};
    CHECK(tes_handover_select_build(e, 0xff, 0x10000, &ndef) == TES_OK);
    uint32_t cmd = 0, rsp = 0;
    CHECK(tes_handover_select_parse(tes_buf_bytes(&ndef), &back, &cmd, &rsp) == TES_OK);
    CHECK(cmd == 0xff && rsp == 0x10000);
    CHECK(tes_bytes_eq(tes_buf_bytes(&back.bytes), want));
    tes_engagement_free(&back);

    /* the transcript embeds the exact bytes */
    tes_buf t = {0};
    CHECK(tes_session_transcript(e, TES_BYTES(EREADER_KEY_BYTES, sizeof EREADER_KEY_BYTES),
                                 tes_buf_bytes(&ndef), &t) == TES_OK);
    CHECK(contains(tes_buf_bytes(&t), want));
    tes_buf_free(&t);
    tes_buf_free(&ndef);
}

static void check_failed(const tes_engagement *e, tes_err err)
{
    CHECK(tes_err_is_malformed(err) || err == TES_ERR_NOMEM);
    CHECK(e->bytes.len == 0 && e->edevice_pub == NULL && e->edevice_key_bytes.len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tes_bytes in = TES_BYTES(data, size);
    tes_engagement e;

    tes_err err = tes_engagement_parse(in, &e);
    if (err == TES_OK)
        check_engagement(&e, in);
    else
        check_failed(&e, err);
    tes_engagement_free(&e);

    err = tes_engagement_from_uri((const char *)data, size, &e);
    if (err == TES_OK)
        CHECK(size > 5 && memcmp(data, "mdoc:", 5) == 0 && e.bytes.len > 0);
    else
        check_failed(&e, err);
    tes_engagement_free(&e);

    char *uri = malloc(size + 5);
    if (uri) {
        memcpy(uri, "mdoc:", 5);
        if (size)
            memcpy(uri + 5, data, size);
        err = tes_engagement_from_uri(uri, size + 5, &e);
        if (err == TES_OK) {
            /* what was decoded is an engagement of its own */
            tes_buf copy = {0};
            tes_buf_append(&copy, e.bytes.ptr, e.bytes.len);
            check_engagement(&e, tes_buf_bytes(&copy));
            tes_buf_free(&copy);
        } else {
            check_failed(&e, err);
        }
        tes_engagement_free(&e);
        free(uri);
    }
    return 0;
}
