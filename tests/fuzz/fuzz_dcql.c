/*
 * libFuzzer target: tes_dcql_parse on the input as JSON text, then
 * tes_dcql_match_candidates of every parsed query over a fixed set of
 * candidates (an mDL with values, a PID without, a photo card).
 *
 * Invariants: the parser either fails with TES_ERR_DCQL,
 * TES_ERR_DCQL_UNSUPPORTED or TES_ERR_NOMEM and returns no query, or returns
 * one within the limits of oid4vp.h, whose claim_sets and credential_sets
 * indices are in range; the matcher returns TES_OK or
 * TES_ERR_DCQL_UNSATISFIED (NOMEM aside), one result per Credential Query,
 * every match naming a candidate of the query's doctype and claims in range,
 * nothing selected that did not match.
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

#define NS "org.iso.18013.5.1"

static const tes_dcql_value YES = {.type = TES_DCQL_VALUE_BOOL, .b = true};
static const tes_dcql_value DE = {.type = TES_DCQL_VALUE_STRING, .str = "DE"};
static const tes_dcql_value N7 = {.type = TES_DCQL_VALUE_INT, .i = 7};

static const tes_dcql_element MDL[] = {
    {NS, "given_name", NULL}, {NS, "family_name", NULL}, {NS, "age_over_18", &YES},
    {NS, "issuing_country", &DE}, {NS, "n", &N7}, {NS, "portrait", NULL}};
static const tes_dcql_element PID[] = {{"eu.europa.ec.eudi.pid.1", "family_name", NULL},
                                       {"eu.europa.ec.eudi.pid.1", "age_over_18", NULL}};
static const tes_dcql_element PHOTO[] = {{NS, "given_name", NULL}, {NS, "resident_address", NULL}};
static const tes_dcql_candidate CANDIDATES[] = {
    {"org.iso.18013.5.1.mDL", 6, MDL},
    {"eu.europa.ec.eudi.pid.1", 2, PID},
    {"org.iso.23220.photoid.1", 2, PHOTO},
};
#define N_CANDIDATES (sizeof CANDIDATES / sizeof CANDIDATES[0])

static void check_query(const tes_dcql_query *q)
{
    CHECK(q->n_credentials >= 1 && q->n_credentials <= TES_DCQL_MAX_CREDENTIALS);
    CHECK(q->n_credential_sets <= TES_DCQL_MAX_CREDENTIAL_SETS);
    for (size_t i = 0; i < q->n_credentials; i++) {
        const tes_dcql_credential *c = &q->credentials[i];
        CHECK(c->id != NULL && strlen(c->id) <= TES_DCQL_MAX_ID && c->doctype != NULL);
        CHECK(c->n_claims <= TES_DCQL_MAX_CLAIMS && c->n_claim_sets <= TES_DCQL_MAX_CLAIM_SETS);
        CHECK(c->n_claim_sets == 0 || c->n_claims > 0);
        for (size_t k = 0; k < c->n_claims; k++)
            CHECK(c->claims[k].ns != NULL && c->claims[k].element != NULL &&
                  c->claims[k].n_values <= TES_DCQL_MAX_VALUES);
        for (size_t s = 0; s < c->n_claim_sets; s++) {
            CHECK(c->claim_sets[s].n >= 1);
            for (size_t k = 0; k < c->claim_sets[s].n; k++)
                CHECK(c->claim_sets[s].claims[k] < c->n_claims);
        }
    }
    for (size_t s = 0; s < q->n_credential_sets; s++) {
        CHECK(q->credential_sets[s].n_options >= 1);
        for (size_t o = 0; o < q->credential_sets[s].n_options; o++)
            for (size_t k = 0; k < q->credential_sets[s].options[o].n; k++)
                CHECK(q->credential_sets[s].options[o].claims[k] < q->n_credentials);
    }
}

static void check_match(const tes_dcql_query *q)
{
    tes_dcql_result r = {0};
    tes_err err = tes_dcql_match_candidates(q, CANDIDATES, N_CANDIDATES, &r);
    if (err == TES_ERR_NOMEM)
        return;
    CHECK(err == TES_OK || err == TES_ERR_DCQL_UNSATISFIED);
    CHECK(r.n == q->n_credentials);
    for (size_t i = 0; i < r.n; i++) {
        const tes_dcql_query_result *qr = &r.credentials[i];
        CHECK(qr->n_matches <= N_CANDIDATES);
        CHECK(!qr->selected || qr->n_matches > 0);
        for (size_t m = 0; m < qr->n_matches; m++) {
            CHECK(qr->matches[m].candidate < N_CANDIDATES);
            CHECK(strcmp(CANDIDATES[qr->matches[m].candidate].doctype,
                         q->credentials[i].doctype) == 0);
            for (size_t k = 0; k < qr->matches[m].n_claims; k++)
                CHECK(qr->matches[m].claims[k] < q->credentials[i].n_claims);
        }
    }
    tes_dcql_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tes_dcql_query *q = NULL;
    tes_err err = tes_dcql_parse((const char *)data, size, &q);
    if (err != TES_OK) {
        CHECK(q == NULL);
        CHECK(err == TES_ERR_DCQL || err == TES_ERR_DCQL_UNSUPPORTED || err == TES_ERR_NOMEM);
        return 0;
    }
    check_query(q);
    check_match(q);
    tes_dcql_query_free(q);
    return 0;
}
