/*
 * se/p11_pseudonym.c — per-site pseudonyms on a PKCS#11 token
 * (tes_se_pseudonym, docs/PSEUDONYM.md).
 *
 * The pseudonym key is one P-256 private key on the token, made on first use
 * with CKM_EC_KEY_PAIR_GEN: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE true,
 * CKA_EXTRACTABLE false, CKA_DERIVE true, CKA_SIGN false, CKA_LABEL
 * "tessera pseudonym v1" and CKA_ID "tessera-pseudonym" (17 bytes: never one
 * of the 16-byte ids of credential keys, so sign, key agreement, listing and
 * deletion cannot name it). Its public half is a session object destroyed at
 * once: the wallet's pseudonym public key is never kept or shown (whoever had
 * it and a site's private key could compute that site's pseudonym). The x
 * coordinate of sk * PK_site comes from CKM_ECDH1_DERIVE as for key
 * agreement (its value leaves the token for the hash and is wiped); the PIN
 * is checked through Tessera's counter on every call, as for keys with user
 * verification.
 */
#include "se/p11_internal.h"

#define PSEUD_LABEL "tessera pseudonym v1"
#define PSEUD_ID "tessera-pseudonym"

/* DER of OID 1.2.840.10045.3.1.7 (prime256v1 / P-256). */
static tes_err find_pseud(p11_se *s, CK_OBJECT_HANDLE *h, bool *found)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_ID, (void *)PSEUD_ID, sizeof PSEUD_ID - 1},
        {CKA_LABEL, (void *)PSEUD_LABEL, sizeof PSEUD_LABEL - 1},
    };
    return p11_find_one(s, t, 3, "pseudonym key", h, found);
}

static tes_err create_pseud(p11_se *s, CK_OBJECT_HANDLE *h)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_ATTRIBUTE pub[] = {
        {CKA_CLASS, &pubc, sizeof pubc},
        {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_EC_PARAMS, (void *)p11_p256_oid, sizeof p11_p256_oid},
        {CKA_TOKEN, &no, sizeof no},
        {CKA_PRIVATE, &yes, sizeof yes},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_CLASS, &privc, sizeof privc},
        {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_DERIVE, &yes, sizeof yes},
        {CKA_SIGN, &no, sizeof no},
        {CKA_ID, (void *)PSEUD_ID, sizeof PSEUD_ID - 1},
        {CKA_LABEL, (void *)PSEUD_LABEL, sizeof PSEUD_LABEL - 1},
    };
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE;
    CK_RV rv = s->m->C_GenerateKeyPair(s->sess, &mech, pub, sizeof pub / sizeof pub[0], priv,
                                       sizeof priv / sizeof priv[0], &hpub, h);
    if (rv != CKR_OK) {
        if (rv == CKR_USER_NOT_LOGGED_IN)
            s->logged_in = false;
        return p11_fail(rv, "C_GenerateKeyPair (pseudonym key, P-256)");
    }
    rv = s->m->C_DestroyObject(s->sess, hpub);
    if (rv != CKR_OK)
        return p11_fail(rv, "C_DestroyObject (public half of the pseudonym key)");
    return TES_OK;
}

tes_err p11_pseudonym_locked(p11_se *s, const char *pin, tes_bytes site_key, uint8_t out[32])
{
    tes_key *site = NULL;
    tes_err e = se_pseudonym_site_key(site_key, &site); /* a bad key costs no try */
    tes_key_free(site);
    if (e)
        return e;
    if (!s->can_ecdh)
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "PKCS#11 token '%s' does not offer CKM_ECDH1_DERIVE: no pseudonyms",
                           s->label);
    if (pin == NULL)
        return tes_err_set(TES_ERR_PIN_REQUIRED, "a pseudonym needs the holder's PIN");
    if ((e = p11_check_pin(pin)) != TES_OK || (e = p11_state_load(s)) != TES_OK)
        return e;
    p11_keyflags gate = {.id = "pseudonym", .uv = true};
    if ((e = p11_gate_key(s, gate.id, &gate, pin)) != TES_OK)
        return e;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    bool found = false;
    if ((e = find_pseud(s, &h, &found)) != TES_OK)
        return e;
    if (!found && (e = create_pseud(s, &h)) != TES_OK)
        return e;
    uint8_t z[32];
    if ((e = p11_ecdh_derive(s, h, site_key.ptr, "pseudonym", z)) == TES_OK)
        e = se_pseudonym_finish(z, site_key, out);
    tes_wipe(z, sizeof z);
    return e;
}
