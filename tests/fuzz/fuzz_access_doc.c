/*
 * libFuzzer target: the door-key documents and the step-up messages
 * (src/access/doc*.c). Every input goes to the four readers a lock and a
 * phone run on what the other side sends:
 *   tes_access_doc_verify and tes_access_revocation_verify (one trusted issuer,
 *   whose key the seed documents are signed with), tes_access_request_parse
 *   and tes_access_response_parse, whose documents go on to both verifiers as
 *   a lock's step-up does; tes_access_doc_is never says both docTypes.
 * Results must be TES_OK or the documented errors; what a verifier accepted
 * keeps its bounds; what it refused is all zeros.
 * Seeds (corpus/fuzz_access_doc/): a valid access document, revocation
 * document, DeviceRequest and DeviceResponse, written by
 * TES_ACCESS_DOC_WRITE_SEEDS=DIR build/test_access_doc fuzz_seeds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/access.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* The seeds' issuer (tests/unit/test_access_doc.c holds the same scalar). */
static const uint8_t ISSUER_D[32] = {
    0x8b, 0x99, 0xcc, 0xb4, 0xa5, 0xca, 0xae, 0x6d, 0x71, 0xb5, 0xfb, 0x4e, 0x52, 0xb9, 0x91, 0xc3,
    0x4d, 0x4f, 0x65, 0x33, 0x4f, 0x79, 0xdb, 0xea, 0xf7, 0xf4, 0x51, 0x34, 0x72, 0xaa, 0x82, 0x74,
};

static tes_key *issuer;
static tes_access_revocation *revocation;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (tes_key_from_ec_private(TES_CURVE_P256, TES_BYTES(ISSUER_D, 32), &issuer) != TES_OK)
        abort();
    revocation = malloc(sizeof *revocation);
    if (revocation == NULL)
        abort();
    return 0;
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static bool verify_error(tes_err e)
{
    return e == TES_ERR_ACCESS_DOC_FORMAT || e == TES_ERR_ACCESS_ISSUER || e == TES_ERR_NOMEM ||
           e == TES_ERR_CRYPTO;
}

static void access_doc(tes_bytes in)
{
    const tes_key *list[1] = {issuer};
    tes_access_grant g;
    tes_err e = tes_access_doc_verify(in, list, 1, &g);
    if (e != TES_OK) {
        CHECK(verify_error(e));
        CHECK(all_zero(&g, sizeof g));
        return;
    }
    CHECK(g.n_rooms >= 1 && g.n_rooms <= TES_ACCESS_MAX_ROOMS);
    for (size_t i = 0; i < g.n_rooms; i++) {
        size_t len = strnlen(g.rooms[i], TES_ACCESS_ROOM_MAX);
        CHECK(len >= 1 && len < TES_ACCESS_ROOM_MAX);
    }
    CHECK(g.not_before > 0 && g.not_before < g.not_after && g.not_after <= TES_ACCESS_TIME_MAX);
    CHECK(g.signed_at > 0 && g.signed_at <= TES_ACCESS_TIME_MAX);
    CHECK((g.daily_from == 0 && g.daily_until == 0) ||
          (g.daily_from < g.daily_until && g.daily_until <= TES_ACCESS_DAY_MINUTES));
    CHECK(g.endpoint_key[0] == 0x04);
}

static void revocation_doc(tes_bytes in)
{
    const tes_key *list[1] = {issuer};
    tes_err e = tes_access_revocation_verify(in, list, 1, revocation);
    if (e != TES_OK) {
        CHECK(verify_error(e));
        CHECK(all_zero(revocation, sizeof *revocation));
        return;
    }
    CHECK(revocation->n_keys <= TES_ACCESS_MAX_REVOKED);
    CHECK(revocation->version > 0);
}

static void request(tes_bytes in)
{
    bool a = true, r = true;
    tes_err e = tes_access_request_parse(in, &a, &r);
    CHECK(e == TES_OK || e == TES_ERR_ACCESS_DOC_FORMAT || e == TES_ERR_NOMEM);
    if (e != TES_OK)
        CHECK(!a && !r);
}

static void response(tes_bytes in)
{
    tes_bytes docs[4];
    size_t n = 99;
    tes_err e = tes_access_response_parse(in, docs, 4, &n);
    CHECK(e == TES_OK || e == TES_ERR_ACCESS_DOC_FORMAT || e == TES_ERR_NOMEM);
    if (e != TES_OK) {
        CHECK(n == 0);
        return;
    }
    CHECK(n <= 4);
    for (size_t i = 0; i < n; i++) {
        CHECK(docs[i].ptr >= in.ptr && docs[i].ptr + docs[i].len <= in.ptr + in.len);
        access_doc(docs[i]);
        revocation_doc(docs[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tes_bytes in = TES_BYTES(data, size);
    access_doc(in);
    revocation_doc(in);
    CHECK(!(tes_access_doc_is(in, TES_ACCESS_DOCTYPE) &&
            tes_access_doc_is(in, TES_REVOCATION_DOCTYPE)));
    request(in);
    response(in);
    return 0;
}
