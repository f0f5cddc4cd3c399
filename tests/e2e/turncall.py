#!/usr/bin/env python3
"""NG driver for test_turn_call.sh: icegw's legs with TURN relays (stdlib only; the bencode
and SDP helpers are sipua.py's).

usage: turncall.py call --ng IP:PORT --gw IP --relay-ip IP
                        --a-local F --a-remote F --a-out F --b-local F --b-remote F --b-out F
                        [--relay-leg a|b] [--media-wait S] [--result F]
       turncall.py warn --ng IP:PORT --gw IP --expect HEX [--relay-ip IP] [--result F]

call: a real call between two libnice endpoints (nicepeer). --relay-leg b (default): the
      offer with ICE=force-relay: the offer as rewritten for the answerer B must carry the
      relay candidate on the TURN server (--relay-ip) and nothing else; the query during the
      call must show leg b completed on a pair whose local side is its relayed address, with
      relayed packets both ways. --relay-leg a: the same for leg a, which faces the offerer
      A, with ICE=force-relay on the answer (the answer as rewritten for A carries only leg
      a's relay; A's side of the call is relay-only).
warn: an offer with ICE=force-relay from a made-up endpoint (no media): the reply is a clean
      "ok" whose ICEWarn bits include --expect (in the warning when no relay came, in the
      query's leg b in any case); with --relay-ip the relay candidate must be there anyway
      (an alternate server that was followed). Leg a's relays, allocated at the offer too,
      fail (or follow) alike: the answer's warning and the query's leg a say so. Neither leg
      dropped a TURN request (TURN-drops 0): the server's MAC was known before the offer.
Both write "relayed-address IP:PORT" to --result (for the coturn log checks), then delete.
Exit 0 when every check passes, 1 with "FAIL: ..." otherwise.
"""
import argparse
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipua import (Fail, benc, bdec, check, endpoint_result, hostport, make_sdp,  # noqa: E402
                   read_local_sdp, token, wrap_fragment, write_atomic)


def ng(addr, cmd, timeout=10.0, **kw):
    """One NG request; the decoded reply and how long it took (an offer with relays waits
    for the allocations: up to turn-timeout-ms)."""
    cookie = token(12)
    req = dict(kw)
    req["command"] = cmd
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.sendto(cookie.encode() + b" " + benc(req), hostport(addr))
        data = s.recv(65535)
    except OSError as e:
        raise Fail("NG %s: no reply from %s (%s)" % (cmd, addr, e or "timeout"))
    finally:
        s.close()
    took = time.monotonic() - t0
    head, _, body = data.partition(b" ")
    check(head == cookie.encode(), "NG %s: reply cookie %r, sent %r" % (cmd, head, cookie))
    v, end = bdec(body)
    check(end == len(body) and isinstance(v, dict), "NG %s: reply is not one dictionary" % cmd)
    print("NG %s: %.3f s: %r" % (cmd, took, {k: v[k] for k in v if k != "sdp"}))
    sys.stdout.flush()
    return v


def s(v):
    return v.decode() if isinstance(v, bytes) else v


def candidates(sdp):
    return [l for l in s(sdp).splitlines() if l.startswith("a=candidate:")]


def relay_check(sdp, relay_ip):
    """The relay candidates an offer carries: all of them relays on relay_ip."""
    cands = candidates(sdp)
    check(cands, "no candidate in the rewritten offer:\n%s" % s(sdp))
    for c in cands:
        f = c.split()
        check(len(f) >= 8 and f[7] == "relay" and f[4] == relay_ip,
              "force-relay offer has a candidate other than a relay on %s: %r" % (relay_ip, c))
    return cands


def legs_of(q, ftag):
    legs = q.get("legs", [])
    check(len(legs) == 2, "query: %d legs, wanted 2: %r" % (len(legs), legs))
    out = {}
    for leg in legs:
        out["a" if s(leg.get("tag")) == ftag else "b"] = leg
    check(sorted(out) == ["a", "b"], "query: leg tags %r" % legs)
    return out


def scenario_call(a):
    cid, ftag, ttag = "turn-" + token(8), "ta" + token(6), "tb" + token(6)
    sdp_a, addr_a, _, _ = wrap_fragment(read_local_sdp(a.a_local), 1000)
    sdp_b, addr_b, _, _ = wrap_fragment(read_local_sdp(a.b_local), 2000)
    rl, hl = a.relay_leg, "a" if a.relay_leg == "b" else "b"
    force = {"ICE": "force-relay"}
    off = ng(a.ng, "offer", **dict({"call-id": cid, "from-tag": ftag, "sdp": sdp_a},
                                   **(force if rl == "b" else {})))
    check(s(off.get("result")) == "ok", "offer: %r" % off)
    check("warning" not in off, "offer: warning %r" % off.get("warning"))
    if rl == "b":
        relay_check(off["sdp"], a.relay_ip)
    write_atomic(a.b_remote, s(off["sdp"]))     # B's remote SDP: the gateway's leg b
    ans = ng(a.ng, "answer", **dict({"call-id": cid, "from-tag": ftag, "to-tag": ttag, "sdp": sdp_b},
                                    **(force if rl == "a" else {})))
    check(s(ans.get("result")) == "ok", "answer: %r" % ans)
    check("warning" not in ans, "answer: warning %r" % ans.get("warning"))
    if rl == "a":
        relay_check(ans["sdp"], a.relay_ip)
    write_atomic(a.a_remote, s(ans["sdp"]))     # A's remote SDP: the gateway's leg a
    m = re.search(r"^m=audio (\d+) ", s(ans["sdp"]), re.M)
    check(m, "answer has no m=audio")
    print("ports a=%s" % m.group(1))
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
    # the endpoints linger, sending RTP: time for the ChannelBind (selected pairs are looked
    # at every 200 ms) and for media through the channel
    time.sleep(1.5)

    q = ng(a.ng, "query", **{"call-id": cid})
    check(s(q.get("result")) == "ok", "query: %r" % q)
    legs = legs_of(q, ftag)
    for k in ("a", "b"):
        leg = legs[k]
        print("leg %s: %r" % (k, leg))
        check(s(leg.get("ICE")) == "completed", "leg %s: ICE %r" % (k, leg.get("ICE")))
        for f in ("packets-in", "packets-out", "RTP-received"):
            check(isinstance(leg.get(f), int) and leg[f] > 0, "leg %s: %s = %r" % (k, f, leg.get(f)))
    lh, lr = legs[hl], legs[rl]
    addr = {"a": addr_a, "b": addr_b}
    check(re.match(r"%s:\d+ <-> %s:\d+$" % (re.escape(a.gw), re.escape(addr[hl])), s(lh.get("selected-pair", ""))),
          "leg %s: selected pair %r is not host <-> %s" % (hl, lh.get("selected-pair"), hl.upper()))
    rel = s(lr.get("relayed-address", ""))
    check(rel.startswith(a.relay_ip + ":"), "leg %s: relayed-address %r not on %s" % (rl, rel, a.relay_ip))
    check(re.match(r"%s <-> %s:\d+$" % (re.escape(rel), re.escape(addr[rl])), s(lr.get("selected-pair", ""))),
          "leg %s: selected pair %r is not the relay %s <-> %s" % (rl, lr.get("selected-pair"), rel, rl.upper()))
    for f in ("relayed-in", "relayed-out"):
        check(isinstance(lr.get(f), int) and lr[f] > 0, "leg %s: %s = %r" % (rl, f, lr.get(f)))
    check(lr.get("ICEWarn") == 0, "leg %s: ICEWarn %r" % (rl, lr.get("ICEWarn")))
    print("ok: leg %s completed through the relay %s: relayed-in %d relayed-out %d"
          % (rl, rel, lr["relayed-in"], lr["relayed-out"]))
    return cid, ftag, "%s\nleg-port %d" % (rel, lr["local-port"])


def scenario_warn(a):
    cid, ftag, ttag = "turnw-" + token(8), "wa" + token(6), "wb" + token(6)
    want = int(a.expect, 16)
    sdp_a = make_sdp("192.0.2.10", 40000, token(4), token(22), 1000)
    sdp_b = make_sdp("198.51.100.20", 42000, token(4), token(22), 2000)
    off = ng(a.ng, "offer", **{"call-id": cid, "from-tag": ftag, "sdp": sdp_a, "ICE": "force-relay"})
    check(s(off.get("result")) == "ok", "offer: %r" % off)
    check(re.search(r"^m=audio \d+ ", s(off.get("sdp", "")), re.M), "offer: no SDP in %r" % off)
    rel = ""
    if a.relay_ip:
        relay_check(off["sdp"], a.relay_ip)
        check("warning" not in off, "offer: warning %r" % off.get("warning"))
    else:
        check(not candidates(off["sdp"]), "offer: candidates though no relay came:\n%s" % s(off["sdp"]))
        m = re.search(r"ICEWarn 0x([0-9a-f]+)", s(off.get("warning", "")))
        check(m and int(m.group(1), 16) & want == want,
              "offer: warning %r lacks ICEWarn 0x%x" % (off.get("warning"), want))
    ans = ng(a.ng, "answer", **{"call-id": cid, "from-tag": ftag, "to-tag": ttag, "sdp": sdp_b})
    check(s(ans.get("result")) == "ok", "answer: %r" % ans)
    q = ng(a.ng, "query", **{"call-id": cid})
    check(s(q.get("result")) == "ok", "query: %r" % q)
    legs = legs_of(q, ftag)
    # leg a's relays (allocated at the offer too, advertised in the answer) fail alike
    for k in ("b", "a"):
        leg = legs[k]
        print("leg %s: %r" % (k, leg))
        w = leg.get("ICEWarn")
        check(isinstance(w, int) and w & want == want, "leg %s: ICEWarn %r lacks 0x%x" % (k, w, want))
        # every TURN request left the gateway on its first try: the workers asked ARP for
        # the configured server at their start, so none was dropped for want of its MAC
        check(leg.get("TURN-drops") == 0, "leg %s: TURN-drops %r" % (k, leg.get("TURN-drops")))
        if a.relay_ip:
            r = s(leg.get("relayed-address", ""))
            check(r.startswith(a.relay_ip + ":"), "leg %s: relayed-address %r" % (k, r))
        else:
            check("relayed-address" not in leg, "leg %s: relayed-address %r" % (k, leg.get("relayed-address")))
    if a.relay_ip:
        rel = s(legs["b"].get("relayed-address", ""))
        check("warning" not in ans, "answer: warning %r" % ans.get("warning"))
    else:
        m = re.search(r"ICEWarn 0x([0-9a-f]+)", s(ans.get("warning", "")))
        check(m and int(m.group(1), 16) & want == want,
              "answer: warning %r lacks ICEWarn 0x%x" % (ans.get("warning"), want))
    print("ok: clean answers, ICEWarn leg b 0x%x, leg a 0x%x"
          % (legs["b"]["ICEWarn"], legs["a"]["ICEWarn"]))
    return cid, ftag, rel


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["call", "warn"])
    p.add_argument("--ng", required=True)
    p.add_argument("--gw", required=True)
    p.add_argument("--relay-ip")
    p.add_argument("--expect")
    p.add_argument("--result")
    for f in ("a-local", "a-remote", "a-out", "b-local", "b-remote", "b-out"):
        p.add_argument("--" + f)
    p.add_argument("--media-wait", type=int, default=30)
    p.add_argument("--relay-leg", choices=["a", "b"], default="b")
    a = p.parse_args()
    try:
        cid, ftag, rel = (scenario_call if a.scenario == "call" else scenario_warn)(a)
        d = ng(a.ng, "delete", **{"call-id": cid, "from-tag": ftag})
        check(s(d.get("result")) == "ok", "delete: %r" % d)
        q = ng(a.ng, "query", **{"call-id": cid})
        check(s(q.get("result")) == "error", "query after delete: %r" % q)
        print("ok: deleted")
        if a.result:
            write_atomic(a.result, "relayed-address %s\n" % rel)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
