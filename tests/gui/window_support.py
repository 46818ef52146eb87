"""A shown main window holding a given session, for the GUI tests (offscreen)."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def shown_window(qtbot, session, name: str):
    from sipscope.gui.main_window import MainWindow
    win = MainWindow(settings=None)
    qtbot.addWidget(win)
    win.resize(1480, 900)
    win.show()
    qtbot.waitExposed(win)
    win.controller.set_session(session, name)
    qtbot.wait(20)
    try:
        yield win
    finally:
        win.controller.cancel_load()
        win.controller.wait_for_load()
