/*
 * NFC static handover (ISO/IEC 18013-5 §8.2.2.1, NFC Forum Connection
 * Handover 1.5, NDEF 1.0): the Handover Select message.
 *
 *   record 1  Hs (well-known "Hs"), payload: version 0x15 || NDEF message of
 *             "ac" alternative-carrier records
 *   record 2  NFC carrier configuration: external "iso.org:18013:nfc", id "nfc",
 *             payload 0x01 (version) || [len, 0x01, max command data length]
 *             || [len, 0x02, max response data length] (len counts type + value)
 *   record 3  external "iso.org:18013:deviceengagement", id "mdoc", payload =
 *             the DeviceEngagement
 *
 * The parser walks NDEF records strictly (MB only on the first record, ME only on
 * the last, no chunked records, every length inside the buffer), tolerates other
 * carriers (BLE, Wi-Fi Aware, ...) and takes the DeviceEngagement record by type.
 */
#include <string.h>

#include "session_internal.h"

enum {
    NDEF_MB = 0x80,
    NDEF_ME = 0x40,
    NDEF_CF = 0x20,
    NDEF_SR = 0x10,
    NDEF_IL = 0x08,
    NDEF_TNF_MASK = 0x07,
};

enum {
    TNF_EMPTY = 0,
    TNF_WELL_KNOWN = 1,
    TNF_MEDIA = 2,
    TNF_URI = 3,
    TNF_EXTERNAL = 4,
    TNF_UNKNOWN = 5,
    TNF_UNCHANGED = 6,
    TNF_RESERVED = 7,
};

static const char TYPE_DE[] = "iso.org:18013:deviceengagement";
static const char TYPE_NFC[] = "iso.org:18013:nfc";
static const char ID_DE[] = "mdoc";
static const char ID_NFC[] = "nfc";

#define NFC_CARRIER_VERSION 0x01
#define NFC_DT_MAX_CMD 0x01
#define NFC_DT_MAX_RSP 0x02
#define HS_VERSION 0x15 /* Connection Handover 1.5 */

#define MAX_RECORDS 16

typedef struct ndef_rec {
    uint8_t tnf;
    tes_bytes type, id, payload;
} ndef_rec;

static bool bytes_is(tes_bytes b, const char *s)
{
    size_t n = strlen(s);
    return b.len == n && memcmp(b.ptr, s, n) == 0;
}

/* Splits an NDEF message into records. `what` names the message in errors. */
static tes_err ndef_walk(tes_bytes msg, const char *what, ndef_rec *recs, size_t cap, size_t *n)
{
    *n = 0;
    if (msg.len == 0)
        return tes_err_set(TES_ERR_HANDOVER, "%s: empty NDEF message", what);
    size_t pos = 0;
    for (;;) {
        size_t left = msg.len - pos;
        const uint8_t *p = msg.ptr + pos;
        if (*n == cap)
            return tes_err_set(TES_ERR_HANDOVER, "%s: more than %zu NDEF records", what, cap);
        size_t idx = *n;
        if (left < 3)
            return tes_err_set(TES_ERR_HANDOVER, "%s: record %zu is truncated (header)", what, idx);
        uint8_t h = p[0];
        uint8_t tnf = h & NDEF_TNF_MASK;
        if (((h & NDEF_MB) != 0) != (idx == 0))
            return tes_err_set(TES_ERR_HANDOVER, "%s: record %zu has MB %s", what, idx,
                               idx == 0 ? "clear (first record)" : "set (not the first record)");
        if (h & NDEF_CF)
            return tes_err_set(TES_ERR_HANDOVER,
                               "%s: record %zu is chunked (CF); chunked records are not accepted",
                               what, idx);
        if (tnf == TNF_UNCHANGED || tnf == TNF_RESERVED)
            return tes_err_set(TES_ERR_HANDOVER, "%s: record %zu has TNF %u", what, idx,
                               (unsigned)tnf);
        size_t hdr = 2; /* flags, TYPE_LENGTH */
        size_t type_len = p[1];
        size_t payload_len;
        if (h & NDEF_SR) {
            payload_len = p[2];
            hdr += 1;
        } else {
            if (left < 6)
                return tes_err_set(TES_ERR_HANDOVER, "%s: record %zu is truncated (length)", what,
                                   idx);
            payload_len = (size_t)p[2] << 24 | (size_t)p[3] << 16 | (size_t)p[4] << 8 | p[5];
            hdr += 4;
        }
        size_t id_len = 0;
        if (h & NDEF_IL) {
            if (left < hdr + 1)
                return tes_err_set(TES_ERR_HANDOVER, "%s: record %zu is truncated (ID length)",
                                   what, idx);
            id_len = p[hdr];
            hdr += 1;
        }
        /* each term is bounded by `left`, so the sums cannot overflow */
        if (hdr > left || type_len > left - hdr || id_len > left - hdr - type_len ||
            payload_len > left - hdr - type_len - id_len)
            return tes_err_set(TES_ERR_HANDOVER,
                               "%s: record %zu declares %zu type, %zu ID and %zu payload bytes, "
                               "beyond the %zu bytes left",
                               what, idx, type_len, id_len, payload_len, left);
        if (tnf == TNF_EMPTY && (type_len || id_len || payload_len))
            return tes_err_set(TES_ERR_HANDOVER, "%s: empty record %zu is not empty", what, idx);
        if (tnf == TNF_UNKNOWN && type_len)
            return tes_err_set(TES_ERR_HANDOVER, "%s: record %zu of unknown TNF has a type", what,
                               idx);
        if (tnf != TNF_EMPTY && tnf != TNF_UNKNOWN && type_len == 0)
            return tes_err_set(TES_ERR_HANDOVER, "%s: record %zu has no type", what, idx);
        ndef_rec *r = &recs[idx];
        r->tnf = tnf;
        r->type = TES_BYTES(p + hdr, type_len);
        r->id = TES_BYTES(p + hdr + type_len, id_len);
        r->payload = TES_BYTES(p + hdr + type_len + id_len, payload_len);
        (*n)++;
        pos += hdr + type_len + id_len + payload_len;
        if (h & NDEF_ME) {
            if (pos != msg.len)
                return tes_err_set(TES_ERR_HANDOVER, "%s: %zu bytes after the last (ME) record",
                                   what, msg.len - pos);
            return TES_OK;
        }
        if (pos == msg.len)
            return tes_err_set(TES_ERR_HANDOVER, "%s: message ends without an ME record", what);
    }
}

/* Alternative Carrier record payload: CPS, carrier data reference, auxiliary
 * data references. Only its well-formedness matters here. */
static tes_err check_ac(tes_bytes p, size_t idx)
{
    size_t i = 0;
    if (p.len < 2)
        return tes_err_set(TES_ERR_HANDOVER, "Hs: ac record %zu is truncated", idx);
    i = 1; /* CPS */
    size_t cdr = p.ptr[i++];
    if (cdr == 0 || cdr > p.len - i)
        return tes_err_set(TES_ERR_HANDOVER, "Hs: ac record %zu has a bad carrier reference", idx);
    i += cdr;
    if (i >= p.len)
        return tes_err_set(TES_ERR_HANDOVER, "Hs: ac record %zu lacks the auxiliary count", idx);
    size_t aux = p.ptr[i++];
    for (size_t k = 0; k < aux; k++) {
        if (i >= p.len)
            return tes_err_set(TES_ERR_HANDOVER, "Hs: ac record %zu is truncated (aux %zu)", idx,
                               k);
        size_t len = p.ptr[i++];
        if (len == 0 || len > p.len - i)
            return tes_err_set(TES_ERR_HANDOVER,
                               "Hs: ac record %zu has a bad auxiliary reference %zu", idx, k);
        i += len;
    }
    if (i != p.len)
        return tes_err_set(TES_ERR_HANDOVER, "Hs: ac record %zu has %zu trailing bytes", idx,
                           p.len - i);
    return TES_OK;
}

/* The NFC carrier configuration payload (18013-5 §8.2.2.2). */
static tes_err parse_nfc_carrier(tes_bytes p, uint32_t *max_cmd, uint32_t *max_rsp)
{
    if (p.len < 1 || p.ptr[0] != NFC_CARRIER_VERSION)
        return tes_err_set(TES_ERR_HANDOVER, "NFC carrier record: version must be 0x01");
    bool have_cmd = false, have_rsp = false;
    size_t i = 1;
    while (i < p.len) {
        size_t len = p.ptr[i];
        if (len == 0 || len > p.len - i - 1)
            return tes_err_set(TES_ERR_HANDOVER,
                               "NFC carrier record: data field at offset %zu overruns", i);
        uint8_t type = p.ptr[i + 1];
        const uint8_t *v = p.ptr + i + 2;
        size_t vlen = len - 1;
        uint32_t val = 0;
        for (size_t k = 0; k < vlen && k < 4; k++)
            val = val << 8 | v[k];
        if (type == NFC_DT_MAX_CMD || type == NFC_DT_MAX_RSP) {
            bool cmd = type == NFC_DT_MAX_CMD;
            if (cmd ? have_cmd : have_rsp)
                return tes_err_set(TES_ERR_HANDOVER,
                                   "NFC carrier record: maximum %s length given twice",
                                   cmd ? "command" : "response");
            if (vlen < 1 || vlen > (cmd ? 2u : 3u) || val == 0)
                return tes_err_set(TES_ERR_HANDOVER,
                                   "NFC carrier record: bad maximum %s data length",
                                   cmd ? "command" : "response");
            if (cmd) {
                have_cmd = true;
                *max_cmd = val;
            } else {
                have_rsp = true;
                *max_rsp = val;
            }
        }
        /* other data types: not defined by 18013-5 edition 1, ignored */
        i += 1 + len;
    }
    if (!have_cmd || !have_rsp)
        return tes_err_set(TES_ERR_HANDOVER,
                           "NFC carrier record: maximum command and response data lengths are "
                           "required");
    return TES_OK;
}

tes_err tes_handover_select_parse(tes_bytes ndef, tes_engagement *out, uint32_t *max_cmd,
                                  uint32_t *max_rsp)
{
    if (!out)
        return tes_err_set(TES_ERR_ARG, "handover select parse: NULL output");
    memset(out, 0, sizeof(*out));
    if (max_cmd)
        *max_cmd = 0;
    if (max_rsp)
        *max_rsp = 0;
    if (!ndef.ptr && ndef.len)
        return tes_err_set(TES_ERR_ARG, "handover select parse: NULL input");
    if (ndef.len > TES_SESSION_MAX_NDEF)
        return tes_err_set(TES_ERR_HANDOVER, "Handover Select is %zu bytes, more than %u", ndef.len,
                           TES_SESSION_MAX_NDEF);

    ndef_rec recs[MAX_RECORDS], local[MAX_RECORDS];
    size_t n = 0, nl = 0;
    tes_err e = ndef_walk(ndef, "Handover Select", recs, MAX_RECORDS, &n);
    if (e != TES_OK)
        return e;
    if (recs[0].tnf != TNF_WELL_KNOWN || !bytes_is(recs[0].type, "Hs"))
        return tes_err_set(TES_ERR_HANDOVER,
                           "the first NDEF record is not a Handover Select (\"Hs\") record");
    tes_bytes hs = recs[0].payload;
    if (hs.len < 1 || (hs.ptr[0] >> 4) != 1)
        return tes_err_set(TES_ERR_HANDOVER, "Hs record: version must be 1.x");
    if (hs.len > 1) {
        e = ndef_walk(TES_BYTES(hs.ptr + 1, hs.len - 1), "Hs record", local, MAX_RECORDS, &nl);
        if (e != TES_OK)
            return e;
    }
    for (size_t i = 0; i < nl; i++)
        if (local[i].tnf == TNF_WELL_KNOWN && bytes_is(local[i].type, "ac") &&
            (e = check_ac(local[i].payload, i)) != TES_OK)
            return e;

    const ndef_rec *de = NULL, *nfc = NULL;
    for (size_t i = 1; i < n; i++) {
        const ndef_rec *r = &recs[i];
        if (r->tnf == TNF_WELL_KNOWN && bytes_is(r->type, "Hs"))
            return tes_err_set(TES_ERR_HANDOVER, "NDEF record %zu is a second Hs record", i);
        if (r->tnf != TNF_EXTERNAL) /* other carriers (BLE, Wi-Fi Aware, ...) */
            continue;
        if (session_bytes_eq_nocase(r->type, TYPE_DE)) {
            if (de)
                return tes_err_set(TES_ERR_HANDOVER,
                                   "Handover Select holds two DeviceEngagement records");
            de = r;
        } else if (session_bytes_eq_nocase(r->type, TYPE_NFC)) {
            if (nfc)
                return tes_err_set(TES_ERR_HANDOVER,
                                   "Handover Select holds two NFC carrier records");
            nfc = r;
        }
    }
    if (!de)
        return tes_err_set(TES_ERR_HANDOVER,
                           "Handover Select holds no \"iso.org:18013:deviceengagement\" record");
    uint32_t cmd = 0, rsp = 0;
    if (nfc && (e = parse_nfc_carrier(nfc->payload, &cmd, &rsp)) != TES_OK)
        return e;
    e = tes_engagement_parse(de->payload, out);
    if (e != TES_OK)
        return e;
    if (max_cmd)
        *max_cmd = cmd;
    if (max_rsp)
        *max_rsp = rsp;
    return TES_OK;
}

/* Writes one record header + type + id; the caller appends the payload. */
static void put_record(tes_buf *b, uint8_t flags, uint8_t tnf, const char *type, const char *id,
                       size_t payload_len)
{
    size_t tl = strlen(type), il = id ? strlen(id) : 0;
    uint8_t h = (uint8_t)(flags | tnf | (id ? NDEF_IL : 0) | (payload_len < 256 ? NDEF_SR : 0));
    uint8_t head[8];
    size_t k = 0;
    head[k++] = h;
    head[k++] = (uint8_t)tl;
    if (payload_len < 256) {
        head[k++] = (uint8_t)payload_len;
    } else {
        head[k++] = (uint8_t)(payload_len >> 24);
        head[k++] = (uint8_t)(payload_len >> 16);
        head[k++] = (uint8_t)(payload_len >> 8);
        head[k++] = (uint8_t)payload_len;
    }
    if (id)
        head[k++] = (uint8_t)il;
    tes_buf_append(b, head, k);
    tes_buf_append(b, type, tl);
    if (id)
        tes_buf_append(b, id, il);
}

/* [length, type, big-endian value in as few bytes as it needs] */
static size_t put_data_field(uint8_t *p, uint8_t type, uint32_t v)
{
    size_t n = v <= 0xff ? 1 : v <= 0xffff ? 2 : 3;
    p[0] = (uint8_t)(n + 1);
    p[1] = type;
    for (size_t k = 0; k < n; k++)
        p[2 + k] = (uint8_t)(v >> (8 * (n - 1 - k)));
    return 2 + n;
}

tes_err tes_handover_select_build(const tes_engagement *e, uint32_t max_cmd, uint32_t max_rsp,
                                  tes_buf *ndef)
{
    if (!e || !ndef || e->bytes.len == 0)
        return tes_err_set(TES_ERR_ARG, "handover select build: no engagement");
    if (e->bytes.len > TES_SESSION_MAX_ENGAGEMENT)
        return tes_err_set(TES_ERR_ARG, "handover select build: engagement beyond %u bytes",
                           TES_SESSION_MAX_ENGAGEMENT);
    if (max_cmd == 0 || max_cmd > 0xffff || max_rsp == 0 || max_rsp > 0xffffff)
        return tes_err_set(TES_ERR_ARG,
                           "handover select build: maximum command length must be 1..65535 and "
                           "response length 1..16777215");
    size_t start = ndef->len;

    /* ac: CPS active, carrier "nfc", one auxiliary reference "mdoc" */
    uint8_t ac[2 + sizeof(ID_NFC) - 1 + 2 + sizeof(ID_DE) - 1];
    size_t k = 0;
    ac[k++] = 0x01;
    ac[k++] = sizeof(ID_NFC) - 1;
    memcpy(ac + k, ID_NFC, sizeof(ID_NFC) - 1);
    k += sizeof(ID_NFC) - 1;
    ac[k++] = 1;
    ac[k++] = sizeof(ID_DE) - 1;
    memcpy(ac + k, ID_DE, sizeof(ID_DE) - 1);
    k += sizeof(ID_DE) - 1;

    tes_buf hs = {0};
    uint8_t ver = HS_VERSION;
    tes_buf_append(&hs, &ver, 1);
    put_record(&hs, NDEF_MB | NDEF_ME, TNF_WELL_KNOWN, "ac", NULL, k);
    tes_buf_append(&hs, ac, k);

    uint8_t carrier[1 + 5 + 5];
    size_t cl = 0;
    carrier[cl++] = NFC_CARRIER_VERSION;
    cl += put_data_field(carrier + cl, NFC_DT_MAX_CMD, max_cmd);
    cl += put_data_field(carrier + cl, NFC_DT_MAX_RSP, max_rsp);

    put_record(ndef, NDEF_MB, TNF_WELL_KNOWN, "Hs", NULL, hs.len);
    tes_buf_append(ndef, hs.ptr, hs.len);
    put_record(ndef, 0, TNF_EXTERNAL, TYPE_NFC, ID_NFC, cl);
    tes_buf_append(ndef, carrier, cl);
    put_record(ndef, NDEF_ME, TNF_EXTERNAL, TYPE_DE, ID_DE, e->bytes.len);
    tes_buf_append(ndef, e->bytes.ptr, e->bytes.len);
    bool failed = hs.failed || ndef->failed;
    tes_buf_free(&hs);
    if (failed) {
        ndef->len = start;
        return tes_err_set(TES_ERR_NOMEM, "out of memory writing the Handover Select");
    }
    return TES_OK;
}
