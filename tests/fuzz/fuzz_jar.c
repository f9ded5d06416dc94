/*
 * libFuzzer target: tes_oid4vp_request_verify on the input as a compact JWS
 * request object, against a fixed RP root (made by tes_reader_ca_create at
 * 2026-12-01T00:00:00Z; the seeds are request objects signed under it by a
 * relying party "rp.example.com" that verify at the time used here), once
 * without options and once with the outer client_id and loopback http
 * allowed. On success every field of the result must be set and bounded.
 * The trust store is made once and caches validated chains across inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/oid4vp.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define FUZZ_NOW (1796083200 + 60)

static const char RP_ROOT_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBtzCCAVygAwIBAgIQKUwmPb32sbfVSjkFfruI4jAKBggqhkjOPQQDAjApMQsw\n"
    "CQYDVQQGEwJVVDEaMBgGA1UEAwwRRnV6eiBSUCBBdXRob3JpdHkwHhcNMjYxMTMw\n"
    "MjMwMDAwWhcNMzYxMjAxMDAwMDAwWjApMQswCQYDVQQGEwJVVDEaMBgGA1UEAwwR\n"
    "RnV6eiBSUCBBdXRob3JpdHkwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATj8bOw\n"
    "aXOit7iojdBDYAAabqV/xm6L6FkJcTDy527vIkRmCCjuYkVTIUMawwuqklpKD+mg\n"
    "TJGD6Ytlg3viRQHho2YwZDASBgNVHRMBAf8ECDAGAQH/AgEAMA4GA1UdDwEB/wQE\n"
    "AwIBBjAdBgNVHQ4EFgQUrKwztTKK1SAMZXBPiUBoDXdFQO0wHwYDVR0jBBgwFoAU\n"
    "rKwztTKK1SAMZXBPiUBoDXdFQO0wCgYIKoZIzj0EAwIDSQAwRgIhALRaR0z94ufX\n"
    "ogXtsAPF/g2sfSExmpLanIwTdKILaCphAiEAlM/He8A72KJB0on9Zd+yLLwxiJCJ\n"
    "qNa+4jgFRimJShY=\n"
    "-----END CERTIFICATE-----\n";

static tes_trust_store *roots(void)
{
    static tes_trust_store *s;
    if (s == NULL) {
        CHECK(tes_trust_store_new(&s) == TES_OK);
        CHECK(tes_trust_store_add_blob(s, TES_PROFILE_READER,
                                       TES_BYTES(RP_ROOT_PEM, sizeof RP_ROOT_PEM - 1)) == TES_OK);
    }
    return s;
}

static void check_result(const tes_oid4vp_request *r)
{
    CHECK(r != NULL && r->client_id && r->display_name && r->response_uri && r->nonce &&
          r->dcql_query && r->response_mode && r->leaf);
    CHECK(strlen(r->client_id) <= TES_OID4VP_CLIENT_ID_MAX);
    CHECK(strlen(r->nonce) >= 1 && strlen(r->nonce) <= TES_OID4VP_NONCE_MAX);
    CHECK(r->state == NULL || strlen(r->state) <= TES_OID4VP_STATE_MAX);
    CHECK(strlen(r->response_uri) <= TES_OID4VP_URI_MAX);
    CHECK(r->dcql_query[0] == '{');
    CHECK((r->enc_key == NULL) == (r->enc_thumbprint[0] == '\0'));
    CHECK(strcmp(r->response_mode, "direct_post") == 0 || r->enc_key != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    tes_oid4vp_request *r = NULL;
    tes_oid4vp_request_opts o = {.rp_roots = roots(), .now = FUZZ_NOW};
    tes_err e = tes_oid4vp_request_verify(text, size, &o, &r);
    CHECK((e == TES_OK) == (r != NULL));
    if (r)
        check_result(r);
    tes_oid4vp_request_free(r);
    r = NULL;
    o.client_id = "x509_san_dns:rp.example.com";
    o.allow_loopback_http = true;
    e = tes_oid4vp_request_verify(text, size, &o, &r);
    CHECK((e == TES_OK) == (r != NULL));
    if (r)
        check_result(r);
    tes_oid4vp_request_free(r);
    return 0;
}
