/*
 * jose_compare — the measurement behind docs/JOSE.md: Tessera's src/jose/
 * against Debian's libjose (latchset, package libjose-dev) on the same
 * compact JWS inputs.
 *
 *   part 1: the same hostile compact JWS (ES256) fed to both, each verified
 *           with the right key: what each one accepts;
 *   part 2: ES256 verifications of one compact JWS per second (CPU time),
 *           both, against OpenSSL's raw ECDSA verify (SHA-256 + ECDSA_do_verify
 *           with a prepared key) measured in the same run: ratio = floor / ours.
 *
 * Built only when libjose is installed (bench/CMakeLists.txt: tessera_bench_jose);
 * libjose is not a dependency of libtessera. Run: build/tessera_bench_jose.
 *
 * libjose has no compact parser in the library (its command line has one):
 * the compact text is split here and handed over as a flattened JWS
 * {"protected","payload","signature"}, as its jose(1) tool does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <jose/jose.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include "tessera/jose.h"

/* ------------------------------------------------------------------ the two sides */

static bool ours_accepts(const char *jws, const tes_key *k)
{
    tes_jws j;
    if (tes_jws_parse(jws, strlen(jws), NULL, &j) != TES_OK)
        return false;
    bool ok = tes_jws_check_header(&j, NULL) == TES_OK && tes_jws_verify(&j, k) == TES_OK;
    tes_jws_free(&j);
    return ok;
}

static bool libjose_accepts(const char *jws, const json_t *jwk)
{
    const char *d1 = strchr(jws, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL)
        return false;
    json_t *o = json_pack("{s:s%, s:s%, s:s}", "protected", jws, (size_t)(d1 - jws), "payload",
                          d1 + 1, (size_t)(d2 - d1 - 1), "signature", d2 + 1);
    if (o == NULL)
        return false;
    bool ok = jose_jws_ver(NULL, o, NULL, jwk, false);
    json_decref(o);
    return ok;
}

/* ------------------------------------------------------------------ building inputs */

static char *b64(const void *p, size_t n)
{
    tes_buf b = {0};
    tes_b64url_encode(&b, TES_BYTES(p, n));
    tes_buf_append(&b, "", 1);
    return (char *)b.ptr;
}

static uint8_t SIG[64]; /* the last signature made by make() */

/* header.payload (texts as given) signed by k; sig_form 0 raw, 1 DER, 2 high-S. */
static char *make(const char *hdr, const char *payload, const tes_key *k, int sig_form)
{
    char *h = b64(hdr, strlen(hdr)), *p = b64(payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 2;
    char *si = malloc(n);
    snprintf(si, n, "%s.%s", h, p);
    if (tes_jws_key_signer((void *)k, TES_BYTES(si, strlen(si)), SIG) != TES_OK)
        abort();
    uint8_t der[80];
    size_t sl = 64;
    uint8_t *sig = SIG;
    BIGNUM *r = BN_bin2bn(SIG, 32, NULL), *s = BN_bin2bn(SIG + 32, 32, NULL);
    if (sig_form == 1) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, r, s);
        uint8_t *q = der;
        sl = (size_t)i2d_ECDSA_SIG(es, &q);
        ECDSA_SIG_free(es);
        sig = der;
    } else {
        if (sig_form == 2) { /* s -> n - s: the other valid signature */
            EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
            BIGNUM *ns = BN_new();
            BN_sub(ns, EC_GROUP_get0_order(g), s);
            BN_bn2binpad(ns, SIG + 32, 32);
            BN_free(ns);
            EC_GROUP_free(g);
        }
        BN_free(r);
        BN_free(s);
    }
    char *sg = b64(sig, sl);
    n += strlen(sg) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%s.%s", si, sg);
    free(h);
    free(p);
    free(si);
    free(sg);
    return out;
}

/* s with the character at pos (from the end when negative) replaced by c, or
 * with suffix appended. */
static char *edit(const char *s, long pos, char c, const char *suffix)
{
    size_t n = strlen(s);
    char *o = malloc(n + (suffix ? strlen(suffix) : 0) + 1);
    memcpy(o, s, n + 1);
    if (suffix)
        strcat(o, suffix);
    else
        o[pos < 0 ? (long)n + pos : pos] = c;
    return o;
}

/* ------------------------------------------------------------------ timing */

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef bool (*op_fn)(void *ctx);

static double rate(op_fn op, void *ctx)
{
    double best = 0;
    for (int round = 0; round < 5; round++) {
        size_t n = 0;
        double t0 = cpu_now(), t;
        do {
            for (int k = 0; k < 16; k++)
                if (!op(ctx))
                    abort();
            n += 16;
        } while ((t = cpu_now()) - t0 < 0.4);
        if (n / (t - t0) > best)
            best = n / (t - t0);
    }
    return best;
}

struct ctx {
    const char *jws;
    const tes_key *key;
    json_t *jwk;
    EC_KEY *ec;
    ECDSA_SIG *sig;
    const char *si;
    size_t si_len;
};

static bool op_ours(void *c)
{
    struct ctx *x = c;
    return ours_accepts(x->jws, x->key);
}

static bool op_libjose(void *c)
{
    struct ctx *x = c;
    return libjose_accepts(x->jws, x->jwk);
}

static bool op_floor(void *c)
{
    struct ctx *x = c;
    uint8_t d[32];
    SHA256((const uint8_t *)x->si, x->si_len, d);
    return ECDSA_do_verify(d, 32, x->sig, x->ec) == 1;
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    tes_key *k = NULL, *k384 = NULL;
    json_t *jwk = NULL;
    if (tes_key_generate(TES_CURVE_P256, &k) != TES_OK ||
        tes_key_generate(TES_CURVE_P384, &k384) != TES_OK || tes_jwk_from_key(k, &jwk) != TES_OK)
        return 2;
    const char *P = "{\"iss\":\"x\",\"iat\":1800000000}";
    const char *H = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
    char big[70000];
    memset(big, ' ', sizeof big);
    memcpy(big, H, strlen(H) - 1);
    memcpy(big + sizeof big - 2, "}", 2);

    char *good = make(H, P, k, 0);
    struct {
        const char *what;
        char *jws;
    } cases[] = {
        {"the good JWS", strdup(good)},
        {"duplicate \"alg\" in the header",
         make("{\"alg\":\"ES256\",\"alg\":\"ES256\",\"typ\":\"JWT\"}", P, k, 0)},
        {"duplicate claim in the payload", make(H, "{\"iss\":\"x\",\"iss\":\"y\"}", k, 0)},
        {"\"alg\":\"none\", empty signature", NULL},
        {"\"alg\":\"ES384\" with the P-256 key's signature", make("{\"alg\":\"ES384\"}", P, k, 0)},
        {"\"alg\":\"HS256\" (key confusion)", make("{\"alg\":\"HS256\"}", P, k, 0)},
        {"no \"alg\"", make("{\"typ\":\"JWT\"}", P, k, 0)},
        {"base64url with '=' padding", edit(good, 0, 0, "==")},
        {"invalid character '+' in the header", edit(good, 1, '+', NULL)},
        {"non-canonical base64url (unused bits set)", NULL},
        {"header of 70000 bytes", NULL},
        {"extra dot (four parts)", edit(good, 0, 0, ".AAAA")},
        {"\"crit\":[\"exp\"] (not understood)",
         make("{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", P, k, 0)},
        {"ES256 signature in DER", make(H, P, k, 1)},
        {"high-S signature (n - s)", make(H, P, k, 2)},
        {"payload not JSON (\"hello\")", NULL},
    };
    /* alg none: header.payload. */
    {
        char *h = b64("{\"alg\":\"none\"}", 14), *p = b64(P, strlen(P));
        size_t n = strlen(h) + strlen(p) + 3;
        cases[3].jws = malloc(n);
        snprintf(cases[3].jws, n, "%s.%s.", h, p);
        free(h);
        free(p);
    }
    /* non-canonical: the signature's last character (86 characters = 64 bytes
     * and 4 unused bits) with an unused bit set: the same bytes to a lax decoder. */
    {
        char *s = strdup(good);
        char *last = s + strlen(s) - 1;
        static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int v = (int)(strchr(al, *last) - al);
        *last = al[v | 1]; /* the 4 unused bits of a canonical last character are 0 */
        cases[9].jws = s;
    }
    cases[10].jws = make(big, P, k, 0);
    cases[15].jws = make(H, "\"hello\"", k, 0);

    printf("hostile compact JWS (ES256 key; 'accepts' = parsed and verified)\n");
    printf("%-48s | %-9s | %s\n", "input", "ours", "libjose");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        printf("%-48s | %-9s | %s\n", cases[i].what,
               ours_accepts(cases[i].jws, k) ? "ACCEPTS" : "refuses",
               libjose_accepts(cases[i].jws, jwk) ? "ACCEPTS" : "refuses");
        free(cases[i].jws);
    }
    (void)k384;

    /* ---- cost */
    struct ctx c = {.jws = good, .key = k, .jwk = jwk};
    const char *d2 = strrchr(good, '.');
    c.si = good;
    c.si_len = (size_t)(d2 - good);
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD], pt[65] = {4};
    if (tes_key_public_raw(k, x, y) != TES_OK)
        return 2;
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    c.ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    const uint8_t *q = pt;
    if (!o2i_ECPublicKey(&c.ec, &q, 65))
        return 2;
    tes_buf sig = {0};
    if (tes_b64url_decode(&sig, d2 + 1, strlen(d2 + 1)) != TES_OK || sig.len != 64)
        return 2;
    c.sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(c.sig, BN_bin2bn(sig.ptr, 32, NULL), BN_bin2bn(sig.ptr + 32, 32, NULL));
    tes_buf_free(&sig);

    double f = rate(op_floor, &c), o = rate(op_ours, &c), l = rate(op_libjose, &c);
    printf("\nES256 compact JWS verify, per second of CPU (best of 5 x 0.4 s)\n");
    printf("%-40s | %9s | %s\n", "", "verify/s", "floor / this");
    printf("%-40s | %9.0f | %.3f\n", "OpenSSL raw ECDSA (SHA-256 + verify)", f, 1.0);
    printf("%-40s | %9.0f | %.3f\n", "ours: tes_jws_parse + header + verify", o, f / o);
    printf("%-40s | %9.0f | %.3f\n", "libjose: split + jose_jws_ver", l, f / l);

    ECDSA_SIG_free(c.sig);
    EC_KEY_free(c.ec);
    json_decref(jwk);
    free(good);
    tes_key_free(k);
    tes_key_free(k384);
    return 0;
}
