"""Our lenient SIP parser: case and order kept, compact forms, folding, bad bytes, Content-Length."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sipscope.core.sip.message import parse_message
from sipscope.core.sip.summary import summarize

COMPACT = (b"INVITE sip:bob@example.com SIP/2.0\r\n"
           b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"
           b"VIA: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKup, SIP/2.0/TCP 10.0.0.8;branch=z9hG4bKup2\r\n"
           b"f: \"Al\xe9, Bob\" <sip:alice@example.com>;tag=1928301774\r\n"
           b"t: <sip:bob@example.com>\r\n"
           b"i: a84b4c76e66710@pc33.example.com\r\n"
           b"CSeq: 314159 INVITE\r\n"
           b"Subject: a long\r\n  folded subject\r\n"
           b"m: <sip:alice@10.0.0.1>\r\n"
           b"c: application/sdp\r\n"
           b"l: 4\r\n\r\nv=0\r\nEXTRA")


def test_compact_forms_order_case_folding_and_body():
    message = parse_message(COMPACT)
    assert message.method == "INVITE" and message.request_uri == "sip:bob@example.com"
    assert [h.name for h in message.headers][:3] == ["v", "VIA", "f"]   # as written, in order
    assert message.call_id == "a84b4c76e66710@pc33.example.com"
    assert message.cseq == (314159, "INVITE")
    assert [v.branch for v in message.vias] == ["z9hG4bK776asdhds", "z9hG4bKup", "z9hG4bKup2"]
    assert message.from_.tag == "1928301774"
    assert "\ufffd" in message.from_.display          # latin-1 byte kept, shown with replacement
    assert message.get("Subject") == "a long folded subject"
    assert message.body == b"v=0\r"[:4] or message.body == b"v=0\r"
    assert any("after the body" in w for w in message.warnings)
    assert message.raw == COMPACT                    # raw bytes kept untouched


def test_lf_only_response_and_summary_agree():
    raw = (b"SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:a@b>;tag=ft\n"
           b"To: <sip:c@d>;tag=tt\nCall-ID: abc\nCSeq: 7 INVITE\nContent-Length: 0\n\n")
    message, summary = parse_message(raw), summarize(raw)
    assert (message.status, message.reason) == (180, "Ringing")
    assert (summary.status, summary.call_id, summary.cseq_num, summary.branch,
            summary.from_tag, summary.to_tag) == (180, "abc", 7, "z9hG4bKx", "ft", "tt")


def test_junk_before_start_line_is_skipped_with_a_warning():
    raw = b"\x00\x01junk\r\nREGISTER sip:x SIP/2.0\r\nCall-ID: j\r\nCSeq: 1 REGISTER\r\n\r\n"
    message = parse_message(raw)
    assert message.method == "REGISTER" and message.leading_junk == 8
    assert summarize(raw).call_id == "j"


def test_short_body_is_a_warning_not_an_error():
    raw = b"SIP/2.0 200 OK\r\nContent-Length: 100\r\n\r\nv=0\r\n"
    message = parse_message(raw)
    assert message.body == b"v=0\r\n"
    assert any("only 5 are present" in w for w in message.warnings)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_parser_never_raises_on_arbitrary_bytes(data):
    parse_message(data)
    summarize(data)
    parse_message(b"INVITE sip:x SIP/2.0\r\n" + data)
    summarize(b"SIP/2.0 200 OK\r\n" + data)


def test_summary_hints_for_the_security_rules():
    """The summary pass marks User-Agent/From lines that may name a scanner (any case, compact
    `f:` too) and Authorization headers, so the rules need not read every request back."""
    from sipscope.core.sip.summary import HAS_CREDENTIALS, MAY_NAME_TOOL, SESSION_TIMER
    base = ("REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\n"
            "{from}\r\nTo: <sip:100@pbx>\r\nCall-ID: h\r\nCSeq: 1 REGISTER\r\n{extra}"
            "Content-Length: 0\r\n\r\n")
    plain = base.format(**{"from": "From: <sip:100@pbx>;tag=1", "extra": ""})
    assert summarize(plain.encode()).hints == 0
    ua = base.format(**{"from": "From: <sip:100@pbx>;tag=1",
                        "extra": "User-Agent: Friendly-Scanner\r\n"})
    assert summarize(ua.encode()).hints == MAY_NAME_TOOL
    svmap = base.format(**{"from": "f: \"sipvicious\"<sip:100@1.1.1.1>;tag=1", "extra": ""})
    assert summarize(svmap.encode()).hints == MAY_NAME_TOOL
    creds = base.format(**{"from": "From: <sip:100@pbx>;tag=1",
                           "extra": "Proxy-Authorization: Digest username=\"100\"\r\n"})
    assert summarize(creds.encode()).hints == HAS_CREDENTIALS
    timer = base.format(**{"from": "From: <sip:100@pbx>;tag=1", "extra": "x: 1800;refresher=uac\r\n"})
    assert summarize(timer.encode()).hints == SESSION_TIMER
    minse = base.format(**{"from": "From: <sip:100@pbx>;tag=1", "extra": "Min-SE: 90\r\n"})
    assert summarize(minse.encode()).hints == SESSION_TIMER
    # a tool name elsewhere (here the Request-URI host) is not a User-Agent or From line
    elsewhere = plain.replace("sip:pbx SIP", "sip:nmap.example SIP")
    assert summarize(elsewhere.encode()).hints == 0


def test_the_tool_test_holds_every_literal():
    from sipscope.core.sip.summary import TOOL_LITERALS, _names_tool
    for literal in TOOL_LITERALS:
        assert _names_tool(b"x " + literal.upper() + b" y"), literal
    assert not _names_tool(b"Yealink SIP-T46S 66.86.0.15")
