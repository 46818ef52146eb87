"""Read raw SIP text: one or more messages pasted with nothing else around them.

Messages follow each other, usually with blank lines between them; the Content-Length decides where
a body ends (RFC 3261 §18.3).  The text gives no addresses and no times: endpoints are named from
Via/Contact (ADDR_INFERRED) and the order is kept (TIME_UNKNOWN).  Prose between the messages is
kept as the next message's note and marks the text as an excerpt.  The fallback reader: it only
claims text that no other reader recognises.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from sipscope.core.sources.datagram import Datagram, InputReport
from sipscope.core.sources.limits import read_text_bytes
from sipscope.core.sources.text_infer import Found, finish
from sipscope.core.sources.text_lines import (decode_bytes, find_start_line, head_text, is_binary,
                                              is_start_line, join_note, split_lines, take_message)

NAME = "raw_sip"
DESCRIPTION = "raw SIP messages pasted as text"


def sniff(head: bytes) -> float:
    if is_binary(head):
        return 0.0
    return 0.3 if find_start_line(head_text(head)) else 0.0


def read(stream: BinaryIO, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    yield from read_text(decode_bytes(read_text_bytes(stream, report)), report, input_index)


def read_text(text: str, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    lines = split_lines(text)
    items: list[Found] = []
    prose: list[str] = []
    any_prose = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if is_start_line(line):
            start = index
            payload, index = take_message(lines, index)
            items.append(Found(payload, start + 1, note=join_note(prose)))
            prose = []
            continue
        if line.strip():
            prose.append(line.strip())
            any_prose = True
        elif prose and prose[-1]:
            prose.append("")
        index += 1
    yield from finish(items, report, fmt=NAME, input_index=input_index, excerpt=any_prose)
