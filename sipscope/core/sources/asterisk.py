"""Read Asterisk console/log SIP debug: chan_sip `sip set debug` and res_pjsip `pjsip set logger`.

chan_sip:  `<--- SIP read from UDP:1.2.3.4:5060 --->` ... `<------------->`,
           `<--- Transmitting (no NAT) to 1.2.3.4:5060 --->`, `Reliably Transmitting (NAT) to ...:`,
           `Retransmitting #1 (no NAT) to ...:`.
res_pjsip: `<--- Received SIP request (1053 bytes) from UDP:1.2.3.4:5060 --->`,
           `<--- Transmitting SIP response (543 bytes) to UDP:1.2.3.4:5060 --->`.
Lines may carry a `[timestamp]`, `VERBOSE[...]` or `*CLI>` prefix.  Asterisk never prints its own
address: it is named from the Via/Contact of what it sends (ADDR_INFERRED), else "asterisk".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from sipscope.core.sources.datagram import Datagram, InputReport
from sipscope.core.sources.limits import read_text_bytes
from sipscope.core.sources.text_infer import (Found, epoch, finish, format_addr, month_number,
                                              time_of_day)
from sipscope.core.sources.text_lines import (decode_bytes, find_start_line, head_text, is_binary,
                                              is_start_line, split_lines, take_message)

NAME = "asterisk"
DESCRIPTION = "Asterisk 'sip set debug' / 'pjsip set logger' console or log text"

_ADDR = r"(\[[0-9A-Fa-f:.]+\]|\S+?):([0-9A-Za-z*]+)"
_TRANSPORT = r"(UDP|TCP|TLS|WSS?|SCTP)"
_READ = re.compile(r"<-{1,3}[ \t]*SIP read from[ \t]+(?:" + _TRANSPORT + r":)?" + _ADDR
                   + r"[ \t]*(?:-*>|:)?[ \t]*$", re.A | re.I)
_SEND = re.compile(r"(?:<-{1,3}[ \t]*)?(?:Reliably[ \t]+)?(?:Re)?[Tt]ransmitting(?:[ \t]+#[0-9]+)?[ \t]*"
                   r"\((?:no )?NAT\)[ \t]+to[ \t]+" + _ADDR + r"[ \t]*(?:-*>|:)?[ \t]*$", re.A)
_PJSIP = re.compile(r"<-{1,3}[ \t]*(Received|Transmitting)[ \t]+SIP[ \t]+(?:request|response)[ \t]*"
                    r"\([0-9]+ bytes\)[ \t]+(?:from|to)[ \t]+" + _TRANSPORT + ":" + _ADDR
                    + r"[ \t]*-*>[ \t]*$", re.A | re.I)
_CLOSE = re.compile(r"[ \t]*(?:\*CLI>[ \t]*)?(?:<-+>|---|--- \([0-9]+ headers [0-9]+ lines\) ---.*)[ \t]*",
                    re.A)
_LOG_LINE = re.compile(r"[ \t]*\[[^\]]{6,40}\][ \t]+(?:VERBOSE|DEBUG|NOTICE|WARNING|ERROR|DTMF)\b", re.A)
_STAMP = re.compile(r"[ \t]*\[(?:([0-9]{4})-([0-9]{2})-([0-9]{2})|([A-Za-z]{3})[ \t]+([0-9]{1,2}))[ \t]+"
                    r"([0-9]{2}):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?)\]", re.A)


def _marker(line: str) -> tuple[bool, str, str | None] | None:
    """(sent?, remote address, transport or None) for a line that opens a message."""
    if "<-" not in line and "ransmitting" not in line:
        return None
    match = _PJSIP.search(line)
    if match:
        return (match.group(1).lower() == "transmitting", format_addr(match.group(3), match.group(4)),
                match.group(2).upper())
    match = _READ.search(line)
    if match:
        return False, format_addr(match.group(2), match.group(3)), (match.group(1) or "").upper() or None
    match = _SEND.search(line)
    if match:
        return True, format_addr(match.group(1), match.group(2)), None
    return None


def _boundary(line: str) -> bool:
    return bool(_CLOSE.fullmatch(line) or _LOG_LINE.match(line) or _marker(line))


def sniff(head: bytes) -> float:
    if is_binary(head):
        return 0.0
    text = head_text(head)
    if not any(_marker(line) for line in text.splitlines()):
        return 0.0
    return 0.9 if find_start_line(text) else 0.5


def read(stream: BinaryIO, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    yield from read_text(decode_bytes(read_text_bytes(stream, report)), report, input_index)


def _stamp(line: str) -> tuple[float, bool] | None:
    """(time, dated) from a `[2014-10-14 15:03:47]` or `[Oct 14 15:03:47]` line prefix."""
    match = _STAMP.match(line)
    if not match:
        return None
    hour, minute, second = int(match.group(6)), int(match.group(7)), float(match.group(8))
    if match.group(1):
        value = epoch(int(match.group(1)), int(match.group(2)), int(match.group(3)), hour, minute, second)
        return (value, True) if value is not None else None
    if month_number(match.group(4)) is None:
        return None
    value = time_of_day(hour, minute, second)
    return (value, False) if value is not None else None


def read_text(text: str, report: InputReport, input_index: int = 0) -> Iterator[Datagram]:
    lines = split_lines(text)
    items: list[Found] = []
    stamp: tuple[float, bool] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        stamp = _stamp(line) or stamp
        marker = _marker(line)
        index += 1
        if marker is None:
            continue
        start = index
        while start < len(lines) and not lines[start].strip() and start - index < 2:
            start += 1
        if start >= len(lines) or not is_start_line(lines[start]):
            continue
        sent, remote, transport = marker
        payload, index = take_message(lines, start, _boundary)
        items.append(Found(payload, start + 1, src=None if sent else remote, dst=remote if sent else None,
                           transport=transport, time=stamp[0] if stamp else None,
                           dated=stamp[1] if stamp else True, sent=sent))
    yield from finish(items, report, fmt=NAME, placeholder="asterisk", input_index=input_index)
