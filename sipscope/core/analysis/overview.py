"""The faults of a whole session at a glance: one row per fault id, worst and most frequent first
(the CLI summary's table, the fault panel's overview), and which calls each fault touches (the
call list's `fault:` filter).  On a capture of a whole afternoon the findings run to thousands;
this is what a tech reads first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sipscope.core.analysis.catalog import CATALOG
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.text import plural

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(slots=True)
class FaultCount:
    """How often one fault id was found."""

    id: str
    severity: str                 # the worst of its findings (an inconclusive one counts as info)
    findings: int = 0
    calls: set = field(default_factory=set)       # Call-IDs of its call-scope findings
    sources: set = field(default_factory=set)     # sources of its capture-scope findings
    inconclusive: int = 0

    @property
    def title(self) -> str:
        return CATALOG.get(self.id, ("", "", self.id))[2]

    def where(self, total_calls: int) -> str:
        """`1,884 of 11,021 calls (17.1 %)`, `11 sources` or `-`."""
        if self.calls:
            return share_of_calls(len(self.calls), total_calls)
        return plural(len(self.sources), "source") if self.sources else "-"


def share_of_calls(count: int, total_calls: int) -> str:
    """`1,884 of 11,021 calls (17.1 %)`; `2 of 11,021 calls (< 0.1 %)`: every share has its
    percentage, in the By-fault table, the finding cards and the CLI summary alike."""
    share = 100 * count / max(total_calls, 1)
    percent = f"{share:.1f} %" if share >= 0.1 or count == 0 else "< 0.1 %"
    return f"{count:,} of {plural(total_calls, 'call')} ({percent})"


def effective_severity(finding: Finding) -> str:
    """What a finding weighs in an overview: an undecided one (catalog §0) counts as info."""
    return "info" if finding.inconclusive else finding.severity


def fault_overview(findings: Iterable[Finding]) -> list[FaultCount]:
    """One FaultCount per fault id: errors first, then warnings, then info; within each the
    fault found most often first, then by id."""
    counts: dict[str, FaultCount] = {}
    for finding in findings:
        severity = effective_severity(finding)
        count = counts.get(finding.id)
        if count is None:
            count = counts[finding.id] = FaultCount(finding.id, severity)
        elif SEVERITY_ORDER.get(severity, 9) < SEVERITY_ORDER.get(count.severity, 9):
            count.severity = severity
        count.findings += 1
        count.inconclusive += bool(finding.inconclusive)
        if finding.call_id is not None:
            count.calls.add(finding.call_id)
        elif finding.source:
            count.sources.add(finding.source)
    return sorted(counts.values(),
                  key=lambda c: (SEVERITY_ORDER.get(c.severity, 9), -c.findings, c.id))


def calls_touched(finding: Finding, messages) -> Iterable[str]:
    """The Call-IDs a finding counts on: its own call, or for a capture-scope finding (a
    scanner, a brute-force source) every call its messages belong to."""
    if finding.call_id is not None:
        return (finding.call_id,)
    return {messages[index].call_id for index in finding.messages
            if 0 <= index < len(messages)}


def faults_by_call(session, findings=None) -> dict[str, set[str]]:
    """Call-ID -> the fault ids found on it (of `findings`, by default the session's)."""
    by_call: dict[str, set[str]] = {}
    for finding in session.findings if findings is None else findings:
        for call_id in calls_touched(finding, session.messages):
            by_call.setdefault(call_id, set()).add(finding.id)
    return by_call
