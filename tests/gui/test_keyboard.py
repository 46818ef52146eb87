"""Keyboard use: Tab leaves a table, Enter opens, / and Esc drive the filter, F1 names every
shortcut; one gesture (two chips, or two Ctrl-clicked messages) opens the diff."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest

FORKED = 2
DIFF_TAB = 2


def test_tab_leaves_the_call_table_and_enter_opens_the_call(qtbot, window):
    table = window.calls_view.table
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    table.setCurrentIndex(window.calls_view.proxy.index(0, 0))
    QTest.keyClick(table, Qt.Key_Tab)
    assert not table.hasFocus()                  # not cell by cell inside the table
    table.setFocus()
    QTest.keyClick(table, Qt.Key_Down)
    QTest.keyClick(table, Qt.Key_Return)
    call = window.calls_view.proxy.call_at(table.currentIndex().row())
    assert window.controller.selection.call is call
    assert window.message_view.table.hasFocus()


def test_slash_focuses_the_filter_and_escape_clears_it(qtbot, window):
    window.message_view.table.setFocus()
    QTest.keyClick(window, Qt.Key_Slash)
    edit = window.calls_view.filter_edit
    assert edit.hasFocus()
    QTest.keyClicks(edit, "sales")
    window.calls_view.apply_filter()
    assert window.calls_view.proxy.rowCount() == 1
    QTest.keyClick(edit, Qt.Key_Escape)
    window.calls_view.apply_filter()
    assert edit.text() == "" and window.calls_view.proxy.rowCount() == 3


def test_the_shortcut_list_names_every_shortcut(window):
    from sipscope.gui.keyboard import shortcuts_text
    text = shortcuts_text()
    for action in window.findChildren(QAction):
        for sequence in action.shortcuts():
            key = sequence.toString()
            assert key in text.replace("  or  ", " ").replace(" / ", " "), (key, action.text())


def test_two_chips_clicked_open_the_branch_diff(qtbot, window):
    window.controller.select_call(window.controller.session.calls[FORKED])
    buttons = window.ladder_view.branch_buttons
    buttons[0][0].click()
    assert window.tabs.currentIndex() != DIFF_TAB
    buttons[1][0].click()                       # a plain click adds the second branch
    assert window.controller.selection.branches == (buttons[0][1], buttons[1][1])
    assert window.tabs.currentIndex() == DIFF_TAB
    buttons[1][0].click()                       # and a click takes it away again
    assert window.controller.selection.branches == (buttons[0][1],)


def test_ctrl_click_of_a_second_message_opens_the_diff(qtbot, window):
    window.controller.select_call(window.controller.session.calls[FORKED])
    table = window.message_view.table
    first, second = (table.visualRect(table.model().index(row, 0)).center() for row in (0, 5))
    QTest.mouseClick(table.viewport(), Qt.LeftButton, Qt.NoModifier, first)
    assert window.tabs.currentIndex() != DIFF_TAB
    QTest.mouseClick(table.viewport(), Qt.LeftButton, Qt.ControlModifier, second)
    assert len(window.controller.selection.messages) == 2
    assert window.tabs.currentIndex() == DIFF_TAB
    QTest.keyRelease(table, Qt.Key_Control)     # Qt keeps the last modifiers for later tests


def test_a_filter_that_hides_the_open_call_opens_the_first_call_shown(qtbot, window):
    session = window.controller.session
    assert window.controller.selection.call is session.calls[FORKED]
    view = window.calls_view
    view.filter_edit.setText("OPTIONS")
    view.apply_filter()
    assert window.controller.selection.call is session.calls[0]
    assert window.ladder_view.layout_data.title.startswith("Call 1 ·")
    assert window.message_view.model.rowCount() == 2
    view.filter_edit.setText("no-such-call-anywhere")
    view.apply_filter()
    assert view.proxy.rowCount() == 0
    assert window.controller.selection.calls == ()
    assert window.message_view.model.rowCount() == 0
