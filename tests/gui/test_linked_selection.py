"""One selection in the controller, shared by every view: selecting anywhere moves the others."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from tests.gui.conftest import add_finding

FORKED = 2          # the demo's INVITE call (0-based)


def _selected_rows(table) -> list[int]:
    return sorted(index.row() for index in table.selectionModel().selectedRows())


def _message_rows(window) -> list[int]:
    model = window.message_view.model
    return [model.message_at(r).index for r in _selected_rows(window.message_view.table)]


def assert_everywhere(window, indices, current):
    """Every view shows the same selection (`indices`, focus on `current`)."""
    selection = window.controller.selection
    assert list(selection.messages) == list(indices) and selection.current == current
    call = window.controller.session.call_of(window.controller.session.messages[current])
    calls_view = window.calls_view
    assert [calls_view.proxy.call_at(r) for r in _selected_rows(calls_view.table)] == [call]
    assert _message_rows(window) == sorted(indices)
    assert window.ladder_view.canvas.selected == frozenset(indices)
    assert window.raw_view.shown_index == current
    timeline = window.timeline_view
    xs, ys = timeline.ring.getData()
    assert sorted(zip(list(xs), list(ys))) == sorted(timeline.marker_position(i) for i in indices)


def test_call_list_selection_moves_the_other_views(qtbot, window):
    view = window.calls_view
    view.table.setFocus()
    row = view.proxy.row_of(window.controller.session.calls[0])
    view.table.selectRow(row)
    assert window.controller.selection.call is window.controller.session.calls[0]
    assert window.message_view.model.rowCount() == 2
    assert window.ladder_view.layout_data.title.startswith("Call 1 · OPTIONS")
    assert [lane.label for lane in window.timeline_view.data.lanes] == ["OPTIONS 1"]
    # Down moves to the next call and everything follows
    QTest.keyClick(view.table, Qt.Key_Down)
    assert window.controller.selection.call is window.controller.session.calls[1]
    assert window.ladder_view.layout_data.title.startswith("Call 2 · OPTIONS")


def test_message_list_selection_moves_the_other_views(qtbot, window):
    window.controller.select_call(window.controller.session.calls[FORKED])
    table = window.message_view.table
    row = window.message_view.model.row_of(9)             # 200 OK for branch .5
    table.selectRow(row)
    assert_everywhere(window, [9], 9)
    assert window.raw_view.text().startswith("SIP/2.0 200 OK")
    QTest.keyClick(table, Qt.Key_Down)
    assert_everywhere(window, [10], 10)
    # Ctrl-click adds a second message (the pair the diff compares)
    model = window.message_view.model
    rect = table.visualRect(model.index(model.row_of(12), 1))
    QTest.mouseClick(table.viewport(), Qt.LeftButton, Qt.ControlModifier, rect.center())
    assert window.controller.selection.messages == (10, 12)


def test_ladder_click_moves_the_other_views(qtbot, window):
    window.controller.select_call(window.controller.session.calls[FORKED])
    window.tabs.setCurrentIndex(0)
    canvas = window.ladder_view.canvas
    arrow = window.ladder_view.layout_data.arrow_for(12)      # 487 Request Cancelled
    point = QPoint(int((arrow.x1 + arrow.x2) / 2 - canvas.horizontalScrollBar().value()),
                   int(arrow.y - canvas.verticalScrollBar().value()))
    QTest.mouseClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, point)
    assert_everywhere(window, [12], 12)
    QTest.keyClick(canvas, Qt.Key_Up)
    assert_everywhere(window, [11], 11)


def test_timeline_click_moves_the_other_views(qtbot, window):
    window.controller.select_call(window.controller.session.calls[FORKED])
    window.tabs.setCurrentIndex(1)
    timeline = window.timeline_view
    qtbot.waitUntil(lambda: timeline.view_box.width() > 100)
    for index in (13, 14, 15):      # the ACK, then the BYE and its 481 67 ms later
        x, y = timeline.marker_position(index)
        if index == 14:             # zoom in: at full view the BYE and the 481 share a pixel
            timeline.view_box.setXRange(x - 0.3, x + 0.3, padding=0)
        point = timeline.plot.mapFromScene(timeline.view_box.mapViewToScene(QPointF(x, y)))
        QTest.mouseClick(timeline.plot.viewport(), Qt.LeftButton, Qt.NoModifier, point)
        qtbot.waitUntil(lambda: window.controller.selection.current is not None, timeout=2000)
        assert_everywhere(window, [index], index)


def test_selecting_a_message_elsewhere_scrolls_the_timeline_to_it(qtbot, window):
    window.controller.select_call(window.controller.session.calls[FORKED])
    timeline = window.timeline_view
    timeline.view_box.setXRange(0, 1, padding=0)              # zoomed in on the INVITEs
    window.controller.select_messages([15], origin="test")    # 481 at +60 s
    (left, right), _ = timeline.view_box.viewRange()
    assert left <= timeline.marker_position(15)[0] <= right


def test_a_finding_selects_its_messages_everywhere(qtbot, fresh_demo):
    from sipscope.gui.main_window import MainWindow
    session = fresh_demo
    session.findings = []
    finding = add_finding(session, [8, 9, 12], title="200 for branch .5 came from branch .2",
                          key="F1")
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    window.controller.set_session(session, "demo")
    window.controller.select_call(session.calls[0])            # look at another call first
    panel = window.fault_panel
    panel.set_capture_scope(True)
    row = panel.model.row_of(finding)
    rect = panel.list.visualRect(panel.model.index(row, 0))
    QTest.mouseClick(panel.list.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    assert window.controller.selection.finding is finding
    assert_everywhere(window, [8, 9, 12], 8)
    assert window.controller.selection.call is session.calls[FORKED]
    # and selecting one of its messages elsewhere marks the finding as related
    window.controller.select_messages([9], origin="test")
    assert panel.is_related(finding) and window.controller.selection.finding is None


def test_branch_chip_selects_the_branch_and_two_branches_feed_the_diff(qtbot, window):
    window.controller.select_call(window.controller.session.calls[FORKED])
    buttons = window.ladder_view.branch_buttons
    assert [b.label for _, b in buttons] == ["branch .2", "branch .5"]
    buttons[1][0].click()
    selection = window.controller.selection
    assert selection.branches == (buttons[1][1],)
    assert set(selection.messages) == {m.index for m in buttons[1][1].messages}
    assert _message_rows(window) == sorted(selection.messages)
    window.controller.select_branches([b for _, b in buttons], origin="test")
    diff = window.diff_view
    if hasattr(diff, "diff"):                 # the diff helper's DiffView is present
        assert diff.diff is not None


def test_the_headline_focuses_the_message_that_went_wrong(qtbot, window, demo_session):
    headline = next(f for f in demo_session.findings if f.role == "headline")
    assert headline.id == "fork-response-wrong-endpoint"
    window.controller.select_finding(headline, origin="test")
    focused = demo_session.messages[window.controller.selection.current]
    assert focused.label == "200 OK" and focused.cseq_method == "INVITE"   # not the INVITE
    assert window.controller.selection.current != headline.messages[0]
