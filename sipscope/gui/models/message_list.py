"""The messages of the selected call(s) as a Qt table model (rows point into Session.messages)."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase

from sipscope.gui.icons import severity_icon
from sipscope.core.untrusted import visible_controls
from sipscope.gui.models.call_rows import format_clock
from sipscope.gui.models.lookup import SessionLookup
from sipscope.gui.tooltips import safe_tooltip
from sipscope.core import timefmt

# Source -> Destination right after the message: on a laptop screen it must stay in view.
COLUMNS = ("#", "Time", "Delta", "Message", "Source → Destination", "Faults", "Branch", "CSeq")
NUMBER, TIME, DELTA, LABEL, ROUTE, FAULTS, BRANCH, CSEQ = range(len(COLUMNS))
_TOOLTIP_COLUMNS = (LABEL, ROUTE, FAULTS, BRANCH, CSEQ)   # may be elided: the full text
MESSAGE_ROLE = Qt.UserRole + 1       # the Message object
INDEX_ROLE = Qt.UserRole + 2         # its Session.messages index
_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)
_DIM = QColor("#9a9a9a")
_KIND_COLORS = {"provisional": QColor("#6b6b6b"), "success": QColor("#1f7a33"),
                "response": QColor("#8a6d00"), "error": QColor("#b3261e")}


def delta_text(seconds: float, flags: int = 0) -> str:
    return timefmt.delta(seconds, flags)


class MessageListModel(QAbstractTableModel):
    """Messages of the shown calls, in capture order; everything displayed is plain text."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.messages: list = []
        self.lookup = SessionLookup(None)
        self._row_of: dict[int, int] = {}
        self._mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)

    def set_messages(self, messages: list, lookup: SessionLookup) -> None:
        self.beginResetModel()
        self.messages = messages
        self.lookup = lookup
        self._row_of = {message.index: row for row, message in enumerate(messages)}
        self.endResetModel()

    def row_of(self, message_index: int) -> int | None:
        return self._row_of.get(message_index)

    def message_at(self, row: int):
        return self.messages[row]

    # -- QAbstractTableModel ---------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.messages)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        message = self.messages[row]
        if role == Qt.DisplayRole:
            return visible_controls(self._text(row, column, message))
        if role == Qt.ToolTipRole and column in _TOOLTIP_COLUMNS:
            text = visible_controls(self._text(row, column, message))
            return safe_tooltip(text) if text else None
        if role == Qt.DecorationRole and column == FAULTS:
            level = self.lookup.worst(message.index)
            if level is None:
                return None
            if all(f.inconclusive for f in self.lookup.findings_of(message.index)):
                level = "inconclusive"
            return severity_icon(level)
        if role == Qt.ForegroundRole:
            if message.copy:
                return _DIM
            if column == LABEL and message.is_response:
                return _KIND_COLORS.get(_kind(message.status))
            return None
        if role == Qt.FontRole:
            if column in (TIME, DELTA):
                return self._mono
            if column == LABEL and message.is_request and not message.copy:
                font = QFont()
                font.setBold(True)
                return font
            if message.copy and column == LABEL:
                font = QFont()
                font.setItalic(True)
                return font
            return None
        if role == Qt.TextAlignmentRole and column in (NUMBER, DELTA):
            return _RIGHT
        if role == MESSAGE_ROLE:
            return message
        if role == INDEX_ROLE:
            return message.index
        return None

    def _text(self, row: int, column: int, message) -> str:
        if column == NUMBER:
            return str(message.index)
        if column == TIME:
            return format_clock(message.ts, message.flags, 3)
        if column == DELTA:
            if not row:
                return ""
            previous = self.messages[row - 1]
            return delta_text(message.ts - previous.ts, message.flags | previous.flags)
        if column == ROUTE:
            return f"{message.src} → {message.dst}"
        if column == LABEL:
            label = message.label
            if message.duplicate:
                return f"{label}  (duplicate)"
            if message.retransmission:
                return f"{label}  (retransmission)"
            return label
        if column == CSEQ:
            number = message.cseq_num if message.cseq_num is not None else "?"
            return f"{number} {message.cseq_method}"
        if column == BRANCH:
            branch = self.lookup.branch_of(message)
            return branch.label if branch is not None else ""
        if column == FAULTS:
            return " ".join(f.key or f.id for f in self.lookup.findings_of(message.index))
        return ""


def _kind(status: int) -> str:
    if status < 200:
        return "provisional"
    if status < 300:
        return "success"
    if status < 400:
        return "response"
    return "error"
