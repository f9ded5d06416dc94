/* Shared between the files of src/proximity/; not public. */
#ifndef TES_PROXIMITY_INTERNAL_H
#define TES_PROXIMITY_INTERNAL_H

#include "tessera/proximity.h"

/* Used when tes_holder_params / tes_reader_params give no timeout (<= 0). */
#define PROX_DEFAULT_TIMEOUT_MS 30000

/* NN of an element named "age_over_NN" (two digits), else -1. */
int prox_age_over_nn(tes_bytes name);

/* The (namespace, elementIdentifier) of every IssuerSignedItem of a stored
 * credential (answer.c). */
typedef struct prox_cred_elem {
    tes_bytes ns, name; /* point into the credential bytes */
    int age;            /* NN of age_over_NN, else -1 */
    bool value;         /* elementValue is true (for age_over_NN) */
} prox_cred_elem;

typedef struct prox_cred_elems {
    prox_cred_elem *e;
    size_t n;
} prox_cred_elems;

/* Reads them from a stored credential ({"docType", "issuerSigned"} or a
 * bare IssuerSigned); free out->e. Errors: TES_ERR_MDOC_STRUCTURE,
 * TES_ERR_MDOC_ITEM, TES_ERR_NOMEM and the CBOR decoder's. */
TES_MUST_CHECK tes_err prox_cred_elements_read(tes_bytes mdoc, prox_cred_elems *out);
/* The index of the element that answers a request for (ns, name): the
 * element itself, or for age_over_NN the nearest match (the smallest true
 * age_over above NN, else the largest false one below it; 18013-5 §7.2.5),
 * as tes_mdoc_present chooses it. -1: the credential does not answer it. */
long prox_cred_answer(const prox_cred_elems *c, tes_bytes ns, tes_bytes name);

/* "ns/elem[*],..." of elems into b, NUL-terminated outside len ('*': intent
 * to retain); b empty when out of memory. */
void prox_elems_list(tes_buf *b, const tes_mdoc_req_elem *el, size_t n);

#endif
