"""The window's small chores: "Loading NAME…" while a capture loads, and a save dialog that
starts in the last export folder and adds ".png" before it asks about replacing a file."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from tests.gui.conftest import REPO

CAPTURE = REPO / "tests" / "data" / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"


def test_empty_panes_say_what_is_loading(qtbot):
    from sipscope.gui.main_window import MainWindow
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    assert window.fault_panel.empty_label.text().startswith("Open a capture")
    window.open_files([str(CAPTURE)])
    assert window.fault_panel.empty_label.text() == f"Loading {CAPTURE.name}…"
    qtbot.waitUntil(lambda: window.controller.session is not None, timeout=30_000)
    assert not window.fault_panel.empty_label.text().startswith("Loading")
    window.controller.wait_for_load()


def test_the_save_dialog_adds_png_before_asking_to_replace(qtbot, tmp_path):
    from sipscope import settings
    from sipscope.gui.main_window import MainWindow
    from sipscope.core.model.loader import load_files
    state = settings.Settings(last_export_directory=str(tmp_path))
    window = MainWindow(settings=state)
    qtbot.addWidget(window)
    session = load_files([str(CAPTURE)])
    window.controller.set_session(session, CAPTURE.name)
    window.controller.select_calls([session.calls[0]])
    existing = tmp_path / "ticket.png"
    existing.write_bytes(b"keep me")
    seen = {}

    def answer_replace_question() -> None:
        box = next((w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QMessageBox) and w.isVisible()), None)
        if box is None:
            QTimer.singleShot(50, answer_replace_question)
            return
        seen["question"] = box.text()
        box.button(QMessageBox.No).click()           # keep the file ...
        QTimer.singleShot(50, lambda: window.save_dialog.reject())   # ... and give up

    def type_name() -> None:
        dialog = getattr(window, "save_dialog", None)
        if dialog is None or not dialog.isVisible():
            QTimer.singleShot(50, type_name)
            return
        seen["directory"] = dialog.directory().absolutePath()
        dialog.findChild(QLineEdit).setText("ticket")        # typed without ".png"
        QTimer.singleShot(0, answer_replace_question)
        dialog.accept()

    QTimer.singleShot(0, type_name)
    window.export_png("ladder")
    assert seen["directory"] == str(tmp_path)
    assert "ticket.png" in seen["question"]
    assert existing.read_bytes() == b"keep me"


def test_a_trace_without_times_shows_order_never_seconds(qtbot, tmp_path):
    from sipscope.core.model.loader import load_files
    from sipscope.gui.main_window import MainWindow
    from sipscope.gui.models.call_list import DURATION
    from sipscope.gui.models.message_list import DELTA, TIME
    trace = tmp_path / "pasted.txt"
    trace.write_text((REPO / "tests" / "data" / "raw-sip-pjsip-invite-401-loop.txt").read_text())
    session = load_files([str(trace)])
    assert session.messages[0].flags & 2            # TIME_UNKNOWN: the text has no times
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.show()
    window.controller.set_session(session, "pasted")
    window.controller.select_calls([session.calls[0]])
    window.tabs.setCurrentIndex(1)
    qtbot.wait(50)
    calls = window.calls_view.proxy
    assert calls.index(0, DURATION).data() == "—"
    messages = window.message_view.model
    assert [messages.index(r, DELTA).data() for r in range(messages.rowCount())] == \
        [""] * messages.rowCount()
    assert messages.index(1, TIME).data() == "#1"
    timeline = window.timeline_view
    assert timeline.data.timers == []
    assert "message order" in timeline.origin_label.text() + \
        timeline.plot.getPlotItem().getAxis("bottom").labelText
