#!/bin/bash
# icegw-turn (ice/turn.c on kernel sockets) against coturn on loopback. Cases:
#   relay          two clients relay data to each other's relayed address (permission + channel)
#   wrong-password ICEWarn 0x4000 (TURN_CREDENTIALS)
#   unreachable    no server on the port: ICEWarn 0x1 (TURN_UNREACHABLE)
#   load-1000      1000 allocations created, refreshed and released; coturn's log must show
#                  every session it created deleted again
# Usage: test_coturn.sh ICEGW_TURN CASE. Exit 77 (skip) without turnserver or root.
set -u
TOOL=$1
CASE=$2

command -v turnserver >/dev/null || { echo "SKIP: turnserver not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }

DIR=$(mktemp -d /tmp/test_coturn.XXXXXX)
TURN_PID=
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "$TURN_PID" ]; then
		kill "$TURN_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$TURN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$TURN_PID" 2>/dev/null
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; [ -f "$DIR/turn.log" ] && grep -v "Protocol not supported" "$DIR/turn.log" | tail -20; exit 1; }

port_free() { ! ss -Hluna "sport = :$1" 2>/dev/null | grep -q .; }
pick_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		port_free "$p" && { echo "$p"; return; }
	done
	echo 0
}

PORT=$(pick_port)
LO=$((40000 + (RANDOM % 10) * 2000))
HI=$((LO + 1999))

start_coturn() {
	turnserver -n -v --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$PORT" \
		--lt-cred-mech --user=alice:secret --realm=test.realm --fingerprint --no-tls --no-dtls \
		--no-cli --allow-loopback-peers --min-port="$LO" --max-port="$HI" \
		--userdb="$DIR/turndb" --pidfile="$DIR/turn.pid" --log-file="$DIR/turn.log" \
		--simple-log --no-stdout-log >"$DIR/turn.out" 2>&1 &
	TURN_PID=$!
	for _ in $(seq 50); do
		ss -Hluna "sport = :$PORT" | grep -q . && return 0
		kill -0 "$TURN_PID" 2>/dev/null || fail "turnserver exited"
		sleep 0.1
	done
	fail "turnserver did not listen on $PORT"
}

run_tool() { timeout 90 "$TOOL" --server "127.0.0.1:$PORT" "$@"; }

case "$CASE" in
relay)
	start_coturn
	run_tool --user alice --pass secret --channel --send 5 --relay-file "$DIR/a.addr" \
		--peer-file "$DIR/b.addr" --timeout 20 >"$DIR/a.out" 2>&1 &
	PIDS+=($!)
	run_tool --user alice --pass secret --channel --send 5 --relay-file "$DIR/b.addr" \
		--peer-file "$DIR/a.addr" --timeout 20 >"$DIR/b.out" 2>&1
	RB=$?
	wait "${PIDS[0]}"
	RA=$?
	cat "$DIR/a.out" "$DIR/b.out"
	[ "$RA" = 0 ] && [ "$RB" = 0 ] || fail "clients exited $RA / $RB"
	A=$(cat "$DIR/a.addr")
	B=$(cat "$DIR/b.addr")
	grep -q "^channel 0x4000 $B" "$DIR/a.out" || fail "A bound no channel to $B"
	grep -q "^data from $A .*icegw-turn" "$DIR/b.out" || fail "B got nothing from A's relay $A"
	grep -q "^data from $B .*icegw-turn" "$DIR/a.out" || fail "A got nothing from B's relay $B"
	;;
wrong-password)
	start_coturn
	run_tool --user alice --pass wrong --timeout 10 >"$DIR/out" 2>&1
	R=$?
	cat "$DIR/out"
	[ "$R" = 1 ] || fail "exit $R, expected 1"
	grep -q "ICEWarn 0x4000 " "$DIR/out" || fail "no ICEWarn 0x4000"
	;;
unreachable)
	# nobody listens on PORT: RTO 50 ms, 7 tries, Rm 16 -> fails after 3.95 s
	run_tool --user alice --pass secret --rto-ms 50 --timeout 10 >"$DIR/out" 2>&1
	R=$?
	cat "$DIR/out"
	[ "$R" = 1 ] || fail "exit $R, expected 1"
	grep -q "ICEWarn 0x1 " "$DIR/out" || fail "no ICEWarn 0x1"
	;;
load-1000)
	start_coturn
	run_tool --user alice --pass secret --count 1000 --refresh --timeout 60 >"$DIR/out" 2>&1
	R=$?
	cat "$DIR/out"
	[ "$R" = 0 ] || fail "exit $R"
	grep -q "^summary: count 1000 allocated 1000 refreshed 1000 released 1000 failed 0 " "$DIR/out" ||
		fail "not every allocation went through"
	# coturn logs "session ID: new" per allocation and "session ID: delete" when it frees it;
	# a LIFETIME 0 Refresh frees it within about a second
	sessions() { grep -v "Protocol not supported" "$DIR/turn.log" | sed -n "s/.*session \([0-9]*\): $1.*/\1/p" | sort -u; }
	for _ in $(seq 100); do
		[ "$(sessions 'delete:' | wc -l)" -ge 1000 ] && break
		sleep 0.2
	done
	NEW=$(sessions 'new,' | wc -l)
	REFRESHED=$(grep -c "refreshed, .*lifetime=600" "$DIR/turn.log")
	DEL=$(sessions 'delete:' | wc -l)
	LEAK=$(comm -23 <(sessions 'new,') <(sessions 'delete:') | wc -l)
	echo "coturn: sessions new $NEW refreshed $REFRESHED deleted $DEL leaked $LEAK"
	[ "$NEW" = 1000 ] || fail "coturn created $NEW allocations"
	[ "$REFRESHED" -ge 1000 ] || fail "coturn refreshed $REFRESHED"
	[ "$LEAK" = 0 ] || fail "$LEAK allocations not deleted"
	;;
*)
	echo "unknown case $CASE"
	exit 2
	;;
esac
echo "PASS: $CASE"
exit 0
