/*
 * The reader's (lock's) side of the Aliro transaction (docs/KEYS.md). The lock decides what
 * to do between the steps (src/lock/lock.c); this file speaks the protocol:
 *   begin    SELECT primary, check the FCI, AUTH0; on the fast path find the known endpoint
 *            whose persistent key opens the cryptogram (every known key is tried: the device
 *            names nobody before the reader has proved itself)
 *   auth1    sign, decrypt the device's answer, verify its signature, derive the new
 *            persistent key
 *   step_up  SELECT step-up, ENVELOPE the document request, decrypt the DeviceResponse
 *   finish   EXCHANGE 97 <status> on the secure channel, or CONTROL FLOW without one
 */
#include <stdlib.h>
#include <string.h>

#include "access/access_internal.h"
#include "transport/transport_internal.h"

#define MAX_ANSWER (64 * 1024) /* GET RESPONSE chaining stops here */

struct tes_access_reader {
    tes_access_reader_opts o;
    tes_access_context ctx;
    tes_key *eph;
    tes_key *device_eph;
    tes_access_keys keys;
    tes_access_channel channel;
    tes_access_channel stepup;
    bool has_channel, has_stepup, stepup_selected;
    uint16_t signaling;
};

/* One command and its whole answer (GET RESPONSE while 61 XX), data into out. */
static tes_err xchg(tes_access_reader *x, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                    tes_bytes data, tes_buf *out, uint16_t *sw, const char *what)
{
    tes_buf cmd = {0}, resp = {0};
    tes_apdu_build(&cmd, cla, ins, p1, p2, data, 256, false);
    tes_err err = cmd.failed ? tes_err_set(TES_ERR_NOMEM, "access reader: out of memory") : TES_OK;
    for (int round = 0; !err; round++) {
        tes_buf_reset(&resp);
        err = x->o.transmit(x->o.transmit_ctx, tes_buf_bytes(&cmd), &resp);
        if (err)
            break;
        if (resp.len < 2) {
            err = tes_err_set(TES_ERR_APDU, "%s: answer of %zu bytes has no status word", what,
                              resp.len);
            break;
        }
        *sw = (uint16_t)(resp.ptr[resp.len - 2] << 8 | resp.ptr[resp.len - 1]);
        if (out->len + resp.len - 2 > MAX_ANSWER) {
            err = tes_err_set(TES_ERR_APDU, "%s: answer longer than %d bytes", what, MAX_ANSWER);
            break;
        }
        tes_buf_append(out, resp.ptr, resp.len - 2);
        if ((*sw >> 8) != 0x61)
            break;
        uint32_t ne = *sw & 0xFF;
        tes_buf_reset(&cmd);
        tes_apdu_build(&cmd, 0x00, 0xC0, 0x00, 0x00, TES_BYTES(NULL, 0), ne ? ne : 256, false);
    }
    if (!err && out->failed)
        err = tes_err_set(TES_ERR_NOMEM, "access reader: out of memory");
    tes_buf_free(&cmd);
    tes_buf_free(&resp);
    return err;
}

static tes_err want_9000(uint16_t sw, const char *what)
{
    if (sw == 0x9000)
        return TES_OK;
    if (sw == 0x6982)
        return tes_err_set(TES_ERR_ACCESS_READER,
                           "%s: the phone did not accept this reader (SW 6982)", what);
    return tes_err_set(TES_ERR_APDU, "%s: the phone answered SW %04X", what, sw);
}

static tes_err select_aid(tes_access_reader *x, const uint8_t *aid, tes_buf *fci)
{
    uint16_t sw = 0;
    tes_err err =
        xchg(x, 0x00, 0xA4, 0x04, 0x00, TES_BYTES(aid, TES_ACCESS_AID_LEN), fci, &sw, "SELECT");
    if (!err && sw != 0x9000)
        err = tes_err_set(TES_ERR_APDU, "SELECT %s: no Aliro applet (SW %04X)",
                          aid == tes_access_aid_primary ? TES_ACCESS_AID_PRIMARY_HEX
                                                        : TES_ACCESS_AID_STEPUP_HEX,
                          sw);
    return err;
}

/* Tries one known persistent key on the cryptogram: only the cryptogram key is derived for
 * a candidate; the rest of the fast keys for the one that opens it. */
static bool fast_match(tes_access_reader *x, const tes_access_known *k, tes_bytes cryptogram,
                       tes_access_result *r)
{
    uint8_t ck[32];
    bool ok = false;
    tes_buf plain = {.secret = true};
    static const uint8_t zero_iv[12];
    if (tes_access_derive_cryptogram_key(&x->ctx, k->kpersistent, k->endpoint_key + 1, ck) ==
            TES_OK &&
        tes_aes256gcm_decrypt(ck, zero_iv, TES_BYTES(NULL, 0), cryptogram, &plain) == TES_OK) {
        tes_tlv t[4];
        size_t n;
        const tes_tlv *s, *i, *v;
        ok = tes_tlv_parse(tes_buf_bytes(&plain), t, 4, &n) == TES_OK &&
             (s = tes_tlv_find(t, n, 0x5E)) && s->value.len == 2 &&
             (i = tes_tlv_find(t, n, 0x91)) && i->value.len == TES_ACCESS_TIMESTAMP_LEN &&
             (v = tes_tlv_find(t, n, 0x92)) && v->value.len == TES_ACCESS_TIMESTAMP_LEN &&
             tes_access_derive_fast(&x->ctx, k->kpersistent, k->endpoint_key + 1, &x->keys) ==
                 TES_OK;
        if (ok) {
            r->signaling = (uint16_t)(s->value.ptr[0] << 8 | s->value.ptr[1]);
            memcpy(r->issued_at, i->value.ptr, TES_ACCESS_TIMESTAMP_LEN);
            memcpy(r->revoked_at, v->value.ptr, TES_ACCESS_TIMESTAMP_LEN);
            memcpy(r->endpoint_key, k->endpoint_key, TES_ACCESS_POINT_LEN);
            tes_access_channel_init(&x->channel, x->keys.exchange_reader, x->keys.exchange_device);
            x->has_channel = true;
        }
    }
    tes_wipe(ck, sizeof ck);
    tes_buf_free(&plain);
    return ok;
}

static tes_err auth0(tes_access_reader *x, tes_access_result *r)
{
    tes_access_auth0 a = {.flags = x->o.fast ? TES_ACCESS_FLAG_FAST : TES_ACCESS_FLAG_STANDARD,
                          .policy = x->o.policy,
                          .version = x->ctx.version};
    uint8_t ex[TES_MAX_COORD], ey[TES_MAX_COORD];
    tes_err err = tes_key_generate(TES_CURVE_P256, &x->eph);
    if (!err)
        err = tes_key_public_raw(x->eph, ex, ey);
    if (!err && tes_rng_fill(x->o.rng, a.tx_id, sizeof a.tx_id) != 0)
        err = tes_err_set(TES_ERR_RANDOM, "access reader: no randomness");
    if (err)
        return err;
    a.reader_eph[0] = 0x04;
    memcpy(a.reader_eph + 1, ex, 32);
    memcpy(a.reader_eph + 33, ey, 32);
    memcpy(a.reader_id, x->o.reader_id, TES_ACCESS_READER_ID_LEN);
    x->ctx.flags = a.flags;
    x->ctx.policy = a.policy;
    memcpy(x->ctx.tx_id, a.tx_id, TES_ACCESS_TX_ID_LEN);
    memcpy(x->ctx.reader_eph_x, ex, 32);

    tes_buf cmd = {0}, ans = {0};
    uint16_t sw = 0;
    tes_access_auth0_build(&a, &cmd);
    err = cmd.failed ? tes_err_set(TES_ERR_NOMEM, "access reader: out of memory")
                     : xchg(x, 0x80, 0x80, 0x00, 0x00, tes_buf_bytes(&cmd), &ans, &sw, "AUTH0");
    if (!err)
        err = want_9000(sw, "AUTH0");
    tes_tlv t[4];
    size_t n = 0;
    const tes_tlv *e = NULL, *c = NULL;
    if (!err)
        err = tes_tlv_parse(tes_buf_bytes(&ans), t, 4, &n);
    if (!err) {
        e = tes_tlv_find(t, n, 0x86);
        c = tes_tlv_find(t, n, 0x9D);
        if (!e || e->value.len != TES_ACCESS_POINT_LEN || e->value.ptr[0] != 0x04)
            err =
                tes_err_set(TES_ERR_TLV, "AUTH0 answer: no uncompressed device ephemeral key (86)");
        else if (c && c->value.len != TES_ACCESS_CRYPTOGRAM_LEN)
            err = tes_err_set(TES_ERR_TLV, "AUTH0 answer: cryptogram of %zu bytes", c->value.len);
    }
    if (!err)
        err = tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(e->value.ptr + 1, 32),
                                    TES_BYTES(e->value.ptr + 33, 32), &x->device_eph);
    if (!err) {
        memcpy(x->ctx.device_eph_x, e->value.ptr + 1, 32);
        if (c && (a.flags & TES_ACCESS_FLAG_FAST)) {
            for (size_t i = 0; i < x->o.n_known; i++) {
                if (fast_match(x, &x->o.known[i], c->value, r)) {
                    r->flow = TES_ACCESS_FLOW_FAST;
                    r->known_index = (int)i;
                    break;
                }
            }
        }
    }
    tes_buf_free(&cmd);
    tes_buf_free(&ans);
    return err;
}

tes_err tes_access_reader_begin(const tes_access_reader_opts *o, tes_access_reader **out,
                                tes_access_result *r)
{
    if (!o || !out || !r || !o->reader_key || !o->transmit || (o->n_known && !o->known))
        return tes_err_set(TES_ERR_ARG, "tes_access_reader_begin: missing argument");
    *out = NULL;
    memset(r, 0, sizeof *r);
    r->known_index = -1;
    tes_access_reader *x = calloc(1, sizeof *x);
    if (!x)
        return tes_err_set(TES_ERR_NOMEM, "access reader: out of memory");
    x->o = *o;
    tes_access_context *c = &x->ctx;
    uint8_t kx[TES_MAX_COORD], ky[TES_MAX_COORD];
    tes_err err = tes_key_public_raw(o->reader_key, kx, ky);
    memcpy(c->reader_key_x, kx, 32);
    memcpy(c->reader_id, o->reader_id, TES_ACCESS_READER_ID_LEN);
    c->interface = TES_ACCESS_INTERFACE_NFC;
    c->version = TES_ACCESS_VERSION_1_0;
    tes_buf fci = {0};
    tes_bytes versions = {0};
    if (!err)
        err = select_aid(x, tes_access_aid_primary, &fci);
    if (!err)
        err = tes_access_fci_parse(tes_buf_bytes(&fci), c->fci, &c->fci_len, &versions);
    if (!err) {
        bool v10 = false;
        for (size_t i = 0; i + 1 < versions.len; i += 2)
            v10 |= versions.ptr[i] == 0x01 && versions.ptr[i + 1] == 0x00;
        if (!v10) {
            uint8_t cf[6] = {0x41, 0x01, 0x00, 0x42, 0x01, 0x27}; /* version not supported */
            tes_buf ans = {0};
            uint16_t sw;
            (void)xchg(x, 0x80, 0x3C, 0x00, 0x00, TES_BYTES(cf, 6), &ans, &sw, "CONTROL FLOW");
            tes_buf_free(&ans);
            err = tes_err_set(TES_ERR_APDU, "the phone offers no Aliro protocol version 1.0");
        }
    }
    tes_buf_free(&fci);
    if (!err)
        err = auth0(x, r);
    r->version = c->version;
    if (err) {
        tes_access_reader_free(x);
        return err;
    }
    *out = x;
    return TES_OK;
}

tes_err tes_access_reader_auth1(tes_access_reader *x, tes_access_result *r)
{
    if (!x || !r)
        return tes_err_set(TES_ERR_ARG, "tes_access_reader_auth1: NULL argument");
    uint8_t z[TES_MAX_COORD], kdh[32], input[TES_ACCESS_AUTH_INPUT_LEN], sig[TES_MAX_SIG];
    size_t zl = 0, sig_len = sizeof sig;
    tes_access_keys keys;
    tes_err err = tes_key_ecdh(x->eph, x->device_eph, z, &zl);
    if (!err)
        err = tes_access_derive_standard(&x->ctx, z, &keys, kdh);
    tes_wipe(z, sizeof z);
    tes_access_auth_input(&x->ctx, false, input);
    if (!err)
        err = tes_key_sign(x->o.reader_key, TES_HASH_SHA256, TES_BYTES(input, sizeof input), sig,
                           &sig_len);
    tes_buf cmd = {0}, ans = {0}, plain = {.secret = true};
    uint16_t sw = 0;
    if (!err) {
        uint8_t want_key = 0x01;
        tes_tlv_put(&cmd, 0x41, TES_BYTES(&want_key, 1));
        tes_tlv_put(&cmd, 0x9E, TES_BYTES(sig, sig_len));
        err = xchg(x, 0x80, 0x81, 0x00, 0x00, tes_buf_bytes(&cmd), &ans, &sw, "AUTH1");
    }
    if (!err)
        err = want_9000(sw, "AUTH1");
    if (!err) {
        x->keys = keys;
        tes_access_channel_init(&x->channel, keys.exchange_reader, keys.exchange_device);
        x->has_channel = x->has_stepup = true; /* the step-up keys are expanded when used */
        err = tes_access_channel_open(&x->channel, false, tes_buf_bytes(&ans), &plain);
    }
    tes_tlv t[8];
    size_t n = 0;
    const tes_tlv *pk = NULL, *ds = NULL, *s = NULL, *i = NULL, *v = NULL;
    if (!err)
        err = tes_tlv_parse(tes_buf_bytes(&plain), t, 8, &n);
    if (!err) {
        pk = tes_tlv_find(t, n, 0x5A);
        ds = tes_tlv_find(t, n, 0x9E);
        s = tes_tlv_find(t, n, 0x5E);
        i = tes_tlv_find(t, n, 0x91);
        v = tes_tlv_find(t, n, 0x92);
        if (!pk || pk->value.len != TES_ACCESS_POINT_LEN || pk->value.ptr[0] != 0x04 || !ds ||
            ds->value.len != 64 || (s && s->value.len != 2) ||
            (i && i->value.len != TES_ACCESS_TIMESTAMP_LEN) ||
            (v && v->value.len != TES_ACCESS_TIMESTAMP_LEN))
            err = tes_err_set(TES_ERR_TLV, "AUTH1 answer lacks the endpoint key (5A) or the "
                                           "device signature (9E), or a member has a wrong length");
    }
    tes_key *ek = NULL;
    if (!err)
        err = tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(pk->value.ptr + 1, 32),
                                    TES_BYTES(pk->value.ptr + 33, 32), &ek);
    if (err == TES_ERR_KEY_MALFORMED)
        err = tes_err_set(TES_ERR_ACCESS_ENDPOINT, "AUTH1 answer: endpoint key not on P-256");
    if (!err) {
        tes_access_auth_input(&x->ctx, true, input);
        err = tes_key_verify(ek, TES_HASH_SHA256, TES_BYTES(input, sizeof input), ds->value);
        if (err == TES_ERR_SIGNATURE)
            err = tes_err_set(TES_ERR_ACCESS_ENDPOINT,
                              "AUTH1 answer: the device signature does not verify");
    }
    tes_key_free(ek);
    if (!err)
        err = tes_access_derive_persistent(&x->ctx, kdh, pk->value.ptr + 1, r->kpersistent);
    if (!err) {
        r->flow = TES_ACCESS_FLOW_STANDARD;
        r->known_index = -1;
        r->has_kpersistent = true;
        memcpy(r->endpoint_key, pk->value.ptr, TES_ACCESS_POINT_LEN);
        r->signaling = s ? (uint16_t)(s->value.ptr[0] << 8 | s->value.ptr[1]) : 0;
        x->signaling = r->signaling;
        memset(r->issued_at, 0, TES_ACCESS_TIMESTAMP_LEN);
        memset(r->revoked_at, 0, TES_ACCESS_TIMESTAMP_LEN);
        if (i)
            memcpy(r->issued_at, i->value.ptr, TES_ACCESS_TIMESTAMP_LEN);
        if (v)
            memcpy(r->revoked_at, v->value.ptr, TES_ACCESS_TIMESTAMP_LEN);
    }
    tes_wipe(kdh, sizeof kdh);
    tes_wipe(&keys, sizeof keys);
    tes_buf_free(&cmd);
    tes_buf_free(&ans);
    tes_buf_free(&plain);
    return err;
}

tes_err tes_access_reader_step_up(tes_access_reader *x, bool access_doc, bool revocation_doc,
                                  tes_buf *device_response, tes_access_result *r)
{
    if (!x || !device_response || !r)
        return tes_err_set(TES_ERR_ARG, "tes_access_reader_step_up: NULL argument");
    if (!x->has_stepup)
        return tes_err_set(TES_ERR_STATE, "access reader: step-up needs a standard transaction");
    tes_buf fci = {0}, req = {0}, sealed = {0}, wrapped = {0}, body = {0}, ans = {0};
    tes_err err = TES_OK;
    if (!x->keys.has_stepup) {
        err = tes_access_keys_expand(&x->keys, TES_ACCESS_KEYS_STEPUP);
        if (!err)
            tes_access_channel_init(&x->stepup, x->keys.stepup_reader, x->keys.stepup_device);
    }
    if (!err && !x->stepup_selected) {
        err = select_aid(x, tes_access_aid_stepup, &fci);
        x->stepup_selected = !err;
    }
    if (!err)
        err = tes_access_request_encode(access_doc, revocation_doc, &req);
    if (!err)
        err = tes_access_channel_seal(&x->stepup, true, tes_buf_bytes(&req), &sealed);
    uint16_t sw = 0;
    if (!err) {
        tes_access_sealed_wrap(tes_buf_bytes(&sealed), &wrapped);
        tes_do53_wrap(&body, tes_buf_bytes(&wrapped));
        err = body.failed
                  ? tes_err_set(TES_ERR_NOMEM, "access reader: out of memory")
                  : xchg(x, 0x00, 0xC3, 0x00, 0x00, tes_buf_bytes(&body), &ans, &sw, "ENVELOPE");
    }
    if (!err)
        err = want_9000(sw, "ENVELOPE");
    tes_bytes in53, in_sealed;
    if (!err && tes_do53_unwrap(tes_buf_bytes(&ans), &in53) != TES_OK)
        err = tes_err_set(TES_ERR_TLV, "ENVELOPE answer is not one data object 53");
    if (!err)
        err = tes_access_sealed_unwrap(in53, &in_sealed);
    if (!err)
        err = tes_access_channel_open(&x->stepup, false, in_sealed, device_response);
    if (!err)
        r->flow = TES_ACCESS_FLOW_STEP_UP;
    tes_buf_free(&fci);
    tes_buf_free(&req);
    tes_buf_free(&sealed);
    tes_buf_free(&wrapped);
    tes_buf_free(&body);
    tes_buf_free(&ans);
    return err;
}

tes_err tes_access_reader_finish(tes_access_reader *x, uint16_t status)
{
    if (!x)
        return tes_err_set(TES_ERR_ARG, "tes_access_reader_finish: NULL argument");
    uint8_t st[2] = {(uint8_t)(status >> 8), (uint8_t)status};
    tes_buf plain = {0}, cmd = {0}, ans = {0}, reply = {.secret = true};
    uint16_t sw = 0;
    tes_err err;
    if (!x->has_channel) {
        tes_tlv_put(&cmd, 0x41, TES_BYTES(st, 1));
        tes_tlv_put(&cmd, 0x42, TES_BYTES(st + 1, 1));
        err = xchg(x, 0x80, 0x3C, 0x00, 0x00, tes_buf_bytes(&cmd), &ans, &sw, "CONTROL FLOW");
        if (!err)
            err = want_9000(sw, "CONTROL FLOW");
    } else {
        tes_access_channel *ch = x->stepup_selected ? &x->stepup : &x->channel;
        tes_tlv_put(&plain, 0x97, TES_BYTES(st, 2));
        err = tes_access_channel_seal(ch, true, tes_buf_bytes(&plain), &cmd);
        if (!err)
            err = xchg(x, 0x80, 0xC9, 0x00, 0x00, tes_buf_bytes(&cmd), &ans, &sw, "EXCHANGE");
        if (!err)
            err = want_9000(sw, "EXCHANGE");
        if (!err)
            err = tes_access_channel_open(ch, false, tes_buf_bytes(&ans), &reply);
        if (!err &&
            (reply.len < 4 || reply.ptr[reply.len - 4] != 0x00 || reply.ptr[reply.len - 3] != 0x02))
            err = tes_err_set(TES_ERR_TLV, "EXCHANGE answer has no status field (00 02 ..)");
    }
    tes_buf_free(&plain);
    tes_buf_free(&cmd);
    tes_buf_free(&ans);
    tes_buf_free(&reply);
    return err;
}

void tes_access_reader_free(tes_access_reader *x)
{
    if (!x)
        return;
    tes_key_free(x->eph);
    tes_key_free(x->device_eph);
    tes_wipe(x, sizeof *x);
    free(x);
}
