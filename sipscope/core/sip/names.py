"""Header names: compact forms (RFC 3261 §7.3.3 and later RFCs) and canonical spelling."""

from __future__ import annotations

# RFC 3261 §7.3.3 plus RFC 3265 (o, u), RFC 3515 (r), RFC 3892 (b), RFC 4028 (x), RFC 3841 (a, j, d),
# RFC 4474 (y, n).
COMPACT_FORMS = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via",
    "o": "Event", "u": "Allow-Events", "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires",
    "a": "Accept-Contact", "j": "Reject-Contact", "d": "Request-Disposition", "y": "Identity",
    "n": "Identity-Info",
}

_CANONICAL = {name.lower(): name for name in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length",
    "Content-Type", "Content-Encoding", "Record-Route", "Route", "User-Agent", "Server",
    "Allow", "Supported", "Require", "Proxy-Require", "Unsupported", "Expires", "Date",
    "Authorization", "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate",
    "Reason", "Warning", "RSeq", "RAck", "Session-Expires", "Min-SE", "Event", "Allow-Events",
    "Subscription-State", "Refer-To", "Referred-By", "Subject", "Accept", "P-Asserted-Identity",
    "Privacy", "Min-Expires", "Retry-After", "Timestamp", "Organization", "Replaces",
    "Accept-Contact", "Reject-Contact", "Request-Disposition", "Identity", "Identity-Info")}

# Headers whose value may be a comma-joined list of several header values (RFC 3261 §7.3.1).
# Authorization-type headers, Date and similar contain commas inside one value.
LIST_HEADERS = frozenset(name.lower() for name in (
    "Via", "Contact", "Route", "Record-Route", "Allow", "Supported", "Require",
    "Proxy-Require", "Unsupported", "Accept", "Allow-Events", "Accept-Encoding",
    "Accept-Language", "Content-Encoding", "Warning", "Reason", "P-Asserted-Identity"))

# Headers that may appear once only (RFC 3261 §20, table 2): a repeat is a syntax fault.
SINGLE_HEADERS = frozenset(name.lower() for name in (
    "Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length", "Content-Type",
    "Expires", "Min-Expires", "Retry-After", "RSeq", "RAck", "Session-Expires", "Min-SE"))


def canonical(name: str) -> str:
    """The long, conventionally spelled name for a header as written (compact forms expanded)."""
    stripped = name.strip()
    if len(stripped) == 1:
        long_form = COMPACT_FORMS.get(stripped.lower())
        if long_form:
            return long_form
    return _CANONICAL.get(stripped.lower(), stripped)


_KEYS: dict[str, str] = {}


def key(name: str) -> str:
    """Case-insensitive lookup key for a header name (compact forms expanded), memoised."""
    found = _KEYS.get(name)
    if found is None:
        found = canonical(name).lower()
        if len(_KEYS) < 4096:     # names come from captures: bound the memo
            _KEYS[name] = found
    return found
