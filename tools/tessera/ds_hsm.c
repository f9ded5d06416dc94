/* The document signer key in a PKCS#11 token: `tessera authority init
 * --ds-hsm` creates it there; `tessera issue` and `tessera authority serve`
 * take the token PIN from --hsm-pin-fd or TESSERA_HSM_PIN. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/issuer.h"

#include "cli.h"

/* "pkcs11:MODULE[:LABEL]" with a relative module path made absolute (the
 * service may run from another directory). */
static int normalise_spec(const char *cmd, const char *in, char *spec, size_t cap)
{
    if (strncmp(in, "pkcs11:", 7) != 0 || in[7] == '\0' || in[7] == ':')
        return cli_usage_error(cmd, "--ds-hsm must be 'pkcs11:MODULE_PATH[:TOKEN_LABEL]', not '%s'",
                               in);
    const char *module = in + 7;
    const char *colon = strchr(module, ':');
    size_t mlen = colon ? (size_t)(colon - module) : strlen(module);
    char mod[PATH_MAX], abs[PATH_MAX];
    if (mlen >= sizeof(mod))
        return cli_usage_error(cmd, "--ds-hsm module path too long");
    memcpy(mod, module, mlen);
    mod[mlen] = '\0';
    const char *use = mod;
    if (strchr(mod, '/') != NULL && mod[0] != '/') {
        if (realpath(mod, abs) == NULL)
            return cli_error(CLI_EXIT_USAGE, "%s: PKCS#11 module '%s': %s", cmd, mod,
                             strerror(errno));
        use = abs;
    }
    if (snprintf(spec, cap, "pkcs11:%s%s", use, colon ? colon : "") >= (int)cap)
        return cli_usage_error(cmd, "--ds-hsm too long");
    return CLI_EXIT_OK;
}

int cli_ds_hsm_create(const char *cmd, const char *dir, const char *spec_arg, int pin_fd,
                      cli_ds_hsm *h, tes_key **pub)
{
    memset(h, 0, sizeof *h);
    *pub = NULL;
    int rc = normalise_spec(cmd, spec_arg, h->spec, sizeof h->spec);
    if (rc != CLI_EXIT_OK)
        return rc;
    char state[PATH_MAX];
    if (!cli_path_in(state, sizeof state, dir, TES_DS_HSM_STATE_DIR))
        return cli_usage_error(cmd, "--dir path too long");
    if (mkdir(state, 0700) != 0 && errno != EEXIST)
        return cli_error(CLI_EXIT_USAGE, "%s: cannot create '%s': %s", cmd, state,
                         strerror(errno));
    tes_err e = tes_se_open(h->spec, state, &h->se);
    if (e != TES_OK)
        return cli_fail_code(cli_exit_for(e), e, "%s: opening the token %s", cmd, h->spec);

    /* Log in with the token's user PIN. The first time Tessera sees the
     * token it also needs the SO PIN once: Tessera's PIN counter for the
     * token is unblocked with it (src/se/pkcs11.c). Neither is stored. */
    int pin_left = 0, so_left = 0;
    bool set = false;
    if ((e = h->se->ops->pin_status(h->se, &pin_left, &so_left, &set)) != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: token %s", cmd, h->spec);
        goto fail;
    }
    char pin[CLI_PIN_MAX], so[CLI_PIN_MAX];
    if ((rc = cli_pin_read(cmd, pin_fd, "token PIN", pin)) != CLI_EXIT_OK)
        goto fail;
    if (set) {
        e = h->se->ops->pin_verify(h->se, pin);
    } else if ((rc = cli_pin_read(cmd, pin_fd, "token SO PIN", so)) == CLI_EXIT_OK) {
        e = h->se->ops->pin_set(h->se, pin, so);
        tes_wipe(so, sizeof so);
    }
    tes_wipe(pin, sizeof pin);
    if (rc != CLI_EXIT_OK)
        goto fail;
    if (e != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: logging in to token %s", cmd, h->spec);
        goto fail;
    }
    /* No user verification: the service signs unattended. */
    const tes_se_key_opts o = {.user_verification = false, .single_use = false};
    if ((e = tes_se_create_key(h->se, &o, h->key_id)) != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: creating the document signer key in %s", cmd,
                           h->spec);
        goto fail;
    }
    h->created = true;
    if ((e = tes_se_public_key(h->se, h->key_id, pub)) != TES_OK) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s: reading the new key's public half", cmd);
        goto fail;
    }
    return CLI_EXIT_OK;
fail:
    cli_ds_hsm_close(h, false);
    return rc;
}

int cli_ds_hsm_write_ref(const char *cmd, const char *dir, const cli_ds_hsm *h)
{
    char path[PATH_MAX];
    if (!cli_path_in(path, sizeof path, dir, TES_DS_HSM_FILE))
        return cli_usage_error(cmd, "--dir path too long");
    json_t *j = json_pack("{s:s, s:s}", "se", h->spec, "key_id", h->key_id);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (text == NULL)
        return cli_error(CLI_EXIT_FAIL, "%s: out of memory", cmd);
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps leaves room for its NUL: replace it */
    tes_err e = cli_write_file(path, TES_BYTES(text, n + 1), false);
    free(text);
    return e == TES_OK ? CLI_EXIT_OK : cli_fail(CLI_EXIT_USAGE, "writing %s", path);
}

void cli_ds_hsm_close(cli_ds_hsm *h, bool keep_key)
{
    if (h->se && h->created && !keep_key && h->se->ops->delete_key(h->se, h->key_id) != TES_OK)
        fprintf(stderr, "tessera: could not remove the unused key %s from the token: %s\n",
                h->key_id, tes_err_message());
    tes_se_close(h->se);
    h->se = NULL;
    h->created = false;
}

/* Takes TESSERA_HSM_PIN out of the process: copied into out, its bytes wiped
 * where they lie (the initial environment block, which /proc/PID/environ
 * shows to the whole life of a service), then unset. */
static int take_env_pin(const char *cmd, char out[CLI_PIN_MAX], const char **pin)
{
    char *v = getenv(TES_HSM_PIN_ENV);
    if (v == NULL)
        return CLI_EXIT_OK;
    size_t n = strlen(v);
    bool fits = n < CLI_PIN_MAX;
    if (fits && n > 0) {
        memcpy(out, v, n + 1);
        *pin = out;
    }
    tes_wipe(v, n);
    unsetenv(TES_HSM_PIN_ENV);
    if (!fits)
        return cli_error(CLI_EXIT_USAGE, "%s: %s is longer than %d characters", cmd,
                         TES_HSM_PIN_ENV, CLI_PIN_MAX - 1);
    return CLI_EXIT_OK;
}

int cli_hsm_pin_read(const char *cmd, int fd, char out[CLI_PIN_MAX], const char **pin)
{
    *pin = NULL;
    if (fd < 0)
        return take_env_pin(cmd, out, pin);
    /* given both ways: the descriptor wins, the environment is cleared anyway */
    char ignored[CLI_PIN_MAX];
    const char *unused = NULL;
    take_env_pin(cmd, ignored, &unused);
    tes_wipe(ignored, sizeof ignored);
    int rc = cli_pin_read(cmd, fd, "HSM token PIN", out);
    if (rc == CLI_EXIT_OK)
        *pin = out;
    return rc;
}
