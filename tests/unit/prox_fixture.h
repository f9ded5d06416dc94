/*
 * Certificates for the tests of the holder's presentation (test_proximity,
 * test_wallet_present): roots (an IACA, the authorities that license
 * readers), a document signer under an IACA, a reader certificate with its
 * scope; with tessera/wallet.h included first, a wallet's check-in over the
 * in-memory transport with the reader in the calling thread. The includer
 * defines T0 and DAY.
 */
#ifndef TES_TEST_PROX_FIXTURE_H
#define TES_TEST_PROX_FIXTURE_H

#include "tessera/crypto.h"
#include "tessera/trust.h"

/* A self-signed root, valid from T0 - 10 days for ten years. */
static inline tes_cert *fx_root(const char *cn, tes_key *k)
{
    tes_cert_template t = {.common_name = cn,
                           .country = "UT",
                           .not_before = T0 - 10 * DAY,
                           .not_after = T0 + 3650 * DAY,
                           .is_ca = true,
                           .path_len = 0,
                           .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
                           .issuer_alt_uri = "https://ut.example"};
    tes_cert *c = NULL;
    return tes_cert_create(&t, k, NULL, k, &c) == TES_OK ? c : NULL;
}

/* "Utopia DS" under iaca. */
static inline tes_cert *fx_ds(tes_key *k, tes_cert *iaca, tes_key *iaca_key)
{
    tes_cert_template dt = {.common_name = "Utopia DS",
                            .country = "UT",
                            .not_before = T0 - 10 * DAY,
                            .not_after = T0 + 1000 * DAY,
                            .path_len = -1,
                            .key_usage = TES_KU_DIGITAL_SIGNATURE,
                            .eku_oid = TES_OID_EKU_MDL_DS,
                            .issuer_alt_uri = "https://ut.example",
                            .crl_uri = "https://ut.example/crl"};
    tes_cert *c = NULL;
    return tes_cert_create(&dt, k, iaca, iaca_key, &c) == TES_OK ? c : NULL;
}

/* A reader certificate under root, valid [nb, na], with the scope
 * "hotel registration" over scope[0..n) (n 0: no scope extension). */
static inline tes_cert *fx_reader(const char *cn, tes_key *k, tes_cert *root, tes_key *root_key,
                                  int64_t nb, int64_t na, const char *const *scope, size_t n)
{
    tes_buf ext = {0};
    if (n > 0 && tes_reader_scope_encode("hotel registration", scope, n, &ext) != TES_OK)
        return NULL;
    tes_cert_template t = {.common_name = cn,
                           .country = "UT",
                           .not_before = nb,
                           .not_after = na,
                           .path_len = -1,
                           .key_usage = TES_KU_DIGITAL_SIGNATURE,
                           .eku_oid = TES_OID_EKU_MDL_READER,
                           .extra_oid = n > 0 ? TES_OID_READER_SCOPE : NULL,
                           .extra_value = tes_buf_bytes(&ext)};
    tes_cert *c = NULL;
    tes_err e = tes_cert_create(&t, k, root, root_key, &c);
    tes_buf_free(&ext);
    return e == TES_OK ? c : NULL;
}

/* ---- a wallet's proximity check-in (includers of tessera/wallet.h) ---- */
#ifdef TESSERA_WALLET_H
#include <pthread.h>

/* The wallet's side of one check-in, run in its own thread. */
typedef struct fx_serve_run {
    tes_wallet *w;
    tes_wallet_serve_opts o;
    tes_holder_result res;
    tes_err err;
} fx_serve_run;

static inline void *fx_serve_thread(void *arg)
{
    fx_serve_run *r = arg;
    r->err = tes_wallet_serve(r->w, &r->o, &r->res);
    return NULL;
}

/* What the reader asks for and who it is. */
typedef struct fx_reader_ask {
    const tes_mdoc_req_elem *elems;
    size_t n_elems;
    tes_key *key;           /* the reader certificate's key */
    tes_cert *cert;         /* its certificate (chain of one) */
    tes_trust_store *trust; /* the IACA roots it accepts */
    int64_t now;
} fx_reader_ask;

/* One check-in over the in-memory transport, the engagement passed as a QR
 * URI: wallet w serves in a thread with consent(consent_ctx) at ask->now,
 * the reader runs here. false when the channel could not be set up; else
 * run->err is the wallet's result, *reader_err the reader's. */
static inline bool fx_wallet_checkin(tes_wallet *w, tes_consent_fn consent, void *consent_ctx,
                                     const fx_reader_ask *ask, fx_serve_run *run,
                                     tes_err *reader_err, tes_mdoc_result *result,
                                     tes_buf *response)
{
    tes_transport *ht = NULL, *rt = NULL;
    tes_key *edevice = NULL;
    tes_engagement eng = {0}, reng = {0};
    tes_buf uri = {0};
    bool ok = tes_transport_memory_pair(&ht, &rt) == TES_OK &&
              tes_key_generate(TES_CURVE_P256, &edevice) == TES_OK &&
              tes_engagement_build(edevice, &eng) == TES_OK &&
              tes_engagement_to_uri(&eng, &uri) == TES_OK &&
              tes_engagement_from_uri((const char *)uri.ptr, uri.len, &reng) == TES_OK;
    *run = (fx_serve_run){.w = w,
                          .o = {.t = ht,
                                .engagement = &eng,
                                .edevice = edevice,
                                .consent = consent,
                                .consent_ctx = consent_ctx,
                                .now = ask->now,
                                .timeout_ms = 5000}};
    pthread_t th;
    ok = ok && pthread_create(&th, NULL, fx_serve_thread, run) == 0;
    if (ok) {
        tes_signer rs = tes_signer_from_key(ask->key);
        tes_bytes chain = tes_cert_der(ask->cert);
        tes_reader_params rp = {.t = rt,
                                .engagement = &reng,
                                .doctype = TES_DOCTYPE_PID,
                                .elems = ask->elems,
                                .n_elems = ask->n_elems,
                                .reader = &rs,
                                .reader_chain = &chain,
                                .reader_chain_len = 1,
                                .trust = ask->trust,
                                .now = ask->now,
                                .timeout_ms = 5000};
        *reader_err = tes_reader_checkin(&rp, response, result);
        pthread_join(th, NULL);
    }
    tes_transport_close(ht);
    tes_transport_close(rt);
    tes_engagement_free(&eng);
    tes_engagement_free(&reng);
    tes_buf_free(&uri);
    tes_key_free(edevice);
    return ok;
}
#endif

#endif
