"""RTP rules (catalog §9) on synthetic calls with real RTP headers in the flow, and real traces."""

from __future__ import annotations

import struct

from core.analysis.test_rules_security import digest, register
from factory import Flow, request, response, sdp

from sipscope.core.export.report import session_json, text_report
from sipscope.core.media.streams import MediaCollector
from sipscope.core.model.loader import load_files

A, B = "10.0.0.1:5060", "10.0.0.2:5060"
A_RTP, B_RTP = "10.0.0.1:4000", "10.0.0.2:5000"
CALLEE = "sip:bob@10.0.0.2"


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def rtp_packet(seq: int, timestamp: int, ssrc: int, pt: int = 8, event: bool = False) -> bytes:
    """RFC 3550 §5.1 header (V=2, no padding/extension/CSRC) + a G.711 or RFC 4733 payload."""
    header = struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    payload = bytes([5, 0x0A, 0x00, 0xA0]) if event else b"\xd5" * 160
    return header + payload


def rtp_flow(flow: Flow, src: str, dst: str, start: float, seconds: float, ssrc: int,
             pt: int = 8, event: bool = False, ptime: float = 0.02, seq0: int = 0) -> int:
    """Add `seconds` of 20 ms packets from src to dst; returns the number added."""
    count = int(round(seconds / ptime))
    for i in range(count):
        flow.add(start + i * ptime, src, dst,
                 rtp_packet(seq0 + i, (seq0 + i) * 160, ssrc, pt, event))
    return count


def answered_call(f: Flow, t: float = 0.0, *, call_id: str = "call-1@test", a_port=4000,
                  b_port=5000, answer_direction="sendrecv", a_host="10.0.0.1",
                  b_host="10.0.0.2") -> None:
    a, b = f"{a_host}:5060", f"{b_host}:5060"
    inv = f.add(t, a, b, request("INVITE", f"sip:bob@{b_host}", call_id=call_id, via=a,
                                 body=sdp(a_host, a_port)))
    f.add(t + 0.3, b, a, response(inv, 200, "OK", to_tag="X", contact=f"sip:bob@{b_host}",
                                  body=sdp(b_host, b_port, direction=answer_direction)))
    f.add(t + 0.31, a, b, request("ACK", f"sip:bob@{b_host}", call_id=call_id, to_tag="X", via=a,
                                  branch=f"z9hG4bK-ack-{call_id}"))


def bye(f: Flow, t: float, call_id: str = "call-1@test", a_host="10.0.0.1",
        b_host="10.0.0.2") -> None:
    a, b = f"{a_host}:5060", f"{b_host}:5060"
    req = f.add(t, a, b, request("BYE", f"sip:bob@{b_host}", call_id=call_id, to_tag="X", cseq=9,
                                 via=a, branch=f"z9hG4bK-bye-{call_id}"))
    f.add(t + 0.05, b, a, response(req, 200, "OK", to_tag="X"))


# -- 9.1 rtp-one-way ----------------------------------------------------------------------------

def one_way(back: int = 0, answer_direction: str = "sendrecv"):
    f = Flow()
    answered_call(f, answer_direction=answer_direction)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 10.0, ssrc=1)
    if back:
        rtp_flow(f, B_RTP, A_RTP, 0.4, back * 0.02, ssrc=2)
    bye(f, 10.5)
    return f.session(media=MediaCollector())


def two_way():
    return one_way(back=480)


def one_way_by_design():
    """The answerer only receives (the answer says recvonly, so the offerer sends only)."""
    return one_way(answer_direction="recvonly")


def test_one_way_counts_both_directions():
    session = one_way()
    [finding] = found(session, "rtp-one-way")
    assert finding.severity == "error"
    assert finding.evidence["sent"] == 404 and finding.evidence["returned"] == 0
    assert finding.evidence["toward"] == "callee"
    assert "Audio flowed from the caller (10.0.0.1:4000) to the callee (10.0.0.2:5000)" \
        in finding.explanation
    assert finding.messages == [0, 1]


def test_one_way_names_where_the_missing_audio_went():
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 10.0, ssrc=1)
    rtp_flow(f, B_RTP, "10.0.0.77:4000", 0.4, 10.0, ssrc=2)
    bye(f, 10.5)
    [finding] = found(f.session(media=MediaCollector()), "rtp-one-way")
    assert finding.evidence["stray"] == ["10.0.0.2:5000 -> 10.0.0.77:4000 (500 packets)"]


def test_comfort_noise_is_not_silence():
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 10.0, ssrc=1)
    rtp_flow(f, B_RTP, A_RTP, 0.4, 10.0, ssrc=2, pt=13, ptime=0.5)
    bye(f, 10.5)
    assert not found(f.session(media=MediaCollector()), "rtp-one-way")


def test_short_call_has_no_window():
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 4.0, ssrc=1)
    bye(f, 4.5)
    assert not found(f.session(media=MediaCollector()), "rtp-one-way")


# -- 9.2 rtp-no-media ---------------------------------------------------------------------------

def silent_call(media_after: float | None = None):
    f = Flow()
    answered_call(f, call_id="earlier@test", a_port=4100, b_port=5100)       # media is captured
    rtp_flow(f, "10.0.0.1:4100", "10.0.0.2:5100", 0.4, 2.0, ssrc=11)
    rtp_flow(f, "10.0.0.2:5100", "10.0.0.1:4100", 0.4, 2.0, ssrc=12)
    bye(f, 3.0, call_id="earlier@test")
    answered_call(f, 10.0)
    if media_after is not None:
        rtp_flow(f, A_RTP, B_RTP, 10.31 + media_after, 20.0, ssrc=1)
        rtp_flow(f, B_RTP, A_RTP, 10.31 + media_after, 20.0, ssrc=2)
    bye(f, 30.5)
    return f.session(media=MediaCollector())


def media_right_after_ack():
    return silent_call(media_after=0.1)


def test_no_media_names_both_addresses():
    session = silent_call()
    [finding] = found(session, "rtp-no-media")
    assert finding.severity == "error" and finding.call_id == "call-1@test"
    assert "(10.0.0.1:4000 and 10.0.0.2:5000)" in finding.explanation
    assert [session.messages[i].label for i in finding.messages] == ["INVITE", "200 OK", "ACK",
                                                                     "BYE"]


def test_no_rtp_in_the_whole_capture_is_not_judged():
    f = Flow()
    answered_call(f)
    bye(f, 20.0)
    assert not found(f.session(media=MediaCollector()), "rtp-no-media")


# -- 9.3 rtp-stopped ----------------------------------------------------------------------------

def stopped_mid_call():
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 100.0, ssrc=1)
    rtp_flow(f, B_RTP, A_RTP, 0.4, 60.0, ssrc=2)
    bye(f, 100.5)
    return f.session(media=MediaCollector())


def silence_after_sendonly():
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 100.0, ssrc=1)
    rtp_flow(f, B_RTP, A_RTP, 0.4, 60.0, ssrc=2)
    re = f.add(59.4, A, B, request("INVITE", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-hold",
                                   body=sdp("10.0.0.1", 4000, direction="sendonly", version=2)))
    f.add(59.45, B, A, response(re, 200, "OK", to_tag="X", contact=CALLEE,
                                body=sdp("10.0.0.2", 5000, direction="recvonly", version=2)))
    f.add(59.46, A, B, request("ACK", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-hold-ack"))
    bye(f, 100.5)
    return f.session(media=MediaCollector())


def test_stopped_direction_and_gap():
    [finding] = found(stopped_mid_call(), "rtp-stopped")
    assert finding.severity == "warning" and finding.evidence["side"] == "callee"
    assert 40.0 <= finding.evidence["gap_s"] <= 40.2 and not finding.evidence["resumed"]
    assert "Audio from the callee (10.0.0.2:5000) stopped at" in finding.explanation


CASES = [
    ("rtp-one-way", one_way, True),
    ("rtp-one-way", two_way, False),
    ("rtp-one-way", one_way_by_design, False),
    ("rtp-no-media", silent_call, True),
    ("rtp-no-media", media_right_after_ack, False),
    ("rtp-stopped", stopped_mid_call, True),
    ("rtp-stopped", silence_after_sendonly, False),
]


# -- the brief's mixed scenario and the report -------------------------------------------------

def test_clean_calls_hold_and_strong_registration_raise_no_error():
    f = Flow()
    register(f, 0.0, "10.0.1.50:5060", "201", status=401, reason="Unauthorized", call_id="r@x")
    register(f, 0.1, "10.0.1.50:5060", "201", cseq=2, call_id="r@x",
             auth=digest("201", "Tz4!qv9#LmX2pW7r", "n1201"))
    for n in range(10):
        t = 1.0 + n * 12
        a_host, b_host = f"10.0.0.{10 + n}", f"10.0.0.{100 + n}"
        call_id = f"clean{n}@test"
        answered_call(f, t, call_id=call_id, a_host=a_host, b_host=b_host)
        rtp_flow(f, f"{a_host}:4000", f"{b_host}:5000", t + 0.35, 10.0, ssrc=100 + n)
        rtp_flow(f, f"{b_host}:5000", f"{a_host}:4000", t + 0.35, 10.0, ssrc=200 + n)
        if n == 3:              # hold and resume in the middle of one call
            a, b = f"{a_host}:5060", f"{b_host}:5060"
            for cseq, (t_re, direction, answer) in enumerate(
                    ((t + 4.0, "sendonly", "recvonly"), (t + 6.0, "sendrecv", "sendrecv")), 2):
                re = f.add(t_re, a, b, request(
                    "INVITE", f"sip:bob@{b_host}", call_id=call_id, to_tag="X", cseq=cseq,
                    via=a, branch=f"z9hG4bK-re{cseq}",
                    body=sdp(a_host, 4000, direction=direction, version=cseq)))
                f.add(t_re + 0.05, b, a, response(re, 200, "OK", to_tag="X",
                                                  contact=f"sip:bob@{b_host}",
                                                  body=sdp(b_host, 5000, direction=answer,
                                                           version=cseq)))
                f.add(t_re + 0.06, a, b, request("ACK", f"sip:bob@{b_host}", call_id=call_id,
                                                 to_tag="X", cseq=cseq, via=a,
                                                 branch=f"z9hG4bK-reack{cseq}"))
        bye(f, t + 10.6, call_id=call_id, a_host=a_host, b_host=b_host)
    session = f.session(media=MediaCollector())
    errors = [f"{x.id}: {x.title}" for x in session.findings if x.severity == "error"]
    assert errors == []
    assert [x.id for x in session.findings if x.id == "sdp-hold"] == ["sdp-hold"]
    assert not [x for x in session.findings if x.id.startswith("rtp-")]


def test_report_lists_each_calls_streams():
    session = one_way(back=480)
    data = session_json(session)
    streams = data["calls"][0]["streams"]
    assert [(s["src"], s["dst"], s["packets"]) for s in streams] == [
        (A_RTP, B_RTP, 500), (B_RTP, A_RTP, 480)]
    text = text_report(session)
    assert "media streams:" in text
    assert ("10.0.0.1:4000 -> 10.0.0.2:5000 ssrc 0x00000001: 500 packets in 10.0 s, "
            "PT 8 (PCMA/8000) x500, 0 lost (0.0 %), jitter 0.0 ms, caller -> callee") in text
    assert "10.0.0.2:5000 -> 10.0.0.1:4000 ssrc 0x00000002: 480 packets" in text


# -- real traces ----------------------------------------------------------------------------------

def test_g711_call_with_407_has_both_directions(shared_traces):
    session = load_files([str(shared_traces / "udp-call-407-auth-rtp-g711a.pcap")])
    [call] = session.calls
    streams = session.media.streams_for_call(session, call)
    assert [(s.src, s.dst, s.packets) for s in streams] == [
        ("172.16.19.237:35998", "3.90.71.92:10694", 989),
        ("3.90.71.92:10694", "172.16.19.237:35998", 248)]
    assert not [f for f in session.findings if f.id.startswith("rtp-")]


def test_one_way_by_design_sample_is_quiet(shared_traces):
    """Offers recvonly, answers sendonly: the media is meant to flow one way."""
    session = load_files([str(shared_traces / "udp-two-calls-rtp-g711-pcma-pcmu.pcap")])
    assert sum(len(session.media.streams_for_call(session, c)) for c in session.calls) == 2
    assert not [f for f in session.findings if f.id.startswith("rtp-")]


def test_b2bua_legs_share_their_media(shared_traces):
    """Two Call-IDs (B2BUA legs) advertise the same media: both legs get the streams."""
    name = "ipv4-fragmented-udp-register-subscribe-invite.pcap"
    session = load_files([str(shared_traces / name)])
    legs = [c for c in session.calls if session.media.streams_for_call(session, c)]
    assert len(legs) == 2
    assert all(len(session.media.streams_for_call(session, c)) == 2 for c in legs)
    assert not [f for f in session.findings if f.id.startswith("rtp-")]
