"""Turn messages cut from a text trace into Datagrams: fill in what the text does not say.

Addresses missing from the text are named from Via/Contact (ADDR_INFERRED), never invented; times
missing from the text become ordering numbers (TIME_UNKNOWN); times without a date count seconds
from midnight (TIME_NO_DATE).  Redacted values, hand-masked addresses and curated excerpts are
flagged, and the report gets one warning for each.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass

from sipscope.core.sip.message import MAX_HEAD
from sipscope.core.sources.datagram import (ADDR_INFERRED, EXCERPT, MASKED_ADDR, REDACTED,
                                            TIME_NO_DATE, TIME_UNKNOWN, Datagram, InputReport)
from sipscope.core.sources.text_lines import head_is_redacted
from sipscope.core.words import plural, verb

_DAY = 86400.0
_COMPACT = {"i": "call-id", "v": "via", "m": "contact", "t": "to", "f": "from", "l": "content-length"}
_URI = re.compile(r"(sips?):(?:[^@;>?\s]*@)?(\[[0-9A-Fa-f:.]+\]|[^:;>?\s,]+)(?::([0-9]{1,5}))?",
                  re.A | re.I)
_VIA = re.compile(r"SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*([A-Za-z]+)[ \t]+(\[[0-9A-Fa-f:.]+\]|[^;:,\s]+)"
                  r"(?:[ \t]*:[ \t]*([0-9]{1,5}))?([^,]*)", re.A | re.I)
_PARAM = re.compile(r";[ \t]*([A-Za-z-]+)(?:[ \t]*=[ \t]*([^;\s]+))?", re.A)
_MONTHS = {name: number for number, name in enumerate(calendar.month_abbr) if name}


@dataclass(slots=True)
class Found:
    """A message cut from a text trace, with what the text said about it (None: not said)."""

    payload: bytes
    line: int
    src: str | None = None
    dst: str | None = None
    transport: str | None = None
    time: float | None = None
    dated: bool = True          # time is epoch seconds (else seconds since midnight)
    sent: bool | None = None    # True/False: the logging node sent/received it; None: a bystander
    note: str | None = None


@dataclass(slots=True)
class _Head:
    first: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def is_request(self) -> bool:
        return not self.first.upper().startswith("SIP/")

    @property
    def method(self) -> str:
        if self.is_request:
            return self.first.split(None, 1)[0].upper()
        cseq = (self.get("cseq") or "").split()
        return cseq[1].upper() if len(cseq) > 1 else ""


def _parse_head(payload: bytes) -> _Head:
    # as the SIP parser, at most MAX_HEAD bytes of header block (a million Via lines cost
    # 400 MB here otherwise)
    text = payload[:MAX_HEAD].decode("utf-8", "replace")
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    lines = re.split(r"\r?\n", head)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            headers.append((_COMPACT.get(key, key), value.strip()))
    return _Head(lines[0].strip(), headers)


# --- addresses ---------------------------------------------------------------------------------

def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def format_addr(host: str, port: str | int) -> str:
    """"ip:port", IPv6 as "[addr]:port"; hosts masked by hand are kept verbatim."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def host_of(addr: str) -> str:
    return addr.rsplit(":", 1)[0] if ":" in addr else addr


def _default_port(transport: str) -> int:
    return 5061 if transport.upper() in ("TLS", "WSS") else 5060   # RFC 3261 §18.2.2, §19.1.2


@dataclass(slots=True)
class _Via:
    transport: str
    host: str
    port: int
    params: dict[str, str]

    def sent_by(self) -> str:
        return format_addr(self.host, self.port)

    def reply_to(self) -> str:
        """Where a response goes: received/rport when present (RFC 3261 §18.2.2, RFC 3581 §4)."""
        host = self.params.get("received") or self.host
        rport = self.params.get("rport", "")
        return format_addr(host, rport if rport.isdigit() else self.port)


def _top_via(head: _Head) -> _Via | None:
    value = head.get("via")
    match = _VIA.match(value or "")
    if not match:
        return None
    params = {name.lower(): (val or "") for name, val in _PARAM.findall(match.group(4))}
    transport = match.group(1).upper()
    port = int(match.group(3)) if match.group(3) else _default_port(transport)
    return _Via(transport, match.group(2), port, params)


def _uri_addr(value: str | None) -> str | None:
    match = _URI.search(value or "")
    if not match:
        return None
    host = match.group(2)
    if host.lower().endswith(".invalid"):
        return None      # RFC 7118 §5: WebSocket clients use a made-up host name
    port = match.group(3) or (5061 if match.group(1).lower() == "sips" else 5060)
    return format_addr(host, port)


def _next_hop(head: _Head) -> str | None:
    """Where a request is headed: its first Route, else its Request-URI (RFC 3261 §8.1.2)."""
    route = _uri_addr(head.get("route"))
    if route:
        return route
    parts = head.first.split()
    return _uri_addr(parts[1]) if len(parts) > 1 else None


def _via_source(via: _Via | None, nat: dict[str, str]) -> str | None:
    if via is None:
        return None
    real = nat.get(via.params.get("branch", ""))
    if real:
        return real
    if via.host.lower().endswith(".invalid"):
        return None
    return via.sent_by()


def _in_dialog(head: _Head) -> bool:
    return head.is_request and head.method not in ("ACK", "CANCEL") and ";tag=" in (head.get("to") or "")


def _infer_self(items: list[Found], heads: list[_Head]) -> str | None:
    """The logging node's own address, from Via/Contact of what it sent (or got back)."""
    votes: Counter[str] = Counter()
    for item, head in zip(items, heads):
        via = _top_via(head)
        names: list[str | None] = []
        if item.sent:
            if head.is_request and via and not via.host.lower().endswith(".invalid"):
                names.append(via.sent_by())
            names.append(_uri_addr(head.get("contact")))
        elif item.sent is False:
            if not head.is_request and via and not via.host.lower().endswith(".invalid"):
                names.append(via.sent_by())
            elif _in_dialog(head):
                names.append(_uri_addr(head.first.split()[1] if len(head.first.split()) > 1 else ""))
        votes.update(name for name in names if name)
    return votes.most_common(1)[0][0] if votes else None


def _resolve_addresses(items: list[Found], heads: list[_Head], placeholder: str,
                       report: InputReport) -> list[int]:
    """Fill src/dst the text does not give; returns the flags for each item."""
    flags = [0] * len(items)
    nat: dict[str, str] = {}
    for head in heads:
        via = _top_via(head)
        if via and not head.is_request and ("received" in via.params or via.params.get("rport")):
            nat.setdefault(via.params.get("branch", ""), via.reply_to())
    nat.pop("", None)
    self_name = None
    if any(item.sent is not None and (item.src is None or item.dst is None) for item in items):
        self_name = _infer_self(items, heads)
        if self_name:
            report.warn(f"the {placeholder} side's own address is not in the text; named it "
                        f"{self_name} from its Via/Contact/Request-URI headers")
        else:
            self_name = f"{placeholder}:5060"
            report.warn(f"the {placeholder} side's own address is not in the text and no Via/Contact "
                        f"names it; shown as {self_name}")
    request_dst: dict[tuple[str, str], str] = {}
    remotes: Counter[str] = Counter()
    for index, (item, head) in enumerate(zip(items, heads)):
        if item.src is None or item.dst is None:
            flags[index] |= ADDR_INFERRED
        via = _top_via(head)
        if item.sent is True:
            item.src = item.src or self_name
        elif item.sent is False:
            item.dst = item.dst or self_name
        if head.is_request:
            item.src = item.src or _via_source(via, nat)
            item.dst = item.dst or _next_hop(head)
            if via and item.dst:
                request_dst.setdefault((via.params.get("branch", ""), head.method), item.dst)
        else:
            item.dst = item.dst or (via.reply_to() if via else None)
            matched = request_dst.get((via.params.get("branch", ""), head.method)) if via else None
            item.src = item.src or matched or _uri_addr(head.get("contact"))
        for addr in (item.src, item.dst):
            if addr and addr != self_name:
                remotes[addr] += 1
    fallback = remotes.most_common(1)[0][0] if remotes else "unknown:5060"
    for item in items:
        item.src = item.src or fallback
        item.dst = item.dst or fallback
    inferred = sum(1 for flag in flags if flag & ADDR_INFERRED)
    if inferred:
        report.warn(f"{plural(inferred, 'message')} {verb(inferred, 'has', 'have')} no address "
                    "(or only one) in the text: "
                    "endpoints were named from Via/Contact headers (ADDR_INFERRED)")
    return flags


def _masked(addr: str) -> bool:
    host = host_of(addr)
    return not is_ip_literal(host)


# --- times -------------------------------------------------------------------------------------

def epoch(year: int, month: int, day: int, hour: int, minute: int, second: float) -> float | None:
    """Seconds since 1970 for a date and time read as UTC, or None for an impossible date."""
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    try:
        return calendar.timegm((year, month, day, hour, minute, 0, 0, 0, 0)) + second
    except (ValueError, OverflowError):
        return None


def time_of_day(hour: int, minute: int, second: float) -> float | None:
    if hour >= 24 or minute >= 60 or second >= 61:
        return None
    return hour * 3600 + minute * 60 + second


def month_number(name: str) -> int | None:
    return _MONTHS.get(name[:3].title())


def _assign_times(items: list[Found], flags: list[int], report: InputReport) -> list[float]:
    if all(item.time is None for item in items):
        for index in range(len(items)):
            flags[index] |= TIME_UNKNOWN
        report.warn("the text gives no times: message times are ordering numbers 0, 1, 2... "
                    "(TIME_UNKNOWN)")
        return [float(index) for index in range(len(items))]
    times: list[float | None] = []
    offset = 0.0
    last_tod: float | None = None
    no_date = unknown = False
    for index, item in enumerate(items):
        if item.time is None:
            flags[index] |= TIME_UNKNOWN
            unknown = True
            times.append(times[-1] if times else None)
            continue
        value = item.time
        if not item.dated:
            flags[index] |= TIME_NO_DATE
            no_date = True
            if last_tod is not None and value + offset < last_tod - _DAY / 2:
                offset += _DAY                  # the clock passed midnight
            value += offset
            last_tod = value
        times.append(value)
    if no_date:
        report.warn("the text gives times of day but no date: times count seconds from midnight, "
                    "no date was invented (TIME_NO_DATE)")
    if unknown:
        first_known = next(t for t in times if t is not None)
        times = [first_known if t is None else t for t in times]
        report.warn("some messages carry no time in the text; they keep the time of the message "
                    "before them (TIME_UNKNOWN)")
    return [float(t) for t in times if t is not None]


# --- all together ------------------------------------------------------------------------------

def finish(items: list[Found], report: InputReport, *, fmt: str, placeholder: str = "unknown",
           input_index: int = 0, excerpt: bool = False) -> list[Datagram]:
    """Datagrams for the messages of one text, with flags, and the report's warnings and counts."""
    if report.format == "unknown":
        report.format = fmt
    if not items:
        report.warn(f"no SIP message found in this text (tried format {fmt})")
        return []
    heads = [_parse_head(item.payload) for item in items]
    given = [(item.src, item.dst) for item in items]
    flags = _resolve_addresses(items, heads, placeholder, report)
    times = _assign_times(items, flags, report)
    masked = [any(addr is not None and _masked(addr) for addr in pair) for pair in given]
    if any(masked):
        example = next(addr for pair in given for addr in pair if addr is not None and _masked(addr))
        report.warn(f"addresses in this text were masked by hand (e.g. {example}); they are kept as "
                    "opaque host names (MASKED_ADDR)")
    redacted = any(head_is_redacted([head.first] + [f"{k}: {v}" for k, v in head.headers])
                   for head in heads)
    if redacted:
        report.warn("values inside <...> were stripped from this text (e.g. 'To: .'): those header "
                    "values are redacted, not missing, and Content-Length no longer matches (REDACTED)")
    if excerpt:
        report.excerpt = True
        report.warn("this text is a curated excerpt with prose between the messages: rules that "
                    "depend on a message being absent are inconclusive (EXCERPT)")
    datagrams = []
    for index, item in enumerate(items):
        flag = flags[index] | (MASKED_ADDR if masked[index] else 0)
        flag |= (REDACTED if redacted else 0) | (EXCERPT if excerpt else 0)
        via = _top_via(heads[index])
        transport = item.transport or (via.transport if via else "UDP")
        datagrams.append(Datagram(ts=times[index], src=item.src or "", dst=item.dst or "",
                                  transport=transport.upper(), payload=item.payload, frame=item.line,
                                  input_index=input_index, flags=flag, note=item.note))
    report.packets += len(datagrams)
    return datagrams
