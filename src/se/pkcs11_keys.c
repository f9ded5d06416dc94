/*
 * se/pkcs11_keys.c — the key operations of the PKCS#11 backend on the open,
 * locked handle: create, key info, public key, sign, key agreement (ECDH),
 * delete and list. The design (key attributes, ids and labels, login, the
 * flags Tessera keeps) is described at the top of pkcs11.c.
 */
#include <stdio.h>

#include "se/p11_internal.h"

/* DER of OID 1.2.840.10045.3.1.7 (prime256v1 / P-256). */
const uint8_t p11_p256_oid[10] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* Parses a key id; false when it cannot be one of ours. */
static bool id_bytes(const char *id, uint8_t out[P11_ID_LEN])
{
    if (!p11_is_hex_id(id))
        return false;
    for (size_t i = 0; i < P11_ID_LEN; i++)
        out[i] = (uint8_t)(tes_hex_digit(id[2 * i]) << 4 | tes_hex_digit(id[2 * i + 1]));
    return true;
}

tes_err p11_find_one(p11_se *s, CK_ATTRIBUTE *t, CK_ULONG n, const char *what, CK_OBJECT_HANDLE *h,
                     bool *found)
{
    char call[96];
    *found = false;
    CK_RV rv = s->m->C_FindObjectsInit(s->sess, t, n);
    if (rv != CKR_OK) {
        snprintf(call, sizeof call, what[0] ? "C_FindObjectsInit (%s)" : "C_FindObjectsInit%s",
                 what);
        return p11_fail(rv, call);
    }
    CK_ULONG got = 0;
    rv = s->m->C_FindObjects(s->sess, h, 1, &got);
    CK_RV rv2 = s->m->C_FindObjectsFinal(s->sess);
    if (rv != CKR_OK) {
        snprintf(call, sizeof call, what[0] ? "C_FindObjects (%s)" : "C_FindObjects%s", what);
        return p11_fail(rv, call);
    }
    if (rv2 != CKR_OK)
        return p11_fail(rv2, "C_FindObjectsFinal");
    *found = got == 1;
    return TES_OK;
}

/* Finds the object of class cls with CKA_ID id. *found false when none. */
static tes_err find_obj(p11_se *s, CK_OBJECT_CLASS cls, const uint8_t id[P11_ID_LEN],
                        CK_OBJECT_HANDLE *h, bool *found)
{
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_ID, (void *)id, P11_ID_LEN},
    };
    return p11_find_one(s, t, 2, "", h, found);
}

/* Whether key `id` exists (either half visible in the session). */
static tes_err key_exists(p11_se *s, const uint8_t idb[P11_ID_LEN], const char *id)
{
    CK_OBJECT_HANDLE h;
    bool found = false;
    tes_err e = find_obj(s, CKO_PUBLIC_KEY, idb, &h, &found);
    if (e == TES_OK && !found)
        e = find_obj(s, CKO_PRIVATE_KEY, idb, &h, &found);
    if (e)
        return e;
    if (!found)
        return tes_err_set(TES_ERR_KEY_UNKNOWN, "no key '%s' on PKCS#11 token '%s'", id, s->label);
    return TES_OK;
}

tes_err p11_create_key_locked(p11_se *s, const tes_se_key_opts *opts, char id[TES_SE_ID_MAX])
{
    if (id == NULL)
        return tes_err_set(TES_ERR_ARG, "create_key: id is NULL");
    tes_err e = p11_state_load(s);
    if (e)
        return e;
    if (s->st.puk_tries == 0)
        return tes_err_set(TES_ERR_SE_BLOCKED, "PKCS#11 token '%s' is permanently blocked",
                           s->label);
    if (!s->logged_in)
        return tes_err_set(TES_ERR_PIN_REQUIRED,
                           "creating a key on PKCS#11 token '%s' needs a logged-in session: "
                           "verify the PIN first",
                           s->label);
    uint8_t idb[P11_ID_LEN];
    if ((e = tes_rng_fill(&s->rng, idb, sizeof idb)) != TES_OK)
        return e;
    p11_keyflags f = {.uv = opts && opts->user_verification,
                      .single_use = opts && opts->single_use};
    tes_hex_str(f.id, TES_BYTES(idb, P11_ID_LEN));
    char label[sizeof P11_LABEL_PREFIX + P11_ID_HEX];
    snprintf(label, sizeof label, "%s%s", P11_LABEL_PREFIX, f.id);

    /* Flags first: a crash after generation must not leave a UV key unprotected. */
    if ((e = p11_state_add(&s->st, &f)) != TES_OK || (e = p11_state_save(s)) != TES_OK) {
        p11_state_remove(&s->st, f.id);
        return e;
    }

    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_ATTRIBUTE pub[] = {
        {CKA_CLASS, &pubc, sizeof pubc},
        {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_EC_PARAMS, (void *)p11_p256_oid, sizeof p11_p256_oid},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &no, sizeof no},
        {CKA_VERIFY, &yes, sizeof yes},
        {CKA_ID, idb, sizeof idb},
        {CKA_LABEL, label, strlen(label)},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_CLASS, &privc, sizeof privc},
        {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_SIGN, &yes, sizeof yes},
        {CKA_ID, idb, sizeof idb},
        {CKA_LABEL, label, strlen(label)},
        {CKA_DERIVE, &yes, sizeof yes}, /* last: dropped for tokens that refuse it */
    };
    CK_ULONG npriv = sizeof priv / sizeof priv[0];
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    CK_RV rv = s->m->C_GenerateKeyPair(s->sess, &mech, pub, sizeof pub / sizeof pub[0], priv, npriv,
                                       &hpub, &hpriv);
    if ((rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_VALUE_INVALID ||
         rv == CKR_TEMPLATE_INCONSISTENT)) {
        /* Some cards cannot have a signing key that also derives: sign-only key. */
        rv = s->m->C_GenerateKeyPair(s->sess, &mech, pub, sizeof pub / sizeof pub[0], priv,
                                     npriv - 1, &hpub, &hpriv);
    }
    if (rv != CKR_OK) {
        if (rv == CKR_USER_NOT_LOGGED_IN)
            s->logged_in = false;
        tes_err fe = p11_fail(rv, "C_GenerateKeyPair (P-256)");
        p11_state_remove(&s->st, f.id);
        (void)p11_state_save(s);
        return fe;
    }
    memcpy(id, f.id, P11_ID_HEX + 1);
    return TES_OK;
}

tes_err p11_key_info_locked(p11_se *s, const char *id, tes_se_key_info *out)
{
    uint8_t idb[P11_ID_LEN];
    if (out == NULL || id == NULL)
        return tes_err_set(TES_ERR_ARG, "key_info: NULL argument");
    if (!id_bytes(id, idb))
        return tes_err_set(TES_ERR_KEY_UNKNOWN, "no key '%s' (not a PKCS#11 Tessera key id)", id);
    tes_err e = p11_state_load(s);
    if (e == TES_OK)
        e = key_exists(s, idb, id);
    if (e)
        return e;
    const p11_keyflags *f = p11_state_find(&s->st, id);
    memset(out, 0, sizeof *out);
    memcpy(out->id, id, P11_ID_HEX + 1);
    out->curve = TES_CURVE_P256;
    out->user_verification = f && f->uv;
    out->single_use = f && f->single_use;
    out->used = f && f->used;
    out->enforced_by_backend = s->hw ? TES_SE_CAP_HARDWARE : 0u;
    return TES_OK;
}

/* Turns CKA_EC_POINT (DER OCTET STRING around 04||x||y, or the raw point) into
 * x and y. */
static tes_err parse_ec_point(const uint8_t *p, size_t n, const uint8_t **pt)
{
    if (n == 65 && p[0] == 0x04) {
        *pt = p;
        return TES_OK;
    }
    if (n >= 2 && p[0] == 0x04) {
        size_t hdr = 2, len = p[1];
        if (p[1] == 0x81 && n >= 3) {
            len = p[2];
            hdr = 3;
        } else if (p[1] & 0x80) {
            len = SIZE_MAX;
        }
        if (len == 65 && hdr + len == n && p[hdr] == 0x04) {
            *pt = p + hdr;
            return TES_OK;
        }
    }
    return tes_err_set(TES_ERR_KEY_MALFORMED,
                       "CKA_EC_POINT of %zu bytes is not an uncompressed P-256 point", n);
}

tes_err p11_public_key_locked(p11_se *s, const char *id, tes_key **out)
{
    uint8_t idb[P11_ID_LEN];
    if (out == NULL || id == NULL)
        return tes_err_set(TES_ERR_ARG, "public_key: NULL argument");
    *out = NULL;
    if (!id_bytes(id, idb))
        return tes_err_set(TES_ERR_KEY_UNKNOWN, "no key '%s' (not a PKCS#11 Tessera key id)", id);
    CK_OBJECT_HANDLE h;
    bool found;
    tes_err e = find_obj(s, CKO_PUBLIC_KEY, idb, &h, &found);
    if (e)
        return e;
    if (!found) {
        /* Some tokens expose CKA_EC_POINT on the private object only. */
        if ((e = find_obj(s, CKO_PRIVATE_KEY, idb, &h, &found)) != TES_OK)
            return e;
        if (!found)
            return tes_err_set(TES_ERR_KEY_UNKNOWN, "no key '%s' on PKCS#11 token '%s'", id,
                               s->label);
    }
    uint8_t buf[160];
    CK_ATTRIBUTE a = {CKA_EC_POINT, buf, sizeof buf};
    CK_RV rv = s->m->C_GetAttributeValue(s->sess, h, &a, 1);
    if (rv != CKR_OK)
        return p11_fail(rv, "C_GetAttributeValue(CKA_EC_POINT)");
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > sizeof buf)
        return tes_err_set(TES_ERR_SE_BACKEND, "token gave no usable CKA_EC_POINT for key '%s'",
                           id);
    const uint8_t *pt = NULL;
    if ((e = parse_ec_point(buf, a.ulValueLen, &pt)) != TES_OK)
        return e;
    return tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(pt + 1, 32), TES_BYTES(pt + 33, 32),
                                 out);
}

/* Common start of sign/key agreement: state, gate, private key handle. */
static tes_err use_private(p11_se *s, const char *id, const char *pin, CK_OBJECT_HANDLE *h,
                           p11_keyflags **flags)
{
    uint8_t idb[P11_ID_LEN];
    if (id == NULL)
        return tes_err_set(TES_ERR_ARG, "key id is NULL");
    if (!id_bytes(id, idb))
        return tes_err_set(TES_ERR_KEY_UNKNOWN, "no key '%s' (not a PKCS#11 Tessera key id)", id);
    tes_err e = p11_state_load(s);
    if (e)
        return e;
    /* Unknown keys first: no PIN try is spent on a key that does not exist. */
    if ((e = key_exists(s, idb, id)) != TES_OK)
        return e;
    p11_keyflags *f = p11_state_find(&s->st, id);
    if ((e = p11_gate_key(s, id, f, pin)) != TES_OK)
        return e;
    f = p11_state_find(&s->st, id); /* the state may have been re-saved; pointer still valid */
    bool found;
    if ((e = find_obj(s, CKO_PRIVATE_KEY, idb, h, &found)) != TES_OK)
        return e;
    if (!found)
        return tes_err_set(TES_ERR_KEY_UNKNOWN,
                           "key '%s' has no private half on PKCS#11 token '%s'", id, s->label);
    if (f && f->single_use) {
        f->used = true; /* persisted before use: a crash never gives a second use */
        if ((e = p11_state_save(s)) != TES_OK) {
            f->used = false;
            return e;
        }
    }
    *flags = f;
    return TES_OK;
}

tes_err p11_sign_locked(p11_se *s, const char *id, const char *pin, tes_bytes msg, uint8_t *sig,
                        size_t *sig_len)
{
    if (sig == NULL || sig_len == NULL || (msg.ptr == NULL && msg.len != 0))
        return tes_err_set(TES_ERR_ARG, "sign: NULL argument");
    CK_OBJECT_HANDLE h;
    p11_keyflags *f = NULL;
    tes_err e = use_private(s, id, pin, &h, &f);
    if (e)
        return e;
    uint8_t dg[32];
    if ((e = tes_digest(TES_HASH_SHA256, msg, dg)) != TES_OK)
        return e;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_RV rv = s->m->C_SignInit(s->sess, &mech, h);
    if (rv != CKR_OK) {
        if (rv == CKR_USER_NOT_LOGGED_IN)
            s->logged_in = false;
        return p11_fail(rv, "C_SignInit(CKM_ECDSA)");
    }
    uint8_t out[TES_MAX_SIG];
    CK_ULONG n = sizeof out;
    rv = s->m->C_Sign(s->sess, dg, sizeof dg, out, &n);
    if (rv != CKR_OK)
        return p11_fail(rv, "C_Sign(CKM_ECDSA)");
    if (n != 64)
        return tes_err_set(TES_ERR_SE_BACKEND,
                           "token returned a %lu-byte ECDSA signature (want raw r||s, 64)",
                           (unsigned long)n);
    memcpy(sig, out, 64);
    *sig_len = 64;
    return TES_OK;
}

tes_err p11_key_agreement_locked(p11_se *s, const char *id, const char *pin, const tes_key *peer,
                                 uint8_t out[TES_MAX_COORD], size_t *out_len)
{
    if (peer == NULL || out == NULL || out_len == NULL || id == NULL)
        return tes_err_set(TES_ERR_ARG, "key_agreement: NULL argument");
    if (!s->can_ecdh)
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "PKCS#11 token '%s' does not offer CKM_ECDH1_DERIVE", s->label);
    if (tes_key_curve(peer) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_ARG, "key_agreement: the peer key is not on P-256");
    uint8_t point[65];
    point[0] = 0x04;
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    tes_err e = tes_key_public_raw(peer, x, y);
    if (e)
        return e;
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);

    CK_OBJECT_HANDLE h;
    p11_keyflags *f = NULL;
    if ((e = use_private(s, id, pin, &h, &f)) != TES_OK)
        return e;

    uint8_t z[32];
    if ((e = p11_ecdh_derive(s, h, point, id, z)) != TES_OK)
        return e;
    memcpy(out, z, 32);
    *out_len = 32;
    tes_wipe(z, sizeof z);
    return TES_OK;
}

tes_err p11_ecdh_derive(p11_se *s, CK_OBJECT_HANDLE h, const uint8_t point[65], const char *id,
                        uint8_t out[32])
{
    CK_ECDH1_DERIVE_PARAMS params = {
        .kdf = CKD_NULL,
        .shared_data_len = 0,
        .shared_data = NULL,
        .public_data_len = 65,
        .public_data = (CK_BYTE_PTR)point,
    };
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &params, sizeof params};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG vlen = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},       {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_VALUE_LEN, &vlen, sizeof vlen}, {CKA_TOKEN, &no, sizeof no},
        {CKA_SENSITIVE, &no, sizeof no},     {CKA_EXTRACTABLE, &yes, sizeof yes},
    };
    CK_OBJECT_HANDLE dk = CK_INVALID_HANDLE;
    CK_RV rv = s->m->C_DeriveKey(s->sess, &mech, h, t, sizeof t / sizeof t[0], &dk);
    if (rv != CKR_OK) {
        switch (rv) {
        case CKR_MECHANISM_INVALID:
        case CKR_MECHANISM_PARAM_INVALID:
        case CKR_FUNCTION_NOT_SUPPORTED:
        case CKR_KEY_FUNCTION_NOT_PERMITTED:
        case CKR_KEY_TYPE_INCONSISTENT:
        case CKR_TEMPLATE_INCONSISTENT:
        case CKR_ATTRIBUTE_VALUE_INVALID:
        case CKR_ATTRIBUTE_TYPE_INVALID:
        case CKR_ACTION_PROHIBITED:
            return tes_err_set(TES_ERR_UNSUPPORTED,
                               "PKCS#11 token '%s' refuses an exportable ECDH secret for key "
                               "'%s': C_DeriveKey(CKM_ECDH1_DERIVE) gave %s",
                               s->label, id, p11_ckr_name(rv));
        case CKR_USER_NOT_LOGGED_IN:
            s->logged_in = false;
            /* fall through */
        default:
            return p11_fail(rv, "C_DeriveKey(CKM_ECDH1_DERIVE)");
        }
    }
    uint8_t val[TES_MAX_COORD];
    CK_ATTRIBUTE a = {CKA_VALUE, val, sizeof val};
    rv = s->m->C_GetAttributeValue(s->sess, dk, &a, 1);
    CK_RV rvd = s->m->C_DestroyObject(s->sess, dk);
    if (rv != CKR_OK) {
        tes_wipe(val, sizeof val);
        if (rv == CKR_ATTRIBUTE_SENSITIVE)
            return tes_err_set(TES_ERR_UNSUPPORTED,
                               "PKCS#11 token '%s' does not let the ECDH secret leave it "
                               "(CKR_ATTRIBUTE_SENSITIVE)",
                               s->label);
        return p11_fail(rv, "C_GetAttributeValue(CKA_VALUE of the ECDH secret)");
    }
    if (rvd != CKR_OK) {
        tes_wipe(val, sizeof val);
        return p11_fail(rvd, "C_DestroyObject(derived ECDH secret)");
    }
    if (a.ulValueLen != 32) {
        tes_wipe(val, sizeof val);
        return tes_err_set(TES_ERR_SE_BACKEND, "token returned a %lu-byte ECDH secret (want 32)",
                           (unsigned long)a.ulValueLen);
    }
    memcpy(out, val, 32);
    tes_wipe(val, sizeof val);
    return TES_OK;
}

tes_err p11_delete_key_locked(p11_se *s, const char *id)
{
    uint8_t idb[P11_ID_LEN];
    if (id == NULL)
        return tes_err_set(TES_ERR_ARG, "delete_key: id is NULL");
    if (!id_bytes(id, idb))
        return tes_err_set(TES_ERR_KEY_UNKNOWN, "no key '%s' (not a PKCS#11 Tessera key id)", id);
    tes_err e = p11_state_load(s);
    if (e)
        return e;
    if ((e = key_exists(s, idb, id)) != TES_OK)
        return e;
    if (!s->logged_in)
        return tes_err_set(TES_ERR_PIN_REQUIRED,
                           "deleting key '%s' from PKCS#11 token '%s' needs a logged-in session: "
                           "verify the PIN first",
                           id, s->label);
    CK_OBJECT_CLASS cls[2] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};
    for (int i = 0; i < 2; i++) {
        CK_OBJECT_HANDLE h;
        bool found;
        if ((e = find_obj(s, cls[i], idb, &h, &found)) != TES_OK)
            return e;
        if (!found)
            continue;
        CK_RV rv = s->m->C_DestroyObject(s->sess, h);
        if (rv != CKR_OK) {
            if (rv == CKR_USER_NOT_LOGGED_IN)
                s->logged_in = false;
            return p11_fail(rv, i == 0 ? "C_DestroyObject(private key)"
                                       : "C_DestroyObject(public key)");
        }
    }
    p11_state_remove(&s->st, id);
    return p11_state_save(s);
}

typedef struct idlist {
    char (*ids)[P11_ID_HEX + 1];
    size_t n, cap;
} idlist;

static tes_err collect_ids(p11_se *s, CK_OBJECT_CLASS cls, idlist *l)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}};
    CK_RV rv = s->m->C_FindObjectsInit(s->sess, t, 1);
    if (rv != CKR_OK)
        return p11_fail(rv, "C_FindObjectsInit");
    tes_err e = TES_OK;
    for (;;) {
        CK_OBJECT_HANDLE hs[32];
        CK_ULONG n = 0;
        rv = s->m->C_FindObjects(s->sess, hs, 32, &n);
        if (rv != CKR_OK) {
            e = p11_fail(rv, "C_FindObjects");
            break;
        }
        if (n == 0)
            break;
        for (CK_ULONG i = 0; i < n && e == TES_OK; i++) {
            uint8_t idb[P11_ID_LEN + 1];
            char label[sizeof P11_LABEL_PREFIX + P11_ID_HEX + 1];
            CK_ATTRIBUTE a[] = {{CKA_ID, idb, sizeof idb}, {CKA_LABEL, label, sizeof label}};
            rv = s->m->C_GetAttributeValue(s->sess, hs[i], a, 2);
            /* Objects with other (longer) ids or labels are not Tessera's. */
            if (rv != CKR_OK || a[0].ulValueLen != P11_ID_LEN ||
                a[1].ulValueLen != sizeof P11_LABEL_PREFIX - 1 + P11_ID_HEX)
                continue;
            char hex[P11_ID_HEX + 1];
            tes_hex_str(hex, TES_BYTES(idb, P11_ID_LEN));
            if (memcmp(label, P11_LABEL_PREFIX, sizeof P11_LABEL_PREFIX - 1) != 0 ||
                memcmp(label + sizeof P11_LABEL_PREFIX - 1, hex, P11_ID_HEX) != 0)
                continue;
            bool dup = false;
            for (size_t j = 0; j < l->n && !dup; j++)
                dup = strcmp(l->ids[j], hex) == 0;
            if (dup)
                continue;
            if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 16;
                void *p = realloc(l->ids, cap * sizeof l->ids[0]);
                if (p == NULL) {
                    e = tes_err_set(TES_ERR_NOMEM, "list_keys: out of memory");
                    break;
                }
                l->ids = p;
                l->cap = cap;
            }
            memcpy(l->ids[l->n++], hex, sizeof hex);
        }
        if (e)
            break;
    }
    rv = s->m->C_FindObjectsFinal(s->sess);
    if (e == TES_OK && rv != CKR_OK)
        e = p11_fail(rv, "C_FindObjectsFinal");
    return e;
}

tes_err p11_list_keys_locked(p11_se *s, char (*ids)[TES_SE_ID_MAX], size_t max, size_t *n)
{
    if (n == NULL || (ids == NULL && max > 0))
        return tes_err_set(TES_ERR_ARG, "list_keys: NULL argument");
    *n = 0;
    idlist l = {0};
    /* Public halves are visible without login; private halves only after it. */
    tes_err e = collect_ids(s, CKO_PUBLIC_KEY, &l);
    if (e == TES_OK && s->logged_in)
        e = collect_ids(s, CKO_PRIVATE_KEY, &l);
    if (e == TES_OK) {
        for (size_t i = 0; i < l.n && i < max; i++)
            memcpy(ids[i], l.ids[i], P11_ID_HEX + 1);
        *n = l.n < max ? l.n : max;
    }
    free(l.ids);
    return e;
}
