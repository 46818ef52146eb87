"""Transaction-layer rules (catalog §3) on small synthetic flows built with tests/factory.py."""

from __future__ import annotations

from factory import Flow, request, response, sdp

A, B, P = "10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.9:5060"   # caller, callee, proxy


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def tail(flow: Flow, t: float) -> None:
    """An unrelated OPTIONS/200 at time t, so the capture covers the rules' wait windows (D7)."""
    ping = request("OPTIONS", "sip:10.0.0.77", call_id="tail@test", branch="z9hG4bK-tail",
                   via="10.0.0.78:5060", contact=None)
    flow.add(t, "10.0.0.78:5060", "10.0.0.77:5060", ping)
    flow.add(t + 0.01, "10.0.0.77:5060", "10.0.0.78:5060", response(ping, 200, "OK", to_tag="t"))


def invite(branch="z9hG4bK-5", cseq=102, **kw):
    return request("INVITE", "sip:bob@10.0.0.2", branch=branch, cseq=cseq, body=sdp(), **kw)


# -- 3.1 txn-final-after-2xx ---------------------------------------------------------------------

def final_after_2xx():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="X"))
    f.add(2.0, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                              extra=(("User-Agent", "Buggy 1.0"),), body=sdp("10.0.0.2")))
    f.add(2.1, B, A, response(inv, 487, "Request Cancelled", to_tag="X"))
    return f.session()


def final_after_2xx_other_branch():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="X"))
    f.add(2.0, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2"))
    f.add(2.05, A, B, request("ACK", "sip:bob@10.0.0.2", branch="z9hG4bK-ack", cseq=102,
                              to_tag="X"))
    f.add(2.1, B, A, response(invite(branch="z9hG4bK-2"), 487, "Request Terminated", to_tag="X"))
    return f.session()


def final_after_2xx_copy():
    f = Flow()
    inv = f.add(0, A, B, invite())
    ok = response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2")
    f.add(2.0, B, A, ok)
    f.add(2.5, B, A, ok)
    f.add(2.6, A, B, request("ACK", "sip:bob@10.0.0.2", branch="z9hG4bK-ack", cseq=102,
                             to_tag="X"))
    return f.session()


def test_final_after_2xx_is_an_error_naming_both_answers():
    session = final_after_2xx()
    [finding] = found(session, "txn-final-after-2xx")
    assert finding.severity == "error"
    assert finding.messages == [2, 3]
    assert "200 at" in finding.explanation and "487 at" in finding.explanation
    assert "Buggy 1.0" in finding.explanation and "10.0.0.2:5060" in finding.explanation
    assert finding.time == session.messages[3].ts
    assert "RFC 3261 §17.2.1" in finding.rfc


def test_second_2xx_with_another_tag_from_one_ua_is_a_warning():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(1.0, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2"))
    f.add(1.2, B, A, response(inv, 200, "OK", to_tag="Y", contact="sip:bob@10.0.0.2"))
    [finding] = found(f.session(), "txn-final-after-2xx")
    assert finding.severity == "warning" and finding.messages == [1, 2]
    assert "To tag X" in finding.explanation and "To tag Y" in finding.explanation


# -- 3.2 txn-cancel-misplaced --------------------------------------------------------------------

def cancel_before_provisional():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.2, A, B, request("CANCEL", "sip:bob@10.0.0.2", branch="z9hG4bK-5", cseq=102,
                             contact=None))
    f.add(0.3, B, A, response(inv, 100, "Trying"))
    return f.session()


def cancel_after_ringing():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.3, B, A, response(inv, 180, "Ringing", to_tag="X"))
    cancel = f.add(2.0, A, B, request("CANCEL", "sip:bob@10.0.0.2", branch="z9hG4bK-5", cseq=102,
                                      contact=None))
    f.add(2.05, B, A, response(cancel, 200, "OK", to_tag="X"))
    f.add(2.06, B, A, response(inv, 487, "Request Terminated", to_tag="X"))
    f.add(2.07, A, B, request("ACK", "sip:bob@10.0.0.2", branch="z9hG4bK-5", cseq=102, to_tag="X",
                              contact=None))
    return f.session()


def test_cancel_before_provisional_is_a_warning_with_the_delay():
    [finding] = found(cancel_before_provisional(), "txn-cancel-misplaced")
    assert finding.severity == "warning"
    assert finding.messages == [0, 1, 2]
    assert "200 ms after sending it" in finding.explanation
    assert finding.rfc == "RFC 3261 §9.1"


def test_cancel_long_after_final_is_info():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.05, B, A, response(inv, 100, "Trying"))
    f.add(1.0, B, A, response(inv, 486, "Busy Here", to_tag="X"))
    f.add(3.0, A, B, request("CANCEL", "sip:bob@10.0.0.2", branch="z9hG4bK-5", cseq=102,
                             contact=None))
    [finding] = found(f.session(), "txn-cancel-misplaced")
    assert finding.severity == "info" and "(486 at" in finding.explanation


# -- 3.3 txn-cancel-ineffective ------------------------------------------------------------------

def cancel_wrong_branch():
    f = Flow()
    inv = f.add(0, A, B, invite(branch="z9hG4bK-A"))
    f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="X"))
    cancel = f.add(3.0, A, B, request("CANCEL", "sip:bob@10.0.0.2", branch="z9hG4bK-B", cseq=102,
                                      contact=None))
    f.add(3.05, B, A, response(cancel, 481, "Call/Transaction Does Not Exist", to_tag="X"))
    return f.session()


def test_mismatched_cancel_shows_the_field_diff():
    [finding] = found(cancel_wrong_branch(), "txn-cancel-ineffective")
    assert finding.severity == "error"
    assert finding.messages == [0, 2, 3]
    assert "Via branch z9hG4bK-B instead of z9hG4bK-A" in finding.explanation
    assert "(481)" in finding.explanation


def test_accepted_cancel_without_487_is_a_warning_once_the_window_is_covered():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="X"))
    cancel = f.add(2.0, A, B, request("CANCEL", "sip:bob@10.0.0.2", branch="z9hG4bK-5", cseq=102,
                                      contact=None))
    f.add(2.05, B, A, response(cancel, 200, "OK", to_tag="X"))
    short = f.session()
    [undecided] = found(short, "txn-cancel-ineffective")
    assert undecided.inconclusive and undecided.severity == "info"
    tail(f, 40.0)
    [finding] = found(f.session(), "txn-cancel-ineffective")
    assert finding.severity == "warning" and not finding.inconclusive
    assert "487" in finding.explanation and finding.messages == [0, 2, 3]


# -- 3.4 txn-non2xx-not-acked --------------------------------------------------------------------

def busy_not_acked():
    f = Flow()
    inv = f.add(0, A, B, invite())
    busy = response(inv, 486, "Busy Here", to_tag="X")
    for t in (0.1, 0.6, 1.6, 3.6):
        f.add(t, B, A, busy)
    return f.session()


def busy_acked():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.1, B, A, response(inv, 486, "Busy Here", to_tag="X"))
    f.add(0.15, A, B, request("ACK", "sip:bob@10.0.0.2", branch="z9hG4bK-5", cseq=102, to_tag="X",
                              contact=None))
    return f.session()


def test_unacked_refusal_counts_its_copies():
    [finding] = found(busy_not_acked(), "txn-non2xx-not-acked")
    assert finding.severity == "warning"
    assert finding.messages == [1, 2, 3, 4]
    assert "486 Busy Here" in finding.explanation and "4 times" in finding.explanation


def test_ack_with_wrong_to_tag_is_reported_as_mismatch():
    f = Flow()
    inv = f.add(0, A, B, invite())
    busy = response(inv, 486, "Busy Here", to_tag="X")
    f.add(0.1, B, A, busy)
    f.add(0.15, A, B, request("ACK", "sip:bob@10.0.0.2", branch="z9hG4bK-5", cseq=102, to_tag="Q",
                              contact=None))
    f.add(0.6, B, A, busy)
    [finding] = found(f.session(), "txn-non2xx-not-acked")
    assert finding.evidence["subcase"] == "b" and "To tag Q" in finding.explanation


# -- 3.5 txn-prack-failure -----------------------------------------------------------------------

REL = (("Require", "100rel"), ("RSeq", "1"))


def prack_missing():
    f = Flow()
    inv = f.add(0, A, B, invite(extra=(("Supported", "100rel"),)))
    ringing = response(inv, 180, "Ringing", to_tag="X", extra=REL, contact="sip:bob@10.0.0.2")
    for t in (0.1, 0.6, 1.6, 3.6, 7.6, 15.6, 31.6):
        f.add(t, B, A, ringing)
    f.add(32.1, B, A, response(inv, 500, "Server Internal Error", to_tag="X"))
    return f.session()


def prack_sent():
    f = Flow()
    inv = f.add(0, A, B, invite(extra=(("Supported", "100rel"),)))
    f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="X", extra=REL,
                              contact="sip:bob@10.0.0.2"))
    prack = f.add(0.2, A, B, request("PRACK", "sip:bob@10.0.0.2", branch="z9hG4bK-pr", cseq=103,
                                     to_tag="X", extra=(("RAck", "1 102 INVITE"),)))
    f.add(0.25, B, A, response(prack, 200, "OK", to_tag="X"))
    f.add(3.0, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                              body=sdp("10.0.0.2")))
    f.add(3.05, A, B, request("ACK", "sip:bob@10.0.0.2", branch="z9hG4bK-ack", cseq=102,
                              to_tag="X"))
    return f.session()


def test_missing_prack_names_the_final_and_copies():
    [finding] = found(prack_missing(), "txn-prack-failure")
    assert finding.severity == "error" and finding.evidence["subcase"] == "a"
    assert finding.messages == [1, 2, 3, 4, 5, 6, 7, 8]
    assert "7 times" in finding.explanation and "500 Server Internal Error" in finding.explanation


def test_reliable_1xx_without_100rel_support_or_rseq():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.1, B, A, response(inv, 183, "Session Progress", to_tag="X",
                              extra=(("Require", "100rel"),), contact="sip:bob@10.0.0.2"))
    subcases = sorted(x.evidence["subcase"] for x in found(f.session(), "txn-prack-failure"))
    assert subcases == ["b", "c"]


def test_420_for_required_100rel():
    f = Flow()
    inv = f.add(0, A, B, invite(extra=(("Require", "100rel"),)))
    f.add(0.1, B, A, response(inv, 420, "Bad Extension", to_tag="X",
                              extra=(("Unsupported", "100rel"),)))
    [finding] = found(f.session(), "txn-prack-failure")
    assert finding.evidence["subcase"] == "f" and "420 Bad Extension" in finding.explanation


CASES = [
    ("txn-final-after-2xx", final_after_2xx, True),
    ("txn-final-after-2xx", final_after_2xx_other_branch, False),
    ("txn-final-after-2xx", final_after_2xx_copy, False),
    ("txn-cancel-misplaced", cancel_before_provisional, True),
    ("txn-cancel-misplaced", cancel_after_ringing, False),
    ("txn-cancel-ineffective", cancel_wrong_branch, True),
    ("txn-cancel-ineffective", cancel_after_ringing, False),
    ("txn-non2xx-not-acked", busy_not_acked, True),
    ("txn-non2xx-not-acked", busy_acked, False),
    ("txn-prack-failure", prack_missing, True),
    ("txn-prack-failure", prack_sent, False),
]


def test_refusal_never_acked_but_followed_by_a_bye_is_decided_without_waiting():
    """SIPp load scenario: 403, no ACK, then a BYE on the same path (D7 vantage)."""
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.1, B, A, response(inv, 403, "Error", to_tag="X"))
    f.add(0.2, A, B, request("BYE", "sip:bob@10.0.0.2", branch="z9hG4bK-bye", cseq=103,
                             to_tag="X"))
    [finding] = found(f.session(), "txn-non2xx-not-acked")
    assert finding.severity == "warning" and not finding.inconclusive
    assert finding.messages == [1, 2] and "sent a BYE on the same path" in finding.explanation


def test_real_trace_caller_cancels_resent_invites(data_dir):
    """udp-call-info-dtmf-cancel.pcap: the phone resends its INVITE from new ports (CSeq 2, 3)
    and cancels those copies 72 ms / 5 ms later, before any provisional response."""
    from sipscope.core.model.loader import load_files
    session = load_files([str(data_dir / "udp-call-info-dtmf-cancel.pcap")])
    misplaced = found(session, "txn-cancel-misplaced")
    assert [(f.severity, f.messages) for f in misplaced] == [("warning", [1, 5, 7, 11]),
                                                             ("warning", [4, 6, 12, 14])]
    assert "72 ms after sending it" in misplaced[0].explanation
    # what the far end did is told from the capture: it accepted the early cancels (200)
    assert "Here the far end accepted it anyway (200 ok -- no more pending branches)" \
        in misplaced[0].explanation
    assert "rejects the cancel and keeps ringing" not in misplaced[0].explanation
    # the 200s after those cancels belong to the dialog the caller keeps: no ghost call
    assert not found(session, "fork-unwanted-2xx-not-released")


# -- issue 14 pattern 2: settling evidence and the reason for "can't tell" -----------------------

def _challenged(tail_at: float | None):
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.1, B, A, response(inv, 407, "Proxy Authentication Required", to_tag="X"))
    if tail_at is not None:
        tail(f, tail_at)
    return f.session()


def test_a_407_not_retransmitted_was_acked():
    """RFC 3261 §17.2.1 Timer G: the refusing side repeats its 407 until the ACK comes; it sent
    one copy while the capture ran 40 s on, so the ACK arrived by a path not captured."""
    assert not found(_challenged(40.0), "txn-non2xx-not-acked")


def test_a_407_at_the_capture_end_is_undecided_with_its_numbers():
    [finding] = found(_challenged(None), "txn-non2xx-not-acked")
    assert finding.inconclusive and finding.title == "No ACK seen for the 407 (undecided)"
    assert finding.evidence["undecided"] == "horizon"
    assert "Undecided: the capture ends 0.0 s after the 407, and deciding this needs 1.5 s." \
        in finding.explanation
    assert "repeated the refusal" not in finding.explanation


def test_no_487_from_a_host_never_seen_sending_names_the_path():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.1, P, A, response(inv, 180, "Ringing", to_tag="X"))    # answers come via P
    cancel = f.add(2.0, A, B, request("CANCEL", "sip:bob@10.0.0.2", branch="z9hG4bK-5", cseq=102,
                                      contact=None))
    f.add(2.05, P, A, response(cancel, 200, "OK", to_tag="X"))
    tail(f, 40.0)
    [finding] = found(f.session(), "txn-cancel-ineffective")
    assert finding.inconclusive and finding.evidence["undecided"] == "path"
    assert finding.title == "No 487 seen after the accepted CANCEL (undecided)"
    assert "no packet at all from 10.0.0.2:5060, the called side" in finding.explanation


# -- 3.6 txn-started-before-capture (docs/fault-reference.md) -------------------------------------

def answered_before_capture():
    f = Flow()
    inv = invite()
    f.add(0.5, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                              body=sdp("10.0.0.2")))
    f.add(0.51, A, B, request("ACK", "sip:bob@10.0.0.2", to_tag="X", cseq=102,
                              branch="z9hG4bK-ack"))
    return f.session()


def answered_in_capture():
    f = Flow()
    inv = f.add(0, A, B, invite())
    f.add(0.5, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2"))
    return f.session()


def refused_before_capture():
    f = Flow()
    f.add(0.1, B, A, response(invite(), 403, "Forbidden", to_tag="X"))
    return f.session()


CASES += [
    ("txn-started-before-capture", answered_before_capture, True),
    ("txn-started-before-capture", answered_in_capture, False),
    ("txn-started-before-capture", refused_before_capture, False),
]


def test_a_call_whose_invite_precedes_the_capture_is_said_to_be_under_way():
    """Reviewed files 3 and 4: the first SIP message is a 200 OK (and its ACK) whose INVITE is
    not in the capture."""
    [finding] = found(answered_before_capture(), "txn-started-before-capture")
    assert finding.severity == "info" and finding.messages == [0, 1]
    assert "already under way when the capture starts" in finding.explanation
    assert "answering INVITE CSeq 102, which is not in the capture" in finding.explanation


def test_early_cancel_rejected_481_says_so():
    f = Flow()
    inv = f.add(0, A, B, invite())
    cancel = f.add(0.005, A, B, request("CANCEL", "sip:bob@10.0.0.2", branch="z9hG4bK-5",
                                        cseq=102, contact=None))
    f.add(0.02, B, A, response(inv, 100, "Trying"))
    f.add(0.03, B, A, response(cancel, 481, "Call/Transaction Does Not Exist", to_tag="X"))
    [finding] = found(f.session(), "txn-cancel-misplaced")
    assert "Here the far end rejected the cancel (481 Call/Transaction Does Not Exist" \
        in finding.explanation
