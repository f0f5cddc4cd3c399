#!/usr/bin/env bash
# A real call: SIP through Kamailio, ICE and RTP through icegw, libnice endpoints.
#
# Topology (as tests/live/test_live.sh): one L2 segment, a bridge in a "switch" namespace:
#   ns-a  va 10.98.3.2/24  -- nicepeer A (controlling; the caller's media)
#   ns-b  vb 10.98.3.3/24  -- nicepeer B (controlled; the callee's media)
#   ns-gw vg (no kernel IP) -- icegw on net_af_packet0,iface=vg, --ip 10.98.3.1, NG on
#                              127.0.0.1 of ns-gw; Kamailio (rtpengine module) on the same
#                              loopback; sipua.py plays the UAC (for A) and the UAS (for B)
# All SIP and NG stays on ns-gw's loopback. Flow: A's SDP -> INVITE -> rtpengine_offer ->
# rewritten offer = B's remote SDP; B's SDP -> 200 -> rtpengine_answer -> rewritten answer =
# A's remote SDP. icegw's leg a (facing A, the offerer) is controlled, leg b (facing B, the
# answerer) controlling: B must be controlled.
# libnice writes an SDP fragment ("m=audio PORT ICE/SDP", c=, ICE attributes, no v=): sipua.py
# wraps it into a full session description (v=/o=/s=/t=, m=audio PORT RTP/AVP 0) for the SIP
# body; nicepeer reads the full SDP the gateway writes back as it is.
# Runs RFC 5245 and OC2007R2 (MS-ICE2). libnice's OC2007R2 SDP is RFC-form like any other; icegw
# tells it from RFC 5245 by its candidates' MS-ICE2 priority layout (ctl_sdp_dialect), with no NG
# flag: were it wrong, its legs would be RFC 8445 and answer every MS-ICE2 check 431. The mode
# oc2007r2-flag runs the same call with Kamailio passing the NG flag "MS-ICE2" (the override).
# The mode rfc5245-ring lets the call ring: the callee answers 180 at once and the 200 with its
# SDP 8 s later (the answer reaches icegw and A only then); ICE still completes on both legs,
# as icegw's leg a starts its checks when the answer goes to A (docs/control.md, "When each
# leg checks"), not at the offer.
#
# usage: test_call.sh ICEGW NICEPEER [MODE...]   modes rfc5245 oc2007r2 oc2007r2-flag
#        rfc5245-ring (default rfc5245 oc2007r2 rfc5245-ring); exit 77 = skipped
set -uo pipefail
icegw=${1:-} nicepeer=${2:-}
shift 2 2>/dev/null
modes=${*:-rfc5245 oc2007r2 rfc5245-ring}
SKIP=77
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x $py ] || py=python3

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces, DPDK EAL)"; exit $SKIP; }
[ -n "$icegw" ] && [ -x "$icegw" ] || { echo "SKIP: icegw not built"; exit $SKIP; }
[ -n "$nicepeer" ] && [ -x "$nicepeer" ] || { echo "SKIP: nicepeer not built (libnice)"; exit $SKIP; }
command -v kamailio >/dev/null || { echo "SKIP: kamailio not installed"; exit $SKIP; }
command -v $py >/dev/null || { echo "SKIP: python3 not installed"; exit $SKIP; }
ip netns list >/dev/null 2>&1 || { echo "SKIP: ip netns does not work here"; exit $SKIP; }
for t in ethtool ss; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit $SKIP; }
done

GW=10.98.3.1 A=10.98.3.2 B=10.98.3.3
NG=22222 KAM=5060             # on ns-gw's own loopback: nothing else there
PMIN=30000 PMAX=30099
tag=ic$$
NS_SW=$tag-sw NS_A=$tag-a NS_B=$tag-b NS_GW=$tag-gw
work=$(mktemp -d)
pids=()

stop_pid() {
	local p=$1
	kill "$p" 2>/dev/null
	# bounded: SIGKILL after 3 s
	for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}
cleanup() {
	local p n
	for p in "${pids[@]}"; do
		stop_pid "$p"
	done
	pids=()
	for n in "$NS_A" "$NS_B" "$NS_GW" "$NS_SW"; do
		ip netns del "$n" 2>/dev/null
	done
	if [ -n "${E2E_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*"
	for f in "$work"/*.out "$work"/*.log; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 40 "$f"; }
	done
	exit 1
}
# Foreground only: "nsx ... &" would fork a subshell, whose PID $! is not the process's.
# Background processes are started with "ip netns exec" itself, which execs them.
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }

# wait_pid PID SECONDS: 0 when it ended in time (its status in $wait_rc)
wait_pid() {
	local i
	for i in $(seq $(( $2 * 10 ))); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"; wait_rc=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- topology (as test_live.sh)
setup_net() {
	local n ns
	for n in "$NS_SW" "$NS_A" "$NS_B" "$NS_GW"; do
		ip netns add "$n" || { echo "SKIP: cannot create a network namespace"; exit $SKIP; }
		ip -n "$n" link set lo up
	done
	ip -n "$NS_SW" link add br0 type bridge || fail "no bridge"
	ip -n "$NS_SW" link set br0 up
	for n in a b g; do
		case $n in a) ns=$NS_A ;; b) ns=$NS_B ;; g) ns=$NS_GW ;; esac
		ip -n "$NS_SW" link add s$n type veth peer name v$n netns "$ns" || fail "veth $n"
		ip -n "$NS_SW" link set s$n master br0
		ip -n "$NS_SW" link set s$n up
	done
	ip -n "$NS_A" addr add $A/24 dev va
	ip -n "$NS_B" addr add $B/24 dev vb
	# the gateway's end: up, no IPv4 and no IPv6 (the kernel stays silent; DPDK owns it)
	nsx "$NS_GW" sysctl -qw net.ipv6.conf.vg.disable_ipv6=1
	for n in a b g; do
		case $n in a) ns=$NS_A ;; b) ns=$NS_B ;; g) ns=$NS_GW ;; esac
		ip -n "$ns" link set v$n up
	done
	# finished UDP checksums from the endpoints (see test_live.sh: the gateway's incremental
	# update of a veth's partial checksum is garbage)
	nsx "$NS_A" ethtool -K va tx off >/dev/null || fail "ethtool -K va tx off"
	nsx "$NS_B" ethtool -K vb tx off >/dev/null || fail "ethtool -K vb tx off"
}

start_icegw() {
	ip netns exec "$NS_GW" "$icegw" --no-huge --no-pci --no-shconf -l 0-1 -m 256 --file-prefix "icegw-call-$$" \
		--log-level=lib.eal:error --log-level=lib.telemetry:error \
		--vdev net_af_packet0,iface=vg -- \
		--ip $GW --ng 127.0.0.1:$NG --port-min $PMIN --port-max $PMAX \
		--trace "$work/trace.txt" --live-clock --duration 120 \
		>"$work/icegw.log" 2>&1 &
	icegw_pid=$!
	pids+=($icegw_pid)
	local up=0
	for _ in $(seq 100); do
		kill -0 $icegw_pid 2>/dev/null || fail "icegw exited"
		if nsx "$NS_GW" $py "$here/sipua.py" ping --ng 127.0.0.1:$NG >/dev/null 2>&1; then
			up=1
			break
		fi
		sleep 0.1
	done
	[ $up = 1 ] || fail "icegw does not answer NG ping on 127.0.0.1:$NG"
	# up on the wire once it answers ARP: a datagram to the discard port makes each
	# endpoint's kernel ask (icegw has no leg there: one "no leg" drop each)
	up=0
	for _ in $(seq 100); do
		kill -0 $icegw_pid 2>/dev/null || fail "icegw exited"
		nsx "$NS_A" bash -c "echo > /dev/udp/$GW/9" 2>/dev/null
		nsx "$NS_B" bash -c "echo > /dev/udp/$GW/9" 2>/dev/null
		sleep 0.1
		if ip -n "$NS_A" neigh show $GW | grep -q lladdr &&
		   ip -n "$NS_B" neigh show $GW | grep -q lladdr; then
			up=1
			break
		fi
	done
	[ $up = 1 ] || fail "icegw does not answer ARP for $GW"
}

# start_kamailio [NG_FLAG]: with a flag, rtpengine_offer and rtpengine_answer pass it to icegw
start_kamailio() {
	local cfg=$work/kamailio.cfg flag=${1:-}
	sed -e "s/@KAM_PORT@/$KAM/g" -e "s/@NG_SOCKS@/udp:127.0.0.1:$NG/g" \
		-e "s/rtpengine_offer(\"ICE=force\")/rtpengine_offer(\"ICE=force${flag:+ $flag}\")/" \
		-e "${flag:+s/rtpengine_answer()/rtpengine_answer(\"$flag\")/}" "$here/kamailio.cfg" >"$cfg"
	grep -q "rtpengine_offer(\"ICE=force${flag:+ $flag}\")" "$cfg" || fail "kamailio.cfg: no rtpengine_offer to change"
	nsx "$NS_GW" kamailio -c -f "$cfg" >"$work/kamailio-check.log" 2>&1 || fail "kamailio -c rejects $cfg"
	# ip netns exec execs kamailio: $! is kamailio's main process, which ends its children
	# on SIGTERM
	ip netns exec "$NS_GW" kamailio -DD -E -m 32 -M 4 -P "$work/kamailio.pid" -Y "$work" -f "$cfg" \
		>"$work/kamailio.log" 2>&1 &
	kam_pid=$!
	pids+=($kam_pid)
	for _ in $(seq 100); do
		kill -0 $kam_pid 2>/dev/null || fail "kamailio exited"
		if nsx "$NS_GW" ss -uln "sport = :$KAM" 2>/dev/null | grep -q ":$KAM"; then
			sleep 0.5
			return 0
		fi
		sleep 0.1
	done
	fail "kamailio did not come up on 127.0.0.1:$KAM"
}

# ---------------------------------------------------------------- the call
run_call() {
	local mode=$1 ring=${2:-0} pa pb ps
	echo "== $mode"
	rm -f "$work"/*.sdp "$work"/a.out "$work"/b.out "$work"/sipua.out
	ip netns exec "$NS_A" "$nicepeer" --mode "$mode" --role controlling --bind $A --rtp \
		--local-sdp "$work/a.sdp" --remote-sdp "$work/a-remote.sdp" --timeout 40 --linger 2 \
		>"$work/a.out" 2>&1 &
	pa=$!; pids+=("$pa")
	ip netns exec "$NS_B" "$nicepeer" --mode "$mode" --role controlled --bind $B --rtp \
		--local-sdp "$work/b.sdp" --remote-sdp "$work/b-remote.sdp" --timeout 40 --linger 2 \
		>"$work/b.out" 2>&1 &
	pb=$!; pids+=("$pb")

	ip netns exec "$NS_GW" $py "$here/sipua.py" call --proxy 127.0.0.1:$KAM --ng 127.0.0.1:$NG --gw $GW \
		--port-min $PMIN --port-max $PMAX --media-wait 30 --ring "$ring" \
		--a-local "$work/a.sdp" --a-remote "$work/a-remote.sdp" --a-out "$work/a.out" \
		--b-local "$work/b.sdp" --b-remote "$work/b-remote.sdp" --b-out "$work/b.out" \
		>"$work/sipua.out" 2>&1 &
	ps=$!; pids+=("$ps")
	wait_pid "$ps" 60 || fail "$mode: sipua.py did not end"
	local rc_s=$wait_rc
	wait_pid "$pa" 60 || fail "$mode: nicepeer A did not end"
	local rc_a=$wait_rc
	wait_pid "$pb" 60 || fail "$mode: nicepeer B did not end"
	local rc_b=$wait_rc
	echo "-- sipua.py"; cat "$work/sipua.out"
	for f in a b; do echo "-- nicepeer $f"; cat "$work/$f.out"; done
	for f in a b; do echo "-- SDP $f wrote"; cat "$work/$f.sdp"; echo "-- SDP $f was given"; cat "$work/$f-remote.sdp"; done 2>/dev/null
	[ "$rc_s" = 0 ] || fail "$mode: sipua.py exited $rc_s"
	[ "$rc_a" = 0 ] || fail "$mode: nicepeer A exited $rc_a"
	[ "$rc_b" = 0 ] || fail "$mode: nicepeer B exited $rc_b"
	kill -0 $icegw_pid 2>/dev/null || fail "$mode: icegw died"

	# the gateway's ports, as the rewritten SDPs gave them
	local port_a port_b
	read -r port_a port_b < <(sed -n 's/^ports a=\([0-9]*\) b=\([0-9]*\)$/\1 \2/p' "$work/sipua.out")
	[ -n "$port_a" ] && [ -n "$port_b" ] || fail "$mode: no gateway ports from sipua.py"
	# ICE completed on both endpoints, each with the gateway's leg as the remote side
	grep -Eq "^selected $A:[0-9]+ $GW:$port_a\$" "$work/a.out" || fail "$mode: A did not select $GW:$port_a"
	grep -Eq "^selected $B:[0-9]+ $GW:$port_b\$" "$work/b.out" || fail "$mode: B did not select $GW:$port_b"
	# RTP end to end: each counted the other's SSRC
	local ssrc_a ssrc_b
	ssrc_a=$(sed -n 's/^rtp ssrc \(0x[0-9a-f]*\)$/\1/p' "$work/a.out")
	ssrc_b=$(sed -n 's/^rtp ssrc \(0x[0-9a-f]*\)$/\1/p' "$work/b.out")
	grep -Eq "^rtp sent [1-9][0-9]* received [1-9][0-9]* from ssrc $ssrc_b," "$work/a.out" ||
		fail "$mode: A did not receive B's RTP"
	grep -Eq "^rtp sent [1-9][0-9]* received [1-9][0-9]* from ssrc $ssrc_a," "$work/b.out" ||
		fail "$mode: B did not receive A's RTP"
	# the query during the call and the one after BYE (sipua.py checked them)
	grep -q "^ok: query shows both legs completed" "$work/sipua.out" || fail "$mode: no query check"
	grep -q "gone after BYE" "$work/sipua.out" || fail "$mode: no BYE check"
	if [ "$ring" != 0 ]; then
		grep -q "^ok: rang " "$work/sipua.out" || fail "$mode: the call did not ring"
	fi
	pids=("$icegw_pid" "$kam_pid")
	echo "ok $mode"
}

setup_net
start_icegw
for mode in $modes; do
	# oc2007r2 is detected from its SDP; oc2007r2-flag says so with the NG flag as well
	ring=0
	case $mode in
	oc2007r2-flag) flag=MS-ICE2 mode=oc2007r2 ;;
	rfc5245-ring) flag='' mode=rfc5245 ring=8 ;;
	*) flag= ;;
	esac
	start_kamailio $flag
	run_call "$mode" $ring
	stop_pid $kam_pid
	pids=("$icegw_pid")
done
# icegw stops cleanly on SIGINT (no call left: its report lists no legs)
kill -INT $icegw_pid 2>/dev/null
wait_pid $icegw_pid 20 || fail "icegw did not stop on SIGINT"
[ "$wait_rc" = 0 ] || fail "icegw exited $wait_rc"
pids=()
# nothing left behind: no process in the namespaces, no kernel address on the gateway's port
for n in "$NS_A" "$NS_B" "$NS_GW"; do
	[ -z "$(ip netns pids "$n")" ] || fail "processes left in $n: $(ip netns pids "$n" | tr '\n' ' ')"
done
[ -z "$(ip -n "$NS_GW" -o addr show dev vg)" ] || fail "vg has an address"
cleanup
trap - EXIT
for n in "$NS_A" "$NS_B" "$NS_GW" "$NS_SW"; do
	ip netns list | grep -qw "$n" && { echo "FAIL: namespace $n left behind"; exit 1; }
done
echo "PASS: call"
exit 0
