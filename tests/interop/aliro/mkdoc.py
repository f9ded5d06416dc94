#!/usr/bin/python3
"""Builds an access ("aliro-a") or revocation ("aliro-r") Document, profile tessera-hotel-1,
signed (COSE_Sign1 ES256) with an issuer key — for the Python self-check only.

  mkdoc.py access --issuer-key ISS.pem --endpoint-key EP.pem --group-id HEX16 --rooms 101,102 \\
                  --valid-from T --valid-until T [--signed T] [--key-id HEX16] [--schedule 600-720,...] \\
                  --out DOC.cbor
  mkdoc.py revocation --issuer-key ISS.pem --group-id HEX16 --revoke KEYID[,KEYID...] \\
                  --version T --out DOC.cbor

Times are epoch seconds or YYYY-MM-DDTHH:MM:SSZ. Prints the key id (access) on stdout.
"""
import argparse
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aliro as A  # noqa: E402


def epoch(s):
    return int(s) if str(s).isdigit() else A.parse_tdate(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("access", "revocation"))
    ap.add_argument("--issuer-key", required=True)
    ap.add_argument("--group-id", required=True)
    ap.add_argument("--endpoint-key")
    ap.add_argument("--rooms", default="101")
    ap.add_argument("--key-id")
    ap.add_argument("--schedule", help="daily windows FROM-UNTIL in minutes of the day, comma separated")
    ap.add_argument("--valid-from")
    ap.add_argument("--valid-until")
    ap.add_argument("--signed")
    ap.add_argument("--revoke", default="")
    ap.add_argument("--version")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    issuer = A.load_private_pem(a.issuer_key)
    gid = bytes.fromhex(a.group_id)
    if len(gid) != 16:
        ap.error("--group-id is 16 bytes")
    if a.kind == "access":
        if not (a.endpoint_key and a.valid_from and a.valid_until):
            ap.error("access needs --endpoint-key, --valid-from and --valid-until")
        ep = A.load_public_any(a.endpoint_key)
        kid = bytes.fromhex(a.key_id) if a.key_id else hashlib.sha256(b"key id" + A.point(ep)).digest()[:16]
        element2 = {0: 1, 1: kid, 2: [{0: gid, 1: [r for r in a.rooms.split(",") if r]}]}
        if a.schedule:
            element2[3] = [{0: int(w.split("-")[0]), 1: int(w.split("-")[1])} for w in a.schedule.split(",")]
        vf, vu = epoch(a.valid_from), epoch(a.valid_until)
        doc = A.make_document(issuer, A.DOCTYPE_ACCESS, element2, epoch(a.signed) if a.signed else vf, vf, vu,
                              device_pub=ep, random_seed=kid)
        print(kid.hex())
    else:
        if not a.version:
            ap.error("revocation needs --version")
        v = epoch(a.version)
        keys = [bytes.fromhex(k) for k in a.revoke.split(",") if k]
        element2 = {0: 1, 1: gid, 2: keys}
        doc = A.make_document(issuer, A.DOCTYPE_REVOCATION, element2, v, v, v + 10 * 365 * 86400,
                              random_seed=str(v).encode())
    with open(a.out, "wb") as f:
        f.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
