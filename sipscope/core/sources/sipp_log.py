"""Read SIPp logs: the error log (`-trace_err`) and the message log (`-trace_msg`).

Error log: tab-separated `date time epoch: ...` lines quoting the SIP message SIPp got:
`Dead call X (aborted at index 6), received '<message>'.`, `... while expecting '180', received
'<message>'.`, or `Discarding message which can't be mapped to a known SIPp call:` followed by it.
Message log: `----- 2020-04-03 12:56:09.113089` rules, then `UDP message received [541] bytes :` or
`UDP message sent (541 bytes):` and the message.  SIPp prints no addresses: both ends are named
from Via/Contact (ADDR_INFERRED), SIPp's own side as "sipp" when nothing names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from sipscope.core.sources.datagram import Datagram, InputReport
from sipscope.core.sources.limits import read_text_bytes
from sipscope.core.sources.text_infer import Found, epoch, finish
from sipscope.core.sources.text_lines import (decode_bytes, head_text, is_binary, is_start_line,
                                              split_lines, take_message)

NAME = "sipp_log"
DESCRIPTION = "SIPp error log / message log text"

_ERR_LINE = re.compile(r"[ \t]*([0-9]{4})-([0-9]{2})-([0-9]{2})[ \t]+([0-9]{2}):([0-9]{2}):"
                       r"([0-9]{2}(?:\.[0-9]+)?)(?:[ \t]+([0-9]{9,11}\.[0-9]+))?[ \t]*:", re.A)
_RECEIVED = re.compile(r"\breceived[ \t]+'", re.A)
_DISCARD = re.compile(r"Discarding message which can't be mapped to a known SIPp call:?[ \t]*$", re.A)
_RULE = re.compile(r"[ \t]*-{10,}[ \t]+([0-9]{4})-([0-9]{2})-([0-9]{2})[ \t]+([0-9]{2}):([0-9]{2}):"
                   r"([0-9]{2}(?:\.[0-9]+)?)[ \t]*", re.A)
_MSG = re.compile(r"[ \t]*(UDP|TCP|TLS|SCTP|WSS?)[ \t]+message[ \t]+(received|sent)[ \t]*"
                  r"(?:\([ \t]*[0-9]+[ \t]*bytes[ \t]*\)|\[[ \t]*[0-9]+[ \t]*\][ \t]*bytes)[ \t]*:?[ \t]*",
                  re.A | re.I)
_BANNER = "sipp: The following events occured:"


def sniff(head: bytes) -> float:
    if is_binary(head):
        return 0.0
    text = head_text(head)
    for line in text.splitlines():
        found = _RECEIVED.search(line)
        if found and is_start_line(line[found.end():]):
            return 0.9
        if _MSG.fullmatch(line) or _DISCARD.search(line):
            return 0.9
    return 0.5 if _BANNER in text else 0.0


def read(stream: BinaryIO, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    yield from read_text(decode_bytes(read_text_bytes(stream, report)), report, input_index)


def _time(match: re.Match) -> float | None:
    if match.lastindex and match.lastindex >= 7 and match.group(7):
        return float(match.group(7))                    # SIPp's own epoch column
    return epoch(int(match.group(1)), int(match.group(2)), int(match.group(3)),
                 int(match.group(4)), int(match.group(5)), float(match.group(6)))


def _is_log_line(line: str) -> bool:
    return bool(_ERR_LINE.match(line) or _RULE.fullmatch(line) or _MSG.fullmatch(line))


def _quoted(lines: list[str], index: int, first: str) -> tuple[list[str], int]:
    """The lines of a message quoted as '...'. (the first one given), and the index after it."""
    body = [first]
    end = index + 1
    while True:
        text = body[-1].rstrip(" \t")
        if text.endswith(("'.", "'")) and (end >= len(lines) or _is_log_line(lines[end])
                                          or not lines[end].strip()):
            body[-1] = text[:-2] if text.endswith("'.") else text[:-1]
            return body, end
        if end >= len(lines) or _is_log_line(lines[end]):
            return body, end                            # the closing quote is missing
        body.append(lines[end])
        end += 1


def read_text(text: str, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    lines = split_lines(text)
    items: list[Found] = []
    when: float | None = None
    pending: tuple[bool, str | None] | None = None             # message log: (sent?, transport)
    index = 0
    while index < len(lines):
        line = lines[index]
        stamp = _ERR_LINE.match(line) or _RULE.fullmatch(line)
        if stamp:
            when = _time(stamp) if _time(stamp) is not None else when
        quoted = _RECEIVED.search(line)
        if quoted and is_start_line(line[quoted.end():]):
            part, after = _quoted(lines, index, line[quoted.end():])
            payload, _ = take_message(part, 0)
            items.append(Found(payload, index + 1, time=when, sent=False))
            index = after
            continue
        message = _MSG.fullmatch(line)
        if message:
            pending = (message.group(2).lower() == "sent", message.group(1).upper())
        elif (pending or _DISCARD.search(line)) and is_start_line(line):
            sent, transport = pending or (False, None)
            start = index
            payload, index = take_message(lines, index, _is_log_line)
            items.append(Found(payload, start + 1, time=when, sent=sent, transport=transport))
            pending = None
            continue
        elif _DISCARD.search(line):
            pending = (False, None)
        elif line.strip():
            pending = None
        index += 1
    yield from finish(items, report, fmt=NAME, placeholder="sipp", input_index=input_index)
