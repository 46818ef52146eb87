"""Dialog-layer and call-outcome rules (catalog §4) on small synthetic flows."""

from __future__ import annotations

from factory import Flow, request, response, sdp

from sipscope.core.analysis.options import AnalysisOptions

A, B = "10.0.0.1:5060", "10.0.0.2:5060"          # caller (tag "ftag"), callee (tag "X")
CALLEE = "sip:bob@10.0.0.2"


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def errors(session):
    return [f"{f.id}: {f.explanation}" for f in session.findings if f.severity == "error"]


def tail(flow: Flow, t: float) -> None:
    """An unrelated OPTIONS/200 at time t, so the capture covers the rules' wait windows (D7)."""
    ping = request("OPTIONS", "sip:10.0.0.77", call_id="tail@test", branch="z9hG4bK-tail",
                   via="10.0.0.78:5060", contact=None)
    flow.add(t, "10.0.0.78:5060", "10.0.0.77:5060", ping)
    flow.add(t + 0.01, "10.0.0.77:5060", "10.0.0.78:5060", response(ping, 200, "OK", to_tag="t"))


def in_dialog(method, cseq, *, from_callee=False, branch=None, body="", extra=()):
    """An in-dialog request from the caller (or the callee, with the tags swapped)."""
    if from_callee:
        return request(method, "sip:alice@10.0.0.1", from_tag="X", to_tag="ftag", cseq=cseq,
                       branch=branch or f"z9hG4bK-b{cseq}{method}", via=B,
                       from_uri="sip:bob@example.com", to_uri="sip:alice@example.com",
                       contact=CALLEE, body=body, extra=extra)
    return request(method, CALLEE, to_tag="X", cseq=cseq, branch=branch or f"z9hG4bK-a{cseq}{method}",
                   body=body, extra=extra)


def answered_call(flow: Flow, t0: float = 0.0, cseq: int = 1, ok_extra=()) -> bytes:
    """INVITE / 180 / 200 / ACK between A and B, starting at t0."""
    inv = flow.add(t0, A, B, request("INVITE", CALLEE, cseq=cseq, body=sdp()))
    flow.add(t0 + 0.1, B, A, response(inv, 180, "Ringing", to_tag="X", contact=CALLEE))
    flow.add(t0 + 1.0, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE,
                                      body=sdp("10.0.0.2"), extra=ok_extra))
    flow.add(t0 + 1.05, A, B, request("ACK", CALLEE, to_tag="X", cseq=cseq, branch="z9hG4bK-ack"))
    return inv


# -- 4.1 dlg-481-in-dialog -----------------------------------------------------------------------

def bye_481():
    f = Flow()
    answered_call(f)
    bye = f.add(10.0, A, B, in_dialog("BYE", 2))
    f.add(10.05, B, A, response(bye, 481, "Call/Transaction Does Not Exist"))
    return f.session()


def bye_glare():
    f = Flow()
    answered_call(f)
    bye_a = f.add(10.0, A, B, in_dialog("BYE", 2))
    bye_b = f.add(10.3, B, A, in_dialog("BYE", 1, from_callee=True))
    f.add(10.35, B, A, response(bye_a, 200, "OK"))
    f.add(10.4, A, B, response(bye_b, 481, "Call/Transaction Does Not Exist"))
    return f.session()


def test_481_to_bye_is_an_error_with_side_and_action():
    [finding] = found(bye_481(), "dlg-481-in-dialog")
    assert finding.severity == "error"
    assert finding.messages == [1, 4, 5]        # the 180 created the dialog
    assert "the caller's side (10.0.0.1:5060) tried to hang up" in finding.explanation
    assert finding.evidence["cause"] == "unknown"


def test_481_after_an_earlier_confirmed_bye_names_it():
    f = Flow()
    answered_call(f)
    bye = f.add(10.0, B, A, in_dialog("BYE", 1, from_callee=True))
    f.add(10.05, A, B, response(bye, 200, "OK"))
    info = f.add(20.0, A, B, in_dialog("INFO", 2))
    f.add(20.05, B, A, response(info, 481, "Call Leg/Transaction Does Not Exist"))
    [finding] = found(f.session(), "dlg-481-in-dialog")
    assert finding.severity == "warning"           # §4.1: INFO is a warning
    assert finding.evidence["cause"] == "c1 already-ended"
    assert "had already ended the call at" in finding.explanation


def test_481_for_tags_never_issued():
    f = Flow()
    bye = f.add(0, A, B, in_dialog("BYE", 2))
    f.add(0.05, B, A, response(bye, 481, "Call/Transaction Does Not Exist"))
    [finding] = found(f.session(), "dlg-481-in-dialog")
    assert finding.evidence["cause"] == "c2 never-existed"


# -- 4.2 dlg-cseq-out-of-order -------------------------------------------------------------------

def cseq_lower_after_higher():
    f = Flow()
    answered_call(f, cseq=103)
    hold = f.add(5.0, A, B, in_dialog("INVITE", 105, body=sdp(direction="sendonly")))
    f.add(5.1, B, A, response(hold, 200, "OK", to_tag="X", contact=CALLEE,
                              body=sdp("10.0.0.2", direction="recvonly")))
    f.add(5.15, A, B, request("ACK", CALLEE, to_tag="X", cseq=105, branch="z9hG4bK-ack105"))
    bye = f.add(9.0, A, B, in_dialog("BYE", 104))
    f.add(9.05, B, A, response(bye, 500, "Server Internal Error"))
    return f.session()


def cseq_gap():
    f = Flow()
    answered_call(f, cseq=103)
    bye = f.add(9.0, A, B, in_dialog("BYE", 105))
    f.add(9.05, B, A, response(bye, 200, "OK"))
    return f.session()


def test_lower_cseq_names_both_numbers_and_the_500():
    [finding] = found(cseq_lower_after_higher(), "dlg-cseq-out-of-order")
    assert finding.severity == "warning"
    assert finding.messages == [4, 7, 8]
    assert "BYE #104" in finding.explanation and "#105" in finding.explanation
    assert "500" in finding.explanation


# -- 4.3 dlg-reinvite-glare ----------------------------------------------------------------------

def glare_unresolved():
    f = Flow()
    answered_call(f)
    mine = f.add(5.0, A, B, in_dialog("INVITE", 2, body=sdp(direction="sendonly")))
    theirs = f.add(5.03, B, A, in_dialog("INVITE", 2, from_callee=True,
                                         body=sdp("10.0.0.2", direction="sendonly")))
    f.add(5.06, B, A, response(mine, 491, "Request Pending", to_tag="X"))
    f.add(5.07, A, B, response(theirs, 491, "Request Pending", to_tag="ftag"))
    tail(f, 12.0)
    return f.session()


def glare_resolved():
    f = Flow()
    answered_call(f)
    mine = f.add(5.0, A, B, in_dialog("INVITE", 2, body=sdp(direction="sendonly")))
    f.add(5.06, B, A, response(mine, 491, "Request Pending", to_tag="X"))
    retry = f.add(7.56, A, B, in_dialog("INVITE", 3, body=sdp(direction="sendonly")))
    f.add(7.6, B, A, response(retry, 200, "OK", to_tag="X", contact=CALLEE,
                              body=sdp("10.0.0.2", direction="recvonly")))
    f.add(7.65, A, B, request("ACK", CALLEE, to_tag="X", cseq=3, branch="z9hG4bK-ack3"))
    tail(f, 12.0)
    return f.session()


def test_unresolved_glare_is_a_warning_naming_both_sides():
    [finding] = found(glare_unresolved(), "dlg-reinvite-glare")
    assert finding.severity == "warning"
    assert "caller's side (10.0.0.1:5060) never retried" in finding.explanation
    assert "called side (10.0.0.2:5060) never retried" in finding.explanation
    assert {4, 5, 6, 7} <= set(finding.messages)


def test_glare_retry_outside_the_window_is_info():
    f = Flow()
    answered_call(f)
    mine = f.add(5.0, A, B, in_dialog("INVITE", 2))
    f.add(5.06, B, A, response(mine, 491, "Request Pending", to_tag="X"))
    retry = f.add(5.3, A, B, in_dialog("INVITE", 3))      # the Call-ID owner waits 2.1-4 s
    f.add(5.35, B, A, response(retry, 200, "OK", to_tag="X", contact=CALLEE))
    [finding] = found(f.session(), "dlg-reinvite-glare")
    assert finding.severity == "info" and "2.1-4 s window" in finding.explanation


# -- 4.4 dlg-session-timer-expiry ----------------------------------------------------------------

TIMER = (("Session-Expires", "120;refresher=uac"), ("Require", "timer"))


def timer_expired():
    f = Flow()
    answered_call(f, ok_extra=TIMER)
    f.add(1.0 + 88.0, B, A, in_dialog("BYE", 1, from_callee=True))
    return f.session()


def timer_refreshed():
    f = Flow()
    answered_call(f, ok_extra=TIMER)
    refresh = f.add(61.0, A, B, in_dialog("INVITE", 2, body=sdp(version=2),
                                          extra=(("Session-Expires", "120;refresher=uac"),)))
    f.add(61.05, B, A, response(refresh, 200, "OK", to_tag="X", contact=CALLEE,
                                body=sdp("10.0.0.2"), extra=TIMER))
    f.add(61.1, A, B, request("ACK", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-ack2"))
    return f.session()


def test_session_timer_expiry_names_interval_and_refresher():
    [finding] = found(timer_expired(), "dlg-session-timer-expiry")
    assert finding.severity == "error" and finding.evidence["subcase"] == "a"
    assert "every 120 seconds" in finding.explanation
    assert "the side that sent the request (10.0.0.1:5060)" in finding.explanation
    assert "About 88 seconds in, the called side (10.0.0.2:5060)" in finding.explanation


def test_session_expires_below_min_se_is_an_error():
    f = Flow()
    answered_call(f, ok_extra=(("Session-Expires", "60;refresher=uas"), ("Min-SE", "90")))
    [finding] = found(f.session(), "dlg-session-timer-expiry")
    assert finding.severity == "error" and "below its own Min-SE 90" in finding.explanation


# -- 4.5 call-failed -----------------------------------------------------------------------------

def failed_503_q850():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.05, B, A, response(inv, 100, "Trying"))
    f.add(0.5, B, A, response(inv, 503, "Service Unavailable", to_tag="X", extra=(
        ("Reason", 'Q.850;cause=34;text="No circuit available"'),
        ("Server", "Trunk-GW 2.0"))))
    f.add(0.55, A, B, request("ACK", CALLEE, to_tag="X", contact=None))
    return f.session()


def caller_cancelled():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="X", contact=CALLEE))
    cancel = f.add(4.0, A, B, request("CANCEL", CALLEE, contact=None))
    f.add(4.05, B, A, response(cancel, 200, "OK", to_tag="X"))
    f.add(4.06, B, A, response(inv, 487, "Request Terminated", to_tag="X"))
    f.add(4.1, A, B, request("ACK", CALLEE, to_tag="X", contact=None))
    return f.session()


def challenged_then_answered():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.05, B, A, response(inv, 407, "Proxy Authentication Required", to_tag="Q", extra=(
        ("Proxy-Authenticate", 'Digest realm="x", nonce="n"'),)))
    f.add(0.06, A, B, request("ACK", CALLEE, to_tag="Q", contact=None))
    answered_call(f, t0=0.2, cseq=2)
    return f.session()


def busy_call():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="X", contact=CALLEE))
    f.add(2.0, B, A, response(inv, 486, "Busy Here", to_tag="X",
                              extra=(("Warning", '399 bob-phone "DND is on"'),)))
    f.add(2.05, A, B, request("ACK", CALLEE, to_tag="X", contact=None))
    return f.session()


def hold_call():
    f = Flow()
    answered_call(f)
    hold = f.add(5.0, A, B, in_dialog("INVITE", 2, body=sdp(direction="sendonly", version=2)))
    f.add(5.1, B, A, response(hold, 200, "OK", to_tag="X", contact=CALLEE,
                              body=sdp("10.0.0.2", direction="recvonly", version=2)))
    f.add(5.15, A, B, request("ACK", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-ack2"))
    bye = f.add(20.0, A, B, in_dialog("BYE", 3))
    f.add(20.05, B, A, response(bye, 200, "OK"))
    return f.session()


def test_failed_call_says_why_in_words_quoting_q850():
    session = failed_503_q850()
    [finding] = found(session, "call-failed")
    # a server in the path failed (5xx): the service failed, an error and the call's headline
    # (REVIEWED.md file 7; catalog §4.5's default was warning)
    assert finding.severity == "error" and finding.role == "headline"
    text = finding.explanation
    assert "failed with 503 Service Unavailable" in text
    assert "overloaded, or a trunk or route behind it is down" in text
    assert "'No circuit available' (Q.850 cause 34: no circuit/channel available" in text
    assert "Trunk-GW 2.0" in text
    assert finding.evidence["reasons"][0]["cause"] == "34"
    assert finding.messages == [0, 2]


def test_busy_call_quotes_its_warning_header_and_has_no_error():
    """Pattern 8: busy is the callee's answer, an outcome and not a fault: info."""
    session = busy_call()
    [finding] = found(session, "call-failed")
    assert finding.severity == "info"
    assert finding.title == "Call not answered: 486 Busy Here"
    assert "called party is busy" in finding.explanation
    assert "DND is on" in finding.explanation
    assert errors(session) == []


def test_caller_cancel_is_info_only_and_no_error():
    session = caller_cancelled()
    [finding] = found(session, "call-failed")
    assert finding.severity == "info"
    assert "The caller hung up before the call" in finding.explanation
    assert errors(session) == []
    assert [f.severity for f in session.findings if f.severity != "info"] == []


def test_hold_reinvite_has_no_error():
    session = hold_call()
    assert errors(session) == []
    assert not found(session, "call-failed")


def test_redirect_is_info():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.1, B, A, response(inv, 302, "Moved Temporarily", to_tag="X",
                              contact="sip:carol@10.0.0.3"))
    [finding] = found(f.session(), "call-failed")
    assert finding.severity == "info" and "redirected" in finding.explanation


# -- 4.6 call-post-dial-delay --------------------------------------------------------------------

def slow_ringing():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.05, B, A, response(inv, 100, "Trying"))
    f.add(6.2, B, A, response(inv, 180, "Ringing", to_tag="X", contact=CALLEE))
    return f


def slow_ringing_session():
    return slow_ringing().session()


def fast_ringing():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.8, B, A, response(inv, 180, "Ringing", to_tag="X", contact=CALLEE))
    return f.session()


def test_post_dial_delay_measures_to_the_ringing():
    session = slow_ringing().session(options=AnalysisOptions(post_dial_delay=4.0))
    [finding] = found(session, "call-post-dial-delay")
    assert finding.severity == "warning"
    assert "6.2 s" in finding.explanation and "180 Ringing" in finding.explanation
    assert finding.messages == [0, 2]
    assert "Most of the wait was waiting for ringing from 10.0.0.2:5060 (6.2 s)" in finding.explanation
    # the advice names where the time went, not a template list of causes (issue 14 pattern 1)
    assert "The time passed at 10.0.0.2:5060 or beyond it" in finding.explanation
    assert "packet loss" not in finding.explanation and "ENUM" not in finding.explanation


CASES = [
    ("dlg-481-in-dialog", bye_481, True),
    ("dlg-481-in-dialog", bye_glare, False),
    ("dlg-cseq-out-of-order", cseq_lower_after_higher, True),
    ("dlg-cseq-out-of-order", cseq_gap, False),
    ("dlg-reinvite-glare", glare_unresolved, True),
    ("dlg-reinvite-glare", glare_resolved, False),
    ("dlg-session-timer-expiry", timer_expired, True),
    ("dlg-session-timer-expiry", timer_refreshed, False),
    ("call-failed", failed_503_q850, True),
    ("call-failed", challenged_then_answered, False),
    ("call-post-dial-delay", slow_ringing_session, True),
    ("call-post-dial-delay", fast_ringing, False),
]


def test_481_to_a_subscription_refresh_speaks_of_subscriptions():
    f = Flow()
    sub = f.add(0, A, B, request("SUBSCRIBE", CALLEE, extra=(("Event", "user-profile"),
                                                              ("Expires", "1800"))))
    f.add(0.01, B, A, response(sub, 202, "Accepted", to_tag="X", contact=CALLEE))
    again = f.add(5.0, A, B, in_dialog("SUBSCRIBE", 2, extra=(("Event", "user-profile"),)))
    f.add(5.01, B, A, response(again, 481, "Call leg/Transaction does not exist"))
    [finding] = found(f.session(), "dlg-481-in-dialog")
    assert finding.severity == "warning"
    assert "no such call or subscription" in finding.explanation
    assert "(Event: user-profile)" in finding.explanation


def test_rechallenged_credentials_are_named():
    f = Flow()
    for n, t in ((1, 0.0), (2, 1.0)):
        inv = f.add(t, A, B, request("INVITE", CALLEE, cseq=n, branch=f"z9hG4bK-{n}", body=sdp()))
        f.add(t + 0.05, B, A, response(inv, 401, "Unauthorized", to_tag=f"Q{n}"))
        f.add(t + 0.06, A, B, request("ACK", CALLEE, cseq=n, branch=f"z9hG4bK-{n}",
                                      to_tag=f"Q{n}", contact=None))
    [finding] = found(f.session(), "call-failed")
    assert "rejected the caller's credentials" in finding.explanation
    assert "including the retry with credentials" in finding.explanation


def test_calls_ending_where_a_session_timer_would_end_them():
    """§4.4 (e) needs independent calls; two B2BUA legs ending together do not count."""
    def call(flow, call_id, t0, src, dst):
        inv = flow.add(t0, src, dst, request("INVITE", "sip:x@h", call_id=call_id, body=sdp(),
                                             branch=f"z9hG4bK-{call_id}"))
        flow.add(t0 + 0.5, dst, src, response(inv, 200, "OK", to_tag="X", contact="sip:x@h",
                                              body=sdp("10.0.0.2")))
        flow.add(t0 + 0.6, src, dst, request("ACK", "sip:x@h", call_id=call_id, to_tag="X",
                                             branch=f"z9hG4bK-a{call_id}"))
        flow.add(t0 + 0.5 + 88.0, src, dst, request("BYE", "sip:x@h", call_id=call_id, cseq=2,
                                                    to_tag="X", branch=f"z9hG4bK-b{call_id}"))
    independent = Flow()
    call(independent, "one@x", 0.0, A, B)
    call(independent, "two@x", 200.0, A, B)
    findings = found(independent.session(), "dlg-session-timer-expiry")
    assert [f.evidence["subcase"] for f in findings] == ["e", "e"]
    assert "session timer of 120 s" in findings[0].explanation
    legs = Flow()
    call(legs, "leg-a@x", 0.0, A, B)
    call(legs, "leg-b@x", 0.01, B, "10.0.0.3:5060")
    assert not found(legs.session(), "dlg-session-timer-expiry")


def test_implausible_clock_switches_timer_rules_off():
    f = slow_ringing()
    f.add(5 * 86_400.0, A, B, request("BYE", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-late"))
    f.add(9 * 86_400.0, A, B, request("BYE", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-late"))
    session = f.session()
    assert not found(session, "call-post-dial-delay")
    assert not found(session, "tmr-non-invite-timeout")
    assert any("timestamps are implausible" in w for w in session.inputs[0].warnings)
    assert not session.analysis_warnings


# -- issue 14 pattern 8: the callee's answer is an outcome, not a fault ----------------------------

def final_answer(status: int, reason: str, cancel: bool = False, rang: bool = True):
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    if rang:
        f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="X", contact=CALLEE))
    if cancel:
        f.add(1.9, A, B, request("CANCEL", "sip:other@10.0.0.9", cseq=7, branch="z9hG4bK-other",
                                 call_id="other@x", contact=None))
    f.add(2.0, B, A, response(inv, status, reason, to_tag="X"))
    f.add(2.05, A, B, request("ACK", CALLEE, to_tag="X", contact=None))
    return f.session()


def test_decline_and_busy_everywhere_are_info_outcomes():
    for status, reason in ((603, "Decline"), (600, "Busy Everywhere"), (486, "Busy Here")):
        [finding] = found(final_answer(status, reason), "call-failed")
        assert (finding.severity, finding.evidence["outcome_not_fault"]) == ("info", True)
        assert finding.title == f"Call not answered: {status} {reason}"
        assert "Nothing is broken" in finding.explanation
        assert f"was not answered: {status} {reason}" in finding.explanation
        assert "failed" not in finding.explanation


def test_487_without_the_callers_cancel_stays_a_warning():
    """A 487 nobody asked for (no CANCEL from the caller on this call) is not the caller's
    hang-up: it stays a warning; a 404 is a refusal by policy, a warning too."""
    for status, reason in ((487, "Request Terminated"), (404, "Not Found")):
        [finding] = found(final_answer(status, reason, cancel=True), "call-failed")
        assert finding.severity == "warning" and finding.title.startswith("Call failed")


def test_no_answer_after_ringing_is_an_outcome():
    """408/480 after the caller heard it ring: a ring timeout, not a server failure."""
    for status, reason in ((408, "Request Timeout"), (480, "Temporarily Unavailable")):
        [finding] = found(final_answer(status, reason), "call-failed")
        assert finding.severity == "info"
        assert "rang (180 Ringing at 22:13:20.100) but was not answered" in finding.explanation


def test_server_failures_are_errors():
    for status, reason in ((500, "Server Internal Error"), (408, "Request Timeout")):
        [finding] = found(final_answer(status, reason, rang=False), "call-failed")
        assert finding.severity == "error"


# -- issue 14 pattern 7: the post-dial delay per hop, from the real hop times ----------------------

PBX = "10.0.0.9:5060"
LINES = ("10.0.0.21:5060", "10.0.0.22:5060", "10.0.0.23:5060", "10.0.0.24:5060")


def pbx_hunting(lines_failing: int = 3, pbx_delay: float = 0.004):
    """The caller's INVITE reaches the PBX at 0; the PBX passes it on after `pbx_delay` to line 1,
    which refuses after 3.5 s, and so on (serial hunting); the last line rings."""
    f = Flow()
    inv = f.add(0.0, A, PBX, request("INVITE", "sip:600@10.0.0.9", body=sdp()))
    f.add(0.002, PBX, A, response(inv, 100, "Trying"))
    t = pbx_delay
    for n, line in enumerate(LINES[:lines_failing + 1]):
        leg = request("INVITE", f"sip:60{n}@{line}", branch=f"z9hG4bK-pbx{n}", via=PBX,
                      extra_vias=("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1",), body=sdp())
        f.add(t, PBX, line, leg)
        if n < lines_failing:
            f.add(t + 3.5, line, PBX, response(leg, 480, "Temporarily Unavailable", to_tag=f"L{n}"))
            f.add(t + 3.501, PBX, line, request("ACK", f"sip:60{n}@{line}", to_tag=f"L{n}",
                                                branch=f"z9hG4bK-pbx{n}", via=PBX, contact=None))
            t += 3.5 + 0.01
        else:
            f.add(t + 0.3, line, PBX, response(leg, 180, "Ringing", to_tag=f"L{n}",
                                               contact=f"sip:60{n}@{line}"))
            f.add(t + 0.304, PBX, A, response(inv, 180, "Ringing", to_tag="P",
                                              contact="sip:600@10.0.0.9"))
    return f.session(options=AnalysisOptions(post_dial_delay=4.0))


def test_post_dial_delay_names_the_hunt_not_the_pbx_that_relayed_in_4_ms():
    [finding] = found(pbx_hunting(), "call-post-dial-delay")
    assert finding.severity == "warning" and finding.title == "Post-dial delay 10.8 s"
    breakdown = finding.evidence["breakdown"]
    assert breakdown["inside 10.0.0.9:5060 before it passed the call on to 10.0.0.21:5060"] == 0.004
    hunt = next(k for k in breakdown if "one after another" in k)
    assert hunt.startswith("10.0.0.9:5060 trying 3 other targets one after another before "
                           "10.0.0.24:5060 rang: 10.0.0.21:5060 (480 after 3.5 s)")
    assert breakdown[hunt] == 10.53
    assert breakdown["waiting for ringing from 10.0.0.24:5060"] == 0.3
    assert "Most of the wait was 10.0.0.9:5060 trying 3 other targets" in finding.explanation
    assert "Check the hunt order on 10.0.0.9:5060" in finding.explanation
    assert "before it passed the call on" not in finding.explanation


def test_post_dial_delay_blames_the_pbx_only_when_it_held_the_call():
    [finding] = found(pbx_hunting(lines_failing=0, pbx_delay=5.0), "call-post-dial-delay")
    assert ("Most of the wait was inside 10.0.0.9:5060 before it passed the call on to "
            "10.0.0.21:5060 (5.0 s)") in finding.explanation
    assert "Check what 10.0.0.9:5060 does before it routes a call" in finding.explanation


# -- dlg-request-rejected (docs/fault-reference.md; issue 14 pattern 9) ----------------------------

def bye_refused(status: int = 500, reason: str = "Server Internal Error", then=None,
                excerpt: bool = False):
    f = Flow()
    answered_call(f)
    bye = f.add(10.0, A, B, in_dialog("BYE", 2))
    f.add(10.05, B, A, response(bye, status, reason, extra=(("Server", "Acme PBX 1.0"),)))
    if then == "retry":
        again = f.add(10.2, A, B, in_dialog("BYE", 3))
        f.add(10.25, B, A, response(again, 200, "OK"))
    elif then == "callee-bye":
        bye_b = f.add(20.0, B, A, in_dialog("BYE", 5, from_callee=True))
        f.add(20.05, A, B, response(bye_b, 200, "OK"))
    tail(f, 60.0)
    return f.session(excerpt=excerpt)


def bye_refused_session():
    return bye_refused()


def bye_challenged_and_retried():
    return bye_refused(401, "Unauthorized", then="retry")


def test_refused_bye_may_leave_the_call_up_and_is_an_error():
    [finding] = found(bye_refused(), "dlg-request-rejected")
    assert (finding.severity, finding.title) == ("error", "In-dialog BYE refused: 500 Server Internal Error")
    assert finding.messages == [4, 5] and finding.evidence["from"] == B
    text = finding.explanation
    assert "10.0.0.2:5060 (Acme PBX 1.0) refused it with 500 Server Internal Error" in text
    assert "No BYE succeeded in the 50.0 s the capture runs after it" in text
    assert "keep billing" in text
    assert not found(bye_refused(), "dlg-481-in-dialog")


def test_refused_bye_followed_by_an_accepted_one_is_a_warning_naming_it():
    [finding] = found(bye_refused(403, "Forbidden", then="callee-bye"), "dlg-request-rejected")
    assert finding.severity == "warning"
    assert "The call was still ended afterwards: a BYE was answered 200 OK" in finding.explanation
    assert "keep billing" not in finding.explanation


def test_refused_bye_in_an_excerpt_is_undecided():
    [finding] = found(bye_refused(excerpt=True), "dlg-request-rejected")
    assert finding.inconclusive and finding.severity == "info"
    assert "curated excerpt" in finding.explanation


def test_challenged_bye_retried_with_credentials_is_fine():
    assert not found(bye_challenged_and_retried(), "dlg-request-rejected")


def test_481_and_media_refusals_are_left_to_their_own_rules():
    assert not found(bye_refused(481, "Call/Transaction Does Not Exist"), "dlg-request-rejected")
    f = Flow()
    answered_call(f)
    reinvite = f.add(5.0, A, B, in_dialog("INVITE", 2, body=sdp(codecs="18", version=2)))
    f.add(5.05, B, A, response(reinvite, 488, "Not Acceptable Here", to_tag="X"))
    assert not found(f.session(), "dlg-request-rejected")


def test_refused_transfer_relayed_by_a_proxy_is_one_finding_with_its_reason():
    f = Flow()
    answered_call(f)
    proxy = "10.0.0.9:5060"
    refer = in_dialog("REFER", 2, extra=(("Refer-To", "<sip:carol@example.com>"),))
    f.add(5.0, A, proxy, refer)
    relayed = refer.replace(b"z9hG4bK-a2REFER", b"z9hG4bK-p2REFER")
    f.add(5.001, proxy, B, relayed)
    reason = (("Reason", 'SIP;cause=488;text="Transfer impossible"'),)
    f.add(5.01, B, proxy, response(relayed, 488, "Not Acceptable Here", extra=reason))
    f.add(5.011, proxy, A, response(refer, 488, "Not Acceptable Here", extra=reason))
    [finding] = found(f.session(), "dlg-request-rejected")
    assert finding.severity == "warning" and finding.evidence["from"] == B
    assert finding.evidence["relayed_by"] == [proxy]
    assert finding.evidence["sender"] == A        # the originator, not the proxy's copy
    assert "'Transfer impossible'" in finding.explanation
    assert "The transfer was refused: the call stays between the parties it had." in \
        finding.explanation


CASES += [
    ("dlg-request-rejected", bye_refused_session, True),
    ("dlg-request-rejected", bye_challenged_and_retried, False),
]


def test_refused_call_from_a_flagged_scanner_is_no_service_failure():
    """A 503 to an INVITE from a source the security rules report is the defence working."""
    f = Flow()
    scanner = "192.0.2.66:5070"
    inv = f.add(0, scanner, B, request("INVITE", "sip:100@10.0.0.2", via=scanner, body=sdp(),
                                       extra=(("User-Agent", "friendly-scanner"),)))
    f.add(0.05, B, scanner, response(inv, 503, "Service Unavailable", to_tag="X"))
    session = f.session()
    [finding] = found(session, "call-failed")
    assert finding.severity == "info"
    assert finding.evidence["caller_flagged_by"] == ["sec-scanner-user-agent"]
    assert "which the security findings report (sec-scanner-user-agent)" in finding.explanation
    assert [f.role for f in session.findings if f.role == "headline"] == []


def test_post_dial_delay_points_at_the_b2bua_leg_it_cannot_follow():
    """Pattern 7: the call's own messages end at the B2BUA; it sent an INVITE with another
    Call-ID meanwhile, which the text counts (the leg or other calls), instead of saying the
    capture does not look beyond it."""
    f = Flow()
    b2bua = "10.0.0.9:5060"
    inv = f.add(0.0, A, b2bua, request("INVITE", "sip:600@10.0.0.9", body=sdp()))
    leg = f.add(0.2, b2bua, B, request("INVITE", CALLEE, call_id="leg-b@x", via=b2bua,
                                       branch="z9hG4bK-legb", body=sdp("10.0.0.9")))
    f.add(3.0, B, b2bua, response(leg, 183, "Session Progress", to_tag="Y", contact=CALLEE))
    f.add(3.01, b2bua, A, response(inv, 183, "Session Progress", to_tag="P",
                                   contact="sip:600@10.0.0.9"))
    [finding] = [x for x in found(f.session(), "call-post-dial-delay") if x.call_id == "call-1@test"]
    assert finding.evidence["next_hop_other_invites"] == 1
    assert ("This call's messages show no hop beyond 10.0.0.9:5060, but it sent 1 INVITE with "
            "another Call-ID meanwhile") in finding.explanation
    [hunt] = found(pbx_hunting(), "call-post-dial-delay")
    assert hunt.evidence["hunted"] == ["10.0.0.21:5060", "10.0.0.22:5060", "10.0.0.23:5060"]


def test_a_register_with_a_copied_to_tag_is_no_dialog_request():
    f = Flow()
    reg = f.add(0, A, B, request("REGISTER", "sip:example.com", to_tag="old", to_uri="sip:alice@example.com"))
    f.add(0.05, B, A, response(reg, 403, "Forbidden"))
    assert not found(f.session(), "dlg-request-rejected")


def test_a_refused_call_from_a_local_test_tool_is_no_attack():
    f = Flow()
    sipp = "127.0.0.1:5061"
    inv = f.add(0, sipp, "127.0.0.1:5060", request("INVITE", "sip:100@127.0.0.1", via=sipp,
                                                   body=sdp(), extra=(("User-Agent", "SIPp/Win32"),)))
    f.add(0.05, "127.0.0.1:5060", sipp, response(inv, 503, "Service Unavailable", to_tag="X"))
    [finding] = found(f.session(), "call-failed")
    assert finding.severity == "error" and finding.evidence["caller_flagged_by"] == []


def test_a_480_after_ringing_with_a_q850_rejection_is_no_ring_timeout():
    """Tier-2 review (mixed-traffic call 6): '480 ... nobody picked up before the ring timeout'
    next to 'Q.850 cause 21: call rejected'. The cause says why."""
    from factory import Flow, request, response, sdp
    f = Flow()
    inv = f.add(0, "10.0.0.1:5060", "10.0.0.2:5060", request("INVITE", "sip:bob@10.0.0.2",
                                                             body=sdp()))
    f.add(0.1, "10.0.0.2:5060", "10.0.0.1:5060", response(inv, 180, "Ringing", to_tag="t"))
    f.add(5.0, "10.0.0.2:5060", "10.0.0.1:5060", response(
        inv, 480, "Temporarily Unavailable", to_tag="t",
        extra=(("Reason", "Q.850;cause=21;text=\"Call rejected\""),)))
    [finding] = [x for x in f.session().findings if x.id == "call-failed"]
    assert "ring timeout" not in finding.explanation.replace("not a ring timeout", "")
    assert "Q.850 cause 21" in finding.explanation
