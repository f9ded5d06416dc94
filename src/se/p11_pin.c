/*
 * The PKCS#11 backend's PIN and PUK logic: Tessera's counters checked and
 * counted before the token is asked, the token's user PIN and SO PIN, the
 * per-key gate (the backend's design notes: pkcs11.c).
 */
#include "se/p11_internal.h"

/* ------------------------------------------------------------------ PIN logic */

/* Verifies the user PIN through Tessera's counter and C_Login. Ignores
 * whether a PIN is "set" (pin_set uses it before that). */
static tes_err verify_user_pin(p11_se *s, const char *pin)
{
    tes_err e = p11_check_pin(pin);
    if (e)
        return e;
    if (s->st.puk_tries == 0)
        return tes_err_set(TES_ERR_SE_BLOCKED,
                           "PKCS#11 token '%s' is permanently blocked (no PUK tries left)",
                           s->label);
    if (s->st.pin_tries <= 0)
        return tes_err_set(TES_ERR_PIN_LOCKED,
                           "PIN of PKCS#11 token '%s' is locked after %d wrong tries; unblock "
                           "it with the PUK",
                           s->label, TES_SE_PIN_TRIES);
    s->st.pin_tries--;
    if ((e = p11_state_save(s)) != TES_OK)
        return e; /* never compare a PIN whose try was not recorded */
    p11_logout(s);
    CK_RV rv = s->m->C_Login(s->sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv == CKR_OK) {
        s->logged_in = true;
        p11_remember_pin(s, pin);
        s->st.pin_tries = TES_SE_PIN_TRIES;
        return p11_state_save(s);
    }
    p11_restore_login(s);
    if (rv == CKR_PIN_INCORRECT) {
        if (s->st.pin_tries == 0)
            return tes_err_set(TES_ERR_PIN_WRONG,
                               "wrong PIN for PKCS#11 token '%s': 0 tries left, the PIN is now "
                               "locked (unblock with the PUK)",
                               s->label);
        return tes_err_set(TES_ERR_PIN_WRONG, "wrong PIN for PKCS#11 token '%s': %d tries left",
                           s->label, s->st.pin_tries);
    }
    if (rv == CKR_PIN_LOCKED) {
        s->st.pin_tries = 0;
        (void)p11_state_save(s);
        return tes_err_set(TES_ERR_PIN_LOCKED,
                           "the token '%s' itself reports its PIN locked (CKR_PIN_LOCKED)",
                           s->label);
    }
    if (rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
        /* The token did not compare it: give the try back. */
        s->st.pin_tries++;
        (void)p11_state_save(s);
    }
    return p11_fail(rv, "C_Login (user)");
}

/* Checks the PUK (= the token's SO PIN) through the PUK counter and
 * C_Login(CKU_SO). On success the session is logged in as SO and the caller
 * must log out. The user login is always ended. */
static tes_err verify_puk_so_login(p11_se *s, const char *puk)
{
    tes_err e = p11_check_puk(puk);
    if (e)
        return e;
    if (s->st.puk_tries <= 0)
        return tes_err_set(TES_ERR_SE_BLOCKED,
                           "PKCS#11 token '%s' is permanently blocked after %d wrong PUKs",
                           s->label, TES_SE_PUK_TRIES);
    s->st.puk_tries--;
    if ((e = p11_state_save(s)) != TES_OK)
        return e;
    p11_logout(s);
    CK_RV rv = s->m->C_Login(s->sess, CKU_SO, (CK_UTF8CHAR_PTR)puk, strlen(puk));
    if (rv == CKR_OK) {
        s->st.puk_tries = TES_SE_PUK_TRIES;
        return p11_state_save(s);
    }
    p11_restore_login(s);
    if (rv == CKR_PIN_INCORRECT) {
        if (s->st.puk_tries == 0)
            return tes_err_set(TES_ERR_SE_BLOCKED,
                               "wrong PUK (the SO PIN of token '%s'): no tries left, the secure "
                               "element is now permanently blocked",
                               s->label);
        return tes_err_set(TES_ERR_PUK_WRONG, "wrong PUK (the SO PIN of token '%s'): %d tries left",
                           s->label, s->st.puk_tries);
    }
    if (rv == CKR_PIN_LOCKED) {
        s->st.puk_tries = 0;
        (void)p11_state_save(s);
        return tes_err_set(TES_ERR_SE_BLOCKED,
                           "the token '%s' itself reports its SO PIN (the PUK) locked", s->label);
    }
    if (rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
        s->st.puk_tries++;
        (void)p11_state_save(s);
        return tes_err_set(TES_ERR_PIN_FORMAT, "token '%s' refuses the PUK's format as SO PIN: %s",
                           s->label, p11_ckr_name(rv));
    }
    return p11_fail(rv, "C_Login (SO)");
}

/* Gate for using a private key: UV keys need the PIN every time; others need
 * a logged-in session (made with the PIN if one is given). */
tes_err p11_gate_key(p11_se *s, const char *id, const p11_keyflags *f, const char *pin)
{
    if (s->st.puk_tries == 0)
        return tes_err_set(TES_ERR_SE_BLOCKED, "PKCS#11 token '%s' is permanently blocked",
                           s->label);
    if (f && f->single_use && f->used)
        return tes_err_set(TES_ERR_KEY_USED, "single-use key '%s' was already used", id);
    bool uv = f && f->uv;
    if (uv || (pin != NULL && !s->logged_in)) {
        if (pin == NULL)
            return tes_err_set(TES_ERR_PIN_REQUIRED,
                               "key '%s' needs user verification: give "
                               "the PIN",
                               id);
        if (!s->st.pin_set)
            return tes_err_set(TES_ERR_PIN_NOT_SET, "PKCS#11 secure element has no PIN yet "
                                                    "(pin_set first)");
        return verify_user_pin(s, pin);
    }
    if (!s->logged_in)
        return tes_err_set(TES_ERR_PIN_REQUIRED,
                           "key '%s' is a private object of PKCS#11 token '%s': it can only be "
                           "used once the token is logged in, so verify the PIN first",
                           id, s->label);
    return TES_OK;
}

/* ------------------------------------------------------------------ PIN operations */

tes_err p11_pin_set_locked(p11_se *s, const char *pin, const char *puk)
{
    tes_err e;
    if ((e = p11_check_pin(pin)) != TES_OK || (e = p11_check_puk(puk)) != TES_OK)
        return e;
    if ((e = p11_state_load(s)) != TES_OK)
        return e;
    if (s->st.puk_tries == 0)
        return tes_err_set(TES_ERR_SE_BLOCKED, "PKCS#11 token '%s' is permanently blocked",
                           s->label);
    if (s->st.pin_set)
        return tes_err_set(TES_ERR_STATE,
                           "a PIN is already set for PKCS#11 token '%s' (use "
                           "pin_change)",
                           s->label);
    /* The PUK must be the token's SO PIN, else unblocking could never work. */
    if ((e = verify_puk_so_login(s, puk)) != TES_OK)
        return e;
    p11_logout(s);
    /* The PIN must be the token's user PIN (Tessera cannot choose it). */
    if ((e = verify_user_pin(s, pin)) != TES_OK)
        return e;
    s->st.pin_set = true;
    return p11_state_save(s);
}

tes_err p11_pin_verify_locked(p11_se *s, const char *pin)
{
    tes_err e = p11_check_pin(pin);
    if (e)
        return e;
    if ((e = p11_state_load(s)) != TES_OK)
        return e;
    if (s->st.puk_tries == 0)
        return tes_err_set(TES_ERR_SE_BLOCKED, "PKCS#11 token '%s' is permanently blocked",
                           s->label);
    if (!s->st.pin_set)
        return tes_err_set(TES_ERR_PIN_NOT_SET, "PKCS#11 secure element has no PIN yet");
    return verify_user_pin(s, pin);
}

tes_err p11_pin_change_locked(p11_se *s, const char *old_pin, const char *new_pin)
{
    tes_err e;
    if ((e = p11_check_pin(old_pin)) != TES_OK || (e = p11_check_pin(new_pin)) != TES_OK)
        return e;
    if ((e = p11_pin_verify_locked(s, old_pin)) != TES_OK)
        return e;
    CK_RV rv = s->m->C_SetPIN(s->sess, (CK_UTF8CHAR_PTR)old_pin, strlen(old_pin),
                              (CK_UTF8CHAR_PTR)new_pin, strlen(new_pin));
    if (rv != CKR_OK)
        return p11_fail(rv, "C_SetPIN");
    p11_remember_pin(s, new_pin);
    return TES_OK;
}

tes_err p11_pin_unblock_locked(p11_se *s, const char *puk, const char *new_pin)
{
    tes_err e;
    if ((e = p11_check_puk(puk)) != TES_OK || (e = p11_check_pin(new_pin)) != TES_OK)
        return e;
    if ((e = p11_state_load(s)) != TES_OK)
        return e;
    if (s->st.puk_tries == 0)
        return tes_err_set(TES_ERR_SE_BLOCKED, "PKCS#11 token '%s' is permanently blocked",
                           s->label);
    if (!s->st.pin_set)
        return tes_err_set(TES_ERR_PIN_NOT_SET, "PKCS#11 secure element has no PIN yet");
    if ((e = verify_puk_so_login(s, puk)) != TES_OK)
        return e;
    CK_RV rv = s->m->C_InitPIN(s->sess, (CK_UTF8CHAR_PTR)new_pin, strlen(new_pin));
    p11_logout(s);
    if (rv != CKR_OK) {
        tes_err fe = p11_fail(rv, "C_InitPIN (as SO, to unblock)");
        p11_restore_login(s);
        return fe;
    }
    p11_forget_pin(s);
    s->st.pin_tries = TES_SE_PIN_TRIES;
    if ((e = p11_state_save(s)) != TES_OK)
        return e;
    /* Log in with the new PIN, which is known to be right. */
    rv = s->m->C_Login(s->sess, CKU_USER, (CK_UTF8CHAR_PTR)new_pin, strlen(new_pin));
    if (rv != CKR_OK)
        return p11_fail(rv, "C_Login (user, after unblock)");
    s->logged_in = true;
    p11_remember_pin(s, new_pin);
    return TES_OK;
}

tes_err p11_pin_status_locked(p11_se *s, int *pin_tries_left, int *puk_tries_left, bool *pin_set)
{
    tes_err e = p11_state_load(s);
    if (e)
        return e;
    if (pin_tries_left)
        *pin_tries_left = s->st.pin_tries;
    if (puk_tries_left)
        *puk_tries_left = s->st.puk_tries;
    if (pin_set)
        *pin_set = s->st.pin_set;
    return TES_OK;
}
