/* bench/access.c — see access.h. The floor uses OpenSSL's EC_KEY / low-level
 * SHA-256 API like floor.c (compiled with OPENSSL_API_COMPAT=0x10100000L). */
#include "access.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <winscard.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdh.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include "tessera/access.h"
#include "tessera/lock.h"
#include "tessera/se.h"
#include "tessera/transport.h"

#define N_KNOWN 64
#define TIMEOUT_MS 5000

static void die(const char *what, tes_err e)
{
    fprintf(stderr, "bench access: %s: %s: %s\n", what, tes_err_name(e), tes_err_message());
    exit(1);
}
static void ossl_die(const char *what)
{
    fprintf(stderr, "bench access floor: %s failed\n", what);
    exit(1);
}
#define TRY(what, call)                                                                            \
    do {                                                                                           \
        tes_err e_ = (call);                                                                       \
        if (e_ != TES_OK)                                                                          \
            die(what, e_);                                                                         \
    } while (0)

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static double cpu_s(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }
static double wall_s(void) { return clock_s(CLOCK_MONOTONIC); }

static void point_of(const tes_key *k, uint8_t out[TES_ACCESS_POINT_LEN])
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    TRY("tes_key_public_raw", tes_key_public_raw(k, x, y));
    out[0] = 0x04;
    memcpy(out + 1, x, 32);
    memcpy(out + 33, y, 32);
}

static void rand_fill(uint8_t *p, size_t n)
{
    tes_rng r = tes_rng_system();
    if (r.fill(r.ctx, p, n) != 0)
        die("rng", TES_ERR_RANDOM);
}

/* ================================================================ an in-memory "secure element"
 * (row 9'): one plain tes_key behind the tes_se interface, sign only. */

typedef struct mem_se {
    tes_se base;
    tes_key *key;
} mem_se;

static tes_err mem_unsupported(void) { return tes_err_set(TES_ERR_UNSUPPORTED, "bench mem SE"); }
static uint32_t mem_caps(tes_se *se) { (void)se; return 0; }
static tes_err mem_create(tes_se *se, const tes_se_key_opts *o, char id[TES_SE_ID_MAX])
{ (void)se; (void)o; (void)id; return mem_unsupported(); }
static tes_err mem_info(tes_se *se, const char *id, tes_se_key_info *out)
{ (void)se; (void)id; (void)out; return mem_unsupported(); }
static tes_err mem_public(tes_se *se, const char *id, tes_key **out)
{ (void)se; (void)id; (void)out; return mem_unsupported(); }
static tes_err mem_sign(tes_se *se, const char *id, const char *pin, tes_bytes msg, uint8_t *sig,
                        size_t *sig_len)
{
    (void)id;
    (void)pin;
    return tes_key_sign(((mem_se *)se)->key, TES_HASH_SHA256, msg, sig, sig_len);
}
static tes_err mem_ka(tes_se *se, const char *id, const char *pin, const tes_key *peer,
                      uint8_t out[TES_MAX_COORD], size_t *n)
{ (void)se; (void)id; (void)pin; (void)peer; (void)out; (void)n; return mem_unsupported(); }
static tes_err mem_delete(tes_se *se, const char *id) { (void)se; (void)id; return mem_unsupported(); }
static tes_err mem_pin_set(tes_se *se, const char *a, const char *b)
{ (void)se; (void)a; (void)b; return mem_unsupported(); }
static tes_err mem_pin_verify(tes_se *se, const char *a) { (void)se; (void)a; return mem_unsupported(); }
static tes_err mem_pin_status(tes_se *se, int *a, int *b, bool *c)
{ (void)se; (void)a; (void)b; (void)c; return mem_unsupported(); }
static tes_err mem_list(tes_se *se, char (*ids)[TES_SE_ID_MAX], size_t max, size_t *n)
{ (void)se; (void)ids; (void)max; *n = 0; return TES_OK; }
static void mem_close(tes_se *se) { (void)se; }

static const tes_se_ops mem_ops = {
    .size = sizeof(tes_se_ops),
    .name = "bench-mem",
    .caps = mem_caps,
    .create_key = mem_create,
    .key_info = mem_info,
    .public_key = mem_public,
    .sign = mem_sign,
    .key_agreement = mem_ka,
    .delete_key = mem_delete,
    .pin_set = mem_pin_set,
    .pin_verify = mem_pin_verify,
    .pin_change = mem_pin_set,
    .pin_unblock = mem_pin_set,
    .pin_status = mem_pin_status,
    .list_keys = mem_list,
    .close = mem_close,
};

/* ================================================================ the phone's key ring */

typedef struct ring {
    tes_access_endpoint ep;
    bool has_kp;
    uint8_t kp_reader[TES_ACCESS_READER_ID_LEN], kp[32];
    tes_buf docs;
} ring;

static tes_err ring_find(void *ctx, const uint8_t g[TES_ACCESS_GROUP_ID_LEN], tes_access_endpoint *out)
{
    ring *r = ctx;
    if (memcmp(g, r->ep.group_id, TES_ACCESS_GROUP_ID_LEN) != 0)
        return TES_ERR_NOT_FOUND;
    *out = r->ep;
    return TES_OK;
}
static tes_err ring_kp_get(void *ctx, const tes_access_endpoint *e,
                           const uint8_t id[TES_ACCESS_READER_ID_LEN], uint8_t k[32])
{
    (void)e;
    ring *r = ctx;
    if (!r->has_kp || memcmp(id, r->kp_reader, TES_ACCESS_READER_ID_LEN) != 0)
        return TES_ERR_NOT_FOUND;
    memcpy(k, r->kp, 32);
    return TES_OK;
}
static tes_err ring_kp_put(void *ctx, const tes_access_endpoint *e,
                           const uint8_t id[TES_ACCESS_READER_ID_LEN], const uint8_t k[32])
{
    (void)e;
    ring *r = ctx;
    r->has_kp = true;
    memcpy(r->kp_reader, id, TES_ACCESS_READER_ID_LEN);
    memcpy(r->kp, k, 32);
    return TES_OK;
}
static tes_err ring_docs(void *ctx, const tes_access_endpoint *e, const char *doctype,
                         tes_buf *items, size_t *n)
{
    (void)e;
    ring *r = ctx;
    *n = 0;
    if (strcmp(doctype, TES_ACCESS_DOCTYPE) == 0 && r->docs.len) {
        tes_buf_append(items, r->docs.ptr, r->docs.len);
        *n = 1;
    }
    return TES_OK;
}

/* One phone: a device over a secure element with one endpoint key. */
typedef struct phone {
    ring r;
    tes_access_keyring kr;
    tes_access_device *dev;
} phone;

static void phone_init(phone *p, tes_se *se, const char *key_id, const tes_key *endpoint_pub,
                       const tes_key *reader_key, const uint8_t reader_id[TES_ACCESS_READER_ID_LEN])
{
    memset(p, 0, sizeof *p);
    snprintf(p->r.ep.se_key_id, sizeof p->r.ep.se_key_id, "%s", key_id);
    point_of(endpoint_pub, p->r.ep.endpoint_key);
    if (reader_key)
        point_of(reader_key, p->r.ep.reader_key);
    memcpy(p->r.ep.group_id, reader_id, TES_ACCESS_GROUP_ID_LEN);
    memcpy(p->r.ep.key_slot, "slot0001", 8);
    memcpy(p->r.ep.issued_at, "2026-12-08T14:00:00Z", TES_ACCESS_TIMESTAMP_LEN);
    p->r.ep.signaling = TES_ACCESS_SIG_ACCESS_DOC | TES_ACCESS_SIG_STEPUP_SELECT;
    p->kr = (tes_access_keyring){&p->r, ring_find, ring_kp_get, ring_kp_put, ring_docs, NULL};
    tes_access_device_opts o = {.se = se, .ring = &p->kr};
    TRY("tes_access_device_new", tes_access_device_new(&o, &p->dev));
}

static void phone_free(phone *p)
{
    tes_access_device_free(p->dev);
    tes_buf_free(&p->r.docs);
}

static tes_err direct_transmit(void *ctx, tes_bytes command, tes_buf *response)
{
    return tes_access_device_process(ctx, command, response);
}

/* ================================================================ ours */

typedef struct actx {
    tes_key *reader_key;
    uint8_t reader_id[TES_ACCESS_READER_ID_LEN];
    phone *ph;
    tes_access_known *known;
    size_t n_known;
    int want_index;
} actx;

static tes_access_reader_opts reader_opts(actx *a)
{
    tes_access_reader_opts o = {.reader_key = a->reader_key,
                                .fast = a->n_known > 0,
                                .policy = TES_ACCESS_POLICY_USER_DEVICE_SETTING,
                                .known = a->known,
                                .n_known = a->n_known,
                                .transmit = direct_transmit,
                                .transmit_ctx = a->ph->dev};
    memcpy(o.reader_id, a->reader_id, TES_ACCESS_READER_ID_LEN);
    return o;
}

/* One standard transaction (SELECT, AUTH0, AUTH1, EXCHANGE 97 unlocked), both sides. */
static void std_tx(actx *a, tes_access_result *r)
{
    tes_access_device_reset(a->ph->dev);
    tes_access_reader_opts o = reader_opts(a);
    tes_access_reader *x = NULL;
    TRY("reader begin", tes_access_reader_begin(&o, &x, r));
    TRY("reader auth1", tes_access_reader_auth1(x, r));
    TRY("reader finish", tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED));
    tes_access_reader_free(x);
}

/* One fast transaction (SELECT, AUTH0 + cryptogram, EXCHANGE 97 unlocked). */
static void fast_tx(actx *a, tes_access_result *r)
{
    tes_access_device_reset(a->ph->dev);
    tes_access_reader_opts o = reader_opts(a);
    tes_access_reader *x = NULL;
    TRY("reader begin (fast)", tes_access_reader_begin(&o, &x, r));
    if (r->flow != TES_ACCESS_FLOW_FAST || r->known_index != a->want_index)
        die("fast path not taken", TES_ERR_STATE);
    TRY("reader finish (fast)", tes_access_reader_finish(x, TES_ACCESS_STATUS_UNLOCKED));
    tes_access_reader_free(x);
}

static void op_std(void *c, size_t i)
{
    (void)i;
    tes_access_result r;
    std_tx(c, &r);
}
static void op_fast(void *c, size_t i)
{
    (void)i;
    tes_access_result r;
    fast_tx(c, &r);
}

/* ================================================================ the floor (OpenSSL) */

typedef struct afloor {
    EC_GROUP *g;
    EC_KEY *group_priv, *group_pub, *endpoint; /* long-term keys */
    EC_KEY *reph, *deph, *ek_pub;              /* reused objects per transaction */
    EC_POINT *p_reph, *p_deph, *p_ep;
    uint8_t endpoint_pt[65];
    uint8_t reader_key_x[32], reader_id[32], fci[32];
    size_t fci_len;
    EVP_CIPHER *gcm;
    EVP_CIPHER_CTX *enc, *dec;
    uint8_t kp[32];                          /* fast: the shared persistent key */
    uint8_t wrong_kp[N_KNOWN][32], wrong_x[N_KNOWN][32];
    size_t n_wrong;                          /* fast: wrong keys tried before the right one */
} afloor;

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

/* HMAC-SHA-256 (keys longer than 64 bytes hashed first, RFC 2104) over m1 || m2 || m3. */
static void hmac(const uint8_t *key, size_t klen, const uint8_t *m1, size_t n1, const uint8_t *m2,
                 size_t n2, const uint8_t *m3, size_t n3, uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    if (klen > 64)
        sha256(key, klen, k);
    else
        memcpy(k, key, klen);
    SHA256_CTX c;
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    SHA256_Init(&c);
    SHA256_Update(&c, pad, 64);
    SHA256_Update(&c, m1, n1);
    if (n2)
        SHA256_Update(&c, m2, n2);
    if (n3)
        SHA256_Update(&c, m3, n3);
    SHA256_Final(inner, &c);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&c);
    SHA256_Update(&c, pad, 64);
    SHA256_Update(&c, inner, 32);
    SHA256_Final(out, &c);
}

/* HKDF-SHA-256: extract with salt, then `blocks` expansion blocks into okm. */
static void hkdf(const uint8_t *salt, size_t sn, const uint8_t ikm[32], const uint8_t info[32],
                 int blocks, uint8_t *okm)
{
    uint8_t prk[32];
    hmac(salt, sn, ikm, 32, NULL, 0, NULL, 0, prk);
    for (int b = 0; b < blocks; b++) {
        uint8_t ctr = (uint8_t)(b + 1);
        if (b == 0)
            hmac(prk, 32, info, 32, &ctr, 1, NULL, 0, okm);
        else
            hmac(prk, 32, okm + 32 * (b - 1), 32, info, 32, &ctr, 1, okm + 32 * b);
    }
}

/* The salt: reader key x || label || reader id || 5E || 5C 02 0100 || reader eph x || tx id
 * || flags || policy || FCI A5 template [|| endpoint x]. */
static size_t salt_of(const afloor *f, const char *label, const uint8_t reph_x[32],
                      const uint8_t tx[16], uint8_t flags, const uint8_t *ep_x, uint8_t *out)
{
    size_t n = 0;
    memcpy(out + n, f->reader_key_x, 32), n += 32;
    memcpy(out + n, label, 12), n += 12;
    memcpy(out + n, f->reader_id, 32), n += 32;
    out[n++] = 0x5E;
    out[n++] = 0x5C, out[n++] = 0x02, out[n++] = 0x01, out[n++] = 0x00;
    memcpy(out + n, reph_x, 32), n += 32;
    memcpy(out + n, tx, 16), n += 16;
    out[n++] = flags;
    out[n++] = 0x01;
    memcpy(out + n, f->fci, f->fci_len), n += f->fci_len;
    if (ep_x)
        memcpy(out + n, ep_x, 32), n += 32;
    return n;
}

static void gen(afloor *f, EC_KEY *k, uint8_t pt[65])
{
    if (!EC_KEY_generate_key(k) ||
        EC_POINT_point2oct(f->g, EC_KEY_get0_public_key(k), POINT_CONVERSION_UNCOMPRESSED, pt, 65,
                           NULL) != 65)
        ossl_die("EC_KEY_generate_key");
}

static void decode(afloor *f, const uint8_t pt[65], EC_POINT *p)
{
    if (!EC_POINT_oct2point(f->g, p, pt, 65, NULL))
        ossl_die("EC_POINT_oct2point");
}

static void ecdh(EC_KEY *k, const EC_POINT *peer, uint8_t z[32])
{
    if (ECDH_compute_key(z, 32, peer, k, NULL) != 32)
        ossl_die("ECDH_compute_key");
}

static void sign(EC_KEY *k, const uint8_t in[126], uint8_t sig[64])
{
    uint8_t d[32];
    sha256(in, 126, d);
    ECDSA_SIG *s = ECDSA_do_sign(d, 32, k);
    const BIGNUM *r, *ss;
    if (!s)
        ossl_die("ECDSA_do_sign");
    ECDSA_SIG_get0(s, &r, &ss);
    BN_bn2binpad(r, sig, 32);
    BN_bn2binpad(ss, sig + 32, 32);
    ECDSA_SIG_free(s);
}

static bool verify(EC_KEY *k, const uint8_t in[126], const uint8_t sig[64])
{
    uint8_t d[32];
    sha256(in, 126, d);
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
    if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss))
        ossl_die("ECDSA_SIG");
    int ok = ECDSA_do_verify(d, 32, s, k);
    ECDSA_SIG_free(s);
    return ok == 1;
}

static void iv_of(bool reader, uint32_t ctr, uint8_t iv[12])
{
    memset(iv, 0, 12);
    iv[7] = reader ? 0 : 1;
    iv[8] = (uint8_t)(ctr >> 24), iv[9] = (uint8_t)(ctr >> 16);
    iv[10] = (uint8_t)(ctr >> 8), iv[11] = (uint8_t)ctr;
}

static void seal(afloor *f, const uint8_t key[32], const uint8_t iv[12], const uint8_t *p,
                 size_t n, uint8_t *out)
{
    int l = 0;
    if (!EVP_EncryptInit_ex(f->enc, NULL, NULL, key, iv) ||
        !EVP_EncryptUpdate(f->enc, out, &l, p, (int)n) ||
        !EVP_EncryptFinal_ex(f->enc, out + l, &l) ||
        !EVP_CIPHER_CTX_ctrl(f->enc, EVP_CTRL_GCM_GET_TAG, 16, out + n))
        ossl_die("AES-256-GCM seal");
}

static bool open_(afloor *f, const uint8_t key[32], const uint8_t iv[12], const uint8_t *c,
                  size_t n, uint8_t *out)
{
    int l = 0;
    if (n < 16 || !EVP_DecryptInit_ex(f->dec, NULL, NULL, key, iv) ||
        !EVP_DecryptUpdate(f->dec, out, &l, c, (int)(n - 16)) ||
        !EVP_CIPHER_CTX_ctrl(f->dec, EVP_CTRL_GCM_SET_TAG, 16, (void *)(c + n - 16)))
        return false;
    return EVP_DecryptFinal_ex(f->dec, out + l, &l) == 1;
}

static void auth_input(const afloor *f, const uint8_t dx[32], const uint8_t rx[32],
                       const uint8_t tx[16], bool device, uint8_t out[126])
{
    size_t n = 0;
    out[n++] = 0x4D, out[n++] = 32;
    memcpy(out + n, f->reader_id, 32), n += 32;
    out[n++] = 0x86, out[n++] = 32;
    memcpy(out + n, dx, 32), n += 32;
    out[n++] = 0x87, out[n++] = 32;
    memcpy(out + n, rx, 32), n += 32;
    out[n++] = 0x4C, out[n++] = 16;
    memcpy(out + n, tx, 16), n += 16;
    out[n++] = 0x93, out[n++] = 4;
    memcpy(out + n, device ? "\x4E\x88\x7B\x4C" : "\x41\x5D\x95\x69", 4);
}

/* Per side of a standard transaction: X9.63 (one SHA-256) -> Kdh; HKDF "Volatile" 2 blocks
 * (the exchange keys). */
static void kdf_standard(const afloor *f, const uint8_t z[32], const uint8_t rx[32],
                         const uint8_t dx[32], const uint8_t tx[16], uint8_t kdh[32],
                         uint8_t ex[64])
{
    uint8_t in[32 + 4 + 16], salt[256];
    memcpy(in, z, 32);
    in[32] = 0, in[33] = 0, in[34] = 0, in[35] = 1;
    memcpy(in + 36, tx, 16);
    sha256(in, sizeof in, kdh);
    size_t sn = salt_of(f, "Volatile****", rx, tx, 0x00, NULL, salt);
    hkdf(salt, sn, kdh, dx, 2, ex);
}

static void kdf_persistent(const afloor *f, const uint8_t kdh[32], const uint8_t rx[32],
                           const uint8_t dx[32], const uint8_t tx[16], const uint8_t ep_x[32],
                           uint8_t kp[32])
{
    uint8_t salt[256];
    size_t sn = salt_of(f, "Persistent**", rx, tx, 0x00, ep_x, salt);
    hkdf(salt, sn, kdh, dx, 1, kp);
}

static bool floor_standard(afloor *f)
{
    uint8_t rpt[65], dpt[65], tx[16], zr[32], zd[32], kdh_r[32], kdh_d[32], ex_r[64], ex_d[64];
    uint8_t in_r[126], in_d[126], sig_r[64], sig_d[64], kp_r[32], kp_d[32];
    memset(tx, 0x5A, 16); /* the reader's random tx id (rng cost is not cryptography) */
    /* AUTH0: reader ephemeral; device decodes it, makes its own */
    gen(f, f->reph, rpt);
    decode(f, rpt, f->p_reph);
    gen(f, f->deph, dpt);
    /* AUTH1, reader: ECDH, KDF, signature */
    decode(f, dpt, f->p_deph);
    ecdh(f->reph, f->p_deph, zr);
    kdf_standard(f, zr, rpt + 1, dpt + 1, tx, kdh_r, ex_r);
    auth_input(f, dpt + 1, rpt + 1, tx, false, in_r);
    sign(f->group_priv, in_r, sig_r);
    /* device: verify the reader, ECDH, KDF, persistent key, its signature, seal the answer */
    auth_input(f, dpt + 1, rpt + 1, tx, false, in_d);
    if (!verify(f->group_pub, in_d, sig_r))
        return false;
    ecdh(f->deph, f->p_reph, zd);
    kdf_standard(f, zd, rpt + 1, dpt + 1, tx, kdh_d, ex_d);
    kdf_persistent(f, kdh_d, rpt + 1, dpt + 1, tx, f->endpoint_pt + 1, kp_d);
    auth_input(f, dpt + 1, rpt + 1, tx, true, in_d);
    sign(f->endpoint, in_d, sig_d);
    uint8_t plain[160], ct[180], back[180], iv[12];
    size_t n = 0;
    plain[n++] = 0x5A, plain[n++] = 65;
    memcpy(plain + n, f->endpoint_pt, 65), n += 65;
    plain[n++] = 0x9E, plain[n++] = 64;
    memcpy(plain + n, sig_d, 64), n += 64;
    plain[n++] = 0x5E, plain[n++] = 2, plain[n++] = 0, plain[n++] = 5;
    plain[n++] = 0x91, plain[n++] = 20;
    memset(plain + n, '0', 20), n += 20;
    iv_of(false, 1, iv);
    seal(f, ex_d + 32, iv, plain, n, ct);
    /* reader: open, decode the endpoint key, verify, persistent key */
    if (!open_(f, ex_r + 32, iv, ct, n + 16, back))
        return false;
    decode(f, back + 2, f->p_ep);
    if (!EC_KEY_set_public_key(f->ek_pub, f->p_ep))
        ossl_die("EC_KEY_set_public_key");
    auth_input(f, dpt + 1, rpt + 1, tx, true, in_r);
    if (!verify(f->ek_pub, in_r, back + 2 + 65 + 2))
        return false;
    kdf_persistent(f, kdh_r, rpt + 1, dpt + 1, tx, back + 3, kp_r);
    /* EXCHANGE 97 0101 and the device's answer */
    static const uint8_t cmd[4] = {0x97, 0x02, 0x01, 0x01}, ans[4] = {0x00, 0x02, 0x00, 0x00};
    uint8_t c1[20], c2[20], o[4];
    iv_of(true, 1, iv);
    seal(f, ex_r, iv, cmd, 4, c1);
    bool ok = open_(f, ex_d, iv, c1, 20, o) && memcmp(o, cmd, 4) == 0;
    iv_of(false, 2, iv);
    seal(f, ex_d + 32, iv, ans, 4, c2);
    ok = ok && open_(f, ex_r + 32, iv, c2, 20, o) && memcmp(o, ans, 4) == 0;
    return ok && memcmp(zr, zd, 32) == 0 && memcmp(kp_r, kp_d, 32) == 0;
}

static bool floor_fast(afloor *f)
{
    uint8_t rpt[65], dpt[65], tx[16], salt[256], kd[96], kr[96], cg[64], plain[48], back[48];
    memset(tx, 0x5A, 16);
    gen(f, f->reph, rpt);
    gen(f, f->deph, dpt);
    /* device: fast keys, the cryptogram (5E, 91, 92 sealed with a zero IV) */
    size_t sn = salt_of(f, "VolatileFast", rpt + 1, tx, 0x01, f->endpoint_pt + 1, salt);
    hkdf(salt, sn, f->kp, dpt + 1, 3, kd);
    memset(plain, 0, sizeof plain);
    plain[0] = 0x5E, plain[1] = 2, plain[4] = 0x91, plain[5] = 20, plain[26] = 0x92, plain[27] = 20;
    static const uint8_t zero_iv[12];
    seal(f, kd, zero_iv, plain, 48, cg);
    /* reader: the wrong known keys first (cryptogram key only), then the right one */
    for (size_t i = 0; i < f->n_wrong; i++) {
        sn = salt_of(f, "VolatileFast", rpt + 1, tx, 0x01, f->wrong_x[i], salt);
        hkdf(salt, sn, f->wrong_kp[i], dpt + 1, 1, kr);
        if (open_(f, kr, zero_iv, cg, 64, back))
            return false;
    }
    sn = salt_of(f, "VolatileFast", rpt + 1, tx, 0x01, f->endpoint_pt + 1, salt);
    hkdf(salt, sn, f->kp, dpt + 1, 3, kr);
    if (!open_(f, kr, zero_iv, cg, 64, back))
        return false;
    static const uint8_t cmd[4] = {0x97, 0x02, 0x01, 0x01}, ans[4] = {0x00, 0x02, 0x00, 0x00};
    uint8_t c1[20], c2[20], o[4], iv[12];
    iv_of(true, 1, iv);
    seal(f, kr + 32, iv, cmd, 4, c1);
    bool ok = open_(f, kd + 32, iv, c1, 20, o) && memcmp(o, cmd, 4) == 0;
    iv_of(false, 1, iv);
    seal(f, kd + 64, iv, ans, 4, c2);
    return ok && open_(f, kr + 64, iv, c2, 20, o) && memcmp(o, ans, 4) == 0;
}

static void op_floor_std(void *c, size_t i)
{
    (void)i;
    if (!floor_standard(c))
        ossl_die("floor standard transaction");
}
static void op_floor_fast(void *c, size_t i)
{
    (void)i;
    if (!floor_fast(c))
        ossl_die("floor fast transaction");
}

static EC_KEY *new_key(afloor *f, bool generate)
{
    EC_KEY *k = EC_KEY_new();
    if (!k || !EC_KEY_set_group(k, f->g) || (generate && !EC_KEY_generate_key(k)))
        ossl_die("EC_KEY");
    return k;
}

static void afloor_init(afloor *f, const uint8_t reader_id[32])
{
    memset(f, 0, sizeof *f);
    f->g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    if (!f->g)
        ossl_die("EC_GROUP");
    f->group_priv = new_key(f, true);
    f->group_pub = new_key(f, false);
    if (!EC_KEY_set_public_key(f->group_pub, EC_KEY_get0_public_key(f->group_priv)))
        ossl_die("EC_KEY_set_public_key");
    f->endpoint = new_key(f, true);
    f->reph = new_key(f, false);
    f->deph = new_key(f, false);
    f->ek_pub = new_key(f, false);
    f->p_reph = EC_POINT_new(f->g);
    f->p_deph = EC_POINT_new(f->g);
    f->p_ep = EC_POINT_new(f->g);
    if (EC_POINT_point2oct(f->g, EC_KEY_get0_public_key(f->endpoint), POINT_CONVERSION_UNCOMPRESSED,
                           f->endpoint_pt, 65, NULL) != 65)
        ossl_die("point2oct");
    uint8_t gpt[65];
    if (EC_POINT_point2oct(f->g, EC_KEY_get0_public_key(f->group_priv),
                           POINT_CONVERSION_UNCOMPRESSED, gpt, 65, NULL) != 65)
        ossl_die("point2oct");
    memcpy(f->reader_key_x, gpt + 1, 32);
    memcpy(f->reader_id, reader_id, 32);
    /* the FCI's A5 template as the device sends it (tes_access_fci) */
    static const uint8_t a5[] = {0xA5, 0x13, 0x80, 0x02, 0x00, 0x00, 0x5C, 0x02, 0x01, 0x00, 0x7F,
                                 0x66, 0x08, 0x02, 0x02, 0x00, 0xFF, 0x02, 0x02, 0x01, 0x00};
    memcpy(f->fci, a5, sizeof a5);
    f->fci_len = sizeof a5;
    f->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    f->enc = EVP_CIPHER_CTX_new();
    f->dec = EVP_CIPHER_CTX_new();
    static const uint8_t k0[32], iv0[12];
    if (!f->gcm || !f->enc || !f->dec || !EVP_EncryptInit_ex(f->enc, f->gcm, NULL, k0, iv0) ||
        !EVP_DecryptInit_ex(f->dec, f->gcm, NULL, k0, iv0))
        ossl_die("AES-256-GCM");
    rand_fill(f->kp, 32);
    rand_fill(&f->wrong_kp[0][0], sizeof f->wrong_kp);
    rand_fill(&f->wrong_x[0][0], sizeof f->wrong_x);
}

static void afloor_free(afloor *f)
{
    EC_KEY_free(f->group_priv);
    EC_KEY_free(f->group_pub);
    EC_KEY_free(f->endpoint);
    EC_KEY_free(f->reph);
    EC_KEY_free(f->deph);
    EC_KEY_free(f->ek_pub);
    EC_POINT_free(f->p_reph);
    EC_POINT_free(f->p_deph);
    EC_POINT_free(f->p_ep);
    EVP_CIPHER_CTX_free(f->enc);
    EVP_CIPHER_CTX_free(f->dec);
    EVP_CIPHER_free(f->gcm);
    EC_GROUP_free(f->g);
}

/* ================================================================ rows 9, 9', 9a, 9a' */

typedef struct world {
    char dir[256];
    tes_se *soft;
    mem_se mem;
    tes_key *reader_key;
    uint8_t reader_id[TES_ACCESS_READER_ID_LEN];
    phone soft_phone, mem_phone;
    tes_access_known known[N_KNOWN];
} world;

static void world_init(world *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s/tessera-access.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(w->dir))
        die("mkdtemp", TES_ERR_IO);
    char spec[320];
    snprintf(spec, sizeof spec, "soft:%s/se", w->dir);
    char id[TES_SE_ID_MAX];
    tes_se_key_opts ko = {0};
    tes_key *pub = NULL;
    TRY("tes_se_open", tes_se_open(spec, w->dir, &w->soft));
    TRY("tes_se_create_key", tes_se_create_key(w->soft, &ko, id));
    TRY("tes_se_public_key", tes_se_public_key(w->soft, id, &pub));
    TRY("reader key", tes_key_generate(TES_CURVE_P256, &w->reader_key));
    for (int i = 0; i < TES_ACCESS_READER_ID_LEN; i++)
        w->reader_id[i] = (uint8_t)(0x10 + i);
    phone_init(&w->soft_phone, w->soft, id, pub, w->reader_key, w->reader_id);
    tes_key_free(pub);
    w->mem.base.ops = &mem_ops;
    TRY("endpoint key", tes_key_generate(TES_CURVE_P256, &w->mem.key));
    phone_init(&w->mem_phone, &w->mem.base, "mem", w->mem.key, w->reader_key, w->reader_id);
}

static void world_free(world *w)
{
    phone_free(&w->soft_phone);
    phone_free(&w->mem_phone);
    tes_se_close(w->soft);
    tes_key_free(w->mem.key);
    tes_key_free(w->reader_key);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench access: could not remove %s\n", w->dir);
}

/* One standard transaction checked (the phone saw "unlocked"), its persistent key kept. */
static void check_standard(actx *a, tes_access_known *k)
{
    tes_access_result r;
    std_tx(a, &r);
    uint16_t st = 0;
    if (r.flow != TES_ACCESS_FLOW_STANDARD || !r.has_kpersistent ||
        memcmp(r.endpoint_key, a->ph->r.ep.endpoint_key, TES_ACCESS_POINT_LEN) != 0 ||
        !tes_access_device_verdict(a->ph->dev, &st) || st != TES_ACCESS_STATUS_UNLOCKED)
        die("standard transaction check", TES_ERR_STATE);
    memcpy(k->endpoint_key, r.endpoint_key, TES_ACCESS_POINT_LEN);
    memcpy(k->kpersistent, r.kpersistent, 32);
}

bool access_bench_memory(access_pair_fn pair, access_figures *out)
{
    world w;
    world_init(&w);
    afloor f;
    afloor_init(&f, w.reader_id);
    if (!floor_standard(&f) || !floor_fast(&f))
        ossl_die("floor self-check");

    /* 9: soft SE */
    actx a = {.reader_key = w.reader_key, .ph = &w.soft_phone, .want_index = -1};
    memcpy(a.reader_id, w.reader_id, sizeof a.reader_id);
    tes_access_known mine;
    check_standard(&a, &mine);
    pair(op_std, &a, op_floor_std, &f, 1, &out->std_soft, &out->std_soft_floor);

    /* 9': in-memory endpoint key */
    actx m = a;
    m.ph = &w.mem_phone;
    tes_access_known mem_mine;
    check_standard(&m, &mem_mine);
    pair(op_std, &m, op_floor_std, &f, 1, &out->std_mem, &out->std_mem_floor);

    /* 9a: fast, 1 known key (the soft-SE phone's: no signature on the fast path); every
     * standard transaction above gave the phone a new persistent key: take the last one */
    check_standard(&a, &mine);
    a.known = &mine;
    a.n_known = 1;
    a.want_index = 0;
    tes_access_result r;
    fast_tx(&a, &r);
    uint16_t st = 0;
    if (!tes_access_device_verdict(w.soft_phone.dev, &st) || st != TES_ACCESS_STATUS_UNLOCKED)
        die("fast transaction check", TES_ERR_STATE);
    f.n_wrong = 0;
    pair(op_fast, &a, op_floor_fast, &f, 1, &out->fast1, &out->fast1_floor);

    /* 9a': 64 known keys, the phone's last */
    for (size_t i = 0; i + 1 < N_KNOWN; i++) {
        w.known[i].endpoint_key[0] = 0x04;
        rand_fill(w.known[i].endpoint_key + 1, 64);
        rand_fill(w.known[i].kpersistent, 32);
    }
    w.known[N_KNOWN - 1] = mine;
    a.known = w.known;
    a.n_known = N_KNOWN;
    a.want_index = N_KNOWN - 1;
    fast_tx(&a, &r);
    f.n_wrong = N_KNOWN - 1;
    if (!floor_fast(&f))
        ossl_die("floor fast (64) self-check");
    pair(op_fast, &a, op_floor_fast, &f, 1, &out->fast64, &out->fast64_floor);

    afloor_free(&f);
    world_free(&w);
    return true;
}

/* N transactions of one kind and nothing else, for perf / callgrind. */
int access_bench_loop(long n, const char *kind)
{
    if (strncmp(kind, "floor-", 6) == 0) {
        afloor f;
        uint8_t id[32] = {0};
        afloor_init(&f, id);
        bool std_ = strcmp(kind, "floor-std") == 0;
        f.n_wrong = strcmp(kind, "floor-fast64") == 0 ? N_KNOWN - 1 : 0;
        if (!std_ && strcmp(kind, "floor-fast") != 0 && !f.n_wrong) {
            fprintf(stderr, "access loop: floor-std | floor-fast | floor-fast64\n");
            afloor_free(&f);
            return 2;
        }
        double t0 = cpu_s();
        for (long i = 0; i < n; i++)
            (std_ ? op_floor_std : op_floor_fast)(&f, 0);
        fprintf(stderr, "access loop %s: %.1f us CPU per transaction\n", kind,
                (cpu_s() - t0) / (double)n * 1e6);
        afloor_free(&f);
        return 0;
    }
    world w;
    world_init(&w);
    actx a = {.reader_key = w.reader_key, .ph = &w.soft_phone, .want_index = -1};
    memcpy(a.reader_id, w.reader_id, sizeof a.reader_id);
    if (strcmp(kind, "std-mem") == 0)
        a.ph = &w.mem_phone;
    tes_access_known mine;
    check_standard(&a, &mine);
    bool fast = strncmp(kind, "fast", 4) == 0;
    if (strcmp(kind, "fast64") == 0) {
        for (size_t i = 0; i + 1 < N_KNOWN; i++) {
            w.known[i].endpoint_key[0] = 0x04;
            rand_fill(w.known[i].endpoint_key + 1, 64);
            rand_fill(w.known[i].kpersistent, 32);
        }
        w.known[N_KNOWN - 1] = mine;
        a.known = w.known;
        a.n_known = N_KNOWN;
        a.want_index = N_KNOWN - 1;
    } else if (fast) {
        a.known = &mine;
        a.n_known = 1;
        a.want_index = 0;
    } else if (strcmp(kind, "std") != 0 && strcmp(kind, "std-mem") != 0) {
        fprintf(stderr, "access loop: std | std-mem | fast | fast64\n");
        world_free(&w);
        return 2;
    }
    double t0 = cpu_s();
    for (long i = 0; i < n; i++)
        (fast ? op_fast : op_std)(&a, 0);
    fprintf(stderr, "access loop %s: %.1f us CPU per transaction\n", kind,
            (cpu_s() - t0) / (double)n * 1e6);
    world_free(&w);
    return 0;
}

/* ================================================================ breakdown */

typedef void (*piece_fn)(void *ctx);

static double per_call(piece_fn fn, void *ctx)
{
    for (int i = 0; i < 20; i++)
        fn(ctx);
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        size_t n = 0;
        double t0 = cpu_s(), t;
        do {
            for (int k = 0; k < 8; k++)
                fn(ctx);
            n += 8;
            t = cpu_s();
        } while (t - t0 < 0.1);
        double v = (t - t0) / (double)n;
        if (v < best)
            best = v;
    }
    return best;
}

typedef struct bctx {
    world *w;
    afloor *f;
    tes_key *eph, *peer;
    tes_access_context ctx;
    uint8_t z[32], kdh[32], msg[126], sig[64], pt[65], plain[200];
    tes_buf buf;
} bctx;

static void b_keygen(void *c)
{
    tes_key *k = NULL;
    TRY("keygen", tes_key_generate(TES_CURVE_P256, &k));
    tes_key_free(k);
    (void)c;
}
static void b_import(void *c)
{
    bctx *b = c;
    tes_key *k = NULL;
    TRY("import", tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(b->pt + 1, 32),
                                        TES_BYTES(b->pt + 33, 32), &k));
    tes_key_free(k);
}
static void b_ecdh(void *c)
{
    bctx *b = c;
    uint8_t z[TES_MAX_COORD];
    size_t zl;
    TRY("ecdh", tes_key_ecdh(b->eph, b->peer, z, &zl));
}
static void b_sign(void *c)
{
    bctx *b = c;
    uint8_t s[TES_MAX_SIG];
    size_t sl = sizeof s;
    TRY("sign", tes_key_sign(b->w->reader_key, TES_HASH_SHA256, TES_BYTES(b->msg, 126), s, &sl));
}
static void b_se_sign(void *c)
{
    bctx *b = c;
    uint8_t s[TES_MAX_SIG];
    size_t sl = sizeof s;
    TRY("se sign", tes_se_sign(b->w->soft, b->w->soft_phone.r.ep.se_key_id, NULL,
                               TES_BYTES(b->msg, 126), s, &sl));
}
static void b_verify(void *c)
{
    bctx *b = c;
    TRY("verify", tes_key_verify(b->w->reader_key, TES_HASH_SHA256, TES_BYTES(b->msg, 126),
                                 TES_BYTES(b->sig, 64)));
}
static void b_std(void *c)
{
    bctx *b = c;
    tes_access_keys k;
    TRY("derive standard", tes_access_derive_standard(&b->ctx, b->z, &k, b->kdh));
}
static void b_pers(void *c)
{
    bctx *b = c;
    uint8_t kp[32];
    TRY("derive persistent", tes_access_derive_persistent(&b->ctx, b->kdh, b->pt + 1, kp));
}
static void b_fast(void *c)
{
    bctx *b = c;
    tes_access_keys k;
    TRY("derive fast", tes_access_derive_fast(&b->ctx, b->kdh, b->pt + 1, &k));
}
static void b_hkdf(void *c)
{
    bctx *b = c;
    uint8_t o[32];
    TRY("hkdf", tes_hkdf_sha256(TES_BYTES(b->z, 32), TES_BYTES(b->plain, 32),
                                TES_BYTES("SKReader", 8), o, 32));
}
static void b_gcm(void *c)
{
    bctx *b = c;
    static const uint8_t iv[12];
    tes_buf_reset(&b->buf);
    TRY("gcm", tes_aes256gcm_encrypt(b->z, iv, TES_BYTES(NULL, 0), TES_BYTES(b->plain, 160),
                                     &b->buf));
}
static void bf_keygen(void *c)
{
    bctx *b = c;
    uint8_t pt[65];
    gen(b->f, b->f->reph, pt);
}
static void bf_ecdh(void *c)
{
    bctx *b = c;
    uint8_t z[32];
    ecdh(b->f->reph, EC_KEY_get0_public_key(b->f->endpoint), z);
}
static void bf_sign(void *c)
{
    bctx *b = c;
    sign(b->f->endpoint, b->msg, b->sig);
}
static void bf_verify(void *c)
{
    bctx *b = c;
    if (!verify(b->f->group_pub, b->msg, b->sig))
        ossl_die("verify");
}
static void bf_hkdf(void *c)
{
    bctx *b = c;
    uint8_t salt[256], okm[160];
    size_t n = salt_of(b->f, "Volatile****", b->z, b->z, 0, NULL, salt);
    hkdf(salt, n, b->kdh, b->z, 5, okm);
}
static void bf_gcm(void *c)
{
    bctx *b = c;
    uint8_t out[200];
    static const uint8_t iv[12];
    seal(b->f, b->z, iv, b->plain, 160, out);
}

void access_bench_breakdown(FILE *out)
{
    world w;
    world_init(&w);
    afloor f;
    afloor_init(&f, w.reader_id);
    bctx b = {.w = &w, .f = &f};
    TRY("keygen", tes_key_generate(TES_CURVE_P256, &b.eph));
    TRY("keygen", tes_key_generate(TES_CURVE_P256, &b.peer));
    point_of(b.peer, b.pt);
    rand_fill(b.z, 32);
    rand_fill(b.kdh, 32);
    rand_fill(b.msg, 126);
    rand_fill(b.plain, sizeof b.plain);
    memcpy(b.ctx.reader_id, w.reader_id, 32);
    b.ctx.version = TES_ACCESS_VERSION_1_0;
    b.ctx.interface = TES_ACCESS_INTERFACE_NFC;
    memcpy(b.ctx.fci, f.fci, f.fci_len);
    b.ctx.fci_len = f.fci_len;
    uint8_t s[TES_MAX_SIG];
    size_t sl = sizeof s;
    TRY("sign", tes_key_sign(w.reader_key, TES_HASH_SHA256, TES_BYTES(b.msg, 126), s, &sl));
    memcpy(b.sig, s, 64);
    struct {
        const char *what;
        piece_fn ours, floor;
    } p[] = {
        {"P-256 key generation (tes_key_generate / EC_KEY_generate_key)", b_keygen, bf_keygen},
        {"point import (tes_key_from_ec_point)", b_import, NULL},
        {"ECDH (tes_key_ecdh / ECDH_compute_key)", b_ecdh, bf_ecdh},
        {"ECDSA sign, in-memory key (tes_key_sign / ECDSA_do_sign)", b_sign, bf_sign},
        {"ECDSA sign, soft SE (tes_se_sign)", b_se_sign, NULL},
        {"ECDSA verify (tes_key_verify / ECDSA_do_verify)", b_verify, NULL},
        {"tes_access_derive_standard (X9.63 + HKDF 160 B + 4 sub-key HKDFs)", b_std, NULL},
        {"tes_access_derive_persistent (HKDF 32 B)", b_pers, NULL},
        {"tes_access_derive_fast (HKDF 160 B + 2 sub-key HKDFs)", b_fast, NULL},
        {"one tes_hkdf_sha256, 32 B (floor: extract + 5 blocks, long salt)", b_hkdf, bf_hkdf},
        {"AES-256-GCM seal 160 B (tes_aes256gcm_encrypt / EVP reused ctx)", b_gcm, bf_gcm},
    };
    /* the floor's verify needs its own signature */
    sign(f.endpoint, b.msg, b.sig);
    EC_KEY_set_public_key(f.group_pub, EC_KEY_get0_public_key(f.endpoint));
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        if (p[i].ours == b_verify) { /* ours verifies its own signature */
            memcpy(b.sig, s, 64);
            double o = per_call(p[i].ours, &b);
            sign(f.endpoint, b.msg, b.sig);
            double fl = per_call(bf_verify, &b);
            fprintf(out, "    %-68s %8.1f us  openssl %8.1f us\n", p[i].what, o * 1e6, fl * 1e6);
            continue;
        }
        double o = per_call(p[i].ours, &b);
        if (p[i].floor) {
            double fl = per_call(p[i].floor, &b);
            fprintf(out, "    %-68s %8.1f us  openssl %8.1f us\n", p[i].what, o * 1e6, fl * 1e6);
        } else {
            fprintf(out, "    %-68s %8.1f us\n", p[i].what, o * 1e6);
        }
    }
    tes_buf_free(&b.buf);
    tes_key_free(b.eph);
    tes_key_free(b.peer);
    afloor_free(&f);
    world_free(&w);
}

/* ================================================================ rows 9b, 9c: NFC */

static int64_t fixed_now(void *ctx) { return *(int64_t *)ctx; }
#define CHECK_IN 1796000000LL

typedef struct card_ctx {
    tes_access_device *dev;
    int processed;
} card_ctx;

static tes_err card_process(void *ctx, tes_bytes cmd, tes_buf *resp)
{
    card_ctx *c = ctx;
    c->processed++;
    return tes_access_device_process(c->dev, cmd, resp);
}
static void card_reset(void *ctx) { tes_access_device_reset(((card_ctx *)ctx)->dev); }
static bool card_finished(void *ctx)
{
    card_ctx *c = ctx;
    return c->processed > 0 && tes_access_device_verdict(c->dev, NULL);
}

typedef struct serve_run {
    tes_card card;
    volatile int stop;
    tes_err rc;
} serve_run;

static void *serve_main(void *arg)
{
    serve_run *s = arg;
    s->rc = tes_vpcd_serve(&s->card, "127.0.0.1:35963", TIMEOUT_MS, &s->stop);
    return NULL;
}

static bool pcsc_wait(SCARDCONTEXT ctx, const char *name, bool present, int timeout_ms)
{
    SCARD_READERSTATE st = {.szReader = name, .dwCurrentState = SCARD_STATE_UNAWARE};
    double end = wall_s() + timeout_ms / 1000.0;
    for (;;) {
        if (SCardGetStatusChange(ctx, 0, &st, 1) != SCARD_S_SUCCESS)
            return false;
        if (((st.dwEventState & SCARD_STATE_PRESENT) != 0) == present)
            return true;
        double left = end - wall_s();
        if (left <= 0)
            return false;
        st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
        LONG r = SCardGetStatusChange(ctx, (DWORD)(left * 1000), &st, 1);
        if (r != SCARD_S_SUCCESS && r != SCARD_E_TIMEOUT)
            return false;
        st.dwCurrentState = SCARD_STATE_UNAWARE;
    }
}

static bool vpcd_reader(SCARDCONTEXT ctx, char *out, size_t cap)
{
    char buf[4096];
    DWORD len = sizeof buf;
    if (SCardListReaders(ctx, NULL, buf, &len) != SCARD_S_SUCCESS)
        return false;
    for (const char *r = buf; *r; r += strlen(r) + 1)
        if (strstr(r, "Virtual PCD")) {
            snprintf(out, cap, "%s", r);
            return true;
        }
    return false;
}

/* One tap: the phone on vpcd, the lock's whole transaction; wall seconds or < 0. */
static double tap(SCARDCONTEXT sc, const char *reader, tes_lock *l, phone *ph,
                  tes_access_flow want, double *wait)
{
    card_ctx cc = {.dev = ph->dev};
    serve_run s = {.card = {card_process, card_reset, card_finished, &cc}};
    pthread_t th;
    double t0 = wall_s();
    if (pthread_create(&th, NULL, serve_main, &s) != 0)
        return -1;
    tes_err e = pcsc_wait(sc, reader, true, TIMEOUT_MS)
                    ? TES_OK
                    : tes_err_set(TES_ERR_TIMEOUT, "pcscd did not report the card");
    double t1 = wall_s();
    tes_pcsc_card *c = NULL;
    tes_lock_outcome o;
    memset(&o, 0, sizeof o);
    if (!e)
        e = tes_pcsc_card_connect(reader, TIMEOUT_MS, &c);
    if (!e)
        e = tes_lock_transaction(l, tes_pcsc_card_transmit, c, &o);
    double t2 = wall_s();
    if (!e && (!o.unlocked || o.flow != want))
        e = tes_err_set(TES_ERR_STATE, "tap: unlocked %d flow %d (wanted %d): %s", o.unlocked,
                        (int)o.flow, (int)want, o.detail);
    if (!e)
        e = tes_pcsc_card_wait_removed(c, TIMEOUT_MS);
    if (e) {
        fprintf(stderr, "bench access: NFC tap (the phone saw %d commands): %s: %s\n", cc.processed,
                tes_err_name(e), tes_err_message());
        s.stop = 1;
    }
    tes_pcsc_card_free(c);
    pthread_join(th, NULL);
    if (!e && s.rc) {
        fprintf(stderr, "bench access: vpcd: %s\n", tes_err_name(s.rc));
        e = s.rc;
    }
    if (!e && !pcsc_wait(sc, reader, false, TIMEOUT_MS))
        e = TES_ERR_TIMEOUT;
    *wait = t1 - t0;
    return e ? -1 : t2 - t1;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_d);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

bool access_bench_nfc(size_t runs, access_nfc_figures *out)
{
    SCARDCONTEXT sc;
    char reader[256];
    if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &sc) != SCARD_S_SUCCESS) {
        fprintf(stderr, "bench access: NFC: no pcscd\n");
        return false;
    }
    if (!vpcd_reader(sc, reader, sizeof reader)) {
        fprintf(stderr, "bench access: NFC: pcscd has no vpcd reader\n");
        SCardReleaseContext(sc);
        return false;
    }
    /* the hotel, the lock of room 101 (store on disk), a guest's phone with its key */
    world w;
    world_init(&w);
    int64_t now = CHECK_IN + 3600;
    tes_clock clock = {fixed_now, &now};
    char d[400];
    snprintf(d, sizeof d, "%s/hotel", w.dir);
    tes_hotel_opts ho = {.clock = &clock};
    tes_hotel *h = NULL;
    TRY("hotel init", tes_hotel_init(d, "Bench Hotel", &ho));
    TRY("hotel open", tes_hotel_open(d, &ho, &h));
    tes_lock_init_params lp = {.reader_key = tes_hotel_reader_key(h),
                               .issuer_key = tes_hotel_issuer_key(h),
                               .standard_per_minute = 100000};
    snprintf(lp.hotel, sizeof lp.hotel, "Bench Hotel");
    snprintf(lp.room, sizeof lp.room, "101");
    memcpy(lp.group_id, tes_hotel_group_id(h), 16);
    lp.instance_id[0] = 1;
    snprintf(d, sizeof d, "%s/lock101", w.dir);
    tes_lock_opts lo = {.clock = &clock};
    tes_lock *l = NULL;
    TRY("lock init", tes_lock_init(d, &lp));
    TRY("lock open", tes_lock_open(d, &lo, &l));
    phone *ph = &w.soft_phone;
    tes_access_key_request q;
    memset(&q, 0, sizeof q);
    memcpy(q.endpoint_key, ph->r.ep.endpoint_key, TES_ACCESS_POINT_LEN);
    tes_buf req = {0}, pkg = {0};
    const char *rooms[1] = {"101"};
    tes_hotel_key_params kp = {.rooms = rooms, .n_rooms = 1, .not_before = CHECK_IN,
                               .not_after = CHECK_IN + 3 * 86400, .guest = "bench"};
    tes_access_key_package p;
    uint8_t key_id[16];
    TRY("key request", tes_access_key_request_encode(&q, &req));
    TRY("issue key", tes_hotel_issue_key(h, tes_buf_bytes(&req), &kp, &pkg, key_id));
    TRY("key package", tes_access_key_package_parse(tes_buf_bytes(&pkg), &p));
    memcpy(ph->r.ep.group_id, p.group_id, 16);
    memcpy(ph->r.ep.reader_key, p.reader_key, TES_ACCESS_POINT_LEN);
    tes_buf_append(&ph->r.docs, p.document.ptr, p.document.len);
    tes_access_timestamp(now, ph->r.ep.issued_at);
    ph->r.has_kp = false;

    double *st = calloc(runs, sizeof *st), *fa = calloc(runs, sizeof *fa),
           *wt = calloc(2 * runs, sizeof *wt);
    bool ok = st && fa && wt && pcsc_wait(sc, reader, false, TIMEOUT_MS);
    for (size_t i = 0; ok && i < runs + 1; i++) { /* 1 warm-up pair */
        /* the lock forgets the phone: this tap is standard + step-up */
        tes_err e = tes_lock_store_endpoint_delete(tes_lock_store_of(l), ph->r.ep.endpoint_key);
        if (e && e != TES_ERR_NOT_FOUND)
            die("endpoint delete", e);
        double wait = 0;
        double ts = tap(sc, reader, l, ph, TES_ACCESS_FLOW_STEP_UP, &wait);
        double wait2 = 0;
        double tf = ts < 0 ? -1 : tap(sc, reader, l, ph, TES_ACCESS_FLOW_FAST, &wait2);
        ok = ts >= 0 && tf >= 0;
        if (ok && i >= 1) {
            st[i - 1] = ts;
            fa[i - 1] = tf;
            wt[2 * (i - 1)] = wait;
            wt[2 * (i - 1) + 1] = wait2;
        }
    }
    if (ok) {
        out->runs = runs;
        out->std_med = pct(st, runs, 0.5);
        out->std_p90 = pct(st, runs, 0.9);
        out->fast_med = pct(fa, runs, 0.5);
        out->fast_p90 = pct(fa, runs, 0.9);
        out->card_wait = pct(wt, 2 * runs, 0.5);
    }
    free(st);
    free(fa);
    free(wt);
    tes_buf_free(&req);
    tes_buf_free(&pkg);
    tes_lock_close(l);
    tes_hotel_close(h);
    world_free(&w);
    SCardReleaseContext(sc);
    return ok;
}
