"""Pull user messages out of SCTP packets (RFC 9260 §3): DATA chunks, joined by their B/E flags.

Each DATA chunk with both B and E flags set is one whole user message; a fragmented message
is joined from its B..E chunks of one stream in arrival order (cheap, enough for SIP).  A
DATA chunk whose TSN was already seen on the association is a retransmission (§6.3) and is
dropped, as TCP retransmissions are.
"""

from __future__ import annotations

MAX_ASSOCIATIONS = 4096
MAX_TSNS = 4096


class SctpMessages:
    """Per-association state: recently seen TSNs and partial messages per stream."""

    def __init__(self) -> None:
        self._assocs: dict = {}

    def messages(self, key, seg: bytes) -> list[tuple[bytes, bool]]:
        """(user message, was joined from fragments) for every message this packet completes."""
        state = self._assocs.get(key)
        if state is None:
            if len(self._assocs) >= MAX_ASSOCIATIONS:
                self._assocs.clear()
            state = self._assocs[key] = ({}, {})
        tsns, parts = state
        done = []
        pos = 12
        while pos + 4 <= len(seg):
            ctype, cflags = seg[pos], seg[pos + 1]
            clen = seg[pos + 2] << 8 | seg[pos + 3]
            if clen < 4:
                break
            if ctype == 0 and clen >= 16 and pos + 16 <= len(seg):   # DATA (§3.3.1), whole header
                tsn = int.from_bytes(seg[pos + 4:pos + 8], "big")
                if tsn not in tsns:
                    tsns[tsn] = True
                    if len(tsns) > MAX_TSNS:
                        del tsns[next(iter(tsns))]
                    found = self._data(parts, seg[pos + 8] << 8 | seg[pos + 9], cflags,
                                       seg[pos + 16:pos + clen])
                    if found is not None:
                        done.append(found)
            pos += (clen + 3) & ~3
        return done

    @staticmethod
    def _data(parts: dict, stream: int, cflags: int, data: bytes) -> tuple[bytes, bool] | None:
        if cflags & 3 == 3:                          # B and E: unfragmented
            return data, False
        if cflags & 2:                               # B: first fragment
            parts[stream] = [data]
            return None
        if stream not in parts:
            return None
        parts[stream].append(data)
        if not cflags & 1:
            return None
        return b"".join(parts.pop(stream)), True
