"""Headless images of GUI views for `sipscope export --view timeline|window` (no display needed).

The widgets are built offscreen, the session is handed to the controller directly (no worker
thread), the call is selected, and the widget is grabbed into a QImage.
"""

from __future__ import annotations

import os
import sys

TIMELINE_SIZE = (1400, 620)
WINDOW_SIZE = (1480, 900)


def ensure_app():
    """A QApplication (offscreen when there is no display); RuntimeError when only a
    QGuiApplication exists (widgets cannot be built then)."""
    from sipscope.render.png import headless, protect_none_refcount
    protect_none_refcount()
    if headless() and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    if app is None:
        from sipscope.gui.app import make_application
        return make_application([sys.argv[0] if sys.argv and sys.argv[0] else "sipscope"])
    if not isinstance(app, QApplication):
        raise RuntimeError("a Qt application without widgets is already running; create the "
                           "QApplication (sipscope.gui.export.ensure_app) before any image")
    return app


def _settle(widget, size) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication
    widget.setAttribute(Qt.WA_DontShowOnScreen, True)
    widget.resize(*size)
    widget.show()
    for _ in range(3):
        QApplication.processEvents()


def _controller(session, call):
    from sipscope.gui.controller import Controller
    controller = Controller()
    controller.set_session(session, "export")
    if call is not None:
        controller.select_call(call, origin="export")
    return controller


def timeline_image(session, call, mode: str = "transaction", selected=()):
    """The timeline of one call as a QImage (lanes per transaction, branch or dialog)."""
    ensure_app()
    from sipscope.gui.views.timeline_view import TimelineView
    controller = _controller(session, call)
    view = TimelineView(controller)
    view.mode_box.setCurrentIndex(max(0, view.mode_box.findData(mode)))
    view.rebuild()              # the session was set before the view existed
    view.read_losses_now()      # lost-packet marks: the packets are read back here
    if selected:
        controller.select_messages(list(selected), origin="export")
    lanes = len(view.data.lanes) if view.data is not None else 1
    height = max(360, min(2400, 120 + lanes * 60))
    _settle(view, (TIMELINE_SIZE[0], height))
    view.fit()
    _settle(view, (TIMELINE_SIZE[0], height))
    image = view.plot.grab().toImage()
    view.close()
    view.deleteLater()
    return image


def window_image(session, call):
    """The whole main window showing one call (its first finding selected) as a QImage."""
    ensure_app()
    from sipscope.gui.main_window import MainWindow
    from sipscope.gui.controller import Controller
    controller = Controller()
    window = MainWindow(controller=controller, settings=None)
    _settle(window, WINDOW_SIZE)
    controller.set_session(session, "export")
    if call is not None:
        controller.select_call(call, origin="export")
        findings = [f for f in window.fault_panel.model.findings()]
        if findings:
            controller.select_finding(findings[0], origin="export")
    _settle(window, WINDOW_SIZE)
    image = window.grab().toImage()
    window.close()
    window.deleteLater()
    return image


STREAMS_WIDTH = 1500


def streams_image(session, call):
    """The streams table of one call (its missing directions in the error colour) as a QImage."""
    ensure_app()
    from sipscope.gui.views.streams_view import StreamsView
    controller = _controller(session, call)
    view = StreamsView(controller)
    view.reload()               # the session was set before the view existed
    rows = max(1, view.model.rowCount())
    height = 70 + rows * (view.table.verticalHeader().defaultSectionSize() + 1)
    _settle(view, (STREAMS_WIDTH, min(2400, height)))
    view.table.resizeColumnsToContents()
    _settle(view, (STREAMS_WIDTH, min(2400, height)))
    image = view.grab().toImage()
    view.close()
    view.deleteLater()
    return image


def default_stream(rows):
    """The stream to analyse when none is named: the one with most lost packets, else the one
    with most packets (a direction never seen has nothing to analyse)."""
    seen = [r for r in rows if not r.expected_only]
    return max(seen, key=lambda r: (r.lost, r.packets), default=None)


def stream_analysis_image(session, call, row=None):
    """Delta and jitter over time of one stream of the call (read back from the capture)."""
    ensure_app()
    from sipscope.core.media.table import stream_rows
    from sipscope.gui.views.stream_analysis import StreamAnalysisView
    controller = _controller(session, call)
    if row is None:
        row = default_stream(stream_rows(session, call))
        if row is None:
            raise ValueError("this call has no RTP stream in the capture")
    view = StreamAnalysisView(controller)
    view.show_row(row, wait=True)
    _settle(view, TIMELINE_SIZE)
    image = view.grab().toImage()
    view.close()
    view.deleteLater()
    return image
