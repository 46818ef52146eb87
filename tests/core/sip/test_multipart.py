"""Tests for multipart splitting and SDP lookup (sipscope.core.sip.multipart)."""

from __future__ import annotations

import base64

import dpkt
from hypothesis import given, settings
from hypothesis import strategies as st

from sipscope.core.sip.multipart import content_type_param, find_sdp, split_multipart
from sipscope.core.sip.sdp import parse_sdp

SDP = (b"v=0\r\no=- 0 0 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 8\r\n")
ISUP = b"\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00"

# An INVITE body with SDP and SIP-I ISUP (RFC 3204 style), boundary quoted, CRLF line ends.
MIXED = (b"--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + SDP +
         b"\r\n--unique-boundary-1\r\nContent-Type: application/ISUP;version=itu-t92+\r\n"
         b"Content-Disposition: signal;handling=optional\r\n\r\n" + ISUP +
         b"\r\n--unique-boundary-1--\r\n")


def test_split_mixed_sdp_and_isup():
    parts = split_multipart('multipart/mixed; boundary="unique-boundary-1"', MIXED)
    assert len(parts) == 2
    headers, body = parts[0]
    assert headers == [("Content-Type", "application/sdp")] and body == SDP
    headers, body = parts[1]
    assert headers[1] == ("Content-Disposition", "signal;handling=optional")
    assert body == ISUP                     # binary content kept byte for byte
    assert find_sdp("multipart/mixed;boundary=unique-boundary-1", MIXED) == SDP


def test_preamble_epilogue_lf_and_no_header_part():
    body = (b"This is the preamble.\n--b1\n\nplain text part\n--b1\nContent-type: application/SDP\n"
            b"\n" + SDP.replace(b"\r\n", b"\n") + b"\n--b1--\nepilogue\n")
    parts = split_multipart("multipart/mixed; BOUNDARY=b1", body)
    assert [p[1] for p in parts][0] == b"plain text part"
    assert parts[0][0] == []
    found = find_sdp("Multipart/Mixed; boundary=b1", body)
    assert parse_sdp(found).media[0].port == 4000


def test_alternative_nested_and_base64():
    inner = (b"--in\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             + base64.encodebytes(SDP) + b"\r\n--in--")
    outer = (b"--out\r\nContent-Type: text/plain\r\n\r\nhello\r\n--out\r\n"
             b"Content-Type: multipart/alternative; boundary=in\r\n\r\n" + inner + b"\r\n--out--\r\n")
    assert find_sdp("multipart/mixed; boundary=out", outer) == SDP


def test_direct_and_missing_content_type():
    assert find_sdp("application/sdp", SDP) == SDP
    assert find_sdp("APPLICATION/SDP ; charset=utf-8", SDP) == SDP
    assert find_sdp(None, SDP) == SDP
    assert find_sdp(None, b"hello") is None
    assert find_sdp("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n") is None
    assert find_sdp("multipart/mixed", b"no boundary anywhere") is None


def test_boundary_guessed_and_truncated_last_part():
    body = b"--xyz\r\nContent-Type: application/sdp\r\n\r\n" + SDP[:40]
    assert split_multipart("multipart/mixed", body) == [([("Content-Type", "application/sdp")], SDP[:40])]
    assert content_type_param('multipart/mixed;boundary="a\\"b";x=1', "boundary") == 'a"b'
    assert content_type_param("multipart/mixed; x=1", "boundary") is None


def test_sctp_invite_multipart_sdp(shared_traces):
    """The SIP-I INVITE of sctp-sll-invite-403.pcap: multipart/mixed, SDP first, cut short."""
    with (shared_traces / "sctp-sll-invite-403.pcap").open("rb") as handle:
        _, frame = next(iter(dpkt.pcap.Reader(handle)))
    head, _, body = frame[frame.index(b"INVITE "):].partition(b"\r\n\r\n")
    content_type = next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-type:")).decode()
    assert content_type == "multipart/mixed;boundary=8AF759A68474B6758999EB624E30C5271AF8251E"
    sdp = parse_sdp(find_sdp(content_type, body))
    audio = sdp.media[0]
    assert (audio.port, audio.address) == (38060, "10.249.30.145")
    assert audio.codecs() == [(8, "PCMA/8000"), (13, "CN/8000"), (96, "telephone-event/8000")]
    assert audio.bandwidths == [("AS", 80)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.text(max_size=30))
def test_garbage_never_raises(body, boundary):
    split_multipart(f"multipart/mixed; boundary={boundary}", body)
    split_multipart("multipart/mixed", b"--" + body)
    find_sdp(f'multipart/alternative; boundary="{boundary}"', body)
