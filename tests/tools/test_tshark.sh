#!/usr/bin/env bash
# Cross-check of the STUN encoder against an independent decoder: tshark must decode every
# frame icegw-stungen writes, see the same attributes, and agree with every FINGERPRINT.
# usage: test_tshark.sh STUNGEN STUNDUMP   (exit 77 = skipped: no tshark)
set -u
stungen=$1
stundump=$2

if ! command -v tshark >/dev/null 2>&1; then
	echo "tshark not installed: skipping"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
bad() { echo "FAIL: $*"; rc=1; }

"$stungen" -l "$tmp/expected.tsv" "$tmp/gen.pcap" || { echo "FAIL: stungen"; exit 1; }
"$stungen" "$tmp/again.pcap" 2>/dev/null && cmp -s "$tmp/gen.pcap" "$tmp/again.pcap" ||
	bad "stungen output differs between two runs"

ts() { tshark -n -r "$tmp/gen.pcap" -o stun.udp.port:3478 "$@" 2>/dev/null; }

# 1. frame by frame: message type, ChannelData channel, attribute types in order, and the
#    addresses tshark decodes itself (XOR undone); RFC 3489-style messages are "classicstun".
ts -T fields -E occurrence=a -E separator=/t -e frame.number \
	-e stun.type -e classicstun.type -e stun.channel -e stun.att.type -e classicstun.att.type \
	-e stun.att.ipv4 -e classicstun.att.ipv4 -e stun.att.ipv6 -e classicstun.att.ipv6 \
	-e stun.att.port -e classicstun.att.port |
	awk -F'\t' -v OFS='\t' '{print $1, $2 $3, $4, $5 $6, $7 $8, $9 $10, $11 $12}' \
	>"$tmp/got.tsv"
nframes=$(wc -l <"$tmp/expected.tsv")
[ "$nframes" -gt 20 ] || bad "only $nframes frames generated"
if ! diff -u "$tmp/expected.tsv" "$tmp/got.tsv"; then
	bad "tshark decodes types/attributes/addresses differently from what was built"
fi

# 2. every frame is STUN or ChannelData, nothing malformed, no expert error
ts -T fields -e frame.number -e _ws.col.Protocol >"$tmp/proto.tsv"
nonstun=$(awk -F'\t' '$2 != "STUN" && $2 != "CLASSIC-STUN"' "$tmp/proto.tsv")
[ -z "$nonstun" ] || bad "frames not decoded as STUN: $nonstun"
malformed=$(ts -Y '_ws.malformed || _ws.expert.severity >= "Error"' -T fields -e frame.number)
[ -z "$malformed" ] || bad "malformed / expert errors in frames: $malformed"
ts -q -z expert >"$tmp/expert.txt"
if grep -Eq '^(Errors|Malformed)' "$tmp/expert.txt"; then
	bad "tshark expert errors:"; cat "$tmp/expert.txt"
fi

# 3. FINGERPRINT: good everywhere except the one MS-ICE2 legacy-CRC request (it carries
#    CANDIDATE-IDENTIFIER 0x8054 and no IMPLEMENTATION-VERSION 0x8070).
legacy=$(awk -F'\t' '$4 ~ /0x8054/ && $4 !~ /0x8070/ {print $1}' "$tmp/expected.tsv")
[ "$(echo "$legacy" | wc -w)" = 1 ] || bad "expected one legacy-CRC frame, got '$legacy'"
with_fp=$(awk -F'\t' '$4 ~ /0x8028/ {print $1}' "$tmp/expected.tsv" | tr '\n' ' ')
ts -T fields -e frame.number -e stun.att.crc32.status >"$tmp/crc.tsv"
got_fp=$(awk -F'\t' '$2 != "" {print $1}' "$tmp/crc.tsv" | tr '\n' ' ')
[ "$got_fp" = "$with_fp" ] || bad "FINGERPRINT checked in frames '$got_fp', built in '$with_fp'"
# checksum status: 0 bad, 1 good (Wireshark's proto_checksum_enum_e)
flagged=$(awk -F'\t' '$2 == "0" {print $1}' "$tmp/crc.tsv")
[ "$flagged" = "$legacy" ] || bad "bad FINGERPRINT in frames '$flagged', expected '$legacy' only"
other=$(awk -F'\t' '$2 != "" && $2 != "0" && $2 != "1"' "$tmp/crc.tsv")
[ -z "$other" ] || bad "FINGERPRINT not verified: $other"
nwarn=$(grep -c 'Bad Fingerprint' "$tmp/expert.txt")
[ "$nwarn" = 1 ] || bad "expected 1 'Bad Fingerprint' expert warning, got $nwarn"

# 4. our own decoder reads the same capture with nothing rejected
"$stundump" -q "$tmp/gen.pcap" >"$tmp/dump.txt" || bad "icegw-stundump exit $?"
nstun=$(awk -F'\t' '$2 != ""' "$tmp/expected.tsv" | wc -l)
nchan=$(awk -F'\t' '$3 != ""' "$tmp/expected.tsv" | wc -l)
grep -q "$nframes UDP, $nstun STUN (.*), 0 rejected, $nchan ChannelData" "$tmp/dump.txt" ||
	{ bad "stundump summary unexpected:"; cat "$tmp/dump.txt"; }

[ $rc = 0 ] && echo "ok: $nframes frames ($nstun STUN, $nchan ChannelData) agree with tshark"
exit $rc
