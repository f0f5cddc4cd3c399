#!/bin/bash
# icepeer's command line and bad input on loopback: usage errors exit 64, unusable remote SDP
# exits 65, a missing remote SDP times out with exit 2, and a stdin exchange connects.
IP=${1:?usage: test_icepeer.sh ICEPEER}
T=$(mktemp -d) || exit 1
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

expect() { # expected-exit description command...
	local want=$1 what=$2 rc
	shift 2
	timeout 20 "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc = "$want" ] || { cat "$T/out" "$T/err"; fail "$what: exit $rc, expected $want"; }
	echo "ok: $what (exit $rc)"
}

base="--dialect rfc8445 --role controlling --local-sdp $T/l.sdp --timeout 2"
expect 64 "no arguments" "$IP"
expect 64 "unknown dialect" "$IP" $base --dialect ms-ice3 --bind 127.0.0.1 --remote-sdp $T/r.sdp
expect 64 "unknown role" "$IP" $base --role boss --bind 127.0.0.1 --remote-sdp $T/r.sdp
expect 64 "bad bind" "$IP" $base --bind 300.1.1.1 --remote-sdp $T/r.sdp
expect 64 "wildcard bind" "$IP" $base --bind 0.0.0.0 --remote-sdp $T/r.sdp
expect 64 "bad ncomp" "$IP" $base --ncomp 3 --bind 127.0.0.1 --remote-sdp $T/r.sdp
expect 64 "bad timeout" "$IP" $base --timeout -1 --bind 127.0.0.1 --remote-sdp $T/r.sdp
expect 64 "stray argument" "$IP" $base --bind 127.0.0.1 --remote-sdp $T/r.sdp extra
grep -q 'usage: icepeer' "$T/err" || fail "no usage text"
expect 71 "unwritable local SDP" "$IP" $base --bind 127.0.0.1 --remote-sdp $T/r.sdp \
	--local-sdp /nonexistent/dir/l.sdp

start=$(date +%s)
expect 2 "remote SDP never appears" "$IP" $base --bind 127.0.0.1 --remote-sdp $T/none.sdp
[ $(( $(date +%s) - start )) -le 4 ] || fail "the 2 s timeout was not kept"
grep -q 'timeout' "$T/out" || fail "no timeout line"
grep -q '^a=ice-pwd:[A-Za-z0-9+/]\{22,\}' "$T/l.sdp" || fail "local SDP lacks a 22+ char ice-pwd"
grep -q '^a=ice-ufrag:[A-Za-z0-9+/]\{4,\}' "$T/l.sdp" || fail "local SDP lacks an ice-ufrag"
grep -q '^a=candidate:[^ ]* 1 UDP [0-9]* 127.0.0.1 [0-9]* typ host' "$T/l.sdp" ||
	fail "local SDP lacks the host candidate"

head -c 3000 /dev/urandom >"$T/garbage.sdp"
expect 65 "binary garbage as remote SDP" "$IP" $base --bind 127.0.0.1 --remote-sdp $T/garbage.sdp
printf 'v=0\r\nm=audio 9 RTP/AVP 0\r\na=candidate:1 1 UDP 1 127.0.0.1 9 typ host\r\n' >"$T/nocred.sdp"
expect 65 "remote SDP without credentials" "$IP" $base --bind 127.0.0.1 --remote-sdp $T/nocred.sdp
printf 'v=0\r\nm=audio 9 RTP/AVP 0\r\na=ice-ufrag:ab:c\r\na=ice-pwd:%s\r\n' \
	abcdefghijklmnopqrstuvwxyz >"$T/badufrag.sdp"
expect 65 "ufrag with a colon" "$IP" $base --bind 127.0.0.1 --remote-sdp $T/badufrag.sdp
head -c 70000 /dev/zero | tr '\0' 'a' >"$T/huge.sdp"
expect 65 "oversized remote SDP" "$IP" $base --bind 127.0.0.1 --remote-sdp $T/huge.sdp
mkdir "$T/dir.sdp"; echo x >"$T/dir.sdp/x"
expect 65 "directory as remote SDP" "$IP" $base --bind 127.0.0.1 --remote-sdp $T/dir.sdp

# a connecting pair: A reads B's SDP from stdin once B has written it
"$IP" --dialect ms-ice2 --role controlled --bind 127.0.0.1 --local-sdp "$T/b.sdp" \
	--remote-sdp "$T/a.sdp" --timeout 10 >"$T/b.out" 2>&1 &
PIDS="$PIDS $!"; pb=$!
for _ in $(seq 100); do [ -s "$T/b.sdp" ] && break; sleep 0.05; done
"$IP" --dialect ms-ice2 --role controlling --bind 127.0.0.1 --local-sdp "$T/a.sdp" \
	--remote-sdp - --timeout 10 <"$T/b.sdp" >"$T/a.out" 2>&1
ra=$?
wait $pb; rb=$?
[ $ra = 0 ] && [ $rb = 0 ] || { cat "$T/a.out" "$T/b.out"; fail "stdin pair: exits $ra $rb"; }
[ "$(grep -c '^selected 127.0.0.1:' "$T/a.out")" = 1 ] || fail "A did not print one selected line"
echo "ok: stdin pair on loopback"
