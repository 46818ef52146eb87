"""Our own lenient SIP message parser (RFC 3261 §7): ordered, case-preserving headers, raw kept.

dpkt's SIP class lower-cases and merges headers, which hides exactly what a tech must see, so we
parse ourselves.  parse_message never raises: every problem becomes a warning on the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from sipscope.core.sip import names
from sipscope.core.sip.detect import sip_start as find_start   # one start-line recogniser
from sipscope.core.sip.numbers import header_int, is_too_long
from sipscope.core.sip.params import NameAddr, Via, parse_name_addr, parse_uri, parse_via, split_unquoted

# RFC 3261 §7.1 Request-Line, §7.2 Status-Line; methods are tokens (§25.1), matched leniently.
REQUEST_LINE = re.compile(rb"([A-Za-z][A-Za-z0-9._!%*+`'~-]*) +(\S+) +SIP/(\d+\.\d+)\s*$")
STATUS_LINE = re.compile(rb"SIP/(\d+\.\d+) +(\d{3})(?: +(.*?))?\s*$")
# Bounds for hostile messages (issue 17): real header blocks are a few KiB with tens of
# headers; these are far beyond any, and keep a 50 MB line or a million Via headers cheap.
MAX_HEAD = 1 << 20          # bytes of a header block that are parsed
MAX_HEADERS = 1000          # header lines parsed (continuation lines included)
MAX_LINE = 64 << 10         # characters kept of one header line
@dataclass(slots=True)
class Header:
    """One header line as written: name spelling, value (folded lines joined) and its line number."""

    name: str
    value: str
    line: int

    @property
    def key(self) -> str:
        return names.key(self.name)


@dataclass(slots=True)
class SipMessage:
    """A parsed SIP message.  Header values are text decoded as UTF-8 with replacement."""

    raw: bytes
    start_line: str = ""
    method: str | None = None          # requests
    request_uri: str | None = None
    status: int = 0                    # responses
    reason: str = ""
    version: str = "2.0"
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    body_offset: int = 0
    warnings: list[str] = field(default_factory=list)
    leading_junk: int = 0

    @property
    def is_request(self) -> bool:
        return self.method is not None

    @property
    def is_response(self) -> bool:
        return self.status > 0

    @property
    def label(self) -> str:
        return self.method if self.method else f"{self.status} {self.reason}".strip()

    # -- header access -------------------------------------------------------------------
    def header_values(self, name: str) -> list[str]:
        """All values of a header, in order, with comma-joined lists split (§7.3.1)."""
        wanted = names.key(name)
        values: list[str] = []
        for header in self.headers:
            if header.key == wanted:
                if wanted in names.LIST_HEADERS:
                    values.extend(v.strip() for v in split_unquoted(header.value, ",") if v.strip())
                else:
                    values.append(header.value)
        return values

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = names.key(name)
        for header in self.headers:
            if header.key == wanted:
                return header.value
        return default

    def count(self, name: str) -> int:
        wanted = names.key(name)
        return sum(1 for header in self.headers if header.key == wanted)

    # -- typed accessors -----------------------------------------------------------------
    @property
    def call_id(self) -> str:
        return (self.get("Call-ID") or "").strip()

    @property
    def cseq(self) -> tuple[int | None, str]:
        return parse_cseq(self.get("CSeq") or "")

    @property
    def vias(self) -> list[Via]:
        return [parse_via(v) for v in self.header_values("Via")]

    @property
    def top_via(self) -> Via | None:
        values = self.header_values("Via")
        return parse_via(values[0]) if values else None

    @property
    def from_(self) -> NameAddr:
        return parse_name_addr(self.get("From") or "")

    @property
    def to(self) -> NameAddr:
        return parse_name_addr(self.get("To") or "")

    @property
    def contacts(self) -> list[NameAddr]:
        return [parse_name_addr(v) for v in self.header_values("Contact")]

    @property
    def user_agent(self) -> str:
        return (self.get("User-Agent") or self.get("Server") or "").strip()

    @property
    def content_type(self) -> str:
        return (self.get("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def content_length(self) -> int | None:
        return header_int(self.get("Content-Length"))

    @property
    def uri(self):
        return parse_uri(self.request_uri or "")

    def text(self) -> str:
        """The whole message for display: UTF-8 with replacement, never interpreted as markup."""
        return self.raw.decode("utf-8", "replace")


def parse_cseq(text: str) -> tuple[int | None, str]:
    """`CSeq: 102 INVITE` into (102, "INVITE") (§20.16); (None, "") when broken."""
    number, _, method = text.strip().partition(" ")
    return header_int(number), method.strip().upper()


def split_head(payload: bytes, limit: int = MAX_HEAD) -> tuple[bytes, int]:
    """The header block (at most `limit` bytes of it: a hostile block is not copied whole)
    and the offset where the body starts (after the blank line)."""
    crlf = payload.find(b"\r\n\r\n")
    lf = payload.find(b"\n\n", 0, crlf if crlf >= 0 else len(payload))
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return payload[:min(crlf, limit)], crlf + 4
    if lf >= 0:
        return payload[:min(lf, limit)], lf + 2
    return payload[:limit], len(payload)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def parse_message(raw: bytes) -> SipMessage:
    """Parse one SIP message.  The body is cut at Content-Length when it is present (§18.3)."""
    message = SipMessage(raw=raw)
    start = find_start(raw)
    if start < 0:
        message.warnings.append("no SIP start line found")
        start = 0
    elif start > 0:
        message.leading_junk = start
        message.warnings.append(f"{start} bytes of junk before the start line")
    head, body_offset = split_head(raw[start:] if start else raw)
    lines = _decode(head).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(head) > MAX_LINE or len(lines) > MAX_HEADERS + 1:
        _bound(message, lines, len(head) == MAX_HEAD and body_offset > MAX_HEAD + 4)
    _parse_start_line(message, lines[0])
    headers = message.headers
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        if line[0] in " \t" and headers:
            # RFC 3261 §7.3.1: a line starting with whitespace continues the previous header
            headers[-1].value = f"{headers[-1].value} {line.strip()}"
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            message.warnings.append(f"line {number} is not a header: {line[:60]!r}")
            continue
        headers.append(Header(name.rstrip(), value.strip(), number))
    _cut_body(message, raw, start + body_offset)
    return message


def _bound(message: SipMessage, lines: list[str], head_cut: bool) -> None:
    """Cut a hostile header block to MAX_HEADERS lines of MAX_LINE characters, with warnings
    (only called for a block long enough to need it: the common path pays nothing)."""
    if head_cut:
        message.warnings.append(f"the header block is longer than {MAX_HEAD:,} bytes; only its "
                                "first ones were read")
    if len(lines) > MAX_HEADERS + 1:
        message.warnings.append(f"{len(lines) - 1:,} header lines; only the first "
                                f"{MAX_HEADERS:,} were read")
        del lines[MAX_HEADERS + 1:]
    for number, line in enumerate(lines):
        if len(line) > MAX_LINE:
            message.warnings.append(f"line {number + 1} is {len(line):,} characters long; only "
                                    f"its first {MAX_LINE:,} were read")
            lines[number] = line[:MAX_LINE]


def _parse_start_line(message: SipMessage, line: str) -> None:
    message.start_line = line.strip()
    data = message.start_line.encode("utf-8", "replace")
    status = STATUS_LINE.match(data)
    if status:
        message.version = status.group(1).decode()
        message.status = int(status.group(2))
        message.reason = _decode(status.group(3) or b"")
        return
    request = REQUEST_LINE.match(data)
    if request:
        message.method = request.group(1).decode().upper()
        message.request_uri = _decode(request.group(2))
        message.version = request.group(3).decode()
        return
    message.warnings.append(f"start line is not a SIP request or status line: {line[:60]!r}")


def _cut_body(message: SipMessage, raw: bytes, body_offset: int) -> None:
    available = raw[body_offset:]
    message.body_offset = body_offset
    length = message.content_length
    if message.get("Content-Length") is not None and length is None:
        declared = message.get("Content-Length")
        message.warnings.append(f"Content-Length has {len(declared.strip()):,} digits, more than "
                                "any valid length" if is_too_long(declared)
                                else "Content-Length is not a number")
    if length is None or length < 0:
        message.body = available
        return
    if length > len(available):
        message.warnings.append(
            f"Content-Length says {length} bytes but only {len(available)} are present")
        message.body = available
    else:
        message.body = available[:length]
        excess = available[length:]
        if excess.strip(b"\r\n\x00 "):
            message.warnings.append(f"{len(excess)} bytes after the body that Content-Length covers")


@lru_cache(maxsize=8192)
def parse_cached(raw: bytes) -> SipMessage:
    """parse_message with a bounded cache, for views and rules that revisit messages."""
    return parse_message(raw)
