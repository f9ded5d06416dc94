/* core: calendar time formatting and parsing against the C library's gmtime_r
 * (an independent implementation of the same calendar). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "tessera/core.h"

#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

static void reference(int64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL) {
        strcpy(out, "(gmtime failed)");
        return;
    }
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(out, 21, "%.20s", tmp);
}

TEST(time_format_matches_gmtime)
{
    /* every day boundary, leap day and second of interest from 0000 to 9999 is
     * reached by a stride that is prime to 86400, plus the fixed points below */
    static const int64_t fixed[] = {
        0,          -1,           86399,        86400,        951782400,  951868799,
        4107542400, 253402300799, -62167219200, -62135596800, 1609459200, 1735689599};
    char got[21], want[21];
    long compared = 0, diff = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        tes_time_format(fixed[i], got);
        reference(fixed[i], want);
        if (strcmp(got, want) != 0 && diff++ < 5)
            fprintf(stderr, "    %lld: %s, gmtime %s\n", (long long)fixed[i], got, want);
        compared++;
    }
    for (int64_t t = -62167219200; t <= 253402300799; t += 1000003) {
        tes_time_format(t, got);
        reference(t, want);
        if (strcmp(got, want) != 0 && diff++ < 5)
            fprintf(stderr, "    %lld: %s, gmtime %s\n", (long long)t, got, want);
        compared++;
    }
    CHECK(compared > 200000);
    CHECK_EQ_INT(diff, 0);
    /* outside 0000..9999 the text is a fixed placeholder, never a wrong year */
    tes_time_format(253402300800, got);
    CHECK(strcmp(got, "0000-00-00T00:00:00Z") == 0);
    tes_time_format(-62167219201, got);
    CHECK(strcmp(got, "0000-00-00T00:00:00Z") == 0);
}

TEST(time_parse_inverts_format)
{
    char s[21];
    long bad = 0;
    for (int64_t t = -62167219200; t <= 253402300799; t += 104729 * 997 + 1) {
        tes_time_format(t, s);
        int64_t back = 0;
        if (tes_time_parse(s, 20, true, &back) != TES_OK || back != t)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    int64_t v = 0;
    CHECK_ERR(tes_time_parse("2024-02-30T00:00:00Z", 20, true, &v), TES_ERR_ENCODING);
    CHECK_ERR(tes_time_parse("2024-01-01T00:00:00.5Z", 22, true, &v), TES_ERR_ENCODING);
    CHECK_ERR(tes_time_parse("2024-01-01T00:00:00.5Z", 22, false, &v), TES_OK);
    CHECK(v == 1704067200);
    CHECK_ERR(tes_time_parse("2024-01-01T01:00:00+01:00", 25, true, &v), TES_ERR_ENCODING);
    CHECK_ERR(tes_time_parse("2024-01-01T01:00:00+01:00", 25, false, &v), TES_OK);
    CHECK(v == 1704067200);
}

/* ---- tes_file_write ---- */

static char g_dir[64];

static bool make_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/tes-core-XXXXXX");
    return mkdtemp(g_dir) != NULL;
}

static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(g_dir);
}

static size_t count_entries(void)
{
    DIR *d = opendir(g_dir);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    if (d != NULL)
        closedir(d);
    return n;
}

static bool file_is(const char *path, const char *text)
{
    tes_buf b = {0};
    bool ok = tes_file_read(path, 4096, &b) == TES_OK && b.len == strlen(text) &&
              memcmp(b.ptr, text, b.len) == 0;
    tes_buf_free(&b);
    return ok;
}

TEST(file_write_mode_from_creation_and_no_leftovers)
{
    REQUIRE(make_dir());
    mode_t old = umask(022);
    char p[128];
    snprintf(p, sizeof p, "%s/key.pem", g_dir);
    CHECK_ERR(tes_file_write(p, TES_BYTES_STR("secret"), 0600), TES_OK);
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
    CHECK(file_is(p, "secret"));
    /* replacing a public file with a secret one: the result is 0600 */
    snprintf(p, sizeof p, "%s/pub", g_dir);
    CHECK_ERR(tes_file_write(p, TES_BYTES_STR("one"), 0644), TES_OK);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644);
    CHECK_ERR(tes_file_write(p, TES_BYTES_STR("two"), 0600), TES_OK);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK(file_is(p, "two"));
    CHECK_EQ_INT(count_entries(), 2); /* no temp file left behind */
    umask(old);
    remove_dir();
}

/* Another local user who plants a symlink (or a file of theirs) where the temp
 * file would be (the old predictable PATH.tmp.PID) captures nothing: the temp
 * name is unpredictable and created exclusively. */
TEST(file_write_planted_temp_names_capture_nothing)
{
    REQUIRE(make_dir());
    char target[128], victim[128], planted[192], owned[192];
    snprintf(target, sizeof target, "%s/ds_key.pem", g_dir);
    snprintf(victim, sizeof victim, "%s/victim", g_dir);
    snprintf(planted, sizeof planted, "%s.tmp.%ld", target, (long)getpid());
    REQUIRE(tes_file_write(victim, TES_BYTES_STR("victim"), 0644) == TES_OK);
    REQUIRE(symlink(victim, planted) == 0);
    CHECK_ERR(tes_file_write(target, TES_BYTES_STR("private key"), 0600), TES_OK);
    CHECK(file_is(victim, "victim"));
    struct stat st;
    CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
    CHECK(file_is(target, "private key"));
    CHECK(lstat(planted, &st) == 0 && S_ISLNK(st.st_mode)); /* untouched */
    unlink(planted);
    /* a pre-created (world-writable) file at that name is not opened either */
    snprintf(owned, sizeof owned, "%s.tmp.%ld", target, (long)getpid());
    int fd = open(owned, O_WRONLY | O_CREAT | O_EXCL, 0666);
    REQUIRE(fd >= 0);
    fchmod(fd, 0666);
    close(fd);
    CHECK_ERR(tes_file_write(target, TES_BYTES_STR("second key"), 0600), TES_OK);
    CHECK(stat(owned, &st) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0666);
    CHECK(stat(target, &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK(file_is(target, "second key"));
    CHECK_EQ_INT(count_entries(), 3); /* target, victim, the planted file: nothing else */
    remove_dir();
}

/* A FIFO or a device is written in place, never replaced by a regular file. */
TEST(file_write_special_targets_in_place)
{
    REQUIRE(make_dir());
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/fifo", g_dir);
    REQUIRE(mkfifo(fifo, 0600) == 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    REQUIRE(rd >= 0);
    CHECK_ERR(tes_file_write(fifo, TES_BYTES_STR("through the pipe"), 0600), TES_OK);
    char got[64] = {0};
    ssize_t n = read(rd, got, sizeof got - 1);
    close(rd);
    CHECK(n == 16 && memcmp(got, "through the pipe", 16) == 0);
    struct stat st;
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));

    /* a character device: a private null device when this process may make one,
     * else the system's /dev/null (only opened for writing) */
    char dev[128];
    snprintf(dev, sizeof dev, "%s/null", g_dir);
    const char *null = mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0 ? dev : "/dev/null";
    CHECK_ERR(tes_file_write(null, TES_BYTES_STR("discarded"), 0600), TES_OK);
    CHECK(lstat(null, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
          minor(st.st_rdev) == 3);

    /* a directory is refused and stays a directory */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", g_dir);
    REQUIRE(mkdir(sub, 0700) == 0);
    CHECK_ERR(tes_file_write(sub, TES_BYTES_STR("x"), 0600), TES_ERR_IO);
    CHECK(strstr(tes_err_message(), "is a directory") != NULL);
    CHECK(lstat(sub, &st) == 0 && S_ISDIR(st.st_mode));
    remove_dir();
}

/* A message is reported only for the code it was recorded with. */
/* ---------------------------------------------------------------- hex and printable text */

TEST(hex_str_and_hex_encode_agree)
{
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char s[2 * sizeof all + 2];
    memset(s, 'X', sizeof s);
    tes_hex_str(s, TES_BYTES(all, sizeof all));
    CHECK_EQ_INT(strlen(s), 512);
    CHECK(memcmp(s, "000102", 6) == 0 && memcmp(s + 20, "0a0b", 4) == 0);
    CHECK(memcmp(s + 506, "fdfeff", 6) == 0);
    CHECK(s[513] == 'X'); /* nothing written after the NUL */
    tes_buf b = {0};
    tes_hex_encode(&b, TES_BYTES(all, sizeof all));
    CHECK(b.len == 512 && memcmp(b.ptr, s, 512) == 0);
    tes_buf back = {0};
    CHECK_ERR(tes_hex_decode(&back, s, strlen(s)), TES_OK);
    CHECK(back.len == 256 && memcmp(back.ptr, all, 256) == 0);
    tes_buf_free(&b);
    tes_buf_free(&back);
    char empty[1] = {'X'};
    tes_hex_str(empty, TES_BYTES(all, 0));
    CHECK(empty[0] == '\0');
}

static const char *printable(char *out, size_t cap, const char *s)
{
    tes_text_printable(out, cap, TES_BYTES(s, strlen(s)));
    return out;
}

TEST(text_printable_keeps_utf8_and_replaces_controls)
{
    char o[64];
    CHECK_EQ_STR(printable(o, sizeof o, "Hotel Utopia"), "Hotel Utopia");
    /* UTF-8 text is shown as it is: a hotel named in Chinese, an accented name */
    CHECK_EQ_STR(printable(o, sizeof o, "\xe5\x8c\x97\xe4\xba\xac\xe9\xa5\xad\xe5\xba\x97"),
                 "\xe5\x8c\x97\xe4\xba\xac\xe9\xa5\xad\xe5\xba\x97");
    CHECK_EQ_STR(printable(o, sizeof o, "H\xc3\xb4tel \xf0\x9f\x8f\xa8"),
                 "H\xc3\xb4tel \xf0\x9f\x8f\xa8");
    /* C0 controls and DEL, one '?' each */
    CHECK_EQ_STR(printable(o, sizeof o, "a\nb\tc\x1b[2Jd\x7f"), "a?b?c?[2Jd?");
    /* C1 controls (U+009B is CSI), bidirectional overrides and isolates, separators */
    CHECK_EQ_STR(printable(o, sizeof o, "x\xc2\x9b" "31my"), "x?31my");
    CHECK_EQ_STR(printable(o, sizeof o, "Bank \xe2\x80\xae" "lanigiro"), "Bank ?lanigiro");
    CHECK_EQ_STR(printable(o, sizeof o, "\xe2\x81\xa6" "a\xe2\x81\xa9\xe2\x80\x8f\xd8\x9c"),
                 "?a???");
    CHECK_EQ_STR(printable(o, sizeof o, "l1\xe2\x80\xa8l2\xe2\x80\xa9"), "l1?l2?");
    /* bytes that are not well-formed UTF-8, one '?' each: stray continuation, lone lead,
     * overlong, surrogate, above U+10FFFF, truncated at the end */
    CHECK_EQ_STR(printable(o, sizeof o, "\x80z"), "?z");
    CHECK_EQ_STR(printable(o, sizeof o, "\xc3z"), "?z");
    CHECK_EQ_STR(printable(o, sizeof o, "\xc0\xaf"), "??");
    CHECK_EQ_STR(printable(o, sizeof o, "\xe0\x80\xaf"), "???");
    CHECK_EQ_STR(printable(o, sizeof o, "\xed\xa0\x80"), "???");
    CHECK_EQ_STR(printable(o, sizeof o, "\xf4\x90\x80\x80"), "????");
    CHECK_EQ_STR(printable(o, sizeof o, "ok\xe4\xba"), "ok??");
    /* NUL inside the view */
    tes_text_printable(o, sizeof o, TES_BYTES("a\0b", 3));
    CHECK_EQ_STR(o, "a?b");
    /* bounded, and never cut inside a character */
    CHECK_EQ_STR(printable(o, 4, "abcdef"), "abc");
    CHECK_EQ_STR(printable(o, 5, "ab\xe5\x8c\x97"), "ab");
    CHECK_EQ_STR(printable(o, 6, "ab\xe5\x8c\x97"), "ab\xe5\x8c\x97");
    CHECK_EQ_STR(printable(o, 1, "abc"), "");
    o[0] = 'X';
    tes_text_printable(o, 0, TES_BYTES("abc", 3)); /* cap 0: nothing written */
    CHECK(o[0] == 'X');
}

TEST(error_message_belongs_to_its_code)
{
    tes_err first = tes_err_set(TES_ERR_KEY_USED, "single-use key k1 was already used");
    tes_err later = tes_err_set(TES_ERR_CBOR_TRUNCATED, "input ends inside an item (3 open)");
    CHECK(strcmp(tes_err_message_for(later), "input ends inside an item (3 open)") == 0);
    /* the first failure is reported by its description, not by the later text */
    CHECK(strcmp(tes_err_message_for(first), tes_err_describe(TES_ERR_KEY_USED)) == 0);
    tes_err_set(TES_ERR_KEY_USED, "single-use key k2 was already used");
    CHECK(strcmp(tes_err_message_for(first), "single-use key k2 was already used") == 0);
    tes_err_clear();
    CHECK(strcmp(tes_err_message_for(first), tes_err_describe(TES_ERR_KEY_USED)) == 0);
}
