"""How fast the call list filters and sorts 100k calls (issue target: within 100 ms).

    QT_QPA_PLATFORM=offscreen python -m benchmarks.gui_call_list [--calls 100000]

Prints the time of each operation, the view's own repaint included.  Not part of the test run:
tests/gui/test_call_list.py checks the same operations give the right rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from sipscope.gui.controller import Controller
    from sipscope.gui.models.call_list import DURATION, FROM, STATUS
    from sipscope.gui.models.call_rows import CallRows
    from sipscope.gui.views.call_list import CallListView
    from sipscope.render.png import protect_none_refcount
    from tests.gui.conftest import synthetic_session
    protect_none_refcount()
    app = QApplication.instance() or QApplication([])
    started = time.perf_counter()
    session = synthetic_session(args.calls)
    rows = CallRows(session)
    rows.prepare(lambda: False)
    print(f"{args.calls:,} synthetic calls built and prepared in {time.perf_counter() - started:.2f} s")
    controller = Controller()
    view = CallListView(controller)
    view.resize(700, 500)
    view.show()
    controller.set_session(session, "synthetic", rows)
    app.processEvents()

    def timed(name, action):
        start = time.perf_counter()
        action()
        view.table.viewport().repaint()
        print(f"  {name:<22} {(time.perf_counter() - start) * 1000:7.1f} ms")

    def filter_for(text):
        view.filter_edit.setText(text)
        view.apply_filter()

    timed("filter '1234'", lambda: filter_for("1234"))
    timed("filter '486 invite'", lambda: filter_for("486 invite"))
    timed("clear filter", lambda: filter_for(""))
    timed("hide noise", lambda: view.set_hide_noise(True))
    timed("show noise", lambda: view.set_hide_noise(False))
    timed("sort by status", lambda: view.table.sortByColumn(STATUS, Qt.AscendingOrder))
    timed("sort by From desc", lambda: view.table.sortByColumn(FROM, Qt.DescendingOrder))
    timed("sort by duration", lambda: view.table.sortByColumn(DURATION, Qt.DescendingOrder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
