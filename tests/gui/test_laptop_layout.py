"""On a laptop screen (1280x720) the values a tech reads first stay readable: the From/To of a
15-digit number and the source -> destination of an IPv6 message are in view, whole or elided
in the middle with the whole value in a tooltip; the raw pane has room for a SIP header line."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

NUMBER_15 = "+12025550143789"
CALLER_V6 = "[2001:db8:85a3::8a2e:370:7334]:5060"
CALLEE_V6 = "[2001:db8:1234:5678::beef:cafe]:5062"

INVITE = f"""\
U {CALLER_V6} -> {CALLEE_V6}
INVITE sip:{NUMBER_15}@example.com SIP/2.0
Via: SIP/2.0/UDP {CALLER_V6};branch=z9hG4bK776asdhds
Max-Forwards: 70
To: <sip:{NUMBER_15}@example.com>
From: <sip:+441632960123456@example.com>;tag=1928301774
Call-ID: a84b4c76e66710@example.com
CSeq: 314159 INVITE
Contact: <sip:+441632960123456@{CALLER_V6}>
Content-Length: 0

"""


@pytest.fixture
def laptop_window(qtbot, tmp_path):
    from sipscope.core.model.loader import load_files
    from sipscope.gui import window_geometry
    from sipscope.gui.main_window import MainWindow
    trace = tmp_path / "ipv6.txt"
    trace.write_text(INVITE)
    session = load_files([str(trace)])
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.apply_layout(window_geometry.fit(1280, 720))
    window.controller.set_session(session, "ipv6")
    window.controller.select_calls([session.calls[0]])
    qtbot.wait(50)
    yield window
    window.controller.wait_for_load()


def _readable(table, row: int, column: int, full: str) -> None:
    """The cell is inside the visible viewport, and shows `full` whole or elided in the middle
    with `full` as its tooltip."""
    index = table.model().index(row, column)
    rect = table.visualRect(index)
    viewport = table.viewport().rect()
    assert rect.left() >= 0 and rect.right() <= viewport.right(), (rect, viewport)
    assert rect.width() >= 80
    text = index.data(Qt.DisplayRole)
    assert full in text or text == full
    fits = table.fontMetrics().horizontalAdvance(text) <= rect.width() - 8
    if not fits:
        assert table.textElideMode() == Qt.ElideMiddle
        from sipscope.gui.tooltips import safe_tooltip
        assert index.data(Qt.ToolTipRole) == safe_tooltip(text)


def test_from_and_to_of_long_numbers_stay_readable(laptop_window):
    from sipscope.gui.models.call_list import FROM, TO
    table = laptop_window.calls_view.table
    _readable(table, 0, FROM, "+441632960123456")
    _readable(table, 0, TO, NUMBER_15)


def test_ipv6_source_and_destination_stay_in_view(laptop_window):
    from sipscope.gui.models.message_list import ROUTE
    table = laptop_window.message_view.table
    assert table.model().rowCount() == 1
    _readable(table, 0, ROUTE, f"{CALLER_V6} → {CALLEE_V6}")


def test_the_raw_pane_has_room_for_a_header_line(laptop_window):
    raw = laptop_window.raw_view
    width_in_chars = raw.width() / raw.fontMetrics().averageCharWidth()
    assert width_in_chars >= 40
    assert laptop_window.width() <= 1280 and laptop_window.height() <= 720


def test_the_window_fits_every_common_screen():
    from sipscope.gui import window_geometry
    for width, height in ((1280, 720), (1366, 768), (1920, 1080), (1024, 600)):
        layout = window_geometry.fit(width, height)
        assert layout.width <= width and layout.height <= height
        assert sum(layout.main) == layout.width
    assert window_geometry.fit(2560, 1440).width == window_geometry.DEFAULT_WIDTH
