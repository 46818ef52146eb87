"""The packets of one RTP stream, read back from the capture file(s) when a user asks for them.

The loader keeps per-stream aggregates only (media/streams.py); the per-packet detail of a stream
(arrival time, sequence number, RTP timestamp, payload type, marker, size, and the payload for
audio) is read again from the session's input files on demand, as raw SIP bytes are.  Reading
is one pass over each file with the project's own readers (sources/registry.py); only the packets
of the asked-for (source, destination, SSRC) are kept.

`analyse(packets, clock_rate)` then gives what Wireshark's RTP Stream Analysis shows per packet:
delta (time since the previous packet), RFC 3550 A.8 jitter, and the sequence gaps (lost
packets) with where they happened.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_HEAD = struct.Struct("!BBHII").unpack_from       # V/P/X/CC, M/PT, seq, timestamp, SSRC


class ReadCancelled(Exception):
    """The caller's cancelled() said stop."""


@dataclass(slots=True)
class Packet:
    """One RTP packet of a stream (RFC 3550 §5.1)."""

    ts: float                     # arrival time (capture clock)
    seq: int
    rtp_ts: int
    pt: int
    marker: bool
    size: int                     # UDP payload bytes
    payload: bytes = b""          # the RTP payload (after CSRCs and extension), when kept


def rtp_payload(data: bytes) -> bytes:
    """The payload of an RTP packet: after the CSRC list and the header extension, without the
    padding (RFC 3550 §5.1, §5.3.1)."""
    if len(data) < 12:
        return b""
    first = data[0]
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10 and len(data) >= offset + 4:              # X: extension header
        offset += 4 + 4 * int.from_bytes(data[offset + 2:offset + 4], "big")
    end = len(data)
    if first & 0x20 and end > offset:                          # P: last byte counts padding
        end -= data[-1]
    return data[offset:end] if end > offset else b""


def read_stream_packets(paths: Iterable[str], src: str, dst: str, ssrc: int, *,
                        keep_payload: bool = False,
                        cancelled: Callable[[], bool] | None = None) -> list[Packet]:
    """Every packet from `src` to `dst` with `ssrc`, in arrival order, read from `paths`."""
    return read_packets(paths, [(src, dst, ssrc)], keep_payload=keep_payload,
                        cancelled=cancelled)[(src, dst, ssrc)]


def read_packets(paths: Iterable[str], keys: Iterable[tuple[str, str, int]], *,
                 keep_payload: bool = False, cancelled: Callable[[], bool] | None = None
                 ) -> dict[tuple[str, str, int], list[Packet]]:
    """The packets of several streams ((src, dst, ssrc) keys) in one pass over the files."""
    from sipscope.core.sources.registry import open_input
    found: dict[tuple[str, str, int], list[Packet]] = {key: [] for key in keys}
    pairs = {(src, dst) for src, dst, _ in found}

    def take(ts: float, s: str, d: str, data: bytes) -> None:
        if (s, d) not in pairs or len(data) < 12:
            return
        first, second, seq, rtp_ts, who = _HEAD(data, 0)
        packets = found.get((s, d, who))
        if packets is None or first >> 6 != 2:
            return
        packets.append(Packet(ts, seq, rtp_ts, second & 0x7F, bool(second & 0x80), len(data),
                              rtp_payload(data) if keep_payload else b""))

    for index, path in enumerate(paths):
        _report, datagrams = open_input(path, None, index, media_sink=take)
        for count, datagram in enumerate(datagrams):
            if datagram is not None and datagram.transport == "UDP":
                take(datagram.ts, datagram.src, datagram.dst, datagram.payload)
            if cancelled is not None and not count & 0x3FF and cancelled():
                raise ReadCancelled()
    for packets in found.values():
        packets.sort(key=lambda p: p.ts)
    return found


def session_paths(session) -> list[str]:
    """The files the session was read from that are still there, unchanged since loading (a
    pasted text has none; a file rewritten since would give another capture's packets)."""
    return [str(r.path) for r in getattr(session, "inputs", ())
            if r.path and str(r.path) != "-" and _unchanged(r) is None]


def changed_inputs(session) -> list[str]:
    """A sentence for each input file that is gone or changed since loading."""
    return [why for r in getattr(session, "inputs", ())
            if r.path and str(r.path) != "-" and (why := _unchanged(r)) is not None]


def _unchanged(report) -> str | None:
    """None when the file is as loaded, else why its packets cannot be read back."""
    import os
    path = str(report.path)
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path} is no longer there, so its packets cannot be read back"
    if not os.path.isfile(path):
        return f"{path} is not a file"
    known = getattr(report, "identity", None)
    if known is not None and known != (stat.st_size, stat.st_mtime_ns):
        return (f"{path} changed on disk after it was loaded (size {known[0]:,} -> "
                f"{stat.st_size:,} bytes): open it again to read its packets")
    return None


@dataclass(slots=True)
class Analysis:
    """Per-packet series of one stream, as lists of equal length (one entry per packet)."""

    times: list[float] = field(default_factory=list)        # s since the first packet
    delta_ms: list[float] = field(default_factory=list)     # since the previous packet
    jitter_ms: list[float] = field(default_factory=list)    # RFC 3550 A.8 after this packet
    lost: list[tuple[float, int]] = field(default_factory=list)   # (time, packets missing before)
    t0: float = 0.0

    @property
    def max_delta_ms(self) -> float:
        return max(self.delta_ms, default=0.0)

    @property
    def max_jitter_ms(self) -> float:
        return max(self.jitter_ms, default=0.0)

    @property
    def lost_packets(self) -> int:
        return sum(n for _, n in self.lost)


def analyse(packets: list[Packet], clock_rate: int | None) -> Analysis:
    """Delta, jitter (RFC 3550 A.8, with `clock_rate`; 0 when unknown) and lost packets: the
    sequence numbers skipped by a forward jump (RFC 3550 A.1) that never arrived later, marked at
    the packet after the jump.  Jitter skips RFC 4733 events (4-byte payloads are not audio) as
    the loader does."""
    out = Analysis()
    if not packets:
        return out
    out.t0 = t0 = packets[0].ts
    inv = 1.0 / clock_rate if clock_rate else 0.0
    jitter, transit_prev, prev_ts = 0.0, None, None
    top = cycles = 0
    received: set[int] = set()
    jumps: list[tuple[float, int, int]] = []          # (time, first missing, how many)
    for number, packet in enumerate(packets):
        out.times.append(packet.ts - t0)
        out.delta_ms.append(1000.0 * (packet.ts - prev_ts) if prev_ts is not None else 0.0)
        prev_ts = packet.ts
        if inv and packet.size != 16:
            transit = packet.ts - packet.rtp_ts * inv
            if transit_prev is not None:
                d = abs(transit - transit_prev)
                if d < 1.0:                                # as streams.py: pauses are not jitter
                    jitter += (d - jitter) / 16.0
            transit_prev = transit
        out.jitter_ms.append(1000.0 * jitter)
        # extended sequence numbers (RFC 3550 A.1): forward steps move the top, wraps add a cycle
        if number == 0:
            top, extended = packet.seq, packet.seq
        else:
            step = (packet.seq - top) & 0xFFFF
            if 0 < step < 3000:
                if packet.seq < top:
                    cycles += 0x10000
                if step > 1:
                    jumps.append((packet.ts - t0, cycles + top + 1, step - 1))
                top = packet.seq
                extended = cycles + top
            else:                                          # late, duplicate or out of window
                extended = cycles + packet.seq - (0x10000 if packet.seq > top else 0)
        received.add(extended)
    for when, first, count in jumps:
        missing = sum(1 for seq in range(first, first + count) if seq not in received)
        if missing:
            out.lost.append((when, missing))
    return out
