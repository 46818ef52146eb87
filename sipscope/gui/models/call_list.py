"""The call list as a Qt table model, and the proxy that filters and sorts it in bulk.

Sorting or filtering 100k calls must answer within 100 ms.  A QSortFilterProxyModel that calls
Python for every row (filterAcceptsRow, lessThan) costs about a microsecond per call, times
n log n comparisons: far over budget.  So `CallFilterProxy` keeps the standard proxy interface
for the views but computes the visible order in one pass over precomputed keys (CallRows) and
hands it to the source model; the proxy itself runs with Qt's built-in accept-all filter.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

from sipscope.gui.icons import severity_icon
from sipscope.gui.models.call_rows import FAULT_PREFIX, RANK_SEVERITY, CallRows
from sipscope.gui.tooltips import safe_tooltip

COLUMNS = ("#", "Time", "From", "To", "Method", "Status", "Duration", "Msgs", "Faults")
NUMBER, TIME, FROM, TO, METHOD, STATUS, DURATION, MESSAGES, FAULTS = range(len(COLUMNS))
CALL_ROLE = Qt.UserRole + 1          # the Call object of a row
_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)


class CallListModel(QAbstractTableModel):
    """Rows are Session.calls in the order the proxy chose; cells come from CallRows."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows = CallRows(None)
        self.order: list[int] = []
        self._row_of: dict[int, int] | None = None

    # -- content -------------------------------------------------------------------------
    def set_session(self, session, rows: CallRows | None = None) -> None:
        self.beginResetModel()
        self.rows = rows if rows is not None and rows.session is session else CallRows(session)
        self.order = list(range(len(self.rows)))
        self._row_of = None
        self.endResetModel()

    def set_order(self, order: list[int]) -> None:
        """Show these call indices, in this order (the proxy's sort and filter result)."""
        self.beginResetModel()
        self.order = order
        self._row_of = None
        self.endResetModel()

    def call_at(self, row: int):
        return self.rows.calls[self.order[row]]

    def row_of(self, call) -> int | None:
        """The row showing `call`, None when it is filtered out."""
        if self._row_of is None:
            self._row_of = {index: row for row, index in enumerate(self.order)}
        return self._row_of.get(call.index)

    # -- QAbstractTableModel ---------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Horizontal and role == Qt.TextAlignmentRole and section in (
                NUMBER, STATUS, DURATION, MESSAGES):
            return _RIGHT
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        call_index = self.order[index.row()]
        column = index.column()
        if role == Qt.DisplayRole:
            row = self.rows.row(call_index)
            if column == NUMBER:
                return str(row.number)
            if column == TIME:
                return row.time
            if column == FROM:
                return row.from_
            if column == TO:
                return row.to
            if column == METHOD:
                return row.method
            if column == STATUS:
                return row.status_text
            if column == DURATION:
                return row.duration_text
            if column == MESSAGES:
                return str(row.messages)
            if column == FAULTS:
                return f"{row.findings}" if row.findings else ""
            return None
        if role == Qt.ToolTipRole and column in (FROM, TO):
            row = self.rows.row(call_index)     # the cell may be elided: the whole number
            text = row.from_ if column == FROM else row.to
            return safe_tooltip(text) if text else None
        if role == Qt.DecorationRole and column == FAULTS:
            row = self.rows.row(call_index)
            return severity_icon(RANK_SEVERITY[row.severity]) if row.severity else None
        if role == Qt.TextAlignmentRole and column in (NUMBER, STATUS, DURATION, MESSAGES):
            return _RIGHT
        if role == Qt.ForegroundRole and column == STATUS:
            status = self.rows.row(call_index).status
            return _status_brush(status)
        if role == CALL_ROLE:
            return self.rows.calls[call_index]
        return None


def _status_brush(status: int):
    from PySide6.QtGui import QColor
    if status >= 400:
        return QColor("#b3261e")
    if 200 <= status < 300:
        return QColor("#1f7a33")
    if status == 0:
        return QColor("#8a8a8a")
    return None


class CallFilterProxy(QSortFilterProxyModel):
    """Filter box, noise toggle and header sorting over a CallListModel, done in bulk."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)
        self.filter_text = ""
        self.hide_noise = False
        self.sort_column = NUMBER
        self.sort_order = Qt.AscendingOrder
        self.waiting_for_rows = False   # the filter/sort waits for the worker to fill the rows

    def source(self) -> CallListModel:
        return self.sourceModel()

    def set_filter_text(self, text: str) -> None:
        self.filter_text = text
        self.refresh()

    def set_hide_noise(self, hide: bool) -> None:
        self.hide_noise = hide
        self.refresh()

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:   # noqa: D401 - Qt override
        self.sort_column = column if column >= 0 else NUMBER
        self.sort_order = order
        self.refresh()

    def refresh(self) -> None:
        """Recompute the visible calls and their order, and push them to the source model.
        While the load worker still fills the rows, a filter or sort that needs them would fill
        them here, on the GUI thread: the calls show in their own order until rows_ready()."""
        source = self.source()
        if source is None:
            return
        rows = source.rows
        descending = self.sort_order == Qt.DescendingOrder
        self.waiting_for_rows = rows.being_filled and rows.needs_rows(
            self.filter_text, self.hide_noise, self.sort_column)
        if self.waiting_for_rows:
            source.set_order(rows.visible_order("", False, NUMBER, False))
            return
        source.set_order(rows.visible_order(self.filter_text, self.hide_noise, self.sort_column,
                                            descending))

    def rows_ready(self) -> None:
        """The load worker filled every row: apply a filter or sort that waited for them."""
        if self.waiting_for_rows:
            self.refresh()

    def findings_changed(self) -> None:
        """The rows' severity and finding counts changed (findings arrive after the calls):
        re-sort when sorted by them, else repaint those two columns."""
        source = self.source()
        if source is None:
            return
        if self.sort_column == FAULTS or FAULT_PREFIX in self.filter_text.lower():
            self.refresh()
        elif source.rowCount():
            source.dataChanged.emit(source.index(0, FAULTS),
                                    source.index(source.rowCount() - 1, FAULTS))

    def total(self) -> int:
        source = self.source()
        return len(source.rows) if source is not None else 0

    def call_at(self, proxy_row: int):
        source_index = self.mapToSource(self.index(proxy_row, 0))
        return self.source().call_at(source_index.row())

    def row_of(self, call) -> int | None:
        source_row = self.source().row_of(call)
        if source_row is None:
            return None
        return self.mapFromSource(self.source().index(source_row, 0)).row()
