/*
 * The phone's side of the Aliro transaction (docs/KEYS.md): an APDU processor for the
 * primary applet A000000909ACCE5501 and the step-up applet A000000909ACCE5502.
 *
 *   SELECT primary   -> FCI; a new transaction starts
 *   AUTH0            -> device ephemeral key, and a cryptogram: real when a persistent key
 *                       shared with this reader exists, else random bytes made with the same
 *                       work (a reader cannot tell the two apart)
 *   AUTH1            -> only once the reader's signature verifies with the group key the
 *                       wallet holds: the encrypted identity and the device's signature
 *   EXCHANGE         -> secure channel (fast keys after a matching AUTH0, else AUTH1 keys,
 *                       step-up keys once the step-up applet is selected)
 *   SELECT step-up, ENVELOPE -> the access / revocation documents asked for
 *   CONTROL FLOW     -> the reader's verdict without a channel; the transaction ends
 * Every failure ends the transaction (its keys are wiped): the reader starts again with
 * SELECT. Nothing about the credential leaves before AUTH1 has verified the reader.
 */
#include <stdlib.h>
#include <string.h>

#include "access/access_internal.h"
#include "transport/transport_internal.h"

enum {
    ST_IDLE = 0, /* nothing selected, or the transaction ended */
    ST_SELECTED, /* primary applet selected */
    ST_AUTH0,    /* ephemeral keys exchanged */
    ST_AUTH1,    /* reader authenticated, exchange channel open */
    ST_STEPUP,   /* step-up applet selected after AUTH1 */
};

#define SW_OK 0x9000
#define SW_LENGTH 0x6700
#define SW_DATA 0x6A80
#define SW_SEQUENCE 0x6985
#define SW_AUTH 0x6982
#define SW_SM 0x6988
#define SW_NOT_FOUND 0x6A82
#define SW_P1P2 0x6A86
#define SW_INS 0x6D00
#define SW_CLA 0x6E00

#define MAX_RESPONSE_CHUNK 256
#define ENVELOPE_MAX 4096 /* a document request is a few hundred bytes */

struct tes_access_device {
    tes_se *se;
    tes_access_keyring ring;
    const tes_rng *rng;
    int state;
    tes_access_context ctx;
    bool found; /* the wallet has a key for the reader's group */
    tes_access_endpoint ep;
    tes_key *eph; /* the device's ephemeral key of this transaction */
    tes_key *reader_eph;
    bool fast_ready; /* a real cryptogram was sent: the fast channel is valid */
    tes_access_keys keys;
    tes_access_channel channel; /* the channel EXCHANGE uses now */
    tes_access_channel stepup;
    bool has_channel;
    bool stepup_open;
    tes_buf pending; /* response data awaiting GET RESPONSE */
    size_t pending_off;
    tes_buf envelope; /* ENVELOPE command chaining */
    bool has_verdict;
    uint16_t verdict;
};

static void put_sw(tes_buf *r, uint16_t sw)
{
    uint8_t b[2] = {(uint8_t)(sw >> 8), (uint8_t)sw};
    tes_buf_append(r, b, 2);
}

static void end_transaction(tes_access_device *d)
{
    tes_key_free(d->eph);
    tes_key_free(d->reader_eph);
    d->eph = d->reader_eph = NULL;
    tes_wipe(&d->keys, sizeof d->keys);
    tes_access_channel_wipe(&d->channel);
    tes_access_channel_wipe(&d->stepup);
    tes_wipe(&d->ep, sizeof d->ep);
    d->found = d->fast_ready = d->has_channel = d->stepup_open = false;
    tes_buf_reset(&d->pending);
    d->pending_off = 0;
    tes_buf_reset(&d->envelope);
    d->state = ST_IDLE;
}

/* An error status that also ends the transaction. */
static tes_err fail(tes_access_device *d, tes_buf *r, uint16_t sw)
{
    end_transaction(d);
    put_sw(r, sw);
    return r->failed ? tes_err_set(TES_ERR_NOMEM, "access device: out of memory") : TES_OK;
}

/* Returns data in chunks of at most ne (0: 256) bytes: 9000 when all fits, else 61 XX. */
static tes_err respond(tes_access_device *d, tes_buf *r, tes_bytes data, uint32_t ne)
{
    tes_buf_reset(&d->pending);
    d->pending_off = 0;
    size_t chunk = ne ? ne : MAX_RESPONSE_CHUNK;
    if (data.len <= chunk) {
        tes_buf_append(r, data.ptr, data.len);
        put_sw(r, SW_OK);
    } else {
        tes_buf_append(r, data.ptr, chunk);
        tes_buf_append(&d->pending, data.ptr + chunk, data.len - chunk);
        size_t left = data.len - chunk;
        put_sw(r, (uint16_t)(0x6100 | (left > 0xFF ? 0 : left)));
    }
    return r->failed || d->pending.failed
               ? tes_err_set(TES_ERR_NOMEM, "access device: out of memory")
               : TES_OK;
}

static tes_err get_response(tes_access_device *d, const tes_apdu *a, tes_buf *r)
{
    size_t left = d->pending.len - d->pending_off;
    if (left == 0)
        return fail(d, r, SW_SEQUENCE);
    size_t chunk = a->ne ? a->ne : MAX_RESPONSE_CHUNK;
    if (chunk > left)
        chunk = left;
    tes_buf_append(r, d->pending.ptr + d->pending_off, chunk);
    d->pending_off += chunk;
    left -= chunk;
    if (left == 0) {
        tes_buf_reset(&d->pending);
        d->pending_off = 0;
        put_sw(r, SW_OK);
    } else {
        put_sw(r, (uint16_t)(0x6100 | (left > 0xFF ? 0 : left)));
    }
    return r->failed ? tes_err_set(TES_ERR_NOMEM, "access device: out of memory") : TES_OK;
}

/* The step-up channel, expanded on first use (most taps never need it). */
static tes_err stepup_ready(tes_access_device *d)
{
    if (d->stepup_open)
        return TES_OK;
    tes_err err = tes_access_keys_expand(&d->keys, TES_ACCESS_KEYS_STEPUP);
    if (!err) {
        tes_access_channel_init(&d->stepup, d->keys.stepup_reader, d->keys.stepup_device);
        d->stepup_open = true;
    }
    return err;
}

/* ---------------------------------------------------------------- SELECT */

static tes_err select_aid(tes_access_device *d, const tes_apdu *a, tes_buf *r)
{
    if (a->p1 != 0x04 || (a->p2 != 0x00 && a->p2 != 0x0C))
        return fail(d, r, SW_P1P2);
    bool primary = tes_bytes_eq(a->data, TES_BYTES(tes_access_aid_primary, TES_ACCESS_AID_LEN));
    bool stepup = tes_bytes_eq(a->data, TES_BYTES(tes_access_aid_stepup, TES_ACCESS_AID_LEN));
    if (!primary && !stepup)
        return fail(d, r, SW_NOT_FOUND);
    tes_buf fci = {0};
    if (primary) {
        end_transaction(d);
        d->has_verdict = false;
        d->state = ST_SELECTED;
        tes_access_fci(tes_access_aid_primary, &fci);
        tes_access_fci_template(&fci, d->ctx.fci, &d->ctx.fci_len);
    } else {
        if ((d->state != ST_AUTH1 && d->state != ST_STEPUP) || stepup_ready(d) != TES_OK)
            return fail(d, r, SW_SEQUENCE);
        d->state = ST_STEPUP;
        tes_access_fci(tes_access_aid_stepup, &fci);
    }
    tes_err err =
        fci.failed ? tes_err_set(TES_ERR_NOMEM, "access device: out of memory")
                   : respond(d, r, a->p2 == 0x0C ? TES_BYTES(NULL, 0) : tes_buf_bytes(&fci), a->ne);
    tes_buf_free(&fci);
    return err;
}

/* ---------------------------------------------------------------- AUTH0 */

/* The cryptogram: 5E signaling, 91 issued at, 92 revoked at, sealed under the cryptogram
 * key with a zero IV. Without a persistent key the same work is done with a random key, so
 * that neither the bytes nor the time tell the reader whether one exists. */
static tes_err make_cryptogram(tes_access_device *d, tes_buf *out)
{
    uint8_t kp[32];
    bool real = false;
    if (d->found && d->ring.persistent_get(d->ring.ctx, &d->ep, d->ctx.reader_id, kp) == TES_OK)
        real = true;
    else if (tes_rng_fill(d->rng, kp, sizeof kp) != 0)
        return tes_err_set(TES_ERR_RANDOM, "access device: no randomness");
    tes_err err = tes_access_derive_fast(&d->ctx, kp, d->ep.endpoint_key + 1, &d->keys);
    tes_wipe(kp, sizeof kp);
    if (err)
        return err;
    uint8_t plain[48];
    size_t n = 0;
    plain[n++] = 0x5E, plain[n++] = 2;
    plain[n++] = (uint8_t)(d->ep.signaling >> 8), plain[n++] = (uint8_t)d->ep.signaling;
    plain[n++] = 0x91, plain[n++] = TES_ACCESS_TIMESTAMP_LEN;
    memcpy(plain + n, d->ep.issued_at, TES_ACCESS_TIMESTAMP_LEN), n += TES_ACCESS_TIMESTAMP_LEN;
    plain[n++] = 0x92, plain[n++] = TES_ACCESS_TIMESTAMP_LEN;
    memcpy(plain + n, d->ep.revoked_at, TES_ACCESS_TIMESTAMP_LEN), n += TES_ACCESS_TIMESTAMP_LEN;
    static const uint8_t zero_iv[12];
    err = tes_aes256gcm_encrypt(d->keys.cryptogram, zero_iv, TES_BYTES(NULL, 0),
                                TES_BYTES(plain, n), out);
    if (!err && !real) { /* random bytes, not a cryptogram under a random key */
        uint8_t *p = out->ptr + out->len - TES_ACCESS_CRYPTOGRAM_LEN;
        if (tes_rng_fill(d->rng, p, TES_ACCESS_CRYPTOGRAM_LEN) != 0)
            err = tes_err_set(TES_ERR_RANDOM, "access device: no randomness");
    }
    if (!err && real) {
        tes_access_channel_init(&d->channel, d->keys.exchange_reader, d->keys.exchange_device);
        d->has_channel = true;
        d->fast_ready = true;
    }
    return err;
}

static tes_err auth0(tes_access_device *d, const tes_apdu *a, tes_buf *r)
{
    if (d->state != ST_SELECTED)
        return fail(d, r, SW_SEQUENCE);
    tes_access_auth0 in;
    if (tes_access_auth0_parse(a->data, &in) != TES_OK)
        return fail(d, r, SW_DATA);
    if (in.version != TES_ACCESS_VERSION_1_0)
        return fail(d, r, SW_DATA);
    tes_access_context *c = &d->ctx;
    c->interface = TES_ACCESS_INTERFACE_NFC;
    c->version = in.version;
    c->flags = in.flags;
    c->policy = in.policy;
    memcpy(c->tx_id, in.tx_id, sizeof c->tx_id);
    memcpy(c->reader_id, in.reader_id, sizeof c->reader_id);
    memcpy(c->reader_eph_x, in.reader_eph + 1, 32);
    if (tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(in.reader_eph + 1, 32),
                              TES_BYTES(in.reader_eph + 33, 32), &d->reader_eph) != TES_OK)
        return fail(d, r, SW_DATA);
    tes_err err = tes_key_generate(TES_CURVE_P256, &d->eph);
    uint8_t ex[TES_MAX_COORD], ey[TES_MAX_COORD];
    if (!err)
        err = tes_key_public_raw(d->eph, ex, ey);
    if (err) {
        end_transaction(d);
        return err;
    }
    memcpy(c->device_eph_x, ex, 32);
    d->found = d->ring.find(d->ring.ctx, in.reader_id, &d->ep) == TES_OK;
    if (d->found) {
        memcpy(c->reader_key_x, d->ep.reader_key + 1, 32);
    } else { /* the same work as with a key: a random point stands in */
        memset(&d->ep, 0, sizeof d->ep);
        d->ep.endpoint_key[0] = 0x04;
        if (tes_rng_fill(d->rng, d->ep.endpoint_key + 1, 64) != 0 ||
            tes_rng_fill(d->rng, c->reader_key_x, 32) != 0) {
            end_transaction(d);
            return tes_err_set(TES_ERR_RANDOM, "access device: no randomness");
        }
    }
    tes_buf out = {0};
    uint8_t point[TES_ACCESS_POINT_LEN] = {0x04};
    memcpy(point + 1, ex, 32);
    memcpy(point + 33, ey, 32);
    tes_tlv_put(&out, 0x86, TES_BYTES(point, sizeof point));
    if (in.flags & TES_ACCESS_FLAG_FAST) {
        tes_buf cg = {0};
        err = make_cryptogram(d, &cg);
        if (!err)
            tes_tlv_put(&out, 0x9D, tes_buf_bytes(&cg));
        tes_buf_free(&cg);
    }
    if (!err && out.failed)
        err = tes_err_set(TES_ERR_NOMEM, "access device: out of memory");
    if (err) {
        tes_buf_free(&out);
        end_transaction(d);
        return err;
    }
    d->state = ST_AUTH0;
    err = respond(d, r, tes_buf_bytes(&out), a->ne);
    tes_buf_free(&out);
    return err;
}

/* ---------------------------------------------------------------- AUTH1 */

static tes_err auth1_answer(tes_access_device *d, bool want_key, tes_buf *plain)
{
    uint8_t input[TES_ACCESS_AUTH_INPUT_LEN];
    tes_access_auth_input(&d->ctx, true, input);
    uint8_t sig[TES_MAX_SIG];
    size_t sig_len = sizeof sig;
    tes_err err =
        tes_se_sign(d->se, d->ep.se_key_id, NULL, TES_BYTES(input, sizeof input), sig, &sig_len);
    if (err)
        return err;
    if (sig_len != 64)
        return tes_err_set(TES_ERR_CRYPTO, "access device: endpoint signature of %zu bytes",
                           sig_len);
    if (want_key)
        tes_tlv_put(plain, 0x5A, TES_BYTES(d->ep.endpoint_key, TES_ACCESS_POINT_LEN));
    else
        tes_tlv_put(plain, 0x4E, TES_BYTES(d->ep.key_slot, sizeof d->ep.key_slot));
    tes_tlv_put(plain, 0x9E, TES_BYTES(sig, 64));
    uint8_t s[2] = {(uint8_t)(d->ep.signaling >> 8), (uint8_t)d->ep.signaling};
    tes_tlv_put(plain, 0x5E, TES_BYTES(s, 2));
    tes_tlv_put(plain, 0x91, TES_BYTES(d->ep.issued_at, TES_ACCESS_TIMESTAMP_LEN));
    tes_tlv_put(plain, 0x92, TES_BYTES(d->ep.revoked_at, TES_ACCESS_TIMESTAMP_LEN));
    return plain->failed ? tes_err_set(TES_ERR_NOMEM, "access device: out of memory") : TES_OK;
}

static tes_err auth1(tes_access_device *d, const tes_apdu *a, tes_buf *r)
{
    if (d->state != ST_AUTH0)
        return fail(d, r, SW_SEQUENCE);
    tes_tlv t[8];
    size_t n;
    if (tes_tlv_parse(a->data, t, 8, &n) != TES_OK)
        return fail(d, r, SW_DATA);
    const tes_tlv *f = tes_tlv_find(t, n, 0x41), *s = tes_tlv_find(t, n, 0x9E);
    if (!f || f->value.len != 1 || f->value.ptr[0] > 1 || !s || s->value.len != 64 ||
        tes_tlv_find(t, n, 0x90)) /* a certificate (LOAD CERT path) is not supported */
        return fail(d, r, SW_DATA);
    if (!d->found)
        return fail(d, r, SW_AUTH);
    /* The reader proves it holds the group key before anything about us leaves. */
    uint8_t input[TES_ACCESS_AUTH_INPUT_LEN];
    tes_access_auth_input(&d->ctx, false, input);
    tes_key *rk = NULL;
    tes_err err = tes_key_from_ec_point(TES_CURVE_P256, TES_BYTES(d->ep.reader_key + 1, 32),
                                        TES_BYTES(d->ep.reader_key + 33, 32), &rk);
    if (!err)
        err = tes_key_verify(rk, TES_HASH_SHA256, TES_BYTES(input, sizeof input), s->value);
    tes_key_free(rk);
    if (err)
        return fail(d, r, SW_AUTH);

    uint8_t z[TES_MAX_COORD], kdh[32], kp[32];
    size_t zl = 0;
    err = tes_key_ecdh(d->eph, d->reader_eph, z, &zl);
    if (!err)
        err = tes_access_derive_standard(&d->ctx, z, &d->keys, kdh);
    tes_wipe(z, sizeof z);
    if (!err)
        err = tes_access_derive_persistent(&d->ctx, kdh, d->ep.endpoint_key + 1, kp);
    tes_wipe(kdh, sizeof kdh);
    tes_buf plain = {.secret = true}, cipher = {0};
    if (!err)
        err = auth1_answer(d, f->value.ptr[0] == 1, &plain);
    if (!err) {
        tes_access_channel_init(&d->channel, d->keys.exchange_reader, d->keys.exchange_device);
        d->has_channel = true;
        err = tes_access_channel_seal(&d->channel, false, tes_buf_bytes(&plain), &cipher);
    }
    if (!err) /* the next fast transaction with this reader */
        err = d->ring.persistent_put(d->ring.ctx, &d->ep, d->ctx.reader_id, kp);
    tes_wipe(kp, sizeof kp);
    tes_buf_free(&plain);
    if (err) {
        tes_buf_free(&cipher);
        end_transaction(d);
        return err;
    }
    d->state = ST_AUTH1;
    err = respond(d, r, tes_buf_bytes(&cipher), a->ne);
    tes_buf_free(&cipher);
    return err;
}

/* ---------------------------------------------------------------- EXCHANGE */

static void verdict(tes_access_device *d, uint16_t status)
{
    d->has_verdict = true;
    d->verdict = status;
    if (d->ring.event)
        d->ring.event(d->ring.ctx, d->found ? &d->ep : NULL, status);
}

static tes_err exchange(tes_access_device *d, const tes_apdu *a, tes_buf *r)
{
    bool fast_path = d->state == ST_AUTH0 && d->fast_ready;
    if (!(fast_path || d->state == ST_AUTH1 || d->state == ST_STEPUP) || !d->has_channel)
        return fail(d, r, SW_SEQUENCE);
    tes_access_channel *ch = d->state == ST_STEPUP ? &d->stepup : &d->channel;
    tes_buf plain = {.secret = true};
    if (tes_access_channel_open(ch, true, a->data, &plain) != TES_OK) {
        tes_buf_free(&plain);
        return fail(d, r, SW_SM);
    }
    tes_tlv t[16];
    size_t n;
    uint16_t status = 0x0000; /* mailbox result: success */
    if (tes_tlv_parse(tes_buf_bytes(&plain), t, 16, &n) != TES_OK) {
        status = 0x0002;
    } else {
        for (size_t i = 0; i < n; i++) {
            if (t[i].tag == 0x97 && t[i].value.len == 2)
                verdict(d, (uint16_t)(t[i].value.ptr[0] << 8 | t[i].value.ptr[1]));
            else if (t[i].tag == 0xBA) /* mailbox operations: this device has no mailbox */
                status = 0x0001;
            else
                status = 0x0002;
        }
    }
    tes_buf_free(&plain);
    uint8_t answer[4] = {0x00, 0x02, (uint8_t)(status >> 8), (uint8_t)status};
    tes_buf cipher = {0};
    tes_err err = tes_access_channel_seal(ch, false, TES_BYTES(answer, 4), &cipher);
    if (!err) {
        if (fast_path)
            d->state = ST_AUTH1; /* authenticated by the cryptogram */
        err = respond(d, r, tes_buf_bytes(&cipher), a->ne);
    }
    tes_buf_free(&cipher);
    return err;
}

/* ---------------------------------------------------------------- step-up ENVELOPE */

static tes_err envelope_answer(tes_access_device *d, tes_bytes request, tes_buf *out)
{
    bool want_access = false, want_revocation = false;
    tes_err err = tes_access_request_parse(request, &want_access, &want_revocation);
    if (err)
        return err;
    static const char *const types[2] = {TES_ACCESS_DOCTYPE, TES_REVOCATION_DOCTYPE};
    bool want[2] = {want_access, want_revocation};
    tes_buf held[2] = {{0}, {0}};
    tes_bytes docs[2];
    size_t n_docs = 0;
    for (int i = 0; !err && i < 2; i++) {
        size_t k = 0;
        if (want[i])
            err = d->ring.documents(d->ring.ctx, &d->ep, types[i], &held[i], &k);
        if (!err && k > 1)
            err = tes_err_set(TES_ERR_ARG, "access device: the key ring gave %zu %s documents", k,
                              types[i]);
        if (!err && k == 1)
            docs[n_docs++] = tes_buf_bytes(&held[i]);
    }
    if (!err)
        err = tes_access_response_encode(docs, n_docs, out);
    tes_buf_free(&held[0]);
    tes_buf_free(&held[1]);
    return err;
}

static tes_err envelope(tes_access_device *d, const tes_apdu *a, tes_buf *r)
{
    if ((d->state != ST_AUTH1 && d->state != ST_STEPUP) || stepup_ready(d) != TES_OK)
        return fail(d, r, SW_SEQUENCE);
    if (a->p1 || a->p2)
        return fail(d, r, SW_P1P2);
    if (d->envelope.len + a->data.len > ENVELOPE_MAX)
        return fail(d, r, SW_LENGTH);
    tes_buf_append(&d->envelope, a->data.ptr, a->data.len);
    if (a->cla & 0x10) { /* chained: more to come */
        put_sw(r, SW_OK);
        return r->failed ? tes_err_set(TES_ERR_NOMEM, "access device: out of memory") : TES_OK;
    }
    tes_bytes wrapped, sealed;
    if (tes_do53_unwrap(tes_buf_bytes(&d->envelope), &wrapped) != TES_OK ||
        tes_access_sealed_unwrap(wrapped, &sealed) != TES_OK)
        return fail(d, r, SW_DATA);
    tes_buf plain = {.secret = true}, answer = {0}, cipher = {0}, out = {0};
    if (tes_access_channel_open(&d->stepup, true, sealed, &plain) != TES_OK) {
        tes_buf_free(&plain);
        return fail(d, r, SW_SM);
    }
    tes_buf_reset(&d->envelope);
    tes_err err = envelope_answer(d, tes_buf_bytes(&plain), &answer);
    tes_buf_free(&plain);
    if (err == TES_ERR_ACCESS_DOC_FORMAT) {
        tes_buf_free(&answer);
        return fail(d, r, SW_DATA);
    }
    if (!err)
        err = tes_access_channel_seal(&d->stepup, false, tes_buf_bytes(&answer), &cipher);
    if (!err) {
        d->state = ST_STEPUP; /* EXCHANGE now goes on the step-up keys, selected or not */
        tes_buf sealed_map = {0};
        tes_access_sealed_wrap(tes_buf_bytes(&cipher), &sealed_map);
        tes_do53_wrap(&out, tes_buf_bytes(&sealed_map));
        tes_buf_free(&sealed_map);
        err = out.failed ? tes_err_set(TES_ERR_NOMEM, "access device: out of memory")
                         : respond(d, r, tes_buf_bytes(&out), a->ne);
    }
    tes_buf_free(&answer);
    tes_buf_free(&cipher);
    tes_buf_free(&out);
    if (err)
        end_transaction(d);
    return err;
}

/* ---------------------------------------------------------------- CONTROL FLOW */

static tes_err control_flow(tes_access_device *d, const tes_apdu *a, tes_buf *r)
{
    tes_tlv t[8];
    size_t n;
    if (tes_tlv_parse(a->data, t, 8, &n) != TES_OK)
        return fail(d, r, SW_DATA);
    const tes_tlv *s1 = tes_tlv_find(t, n, 0x41), *s2 = tes_tlv_find(t, n, 0x42);
    if (!s1 || s1->value.len != 1 || !s2 || s2->value.len != 1)
        return fail(d, r, SW_DATA);
    verdict(d, (uint16_t)(s1->value.ptr[0] << 8 | s2->value.ptr[0]));
    end_transaction(d);
    put_sw(r, SW_OK);
    return r->failed ? tes_err_set(TES_ERR_NOMEM, "access device: out of memory") : TES_OK;
}

/* ---------------------------------------------------------------- dispatch */

tes_err tes_access_device_process(tes_access_device *d, tes_bytes command, tes_buf *response)
{
    if (!d || !response)
        return tes_err_set(TES_ERR_ARG, "tes_access_device_process: NULL argument");
    tes_apdu a;
    if (tes_apdu_parse(command, &a) != TES_OK)
        return fail(d, response, SW_LENGTH);
    if (a.ins != 0xC0 && d->pending.len) { /* any other command ends a GET RESPONSE sequence */
        tes_buf_reset(&d->pending);
        d->pending_off = 0;
    }
    uint8_t cla = a.cla & ~0x10; /* chaining bit (ENVELOPE) */
    if (a.cla & 0x10 && a.ins != 0xC3)
        return fail(d, response, SW_CLA);
    if (cla == 0x00) {
        switch (a.ins) {
        case 0xA4:
            return select_aid(d, &a, response);
        case 0xC3:
            return envelope(d, &a, response);
        case 0xC0:
            return get_response(d, &a, response);
        default:
            return fail(d, response, SW_INS);
        }
    }
    if (cla == 0x80) {
        if (a.ins != 0xC0 && a.p1 | a.p2)
            return fail(d, response, SW_P1P2);
        switch (a.ins) {
        case 0x80:
            return auth0(d, &a, response);
        case 0x81:
            return auth1(d, &a, response);
        case 0xC9:
            return exchange(d, &a, response);
        case 0x3C:
            return control_flow(d, &a, response);
        case 0xC0:
            return get_response(d, &a, response);
        default: /* LOAD CERTIFICATE (D1) included: not supported */
            return fail(d, response, SW_INS);
        }
    }
    return fail(d, response, SW_CLA);
}

tes_err tes_access_device_new(const tes_access_device_opts *o, tes_access_device **out)
{
    if (!o || !out || !o->se || !o->ring || !o->ring->find || !o->ring->persistent_get ||
        !o->ring->persistent_put || !o->ring->documents)
        return tes_err_set(TES_ERR_ARG, "tes_access_device_new: missing argument");
    tes_access_device *d = calloc(1, sizeof *d);
    if (!d)
        return tes_err_set(TES_ERR_NOMEM, "access device: out of memory");
    d->se = o->se;
    d->ring = *o->ring;
    d->rng = o->rng;
    d->pending.secret = true;
    d->envelope.secret = true;
    *out = d;
    return TES_OK;
}

void tes_access_device_reset(tes_access_device *d)
{
    if (d)
        end_transaction(d);
}

bool tes_access_device_verdict(const tes_access_device *d, uint16_t *reader_status)
{
    if (!d || !d->has_verdict)
        return false;
    if (reader_status)
        *reader_status = d->verdict;
    return true;
}

void tes_access_device_free(tes_access_device *d)
{
    if (!d)
        return;
    end_transaction(d);
    tes_buf_free(&d->pending);
    tes_buf_free(&d->envelope);
    tes_wipe(d, sizeof *d);
    free(d);
}
