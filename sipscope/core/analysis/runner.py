"""Run every registered rule; one failing rule never stops the others (its failure is recorded).

Then order the findings and link causes to consequences (catalog §13).
"""

from __future__ import annotations

from sipscope.core.analysis.catalog import CHAINS
from sipscope.core.analysis.context import Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.isolation import run_without_failing_calls
from sipscope.core.analysis.options import AnalysisOptions
from sipscope.core.analysis.registry import load_rules
from sipscope.core.media.calls import release_media_index
from sipscope.core.model.gcpause import gc_paused
from sipscope.core.model.message import host_of
from sipscope.core.model.session import Session

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


class AnalysisCancelled(Exception):
    """The user cancelled the analysis (checked between rules)."""


def run_rules(session: Session, options: AnalysisOptions | None = None,
              only: set[str] | None = None, cancelled=None) -> list[Finding]:
    with gc_paused():
        return _run(session, options, only, cancelled)


def _run(session: Session, options: AnalysisOptions | None, only: set[str] | None,
         cancelled) -> list[Finding]:
    context = Context(session, options)
    findings: list[Finding] = []
    rules = [rule for rule in load_rules().values() if only is None or rule.id in only]
    # The two big shared indexes are never alive together (issue: big captures): the rules of
    # the media index run, the index goes, then those of the security index.  Findings are
    # sorted below, so the order rules run in does not change the result.
    for group in (None, "media", "security"):
        for rule in rules:
            if rule.index != group:
                continue
            if cancelled is not None and cancelled():
                raise AnalysisCancelled()
            _run_one(session, context, rule, findings)
        if group == "media" and not getattr(session.media, "streams", None):
            release_media_index(session)    # nothing reads it later when there is no RTP
    vars(context).pop("_security_cache", None)
    order(session, findings)
    link_consequences(findings, session)
    return findings


def _run_one(session: Session, context: Context, rule, findings: list[Finding]) -> None:
    """One rule over the whole session; when it raises, it runs again without the calls it
    fails on (isolation.py), so a hostile message only costs the findings of its own call."""
    try:
        found = list(rule.func(context) or ())
    except Exception as exc:  # noqa: BLE001 - a broken rule must not break the report
        found, warnings = run_without_failing_calls(
            session, lambda view: list(rule.func(Context(view, context.options)) or ()), exc)
        session.analysis_warnings.extend(f"internal: rule {rule.id} {text}" for text in warnings)
    findings.extend(found)


def order(session: Session, findings: list[Finding]) -> None:
    """§13.1: by time of the first offending message (then severity); keys follow that order.
    A rule may set `time` itself when the offending message is not the first one it highlights
    (for example a 200 OK after the INVITEs it shows for context)."""
    for finding in findings:
        if finding.time is None and finding.messages:
            finding.time = session.messages[finding.messages[0]].ts
    findings.sort(key=lambda f: (f.time if f.time is not None else float("inf"),
                                 SEVERITY_RANK.get(f.severity, 9), f.id))
    for number, finding in enumerate(findings, start=1):
        finding.key = f"F{number}"


def is_security(finding: Finding) -> bool:
    """Catalog §11: security findings live in their own section, never in a call's story."""
    return finding.id.startswith("sec-")


def can_explain(cause: Finding, effect: Finding) -> bool:
    """Whether `cause` may be linked as the cause of `effect` (§13.2), beyond the known chain.

    An undecided finding explains nothing (catalog §0, D7), nor one whose rule says the capture
    shows no effect of it (evidence "explains": False).  A cause may be at most one severity
    step below its effect: a warning can trigger an error (fork-same-device behind
    fork-identical-to-tag, §14.1), but an info finding -- context, "handled correctly", normal
    behaviour -- never explains an error; such a link is dropped, so the error stays a headline
    candidate instead of hiding behind something the report itself calls harmless."""
    if cause.inconclusive or cause.evidence.get("explains") is False:
        return False        # (a rule says when what it found is shown to cause nothing here)
    gap = SEVERITY_RANK.get(cause.severity, 9) - SEVERITY_RANK.get(effect.severity, 9)
    return gap <= 1


def link_consequences(findings: list[Finding], session: Session | None = None) -> None:
    """§13.2-3: link later findings of a known chain to earlier causes on the same call, then
    name the headline (earliest error that is no consequence), contributing causes and what the
    customer saw.  Security findings (§11) are linked among themselves per source and are never
    a headline: a scan or a cracked password is reported in its own section, not as the reason a
    call failed.  Nor has a call that an attacking source started a headline (with `session`):
    what went wrong with attack traffic is no fault of the service; the attack is the story, and
    the security section tells it."""
    by_call: dict[str | None, list[Finding]] = {}
    for finding in findings:
        key = None if is_security(finding) else finding.call_id
        by_call.setdefault(key, []).append(finding)
    # a source is an attacker when a security finding about it is a warning or an error (an
    # info one is a test tool on loopback, §11.1)
    attackers = {f.source for f in findings if is_security(f) and f.source
                 and f.severity != "info" and not f.inconclusive}
    for call_id, group in by_call.items():
        if call_id is None:
            _link_sources(group)
            continue
        for later in group:
            for earlier in group:
                if earlier is later or later.id not in CHAINS.get(earlier.id, ()):
                    continue
                if not can_explain(earlier, later):
                    continue
                if _before(earlier, later) and earlier.key not in later.consequence_of:
                    later.consequence_of.append(earlier.key)
        if _started_by(session, call_id, attackers):
            for finding in group:
                finding.role = "consequence" if finding.consequence_of else "separate"
            continue
        _assign_roles(group)


def _started_by(session: Session | None, call_id: str, hosts: set[str]) -> bool:
    """The call's first message came from one of these hosts (a source security findings name)."""
    if session is None or not hosts:
        return False
    call = session.call(call_id)
    return bool(call is not None and call.messages and host_of(call.messages[0].src) in hosts)


def _before(a: Finding, b: Finding) -> bool:
    if a.time is None or b.time is None:
        return True
    return a.time <= b.time


def _assign_roles(group: list[Finding]) -> None:
    """§13.3.  Candidates for the headline are conclusive errors that no other conclusive error
    causes (a warning such as fork-same-device may cause them: it is then "contributing").  Among
    them the earliest one that explains something later (has consequences) wins, else the earliest.
    Causes of the headline, and other effects of those causes, contribute; effects of the headline
    are what the customer saw."""
    by_key = {f.key: f for f in group}
    for finding in group:
        finding.role = "separate"
    effects = {f.key: [] for f in group}
    for finding in group:
        for cause in finding.consequence_of:
            if cause in effects:
                effects[cause].append(finding.key)

    def conclusive_error(key: str) -> bool:
        found = by_key.get(key)
        return found is not None and found.severity == "error" and not found.inconclusive

    candidates = [f for f in group if conclusive_error(f.key)
                  and not any(conclusive_error(k) for k in f.consequence_of)]
    if not candidates:
        for finding in group:
            if finding.consequence_of:
                finding.role = "consequence"
        return
    headline = next((f for f in candidates if effects[f.key]), candidates[0])
    headline.role = "headline"
    downstream = _closure(headline.key, effects)
    upstream = _closure(headline.key, {f.key: list(f.consequence_of) for f in group})
    siblings = set()
    for cause in upstream:
        siblings |= _closure(cause, effects)
    # §13.3: findings that cause any of the headline's consequences contribute too
    for key in downstream:
        upstream |= {k for k in by_key[key].consequence_of if k in by_key} if key in by_key else set()
    for finding in group:
        if finding is headline:
            continue
        if finding.key in downstream:
            finding.role = "consequence"
        elif finding.key in upstream or finding.key in siblings:
            finding.role = "contributing"
        elif finding.consequence_of:
            finding.role = "consequence"


def _closure(start: str, edges: dict[str, list[str]]) -> set[str]:
    """Every key reachable from `start` (not including it) along `edges`."""
    seen: set[str] = set()
    todo = list(edges.get(start, []))
    while todo:
        key = todo.pop()
        if key in seen or key == start:
            continue
        seen.add(key)
        todo.extend(edges.get(key, []))
    return seen


def _link_sources(group: list[Finding]) -> None:
    """Security chains are per source address, not per call.  Findings without a call (security
    ones above all) are never a headline: a headline names what broke a call (§13.3), and
    security findings have their own section (§11)."""
    by_source: dict[str | None, list[Finding]] = {}
    for finding in group:
        by_source.setdefault(finding.source, []).append(finding)
    for members in by_source.values():
        for later in members:
            for earlier in members:
                if earlier is not later and later.id in CHAINS.get(earlier.id, ()) \
                        and can_explain(earlier, later) and earlier.key not in later.consequence_of:
                    later.consequence_of.append(earlier.key)
        for finding in members:
            if finding.consequence_of:
                finding.role = "consequence"
            elif finding.severity == "error" and not is_security(finding):
                finding.role = "headline"
            else:
                finding.role = "separate"
