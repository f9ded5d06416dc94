/*
 * libFuzzer target: the request parsers of the OpenID4VCI issuer service
 * (src/issuer/issuer_internal.h), called directly with a fixed issuer context
 * (credential_issuer "http://127.0.0.1:8080", batch_max 5, no vendor roots so
 * an x5c is parsed into its CBOR chain but not verified) and a fixed clock
 * (now = 1800000000, so seed proofs with iat near it pass their claims).
 *
 * Byte 0 mod 4 selects:
 *   0  iss_form_parse (token request body)
 *   1  iss_cred_req_parse, then iss_proof_parse on every proof it returns
 *   2  iss_proof_parse on the rest as one JWT, then iss_proof_attestation
 *   3  tes_url_decode with and without '+' as space
 * Checked: only the documented codes come back; accepted output is
 * consistent (NUL-terminated fields within their bounds, 1..batch_max
 * proofs of a known configuration, a P-256 key, a nonce, iat within the
 * allowed skew, a chain that is one CBOR array); nothing leaks on failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/cbor.h"

#include "issuer/issuer_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define FUZZ_NOW 1800000000LL

static const iss_policy POLICY = {
    .credential_issuer = "http://127.0.0.1:8080",
    .batch_max = 5,
};

static bool allowed(tes_err e)
{
    return e == TES_OK || e == TES_ERR_HTTP_REQUEST || e == TES_ERR_JSON || e == TES_ERR_PROOF ||
           e == TES_ERR_NOT_FOUND || e == TES_ERR_NOMEM;
}

static void check_proof(const char *jwt, size_t len)
{
    iss_proof p;
    tes_err e = iss_proof_parse(&POLICY, jwt, len, FUZZ_NOW, &p);
    CHECK(allowed(e) && e != TES_ERR_JSON && e != TES_ERR_NOT_FOUND);
    if (e != TES_OK) {
        CHECK(p.key == NULL && p.attestation.ptr == NULL);
        return;
    }
    CHECK(p.key != NULL && tes_key_curve(p.key) == TES_CURVE_P256);
    CHECK(p.nonce[0] != '\0' && strlen(p.nonce) <= ISS_NONCE_MAX);
    CHECK(p.iat >= FUZZ_NOW - ISS_IAT_SKEW && p.iat <= FUZZ_NOW + ISS_IAT_SKEW);
    if (p.attestation.len > 0) {
        tes_cbor_doc d;
        CHECK(tes_cbor_parse(tes_buf_bytes(&p.attestation), NULL, &d) == TES_OK);
        CHECK(tes_cbor_is(&d, 0, TES_CBOR_ARRAY));
        CHECK(tes_cbor_count(&d, 0) >= 1 && tes_cbor_count(&d, 0) <= ISS_X5C_MAX);
        tes_cbor_doc_free(&d);
    }
    char th[65];
    CHECK(iss_key_thumbprint(p.key, th) == TES_OK && strlen(th) == 64);
    CHECK(iss_proof_attestation(&POLICY, &p, FUZZ_NOW) == TES_OK); /* no vendor roots */
    iss_proof_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        iss_token_req t;
        tes_err e = iss_form_parse(in, n, &t);
        CHECK(e == TES_OK || e == TES_ERR_HTTP_REQUEST);
        if (e == TES_OK) {
            CHECK(strlen(t.grant_type) <= ISS_FORM_MAX_VALUE);
            CHECK(strlen(t.code) <= ISS_FORM_MAX_VALUE);
            CHECK(strlen(t.tx_code) <= ISS_FORM_MAX_VALUE);
            CHECK(t.has_grant_type || t.grant_type[0] == '\0');
        }
        break;
    }
    case 1: {
        iss_cred_req r;
        tes_err e = iss_cred_req_parse(in, n, POLICY.batch_max, &r);
        CHECK(allowed(e));
        if (e != TES_OK) {
            CHECK(r.proofs == NULL && r.n == 0);
            break;
        }
        CHECK(iss_config_known(r.config_id));
        CHECK(r.n >= 1 && r.n <= POLICY.batch_max && r.proofs != NULL);
        for (size_t i = 0; i < r.n; i++) {
            CHECK(r.proofs[i] != NULL);
            check_proof(r.proofs[i], strlen(r.proofs[i]));
        }
        iss_cred_req_free(&r);
        break;
    }
    case 2:
        check_proof(in, n);
        break;
    default: {
        char out[256];
        size_t len = 0;
        tes_err e = tes_url_decode(in, n, true, out, sizeof out, &len);
        CHECK(e == TES_OK || e == TES_ERR_HTTP_REQUEST);
        if (e == TES_OK) {
            CHECK(len < sizeof out && out[len] == '\0' && len <= n);
            char again[256];
            size_t len2 = 0;
            tes_err e2 = tes_url_decode(in, n, false, again, sizeof again, &len2);
            CHECK(e2 == TES_OK && len2 == len); /* '+' only changes what it decodes to */
            /* encoding what was decoded decodes back to it */
            tes_buf enc = {0};
            tes_url_encode(&enc, out, len);
            if (!enc.failed && enc.len < 4096) {
                char *back = malloc(len + 1);
                size_t len3 = 0;
                CHECK(back != NULL);
                CHECK(tes_url_decode((const char *)enc.ptr, enc.len, false, back, len + 1, &len3) ==
                      TES_OK);
                CHECK(len3 == len && memcmp(back, out, len) == 0);
                free(back);
            }
            tes_buf_free(&enc);
        }
        break;
    }
    }
    return 0;
}
