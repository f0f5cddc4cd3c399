#!/usr/bin/env bash
# Regenerates the STUN fuzz seed corpus: every message icegw-stungen builds, the RFC 5769
# sample messages, and stream-framed (RFC 4571, MS-TURN TCP) copies of a few of them.
# usage: scripts/mk-fuzz-seeds.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=tests/fuzz/corpus/stun
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ninja -C "$build" tools/icegw-stungen >/dev/null
rm -rf "$out"
mkdir -p "$out"
"$build/tools/icegw-stungen" --raw "$out" "$tmp/gen.pcap"

python3 - "$out" tests/data/rfc5769.pcap <<'PY'
import struct, sys
out, pcap = sys.argv[1], sys.argv[2]
data = open(pcap, "rb").read()
pos, n = 24, 0          # classic pcap, Ethernet link type (what mk_rfc5769_pcap.py writes)
while pos + 16 <= len(data):
    incl = struct.unpack_from("<I", data, pos + 8)[0]
    frame = data[pos + 16:pos + 16 + incl]
    pos += 16 + incl
    eth = struct.unpack_from("!H", frame, 12)[0]
    ip = 14 + ((frame[14] & 15) * 4 if eth == 0x0800 else 40)
    payload = frame[ip + 8:]
    n += 1
    open("%s/rfc5769-%d" % (out, n), "wb").write(payload)
PY

# Stream framings of the first Binding request and the Allocate request.
python3 - "$out" gen-01-binding-req gen-14-allocate-req <<'PY'
import struct, sys
out = sys.argv[1]
for name in sys.argv[2:]:
    msg = open("%s/%s" % (out, name), "rb").read()
    # RFC 4571: two frames back to back, as a TCP read may return them
    open("%s/rfc4571-%s" % (out, name), "wb").write((struct.pack("!H", len(msg)) + msg) * 2)
    # [MS-TURN] 2.1: control frame type 2
    open("%s/msturn-tcp-%s" % (out, name), "wb").write(struct.pack("!BBH", 2, 0, len(msg)) + msg)
PY
ls "$out" | wc -l
