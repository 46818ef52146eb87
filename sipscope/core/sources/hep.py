"""Decode HEP/EEP (Homer encapsulation) v1, v2 and v3 packets into their inner payload.

HEP3 (sipcapture HEP3 Network Protocol Specification): "HEP3", total length (uint16), then
chunks of vendor id (uint16), type id (uint16), length (uint16, header included), value.
HEPv1/v2 (captagent / Kamailio siptrace): version, header length, family, protocol, ports,
addresses, and for v2 a time header (tv_sec, tv_usec, capture id, host byte order), then the
payload.  All multi-byte HEP3 values are big-endian.
"""

from __future__ import annotations

import socket
import struct
import zlib
from dataclasses import dataclass

from sipscope.core.sip.detect import sip_start

HEP3_MAGIC = b"HEP3"
EEP_MAGIC = b"EEP1"           # the same format under the EEP name
MAX_INFLATE = 1 << 20         # refuse to inflate a payload beyond 1 MiB (zip bombs)

# HEP3 capture protocol types (chunk 0x000b) that are worth naming in a warning.
PROTO_TYPES = {1: "SIP", 2: "XMPP", 3: "SDP", 4: "RTP", 5: "RTCP", 6: "MGCP", 7: "MEGACO",
               8: "M2UA", 9: "M3UA", 10: "IAX", 11: "H.322", 12: "H.321", 13: "M2PA",
               34: "RTCP (JSON)", 53: "DNS", 100: "log"}
TRANSPORTS = {17: "UDP", 6: "TCP", 132: "SCTP"}
_AF_INET6 = (10, 24, 28, 30)  # Linux, BSDs, macOS


@dataclass(slots=True)
class HepPacket:
    """The inner packet carried by one HEP message."""

    version: int
    src: str = ""
    dst: str = ""
    transport: str = "UDP"
    ts: float | None = None
    proto_type: int | None = None
    payload: bytes = b""
    compressed: bool = False
    error: str | None = None
    over_budget: bool = False

    @property
    def type_name(self) -> str:
        if self.proto_type is None:
            return "unknown"
        return PROTO_TYPES.get(self.proto_type, f"type {self.proto_type}")

    def is_sip(self) -> bool:
        return self.proto_type in (None, 1) and sip_start(self.payload) >= 0


def _addr(raw: bytes, port: int) -> str:
    if len(raw) == 4:
        return f"{socket.inet_ntoa(raw)}:{port}"
    if len(raw) == 16:
        return f"[{socket.inet_ntop(socket.AF_INET6, raw)}]:{port}"
    return f"?:{port}"


def inflate(data: bytes, limit: int = MAX_INFLATE) -> bytes | None:
    """Decompress a compressed HEP payload: zlib, gzip or raw deflate, at most `limit` bytes;
    None if none fits."""
    for wbits in (47, -15):       # 47 = auto-detect zlib/gzip header
        try:
            obj = zlib.decompressobj(wbits)
            out = obj.decompress(data, limit)
            if out:
                return out
        except zlib.error:
            continue
    return None


def _inflate_within(pkt: HepPacket, value: bytes, budget) -> bytes | None:
    """inflate() within what the input's budget has left; sets pkt.over_budget when it is spent."""
    if budget is None:
        return inflate(value)
    limit = min(MAX_INFLATE, budget.left)
    if limit <= 0:
        pkt.over_budget = True
        pkt.error = "compressed payload not inflated: the input's inflation budget is spent"
        return None
    out = inflate(value, limit)
    if out is not None:
        budget.take(len(out))
    return out


def decode_hep3(data: bytes, budget=None) -> HepPacket | None:
    """Decode one HEP3 message (data starts with the magic); None when it is not HEP3.
    budget: the input's limits.DecompressionBudget for inflated payloads (None: 1 MiB each)."""
    if len(data) < 6 or data[:4] not in (HEP3_MAGIC, EEP_MAGIC):
        return None
    total = struct.unpack_from(">H", data, 4)[0]
    end = total if 6 <= total <= len(data) else len(data)
    pkt = HepPacket(version=3)
    src_ip = dst_ip = b""
    sport = dport = 0
    sec = usec = None
    pos = 6
    while pos + 6 <= end:
        vendor, ctype, clen = struct.unpack_from(">HHH", data, pos)
        if clen < 6:
            pkt.error = f"bad chunk length {clen} at offset {pos}"
            break
        value = data[pos + 6:pos + clen]
        pos += clen
        if vendor != 0:
            continue
        if ctype in (3, 4, 5, 6):
            if ctype in (3, 5):
                src_ip = value
            else:
                dst_ip = value
        elif ctype == 2 and value:
            pkt.transport = TRANSPORTS.get(value[0], "UDP")
        elif ctype == 7 and len(value) >= 2:
            sport = struct.unpack_from(">H", value)[0]
        elif ctype == 8 and len(value) >= 2:
            dport = struct.unpack_from(">H", value)[0]
        elif ctype == 9 and len(value) >= 4:
            sec = struct.unpack_from(">I", value)[0]
        elif ctype == 10 and len(value) >= 4:
            usec = struct.unpack_from(">I", value)[0]
        elif ctype == 11 and value:
            pkt.proto_type = value[0]
        elif ctype == 15:
            pkt.payload = value
            if sip_start(value) < 0 and value[:1] == b"\x78":   # zlib header, flag missing
                pkt.payload = _inflate_within(pkt, value, budget) or value
                pkt.compressed = pkt.payload is not value
        elif ctype == 16:                    # captured compressed payload
            pkt.compressed = True
            inflated = _inflate_within(pkt, value, budget)
            if inflated is None:
                pkt.error = pkt.error or "compressed payload could not be inflated"
            else:
                pkt.payload = inflated
    pkt.src = _addr(src_ip, sport)
    pkt.dst = _addr(dst_ip, dport)
    if sec is not None:
        pkt.ts = sec + (usec or 0) / 1e6
    return pkt


def decode_hep2(data: bytes) -> HepPacket | None:
    """Decode a HEPv1/v2 message when its payload is SIP; None otherwise (cannot be told apart)."""
    if len(data) < 16 or data[0] not in (1, 2):
        return None
    hlen, family, proto = data[1], data[2], data[3]
    if family == 2:
        alen = 4
    elif family in _AF_INET6:
        alen = 16
    else:
        return None
    if hlen != 8 + 2 * alen:
        return None
    sport, dport = struct.unpack_from(">HH", data, 4)
    src_ip, dst_ip = data[8:8 + alen], data[8 + alen:8 + 2 * alen]
    candidates = (hlen + 12, hlen + 10) if data[0] == 2 else (hlen,)
    for start in candidates:
        if len(data) > start and sip_start(data[start:start + 1024]) == 0:
            pkt = HepPacket(version=data[0], src=_addr(src_ip, sport), dst=_addr(dst_ip, dport),
                            transport=TRANSPORTS.get(proto, "UDP"), proto_type=1,
                            payload=data[start:])
            if data[0] == 2:
                sec, usec = struct.unpack_from("<II", data, hlen)
                pkt.ts = sec + usec / 1e6
            return pkt
    return None
