#!/usr/bin/env python3
"""Checks on icegw's software-mode output, standard library only.

  pcapdiff.py same A.pcap B.pcap       frames identical in bytes and order (timestamps ignored)
  pcapdiff.py retrans OUT.pcap IP:PORT gateway Binding requests to IP:PORT: print, per
                                        transaction, the gaps between transmissions in ms
  pcapdiff.py workers [--no-times] ONE.pcap W0.pcap W1.pcap ...
                                       what N workers sent (one capture each) against what one
                                       worker sent: the same frames at the same capture times,
                                       each leg's frames in the same order and all of them on
                                       the worker owning the leg's port, (port / 2) % N;
                                       --no-times: for net_pcap's files (wall-clock stamps)
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


def leg_key(f):
    """The gateway port a frame was sent from; None for frames of no leg (ARP)."""
    if len(f) >= 42 and f[12:14] == b"\x08\x00" and f[23] == 17:
        ihl = (f[14] & 15) * 4
        return struct.unpack("!H", f[14 + ihl:16 + ihl])[0]
    return None


def masked(f):
    """The IPv4 identification (a per-core counter: RFC 6864 gives it no meaning in atomic
    datagrams) and the header checksum covering it are not compared."""
    if len(f) >= 34 and f[12:14] == b"\x08\x00":
        return f[:18] + b"\0\0" + f[20:24] + b"\0\0" + f[26:]
    return f


def workers(one, per_worker, times=True):
    n = len(per_worker)
    single = {}
    for ts, f in frames(one):
        single.setdefault(leg_key(f), []).append((round(ts * 1e6) if times else 0, masked(f)))
    multi = {}
    for w, path in enumerate(per_worker):
        for ts, f in frames(path):
            k = leg_key(f)
            if k is not None and (k // 2) % n != w:
                print(f"{path}: a frame from port {k}, which worker {(k // 2) % n} owns")
                return 1
            multi.setdefault(k, []).append((round(ts * 1e6) if times else 0, masked(f)))
    if None in multi:
        # frames of no leg (ARP replies) come from whichever worker received the request:
        # compared as a multiset
        multi[None].sort()
        single[None] = sorted(single.get(None, []))
    if set(single) != set(multi):
        print(f"legs differ: one worker sent from {sorted(map(str, single))}, "
              f"{n} workers from {sorted(map(str, multi))}")
        return 1
    for k in single:
        if single[k] != multi[k]:
            a, b = single[k], multi[k]
            i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            print(f"port {k}: {len(a)} frames from one worker, {len(b)} from {n}; "
                  f"first difference at frame {i + 1}")
            return 1
    total = sum(len(v) for v in single.values())
    print(f"{total} frames on {len(single)} legs/kinds: same frames, times and per-leg order "
          f"on {n} workers")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1:3] == ["workers", "--no-times"]:
        sys.exit(workers(sys.argv[3], sys.argv[4:], times=False))
    if len(sys.argv) >= 4 and sys.argv[1] == "workers":
        sys.exit(workers(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) == 4 and sys.argv[1] == "same":
        sys.exit(same(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "retrans":
        sys.exit(retrans(sys.argv[2], sys.argv[3]))
    print(__doc__, file=sys.stderr)
    sys.exit(64)
