/* QR codes for the device engagement: drawn in the terminal and written as
 * PNG (the library's encoder, tes_qr_encode, and libpng), read back from a PNG with zbar. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zbar.h>

#include "cli.h"

#define QUIET TES_QR_QUIET /* quiet zone, modules (ISO/IEC 18004) */
#define PNG_SCALE 8 /* pixels per module */
#define PNG_MAX_SIDE 8192

static bool dark(const tes_qr *q, int x, int y)
{
    return tes_qr_dark(q, x, y);
}

tes_err cli_qr_print(FILE *f, const char *text, cli_qr_colours colours)
{
    bool ansi = colours == CLI_QR_ANSI;
    tes_qr qr;
    tes_err qe = tes_qr_encode(text, &qr);
    if (qe != TES_OK)
        return qe;
    tes_qr *q = &qr;
    int side = q->width + 2 * QUIET;
    /* Each character cell holds two modules, upper and lower: the foreground
     * draws light modules (white), the background shows dark ones. */
    for (int y = 0; y < side; y += 2) {
        if (ansi)
            fputs("\033[40;97m", f); /* black background, bright white foreground */
        for (int x = 0; x < side; x++) {
            bool top_light = !dark(q, x, y);
            bool bottom_light = y + 1 < side ? !dark(q, x, y + 1) : true;
            const char *c = top_light && bottom_light ? "\u2588"
                            : top_light               ? "\u2580"
                            : bottom_light            ? "\u2584"
                                                      : " ";
            fputs(c, f);
        }
        if (ansi)
            fputs("\033[0m", f);
        fputc('\n', f);
    }
    tes_qr_free(q);
    return TES_OK;
}

/* ---- PNG ---- */

static void png_to_buf(png_structp png, png_bytep data, size_t len)
{
    tes_buf *b = png_get_io_ptr(png);
    tes_buf_append(b, data, len);
}

static void png_flush_nop(png_structp png)
{
    (void)png;
}

tes_err cli_qr_write_png(const char *path, const char *text)
{
    tes_qr qr;
    tes_err qe = tes_qr_encode(text, &qr);
    if (qe != TES_OK)
        return qe;
    tes_qr *q = &qr;
    int side = (q->width + 2 * QUIET) * PNG_SCALE;
    tes_buf out = {0};
    png_bytep row = malloc((size_t)side);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    tes_err e = TES_OK;
    if (row == NULL || png == NULL || info == NULL) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory writing the QR code PNG");
        goto out;
    }
    if (setjmp(png_jmpbuf(png))) {
        e = tes_err_set(TES_ERR_IO, "libpng failed writing the QR code");
        goto out;
    }
    png_set_write_fn(png, &out, png_to_buf, png_flush_nop);
    png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < side; y++) {
        for (int x = 0; x < side; x++)
            row[x] = dark(q, x / PNG_SCALE, y / PNG_SCALE) ? 0 : 255;
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    if (out.failed)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory writing the QR code PNG");
    else
        e = cli_write_file(path, tes_buf_bytes(&out), CLI_FILE_PRIVATE);
out:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(row);
    tes_buf_free(&out);
    tes_qr_free(q);
    return e;
}

tes_err cli_qr_read_png(const char *path, char **out)
{
    *out = NULL;
    tes_buf raw = {0};
    tes_err e = cli_read_file(path, &raw);
    if (e != TES_OK)
        return e;
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    uint8_t *pixels = NULL;
    if (!png_image_begin_read_from_memory(&img, raw.ptr, raw.len)) {
        e = tes_err_set(TES_ERR_ENCODING, "'%s' is not a PNG image: %s", path, img.message);
        goto out;
    }
    if (img.width == 0 || img.height == 0 || img.width > PNG_MAX_SIDE ||
        img.height > PNG_MAX_SIDE) {
        png_image_free(&img);
        e = tes_err_set(TES_ERR_ENCODING, "'%s': image of %ux%u pixels (at most %d a side)", path,
                        img.width, img.height, PNG_MAX_SIDE);
        goto out;
    }
    img.format = PNG_FORMAT_GRAY;
    pixels = malloc((size_t)img.width * img.height);
    if (pixels == NULL) {
        png_image_free(&img);
        e = tes_err_set(TES_ERR_NOMEM, "out of memory decoding '%s'", path);
        goto out;
    }
    if (!png_image_finish_read(&img, NULL, pixels, 0, NULL)) {
        e = tes_err_set(TES_ERR_ENCODING, "'%s': cannot decode the PNG: %s", path, img.message);
        goto out;
    }
    zbar_image_scanner_t *scanner = zbar_image_scanner_create();
    zbar_image_t *zi = zbar_image_create();
    zbar_image_scanner_set_config(scanner, 0, ZBAR_CFG_ENABLE, 0);
    zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
    zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(zi, img.width, img.height);
    zbar_image_set_data(zi, pixels, (unsigned long)img.width * img.height, NULL);
    int n = zbar_scan_image(scanner, zi);
    const zbar_symbol_t *sym = n > 0 ? zbar_image_first_symbol(zi) : NULL;
    for (; sym != NULL; sym = zbar_symbol_next(sym))
        if (zbar_symbol_get_type(sym) == ZBAR_QRCODE)
            break;
    if (sym == NULL) {
        e = tes_err_set(TES_ERR_ENCODING, "'%s': no QR code found in the image", path);
    } else {
        const char *d = zbar_symbol_get_data(sym);
        unsigned len = zbar_symbol_get_data_length(sym);
        *out = d ? strndup(d, len) : NULL;
        e = *out ? TES_OK : tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    zbar_image_destroy(zi);
    zbar_image_scanner_destroy(scanner);
out:
    free(pixels);
    tes_buf_free(&raw);
    return e;
}
