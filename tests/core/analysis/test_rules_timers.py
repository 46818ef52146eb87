"""Timer rules (catalog §6) on synthetic flows with RFC 3261 retransmission patterns (D6)."""

from __future__ import annotations

from factory import Flow, request, response, sdp

A, B, P = "10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.9:5060"
CALLEE = "sip:bob@10.0.0.2"
TIMER_A = (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)                  # INVITE: doubling, no cap
TIMER_E = (0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)   # capped at T2


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


# -- 6.1 tmr-2xx-no-ack --------------------------------------------------------------------------

def ok_never_acked(ack_at: float | None = None):
    f = Flow()
    inv = f.add(-1.0, A, B, request("INVITE", CALLEE, body=sdp()))
    ok = response(inv, 200, "OK", to_tag="X", contact="sip:bob@192.168.5.5",
                  body=sdp("10.0.0.2"))
    if ack_at is not None:
        f.add(0, B, A, ok)
        f.add(ack_at, A, B, request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
        return f.session()
    for t in TIMER_E:
        f.add(t, B, A, ok)
    f.add(32.0, B, A, request("BYE", "sip:alice@10.0.0.1", from_tag="X", to_tag="ftag", cseq=1,
                              branch="z9hG4bK-bye", via=B))
    return f.session()


def ok_acked():
    return ok_never_acked(ack_at=0.08)


def test_missing_ack_counts_copies_and_shows_the_bye():
    session = ok_never_acked()
    [finding] = found(session, "tmr-2xx-no-ack")
    assert finding.severity == "error"
    assert finding.messages == list(range(1, 13))
    text = finding.explanation
    assert "repeated its '200 OK' 11 times" in text
    assert "after about 32 seconds, gave up and hung up" in text
    assert "Contact" in text and "192.168.5.5" not in text    # both ends private: no NAT hint
    assert finding.evidence["copies"] == 11


def test_short_capture_gives_inconclusive():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(1.0, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE, body=sdp("10.0.0.2")))
    [finding] = found(f.session(), "tmr-2xx-no-ack")
    assert finding.inconclusive and finding.severity == "info"


def test_ack_sent_elsewhere_is_named_as_a_hint():
    f = Flow()
    inv = f.add(-1.0, P, B, request("INVITE", CALLEE, body=sdp(), via=P))
    ok = response(inv, 200, "OK", to_tag="X", contact=CALLEE, body=sdp("10.0.0.2"))
    for t in TIMER_E:
        f.add(t, B, P, ok)
    f.add(0.05, A, "10.0.0.50:5060", request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
    [finding] = found(f.session(), "tmr-2xx-no-ack")
    assert finding.severity == "error"
    assert "went to 10.0.0.50:5060" in finding.explanation


# -- 6.2 tmr-invite-timeout ----------------------------------------------------------------------

def invite_unanswered(trying: bool = False):
    f = Flow()
    up = f.add(-0.01, A, P, request("INVITE", "sip:bob@example.com", branch="z9hG4bK-up",
                                    body=sdp()))
    f.add(0.0, P, A, response(up, 100, "Trying"))
    down = request("INVITE", CALLEE, branch="z9hG4bK-down", via=P,
                   extra_vias=("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-up",), body=sdp())
    if trying:
        f.add(0.0, P, B, down)
        f.add(0.05, B, P, response(down, 100, "Trying"))
        return f.session()
    for t in TIMER_A:
        f.add(t, P, B, down)
    f.add(32.0, P, A, response(up, 408, "Request Timeout", to_tag="P"))
    return f.session()


def invite_trying():
    return invite_unanswered(trying=True)


def test_invite_timeout_counts_copies_and_names_the_upstream_408():
    session = invite_unanswered()
    [finding] = found(session, "tmr-invite-timeout")
    assert finding.severity == "error"
    assert finding.messages == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "to 10.0.0.2:5060 was sent 7 time(s) over 31.5 seconds" in finding.explanation
    assert "408 Request Timeout" in finding.explanation


# -- 6.3 tmr-non-invite-timeout ------------------------------------------------------------------

def bye_unanswered(answered: bool = False):
    f = Flow()
    bye = request("BYE", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-bye")
    if answered:
        f.add(0, A, B, bye)
        f.add(0.1, B, A, response(bye, 200, "OK"))
        return f.session()
    for t in TIMER_E:
        f.add(t, A, B, bye)
    return f.session()


def bye_answered():
    return bye_unanswered(answered=True)


def test_bye_timeout_is_an_error_with_the_copies():
    [finding] = found(bye_unanswered(), "tmr-non-invite-timeout")
    assert finding.severity == "error"
    assert finding.messages == list(range(11))
    assert "hang-up to 10.0.0.2:5060 was sent 11 time(s) over 31.5 seconds" in finding.explanation


def test_options_timeout_is_a_warning_and_a_408_fires_too():
    f = Flow()
    ping = request("OPTIONS", CALLEE, branch="z9hG4bK-o", contact=None)
    for t in TIMER_E:
        f.add(t, A, B, ping)
    register = request("REGISTER", "sip:example.com", call_id="reg@test", branch="z9hG4bK-r",
                       to_uri="sip:alice@example.com")
    f.add(40.0, A, P, register)
    f.add(40.1, P, A, response(register, 408, "Request Timeout", to_tag="R"))
    by_method = {x.evidence["method"]: x for x in found(f.session(), "tmr-non-invite-timeout")}
    assert by_method["OPTIONS"].severity == "warning"
    assert by_method["REGISTER"].severity == "error" and by_method["REGISTER"].evidence["408"]


CASES = [
    ("tmr-2xx-no-ack", ok_never_acked, True),
    ("tmr-2xx-no-ack", ok_acked, False),
    ("tmr-invite-timeout", invite_unanswered, True),
    ("tmr-invite-timeout", invite_trying, False),
    ("tmr-non-invite-timeout", bye_unanswered, True),
    ("tmr-non-invite-timeout", bye_answered, False),
]


def test_response_with_a_rewritten_via_still_answers_the_request():
    """HEPGEN-style: the 100/407 carry another Via sent-by, so they land in another transaction;
    RFC 3261 §17.1.3 matches by branch and CSeq method, so the INVITE was not unanswered."""
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    rewritten = inv.replace(b"SIP/2.0/UDP 10.0.0.1:5060;", b"SIP/2.0/UDP 192.0.2.1:5060;")
    f.add(0.1, B, A, response(rewritten, 407, "Proxy Authentication Required", to_tag="P"))
    assert not found(f.session(), "tmr-invite-timeout")


def test_bye_timeouts_in_a_one_sided_log(shared_traces):
    """sipp-uas-error-log: Linphone's BYEs repeated 10 times over 31 s, SIPp never answered."""
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "sipp-uas-error-log-unexpected-messages.log")])
    decided = [f for f in found(session, "tmr-non-invite-timeout") if not f.inconclusive]
    assert [(f.severity, f.evidence["copies"]) for f in decided] == [("error", 10)] * 3
    assert "may show one direction only" in decided[0].explanation
