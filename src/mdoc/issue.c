/* Issuing: IssuerSignedItems, the MSO and its COSE_Sign1 (18013-5 §9.1.2). */
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

#define RANDOM_LEN 32
#define MAX_DIGEST_ID 0x7fffffffu

typedef struct ns_group {
    const char *ns;
    size_t first, count; /* claims[first .. first+count) (claims are sorted by ns) */
    uint32_t *ids;       /* digest IDs of real items, then decoys */
    uint8_t (*digests)[32];
    size_t n_ids;
} ns_group;

static bool id_used(const uint32_t *ids, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Randomness for one issuance, drawn from the RNG in one call: a system call
 * per salt costs as much as a tenth of the signature. */
typedef struct rand_pool {
    const tes_rng *rng;
    uint8_t *bytes;
    size_t len, used;
} rand_pool;

static tes_err pool_take(rand_pool *rp, uint8_t *out, size_t n)
{
    if (rp->len - rp->used >= n) {
        memcpy(out, rp->bytes + rp->used, n);
        rp->used += n;
        return TES_OK;
    }
    return tes_rng_fill(rp->rng, out, n);
}

static tes_err random_id(rand_pool *rp, const uint32_t *ids, size_t n, uint32_t *out)
{
    for (int tries = 0; tries < 64; tries++) {
        uint8_t r[4];
        tes_err e = pool_take(rp, r, sizeof(r));
        if (e != TES_OK)
            return e;
        uint32_t id = ((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3]) &
                      MAX_DIGEST_ID;
        if (!id_used(ids, n, id)) {
            *out = id;
            return TES_OK;
        }
    }
    return tes_err_set(TES_ERR_RANDOM, "the random source repeats itself");
}

/* Appends 24(bstr(IssuerSignedItem)) to items and puts its digest into dg.
 * The keys are written in deterministic order (bytewise order of their
 * encodings: "random", "digestID", "elementValue", "elementIdentifier"). */
static tes_err write_item(tes_buf *items, tes_buf *scratch, const tes_mdoc_claim *c, uint32_t id,
                          rand_pool *rp, uint8_t dg[32], size_t rnd_len)
{
    uint8_t rnd[RANDOM_LEN];
    tes_err e = pool_take(rp, rnd, sizeof(rnd));
    if (e != TES_OK)
        return e;
    tes_buf_reset(scratch);
    tes_cbor_enc ie = {.out = scratch};
    tes_cbor_enc_map(&ie, 4);
    tes_cbor_enc_cstr(&ie, "random");
    tes_cbor_enc_bytes(&ie, rnd, rnd_len);
    tes_cbor_enc_cstr(&ie, "digestID");
    tes_cbor_enc_uint(&ie, id);
    tes_cbor_enc_cstr(&ie, "elementValue");
    tes_cbor_enc_raw(&ie, tes_buf_bytes(&c->value));
    tes_cbor_enc_cstr(&ie, "elementIdentifier");
    tes_cbor_enc_cstr(&ie, c->name);
    e = tes_cbor_enc_finish(&ie);
    size_t start = items->len;
    if (e == TES_OK) {
        tes_cbor_enc oe = {.out = items};
        tes_cbor_enc_tag(&oe, 24);
        tes_cbor_enc_bytes(&oe, scratch->ptr, scratch->len);
        e = tes_cbor_enc_finish(&oe);
    }
    if (e == TES_OK)
        e = tes_digest(TES_HASH_SHA256, TES_BYTES(items->ptr + start, items->len - start), dg);
    tes_wipe(rnd, sizeof(rnd));
    return e;
}

tes_err tes_mdoc_issue(const tes_mdoc_issue_params *p, tes_buf *out)
{
    return mdoc_issue_flawed(p, 0, out);
}

tes_err mdoc_issue_flawed(const tes_mdoc_issue_params *p, unsigned flaws, tes_buf *out)
{
    if (p == NULL || p->doctype == NULL || p->claims == NULL || p->device_key == NULL ||
        p->issuer == NULL || p->ds_chain_len == 0 || p->ds_chain == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_mdoc_issue: missing parameter");
    if (p->valid_until <= p->valid_from)
        return tes_err_set(TES_ERR_ARG, "validUntil must be after validFrom");
    for (size_t i = 1; i < p->claims->n; i++)
        if (strcmp(p->claims->items[i - 1].ns, p->claims->items[i].ns) > 0)
            return tes_err_set(TES_ERR_ARG, "claims must be grouped by namespace in order");
    tes_rng sys = tes_rng_system();
    rand_pool rp = {.rng = p->rng ? p->rng : &sys};

    /* group claims by namespace */
    size_t n_groups = 0;
    ns_group *groups = calloc(p->claims->n ? p->claims->n : 1, sizeof(*groups));
    tes_buf *item_bufs = calloc(p->claims->n ? p->claims->n : 1, sizeof(*item_bufs));
    tes_buf mso = {0}, msob = {0}, auth = {0}, scratch = {0};
    tes_err e = TES_OK;
    /* per item a salt and an ID, per decoy an ID and 64 bytes */
    size_t n_groups_max = p->claims->n ? p->claims->n : 1;
    rp.len = p->claims->n * (RANDOM_LEN + 4) + n_groups_max * p->decoys * (4 + 64);
    rp.bytes = malloc(rp.len ? rp.len : 1);
    if (rp.bytes == NULL || groups == NULL || item_bufs == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory issuing");
        goto out;
    }
    e = tes_rng_fill(rp.rng, rp.bytes, rp.len);
    if (e != TES_OK)
        goto out;
    for (size_t i = 0; i < p->claims->n; i++) {
        const tes_mdoc_claim *c = &p->claims->items[i];
        if (n_groups == 0 || strcmp(groups[n_groups - 1].ns, c->ns) != 0)
            groups[n_groups++] = (ns_group){.ns = c->ns, .first = i};
        groups[n_groups - 1].count++;
    }
    /* items and digests, in random digest-ID order per namespace */
    for (size_t g = 0; g < n_groups && e == TES_OK; g++) {
        ns_group *gr = &groups[g];
        size_t total = gr->count + p->decoys;
        gr->ids = calloc(total, sizeof(*gr->ids));
        gr->digests = calloc(total, sizeof(*gr->digests));
        if (gr->ids == NULL || gr->digests == NULL) {
            e = tes_err_set(TES_ERR_NOMEM, "out of memory issuing");
            break;
        }
        for (size_t k = 0; k < total && e == TES_OK; k++) {
            e = random_id(&rp, gr->ids, gr->n_ids, &gr->ids[k]);
            if (e != TES_OK)
                break;
            gr->n_ids++;
            if (k < gr->count) {
                bool first = g == 0 && k == 0;
                e = write_item(&item_bufs[g], &scratch, &p->claims->items[gr->first + k],
                               gr->ids[k], &rp, gr->digests[k],
                               first && (flaws & MDOC_FLAW_SHORT_RANDOM) ? 8 : RANDOM_LEN);
            } else {
                /* a decoy: a digest of random bytes, indistinguishable from a real one */
                uint8_t junk[64];
                e = pool_take(&rp, junk, sizeof(junk));
                if (e == TES_OK)
                    e = tes_digest(TES_HASH_SHA256, TES_BYTES(junk, sizeof(junk)), gr->digests[k]);
            }
        }
    }
    if (e != TES_OK)
        goto out;

    /* Namespaces in deterministic order: by encoded key, i.e. length first. */
    size_t *order = calloc(n_groups ? n_groups : 1, sizeof(*order));
    if (order == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory issuing");
        goto out;
    }
    for (size_t g = 0; g < n_groups; g++) {
        size_t j = g;
        size_t lg = strlen(groups[g].ns);
        while (j > 0) {
            const char *prev = groups[order[j - 1]].ns;
            size_t lp = strlen(prev);
            if (lp < lg || (lp == lg && strcmp(prev, groups[g].ns) < 0))
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = g;
    }

    /* the MSO, its keys written in deterministic order: "status", "docType",
     * "version", "validityInfo", "valueDigests", "deviceKeyInfo", "digestAlgorithm" */
    tes_cbor_enc me = {.out = &mso};
    bool status = p->status_uri != NULL || (flaws & MDOC_FLAW_MSO_STATUS);
    bool validity = !(flaws & MDOC_FLAW_MSO_NO_VALIDITY);
    tes_cbor_enc_map(&me, 5 + status + validity);
    if (flaws & MDOC_FLAW_MSO_STATUS) {
        tes_cbor_enc_cstr(&me, "status");
        tes_cbor_enc_map(&me, 0);
    } else if (status) {
        tes_cbor_enc_cstr(&me, "status");
        tes_cbor_enc_map(&me, 1);
        tes_cbor_enc_cstr(&me, "status_list");
        tes_cbor_enc_map(&me, 2);
        tes_cbor_enc_cstr(&me, "idx");
        tes_cbor_enc_uint(&me, p->status_idx);
        tes_cbor_enc_cstr(&me, "uri");
        tes_cbor_enc_cstr(&me, p->status_uri);
    }
    tes_cbor_enc_cstr(&me, "docType");
    tes_cbor_enc_cstr(&me, flaws & MDOC_FLAW_MSO_DOCTYPE ? "org.example.other" : p->doctype);
    tes_cbor_enc_cstr(&me, "version");
    tes_cbor_enc_cstr(&me, flaws & MDOC_FLAW_MSO_VERSION ? "2.0" : "1.0");
    if (validity) {
        tes_cbor_enc_cstr(&me, "validityInfo");
        tes_cbor_enc_map(&me, 3);
        tes_cbor_enc_cstr(&me, "signed");
        mdoc_enc_tdate(&me, p->signed_at);
        tes_cbor_enc_cstr(&me, "validFrom");
        mdoc_enc_tdate(&me, p->valid_from);
        tes_cbor_enc_cstr(&me, "validUntil");
        mdoc_enc_tdate(&me, p->valid_until);
    }
    tes_cbor_enc_cstr(&me, "valueDigests");
    tes_cbor_enc_map(&me, n_groups);
    for (size_t o = 0; o < n_groups; o++) {
        size_t g = order[o];
        tes_cbor_enc_cstr(&me, groups[g].ns);
        size_t m = tes_cbor_enc_pos(&me);
        size_t skip = g == 0 && (flaws & MDOC_FLAW_DIGEST_OMIT) ? 1 : 0;
        tes_cbor_enc_map(&me, groups[g].n_ids - skip);
        for (size_t k = skip; k < groups[g].n_ids; k++) {
            tes_cbor_enc_uint(&me, groups[g].ids[k]);
            tes_cbor_enc_bytes(&me, groups[g].digests[k], 32);
        }
        tes_cbor_enc_sort_map(&me, m); /* digest IDs in numeric order */
    }
    tes_cbor_enc_cstr(&me, "deviceKeyInfo");
    tes_cbor_enc_map(&me, 1);
    tes_cbor_enc_cstr(&me, "deviceKey");
    if (flaws & MDOC_FLAW_MSO_DEVICE_KEY) {
        tes_cbor_enc_map(&me, 4);
        tes_cbor_enc_uint(&me, 1);
        tes_cbor_enc_uint(&me, 2);
        tes_cbor_enc_int(&me, -1);
        tes_cbor_enc_uint(&me, 99);
        tes_cbor_enc_int(&me, -2);
        tes_cbor_enc_bytes(&me, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32);
        tes_cbor_enc_int(&me, -3);
        tes_cbor_enc_bytes(&me, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", 32);
    } else {
        tes_cose_key_write(&me, p->device_key);
    }
    tes_cbor_enc_cstr(&me, "digestAlgorithm");
    tes_cbor_enc_cstr(&me, flaws & MDOC_FLAW_MSO_DIGEST_ALG ? "MD5" : "SHA-256");
    e = tes_cbor_enc_finish(&me);
    if (e != TES_OK) {
        free(order);
        goto out;
    }
    tes_cbor_enc be = {.out = &msob};
    if (flaws & MDOC_FLAW_MSO_UNTAGGED) {
        tes_cbor_enc_raw(&be, tes_buf_bytes(&mso));
    } else {
        tes_cbor_enc_tag(&be, 24);
        tes_cbor_enc_bytes(&be, mso.ptr, mso.len);
    }
    tes_cbor_enc ae = {.out = &auth};
    if (tes_cbor_enc_finish(&be) == TES_OK)
        tes_cose_sign1_write(&ae, p->issuer, tes_buf_bytes(&msob), false, p->ds_chain,
                             flaws & MDOC_FLAW_NO_X5CHAIN ? 0 : p->ds_chain_len, TES_BYTES(NULL, 0),
                             false);
    else
        ae.err = be.err;
    e = tes_cbor_enc_finish(&ae);
    if (e != TES_OK)
        goto out;
    if (flaws & MDOC_FLAW_ISSUER_SIG)
        auth.ptr[auth.len - 1] ^= 0x01; /* the signature is the last item */
    if ((flaws & MDOC_FLAW_ISSUER_ALG) && auth.len > 5 && auth.ptr[1] == 0x43 && auth.ptr[4] == 0x26)
        auth.ptr[4] = 0x20; /* protected 43 a1 01 26 (ES256) becomes alg -1 */

    /* the stored credential, keys in deterministic order:
     * {"docType": T, "issuerSigned": {"issuerAuth": .., "nameSpaces": ..}} */
    tes_cbor_enc oe = {.out = out};
    /* reserve the whole size once: the items (the portrait) are copied once */
    size_t extra = auth.len + 64 + strlen(p->doctype), before = out->len;
    for (size_t g = 0; g < n_groups; g++)
        extra += item_bufs[g].len + strlen(groups[g].ns) + 16;
    if (tes_buf_extend(out, extra) != NULL)
        out->len = before;
    tes_cbor_enc_map(&oe, 2);
    tes_cbor_enc_cstr(&oe, "docType");
    tes_cbor_enc_cstr(&oe, p->doctype);
    tes_cbor_enc_cstr(&oe, "issuerSigned");
    tes_cbor_enc_map(&oe, 2);
    tes_cbor_enc_cstr(&oe, "issuerAuth");
    tes_cbor_enc_raw(&oe, tes_buf_bytes(&auth));
    tes_cbor_enc_cstr(&oe, "nameSpaces");
    tes_cbor_enc_map(&oe, n_groups);
    for (size_t o = 0; o < n_groups; o++) {
        size_t g = order[o];
        tes_cbor_enc_cstr(&oe, groups[g].ns);
        tes_cbor_enc_array(&oe, groups[g].count);
        tes_cbor_enc_raw(&oe, tes_buf_bytes(&item_bufs[g]));
    }
    free(order);
    e = tes_cbor_enc_finish(&oe);
out:
    if (groups)
        for (size_t g = 0; g < n_groups; g++) {
            free(groups[g].ids);
            free(groups[g].digests);
        }
    if (item_bufs)
        for (size_t g = 0; g < p->claims->n; g++)
            tes_buf_free(&item_bufs[g]);
    free(groups);
    free(item_bufs);
    if (rp.bytes)
        tes_wipe(rp.bytes, rp.len);
    free(rp.bytes);
    tes_buf_free(&scratch);
    tes_buf_free(&mso);
    tes_buf_free(&msob);
    tes_buf_free(&auth);
    return e;
}
