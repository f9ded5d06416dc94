/* The OpenID4VP login's pieces (authz*.c; not installed). */
#ifndef TES_AUTHZ_INTERNAL_H
#define TES_AUTHZ_INTERNAL_H

#include "tessera/mdoc.h"
#include "tessera/oid4vp.h"
#include "tessera/wallet.h"

/* One credential as a DCQL candidate (authz_match.c). */
typedef struct authz_cand {
    int64_t cred_id;
    char *doctype;
    tes_mdoc_claims claims; /* its issuer-signed elements and values */
    tes_dcql_element *el;   /* claims, then the pseudonym when authorised */
    size_t n_el;
    tes_dcql_value *vals;
    char **strs;
} authz_cand;

typedef struct authz_cands {
    authz_cand *items;
    tes_dcql_candidate *cand; /* items[i] as the matcher takes it */
    size_t n;
} authz_cands;

/* The wallet's credentials that can be shown at now. Errors: the store's,
 * TES_ERR_NOMEM. */
tes_err authz_cands_load(tes_wallet *w, int64_t now, authz_cands *c);
void authz_cands_free(authz_cands *c);
void authz_cand_free(authz_cand *x);

#endif
