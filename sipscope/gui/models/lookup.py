"""Reverse lookups the views share: findings per message, fork branch per message (Qt-free)."""

from __future__ import annotations

from sipscope.gui.models.call_rows import SEVERITY_RANK
from sipscope.core.analysis.runner import is_security

ROLE_ORDER = {"headline": 0, "contributing": 1, "consequence": 2, "separate": 3, "security": 4}


def finding_level(finding) -> str:
    """error | warning | info | inconclusive: what a severity mark shows for a finding."""
    return "inconclusive" if finding.inconclusive else finding.severity


class SessionLookup:
    """Built once per session; per-call parts are filled when a call is first shown."""

    def __init__(self, session) -> None:
        self.session = session
        self.by_message: dict[int, list] = {}
        for finding in (session.findings if session is not None else ()):
            for index in finding.messages:
                self.by_message.setdefault(index, []).append(finding)
        self._branch_of: dict[int, object] = {}
        self._calls_done: set[int] = set()

    def findings_of(self, message_index: int) -> list:
        return self.by_message.get(message_index, [])

    def worst(self, message_index: int) -> str | None:
        best, level = 0, None
        for finding in self.by_message.get(message_index, ()):
            name = "info" if finding.inconclusive else finding.severity
            rank = SEVERITY_RANK.get(name, 1)
            if rank > best:
                best, level = rank, name
        return level

    def branch_of(self, message):
        """The fork Branch a message belongs to (catalog D4), or None."""
        call = self.session.call_of(message) if self.session is not None else None
        if call is None:
            return None
        if call.index not in self._calls_done:
            self._calls_done.add(call.index)
            for fork in call.forks:
                for branch in fork.branches:
                    for member in branch.messages:
                        self._branch_of.setdefault(member.index, branch)
        return self._branch_of.get(message.index)

    def branches(self, calls) -> list:
        return [branch for call in calls for fork in call.forks for branch in fork.branches]


def finding_group(finding) -> str:
    """The panel's group: its role in the call's story (catalog §13), or "security": security
    findings are about a source address and have their own section (catalog §11)."""
    return "security" if is_security(finding) else finding.role


def ordered_findings(findings) -> list:
    """Cause first (catalog §13): headline, contributing, consequence, separate, then the
    security findings; within a group by time."""
    return sorted(findings, key=lambda f: (ROLE_ORDER.get(finding_group(f), 9), f.inconclusive,
                                           f.time if f.time is not None else float("inf"),
                                           -SEVERITY_RANK.get(f.severity, 0)))
