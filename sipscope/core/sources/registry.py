"""Pick the reader for an input by sniffing its content (never its file name).

Every reader module has NAME, DESCRIPTION, sniff(head: bytes) -> float (0..1) and
read(stream, report, input_index) -> Iterator[Datagram].  Text readers also have
read_text(text, report, input_index) -> Iterator[Datagram] for the clipboard.
Adding a format = one module and one line in READER_MODULES.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from sipscope.core.sources.datagram import Datagram, InputReport, NotACaptureError
from sipscope.core.sources.limits import BoundedGzip, DecompressionBudget, read_head

READER_MODULES = (
    "sipscope.core.sources.pcap",
    "sipscope.core.sources.ngrep",
    "sipscope.core.sources.asterisk",
    "sipscope.core.sources.freeswitch",
    "sipscope.core.sources.sipp_log",
    "sipscope.core.sources.raw_sip",
)

SNIFF_BYTES = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"

# Magic numbers of things people attach to tickets that are not captures we read.
KNOWN_OTHER = (
    (b"GMBU", "a Microsoft Network Monitor capture (save it as pcapng from Wireshark first)"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (unpack it first)"),
    (b"\x00\x00\x00\x0cjP", "a JPEG 2000 image"),
    (b"XCP\x00", "a Sniffer/NetXray capture"),
    (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", None),
)


def readers():
    """The reader modules, in registration order."""
    return [importlib.import_module(name) for name in READER_MODULES]


def reader_by_name(name: str):
    for module in readers():
        if module.NAME == name:
            return module
    known = ", ".join(m.NAME for m in readers())
    raise NotACaptureError(f"unknown format {name!r}; known formats: {known}")


def supported_formats() -> str:
    return ", ".join(f"{m.NAME} ({m.DESCRIPTION})" for m in readers())


def describe_unknown(head: bytes) -> str:
    """One line saying what a file that no reader accepts seems to be."""
    if not head:
        return "the file is empty"
    for magic, what in KNOWN_OTHER:
        if what and head.startswith(magic):
            return f"this looks like {what}, not a packet capture or SIP trace"
    if b"\x00" in head[:4096]:
        return "this is a binary file but not a pcap/pcapng capture"
    return "this text contains no SIP messages"


def _open_bytes(path: str) -> tuple[BinaryIO, BinaryIO]:
    """(stream to read, underlying file whose position tells the progress).  Standard input
    ("-") is spooled to a temporary file first, so it is never held in memory and may be a
    gzip'd capture like any file.  A gzip layer is read within a DecompressionBudget."""
    if path == "-":
        raw: BinaryIO = spool_stdin()
    else:
        try:
            raw = open(path, "rb")
        except OSError as exc:
            raise NotACaptureError(f"cannot open {path}: {exc.strerror or exc}") from exc
    if raw.read(2) == GZIP_MAGIC:
        size = raw.seek(0, 2)
        raw.seek(0)
        return BoundedGzip(raw, DecompressionBudget(size)), raw  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def spool_stdin(source: BinaryIO | None = None) -> BinaryIO:
    """Standard input copied in 1 MiB pieces to an anonymous temporary file (deleted when
    closed), rewound: pipes cannot seek, and a capture piped in may be gigabytes."""
    source = source if source is not None else sys.stdin.buffer
    spool = tempfile.TemporaryFile(prefix="sipscope-stdin-")
    shutil.copyfileobj(source, spool, 1 << 20)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _peek(stream: BinaryIO) -> bytes:
    """The first bytes, for sniffing; of a damaged gzip file, those that decoded."""
    head = read_head(stream, SNIFF_BYTES)
    try:
        stream.seek(0)
    except (OSError, EOFError, ValueError) as exc:
        raise NotACaptureError(f"cannot read the file: {exc}") from exc
    return head


def choose_reader(head: bytes, format_name: str | None = None):
    """The best reader for these first bytes, or NotACaptureError naming what was tried."""
    if format_name:
        return reader_by_name(format_name)
    scored = [(module.sniff(head), index, module) for index, module in enumerate(readers())]
    score, _, best = max(scored, key=lambda item: (item[0], -item[1]))
    if score <= 0:
        raise NotACaptureError(
            f"{describe_unknown(head)}. Tried: {', '.join(m.NAME for m in readers())}. "
            "Supported: pcap/pcapng (optionally gzip-compressed) and text traces from ngrep, "
            "Asterisk (sip set debug / pjsip set logger), FreeSWITCH siptrace, SIPp logs or raw SIP.")
    return best


def open_input(path: str, format_name: str | None = None, input_index: int = 0,
               media_sink=None) -> tuple[InputReport, Iterator[Datagram]]:
    """Open one input: a report that the reader fills in as it goes, and its datagrams.
    media_sink: see pcap.read (readers without TAKES_MEDIA_SINK ignore it; the stream may then
    yield None ticks)."""
    stream, raw = _open_bytes(path)
    head = _peek(stream)
    module = choose_reader(head, format_name)
    report = InputReport(path=path, format=module.NAME, compressed=stream is not raw or path == "-")
    raw.seek(0, 2)
    report.size = raw.tell()
    raw.seek(0)
    report.tell = raw.tell
    if media_sink is not None and getattr(module, "TAKES_MEDIA_SINK", False):
        return report, module.read(stream, report, input_index, media_sink=media_sink)
    return report, module.read(stream, report, input_index)


def read_text(text: str, format_name: str | None = None,
              input_index: int = 0) -> tuple[InputReport, list[Datagram]]:
    """Read pasted text (the GUI's clipboard import) through the text readers."""
    head = text.encode("utf-8", "replace")[:SNIFF_BYTES]
    module = choose_reader(head, format_name)
    if not hasattr(module, "read_text"):
        raise NotACaptureError(f"{module.NAME} is not a text format")
    report = InputReport(path="<clipboard>", format=module.NAME)
    return report, list(module.read_text(text, report, input_index))
