/*
 * fixed_env.h — a clock that says what the test sets, and randomness the test
 * controls (a repeatable stream or one that fails), to inject through
 * tes_clock / tes_rng and observe that the library uses them.
 */
#ifndef TES_TEST_FIXED_ENV_H
#define TES_TEST_FIXED_ENV_H

#include <stdint.h>
#include <string.h>

#include "tessera/core.h"

/* A clock stopped at *ctx (an int64_t the test may move). */
static inline int64_t fixed_now(void *ctx)
{
    return *(const int64_t *)ctx;
}

static inline tes_clock fixed_clock(int64_t *at)
{
    return (tes_clock){fixed_now, at};
}

/* A repeatable stream (SplitMix64 from the seed in *ctx): two rngs with one
 * seed give the same bytes. Test use only: not random. */
static inline int seeded_fill(void *ctx, uint8_t *out, size_t n)
{
    uint64_t *state = ctx;
    while (n > 0) {
        uint64_t z = (*state += 0x9E3779B97F4A7C15u);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        z ^= z >> 31;
        size_t k = n < 8 ? n : 8;
        memcpy(out, &z, k);
        out += k;
        n -= k;
    }
    return 0;
}

static inline tes_rng seeded_rng(uint64_t *seed)
{
    return (tes_rng){seeded_fill, seed};
}

/* A random source that always fails; counts its calls in *ctx. */
static inline int failing_fill(void *ctx, uint8_t *out, size_t n)
{
    (void)out;
    (void)n;
    (*(int *)ctx)++;
    return -1;
}

static inline tes_rng failing_rng(int *calls)
{
    return (tes_rng){failing_fill, calls};
}

#endif
