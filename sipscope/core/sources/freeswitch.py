"""Read FreeSWITCH `sofia global siptrace on` output, alone or inside a full console log.

`recv 1234 bytes from wss/[10.0.0.1]:56358 at 17:50:29.730311:` or `send ... to ...`, a dashed rule,
the message, sometimes a closing rule; everything else in the log ([DEBUG] lines, Dialplan lines,
channel variable dumps) is not part of a message.  The trace line has a time of day only: the date
comes from the log's own dated lines around it when there are any (TIME_NO_DATE otherwise).
FreeSWITCH does not print its own address: it is named from the Via/Contact of what it sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from sipscope.core.sources.datagram import Datagram, InputReport
from sipscope.core.sources.limits import read_text_bytes
from sipscope.core.sources.text_infer import Found, epoch, finish, format_addr, time_of_day
from sipscope.core.sources.text_lines import (decode_bytes, find_start_line, head_text, is_binary,
                                              is_start_line, split_lines, take_message)

NAME = "freeswitch"
DESCRIPTION = "FreeSWITCH sofia siptrace text (also inside a console log)"

_TRACE = re.compile(
    r"[ \t]*(?:[0-9]{4}-[0-9]{2}-[0-9]{2}[ \t]+[0-9:.]+[ \t]+(?:\[[A-Z]+\][ \t]+)?)?"
    r"(recv|send)[ \t]+[0-9]+[ \t]+bytes[ \t]+(?:from|to)[ \t]+(udp|tcp|tls|wss?|sctp)/"
    r"\[?([0-9A-Za-z:.*_-]+?)\]?:([0-9]+)"
    r"(?:[ \t]+at[ \t]+(?:([0-9]{4})-([0-9]{2})-([0-9]{2})[ \t]+)?"
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?))?"
    r"[ \t]*:?[ \t]*", re.A | re.I)
_RULE = re.compile(r"[ \t]*-{20,}[ \t]*", re.A)
_LOG_LINE = re.compile(r"[ \t]*([0-9]{4})-([0-9]{2})-([0-9]{2})[ \t]+"
                       r"([0-9]{2}):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?)[ \t]+(?:\[[A-Z]+\]|[0-9.]+%)", re.A)


def _boundary(line: str) -> bool:
    return bool(_RULE.fullmatch(line) or _LOG_LINE.match(line) or _TRACE.fullmatch(line))


def sniff(head: bytes) -> float:
    if is_binary(head):
        return 0.0
    text = head_text(head)
    if not any(_TRACE.fullmatch(line) for line in text.splitlines() if "bytes" in line):
        return 0.0
    return 0.9 if find_start_line(text) else 0.5


def read(stream: BinaryIO, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    yield from read_text(decode_bytes(read_text_bytes(stream, report)), report, input_index)


def _log_dates(lines: list[str]) -> list[tuple[int, float]]:
    """(line index, epoch of that day's midnight, UTC) for every dated log line."""
    days = []
    for index, line in enumerate(lines):
        match = _LOG_LINE.match(line) if line[:1].isdigit() or line[:1] in " \t" else None
        if match:
            midnight = epoch(int(match.group(1)), int(match.group(2)), int(match.group(3)), 0, 0, 0.0)
            tod = time_of_day(int(match.group(4)), int(match.group(5)), float(match.group(6)))
            if midnight is not None and tod is not None:
                days.append((index, midnight, tod))
    return days


def _dated(days: list[tuple[int, float, float]], index: int, tod: float) -> float | None:
    """Epoch time for a time of day, from the nearest dated log line (crossing midnight if need be)."""
    before = [day for day in days if day[0] < index]
    near = before[-1] if before else (days[0] if days else None)
    if near is None:
        return None
    _, midnight, near_tod = near
    if tod < near_tod - 43200:
        midnight += 86400.0
    elif tod > near_tod + 43200:
        midnight -= 86400.0
    return midnight + tod


def read_text(text: str, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    lines = split_lines(text)
    days: list[tuple[int, float, float]] | None = None
    items: list[Found] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _TRACE.fullmatch(line) if "bytes" in line else None
        index += 1
        if match is None:
            continue
        start = index
        while start < len(lines) and (_RULE.fullmatch(lines[start]) or not lines[start].strip()) \
                and start - index < 3:
            start += 1
        if start >= len(lines) or not is_start_line(lines[start]):
            continue
        sent = match.group(1).lower() == "send"
        remote = format_addr(match.group(3), match.group(4))
        when, dated = None, True
        if match.group(8):
            tod = time_of_day(int(match.group(8)), int(match.group(9)), float(match.group(10)))
            if tod is not None and match.group(5):
                when = epoch(int(match.group(5)), int(match.group(6)), int(match.group(7)), 0, 0, tod)
            elif tod is not None:
                if days is None:
                    days = _log_dates(lines)
                when = _dated(days, index, tod)
                if when is None:
                    when, dated = tod, False
        payload, index = take_message(lines, start, _boundary)
        items.append(Found(payload, start + 1, src=None if sent else remote, dst=remote if sent else None,
                           transport=match.group(2).upper(), time=when, dated=dated, sent=sent))
    yield from finish(items, report, fmt=NAME, placeholder="freeswitch", input_index=input_index)
