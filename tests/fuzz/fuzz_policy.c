/*
 * libFuzzer target: tes_consent_policy_parse on the input as JSON text, then
 * tes_consent_policy_decide of every parsed policy over a fixed request, once
 * for an authenticated reader and once for an unauthenticated one.
 *
 * Invariants: the parser either fails with a malformed-input (or memory)
 * code and returns no policy, or returns one; a decision is TES_OK or
 * TES_ERR_CONSENT; nothing out of scope is approved without an override,
 * nothing not held is approved, and the PIN comes back NUL-terminated, empty
 * or 4..16 digits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/proximity.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define NS "eu.europa.ec.eudi.pid.1"

static void decide(tes_consent_policy *p, bool authenticated)
{
    tes_consent_item items[] = {
        {.ns = TES_BYTES_STR(NS),
         .name = TES_BYTES_STR("family_name"),
         .in_scope = true,
         .held = true,
         .intent_to_retain = true},
        {.ns = TES_BYTES_STR(NS),
         .name = TES_BYTES_STR("birth_date"),
         .in_scope = false,
         .held = true},
        {.ns = TES_BYTES_STR(NS),
         .name = TES_BYTES_STR("age_over_18"),
         .in_scope = true,
         .held = true},
        {.ns = TES_BYTES_STR(NS),
         .name = TES_BYTES_STR("portrait"),
         .in_scope = true,
         .held = false},
        /* set by a previous decision: must be reset */
        {.ns = TES_BYTES_STR("org.example"),
         .name = TES_BYTES_STR("x"),
         .approve = true,
         .override_scope = true},
    };
    size_t n = sizeof(items) / sizeof(items[0]);
    tes_consent_request r = {.reader_authenticated = authenticated, .items = items, .n_items = n};
    if (authenticated)
        strcpy(r.reader_name, "Hotel Utopia");
    char pin[64];
    memset(pin, 'x', sizeof(pin));
    tes_err e = tes_consent_policy_decide(p, &r, pin);
    CHECK(e == TES_OK || e == TES_ERR_CONSENT);
    CHECK(memchr(pin, '\0', sizeof(pin)) != NULL);
    size_t pl = strlen(pin);
    CHECK(pl == 0 || (pl >= 4 && pl <= 16));
    for (size_t i = 0; i < pl; i++)
        CHECK(pin[i] >= '0' && pin[i] <= '9');
    for (size_t i = 0; i < n; i++) {
        if (e != TES_OK)
            break;
        CHECK(!items[i].approve || items[i].held);
        CHECK(!items[i].approve || items[i].in_scope || items[i].override_scope);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tes_consent_policy *p = NULL;
    tes_err e = tes_consent_policy_parse((const char *)data, size, &p);
    CHECK(e == TES_OK || tes_err_is_malformed(e) || tes_err_is_env(e));
    CHECK((e == TES_OK) == (p != NULL));
    if (p != NULL) {
        decide(p, true);
        decide(p, false);
    }
    tes_consent_policy_free(p);
    return 0;
}
