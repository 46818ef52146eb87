"""Cut SIP messages out of pasted text: decoding, lines, start lines and message framing.

Shared by the text trace readers (ngrep, Asterisk, FreeSWITCH, SIPp, raw SIP).  Text is handled as
str decoded with surrogateescape so that bytes which are not UTF-8 come back unchanged when a
payload is encoded again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

CRLF = "\r\n"

_PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                b"\x0a\x0d\x0d\x0a", b"\x1f\x8b")

# RFC 3261 §7.1 Request-Line: Method SP Request-URI SP SIP-Version (any URI scheme: sip, sips, tel).
_REQUEST_LINE = re.compile(
    r"[A-Za-z][A-Za-z0-9._!%*+`'~-]*[ \t]+[A-Za-z][A-Za-z0-9+.-]*:\S+[ \t]+(?i:SIP)/2\.0[ \t]*", re.A)
# RFC 3261 §7.2 Status-Line: SIP-Version SP Status-Code SP Reason-Phrase.
_STATUS_LINE = re.compile(r"(?i:SIP)/2\.0[ \t]+[1-6][0-9][0-9](?:[ \t].*)?", re.A)
# RFC 3261 §7.3.1 header field: token ":" (HCOLON allows whitespace before the colon).
HEADER_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9!%*_+`'~.-]*[ \t]*:", re.A)
_CONTENT_LENGTH = re.compile(r"(?:content-length|l)[ \t]*:[ \t]*([0-9]{1,12})[ \t]*$", re.A | re.I)
_CONTENT_TYPE = re.compile(r"(?:content-type|c)[ \t]*:[ \t]*(\S+)", re.A | re.I)
_SDP_LINE = re.compile(r"[a-z]=", re.A)
_REDACTED_NAMES = {"to", "t", "from", "f", "contact", "m", "record-route", "route", "refer-to", "r",
                   "referred-by", "b", "p-asserted-identity", "reply-to", "diversion"}
_NOTE_LIMIT = 4000


def is_binary(head: bytes) -> bool:
    """A capture or other binary file (pcap magic, gzip, NUL bytes), not text."""
    if head.startswith(_PCAP_MAGICS):
        return True
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return b"\x00" in head[:4096]


def decode_bytes(data: bytes) -> str:
    """The text of a trace file: UTF-16 when it has that BOM, else UTF-8 keeping odd bytes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    """Bytes of a payload; undecodable input bytes come back as they were."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def head_text(head: bytes) -> str:
    """Sniffing view of the first bytes of a file."""
    return decode_bytes(head)


def split_lines(text: str) -> list[str]:
    """Lines without their CR/LF, with the indentation common to every line removed.

    Text pasted from an e-mail often carries the same leading spaces or tab on every line; only
    that shared prefix goes, so indentation inside a message (folded headers, XML) is kept.
    """
    lines = re.split(r"\r?\n", text.lstrip("\ufeff"))
    indents = [line[:len(line) - len(line.lstrip(" \t"))] for line in lines if line.strip()]
    prefix = os.path.commonprefix(indents) if indents else ""
    if not prefix:
        return lines
    cut = len(prefix)
    return [line[cut:] if line.strip() else "" for line in lines]


def is_start_line(line: str) -> bool:
    """A SIP request line or status line (RFC 3261 §7.1, §7.2), ignoring surrounding blanks."""
    line = line.strip()
    return bool(_REQUEST_LINE.fullmatch(line) or _STATUS_LINE.fullmatch(line))


def find_start_line(text: str) -> bool:
    """Does this text hold a SIP start line anywhere?"""
    return any(is_start_line(line) for line in re.split(r"\r?\n", text) if "SIP/2.0" in line.upper())


def content_length(head: list[str]) -> int | None:
    for line in head[1:]:
        match = _CONTENT_LENGTH.match(line)
        if match:
            return int(match.group(1))
    return None


def _content_type(head: list[str]) -> str:
    for line in head[1:]:
        match = _CONTENT_TYPE.match(line)
        if match:
            return match.group(1).lower()
    return ""


def head_is_redacted(head: list[str]) -> bool:
    """Header values that lost their <...> part on a web page: "To: ." or 'From: "Bob" ;tag=x'."""
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if not sep or name.strip().lower() not in _REDACTED_NAMES:
            continue
        value = value.strip()
        if value in ("", ".") or value.startswith(";") or re.fullmatch(r'"[^"]*"[ \t]*(?:;.*)?', value):
            return True
    return False


def _fit_rank(sizes: list[int], cl: int, total: int | None = None) -> int | None:
    """How well the body lines so far make exactly Content-Length bytes (0 best), or None.

    The text lost the line endings: the body may have used CRLF or LF, with or without one after
    its last line.  Ranked CRLF, LF, then the forms without a final line ending.
    """
    if not sizes:
        return 0 if cl == 0 else None
    total, count = (sum(sizes) if total is None else total), len(sizes)
    for rank, size in enumerate((total + 2 * count, total + count, total + 2 * count - 2,
                                 total + count - 1)):
        if size == cl:
            return rank
    return None


def _body_bytes(body: list[str], cl: int | None) -> bytes:
    """Join body lines with the line ending that gives exactly Content-Length bytes, else CRLF."""
    if not body:
        return b""
    parts = [encode(line) for line in body]
    for eol, last in ((b"\r\n", True), (b"\n", True), (b"\r\n", False), (b"\n", False)):
        data = eol.join(parts) + (eol if last else b"")
        if cl is not None and len(data) == cl:
            return data
    return b"\r\n".join(parts) + b"\r\n"


Boundary = Callable[[str], bool]


def _never(_line: str) -> bool:
    return False


def take_message(lines: list[str], index: int, boundary: Boundary = _never,
                 first: str | None = None) -> tuple[bytes, int]:
    """The SIP message whose start line is lines[index] (or `first`), and the index after it.

    Headers run to the first blank line (RFC 3261 §7); the body then takes as many lines as the
    Content-Length asks for (RFC 3261 §18.3), counting the CRLF or LF the text lost.  `boundary`
    names the lines of the surrounding format that always end a message.  A message whose header
    values were stripped (redacted) has a meaningless Content-Length: its body ends at a blank line.
    """
    head = [(first if first is not None else lines[index]).strip()]
    index += 1
    ended = False
    while index < len(lines):
        line = lines[index]
        if boundary(line) or is_start_line(line):
            break
        if not line.strip():
            ended = True
            index += 1
            break
        bare = line.lstrip(" \t")
        if line[:1] in (" ", "\t") and not HEADER_LIKE.match(bare) and len(head) > 1:
            head.append(line.rstrip(" \t"))          # folded header value, RFC 3261 §7.3.1
        elif HEADER_LIKE.match(bare):
            head.append(bare)
        else:
            if _SDP_LINE.match(bare) and (content_length(head) or 0) > 0:
                ended = True                          # the blank line before the body was lost
            break
        index += 1
    body: list[str] = []
    cl = content_length(head)
    redacted = head_is_redacted(head)
    if ended:
        body, index = _take_body(lines, index, boundary, None if redacted else cl,
                                 _content_type(head).startswith("message/"))
    payload = encode(CRLF.join(head) + CRLF + CRLF) + _body_bytes(body, None if redacted else cl)
    return payload, index


def _take_body(lines: list[str], index: int, boundary: Boundary, cl: int | None,
               carries_sip: bool) -> tuple[list[str], int]:
    if cl is not None:
        return _take_sized_body(lines, index, boundary, cl, carries_sip)
    body: list[str] = []
    while index < len(lines):
        line = lines[index]
        if boundary(line) or not line.strip() or is_start_line(line):
            break
        body.append(line)
        index += 1
    return body, index


def _take_sized_body(lines: list[str], index: int, boundary: Boundary, cl: int,
                     carries_sip: bool) -> tuple[list[str], int]:
    """Body lines making Content-Length bytes; the best fit wins.

    A SIP start line inside the declared length (a sipfrag, a quoted message in a text part) stays
    in the body when the length fits exactly past it; when no reading fits, the body ends at the
    next start line or format boundary (a truncated paste or a wrong Content-Length).
    """
    sizes: list[int] = []
    total = 0
    best: tuple[int, int] | None = None           # (rank, line count)
    rank = _fit_rank(sizes, cl)
    if rank is not None:
        best = (rank, 0)
    first_start: int | None = None
    end = index
    while end < len(lines) and (best is None or best[0] > 0):
        line = lines[end]
        if boundary(line):
            break
        if sizes and total + len(sizes) - 1 >= cl:
            break                                 # even the tightest reading is past the length
        if first_start is None and is_start_line(line) and not carries_sip:
            first_start = end
        sizes.append(len(encode(line)))
        total += sizes[-1]
        end += 1
        rank = _fit_rank(sizes, cl, total)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, len(sizes))
    if best is not None:
        return lines[index:index + best[1]], index + best[1]
    end = first_start if first_start is not None else end
    body = lines[index:end]
    while body and not body[-1].strip():
        body.pop()                                # shorter than declared: a truncated paste
    return body, end


def join_note(paragraphs: list[str]) -> str | None:
    """Prose found before a message, as one note (the end is kept when it is very long)."""
    text = "\n".join(paragraphs).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if not text:
        return None
    return text if len(text) <= _NOTE_LIMIT else "…" + text[-_NOTE_LIMIT:]
