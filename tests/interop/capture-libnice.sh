#!/bin/sh
# Records two nicepeers (libnice) talking ICE on 127.0.0.1, in RFC5245 and OC2007R2 modes,
# into tests/data/libnice-<mode>.pcap, with both ice-pwd values in libnice-<mode>.creds.
#
# usage: capture-libnice.sh [BUILD_DIR]      (default: build)
# env:   LINGER=S  seconds the peers stay up after exchanging data, so that libnice's
#                  keep-alives (every 25 s) land in the capture; default 0: the Binding indication sent on selection is captured anyway.
#        PORTS=LO-HI  UDP range for both peers (default 47000-47099); must be unused.
#
# OC2007R2: until libnice sees IMPLEMENTATION-VERSION from its peer it sends each check a
# second time with the legacy (typo) CRC in FINGERPRINT. That copy only differs from the
# first when the CRC walk hits the corrupted table entry (roughly one message in three),
# so the run is repeated until the capture holds a differing copy: the codec test needs one.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
peer=$build/tests/interop/nicepeer
linger=${LINGER:-0}
ports=${PORTS:-47000-47099}
lo=${ports%-*}
hi=${ports#*-}
mid=$(( (lo + hi) / 2 ))

[ -x "$peer" ] || { echo "capture-libnice: $peer not built (needs libnice-dev)" >&2; exit 1; }
if command -v dumpcap >/dev/null 2>&1; then cap=dumpcap; else cap=tshark; fi

work=$(mktemp -d)
cap_pid=
pa=
pb=
cleanup() {
	for p in $pa $pb $cap_pid; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

run_mode() {
	mode=$1
	out=$src/tests/data/libnice-$mode.pcap
	rm -f "$work"/*
	# -P: classic pcap (what tools/pcap_udp reads everywhere); capture only our range.
	$cap -q -P -i lo -f "udp and portrange $lo-$hi" -w "$work/cap.pcap" 2>"$work/cap.err" &
	cap_pid=$!
	i=0
	until grep -q "Capturing on" "$work/cap.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$work/cap.err" >&2; echo "capture-libnice: $cap did not start" >&2; exit 1; }
		sleep 0.1
	done

	"$peer" --mode "$mode" --role controlling --bind 127.0.0.1 --port-range "$lo-$mid" \
		--local-sdp "$work/a.sdp" --remote-sdp "$work/b.sdp" --timeout 15 \
		--linger "$linger" >"$work/a.out" 2>&1 &
	pa=$!
	"$peer" --mode "$mode" --role controlled --bind 127.0.0.1 --port-range "$((mid + 1))-$hi" \
		--local-sdp "$work/b.sdp" --remote-sdp "$work/a.sdp" --timeout 15 \
		--linger "$linger" >"$work/b.out" 2>&1 &
	pb=$!
	rc=0
	wait $pa || rc=$?
	pa=
	wait $pb || rc=$?
	pb=
	sleep 0.2 # let the last datagrams reach the capture buffer
	kill -INT $cap_pid
	wait $cap_pid || true
	cap_pid=
	echo "== $mode: controlling"; cat "$work/a.out"
	echo "== $mode: controlled"; cat "$work/b.out"
	[ $rc -eq 0 ] || { echo "capture-libnice: $mode peers failed" >&2; exit 1; }

	cp "$work/cap.pcap" "$out"
	sed -n 's/^a=ice-pwd:\([^[:space:]]*\).*/\1/p' "$work/a.sdp" "$work/b.sdp" \
		>"$src/tests/data/libnice-$mode.creds"
	[ "$(wc -l <"$src/tests/data/libnice-$mode.creds")" -eq 2 ] ||
		{ echo "capture-libnice: expected two ice-pwd lines" >&2; exit 1; }
	echo "wrote $out ($(wc -c <"$out") bytes)"
}

# Two Binding requests with one transaction id and two different FINGERPRINT values
# (tshark decodes independently of our codec).
has_legacy_copy() {
	tshark -r "$1" -Y "stun.type == 0x0001" -T fields -e stun.id -e stun.att.crc32 2>/dev/null |
		sort -u | awk '{ n[$1]++ } END { for (t in n) if (n[t] > 1) found = 1; exit !found }'
}

run_mode rfc5245
tries=0
while :; do
	run_mode oc2007r2
	has_legacy_copy "$src/tests/data/libnice-oc2007r2.pcap" && break
	tries=$((tries + 1))
	[ $tries -lt 30 ] || { echo "capture-libnice: no legacy-CRC copy that differs in 30 runs" >&2; exit 1; }
	echo "(the legacy-CRC copy equals the original this time: again)"
done
