/*
 * The registry's people, their offers and access tokens, and recovery codes
 * (the registry's design notes: registry.c).
 */
#include "registry/reg_logic.h"

/* ------------------------------------------------------------------ people */

typedef struct {
    const char *doctype, *claims, *op;
    int64_t id;
} person_add_ctx;

static tes_err person_add_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    person_add_ctx *c = vctx;
    int64_t now = reg_now(r);
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(c->doctype), REG_TEXT(c->claims), REG_INT(now)};
    tes_err e = reg_exec(r, RS_PERSON_INSERT, a, 3, &res);
    if (!e && res.nrows != 1)
        e = tes_err_set(TES_ERR_STORE, "registry: enrolling: no id returned");
    if (!e)
        c->id = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    if (e)
        return e;
    char detail[REG_MAX_TEXT + 64];
    snprintf(detail, sizeof detail, "person %lld, doctype %s", (long long)c->id, c->doctype);
    return reg_audit(r, now, c->op, "enrol", detail);
}

tes_err tes_registry_person_add(tes_registry *r, const char *doctype, const char *claims_json,
                                const char *operator_name, int64_t *person_id)
{
    if (!r || !person_id || !reg_text_ok(doctype, REG_MAX_TEXT) ||
        !reg_text_ok(operator_name, REG_MAX_TEXT) || !claims_json)
        return tes_err_set(TES_ERR_ARG, "registry: person_add needs a registry, a doctype, claims, "
                                        "an operator name and an id output");
    size_t len = strnlen(claims_json, REG_MAX_CLAIMS + 1);
    if (len > REG_MAX_CLAIMS)
        return tes_err_set(TES_ERR_ARG, "registry: claims larger than %u bytes", REG_MAX_CLAIMS);
    json_error_t jerr;
    json_t *j = json_loadb(claims_json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return tes_err_set(TES_ERR_JSON, "registry: claims are not JSON: %s (line %d)", jerr.text,
                           jerr.line);
    bool obj = json_is_object(j);
    json_decref(j);
    if (!obj)
        return tes_err_set(TES_ERR_JSON, "registry: claims must be a JSON object");

    person_add_ctx c = {doctype, claims_json, operator_name, 0};
    tes_err e = reg_run_tx(r, person_add_body, &c);
    if (!e)
        *person_id = c.id;
    return e;
}

tes_err tes_registry_person_get(tes_registry *r, int64_t person_id, char **doctype,
                                char **claims_json)
{
    if (!r || !doctype || !claims_json)
        return tes_err_set(TES_ERR_ARG, "registry: person_get needs a registry and outputs");
    *doctype = *claims_json = NULL;
    reg_result res = {0};
    reg_arg a[] = {REG_INT(person_id)};
    tes_err e = reg_exec(r, RS_PERSON_GET, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_NOT_FOUND, "registry: no person %lld", (long long)person_id);
    if (!e) {
        /* take the cells over */
        *doctype = res.cell[0];
        *claims_json = res.cell[1];
        res.cell[0] = res.cell[1] = NULL;
        if (!*doctype || !*claims_json) {
            free(*doctype);
            free(*claims_json);
            *doctype = *claims_json = NULL;
            e = tes_err_set(TES_ERR_STORE_CORRUPT, "registry: person %lld has NULL fields",
                            (long long)person_id);
        }
    }
    reg_result_free(&res);
    return e;
}

/* ------------------------------------------------------------------ offers */

typedef struct {
    int64_t person_id, now, lifetime;
    int tx_digits;
    const char *op;
    const char *code_hash, *tx_hash;
} offer_create_ctx;

static tes_err offer_create_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    offer_create_ctx *c = vctx;
    int64_t state = 0;
    tes_err e = reg_person_state(r, c->person_id, &state);
    if (e)
        return e;
    if (state == TES_STATUS_REVOKED)
        return tes_err_set(TES_ERR_STATE,
                           "registry: person %lld is revoked; revocation is final (no new offer)",
                           (long long)c->person_id);
    if (state != TES_STATUS_VALID)
        return tes_err_set(TES_ERR_STATE,
                           "registry: person %lld is suspended: reinstate the person before "
                           "making a new offer",
                           (long long)c->person_id);
    reg_result res = {0};
    reg_arg a[] = {REG_INT(c->person_id), REG_TEXT(c->code_hash), REG_TEXT(c->tx_hash),
                   REG_INT(c->tx_digits), REG_INT(c->now),        REG_INT(c->now + c->lifetime)};
    e = reg_exec(r, RS_OFFER_INSERT, a, 6, &res);
    if (!e && res.nrows != 1)
        e = tes_err_set(TES_ERR_STORE, "registry: creating an offer: no id returned");
    int64_t offer = e ? 0 : reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    if (e)
        return e;
    char detail[128];
    snprintf(detail, sizeof detail, "person %lld, offer %lld, expires at %lld",
             (long long)c->person_id, (long long)offer, (long long)(c->now + c->lifetime));
    return reg_audit(r, c->now, c->op, "offer", detail);
}

tes_err tes_registry_offer_create(tes_registry *r, int64_t person_id, int64_t now, int64_t lifetime,
                                  int tx_digits, const char *operator_name, char code[64],
                                  char tx_code[16])
{
    if (!r || !code || !tx_code || !reg_text_ok(operator_name, REG_MAX_TEXT))
        return tes_err_set(TES_ERR_ARG, "registry: offer_create needs a registry, an operator "
                                        "name and outputs");
    code[0] = tx_code[0] = '\0';
    if (lifetime <= 0 || now < 0 || now > INT64_MAX - lifetime)
        return tes_err_set(TES_ERR_ARG, "registry: offer lifetime must be positive");
    if (tx_digits != 0 && (tx_digits < 4 || tx_digits > 15))
        return tes_err_set(TES_ERR_ARG,
                           "registry: a transaction code has 4 to 15 digits (or 0 for none), "
                           "not %d",
                           tx_digits);

    char c_code[64], c_tx[16] = "", code_hash[65], tx_hash[65] = "";
    tes_err e = reg_rand_b64url(r, REG_CODE_BYTES, c_code, sizeof c_code);
    if (!e && tx_digits)
        e = reg_rand_digits(r, tx_digits, c_tx, sizeof c_tx);
    if (!e)
        e = reg_hash_hex(c_code, NULL, code_hash);
    if (!e && tx_digits)
        e = reg_hash_hex(c_code, c_tx, tx_hash);
    if (!e) {
        offer_create_ctx c = {person_id,     now,       lifetime, tx_digits,
                              operator_name, code_hash, tx_hash};
        e = reg_run_tx(r, offer_create_body, &c);
    }
    if (!e) {
        memcpy(code, c_code, strlen(c_code) + 1);
        memcpy(tx_code, c_tx, strlen(c_tx) + 1);
    }
    tes_wipe(c_code, sizeof c_code);
    tes_wipe(c_tx, sizeof c_tx);
    return e;
}

typedef struct {
    const char *code, *tx_code, *code_hash, *token_hash;
    int64_t now, token_lifetime;
    int64_t person_id;
} redeem_ctx;

static tes_err redeem_body(tes_registry *r, void *vctx, reg_after *after)
{
    redeem_ctx *c = vctx;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(c->code_hash)};
    tes_err e = reg_exec(r, RS_OFFER_LOCK, a, 1, &res);
    if (e)
        return e;
    if (res.nrows == 0) {
        reg_result_free(&res);
        return tes_err_set(TES_ERR_GRANT, "registry: unknown pre-authorized code");
    }
    int64_t offer = reg_cell_int(&res, 0, 0), person = reg_cell_int(&res, 0, 1);
    char tx_hash[65];
    snprintf(tx_hash, sizeof tx_hash, "%s", reg_cell(&res, 0, 2) ? reg_cell(&res, 0, 2) : "");
    int64_t tx_digits = reg_cell_int(&res, 0, 3), expires = reg_cell_int(&res, 0, 4),
            attempts = reg_cell_int(&res, 0, 5);
    bool used = reg_cell(&res, 0, 6) != NULL, withdrawn = reg_cell(&res, 0, 7) != NULL;
    reg_result_free(&res);

    if (withdrawn)
        return tes_err_set(TES_ERR_GRANT,
                           "registry: pre-authorized code withdrawn: the holder's credentials "
                           "were revoked or suspended");
    if (used)
        return tes_err_set(TES_ERR_GRANT, "registry: pre-authorized code already used");
    /* Read without a lock (a status change locks the person, then the offers: taking
     * them in the other order here would deadlock); a concurrent revocation waits for
     * this offer's row and then withdraws the token made here. */
    reg_arg ps[] = {REG_INT(person)};
    if ((e = reg_exec(r, RS_PERSON_STATE_GET, ps, 1, &res)))
        return e;
    int64_t state = res.nrows ? reg_cell_int(&res, 0, 0) : TES_STATUS_REVOKED;
    reg_result_free(&res);
    if (state != TES_STATUS_VALID)
        return tes_err_set(TES_ERR_GRANT, "registry: the holder's credentials are %s",
                           reg_value_name(state));
    if (c->now >= expires)
        return tes_err_set(TES_ERR_GRANT, "registry: pre-authorized code expired");
    if (attempts >= REG_MAX_TX_TRIES)
        return tes_err_set(TES_ERR_GRANT, "registry: offer locked after %d wrong transaction codes",
                           REG_MAX_TX_TRIES);
    if (tx_digits > 0) {
        if (!c->tx_code || !*c->tx_code)
            /* A missing parameter, not a wrong one: OpenID4VCI 1.0 §6.3 invalid_request. */
            return tes_err_set(TES_ERR_HTTP_REQUEST,
                               "registry: this offer needs a transaction code (tx_code)");
        char got[65] = "";
        bool ok = false;
        if (strlen(c->tx_code) <= 32 && reg_hash_hex(c->code, c->tx_code, got) == TES_OK)
            ok = tes_ct_eq(TES_BYTES(got, 64), TES_BYTES(tx_hash, strlen(tx_hash)));
        if (!ok) {
            /* Count the try and commit it, then report. */
            reg_arg b[] = {REG_INT(offer)};
            e = reg_exec(r, RS_OFFER_ATTEMPT, b, 1, &res);
            if (e)
                return e;
            int64_t now_attempts = res.nrows ? reg_cell_int(&res, 0, 0) : REG_MAX_TX_TRIES;
            reg_result_free(&res);
            int64_t left = REG_MAX_TX_TRIES - now_attempts;
            after->code = TES_ERR_GRANT;
            snprintf(after->msg, sizeof after->msg,
                     "registry: wrong transaction code (%lld %s left)", (long long)left,
                     left == 1 ? "try" : "tries");
            return TES_OK;
        }
    }
    reg_arg u[] = {REG_INT(offer), REG_INT(c->now)};
    e = reg_exec(r, RS_OFFER_USE, u, 2, &res);
    if (!e && res.nrows != 1)
        e = tes_err_set(TES_ERR_GRANT, "registry: pre-authorized code already used");
    reg_result_free(&res);
    if (e)
        return e;
    reg_arg p[] = {REG_INT(c->now)};
    if ((e = reg_exec(r, RS_TOKEN_PURGE, p, 1, NULL)))
        return e;
    reg_arg t[] = {REG_TEXT(c->token_hash), REG_INT(person), REG_INT(offer),
                   REG_INT(c->now + c->token_lifetime)};
    if ((e = reg_exec(r, RS_TOKEN_INSERT, t, 4, NULL)))
        return e;
    c->person_id = person;
    return TES_OK;
}

tes_err tes_registry_offer_redeem(tes_registry *r, const char *code, const char *tx_code,
                                  int64_t now, int64_t token_lifetime, char token[64],
                                  int64_t *person_id)
{
    if (!r || !code || !token || !person_id)
        return tes_err_set(TES_ERR_ARG, "registry: offer_redeem needs a registry, a code and "
                                        "outputs");
    token[0] = '\0';
    if (token_lifetime <= 0 || now > INT64_MAX - token_lifetime)
        return tes_err_set(TES_ERR_ARG, "registry: token lifetime must be positive");
    if (!*code || strnlen(code, REG_MAX_SECRET + 1) > REG_MAX_SECRET)
        return tes_err_set(TES_ERR_GRANT, "registry: unknown pre-authorized code");

    char tok[64], code_hash[65], token_hash[65];
    tes_err e = reg_rand_b64url(r, REG_TOKEN_BYTES, tok, sizeof tok);
    if (!e)
        e = reg_hash_hex(code, NULL, code_hash);
    if (!e)
        e = reg_hash_hex(tok, NULL, token_hash);
    if (!e) {
        redeem_ctx c = {code, tx_code, code_hash, token_hash, now, token_lifetime, 0};
        e = reg_run_tx(r, redeem_body, &c);
        if (!e) {
            memcpy(token, tok, strlen(tok) + 1);
            *person_id = c.person_id;
        }
    }
    tes_wipe(tok, sizeof tok);
    return e;
}

tes_err tes_registry_token_check(tes_registry *r, const char *token, int64_t now,
                                 int64_t *person_id)
{
    if (!r || !token || !person_id)
        return tes_err_set(TES_ERR_ARG, "registry: token_check needs a registry, a token and an "
                                        "output");
    if (!*token || strnlen(token, REG_MAX_SECRET + 1) > REG_MAX_SECRET)
        return tes_err_set(TES_ERR_TOKEN, "registry: unknown access token");
    char h[65];
    tes_err e = reg_hash_hex(token, NULL, h);
    if (e)
        return e;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(h)};
    e = reg_exec(r, RS_TOKEN_GET, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_TOKEN, "registry: unknown access token");
    if (!e && reg_cell(&res, 0, 2) != NULL)
        e = tes_err_set(TES_ERR_TOKEN, "registry: access token withdrawn: the holder's "
                                       "credentials were revoked or suspended");
    if (!e && now >= reg_cell_int(&res, 0, 1))
        e = tes_err_set(TES_ERR_TOKEN, "registry: access token expired");
    if (!e)
        *person_id = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    return e;
}

/* ------------------------------------------------ recovery codes (schema v2) */

/* 32 symbols without 0/O, 1/I (read aloud, typed from paper). */
static const char REC_ALPHABET[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
#define REC_SYMBOLS 16 /* 80 bits */

/* Upper-cases, drops '-' and blanks; false unless exactly REC_SYMBOLS symbols remain. */
static bool recovery_normalize(const char *in, char out[REC_SYMBOLS + 1])
{
    size_t n = 0;
    for (size_t i = 0; in[i]; i++) {
        char ch = in[i];
        if (ch == '-' || ch == ' ' || ch == '\t')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (n == REC_SYMBOLS || ch == '\0' || !strchr(REC_ALPHABET, ch))
            return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n == REC_SYMBOLS;
}

typedef struct {
    int64_t person, now;
    const char *hash;
} recovery_ctx;

static tes_err recovery_set_body(tes_registry *r, void *vctx, reg_after *after)
{
    (void)after;
    recovery_ctx *c = vctx;
    tes_err e = reg_person_exists(r, c->person);
    if (e)
        return e;
    reg_arg d[] = {REG_INT(c->person)};
    if ((e = reg_exec(r, RS_RECOVERY_DELETE, d, 1, NULL)))
        return e;
    reg_arg a[] = {REG_INT(c->person), REG_TEXT(c->hash), REG_INT(c->now)};
    if ((e = reg_exec(r, RS_RECOVERY_INSERT, a, 3, NULL)))
        return e;
    char detail[96];
    snprintf(detail, sizeof detail, "person %lld: new recovery code (any earlier one is void)",
             (long long)c->person);
    return reg_audit(r, c->now, "system", "recovery-code", detail);
}

tes_err tes_registry_recovery_set(tes_registry *r, int64_t person_id, int64_t now, char code[32])
{
    if (!r || !code || person_id <= 0)
        return tes_err_set(TES_ERR_ARG, "registry: recovery_set needs a registry, a person and an "
                                        "output");
    code[0] = '\0';
    uint8_t raw[REC_SYMBOLS];
    char sym[REC_SYMBOLS + 1], h[65];
    tes_err e = reg_rand_fill(r, raw, sizeof raw);
    if (!e) {
        for (int i = 0; i < REC_SYMBOLS; i++)
            sym[i] = REC_ALPHABET[raw[i] & 31]; /* 256 = 8 * 32: uniform */
        sym[REC_SYMBOLS] = '\0';
        e = reg_hash_hex("recovery", sym, h);
    }
    if (!e) {
        recovery_ctx c = {person_id, now, h};
        e = reg_run_tx(r, recovery_set_body, &c);
    }
    if (!e) {
        /* ABCD-EFGH-JKLM-NPQR */
        size_t k = 0;
        for (int i = 0; i < REC_SYMBOLS; i++) {
            if (i && i % 4 == 0)
                code[k++] = '-';
            code[k++] = sym[i];
        }
        code[k] = '\0';
    }
    tes_wipe(raw, sizeof raw);
    tes_wipe(sym, sizeof sym);
    return e;
}

tes_err tes_registry_recovery_check(tes_registry *r, const char *code, int64_t *person_id)
{
    if (!r || !code || !person_id)
        return tes_err_set(TES_ERR_ARG, "registry: recovery_check needs a registry, a code and an "
                                        "output");
    *person_id = 0;
    char sym[REC_SYMBOLS + 1], h[65];
    if (strnlen(code, REG_MAX_SECRET + 1) > REG_MAX_SECRET || !recovery_normalize(code, sym)) {
        tes_wipe(sym, sizeof sym);
        return tes_err_set(TES_ERR_GRANT, "registry: unknown recovery code");
    }
    /* Looked up by its hash: nothing is compared byte by byte with the secret. */
    tes_err e = reg_hash_hex("recovery", sym, h);
    tes_wipe(sym, sizeof sym);
    if (e)
        return e;
    reg_result res = {0};
    reg_arg a[] = {REG_TEXT(h)};
    e = reg_exec(r, RS_RECOVERY_GET, a, 1, &res);
    if (!e && res.nrows == 0)
        e = tes_err_set(TES_ERR_GRANT, "registry: unknown recovery code");
    if (!e)
        *person_id = reg_cell_int(&res, 0, 0);
    reg_result_free(&res);
    return e;
}
