#!/usr/bin/env bash
# icegw-load against a running icegw (software mode, net_ring port): 2 000 concurrent calls set
# up, sampled and deleted with no failure and every call returned; then a full gateway: a port
# range too small and a session limit give rtpengine's error texts at once (no retransmission
# timed out), the daemon still answers and takes calls again once the first ones are deleted;
# three addresses under one interface name hold three port ranges of calls.
# usage: test_load.sh ICEGW ICEGW-LOAD
set -u
icegw=${1:?usage: test_load.sh ICEGW ICEGW-LOAD}
load=${2:?usage: test_load.sh ICEGW ICEGW-LOAD}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for the EAL"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
work=$(mktemp -d)
pid=
fails=0
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# start_icegw NGPORT ICEGW-OPTIONS...: the daemon in the background, $pid set
start_icegw() {
	local port=$1
	shift
	"$icegw" --no-huge --no-pci --no-shconf -l 0-1 -m 256 --file-prefix "icegw-load-$$" \
		--log-level=lib.eal:error --log-level=lib.telemetry:error --vdev net_ring0 -- \
		--ip 203.0.113.1 --ng "127.0.0.1:$port" --duration 100 --quiet "$@" \
		>"$work/icegw.log" 2>&1 &
	pid=$!
}
stop_icegw() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	# a sanitizer build: what the daemon reported under load fails the test
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' "$work/icegw.log"; then
		fail "the daemon's sanitizer report:"
		cat "$work/icegw.log"
	fi
}
# field NAME FILE: NAME=value from the tool's summary line
field() { sed -n "s/^summary: .*\b$1=\([-0-9]*\).*/\1/p" "$2"; }
# want FILE NAME VALUE WHAT
want() {
	local got
	got=$(field "$2" "$1")
	[ "$got" = "$3" ] || fail "$4: $2=$got, want $3"
}
# reason_count FILE KIND TEXT: how many KIND requests failed with TEXT
reason_count() {
	awk -v k="$2" -v t="\"$3\"" '$1 == k && $2 == "error" { n = $3; $1 = $2 = $3 = ""; sub(/^ +/, "");
		if ($0 == t) print n }' "$1"
}
ping_ok() {
	python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(b"p1 d7:command4:pinge", ("127.0.0.1", int(sys.argv[1])))
sys.exit(0 if s.recv(100) == b"p1 d6:result4:ponge" else 1)
PY
}

port=$((28000 + $$ % 2000))

# 1. 2 000 calls (4 000 legs, 8 000 ports), a query of 1 in 50, all deleted
start_icegw "$port" --max-legs 4096 --port-min 30000 --port-max 38999
"$load" --ng "127.0.0.1:$port" --pid "$pid" --wait 30 -n 2000 -w 64 -q 50 >"$work/a" 2>&1
rc=$?
cat "$work/a"
[ "$rc" = 0 ] || fail "2 000 calls: icegw-load exit $rc"
want "$work/a" up 2000 "2 000 calls"
want "$work/a" deleted 2000 "2 000 calls"
want "$work/a" failed_requests 0 "2 000 calls"
want "$work/a" sessions_after 0 "2 000 calls: NG statistics after delete"
want "$work/a" listed_after 0 "2 000 calls: NG list after delete"
grep -q '^  legs  *0  *4000  *0$' "$work/a" || fail "NG statistics legs before / peak / after: want 0 / 4000 / 0"
grep -q '^query: 40 sampled (1 in 50), 0 failed$' "$work/a" || fail "query sample"
grep -q '^daemon memory (pid ' "$work/a" || fail "no memory figures from /proc/$pid/status"

# the same daemon again: rtcp-mux on both sides, an MS-ICE2 caller; ports and slots reused
"$load" --ng "127.0.0.1:$port" --pid "$pid" -n 1000 -w 32 -R 5000 -m --ms-ice2 >"$work/b" 2>&1
rc=$?
[ "$rc" = 0 ] || { cat "$work/b"; fail "1 000 muxed MS-ICE2 calls: icegw-load exit $rc"; }
want "$work/b" up 1000 "muxed MS-ICE2 calls"
want "$work/b" sessions_after 0 "muxed MS-ICE2 calls"
stop_icegw

# 2. ports for 50 calls (200 ports, RTP + RTCP per leg): 250 offers refused "Ran out of ports"
start_icegw "$port" --max-legs 1024 --port-min 40000 --port-max 40199
"$load" --ng "127.0.0.1:$port" --wait 30 -n 300 -w 64 --max-failures 250 >"$work/c" 2>&1
rc=$?
cat "$work/c"
[ "$rc" = 0 ] || fail "port exhaustion: icegw-load exit $rc"
want "$work/c" up 50 "port exhaustion"
want "$work/c" failed_requests 250 "port exhaustion"
want "$work/c" timeouts 0 "port exhaustion: every refusal answered"
want "$work/c" sessions_after 0 "port exhaustion"
[ "$(reason_count "$work/c" offer "Ran out of ports")" = 250 ] ||
	fail "port exhaustion: want 250 offers refused \"Ran out of ports\""
grep -q '^  port-exhausted  *0  *250  *250$' "$work/c" || fail "NG statistics port-exhausted: want 0 / 250 / 250"
ping_ok "$port" || fail "no pong after port exhaustion"
# the ports came back on delete: 50 calls fit again
"$load" --ng "127.0.0.1:$port" -n 50 >"$work/d" 2>&1 || { cat "$work/d"; fail "50 calls after exhaustion"; }
want "$work/d" up 50 "after exhaustion"
stop_icegw

# 2b. three addresses under one interface name: one logical interface, a port range each.
# 200 ports hold 100 muxed calls per address, so 300 calls up means the calls went on all
# three; the 301st to 350th are refused "Ran out of ports" only then, and after delete the
# ports are back on their addresses: 300 fit again
start_icegw "$port" --max-legs 1024 --port-min 40000 --port-max 40199 \
	--interface pub/203.0.113.1 --interface pub/203.0.113.2 --interface pub/203.0.113.3
"$load" --ng "127.0.0.1:$port" --wait 30 -n 350 -m -w 64 --max-failures 50 >"$work/p" 2>&1
rc=$?
cat "$work/p"
[ "$rc" = 0 ] || fail "address pool: icegw-load exit $rc"
want "$work/p" up 300 "address pool"
want "$work/p" failed_requests 50 "address pool"
want "$work/p" timeouts 0 "address pool"
want "$work/p" sessions_after 0 "address pool"
[ "$(reason_count "$work/p" offer "Ran out of ports")" = 50 ] ||
	fail "address pool: want 50 offers refused \"Ran out of ports\""
"$load" --ng "127.0.0.1:$port" -n 300 -m >"$work/q" 2>&1 || { cat "$work/q"; fail "300 calls again on the pool"; }
want "$work/q" up 300 "address pool, again"
stop_icegw

# 3. a session limit of 20: 80 offers refused "Parallel session limit reached"
start_icegw "$port" --max-legs 1024 --port-min 40000 --port-max 40999 --max-sessions 20
"$load" --ng "127.0.0.1:$port" --wait 30 -n 100 -w 64 --max-failures 80 >"$work/e" 2>&1
rc=$?
cat "$work/e"
[ "$rc" = 0 ] || fail "session limit: icegw-load exit $rc"
want "$work/e" up 20 "session limit"
want "$work/e" timeouts 0 "session limit"
[ "$(reason_count "$work/e" offer "Parallel session limit reached")" = 80 ] ||
	fail "session limit: want 80 offers refused \"Parallel session limit reached\""
ping_ok "$port" || fail "no pong after the session limit"
stop_icegw

# 4. the tool's own limits: failures above --max-failures exit 1; bad flags exit 2
start_icegw "$port" --max-legs 1024 --port-min 40000 --port-max 40199
"$load" --ng "127.0.0.1:$port" --wait 30 -n 60 --max-failures 9 >"$work/f" 2>&1
rc=$?
[ "$rc" = 1 ] || { cat "$work/f"; fail "10 failures over --max-failures 9: exit $rc, want 1"; }
stop_icegw
for bad in "-n 0" "-w 0" "--ng 127.0.0.1" "--timeout-ms x" "--bogus" "extra"; do
	# shellcheck disable=SC2086
	"$load" $bad >"$work/g" 2>&1
	rc=$?
	[ "$rc" = 2 ] && grep -q '^icegw-load: ' "$work/g" || fail "bad flags '$bad': exit $rc, want 2 and a message"
done

[ "$fails" = 0 ] || exit 1
echo "load: all passed"
