"""Streams: the RTP streams of the selected call, or of the whole capture, as Wireshark's RTP
Streams dialog lists them, plus the directions the SDP negotiated that never arrived.

    +----------------------------------------------------------------------------------------+
    | Show: [Selected call v]                  2 streams, 1 direction negotiated but missing |
    |----------------------------------------------------------------------------------------|
    | Call Direction        Source -> Destination      SSRC       Codec      Packets  ... MOS |
    |  5   caller -> callee 10.0.0.1:4000 -> ...:5000  0x0000BEEF PCMA/8000      500  ... 4.41|
    |  5   callee -> caller 10.0.0.2:5000 -> ...:4000  -          PCMA/8000        0  no packets| (red)
    +----------------------------------------------------------------------------------------+

Selecting a row selects its call and the stream everywhere (controller.select_stream); a stream
chosen elsewhere (a timeline lane) is selected here.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QTableView, QVBoxLayout, QWidget)

from sipscope.core.analysis.text import plural
from sipscope.gui.models.streams import COLUMNS, ROUTE, StreamsModel

SCOPES = (("call", "Selected call"), ("all", "Whole capture"))


class StreamsView(QWidget):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._syncing = False
        self.scope_box = QComboBox(self)
        for key, title in SCOPES:
            self.scope_box.addItem(title, key)
        self.count_label = QLabel(self)
        self.count_label.setTextFormat(Qt.PlainText)
        self.count_label.setObjectName("countLabel")
        self.model = StreamsModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(ROUTE, QHeaderView.Interactive)
        header.resizeSection(ROUTE, 300)
        header.setStretchLastSection(True)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        show = QLabel("Show:", self)
        show.setTextFormat(Qt.PlainText)
        bar.addWidget(show)
        bar.addWidget(self.scope_box)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

        self.scope_box.currentIndexChanged.connect(lambda *_: self.reload())
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        controller.sig_session_changed.connect(lambda _: self.reload())
        controller.sig_calls_changed.connect(lambda _: self._calls_changed())
        controller.sig_selection_changed.connect(self.on_selection)

    @property
    def scope(self) -> str:
        return self.scope_box.currentData() or "call"

    def set_scope(self, scope: str) -> None:
        self.scope_box.setCurrentIndex(max(0, self.scope_box.findData(scope)))

    def _calls_changed(self) -> None:
        if self.scope == "call":
            self.reload()

    def reload(self) -> None:
        self._syncing = True
        try:
            rows = self._rows()
            self.model.set_rows(rows)
            missing = sum(1 for r in rows if r.expected_only)
            text = plural(len(rows) - missing, "stream")
            if missing:
                text += f", {plural(missing, 'direction')} negotiated but never seen"
            self.count_label.setText(text if self.controller.session is not None else "")
        finally:
            self._syncing = False
        self.on_selection(self.controller.selection)

    def _rows(self) -> list:
        if self.controller.session is None:
            return []
        table = self.controller.stream_table()
        if self.scope == "all":
            return table.rows
        rows: list = []
        for call in self.controller.selection.calls:
            rows += table.rows_for(call)
        return rows

    def on_selection(self, selection) -> None:
        row = self.model.row_of(selection.stream)
        if row is None and self.scope == "all" and selection.call is not None:
            first = next((r for r in self.model.rows if r.call is selection.call), None)
            if first is not None:
                self.table.scrollTo(self.model.index(self.model.row_of(first), 0))
        self._syncing = True
        try:
            selection_model = self.table.selectionModel()
            if row is None:
                selection_model.clearSelection()
                return
            index = self.model.index(row, 0)
            selection_model.setCurrentIndex(index, QItemSelectionModel.ClearAndSelect
                                            | QItemSelectionModel.Rows)
            self.table.scrollTo(index, QAbstractItemView.EnsureVisible)
        finally:
            self._syncing = False

    def _on_current_row(self, current, _previous) -> None:
        if self._syncing or not current.isValid():
            return
        self.controller.select_stream(self.model.rows[current.row()], origin="streams")

    def selected_row(self):
        """The StreamRow selected in the table (tests)."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None


__all__ = ["StreamsView", "COLUMNS"]
