"""The timeline's media lanes (gui/models/timeline.py): one per direction, labelled with codec and
counts, a missing direction as its own lane, and hold periods from re-INVITEs (RFC 3264 §8.4)."""

from __future__ import annotations

import struct

from factory import Flow, request, response, sdp

from sipscope.core.media.streams import MediaCollector
from sipscope.core.media.table import stream_rows
from sipscope.gui.models.timeline import hold_periods, row_label, row_lanes

A, B = "10.0.0.1:5060", "10.0.0.2:5060"
A_RTP, B_RTP = "10.0.0.1:4000", "10.0.0.2:5000"


def _rtp(seq: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 8, seq, seq * 160, ssrc) + b"\xd5" * 160


def held_call():
    """Answered at 0.3 s, put on hold (sendonly) at 3 s, resumed at 6 s, BYE at 9 s."""
    f = Flow()
    codecs = "8 101"
    inv = f.add(0.0, A, B, request("INVITE", "sip:bob@10.0.0.2", via=A,
                                   body=sdp("10.0.0.1", 4000, codecs=codecs)))
    f.add(0.3, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                              body=sdp("10.0.0.2", 5000, codecs=codecs)))
    f.add(0.31, A, B, request("ACK", "sip:bob@10.0.0.2", to_tag="X", via=A, branch="z9hG4bK-a"))
    for cseq, t, direction, answer in ((2, 3.0, "sendonly", "recvonly"),
                                       (3, 6.0, "sendrecv", "sendrecv")):
        re = f.add(t, A, B, request("INVITE", "sip:bob@10.0.0.2", to_tag="X", cseq=cseq, via=A,
                                    branch=f"z9hG4bK-re{cseq}",
                                    body=sdp("10.0.0.1", 4000, codecs=codecs, version=cseq,
                                             direction=direction)))
        f.add(t + 0.1, B, A, response(re, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                                      body=sdp("10.0.0.2", 5000, codecs=codecs, version=cseq,
                                               direction=answer)))
        f.add(t + 0.11, A, B, request("ACK", "sip:bob@10.0.0.2", to_tag="X", cseq=cseq, via=A,
                                      branch=f"z9hG4bK-rea{cseq}"))
    for i in range(400):                      # the caller sends all along (music on hold too)
        f.add(0.5 + i * 0.02, A_RTP, B_RTP, _rtp(i, 1))
    bye = f.add(9.0, A, B, request("BYE", "sip:bob@10.0.0.2", to_tag="X", cseq=9, via=A,
                                   branch="z9hG4bK-b"))
    f.add(9.05, B, A, response(bye, 200, "OK", to_tag="X"))
    return f.session(media=MediaCollector())


def test_hold_period_is_shaded_and_the_missing_direction_is_a_lane():
    session = held_call()
    rows = stream_rows(session, session.calls[0])
    lanes = row_lanes(session, rows)
    assert [(lane.label, lane.kind) for lane in lanes] == [
        ("caller → callee PCMA ×400", "rtp"), ("callee → caller PCMA: no packets", "rtp-missing")]
    t0 = session.calls[0].messages[0].ts
    for lane in lanes:
        assert [(round(a - t0, 2), round(b - t0, 2)) for a, b in lane.holds] == [(3.1, 6.1)]
    assert lanes[1].window is not None and round(lanes[1].window[1] - t0, 2) == 9.0


def test_no_hold_no_shading():
    session = held_call()
    ms = stream_rows(session, session.calls[0])[0].media_session
    first = ms.completed()[:1]
    ms_exchanges = ms.exchanges
    try:
        ms.exchanges = [e for e in ms_exchanges if e in first]
        assert hold_periods(ms, 10.0) == []
    finally:
        ms.exchanges = ms_exchanges


def test_label_of_a_stream_without_loss():
    session = held_call()
    row = stream_rows(session, session.calls[0])[0]
    assert row_label(row) == "caller → callee PCMA ×400"
