"""Per-stream RTP statistics, plus RTCP/STUN/DTLS counts, gathered one datagram at a time.

`MediaCollector.add()` is the hot path (called for every media datagram of a capture), so it
keeps memory per stream, never per packet: counters, RFC 3550 sequence and jitter state, and a
compact activity timeline of packets per 100 ms bucket (`array('H')`).

Streams are keyed by (source, destination, SSRC), never by SSRC alone (D10): replayed media,
such as SIPp's pcap play, repeats one SSRC in every call.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, field

from sipscope.core.media.classify import DTLS, RTCP, RTP, STUN, UDPTL, ZRTP, classify
from sipscope.core.sip.sdp import STATIC_PAYLOAD_TYPES

BUCKET_S = 0.1                     # activity bucket width
_BUCKETS_PER_S = 10.0
MAX_BUCKETS = 1 << 20              # ~29 h of 100 ms buckets (2 MiB) per stream at most
_GROW = 64                         # buckets added at a time (6.4 s)
MAX_EVENTS = 256                   # RFC 4733 events kept with their time per stream
_MAX_DROPOUT = 3000                # RFC 3550 A.1
_MAX_MISORDER = 100                # RFC 3550 A.1
_SEQ_MOD = 1 << 16
_INFER_AFTER_S = 0.25              # time base used to infer an unknown clock rate
_NAN = float("nan")
_KNOWN_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 90000)

_RTP_HEAD = struct.Struct("!HII").unpack_from       # seq, timestamp, SSRC at offset 2
_RTCP_HEAD = struct.Struct("!BBHI").unpack_from     # V/P/RC, PT, length, SSRC
_REPORT_BLOCK = struct.Struct("!IIIIII").unpack_from

# RFC 3551 §4.5: payload bytes per millisecond of audio of the fixed-rate static types
# (G.711 PCMU/PCMA and G.722 at 64 kbit/s, G.729 at 8 kbit/s).
FIXED_RATE_BYTES_PER_MS: dict[int, float] = {0: 8.0, 8: 8.0, 9: 8.0, 18: 1.0}

# RFC 3551 §6 clock rates of the static payload types.
STATIC_CLOCK_RATES: dict[int, int] = {pt: rate for pt, (_, rate, _) in STATIC_PAYLOAD_TYPES.items()}


def _snap_rate(rate: float) -> int:
    """Nearest usual RTP clock rate (RFC 3551 §4.5 and the common dynamic codecs)."""
    return min(_KNOWN_RATES, key=lambda known: abs(known - rate) / known)


@dataclass(slots=True)
class PtStat:
    """What one payload type of a stream carried: packets, first/last time, event-like packets."""

    count: int
    first_ts: float
    last_ts: float
    event_like: int = 0          # 4-byte payloads with an event code 0-16 (RFC 4733 §2.3, §3.10)

    def to_json(self) -> dict:
        return {"count": self.count, "first_ts": self.first_ts, "last_ts": self.last_ts,
                "event_like": self.event_like}


@dataclass(slots=True)
class RtpStream:
    """One RTP stream: packets from `src` to `dst` with one SSRC (RFC 3550 §3, §8).

    The counters are updated by `MediaCollector.add` (the hot path lives there, inlined);
    the methods here are the rarer paths and the results.
    """

    src: str
    dst: str
    ssrc: int
    first_ts: float
    last_ts: float
    packets: int = 0
    octets: int = 0                                  # UDP payload bytes, RTP headers included
    # RFC 3550 A.1 sequence state; `expected` counts from base_seq with wrap-around cycles.
    base_seq: int = 0
    max_seq: int = 0
    cycles: int = 0
    seq_gaps: int = 0                                # forward jumps of more than one
    duplicates: int = 0                              # repeats of the highest sequence number
    late: int = 0                                    # arrived behind the highest (reordered)
    restarts: int = 0                                # sequence re-synchronised after a big jump
    stray: int = 0                                   # packets outside the sequence window
    # RFC 3550 §6.4.1 / A.8 interarrival jitter, kept in seconds.
    jitter_s: float = 0.0
    max_jitter_s: float = 0.0
    clock_rate: int | None = None                    # rate used for the last jitter sample
    inferred_rates: dict[int, int] = field(default_factory=dict)
    max_gap_s: float = 0.0
    bucket0: int = 0                                 # absolute index of the first 100 ms bucket
    activity_overflow: int = 0                       # packets beyond MAX_BUCKETS
    _act: array = field(default_factory=lambda: array("H"))
    _pts: dict[int, PtStat] = field(default_factory=dict)   # closed runs per payload type
    _pt: int = -1                                    # payload type of the current run
    _run_start: int = 0                              # `packets` before the current run
    _run_events: int = 0                             # event-like packets in the current run
    _expected_prior: int = 0
    _bad_seq: int = -1
    _inv_rate: float = 0.0                           # 1 / clock rate of the current type
    _rate_map: dict[int, int] = field(default_factory=dict)
    _infer: tuple[float, int] | None = None
    _transit: float = _NAN                           # transit of the previous jitter sample
    _b_start: float = 0.0                            # current activity bucket [start, end)
    _b_end: float = 0.0
    _b_index: int = -1
    _b_count: int = 0
    # For the streams table (core/media/table.py): the mean of the A.8 jitter over its samples
    # (as Wireshark's "mean jitter"), and RFC 4733 events: packets of one event share one RTP
    # timestamp (RFC 4733 §2.5.1.2), so a new timestamp among event-like packets is a new event.
    jitter_sum_s: float = 0.0
    jitter_samples: int = 0
    dtmf_events: int = 0
    events: list = field(default_factory=list)      # (arrival ts, pt, event code), first MAX_EVENTS
    _ev_rtpts: int = -1
    # For the media rules (rules/rtp.py): packets with the marker bit (RFC 3551 §4.1: the first
    # packet of each talkspurt when the sender suppresses silence), and when the repeats of the
    # highest sequence number (`duplicates`: the same packet sent twice) were seen.
    markers: int = 0
    first_dup_ts: float | None = None
    last_dup_ts: float | None = None

    # -- rarer paths ---------------------------------------------------------------------
    def switch_pt(self, pt: int, ts: float) -> None:
        """Close the run of the previous payload type and start one for `pt`."""
        if self._pt >= 0:
            stat = self._pts[self._pt]
            stat.count += self.packets - 1 - self._run_start
            stat.event_like += self._run_events
            stat.last_ts = self.last_ts
        self._pt = pt
        self._run_start = self.packets - 1
        self._run_events = 0
        if pt not in self._pts:
            self._pts[pt] = PtStat(0, ts, ts)
        rate = self._rate_map.get(pt) or self.inferred_rates.get(pt) or 0
        self._inv_rate = 1.0 / rate if rate else 0.0
        if rate:
            self.clock_rate = rate
        self._infer = None
        self._transit = _NAN                         # RFC 3550 A.8 runs within one type

    def infer_rate(self, pt: int, ts: float, rtpts: int) -> None:
        """Guess an unknown (dynamic) clock rate from timestamp progress over >= 0.25 s."""
        if self._infer is None:
            self._infer = (ts, rtpts)
            return
        t0, r0 = self._infer
        elapsed = ts - t0
        if elapsed < _INFER_AFTER_S:
            return
        dts = (rtpts - r0) & 0xFFFFFFFF
        if dts == 0 or dts >= 0x80000000:
            self._infer = (ts, rtpts)
            return
        rate = _snap_rate(dts / elapsed)
        self.inferred_rates[pt] = rate
        self.clock_rate = rate
        self._inv_rate = 1.0 / rate
        self._transit = ts - rtpts / rate

    def seq_jump(self, seq: int) -> None:
        """RFC 3550 A.1: a large jump is believed only when the next packet follows it."""
        if seq == self._bad_seq:
            # The packet before this one started the new run: base = seq - 1 (may be -1).
            self._expected_prior += self.cycles + self.max_seq - self.base_seq + 1
            self.base_seq = seq - 1
            self.max_seq = seq
            self.cycles = 0
            self.restarts += 1
            self.stray -= 1                         # that packet now counts in the new run
            self._bad_seq = -1
        else:
            self._bad_seq = (seq + 1) & 0xFFFF
            self.stray += 1

    def new_event(self, ts: float, pt: int, rtpts: int, code: int) -> None:
        """An event-like packet with a new RTP timestamp: one more RFC 4733 event."""
        self._ev_rtpts = rtpts
        self.dtmf_events += 1
        if len(self.events) < MAX_EVENTS:
            self.events.append((ts, pt, code))

    def next_bucket(self, ts: float) -> None:
        """Store the count of the bucket just left and count one packet in the bucket of `ts`."""
        self._flush_bucket()
        i = int(ts * _BUCKETS_PER_S) - self.bucket0
        if i < 0:
            i = 0                                    # out-of-order input: count in bucket 0
        if i >= MAX_BUCKETS:
            self.activity_overflow += 1
            return
        self._b_index = i
        self._b_count = 1
        self._b_start = (self.bucket0 + i) * BUCKET_S
        self._b_end = (self.bucket0 + i + 1) * BUCKET_S

    def _flush_bucket(self) -> None:
        i, count = self._b_index, self._b_count
        if i < 0 or not count:
            return
        act = self._act
        if i >= len(act):
            act.frombytes(bytes(2 * (i + _GROW - len(act))))
        act[i] = min(65535, act[i] + count)
        self._b_count = 0

    # -- results -------------------------------------------------------------------------
    @property
    def duration(self) -> float:
        return self.last_ts - self.first_ts

    @property
    def pt_stats(self) -> dict[int, PtStat]:
        """Per payload type: packets, first/last time, event-like packets (a fresh copy)."""
        out = {pt: PtStat(s.count, s.first_ts, s.last_ts, s.event_like)
               for pt, s in self._pts.items()}
        if self._pt >= 0:
            cur = out[self._pt]
            cur.count += self.packets - self._run_start
            cur.event_like += self._run_events
            cur.last_ts = self.last_ts
        return out

    @property
    def payload_types(self) -> dict[int, int]:
        """Packets per payload type."""
        return {pt: stat.count for pt, stat in self.pt_stats.items()}

    @property
    def main_pt(self) -> int | None:
        """The payload type that carried most packets."""
        counts = self.payload_types
        return max(counts, key=counts.__getitem__) if counts else None

    @property
    def expected(self) -> int:
        """RFC 3550 A.3: extended highest sequence number minus base, plus one."""
        return self._expected_prior + self.cycles + self.max_seq - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Expected minus received (RFC 3550 A.3), not counting duplicates; never negative."""
        return max(0, self.expected - (self.packets - self.duplicates - self.stray))

    @property
    def loss_ratio(self) -> float:
        expected = self.expected
        return self.lost / expected if expected > 0 else 0.0

    @property
    def jitter_ms(self) -> float:
        """RFC 3550 interarrival jitter in milliseconds (computed with `clock_rate`)."""
        return self.jitter_s * 1000.0

    @property
    def payload_ms(self) -> float | None:
        """Audio per packet (packetisation, RFC 3551 §4.5) of a fixed-rate codec stream: mean
        payload bytes / bytes per ms of its main payload type; None for other codecs, or when
        other payload types (events, comfort noise) make up more than a tenth of the packets."""
        main = self.main_pt
        per_ms = FIXED_RATE_BYTES_PER_MS.get(main) if main is not None else None
        if per_ms is None or not self.packets \
                or self.payload_types.get(main, 0) < 0.9 * self.packets:
            return None
        return (self.octets - 12 * self.packets) / self.packets / per_ms

    @property
    def mean_jitter_ms(self) -> float:
        """Mean of the RFC 3550 A.8 jitter estimate over its samples, in milliseconds."""
        return 1000.0 * self.jitter_sum_s / self.jitter_samples if self.jitter_samples else 0.0

    @property
    def jitter(self) -> int | None:
        """Jitter in timestamp units, as an RTCP receiver report would carry it (RFC 3550 §6.4.1)."""
        return round(self.jitter_s * self.clock_rate) if self.clock_rate else None

    @property
    def activity(self) -> array:
        """Packets per 100 ms bucket (saturating at 65535); bucket i starts at (bucket0 + i) * 0.1 s."""
        self._flush_bucket()
        end = int(self.last_ts * _BUCKETS_PER_S) - self.bucket0 + 1
        return self._act[:max(0, min(end, len(self._act)))]

    def event_packets(self, pt: int | None = None) -> tuple[int, float | None]:
        """(count, first time) of telephone-event packets: of payload type `pt` when the SDP
        names it (RFC 4733 §7.1), else of every packet that looks like an event."""
        stats = self.pt_stats
        if pt is not None:
            stat = stats.get(pt)
            return (stat.count, stat.first_ts) if stat else (0, None)
        hits = [s for s in stats.values() if s.event_like]
        if not hits:
            return 0, None
        return sum(s.event_like for s in hits), min(s.first_ts for s in hits)

    def to_json(self) -> dict:
        return {
            "src": self.src, "dst": self.dst, "ssrc": f"0x{self.ssrc:08X}",
            "packets": self.packets, "octets": self.octets,
            "first_ts": self.first_ts, "last_ts": self.last_ts, "duration": self.duration,
            "payload_types": {str(pt): n for pt, n in self.payload_types.items()},
            "pt_stats": {str(pt): s.to_json() for pt, s in self.pt_stats.items()},
            "expected": self.expected, "lost": self.lost, "seq_gaps": self.seq_gaps,
            "duplicates": self.duplicates, "late": self.late, "restarts": self.restarts,
            "jitter_ms": round(self.jitter_ms, 3),
            "max_jitter_ms": round(self.max_jitter_s * 1000, 3),
            "clock_rate": self.clock_rate, "max_gap_s": round(self.max_gap_s, 6),
            "activity": {"bucket0": self.bucket0, "bucket_s": BUCKET_S,
                         "counts": self.activity.tolist()},
        }


@dataclass(slots=True)
class RtcpReport:
    """The last report block one side sent about an SSRC (RFC 3550 §6.4.1)."""

    fraction_lost: float
    cumulative_lost: int
    highest_seq: int
    jitter: int                                      # timestamp units

    def to_json(self) -> dict:
        return {"fraction_lost": self.fraction_lost, "cumulative_lost": self.cumulative_lost,
                "highest_seq": self.highest_seq, "jitter": self.jitter}


@dataclass(slots=True)
class RtcpPair:
    """RTCP seen from `src` to `dst`: compound packets and their parts (RFC 3550 §6)."""

    src: str
    dst: str
    first_ts: float
    last_ts: float
    packets: int = 0
    sender_reports: int = 0                          # PT 200
    receiver_reports: int = 0                        # PT 201
    sdes: int = 0                                    # PT 202
    bye: int = 0                                     # PT 203
    other: int = 0                                   # APP, feedback (RFC 4585), XR, ...
    malformed: int = 0
    ssrcs: set[int] = field(default_factory=set)
    reports: dict[int, RtcpReport] = field(default_factory=dict)

    def add(self, ts: float, payload: bytes) -> None:
        self.packets += 1
        if ts > self.last_ts:
            self.last_ts = ts
        elif ts < self.first_ts:
            self.first_ts = ts
        offset, size = 0, len(payload)
        while offset + 8 <= size:                    # RFC 3550 §6.1: compound packet
            first, pt, length, ssrc = _RTCP_HEAD(payload, offset)
            if first >> 6 != 2:
                self.malformed += 1
                return
            end = offset + 4 * (length + 1)
            count = first & 0x1F
            self.ssrcs.add(ssrc)
            if pt == 200:
                self.sender_reports += 1
                self._blocks(payload, offset + 28, count, end)
            elif pt == 201:
                self.receiver_reports += 1
                self._blocks(payload, offset + 8, count, end)
            elif pt == 202:
                self.sdes += 1
            elif pt == 203:
                self.bye += 1
            else:
                self.other += 1
            if end > size:
                self.malformed += 1
                return
            offset = end

    def _blocks(self, payload: bytes, offset: int, count: int, end: int) -> None:
        # RFC 3550 §6.4.1: 24-byte report blocks follow the (sender) header.
        for _ in range(count):
            if offset + 24 > min(end, len(payload)):
                self.malformed += 1
                return
            ssrc, lost, highest, jitter, _lsr, _dlsr = _REPORT_BLOCK(payload, offset)
            cumulative = lost & 0xFFFFFF
            if cumulative & 0x800000:
                cumulative -= 0x1000000
            self.reports[ssrc] = RtcpReport((lost >> 24) / 256.0, cumulative, highest, jitter)
            offset += 24

    def to_json(self) -> dict:
        return {"src": self.src, "dst": self.dst, "first_ts": self.first_ts,
                "last_ts": self.last_ts, "packets": self.packets,
                "sender_reports": self.sender_reports, "receiver_reports": self.receiver_reports,
                "sdes": self.sdes, "bye": self.bye, "other": self.other,
                "malformed": self.malformed,
                "ssrcs": [f"0x{s:08X}" for s in sorted(self.ssrcs)],
                "reports": {f"0x{s:08X}": r.to_json() for s, r in self.reports.items()}}


@dataclass(slots=True)
class PacketPair:
    """Count of STUN, DTLS, ZRTP or UDPTL (T.38 fax) packets from `src` to `dst`."""

    kind: str
    src: str
    dst: str
    first_ts: float
    last_ts: float
    packets: int = 0

    def add(self, ts: float) -> None:
        self.packets += 1
        if ts > self.last_ts:
            self.last_ts = ts
        elif ts < self.first_ts:
            self.first_ts = ts

    def to_json(self) -> dict:
        return {"kind": self.kind, "src": self.src, "dst": self.dst, "packets": self.packets,
                "first_ts": self.first_ts, "last_ts": self.last_ts}


class MediaCollector:
    """Gathers media statistics from datagrams; memory grows per stream, not per packet.

    `clock_rates` maps payload types to RTP clock rates for jitter (RFC 3550 A.8); the RFC 3551
    static types are built in, and a dynamic type with no known rate gets its rate inferred from
    the stream itself (timestamp progress over 0.25 s, snapped to a usual rate).
    """

    __slots__ = ("_streams", "_rtcp", "_other", "clock_rates", "unclassified")

    def __init__(self, clock_rates: dict[int, int] | None = None) -> None:
        self._streams: dict[tuple[str, str, int], RtpStream] = {}
        self._rtcp: dict[tuple[str, str], RtcpPair] = {}
        self._other: dict[tuple[str, str, str], PacketPair] = {}
        self.clock_rates: dict[int, int] = dict(STATIC_CLOCK_RATES)
        if clock_rates:
            self.clock_rates.update(clock_rates)
        self.unclassified = 0

    def set_clock_rate(self, pt: int, rate: int) -> None:
        """Use `rate` for payload type `pt` (e.g. from an SDP rtpmap) in every run of that
        type that starts from now on; call it before the media to cover whole streams."""
        self.clock_rates[pt] = rate

    def add(self, ts: float, src: str, dst: str, payload: bytes) -> str | None:
        """Account for one UDP payload; returns its RFC 7983 class or None.

        The hot path: RTP is handled inline here (one call per packet costs ~0.1 µs), and the
        rarer cases call out to RtpStream methods.
        """
        size = len(payload)
        b0 = payload[0] if size >= 12 else 0
        if b0 < 128 or b0 > 191:
            return self._add_other(ts, src, dst, payload)
        b1 = payload[1]
        if 192 <= b1 <= 223:                                 # RTCP (RFC 5761 §4)
            return self._add_other(ts, src, dst, payload)
        seq, rtpts, ssrc = _RTP_HEAD(payload, 2)
        st = self._streams.get((src, dst, ssrc))
        if st is None:
            st = self._new_stream((src, dst, ssrc), ts, seq)
        st.packets += 1
        st.octets += size
        pt = b1 & 0x7F
        if b1 & 0x80:
            st.markers += 1
        if pt != st._pt:
            st.switch_pt(pt, ts)
        gap = ts - st.last_ts
        if gap > 0.0:
            if gap > st.max_gap_s:
                st.max_gap_s = gap
            st.last_ts = ts
        elif ts < st.first_ts:
            st.first_ts = ts

        # RFC 3550 A.1 (update_seq), without the probation stage.
        max_seq = st.max_seq
        delta = (seq - max_seq) & 0xFFFF
        if 0 < delta < _MAX_DROPOUT:
            if seq < max_seq:
                st.cycles += _SEQ_MOD
            if delta != 1:
                st.seq_gaps += 1
            st.max_seq = seq
        elif delta == 0:
            st.duplicates += 1
            if st.first_dup_ts is None:
                st.first_dup_ts = ts
            st.last_dup_ts = ts
        elif delta > _SEQ_MOD - _MAX_MISORDER:
            st.late += 1
        else:
            st.seq_jump(seq)

        # RFC 3550 A.8: J += (|D(i-1,i)| - J) / 16 with D the change in transit time
        # (arrival minus RTP timestamp / clock rate) between consecutive packets of one
        # payload type.  `_transit` is NaN after a payload-type switch, which makes the
        # comparisons below false and skips the sample.  |D| >= 1 s (timestamp wrap or jump,
        # a pause) is not jitter and is skipped too.  RFC 4733 events (a 4-byte payload with
        # event code 0-16 behind a plain 12-byte header) are left out.
        if size == 16 and b0 == 128 and payload[12] <= 16:
            st._run_events += 1
            if rtpts != st._ev_rtpts:
                st.new_event(ts, pt, rtpts, payload[12])
        elif st._inv_rate:
            transit = ts - rtpts * st._inv_rate
            d = transit - st._transit
            st._transit = transit
            if d < 0.0:
                d = -d
            if d < 1.0:
                j = st.jitter_s
                j += (d - j) * 0.0625
                st.jitter_s = j
                st.jitter_sum_s += j
                st.jitter_samples += 1
                if j > st.max_jitter_s:
                    st.max_jitter_s = j
        else:
            st.infer_rate(pt, ts, rtpts)

        # Activity: packets per 100 ms bucket, counted in `_b_count` while `ts` stays in the
        # current bucket and written to the array when the bucket changes.
        if st._b_start <= ts < st._b_end:
            st._b_count += 1
        else:
            st.next_bucket(ts)
        return RTP

    def _new_stream(self, key: tuple[str, str, int], ts: float, seq: int) -> RtpStream:
        stream = RtpStream(key[0], key[1], key[2], ts, ts, base_seq=seq,
                           max_seq=(seq - 1) & 0xFFFF, cycles=-_SEQ_MOD if seq == 0 else 0,
                           bucket0=int(ts * _BUCKETS_PER_S), _rate_map=self.clock_rates)
        self._streams[key] = stream
        return stream

    def _add_other(self, ts: float, src: str, dst: str, payload: bytes) -> str | None:
        kind = classify(payload)
        if kind == RTCP:
            pair = self._rtcp.get((src, dst))
            if pair is None:
                pair = self._rtcp[(src, dst)] = RtcpPair(src, dst, ts, ts)
            pair.add(ts, payload)
        elif kind in (STUN, DTLS, ZRTP, UDPTL):
            other = self._other.get((kind, src, dst))
            if other is None:
                other = self._other[(kind, src, dst)] = PacketPair(kind, src, dst, ts, ts)
            other.add(ts)
        else:
            # RTP shorter than 12 bytes is unusable (RFC 3550 §5.1) and lands here too.
            self.unclassified += 1
        return kind

    # -- results -------------------------------------------------------------------------
    @property
    def streams(self) -> list[RtpStream]:
        """RTP streams in order of first packet."""
        return sorted(self._streams.values(), key=lambda s: (s.first_ts, s.src, s.dst, s.ssrc))

    def stream(self, src: str, dst: str, ssrc: int) -> RtpStream | None:
        return self._streams.get((src, dst, ssrc))

    @property
    def rtcp(self) -> list[RtcpPair]:
        return sorted(self._rtcp.values(), key=lambda p: (p.first_ts, p.src, p.dst))

    @property
    def other(self) -> list[PacketPair]:
        """STUN, DTLS, ZRTP and UDPTL counts per (kind, src, dst)."""
        return sorted(self._other.values(), key=lambda p: (p.first_ts, p.kind, p.src, p.dst))

    @property
    def last_ts(self) -> float | None:
        """Time of the last media packet of any kind (the capture's end for horizon checks)."""
        times = [s.last_ts for s in self._streams.values()]
        times += [p.last_ts for p in self._rtcp.values()]
        times += [p.last_ts for p in self._other.values()]
        return max(times, default=None)

    @property
    def rtp_packets(self) -> int:
        return sum(s.packets for s in self._streams.values())

    def streams_for_call(self, session, call) -> list[RtpStream]:
        """The RTP streams of one call, tied to it by its SDP offer/answer (media/calls.py)."""
        if not self._streams:
            return []                    # no RTP at all: no need for the offer/answer index
        from sipscope.core.media.calls import streams_for_call
        return streams_for_call(session, call)

    def to_json(self) -> dict:
        return {"streams": [s.to_json() for s in self.streams],
                "rtcp": [p.to_json() for p in self.rtcp],
                "other": [p.to_json() for p in self.other],
                "unclassified": self.unclassified}
