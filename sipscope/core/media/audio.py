"""The audio of a call: its RTP payloads decoded and laid out in time, for a WAV file or playback.

G.711 µ-law (PCMU) and A-law (PCMA) are decoded here with 256-entry tables (ITU-T G.711 §3-§4;
the `audioop` module is deprecated and gone in Python 3.13).  G.722 is decoded by the `G722`
package (libg722, bit-exact ITU-T G.722, public domain, ~60 KB wheels for Windows, macOS and
Linux) in its 8 kHz output mode, which keeps one sample per RTP tick (RFC 3551 §4.5.2: G.722's RTP
clock is 8000).  Opus is not decoded: no small maintained wheel carries libopus on all three
systems (PyAV brings the whole of FFmpeg).  Codecs not decoded are named in words and that channel
is silent.  SRTP (RTP/SAVP) cannot be decoded without its keys, which a capture does not hold.

Layout (the jitter buffer "off" of Wireshark's RTP Player): within a stream, each packet goes where
its RTP timestamp says, relative to the stream's first packet (RFC 3550 §5.1), so a lost packet
leaves silence of its length and a late one still lands in its place.  The stream starts at its
first packet's arrival time; when the RTP clock and the arrival clock drift apart by more than a
second (a sender that jumped its timestamps) the packet is placed by arrival instead.

With a jitter buffer of B ms ("on"), a packet is played only if it arrived by its playout time --
the first packet's arrival + B + its RTP offset -- and is silence otherwise, as a receiver with a
fixed buffer of that depth would play it; the notes count the packets that came too late.  The caller's
voice (caller -> callee streams) is the left channel, the callee's the right, both on one time
axis that starts with the first packet of either.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass, field

import numpy as np

from sipscope.core.analysis.text import plural
from sipscope.core.media.attach import CALLEE_TO_CALLER, CALLER_TO_CALLEE
from sipscope.core.media.packets import read_stream_packets

RATE = 8000                                   # G.711 sampling rate (and RTP clock, RFC 3551 §4.5)
MAX_SECONDS = 4 * 3600                        # a call's audio is cut after 4 hours
_RESYNC = RATE                                # samples of RTP-vs-arrival drift that re-anchor


def _ulaw_table() -> np.ndarray:
    """G.711 µ-law: the byte is inverted; sign, 3-bit exponent, 4-bit mantissa; bias 0x84."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + 0x84) << exponent
    sample = magnitude - 0x84
    return np.where(u & 0x80, -sample, sample).astype(np.int16)


def _alaw_table() -> np.ndarray:
    """G.711 A-law: even bits inverted (XOR 0x55); sign bit set means positive."""
    a = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    sample = np.where(exponent == 0, (mantissa << 4) + 8,
                      ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(a & 0x80, sample, -sample).astype(np.int16)


ULAW = _ulaw_table()
ALAW = _alaw_table()
DECODERS = {"PCMU": ULAW, "PCMA": ALAW}


def _g722_decoder():
    """A function payload -> 8 kHz samples keeping one G.722 decoder's state (ADPCM), or None
    when the G722 package is not installed."""
    try:
        from G722 import G722
    except ImportError:
        return None
    codec = G722(8000, 64000)
    return lambda payload: np.asarray(codec.decode(payload), dtype=np.int16)


def decoder_for(codec: str):
    """payload bytes -> int16 samples at 8 kHz for `codec` ("PCMA/8000", "G722/8000"), or None."""
    name = codec.split("/")[0].upper()
    table = DECODERS.get(name)
    if table is not None:
        return lambda payload: table[np.frombuffer(payload, dtype=np.uint8)]
    if name == "G722":
        return _g722_decoder()
    return None


def decodable(codec: str) -> bool:
    return decoder_for(codec) is not None


def decoded_names() -> str:
    """The codecs this installation decodes, in words."""
    return "G.711 µ-law and A-law" + (", and G.722" if _g722_decoder() is not None else "")


@dataclass(slots=True)
class Channel:
    """One direction's audio: samples from `start` (arrival time of sample 0)."""

    samples: np.ndarray
    start: float
    notes: list[str] = field(default_factory=list)
    late: int = 0                      # packets dropped by the jitter buffer


def place_packets(packets, decode, pt: int,
                  jitter_buffer_ms: float | None = None) -> Channel | None:
    """Decode the packets of payload type `pt` (arrival order) onto one sample buffer; with a
    jitter buffer, drop those that arrived after their playout time (Channel.late counts them).
    `decode`: payload -> int16 samples (or a G.711 table)."""
    if isinstance(decode, np.ndarray):
        table = decode
        decode = lambda payload: table[np.frombuffer(payload, dtype=np.uint8)]  # noqa: E731
    chosen = [p for p in packets if p.pt == pt and p.payload]
    if not chosen:
        return None
    first = chosen[0]
    t0, anchor = first.ts, first.rtp_ts
    placed: list[tuple[int, np.ndarray]] = []
    limit = MAX_SECONDS * RATE
    late = 0
    buffer_s = jitter_buffer_ms / 1000.0 if jitter_buffer_ms is not None else None
    for packet in chosen:
        by_arrival = int(round((packet.ts - t0) * RATE))
        offset = (packet.rtp_ts - anchor) & 0xFFFFFFFF
        if offset >= 0x80000000:
            offset -= 0x100000000                             # before the anchor (reordered)
        if abs(offset - by_arrival) > _RESYNC:                # the RTP clock jumped: re-anchor
            anchor = (packet.rtp_ts - by_arrival) & 0xFFFFFFFF
            offset = by_arrival
        if buffer_s is not None and packet.ts > t0 + buffer_s + offset / RATE:
            late += 1                                        # too late for the buffer
            continue
        if 0 <= offset < limit:
            placed.append((offset, decode(packet.payload)))
    length = max((o + len(p) for o, p in placed), default=0)
    samples = np.zeros(length, dtype=np.int16)
    for offset, decoded in placed:
        samples[offset:offset + len(decoded)] = decoded
    return Channel(samples, t0, late=late)


def _srtp(row) -> bool:
    ms = row.media_session
    for exchange in ms.exchanges if ms is not None else ():
        for desc in (exchange.offer_desc, exchange.answer_desc):
            line = desc.audio() if desc is not None else None
            if line is not None and "SAVP" in line.proto.upper():
                return True
    return False


def direction_channel(rows, paths, cancelled=None,
                      jitter_buffer_ms: float | None = None) -> Channel:
    """The audio of one direction (its rows: streams of the same call and direction)."""
    out = Channel(np.zeros(0, dtype=np.int16), float("inf"))
    parts: list[Channel] = []
    for row in rows:
        if row.expected_only:
            out.notes.append(f"{row.direction_text}: no packet in the capture; that channel is "
                             f"silent.")
            continue
        codec = row.codec or "?"
        if _srtp(row):
            out.notes.append(f"{row.direction_text} {row.src} -> {row.dst}: SRTP (RTP/SAVP) "
                             f"cannot be decoded without its keys, which a capture does not "
                             f"hold; silent.")
            continue
        decode = decoder_for(codec)
        if decode is None:
            out.notes.append(f"{row.direction_text} {row.src} -> {row.dst}: {codec} cannot be "
                             f"decoded (only {decoded_names()} can); silent.")
            continue
        stream = row.stream
        packets = read_stream_packets(paths, stream.src, stream.dst, stream.ssrc,
                                      keep_payload=True, cancelled=cancelled)
        channel = place_packets(packets, decode, row.codec_pt, jitter_buffer_ms)
        if channel is not None:
            parts.append(channel)
            if channel.late:
                late = plural(channel.late, "packet")
                out.notes.append(f"{row.direction_text} {row.src} -> {row.dst}: {late} "
                                 f"arrived too late for a {jitter_buffer_ms:.0f} ms jitter "
                                 f"buffer; silent there.")
    if not parts:
        return out
    out.start = min(p.start for p in parts)
    length = max(int(round((p.start - out.start) * RATE)) + len(p.samples) for p in parts)
    out.samples = np.zeros(min(length, MAX_SECONDS * RATE), dtype=np.int16)
    for part in sorted(parts, key=lambda p: p.start):
        at = int(round((part.start - out.start) * RATE))
        chunk = part.samples[:max(0, len(out.samples) - at)]
        out.samples[at:at + len(chunk)] = chunk
    return out


@dataclass(slots=True)
class CallAudio:
    """Stereo audio of a call: left = caller's voice, right = callee's, from `start`."""

    left: np.ndarray
    right: np.ndarray
    start: float
    notes: list[str]

    @property
    def seconds(self) -> float:
        return len(self.left) / RATE


def call_audio(rows, paths, cancelled=None, jitter_buffer_ms: float | None = None) -> CallAudio:
    """Both directions of a call's streams-table rows, aligned on one time axis."""
    caller = direction_channel([r for r in rows if r.direction == CALLER_TO_CALLEE], paths,
                               cancelled, jitter_buffer_ms)
    callee = direction_channel([r for r in rows if r.direction == CALLEE_TO_CALLER], paths,
                               cancelled, jitter_buffer_ms)
    notes = caller.notes + callee.notes
    starts = [c.start for c in (caller, callee) if len(c.samples)]
    if not starts:
        return CallAudio(np.zeros(0, np.int16), np.zeros(0, np.int16), 0.0, notes)
    start = min(starts)
    length = max(int(round((c.start - start) * RATE)) + len(c.samples)
                 for c in (caller, callee) if len(c.samples))
    channels = []
    for channel in (caller, callee):
        buffer = np.zeros(length, dtype=np.int16)
        if len(channel.samples):
            at = int(round((channel.start - start) * RATE))
            buffer[at:at + len(channel.samples)] = channel.samples[:length - at]
        channels.append(buffer)
    return CallAudio(channels[0], channels[1], start, notes)


def write_wav(path, audio: CallAudio) -> None:
    """16-bit stereo PCM WAV at 8 kHz (left: caller, right: callee), written beside the target
    and renamed when complete (core/export/output.py: an interrupted write leaves no half file)."""
    from sipscope.core.export.output import written_atomically
    frames = np.empty(2 * len(audio.left), dtype="<i2")
    frames[0::2] = audio.left
    frames[1::2] = audio.right
    with written_atomically(str(path), ".wav") as temporary, wave.open(temporary, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames.tobytes())
