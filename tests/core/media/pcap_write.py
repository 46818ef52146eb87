"""Write a factory Flow's datagrams as an Ethernet/IPv4/UDP pcap (dpkt), for tests that need a
capture file on disk (per-packet detail and audio are read back from the file)."""

from __future__ import annotations

import socket
from pathlib import Path

import dpkt


def write_pcap(path: Path, datagrams) -> Path:
    with path.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle)
        for d in datagrams:
            (sip, sport), (dip, dport) = (_split(d.src), _split(d.dst))
            udp = dpkt.udp.UDP(sport=sport, dport=dport, data=d.payload)
            udp.ulen = 8 + len(d.payload)
            ip = dpkt.ip.IP(src=socket.inet_aton(sip), dst=socket.inet_aton(dip), p=17, ttl=64,
                            data=udp)
            ip.len = 20 + udp.ulen
            frame = dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01",
                                           dst=b"\x02\x00\x00\x00\x00\x02", data=ip)
            writer.writepkt(bytes(frame), ts=d.ts)
    return path


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)
