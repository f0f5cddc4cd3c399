#!/usr/bin/env bash
# End to end behind Kamailio: icegw (control plane only, on net_ring0) serves NG to Kamailio's
# rtpengine module; sipua.py places calls UAC -> Kamailio -> UAS and checks the rewritten
# bodies, icegw's view of the call (query, statistics), and a clean 503 when the port range
# is used up. Everything on loopback.
#
# usage: test_kamailio.sh ICEGW        exit 77 = skipped
set -uo pipefail
icegw=${1:-}
SKIP=77
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x $py ] || py=python3

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (DPDK EAL)"; exit $SKIP; }
[ -n "$icegw" ] && [ -x "$icegw" ] || { echo "SKIP: icegw not built"; exit $SKIP; }
command -v kamailio >/dev/null || { echo "SKIP: kamailio not installed"; exit $SKIP; }
command -v $py >/dev/null || { echo "SKIP: python3 not installed"; exit $SKIP; }
command -v ss >/dev/null || { echo "SKIP: ss (iproute2) not installed"; exit $SKIP; }

GW=203.0.113.1              # RFC 5737 TEST-NET-3: icegw's address, only ever written into SDP
work=$(mktemp -d)
pids=()

stop_pid() {
	local p=$1
	kill "$p" 2>/dev/null
	# bounded: SIGKILL after 5 s
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}
cleanup() {
	local p
	for p in "${pids[@]}"; do
		stop_pid "$p"
	done
	pids=()
	# kamailio -DD: the main process we started ends its children on SIGTERM
	if [ -n "${E2E_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*"
	for f in "$work"/*.log; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 30 "$f"; }
	done
	exit 1
}

# Free loopback UDP ports, as the kernel hands them out; nothing else binds them before we do.
free_udp_ports() {
	$py - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# start_icegw NAME NG_PORT PORT_MIN PORT_MAX      sets icegw_pid
start_icegw() {
	local name=$1 ngp=$2 pmin=$3 pmax=$4
	"$icegw" --no-huge --no-pci --no-shconf -l 0-1 -m 256 --file-prefix "e2e$$$name" \
		--vdev net_ring0 -- --ip $GW --ng 127.0.0.1:"$ngp" --port-min "$pmin" --port-max "$pmax" \
		--duration 120 --quiet >"$work/icegw-$name.log" 2>&1 &
	pids+=($!)
	icegw_pid=$!
	for _ in $(seq 100); do
		$py "$here/sipua.py" ping --ng 127.0.0.1:"$ngp" >/dev/null 2>&1 && return 0
		kill -0 $icegw_pid 2>/dev/null || fail "icegw ($name) exited"
		sleep 0.1
	done
	fail "icegw ($name) does not answer NG ping on 127.0.0.1:$ngp"
}

# start_kamailio NAME KAM_PORT NG_PORT[=WEIGHT]... one rtpengine set of every NG port given
start_kamailio() {
	local name=$1 kp=$2 socks="" p
	shift 2
	for p in "$@"; do socks="$socks${socks:+ }udp:127.0.0.1:$p"; done
	local cfg=$work/kamailio-$name.cfg log=$work/kamailio-$name.log
	sed -e "s/@KAM_PORT@/$kp/g" -e "s/@NG_SOCKS@/$socks/g" "$here/kamailio.cfg" >"$cfg"
	kamailio -c -f "$cfg" >"$work/kamailio-$name-check.log" 2>&1 || fail "kamailio -c rejects $cfg"
	kamailio -DD -E -m 32 -M 4 -P "$work/kamailio-$name.pid" -Y "$work" -f "$cfg" >"$log" 2>&1 &
	pids+=($!)
	kam_pid=$!
	# ready once it listens on its SIP port (its rtpengine module pings icegw before that)
	for _ in $(seq 100); do
		kill -0 $kam_pid 2>/dev/null || fail "kamailio ($name) exited"
		if ss -uln "sport = :$kp" 2>/dev/null | grep -q ":$kp"; then
			sleep 0.5
			return 0
		fi
		sleep 0.1
	done
	fail "kamailio ($name) did not come up on 127.0.0.1:$kp"
}

# --- 1. a call through Kamailio, rewritten both ways, gone after BYE
read -r NG KAM <<<"$(free_udp_ports 2)"
PMIN=31000 PMAX=31999
start_icegw basic "$NG" $PMIN $PMAX
start_kamailio basic "$KAM" "$NG"
$py "$here/sipua.py" basic --proxy 127.0.0.1:"$KAM" --ng 127.0.0.1:"$NG" --gw $GW \
	--port-min $PMIN --port-max $PMAX || fail "basic call"
kill -0 "$icegw_pid" 2>/dev/null || fail "icegw died"
for p in "${pids[@]}"; do stop_pid "$p"; done
pids=()

# --- 2. a port range for one call only: the second concurrent INVITE gets 503, icegw stays up
read -r NG KAM <<<"$(free_udp_ports 2)"
PMIN=31000 PMAX=31003       # ports 31000 and 31002: one call's two legs
start_icegw exhaust "$NG" $PMIN $PMAX
start_kamailio exhaust "$KAM" "$NG"
$py "$here/sipua.py" exhaust --proxy 127.0.0.1:"$KAM" --ng 127.0.0.1:"$NG" --gw $GW \
	--port-min $PMIN --port-max $PMAX || fail "port exhaustion"
kill -0 "$icegw_pid" 2>/dev/null || fail "icegw died"
# Kamailio lists "load limit" in "supports": icegw answers a full port range with it
grep -q "load limit (port range exhausted" "$work/kamailio-exhaust.log" ||
	fail "Kamailio's log does not show icegw's load limit reply"
for p in "${pids[@]}"; do stop_pid "$p"; done
pids=()

# --- 3. two gateways in one set, room for one call each: the first gateway's "load limit" makes
# Kamailio offer the second call to the other one; with both full, 503
read -r NG NG2 KAM <<<"$(free_udp_ports 3)"
start_icegw fo1 "$NG" $PMIN $PMAX
start_icegw fo2 "$NG2" $PMIN $PMAX
# weights 1000:1 make Kamailio offer every new call to the first gateway first
start_kamailio failover "$KAM" "$NG=1000" "$NG2=1"
$py "$here/sipua.py" failover --proxy 127.0.0.1:"$KAM" --ng 127.0.0.1:"$NG" --ng2 127.0.0.1:"$NG2" \
	--gw $GW --port-min $PMIN --port-max $PMAX || fail "failover to the second gateway"
grep -q "load limit (port range exhausted" "$work/kamailio-failover.log" ||
	fail "Kamailio's log does not show a load limit reply"

echo "PASS: kamailio e2e"
exit 0
