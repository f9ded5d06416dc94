/*
 * The hotel: issues room keys for the endpoint keys guests' phones made, and revocation
 * documents for keys given back early or phones reported lost (docs/KEYS.md, "The hotel").
 *
 * Files of a hotel directory: hotel.json {"version": 1, "name", "group_id"},
 * issuer_key.pem and reader_key.pem (0600, created exclusively), issued.jsonl (one JSON
 * object a line, appended and fsynced: the hotel's record of every key), revocation.cbor
 * (the newest revocation document, replaced atomically).
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/access.h"
#include "tessera/cose.h"

#define HOTEL_JSON_MAX 4096
#define ISSUED_MAX (16u << 20)
#define REVOCATION_MAX (64u << 10)

struct tes_hotel {
    char dir[4000];
    char name[64];
    uint8_t group_id[TES_ACCESS_GROUP_ID_LEN];
    tes_key *issuer;
    tes_key *reader;
    tes_clock clock;
    const tes_rng *rng;
};

static void hexs(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static bool unhex(const char *s, uint8_t *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

static bool name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7F)
            return false;
    return true;
}

static void path_of(const char *dir, const char *file, char out[4096])
{
    snprintf(out, 4096, "%s/%s", dir, file);
}

static tes_err write_key(const char *dir, const char *file, const tes_key *k)
{
    char p[4096];
    path_of(dir, file, p);
    struct stat st;
    if (lstat(p, &st) == 0)
        return tes_err_set(TES_ERR_EXISTS, "hotel: %s exists already", p);
    tes_buf pem = {.secret = true};
    tes_err err = tes_key_to_pem(k, true, &pem);
    if (!err)
        err = tes_file_write(p, tes_buf_bytes(&pem), 0600);
    tes_buf_free(&pem);
    return err;
}

tes_err tes_hotel_init(const char *dir, const char *name, const tes_hotel_opts *o)
{
    if (!dir || !name_ok(name))
        return tes_err_set(TES_ERR_ARG, "hotel: the name must be 1 to 63 printable bytes");
    char p[4096];
    path_of(dir, "hotel.json", p);
    struct stat st;
    if (stat(p, &st) == 0)
        return tes_err_set(TES_ERR_EXISTS, "hotel: %s exists already", p);
    bool created;
    tes_err err = tes_dir_secret(dir, &created);
    if (err)
        return err;
    uint8_t gid[TES_ACCESS_GROUP_ID_LEN];
    if (tes_rng_fill(o ? o->rng : NULL, gid, sizeof gid) != 0)
        return tes_err_set(TES_ERR_RANDOM, "hotel: no randomness");
    tes_key *issuer = NULL, *reader = NULL;
    err = tes_key_generate(TES_CURVE_P256, &issuer);
    if (!err)
        err = tes_key_generate(TES_CURVE_P256, &reader);
    if (!err)
        err = write_key(dir, "issuer_key.pem", issuer);
    if (!err)
        err = write_key(dir, "reader_key.pem", reader);
    tes_key_free(issuer);
    tes_key_free(reader);
    char ghex[33];
    hexs(gid, sizeof gid, ghex);
    json_t *j = json_pack("{s:i, s:s, s:s}", "version", 1, "name", name, "group_id", ghex);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!err && !text)
        err = tes_err_set(TES_ERR_NOMEM, "hotel: out of memory");
    if (!err) /* last: hotel.json makes the directory a hotel */
        err = tes_file_write(p, TES_BYTES(text, strlen(text)), 0644);
    free(text);
    return err;
}

static tes_err read_key(const char *dir, const char *file, tes_key **out)
{
    char p[4096];
    path_of(dir, file, p);
    tes_buf pem = {.secret = true};
    tes_err err = tes_file_read(p, 8192, &pem);
    if (!err)
        err = tes_key_parse(tes_buf_bytes(&pem), out);
    tes_buf_free(&pem);
    if (!err && (!tes_key_has_private(*out) || tes_key_curve(*out) != TES_CURVE_P256))
        err = TES_ERR_KEY_MALFORMED;
    if (err)
        return tes_err_set(TES_ERR_LOCK_CONFIG, "hotel %s: %s is not a P-256 private key", dir,
                           file);
    return TES_OK;
}

tes_err tes_hotel_open(const char *dir, const tes_hotel_opts *o, tes_hotel **out)
{
    if (!dir || !out || strlen(dir) >= sizeof((tes_hotel *)0)->dir)
        return tes_err_set(TES_ERR_ARG, "tes_hotel_open: bad argument");
    *out = NULL;
    tes_hotel *h = calloc(1, sizeof *h);
    if (!h)
        return tes_err_set(TES_ERR_NOMEM, "hotel: out of memory");
    snprintf(h->dir, sizeof h->dir, "%s", dir);
    h->clock = o && o->clock ? *o->clock : tes_clock_system();
    h->rng = o ? o->rng : NULL;
    char p[4096];
    path_of(dir, "hotel.json", p);
    tes_buf text = {0};
    tes_err err = tes_file_read(p, HOTEL_JSON_MAX, &text);
    json_t *j = err ? NULL : json_loadb((const char *)text.ptr, text.len, 0, NULL);
    const char *name = NULL, *gid = NULL;
    json_int_t ver = 0;
    if (!j || json_unpack(j, "{s:I, s:s, s:s}", "version", &ver, "name", &name, "group_id",
                          &gid) != 0 ||
        ver != 1 || !name_ok(name) || !unhex(gid, h->group_id, TES_ACCESS_GROUP_ID_LEN))
        err = tes_err_set(TES_ERR_LOCK_CONFIG, "hotel %s: hotel.json is missing or inconsistent",
                          dir);
    else
        snprintf(h->name, sizeof h->name, "%s", name);
    json_decref(j);
    tes_buf_free(&text);
    if (!err)
        err = read_key(dir, "issuer_key.pem", &h->issuer);
    if (!err)
        err = read_key(dir, "reader_key.pem", &h->reader);
    if (err) {
        tes_hotel_close(h);
        return err;
    }
    *out = h;
    return TES_OK;
}

void tes_hotel_close(tes_hotel *h)
{
    if (!h)
        return;
    tes_key_free(h->issuer);
    tes_key_free(h->reader);
    free(h);
}

const char *tes_hotel_name(const tes_hotel *h) { return h->name; }
const uint8_t *tes_hotel_group_id(const tes_hotel *h) { return h->group_id; }
const tes_key *tes_hotel_reader_key(const tes_hotel *h) { return h->reader; }
const tes_key *tes_hotel_issuer_key(const tes_hotel *h) { return h->issuer; }

static void point(const tes_key *k, uint8_t out[TES_ACCESS_POINT_LEN])
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    out[0] = 0x04;
    if (tes_key_public_raw(k, x, y) == TES_OK) {
        memcpy(out + 1, x, 32);
        memcpy(out + 33, y, 32);
    }
}

/* Appends one line to issued.jsonl and makes it durable. */
static tes_err record(tes_hotel *h, json_t *line)
{
    char p[4096];
    path_of(h->dir, "issued.jsonl", p);
    char *text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return tes_err_set(TES_ERR_NOMEM, "hotel: out of memory");
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    tes_err err = TES_OK;
    size_t n = strlen(text);
    text[n] = '\n';
    if (fd < 0 || write(fd, text, n + 1) != (ssize_t)(n + 1) || fsync(fd) != 0)
        err = tes_err_set(TES_ERR_IO, "hotel: cannot record the key in %s", p);
    if (fd >= 0)
        close(fd);
    free(text);
    return err;
}

tes_err tes_hotel_issue_key(tes_hotel *h, tes_bytes key_request, const tes_hotel_key_params *p,
                            tes_buf *package, uint8_t key_id[TES_ACCESS_KEY_ID_LEN])
{
    if (!h || !p || !package || !key_id)
        return tes_err_set(TES_ERR_ARG, "tes_hotel_issue_key: NULL argument");
    if (p->n_rooms == 0 || p->n_rooms > TES_ACCESS_MAX_ROOMS || !p->rooms)
        return tes_err_set(TES_ERR_ARG, "hotel: a key opens 1 to %d rooms", TES_ACCESS_MAX_ROOMS);
    if (p->not_before >= p->not_after)
        return tes_err_set(TES_ERR_ARG, "hotel: check-out must come after check-in");
    tes_access_key_request req;
    tes_err err = tes_access_key_request_parse(key_request, &req);
    if (err)
        return err;
    tes_access_grant g = {.not_before = p->not_before,
                          .not_after = p->not_after,
                          .daily_from = p->daily_from,
                          .daily_until = p->daily_until,
                          .signed_at = tes_clock_now(&h->clock)};
    memcpy(g.group_id, h->group_id, TES_ACCESS_GROUP_ID_LEN);
    memcpy(g.endpoint_key, req.endpoint_key, TES_ACCESS_POINT_LEN);
    for (size_t i = 0; i < p->n_rooms; i++) {
        size_t n = p->rooms[i] ? strlen(p->rooms[i]) : 0;
        if (n == 0 || n >= TES_ACCESS_ROOM_MAX)
            return tes_err_set(TES_ERR_ARG, "hotel: room names are 1 to %d characters",
                               TES_ACCESS_ROOM_MAX - 1);
        memcpy(g.rooms[i], p->rooms[i], n + 1);
    }
    g.n_rooms = p->n_rooms;
    if (tes_rng_fill(h->rng, g.key_id, sizeof g.key_id) != 0)
        return tes_err_set(TES_ERR_RANDOM, "hotel: no randomness");
    tes_signer s = tes_signer_from_key(h->issuer);
    tes_buf doc = {0}, rev = {0};
    err = tes_access_doc_issue(&g, &s, h->issuer, h->rng, &doc);
    if (!err)
        err = tes_hotel_revocation(h, &rev);
    tes_access_key_package pk = {.document = tes_buf_bytes(&doc), .revocation = tes_buf_bytes(&rev)};
    snprintf(pk.issuer, sizeof pk.issuer, "%s", h->name);
    memcpy(pk.group_id, h->group_id, TES_ACCESS_GROUP_ID_LEN);
    point(h->reader, pk.reader_key);
    point(h->issuer, pk.issuer_key);
    if (!err) {
        char kid[33], ek[131];
        hexs(g.key_id, sizeof g.key_id, kid);
        hexs(g.endpoint_key, TES_ACCESS_POINT_LEN, ek);
        json_t *rooms = json_array();
        for (size_t i = 0; i < g.n_rooms; i++)
            json_array_append_new(rooms, json_string(g.rooms[i]));
        json_t *line = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:s}", "key_id", kid,
                                 "endpoint_key", ek, "rooms", rooms, "not_before",
                                 (json_int_t)g.not_before, "not_after", (json_int_t)g.not_after,
                                 "issued_at", (json_int_t)g.signed_at, "guest",
                                 p->guest ? p->guest : "");
        err = line ? record(h, line) : tes_err_set(TES_ERR_NOMEM, "hotel: out of memory");
        json_decref(line);
    }
    if (!err)
        err = tes_access_key_package_encode(&pk, package);
    if (!err)
        memcpy(key_id, g.key_id, TES_ACCESS_KEY_ID_LEN);
    tes_buf_free(&doc);
    tes_buf_free(&rev);
    return err;
}

tes_err tes_hotel_revocation(tes_hotel *h, tes_buf *doc)
{
    if (!h || !doc)
        return tes_err_set(TES_ERR_ARG, "tes_hotel_revocation: NULL argument");
    char p[4096];
    path_of(h->dir, "revocation.cbor", p);
    struct stat st;
    if (stat(p, &st) != 0)
        return TES_OK; /* none made yet */
    return tes_file_read(p, REVOCATION_MAX, doc);
}

/* The key ids issued to one phone, from issued.jsonl. */
static tes_err keys_of(tes_hotel *h, const uint8_t *endpoint_key, const uint8_t *key_id,
                       uint8_t (*out)[TES_ACCESS_KEY_ID_LEN], size_t max, size_t *n)
{
    char p[4096];
    path_of(h->dir, "issued.jsonl", p);
    tes_buf text = {0};
    *n = 0;
    struct stat st;
    if (stat(p, &st) != 0)
        return tes_err_set(TES_ERR_NOT_FOUND, "hotel: no key was issued yet");
    tes_err err = tes_file_read(p, ISSUED_MAX, &text);
    if (err)
        return err;
    char want_ek[131] = "", want_kid[33] = "";
    if (endpoint_key)
        hexs(endpoint_key, TES_ACCESS_POINT_LEN, want_ek);
    if (key_id)
        hexs(key_id, TES_ACCESS_KEY_ID_LEN, want_kid);
    size_t off = 0;
    while (off < text.len && *n < max) {
        const uint8_t *nl = memchr(text.ptr + off, '\n', text.len - off);
        size_t len = nl ? (size_t)(nl - (text.ptr + off)) : text.len - off;
        json_t *j = json_loadb((const char *)text.ptr + off, len, 0, NULL);
        const char *kid = NULL, *ek = NULL;
        if (j && json_unpack(j, "{s:s, s:s}", "key_id", &kid, "endpoint_key", &ek) == 0 &&
            ((endpoint_key && strcmp(ek, want_ek) == 0) || (key_id && strcmp(kid, want_kid) == 0)) &&
            unhex(kid, out[*n], TES_ACCESS_KEY_ID_LEN))
            (*n)++;
        json_decref(j); /* a torn last line (a crash while appending) is skipped */
        off += len + 1;
    }
    tes_buf_free(&text);
    if (*n == 0)
        return tes_err_set(TES_ERR_NOT_FOUND, "hotel: no such key was issued");
    return TES_OK;
}

tes_err tes_hotel_revoke(tes_hotel *h, const uint8_t *key_id, const uint8_t *endpoint_key,
                         size_t *n_new, tes_buf *doc)
{
    if (!h || !n_new || (!key_id == !endpoint_key))
        return tes_err_set(TES_ERR_ARG, "tes_hotel_revoke: give a key id or an endpoint key");
    *n_new = 0;
    tes_access_revocation *r = calloc(1, sizeof *r);
    uint8_t(*ids)[TES_ACCESS_KEY_ID_LEN] = calloc(TES_ACCESS_MAX_REVOKED, TES_ACCESS_KEY_ID_LEN);
    tes_buf old = {0}, fresh = {0};
    tes_err err = r && ids ? TES_OK : tes_err_set(TES_ERR_NOMEM, "hotel: out of memory");
    size_t n = 0;
    if (!err)
        err = keys_of(h, endpoint_key, key_id, ids, TES_ACCESS_MAX_REVOKED, &n);
    if (!err)
        err = tes_hotel_revocation(h, &old);
    if (!err && old.len) {
        const tes_key *issuers[1] = {h->issuer};
        err = tes_access_revocation_verify(tes_buf_bytes(&old), issuers, 1, r);
    }
    if (!err) {
        memcpy(r->group_id, h->group_id, TES_ACCESS_GROUP_ID_LEN);
        for (size_t i = 0; i < n; i++) {
            bool have = false;
            for (size_t k = 0; k < r->n_keys; k++)
                have |= memcmp(r->keys[k], ids[i], TES_ACCESS_KEY_ID_LEN) == 0;
            if (have)
                continue;
            if (r->n_keys == TES_ACCESS_MAX_REVOKED) {
                err = tes_err_set(TES_ERR_ARG, "hotel: the revocation list is full (%d keys)",
                                  TES_ACCESS_MAX_REVOKED);
                break;
            }
            memcpy(r->keys[r->n_keys++], ids[i], TES_ACCESS_KEY_ID_LEN);
            (*n_new)++;
        }
    }
    if (!err) {
        int64_t now = tes_clock_now(&h->clock);
        r->version = now > r->version ? now : r->version + 1;
        tes_signer s = tes_signer_from_key(h->issuer);
        err = tes_access_revocation_issue(r, &s, h->issuer, h->rng, &fresh);
    }
    if (!err) {
        char p[4096];
        path_of(h->dir, "revocation.cbor", p);
        err = tes_file_write(p, tes_buf_bytes(&fresh), 0644);
    }
    if (!err && doc)
        tes_buf_append(doc, fresh.ptr, fresh.len);
    if (!err && doc && doc->failed)
        err = tes_err_set(TES_ERR_NOMEM, "hotel: out of memory");
    free(r);
    free(ids);
    tes_buf_free(&old);
    tes_buf_free(&fresh);
    return err;
}
