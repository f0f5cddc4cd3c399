#!/usr/bin/env bash
# TURN relays for icegw's legs, live against coturn (Debian's turnserver).
#
# Topology (as test_call.sh): one L2 segment, a bridge in a "switch" namespace:
#   ns-a  va 10.98.6.2/24  -- nicepeer A (controlling; the offerer's media)
#   ns-b  vb 10.98.6.3/24  -- nicepeer B (controlled; the answerer's media)
#   ns-t  vt 10.98.6.4/24  -- coturn on 10.98.6.4:3478 (relays on 10.98.6.4), and for the
#                             alternate-server case a second one on :3479 that redirects
#                             every Allocate to :3478
#   ns-gw vg (no kernel IP) -- icegw on net_af_packet0,iface=vg, --ip 10.98.6.1, NG on ns-gw's
#                              loopback, driven directly by turncall.py (no SIP)
# Cases, each with its own icegw run (the TURN server is a daemon option):
#   relay        ICE=force-relay: leg b (facing B) advertises only its relay on coturn, B
#                completes ICE with it and RTP flows A <-> icegw <-> coturn <-> B; NG query
#                shows leg b's selected pair on the relayed address and relayed packets both
#                ways; coturn's log shows the allocation, the permission for B and the channel;
#                after delete, coturn's log shows the allocation released (a Refresh with
#                LIFETIME 0 from the leg's port) and the session closed
#   relay-a      the offerer's side relay-only: ICE=force-relay on the answer, so leg a (facing
#                A) advertises only its relay (allocated at the offer, beside leg b's) in the
#                answer and is made again without host candidates; A completes ICE with it and
#                RTP flows A <-> coturn <-> icegw <-> B; the same query and coturn checks for
#                leg a and A as the relay case makes for leg b and B
#   credentials  wrong password: offer answered "ok" without relay, ICEWarn 0x4000; in every
#                warn case no TURN request was dropped (TURN-drops 0): icegw asked ARP for the
#                server as its workers started
#   unreachable  a port nobody listens on: ICEWarn 0x1 (after turn-timeout-ms)
#   alternate    the redirecting coturn: 300 with ALTERNATE-SERVER followed, relay on the
#                first coturn, ICEWarn 0x400000
#
# usage: test_turn_call.sh ICEGW NICEPEER [CASE...]   (default: all five); exit 77 = skipped
set -uo pipefail
icegw=${1:-} nicepeer=${2:-}
shift 2 2>/dev/null
cases=${*:-relay relay-a credentials unreachable alternate}
SKIP=77
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x $py ] || py=python3

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces, DPDK EAL)"; exit $SKIP; }
[ -n "$icegw" ] && [ -x "$icegw" ] || { echo "SKIP: icegw not built"; exit $SKIP; }
[ -n "$nicepeer" ] && [ -x "$nicepeer" ] || { echo "SKIP: nicepeer not built (libnice)"; exit $SKIP; }
command -v turnserver >/dev/null || { echo "SKIP: coturn (turnserver) not installed"; exit $SKIP; }
command -v $py >/dev/null || { echo "SKIP: python3 not installed"; exit $SKIP; }
ip netns list >/dev/null 2>&1 || { echo "SKIP: ip netns does not work here"; exit $SKIP; }
for t in ethtool ss; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit $SKIP; }
done

GW=10.98.6.1 A=10.98.6.2 B=10.98.6.3 T=10.98.6.4
TPORT=3478 TPORT_ALT=3479 TPORT_DEAD=3999
NG=22222
PMIN=30000 PMAX=30099
tag=it$$
NS_SW=$tag-sw NS_A=$tag-a NS_B=$tag-b NS_GW=$tag-gw NS_T=$tag-t
work=$(mktemp -d)
pids=()
icegw_pid=
. "$here/turnnet.sh"

# start_coturn NAME PORT [EXTRA...]: its log in $work/NAME.log, its PID in coturn_pid
start_coturn() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$work/$name"
	# relay ports apart from icegw's and the endpoints' (all in other namespaces anyway)
	ip netns exec "$NS_T" turnserver -n -v --listening-ip=$T --relay-ip=$T --listening-port="$port" \
		--lt-cred-mech --user=alice:secret --realm=test.realm --fingerprint --no-tls --no-dtls \
		--no-cli --min-port=49160 --max-port=49200 \
		--userdb="$work/$name/turndb" --pidfile="$work/$name/turn.pid" --log-file="$work/$name.log" \
		--simple-log --no-stdout-log "$@" >"$work/$name.out" 2>&1 &
	coturn_pid=$!
	pids+=("$coturn_pid")
	for _ in $(seq 50); do
		kill -0 $coturn_pid 2>/dev/null || fail "turnserver $name exited"
		nsx "$NS_T" ss -Hlun "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	fail "turnserver $name does not listen on $T:$port"
}

# start_icegw NAME TURN_OPTIONS...
start_icegw() {
	local name=$1
	shift
	ip netns exec "$NS_GW" "$icegw" --no-huge --no-pci --no-shconf -l 0-1 -m 256 --file-prefix "icegw-turn-$$" \
		--log-level=lib.eal:error --log-level=lib.telemetry:error \
		--vdev net_af_packet0,iface=vg -- \
		--ip $GW --ng 127.0.0.1:$NG --port-min $PMIN --port-max $PMAX \
		--live-clock --duration 120 ${E2E_TRACE:+--trace "$work/trace-$name.txt"} "$@" \
		>"$work/icegw-$name.log" 2>&1 &
	icegw_pid=$!
	pids+=("$icegw_pid")
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
	# the endpoints learn the gateway's MAC (a datagram to the discard port). Not coturn's
	# namespace: icegw would learn coturn's MAC from its ARP request, and the point is that
	# icegw asks for it itself as its workers start (coturn's kernel learns icegw's from that
	# request), so no first Allocate is dropped for want of it (turncall.py warn: TURN-drops 0)
	up=0
	for _ in $(seq 100); do
		kill -0 $icegw_pid 2>/dev/null || fail "icegw exited"
		for n in "$NS_A" "$NS_B"; do
			nsx "$n" bash -c "echo > /dev/udp/$GW/9" 2>/dev/null
		done
		sleep 0.1
		if ip -n "$NS_A" neigh show $GW | grep -q lladdr && ip -n "$NS_B" neigh show $GW | grep -q lladdr; then
			up=1
			break
		fi
	done
	[ $up = 1 ] || fail "icegw does not answer ARP for $GW"
}

turn_opts() {
	echo --turn-server "$1" --turn-username alice --turn-password "${2:-secret}"
}

# ---------------------------------------------------------------- cases
# case_relay LEG: the leg (b: facing the answerer B, a: facing the offerer A) made relay-only
case_relay() {
	local leg=$1 name=relay pa pb pd rel rport peer other peer_ip other_ip
	[ "$leg" = a ] && name="relay-a"
	if [ "$leg" = a ]; then peer=a other=b peer_ip=$A other_ip=$B; else peer=b other=a peer_ip=$B other_ip=$A; fi
	echo "== $name"
	# the endpoints wait for their remote SDP files: none may be left from an earlier case
	rm -f "$work"/a.sdp "$work"/a-remote.sdp "$work"/a.out "$work"/b.sdp "$work"/b-remote.sdp "$work"/b.out
	# shellcheck disable=SC2046
	start_icegw "$name" $(turn_opts $T:$TPORT)
	ip netns exec "$NS_A" "$nicepeer" --mode rfc5245 --role controlling --bind $A --rtp \
		--local-sdp "$work/a.sdp" --remote-sdp "$work/a-remote.sdp" --timeout 40 --linger 4 \
		>"$work/a.out" 2>&1 &
	pa=$!; pids+=("$pa")
	ip netns exec "$NS_B" "$nicepeer" --mode rfc5245 --role controlled --bind $B --rtp \
		--local-sdp "$work/b.sdp" --remote-sdp "$work/b-remote.sdp" --timeout 40 --linger 4 \
		>"$work/b.out" 2>&1 &
	pb=$!; pids+=("$pb")
	ip netns exec "$NS_GW" $py "$here/turncall.py" call --ng 127.0.0.1:$NG --gw $GW --relay-ip $T \
		--a-local "$work/a.sdp" --a-remote "$work/a-remote.sdp" --a-out "$work/a.out" \
		--b-local "$work/b.sdp" --b-remote "$work/b-remote.sdp" --b-out "$work/b.out" \
		--relay-leg "$leg" --media-wait 30 --result "$work/$name.result" >"$work/driver-$name.out" 2>&1 &
	pd=$!; pids+=("$pd")
	wait_pid "$pd" 60 || fail "$name: turncall.py did not end"
	local rc_d=$wait_rc
	wait_pid "$pa" 60 || fail "$name: nicepeer A did not end"
	local rc_a=$wait_rc
	wait_pid "$pb" 60 || fail "$name: nicepeer B did not end"
	local rc_b=$wait_rc
	echo "-- turncall.py"; cat "$work/driver-$name.out"
	for f in a b; do echo "-- nicepeer $f"; cat "$work/$f.out"; done
	[ "$rc_d" = 0 ] || fail "$name: turncall.py exited $rc_d"
	[ "$rc_a" = 0 ] || fail "$name: nicepeer A exited $rc_a"
	[ "$rc_b" = 0 ] || fail "$name: nicepeer B exited $rc_b"
	drop_pid "$pa"; drop_pid "$pb"; drop_pid "$pd"
	rel=$(sed -n 's/^relayed-address //p' "$work/$name.result")
	rport=${rel##*:}
	[ -n "$rport" ] || fail "$name: no relayed address"
	# the relay-only side's ICE went through the relay: its endpoint's selected pair's remote
	# side is icegw's relayed address; the other endpoint's is icegw's host port
	grep -Eq "^selected $peer_ip:[0-9]+ $T:$rport\$" "$work/$peer.out" ||
		fail "$name: ${peer^^} did not select the relay $rel"
	grep -Eq "^selected $other_ip:[0-9]+ $GW:[0-9]+\$" "$work/$other.out" ||
		fail "$name: ${other^^} did not select the gateway"
	local ssrc_a ssrc_b
	ssrc_a=$(sed -n 's/^rtp ssrc \(0x[0-9a-f]*\)$/\1/p' "$work/a.out")
	ssrc_b=$(sed -n 's/^rtp ssrc \(0x[0-9a-f]*\)$/\1/p' "$work/b.out")
	grep -Eq "^rtp sent [1-9][0-9]* received [1-9][0-9]* from ssrc $ssrc_b," "$work/a.out" ||
		fail "$name: A did not receive B's RTP"
	grep -Eq "^rtp sent [1-9][0-9]* received [1-9][0-9]* from ssrc $ssrc_a," "$work/b.out" ||
		fail "$name: B did not receive A's RTP"
	stop_icegw
	# coturn's view (verbose log): the relay-only leg's component 1 allocation is the session
	# whose client is that leg's port; it got the permission for its endpoint, the channel,
	# relayed traffic with it, and after delete the Refresh with LIFETIME 0 that released it
	local log=$work/coturn.log port sid
	port=$(sed -n 's/^leg-port //p' "$work/$name.result")
	sid=$(sed -n "s/^.*session \([0-9]*\): closed .*local $T:$TPORT, remote $GW:$port, .*$/\1/p" "$log" | tail -n 1)
	echo "-- coturn log, session ${sid:-?} (leg $leg port $port)"
	grep -F "session $sid:" "$log"
	[ -n "$sid" ] || fail "$name: coturn closed no session from $GW:$port"
	grep -Eq "session $sid: .*ALLOCATE processed, success" "$log" || fail "$name: no Allocate success"
	grep -Eq "session $sid: peer $peer_ip lifetime updated" "$log" || fail "$name: no permission for $peer_ip"
	grep -Eq "session $sid: .*CREATE_PERMISSION processed, success" "$log" || fail "$name: no CreatePermission"
	grep -Eq "session $sid: .*CHANNEL_BIND processed, success" "$log" || fail "$name: no ChannelBind"
	grep -Eq "session $sid: peer usage: .*, rp=[1-9][0-9]*, rb=[0-9]+, sp=[1-9]" "$log" ||
		fail "$name: coturn relayed nothing between the allocation and $peer_ip"
	grep -Eq "session $sid: refreshed, .*lifetime=0" "$log" || fail "$name: no Refresh with LIFETIME 0 (Deallocate)"
	grep -Eq "session $sid: delete:" "$log" || fail "$name: the allocation was not deleted"
	# every allocation icegw made (both legs, one per component: no rtcp-mux here) was released
	local n_alloc n_freed
	n_alloc=$(grep -c "ALLOCATE processed, success" "$log")
	n_freed=$(grep -Ec "session [0-9]+: refreshed, .*lifetime=0" "$log")
	[ "$n_alloc" -ge 4 ] && [ "$n_alloc" = "$n_freed" ] ||
		fail "$name: $n_alloc allocations, $n_freed released with LIFETIME 0"
	echo "ok: coturn: $n_alloc allocations, all released by Deallocate"
	echo "ok $name"
}

# case_warn NAME EXPECT_HEX TURN_SERVER [PASSWORD] [RELAY_IP]
case_warn() {
	local name=$1 expect=$2 server=$3 pass=${4:-secret} relay=${5:-}
	echo "== $name"
	# shellcheck disable=SC2046
	start_icegw "$name" $(turn_opts "$server" "$pass")
	nsx "$NS_GW" $py "$here/turncall.py" warn --ng 127.0.0.1:$NG --gw $GW --expect "$expect" \
		${relay:+--relay-ip $relay} >"$work/driver-$name.out" 2>&1
	local rc=$?
	echo "-- turncall.py"; cat "$work/driver-$name.out"
	[ $rc = 0 ] || fail "$name: turncall.py exited $rc"
	stop_icegw
	echo "ok $name"
}

setup_net
start_coturn coturn $TPORT
for c in $cases; do
	case $c in
	relay) case_relay b ;;
	relay-a) case_relay a ;;
	credentials)
		case_warn credentials 0x4000 $T:$TPORT wrong
		grep -q "check_stun_auth: user alice credentials are incorrect" "$work/coturn.log" ||
			fail "credentials: coturn did not refuse the credentials"
		;;
	unreachable) case_warn unreachable 0x1 $T:$TPORT_DEAD ;;
	alternate)
		start_coturn coturn-alt $TPORT_ALT --alternate-server=$T:$TPORT
		case_warn alternate 0x400000 $T:$TPORT_ALT secret $T
		grep -q "error 300: Try Alternate" "$work/coturn-alt.log" ||
			fail "alternate: the redirecting coturn logged no 300"
		;;
	*) fail "unknown case $c" ;;
	esac
done
cleanup
trap - EXIT
for n in "$NS_A" "$NS_B" "$NS_GW" "$NS_T" "$NS_SW"; do
	ip netns list | grep -qw "$n" && { echo "FAIL: namespace $n left behind"; exit 1; }
done
echo "PASS: turn-call"
exit 0
