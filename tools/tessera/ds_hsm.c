/* The document signer key in a PKCS#11 token: `tessera authority init
 * --ds-hsm` has the library create it there (tes_authority_create);
 * `tessera issue` and `tessera authority serve` take the token PIN from
 * --hsm-pin-fd or TESSERA_HSM_PIN, read here. */
#include <stdlib.h>
#include <string.h>

#include "tessera/issuer.h"

#include "cli.h"

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
