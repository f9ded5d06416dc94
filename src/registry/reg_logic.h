/*
 * Private to src/registry/: what the files of the registry's logic share
 * (registry.c: schema, transactions, secrets, open/close, audit; reg_people.c:
 * people, offers, access tokens, recovery codes; reg_nonce.c: nonces;
 * reg_issue.c: issued batches and status lists; reg_status.c: status changes
 * of credentials, people and devices). The design notes are registry.c's.
 */
#ifndef TES_REG_LOGIC_H
#define TES_REG_LOGIC_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/registry_internal.h"
#include "tessera/crypto.h"

#define REG_MAX_TRIES 12    /* runs of one transaction on transient conflicts */
#define REG_RANDOM_TRIES 48 /* random index draws before picking among the free ones */
#define REG_MAX_TX_TRIES 5  /* wrong transaction codes before an offer is dead */
#define REG_MAX_CLAIMS (8u << 20)
#define REG_MAX_TEXT 512   /* doctype, list uri, operator name */
#define REG_MAX_SECRET 256 /* presented codes, tokens, nonces */
#define REG_CODE_BYTES 32
#define REG_TOKEN_BYTES 32
#define REG_NONCE_BYTES 16

struct tes_registry {
    reg_backend *b;
    tes_clock clock; /* the opener's (tes_registry_opts) */
    tes_rng rng;
    uint8_t nonce_key[32]; /* the c_nonce key (table secrets), once loaded */
    bool have_nonce_key;
};

/* An error decided inside a transaction that must still commit (a wrong
 * transaction code: the try is counted). */
typedef struct reg_after {
    tes_err code;
    char msg[256];
} reg_after;

typedef tes_err (*reg_body)(tes_registry *r, void *ctx, reg_after *after);

tes_err reg_exec(tes_registry *r, int which, const reg_arg *args, size_t nargs, reg_result *res);
tes_err reg_rand_fill(tes_registry *r, uint8_t *p, size_t n);
int64_t reg_now(const tes_registry *r);
/* Uniform in [0, bound), bound >= 1, by rejection. */
tes_err reg_rand_below(tes_registry *r, uint64_t bound, uint64_t *out);
/* Every change is durable when its call returns, except a new nonce (see nonce_new). */
tes_err reg_run_tx(tes_registry *r, reg_body body, void *ctx);
tes_err reg_audit(tes_registry *r, int64_t at, const char *op, const char *action,
                  const char *detail);
tes_err reg_person_exists(tes_registry *r, int64_t person_id);
const char *reg_value_name(int64_t v);
/* The person's person-wide status (0 valid, 1 revoked, 2 suspended), its row
 * locked (PostgreSQL) until the transaction ends. TES_ERR_NOT_FOUND. */
tes_err reg_person_state(tes_registry *r, int64_t person_id, int64_t *state);
/* Takes the issuance lock: every issuance and every person- or device-wide
 * status change runs after it (PostgreSQL row lock; SQLite's BEGIN IMMEDIATE
 * is already serial), so a revocation and an issuance never overlap. */
tes_err reg_lock_issuance(tes_registry *r);
/* Hex SHA-256 of a || ":" || b (b may be NULL: just a). */
tes_err reg_hash_hex(const char *a, const char *b, char out[65]);
/* nbytes random bytes as base64url into out (cap >= 4*nbytes/3 + 2). */
tes_err reg_rand_b64url(tes_registry *r, size_t nbytes, char *out, size_t cap);
/* n uniformly random decimal digits (n < cap). */
tes_err reg_rand_digits(tes_registry *r, int n, char *out, size_t cap);
bool reg_text_ok(const char *s, size_t max);
int reg_cmp_i64(const void *a, const void *b);
bool reg_thumbprint_ok(const char *t);
/* Copies a 64-hex-digit SHA-256 in lower case. */
void reg_hex64_lower(const char *in, char out[65]);

#endif
