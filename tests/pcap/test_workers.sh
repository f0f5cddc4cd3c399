#!/usr/bin/env bash
# Several workers in software mode: two calls merged into one capture, their legs on ports
# owned by different workers ((port / 2) % 2), replayed by one worker and by two workers
# (three lcores on two CPUs: worker 0 receives and hands frames over by ring, the capture
# time travelling with each mbuf). Both runs must send the same frames at the same capture
# times, each leg's in the same order, every leg's from the worker owning its port.
# usage: test_workers.sh ICEGW CALLGEN PCAPDIFF
set -euo pipefail
icegw=$(realpath "$1") callgen=$(realpath "$2") pcapdiff=$(realpath "$3")
command -v mergecap >/dev/null || { echo "SKIP: mergecap (wireshark-common) not installed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$work"

run_icegw() { # tag, legs file, EAL options...
	local tag=$1 legs=$2
	shift 2
	timeout 120 "$icegw" --no-huge --no-pci --no-shconf -m 512 --file-prefix "icegw-wk-$$" \
		--log-level=lib.eal:error --log-level=lib.telemetry:error --log-level=pmd.net.pcap:error \
		"$@" -- --legs "$legs" --tx-capture "txcap-$tag.pcap" ${XOPT:-} >"report-$tag.txt" 2>"stderr-$tag.txt"
}

# call 1 on worker 0 (ports 20000, 20004), call 2 on worker 1 (20002, 20006)
"$callgen" --out c1 --seed 11 --ports 20000,20004 --call 1 >/dev/null
"$callgen" --out c2 --seed 11 --ports 20002,20006 --call 2 --dialect ms-ice2 >/dev/null
mergecap -F pcap -w in.pcap c1/in.pcap c2/in.pcap
# one [gateway] section: the second file's is dropped
{ cat c1/legs.conf; sed '/^\[gateway\]/,/^\[leg/{/^\[leg/!d}' c2/legs.conf; } >legs.conf

run_icegw one legs.conf -l 0 --vdev "net_pcap0,rx_pcap=in.pcap,tx_pcap=out-one.pcap" ||
	{ cat stderr-one.txt; fail "one worker: icegw exited $?"; }
run_icegw two legs.conf --lcores 0@0,1@1,2@1 \
	--vdev "net_pcap0,rx_pcap=in.pcap,tx_pcap=out-w0.pcap,tx_pcap=out-w1.pcap" ||
	{ cat stderr-two.txt; fail "two workers: icegw exited $?"; }
grep -q "rx mode dispatch" stderr-two.txt || { cat stderr-two.txt; fail "software mode should dispatch"; }
python3 "$pcapdiff" workers txcap-one.pcap txcap-two.pcap.0 txcap-two.pcap.1 ||
	fail "two workers sent other frames than one worker (--tx-capture)"
python3 "$pcapdiff" workers --no-times out-one.pcap out-w0.pcap out-w1.pcap ||
	fail "two workers sent other frames than one worker (net_pcap's tx queues)"
# both workers had legs and relayed; worker 0 handed call 2's frames to worker 1
r=report-two.txt
grep -Eq "worker 0 \(lcore 1.*: 2 legs, rx [1-9][0-9]* tx [1-9]" "$r" || { cat "$r"; fail "worker 0 idle"; }
grep -Eq "worker 1 \(lcore 2.*: 2 legs, rx [1-9][0-9]* tx [1-9].*handed over in [1-9]" "$r" ||
	{ cat "$r"; fail "worker 1 got no frames"; }
grep -q "dropped 0" "$r" || fail "hand-over drops in a replay"
for s in 0xa11ce001 0xb0b0b0b1 0xa11ce002 0xb0b0b0b2; do
	grep -Eq "RTP ssrc $s: received 100, expected 100, lost 0" "$r" || { cat "$r"; fail "RTP $s not all relayed"; }
done
diff <(grep -E "^leg|RTP ssrc|ICE .* role" report-one.txt | sort) <(grep -E "^leg|RTP ssrc|ICE .* role" "$r" | sort) ||
	fail "the legs' outcomes differ between one and two workers"
echo "ok: two workers replay two calls as one worker does (same frames, times, per-leg order)"

# a pair whose legs two workers own is refused with the reason
sed 's/^port = 20004$/port = 20010/' legs.conf >bad.conf
if run_icegw bad bad.conf --lcores 0@0,1@1,2@1 \
	--vdev "net_pcap0,rx_pcap=in.pcap,tx_pcap=bad0.pcap,tx_pcap=bad1.pcap"; then
	fail "a pair split over two workers was accepted"
fi
grep -q "is on worker 1, this leg on 0" stderr-bad.txt || { cat stderr-bad.txt; fail "no reason given"; }
# a port with fewer tx queues than workers is refused
if run_icegw q legs.conf --lcores 0@0,1@1,2@1 --vdev "net_pcap0,rx_pcap=in.pcap,tx_pcap=q.pcap"; then
	fail "two workers on one tx queue accepted"
fi
grep -q "1 tx queues, 2 workers need one each" stderr-q.txt || { cat stderr-q.txt; fail "tx queue error unclear"; }
# flow steering asked for where it cannot be: refused, not silently replaced
if XOPT="--rx-mode flow" run_icegw f legs.conf --lcores 0@0,1@1,2@1 \
	--vdev "net_pcap0,rx_pcap=in.pcap,tx_pcap=f0.pcap,tx_pcap=f1.pcap"; then
	fail "--rx-mode flow accepted on a pcap replay"
fi
grep -q "rx-mode flow: port 0 (net_pcap) has 1 rx queues for 2 workers (and a pcap replay has one receiver)" \
	stderr-f.txt || { cat stderr-f.txt; fail "--rx-mode flow error unclear"; }
echo "ok: split pairs, missing tx queues and impossible flow steering refused with the reason"
echo "1 passed, 0 failed"
