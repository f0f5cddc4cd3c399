#!/bin/bash
# Interop: icepeer against aioice (aiopeer.py, python3-aioice) across a veth pair between two
# namespaces, one case per run: icepeer controlling, icepeer controlled, and wrong passwords.
ICEPEER=${1:?usage: test_aioice.sh ICEPEER CASE}
CASE=${2:?usage: test_aioice.sh ICEPEER CASE}
. "$(dirname "$0")/netns.sh"
interop_require
[ -x "$ICEPEER" ] || interop_skip "icepeer not built: $ICEPEER"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import aioice' 2>/dev/null ||
	interop_skip "python3-aioice not installed (for /usr/bin/python3)"
AIO="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/aiopeer.py"
netns_setup

P="$ICEPEER --trace --dialect rfc8445"
case $CASE in
icepeer-controlling)
	run_pair "$CASE" ok ok "$P --role controlling" "$AIO --dialect rfc8445 --role controlled" ;;
icepeer-controlled)
	run_pair "$CASE" ok ok "$AIO --dialect rfc8445 --role controlling" "$P --role controlled" ;;
icepeer-controlled-regular)
	# aioice nominates aggressively; icepeer's own setting must not matter when controlled
	run_pair "$CASE" ok ok "$AIO --dialect rfc8445 --role controlling" \
		"$P --role controlled --regular-nomination" ;;
role-conflict-*)
	# both claim the same role; aioice or icepeer switches, icepeer at most once
	role=${CASE#role-conflict-}
	run_pair "$CASE" ok ok "$P --role $role" "$AIO --dialect rfc8445 --role $role" || exit 1
	n=$(grep -c '^role ' "$RP_DIR/a.out")
	[ "$n" -le 1 ] || { echo "FAIL: icepeer changed role $n times"; exit 1; }
	;;
icepeer-lite)
	# icepeer is ICE-lite: aioice sees a=ice-lite, controls, and nominates with a second check
	run_pair "$CASE" ok ok "$P --role controlled --lite" "$AIO --dialect rfc8445 --role controlling" ||
		exit 1
	if grep -q 'Sending connectivity check' "$RP_DIR/a.err"; then
		echo "FAIL: the lite side sent checks"; exit 1
	fi
	;;
wrong-password-to-aioice)
	RP_TIMEOUT=12
	# aioice reads a wrong ice-pwd for icepeer: its checks fail integrity, icepeer answers
	# 431 and raises ICEWarn 0x400; neither side may finish the data exchange
	SDP_FILTER_A2B='s/^a=ice-pwd:.*/a=ice-pwd:WrongWrongWrongWrongWrong/' \
		run_pair "$CASE" fail fail "$P --role controlling" \
		"$AIO --dialect rfc8445 --role controlled" || exit 1
	grep -q '^ICEWarn=0x[0-9a-f]*4[0-9a-f][0-9a-f] ' "$RP_DIR/a.out" ||
		{ echo "FAIL: icepeer did not report ICEWarn 0x400"; exit 1; }
	;;
wrong-password-to-icepeer)
	RP_TIMEOUT=12
	# icepeer reads a wrong ice-pwd for aioice: its checks are refused, it must fail ICE
	SDP_FILTER_B2A='s/^a=ice-pwd:.*/a=ice-pwd:WrongWrongWrongWrongWrong/' \
		run_pair "$CASE" fail fail "$P --role controlling" \
		"$AIO --dialect rfc8445 --role controlled" || exit 1
	grep -q '^state failed' "$RP_DIR/a.out" || { echo "FAIL: icepeer did not fail ICE"; exit 1; }
	grep -q '^ICEWarn=' "$RP_DIR/a.out" || { echo "FAIL: icepeer printed no ICEWarn"; exit 1; }
	;;
*)
	echo "unknown case $CASE"; exit 1 ;;
esac
