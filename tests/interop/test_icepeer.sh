#!/bin/bash
# Interop: icepeer against icepeer across a veth pair between two namespaces, one case per run
# (the case name is the second argument): every dialect, both nominations, lite, a mismatch.
ICEPEER=${1:?usage: test_icepeer.sh ICEPEER CASE}
CASE=${2:?usage: test_icepeer.sh ICEPEER CASE}
. "$(dirname "$0")/netns.sh"
interop_require
[ -x "$ICEPEER" ] || interop_skip "icepeer not built: $ICEPEER"
netns_setup

P="$ICEPEER --trace"
case $CASE in
rfc8445-aggressive)
	run_pair "$CASE" ok ok "$P --dialect rfc8445 --role controlling" \
		"$P --dialect rfc8445 --role controlled" ;;
rfc8445-regular)
	run_pair "$CASE" ok ok "$P --dialect rfc8445 --role controlling --regular-nomination" \
		"$P --dialect rfc8445 --role controlled" || exit 1
	# the controlling side nominated with a separate USE-CANDIDATE check
	grep -q 'USE-CANDIDATE' "$RP_DIR/a.err" || { echo "FAIL: no nominating check traced"; exit 1; }
	;;
rfc8445-two-components)
	run_pair "$CASE" ok ok "$P --dialect rfc8445 --role controlled --ncomp 2" \
		"$P --dialect rfc8445 --role controlling --ncomp 2 --regular-nomination" || exit 1
	grep -q '^component 2 selected ' "$RP_DIR/a.out" || { echo "FAIL: component 2 not selected"; exit 1; }
	;;
rfc8445-lite)
	# B is lite: A must control whatever it was told, and B must send no checks of its own
	run_pair "$CASE" ok ok "$P --dialect rfc8445 --role controlled" \
		"$P --dialect rfc8445 --role controlled --lite" || exit 1
	if grep -q 'Sending connectivity check' "$RP_DIR/b.err"; then
		echo "FAIL: the lite side sent checks"; exit 1
	fi
	;;
rfc8445-role-conflict-*)
	# both claim the same role: exactly one switches, exactly once (RFC 8445 §7.3.1.1)
	role=${CASE#rfc8445-role-conflict-}
	run_pair "$CASE" ok ok "$P --dialect rfc8445 --role $role" \
		"$P --dialect rfc8445 --role $role" || exit 1
	n=$(cat "$RP_DIR/a.out" "$RP_DIR/b.out" | grep -c '^role ')
	[ "$n" = 1 ] || { echo "FAIL: $n role changes, expected 1"; exit 1; }
	;;
ms-ice2)
	run_pair "$CASE" ok ok "$P --dialect ms-ice2 --role controlling" \
		"$P --dialect ms-ice2 --role controlled" ;;
ms-ice)
	run_pair "$CASE" ok ok "$P --dialect ms-ice --role controlling --ncomp 2" \
		"$P --dialect ms-ice --role controlled --ncomp 2" || exit 1
	grep -q '^final-offer ' "$RP_DIR/a.out" || { echo "FAIL: no final offer on the caller"; exit 1; }
	;;
mismatch)
	# RFC 8445 against MS-ICE: neither understands the other's checks; both must fail on
	# their own timers, well inside the timeout, naming ICEWarn 0x20
	start=$(date +%s)
	run_pair "$CASE" fail fail "$P --dialect rfc8445 --role controlling" \
		"$P --dialect ms-ice --role controlled" || exit 1
	for s in a b; do
		grep -q '^state failed' "$RP_DIR/$s.out" || { echo "FAIL: $s did not fail ICE"; exit 1; }
		grep -q '^ICEWarn=0x[0-9a-f]*20 ' "$RP_DIR/$s.out" ||
			{ echo "FAIL: $s printed no ICEWarn with 0x20"; exit 1; }
	done
	[ $(( $(date +%s) - start )) -lt "$RP_TIMEOUT" ] || { echo "FAIL: not within the timeout"; exit 1; }
	;;
*)
	echo "unknown case $CASE"; exit 1 ;;
esac
