#!/usr/bin/env bash
# Software-mode integration test: icegw-callgen simulates calls through the packet core;
# the DPDK daemon replays the captured input on net_pcap and must send the same frames at
# the same (capture) times, write the same trace, and report what the call did.
# usage: test_replay.sh ICEGW CALLGEN STUNDUMP PCAPDIFF
set -euo pipefail
icegw=$1 callgen=$2 stundump=$3 pcapdiff=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

run_icegw() { # dir, out-suffix
	local d=$1 s=$2
	"$icegw" --no-huge --no-pci --no-shconf -l 0 -m 256 --file-prefix "icegw-test-$$" \
		--log-level=lib.eal:error --log-level=lib.telemetry:error --log-level=pmd.net.pcap:error \
		--vdev "net_pcap0,rx_pcap=$d/in.pcap,tx_pcap=$d/out$s.pcap" -- \
		--legs "$d/legs.conf" --trace "$d/trace$s.txt" --tx-capture "$d/txcap$s.pcap" \
		>"$d/report$s.txt" 2>"$d/stderr$s.txt" || { cat "$d/stderr$s.txt"; fail "icegw exited $?"; }
}

for dialect in rfc8445 ms-ice2 ms-ice; do
	d=$work/$dialect
	"$callgen" --out "$d" --dialect "$dialect" --seed 11 >/dev/null
	run_icegw "$d" 1
	run_icegw "$d" 2
	# the replay reproduces the simulation exactly, twice
	cmp -s "$d/txcap1.pcap" "$d/expected-out.pcap" || fail "$dialect: sent frames differ from the simulation"
	cmp -s "$d/trace1.txt" "$d/expected-trace.txt" || fail "$dialect: trace differs from the simulation"
	cmp -s "$d/txcap1.pcap" "$d/txcap2.pcap" || fail "$dialect: two replays differ"
	cmp -s "$d/trace1.txt" "$d/trace2.txt" || fail "$dialect: two replays' traces differ"
	# what net_pcap wrote carries wall-clock stamps; its frames must still be the same
	python3 "$pcapdiff" same "$d/out1.pcap" "$d/expected-out.pcap" >/dev/null ||
		fail "$dialect: net_pcap output differs"
	r=$d/report1.txt
	grep -q "ICE: 2 legs completed, 0 failed" "$r" || { cat "$r"; fail "$dialect: ICE did not complete on both legs"; }
	grep -q "dropped 1: media from an address other than the selected pair" "$r" ||
		{ cat "$r"; fail "$dialect: spoofed RTP was not dropped"; }
	grep -q "ARP replies 1" "$r" || fail "$dialect: ARP not answered"
	grep -Eq "RTP ssrc 0xa11ce000: received 100, expected 100, lost 0" "$r" ||
		{ cat "$r"; fail "$dialect: RTP from alice not all relayed"; }
	grep -Eq "RTP ssrc 0xb0b0b0b0: received 100, expected 100, lost 0" "$r" ||
		{ cat "$r"; fail "$dialect: RTP from bob not all relayed"; }
	if [ "$dialect" != ms-ice ]; then
		grep -q "ICEWarn 0x400 = INTEGRITY_FAILED" "$r" || fail "$dialect: bad integrity not flagged"
		grep -q "answered 431" "$d/trace1.txt" || fail "$dialect: no 431 in the trace"
	fi
	grep -q "ICE process complete, status=Success" "$d/trace1.txt" || fail "$dialect: trace lacks completion"
	# every STUN message the gateway sent parses, FINGERPRINT included
	"$stundump" -q "$d/out1.pcap" | grep -q " 0 rejected" || fail "$dialect: gateway sent bad STUN"
	if command -v tshark >/dev/null && [ "$dialect" != ms-ice ]; then
		bad=$(tshark -r "$d/out1.pcap" --enable-heuristic stun_udp -Y 'stun && stun.att.crc32.status != 1' \
			-T fields -e frame.number 2>/dev/null | wc -l)
		[ "$bad" -eq 0 ] || fail "$dialect: tshark finds $bad bad FINGERPRINTs"
		n=$(tshark -r "$d/out1.pcap" --enable-heuristic stun_udp -Y 'stun.type == 0x0101' \
			-T fields -e frame.number 2>/dev/null | wc -l)
		[ "$n" -ge 2 ] || fail "$dialect: tshark sees $n Binding success responses"
	fi
	echo "ok: $dialect call replayed identically; ICE completed, RTP relayed both ways, attacks dropped"
done

# bob never answers: the gateway's check to him is retransmitted on RTO, in capture time
d=$work/silent
"$callgen" --out "$d" --silent-b --seed 5 >/dev/null
run_icegw "$d" 1
cmp -s "$d/txcap1.pcap" "$d/expected-out.pcap" || fail "silent: sent frames differ from the simulation"
gaps=$(python3 "$pcapdiff" retrans "$d/txcap1.pcap" 198.51.100.20:50000 | awk '$2 > 1 {print $3, $4, $5, $6, $7, $8}')
[ "$gaps" = "100 200 400 800 1600 1600" ] || fail "silent: retransmission gaps are '$gaps'"
grep -q "ICE: 1 legs completed, 1 failed" "$d/report1.txt" || { cat "$d/report1.txt"; fail "silent: bob should fail"; }
grep -q "ICEWarn 0x20 = LOCAL_CONNECTIVITY_FAILED" "$d/report1.txt" || fail "silent: ICEWarn 0x20 missing"
echo "ok: unanswered checks retransmitted at 100/200/400/800/1600/1600 ms of capture time; ICEWarn 0x20"
echo "1 passed, 0 failed"
