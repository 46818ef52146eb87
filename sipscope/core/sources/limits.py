"""Bounds on what one input may cost, whatever it claims (issue 17: hostile captures).

Captures come from strangers and from scanners, so a reader never trusts a length field to
size memory: a record is at most MAX_RECORD bytes whatever the file's snaplen says, all the
decompression one input causes (its gzip layer, compressed HEP payloads, WebSocket
permessage-deflate) shares one budget relative to the file's size with a generous floor, and a
text trace is read up to TEXT_LIMIT bytes.  Each limit, when hit, is a warning on the input's
report, never an exception and never a silent cut.
"""

from __future__ import annotations

import gzip
import re
import zlib
from typing import BinaryIO

from sipscope.core.sources.datagram import InputReport
from sipscope.core.words import plural, verb

MAX_RECORD = 16 << 20           # one pcap record / pcapng block (TSO frames are 64-256 KiB)
DECOMPRESSION_RATIO = 100       # gzip'd SIP text reaches ~20x, pcaps with RTP ~1.5-10x
DECOMPRESSION_FLOOR = 1 << 30   # 1 GiB whatever the file's size
# Payloads inflated one by one (HEP3 compressed chunks) are kept in memory as messages, unlike
# the gzip layer that streams through the readers: their own, smaller budget.
INFLATE_RATIO = 20
INFLATE_FLOOR = 256 << 20
TEXT_LIMIT = 256 << 20          # a text trace is held in memory whole: read at most this much
TEXT_LINE_LIMIT = 1 << 20       # bytes kept of one line of a text trace
_LONG_LINE = re.compile(rb"(?m)^[^\n]{%d}([^\n]+)" % TEXT_LINE_LIMIT)   # tried at line starts only
_CHUNK = 1 << 20
# what a damaged gzip layer raises while it is read (truncated: EOFError; bad CRC or magic:
# BadGzipFile, an OSError; corrupt deflate data: zlib.error)
STREAM_ERRORS = (OSError, EOFError, zlib.error, ValueError)


def mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB" if size >= 1 << 20 else f"{size:,} bytes"


class DecompressionBudget:
    """The bytes that decompression may still produce for one input (shared by its layers)."""

    __slots__ = ("limit", "used", "file_size", "ratio", "floor", "what", "warned")

    def __init__(self, file_size: int, ratio: int | None = None, floor: int | None = None,
                 what: str = "decompression") -> None:
        ratio = DECOMPRESSION_RATIO if ratio is None else ratio
        floor = DECOMPRESSION_FLOOR if floor is None else floor
        self.file_size, self.ratio, self.floor, self.what = file_size, ratio, floor, what
        self.limit = max(floor, ratio * file_size)
        self.used = 0
        self.warned = False

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    def take(self, size: int) -> bool:
        """Count `size` more decompressed bytes; False when that goes past the budget."""
        self.used += size
        return self.used <= self.limit

    def describe(self) -> str:
        return (f"{self.what} stopped at the budget of {mib(self.limit)} for this input "
                f"({self.ratio} times its {mib(self.file_size)}, at least {mib(self.floor)}): "
                "the data expands far more than a capture does")

    def warn_once(self, report: InputReport, detail: str = "") -> None:
        if not self.warned:
            self.warned = True
            report.warn(self.describe() + detail)


def inflate_budget(report: InputReport) -> DecompressionBudget:
    """The budget for the payloads one input inflates (HEP3 compressed chunks)."""
    return DecompressionBudget(report.size, INFLATE_RATIO, INFLATE_FLOOR,
                               "inflating compressed payloads")


class DecompressionLimit(OSError):
    """The decompressed data went past the input's DecompressionBudget."""


class BoundedGzip:
    """A gzip file read within a DecompressionBudget: the bytes past the budget are never
    produced; the read after the last allowed byte raises DecompressionLimit (an OSError, so
    the readers stop there as on any damaged stream, keeping what came before)."""

    def __init__(self, raw: BinaryIO, budget: DecompressionBudget) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw)
        self.budget = budget
        self._produced = 0          # bytes handed out since the last rewind

    def _bounded(self, read, size: int) -> bytes:
        if size is None or size < 0:
            size = _CHUNK
        left = self.budget.left
        if left <= 0:
            raise DecompressionLimit(self.budget.describe())
        data = read(min(size, left))
        self._produced += len(data)
        self.budget.used += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        return self._bounded(self._gzip.read1, size)

    def read(self, size: int = -1) -> bytes:
        if size is not None and size >= 0:
            return self._bounded(self._gzip.read, size)
        parts = []
        while data := self.read1(_CHUNK):
            parts.append(data)
        return b"".join(parts)

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise OSError("a bounded gzip stream only rewinds to its start")
        self._gzip.seek(0)
        self.budget.used -= self._produced      # the bytes read again are counted again
        self._produced = 0
        return 0

    def tell(self) -> int:
        return self._produced

    def close(self) -> None:
        self._gzip.close()


def read_head(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` first bytes for sniffing; of a damaged compressed stream, what decoded
    before the damage (the reader then meets the damage again and reports where)."""
    read = getattr(stream, "read1", stream.read)
    parts: list[bytes] = []
    have = 0
    while have < size:
        try:
            data = read(size - have)
        except STREAM_ERRORS:
            break
        if not data:
            break
        parts.append(data)
        have += len(data)
    return b"".join(parts)


def read_text_bytes(stream: BinaryIO, report: InputReport) -> bytes:
    """The bytes of a text trace for a text reader: at most TEXT_LIMIT of them, and of a
    damaged or over-expanding gzip layer everything that decoded, with a warning saying where
    reading stopped."""
    read = getattr(stream, "read1", stream.read)
    parts: list[bytes] = []
    have = 0
    while True:
        try:
            data = read(min(_CHUNK, TEXT_LIMIT + 1 - have))
        except STREAM_ERRORS as exc:
            report.stopped_at = have
            why = str(exc) if isinstance(exc, DecompressionLimit) else \
                f"the compressed file is damaged ({type(exc).__name__}: {exc})"
            report.warn(f"reading stopped after {have:,} bytes of text: {why}; the text before "
                        "that point was read")
            break
        if not data:
            break
        parts.append(data)
        have += len(data)
        if have > TEXT_LIMIT:
            parts[-1] = data[:len(data) - (have - TEXT_LIMIT)]
            report.stopped_at = TEXT_LIMIT
            report.warn(f"the text trace is larger than {mib(TEXT_LIMIT)}: only its first "
                        f"{mib(TEXT_LIMIT)} were read (a text trace is held in memory whole; "
                        "split the file, or capture to pcap)")
            break
    return cut_long_lines(b"".join(parts), report)


def cut_long_lines(data: bytes, report: InputReport) -> bytes:
    """Lines longer than TEXT_LINE_LIMIT cut to that length, with one warning (a 50 MB
    header line would otherwise be copied by every stage of a text reader)."""
    if len(data) <= TEXT_LINE_LIMIT or _LONG_LINE.search(data) is None:
        return data
    cut: list[int] = []

    def shorten(match: re.Match) -> bytes:
        cut.append(len(match.group(1)))
        return match.group(0)[:TEXT_LINE_LIMIT]

    data = _LONG_LINE.sub(shorten, data)
    report.warn(f"{plural(len(cut), 'line')} longer than {mib(TEXT_LINE_LIMIT)} "
                f"{verb(len(cut), 'was', 'were')} cut to that "
                f"length ({sum(cut):,} bytes dropped)")
    return data
