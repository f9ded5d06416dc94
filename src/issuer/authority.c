/*
 * issuer/authority.c — creating an issuing authority: its IACA root and its
 * document signer under the ISO 18013-5 Annex B profiles, the DS key as a
 * file or generated inside a PKCS#11 token (tessera authority init, an
 * issuer's own provisioning, tests). The directory's layout is documented in
 * tessera/issuer.h; the HSM descriptor is written by ds_signer.c, which also
 * reads it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tessera/crypto.h"
#include "tessera/issuer.h"
#include "tessera/se.h"
#include "tessera/trust.h"
#include "issuer_internal.h"
#include "trust/pki_files.h"

#define IACA_DAYS (10 * 365 + 3) /* 10 years */
#define DS_DAYS (3 * 365 + 1)    /* 3 years */
#define SECRET_MAX 64            /* bytes of a token PIN, NUL included */

static const char *const FILES[] = {TES_AUTHORITY_IACA_CERT, TES_AUTHORITY_IACA_KEY,
                                     TES_AUTHORITY_DS_CERT, TES_AUTHORITY_DS_KEY, TES_DS_HSM_FILE};

/* The DS key pair inside the token; only its public half leaves it. */
typedef struct hsm {
    tes_se *se;
    char key_id[TES_SE_ID_MAX];
    bool created;
} hsm;

/* Without keep_key a key created by hsm_create is deleted again (best
 * effort: the failure e being reported is the one that matters, its message
 * is kept). */
static void hsm_close(hsm *h, bool keep_key, tes_err e)
{
    if (h->se && h->created && !keep_key) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", tes_err_message());
        if (h->se->ops->delete_key(h->se, h->key_id) != TES_OK && e != TES_OK)
            tes_err_set(e, "%s (and the unused key %s could not be removed from the token)", msg,
                        h->key_id);
        else if (e != TES_OK)
            tes_err_set(e, "%s", msg);
    }
    tes_se_close(h->se);
    h->se = NULL;
    h->created = false;
}

/* Opens the token (Tessera's PIN counters in dir/hsm-state), logs in with the
 * token PIN (and, the first time Tessera meets the token, its SO PIN), and
 * creates a P-256 key without user verification. */
static tes_err hsm_create(const tes_authority_params *p, const char *spec, hsm *h, tes_key **pub)
{
    char state[PATH_MAX];
    if (!tes_pki_path(state, sizeof state, p->dir, TES_DS_HSM_STATE_DIR))
        return TES_ERR_ARG;
    if (mkdir(state, 0700) != 0 && errno != EEXIST)
        return tes_err_set(TES_ERR_IO, "cannot create '%s': %s", state, strerror(errno));
    tes_err e = tes_se_open(spec, state, &h->se);
    if (e != TES_OK)
        return tes_err_set(e, "opening the token %s: %s", spec, tes_err_message());
    int pin_left = 0, so_left = 0;
    bool set = false;
    if ((e = h->se->ops->pin_status(h->se, &pin_left, &so_left, &set)) != TES_OK)
        return tes_err_set(e, "token %s: %s", spec, tes_err_message());
    char pin[SECRET_MAX] = {0}, so[SECRET_MAX] = {0};
    if ((e = p->secret(p->secret_ctx, "token PIN", pin, sizeof pin)) == TES_OK) {
        pin[sizeof pin - 1] = '\0';
        if (set) {
            e = h->se->ops->pin_verify(h->se, pin);
        } else if ((e = p->secret(p->secret_ctx, "token SO PIN", so, sizeof so)) == TES_OK) {
            so[sizeof so - 1] = '\0';
            e = h->se->ops->pin_set(h->se, pin, so);
        } else {
            tes_wipe(pin, sizeof pin);
            tes_wipe(so, sizeof so);
            return e; /* the callback's own failure, as it set it */
        }
        if (e != TES_OK)
            e = tes_err_set(e, "logging in to token %s: %s", spec, tes_err_message());
    }
    tes_wipe(pin, sizeof pin);
    tes_wipe(so, sizeof so);
    if (e != TES_OK)
        return e;
    /* No user verification: the service signs unattended. */
    const tes_se_key_opts o = {.user_verification = false, .single_use = false};
    if ((e = tes_se_create_key(h->se, &o, h->key_id)) != TES_OK)
        return tes_err_set(e, "creating the document signer key in %s: %s", spec,
                           tes_err_message());
    h->created = true;
    if ((e = tes_se_public_key(h->se, h->key_id, pub)) != TES_OK)
        return tes_err_set(e, "reading the new key's public half: %s", tes_err_message());
    return TES_OK;
}

static tes_err check_params(const tes_authority_params *p, const char **country,
                            const char **name)
{
    if (p == NULL || p->dir == NULL || *p->dir == '\0')
        return tes_err_set(TES_ERR_ARG, "tes_authority_create: no directory");
    *country = p->country ? p->country : "UT";
    *name = p->name ? p->name : "Utopia";
    if (!tes_pki_country_ok(*country))
        return tes_err_set(TES_ERR_ARG, "the country must be two upper-case letters, not '%s'",
                           *country);
    if (**name == '\0' || strlen(*name) > TES_AUTHORITY_NAME_MAX)
        return tes_err_set(TES_ERR_ARG, "the authority's name must be 1..%d bytes",
                           TES_AUTHORITY_NAME_MAX);
    if (p->ds_hsm != NULL && p->secret == NULL)
        return tes_err_set(TES_ERR_ARG, "a DS key in a token needs a secret callback for its PIN");
    return TES_OK;
}

tes_err tes_authority_create(const tes_authority_params *p, tes_authority_result *out)
{
    tes_authority_result res = {0};
    if (out)
        memset(out, 0, sizeof *out);
    const char *country = NULL, *name = NULL;
    tes_err e = check_params(p, &country, &name);
    if (e != TES_OK)
        return e;
    char iaca_cn[256], ds_cn[256], default_url[64], crl[512];
    snprintf(iaca_cn, sizeof iaca_cn, "%s IACA", name);
    snprintf(ds_cn, sizeof ds_cn, "%s Document Signer", name);
    const char *url = p->url;
    if (url == NULL) {
        snprintf(default_url, sizeof default_url, "https://iaca.%c%c.example",
                 country[0] - 'A' + 'a', country[1] - 'A' + 'a');
        url = default_url;
    }
    if (snprintf(crl, sizeof crl, "%s/crl/iaca.crl", url) >= (int)sizeof crl)
        return tes_err_set(TES_ERR_ARG, "the URL is too long");
    if (p->ds_hsm != NULL &&
        (e = iss_ds_hsm_spec(p->ds_hsm, res.ds_hsm_spec, sizeof res.ds_hsm_spec)) != TES_OK)
        return e;
    if ((e = tes_pki_prepare_dir(p->dir, "an authority", "its keys", FILES,
                                 sizeof FILES / sizeof FILES[0], p->force)) != TES_OK)
        return e;

    int64_t now = p->now ? p->now : tes_clock_now(NULL); /* 0: the system clock */
    /* Both certificates start at midnight UTC of the day an hour ago: the issuer
     * service rounds every MSO's signed time down to midnight UTC (unlinkability),
     * and ISO 18013-5 §9.3.1 wants it inside the DS validity, so the DS must be
     * valid from a day boundary no later than today's. */
    const int64_t not_before =
        (now - TES_PKI_SKEW) - (now - TES_PKI_SKEW) % TES_PKI_DAY;
    tes_key *iaca_key = NULL, *ds_key = NULL;
    hsm h = {0};
    bool keep = false;
    if ((e = tes_key_generate(TES_CURVE_P256, &iaca_key)) != TES_OK) {
        e = tes_err_set(e, "generating the IACA key: %s", tes_err_message());
        goto out;
    }
    if (p->ds_hsm != NULL)
        e = hsm_create(p, res.ds_hsm_spec, &h, &ds_key);
    else if ((e = tes_key_generate(TES_CURVE_P256, &ds_key)) != TES_OK)
        e = tes_err_set(e, "generating the document signer key: %s", tes_err_message());
    if (e != TES_OK)
        goto out;

    const tes_cert_template root_t = {
        .common_name = iaca_cn,
        .country = country,
        .not_before = not_before,
        .not_after = now + IACA_DAYS * TES_PKI_DAY,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
        .issuer_alt_uri = url,
    };
    if ((e = tes_cert_create(&root_t, iaca_key, NULL, iaca_key, &res.iaca)) != TES_OK) {
        e = tes_err_set(e, "creating the IACA certificate: %s", tes_err_message());
        goto out;
    }
    const tes_cert_template ds_t = {
        .common_name = ds_cn,
        .country = country,
        .not_before = not_before,
        .not_after = now + DS_DAYS * TES_PKI_DAY,
        .is_ca = false,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE,
        .eku_oid = TES_OID_EKU_MDL_DS,
        .issuer_alt_uri = url,
        .crl_uri = crl,
    };
    if ((e = tes_cert_create(&ds_t, ds_key, res.iaca, iaca_key, &res.ds)) != TES_OK) {
        e = tes_err_set(e, "creating the document signer certificate: %s", tes_err_message());
        goto out;
    }

    /* Keys first: a directory with certificates but no keys would be useless. */
    char ref[PATH_MAX], stale[PATH_MAX];
    if (!tes_pki_path(ref, sizeof ref, p->dir, TES_DS_HSM_FILE) ||
        !tes_pki_path(stale, sizeof stale, p->dir,
                      p->ds_hsm ? TES_AUTHORITY_DS_KEY : TES_DS_HSM_FILE)) {
        e = TES_ERR_ARG;
        goto out;
    }
    if ((e = tes_pki_write_key(p->dir, TES_AUTHORITY_IACA_KEY, iaca_key)) != TES_OK ||
        (e = p->ds_hsm ? iss_ds_hsm_write(ref, res.ds_hsm_spec, h.key_id)
                       : tes_pki_write_key(p->dir, TES_AUTHORITY_DS_KEY, ds_key)) != TES_OK ||
        (e = tes_pki_write_cert(p->dir, TES_AUTHORITY_DS_CERT, res.ds)) != TES_OK ||
        (e = tes_pki_write_cert(p->dir, TES_AUTHORITY_IACA_CERT, res.iaca)) != TES_OK)
        goto out;
    keep = true;
    /* force over an authority of the other kind: drop its stale DS key (a
     * stale ds_key.hsm would win over the new ds_key.pem in tes_ds_signer_load) */
    if (unlink(stale) != 0 && errno != ENOENT)
        if (snprintf(res.warning, sizeof res.warning, "could not remove the stale %s: %s", stale,
                     strerror(errno)) >= (int)sizeof res.warning)
            res.warning[sizeof res.warning - 1] = '\0'; /* cut: still a warning */
    if (p->ds_hsm) {
        res.ds_in_hsm = true;
        snprintf(res.ds_key_id, sizeof res.ds_key_id, "%s", h.key_id);
    }
out:
    hsm_close(&h, keep, e);
    tes_key_free(ds_key);
    tes_key_free(iaca_key);
    if (e == TES_OK && out)
        *out = res;
    else
        tes_authority_result_free(&res);
    return e;
}

void tes_authority_result_free(tes_authority_result *r)
{
    if (r == NULL)
        return;
    tes_cert_free(r->iaca);
    tes_cert_free(r->ds);
    memset(r, 0, sizeof *r);
}
