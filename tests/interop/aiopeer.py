#!/usr/bin/python3
# aiopeer: an aioice (python3-aioice) ICE peer with icepeer's command line and output contract
# (same SDP files, `selected <local> <remote>`, icepeer-data-N datagrams, exit codes).
# Run with Debian's /usr/bin/python3: the python3 first on PATH may not see python3-aioice.
import argparse
import asyncio
import os
import sys
import time

EXIT_OK, EXIT_ICE_FAILED, EXIT_TIMEOUT, EXIT_USAGE, EXIT_BAD_SDP = 0, 1, 2, 64, 65
DATA_INTERVAL = 0.02   # one datagram per 20 ms, as icepeer
DATA_NEED = 3
LINGER = 0.3

try:
    import aioice
    import aioice.ice
except ImportError:
    print("aiopeer: python3-aioice is not installed", file=sys.stderr)
    sys.exit(77)


class Usage(argparse.ArgumentParser):
    def error(self, message):
        print(f"aiopeer: {message}", file=sys.stderr)
        self.print_usage(sys.stderr)
        sys.exit(EXIT_USAGE)


def parse_args():
    p = Usage(prog="aiopeer")
    p.add_argument("--dialect", required=True)
    p.add_argument("--role", required=True, choices=["controlling", "controlled"])
    p.add_argument("--bind", required=True)
    p.add_argument("--remote-sdp", required=True)
    p.add_argument("--local-sdp", required=True)
    p.add_argument("--lite", action="store_true")
    p.add_argument("--timeout", type=int, default=30)
    p.add_argument("--regular-nomination", action="store_true")
    p.add_argument("--ncomp", type=int, default=1, choices=[1, 2])
    p.add_argument("--trace", action="store_true")
    p.add_argument("--seed", type=int)
    p.add_argument("--data", type=int, default=5)
    a = p.parse_args()
    if a.dialect != "rfc8445":
        p.error(f"aioice speaks only rfc8445, not '{a.dialect}'")
    if a.lite:
        p.error("aioice has no ICE-lite mode")
    if a.regular_nomination:
        p.error("aioice always nominates aggressively")
    if not 1 <= a.timeout <= 3600:
        p.error("--timeout wants 1..3600 seconds")
    if a.data < 0:
        p.error("--data wants a count")
    host, _, port = a.bind.rpartition(":") if a.bind.count(":") == 1 else (a.bind, "", "")
    if port and port != "0":
        p.error("aioice binds ephemeral ports: give --bind IP")
    a.ip = host or a.bind
    return a


def write_atomic(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def local_sdp(conn, ip):
    cands = conn.local_candidates
    rtp = [c for c in cands if c.component == 1]
    lines = ["v=0", f"o=- {os.getpid()} 1 IN IP4 {ip}", "s=aiopeer", f"c=IN IP4 {ip}",
             "t=0 0", f"m=audio {rtp[0].port if rtp else 9} RTP/AVP 0",
             f"a=ice-ufrag:{conn.local_username}", f"a=ice-pwd:{conn.local_password}"]
    lines += [f"a=candidate:{c.to_sdp()}" for c in cands]
    return "\r\n".join(lines) + "\r\n"


async def read_remote(path, deadline):
    while True:
        try:
            if os.path.getsize(path) > 0:
                with open(path) as f:
                    return f.read(65536)
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.02)


def parse_remote(text):
    """The ICE attributes of the first m= section (and the session level before it)."""
    ufrag = pwd = None
    lite = False
    cands, skipped, media = [], 0, 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("m="):
            media += 1
            if media > 1:
                break
        elif line.startswith("a=ice-ufrag:"):
            ufrag = line[len("a=ice-ufrag:"):]
        elif line.startswith("a=ice-pwd:"):
            pwd = line[len("a=ice-pwd:"):]
        elif line == "a=ice-lite":
            lite = True
        elif line.startswith("a=candidate:"):
            try:
                c = aioice.Candidate.from_sdp(line[len("a=candidate:"):])
            except (ValueError, IndexError):
                skipped += 1
                continue
            if c.transport.lower() != "udp":
                skipped += 1
                continue
            cands.append(c)
    return ufrag, pwd, lite, cands, skipped


async def main():
    args = parse_args()
    deadline = time.monotonic() + args.timeout
    # aioice gathers every interface address but 127.0.0.1: use exactly the --bind address
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [args.ip]
    conn = aioice.Connection(ice_controlling=args.role == "controlling",
                             components=args.ncomp, use_ipv6=":" in args.ip,
                             use_ipv4=":" not in args.ip)
    try:
        await conn.gather_candidates()
        if not conn.local_candidates:
            print(f"aiopeer: cannot bind {args.ip}", file=sys.stderr)
            return 71
        write_atomic(args.local_sdp, local_sdp(conn, args.ip))
        print(f"local-sdp {args.local_sdp}")
        text = await read_remote(args.remote_sdp, deadline)
        if text is None:
            print("timeout waiting for the remote SDP")
            return EXIT_TIMEOUT
        ufrag, pwd, lite, cands, skipped = parse_remote(text)
        if not ufrag or not pwd:
            print("aiopeer: remote SDP has no a=ice-ufrag/a=ice-pwd", file=sys.stderr)
            return EXIT_BAD_SDP
        conn.remote_username, conn.remote_password, conn.remote_is_lite = ufrag, pwd, lite
        for c in cands:
            await conn.add_remote_candidate(c)
        await conn.add_remote_candidate(None)
        print(f"remote-sdp candidates={len(cands)} skipped={skipped}{' lite' if lite else ''}")
        print("state running")
        try:
            await asyncio.wait_for(conn.connect(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            print("timeout state=running")
            return EXIT_TIMEOUT
        except ConnectionError as e:
            print("state failed")
            print(f"ICE failed: {e}")
            return EXIT_ICE_FAILED
        # aioice 0.8 has no public accessor for the nominated pair
        pair = conn._nominated.get(1)
        if pair is None:
            print("state failed")
            return EXIT_ICE_FAILED
        la, ra = pair.local_addr, pair.remote_addr
        print(f"selected {la[0]}:{la[1]} {ra[0]}:{ra[1]}")
        for comp in range(2, args.ncomp + 1):
            p2 = conn._nominated.get(comp)
            if p2:
                print(f"component {comp} selected {p2.local_addr[0]}:{p2.local_addr[1]} "
                      f"{p2.remote_addr[0]}:{p2.remote_addr[1]}")
        print("state completed")
        return await exchange(conn, args, deadline)
    finally:
        await conn.close()


async def exchange(conn, args, deadline):
    received = 0

    async def receiver():
        nonlocal received
        while True:
            data, comp = await conn.recvfrom()
            if comp != 1:
                continue
            received += 1
            if received <= DATA_NEED:
                print(f"data: {data[:40].decode('ascii', 'replace')}")

    rx = asyncio.ensure_future(receiver())
    try:
        sent = 0
        while time.monotonic() < deadline:
            if sent < args.data:
                sent += 1
                await conn.send(f"icepeer-data-{sent}".encode())
            if sent >= args.data and received >= (DATA_NEED if args.data else 0):
                print(f"data sent={sent} received={received}")
                await asyncio.sleep(LINGER)
                return EXIT_OK
            await asyncio.sleep(DATA_INTERVAL)
        print(f"timeout state=completed sent={sent} received={received}")
        return EXIT_TIMEOUT
    finally:
        rx.cancel()


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    sys.exit(asyncio.run(main()))
