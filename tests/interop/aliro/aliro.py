#!/usr/bin/python3
"""Independent Aliro 1.0 NFC transaction (reader and device sides), for Tessera's tests.

Written from the public descriptions (kormax/aliro README, kormax/python-aliro-reader,
the shared "tessera-hotel-1" document profile in the lead's brief), not from Tessera's C
code, so that the two can be checked against each other. Only Debian's python3-cryptography
and python3-cbor2 are used.

Contents: BER-TLV, APDU encoding, the key schedule (X9.63 KDF, HKDF salts/labels), the
AUTH1 signature input, the AES-256-GCM secure channel, the command builders, and the
step-up documents (DeviceRequest / DeviceResponse / Document / MSO) with their checks.
"""
import datetime
import hashlib
import os

import cbor2
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

# ------------------------------------------------------------------ constants

AID_PRIMARY = bytes.fromhex("A000000909ACCE5501")
AID_STEPUP = bytes.fromhex("A000000909ACCE5502")
INTERFACE_NFC = 0x5E
VERSION_1_0 = b"\x01\x00"
FLAG_STANDARD = 0x00
FLAG_FAST = 0x01
POLICY_USER_DEVICE_SETTING = 0x01
USAGE_READER = bytes.fromhex("415D9569")  # tag 93 in the reader's AUTH1 signature input
USAGE_DEVICE = bytes.fromhex("4E887B4C")  # tag 93 in the device's AUTH1 signature input
LABEL_VOLATILE = b"Volatile****"
LABEL_PERSISTENT = b"Persistent**"
LABEL_FAST = b"VolatileFast"
PREFIX_READER = bytes(8)  # IV direction prefix, reader -> device
PREFIX_DEVICE = bytes(7) + b"\x01"  # device -> reader
AUTH_INPUT_LEN = 126
TIMESTAMP_LEN = 20
ZERO_TIMESTAMP = bytes(TIMESTAMP_LEN)

SIG_ACCESS_DOC = 0x0001
SIG_REVOCATION_DOC = 0x0002
SIG_STEPUP_SELECT = 0x0004

STATUS_UNLOCKED = b"\x01\x01"
STATUS_FAILURE = b"\x00\x00"
STATUS_NOT_FOUND = b"\x00\x01"
STATUS_EXPIRED = b"\x00\x02"
STATUS_NOT_TRUSTED = b"\x00\x03"
STATUS_BAD_SIGNATURE = b"\x00\x04"
STATUS_NO_RIGHTS = b"\x00\x25"

DOCTYPE_ACCESS = "aliro-a"
DOCTYPE_REVOCATION = "aliro-r"


class AliroError(Exception):
    """A protocol, format or cryptographic failure (message says what and where)."""


# ------------------------------------------------------------------ BER-TLV (ISO/IEC 7816-4 5.2)

def tlv(tag, value):
    """tag (1 or 2 bytes, as an int) || minimal definite length || value."""
    value = bytes(value)
    if tag > 0xFFFF or tag < 0:
        raise AliroError("tlv: tag %x too large" % tag)
    t = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n <= 0xFF:
        ln = bytes([0x81, n])
    elif n <= 0xFFFF:
        ln = bytes([0x82]) + n.to_bytes(2, "big")
    else:
        raise AliroError("tlv: value of %d bytes too long" % n)
    return t + ln + value


class Tlv:
    __slots__ = ("tag", "value", "raw")

    def __init__(self, tag, value, raw):
        self.tag, self.value, self.raw = tag, value, raw

    def __repr__(self):
        return "Tlv(%X, %s)" % (self.tag, self.value.hex())


def tlv_parse(data, max_objects=32):
    """Parses a sequence of data objects that fills `data` exactly. Strict: tags of 1 or 2
    bytes, lengths short or 81/82 and minimal, no trailing bytes, at most max_objects."""
    data = bytes(data)
    out = []
    i = 0
    while i < len(data):
        if len(out) >= max_objects:
            raise AliroError("tlv: more than %d objects" % max_objects)
        start = i
        first = data[i]
        i += 1
        if first in (0x00, 0xFF):
            raise AliroError("tlv: invalid tag byte %02X at %d" % (first, start))
        tag = first
        if first & 0x1F == 0x1F:
            if i >= len(data):
                raise AliroError("tlv: truncated tag at %d" % start)
            second = data[i]
            i += 1
            if second & 0x80:
                raise AliroError("tlv: tag longer than 2 bytes at %d" % start)
            tag = (first << 8) | second
        if i >= len(data):
            raise AliroError("tlv: missing length at %d" % start)
        lb = data[i]
        i += 1
        if lb < 0x80:
            n = lb
        elif lb == 0x81:
            if i + 1 > len(data):
                raise AliroError("tlv: truncated length at %d" % start)
            n = data[i]
            i += 1
            if n < 0x80:
                raise AliroError("tlv: non-minimal length at %d" % start)
        elif lb == 0x82:
            if i + 2 > len(data):
                raise AliroError("tlv: truncated length at %d" % start)
            n = int.from_bytes(data[i:i + 2], "big")
            i += 2
            if n <= 0xFF:
                raise AliroError("tlv: non-minimal length at %d" % start)
        else:
            raise AliroError("tlv: unsupported length byte %02X at %d" % (lb, start))
        if i + n > len(data):
            raise AliroError("tlv: value of tag %X overruns the input (%d > %d) at %d"
                             % (tag, n, len(data) - i, start))
        out.append(Tlv(tag, data[i:i + n], data[start:i + n]))
        i += n
    return out


def tlv_find(objs, tag):
    for o in objs:
        if o.tag == tag:
            return o
    return None


def tlv_require(objs, tag, length=None, what=""):
    o = tlv_find(objs, tag)
    if o is None:
        raise AliroError("%s: tag %X missing" % (what, tag))
    if length is not None and len(o.value) != length:
        raise AliroError("%s: tag %X has %d bytes, expected %d" % (what, tag, len(o.value), length))
    if sum(1 for x in objs if x.tag == tag) != 1:
        raise AliroError("%s: tag %X repeated" % (what, tag))
    return o.value


# ------------------------------------------------------------------ APDUs (short form only)

def apdu(cla, ins, p1, p2, data=b"", le=None):
    data = bytes(data)
    if len(data) > 255:
        raise AliroError("apdu: %d bytes of data need extended length (not used)" % len(data))
    out = bytes([cla, ins, p1, p2])
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le & 0xFF])
    return out


def apdu_parse(raw):
    """(cla, ins, p1, p2, data, le) of a command APDU (ISO 7816-4 cases 1-4, short or
    extended length); le is None when absent, 256 / 65536 for an encoded zero."""
    raw = bytes(raw)
    if len(raw) < 4:
        raise AliroError("apdu: %d bytes, shorter than a header" % len(raw))
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return cla, ins, p1, p2, b"", None
    if len(body) == 1:
        return cla, ins, p1, p2, b"", body[0] or 256
    lc = body[0]
    if lc == 0:
        if len(body) < 3:
            raise AliroError("apdu: truncated extended length")
        n = int.from_bytes(body[1:3], "big")
        if len(body) == 3:
            return cla, ins, p1, p2, b"", n or 65536
        if n == 0:
            raise AliroError("apdu: extended Lc of zero")
        if len(body) == 3 + n:
            return cla, ins, p1, p2, body[3:], None
        if len(body) == 5 + n:
            return cla, ins, p1, p2, body[3:3 + n], int.from_bytes(body[-2:], "big") or 65536
        raise AliroError("apdu: extended Lc %d does not match the %d body bytes" % (n, len(body)))
    if len(body) == 1 + lc:
        return cla, ins, p1, p2, body[1:], None
    if len(body) == 2 + lc:
        return cla, ins, p1, p2, body[1:1 + lc], body[-1] or 256
    raise AliroError("apdu: Lc %d does not match the %d body bytes" % (lc, len(body)))


def select(aid):
    return apdu(0x00, 0xA4, 0x04, 0x00, aid, 0x00)


def auth0(flags, policy, version, reader_eph_point, tx_id, reader_id):
    data = (tlv(0x41, [flags]) + tlv(0x42, [policy]) + tlv(0x5C, version) +
            tlv(0x87, reader_eph_point) + tlv(0x4C, tx_id) + tlv(0x4D, reader_id))
    return apdu(0x80, 0x80, 0x00, 0x00, data)


def auth1(signature, request_public_key=True):
    data = tlv(0x41, [1 if request_public_key else 0]) + tlv(0x9E, signature)
    return apdu(0x80, 0x81, 0x00, 0x00, data)


def exchange(ciphertext):
    return apdu(0x80, 0xC9, 0x00, 0x00, ciphertext)


def control_flow(s1, s2):
    return apdu(0x80, 0x3C, 0x00, 0x00, tlv(0x41, [s1]) + tlv(0x42, [s2]))


def envelope(data):
    return apdu(0x00, 0xC3, 0x00, 0x00, data, 0x00)


def get_response(le):
    return apdu(0x00, 0xC0, 0x00, 0x00, b"", le)


# ------------------------------------------------------------------ FCI

def fci_template(versions=(VERSION_1_0,), max_cmd=0x00FF, max_resp=0x0100):
    """The A5 proprietary template as a device sends it: 80 medium 0000, 5C versions,
    7F66 capabilities {02 max command length, 02 max response length}."""
    caps = tlv(0x02, max_cmd.to_bytes(2, "big")) + tlv(0x02, max_resp.to_bytes(2, "big"))
    return tlv(0xA5, tlv(0x80, b"\x00\x00") + tlv(0x5C, b"".join(versions)) + tlv(0x7F66, caps))


def fci(aid, a5):
    return tlv(0x6F, tlv(0x84, aid) + a5)


def parse_fci(data, aid):
    """(A5 TLV bytes as encoded, [versions]) of a SELECT answer."""
    top = tlv_parse(data, 1)
    if len(top) != 1 or top[0].tag != 0x6F:
        raise AliroError("FCI: not a 6F template")
    inner = tlv_parse(top[0].value, 8)
    if tlv_require(inner, 0x84, what="FCI") != aid:
        raise AliroError("FCI: DF name is not the selected AID")
    a5 = tlv_find(inner, 0xA5)
    if a5 is None:
        raise AliroError("FCI: proprietary template A5 missing")
    prop = tlv_parse(a5.value, 16)
    tlv_require(prop, 0x80, what="FCI A5")
    vers = tlv_require(prop, 0x5C, what="FCI A5")
    if len(vers) == 0 or len(vers) % 2:
        raise AliroError("FCI: version list of %d bytes" % len(vers))
    return a5.raw, [vers[i:i + 2] for i in range(0, len(vers), 2)]


# ------------------------------------------------------------------ EC keys

def private_from_scalar(hex_or_int):
    d = int(hex_or_int, 16) if isinstance(hex_or_int, str) else hex_or_int
    return ec.derive_private_key(d, ec.SECP256R1())


def point(pub):
    """Uncompressed SEC1 point 04||x||y of a public (or private) key."""
    if isinstance(pub, ec.EllipticCurvePrivateKey):
        pub = pub.public_key()
    return pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def xcoord(pub):
    return point(pub)[1:33]


def load_point(data):
    data = bytes(data)
    if len(data) != 65 or data[0] != 0x04:
        raise AliroError("EC point: %d bytes, expected an uncompressed P-256 point" % len(data))
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError as e:
        raise AliroError("EC point: not on P-256 (%s)" % e)


def load_private_pem(path):
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise AliroError("%s: not a P-256 private key" % path)
    return key


def load_public_any(arg):
    """A P-256 public key from a PEM file (public or private) or a hex point."""
    if os.path.exists(arg):
        with open(arg, "rb") as f:
            pem = f.read()
        if b"PRIVATE KEY" in pem:
            key = serialization.load_pem_private_key(pem, None).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise AliroError("%s: not a P-256 key" % arg)
        return key
    return load_point(bytes.fromhex(arg))


def ecdh(priv, pub):
    return priv.exchange(ec.ECDH(), pub)


def sign_raw(priv, data):
    r, s = decode_dss_signature(priv.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(pub, sig, data):
    """True when sig (r||s, 64 bytes) verifies; False otherwise (never raises on bad sigs)."""
    if len(sig) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        pub.verify(der, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


# ------------------------------------------------------------------ key schedule

def x963_kdf(z, shared_info, length=32):
    return X963KDF(hashes.SHA256(), length, shared_info).derive(z)


def hkdf(ikm, salt, info, length):
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


class Context:
    """What both sides must agree on: the inputs of every salt."""

    def __init__(self, reader_key_x, reader_id, version, reader_eph_x, device_eph_x, tx_id,
                 flags, policy, fci_a5, interface=INTERFACE_NFC):
        self.reader_key_x = bytes(reader_key_x)
        self.reader_id = bytes(reader_id)
        self.version = bytes(version)
        self.reader_eph_x = bytes(reader_eph_x)
        self.device_eph_x = bytes(device_eph_x)
        self.tx_id = bytes(tx_id)
        self.flags = flags
        self.policy = policy
        self.fci_a5 = bytes(fci_a5)
        self.interface = interface
        for name, v, n in (("reader key x", self.reader_key_x, 32), ("reader id", self.reader_id, 32),
                           ("version", self.version, 2), ("reader eph x", self.reader_eph_x, 32),
                           ("device eph x", self.device_eph_x, 32), ("tx id", self.tx_id, 16)):
            if len(v) != n:
                raise AliroError("context: %s has %d bytes, expected %d" % (name, len(v), n))

    def salt(self, label, endpoint_x=b""):
        return (self.reader_key_x + label + self.reader_id + bytes([self.interface]) +
                tlv(0x5C, self.version) + self.reader_eph_x + self.tx_id +
                bytes([self.flags, self.policy]) + self.fci_a5 + bytes(endpoint_x))

    def auth_input(self, device):
        return (tlv(0x4D, self.reader_id) + tlv(0x86, self.device_eph_x) +
                tlv(0x87, self.reader_eph_x) + tlv(0x4C, self.tx_id) +
                tlv(0x93, USAGE_DEVICE if device else USAGE_READER))


ZERO_SALT = bytes(32)


def sub_keys(material, label_reader, label_device):
    return (hkdf(material, ZERO_SALT, label_reader, 32), hkdf(material, ZERO_SALT, label_device, 32))


def derive_standard(ctx, z):
    """Kdh and the standard session keys from the ECDH x-coordinate z."""
    kdh = x963_kdf(z, ctx.tx_id, 32)
    okm = hkdf(kdh, ctx.salt(LABEL_VOLATILE), ctx.device_eph_x, 160)
    k = {"kdh": kdh, "okm": okm,
         "exchange_reader": okm[0:32], "exchange_device": okm[32:64],
         "stepup_material": okm[64:96], "ble_material": okm[96:128], "uwb_ranging": okm[128:160]}
    k["stepup_reader"], k["stepup_device"] = sub_keys(k["stepup_material"], b"SKReader", b"SKDevice")
    k["ble_reader"], k["ble_device"] = sub_keys(k["ble_material"], b"BleSKReader", b"BleSKDevice")
    return k


def derive_persistent(ctx, kdh, endpoint_x):
    return hkdf(kdh, ctx.salt(LABEL_PERSISTENT, endpoint_x), ctx.device_eph_x, 32)


def derive_fast(ctx, kpersistent, endpoint_x):
    okm = hkdf(kpersistent, ctx.salt(LABEL_FAST, endpoint_x), ctx.device_eph_x, 160)
    k = {"okm": okm, "cryptogram": okm[0:32], "exchange_reader": okm[32:64],
         "exchange_device": okm[64:96], "ble_material": okm[96:128], "uwb_ranging": okm[128:160]}
    k["ble_reader"], k["ble_device"] = sub_keys(k["ble_material"], b"BleSKReader", b"BleSKDevice")
    return k


def cryptogram_plain(signaling, issued_at, revoked_at):
    return tlv(0x5E, signaling.to_bytes(2, "big")) + tlv(0x91, issued_at) + tlv(0x92, revoked_at)


def cryptogram_seal(key, plain):
    return AESGCM(key).encrypt(bytes(12), plain, None)


def cryptogram_open(key, cryptogram):
    """The TLVs 5E/91/92 of a fast cryptogram, or None when it does not authenticate."""
    try:
        plain = AESGCM(key).decrypt(bytes(12), bytes(cryptogram), None)
    except InvalidTag:
        return None
    objs = tlv_parse(plain, 8)
    return {"signaling": int.from_bytes(tlv_require(objs, 0x5E, 2, "cryptogram"), "big"),
            "issued_at": tlv_require(objs, 0x91, TIMESTAMP_LEN, "cryptogram"),
            "revoked_at": tlv_require(objs, 0x92, TIMESTAMP_LEN, "cryptogram")}


# ------------------------------------------------------------------ secure channel

class Channel:
    """AES-256-GCM, IV = direction prefix (8) || counter (4, big endian, from 1), one counter
    per direction. An empty message stays empty and still consumes a counter value, as the
    public reader does. A failed open leaves the counter where it was."""

    def __init__(self, sk_reader, sk_device):
        self.sk = {True: bytes(sk_reader), False: bytes(sk_device)}
        self.ctr = {True: 1, False: 1}

    def _iv(self, from_reader):
        return (PREFIX_READER if from_reader else PREFIX_DEVICE) + self.ctr[from_reader].to_bytes(4, "big")

    def seal(self, from_reader, plain):
        out = AESGCM(self.sk[from_reader]).encrypt(self._iv(from_reader), bytes(plain), None) if plain else b""
        self.ctr[from_reader] += 1
        return out

    def open(self, from_reader, cipher):
        if not cipher:
            self.ctr[from_reader] += 1
            return b""
        if len(cipher) < 16:
            raise AliroError("channel: %d bytes, shorter than the GCM tag" % len(cipher))
        try:
            plain = AESGCM(self.sk[from_reader]).decrypt(self._iv(from_reader), bytes(cipher), None)
        except InvalidTag:
            raise AliroError("channel: message from the %s does not authenticate (counter %d)"
                             % ("reader" if from_reader else "device", self.ctr[from_reader]))
        self.ctr[from_reader] += 1
        return plain


# ------------------------------------------------------------------ timestamps

def tdate(t):
    """'YYYY-MM-DDTHH:MM:SSZ' of epoch seconds."""
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_tdate(s):
    try:
        d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise AliroError("timestamp %r is not YYYY-MM-DDTHH:MM:SSZ" % s)
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp())


def timestamp_bytes(arg):
    """20 ASCII bytes from epoch seconds or a tdate string; 20 zero bytes for None/''."""
    if arg in (None, "", 0, "0"):
        return ZERO_TIMESTAMP
    s = tdate(int(arg)) if str(arg).isdigit() else str(arg)
    parse_tdate(s)
    return s.encode("ascii")


def _as_epoch(v, what):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            raise AliroError("%s: tdate without a time zone" % what)
        return int(v.timestamp())
    raise AliroError("%s: not a tdate (tag 0)" % what)


# ------------------------------------------------------------------ step-up documents

def device_request(doctypes):
    """DeviceRequest with TEXT keys, as the public reader builds it."""
    reqs = []
    for dt in doctypes:
        elements = {"element2": True, "element4": True} if dt == DOCTYPE_ACCESS else {"element2": True}
        items = cbor2.dumps({"1": {dt: elements}, "5": dt})
        reqs.append({"1": cbor2.CBORTag(24, items)})
    return cbor2.dumps({"1": "1.0", "2": reqs})


def _get(m, k):
    """m[k] accepting the integer key or its text form."""
    if k in m:
        return m[k]
    return m.get(str(k))


def parse_device_request(data):
    """[(doctype, {namespace: [elements]})] of a DeviceRequest (integer or text keys)."""
    try:
        req = cbor2.loads(data)
    except Exception as e:
        raise AliroError("DeviceRequest: not CBOR (%s)" % e)
    if not isinstance(req, dict) or _get(req, 1) != "1.0":
        raise AliroError("DeviceRequest: not a version 1.0 map")
    docs = _get(req, 2)
    if not isinstance(docs, list) or not 1 <= len(docs) <= 4:
        raise AliroError("DeviceRequest: member 2 is not an array of 1..4 requests")
    out = []
    for d in docs:
        if not isinstance(d, dict):
            raise AliroError("DeviceRequest: a document request is not a map")
        items = _get(d, 1)
        if not isinstance(items, cbor2.CBORTag) or items.tag != 24 or not isinstance(items.value, bytes):
            raise AliroError("DeviceRequest: ItemsRequest is not 24(bstr)")
        ir = cbor2.loads(items.value)
        if not isinstance(ir, dict):
            raise AliroError("DeviceRequest: ItemsRequest is not a map")
        dt, ns = _get(ir, 5), _get(ir, 1)
        if not isinstance(dt, str) or not isinstance(ns, dict):
            raise AliroError("DeviceRequest: ItemsRequest lacks docType or nameSpaces")
        out.append((dt, {k: list(v) for k, v in ns.items() if isinstance(v, dict)}))
    return out


def cbor_head(major, n):
    if n < 24:
        return bytes([(major << 5) | n])
    for ai, size in ((24, 1), (25, 2), (26, 4)):
        if n < (1 << (8 * size)):
            return bytes([(major << 5) | ai]) + n.to_bytes(size, "big")
    raise AliroError("cbor: length too large")


def device_response(documents):
    """{1: "1.0", 2: [Document...], 3: 0}; the documents are embedded byte for byte."""
    return (cbor_head(5, 3) + cbor2.dumps(1) + cbor2.dumps("1.0") + cbor2.dumps(2) +
            cbor_head(4, len(documents)) + b"".join(documents) + cbor2.dumps(3) + cbor2.dumps(0))


def issuer_kid(issuer_pub):
    return hashlib.sha256(point(issuer_pub)).digest()[:8]


def _tag24(inner):
    return cbor2.dumps(cbor2.CBORTag(24, inner))


def make_document(issuer_priv, doctype, element2, signed, valid_from, valid_until,
                  device_pub=None, random_seed=b""):
    """A Document per profile tessera-hotel-1 (deterministic when random_seed is fixed)."""
    rnd = hashlib.sha256(b"tessera-aliropy-random" + random_seed + doctype.encode()).digest()[:16]
    item = cbor2.dumps({1: 0, 2: rnd, 3: "element2", 4: element2})
    wrapped = _tag24(item)
    mso = {1: "1.0", 2: "SHA-256", 3: {doctype: {0: hashlib.sha256(wrapped).digest()}}, 5: doctype,
           6: {1: cbor2.CBORTag(0, tdate(signed)), 2: cbor2.CBORTag(0, tdate(valid_from)),
               3: cbor2.CBORTag(0, tdate(valid_until))}}
    if device_pub is not None:
        p = point(device_pub)
        mso[4] = {1: {1: 2, -1: 1, -2: p[1:33], -3: p[33:65]}}
    protected = cbor2.dumps({1: -7})
    payload = _tag24(cbor2.dumps(mso))
    sig = sign_raw(issuer_priv, cbor2.dumps(["Signature1", protected, b"", payload]))
    issuer_auth = [protected, {4: issuer_kid(issuer_priv.public_key())}, payload, sig]
    # The namespace array holds the exact tag-24 bytes that were digested.
    ns_array = cbor_head(4, 1) + wrapped
    issuer_signed = (cbor_head(5, 2) + cbor2.dumps(1) + cbor_head(5, 1) + cbor2.dumps(doctype) +
                     ns_array + cbor2.dumps(2) + cbor2.dumps(issuer_auth))
    return cbor_head(5, 2) + cbor2.dumps(5) + cbor2.dumps(doctype) + cbor2.dumps(1) + issuer_signed


def verify_document(doc, issuer_pub, expected_doctype):
    """Checks a decoded Document (issuerAuth ES256, digests, MSO) and returns
    {"doctype", "elements": {id: value}, "signed", "valid_from", "valid_until", "device_key"}."""
    if not isinstance(doc, dict) or _get(doc, 5) != expected_doctype:
        raise AliroError("Document: docType is not %s" % expected_doctype)
    isig = _get(doc, 1)
    if not isinstance(isig, dict):
        raise AliroError("Document: issuerSigned missing")
    ns = _get(isig, 1)
    ia = _get(isig, 2)
    if not isinstance(ia, list) or len(ia) != 4:
        raise AliroError("Document: issuerAuth is not a 4-element COSE_Sign1")
    protected, unprotected, payload, sig = ia
    if not isinstance(protected, bytes) or cbor2.loads(protected) != {1: -7}:
        raise AliroError("Document: issuerAuth protected header is not {1: -7}")
    if not isinstance(unprotected, dict) or not isinstance(payload, bytes) or not isinstance(sig, bytes):
        raise AliroError("Document: issuerAuth members have the wrong types")
    kid = unprotected.get(4)
    if kid is not None and kid != issuer_kid(issuer_pub):
        raise AliroError("Document: issuerAuth kid names another issuer")
    if not verify_raw(issuer_pub, sig, cbor2.dumps(["Signature1", protected, b"", payload])):
        raise AliroError("Document: issuerAuth signature does not verify with the issuer key")
    tagged = cbor2.loads(payload)
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != 24 or not isinstance(tagged.value, bytes):
        raise AliroError("Document: MSO is not 24(bstr)")
    mso = cbor2.loads(tagged.value)
    if not isinstance(mso, dict) or mso.get(1) != "1.0" or mso.get(2) != "SHA-256" or mso.get(5) != expected_doctype:
        raise AliroError("Document: MSO version, digest algorithm or docType wrong")
    digests = mso.get(3, {}).get(expected_doctype) if isinstance(mso.get(3), dict) else None
    if not isinstance(digests, dict):
        raise AliroError("Document: MSO has no digests for %s" % expected_doctype)
    if not isinstance(ns, dict) or set(ns) != {expected_doctype} or not isinstance(ns[expected_doctype], list):
        raise AliroError("Document: nameSpaces is not {%s: [...]}" % expected_doctype)
    elements = {}
    for it in ns[expected_doctype]:
        if not isinstance(it, cbor2.CBORTag) or it.tag != 24 or not isinstance(it.value, bytes):
            raise AliroError("Document: IssuerSignedItem is not 24(bstr)")
        item = cbor2.loads(it.value)
        if not isinstance(item, dict) or not isinstance(item.get(1), int) or not isinstance(item.get(3), str):
            raise AliroError("Document: IssuerSignedItem malformed")
        if not isinstance(item.get(2), bytes) or len(item[2]) < 16:
            raise AliroError("Document: IssuerSignedItem random shorter than 16 bytes")
        want = digests.get(item[1])
        if want is None or hashlib.sha256(_tag24(it.value)).digest() != want:
            raise AliroError("Document: digest of %s does not match the MSO" % item[3])
        if item[3] in elements:
            raise AliroError("Document: element %s repeated" % item[3])
        elements[item[3]] = item.get(4)
    vi = mso.get(6)
    if not isinstance(vi, dict):
        raise AliroError("Document: validityInfo missing")
    out = {"doctype": expected_doctype, "elements": elements,
           "signed": _as_epoch(vi.get(1), "signed"), "valid_from": _as_epoch(vi.get(2), "validFrom"),
           "valid_until": _as_epoch(vi.get(3), "validUntil"), "device_key": None}
    dki = mso.get(4)
    if dki is not None:
        ck = dki.get(1) if isinstance(dki, dict) else None
        if (not isinstance(ck, dict) or ck.get(1) != 2 or ck.get(-1) != 1 or not isinstance(ck.get(-2), bytes)
                or not isinstance(ck.get(-3), bytes) or len(ck[-2]) != 32 or len(ck[-3]) != 32):
            raise AliroError("Document: deviceKeyInfo is not a P-256 COSE_Key")
        out["device_key"] = b"\x04" + ck[-2] + ck[-3]
    return out


def parse_access_data(v):
    """{version, key_id, rules: [(group_id, [rooms])], schedule} of element2 of aliro-a."""
    if not isinstance(v, dict) or v.get(0) != 1:
        raise AliroError("access data: not a version 1 map")
    kid = v.get(1)
    if not isinstance(kid, bytes) or len(kid) != 16:
        raise AliroError("access data: key_id is not 16 bytes")
    rules = v.get(2)
    if not isinstance(rules, list) or not rules:
        raise AliroError("access data: no access rules")
    out = []
    for r in rules:
        if (not isinstance(r, dict) or not isinstance(r.get(0), bytes) or len(r[0]) != 16
                or not isinstance(r.get(1), list) or not all(isinstance(x, str) for x in r[1])):
            raise AliroError("access data: a rule is not {0: group_id(16), 1: [rooms]}")
        out.append((r[0], list(r[1])))
    sched = v.get(3)
    windows = None
    if sched is not None:
        if not isinstance(sched, list) or not sched:
            raise AliroError("access data: schedule is not a non-empty array")
        windows = []
        for w in sched:
            if (not isinstance(w, dict) or set(w) != {0, 1} or not all(isinstance(w[k], int) for k in (0, 1))
                    or not 0 <= w[0] < w[1] <= 1440):
                raise AliroError("access data: a schedule window is not {0: from, 1: until} minutes of a day")
            windows.append([w[0], w[1]])
    return {"key_id": kid, "rules": out, "schedule": windows}


def parse_revocation_data(v):
    if not isinstance(v, dict) or v.get(0) != 1:
        raise AliroError("revocation data: not a version 1 map")
    gid, keys = v.get(1), v.get(2)
    if not isinstance(gid, bytes) or len(gid) != 16 or not isinstance(keys, list):
        raise AliroError("revocation data: malformed")
    if not all(isinstance(k, bytes) and len(k) == 16 for k in keys):
        raise AliroError("revocation data: a key_id is not 16 bytes")
    return {"group_id": gid, "key_ids": list(keys)}
