"""Finding: one detected fault, pointing at the messages that prove it (catalog §0)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from sipscope.core.analysis.catalog import CATALOG

# The kinds of "can't tell" (Finding.evidence["undecided"]), catalog D7
UNDECIDED_EXCERPT = "excerpt"       # a curated excerpt: an absent message proves nothing
UNDECIDED_HORIZON = "horizon"       # the capture ends before the decision's time window closes
UNDECIDED_PATH = "path"             # the message would travel a path this capture does not show
UNDECIDED_CONFLICT = "conflict"     # the capture's evidence points both ways (the rule says how)
UNDECIDED_OTHER = "other"           # the rule gave no reason (fallback; say why instead)


@dataclass(slots=True, frozen=True)
class Undecided:
    """Why a finding is inconclusive: one sentence, and the facts it names (for evidence)."""

    sentence: str
    evidence: dict


@dataclass(slots=True, eq=False)
class Finding:
    """A catalog fault found in the session.

    scope: "transaction" | "dialog" | "fork" | "call" | "source" | "capture".
    messages: indices into Session.messages (the offending messages, first one decides the time).
    role (set by the runner, §13): "headline" | "contributing" | "consequence" | "separate".
    """

    id: str
    severity: str
    title: str
    explanation: str
    messages: list[int] = field(default_factory=list)
    call_id: str | None = None
    scope: str = "call"
    rfc: str = ""
    inconclusive: bool = False
    evidence: dict = field(default_factory=dict)
    source: str | None = None          # the source address, for security findings
    key: str = ""                      # unique within the session, set by the runner ("F12")
    time: float | None = None          # time of the first offending message, set by the runner
    consequence_of: list[str] = field(default_factory=list)   # keys of causing findings
    role: str = "separate"

    @property
    def section(self) -> str:
        return CATALOG.get(self.id, ("", "", ""))[0]

    def to_json(self) -> dict:
        return {"key": self.key, "id": self.id, "severity": self.severity,
                "call_id": self.call_id, "messages": list(self.messages), "title": self.title,
                "explanation": self.explanation, "scope": self.scope, "rfc": self.rfc,
                "inconclusive": self.inconclusive, "source": self.source, "time": self.time,
                "consequence_of": list(self.consequence_of), "role": self.role,
                "evidence": {k: _plain(v) for k, v in self.evidence.items()}}

    def text_lines(self, width: int = 100) -> list[str]:
        status = "inconclusive" if self.inconclusive else self.severity
        messages = ",".join(str(i) for i in self.messages[:12])
        more = "…" if len(self.messages) > 12 else ""
        lines = [f"  [{status.upper()}] {self.id}  ({self.role}; messages {messages}{more}): {self.title}"]
        lines += textwrap.wrap(self.explanation, width, initial_indent="      ",
                               subsequent_indent="      ")
        if self.rfc:
            lines.append(f"      see {self.rfc}")
        if self.consequence_of:
            lines.append(f"      consequence of {', '.join(self.consequence_of)}")
        return lines


def _plain(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
