/*
 * verify_response: check an ISO/IEC 18013-5 DeviceResponse with libtessera, as a verifier
 * that is not the tessera tool would (a hotel front desk, a web service).
 *
 *     cc verify_response.c $(pkg-config --cflags --libs tessera) -o verify_response
 *     ./verify_response IACA.pem TRANSCRIPT.cbor RESPONSE.cbor
 *
 * IACA.pem     the issuing authorities' root certificates this verifier trusts (PEM or DER)
 * TRANSCRIPT   the SessionTranscript both sides agreed on (CBOR, plain or tag 24)
 * RESPONSE     the DeviceResponse the holder sent (signed by the device key; a response
 *              authenticated by device MAC also needs the reader's ephemeral key, which this
 *              small example does not load)
 *
 * Prints each document's type, signer and disclosed elements and exits 0 when the response is
 * valid; otherwise prints which check failed (tes_err_name and tes_err_message) and exits 1.
 * Usage or file errors exit 2.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <tessera/core.h>
#include <tessera/mdoc.h>
#include <tessera/trust.h>

static int fail(const char *what, tes_err e)
{
    fprintf(stderr, "verify_response: %s: %s (%s)\n", what, tes_err_message(), tes_err_name(e));
    return e == TES_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: verify_response IACA.pem TRANSCRIPT.cbor RESPONSE.cbor\n");
        return 2;
    }
    tes_buf roots = {0}, transcript = {0}, response = {0};
    tes_trust_store *trust = NULL;
    tes_mdoc_result result = {0};
    int rc = 2;
    tes_err e;

    if ((e = tes_file_read(argv[1], 1 << 20, &roots)) != TES_OK ||
        (e = tes_file_read(argv[2], 1 << 16, &transcript)) != TES_OK ||
        (e = tes_file_read(argv[3], 1 << 24, &response)) != TES_OK) {
        fail("reading the inputs", e);
        goto out;
    }
    if ((e = tes_trust_store_new(&trust)) != TES_OK ||
        (e = tes_trust_store_add_blob(trust, TES_PROFILE_DS, tes_buf_bytes(&roots))) != TES_OK) {
        fail("loading the trusted roots", e);
        goto out;
    }

    tes_mdoc_verify_opts opts = {
        .trust = trust,
        .transcript = tes_buf_bytes(&transcript),
        .at = (int64_t)time(NULL),
    };
    e = tes_mdoc_verify(tes_buf_bytes(&response), &opts, &result);
    if (e != TES_OK) {
        rc = fail("the response is not valid", e);
        goto out;
    }
    for (size_t d = 0; d < result.n_docs; d++) {
        const tes_mdoc_document *doc = &result.docs[d];
        printf("document %zu: %.*s\n  signed by: %s\n", d, (int)doc->doctype.len,
               (const char *)doc->doctype.ptr, doc->issuer);
        for (size_t i = 0; i < doc->n_elems; i++) {
            const tes_mdoc_element *el = &doc->elems[i];
            printf("  %.*s/%.*s (%zu bytes)\n", (int)el->ns.len, (const char *)el->ns.ptr,
                   (int)el->name.len, (const char *)el->name.ptr, el->value.len);
        }
    }
    printf("valid: %zu document(s)\n", result.n_docs);
    rc = 0;
out:
    tes_mdoc_result_free(&result);
    tes_trust_store_free(trust);
    tes_buf_free(&roots);
    tes_buf_free(&transcript);
    tes_buf_free(&response);
    return rc;
}
