"""Read ngrep text output (`ngrep -W byline`), also as pasted into web pages and tickets.

Header lines look like `U 2009/05/08 09:40:18.325507 1.2.3.4:5060 -> 5.6.7.8:5060` (U = UDP,
T = TCP; date and time optional).  In byline mode ngrep prints every CR as "." before the line
feed, so a payload line `To: <sip:x>.` was `To: <sip:x>\\r\\n`; a packet ends at an empty line.
Prose between packets (a blog's comments) is kept as the next message's note and marks the text
as an excerpt; masked host names (`66.227.1xx.2xx`) are kept verbatim.

ngrep prints each TCP segment as a packet of its own: a SIP message longer than one segment comes
in several `T` packets of one direction, and one segment may carry several messages.  Per
direction the segments are joined and cut by Content-Length (RFC 3261 §18.3), as the capture
readers do with reassembled streams; each message keeps the time and line of its first segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from sipscope.core.sources.datagram import Datagram, InputReport
from sipscope.core.sources.limits import read_text_bytes
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
# a packet of another protocol: `? 2021/12/14 13:49:07.345980 10.15.196.229 -> 10.15.194.19 #2`
# (ngrep's letter: I = ICMP, ? = unknown, e.g. IP-in-IP or VRRP); its payload is not SIP
_OTHER_HEADER = re.compile(
    r"[ \t]*[A-Z?][ \t]+(?:[0-9]{4}[/-][0-9]{2}[/-][0-9]{2}[ \t]+[0-9:.]+[ \t]+"
    r"|\+[0-9]+(?:\.[0-9]+)?[ \t]+)?\S+[ \t]+->[ \t]+\S+(?:[ \t].*)?", re.A)
_NOISE = re.compile(r"#+|interface: .*|input: .*|filter: .*|match: .*|exit|[0-9]+ received, [0-9]+ .*", re.A)
_PROTO = {"U": "UDP", "T": "TCP"}
# Ethernet pads a frame to 60 bytes: a pure TCP ACK (54 bytes, 58 with a VLAN tag) carries 6 or
# 2 bytes that ngrep prints as payload, as dots with no line end
_ETHERNET_PADDING = re.compile(rb"\.{2,6}")


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
    yield from read_text(decode_bytes(read_text_bytes(stream, report)), report, input_index)


def read_text(text: str, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    lines = split_lines(text)
    items: list[Found | list[Found]] = []      # a list: the messages a TCP segment begins
    streams = _TcpStreams()
    byline = _mostly_dotted(lines)             # then every TCP packet is a segment to join
    prose: list[str] = []
    any_prose = False
    elapsed = 0.0
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _header(line) if "->" in line else None
        if match is None and "->" in line and _OTHER_HEADER.fullmatch(line):
            index = _skip_packet(lines, index + 1)          # ICMP, IP-in-IP...: not SIP
            continue
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
        if transport == "TCP" and (byline or _byline_segment(lines, index + 1)
                                   or streams.pending((src, dst))):
            data, end, open_cr = _segment(lines, index + 1)
            if open_cr and _ETHERNET_PADDING.fullmatch(data):
                index = end              # a pure ACK: ngrep shows its frame padding as payload
                continue
            slot: list[Found] = []
            items.append(slot)           # filled as its messages complete
            streams.add((src, dst), data, _Start(slot, index + 2, when, dated, note), open_cr)
            index = end
            continue
        messages, index = _packet(lines, index + 1)
        for payload, line_no in messages:
            items.append(Found(payload, line_no, src=src, dst=dst, transport=transport,
                               time=when, dated=dated, note=note))
            note = None
    streams.finish()
    found = [entry for item in items
             for entry in (item if isinstance(item, list) else (item,))]
    yield from finish(found, report, fmt=NAME, input_index=input_index, excerpt=any_prose)


class _Start:
    """Where a TCP segment was printed: the slot its messages go to, its first payload line,
    its time and the prose before it."""

    __slots__ = ("slot", "line", "when", "dated", "note", "offset")

    def __init__(self, slot: list, line: int, when, dated: bool, note: str | None) -> None:
        self.slot, self.line, self.when, self.dated, self.note = slot, line, when, dated, note
        self.offset = 0              # where the segment's bytes begin in its direction's buffer


class _TcpStreams:
    """The joined bytes of each TCP direction (src, dst), cut into messages as they complete."""

    def __init__(self) -> None:
        self._flows: dict[tuple[str, str], tuple[bytearray, list[_Start]]] = {}
        self._open_cr: dict[tuple[str, str], bool] = {}

    def add(self, flow: tuple[str, str], data: bytes, start: _Start, open_cr: bool = False) -> None:
        """open_cr: the segment ended in a "." that may be a lone CR (see _segment); it was one
        when the next segment of the direction starts with the LF."""
        buffer, starts = self._flows.setdefault(flow, (bytearray(), []))
        if self._open_cr.get(flow) and data[:1] == b"\n" and buffer[-1:] == b".":
            buffer[-1:] = b"\r"
        if buffer and _START.match(data) and _START.search(buffer) is None:
            buffer.clear()               # bytes that began no message (ngrep shows the padding
            starts.clear()               # of a pure ACK as payload): a message starts here
        self._open_cr[flow] = open_cr
        start.offset = len(buffer)
        buffer += data
        starts.append(start)
        self._cut(flow, buffer, starts, final=False)

    def pending(self, flow: tuple[str, str]) -> bool:
        """Whether a message of this direction waits for its next segment."""
        found = self._flows.get(flow)
        return found is not None and len(found[0]) > 0

    def finish(self) -> None:
        """The capture ended: what is left of a started message is emitted as it is."""
        for flow, (buffer, starts) in self._flows.items():
            self._cut(flow, buffer, starts, final=True)

    def _cut(self, flow, buffer: bytearray, starts: list[_Start], final: bool) -> None:
        pos = 0
        while True:
            while pos < len(buffer) and buffer[pos] in b"\r\n":
                pos += 1                 # CRLF keep-alives between messages (RFC 5626 §3.5.1)
            if pos >= len(buffer):
                break
            begin = _START.search(buffer, pos)
            if begin is None:
                # a stream picked up mid-message: no start line yet; an unfinished last line
                # may become one when the next segment arrives
                pos = len(buffer) if final else max(pos, buffer.rfind(b"\n") + 1)
                break
            pos = begin.start()
            after = _message_end(buffer, pos)
            if after < 0 and not final:
                break                    # the rest comes in a later segment
            after = len(buffer) if after < 0 else after
            _emit(flow, buffer, pos, after, starts)
            pos = after
        if pos:
            # forget the bytes cut so far; the segment the rest began in stays first
            first = max((k for k, start in enumerate(starts) if start.offset <= pos), default=0)
            del starts[:first]
            head = starts[0]
            head.line += buffer.count(b"\n", head.offset, pos)
            head.offset = pos
            for start in starts:
                start.offset -= pos
            del buffer[:pos]


def _emit(flow: tuple[str, str], buffer: bytearray, pos: int, after: int,
          starts: list[_Start]) -> None:
    """The message at buffer[pos:after], filed under the segment it began in."""
    start = starts[0]
    for candidate in starts:
        if candidate.offset <= pos:
            start = candidate
    payload = bytes(buffer[pos:after])
    note, start.note = start.note, None
    if _message_end(buffer, pos) < 0:
        note = join_note([note or "", "truncated: the text ends before the rest of this TCP "
                                      "message (its Content-Length is not reached)"])
        if b"\r\n\r\n" not in payload and b"\n\n" not in payload:
            payload += b"\r\n" if payload.endswith(b"\n") else b"\r\n\r\n"
    start.slot.append(Found(payload, start.line + buffer.count(b"\n", start.offset, pos),
                            src=flow[0], dst=flow[1], transport="TCP", time=start.when,
                            dated=start.dated, note=note))


def _message_end(buffer: bytearray, pos: int) -> int:
    """Offset after the message starting at pos (head, blank line, Content-Length bytes), or -1
    while it is incomplete.  Without Content-Length the body is taken as empty (§18.3)."""
    head_end = buffer.find(b"\r\n\r\n", pos)
    if head_end < 0:
        return -1
    length = _LENGTH.search(buffer, pos, head_end + 2)
    after = head_end + 4 + (int(length.group(1)) if length else 0)
    return after if after <= len(buffer) else -1


def _byline_segment(lines: list[str], index: int) -> bool:
    """A TCP packet printed by `ngrep -W byline` (some line ends in the "." of a CR)."""
    if _starts_with_lf(lines, index):
        index += 1
    end = index
    while end < len(lines) and not _ends_packet(lines[end]):
        if lines[end].rstrip(" \t").endswith("."):
            return True
        end += 1
    return False


def _mostly_dotted(lines: list[str], sample: int = 400) -> bool:
    """`ngrep -W byline` output: most payload lines end in the "." of their CR.  Then a TCP
    segment that holds no whole line (`ACK sip:x@y SIP/`) is still a piece of a message."""
    dotted = seen = 0
    for line in lines:
        stripped = line.rstrip(" \t")
        if not stripped or ("->" in line and _header(line) is not None):
            continue
        seen += 1
        dotted += stripped.endswith(".")
        if seen >= sample:
            break
    return seen > 0 and dotted * 2 > seen


def _starts_with_lf(lines: list[str], index: int) -> bool:
    """An empty first line with payload lines after it: the payload starts with LF."""
    return index + 1 < len(lines) and not lines[index].strip() \
        and not _ends_packet(lines[index + 1])


def _segment(lines: list[str], index: int) -> tuple[bytes, int, bool]:
    """The bytes of one byline TCP packet, the index after it, and whether it ends in a "."
    that may be a lone CR.  ngrep prints a CR as "." and an LF as a line end, and ends a packet
    with one more line end: a payload ending with LF is followed by two empty lines, one ending
    inside a line (or with a lone CR: a CRLF split between segments) by one.  A payload that
    starts with LF shows an empty first line."""
    lead = b""
    if _starts_with_lf(lines, index):
        lead, index = b"\n", index + 1
    end = _skip_packet(lines, index)
    blanks = 0
    while blanks < 2 and end + blanks < len(lines) and not lines[end + blanks].strip():
        blanks += 1
    at_end = end + blanks >= len(lines)          # the text ends: the separator tells nothing
    ends_inside_line = blanks == 1 and not at_end
    parts = [lead]
    for pos in range(index, end):
        if pos == end - 1 and ends_inside_line:
            parts.append(encode(lines[pos]))     # verbatim: "." may be a CR or a dot
        else:
            parts.append(_restore(lines[pos], last=pos == end - 1 and at_end))
    open_cr = ends_inside_line and end > index and lines[end - 1].endswith(".")
    return b"".join(parts), end, open_cr


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
            or ("->" in line and (_header(line) is not None
                                  or _OTHER_HEADER.fullmatch(line) is not None)))


def _skip_packet(lines: list[str], index: int) -> int:
    """The index of the line that ends the packet whose payload starts at index."""
    while index < len(lines) and not _ends_packet(lines[index]):
        index += 1
    return index


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
        "->" in line and (_header(line) is not None or _OTHER_HEADER.fullmatch(line) is not None))


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
