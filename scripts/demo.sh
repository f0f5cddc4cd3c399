#!/usr/bin/env bash
# The main job on its built-in default: a call between two ICE endpoints is simulated
# through the packet core (icegw-callgen), and the DPDK daemon replays the capture in
# software mode (net_pcap, no hugepages) and prints its session report and ICE trace.
# usage: scripts/demo.sh [rfc8445|ms-ice2|ms-ice]
set -euo pipefail
cd "$(dirname "$0")/.."
dialect=${1:-rfc8445}
out=build/demo/$dialect
rm -rf "$out"
mkdir -p "$out"
echo "== 1. simulate a $dialect call through the gateway: $out/in.pcap"
build/tools/icegw-callgen --out "$out" --dialect "$dialect"
echo
echo "== 2. replay it through icegw (DPDK net_pcap, software mode)"
build/icegw --no-huge --no-pci --no-shconf -l 0 -m 256 --file-prefix icegw-demo \
	--log-level=lib.eal:error --log-level=lib.telemetry:error --log-level=pmd.net.pcap:error \
	--vdev "net_pcap0,rx_pcap=$out/in.pcap,tx_pcap=$out/out.pcap" -- \
	--legs "$out/legs.conf" --trace "$out/trace.txt" --tx-capture "$out/sent.pcap"
echo
echo "== 3. the ICE trace of leg bob (pjnath wording; all legs in $out/trace.txt)"
grep " bob " "$out/trace.txt" | head -40
echo
if cmp -s "$out/sent.pcap" "$out/expected-out.pcap"; then
	echo "== 4. what icegw sent is byte-identical to the simulation ($out/sent.pcap)"
else
	echo "== 4. WARNING: what icegw sent differs from the simulation"
	exit 1
fi
