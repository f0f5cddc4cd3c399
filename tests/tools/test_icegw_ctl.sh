#!/bin/bash
# icegw-ctl against a running icegw: ping, list, statistics, query (with --trace), delete, and
# the exit status of an error. Needs the daemon built and root (DPDK EAL): exit 77 otherwise.
set -u
ctl=$1
icegw=${2:-}
[ -n "$icegw" ] && [ -x "$icegw" ] || { echo "SKIP: icegw not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (DPDK EAL)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$work/icegw.log" ] && tail -20 "$work/icegw.log"; exit 1; }

ngp=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$icegw" --no-huge --no-pci --no-shconf -l 0-1 -m 256 --file-prefix "ctl$$" --vdev net_ring0 -- \
	--ip 203.0.113.1 --ng 127.0.0.1:"$ngp" --port-min 31000 --port-max 31099 \
	--trace "$work/trace.txt" --duration 60 --quiet >"$work/icegw.log" 2>&1 &
pid=$!
export ICEGW_NG=127.0.0.1:$ngp
for _ in $(seq 100); do
	"$ctl" -t 0.2 ping >"$work/out" 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { echo "SKIP: icegw does not start here"; tail -5 "$work/icegw.log"; exit 77; }
	sleep 0.1
done
grep -q "^result: pong$" "$work/out" || fail "ping: $(cat "$work/out")"

# an offer and its answer, sent the way a SIP proxy would (icegw-ctl itself only reads and
# deletes); the answer starts the legs' checks, whose trace the query shows
python3 - "$ngp" <<'PY' || fail "offer"
import socket, sys
sdp = ("v=0\r\no=a 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
       "a=ice-ufrag:aliu\r\na=ice-pwd:alicepasswordalicepass1\r\nm=audio 40000 RTP/AVP 0\r\n"
       "a=candidate:1 1 UDP 2130706431 192.0.2.10 40000 typ host\r\n"
       "a=candidate:1 2 UDP 2130706430 192.0.2.10 40001 typ host\r\n")
def b(s): return b"%d:%s" % (len(s), s)
msg = b"o1 d" + b(b"call-id") + b(b"ctl-test@x") + b(b"command") + b(b"offer") + \
      b(b"from-tag") + b(b"ft") + b(b"sdp") + b(sdp.encode()) + b"e"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(msg, ("127.0.0.1", int(sys.argv[1])))
r = s.recv(65535)
if b"2:ok" not in r:
    sys.exit(1)
ans = ("v=0\r\no=b 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n"
       "a=ice-ufrag:bobu\r\na=ice-pwd:bobpasswordbobpassword1\r\nm=audio 50000 RTP/AVP 0\r\n"
       "a=candidate:7 1 UDP 2130706431 198.51.100.20 50000 typ host\r\n"
       "a=candidate:7 2 UDP 2130706430 198.51.100.20 50001 typ host\r\n")
msg = b"a1 d" + b(b"call-id") + b(b"ctl-test@x") + b(b"command") + b(b"answer") + \
      b(b"from-tag") + b(b"ft") + b(b"sdp") + b(ans.encode()) + b(b"to-tag") + b(b"tt") + b"e"
s.sendto(msg, ("127.0.0.1", int(sys.argv[1])))
r = s.recv(65535)
sys.exit(0 if b"2:ok" in r else 1)
PY
"$ctl" list >"$work/out" || fail "list"
grep -q "ctl-test@x" "$work/out" || fail "list: $(cat "$work/out")"
"$ctl" statistics >"$work/out" || fail "statistics"
grep -q "sessionsown: 1" "$work/out" || fail "statistics: $(cat "$work/out")"
sleep 0.3
"$ctl" query ctl-test@x --trace >"$work/out" || fail "query: $(cat "$work/out")"
cat "$work/out"
grep -q "ICE: " "$work/out" || fail "query: $(cat "$work/out")"
[ "$(grep -c '^ *trace:$' "$work/out")" = 2 ] || fail "query --trace: no trace lists: $(cat "$work/out")"
# the pjnath-style lines come from the worker's trace ring
n=$(grep -c 'ctl-test@x/0[ab] ' "$work/out")
[ "$n" -ge 4 ] || fail "query --trace: $n trace lines"
grep -q 'Checklist created' "$work/out" || fail "query --trace: no check list in the trace"
"$ctl" query nosuchcall >"$work/out"
[ $? = 1 ] || fail "query of an unknown call must exit 1"
grep -q "Unknown call-id" "$work/out" || fail "error reason: $(cat "$work/out")"
"$ctl" delete ctl-test@x >"$work/out" || fail "delete: $(cat "$work/out")"
"$ctl" list >"$work/out"
grep -q "ctl-test@x" "$work/out" && fail "deleted call still listed"
"$ctl" bogus >/dev/null 2>&1
[ $? = 2 ] || fail "usage error must exit 2"
echo "PASS"
