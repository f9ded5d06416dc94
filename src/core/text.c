/* Hex, base64 and base64url. */
#include <string.h>

#include "tessera/core.h"

static const char hexdig[] = "0123456789abcdef";

void tes_hex_encode(tes_buf *out, tes_bytes in)
{
    uint8_t *p = tes_buf_extend(out, in.len * 2);
    if (p == NULL)
        return;
    for (size_t i = 0; i < in.len; i++) {
        p[2 * i] = (uint8_t)hexdig[in.ptr[i] >> 4];
        p[2 * i + 1] = (uint8_t)hexdig[in.ptr[i] & 15];
    }
}

static int hexval(char c)
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
        int hi = hexval(text[i]), lo = hexval(text[i + 1]);
        if (hi < 0 || lo < 0) {
            out->len -= len / 2;
            return tes_err_set(TES_ERR_ENCODING, "invalid hex digit at offset %zu", i);
        }
        p[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return TES_OK;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64_encode(tes_buf *out, tes_bytes in, const char *alpha, bool pad)
{
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
    size_t n = pad ? 4 : rest + 1;
    tes_buf_append(out, q, n);
}

void tes_b64_encode(tes_buf *out, tes_bytes in)
{
    b64_encode(out, in, b64std, true);
}

void tes_b64url_encode(tes_buf *out, tes_bytes in)
{
    b64_encode(out, in, b64url, false);
}

static int b64val(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static tes_err b64_decode(tes_buf *out, const char *text, size_t len, bool url)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t pads = 0, start = out->len;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!url && is_space(c))
            continue;
        if (c == '=') {
            pads++;
            continue;
        }
        int v = b64val(c, url);
        if (v < 0 || pads > 0) {
            out->len = start;
            return tes_err_set(TES_ERR_ENCODING, "invalid base64%s character at offset %zu",
                               url ? "url" : "", i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            uint8_t byte = (uint8_t)(acc >> bits);
            tes_buf_append(out, &byte, 1);
        }
    }
    /* 6 leftover bits cannot come from a valid encoding; leftover bits must be zero */
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 || pads > 2) {
        out->len = start;
        return tes_err_set(TES_ERR_ENCODING, "base64%s text has an invalid length or padding",
                           url ? "url" : "");
    }
    if (out->failed)
        return tes_err_set(TES_ERR_NOMEM, "out of memory decoding base64");
    return TES_OK;
}

tes_err tes_b64_decode(tes_buf *out, const char *text, size_t len)
{
    return b64_decode(out, text, len, false);
}

tes_err tes_b64url_decode(tes_buf *out, const char *text, size_t len)
{
    return b64_decode(out, text, len, true);
}
