"""Reassemble each direction of a TCP connection into an ordered byte stream (RFC 9293 §3.4).

One TcpStream per direction (keyed by the 4-tuple).  Segments are placed by sequence number
(modulo 2**32): retransmitted and overlapping bytes are trimmed so nothing is delivered
twice, out-of-order segments wait until the hole before them is filled, and when a hole
never fills (too much waiting data, waiting too long, end of capture) the stream skips it and
the framer resynchronises.  Every delivered chunk remembers the time and frame of the segment
that carried it, so a message is stamped with the segment that carried its first byte.
The framing of the bytes (SIP, WebSocket, TLS, HEP) is tcp_framing's job.
"""

from __future__ import annotations

from collections import deque

from sipscope.core.sources import tcp_framing

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
_MOD = 1 << 32
_HALF = 1 << 31
MAX_PENDING_BYTES = 4 << 20      # out-of-order data held per stream before a hole is skipped
MAX_PENDING_SEGMENTS = 2048
MAX_HOLD_SECONDS = 10.0          # capture time a hole may stay open while later data waits
MAX_JUMP = 64 << 20              # a sequence jump beyond this is a new starting point
MAX_STREAMS = 8192               # streams kept; the least recently active is flushed first
TLS_PORTS = (5061, 443, 8443, 5062, 7443)


class TcpStream:
    """The bytes of one direction of one connection, and the framer's state for them."""

    __slots__ = ("src", "dst", "server", "next_seq", "buf", "pos", "base", "marks", "pending",
                 "pending_bytes", "pending_since", "mode", "resync", "midstream", "scanned",
                 "ws", "lost", "skipped", "closed", "messages", "sink", "first_seq", "last_ts")

    def __init__(self, sink, src: str, dst: str, next_seq: int, midstream: bool) -> None:
        self.sink = sink
        self.src, self.dst = src, dst
        self.server = dst
        self.next_seq = next_seq
        self.first_seq = next_seq if midstream else None   # lowest sequence number delivered
        self.buf = bytearray()
        self.pos = 0                  # read position in buf
        self.base = 0                 # stream offset of buf[0]
        self.marks: deque = deque()   # (stream offset, ts, frame) of each delivered chunk
        self.pending: dict = {}       # seq -> (data, ts, frame), out of order
        self.pending_bytes = 0
        self.pending_since = 0.0
        self.mode = tcp_framing.UNKNOWN
        self.resync = midstream       # the next bytes may be in the middle of a message
        self.midstream = midstream
        self.scanned = 0              # bytes searched without finding a start
        self.ws = None
        self.lost = 0                 # bytes never captured (holes skipped)
        self.skipped = 0              # bytes passed over while looking for a start
        self.closed = False
        self.messages = 0
        self.last_ts = 0.0

    # --- positions and times -------------------------------------------------------------
    def offset(self, pos: int) -> int:
        return self.base + pos

    def locate(self, start: int, end: int) -> tuple[float, int, bool, int]:
        """Where stream offset start came from: (ts, frame, [start, end) spans several
        segments, file offset of start when [start, end) lies in one segment else -1)."""
        marks = self.marks
        while len(marks) > 1 and marks[1][0] <= start:
            marks.popleft()
        if not marks:
            return 0.0, 0, False, -1
        first, ts, frame, where = marks[0]
        spans = len(marks) > 1 and marks[1][0] < end
        return ts, frame, spans, (where + start - first if where >= 0 and not spans else -1)

    def consume_to(self, pos: int) -> None:
        """Mark buf[:pos] as read; compact the buffer now and then."""
        self.pos = pos
        marks, done = self.marks, self.base + pos
        while len(marks) > 1 and marks[1][0] <= done:
            marks.popleft()
        if pos >= len(self.buf):
            self.base += len(self.buf)
            self.buf = bytearray()
            self.pos = 0
        elif pos > 65536 and pos * 2 > len(self.buf):
            del self.buf[:pos]
            self.base += pos
            self.pos = 0

    # --- sequence handling ---------------------------------------------------------------
    def _rel(self, seq: int) -> int:
        off = (seq - self.next_seq) % _MOD
        return off - _MOD if off >= _HALF else off

    def _append(self, data: bytes, ts: float, frame: int, where: int) -> None:
        self.next_seq = (self.next_seq + len(data)) % _MOD
        if self.mode == tcp_framing.OTHER:
            self.base += len(data)
        else:
            self.marks.append((self.base + len(self.buf), ts, frame, where))
            self.buf += data

    def add(self, seq: int, data: bytes, ts: float, frame: int, where: int = -1) -> bool:
        """Place one segment's payload (where: its file offset or -1); returns False when all
        of it was already delivered."""
        off = self._rel(seq)
        if off > MAX_JUMP or off < -MAX_JUMP:        # unrelated sequence space: start over
            tcp_framing.on_hole(self)
            self.next_seq = seq
            self.first_seq = None
            off = 0
        if off < 0:
            if self.first_seq is not None:
                self._before_start(seq, data, ts, frame, where)
            if -off >= len(data):
                return False                        # retransmission of delivered bytes
            trim = -off
            data, off = data[trim:], 0
            where = where + trim if where >= 0 else -1
        if off > 0:
            old = self.pending.get(seq)
            if old is None or len(old[0]) < len(data):
                if not self.pending:
                    self.pending_since = ts
                self.pending[seq] = (data, ts, frame, where)
                self.pending_bytes += len(data) - (len(old[0]) if old else 0)
            if (self.pending_bytes > MAX_PENDING_BYTES or len(self.pending) > MAX_PENDING_SEGMENTS
                    or ts - self.pending_since > MAX_HOLD_SECONDS):
                self.skip_hole()
            return True
        self._append(data, ts, frame, where)
        if self.pending:
            self._drain()
        return True

    def _before_start(self, seq: int, data: bytes, ts: float, frame: int, where: int) -> None:
        """Bytes from before the first segment seen (the capture reordered the stream).

        They are framed on their own: whole units inside them are kept, the rest is lost.
        """
        before = (self.first_seq - seq) % _MOD
        if not 0 < before < _HALF:
            return
        side = TcpStream(self.sink, self.src, self.dst, seq, midstream=True)
        side.server = self.server
        side.mode = self.mode if self.mode in (tcp_framing.TLS, tcp_framing.HEP) else side.mode
        side.add(seq, data[:before], ts, frame, where)
        tcp_framing.finish(side, self.sink)
        self.first_seq = seq

    def _drain(self) -> None:
        progress = True
        while self.pending and progress:
            progress = False
            for seq in list(self.pending):
                off = self._rel(seq)
                if off > 0:
                    continue
                data, ts, frame, where = self.pending.pop(seq)
                self.pending_bytes -= len(data)
                if -off < len(data):
                    self._append(data[-off:], ts, frame, where - off if where >= 0 else -1)
                    progress = True
        if self.pending:
            self.pending_since = min(item[1] for item in self.pending.values())

    def skip_hole(self, seq: int | None = None) -> None:
        """Give up on the missing bytes before the next waiting segment (or before seq)."""
        if seq is None:
            if not self.pending:
                return
            seq = min(self.pending, key=self._rel)
        gap = self._rel(seq)
        if gap > 0:
            self.lost += gap
        tcp_framing.on_hole(self)
        self.next_seq = seq
        self._drain()


class TcpReassembler:
    """All TCP streams of a capture; hands contiguous bytes to tcp_framing."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.streams: dict = {}
        self.retransmissions = 0

    def segment(self, key, src: str, dst: str, seq: int, flags: int, payload: bytes,
                ts: float, frame: int, where: int = -1) -> None:
        streams = self.streams
        st = streams.get(key)
        if flags & SYN:
            seq = (seq + 1) % _MOD
            rel = st._rel(seq) if st is not None else 0
            if st is None or st.closed or rel > 0 or rel < -MAX_JUMP:   # a new connection
                if st is not None:
                    self._flush(st)
                st = TcpStream(self.sink, src, dst, seq, midstream=False)
            st.server = src if flags & ACK else dst
        elif st is None:
            if not payload:
                return
            st = TcpStream(self.sink, src, dst, seq, midstream=True)
            if key[1] in TLS_PORTS or (key[3] not in TLS_PORTS and key[1] < key[3]):
                st.server = src
        streams[key] = st
        if payload:
            if st.add(seq, payload, ts, frame, where):
                tcp_framing.parse(st, self.sink)
            else:
                self.retransmissions += 1
            if st.mode == tcp_framing.TLS:
                self.sink.tls_packet(st.server)
        st.last_ts = ts
        if flags & (FIN | RST):
            st.closed = True
        if len(streams) > MAX_STREAMS:
            self._evict()

    def _evict(self) -> None:
        """Flush the least recently active quarter of the streams (bounded memory)."""
        by_age = sorted(self.streams.items(), key=lambda item: item[1].last_ts)
        for key, st in by_age[:len(by_age) // 4]:
            del self.streams[key]
            self._flush(st)

    def _flush(self, st: TcpStream) -> None:
        while st.pending:
            st.skip_hole()
            tcp_framing.parse(st, self.sink)
        tcp_framing.finish(st, self.sink)

    def finish(self) -> None:
        """End of capture: skip every remaining hole and flush every stream."""
        for st in self.streams.values():
            self._flush(st)
        self.streams.clear()
