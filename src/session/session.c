/*
 * SessionTranscript, session establishment and session encryption
 * (ISO/IEC 18013-5 §9.1.1, §9.1.5).
 *
 * Each session keeps the key it sends with and the key it receives with
 * (reader: SKReader / SKDevice, holder: the reverse), its own send counter and
 * the counter it expects next from the peer. IV = identifier of the sender
 * (reader 00..00, mdoc 00..01) || counter (4 bytes big-endian). Decrypting with
 * the peer's identifier and exactly the next peer counter makes replayed,
 * reordered and reflected messages fail authentication. Any failure kills the
 * session: every later call returns TES_ERR_STATE.
 */
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"
#include "tessera/cbor.h"
#include "tessera/cose.h"

#define SK_LEN 32
#define IV_LEN 12
#define GCM_TAG_LEN 16
#define MAX_COUNTER UINT32_MAX

struct tes_session {
    tes_session_role role;
    uint8_t sk_send[SK_LEN]; /* reader: SKReader, holder: SKDevice */
    uint8_t sk_recv[SK_LEN]; /* reader: SKDevice, holder: SKReader */
    uint64_t send_ctr;       /* counter of the next message sent */
    uint64_t recv_ctr;       /* counter expected on the next message received */
    bool established;        /* reader: SessionEstablishment sent; holder: always */
    bool dead;               /* failed or ended: every call fails with TES_ERR_STATE */
    tes_buf transcript;      /* plain SessionTranscript */
    tes_buf ereader_key_bytes;
};

static const uint8_t ID_READER[8] = {0, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t ID_MDOC[8] = {0, 0, 0, 0, 0, 0, 0, 1};

static void make_iv(uint8_t iv[IV_LEN], tes_session_role sender, uint64_t ctr)
{
    memcpy(iv, sender == TES_SESSION_READER ? ID_READER : ID_MDOC, 8);
    iv[8] = (uint8_t)(ctr >> 24);
    iv[9] = (uint8_t)(ctr >> 16);
    iv[10] = (uint8_t)(ctr >> 8);
    iv[11] = (uint8_t)ctr;
}

static tes_session_role peer_of(tes_session_role r)
{
    return r == TES_SESSION_READER ? TES_SESSION_HOLDER : TES_SESSION_READER;
}

/* ---- transcript ---- */

/* EReaderKeyBytes must be one CBOR item: tag 24 over a byte string. */
static bool is_tag24_item(tes_bytes b)
{
    tes_cbor_node nodes[4];
    tes_cbor_doc d;
    tes_cbor_limits lim = {.max_input = 4096, .max_depth = 4, .max_items = 4};
    if (tes_cbor_parse_with(b, &lim, nodes, 4, &d) != TES_OK)
        return false;
    tes_bytes inner;
    bool ok = tes_cbor_tag24_content(&d, 0, &inner);
    tes_cbor_doc_free(&d);
    return ok;
}

tes_err session_transcript_ex(const tes_engagement *e, tes_bytes ereader_key_bytes, tes_bytes hs,
                              tes_bytes hr, tes_buf *out)
{
    if (!e || !out || e->bytes.len == 0)
        return tes_err_set(TES_ERR_ARG, "session transcript: no engagement");
    if (hr.len && !hs.len)
        return tes_err_set(TES_ERR_ARG,
                           "session transcript: a Handover Request needs the Handover Select");
    if (!is_tag24_item(ereader_key_bytes))
        return tes_err_set(TES_ERR_ARG, "session transcript: EReaderKeyBytes must be one tag 24 "
                                        "byte string");
    size_t start = out->len;
    tes_cbor_enc en = {.out = out};
    tes_cbor_enc_array(&en, 3);
    tes_cbor_enc_tag(&en, 24); /* DeviceEngagementBytes: the exact engagement bytes */
    tes_cbor_enc_bytes(&en, e->bytes.ptr, e->bytes.len);
    tes_cbor_enc_raw(&en, ereader_key_bytes); /* exact, as sent / received */
    if (hs.len == 0) {
        tes_cbor_enc_null(&en); /* QR */
    } else {
        tes_cbor_enc_array(&en, 2);
        tes_cbor_enc_bytes(&en, hs.ptr, hs.len);
        if (hr.len)
            tes_cbor_enc_bytes(&en, hr.ptr, hr.len);
        else
            tes_cbor_enc_null(&en); /* static handover */
    }
    tes_err err = tes_cbor_enc_finish(&en);
    if (err != TES_OK)
        out->len = start;
    return err;
}

tes_err tes_session_transcript(const tes_engagement *e, tes_bytes ereader_key_bytes,
                               tes_bytes nfc_handover_select, tes_buf *out)
{
    return session_transcript_ex(e, ereader_key_bytes, nfc_handover_select, TES_BYTES(NULL, 0),
                                 out);
}

/* ---- sessions ---- */

/* A session for `role`: transcript and both keys from priv (own ephemeral
 * private key) and peer (the other side's ephemeral public key). */
static tes_err session_new(tes_session_role role, const tes_engagement *e, const tes_key *priv,
                           const tes_key *peer, tes_bytes ereader_key_bytes, tes_bytes hs,
                           tes_bytes hr, tes_session **out)
{
    tes_session *s = calloc(1, sizeof(*s));
    if (!s)
        return tes_err_set(TES_ERR_NOMEM, "out of memory for a session");
    s->role = role;
    s->send_ctr = 1;
    s->recv_ctr = 1;
    tes_buf_append(&s->ereader_key_bytes, ereader_key_bytes.ptr, ereader_key_bytes.len);
    tes_err err = s->ereader_key_bytes.failed
                      ? tes_err_set(TES_ERR_NOMEM, "out of memory for the session")
                      : session_transcript_ex(e, ereader_key_bytes, hs, hr, &s->transcript);
    uint8_t z[TES_MAX_COORD];
    size_t zlen = 0;
    if (err == TES_OK)
        err = tes_key_ecdh(priv, peer, z, &zlen);
    /* SessionTranscriptBytes: the salt hashes the tag-24 form */
    tes_buf stb = {0};
    if (err == TES_OK) {
        tes_cbor_enc en = {.out = &stb};
        tes_cbor_enc_tag(&en, 24);
        tes_cbor_enc_bytes(&en, s->transcript.ptr, s->transcript.len);
        err = tes_cbor_enc_finish(&en);
    }
    uint8_t skr[SK_LEN], skd[SK_LEN];
    if (err == TES_OK)
        err = tes_iso18013_derive_key(TES_BYTES(z, zlen), tes_buf_bytes(&stb), TES_ISO_SK_READER,
                                      skr);
    if (err == TES_OK)
        err = tes_iso18013_derive_key(TES_BYTES(z, zlen), tes_buf_bytes(&stb), TES_ISO_SK_DEVICE,
                                      skd);
    tes_buf_free(&stb);
    if (err == TES_OK) {
        memcpy(s->sk_send, role == TES_SESSION_READER ? skr : skd, SK_LEN);
        memcpy(s->sk_recv, role == TES_SESSION_READER ? skd : skr, SK_LEN);
    }
    tes_wipe(z, sizeof(z));
    tes_wipe(skr, sizeof(skr));
    tes_wipe(skd, sizeof(skd));
    if (err != TES_OK) {
        tes_session_free(s);
        return err;
    }
    *out = s;
    return TES_OK;
}

static bool p256_private(const tes_key *k)
{
    return k && tes_key_curve(k) == TES_CURVE_P256 && tes_key_has_private(k);
}

tes_err session_reader_new_ex(const tes_engagement *e, const tes_key *ereader, tes_bytes hs,
                              tes_bytes hr, tes_session **out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "reader session: NULL output");
    *out = NULL;
    if (!e || !e->edevice_pub || e->bytes.len == 0)
        return tes_err_set(TES_ERR_ARG, "reader session: no parsed engagement");
    if (!p256_private(ereader))
        return tes_err_set(TES_ERR_ARG, "reader session: EReaderKey must be a P-256 private key");
    tes_buf kb = {0};
    tes_buf cose = {0};
    tes_cbor_enc ce = {.out = &cose};
    tes_cose_key_write(&ce, ereader); /* public part only */
    tes_err err = tes_cbor_enc_finish(&ce);
    if (err == TES_OK) {
        tes_cbor_enc ke = {.out = &kb};
        tes_cbor_enc_tag(&ke, 24);
        tes_cbor_enc_bytes(&ke, cose.ptr, cose.len);
        err = tes_cbor_enc_finish(&ke);
    }
    tes_buf_free(&cose);
    if (err == TES_OK)
        err = session_new(TES_SESSION_READER, e, ereader, e->edevice_pub, tes_buf_bytes(&kb), hs,
                          hr, out);
    tes_buf_free(&kb);
    return err;
}

tes_err tes_session_reader_new(const tes_engagement *e, const tes_key *ereader,
                               tes_bytes nfc_handover_select, tes_session **out)
{
    return session_reader_new_ex(e, ereader, nfc_handover_select, TES_BYTES(NULL, 0), out);
}

/* A CBOR decoding failure of a session message is TES_ERR_SESSION_MESSAGE
 * (the CBOR reason stays in the message); environment failures pass through. */
static tes_err malformed(tes_err err, const char *what)
{
    if (!tes_err_is_malformed(err))
        return err;
    return tes_err_set(TES_ERR_SESSION_MESSAGE, "%s is not well-formed CBOR (%s): %s", what,
                       tes_err_name(err), tes_err_message());
}

/* Decrypts `cipher` as the next message from the peer into out. */
static tes_err session_open(tes_session *s, tes_bytes cipher, tes_buf *out)
{
    if (s->recv_ctr > MAX_COUNTER) {
        s->dead = true;
        return tes_err_set(TES_ERR_STATE, "session: receive counter exhausted");
    }
    uint8_t iv[IV_LEN];
    make_iv(iv, peer_of(s->role), s->recv_ctr);
    tes_err err = tes_aes256gcm_decrypt(s->sk_recv, iv, TES_BYTES(NULL, 0), cipher, out);
    if (err == TES_ERR_SIGNATURE)
        return tes_err_set(TES_ERR_SESSION_DECRYPT,
                           "session message %llu from the %s does not authenticate (altered, "
                           "replayed, reordered, reflected or from another session)",
                           (unsigned long long)s->recv_ctr,
                           s->role == TES_SESSION_READER ? "mdoc" : "reader");
    if (err == TES_OK)
        s->recv_ctr++;
    return err;
}

/* Encrypts payload as the next own message, appending ciphertext || tag to out. */
static tes_err session_seal(tes_session *s, tes_bytes payload, tes_buf *out)
{
    if (s->send_ctr > MAX_COUNTER)
        return tes_err_set(TES_ERR_STATE, "session: send counter exhausted");
    uint8_t iv[IV_LEN];
    make_iv(iv, s->role, s->send_ctr);
    tes_err err = tes_aes256gcm_encrypt(s->sk_send, iv, TES_BYTES(NULL, 0), payload, out);
    if (err == TES_OK)
        s->send_ctr++;
    return err;
}

tes_err session_holder_accept_ex(const tes_engagement *e, const tes_key *edevice, tes_bytes hs,
                                 tes_bytes hr, tes_bytes establishment, tes_session **out,
                                 tes_buf *request)
{
    if (!out || !request)
        return tes_err_set(TES_ERR_ARG, "holder accept: NULL output");
    *out = NULL;
    if (!e || !e->edevice_pub || e->bytes.len == 0)
        return tes_err_set(TES_ERR_ARG, "holder accept: no engagement");
    if (!p256_private(edevice) || !tes_key_equal_public(edevice, e->edevice_pub))
        return tes_err_set(TES_ERR_ARG,
                           "holder accept: EDeviceKey must be the P-256 private key of the "
                           "engagement");
    if (!establishment.ptr && establishment.len)
        return tes_err_set(TES_ERR_ARG, "holder accept: NULL input");
    if (establishment.len > TES_SESSION_MAX_MESSAGE)
        return tes_err_set(TES_ERR_SESSION_MESSAGE,
                           "SessionEstablishment is %zu bytes, more than %u", establishment.len,
                           TES_SESSION_MAX_MESSAGE);

    tes_cbor_node nodes[16];
    tes_cbor_doc d;
    tes_cbor_limits lim = {.max_input = TES_SESSION_MAX_MESSAGE, .max_depth = 4, .max_items = 64};
    tes_err err = tes_cbor_parse_with(establishment, &lim, nodes, 16, &d);
    if (err != TES_OK)
        return malformed(err, "SessionEstablishment");
    tes_key *ereader = NULL;
    uint32_t rk = TES_CBOR_NONE, data = TES_CBOR_NONE;
    if (!tes_cbor_is(&d, 0, TES_CBOR_MAP)) {
        err = tes_err_set(TES_ERR_SESSION_MESSAGE, "SessionEstablishment is not a map");
        goto done;
    }
    rk = tes_cbor_map_get_text(&d, 0, "eReaderKey");
    data = tes_cbor_map_get_text(&d, 0, "data");
    if (rk == TES_CBOR_NONE || data == TES_CBOR_NONE || tes_cbor_count(&d, 0) != 2) {
        err = tes_err_set(TES_ERR_SESSION_MESSAGE,
                          "SessionEstablishment must hold exactly \"eReaderKey\" and \"data\"");
        goto done;
    }
    tes_bytes cose;
    if (!tes_cbor_tag24_content(&d, rk, &cose)) {
        err = tes_err_set(TES_ERR_SESSION_MESSAGE,
                          "SessionEstablishment eReaderKey is not a tag 24 byte string");
        goto done;
    }
    if (!tes_cbor_is(&d, data, TES_CBOR_BYTES)) {
        err =
            tes_err_set(TES_ERR_SESSION_MESSAGE, "SessionEstablishment data is not a byte string");
        goto done;
    }
    err = tes_cose_key_parse(cose, &ereader);
    if (err != TES_OK) {
        if (!tes_err_is_env(err))
            err = tes_err_set(TES_ERR_SESSION_MESSAGE, "EReaderKey: %s", tes_err_message());
        goto done;
    }
    if (tes_key_curve(ereader) != TES_CURVE_P256) {
        err = tes_err_set(TES_ERR_SESSION_MESSAGE, "EReaderKey must be an EC2 P-256 key");
        goto done;
    }
    tes_session *s = NULL;
    err = session_new(TES_SESSION_HOLDER, e, edevice, ereader, tes_cbor_span(&d, rk), hs, hr, &s);
    if (err != TES_OK)
        goto done;
    s->established = true;
    err = session_open(s, TES_BYTES(d.nodes[data].data, d.nodes[data].len), request);
    if (err != TES_OK) {
        tes_session_free(s);
        goto done;
    }
    *out = s;
done:
    tes_key_free(ereader);
    tes_cbor_doc_free(&d);
    return err;
}

tes_err tes_session_holder_accept(const tes_engagement *e, const tes_key *edevice,
                                  tes_bytes nfc_handover_select, tes_bytes establishment,
                                  tes_session **out, tes_buf *request)
{
    return session_holder_accept_ex(e, edevice, nfc_handover_select, TES_BYTES(NULL, 0),
                                    establishment, out, request);
}

static tes_err usable(const tes_session *s, const char *what)
{
    if (!s)
        return tes_err_set(TES_ERR_ARG, "%s: NULL session", what);
    if (s->dead)
        return tes_err_set(TES_ERR_STATE, "%s: the session has ended", what);
    return TES_OK;
}

/* Writes a byte-string head for an AES-GCM output of payload.len bytes + tag,
 * then the ciphertext itself. */
static void enc_sealed(tes_cbor_enc *en, tes_session *s, tes_bytes payload)
{
    if (en->err)
        return;
    if (payload.len > SIZE_MAX - GCM_TAG_LEN) {
        en->err = tes_err_set(TES_ERR_ARG, "session: payload too large");
        return;
    }
    (void)tes_cbor_enc_bytes_head(en, payload.len + GCM_TAG_LEN);
    if (en->err)
        return;
    tes_err err = session_seal(s, payload, en->out);
    if (err != TES_OK)
        en->err = err;
}

tes_err tes_session_establish(tes_session *s, tes_bytes request, tes_buf *out)
{
    tes_err err = usable(s, "session establish");
    if (err != TES_OK)
        return err;
    if (!out || (!request.ptr && request.len))
        return tes_err_set(TES_ERR_ARG, "session establish: bad arguments");
    if (s->role != TES_SESSION_READER || s->established)
        return tes_err_set(TES_ERR_STATE,
                           "session establish: only a reader, once, before any other message");
    size_t start = out->len;
    tes_cbor_enc en = {.out = out};
    tes_cbor_enc_map(&en, 2);
    tes_cbor_enc_cstr(&en, "eReaderKey");
    tes_cbor_enc_raw(&en, tes_buf_bytes(&s->ereader_key_bytes));
    tes_cbor_enc_cstr(&en, "data");
    enc_sealed(&en, s, request);
    err = tes_cbor_enc_finish(&en);
    if (err != TES_OK) {
        out->len = start;
        return err;
    }
    s->established = true;
    return TES_OK;
}

tes_err tes_session_encrypt(tes_session *s, tes_bytes payload, bool final, tes_buf *out)
{
    tes_err err = usable(s, "session encrypt");
    if (err != TES_OK)
        return err;
    if (!out || (!payload.ptr && payload.len))
        return tes_err_set(TES_ERR_ARG, "session encrypt: bad arguments");
    if (!s->established)
        return tes_err_set(TES_ERR_STATE, "session encrypt: the reader's first message is the "
                                          "SessionEstablishment (tes_session_establish)");
    size_t start = out->len;
    tes_cbor_enc en = {.out = out};
    tes_cbor_enc_map(&en, final ? 2 : 1);
    tes_cbor_enc_cstr(&en, "data");
    enc_sealed(&en, s, payload);
    if (final) {
        tes_cbor_enc_cstr(&en, "status");
        tes_cbor_enc_uint(&en, TES_SESSION_STATUS_TERMINATION);
    }
    err = tes_cbor_enc_finish(&en);
    if (err != TES_OK) {
        out->len = start;
        return err;
    }
    if (final)
        s->dead = true; /* nothing may follow a termination */
    return TES_OK;
}

static bool status_known(uint64_t v)
{
    return v == TES_SESSION_STATUS_DECRYPT_ERROR || v == TES_SESSION_STATUS_CBOR_ERROR ||
           v == TES_SESSION_STATUS_TERMINATION;
}

tes_err tes_session_decrypt(tes_session *s, tes_bytes session_data, tes_buf *out, uint64_t *status)
{
    if (status)
        *status = 0;
    tes_err err = usable(s, "session decrypt");
    if (err != TES_OK)
        return err;
    if (!out || !status || (!session_data.ptr && session_data.len))
        return tes_err_set(TES_ERR_ARG, "session decrypt: bad arguments");
    if (!s->established)
        return tes_err_set(TES_ERR_STATE,
                           "session decrypt: the reader must send the SessionEstablishment first");
    /* From here on, any failure ends the session. */
    s->dead = true;
    if (session_data.len > TES_SESSION_MAX_MESSAGE)
        return tes_err_set(TES_ERR_SESSION_MESSAGE, "SessionData is %zu bytes, more than %u",
                           session_data.len, TES_SESSION_MAX_MESSAGE);
    tes_cbor_node nodes[8];
    tes_cbor_doc d;
    tes_cbor_limits lim = {.max_input = TES_SESSION_MAX_MESSAGE, .max_depth = 4, .max_items = 16};
    err = tes_cbor_parse_with(session_data, &lim, nodes, 8, &d);
    if (err != TES_OK)
        return malformed(err, "SessionData");
    uint32_t data = TES_CBOR_NONE, st = TES_CBOR_NONE;
    if (!tes_cbor_is(&d, 0, TES_CBOR_MAP)) {
        err = tes_err_set(TES_ERR_SESSION_MESSAGE, "SessionData is not a map");
        goto done;
    }
    data = tes_cbor_map_get_text(&d, 0, "data");
    st = tes_cbor_map_get_text(&d, 0, "status");
    uint64_t known = (data != TES_CBOR_NONE) + (st != TES_CBOR_NONE);
    if (known == 0) {
        err = tes_err_set(TES_ERR_SESSION_MESSAGE, "SessionData has neither data nor status");
        goto done;
    }
    if (tes_cbor_count(&d, 0) != known) {
        err = tes_err_set(TES_ERR_SESSION_MESSAGE,
                          "SessionData has members other than \"data\" and \"status\"");
        goto done;
    }
    if (data != TES_CBOR_NONE && !tes_cbor_is(&d, data, TES_CBOR_BYTES)) {
        err = tes_err_set(TES_ERR_SESSION_MESSAGE, "SessionData data is not a byte string");
        goto done;
    }
    uint64_t code = 0;
    if (st != TES_CBOR_NONE) {
        if (!tes_cbor_is(&d, st, TES_CBOR_UINT) || !status_known(d.nodes[st].val)) {
            err = tes_err_set(TES_ERR_SESSION_MESSAGE,
                              "SessionData status is not 10, 11 or 20 (18013-5 Table 20)");
            goto done;
        }
        code = d.nodes[st].val;
    }
    if (data != TES_CBOR_NONE) {
        err = session_open(s, TES_BYTES(d.nodes[data].data, d.nodes[data].len), out);
        if (err != TES_OK)
            goto done;
    }
    *status = code;
    /* A status (termination or error) ends the session; otherwise it goes on. */
    s->dead = code != 0;
done:
    tes_cbor_doc_free(&d);
    return err;
}

tes_err tes_session_status(uint64_t code, tes_buf *out)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "session status: NULL output");
    if (!status_known(code))
        return tes_err_set(TES_ERR_ARG, "session status: %llu is not 10, 11 or 20",
                           (unsigned long long)code);
    size_t start = out->len;
    tes_cbor_enc en = {.out = out};
    tes_cbor_enc_map(&en, 1);
    tes_cbor_enc_cstr(&en, "status");
    tes_cbor_enc_uint(&en, code);
    tes_err err = tes_cbor_enc_finish(&en);
    if (err != TES_OK)
        out->len = start;
    return err;
}

tes_bytes tes_session_transcript_bytes(const tes_session *s)
{
    return s ? tes_buf_bytes(&s->transcript) : TES_BYTES(NULL, 0);
}

void tes_session_free(tes_session *s)
{
    if (!s)
        return;
    tes_wipe(s->sk_send, sizeof(s->sk_send));
    tes_wipe(s->sk_recv, sizeof(s->sk_recv));
    tes_buf_free(&s->transcript);
    tes_buf_free(&s->ereader_key_bytes);
    tes_wipe(s, sizeof(*s));
    free(s);
}
