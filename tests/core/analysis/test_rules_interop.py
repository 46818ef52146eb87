"""Interoperability rules beyond the catalog (rules/interop.py, docs/fault-reference.md) on small
synthetic flows, and on the reviewed real captures that show them (tests/data, ../shared)."""

from __future__ import annotations

import dpkt
from factory import Flow, request, response, sdp

from sipscope.core.model.loader import load_files
from sipscope.core.sip.detect import sip_start

PHONE, PBX, PHONE_B = "10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.3:5060"


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def frames(session, finding):
    return [session.messages[i].frame for i in finding.messages]


# -- txn-from-to-not-copied ----------------------------------------------------------------------

def call_with_responses(resp_from: str | None = None, resp_to: str | None = None,
                        to_tag_200: str = "b1") -> Flow:
    """INVITE/180/200/ACK/BYE/200; the 180 and 200 carry the given From/To URIs."""
    f = Flow()
    inv = f.add(0, PHONE, PBX, request("INVITE", "sip:bob@example.com", body=sdp(),
                                       from_uri="sip:alice@example.com",
                                       to_uri="sip:bob@example.com"))
    rewritten = inv
    if resp_from:
        rewritten = rewritten.replace(b"<sip:alice@example.com>", f"<{resp_from}>".encode())
    if resp_to:
        rewritten = rewritten.replace(b"<sip:bob@example.com>", f"<{resp_to}>".encode())
    f.add(0.1, PBX, PHONE, response(rewritten, 180, "Ringing", to_tag="b1"))
    f.add(1.0, PBX, PHONE, response(rewritten, 200, "OK", to_tag=to_tag_200,
                                    contact="sip:bob@10.0.0.2", body=sdp("10.0.0.2")))
    f.add(1.1, PHONE, PBX, request("ACK", "sip:bob@10.0.0.2", to_tag="b1", cseq=1,
                                   branch="z9hG4bK-ack"))
    bye = f.add(5, PHONE, PBX, request("BYE", "sip:bob@10.0.0.2", to_tag="b1", cseq=2,
                                       branch="z9hG4bK-bye"))
    f.add(5.1, PBX, PHONE, response(bye, 200, "OK"))
    return f


def from_to_rewritten():
    return call_with_responses(resp_from="sip:+1alice@carrier.example",
                               resp_to="sip:bob@other.example").session()


def from_to_copied():
    return call_with_responses().session()


def to_port_dropped():
    f = Flow()
    inv = f.add(0, PHONE, PBX, request("INVITE", "sip:33@10.0.0.2:5060", body=sdp(),
                                       to_uri="sip:33@10.0.0.2:5060"))
    f.add(0.1, PBX, PHONE, response(inv.replace(b"<sip:33@10.0.0.2:5060>", b"<sip:33@10.0.0.2>"),
                                    200, "OK", to_tag="t", contact="sip:33@10.0.0.2",
                                    body=sdp("10.0.0.2")))
    return f.session()


def test_from_to_rewrite_is_one_warning_on_the_changed_responses():
    session = from_to_rewritten()
    [finding] = found(session, "txn-from-to-not-copied")
    assert finding.severity == "warning" and finding.scope == "call"
    assert [session.messages[i].label for i in finding.messages] == ["180 Ringing", "200 OK"]
    assert finding.evidence["makers"] == {PBX: ["180 to INVITE", "200 to INVITE"]}
    assert not finding.evidence["tags_changed"] and finding.evidence["answered"]
    assert "From sip:alice@example.com became sip:+1alice@carrier.example" in finding.explanation
    assert "the dialog still matched and the call was answered" in finding.explanation


def test_only_the_port_differs_is_info():
    [finding] = found(to_port_dropped(), "txn-from-to-not-copied")
    assert finding.severity == "info" and finding.evidence["port_only"]
    assert "Only the port differs" in finding.explanation


def test_escaped_user_equals_unescaped_one():
    """RFC 3261 §19.1.4: %41 and A are the same user; host case does not count."""
    session = call_with_responses(resp_from="sip:%61lice@EXAMPLE.com").session()
    assert not found(session, "txn-from-to-not-copied")


def test_changed_to_tag_is_said():
    f = Flow()
    inv = f.add(0, PHONE, PBX, request("BYE", "sip:bob@10.0.0.2", to_tag="b1"))
    f.add(0.1, PBX, PHONE, response(inv.replace(b";tag=b1", b";tag=zz"), 200, "OK"))
    [finding] = found(f.session(), "txn-from-to-not-copied")
    assert finding.evidence["tags_changed"] and "cannot be matched" in finding.explanation


def test_real_b2bua_leg_a_responses(shared_traces):
    """REVIEWED.md §1: the B2BUA's two reliable 180s (f10, f16: a new RSeq, RFC 3262 §3) and
    its 200 on leg A swap the domains."""
    session = load_files([str(shared_traces / "real" /
                              "udp-sbc-b2bua-100rel-prack-options-483-probe.pcap")])
    calls = [f for f in found(session, "txn-from-to-not-copied") if f.scope == "call"]
    [finding] = calls
    assert frames(session, finding) == [10, 16, 24] and finding.severity == "warning"
    assert finding.call_id == "000d3beb000d3bd-0@10.2.254.197"


def test_real_proxied_call_port_dropped(data_dir):
    """REVIEWED.md §11: pjsua's 200 drops :5060 from the To; Kamailio passes it on."""
    session = load_files([str(data_dir / "udp-loopback-kamailio-proxied-call-two-legs.pcap")])
    [finding] = found(session, "txn-from-to-not-copied")
    assert finding.severity == "info" and 9 in frames(session, finding)
    assert list(finding.evidence["makers"]) == ["127.0.0.1:5068"]
    assert finding.evidence["relays"] == ["127.0.0.1:5060"]


# -- syn-uri-unescaped ---------------------------------------------------------------------------

def hash_in_user(status: int = 200, reason: str = "OK"):
    f = Flow()
    inv = f.add(0, PHONE, PBX, request("INVITE", "sip:7117#+15551234@10.0.0.2;user=phone",
                                       to_uri="sip:7117#+15551234@10.0.0.2", body=sdp()))
    f.add(0.2, PBX, PHONE, response(inv, status, reason, to_tag="x",
                                    contact="sip:a@10.0.0.2", body=sdp("10.0.0.2")
                                    if status == 200 else ""))
    return f.session()


def escaped_hash():
    f = Flow()
    inv = f.add(0, PHONE, PBX, request("INVITE", "sip:7117%23+15551234;npdi@10.0.0.2;user=phone",
                                       to_uri="sip:*97@10.0.0.2", body=sdp()))
    f.add(0.2, PBX, PHONE, response(inv, 200, "OK", to_tag="x", contact="sip:a@10.0.0.2",
                                    body=sdp("10.0.0.2")))
    return f.session()


def test_unescaped_hash_names_fields_and_that_peers_accepted_it():
    [finding] = found(hash_in_user(), "syn-uri-unescaped")
    assert finding.severity == "warning" and finding.messages == [0]
    assert finding.evidence["fields"] == ["Request-URI", "To"]
    assert finding.evidence["characters"] == "#" and finding.evidence["user"] == "7117#+15551234"
    assert "the peers accepted it" in finding.explanation


def test_unescaped_hash_refused_says_it_may_be_why():
    [finding] = found(hash_in_user(400, "Bad Request"), "syn-uri-unescaped")
    assert "the unescaped character may be why" in finding.explanation
    assert "accepted" not in finding.explanation


def test_real_class4_tech_prefix(data_dir):
    """REVIEWED.md §2: `7117#+17862559055` in the ingress INVITE's R-URI and To."""
    session = load_files([str(data_dir / "rawip-class4-b2bua-183-prack-update-two-legs.pcapng")])
    [finding] = found(session, "syn-uri-unescaped")
    assert frames(session, finding) == [1] and finding.evidence["sender"] == "23.167.192.40:5060"
    assert "the peers accepted it" in finding.explanation


# -- dlg-call-id-reused --------------------------------------------------------------------------

def register_then_invite(call_id_invite: str = "same@x", invite_from: str = PHONE):
    f = Flow()
    reg = f.add(0, PHONE, PBX, request("REGISTER", "sip:10.0.0.2", call_id="same@x",
                                       branch="z9hG4bK-r"))
    f.add(0.01, PBX, PHONE, response(reg, 200, "OK", to_tag="r"))
    inv = f.add(1, invite_from, PBX, request("INVITE", "sip:33@10.0.0.2", call_id=call_id_invite,
                                             cseq=2, branch="z9hG4bK-i", body=sdp()))
    f.add(1.1, PBX, invite_from, response(inv, 200, "OK", to_tag="t", contact="sip:33@10.0.0.2",
                                          body=sdp("10.0.0.2")))
    return f.session()


def call_id_reused():
    return register_then_invite()


def call_id_fresh():
    return register_then_invite("fresh@x")


def call_id_collision_other_host():
    return register_then_invite(invite_from=PHONE_B)


def test_call_id_reuse_names_both_cseqs():
    session = call_id_reused()
    [finding] = found(session, "dlg-call-id-reused")
    assert finding.severity == "warning" and finding.messages == [0, 2]
    assert finding.evidence["register_cseq"] == 1 and finding.evidence["cseq"] == 2
    assert "answered 200 OK" in finding.explanation


def test_real_sipp_register_call_id(data_dir):
    """REVIEWED.md §11: SIPp registers and calls with Call-ID 1-670@127.0.0.1."""
    session = load_files([str(data_dir / "udp-loopback-kamailio-proxied-call-two-legs.pcap")])
    [finding] = found(session, "dlg-call-id-reused")
    assert frames(session, finding) == [3, 5] and finding.evidence["sender"] == "127.0.0.1:5061"


# -- nat-rport-without-received ------------------------------------------------------------------

def registration_rport(received: bool, asked: bool = True):
    f = Flow()
    via = "10.0.0.1:5060;rport" if asked else "10.0.0.1:5060"
    reg = f.add(0, PHONE, PBX, request("REGISTER", "sip:10.0.0.2", via=via, call_id="r@x",
                                       branch="z9hG4bK-r1"))
    filled = b";rport=5060;received=10.0.0.1" if received else b";rport=5060"
    answer = reg.replace(b";rport;branch", filled + b";branch") if asked else reg
    f.add(0.01, PBX, PHONE, response(answer, 200, "OK", to_tag="r"))
    return f.session()


def rport_without_received():
    return registration_rport(received=False)


def rport_with_received():
    return registration_rport(received=True)


def no_rport_asked():
    return registration_rport(received=False, asked=False)


def test_rport_without_received_is_per_server():
    session = rport_without_received()
    [finding] = found(session, "nat-rport-without-received")
    assert finding.severity == "warning" and finding.scope == "source"
    assert finding.source == PBX and finding.messages == [1]
    assert finding.evidence["rport"] == ["5060"]
    assert "NAT" not in finding.title + finding.explanation     # no NAT claim (anonymised traps)


def test_real_huawei_registrar(shared_traces):
    """REVIEWED.md §9: the SoftX fills rport=5060 without received in every response."""
    session = load_files([str(shared_traces / "real" /
                              "udp-huawei-softx-register-401-200-hello-keepalive.pcapng")])
    [finding] = found(session, "nat-rport-without-received")
    assert frames(session, finding) == [10, 12, 26, 28]


def test_real_self_options_is_not_judged(data_dir):
    """The Vega's OPTIONS to itself is a self-check, not a client asking a server."""
    session = load_files([str(data_dir / "udp-vega-gateway-t38-reinvite-register-options.pcap")])
    assert not found(session, "nat-rport-without-received")


# -- syn-via-incomplete --------------------------------------------------------------------------

def via_without_sent_by(answered: bool = False, via: str = "SIP/2.0/ ;rport;branch=z9hG4bK-n"):
    f = Flow()
    notify = request("NOTIFY", "sip:a@10.0.0.1", to_tag="t", extra=(("Event", "presence"),))
    notify = notify.replace(b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1",
                            f"Via: {via}".encode())
    f.add(0, PBX, PHONE, notify)
    if answered:
        f.add(0.1, PHONE, PBX, response(notify, 200, "OK"))
    return f.session()


def via_incomplete():
    return via_without_sent_by()


def via_complete():
    return via_without_sent_by(via="SIP/2.0/TCP 10.0.0.2:5060;rport;branch=z9hG4bK-n")


def test_via_without_transport_and_sent_by_is_an_error():
    [finding] = found(via_incomplete(), "syn-via-incomplete")
    assert finding.severity == "error" and finding.evidence["missing"] == "transport and no sent-by"
    assert "No answer to it is in this capture." in finding.explanation


def test_real_asterisk_rls_notify(shared_traces):
    """REVIEWED.md §13: a text log's NOTIFY with `Via: SIP/2.0/ ;rport`."""
    session = load_files([str(shared_traces / "real" /
                              "asterisk-pjsip-rls-notify-11k-multipart-rlmi-pidf.txt")])
    [finding] = found(session, "syn-via-incomplete")
    assert finding.evidence["text_input"] and "text log" in finding.explanation


# -- syn-leading-crlf ----------------------------------------------------------------------------

def _pcap(payloads: list[tuple[int, int, bytes]]) -> bytes:
    """A little pcap of UDP datagrams on 127.0.0.1 (sport, dport, payload)."""
    import io
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out)
    for n, (sport, dport, payload) in enumerate(payloads):
        udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
        udp.ulen = len(udp)
        ip = dpkt.ip.IP(src=bytes([127, 0, 0, 1]), dst=bytes([127, 0, 0, 1]), p=17, data=udp)
        ip.len = len(ip)
        eth = dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6, data=ip)
        writer.writepkt(bytes(eth), ts=1_700_000_000 + n)
    return out.getvalue()


def _ack_flow(prefix: bytes, tmp: str):
    ack = request("ACK", "sip:33@127.0.0.1:5068", to_tag="t", via="127.0.0.1:5061",
                  branch="z9hG4bK-a")
    with open(tmp, "wb") as handle:
        handle.write(_pcap([(5061, 5060, prefix + ack), (5060, 5068, prefix + ack)]))
    return load_files([tmp])


def leading_lf():
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        return _ack_flow(b"\n", f"{folder}/lf.pcap")


def no_leading_lf():
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        return _ack_flow(b"", f"{folder}/plain.pcap")


def test_detection_skips_leading_line_breaks():
    """RFC 3261 §7.5: CR/LF before the start line is skipped (the ACK of REVIEWED.md §12)."""
    assert sip_start(b"\nACK sip:33@127.0.0.1:5068;ob SIP/2.0\r\n") == 1
    assert sip_start(b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n") == 4


def test_leading_lf_is_read_noted_and_reported_once():
    session = leading_lf()
    assert [m.method for m in session.messages] == ["ACK", "ACK"]
    assert all("CR/LF before the start line" in m.note for m in session.messages)
    [finding] = found(session, "syn-leading-crlf")
    assert finding.severity == "warning" and finding.messages == [0, 1]
    assert finding.evidence["relayed_by"] == ["127.0.0.1:5060"]
    assert "accepted it and relayed it" in finding.explanation


def test_real_lf_prefixed_acks(shared_traces):
    """REVIEWED.md §12: f11 and f12 are LF-prefixed ACKs; Kamailio relayed the first."""
    session = load_files([str(shared_traces / "real" /
                              "udp-loopback-kamailio-400-content-length-lf-prefixed-ack.pcap")])
    [finding] = found(session, "syn-leading-crlf")
    assert frames(session, finding) == [11, 12]
    assert not found(session, "tmr-2xx-no-ack")


# -- reg-no-binding-left -------------------------------------------------------------------------

def _register(f: Flow, t: float, call_id: str, cseq: int, contact: str, expires: int,
              bindings: str | None):
    reg = f.add(t, PHONE, PBX, request(
        "REGISTER", "sip:10.0.0.2", call_id=call_id, cseq=cseq, branch=f"z9hG4bK-{call_id}{cseq}",
        from_uri="sip:987@10.0.0.2", to_uri="sip:987@10.0.0.2",
        contact=None,
        extra=(("Contact", f"<{contact}>;expires={expires}"),)))
    extra = (("Contact", bindings),) if bindings else ()
    f.add(t + 0.01, PBX, PHONE, response(reg, 200, "OK", to_tag=f"r{cseq}", extra=extra))


def churn(last_leaves_other: bool = False):
    f = Flow()
    _register(f, 0.0, "a@x", 1, "sip:987@10.0.0.1:48376", 600,
              "<sip:987@10.0.0.1:48376>;expires=600")
    _register(f, 0.1, "a@x", 2, "sip:987@10.0.0.1:48376", 0, None)
    _register(f, 0.2, "b@x", 1, "sip:987@10.0.0.1:43168", 600,
              "<sip:987@10.0.0.1:43168>;expires=600")
    _register(f, 4.2, "b@x", 2, "sip:987@10.0.0.1:43168", 0,
              "<sip:987@10.0.0.9:5060>;expires=300" if last_leaves_other else None)
    return f.session()


def churn_ends_unbound():
    return churn()


def churn_other_binding_stays():
    return churn(last_leaves_other=True)


def test_no_binding_left_counts_the_churn():
    session = churn_ends_unbound()
    [finding] = found(session, "reg-no-binding-left")
    assert finding.severity == "info" and finding.evidence["aor"] == "987@10.0.0.2"
    assert finding.evidence["registrations"] == 2 and finding.evidence["removals"] == 2
    assert finding.evidence["contacts"] == ["sip:987@10.0.0.1:48376", "sip:987@10.0.0.1:43168"]
    assert "calls to 987@10.0.0.2 cannot reach it" in finding.explanation


def test_real_zoiper_churn(data_dir):
    """REVIEWED.md §10: register, unregister, re-register, unregister: no binding at the end."""
    session = load_files([str(data_dir / "tcp-zoiper-register-unregister-churn.pcap")])
    [finding] = found(session, "reg-no-binding-left")
    assert finding.evidence["aor"] == "987654@192.168.43.100"
    assert frames(session, finding)[-2:] == [13, 14]


CASES = [
    ("txn-from-to-not-copied", from_to_rewritten, True),
    ("txn-from-to-not-copied", to_port_dropped, True),
    ("txn-from-to-not-copied", from_to_copied, False),
    ("syn-uri-unescaped", hash_in_user, True),
    ("syn-uri-unescaped", escaped_hash, False),
    ("dlg-call-id-reused", call_id_reused, True),
    ("dlg-call-id-reused", call_id_fresh, False),
    ("dlg-call-id-reused", call_id_collision_other_host, False),
    ("nat-rport-without-received", rport_without_received, True),
    ("nat-rport-without-received", rport_with_received, False),
    ("nat-rport-without-received", no_rport_asked, False),
    ("syn-via-incomplete", via_incomplete, True),
    ("syn-via-incomplete", via_complete, False),
    ("syn-leading-crlf", leading_lf, True),
    ("syn-leading-crlf", no_leading_lf, False),
    ("reg-no-binding-left", churn_ends_unbound, True),
    ("reg-no-binding-left", churn_other_binding_stays, False),
    ("reg-no-binding-left", from_to_copied, False),
]


def test_read_budget_samples_clean_elements_and_follows_faulty_ones():
    from sipscope.core.analysis.rules.interop import ReadBudget
    budget = ReadBudget()
    for _ in range(ReadBudget.PER_ELEMENT):
        assert budget.wanted("a")
        budget.fine("a")
    assert not budget.wanted("a")                       # enough correct answers from a
    budget.total = ReadBudget.ALL_ELEMENTS              # a big capture: sample the others
    read = sum(budget.wanted("b") for _ in range(100))
    assert read == 100 // ReadBudget.SAMPLE and budget.sampled
    budget.at_fault("b")
    assert all(budget.wanted("b") for _ in range(50))   # a faulty element is read to the end


def test_call_id_reuse_on_every_call_is_one_finding_per_sender():
    f = Flow()
    for n in range(3):
        reg = f.add(n, PHONE, PBX, request("REGISTER", "sip:10.0.0.2", call_id=f"{n}-x@test",
                                           branch=f"z9hG4bK-r{n}"))
        f.add(n + 0.01, PBX, PHONE, response(reg, 200, "OK", to_tag="r"))
        inv = f.add(n + 0.5, PHONE, PBX, request("INVITE", "sip:33@10.0.0.2", cseq=2,
                                                 call_id=f"{n}-x@test", branch=f"z9hG4bK-i{n}"))
        f.add(n + 0.6, PBX, PHONE, response(inv, 403, "Forbidden", to_tag="t"))
    [finding] = found(f.session(), "dlg-call-id-reused")
    assert finding.scope == "source" and finding.evidence["call_ids"] == 3
    assert finding.evidence["answered"] == 0 and "3 Call-IDs" in finding.title


def test_a_sampled_capture_says_its_count_is_a_lower_bound(monkeypatch):
    from sipscope.core.analysis.rules.interop import ReadBudget
    monkeypatch.setattr(ReadBudget, "ALL_ELEMENTS", 0)
    monkeypatch.setattr(ReadBudget, "SAMPLE", 1)
    [finding] = found(from_to_rewritten(), "txn-from-to-not-copied")
    assert finding.evidence["sampled"] and finding.evidence["sampled_every"] == 1
    assert "the count is a lower bound" in finding.explanation


def test_user_part_grammar():
    """RFC 3261 §25.1: % must start an escape; user-unreserved characters are fine; tel: is not
    judged; a password after ':' is not the user part."""
    from sipscope.core.analysis.rules.interop import _bad_user
    assert _bad_user("sip:ab%zz@h") == ("ab%zz", "%")
    assert _bad_user("sip:7117#+1555@h;user=phone") == ("7117#+1555", "#")
    assert _bad_user("sip:+1555;npdi;rn=+1666@h;user=phone") is None
    assert _bad_user("sip:a%23b@h") is None and _bad_user("tel:+1-555#1") is None
    assert _bad_user("sip:alice:pa#ss@h") is None
