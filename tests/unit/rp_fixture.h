/*
 * rp_fixture.h — what the relying-party tests share (test_oid4vp_jar.c,
 * test_wallet_authz.c): the private key of a certificate that
 * tes_reader_cert_issue wrote into a directory, and the JWS "x5c" of a
 * certificate.
 */
#ifndef TES_TESTS_RP_FIXTURE_H
#define TES_TESTS_RP_FIXTURE_H

#include <stdio.h>

#include <jansson.h>

#include "tessera/core.h"
#include "tessera/crypto.h"
#include "tessera/trust.h"

/* The reader (or site) key tes_reader_cert_issue wrote into dir; NULL on failure. */
static tes_key *load_key(const char *dir)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, TES_READER_KEY);
    tes_buf raw = {.secret = true};
    tes_key *k = NULL;
    if (tes_file_read(p, 1u << 20, &raw) != TES_OK || tes_key_parse(tes_buf_bytes(&raw), &k))
        k = NULL;
    tes_buf_free(&raw);
    return k;
}

/* ["<standard base64 DER>"]: c as a one-certificate "x5c" (new reference). */
static json_t *x5c_of(const tes_cert *c)
{
    tes_buf b = {0};
    tes_b64_encode(&b, tes_cert_der(c));
    json_t *a = json_pack("[s#]", (const char *)b.ptr, b.len);
    tes_buf_free(&b);
    return a;
}

#endif
