/*
 * The site directory of a relying party (rp.h): creating it (tes_rp_init)
 * and loading it for the service (rp_site_load).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp/rp_internal.h"

#define FILE_MAX (1u << 20)

/* The default login query: the PID's age_over_18 and the per-site pseudonym. */
static const char DEFAULT_DCQL[] =
    "{\"credentials\":[{\"id\":\"pid\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":\"" TES_RP_PID_DOCTYPE
    "\"},\"claims\":[{\"path\":[\"" TES_RP_PID_DOCTYPE "\",\"age_over_18\"]},{\"path\":[\"" TES_RP_PSEUDONYM_NS
    "\",\"" TES_RP_PSEUDONYM_ELEMENT "\"]}]}]}\n";

static bool path_in(char *out, size_t cap, const char *dir, const char *name)
{
    return snprintf(out, cap, "%s/%s", dir, name) < (int)cap;
}

bool rp_url_host(const char *url, char *host, size_t cap, bool *https)
{
    const char *rest;
    if (strncmp(url, "https://", 8) == 0) {
        *https = true;
        rest = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        *https = false;
        rest = url + 7;
    } else {
        return false;
    }
    size_t n = strcspn(rest, "/?#");
    if (rest[n] != '\0' && strcmp(rest + n, "/") != 0)
        return false; /* a path, query or fragment */
    const char *end = rest + n, *colon = NULL;
    if (rest[0] == '[') {
        const char *rb = memchr(rest, ']', n);
        if (rb == NULL)
            return false;
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return false;
        n = (size_t)(rb + 1 - rest);
    } else {
        colon = memchr(rest, ':', n);
        if (colon)
            n = (size_t)(colon - rest);
    }
    if (colon) {
        for (const char *p = colon + 1; p < end; p++)
            if (*p < '0' || *p > '9')
                return false;
        if (colon + 1 == end || end - colon > 6)
            return false;
    }
    if (n == 0 || n >= cap)
        return false;
    memcpy(host, rest, n);
    host[n] = '\0';
    if (!*https)
        return strcasecmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
               strcmp(host, "[::1]") == 0;
    return true;
}

/* Reads every certificate of path into chain (appending). */
static tes_err read_certs(const char *path, tes_cert **chain, size_t *n)
{
    tes_buf b = {0};
    tes_err e = tes_file_read(path, FILE_MAX, &b);
    size_t got = 0;
    if (e == TES_OK)
        e = tes_cert_parse_all(tes_buf_bytes(&b), chain + *n, RP_CHAIN_MAX - *n, &got);
    tes_buf_free(&b);
    if (e != TES_OK)
        return tes_err_set(e, "%s: %s", path, tes_err_message());
    if (got == 0)
        return tes_err_set(TES_ERR_CERT_MALFORMED, "%s: no certificate", path);
    *n += got;
    return TES_OK;
}

static tes_err read_key(const char *path, tes_key **out, tes_buf *pem)
{
    tes_err e = tes_file_read(path, FILE_MAX, pem);
    if (e == TES_OK)
        e = tes_key_parse(tes_buf_bytes(pem), out);
    if (e != TES_OK)
        return tes_err_set(e, "%s: %s", path, tes_err_message());
    if (!tes_key_has_private(*out) || tes_key_curve(*out) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_KEY_MALFORMED, "%s: not a P-256 private key", path);
    return TES_OK;
}

/* The client_id of the leaf for prefix. */
static tes_err client_id_of(const tes_cert *leaf, tes_rp_client_id_prefix prefix, char *out,
                            size_t cap)
{
    if (prefix == TES_RP_X509_HASH) {
        tes_buf b = {0};
        tes_b64url_encode(&b, TES_BYTES(tes_cert_get_info(leaf)->sha256, 32));
        int n = b.failed ? -1 : snprintf(out, cap, "x509_hash:%.*s", (int)b.len, (char *)b.ptr);
        tes_buf_free(&b);
        return n < 0 || n >= (int)cap ? tes_err_set(TES_ERR_NOMEM, "out of memory") : TES_OK;
    }
    char dns[TES_RP_DNS_MAX + 1];
    tes_err e = tes_cert_san_dns(leaf, dns, sizeof dns);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_RP_PROFILE,
                           "the site's certificate has no subjectAltName dNSName (issue it with "
                           "'reader-ca issue --dns NAME')");
    snprintf(out, cap, "x509_san_dns:%s", dns);
    return TES_OK;
}

/* For x509_san_dns the public URL's host must be the certificate's name
 * (the wallet checks response_uri against it, OpenID4VP 1.0 §5.9.3). */
static tes_err check_url(const char *url, const tes_cert *leaf, tes_rp_client_id_prefix prefix,
                         bool *https)
{
    char host[TES_RP_DNS_MAX + 3];
    if (!rp_url_host(url, host, sizeof host, https))
        return tes_err_set(TES_ERR_RP_CONFIG,
                           "public URL '%.200s' is not https://NAME[:PORT] (http only for "
                           "localhost, 127.0.0.1, [::1])",
                           url);
    if (prefix == TES_RP_X509_SAN_DNS && !tes_cert_san_has_dns(leaf, host))
        return tes_err_set(TES_ERR_RP_CONFIG,
                           "the public URL's host '%s' is not the certificate's DNS name", host);
    return TES_OK;
}

static tes_err write_new(const char *dir, const char *name, tes_bytes data, mode_t mode)
{
    char p[4096];
    if (!path_in(p, sizeof p, dir, name))
        return tes_err_set(TES_ERR_ARG, "path too long");
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return tes_err_set(errno == EEXIST ? TES_ERR_EXISTS : TES_ERR_IO, "%s: %s", p,
                           strerror(errno));
    size_t off = 0;
    while (off < data.len) {
        ssize_t w = write(fd, data.ptr + off, data.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return tes_err_set(TES_ERR_IO, "%s: %s", p, strerror(errno));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        return tes_err_set(TES_ERR_IO, "%s: %s", p, strerror(errno));
    return TES_OK;
}

static tes_err random_b64(const tes_rng *rng, size_t n, tes_buf *out)
{
    uint8_t r[32];
    tes_err e = tes_rng_fill(rng, r, n);
    if (e == TES_OK)
        tes_b64url_encode(out, TES_BYTES(r, n));
    tes_wipe(r, sizeof r);
    return e != TES_OK ? e : out->failed ? TES_ERR_NOMEM : TES_OK;
}

/* Writes the files of a new site; nothing exists in dir yet. */
static tes_err write_site(const tes_rp_init_params *p, tes_cert *const *chain, size_t n,
                          const tes_buf *key_pem, const char *name)
{
    tes_buf pem = {0}, api = {.secret = true}, dbk = {.secret = true};
    tes_err e = TES_OK;
    for (size_t i = 0; i < n && e == TES_OK; i++)
        e = tes_cert_to_pem(chain[i], &pem);
    tes_rng rng = tes_rng_system();
    uint8_t k[32];
    if (e == TES_OK && (e = random_b64(&rng, 32, &api)) == TES_OK)
        tes_buf_append(&api, "\n", 1);
    if (e == TES_OK && (e = tes_rng_fill(&rng, k, 32)) == TES_OK)
        tes_buf_append(&dbk, k, 32);
    tes_wipe(k, sizeof k);
    json_t *set = json_pack("{s:s, s:s, s:s}", "public_url", p->public_url, "client_id_prefix",
                            p->prefix == TES_RP_X509_HASH ? "x509_hash" : "x509_san_dns", "name",
                            name);
    char *set_text = set ? json_dumps(set, JSON_INDENT(2)) : NULL;
    json_decref(set);
    if (e == TES_OK && (set_text == NULL || api.failed || dbk.failed))
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (e == TES_OK)
        e = write_new(p->dir, TES_RP_KEY, tes_buf_bytes(key_pem), 0600);
    if (e == TES_OK)
        e = write_new(p->dir, RP_DB_KEY, tes_buf_bytes(&dbk), 0600);
    if (e == TES_OK)
        e = write_new(p->dir, TES_RP_API_KEY, tes_buf_bytes(&api), 0600);
    if (e == TES_OK)
        e = write_new(p->dir, TES_RP_CERT, tes_buf_bytes(&pem), 0644);
    if (e == TES_OK)
        e = write_new(p->dir, TES_RP_SITE_DCQL, TES_BYTES(DEFAULT_DCQL, strlen(DEFAULT_DCQL)),
                      0644);
    if (e == TES_OK)
        e = write_new(p->dir, TES_RP_SETTINGS, TES_BYTES(set_text, strlen(set_text)), 0644);
    free(set_text);
    tes_buf_free(&pem);
    tes_buf_free(&api);
    tes_buf_free(&dbk);
    return e;
}

static tes_err site_exists(const char *dir)
{
    static const char *const files[] = {TES_RP_KEY, TES_RP_CERT, TES_RP_API_KEY, TES_RP_SETTINGS,
                                        RP_DB_KEY};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[4096];
        struct stat st;
        if (path_in(p, sizeof p, dir, files[i]) && lstat(p, &st) == 0)
            return tes_err_set(TES_ERR_EXISTS, "%s already holds a site (%s)", dir, files[i]);
    }
    return TES_OK;
}

tes_err tes_rp_init(const tes_rp_init_params *p)
{
    if (p == NULL || p->dir == NULL || p->cert_file == NULL || p->key_file == NULL ||
        p->public_url == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_rp_init: dir, cert_file, key_file and public_url "
                                        "are required");
    if (p->prefix != TES_RP_X509_SAN_DNS && p->prefix != TES_RP_X509_HASH)
        return tes_err_set(TES_ERR_ARG, "tes_rp_init: unknown client_id prefix");
    tes_cert *chain[RP_CHAIN_MAX] = {0};
    size_t n = 0;
    tes_key *key = NULL;
    tes_buf key_pem = {.secret = true};
    char cid[TES_OID4VP_CLIENT_ID_MAX + 1];
    bool https;
    bool created;
    tes_err e = read_certs(p->cert_file, chain, &n);
    if (e == TES_OK && p->chain_file)
        e = read_certs(p->chain_file, chain, &n);
    if (e == TES_OK)
        e = read_key(p->key_file, &key, &key_pem);
    if (e == TES_OK && !tes_key_equal_public(key, tes_cert_key(chain[0])))
        e = tes_err_set(TES_ERR_KEY_MALFORMED, "%s is not the key of %s", p->key_file,
                        p->cert_file);
    if (e == TES_OK)
        e = client_id_of(chain[0], p->prefix, cid, sizeof cid);
    if (e == TES_OK)
        e = check_url(p->public_url, chain[0], p->prefix, &https);
    const char *name = p->name ? p->name : tes_cert_get_info(chain[0])->common_name;
    if (e == TES_OK && (strlen(name) == 0 || strlen(name) > TES_READER_NAME_MAX))
        e = tes_err_set(TES_ERR_ARG, "the site's name must have 1..%d bytes", TES_READER_NAME_MAX);
    if (e == TES_OK)
        e = tes_dir_secret(p->dir, &created);
    if (e == TES_OK)
        e = site_exists(p->dir);
    if (e == TES_OK)
        e = write_site(p, chain, n, &key_pem, name);
    for (size_t i = 0; i < n; i++)
        tes_cert_free(chain[i]);
    tes_key_free(key);
    tes_buf_free(&key_pem);
    return e;
}

/* ---- loading ---- */

static tes_err load_settings(const char *dir, const char *url_override, rp_site *s,
                             tes_rp_client_id_prefix *prefix)
{
    char p[4096];
    path_in(p, sizeof p, dir, TES_RP_SETTINGS);
    json_error_t je;
    json_t *v = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
    const char *url = NULL, *pre = NULL, *name = NULL;
    if (v == NULL || json_unpack(v, "{s:s, s:s, s:s}", "public_url", &url, "client_id_prefix",
                                 &pre, "name", &name) != 0) {
        json_decref(v);
        return tes_err_set(TES_ERR_RP_CONFIG, "%s: not the settings of a site", p);
    }
    if (url_override)
        url = url_override;
    tes_err e = TES_OK;
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/')
        ul--;
    if (ul >= sizeof s->public_url || strlen(name) > TES_READER_NAME_MAX)
        e = tes_err_set(TES_ERR_RP_CONFIG, "%s: public_url or name too long", p);
    else if (strcmp(pre, "x509_hash") == 0)
        *prefix = TES_RP_X509_HASH;
    else if (strcmp(pre, "x509_san_dns") == 0)
        *prefix = TES_RP_X509_SAN_DNS;
    else
        e = tes_err_set(TES_ERR_RP_CONFIG, "%s: unknown client_id_prefix", p);
    if (e == TES_OK) {
        memcpy(s->public_url, url, ul);
        s->public_url[ul] = '\0';
        snprintf(s->name, sizeof s->name, "%s", name);
    }
    json_decref(v);
    return e;
}

static tes_err load_secret_line(const char *dir, const char *name, char *out, size_t cap)
{
    char p[4096];
    path_in(p, sizeof p, dir, name);
    tes_buf b = {.secret = true};
    tes_err e = tes_file_read(p, 4096, &b);
    size_t n = b.len;
    while (e == TES_OK && n > 0 && (b.ptr[n - 1] == '\n' || b.ptr[n - 1] == '\r'))
        n--;
    if (e == TES_OK && (n < 16 || n >= cap || !tes_jose_b64url_chars((const char *)b.ptr, n)))
        e = tes_err_set(TES_ERR_RP_CONFIG, "%s: not an API key", p);
    if (e == TES_OK) {
        memcpy(out, b.ptr, n);
        out[n] = '\0';
    }
    tes_buf_free(&b);
    return e;
}

static tes_err load_db_key(const char *dir, uint8_t key[32])
{
    char p[4096];
    path_in(p, sizeof p, dir, RP_DB_KEY);
    tes_buf b = {.secret = true};
    tes_err e = tes_file_read(p, 64, &b);
    if (e == TES_OK && b.len != 32)
        e = tes_err_set(TES_ERR_RP_CONFIG, "%s: not 32 bytes", p);
    if (e == TES_OK)
        memcpy(key, b.ptr, 32);
    tes_buf_free(&b);
    return e;
}

static tes_err load_dcql(const char *dir, rp_site *s)
{
    char p[4096], id[TES_DCQL_MAX_ID + 1];
    path_in(p, sizeof p, dir, TES_RP_SITE_DCQL);
    tes_buf b = {0};
    tes_err e = tes_file_read(p, TES_DCQL_MAX_INPUT, &b);
    if (e == TES_OK)
        e = rp_dcql_check((const char *)b.ptr, b.len, id, sizeof id, &s->site_dcql);
    tes_buf_free(&b);
    if (e != TES_OK)
        return tes_err_set(TES_ERR_RP_CONFIG, "%s: %s", p, tes_err_message());
    return TES_OK;
}

tes_err rp_site_load(const char *dir, const char *public_url, rp_site *s)
{
    memset(s, 0, sizeof *s);
    char p[4096];
    tes_rp_client_id_prefix prefix = TES_RP_X509_SAN_DNS;
    tes_buf pem = {.secret = true};
    tes_err e = load_settings(dir, public_url, s, &prefix);
    if (e == TES_OK && path_in(p, sizeof p, dir, TES_RP_CERT))
        e = read_certs(p, s->chain, &s->n_chain);
    if (e == TES_OK && path_in(p, sizeof p, dir, TES_RP_KEY))
        e = read_key(p, &s->key, &pem);
    tes_buf_free(&pem);
    if (e == TES_OK && !tes_key_equal_public(s->key, tes_cert_key(s->chain[0])))
        e = tes_err_set(TES_ERR_RP_CONFIG, "%s/%s is not the key of %s", dir, TES_RP_KEY,
                        TES_RP_CERT);
    if (e == TES_OK)
        e = client_id_of(s->chain[0], prefix, s->client_id, sizeof s->client_id);
    if (e == TES_OK)
        e = check_url(s->public_url, s->chain[0], prefix, &s->secure);
    if (e == TES_OK)
        e = load_secret_line(dir, TES_RP_API_KEY, s->api_key, sizeof s->api_key);
    if (e == TES_OK)
        e = load_db_key(dir, s->db_key);
    if (e == TES_OK)
        e = load_dcql(dir, s);
    if (e != TES_OK)
        rp_site_free(s);
    return e;
}

void rp_site_free(rp_site *s)
{
    for (size_t i = 0; i < s->n_chain; i++)
        tes_cert_free(s->chain[i]);
    tes_key_free(s->key);
    free(s->site_dcql);
    tes_wipe(s->api_key, sizeof s->api_key);
    tes_wipe(s->db_key, sizeof s->db_key);
    memset(s, 0, sizeof *s);
}
