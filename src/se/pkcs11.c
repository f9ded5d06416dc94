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
 * PKCS#11 has no key attestation). Per-site pseudonyms (p11_pseudonym.c) use
 * one more ECDH key that no key id names; TES_SE_CAP_PSEUDONYM with ECDH.
 *
 * This file: loading the module, picking the slot and token, the session's
 * login, the tes_se_ops table and its locking; the key operations are in
 * pkcs11_keys.c, the PIN and PUK logic in p11_pin.c, the state file in
 * p11_state.c, CKR names in p11_errors.c (what they share: p11_internal.h).
 */
#include "se/p11_internal.h"

/* ------------------------------------------------------------------ helpers */

tes_err p11_check_pin(const char *pin)
{
    return se_check_pin_format(pin, SE_SECRET_PIN, SE_PIN_TEXT);
}

tes_err p11_check_puk(const char *puk)
{
    return se_check_pin_format(puk, SE_SECRET_PUK, SE_PIN_TEXT);
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

/* ------------------------------------------------------------------ ops */

static uint32_t p11_caps(tes_se *se)
{
    p11_se *s = (p11_se *)se;
    return TES_SE_CAP_TEXT_PIN | TES_SE_CAP_LOGIN | (s->hw ? TES_SE_CAP_HARDWARE : 0u) |
           (s->can_ecdh ? TES_SE_CAP_ECDH_EXPORT | TES_SE_CAP_PSEUDONYM : 0u);
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

static tes_err p11_pseudonym(tes_se *se, const char *pin, tes_bytes site_key, uint8_t out[32])
{
    LOCKED(p11_pseudonym_locked(s_, pin, site_key, out));
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
    .pseudonym = p11_pseudonym,
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
