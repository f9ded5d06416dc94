#!/usr/bin/python3
"""Independent Aliro 1.0 PHONE (the device / endpoint), playing a card through vpcd.

Connects to vpcd (127.0.0.1:35963; frames are a 2-byte big-endian length and a payload;
1-byte payloads are control codes: 00 power off, 01 power on, 02 reset, 04 get ATR) and
answers the primary and step-up applets: SELECT, AUTH0, AUTH1, ENVELOPE, EXCHANGE,
CONTROL FLOW, GET RESPONSE. Prints one JSON line when the transaction ends:
    {"reader_status": "0101"|..., "flow": "fast"|"standard"|"step-up"|null, "events": [...]}
Exit 0 after a transaction, 2 on transport errors or timeout. See README.md.
"""
import argparse
import json
import os
import socket
import struct
import sys
import time

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aliro as A  # noqa: E402

ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
SW_OK = b"\x90\x00"
SW_SECURITY = b"\x69\x82"   # security status not satisfied (bad signature, channel failure)
SW_CONDITIONS = b"\x69\x85"  # conditions of use not satisfied (wrong state)
SW_DATA = b"\x6A\x80"        # incorrect data
SW_NOT_FOUND = b"\x6A\x82"   # applet not found
SW_INS = b"\x6D\x00"
LINGER = 3.0  # seconds the card stays after its transaction (--once) waiting for power-off


def log(msg):
    print("aliro_phone: " + msg, file=sys.stderr, flush=True)


def doc_signed_time(doc_bytes):
    """The MSO's 'signed' time of a Document (for tags 91/92), as 20 ASCII bytes."""
    doc = cbor2.loads(doc_bytes)
    ia = doc[1][2]
    mso = cbor2.loads(cbor2.loads(ia[2]).value)
    return A.tdate(int(mso[6][1].timestamp())).encode()


class Phone:
    def __init__(self, args):
        self.endpoint = A.load_private_pem(args.endpoint_key)
        self.endpoint_point = A.point(self.endpoint)
        self.reader_pub = A.load_public_any(args.reader_key)
        self.group_id = bytes.fromhex(args.group_id)
        if len(self.group_id) != 16:
            raise A.AliroError("--group-id must be 16 bytes")
        self.state_path = args.state
        self.state = {"persistent": {}}
        if args.state and os.path.exists(args.state):
            with open(args.state) as f:
                self.state = json.load(f)
            self.state.setdefault("persistent", {})
        self.docs = {}
        if args.access_doc:
            with open(args.access_doc, "rb") as f:
                self.docs[A.DOCTYPE_ACCESS] = f.read()
        if args.revocation_doc:
            with open(args.revocation_doc, "rb") as f:
                self.docs[A.DOCTYPE_REVOCATION] = f.read()
        self.issued_at = A.timestamp_bytes(args.issued_at) if args.issued_at else (
            doc_signed_time(self.docs[A.DOCTYPE_ACCESS]) if A.DOCTYPE_ACCESS in self.docs else A.ZERO_TIMESTAMP)
        self.revoked_at = A.timestamp_bytes(args.revoked_at) if args.revoked_at else (
            doc_signed_time(self.docs[A.DOCTYPE_REVOCATION]) if A.DOCTYPE_REVOCATION in self.docs
            else A.ZERO_TIMESTAMP)
        self.signaling = (A.SIG_ACCESS_DOC if A.DOCTYPE_ACCESS in self.docs else 0) | (
            A.SIG_REVOCATION_DOC if A.DOCTYPE_REVOCATION in self.docs else 0)
        self.fci_a5 = A.fci_template()
        self.events = []
        self.reader_status = None
        self.flow = None
        self.done = False
        self.started = False
        self.reset()

    # -------------------------------------------------------------- state

    def reset(self):
        self.applet = None
        self.ctx = None
        self.eph = None
        self.exchange_ch = None
        self.stepup_ch = None
        self.stepup_used = False  # step-up applet selected or ENVELOPE served
        self.auth1_done = False
        self.pending = b""

    def save_state(self):
        if not self.state_path:
            return
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f, indent=1)
        os.replace(tmp, self.state_path)

    def end(self, why):
        self.events.append(why)
        self.done = True

    # -------------------------------------------------------------- APDU dispatch

    def handle(self, raw):
        try:
            cla, ins, p1, p2, data, le = A.apdu_parse(raw)
        except A.AliroError as e:
            log(str(e))
            return b"\x67\x00"
        if ins == 0xC0:
            return self.get_response(le)
        self.pending = b""
        try:
            if ins == 0xA4 and p1 == 0x04:
                body, sw = self.select(data)
            elif self.applet is None:
                body, sw = b"", SW_CONDITIONS
            elif ins == 0x80 and cla == 0x80:
                body, sw = self.auth0(data)
            elif ins == 0x81 and cla == 0x80:
                body, sw = self.auth1(data)
            elif ins == 0xC3:
                body, sw = self.envelope(data)
            elif ins == 0xC9 and cla == 0x80:
                body, sw = self.exchange(data)
            elif ins == 0x3C and cla == 0x80:
                body, sw = self.control_flow(data)
            elif ins == 0xD1:
                body, sw = b"", SW_INS  # LOAD CERTIFICATE: not supported by this phone
            else:
                body, sw = b"", SW_INS
        except A.AliroError as e:
            log("%02X: %s" % (ins, e))
            self.events.append("error-%02x" % ins)
            body, sw = b"", SW_DATA
        except Exception as e:  # e.g. malformed CBOR inside a request: refuse, stay up
            log("%02X: %s: %s" % (ins, type(e).__name__, e))
            self.events.append("error-%02x" % ins)
            body, sw = b"", b"\x6F\x00"
        if sw != SW_OK:
            return body + sw
        return self.chunk(body, le)

    def chunk(self, body, le):
        limit = le or 256
        if len(body) <= limit:
            return body + SW_OK
        self.pending = body[limit:]
        return body[:limit] + bytes([0x61, len(self.pending) if len(self.pending) < 256 else 0])

    def get_response(self, le):
        if not self.pending:
            return SW_CONDITIONS
        self.events.append("get-response")
        body, self.pending = self.pending, b""
        return self.chunk(body, le)

    # -------------------------------------------------------------- commands

    def select(self, aid):
        if aid == A.AID_PRIMARY:
            self.reset()
            self.applet = "primary"
            self.events.append("select-primary")
            return A.fci(A.AID_PRIMARY, self.fci_a5), SW_OK
        if aid == A.AID_STEPUP:
            self.applet = "stepup"
            self.stepup_used = True
            self.events.append("select-stepup")
            return A.fci(A.AID_STEPUP, self.fci_a5), SW_OK
        return b"", SW_NOT_FOUND

    def auth0(self, data):
        if self.applet != "primary" or self.ctx is not None:
            return b"", SW_CONDITIONS
        objs = A.tlv_parse(data, 8)
        flags = A.tlv_require(objs, 0x41, 1, "AUTH0")[0]
        policy = A.tlv_require(objs, 0x42, 1, "AUTH0")[0]
        version = A.tlv_require(objs, 0x5C, 2, "AUTH0")
        reader_eph = A.load_point(A.tlv_require(objs, 0x87, 65, "AUTH0"))
        tx_id = A.tlv_require(objs, 0x4C, 16, "AUTH0")
        reader_id = A.tlv_require(objs, 0x4D, 32, "AUTH0")
        if flags not in (A.FLAG_STANDARD, A.FLAG_FAST) or version != A.VERSION_1_0:
            return b"", SW_DATA
        self.started = True
        self.eph = ec.generate_private_key(ec.SECP256R1())
        self.reader_eph = reader_eph
        self.ctx = A.Context(A.xcoord(self.reader_pub), reader_id, version, A.xcoord(reader_eph),
                             A.xcoord(self.eph), tx_id, flags, policy, self.fci_a5)
        out = A.tlv(0x86, A.point(self.eph))
        if flags == A.FLAG_FAST:
            kp = self.state["persistent"].get(reader_id.hex())
            if kp is not None:
                keys = A.derive_fast(self.ctx, bytes.fromhex(kp), A.xcoord(self.endpoint))
                cg = A.cryptogram_seal(keys["cryptogram"],
                                       A.cryptogram_plain(self.signaling, self.issued_at, self.revoked_at))
                self.exchange_ch = A.Channel(keys["exchange_reader"], keys["exchange_device"])
                self.events.append("auth0-fast")
            else:
                cg = os.urandom(64)  # indistinguishable from a cryptogram
                self.events.append("auth0-no-key")
            out += A.tlv(0x9D, cg)
        else:
            self.events.append("auth0-standard")
        return out, SW_OK

    def auth1(self, data):
        if self.applet != "primary" or self.ctx is None or self.auth1_done:
            return b"", SW_CONDITIONS
        objs = A.tlv_parse(data, 4)
        want_key = A.tlv_require(objs, 0x41, 1, "AUTH1")[0]
        sig = A.tlv_require(objs, 0x9E, 64, "AUTH1")
        if want_key not in (0, 1):
            return b"", SW_DATA
        if self.ctx.reader_id[:16] != self.group_id or not A.verify_raw(
                self.reader_pub, sig, self.ctx.auth_input(False)):
            # Nothing about the endpoint is revealed; the transaction is over.
            self.events.append("auth1-refused")
            self.exchange_ch = self.stepup_ch = None
            self.auth1_done = True  # no second attempt in this transaction
            return b"", SW_SECURITY
        z = A.ecdh(self.eph, self.reader_eph)
        keys = A.derive_standard(self.ctx, z)
        self.exchange_ch = A.Channel(keys["exchange_reader"], keys["exchange_device"])
        self.stepup_ch = A.Channel(keys["stepup_reader"], keys["stepup_device"])
        ds = A.sign_raw(self.endpoint, self.ctx.auth_input(True))
        ident = A.tlv(0x5A, self.endpoint_point) if want_key else A.tlv(0x4E, self.endpoint_point[1:9])
        plain = (ident + A.tlv(0x9E, ds) + A.tlv(0x5E, self.signaling.to_bytes(2, "big")) +
                 A.tlv(0x91, self.issued_at) + A.tlv(0x92, self.revoked_at))
        kp = A.derive_persistent(self.ctx, keys["kdh"], A.xcoord(self.endpoint))
        self.state["persistent"][self.ctx.reader_id.hex()] = kp.hex()
        self.save_state()
        self.auth1_done = True
        self.flow = "standard"
        self.events.append("auth1-ok")
        return self.exchange_ch.seal(False, plain), SW_OK

    def envelope(self, data):
        # The signaling bitmap does not set "step-up SELECT required", so, as the public
        # reader expects, ENVELOPE is also answered without selecting the step-up applet.
        if self.stepup_ch is None:
            return b"", SW_CONDITIONS
        objs = A.tlv_parse(data, 1)
        if len(objs) != 1 or objs[0].tag != 0x53:
            raise A.AliroError("ENVELOPE: data is not one 53 object")
        try:
            sd = cbor2.loads(objs[0].value)
        except Exception as e:
            raise A.AliroError("ENVELOPE: not CBOR (%s)" % e)
        if not isinstance(sd, dict) or set(sd) != {"data"} or not isinstance(sd["data"], bytes):
            raise A.AliroError("ENVELOPE: not {\"data\": bstr}")
        try:
            plain = self.stepup_ch.open(True, sd["data"])
        except A.AliroError as e:
            log(str(e))
            self.events.append("envelope-refused")
            return b"", SW_SECURITY
        reqs = A.parse_device_request(plain)
        docs = [self.docs[dt] for dt, _ in reqs if dt in self.docs]
        self.events.append("envelope:" + ",".join(dt for dt, _ in reqs))
        resp = A.device_response(docs)
        ct = self.stepup_ch.seal(False, resp)
        self.stepup_used = True
        self.flow = "step-up"
        return A.tlv(0x53, cbor2.dumps({"data": ct})), SW_OK

    def exchange(self, data):
        if self.exchange_ch is None:
            return b"", SW_CONDITIONS
        if not data:
            return b"", SW_SECURITY  # an empty command would authenticate nothing
        # After step-up the public reader continues on the step-up channel; otherwise (and
        # as a fallback) the exchange channel. A failed open does not move a counter.
        chans = [self.stepup_ch, self.exchange_ch] if self.stepup_used and self.stepup_ch else [self.exchange_ch]
        for ch in chans:
            try:
                plain = ch.open(True, data)
                break
            except A.AliroError:
                continue
        else:
            log("EXCHANGE: the command does not authenticate on any channel")
            self.events.append("exchange-refused")
            return b"", SW_SECURITY
        objs = A.tlv_parse(plain, 8)
        st = A.tlv_find(objs, 0x97)
        if st is not None:
            if len(st.value) != 2:
                raise A.AliroError("EXCHANGE: 97 of %d bytes" % len(st.value))
            self.reader_status = st.value.hex()
            if self.flow is None:
                self.flow = "fast"
        out = ch.seal(False, b"\x00\x02\x00\x00")
        if st is not None:
            self.end("exchange-status")
        return out, SW_OK

    def control_flow(self, data):
        objs = A.tlv_parse(data, 4)
        s1 = A.tlv_find(objs, 0x41)
        s2 = A.tlv_find(objs, 0x42)
        self.events.append("control-flow:" + data.hex())
        if s1 is not None and s2 is not None and self.reader_status is None:
            self.reader_status = (s1.value + s2.value).hex()
        self.end("control-flow")
        return b"", SW_OK


# ------------------------------------------------------------------ vpcd transport

def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("vpcd closed the connection")
        buf += part
    return buf


def send_frame(sock, payload):
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def serve(phone, host, port, once, deadline):
    sock = None
    while sock is None:
        try:
            sock = socket.create_connection((host, port), timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("vpcd not reachable at %s:%d" % (host, port))
            time.sleep(0.2)
    log("connected to vpcd %s:%d" % (host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # With --once, after the transaction the card stays in the field until the reader powers
    # it down (or LINGER seconds pass), so that vpcd sees a clean removal before the next tap.
    linger_until = None
    try:
        while True:
            now = time.monotonic()
            if once and phone.done and linger_until is None:
                linger_until = now + LINGER
            end = min(deadline, linger_until) if linger_until is not None else deadline
            if end - now <= 0:
                if linger_until is not None:
                    return
                raise TimeoutError("timeout")
            sock.settimeout(end - now)
            try:
                n = struct.unpack(">H", recv_exact(sock, 2))[0]
            except (socket.timeout, ConnectionError):
                if linger_until is not None:
                    return
                raise
            payload = recv_exact(sock, n)
            if n == 1:
                code = payload[0]
                if code == 0x04:
                    send_frame(sock, ATR)
                elif code in (0x00, 0x02):
                    if phone.started and not phone.done:
                        phone.end("power-off" if code == 0 else "reset")
                    phone.reset()
                    if once and phone.done:
                        return
                continue
            send_frame(sock, phone.handle(payload))
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint-key", required=True, help="PEM, the endpoint's P-256 private key")
    ap.add_argument("--reader-key", required=True, help="the reader group's PUBLIC key: PEM file or hex point")
    ap.add_argument("--group-id", required=True, help="reader group identifier, 16 bytes hex")
    ap.add_argument("--state", help="JSON file of persistent keys per reader id (created/updated)")
    ap.add_argument("--access-doc", help="Document CBOR bytes returned for aliro-a")
    ap.add_argument("--revocation-doc", help="Document CBOR bytes returned for aliro-r")
    ap.add_argument("--issued-at", help="tag 91: epoch seconds or YYYY-MM-DDTHH:MM:SSZ (default: the "
                                        "access document's signed time, else zeros)")
    ap.add_argument("--revoked-at", help="tag 92 (default: the revocation document's signed time, else zeros)")
    ap.add_argument("--once", action="store_true", help="serve one transaction, then exit")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=35963)
    args = ap.parse_args()
    try:
        phone = Phone(args)
    except Exception as e:  # unreadable keys, documents or state
        print("aliro_phone: %s" % e, file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.timeout
    rc = 0
    try:
        serve(phone, args.host, args.port, args.once, deadline)
    except (TimeoutError, ConnectionError, OSError) as e:
        log(str(e))
        rc = 0 if phone.done else 2
    print(json.dumps({"reader_status": phone.reader_status, "flow": phone.flow, "events": phone.events}),
          flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
