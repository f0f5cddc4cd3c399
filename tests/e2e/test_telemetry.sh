#!/usr/bin/env bash
# icegw's DPDK telemetry commands, read with DPDK's own client (dpdk-telemetry.py): the
# counters an operator's tooling polls, for a call created through NG.
# usage: test_telemetry.sh ICEGW
set -u
icegw=${1:?usage: test_telemetry.sh ICEGW}
tel=$(command -v dpdk-telemetry.py) || { echo "SKIP: dpdk-telemetry.py (dpdk-dev) not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for the EAL runtime directory"; exit 77; }
work=$(mktemp -d)
prefix=icegw-tel-$$
ngp=$(( 23000 + $$ % 2000 ))
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
q() { echo "$1" | timeout 10 /usr/bin/python3 "$tel" -f "$prefix" 2>/dev/null | grep "^{"; }

"$icegw" --no-huge --no-pci -l 0-1 -m 256 --file-prefix "$prefix" \
	--log-level=lib.eal:error --log-level=lib.telemetry:error --vdev net_ring0 -- \
	--ip 203.0.113.1 --ng "127.0.0.1:$ngp" --duration 30 --quiet >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 50); do
	[ -S "/var/run/dpdk/$prefix/dpdk_telemetry.v2" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/log"; fail "icegw exited"; }
	sleep 0.1
done
/usr/bin/python3 - "$ngp" <<'PY' || fail "NG offer"
import socket, sys
sdp = (b"v=0\r\no=a 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
       b"m=audio 40000 RTP/AVP 0\r\na=rtcp-mux\r\n")
def b(s): return b"%d:%s" % (len(s), s)
msg = b"t1 d" + b(b"call-id") + b(b"tel@x") + b(b"command") + b(b"offer") + \
      b(b"from-tag") + b(b"f") + b(b"sdp") + b(sdp) + b"e"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
addr = ("127.0.0.1", int(sys.argv[1]))
for i in range(50):  # the NG socket opens after the EAL: wait for a pong (bounded)
    s.sendto(b"p%d d7:command4:pinge" % i, addr)
    try:
        if b"pong" in s.recv(65535):
            break
    except socket.timeout:
        pass
s.settimeout(2)
s.sendto(msg, addr)
sys.exit(0 if b"2:ok" in s.recv(65535) else 1)
PY
sleep 0.3
out=$(q /icegw/stats)
echo "$out"
echo "$out" | grep -q '"legs": 2' || fail "/icegw/stats: $out"
echo "$out" | grep -q '"drop_wrong_source": 0' || fail "/icegw/stats names its drops: $out"
out=$(q /icegw/legs)
echo "$out"
echo "$out" | grep -q 'tel@x/0a' || fail "/icegw/legs: $out"
out=$(q "/icegw/leg,tel@x/0a")
echo "$out"
echo "$out" | grep -q '"port": 3' || fail "/icegw/leg: $out"
out=$(q /icegw/lcores)
echo "$out"
echo "$out" | grep -q '"lcore": \[1\]' || fail "/icegw/lcores: the worker should run on lcore 1: $out"
echo "1 passed, 0 failed"
