/* QR codes (ISO/IEC 18004) for what a person scans: the one encoder of the
 * library and the CLI (libqrencode, level M, 8-bit mode), and its SVG
 * drawing for web pages. */
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/core.h"

tes_err tes_qr_encode(const char *text, tes_qr *out)
{
    if (text == NULL || out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_qr_encode: NULL argument");
    memset(out, 0, sizeof *out);
    size_t n = strlen(text);
    if (n == 0 || n > TES_QR_MAX_TEXT)
        return tes_err_set(TES_ERR_ARG, "a QR code holds 1..%d characters, not %zu",
                           TES_QR_MAX_TEXT, n);
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (q == NULL)
        return tes_err_set(TES_ERR_NOMEM, "cannot encode %zu characters as a QR code", n);
    size_t cells = (size_t)q->width * (size_t)q->width;
    out->modules = malloc(cells);
    if (out->modules == NULL) {
        QRcode_free(q);
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < cells; i++)
        out->modules[i] = q->data[i] & 1;
    out->width = q->width;
    QRcode_free(q);
    return TES_OK;
}

void tes_qr_free(tes_qr *q)
{
    if (q == NULL)
        return;
    free(q->modules);
    memset(q, 0, sizeof *q);
}

bool tes_qr_dark(const tes_qr *q, int x, int y)
{
    x -= TES_QR_QUIET;
    y -= TES_QR_QUIET;
    if (x < 0 || y < 0 || x >= q->width || y >= q->width)
        return false;
    return q->modules[(size_t)y * (size_t)q->width + (size_t)x] != 0;
}

/* One path of unit squares, a run of dark modules of a row at a time. */
static void svg_row(tes_buf *out, const tes_qr *q, int y)
{
    int side = q->width + 2 * TES_QR_QUIET;
    for (int x = 0; x < side;) {
        if (!tes_qr_dark(q, x, y)) {
            x++;
            continue;
        }
        int run = 1;
        while (x + run < side && tes_qr_dark(q, x + run, y))
            run++;
        char seg[48];
        int n = snprintf(seg, sizeof seg, "M%d %dh%dv1h-%dz", x, y, run, run);
        tes_buf_append(out, seg, (size_t)n);
        x += run;
    }
}

tes_err tes_qr_svg(const char *text, tes_buf *out)
{
    tes_qr q;
    tes_err e = tes_qr_encode(text, &q);
    if (e != TES_OK)
        return e;
    int side = q.width + 2 * TES_QR_QUIET;
    char head[256];
    int n = snprintf(head, sizeof head,
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                     "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                     "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                     side, side, side, side);
    size_t start = out->len;
    tes_buf_append(out, head, (size_t)n);
    for (int y = 0; y < side; y++)
        svg_row(out, &q, y);
    tes_buf_append(out, "\"/></svg>", 9);
    tes_qr_free(&q);
    if (out->failed) {
        out->len = start;
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    return TES_OK;
}
