/*
 * libFuzzer target: tes_wallet_authz_url_parse (tessera/wallet.h) on the
 * input as an authorization request URL (NUL-terminated copy).
 *
 * Invariants: either TES_ERR_AUTHZ_URL / TES_ERR_NOMEM with both outputs
 * NULL, or TES_OK with a client_id of at most TES_OID4VP_CLIENT_ID_MAX bytes
 * and an http(s) request_uri, neither empty nor holding a control byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/oid4vp.h"
#include "tessera/wallet.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void check_text(const char *s)
{
    CHECK(s != NULL && s[0] != '\0');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        CHECK(*p >= 0x20 && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TES_WALLET_AUTHZ_URL_MAX + 16)
        return 0;
    char *url = malloc(size + 1);
    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    char *cid = NULL, *ru = NULL;
    tes_err e = tes_wallet_authz_url_parse(url, &cid, &ru);
    if (e != TES_OK) {
        CHECK(cid == NULL && ru == NULL);
        CHECK(e == TES_ERR_AUTHZ_URL || e == TES_ERR_NOMEM);
    } else {
        check_text(cid);
        check_text(ru);
        CHECK(strlen(cid) <= TES_OID4VP_CLIENT_ID_MAX);
        CHECK(strncmp(ru, "http://", 7) == 0 || strncmp(ru, "https://", 8) == 0);
    }
    free(cid);
    free(ru);
    free(url);
    return 0;
}
