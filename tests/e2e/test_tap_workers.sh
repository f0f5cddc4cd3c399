#!/usr/bin/env bash
# icegw with two workers on a net_tap port, in a network namespace made here: two calls whose
# legs are on ports owned by worker 0 (30000, 30004) and worker 1 (30002, 30006), one leg on
# the gateway's second address (--interface twice). The kernel side of the tap plays the four
# endpoints with UDP sockets: an authenticated Binding request (USE-CANDIDATE) to each leg,
# whose answer is verified (MESSAGE-INTEGRITY, FINGERPRINT, XOR-MAPPED-ADDRESS), then RTP both
# ways through each call. DPDK's dpdk-telemetry.py then shows legs and traffic on both
# workers. Then the same port with the NG control plane: offers alternate between workers. Wrap in `flock /tmp/icegw-net.lock` (meson's e2e suite does not run in parallel).
# usage: test_tap_workers.sh ICEGW
set -u
icegw=${1:?usage: test_tap_workers.sh ICEGW}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, EAL runtime directory)"
tel=$(command -v dpdk-telemetry.py) || skip "dpdk-telemetry.py (dpdk-dev) not installed"
[ -e /dev/net/tun ] || skip "no /dev/net/tun"
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
ns=icegw-tw-$$
tap=itw$$
prefix=icegw-tw-$$
GW=10.88.0.1 GW2=10.88.0.3 EP=10.88.0.2
work=$(mktemp -d)
pid=
stop_icegw() { # bounded: SIGINT, then SIGKILL after 5 s
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	pid=
}
cleanup() {
	stop_icegw
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$work/log" ] && cat "$work/log"; exit 1; }
q() { echo "$1" | timeout 10 /usr/bin/python3 "$tel" -f "$prefix" 2>/dev/null | grep "^{"; }

ip netns add "$ns" || skip "cannot create a network namespace"
ip -n "$ns" link set lo up

# four ICE-lite legs (the endpoints control and nominate), paired two by two
leg() { # name port peer iface remote-port
	printf '\n[leg %s]\nport = %s\nrtcp-mux = yes\nice = lite\nrole = controlled\n' "$1" "$2"
	printf 'ufrag = gw%s\npwd = gatewaypassword-%s-0001\n' "$1" "$1"
	printf 'remote-ufrag = ep%s\nremote-pwd = endpointpassword-%s-01\n' "$1" "$1"
	printf 'default-remote = %s:%s\niface = %s\n' "$EP" "$5" "$4"
	[ -n "$3" ] && printf 'peer = %s\n' "$3"
	return 0
}
{
	printf '[gateway]\nseed = 7\n'
	leg a1 30000 b1 0 40000
	leg b1 30004 "" 0 40001
	leg a2 30002 b2 0 40002
	leg b2 30006 "" 1 40003
} >"$work/legs.conf"

ip netns exec "$ns" "$icegw" --no-huge --no-pci --lcores 0@0,1@1,2@1 -m 512 --file-prefix "$prefix" \
	--log-level=lib.eal:error --log-level=lib.telemetry:error --log-level=pmd.net.tap:error \
	--vdev "net_tap0,iface=$tap" -- \
	--interface "$GW" --interface "$GW2" --legs "$work/legs.conf" --duration 40 >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	# the port is started (and its rx mode chosen) once this line is out
	grep -q "2 workers on port 0 (net_tap): rx mode" "$work/log" && break
	kill -0 "$pid" 2>/dev/null || fail "icegw exited"
	sleep 0.1
done
ip -n "$ns" link show "$tap" >/dev/null 2>&1 || fail "no tap interface $tap"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1"
ip -n "$ns" addr add "$EP/24" dev "$tap"
ip -n "$ns" link set "$tap" up
# the kernel's UDP checksums complete in software (no partial checksum handed to the tap)
command -v ethtool >/dev/null && ip netns exec "$ns" ethtool -K "$tap" tx off >/dev/null 2>&1
grep -q "2 workers on port 0 (net_tap): rx mode" "$work/log" || fail "no rx mode line"

ip netns exec "$ns" timeout 60 /usr/bin/python3 - "$EP" "$GW" "$GW2" <<'PY' || fail "STUN / RTP through the gateway"
import hashlib, hmac, os, socket, struct, sys, time, zlib

ep, gw, gw2 = sys.argv[1:4]
MAGIC = 0x2112A442
# leg: (gateway address, gateway port, endpoint port, peer leg)
legs = {"a1": (gw, 30000, 40000, "b1"), "b1": (gw, 30004, 40001, "a1"),
        "a2": (gw, 30002, 40002, "b2"), "b2": (gw2, 30006, 40003, "a2")}
socks = {}
for name, (_, _, port, _) in legs.items():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ep, port))
    s.settimeout(0.3)
    socks[name] = s


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def request(user, pwd, tid):
    body = (attr(0x0006, user.encode()) + attr(0x0024, struct.pack("!I", 0x6E0001FF)) +
            attr(0x802A, struct.pack("!Q", 0x0102030405060708)) + attr(0x0025, b""))
    hdr = struct.pack("!HHI", 0x0001, len(body) + 24, MAGIC) + tid
    body += attr(0x0008, hmac.new(pwd.encode(), hdr + body, hashlib.sha1).digest())
    hdr = struct.pack("!HHI", 0x0001, len(body) + 8, MAGIC) + tid
    body += attr(0x8028, struct.pack("!I", (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF))
    return struct.pack("!HHI", 0x0001, len(body), MAGIC) + tid + body


def check_answer(m, tid, pwd, me):
    """RFC 8489: a Binding success to our transaction, signed with the leg's password."""
    typ, mlen, cookie = struct.unpack("!HHI", m[:8])
    assert typ == 0x0101 and cookie == MAGIC and m[8:20] == tid and mlen + 20 == len(m), "header"
    off, got = 20, {}
    while off + 4 <= len(m):
        t, n = struct.unpack("!HH", m[off:off + 4])
        got.setdefault(t, off)
        off += 4 + n + (-n % 4)
    mi, fp, xma = got.get(0x0008), got.get(0x8028), got.get(0x0020)
    assert mi and fp and xma, "attributes"
    h = m[:2] + struct.pack("!H", mi + 24 - 20) + m[4:mi]
    assert hmac.compare_digest(hmac.new(pwd.encode(), h, hashlib.sha1).digest(), m[mi + 4:mi + 24]), \
        "MESSAGE-INTEGRITY"
    assert struct.unpack("!I", m[fp + 4:fp + 8])[0] == (zlib.crc32(m[:fp]) ^ 0x5354554E) & 0xFFFFFFFF, \
        "FINGERPRINT"
    port = struct.unpack("!H", m[xma + 6:xma + 8])[0] ^ (MAGIC >> 16)
    ip = socket.inet_ntoa(struct.pack("!I", struct.unpack("!I", m[xma + 8:xma + 12])[0] ^ MAGIC))
    assert (ip, port) == me, f"XOR-MAPPED-ADDRESS {ip}:{port}"


for name, (gip, gport, port, _) in legs.items():
    s, pwd = socks[name], f"gatewaypassword-{name}-0001"
    for attempt in range(30):  # bounded: ARP and the port coming up take a moment
        tid = os.urandom(12)
        s.sendto(request(f"gw{name}:ep{name}", pwd, tid), (gip, gport))
        try:
            m, frm = s.recvfrom(2048)
        except socket.timeout:
            continue
        assert frm == (gip, gport), f"{name}: answer from {frm}"
        check_answer(m, tid, pwd, (ep, port))
        print(f"{name}: Binding answered from {gip}:{gport} after {attempt + 1} request(s)")
        break
    else:
        sys.exit(f"{name}: no answer")

time.sleep(0.2)
for name, (gip, gport, port, peer) in legs.items():
    if name[0] != "a":
        continue
    for src, dst in ((name, peer), (peer, name)):
        sg, sp = legs[src][0], legs[src][1]
        dg, dp = legs[dst][0], legs[dst][1]
        got = 0
        for seq in range(20):
            rtp = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0xABC00000 + legs[src][2]) + bytes(160)
            socks[src].sendto(rtp, (sg, sp))
            try:
                m, frm = socks[dst].recvfrom(2048)
            except socket.timeout:
                continue
            # relayed from the peer leg's own port and address (its interface)
            assert frm == (dg, dp), f"{src}->{dst}: from {frm}, want {dg}:{dp}"
            assert m[12:] == bytes(160) and m[:2] == b"\x80\x00", "payload changed"
            got += 1
        print(f"RTP {src} -> {dst}: {got}/20 relayed, arriving from {dg}:{dp}")
        if got < 18:
            sys.exit(f"RTP {src} -> {dst}: only {got} of 20")
PY

out=$(q /icegw/lcores)
echo "$out"
/usr/bin/python3 - "$out" <<'PY' || fail "/icegw/lcores: $out"
import json, sys
d = json.loads(sys.argv[1])["/icegw/lcores"]
assert d["workers"] == 2, d
assert d["legs"] == [2, 2], d                 # each worker owns one call
assert all(x > 0 for x in d["rx"]), d         # both processed frames of their legs
assert all(x > 0 for x in d["tx"]), d         # and sent (answers, relayed RTP)
assert d["lcore"] == [1, 2], d
assert sum(d["handoff_drops"]) == 0, d
print(f"rx mode {d['rx_mode']}, {d['rx_queues']} rx queues; rx {d['rx']}, tx {d['tx']}, "
      f"handed over {d['handoff_out']}")
PY
out=$(q "/icegw/leg,b2")
echo "$out"
echo "$out" | grep -q '"worker": 1' || fail "/icegw/leg b2 should be on worker 1: $out"
echo "$out" | grep -q '"ice_state": "completed"' || fail "b2: ICE not completed: $out"
echo "$out" | grep -q '"rtp_received": 20' || fail "b2: 20 RTP packets from one source: $out"
out=$(q /icegw/stats)
echo "$out" | grep -q '"legs": 4' || fail "/icegw/stats: $out"
echo "$out" | grep -q '"ice_completed": 4' || fail "/icegw/stats: ICE should complete on 4 legs: $out"
echo "ok: both workers answered STUN and relayed RTP; the second address served its leg"

# the control plane on two workers: calls alternate between them, each call's ports from
# its worker's pool ((port / 2) % 2)
stop_icegw
ngp=$(( 25000 + $$ % 2000 ))
ip netns exec "$ns" "$icegw" --no-huge --no-pci --lcores 0@0,1@1,2@1 -m 512 --file-prefix "$prefix" \
	--log-level=lib.eal:error --log-level=lib.telemetry:error --log-level=pmd.net.tap:error \
	--vdev "net_tap0,iface=$tap" -- --interface "int/$GW" --interface "ext/$GW2" \
	--ng "127.0.0.1:$ngp" --duration 30 \
	>"$work/log" 2>&1 &
pid=$!
ip netns exec "$ns" timeout 30 /usr/bin/python3 - "$ngp" <<'PY' || fail "NG offers"
import re, socket, sys
def b(s): return b"%d:%s" % (len(s), s)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
addr = ("127.0.0.1", int(sys.argv[1]))
for i in range(100):  # bounded: the NG socket opens after the EAL
    s.sendto(b"p%d d7:command4:pinge" % i, addr)
    try:
        if b"pong" in s.recv(65535):
            break
    except socket.timeout:
        pass
s.settimeout(2)
owners = []
for k in range(4):
    sdp = (b"v=0\r\no=a 1 1 IN IP4 10.88.0.2\r\ns=-\r\nc=IN IP4 10.88.0.2\r\nt=0 0\r\n"
           b"m=audio %d RTP/AVP 0\r\na=rtcp-mux\r\n" % (40000 + 2 * k))
    s.sendto(b"t%d d" % k + b(b"call-id") + b(b"tw%d@x" % k) + b(b"command") + b(b"offer") +
             b(b"from-tag") + b(b"f") + b(b"sdp") + b(sdp) + b"e", addr)
    r = s.recv(65535)
    port = int(re.search(rb"m=audio (\d+)", r).group(1))
    owners.append(port // 2 % 2)
print("offers answered; the gateway ports' owners:", owners)
if sorted(owners) != [0, 0, 1, 1]:
    sys.exit(1)
# NG direction: the offerer on "int", the answerer on "ext". The offer going to the answerer
# names leg b on ext's address; the answer going back names leg a on int's.
def ng(cookie, *kv):
    s.sendto(cookie + b" d" + b"".join(bytes(x) if isinstance(x, bytearray) else b(x) for x in kv) + b"e", addr)
    return s.recv(65535)
sdp = (b"v=0\r\no=a 1 1 IN IP4 10.88.0.2\r\ns=-\r\nc=IN IP4 10.88.0.2\r\nt=0 0\r\n"
       b"m=audio 41000 RTP/AVP 0\r\na=rtcp-mux\r\n")
r = ng(b"dir1", b"call-id", b"dir@x", b"command", b"offer", b"from-tag", b"f", b"sdp", sdp,
       b"direction", bytearray(b"l" + b(b"int") + b(b"ext") + b"e"))
print("offer with direction:", r[:60])
if b"c=IN IP4 10.88.0.3" not in r:
    sys.exit("the offer's SDP does not name ext's address")
r = ng(b"dir2", b"call-id", b"dir@x", b"command", b"answer", b"from-tag", b"f", b"to-tag", b"t",
       b"sdp", sdp.replace(b"41000", b"41002"))
if b"c=IN IP4 10.88.0.1" not in r:
    sys.exit("the answer's SDP does not name int's address")
r = ng(b"dir3", b"call-id", b"dir@x", b"command", b"offer", b"from-tag", b"g", b"sdp", sdp,
       b"direction", bytearray(b"l" + b(b"int") + b(b"nowhere") + b"e"))
if b"error" not in r or b"nowhere" not in r:
    sys.exit("an unknown interface name is not refused: %r" % r)
print("direction: leg b on ext (10.88.0.3), leg a on int (10.88.0.1); unknown names refused")
sys.exit(0)
PY
sleep 0.3
out=$(q /icegw/lcores)
echo "$out"
legs=$(echo "$out" | sed -n 's/.*"legs": \[\([0-9]*\), \([0-9]*\)\].*/\1 \2/p')
set -- $legs
[ $(( $1 + $2 )) -eq 10 ] && [ "$1" -ge 4 ] && [ "$2" -ge 4 ] ||
	fail "/icegw/lcores: 5 calls (10 legs), at least 2 calls on each worker: $out"
echo "1 passed, 0 failed"
