#!/usr/bin/python3
"""Known-answer vectors of the Aliro 1.0 key schedule and secure channel, computed from
fixed inputs with Python's `cryptography` (independently of Tessera's C code).

    /usr/bin/python3 tests/interop/aliro/kat.py [--out tests/vectors/aliro/kat.json] [--check]

--check recomputes and compares with the existing file (exit 1 on any difference).
Signatures are deterministic ECDSA (RFC 6979, SHA-256), computed here in plain integer
arithmetic and verified with `cryptography`, so the file has no randomness.
See tests/vectors/aliro/README.md for every field.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys

import cbor2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aliro as A  # noqa: E402

# ------------------------------------------------------------------ RFC 6979 ECDSA on P-256

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
AC = P - 3
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + AC) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _mul(k, pt):
    acc = None
    while k:
        if k & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        k >>= 1
    return acc


def rfc6979_k(d, h1):
    """RFC 6979 section 3.2 with HMAC-SHA-256, qlen = hlen = 256."""
    x = d.to_bytes(32, "big")
    h = (int.from_bytes(h1, "big") % N).to_bytes(32, "big")
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        cand = int.from_bytes(v, "big")
        if 1 <= cand < N:
            return cand
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def sign_deterministic(d, msg):
    h1 = hashlib.sha256(msg).digest()
    e = int.from_bytes(h1, "big")
    k = rfc6979_k(d, h1)
    r = _mul(k, (GX, GY))[0] % N
    s = pow(k, -1, N) * (e + r * d) % N
    assert r and s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# ------------------------------------------------------------------ fixed inputs

INPUTS = {
    # P-256 private scalars (any value in [1, n-1]; these are SHA-256 of a label).
    "reader_key_d": hashlib.sha256(b"tessera aliro kat: reader long-term key").hexdigest(),
    "reader_eph_d": hashlib.sha256(b"tessera aliro kat: reader ephemeral key").hexdigest(),
    "device_eph_d": hashlib.sha256(b"tessera aliro kat: device ephemeral key").hexdigest(),
    "endpoint_key_d": hashlib.sha256(b"tessera aliro kat: endpoint long-term key").hexdigest(),
    "reader_id": "000102030405060708090a0b0c0d0e0f" "101112131415161718191a1b1c1d1e1f",
    "tx_id": "44945bb788a4b6a9be7b72111398e646",
    "flags": "01",
    "policy": "01",
    "version": "0100",
    "interface": "5e",
    "fci_a5": A.fci_template().hex(),
    # A second (fast) transaction with the same reader and endpoint, later.
    "fast_reader_eph_d": hashlib.sha256(b"tessera aliro kat: fast reader ephemeral key").hexdigest(),
    "fast_device_eph_d": hashlib.sha256(b"tessera aliro kat: fast device ephemeral key").hexdigest(),
    "fast_tx_id": "00112233445566778899aabbccddeeff",
    "fast_flags": "01",
    "fast_policy": "01",
    "cryptogram_plain": A.cryptogram_plain(0x0000, b"2026-12-08T10:00:00Z", A.ZERO_TIMESTAMP).hex(),
    "msg_reader_1": A.tlv(0x97, b"\x01\x01").hex(),
    "msg_reader_2": A.tlv(0xBA, A.tlv(0x87, bytes.fromhex("00000010")) + A.tlv(0x8C, b"\x00")).hex(),
    "msg_device_1": "00020000",
    "msg_device_2": "0010" + "00" * 16 + "00020000",
}


def hx(b):
    return bytes(b).hex()


def compute(inp):
    out = {}
    reader = A.private_from_scalar(inp["reader_key_d"])
    r_eph = A.private_from_scalar(inp["reader_eph_d"])
    d_eph = A.private_from_scalar(inp["device_eph_d"])
    endpoint = A.private_from_scalar(inp["endpoint_key_d"])
    for name, k in (("reader_key", reader), ("reader_eph", r_eph), ("device_eph", d_eph),
                    ("endpoint_key", endpoint)):
        out[name + "_point"] = hx(A.point(k))
    ctx = A.Context(A.xcoord(reader), bytes.fromhex(inp["reader_id"]), bytes.fromhex(inp["version"]),
                    A.xcoord(r_eph), A.xcoord(d_eph), bytes.fromhex(inp["tx_id"]),
                    int(inp["flags"], 16), int(inp["policy"], 16), bytes.fromhex(inp["fci_a5"]),
                    int(inp["interface"], 16))
    out["select_response"] = hx(A.fci(A.AID_PRIMARY, ctx.fci_a5)) + "9000"
    out["auth0_command"] = hx(A.auth0(ctx.flags, ctx.policy, ctx.version, A.point(r_eph), ctx.tx_id,
                                      ctx.reader_id))
    z = A.ecdh(r_eph, d_eph.public_key())
    assert z == A.ecdh(d_eph, r_eph.public_key())
    out["ecdh_z"] = hx(z)
    out["salt_volatile"] = hx(ctx.salt(A.LABEL_VOLATILE))
    out["salt_persistent"] = hx(ctx.salt(A.LABEL_PERSISTENT, A.xcoord(endpoint)))
    k = A.derive_standard(ctx, z)
    # Cross-checks of the library KDFs by their definitions (SEC 1 3.6.1; RFC 5869).
    assert k["kdh"] == hashlib.sha256(z + b"\x00\x00\x00\x01" + ctx.tx_id).digest()
    prk = hmac.new(ctx.salt(A.LABEL_VOLATILE), k["kdh"], hashlib.sha256).digest()
    t, okm = b"", b""
    for i in range(1, 6):
        t = hmac.new(prk, t + ctx.device_eph_x + bytes([i]), hashlib.sha256).digest()
        okm += t
    assert okm == k["okm"]
    out["kdh"] = hx(k["kdh"])
    out["standard_okm"] = hx(k["okm"])
    for name in ("exchange_reader", "exchange_device", "stepup_material", "ble_material", "uwb_ranging",
                 "stepup_reader", "stepup_device", "ble_reader", "ble_device"):
        out["standard_" + name] = hx(k[name])
    # The same transaction with AUTH0 flags 00: only the salt's flags byte differs.
    ctx00 = A.Context(ctx.reader_key_x, ctx.reader_id, ctx.version, ctx.reader_eph_x, ctx.device_eph_x,
                      ctx.tx_id, 0x00, ctx.policy, ctx.fci_a5)
    out["standard_flags00_okm"] = hx(A.derive_standard(ctx00, z)["okm"])
    kp = A.derive_persistent(ctx, k["kdh"], A.xcoord(endpoint))
    out["persistent_key"] = hx(kp)

    # AUTH1: signature inputs and deterministic signatures.
    ri, di = ctx.auth_input(False), ctx.auth_input(True)
    assert len(ri) == len(di) == A.AUTH_INPUT_LEN
    out["auth1_reader_input"] = hx(ri)
    out["auth1_device_input"] = hx(di)
    rs = sign_deterministic(int(inp["reader_key_d"], 16), ri)
    ds = sign_deterministic(int(inp["endpoint_key_d"], 16), di)
    assert A.verify_raw(reader.public_key(), rs, ri) and A.verify_raw(endpoint.public_key(), ds, di)
    assert not A.verify_raw(reader.public_key(), rs, di)
    out["auth1_reader_signature"] = hx(rs)
    out["auth1_device_signature"] = hx(ds)
    out["auth1_command"] = hx(A.auth1(rs))
    auth1_plain = (A.tlv(0x5A, A.point(endpoint)) + A.tlv(0x9E, ds) + A.tlv(0x5E, b"\x00\x01") +
                   A.tlv(0x91, b"2026-12-08T10:00:00Z") + A.tlv(0x92, A.ZERO_TIMESTAMP))
    out["auth1_response_plain"] = hx(auth1_plain)

    # Secure channel, standard exchange keys and step-up keys. The AUTH1 response is the
    # device's message 1 on the exchange channel.
    def channel(prefix, sk_r, sk_d, device_msgs):
        ch = A.Channel(sk_r, sk_d)
        for i, m in enumerate((inp["msg_reader_1"], inp["msg_reader_2"]), 1):
            out["%s_reader_ctr%d" % (prefix, i)] = hx(ch.seal(True, bytes.fromhex(m)))
        for i, m in enumerate(device_msgs, 1):
            out["%s_device_ctr%d" % (prefix, i)] = hx(ch.seal(False, bytes.fromhex(m)))
        # Each opens on a fresh channel of the other side, and only in order.
        rx = A.Channel(sk_r, sk_d)
        for i in (1, 2):
            assert rx.open(True, bytes.fromhex(out["%s_reader_ctr%d" % (prefix, i)])).hex() == \
                inp["msg_reader_%d" % i]
        try:
            rx.open(True, bytes.fromhex(out["%s_device_ctr1" % prefix]))
            raise AssertionError("reflected message opened")
        except A.AliroError:
            pass

    channel("exchange", k["exchange_reader"], k["exchange_device"], [hx(auth1_plain), inp["msg_device_1"]])
    out["auth1_response"] = out["exchange_device_ctr1"] + "9000"
    channel("stepup", k["stepup_reader"], k["stepup_device"], [inp["msg_device_1"], inp["msg_device_2"]])
    # The step-up ENVELOPE as the public reader sends it: the DeviceRequest (text keys) for
    # "aliro-a" and "aliro-r", sealed as the reader's first step-up message.
    req = A.device_request([A.DOCTYPE_ACCESS, A.DOCTYPE_REVOCATION])
    out["envelope_request_plain"] = hx(req)
    sealed = A.Channel(k["stepup_reader"], k["stepup_device"]).seal(True, req)
    out["envelope_command"] = hx(A.envelope(A.tlv(0x53, cbor2.dumps({"data": sealed}))))

    # Fast transaction.
    f_r = A.private_from_scalar(inp["fast_reader_eph_d"])
    f_d = A.private_from_scalar(inp["fast_device_eph_d"])
    out["fast_reader_eph_point"] = hx(A.point(f_r))
    out["fast_device_eph_point"] = hx(A.point(f_d))
    fctx = A.Context(ctx.reader_key_x, ctx.reader_id, ctx.version, A.xcoord(f_r), A.xcoord(f_d),
                     bytes.fromhex(inp["fast_tx_id"]), int(inp["fast_flags"], 16), int(inp["fast_policy"], 16),
                     ctx.fci_a5)
    out["salt_fast"] = hx(fctx.salt(A.LABEL_FAST, A.xcoord(endpoint)))
    fk = A.derive_fast(fctx, kp, A.xcoord(endpoint))
    out["fast_okm"] = hx(fk["okm"])
    out["fast_cryptogram_key"] = hx(fk["cryptogram"])
    for name in ("exchange_reader", "exchange_device", "ble_material", "uwb_ranging", "ble_reader", "ble_device"):
        out["fast_" + name] = hx(fk[name])
    cg = A.cryptogram_seal(fk["cryptogram"], bytes.fromhex(inp["cryptogram_plain"]))
    assert len(cg) == 64
    out["cryptogram"] = hx(cg)
    out["fast_auth0_response"] = hx(A.tlv(0x86, A.point(f_d)) + A.tlv(0x9D, cg)) + "9000"
    assert A.cryptogram_open(fk["cryptogram"], cg)["issued_at"] == b"2026-12-08T10:00:00Z"
    channel("fast_exchange", fk["exchange_reader"], fk["exchange_device"],
            [inp["msg_device_1"], inp["msg_device_2"]])
    return out


# BER-TLV cases both parsers must agree on: ok -> [[tag hex, value hex], ...], else error.
TLV_CASES = [
    ("one object", "5c020100", [["5c", "0100"]]),
    ("two-byte tag", "7f6604020200ff", [["7f66", "020200ff"]]),
    ("empty value", "8c00", [["8c", ""]]),
    ("length 81", "53" + "8180" + "00" * 128, [["53", "00" * 128]]),
    ("length 82", "53" + "820100" + "00" * 256, [["53", "00" * 256]]),
    ("sequence", "410101420101", [["41", "01"], ["42", "01"]]),
    ("value truncated", "5c030100", None),
    ("length missing", "5c", None),
    ("length 81 truncated", "5381", None),
    ("length 82 truncated", "538201", None),
    ("length 83 (3-byte length) unsupported", "5383000001" + "00", None),
    ("indefinite length", "5380", None),
    ("tag of 3 bytes", "5f8101" + "0100", None),
    ("two-byte tag truncated", "7f", None),
    ("trailing byte", "5c02010000", None),
]


def tlv_vectors():
    out = []
    for name, data, want in TLV_CASES:
        try:
            got = [[("%02x" % o.tag) if o.tag <= 0xFF else ("%04x" % o.tag), o.value.hex()]
                   for o in A.tlv_parse(bytes.fromhex(data))]
        except A.AliroError:
            got = None
        assert got == want, (name, got)
        out.append({"name": name, "input": data, "objects": want})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "vectors", "aliro", "kat.json")))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    doc = {"description": "Aliro 1.0 key schedule and secure channel known answers; "
                          "see tests/vectors/aliro/README.md",
           "generator": "tests/interop/aliro/kat.py",
           "inputs": INPUTS, "outputs": compute(INPUTS), "tlv": tlv_vectors()}
    text = json.dumps(doc, indent=2) + "\n"
    if a.check:
        with open(a.out) as f:
            if f.read() != text:
                print("kat.py: %s differs from the recomputed vectors" % a.out, file=sys.stderr)
                return 1
        print("kat.py: %s matches" % a.out)
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print("kat.py: wrote %s (%d outputs)" % (a.out, len(doc["outputs"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
