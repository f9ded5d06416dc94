/*
 * Provisioning through the library alone, no CLI (issue 11, item 2):
 *  - tes_authority_create: the authority directory (files, modes, 0700), the
 *    Annex B profiles of its IACA and document signer (checked by the
 *    library's own profile checks and chain validation), midnight-aligned
 *    validity; its DS loaded with tes_ds_signer_load issues a credential that
 *    a reader verifies; an existing authority is refused without force and
 *    replaced with it; bad parameters and an unsafe directory are refused
 *    before anything is written;
 *  - tes_reader_ca_create and tes_reader_cert_issue: the reader root and a
 *    reader certificate under the reader profile, carrying its scope, its key
 *    the certificate's; the failures (no authority, existing files, bad scope,
 *    inverted validity).
 * The DS-in-HSM variant is in test_ds_hsm.c (SoftHSM2), the status verdict
 * in test_status.c (a real HTTP server).
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"

#include "issuer_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

static char g_tmp[64];

static tes_cert *load_cert(const char *dir, const char *file)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    tes_buf raw = {0};
    tes_cert *c = NULL;
    if (tes_file_read(p, 1u << 20, &raw) != TES_OK || tes_cert_parse_any(tes_buf_bytes(&raw), &c))
        c = NULL;
    tes_buf_free(&raw);
    return c;
}

static tes_key *load_key(const char *dir, const char *file)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    tes_buf raw = {.secret = true};
    tes_key *k = NULL;
    if (tes_file_read(p, 1u << 20, &raw) != TES_OK || tes_key_parse(tes_buf_bytes(&raw), &k))
        k = NULL;
    tes_buf_free(&raw);
    return k;
}

static unsigned mode_of(const char *dir, const char *file)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, file ? file : "");
    struct stat st;
    return stat(p, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xffffu;
}

static bool exists(const char *dir, const char *file)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return access(p, F_OK) == 0;
}

TEST(setup)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tes_provision_XXXXXX");
    REQUIRE(mkdtemp(g_tmp) != NULL);
}

/* ------------------------------------------------------------------ the authority */

TEST(authority_create_profiles_files_and_a_credential_that_verifies)
{
    REQUIRE(g_tmp[0]);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/ministry", g_tmp);
    const int64_t now = (int64_t)time(NULL);
    const tes_authority_params p = {
        .dir = dir, .country = "UT", .name = "Utopia Ministry", .now = now};
    tes_authority_result r;
    tes_err e = tes_authority_create(&p, &r);
    if (e != TES_OK)
        fprintf(stderr, "    create: %s\n", tes_err_message());
    REQUIRE(e == TES_OK);
    CHECK(r.iaca != NULL && r.ds != NULL);
    CHECK(!r.ds_in_hsm);
    CHECK_EQ_INT(r.warning[0], '\0');

    /* the directory: 0700, keys 0600, certificates 0644, no HSM reference */
    CHECK_EQ_INT(mode_of(dir, NULL), 0700);
    CHECK_EQ_INT(mode_of(dir, TES_AUTHORITY_IACA_KEY), 0600);
    CHECK_EQ_INT(mode_of(dir, TES_AUTHORITY_DS_KEY), 0600);
    CHECK_EQ_INT(mode_of(dir, TES_AUTHORITY_IACA_CERT), 0644);
    CHECK_EQ_INT(mode_of(dir, TES_AUTHORITY_DS_CERT), 0644);
    CHECK(!exists(dir, TES_DS_HSM_FILE));

    /* the files are what the result says, and the keys are the certificates' */
    tes_cert *iaca = load_cert(dir, TES_AUTHORITY_IACA_CERT);
    tes_cert *ds = load_cert(dir, TES_AUTHORITY_DS_CERT);
    tes_key *ik = load_key(dir, TES_AUTHORITY_IACA_KEY);
    REQUIRE(iaca != NULL && ds != NULL && ik != NULL);
    CHECK(tes_bytes_eq(tes_cert_der(iaca), tes_cert_der(r.iaca)));
    CHECK(tes_bytes_eq(tes_cert_der(ds), tes_cert_der(r.ds)));
    CHECK(tes_key_has_private(ik) && tes_key_equal_public(ik, tes_cert_key(iaca)));

    /* Annex B: the library's own profile checks, and the chain at now */
    CHECK_ERR(tes_trust_check_root(iaca), TES_OK);
    CHECK_ERR(tes_trust_check_leaf(ds, TES_PROFILE_DS, iaca), TES_OK);
    const tes_cert_info *ii = tes_cert_get_info(iaca), *di = tes_cert_get_info(ds);
    CHECK(strcmp(ii->common_name, "Utopia Ministry IACA") == 0);
    CHECK(strcmp(di->common_name, "Utopia Ministry Document Signer") == 0);
    CHECK(strcmp(ii->country, "UT") == 0 && strcmp(di->country, "UT") == 0);
    CHECK(ii->is_ca && ii->path_len == 0);
    CHECK_EQ_INT(ii->key_usage, TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN);
    CHECK(!di->is_ca && di->has_eku);
    CHECK_EQ_INT(di->key_usage, TES_KU_DIGITAL_SIGNATURE);
    /* both from midnight UTC of the day an hour before now */
    const int64_t midnight = (now - 3600) - (now - 3600) % 86400;
    CHECK_EQ_INT(ii->not_before, midnight);
    CHECK_EQ_INT(di->not_before, midnight);
    CHECK_EQ_INT(ii->not_after, now + (10 * 365 + 3) * 86400LL);
    CHECK_EQ_INT(di->not_after, now + (3 * 365 + 1) * 86400LL);
    tes_trust_store *trust = NULL;
    REQUIRE(tes_trust_store_new(&trust) == TES_OK);
    REQUIRE(tes_trust_store_add(trust, TES_PROFILE_DS, iaca) == TES_OK);
    const tes_bytes chain[1] = {tes_cert_der(ds)};
    tes_trust_result tr;
    CHECK_ERR(tes_trust_validate(trust, TES_PROFILE_DS, chain, 1, now, &tr), TES_OK);

    /* its document signer, loaded as the service loads it, issues a credential that a
     * reader trusting the new IACA verifies */
    tes_ds_signer *d = NULL;
    REQUIRE(tes_ds_signer_load(dir, NULL, &d) == TES_OK);
    CHECK(!tes_ds_signer_in_hsm(d));
    tes_key *device = NULL;
    REQUIRE(tes_key_generate(TES_CURVE_P256, &device) == TES_OK);
    tes_mdoc_claims claims = {0};
    REQUIRE(tes_mdoc_claims_from_json(tes_doctype_find(TES_DOCTYPE_PID), FX_PID_CLAIMS,
                                      strlen(FX_PID_CLAIMS), ".", &claims) == TES_OK);
    const tes_bytes dchain[1] = {tes_cert_der(tes_ds_signer_cert(d))};
    const tes_mdoc_issue_params ip = {.doctype = TES_DOCTYPE_PID,
                                      .claims = &claims,
                                      .device_key = device,
                                      .issuer = tes_ds_signer_get(d),
                                      .ds_chain = dchain,
                                      .ds_chain_len = 1,
                                      .signed_at = midnight,
                                      .valid_from = midnight,
                                      .valid_until = now + 30 * 86400};
    tes_buf mdoc = {0}, dr = {0};
    CHECK_ERR(tes_mdoc_issue(&ip, &mdoc), TES_OK);
    const tes_signer dev = tes_signer_from_key(device);
    CHECK_ERR(fx_present_family_name(tes_buf_bytes(&mdoc), &dev, &dr), TES_OK);
    tes_mdoc_result res = {0};
    e = fx_verify_response(&dr, trust, now, &res);
    if (e != TES_OK)
        fprintf(stderr, "    verify: %s\n", tes_err_message());
    CHECK_ERR(e, TES_OK);
    CHECK_EQ_INT(res.n_docs, 1);
    tes_mdoc_result_free(&res);
    tes_buf_free(&dr);
    tes_buf_free(&mdoc);
    tes_mdoc_claims_free(&claims);
    tes_key_free(device);
    tes_ds_signer_free(d);

    /* a second authority in the same place: refused, nothing touched */
    tes_authority_result r2;
    CHECK_ERR(tes_authority_create(&p, &r2), TES_ERR_EXISTS);
    CHECK(strstr(tes_err_message(), "refusing to overwrite its keys") != NULL);
    CHECK(r2.iaca == NULL && r2.ds == NULL);
    tes_cert *still = load_cert(dir, TES_AUTHORITY_IACA_CERT);
    CHECK(still != NULL && tes_bytes_eq(tes_cert_der(still), tes_cert_der(iaca)));
    tes_cert_free(still);
    /* with force: replaced (a new IACA, a stale ds_key.hsm dropped) */
    char stale[200];
    snprintf(stale, sizeof stale, "%s/%s", dir, TES_DS_HSM_FILE);
    REQUIRE(tes_file_write(stale, TES_BYTES_STR("{}\n"), 0644) == TES_OK);
    tes_authority_params pf = p;
    pf.force = true;
    pf.url = "https://iaca.example.org";
    CHECK_ERR(tes_authority_create(&pf, &r2), TES_OK);
    CHECK(!exists(dir, TES_DS_HSM_FILE));
    still = load_cert(dir, TES_AUTHORITY_IACA_CERT);
    CHECK(still != NULL && !tes_bytes_eq(tes_cert_der(still), tes_cert_der(iaca)));
    CHECK(still != NULL && tes_bytes_eq(tes_cert_der(still), tes_cert_der(r2.iaca)));
    tes_cert_free(still);
    tes_authority_result_free(&r2);
    tes_authority_result_free(&r2); /* twice is harmless */

    tes_trust_store_free(trust);
    tes_key_free(ik);
    tes_cert_free(ds);
    tes_cert_free(iaca);
    tes_authority_result_free(&r);
}

static tes_err no_secret(void *ctx, const char *what, char *out, size_t cap)
{
    (void)ctx, (void)out, (void)cap;
    return tes_err_set(TES_ERR_PIN_REQUIRED, "no %s", what);
}

TEST(authority_refuses_bad_parameters_and_unsafe_directories)
{
    REQUIRE(g_tmp[0]);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/bad", g_tmp);
    tes_authority_result r;
    tes_authority_params p = {.dir = dir, .country = "utopia"};
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_ARG);
    CHECK(strstr(tes_err_message(), "two upper-case letters") != NULL);
    p.country = "UT";
    p.name = "";
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_ARG);
    p.name = NULL;
    p.ds_hsm = "soft:somewhere";
    p.secret = no_secret;
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_ARG);
    CHECK(strstr(tes_err_message(), "'pkcs11:MODULE_PATH[:TOKEN_LABEL]'") != NULL);
    p.ds_hsm = "pkcs11:no/such/module.so";
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_SE_MODULE);
    p.ds_hsm = "pkcs11:/usr/lib/softhsm/libsofthsm2.so";
    p.secret = NULL; /* a token needs its PIN */
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_ARG);
    p.ds_hsm = NULL;
    CHECK_ERR(tes_authority_create(NULL, &r), TES_ERR_ARG);
    /* none of these wrote anything */
    CHECK(access(dir, F_OK) != 0);

    /* a directory others may write into: its keys could be swapped */
    REQUIRE(mkdir(dir, 0700) == 0);
    REQUIRE(chmod(dir, 0777) == 0);
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_DIR_UNSAFE);
    CHECK(strstr(tes_err_message(), "writable by other users (mode 0777)") != NULL);
    CHECK(!exists(dir, TES_AUTHORITY_IACA_KEY));
    REQUIRE(chmod(dir, 0770) == 0);
    CHECK_ERR(tes_authority_create(&p, &r), TES_ERR_DIR_UNSAFE);
    CHECK(strstr(tes_err_message(), "writable by its group") != NULL);
    REQUIRE(chmod(dir, 0700) == 0);
    CHECK_ERR(tes_authority_create(&p, &r), TES_OK);
    CHECK(r.iaca != NULL && strcmp(tes_cert_get_info(r.iaca)->common_name, "Utopia IACA") == 0);
    tes_authority_result_free(&r);

    bool created = true;
    CHECK_ERR(tes_dir_secret(dir, &created), TES_OK);
    CHECK(!created);
    char file[160];
    snprintf(file, sizeof file, "%s/%s", dir, TES_AUTHORITY_IACA_CERT);
    CHECK_ERR(tes_dir_secret(file, &created), TES_ERR_IO);
}

/* ------------------------------------------------------------------ the reader authority */

TEST(reader_ca_and_reader_certificate_with_scope)
{
    REQUIRE(g_tmp[0]);
    char ca[128], hotel[128];
    snprintf(ca, sizeof ca, "%s/police", g_tmp);
    snprintf(hotel, sizeof hotel, "%s/hotel", g_tmp);
    const int64_t now = (int64_t)time(NULL);
    const tes_reader_ca_params cp = {.dir = ca, .name = "Utopia Police Bureau", .now = now};
    tes_cert *root = NULL;
    tes_err e = tes_reader_ca_create(&cp, &root);
    if (e != TES_OK)
        fprintf(stderr, "    reader ca: %s\n", tes_err_message());
    REQUIRE(e == TES_OK && root != NULL);
    CHECK_EQ_INT(mode_of(ca, NULL), 0700);
    CHECK_EQ_INT(mode_of(ca, TES_READER_CA_KEY), 0600);
    CHECK_EQ_INT(mode_of(ca, TES_READER_CA_CERT), 0644);
    CHECK_ERR(tes_trust_check_root(root), TES_OK);
    CHECK(strcmp(tes_cert_get_info(root)->country, "UT") == 0);
    CHECK_EQ_INT(tes_cert_get_info(root)->not_before, now - 3600);
    CHECK_ERR(tes_reader_ca_create(&cp, NULL), TES_ERR_EXISTS);

    static const char *const scope[] = {"eu.europa.ec.eudi.pid.1/family_name",
                                        "eu.europa.ec.eudi.pid.1/age_over_18"};
    tes_reader_cert_params rp = {.ca_dir = ca,
                                 .out_dir = hotel,
                                 .name = "Hotel Utopia",
                                 .purpose = "guest registration",
                                 .scope = scope,
                                 .n_scope = 2,
                                 .now = now};
    tes_cert *cert = NULL;
    e = tes_reader_cert_issue(&rp, &cert);
    if (e != TES_OK)
        fprintf(stderr, "    reader cert: %s\n", tes_err_message());
    REQUIRE(e == TES_OK && cert != NULL);
    CHECK_EQ_INT(mode_of(hotel, NULL), 0700);
    CHECK_EQ_INT(mode_of(hotel, TES_READER_KEY), 0600);
    CHECK_EQ_INT(mode_of(hotel, TES_READER_CERT), 0644);

    /* the reader profile under the reader root, at now; its key is the certificate's */
    CHECK_ERR(tes_trust_check_leaf(cert, TES_PROFILE_READER, root), TES_OK);
    tes_trust_store *readers = NULL;
    REQUIRE(tes_trust_store_new(&readers) == TES_OK);
    REQUIRE(tes_trust_store_add(readers, TES_PROFILE_READER, root) == TES_OK);
    const tes_bytes chain[1] = {tes_cert_der(cert)};
    tes_trust_result tr;
    CHECK_ERR(tes_trust_validate(readers, TES_PROFILE_READER, chain, 1, now, &tr), TES_OK);
    CHECK_ERR(tes_trust_validate(readers, TES_PROFILE_DS, chain, 1, now, &tr),
              TES_ERR_CHAIN_UNTRUSTED);
    const tes_cert_info *ci = tes_cert_get_info(cert);
    CHECK(strcmp(ci->common_name, "Hotel Utopia") == 0 && strcmp(ci->country, "UT") == 0);
    CHECK_EQ_INT(ci->not_before, now - 3600);
    CHECK_EQ_INT(ci->not_after, now + 365 * 86400LL);
    tes_key *rk = load_key(hotel, TES_READER_KEY);
    tes_cert *onfile = load_cert(hotel, TES_READER_CERT);
    CHECK(rk != NULL && tes_key_equal_public(rk, tes_cert_key(cert)));
    CHECK(onfile != NULL && tes_bytes_eq(tes_cert_der(onfile), tes_cert_der(cert)));
    tes_key_free(rk);
    tes_cert_free(onfile);
    /* the scope it grants, and only that */
    tes_reader_scope sc = {0};
    CHECK_ERR(tes_reader_scope_from_cert(cert, &sc), TES_OK);
    CHECK(sc.purpose && strcmp(sc.purpose, "guest registration") == 0);
    CHECK_EQ_INT(sc.n, 2);
    CHECK(tes_reader_scope_allows(&sc, TES_BYTES_STR("eu.europa.ec.eudi.pid.1"),
                                  TES_BYTES_STR("family_name")));
    CHECK(!tes_reader_scope_allows(&sc, TES_BYTES_STR("eu.europa.ec.eudi.pid.1"),
                                   TES_BYTES_STR("portrait")));
    tes_reader_scope_free(&sc);
    tes_cert_free(cert);
    cert = NULL;

    /* the same place again: refused without force, replaced with it; validity given */
    CHECK_ERR(tes_reader_cert_issue(&rp, NULL), TES_ERR_EXISTS);
    rp.force = true;
    rp.not_before = now - 10 * 86400;
    rp.not_after = now - 86400;
    CHECK_ERR(tes_reader_cert_issue(&rp, &cert), TES_OK);
    CHECK(cert && tes_cert_get_info(cert)->not_after == now - 86400);
    CHECK_ERR(tes_trust_validate(readers, TES_PROFILE_READER, (tes_bytes[]){tes_cert_der(cert)},
                                 1, now, &tr),
              TES_ERR_CERT_EXPIRED);
    tes_cert_free(cert);

    /* a relying party's access certificate: the reader profile plus its DNS name */
    char site[128];
    snprintf(site, sizeof site, "%s/site", g_tmp);
    tes_reader_cert_params sp = rp;
    sp.out_dir = site;
    sp.name = "Example Shop";
    sp.not_before = sp.not_after = 0;
    sp.dns_name = "shop.example.com";
    CHECK(!tes_cert_san_has_dns(root, "shop.example.com")); /* no SAN */
    char dns[64];
    CHECK_ERR(tes_cert_san_dns(root, dns, sizeof dns), TES_ERR_NOT_FOUND);
    cert = NULL;
    CHECK_ERR(tes_reader_cert_issue(&sp, &cert), TES_OK);
    REQUIRE(cert != NULL);
    CHECK_ERR(tes_trust_validate(readers, TES_PROFILE_READER, (tes_bytes[]){tes_cert_der(cert)},
                                 1, now, &tr),
              TES_OK);
    CHECK(tes_cert_san_has_dns(cert, "shop.example.com"));
    CHECK(tes_cert_san_has_dns(cert, "SHOP.example.com"));
    CHECK(!tes_cert_san_has_dns(cert, "example.com"));
    CHECK(!tes_cert_san_has_dns(cert, "shop.example.com.evil"));
    CHECK_ERR(tes_cert_san_dns(cert, dns, sizeof dns), TES_OK);
    CHECK(strcmp(dns, "shop.example.com") == 0);
    CHECK_ERR(tes_cert_san_dns(cert, dns, 8), TES_ERR_CERT_MALFORMED);
    CHECK_ERR(tes_reader_scope_from_cert(cert, &sc), TES_OK);
    CHECK_EQ_INT(sc.n, 2);
    tes_reader_scope_free(&sc);
    tes_cert_free(cert);
    CHECK(tes_rp_dns_name_ok("a.b-c.example"));
    CHECK(tes_rp_dns_name_ok("localhost"));
    static const char *const bad_dns[] = {"", ".a", "a.", "a..b", "-a.b", "a-.b", "a b",
                                          "a/b", "*.example.com", "a_b.example"};
    for (size_t i = 0; i < sizeof bad_dns / sizeof *bad_dns; i++) {
        CHECK(!tes_rp_dns_name_ok(bad_dns[i]));
        sp.dns_name = bad_dns[i];
        sp.force = true;
        CHECK_ERR(tes_reader_cert_issue(&sp, NULL), TES_ERR_ARG);
    }
    char longlabel[80];
    memset(longlabel, 'a', 64);
    strcpy(longlabel + 64, ".com");
    CHECK(!tes_rp_dns_name_ok(longlabel));

    /* failures, before anything is written */
    tes_reader_cert_params bad = rp;
    bad.not_after = bad.not_before;
    CHECK_ERR(tes_reader_cert_issue(&bad, NULL), TES_ERR_ARG);
    bad = rp;
    static const char *const wrong[] = {"family_name"};
    bad.scope = wrong;
    bad.n_scope = 1;
    CHECK_ERR(tes_reader_cert_issue(&bad, NULL), TES_ERR_ARG);
    CHECK(strstr(tes_err_message(), "NAMESPACE/ELEMENT") != NULL);
    bad.n_scope = 0;
    CHECK_ERR(tes_reader_cert_issue(&bad, NULL), TES_ERR_ARG);
    bad = rp;
    bad.ca_dir = g_tmp; /* holds no reader authority */
    CHECK_ERR(tes_reader_cert_issue(&bad, NULL), TES_ERR_NOT_FOUND);
    bad = rp;
    bad.country = "ut";
    CHECK_ERR(tes_reader_cert_issue(&bad, NULL), TES_ERR_ARG);
    /* a reader authority whose key is not its root's */
    char other[128];
    snprintf(other, sizeof other, "%s/other", g_tmp);
    const tes_reader_ca_params op = {.dir = other, .name = "Other Bureau"};
    REQUIRE(tes_reader_ca_create(&op, NULL) == TES_OK);
    char from[200], to[200];
    snprintf(from, sizeof from, "%s/%s", other, TES_READER_CA_KEY);
    snprintf(to, sizeof to, "%s/%s", ca, TES_READER_CA_KEY);
    REQUIRE(rename(from, to) == 0);
    CHECK_ERR(tes_reader_cert_issue(&rp, NULL), TES_ERR_KEY_MALFORMED);
    CHECK(strstr(tes_err_message(), "is not the private key of") != NULL);

    tes_trust_store_free(readers);
    tes_cert_free(root);
}

TEARDOWN(tmp)
{
    if (g_tmp[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        CHECK(system(cmd) == 0);
    }
}
