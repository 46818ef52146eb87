"""The streams table (media/table.py) on calls built with RTP of known content: loss, jitter,
duplicates, DTMF events and the E-model estimate against hand computation; a one-way call shows
its missing direction as an expected-only row; `report --json` carries the new fields."""

from __future__ import annotations

import struct

import pytest
from factory import Flow, request, response, sdp

from sipscope.core.export.report import session_json, text_report
from sipscope.core.media.streams import MediaCollector
from sipscope.core.media.table import StreamTable, stream_rows

A, B = "10.0.0.1:5060", "10.0.0.2:5060"
A_RTP, B_RTP = "10.0.0.1:4000", "10.0.0.2:5000"


def rtp(seq: int, pt: int = 0, ssrc: int = 1, payload: bytes = b"\xff" * 160,
        timestamp: int | None = None) -> bytes:
    ts = seq * 160 if timestamp is None else timestamp
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def call(f: Flow) -> None:
    inv = f.add(0.0, A, B, request("INVITE", "sip:bob@10.0.0.2", via=A, body=sdp("10.0.0.1", 4000)))
    f.add(0.3, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                              body=sdp("10.0.0.2", 5000)))
    f.add(0.31, A, B, request("ACK", "sip:bob@10.0.0.2", to_tag="X", via=A, branch="z9hG4bK-a"))


def end(f: Flow, t: float) -> None:
    req = f.add(t, A, B, request("BYE", "sip:bob@10.0.0.2", to_tag="X", cseq=9, via=A,
                                 branch="z9hG4bK-b"))
    f.add(t + 0.05, B, A, response(req, 200, "OK", to_tag="X"))


def session_with(forward, back=None):
    """forward / back: lists of (arrival offset, packet) sent caller->callee / callee->caller."""
    f = Flow()
    call(f)
    for t, packet in forward:
        f.add(0.4 + t, A_RTP, B_RTP, packet)
    for t, packet in back or ():
        f.add(0.4 + t, B_RTP, A_RTP, packet)
    end(f, 11.0)
    return f.session(media=MediaCollector())


def clean(n=500, ssrc=1):
    return [(i * 0.02, rtp(i, ssrc=ssrc)) for i in range(n)]


def row_toward(rows, direction):
    [row] = [r for r in rows if r.direction == direction]
    return row


def test_clean_stream_numbers_and_mos():
    session = session_with(clean(), clean(ssrc=2))
    rows = stream_rows(session, session.calls[0])
    assert [(r.src, r.dst, r.packets, r.codec) for r in rows] == [
        (A_RTP, B_RTP, 500, "PCMU/8000"), (B_RTP, A_RTP, 500, "PCMU/8000")]
    row = row_toward(rows, "caller_to_callee")
    assert (row.expected, row.lost, row.sequence_errors, row.duplicates) == (500, 0, 0, 0)
    assert row.max_delta_ms == pytest.approx(20.0, abs=0.01)
    assert row.duration == pytest.approx(9.98, abs=1e-4)
    assert row.mos > 4.0 and row.r_factor == pytest.approx(93.2)


def test_ten_percent_loss_counted_and_mos_lower():
    lossy = [(t, p) for i, (t, p) in enumerate(clean()) if i % 10 != 5]    # 50 of 500 dropped
    session = session_with(lossy)
    [row] = [r for r in stream_rows(session, session.calls[0]) if not r.expected_only]
    assert (row.packets, row.expected, row.lost) == (450, 500, 50)
    assert row.lost_pct == pytest.approx(10.0)
    assert row.sequence_errors == 50                     # 50 forward jumps of two
    assert row.max_delta_ms == pytest.approx(40.0, abs=0.01)
    assert row.mos < 3.6                                 # G.107: R = 93.2 - 27.07 = 66.1
    assert row.r_factor == pytest.approx(93.2 - 950 / 35.1, abs=0.05)


def test_jitter_of_one_delayed_packet_by_hand():
    packets = clean()
    packets[100] = (packets[100][0] + 0.010, packets[100][1])      # 10 ms late
    session = session_with(packets)
    [row] = [r for r in stream_rows(session, session.calls[0]) if not r.expected_only]
    # RFC 3550 A.8: |D| = 10 ms into and out of the late packet: J = 10/16, then
    # J = 10/16 + (10 - 10/16)/16 = 1.2109375 ms (the maximum), then *15/16 per packet.
    assert row.max_jitter_ms == pytest.approx(1.2109375, abs=2e-3)
    total = 0.625 + sum(1.2109375 * (15 / 16) ** m for m in range(399))
    assert row.mean_jitter_ms == pytest.approx(total / 499, rel=0.02)
    assert row.max_delta_ms == pytest.approx(30.0, abs=0.01)


def test_duplicate_and_dtmf_events():
    packets = clean()
    packets.insert(11, packets[10])                                   # one packet twice
    events = []
    for k, start in enumerate((2.0, 4.0, 6.0)):                       # three RFC 4733 events
        for j in range(5):
            payload = bytes([k + 1, 0x8A if j >= 3 else 0x0A, 0, 40 * (j + 1)])
            events.append((start + j * 0.02 + 0.001,
                           rtp(1000 + 10 * k + j, pt=101, ssrc=1, payload=payload,
                               timestamp=90000 + k * 8000)))
    session = session_with(sorted(packets + events, key=lambda p: p[0]))
    [row] = [r for r in stream_rows(session, session.calls[0]) if not r.expected_only]
    assert row.duplicates == 1
    assert row.dtmf_events == 3
    assert [code for _, _, code in row.events] == [1, 2, 3]
    assert row.codec == "PCMU/8000"                                   # events are not the codec


def test_one_way_call_has_an_expected_only_row():
    session = session_with(clean())
    rows = stream_rows(session, session.calls[0])
    missing = row_toward(rows, "callee_to_caller")
    assert missing.expected_only and missing.packets == 0
    assert (missing.src, missing.dst, missing.codec) == (B_RTP, A_RTP, "PCMU/8000")
    assert "no packet of it is in the capture" in missing.tooltip()
    data = session_json(session)["calls"][0]["streams"]
    assert [(s["direction"], s["packets"], s["expected_only"]) for s in data] == [
        ("caller_to_callee", 500, False), ("callee_to_caller", 0, True)]
    assert data[0]["codec"] == "PCMU/8000" and data[0]["mos"] > 4.0
    assert data[1]["mos"] is None and data[1]["r_factor"] is None
    assert "no packets (negotiated, not seen)" in text_report(session)


def test_two_way_call_has_no_expected_only_row():
    session = session_with(clean(), clean(ssrc=2))
    assert not any(r.expected_only for r in StreamTable(session).rows)


def test_no_rtp_in_capture_no_rows():
    f = Flow()
    call(f)
    end(f, 11.0)
    session = f.session(media=MediaCollector())
    assert stream_rows(session) == []


def test_real_capture_recvonly_offer_is_not_missing():
    """udp-two-calls: the caller offered recvonly, so only callee -> caller is expected."""
    from pathlib import Path

    from sipscope.core.model.loader import load_files
    session = load_files([str(Path(__file__).parents[2] / "data"
                              / "udp-two-calls-rtp-g711-pcma-pcmu.pcap")])
    table = StreamTable(session)
    assert [(r.direction, r.codec, r.packets, r.expected_only) for r in table.rows] == [
        ("callee_to_caller", "PCMU/8000", 425, False), ("callee_to_caller", "PCMA/8000", 414, False)]


def test_real_capture_missing_direction(shared_traces):
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "udp-register-calls-603-decline-rtp-dtmf.cap")])
    rows = StreamTable(session).rows
    seen = [r for r in rows if not r.expected_only]
    missing = [r for r in rows if r.expected_only]
    # the relay 192.168.105.172 is in the media path: caller -> relay has no SDP of its own
    # (no call), relay -> callee is caller -> callee; nothing ever goes toward the caller
    assert [(r.direction, r.packets, r.dtmf_events) for r in seen] == [
        ("caller_to_callee", 666, 7), (None, 665, 0)]
    assert [(r.direction, r.src, r.dst) for r in missing] == [
        ("callee_to_caller", "192.168.105.110:4376", "192.168.105.110:4374")]
