"""Issue 17 class 8: a bidi control in capture text cannot reorder sipscope's own words in the
GUI (it is shown as a stand-in, not obeyed), and no tooltip interprets capture markup."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as QtGuiNamespace
from PySide6.QtWidgets import QAbstractItemView, QLabel

from tests.factory import Flow, request, response
from tests.gui.conftest import add_finding

RLO = "\u202e"
BIDI = (RLO, "\u202d", "\u202a", "\u202b", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\u061c")
VALUE = f"{RLO}evil\u2069 <b>bold</b>"


def bidi_session():
    flow = Flow()
    invite = request("INVITE", "sip:bob@192.0.2.2", call_id=f"c{RLO}x@host",
                     extra=(("User-Agent", VALUE),))
    flow.add(0.0, "192.0.2.1:5060", "192.0.2.2:5060", invite)
    flow.add(0.1, "192.0.2.2:5060", "192.0.2.1:5060", response(invite, 486, VALUE, to_tag="t"))
    session = flow.session()
    add_finding(session, [0, 1], title=f"Busy: {VALUE} then our words",
                explanation=f"The phone {VALUE} said busy; sipscope's advice follows.", key="F88")
    return session


def _cells(window):
    """Every valid cell of every view's model (the first 50 rows, 30 columns)."""
    for view in window.findChildren(QAbstractItemView):
        model = view.model()
        if model is None:
            continue
        for row in range(50):
            if not model.index(row, 0).isValid():
                break
            for column in range(30):
                index = model.index(row, column)
                if not index.isValid():
                    break
                yield index


def strings_shown(window) -> list[str]:
    """Every label text and every DisplayRole/tooltip string of every view's model."""
    shown = [label.text() for label in window.findChildren(QLabel)]
    shown.append(window.windowTitle())
    shown.append(window.fault_panel.visible_text())
    for index in _cells(window):
        for role in (Qt.DisplayRole, Qt.ToolTipRole):
            value = index.data(role)
            if isinstance(value, str):
                shown.append(value)
    return shown


def test_no_bidi_control_from_a_capture_reaches_the_screen(qtbot):
    from sipscope.gui.main_window import MainWindow
    session = bidi_session()
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    window.controller.set_session(session, f"trace{RLO}.pcap")
    window.fault_panel.set_capture_scope(True)
    window.controller.select_finding(next(f for f in session.findings if f.key == "F88"))
    window.controller.select_messages([1])
    window.banner.add("warning", f"rule failed on Call-ID c{RLO}x@host; the other calls were checked")
    shown = strings_shown(window)
    leaking = [text for text in shown if any(c in text for c in BIDI)]
    assert leaking == []
    panel = window.fault_panel.visible_text()
    assert "The phone \ufffdevil\ufffd <b>bold</b> said busy; sipscope's advice follows." in panel
    assert "c\ufffdx@host; the other calls were checked" in window.banner.plain_text()
    assert window.windowTitle().startswith("Call 1 · trace\ufffd.pcap")
    # tooltips never let Qt guess rich text from capture markup
    tips = [index.data(Qt.ToolTipRole) for index in _cells(window)]
    tips = [tip for tip in tips if isinstance(tip, str) and "bold" in tip]
    assert [tip for tip in tips if QtGuiNamespace.mightBeRichText(tip) and "<b>bold" in tip] == []
