"""Message list: the messages of the selected call(s), one row each, in capture order.

    +-----------------------------------------------------------------------------------+
    |  #  Time             Delta   Source -> Destination         Message    CSeq  Branch |
    |  4  09:40:18.325507          198.51.100.10:5060 -> ...:5060  INVITE   102 INV .2   |
    |  5  09:40:18.325571  +0.000  198.51.100.10:5060 -> ...:5064  INVITE   102 INV .5   |
    |> 9  09:40:27.712967  +9.234  203.0.113.45:5060 -> ...        200 OK   102 INV .5 (x)|
    +-----------------------------------------------------------------------------------+

Ctrl-click selects several messages (two of them feed the diff); Up/Down walk the flow and
every other view follows the current row.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QFontDatabase, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

from sipscope.gui.views.column_fit import ColumnFitter, ElideRightDelegate
from sipscope.gui.models.message_list import (BRANCH, CSEQ, DELTA, FAULTS, LABEL, NUMBER, ROUTE,
                                              TIME, MessageListModel)

_WIDTHS = {NUMBER: 44, TIME: 92, DELTA: 58, LABEL: 124, ROUTE: 250, FAULTS: 64, BRANCH: 72,
           CSEQ: 90}


class MessageListView(QWidget):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._syncing = False
        self.model = MessageListModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        # addresses and numbers keep both ends readable; the tooltip holds the whole value
        self.table.setTextElideMode(Qt.ElideMiddle)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        for column, width in _WIDTHS.items():
            header.resizeSection(column, width)
        mono = QFontMetrics(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        header.resizeSection(TIME, mono.horizontalAdvance("00:00:00.000") + 14)
        header.resizeSection(DELTA, mono.horizontalAdvance("+00.000") + 14)
        header.setStretchLastSection(True)
        # Source -> Destination stays in view next to the message, elided in the middle.
        self.column_fitter = ColumnFitter(self.table, {ROUTE: (120, 300)}, self)
        self._words = ElideRightDelegate(self.table)
        self.table.setItemDelegateForColumn(LABEL, self._words)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        controller.sig_session_changed.connect(lambda _: self._reload())
        controller.sig_findings_changed.connect(lambda _: self._reload())
        controller.sig_calls_changed.connect(lambda _: self._reload())
        controller.sig_selection_changed.connect(self.on_selection)

    def _reload(self) -> None:
        self._syncing = True
        try:
            self.model.set_messages(self.controller.shown_messages(), self.controller.lookup)
        finally:
            self._syncing = False

    # -- controller -> view -----------------------------------------------------------------
    def on_selection(self, selection) -> None:
        if selection.origin == "messages":
            return
        rows = [r for r in (self.model.row_of(i) for i in selection.messages) if r is not None]
        self._syncing = True
        try:
            selection_model = self.table.selectionModel()
            block = QItemSelection()
            last = self.model.columnCount() - 1
            for row in rows:
                block.select(self.model.index(row, 0), self.model.index(row, last))
            selection_model.select(block, QItemSelectionModel.ClearAndSelect)
            current = (self.model.row_of(selection.current)
                       if selection.current is not None else None)
            if current is not None:
                selection_model.setCurrentIndex(self.model.index(current, 0),
                                                QItemSelectionModel.NoUpdate)
                self.table.scrollTo(self.model.index(current, 0), QAbstractItemView.EnsureVisible)
        finally:
            self._syncing = False

    # -- view -> controller -----------------------------------------------------------------
    def _selected_indices(self) -> list[int]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.model.message_at(row).index for row in rows]

    def _on_table_selection(self, *_) -> None:
        if self._syncing:
            return
        indices = self._selected_indices()
        current_row = self.table.selectionModel().currentIndex().row()
        current = self.model.message_at(current_row).index if 0 <= current_row < \
            self.model.rowCount() else None
        if indices:
            self.controller.select_messages(indices, current=current, origin="messages")

    def _on_current_row(self, current, _previous) -> None:
        if self._syncing or not current.isValid():
            return
        indices = self._selected_indices()
        index = self.model.message_at(current.row()).index
        if index in indices and index != self.controller.selection.current:
            self.controller.select_messages(indices, current=index, origin="messages")
