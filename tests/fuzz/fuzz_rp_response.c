/*
 * libFuzzer target: the verifier's response endpoint parsing (rp.h) as pure
 * functions: tes_rp_form_parse on the input as a form body; when it holds a
 * "response", tes_jwe_decrypt of it with a fixed P-256 key (the seeds are
 * encrypted to it) and tes_rp_payload_parse of the plaintext; and
 * tes_rp_payload_parse on the raw input as a decrypted payload. On success
 * the results must be set and bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/jose.h"
#include "tessera/oid4vp.h"
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

static void payload(const char *text, size_t len)
{
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
