/* bench/login.c — row 8: the relying party's work per OpenID4VP login (see login.h). */
#include "login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "floor.h"
#include "tessera/jose.h"
#include "tessera/oid4vp.h"
#include "tessera/rp.h"
#include "tessera/status.h"

#define LOGIN_CLIENT_ID "x509_san_dns:bench.example"
#define LOGIN_STATUS_URI "https://bench.example/status/1"

typedef struct login_one {
    tes_key *enc;      /* the transaction's response-encryption key (verifier side) */
    char state[32];
    tes_buf transcript; /* OpenID4VP SessionTranscript of this transaction */
    tes_buf jwe;        /* the body's "response" */
    floor_login *fl;
} login_one;

typedef struct login_ctx {
    const bench_world *w;
    login_one *l;
    bench_world fw; /* the world as floor_prepare sees it: OpenID4VP responses */
    floor_pool *fp;
    tes_status_list list;
} login_ctx;

#define TRY(what, expr)                                                                            \
    do {                                                                                           \
        tes_err e_ = (expr);                                                                       \
        if (e_ != TES_OK) {                                                                        \
            fprintf(stderr, "bench login: %s: %s\n", what, tes_err_message_for(e_));                   \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

/* The SessionTranscript of transaction i: its nonce, its key's thumbprint, its response_uri. */
static bool transcript_for(size_t i, const tes_key *enc, tes_buf *out)
{
    char tp[TES_JWK_THUMBPRINT_LEN + 1], nonce[64], uri[96];
    tes_buf raw = {0};
    TRY("thumbprint", tes_jwk_thumbprint(enc, tp));
    TRY("thumbprint decode", tes_b64url_decode(&raw, tp, strlen(tp)));
    snprintf(nonce, sizeof nonce, "bench-nonce-%zu-QmVuY2ggbm9uY2U", i);
    snprintf(uri, sizeof uri, "https://bench.example/oid4vp/response/%zu", i);
    tes_err e = raw.len == 32 ? tes_oid4vp_session_transcript(LOGIN_CLIENT_ID, nonce, raw.ptr,
                                                              uri, out)
                              : TES_ERR_CRYPTO;
    tes_buf_free(&raw);
    TRY("transcript", e);
    return true;
}

/* The holder's side, done once at setup: credential with a status reference,
 * DeviceResponse over the transcript, payload, JWE. */
static bool wallet_answer(const bench_world *w, size_t i, bench_holder *fh, login_one *l)
{
    const bench_holder *h = &w->h[i];
    const bench_authority *a = &w->auth[h->issuer];
    tes_signer ds = tes_signer_from_key(a->ds_key), dev = tes_signer_from_key(h->device);
    tes_bytes chain = tes_cert_der(a->ds);
    tes_mdoc_issue_params ip = {.doctype = TES_DOCTYPE_MDL, .claims = &w->claims,
                                .device_key = h->device, .issuer = &ds, .ds_chain = &chain,
                                .ds_chain_len = 1, .signed_at = w->now - 60,
                                .valid_from = w->now - 60, .valid_until = w->now + 86400,
                                .status_uri = LOGIN_STATUS_URI, .status_idx = (uint32_t)i};
    TRY("issue", tes_mdoc_issue(&ip, &fh->mdoc));
    TRY("encryption key", tes_key_generate(TES_CURVE_P256, &l->enc));
    if (!transcript_for(i, l->enc, &l->transcript))
        return false;
    tes_mdoc_present_params pp = {.mdoc = tes_buf_bytes(&fh->mdoc), .elems = w->req,
                                  .n_elems = w->n_req,
                                  .transcript = tes_buf_bytes(&l->transcript), .device = &dev};
    TRY("present", tes_mdoc_present(&pp, &fh->resp, NULL));
    tes_buf_append(&fh->transcript, l->transcript.ptr, l->transcript.len);
    fh->device = h->device;
    fh->issuer = h->issuer;
    snprintf(l->state, sizeof l->state, "state-%zu", i);
    tes_buf b64 = {0};
    tes_b64url_encode(&b64, tes_buf_bytes(&fh->resp));
    json_t *p = json_pack("{s:{s:[s%]},s:s}", "vp_token", "pid", (const char *)b64.ptr, b64.len,
                          "state", l->state);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    tes_err e = text ? tes_jwe_encrypt(NULL, TES_BYTES(text, strlen(text)), l->enc, NULL,
                                       &l->jwe)
                     : TES_ERR_NOMEM;
    free(text);
    json_decref(p);
    tes_buf_free(&b64);
    TRY("encrypt", e);
    l->fl = floor_login_prepare(l->enc, tes_buf_bytes(&l->jwe));
    return true;
}

/* What the verifier does with transaction i's body. */
static tes_err verify_login(login_ctx *c, size_t i)
{
    login_one *l = &c->l[i];
    tes_buf pt = {.secret = true}, resp = {0};
    tes_err e = tes_jwe_decrypt((const char *)l->jwe.ptr, l->jwe.len, 0, tes_jwe_key_agree,
                                l->enc, NULL, &pt);
    if (e != TES_OK)
        return e;
    char *state = NULL; /* the service's own parser of the payload (tessera/rp.h) */
    e = tes_rp_payload_parse((const char *)pt.ptr, pt.len, "pid", &state, &resp);
    if (e == TES_OK && (state == NULL || strcmp(state, l->state) != 0))
        e = TES_ERR_RP_STATE;
    free(state);
    tes_buf_free(&pt);
    tes_mdoc_result r = {0};
    if (e == TES_OK) {
        tes_mdoc_verify_opts o = {.trust = c->w->trust,
                                  .transcript = tes_buf_bytes(&l->transcript),
                                  .at = c->w->now};
        e = tes_mdoc_verify(tes_buf_bytes(&resp), &o, &r);
    }
    if (e == TES_OK && (r.n_docs != 1 || !r.docs[0].has_status ||
                        tes_status_list_get(&c->list, r.docs[0].status_idx) != TES_STATUS_VALID))
        e = TES_ERR_STATUS; /* the bench marks no credential revoked */
    tes_mdoc_result_free(&r);
    tes_buf_free(&resp);
    return e;
}

static void op_login(void *ctx, size_t i)
{
    tes_err e = verify_login(ctx, i);
    if (e != TES_OK)
        bench_die("login verification", e);
}

static void op_floor(void *ctx, size_t i)
{
    login_ctx *c = ctx;
    if (!floor_login_run(c->l[i].fl))
        bench_die("floor_login", TES_ERR_CRYPTO);
    floor_sig(c->fp, i);
}

static void login_free(login_ctx *c)
{
    for (size_t i = 0; c->l && i < c->w->n; i++) {
        tes_key_free(c->l[i].enc);
        tes_buf_free(&c->l[i].transcript);
        tes_buf_free(&c->l[i].jwe);
        floor_login_free(c->l[i].fl);
        tes_buf_free(&c->fw.h[i].mdoc);
        tes_buf_free(&c->fw.h[i].resp);
        tes_buf_free(&c->fw.h[i].transcript);
    }
    if (c->fp)
        floor_free(c->fp);
    free(c->l);
    free(c->fw.h);
    tes_status_list_free(&c->list);
}

bool login_bench(const bench_world *w, login_pair_fn pair, login_figures *out)
{
    login_ctx c = {.w = w, .fw = *w};
    c.l = calloc(w->n, sizeof(*c.l));
    c.fw.h = calloc(w->n, sizeof(*c.fw.h));
    bool ok = c.l && c.fw.h && tes_status_list_new(w->n, &c.list) == TES_OK;
    for (size_t i = 0; ok && i < w->n; i++)
        ok = wallet_answer(w, i, &c.fw.h[i], &c.l[i]);
    for (size_t i = 0; ok && i < w->n; i++) {
        tes_err e = verify_login(&c, i);
        if (e != TES_OK) {
            fprintf(stderr, "bench login: setup check of login %zu: %s\n", i, tes_err_message_for(e));
            ok = false;
        }
    }
    if (ok) {
        c.fp = floor_prepare(&c.fw);
        out->body_len = c.l[0].jwe.len;
        pair(op_login, &c, op_floor, &c, w->n, &out->ours, &out->floor);
    }
    login_free(&c);
    return ok;
}
