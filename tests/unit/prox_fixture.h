/*
 * Certificates for the tests of the holder's presentation (test_proximity,
 * test_wallet_present): roots (an IACA, the authorities that license
 * readers), a document signer under an IACA, a reader certificate with its
 * scope. The includer defines T0 and DAY.
 */
#ifndef TES_TEST_PROX_FIXTURE_H
#define TES_TEST_PROX_FIXTURE_H

#include "tessera/crypto.h"
#include "tessera/trust.h"

/* A self-signed root, valid from T0 - 10 days for ten years. */
static inline tes_cert *fx_root(const char *cn, tes_key *k)
{
    tes_cert_template t = {.common_name = cn,
                           .country = "UT",
                           .not_before = T0 - 10 * DAY,
                           .not_after = T0 + 3650 * DAY,
                           .is_ca = true,
                           .path_len = 0,
                           .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
                           .issuer_alt_uri = "https://ut.example"};
    tes_cert *c = NULL;
    return tes_cert_create(&t, k, NULL, k, &c) == TES_OK ? c : NULL;
}

/* "Utopia DS" under iaca. */
static inline tes_cert *fx_ds(tes_key *k, tes_cert *iaca, tes_key *iaca_key)
{
    tes_cert_template dt = {.common_name = "Utopia DS",
                            .country = "UT",
                            .not_before = T0 - 10 * DAY,
                            .not_after = T0 + 1000 * DAY,
                            .path_len = -1,
                            .key_usage = TES_KU_DIGITAL_SIGNATURE,
                            .eku_oid = TES_OID_EKU_MDL_DS,
                            .issuer_alt_uri = "https://ut.example",
                            .crl_uri = "https://ut.example/crl"};
    tes_cert *c = NULL;
    return tes_cert_create(&dt, k, iaca, iaca_key, &c) == TES_OK ? c : NULL;
}

/* A reader certificate under root, valid [nb, na], with the scope
 * "hotel registration" over scope[0..n) (n 0: no scope extension). */
static inline tes_cert *fx_reader(const char *cn, tes_key *k, tes_cert *root, tes_key *root_key,
                                  int64_t nb, int64_t na, const char *const *scope, size_t n)
{
    tes_buf ext = {0};
    if (n > 0 && tes_reader_scope_encode("hotel registration", scope, n, &ext) != TES_OK)
        return NULL;
    tes_cert_template t = {.common_name = cn,
                           .country = "UT",
                           .not_before = nb,
                           .not_after = na,
                           .path_len = -1,
                           .key_usage = TES_KU_DIGITAL_SIGNATURE,
                           .eku_oid = TES_OID_EKU_MDL_READER,
                           .extra_oid = n > 0 ? TES_OID_READER_SCOPE : NULL,
                           .extra_value = tes_buf_bytes(&ext)};
    tes_cert *c = NULL;
    tes_err e = tes_cert_create(&t, k, root, root_key, &c);
    tes_buf_free(&ext);
    return e == TES_OK ? c : NULL;
}

#endif
