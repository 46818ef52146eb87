"""Timeline: messages on a time axis, one lane per transaction, branch or dialog (pyqtgraph).

    +-------------------------------------------------------------------------------+
    | Lanes: [Transactions v]  [Fit]                 seconds since 09:40:18.325 UTC |
    |-------------------------------------------------------------------------------|
    | INVITE 102 · branch .2   >  o o                    o (200 OK)                 |
    | INVITE 102 · branch .5   >      o      [== 64·T1 = 32 s: 2xx not ACKed ==]    |
    | CANCEL 102               >  o                                                 |
    | BYE 103                                                  >  o                 |
    | RTP 203.0.113.45 -> ...      ▁▃▅▅▅▅▅▅▅▅▅▅▅▅▅▅▃▁                                 |
    |        0 s        10 s        20 s        30 s        40 s                    |
    +-------------------------------------------------------------------------------+

Requests are right-pointing triangles, responses circles, coloured by kind; retransmissions are
dimmed.  RFC timers that decide a failure are shaded spans.  Drag to pan, wheel to zoom (time
axis only), Fit to see everything; clicking a marker selects the message everywhere.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPen
from PySide6.QtWidgets import (QComboBox, QGraphicsRectItem, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from sipscope.core.ladder.layout import kind_of
from sipscope.gui.models.call_rows import format_clock
from sipscope.core.media.packets import analyse, read_packets, session_paths
from sipscope.core.untrusted import visible_lines
from sipscope.gui.models.streams import ERROR_COLOUR
from sipscope.gui.tooltips import safe_tooltip
from sipscope.gui.models.timeline import MODES, build_timeline, times_unknown
from sipscope.render.style import KIND_COLOURS

MAX_TEXT_LABELS = 400           # message labels only on flows small enough to read
CLUSTER_PX = 70                 # messages closer than this share one label
LABEL_GAP_PX = 8                # at least this much air between two labels of one lane


def label_text(cluster) -> str:
    """"INVITE 100 180": the messages of one label (retransmissions only when alone)."""
    names = [m.short_label for m in cluster if not m.copy] or [cluster[0].short_label]
    return " ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
MAX_AXIS_WIDTH = 320
_MODE_TITLES = {"transaction": "Transactions", "branch": "Fork branches", "dialog": "Dialogs"}


DTMF_SYMBOLS = "0123456789*#ABCD"     # RFC 4733 §3.2: event codes 0-15 (16 is flash)
MAX_LOSS_MARKS = 2000                 # lost-packet marks drawn per lane


def dtmf_symbol(code: int) -> str:
    return DTMF_SYMBOLS[code] if 0 <= code < len(DTMF_SYMBOLS) else "flash" if code == 16 else "?"


class _LossSignals(QObject):
    done = Signal(object, object)               # {id(stream): Analysis}, the StreamTable


class _LossTask(QRunnable):
    """Read the packets of the lossy streams shown (one pass over the files) and analyse them."""

    def __init__(self, paths, rows, table) -> None:
        super().__init__()
        self.paths, self.rows, self.table = paths, rows, table
        self.signals = _LossSignals()

    def run(self) -> None:
        keys = [(r.stream.src, r.stream.dst, r.stream.ssrc) for r in self.rows]
        try:
            found = read_packets(self.paths, keys)
        except Exception:  # noqa: BLE001 - no marks rather than a broken timeline
            self.signals.done.emit({}, self.table)
            return
        out = {id(r.stream): analyse(found[key], r.stream.clock_rate)
               for r, key in zip(self.rows, keys)}
        self.signals.done.emit(out, self.table)


class LaneArea(QGraphicsRectItem):
    """The clickable area of a media lane: a click selects its stream (streams table row), the
    tooltip gives its numbers.  Mouse presses are left to the view box (pan still works)."""

    def __init__(self, rect: QRectF, row, on_click) -> None:
        super().__init__(rect)
        self.row = row
        self._on_click = on_click
        self.setPen(QPen(Qt.NoPen))
        self.setBrush(QBrush(Qt.transparent))
        self.setToolTip(safe_tooltip(visible_lines(row.tooltip())))
        self.setZValue(-50)

    def mouseClickEvent(self, event) -> None:   # noqa: N802 - pyqtgraph's click protocol
        if event.button() == Qt.LeftButton:
            event.accept()
            self._on_click(self.row)


def _colour(kind: str, dimmed: bool) -> QColor:
    colour = QColor(KIND_COLOURS.get(kind, "#1F3B5C"))
    if dimmed:
        colour.setAlpha(80)
    return colour


class TimelineView(QWidget):
    def __init__(self, controller, settings=None, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self.data = None
        self._spots_for: dict[int, tuple[float, float]] = {}
        self._labels: list = []
        self._with_text = False
        self.lane_areas: list[LaneArea] = []
        self._stream_mark = None
        self.loss_marks: list = []                  # (lane, x) of the lost-packet marks drawn
        self._loss_tasks: set = set()

        self.mode_box = QComboBox(self)
        for mode in MODES:
            self.mode_box.addItem(_MODE_TITLES[mode], mode)
        mode = settings.get("timeline_lanes") if settings is not None else "transaction"
        self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(mode)))
        self.fit_button = QPushButton("Fit", self)
        self.fit_button.setToolTip("Show the whole flow (Home)")
        self.origin_label = QLabel(self)
        self.origin_label.setTextFormat(Qt.PlainText)
        self.origin_label.setObjectName("countLabel")

        self.plot = pg.PlotWidget(self, background="w")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=False, alpha=0.15)
        item.invertY(True)
        self.view_box = item.getViewBox()
        self.view_box.setMouseEnabled(x=True, y=False)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen("#8c959f"))
            axis.setTextPen(pg.mkPen("#1f2328"))
        item.getAxis("left").setWidth(210)
        item.setLabel("bottom", "seconds")

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        lanes_label = QLabel("Lanes:", self)
        lanes_label.setTextFormat(Qt.PlainText)
        bar.addWidget(lanes_label)
        bar.addWidget(self.mode_box)
        bar.addWidget(self.fit_button)
        bar.addStretch(1)
        bar.addWidget(self.origin_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)

        self.scatter = pg.ScatterPlotItem(pxMode=True, hoverable=True,
                                          hoverPen=pg.mkPen("#1f2328", width=1.5))
        self.ring = pg.ScatterPlotItem(pxMode=True, symbol="o", size=19,
                                       pen=pg.mkPen("#e8710a", width=2.5), brush=None)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.play_cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#e8710a", width=2))
        self.play_cursor.setVisible(False)
        self.play_cursor.setZValue(50)
        from sipscope.gui.views.playback import PlaybackBar
        self.playback = PlaybackBar(controller, self, self)
        bar.insertSpacing(3, 16)                     # after Lanes / Fit, before the stretch
        bar.insertWidget(4, self.playback)
        self._relabel_timer = QTimer(self)
        self._relabel_timer.setSingleShot(True)
        self._relabel_timer.setInterval(60)
        self._relabel_timer.timeout.connect(self.relabel)
        self.view_box.sigXRangeChanged.connect(lambda *_: self._relabel_timer.start())
        self.view_box.sigResized.connect(lambda *_: self._relabel_timer.start())
        self.mode_box.currentIndexChanged.connect(self._on_mode)
        self.fit_button.clicked.connect(self.fit)
        controller.sig_session_changed.connect(lambda _: self.rebuild())
        controller.sig_findings_changed.connect(lambda _: self.rebuild())
        controller.sig_calls_changed.connect(lambda _: self.rebuild())
        controller.sig_selection_changed.connect(self.on_selection)

    @property
    def mode(self) -> str:
        return self.mode_box.currentData() or "transaction"

    def _on_mode(self, *_) -> None:
        if self.settings is not None:
            self.settings.set("timeline_lanes", self.mode)
        self.rebuild()

    # -- building --------------------------------------------------------------------------
    def rebuild(self) -> None:
        item = self.plot.getPlotItem()
        item.clear()
        self._spots_for = {}
        self._labels = []
        self.lane_areas = []
        self._stream_mark = None
        self.loss_marks = []
        messages = self.controller.shown_messages()
        session = self.controller.session
        if not messages or session is None:
            self.data = None
            self.origin_label.setText("")
            item.getAxis("left").setTicks([[]])
            return
        calls = self.controller.selection.calls
        table = self.controller.stream_table()
        rows = [row for call in calls for row in table.rows_for(call)]
        self.data = data = build_timeline(session, calls, messages, self.controller.lookup,
                                          self.mode, rows)
        t0 = data.t0
        if times_unknown(messages):
            self.origin_label.setText("No times in this input: positions are message order")
            item.setLabel("bottom", "message order (#n), not seconds")
        else:
            self.origin_label.setText(f"0 s = {format_clock(t0, messages[0].flags, 3)} UTC")
            item.setLabel("bottom", "seconds since the first message")
        ticks = [(number, lane.label) for number, lane in enumerate(data.lanes)]
        axis = item.getAxis("left")
        metrics = QFontMetrics(axis.font() if hasattr(axis, "font") else self.font())
        widest = max((metrics.horizontalAdvance(text) for _, text in ticks), default=80)
        axis.setWidth(min(MAX_AXIS_WIDTH, widest + 24))     # labels that do not fit are dropped
        axis.setTicks([ticks, []])
        self._draw_lane_guides(item, data, t0)
        self._draw_media(item, data, t0)
        self._draw_timers(item, data, t0)
        self._draw_messages(item, data, t0)
        item.addItem(self.ring)
        item.addItem(self.play_cursor)
        self._request_losses(data, table)
        self._with_text = len(messages) <= MAX_TEXT_LABELS
        self.fit()
        self.relabel()
        self.on_selection(self.controller.selection)

    def _draw_lane_guides(self, item, data, t0: float) -> None:
        band = QBrush(QColor("#f4f6f8"))
        for number in range(1, len(data.lanes), 2):
            rect = QGraphicsRectItem(QRectF(-1e6, number - 0.5, 2e6, 1.0))
            rect.setPen(QPen(Qt.NoPen))
            rect.setBrush(band)
            rect.setZValue(-100)
            item.addItem(rect)
        xs: list[float] = []
        ys: list[float] = []
        for number, lane in enumerate(data.lanes):       # one item draws every lane's span
            if lane.kind != "sip" or not lane.messages:
                continue
            xs += [lane.messages[0].ts - t0, lane.messages[-1].ts - t0]
            ys += [number, number]
        if xs:
            item.addItem(pg.PlotCurveItem(xs, ys, connect="pairs",
                                          pen=pg.mkPen(QColor("#c4cbd3"), width=1.2)))
        if data.end > t0:
            end_line = pg.InfiniteLine(pos=data.end - t0, angle=90,
                                       pen=pg.mkPen("#8c959f", width=1, style=Qt.DashLine),
                                       label="capture ends",
                                       labelOpts={"position": 0.04, "color": "#6e7781",
                                                  "anchors": [(1.05, 0), (1.05, 0)]})
            item.addItem(end_line)

    def _draw_messages(self, item, data, t0: float) -> None:
        spots = []
        for number, lane in enumerate(data.lanes):
            for message in lane.messages:
                x = message.ts - t0
                kind = kind_of(message)
                colour = _colour(kind, message.copy)
                spots.append({"pos": (x, number), "data": message.index,
                              "symbol": "t2" if message.is_request else "o",
                              "size": 11 if message.copy else 13,
                              "brush": QBrush(colour),
                              "pen": pg.mkPen(QColor("#ffffff"), width=1)})
                self._spots_for[message.index] = (x, number)
        self.scatter.setData(spots)
        item.addItem(self.scatter)

    def relabel(self) -> None:
        """Text above the markers, one label per cluster of messages too close to label apart
        at the current zoom ("INVITE 100 180"); redone when the time axis is zoomed."""
        item = self.plot.getPlotItem()
        for label in self._labels:
            item.removeItem(label)
        self._labels = []
        if self.data is None or not self._with_text:
            return
        (left, right), _ = self.view_box.viewRange()
        pixels = max(1.0, self.view_box.width())
        per_pixel = (right - left) / pixels
        t0 = self.data.t0
        metrics = QFontMetrics(self.font())
        self.label_boxes = []           # (lane, left px, right px): tests check the overlaps
        for number, lane in enumerate(self.data.lanes):
            if lane.kind != "sip":
                continue
            cluster: list = []
            for message in lane.messages + [None]:
                x = message.ts - t0 if message is not None else None
                if cluster:
                    # a message starts a new label only where the current label's text ends
                    # (its width at this zoom), else the two labels run together ("180200")
                    ends = cluster[0].ts - t0 + (metrics.horizontalAdvance(
                        label_text(cluster)) + LABEL_GAP_PX) * per_pixel
                    if message is None or (x >= ends and
                                           x - (cluster[-1].ts - t0) > CLUSTER_PX * per_pixel):
                        self._add_label(item, cluster, number, t0)
                        start = (cluster[0].ts - t0 - left) / per_pixel
                        self.label_boxes.append(
                            (number, start, start + metrics.horizontalAdvance(label_text(cluster))))
                        cluster = []
                if message is not None:
                    cluster.append(message)

    def _add_label(self, item, cluster, lane: int, t0: float) -> None:
        text = label_text(cluster)
        worst = max(cluster, key=lambda m: m.status)
        colour = _colour(kind_of(worst if worst.status else cluster[0]), False)
        label = pg.TextItem(text, color=colour, anchor=(0, 1.15))   # plain text (setPlainText)
        label.setPos(cluster[0].ts - t0, lane)
        item.addItem(label)
        self._labels.append(label)

    def _draw_media(self, item, data, t0: float) -> None:
        for number, lane in enumerate(data.lanes):
            if lane.row is not None:
                self._draw_media_lane(item, data, number, lane, t0)
            if lane.kind != "rtp":
                continue
            stream = lane.stream
            counts = list(stream.activity)
            if not counts:
                continue
            peak = max(counts) or 1
            start = stream.bucket0 * 0.1 - t0
            edges = [start + i * 0.1 for i in range(len(counts) + 1)]
            base = number + 0.35
            heights = [base - 0.7 * c / peak for c in counts]
            curve = pg.PlotCurveItem(edges, heights, stepMode="center", fillLevel=base,
                                     brush=QColor(0, 158, 115, 110),
                                     pen=pg.mkPen(QColor("#00795a"), width=1))
            item.addItem(curve)

    def _draw_media_lane(self, item, data, number: int, lane, t0: float) -> None:
        """Hold shading, DTMF marks, the empty lane of a missing direction, the click area."""
        row = lane.row
        for start, end in lane.holds:
            rect = QGraphicsRectItem(QRectF(start - t0, number - 0.45, end - start, 0.9))
            rect.setPen(QPen(Qt.NoPen))
            rect.setBrush(QBrush(QColor(110, 119, 129, 60), Qt.BDiagPattern))
            rect.setZValue(-90)
            item.addItem(rect)
            label = pg.TextItem("on hold", color=QColor("#57606a"), anchor=(0, 0.5))
            label.setPos(start - t0, number - 0.3)
            item.addItem(label)
        if row.expected_only:
            start, end = lane.window if lane.window is not None else (t0, data.end)
            rect = QGraphicsRectItem(QRectF(start - t0, number - 0.3, max(end - start, 0.1), 0.6))
            pen = QPen(ERROR_COLOUR)
            pen.setCosmetic(True)
            pen.setStyle(Qt.DashLine)
            rect.setPen(pen)
            rect.setBrush(QBrush(QColor(179, 38, 30, 25)))
            item.addItem(rect)
            label = pg.TextItem("no packets (negotiated in the SDP, none captured)",
                                color=ERROR_COLOUR, anchor=(0, 0.5))
            label.setPos(start - t0, number)
            item.addItem(label)
            x0, x1 = start - t0, end - t0
        else:
            x0, x1 = row.first_ts - t0, row.last_ts - t0
            events = row.events
            if events:
                xs = [ts - t0 for ts, _, _ in events]
                item.addItem(pg.ScatterPlotItem(xs, [number - 0.38] * len(xs), symbol="d",
                                                size=9, brush=QBrush(QColor("#8250df")),
                                                pen=pg.mkPen("#ffffff")))
                for x, (_, _, code) in zip(xs[:60], events[:60]):
                    text = pg.TextItem(dtmf_symbol(code), color=QColor("#8250df"),
                                       anchor=(0.5, 1.2))
                    text.setPos(x, number - 0.38)
                    item.addItem(text)
        area = LaneArea(QRectF(min(x0, x1), number - 0.45, max(abs(x1 - x0), 0.1), 0.9), row,
                        lambda chosen: self.controller.select_stream(chosen, origin="timeline"))
        item.addItem(area)
        self.lane_areas.append(area)

    def _request_losses(self, data, table) -> None:
        """Lost-packet marks need the packets: drawn now when read before, else after a
        worker has read them back from the capture (the loader keeps no per-packet data)."""
        rows = [lane.row for lane in data.lanes
                if lane.row is not None and not lane.row.expected_only and lane.row.lost]
        missing = [r for r in rows if id(r.stream) not in table.analyses]
        paths = session_paths(self.controller.session) if missing else []
        if missing and paths:
            task = _LossTask(paths, missing, table)
            task.signals.done.connect(self._losses_read)
            self._loss_tasks.add(task.signals)
            QThreadPool.globalInstance().start(task)
        self._draw_losses()

    def read_losses_now(self) -> None:
        """Read the lossy streams' packets here and draw the marks (headless export)."""
        data, table = self.data, self.controller.stream_table()
        if data is None:
            return
        rows = [lane.row for lane in data.lanes if lane.row is not None
                and not lane.row.expected_only and lane.row.lost
                and id(lane.row.stream) not in table.analyses]
        paths = session_paths(self.controller.session) if rows else []
        if rows and paths:
            task = _LossTask(paths, rows, table)
            task.signals.done.connect(self._losses_read)
            task.run()                                   # emitted here, in this thread
        self._draw_losses()

    def _losses_read(self, analyses, table) -> None:
        self._loss_tasks.discard(self.sender())
        table.analyses.update(analyses)
        if table is self.controller.stream_table():
            self._draw_losses()

    def _draw_losses(self) -> None:
        """Red marks above each media lane where its sequence numbers jumped."""
        data = self.data
        if data is None:
            return
        analyses = self.controller.stream_table().analyses
        item = self.plot.getPlotItem()
        drawn = {number for number, _ in self.loss_marks}
        for number, lane in enumerate(data.lanes):
            row = lane.row
            analysis = analyses.get(id(row.stream)) if row is not None and row.stream else None
            if analysis is None or not analysis.lost or number in drawn:
                continue
            xs = [analysis.t0 + t - data.t0 for t, _ in analysis.lost[:MAX_LOSS_MARKS]]
            item.addItem(pg.ScatterPlotItem(xs, [number + 0.38] * len(xs), symbol="t", size=9,
                                            brush=QBrush(ERROR_COLOUR), pen=pg.mkPen("#ffffff")))
            self.loss_marks += [(number, x) for x in xs]

    def _draw_timers(self, item, data, t0: float) -> None:
        for span in data.timers:
            rect = QGraphicsRectItem(QRectF(span.start - t0, span.lane + 0.1, span.length, 0.16))
            pen = QPen(QColor("#c77700"))
            pen.setCosmetic(True)
            pen.setStyle(Qt.DashLine)
            rect.setPen(pen)
            rect.setBrush(QBrush(QColor(242, 153, 0, 40)))
            item.addItem(rect)
            label = pg.TextItem(span.label, color=QColor("#8a5300"), anchor=(0, 0))
            label.setPos(span.start - t0, span.lane + 0.27)
            item.addItem(label)

    def fit(self) -> None:
        if self.data is None:
            return
        xs = [x for x, _ in self._spots_for.values()]
        right = max(xs + [t.start - self.data.t0 + t.length for t in self.data.timers] + [0.0])
        for lane in self.data.lanes:
            if lane.kind == "rtp":
                right = max(right, lane.stream.last_ts - self.data.t0)
        margin = max(0.5, right * 0.06)
        lanes = max(1, len(self.data.lanes))
        self.view_box.setLimits(xMin=-margin * 4 - 5, xMax=right + margin * 4 + 5,
                                yMin=-1.2, yMax=lanes + 0.2)
        self.view_box.setRange(xRange=(-margin, right + max(margin * 1.5, (right + margin) * 0.1)),
                               yRange=(-0.9, lanes - 0.1), padding=0)
        self.relabel()

    # -- selection -------------------------------------------------------------------------
    def on_selection(self, selection) -> None:
        points = [self._spots_for[i] for i in selection.messages if i in self._spots_for]
        self.ring.setData([{"pos": p} for p in points])
        self._mark_stream(selection.stream)
        if selection.current in self._spots_for and selection.origin != "timeline":
            x, _ = self._spots_for[selection.current]
            (left, right), _ = self.view_box.viewRange()
            if not left <= x <= right:
                width = right - left
                self.view_box.setXRange(x - width / 2, x + width / 2, padding=0)

    def _on_clicked(self, _item, points, event=None) -> None:
        if not len(points):
            return
        chosen = points[0]
        if event is not None and len(points) > 1:     # overlapping markers: the nearest one
            x = event.pos().x()
            chosen = min(points, key=lambda p: abs(p.pos().x() - x))
        index = chosen.data()
        add = event is not None and bool(event.modifiers() & Qt.ControlModifier)
        if add:
            indices = list(self.controller.selection.messages)
            if index in indices:
                indices.remove(index)
            else:
                indices.append(index)
            self.controller.select_messages(indices, current=index, origin="timeline")
        else:
            self.controller.select_messages([index], origin="timeline")

    def keyPressEvent(self, event) -> None:   # noqa: N802 - Qt override
        if event.key() == Qt.Key_Home:
            self.fit()
        else:
            super().keyPressEvent(event)

    def show_play_cursor(self, when: float | None) -> None:
        """The playback position (absolute time) as a vertical line; None hides it."""
        if when is None or self.data is None:
            self.play_cursor.setVisible(False)
            return
        x = when - self.data.t0
        self.play_cursor.setPos(x)
        self.play_cursor.setVisible(True)
        (left, right), _ = self.view_box.viewRange()
        if not left <= x <= right:
            width = right - left
            self.view_box.setXRange(x - width * 0.1, x + width * 0.9, padding=0)

    def _mark_stream(self, row) -> None:
        """Outline the lane of the selected stream."""
        item = self.plot.getPlotItem()
        if self._stream_mark is not None:
            item.removeItem(self._stream_mark)
            self._stream_mark = None
        area = self.area_of(row)
        if area is None:
            return
        mark = QGraphicsRectItem(area.rect())
        pen = QPen(QColor("#e8710a"))
        pen.setCosmetic(True)
        pen.setWidthF(2.5)
        mark.setPen(pen)
        mark.setBrush(QBrush(Qt.NoBrush))
        item.addItem(mark)
        self._stream_mark = mark

    def area_of(self, row):
        """The lane area of a streams-table row, None when it has no lane here."""
        for area in self.lane_areas if row is not None else ():
            if area.row is row:
                return area
        return None

    @property
    def marked_stream(self):
        """The row whose lane is outlined (tests)."""
        if self._stream_mark is None:
            return None
        return next((a.row for a in self.lane_areas if a.rect() == self._stream_mark.rect()), None)

    def marker_position(self, message_index: int) -> tuple[float, float] | None:
        """Data coordinates of a message's marker (tests)."""
        return self._spots_for.get(message_index)
