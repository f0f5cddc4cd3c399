#!/usr/bin/env python3
"""Minimal SIP UAC/UAS and NG client for icegw's end-to-end tests (stdlib only).

The UAC sends every request of its dialog to a proxy (Kamailio), which relays it to the
Request-URI; the UAS answers INVITE with 200 + its own SDP and BYE with 200. Both offer ICE
(a=ice-ufrag, a=ice-pwd, a=candidate) on documentation addresses, so any address in a body
that is neither theirs nor the gateway's stands out. No media is sent, except in "call",
where the SDPs are those of two real ICE endpoints (nicepeer, see test_call.sh) that then do
ICE and exchange RTP through the gateway.

usage: sipua.py basic      --proxy IP:PORT --ng IP:PORT --gw IP --port-min N --port-max N
       sipua.py exhaust    --proxy IP:PORT --ng IP:PORT --gw IP --port-min N --port-max N
       sipua.py failover   --proxy IP:PORT --ng IP:PORT --ng2 IP:PORT --gw IP --port-min N --port-max N
       sipua.py call       --proxy IP:PORT --ng IP:PORT --gw IP --port-min N --port-max N
                           --a-local F --a-remote F --a-out F --b-local F --b-remote F --b-out F
                           [--media-wait S]
       sipua.py ping       --ng IP:PORT
Exit 0 when every check passes, 1 with "FAIL: ..." otherwise.
"""
import argparse
import os
import random
import re
import socket
import sys
import threading
import time

UAC_MEDIA = "192.0.2.10"      # RFC 5737 TEST-NET-1
UAS_MEDIA = "198.51.100.20"   # RFC 5737 TEST-NET-2
WAIT_S = 5.0


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def token(n=10):
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


# ------------------------------------------------------------------ bencode (NG protocol)
def benc(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(type(v))


def bdec(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        out, i = [], i + 1
        while b[i:i + 1] != b"e":
            v, i = bdec(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while b[i:i + 1] != b"e":
            k, i = bdec(b, i)
            v, i = bdec(b, i)
            out[k] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    s = b[j + 1:j + 1 + n]
    check(len(s) == n, "bencode: short string")
    return s.decode(errors="replace"), j + 1 + n


def ng(addr, cmd, **kw):
    """One NG request; the decoded reply dictionary."""
    cookie = token(12)
    req = dict(kw)
    req["command"] = cmd
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    try:
        s.sendto(cookie.encode() + b" " + benc(req), hostport(addr))
        data = s.recv(65535)
    except OSError as e:
        raise Fail("NG %s: no reply from %s (%s)" % (cmd, addr, e or "timeout"))
    finally:
        s.close()
    head, _, body = data.partition(b" ")
    check(head == cookie.encode(), "NG %s: reply cookie %r, sent %r" % (cmd, head, cookie))
    try:
        v, end = bdec(body)
    except (ValueError, IndexError) as e:
        raise Fail("NG %s: reply is not bencode (%s): %r" % (cmd, e, body[:200]))
    check(end == len(body) and isinstance(v, dict), "NG %s: reply is not one dictionary" % cmd)
    return v


# ------------------------------------------------------------------ SDP
def make_sdp(addr, port, ufrag, pwd, sess):
    lines = [
        "v=0",
        "o=- %d 1 IN IP4 %s" % (sess, addr),
        "s=icegw-e2e",
        "c=IN IP4 %s" % addr,
        "t=0 0",
        "a=ice-ufrag:%s" % ufrag,
        "a=ice-pwd:%s" % pwd,
        "m=audio %d RTP/AVP 0 8 101" % port,
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
        "a=candidate:1 1 UDP 2130706431 %s %d typ host" % (addr, port),
        "a=candidate:1 2 UDP 2130706430 %s %d typ host" % (addr, port + 1),
    ]
    return "\r\n".join(lines) + "\r\n"


ICE_ATTRS = ("a=ice-ufrag:", "a=ice-pwd:", "a=candidate:", "a=ice-options:", "a=ice-lite",
             "a=end-of-candidates", "a=rtcp:", "a=rtcp-mux")


def kept_lines(sdp):
    """The lines the gateway must pass through untouched, in order."""
    out = []
    for l in sdp.splitlines():
        if l.startswith(("c=", "m=", "o=")) or l.lower().startswith(ICE_ATTRS):
            continue
        out.append(l)
    return out


def check_rewritten(tag, got, sent, gw, peer_addr, peer_ufrag, peer_pwd, pmin, pmax):
    """got: the body as delivered; sent: what the peer wrote. Returns the gateway's port."""
    lines = got.splitlines()
    check(got.endswith("\r\n") and "\n" not in got.replace("\r\n", ""), "%s: line endings changed" % tag)
    conns = [l for l in lines if l.startswith("c=")]
    check(conns and all(l == "c=IN IP4 %s" % gw for l in conns),
          "%s: c= lines %r do not name the gateway %s" % (tag, conns, gw))
    ms = [l for l in lines if l.startswith("m=")]
    check(len(ms) == 1, "%s: expected one m= line, got %r" % (tag, ms))
    # the port changes; the media type, proto and formats stay as sent
    sent_m = [l for l in sent.splitlines() if l.startswith("m=")][0].split(" ", 2)
    m = re.match(r"%s (\d+) %s$" % (re.escape(sent_m[0]), re.escape(sent_m[2])), ms[0])
    check(m, "%s: m= line %r lost its proto or formats" % (tag, ms[0]))
    port = int(m.group(1))
    check(pmin <= port <= pmax, "%s: m= port %d outside icegw's range %d-%d" % (tag, port, pmin, pmax))
    ufr = [l[len("a=ice-ufrag:"):] for l in lines if l.startswith("a=ice-ufrag:")]
    pwd = [l[len("a=ice-pwd:"):] for l in lines if l.startswith("a=ice-pwd:")]
    check(len(ufr) == 1 and len(pwd) == 1, "%s: want one ice-ufrag and one ice-pwd, got %r %r" % (tag, ufr, pwd))
    check(ufr[0] != peer_ufrag and pwd[0] != peer_pwd, "%s: the peer's ICE credentials leaked through" % tag)
    check(len(ufr[0]) >= 4 and len(pwd[0]) >= 22, "%s: gateway credentials too short (RFC 8839 §5.4)" % tag)
    cands = [l for l in lines if l.startswith("a=candidate:")]
    check(cands, "%s: no candidates" % tag)
    for c in cands:
        f = c.split()
        check(len(f) >= 8 and f[4] == gw and int(f[5]) in (port, port + 1) and f[7] == "host",
              "%s: candidate %r does not point at the gateway's %s:%d" % (tag, c, gw, port))
    o = [l for l in lines if l.startswith("o=")]
    sent_o = [l for l in sent.splitlines() if l.startswith("o=")]
    check(o == sent_o, "%s: o= changed without replace-origin: %r" % (tag, o))
    body_wo_o = "\r\n".join(l for l in lines if not l.startswith("o="))
    check(peer_addr not in body_wo_o, "%s: the peer's address %s is still in the body" % (tag, peer_addr))
    check(kept_lines(got) == kept_lines(sent),
          "%s: pass-through lines changed:\n  sent %r\n  got  %r" % (tag, kept_lines(sent), kept_lines(got)))
    return port


# ------------------------------------------------------------------ SIP
def parse_sip(data):
    text = data.decode(errors="replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    hdrs = []
    for l in lines[1:]:
        if l[:1] in (" ", "\t") and hdrs:
            hdrs[-1] = (hdrs[-1][0], hdrs[-1][1] + " " + l.strip())
        elif ":" in l:
            k, v = l.split(":", 1)
            hdrs.append((k.strip().lower(), v.strip()))
    compact = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
               "c": "content-type"}
    hdrs = [(compact.get(k, k), v) for k, v in hdrs]
    return lines[0], hdrs, body


def hget(hdrs, name):
    for k, v in hdrs:
        if k == name:
            return v
    return None


def hall(hdrs, name):
    return [v for k, v in hdrs if k == name]


def build(first, hdrs, body=""):
    out = [first] + ["%s: %s" % kv for kv in hdrs]
    if body:
        out.append("Content-Type: application/sdp")
    out.append("Content-Length: %d" % len(body.encode()))
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode()


class UAS(threading.Thread):
    """Answers INVITE with 200 and SDP, ACK silently, BYE with 200. Records what it got."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.invites = {}     # call-id -> SDP received
        self.answers = {}     # call-id -> SDP sent
        self.creds = {}       # call-id -> (ufrag, pwd)
        self.acks = set()
        self.byes = set()
        self.stop = False
        self.ring_s = 0.0     # > 0: 180 Ringing at once, the 200 (with the answer) this late;
                              # needs an answerer (the call scenario)
        self.ringing = set()  # call-ids whose 200 is still to come
        self.next_media = 50000
        self.answerer = None  # (call-id, offer) -> (answer SDP, ufrag, pwd); default make_sdp

    def run(self):
        while not self.stop:
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            first, hdrs, body = parse_sip(data)
            method = first.split(" ", 1)[0]
            cid = hget(hdrs, "call-id")
            if method == "ACK":
                self.acks.add(cid)
                continue
            if method not in ("INVITE", "BYE"):
                continue
            to = hget(hdrs, "to")
            if ";tag=" not in to:
                to += ";tag=" + token(8)
            resp = [("Via", v) for v in hall(hdrs, "via")]
            resp += [("From", hget(hdrs, "from")), ("To", to), ("Call-ID", cid), ("CSeq", hget(hdrs, "cseq"))]
            sdp = ""
            if method == "INVITE" and cid in self.ringing:
                # a retransmission while it rings: the 180 again
                self.sock.sendto(build("SIP/2.0 180 Ringing", resp), src)
                continue
            if method == "INVITE" and self.ring_s > 0:
                # a call that rings: 180 without SDP now; the callee's answer (and its ICE
                # agent's start, as RFC 8445 §7.2 has it) comes with the 200, this much later
                self.invites[cid] = body
                resp.append(("Contact", "<sip:uas@127.0.0.1:%d>" % self.port))
                self.sock.sendto(build("SIP/2.0 180 Ringing", resp), src)
                self.ringing.add(cid)

                def pick_up(resp=resp, src=src, cid=cid, body=body):
                    sdp, ufrag, pwd = self.answerer(cid, body)
                    self.creds[cid] = (ufrag, pwd)
                    self.answers[cid] = sdp
                    self.ringing.discard(cid)
                    self.sock.sendto(build("SIP/2.0 200 OK", resp, sdp), src)
                threading.Timer(self.ring_s, pick_up).start()
                continue
            if method == "INVITE":
                self.invites[cid] = body
                resp.append(("Contact", "<sip:uas@127.0.0.1:%d>" % self.port))
                if self.answerer:
                    sdp, ufrag, pwd = self.answerer(cid, body)
                else:
                    ufrag, pwd = token(6), token(24)
                    sdp = make_sdp(UAS_MEDIA, self.next_media, ufrag, pwd, 2000)
                    self.next_media += 2
                self.creds[cid] = (ufrag, pwd)
                self.answers[cid] = sdp
            else:
                self.byes.add(cid)
            self.sock.sendto(build("SIP/2.0 200 OK", resp, sdp), src)


class UAC:
    def __init__(self, proxy, uas_port, sdp=None, ufrag=None, pwd=None):
        self.proxy = hostport(proxy)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.uas_port = uas_port
        self.cid = token(16) + "@icegw-e2e"
        self.ftag = token(8)
        if sdp:
            self.ufrag, self.pwd, self.sdp = ufrag, pwd, sdp
        else:
            self.ufrag, self.pwd = token(6), token(24)
            self.sdp = make_sdp(UAC_MEDIA, 40000, self.ufrag, self.pwd, 1000)
        self.ring_s = 0.0     # how long the callee lets it ring before the 200
        self.to = None
        self.target = None
        self.cseq = 1
        self.node = None      # the NG address of the gateway holding the call

    def _hdrs(self, method, cseq):
        return [("Via", "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport" % (self.port, token(12))),
                ("Max-Forwards", "70"),
                ("From", "<sip:uac@127.0.0.1>;tag=%s" % self.ftag),
                ("To", self.to or "<sip:uas@127.0.0.1:%d>" % self.uas_port),
                ("Call-ID", self.cid),
                ("CSeq", "%d %s" % (cseq, method)),
                ("Contact", "<sip:uac@127.0.0.1:%d>" % self.port)]

    def _final(self, method):
        """Wait for the final response to our request; provisional ones are skipped."""
        deadline = time.monotonic() + WAIT_S + self.ring_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("%s %s: no final response within %.0f s" % (method, self.cid, WAIT_S))
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            first, hdrs, body = parse_sip(data)
            if not first.startswith("SIP/2.0 ") or hget(hdrs, "call-id") != self.cid:
                continue
            if not (hget(hdrs, "cseq") or "").endswith(" " + method):
                continue
            code = int(first.split()[1])
            if code >= 200:
                return code, hdrs, body

    def invite(self):
        uri = "sip:uas@127.0.0.1:%d" % self.uas_port
        self.sock.sendto(build("INVITE %s SIP/2.0" % uri, self._hdrs("INVITE", 1), self.sdp), self.proxy)
        code, hdrs, body = self._final("INVITE")
        if code // 100 == 2:
            self.to = hget(hdrs, "to")
            m = re.search(r"<([^>]+)>", hget(hdrs, "contact") or "")
            check(m, "200 to INVITE without a Contact")
            self.target = m.group(1)
            # ACK for a 2xx is its own transaction, through the proxy like every request here
            self.sock.sendto(build("ACK %s SIP/2.0" % self.target, self._hdrs("ACK", 1)), self.proxy)
        return code, body

    def bye(self):
        self.cseq += 1
        self.sock.sendto(build("BYE %s SIP/2.0" % self.target, self._hdrs("BYE", self.cseq)), self.proxy)
        code, _, _ = self._final("BYE")
        return code


# ------------------------------------------------------------------ scenarios
def wait_for(cond, what):
    deadline = time.monotonic() + WAIT_S
    while not cond():
        if time.monotonic() > deadline:
            raise Fail("timed out waiting for " + what)
        time.sleep(0.05)


def established_call(a, uas):
    """INVITE through the proxy, check both rewritten bodies and the gateway's view."""
    uac = UAC(a.proxy, uas.port)
    code, body = uac.invite()
    check(code == 200, "INVITE: final response %d, wanted 200" % code)
    wait_for(lambda: uac.cid in uas.invites, "the INVITE at the UAS")
    pb = check_rewritten("offer seen by the UAS", uas.invites[uac.cid], uac.sdp, a.gw, UAC_MEDIA,
                         uac.ufrag, uac.pwd, a.port_min, a.port_max)
    ufrag, pwd = uas.creds[uac.cid]
    pa = check_rewritten("answer seen by the UAC", body, uas.answers[uac.cid], a.gw, UAS_MEDIA,
                         ufrag, pwd, a.port_min, a.port_max)
    check(pa != pb, "both sides were given the same gateway port %d" % pa)
    wait_for(lambda: uac.cid in uas.acks, "the ACK at the UAS")
    # exactly one gateway of the set holds the call
    found = []
    for node in a.ngs:
        q = ng(node, "query", **{"call-id": uac.cid})
        if q.get("result") == "ok":
            found.append((node, q))
        else:
            check(q.get("error-reason") == "Unknown call-id", "query at %s: %r" % (node, q))
    check(len(found) == 1, "query after the answer: the call is on %d gateways" % len(found))
    uac.node, q = found[0]
    legs = q.get("legs", [])
    check(len(legs) == 2, "query: %d legs, wanted 2: %r" % (len(legs), legs))
    ports = sorted(l.get("local-port") for l in legs)
    check(ports == sorted([pa, pb]), "query: leg ports %r, SDP ports %r" % (ports, sorted([pa, pb])))
    tags = [l.get("tag") for l in legs]
    check(uac.ftag in tags and len(set(tags)) == 2 and "" not in tags,
          "query: leg tags %r (from-tag %s and a to-tag expected)" % (tags, uac.ftag))
    print("ok: call %s on %s: UAC side %s:%d, UAS side %s:%d, 2 legs" % (uac.cid, uac.node, a.gw, pa, a.gw, pb))
    return uac


def hang_up(a, uas, uac):
    code = uac.bye()
    check(code == 200, "BYE: final response %d, wanted 200" % code)
    wait_for(lambda: uac.cid in uas.byes, "the BYE at the UAS")
    q = ng(uac.node, "query", **{"call-id": uac.cid})
    check(q.get("result") == "error" and q.get("error-reason") == "Unknown call-id",
          "query after BYE: %r" % q)
    print("ok: call %s gone after BYE" % uac.cid)


def sessions(a, node=None):
    st = ng(node or a.ng, "statistics")
    check(st.get("result") == "ok", "statistics: %r" % st)
    return st["statistics"]["currentstatistics"]["sessionsown"]


def scenario_basic(a, uas):
    uac = established_call(a, uas)
    check(sessions(a) == 1, "statistics: sessionsown %d during the call, wanted 1" % sessions(a))
    hang_up(a, uas, uac)
    check(sessions(a) == 0, "statistics: sessionsown %d after BYE, wanted 0" % sessions(a))


def scenario_exhaust(a, uas):
    first = established_call(a, uas)
    second = UAC(a.proxy, uas.port)
    code, _ = second.invite()
    check(code == 503, "second INVITE with the port range used up: %d, wanted 503" % code)
    check(second.cid not in uas.invites, "the refused INVITE still reached the UAS")
    check(ng(a.ng, "ping").get("result") == "pong", "icegw does not answer ping after the refusal")
    check(sessions(a) == 1, "statistics: sessionsown %d after the refusal, wanted 1" % sessions(a))
    print("ok: second INVITE refused with 503, icegw up")
    hang_up(a, uas, first)
    # the ports came back: the next call goes through
    third = established_call(a, uas)
    hang_up(a, uas, third)
    check(sessions(a) == 0, "statistics: sessionsown %d at the end, wanted 0" % sessions(a))


def scenario_failover(a, uas):
    """Two gateways in Kamailio's set, room for one call each; the set's weights send every new
    call to the first gateway first."""
    first = established_call(a, uas)
    check(first.node == a.ng, "first call on %s, not on the preferred %s" % (first.node, a.ng))
    second = established_call(a, uas)
    check(second.node == a.ng2, "second call on %s, wanted %s after the first's load limit" % (second.node, a.ng2))
    third = UAC(a.proxy, uas.port)
    code, _ = third.invite()
    check(code == 503, "third INVITE with both gateways full: %d, wanted 503" % code)
    for node in a.ngs:
        check(ng(node, "ping").get("result") == "pong", "%s does not answer ping" % node)
        check(sessions(a, node) == 1, "%s: sessionsown %d, wanted 1" % (node, sessions(a, node)))
    print("ok: second call moved to the other gateway, third refused with 503")
    hang_up(a, uas, first)
    hang_up(a, uas, second)
    for node in a.ngs:
        check(sessions(a, node) == 0, "%s: sessionsown %d at the end, wanted 0" % (node, sessions(a, node)))


# ------------------------------------------------------------------ a call with real ICE endpoints
def write_atomic(path, text):
    tmp = "%s.tmp" % path
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def read_local_sdp(path):
    """An endpoint's SDP, once it has written it (write-then-rename)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            text = open(path).read()
            if "a=candidate:" in text:
                return text
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise Fail("no local SDP in %s" % path)
        time.sleep(0.05)


def wrap_fragment(frag, sess):
    """libnice's SDP is a fragment ("m=audio PORT ICE/SDP", c=, ICE attributes); a SIP body,
    and icegw's parser, want a session description (RFC 8866: v= first, o=, s=, t=) and an
    m= line with a transport and formats. Returns (SDP, address, ufrag, pwd)."""
    addr = port = ufrag = pwd = None
    cands = []
    for l in frag.splitlines():
        l = l.strip()
        if l.startswith("m="):
            port = int(l.split()[1])
        elif l.startswith("c=IN IP4 "):
            addr = l.split()[2]
        elif l.startswith("a=ice-ufrag:"):
            ufrag = l[len("a=ice-ufrag:"):]
        elif l.startswith("a=ice-pwd:"):
            pwd = l[len("a=ice-pwd:"):]
        elif l.startswith("a=candidate:"):
            cands.append(l)
    check(addr and port and ufrag and pwd and cands, "endpoint SDP lacks c=/m=/ICE: %r" % frag)
    lines = ["v=0", "o=- %d 1 IN IP4 %s" % (sess, addr), "s=icegw-call", "c=IN IP4 %s" % addr, "t=0 0",
             "m=audio %d RTP/AVP 0" % port, "a=rtpmap:0 PCMU/8000", "a=sendrecv",
             "a=ice-ufrag:%s" % ufrag, "a=ice-pwd:%s" % pwd] + cands
    return "\r\n".join(lines) + "\r\n", addr, ufrag, pwd


def endpoint_result(path):
    """'done' once nicepeer printed "received N", 'failed' on "failed: ...", else None."""
    try:
        text = open(path).read()
    except OSError:
        return None
    if re.search(r"^failed: ", text, re.M):
        return "failed"
    if re.search(r"^received \d+$", text, re.M):
        return "done"
    return None


def scenario_call(a, uas):
    """UAC for endpoint A, UAS for endpoint B: their SDPs go through the proxy (and icegw),
    the rewritten ones back to them; once both exchanged media, the gateway's view, then BYE."""
    sdp_a, addr_a, ufrag_a, pwd_a = wrap_fragment(read_local_sdp(a.a_local), 1000)
    sdp_b, addr_b, ufrag_b, pwd_b = wrap_fragment(read_local_sdp(a.b_local), 2000)

    def answerer(cid, offer):
        write_atomic(a.b_remote, offer)   # B's remote SDP: the gateway's leg b
        return sdp_b, ufrag_b, pwd_b
    uas.answerer = answerer
    uac = UAC(a.proxy, uas.port, sdp_a, ufrag_a, pwd_a)
    uas.ring_s = uac.ring_s = a.ring
    t0 = time.monotonic()
    code, body = uac.invite()
    check(code == 200, "INVITE: final response %d, wanted 200" % code)
    if a.ring:
        rang = time.monotonic() - t0
        check(rang >= a.ring, "the 200 came after %.1f s, rang for %.1f" % (rang, a.ring))
        print("ok: rang %.1f s before the 200 (the answer) reached the caller" % rang)
    wait_for(lambda: uac.cid in uas.invites, "the INVITE at the UAS")
    pb = check_rewritten("offer seen by the UAS", uas.invites[uac.cid], uac.sdp, a.gw, addr_a,
                         ufrag_a, pwd_a, a.port_min, a.port_max)
    pa = check_rewritten("answer seen by the UAC", body, sdp_b, a.gw, addr_b, ufrag_b, pwd_b,
                         a.port_min, a.port_max)
    check(pa != pb, "both sides were given the same gateway port %d" % pa)
    write_atomic(a.a_remote, body)        # A's remote SDP: the gateway's leg a
    print("ports a=%d b=%d" % (pa, pb))
    print("ok: call %s: A %s <-> %s:%d, B %s <-> %s:%d" % (uac.cid, addr_a, a.gw, pa, addr_b, a.gw, pb))
    sys.stdout.flush()

    deadline = time.monotonic() + a.media_wait
    while True:
        res = (endpoint_result(a.a_out), endpoint_result(a.b_out))
        check("failed" not in res, "an endpoint failed: A %s, B %s" % res)
        if res == ("done", "done"):
            break
        check(time.monotonic() < deadline, "endpoints not done within %d s: A %s, B %s"
              % ((a.media_wait,) + res))
        time.sleep(0.1)
    print("ok: both endpoints completed ICE and received the other's media")

    q = ng(a.ng, "query", **{"call-id": uac.cid})
    check(q.get("result") == "ok", "query during the call: %r" % q)
    legs = q.get("legs", [])
    check(len(legs) == 2, "query: %d legs, wanted 2: %r" % (len(legs), legs))
    for leg in legs:
        side = "a" if leg.get("tag") == uac.ftag else "b"
        port, peer = (pa, addr_a) if side == "a" else (pb, addr_b)
        print("leg %s: %r" % (side, leg))
        check(leg.get("local-port") == port, "leg %s: local-port %r, SDP said %d" % (side, leg.get("local-port"), port))
        check(leg.get("ICE") == "completed", "leg %s: ICE %r, wanted completed" % (side, leg.get("ICE")))
        sel = leg.get("selected-pair", "")
        check(re.match(r"%s:%d <-> %s:\d+$" % (re.escape(a.gw), port, re.escape(peer)), sel),
              "leg %s: selected pair %r is not %s:%d <-> %s:*" % (side, sel, a.gw, port, peer))
        for k in ("packets-in", "packets-out", "RTP-received"):
            check(isinstance(leg.get(k), int) and leg[k] > 0, "leg %s: %s = %r" % (side, k, leg.get(k)))
    check(sorted(l.get("tag") == uac.ftag for l in legs) == [False, True], "query: leg tags %r" % legs)
    print("ok: query shows both legs completed, selected pairs, packets both ways")

    uac.node = a.ng
    hang_up(a, uas, uac)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["basic", "exhaust", "failover", "call", "ping"])
    p.add_argument("--proxy")
    p.add_argument("--ng", required=True)
    p.add_argument("--ng2")
    p.add_argument("--gw")
    p.add_argument("--port-min", type=int, default=1)
    p.add_argument("--port-max", type=int, default=65535)
    # call: the endpoints' SDP files (local: written by them; remote: written for them) and
    # their output, where they report completion
    for f in ("a-local", "a-remote", "a-out", "b-local", "b-remote", "b-out"):
        p.add_argument("--" + f)
    p.add_argument("--media-wait", type=int, default=30)
    p.add_argument("--ring", type=float, default=0.0,
                   help="call: the callee answers 180 at once and 200 (with its SDP) this many s later")
    a = p.parse_args()
    a.ngs = [a.ng] + ([a.ng2] if a.ng2 else [])
    try:
        if a.scenario == "ping":
            check(ng(a.ng, "ping").get("result") == "pong", "no pong")
            return 0
        uas = UAS()
        uas.start()
        try:
            {"basic": scenario_basic, "exhaust": scenario_exhaust,
             "failover": scenario_failover, "call": scenario_call}[a.scenario](a, uas)
        finally:
            uas.stop = True
            uas.join(2)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
