/*
 * DeviceEngagement (ISO/IEC 18013-5 §8.2.1.1) and the QR "mdoc:" URI.
 *
 *   DeviceEngagement = {0: "1.x", 1: Security, ? 2: DeviceRetrievalMethods, * other}
 *   Security = [1, EDeviceKeyBytes]          EDeviceKeyBytes = #6.24(bstr .cbor COSE_Key)
 *
 * The parser keeps the exact received bytes of the engagement and of
 * EDeviceKeyBytes; nothing is re-encoded.
 */
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"
#include "tessera/cose.h"

static const char URI_SCHEME[] = "mdoc:";
#define URI_SCHEME_LEN (sizeof(URI_SCHEME) - 1)

bool session_bytes_eq_nocase(tes_bytes a, const char *s)
{
    size_t n = strlen(s);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = a.ptr[i], y = (uint8_t)s[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

void tes_engagement_free(tes_engagement *e)
{
    if (!e)
        return;
    tes_buf_free(&e->bytes);
    tes_buf_free(&e->edevice_key_bytes);
    tes_key_free(e->edevice_pub);
    memset(e, 0, sizeof(*e));
}

/* A public-only copy of an EC key. */
static tes_err public_copy(const tes_key *k, tes_key **out)
{
    uint8_t x[TES_MAX_COORD], y[TES_MAX_COORD];
    tes_curve c = tes_key_curve(k);
    tes_err e = tes_key_public_raw(k, x, y);
    if (e != TES_OK)
        return e;
    size_t sz = tes_curve_size(c);
    return tes_key_from_ec_point(c, TES_BYTES(x, sz), TES_BYTES(y, sz), out);
}

tes_err tes_engagement_build(const tes_key *edevice, tes_engagement *out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "engagement build: NULL output");
    memset(out, 0, sizeof(*out));
    if (!edevice || tes_key_curve(edevice) != TES_CURVE_P256)
        return tes_err_set(TES_ERR_ARG, "engagement build: EDeviceKey must be a P-256 key");

    /* EDeviceKeyBytes = 24(bstr(COSE_Key)) */
    tes_buf cose = {0};
    tes_cbor_enc ce = {.out = &cose};
    tes_cose_key_write(&ce, edevice);
    tes_err e = tes_cbor_enc_finish(&ce);
    if (e == TES_OK) {
        tes_cbor_enc ke = {.out = &out->edevice_key_bytes};
        tes_cbor_enc_tag(&ke, 24);
        tes_cbor_enc_bytes(&ke, cose.ptr, cose.len);
        e = tes_cbor_enc_finish(&ke);
    }
    tes_buf_free(&cose);
    if (e == TES_OK) {
        /* {0: "1.0", 1: [1, EDeviceKeyBytes]} — keys in deterministic order */
        tes_cbor_enc de = {.out = &out->bytes};
        tes_cbor_enc_map(&de, 2);
        tes_cbor_enc_uint(&de, 0);
        tes_cbor_enc_cstr(&de, "1.0");
        tes_cbor_enc_uint(&de, 1);
        tes_cbor_enc_array(&de, 2);
        tes_cbor_enc_uint(&de, 1);
        tes_cbor_enc_raw(&de, tes_buf_bytes(&out->edevice_key_bytes));
        e = tes_cbor_enc_finish(&de);
    }
    if (e == TES_OK)
        e = public_copy(edevice, &out->edevice_pub);
    if (e != TES_OK)
        tes_engagement_free(out);
    return e;
}

/* "1." followed by one or more digits. */
static bool version_ok(const tes_cbor_node *n)
{
    if (n->type != TES_CBOR_TEXT || n->len < 3 || n->data[0] != '1' || n->data[1] != '.')
        return false;
    for (size_t i = 2; i < n->len; i++)
        if (n->data[i] < '0' || n->data[i] > '9')
            return false;
    return true;
}

/* DeviceRetrievalMethods = [+ [type: uint, version: uint, options: map]]; unknown
 * types and extra trailing members are tolerated. */
static tes_err check_retrieval_methods(const tes_cbor_doc *d, uint32_t m)
{
    if (!tes_cbor_is(d, m, TES_CBOR_ARRAY) || tes_cbor_count(d, m) == 0)
        return tes_err_set(TES_ERR_ENGAGEMENT,
                           "DeviceEngagement: DeviceRetrievalMethods (key 2) must be a "
                           "non-empty array");
    uint64_t n = tes_cbor_count(d, m);
    uint32_t k = tes_cbor_child(d, m);
    for (uint64_t i = 0; i < n; i++, k = tes_cbor_next(d, k)) {
        if (!tes_cbor_is(d, k, TES_CBOR_ARRAY) || tes_cbor_count(d, k) < 3)
            return tes_err_set(TES_ERR_ENGAGEMENT,
                               "DeviceEngagement: retrieval method %llu is not an array "
                               "[type, version, options]",
                               (unsigned long long)i);
        uint32_t t = tes_cbor_child(d, k);
        uint32_t v = tes_cbor_next(d, t);
        uint32_t o = tes_cbor_next(d, v);
        if (!tes_cbor_is(d, t, TES_CBOR_UINT) || !tes_cbor_is(d, v, TES_CBOR_UINT) ||
            !tes_cbor_is(d, o, TES_CBOR_MAP))
            return tes_err_set(TES_ERR_ENGAGEMENT,
                               "DeviceEngagement: retrieval method %llu needs uint type, uint "
                               "version and an options map",
                               (unsigned long long)i);
    }
    return TES_OK;
}

tes_err tes_engagement_parse(tes_bytes in, tes_engagement *out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "engagement parse: NULL output");
    memset(out, 0, sizeof(*out));
    if (!in.ptr && in.len)
        return tes_err_set(TES_ERR_ARG, "engagement parse: NULL input");
    if (in.len == 0)
        return tes_err_set(TES_ERR_ENGAGEMENT, "DeviceEngagement is empty");
    if (in.len > TES_SESSION_MAX_ENGAGEMENT)
        return tes_err_set(TES_ERR_ENGAGEMENT, "DeviceEngagement is %zu bytes, more than %u",
                           in.len, TES_SESSION_MAX_ENGAGEMENT);

    tes_cbor_node nodes[64];
    tes_cbor_doc d;
    tes_cbor_limits lim = {
        .max_input = TES_SESSION_MAX_ENGAGEMENT, .max_depth = 12, .max_items = 1024};
    tes_err e = tes_cbor_parse_with(in, &lim, nodes, 64, &d);
    if (e != TES_OK)
        return e;

    tes_key *key = NULL;
    if (!tes_cbor_is(&d, 0, TES_CBOR_MAP)) {
        e = tes_err_set(TES_ERR_ENGAGEMENT, "DeviceEngagement is not a map");
        goto done;
    }
    uint32_t ver = tes_cbor_map_get_int(&d, 0, 0);
    uint32_t sec = tes_cbor_map_get_int(&d, 0, 1);
    uint32_t drm = tes_cbor_map_get_int(&d, 0, 2);
    if (ver == TES_CBOR_NONE) {
        e = tes_err_set(TES_ERR_ENGAGEMENT, "DeviceEngagement has no version (key 0)");
        goto done;
    }
    if (!version_ok(&d.nodes[ver])) {
        e = tes_err_set(TES_ERR_ENGAGEMENT,
                        "DeviceEngagement version (key 0) must be a text \"1.x\"");
        goto done;
    }
    if (sec == TES_CBOR_NONE) {
        e = tes_err_set(TES_ERR_ENGAGEMENT, "DeviceEngagement has no Security (key 1)");
        goto done;
    }
    if (!tes_cbor_is(&d, sec, TES_CBOR_ARRAY) || tes_cbor_count(&d, sec) != 2) {
        e = tes_err_set(TES_ERR_ENGAGEMENT,
                        "DeviceEngagement Security must be [cipher suite, EDeviceKeyBytes]");
        goto done;
    }
    uint32_t suite = tes_cbor_child(&d, sec);
    uint32_t kb = tes_cbor_next(&d, suite);
    if (!tes_cbor_is(&d, suite, TES_CBOR_UINT)) {
        e = tes_err_set(TES_ERR_ENGAGEMENT, "DeviceEngagement cipher suite is not an integer");
        goto done;
    }
    if (d.nodes[suite].val != 1) {
        e = tes_err_set(TES_ERR_ENGAGEMENT,
                        "DeviceEngagement cipher suite %llu is not supported (only 1)",
                        (unsigned long long)d.nodes[suite].val);
        goto done;
    }
    tes_bytes cose;
    if (!tes_cbor_tag24_content(&d, kb, &cose)) {
        e = tes_err_set(TES_ERR_ENGAGEMENT,
                        "EDeviceKeyBytes is not a tag 24 byte string (#6.24(bstr .cbor COSE_Key))");
        goto done;
    }
    e = tes_cose_key_parse(cose, &key);
    if (e != TES_OK) {
        if (!tes_err_is_env(e))
            e = tes_err_set(TES_ERR_ENGAGEMENT, "EDeviceKey: %s", tes_err_message());
        goto done;
    }
    if (tes_key_curve(key) != TES_CURVE_P256) {
        e = tes_err_set(TES_ERR_ENGAGEMENT, "EDeviceKey must be an EC2 P-256 key");
        goto done;
    }
    if (drm != TES_CBOR_NONE && (e = check_retrieval_methods(&d, drm)) != TES_OK)
        goto done;

    tes_buf_append(&out->bytes, in.ptr, in.len);
    tes_bytes kspan = tes_cbor_span(&d, kb);
    tes_buf_append(&out->edevice_key_bytes, kspan.ptr, kspan.len);
    if (out->bytes.failed || out->edevice_key_bytes.failed) {
        e = tes_err_set(TES_ERR_NOMEM, "out of memory copying the DeviceEngagement");
        goto done;
    }
    out->edevice_pub = key;
    key = NULL;
done:
    tes_key_free(key);
    tes_cbor_doc_free(&d);
    if (e != TES_OK)
        tes_engagement_free(out);
    return e;
}

tes_err tes_engagement_to_uri(const tes_engagement *e, tes_buf *uri)
{
    if (!e || !uri || e->bytes.len == 0)
        return tes_err_set(TES_ERR_ARG, "engagement to URI: no engagement");
    size_t start = uri->len;
    tes_buf_append(uri, URI_SCHEME, URI_SCHEME_LEN);
    tes_b64url_encode(uri, tes_buf_bytes(&e->bytes));
    if (uri->failed) {
        uri->len = start;
        return tes_err_set(TES_ERR_NOMEM, "out of memory writing the mdoc: URI");
    }
    return TES_OK;
}

static bool is_b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

tes_err tes_engagement_from_uri(const char *uri, size_t len, tes_engagement *out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "engagement from URI: NULL output");
    memset(out, 0, sizeof(*out));
    if (!uri && len)
        return tes_err_set(TES_ERR_ARG, "engagement from URI: NULL input");
    if (len > TES_SESSION_MAX_URI)
        return tes_err_set(TES_ERR_ENGAGEMENT, "mdoc: URI is %zu characters, more than %u", len,
                           TES_SESSION_MAX_URI);
    if (len < URI_SCHEME_LEN || memcmp(uri, URI_SCHEME, URI_SCHEME_LEN) != 0)
        return tes_err_set(TES_ERR_ENGAGEMENT, "the engagement URI does not start with \"mdoc:\"");
    const char *p = uri + URI_SCHEME_LEN;
    size_t n = len - URI_SCHEME_LEN;
    if (n == 0)
        return tes_err_set(TES_ERR_ENGAGEMENT, "the mdoc: URI carries no engagement");
    /* base64url characters, then at most two '=' at the very end */
    size_t body = n;
    while (body > 0 && p[body - 1] == '=')
        body--;
    if (n - body > 2 || body == 0)
        return tes_err_set(TES_ERR_ENGAGEMENT, "the mdoc: URI has misplaced padding");
    for (size_t i = 0; i < body; i++)
        if (!is_b64url_char(p[i]))
            return tes_err_set(TES_ERR_ENGAGEMENT,
                               "the mdoc: URI has a character outside base64url at offset %zu",
                               URI_SCHEME_LEN + i);
    if (n != body && n % 4 != 0)
        return tes_err_set(TES_ERR_ENGAGEMENT, "the mdoc: URI padding does not fill a quantum");

    tes_buf raw = {0};
    tes_err e = tes_b64url_decode(&raw, p, n);
    if (e == TES_ERR_ENCODING)
        e = tes_err_set(TES_ERR_ENGAGEMENT, "the mdoc: URI is not valid base64url: %s",
                        tes_err_message());
    if (e == TES_OK)
        e = tes_engagement_parse(tes_buf_bytes(&raw), out);
    tes_buf_free(&raw);
    return e;
}
