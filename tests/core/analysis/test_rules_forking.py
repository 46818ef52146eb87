"""Forking and routing rules (catalog §5) on synthetic fork sets (D4) sent by a proxy P."""

from __future__ import annotations

from factory import Flow, request, response, sdp

P = "10.0.0.9:5060"                          # the forking proxy
LISA, MICHELE = "10.0.0.7:5060", "10.0.0.7:5064"   # two accounts on one phone
OTHER = "10.0.0.8:5060"                       # a second phone
UPSTREAM = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-up"
UA = (("User-Agent", "Grandstream GXP2000 1.1.6.46"),)


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def tail(flow: Flow, t: float) -> None:
    ping = request("OPTIONS", "sip:10.0.0.77", call_id="tail@test", branch="z9hG4bK-tail",
                   via="10.0.0.78:5060", contact=None)
    flow.add(t, "10.0.0.78:5060", "10.0.0.77:5060", ping)
    flow.add(t + 0.01, "10.0.0.77:5060", "10.0.0.78:5060", response(ping, 200, "OK", to_tag="t"))


def branch_invite(user: str, target: str, index: int) -> bytes:
    return request("INVITE", f"sip:{user}@{target}", branch=f"z9hG4bKd146.d2c78147.{index}",
                   via=P, cseq=102, extra_vias=(UPSTREAM,), body=sdp("10.0.0.1"))


def cancel_for(user: str, target: str, index: int) -> bytes:
    return request("CANCEL", f"sip:{user}@{target}", branch=f"z9hG4bKd146.d2c78147.{index}",
                   via=P, cseq=102, contact=None)


def fork(flow: Flow, second=MICHELE, second_user="michele"):
    inv2 = flow.add(0.0, P, LISA, branch_invite("lisa", LISA, 2))
    inv5 = flow.add(0.0001, P, second, branch_invite(second_user, second, 5))
    return inv2, inv5


def ringing(inv: bytes, tag: str, contact: str, extra=UA) -> bytes:
    return response(inv, 180, "Ringing", to_tag=tag, contact=contact, extra=extra)


# -- 5.1 fork-response-wrong-endpoint ------------------------------------------------------------

def answer_on_wrong_socket(source: str = LISA):
    f = Flow()
    inv2, inv5 = fork(f)
    f.add(0.09, LISA, P, ringing(inv2, "L", f"sip:lisa@{LISA}"))
    f.add(0.15, MICHELE, P, ringing(inv5, "M", f"sip:michele@{MICHELE}"))
    f.add(9.4, source, P, response(inv5, 200, "OK", to_tag="L", contact=f"sip:lisa@{LISA}",
                                   extra=UA, body=sdp("10.0.0.7", user="lisa")))
    f.add(9.4005, P, LISA, cancel_for("lisa", LISA, 2))
    return f.session()


def answer_on_right_socket():
    return answer_on_wrong_socket(MICHELE)


def answer_from_third_address():
    return answer_on_wrong_socket("10.0.0.99:5060")


def test_wrong_endpoint_names_both_lines_and_boosters():
    session = answer_on_wrong_socket()
    [finding] = found(session, "fork-response-wrong-endpoint")
    assert finding.severity == "error"
    assert finding.messages == [0, 1, 2, 3, 4, 5]
    text = finding.explanation
    assert "lisa (branch .2) at 10.0.0.7:5060 and michele (branch .5) at 10.0.0.7:5064" in text
    assert "The answer (200 OK" in text and "Grandstream GXP2000 1.1.6.46" in text
    assert "its SDP says o=lisa" in text and "To tag L was already used" in text
    assert finding.time == session.messages[4].ts


# -- 5.2 fork-identical-to-tag -------------------------------------------------------------------

def same_tag(tag5: str = "b71cb81c3beef471"):
    f = Flow()
    inv2, inv5 = fork(f)
    f.add(0.09, LISA, P, ringing(inv2, "b71cb81c3beef471", f"sip:lisa@{LISA}"))
    f.add(0.15, MICHELE, P, ringing(inv5, tag5, f"sip:michele@{MICHELE}"))
    return f.session()


def different_tags():
    return same_tag("4f2a9c")


def test_identical_tag_points_at_both_responses():
    session = same_tag()
    [finding] = found(session, "fork-identical-to-tag")
    assert finding.severity == "error"
    assert finding.messages == [0, 1, 2, 3]
    assert "To tag b71cb81c3beef471" in finding.explanation
    assert finding.time == session.messages[3].ts


# -- 5.3 fork-same-device ------------------------------------------------------------------------

def two_accounts_one_phone():
    f = Flow()
    inv2 = f.add(0.0, P, "198.51.100.7:5060", branch_invite("lisa", "192.168.1.107:5060", 2))
    inv5 = f.add(0.0001, P, "198.51.100.7:5064", branch_invite("michele", "192.168.1.107:5064", 5))
    f.add(0.09, "198.51.100.7:5060", P, ringing(inv2, "L", "sip:lisa@192.168.1.107"))
    f.add(0.15, "198.51.100.7:5064", P, ringing(inv5, "M", "sip:michele@192.168.1.107:5064"))
    return f.session()


def two_phones_one_site():
    f = Flow()
    inv2 = f.add(0.0, P, "198.51.100.7:5060", branch_invite("lisa", "192.168.1.107:5060", 2))
    inv5 = f.add(0.0001, P, "198.51.100.7:5064", branch_invite("michele", "192.168.1.108:5060", 5))
    f.add(0.09, "198.51.100.7:5060", P, ringing(inv2, "L", "sip:lisa@192.168.1.107",
                                                (("User-Agent", "Yealink T46 1.0"),)))
    f.add(0.15, "198.51.100.7:5064", P, ringing(inv5, "M", "sip:michele@192.168.1.108",
                                                (("User-Agent", "Polycom VVX 6.0"),)))
    return f.session()


def test_same_device_is_info_when_nothing_failed_and_lists_evidence():
    [finding] = found(two_accounts_one_phone(), "fork-same-device")
    assert finding.severity == "info"
    assert finding.messages == [0, 1]
    assert "2 accounts that live on the same device (198.51.100.7, ports 5060, 5064" in \
        finding.explanation
    assert "private address 192.168.1.107" in finding.explanation
    assert "Grandstream GXP2000 1.1.6.46" in finding.explanation


def test_same_device_is_a_warning_when_the_fork_broke():
    [finding] = found(answer_on_wrong_socket(), "fork-same-device")
    assert finding.severity == "warning"


def test_482_to_the_merged_copy_is_handled_correctly_not_a_loop():
    f = Flow()
    inv2, inv5 = fork(f)
    f.add(0.09, LISA, P, ringing(inv2, "L", f"sip:lisa@{LISA}"))
    f.add(0.1, MICHELE, P, response(inv5, 482, "Loop Detected", to_tag="L", extra=UA))
    session = f.session()
    [finding] = found(session, "fork-same-device")
    assert finding.severity == "info" and "handled correctly" in finding.explanation
    assert not found(session, "route-loop")


# -- 5.4 fork-unwanted-2xx-not-released ----------------------------------------------------------

A, B = "10.0.0.1:5060", "10.0.0.2:5060"


def answer_after_cancel(with_bye: bool = False):
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", "sip:bob@10.0.0.2", body=sdp()))
    f.add(0.1, B, A, response(inv, 180, "Ringing", to_tag="Y", contact="sip:bob@10.0.0.2"))
    f.add(5.0, A, B, request("CANCEL", "sip:bob@10.0.0.2", contact=None))
    f.add(5.01, B, A, response(inv, 200, "OK", to_tag="Y", contact="sip:bob@10.0.0.2",
                               body=sdp("10.0.0.2")))
    f.add(5.02, A, B, request("ACK", "sip:bob@10.0.0.2", to_tag="Y", branch="z9hG4bK-ack"))
    if with_bye:
        f.add(5.05, A, B, request("BYE", "sip:bob@10.0.0.2", to_tag="Y", cseq=2,
                                  branch="z9hG4bK-bye"))
    tail(f, 45.0)
    return f.session()


def answer_after_cancel_released():
    return answer_after_cancel(with_bye=True)


def test_unreleased_answer_after_cancel_says_hang_up_missing():
    [finding] = found(answer_after_cancel(), "fork-unwanted-2xx-not-released")
    assert finding.severity == "warning"
    assert finding.messages == [0, 3, 4]
    assert "The caller hung up just as the other side answered" in finding.explanation
    assert "here it did not hang it up" in finding.explanation


# -- 5.5 fork-pending-not-cancelled --------------------------------------------------------------

def pending_left_ringing(cancel_at: float | None = None):
    f = Flow()
    inv2, inv5 = fork(f, second=OTHER, second_user="michele")
    f.add(0.09, LISA, P, ringing(inv2, "L", f"sip:lisa@{LISA}"))
    f.add(0.15, OTHER, P, ringing(inv5, "M", f"sip:michele@{OTHER}"))
    f.add(3.0, OTHER, P, response(inv5, 200, "OK", to_tag="M", contact=f"sip:michele@{OTHER}",
                                  body=sdp("10.0.0.8")))
    if cancel_at is not None:
        f.add(3.0 + cancel_at, P, LISA, cancel_for("lisa", LISA, 2))
    else:
        for t in (5.0, 8.0, 11.0, 13.0):
            f.add(t, LISA, P, ringing(inv2, "L", f"sip:lisa@{LISA}"))
    return f.session()


def pending_cancelled():
    return pending_left_ringing(cancel_at=0.0005)


def test_pending_branch_not_cancelled_lists_later_ringing():
    [finding] = found(pending_left_ringing(), "fork-pending-not-cancelled")
    assert finding.severity == "warning"
    assert 4 in finding.messages and 0 in finding.messages
    assert "lisa (branch .2) at 10.0.0.7:5060" in finding.explanation
    assert "4 later answers" in finding.explanation


# -- 5.6 route-loop ------------------------------------------------------------------------------

def looping_invite(ruris=("sip:100@pbx", "sip:100@pbx", "sip:100@pbx")):
    f = Flow()
    hop = "SIP/2.0/UDP proxy.example:5060;branch=z9hG4bK-p{}"
    other = "SIP/2.0/UDP pbx.example:5060;branch=z9hG4bK-x{}"
    passes = [[hop.format(1), other.format(1)],
              [hop.format(2), other.format(2), hop.format(3), other.format(3)],
              [hop.format(4), other.format(4), hop.format(5), other.format(5), hop.format(6),
               other.format(6)]]
    last = None
    for n, (vias, ruri) in enumerate(zip(passes, ruris)):
        last = request("INVITE", ruri, branch=f"z9hG4bK-loop{n}", via="proxy.example:5060",
                       extra_vias=tuple(vias), max_forwards=70 - 2 * n, body=sdp())
        f.add(0.01 * n, "10.0.0.9:5060", "10.0.0.10:5060", last)
    f.add(0.05, "10.0.0.10:5060", "10.0.0.9:5060", response(last, 483, "Too Many Hops",
                                                             to_tag="Z"))
    return f.session()


def spiral():
    f = Flow()
    for n, (ruri, vias) in enumerate((("sip:100@pbx", 1), ("sip:vm100@pbx", 3))):
        inv = request("INVITE", ruri, branch=f"z9hG4bK-sp{n}", via="proxy.example:5060",
                      extra_vias=tuple(f"SIP/2.0/UDP proxy.example:5060;branch=z9hG4bK-s{n}{i}"
                                       for i in range(vias)), body=sdp())
        f.add(0.01 * n, "10.0.0.9:5060", "10.0.0.10:5060", inv)
    f.add(0.05, "10.0.0.10:5060", "10.0.0.9:5060", response(inv, 180, "Ringing", to_tag="Z",
                                                             contact="sip:vm@10.0.0.10"))
    return f.session()


def test_loop_shows_the_passes_and_the_483():
    [finding] = found(looping_invite(), "route-loop")
    assert finding.severity == "error"
    assert finding.messages == [0, 1, 2, 3]
    assert "483 Too Many Hops" in finding.explanation
    assert "3 times with 3, 5, 7 Via headers" in finding.explanation


def test_low_max_forwards_is_a_warning_but_not_for_options():
    f = Flow()
    f.add(0, "10.0.0.9:5060", "10.0.0.10:5060",
          request("INVITE", "sip:100@pbx", max_forwards=2, body=sdp()))
    f.add(1, "10.0.0.9:5060", "10.0.0.10:5060",
          request("OPTIONS", "sip:pbx", call_id="probe@x", max_forwards=1, branch="z9hG4bK-o"))
    [finding] = found(f.session(), "route-loop")
    assert finding.severity == "warning" and finding.messages == [0]


# -- a forked call that works ----------------------------------------------------------------------

def test_forked_call_answered_on_the_right_branch_has_no_error():
    f = Flow()
    inv2, inv5 = fork(f)
    f.add(0.09, LISA, P, ringing(inv2, "L", f"sip:lisa@{LISA}"))
    f.add(0.15, MICHELE, P, ringing(inv5, "M", f"sip:michele@{MICHELE}"))
    f.add(9.4, LISA, P, response(inv2, 200, "OK", to_tag="L", contact=f"sip:lisa@{LISA}",
                                 extra=UA, body=sdp("10.0.0.7", user="lisa")))
    cancel = f.add(9.4005, P, MICHELE, cancel_for("michele", MICHELE, 5))
    f.add(9.45, MICHELE, P, response(cancel, 200, "OK", to_tag="M"))
    f.add(9.46, MICHELE, P, response(inv5, 487, "Request Terminated", to_tag="M"))
    f.add(9.47, P, MICHELE, request("ACK", f"sip:michele@{MICHELE}",
                                    branch="z9hG4bKd146.d2c78147.5", via=P, cseq=102, to_tag="M",
                                    contact=None))
    f.add(9.5, P, LISA, request("ACK", f"sip:lisa@{LISA}", branch="z9hG4bK-ack", via=P, cseq=102,
                                to_tag="L", extra_vias=("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a",)))
    bye = f.add(30.0, P, LISA, request("BYE", f"sip:lisa@{LISA}", branch="z9hG4bK-bye", via=P,
                                       cseq=103, to_tag="L", contact=None))
    f.add(30.05, LISA, P, response(bye, 200, "OK", extra=UA))
    session = f.session()
    assert [f"{x.id}: {x.explanation}" for x in session.findings if x.severity == "error"] == []
    assert not found(session, "fork-pending-not-cancelled")
    assert [x.severity for x in found(session, "fork-same-device")] == ["info"]


CASES = [
    ("fork-response-wrong-endpoint", answer_on_wrong_socket, True),
    ("fork-response-wrong-endpoint", answer_on_right_socket, False),
    ("fork-response-wrong-endpoint", answer_from_third_address, False),
    ("fork-identical-to-tag", same_tag, True),
    ("fork-identical-to-tag", different_tags, False),
    ("fork-same-device", two_accounts_one_phone, True),
    ("fork-same-device", two_phones_one_site, False),
    ("fork-unwanted-2xx-not-released", answer_after_cancel, True),
    ("fork-unwanted-2xx-not-released", answer_after_cancel_released, False),
    ("fork-pending-not-cancelled", pending_left_ringing, True),
    ("fork-pending-not-cancelled", pending_cancelled, False),
    ("route-loop", looping_invite, True),
    ("route-loop", spiral, False),
]


def test_482_to_a_request_straight_from_its_ua_is_a_merged_request_not_a_loop():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", "sip:bob@10.0.0.2", body=sdp()))
    f.add(0.01, B, A, response(inv, 482, "Loop Detected", to_tag="Z"))
    [finding] = found(f.session(), "route-loop")
    assert finding.severity == "warning" and finding.evidence["merged"]
    assert "did not go round in a circle" in finding.explanation
    assert "holds no earlier request" in finding.explanation


def test_real_scanner_482s_are_merged_requests(shared_traces):
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "scanner-invite-sipcli-401-482-503.pcap")])
    loops = found(session, "route-loop")
    assert len(loops) == 5
    # sipcli, flagged by the security rules: scan traffic, info; each 482'd INVITE has its own
    # Call-ID, From tag and branch and no earlier copy is captured (tier-2 review), so the text
    # claims no 'merged request' and says the capture does not show the receiver's reason
    assert {(f.severity, f.evidence["merged"]) for f in loops} == {("info", True)}
    assert all("sec-scanner-user-agent" in f.evidence["sender_flagged_by"] for f in loops)
    assert all(f.evidence["earlier_copy"] is None for f in loops)
    assert all(f.title == "482 Loop Detected without a loop" for f in loops)
    assert all("does not show why the receiver answered 482" in f.explanation for f in loops)
    assert all("part of that traffic, not a routing problem" in f.explanation for f in loops)


def test_roles_lead_with_the_error_that_explains_the_rest():
    """§13.3 with the runner's rule: fork-identical-to-tag is an earlier error, but only
    fork-response-wrong-endpoint has consequences, so it is the headline; the shared cause
    (fork-same-device) and its other effect contribute."""
    f = Flow()
    inv2, inv5 = fork(f)
    f.add(0.09, LISA, P, ringing(inv2, "b71", f"sip:lisa@{LISA}"))
    f.add(0.15, MICHELE, P, ringing(inv5, "b71", f"sip:michele@{MICHELE}"))
    f.add(9.4, LISA, P, response(inv5, 200, "OK", to_tag="b71", contact=f"sip:lisa@{LISA}",
                                 extra=UA, body=sdp("10.0.0.7", user="lisa")))
    f.add(9.4005, P, LISA, cancel_for("lisa", LISA, 2))
    f.add(9.48, LISA, P, response(inv5, 487, "Request Cancelled", to_tag="b71", extra=UA))
    roles = {x.id: x.role for x in f.session(excerpt=True).findings if not x.inconclusive}
    assert roles == {"fork-same-device": "contributing", "fork-identical-to-tag": "contributing",
                     "fork-response-wrong-endpoint": "headline",
                     "txn-final-after-2xx": "consequence"}


# -- issue 14 pattern 7: serial hunting is not forking ---------------------------------------------

def hunt_one_line_after_another(overlap: bool = False):
    """P rings lisa, gets 480 after 3 s, then tries michele on the same phone (serial hunting);
    with `overlap` the second INVITE goes out while lisa is still pending (parallel forking)."""
    f = Flow()
    inv2 = f.add(0.0, P, LISA, branch_invite("lisa", LISA, 2))
    f.add(0.05, LISA, P, ringing(inv2, "L", f"sip:lisa@{LISA}"))
    second = 2.0 if overlap else 3.01
    if not overlap:
        f.add(3.0, LISA, P, response(inv2, 480, "Temporarily Unavailable", to_tag="L", extra=UA))
    inv5 = f.add(second, P, MICHELE, branch_invite("michele", MICHELE, 5))
    f.add(second + 0.05, MICHELE, P, ringing(inv5, "M", f"sip:michele@{MICHELE}"))
    if overlap:
        f.add(3.0, LISA, P, response(inv2, 480, "Temporarily Unavailable", to_tag="L", extra=UA))
    return f.session()


def test_serial_hunting_on_one_phone_is_not_copies_at_once():
    session = hunt_one_line_after_another()
    [fork_set] = session.calls[0].forks
    assert len(fork_set.branches) == 2          # the model still sees one fork set (D4) ...
    assert not found(session, "fork-same-device")   # ... but no device held two copies at once
    assert not [f for f in session.findings if "at once" in f.explanation]


def test_overlapping_branches_on_one_phone_are_copies_at_once():
    [finding] = found(hunt_one_line_after_another(overlap=True), "fork-same-device")
    assert "arriving at once" in finding.explanation
    assert finding.evidence["pending"] == {"branch .2": [1700000000.0, 1700000003.0],
                                           "branch .5": [1700000002.0, None]}


# -- issue 14 pattern 8: a Max-Forwards 0 health probe is no loop ----------------------------------

def max_forwards_zero_probe(via: str = "10.0.0.20:5060", body: str = "", relayed: bool = False):
    """RFC 3261 §16.3 step 3: the first hop answers a request with Max-Forwards 0 with 483."""
    f = Flow()
    upstream = ("SIP/2.0/UDP 10.0.0.31:5060;branch=z9hG4bK-up0",) if relayed else ()
    probe = request("INVITE", "sip:Sip-Probe@10.0.0.9", call_id="probe@x", via=via,
                    extra_vias=upstream, max_forwards=0, contact="sip:probe@10.0.0.20",
                    body=body)
    f.add(0.0, "10.0.0.20:5060", P, probe)
    f.add(0.002, P, "10.0.0.20:5060", response(probe, 483, "Too Many Hops", to_tag="z",
                                               extra=(("Warning", '399 - "Max-Forwards zero"'),)))
    f.add(0.004, "10.0.0.20:5060", P, request("ACK", "sip:Sip-Probe@10.0.0.9", call_id="probe@x",
                                              via=via, to_tag="z", max_forwards=0, contact=None))
    return f.session()


def test_zero_budget_probe_answered_483_is_no_loop_and_no_failed_call():
    session = max_forwards_zero_probe()
    assert not found(session, "route-loop")
    assert not found(session, "call-failed")
    assert [f for f in session.findings if f.severity == "error"] == []


def test_a_probe_from_behind_a_nat_is_no_loop_either():
    """One Via with a private sent-by, sent from another address: still no proxy touched it."""
    assert not found(max_forwards_zero_probe(via="192.168.7.20:5060"), "route-loop")


def test_483_to_a_relayed_request_is_still_a_loop():
    """The same Max-Forwards 0 after a proxy relayed it (two Vias): the budget ran out on the
    way, a routing loop as before."""
    [finding] = found(max_forwards_zero_probe(relayed=True), "route-loop")
    assert finding.severity == "error" and "483 Too Many Hops" in finding.explanation


def test_zero_budget_invite_with_an_offer_is_a_failed_call_not_a_probe():
    session = max_forwards_zero_probe(body=sdp())
    assert not found(session, "route-loop")
    [failed] = found(session, "call-failed")
    assert failed.evidence["status"] == 483


def test_same_request_back_at_the_same_element_with_falling_max_forwards_is_a_loop():
    """Hops that keep the Call-ID but hide their Vias: evidence of circling is the same request
    reaching the same element again with less budget each time."""
    f = Flow()
    for n, hops in enumerate((10, 9, 8)):
        f.add(0.01 * n, "10.0.0.9:5060", "10.0.0.10:5060",
              request("INVITE", "sip:100@pbx", branch=f"z9hG4bK-b2b{n}", via="10.0.0.9:5060",
                      max_forwards=hops, body=sdp()))
    [finding] = found(f.session(), "route-loop")
    assert finding.severity == "error"
    assert "3 times, reaching the same element again, with Max-Forwards 10, 9, 8" in \
        finding.explanation
    assert finding.evidence["max_forwards"] == [10, 9, 8]


def test_serial_branches_reusing_a_to_tag_are_not_confused():
    """Pattern 7: an identical To tag only confuses branches that ring at the same time."""
    f = Flow()
    inv2 = f.add(0.0, P, LISA, branch_invite("lisa", LISA, 2))
    f.add(0.05, LISA, P, ringing(inv2, "b71", f"sip:lisa@{LISA}"))
    f.add(3.0, LISA, P, response(inv2, 480, "Temporarily Unavailable", to_tag="b71", extra=UA))
    inv5 = f.add(3.01, P, MICHELE, branch_invite("michele", MICHELE, 5))
    f.add(3.06, MICHELE, P, ringing(inv5, "b71", f"sip:michele@{MICHELE}"))
    assert not found(f.session(), "fork-identical-to-tag")
    f2 = Flow()
    inv2 = f2.add(0.0, P, LISA, branch_invite("lisa", LISA, 2))
    inv5 = f2.add(0.0001, P, MICHELE, branch_invite("michele", MICHELE, 5))
    f2.add(0.05, LISA, P, ringing(inv2, "b71", f"sip:lisa@{LISA}"))
    f2.add(0.06, MICHELE, P, ringing(inv5, "b71", f"sip:michele@{MICHELE}"))
    assert [x.severity for x in found(f2.session(), "fork-identical-to-tag")] == ["error"]
