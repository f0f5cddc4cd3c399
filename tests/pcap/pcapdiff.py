#!/usr/bin/env python3
"""Checks on icegw's software-mode output, standard library only.

  pcapdiff.py same A.pcap B.pcap       frames identical in bytes and order (timestamps ignored)
  pcapdiff.py retrans OUT.pcap IP:PORT gateway Binding requests to IP:PORT: print, per
                                        transaction, the gaps between transmissions in ms
"""
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit(f"{path}: not a pcap file")
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise SystemExit(f"{path}: not a little-endian pcap file")
    scale = 1e-6 if magic == 0xA1B2C3D4 else 1e-9
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        off += 16
        out.append((sec + frac * scale, data[off:off + incl]))
        off += incl
    return out


def same(a, b):
    fa, fb = frames(a), frames(b)
    if len(fa) != len(fb):
        print(f"frame count differs: {a} has {len(fa)}, {b} has {len(fb)}")
        return 1
    for i, ((_, x), (_, y)) in enumerate(zip(fa, fb)):
        if x != y:
            print(f"frame {i + 1} differs")
            return 1
    print(f"{len(fa)} frames identical")
    return 0


def retrans(path, dest):
    ip, port = dest.rsplit(":", 1)
    want_ip = bytes(int(x) for x in ip.split("."))
    want_port = int(port)
    tx = {}
    for ts, f in frames(path):
        if len(f) < 42 + 20 or f[12:14] != b"\x08\x00" or f[23] != 17:
            continue
        if f[30:34] != want_ip or struct.unpack("!H", f[36:38])[0] != want_port:
            continue
        stun = f[42:]
        if stun[0:2] != b"\x00\x01":
            continue
        tx.setdefault(stun[8:20], []).append(ts)
    for tid, times in tx.items():
        gaps = [round((b - a) * 1000) for a, b in zip(times, times[1:])]
        print(tid.hex(), len(times), " ".join(str(g) for g in gaps))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "same":
        sys.exit(same(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "retrans":
        sys.exit(retrans(sys.argv[2], sys.argv[3]))
    print(__doc__, file=sys.stderr)
    sys.exit(64)
