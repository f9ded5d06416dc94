/*
 * tests/interop/jar_check.c — the C side of tests/interop/jar.sh:
 *   jar_check issue DIR   an RP authority in DIR/ca and a relying party's
 *                         access certificate for rp.example.com in DIR/rp
 *   jar_check verify DIR FILE [CLIENT_ID NONCE]   FILE (a request object
 *                         made by another library) verifies against DIR/ca's
 *                         root for CLIENT_ID (default
 *                         x509_san_dns:rp.example.com) with NONCE (default
 *                         interop-nonce-1); prints what the wallet would show
 * Exit 0 on success, 1 with the error on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "tessera/oid4vp.h"

static int fail(const char *what)
{
    fprintf(stderr, "jar_check: %s: %s\n", what, tes_err_message());
    return 1;
}

int main(int argc, char **argv)
{
    char ca[512], rp[512], path[600];
    if (argc < 3)
        return 2;
    snprintf(ca, sizeof ca, "%s/ca", argv[2]);
    snprintf(rp, sizeof rp, "%s/rp", argv[2]);
    if (strcmp(argv[1], "issue") == 0) {
        static const char *const scope[] = {"eu.europa.ec.eudi.pid.1/age_over_18"};
        if (tes_reader_ca_create(&(tes_reader_ca_params){.dir = ca, .name = "Interop RP CA"},
                                 NULL) != TES_OK)
            return fail("reader ca");
        const tes_reader_cert_params p = {.ca_dir = ca,
                                          .out_dir = rp,
                                          .name = "Interop Shop",
                                          .purpose = "age check",
                                          .scope = scope,
                                          .n_scope = 1,
                                          .dns_name = "rp.example.com"};
        return tes_reader_cert_issue(&p, NULL) == TES_OK ? 0 : fail("rp certificate");
    }
    if (strcmp(argv[1], "verify") != 0 || argc < 4)
        return 2;
    tes_trust_store *s = NULL;
    tes_buf root = {0}, jws = {0};
    snprintf(path, sizeof path, "%s/%s", ca, TES_READER_CA_CERT);
    if (tes_trust_store_new(&s) != TES_OK || tes_file_read(path, 1u << 20, &root) != TES_OK ||
        tes_trust_store_add_blob(s, TES_PROFILE_READER, tes_buf_bytes(&root)) != TES_OK ||
        tes_file_read(argv[3], TES_OID4VP_REQUEST_MAX + 1, &jws) != TES_OK)
        return fail("inputs");
    tes_oid4vp_request *r = NULL;
    const tes_oid4vp_request_opts o = {
        .rp_roots = s,
        .now = tes_clock_now(NULL),
        .client_id = argc > 5 ? argv[4] : "x509_san_dns:rp.example.com"};
    const char *nonce = argc > 5 ? argv[5] : "interop-nonce-1";
    if (tes_oid4vp_request_verify((const char *)jws.ptr, jws.len, &o, &r) != TES_OK)
        return fail("request object");
    printf("%s (%s) asks for %s, purpose '%s', nonce %s, enc key %s\n", r->display_name,
           r->client_id, r->dcql_query, r->scope.purpose, r->nonce, r->enc_thumbprint);
    int rc = strcmp(r->nonce, nonce) == 0 && r->enc_key != NULL &&
                     r->enc_values == (TES_OID4VP_ENC_A128GCM | TES_OID4VP_ENC_A256GCM)
                 ? 0
                 : 1;
    tes_oid4vp_request_free(r);
    tes_trust_store_free(s);
    tes_buf_free(&root);
    tes_buf_free(&jws);
    return rc;
}
