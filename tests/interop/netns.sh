# Interop test helper, sourced by tests/interop/*.sh: two network namespaces joined by a veth
# pair, and run_pair, which runs one ICE peer in each with an SDP exchange through files.
#
# Any peer program with icepeer's command-line shape works (icepeer, aiopeer.py, nicepeer):
# run_pair appends --bind IP --local-sdp FILE --remote-sdp FILE --timeout S to each command.
#
#   . netns.sh
#   interop_require                       # exit 77 unless root and `ip netns` work
#   netns_setup                           # namespaces $NS_A / $NS_B, addresses $IP_A / $IP_B
#   run_pair NAME EXPECT_A EXPECT_B "CMD_A ..." "CMD_B ..."
#
# EXPECT is "ok" (exit 0, exactly one `selected` line, data exchanged) or "fail" (exit 1 or 2,
# no data exchange finished). With "ok" on both sides the two selected pairs must mirror each
# other. SDP_FILTER_A2B / SDP_FILTER_B2A (sed scripts) rewrite an SDP on its way, to make a
# peer read wrong credentials. Outputs stay in $RP_DIR/{a,b}.{out,err} for further checks.
# Network: only the namespaces made here (10.99.N.0/24), removed on exit even on failure.

RP_TIMEOUT=${RP_TIMEOUT:-20}
NS_A= NS_B=
_NETNS_PIDS=
_NETNS_TMP=

_netns_cleanup() {
	for pid in $_NETNS_PIDS; do
		kill "$pid" 2>/dev/null
	done
	[ -n "$NS_A" ] && ip netns del "$NS_A" 2>/dev/null
	[ -n "$NS_B" ] && ip netns del "$NS_B" 2>/dev/null
	[ -n "$_NETNS_TMP" ] && rm -rf "$_NETNS_TMP"
}

interop_skip() {
	echo "SKIP: $*"
	exit 77
}

interop_require() {
	[ "$(id -u)" = 0 ] || interop_skip "needs root for network namespaces"
	command -v ip >/dev/null 2>&1 || interop_skip "no ip(8)"
	ip netns list >/dev/null 2>&1 || interop_skip "ip netns unavailable"
}

netns_setup() {
	# names carry $$ so parallel tests never meet; the subnet lives only inside them
	local n=$(( $$ % 250 + 1 ))
	NS_A="icegw_a_$$"
	NS_B="icegw_b_$$"
	IP_A="10.99.$n.1"
	IP_B="10.99.$n.2"
	trap _netns_cleanup EXIT
	trap 'exit 130' INT TERM
	_NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/icegw-interop.XXXXXX") || exit 1
	ip netns add "$NS_A" || interop_skip "cannot create a network namespace"
	ip netns add "$NS_B" || exit 1
	ip link add "iva$$" type veth peer name "ivb$$" || exit 1
	ip link set "iva$$" netns "$NS_A" || exit 1
	ip link set "ivb$$" netns "$NS_B" || exit 1
	ip -n "$NS_A" addr add "$IP_A/24" dev "iva$$" || exit 1
	ip -n "$NS_B" addr add "$IP_B/24" dev "ivb$$" || exit 1
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" link set lo up || exit 1
	done
	ip -n "$NS_A" link set "iva$$" up || exit 1
	ip -n "$NS_B" link set "ivb$$" up || exit 1
}

# Copies SRC to DST once SRC exists, through an optional sed script (atomically, like the
# peers themselves write). Bounded by RP_TIMEOUT.
_relay() {
	local src=$1 dst=$2 filter=$3 i=0
	while [ ! -s "$src" ]; do
		i=$((i + 1))
		[ $i -gt $((RP_TIMEOUT * 20)) ] && return 1
		sleep 0.05
	done
	if [ -n "$filter" ]; then
		sed -e "$filter" "$src" >"$dst.tmp" || return 1
	else
		cp "$src" "$dst.tmp" || return 1
	fi
	mv "$dst.tmp" "$dst"
}

_check_side() {
	local side=$1 expect=$2 rc=$3 out=$4 nsel
	nsel=$(grep -c '^selected ' "$out")
	case $expect in
	ok)
		if [ "$rc" != 0 ]; then
			echo "FAIL: peer $side exited $rc, expected 0"; return 1
		fi
		if [ "$nsel" != 1 ]; then
			echo "FAIL: peer $side printed $nsel 'selected' lines, expected 1"; return 1
		fi
		;;
	fail)
		if [ "$rc" != 1 ] && [ "$rc" != 2 ]; then
			echo "FAIL: peer $side exited $rc, expected an ICE failure (1) or timeout (2)"
			return 1
		fi
		if grep -q '^data sent=' "$out"; then
			echo "FAIL: peer $side exchanged data though it should not have"; return 1
		fi
		;;
	*)
		echo "FAIL: bad expectation '$expect'"; return 1
		;;
	esac
	return 0
}

run_pair() {
	local name=$1 exp_a=$2 exp_b=$3 cmd_a=$4 cmd_b=$5
	local d pa pb ra rb r1 r2 t0 bad=0 sel_a sel_b

	RP_DIR="$_NETNS_TMP/$(echo "$name" | tr -c 'A-Za-z0-9_.-' '_')"
	d=$RP_DIR
	mkdir -p "$d" || return 1
	echo "=== $name"
	_relay "$d/a.sdp" "$d/a2b.sdp" "$SDP_FILTER_A2B" & r1=$!
	_relay "$d/b.sdp" "$d/b2a.sdp" "$SDP_FILTER_B2A" & r2=$!
	# shellcheck disable=SC2086 # the commands are word lists on purpose
	ip netns exec "$NS_A" $cmd_a --bind "$IP_A" --local-sdp "$d/a.sdp" \
		--remote-sdp "$d/b2a.sdp" --timeout "$RP_TIMEOUT" >"$d/a.out" 2>"$d/a.err" & pa=$!
	# shellcheck disable=SC2086
	ip netns exec "$NS_B" $cmd_b --bind "$IP_B" --local-sdp "$d/b.sdp" \
		--remote-sdp "$d/a2b.sdp" --timeout "$RP_TIMEOUT" >"$d/b.out" 2>"$d/b.err" & pb=$!
	_NETNS_PIDS="$_NETNS_PIDS $r1 $r2 $pa $pb"
	# every peer bounds itself; this watchdog bounds a peer that does not
	t0=$(date +%s)
	while kill -0 "$pa" 2>/dev/null || kill -0 "$pb" 2>/dev/null; do
		if [ $(( $(date +%s) - t0 )) -gt $((RP_TIMEOUT + 10)) ]; then
			echo "FAIL: peers still running after $((RP_TIMEOUT + 10)) s: killing them"
			kill "$pa" "$pb" 2>/dev/null
			bad=1
			break
		fi
		sleep 0.1
	done
	wait "$pa"; ra=$?
	wait "$pb"; rb=$?
	kill "$r1" "$r2" 2>/dev/null
	wait "$r1" "$r2" 2>/dev/null
	echo "--- A ($cmd_a) exit $ra"; cat "$d/a.out"; sed 's/^/  stderr: /' "$d/a.err" | head -20
	echo "--- B ($cmd_b) exit $rb"; cat "$d/b.out"; sed 's/^/  stderr: /' "$d/b.err" | head -20
	# a sanitizer build reports UBSan findings on stderr without changing the exit code
	if grep -q 'runtime error:\|AddressSanitizer' "$d/a.err" "$d/b.err"; then
		echo "FAIL: sanitizer report in a peer's stderr"
		bad=1
	fi
	_check_side A "$exp_a" "$ra" "$d/a.out" || bad=1
	_check_side B "$exp_b" "$rb" "$d/b.out" || bad=1
	if [ "$exp_a" = ok ] && [ "$exp_b" = ok ] && [ $bad = 0 ]; then
		# without NAT each side's remote is the other's local
		sel_a=$(sed -n 's/^selected \([^ ]*\) \([^ ]*\)$/\1 \2/p' "$d/a.out")
		sel_b=$(sed -n 's/^selected \([^ ]*\) \([^ ]*\)$/\2 \1/p' "$d/b.out")
		if [ "$sel_a" != "$sel_b" ]; then
			echo "FAIL: selected pairs do not mirror: A '$sel_a', B reversed '$sel_b'"
			bad=1
		fi
		case $sel_a in
		"$IP_A":*" $IP_B":*) ;;
		*) echo "FAIL: selected pair '$sel_a' is not $IP_A -> $IP_B"; bad=1 ;;
		esac
	fi
	[ $bad = 0 ] && echo "=== $name: PASS" || echo "=== $name: FAIL"
	return $bad
}
