"""Reassemble fragmented IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5) datagrams in bounded memory.

Fragments may arrive in any order.  A datagram is complete when the piece at offset 0 and
the last piece (More Fragments clear) are there and the pieces cover every byte; the covered
ranges are kept merged as fragments arrive, so each fragment costs a bisect, not a sort of all
the pieces (a hostile capture of 100,000 fragments with a hole took minutes).  At most
MAX_PENDING datagrams wait at a time (the oldest is dropped first), a datagram whose first
fragment is older than TIMEOUT seconds of capture time is dropped (RFC 791 suggests 15 s,
Linux uses 30 s), and one datagram may hold at most MAX_FRAGMENTS fragments and MAX_BYTES
bytes of them (overlaps included): past that it is dropped and counted (Linux's
ipfrag_max_dist / high-threshold memory limits play the same role).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

MAX_PENDING = 1024
TIMEOUT = 30.0
MAX_DATAGRAM = 65535 + 8      # IPv6 fragmentable part may end a little past 65535
MAX_FRAGMENTS = 1024          # 64 KiB in 8-byte fragments would be 8,192; real ones use < 50
MAX_BYTES = 2 * MAX_DATAGRAM  # the pieces of one datagram, overlaps and duplicates included


@dataclass(slots=True)
class _Pending:
    first_ts: float
    pieces: list = field(default_factory=list)   # (offset, bytes)
    total: int | None = None                      # known once the last fragment is seen
    starts: list = field(default_factory=list)    # covered ranges, merged: [starts[i], ends[i])
    ends: list = field(default_factory=list)
    size: int = 0                                 # bytes of all pieces
    ts: float = 0.0                               # time and frame of the offset-0 fragment
    frame: int = 0


@dataclass(slots=True)
class Reassembled:
    """A complete datagram payload (the bytes after the IP header) and where it started."""

    payload: bytes
    ts: float
    frame: int
    fragments: int


class FragmentTable:
    """Pending fragments keyed by (addresses, protocol, identification)."""

    def __init__(self, max_pending: int = MAX_PENDING, timeout: float = TIMEOUT) -> None:
        self.max_pending = max_pending
        self.timeout = timeout
        self._pending: dict = {}
        self.dropped = 0          # datagrams given up (timeout, overflow, too big)
        self.over_limit = 0       # of those: more than MAX_FRAGMENTS pieces or MAX_BYTES bytes
        self.reassembled = 0

    def add(self, key, offset: int, more: bool, data: bytes, ts: float,
            frame: int) -> Reassembled | None:
        """File one fragment; returns the datagram when this fragment completes it."""
        self._expire(ts)
        entry = self._pending.get(key)
        if entry is None:
            if len(self._pending) >= self.max_pending:
                self._pending.pop(next(iter(self._pending)))
                self.dropped += 1
            entry = self._pending[key] = _Pending(first_ts=ts, ts=ts, frame=frame)
        end = offset + len(data)
        if end > MAX_DATAGRAM:
            self._pending.pop(key, None)
            self.dropped += 1
            return None
        entry.size += len(data)
        if len(entry.pieces) >= MAX_FRAGMENTS or entry.size > MAX_BYTES:
            self._pending.pop(key, None)
            self.dropped += 1
            self.over_limit += 1
            return None
        entry.pieces.append((offset, data))
        _cover(entry, offset, end)
        if offset == 0:
            entry.ts, entry.frame = ts, frame
        if not more:
            entry.total = end
        if entry.total is None or not entry.starts or entry.starts[0] != 0 or entry.ends[0] < entry.total:
            return None
        del self._pending[key]
        self.reassembled += 1
        return Reassembled(self._assemble(entry), entry.ts, entry.frame, len(entry.pieces))

    @staticmethod
    def _assemble(entry: _Pending) -> bytes:
        out = bytearray(entry.total)
        # Later pieces first so that, where fragments overlap, the first one seen wins.
        for offset, data in reversed(entry.pieces):
            piece = data[:max(0, entry.total - offset)]
            out[offset:offset + len(piece)] = piece
        return bytes(out)

    def _expire(self, now: float) -> None:
        pending = self._pending
        while pending:
            key = next(iter(pending))
            if now - pending[key].first_ts <= self.timeout:
                break
            del pending[key]
            self.dropped += 1

    def finish(self) -> int:
        """Give up on everything still waiting; returns how many datagrams stay incomplete."""
        left = len(self._pending)
        self.dropped += left
        self._pending.clear()
        return left


def _cover(entry: _Pending, start: int, end: int) -> None:
    """Merge [start, end) into the entry's sorted, disjoint covered ranges (touching ranges
    join, so a complete datagram is the single range [0, total))."""
    if end <= start:
        return
    starts, ends = entry.starts, entry.ends
    first = bisect_left(ends, start)            # first range ending at or after start
    last = bisect_right(starts, end)            # ranges starting after end stay
    if first < last:
        start = min(start, starts[first])
        end = max(end, ends[last - 1])
    starts[first:last] = [start]
    ends[first:last] = [end]
