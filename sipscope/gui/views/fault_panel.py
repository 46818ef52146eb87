"""Fault panel: what went wrong, cause first, in plain English, with the RFC that says so.

    +-----------------------------------------------------------+
    | Findings   (o) This call  ( ) All calls          6 found  |
    |-----------------------------------------------------------|
    | HEADLINE (1)                                              |
    | (x) F4 · fork-response-wrong-endpoint · 09:40:27.713      |
    |     A response for branch .5 came from branch .2's phone  |
    |     The 200 OK for branch .5 arrived from 203.0.113...    |
    |     RFC 3261 §16.7 · consequence of F1                    |
    | CONTRIBUTING (2)                                          |
    | (!) F1 · fork-same-device ...                             |
    | WHAT THE CUSTOMER SAW (2)                                 |
    | SEPARATE (1)                                              |
    |  ?  F7 · tmr-2xx-no-ack · inconclusive   (greyed)         |
    +-----------------------------------------------------------+

Clicking a finding selects its messages in every view.  Findings that mention the current
message get a marker bar.  All text is drawn with QPainter.drawText as plain text.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette, QTextLayout, QTextOption
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QHBoxLayout, QLabel, QListView,
                               QRadioButton, QStyle, QStyleOptionViewItem, QStyledItemDelegate,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from sipscope.core.analysis.overview import fault_overview
from sipscope.core.untrusted import visible_controls
from sipscope.gui.icons import paint_severity, severity_icon
from sipscope.gui.models.findings import (DETAIL_ROLE, FINDING_ROLE, HEADER_ROLE, LEVEL_ROLE,
                                          META_ROLE, REFERENCE_ROLE, REPEAT_ROLE,
                                          FindingListModel)

PAD = 8
ICON = 16
GAP = 3
_MAX_DETAIL_LINES = 40
_COLLAPSED_LINES = 3
_HEADER_COLORS = {"Headline": "#b3261e", "Contributing": "#8a5a00",
                  "What the customer saw": "#37474f", "Separate": "#616161",
                  "Security (per source address)": "#6a1b9a"}


def wrap_lines(text: str, font: QFont, width: int, max_lines: int) -> list[str]:
    """Word-wrapped lines of plain text; the last kept line ends in "…" when text was cut."""
    layout = QTextLayout(text.replace("\n", "\u2028"), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    shown = layout.text()
    lines: list[str] = []
    layout.beginLayout()
    while len(lines) <= max_lines:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        lines.append(shown[line.textStart(): line.textStart() + line.textLength()]
                     .replace("\u2028", "").rstrip())
    layout.endLayout()
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = QFontMetrics(font).elidedText(lines[-1] + " …", Qt.ElideRight, width)
    return lines


class FindingDelegate(QStyledItemDelegate):
    """Paints a finding as a small card: mark, meta line, title, explanation, reference.
    The explanation is cut to a few lines unless the finding is selected."""

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.cache: dict[tuple, list] = {}      # wrapped lines per (row, width, expanded, step)

    def fonts(self, option):
        base = QFont(option.font)
        title = QFont(base)
        title.setBold(True)
        small = QFont(base)
        small.setPointSizeF(max(6.5, base.pointSizeF() * 0.88))
        return base, title, small

    def _text_width(self, option) -> int:
        width = self.panel.list.viewport().width() or option.rect.width()
        return max(80, width - PAD * 2 - ICON - 6)

    def _blocks(self, index, option):
        """(lines, font, is_small) for meta, title, explanation and reference (cached)."""
        width = self._text_width(option)
        finding = index.data(FINDING_ROLE)
        expanded = finding is not None and finding is self.panel.controller.selection.finding
        repeat = index.data(REPEAT_ROLE)
        key = (index.row(), width, expanded, repeat.cursor if repeat is not None else -1)
        blocks = self.cache.get(key)
        if blocks is None:
            blocks = self.cache[key] = self._wrap(index, option, width, expanded)
        return blocks

    def _wrap(self, index, option, width: int, expanded: bool):
        base, title_font, small = self.fonts(option)
        parts = ((index.data(META_ROLE), small, 1, True),
                 (index.data(Qt.DisplayRole), title_font, 3, False),
                 (index.data(DETAIL_ROLE), base,
                  _MAX_DETAIL_LINES if expanded else _COLLAPSED_LINES, False),
                 (index.data(REFERENCE_ROLE), small, 2, True))
        return [(wrap_lines(text, font, width, limit), font, is_small)
                for text, font, limit, is_small in parts if text]

    def reference_rect(self, option, index) -> QRect | None:
        """Where paint() puts the RFC reference line(s) of this card (the last block)."""
        if not index.data(REFERENCE_ROLE):
            return None
        blocks = self._blocks(index, option)
        y = option.rect.top() + PAD
        for lines, font, _ in blocks[:-1]:
            y += len(lines) * QFontMetrics(font).lineSpacing() + GAP
        lines, font, _ = blocks[-1]
        x = option.rect.left() + PAD + ICON + 6
        return QRect(x, y, self._text_width(option), len(lines) * QFontMetrics(font).lineSpacing())

    @staticmethod
    def _height(blocks) -> int:
        lines = sum(len(lines) * QFontMetrics(font).lineSpacing() for lines, font, _ in blocks)
        return lines + GAP * max(0, len(blocks) - 1) + PAD * 2

    def sizeHint(self, option, index) -> QSize:   # noqa: N802 - Qt override
        width = self.panel.list.viewport().width()
        if index.data(HEADER_ROLE):
            return QSize(width, QFontMetrics(option.font).height() + 12)
        return QSize(width, max(self._height(self._blocks(index, option)), ICON + PAD * 2))

    def paint(self, painter, option, index) -> None:
        painter.save()
        rect = option.rect
        palette = option.palette
        if index.data(HEADER_ROLE):
            self._paint_header(painter, option, index)
            painter.restore()
            return
        finding = index.data(FINDING_ROLE)
        level = index.data(LEVEL_ROLE) or "info"
        selected = bool(option.state & QStyle.State_Selected)
        background = QColor("#e8f0fb") if selected else palette.color(QPalette.Base)
        painter.fillRect(rect, background)
        painter.setPen(QColor("#e3e6ea"))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        if selected:
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), QColor("#1e66c1"))
        elif self.panel.is_related(finding):
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), QColor("#f29900"))
        paint_severity(painter, QRectF(rect.left() + PAD, rect.top() + PAD + 1, ICON, ICON), level)
        grey = finding is not None and finding.inconclusive
        text_color = QColor("#8d8d8d") if grey else palette.color(QPalette.Text)
        soft = QColor("#a0a0a0") if grey else QColor("#5f6368")
        x = rect.left() + PAD + ICON + 6
        y = rect.top() + PAD
        width = self._text_width(option)
        flags = int(Qt.AlignLeft | Qt.AlignTop | Qt.TextSingleLine)
        blocks = self._blocks(index, option)
        link = QColor("#0b5cad")          # the RFC line opens the fault reference
        for number, (lines, font, is_small) in enumerate(blocks):
            painter.setFont(font)
            reference = number == len(blocks) - 1 and bool(index.data(REFERENCE_ROLE))
            painter.setPen(link if reference else soft if is_small else text_color)
            spacing = QFontMetrics(font).lineSpacing()
            for line in lines:
                painter.drawText(QRect(x, y, width, spacing), flags, line)
                y += spacing
            y += GAP
        painter.restore()

    @staticmethod
    def _paint_header(painter, option, index) -> None:
        rect = option.rect
        text = index.data(Qt.DisplayRole) or ""
        group = text.rsplit(" (", 1)[0]
        font = QFont(option.font)
        font.setBold(True)
        font.setCapitalization(QFont.AllUppercase)
        font.setLetterSpacing(QFont.PercentageSpacing, 104)
        font.setPointSizeF(max(6.5, option.font.pointSizeF() * 0.85))
        painter.setFont(font)
        painter.fillRect(rect, QColor("#f3f4f6"))
        painter.setPen(QColor("#e3e6ea"))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        painter.setPen(QColor(_HEADER_COLORS.get(group, "#616161")))
        painter.drawText(rect.adjusted(PAD, 2, -PAD, 0), int(Qt.AlignLeft | Qt.AlignVCenter), text)


class FaultOverview(QTableWidget):
    """One row per fault id: severity, findings, on how many calls, what it means (plain-text
    items: no more rows than the catalog has faults).  A click asks for the calls of a fault."""

    fault_chosen = Signal(str)
    HEADERS = ("fault", "findings", "on", "what")

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setHorizontalHeaderLabels(list(self.HEADERS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setFrameShape(QTableWidget.NoFrame)
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setDefaultAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.cellClicked.connect(self._on_click)
        self.cellActivated.connect(self._on_click)      # Enter on the current row
        self.ids: list[str] = []

    def show_counts(self, counts, total_calls: int) -> None:
        self.ids = [count.id for count in counts]
        self.setRowCount(len(counts))
        for row, count in enumerate(counts):
            values = (count.id, f"{count.findings:,}", count.where(total_calls), count.title)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(f"{count.severity}: {count.title}\nClick to list these calls.")
                if column == 0:
                    item.setIcon(severity_icon(count.severity))
                elif column == 1:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.setItem(row, column, item)
        self.resizeColumnsToContents()

    def _on_click(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.ids):
            self.fault_chosen.emit(self.ids[row])


class FaultPanel(QWidget):
    fault_chosen = Signal(str)      # "By fault": the user asked for the calls of this fault id
    reference_requested = Signal(str)   # a click on a card's RFC line: the fault reference

    def __init__(self, controller, settings=None, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self._syncing = False
        self._just_selected = False
        self._pressing = False
        self.model = FindingListModel(self)
        self.title = QLabel("Findings", self)
        self.title.setTextFormat(Qt.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.call_button = QRadioButton("This call", self)
        self.all_button = QRadioButton("All calls", self)
        self.overview_button = QRadioButton("By fault", self)
        self.overview_button.setToolTip("One row per fault: on how many calls it was found. "
                                        "Click a row to list those calls.")
        self.scope_group = QButtonGroup(self)
        self.scope_group.addButton(self.call_button)
        self.scope_group.addButton(self.all_button)
        self.scope_group.addButton(self.overview_button)
        self.count_label = QLabel(self)
        self.count_label.setTextFormat(Qt.PlainText)
        self.count_label.setObjectName("countLabel")
        self.empty_label = QLabel(self)
        self.empty_label.setTextFormat(Qt.PlainText)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignCenter)
        self.empty_label.setObjectName("emptyLabel")

        self.list = QListView(self)
        self.list.setModel(self.model)
        self.delegate = FindingDelegate(self)
        self.list.setItemDelegate(self.delegate)
        self.model.modelReset.connect(self.delegate.cache.clear)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.list.setResizeMode(QListView.Adjust)
        self.list.setUniformItemSizes(False)
        self.list.setWordWrap(True)
        self.list.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.list.setFrameShape(QListView.NoFrame)

        top = QHBoxLayout()
        top.setContentsMargins(6, 2, 6, 2)
        top.addWidget(self.title)
        top.addSpacing(12)
        top.addWidget(self.call_button)
        top.addWidget(self.all_button)
        top.addWidget(self.overview_button)
        top.addStretch(1)
        top.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        self.overview = FaultOverview(self)
        self.overview.fault_chosen.connect(self.fault_chosen)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.overview, 1)
        layout.addWidget(self.empty_label, 1)

        scope = settings.get("findings_scope") if settings is not None else "call"
        {"capture": self.all_button, "overview": self.overview_button}.get(
            scope, self.call_button).setChecked(True)
        self.scope_group.buttonToggled.connect(self._on_scope)
        self.list.selectionModel().selectionChanged.connect(self._on_list_selection)
        self.list.clicked.connect(self._on_clicked)
        self.list.viewport().installEventFilter(self)
        controller.sig_session_changed.connect(lambda _: self.reload())
        controller.sig_findings_changed.connect(lambda _: self.reload())
        controller.sig_load_cancelled.connect(self.reload)
        controller.sig_load_started.connect(lambda _: self.reload())     # "Loading NAME…"
        controller.sig_load_failed.connect(lambda _: self.reload())
        controller.sig_calls_changed.connect(lambda _: self._reload_if_call_scope())
        controller.sig_selection_changed.connect(self.on_selection)
        self.reload()

    def eventFilter(self, watched, event) -> bool:   # noqa: N802 - Qt override
        if event.type() == QEvent.MouseButtonPress:
            self._pressing = True
        elif event.type() == QEvent.MouseButtonRelease:
            QTimer.singleShot(0, self._released)
            fault_id = self.reference_at(event.position().toPoint())
            if fault_id:
                self.reference_requested.emit(fault_id)
        return False

    def reference_at(self, point) -> str:
        """The fault id whose card's RFC line is at `point` (viewport coordinates), or ''."""
        index = self.list.indexAt(point)
        finding = index.data(FINDING_ROLE) if index.isValid() else None
        if finding is None:
            return ""
        option = QStyleOptionViewItem()
        option.initFrom(self.list)
        option.rect = self.list.visualRect(index)
        rect = self.delegate.reference_rect(option, index)
        return finding.id if rect is not None and rect.contains(point) else ""

    def _released(self) -> None:
        self._pressing = self._just_selected = False

    @property
    def capture_scope(self) -> bool:
        return self.all_button.isChecked()

    @property
    def overview_mode(self) -> bool:
        return self.overview_button.isChecked()

    def set_capture_scope(self, on: bool) -> None:
        (self.all_button if on else self.call_button).setChecked(True)

    def _on_scope(self, *_) -> None:
        if self.settings is not None:
            self.settings.set("findings_scope", "capture" if self.capture_scope else
                              "overview" if self.overview_mode else "call")
        self.reload()

    def _reload_if_call_scope(self) -> None:
        if not self.capture_scope and not self.overview_mode:
            self.reload()

    def reload(self) -> None:
        session = self.controller.session
        if session is None:
            findings = []
        elif self.capture_scope or self.overview_mode:
            findings = list(session.findings)
        else:
            findings = self.controller.shown_findings()
        self._syncing = True
        try:
            # "By fault" shows the overview table, not the cards: no card model to build
            self.model.set_findings(session, [] if self.overview_mode else findings,
                                    show_call=self.capture_scope, aggregate=self.capture_scope)
        finally:
            self._syncing = False
        total = len(session.findings) if session is not None else 0
        shown = len(findings)
        analysing = session is not None and self.controller.analysing
        if session is None:
            self.count_label.setText("")
        elif analysing:
            self.count_label.setText("analysing…")
        elif self.capture_scope or self.overview_mode:
            self.count_label.setText(f"{total:,} in capture")
        else:
            self.count_label.setText(f"{shown:,} here · {total:,} in capture")
        if session is None and self.controller.loading:
            message = f"Loading {visible_controls(self.controller.loading_label)}…"
        elif session is None:
            message = "Open a capture (Ctrl+O), drop a file here, or paste a trace (Ctrl+Shift+V)."
        elif analysing:
            message = "Looking for faults… the calls can be browsed meanwhile."
        elif not findings and self.controller.analysis_cancelled:
            message = "The fault analysis was cancelled: open the capture again to run it."
        elif not findings and total:
            message = "No findings on this call. Switch to \"All calls\" to see the others."
        elif not findings:
            message = "No faults found in this capture."
        else:
            message = ""
        self.empty_label.setText(message)
        self.empty_label.setVisible(bool(message))
        self.list.setVisible(not message and not self.overview_mode)
        self.overview.setVisible(not message and self.overview_mode)
        if self.overview_mode:
            self.overview.show_counts(fault_overview(findings) if not message else [],
                                      len(session.calls) if session is not None else 0)
        self.on_selection(self.controller.selection)

    # -- linked selection -----------------------------------------------------------------
    def is_related(self, finding) -> bool:
        current = self.controller.selection.current
        return finding is not None and current is not None and current in finding.messages

    def on_selection(self, selection) -> None:
        row = self.model.row_of(selection.finding) if selection.finding is not None else None
        self._syncing = True
        try:
            selection_model = self.list.selectionModel()
            if row is None:
                selection_model.clearSelection()
            else:
                index = self.model.index(row, 0)
                selection_model.select(index, QItemSelectionModel.ClearAndSelect)
                selection_model.setCurrentIndex(index, QItemSelectionModel.NoUpdate)
                self.list.scrollTo(index)
        finally:
            self._syncing = False
        self.list.doItemsLayout()         # the selected finding shows its whole explanation
        if row is not None:
            self.list.scrollTo(self.model.index(row, 0))
        self.list.viewport().update()     # related-finding markers follow the current message

    def _on_list_selection(self, *_) -> None:
        if self._syncing:
            return
        indexes = self.list.selectionModel().selectedIndexes()
        finding = indexes[0].data(FINDING_ROLE) if indexes else None
        if finding is not None and finding is not self.controller.selection.finding:
            self._just_selected = self._pressing     # this mouse click selected it
            self.controller.select_finding(finding, origin="faults")

    def _on_clicked(self, index) -> None:
        """A click on a selected finding selects it again (every view jumps back to it); on a
        repeated fault ("on N of M calls") it moves on to the next call."""
        if self._just_selected:
            self._just_selected = False
            return
        finding = index.data(FINDING_ROLE)
        repeat = index.data(REPEAT_ROLE)
        if repeat is not None and finding is self.controller.selection.finding:
            finding = repeat.advance()
            self.model.dataChanged.emit(index, index)
        if finding is not None:
            self.controller.select_finding(finding, origin="faults")

    def visible_text(self) -> str:
        """Everything the panel shows, as plain text (tests, copy)."""
        lines = []
        for row in range(self.model.rowCount()):
            index = self.model.index(row, 0)
            for role in (META_ROLE, Qt.DisplayRole, DETAIL_ROLE, REFERENCE_ROLE):
                value = index.data(role)
                if value:
                    lines.append(str(value))
        return "\n".join(lines)
