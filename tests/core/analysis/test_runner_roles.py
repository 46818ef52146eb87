"""Roles and consequence links of the runner (catalog §13; issue 14 pattern 6): security findings
are never a headline, and an error is never 'a consequence of' an info finding."""

from __future__ import annotations


from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.runner import link_consequences


def finding(key: str, rule_id: str, severity: str, t: float, call_id: str | None = "c1",
            source: str | None = None) -> Finding:
    return Finding(id=rule_id, severity=severity, title=rule_id, explanation="", key=key, time=t,
                   call_id=call_id, source=source)


def test_security_findings_are_never_a_headline():
    """A cracked password (error) beside a call's own warning, and a source-scoped scan."""
    weak = finding("F1", "sec-weak-digest-password", "error", 1.0, call_id=None, source="10.0.0.5")
    brute = finding("F2", "sec-password-bruteforce", "error", 2.0, call_id=None, source="10.0.0.6")
    on_call = finding("F3", "sec-weak-digest-password", "error", 3.0, call_id="c1")
    failed = finding("F4", "call-failed", "warning", 4.0)
    link_consequences([weak, brute, on_call, failed])
    assert [weak.role, brute.role, on_call.role] == ["separate"] * 3
    assert failed.role == "separate"         # a warning alone is no headline either (§13.3)


def test_security_chain_still_links_per_source():
    scan = finding("F1", "sec-scanner-user-agent", "warning", 1.0, call_id=None, source="10.0.0.5")
    brute = finding("F2", "sec-password-bruteforce", "error", 2.0, call_id=None, source="10.0.0.5")
    link_consequences([scan, brute])
    assert brute.consequence_of == ["F1"] and brute.role == "consequence"
    assert scan.role == "separate"


def test_a_non_security_source_error_may_still_head_its_section():
    lone = finding("F1", "reg-failed", "error", 1.0, call_id=None, source="10.0.0.5")
    link_consequences([lone])
    assert lone.role == "headline"


def test_an_error_is_never_the_consequence_of_an_info_finding():
    """fork-same-device is info when the device handled the copies (§5.3): it explains nothing,
    so fork-identical-to-tag stays the headline."""
    cause = finding("F1", "fork-same-device", "info", 1.0)
    effect = finding("F2", "fork-identical-to-tag", "error", 2.0)
    link_consequences([cause, effect])
    assert effect.consequence_of == [] and effect.role == "headline"
    assert cause.role == "separate"


def test_a_warning_may_still_cause_an_error():
    """§14.1: fork-same-device (warning) contributes to the fork errors."""
    cause = finding("F1", "fork-same-device", "warning", 1.0)
    effect = finding("F2", "fork-identical-to-tag", "error", 2.0)
    headline = finding("F3", "fork-response-wrong-endpoint", "error", 3.0)
    after = finding("F4", "txn-final-after-2xx", "error", 4.0)
    link_consequences([cause, effect, headline, after])
    assert effect.consequence_of == ["F1"]
    assert (cause.role, effect.role, headline.role, after.role) == (
        "contributing", "contributing", "headline", "consequence")


def test_real_weak_password_capture_has_no_headline_from_security(shared_traces):
    """The captures where a weak-password finding used to head the report."""
    from sipscope.core.model.loader import load_files
    for name in ("asterisk-chansip-sip-debug-subscribe-401-notify.txt",
                 "ipv4-fragmented-udp-register-subscribe-invite.pcap",
                 "scanner-mass-traffic-4xx-5xx-6xx.pcap"):
        session = load_files([str(shared_traces / name)])
        security = [f for f in session.findings if f.id.startswith("sec-")]
        assert security, name                          # still reported ...
        assert all(f.role != "headline" for f in security), name     # ... never as a headline


def test_a_call_an_attacking_source_started_has_no_headline():
    """A scanner's INVITE that times out is attack traffic: no headline for that call, while the
    same failure from an ordinary phone keeps its headline."""
    from factory import Flow, request

    def invite_timing_out(ua: str):
        f = Flow()
        src = "192.0.2.66:5070"
        inv = request("INVITE", "sip:100@203.0.113.5", via=src, extra=(("User-Agent", ua),))
        for t in (0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5):
            f.add(t, src, "203.0.113.5:5060", inv)
        tail = request("OPTIONS", "sip:203.0.113.9", call_id="tail@x", branch="z9hG4bK-t",
                       via="203.0.113.8:5060")
        f.add(70.0, "203.0.113.8:5060", "203.0.113.9:5060", tail)
        return f.session()

    scanned = invite_timing_out("friendly-scanner")
    assert any(f.id == "sec-scanner-user-agent" for f in scanned.findings)
    timeout = [f for f in scanned.findings if f.id == "tmr-invite-timeout"]
    assert timeout and all(f.role in ("separate", "consequence") for f in timeout)
    assert not [f for f in scanned.findings if f.role == "headline"]
    phone = invite_timing_out("Yealink SIP-T46S 66.86.0.15")
    assert [f.id for f in phone.findings if f.role == "headline"] == ["tmr-invite-timeout"]


def test_a_test_tool_is_no_attacker():
    """An info security finding (a test tool on loopback, §11.1) does not take the headline
    away from the calls of that source."""
    note = finding("F1", "sec-scanner-user-agent", "info", 1.0, call_id=None, source="127.0.0.1")
    failed = finding("F2", "reg-failed", "error", 2.0, call_id="c1")

    class OneCall:
        def call(self, call_id):
            class Call:
                messages = [type("M", (), {"src": "127.0.0.1:5061"})()]
            return Call()

    link_consequences([note, failed], OneCall())
    assert failed.role == "headline"
    attack = finding("F1", "sec-scanner-user-agent", "warning", 1.0, call_id=None, source="127.0.0.1")
    failed.role = "separate"
    link_consequences([attack, failed], OneCall())
    assert failed.role == "separate"


def test_a_finding_shown_to_cause_nothing_explains_nothing():
    """A Via/source mismatch with no answer at all (reviewed file 5) is not the cause of the
    timeout: the rule says so (evidence "explains": False) and the timeout stays the headline."""
    mismatch = finding("F1", "nat-private-contact", "warning", 1.0)
    mismatch.evidence["explains"] = False
    timeout = finding("F2", "tmr-non-invite-timeout", "error", 2.0)
    link_consequences([mismatch, timeout])
    assert timeout.consequence_of == [] and timeout.role == "headline"
    linked = finding("F1", "nat-private-contact", "warning", 1.0)
    other = finding("F2", "tmr-non-invite-timeout", "error", 2.0)
    link_consequences([linked, other])
    assert other.consequence_of == ["F1"]
