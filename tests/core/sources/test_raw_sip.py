"""Raw SIP pasted as text: framing by Content-Length, inferred endpoints, order as time."""

from __future__ import annotations

import io

from sipscope.core.sources import raw_sip
from sipscope.core.sources.datagram import ADDR_INFERRED, EXCERPT, TIME_UNKNOWN, InputReport

from .text_support import DATA, first_line, read_file_with, read_with

SAMPLE = DATA / "raw-sip-pjsip-invite-401-loop.txt"


def test_sample_order_addresses_and_one_time_warning():
    report, datagrams = read_file_with(raw_sip, SAMPLE)
    assert [d.ts for d in datagrams] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(d.flags & TIME_UNKNOWN and d.flags & ADDR_INFERRED for d in datagrams)
    assert not any(d.flags & EXCERPT for d in datagrams) and report.excerpt is False
    assert sum("no times" in warning for warning in report.warnings) == 1
    # the 401 answers the INVITE from where the INVITE went (its Request-URI)
    assert (datagrams[0].src, datagrams[0].dst) == ("10.24.16.37:5060", "10.24.20.249:5060")
    assert (datagrams[1].src, datagrams[1].dst) == ("10.24.20.249:5060", "10.24.16.37:5060")


MULTIPART = (
    "INVITE sip:bob@192.0.2.2 SIP/2.0\n"
    "Via: SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bKm1\n"
    "Route: <sip:proxy.example.com;lr>\n"
    "Call-ID: mp@192.0.2.1\nCSeq: 1 INVITE\n"
    "Content-Type: multipart/mixed;boundary=XX\n"
    "Content-Length: 82\n"
    "\n"
    "--XX\n"
    "Content-Type: text/plain\n"
    "\n"
    "hello\n"
    "\n"
    "SIP/2.0 200 OK in a text part\n"
    "--XX--\n"
    "\n"
    "SIP/2.0 100 Trying\n"
    "Via: SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bKm1;received=198.51.100.7;rport=40000\n"
    "Call-ID: mp@192.0.2.1\nCSeq: 1 INVITE\n"
    "l: 0\n"
    "SIP/2.0 180 Ringing\n"
    "Via: SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bKm1;received=198.51.100.7;rport=40000\n"
    "Call-ID: mp@192.0.2.1\nCSeq: 1 INVITE\n"
    "Contact: <sip:bob@192.0.2.2:5062>\n"
    "Content-Type: text/plain\n"
    "\n"
    "no length here\n"
    "\n"
    "Bob's phone rang here, then nothing.\n"
)


def test_content_length_body_with_blank_lines_and_messages_without_blank_between():
    report, datagrams = read_with(raw_sip, MULTIPART)
    assert [first_line(d) for d in datagrams] == [
        "INVITE sip:bob@192.0.2.2 SIP/2.0", "SIP/2.0 100 Trying", "SIP/2.0 180 Ringing"]
    body = datagrams[0].payload.split(b"\r\n\r\n", 1)[1]
    assert len(body) == 82 and body.endswith(b"text part\r\n--XX--\r\n")
    assert datagrams[1].payload.endswith(b"l: 0\r\n\r\n")
    assert datagrams[2].payload.endswith(b"\r\n\r\nno length here\r\n")
    # the next hop of a request is its first Route; responses go to Via received/rport
    assert datagrams[0].dst == "proxy.example.com:5060"
    assert datagrams[0].src == "198.51.100.7:40000"
    assert (datagrams[1].src, datagrams[1].dst) == ("proxy.example.com:5060", "198.51.100.7:40000")
    assert {d.transport for d in datagrams} == {"TCP"}
    assert report.excerpt is True                     # the closing sentence is prose


def test_bytes_that_are_not_utf8_are_kept():
    raw = (b"MESSAGE sip:a@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKx\r\n"
           b"From: \"J\xf6rg\" <sip:j@192.0.2.8>;tag=1\r\nCall-ID: nb\r\nCSeq: 1 MESSAGE\r\n"
           b"Content-Type: text/plain\r\nContent-Length: 6\r\n\r\nM\xfcll\r\n")
    report = InputReport(path="<bytes>")
    datagrams = list(raw_sip.read(io.BytesIO(raw + b"\r\n"), report, 3))
    assert len(datagrams) == 1
    assert datagrams[0].payload == raw
    assert datagrams[0].input_index == 3
    assert datagrams[0].src == "192.0.2.8:5060"


def test_prose_before_messages_becomes_their_note():
    text = ("Ticket 12345, customer pasted this:\n\n"
            "OPTIONS sip:a@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKq\n"
            "Call-ID: q\nCSeq: 7 OPTIONS\nContent-Length: 0\n\n"
            "and the answer was\n\n"
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKq\n"
            "Call-ID: q\nCSeq: 7 OPTIONS\nContent-Length: 0\n\n")
    report, datagrams = read_with(raw_sip, text)
    assert [d.note for d in datagrams] == ["Ticket 12345, customer pasted this:", "and the answer was"]
    assert all(d.flags & EXCERPT for d in datagrams) and report.excerpt
    assert (datagrams[1].src, datagrams[1].dst) == ("192.0.2.1:5060", "192.0.2.2:5060")


def test_sniff_needs_a_start_line():
    assert raw_sip.sniff(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n") == 0.3
    assert raw_sip.sniff(b"Via: SIP/2.0/UDP 1.2.3.4\r\nCall-ID: x\r\n") == 0.0
    assert raw_sip.sniff(b"") == 0.0
