/*
 * se/pkcs11.c — the PKCS#11 backend of the secure area: any token reachable
 * through a PKCS#11 module (SoftHSM2 in tests, a smart card through OpenSC's
 * opensc-pkcs11.so), loaded with p11-kit from a path the user names.
 *
 * Spec: "pkcs11:MODULE_PATH[:TOKEN_LABEL]" (parsed by se.c). Without a label
 * the first present, initialised token is used.
 *
 * Only portable PKCS#11 is used (C_GetSlotList(CK_TRUE) + CKF_TOKEN_PRESENT,
 * space-padded token labels trimmed, raw or DER-wrapped CKA_EC_POINT), so the
 * same code runs against a smart card without changes.
 *
 * Keys. P-256 pairs from CKM_EC_KEY_PAIR_GEN. Private half: CKA_TOKEN,
 * CKA_PRIVATE, CKA_SENSITIVE true, CKA_EXTRACTABLE false, CKA_SIGN, CKA_DERIVE.
 * Public half: CKA_TOKEN, CKA_VERIFY, CKA_PRIVATE false (so key info, public
 * key and listing work before any login). CKA_ID = 16 random bytes, the key
 * id is their lower-case hex, CKA_LABEL = "tessera <id>". Signing is CKM_ECDSA
 * over SHA-256(msg) computed here; key agreement is CKM_ECDH1_DERIVE (CKD_NULL)
 * into a 32-byte session-only, extractable CKK_GENERIC_SECRET whose CKA_VALUE
 * is read and which is destroyed at once: the shared secret leaves the token
 * (TES_SE_CAP_ECDH_EXPORT, needed for the mdoc device MAC). The capability is
 * declared only when the token lists CKM_ECDH1_DERIVE.
 *
 * ---- PIN and PUK: how Tessera's model maps onto a token ----
 *
 *  - The holder PIN IS the token's user PIN. Tessera cannot choose it: the
 *    token is initialised outside Tessera (softhsm2-util, the card issuer).
 *  - The PUK IS the token's SO PIN (tests initialise SoftHSM with
 *    --so-pin equal to the PUK they give pin_set). PKCS#11 has no "PUK"; the
 *    SO PIN is the only credential that can reset the user PIN (C_InitPIN).
 *  - pin_set(pin, puk) checks the PUK with C_Login(CKU_SO) (then logs out)
 *    and the PIN with C_Login(CKU_USER), both through Tessera's counters, and
 *    only then records "PIN set" in Tessera's state file. The session stays
 *    logged in as the user.
 *    The PUK is NOT stored, not even as a salted hash: an 8-digit PUK hashed
 *    in a plain file falls to an offline search in seconds and would hand
 *    out the token's SO PIN. The token verifies the PUK itself.
 *  - pin_change: verify the old PIN (counter + C_Login), then C_SetPIN.
 *  - pin_unblock(puk, new_pin): PUK counter, C_Login(CKU_SO, puk),
 *    C_InitPIN(new_pin), C_Logout, then C_Login(CKU_USER, new_pin). Tokens
 *    that cannot C_InitPIN answer TES_ERR_UNSUPPORTED.
 *
 * ---- counters and flags Tessera keeps itself ----
 *
 * SoftHSM2 never locks its PIN, and PKCS#11 knows nothing of user
 * verification or single use, so Tessera enforces those on top (caps: only
 * TES_SE_CAP_HARDWARE when the slot says CKF_HW_SLOT, and ECDH_EXPORT). The
 * state file state_dir/pkcs11-<hash>.state (hash: SHA-256 of module path,
 * token label and token serial number) holds: whether a PIN is set, PIN tries
 * left (5), PUK tries left (10), and per key id the flags uv / single_use /
 * used. It is written atomically (tes_file_write) and re-read before every
 * operation. A try is decremented and persisted BEFORE C_Login is called;
 * with 0 tries left C_Login is not called at all (TES_ERR_PIN_LOCKED, or
 * TES_ERR_SE_BLOCKED for the PUK). CKR_PIN_LOCKED from a real card also means
 * TES_ERR_PIN_LOCKED (TES_ERR_SE_BLOCKED for the SO PIN). Flags for a new key
 * are written before the key is generated, and "used" before a single-use key
 * signs, so a crash never yields an unprotected key or a second use.
 * The file is not sealed: whoever can write it can reset the counters. That
 * is no weaker than the SoftHSM token directory next to it, and a real card
 * keeps its own counter anyway.
 *
 * ---- login ----
 *
 * CKA_PRIVATE keys can only be used in a logged-in session, and logging in
 * needs the PIN. One R/W session per open handle; it becomes logged in at the
 * first successful PIN check (pin_set, pin_verify, pin_change, pin_unblock or
 * a sign/agreement given a PIN). Keys without user verification are usable
 * from then on without a PIN; before that they answer TES_ERR_PIN_REQUIRED
 * (the message says why). create_key and delete_key also need the logged-in
 * session. Every PIN check logs out first and logs in again (a token answers
 * CKR_USER_ALREADY_LOGGED_IN without looking at the PIN otherwise). So that a
 * wrong PIN (or PUK) does not take the login away from keys without user
 * verification, the handle keeps in memory the PIN that last logged it in
 * (wiped on close, never written anywhere) and logs in again with it right
 * after a failed check; if that PIN stopped working (changed by another
 * program) it is forgotten and the session stays logged out. That re-login
 * is not a guess and costs no Tessera try. PKCS#11 login state is per
 * application and token: two handles on one token in one process share it
 * (this code only ever trusts its own handle's flag).
 *
 * No function here returns private key bytes; attest is NULL (generic
 * PKCS#11 has no key attestation).
 */
#include "se/p11_internal.h"

/* DER of OID 1.2.840.10045.3.1.7 (prime256v1 / P-256). */
static const uint8_t p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* ------------------------------------------------------------------ helpers */

tes_err p11_check_pin(const char *pin)
{
    return se_check_pin_format(pin, false, true);
}

tes_err p11_check_puk(const char *puk)
{
    return se_check_pin_format(puk, true, true);
}

/* Parses a key id; false when it cannot be one of ours. */
static bool id_bytes(const char *id, uint8_t out[P11_ID_LEN])
{
    if (!p11_is_hex_id(id))
        return false;
    for (size_t i = 0; i < P11_ID_LEN; i++)
        out[i] = (uint8_t)(tes_hex_digit(id[2 * i]) << 4 | tes_hex_digit(id[2 * i + 1]));
    return true;
}

void p11_logout(p11_se *s)
{
    CK_RV rv = s->m->C_Logout(s->sess);
    (void)rv; /* CKR_USER_NOT_LOGGED_IN is fine */
    s->logged_in = false;
}

void p11_forget_pin(p11_se *s)
{
    tes_wipe(s->pin_cache, sizeof s->pin_cache);
    s->have_pin_cache = false;
}

void p11_remember_pin(p11_se *s, const char *pin)
{
    p11_forget_pin(s);
    size_t n = strlen(pin);
    if (n < sizeof s->pin_cache) {
        memcpy(s->pin_cache, pin, n + 1);
        s->have_pin_cache = true;
    }
}

/* After a failed PIN or PUK check (which had to end the login), logs the
 * session in again with the PIN that last logged it in, so keys without user
 * verification keep working. Not a guess: that PIN was verified; if it no
 * longer works (changed elsewhere) it is forgotten. */
void p11_restore_login(p11_se *s)
{
    if (!s->have_pin_cache || s->logged_in)
        return;
    CK_RV rv =
        s->m->C_Login(s->sess, CKU_USER, (CK_UTF8CHAR_PTR)s->pin_cache, strlen(s->pin_cache));
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        s->logged_in = true;
    else
        p11_forget_pin(s);
}

/* Finds the object of class cls with CKA_ID id. *found false when none. */
static tes_err find_obj(p11_se *s, CK_OBJECT_CLASS cls, const uint8_t id[P11_ID_LEN],
                        CK_OBJECT_HANDLE *h, bool *found)
{
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_ID, (void *)id, P11_ID_LEN},
    };
    *found = false;
    CK_RV rv = s->m->C_FindObjectsInit(s->sess, t, 2);
    if (rv != CKR_OK)
        return p11_fail(rv, "C_FindObjectsInit");
    CK_ULONG n = 0;
    rv = s->m->C_FindObjects(s->sess, h, 1, &n);
    CK_RV rv2 = s->m->C_FindObjectsFinal(s->sess);
    if (rv != CKR_OK)
        return p11_fail(rv, "C_FindObjects");
    if (rv2 != CKR_OK)
        return p11_fail(rv2, "C_FindObjectsFinal");
    *found = n == 1;
    return TES_OK;
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

/* ------------------------------------------------------------------ ops */

static uint32_t p11_caps(tes_se *se)
{
    p11_se *s = (p11_se *)se;
    return TES_SE_CAP_TEXT_PIN | TES_SE_CAP_LOGIN | (s->hw ? TES_SE_CAP_HARDWARE : 0u) |
           (s->can_ecdh ? TES_SE_CAP_ECDH_EXPORT : 0u);
}

static tes_err p11_create_key_locked(p11_se *s, const tes_se_key_opts *opts, char id[TES_SE_ID_MAX])
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
        {CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
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

static tes_err p11_key_info_locked(p11_se *s, const char *id, tes_se_key_info *out)
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

static tes_err p11_public_key_locked(p11_se *s, const char *id, tes_key **out)
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

static tes_err p11_sign_locked(p11_se *s, const char *id, const char *pin, tes_bytes msg,
                               uint8_t *sig, size_t *sig_len)
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

static tes_err p11_key_agreement_locked(p11_se *s, const char *id, const char *pin,
                                        const tes_key *peer, uint8_t out[TES_MAX_COORD],
                                        size_t *out_len)
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

    CK_ECDH1_DERIVE_PARAMS params = {
        .kdf = CKD_NULL,
        .shared_data_len = 0,
        .shared_data = NULL,
        .public_data_len = sizeof point,
        .public_data = point,
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
    *out_len = 32;
    tes_wipe(val, sizeof val);
    return TES_OK;
}

static tes_err p11_delete_key_locked(p11_se *s, const char *id)
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

static tes_err p11_list_keys_locked(p11_se *s, char (*ids)[TES_SE_ID_MAX], size_t max, size_t *n)
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

/* ------------------------------------------------------------------ locked wrappers */

#define LOCKED(call)                                                                               \
    do {                                                                                           \
        p11_se *s_ = (p11_se *)se;                                                                 \
        if (s_ == NULL)                                                                            \
            return tes_err_set(TES_ERR_ARG, "secure element is NULL");                             \
        pthread_mutex_lock(&s_->mu);                                                               \
        tes_err e_ = call;                                                                         \
        pthread_mutex_unlock(&s_->mu);                                                             \
        return e_;                                                                                 \
    } while (0)

static tes_err p11_create_key(tes_se *se, const tes_se_key_opts *o, char id[TES_SE_ID_MAX])
{
    LOCKED(p11_create_key_locked(s_, o, id));
}
static tes_err p11_key_info(tes_se *se, const char *id, tes_se_key_info *out)
{
    LOCKED(p11_key_info_locked(s_, id, out));
}
static tes_err p11_public_key(tes_se *se, const char *id, tes_key **out)
{
    LOCKED(p11_public_key_locked(s_, id, out));
}
static tes_err p11_sign(tes_se *se, const char *id, const char *pin, tes_bytes msg, uint8_t *sig,
                        size_t *sig_len)
{
    LOCKED(p11_sign_locked(s_, id, pin, msg, sig, sig_len));
}
static tes_err p11_key_agreement(tes_se *se, const char *id, const char *pin, const tes_key *peer,
                                 uint8_t out[TES_MAX_COORD], size_t *out_len)
{
    LOCKED(p11_key_agreement_locked(s_, id, pin, peer, out, out_len));
}
static tes_err p11_delete_key(tes_se *se, const char *id)
{
    LOCKED(p11_delete_key_locked(s_, id));
}
static tes_err p11_pin_set(tes_se *se, const char *pin, const char *puk)
{
    LOCKED(p11_pin_set_locked(s_, pin, puk));
}
static tes_err p11_pin_verify(tes_se *se, const char *pin)
{
    LOCKED(p11_pin_verify_locked(s_, pin));
}
static tes_err p11_pin_change(tes_se *se, const char *old_pin, const char *new_pin)
{
    LOCKED(p11_pin_change_locked(s_, old_pin, new_pin));
}
static tes_err p11_pin_unblock(tes_se *se, const char *puk, const char *new_pin)
{
    LOCKED(p11_pin_unblock_locked(s_, puk, new_pin));
}
static tes_err p11_pin_status(tes_se *se, int *pin_tries_left, int *puk_tries_left, bool *pin_set)
{
    LOCKED(p11_pin_status_locked(s_, pin_tries_left, puk_tries_left, pin_set));
}
static tes_err p11_list_keys(tes_se *se, char (*ids)[TES_SE_ID_MAX], size_t max, size_t *n)
{
    LOCKED(p11_list_keys_locked(s_, ids, max, n));
}

static void p11_destroy(p11_se *s)
{
    if (s->m) {
        if (s->have_session)
            (void)s->m->C_CloseSession(s->sess);
        if (s->initialized)
            (void)p11_kit_module_finalize(s->m);
        p11_kit_module_release(s->m);
    }
    p11_forget_pin(s);
    p11_state_free(&s->st);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void p11_close(tes_se *se)
{
    if (se)
        p11_destroy((p11_se *)se);
}

static const tes_se_ops p11_ops = {
    .size = sizeof(tes_se_ops),
    .name = "pkcs11",
    .caps = p11_caps,
    .create_key = p11_create_key,
    .key_info = p11_key_info,
    .public_key = p11_public_key,
    .sign = p11_sign,
    .key_agreement = p11_key_agreement,
    .attest = NULL,
    .delete_key = p11_delete_key,
    .pin_set = p11_pin_set,
    .pin_verify = p11_pin_verify,
    .pin_change = p11_pin_change,
    .pin_unblock = p11_pin_unblock,
    .pin_status = p11_pin_status,
    .list_keys = p11_list_keys,
    .close = p11_close,
    .attest_jwt = NULL, /* no key attestations (see attest) */
};

/* ------------------------------------------------------------------ open */

static void trim_label(const CK_UTF8CHAR *in, size_t n, char *out /* n+1 */)
{
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\0'))
        n--;
    memcpy(out, in, n);
    out[n] = '\0';
}

/* Picks the slot: first present token with `label`, or without a label the
 * first present, initialised token. */
static tes_err pick_slot(p11_se *s, const char *module, const char *label)
{
    CK_ULONG n = 0;
    CK_RV rv = s->m->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK)
        return p11_fail(rv, "C_GetSlotList");
    CK_SLOT_ID *slots = NULL;
    if (n > 0) {
        slots = calloc(n, sizeof *slots);
        if (slots == NULL)
            return tes_err_set(TES_ERR_NOMEM, "out of memory listing slots");
        rv = s->m->C_GetSlotList(CK_TRUE, slots, &n);
        if (rv != CKR_OK) {
            free(slots);
            return p11_fail(rv, "C_GetSlotList");
        }
    }
    char seen[300] = "";
    size_t seen_len = 0;
    bool ok = false;
    for (CK_ULONG i = 0; i < n && !ok; i++) {
        CK_SLOT_INFO si;
        CK_TOKEN_INFO ti;
        if (s->m->C_GetSlotInfo(slots[i], &si) != CKR_OK || !(si.flags & CKF_TOKEN_PRESENT))
            continue;
        if (s->m->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        char tl[sizeof ti.label + 1];
        trim_label(ti.label, sizeof ti.label, tl);
        bool init = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
        if (label ? strcmp(tl, label) == 0 : init) {
            s->slot = slots[i];
            s->hw = (si.flags & CKF_HW_SLOT) != 0;
            memcpy(s->label, tl, sizeof s->label);
            ok = true;
            /* The state file is per module, token label and serial number. */
            char serial[sizeof ti.serialNumber + 1];
            trim_label(ti.serialNumber, sizeof ti.serialNumber, serial);
            tes_buf key = {0};
            tes_buf_append(&key, module, strlen(module) + 1);
            tes_buf_append(&key, tl, strlen(tl) + 1);
            tes_buf_append(&key, serial, strlen(serial));
            uint8_t h[32];
            tes_err e = key.failed ? tes_err_set(TES_ERR_NOMEM, "out of memory")
                                   : tes_digest(TES_HASH_SHA256, tes_buf_bytes(&key), h);
            tes_buf_free(&key);
            if (e) {
                free(slots);
                return e;
            }
            char hx[33];
            tes_hex_str(hx, TES_BYTES(h, 16));
            /* s->path holds state_dir; append the file name. */
            size_t dl = strlen(s->path);
            if (snprintf(s->path + dl, sizeof s->path - dl, "/pkcs11-%s.state", hx) >=
                (int)(sizeof s->path - dl)) {
                free(slots);
                return tes_err_set(TES_ERR_ARG, "state directory path too long");
            }
        } else if (seen_len < sizeof seen - 40) {
            int w = snprintf(seen + seen_len, sizeof seen - seen_len, "%s'%s'%s",
                             seen_len ? ", " : "", tl, init ? "" : " (not initialised)");
            if (w > 0)
                seen_len +=
                    (size_t)w < sizeof seen - seen_len ? (size_t)w : sizeof seen - seen_len - 1;
        }
    }
    free(slots);
    if (!ok) {
        if (label)
            return tes_err_set(TES_ERR_SE_NO_TOKEN,
                               "no token labelled '%s' in PKCS#11 module '%s' (tokens present: "
                               "%s)",
                               label, module, seen_len ? seen : "none");
        return tes_err_set(TES_ERR_SE_NO_TOKEN,
                           "no initialised token present in PKCS#11 module '%s' (tokens present: "
                           "%s)",
                           module, seen_len ? seen : "none");
    }
    return TES_OK;
}

/* Whether the token offers mechanism m. */
static bool has_mech(p11_se *s, CK_MECHANISM_TYPE m)
{
    CK_MECHANISM_INFO mi;
    return s->m->C_GetMechanismInfo(s->slot, m, &mi) == CKR_OK;
}

tes_err se_pkcs11_open(const char *module, const char *label, const char *state_dir,
                       const tes_rng *rng, tes_se **out)
{
    if (out == NULL || module == NULL || state_dir == NULL || module[0] == '\0')
        return tes_err_set(TES_ERR_ARG, "pkcs11: module path, state directory and out needed");
    *out = NULL;
    if (label && label[0] == '\0')
        label = NULL;
    if (label && strlen(label) > 32)
        return tes_err_set(TES_ERR_SE_NO_TOKEN,
                           "token label '%s' is longer than PKCS#11's 32 characters", label);
    /* A bare file name is looked up by p11-kit in its module directory. */
    struct stat sb;
    if (strchr(module, '/') != NULL && stat(module, &sb) != 0)
        return tes_err_set(TES_ERR_SE_MODULE, "PKCS#11 module '%s' cannot be loaded: %s", module,
                           strerror(errno));
    if (strlen(state_dir) > PATH_MAX - 64)
        return tes_err_set(TES_ERR_ARG, "state directory path too long");
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
        return tes_err_set(TES_ERR_IO, "cannot create state directory '%s': %s", state_dir,
                           strerror(errno));

    p11_se *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    s->base.ops = &p11_ops;
    s->rng = rng != NULL ? *rng : tes_rng_system();
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->path, sizeof s->path, "%s", state_dir);

    s->m = p11_kit_module_load(module, 0);
    if (s->m == NULL) {
        const char *why = p11_kit_message();
        tes_err e = tes_err_set(TES_ERR_SE_MODULE, "PKCS#11 module '%s' cannot be loaded: %s",
                                module, why ? why : "unknown reason");
        p11_destroy(s);
        return e;
    }
    CK_RV rv = p11_kit_module_initialize(s->m);
    if (rv != CKR_OK) {
        const char *why = p11_kit_message();
        tes_err e = tes_err_set(
            TES_ERR_SE_MODULE, "PKCS#11 module '%s' failed to initialise: %s (0x%lx)%s%s", module,
            p11_ckr_name(rv), (unsigned long)rv, why ? ": " : "", why ? why : "");
        p11_destroy(s);
        return e;
    }
    s->initialized = true;

    tes_err e = pick_slot(s, module, label);
    if (e == TES_OK) {
        s->can_ecdh = has_mech(s, CKM_ECDH1_DERIVE);
        rv =
            s->m->C_OpenSession(s->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s->sess);
        if (rv != CKR_OK)
            e = p11_fail(rv, "C_OpenSession");
        else
            s->have_session = true;
    }
    if (e == TES_OK)
        e = p11_state_load(s);
    if (e) {
        p11_destroy(s);
        return e;
    }
    *out = &s->base;
    return TES_OK;
}
