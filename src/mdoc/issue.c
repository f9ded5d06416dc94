/* Issuing: IssuerSignedItems, the MSO and its COSE_Sign1 (18013-5 §9.1.2). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc_internal.h"

#define RANDOM_LEN 32
#define MAX_DIGEST_ID 0x7fffffffu

static size_t put_text(uint8_t *p, const char *s, size_t n)
{
    size_t h = tes_cbor_put_head(p, 0x60, n);
    memcpy(p + h, s, n);
    return h + n;
}

/* A digest ID and the digest it names in the MSO (real item or decoy). */
typedef struct digest_rec {
    uint32_t id;
    uint8_t dg[32];
} digest_rec;

/* One IssuerSignedItemBytes, 24(bstr({"random", "digestID", "elementValue",
 * "elementIdentifier"})), keys in deterministic order (bytewise order of their
 * encodings), held as the bytes around the claim's value and name so that
 * neither is copied before it goes into the output: pre || value || suf || name. */
#define ITEM_PRE_MAX (2 + 9 + 1 + 7 + 2 + RANDOM_LEN + 9 + 5 + 13)
#define ITEM_SUF_MAX (18 + 9)
typedef struct item_rec {
    const tes_mdoc_claim *c;
    size_t name_len;
    size_t total; /* all four pieces */
    uint8_t pre_len, suf_len;
    uint8_t pre[ITEM_PRE_MAX];
    uint8_t suf[ITEM_SUF_MAX];
} item_rec;

typedef struct ns_group {
    const char *ns;
    size_t ns_len;
    size_t first, count; /* claims[first .. first+count) (claims are sorted by ns) */
    digest_rec *dg;      /* real items (claim order), then decoys */
    size_t n_ids;
    size_t items_len; /* encoded size of its items */
} ns_group;

static bool id_used(const digest_rec *d, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (d[i].id == id)
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

static tes_err random_id(rand_pool *rp, const digest_rec *d, size_t n, uint32_t *out)
{
    for (int tries = 0; tries < 64; tries++) {
        uint8_t r[4];
        tes_err e = pool_take(rp, r, sizeof(r));
        if (e != TES_OK)
            return e;
        uint32_t id = ((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3]) &
                      MAX_DIGEST_ID;
        if (!id_used(d, n, id)) {
            *out = id;
            return TES_OK;
        }
    }
    return tes_err_set(TES_ERR_RANDOM, "the random source repeats itself");
}

/* Lays out the item for claim c (salt rnd[0..rnd_len), digest ID id) and
 * computes its digest over the pieces, without assembling them. */
static tes_err make_item(item_rec *it, const tes_mdoc_claim *c, uint32_t id, const uint8_t *rnd,
                         size_t rnd_len, uint8_t dg[32])
{
    static const char k_random[] = "random", k_id[] = "digestID", k_value[] = "elementValue",
                      k_ident[] = "elementIdentifier";
    size_t vlen = c->value.len, nlen = strlen(c->name);
    if (vlen > SIZE_MAX / 4 || nlen > SIZE_MAX / 4)
        return tes_err_set(TES_ERR_ARG, "claim too large");
    size_t inner = 1 + 7 + tes_cbor_head_size(rnd_len) + rnd_len + 9 + tes_cbor_head_size(id) + 13 +
                   vlen + 18 + tes_cbor_head_size(nlen) + nlen;
    uint8_t *p = it->pre;
    *p++ = 0xd8; /* tag 24 */
    *p++ = 24;
    p += tes_cbor_put_head(p, 0x40, inner);
    *p++ = 0xa4; /* map of 4 */
    p += put_text(p, k_random, sizeof k_random - 1);
    p += tes_cbor_put_head(p, 0x40, rnd_len);
    memcpy(p, rnd, rnd_len);
    p += rnd_len;
    p += put_text(p, k_id, sizeof k_id - 1);
    p += tes_cbor_put_head(p, 0x00, id);
    p += put_text(p, k_value, sizeof k_value - 1);
    it->pre_len = (uint8_t)(p - it->pre);
    p = it->suf;
    p += put_text(p, k_ident, sizeof k_ident - 1);
    p += tes_cbor_put_head(p, 0x60, nlen);
    it->suf_len = (uint8_t)(p - it->suf);
    it->c = c;
    it->name_len = nlen;
    it->total = 2 + tes_cbor_head_size(inner) + inner;
    tes_bytes parts[4] = {TES_BYTES(it->pre, it->pre_len), tes_buf_bytes(&c->value),
                          TES_BYTES(it->suf, it->suf_len), TES_BYTES(c->name, nlen)};
    return tes_digest_parts(TES_HASH_SHA256, parts, 4, dg);
}

static void put_item(tes_buf *out, const item_rec *it)
{
    tes_buf_append(out, it->pre, it->pre_len);
    tes_buf_append(out, it->c->value.ptr, it->c->value.len);
    tes_buf_append(out, it->suf, it->suf_len);
    tes_buf_append(out, it->c->name, it->name_len);
}

static int digest_rec_cmp(const void *a, const void *b)
{
    uint32_t x = ((const digest_rec *)a)->id, y = ((const digest_rec *)b)->id;
    return x < y ? -1 : x > y;
}

/* Digest IDs in numeric order, which for unsigned integers is also the
 * bytewise order of their shortest encodings (deterministic CBOR). */
static void sort_digests(digest_rec *d, size_t n)
{
    if (n > 32) {
        qsort(d, n, sizeof *d, digest_rec_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        digest_rec t = d[i];
        size_t j = i;
        for (; j > 0 && d[j - 1].id > t.id; j--)
            d[j] = d[j - 1];
        d[j] = t;
    }
}

/* Room before the MSO in its buffer: 24(bstr head) and the Sig_structure's
 * heads go there, so the MSO is signed where it was written. */
#define MSO_ROOM (TES_COSE_SIGN1_ROOM + 2 + 9)

/* Per-issuance working memory kept on the stack up to this size. */
#define ARENA_STACK 4096

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* device_namespaces: at most TES_MDOC_MAX_DEVICE_NAMESPACES non-empty,
 * distinct strings. */
static tes_err check_device_namespaces(const tes_mdoc_issue_params *p)
{
    size_t n = p->n_device_namespaces;
    if (n == 0)
        return TES_OK;
    if (p->device_namespaces == NULL || n > TES_MDOC_MAX_DEVICE_NAMESPACES)
        return tes_err_set(TES_ERR_ARG, "device_namespaces: 1 to %d namespaces",
                           TES_MDOC_MAX_DEVICE_NAMESPACES);
    for (size_t i = 0; i < n; i++) {
        const char *ns = p->device_namespaces[i];
        if (ns == NULL || ns[0] == '\0' || strlen(ns) > 255)
            return tes_err_set(TES_ERR_ARG, "device_namespaces[%zu] is empty or too long", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->device_namespaces[j], ns) == 0)
                return tes_err_set(TES_ERR_ARG, "device_namespaces names '%s' twice", ns);
    }
    return TES_OK;
}

/* DeviceKeyInfo = {"deviceKey": COSE_Key, ? "keyAuthorizations": {"nameSpaces": [+ tstr]}} */
static void enc_device_key_info(tes_cbor_enc *me, const tes_mdoc_issue_params *p, unsigned flaws)
{
    (void)flaws;
    bool auth = p->n_device_namespaces > 0;
    tes_cbor_enc_map(me, 1 + auth);
    tes_cbor_enc_cstr(me, "deviceKey");
    if (MDOC_FLAW(flaws, MDOC_FLAW_MSO_DEVICE_KEY)) {
        tes_cbor_enc_map(me, 4);
        tes_cbor_enc_uint(me, 1);
        tes_cbor_enc_uint(me, 2);
        tes_cbor_enc_int(me, -1);
        tes_cbor_enc_uint(me, 99);
        tes_cbor_enc_int(me, -2);
        tes_cbor_enc_bytes(me, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32);
        tes_cbor_enc_int(me, -3);
        tes_cbor_enc_bytes(me, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", 32);
    } else {
        tes_cose_key_write(me, p->device_key);
    }
    if (!auth)
        return;
    tes_cbor_enc_cstr(me, "keyAuthorizations");
    tes_cbor_enc_map(me, 1);
    tes_cbor_enc_cstr(me, "nameSpaces");
    tes_cbor_enc_array(me, p->n_device_namespaces);
    for (size_t i = 0; i < p->n_device_namespaces; i++)
        tes_cbor_enc_cstr(me, p->device_namespaces[i]);
}

/* Issues the credential; `flaws` (mdoc_internal.h, "Test hooks") is read only in
 * the test build: elsewhere every MDOC_FLAW() is false and the flaws are dead code. */
static tes_err issue(const tes_mdoc_issue_params *p, unsigned flaws, tes_buf *out)
{
    (void)flaws;
    if (p == NULL || p->doctype == NULL || p->claims == NULL || p->device_key == NULL ||
        p->issuer == NULL || p->ds_chain_len == 0 || p->ds_chain == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_mdoc_issue: missing parameter");
    if (p->valid_until <= p->valid_from)
        return tes_err_set(TES_ERR_ARG, "validUntil must be after validFrom");
    tes_err e0 = check_device_namespaces(p);
    if (e0 != TES_OK)
        return e0;
    const tes_mdoc_claim *claims = p->claims->items;
    size_t n = p->claims->n, n_groups = 0;
    if (n > 0 && claims == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_mdoc_issue: missing parameter");
    for (size_t i = 0; i < n; i++) {
        int c = i == 0 ? 1 : strcmp(claims[i - 1].ns, claims[i].ns);
        if (c > 0 && i > 0)
            return tes_err_set(TES_ERR_ARG, "claims must be grouped by namespace in order");
        n_groups += c != 0;
    }
    /* per item a salt and an ID, per decoy an ID and 64 bytes */
    if (p->decoys > (SIZE_MAX / 256 - n) / (n_groups ? n_groups : 1))
        return tes_err_set(TES_ERR_ARG, "too many decoys");
    size_t n_dg = n + n_groups * p->decoys;
    tes_rng sys = tes_rng_system();
    rand_pool rp = {.rng = p->rng ? p->rng : &sys,
                    .len = n * (RANDOM_LEN + 4) + n_groups * p->decoys * (4 + 64)};

    /* everything per issuance in one block: on the stack for a usual credential
     * (an mDL of ten elements takes about 2.2 kB), else one allocation */
    size_t sz_groups = align16(n_groups * sizeof(ns_group)),
           sz_order = align16(n_groups * sizeof(size_t)), sz_items = align16(n * sizeof(item_rec)),
           sz_dg = align16(n_dg * sizeof(digest_rec));
    size_t arena_len = sz_groups + sz_order + sz_items + sz_dg + rp.len;
    union {
        max_align_t align;
        uint8_t bytes[ARENA_STACK];
    } stack_arena;
    uint8_t *arena = arena_len <= sizeof stack_arena ? stack_arena.bytes : malloc(arena_len);
    tes_buf tbs = {0};
    size_t before = out->len;
    tes_err e = TES_OK;
    if (arena == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory issuing");
        goto done;
    }
    ns_group *groups = (ns_group *)arena;
    size_t *order = (size_t *)(arena + sz_groups);
    item_rec *items = (item_rec *)(arena + sz_groups + sz_order);
    digest_rec *dgs = (digest_rec *)(arena + sz_groups + sz_order + sz_items);
    rp.bytes = arena + sz_groups + sz_order + sz_items + sz_dg;
    e = tes_rng_fill(rp.rng, rp.bytes, rp.len);
    if (e != TES_OK)
        goto done;

    /* group claims by namespace */
    for (size_t i = 0, g = 0, off = 0; i < n; i++) {
        if (i == 0 || strcmp(groups[g - 1].ns, claims[i].ns) != 0) {
            groups[g] = (ns_group){
                .ns = claims[i].ns, .ns_len = strlen(claims[i].ns), .first = i, .dg = dgs + off};
            g++;
        }
        groups[g - 1].count++;
        off += 1 + (groups[g - 1].count == 1 ? p->decoys : 0);
    }
    /* items and digests, in random digest-ID order per namespace */
    for (size_t g = 0; g < n_groups && e == TES_OK; g++) {
        ns_group *gr = &groups[g];
        size_t total = gr->count + p->decoys;
        for (size_t k = 0; k < total && e == TES_OK; k++) {
            digest_rec *d = &gr->dg[k];
            e = random_id(&rp, gr->dg, gr->n_ids, &d->id);
            if (e != TES_OK)
                break;
            gr->n_ids++;
            if (k < gr->count) {
                bool first = g == 0 && k == 0;
                uint8_t rnd[RANDOM_LEN];
                e = pool_take(&rp, rnd, sizeof(rnd));
                if (e == TES_OK) {
                    item_rec *it = &items[gr->first + k];
                    bool short_random = first && MDOC_FLAW(flaws, MDOC_FLAW_SHORT_RANDOM);
                    e = make_item(it, &claims[gr->first + k], d->id, rnd,
                                  short_random ? 8 : RANDOM_LEN, d->dg);
                    gr->items_len += it->total;
                }
                tes_wipe(rnd, sizeof(rnd));
            } else {
                /* a decoy: a digest of random bytes, indistinguishable from a real one */
                uint8_t junk[64];
                e = pool_take(&rp, junk, sizeof(junk));
                if (e == TES_OK)
                    e = tes_digest(TES_HASH_SHA256, TES_BYTES(junk, sizeof(junk)), d->dg);
            }
        }
    }
    if (e != TES_OK)
        goto done;

    /* Namespaces in deterministic order: by encoded key, i.e. length first. */
    for (size_t g = 0; g < n_groups; g++) {
        size_t j = g;
        size_t lg = groups[g].ns_len;
        while (j > 0) {
            const ns_group *prev = &groups[order[j - 1]];
            if (prev->ns_len < lg || (prev->ns_len == lg && strcmp(prev->ns, groups[g].ns) < 0))
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = g;
    }

    /* The MSO, written after room for the heads that make it the signed
     * Sig_structure; its keys in deterministic order: "status", "docType",
     * "version", "validityInfo", "valueDigests", "deviceKeyInfo", "digestAlgorithm" */
    size_t est = MSO_ROOM + 512 + strlen(p->doctype) + (p->status_uri ? strlen(p->status_uri) : 0);
    for (size_t g = 0; g < n_groups; g++)
        est += groups[g].ns_len + 20 + groups[g].n_ids * (5 + 2 + 32);
    for (size_t k = 0; k < p->n_device_namespaces; k++)
        est += 32 + strlen(p->device_namespaces[k]);
    if (tes_buf_extend(&tbs, est) == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory issuing");
        goto done;
    }
    tbs.len = MSO_ROOM;
    tes_cbor_enc me = {.out = &tbs};
    bool status = p->status_uri != NULL || MDOC_FLAW(flaws, MDOC_FLAW_MSO_STATUS);
    bool validity = !MDOC_FLAW(flaws, MDOC_FLAW_MSO_NO_VALIDITY);
    tes_cbor_enc_map(&me, 5 + status + validity);
    if (MDOC_FLAW(flaws, MDOC_FLAW_MSO_STATUS)) {
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
    tes_cbor_enc_cstr(&me,
                      MDOC_FLAW(flaws, MDOC_FLAW_MSO_DOCTYPE) ? "org.example.other" : p->doctype);
    tes_cbor_enc_cstr(&me, "version");
    tes_cbor_enc_cstr(&me, MDOC_FLAW(flaws, MDOC_FLAW_MSO_VERSION) ? "2.0" : "1.0");
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
        const ns_group *gr = &groups[order[o]];
        tes_cbor_enc_text(&me, gr->ns, gr->ns_len);
        /* the first item's digest (in drawing order) is the one a flaw leaves out */
        size_t skip = order[o] == 0 && MDOC_FLAW(flaws, MDOC_FLAW_DIGEST_OMIT) ? 1 : 0;
        sort_digests(gr->dg + skip, gr->n_ids - skip);
        tes_cbor_enc_map(&me, gr->n_ids - skip);
        for (size_t k = skip; k < gr->n_ids; k++) {
            tes_cbor_enc_uint(&me, gr->dg[k].id);
            tes_cbor_enc_bytes(&me, gr->dg[k].dg, 32);
        }
    }
    tes_cbor_enc_cstr(&me, "deviceKeyInfo");
    enc_device_key_info(&me, p, flaws);
    tes_cbor_enc_cstr(&me, "digestAlgorithm");
    tes_cbor_enc_cstr(&me, MDOC_FLAW(flaws, MDOC_FLAW_MSO_DIGEST_ALG) ? "MD5" : "SHA-256");
    e = tes_cbor_enc_finish(&me);
    if (e != TES_OK)
        goto done;
    /* MobileSecurityObjectBytes = 24(bstr(MSO)), its heads right before the MSO */
    size_t payload_off = MSO_ROOM, mso_len = tbs.len - MSO_ROOM;
    if (!MDOC_FLAW(flaws, MDOC_FLAW_MSO_UNTAGGED)) {
        payload_off -= 2 + tes_cbor_head_size(mso_len);
        tbs.ptr[payload_off] = 0xd8;
        tbs.ptr[payload_off + 1] = 24;
        tes_cbor_put_head(tbs.ptr + payload_off + 2, 0x40, mso_len);
    }

    /* the stored credential, keys in deterministic order:
     * {"docType": T, "issuerSigned": {"issuerAuth": .., "nameSpaces": ..}};
     * its whole size reserved once: the items (the portrait) are copied once */
    size_t chain_len = MDOC_FLAW(flaws, MDOC_FLAW_NO_X5CHAIN) ? 0 : p->ds_chain_len;
    size_t extra = 96 + strlen(p->doctype) + (tbs.len - payload_off) + TES_MAX_SIG;
    for (size_t j = 0; j < chain_len && j < TES_COSE_MAX_CHAIN; j++)
        extra += 9 + p->ds_chain[j].len;
    for (size_t g = 0; g < n_groups; g++)
        extra += groups[g].items_len + groups[g].ns_len + 18;
    if (tes_buf_extend(out, extra) != NULL)
        out->len = before;
    tes_cbor_enc oe = {.out = out};
    tes_cbor_enc_map(&oe, 2);
    tes_cbor_enc_cstr(&oe, "docType");
    tes_cbor_enc_cstr(&oe, p->doctype);
    tes_cbor_enc_cstr(&oe, "issuerSigned");
    tes_cbor_enc_map(&oe, 2);
    tes_cbor_enc_cstr(&oe, "issuerAuth");
    size_t auth = out->len;
    tes_cose_sign1_write_inbuf(&oe, p->issuer, tbs.ptr, payload_off, tbs.len,
                               &(tes_cose_opts){.x5chain = p->ds_chain, .chain_len = chain_len});
    if ((e = tes_cbor_enc_finish(&oe)) != TES_OK)
        goto done;
    uint8_t *a = out->ptr + auth;
    size_t auth_len = out->len - auth;
    if (MDOC_FLAW(flaws, MDOC_FLAW_ISSUER_SIG))
        a[auth_len - 1] ^= 0x01; /* the signature is the last item */
    if (MDOC_FLAW(flaws, MDOC_FLAW_ISSUER_ALG) && auth_len > 5 && a[1] == 0x43 && a[4] == 0x26)
        a[4] = 0x20; /* protected 43 a1 01 26 (ES256) becomes alg -1 */
    tes_cbor_enc_cstr(&oe, "nameSpaces");
    tes_cbor_enc_map(&oe, n_groups);
    for (size_t o = 0; o < n_groups; o++) {
        const ns_group *gr = &groups[order[o]];
        tes_cbor_enc_text(&oe, gr->ns, gr->ns_len);
        tes_cbor_enc_array(&oe, gr->count);
        if (oe.err == TES_OK)
            for (size_t k = 0; k < gr->count; k++)
                put_item(out, &items[gr->first + k]);
    }
    e = tes_cbor_enc_finish(&oe);
done:
    if (e != TES_OK && !out->failed)
        out->len = before;
    if (arena) {
        tes_wipe(arena, arena_len); /* salts */
        if (arena != stack_arena.bytes)
            free(arena);
    }
    tes_buf_free(&tbs);
    return e;
}

tes_err tes_mdoc_issue(const tes_mdoc_issue_params *p, tes_buf *out)
{
    return issue(p, 0, out);
}

#ifdef TES_TEST_HOOKS
tes_err mdoc_issue_flawed(const tes_mdoc_issue_params *p, unsigned flaws, tes_buf *out)
{
    return issue(p, flaws, out);
}
#endif
