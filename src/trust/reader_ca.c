/*
 * trust/reader_ca.c — the authority that licenses mdoc readers: its root,
 * reader certificates carrying the scope it grants (tessera reader-ca init /
 * issue, a reader-licensing service, tests), and the directory files every
 * certificate authority of the library writes (trust/pki_files.h).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tessera/crypto.h"
#include "tessera/trust.h"
#include "trust/pki_files.h"

#define READER_ROOT_DAYS (10 * 365 + 3) /* 10 years */
#define READER_DAYS 365

bool tes_pki_path(char *out, size_t cap, const char *dir, const char *file)
{
    if (snprintf(out, cap, "%s/%s", dir, file) < (int)cap)
        return true;
    tes_err_set(TES_ERR_ARG, "path too long: %s/%s", dir, file);
    return false;
}

bool tes_pki_country_ok(const char *cc)
{
    return cc != NULL && strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' &&
           cc[1] <= 'Z';
}

tes_err tes_pki_prepare_dir(const char *dir, const char *what, const char *obj,
                            const char *const *files, size_t n, bool force)
{
    bool created;
    tes_err e = tes_dir_secret(dir, &created);
    if (e != TES_OK || created)
        return e;
    for (size_t i = 0; i < n && !force; i++) {
        char path[PATH_MAX];
        if (!tes_pki_path(path, sizeof path, dir, files[i]))
            return TES_ERR_ARG;
        if (access(path, F_OK) == 0)
            return tes_err_set(TES_ERR_EXISTS,
                               "'%s' already holds %s (%s exists); refusing to overwrite %s", dir,
                               what, files[i], obj);
    }
    return TES_OK;
}

tes_err tes_pki_write_key(const char *dir, const char *file, const tes_key *k)
{
    char path[PATH_MAX];
    if (!tes_pki_path(path, sizeof path, dir, file))
        return TES_ERR_ARG;
    tes_buf pem = {.secret = true};
    tes_err e = tes_key_to_pem(k, true, &pem);
    if (e == TES_OK)
        e = tes_file_write(path, tes_buf_bytes(&pem), 0600);
    tes_buf_free(&pem);
    if (e != TES_OK)
        return tes_err_set(e, "writing %s: %s", path, tes_err_message());
    return TES_OK;
}

tes_err tes_pki_write_cert(const char *dir, const char *file, const tes_cert *c)
{
    char path[PATH_MAX];
    if (!tes_pki_path(path, sizeof path, dir, file))
        return TES_ERR_ARG;
    tes_buf pem = {0};
    tes_err e = tes_cert_to_pem(c, &pem);
    if (e == TES_OK)
        e = tes_file_write(path, tes_buf_bytes(&pem), 0644);
    tes_buf_free(&pem);
    if (e != TES_OK)
        return tes_err_set(e, "writing %s: %s", path, tes_err_message());
    return TES_OK;
}

static bool name_ok(const char *s)
{
    return s != NULL && *s != '\0' && strlen(s) <= TES_READER_NAME_MAX;
}

bool tes_rp_dns_name_ok(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > TES_RP_DNS_MAX)
        return false;
    size_t label = 0;
    for (const char *c = s;; c++) {
        if (*c == '.' || *c == '\0') {
            if (label == 0 || label > 63 || c[-1] == '-' || c[-(ptrdiff_t)label] == '-')
                return false;
            if (*c == '\0')
                return true;
            label = 0;
            continue;
        }
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '-';
        if (!ok)
            return false;
        label++;
    }
}

/* ---- the reader authority ---- */

tes_err tes_reader_ca_create(const tes_reader_ca_params *p, tes_cert **root_out)
{
    if (root_out)
        *root_out = NULL;
    if (p == NULL || p->dir == NULL || *p->dir == '\0')
        return tes_err_set(TES_ERR_ARG, "tes_reader_ca_create: no directory");
    if (!name_ok(p->name))
        return tes_err_set(TES_ERR_ARG, "the reader authority's name must be 1..%d bytes",
                           TES_READER_NAME_MAX);
    const char *country = p->country ? p->country : "UT";
    if (!tes_pki_country_ok(country))
        return tes_err_set(TES_ERR_ARG, "the country must be two upper-case letters, not '%s'",
                           country);
    static const char *const files[] = {TES_READER_CA_CERT, TES_READER_CA_KEY};
    tes_err e = tes_pki_prepare_dir(p->dir, "a reader authority", "it", files, 2, p->force);
    if (e != TES_OK)
        return e;
    int64_t now = p->now ? p->now : tes_clock_now(NULL); /* 0: the system clock */
    tes_key *key = NULL;
    tes_cert *root = NULL;
    if ((e = tes_key_generate(TES_CURVE_P256, &key)) != TES_OK) {
        e = tes_err_set(e, "generating the root key: %s", tes_err_message());
        goto out;
    }
    const tes_cert_template t = {
        .common_name = p->name,
        .country = country,
        .not_before = now - TES_PKI_SKEW,
        .not_after = now + READER_ROOT_DAYS * TES_PKI_DAY,
        .is_ca = true,
        .path_len = 0,
        .key_usage = TES_KU_KEY_CERT_SIGN | TES_KU_CRL_SIGN,
    };
    if ((e = tes_cert_create(&t, key, NULL, key, &root)) != TES_OK) {
        e = tes_err_set(e, "creating the root certificate: %s", tes_err_message());
        goto out;
    }
    /* the key first: a certificate without its key would be useless */
    if ((e = tes_pki_write_key(p->dir, TES_READER_CA_KEY, key)) != TES_OK ||
        (e = tes_pki_write_cert(p->dir, TES_READER_CA_CERT, root)) != TES_OK)
        goto out;
    if (root_out) {
        *root_out = root;
        root = NULL;
    }
out:
    tes_cert_free(root);
    tes_key_free(key);
    return e;
}

/* ---- reader certificates ---- */

static tes_err load_ca(const char *dir, tes_cert **root, tes_key **key)
{
    char cert_path[PATH_MAX], key_path[PATH_MAX];
    if (!tes_pki_path(cert_path, sizeof cert_path, dir, TES_READER_CA_CERT) ||
        !tes_pki_path(key_path, sizeof key_path, dir, TES_READER_CA_KEY))
        return TES_ERR_ARG;
    if (access(cert_path, R_OK) != 0 || access(key_path, R_OK) != 0)
        return tes_err_set(TES_ERR_NOT_FOUND,
                           "'%s' is not a reader authority (needs %s and %s)", dir,
                           TES_READER_CA_CERT, TES_READER_CA_KEY);
    tes_buf raw = {0};
    tes_err e = tes_file_read(cert_path, 1u << 20, &raw);
    if (e == TES_OK && (e = tes_cert_parse_any(tes_buf_bytes(&raw), root)) != TES_OK)
        e = tes_err_set(e, "reader authority certificate: '%s' is not a certificate (PEM or "
                           "DER): %s",
                        cert_path, tes_err_message());
    else if (e != TES_OK)
        e = tes_err_set(e, "reader authority certificate: %s", tes_err_message());
    tes_buf_free(&raw);
    if (e != TES_OK)
        return e;
    raw = (tes_buf){.secret = true};
    e = tes_file_read(key_path, 1u << 20, &raw);
    if (e == TES_OK && (e = tes_key_parse(tes_buf_bytes(&raw), key)) != TES_OK)
        e = tes_err_set(e, "reader authority key: '%s' is not a usable key: %s", key_path,
                        tes_err_message());
    else if (e != TES_OK)
        e = tes_err_set(e, "reader authority key: %s", tes_err_message());
    tes_buf_free(&raw);
    if (e != TES_OK)
        return e;
    if (!tes_key_has_private(*key) || !tes_key_equal_public(*key, tes_cert_key(*root)))
        return tes_err_set(TES_ERR_KEY_MALFORMED, "%s is not the private key of %s", key_path,
                           cert_path);
    return TES_OK;
}

tes_err tes_reader_cert_issue(const tes_reader_cert_params *p, tes_cert **cert_out)
{
    if (cert_out)
        *cert_out = NULL;
    if (p == NULL || p->ca_dir == NULL || *p->ca_dir == '\0' || p->out_dir == NULL ||
        *p->out_dir == '\0')
        return tes_err_set(TES_ERR_ARG, "tes_reader_cert_issue: no directory");
    if (!name_ok(p->name))
        return tes_err_set(TES_ERR_ARG, "the reader's name must be 1..%d bytes",
                           TES_READER_NAME_MAX);
    if (p->purpose && strlen(p->purpose) > TES_READER_NAME_MAX)
        return tes_err_set(TES_ERR_ARG, "the purpose must be at most %d bytes",
                           TES_READER_NAME_MAX);
    if (p->n_scope == 0 || p->scope == NULL)
        return tes_err_set(TES_ERR_ARG, "the scope lists no element");
    if (p->n_scope > TES_READER_SCOPE_MAX)
        return tes_err_set(TES_ERR_ARG, "the scope lists more than %d elements",
                           TES_READER_SCOPE_MAX);
    for (size_t i = 0; i < p->n_scope; i++) {
        const char *el = p->scope[i];
        const char *slash = el ? strrchr(el, '/') : NULL;
        if (slash == NULL || slash == el || slash[1] == '\0')
            return tes_err_set(TES_ERR_ARG, "scope: '%s' is not NAMESPACE/ELEMENT",
                               el ? el : "(null)");
    }
    if (p->country && !tes_pki_country_ok(p->country))
        return tes_err_set(TES_ERR_ARG, "the country must be two upper-case letters, not '%s'",
                           p->country);
    if (p->dns_name && !tes_rp_dns_name_ok(p->dns_name))
        return tes_err_set(TES_ERR_ARG, "'%s' is not a DNS name (letters, digits, '-', '.')",
                           p->dns_name);
    int64_t now = p->now ? p->now : tes_clock_now(NULL); /* 0: the system clock */
    int64_t days = p->valid_days ? (int64_t)p->valid_days : READER_DAYS;
    int64_t nb = p->not_before ? p->not_before : now - TES_PKI_SKEW;
    int64_t na = p->not_after ? p->not_after : now + days * TES_PKI_DAY;
    if (na <= nb)
        return tes_err_set(TES_ERR_ARG, "the validity ends before it starts");

    tes_cert *root = NULL, *cert = NULL;
    tes_key *root_key = NULL, *key = NULL;
    tes_buf ext = {0};
    static const char *const files[] = {TES_READER_CERT, TES_READER_KEY};
    tes_err e = load_ca(p->ca_dir, &root, &root_key);
    if (e != TES_OK)
        goto out;
    if ((e = tes_pki_prepare_dir(p->out_dir, "a reader certificate", "it", files, 2, p->force)) !=
        TES_OK)
        goto out;
    if ((e = tes_reader_scope_encode(p->purpose ? p->purpose : "", p->scope, p->n_scope, &ext)) !=
        TES_OK) {
        e = tes_err_set(e, "encoding the scope: %s", tes_err_message());
        goto out;
    }
    if ((e = tes_key_generate(TES_CURVE_P256, &key)) != TES_OK) {
        e = tes_err_set(e, "generating the reader key: %s", tes_err_message());
        goto out;
    }
    const char *country = p->country;
    if (country == NULL && tes_cert_get_info(root)->country[0] != '\0')
        country = tes_cert_get_info(root)->country;
    const tes_cert_template t = {
        .common_name = p->name,
        .country = country,
        .not_before = nb,
        .not_after = na,
        .is_ca = false,
        .path_len = -1,
        .key_usage = TES_KU_DIGITAL_SIGNATURE,
        .eku_oid = TES_OID_EKU_MDL_READER,
        .extra_oid = TES_OID_READER_SCOPE,
        .extra_value = tes_buf_bytes(&ext),
        .san_dns = p->dns_name,
    };
    if ((e = tes_cert_create(&t, key, root, root_key, &cert)) != TES_OK) {
        e = tes_err_set(e, "creating the reader certificate: %s", tes_err_message());
        goto out;
    }
    if ((e = tes_pki_write_key(p->out_dir, TES_READER_KEY, key)) != TES_OK ||
        (e = tes_pki_write_cert(p->out_dir, TES_READER_CERT, cert)) != TES_OK)
        goto out;
    if (cert_out) {
        *cert_out = cert;
        cert = NULL;
    }
out:
    tes_buf_free(&ext);
    tes_cert_free(cert);
    tes_cert_free(root);
    tes_key_free(key);
    tes_key_free(root_key);
    return e;
}
