"""Call list model and proxy: columns, filter words, noise toggle, sorting, and speed at 100k."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from sipscope.gui.models.call_list import (COLUMNS, DURATION, FROM, METHOD, NUMBER, STATUS, TO,
                                           CallFilterProxy, CallListModel)
from sipscope.gui.models.call_rows import CallRows
from tests.gui.conftest import synthetic_session


def _proxy(session):
    model = CallListModel()
    proxy = CallFilterProxy()
    proxy.setSourceModel(model)
    model.set_session(session)
    proxy.refresh()
    return model, proxy


def _column(proxy, column):
    return [proxy.index(row, column).data() for row in range(proxy.rowCount())]


def test_demo_rows(qapp, demo_session):
    _, proxy = _proxy(demo_session)
    assert proxy.columnCount() == len(COLUMNS) == 9
    assert _column(proxy, METHOD) == ["OPTIONS", "OPTIONS", "INVITE"]
    assert _column(proxy, FROM) == ["ping", "ping", "+12025550143"]
    assert _column(proxy, TO) == ["lisa", "michele", "sales"]
    assert _column(proxy, STATUS) == ["200", "200", "200"]
    assert _column(proxy, DURATION)[2] == "1m00s"


def test_filter_words_noise_and_sort(qapp, demo_session):
    _, proxy = _proxy(demo_session)
    for text, expected in [("481", ["3"]), ("203.0.113.45:5064", ["2", "3"]),
                           ("1330352b", ["3"]), ("options michele", ["2"]), ("cancel", ["3"]),
                           ("+1202555", ["3"]), ("nothing-like-this", [])]:
        proxy.set_filter_text(text)
        assert _column(proxy, NUMBER) == expected, text
    proxy.set_filter_text("")
    proxy.set_hide_noise(True)
    assert _column(proxy, NUMBER) == ["3"]
    proxy.set_hide_noise(False)
    proxy.sort(DURATION, Qt.DescendingOrder)
    assert _column(proxy, NUMBER) == ["3", "2", "1"]
    proxy.sort(TO, Qt.AscendingOrder)
    assert _column(proxy, TO) == ["lisa", "michele", "sales"]


def test_sort_and_filter_100k_calls(qapp, qtbot):
    """Filtering, the noise toggle and sorting give the right rows at 100k calls.  How fast they
    answer is measured by benchmarks/gui_call_list.py (timings do not belong in unit tests)."""
    from sipscope.gui.controller import Controller
    from sipscope.gui.views.call_list import CallListView
    session = synthetic_session(100_000)
    rows = CallRows(session)
    rows.prepare(lambda: False)          # what the load worker does, off the GUI thread
    controller = Controller()
    view = CallListView(controller)
    qtbot.addWidget(view)
    controller.set_session(session, "synthetic", rows)
    proxy = view.proxy
    view.filter_edit.setText("1234")
    view.apply_filter()
    hits = proxy.rowCount()
    view.filter_edit.setText("")
    view.apply_filter()
    view.set_hide_noise(True)
    noise_hidden = proxy.rowCount()
    view.set_hide_noise(False)
    view.table.sortByColumn(DURATION, Qt.DescendingOrder)
    noise = sum(1 for c in session.calls if c.first_method in ("OPTIONS", "REGISTER"))
    assert 0 < hits < 100_000 and noise == 33_333 and noise_hidden == 100_000 - noise
    assert proxy.rowCount() == 100_000
    assert proxy.index(0, DURATION).data() == "1m29s"


@pytest.mark.parametrize("hide", [False, True])
def test_selection_survives_sorting(qtbot, window, hide):
    view = window.calls_view
    view.set_hide_noise(hide)
    call = window.controller.session.calls[2]
    window.controller.select_call(call)
    view.table.sortByColumn(METHOD, Qt.DescendingOrder)
    rows = view.table.selectionModel().selectedRows()
    assert [view.proxy.call_at(r.row()) for r in rows] == [call]


def test_calls_show_before_their_rows_are_filled(qapp, demo_session):
    """The load worker hands the calls over first and fills their rows afterwards: showing
    them in call order needs no row, and a filter or sort typed meanwhile waits for the rows
    (instead of filling them all on the GUI thread) and applies when they are ready."""
    model = CallListModel()
    proxy = CallFilterProxy()
    proxy.setSourceModel(model)
    rows = CallRows(demo_session)
    rows.filling = True                          # what the worker sets before model_ready
    model.set_session(demo_session, rows)
    proxy.refresh()
    assert proxy.rowCount() == 3 and rows._rows == [None, None, None]    # nothing built
    proxy.set_filter_text("michele")
    proxy.sort(DURATION, Qt.DescendingOrder)
    assert proxy.waiting_for_rows and proxy.rowCount() == 3
    assert sum(row is not None for row in rows._rows) <= 3 and not rows.complete
    rows.prepare(lambda: False)                  # the worker
    rows.filling = False
    proxy.rows_ready()
    assert not proxy.waiting_for_rows
    assert _column(proxy, NUMBER) == ["2"] and _column(proxy, TO) == ["michele"]


def test_rows_nobody_fills_are_filled_when_needed(qapp, demo_session):
    """Rows that no worker fills (pasted text, tests) are filled on demand, as before."""
    model, proxy = _proxy(demo_session)
    proxy.set_filter_text("michele")
    assert not proxy.waiting_for_rows and _column(proxy, NUMBER) == ["2"]


def test_the_number_column_fits_six_digit_call_numbers(qtbot):
    from sipscope.gui.controller import Controller
    from sipscope.gui.views.call_list import CallListView
    from sipscope.gui.models.call_list import NUMBER
    from .conftest import synthetic_session
    controller = Controller()
    view = CallListView(controller)
    qtbot.addWidget(view)
    controller.set_session(synthetic_session(12), "few")
    narrow = view.table.horizontalHeader().sectionSize(NUMBER)
    controller.set_session(synthetic_session(100_000), "many")
    wide = view.table.horizontalHeader().sectionSize(NUMBER)
    assert wide > narrow and wide >= view.table.fontMetrics().horizontalAdvance("100000")
