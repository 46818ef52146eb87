"""Run every registered rule; one failing rule never stops the others (its failure is recorded).

Then order the findings and link causes to consequences (catalog §13).
"""

from __future__ import annotations

import traceback

from sipscope.core.analysis.catalog import CHAINS
from sipscope.core.analysis.context import Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.options import AnalysisOptions
from sipscope.core.analysis.registry import load_rules
from sipscope.core.model.session import Session

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def run_rules(session: Session, options: AnalysisOptions | None = None,
              only: set[str] | None = None) -> list[Finding]:
    context = Context(session, options)
    findings: list[Finding] = []
    for rule in load_rules().values():
        if only is not None and rule.id not in only:
            continue
        try:
            findings.extend(rule.func(context) or ())
        except Exception as exc:  # noqa: BLE001 - a broken rule must not break the report
            where = traceback.extract_tb(exc.__traceback__)[-1]
            session.analysis_warnings.append(
                f"internal: rule {rule.id} failed ({type(exc).__name__}: {exc} at "
                f"{where.filename.rpartition('/')[2]}:{where.lineno}); its findings are missing")
    order(session, findings)
    link_consequences(findings)
    return findings


def order(session: Session, findings: list[Finding]) -> None:
    """§13.1: by time of the first offending message (then severity); keys follow that order."""
    for finding in findings:
        if finding.messages:
            finding.time = session.messages[finding.messages[0]].ts
    findings.sort(key=lambda f: (f.time if f.time is not None else float("inf"),
                                 SEVERITY_RANK.get(f.severity, 9), f.id))
    for number, finding in enumerate(findings, start=1):
        finding.key = f"F{number}"


def link_consequences(findings: list[Finding]) -> None:
    """§13.2-3: link later findings of a known chain to earlier causes on the same call, then
    name the headline (earliest error that is no consequence), contributing causes and what the
    customer saw."""
    by_call: dict[str | None, list[Finding]] = {}
    for finding in findings:
        by_call.setdefault(finding.call_id, []).append(finding)
    for call_id, group in by_call.items():
        if call_id is None:
            _link_sources(group)
            continue
        for later in group:
            for earlier in group:
                if earlier is later or later.id not in CHAINS.get(earlier.id, ()):
                    continue
                if _before(earlier, later) and earlier.key not in later.consequence_of:
                    later.consequence_of.append(earlier.key)
        _assign_roles(group)


def _before(a: Finding, b: Finding) -> bool:
    if a.time is None or b.time is None:
        return True
    return a.time <= b.time


def _assign_roles(group: list[Finding]) -> None:
    by_key = {f.key: f for f in group}
    headline = next((f for f in group if f.severity == "error" and not f.inconclusive
                     and not f.consequence_of), None)
    for finding in group:
        finding.role = "separate"
    if headline is None:
        for finding in group:
            if finding.consequence_of:
                finding.role = "consequence"
        return
    headline.role = "headline"
    causes = _ancestors_of_chain(group, headline)
    for finding in group:
        if finding is headline:
            continue
        if finding.consequence_of:
            finding.role = "consequence"
            # a cause of the headline that is itself a consequence of an earlier cause
            if finding.key in causes:
                finding.role = "contributing"
        elif finding.key in causes:
            finding.role = "contributing"
    # §13.3: warnings that are causes of the headline's consequences contribute too
    for finding in group:
        if finding.role == "separate" and any(
                finding.key in other.consequence_of for other in group if other is not finding
                and by_key.get(other.key) and other.role in ("consequence", "headline")):
            finding.role = "contributing"


def _ancestors_of_chain(group: list[Finding], headline: Finding) -> set[str]:
    """Keys of findings that the headline or its consequences name as causes."""
    causes = set(headline.consequence_of)
    for finding in group:
        if headline.key in finding.consequence_of:
            causes.update(k for k in finding.consequence_of if k != headline.key)
    return causes


def _link_sources(group: list[Finding]) -> None:
    """Security chains are per source address, not per call."""
    by_source: dict[str | None, list[Finding]] = {}
    for finding in group:
        by_source.setdefault(finding.source, []).append(finding)
    for members in by_source.values():
        for later in members:
            for earlier in members:
                if earlier is not later and later.id in CHAINS.get(earlier.id, ()) \
                        and earlier.key not in later.consequence_of:
                    later.consequence_of.append(earlier.key)
        for finding in members:
            finding.role = "consequence" if finding.consequence_of else "headline" \
                if finding.severity == "error" else "separate"
