#!/usr/bin/python3
"""Independent Aliro 1.0 READER (the lock) over PC/SC (pyscard).

SELECT (FCI check, version 0100) -> AUTH0 (fast flag when endpoints are known; every known
persistent key is tried on the 9D cryptogram) -> AUTH1 when needed (reader signature,
encrypted answer, device signature, persistent key) -> step-up when asked or when the
endpoint is unknown (SELECT step-up, ENVELOPE with the DeviceRequest, issuerAuth, digests,
deviceKeyInfo == the authenticated endpoint key) -> EXCHANGE 97 status.

Prints ONE JSON line: {"result": "unlocked"|"refused"|"attack-accepted", "flow": ..., "endpoint_key": hex,
"reason": ..., "access": {...}, "phone_sw": ...}. Exit 0 unlocked, 1 refused, 2 protocol or
transport error (message on stderr), 3 when an --attack was accepted by the phone.
See README.md.
"""
import argparse
import json
import os
import sys
import time

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aliro as A  # noqa: E402

MAX_ENDPOINTS = 16
MAX_RESPONSE = 65536
ATTACKS = ("wrong-signature", "downgrade-fci", "replay-auth1", "reflect")


class Refused(Exception):
    def __init__(self, reason, status=A.STATUS_FAILURE):
        super().__init__(reason)
        self.reason, self.status = reason, status


class Card:
    """A PC/SC connection; transmit() follows 61xx with GET RESPONSE."""

    def __init__(self, match, deadline):
        from smartcard.System import readers
        from smartcard.Exceptions import CardConnectionException, NoCardException
        while True:
            try:
                rs = [r for r in readers() if match in str(r)]
            except Exception:
                rs = []
            if rs:
                conn = rs[0].createConnection()
                try:
                    conn.connect()
                    self.conn = conn
                    return
                except (NoCardException, CardConnectionException):
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError("no card on a PC/SC reader matching %r" % match)
            time.sleep(0.1)

    def transmit(self, apdu):
        data, sw1, sw2 = self.conn.transmit(list(apdu))
        out = bytes(data)
        rounds = 0
        while sw1 == 0x61:
            rounds += 1
            if rounds > 300 or len(out) > MAX_RESPONSE:
                raise A.AliroError("GET RESPONSE chaining does not end")
            data, sw1, sw2 = self.conn.transmit(list(A.get_response(sw2)))
            out += bytes(data)
        return out, bytes([sw1, sw2])

    def close(self):
        try:
            self.conn.disconnect()
        except Exception:
            pass


def load_state(path):
    st = {"endpoints": [], "revoked": [], "revocation_version": 0}
    if path and os.path.exists(path):
        with open(path) as f:
            st.update(json.load(f))
    return st


def save_state(path, st):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1)
    os.replace(tmp, path)


class Reader:
    def __init__(self, args):
        self.args = args
        self.reader_key = A.load_private_pem(args.reader_key)
        self.group_id = bytes.fromhex(args.group_id)
        self.instance_id = bytes.fromhex(args.instance_id)
        if len(self.group_id) != 16 or len(self.instance_id) != 16:
            raise A.AliroError("--group-id and --instance-id are 16 bytes each")
        self.reader_id = self.group_id + self.instance_id
        self.issuer = A.load_public_any(args.issuer_key) if args.issuer_key else None
        self.state = load_state(args.state)
        self.out = {"result": None, "flow": None, "endpoint_key": None, "reason": None}
        if args.attack:
            self.out["attack"] = args.attack
        self.card = None
        self.channel = None

    # -------------------------------------------------------------- helpers

    def send(self, apdu, what):
        data, sw = self.card.transmit(apdu)
        if what:
            self.out.setdefault("sw", {})[what] = sw.hex()
        return data, sw

    def finish_exchange(self, status):
        """EXCHANGE 97 status on the current channel; checks the device's answer."""
        data, sw = self.send(A.exchange(self.channel.seal(True, A.tlv(0x97, status))), "exchange")
        if sw != b"\x90\x00":
            raise A.AliroError("EXCHANGE answered %s" % sw.hex())
        plain = self.channel.open(False, data)
        if len(plain) < 4 or plain[-4:-2] != b"\x00\x02":
            raise A.AliroError("EXCHANGE answer %s does not end with 0002 status" % plain.hex())
        self.out["exchange_status"] = plain[-2:].hex()

    def control_flow_failure(self):
        try:
            self.send(A.control_flow(0x00, 0x00), "control_flow")
        except Exception as e:  # the phone may be gone already
            print("aliro_reader: CONTROL FLOW: %s" % e, file=sys.stderr)

    def known(self, endpoint_point):
        for e in self.state["endpoints"]:
            if e["public_key"] == endpoint_point.hex():
                return e
        return None

    def remember(self, endpoint_point, kp, access=None):
        e = self.known(endpoint_point)
        if e is None:
            e = {"public_key": endpoint_point.hex()}
        else:
            self.state["endpoints"].remove(e)
        e["persistent_key"] = kp.hex()
        if access is not None:
            e["access"] = access
        self.state["endpoints"].insert(0, e)  # most recently used first
        del self.state["endpoints"][MAX_ENDPOINTS:]

    def decide(self, access):
        """Refused(...) unless the cached or freshly read access allows this door now."""
        if access is None:
            raise Refused("no access document for this endpoint", A.STATUS_NOT_FOUND)
        if access["key_id"] in self.state["revoked"]:
            raise Refused("key %s is revoked" % access["key_id"], A.STATUS_NOT_TRUSTED)
        if not access.get("group_ok"):
            raise Refused("the access document does not name reader group %s" % self.group_id.hex(),
                          A.STATUS_NO_RIGHTS)
        if self.args.room is not None and self.args.room not in access["rooms"]:
            raise Refused("room %s is not in the access document (%s)" % (self.args.room, access["rooms"]),
                          A.STATUS_NO_RIGHTS)
        now = int(self.args.now) if self.args.now else int(time.time())
        sched = access.get("schedule")
        if sched:
            minute = (now % 86400) // 60
            if not any(s[0] <= minute < s[1] for s in sched):
                raise Refused("outside the schedule %s (minute %d UTC)" % (sched, minute), A.STATUS_NO_RIGHTS)
        if now < A.parse_tdate(access["valid_from"]):
            raise Refused("not valid before %s" % access["valid_from"], A.STATUS_EXPIRED)
        if now > A.parse_tdate(access["valid_until"]):
            raise Refused("expired at %s" % access["valid_until"], A.STATUS_EXPIRED)

    def newer_revocation(self, ts):
        """True when the device announces (tag 92) a revocation document newer than ours."""
        if ts == A.ZERO_TIMESTAMP:
            return False
        try:
            t = A.parse_tdate(ts.decode("ascii"))
        except (A.AliroError, UnicodeDecodeError):
            raise A.AliroError("tag 92 is not a timestamp: %s" % ts.hex())
        return t > self.state["revocation_version"]

    # -------------------------------------------------------------- the transaction

    def run(self):
        args = self.args
        deadline = time.monotonic() + args.timeout
        self.card = Card(args.reader_match, deadline)
        fci, sw = self.send(A.select(A.AID_PRIMARY), None)
        if sw != b"\x90\x00":
            raise A.AliroError("SELECT primary answered %s" % sw.hex())
        a5, versions = A.parse_fci(fci, A.AID_PRIMARY)
        if A.VERSION_1_0 not in versions:
            self.send(A.control_flow(0x00, 0x27), "control_flow")
            raise Refused("the device offers no version 0100 (%s)" % [v.hex() for v in versions])
        a5_kdf = a5
        if args.attack == "downgrade-fci":
            # What a reader fooled into seeing fewer capabilities would feed in.
            a5_kdf = A.tlv(0xA5, A.tlv(0x80, b"\x00\x00") + A.tlv(0x5C, b"\x00\x09\x01\x00"))
        eph = ec.generate_private_key(ec.SECP256R1())
        tx_id = os.urandom(16)
        forced_standard = args.attack in ("wrong-signature", "replay-auth1", "reflect")
        flags = A.FLAG_FAST if (args.flow == "fast" and self.state["endpoints"] and not forced_standard) \
            else A.FLAG_STANDARD
        policy = A.POLICY_USER_DEVICE_SETTING
        auth0 = A.auth0(flags, policy, A.VERSION_1_0, A.point(eph), tx_id, self.reader_id)
        data, sw = self.send(auth0, "auth0")
        if sw != b"\x90\x00":
            raise A.AliroError("AUTH0 answered %s" % sw.hex())
        objs = A.tlv_parse(data, 4)
        dev_eph = A.load_point(A.tlv_require(objs, 0x86, 65, "AUTH0 response"))
        cg = A.tlv_find(objs, 0x9D)
        if flags == A.FLAG_FAST and (cg is None or len(cg.value) != 64):
            raise A.AliroError("AUTH0 response: no 64-byte cryptogram although fast was asked")
        ctx = A.Context(A.xcoord(self.reader_key), self.reader_id, A.VERSION_1_0, A.xcoord(eph),
                        A.xcoord(dev_eph), tx_id, flags, policy, a5_kdf)

        # ---- fast: try every known persistent key
        if flags == A.FLAG_FAST:
            for e in list(self.state["endpoints"]):
                ep = bytes.fromhex(e["public_key"])
                fk = A.derive_fast(ctx, bytes.fromhex(e["persistent_key"]), ep[1:33])
                info = A.cryptogram_open(fk["cryptogram"], cg.value)
                if info is None:
                    continue
                if self.newer_revocation(info["revoked_at"]):
                    # The device holds a newer revocation document: go on to AUTH1 and read it.
                    self.out["fast_declined"] = "newer revocation document announced"
                    break
                self.out.update(flow="fast", endpoint_key=ep.hex())
                self.channel = A.Channel(fk["exchange_reader"], fk["exchange_device"])
                self.remember(ep, bytes.fromhex(e["persistent_key"]))
                self.out["access"] = public_access(e.get("access"))
                try:
                    self.decide(e.get("access"))
                except Refused as r:
                    self.finish_exchange(r.status)
                    raise
                self.finish_exchange(A.STATUS_UNLOCKED)
                return

        # ---- standard: AUTH1
        self.out["flow"] = "standard"
        if args.attack == "wrong-signature":
            other = A.Context(ctx.reader_key_x, ctx.reader_id, ctx.version, ctx.reader_eph_x, ctx.device_eph_x,
                              os.urandom(16), ctx.flags, ctx.policy, ctx.fci_a5)
            auth1 = A.auth1(A.sign_raw(self.reader_key, other.auth_input(False)))
        elif args.attack == "replay-auth1":
            with open(args.record) as f:
                auth1 = bytes.fromhex(json.load(f)["auth1"])
        else:
            auth1 = A.auth1(A.sign_raw(self.reader_key, ctx.auth_input(False)))
        data, sw = self.send(auth1, "auth1")
        if args.record and not args.attack:
            with open(args.record, "w") as f:
                json.dump({"auth0": auth0.hex(), "auth1": auth1.hex(), "auth1_response": data.hex(),
                           "tx_id": tx_id.hex()}, f)
        if sw != b"\x90\x00":
            self.out["phone_sw"] = sw.hex()
            self.control_flow_failure()
            raise Refused("the device refused AUTH1 (%s)" % sw.hex())
        if args.attack in ("wrong-signature", "replay-auth1"):
            self.out["phone_sw"] = sw.hex()
            raise AttackAccepted("the device accepted a bad AUTH1 and answered %d bytes" % len(data))
        z = A.ecdh(eph, dev_eph)
        keys = A.derive_standard(ctx, z)
        self.channel = A.Channel(keys["exchange_reader"], keys["exchange_device"])
        if args.attack == "reflect":
            rdata, rsw = self.send(A.exchange(data), "reflect")
            self.out["phone_sw"] = rsw.hex()
            if rsw == b"\x90\x00":
                raise AttackAccepted("the device accepted its own AUTH1 answer as an EXCHANGE")
            self.control_flow_failure()
            raise Refused("the device refused the reflected message (%s)" % rsw.hex())
        try:
            plain = self.channel.open(False, data)
        except A.AliroError as e:
            if args.attack == "downgrade-fci":
                # Our keys differ from the device's; show that it refuses them too.
                rdata, rsw = self.send(A.exchange(self.channel.seal(True, A.tlv(0x97, A.STATUS_UNLOCKED))),
                                       "exchange")
                self.out["phone_sw"] = rsw.hex()
                if rsw == b"\x90\x00":
                    raise AttackAccepted("the device accepted an EXCHANGE under downgraded keys")
                self.control_flow_failure()
                raise Refused("keys differ after the altered FCI: %s; the device answered %s"
                              % (e, rsw.hex()))
            self.control_flow_failure()
            raise A.AliroError("AUTH1 answer: %s" % e)
        if args.attack == "downgrade-fci":
            raise AttackAccepted("the AUTH1 answer decrypted under a downgraded FCI")
        objs = A.tlv_parse(plain, 8)
        ep = A.tlv_require(objs, 0x5A, 65, "AUTH1 answer")
        dsig = A.tlv_require(objs, 0x9E, 64, "AUTH1 answer")
        signaling = int.from_bytes(A.tlv_require(objs, 0x5E, 2, "AUTH1 answer"), "big")
        A.tlv_require(objs, 0x91, A.TIMESTAMP_LEN, "AUTH1 answer")
        want_revocation = self.newer_revocation(A.tlv_require(objs, 0x92, A.TIMESTAMP_LEN, "AUTH1 answer"))
        ep_pub = A.load_point(ep)
        self.out["endpoint_key"] = ep.hex()
        if not A.verify_raw(ep_pub, dsig, ctx.auth_input(True)):
            self.finish_exchange(A.STATUS_BAD_SIGNATURE)
            raise Refused("the device signature does not verify", A.STATUS_BAD_SIGNATURE)
        kp = A.derive_persistent(ctx, keys["kdh"], ep[1:33])
        entry = self.known(ep)
        if entry is not None and args.flow != "step-up" and not want_revocation:
            self.remember(ep, kp)
            self.out["access"] = public_access(entry.get("access"))
            try:
                self.decide(entry.get("access"))
            except Refused as r:
                self.finish_exchange(r.status)
                raise
            self.finish_exchange(A.STATUS_UNLOCKED)
            return

        # ---- step-up: read the access (and revocation) documents
        self.out["flow"] = "step-up"
        if entry is not None:
            # The device stored this persistent key at AUTH1; keep in step with it whatever
            # the documents say (an unknown endpoint is only remembered once admitted).
            self.remember(ep, kp)
        if self.issuer is None:
            self.finish_exchange(A.STATUS_NOT_FOUND)
            raise Refused("unknown endpoint and no --issuer-key to read its documents", A.STATUS_NOT_FOUND)
        if not args.no_stepup_select:
            sdata, ssw = self.send(A.select(A.AID_STEPUP), "select_stepup")
            if ssw != b"\x90\x00":
                raise A.AliroError("SELECT step-up answered %s" % ssw.hex())
        exchange_channel = self.channel
        self.channel = A.Channel(keys["stepup_reader"], keys["stepup_device"])
        doctypes = [A.DOCTYPE_ACCESS] + (
            [A.DOCTYPE_REVOCATION] if (signaling & A.SIG_REVOCATION_DOC or want_revocation) else [])
        req = cbor2.dumps({"data": self.channel.seal(True, A.device_request(doctypes))})
        edata, esw = self.send(A.envelope(A.tlv(0x53, req)), "envelope")
        if esw != b"\x90\x00":
            raise A.AliroError("ENVELOPE answered %s" % esw.hex())
        eobjs = A.tlv_parse(edata, 1)
        if len(eobjs) != 1 or eobjs[0].tag != 0x53:
            raise A.AliroError("ENVELOPE answer is not one 53 object")
        try:
            wrapped = cbor2.loads(eobjs[0].value)
            ct = wrapped["data"] if isinstance(wrapped, dict) else eobjs[0].value
        except Exception:
            ct = eobjs[0].value  # some devices send the ciphertext without the CBOR wrapper
        resp = cbor2.loads(self.channel.open(False, ct))
        if not isinstance(resp, dict) or resp.get(1) != "1.0" or not isinstance(resp.get(2, []), list):
            raise A.AliroError("DeviceResponse: not {1: \"1.0\", 2: [...]}")
        if resp.get(3) != 0:
            raise A.AliroError("DeviceResponse: status %r" % resp.get(3))
        access = None
        try:
            for doc in resp.get(2, []):
                dt = doc.get(5) if isinstance(doc, dict) else None
                if dt == A.DOCTYPE_REVOCATION:
                    self.learn_revocation(A.verify_document(doc, self.issuer, dt))
                elif dt == A.DOCTYPE_ACCESS:
                    v = A.verify_document(doc, self.issuer, dt)
                    if v["device_key"] != ep:
                        raise Refused("the access document is for another endpoint key", A.STATUS_NOT_TRUSTED)
                    ad = A.parse_access_data(v["elements"].get("element2"))
                    rooms = [r for g, rs in ad["rules"] if g == self.group_id for r in rs]
                    access = {"rooms": rooms, "key_id": ad["key_id"].hex(),
                              "valid_from": A.tdate(v["valid_from"]), "valid_until": A.tdate(v["valid_until"]),
                              "signed": A.tdate(v["signed"]), "schedule": ad["schedule"],
                              "group_ok": any(g == self.group_id for g, _ in ad["rules"])}
                else:
                    raise A.AliroError("DeviceResponse: unexpected document %r" % dt)
            failure = None
        except A.AliroError as e:
            failure = Refused("document check failed: %s" % e, A.STATUS_NOT_TRUSTED)
        except Refused as r:
            failure = r
        if args.exchange_after_stepup == "exchange":
            self.channel = exchange_channel
        if failure is not None:
            self.finish_exchange(failure.status)
            raise failure
        self.out["access"] = public_access(access)
        try:
            self.decide(access)
        except Refused as r:
            self.finish_exchange(r.status)
            raise
        self.remember(ep, kp, access)
        self.finish_exchange(A.STATUS_UNLOCKED)

    def learn_revocation(self, v):
        rd = A.parse_revocation_data(v["elements"].get("element2"))
        if rd["group_id"] != self.group_id:
            return
        if v["signed"] > self.state["revocation_version"]:
            self.state["revocation_version"] = v["signed"]
            self.state["revoked"] = sorted(set(self.state["revoked"]) | {k.hex() for k in rd["key_ids"]})
            self.out["revocation_version"] = A.tdate(v["signed"])


class AttackAccepted(Exception):
    pass


def public_access(a):
    if a is None:
        return None
    return {k: a[k] for k in ("rooms", "key_id", "valid_from", "valid_until")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reader-key", required=True, help="PEM, the reader group's P-256 private key")
    ap.add_argument("--group-id", required=True, help="16 bytes hex")
    ap.add_argument("--instance-id", required=True, help="16 bytes hex")
    ap.add_argument("--flow", choices=("fast", "standard", "step-up"), default="fast",
                    help="fast: try the fast path when endpoints are known; standard: always AUTH1; "
                         "step-up: always read the documents")
    ap.add_argument("--state", help="JSON file of known endpoints (updated after each transaction)")
    ap.add_argument("--issuer-key", help="the issuer's public key (PEM or hex point) for step-up")
    ap.add_argument("--reader-match", default="Virtual PCD", help="PC/SC reader name substring")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--now", help="epoch seconds used for validity checks (default: the clock)")
    ap.add_argument("--room", help="this door's room: the access document must list it for the group")
    ap.add_argument("--no-stepup-select", action="store_true",
                    help="send ENVELOPE without selecting the step-up applet (allowed when 5E bit 2 is clear)")
    ap.add_argument("--exchange-after-stepup", choices=("stepup", "exchange"), default="stepup",
                    help="channel of the final EXCHANGE after step-up (default: step-up, as the public reader)")
    ap.add_argument("--attack", choices=ATTACKS)
    ap.add_argument("--record", help="JSON file: written with the AUTH0/AUTH1 of a normal transaction; "
                                     "read by --attack replay-auth1")
    args = ap.parse_args()
    if args.attack == "replay-auth1" and not args.record:
        ap.error("--attack replay-auth1 needs --record FILE")
    rc = 2
    try:
        r = Reader(args)
    except (A.AliroError, OSError, ValueError) as e:
        print("aliro_reader: %s" % e, file=sys.stderr)
        return 2
    try:
        r.run()
        r.out["result"] = "unlocked"
        rc = 0
    except Refused as e:
        r.out.update(result="refused", reason=e.reason)
        rc = 1
    except AttackAccepted as e:
        r.out.update(result="attack-accepted", reason=str(e))
        rc = 3
    except (A.AliroError, TimeoutError, ValueError, KeyError, cbor2.CBORDecodeError) as e:
        print("aliro_reader: %s" % e, file=sys.stderr)
        r.out.update(result="error", reason=str(e))
        rc = 2
    except Exception as e:  # transport failures from pyscard
        print("aliro_reader: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        r.out.update(result="error", reason="%s: %s" % (type(e).__name__, e))
        rc = 2
    finally:
        if r.card is not None:
            r.card.close()
    if rc in (0, 1):
        save_state(args.state, r.state)
    print(json.dumps(r.out), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
