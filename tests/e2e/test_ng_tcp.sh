#!/usr/bin/env bash
# NG over TCP: messages back to back on one stream, a message split across segments, and a
# stream of garbage closed without harm to the daemon (which still answers on UDP).
# usage: test_ng_tcp.sh ICEGW
set -u
icegw=${1:?usage: test_ng_tcp.sh ICEGW}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for the EAL"; exit 77; }
work=$(mktemp -d)
port=$(( 24000 + $$ % 2000 ))
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$icegw" --no-huge --no-pci --no-shconf -l 0-1 -m 256 --file-prefix "icegw-ngtcp-$$" \
	--log-level=lib.eal:error --log-level=lib.telemetry:error --vdev net_ring0 -- \
	--ip 203.0.113.1 --ng "127.0.0.1:$port" --ng-tcp "127.0.0.1:$((port + 1))" --duration 30 \
	--quiet >"$work/log" 2>&1 &
pid=$!
/usr/bin/python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def fail(why):
    print("FAIL:", why); sys.exit(1)
for _ in range(100):  # bounded wait for the listener
    try:
        s = socket.create_connection(("127.0.0.1", port + 1), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
else:
    fail("no TCP listener")
def read_until(n):
    data, end = b"", time.time() + 3
    while data.count(b"pong") < n and time.time() < end:
        data += s.recv(65535)
    return data
s.sendall(b"a1 d7:command4:pinge" + b"a2 d7:command4:pinge")
r = read_until(2)
if r != b"a1 d6:result4:pongea2 d6:result4:ponge":
    fail("two messages on one stream: %r" % r)
s.sendall(b"a3 d7:comm"); time.sleep(0.05); s.sendall(b"and4:pinge")
r = read_until(1)
if r != b"a3 d6:result4:ponge":
    fail("a split message: %r" % r)
s.sendall(b"garbage\x00\x01")
s.settimeout(3)
if s.recv(100) != b"":
    fail("garbage did not close the stream")
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
u.sendto(b"u1 d7:command4:pinge", ("127.0.0.1", port))
if u.recv(100) != b"u1 d6:result4:ponge":
    fail("UDP after the bad stream")
print("1 passed, 0 failed")
PY
