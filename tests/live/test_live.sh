#!/usr/bin/env bash
# Live test: icegw on a real DPDK port (net_af_packet on a veth) between two libnice
# endpoints, each completing ICE with the gateway and exchanging RTP-shaped datagrams
# that the gateway relays. Runs in RFC5245 mode (legs dialect rfc8445) and OC2007R2 mode
# (legs dialect ms-ice2).
#
# Topology: one L2 segment, a Linux bridge in a "switch" namespace with three veths:
#   ns-a  va 10.98.1.2/24  -- nicepeer A (controlling)
#   ns-b  vb 10.98.1.3/24  -- nicepeer B (controlling)
#   ns-gw vg (no kernel IP) -- icegw, net_af_packet0,iface=vg, --ip 10.98.1.1 (answers ARP)
#
# usage: test_live.sh ICEGW NICEPEER        exit 77 = skipped
set -uo pipefail
icegw=${1:-} nicepeer=${2:-}
SKIP=77

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces)"; exit $SKIP; }
[ -n "$icegw" ] && [ -x "$icegw" ] || { echo "SKIP: icegw not built"; exit $SKIP; }
[ -n "$nicepeer" ] && [ -x "$nicepeer" ] || { echo "SKIP: nicepeer not built (libnice)"; exit $SKIP; }
ip netns list >/dev/null 2>&1 || { echo "SKIP: ip netns does not work here"; exit $SKIP; }
for t in ethtool nstat python3; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit $SKIP; }
done

GW=10.98.1.1 A=10.98.1.2 B=10.98.1.3
PORT_A=20000 PORT_B=20002
tag=il$$
NS_SW=$tag-sw NS_A=$tag-a NS_B=$tag-b NS_GW=$tag-gw
work=$(mktemp -d)
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		# bounded: a process that ignores SIGTERM gets SIGKILL after 3 s
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	pids=()
	for n in "$NS_A" "$NS_B" "$NS_GW" "$NS_SW"; do
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }

# ---------------------------------------------------------------- topology
setup_net() {
	local n
	for n in "$NS_SW" "$NS_A" "$NS_B" "$NS_GW"; do
		ip netns add "$n" || { echo "SKIP: cannot create a network namespace"; exit $SKIP; }
		ip -n "$n" link set lo up
	done
	ip -n "$NS_SW" link add br0 type bridge || fail "no bridge"
	ip -n "$NS_SW" link set br0 up
	for n in a b g; do
		local ns
		case $n in a) ns=$NS_A ;; b) ns=$NS_B ;; g) ns=$NS_GW ;; esac
		ip -n "$NS_SW" link add s$n type veth peer name v$n netns "$ns" || fail "veth $n"
		ip -n "$NS_SW" link set s$n master br0
		ip -n "$NS_SW" link set s$n up
	done
	ip -n "$NS_A" addr add $A/24 dev va
	ip -n "$NS_B" addr add $B/24 dev vb
	# The gateway's end: up, no IPv4 and no IPv6 (the kernel stays silent; DPDK owns it).
	nsx "$NS_GW" sysctl -qw net.ipv6.conf.vg.disable_ipv6=1
	for n in a b g; do
		local ns
		case $n in a) ns=$NS_A ;; b) ns=$NS_B ;; g) ns=$NS_GW ;; esac
		ip -n "$ns" link set v$n up
	done
	# The endpoints' kernels leave UDP checksums to "hardware" on a veth (CHECKSUM_PARTIAL):
	# af_packet hands DPDK the unfinished pseudo-header sum, the gateway's RFC 1624 update
	# of it yields garbage and the far kernel drops the relayed datagram (UDP InCsumErrors).
	# Real NICs deliver finished checksums; make the veths do the same.
	if [ -z "${LIVE_KEEP_CSUM_OFFLOAD:-}" ]; then
		nsx "$NS_A" ethtool -K va tx off >/dev/null || fail "ethtool -K va tx off"
		nsx "$NS_B" ethtool -K vb tx off >/dev/null || fail "ethtool -K vb tx off"
	fi
}

# ---------------------------------------------------------------- SDP <-> legs.conf
# make_conf MODE DIALECT: A's and B's SDPs -> legs.conf for the gateway and the two remote
# SDPs that describe the gateway's legs to the endpoints.
make_conf() {
	python3 - "$work" "$2" "$GW" "$PORT_A" "$PORT_B" <<'EOF'
import sys, os
work, dialect, gw, port_a, port_b = sys.argv[1:]

def parse(path):
    d = {"cands": []}
    for line in open(path).read().splitlines():
        line = line.strip()
        if line.startswith("a=ice-ufrag:"):
            d["ufrag"] = line[len("a=ice-ufrag:"):]
        elif line.startswith("a=ice-pwd:"):
            d["pwd"] = line[len("a=ice-pwd:"):]
        elif line.startswith("a=candidate:"):
            t = line[2:].split()
            # candidate:FOUNDATION COMP TRANSPORT PRIO ADDR PORT typ TYPE
            if t[1] == "1" and t[2].lower() == "udp" and t[7] == "host":
                d["cands"].append((line[2:], t[4], t[5]))
    if not d.get("ufrag") or not d.get("pwd") or not d["cands"]:
        sys.exit("bad SDP %s" % path)
    return d

def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)

sdp = {"a": parse(os.path.join(work, "a.sdp")), "b": parse(os.path.join(work, "b.sdp"))}
port = {"a": int(port_a), "b": int(port_b)}
gw_cred = {"a": ("gwa1", "gatewaypassword-a-live01"), "b": ("gwb1", "gatewaypassword-b-live01")}
conf = ["[gateway]", "ip = " + gw, "seed = 7"]
for leg, peer in (("a", "b"), ("b", "a")):
    e = sdp[leg]
    conf += ["", "[leg %s]" % leg, "port = %d" % port[leg], "rtcp-mux = yes", "ice = full",
             "dialect = " + dialect, "role = controlled",
             "ufrag = " + gw_cred[leg][0], "pwd = " + gw_cred[leg][1],
             "remote-ufrag = " + e["ufrag"], "remote-pwd = " + e["pwd"]]
    conf += ["remote-candidate = " + c[0] for c in e["cands"]]
    conf += ["default-remote = %s:%s" % (e["cands"][0][1], e["cands"][0][2]),
             "peer = " + peer, "trace = yes"]
write_atomic(os.path.join(work, "legs.conf"), "\n".join(conf) + "\n")
for leg in ("a", "b"):
    u, p = gw_cred[leg]
    text = ("m=audio %d ICE/SDP\nc=IN IP4 %s\na=ice-ufrag:%s\na=ice-pwd:%s\n"
            "a=candidate:1 1 UDP 2130706431 %s %d typ host\n" % (port[leg], gw, u, p, gw, port[leg]))
    # written later, once icegw is up: the endpoints poll for these files
    write_atomic(os.path.join(work, "gw-for-%s.sdp.ready" % leg), text)
EOF
}

# wait_for FILE PATTERN SECONDS
wait_for() {
	local i
	for i in $(seq $(( $3 * 10 ))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

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

# ---------------------------------------------------------------- one run
run_mode() {
	local mode=$1 dialect=$2 d=$work/$1 pa pb pg
	mkdir -p "$d"
	echo "== $mode (gateway legs: $dialect)"
	rm -f "$work"/*.sdp "$work"/*.ready "$work"/legs.conf
	# forget the gateway's MAC from a previous run: each run must see icegw answer ARP
	ip -n "$NS_A" neigh flush dev va
	ip -n "$NS_B" neigh flush dev vb

	ip netns exec "$NS_A" "$nicepeer" --mode "$mode" --role controlling --bind $A --rtp \
		--local-sdp "$work/a.sdp" --remote-sdp "$work/gw-for-a.sdp" --timeout 40 --linger 2 \
		>"$d/a.out" 2>&1 &
	pa=$!; pids+=("$pa")
	ip netns exec "$NS_B" "$nicepeer" --mode "$mode" --role controlling --bind $B --rtp \
		--local-sdp "$work/b.sdp" --remote-sdp "$work/gw-for-b.sdp" --timeout 40 --linger 2 \
		>"$d/b.out" 2>&1 &
	pb=$!; pids+=("$pb")
	for f in a b; do
		wait_for "$work/$f.sdp" "a=candidate" 10 || { cat "$d/$f.out"; fail "$mode: no SDP from $f"; }
	done
	make_conf "$mode" "$dialect" || fail "$mode: cannot make legs.conf"
	cp "$work/legs.conf" "$d/"

	ip netns exec "$NS_GW" "$icegw" --no-huge --no-pci --no-shconf -l 0 -m 256 --file-prefix "icegw-live-$$" \
		--log-level=lib.eal:error --log-level=lib.telemetry:error \
		--vdev net_af_packet0,iface=vg -- \
		--legs "$d/legs.conf" --ip $GW --trace "$d/trace.txt" --live-clock --duration 60 \
		>"$d/report.txt" 2>"$d/icegw.err" &
	pg=$!; pids+=("$pg")
	# icegw is up when it answers ARP for its address. A datagram to the discard port
	# makes each endpoint's kernel ask (icegw has no leg there: one "no leg" drop each);
	# the gateway also asks for them itself when its first checks find no next hop.
	local up=0
	for _ in $(seq 100); do
		kill -0 "$pg" 2>/dev/null || break
		nsx "$NS_A" bash -c "echo > /dev/udp/$GW/9" 2>/dev/null
		nsx "$NS_B" bash -c "echo > /dev/udp/$GW/9" 2>/dev/null
		sleep 0.1
		if ip -n "$NS_A" neigh show $GW | grep -q lladdr &&
		   ip -n "$NS_B" neigh show $GW | grep -q lladdr; then
			up=1
			break
		fi
	done
	[ $up = 1 ] || { cat "$d/icegw.err" "$d/report.txt"; fail "$mode: icegw does not answer ARP"; }
	mv "$work/gw-for-a.sdp.ready" "$work/gw-for-a.sdp"
	mv "$work/gw-for-b.sdp.ready" "$work/gw-for-b.sdp"

	local rc_a rc_b
	wait_pid "$pa" 60 || fail "$mode: nicepeer A did not end"
	rc_a=$wait_rc
	wait_pid "$pb" 60 || fail "$mode: nicepeer B did not end"
	rc_b=$wait_rc
	kill -INT "$pg" 2>/dev/null
	wait_pid "$pg" 20 || fail "$mode: icegw did not stop on SIGINT"
	local rc_g=$wait_rc
	pids=()
	for f in a b; do echo "-- nicepeer $f"; cat "$d/$f.out"; done
	echo "-- icegw"; cat "$d/report.txt"
	# relayed datagrams with a bad UDP checksum die here (see the ethtool note above)
	echo "-- UDP checksum errors: A $(nsx "$NS_A" nstat -az UdpInCsumErrors | awk '/UdpInCsumErrors/ { print $2 }')," \
		"B $(nsx "$NS_B" nstat -az UdpInCsumErrors | awk '/UdpInCsumErrors/ { print $2 }')"
	[ -s "$d/icegw.err" ] && { echo "-- icegw stderr"; cat "$d/icegw.err"; }
	[ "$rc_a" = 0 ] || fail "$mode: nicepeer A exited $rc_a"
	[ "$rc_b" = 0 ] || fail "$mode: nicepeer B exited $rc_b"
	[ "$rc_g" = 0 ] || fail "$mode: icegw exited $rc_g"

	# both endpoints selected a pair whose remote side is the gateway's leg
	grep -Eq "^selected $A:[0-9]+ $GW:$PORT_A\$" "$d/a.out" || fail "$mode: A did not select the gateway"
	grep -Eq "^selected $B:[0-9]+ $GW:$PORT_B\$" "$d/b.out" || fail "$mode: B did not select the gateway"
	# each received the other's RTP, relayed by the gateway
	local ssrc_a ssrc_b
	ssrc_a=$(sed -n 's/^rtp ssrc \(0x[0-9a-f]*\)$/\1/p' "$d/a.out")
	ssrc_b=$(sed -n 's/^rtp ssrc \(0x[0-9a-f]*\)$/\1/p' "$d/b.out")
	grep -Eq "^rtp sent [0-9]+ received [1-9][0-9]* from ssrc $ssrc_b," "$d/a.out" ||
		fail "$mode: A did not receive B's RTP"
	grep -Eq "^rtp sent [0-9]+ received [1-9][0-9]* from ssrc $ssrc_a," "$d/b.out" ||
		fail "$mode: B did not receive A's RTP"
	# the gateway: both legs completed, RTP relayed both ways
	local r=$d/report.txt
	grep -q "ICE: 2 legs completed, 0 failed" "$r" || fail "$mode: gateway legs not both completed"
	[ "$(grep -c "^  ICE .*: completed" "$r")" = 2 ] || fail "$mode: a leg is not completed"
	grep -Eq "^  selected \[1\] $GW:$PORT_A <-> $A:[0-9]+$" "$r" || fail "$mode: leg a selected pair"
	grep -Eq "^  selected \[1\] $GW:$PORT_B <-> $B:[0-9]+$" "$r" || fail "$mode: leg b selected pair"
	grep -Eq "^  RTP ssrc $ssrc_a: received [1-9]" "$r" || fail "$mode: gateway counted no RTP from A"
	grep -Eq "^  RTP ssrc $ssrc_b: received [1-9]" "$r" || fail "$mode: gateway counted no RTP from B"
	[ "$(grep -Ec "^  in [0-9]+ pkts [0-9]+ bytes \(RTP [1-9]" "$r")" = 2 ] ||
		fail "$mode: a leg has no RTP in"
	# the endpoints either asked for the gateway (a reply) or learned it from the gateway's
	# own request for them (icegw asks for unknown next hops): either is ARP at work
	grep -Eq "ARP replies [1-9]|requests [1-9]" "$r" || fail "$mode: no ARP exchange counted"

	# nothing left behind in the gateway's namespace: no process, no kernel address
	[ -z "$(ip netns pids "$NS_GW")" ] || fail "$mode: processes left in $NS_GW"
	[ -z "$(ip -n "$NS_GW" -o addr show dev vg)" ] || fail "$mode: vg has an address"
	[ -z "$(ip netns pids "$NS_A")$(ip netns pids "$NS_B")" ] || fail "$mode: processes left"
	echo "ok $mode"
}

setup_net
run_mode rfc5245 rfc8445
run_mode oc2007r2 ms-ice2
cleanup
trap - EXIT
for n in "$NS_A" "$NS_B" "$NS_GW" "$NS_SW"; do
	ip netns list | grep -qw "$n" && fail "namespace $n left behind"
done
echo "PASS"
