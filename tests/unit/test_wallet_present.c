/*
 * Presenting from the holder's wallet through tessera/wallet.h: a file-based
 * presentation (signed and MACed, verified against the issuing IACA), the
 * transaction log, a wrong PIN, single-use copies and a request for nothing
 * the credential holds; the reader roots kept in the wallet; and a proximity
 * transaction (tes_wallet_serve) over the in-memory transport with the
 * reader in this thread and the wallet in another. The authority, reader
 * authority and issuing are set up with the lower modules; everything the
 * holder does goes through the wallet.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/wallet.h"
#define TES_HARNESS_ERR_NAME(code) tes_err_name(code)
#include "harness.h"

static const int64_t T0 = 1767225600; /* 2026-01-01T00:00:00Z */
#define DAY 86400
#define PID_NS "eu.europa.ec.eudi.pid.1"
#define PIN "123456"

static const char pid_claims[] =
    "{\"eu.europa.ec.eudi.pid.1\": {\"family_name\": \"Mustermann\", \"given_name\": \"Erika\","
    " \"birth_date\": \"1964-08-12\", \"issuing_authority\": \"Utopia\", \"issuing_country\": "
    "\"UT\", \"expiry_date\": \"2031-01-01\", \"age_over_18\": true, \"age_over_21\": true,"
    " \"nationality\": \"UT\", \"document_number\": \"T22000129\"}}";

#include "prox_fixture.h"

static const char *const hotel_scope[] = {PID_NS "/family_name", PID_NS "/given_name",
                                          PID_NS "/document_number", PID_NS "/age_over_NN"};

/* a plain SessionTranscript [null, null, ["tessera-test", h'01020304']] */
static const uint8_t transcript[] = {0x83, 0xf6, 0xf6, 0x82, 0x6c, 't',  'e',  's',  's',
                                     'e',  'r',  'a',  '-',  't',  'e',  's',  't',  0x44,
                                     0x01, 0x02, 0x03, 0x04};
#define TRANSCRIPT TES_BYTES(transcript, sizeof(transcript))

/* ------------------------------------------------------------------ PKI */

typedef struct pki {
    tes_key *iaca_key, *ds_key, *rroot_key, *other_key, *reader_key;
    tes_cert *iaca, *ds, *rroot, *other_root, *reader, *other_reader;
    tes_trust_store *iaca_trust;
} pki;

static tes_cert *make_reader(tes_key *k, tes_cert *root, tes_key *root_key)
{
    return fx_reader("Hotel Utopia", k, root, root_key, T0 - DAY, T0 + 365 * DAY, hotel_scope,
                     sizeof(hotel_scope) / sizeof(hotel_scope[0]));
}

static bool pki_make(pki *p)
{
    memset(p, 0, sizeof(*p));
    if (tes_key_generate(TES_CURVE_P256, &p->iaca_key) ||
        tes_key_generate(TES_CURVE_P256, &p->ds_key) ||
        tes_key_generate(TES_CURVE_P256, &p->rroot_key) ||
        tes_key_generate(TES_CURVE_P256, &p->other_key) ||
        tes_key_generate(TES_CURVE_P256, &p->reader_key))
        return false;
    p->iaca = fx_root("Utopia IACA", p->iaca_key);
    p->rroot = fx_root("Police Bureau", p->rroot_key);
    p->other_root = fx_root("Other Bureau", p->other_key);
    if (!p->iaca || !p->rroot || !p->other_root)
        return false;
    if ((p->ds = fx_ds(p->ds_key, p->iaca, p->iaca_key)) == NULL)
        return false;
    p->reader = make_reader(p->reader_key, p->rroot, p->rroot_key);
    p->other_reader = make_reader(p->reader_key, p->other_root, p->other_key);
    return p->reader && p->other_reader && tes_trust_store_new(&p->iaca_trust) == TES_OK &&
           tes_trust_store_add(p->iaca_trust, TES_PROFILE_DS, p->iaca) == TES_OK;
}

static void pki_free(pki *p)
{
    tes_key *keys[] = {p->iaca_key, p->ds_key, p->rroot_key, p->other_key, p->reader_key};
    tes_cert *certs[] = {p->iaca, p->ds, p->rroot, p->other_root, p->reader, p->other_reader};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        tes_key_free(keys[i]);
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        tes_cert_free(certs[i]);
    tes_trust_store_free(p->iaca_trust);
}

/* ------------------------------------------------------------------ the wallet */

typedef struct wallet {
    char dir[64];
    tes_wallet *w;
    int64_t reusable;   /* one copy, key needs the PIN */
    int64_t single_use; /* two single-use copies, keys need the PIN */
} wallet;

/* n copies of the PID, each bound to a new key of the wallet's SE. */
static bool add_pid(pki *p, tes_wallet *w, size_t n, bool single, int64_t *id)
{
    tes_mdoc_claims claims = {0};
    if (tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), pid_claims,
                                  strlen(pid_claims), NULL, &claims) != TES_OK)
        return false;
    tes_buf mdocs[4] = {{0}};
    tes_bytes views[4];
    tes_signer ds = tes_signer_from_key(p->ds_key);
    tes_bytes chain = tes_cert_der(p->ds);
    bool ok = n <= 4;
    for (size_t i = 0; ok && i < n; i++) {
        const tes_se_key_opts o = {.user_verification = true, .single_use = single};
        char kid[TES_SE_ID_MAX];
        tes_key *pub = NULL;
        ok = tes_se_create_key(tes_wallet_se(w), &o, kid) == TES_OK &&
             tes_se_public_key(tes_wallet_se(w), kid, &pub) == TES_OK;
        tes_mdoc_issue_params ip = {.doctype = TES_DOCTYPE_PID,
                                    .claims = &claims,
                                    .device_key = pub,
                                    .issuer = &ds,
                                    .ds_chain = &chain,
                                    .ds_chain_len = 1,
                                    .signed_at = T0 - 3600,
                                    .valid_from = T0 - 3600,
                                    .valid_until = T0 + 365 * DAY};
        ok = ok && tes_mdoc_issue(&ip, &mdocs[i]) == TES_OK;
        views[i] = tes_buf_bytes(&mdocs[i]);
        tes_key_free(pub);
    }
    ok = ok && tes_wallet_add_batch(w, views, n, NULL, id, NULL) == TES_OK;
    for (size_t i = 0; i < 4; i++)
        tes_buf_free(&mdocs[i]);
    tes_mdoc_claims_free(&claims);
    return ok;
}

static bool wallet_make(wallet *wl, pki *p)
{
    memset(wl, 0, sizeof(*wl));
    snprintf(wl->dir, sizeof(wl->dir), "/tmp/tes_wpres_XXXXXX");
    if (!mkdtemp(wl->dir))
        return false;
    char d[96];
    snprintf(d, sizeof(d), "%s/w", wl->dir);
    if (tes_wallet_create(d, NULL, &wl->w) != TES_OK) {
        fprintf(stderr, "create: %s\n", tes_err_message());
        return false;
    }
    tes_se *se = tes_wallet_se(wl->w);
    return se->ops->pin_set(se, PIN, "12345678") == TES_OK &&
           add_pid(p, wl->w, 1, false, &wl->reusable) &&
           add_pid(p, wl->w, 2, true, &wl->single_use);
}

static void wallet_free(wallet *wl)
{
    tes_wallet_close(wl->w);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", wl->dir);
    if (wl->dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", wl->dir);
}

static int64_t copies_left(wallet *wl, int64_t id)
{
    tes_store_cred *c = NULL;
    if (tes_wallet_credential(wl->w, id, &c) != TES_OK)
        return -1;
    int64_t n = c->single_use ? c->unused_copies : c->copies;
    tes_store_creds_free(c, 1);
    return n;
}

/* The last log entry's elements and outcome; "" when the log is empty. */
static size_t last_log(wallet *wl, char elems[1024], char outcome[128], char rp[256])
{
    tes_store_log_entry *le = NULL;
    size_t n = 0;
    elems[0] = outcome[0] = rp[0] = '\0';
    if (tes_wallet_log(wl->w, &le, &n) != TES_OK)
        return 0;
    if (n > 0) {
        snprintf(elems, 1024, "%s", le[n - 1].elements);
        snprintf(outcome, 128, "%s", le[n - 1].outcome);
        snprintf(rp, 256, "%s", le[n - 1].relying_party);
    }
    tes_store_log_free(le, n);
    return n;
}

static const tes_mdoc_req_elem ask_two[] = {
    {TES_BYTES_STR(PID_NS), TES_BYTES_STR("family_name"), true},
    {TES_BYTES_STR(PID_NS), TES_BYTES_STR("age_over_18"), false},
};

static bool verified_has(const tes_mdoc_result *r, const char *name)
{
    for (size_t i = 0; r->n_docs == 1 && i < r->docs[0].n_elems; i++)
        if (tes_bytes_eq(r->docs[0].elems[i].name, TES_BYTES(name, strlen(name))))
            return true;
    return false;
}

/* ------------------------------------------------------------------ file-based */

TEST(present_signed_and_maced_verify_against_the_iaca)
{
    pki p;
    wallet wl;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&wl, &p));
    CHECK(tes_wallet_present_needs_pin(wl.w, wl.reusable));
    CHECK(!tes_wallet_present_needs_pin(wl.w, 999));

    tes_buf resp = {0};
    tes_wallet_present_result res;
    tes_wallet_present_opts o = {.credential_id = wl.reusable,
                                 .elems = ask_two,
                                 .n_elems = 2,
                                 .transcript = TRANSCRIPT,
                                 .pin = PIN,
                                 .now = T0};
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_OK);
    CHECK_EQ_INT(res.n_requested, 2);
    CHECK_EQ_INT(res.missing, 0);
    REQUIRE(res.n_disclosed == 2);
    tes_mdoc_verify_opts vo = {.trust = p.iaca_trust, .transcript = TRANSCRIPT, .at = T0};
    tes_mdoc_result r = {0};
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&resp), &vo, &r), TES_OK);
    CHECK(r.n_docs == 1 && !r.docs[0].device_mac);
    CHECK(verified_has(&r, "family_name") && verified_has(&r, "age_over_18"));
    CHECK(!verified_has(&r, "given_name"));
    tes_mdoc_result_free(&r);
    tes_wallet_present_result_free(&res);

    /* the log records what was disclosed, '*' for announced retention */
    char el[1024], oc[128], rp[256];
    CHECK_EQ_INT(last_log(&wl, el, oc, rp), 1);
    CHECK_EQ_STR(oc, "disclosed");
    CHECK_EQ_STR(rp, "unknown reader");
    CHECK(strstr(el, PID_NS "/family_name*") != NULL);
    CHECK(strstr(el, PID_NS "/age_over_18") != NULL && strstr(el, "age_over_18*") == NULL);

    /* MAC with the reader's key; age_over_20 is answered by age_over_21 */
    tes_key *ereader = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &ereader) == TES_OK);
    static const tes_mdoc_req_elem ask_age[] = {
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("age_over_20"), false}};
    o.elems = ask_age;
    o.n_elems = 1;
    o.auth = TES_DEVICE_AUTH_MAC;
    o.reader_key = ereader;
    o.relying_party = "Bar";
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_OK);
    REQUIRE(res.n_disclosed == 1);
    CHECK_EQ_STR(res.disclosed[0].name, "age_over_21");
    vo.reader_key = ereader;
    CHECK_ERR(tes_mdoc_verify(tes_buf_bytes(&resp), &vo, &r), TES_OK);
    CHECK(r.n_docs == 1 && r.docs[0].device_mac && verified_has(&r, "age_over_21"));
    tes_mdoc_result_free(&r);
    tes_wallet_present_result_free(&res);
    CHECK_EQ_INT(last_log(&wl, el, oc, rp), 2);
    CHECK_EQ_STR(el, PID_NS "/age_over_21");
    CHECK_EQ_STR(rp, "Bar");

    /* MAC without the reader's key is refused before anything happens */
    o.reader_key = NULL;
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_ERR_ARG);
    CHECK_EQ_INT(last_log(&wl, el, oc, rp), 2);
    tes_key_free(ereader);
    tes_buf_free(&resp);
    wallet_free(&wl);
    pki_free(&p);
}

TEST(present_from_a_device_request)
{
    pki p;
    wallet wl;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&wl, &p));
    tes_buf req = {0}, resp = {0};
    tes_signer rs = tes_signer_from_key(p.reader_key);
    tes_bytes chain = tes_cert_der(p.reader);
    REQUIRE(tes_mdoc_request_build(TES_DOCTYPE_PID, ask_two, 2, TRANSCRIPT, &rs, &chain, 1,
                                   &req) == TES_OK);
    tes_wallet_present_result res;
    tes_wallet_present_opts o = {.credential_id = wl.reusable,
                                 .device_request = tes_buf_bytes(&req),
                                 .transcript = TRANSCRIPT,
                                 .pin = PIN};
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_OK);
    CHECK(res.reader_auth_unchecked);
    CHECK_EQ_INT(res.n_disclosed, 2);
    tes_wallet_present_result_free(&res);

    /* a request for another doctype, and both elements and a request */
    tes_buf_reset(&req);
    REQUIRE(tes_mdoc_request_build(TES_DOCTYPE_MDL, ask_two, 1, TRANSCRIPT, NULL, NULL, 0, &req) ==
            TES_OK);
    o.device_request = tes_buf_bytes(&req);
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_ERR_DOCTYPE_MISMATCH);
    o.elems = ask_two;
    o.n_elems = 2;
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_ERR_ARG);
    o = (tes_wallet_present_opts){.credential_id = 999, .elems = ask_two, .n_elems = 2,
                                  .transcript = TRANSCRIPT};
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_ERR_NOT_FOUND);
    tes_buf_free(&req);
    tes_buf_free(&resp);
    wallet_free(&wl);
    pki_free(&p);
}

TEST(wrong_pin_single_use_and_nothing_held)
{
    pki p;
    wallet wl;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&wl, &p));
    tes_buf resp = {0};
    tes_wallet_present_result res;
    char el[1024], oc[128], rp[256];
    tes_wallet_present_opts o = {.credential_id = wl.single_use,
                                 .elems = ask_two,
                                 .n_elems = 2,
                                 .transcript = TRANSCRIPT,
                                 .pin = "999999"};
    /* a wrong PIN: refused, logged, no copy spent */
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_ERR_PIN_WRONG);
    CHECK_EQ_INT(resp.len, 0);
    CHECK_EQ_INT(last_log(&wl, el, oc, rp), 1);
    CHECK_EQ_STR(oc, "failed: pin_wrong");
    CHECK_EQ_INT(copies_left(&wl, wl.single_use), 2);
    /* a request for nothing the credential holds: nothing disclosed, no copy */
    static const tes_mdoc_req_elem none[] = {
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("resident_city"), false},
        {TES_BYTES_STR("org.example"), TES_BYTES_STR("family_name"), false}};
    o.elems = none;
    o.pin = PIN;
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_ERR_ELEMENT_NOT_ISSUED);
    CHECK(strstr(tes_err_message(), "no copy spent") != NULL);
    CHECK_EQ_INT(res.n_disclosed, 0);
    CHECK_EQ_INT(copies_left(&wl, wl.single_use), 2);
    CHECK_EQ_INT(last_log(&wl, el, oc, rp), 2);
    CHECK_EQ_STR(oc, "failed: element_not_issued");

    /* one copy per presentation, each a different copy; then a clear error */
    o.elems = ask_two;
    tes_buf first = {0};
    CHECK_ERR(tes_wallet_present(wl.w, &o, &first, &res), TES_OK);
    tes_wallet_present_result_free(&res);
    CHECK_EQ_INT(copies_left(&wl, wl.single_use), 1);
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_OK);
    tes_wallet_present_result_free(&res);
    CHECK_EQ_INT(copies_left(&wl, wl.single_use), 0);
    CHECK(!tes_bytes_eq(tes_buf_bytes(&first), tes_buf_bytes(&resp)));
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_ERR_KEY_USED);
    CHECK_EQ_INT(resp.len, 0);
    CHECK_EQ_INT(last_log(&wl, el, oc, rp), 5);
    CHECK_EQ_STR(oc, "failed: key_used");
    tes_store_log_entry *le = NULL;
    size_t n = 0;
    REQUIRE(tes_wallet_log(wl.w, &le, &n) == TES_OK);
    size_t disclosed = 0;
    for (size_t i = 0; i < n; i++)
        disclosed += strcmp(le[i].outcome, "disclosed") == 0 && le[i].cred_id == wl.single_use;
    CHECK_EQ_INT(disclosed, 2);
    tes_store_log_free(le, n);

    /* the listing through the wallet */
    tes_store_cred *all = NULL;
    REQUIRE(tes_wallet_list(wl.w, &all, &n) == TES_OK);
    CHECK_EQ_INT(n, 2);
    tes_store_creds_free(all, n);
    tes_buf_free(&first);
    tes_buf_free(&resp);
    wallet_free(&wl);
    pki_free(&p);
}

TEST(a_key_that_needs_the_pin_is_refused_without_it)
{
    pki p;
    wallet wl;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&wl, &p));
    tes_buf resp = {0};
    tes_wallet_present_result res;
    tes_wallet_present_opts o = {.credential_id = wl.reusable,
                                 .elems = ask_two,
                                 .n_elems = 2,
                                 .transcript = TRANSCRIPT};
    CHECK_ERR(tes_wallet_present(wl.w, &o, &resp, &res), TES_ERR_PIN_REQUIRED);
    char el[1024], oc[128], rp[256];
    CHECK_EQ_INT(last_log(&wl, el, oc, rp), 1);
    CHECK_EQ_STR(oc, "failed: pin_required");
    CHECK_EQ_INT(resp.len, 0);
    wallet_free(&wl);
    pki_free(&p);
}

/* ------------------------------------------------------------------ reader roots */

TEST(reader_roots_are_wallet_data)
{
    pki p;
    wallet wl;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&wl, &p));
    tes_cert **got = NULL;
    size_t n = 9, added = 9, bad = 9;
    CHECK_ERR(tes_wallet_reader_roots_get(wl.w, &got, &n), TES_OK);
    CHECK(n == 0 && got == NULL);

    tes_cert *two[] = {p.rroot, p.other_root};
    CHECK_ERR(tes_wallet_reader_roots_add(wl.w, two, 1, &added, &bad), TES_OK);
    CHECK_EQ_INT(added, 1);
    CHECK_ERR(tes_wallet_reader_roots_add(wl.w, two, 2, &added, &bad), TES_OK);
    CHECK_EQ_INT(added, 1); /* the first is there already */
    /* a leaf is not a root: nothing changes */
    tes_cert *leaf[] = {p.other_root, p.reader};
    CHECK(tes_wallet_reader_roots_add(wl.w, leaf, 2, &added, &bad) != TES_OK);
    CHECK_EQ_INT(bad, 1);
    CHECK_ERR(tes_wallet_reader_roots_get(wl.w, &got, &n), TES_OK);
    REQUIRE(n == 2);
    CHECK_EQ_STR(tes_cert_get_info(got[0])->common_name, "Police Bureau");
    CHECK_EQ_STR(tes_cert_get_info(got[1])->common_name, "Other Bureau");
    for (size_t i = 0; i < n; i++)
        tes_cert_free(got[i]);
    free(got);

    /* the documented layout: D/reader_roots.pem, PEM one after the other */
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", tes_wallet_dir(wl.w), TES_WALLET_READER_ROOTS);
    tes_buf raw = {0};
    tes_cert *parsed[4];
    size_t k = 0;
    REQUIRE(tes_file_read(path, 1 << 20, &raw) == TES_OK);
    CHECK(strncmp((const char *)raw.ptr, "-----BEGIN CERTIFICATE-----", 27) == 0);
    CHECK(tes_cert_parse_all(tes_buf_bytes(&raw), parsed, 4, &k) == TES_OK && k == 2);
    for (size_t i = 0; i < k; i++)
        tes_cert_free(parsed[i]);
    tes_buf_free(&raw);

    /* into a trust store; set replaces; set to none removes the file */
    tes_trust_store *ts = NULL;
    REQUIRE(tes_trust_store_new(&ts) == TES_OK);
    CHECK_ERR(tes_wallet_reader_roots_load(wl.w, ts, &n), TES_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(tes_trust_store_count(ts), 2);
    tes_trust_store_free(ts);
    CHECK_ERR(tes_wallet_reader_roots_set(wl.w, two + 1, 1, &bad), TES_OK);
    CHECK_ERR(tes_wallet_reader_roots_get(wl.w, &got, &n), TES_OK);
    CHECK_EQ_INT(n, 1);
    for (size_t i = 0; i < n; i++)
        tes_cert_free(got[i]);
    free(got);
    CHECK_ERR(tes_wallet_reader_roots_set(wl.w, NULL, 0, &bad), TES_OK);
    CHECK(access(path, F_OK) != 0);
    wallet_free(&wl);
    pki_free(&p);
}

/* ------------------------------------------------------------------ proximity */

typedef struct consent_seen {
    int calls;
    bool authenticated;
    char reader[256];
    bool resident_city_held, family_name_held;
    const char *pin;
} consent_seen;

/* Approves everything held and in scope; records what the holder saw. */
static tes_err approve_all(void *ctx, tes_consent_request *req, char pin[64])
{
    consent_seen *s = ctx;
    s->calls++;
    s->authenticated = req->reader_authenticated;
    snprintf(s->reader, sizeof(s->reader), "%s", req->reader_name);
    for (size_t i = 0; i < req->n_items; i++) {
        tes_consent_item *it = &req->items[i];
        it->approve = true;
        if (tes_bytes_eq(it->name, TES_BYTES_STR("resident_city")))
            s->resident_city_held = it->held;
        if (tes_bytes_eq(it->name, TES_BYTES_STR("family_name")))
            s->family_name_held = it->held;
    }
    snprintf(pin, 64, "%s", s->pin);
    return TES_OK;
}

/* One check-in: the wallet serves in a thread, the reader (with `reader`
 * as its certificate) runs here. */
static bool checkin(pki *p, wallet *wl, tes_cert *reader, consent_seen *seen, fx_serve_run *run,
                    tes_err *reader_err, tes_mdoc_result *result, tes_buf *response)
{
    static const tes_mdoc_req_elem el[] = {
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("family_name"), false},
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("age_over_18"), false},
        {TES_BYTES_STR(PID_NS), TES_BYTES_STR("resident_city"), false}};
    const fx_reader_ask ask = {el, 3, p->reader_key, reader, p->iaca_trust, T0};
    return fx_wallet_checkin(wl->w, approve_all, seen, &ask, run, reader_err, result, response);
}

TEST(serve_with_the_wallets_reader_roots)
{
    pki p;
    wallet wl;
    REQUIRE(pki_make(&p));
    REQUIRE(wallet_make(&wl, &p));
    tes_cert *roots[] = {p.rroot};
    REQUIRE(tes_wallet_reader_roots_add(wl.w, roots, 1, NULL, NULL) == TES_OK);

    /* a reader licensed by a trusted authority gets the elements */
    consent_seen seen = {.pin = PIN};
    fx_serve_run run;
    tes_err rerr;
    tes_mdoc_result result = {0};
    tes_buf response = {0};
    REQUIRE(checkin(&p, &wl, p.reader, &seen, &run, &rerr, &result, &response));
    CHECK_ERR(run.err, TES_OK);
    CHECK_ERR(rerr, TES_OK);
    CHECK(seen.authenticated && run.res.reader_authenticated);
    CHECK_EQ_STR(seen.reader, "Hotel Utopia");
    CHECK(verified_has(&result, "family_name") && verified_has(&result, "age_over_18"));
    CHECK_EQ_INT(run.res.disclosed, 2);
    /* the consent shows what the credential holds (the copy is peeked at) */
    CHECK(seen.family_name_held && !seen.resident_city_held);
    char el[1024], oc[128], rp[256];
    last_log(&wl, el, oc, rp);
    CHECK_EQ_STR(oc, "disclosed");
    CHECK_EQ_STR(rp, "Hotel Utopia");
    CHECK(strstr(el, PID_NS "/family_name") != NULL && strstr(el, "resident_city") == NULL);
    /* the proximity answer takes a single-use copy (the newest credential) */
    CHECK_EQ_INT(copies_left(&wl, wl.single_use), 1);
    tes_mdoc_result_free(&result);
    tes_buf_free(&response);

    /* a reader from an authority the wallet does not trust: shown as such */
    seen = (consent_seen){.pin = PIN};
    REQUIRE(checkin(&p, &wl, p.other_reader, &seen, &run, &rerr, &result, &response));
    CHECK_EQ_INT(seen.calls, 1);
    CHECK(!seen.authenticated && !run.res.reader_authenticated);
    CHECK_EQ_INT(run.res.disclosed, 0); /* nothing is in an unauthenticated reader's scope */
    last_log(&wl, el, oc, rp);
    CHECK_EQ_STR(rp, "unauthenticated reader");
    CHECK_EQ_INT(copies_left(&wl, wl.single_use), 1);
    tes_mdoc_result_free(&result);
    tes_buf_free(&response);
    wallet_free(&wl);
    pki_free(&p);
}
