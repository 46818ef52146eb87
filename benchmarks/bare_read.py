"""Calibration baseline: how fast dpkt alone walks a capture (bare loop, or with Ethernet/IP decode).

    python -m benchmarks.bare_read FILE            # dpkt.pcap.Reader / dpkt.pcapng.Reader loop
    python -m benchmarks.bare_read --decode FILE   # + dpkt Ethernet -> IP -> UDP/TCP objects

Any parser built on dpkt pays at least the first number; a sipscope that decodes every frame
with dpkt objects pays at least the second.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time

import dpkt


def open_capture(path: str):
    """A dpkt reader for pcap or pcapng, gzipped or not (chosen by magic bytes)."""
    fh = open(path, "rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        fh = gzip.open(path, "rb")
    else:
        fh.seek(0)
    magic = fh.read(4)
    fh.seek(0)
    if magic == b"\x0a\x0d\x0d\x0a":
        return dpkt.pcapng.Reader(fh)
    return dpkt.pcap.Reader(fh)


def bare(path: str) -> tuple[int, int]:
    packets = size = 0
    for _ts, buf in open_capture(path):
        packets += 1
        size += len(buf)
    return packets, size


def decode(path: str) -> tuple[int, int]:
    """Decode every frame to the transport layer, as a dpkt-based reader would."""
    packets = payloads = 0
    eth_cls = dpkt.ethernet.Ethernet
    for _ts, buf in open_capture(path):
        packets += 1
        ip = eth_cls(buf).data
        if isinstance(ip, dpkt.ip.IP):
            l4 = ip.data
            if isinstance(l4, (dpkt.udp.UDP, dpkt.tcp.TCP)) and l4.data:
                payloads += 1
    return packets, payloads


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--decode", action="store_true", help="also decode Ethernet/IP/UDP/TCP")
    p.add_argument("file")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    if args.decode:
        packets, payloads = decode(args.file)
        what = f"{payloads} UDP/TCP payloads"
    else:
        packets, size = bare(args.file)
        what = f"{size} bytes of frames"
    print(f"{packets} packets, {what}, {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
