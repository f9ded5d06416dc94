/*
 * issuer/ds_signer.c — the issuing authority's document signer, loaded the
 * same way by the OpenID4VCI service and by `tessera issue`, and the one
 * reader and writer of its HSM descriptor ds_key.hsm (tes_authority_create,
 * issuer/authority.c, writes it through iss_ds_hsm_write).
 *
 * An authority directory holds ds.pem and either
 *   - ds_key.pem: the private key as a file (PKCS#8), or
 *   - ds_key.hsm: {"se": "pkcs11:MODULE[:LABEL]", "key_id": "<hex id>"}, the
 *     key pair living in a PKCS#11 token (tessera authority init --ds-hsm);
 *     Tessera's PIN counters for that token sit in <dir>/hsm-state/.
 * With both present, ds_key.hsm wins (ds_key.pem would be a leftover).
 *
 * HSM: the token PIN is verified once at load (so a wrong PIN fails at start,
 * not at the first request) and the session stays logged in; the DS key is
 * created without user verification, so signing needs no PIN afterwards. The
 * PIN is not kept here. The token's public key must equal ds.pem's key. One
 * PKCS#11 session per tes_se: signatures are serialised with a mutex.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "tessera/cose.h"
#include "tessera/crypto.h"
#include "tessera/issuer.h"
#include "tessera/se.h"
#include "issuer_internal.h"

struct tes_ds_signer {
    tes_cert *cert;
    tes_key *key; /* software key, or NULL */
    tes_se *se;   /* HSM, or NULL */
    char key_id[TES_SE_ID_MAX];
    tes_se_signer_ctx se_ctx;
    pthread_mutex_t mu;
    bool mu_made;
    tes_signer signer;
};

static bool path_of(char *out, size_t cap, const char *dir, const char *file)
{
    return snprintf(out, cap, "%s/%s", dir, file) < (int)cap;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Signs through the token, one signature at a time. */
static tes_err hsm_sign(void *ctx, int64_t alg, tes_bytes msg, uint8_t *sig, size_t *sig_len)
{
    tes_ds_signer *d = ctx;
    pthread_mutex_lock(&d->mu);
    tes_err e = tes_se_cose_sign(&d->se_ctx, alg, msg, sig, sig_len);
    pthread_mutex_unlock(&d->mu);
    return e;
}

static tes_err load_soft(tes_ds_signer *d, const char *key_path, const char *cert_path)
{
    tes_buf key = {.secret = true};
    tes_err e = tes_file_read(key_path, 1u << 20, &key);
    if (e != TES_OK)
        e = tes_err_set(e, "document signer key %s: %s", key_path, tes_err_message());
    else if ((e = tes_key_parse(tes_buf_bytes(&key), &d->key)) != TES_OK)
        e = tes_err_set(e, "document signer key %s: %s", key_path, tes_err_message());
    else if (!tes_key_has_private(d->key))
        e = tes_err_set(TES_ERR_KEY_MALFORMED, "%s holds no private key", key_path);
    else if (!tes_key_equal_public(d->key, tes_cert_key(d->cert)))
        e = tes_err_set(TES_ERR_KEY_MALFORMED, "%s does not belong to %s", key_path, cert_path);
    tes_buf_free(&key);
    if (e == TES_OK)
        d->signer = tes_signer_from_key(d->key);
    return e;
}

tes_err iss_ds_hsm_spec(const char *in, char *spec, size_t cap)
{
    if (in == NULL || strncmp(in, "pkcs11:", 7) != 0 || in[7] == '\0' || in[7] == ':')
        return tes_err_set(TES_ERR_ARG,
                           "the DS key's token must be 'pkcs11:MODULE_PATH[:TOKEN_LABEL]', not "
                           "'%s'",
                           in ? in : "(null)");
    const char *module = in + 7;
    const char *colon = strchr(module, ':');
    size_t mlen = colon ? (size_t)(colon - module) : strlen(module);
    char mod[PATH_MAX], abs[PATH_MAX];
    if (mlen >= sizeof mod)
        return tes_err_set(TES_ERR_ARG, "the PKCS#11 module path is too long");
    memcpy(mod, module, mlen);
    mod[mlen] = '\0';
    const char *use = mod;
    if (strchr(mod, '/') != NULL && mod[0] != '/') {
        if (realpath(mod, abs) == NULL)
            return tes_err_set(TES_ERR_SE_MODULE, "PKCS#11 module '%s': %s", mod,
                               strerror(errno));
        use = abs;
    }
    if (snprintf(spec, cap, "pkcs11:%s%s", use, colon ? colon : "") >= (int)cap)
        return tes_err_set(TES_ERR_ARG, "the DS key's token spec is too long");
    return TES_OK;
}

tes_err iss_ds_hsm_write(const char *path, const char *spec, const char *key_id)
{
    json_t *j = json_pack("{s:s, s:s}", "se", spec, "key_id", key_id);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (text == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps leaves room for its NUL: replace it */
    tes_err e = tes_file_write(path, TES_BYTES(text, n + 1), 0644);
    free(text);
    if (e != TES_OK)
        return tes_err_set(e, "writing %s: %s", path, tes_err_message());
    return TES_OK;
}

/* Reads ds_key.hsm: {"se": "pkcs11:...", "key_id": "..."} (nothing else). */
tes_err iss_ds_hsm_read(const char *path, char *spec, size_t spec_cap,
                        char key_id[TES_SE_ID_MAX])
{
    tes_buf raw = {0};
    tes_err e = tes_file_read(path, ISS_DS_HSM_FILE_MAX, &raw);
    if (e != TES_OK) {
        e = tes_err_set(e, "document signer key reference %s: %s", path, tes_err_message());
        tes_buf_free(&raw);
        return e;
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)raw.ptr, raw.len, JSON_REJECT_DUPLICATES, &je);
    tes_buf_free(&raw);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return tes_err_set(TES_ERR_JSON, "document signer key reference %s is not a JSON object",
                           path);
    }
    const char *se = json_string_value(json_object_get(j, "se"));
    const char *id = json_string_value(json_object_get(j, "key_id"));
    e = TES_OK;
    if (se == NULL || strncmp(se, "pkcs11:", 7) != 0 || strlen(se) >= spec_cap)
        e = tes_err_set(TES_ERR_JSON, "%s: \"se\" must be a string \"pkcs11:MODULE[:LABEL]\"",
                        path);
    else if (id == NULL || *id == '\0' || strlen(id) >= TES_SE_ID_MAX)
        e = tes_err_set(TES_ERR_JSON, "%s: \"key_id\" must be a key id of the token", path);
    if (e == TES_OK) {
        snprintf(spec, spec_cap, "%s", se);
        snprintf(key_id, TES_SE_ID_MAX, "%s", id);
    }
    json_decref(j);
    return e;
}

static tes_err load_hsm(tes_ds_signer *d, const char *dir, const char *ref_path,
                        const char *cert_path, const char *pin)
{
    char spec[PATH_MAX + 160], state[PATH_MAX];
    tes_err e = iss_ds_hsm_read(ref_path, spec, sizeof spec, d->key_id);
    if (e != TES_OK)
        return e;
    if (!path_of(state, sizeof state, dir, TES_DS_HSM_STATE_DIR))
        return tes_err_set(TES_ERR_ARG, "authority directory path too long");
    if (pin == NULL || *pin == '\0')
        return tes_err_set(TES_ERR_PIN_REQUIRED,
                           "the document signer key is in a PKCS#11 token (%s): give the token "
                           "PIN (environment variable " TES_HSM_PIN_ENV " or --hsm-pin-fd)",
                           spec);
    if ((e = tes_se_open(spec, state, &d->se)) != TES_OK)
        return tes_err_set(e, "document signer token %s: %s", spec, tes_err_message());

    /* Is the key there at all? (public half: visible without login) */
    tes_key *pub = NULL;
    if ((e = tes_se_public_key(d->se, d->key_id, &pub)) != TES_OK)
        return tes_err_set(e, "document signer key %s (%s): %s", d->key_id, ref_path,
                           tes_err_message());
    bool same = tes_key_equal_public(pub, tes_cert_key(d->cert));
    tes_key_free(pub);
    if (!same)
        return tes_err_set(TES_ERR_KEY_MALFORMED,
                           "document signer key %s in token %s is not the key of %s (%s names "
                           "another key pair than the certificate)",
                           d->key_id, spec, cert_path, ref_path);
    /* Log in once, now: a wrong PIN fails here, not at the first request. */
    if ((e = d->se->ops->pin_verify(d->se, pin)) != TES_OK)
        return tes_err_set(e, "document signer token %s: %s", spec, tes_err_message());
    tes_se_key_info info;
    if (d->se->ops->key_info(d->se, d->key_id, &info) == TES_OK &&
        (info.user_verification || info.single_use))
        return tes_err_set(TES_ERR_UNSUPPORTED,
                           "document signer key %s needs the PIN on every use or is single-use; "
                           "a service signs unattended (create it with 'tessera authority init "
                           "--ds-hsm')",
                           d->key_id);
    if (pthread_mutex_init(&d->mu, NULL) != 0)
        return tes_err_set(TES_ERR_NOMEM, "pthread_mutex_init failed");
    d->mu_made = true;
    d->se_ctx = (tes_se_signer_ctx){.se = d->se, .id = d->key_id, .pin = NULL};
    d->signer = (tes_signer){.sign = hsm_sign, .ctx = d, .alg = TES_COSE_ES256};
    return TES_OK;
}

tes_err tes_ds_signer_load(const char *authority_dir, const char *hsm_pin, tes_ds_signer **out)
{
    if (authority_dir == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_ds_signer_load: NULL argument");
    *out = NULL;
    char cert_path[PATH_MAX], key_path[PATH_MAX], ref_path[PATH_MAX];
    if (!path_of(cert_path, sizeof cert_path, authority_dir, "ds.pem") ||
        !path_of(key_path, sizeof key_path, authority_dir, "ds_key.pem") ||
        !path_of(ref_path, sizeof ref_path, authority_dir, TES_DS_HSM_FILE))
        return tes_err_set(TES_ERR_ARG, "authority directory path too long");
    tes_ds_signer *d = calloc(1, sizeof *d);
    if (d == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    tes_buf cert = {0};
    tes_err e = tes_file_read(cert_path, 1u << 20, &cert);
    if (e != TES_OK)
        e = tes_err_set(e, "document signer certificate %s: %s", cert_path, tes_err_message());
    else if ((e = tes_cert_parse_any(tes_buf_bytes(&cert), &d->cert)) != TES_OK)
        e = tes_err_set(e, "document signer certificate %s: %s", cert_path, tes_err_message());
    tes_buf_free(&cert);
    if (e == TES_OK)
        e = exists(ref_path) ? load_hsm(d, authority_dir, ref_path, cert_path, hsm_pin)
                             : load_soft(d, key_path, cert_path);
    if (e != TES_OK) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", tes_err_message());
        tes_ds_signer_free(d);
        return tes_err_set(e, "%s", msg);
    }
    *out = d;
    return TES_OK;
}

const tes_signer *tes_ds_signer_get(tes_ds_signer *d)
{
    return d ? &d->signer : NULL;
}

const tes_cert *tes_ds_signer_cert(tes_ds_signer *d)
{
    return d ? d->cert : NULL;
}

bool tes_ds_signer_in_hsm(const tes_ds_signer *d)
{
    return d != NULL && d->se != NULL;
}

void tes_ds_signer_free(tes_ds_signer *d)
{
    if (d == NULL)
        return;
    if (d->se)
        tes_se_close(d->se); /* logs out; the backend wipes the PIN it kept */
    if (d->mu_made)
        pthread_mutex_destroy(&d->mu);
    tes_key_free(d->key);
    tes_cert_free(d->cert);
    free(d);
}
