#!/usr/bin/env python3
"""Write tests/data/rfc5769.pcap: the four RFC 5769 sample messages as UDP datagrams
(IPv4 and IPv6), for the demo and the decoder tests. Pure standard library."""
import struct, sys

REQ = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573"
    "7420636c69656e74002400046e0001ff80290008932ff9b151263b3600060009"
    "6576746a3a6836765920202000080014 9aeaa70cbfd8cb56781ef2b5b2d3f249"
    "c1b571a280280004e57a3bcf".replace(" ", ""))
RESP4 = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563"
    "746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f9"
    "2af9ba53f06be7d780280004c07d4c96")
RESP6 = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563"
    "746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014"
    "a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c")
LT = bytes.fromhex(
    "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383"
    "aae38383e382afe382b90000001500 1c662f2f3439396b39353464364f4c33"
    "346f4c39465354767936347341001400 0b6578616d706c652e6f726700000800"
    "14f67024656dd64a3e02b8e0712e85c9a28ca89666".replace(" ", ""))

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def udp4(src, dst, sport, dport, payload):
    ulen = 8 + len(payload)
    ph = src + dst + struct.pack("!BBH", 0, 17, ulen)
    u = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(ph + u) or 0xffff
    u = u[:6] + struct.pack("!H", c) + u[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 1, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + u

def udp6(src, dst, sport, dport, payload):
    ulen = 8 + len(payload)
    ph = src + dst + struct.pack("!I3xB", ulen, 17)
    u = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(ph + u) or 0xffff
    u = u[:6] + struct.pack("!H", c) + u[8:]
    ip = struct.pack("!IHBB", 0x60000000, ulen, 17, 64) + src + dst
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x86\xdd" + ip + u

def main(out):
    c4 = bytes([192, 0, 2, 10]); s4 = bytes([192, 0, 2, 1])
    c6 = bytes.fromhex("20010db8000000000000000000000010")
    s6 = bytes.fromhex("20010db8123456780011223344556677")
    frames = [
        udp4(s4, c4, 32853, 3478, REQ),
        udp4(c4, s4, 3478, 32853, RESP4),
        udp6(s6, c6, 32853, 3478, RESP6),
        udp4(s4, c4, 40000, 3478, LT),
    ]
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i * 20000, len(fr), len(fr)))
            f.write(fr)

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "rfc5769.pcap")
