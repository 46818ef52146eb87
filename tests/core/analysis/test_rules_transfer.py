"""xfer-notify-failed (docs/fault-reference.md; issue 14 pattern 9): a transfer whose progress
reports (NOTIFY, message/sipfrag, RFC 3515 §2.4.4-5) are refused or never sent."""

from __future__ import annotations

from core.analysis.test_rules_dialog import A, B, answered_call, in_dialog, tail
from factory import Flow, response


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def notify(cseq: int, status_line: str, refer_cseq: int = 2, event_id: bool = True) -> bytes:
    event = f"refer;id={refer_cseq}" if event_id else "refer"
    message = in_dialog("NOTIFY", cseq, from_callee=True, extra=(
        ("Event", event), ("Subscription-State", "active;expires=60"),
        ("Content-Type", "message/sipfrag;version=2.0")))
    body = f"{status_line}\r\n".encode()
    return message.replace(b"Content-Length: 0\r\n\r\n",
                           f"Content-Length: {len(body)}\r\n\r\n".encode()) + body


def transfer(notifies: list[tuple[str, int]], *, until: float = 60.0, refer_sub: bool = False,
             excerpt: bool = False):
    """A (the transferor) refers B to carol; B answers 202, then sends `notifies`:
    (sipfrag status line, status of A's answer)."""
    f = Flow()
    answered_call(f)
    extra = (("Refer-To", "<sip:carol@example.com>"),) + ((("Refer-Sub", "false"),)
                                                          if refer_sub else ())
    refer = f.add(5.0, A, B, in_dialog("REFER", 2, extra=extra))
    f.add(5.01, B, A, response(refer, 202, "Accepted", extra=(("Refer-Sub", "false"),)
                               if refer_sub else ()))
    for n, (line, status) in enumerate(notifies):
        message = f.add(5.1 + n, B, A, notify(10 + n, line))
        f.add(5.11 + n, A, B, response(message, status, "OK" if status < 300 else "Bad Request"))
    tail(f, until)
    return f.session(excerpt=excerpt)


def refused_reports():
    return transfer([("SIP/2.0 100 Trying", 400), ("SIP/2.0 200 OK", 400)])


def delivered_reports():
    return transfer([("SIP/2.0 100 Trying", 200), ("SIP/2.0 200 OK", 200)])


def no_reports():
    return transfer([])


def test_refused_notifies_name_the_outcome_the_transferor_missed():
    [finding] = found(refused_reports(), "xfer-notify-failed")
    assert finding.severity == "warning" and finding.evidence["case"] == "refused"
    assert finding.evidence["reported"] == ["100 Trying", "200 OK"]
    assert finding.evidence["refused"] == [400, 400]
    text = finding.explanation
    assert "the NOTIFY at 22:13:26.100 reporting '200 OK' was refused by 10.0.0.1:5060 with 400" \
        in text
    assert "the transferor never learns whether the transfer worked" in text


def test_a_later_delivered_report_settles_it():
    session = transfer([("SIP/2.0 100 Trying", 400), ("SIP/2.0 200 OK", 200)])
    assert not found(session, "xfer-notify-failed")
    assert not found(delivered_reports(), "xfer-notify-failed")


def test_no_notify_at_all_after_the_202():
    [finding] = found(no_reports(), "xfer-notify-failed")
    assert finding.severity == "warning" and not finding.inconclusive
    assert finding.evidence["case"] == "never sent" and finding.evidence["notifies"] == 0
    assert "sent no NOTIFY about it in the 55.0 s the capture runs after" in finding.explanation


def test_no_notify_in_a_short_capture_is_undecided_and_says_why():
    [finding] = found(transfer([], until=8.0), "xfer-notify-failed")
    assert finding.inconclusive and finding.severity == "info"
    assert "(undecided)" in finding.title and "failed" not in finding.title.lower()
    assert "the capture ends 3.0 s after the 202, and deciding this needs 32 s" in \
        finding.explanation


def test_refer_sub_false_expects_no_notify():
    assert not found(transfer([], refer_sub=True), "xfer-notify-failed")


CASES = [
    ("xfer-notify-failed", refused_reports, True),
    ("xfer-notify-failed", delivered_reports, False),
]


def test_a_refer_relayed_by_a_proxy_is_judged_once():
    f = Flow()
    answered_call(f)
    proxy = "10.0.0.9:5060"
    refer = in_dialog("REFER", 2, extra=(("Refer-To", "<sip:carol@example.com>"),))
    f.add(5.0, A, proxy, refer)
    relayed = refer.replace(b"z9hG4bK-a2REFER", b"z9hG4bK-p2REFER")
    f.add(5.001, proxy, B, relayed)
    f.add(5.01, B, proxy, response(relayed, 202, "Accepted"))
    f.add(5.011, proxy, A, response(refer, 202, "Accepted"))
    tail(f, 60.0)
    [finding] = found(f.session(), "xfer-notify-failed")
    assert finding.evidence["transferor"] == A and finding.evidence["case"] == "never sent"
