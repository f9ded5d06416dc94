/*
 * jose_internal.h — helpers shared by jose.c and jwe.c (not exported; jwx_,
 * not jose_, so nothing clashes with libjose in a program that links both).
 */
#ifndef TES_JOSE_INTERNAL_H
#define TES_JOSE_INTERNAL_H

#include "tessera/core.h"

/* Appends the finished text to out: TES_OK, or TES_ERR_NOMEM with out as it
 * was (also when text itself ran out of memory while being built). */
TES_MUST_CHECK tes_err jwx_append(tes_buf *out, const tes_buf *text);

#endif
