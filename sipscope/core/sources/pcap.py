"""Read pcap and pcapng captures into Datagrams (SIP over UDP/TCP/TLS/WS/SCTP/HEP, plus media).

Framing: libpcap files (microsecond and nanosecond magic, both byte orders, the Kuznetsov
"modified" variant) and pcapng (several sections, several interfaces each with its own link
type, timestamp resolution and offset; EPB, SPB and obsolete PB blocks) are read block by
block from large buffered chunks, so the whole file is never in memory and the byte offset
of damage is known.  Decoding is decoder.PacketDecoder's job.  A damaged or truncated file
keeps everything read before the damage and sets report.stopped_at.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from dpkt import pcap as dpkt_pcap

from sipscope.core.sources import linktypes
from sipscope.core.sources.datagram import Datagram, InputReport
from sipscope.core.sources.decoder import PacketDecoder
from sipscope.core.sources.limits import MAX_RECORD, STREAM_ERRORS

NAME = "pcap"
DESCRIPTION = "pcap/pcapng capture"

CHUNK = 1 << 20
_PCAP_MAGICS = {             # magic -> (byte order, nanoseconds, record header length)
    struct.pack(">I", dpkt_pcap.TCPDUMP_MAGIC): (">", False, 16),
    struct.pack("<I", dpkt_pcap.TCPDUMP_MAGIC): ("<", False, 16),
    struct.pack(">I", dpkt_pcap.TCPDUMP_MAGIC_NANO): (">", True, 16),
    struct.pack("<I", dpkt_pcap.TCPDUMP_MAGIC_NANO): ("<", True, 16),
    struct.pack(">I", dpkt_pcap.MODPCAP_MAGIC): (">", False, 24),
    struct.pack("<I", dpkt_pcap.MODPCAP_MAGIC): ("<", False, 24),
}
_SHB = b"\x0a\x0d\x0d\x0a"
_SHB_TYPE = 0x0A0D0D0A        # a palindrome: the same in both byte orders
_BOMS = {b"\x1a\x2b\x3c\x4d": ">", b"\x4d\x3c\x2b\x1a": "<"}
_STREAM_ERRORS = STREAM_ERRORS


def sniff(head: bytes) -> float:
    """1.0 for a pcap (µs/ns, either byte order) or pcapng section header, else 0."""
    if head[:4] in _PCAP_MAGICS:
        return 1.0
    if head[:4] == _SHB and (len(head) < 12 or head[8:12] in _BOMS):
        return 1.0
    return 0.0


class _Damaged(Exception):
    """The file stops making sense at .offset."""

    def __init__(self, offset: int, why: str) -> None:
        super().__init__(why)
        self.offset = offset


class _Chunks:
    """Sequential reads from a stream through a large buffer, knowing the file offset."""

    __slots__ = ("stream", "data", "pos", "base", "read")

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.data, self.pos, self.base = stream, b"", 0, 0
        # read1 hands back what one underlying read gave, so a damaged gzip stream still
        # delivers everything before the damage (read() would drop it with the exception)
        self.read = getattr(stream, "read1", stream.read)

    def fill(self, need: int) -> bool:
        """Make data[pos:pos+need] available; False at end of file."""
        rest = self.data[self.pos:]
        self.base += self.pos
        self.pos = 0
        parts = [rest]
        have = len(rest)
        while have < need:
            try:
                more = self.read(max(CHUNK, need - have))
            except _STREAM_ERRORS as exc:
                self.data = b"".join(parts)
                raise _Damaged(self.base + len(self.data), f"the file cannot be read further "
                               f"({type(exc).__name__}: {exc})") from exc
            if not more:
                break
            parts.append(more)
            have += len(more)
        self.data = b"".join(parts)
        return have >= need

    @property
    def offset(self) -> int:
        return self.base + self.pos


TAKES_MEDIA_SINK = True         # registry.open_input may hand read() a media sink
TICK = 0x3FFF                   # with a media sink: yield None every 16,384 frames


def read(stream: BinaryIO, report: InputReport, input_index: int = 0,
         media: bool = True, media_sink=None) -> Iterator[Datagram | None]:
    """Yield every SIP (and, with media=True, media-looking UDP) payload of the capture.
    With media_sink (a MediaCollector.add), plain IPv4/UDP RTP goes straight to it instead of
    becoming a Datagram, and None is yielded every TICK+1 frames so the consumer can still
    report progress and notice a cancel (builder._build)."""
    decoder = PacketDecoder(report, input_index, media, media_sink)
    chunks = _Chunks(stream)
    try:
        if not chunks.fill(4):
            raise _Damaged(0, "the file is too short to be a capture")
        magic = chunks.data[:4]
        if magic in _PCAP_MAGICS:
            records = _pcap(chunks, report, decoder, *_PCAP_MAGICS[magic])
        elif magic == _SHB:
            report.format = "pcapng"
            records = _pcapng(chunks, report, decoder)
        else:
            raise _Damaged(0, "not a pcap or pcapng file")
        yield from records
    except _Damaged as damage:
        report.stopped_at = damage.offset
        report.warn(f"capture truncated/damaged at byte {damage.offset}: {damage}")
    except Exception as exc:                  # noqa: BLE001 - never raise on a bad capture
        report.stopped_at = chunks.offset
        report.warn(f"capture truncated/damaged at byte {chunks.offset}: unexpected "
                    f"{type(exc).__name__}: {exc}")
    decoder.finish()
    yield from decoder.out
    decoder.out.clear()


def _rtp_fast_path(decoder: PacketDecoder):
    """With a media sink: a function (data, offset, caplen, ts) -> bool that hands a plain
    Ethernet/IPv4/UDP RTP packet (RFC 3550 version 2, no IP fragment) straight to the sink
    without slicing the frame or building a Datagram -- the same tests as the RTP branch of
    PacketDecoder.ethernet_packet -- and says False for anything else, which then takes the
    full decoder.  None without a media sink."""
    if decoder.media_sink is None or not decoder.media:
        return None
    sink, pairs, media_pair = decoder.media_sink, decoder._pair, decoder._media_pair

    def fast(data: bytes, p: int, caplen: int, ts: float) -> bool:
        if caplen >= 50 and data[p + 12] == 8 and data[p + 13] == 0 and data[p + 14] == 0x45 \
                and data[p + 23] == 17 and not (data[p + 20] & 0x3F or data[p + 21]) \
                and 128 <= data[p + 42] <= 191:
            u_end = 34 + (data[p + 38] << 8 | data[p + 39])              # UDP length
            if 50 <= u_end <= caplen and u_end <= 14 + (data[p + 16] << 8 | data[p + 17]):
                pair = pairs.get(data[p + 26:p + 38])                 # IPs and ports
                if pair is None:
                    pair = media_pair(data, p + 14, p + 34)
                if pair:
                    payload = data[p + 42:p + u_end]
                    if b"SIP/" not in payload:
                        sink(ts, pair[0], pair[1], payload)
                        return True
        return False

    return fast


def _pcap(chunks: _Chunks, report: InputReport, decoder: PacketDecoder, order: str,
          nano: bool, hlen: int) -> Iterator[Datagram]:
    """libpcap: 24-byte file header, then records of header + captured bytes."""
    report.format = "pcap-ns" if nano else "pcap"
    if not chunks.fill(24):
        raise _Damaged(len(chunks.data), "the file header is incomplete")
    _, major, _, _, _, snaplen, linktype = struct.unpack_from(order + "IHHiIII", chunks.data, 0)
    if major != 2:
        report.warn(f"unusual pcap version {major}; reading it as version 2")
    linktype &= 0xFFFF                        # upper bits: FCS length and flags
    handle = decoder.handler(linktype)
    # libpcap allows 256 KiB; be lenient, but never trust a snaplen to size memory
    limit = min(max(snaplen, 1 << 20), MAX_RECORD)
    header = struct.Struct(order + "IIII")
    unpack = header.unpack_from
    scale = 1e-9 if nano else 1e-6
    out = decoder.out
    ticks = decoder.media_sink is not None
    rtp = _rtp_fast_path(decoder) if linktype == linktypes.ETHERNET else None
    chunks.pos = 24
    frame = 0
    try:
        while True:
            data, pos = chunks.data, chunks.pos
            if pos + hlen > len(data):
                if not chunks.fill(hlen):
                    if len(chunks.data) > chunks.pos:
                        raise _Damaged(chunks.offset, f"the last record header is incomplete "
                                       f"({len(chunks.data) - chunks.pos} of {hlen} bytes)")
                    return
                data, pos = chunks.data, chunks.pos
            sec, frac, caplen, _ = unpack(data, pos)
            if caplen > limit:
                raise _Damaged(chunks.offset, f"record {frame + 1} claims {caplen} bytes "
                               f"(more than the {limit} a record may hold)")
            end = pos + hlen + caplen
            if end > len(data):
                if not chunks.fill(hlen + caplen):
                    raise _Damaged(chunks.offset, f"record {frame + 1} is cut short "
                                   f"({len(chunks.data) - chunks.pos - hlen} of {caplen} bytes)")
                data, pos = chunks.data, chunks.pos
                end = pos + hlen + caplen
            chunks.pos = end
            frame += 1
            if not frame & 0x3FF:
                report.packets = frame
                if ticks and not frame & TICK:
                    yield None
            try:
                p = pos + hlen
                if rtp is not None and rtp(data, p, caplen, sec + frac * scale):
                    continue
                handle(data[p:end], sec + frac * scale, frame, chunks.base + p)
            except Exception as exc:              # noqa: BLE001 - one bad packet never stops us
                decoder.error(frame, exc)
            if out:
                yield from out
                out.clear()
    finally:
        report.packets = frame


class _Interface:
    __slots__ = ("handle", "scale", "offset", "snaplen", "rtp")

    def __init__(self, handle, scale: float, offset: int, snaplen: int, rtp=None) -> None:
        self.handle, self.scale, self.offset, self.snaplen = handle, scale, offset, snaplen
        self.rtp = rtp                  # _rtp_fast_path for an Ethernet interface, else None


def _idb_options(body: bytes, order: str) -> tuple[float, int]:
    """if_tsresol (9) and if_tsoffset (14) of an IDB's options (pcapng §4.2)."""
    scale, offset, pos = 1e-6, 0, 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        value = body[pos + 4:pos + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:
            res = value[0]
            scale = 1.0 / (2 ** (res & 0x7F) if res & 0x80 else 10 ** (res & 0x7F))
        elif code == 14 and length >= 8:
            offset = struct.unpack_from(order + "q", value)[0]
        pos += 4 + ((length + 3) & ~3)
    return scale, offset


def _pcapng(chunks: _Chunks, report: InputReport, decoder: PacketDecoder) -> Iterator[Datagram]:
    """pcapng: blocks of type, total length, body, total length (pcapng §3, §4)."""
    order = "<"
    interfaces: list[_Interface] = []
    head = struct.Struct("<II")
    epb = struct.Struct("<IIII")
    out = decoder.out
    ticks = decoder.media_sink is not None
    rtp_fast = _rtp_fast_path(decoder)
    frame = 0
    last_ts = 0.0
    warned_dsb = False
    try:
        while True:
            if chunks.pos + 12 > len(chunks.data) and not chunks.fill(12):
                if len(chunks.data) > chunks.pos:
                    raise _Damaged(chunks.offset, "the last block header is incomplete")
                return
            data, pos = chunks.data, chunks.pos
            btype, blen = head.unpack_from(data, pos)
            if btype == _SHB_TYPE:                   # section header: byte order may change
                order = _BOMS.get(data[pos + 8:pos + 12])
                if order is None:
                    raise _Damaged(chunks.offset, "section header with an unknown byte order")
                head, epb = struct.Struct(order + "II"), struct.Struct(order + "IIII")
                interfaces = []
                blen = head.unpack_from(data, pos)[1]
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                raise _Damaged(chunks.offset, f"block of type 0x{btype:08x} claims {blen} bytes")
            if pos + blen > len(data):
                if not chunks.fill(blen):
                    raise _Damaged(chunks.offset, f"block of type 0x{btype:08x} is cut short "
                                   f"({len(chunks.data) - chunks.pos} of {blen} bytes)")
                data, pos = chunks.data, chunks.pos
            end = pos + blen
            if head.unpack_from(data, end - 8)[1] != blen:
                raise _Damaged(chunks.offset, f"block of type 0x{btype:08x} has mismatched "
                               "lengths")
            chunks.pos = end
            if btype == 6 and blen >= 32:            # Enhanced Packet Block (§4.3)
                iface, high, low, caplen = epb.unpack_from(data, pos + 8)
                start = pos + 28
            elif btype == 1:                         # Interface Description Block (§4.2)
                body = data[pos + 8:end - 4]
                if len(body) < 8:
                    raise _Damaged(chunks.base + pos, "interface description block too short")
                linktype, _, snaplen = struct.unpack_from(order + "HHI", body, 0)
                scale, ts_offset = _idb_options(body, order)
                interfaces.append(_Interface(
                    decoder.handler(linktype), scale, ts_offset, snaplen,
                    rtp_fast if linktype == linktypes.ETHERNET else None))
                continue
            elif btype == 3 and blen >= 16:          # Simple Packet Block (§4.4): no time
                iface, high, low = 0, None, 0
                caplen = head.unpack_from(data, pos + 8)[0]
                start = pos + 12
            elif btype == 2 and blen >= 32:          # obsolete Packet Block (appendix A)
                iface = struct.unpack_from(order + "H", data, pos + 8)[0]
                high, low, caplen = struct.unpack_from(order + "III", data, pos + 12)
                start = pos + 28
            else:
                if btype == 10 and not warned_dsb:   # Decryption Secrets Block (§4.7)
                    warned_dsb = True
                    report.warn("the capture holds TLS secrets (decryption secrets block); "
                                "sipscope does not decrypt TLS")
                continue
            if iface >= len(interfaces):
                raise _Damaged(chunks.base + pos, f"a packet names interface {iface}, which was "
                               "never described")
            info = interfaces[iface]
            frame += 1
            if not frame & 0x3FF:
                report.packets = frame
                if ticks and not frame & TICK:
                    yield None
            if high is not None:
                last_ts = ((high << 32) | low) * info.scale + info.offset
            caplen = min(caplen, end - 4 - start)    # the captured bytes end before the trailer
            if info.rtp is not None and info.rtp(data, start, caplen, last_ts):
                continue                             # plain RTP went straight to the media sink
            packet = data[start:start + caplen]
            where = chunks.base + start
            try:
                info.handle(packet, last_ts, frame, where)
            except Exception as exc:              # noqa: BLE001 - one bad packet never stops us
                decoder.error(frame, exc)
            if out:
                yield from out
                out.clear()
    finally:
        report.packets = frame
