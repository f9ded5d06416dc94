/*
 * The fast path of tes_rp_payload_parse (rp.h, form.c): a strict, bounded,
 * non-recursive scanner for the payload a wallet sends,
 *
 *   {"vp_token":{"<credential_id>":["<base64url DeviceResponse>"]},"state":"..."}
 *
 * jansson reads char by char (~110 instructions a byte); this reads the
 * 2-20 KB presentation string at a few a byte. It accepts exactly what
 * jansson (JSON_REJECT_DUPLICATES) and the checks of form.c accept, within a
 * subset; anything outside the subset, and every refusal, it leaves to the
 * jansson path, which then decides as it always did (same error, same
 * message). The subset (RFC 8259 otherwise):
 *   - strings of printable ASCII only (no '\\', no control, no byte >= 0x7f),
 *     so that the bytes are the value and names compare byte for byte;
 *   - numbers without exponent and with at most 18 integer digits (jansson
 *     refuses integers beyond json_int_t and reals that overflow);
 *   - at most PL_DEPTH_MAX nested containers in a skipped member, at most
 *     PL_NAMES_MAX member names open at once (duplicate names are checked in
 *     every object, as jansson does);
 *   - vp_token exactly {"<credential_id>":["<string>"]} and state a string.
 * tests/fuzz/fuzz_rp_response.c runs both paths on every input and traps
 * when this one accepts with another result than jansson's.
 */
#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"

#define PL_DEPTH_MAX 8
#define PL_NAMES_MAX 32
#define PL_INT_DIGITS_MAX 18 /* < 2^63: never "too big integer" */

typedef struct pl_span {
    const char *p;
    size_t n;
} pl_span;

typedef struct pl_scan {
    const char *p, *end;
    pl_span names[PL_NAMES_MAX]; /* the member names of the open objects */
    size_t nnames;
} pl_scan;

static void ws(pl_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* After whitespace, the character c. */
static bool eat(pl_scan *s, char c)
{
    ws(s);
    if (s->p == s->end || *s->p != c)
        return false;
    s->p++;
    return true;
}

/* After whitespace, '"' to the next '"': its bytes, unchecked, into *out. */
static bool quoted(pl_scan *s, pl_span *out)
{
    if (!eat(s, '"'))
        return false;
    const char *q = memchr(s->p, '"', (size_t)(s->end - s->p));
    if (q == NULL)
        return false;
    out->p = s->p;
    out->n = (size_t)(q - s->p);
    s->p = q + 1;
    return true;
}

/* After whitespace, a string of the subset; its bytes into *out. */
static bool str(pl_scan *s, pl_span *out)
{
    if (!quoted(s, out))
        return false;
    for (size_t i = 0; i < out->n; i++) {
        unsigned char c = (unsigned char)out->p[i];
        if (c < 0x20 || c > 0x7e || c == '\\')
            return false;
    }
    return true;
}

static bool span_is(pl_span a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && memcmp(a.p, lit, n) == 0;
}

/* A member name, distinct from the names of its object (names[base..]),
 * and its ':'. */
static bool name(pl_scan *s, size_t base, pl_span *out)
{
    if (!str(s, out))
        return false;
    for (size_t i = base; i < s->nnames; i++)
        if (s->names[i].n == out->n && memcmp(s->names[i].p, out->p, out->n) == 0)
            return false;
    if (s->nnames == PL_NAMES_MAX)
        return false;
    s->names[s->nnames++] = *out;
    return eat(s, ':');
}

static bool digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* -?(0|[1-9][0-9]{0,17})(.[0-9]+)? at s->p. */
static bool number(pl_scan *s)
{
    const char *p = s->p, *d;
    if (p < s->end && *p == '-')
        p++;
    d = p;
    if (p < s->end && *p == '0')
        p++;
    else
        while (digit(p, s->end))
            p++;
    if (p == d || p - d > PL_INT_DIGITS_MAX)
        return false;
    if (p < s->end && *p == '.') {
        d = ++p;
        while (digit(p, s->end))
            p++;
        if (p == d)
            return false;
    }
    if (p < s->end && (*p == 'e' || *p == 'E'))
        return false;
    s->p = p;
    return true;
}

static bool literal(pl_scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* One scalar at s->p (after whitespace). */
static bool scalar(pl_scan *s)
{
    pl_span v;
    switch (*s->p) {
    case '"':
        return str(s, &v);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s);
    }
}

/* Skips one value, checked: containers on an explicit stack. The character
 * after a token is always checked by the caller (',', a closer, or the end),
 * so "truex", "01" or "1.5e" never pass. */
static bool skip_value(pl_scan *s)
{
    char open[PL_DEPTH_MAX];   /* '{' or '[' */
    size_t base[PL_DEPTH_MAX]; /* where each open object's names start */
    size_t depth = 0;
    pl_span k;
    for (;;) {
        /* a value */
        ws(s);
        if (s->p == s->end)
            return false;
        char c = *s->p;
        if (c == '{' || c == '[') {
            if (depth == PL_DEPTH_MAX)
                return false;
            s->p++;
            open[depth] = c;
            base[depth++] = s->nnames;
            if (!eat(s, c == '{' ? '}' : ']')) { /* its first member or element */
                if (c == '{' && !name(s, base[depth - 1], &k))
                    return false;
                continue;
            }
            depth--; /* empty */
        } else if (!scalar(s)) {
            return false;
        }
        /* after a value: ',' and the next, or closers */
        for (;;) {
            if (depth == 0)
                return true;
            bool obj = open[depth - 1] == '{';
            if (eat(s, ',')) {
                if (obj && !name(s, base[depth - 1], &k))
                    return false;
                break;
            }
            if (!eat(s, obj ? '}' : ']'))
                return false;
            s->nnames = base[--depth];
        }
    }
}

/* vp_token: {"<credential_id>":["<string>"]}; the string into *out,
 * unchecked here: rp_payload_fast takes it only when it is all base64url
 * characters (a subset of the subset), else jansson decides. */
static bool vp_token(pl_scan *s, const char *credential_id, pl_span *out)
{
    pl_span k;
    return eat(s, '{') && str(s, &k) && span_is(k, credential_id) && eat(s, ':') && eat(s, '[') &&
           quoted(s, out) && eat(s, ']') && eat(s, '}');
}

/* The whole payload: vp_token's string and state's (p NULL when absent). */
static bool scan_payload(pl_scan *s, const char *credential_id, pl_span *vp, pl_span *st)
{
    if (!eat(s, '{'))
        return false;
    do {
        pl_span k;
        if (!name(s, 0, &k))
            return false;
        if (span_is(k, "vp_token")) {
            if (!vp_token(s, credential_id, vp))
                return false;
        } else if (span_is(k, "state")) {
            if (!str(s, st))
                return false;
        } else if (!skip_value(s)) {
            return false;
        }
    } while (eat(s, ','));
    if (!eat(s, '}'))
        return false;
    ws(s);
    return s->p == s->end;
}

bool rp_payload_fast(const char *json, size_t len, const char *credential_id, char **state,
                     tes_buf *device_response, tes_err *e)
{
    pl_scan s = {.p = json, .end = json + len};
    pl_span vp = {0}, st = {0};
    if (!scan_payload(&s, credential_id, &vp, &st))
        return false;
    /* form.c's checks; failing one is a refusal: jansson's path words it */
    if (vp.p == NULL || vp.n == 0 || vp.n > TES_RP_RESPONSE_MAX ||
        !tes_jose_b64url_chars(vp.p, vp.n))
        return false;
    if (st.p != NULL && (st.n == 0 || st.n > TES_OID4VP_STATE_MAX))
        return false;
    tes_buf dr = {0};
    if (tes_b64url_decode(&dr, vp.p, vp.n) != TES_OK || dr.len == 0) {
        tes_buf_free(&dr);
        return false;
    }
    *e = TES_OK;
    if (st.p != NULL) {
        if ((*state = malloc(st.n + 1)) == NULL) {
            *e = tes_err_set(TES_ERR_NOMEM, "out of memory");
        } else {
            memcpy(*state, st.p, st.n);
            (*state)[st.n] = '\0';
        }
    }
    if (*e == TES_OK)
        tes_buf_append(device_response, dr.ptr, dr.len);
    if (*e == TES_OK && device_response->failed)
        *e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (*e != TES_OK) {
        free(*state);
        *state = NULL;
    }
    tes_buf_free(&dr);
    return true;
}
