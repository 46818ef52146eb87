"""Packs Ethernet/IPv4/UDP/TCP frames with struct (no dpkt objects: this runs a million times)."""

from __future__ import annotations

import struct
from array import array
from socket import inet_aton

_ETH_IPV4 = b"\x08\x00"
_IP = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
_TCP = struct.Struct("!HHIIBBHHH")
_PSEUDO = struct.Struct("!BBH")
_CSUM = struct.Struct("=H")   # see csum_finish: sums are taken in native byte order

TCP_FIN, TCP_SYN, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x08, 0x10

TOS_SIP = 0x60   # DSCP CS3, usual for SIP signalling
TOS_RTP = 0xB8   # DSCP EF, usual for voice


def csum_partial(data: bytes) -> int:
    """Ones' complement partial sum of data (RFC 1071 §2), in native byte order."""
    if len(data) & 1:
        data += b"\x00"
    return sum(array("H", data))


def csum_finish(total: int) -> bytes:
    """Fold a partial sum and return the checksum field bytes, already in network order.

    RFC 1071 §2(B): the sum is byte-order independent, so summing native-order words and packing
    the complement back in native order yields the network-order field.
    """
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return _CSUM.pack(~total & 0xFFFF)


def ip_bytes(ip: str) -> bytes:
    return inet_aton(ip)


def mac_for(ip4: bytes) -> bytes:
    """A locally administered MAC derived from the IPv4 address (stable, readable in Wireshark)."""
    return b"\x02\x00" + ip4


_eth_cache: dict[tuple[bytes, bytes], bytes] = {}


def eth_header(src: bytes, dst: bytes) -> bytes:
    key = (src, dst)
    hdr = _eth_cache.get(key)
    if hdr is None:
        if len(_eth_cache) > 50000:
            _eth_cache.clear()
        hdr = _eth_cache[key] = mac_for(dst) + mac_for(src) + _ETH_IPV4
    return hdr


def ipv4_header(src: bytes, dst: bytes, proto: int, payload_len: int, ip_id: int, tos: int) -> bytes:
    """RFC 791 header with DF set and a correct header checksum."""
    hdr = _IP.pack(0x45, tos, 20 + payload_len, ip_id & 0xFFFF, 0x4000, 64, proto, 0, src, dst)
    return hdr[:10] + csum_finish(csum_partial(hdr)) + hdr[12:]


def udp_frame(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes, ip_id: int,
              tos: int = TOS_SIP) -> bytes:
    """Ethernet + IPv4 + UDP (RFC 768, checksum over the pseudo-header) + payload."""
    ulen = 8 + len(payload)
    head = _UDP.pack(sport, dport, ulen, 0)
    total = (csum_partial(src + dst + _PSEUDO.pack(0, 17, ulen)) + csum_partial(head)
             + csum_partial(payload))
    check = csum_finish(total)
    if check == b"\x00\x00":
        check = b"\xff\xff"   # RFC 768: a computed zero is sent as all ones
    return (eth_header(src, dst) + ipv4_header(src, dst, 17, ulen, ip_id, tos)
            + head[:6] + check + payload)


def tcp_frame(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
              payload: bytes, ip_id: int, window: int = 502, options: bytes = b"") -> bytes:
    """Ethernet + IPv4 + TCP (RFC 793 §3.1, checksum over the pseudo-header) + payload."""
    hlen = 20 + len(options)
    head = _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hlen // 4) << 4, flags,
                     window, 0, 0) + options
    tlen = hlen + len(payload)
    total = (csum_partial(src + dst + _PSEUDO.pack(0, 6, tlen)) + csum_partial(head)
             + csum_partial(payload))
    return (eth_header(src, dst) + ipv4_header(src, dst, 6, tlen, ip_id, TOS_SIP)
            + head[:16] + csum_finish(total) + head[18:] + payload)
