"""The unit every reader yields: one transport payload with its addresses and time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Datagram.flags bits
ADDR_INFERRED = 1     # src/dst were not in the input; named from Via/Contact
TIME_UNKNOWN = 2      # the input gives no time; ts is an ordering number only
TIME_NO_DATE = 4      # the input gives a time of day but no date (ts counts from 1970-01-01)
EXCERPT = 8           # the input is a curated excerpt (absence rules are inconclusive)
REDACTED = 16         # <...> values were stripped from the text (e.g. a web page)
REASSEMBLED = 32      # payload was rebuilt from several IP fragments or TCP segments
MASKED_ADDR = 64      # addresses were masked by hand (kept as opaque host names)


@dataclass(slots=True)
class Datagram:
    """One SIP (or media) payload as seen on the wire or in a trace.

    src/dst are "ip:port" (IPv6 as "[addr]:port"); for hand-masked text traces the host is kept
    verbatim ("66.227.1xx.2xx:5060").  transport is one of UDP, TCP, TLS, SCTP, WS, WSS.
    frame is the 1-based packet number in its file (or the 1-based line number in a text trace).
    """

    ts: float
    src: str
    dst: str
    transport: str
    payload: bytes
    frame: int = 0
    input_index: int = 0
    flags: int = 0
    note: str | None = None
    offset: int = -1        # file offset of payload when it is a contiguous run of the input file


@dataclass(slots=True)
class InputReport:
    """What a reader says about one input file: format, counts, and every problem it met."""

    path: str
    format: str = "unknown"
    packets: int = 0
    warnings: list[str] = field(default_factory=list)
    stopped_at: int | None = None          # byte offset where a damaged file stopped reading
    undecodable: dict[str, int] = field(default_factory=dict)  # e.g. {"TLS 10.0.0.1:5061": 12}
    excerpt: bool = False                  # the text is a curated excerpt (D7: inconclusive)
    size: int = 0                          # bytes in the file, for progress
    compressed: bool = False               # gzip: payload offsets do not point into the file
    tell: Callable[[], int] | None = field(default=None, repr=False)  # bytes read so far
    # (size, mtime_ns) of the file when it was loaded: what is read back later (RTP packets)
    # is trusted only while the file is unchanged (issue 17, class 9)
    identity: tuple[int, int] | None = field(default=None, repr=False)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def to_json(self) -> dict:
        return {"path": self.path, "format": self.format, "packets": self.packets,
                "warnings": list(self.warnings), "stopped_at": self.stopped_at,
                "undecodable": dict(self.undecodable), "excerpt": self.excerpt}


class NotACaptureError(Exception):
    """The input is not something sipscope can read; the message says what it seems to be."""
