/* Wallet helpers shared by `tessera wallet`, `present --wallet` and
 * `issue --wallet`: opening a wallet directory, asking for PINs, and reading
 * the facts a wallet keeps about an mdoc. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "tessera/mdoc.h"

#include "cli.h"

/* ---- wallet directory ---- */

bool cli_path_in(char *out, size_t cap, const char *dir, const char *file)
{
    return snprintf(out, cap, "%s/%s", dir, file) < (int)cap;
}

bool cli_se_needs_login(const tes_se *se)
{
    return (tes_se_caps((tes_se *)se) & TES_SE_CAP_LOGIN) != 0;
}

int cli_wallet_open(const char *cmd, const char *dir, cli_wallet *w)
{
    memset(w, 0, sizeof(*w));
    if (snprintf(w->dir, sizeof(w->dir), "%s", dir) >= (int)sizeof(w->dir))
        return cli_usage_error(cmd, "--wallet path too long");
    tes_err e = tes_wallet_open(dir, NULL, &w->wallet);
    switch (e) {
    case TES_OK:
        break;
    case TES_ERR_ARG:
        return cli_usage_error(cmd, "--wallet %s", tes_err_message());
    case TES_ERR_NOT_FOUND:
        return cli_error(CLI_EXIT_USAGE, "%s: %s (create one with 'tessera wallet init --dir %s')",
                         cmd, tes_err_message(), dir);
    case TES_ERR_STORE_CORRUPT:
        return cli_fail_code(CLI_EXIT_FAIL, e, "%s: opening the wallet %s", cmd, dir);
    default:
        return cli_fail_code(cli_exit_for(e), e, "%s: opening the wallet %s", cmd, dir);
    }
    w->store = tes_wallet_store(w->wallet);
    w->se = tes_wallet_se(w->wallet);
    snprintf(w->spec, sizeof(w->spec), "%s", tes_wallet_se_spec(w->wallet));
    return CLI_EXIT_OK;
}

void cli_wallet_close(cli_wallet *w)
{
    tes_wallet_close(w->wallet);
    w->wallet = NULL;
    w->se = NULL;
    w->store = NULL;
}

int cli_fail_code(int code, tes_err e, const char *what_fmt, ...)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", tes_err_message_for(e));
    fputs("tessera: ", stderr);
    va_list ap;
    va_start(ap, what_fmt);
    vfprintf(stderr, what_fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s [%s]\n", msg, tes_err_name(e));
    return code;
}

int cli_se_fail(cli_wallet *w, tes_err e, const char *what_fmt, ...)
{
    char msg[1024], what[512];
    snprintf(msg, sizeof(msg), "%s", tes_err_message_for(e));
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof(what), what_fmt, ap);
    va_end(ap);
    fprintf(stderr, "tessera: %s: %s [%s]\n", what, msg, tes_err_name(e));
    int pin_left = -1, puk_left = -1;
    bool set = false;
    if ((e == TES_ERR_PIN_WRONG || e == TES_ERR_PIN_LOCKED || e == TES_ERR_PUK_WRONG) &&
        w != NULL && w->se != NULL &&
        w->se->ops->pin_status(w->se, &pin_left, &puk_left, &set) == TES_OK) {
        if (e == TES_ERR_PUK_WRONG)
            fprintf(stderr,
                    "tessera: %d PUK tries left before the secure element is blocked "
                    "for good\n",
                    puk_left);
        else if (pin_left > 0)
            fprintf(stderr, "tessera: %d PIN tries left before the PIN is locked\n", pin_left);
        else
            fprintf(stderr,
                    "tessera: the PIN is locked: unblock it with 'tessera wallet pin "
                    "unblock --wallet %s' and the PUK (%d PUK tries left)\n",
                    w->dir, puk_left);
    } else if (e == TES_ERR_PIN_NOT_SET && w != NULL) {
        fprintf(stderr, "tessera: set one with 'tessera wallet pin set --wallet %s'\n", w->dir);
    }
    return cli_exit_for(e);
}

/* ---- PINs ---- */

bool cli_parse_fd(const char *s, int *fd)
{
    size_t v;
    if (!cli_parse_size(s, INT_MAX, &v))
        return false;
    *fd = (int)v;
    return true;
}

int cli_pin_check_fd(const char *cmd, int fd)
{
    if (fd >= 0 && fcntl(fd, F_GETFD) == -1)
        return cli_usage_error(cmd, "--pin-fd %d: file descriptor %d is not open", fd, fd);
    return CLI_EXIT_OK;
}

/* Reads one line byte by byte (never past the newline, so several commands
 * can take their PINs from one descriptor in turn). Returns 1 when the line
 * does not fit in cap bytes, 2 when it holds a NUL byte (a C string would end
 * there: "123456\0999" must not pass as "123456"), 0 on success, -errno. */
static int read_line(int fd, char *out, size_t cap, bool *eof)
{
    size_t n = 0;
    bool too_long = false, nul = false;
    *eof = false;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0) {
            *eof = n == 0 && !too_long && !nul;
            break;
        }
        if (c == '\n')
            break;
        if (c == '\0')
            nul = true;
        if (n + 1 < cap)
            out[n++] = c;
        else
            too_long = true;
    }
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    return nul ? 2 : too_long ? 1 : 0;
}

/* Echo comes back even when the user interrupts the prompt. */
static int g_tty = -1;
static struct termios g_tty_saved;
static const int ECHO_SIGNALS[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
#define N_ECHO_SIGNALS (sizeof(ECHO_SIGNALS) / sizeof(ECHO_SIGNALS[0]))

static void restore_echo_and_die(int sig)
{
    if (g_tty >= 0)
        tcsetattr(g_tty, TCSAFLUSH, &g_tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

int cli_secret_read(const char *cmd, int fd, const char *fd_option, const char *prompt, char *out,
                    size_t cap)
{
    out[0] = '\0';
    bool eof = false;
    int r;
    if (fd >= 0) {
        r = read_line(fd, out, cap, &eof);
        if (r < 0)
            return cli_error(CLI_EXIT_USAGE, "%s: reading the %s from file descriptor %d: %s", cmd,
                             prompt, fd, strerror(-r));
        if (eof)
            return cli_error(CLI_EXIT_USAGE,
                             "%s: file descriptor %d ended before the %s (see 'tessera %s "
                             "--help' for the order)",
                             cmd, fd, prompt, cmd);
    } else {
        int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (tty < 0)
            return cli_error(CLI_EXIT_USAGE,
                             "%s: no terminal to ask for the %s on; give it with %s N", cmd,
                             prompt, fd_option);
        struct termios old, quiet;
        struct sigaction prev[N_ECHO_SIGNALS];
        bool restore = tcgetattr(tty, &old) == 0;
        if (restore) {
            g_tty_saved = old;
            g_tty = tty;
            struct sigaction sa = {.sa_handler = restore_echo_and_die};
            sigemptyset(&sa.sa_mask);
            for (size_t i = 0; i < N_ECHO_SIGNALS; i++)
                sigaction(ECHO_SIGNALS[i], &sa, &prev[i]);
            quiet = old;
            quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
            quiet.c_lflag |= ICANON;
            tcsetattr(tty, TCSAFLUSH, &quiet);
        }
        char p[256];
        int pl = snprintf(p, sizeof(p), "%c%s: ",
                          prompt[0] >= 'a' && prompt[0] <= 'z' ? (char)(prompt[0] - 32) : prompt[0],
                          prompt + 1);
        if (pl > 0 && write(tty, p, (size_t)pl) < 0) { /* best effort */
        }
        r = read_line(tty, out, cap, &eof);
        if (restore) {
            tcsetattr(tty, TCSAFLUSH, &old);
            for (size_t i = 0; i < N_ECHO_SIGNALS; i++)
                sigaction(ECHO_SIGNALS[i], &prev[i], NULL);
            g_tty = -1;
        }
        if (write(tty, "\n", 1) < 0) { /* the newline the user typed was not echoed */
        }
        close(tty);
        if (r < 0 || eof) {
            tes_wipe(out, cap);
            return cli_error(CLI_EXIT_USAGE, "%s: no %s entered", cmd, prompt);
        }
    }
    if (r == 1) {
        tes_wipe(out, cap);
        return cli_error(CLI_EXIT_USAGE, "%s: the %s is longer than %zu characters", cmd, prompt,
                         cap - 1);
    }
    if (r == 2) {
        tes_wipe(out, cap);
        return cli_error(CLI_EXIT_USAGE, "%s: the %s contains a NUL byte; refusing it", cmd,
                         prompt);
    }
    return CLI_EXIT_OK;
}

int cli_pin_read(const char *cmd, int fd, const char *prompt, char out[CLI_PIN_MAX])
{
    return cli_secret_read(cmd, fd, "--pin-fd", prompt, out, CLI_PIN_MAX);
}

int cli_pin_read_new(const char *cmd, int fd, const char *prompt, char out[CLI_PIN_MAX])
{
    int rc = cli_pin_read(cmd, fd, prompt, out);
    if (rc != CLI_EXIT_OK)
        return rc;
    char again[CLI_PIN_MAX], p2[128];
    snprintf(p2, sizeof(p2), "%s again", prompt);
    rc = cli_pin_read(cmd, fd, p2, again);
    if (rc == CLI_EXIT_OK && strcmp(out, again) != 0)
        rc = cli_error(CLI_EXIT_USAGE, "%s: the two entries of the %s differ; nothing changed", cmd,
                       prompt);
    tes_wipe(again, sizeof(again));
    if (rc != CLI_EXIT_OK)
        tes_wipe(out, CLI_PIN_MAX);
    return rc;
}


