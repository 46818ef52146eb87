"""Fast extraction of the fields the model files messages by (the big-capture hot path).

The full parser (message.py) builds every header; loading a million messages needs only the start
line, Call-ID, CSeq, the top Via's branch and sent-by (RFC 3261 §17 transaction keys) and the
From/To tags (§12 dialog ids).  One regex pass over the header block finds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sipscope.core.sip.message import REQUEST_LINE, STATUS_LINE, find_start, split_head
from sipscope.core.sip.numbers import MAX_DIGITS

_TAG = re.compile(rb";[ \t]*tag[ \t]*=[ \t]*([^;,>\s]+)", re.IGNORECASE)
_BRANCH = re.compile(rb";[ \t]*branch[ \t]*=[ \t]*([^;,\s]+)", re.IGNORECASE)
_KIND = {b"via": 0, b"v": 0, b"call-id": 1, b"i": 1, b"cseq": 2, b"from": 3, b"f": 3,
         b"to": 4, b"t": 4, b"content-length": 5, b"l": 5, b"user-agent": 6,
         b"authorization": 7, b"proxy-authorization": 7, b"session-expires": 8, b"x": 8,
         b"min-se": 8}
# The header lines of _KIND in one C-level pass: the name at a line start, optional blanks, then
# the value after the colon (a line holding only the name counts as an empty value).
_FIELDS = re.compile(rb"^(via|v|call-id|i|cseq|from|f|to|t|content-length|l|user-agent|"
                     rb"authorization|proxy-authorization|session-expires|x|min-se)"
                     rb"[ \t\r\x0b\x0c]*"
                     rb"(?::([^\n]*)|$)", re.IGNORECASE | re.MULTILINE)

# Summary.hints bits: cheap facts the security and session-timer rules would otherwise read
# the bytes back for.
MAY_NAME_TOOL = 1     # the User-Agent holds one of TOOL_LITERALS (any case), or the From line
                      # SIPVicious' name or default address
HAS_CREDENTIALS = 2   # an Authorization or Proxy-Authorization line (RFC 3261 §22)
SESSION_TIMER = 4     # a Session-Expires (x) or Min-SE line (RFC 4028 §4, §5)
# Every scanner/test-tool name the security rules look for in User-Agent and From lines
# (rules/security.py _UA_LINE) contains one of these, so a line without any cannot match.
TOOL_LITERALS = (b"scan", b"sipvicious", b"sipcli", b"ipuseragent", b"sundayddr",
                 b"siparmyknife", b"pplsip", b"nsauditor", b"nmap", b"smap", b"iwar", b"sivus",
                 b"sipsak", b"sipp", b"100@1.1.1.1")


@dataclass(slots=True)
class Summary:
    method: str | None
    request_uri: str | None
    status: int
    reason: str
    call_id: str
    cseq_num: int | None
    cseq_method: str
    branch: str
    sent_by: str
    via_transport: str
    from_tag: str
    to_tag: str
    body_length: int
    hints: int = 0


def _tag(value: bytes) -> str:
    gt = value.rfind(b">")
    match = _TAG.search(value, gt + 1 if gt >= 0 else 0)
    return match.group(1).decode("utf-8", "replace") if match else ""


def summarize(raw: bytes) -> Summary | None:
    """The model's fields of one message, or None when the payload has no SIP start line."""
    fields = summary_fields(raw)
    return None if fields is None else Summary(*fields)


def summary_head(raw: bytes) -> tuple | None:
    """(start, head, body_offset, method, request_uri, status, reason) of a payload whose start
    line is SIP, else None: the cheap first half of summary_fields (a message whose start line
    passes always gets its fields)."""
    if raw[:8] == b"SIP/2.0 ":
        start = 0
    else:
        start = find_start(raw)
        if start < 0:
            return None
    head, body_offset = split_head(raw[start:] if start else raw)
    first_end = head.find(b"\n")
    first = (head[:first_end] if first_end >= 0 else head).rstrip(b"\r \t")
    method = request_uri = None
    status, reason = 0, ""
    matched = STATUS_LINE.match(first)
    if matched:
        status, reason = int(matched.group(2)), (matched.group(3) or b"").decode("utf-8", "replace")
    else:
        matched = REQUEST_LINE.match(first)
        if not matched:
            return None
        method, request_uri = matched.group(1).decode().upper(), matched.group(2).decode("utf-8", "replace")
    return start, head, body_offset, method, request_uri, status, reason


def summary_fields(raw: bytes, found_head: tuple | None = None) -> tuple | None:
    """summarize() as a plain tuple in Summary's field order (the builder's hot path);
    found_head: summary_head(raw) when the caller has it already."""
    if found_head is None:
        found_head = summary_head(raw)
    if found_head is None:
        return None
    start, head, body_offset, method, request_uri, status, reason = found_head
    found: list[bytes | None] = [None, None, None, None, None, None, None, None]
    kinds = _KIND
    hints = 0
    for name, value in _FIELDS.findall(head):
        kind = kinds[name.lower()]
        if kind > 5:
            if kind == 7:
                hints |= HAS_CREDENTIALS
            elif kind == 8:
                hints |= SESSION_TIMER
            elif _ua_names_tool(value):
                hints |= MAY_NAME_TOOL
            continue
        if kind == 3 and _from_names_tool(value):
            hints |= MAY_NAME_TOOL
        if found[kind] is None:
            found[kind] = value.strip()
    via = found[0] or b""
    top_via = via.split(b",", 1)[0]
    branch = _BRANCH.search(top_via)
    proto, _, rest = top_via.strip().partition(b" ")
    sent_by = rest.split(b";", 1)[0].strip()
    cseq_num, cseq_method = None, ""
    if found[2] is not None:
        number, _, cseq_method_bytes = found[2].strip().partition(b" ")
        # numbers.header_int inlined on this hot path (bytes.isdigit is ASCII-only)
        cseq_num = int(number) if len(number) <= MAX_DIGITS and number.isdigit() else None
        cseq_method = cseq_method_bytes.strip().decode("ascii", "replace").upper()
    length = found[5]
    declared = int(length) if length is not None and len(length) <= MAX_DIGITS \
        and length.isdigit() else -1
    available = len(raw) - start - body_offset
    return (method, request_uri, status, reason,
            found[1].decode("utf-8", "replace") if found[1] is not None else "",
            cseq_num, cseq_method,
            branch.group(1).decode("utf-8", "replace") if branch else "",
            sent_by.decode("utf-8", "replace"),
            proto.rpartition(b"/")[2].decode("ascii", "replace").upper(),
            _tag(found[3]) if found[3] is not None else "",
            _tag(found[4]) if found[4] is not None else "",
            min(declared, available) if declared >= 0 else available, hints)


@lru_cache(maxsize=4096)
def _ua_names_tool(value: bytes) -> bool:
    """_names_tool for a User-Agent value; a capture has few distinct ones, so they are memoised."""
    return _names_tool(value)


def _from_names_tool(value: bytes) -> bool:
    """The From-line names that the scanner test acts on (rules/security.py _tool_of: the
    SIPVicious display name or its default 100@1.1.1.1).  A From line naming another tool only
    passes the _UA_LINE gate when the User-Agent names one too, which _ua_names_tool sees."""
    return b"100@1.1.1.1" in value or b"sipvicious" in value.lower()


def _names_tool(value: bytes) -> bool:
    """Any of TOOL_LITERALS in the lower-cased line."""
    low = value.lower()
    return any(literal in low for literal in TOOL_LITERALS)
