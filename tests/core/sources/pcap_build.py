"""Build synthetic packets and capture files with dpkt for the pcap reader tests."""

from __future__ import annotations

import io
import socket
import struct

import dpkt

from sipscope.core.sources import pcap
from sipscope.core.sources.datagram import Datagram, InputReport
from sipscope.core.sip.detect import sip_start

T0 = 1_700_000_000.0
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def ip_bytes(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 1, offset: int = 0,
         more: bool = False) -> bytes:
    """An IPv4 packet (dpkt fills lengths and the checksum)."""
    packet = dpkt.ip.IP(src=ip_bytes(src), dst=ip_bytes(dst), p=proto, id=ident, ttl=64,
                        data=payload)
    packet.offset = offset
    packet.mf = int(more)
    packet.len = 20 + len(payload)
    return bytes(packet)


def ipv6(src: str, dst: str, nxt: int, payload: bytes) -> bytes:
    header = struct.pack(">IHBB", 6 << 28, len(payload), nxt, 64)
    return header + ip_bytes(src) + ip_bytes(dst) + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return bytes(dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(payload), data=payload))


def tcp(sport: int, dport: int, seq: int, payload: bytes = b"", flags: int = PSH | ACK,
        ack: int = 0) -> bytes:
    return bytes(dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, off=5,
                              win=65535, data=payload))


def ether(payload: bytes, etype: int = 0x0800, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    """Ethernet II, optionally with VLAN tags given as (tag protocol, vlan id)."""
    header = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb"
    for tpid, vid in tags:
        header += struct.pack(">HH", tpid, vid)
    return header + struct.pack(">H", etype) + payload


def udp4_frame(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    return ether(ipv4(src, dst, 17, udp(sport, dport, payload)))


def tcp4_frame(src: str, dst: str, sport: int, dport: int, seq: int, payload: bytes = b"",
               flags: int = PSH | ACK) -> bytes:
    return ether(ipv4(src, dst, 6, tcp(sport, dport, seq, payload, flags)))


def pcap_file(frames, linktype: int = 1, nano: bool = False) -> bytes:
    """A pcap file of (ts, frame bytes) records."""
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, snaplen=262144, linktype=linktype, nano=nano)
    for ts, frame in frames:
        writer.writepkt(frame, ts=ts)
    return out.getvalue()


def pcapng_file(interfaces, packets, order: str = "<") -> bytes:
    """A pcapng file: interfaces [(linktype, tsresol or None)], packets [(iface, ticks, bytes)]."""
    def block(btype: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        length = 12 + len(body)
        return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)

    out = block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    for linktype, tsresol in interfaces:
        options = b""
        if tsresol is not None:
            options = struct.pack(order + "HH", 9, 1) + bytes([tsresol]) + b"\x00" * 3
            options += struct.pack(order + "HH", 0, 0)
        out += block(1, struct.pack(order + "HHI", linktype, 0, 262144) + options)
    for iface, ticks, data in packets:
        out += block(6, struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF,
                                    len(data), len(data)) + data)
    return out


def read_bytes(data: bytes, media: bool = True) -> tuple[InputReport, list[Datagram]]:
    report = InputReport(path="<test>")
    datagrams = list(pcap.read(io.BytesIO(data), report, 0, media=media))
    return report, datagrams


def sip_only(datagrams: list[Datagram]) -> list[Datagram]:
    return [d for d in datagrams if sip_start(d.payload) == 0]


def message(method: str = "INVITE", call_id: str = "c1", body: bytes = b"", n: int = 1) -> bytes:
    """A SIP request with a correct Content-Length."""
    head = (f"{method} sip:bob@10.0.0.2 SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-{call_id}-{n}\r\n"
            f"From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {n} {method}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def status(code: int = 200, call_id: str = "c1", body: bytes = b"") -> bytes:
    head = (f"SIP/2.0 {code} OK\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-x\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nl: {len(body)}\r\n\r\n")
    return head.encode() + body
