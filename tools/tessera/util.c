/* Reporting and file helpers shared by the tessera subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/mdoc.h"

#include "cli.h"

int cli_fail(int code, const char *what_fmt, ...)
{
    /* Copy the library's message first: it belongs to the last failing call. */
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", tes_err_message());
    fputs("tessera: ", stderr);
    va_list ap;
    va_start(ap, what_fmt);
    vfprintf(stderr, what_fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", msg);
    return code;
}

int cli_error(int code, const char *fmt, ...)
{
    fputs("tessera: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    fprintf(stderr, "tessera: %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'tessera %s --help')\n", cmd);
    return CLI_EXIT_USAGE;
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
    extern int optind, optopt;
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        return cli_usage_error(cmd, "option '%s' needs a value", arg);
    if (optopt != 0)
        return cli_usage_error(cmd, "unknown option '-%c'", optopt);
    return cli_usage_error(cmd, "unknown option '%s'", arg);
}

/* Re-records the current failure with a prefix (the message is copied first:
 * tes_err_set may not read from its own buffer). */
static tes_err with_prefix(tes_err e, const char *prefix)
{
    char msg[768];
    snprintf(msg, sizeof(msg), "%s", tes_err_message());
    return tes_err_set(e, "%s%s", prefix, msg);
}

tes_err cli_read_file(const char *path, tes_buf *out)
{
    return tes_file_read(strcmp(path, "-") == 0 ? "/dev/stdin" : path, CLI_MAX_INPUT, out);
}

tes_err cli_read_secret(const char *path, tes_buf *out)
{
    out->secret = true;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tes_err_set(TES_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    /* Read straight into the secret buffer: no stdio or stack copies. */
    size_t start = out->len;
    for (;;) {
        size_t have = out->len;
        uint8_t *p = tes_buf_extend(out, 4096);
        if (p == NULL) {
            close(fd);
            return tes_err_set(TES_ERR_NOMEM, "out of memory reading '%s'", path);
        }
        ssize_t n = read(fd, p, 4096);
        if (n < 0 && errno == EINTR) {
            out->len = have;
            continue;
        }
        if (n < 0) {
            int e = errno;
            out->len = have;
            close(fd);
            return tes_err_set(TES_ERR_IO, "cannot read '%s': %s", path, strerror(e));
        }
        out->len = have + (size_t)n;
        if (n == 0)
            break;
        if (out->len - start > CLI_MAX_INPUT) {
            close(fd);
            tes_buf_reset(out);
            return tes_err_set(TES_ERR_IO, "'%s' is larger than %zu bytes", path, CLI_MAX_INPUT);
        }
    }
    close(fd);
    return TES_OK;
}

tes_err cli_write_file(const char *path, tes_bytes data, cli_file_access readers)
{
    if (strcmp(path, "-") == 0) {
        /* standard output, written directly (never replaced by a file) */
        size_t off = 0;
        while (off < data.len) {
            ssize_t w = write(STDOUT_FILENO, data.ptr + off, data.len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return tes_err_set(TES_ERR_IO, "cannot write to standard output: %s",
                                   w < 0 ? strerror(errno) : "nothing written");
            off += (size_t)w;
        }
        return TES_OK;
    }
    return tes_file_write(path, data, readers == CLI_FILE_PRIVATE ? 0600 : 0644);
}

tes_err cli_check_output(const char *path)
{
    if (strcmp(path, "-") == 0)
        return TES_OK;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return tes_err_set(TES_ERR_IO, "cannot write '%s': it is a directory", path);
        if (!S_ISREG(st.st_mode))
            return TES_OK; /* a device or FIFO: written in place */
    } else if (errno != ENOENT) {
        return tes_err_set(TES_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    /* the temp file and the rename happen in the target's directory */
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return tes_err_set(TES_ERR_ARG, "path too long: '%s'", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (stat(dir, &st) != 0)
        return tes_err_set(TES_ERR_IO, "cannot write '%s': directory '%s': %s", path, dir,
                           strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return tes_err_set(TES_ERR_IO, "cannot write '%s': '%s' is not a directory", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return tes_err_set(TES_ERR_IO, "cannot write '%s': directory '%s': %s", path, dir,
                           strerror(errno));
    return TES_OK;
}

int cli_secret_dir(const char *cmd, const char *dir, bool *created)
{
    if (tes_dir_secret(dir, created) != TES_OK)
        return cli_error(CLI_EXIT_USAGE, "%s: %s", cmd, tes_err_message());
    return CLI_EXIT_OK;
}

tes_err cli_load_key(const char *path, tes_key **out)
{
    tes_buf raw = {.secret = true};
    tes_err e = cli_read_secret(path, &raw);
    if (e == TES_OK) {
        e = tes_key_parse(tes_buf_bytes(&raw), out);
        if (e != TES_OK) {
            char prefix[PATH_MAX + 64];
            snprintf(prefix, sizeof(prefix), "'%s' is not a usable key: ", path);
            e = with_prefix(e, prefix);
        }
    }
    tes_buf_free(&raw);
    return e;
}

tes_err cli_load_cert(const char *path, tes_cert **out)
{
    tes_buf raw = {0};
    tes_err e = cli_read_file(path, &raw);
    if (e == TES_OK) {
        e = tes_cert_parse_any(tes_buf_bytes(&raw), out);
        if (e != TES_OK) {
            char prefix[PATH_MAX + 64];
            snprintf(prefix, sizeof(prefix), "'%s' is not a certificate (PEM or DER): ", path);
            e = with_prefix(e, prefix);
        }
    }
    tes_buf_free(&raw);
    return e;
}

static bool is_hex_text(tes_bytes b)
{
    size_t digits = 0;
    for (size_t i = 0; i < b.len; i++) {
        uint8_t c = b.ptr[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
            digits++;
        else if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return false;
    }
    return digits > 0 && digits % 2 == 0;
}

bool cli_maybe_unhex(tes_buf *raw)
{
    tes_cbor_doc doc;
    if (tes_cbor_parse(tes_buf_bytes(raw), NULL, &doc) == TES_OK) {
        tes_cbor_doc_free(&doc);
        return false;
    }
    if (!is_hex_text(tes_buf_bytes(raw)))
        return false;
    /* Drop the whitespace, then decode. */
    tes_buf compact = {0};
    for (size_t i = 0; i < raw->len; i++)
        if (raw->ptr[i] > ' ')
            tes_buf_append(&compact, &raw->ptr[i], 1);
    tes_buf bin = {0};
    bool ok = !compact.failed &&
              tes_hex_decode(&bin, (const char *)compact.ptr, compact.len) == TES_OK && !bin.failed;
    tes_buf_free(&compact);
    if (!ok) {
        tes_buf_free(&bin);
        return false;
    }
    tes_buf_free(raw);
    *raw = bin;
    return true;
}

tes_err cli_load_transcript(const char *path, tes_buf *plain)
{
    tes_buf raw = {0};
    tes_err e = cli_read_file(path, &raw);
    if (e == TES_OK) {
        cli_maybe_unhex(&raw);
        e = tes_mdoc_transcript_load(tes_buf_bytes(&raw), plain, NULL);
        if (e != TES_OK) {
            char prefix[PATH_MAX + 8];
            snprintf(prefix, sizeof(prefix), "'%s': ", path);
            e = with_prefix(e, prefix);
        }
    }
    tes_buf_free(&raw);
    return e;
}

bool cli_parse_size(const char *s, size_t max, size_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = (size_t)v;
    return true;
}
