"""Call list: every call of the capture, with a filter box and a noise toggle.

    +------------------------------------------------------------------------------+
    | [ Filter: number, Call-ID, address, method, status ]  [x] Hide OPTIONS/REG  |
    |  #  Time          From          To        Method Status Duration Msgs Faults |
    |  1  09:40:02.118  ping@sip...   lisa@...  OPTIONS  200  0.063 s    2         |
    |> 3  09:40:18.325  +1202555...   sales@... INVITE   200  60.155 s  12  (x) 6  |
    |                                                        12 of 3 402 calls     |
    +------------------------------------------------------------------------------+

Typing filters after a short pause (bulk filter over precomputed text, <100 ms for 100k calls);
clicking a header sorts; Up/Down move the selection and every other view follows.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QTableView, QVBoxLayout, QWidget)

from sipscope.gui.models.call_list import (CALL_ROLE, COLUMNS, DURATION, FAULTS, FROM, MESSAGES,
                                           METHOD, NUMBER, STATUS, TIME, TO, CallFilterProxy,
                                           CallListModel)
from sipscope.gui.models.call_rows import FAULT_PREFIX
from sipscope.gui.views.column_fit import ColumnFitter

FILTER_DELAY_MS = 150
_WIDTHS = {NUMBER: 36, TIME: 92, FROM: 120, TO: 120, METHOD: 64, STATUS: 46, DURATION: 62,
           MESSAGES: 40, FAULTS: 46}


class CallListView(QWidget):
    def __init__(self, controller, settings=None, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self._syncing = False

        self.model = CallListModel(self)
        self.proxy = CallFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText(
            "Filter: number, Call-ID, address, method, status, fault:ID")
        self.filter_edit.setClearButtonEnabled(True)
        self.noise_box = QCheckBox("Hide OPTIONS/REGISTER", self)
        self.noise_box.setToolTip("Hide calls that are only OPTIONS pings or registrations")
        self.count_label = QLabel(self)
        self.count_label.setTextFormat(Qt.PlainText)
        self.count_label.setObjectName("countLabel")

        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(NUMBER, Qt.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        # a phone number keeps its country code and its last digits; the tooltip has it whole
        self.table.setTextElideMode(Qt.ElideMiddle)
        self.table.setShowGrid(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.Fixed)     # no per-row size queries
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        for column, width in _WIDTHS.items():
            header.resizeSection(column, width)
        # Who called whom first: From and To right after the number, sharing the pane's width;
        # time, duration and message count follow (and scroll on a narrow pane).
        for visual, column in enumerate((NUMBER, FROM, TO, METHOD, STATUS, FAULTS)):
            header.moveSection(header.visualIndex(column), visual)
        self.column_fitter = ColumnFitter(self.table, {FROM: (80, 140), TO: (80, 140)}, self)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.noise_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 2)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter_edit.textChanged.connect(lambda _: self._filter_timer.start())
        self.filter_edit.returnPressed.connect(self.apply_filter)
        self.noise_box.toggled.connect(self.set_hide_noise)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)
        # sorting and filtering reset the source model (and the selection): select again
        self.model.modelReset.connect(
            lambda: self._select_calls(self.controller.selection.calls))
        controller.sig_session_changed.connect(self.on_session)
        controller.sig_findings_changed.connect(self.on_findings)
        controller.sig_rows_ready.connect(self.on_rows_ready)
        controller.sig_load_cancelled.connect(self.on_rows_ready)    # the GUI fills what's left
        controller.sig_selection_changed.connect(self.on_selection)
        if settings is not None and settings.get("hide_noise"):
            self.noise_box.setChecked(True)

    # -- controller -> view -----------------------------------------------------------------
    def on_session(self, session) -> None:
        self._syncing = True
        try:
            self.model.set_session(session, self.controller.call_rows)
            self.proxy.refresh()
        finally:
            self._syncing = False
        self._fit_number_column(len(session.calls) if session is not None else 0)
        self._update_count()

    def _fit_number_column(self, calls: int) -> None:
        """Wide enough for the highest call number (153059 does not fit the default)."""
        digits = self.table.fontMetrics().horizontalAdvance("8" * len(str(max(calls, 1))))
        self.table.horizontalHeader().resizeSection(NUMBER, max(_WIDTHS[NUMBER], digits + 18))

    def on_rows_ready(self) -> None:
        """Apply a filter or sort that waited for the load worker to fill the rows."""
        self._syncing = True
        try:
            self.proxy.rows_ready()
        finally:
            self._syncing = False
        if self.proxy.filter_text or self.proxy.hide_noise:
            self._keep_selection_shown()
        self._update_count()

    def on_findings(self, _session) -> None:
        self._syncing = True
        try:
            self.proxy.findings_changed()
        finally:
            self._syncing = False

    def on_selection(self, selection) -> None:
        self._select_calls(selection.calls)

    def _select_calls(self, calls) -> None:
        selection_model = self.table.selectionModel()
        rows = [row for row in (self.proxy.row_of(call) for call in calls) if row is not None]
        current = {self.proxy.call_at(i.row()).index for i in selection_model.selectedRows()}
        if current == {self.proxy.call_at(r).index for r in rows}:
            return
        self._syncing = True
        try:
            selection_model.clearSelection()
            for row in rows:
                index = self.proxy.index(row, 0)
                selection_model.select(index, QItemSelectionModel.Select | QItemSelectionModel.Rows)
            if rows:
                selection_model.setCurrentIndex(self.proxy.index(rows[0], 0),
                                                QItemSelectionModel.NoUpdate)
                self.table.scrollTo(self.proxy.index(rows[0], 0),
                                    QAbstractItemView.EnsureVisible)
        finally:
            self._syncing = False

    # -- view -> controller -----------------------------------------------------------------
    def _on_table_selection(self, *_) -> None:
        if self._syncing:
            return
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        calls = [self.proxy.data(self.proxy.index(row, 0), CALL_ROLE) for row in rows]
        if calls:
            self.controller.select_calls(calls, origin="calls")

    # -- filter -----------------------------------------------------------------------------
    def apply_filter(self) -> None:
        self._filter_timer.stop()
        self._syncing = True
        try:
            self.proxy.set_filter_text(self.filter_edit.text())
        finally:
            self._syncing = False
        self._keep_selection_shown()
        self._update_count()

    def _keep_selection_shown(self) -> None:
        """Never show a call the list does not: when the filter hides the open call, the first
        call still listed opens (or none, when the filter left nothing)."""
        calls = self.controller.selection.calls
        shown = [call for call in calls if self.proxy.row_of(call) is not None]
        if calls and not shown and not self.proxy.waiting_for_rows:
            first = self.proxy.call_at(0) if self.proxy.rowCount() else None
            self.controller.select_calls([first] if first is not None else [], origin="calls")
            return
        if shown != list(calls):
            self.controller.select_calls(shown, origin="calls")
            return
        self._select_calls(calls)

    def set_hide_noise(self, hide: bool) -> None:
        if self.noise_box.isChecked() != hide:
            self.noise_box.setChecked(hide)      # re-enters through toggled
            return
        self._syncing = True
        try:
            self.proxy.set_hide_noise(hide)
        finally:
            self._syncing = False
        if self.settings is not None:
            self.settings.set("hide_noise", hide)
        self._keep_selection_shown()
        self._update_count()

    def show_fault(self, fault_id: str) -> None:
        """List the calls with this fault and open the first one (the fault panel's "By fault"
        overview asks): the filter box says `fault:ID`, so the tech sees how to widen it."""
        self.filter_edit.setText(f"{FAULT_PREFIX}{fault_id}")
        self.apply_filter()
        if self.proxy.rowCount() and not self.proxy.waiting_for_rows:
            call = self.proxy.call_at(0)
            if call is not None:
                self.controller.select_calls([call], origin="calls")

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def _update_count(self) -> None:
        total = self.proxy.total()
        shown = self.proxy.rowCount()
        noun = "call" if total == 1 else "calls"
        text = f"{total:,} {noun}" if shown == total else f"{shown:,} of {total:,} {noun}"
        self.count_label.setText(text)


__all__ = ["CallListView", "COLUMNS"]
