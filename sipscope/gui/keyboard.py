"""Keyboard use without a mouse (sngrep users expect it).

Tab and Shift+Tab move from pane to pane (a table never keeps the Tab key for itself), Enter
opens the selected call (its messages take the focus) or finding, `/` and Ctrl+F go to the call
filter, Esc in the filter clears it.  KEYS is the one list the shortcuts dialog (F1) shows.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView

KEYS: tuple[tuple[str, str], ...] = (
    ("Ctrl+O", "open captures"),
    ("Ctrl+Shift+V", "paste a trace from the clipboard"),
    ("/  or  Ctrl+F", "filter the call list"),
    ("Esc", "in the filter: clear it; while loading: cancel"),
    ("Tab / Shift+Tab", "next / previous pane"),
    ("Up / Down", "previous / next call, message or finding"),
    ("Enter", "open the selected call (its messages get the focus) or finding"),
    ("Ctrl+click", "add a second message or branch chip: the Diff tab compares the two"),
    ("click on a branch chip", "add or remove that branch (two chips open their diff)"),
    ("Ctrl+1", "the ladder"),
    ("Ctrl+2", "the timeline"),
    ("Ctrl+3", "the diff"),
    ("Ctrl+E", "export the current view as PNG"),
    ("Home", "fit the timeline"),
    ("F1", "this list"),
    ("Shift+F1", "the fault reference (a click on a finding's RFC line opens it too)"),
    ("Ctrl+Q", "quit"),
)


def shortcuts_text() -> str:
    width = max(len(keys) for keys, _ in KEYS)
    return "\n".join(f"{keys.ljust(width)}   {what}" for keys, what in KEYS)


class _EnterOpens(QObject):
    """Enter/Return on a table: run `open_current` (the table keeps its selection)."""

    def __init__(self, view, open_current, parent=None) -> None:
        super().__init__(parent or view)
        self._open = open_current
        view.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:   # noqa: N802 - Qt override
        if event.type() == QEvent.KeyPress and event.key() in (Qt.Key_Return, Qt.Key_Enter):
            self._open()
            return True
        return False


class _EscapeClears(QObject):
    """Esc in a line edit clears it (and the filter it drives)."""

    def __init__(self, edit, parent=None) -> None:
        super().__init__(parent or edit)
        edit.installEventFilter(self)

    def eventFilter(self, edit, event) -> bool:   # noqa: N802 - Qt override
        if event.type() == QEvent.ShortcutOverride and event.key() == Qt.Key_Escape \
                and edit.text():
            event.accept()                  # Esc is ours here, not the window's action
            return True
        if event.type() == QEvent.KeyPress and event.key() == Qt.Key_Escape and edit.text():
            edit.clear()
            return True
        return False


def install(window) -> None:
    """Wire the keyboard behaviour into a MainWindow."""
    for view in window.findChildren(QAbstractItemView):
        view.setTabKeyNavigation(False)
    calls = window.calls_view
    window._enter_call = _EnterOpens(calls.table, lambda: _open_call(window), window)
    window._escape_filter = _EscapeClears(calls.filter_edit, window)
    panel = window.fault_panel
    window._enter_finding = _EnterOpens(panel.list, lambda: panel._on_clicked(
        panel.list.currentIndex()) if panel.list.currentIndex().isValid() else None, window)
    slash = QShortcut(QKeySequence("/"), window)
    slash.activated.connect(calls.focus_filter)
    window._slash_shortcut = slash


def _open_call(window) -> None:
    """Enter on the call list: the current call is shown; its messages take the focus."""
    table = window.calls_view.table
    index = table.currentIndex()
    if index.isValid():
        call = window.calls_view.proxy.call_at(index.row())
        if call is not None and window.controller.selection.call is not call:
            window.controller.select_calls([call], origin="calls")
    window.message_view.table.setFocus(Qt.TabFocusReason)
    model = window.message_view.table.model()
    if model.rowCount() and not window.message_view.table.currentIndex().isValid():
        window.message_view.table.setCurrentIndex(model.index(0, 0))
