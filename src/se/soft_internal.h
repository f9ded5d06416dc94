/*
 * soft_internal.h — private to the software secure element (soft.c,
 * soft_state.c): the in-memory form of the sealed state and the functions that
 * load and persist it. See docs/SECURE-ELEMENT.md for the file formats.
 */
#ifndef TESSERA_SE_SOFT_INTERNAL_H
#define TESSERA_SE_SOFT_INTERNAL_H

#include <limits.h>

#include "se/se_internal.h"

#define SOFT_MAGIC "TSE1"
#define SOFT_HEADER_LEN 12 /* magic (4) || counter (8, big-endian) = the GCM aad */
#define SOFT_IV_LEN 12
#define SOFT_TAG_LEN 16
#define SOFT_MAX_KEYS 1024
#define SOFT_MAX_STATE (1u << 20) /* bytes of state.bin */
#define SOFT_SALT_LEN 16
#define SOFT_HASH_LEN 32
#define SOFT_SCALAR_LEN 32
#define SOFT_STATE_VERSION 1

typedef struct soft_key {
    char id[33]; /* 16 random bytes as lower-case hex */
    uint8_t d[SOFT_SCALAR_LEN];
    bool uv, single_use, used;
} soft_key;

/* The decrypted state. Lives only for one operation, under the lock; wiped by
 * soft_state_free. */
typedef struct soft_state {
    uint64_t counter; /* the version this state was sealed with */
    bool pin_set;
    uint8_t pin_salt[SOFT_SALT_LEN], pin_hash[SOFT_HASH_LEN];
    uint8_t puk_salt[SOFT_SALT_LEN], puk_hash[SOFT_HASH_LEN];
    int pin_tries, puk_tries;
    bool blocked;                   /* PUK exhausted: permanently */
    uint8_t att_d[SOFT_SCALAR_LEN]; /* attestation key */
    tes_buf att_cert;               /* its certificate (DER): self-signed or vendor-issued */
    soft_key *keys;
    size_t nkeys;
    bool have_pseud;                  /* the pseudonym key exists (made on first use) */
    uint8_t pseud_d[SOFT_SCALAR_LEN]; /* its scalar (never a soft_key: no other use) */
    bool dirty; /* changed in memory since the last soft_state_store */
} soft_state;

typedef struct soft_se {
    tes_se base;
    char dir[PATH_MAX - 32];
    int lock_fd;
    uint8_t seal_key[32]; /* HKDF(device.key, "tessera soft-se state") */
    tes_clock clock;      /* the opener's (tes_se_opts) */
    tes_rng rng;
} soft_se;

/* DIR/<name> into out (PATH_MAX bytes). */
void soft_path(const soft_se *s, const char *name, char out[PATH_MAX]);

/* Exclusive lock on DIR/lock (serialises processes and handles). */
TES_MUST_CHECK tes_err soft_lock(soft_se *s);
void soft_unlock(soft_se *s);

/* Reads the counter file. *exists false (and TES_OK) when it is missing. */
TES_MUST_CHECK tes_err soft_counter_read(const soft_se *s, uint64_t *value, bool *exists);
TES_MUST_CHECK tes_err soft_counter_write(const soft_se *s, uint64_t value);

/* Loads, authenticates and decodes state.bin against the counter (lock held).
 * Accepts a state one ahead of the counter (crash between the two writes) and
 * then brings the counter forward. TES_ERR_SE_TAMPERED / TES_ERR_SE_ROLLBACK
 * with a specific message otherwise; nothing on disk is changed on failure. */
TES_MUST_CHECK tes_err soft_state_load(soft_se *s, soft_state *st);
/* Seals st with counter+1, writes state.bin atomically, then the counter file
 * (lock held). On success st->counter is the new version and st->dirty false. */
TES_MUST_CHECK tes_err soft_state_store(soft_se *s, soft_state *st);
void soft_state_free(soft_state *st);

soft_key *soft_state_find(soft_state *st, const char *id);
/* Appends a key (TES_ERR_SE_BACKEND when SOFT_MAX_KEYS are stored). */
TES_MUST_CHECK tes_err soft_state_add_key(soft_state *st, const soft_key *k);
void soft_state_remove_key(soft_state *st, soft_key *k);

/* A fresh P-256 private scalar in 1..n-1 drawn from rng (and its key object
 * when key != NULL). */
TES_MUST_CHECK tes_err soft_scalar_new(const tes_rng *rng, uint8_t d[SOFT_SCALAR_LEN],
                                       tes_key **key);

/* Shared by soft.c (PIN, keys, open) and soft_attest.c (attestations,
 * key attestation JWTs, provisioning). */
soft_se *soft_of(tes_se *se);
/* Locks and loads; on failure nothing is held. */
tes_err soft_op_begin(soft_se *s, soft_state *st);
/* Persists pending changes (if err is still TES_OK), wipes, unlocks. */
tes_err soft_op_end(soft_se *s, soft_state *st, tes_err err);
tes_err soft_check_id(const char *id);
/* The PIN check of every PIN-gated operation (state loaded, lock held, format
 * checked): counts the try before comparing (soft.c). */
tes_err soft_pin_check(soft_se *s, soft_state *st, const char *pin);
/* tes_se_ops.pseudonym (soft_pseudonym.c). */
tes_err soft_pseudonym(tes_se *se, const char *pin, tes_bytes site_key, uint8_t out[32]);
tes_err soft_key_unknown(const char *id);
/* The key object of k (private; free after use). */
tes_err soft_key_object(const soft_key *k, tes_key **out);
tes_err soft_attest(tes_se *se, const char *id, tes_bytes challenge, tes_buf *chain);
tes_err soft_attest_jwt(tes_se *se, const char *const *ids, size_t n_ids, const char *nonce,
                        tes_buf *jwt);
/* Self-signed attestation certificate for a new secure element. */
tes_err soft_att_self_signed(soft_se *s, const tes_key *att_key, tes_buf *der);

#endif
