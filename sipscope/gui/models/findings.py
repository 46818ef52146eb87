"""Findings as a Qt list model, grouped cause first (catalog §13): group headers and findings."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt

from sipscope.gui.icons import severity_icon
from sipscope.gui.models.lookup import finding_level, ordered_findings

FINDING_ROLE = Qt.UserRole + 1      # the Finding object (None on a group header)
HEADER_ROLE = Qt.UserRole + 2       # True on a group header row
META_ROLE = Qt.UserRole + 3         # "F3 · fork-response-wrong-endpoint · 09:40:27.713 · call 3"
DETAIL_ROLE = Qt.UserRole + 4       # the explanation (plain text)
REFERENCE_ROLE = Qt.UserRole + 5    # "RFC 3261 §17.1.1.2" and "consequence of F1"
LEVEL_ROLE = Qt.UserRole + 6        # error | warning | info | inconclusive

GROUP_TITLES = {
    "headline": "Headline",
    "contributing": "Contributing",
    "consequence": "What the customer saw",
    "separate": "Separate",
}


class FindingListModel(QAbstractListModel):
    """Rows: ("header", role) and ("finding", Finding) entries in panel order."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[tuple[str, object]] = []
        self.session = None
        self.show_call = False

    def set_findings(self, session, findings, show_call: bool = False) -> None:
        self.beginResetModel()
        self.session = session
        self.show_call = show_call
        self.entries = []
        current = None
        for finding in ordered_findings(findings):
            if finding.role != current:
                current = finding.role
                self.entries.append(("header", current))
            self.entries.append(("finding", finding))
        self.endResetModel()

    def findings(self) -> list:
        return [item for kind, item in self.entries if kind == "finding"]

    def row_of(self, finding) -> int | None:
        for row, (kind, item) in enumerate(self.entries):
            if item is finding:
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
                count = sum(1 for k, f in self.entries if k == "finding" and f.role == item)
                return f"{GROUP_TITLES.get(item, str(item).title())} ({count})"
            if role == HEADER_ROLE:
                return True
            return None
        finding = item
        if role == Qt.DisplayRole:
            return finding.title
        if role == HEADER_ROLE:
            return False
        if role == FINDING_ROLE:
            return finding
        if role == DETAIL_ROLE:
            return finding.explanation
        if role == META_ROLE:
            return self.meta(finding)
        if role == REFERENCE_ROLE:
            return self.reference(finding)
        if role == LEVEL_ROLE:
            return finding_level(finding)
        if role == Qt.DecorationRole:
            return severity_icon(finding_level(finding))
        return None

    def meta(self, finding) -> str:
        level = "inconclusive" if finding.inconclusive else finding.severity
        parts = [part for part in (finding.key, finding.id, level) if part]
        if finding.time is not None and self.session is not None and finding.messages:
            from sipscope.gui.models.call_rows import format_clock
            first = self.session.messages[finding.messages[0]]
            parts.append(format_clock(first.ts, first.flags, 3))
        if self.show_call and finding.call_id is not None and self.session is not None:
            call = self.session.call(finding.call_id)
            if call is not None:
                parts.append(f"call {call.index + 1}")
        elif finding.source:
            parts.append(f"from {finding.source}")
        count = len(finding.messages)
        if count:
            parts.append(f"{count} message{'s' if count != 1 else ''}")
        return " · ".join(parts)

    @staticmethod
    def reference(finding) -> str:
        parts = []
        if finding.rfc:
            parts.append(finding.rfc)
        if finding.consequence_of:
            parts.append("consequence of " + ", ".join(finding.consequence_of))
        if finding.inconclusive:
            parts.append("inconclusive: the capture cannot decide this")
        return " · ".join(parts)
