"""Capture text is never markup: `<b>` and `<img>` in a header show literally in every view."""

from __future__ import annotations

from PySide6.QtCore import Qt

from sipscope.gui.models.message_list import LABEL
from tests.factory import Flow, request, response
from tests.gui.conftest import add_finding

MARKUP = "<b>bold</b> <img src=x onerror=alert(1)>"


def markup_session():
    flow = Flow()
    invite = request("INVITE", "sip:bob@192.0.2.2", call_id="x<b>y</b>@host",
                     extra=(("User-Agent", MARKUP), ("X-Note", MARKUP)))
    flow.add(0.0, "192.0.2.1:5060", "192.0.2.2:5060", invite)
    flow.add(0.1, "192.0.2.2:5060", "192.0.2.1:5060",
             response(invite, 486, MARKUP, to_tag="t1"))
    session = flow.session()
    add_finding(session, [0, 1], title=f"Busy: {MARKUP}",
                explanation=f"The phone said {MARKUP} and hung up.", key="F77")
    return session


def test_markup_is_shown_literally_everywhere(qtbot):
    from sipscope.gui.main_window import MainWindow
    session = markup_session()
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    window.controller.set_session(session, MARKUP)
    finding = next(f for f in session.findings if f.key == "F77")
    window.fault_panel.set_capture_scope(True)
    window.controller.select_finding(finding)

    # message list: the reason phrase as model data (DisplayRole strings only)
    model = window.message_view.model
    assert model.index(1, LABEL).data(Qt.DisplayRole) == f"486 {MARKUP}"
    # raw view: plain text, and no rich text anywhere in the document
    window.controller.select_messages([1])
    raw = window.raw_view
    assert raw.text().startswith(f"SIP/2.0 486 {MARKUP}\n")
    assert raw.edit.document().toPlainText() == raw.text()
    window.controller.select_messages([0])
    assert f"User-Agent: {MARKUP}\nX-Note: {MARKUP}\n" in raw.text()
    assert raw.title.textFormat() == Qt.PlainText
    # fault panel: title and explanation as plain strings, drawn with drawText
    window.controller.select_finding(finding)
    text = window.fault_panel.visible_text()
    assert f"Busy: {MARKUP}" in text and f"The phone said {MARKUP} and hung up." in text
    # ladder: the arrow label and the lane subtitle keep the characters
    layout = window.ladder_view.layout_data
    assert layout.arrow_for(1).label.startswith("486 <b>bold</b>")
    assert layout.lanes[0].subtitle.startswith("<b>bold</b>")
    # timeline: lane text and marker labels are plain TextItems
    labels = [item.textItem.toPlainText() for item in window.timeline_view._labels]
    assert any(label.startswith("INVITE") for label in labels)
    # call list: the Call-ID with markup is searchable and shown as typed
    window.calls_view.filter_edit.setText("x<b>y")
    window.calls_view.apply_filter()
    assert window.calls_view.proxy.rowCount() == 1
    # the window title and the banner are plain too
    assert MARKUP in window.windowTitle()
    window.banner.add("error", f"{MARKUP} could not be read")
    assert window.banner.text.textFormat() == Qt.PlainText
    assert window.banner.plain_text().startswith(MARKUP)


def test_every_label_of_the_gui_is_plain_text(qtbot):
    """No QLabel of the window may guess rich text (Qt.AutoText) from what it shows."""
    from PySide6.QtWidgets import QLabel

    from sipscope.gui.main_window import MainWindow
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.controller.set_session(markup_session(), "markup")
    guessing = [label for label in window.findChildren(QLabel)
                if label.textFormat() != Qt.PlainText and label.pixmap().isNull()]
    assert [label.text() for label in guessing] == []
