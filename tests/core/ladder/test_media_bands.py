"""Ladder media bands (layout.add_media_bands): one band per direction of each media session,
between the media addresses' columns, over the rows during which it flowed; a direction the
SDP negotiated but that never arrived is a band marked missing."""

from __future__ import annotations

from core.media.test_table import A_RTP, B_RTP, clean, session_with

from sipscope.core.ladder.layout import build_layout
from sipscope.core.media.table import stream_rows


def test_two_way_call_has_two_bands_between_the_phones():
    session = session_with(clean(), clean(ssrc=2))
    call = session.calls[0]
    layout = build_layout(session, call.messages, media_rows=stream_rows(session, call))
    assert [(b.label, b.missing) for b in layout.media] == [
        ("RTP PCMU/8000 ×500, MOS≈4.4", False), ("RTP PCMU/8000 ×500, MOS≈4.4", False)]
    titles = [lane.title for lane in layout.lanes]
    assert titles == ["10.0.0.1:5060", "10.0.0.2:5060"]          # media shares the SIP columns
    forward, back = layout.media
    assert (forward.from_lane, forward.to_lane, back.from_lane, back.to_lane) == (0, 1, 1, 0)
    # media from 0.4 s to 10.4 s: after the ACK row (index 2), ending before the BYE row (3)
    assert forward.top == layout.header_height + 3 * layout.row_height
    assert forward.bottom >= forward.top + 0.8 * layout.row_height
    assert (forward.slot, back.slot) == (0, 1)
    assert layout.band_at(layout.media_label_x + 10, forward.top + 2) is back   # last drawn wins


def test_one_way_call_has_a_missing_band():
    session = session_with(clean())
    call = session.calls[0]
    layout = build_layout(session, call.messages, media_rows=stream_rows(session, call))
    missing = [b for b in layout.media if b.missing]
    assert len(missing) == 1 and missing[0].row.src == B_RTP and missing[0].row.dst == A_RTP
    assert missing[0].label == ("no RTP callee → caller (negotiated PCMU/8000, none captured)")
    assert layout.width >= layout.media_label_x + 300


def test_no_media_rows_no_bands():
    session = session_with(clean())
    layout = build_layout(session, session.calls[0].messages)
    assert layout.media == [] and layout.media_label_x == 0.0
