"""Stream analysis: delta and jitter of the selected RTP stream over time, with lost-packet marks
(as Wireshark's RTP Stream Analysis graphs), drawn with pyqtgraph.

    +-------------------------------------------------------------------------------+
    | caller -> callee 10.0.0.1:4000 -> 10.0.0.2:5000 PCMA/8000: 500 packets, 2 lost |
    |-------------------------------------------------------------------------------|
    | delta ms   20 |----------------------^-------------------------------------   |
    |               |                      | (lost: red marks on the time axis)     |
    | jitter ms  1  |______/^^-___________________________________________________  |
    |                 0 s        2 s        4 s        6 s        8 s              |
    +-------------------------------------------------------------------------------+

The packets are read back from the capture file when a stream is chosen (media/packets.py), in
a worker thread; nothing per packet is kept by the loader.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from sipscope.core.media.packets import (analyse, changed_inputs, read_stream_packets,
                                         session_paths)
from sipscope.core.untrusted import visible_controls
from sipscope.gui.models.streams import ERROR_COLOUR

DELTA_COLOUR = QColor("#1f6feb")
JITTER_COLOUR = QColor("#00795a")


class _Signals(QObject):
    done = Signal(object, object, str)            # row, Analysis | None, error text


class _ReadTask(QRunnable):
    def __init__(self, paths, row) -> None:
        super().__init__()
        self.paths, self.row = paths, row
        self.signals = _Signals()

    def run(self) -> None:
        try:
            self.signals.done.emit(self.row, read_analysis(self.paths, self.row), "")
        except Exception as exc:  # noqa: BLE001 - a sentence for the user, never a traceback
            self.signals.done.emit(self.row, None, f"{type(exc).__name__}: {exc}")


def read_analysis(paths, row):
    """Read a stream's packets from the capture and analyse them (no Qt: runs in a worker)."""
    stream = row.stream
    packets = read_stream_packets(paths, stream.src, stream.dst, stream.ssrc)
    return analyse(packets, stream.clock_rate)


def heading(row) -> str:
    if row is None:
        return "Choose a stream (Streams tab, timeline lane or ladder band) to see its analysis."
    if row.expected_only:
        return (f"{row.direction_text} {row.src} → {row.dst} {row.codec}: negotiated in the SDP, "
                f"but no packet of it is in the capture, so there is nothing to analyse.")
    return (f"{row.direction_text} {row.src} → {row.dst} SSRC {row.ssrc_text} {row.codec}: "
            f"{row.packets:,} packets, {row.lost:,} lost ({row.lost_pct:.1f} %), "
            f"max delta {row.max_delta_ms:.1f} ms, jitter mean {row.mean_jitter_ms:.2f} / "
            f"max {row.max_jitter_ms:.2f} ms")


class StreamAnalysisView(QWidget):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.row = None
        self.analysis = None
        self._pending = None
        self._tasks: set = set()
        self.title = QLabel(heading(None), self)
        self.title.setTextFormat(Qt.PlainText)
        self.title.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.PlainText)
        self.status.setObjectName("countLabel")
        self.graphs = pg.GraphicsLayoutWidget(self)
        self.graphs.setBackground("w")
        self.delta_plot = self.graphs.addPlot(row=0, col=0)
        self.jitter_plot = self.graphs.addPlot(row=1, col=0)
        for plot, name in ((self.delta_plot, "delta (ms)"), (self.jitter_plot, "jitter (ms)")):
            plot.setLabel("left", name)
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setMenuEnabled(False)
            plot.hideButtons()
        self.jitter_plot.setXLink(self.delta_plot)
        self.jitter_plot.setLabel("bottom", "seconds since the stream's first packet")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addWidget(self.graphs, 1)
        controller.sig_session_changed.connect(lambda _: self.show_row(None))
        controller.sig_selection_changed.connect(self.on_selection)

    def on_selection(self, selection) -> None:
        if selection.stream is not self.row:
            self.show_row(selection.stream)

    def show_row(self, row, wait: bool = False) -> None:
        """Show a stream; its packets are read in a worker (or here, with wait=True)."""
        self.row = row
        self.analysis = None
        self.title.setText(visible_controls(heading(row)))
        self._draw(None)
        if row is None or row.expected_only or self.controller.session is None:
            self.status.setText("")
            return
        paths = session_paths(self.controller.session)
        changed = changed_inputs(self.controller.session)
        if changed:                      # another capture's packets would be read (issue 17)
            self.status.setText(visible_controls("The packets cannot be read again: "
                                                 + "; ".join(changed) + "."))
            return
        if not paths:
            self.status.setText("The packets cannot be read again: this input was not a file.")
            return
        cached = self.controller.stream_table().analyses.get(id(row.stream))
        if cached is not None:                   # read before (the timeline's lost marks)
            self._done(row, cached, "")
            return
        self.status.setText("Reading the stream's packets from the capture…")
        if wait:
            try:
                self._done(row, read_analysis(paths, row), "")
            except Exception as exc:  # noqa: BLE001
                self._done(row, None, f"{type(exc).__name__}: {exc}")
            return
        task = _ReadTask(paths, row)
        task.signals.done.connect(self._done)
        self._tasks.add(task.signals)
        QThreadPool.globalInstance().start(task)

    def _done(self, row, analysis, error: str) -> None:
        self._tasks.discard(self.sender())
        if row is not self.row:
            return                               # another stream was chosen meanwhile
        if analysis is None:
            self.status.setText(f"Reading the packets failed: {error}")
            return
        self.analysis = analysis
        self.controller.stream_table().analyses[id(row.stream)] = analysis
        lost = analysis.lost_packets
        self.status.setText(f"{len(analysis.times):,} packets read back from the capture; "
                            f"{len(analysis.lost):,} gaps in the sequence numbers "
                            f"({lost:,} packets missing) marked in red.")
        self._draw(analysis)

    def _draw(self, analysis) -> None:
        for plot in (self.delta_plot, self.jitter_plot):
            plot.clear()
        if analysis is None or not analysis.times:
            return
        self.delta_plot.plot(analysis.times, analysis.delta_ms,
                             pen=pg.mkPen(DELTA_COLOUR, width=1.2))
        self.jitter_plot.plot(analysis.times, analysis.jitter_ms,
                              pen=pg.mkPen(JITTER_COLOUR, width=1.4))
        if analysis.lost:
            xs = [t for t, _ in analysis.lost]
            for plot in (self.delta_plot, self.jitter_plot):
                plot.addItem(pg.ScatterPlotItem(xs, [0.0] * len(xs), symbol="t", size=11,
                                                brush=ERROR_COLOUR, pen=pg.mkPen(ERROR_COLOUR)))
            for t, n in analysis.lost[:40]:
                label = pg.TextItem(f"{n} lost", color=ERROR_COLOUR, anchor=(0.5, 0))
                label.setPos(t, analysis.max_delta_ms)
                self.delta_plot.addItem(label)
