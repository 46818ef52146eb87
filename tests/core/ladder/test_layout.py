"""Ladder layout on real traces: lanes, one arrow per message, colours, markers, hit-testing."""


import pytest
from factory import Flow, request, response, sdp

from sipscope.core.analysis.finding import Finding
from sipscope.core.ladder.ascii import render_ascii
from sipscope.core.ladder.layout import build_layout
from sipscope.core.model.loader import load_files
from sipscope.core.sources.datagram import TIME_UNKNOWN

BLOG_LANES = ["66.227.1xx.2xx:5060", "24.33.2xx.3xx:5060", "24.33.2xx.3xx:5064"]
GRANDSTREAM = "Grandstream GXP2000 1.1.6.46"


@pytest.fixture(scope="module")
def blog():
    from conftest import DATA
    return load_files([str(DATA / "blog-grandstream-forked-call.txt")])


@pytest.fixture(scope="module")
def dtmf():
    from conftest import DATA
    return load_files([str(DATA / "udp-call-info-dtmf-cancel.pcap")])


def test_blog_lanes_in_order_of_appearance_with_user_agents(blog):
    layout = build_layout(blog, blog.calls[0].messages)
    assert [lane.title for lane in layout.lanes] == BLOG_LANES
    assert [lane.subtitle for lane in layout.lanes] == ["Asterisk PBX", GRANDSTREAM, GRANDSTREAM]
    assert [lane.addresses for lane in layout.lanes] == [[a] for a in BLOG_LANES]
    xs = [lane.x for lane in layout.lanes]
    assert xs == sorted(xs) and xs[0] > layout.time_column_width
    assert layout.width >= xs[-1] + layout.lane_width / 2


def test_blog_one_arrow_per_message_with_directions_and_text(blog):
    messages = blog.calls[0].messages
    layout = build_layout(blog, messages)
    assert len(layout.arrows) == len(messages) == 12
    assert [a.message_index for a in layout.arrows] == [m.index for m in messages]
    assert [(a.from_lane, a.to_lane) for a in layout.arrows] == [
        (0, 1), (0, 2), (1, 0), (1, 0), (2, 0), (1, 0), (0, 1), (1, 0), (1, 0), (0, 2), (0, 1),
        (1, 0)]
    first, answer = layout.arrows[0], layout.arrows[5]
    assert first.x1 < first.x2 and answer.x1 > answer.x2      # left-to-right, right-to-left
    assert [a.label for a in layout.arrows[:6]] == [
        "INVITE", "INVITE", "100 Trying", "180 Ringing", "180 Ringing", "200 OK"]
    assert [a.kind for a in layout.arrows] == [
        "request", "request", "provisional", "provisional", "provisional", "success", "request",
        "success", "error", "request", "request", "error"]
    assert first.detail.startswith("SDP audio 66.227.100.215:19870 PCMU,PCMA,GSM,+4 sendrecv")
    assert answer.detail == "SDP audio 192.168.1.107:5056 PCMU,telephone-event sendrecv"
    assert layout.arrows[2].detail == ""
    assert first.time_text == "09:40:18.325" and first.delta_text == ""
    assert layout.arrows[4].delta_text == "+0.063"      # 18.479063 - 18.416313
    assert layout.arrows[10].delta_text == "+50.620"     # three decimals in every view
    assert not any(a.dimmed or a.self_loop for a in layout.arrows)
    ys = [a.y for a in layout.arrows]
    assert all(b - a == pytest.approx(layout.row_height) for a, b in zip(ys, ys[1:]))
    assert layout.height >= ys[-1] + layout.row_height / 2
    assert layout.title.startswith("Call 1 · INVITE · 1330352b536b8d7a74970bcf4df83a4c@jnctn.net")


def test_blog_fork_branches_get_their_own_colours(blog):
    layout = build_layout(blog, blog.calls[0].messages)
    colours = [a.branch_color for a in layout.arrows]
    # branch .2 = INVITE, 100, 180, CANCEL, 200 (CANCEL); branch .5 = INVITE, 180, 200 OK, 487, ACK
    assert colours == [0, 1, 0, 0, 1, 1, 0, 0, 1, 1, None, None]
    assert layout.arrows[5].from_lane == 1 and colours[5] == colours[1]   # D4: from .2's target
    assert layout.legend == [(0, "branch .2 -> 24.33.2xx.3xx:5060"),
                             (1, "branch .5 -> 24.33.2xx.3xx:5064")]


def test_merge_hosts_puts_both_grandstream_ports_in_one_column(blog):
    layout = build_layout(blog, blog.calls[0].messages, merge_hosts=True)
    assert [lane.title for lane in layout.lanes] == ["66.227.1xx.2xx", "24.33.2xx.3xx"]
    assert layout.lanes[1].addresses == ["24.33.2xx.3xx:5060", "24.33.2xx.3xx:5064"]
    assert {(a.from_lane, a.to_lane) for a in layout.arrows} == {(0, 1), (1, 0)}


def test_worst_finding_per_message_and_inconclusive_counts_as_info(blog):
    findings = [Finding("fork-same-device", "warning", "t", "e", messages=[1, 5]),
                Finding("fork-response-wrong-endpoint", "error", "t", "e", messages=[5]),
                Finding("txn-non2xx-not-acked", "error", "t", "e", messages=[9],
                        inconclusive=True),
                Finding("nat-private-contact", "info", "t", "e", messages=[0])]
    layout = build_layout(blog, blog.calls[0].messages, findings=findings)
    assert [a.severity for a in layout.arrows] == [
        "info", "warning", None, None, None, "error", None, None, None, "info", None, None]
    blog_findings, blog.findings = blog.findings, findings[:1]
    try:                                    # findings default to the session's
        assert build_layout(blog, blog.calls[0].messages).arrows[1].severity == "warning"
    finally:
        blog.findings = blog_findings


def test_the_session_severities_are_kept_until_its_findings_change(blog):
    """A ladder is laid out on every call click: the session's findings are mapped to messages
    once, and again when the list is replaced or grows (the GUI sets the findings late)."""
    saved = blog.findings
    try:
        blog.findings = []
        assert all(a.severity is None for a in build_layout(blog, blog.calls[0].messages).arrows)
        blog.findings.append(Finding("fork-same-device", "warning", "t", "e", messages=[1]))
        assert build_layout(blog, blog.calls[0].messages).arrows[1].severity == "warning"
        blog.findings = [Finding("route-loop", "error", "t", "e", messages=[1])]
        assert build_layout(blog, blog.calls[0].messages).arrows[1].severity == "error"
    finally:
        blog.findings = saved


def test_arrow_at_hit_testing(blog):
    layout = build_layout(blog, blog.calls[0].messages)
    first, long_one = layout.arrows[0], layout.arrows[1]          # lanes 0->1 and 0->2
    middle = (first.x1 + first.x2) / 2
    assert layout.arrow_at(middle, first.y) == 0
    assert layout.arrow_at(middle, first.y - 10) == 0             # on the label
    assert layout.arrow_at(first.x2 + 4, first.y) == 0            # a few px past the head
    assert layout.arrow_at(layout.lanes[2].x, first.y) is None    # beyond its span
    assert layout.arrow_at(layout.lanes[2].x, long_one.y) == 1
    assert layout.arrow_at(10, layout.arrows[7].y) == 7           # the time column selects too
    assert layout.arrow_at(middle, 5) is None                     # header
    assert layout.arrow_at(middle, layout.height + 50) is None
    assert layout.arrow_for(5).label == "200 OK" and layout.arrow_for(99) is None
    assert [layout.lane_at(lane.x) for lane in layout.lanes] == [0, 1, 2]
    assert layout.lane_at(5) is None and layout.lane_at(layout.width + 1) is None
    assert list(layout.rows_between(first.y, layout.arrows[3].y)) == [0, 1, 2, 3]


def test_pcap_lanes_per_port_and_merged(dtmf):
    messages = dtmf.calls[0].messages
    layout = build_layout(dtmf, messages)
    assert len(layout.arrows) == len(messages) == 32
    assert [lane.title for lane in layout.lanes] == [
        "178.45.73.241:5060", "213.192.59.75:5060", "178.45.73.241:1032", "178.45.73.241:1033"]
    assert [lane.subtitle for lane in layout.lanes] == [
        "Ekiga/3.2.0", "ser (3.2.0-dev2 (i386/linux))", "Ekiga/3.2.0", "Ekiga/3.2.0"]
    assert (layout.arrows[1].from_lane, layout.arrows[1].to_lane) == (2, 1)
    assert layout.arrows[0].detail.startswith(
        "SDP audio 178.45.73.241:5092 PCMA,telephone-event,NSE sendrecv; video 5094")
    assert layout.arrows[2].label == "100 trying -- your call is important to us"
    assert all(a.branch_color is None for a in layout.arrows)     # re-sent INVITEs, no fork
    merged = build_layout(dtmf, messages, merge_hosts=True)
    assert [lane.title for lane in merged.lanes] == ["178.45.73.241", "213.192.59.75"]
    assert merged.lanes[0].addresses == ["178.45.73.241:5060", "178.45.73.241:1032",
                                         "178.45.73.241:1033"]
    assert [(a.from_lane, a.to_lane) for a in merged.arrows[:4]] == [(0, 1), (0, 1), (1, 0),
                                                                     (1, 0)]


UAC, PROXY, PROXY_B2B, PHONE = "10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.2:5080", "10.0.0.3:5060"


def retransmitted_call():
    flow = Flow()
    invite = request("INVITE", "sip:bob@x", body=sdp(),
                     extra=(("User-Agent", "<b>bold</b> phone"),))
    for t in (0, 0.5, 1.5):
        flow.add(t, UAC, PROXY, invite)                          # two retransmissions (D2)
    flow.add(1.6, PROXY, UAC, response(invite, 100, "Trying", extra=(("Server", "<img src=x>"),)))
    leg = request("INVITE", "sip:bob@x", branch="z9hG4bK-2", via=PROXY, body=sdp("10.0.0.2"))
    flow.add(1.7, PROXY, PROXY_B2B, leg)
    flow.add(1.8, PROXY_B2B, PROXY, response(leg, 302, "Moved <i>Temporarily</i>", to_tag="t1"))
    return flow.session(rules=False)


def test_retransmissions_are_dimmed():
    session = retransmitted_call()
    layout = build_layout(session, session.messages)
    assert [a.dimmed for a in layout.arrows] == [False, True, True, False, False, False]
    assert [a.delta_text for a in layout.arrows[:3]] == ["", "+0.500", "+1.000"]
    assert layout.arrows[4].kind == "request" and layout.arrows[5].kind == "response"


def test_self_loop_when_both_ends_share_a_column():
    session = retransmitted_call()
    separate = build_layout(session, session.messages)
    assert not any(a.self_loop for a in separate.arrows) and len(separate.lanes) == 3
    merged = build_layout(session, session.messages, merge_hosts=True)
    assert [a.self_loop for a in merged.arrows] == [False] * 4 + [True, True]
    loop = merged.arrows[4]
    assert loop.from_lane == loop.to_lane == 1 and loop.x1 == loop.x2
    assert merged.arrow_at(loop.x1 + 20, loop.y) == 4


def test_markup_in_headers_stays_literal_text():
    session = retransmitted_call()
    layout = build_layout(session, session.messages)
    assert layout.lanes[0].subtitle == "<b>bold</b> phone"
    assert layout.lanes[1].subtitle == "<img src=x>"
    assert layout.arrows[5].label == "302 Moved <i>Temporarily</i>"
    text = render_ascii(layout, width=200)
    assert "<b>bold</b> phone" in text and "302 Moved <i>Temporarily</i>" in text


def test_control_characters_and_long_text_are_tamed():
    flow = Flow()
    invite = flow.add(0, UAC, PROXY, request("INVITE", "sip:bob@x",
                                             extra=(("User-Agent", "A" * 80),)))
    flow.add(0.1, PROXY, UAC, response(invite, 480, "Gone\x1b[31m away " + "x" * 80))
    layout = build_layout(None, flow.session(rules=False).messages)
    assert len(layout.lanes[0].subtitle) <= 34 and layout.lanes[0].subtitle.endswith("…")
    label = layout.arrows[1].label
    assert "\x1b" not in label and label.startswith("480 Gone [31m away") and len(label) <= 48
    assert all(a.branch_color is None and a.severity is None for a in layout.arrows)


def test_text_trace_without_times_shows_order_numbers():
    from conftest import DATA
    session = load_files([str(DATA / "raw-sip-pjsip-invite-401-loop.txt")])
    assert all(m.flags & TIME_UNKNOWN for m in session.messages)
    layout = build_layout(session, session.calls[0].messages)
    assert [a.time_text for a in layout.arrows] == ["#0", "#1", "#2", "#3", "#4", "#5"]
    assert all(a.delta_text == "" for a in layout.arrows)


def test_ascii_ladder_of_the_blog_call(blog):
    text = render_ascii(build_layout(blog, blog.calls[0].messages))
    lines = text.splitlines()
    rows = [line for line in lines if line[2:4] == "09"]
    assert len(rows) == 12
    assert "|---------- INVITE --------->|" in rows[0] and rows[0].endswith("branch .2")
    assert "<--------- 200 OK ----------|" in rows[5] and rows[5].endswith("branch .5")
    assert rows[10].rstrip().endswith("|") and "BYE" in rows[10]
    narrow = render_ascii(build_layout(blog, blog.calls[0].messages), width=80)
    assert max(len(line) for line in narrow.splitlines()) <= 80


def test_layout_of_5000_messages():
    flow = Flow()
    for i in range(2500):
        info = request("INFO", "sip:bob@x", cseq=i + 2, branch=f"z9hG4bK-{i}",
                       body=sdp() if i % 10 == 0 else "")
        flow.add(i * 0.02, UAC, PROXY, info)
        flow.add(i * 0.02 + 0.01, PROXY, UAC, response(info, 200, "OK"))
    session = flow.session(rules=False)
    layout = build_layout(session, session.messages)
    assert len(layout.arrows) == 5000
    assert layout.arrow_at(layout.lanes[0].x + 30, layout.arrows[4321].y) == 4321
