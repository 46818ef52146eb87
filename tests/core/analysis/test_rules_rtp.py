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


def rtp_packet(seq: int, timestamp: int, ssrc: int, pt: int = 8, event: bool = False,
               marker: bool = False, size: int = 160) -> bytes:
    """RFC 3550 §5.1 header (V=2, no padding/extension/CSRC) + a G.711 or RFC 4733 payload."""
    header = struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0), seq & 0xFFFF,
                         timestamp & 0xFFFFFFFF, ssrc)
    payload = bytes([5, 0x0A, 0x00, 0xA0]) if event else b"\xd5" * size
    return header + payload


def rtp_flow(flow: Flow, src: str, dst: str, start: float, seconds: float, ssrc: int,
             pt: int = 8, event: bool = False, ptime: float = 0.02, seq0: int = 0,
             marker_first: bool = False, twice: tuple[int, int] = (0, 0)) -> int:
    """Add `seconds` of packets every `ptime` s (G.711: 8 payload bytes per ms) from src to dst;
    the first carries the marker bit if asked; packets twice[0] .. twice[1]-1 are sent twice
    (same SSRC, sequence number and timestamp).  Returns the number of distinct packets."""
    count = int(round(seconds / ptime))
    size = int(round(ptime * 8000))
    for i in range(count):
        packet = rtp_packet(seq0 + i, (seq0 + i) * size, ssrc, pt, event,
                            marker=marker_first and i == 0, size=size)
        flow.add(start + i * ptime, src, dst, packet)
        if twice[0] <= i < twice[1]:
            flow.add(start + i * ptime + 0.0001, src, dst, packet)
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
    assert finding.evidence["sent"] == 500 and finding.evidence["returned"] == 0
    assert finding.evidence["toward"] == "callee"
    assert "Audio flowed from the caller (10.0.0.1:4000) to the callee (10.0.0.2:5000)" \
        in finding.explanation
    assert finding.messages == [0, 1]


def test_one_way_numbers_are_the_stream_tables():
    """Issue 14 pattern 3: the packets a one-way finding names are those the call's stream
    table (report --json / text) shows, not a count over the judging window."""
    session = one_way(back=3)
    [finding] = found(session, "rtp-one-way")
    table = {(s["src"], s["dst"]): s["packets"] for s in session_json(session)["calls"][0]["streams"]}
    assert table == {(A_RTP, B_RTP): 500, (B_RTP, A_RTP): 3}
    assert finding.title == "One-way audio: 500 packets to the callee, 3 back"
    assert "(500 packets) but only 3 came back" in finding.explanation
    assert finding.evidence["stream_packets"] == {f"{A_RTP} -> {B_RTP}": 500,
                                                  f"{B_RTP} -> {A_RTP}": 3}
    assert finding.evidence["sent_in_window"] < 500       # the window is evidence, not text


def test_one_way_on_a_flat_lan_gives_no_nat_advice():
    """Issue 14 pattern 1: NAT/ALG advice only when the capture shows NAT."""
    [finding] = found(one_way(), "rtp-one-way")
    assert "This capture shows no NAT" in finding.explanation
    assert "ALG" not in finding.explanation and "nat" not in finding.evidence


def one_way_behind_nat():
    """The caller's SIP comes from a public address, its SDP gives a private one."""
    f = Flow()
    pub, priv = "203.0.113.5", "192.168.1.10"
    inv = f.add(0, f"{pub}:5060", B, request("INVITE", CALLEE, via=f"{priv}:5060",
                                             body=sdp(priv, 4000)))
    f.add(0.3, B, f"{pub}:5060", response(inv, 200, "OK", to_tag="X", contact=CALLEE,
                                           body=sdp("10.0.0.2", 5000)))
    f.add(0.31, f"{pub}:5060", B, request("ACK", CALLEE, to_tag="X", via=f"{priv}:5060",
                                          branch="z9hG4bK-ack"))
    rtp_flow(f, B_RTP, f"{priv}:4000", 0.4, 10.0, ssrc=1)
    bye(f, 10.5)
    return f.session(media=MediaCollector())


def test_one_way_behind_nat_names_the_nat():
    [finding] = found(one_way_behind_nat(), "rtp-one-way")
    assert finding.evidence["nat"] == ["the caller advertises the private audio address "
                                       "192.168.1.10 while its SIP comes from 203.0.113.5"]
    assert "This capture shows NAT" in finding.explanation and "ALG" in finding.explanation


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


def short_one_way_call(seconds: float = 2.4, back: bool = False):
    """A call of `seconds` from the ACK (0.31 s) to the BYE, audio one way (or both)."""
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, seconds - 0.1, ssrc=1)
    if back:
        rtp_flow(f, B_RTP, A_RTP, 0.4, seconds - 0.1, ssrc=2)
    bye(f, 0.31 + seconds)
    return f.session(media=MediaCollector())


def test_short_call_one_way_is_still_one_way():
    """Issue 14 pattern 4: no fixed 5 s window; the window is the time of 25 packets at the
    sender's own rate (0.5 s at 20 ms), so a 2.4 s one-way call is reported."""
    [finding] = found(short_one_way_call(), "rtp-one-way")
    assert finding.severity == "error" and finding.evidence["sent"] == 115
    assert finding.evidence["settle_s"] == 0.5


def short_two_way_call():
    return short_one_way_call(back=True)


def too_short_to_judge():
    """0.7 s from ACK to BYE: less than the settle plus 25 packets' time."""
    return short_one_way_call(seconds=0.7)


def vad_back_side(markers: bool = True):
    """The callee only sends three short talkspurts (marker bit on each first packet, RFC 3551
    §4.1): silence suppression, not one-way audio."""
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 10.0, ssrc=1)
    for k, t in enumerate((1.0, 4.0, 7.0)):
        rtp_flow(f, B_RTP, A_RTP, t, 0.1, ssrc=2, seq0=5 * k, marker_first=markers)
    bye(f, 10.5)
    return f.session(media=MediaCollector())


def talkspurts_without_markers():
    return vad_back_side(markers=False)


def port_and_ssrc_reused():
    """Two short calls between the same media addresses; the callee keeps one SSRC and sequence
    across both, so its packets form one stream that the index gives to one call only."""
    f = Flow()
    for n, t in enumerate((0.0, 5.0)):
        answered_call(f, t, call_id=f"reuse{n}@test")
        rtp_flow(f, A_RTP, B_RTP, t + 0.4, 2.2, ssrc=10 + n)
        rtp_flow(f, B_RTP, A_RTP, t + 0.4, 2.2, ssrc=2, seq0=110 * n)
        bye(f, t + 2.7, call_id=f"reuse{n}@test")
    return f.session(media=MediaCollector())


def sparse_back_side(lost: bool = False):
    """The callee sends one frame every 2.5 s, no marker, no CN, consecutive sequence numbers
    (a burst-then-sparse DTX sender); with `lost` its sequence numbers jump (network loss)."""
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 10.0, ssrc=1)
    for k, t in enumerate((1.0, 3.5, 6.0, 8.5)):
        rtp_flow(f, B_RTP, A_RTP, t, 0.02, ssrc=2, seq0=k * (40 if lost else 1))
    bye(f, 10.5)
    return f.session(media=MediaCollector())


def test_sparse_sender_without_sequence_gaps_is_silence_suppression():
    assert not found(sparse_back_side(), "rtp-one-way")
    [finding] = found(sparse_back_side(lost=True), "rtp-one-way")
    assert finding.inconclusive          # lost in the capture or network, not proven


def back_side_stops_early():
    """The callee sends 10 packets right after the answer, then nothing: not a sparse sender."""
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 10.0, ssrc=1)
    rtp_flow(f, B_RTP, A_RTP, 1.0, 0.2, ssrc=2)
    bye(f, 10.5)
    return f.session(media=MediaCollector())


def test_silence_suppression_is_not_one_way():
    assert not found(vad_back_side(), "rtp-one-way")
    # talkspurts without marker bits: the sequence numbers have no gap, so the sender chose
    # not to send (RFC 3550 §5.1), it was not lost
    assert not found(talkspurts_without_markers(), "rtp-one-way")
    [finding] = found(back_side_stops_early(), "rtp-one-way")
    assert finding.title == "One-way audio: 500 packets to the callee, 10 back"
    assert finding.severity == "error"


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
    assert "NAT" not in finding.explanation     # a flat LAN: no NAT cause offered (pattern 1)
    assert [session.messages[i].label for i in finding.messages] == ["INVITE", "200 OK", "ACK",
                                                                     "BYE"]


def direct_media_elsewhere():
    """A re-INVITE right after the answer moves the media to 10.0.0.9:9000 <-> 10.0.0.2:5002
    (a PBX's direct media); the capture only ever saw media between 10.0.0.1 and 10.0.0.2."""
    f = Flow()
    answered_call(f, call_id="earlier@test", a_port=4100, b_port=5100)
    rtp_flow(f, "10.0.0.1:4100", "10.0.0.2:5100", 0.4, 2.0, ssrc=11)
    rtp_flow(f, "10.0.0.2:5100", "10.0.0.1:4100", 0.4, 2.0, ssrc=12)
    bye(f, 3.0, call_id="earlier@test")
    answered_call(f, 10.0)
    re = f.add(11.0, A, B, request("INVITE", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-dm",
                                   body=sdp("10.0.0.9", 9000, version=2)))
    f.add(11.05, B, A, response(re, 200, "OK", to_tag="X", contact=CALLEE,
                                body=sdp("10.0.0.2", 5002, version=2)))
    f.add(11.06, A, B, request("ACK", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-dm-ack"))
    bye(f, 30.5)
    return f.session(media=MediaCollector())


def test_direct_media_off_the_capture_path_is_not_called_absent():
    """Issue 14 pattern 4: absence is claimed only where the capture provably sees the path."""
    [finding] = found(direct_media_elsewhere(), "rtp-no-media")
    assert finding.inconclusive and finding.severity == "info"
    assert finding.title == ("No RTP of this call at this capture point (10.0.0.9:9000 / "
                             "10.0.0.2:5002): media path not visible here")
    assert "moved the media to 10.0.0.9:9000 / 10.0.0.2:5002" in finding.explanation
    assert finding.evidence["undecided"] == "path" and finding.evidence["vantage"] == ""


def move_media(f: Flow, t: float) -> None:
    """A re-INVITE answered at t + 0.05 moves the media to 10.0.0.9:9000 <-> 10.0.0.2:5002."""
    re = f.add(t, A, B, request("INVITE", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-mv",
                                body=sdp("10.0.0.9", 9000, version=2)))
    f.add(t + 0.05, B, A, response(re, 200, "OK", to_tag="X", contact=CALLEE,
                                   body=sdp("10.0.0.2", 5002, version=2)))
    f.add(t + 0.06, A, B, request("ACK", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-mv-ack"))


def one_way_after_unseen_move():
    """Right after the answer the media moves to a path this capture never shows; the callee
    keeps sending to the caller's old address."""
    f = Flow()
    answered_call(f)
    move_media(f, 0.5)
    rtp_flow(f, B_RTP, A_RTP, 0.6, 10.0, ssrc=2)
    bye(f, 11.0)
    return f.session(media=MediaCollector())


def test_one_way_after_a_move_off_the_capture_path_is_undecided():
    """Issue 14 pattern 4: absence only where the capture provably sees the path."""
    [finding] = found(one_way_after_unseen_move(), "rtp-one-way")
    assert finding.inconclusive and finding.severity == "info"
    assert finding.evidence["moved_to"] == ["10.0.0.9:9000", "10.0.0.2:5002"]
    assert "moved the media to 10.0.0.9:9000 / 10.0.0.2:5002, and this capture shows no packet" \
        in finding.explanation


def stop_at_media_move():
    """Both ways for 60 s; a re-INVITE moves the media; the callee's old stream ends there
    (its new one is off the capture), the caller keeps sending to the old address."""
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 100.0, ssrc=1)
    rtp_flow(f, B_RTP, A_RTP, 0.4, 59.6, ssrc=2)
    move_media(f, 59.95)
    bye(f, 100.5)
    return f.session(media=MediaCollector())


def test_no_media_says_why_the_path_is_seen():
    [finding] = found(silent_call(), "rtp-no-media")
    assert finding.evidence["vantage"] == "media between 10.0.0.1 and 10.0.0.2 is captured"


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


def dtx_pause():
    """The callee's stream pauses 40 s but shows talkspurt markers (VAD/DTX): not a stop."""
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 100.0, ssrc=1)
    rtp_flow(f, B_RTP, A_RTP, 0.4, 30.0, ssrc=2, marker_first=True)
    rtp_flow(f, B_RTP, A_RTP, 31.0, 29.0, ssrc=2, seq0=1500, marker_first=True)
    bye(f, 100.5)
    return f.session(media=MediaCollector())


def test_stopped_direction_and_gap():
    [finding] = found(stopped_mid_call(), "rtp-stopped")
    assert finding.severity == "warning" and finding.evidence["side"] == "callee"
    assert 40.0 <= finding.evidence["gap_s"] <= 40.2 and not finding.evidence["resumed"]
    assert "Audio from the callee (10.0.0.2:5000) stopped at" in finding.explanation
    assert "shows no NAT" not in finding.explanation and "router mapping" not in \
        finding.explanation       # no NAT in this capture: no NAT cause offered


def test_stop_with_capture_loss_is_undecided_and_titled_so():
    """The callee's stream misses every other sequence number: the 40 s gap may be the
    capture's, so the title says what the capture holds (issue 14 pattern 2)."""
    f = Flow()
    answered_call(f)
    rtp_flow(f, A_RTP, B_RTP, 0.4, 100.0, ssrc=1)
    for i in range(3000):
        f.add(0.4 + i * 0.02, B_RTP, A_RTP, rtp_packet(2 * i, 2 * i * 160, 2))
    bye(f, 100.5)
    [finding] = found(f.session(media=MediaCollector()), "rtp-stopped")
    assert finding.inconclusive and finding.title.startswith("No RTP from the callee in the "
                                                             "capture for 40 s")
    assert "stopped at about " in finding.explanation and finding.evidence["lost"] == 2999


CASES = [
    ("rtp-one-way", one_way, True),
    ("rtp-one-way", two_way, False),
    ("rtp-one-way", one_way_by_design, False),
    ("rtp-no-media", silent_call, True),
    ("rtp-no-media", media_right_after_ack, False),
    ("rtp-stopped", stopped_mid_call, True),
    ("rtp-stopped", silence_after_sendonly, False),
    ("rtp-stopped", dtx_pause, False),
    ("rtp-one-way", short_one_way_call, True),
    ("rtp-one-way", short_two_way_call, False),
    ("rtp-one-way", too_short_to_judge, False),
    ("rtp-one-way", talkspurts_without_markers, False),
    ("rtp-one-way", back_side_stops_early, True),
    ("rtp-one-way", vad_back_side, False),
    ("rtp-one-way", port_and_ssrc_reused, False),
    ("rtp-one-way", sparse_back_side, False),
    ("rtp-no-media", direct_media_elsewhere, False),
    ("rtp-one-way", one_way_after_unseen_move, False),
    ("rtp-stopped", stop_at_media_move, False),
    ("rtp-duplicate-packets", lambda: doubled_stream(), True),
    ("rtp-duplicate-packets", lambda: doubled_stream(copies=0), False),
    ("rtp-ptime-above-maxptime", lambda: packetised(0.03), True),
    ("rtp-ptime-above-maxptime", lambda: packetised(0.02), False),
]


# -- rtp-duplicate-packets (docs/fault-reference.md) ----------------------------------------------

def doubled_stream(copies: int = 30, clean_back: bool = True):
    """Early media: 183 with SDP, the caller sends 300 packets of which `copies` twice, then
    the 200 OK."""
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp("10.0.0.1", 4000)))
    f.add(0.2, B, A, response(inv, 183, "Session Progress", to_tag="X", contact=CALLEE,
                              extra=(("Require", "100rel"), ("RSeq", "1")),
                              body=sdp("10.0.0.2", 5000)))
    rtp_flow(f, A_RTP, B_RTP, 0.3, 6.0, ssrc=7, twice=(50, 50 + copies))
    if clean_back:
        rtp_flow(f, B_RTP, A_RTP, 0.3, 6.0, ssrc=8)
    f.add(5.0, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE,
                              body=sdp("10.0.0.2", 5000)))
    f.add(5.01, A, B, request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
    bye(f, 6.5)
    return f.session(media=MediaCollector())


def test_duplicates_are_reported_as_duplicates_not_loss():
    session = doubled_stream()
    [finding] = found(session, "rtp-duplicate-packets")
    assert finding.severity == "warning" and not finding.inconclusive
    assert finding.title == ("Duplicated RTP: 30 of 330 packets sent twice "
                             "(10.0.0.1:4000 -> 10.0.0.2:5000)")
    assert finding.evidence["duplicates"] == 30 and finding.evidence["lost"] == 0
    assert "all during early media, before the call was answered" in finding.explanation
    stream = next(s for s in session.media.streams if s.ssrc == 7)
    assert stream.lost == 0 and stream.packets == 330          # the stream table's numbers
    assert "1 other stream in it, each at least 50 long, has no duplicate" in finding.explanation


def test_duplicates_with_no_clean_stream_are_undecided():
    [finding] = found(doubled_stream(clean_back=False), "rtp-duplicate-packets")
    assert finding.inconclusive and finding.title.startswith("RTP packets captured twice")


# -- rtp-ptime-above-maxptime (docs/fault-reference.md) -------------------------------------------

def packetised(ptime: float):
    """The callee's answer says a=maxptime:20; the caller sends `ptime` s G.711 packets."""
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp("10.0.0.1", 4000, "8")))
    f.add(0.3, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE,
                              body=sdp("10.0.0.2", 5000, "8") + "a=maxptime:20\r\n"))
    f.add(0.31, A, B, request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
    rtp_flow(f, A_RTP, B_RTP, 0.4, 6.0, ssrc=1, ptime=ptime)
    rtp_flow(f, B_RTP, A_RTP, 0.4, 6.0, ssrc=2)
    bye(f, 6.5)
    return f.session(media=MediaCollector())


def test_ptime_above_maxptime_names_codec_and_answer():
    [finding] = found(packetised(0.03), "rtp-ptime-above-maxptime")
    assert finding.severity == "warning"
    assert finding.title == "30 ms packets sent against a=maxptime:20 (10.0.0.1:4000 -> 10.0.0.2:5000)"
    assert finding.evidence["codec"] == "PCMA/8000" and finding.evidence["payload_bytes"] == 240
    assert "receiver's SDP (200 OK) says a=maxptime:20" in finding.explanation
    assert "Here the receiver tolerated it: the stream carried 200 packets" in finding.explanation


# -- real captures (shared/traces/real, REVIEWED.md files 4 and 7) ------------------------------

def test_linphone_early_media_duplicates(shared_traces):
    name = "real/udp-nat-linphone-trunk-503-then-183-early-media-call.pcap"
    session = load_files([str(shared_traces / name)])
    [finding] = found(session, "rtp-duplicate-packets")
    assert finding.severity == "warning" and finding.evidence["duplicates"] == 178
    assert finding.evidence["stream"] == "172.16.19.217:7078 -> 13.234.177.239:60434"
    assert finding.evidence["lost"] == 0 and "not loss" in finding.explanation
    assert not [f for f in session.findings if f.id in ("rtp-one-way", "rtp-no-media",
                                                        "rtp-stopped")]


def test_vega_30ms_packets_against_maxptime_20(shared_traces):
    name = "real/udp-vega-gateway-401-183-early-media-calls.pcap"
    session = load_files([str(shared_traces / name)])
    found_ = found(session, "rtp-ptime-above-maxptime")
    assert sorted(f.evidence["stream"] for f in found_) == [
        "192.10.1.65:10040 -> 208.93.9.179:42138", "192.10.1.65:10044 -> 208.93.9.179:24342"]
    assert {(f.severity, f.evidence["ptime_ms"], f.evidence["maxptime_ms"]) for f in found_} \
        == {("warning", 30.0, 20)}


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


def test_late_audio_names_its_real_delay_and_undecided_one_way_claims_no_silence(shared_traces):
    """The 603/DTMF capture's call 5: audio starts 22.5 s after the answer (the text said 'more
    than 5 s'); one-way audio between two media addresses on one host is undecided, so what the
    users heard is a possibility, not a fact, and the title says so."""
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "udp-register-calls-603-decline-rtp-dtmf.cap")])
    [late] = [f for f in session.findings if f.id == "rtp-no-media"]
    assert late.title.startswith("Audio started 22.5 s after the answer")
    assert late.evidence["delay_s"] == 22.5
    [one_way] = [f for f in session.findings if f.id == "rtp-one-way"]
    assert one_way.inconclusive and one_way.title.endswith("(undecided)")
    assert "If the callee really sent nothing back" in one_way.explanation
    assert "So the callee's user could hear" not in one_way.explanation
