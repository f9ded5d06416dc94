/* Shared between the files of src/proximity/; not public. */
#ifndef TES_PROXIMITY_INTERNAL_H
#define TES_PROXIMITY_INTERNAL_H

#include "tessera/proximity.h"

/* Used when tes_holder_params / tes_reader_params give no timeout (<= 0). */
#define PROX_DEFAULT_TIMEOUT_MS 30000

/* NN of an element named "age_over_NN" (two digits), else -1. */
int prox_age_over_nn(tes_bytes name);

#endif
