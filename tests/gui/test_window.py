"""The window's own jobs: start-up with the demo, drag and drop, recent files, settings, lanes,
and the diff fed by two selected messages."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.gui.conftest import DEMO

FORKED = 2


def test_start_without_files_opens_the_demo(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SIPSCOPE_CONFIG_DIR", str(tmp_path))
    from sipscope.gui.app import make_application, open_window
    app = make_application()
    assert app.applicationName() == "sipscope" and not app.windowIcon().isNull()
    window = open_window([])
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.controller.session is not None, timeout=30_000)
    assert window.controller.source_label == "forked-call-demo.txt"
    assert window.controller.selection.call is window.controller.session.calls[FORKED]
    assert window.windowTitle() == "Call 3 · forked-call-demo.txt — sipscope"
    assert not window.windowIcon().isNull()
    window.controller.wait_for_load()


def test_drop_files_opens_them_and_remembers_them(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SIPSCOPE_CONFIG_DIR", str(tmp_path))
    from sipscope import settings
    from sipscope.gui.main_window import MainWindow
    state = settings.load()
    window = MainWindow(settings=state)
    qtbot.addWidget(window)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(DEMO))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(window.controller.sig_load_finished, timeout=30_000):
        window.dropEvent(event)
    assert len(window.controller.session.messages) == 16
    assert state.recent_files == [str(DEMO)]
    window._fill_recent()
    texts = [action.text() for action in window.recent_menu.actions()]
    assert texts[0] == str(DEMO) and "Clear list" in texts
    window.close()                                   # saves geometry and preferences
    again = settings.load()
    assert again.window_geometry and set(again.splitter_state) == {"main", "left", "right",
                                                                   "bottom"}
    window.controller.wait_for_load()


def test_preferences_follow_the_toggles(qtbot, demo_session):
    from sipscope import settings
    from sipscope.gui.main_window import MainWindow
    state = settings.Settings()
    window = MainWindow(settings=state)
    qtbot.addWidget(window)
    window.controller.set_session(demo_session, "demo")
    window.merge_action.setChecked(True)
    assert window.ladder_view.merge_box.isChecked() and state.get("merge_hosts") is True
    assert len(window.ladder_view.layout_data.lanes) == 2      # 203.0.113.45 :5060 and :5064
    window.noise_action.setChecked(True)
    assert state.get("hide_noise") is True and window.calls_view.proxy.rowCount() == 1
    window.all_findings_action.setChecked(True)
    assert state.get("findings_scope") == "capture"


def test_timeline_lane_modes(qtbot, window):
    window.controller.select_call(window.controller.session.calls[FORKED])
    timeline = window.timeline_view
    labels = {}
    for mode in ("transaction", "branch", "dialog"):
        timeline.mode_box.setCurrentIndex(timeline.mode_box.findData(mode))
        labels[mode] = [lane.label for lane in timeline.data.lanes]
    assert labels["transaction"] == ["INVITE 102 · branch .2", "INVITE 102 · branch .5",
                                     "CANCEL 102 · branch .2", "ACK 102 · branch .5", "BYE 103"]
    assert labels["branch"] == ["branch .2 → 203.0.113.45:5060", "branch .5 → 203.0.113.45:5064",
                                "BYE 103"]
    assert labels["dialog"][0].startswith("dialog b71cb81c3b")
    # the unacknowledged 200 OK of branch .5 opens the 64*T1 window (RFC 3261 §13.3.1.4)
    spans = timeline.data.timers
    assert [(s.message, s.length) for s in spans] == [(9, 32.0)]


def test_two_selected_messages_fill_the_diff(qtbot, window):
    diff = window.diff_view
    if not hasattr(diff, "show_messages"):
        assert "two messages" in diff.text()
        return
    window.controller.select_call(window.controller.session.calls[FORKED])
    window.controller.select_messages([7, 8], origin="test")       # the two 180 Ringing
    assert diff.diff is not None and "#7" in diff.title.text() + diff.subtitle.text() \
        + str(diff._titles)
    assert "Ctrl+3" in window.statusBar().currentMessage()
    # a message picked in the diff moves the other views but keeps the diff
    shown = diff.diff
    diff.sig_message_clicked.emit(8)
    assert window.controller.selection.messages == (8,) and diff.diff is shown
