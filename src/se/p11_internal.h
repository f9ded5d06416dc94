/*
 * Private to src/se/: what the files of the PKCS#11 backend share
 * (pkcs11.c: the module, slots, login and the ops table; pkcs11_keys.c: the
 * key operations; p11_errors.c: CKR names and their Tessera errors;
 * p11_state.c: Tessera's PIN counters and key flags file; p11_pin.c: the PIN
 * and PUK logic). The design notes are pkcs11.c's.
 */
#ifndef TES_SE_P11_INTERNAL_H
#define TES_SE_P11_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/p11-kit.h>

#include "tessera/core.h"
#include "tessera/crypto.h"
#include "tessera/se.h"

#include "se/se_internal.h"

#define P11_ID_LEN 16
#define P11_ID_HEX (2 * P11_ID_LEN)
#define P11_LABEL_PREFIX "tessera "
#define P11_STATE_MAGIC "tessera-pkcs11-state 1"
#define P11_STATE_MAX (4u << 20)
#define P11_MAX_KEYS 100000

typedef struct p11_keyflags {
    char id[P11_ID_HEX + 1];
    bool uv, single_use, used;
} p11_keyflags;

typedef struct p11_state {
    bool pin_set;
    int pin_tries, puk_tries;
    p11_keyflags *keys;
    size_t nkeys, capkeys;
} p11_state;

typedef struct p11_se {
    tes_se base;
    pthread_mutex_t mu;
    CK_FUNCTION_LIST *m;
    bool initialized;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE sess;
    bool have_session;
    bool logged_in;
    /* The PIN that last logged the session in (see restore_login). */
    char pin_cache[24];
    bool have_pin_cache;
    bool hw;
    bool can_ecdh;
    char label[33];
    char path[PATH_MAX];
    p11_state st;
    tes_rng rng; /* the opener's (tes_se_opts): key ids */
} p11_se;

const char *p11_ckr_name(CK_RV rv);
/* Maps a failed call to a Tessera error with the CKR name in the message. */
tes_err p11_fail(CK_RV rv, const char *what);
/* Finds the one object matching template t (n attributes); *found false when
 * none. what ("" or e.g. "pseudonym key") names it in the error message. */
/* CKA_EC_PARAMS of a P-256 key: the DER OID 1.2.840.10045.3.1.7 (prime256v1). */
extern const uint8_t p11_p256_oid[10];

tes_err p11_find_one(p11_se *s, CK_ATTRIBUTE *t, CK_ULONG n, const char *what,
                     CK_OBJECT_HANDLE *h, bool *found);
void p11_state_free(p11_state *st);
bool p11_is_hex_id(const char *s);
p11_keyflags *p11_state_find(p11_state *st, const char *id);
tes_err p11_state_add(p11_state *st, const p11_keyflags *k);
void p11_state_remove(p11_state *st, const char *id);
/* (Re)reads the state file; a missing file means a fresh state. */
tes_err p11_state_load(p11_se *s);
tes_err p11_state_save(p11_se *s);
/* Gate for using a private key: UV keys need the PIN every time; others need
 * a logged-in session (made with the PIN if one is given). */
tes_err p11_gate_key(p11_se *s, const char *id, const p11_keyflags *f, const char *pin);
tes_err p11_pin_set_locked(p11_se *s, const char *pin, const char *puk);
tes_err p11_pin_verify_locked(p11_se *s, const char *pin);
tes_err p11_pin_change_locked(p11_se *s, const char *old_pin, const char *new_pin);
tes_err p11_pin_unblock_locked(p11_se *s, const char *puk, const char *new_pin);
tes_err p11_pin_status_locked(p11_se *s, int *pin_tries_left, int *puk_tries_left, bool *pin_set);
tes_err p11_check_pin(const char *pin);
tes_err p11_check_puk(const char *puk);
void p11_logout(p11_se *s);
void p11_forget_pin(p11_se *s);
void p11_remember_pin(p11_se *s, const char *pin);
/* After a failed PIN or PUK check (which had to end the login), logs the
 * session in again with the PIN that last logged it in, so keys without user
 * verification keep working. Not a guess: that PIN was verified; if it no
 * longer works (changed elsewhere) it is forgotten. */
void p11_restore_login(p11_se *s);

/* pkcs11_keys.c: the key operations behind tes_se_ops, called with s->mu held;
 * arguments, errors and ownership as in tes_se_ops (se.h). */
tes_err p11_create_key_locked(p11_se *s, const tes_se_key_opts *opts, char id[TES_SE_ID_MAX]);
tes_err p11_key_info_locked(p11_se *s, const char *id, tes_se_key_info *out);
tes_err p11_public_key_locked(p11_se *s, const char *id, tes_key **out);
tes_err p11_sign_locked(p11_se *s, const char *id, const char *pin, tes_bytes msg, uint8_t *sig,
                        size_t *sig_len);
tes_err p11_key_agreement_locked(p11_se *s, const char *id, const char *pin, const tes_key *peer,
                                 uint8_t out[TES_MAX_COORD], size_t *out_len);
/* CKM_ECDH1_DERIVE (CKD_NULL) of private key h with the uncompressed point
 * into a session-only, extractable secret whose 32-byte value is read into
 * out and which is destroyed at once; id names the key in messages. */
tes_err p11_ecdh_derive(p11_se *s, CK_OBJECT_HANDLE h, const uint8_t point[65], const char *id,
                        uint8_t out[32]);
/* tes_se_ops.pseudonym (p11_pseudonym.c). */
tes_err p11_pseudonym_locked(p11_se *s, const char *pin, tes_bytes site_key, uint8_t out[32]);
tes_err p11_delete_key_locked(p11_se *s, const char *id);
tes_err p11_list_keys_locked(p11_se *s, char (*ids)[TES_SE_ID_MAX], size_t max, size_t *n);

#endif
