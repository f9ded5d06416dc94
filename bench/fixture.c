/* bench/fixture.c — see fixture.h. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define DAY 86400

/* The ten disclosed elements of the benchmark response (15 kB portrait among them). */
static const tes_mdoc_req_elem elems10[BENCH_N_ELEMS] = {
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("family_name"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("given_name"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("birth_date"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("issue_date"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("expiry_date"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("issuing_country"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("issuing_authority"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("document_number"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("portrait"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("age_over_18"), false},
};
static const tes_mdoc_req_elem elems2[2] = {
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("family_name"), false},
    {TES_BYTES_STR(TES_NS_MDL), TES_BYTES_STR("age_over_18"), false},
};

void bench_die(const char *what, tes_err e)
{
    fprintf(stderr, "bench: %s failed: %s: %s\n", what, tes_err_name(e), tes_err_message());
    exit(1);
}

#define TRY(what, call)                                                                            \
    do {                                                                                           \
        tes_err e_ = (call);                                                                       \
        if (e_ != TES_OK)                                                                          \
            bench_die(what, e_);                                                                   \
    } while (0)

bool bench_write_file(const char *path, const void *data, size_t len)
{
    tes_err e = tes_file_write(path, TES_BYTES(data, len), 0644);
    if (e != TES_OK)
        fprintf(stderr, "bench: cannot write %s: %s\n", path, tes_err_message());
    return e == TES_OK;
}

bool bench_read_file(const char *path, tes_buf *out)
{
    tes_err e = tes_file_read(path, 64u << 20, out);
    if (e != TES_OK)
        fprintf(stderr, "bench: cannot read %s: %s\n", path, tes_err_message());
    return e == TES_OK;
}

static void authority_make(bench_authority *a, size_t idx, int64_t now)
{
    memset(a, 0, sizeof(*a));
    TRY("IACA key", tes_key_generate(TES_CURVE_P256, &a->iaca_key));
    TRY("DS key", tes_key_generate(TES_CURVE_P256, &a->ds_key));
    char cn[64], ds_cn[64];
    /* Every bench issuer is of Utopia: the claims say issuing_country "UT", and a verifier
     * checks that it is the document signer's country (ISO 18013-5 §7.2.1). The issuers
     * differ in their keys and names, which is what the cache sees. */
    snprintf(cn, sizeof(cn), "Bench IACA %zu", idx);
    snprintf(ds_cn, sizeof(ds_cn), "Bench DS %zu", idx);
    tes_cert_template rt = {.common_name = cn, .country = "UT",
                            .not_before = now - DAY, .not_after = now + 3650 * DAY,
                            .is_ca = true, .path_len = 0,
                            .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
                            .issuer_alt_uri = "https://iaca.bench.example"};
    TRY("IACA certificate", tes_cert_create(&rt, a->iaca_key, NULL, a->iaca_key, &a->iaca));
    tes_cert_template dt = {.common_name = ds_cn, .country = "UT",
                            .not_before = now - DAY, .not_after = now + 1000 * DAY,
                            .is_ca = false, .path_len = -1,
                            .key_usage = TES_KU_DIGITAL_SIGNATURE, .eku_oid = TES_OID_EKU_MDL_DS,
                            .issuer_alt_uri = "https://iaca.bench.example",
                            .crl_uri = "https://iaca.bench.example/crl"};
    TRY("DS certificate", tes_cert_create(&dt, a->ds_key, a->iaca, a->iaca_key, &a->ds));
}

static void authority_free(bench_authority *a)
{
    tes_key_free(a->iaca_key);
    tes_key_free(a->ds_key);
    tes_cert_free(a->iaca);
    tes_cert_free(a->ds);
}

/* Deterministic filler that looks like a JPEG (SOI/APP0 header, then noise). */
static void portrait_fill(uint8_t *p, size_t n)
{
    static const uint8_t hdr[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = i < sizeof(hdr) ? hdr[i] : (uint8_t)x;
    }
    if (n >= 2) {
        p[n - 2] = 0xff;
        p[n - 1] = 0xd9; /* EOI */
    }
}

static void claims_make(bench_world *w, size_t portrait_len, bool few)
{
    uint8_t *portrait = malloc(portrait_len ? portrait_len : 1);
    if (!portrait)
        bench_die("portrait", TES_ERR_NOMEM);
    portrait_fill(portrait, portrait_len);
    tes_buf b64 = {0}, json = {0};
    tes_b64url_encode(&b64, TES_BYTES(portrait, portrait_len));
    free(portrait);
    static const char head[] =
        "{\"org.iso.18013.5.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
        " \"birth_date\": \"1964-08-12\", \"issue_date\": \"2024-01-01\","
        " \"expiry_date\": \"2034-01-01\", \"issuing_country\": \"UT\","
        " \"issuing_authority\": \"Utopia Road Authority\", \"document_number\": \"T22000129\","
        " \"driving_privileges\": [{\"vehicle_category_code\": \"B\", \"issue_date\": \"2010-05-01\"}],"
        " \"un_distinguishing_sign\": \"UTO\", \"age_over_18\": true, \"portrait\": \"";
    tes_buf_append(&json, head, sizeof(head) - 1);
    tes_buf_append(&json, b64.ptr, b64.len);
    tes_buf_append(&json, "\"}}", 3);
    tes_buf_free(&b64);
    if (json.failed)
        bench_die("claims JSON", TES_ERR_NOMEM);
    TRY("claims", tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_MDL), (const char *)json.ptr,
                                            json.len, NULL, &w->all_claims));
    tes_buf_free(&json);

    /* Issue exactly the disclosed elements (so the response holds every issued item). */
    w->req = few ? elems2 : elems10;
    w->n_req = few ? 2 : BENCH_N_ELEMS;
    w->claims.items = calloc(w->all_claims.n, sizeof(*w->claims.items));
    if (!w->claims.items)
        bench_die("claims", TES_ERR_NOMEM);
    for (size_t i = 0; i < w->all_claims.n; i++) {
        const tes_mdoc_claim *c = &w->all_claims.items[i];
        for (size_t j = 0; j < w->n_req; j++)
            if (tes_bytes_eq(w->req[j].name, TES_BYTES(c->name, strlen(c->name))))
                w->claims.items[w->claims.n++] = *c;
    }
    if (w->claims.n != w->n_req) {
        fprintf(stderr, "bench: claims subset has %zu items, want %zu\n", w->claims.n, w->n_req);
        exit(1);
    }
}

tes_err bench_issue(const bench_world *w, const bench_authority *a, const tes_key *device,
                    tes_buf *out)
{
    tes_signer s = tes_signer_from_key(a->ds_key);
    tes_bytes chain = tes_cert_der(a->ds);
    tes_mdoc_issue_params p = {.doctype = TES_DOCTYPE_MDL, .claims = &w->claims,
                               .device_key = device, .issuer = &s, .ds_chain = &chain,
                               .ds_chain_len = 1, .signed_at = w->now - 60,
                               .valid_from = w->now - 60, .valid_until = w->now + 365 * DAY,
                               .decoys = 0};
    return tes_mdoc_issue(&p, out);
}

/* SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, null] with a
 * realistic engagement (version, EDeviceKey) and the session's reader key. */
static void transcript_make(const bench_holder *h, tes_buf *out)
{
    tes_buf ck_dev = {0}, ck_rdr = {0}, eng = {0};
    tes_cbor_enc e1 = {.out = &ck_dev}, e2 = {.out = &ck_rdr}, e3 = {.out = &eng};
    tes_cose_key_write(&e1, h->device);
    tes_cose_key_write(&e2, h->ereader);
    TRY("COSE_Key", tes_cbor_enc_finish(&e1));
    TRY("COSE_Key", tes_cbor_enc_finish(&e2));
    /* DeviceEngagement {0: "1.0", 1: [1, 24(<<EDeviceKey>>)]} */
    tes_cbor_enc_map(&e3, 2);
    tes_cbor_enc_uint(&e3, 0);
    tes_cbor_enc_cstr(&e3, "1.0");
    tes_cbor_enc_uint(&e3, 1);
    tes_cbor_enc_array(&e3, 2);
    tes_cbor_enc_uint(&e3, 1);
    tes_cbor_enc_tag(&e3, 24);
    tes_cbor_enc_bytes(&e3, ck_dev.ptr, ck_dev.len);
    TRY("engagement", tes_cbor_enc_finish(&e3));
    tes_cbor_enc t = {.out = out};
    tes_cbor_enc_array(&t, 3);
    tes_cbor_enc_tag(&t, 24);
    tes_cbor_enc_bytes(&t, eng.ptr, eng.len);
    tes_cbor_enc_tag(&t, 24);
    tes_cbor_enc_bytes(&t, ck_rdr.ptr, ck_rdr.len);
    tes_cbor_enc_null(&t);
    TRY("transcript", tes_cbor_enc_finish(&t));
    tes_buf_free(&ck_dev);
    tes_buf_free(&ck_rdr);
    tes_buf_free(&eng);
}

bool bench_world_make(bench_world *w, const bench_world_params *p)
{
    memset(w, 0, sizeof(*w));
    w->now = (int64_t)time(NULL);
    w->mac = p->mac;
    w->n_auth = p->n_auth ? p->n_auth : 1;
    if (w->n_auth > 8)
        w->n_auth = 8;
    TRY("trust store", tes_trust_store_new(&w->trust));
    for (size_t i = 0; i < w->n_auth; i++) {
        authority_make(&w->auth[i], i, w->now);
        TRY("trust store add", tes_trust_store_add(w->trust, TES_PROFILE_DS, w->auth[i].iaca));
    }
    claims_make(w, p->portrait_len, p->few_elements);
    w->n = p->n_holders;
    w->h = calloc(w->n, sizeof(*w->h));
    if (!w->h)
        bench_die("pool", TES_ERR_NOMEM);
    for (size_t i = 0; i < w->n; i++) {
        bench_holder *h = &w->h[i];
        h->issuer = i % w->n_auth;
        TRY("device key", tes_key_generate(TES_CURVE_P256, &h->device));
        TRY("reader key", tes_key_generate(TES_CURVE_P256, &h->ereader));
        transcript_make(h, &h->transcript);
        TRY("issue", bench_issue(w, &w->auth[h->issuer], h->device, &h->mdoc));
        tes_signer s = tes_signer_from_key(h->device);
        tes_mdoc_present_params pp = {.mdoc = tes_buf_bytes(&h->mdoc), .elems = w->req,
                                      .n_elems = w->n_req,
                                      .transcript = tes_buf_bytes(&h->transcript),
                                      .device = p->mac ? NULL : &s, .device_key = h->device,
                                      .reader_key = p->mac ? h->ereader : NULL};
        size_t missing = 0;
        TRY("present", tes_mdoc_present(&pp, &h->resp, &missing));
        if (missing != 0) {
            fprintf(stderr, "bench: %zu requested elements missing\n", missing);
            return false;
        }
        /* the response must verify before anything is timed */
        tes_mdoc_verify_opts o = bench_opts(w, i, NULL);
        tes_mdoc_result r;
        TRY("verify (fixture check)", tes_mdoc_verify(tes_buf_bytes(&h->resp), &o, &r));
        if (r.n_docs != 1 || r.docs[0].n_elems != w->n_req || r.docs[0].device_mac != p->mac) {
            fprintf(stderr, "bench: fixture response verified with unexpected content\n");
            return false;
        }
        tes_mdoc_result_free(&r);
    }
    return true;
}

tes_mdoc_verify_opts bench_opts(const bench_world *w, size_t i, tes_trust_store *trust)
{
    const bench_holder *h = &w->h[i];
    return (tes_mdoc_verify_opts){.trust = trust ? trust : w->trust,
                                  .transcript = tes_buf_bytes(&h->transcript),
                                  .reader_key = w->mac ? h->ereader : NULL, .at = w->now};
}

void bench_world_free(bench_world *w)
{
    for (size_t i = 0; i < w->n; i++) {
        bench_holder *h = &w->h[i];
        tes_key_free(h->device);
        tes_key_free(h->ereader);
        tes_buf_free(&h->transcript);
        tes_buf_free(&h->mdoc);
        tes_buf_free(&h->resp);
    }
    free(w->h);
    for (size_t i = 0; i < w->n_auth; i++)
        authority_free(&w->auth[i]);
    tes_trust_store_free(w->trust);
    free(w->claims.items);
    tes_mdoc_claims_free(&w->all_claims);
    memset(w, 0, sizeof(*w));
}

double bench_wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double bench_cpu_process(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}
