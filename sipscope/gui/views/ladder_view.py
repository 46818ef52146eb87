"""Ladder view: the call flow as a sequence diagram, drawn by render.painter (same as the PNG).

    +----------------------------------------------------------------------------+
    | [x] Merge columns for the same host   Fork: [branch .2 ->...] [branch .5]  |
    |----------------------------------------------------------------------------|
    | time (UTC)   198.51.100.10:5060    203.0.113.45:5060    203.0.113.45:5064  |  <- stays
    |              OpenSIPS              Grandstream          Grandstream        |     on top
    | 09:40:18.325      |------ INVITE ------>|                    |             |
    | +0.000            |---------------- INVITE ----------------->|             |
    | 09:40:27.712      |<----- 200 OK -(x)---|                    |   selected  |
    +----------------------------------------------------------------------------+

A QAbstractScrollArea: the viewport paints only the visible rows (paint_ladder with a clip) and
the lane header stays put while the rows scroll.  Click selects a message (Ctrl adds), Up/Down
walk the rows, wide flows scroll sideways.  The branch chips select a fork branch.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QAbstractScrollArea, QCheckBox, QHBoxLayout, QLabel, QToolButton,
                               QVBoxLayout, QWidget)

from sipscope.core.ladder.layout import build_layout
from sipscope.core.model.message import host_of
from sipscope.render.painter import paint_ladder
from sipscope.render.style import default_style

MAX_LADDER_MESSAGES = 20000       # beyond this the ladder shows the first rows and says so
MIN_LANE_WIDTH, MAX_LANE_WIDTH = 190, 300   # lanes widen to use the view (room for SDP text)
TIME_COLUMN = 124                           # layout.TIME_COLUMN_WIDTH plus the right margin


class LadderCanvas(QAbstractScrollArea):
    """Scrollable drawing of one LadderLayout with a fixed lane header."""

    message_clicked = Signal(int, bool)      # message index, add to the selection (Ctrl)
    band_clicked = Signal(object)            # the StreamRow of a media band
    step = Signal(int)                       # -1 / +1 from the keyboard
    resized = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.layout_data = None
        self.selected: frozenset[int] = frozenset()
        self.selected_stream = None              # the StreamRow whose media band is outlined
        self.style_data = default_style()
        self.setFocusPolicy(Qt.StrongFocus)
        self.viewport().setAutoFillBackground(False)
        self.horizontalScrollBar().valueChanged.connect(self.viewport().update)
        self.verticalScrollBar().valueChanged.connect(self.viewport().update)

    # -- content ---------------------------------------------------------------------------
    def set_layout(self, layout) -> None:
        self.layout_data = layout
        self._update_scrollbars()
        self.viewport().update()

    def set_selected(self, selected) -> None:
        self.selected = frozenset(selected)
        self.viewport().update()

    def header_height(self) -> float:
        return self.layout_data.header_height if self.layout_data is not None else 0.0

    def _update_scrollbars(self) -> None:
        layout = self.layout_data
        viewport = self.viewport().size()
        if layout is None:
            self.horizontalScrollBar().setRange(0, 0)
            self.verticalScrollBar().setRange(0, 0)
            return
        body = max(1, viewport.height() - int(layout.header_height))
        horizontal = self.horizontalScrollBar()
        horizontal.setRange(0, max(0, int(layout.width) - viewport.width()))
        horizontal.setPageStep(viewport.width())
        horizontal.setSingleStep(24)
        vertical = self.verticalScrollBar()
        content = int(layout.height - layout.header_height)
        vertical.setRange(0, max(0, content - body))
        vertical.setPageStep(body)
        vertical.setSingleStep(int(layout.row_height))

    def resizeEvent(self, event) -> None:   # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._update_scrollbars()
        self.resized.emit()

    # -- painting --------------------------------------------------------------------------
    def paintEvent(self, event) -> None:   # noqa: N802 - Qt override
        painter = QPainter(self.viewport())
        width, height = self.viewport().width(), self.viewport().height()
        layout = self.layout_data
        if layout is None:
            painter.fillRect(0, 0, width, height, QColor("#ffffff"))
            painter.setPen(QColor("#6e7781"))
            painter.drawText(QRectF(0, 0, width, height), int(Qt.AlignCenter),
                             "Select a call to see its ladder.")
            painter.end()
            return
        dx = self.horizontalScrollBar().value()
        dy = self.verticalScrollBar().value()
        header = layout.header_height
        painter.fillRect(0, 0, width, height, self.style_data.background)
        # rows: layout y = screen y + dy (below the header band)
        painter.save()
        painter.setClipRect(QRectF(0, header, width, max(0, height - header)))
        painter.translate(-dx, -dy)
        paint_ladder(painter, layout, selected=self.selected, style=self.style_data,
                     clip=QRectF(dx, dy + header, width, max(0.0, height - header)),
                     selected_stream=self.selected_stream)
        painter.restore()
        # the lane header, fixed at the top
        painter.save()
        painter.setClipRect(QRectF(0, 0, width, header))
        painter.translate(-dx, 0)
        paint_ladder(painter, layout, selected=self.selected, style=self.style_data,
                     clip=QRectF(dx, 0, width, header))
        painter.restore()
        painter.end()

    # -- interaction -------------------------------------------------------------------------
    def to_layout(self, x: float, y: float) -> tuple[float, float] | None:
        if self.layout_data is None or y < self.layout_data.header_height:
            return None
        return x + self.horizontalScrollBar().value(), y + self.verticalScrollBar().value()

    def mousePressEvent(self, event) -> None:   # noqa: N802 - Qt override
        if event.button() != Qt.LeftButton or self.layout_data is None:
            return super().mousePressEvent(event)
        point = self.to_layout(event.position().x(), event.position().y())
        if point is None:
            return
        index = self.layout_data.arrow_at(*point)
        band = self.layout_data.band_at(*point) if self.layout_data.media else None
        if band is not None and (index is None or point[0] >= self.layout_data.media_label_x):
            self.band_clicked.emit(band.row)
        elif index is not None:
            self.message_clicked.emit(index, bool(event.modifiers() & Qt.ControlModifier))
        self.setFocus(Qt.MouseFocusReason)

    def keyPressEvent(self, event) -> None:   # noqa: N802 - Qt override
        if event.key() == Qt.Key_Up:
            self.step.emit(-1)
        elif event.key() == Qt.Key_Down:
            self.step.emit(1)
        else:
            super().keyPressEvent(event)

    def ensure_visible(self, message_index: int) -> None:
        layout = self.layout_data
        arrow = layout.arrow_for(message_index) if layout is not None else None
        if arrow is None:
            return
        body = self.viewport().height() - layout.header_height
        vertical = self.verticalScrollBar()
        top = arrow.y - layout.header_height - layout.row_height
        bottom = arrow.y - layout.header_height + layout.row_height
        if top < vertical.value():
            vertical.setValue(int(max(0, top)))
        elif bottom > vertical.value() + body:
            vertical.setValue(int(bottom - body))
        horizontal = self.horizontalScrollBar()
        left, right = min(arrow.x1, arrow.x2) - 40, max(arrow.x1, arrow.x2) + 40
        width = self.viewport().width()
        if right - left > width:
            horizontal.setValue(int(max(0, left)))
        elif left < horizontal.value():
            horizontal.setValue(int(max(0, left)))
        elif right > horizontal.value() + width:
            horizontal.setValue(int(right - width))


class LadderView(QWidget):
    def __init__(self, controller, settings=None, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self.layout_data = None
        self._lane_width = float(MIN_LANE_WIDTH)
        self.canvas = LadderCanvas(self)
        self.merge_box = QCheckBox("Merge columns for the same host", self)
        self.merge_box.setChecked(bool(settings.get("merge_hosts")) if settings else False)
        self.media_box = QCheckBox("Media", self)
        self.media_box.setToolTip("RTP streams as bands between the media addresses, with their "
                                  "numbers; a direction the SDP negotiated but never seen in red")
        media = settings.get("ladder_media") if settings is not None else None
        self.media_box.setChecked(True if media is None else bool(media))
        self.fork_label = QLabel("Fork:", self)
        self.fork_label.setTextFormat(Qt.PlainText)
        self.fork_bar = QHBoxLayout()
        self.fork_bar.setSpacing(4)
        self.note = QLabel(self)
        self.note.setTextFormat(Qt.PlainText)
        self.note.setObjectName("countLabel")
        self.branch_buttons: list[tuple[QToolButton, object]] = []

        top = QHBoxLayout()
        top.setContentsMargins(6, 2, 6, 2)
        top.addWidget(self.merge_box)
        top.addWidget(self.media_box)
        top.addSpacing(16)
        top.addWidget(self.fork_label)
        top.addLayout(self.fork_bar)
        top.addStretch(1)
        top.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)

        self.merge_box.toggled.connect(self._on_merge)
        self.media_box.toggled.connect(self._on_media)
        self.canvas.band_clicked.connect(
            lambda row: self.controller.select_stream(row, origin="ladder"))
        self.canvas.message_clicked.connect(self._on_click)
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(120)
        self._resize_timer.timeout.connect(self._refit_lanes)
        self.canvas.resized.connect(self._resize_timer.start)
        self.canvas.step.connect(self._on_step)
        controller.sig_session_changed.connect(lambda _: self.rebuild())
        controller.sig_findings_changed.connect(lambda _: self.rebuild())
        controller.sig_calls_changed.connect(lambda _: self.rebuild())
        controller.sig_selection_changed.connect(self.on_selection)

    # -- building --------------------------------------------------------------------------
    def rebuild(self) -> None:
        self._build_layout()
        self._rebuild_fork_bar()
        self.on_selection(self.controller.selection)

    def _build_layout(self) -> None:
        messages = self.controller.shown_messages()
        session = self.controller.session
        if not messages or session is None:
            self.layout_data = None
            self.note.setText("")
        else:
            shown = messages[:MAX_LADDER_MESSAGES]
            self._lane_width = self.lane_width_for(shown)
            self.layout_data = build_layout(session, shown, merge_hosts=self.merge_box.isChecked(),
                                            lane_width=self._lane_width,
                                            media_rows=self.media_rows())
            cut = len(messages) - len(shown)
            self.note.setText(f"first {len(shown):,} of {len(messages):,} messages shown"
                              if cut else "")
        self.canvas.set_layout(self.layout_data)

    def media_rows(self) -> list:
        """The streams-table rows of the shown calls when the Media toggle is on."""
        if not self.media_box.isChecked() or self.controller.session is None:
            return []
        table = self.controller.stream_table()
        return [row for call in self.controller.selection.calls for row in table.rows_for(call)]

    def _on_media(self, on: bool) -> None:
        if self.settings is not None:
            self.settings.set("ladder_media", on)
        self.rebuild()

    def lane_width_for(self, messages) -> float:
        """Lanes share the visible width (between 190 and 300 px each)."""
        merge = self.merge_box.isChecked()
        keys = {host_of(a) if merge else a for m in messages[:2000] for a in (m.src, m.dst)}
        scrollbar = self.canvas.verticalScrollBar().sizeHint().width()
        available = self.canvas.width() - self.canvas.frameWidth() * 2 - TIME_COLUMN - scrollbar
        width = available / max(1, len(keys))
        return float(min(MAX_LANE_WIDTH, max(MIN_LANE_WIDTH, int(width))))

    def _refit_lanes(self) -> None:
        if self.layout_data is None:
            return
        shown = self.controller.shown_messages()[:MAX_LADDER_MESSAGES]
        if abs(self.lane_width_for(shown) - self._lane_width) >= 8:
            self._build_layout()

    def _rebuild_fork_bar(self) -> None:
        for button, _ in self.branch_buttons:
            self.fork_bar.removeWidget(button)
            button.deleteLater()
        self.branch_buttons = []
        branches = self.controller.lookup.branches(self.controller.selection.calls)
        style = self.canvas.style_data
        for branch in branches[:12]:
            button = QToolButton(self)
            button.setText(f"{branch.label} → {branch.target}")     # QToolButton text is plain
            button.setCheckable(True)
            button.setAutoRaise(False)
            colour = style.branch_colour(branch.position - 1).name()
            button.setStyleSheet(
                f"QToolButton {{ border: 1px solid #c8d1da; border-left: 4px solid {colour};"
                f" border-radius: 3px; padding: 1px 6px; background: #ffffff; }}"
                f"QToolButton:checked {{ background: #d7e8ff; border-color: #4c8df6;"
                f" border-left: 4px solid {colour}; }}")
            button.clicked.connect(lambda _=False, b=branch, btn=button: self._on_branch(b, btn))
            self.fork_bar.addWidget(button)
            self.branch_buttons.append((button, branch))
        self.fork_label.setVisible(bool(branches))

    # -- controller -> view -----------------------------------------------------------------
    def on_selection(self, selection) -> None:
        self.canvas.selected_stream = selection.stream
        self.canvas.set_selected(selection.messages)
        chosen = set(id(b) for b in selection.branches)
        for button, branch in self.branch_buttons:
            button.setChecked(id(branch) in chosen)
        if selection.current is not None and selection.origin != "ladder":
            self.canvas.ensure_visible(selection.current)

    # -- view -> controller -----------------------------------------------------------------
    def _on_click(self, index: int, add: bool) -> None:
        selection = self.controller.selection
        if add:
            indices = list(selection.messages)
            if index in indices:
                indices.remove(index)
            else:
                indices.append(index)
            self.controller.select_messages(indices, current=index, origin="ladder")
        else:
            self.controller.select_messages([index], origin="ladder")

    def _on_step(self, direction: int) -> None:
        layout = self.layout_data
        if layout is None or not layout.arrows:
            return
        current = self.controller.selection.current
        arrow = layout.arrow_for(current) if current is not None else None
        row = (arrow.row + direction) if arrow is not None else 0
        row = min(max(row, 0), len(layout.arrows) - 1)
        index = layout.arrows[row].message_index
        self.controller.select_messages([index], origin="ladder-key")

    def _on_branch(self, branch, button) -> None:
        # A chip is a toggle: a click adds its branch or takes it away, with or without Ctrl;
        # a third chip replaces the oldest of two (two chips open their diff).
        selected = list(self.controller.selection.branches)
        if branch in selected:
            selected.remove(branch)
        else:
            selected = (selected + [branch])[-2:]
        if selected:
            self.controller.select_branches(selected, origin="ladder")
        else:
            self.controller.select_messages([], origin="ladder")

    def _on_merge(self, on: bool) -> None:
        if self.settings is not None:
            self.settings.set("merge_hosts", on)
        self.rebuild()

    def set_merge_hosts(self, on: bool) -> None:
        self.merge_box.setChecked(on)
