"""Message-syntax rules (catalog §12) on hand-made messages."""

from __future__ import annotations

from factory import Flow, request, response, sdp, sip

from sipscope.core.sources.datagram import REDACTED

A, B = "10.0.0.1:5060", "10.0.0.2:5060"
CALLEE = "sip:bob@10.0.0.2"


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def base_headers(method="INVITE", cseq="1 INVITE"):
    return [("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1"), ("Max-Forwards", "70"),
            ("From", "<sip:alice@example.com>;tag=ftag"), ("To", "<sip:bob@example.com>"),
            ("Call-ID", "call-1@test"), ("CSeq", cseq), ("Contact", "<sip:alice@10.0.0.1>")]


def padded_sdp(size: int) -> str:
    """A valid SDP body of exactly `size` bytes (padded with an a=x-pad line)."""
    text = ("v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
            "m=audio 4000 RTP/AVP 0\r\n")
    text += "a=x-pad:" + "p" * (size - len(text) - len("a=x-pad:") - 2) + "\r\n"
    assert len(text.encode()) == size
    return text


# -- 12.1 syn-content-length-mismatch ------------------------------------------------------------

def short_body(flags: int = 0):
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    body = padded_sdp(380)
    ok = response(inv, 200, "OK", to_tag="X", contact=CALLEE, body=body)
    ok = ok.replace(f"Content-Length: {len(body)}".encode(), b"Content-Length: 449")
    f.add(0.1, B, A, ok, flags=flags)
    return f.session()


def spaced_length():
    f = Flow()
    body = padded_sdp(129)
    inv = sip(f"INVITE {CALLEE} SIP/2.0", base_headers() + [("Content-Type", "application/sdp"),
                                                           ("Content-Length", "  129")], body)
    assert b"Content-Length:   129" in inv
    f.add(0, A, B, inv)
    return f.session()


def test_short_body_is_an_error_with_both_counts():
    [finding] = found(short_body(), "syn-content-length-mismatch")
    assert finding.severity == "error"
    assert finding.messages == [1]
    assert "is 449 bytes, but 380 bytes arrived" in finding.explanation
    assert "RFC 3261 §18.3 has the receiver discard such a response" in finding.explanation
    assert "application/sdp" in finding.explanation


def test_redacted_text_messages_are_not_judged():
    assert not found(short_body(flags=REDACTED), "syn-content-length-mismatch")


def test_extra_bytes_are_a_warning_but_a_trailing_crlf_is_not():
    f = Flow()
    body = padded_sdp(200)
    for t, length, call_id in ((0, "150", "cut@test"), (1, "198", "crlf@test")):
        headers = [h if h[0] != "Call-ID" else ("Call-ID", call_id) for h in base_headers()]
        f.add(t, A, B, sip(f"INVITE {CALLEE} SIP/2.0", headers + [
            ("Content-Type", "application/sdp"), ("Content-Length", length)], body))
    [finding] = found(f.session(), "syn-content-length-mismatch")
    assert finding.severity == "warning" and finding.messages == [0]
    assert "a receiver discards the last 50 bytes" in finding.explanation


def test_missing_length_on_tcp_and_body_without_type():
    f = Flow()
    headers = base_headers()
    f.add(0, A, B, sip(f"INVITE {CALLEE} SIP/2.0", headers + [("Content-Length", "12")],
                       b"hello world\n"), transport="TCP")
    raw = ("\r\n".join([f"OPTIONS {CALLEE} SIP/2.0"] + [f"{n}: {v}" for n, v in headers])
           + "\r\n\r\n").encode()
    f.add(1, A, B, raw.replace(b"call-1@test", b"call-2@test"), transport="TCP")
    kinds = sorted(x.evidence["kind"] for x in found(f.session(), "syn-content-length-mismatch"))
    assert kinds == ["body without Content-Type", "missing on TCP"]


# -- 12.2 syn-header-invalid ---------------------------------------------------------------------

def cseq_register_on_invite():
    f = Flow()
    f.add(0, A, B, sip(f"INVITE {CALLEE} SIP/2.0", base_headers(cseq="1 REGISTER")))
    return f.session()


def ok_without_contact():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.1, B, A, response(inv, 200, "OK", to_tag="X", body=sdp("10.0.0.2")))
    return f.session()


def compact_invite():
    f = Flow()
    body = sdp()
    f.add(0, A, B, sip(f"INVITE {CALLEE} SIP/2.0", [
        ("v", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-c"), ("Max-Forwards", "70"),
        ("f", "<sip:alice@example.com>;tag=ftag"), ("t", "<sip:bob@example.com>"),
        ("i", "compact@test"), ("CSeq", "1 INVITE"), ("m", "<sip:alice@10.0.0.1>"),
        ("c", "application/sdp"), ("l", str(len(body)))], body))
    return f.session()


def test_cseq_method_mismatch_is_an_error():
    [finding] = found(cseq_register_on_invite(), "syn-header-invalid")
    assert finding.severity == "error" and finding.messages == [0]
    assert "it is an INVITE but its CSeq says 1 REGISTER" in finding.explanation


def test_2xx_without_contact_is_an_error():
    [finding] = found(ok_without_contact(), "syn-header-invalid")
    assert finding.evidence["kind"] == "2xx without Contact" and finding.messages == [1]


def test_missing_headers_and_conflicting_duplicates():
    f = Flow()
    headers = [h for h in base_headers() if h[0] not in ("To", "Max-Forwards")]
    f.add(0, A, B, sip(f"INVITE {CALLEE} SIP/2.0", headers))
    headers = base_headers("OPTIONS", "2 OPTIONS") + [("Call-ID", "another@test")]
    f.add(1, A, B, sip(f"OPTIONS {CALLEE} SIP/2.0", headers))
    by_kind = {x.evidence["kind"]: x for x in found(f.session(), "syn-header-invalid")}
    assert by_kind["missing To"].severity == "error"
    assert by_kind["missing Max-Forwards"].severity == "warning"
    assert by_kind["two Call-ID"].severity == "error"
    assert "call-1@test | another@test" in by_kind["two Call-ID"].explanation


def test_broken_sdp_and_old_branch():
    f = Flow()
    body = "v=0\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 97\r\n"
    f.add(0, A, B, request("INVITE", CALLEE, branch="1234abcd", body=body))
    by_kind = {x.evidence["kind"]: x for x in found(f.session(), "syn-header-invalid")}
    detail = by_kind["broken SDP"].explanation
    assert "no o= line" in detail and "without any c= address" in detail
    assert "dynamic payload type 97 without a=rtpmap" in detail
    assert by_kind["RFC 2543 branch"].severity == "info"
    assert by_kind["RFC 2543 branch"].scope == "source"


CASES = [
    ("syn-content-length-mismatch", short_body, True),
    ("syn-content-length-mismatch", spaced_length, False),
    ("syn-header-invalid", cseq_register_on_invite, True),
    ("syn-header-invalid", ok_without_contact, True),
    ("syn-header-invalid", compact_invite, False),
]


def test_rejected_stream_needs_no_rtpmap_or_address():
    """RFC 3264 §6: the formats of a port-0 stream are ignored (SEMS answers m=video 0 ... 119)."""
    f = Flow()
    body = sdp("10.0.0.2", codecs="8 101") + "m=video 0 RTP/AVP 119\r\n"
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.1, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE, body=body))
    assert not found(f.session(), "syn-header-invalid")


def test_to_tag_inside_brackets_and_register_answer_without_tag():
    f = Flow()
    bye = f.add(0, A, B, request("BYE", CALLEE, cseq=2, branch="z9hG4bK-bye",
                                 to_uri="sip:bob@example.com;tag=inside"))
    f.add(0.1, B, A, response(bye, 200, "OK"))
    reg = f.add(1, A, B, request("REGISTER", "sip:example.com", call_id="reg@test",
                                 branch="z9hG4bK-reg", to_uri="sip:alice@example.com"))
    f.add(1.1, B, A, response(reg, 200, "OK", contact="sip:alice@10.0.0.1"))
    tags = [x for x in found(f.session(), "syn-header-invalid") if x.evidence["kind"] == "no To tag"]
    assert [x.severity for x in tags] == ["warning", "warning"]
    assert "inside the <...> brackets" in tags[0].explanation


def test_lf_only_body_counted_as_crlf_is_explained():
    f = Flow()
    body = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"
    declared = len(body) + body.count("\n")
    f.add(0, A, B, sip(f"INVITE {CALLEE} SIP/2.0", base_headers() + [
        ("Content-Type", "application/sdp"), ("Content-Length", str(declared))], body.encode()))
    [finding] = found(f.session(), "syn-content-length-mismatch")
    assert "counted CRLF line ends but sent LF" in finding.explanation


def test_real_trace_body_without_content_type(shared_traces):
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "ipv6-udp-basic-call.pcap")])
    [finding] = found(session, "syn-content-length-mismatch")
    assert finding.evidence["kind"] == "body without Content-Type" and finding.messages == [2]
    # the caller went on to ACK it: the text says so instead of a template rejection
    assert finding.evidence["outcome"] == "accepted"
    assert "Its receiver carried on here (it sent an ACK next)" in finding.explanation
    assert "415" not in finding.explanation
    # the file's timestamps are years apart: no timer or delay finding, and the tech is told why
    assert not {f.id for f in session.findings} & {"tmr-2xx-no-ack", "call-post-dial-delay"}
    assert any("implausible" in w for w in session.inputs[0].warnings)


# -- issue 14 patterns 1, 5, 8: consequences from the capture, one defect once --------------------

P = "10.0.0.9:5060"          # a proxy between A and B
A_VIA = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a"


def relayed_presence(method: str, call_id: str, t: float, f: Flow, capture_first_hop=True):
    """A -> P -> B, B answers 200 without a To tag, P relays it back (RFC 3261 §16.6, §16.7)."""
    first = request(method, "sip:bob@example.com", call_id=call_id, branch="z9hG4bK-a",
                    contact="sip:alice@10.0.0.1", extra=(("Event", "presence"),))
    second = request(method, "sip:bob@10.0.0.2", call_id=call_id, branch="z9hG4bK-p", via=P,
                     extra_vias=(A_VIA,), contact="sip:alice@10.0.0.1",
                     extra=(("Event", "presence"),))
    if capture_first_hop:
        f.add(t, A, P, first)
    f.add(t + 0.01, P, B, second)
    f.add(t + 0.02, B, P, response(second, 200, "OK", extra=(("Server", "PresenceServer 1.0"),)))
    f.add(t + 0.03, P, A, response(first, 200, "OK", extra=(("Server", "PresenceServer 1.0"),)))


def test_a_missing_to_tag_relayed_by_a_proxy_is_one_finding_on_its_maker():
    f = Flow()
    relayed_presence("SUBSCRIBE", "sub@test", 0, f)
    relayed_presence("PUBLISH", "pub@test", 1, f)
    tags = [x for x in found(f.session(), "syn-header-invalid") if x.evidence["kind"] == "no To tag"]
    assert len(tags) == 2                                   # one per defect, not one per hop
    assert {x.severity for x in tags} == {"warning"}        # one severity for one defect
    sub = tags[0]
    assert sub.messages == [2, 3] and sub.evidence["made_by"] == B
    assert sub.evidence["relayed_by"] == [P] and sub.evidence["relayed_copies"] == 1
    assert sub.explanation.startswith(f"This 200 OK from {B} (PresenceServer 1.0) is missing")
    assert f"relayed unchanged by {P}" in sub.explanation


def test_a_defect_seen_only_after_the_relay_is_blamed_on_the_bottom_via():
    f = Flow()
    second = request("MESSAGE", "sip:bob@10.0.0.2", call_id="m@test", branch="z9hG4bK-p", via=P,
                     extra_vias=(A_VIA,), contact=None, extra=(("User-Agent", "Alice 2.0"),))
    f.add(0, P, B, second.replace(b"Max-Forwards: 70\r\n", b""))
    [finding] = [x for x in found(f.session(), "syn-header-invalid")
                 if x.evidence["kind"] == "missing Max-Forwards"]
    assert finding.evidence["made_by"] == "10.0.0.1:5060"
    assert "the element whose Via is at the bottom of the stack (10.0.0.1:5060, Alice 2.0), " \
           f"relayed here by {P}" in finding.explanation


def _no_max_forwards(method: str, answer: int | None, excerpt: bool = False):
    f = Flow()
    req = request(method, CALLEE, to_tag="X" if method == "ACK" else None, contact=None)
    req = f.add(0, A, B, req.replace(b"Max-Forwards: 70\r\n", b""))
    if answer is not None:
        f.add(0.05, B, A, response(req, answer, "OK" if answer == 200 else "Bad Request",
                                   to_tag="X"))
    return [x for x in found(f.session(excerpt=excerpt), "syn-header-invalid")
            if x.evidence["kind"] == "missing Max-Forwards"]


def test_missing_max_forwards_answered_200_says_the_receiver_accepted_it():
    [finding] = _no_max_forwards("OPTIONS", 200)
    assert finding.severity == "warning" and finding.evidence["outcome"] == "accepted"
    assert "Yet the receiver accepted it here (200 OK)" in finding.explanation
    assert "rejects such a message" not in finding.explanation
    [rejected] = _no_max_forwards("OPTIONS", 400)
    assert "The receiver rejected it (400 Bad Request)." in rejected.explanation
    [silent] = _no_max_forwards("OPTIONS", None)
    assert silent.evidence["outcome"] == "unanswered"


def test_missing_max_forwards_on_an_ack_or_in_an_excerpt_is_info():
    [ack] = _no_max_forwards("ACK", None)
    assert ack.severity == "info" and "on an ACK this is harmless" in ack.explanation
    assert "faulty" not in ack.explanation
    [excerpt] = _no_max_forwards("OPTIONS", 200, excerpt=True)
    assert excerpt.severity == "info"


def test_length_of_an_excerpt_body_is_not_judged():
    f = Flow()
    body = padded_sdp(200)
    f.add(0, A, B, sip(f"INVITE {CALLEE} SIP/2.0", base_headers() + [
        ("Content-Type", "application/sdp"), ("Content-Length", "150")], body))
    assert found(f.session(), "syn-content-length-mismatch")
    assert not found(f.session(excerpt=True), "syn-content-length-mismatch")


def test_a_stray_crlf_is_harmless_unless_the_receiver_refused_the_request():
    def flow(status):
        f = Flow()
        reg = request("REGISTER", "sip:example.com", contact="sip:alice@10.0.0.1") + b"\r\n"
        f.add(0, A, B, reg)
        f.add(0.01, B, A, response(reg, status, "Content-Length mis-match" if status == 400
                                   else "OK", to_tag="R"))
        return found(f.session(), "syn-content-length-mismatch")
    assert not flow(200)
    [finding] = flow(400)
    # a warning: the rejection itself is the error of another rule (reg-failed)
    assert finding.severity == "warning" and finding.evidence["outcome"] == "rejected"
    assert "The receiver rejected it (400 Content-Length mis-match)." in finding.explanation
    assert "SIP ALG" not in finding.explanation


def test_real_text_excerpt_notify_is_judged_as_a_copy(shared_traces):
    """REVIEWED.md file 13: a documentation copy (LF text) proves no wire-level Content-Length
    mismatch; its missing Max-Forwards is at most info (its broken Via is rules/interop.py's)."""
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "real" /
                              "asterisk-pjsip-rls-notify-11k-multipart-rlmi-pidf.txt")])
    assert not found(session, "syn-content-length-mismatch")
    by_kind = {x.evidence["kind"]: x for x in found(session, "syn-header-invalid")}
    assert by_kind["missing Max-Forwards"].severity == "info"


def test_max_forwards_in_a_response_and_a_warning_without_agent_are_info():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp(), max_forwards=0))
    f.add(0.01, B, A, response(inv, 483, "Too Many Hops", to_tag="X", extra=(
        ("Max-Forwards", "70"), ("Warning", '399  "Max-Forwards zero"'))))
    by_kind = {x.evidence["kind"]: x for x in found(f.session(), "syn-header-invalid")}
    assert by_kind["Max-Forwards in a response"].severity == "info"
    assert by_kind["Warning header grammar"].severity == "info"
    assert by_kind["Warning header grammar"].messages == [1]


def test_a_well_formed_warning_is_quiet():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.01, B, A, response(inv, 488, "Not Acceptable Here", to_tag="X", extra=(
        ("Warning", '305 10.0.0.2 "Incompatible media format"'),)))
    assert not found(f.session(), "syn-header-invalid")


def test_max_forwards_above_70_from_its_originator_is_info():
    f = Flow()
    f.add(0, A, B, request("OPTIONS", CALLEE, contact=None, max_forwards=100))
    f.add(1, A, B, request("OPTIONS", CALLEE, call_id="two@test", contact=None))
    [finding] = [x for x in found(f.session(), "syn-header-invalid")
                 if x.evidence["kind"] == "Max-Forwards above 70"]
    assert finding.severity == "info" and finding.messages == [0]
    assert "starts with Max-Forwards 100" in finding.explanation


def test_a_replay_from_another_port_is_not_a_relayed_copy():
    """Reviewed file 12: the same REGISTER (same Vias) sent again from a new source port is the
    sender's own second message, not a proxy's relayed copy."""
    f = Flow()
    reg = request("REGISTER", "sip:example.com", contact=None).replace(b"Max-Forwards: 70\r\n",
                                                                     b"")
    f.add(0, "10.0.0.1:60713", B, reg)
    f.add(3, "10.0.0.1:36699", B, reg)
    groups = [x for x in found(f.session(), "syn-header-invalid")
              if x.evidence["kind"] == "missing Max-Forwards"]
    assert [x.evidence["relayed_copies"] for x in groups] == [0, 0]
    assert all("relayed" not in x.explanation for x in groups)


def test_a_relays_own_top_via_defect_is_its_own_without_the_relayed_user_agent():
    """udp-call-info-dtmf-cancel: SER relays an ACK with its own RFC 2543 branch (branch=0) on
    top: the defect is the relay's (its own Via), not the phone's, and the phone's User-Agent
    is not the relay's."""
    f = Flow()
    ack = request("ACK", "sip:bob@10.0.0.2", to_tag="X", via=P, branch="0",
                  extra_vias=(A_VIA,), contact=None, extra=(("User-Agent", "Phone 1.0"),))
    f.add(0, P, B, ack)
    [finding] = [x for x in found(f.session(), "syn-header-invalid")
                 if x.evidence["kind"] == "RFC 2543 branch"]
    assert finding.evidence["made_by"] == P and finding.evidence["user_agent"] == ""
    assert finding.explanation.startswith(f"This ACK from {P} uses a Via branch")


def test_a_length_error_between_two_programs_on_one_host_blames_no_middlebox(shared_traces):
    """Tier-2 review (reviewed file 12, a 127.0.0.1 lab): no 'SIP ALG, SBC or PBX' to blame."""
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "real" /
                              "udp-loopback-kamailio-400-content-length-lf-prefixed-ack.pcap")])
    texts = [f.explanation for f in session.findings if f.id == "syn-content-length-mismatch"]
    assert texts and not any("SIP ALG" in t or "border controller" in t for t in texts)
