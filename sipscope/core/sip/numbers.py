"""The one safe parser for the numbers in SIP headers, SDP lines and text-trace addresses.

Every number field of SIP has a small range: CSeq and RSeq are below 2**32 (RFC 3261 §8.1.1.5,
RFC 3262 §7.1), Content-Length, Expires, Session-Expires, Min-SE and Max-Forwards are at most
(2**32)-1 (RFC 3261 §20.14, §20.19, §20.22, RFC 4028 §4-5), ports are 16 bits.  Python's int()
of a digit string is quadratic in its length and refuses more than 4,300 digits with a
ValueError, so a hostile capture with a 5,000-digit CSeq could stop a load or a rule.  Here a
field holding more digits than MAX_DIGITS is simply not a valid number (None), like any other
malformed value; callers already report "not a number" for None.
"""

from __future__ import annotations

MAX_DIGITS = 20     # room for leading zeros; 2**64 has 20 digits, no SIP field comes close


def header_int(text: str | bytes | None, max_digits: int = MAX_DIGITS) -> int | None:
    """The value of an unsigned decimal field (surrounding blanks allowed), else None:
    empty, a sign, a non-ASCII digit ("²"), an underscore, or more than max_digits digits."""
    if text is None:
        return None
    if len(text) > max_digits:
        text = text.strip()
        if len(text) > max_digits:
            return None
    if text.isdigit() and text.isascii():
        return int(text)
    text = text.strip()
    return int(text) if text and text.isdigit() and text.isascii() else None


def is_too_long(text: str | bytes | None, max_digits: int = MAX_DIGITS) -> bool:
    """True when the field is all digits but more of them than any valid value has: the
    caller's warning can then say so instead of a plain "not a number"."""
    if text is None:
        return False
    text = text.strip()
    return len(text) > max_digits and text.isdigit()
