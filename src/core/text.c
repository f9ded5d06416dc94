/* Hex, base64, base64url, percent (URL) coding, and untrusted text made printable. */
#include <string.h>

#include "tessera/core.h"

/* The one hex encoder: 2 * n lower-case digits at out (no terminator). */
static void hex_digits(char *out, const uint8_t *in, size_t n)
{
    static const char hexdig[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
}

void tes_hex_encode(tes_buf *out, tes_bytes in)
{
    uint8_t *p = tes_buf_extend(out, in.len * 2);
    if (p != NULL)
        hex_digits((char *)p, in.ptr, in.len);
}

void tes_hex_str(char *out, tes_bytes in)
{
    hex_digits(out, in.ptr, in.len);
    out[2 * in.len] = '\0';
}

/* Length of the well-formed UTF-8 character at p (n bytes left; RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_char(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* Whether the character at p (len bytes of well-formed UTF-8) is a control: C1
 * (U+0080..U+009F), or one that moves or reorders the text around it: the
 * line and paragraph separators U+2028/U+2029 and the Bidi_Control characters
 * U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069. */
static bool utf8_control(const uint8_t *p, size_t len)
{
    if (len == 2)
        return (p[0] == 0xc2 && p[1] <= 0x9f) || (p[0] == 0xd8 && p[1] == 0x9c);
    if (len != 3 || p[0] != 0xe2)
        return false;
    if (p[1] == 0x80)
        return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae);
    return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9;
}

void tes_text_printable(char *out, size_t cap, tes_bytes v)
{
    if (out == NULL || cap == 0)
        return;
    size_t o = 0;
    for (size_t i = 0; i < v.len;) {
        uint8_t c = v.ptr[i];
        size_t len = c < 0x80 ? 1 : utf8_char(v.ptr + i, v.len - i);
        bool shown = len == 1 ? c >= 0x20 && c != 0x7f : len > 1 && !utf8_control(v.ptr + i, len);
        size_t need = shown ? len : 1;
        if (need > cap - 1 - o)
            break; /* never cut inside a character */
        if (shown)
            memcpy(out + o, v.ptr + i, len);
        else
            out[o] = '?';
        o += need;
        i += len ? len : 1; /* a byte that starts no character is one '?' */
    }
    out[o] = '\0';
}

int tes_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

tes_err tes_hex_decode(tes_buf *out, const char *text, size_t len)
{
    while (len > 0 && is_space(text[len - 1]))
        len--;
    if (len % 2 != 0)
        return tes_err_set(TES_ERR_ENCODING, "hex text has an odd number of digits (%zu)", len);
    if (len == 0)
        return TES_OK;
    uint8_t *p = tes_buf_extend(out, len / 2);
    if (p == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory decoding hex");
    for (size_t i = 0; i < len; i += 2) {
        int hi = tes_hex_digit(text[i]), lo = tes_hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) {
            out->len -= len / 2;
            return tes_err_set(TES_ERR_ENCODING, "invalid hex digit at offset %zu", i);
        }
        p[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return TES_OK;
}

bool tes_hex_fixed(const char *s, uint8_t *out, size_t n)
{
    if (s == NULL || out == NULL || strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < 2 * n; i++)
        if (tes_hex_digit(s[i]) < 0)
            return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(tes_hex_digit(s[2 * i]) << 4 | tes_hex_digit(s[2 * i + 1]));
    return true;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The two base64 alphabets (RFC 4648 sections 4 and 5) and their padding rule. */
enum b64_variant {
    B64_STD, /* "+/", padded with '=' */
    B64_URL, /* "-_", no padding written; '=' tolerated on input */
};

static void b64_encode(tes_buf *out, tes_bytes in, enum b64_variant variant)
{
    const char *alpha = variant == B64_URL ? b64url : b64std;
    size_t i = 0;
    char q[4];
    while (i + 3 <= in.len) {
        uint32_t v = (uint32_t)in.ptr[i] << 16 | (uint32_t)in.ptr[i + 1] << 8 | in.ptr[i + 2];
        q[0] = alpha[v >> 18];
        q[1] = alpha[(v >> 12) & 63];
        q[2] = alpha[(v >> 6) & 63];
        q[3] = alpha[v & 63];
        tes_buf_append(out, q, 4);
        i += 3;
    }
    size_t rest = in.len - i;
    if (rest == 0)
        return;
    uint32_t v = (uint32_t)in.ptr[i] << 16 | (rest == 2 ? (uint32_t)in.ptr[i + 1] << 8 : 0);
    q[0] = alpha[v >> 18];
    q[1] = alpha[(v >> 12) & 63];
    q[2] = rest == 2 ? alpha[(v >> 6) & 63] : '=';
    q[3] = '=';
    size_t n = variant == B64_STD ? 4 : rest + 1;
    tes_buf_append(out, q, n);
}

void tes_b64_encode(tes_buf *out, tes_bytes in)
{
    b64_encode(out, in, B64_STD);
}

void tes_b64url_encode(tes_buf *out, tes_bytes in)
{
    b64_encode(out, in, B64_URL);
}

/* The value of each byte in the two alphabets (RFC 4648 tables 1 and 2), -1
 * outside them: one lookup per character, since decoding sits on every JOSE
 * and OpenID4VP path. [0]: "+/", [1]: "-_". */
static const signed char b64_table[2][256] = {
    {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
        52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
        -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
        15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
        -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
        41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    },
    {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
        52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
        -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
        15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
        -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
        41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    },
};

static int b64val(char c, enum b64_variant variant)
{
    return b64_table[variant == B64_URL][(unsigned char)c];
}

static tes_err b64_decode(tes_buf *out, const char *text, size_t len, enum b64_variant variant)
{
    bool url = variant == B64_URL;
    uint32_t acc = 0;
    int bits = 0;
    size_t pads = 0, start = out->len, n = 0;
    /* room for every byte the text can hold, reserved once (then trimmed) */
    uint8_t *dst = tes_buf_extend(out, len / 4 * 3 + 3);
    if (dst == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory decoding base64");
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!url && is_space(c))
            continue;
        if (c == '=') {
            pads++;
            continue;
        }
        int v = b64val(c, variant);
        if (v < 0 || pads > 0) {
            out->len = start;
            return tes_err_set(TES_ERR_ENCODING, "invalid base64%s character at offset %zu",
                               url ? "url" : "", i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[n++] = (uint8_t)(acc >> bits);
        }
    }
    out->len = start + n;
    /* 6 leftover bits cannot come from a valid encoding; leftover bits must be zero */
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 || pads > 2) {
        out->len = start;
        return tes_err_set(TES_ERR_ENCODING, "base64%s text has an invalid length or padding",
                           url ? "url" : "");
    }
    return TES_OK;
}

tes_err tes_b64_decode(tes_buf *out, const char *text, size_t len)
{
    return b64_decode(out, text, len, B64_STD);
}

tes_err tes_b64url_decode(tes_buf *out, const char *text, size_t len)
{
    return b64_decode(out, text, len, B64_URL);
}

/* Percent (URL) coding, RFC 3986: one form component or URI query value. */

tes_err tes_url_decode(const char *in, size_t len, bool plus_space, char *out, size_t cap,
                       size_t *out_len)
{
    if ((in == NULL && len != 0) || out == NULL || cap == 0)
        return tes_err_set(TES_ERR_ARG, "tes_url_decode: NULL argument");
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3)
                return tes_err_set(TES_ERR_HTTP_REQUEST,
                                   "'%%' at offset %zu not followed by two hex digits", i);
            int h = tes_hex_digit(in[i + 1]), l = tes_hex_digit(in[i + 2]);
            if (h < 0 || l < 0)
                return tes_err_set(TES_ERR_HTTP_REQUEST,
                                   "'%%' at offset %zu not followed by two hex digits", i);
            c = (unsigned char)(h << 4 | l);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        } else if (c <= 0x20 || c >= 0x7f) {
            return tes_err_set(TES_ERR_HTTP_REQUEST,
                               "byte 0x%02x at offset %zu must be percent-encoded", c, i);
        }
        if (c < 0x20 || c == 0x7f)
            return tes_err_set(TES_ERR_HTTP_REQUEST, "control character (0x%02x) in a parameter",
                               c);
        if (o + 1 >= cap)
            return tes_err_set(TES_ERR_HTTP_REQUEST, "parameter longer than %zu bytes", cap - 1);
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return TES_OK;
}

void tes_url_encode(tes_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            tes_buf_append(out, &c, 1);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            tes_buf_append(out, enc, 3);
        }
    }
}
