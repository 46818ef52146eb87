"""Issue 17 class 1: over-long numbers are invalid values, never a crash, and a rule that raises
on one call loses only that call's findings (the runner says which call)."""

from __future__ import annotations

import pytest
from factory import Flow, request, response, sdp, sip

from sipscope.core.analysis import runner
from sipscope.core.analysis.context import Context
from sipscope.core.analysis.registry import Rule
from sipscope.core.model.loader import load_files
from sipscope.core.sip.message import parse_message
from sipscope.core.sip.numbers import header_int
from sipscope.core.sip.sdp import parse_sdp
from sipscope.core.sip.summary import summarize

BIG = "9" * 5000          # past Python's 4,300-digit int() limit


@pytest.mark.parametrize("text, value", [
    ("70", 70), (" 70 ", 70), (b"1234", 1234), ("0" * 20, 0), ("", None), ("-1", None),
    ("+5", None), ("1_000", None), ("²", None), ("12a", None), (None, None),
    ("1" * 21, None), (BIG, None), (BIG.encode(), None)])
def test_header_int(text, value):
    assert header_int(text) == value


def test_parsers_take_absurd_numbers_as_invalid():
    raw = sip("INVITE sip:b@10.0.0.2 SIP/2.0", [
        ("Via", f"SIP/2.0/UDP 10.0.0.1:{BIG};branch=z9hG4bK1"), ("CSeq", f"{BIG} INVITE"),
        ("Call-ID", "x"), ("Content-Length", BIG)])
    message = parse_message(raw)
    assert message.cseq == (None, "INVITE") and message.content_length is None
    assert "Content-Length has 5,000 digits, more than any valid length" in message.warnings
    assert message.top_via.port is None
    summary = summarize(raw)
    assert summary is not None and summary.cseq_num is None
    desc = parse_sdp(f"v=0\r\nm=audio {BIG} RTP/AVP {BIG} 0\r\na=rtpmap:{BIG} x/8000\r\n"
                     f"a=ptime:{BIG}\r\n".encode())
    assert desc.media[0].port in (None, 0) and desc.media[0].rtpmap == {}


def hostile_and_faulty_flow() -> Flow:
    """Call 1 carries a 5,000-digit value in every number field a rule reads; call 2 is an
    ordinary call whose 200 OK declares a Content-Length larger than its body."""
    flow = Flow()
    invite = request("INVITE", "sip:bob@10.0.0.2", call_id="hostile@x", body=sdp(),
                     max_forwards=BIG, extra=(("Expires", BIG), ("Min-SE", BIG),
                                              ("Session-Expires", BIG + ";refresher=uac"),
                                              ("RAck", f"{BIG} {BIG} INVITE")))
    flow.add(0, "10.0.0.1:5060", "10.0.0.2:5060", invite)
    flow.add(0.1, "10.0.0.2:5060", "10.0.0.1:5060", response(
        invite, 183, "Session Progress", to_tag="t", body=sdp(port=BIG),
        extra=(("RSeq", BIG), ("Require", "100rel"))))
    flow.add(0.2, "10.0.0.2:5060", "10.0.0.1:5060", response(
        invite, 200, "OK", to_tag="t", body=sdp(port=4002),
        extra=(("Session-Expires", BIG + ";refresher=uas"), ("Reason", f"Q.850;cause={BIG}"))))
    register = request("REGISTER", "sip:10.0.0.2", call_id="reg@x", extra=(("Expires", BIG),),
                       contact=f"sip:alice@10.0.0.1:{BIG};expires={BIG}")
    flow.add(0.3, "10.0.0.1:5060", "10.0.0.2:5060", register)
    flow.add(0.4, "10.0.0.2:5060", "10.0.0.1:5060", response(
        register, 200, "OK", to_tag="r", extra=(("Expires", BIG),),
        contact=f"sip:alice@10.0.0.1:{BIG};expires={BIG}"))
    good = request("INVITE", "sip:carol@10.0.0.3", call_id="faulty@x", body=sdp(port=5000),
                   via="10.0.0.1:5060", branch="z9hG4bK-2")
    flow.add(1, "10.0.0.1:5060", "10.0.0.3:5060", good)
    answer = response(good, 200, "OK", to_tag="g", body=sdp(port=5002))
    answer = answer.replace(b"Content-Length: ", b"Content-Length: 9")
    flow.add(1.1, "10.0.0.3:5060", "10.0.0.1:5060", answer)
    return flow


def test_no_rule_fails_on_absurd_numbers_and_the_other_call_keeps_its_finding():
    session = hostile_and_faulty_flow().session()
    assert not [w for w in session.analysis_warnings if w.startswith("internal:")]
    mismatch = [f for f in session.findings if f.id == "syn-content-length-mismatch"]
    assert [f.call_id for f in mismatch] == ["faulty@x"]


def test_a_capture_with_an_absurd_cseq_loads_with_good_files(tmp_path, data_dir):
    """The same merged load with a 1-digit and a 5,000-digit CSeq: same messages, findings."""
    blog = str(data_dir / "blog-grandstream-forked-call.txt")
    loaded = []
    for number in ("1", BIG):
        options = tmp_path / f"options-{len(number)}.txt"
        options.write_bytes(sip("OPTIONS sip:b@10.0.0.2 SIP/2.0", [
            ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK9"), ("From", "<sip:a@x>;tag=1"),
            ("To", "<sip:b@x>"), ("Call-ID", "o@x"), ("CSeq", f"{number} OPTIONS")]))
        loaded.append(load_files([blog, str(options)]))
    plain, hostile = loaded
    assert len(hostile.messages) == len(plain.messages) == len(load_files([blog]).messages) + 1
    blog_findings = [(f.id, f.messages) for f in plain.findings if f.call_id != "o@x"]
    assert blog_findings and blog_findings == [(f.id, f.messages) for f in hostile.findings
                                               if f.call_id != "o@x"]
    assert not [w for w in hostile.analysis_warnings if w.startswith("internal:")]


def _calls_flow(count: int) -> Flow:
    flow = Flow()
    for number in range(count):
        invite = request("INVITE", "sip:bob@10.0.0.2", call_id=f"c{number}@x",
                         branch=f"z9hG4bK-{number}")
        flow.add(number, "10.0.0.1:5060", "10.0.0.2:5060", invite)
    return flow


def _fake_rule(func) -> Rule:
    return Rule(id="syn-header-invalid", func=func, text="", family="test")


def test_a_rule_failing_on_one_call_keeps_its_findings_for_the_others():
    session = _calls_flow(9).session(rules=False)

    def per_call(ctx):
        for call in ctx.session.calls:
            if call.call_id == "c6@x":
                raise ValueError("hostile value")
            yield ctx.finding("syn-header-invalid", "t", "e", call.messages, call=call)

    findings: list = []
    runner._run_one(session, Context(session), _fake_rule(per_call), findings)
    assert sorted(f.call_id for f in findings) == [f"c{n}@x" for n in range(9) if n != 6]
    [warning] = session.analysis_warnings
    assert warning.startswith("internal: rule syn-header-invalid failed on call 7 (Call-ID c6@x: "
                              "ValueError: hostile value at test_long_numbers.py:")
    assert warning.endswith("its findings for that call are missing, the other calls were checked")


def test_a_rule_failing_everywhere_is_reported_once_for_the_capture():
    session = _calls_flow(40).session(rules=False)

    def broken(ctx):
        raise KeyError("bug")

    findings: list = []
    runner._run_one(session, Context(session), _fake_rule(broken), findings)
    assert findings == []
    [warning] = session.analysis_warnings
    assert warning.startswith("internal: rule syn-header-invalid failed (KeyError: 'bug' at ")
    assert warning.endswith("; its findings are missing")


def test_a_rule_failing_only_on_the_whole_capture_is_reported_for_the_capture():
    session = _calls_flow(6).session(rules=False)

    def needs_all(ctx):
        if len(ctx.session.calls) == 6:
            raise RuntimeError("only together")
        return []

    findings: list = []
    runner._run_one(session, Context(session), _fake_rule(needs_all), findings)
    assert findings == [] and len(session.analysis_warnings) == 1
    assert "RuntimeError: only together" in session.analysis_warnings[0]


def test_the_view_keeps_the_capture_horizon():
    from sipscope.core.analysis.isolation import session_view
    session = _calls_flow(5).session(rules=False)
    view = session_view(session, session.calls[:2])
    assert [m.call_id for m in view.messages] == ["c0@x", "c1@x"]
    assert view.end == session.end and view.call("c1@x") is session.calls[1]
    assert view.call("c3@x") is None


def test_a_refusal_with_an_absurd_q850_cause_is_still_reported():
    flow = Flow()
    invite = request("INVITE", "sip:bob@10.0.0.2", call_id="q850@x")
    flow.add(0, "10.0.0.1:5060", "10.0.0.2:5060", invite)
    flow.add(0.1, "10.0.0.2:5060", "10.0.0.1:5060", response(
        invite, 503, "Service Unavailable", to_tag="t",
        extra=(("Reason", f"Q.850;cause={BIG}"),)))
    session = flow.session()
    assert not [w for w in session.analysis_warnings if w.startswith("internal:")]
    assert [f.call_id for f in session.findings if f.id == "call-failed"] == ["q850@x"]
