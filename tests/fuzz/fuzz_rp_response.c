/*
 * libFuzzer target: the verifier's response endpoint parsing (rp.h) as pure
 * functions: tes_rp_form_parse on the input as a form body; when it holds a
 * "response", tes_jwe_decrypt of it with a fixed P-256 key (the seeds are
 * encrypted to it) and tes_rp_payload_parse of the plaintext; and
 * tes_rp_payload_parse on the raw input as a decrypted payload. On success
 * the results must be set and bounded. Differential: each payload also goes
 * through the fast path (rp_payload_fast) and the jansson path
 * (rp_payload_parse_jansson) alone; when the fast path handles it, jansson
 * must accept it too, with the same state and the same DeviceResponse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/jose.h"
#include "tessera/oid4vp.h"
#include "rp/rp_internal.h"
#include "tessera/rp.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* The fixed recipient key: d = 1, 2, ..., 32. */
static const tes_key *key(void)
{
    static tes_key *k;
    if (k == NULL) {
        uint8_t d[32];
        for (int i = 0; i < 32; i++)
            d[i] = (uint8_t)(i + 1);
        CHECK(tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(d, 32), &k) == TES_OK);
    }
    return k;
}

/* The fast path against jansson's on text[0..len). */
static void differential(const char *text, size_t len)
{
    char *fs = NULL, *js = NULL;
    tes_buf fd = {0}, jd = {0};
    tes_err fe = TES_ERR_ARG;
    bool handled = len <= TES_RP_RESPONSE_MAX && rp_payload_fast(text, len, "pid", &fs, &fd, &fe);
    tes_err je = rp_payload_parse_jansson(text, len, "pid", &js, &jd);
    if (handled) {
        CHECK(fe == TES_OK && je == TES_OK);
        CHECK((fs == NULL) == (js == NULL) && (fs == NULL || strcmp(fs, js) == 0));
        CHECK(fd.len == jd.len && memcmp(fd.ptr, jd.ptr, fd.len) == 0);
    } else {
        CHECK(fs == NULL && fd.len == 0);
    }
    free(fs);
    free(js);
    tes_buf_free(&fd);
    tes_buf_free(&jd);
}

static void payload(const char *text, size_t len)
{
    differential(text, len);
    char *state = NULL;
    tes_buf dr = {0};
    tes_err e = tes_rp_payload_parse(text, len, "pid", &state, &dr);
    if (e == TES_OK) {
        CHECK(dr.len > 0 && dr.len <= TES_RP_RESPONSE_MAX);
        CHECK(state == NULL || (strlen(state) > 0 && strlen(state) <= TES_OID4VP_STATE_MAX));
    } else {
        CHECK(state == NULL);
    }
    free(state);
    tes_buf_free(&dr);
}

static void form(const char *body, size_t len)
{
    tes_rp_form f;
    tes_err e = tes_rp_form_parse(body, len, &f);
    if (e == TES_OK) {
        CHECK((f.response == NULL) != (f.error == NULL));
        CHECK(f.response == NULL || strlen(f.response) <= TES_RP_RESPONSE_MAX);
    }
    if (e == TES_OK && f.response) {
        tes_buf plain = {.secret = true};
        json_t *hdr = NULL;
        if (tes_jwe_decrypt(f.response, strlen(f.response), TES_RP_RESPONSE_MAX, tes_jwe_key_agree,
                            (void *)key(), &hdr, &plain) == TES_OK)
            payload((const char *)plain.ptr, plain.len);
        json_decref(hdr);
        tes_buf_free(&plain);
    }
    tes_rp_form_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * TES_RP_RESPONSE_MAX)
        return 0;
    char *copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    form(copy, size);
    payload(copy, size);
    free(copy);
    return 0;
}
