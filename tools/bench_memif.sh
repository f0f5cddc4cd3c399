#!/usr/bin/env bash
# icegw's relay beside DPDK's testpmd on net_memif between two processes, in one run.
#
# A generator process (dpdk-testpmd, io forwarding) replays RTP frames from a pcap at full
# speed (net_pcap infinite_rx) into a net_memif link and counts what comes back on it. On
# the other end of the link, in turn:
#   (1) dpdk-testpmd in 5tswap mode (DPDK's own forwarding: swap MACs, IPs, UDP ports);
#   (2) icegw, one worker, relaying each frame from leg a to its paired leg b (plain RTP legs,
#       LEGS legs in LEGS/2 calls, frames spread over every calling leg).
# The figure is the rate of frames returned to the generator, each end on its own CPU, and
# the ratio (2)/(1), the two phases alternating. Each phase is bounded by `timeout`; both processes use their own
# --file-prefix (memif needs the EAL's shared config, so no --no-shconf).
# usage: tools/bench_memif.sh ICEGW [SECONDS per phase, default 8] [LEGS, default 1000]
#        ROUNDS=N (default 3): phases (1) and (2) alternate N times, medians compared;
#        KEEP=1 keeps the logs and prints where they are
set -u
icegw=${1:?usage: bench_memif.sh ICEGW [SECONDS] [LEGS]}
secs=${2:-8}
legs=${3:-1000}
rounds=${ROUNDS:-3}
testpmd=$(command -v dpdk-testpmd) || { echo "dpdk-testpmd not installed (dpdk package)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root (EAL runtime directory)"; exit 77; }
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs"; exit 77; }
case $secs in ''|*[!0-9]*) echo "SECONDS: a number"; exit 64 ;; esac
case $legs in ''|*[!0-9]*) echo "LEGS: an even number"; exit 64 ;; esac
[ "$secs" -ge 4 ] && [ "$secs" -le 60 ] || { echo "SECONDS: 4-60"; exit 64; }
case $rounds in ''|*[!0-9]*) echo "ROUNDS: a number"; exit 64 ;; esac
[ "$rounds" -ge 1 ] && [ "$rounds" -le 15 ] || { echo "ROUNDS: 1-15"; exit 64; }
[ $((legs % 2)) = 0 ] && [ "$legs" -ge 2 ] && [ "$legs" -le 20000 ] || { echo "LEGS: even, 2-20000"; exit 64; }
work=$(mktemp -d)
sock=$work/memif.sock
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then echo "logs in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# legs: call k = leg a<k> on port 20000 + 4k (from A = 10.1.x.y:40000), leg b<k> on
# 20000 + 4k + 2 (media to B = 10.2.x.y:50000); the next hop is the generator's MAC
python3 - "$work" "$legs" <<'PY'
import struct, sys
work, legs = sys.argv[1], int(sys.argv[2])
GW = bytes([203, 0, 113, 1])
with open(f"{work}/legs.conf", "w") as f:
    f.write("[gateway]\nip = 203.0.113.1\ngw-mac = 02:00:00:00:00:fe\nseed = 1\n")
    for k in range(legs // 2):
        a, b = 20000 + 4 * k, 20000 + 4 * k + 2
        f.write(f"\n[leg a{k}]\nport = {a}\nrtcp-mux = yes\nice = off\npeer = b{k}\n"
                f"default-remote = 10.1.{k // 250}.{k % 250 + 1}:40000\n"
                f"\n[leg b{k}]\nport = {b}\nrtcp-mux = yes\nice = off\n"
                f"default-remote = 10.2.{k // 250}.{k % 250 + 1}:50000\n")


def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


with open(f"{work}/rtp.pcap", "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for k in range(legs // 2):
        src = bytes([10, 1, k // 250, k % 250 + 1])
        rtp = struct.pack("!BBHII", 0x80, 0, k, k * 160, 0x5000 + k) + bytes(160)
        udp = struct.pack("!HHHH", 40000, 20000 + 4 * k, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), k, 0x4000, 64, 17, 0, src, GW)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = bytes.fromhex("020000000001" "0200000000fe") + b"\x08\x00"
        fr = eth + ip + udp
        f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)
PY

gen_start() { # tag
	"$testpmd" --no-huge --no-pci --lcores '0@0,1@0' -m 512 --file-prefix "bm-gen-$$" \
		--log-level=lib.eal:error --log-level=pmd.net.memif:error \
		--vdev "net_pcap0,rx_pcap=$work/rtp.pcap,infinite_rx=1" \
		--vdev "net_memif0,role=server,socket=$sock" -- \
		--forward-mode=io --nb-cores=1 --stats-period 1 --total-num-mbufs=16384 \
		--disable-link-check >"$work/gen-$1.txt" 2>&1 &
	gen=$!
	pids+=("$gen")
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
}

# the generator's memif port (port 1): frames received back per second, the median of the
# one-second periods in which frames came back at all (the link comes up a moment after
# the far end starts, later on a loaded machine), after the first such period (warm-up)
rate() {
	awk '/statistics for port 1/ {p = 1} /statistics for port 0/ {p = 0}
	     p && /Rx-pps:/ && $2 > 0 {print $2}' "$1" | tail -n +2 | sort -n |
		awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print 0}'
}

stop_all() {
	local p
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	pids=()
	rm -f "$sock"
}

phase_tpmd() { # round: (1) testpmd 5tswap on CPU 1 (its main lcore only sleeps between stats)
	gen_start "tpmd$1"
	timeout $((secs + 5)) "$testpmd" --no-huge --no-pci --lcores '0@1,1@1' -m 512 --file-prefix "bm-dut-$$" \
		--log-level=lib.eal:error --log-level=pmd.net.memif:error \
		--vdev "net_memif0,role=client,socket=$sock" -- \
		--forward-mode=5tswap --port-topology=loop --nb-cores=1 --total-num-mbufs=8192 \
		--disable-link-check --stats-period 1 >"$work/dut-tpmd$1.txt" 2>&1 &
	pids+=($!)
	sleep "$secs"
	stop_all
	rate "$work/gen-tpmd$1.txt"
}

phase_icegw() { # round: (2) icegw, one worker on CPU 1 (the main lcore: nothing else there)
	gen_start "icegw$1"
	timeout $((secs + 5)) "$icegw" --no-huge --no-pci -l 1 -m 512 --file-prefix "bm-dut-$$" \
		--log-level=lib.eal:error --log-level=pmd.net.memif:error \
		--vdev "net_memif0,role=client,socket=$sock" -- \
		--legs "$work/legs.conf" --max-legs "$legs" --live-clock --duration "$secs" \
		>"$work/dut-icegw$1.txt" 2>&1 &
	pids+=($!)
	sleep "$secs"
	stop_all
	grep -q "RTP ssrc 0x00005000: received [1-9]" "$work/dut-icegw$1.txt" || {
		echo "icegw relayed nothing in round $1" >&2
		tail -20 "$work/dut-icegw$1.txt" >&2
		exit 1
	}
	rate "$work/gen-icegw$1.txt"
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# the two alternate, ROUNDS times, so that a change in the machine's load hits both
r1s= r2s=
echo "net_memif, $legs legs ($((legs / 2)) calls), frames of 214 bytes, ${secs} s per phase, $rounds rounds"
for r in $(seq "$rounds"); do
	a=$(phase_tpmd "$r")
	b=$(phase_icegw "$r") || exit 1
	r1s="$r1s $a" r2s="$r2s $b"
	awk -v r="$r" -v a="$a" -v b="$b" 'BEGIN {printf "  round %d: testpmd 5tswap %d, icegw relay %d frames/s returned; icegw / testpmd %.2f\n", r, a, b, a ? b / a : 0}'
done
m1=$(echo $r1s | tr ' ' '\n' | median)
m2=$(echo $r2s | tr ' ' '\n' | median)
x1=$(echo $r1s | tr ' ' '\n' | sort -n | tail -1)
x2=$(echo $r2s | tr ' ' '\n' | sort -n | tail -1)
echo "  medians: (1) dpdk-testpmd 5tswap $m1 frames/s, (2) icegw relay $m2 frames/s"
awk -v a="$x1" -v b="$x2" 'BEGIN {printf "  fastest rounds (the least disturbed by other load): %d and %d frames/s, ratio %.2f\n", a, b, a ? b / a : 0}'
if [ "${m1:-0}" -gt 0 ] && [ "${m2:-0}" -gt 0 ]; then
	awk -v a="$m1" -v b="$m2" 'BEGIN {printf "  icegw / testpmd (medians) = %.2f\n", b / a}'
else
	echo "  no ratio: a phase returned nothing (KEEP=1 keeps the logs)"
	exit 1
fi
