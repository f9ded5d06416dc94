/*
 * The standard test vectors the unit tests read: ISO/IEC 18013-5 Annex D and the IETF Token
 * Status List mdoc example, kept in the repository under tests/vectors/ (see its README for
 * where each byte came from). $TES_VECTORS names another copy; the default is relative to the
 * repository root, which is where ctest runs every test.
 *
 *     tes_buf b = {0};
 *     if (tes_test_vector("iso18013-5-annexD/device_response", &b) != TES_OK) ...
 *
 * Each vector file is lowercase hex text; the loader returns the decoded bytes in *out (the
 * caller frees it) and prints the path it could not read.
 */
#ifndef TES_TEST_VECTORS_H
#define TES_TEST_VECTORS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/core.h"

static inline const char *tes_test_vectors_dir(void)
{
    const char *v = getenv("TES_VECTORS");
    return v && *v ? v : "tests/vectors";
}

/* Loads <vectors>/<rel> (".hex" appended unless rel ends in it) as bytes into *out. */
static inline tes_err tes_test_vector(const char *rel, tes_buf *out)
{
    size_t n = strlen(rel);
    bool has_hex = n >= 4 && strcmp(rel + n - 4, ".hex") == 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", tes_test_vectors_dir(), rel, has_hex ? "" : ".hex");
    tes_buf text = {0};
    tes_err err = tes_file_read(path, 1u << 22, &text);
    if (err == TES_OK)
        err = tes_hex_decode(out, (const char *)text.ptr, text.len);
    tes_buf_free(&text);
    if (err != TES_OK)
        fprintf(stderr, "    cannot load vector %s: %s\n", path, tes_err_message());
    return err;
}

/* The same, for a file of the ISO 18013-5 Annex D set. */
static inline tes_err tes_test_annexd(const char *name, tes_buf *out)
{
    char rel[256];
    snprintf(rel, sizeof rel, "iso18013-5-annexD/%s", name);
    return tes_test_vector(rel, out);
}

#endif
