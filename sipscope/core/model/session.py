"""The Session: everything read from the inputs, filed into calls, and the findings about it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sipscope.core.model.call import Call
from sipscope.core.model.dialog import Dialog
from sipscope.core.model.message import Message
from sipscope.core.model.transaction import Transaction
from sipscope.core.sources.datagram import InputReport


@dataclass(slots=True, eq=False)
class Session:
    """One loaded capture (or several merged in time order).  Views and rules only read it."""

    inputs: list[InputReport] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    dialogs: list[Dialog] = field(default_factory=list)
    media: Any = None                       # sipscope.core.media.streams.MediaCollector, when read
    findings: list[Any] = field(default_factory=list)   # sipscope.core.analysis.finding.Finding
    analysis_warnings: list[str] = field(default_factory=list)  # rules that failed, etc.
    non_sip_payloads: int = 0               # payloads that were neither SIP nor media
    # analysis.digest.DigestPrecompute: weak-password searches done while the file loaded
    digest_ahead: Any = None
    _calls_by_id: dict[str, Call] = field(default_factory=dict)
    _end: float | None = None
    _from_findings: tuple | None = None     # (findings list, its length, {name: value})

    @property
    def excerpt(self) -> bool:
        """The input is a curated excerpt: absence rules can only be inconclusive (catalog D7)."""
        return any(report.excerpt for report in self.inputs)

    @property
    def start(self) -> float:
        return self.messages[0].ts if self.messages else 0.0

    @property
    def end(self) -> float:
        """When the capture ends: the last packet of any kind, for horizon checks (D7)."""
        if self._end is None:
            last = self.messages[-1].ts if self.messages else 0.0
            media_end = getattr(self.media, "last_ts", None) if self.media is not None else None
            self._end = max(last, media_end or last)
        return self._end

    def call(self, call_id: str) -> Call | None:
        return self._calls_by_id.get(call_id)

    def call_of(self, message: Message) -> Call | None:
        return self._calls_by_id.get(message.call_id)

    def find_call(self, ref: str | int | None) -> Call | None:
        """A call by 1-based number or by Call-ID (the CLI's --call)."""
        if ref is None:
            return None
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            number = int(ref)
            if 1 <= number <= len(self.calls):
                return self.calls[number - 1]
        return self._calls_by_id.get(str(ref))

    def from_findings(self, name: str, compute: Callable[[list[Any]], Any]) -> Any:
        """compute(findings), kept under `name` until the findings list is replaced or grows:
        indexes over tens of thousands of findings that a report or a view asks for once per
        call (the GUI sets the findings after the model, so nothing is kept across that)."""
        cached = self._from_findings
        if cached is None or cached[0] is not self.findings or cached[1] != len(self.findings):
            cached = self._from_findings = (self.findings, len(self.findings), {})
        values = cached[2]
        if name not in values:
            values[name] = compute(self.findings)
        return values[name]

    def findings_for(self, call: Call) -> list[Any]:
        """The findings of one call (a report over 100k calls must not scan every finding once
        per call)."""
        return list(self.from_findings("by call", _by_call_id).get(call.call_id, ()))


def _by_call_id(findings: list[Any]) -> dict[str | None, list[Any]]:
    index: dict[str | None, list[Any]] = {}
    for finding in findings:
        index.setdefault(finding.call_id, []).append(finding)
    return index
