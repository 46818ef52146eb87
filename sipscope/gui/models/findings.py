"""Findings as a Qt list model, cause first (catalog §13): group headers, findings, and (for the
whole capture) one row per fault that repeats on many calls, "on N of M calls" (§13.4)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt

from sipscope.core.untrusted import visible_controls, visible_lines
from sipscope.gui.icons import severity_icon
from sipscope.gui.models.call_rows import format_clock
from sipscope.gui.models.lookup import finding_group, finding_level, ordered_findings
from sipscope.core.analysis.overview import share_of_calls

FINDING_ROLE = Qt.UserRole + 1      # the Finding shown (None on a group header)
HEADER_ROLE = Qt.UserRole + 2       # True on a group header row
META_ROLE = Qt.UserRole + 3         # "F3 · fork-response-wrong-endpoint · error · 09:40:27.713"
DETAIL_ROLE = Qt.UserRole + 4       # the explanation (plain text)
REFERENCE_ROLE = Qt.UserRole + 5    # "RFC 3261 §17.1.1.2 · consequence of F1"
LEVEL_ROLE = Qt.UserRole + 6        # error | warning | info | inconclusive
REPEAT_ROLE = Qt.UserRole + 7       # the FindingRepeat of an aggregated row, else None

GROUP_TITLES = {
    "headline": "Headline",
    "contributing": "Contributing",
    "consequence": "What the customer saw",
    "separate": "Separate",
    "security": "Security (per source address)",
}


@dataclass(slots=True, eq=False)
class FindingRepeat:
    """The same fault on several calls, shown as one row; clicking walks through them."""

    findings: list = field(default_factory=list)
    cursor: int = 0

    @property
    def current(self):
        return self.findings[self.cursor % len(self.findings)]

    def advance(self):
        self.cursor = (self.cursor + 1) % len(self.findings)
        return self.current

    def calls(self) -> int:
        return len({f.call_id for f in self.findings})


def _repeat_key(finding) -> tuple:
    return (finding.id, finding.role, finding_level(finding))


class FindingListModel(QAbstractListModel):
    """Rows: ("header", role), ("finding", Finding) or ("repeat", FindingRepeat)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[tuple[str, object]] = []
        self.session = None
        self.show_call = False

    def set_findings(self, session, findings, show_call: bool = False,
                     aggregate: bool = False) -> None:
        """With `aggregate`, a fault found on two or more calls becomes one "repeat" row."""
        self.beginResetModel()
        self.session = session
        self.show_call = show_call
        self.entries = []
        ordered = ordered_findings(findings)
        repeats: dict[tuple, FindingRepeat] = {}
        if aggregate:
            for finding in ordered:
                if finding.call_id is not None:
                    repeats.setdefault(_repeat_key(finding), FindingRepeat()).findings.append(
                        finding)
            repeats = {k: r for k, r in repeats.items() if r.calls() > 1}
        current = None
        for finding in ordered:
            repeat = repeats.get(_repeat_key(finding)) if finding.call_id is not None else None
            if repeat is not None and repeat.findings[0] is not finding:
                continue
            group = finding_group(finding)
            if group != current:
                current = group
                self.entries.append(("header", current))
            self.entries.append(("repeat", repeat) if repeat is not None else ("finding", finding))
        self.endResetModel()

    def findings(self) -> list:
        """The findings the rows stand for (a repeat row counts its first finding)."""
        return [item if kind == "finding" else item.current
                for kind, item in self.entries if kind != "header"]

    def row_of(self, finding) -> int | None:
        for row, (kind, item) in enumerate(self.entries):
            if item is finding or (kind == "repeat" and finding in item.findings):
                return row
        return None

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def flags(self, index):
        if not index.isValid():
            return Qt.NoItemFlags
        kind, _ = self.entries[index.row()]
        if kind == "header":
            return Qt.ItemIsEnabled
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        kind, item = self.entries[index.row()]
        if kind == "header":
            if role == Qt.DisplayRole:
                count = sum(1 for k, f in self.entries if k != "header"
                            and finding_group(f if k == "finding" else f.current) == item)
                return f"{GROUP_TITLES.get(item, str(item).title())} ({count})"
            if role == HEADER_ROLE:
                return True
            return None
        repeat = item if kind == "repeat" else None
        finding = repeat.current if repeat is not None else item
        if role == Qt.DisplayRole:      # capture values inside: controls shown, not obeyed
            return visible_controls(finding.title)
        if role == HEADER_ROLE:
            return False
        if role == FINDING_ROLE:
            return finding
        if role == REPEAT_ROLE:
            return repeat
        if role == DETAIL_ROLE:
            return visible_lines(finding.explanation)
        if role == META_ROLE:
            return visible_controls(self.meta(finding, repeat))
        if role == REFERENCE_ROLE:
            return self.reference(finding, repeat)
        if role == LEVEL_ROLE:
            return finding_level(finding)
        if role == Qt.DecorationRole:
            return severity_icon(finding_level(finding))
        return None

    def meta(self, finding, repeat: FindingRepeat | None = None) -> str:
        level = "inconclusive" if finding.inconclusive else finding.severity
        shown = (finding.id, level) if repeat is not None else (finding.key, finding.id, level)
        parts = [part for part in shown if part]
        if repeat is not None and self.session is not None:
            parts.append("on " + share_of_calls(repeat.calls(), len(self.session.calls)))
        if finding.messages and self.session is not None:
            first = self.session.messages[finding.messages[0]]
            parts.append(format_clock(first.ts, first.flags, 3))
        if self.show_call and finding.call_id is not None and self.session is not None:
            call = self.session.call(finding.call_id)
            if call is not None:
                parts.append(f"call {call.index + 1}")
        elif finding.source:
            parts.append(f"from {finding.source}")
        count = len(finding.messages)
        if count and repeat is None:
            parts.append(f"{count} message{'s' if count != 1 else ''}")
        return " · ".join(parts)

    @staticmethod
    def reference(finding, repeat: FindingRepeat | None = None) -> str:
        parts = []
        if finding.rfc:
            parts.append(finding.rfc)
        if finding.consequence_of and repeat is None:
            parts.append("consequence of " + ", ".join(finding.consequence_of))
        if finding.inconclusive:
            parts.append("inconclusive: the capture cannot decide this")
        if repeat is not None:
            parts.append(f"showing {repeat.cursor + 1} of {len(repeat.findings)}: "
                         "click again for the next call")
        return " · ".join(parts)
