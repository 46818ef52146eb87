"""Read ngrep text output (`ngrep -W byline`), also as pasted into web pages and tickets.

Header lines look like `U 2009/05/08 09:40:18.325507 1.2.3.4:5060 -> 5.6.7.8:5060` (U = UDP,
T = TCP; date and time optional).  In byline mode ngrep prints every CR as "." before the line
feed, so a payload line `To: <sip:x>.` was `To: <sip:x>\\r\\n`; a packet ends at an empty line.
Prose between packets (a blog's comments) is kept as the next message's note and marks the text
as an excerpt; masked host names (`66.227.1xx.2xx`) are kept verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from sipscope.core.sources.datagram import Datagram, InputReport
from sipscope.core.sources.text_infer import Found, epoch, finish, format_addr
from sipscope.core.sources.text_lines import (decode_bytes, encode, find_start_line, head_text,
                                              is_binary, is_start_line, join_note, split_lines,
                                              take_message)

NAME = "ngrep"
DESCRIPTION = "ngrep -W byline text output"

_HEADER = re.compile(
    r"[ \t]*(?:([UT])[ \t]+)?"
    r"(?:([0-9]{4})[/-]([0-9]{2})[/-]([0-9]{2})[ \t]+([0-9]{2}):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?)[ \t]+"
    r"|\+([0-9]+(?:\.[0-9]+)?)[ \t]+)?"
    r"(\S+):([A-Za-z0-9*?]+)[ \t]+->[ \t]+(\S+):([A-Za-z0-9*?]+)(?:[ \t].*)?", re.A)
_NOISE = re.compile(r"#+|interface: .*|filter: .*|match: .*|exit|[0-9]+ received, [0-9]+ .*", re.A)
_PROTO = {"U": "UDP", "T": "TCP"}


def _header(line: str) -> re.Match | None:
    match = _HEADER.fullmatch(line)
    if not match or not (match.group(1) or match.group(2)):
        return None       # a bare "a:1 -> b:2" needs the protocol letter or a date to count
    return match


def sniff(head: bytes) -> float:
    if is_binary(head):
        return 0.0
    text = head_text(head)
    found = any(_header(line) for line in text.splitlines() if "->" in line)
    if not found:
        return 0.0
    return 0.9 if find_start_line(text) else 0.5


def read(stream: BinaryIO, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    yield from read_text(decode_bytes(stream.read()), report, input_index)


def read_text(text: str, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    lines = split_lines(text)
    items: list[Found] = []
    prose: list[str] = []
    any_prose = False
    elapsed = 0.0
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _header(line) if "->" in line else None
        if match is None:
            stripped = line.strip()
            if stripped and not _NOISE.fullmatch(stripped):
                prose.append(stripped)
                any_prose = True
            elif not stripped and prose and prose[-1]:
                prose.append("")
            index += 1
            continue
        src = format_addr(match.group(9), match.group(10))
        dst = format_addr(match.group(11), match.group(12))
        transport = _PROTO.get(match.group(1) or "U", "UDP")
        when, dated = _when(match, elapsed)
        if match.group(8):
            elapsed = when or elapsed
        note = join_note(prose)
        prose = []
        messages, index = _packet(lines, index + 1)
        for payload, line_no in messages:
            items.append(Found(payload, line_no, src=src, dst=dst, transport=transport,
                               time=when, dated=dated, note=note))
            note = None
    yield from finish(items, report, fmt=NAME, input_index=input_index, excerpt=any_prose)


def _when(match: re.Match, elapsed: float) -> tuple[float | None, bool]:
    if match.group(2):
        second = float(match.group(7))
        return epoch(int(match.group(2)), int(match.group(3)), int(match.group(4)),
                     int(match.group(5)), int(match.group(6)), second), True
    if match.group(8):
        return elapsed + float(match.group(8)), False
    return None, True


def _ends_packet(line: str) -> bool:
    stripped = line.strip()
    return (not stripped or _NOISE.fullmatch(stripped) is not None or stripped.startswith("**")
            or ("->" in line and _header(line) is not None))


def _packet(lines: list[str], index: int) -> tuple[list[tuple[bytes, int]], int]:
    """The SIP messages of one ngrep packet as (payload, 1-based line), and the index after it."""
    if (index + 1 < len(lines) and not lines[index].strip()
            and is_start_line(_undot(lines[index + 1]))):
        index += 1                       # a stray empty line between header and payload
    if index >= len(lines) or not is_start_line(_undot(lines[index])):
        end = index
        while end < len(lines) and not _ends_packet(lines[end]):
            end += 1                     # not SIP (keep-alive, TCP continuation): skip its lines
        return [], end
    if lines[index].rstrip().endswith("."):
        end = index
        while end < len(lines) and not _ends_packet(lines[end]):
            end += 1
        data = b"".join(_restore(line, last=(pos == end - 1))
                        for pos, line in enumerate(lines[index:end], start=index))
        if b"\r\n\r\n" not in data and b"\n\n" not in data:
            data += b"\r\n" if data.endswith(b"\n") else b"\r\n\r\n"   # the empty line was lost
        starts = _split_points(data)
        bounds = zip(starts, starts[1:] + [len(data)])
        return [(data[begin:stop], index + 1 + data.count(b"\n", 0, begin))
                for begin, stop in bounds], end
    found = []
    while index < len(lines) and is_start_line(lines[index]):
        start = index
        payload, index = take_message(lines, index, _ends_packet_hard)
        found.append((payload, start + 1))
    return found, index


def _ends_packet_hard(line: str) -> bool:
    stripped = line.strip()
    return (_NOISE.fullmatch(stripped) is not None and stripped != "") or (
        "->" in line and _header(line) is not None)


def _undot(line: str) -> str:
    line = line.rstrip(" \t")
    return line[:-1] if line.endswith(".") else line


def _restore(line: str, last: bool) -> bytes:
    """One byline line back to bytes: a trailing "." was the CR of a CRLF."""
    line = line.rstrip(" \t")
    if line.endswith("."):
        return encode(line[:-1]) + b"\r\n"
    return encode(line) + (b"" if last else b"\n")


_START = re.compile(rb"^(?:[A-Za-z][A-Za-z0-9._!%*+`'~-]*[ \t]+[A-Za-z][A-Za-z0-9+.-]*:\S+[ \t]+SIP/2\.0"
                    rb"|SIP/2\.0[ \t]+[1-6][0-9][0-9](?:[ \t][^\r\n]*)?)\r?$", re.M | re.I)
_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([0-9]{1,12})[ \t]*\r?$", re.M | re.I)


def _split_points(data: bytes) -> list[int]:
    """Offsets of the messages in one packet: a TCP segment may carry several (RFC 3261 §18.3)."""
    points = [0]
    while True:
        begin = points[-1]
        head_end = data.find(b"\r\n\r\n", begin)
        if head_end < 0:
            return points
        body = head_end + 4
        length = _LENGTH.search(data, begin, head_end + 2)
        after = body + (int(length.group(1)) if length else 0)
        if after >= len(data):
            return points
        match = _START.search(data, after)
        if not match or data[after:match.start()].strip():
            return points
        points.append(match.start())
