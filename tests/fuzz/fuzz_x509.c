/*
 * libFuzzer target: certificate and key parsing — tes_cert_parse_any, tes_cert_parse_all
 * (at most 8) and tes_key_parse on the input; parsed certificates have their info read and
 * their EKUs queried.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/crypto.h"
#include "tessera/trust.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void inspect(const tes_cert *c)
{
    const tes_cert_info *info = tes_cert_get_info(c);
    CHECK(info != NULL);
    CHECK(info->ski_len <= sizeof info->ski && info->aki_len <= sizeof info->aki);
    CHECK(memchr(info->subject, 0, sizeof info->subject) != NULL);
    CHECK(memchr(info->issuer, 0, sizeof info->issuer) != NULL);
    CHECK(memchr(info->common_name, 0, sizeof info->common_name) != NULL);
    CHECK(memchr(info->country, 0, sizeof info->country) != NULL);
    (void)tes_cert_has_eku(c, TES_OID_EKU_MDL_DS);
    (void)tes_cert_has_eku(c, TES_OID_EKU_MDL_READER);
    (void)tes_cert_has_eku(c, "1.3.6.1.5.5.7.3.1");
    CHECK(tes_cert_der(c).len > 0);
    (void)tes_cert_key(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tes_bytes in = TES_BYTES(data, size);

    tes_cert *c = NULL;
    if (tes_cert_parse_any(in, &c) == TES_OK) {
        CHECK(c != NULL);
        inspect(c);
        tes_cert_free(c);
    }

    tes_cert *all[8] = {0};
    size_t n = 0;
    if (tes_cert_parse_all(in, all, 8, &n) == TES_OK) {
        CHECK(n <= 8);
        for (size_t i = 0; i < n; i++) {
            CHECK(all[i] != NULL);
            inspect(all[i]);
            tes_cert_free(all[i]);
        }
    }

    tes_key *k = NULL;
    if (tes_key_parse(in, &k) == TES_OK) {
        CHECK(k != NULL);
        (void)tes_key_curve(k);
        tes_key_free(k);
    }
    return 0;
}
