"""Registration and authentication rules (catalog §10) on synthetic flows and real traces."""

from __future__ import annotations

from core.analysis.test_rules_security import digest, register
from factory import Flow, response

from sipscope.core.model.loader import load_files

PHONE = "203.0.113.7:40211"
STRONG = "q7#Vx9!mZp2$Lr8wK4tB"


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


# -- 10.1 auth-challenge-loop --------------------------------------------------------------------

def rejected_twice():
    f = Flow()
    register(f, 0.0, PHONE, "101", cseq=1, status=401, reason="Unauthorized", call_id="r@x")
    register(f, 0.2, PHONE, "101", cseq=2, status=401, reason="Unauthorized", call_id="r@x",
             auth=digest("101", "wrong", "n1101"))
    register(f, 0.4, PHONE, "101", cseq=3, status=401, reason="Unauthorized", call_id="r@x",
             auth=digest("101", "wrong", "n2101"))
    return f.session()


def accepted_after_challenge(expires: int = 3600):
    f = Flow()
    register(f, 0.0, PHONE, "101", cseq=1, status=401, reason="Unauthorized", call_id="r@x")
    register(f, 0.2, PHONE, "101", cseq=2, call_id="r@x", auth=digest("101", STRONG, "n1101"),
             expires=expires)
    return f.session()


def forbidden_after_challenge():
    f = Flow()
    register(f, 0.0, PHONE, "101", cseq=1, status=401, reason="Unauthorized", call_id="r@x")
    register(f, 0.2, PHONE, "101", cseq=2, status=403, reason="Forbidden", call_id="r@x",
             auth=digest("101", "wrong", "n1101"))
    return f.session()


def test_rejected_credentials_name_the_device_and_count():
    [finding] = found(rejected_twice(), "auth-challenge-loop")
    assert finding.severity == "error" and finding.evidence["cases"] == ["a"]
    assert finding.evidence["username"] == ["101"]
    assert finding.evidence["realm_sent"] == finding.evidence["realm_asked"] == ["pbx.example.com"]
    assert "Yealink SIP-T46S" in finding.explanation and "(2 times in 0 s" in finding.explanation
    assert finding.messages == [0, 1, 2, 3, 4, 5]


def test_forbidden_is_reported_by_both_rules():
    session = forbidden_after_challenge()
    [loop] = found(session, "auth-challenge-loop")
    assert loop.evidence["cases"] == ["b"] and "then 'Forbidden'" in loop.explanation
    [failed] = found(session, "reg-failed")
    assert failed.severity == "error" and failed.evidence["status"] == 403
    assert "101@pbx.example.com at 203.0.113.7:40211 is not registered" in failed.explanation


def test_retry_with_the_same_cseq_is_a_warning():
    f = Flow()
    register(f, 0.0, PHONE, "101", cseq=1, status=401, reason="Unauthorized", call_id="c@x")
    register(f, 0.2, PHONE, "101", cseq=1, call_id="c@x", branch="z9hG4bK-other",
             auth=digest("101", STRONG, "n1101"))
    [finding] = found(f.session(), "auth-challenge-loop")
    assert finding.severity == "warning" and finding.evidence["cases"] == ["c"]


def test_challenge_never_answered_is_info_once_the_wait_is_covered():
    f = Flow()
    register(f, 0.0, PHONE, "101", status=401, reason="Unauthorized")
    register(f, 10.0, "203.0.113.8:5060", "102")                 # capture goes on
    [finding] = found(f.session(), "auth-challenge-loop")
    assert finding.severity == "info" and finding.evidence["cases"] == ["e"]


# -- 10.2 reg-failed -----------------------------------------------------------------------------

def short_expiry():
    f = Flow()
    req = register(f, 0.0, PHONE, "101", expires=3600, answer=False)
    f.add(0.02, "198.51.100.1:5060", PHONE, response(
        req, 200, "OK", to_tag="t", extra=(("Contact", f"<sip:101@{PHONE}>;expires=30"),)))
    return f.session()


def test_short_expiry_is_a_warning():
    [finding] = found(short_expiry(), "reg-failed")
    assert finding.severity == "warning" and finding.evidence["granted"] == 30
    assert finding.evidence["requested"] == 3600


def test_binding_not_refreshed_is_a_warning_when_the_capture_covers_it():
    f = Flow()
    register(f, 0.0, PHONE, "101", expires=120)
    register(f, 300.0, "203.0.113.8:5060", "102")
    [finding] = found(f.session(), "reg-failed")
    assert finding.evidence["case"] == "c" and "went offline" in finding.explanation


def test_timeout_needs_the_whole_timer_f_window():
    f = Flow()
    register(f, 0.0, PHONE, "101", answer=False)
    [finding] = found(f.session(), "reg-failed")
    assert finding.inconclusive and finding.severity == "info"
    # undecided: the title claims no failure and the text says why it cannot tell
    assert "failed" not in finding.title and finding.title.endswith("(undecided)")
    assert "is not registered" not in finding.explanation
    assert "Undecided: the capture ends" in finding.explanation


CASES = [
    ("auth-challenge-loop", rejected_twice, True),
    ("auth-challenge-loop", accepted_after_challenge, False),
    ("reg-failed", forbidden_after_challenge, True),
    ("reg-failed", short_expiry, True),
    ("reg-failed", accepted_after_challenge, False),
]


# -- real traces ---------------------------------------------------------------------------------

def test_register_401_403(shared_traces):
    session = load_files([str(shared_traces / "udp-register-401-403-auth-failure.pcapng")])
    loops = found(session, "auth-challenge-loop")
    assert sorted(f.evidence["method"] for f in loops) == ["REGISTER", "SUBSCRIBE"]
    assert all(f.evidence["cases"] == ["b"] and f.severity == "error" for f in loops)
    [failed] = found(session, "reg-failed")
    assert failed.evidence["aor"] == "telephone1@172.16.98.101"
    assert failed.evidence["status"] == 403


def test_mixed_traffic_registrations(shared_traces):
    name = "udp-register-401-407-403-cancel-408-480-mixed-traffic.pcap"
    session = load_files([str(shared_traces / name)])
    [failed] = found(session, "reg-failed")
    assert failed.evidence["aor"] == "voi18063@sip.cybercity.dk" and failed.evidence["status"] == 401
    loops = found(session, "auth-challenge-loop")
    # voi18062's last REGISTER (msg 46) carries credentials: no "never sent" finding for it
    assert sorted((f.evidence["method"], f.severity) for f in loops) == [
        ("INVITE", "error"), ("INVITE", "error"), ("REGISTER", "error")]
    assert "did answer the challenge with credentials (user 'voi18063')" in failed.explanation
    assert "did not answer the password challenge" not in failed.explanation


# -- reg-stale-binding (docs/fault-reference.md; issue 14 pattern 9) -------------------------------

def registered_with_bindings(listed: list[str], expires_default: int = 3600):
    """The phone (now on port 40211) registers; the 200 lists `listed` Contacts."""
    from factory import request
    f = Flow()
    req = f.add(0.0, PHONE, "198.51.100.1:5060", request(
        "REGISTER", "sip:pbx.example.com", call_id="reg@x", branch="z9hG4bK-r1", via=PHONE,
        from_uri="sip:101@pbx.example.com", to_uri="sip:101@pbx.example.com",
        contact=f"sip:101@{PHONE}", extra=(("Expires", "3600"), ("User-Agent", "Yealink T46"))))
    contacts = [("Contact", f"<{uri}>;expires={expires}") for uri, expires in listed]
    f.add(0.02, "198.51.100.1:5060", PHONE, response(req, 200, "OK", to_tag="r",
                                                      extra=tuple(contacts)))
    return f.session()


def stale_port_binding():
    return registered_with_bindings([(f"sip:101@{PHONE}", 3600),
                                     ("sip:101@203.0.113.7:38127", 2950)])


def second_phone_binding():
    return registered_with_bindings([(f"sip:101@{PHONE}", 3600),
                                     ("sip:101@198.51.100.77:5060", 2950),
                                     ("sip:101@203.0.113.7:38127", 0)])


def test_old_port_of_the_same_phone_is_a_stale_binding():
    [finding] = found(stale_port_binding(), "reg-stale-binding")
    assert finding.severity == "warning" and finding.messages == [0, 1]
    assert finding.evidence["stale"] == [{
        "contact": "sip:101@203.0.113.7:38127", "expires": 2950,
        "why": "the same user and host as the new Contact, from an earlier port or transport "
               "(38127 instead of 40211)"}]
    text = finding.explanation
    assert "lists, besides the Contact it registered, 1 older binding of the same device that " \
           "is still valid: sip:101@203.0.113.7:38127 (still valid for 2950 s" in text
    assert "A proxy that rings every binding of 101@pbx.example.com" in text


def test_another_device_or_an_expired_binding_is_no_stale_binding():
    assert not found(second_phone_binding(), "reg-stale-binding")


CASES += [
    ("reg-stale-binding", stale_port_binding, True),
    ("reg-stale-binding", second_phone_binding, False),
]


def test_a_contact_the_device_registered_earlier_or_its_instance_is_stale():
    from factory import request
    f = Flow()
    old = f.add(0.0, PHONE, "198.51.100.1:5060", request(
        "REGISTER", "sip:pbx.example.com", call_id="reg-a@x", branch="z9hG4bK-a1", via=PHONE,
        from_uri="sip:101@pbx.example.com", to_uri="sip:101@pbx.example.com",
        contact="sip:101@10.8.0.5:5060", extra=(("Expires", "3600"),)))
    f.add(0.02, "198.51.100.1:5060", PHONE, response(old, 200, "OK", to_tag="a", extra=(
        ("Contact", "<sip:101@10.8.0.5:5060>;expires=3600"),)))
    new = f.add(100.0, PHONE, "198.51.100.1:5060", request(
        "REGISTER", "sip:pbx.example.com", call_id="reg-b@x", branch="z9hG4bK-b1", via=PHONE,
        from_uri="sip:101@pbx.example.com", to_uri="sip:101@pbx.example.com",
        contact=f"sip:101@{PHONE}", extra=(("Expires", "3600"),)))
    f.add(100.02, "198.51.100.1:5060", PHONE, response(new, 200, "OK", to_tag="b", extra=(
        ("Contact", f"<sip:101@{PHONE}>;expires=3600"),
        ("Contact", "<sip:101@10.8.0.5:5060>;expires=3500"))))
    [finding] = found(f.session(), "reg-stale-binding")
    assert finding.evidence["stale"][0]["why"] == \
        "a Contact this device registered earlier in this capture"


def test_a_registration_that_timed_out_is_decided_even_if_the_retry_is_cut_off():
    """REVIEWED.md §5: the first REGISTER transaction ran its whole Timer F window unanswered;
    the retry near the capture's end does not make the failure undecided, and the failed
    registration is the consequence of the timeout (one defect, one headline)."""
    from factory import request
    f = Flow()
    for n, start in ((1, 0.0), (2, 40.0)):
        reg = request("REGISTER", "sip:pbx.example.com", call_id="reg@x", cseq=n,
                      branch=f"z9hG4bK-t{n}", via=PHONE, from_uri="sip:101@pbx.example.com",
                      to_uri="sip:101@pbx.example.com", contact=f"sip:101@{PHONE}",
                      extra=(("Expires", "60"),))
        for t in (0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5):
            if start + t <= 50.0:
                f.add(start + t, PHONE, "198.51.100.1:5060", reg)
    session = f.session()
    [failed] = found(session, "reg-failed")
    assert failed.severity == "error" and not failed.inconclusive
    assert failed.title.endswith("failed (no answer)")
    timeouts = [x for x in found(session, "tmr-non-invite-timeout") if x.role == "headline"]
    assert timeouts and timeouts[0].key in failed.consequence_of and failed.role == "consequence"
