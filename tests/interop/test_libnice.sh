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
	run_pair "$CASE" ok ok "$N --mode rfc5245 --role controlling --regular-nomination" \
		"$P --dialect rfc8445 --role controlled --regular-nomination" || exit 1
	data_both_ways b a ;;
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
	run_pair "$CASE" ok ok "$P --dialect ms-ice2 --role controlling" \
		"$N --mode oc2007r2 --role controlled" || exit 1
	data_both_ways a b ;;
ms-ice2-controlled)
	run_pair "$CASE" ok ok "$N --mode oc2007r2 --role controlling" \
		"$P --dialect ms-ice2 --role controlled" || exit 1
	data_both_ways b a ;;
mismatch-ms-ice2-rfc5245)
	mismatch "$P --dialect ms-ice2 --role controlling" "$N --mode rfc5245 --role controlled" ;;
mismatch-rfc8445-oc2007r2)
	mismatch "$P --dialect rfc8445 --role controlled" "$N --mode oc2007r2 --role controlling" ;;
*)
	echo "unknown case $CASE"; exit 1 ;;
esac
