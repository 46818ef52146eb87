"""Anonymize a pcap/pcapng capture frame by frame, in place, with dpkt for the packet layers.

Every pseudonym keeps the length of what it replaces (pseudonyms.py), so each frame keeps its
length: the file is copied and each frame is rewritten where it sits, which keeps everything the
container carries (byte order, time resolution, interfaces, original lengths).  In each frame the
IP addresses of every IP header (also inside IP-in-IP, GRE/ERSPAN, VXLAN and GTP-U tunnels and
in HEP3 chunks) are mapped, the application bytes are rewritten by the TextRewriter, and dpkt
recomputes the IPv4 header, UDP, TCP and SCTP checksums (sum set to 0, then packed).

A SIP message split over TCP segments or IP fragments is rewritten as a whole: a first pass
gathers each TCP direction's bytes by sequence number (and each fragmented datagram), the stream
is rewritten once, and each segment takes back its own slice -- sequence numbers stay valid
because nothing changes length.  WebSocket frames are unmasked, rewritten and masked again.
"""

from __future__ import annotations

import io
import ipaddress
import re
import struct
from collections import Counter
from collections.abc import Iterator

import dpkt

from sipscope.core.export.pseudonyms import PseudonymMap
from sipscope.core.export.rewrite_text import TextRewriter
from sipscope.core.sources import linktypes
from sipscope.core.sources.websocket import parse_header, unmask

PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
MAX_STREAM = 64 << 20           # a TCP direction longer than this is rewritten segment by segment
VXLAN_PORT, GTP_U_PORT, DNS_PORT = 4789, 2152, 53
_WS_UPGRADE = re.compile(rb"^upgrade[ \t]*:[ \t]*websocket", re.I | re.M)
# RFC 3551 §4.5.14/§4.5.15: the byte that decodes to silence in G.711 mu-law and A-law
SILENCE = {0: 0xFF, 8: 0xD5}


def is_capture(head: bytes) -> bool:
    return head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC


# -- the container: where each frame sits in the file ----------------------------------------

def frames(data: bytearray) -> Iterator[tuple[int, int, int]]:
    """(link type, start, end) of every frame of a pcap or pcapng file held in memory."""
    if data[:4] == PCAPNG_MAGIC:
        yield from _pcapng_frames(data)
        return
    stream = io.BytesIO(data)
    reader = dpkt.pcap.Reader(stream)
    linktype = reader.datalink() & 0xFFFF
    try:
        for _, frame in reader:
            end = stream.tell()
            yield linktype, end - len(frame), end
    except (ValueError, struct.error, dpkt.NeedData):
        return                                  # a cut last record: what came before is done


def _pcapng_frames(data: bytearray) -> Iterator[tuple[int, int, int]]:
    """pcapng blocks (§3): packet data of EPB (§4.3), SPB (§4.4) and obsolete PB; dpkt's pcapng
    reader knows one interface only, a capture may have several."""
    order, pos, linktypes_ = "<", 0, []
    while pos + 12 <= len(data):
        btype = struct.unpack_from(order + "I", data, pos)[0]
        if btype == 0x0A0D0D0A:
            order = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            linktypes_ = []
        blen = struct.unpack_from(order + "I", data, pos + 4)[0]
        if blen < 12 or pos + blen > len(data):
            return
        if btype == 1 and blen >= 20:
            linktypes_.append(struct.unpack_from(order + "H", data, pos + 8)[0])
        elif btype in (2, 6) and blen >= 32:
            iface = struct.unpack_from(order + ("H" if btype == 2 else "I"), data, pos + 8)[0]
            caplen = struct.unpack_from(order + "I", data, pos + 20)[0]
            if iface < len(linktypes_):
                yield linktypes_[iface], pos + 28, min(pos + 28 + caplen, pos + blen - 4)
        elif btype == 3 and blen >= 16 and linktypes_:
            yield linktypes_[0], pos + 12, pos + blen - 4
        pos += blen


# -- one frame ------------------------------------------------------------------------------------

class PacketRewriter:
    """Rewrites frames; run every frame of a file once with collect=True, call prepare(), then
    once more with collect=False."""

    def __init__(self, text: TextRewriter, pseudonyms: PseudonymMap, silence_rtp: bool = False):
        self.text = text
        self.map = pseudonyms
        self.silence_rtp = silence_rtp
        self.collect = True
        self.segments: dict[tuple, list[tuple[int, bytes]]] = {}
        self.streams: dict[tuple, tuple[int, bytes]] = {}
        self.connections: dict[tuple, int] = {}
        self.fragments: dict[tuple, dict[int, tuple[bytes, bool]]] = {}
        self.datagrams: dict[tuple, bytes] = {}
        self.counts: Counter = Counter()

    def frame(self, data: bytearray, linktype: int, start: int, end: int) -> None:
        packet = bytearray(data[start:end])
        found = linktypes.network_start(linktype, bytes(packet))
        if found is None:
            if not self.collect and linktype not in linktypes.SUPPORTED:
                self.counts["frames of an unsupported link type left as they are"] += 1
            return
        self.ip(packet, found[1], found[0], 0)
        if not self.collect:
            self._link_addresses(packet, linktype)
            data[start:end] = packet

    def _link_addresses(self, packet: bytearray, linktype: int) -> None:
        """The MAC addresses of the link header (Ethernet; Linux cooked v1/v2)."""
        if linktype == linktypes.ETHERNET and len(packet) >= 12:
            spans = ((0, 6), (6, 12))
        elif linktype == linktypes.LINUX_SLL and len(packet) >= 16 and packet[4:6] == b"\0\6":
            spans = ((6, 12),)
        elif linktype == linktypes.LINUX_SLL2 and len(packet) >= 20 and packet[11] == 6:
            spans = ((12, 18),)
        else:
            return
        for a, b in spans:
            packet[a:b] = self.map.mac(bytes(packet[a:b]))

    def ip(self, packet: bytearray, off: int, version: int, depth: int) -> None:
        """One IP packet at packet[off:] (RFC 791 / RFC 8200), rewritten in place."""
        raw = bytes(packet[off:])
        try:
            ip = dpkt.ip.IP(raw) if version == 4 else dpkt.ip6.IP6(raw)
        except (dpkt.UnpackError, struct.error, ValueError, IndexError):
            if not self.collect:
                self._cut_packet(packet, off, version)
            return
        length = ip.len if version == 4 else 40 + ip.plen
        if version == 6 and ip.plen == 0:
            length = len(raw)
        src, dst = ip.src, ip.dst
        if ip.p not in (1, 6, 17, 58, 132):     # tunnels and the rest: the bytes as captured
            ip.data = raw[length - _payload_length(ip, version, length):length]
        if self.collect:
            self._gather(ip, version, src, dst)
            if ip.p in (4, 41, 47) and not (version == 4 and _is_fragment(ip)):
                self._inner(ip, depth)
            elif isinstance(ip.data, dpkt.udp.UDP):
                self._udp_tunnel(ip.data, depth)
            return
        ip.src, ip.dst = self.map.packed(src), self.map.packed(dst)
        if version == 4 and _is_fragment(ip):
            self._fragment(ip, src, dst)
        elif version == 6 and _is_v6_fragment(ip):
            # RFC 8200 §4.5: not reassembled here; each piece rewritten as text, checksums
            # left (they cover the whole datagram)
            self.counts["IPv6 fragments rewritten one by one"] += 1
            ip.data = self.text.rewrite(raw[length - _payload_length(ip, version, length):length])
        elif isinstance(ip.data, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
            self._icmp(ip, raw[length - _payload_length(ip, version, length):length], depth)
        else:
            self._transport(ip, src, dst, depth)
        if version == 4:
            ip.sum = 0
        packed = bytes(ip)
        if len(packed) == length and off + length <= len(packet):
            packet[off:off + length] = packed
        else:
            self._cut_packet(packet, off, version)

    def _cut_packet(self, packet: bytearray, off: int, version: int) -> None:
        """A packet dpkt cannot take whole (cut by the snap length, or quoted in an ICMP error):
        its addresses mapped where they sit and the rest rewritten as text; checksums left."""
        self.counts["IP packets dpkt could not take whole, cut by the snap length or quoted in "
                    "an ICMP error (addresses mapped, text rewritten, checksums left)"] += 1
        a, b, body = (12, 20, (packet[off] & 0x0F) * 4) if version == 4 else (8, 40, 40)
        if off + b > len(packet):
            return
        packet[off + a:off + b] = b"".join(
            self.map.packed(bytes(packet[i:i + (b - a) // 2]))
            for i in (off + a, off + a + (b - a) // 2))
        packet[off + body:] = self.text.rewrite(bytes(packet[off + body:]))

    # -- transports ------------------------------------------------------------------------------
    def _transport(self, ip, src: bytes, dst: bytes, depth: int) -> None:
        inner = ip.data
        if isinstance(inner, dpkt.udp.UDP):
            inner.data = self._udp_payload(bytes(inner.data), inner.sport, inner.dport, depth)
            inner.sum = 0
        elif isinstance(inner, dpkt.tcp.TCP):
            inner.data = self._tcp_payload(self._connection(src, dst, inner), inner.seq,
                                           bytes(inner.data))
            inner.sum = 0
        elif isinstance(inner, dpkt.sctp.SCTP):
            for chunk in inner.chunks:
                if chunk.type == 0 and len(chunk.data) > 12:     # DATA (RFC 9260 §3.3.1)
                    chunk.data = chunk.data[:12] + self.text.rewrite(bytes(chunk.data[12:]))
            inner.sum = 0
        else:
            self._inner(ip, depth)

    def _icmp(self, ip, message: bytes, depth: int) -> None:
        """An ICMP error quotes the packet that caused it (RFC 792, RFC 4443 §3): that packet's
        addresses and text are rewritten too; dpkt recomputes the ICMP checksum."""
        quoted = bytearray(message[8:])
        if len(message) > 8 and quoted[0] >> 4 in (4, 6) and depth < linktypes.MAX_NESTING:
            self.ip(quoted, 0, quoted[0] >> 4, depth + 1)
            ip.data.data = message[4:8] + bytes(quoted)
            ip.data.sum = 0

    def _inner(self, ip, depth: int) -> None:
        """IP in IP (RFC 2003, RFC 4213) and GRE (RFC 2784, ERSPAN) carry another IP packet."""
        proto = ip.p
        if depth >= linktypes.MAX_NESTING or proto not in (4, 41, 47):
            return
        body = bytearray(bytes(ip.data))
        found = (4 if proto == 4 else 6, 0) if proto != 47 else linktypes.gre_network(bytes(body))
        if found:
            self.ip(body, found[1], found[0], depth + 1)
            if not self.collect:
                ip.data = bytes(body)

    def _udp_tunnel(self, udp, depth: int) -> bytes | None:
        """VXLAN (RFC 7348) and GTP-U (3GPP TS 29.281): the inner packet, rewritten."""
        if depth >= linktypes.MAX_NESTING or VXLAN_PORT not in (udp.sport, udp.dport) \
                and GTP_U_PORT not in (udp.sport, udp.dport):
            return None
        body = bytearray(bytes(udp.data))
        found = (linktypes.vxlan_network(bytes(body)) if VXLAN_PORT in (udp.sport, udp.dport)
                 else linktypes.gtp_network(bytes(body)))
        if not found:
            return None
        self.ip(body, found[1], found[0], depth + 1)
        return bytes(body)

    def _udp_payload(self, data: bytes, sport: int, dport: int, depth: int) -> bytes:
        if VXLAN_PORT in (sport, dport) or GTP_U_PORT in (sport, dport):
            udp = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
            tunnelled = self._udp_tunnel(udp, depth)
            if tunnelled is not None:
                return tunnelled
        if data[:4] == b"HEP3":
            return self._hep3(data)
        if DNS_PORT in (sport, dport):
            return self._dns(data)
        if is_rtp(data):
            return silence(data) if self.silence_rtp else data
        if is_stun(data):
            self.counts["STUN packets left as they are (their XOR-mapped addresses included)"] += 1
            return data
        if b"SIP/2.0" in data[:4096] or not data:
            return self.text.rewrite(data)
        return self.text.rewrite_binary(data)

    def _hep3(self, data: bytes) -> bytes:
        """HEP3 chunks (HEP3 spec §3): addresses (types 3-6), payload (15), correlation id (17)."""
        out = bytearray(data)
        pos = 6
        while pos + 6 <= len(out):
            vendor, ctype, clen = struct.unpack_from(">HHH", out, pos)
            if clen < 6 or pos + clen > len(out):
                break
            value = bytes(out[pos + 6:pos + clen])
            if vendor == 0 and ctype in (3, 4, 5, 6) and len(value) in (4, 16):
                out[pos + 6:pos + clen] = self.map.packed(value)
            elif vendor == 0 and ctype in (15, 17):
                out[pos + 6:pos + clen] = self.text.rewrite(value)
            pos += clen
        return bytes(out)

    def _dns(self, data: bytes) -> bytes:
        """DNS (RFC 1035 §4): the names of the capture's hosts label by label, where they sit
        (a label keeps its length, so compression pointers stay right; dpkt would re-compress
        on packing), and the addresses of A/AAAA answers.  Other records are left alone."""
        out = bytearray(data)
        try:
            counts = struct.unpack_from(">4H", data, 4)
            pos = 12
            for _ in range(counts[0]):
                pos = self._dns_name(out, pos) + 4
            for _ in range(sum(counts[1:])):
                pos = self._dns_name(out, pos)
                rtype, _, _, length = struct.unpack_from(">HHIH", out, pos)
                pos += 10
                if rtype in (1, 28) and length in (4, 16):
                    out[pos:pos + length] = self.map.packed(bytes(out[pos:pos + length]))
                elif rtype in (2, 5, 12):
                    self._dns_name(out, pos)
                elif rtype == 33 and length > 6:                      # SRV (RFC 2782)
                    self._dns_name(out, pos + 6)
                pos += length
        except (struct.error, IndexError, ValueError):
            self.counts["DNS messages rewritten only up to where they stop making sense"] += 1
        return bytes(out)

    def _reverse_v4(self, labels: list[str]) -> list[str] | None:
        """d.c.b.a.in-addr.arpa (RFC 1035 §3.5) names a.b.c.d: its pseudonym, reversed, when
        each octet keeps its length (private addresses do; else the name is left)."""
        octets = labels[-6:-2]
        try:
            address = ".".join(reversed(octets))
            mapped = self.map.address(str(ipaddress.IPv4Address(address))).split(".")
        except ValueError:
            return None
        if [len(o) for o in reversed(octets)] != [len(o) for o in mapped]:
            return None
        return labels[:-6] + list(reversed(mapped)) + labels[-2:]

    def _dns_name(self, out: bytearray, pos: int) -> int:
        """Rewrite the labels of the name at pos that sit there (not those behind a pointer)
        when the whole name is a host of the capture; the offset after the name."""
        labels, here, end, jumps = [], [], None, 0
        cursor = pos
        while True:
            size = out[cursor]
            if size >= 0xC0:                                  # compression pointer (§4.1.4)
                if end is None:
                    end = cursor + 2
                cursor = ((size & 0x3F) << 8) | out[cursor + 1]
                jumps += 1
                if jumps > 32:
                    raise ValueError("DNS pointer loop")
                continue
            if size == 0:
                break
            labels.append(bytes(out[cursor + 1:cursor + 1 + size]).decode("latin-1"))
            if end is None:
                here.append((cursor + 1, size))
            cursor += 1 + size
        host = [label for label in labels if not label.startswith("_")]   # _sip._udp (RFC 2782)
        mapped = None
        if host and self.text.known_host(".".join(host)):
            names = iter(self.map.domain(".".join(host)).split("."))
            mapped = [label if label.startswith("_") else next(names) for label in labels]
        elif len(labels) >= 6 and ".".join(labels[-2:]).lower() == "in-addr.arpa":
            mapped = self._reverse_v4(labels)
        if mapped:
            for (start, size), label in zip(here, mapped):
                out[start:start + size] = label.encode("latin-1")
        return end if end is not None else cursor + 1

    # -- TCP: one rewrite per direction ----------------------------------------------------------
    def _connection(self, src: bytes, dst: bytes, tcp) -> tuple:
        """One direction of one TCP connection: its addresses and ports, and how many SYNs
        opened it before (ports are reused, with a new initial sequence number)."""
        key = (src, tcp.sport, dst, tcp.dport)
        if tcp.flags & dpkt.tcp.TH_SYN:
            self.connections[key] = self.connections.get(key, 0) + 1
        return key + (self.connections.get(key, 0),)

    def _gather(self, ip, version: int, src: bytes, dst: bytes) -> None:
        if version == 4 and _is_fragment(ip):
            key = (src, dst, ip.p, ip.id)
            self.fragments.setdefault(key, {})[ip.offset * 8] = (bytes(ip.data), bool(ip.mf))
        elif isinstance(ip.data, dpkt.tcp.TCP) and len(ip.data.data):
            tcp = ip.data
            self.segments.setdefault(self._connection(src, dst, tcp), []).append(
                (tcp.seq, bytes(tcp.data)))
        elif isinstance(ip.data, dpkt.tcp.TCP):
            self._connection(src, dst, ip.data)

    def prepare(self) -> None:
        """After the collecting pass: rewrite each TCP direction and fragmented datagram once."""
        for key, segments in self.segments.items():
            base = segments[0][0]
            placed = [(_signed((seq - base) & 0xFFFFFFFF), payload) for seq, payload in segments]
            low = min(rel for rel, _ in placed)
            span = max(rel + len(payload) for rel, payload in placed) - low
            if span > MAX_STREAM:
                self.counts["TCP directions too long to rewrite as one stream (rewritten "
                            "segment by segment)"] += 1
                continue
            stream = bytearray(span)
            for rel, payload in placed:
                stream[rel - low:rel - low + len(payload)] = payload
            self.streams[key] = ((base + low) & 0xFFFFFFFF, self._stream_text(bytes(stream)))
        self.segments.clear()
        self.connections.clear()            # the second pass counts the SYNs again
        for key, pieces in self.fragments.items():
            whole = _reassemble(pieces)
            if whole is None:
                self.counts["IP fragments of incomplete datagrams (rewritten one by one)"] += 1
                continue
            self.datagrams[key] = self._defragmented(key, whole)
        self.fragments.clear()
        self.collect = False

    def _tcp_payload(self, key: tuple, seq: int, payload: bytes) -> bytes:
        if not payload:
            return payload
        found = self.streams.get(key)
        if found is not None:
            start = (seq - found[0]) & 0xFFFFFFFF
            if start + len(payload) <= len(found[1]):
                return found[1][start:start + len(payload)]
        return self._stream_text(payload)

    def _stream_text(self, data: bytes) -> bytes:
        """A TCP direction's bytes: SIP/HTTP text, WebSocket frames after an Upgrade (RFC 6455
        §5.3: a client's frames are masked, so they are unmasked, rewritten, masked), or TLS
        (encrypted: only the known names of its handshake are replaced)."""
        if is_tls(data):
            return self.text.rewrite_names(data)
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0 or not _WS_UPGRADE.search(data[:head_end]):
            return self.text.rewrite(data)
        out = bytearray(data)
        pos = head_end + 4
        out[:pos] = self.text.rewrite(data[:pos])
        while pos < len(data):
            try:
                frame = parse_header(data, pos)
            except ValueError:
                frame = None
            if frame is None or pos + frame.header_len + frame.length > len(data):
                break
            begin = pos + frame.header_len
            end = begin + frame.length
            if frame.rsv1:                      # permessage-deflate: cannot rewrite in place
                self.counts["compressed WebSocket frames left as they are"] += 1
            else:
                plain = unmask(data[begin:end], frame.mask)
                out[begin:end] = unmask(self.text.rewrite(plain), frame.mask)
            pos = end
        out[pos:] = self.text.rewrite(data[pos:])
        return bytes(out)

    # -- IPv4 fragments (RFC 791 §3.2) ---------------------------------------------------------------
    def _defragmented(self, key: tuple, whole: bytes) -> bytes:
        src, dst, proto, _ = key
        if proto != 17 or len(whole) < 8:
            return self.text.rewrite(whole)
        udp = dpkt.udp.UDP(whole)
        udp.data = self._udp_payload(bytes(udp.data), udp.sport, udp.dport, 0)
        udp.sum = 0
        bytes(dpkt.ip.IP(src=self.map.packed(src), dst=self.map.packed(dst), p=17, data=udp))
        return bytes(udp)                       # dpkt computed the checksum over the datagram

    def _fragment(self, ip, src: bytes, dst: bytes) -> None:
        whole = self.datagrams.get((src, dst, ip.p, ip.id))
        offset = ip.offset * 8          # dpkt gives the field, in units of 8 bytes
        data = bytes(ip.data)
        if whole is not None and offset + len(data) <= len(whole):
            ip.data = whole[offset:offset + len(data)]
        elif offset or ip.p != 17 or len(data) < 8:
            ip.data = self.text.rewrite(data)
        else:                       # first piece of an incomplete datagram: no UDP checksum
            ip.data = data[:6] + b"\0\0" + self.text.rewrite(data[8:])


def _payload_length(ip, version: int, length: int) -> int:
    """Bytes after the IP header (and IPv6 extension headers) as captured."""
    if version == 4:
        return length - ip.hl * 4
    return length - 40 - len(ip.headers_str()[1])


def _is_v6_fragment(ip) -> bool:
    return any(isinstance(header, dpkt.ip6.IP6FragmentHeader)
               for header in getattr(ip, "all_extension_headers", None) or ())


def _is_fragment(ip) -> bool:
    return bool(ip.mf or ip.offset)


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def _reassemble(pieces: dict[int, tuple[bytes, bool]]) -> bytes | None:
    out, expected = bytearray(), 0
    for offset in sorted(pieces):
        data, more = pieces[offset]
        if offset > expected:
            return None
        out[offset:offset + len(data)] = data
        expected = max(expected, offset + len(data))
        if not more:
            return bytes(out)
    return None


# -- media ----------------------------------------------------------------------------------------

def is_rtp(data: bytes) -> bool:
    """RFC 3550 §5.1 version 2, and not RTCP (payload types 192-223 are kept apart for it by
    RFC 5761 §4); text never starts with a byte of version 2."""
    return len(data) >= 12 and data[0] >> 6 == 2 and not 192 <= data[1] <= 223


def is_tls(data: bytes) -> bool:
    """A TLS record (RFC 8446 §5.1): content type 20-23, legacy version 3.x."""
    return len(data) >= 5 and 20 <= data[0] <= 23 and data[1] == 3


def is_stun(data: bytes) -> bool:
    """RFC 5389 §6: two zero bits, then the magic cookie at byte 4."""
    return len(data) >= 20 and data[0] >> 6 == 0 and data[4:8] == b"\x21\x12\xa4\x42"


def silence(data: bytes) -> bytes:
    """The RTP packet with its payload replaced by silence (header, extension, padding kept)."""
    start = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10 and len(data) >= start + 4:                  # header extension (§5.3.1)
        start += 4 + 4 * struct.unpack_from(">H", data, start + 2)[0]
    end = len(data) - (data[-1] if data[0] & 0x20 else 0)          # padding (§5.1)
    if not 0 <= start <= end <= len(data):
        return data
    fill = SILENCE.get(data[1] & 0x7F, 0)
    return data[:start] + bytes([fill]) * (end - start) + data[end:]
