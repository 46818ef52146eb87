"""evt-presence-unsupported (docs/fault-reference.md; issue 14 pattern 9): SUBSCRIBE/PUBLISH of an
event package the server does not support, one finding per source and package."""

from __future__ import annotations

from factory import Flow, request, response

PHONE, PBX, PROXY = "172.16.98.145:40216", "172.16.98.101:5060", "172.16.98.9:5060"


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def ask(f: Flow, t: float, method: str, event: str, status: int, reason: str, n: int) -> None:
    message = request(method, "sip:telephone2@172.16.98.101", call_id=f"{method}{event}{n}@x",
                      branch=f"z9hG4bK-{method}{n}{event}", via=PHONE,
                      contact="sip:telephone2@172.16.98.145:40216",
                      extra=(("Event", event), ("Expires", "3600")))
    f.add(t, PHONE, PBX, message)
    f.add(t + 0.001, PBX, PHONE, response(message, status, reason, to_tag=f"t{n}", extra=(
        ("Server", "Asterisk PBX 11.7.0"),) + ((("Allow-Events", "message-summary, dialog"),)
                                              if status == 489 else ())))


def refused_presence():
    f = Flow()
    for n in range(3):
        ask(f, 12.0 * n, "PUBLISH", "presence", 489, "Bad Event", n)
        ask(f, 12.0 * n + 0.1, "SUBSCRIBE", "presence.winfo", 489, "Bad Event", n)
    return f.session()


def supported_presence():
    f = Flow()
    ask(f, 0.0, "SUBSCRIBE", "presence", 489, "Bad Event", 0)   # a refused one ...
    ask(f, 1.0, "SUBSCRIBE", "presence", 202, "Accepted", 1)    # ... then accepted: supported
    ask(f, 2.0, "SUBSCRIBE", "message-summary", 404, "Not found (no mailbox)", 2)
    return f.session()


def test_one_finding_per_source_and_package_with_the_consequence():
    findings = found(refused_presence(), "evt-presence-unsupported")
    by_event = {f.evidence["event"]: f for f in findings}
    assert sorted(by_event) == ["presence", "presence.winfo"]
    publish, winfo = by_event["presence"], by_event["presence.winfo"]
    assert (publish.severity, winfo.severity) == ("info", "warning")
    assert publish.evidence["requests"] == 3 and publish.evidence["codes"] == ["489 Bad Event"]
    assert publish.call_id is None and publish.source == "172.16.98.145"
    assert "others will not see it" in publish.explanation
    assert "the device cannot see who watches its presence" in winfo.explanation
    assert "It lists the packages it does support: message-summary, dialog." in winfo.explanation
    assert "Asterisk PBX 11.7.0" in winfo.explanation
    assert all(f.role != "headline" for f in findings)


def test_an_accepted_subscription_or_another_refusal_is_no_finding():
    assert not found(supported_presence(), "evt-presence-unsupported")


def test_a_subscribe_routed_back_to_its_sender():
    f = Flow()
    sub = request("SUBSCRIBE", "sip:telephone2@example.com", call_id="back@x", via=PHONE,
                  branch="z9hG4bK-s1", extra=(("Event", "dialog"),))
    f.add(0.0, PHONE, PROXY, sub)
    back = sub.replace(b"Via: ", f"Via: SIP/2.0/UDP {PROXY};branch=z9hG4bK-p1\r\nVia: ".encode(), 1)
    f.add(0.001, PROXY, PHONE, back)
    [finding] = found(f.session(), "evt-presence-unsupported")
    assert finding.evidence["routed_back"] == 1 and finding.severity == "warning"
    assert "came back to 172.16.98.145 itself (172.16.98.9:5060 relayed it there" in \
        finding.explanation
    assert "busy-lamp (BLF) keys will not light" in finding.explanation


def test_real_asterisk_capture_489s(shared_traces):
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "udp-b2bua-asterisk-subscribe-publish-489-480.pcapng")])
    findings = found(session, "evt-presence-unsupported")
    assert sorted((f.evidence["event"], f.severity, f.evidence["requests"]) for f in findings) == [
        ("presence", "info", 3), ("presence.winfo", "warning", 3)]
    assert not [f for f in session.findings if f.id.startswith("syn-") and f.severity == "error"]


CASES = [
    ("evt-presence-unsupported", refused_presence, True),
    ("evt-presence-unsupported", supported_presence, False),
]


def test_a_refusal_relayed_by_a_proxy_is_one_finding_of_the_subscriber():
    f = Flow()
    sub = request("SUBSCRIBE", "sip:bob@example.com", call_id="relay@x", via=PHONE,
                  branch="z9hG4bK-s1", extra=(("Event", "dialog"),))
    f.add(0.0, PHONE, PROXY, sub)
    relayed = sub.replace(b"Via: ", f"Via: SIP/2.0/UDP {PROXY};branch=z9hG4bK-p1\r\nVia: ".encode(), 1)
    f.add(0.001, PROXY, PBX, relayed)
    f.add(0.002, PBX, PROXY, response(relayed, 489, "Bad Event", to_tag="x"))
    f.add(0.003, PROXY, PHONE, response(sub, 489, "Bad Event", to_tag="x"))
    [finding] = found(f.session(), "evt-presence-unsupported")
    assert finding.source == "172.16.98.145" and finding.evidence["requests"] == 1
    assert finding.evidence["server"] == PBX        # the refusing element, not the relay
