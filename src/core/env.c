/* Clock, randomness, calendar time and whole-file I/O. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tessera/core.h"

static int64_t system_now(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

tes_clock tes_clock_system(void)
{
    return (tes_clock){system_now, NULL};
}

int64_t tes_clock_now(const tes_clock *c)
{
    if (c == NULL || c->now == NULL)
        return system_now(NULL);
    return c->now(c->ctx);
}

static int system_fill(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    while (n > 0) {
        ssize_t r = getrandom(out, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        out += r;
        n -= (size_t)r;
    }
    return 0;
}

tes_rng tes_rng_system(void)
{
    return (tes_rng){system_fill, NULL};
}

tes_err tes_rng_fill(const tes_rng *r, uint8_t *out, size_t n)
{
    if (out == NULL && n != 0)
        return tes_err_set(TES_ERR_ARG, "tes_rng_fill: NULL output");
    int rc = (r == NULL || r->fill == NULL) ? system_fill(NULL, out, n) : r->fill(r->ctx, out, n);
    return rc == 0 ? TES_OK : tes_err_set(TES_ERR_RANDOM, "the random source failed");
}

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void tes_time_format(int64_t t, char out[21])
{
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        strcpy(out, "0000-00-00T00:00:00Z");
        return;
    }
    /* Digits by hand, not snprintf: an issuance writes three of these. */
    const unsigned sec = (unsigned)rem;
    const unsigned v[7] = {(unsigned)y / 100, (unsigned)y % 100, m,       d,
                           sec / 3600,        sec / 60 % 60,     sec % 60};
    static const unsigned at[7] = {0, 2, 5, 8, 11, 14, 17};
    memcpy(out, "0000-00-00T00:00:00Z", 21);
    for (size_t i = 0; i < 7; i++) {
        out[at[i]] = (char)('0' + v[i] / 10);
        out[at[i] + 1] = (char)('0' + v[i] % 10);
    }
}

static bool digits(const char *s, size_t n, unsigned *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

static unsigned month_days(unsigned y, unsigned m)
{
    static const unsigned md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : md[m - 1];
}

bool tes_date_valid(const char *s, size_t len)
{
    unsigned y, m, d;
    return len == 10 && s[4] == '-' && s[7] == '-' && digits(s, 4, &y) && digits(s + 5, 2, &m) &&
           digits(s + 8, 2, &d) && m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m);
}

tes_err tes_time_parse(const char *s, size_t len, bool strict, int64_t *out)
{
    unsigned y, mo, d, h, mi, se;
    if (len < 20 || !tes_date_valid(s, 10) || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) || h > 23 ||
        mi > 59 || se > 60)
        return tes_err_set(TES_ERR_ENCODING, "not an RFC 3339 date-time: '%.*s'",
                           (int)(len > 40 ? 40 : len), s);
    size_t i = 19;
    if (s[i] == '.') {
        if (strict)
            return tes_err_set(TES_ERR_ENCODING, "fractional seconds not allowed in '%.*s'",
                               (int)(len > 40 ? 40 : len), s);
        i++;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return tes_err_set(TES_ERR_ENCODING, "empty fraction in date-time");
    }
    int64_t offset = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        unsigned oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return tes_err_set(TES_ERR_ENCODING, "bad time zone offset in date-time");
        offset = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return tes_err_set(TES_ERR_ENCODING, "date-time lacks a time zone");
    }
    if (i != len)
        return tes_err_set(TES_ERR_ENCODING, "trailing characters after date-time");
    if (strict && offset != 0)
        return tes_err_set(TES_ERR_ENCODING, "date-time must be in UTC ('Z')");
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (se > 59 ? 59 : se) - offset;
    return TES_OK;
}

tes_err tes_file_read(const char *path, size_t max, tes_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return tes_err_set(TES_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t start = out->len;
    uint8_t chunk[16384];
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n > 0) {
            if (out->len - start + n > max) {
                fclose(f);
                tes_wipe(chunk, sizeof(chunk));
                out->len = start;
                return tes_err_set(TES_ERR_IO, "'%s' is larger than %zu bytes", path, max);
            }
            tes_buf_append(out, chunk, n);
        }
        if (n < sizeof(chunk))
            break;
    }
    bool err = ferror(f);
    fclose(f);
    tes_wipe(chunk, sizeof(chunk)); /* the file may hold a key */
    if (err)
        return tes_err_set(TES_ERR_IO, "cannot read '%s'", path);
    if (out->failed)
        return tes_err_set(TES_ERR_NOMEM, "out of memory reading '%s'", path);
    return TES_OK;
}

/* Writes all of data to fd; returns 0 or an errno value. */
static int write_all(int fd, tes_bytes data)
{
    size_t off = 0;
    while (off < data.len) {
        ssize_t w = write(fd, data.ptr + off, data.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
        off += (size_t)w;
    }
    return 0;
}

/* An existing target that is not a regular file (a device, a FIFO, a socket,
 * /dev/stdout) is written in place: replacing it by a regular file would break
 * it (`--out /dev/null` run as root must not turn the device into a file). */
static tes_err write_in_place(const char *path, tes_bytes data)
{
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return tes_err_set(TES_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        /* swapped for a regular file since we looked: do not append to it */
        close(fd);
        return tes_err_set(TES_ERR_IO, "'%s' changed while being opened", path);
    }
    int e = write_all(fd, data);
    if (close(fd) != 0 && e == 0 && errno != EINTR)
        e = errno;
    if (e != 0)
        return tes_err_set(TES_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    return TES_OK;
}

tes_err tes_file_write(const char *path, tes_bytes data, unsigned mode)
{
    if (path == NULL || path[0] == '\0')
        return tes_err_set(TES_ERR_ARG, "no file name to write");
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return tes_err_set(TES_ERR_IO, "cannot write '%s': it is a directory", path);
        if (!S_ISREG(st.st_mode))
            return write_in_place(path, data);
    } else if (errno != ENOENT) {
        return tes_err_set(TES_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }

    /* The temp file lives next to the target (rename stays in one file system)
     * under an unpredictable name, created exclusively (O_EXCL: a file planted
     * under that name is never opened; O_NOFOLLOW: nor is a symlink), with its
     * final mode from the start: nobody else ever holds it open. */
    char dir[PATH_MAX], base[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) ||
        snprintf(base, sizeof(base), "%s", path) >= (int)sizeof(base))
        return tes_err_set(TES_ERR_ARG, "path too long: '%s'", path);
    const char *d = dirname(dir);
    const char *b = basename(base);
    char tmp[PATH_MAX];
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        uint8_t r[12];
        if (system_fill(NULL, r, sizeof(r)) != 0)
            return tes_err_set(TES_ERR_RANDOM, "the random source failed (temp file name)");
        char hex[2 * sizeof(r) + 1];
        tes_hex_str(hex, TES_BYTES(r, sizeof(r)));
        if (snprintf(tmp, sizeof(tmp), "%s/.%s.%s.tmp", d, b, hex) >= (int)sizeof(tmp))
            return tes_err_set(TES_ERR_ARG, "path too long: '%s'", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)(mode & 07777));
        if (fd < 0 && errno != EEXIST)
            return tes_err_set(TES_ERR_IO, "cannot create a temporary file in '%s': %s", d,
                               strerror(errno));
    }
    if (fd < 0)
        return tes_err_set(TES_ERR_IO, "cannot create a temporary file in '%s': every name taken", d);
    int e = write_all(fd, data);
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0 && errno != EINTR)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        return tes_err_set(TES_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return tes_err_set(TES_ERR_IO, "cannot rename to '%s': %s", path, strerror(e));
    }
    /* The rename itself is durable only once the directory is. */
    int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return tes_err_set(TES_ERR_IO, "cannot open directory '%s' to flush '%s': %s", d, path,
                           strerror(errno));
    e = fsync(dfd) != 0 && errno != EINVAL ? errno : 0;
    close(dfd);
    if (e != 0)
        return tes_err_set(TES_ERR_IO, "cannot flush directory '%s': %s", d, strerror(e));
    return TES_OK;
}

tes_err tes_dir_secret(const char *dir, bool *created)
{
    if (dir == NULL || *dir == '\0' || created == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_dir_secret: no directory");
    *created = false;
    if (mkdir(dir, 0700) == 0) {
        *created = true;
        /* the umask may have taken bits away, never added any: 0700 exactly */
        if (chmod(dir, 0700) != 0)
            return tes_err_set(TES_ERR_IO, "cannot set the mode of '%s': %s", dir,
                               strerror(errno));
        return TES_OK;
    }
    if (errno != EEXIST)
        return tes_err_set(TES_ERR_IO, "cannot create '%s': %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tes_err_set(TES_ERR_IO, "'%s' exists and is not a directory", dir);
    if (st.st_uid != geteuid())
        return tes_err_set(TES_ERR_DIR_UNSAFE,
                           "'%s' is owned by another user (uid %ld, you are uid %ld); a "
                           "directory that holds secrets must be your own",
                           dir, (long)st.st_uid, (long)geteuid());
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return tes_err_set(TES_ERR_DIR_UNSAFE,
                           "'%s' is writable by %s (mode %04o); a directory that holds secrets "
                           "must be writable only by you (chmod 700 '%s', or use a new directory)",
                           dir, (st.st_mode & S_IWOTH) ? "other users" : "its group",
                           (unsigned)(st.st_mode & 07777), dir);
    return TES_OK;
}
