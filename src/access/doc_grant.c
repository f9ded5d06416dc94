/*
 * The data of the two documents (element "element2"): what an access document
 * grants (key id, reader group, rooms, daily schedule) and what a revocation
 * document revokes (the group's revoked key ids), written for doc.c to sign
 * and read back, strictly, from what doc.c verified.
 */
#include <string.h>

#include "doc_internal.h"

#define FMT(...) tes_err_set(TES_ERR_ACCESS_DOC_FORMAT, __VA_ARGS__)

static const tes_cbor_limits data_limits = {
    .max_input = TES_ACCESS_DOC_MAX, .max_depth = 8, .max_items = 1024};

/* ---------------------------------------------------------------- access data */

static tes_err check_grant(const tes_access_grant *g)
{
    if (g->n_rooms == 0 || g->n_rooms > TES_ACCESS_MAX_ROOMS)
        return tes_err_set(TES_ERR_ARG, "an access grant names 1 to %d rooms, not %zu",
                           TES_ACCESS_MAX_ROOMS, g->n_rooms);
    for (size_t i = 0; i < g->n_rooms; i++) {
        const char *r = g->rooms[i];
        size_t len = strnlen(r, TES_ACCESS_ROOM_MAX);
        if (!accessdoc_room_ok((const uint8_t *)r, len))
            return tes_err_set(TES_ERR_ARG,
                               "room %zu is empty, longer than %d characters or not printable "
                               "ASCII",
                               i, TES_ACCESS_ROOM_MAX - 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(g->rooms[j], r) == 0)
                return tes_err_set(TES_ERR_ARG, "room '%s' is named twice", r);
    }
    if (g->not_before <= 0 || g->not_after > TES_ACCESS_TIME_MAX || g->not_before >= g->not_after)
        return tes_err_set(TES_ERR_ARG, "an access grant's not_before must be after 1970 and "
                                        "before its not_after (year 9999 at the latest)");
    if (g->signed_at <= 0 || g->signed_at > TES_ACCESS_TIME_MAX)
        return tes_err_set(TES_ERR_ARG, "an access grant's signed_at is out of range");
    bool all_day = g->daily_from == 0 && g->daily_until == 0;
    if (!all_day && (g->daily_from >= g->daily_until || g->daily_until > TES_ACCESS_DAY_MINUTES))
        return tes_err_set(TES_ERR_ARG,
                           "a schedule is 0,0 (all day) or from < until <= %d "
                           "minutes, not %u,%u",
                           TES_ACCESS_DAY_MINUTES, g->daily_from, g->daily_until);
    tes_key *k = NULL;
    if (g->endpoint_key[0] != 0x04 ||
        tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(g->endpoint_key + 1, 32),
                              TES_BYTES(g->endpoint_key + 33, 32), &k) != TES_OK)
        return tes_err_set(TES_ERR_ARG, "the endpoint key is not an uncompressed P-256 point");
    tes_key_free(k);
    return TES_OK;
}

/* {0: 1, 1: key_id, 2: [{0: group_id, 1: [rooms]}], ?3: [{0: from, 1: until}]} */
static void write_access_data(tes_cbor_enc *e, const tes_access_grant *g)
{
    bool schedule = g->daily_from != 0 || g->daily_until != 0;
    tes_cbor_enc_map(e, 3 + schedule);
    tes_cbor_enc_uint(e, 0);
    tes_cbor_enc_uint(e, 1);
    tes_cbor_enc_uint(e, 1);
    tes_cbor_enc_bytes(e, g->key_id, TES_ACCESS_KEY_ID_LEN);
    tes_cbor_enc_uint(e, 2);
    tes_cbor_enc_array(e, 1);
    tes_cbor_enc_map(e, 2);
    tes_cbor_enc_uint(e, 0);
    tes_cbor_enc_bytes(e, g->group_id, TES_ACCESS_GROUP_ID_LEN);
    tes_cbor_enc_uint(e, 1);
    tes_cbor_enc_array(e, g->n_rooms);
    for (size_t i = 0; i < g->n_rooms; i++)
        tes_cbor_enc_cstr(e, g->rooms[i]);
    if (!schedule)
        return;
    tes_cbor_enc_uint(e, 3);
    tes_cbor_enc_array(e, 1);
    tes_cbor_enc_map(e, 2);
    tes_cbor_enc_uint(e, 0);
    tes_cbor_enc_uint(e, g->daily_from);
    tes_cbor_enc_uint(e, 1);
    tes_cbor_enc_uint(e, g->daily_until);
}

tes_err tes_access_doc_issue(const tes_access_grant *g, const tes_signer *issuer,
                             const tes_key *issuer_public, const tes_rng *rng, tes_buf *out)
{
    if (g == NULL || issuer == NULL || issuer_public == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_access_doc_issue: NULL argument");
    tes_err e = check_grant(g);
    if (e != TES_OK)
        return e;
    tes_buf data = {0};
    tes_cbor_enc enc = {.out = &data};
    write_access_data(&enc, g);
    if ((e = tes_cbor_enc_finish(&enc)) == TES_OK) {
        accessdoc_envelope env = {.doctype = TES_ACCESS_DOCTYPE,
                                  .value = tes_buf_bytes(&data),
                                  .has_device_key = true,
                                  .signed_at = g->signed_at,
                                  .valid_from = g->not_before,
                                  .valid_until = g->not_after};
        memcpy(env.device_key, g->endpoint_key, TES_ACCESS_POINT_LEN);
        e = accessdoc_issue(&env, issuer, issuer_public, rng, out);
    }
    tes_buf_free(&data);
    return e;
}

/* The rooms array: 1..TES_ACCESS_MAX_ROOMS distinct printable names. */
static tes_err read_rooms(const tes_cbor_doc *d, uint32_t a, tes_access_grant *out)
{
    if (!tes_cbor_is(d, a, TES_CBOR_ARRAY) || tes_cbor_count(d, a) == 0 ||
        tes_cbor_count(d, a) > TES_ACCESS_MAX_ROOMS)
        return FMT("access document: rooms are not an array of 1 to %d names",
                   TES_ACCESS_MAX_ROOMS);
    uint32_t i = a + 1;
    for (uint64_t k = 0; k < tes_cbor_count(d, a); k++, i = tes_cbor_next(d, i)) {
        const tes_cbor_node *n = &d->nodes[i];
        if (n->type != TES_CBOR_TEXT || !accessdoc_room_ok(n->data, n->len))
            return FMT("access document: room %llu is not 1 to %d characters of printable "
                       "ASCII",
                       (unsigned long long)k, TES_ACCESS_ROOM_MAX - 1);
        for (size_t j = 0; j < k; j++)
            if (strlen(out->rooms[j]) == n->len && memcmp(out->rooms[j], n->data, n->len) == 0)
                return FMT("access document: room %llu is named twice", (unsigned long long)k);
        memcpy(out->rooms[k], n->data, n->len);
        out->rooms[k][n->len] = '\0';
        out->n_rooms++;
    }
    return TES_OK;
}

/* [{0: from, 1: until}], from < until <= 1440 */
static tes_err read_schedule(const tes_cbor_doc *d, uint32_t a, tes_access_grant *out)
{
    static const int64_t keys[2] = {0, 1};
    uint32_t v[2];
    uint64_t from, until;
    if (!tes_cbor_is(d, a, TES_CBOR_ARRAY) || tes_cbor_count(d, a) != 1 ||
        !accessdoc_members(d, a + 1, keys, 2, false, v) ||
        !accessdoc_uint(d, v[0], TES_ACCESS_DAY_MINUTES, &from) ||
        !accessdoc_uint(d, v[1], TES_ACCESS_DAY_MINUTES, &until) || from >= until)
        return FMT("access document: the schedule is not one window [{0: from, 1: until}] with "
                   "from < until <= %d",
                   TES_ACCESS_DAY_MINUTES);
    out->daily_from = (uint16_t)from;
    out->daily_until = (uint16_t)until;
    return TES_OK;
}

static tes_err read_access_data(tes_bytes value, tes_access_grant *out)
{
    tes_cbor_node st[64];
    tes_cbor_doc d;
    if (tes_cbor_parse_with(value, &data_limits, st, 64, &d) != TES_OK)
        return FMT("access document: the access data is not CBOR: %s", tes_err_message());
    static const int64_t keys[4] = {0, 1, 2, 3}, gkeys[2] = {0, 1};
    uint32_t v[4], g[2];
    tes_err e = TES_OK;
    if (!accessdoc_members(&d, 0, keys, 4, false, v) || v[0] == TES_CBOR_NONE ||
        v[1] == TES_CBOR_NONE || v[2] == TES_CBOR_NONE)
        e = FMT("access document: the access data is not a map of 0 version, 1 key id, "
                "2 rules, 3 schedule");
    else if (!accessdoc_uint(&d, v[0], 1, NULL) || d.nodes[v[0]].val != 1)
        e = FMT("access document: the access data's version is not 1");
    else if (!accessdoc_bytes(&d, v[1], TES_ACCESS_KEY_ID_LEN, out->key_id))
        e = FMT("access document: the key id is not %d bytes", TES_ACCESS_KEY_ID_LEN);
    else if (!tes_cbor_is(&d, v[2], TES_CBOR_ARRAY) || tes_cbor_count(&d, v[2]) != 1 ||
             !accessdoc_members(&d, v[2] + 1, gkeys, 2, false, g) || g[1] == TES_CBOR_NONE ||
             !accessdoc_bytes(&d, g[0], TES_ACCESS_GROUP_ID_LEN, out->group_id))
        e = FMT("access document: the rules are not one [{0: group id (16 bytes), 1: rooms}]");
    if (e == TES_OK)
        e = read_rooms(&d, g[1], out);
    if (e == TES_OK && v[3] != TES_CBOR_NONE)
        e = read_schedule(&d, v[3], out);
    tes_cbor_doc_free(&d);
    return e;
}

tes_err tes_access_doc_verify(tes_bytes document, const tes_key *const *issuers, size_t n_issuers,
                              tes_access_grant *out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_access_doc_verify: NULL out");
    memset(out, 0, sizeof *out);
    accessdoc_envelope env = {.doctype = TES_ACCESS_DOCTYPE, .has_device_key = true};
    tes_err e = accessdoc_verify(document, issuers, n_issuers, &env);
    if (e == TES_OK)
        e = read_access_data(env.value, out);
    if (e != TES_OK) {
        memset(out, 0, sizeof *out);
        return e;
    }
    memcpy(out->endpoint_key, env.device_key, TES_ACCESS_POINT_LEN);
    out->not_before = env.valid_from;
    out->not_after = env.valid_until;
    out->signed_at = env.signed_at;
    return TES_OK;
}

/* ---------------------------------------------------------------- revocation data */

tes_err tes_access_revocation_issue(const tes_access_revocation *r, const tes_signer *issuer,
                                    const tes_key *issuer_public, const tes_rng *rng, tes_buf *out)
{
    if (r == NULL || issuer == NULL || issuer_public == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_access_revocation_issue: NULL argument");
    if (r->version <= 0 || r->version > TES_ACCESS_TIME_MAX - ACCESSDOC_TEN_YEARS)
        return tes_err_set(TES_ERR_ARG, "a revocation document's version is out of range");
    if (r->n_keys > TES_ACCESS_MAX_REVOKED)
        return tes_err_set(TES_ERR_ARG, "a revocation document lists at most %d keys, not %zu",
                           TES_ACCESS_MAX_REVOKED, r->n_keys);
    for (size_t i = 0; i < r->n_keys; i++)
        for (size_t j = 0; j < i; j++)
            if (memcmp(r->keys[i], r->keys[j], TES_ACCESS_KEY_ID_LEN) == 0)
                return tes_err_set(TES_ERR_ARG, "revoked key %zu is listed twice", i);
    tes_buf data = {0};
    tes_cbor_enc enc = {.out = &data};
    tes_cbor_enc_map(&enc, 3);
    tes_cbor_enc_uint(&enc, 0);
    tes_cbor_enc_uint(&enc, 1);
    tes_cbor_enc_uint(&enc, 1);
    tes_cbor_enc_bytes(&enc, r->group_id, TES_ACCESS_GROUP_ID_LEN);
    tes_cbor_enc_uint(&enc, 2);
    tes_cbor_enc_array(&enc, r->n_keys);
    for (size_t i = 0; i < r->n_keys; i++)
        tes_cbor_enc_bytes(&enc, r->keys[i], TES_ACCESS_KEY_ID_LEN);
    tes_err e = tes_cbor_enc_finish(&enc);
    if (e == TES_OK) {
        accessdoc_envelope env = {.doctype = TES_REVOCATION_DOCTYPE,
                                  .value = tes_buf_bytes(&data),
                                  .signed_at = r->version,
                                  .valid_from = r->version,
                                  .valid_until = r->version + ACCESSDOC_TEN_YEARS};
        e = accessdoc_issue(&env, issuer, issuer_public, rng, out);
    }
    tes_buf_free(&data);
    return e;
}

static tes_err read_revocation_data(tes_bytes value, tes_access_revocation *out)
{
    tes_cbor_node st[64];
    tes_cbor_doc d;
    if (tes_cbor_parse_with(value, &data_limits, st, 64, &d) != TES_OK)
        return FMT("revocation document: the revocation data is not CBOR: %s", tes_err_message());
    static const int64_t keys[3] = {0, 1, 2};
    uint32_t v[3];
    tes_err e = TES_OK;
    if (!accessdoc_members(&d, 0, keys, 3, false, v) || v[0] == TES_CBOR_NONE ||
        v[1] == TES_CBOR_NONE || v[2] == TES_CBOR_NONE)
        e = FMT("revocation document: the data is not a map of 0 version, 1 group id, 2 keys");
    else if (!accessdoc_uint(&d, v[0], 1, NULL) || d.nodes[v[0]].val != 1)
        e = FMT("revocation document: the data's version is not 1");
    else if (!accessdoc_bytes(&d, v[1], TES_ACCESS_GROUP_ID_LEN, out->group_id))
        e = FMT("revocation document: the group id is not %d bytes", TES_ACCESS_GROUP_ID_LEN);
    else if (!tes_cbor_is(&d, v[2], TES_CBOR_ARRAY) ||
             tes_cbor_count(&d, v[2]) > TES_ACCESS_MAX_REVOKED)
        e = FMT("revocation document: the keys are not an array of at most %d",
                TES_ACCESS_MAX_REVOKED);
    uint32_t i = v[2] + 1;
    for (uint64_t k = 0; e == TES_OK && k < tes_cbor_count(&d, v[2]); k++) {
        if (!accessdoc_bytes(&d, i, TES_ACCESS_KEY_ID_LEN, out->keys[k]))
            e = FMT("revocation document: key %llu is not %d bytes", (unsigned long long)k,
                    TES_ACCESS_KEY_ID_LEN);
        for (size_t j = 0; e == TES_OK && j < k; j++)
            if (memcmp(out->keys[j], out->keys[k], TES_ACCESS_KEY_ID_LEN) == 0)
                e = FMT("revocation document: key %llu is listed twice", (unsigned long long)k);
        out->n_keys++;
        i = tes_cbor_next(&d, i);
    }
    tes_cbor_doc_free(&d);
    return e;
}

tes_err tes_access_revocation_verify(tes_bytes document, const tes_key *const *issuers,
                                     size_t n_issuers, tes_access_revocation *out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_access_revocation_verify: NULL out");
    memset(out, 0, sizeof *out);
    accessdoc_envelope env = {.doctype = TES_REVOCATION_DOCTYPE};
    tes_err e = accessdoc_verify(document, issuers, n_issuers, &env);
    if (e == TES_OK && env.valid_from != env.signed_at)
        e = FMT("revocation document: validFrom is not its version (signed)");
    if (e == TES_OK)
        e = read_revocation_data(env.value, out);
    if (e != TES_OK) {
        memset(out, 0, sizeof *out);
        return e;
    }
    out->version = env.signed_at;
    return TES_OK;
}
