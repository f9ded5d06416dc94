/*
 * libFuzzer target: tes_se_attestation_verify on the input as a key attestation chain
 * (a CBOR array of DER certificates, leaf first), as an issuer receives it in a proof's
 * x5c. Fixed set-up: one vendor root (made with `tessera vendor init`), the challenge
 * "challenge", and an evaluation time inside the seed chain's validity. Every result must be
 * TES_OK or an error code; on success the attested key is released.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/se.h"

static const char VENDOR_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlzCCAT6gAwIBAgIQF90jdb9/Al3EEL0Nip3hqDAKBggqhkjOPQQDAjAaMRgw\n"
    "FgYDVQQDDA9GdXp6IENoaXAgV29ya3MwHhcNMjYxMTI2MTQ1NjI2WhcNNDYxMjEx\n"
    "MTU1NjI2WjAaMRgwFgYDVQQDDA9GdXp6IENoaXAgV29ya3MwWTATBgcqhkjOPQIB\n"
    "BggqhkjOPQMBBwNCAAR6PzEi0xxHC/Yh2YyzBYkfRveYGMaC6AH1g2sVtISGHtVn\n"
    "Fsp4jhIH+MGwvHIsDSXdJfW6n66XVW5g6BHgx05qo2YwZDASBgNVHRMBAf8ECDAG\n"
    "AQH/AgEBMA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQU1puznIn6l1ONQRpUxS9A\n"
    "oulrREEwHwYDVR0jBBgwFoAU1puznIn6l1ONQRpUxS9AoulrREEwCgYIKoZIzj0E\n"
    "AwIDRwAwRAIgJFJzYhvjWmCmFba1PK54+Rc7yUPH5XeDvxZnSGeWQOICIHBVJvKt\n"
    "0+Yuj0POi1vBa3sLfNcdFLI/rvR8QldYwukt\n"
    "-----END CERTIFICATE-----\n";

static const int64_t AT = 1795795200; /* 2026-11-27T00:00:00Z, inside the seed's validity */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char challenge[] = "challenge";
    tes_se_attested att;
    memset(&att, 0, sizeof(att));
    tes_err e = tes_se_attestation_verify(TES_BYTES(data, size),
                                          TES_BYTES(VENDOR_PEM, sizeof(VENDOR_PEM) - 1),
                                          TES_BYTES(challenge, sizeof(challenge) - 1), AT, &att);
    if (e == TES_OK) {
        if (att.key == NULL)
            __builtin_trap();
        tes_key_free(att.key);
    } else if (att.key != NULL) {
        __builtin_trap(); /* nothing handed out on failure */
    }
    return 0;
}
