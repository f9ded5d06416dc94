#!/usr/bin/python3
"""Unit checks of aliro.py (no PC/SC needed): each check of the module broken on purpose.

    /usr/bin/python3 tests/interop/aliro/test_aliro.py
"""
import os
import sys
import unittest

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aliro as A  # noqa: E402


class TlvTest(unittest.TestCase):
    def test_roundtrip_lengths(self):
        for n in (0, 1, 127, 128, 255, 256, 65535):
            objs = A.tlv_parse(A.tlv(0x53, bytes(n)) + A.tlv(0x7F66, b"\x01"))
            self.assertEqual([(o.tag, len(o.value)) for o in objs], [(0x53, n), (0x7F66, 1)])

    def test_refusals(self):
        for bad in ("5c030100", "5c", "5381", "5380", "538200ff" + "00" * 255, "538120" + "00" * 32,
                    "5f810101", "7f", "5c0201", "00020000", "ff00"):
            with self.assertRaises(A.AliroError, msg=bad):
                A.tlv_parse(bytes.fromhex(bad))

    def test_max_objects(self):
        with self.assertRaises(A.AliroError):
            A.tlv_parse(bytes.fromhex("4100" * 5), max_objects=4)

    def test_require(self):
        objs = A.tlv_parse(bytes.fromhex("410101410100"))
        with self.assertRaises(A.AliroError):
            A.tlv_require(objs, 0x41, 1)  # repeated
        with self.assertRaises(A.AliroError):
            A.tlv_require(objs, 0x42)  # missing
        with self.assertRaises(A.AliroError):
            A.tlv_require(A.tlv_parse(bytes.fromhex("410101")), 0x41, 2)  # wrong length


class ApduTest(unittest.TestCase):
    def test_cases(self):
        self.assertEqual(A.apdu_parse(bytes.fromhex("00A4040009A000000909ACCE550100"))[4:],
                         (A.AID_PRIMARY, 256))
        self.assertEqual(A.apdu_parse(bytes.fromhex("80800000024100"))[4:], (b"\x41\x00", None))
        self.assertEqual(A.apdu_parse(bytes.fromhex("00C0000010"))[4:], (b"", 16))
        for bad in ("00A404", "80800000034100", "808000000000", "80800000000002aa"):
            with self.assertRaises(A.AliroError, msg=bad):
                A.apdu_parse(bytes.fromhex(bad))


class ChannelTest(unittest.TestCase):
    def setUp(self):
        self.r = A.Channel(b"\x01" * 32, b"\x02" * 32)
        self.d = A.Channel(b"\x01" * 32, b"\x02" * 32)

    def test_in_order(self):
        c1, c2 = self.r.seal(True, b"one"), self.r.seal(True, b"two")
        self.assertEqual(self.d.open(True, c1), b"one")
        self.assertEqual(self.d.open(True, c2), b"two")

    def test_reordered_and_replayed(self):
        c1, c2 = self.r.seal(True, b"one"), self.r.seal(True, b"two")
        with self.assertRaises(A.AliroError):
            self.d.open(True, c2)  # counter 1 expected
        self.assertEqual(self.d.open(True, c1), b"one")  # the failure moved no counter
        with self.assertRaises(A.AliroError):
            self.d.open(True, c1)  # replay

    def test_reflected(self):
        c = self.d.seal(False, b"answer")
        with self.assertRaises(A.AliroError):
            self.d.open(True, c)

    def test_altered(self):
        c = bytearray(self.r.seal(True, b"one"))
        c[0] ^= 1
        with self.assertRaises(A.AliroError):
            self.d.open(True, bytes(c))


class KeyScheduleTest(unittest.TestCase):
    def ctx(self, **kw):
        args = dict(reader_key_x=bytes(32), reader_id=bytes(32), version=A.VERSION_1_0, reader_eph_x=bytes(32),
                    device_eph_x=bytes(32), tx_id=bytes(16), flags=1, policy=1, fci_a5=A.fci_template())
        args.update(kw)
        return A.Context(**args)

    def test_every_salt_input_matters(self):
        base = A.derive_standard(self.ctx(), bytes(32))["okm"]
        for kw in (dict(reader_key_x=b"\x01" * 32), dict(reader_id=b"\x01" * 32), dict(version=b"\x00\x09"),
                   dict(reader_eph_x=b"\x01" * 32), dict(device_eph_x=b"\x01" * 32), dict(tx_id=b"\x01" * 16),
                   dict(flags=0), dict(policy=0), dict(fci_a5=A.fci_template(max_cmd=0x0100)),
                   dict(interface=0xC3)):
            self.assertNotEqual(A.derive_standard(self.ctx(**kw), bytes(32))["okm"], base, kw)

    def test_lengths_checked(self):
        with self.assertRaises(A.AliroError):
            self.ctx(tx_id=bytes(15))

    def test_cryptogram(self):
        k = A.derive_fast(self.ctx(), b"\x05" * 32, b"\x06" * 32)
        cg = A.cryptogram_seal(k["cryptogram"], A.cryptogram_plain(1, b"2026-01-01T00:00:00Z", A.ZERO_TIMESTAMP))
        self.assertEqual(A.cryptogram_open(k["cryptogram"], cg)["signaling"], 1)
        other = A.derive_fast(self.ctx(), b"\x07" * 32, b"\x06" * 32)
        self.assertIsNone(A.cryptogram_open(other["cryptogram"], cg))


class DocumentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.issuer = ec.generate_private_key(ec.SECP256R1())
        cls.device = ec.generate_private_key(ec.SECP256R1())
        cls.e2 = {0: 1, 1: b"\x11" * 16, 2: [{0: b"\x22" * 16, 1: ["101"]}]}
        cls.doc = A.make_document(cls.issuer, A.DOCTYPE_ACCESS, cls.e2, 1000, 1000, 2000,
                                  device_pub=cls.device.public_key())

    def verify(self, raw, issuer=None, dt=A.DOCTYPE_ACCESS):
        return A.verify_document(cbor2.loads(raw), (issuer or self.issuer).public_key(), dt)

    def test_good(self):
        v = self.verify(self.doc)
        self.assertEqual(v["device_key"], A.point(self.device))
        self.assertEqual((v["signed"], v["valid_from"], v["valid_until"]), (1000, 1000, 2000))
        self.assertEqual(A.parse_access_data(v["elements"]["element2"])["rules"], [(b"\x22" * 16, ["101"])])

    def test_element_tampered(self):
        raw = self.doc.replace(b"\x63101", b"\x63102")  # the room in the IssuerSignedItem
        self.assertNotEqual(raw, self.doc)
        with self.assertRaisesRegex(A.AliroError, "digest"):
            self.verify(raw)

    def test_other_issuer(self):
        with self.assertRaisesRegex(A.AliroError, "issuerAuth"):
            self.verify(self.doc, issuer=ec.generate_private_key(ec.SECP256R1()))

    def test_signature_tampered(self):
        d = cbor2.loads(self.doc)
        d[1][2][3] = bytes(64)
        with self.assertRaisesRegex(A.AliroError, "signature"):
            A.verify_document(d, self.issuer.public_key(), A.DOCTYPE_ACCESS)

    def test_doctype(self):
        with self.assertRaisesRegex(A.AliroError, "docType"):
            self.verify(self.doc, dt=A.DOCTYPE_REVOCATION)

    def test_device_request_roundtrip(self):
        reqs = A.parse_device_request(A.device_request([A.DOCTYPE_ACCESS, A.DOCTYPE_REVOCATION]))
        self.assertEqual([d for d, _ in reqs], [A.DOCTYPE_ACCESS, A.DOCTYPE_REVOCATION])
        int_keys = cbor2.dumps({1: "1.0", 2: [{1: cbor2.CBORTag(24, cbor2.dumps({1: {"aliro-a": {"element2": True}},
                                                                                 5: "aliro-a"}))}]})
        self.assertEqual(A.parse_device_request(int_keys)[0][0], A.DOCTYPE_ACCESS)
        with self.assertRaises(A.AliroError):
            A.parse_device_request(cbor2.dumps({"1": "2.0", "2": []}))

    def test_access_data(self):
        for bad in ({0: 2, 1: b"\x11" * 16, 2: [{0: b"\x22" * 16, 1: []}]},
                    {0: 1, 1: b"\x11" * 15, 2: [{0: b"\x22" * 16, 1: []}]},
                    {0: 1, 1: b"\x11" * 16, 2: []},
                    {0: 1, 1: b"\x11" * 16, 2: [{0: b"\x22" * 16, 1: []}], 3: [{0: 700, 1: 600}]}):
            with self.assertRaises(A.AliroError, msg=bad):
                A.parse_access_data(bad)


if __name__ == "__main__":
    unittest.main()
