"""Timeline labels never run into each other ("180200"): a message starts a new label only
where the label before it ends, at every zoom."""

from __future__ import annotations

import pytest

from tests.factory import Flow, request, response

TIMELINE_TAB = 1
A, B = "10.0.0.1:5060", "10.0.0.2:5060"


def slow_answer():
    """INVITE, 100, 180 and 183 within 60 ms (one label "INVITE 100 180 183"), then the 200 OK
    2 s later on the same transaction's lane."""
    flow = Flow()
    invite = flow.add(0.0, A, B, request("INVITE", "sip:2000@10.0.0.2"))
    flow.add(0.02, B, A, response(invite, 100, "Trying"))
    flow.add(0.04, B, A, response(invite, 180, "Ringing", to_tag="t1"))
    flow.add(0.06, B, A, response(invite, 183, "Session Progress", to_tag="t1"))
    flow.add(2.06, B, A, response(invite, 200, "OK", to_tag="t1"))
    return flow.session()


@pytest.mark.parametrize("gap_px", [60, 80, 100, 120, 400])
def test_labels_of_a_lane_do_not_overlap(qtbot, gap_px):
    from sipscope.gui.main_window import MainWindow
    session = slow_answer()
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.resize(1480, 900)
    window.show()
    window.controller.set_session(session, "synthetic")
    window.controller.select_call(session.calls[0])
    window.tabs.setCurrentIndex(TIMELINE_TAB)
    qtbot.wait(50)
    view = window.timeline_view
    t0 = view.data.t0
    seconds = 2.0 * view.view_box.width() / gap_px          # the 200 lands gap_px after the 183
    view.view_box.setXRange(-0.5, -0.5 + seconds, padding=0)
    view.relabel()
    boxes = sorted(view.label_boxes)
    assert boxes and t0 == session.messages[0].ts
    for (lane_a, _, right), (lane_b, left, _) in zip(boxes, boxes[1:]):
        if lane_a == lane_b:
            assert right + 4 <= left, (gap_px, right, left)
