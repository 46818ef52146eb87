"""Per-call display strings, sort keys and filter text for the call list, computed once per row.

Qt-free on purpose: the load worker fills the cache off the GUI thread (`prepare()`), and the call
list model reads it.  Rows are filled lazily when nobody prepared them.  Only derived strings are
kept; the Call objects stay in the Session.  From/To come from one regex over the first request's
header block (a full parse of 100k messages would take seconds).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sipscope.core.analysis.overview import calls_touched, faults_by_call
from sipscope.core import timefmt

NOISE_METHODS = frozenset({"OPTIONS", "REGISTER"})
FAULT_PREFIX = "fault:"        # a filter word that selects calls by the fault ids found on them
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
RANK_SEVERITY = {rank: name for name, rank in SEVERITY_RANK.items()}

_FROM = re.compile(rb"^(?:from|f)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_TO = re.compile(rb"^(?:to|t)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_URI = re.compile(r"(?:sips?|tel):([^;>\s,?]+)", re.I)


def address_of(value: bytes | None) -> str:
    """`"Bob" <sip:+1202555@example.com>;tag=x` -> `+1202555@example.com` (display text)."""
    if not value:
        return ""
    text = value.decode("utf-8", "replace")
    match = _URI.search(text)
    found = (match.group(1) if match else text.split(";", 1)[0].strip(" <>\""))[:120]
    return found if found.isprintable() else "".join(c if c.isprintable() else " " for c in found)


def user_of(address: str) -> str:
    """The user part of `user@host` (the number a tech looks for), else the host."""
    user, at, host = address.partition("@")
    return user if at and user else address


def header_value(raw: bytes, pattern: re.Pattern) -> bytes | None:
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        head_end = raw.find(b"\n\n")
    match = pattern.search(raw, 0, head_end if head_end >= 0 else len(raw))
    return match.group(1) if match else None


def format_duration(seconds: float, flags: int = 0) -> str:
    return timefmt.duration(seconds, flags)


def format_clock(ts: float, flags: int = 0, digits: int = 3) -> str:
    """HH:MM:SS.mmm in UTC, cut as `sipscope report` writes it (core/timefmt.py)."""
    return timefmt.clock(ts, flags, digits)


@dataclass(slots=True)
class CallRow:
    """Everything the call list shows or sorts by for one call (strings already formatted)."""

    number: int
    time: str
    from_: str
    to: str
    method: str
    status: int
    status_text: str
    duration: float
    duration_text: str
    messages: int
    severity: int            # 0 none, 1 info, 2 warning, 3 error
    findings: int
    start: float
    noise: bool
    haystack: str            # lower-case text the filter box searches


def worst_by_call(findings) -> tuple[dict[str, int], dict[str, int]]:
    """Call-ID -> worst severity rank, and -> number of findings (inconclusive counts as info)."""
    worst: dict[str, int] = {}
    count: dict[str, int] = {}
    for finding in findings or ():
        if finding.call_id is None:
            continue
        rank = 1 if finding.inconclusive else SEVERITY_RANK.get(finding.severity, 1)
        if rank > worst.get(finding.call_id, 0):
            worst[finding.call_id] = rank
        count[finding.call_id] = count.get(finding.call_id, 0) + 1
    # capture-scope findings (e.g. a scanner) name their messages: credit the calls they touch
    return worst, count


class CallRows:
    """Lazily filled CallRow per call of a session, plus the bulk sort/filter the proxy uses."""

    def __init__(self, session) -> None:
        self.session = session
        self.calls = session.calls if session is not None else []
        self._rows: list[CallRow | None] = [None] * len(self.calls)
        self._worst, self._count = worst_by_call(session.findings if session is not None else ())
        self._extra_worst = self._capture_scope_worst(session)
        self._faults: dict[str, set[int]] | None = None     # fault id -> call indices, when asked
        self._prepared: tuple | None = None     # (findings, worst, count, extra, faults): worker
        self._complete = False
        self.filling = False        # the load worker is filling the rows (prepare) right now
        self.stream_table = None    # the load worker's StreamTable of this session (media/table)
        self._haystacks: list[str] = []
        self._noise: list[int] = []
        self._orders: dict[tuple[int, bool], list[int]] = {}

    @staticmethod
    def _capture_scope_worst(session, findings=None) -> dict[str, int]:
        worst: dict[str, int] = {}
        if session is None:
            return worst
        for finding in session.findings if findings is None else findings:
            if finding.call_id is not None:
                continue
            rank = 1 if finding.inconclusive else SEVERITY_RANK.get(finding.severity, 1)
            for call_id in calls_touched(finding, session.messages):
                if rank > worst.get(call_id, 0):
                    worst[call_id] = rank
        return worst

    def __len__(self) -> int:
        return len(self.calls)

    @property
    def complete(self) -> bool:
        """Every row is filled (the load worker's prepare() ran to its end)."""
        return self._complete

    @property
    def being_filled(self) -> bool:
        """The load worker is still filling the rows: a bulk filter or sort should wait."""
        return self.filling and not self._complete

    @staticmethod
    def needs_rows(text: str, hide_noise: bool, column: int) -> bool:
        """Whether showing the list this way needs every row filled (a filter, the noise
        toggle, or a sort by anything but the call number)."""
        attribute = SORT_ATTRIBUTES[column] if 0 <= column < len(SORT_ATTRIBUTES) else "number"
        return bool(text.split()) or hide_noise or attribute != "number"

    def set_findings(self) -> None:
        """Take the session's findings (they arrive after the rows when the rules run once the
        call list is shown): refresh the severity and finding count of the filled rows."""
        session = self.session
        prepared, self._prepared = self._prepared, None
        if prepared is not None and session is not None and prepared[0] is session.findings:
            _, self._worst, self._count, self._extra_worst, self._faults = prepared
        else:
            self._worst, self._count = worst_by_call(session.findings if session is not None
                                                     else ())
            self._extra_worst = self._capture_scope_worst(session)
            self._faults = None
        worst, extra, count = self._worst, self._extra_worst, self._count
        for index, row in enumerate(self._rows):
            if row is not None:
                call_id = self.calls[index].call_id
                row.severity = max(worst.get(call_id, 0), extra.get(call_id, 0))
                row.findings = count.get(call_id, 0)
        column = SORT_ATTRIBUTES.index("severity")
        self._orders.pop((column, False), None)
        self._orders.pop((column, True), None)

    def row(self, index: int) -> CallRow:
        row = self._rows[index]
        if row is None:
            row = self._rows[index] = self._build(index)
        return row

    def prepare(self, cancelled: Callable[[], bool] | None = None) -> None:
        """Fill every row and the ascending order of every column now (the load worker calls
        this off the GUI thread, so the first sort or filter in the window is instant)."""
        if self._complete:
            return
        rows, build = self._rows, self._build
        for index in range(len(rows)):
            if rows[index] is None:
                rows[index] = build(index)
            if cancelled is not None and not index & 8191 and cancelled():
                return
        self._haystacks = [row.haystack for row in rows]
        self._noise = [index for index, row in enumerate(rows) if row.noise]
        self._complete = True
        if cancelled is not None:            # only worth it off the GUI thread
            for column in range(len(SORT_ATTRIBUTES)):
                for descending in (False, True):
                    if cancelled():
                        return
                    self.order(column, descending)

    def _build(self, index: int) -> CallRow:
        call = self.calls[index]
        messages = call.messages
        first = call.first_request
        if first is not None:
            method = first.method or ""
        else:
            first = messages[0] if messages else None
            method = first.cseq_method if first is not None else ""
        raw = first.raw if first is not None else b""
        from_address = address_of(header_value(raw, _FROM))
        to_address = address_of(header_value(raw, _TO))
        status = call.final_status
        if messages:
            start, duration, flags = messages[0].ts, messages[-1].ts - messages[0].ts, \
                messages[0].flags
        else:
            start, duration, flags = 0.0, 0.0, 0
        severity = max(self._worst.get(call.call_id, 0), self._extra_worst.get(call.call_id, 0))
        shown = messages[:400]               # a REGISTER flood on one Call-ID stays cheap
        words = {m.short_label for m in shown}
        words.update(m.src for m in shown)
        words.update(m.dst for m in shown)
        haystack = " ".join([str(index + 1), call.call_id, from_address, to_address, method,
                             *words]).lower()
        return CallRow(
            number=index + 1, time=format_clock(start, flags), from_=user_of(from_address),
            to=user_of(to_address), method=method, status=status,
            status_text=str(status) if status else "—", duration=duration,
            duration_text=format_duration(duration, flags), messages=len(messages), severity=severity,
            findings=self._count.get(call.call_id, 0), start=start,
            noise=method in NOISE_METHODS, haystack=haystack)

    # -- bulk operations (the proxy calls these; no per-row Qt callbacks) ----------------------
    def matching(self, text: str, hide_noise: bool) -> bytearray | None:
        """A mask over call indices: 1 where the filter text holds every whitespace-separated
        word of `text` (and the call is no OPTIONS/REGISTER noise when hidden); None = all.
        A word `fault:ID` keeps the calls with a finding whose fault id starts with ID
        (`fault:tmr` for every timer fault, `fault:` for any finding)."""
        words = text.lower().split()
        if not words and not hide_noise:
            return None                      # everything shows: no row needed
        self.prepare()
        count = len(self._rows)
        if words:
            hay = self._haystacks
            candidates = range(count)
            for word in words:
                if word.startswith(FAULT_PREFIX):
                    calls = self._calls_with_fault(word[len(FAULT_PREFIX):])
                    candidates = sorted(calls) if candidates == range(count) else \
                        [i for i in candidates if i in calls]
                else:
                    candidates = [i for i in candidates if word in hay[i]]
            mask = bytearray(count)
            for index in candidates:
                mask[index] = 1
        else:
            mask = bytearray(b"\x01") * count
        if hide_noise:
            for index in self._noise:
                mask[index] = 0
        return mask

    def prepare_findings(self, findings: list) -> None:
        """Work out what `findings` mean for the calls before they are shown: worst severity and
        count per call, and the fault index of the `fault:` filter.  The load worker calls this
        after the rules, off the GUI thread (~0.3 s for 38k findings on 153k calls);
        set_findings() takes the result when the session gets exactly these findings."""
        worst, count = worst_by_call(findings)
        self._prepared = (findings, worst, count, self._capture_scope_worst(self.session, findings),
                          self._fault_index(findings))

    def _fault_index(self, findings: list | None = None) -> dict[str, set[int]]:
        """Fault id -> indices of the calls it was found on."""
        session = self.session
        index: dict[str, set[int]] = {}
        if session is None:
            return index
        for call_id, faults in faults_by_call(session, findings).items():
            call = session.call(call_id)
            if call is None:
                continue
            for fault in faults:
                index.setdefault(fault, set()).add(call.index)
        return index

    def _calls_with_fault(self, prefix: str) -> set[int]:
        """Indices of the calls with a finding whose id starts with prefix."""
        if self._faults is None:          # once per set of findings, unless prepared
            self._faults = self._fault_index()
        return set().union(*(calls for fault, calls in self._faults.items()
                             if fault.startswith(prefix)))

    def order(self, column: int, descending: bool) -> list[int]:
        """Every call index sorted by one column (stable: ties keep call order), cached."""
        key = (column, descending)
        cached = self._orders.get(key)
        if cached is not None:
            return cached
        attribute = SORT_ATTRIBUTES[column] if 0 <= column < len(SORT_ATTRIBUTES) else "number"
        if attribute == "number":            # call order: no row needed
            ascending = list(range(len(self._rows)))
            self._orders[key] = ascending[::-1] if descending else ascending
            return self._orders[key]
        self.prepare()
        values = [getattr(row, attribute) for row in self._rows]
        if attribute in ("from_", "to", "method"):
            values = [value.lower() for value in values]
        ascending = self._orders.get((column, False)) or sorted(range(len(values)),
                                                                key=values.__getitem__)
        self._orders[(column, False)] = ascending
        if descending:
            self._orders[key] = _reverse_stable(ascending, values)
        return self._orders[key]

    def visible_order(self, text: str, hide_noise: bool, column: int,
                      descending: bool) -> list[int]:
        """The call indices the list shows, in display order."""
        mask = self.matching(text, hide_noise)
        order = self.order(column, descending)
        if mask is None:
            return list(order)
        return [index for index in order if mask[index]]


def _reverse_stable(ascending: list[int], values: list) -> list[int]:
    """Descending order where equal keys keep their ascending (call number) order."""
    result: list[int] = []
    end = len(ascending)
    while end > 0:
        start = end - 1
        value = values[ascending[start]]
        while start > 0 and values[ascending[start - 1]] == value:
            start -= 1
        result.extend(ascending[start:end])
        end = start
    return result


# column order of the call list (models/call_list.COLUMNS) -> CallRow attribute to sort by
SORT_ATTRIBUTES = ("number", "start", "from_", "to", "method", "status", "duration", "messages",
                   "severity")
