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
    assert "discarded by the receiver" in finding.explanation
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
    assert "the last 50 bytes are discarded" in finding.explanation


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
    assert "415 Unsupported Media Type" in finding.explanation
    # the file's timestamps are years apart: no timer or delay finding, and the tech is told why
    assert not {f.id for f in session.findings} & {"tmr-2xx-no-ack", "call-post-dial-delay"}
    assert any("implausible" in w for w in session.inputs[0].warnings)
