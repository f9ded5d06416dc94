/* The holder's enrolment over OpenID4VCI (tes_wallet_enrol, wallet.h): the
 * PIN checked before the one-time offer is redeemed, one key per copy made
 * and attested in the wallet's secure element, the copies obtained
 * (oid4vci.c) and stored as one credential through tes_wallet_add, the keys
 * of a failed enrolment deleted again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/wallet.h"

#define TX_CODE_MAX 16

typedef struct enrol_ctx {
    tes_se *se;
    const char *pin;
    tes_se_key_opts ko;
    char (*created)[TES_SE_ID_MAX]; /* keys made so far */
    size_t n_created, cap;
    char device[65]; /* from the first attestation ("" none) */
    bool device_differs;
} enrol_ctx;

/* Notes the device id of one attestation: the first one seen, or that they differ. */
static void note_device(enrol_ctx *c, tes_err found, const char dev[65])
{
    if (found != TES_OK)
        return;
    if (c->device[0] == '\0')
        memcpy(c->device, dev, 65);
    else if (strcmp(c->device, dev) != 0)
        c->device_differs = true;
}

/* OpenID4VCI 1.0 key attestation (Appendix D.1), signed inside the secure element. */
static tes_err key_attest_jwt(void *ctx, const char *const *key_ids, size_t n, const char *nonce,
                              tes_buf *jwt)
{
    enrol_ctx *c = ctx;
    size_t before = jwt->len;
    tes_err e = tes_se_attest_jwt(c->se, key_ids, n, nonce, jwt);
    char dev[65];
    if (e == TES_OK)
        note_device(c, tes_se_device_id_jwt(TES_BYTES(jwt->ptr + before, jwt->len - before), dev),
                    dev);
    return e;
}

static tes_err key_create(void *ctx, tes_bytes challenge, char key_id[64], tes_buf *public_key_pem,
                          tes_buf *attestation)
{
    enrol_ctx *c = ctx;
    tes_se *se = c->se;
    if (c->n_created == c->cap)
        return tes_err_set(TES_ERR_ARG, "the issuer's client asked for more keys than copies");
    char id[TES_SE_ID_MAX];
    tes_err e = tes_se_create_key(se, &c->ko, id);
    if (e != TES_OK)
        return e;
    snprintf(c->created[c->n_created++], TES_SE_ID_MAX, "%s", id);
    tes_key *pub = NULL;
    if ((e = tes_se_public_key(se, id, &pub)) != TES_OK)
        return e;
    e = tes_key_to_pem(pub, false, public_key_pem);
    tes_key_free(pub);
    if (e != TES_OK)
        return e;
    /* Without an attestation the issuer may still accept the key (a
     * development service); one that requires it answers invalid_proof. An
     * empty challenge: the client sends a key attestation JWT instead. */
    if (challenge.len > 0 && se->ops->attest != NULL &&
        (e = se->ops->attest(se, id, challenge, attestation)) != TES_OK)
        return e;
    char dev[65];
    if (attestation->len > 0)
        note_device(c, tes_se_device_id(tes_buf_bytes(attestation), dev), dev);
    if (strlen(id) >= 64)
        return tes_err_set(TES_ERR_ARG, "key id %s too long for the client", id);
    snprintf(key_id, 64, "%s", id);
    return TES_OK;
}

static tes_err key_sign(void *ctx, const char *key_id, tes_bytes msg, uint8_t sig[64])
{
    enrol_ctx *c = ctx;
    uint8_t raw[TES_MAX_SIG];
    size_t len = sizeof(raw);
    tes_err e = tes_se_sign(c->se, key_id, c->pin, msg, raw, &len);
    if (e != TES_OK)
        return e;
    if (len != 64)
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "key %s is not a P-256 key (signature of %zu bytes)", key_id, len);
    memcpy(sig, raw, 64);
    return TES_OK;
}

static bool is_kept(char (*kept)[64], size_t n, const char *id)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(kept[k], id) == 0)
            return true;
    return false;
}

/* Deletes the keys made and not kept; false when the SE refused one (its id
 * into stuck). */
static bool delete_unkept(enrol_ctx *c, char (*kept)[64], size_t n_kept, char stuck[TES_SE_ID_MAX])
{
    bool all = true;
    for (size_t i = 0; i < c->n_created; i++)
        if (!is_kept(kept, n_kept, c->created[i]) &&
            c->se->ops->delete_key(c->se, c->created[i]) != TES_OK) {
            snprintf(stuck, TES_SE_ID_MAX, "%s", c->created[i]);
            all = false;
        }
    return all;
}

/* The PIN (before the offer is redeemed) and the proof form the SE can make. */
static tes_err check_first(tes_se *se, const tes_wallet_enrol_opts *o, bool *jwt_attest)
{
    int pin_left = 0, puk_left = 0;
    bool pin_set = false;
    tes_err e = se->ops->pin_status(se, &pin_left, &puk_left, &pin_set);
    if (e != TES_OK)
        return e;
    if (!pin_set)
        return tes_err_set(TES_ERR_PIN_NOT_SET,
                           "the wallet has no PIN yet: the copies' keys need the PIN");
    if ((e = se->ops->pin_verify(se, o->pin)) != TES_OK)
        return e;
    /* A secure element without key attestation JWTs (PKCS#11) keeps to the x5c form. */
    *jwt_attest = se->ops->size >= sizeof(tes_se_ops) && se->ops->attest_jwt != NULL;
    if (!*jwt_attest && (o->proof == TES_OID4VCI_PROOF_KEY_ATTESTATION ||
                         o->proof == TES_OID4VCI_PROOF_ATTESTATION))
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "the %s secure element makes no key attestation JWTs", se->ops->name);
    return TES_OK;
}

static tes_err check_opts(const tes_wallet_enrol_opts *o, size_t copies)
{
    if (o->offer_uri == NULL || *o->offer_uri == '\0')
        return tes_err_set(TES_ERR_ARG, "tes_wallet_enrol: no offer URI");
    if (o->pin == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_enrol: no PIN (the copies' keys need it)");
    if (copies > TES_WALLET_MAX_COPIES)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_enrol: 1..%d copies, not %zu",
                           TES_WALLET_MAX_COPIES, copies);
    if (o->tx_code != NULL && (*o->tx_code == '\0' || strlen(o->tx_code) > TX_CODE_MAX))
        return tes_err_set(TES_ERR_ARG, "the transaction code must be 1..%d characters",
                           TX_CODE_MAX);
    if (o->display_name != NULL && *o->display_name == '\0')
        return tes_err_set(TES_ERR_ARG, "the display name must not be empty");
    switch (o->proof) {
    case TES_OID4VCI_PROOF_AUTO:
    case TES_OID4VCI_PROOF_X5C:
    case TES_OID4VCI_PROOF_KEY_ATTESTATION:
    case TES_OID4VCI_PROOF_ATTESTATION:
        return TES_OK;
    }
    return tes_err_set(TES_ERR_ARG, "tes_wallet_enrol: unknown proof form %d", (int)o->proof);
}

tes_err tes_wallet_enrol(tes_wallet *w, const tes_wallet_enrol_opts *o, tes_wallet_enrol_result *r)
{
    if (r != NULL)
        memset(r, 0, sizeof *r);
    if (w == NULL || o == NULL || r == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_enrol: NULL argument");
    size_t copies = o->copies ? o->copies : 1;
    tes_err e = check_opts(o, copies);
    bool jwt_attest = false;
    if (e != TES_OK || (e = check_first(tes_wallet_se(w), o, &jwt_attest)) != TES_OK)
        return e;
    /* Every copy's key needs the PIN; none is single-use in the SE (the proof
     * of possession is its first signature): tes_wallet_copy_use. */
    enrol_ctx ctx = {
        .se = tes_wallet_se(w), .pin = o->pin, .ko = {.user_verification = true}, .cap = copies};
    tes_buf *mdocs = NULL;
    char(*key_ids)[64] = NULL;
    size_t n = 0;
    tes_bytes *bytes = NULL;
    const char **ids = NULL;
    bool answered = false;
    if ((ctx.created = calloc(copies, TES_SE_ID_MAX)) == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    const tes_oid4vci_keys keys = {.create = key_create, .sign = key_sign, .ctx = &ctx};
    const tes_oid4vci_proof_opts proof = {
        .form = o->proof, .key_attestation = jwt_attest ? key_attest_jwt : NULL, .clock = o->clock};
    if ((e = tes_oid4vci_obtain_with(o->offer_uri, o->tx_code, copies, &keys, &proof, &mdocs,
                                     &key_ids, &n)) != TES_OK)
        goto out;
    answered = true;
    if (n == 0 || n > copies) {
        e = tes_err_set(TES_ERR_HTTP_REQUEST, "the issuer returned %zu credentials for %zu keys", n,
                        copies);
        goto out;
    }
    bytes = calloc(n, sizeof *bytes);
    ids = calloc(n, sizeof *ids);
    if (bytes == NULL || ids == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bytes[i] = tes_buf_bytes(&mdocs[i]);
        ids[i] = key_ids[i];
    }
    const tes_wallet_add_opts ao = {
        .display_name = o->display_name,
        .copy_use = n > 1 ? TES_WALLET_COPIES_SINGLE_USE : TES_WALLET_COPIES_AS_KEYS,
        .key_ids = ids,
    };
    if ((e = tes_wallet_add(w, bytes, n, &ao, &r->cred_id, NULL)) != TES_OK)
        goto out;
    tes_store_cred *cred = NULL;
    if (tes_wallet_credential(w, r->cred_id, &cred) == TES_OK) {
        r->valid_from = cred->valid_from;
        r->valid_until = cred->valid_until;
        r->single_use = cred->single_use;
        r->needs_pin = cred->needs_pin;
    }
    tes_store_creds_free(cred, cred ? 1 : 0);
    r->copies = n;
    memcpy(r->device_id, ctx.device, sizeof r->device_id);
    r->device_ids_differ = ctx.device_differs;
out:;
    /* Nothing stored: every key made is of no use; stored: the keys the issuer
     * issued nothing for. */
    char stuck[TES_SE_ID_MAX] = "";
    bool cleaned = ctx.created == NULL || delete_unkept(&ctx, key_ids, e == TES_OK ? n : 0, stuck);
    if (e != TES_OK) {
        memset(r, 0, sizeof *r);
        if (answered) {
            char why[768];
            snprintf(why, sizeof why, "%s", tes_err_message());
            if (cleaned)
                e = tes_err_set(e,
                                "%s (nothing stored; the %zu key%s made for it deleted from the "
                                "secure element)",
                                why, ctx.n_created, ctx.n_created == 1 ? "" : "s");
            else
                e = tes_err_set(e,
                                "%s (nothing stored; the secure element kept key %s made for it: "
                                "it serves no credential)",
                                why, stuck);
        }
    }
    if (mdocs != NULL)
        for (size_t i = 0; i < n; i++)
            tes_buf_free(&mdocs[i]);
    free(mdocs);
    free(key_ids);
    free(bytes);
    free(ids);
    free(ctx.created);
    return e;
}

tes_err tes_wallet_report_lost(const char *issuer_url, const char *recovery_code,
                               const char *device_id, size_t *n_suspended)
{
    return tes_oid4vci_report_lost(issuer_url, recovery_code, device_id, n_suspended);
}
