/*
 * libFuzzer target: tes_mdoc_claims_from_json for the mDL doctype on the input as JSON text.
 *
 * base_dir is "/nonexistent", so a relative {"file": "..."} path cannot name anything real.
 * The library takes absolute paths as they are, so the input is copied and every way of
 * writing '/' in JSON ('/', "\/" and "\u002f"/"\u002F") is defused first: '/' becomes '_'
 * and the escape becomes "\u002e". Without that an input could read /dev/stdin (a hang),
 * /proc (nondeterminism) or any file of the machine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/mdoc.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tes_doctype *mdl;
    if (mdl == NULL) {
        mdl = tes_doctype_find(TES_DOCTYPE_MDL);
        if (mdl == NULL)
            abort();
    }

    char *json = malloc(size ? size : 1);
    if (json == NULL)
        return 0;
    memcpy(json, data, size);
    for (size_t i = 0; i < size; i++) {
        if (json[i] == '/')
            json[i] = '_';
        else if (json[i] == '\\' && i + 5 < size && json[i + 1] == 'u' &&
                 memcmp(json + i + 2, "002", 3) == 0 && (json[i + 5] == 'f' || json[i + 5] == 'F'))
            json[i + 5] = 'e';
    }

    tes_mdoc_claims c = {0};
    tes_err e = tes_mdoc_claims_from_json(mdl, json, size, "/nonexistent", &c);
    CHECK(e == TES_OK || tes_err_is_caller(e) || tes_err_is_malformed(e) || tes_err_is_env(e));
    if (e == TES_OK) {
        CHECK(c.n == 0 || c.items != NULL);
        for (size_t i = 0; i < c.n; i++) {
            CHECK(c.items[i].ns != NULL && c.items[i].name != NULL);
            /* every claim value is one well-formed CBOR item */
            tes_cbor_doc d;
            CHECK(tes_cbor_parse(tes_buf_bytes(&c.items[i].value), NULL, &d) == TES_OK);
            tes_cbor_doc_free(&d);
        }
    }
    tes_mdoc_claims_free(&c);
    free(json);
    return 0;
}
