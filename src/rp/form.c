/*
 * The response endpoint's parsing (rp.h), pure functions with no state so
 * that they are fuzzed alone (tests/fuzz/fuzz_rp_response.c): the form body
 * of POST /oid4vp/response/<tx>, and the decrypted payload of a
 * direct_post.jwt response with its vp_token (OpenID4VP 1.0 §8.1, §8.3,
 * Appendix B.2.3: a base64url DeviceResponse per Credential Query).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/jose.h"
#include "tessera/oid4vp.h"
#include "tessera/rp.h"

#define ERROR_MAX 64
#define ERROR_DESC_MAX 1024
#define ERROR_URI_MAX 512
#define DEVICE_RESPONSE_B64_MAX TES_RP_RESPONSE_MAX

void tes_rp_form_free(tes_rp_form *f)
{
    if (f == NULL)
        return;
    free(f->response);
    free(f->error);
    free(f->error_description);
    free(f->state);
    memset(f, 0, sizeof *f);
}

/* The member name[0..n) -> its slot and bound; NULL for unknown. */
static char **slot_of(tes_rp_form *f, const char *name, size_t n, size_t *max, bool *ignored)
{
    static char *ignored_slot;
    *ignored = false;
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, n) == 0)
    if (IS("response")) {
        *max = TES_RP_RESPONSE_MAX;
        return &f->response;
    }
    if (IS("error")) {
        *max = ERROR_MAX;
        return &f->error;
    }
    if (IS("error_description")) {
        *max = ERROR_DESC_MAX;
        return &f->error_description;
    }
    if (IS("state")) {
        *max = TES_OID4VP_STATE_MAX;
        return &f->state;
    }
    if (IS("error_uri")) { /* RFC 6749 §4.1.2.1: allowed, not used */
        *max = ERROR_URI_MAX;
        *ignored = true;
        return &ignored_slot;
    }
#undef IS
    return NULL;
}

/* An OAuth error code: 1..64 of %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2). */
static bool oauth_code(const char *s)
{
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
            return false;
    return *s != '\0';
}

static tes_err member(tes_rp_form *f, const char *m, size_t n)
{
    const char *eq = memchr(m, '=', n);
    if (eq == NULL)
        return tes_err_set(TES_ERR_RP_RESPONSE, "a form member without '='");
    size_t max;
    bool ignored;
    char **slot = slot_of(f, m, (size_t)(eq - m), &max, &ignored);
    if (slot == NULL)
        return tes_err_set(TES_ERR_RP_RESPONSE, "unknown form member '%.*s'",
                           (int)((size_t)(eq - m) > 40 ? 40 : (size_t)(eq - m)), m);
    const char *v = eq + 1;
    size_t vn = n - (size_t)(v - m);
    if (vn > 3 * max)
        return tes_err_set(TES_ERR_RP_RESPONSE, "form member '%.*s' is longer than %zu bytes",
                           (int)(eq - m), m, max);
    char *out = malloc(vn + 1);
    if (out == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    size_t len = 0;
    tes_err e = tes_url_decode(v, vn, true, out, vn + 1, &len);
    if (e == TES_OK && (len == 0 || len > max || memchr(out, '\0', len)))
        e = TES_ERR_RP_RESPONSE;
    if (e != TES_OK) {
        free(out);
        return tes_err_set(TES_ERR_RP_RESPONSE,
                           "form member '%.*s' is empty, badly encoded or longer than %zu bytes",
                           (int)(eq - m), m, max);
    }
    if (ignored) {
        free(out);
        return TES_OK;
    }
    if (*slot != NULL) {
        free(out);
        return tes_err_set(TES_ERR_RP_RESPONSE, "form member '%.*s' given twice", (int)(eq - m),
                           m);
    }
    *slot = out;
    return TES_OK;
}

tes_err tes_rp_form_parse(const char *body, size_t len, tes_rp_form *out)
{
    if (out == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_rp_form_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (body == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_rp_form_parse: NULL argument");
    if (len == 0)
        return tes_err_set(TES_ERR_RP_RESPONSE, "the response is empty");
    for (size_t i = 0; i <= len;) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - body) : len;
        if (end == i)
            return tes_err_set(TES_ERR_RP_RESPONSE, "an empty form member");
        tes_err e = member(out, body + i, end - i);
        if (e != TES_OK)
            return e;
        i = end + 1;
    }
    if ((out->response == NULL) == (out->error == NULL))
        return tes_err_set(TES_ERR_RP_RESPONSE,
                           out->response ? "the form holds both \"response\" and \"error\""
                                         : "the form holds neither \"response\" nor \"error\"");
    if (out->response && out->error_description)
        return tes_err_set(TES_ERR_RP_RESPONSE, "\"error_description\" without \"error\"");
    if (out->error && !oauth_code(out->error))
        return tes_err_set(TES_ERR_RP_RESPONSE, "\"error\" is not an OAuth error code");
    return TES_OK;
}

/* vp_token: {"<credential_id>": ["<base64url DeviceResponse>"]}. */
static tes_err read_vp_token(const json_t *vp, const char *credential_id, tes_buf *dr)
{
    if (!json_is_object(vp))
        return tes_err_set(TES_ERR_RP_RESPONSE, "the response has no \"vp_token\" object");
    const json_t *list = json_object_get(vp, credential_id);
    if (list == NULL || json_object_size(vp) != 1)
        return tes_err_set(TES_ERR_RP_RESPONSE,
                           "\"vp_token\" does not hold exactly the Credential Query \"%s\"",
                           credential_id);
    if (!json_is_array(list) || json_array_size(list) != 1)
        return tes_err_set(TES_ERR_RP_RESPONSE,
                           "\"vp_token\".\"%s\" is not an array of one presentation",
                           credential_id);
    const json_t *p = json_array_get(list, 0);
    size_t n = json_is_string(p) ? json_string_length(p) : 0;
    const char *s = json_string_value(p);
    if (n == 0 || n > DEVICE_RESPONSE_B64_MAX || !tes_jose_b64url_chars(s, n) ||
        tes_b64url_decode(dr, s, n) != TES_OK || dr->len == 0)
        return tes_err_set(TES_ERR_RP_RESPONSE,
                           "the presentation is not a base64url DeviceResponse");
    return TES_OK;
}

tes_err tes_rp_payload_parse(const char *json, size_t len, const char *credential_id,
                             char **state, tes_buf *device_response)
{
    if (json == NULL || credential_id == NULL || state == NULL || device_response == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_rp_payload_parse: NULL argument");
    *state = NULL;
    if (len > TES_RP_RESPONSE_MAX)
        return tes_err_set(TES_ERR_RP_RESPONSE, "the response payload is too long");
    json_error_t je;
    json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(v)) {
        json_decref(v);
        return tes_err_set(TES_ERR_RP_RESPONSE, "the response payload is not a JSON object");
    }
    tes_buf dr = {0};
    tes_err e = read_vp_token(json_object_get(v, "vp_token"), credential_id, &dr);
    const json_t *st = json_object_get(v, "state");
    if (e == TES_OK && st != NULL) {
        size_t n = json_is_string(st) ? json_string_length(st) : 0;
        if (n == 0 || n > TES_OID4VP_STATE_MAX || memchr(json_string_value(st), '\0', n))
            e = tes_err_set(TES_ERR_RP_RESPONSE, "\"state\" is not a string of 1..%d bytes",
                            TES_OID4VP_STATE_MAX);
        else if ((*state = strdup(json_string_value(st))) == NULL)
            e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    }
    if (e == TES_OK)
        tes_buf_append(device_response, dr.ptr, dr.len);
    if (e == TES_OK && device_response->failed)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    if (e != TES_OK) {
        free(*state);
        *state = NULL;
    }
    tes_buf_free(&dr);
    json_decref(v);
    return e;
}
