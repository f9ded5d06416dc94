/* The wallet's side of an OpenID4VP 1.0 login without HTTP
 * (tes_wallet_authorize_request, tessera/wallet.h): verify the request
 * object, check where the answer goes, match the DCQL query, keep to the
 * site's scope, ask the holder, compute the site's pseudonym in the secure
 * element, present through the holder's one sequence (PIN, copy, signature,
 * log) and encrypt the answer to the site's key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tessera/mdoc.h"
#include "tessera/oid4vp.h"
#include "tessera/wallet.h"

#include "authz_internal.h"

#define MAX_RELEASE TES_DCQL_MAX_CLAIMS

typedef struct authz {
    tes_wallet *w;
    const tes_wallet_authorize_opts *o;
    int64_t now;
    tes_oid4vp_request *req;
    tes_wallet_authorize_result *res;
    tes_buf *form;
    char rp[600]; /* the log's name for the site */
    tes_dcql_query *q;
    authz_cands cands;
    tes_dcql_result match;
    bool have_match;
    /* what is to be released */
    size_t query; /* the Credential Query presented */
    const authz_cand *cand;
    tes_mdoc_req_elem elems[MAX_RELEASE];
    size_t n_elems;
    bool pseudonym;
    char pin[64];
    uint8_t pseud[TES_SE_PSEUDONYM_LEN];
} authz;

void tes_wallet_authorize_result_free(tes_wallet_authorize_result *r)
{
    if (r == NULL)
        return;
    tes_holder_answer a = {.disclosed = r->disclosed, .n_disclosed = r->n_disclosed};
    tes_holder_answer_free(&a);
    free(r->response_uri);
    free(r->redirect_uri);
    *r = (tes_wallet_authorize_result){0};
}

/* ---------------------------------------------------------------- the log */

/* A refusal after the request verified, in the log: "declined" or
 * "failed: <error>", with what was asked. */
static void log_refusal(authz *a, tes_err e)
{
    char outcome[96];
    if (e == TES_ERR_CONSENT)
        snprintf(outcome, sizeof outcome, "declined");
    else
        snprintf(outcome, sizeof outcome, "failed: %s", tes_err_name(e));
    tes_buf l = {0};
    for (size_t i = 0; i < a->n_elems; i++) {
        tes_buf_append(&l, i ? "," : "", i ? 1 : 0);
        tes_buf_append(&l, a->elems[i].ns.ptr, a->elems[i].ns.len);
        tes_buf_append(&l, "/", 1);
        tes_buf_append(&l, a->elems[i].name.ptr, a->elems[i].name.len);
    }
    if (a->pseudonym)
        tes_buf_append(&l, a->n_elems ? "," TES_NS_PSEUDONYM "/" TES_ELEM_PSEUDONYM
                                      : TES_NS_PSEUDONYM "/" TES_ELEM_PSEUDONYM,
                       strlen(TES_NS_PSEUDONYM "/" TES_ELEM_PSEUDONYM) + (a->n_elems ? 1 : 0));
    tes_buf_append(&l, "", 1);
    static char none[] = "";
    const tes_store_log_entry le = {.at = a->o->now,
                                    .relying_party = a->rp,
                                    .elements = l.failed ? none : (char *)l.ptr,
                                    .cred_id = a->cand ? a->cand->cred_id : 0,
                                    .outcome = outcome};
    char msg[512];
    snprintf(msg, sizeof msg, "%s", tes_err_message_for(e));
    tes_err logged = tes_store_log_add(tes_wallet_store(a->w), &le);
    (void)logged; /* a log that cannot be written does not hide the refusal */
    (void)tes_err_set(e, "%s", msg); /* nor its message */
    tes_buf_free(&l);
}

/* ---------------------------------------------------------------- the form */

/* An OpenID4VP error response (§8.5) for e into the form, keeping e's message. */
static tes_err refuse(authz *a, tes_err e, const char *error)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", tes_err_message_for(e));
    tes_buf_reset(a->form);
    tes_buf_append(a->form, "error=", 6);
    tes_url_encode(a->form, error, strlen(error));
    tes_buf_append(a->form, "&error_description=", 19);
    tes_url_encode(a->form, msg, strlen(msg));
    if (a->req->state) {
        tes_buf_append(a->form, "&state=", 7);
        tes_url_encode(a->form, a->req->state, strlen(a->req->state));
    }
    if (a->form->failed)
        tes_buf_reset(a->form);
    else
        a->res->error_sent = error;
    log_refusal(a, e);
    return tes_err_set(e, "%s", msg);
}

/* ---------------------------------------------------------------- steps */

/* The response_uri's host must be the certificate's DNS name (OpenID4VP
 * 1.0 §5.9.3 for x509_san_dns; Tessera asks the same of x509_hash when the
 * certificate names a host). */
static tes_err check_host(const tes_oid4vp_request *r)
{
    const char *u = r->response_uri;
    const char *host = strncasecmp(u, "https://", 8) == 0 ? u + 8 : u + 7;
    size_t hn = strcspn(host, ":/?#");
    bool named = r->dns_name != NULL && r->dns_name[0] != '\0';
    bool san_dns = strncmp(r->client_id, "x509_san_dns:", 13) == 0;
    if (!named && !san_dns)
        return TES_OK;
    if (named && strlen(r->dns_name) == hn && strncasecmp(host, r->dns_name, hn) == 0)
        return TES_OK;
    return tes_err_set(TES_ERR_RESPONSE_URI,
                       "the response would go to host '%.*s', but the site's certificate names "
                       "'%s': refused (OpenID4VP 1.0 §5.9.3)",
                       (int)(hn > 200 ? 200 : hn), host, named ? r->dns_name : "(none)");
}

static tes_err verify(authz *a, const char *jws, size_t len, const char *client_id)
{
    tes_trust_store *own = NULL;
    tes_err e = TES_OK;
    if (a->o->rp_trust == NULL) {
        e = tes_trust_store_new(&own);
        if (e == TES_OK)
            e = tes_wallet_reader_roots_load(a->w, own, NULL);
    }
    const tes_oid4vp_request_opts ro = {.rp_roots = a->o->rp_trust ? a->o->rp_trust : own,
                                        .now = a->now,
                                        .client_id = client_id,
                                        .allow_loopback_http = a->o->allow_loopback_http};
    if (e == TES_OK)
        e = tes_oid4vp_request_verify(jws, len, &ro, &a->req);
    tes_trust_store_free(own);
    if (e != TES_OK)
        return e;
    const tes_oid4vp_request *r = a->req;
    tes_text_printable(a->res->rp_name, sizeof a->res->rp_name,
                       TES_BYTES(r->display_name, strlen(r->display_name)));
    const char *dns = r->dns_name ? r->dns_name : "";
    tes_text_printable(a->res->rp_dns, sizeof a->res->rp_dns, TES_BYTES(dns, strlen(dns)));
    snprintf(a->rp, sizeof a->rp, "%s (%s)", a->res->rp_name, a->res->rp_dns);
    if ((a->res->response_uri = strdup(r->response_uri)) == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    return check_host(r);
}

/* The Credential Query to present and its claims (one only: Tessera presents
 * one credential per login). */
static tes_err choose(authz *a)
{
    size_t chosen = SIZE_MAX;
    for (size_t i = 0; i < a->match.n; i++) {
        if (!a->match.credentials[i].selected)
            continue;
        if (chosen != SIZE_MAX)
            return tes_err_set(TES_ERR_DCQL_UNSUPPORTED,
                               "the query asks for more than one credential at once; Tessera "
                               "presents one per login");
        chosen = i;
    }
    if (chosen == SIZE_MAX)
        return tes_err_set(TES_ERR_DCQL_UNSATISFIED, "no credential in the wallet matches");
    const tes_dcql_query_result *qr = &a->match.credentials[chosen];
    const tes_dcql_match *m = NULL;
    for (size_t i = 0; i < qr->n_matches && m == NULL; i++)
        if (!qr->matches[i].needs_value_check) /* every value was given and compared */
            m = &qr->matches[i];
    if (m == NULL)
        return tes_err_set(TES_ERR_DCQL_UNSATISFIED,
                           "no credential in the wallet has the values the query asks for");
    const tes_dcql_credential *cq = &a->q->credentials[chosen];
    a->query = chosen;
    a->cand = &a->cands.items[m->candidate];
    for (size_t i = 0; i < m->n_claims; i++) {
        const tes_dcql_claim *cl = &cq->claims[m->claims[i]];
        if (strcmp(cl->ns, TES_NS_PSEUDONYM) == 0 && strcmp(cl->element, TES_ELEM_PSEUDONYM) == 0) {
            a->pseudonym = true;
            continue;
        }
        if (a->n_elems == MAX_RELEASE)
            return tes_err_set(TES_ERR_DCQL, "too many claims");
        a->elems[a->n_elems++] = (tes_mdoc_req_elem){TES_BYTES(cl->ns, strlen(cl->ns)),
                                                     TES_BYTES(cl->element, strlen(cl->element)),
                                                     cl->intent_to_retain};
    }
    if (a->n_elems == 0 && !a->pseudonym)
        return tes_err_set(TES_ERR_DCQL_UNSUPPORTED,
                           "the query asks for no claim of the credential (Tessera releases "
                           "only what is named)");
    return TES_OK;
}

/* Every element asked must be in the certificate's scope (the pseudonym
 * belongs to the site alone and is outside every scope). */
static tes_err check_scope(const authz *a)
{
    for (size_t i = 0; i < a->n_elems; i++)
        if (!tes_reader_scope_allows(&a->req->scope, a->elems[i].ns, a->elems[i].name))
            return tes_err_set(TES_ERR_READER_SCOPE,
                               "the site asks for %.*s/%.*s, which its access certificate does "
                               "not permit it to ask for",
                               (int)a->elems[i].ns.len, (const char *)a->elems[i].ns.ptr,
                               (int)a->elems[i].name.len, (const char *)a->elems[i].name.ptr);
    return TES_OK;
}

static tes_err match(authz *a)
{
    const char *dq = a->req->dcql_query;
    tes_err e = tes_dcql_parse(dq, strlen(dq), &a->q);
    if (e != TES_OK)
        return refuse(a, e, "invalid_request");
    if ((e = authz_cands_load(a->w, a->now, &a->cands)) != TES_OK)
        return e;
    e = tes_dcql_match_candidates(a->q, a->cands.cand, a->cands.n, &a->match);
    a->have_match = e == TES_OK || e == TES_ERR_DCQL_UNSATISFIED;
    if (e == TES_OK)
        e = choose(a);
    if (e == TES_ERR_DCQL_UNSATISFIED)
        return refuse(a, e, "access_denied");
    if (e == TES_ERR_DCQL || e == TES_ERR_DCQL_UNSUPPORTED)
        return refuse(a, e, "invalid_request");
    if (e != TES_OK)
        return e;
    if ((e = check_scope(a)) != TES_OK)
        return refuse(a, e, "invalid_request");
    return TES_OK;
}

/* Asks the holder: who (verified name, DNS name, purpose), what (the
 * elements and the pseudonym). Everything must be approved. */
static tes_err consent(authz *a)
{
    size_t n = a->n_elems + a->pseudonym;
    tes_consent_request cr = {.reader_authenticated = true, .credential_id = a->cand->cred_id};
    tes_consent_item items[MAX_RELEASE + 1];
    memset(items, 0, sizeof items);
    const tes_oid4vp_request *r = a->req;
    snprintf(cr.reader_name, sizeof cr.reader_name, "%s", a->res->rp_name);
    const char *iss = tes_cert_get_info(r->leaf)->issuer;
    tes_text_printable(cr.reader_issuer, sizeof cr.reader_issuer, TES_BYTES(iss, strlen(iss)));
    const char *purpose = r->scope.purpose ? r->scope.purpose : "";
    tes_text_printable(cr.purpose, sizeof cr.purpose, TES_BYTES(purpose, strlen(purpose)));
    tes_text_printable(cr.doctype, sizeof cr.doctype,
                       TES_BYTES(a->cand->doctype, strlen(a->cand->doctype)));
    snprintf(cr.site, sizeof cr.site, "%s", a->res->rp_dns);
    for (size_t i = 0; i < a->n_elems; i++)
        items[i] = (tes_consent_item){.ns = a->elems[i].ns, .name = a->elems[i].name,
                                      .intent_to_retain = a->elems[i].intent_to_retain,
                                      .in_scope = true, .held = true};
    if (a->pseudonym)
        items[a->n_elems] = (tes_consent_item){.ns = TES_BYTES_STR(TES_NS_PSEUDONYM),
                                               .name = TES_BYTES_STR(TES_ELEM_PSEUDONYM),
                                               .in_scope = true, .held = true};
    cr.items = items;
    cr.n_items = n;
    tes_err e = a->o->consent ? a->o->consent(a->o->consent_ctx, &cr, a->pin)
                              : tes_err_set(TES_ERR_CONSENT, "no consent callback: declined");
    a->pin[sizeof a->pin - 1] = '\0';
    for (size_t i = 0; e == TES_OK && i < n; i++)
        if (!items[i].approve)
            e = tes_err_set(TES_ERR_CONSENT, "the holder did not approve %.*s/%.*s",
                            (int)items[i].ns.len, (const char *)items[i].ns.ptr,
                            (int)items[i].name.len, (const char *)items[i].name.ptr);
    if (e == TES_ERR_CONSENT)
        return refuse(a, e, "access_denied");
    if (e != TES_OK)
        log_refusal(a, e);
    return e;
}

/* The site's pseudonym from the verified leaf's public key, in the SE. */
static tes_err pseudonym(authz *a)
{
    uint8_t site[65], x[TES_MAX_COORD], y[TES_MAX_COORD];
    const tes_key *k = tes_cert_key(a->req->leaf);
    tes_err e = tes_key_curve(k) == TES_CURVE_P256
                    ? tes_key_public_raw(k, x, y)
                    : tes_err_set(TES_ERR_SITE_KEY, "the site's key is not on P-256");
    if (e == TES_OK) {
        site[0] = 0x04;
        memcpy(site + 1, x, 32);
        memcpy(site + 33, y, 32);
        e = tes_se_pseudonym(tes_wallet_se(a->w), a->pin[0] ? a->pin : NULL,
                             TES_BYTES(site, sizeof site), a->pseud);
    }
    if (e != TES_OK)
        log_refusal(a, e);
    return e;
}

/* {"vp_token": {"<id>": ["<b64url DeviceResponse>"]}, "state"} */
static tes_err payload(const authz *a, tes_bytes resp, tes_buf *out)
{
    tes_buf b = {.secret = true};
    tes_b64url_encode(&b, resp);
    tes_buf_append(&b, "", 1);
    json_t *p = b.failed ? NULL
                         : json_pack("{s:{s:[s]}}", "vp_token", a->q->credentials[a->query].id,
                                     (const char *)b.ptr);
    if (p != NULL && a->req->state != NULL &&
        json_object_set_new(p, "state", json_string(a->req->state)) != 0) {
        json_decref(p);
        p = NULL;
    }
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    tes_buf_free(&b);
    if (text == NULL)
        return tes_err_set(TES_ERR_NOMEM, "out of memory");
    tes_buf_append(out, text, strlen(text));
    tes_wipe(text, strlen(text));
    free(text);
    return out->failed ? tes_err_set(TES_ERR_NOMEM, "out of memory") : TES_OK;
}

/* The form: response=<JWE> (direct_post.jwt) or vp_token=..&state=.. (direct_post). */
static tes_err seal(authz *a, tes_bytes resp)
{
    const tes_oid4vp_request *r = a->req;
    tes_buf pl = {.secret = true}, jwe = {0};
    tes_err e = payload(a, resp, &pl);
    if (e == TES_OK && strcmp(r->response_mode, "direct_post.jwt") == 0) {
        /* A256GCM when offered; else A128GCM, also the default when the site
         * lists none (OpenID4VP 1.0 encrypted_response_enc_values_supported) */
        bool a256 = (r->enc_values & TES_OID4VP_ENC_A256GCM) != 0;
        json_t *extra = r->enc_kid ? json_pack("{s:s}", "kid", r->enc_kid) : NULL;
        const tes_jwe_encrypt_opts jo = {
            .enc = a256 ? TES_JWE_ENC_A256GCM : TES_JWE_ENC_A128GCM, .extra = extra};
        e = r->enc_key == NULL
                ? tes_err_set(TES_ERR_OID4VP_REQUEST, "direct_post.jwt without an encryption key")
                : tes_jwe_encrypt_with(&jo, tes_buf_bytes(&pl), r->enc_key, &jwe);
        json_decref(extra);
        tes_buf_reset(a->form);
        tes_buf_append(a->form, "response=", 9);
        tes_buf_append(a->form, jwe.ptr, jwe.len);
    } else if (e == TES_OK) {
        /* unencrypted: vp_token and state as form fields */
        json_error_t je;
        json_t *p = json_loadb((const char *)pl.ptr, pl.len, 0, &je);
        char *vp = p ? json_dumps(json_object_get(p, "vp_token"), JSON_COMPACT) : NULL;
        tes_buf_reset(a->form);
        tes_buf_append(a->form, "vp_token=", 9);
        if (vp)
            tes_url_encode(a->form, vp, strlen(vp));
        if (r->state) {
            tes_buf_append(a->form, "&state=", 7);
            tes_url_encode(a->form, r->state, strlen(r->state));
        }
        e = vp ? TES_OK : tes_err_set(TES_ERR_NOMEM, "out of memory");
        free(vp);
        json_decref(p);
    }
    if (e == TES_OK && a->form->failed)
        e = tes_err_set(TES_ERR_NOMEM, "out of memory");
    tes_buf_free(&pl);
    tes_buf_free(&jwe);
    return e;
}

/* The DeviceResponse over the OpenID4VP SessionTranscript, through the
 * holder's one sequence (PIN, copy, signature in the SE, log). */
static tes_err present(authz *a)
{
    const tes_oid4vp_request *r = a->req;
    tes_buf tr = {0}, tp = {0}, resp = {.secret = true};
    uint8_t pv[2 + TES_SE_PSEUDONYM_LEN] = {0x58, TES_SE_PSEUDONYM_LEN};
    memcpy(pv + 2, a->pseud, TES_SE_PSEUDONYM_LEN);
    const tes_mdoc_device_elem de = {TES_NS_PSEUDONYM, TES_ELEM_PSEUDONYM,
                                     TES_BYTES(pv, sizeof pv)};
    tes_err e = TES_OK;
    if (r->enc_key != NULL && (e = tes_b64url_decode(&tp, r->enc_thumbprint,
                                                     strlen(r->enc_thumbprint))) == TES_OK &&
        tp.len != 32)
        e = tes_err_set(TES_ERR_JWK, "the encryption key's thumbprint is not 32 bytes");
    if (e == TES_OK)
        e = tes_oid4vp_session_transcript(r->client_id, r->nonce, r->enc_key ? tp.ptr : NULL,
                                          r->response_uri, &tr);
    if (e != TES_OK) {
        log_refusal(a, e);
        goto out;
    }
    const tes_holder_answer_params ap = {.se = tes_wallet_se(a->w),
                                         .store = tes_wallet_store(a->w),
                                         .cred_id = a->cand->cred_id,
                                         .elems = a->n_elems ? a->elems : NULL,
                                         .n_elems = a->n_elems,
                                         .transcript = tes_buf_bytes(&tr),
                                         .auth = TES_DEVICE_AUTH_SIGNATURE,
                                         .pin = a->pin,
                                         .relying_party = a->rp,
                                         .now = a->o->now,
                                         .device_elems = a->pseudonym ? &de : NULL,
                                         .n_device_elems = a->pseudonym};
    tes_holder_answer ans = {0};
    e = tes_holder_answer_request(&ap, &resp, &ans); /* logs its own outcome */
    a->res->disclosed = ans.disclosed;
    a->res->n_disclosed = ans.n_disclosed;
    if (e == TES_OK)
        a->res->credential_id = a->cand->cred_id;
    if (e == TES_OK)
        e = seal(a, tes_buf_bytes(&resp));
    if (e == TES_OK && a->pseudonym) {
        tes_buf b = {0};
        tes_b64url_encode(&b, TES_BYTES(a->pseud, sizeof a->pseud));
        if (!b.failed && b.len < sizeof a->res->pseudonym)
            memcpy(a->res->pseudonym, b.ptr, b.len);
        tes_buf_free(&b);
    }
out:
    tes_wipe(pv, sizeof pv);
    tes_buf_free(&tr);
    tes_buf_free(&tp);
    tes_buf_free(&resp);
    return e;
}

tes_err tes_wallet_authorize_request(tes_wallet *w, const char *jws, size_t len,
                                     const char *client_id, const tes_wallet_authorize_opts *o,
                                     tes_buf *form, tes_wallet_authorize_result *res)
{
    if (res != NULL)
        *res = (tes_wallet_authorize_result){0};
    if (form != NULL)
        tes_buf_reset(form);
    if (w == NULL || jws == NULL || o == NULL || form == NULL || res == NULL)
        return tes_err_set(TES_ERR_ARG, "tes_wallet_authorize_request: NULL argument");
    authz a = {.w = w, .o = o, .res = res, .form = form,
               .now = o->now ? o->now : tes_clock_now(NULL)};
    tes_err e = verify(&a, jws, len, client_id);
    if (e == TES_OK)
        e = match(&a);
    if (e == TES_OK)
        e = consent(&a);
    if (e == TES_OK && a.pseudonym)
        e = pseudonym(&a);
    if (e == TES_OK)
        e = present(&a);
    if (e != TES_OK && res->error_sent == NULL)
        tes_buf_reset(form); /* nothing to tell, or nothing that may be told */
    tes_wipe(a.pin, sizeof a.pin);
    tes_wipe(a.pseud, sizeof a.pseud);
    if (a.have_match)
        tes_dcql_result_free(&a.match);
    authz_cands_free(&a.cands);
    tes_dcql_query_free(a.q);
    tes_oid4vp_request_free(a.req);
    return e;
}
