"""Ladder words never overlap: each label sits in its own row above its arrow, each SDP line in
its row under it and within the arrow's own span (it never runs across another lifeline)."""

from __future__ import annotations

import itertools

import pytest

from sipscope.core.ladder.layout import build_layout
from sipscope.core.model.loader import load_files

TRACES = ["blog-grandstream-forked-call.txt", "udp-two-calls-rtp-g711-pcma-pcmu.pcap",
          "udp-call-info-dtmf-cancel.pcap", "ngrep-kamailio-record-route-call.txt"]


def rectangles(layout, style):
    from sipscope.render.painter import detail_rect, label_rect
    placed = []
    for arrow in layout.arrows:
        if arrow.self_loop:
            continue
        label, _ = label_rect(layout, arrow, style)
        placed.append((arrow, "label", label))
        detail = detail_rect(layout, arrow, style)
        if detail is not None:
            placed.append((arrow, "detail", detail[0]))
    return placed


@pytest.mark.parametrize("name", TRACES)
def test_labels_and_sdp_lines_keep_to_their_row_and_span(name, data_dir, qapp):
    from sipscope.render.style import Style
    style = Style()
    session = load_files([str(data_dir / name)])
    for call in session.calls:
        layout = build_layout(session, call.messages)
        placed = rectangles(layout, style)
        for arrow, kind, rect in placed:
            row_top = layout.header_height + arrow.row * layout.row_height
            assert rect.top() >= row_top - 0.01, (name, arrow.label, kind)
            assert rect.bottom() <= row_top + layout.row_height + 0.01, (name, arrow.label, kind)
            if kind == "detail":
                assert min(arrow.x1, arrow.x2) <= rect.left()
                assert rect.right() <= max(arrow.x1, arrow.x2), (name, arrow.detail)
        for (a, kind_a, first), (b, kind_b, second) in itertools.combinations(placed, 2):
            assert not first.intersects(second), (name, a.label, kind_a, b.label, kind_b)
