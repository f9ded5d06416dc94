#!/usr/bin/python3
"""A stand-in hotel for tests/cli/wallet_keys.sh (no `tessera hotel` needed): reads a wallet's
key request and writes a key package, or writes a revocation document, following the profile
"tessera-hotel-1" (docs/KEYS.md) independently of Tessera's own code (cbor2 + cryptography).

  hotel_package.py init DIR                       issuer and reader keys, group id
  hotel_package.py package DIR REQUEST OUT ROOM NOT_BEFORE NOT_AFTER SIGNED [REVOCATION]
  hotel_package.py revoke DIR OUT VERSION [REQUEST_OF_KEY ...]   (key ids: see key_id())
Times are Unix seconds. The key id of a package is SHA-256(endpoint key)[:16], so a
revocation can name a key by its request.
"""
import datetime
import hashlib
import os
import sys

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def point(pub):
    return pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def tdate(t):
    s = datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return cbor2.CBORTag(0, s)


def load(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def sign_doc(issuer, doctype, data, signed, valid_from, valid_until, device_key=None):
    item = cbor2.dumps({1: 0, 2: os.urandom(16), 3: "element2", 4: data})
    wrapped = cbor2.CBORTag(24, item)
    digest = hashlib.sha256(cbor2.dumps(wrapped)).digest()
    mso = {1: "1.0", 2: "SHA-256", 3: {doctype: {0: digest}}}
    if device_key is not None:
        mso[4] = {1: {1: 2, -1: 1, -2: device_key[1:33], -3: device_key[33:65]}}
    mso[5] = doctype
    mso[6] = {1: tdate(signed), 2: tdate(valid_from), 3: tdate(valid_until)}
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(mso)))
    protected = cbor2.dumps({1: -7})
    kid = hashlib.sha256(point(issuer.public_key())).digest()[:8]
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(issuer.sign(tbs, ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    doc = {5: doctype, 1: {1: {doctype: [wrapped]}, 2: [protected, {4: kid}, payload, sig]}}
    return cbor2.dumps(doc)


def key_id(endpoint):
    return hashlib.sha256(endpoint).digest()[:16]


def main(a):
    if a[0] == "init":
        os.makedirs(a[1], exist_ok=True)
        for name in ("issuer.pem", "reader.pem"):
            k = ec.generate_private_key(ec.SECP256R1())
            with open(os.path.join(a[1], name), "wb") as f:
                f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        with open(os.path.join(a[1], "group"), "wb") as f:
            f.write(os.urandom(16))
        return 0
    d = a[1]
    issuer, reader = load(d, "issuer.pem"), load(d, "reader.pem")
    with open(os.path.join(d, "group"), "rb") as f:
        group = f.read()
    if a[0] == "package":
        request, out, room = a[2], a[3], a[4]
        nb, na, signed = int(a[5]), int(a[6]), int(a[7])
        with open(request, "rb") as f:
            endpoint = cbor2.loads(f.read())["endpoint_key"]
        data = {0: 1, 1: key_id(endpoint), 2: [{0: group, 1: [room]}]}
        doc = sign_doc(issuer, "aliro-a", data, signed, nb, na, endpoint)
        pkg = {"v": 1, "issuer": "Hotel Aurora", "group_id": group, "reader_key": point(reader.public_key()),
               "issuer_key": point(issuer.public_key()), "document": doc}
        if len(a) > 8:
            with open(a[8], "rb") as f:
                pkg["revocation"] = f.read()
        with open(out, "wb") as f:
            f.write(cbor2.dumps(pkg))
        return 0
    if a[0] == "revoke":
        out, version = a[2], int(a[3])
        keys = []
        for request in a[4:]:
            with open(request, "rb") as f:
                keys.append(key_id(cbor2.loads(f.read())["endpoint_key"]))
        data = {0: 1, 1: group, 2: keys}
        doc = sign_doc(issuer, "aliro-r", data, version, version, version + 315569520)
        with open(out, "wb") as f:
            f.write(doc)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
