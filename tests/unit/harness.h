/*
 * Tiny header-only test harness for Tessera unit tests.
 *
 *     #include "harness.h"
 *
 *     TEST(parses_empty_map)
 *     {
 *         CHECK(1 + 1 == 2);
 *         CHECK_EQ_INT(tes_foo(), 42);
 *         CHECK_ERR(tes_cbor_decode(...), TES_ERR_CBOR_TRUNCATED);
 *         REQUIRE(ptr != NULL);            // stops this test on failure
 *     }
 *
 * Tests run in source order; main() is provided (define TES_HARNESS_NO_MAIN to write your
 * own and call tes_harness_run(argc, argv)). `./test_x name...` runs only the named tests.
 * TEARDOWN(name) { ... } registers a function that runs after the tests, whichever of them
 * ran and wherever it stands in the file (teardowns run last registered first); its checks
 * count like a test's.
 * A failed check prints file:line and the expression; the run ends with
 * "N checks passed, M failed" and exits non-zero if any check failed.
 *
 * To print error codes by name in CHECK_ERR, define before including this header:
 *     #define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
 */
#ifndef TES_TESTS_HARNESS_H
#define TES_TESTS_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TES_HARNESS_MAX_TESTS 512

struct tes_harness_test {
    const char *name;
    void (*fn)(void);
    int line;
};

static struct tes_harness_test tes_harness_tests[TES_HARNESS_MAX_TESTS] __attribute__((unused));
static int tes_harness_ntests __attribute__((unused));
static struct tes_harness_test tes_harness_teardowns[16] __attribute__((unused));
static int tes_harness_nteardowns __attribute__((unused));
static long tes_harness_passed __attribute__((unused));
static long tes_harness_failed __attribute__((unused));

static inline void tes_harness_register(const char *name, void (*fn)(void), int line)
{
    if (tes_harness_ntests == TES_HARNESS_MAX_TESTS) {
        fprintf(stderr, "harness: more than %d tests in one file\n", TES_HARNESS_MAX_TESTS);
        exit(2);
    }
    tes_harness_tests[tes_harness_ntests++] = (struct tes_harness_test){name, fn, line};
}

/* Records one check result; returns cond so macros can act on failure. */
static inline int tes_harness_check(int cond, const char *file, int line, const char *what)
{
    if (cond) {
        tes_harness_passed++;
    } else {
        tes_harness_failed++;
        fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
    }
    return cond;
}

/* Defines and registers (at load time) a test function. */
#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void tes_harness_reg_##name(void)                          \
    {                                                                                              \
        tes_harness_register(#name, test_##name, __LINE__);                                        \
    }                                                                                              \
    static void test_##name(void)

static inline void tes_harness_register_teardown(const char *name, void (*fn)(void), int line)
{
    if (tes_harness_nteardowns >= 16) {
        fprintf(stderr, "harness: too many teardowns\n");
        exit(2);
    }
    tes_harness_teardowns[tes_harness_nteardowns++] = (struct tes_harness_test){name, fn, line};
}

/* Defines and registers a teardown: runs once after the tests, not as one of them. */
#define TEARDOWN(name)                                                                             \
    static void teardown_##name(void);                                                             \
    __attribute__((constructor)) static void tes_harness_regtd_##name(void)                        \
    {                                                                                              \
        tes_harness_register_teardown(#name, teardown_##name, __LINE__);                           \
    }                                                                                              \
    static void teardown_##name(void)

#define CHECK(cond) ((void)tes_harness_check(!!(cond), __FILE__, __LINE__, "CHECK(" #cond ")"))

/* Like CHECK, but returns from the current test on failure (use before dereferencing). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!tes_harness_check(!!(cond), __FILE__, __LINE__, "REQUIRE(" #cond ")"))                \
            return;                                                                                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long tes_h_a_ = (long long)(a), tes_h_b_ = (long long)(b);                            \
        if (!tes_harness_check(tes_h_a_ == tes_h_b_, __FILE__, __LINE__,                           \
                               "CHECK_EQ_INT(" #a ", " #b ")"))                                    \
            fprintf(stderr, "    got %lld, expected %lld\n", tes_h_a_, tes_h_b_);                  \
    } while (0)

#ifdef TES_HARNESS_ERR_NAME
#define TES_HARNESS_PRINT_ERR(label, code)                                                         \
    fprintf(stderr, "    %s %lld (%s)\n", label, (long long)(code), TES_HARNESS_ERR_NAME(code))
#else
#define TES_HARNESS_PRINT_ERR(label, code)                                                         \
    fprintf(stderr, "    %s %lld\n", label, (long long)(code))
#endif

/* expr returns an error code (0 = success); it must equal code. */
#define CHECK_ERR(expr, code)                                                                      \
    do {                                                                                           \
        long long tes_h_got_ = (long long)(expr), tes_h_want_ = (long long)(code);                 \
        if (!tes_harness_check(tes_h_got_ == tes_h_want_, __FILE__, __LINE__,                      \
                               "CHECK_ERR(" #expr ", " #code ")")) {                               \
            TES_HARNESS_PRINT_ERR("got     ", tes_h_got_);                                         \
            TES_HARNESS_PRINT_ERR("expected", tes_h_want_);                                        \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *tes_h_a_ = (a), *tes_h_b_ = (b);                                               \
        int tes_h_ok_ = tes_h_a_ && tes_h_b_ && strcmp(tes_h_a_, tes_h_b_) == 0;                   \
        if (!tes_harness_check(tes_h_ok_, __FILE__, __LINE__, "CHECK_EQ_STR(" #a ", " #b ")"))     \
            fprintf(stderr, "    got \"%s\", expected \"%s\"\n", tes_h_a_ ? tes_h_a_ : "(null)",   \
                    tes_h_b_ ? tes_h_b_ : "(null)");                                               \
    } while (0)

/* Compares n bytes; on failure prints the first differing offset. */
#define CHECK_EQ_MEM(a, b, n)                                                                      \
    do {                                                                                           \
        const unsigned char *tes_h_a_ = (const unsigned char *)(a);                                \
        const unsigned char *tes_h_b_ = (const unsigned char *)(b);                                \
        size_t tes_h_n_ = (n), tes_h_i_ = 0;                                                       \
        while (tes_h_i_ < tes_h_n_ && tes_h_a_[tes_h_i_] == tes_h_b_[tes_h_i_])                    \
            tes_h_i_++;                                                                            \
        if (!tes_harness_check(tes_h_i_ == tes_h_n_, __FILE__, __LINE__,                           \
                               "CHECK_EQ_MEM(" #a ", " #b ", " #n ")"))                            \
            fprintf(stderr, "    first difference at byte %zu of %zu: 0x%02x vs 0x%02x\n",         \
                    tes_h_i_, tes_h_n_, tes_h_a_[tes_h_i_], tes_h_b_[tes_h_i_]);                   \
    } while (0)

static inline int tes_harness_cmp_line(const void *a, const void *b)
{
    return ((const struct tes_harness_test *)a)->line - ((const struct tes_harness_test *)b)->line;
}

/* Runs the registered tests (all, or those named in argv) and prints the summary. */
static inline int tes_harness_run(int argc, char **argv)
{
    qsort(tes_harness_tests, (size_t)tes_harness_ntests, sizeof tes_harness_tests[0],
          tes_harness_cmp_line);
    int ran = 0;
    for (int i = 0; i < tes_harness_ntests; i++) {
        const struct tes_harness_test *t = &tes_harness_tests[i];
        int selected = argc < 2;
        for (int j = 1; j < argc && !selected; j++)
            selected = strcmp(argv[j], t->name) == 0;
        if (!selected)
            continue;
        long failed_before = tes_harness_failed;
        t->fn();
        ran++;
        printf("%-4s %s\n", tes_harness_failed == failed_before ? "ok" : "FAIL", t->name);
        fflush(stdout);
    }
    for (int i = tes_harness_nteardowns - 1; i >= 0; i--) {
        long failed_before = tes_harness_failed;
        tes_harness_teardowns[i].fn();
        printf("%-4s (teardown) %s\n", tes_harness_failed == failed_before ? "ok" : "FAIL",
               tes_harness_teardowns[i].name);
        fflush(stdout);
    }
    if (ran == 0)
        fprintf(stderr, "harness: no test ran\n");
    printf("%ld checks passed, %ld failed\n", tes_harness_passed, tes_harness_failed);
    return tes_harness_failed == 0 && ran > 0 ? 0 : 1;
}

#ifndef TES_HARNESS_NO_MAIN
int main(int argc, char **argv)
{
    return tes_harness_run(argc, argv);
}
#endif

#endif /* TES_TESTS_HARNESS_H */
