"""Timer rules (catalog §6) on synthetic flows with RFC 3261 retransmission patterns (D6)."""

from __future__ import annotations

from factory import Flow, request, response, sdp

from sipscope.core.sources.datagram import REASSEMBLED

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
    # both ends private: no NAT claim; the Contact is only named as where the ACK goes
    assert "NAT" not in text and "private" not in text
    assert "The capture does not show why. The ACK goes to the answer's Contact (192.168.5.5)" \
        in text
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
    assert "to 10.0.0.2:5060 was sent 7 times over 31.5 seconds" in finding.explanation
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
    assert "hang-up to 10.0.0.2:5060 was sent 11 times over 31.5 seconds" in finding.explanation


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
    # the fourth BYE's repeats end with the log but span 31 s themselves: decided too
    assert [(f.severity, f.evidence["copies"]) for f in decided] == [("error", 10)] * 4
    assert "may show one direction only" in decided[0].explanation


# -- issue 14 pattern 2: one sentence per kind of "can't tell", settling evidence ----------------

UNDECIDED_WORDS = ("not answered", "failed", "timed out", "never")


def _answered_once(later: float | None, excerpt: bool = False, contact: str = "10.0.0.7"):
    """INVITE A -> B (a proxy that does not record-route) -> 200 sent once with the UAS's
    Contact; an OPTIONS at `later` keeps the capture running."""
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.2, B, A, response(inv, 200, "OK", to_tag="X", contact=f"sip:bob@{contact}",
                              body=sdp("10.0.0.2")))
    if later is not None:
        f.add(later, P, A, request("OPTIONS", "sip:a@10.0.0.1", call_id="o@test", via=P,
                                   branch="z9hG4bK-o"))
    return f.session(excerpt=excerpt)


def test_a_2xx_never_retransmitted_got_its_ack():
    """RFC 3261 §13.3.1.4: the UAS repeats its 2xx until the ACK arrives; the capture runs 50 s
    on and it never did: the ACK went to the Contact 10.0.0.7, a path this capture never shows,
    so nothing is reported (not even undecided)."""
    assert not found(_answered_once(50.0), "tmr-2xx-no-ack")


def test_a_2xx_never_retransmitted_on_a_seen_ack_path_is_a_conflict():
    """The caller is seen sending to the Contact's host (the INVITE went there), yet no ACK:
    the capture cannot settle it, and the sentence says why."""
    [finding] = found(_answered_once(50.0, contact="10.0.0.2"), "tmr-2xx-no-ack")
    assert finding.inconclusive and finding.evidence["undecided"] == "conflict"
    assert "this capture sees 10.0.0.1:5060 send to 10.0.0.2, where the ACK goes, yet no ACK" \
        in finding.explanation


def test_a_2xx_at_the_end_of_the_capture_is_undecided_with_the_numbers():
    [finding] = found(_answered_once(None), "tmr-2xx-no-ack")
    assert finding.inconclusive and finding.severity == "info"
    assert finding.title == "No ACK seen for the 200 (undecided)"
    assert finding.evidence["undecided"] == "horizon"
    assert finding.evidence["capture_after_s"] == 0.0 and finding.evidence["needed_s"] == 1.5
    assert "Undecided: the capture ends 0.0 s after the 200, and deciding this needs 1.5 s." \
        in finding.explanation
    assert "capture ended before" not in finding.explanation


def test_a_2xx_in_an_excerpt_says_excerpt():
    [finding] = found(_answered_once(50.0, excerpt=True), "tmr-2xx-no-ack")
    assert finding.inconclusive and finding.evidence["undecided"] == "excerpt"
    assert "curated excerpt" in finding.explanation


def test_an_invite_sent_once_to_a_silent_host_is_no_timeout():
    """A scanner's INVITE, sent once, never retransmitted while the capture ran on 15 s: no RFC
    3261 timeout can be shown (file 6 of the reviewed corpus)."""
    f = Flow()
    f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(15.0, A, P, request("OPTIONS", "sip:x@10.0.0.9", call_id="o@test", branch="z9hG4bK-o"))
    assert not found(f.session(), "tmr-invite-timeout")


def test_register_cut_by_the_capture_end_is_undecided_and_says_so():
    f = Flow()
    register = request("REGISTER", "sip:example.com", branch="z9hG4bK-r")
    for t in TIMER_E[:4]:
        f.add(t, A, P, register)
    [finding] = found(f.session(), "tmr-non-invite-timeout")
    assert finding.inconclusive
    assert finding.title == "No answer seen to the REGISTER (undecided)"
    assert not any(word in finding.title.lower() for word in UNDECIDED_WORDS)
    assert "offline" not in finding.explanation and "got no reply" not in finding.explanation
    assert finding.evidence["undecided"] == "horizon" and finding.evidence["needed_s"] == 32.0


def register_given_up(extra: tuple = ()):
    """A REGISTER repeated 11 times over 31.4 s (T1 = 1 s) with no answer, then 9 s more of
    capture: the client's own Timer F fired.  The finding about it."""
    f = Flow()
    register = request("REGISTER", "sip:example.com", branch="z9hG4bK-r", extra=extra)
    for t in (0, 1, 2, 3.4, 7.4, 11.4, 15.4, 19.4, 23.4, 27.4, 31.4):
        f.add(t, A, P, register)
    f.add(40.4, "10.0.0.7:5060", A, request("OPTIONS", "sip:x@10.0.0.1", call_id="o@test",
                                             branch="z9hG4bK-o"))
    [finding] = [x for x in found(f.session(), "tmr-non-invite-timeout")
                 if x.evidence["method"] == "REGISTER"]
    return finding


def test_register_whose_client_gave_up_is_decided_even_before_64_t1():
    """A client with T1 = 1 s (first gap; Zoiper, reviewed file 5) repeats for 31.4 s and stops;
    the capture looks on for 9 s more (less than 64*T1 = 64 s after the first copy): its own
    Timer F fired, so the timeout is decided."""
    finding = register_given_up()
    assert not finding.inconclusive and finding.severity == "error"
    assert finding.title == "REGISTER not answered"


def test_bye_between_private_hosts_names_no_nat_cause():
    [finding] = found(bye_unanswered(), "tmr-non-invite-timeout")
    assert "router" not in finding.explanation and "NAT" not in finding.explanation
    assert "check that 10.0.0.2:5060 is still there" in finding.explanation


def test_the_same_register_failing_again_is_info_and_an_irregular_pause_is_named():
    """Reviewed file 5: one registration failure over two transactions is one error; the second
    (CSeq 5) is info, and its 11.4 s pause between copies (Timer E allows 4 s) is described."""
    f = Flow()
    for cseq, start, times in ((4, 0, TIMER_E), (5, 50, (0, 1, 2, 3.4, 7.4, 11.4, 15.4, 26.8,
                                                        29.8, 30.8, 31.8))):
        register = request("REGISTER", "sip:example.com", branch=f"z9hG4bK-r{cseq}", cseq=cseq)
        for t in times:
            f.add(start + t, A, P, register)
    first, again = found(f.session(), "tmr-non-invite-timeout")
    assert (first.severity, again.severity) == ("error", "info")
    assert not again.inconclusive and again.title.startswith("REGISTER not answered again")
    assert "The repeats pause for 11.4 s" in again.explanation
    assert "pause" not in first.explanation


def test_invite_timeout_names_the_size_only_when_it_is_a_cause():
    small = found(invite_unanswered(), "tmr-invite-timeout")[0].explanation
    assert "The capture does not show why" in small and "bytes" not in small
    f = Flow()
    big = request("INVITE", CALLEE, body=sdp() + "a=x-pad:" + "x" * 1400 + "\r\n")
    for t in TIMER_A:
        f.add(t, A, B, big, flags=REASSEMBLED)
    [finding] = found(f.session(), "tmr-invite-timeout")
    assert f"It is {len(big):,} bytes over UDP, IP-fragmented" in finding.explanation
    assert "does not show why" not in finding.explanation


def _sent_once_to_an_answering_host(end: float):
    """SIPp-style: B answers A's other requests on this path, but not this INVITE, and A does
    not retransmit (reviewed load test): the absence is on a path the capture sees."""
    f = Flow()
    ping = f.add(0, A, B, request("OPTIONS", CALLEE, call_id="o@test", branch="z9hG4bK-o"))
    f.add(0.01, B, A, response(ping, 200, "OK", to_tag="o"))
    f.add(1, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(end, A, B, request("OPTIONS", CALLEE, call_id="o2@test", branch="z9hG4bK-o2"))
    return [x for x in found(f.session(), "tmr-invite-timeout")]


def test_an_invite_sent_once_on_a_seen_path_stays_open_then_times_out():
    [short] = _sent_once_to_an_answering_host(25.0)
    assert short.inconclusive and short.evidence["undecided"] == "horizon"
    assert "the capture ends 24 s after the INVITE, and deciding this needs 32 s" \
        in short.explanation
    [decided] = _sent_once_to_an_answering_host(40.0)
    assert not decided.inconclusive and decided.severity == "error"
    assert "10.0.0.2:5060 answers 10.0.0.1:5060's other requests in this capture, so the address " \
        "and the path work" in decided.explanation
    assert "does not show why" not in decided.explanation


def test_an_unanswered_request_of_a_reported_scanner_is_info_and_says_so():
    """Tier-2 review (brute-force capture): 69 'REGISTER not answered' errors on the attacker's
    own requests. A source the security rules report is the story; its unanswered requests are
    part of that traffic (info), and the text says which security findings report it."""
    finding = register_given_up(extra=(("User-Agent", "friendly-scanner"),))
    assert finding.severity == "info" and "sec-scanner-user-agent" in \
        finding.evidence["sender_flagged_by"]
    assert "part of that traffic, not a fault of the service" in finding.explanation


def test_an_invite_the_caller_ended_at_once_is_no_timeout():
    """Tier-2 review (SIPp load capture): the caller sent BYE right after its INVITE; the text
    said a caller 'hears ringing or silence until its timer gives up'."""
    f = Flow()
    invite = request("INVITE", "sip:bob@10.0.0.2", body=sdp(), branch="z9hG4bK-i")
    for t in (0, 0.5, 1.5):
        f.add(t, A, B, invite)
    f.add(1.6, A, B, request("BYE", "sip:bob@10.0.0.2", to_tag="x", cseq=2, branch="z9hG4bK-b"))
    f.add(1.61, B, A, response(request("BYE", "sip:bob@10.0.0.2", to_tag="x", cseq=2,
                                       branch="z9hG4bK-b"), 200, "OK"))
    f.add(40.0, B, A, request("OPTIONS", "sip:a@10.0.0.1", call_id="o@t", branch="z9hG4bK-o"))
    [finding] = found(f.session(), "tmr-invite-timeout")
    assert finding.severity == "info" and finding.title.startswith("No answer to the INVITE")
    assert finding.evidence["ended_by"] == "BYE"
    assert "hears ringing or silence" not in finding.explanation
