"""The RTP streams table: one row per stream and per negotiated direction that never arrived.

Rows read the per-stream aggregates the loader keeps (media/streams.py RtpStream) and the
offer/answer index (media/calls.py); they copy no counter.  A row of a stream that was seen
carries the stream; a row `expected_only` stands for a direction the SDP negotiated (RFC 3264
§6.1: the sender may send and the receiver gave an address to receive on) in an answered media
session, of which the capture holds no packet.  Such rows exist only when the capture holds some
RTP: a capture without any (a SIP-only filter) cannot tell missing media from media not captured,
which is also when the RTP fault rules stay quiet.

Columns (as Wireshark's RTP Streams): source -> destination, SSRC, codec (the payload type's name
from the receiving side's SDP rtpmap, RFC 3264 §5.1, else the RFC 3551 §6 static name), packets,
expected and lost (RFC 3550 A.3), sequence errors, duplicates, max delta, mean and max jitter
(RFC 3550 A.8), duration, RFC 4733 events, and an E-model estimate (media/quality.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sipscope.core.media.attach import CALLEE_TO_CALLER, CALLER_TO_CALLEE
from sipscope.core.media.calls import CALLEE, CALLER, MediaIndex, MediaSession, media_index
from sipscope.core.media.quality import Quality, estimate
from sipscope.core.sip.sdp import STATIC_PAYLOAD_TYPES

EVENT_NAMES = ("telephone-event",)
_NOT_AUDIO_CODEC = ("telephone-event", "cn", "comfort-noise")
DIRECTION_WORDS = {CALLER_TO_CALLEE: "caller → callee", CALLEE_TO_CALLER: "callee → caller"}


def _addr_text(addr: tuple[str, int] | None) -> str:
    if addr is None:
        return "?"
    ip, port = addr
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@dataclass(slots=True, eq=False)
class StreamRow:
    """One row of the streams table (compared by identity: views select the row object)."""

    call: object | None                 # the Call, None for a stream no call's SDP explains
    media_session: MediaSession | None
    direction: str | None               # CALLER_TO_CALLEE | CALLEE_TO_CALLER | None
    stream: object | None              # the RtpStream; None when expected_only
    names: dict                         # payload type -> codec label ("PCMA/8000")
    expected_src: tuple[str, int] | None = None     # expected_only: the SDP addresses
    expected_dst: tuple[str, int] | None = None
    expected_codec: str = ""
    _quality: Quality | None = None

    # -- identity ----------------------------------------------------------------------------
    @property
    def expected_only(self) -> bool:
        return self.stream is None

    @property
    def src(self) -> str:
        return self.stream.src if self.stream is not None else _addr_text(self.expected_src)

    @property
    def dst(self) -> str:
        return self.stream.dst if self.stream is not None else _addr_text(self.expected_dst)

    @property
    def ssrc(self) -> int | None:
        return self.stream.ssrc if self.stream is not None else None

    @property
    def ssrc_text(self) -> str:
        return f"0x{self.stream.ssrc:08X}" if self.stream is not None else "-"

    @property
    def direction_text(self) -> str:
        return DIRECTION_WORDS.get(self.direction, "direction unknown")

    @property
    def codec_pt(self) -> int | None:
        """The payload type that carried most packets, RFC 4733 events and comfort noise aside."""
        stream = self.stream
        if stream is None:
            return None
        counts = stream.payload_types
        audio = {pt: n for pt, n in counts.items()
                 if self._name(pt).split("/")[0].lower() not in _NOT_AUDIO_CODEC}
        pick = audio or counts
        return max(pick, key=pick.__getitem__) if pick else None

    def _name(self, pt: int) -> str:
        if pt in self.names:
            return self.names[pt]
        static = STATIC_PAYLOAD_TYPES.get(pt)
        return f"{static[0]}/{static[1]}" if static else ""

    @property
    def codec(self) -> str:
        """Codec by name ("PCMA/8000"), "PT 96" when neither SDP nor RFC 3551 names it."""
        if self.stream is None:
            return self.expected_codec
        pt = self.codec_pt
        if pt is None:
            return ""
        return self._name(pt) or f"PT {pt}"

    # -- numbers (read from the stream each time) ---------------------------------------------
    @property
    def packets(self) -> int:
        return self.stream.packets if self.stream is not None else 0

    @property
    def expected(self) -> int:
        return self.stream.expected if self.stream is not None else 0

    @property
    def lost(self) -> int:
        return self.stream.lost if self.stream is not None else 0

    @property
    def lost_pct(self) -> float:
        return 100.0 * self.stream.loss_ratio if self.stream is not None else 0.0

    @property
    def sequence_errors(self) -> int:
        """RFC 3550 A.1 sequence errors: forward jumps, late (reordered) packets and packets
        outside the sequence window."""
        s = self.stream
        return s.seq_gaps + s.late + s.stray if s is not None else 0

    @property
    def duplicates(self) -> int:
        return self.stream.duplicates if self.stream is not None else 0

    @property
    def max_delta_ms(self) -> float:
        """The longest time between two consecutive packets (Wireshark's max delta)."""
        return 1000.0 * self.stream.max_gap_s if self.stream is not None else 0.0

    @property
    def mean_jitter_ms(self) -> float:
        return self.stream.mean_jitter_ms if self.stream is not None else 0.0

    @property
    def max_jitter_ms(self) -> float:
        return 1000.0 * self.stream.max_jitter_s if self.stream is not None else 0.0

    @property
    def duration(self) -> float:
        return self.stream.duration if self.stream is not None else 0.0

    @property
    def first_ts(self) -> float | None:
        return self.stream.first_ts if self.stream is not None else None

    @property
    def last_ts(self) -> float | None:
        return self.stream.last_ts if self.stream is not None else None

    def event_pts(self) -> set[int]:
        """RFC 4733 payload types the receiving side's SDP names (RFC 4733 §7.1)."""
        return {pt for pt, label in self.names.items()
                if label.split("/")[0].lower() in EVENT_NAMES}

    @property
    def events(self) -> list[tuple[float, int, int]]:
        """(arrival time, payload type, event code) of the RFC 4733 events (the first 256): of
        the SDP's telephone-event types when it names one, else every event-like packet's."""
        stream = self.stream
        if stream is None:
            return []
        pts = self.event_pts()
        return [e for e in stream.events if not pts or e[1] in pts]

    @property
    def dtmf_events(self) -> int:
        stream = self.stream
        if stream is None:
            return 0
        kept = len(stream.events)
        return len(self.events) + max(0, stream.dtmf_events - kept)

    @property
    def packet_ms(self) -> float | None:
        """Mean packet interval over the stream (RTP sequence numbers, so loss does not count)."""
        s = self.stream
        if s is None or s.expected < 2 or s.duration <= 0:
            return None
        return 1000.0 * s.duration / (s.expected - 1)

    @property
    def quality(self) -> Quality | None:
        """The E-model estimate (None for an expected-only row)."""
        if self.stream is None:
            return None
        if self._quality is None:
            packet = self.packet_ms
            if packet is not None and not 5.0 <= packet <= 120.0:
                packet = None           # pauses or silence suppression: not a packet interval
            self._quality = estimate(self.codec, self.lost_pct, self.mean_jitter_ms, packet)
        return self._quality

    @property
    def mos(self) -> float | None:
        q = self.quality
        return round(q.mos, 2) if q is not None and q.mos is not None else None

    @property
    def r_factor(self) -> float | None:
        q = self.quality
        return round(q.r_factor, 1) if q is not None and q.r_factor is not None else None

    # -- output -------------------------------------------------------------------------------
    def json_fields(self) -> dict:
        """The fields `report --json` adds to a stream (and that an expected-only row has)."""
        return {"codec": self.codec, "mos": self.mos, "r_factor": self.r_factor,
                "direction": self.direction, "expected_only": self.expected_only,
                "sequence_errors": self.sequence_errors,
                "max_delta_ms": round(self.max_delta_ms, 3),
                "mean_jitter_ms": round(self.mean_jitter_ms, 3),
                "dtmf_events": self.dtmf_events}

    def to_json(self) -> dict:
        if self.stream is not None:
            return {**self.stream.to_json(), **self.json_fields()}
        return {"src": self.src, "dst": self.dst, "ssrc": None, "packets": 0, "octets": 0,
                "first_ts": None, "last_ts": None, "duration": 0.0, "payload_types": {},
                "expected": 0, "lost": 0, "seq_gaps": 0, "duplicates": 0,
                "jitter_ms": 0.0, "max_jitter_ms": 0.0, **self.json_fields()}

    def tooltip(self) -> str:
        """Plain text (never rich text: addresses come from the capture)."""
        if self.stream is None:
            return (f"{self.direction_text}: {self.src} -> {self.dst}, {self.codec or 'codec ?'}\n"
                    f"Negotiated in the SDP, but no packet of it is in the capture.")
        q = self.quality
        return (f"{self.direction_text}: {self.src} -> {self.dst}, SSRC {self.ssrc_text}, "
                f"{self.codec}\n"
                f"{self.packets:,} packets of {self.expected:,} expected, {self.lost:,} lost "
                f"({self.lost_pct:.1f} %), {self.sequence_errors:,} sequence errors, "
                f"{self.duplicates:,} duplicates\n"
                f"max delta {self.max_delta_ms:.1f} ms, jitter mean {self.mean_jitter_ms:.2f} ms / "
                f"max {self.max_jitter_ms:.2f} ms, {self.duration:.1f} s, "
                f"{self.dtmf_events} DTMF events\n" + (q.words() if q else ""))


# -- building the rows ----------------------------------------------------------------------------
def _sends(exchange, sender: str) -> tuple | None:
    """(sender's audio endpoint, receiver's, codec) when `sender` may send audio in this completed
    exchange (RFC 3264 §6.1: its direction sends, the peer's receives, the peer gave an address)."""
    receiver = CALLEE if sender == CALLER else CALLER
    mine, theirs = exchange.desc_of(sender), exchange.desc_of(receiver)
    a = mine.audio() if mine is not None else None
    b = theirs.audio() if theirs is not None else None
    if a is None or b is None or a.rejected or b.rejected:
        return None
    if a.direction not in ("sendrecv", "sendonly") or b.direction not in ("sendrecv", "recvonly"):
        return None
    dst = b.endpoint()
    if dst is None:
        return None
    answer = exchange.answer_desc.audio() if exchange.answer_desc is not None else None
    codec = next((f.label() for f in (answer.formats if answer else ())
                  if f.pt is not None and f.name not in _NOT_AUDIO_CODEC), "")
    return a.endpoint(), dst, codec


def expected_directions(ms: MediaSession) -> dict[str, tuple]:
    """toward ('callee' | 'caller') -> (src, dst, codec) of every direction the completed
    offer/answer pairs of an answered media session let flow (the last such pair's addresses)."""
    out: dict[str, tuple] = {}
    if ms.answered is None:
        return out
    for exchange in ms.completed():
        for sender, toward in ((CALLER, CALLEE), (CALLEE, CALLER)):
            found = _sends(exchange, sender)
            if found is not None:
                out[toward] = found
    return out


def _direction(toward: str) -> str:
    return CALLER_TO_CALLEE if toward == CALLEE else CALLEE_TO_CALLER


def _call_rows(index: MediaIndex, call, expect: bool, seen: set[int]) -> list[StreamRow]:
    rows: list[StreamRow] = []
    for ms in index.call_sessions(call):
        expected = expected_directions(ms) if expect else {}
        for toward in (CALLEE, CALLER):
            streams = ms.streams(toward)
            for stream in streams:
                if id(stream) in seen:
                    continue
                seen.add(id(stream))
                rows.append(StreamRow(call, ms, _direction(toward), stream,
                                      index.pt_names(stream)))
            if not streams and toward in expected:
                src, dst, codec = expected[toward]
                rows.append(StreamRow(call, ms, _direction(toward), None, {}, src, dst, codec))
    rows.sort(key=lambda r: (r.first_ts if r.first_ts is not None else float("inf"),
                             r.src, r.dst, r.ssrc or 0))
    return rows


def stream_rows(session, call=None) -> list[StreamRow]:
    """The rows of one call, or (call None) of the whole capture: every call's rows in call order,
    then the streams no call's SDP explains."""
    media = session.media
    streams = getattr(media, "streams", None)
    if not streams:
        return []
    index = media_index(session)
    if call is not None:
        return _call_rows(index, call, True, set())
    seen: set[int] = set()
    rows: list[StreamRow] = []
    for each in session.calls:
        rows += _call_rows(index, each, True, seen)
    rows += [StreamRow(None, None, None, s, {}) for s in streams if id(s) not in seen]
    return rows


class StreamTable:
    """The rows of a whole session, built once, and each call's share of them (same objects)."""

    def __init__(self, session) -> None:
        self.session = session
        self.rows: list[StreamRow] = stream_rows(session) if session is not None else []
        self._by_call: dict[str, list[StreamRow]] = {}
        # per-packet analyses read back from the capture on demand (media/packets.py), by
        # id(stream): the timeline's lost marks and the stream analysis share one reading
        self.analyses: dict[int, object] = {}
        for row in self.rows:
            if row.call is not None:
                self._by_call.setdefault(row.call.call_id, []).append(row)

    def rows_for(self, call) -> list[StreamRow]:
        return self._by_call.get(call.call_id, []) if call is not None else []

    def row_of(self, stream) -> StreamRow | None:
        for row in self.rows:
            if row.stream is stream:
                return row
        return None


# -- text --------------------------------------------------------------------------------------
TEXT_HEADER = ["direction", "src -> dst", "SSRC", "codec", "pkts", "expected", "lost", "seq err",
               "dup", "max delta ms", "jitter ms mean/max", "secs", "DTMF", "MOS (est.)"]


def text_row(row: StreamRow) -> list[str]:
    if row.expected_only:
        return [row.direction_text, f"{row.src} -> {row.dst}", "-", row.codec or "?", "0",
                "-", "-", "-", "-", "-", "-", "-", "-", "no packets (negotiated, not seen)"]
    mos = f"{row.mos:.2f} (R {row.r_factor:.0f})" if row.mos is not None else "-"
    return [row.direction_text, f"{row.src} -> {row.dst}", row.ssrc_text, row.codec,
            f"{row.packets:,}", f"{row.expected:,}", f"{row.lost:,} ({row.lost_pct:.1f} %)",
            f"{row.sequence_errors:,}", f"{row.duplicates:,}", f"{row.max_delta_ms:.1f}",
            f"{row.mean_jitter_ms:.2f}/{row.max_jitter_ms:.2f}", f"{row.duration:.1f}",
            str(row.dtmf_events), mos]
