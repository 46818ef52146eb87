"""A tiny dpkt loop for the media tests: UDP payloads of an Ethernet pcap as (ts, src, dst, bytes).

The project's own pcap reader lives in sipscope.core.sources; these tests stay independent of it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import dpkt

SIP_STARTS = (b"INVITE ", b"ACK ", b"BYE ", b"CANCEL ", b"OPTIONS ", b"REGISTER ", b"SIP/2.0 ",
              b"SUBSCRIBE ", b"NOTIFY ", b"INFO ", b"PRACK ", b"UPDATE ", b"REFER ", b"MESSAGE ")


def _addr(ip: bytes, port: int) -> str:
    if len(ip) == 16:
        return f"[{socket.inet_ntop(socket.AF_INET6, ip)}]:{port}"
    return f"{socket.inet_ntop(socket.AF_INET, ip)}:{port}"


def udp_payloads(path: Path, skip_sip: bool = True) -> Iterator[tuple[float, str, str, bytes]]:
    with path.open("rb") as handle:
        reader = dpkt.pcapng.Reader(handle) if path.suffix == ".pcapng" else dpkt.pcap.Reader(handle)
        for ts, frame in reader:
            ip = dpkt.ethernet.Ethernet(frame).data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) or not isinstance(ip.data, dpkt.udp.UDP):
                continue
            udp = ip.data
            payload = bytes(udp.data)
            if skip_sip and payload.startswith(SIP_STARTS):
                continue
            yield float(ts), _addr(ip.src, udp.sport), _addr(ip.dst, udp.dport), payload
