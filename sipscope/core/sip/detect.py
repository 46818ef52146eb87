"""Recognise SIP start lines in raw payloads and find where SIP messages end (RFC 3261 §7, §18.3).

Used by the pcap reader before anything is decoded: a UDP payload, a WebSocket message or a
TCP byte stream is SIP when a Request-Line or Status-Line starts it (after optional CRLF
keep-alives, RFC 5626 §4.4.1, and tolerated leading junk).  Also says whether a UDP payload
looks like media by its first byte (RFC 7983 §7: 0-3 STUN, 20-63 DTLS, 128-191 RTP/RTCP).
"""

from __future__ import annotations

import re

from sipscope.core.media.classify import is_udptl

KNOWN_METHODS = frozenset((
    b"INVITE", b"ACK", b"BYE", b"CANCEL", b"OPTIONS", b"REGISTER", b"PRACK", b"SUBSCRIBE",
    b"NOTIFY", b"PUBLISH", b"INFO", b"REFER", b"MESSAGE", b"UPDATE",
))

# RFC 3261 §7.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF (bare LF tolerated;
# the version string is case-insensitive).  Status-Line = SIP-Version SP Status-Code SP Reason.
_VERSION = rb"[Ss][Ii][Pp]/2\.0"
_REQUEST = (rb"(?P<method>[A-Z][A-Za-z0-9.!%*_+`'~-]{0,31}) +[a-zA-Z][a-zA-Z0-9+.-]*:[^ \r\n]* +"
            + _VERSION + rb"[ \t]*\r?\n")
_STATUS = _VERSION + rb" +[1-6][0-9][0-9](?:[ \t][^\r\n]*)?\r?\n"
START_LINE = re.compile(rb"(?:" + _STATUS + rb"|" + _REQUEST + rb")")

# RFC 3261 §7.3.3 / §20.14: Content-Length, compact form "l", case-insensitive names.
_CONTENT_LENGTH = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*([0-9]{1,12})")

JUNK_WINDOW = 64          # leading junk tolerated before a start line in a datagram
_LEADING_WS = b" \t\r\n\x00"
_UPPER = frozenset(range(ord("A"), ord("Z") + 1))
_STUN_COOKIE = b"\x21\x12\xa4\x42"   # RFC 5389 §6 magic cookie


def _is_known_start(payload: bytes, pos: int) -> bool:
    m = START_LINE.match(payload, pos)
    if m is None:
        return False
    method = m.group("method")
    return method is None or method in KNOWN_METHODS


def sip_start(payload: bytes) -> int:
    """Offset where the SIP start line begins in a datagram, or -1 when it is not SIP.

    Leading CR/LF/space (keep-alives) are skipped; a start line hidden behind up to
    JUNK_WINDOW bytes of junk is found too (an unknown method glued to a known one, like
    "DBREGISTER sip:...", is read as junk + REGISTER).
    """
    n = len(payload)
    i = 0
    while i < n and payload[i] in _LEADING_WS:
        i += 1
    if i >= n:
        return -1
    m = START_LINE.match(payload, i)
    if m is not None:
        method = m.group("method")
        if method is None or method in KNOWN_METHODS:
            return i
        for j in range(i + 1, min(n, i + JUNK_WINDOW)):
            if payload[j] in _UPPER and _is_known_start(payload, j):
                return j
        return i                      # an extension method: legitimate
    if payload.find(b"SIP/2.0", i) < 0 and payload.find(b"sip/2.0", i) < 0:
        return -1
    for j in range(i + 1, min(n, i + JUNK_WINDOW)):
        if payload[j] in _UPPER and START_LINE.match(payload, j):
            return j
    return -1


def find_start_line(buf, pos: int = 0, end: int | None = None) -> int:
    """First offset >= pos where a complete SIP start line begins, or -1.

    Used to resynchronise a byte stream (TCP without SYN, after a gap), where the previous
    body may end without CRLF: a Status-Line is accepted anywhere, a Request-Line at a line
    start or, for the known methods, right after other bytes.  buf may be bytes or bytearray;
    only lines fully inside buf are found.
    """
    end = len(buf) if end is None else end
    k = buf.find(b"/2.0", pos, end)
    while k >= 0:
        sip = k - 3
        if sip >= pos and buf[sip] in b"Ss" and START_LINE.match(buf, sip, end):
            return sip
        line_start = max(buf.rfind(b"\n", pos, k) + 1, pos)
        if line_start < sip:
            if START_LINE.match(buf, line_start, end):
                return line_start
            glued = [j for j in (buf.find(m + b" ", line_start, sip) for m in KNOWN_METHODS)
                     if j > line_start]
            for j in sorted(glued):
                if START_LINE.match(buf, j, end):
                    return j
        k = buf.find(b"/2.0", k + 4, end)
    return -1


def header_end(buf, pos: int = 0) -> int:
    """Offset just past the empty line that ends the header block, or -1 if not there yet."""
    crlf = buf.find(b"\r\n\r\n", pos)
    lf = buf.find(b"\n\n", pos, crlf + 2 if crlf >= 0 else len(buf))
    if crlf >= 0 and (lf < 0 or crlf + 2 <= lf):
        return crlf + 4
    if lf >= 0:
        return lf + 2
    return -1


def content_length(header_block) -> int | None:
    """The Content-Length value of a header block (bytes), None when absent."""
    m = _CONTENT_LENGTH.search(header_block)
    return int(m.group(1)) if m else None


def media_kind(payload: bytes) -> bool:
    """True when a UDP payload looks like STUN, DTLS or RTP/RTCP (RFC 7983 §7, sanity-checked),
    or parses exactly as a T.38 UDPTL packet."""
    n = len(payload)
    if n < 4:
        return False
    b0 = payload[0]
    if 128 <= b0 <= 191:                              # RTP/RTCP version 2
        return n >= 8
    if b0 <= 3 and n >= 20 and (payload[4:8] == _STUN_COOKIE
                                or (payload[2] << 8 | payload[3]) + 20 == n):
        return True                                   # STUN (RFC 5389 §6)
    if 20 <= b0 <= 63 and n >= 13 and payload[1] == 0xFE:
        return True                                   # DTLS record (RFC 6347 §4.1)
    return is_udptl(payload)                          # T.38 fax (ITU-T T.38 Annex A)
