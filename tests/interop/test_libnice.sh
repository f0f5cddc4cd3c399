#!/bin/bash
# Interop: icepeer against libnice 0.1.21 (nicepeer) across a veth pair between two namespaces,
# one case per run: RFC 8445 against RFC5245 mode in both roles and nominations, lite on
# either side, MS-ICE2 against OC2007R2 mode in both roles, and the two dialect mismatches.
ICEPEER=${1:?usage: test_libnice.sh ICEPEER NICEPEER CASE}
NICEPEER=${2:?usage: test_libnice.sh ICEPEER NICEPEER CASE}
CASE=${3:?usage: test_libnice.sh ICEPEER NICEPEER CASE}
. "$(dirname "$0")/netns.sh"
interop_require
[ -x "$ICEPEER" ] || interop_skip "icepeer not built: $ICEPEER"
[ -x "$NICEPEER" ] || interop_skip "nicepeer not built (needs libnice-dev): $NICEPEER"
netns_setup

P="$ICEPEER --trace"
N="$NICEPEER"

fail() {
	echo "FAIL: $*"
	exit 1
}

# run_pair's "ok" already means exit 0; say plainly which side missed data if one did.
# icepeer prints "data sent=S received=R" once it has sent all and received enough;
# nicepeer prints "received R" once it has sent all (5) and received at least 3.
data_both_ways() {
	local ice=$1 nice=$2
	grep -q '^data sent=5 received=[3-9]' "$RP_DIR/$ice.out" ||
		fail "icepeer did not send 5 and receive 3 datagrams"
	grep -q '^received [3-9]' "$RP_DIR/$nice.out" ||
		fail "nicepeer did not receive 3 datagrams"
}

# A mismatch must end on icepeer's own timers, naming ICEWarn 0x20, well before the timeout.
mismatch() {
	local start=$(date +%s)
	run_pair "$CASE" fail fail "$1" "$2" || exit 1
	grep -q '^state failed' "$RP_DIR/a.out" || fail "icepeer did not fail ICE"
	grep -q '^ICEWarn=0x[0-9a-f]*[2367abef]0 ' "$RP_DIR/a.out" ||
		fail "icepeer printed no ICEWarn with 0x20 (LOCAL_CONNECTIVITY_FAILED)"
	[ $(( $(date +%s) - start )) -lt "$RP_TIMEOUT" ] || fail "not within the timeout"
}

# MS-ICE2 on the wire, as libnice expects it (/work/shared/REFERENCE-MSICE.md): icepeer's
# checks carry CANDIDATE-IDENTIFIER (0x8054) and IMPLEMENTATION-VERSION (0x8070), its success
# responses IMPLEMENTATION-VERSION, its USERNAME is zero-padded to 4, nothing is malformed.
# Needs dumpcap and tshark (as does the regular-nomination check); without them only the
# exchange itself is checked.
CAP_PID=
cap_start() { # NS FILE
	if ! command -v dumpcap >/dev/null 2>&1 || ! command -v tshark >/dev/null 2>&1; then
		echo "note: no dumpcap/tshark: wire checks skipped"
		return 1
	fi
	ip netns exec "$1" dumpcap -q -i any -f udp -w "$2" >/dev/null 2>&1 & CAP_PID=$!
	_NETNS_PIDS="$_NETNS_PIDS $CAP_PID"
	for _ in $(seq 50); do
		[ -s "$2" ] && return 0
		sleep 0.1
	done
	fail "dumpcap did not start"
}

cap_check_ms_ice2() { # FILE ICEPEER_IP
	local f=$1 ip=$2 bad
	sleep 0.3
	kill "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	[ "$(tshark -r "$f" -Y _ws.malformed 2>/dev/null | wc -l)" = 0 ] ||
		fail "malformed STUN in the capture"
	bad=$(tshark -r "$f" -Y "stun && ip.src == $ip" -T fields -e stun.type -e stun.att.type \
		-e stun.att.length 2>/dev/null | awk -F'\t' '
		{ n = split($2, t, ","); split($3, l, ","); a = ""
		  for (i = 1; i <= n; i++) {
			a = a " " t[i]
			if (t[i] == "0x0006" && l[i] % 4) print "USERNAME length " l[i] " not padded"
		  }
		  if ($1 == "0x0001") { req++
			if (a !~ / 0x8054/) print "check without CANDIDATE-IDENTIFIER"
			if (a !~ / 0x8070/) print "check without IMPLEMENTATION-VERSION" }
		  if ($1 == "0x0101") { resp++
			if (a !~ / 0x8070/) print "response without IMPLEMENTATION-VERSION" } }
		END { if (!req) print "no check from icepeer"; if (!resp) print "no response from icepeer" }')
	[ -z "$bad" ] || fail "MS-ICE2 on the wire: $(echo "$bad" | sort | uniq -c | tr -s '\n ' '; ')"
	echo "MS-ICE2 wire checks passed"
}

case $CASE in
icepeer-controlling)
	run_pair "$CASE" ok ok "$P --dialect rfc8445 --role controlling" \
		"$N --mode rfc5245 --role controlled" || exit 1
	data_both_ways a b ;;
icepeer-controlled)
	run_pair "$CASE" ok ok "$N --mode rfc5245 --role controlling" \
		"$P --dialect rfc8445 --role controlled" || exit 1
	data_both_ways b a ;;
icepeer-controlled-regular)
	# libnice nominates with a second check; icepeer's own nomination setting must not matter
	pcap=$(mktemp -p "$_NETNS_TMP" XXXXXX.pcapng)
	cap_start "$NS_B" "$pcap" && cap=1
	run_pair "$CASE" ok ok "$N --mode rfc5245 --role controlling --regular-nomination" \
		"$P --dialect rfc8445 --role controlled --regular-nomination" || exit 1
	data_both_ways b a
	if [ -n "$cap" ]; then
		# libnice really nominated regularly: a plain check came before one with USE-CANDIDATE
		sleep 0.3
		kill "$CAP_PID" 2>/dev/null
		wait "$CAP_PID" 2>/dev/null
		tshark -r "$pcap" -Y "stun.type == 0x0001 && ip.src == $IP_A" -T fields \
			-e stun.att.type 2>/dev/null | awk '/0x0025/ { if (plain) ok = 1; exit }
			{ plain = 1 } END { exit !ok }' ||
			fail "libnice did not nominate with a separate check"
	fi
	;;
icepeer-lite)
	# icepeer is lite; libnice's SDP parser ignores a=ice-lite, so it is told to control
	run_pair "$CASE" ok ok "$P --dialect rfc8445 --role controlled --lite" \
		"$N --mode rfc5245 --role controlling" || exit 1
	data_both_ways a b
	! grep -q 'Sending connectivity check' "$RP_DIR/a.err" || fail "the lite side sent checks"
	;;
nicepeer-lite)
	# libnice is lite and says so (nicepeer adds a=ice-lite): icepeer, told to be
	# controlled, must control and nominate (RFC 8445 §6.1.1). libnice 0.1.21 still sends
	# checks of its own in lite mode, so that is not asserted.
	run_pair "$CASE" ok ok "$N --mode rfc5245 --role controlled --lite" \
		"$P --dialect rfc8445 --role controlled" || exit 1
	data_both_ways b a
	grep -q '^remote-sdp .* lite$' "$RP_DIR/b.out" || fail "icepeer did not see a=ice-lite"
	grep -q 'USE-CANDIDATE' "$RP_DIR/b.err" || fail "icepeer did not nominate"
	;;
ms-ice2-controlling)
	pcap=$(mktemp -p "$_NETNS_TMP" XXXXXX.pcapng)
	cap_start "$NS_A" "$pcap" && cap=1
	run_pair "$CASE" ok ok "$P --dialect ms-ice2 --role controlling" \
		"$N --mode oc2007r2 --role controlled" || exit 1
	data_both_ways a b
	[ -z "$cap" ] || cap_check_ms_ice2 "$pcap" "$IP_A" ;;
ms-ice2-controlled)
	pcap=$(mktemp -p "$_NETNS_TMP" XXXXXX.pcapng)
	cap_start "$NS_B" "$pcap" && cap=1
	run_pair "$CASE" ok ok "$N --mode oc2007r2 --role controlling" \
		"$P --dialect ms-ice2 --role controlled" || exit 1
	data_both_ways b a
	[ -z "$cap" ] || cap_check_ms_ice2 "$pcap" "$IP_B" ;;
mismatch-ms-ice2-rfc5245)
	mismatch "$P --dialect ms-ice2 --role controlling" "$N --mode rfc5245 --role controlled" ;;
mismatch-rfc8445-oc2007r2)
	mismatch "$P --dialect rfc8445 --role controlled" "$N --mode oc2007r2 --role controlling" ;;
*)
	echo "unknown case $CASE"; exit 1 ;;
esac
