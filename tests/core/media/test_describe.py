"""The compact SDP descriptions of the media index (media/calls.py describe): the per-device
template cache must give exactly what the full lenient parser gives, body by body."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipscope.core.media import calls

# SIPp 3.6.1's uac_pcap offer, frame 1 of ../shared/traces/sipp-loopback-200calls.pcap
SIPP_OFFER = (b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
              b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6100 RTP/AVP 8 101\r\n"
              b"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
              b"a=fmtp:101 0-11,16\r\n")
TWO_STREAMS = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=call\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
               b"m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\na=sendonly\r\n"
               b"m=video 4002/2 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n")


def _described(body: bytes) -> calls.Desc:
    return calls.describe.__wrapped__(body)        # past the lru_cache, through the templates


def _variant(body: bytes, origin: bytes, ports: list[bytes]) -> bytes:
    lines = body.split(b"\r\n")
    out, k = [], 0
    for line in lines:
        if line.startswith(b"o="):
            line = b"o=" + origin
        elif line.startswith(b"m=") and k < len(ports):
            kind, port, rest = line.split(b" ", 2)
            line = b" ".join((kind, ports[k] + port.partition(b"/")[1] + port.partition(b"/")[2],
                              rest))
            k += 1
        out.append(line)
    return b"\r\n".join(out)


def test_a_second_body_of_the_same_device_is_filled_from_its_template():
    calls._TEMPLATES.clear()
    first = _described(SIPP_OFFER)
    assert len(calls._TEMPLATES) == 1
    other = _variant(SIPP_OFFER, b"user1 999 7 IN IP4 127.0.0.1", [b"6202"])
    second = _described(other)
    assert len(calls._TEMPLATES) == 1              # same template: no new entry
    assert second == calls._describe_full(other)
    assert second.origin == ("user1", "999", 7, "127.0.0.1")
    assert second.media[0].port == 6202 and first.media[0].port == 6100
    assert second.media[0].formats is first.media[0].formats     # shared, not copied
    assert second.body_hash == hash(other)


def test_an_origin_after_the_media_line_is_not_taken_as_the_origin():
    body = (b"v=0\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
            b"o=late 1 1 IN IP4 1.2.3.4\r\n")
    calls._TEMPLATES.clear()
    for port in (b"5000", b"5002"):
        variant = body.replace(b"5000", port)
        assert _described(variant) == calls._describe_full(variant)
        assert _described(variant).origin is None


@settings(max_examples=300, deadline=None)
@given(template=st.sampled_from([SIPP_OFFER, TWO_STREAMS]),
       origin=st.one_of(
           st.tuples(st.sampled_from(["-", "user1", "+3317"]), st.integers(0, 2**64),
                     st.integers(0, 2**40), st.sampled_from(["1.2.3.4", "::1", ""]))
           .map(lambda t: " ".join(map(str, t)).encode() + b" IN IP4 x"),
           st.text(alphabet=" ab12\t\u00e9", max_size=12).map(lambda t: t.encode())),
       ports=st.lists(st.integers(0, 99999).map(lambda n: str(n).encode()), min_size=2,
                      max_size=2))
def test_template_fill_equals_the_full_parser(template, origin, ports):
    """Any origin text (short, non-ASCII, blank) and any port (0, above 65535) in a seen
    template gives what parse_sdp gives for that body."""
    _described(template)                             # seed the device's template
    variant = _variant(template, origin, ports)
    assert _described(variant) == calls._describe_full(variant)


@settings(max_examples=300, deadline=None)
@given(template=st.sampled_from([SIPP_OFFER, TWO_STREAMS, TWO_STREAMS.replace(b"a=rtpmap:97 ", b"")]),
       origin=st.text(alphabet=" ab12-", max_size=12).map(lambda t: t.encode()),
       ports=st.lists(st.sampled_from([b"0", b"00", b"4000", b"70000"]), min_size=2, max_size=2))
def test_memoised_sdp_syntax_check_equals_the_check(template, origin, ports):
    """syn-header-invalid's SDP check, memoised per template, says what the check says."""
    from sipscope.core.analysis.rules import syntax
    syntax._sdp_problems(template)
    variant = _variant(template, origin, ports)
    assert syntax._sdp_problems(variant) == syntax._check_sdp(variant)
