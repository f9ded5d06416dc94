/* core: calendar time formatting and parsing against the C library's gmtime_r
 * (an independent implementation of the same calendar). */
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
