/*
 * tools/tessera/cli.h — private to the `tessera` command-line tool.
 *
 * The tool is meant to be thin: argument parsing, prompting, file I/O and
 * printing over libtessera's calls. Provisioning (authority, reader CA), issuing,
 * verifying, the status verdict and the holder's wallet (tessera/wallet.h:
 * enrolment, presenting, reader trust, the log) are library calls; wallet.c
 * here only opens a wallet for a command and reports its errors.
 *
 * Exit codes (every command):
 *   0  success (verify: the response is valid)
 *   1  the operation failed on its input (verify: the response is invalid;
 *      inspect: not CBOR; issue: the claims do not fit the doctype; ...)
 *   2  usage error, or an input could not be read (missing file, unreadable
 *      key or certificate, bad time), or an output could not be written
 */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "tessera/cbor.h"
#include "tessera/core.h"
#include "tessera/crypto.h"
#include "tessera/se.h"
#include "tessera/store.h"
#include "tessera/trust.h"
#include "tessera/wallet.h"
#include "tessera/mdoc.h"
#include "tessera/status.h"

#include "commands.h"

/* Keep in step with project(VERSION) in CMakeLists.txt. */
#define CLI_VERSION "0.1.0"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Every input file is bounded. */
#define CLI_MAX_INPUT ((size_t)64 * 1024 * 1024)

/* A subcommand: argv[0] is the subcommand's name. Returns the exit code. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_authority(int argc, char **argv);
int cmd_issue(int argc, char **argv);
int cmd_present(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_wallet(int argc, char **argv);
int cmd_vendor(int argc, char **argv);
int cmd_reader_ca(int argc, char **argv);
int cmd_rp(int argc, char **argv);
int cmd_hotel(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_reader(int argc, char **argv);
/* wallet subcommands living in cmd_wallet_present.c */
int cmd_wallet_present(int argc, char **argv);
int cmd_wallet_trust_reader(int argc, char **argv);
/* wallet authorize (cmd_wallet_authorize.c): OpenID4VP login */
int cmd_wallet_authorize(int argc, char **argv);
/* wallet enrol, device-id, report-lost (cmd_wallet_enrol.c) */
int cmd_wallet_enrol(int argc, char **argv);
int cmd_wallet_device_id(int argc, char **argv);
int cmd_wallet_report_lost(int argc, char **argv);
/* wallet key-request, key-add, tap (cmd_wallet_keys.c): door keys */
int cmd_wallet_key_request(int argc, char **argv);
int cmd_wallet_key_add(int argc, char **argv);
int cmd_wallet_tap(int argc, char **argv);
/* authority serve / enrol / revoke / suspend / reinstate (cmd_authority_service.c);
 * argv[0] is the subcommand's name. `tessera-issuerd ARGS` runs
 * cmd_authority_serve with the same arguments. */
int cmd_authority_serve(int argc, char **argv);
int cmd_authority_enrol(int argc, char **argv);
int cmd_authority_status(int argc, char **argv);

/* Prints the help of a command on standard output (main.c, from the table of
 * commands.c); cmd is the command's name ("issue") or a command group's
 * ("wallet") or a subcommand's ("wallet keygen", "vendor init", ...);
 * anything else: the overview of 'tessera --help'. */
void cli_help(const char *cmd);

/* ---- reporting (util.c) ---- */

/* Prints "tessera: <what>: <tes_err_message()>" to stderr and returns code.
 * Call it right after the failing library call: the message belongs to the
 * calling thread's most recent failure. */
int cli_fail(int code, const char *what_fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "tessera: <msg>" to stderr and returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "tessera: <cmd>: <msg> (see 'tessera <cmd> --help')" and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Exit code for a failed library operation: 2 when the caller or the
 * environment is at fault (bad argument, I/O), else 1 (the input failed). */
static inline int cli_exit_for(tes_err e)
{
    return tes_err_is_caller(e) || tes_err_is_env(e) ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}
/* Handles the getopt_long '?' / ':' results uniformly. */
int cli_bad_option(const char *cmd, int c, char **argv);

/* ---- files (util.c) ---- */

/* Reads a public file into out (64 MiB bound). "-" reads standard input. */
tes_err cli_read_file(const char *path, tes_buf *out);
/* Reads a file holding secret material straight into a secret buffer (no
 * intermediate copies; wiped when freed). */
tes_err cli_read_secret(const char *path, tes_buf *out);
/* Who may read a file written: everyone, or only the owner (secret or personal data). */
typedef enum cli_file_access {
    CLI_FILE_PUBLIC,  /* mode 0644 */
    CLI_FILE_PRIVATE, /* mode 0600 */
} cli_file_access;
/* Writes atomically with the mode readers names; "-" writes standard output,
 * and an existing device or FIFO is written in place. */
tes_err cli_write_file(const char *path, tes_bytes data, cli_file_access readers);
/* Whether cli_write_file(path) can be expected to work (an existing device,
 * FIFO or "-", or a writable directory to create the file in): checked before
 * anything irreversible (spending a single-use copy) happens. */
tes_err cli_check_output(const char *path);
/* A directory that will hold secrets: creates it with mode 0700 (*created),
 * or accepts an existing one only when it is the caller's own and writable by
 * nobody else; else reports (prefixed with cmd) and returns 2. */
int cli_secret_dir(const char *cmd, const char *dir, bool *created);

/* Loads a PEM/DER key (PKCS#8, SEC1 or SPKI). The file's bytes are wiped. */
tes_err cli_load_key(const char *path, tes_key **out);
/* Loads a PEM or DER certificate (the first one of a PEM file). */
tes_err cli_load_cert(const char *path, tes_cert **out);
/* Loads a SessionTranscript file (plain or tag 24, binary or hex text) and
 * returns its plain encoding. */
tes_err cli_load_transcript(const char *path, tes_buf *plain);
/* When `raw` is not CBOR but is all hex digits and whitespace, replaces it by
 * the decoded bytes and returns true. */
bool cli_maybe_unhex(tes_buf *raw);

/* Parses a non-negative decimal integer no larger than max. */
bool cli_parse_size(const char *s, size_t max, size_t *out);

/* ---- wallets (wallet.c) ---- */

/* A wallet directory's layout belongs to the library (tessera/wallet.h). */
#define CLI_WALLET_DB TES_WALLET_DB
#define CLI_WALLET_SE_DIR TES_WALLET_SE_DIR
#define CLI_SETTING_SE TES_WALLET_SETTING_SE

typedef struct cli_wallet {
    char dir[PATH_MAX];
    char spec[PATH_MAX + 16]; /* as stored */
    tes_wallet *wallet;       /* owns store and se */
    tes_store *store;         /* tes_wallet_store(wallet) */
    tes_se *se;               /* tes_wallet_se(wallet) */
} cli_wallet;

bool cli_path_in(char *out, size_t cap, const char *dir, const char *file);
/* True when every use of a private key in a new process needs the PIN (a
 * PKCS#11 token logs its session in with the user PIN), whether or not the key
 * needs user verification. */
bool cli_se_needs_login(const tes_se *se);
/* Opens the store and the secure element of wallet dir; returns an exit code
 * (errors already reported, prefixed with cmd). */
int cli_wallet_open(const char *cmd, const char *dir, cli_wallet *w);
void cli_wallet_close(cli_wallet *w);
/* Prints the wallet's door keys after the credentials of 'wallet list' (nothing
 * when it has none); returns an exit code (cmd_wallet_keys.c). */
int cli_wallet_list_keys(cli_wallet *w);
/* Like cli_fail, with the error's stable name appended: "...: msg [pin_wrong]". */
int cli_fail_code(int code, tes_err e, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports a failed secure-element operation (cli_fail_code) and, for PIN/PUK
 * failures, how many tries are left; returns cli_exit_for(e). w may be NULL. */
int cli_se_fail(cli_wallet *w, tes_err e, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* PINs are never taken from the command line: from the terminal without echo
 * (/dev/tty), or with fd >= 0 one per line from that descriptor, read byte by
 * byte so that nothing past the line is consumed. */
#define CLI_PIN_MAX 64
bool cli_parse_fd(const char *s, int *fd);
/* Usage error when fd (>= 0) is not an open descriptor. */
int cli_pin_check_fd(const char *cmd, int fd);
/* Reads one secret line of at most cap-1 bytes from fd (>= 0), else from the
 * terminal without echo (fd_option names the option to use where there is no
 * terminal, e.g. "--tx-code-fd"). A line too long or holding a NUL byte is
 * refused (never cut). Returns an exit code (errors reported). */
int cli_secret_read(const char *cmd, int fd, const char *fd_option, const char *prompt, char *out,
                    size_t cap);
/* Asks for one secret ("PIN", "current PIN", "PUK", ...); exit code. */
int cli_pin_read(const char *cmd, int fd, const char *prompt, char out[CLI_PIN_MAX]);
/* Asks twice (the second time "<prompt> again") and insists both agree. */
int cli_pin_read_new(const char *cmd, int fd, const char *prompt, char out[CLI_PIN_MAX]);


/* ---- credential status (status_check.c): verify and reader checkin ---- */

/* Each status list fetch gives up after this long (then: undetermined). */
#define CLI_STATUS_TIMEOUT_MS TES_STATUS_DEFAULT_TIMEOUT_MS
#define CLI_STATUS_DEFAULT_MAX_AGE (24 * 3600)

typedef struct cli_status_opts {
    tes_status_mode mode;
    const char *cache_dir;   /* --status-cache, or NULL */
    const char *default_dir; /* the command's default cache, or NULL:
                                $XDG_CACHE_HOME/tessera/status or ~/.cache/tessera/status */
    int64_t max_age;         /* seconds */
    int64_t max_ttl;         /* --status-max-ttl: longest ttl honoured (0: the library's 24 h) */
} cli_status_opts;

/* Resolves the cache directory and has the library check every document of
 * r that carries a status reference (tes_status_check_response; trust: the
 * issuing authorities' roots, which also certify the list signers). *out is
 * always initialised (tes_status_verdict_free). Network, age and signature
 * problems are "undetermined", not failures; the exit code is non-zero only
 * when the cache cannot be used at all (reported). */
int cli_status_check_docs(const char *cmd, const cli_status_opts *o, tes_trust_store *trust,
                          const tes_mdoc_result *r, tes_status_verdict *out);

/* ---- verdicts (verdict.c): shared by verify and reader checkin ---- */

typedef struct cli_verdict {
    tes_err verdict;            /* of the verification */
    const char *code, *message; /* its error name and message when verdict != TES_OK */
    const tes_mdoc_result *r;
    const tes_status_doc *status; /* per document, or NULL: status not checked */
    /* set by cli_status_verdict: "credential_revoked" / "credential_suspended"
     * when a document's status makes the response invalid, else NULL */
    const char *status_code;
    char status_message[768];
} cli_verdict;

/* Takes the documents' statuses and, when the library's verdict sv makes the
 * response invalid (revoked, suspended), status_code / status_message. */
void cli_status_verdict(cli_verdict *v, const tes_status_verdict *sv);
/* Warns on stderr about every document whose status is undetermined. */
void cli_status_warn(const char *cmd, const cli_verdict *v);

/* Adds every certificate of each comma-separated file list in lists[] as a
 * root of `profile`; usage error when none is found. */
int cli_load_trust(const char *cmd, const char *const *lists, size_t n_lists,
                   tes_trust_profile profile, tes_trust_store *store);
/* {"valid", "error": {"code", "message"} | null, "documents": [...]} on stdout;
 * returns 0 when valid, else 1 (a revoked or suspended document: 1, with the
 * documents listed). */
int cli_verdict_json(const cli_verdict *v);
/* "VALID" and the documents, or "INVALID: code: message" (exit 1), or, for a
 * caller or environment failure, "could not check" on stderr (exit 2). */
int cli_verdict_human(const char *cmd, const cli_verdict *v);

/* ---- QR codes (qr.c) ---- */
/* How cli_qr_print colours the code. */
typedef enum cli_qr_colours {
    CLI_QR_PLAIN, /* no escape codes: drawn for a dark terminal background */
    CLI_QR_ANSI,  /* black on white with ANSI colours, whatever the terminal's */
} cli_qr_colours;

/* Draws text as a QR code on f (two rows of modules per line with half
 * blocks, quiet zone of 4 modules), coloured as colours says. */
tes_err cli_qr_print(FILE *f, const char *text, cli_qr_colours colours);
/* Writes text as a QR code PNG (8 pixels per module, quiet zone 4), atomically. */
tes_err cli_qr_write_png(const char *path, const char *text);
/* Decodes the first QR code of a PNG file; *out is a malloc'd NUL-terminated string. */
tes_err cli_qr_read_png(const char *path, char **out);

/* ---- CBOR to JSON (cbor_json.c) ---- */

typedef struct cli_json_opts {
    /* byte strings longer than this become "<N bytes>" (0: never shorten) */
    size_t abbreviate_bytes;
} cli_json_opts;

/* Converts one encoded CBOR item into a new JSON value:
 *   tstr -> string; bstr -> base64url string; integers -> number (outside the
 *   int64 range: a real); true/false/null; undefined -> null; floats -> number
 *   (NaN and infinities as the strings "NaN", "Infinity", "-Infinity");
 *   1004("YYYY-MM-DD") and 0("date-time") -> their text; 100(days) and
 *   1(seconds) -> the date / date-time text; other tags ->
 *   {"tag": N, "value": ...}; other simple values -> {"simple": N};
 *   arrays and maps recursively, map keys: text as is, anything else as its
 *   diagnostic notation. Returns NULL (tes_err_message set) on failure. */
json_t *cli_cbor_to_json(tes_bytes encoded, const cli_json_opts *o);

/* ---- the token PIN of a document signer key in a PKCS#11 token (ds_hsm.c) ---- */

/* --hsm-pin-fd: with fd >= 0 reads the token PIN into out and points *pin at
 * it; else takes TESSERA_HSM_PIN into out (*pin = out; NULL when unset or
 * empty). Either way TESSERA_HSM_PIN is wiped in place and unset, so that the
 * PIN does not stay in the process's environment (/proc/PID/environ). */
int cli_hsm_pin_read(const char *cmd, int fd, char out[CLI_PIN_MAX], const char **pin);

#endif
