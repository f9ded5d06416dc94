/* Byte slices, growable buffers, wiping and constant-time comparison. */
#include <stdlib.h>
#include <string.h>

#include "tessera/core.h"

bool tes_bytes_eq(tes_bytes a, tes_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

char *tes_bytes_cstr(tes_bytes b)
{
    char *s = malloc(b.len + 1);
    if (s != NULL) {
        if (b.len)
            memcpy(s, b.ptr, b.len);
        s[b.len] = '\0';
    }
    return s;
}

bool tes_ct_eq(tes_bytes a, tes_bytes b)
{
    if (a.len != b.len)
        return false;
    volatile uint8_t acc = 0;
    for (size_t i = 0; i < a.len; i++)
        acc |= a.ptr[i] ^ b.ptr[i];
    return acc == 0;
}

void tes_wipe(void *p, size_t n)
{
    if (p == NULL || n == 0)
        return;
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

static bool grow(tes_buf *b, size_t need)
{
    if (b->failed)
        return false;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    uint8_t *p;
    if (b->secret) {
        /* never leave a copy of a secret behind in freed memory */
        p = malloc(cap);
        if (p && b->len)
            memcpy(p, b->ptr, b->len);
        if (p) {
            tes_wipe(b->ptr, b->cap);
            free(b->ptr);
        }
    } else {
        p = realloc(b->ptr, cap);
    }
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->ptr = p;
    b->cap = cap;
    return true;
}

uint8_t *tes_buf_extend(tes_buf *b, size_t n)
{
    if (n > SIZE_MAX - b->len || !grow(b, b->len + n)) {
        b->failed = true;
        return NULL;
    }
    uint8_t *p = b->ptr + b->len;
    b->len += n;
    return p;
}

void tes_buf_append(tes_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    uint8_t *p = tes_buf_extend(b, n);
    if (p)
        memcpy(p, data, n);
}

void tes_buf_reset(tes_buf *b)
{
    if (b->secret)
        tes_wipe(b->ptr, b->len);
    b->len = 0;
    b->failed = false;
}

void tes_buf_free(tes_buf *b)
{
    if (b->secret)
        tes_wipe(b->ptr, b->cap);
    free(b->ptr);
    bool secret = b->secret;
    *b = (tes_buf){0};
    b->secret = secret;
}
