# Shared by test_turn_call.sh and test_msturn_call.sh (sourced, not run): process and namespace
# helpers and the five-namespace topology both use. The caller sets SKIP, work, pids, the
# NS_* names and the A / B / T addresses before sourcing it.

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
	for n in "$NS_A" "$NS_B" "$NS_GW" "$NS_T" "$NS_SW"; do
		ip netns del "$n" 2>/dev/null
	done
	if [ -n "${E2E_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*"
	for f in "$work"/*.out "$work"/*.log; do
		[ -f "$f" ] && { echo "--- $f (tail)"; grep -v "Protocol not supported" "$f" | tail -n 40; }
	done
	exit 1
}
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
drop_pid() {
	local p keep=()
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}

# wait_pid PID SECONDS: 0 when it ended in time (its status in $wait_rc)
wait_pid() {
	local _
	for _ in $(seq $(( $2 * 10 ))); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"; wait_rc=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- topology
setup_net() {
	local n ns
	for n in "$NS_SW" "$NS_A" "$NS_B" "$NS_GW" "$NS_T"; do
		ip netns add "$n" || { echo "SKIP: cannot create a network namespace"; exit $SKIP; }
		ip -n "$n" link set lo up
	done
	ip -n "$NS_SW" link add br0 type bridge || fail "no bridge"
	ip -n "$NS_SW" link set br0 up
	for n in a b g t; do
		case $n in a) ns=$NS_A ;; b) ns=$NS_B ;; g) ns=$NS_GW ;; t) ns=$NS_T ;; esac
		ip -n "$NS_SW" link add s$n type veth peer name v$n netns "$ns" || fail "veth $n"
		ip -n "$NS_SW" link set s$n master br0
		ip -n "$NS_SW" link set s$n up
	done
	ip -n "$NS_A" addr add $A/24 dev va
	ip -n "$NS_B" addr add $B/24 dev vb
	ip -n "$NS_T" addr add $T/24 dev vt
	nsx "$NS_GW" sysctl -qw net.ipv6.conf.vg.disable_ipv6=1
	for n in a b g t; do
		case $n in a) ns=$NS_A ;; b) ns=$NS_B ;; g) ns=$NS_GW ;; t) ns=$NS_T ;; esac
		ip -n "$ns" link set v$n up
	done
	# finished UDP checksums from the kernels (see test_live.sh)
	nsx "$NS_A" ethtool -K va tx off >/dev/null || fail "ethtool -K va tx off"
	nsx "$NS_B" ethtool -K vb tx off >/dev/null || fail "ethtool -K vb tx off"
	nsx "$NS_T" ethtool -K vt tx off >/dev/null || fail "ethtool -K vt tx off"
}

# stop_icegw: SIGINT, a clean exit within 20 s, and no sanitizer report in its logs
stop_icegw() {
	kill -INT $icegw_pid 2>/dev/null
	wait_pid $icegw_pid 20 || fail "icegw did not stop on SIGINT"
	[ "$wait_rc" = 0 ] || fail "icegw exited $wait_rc"
	drop_pid $icegw_pid
	# a sanitizer build reports UBSan findings without changing the exit status
	! grep -q 'runtime error:\|AddressSanitizer' "$work"/icegw-*.log || fail "sanitizer report in icegw's log"
}
