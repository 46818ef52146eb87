"""Asterisk chan_sip `sip set debug` and res_pjsip `pjsip set logger` text."""

from __future__ import annotations

import calendar

import pytest

from sipscope.core.sources import asterisk
from sipscope.core.sources.datagram import ADDR_INFERRED, TIME_NO_DATE, TIME_UNKNOWN

from .text_support import DATA, first_line, read_file_with, read_with

CHANSIP = DATA / "asterisk-chansip-sip-debug-subscribe-401-notify.txt"
PJSIP = DATA / "asterisk-pjsip-logger-invite-401-loop.txt"


def test_chansip_names_asterisk_from_the_via_and_contact_it_sends():
    report, datagrams = read_file_with(asterisk, CHANSIP)
    assert [(d.src, d.dst) for d in datagrams] == [
        ("10.24.17.254:37509", "10.24.18.124:5060"), ("10.24.18.124:5060", "10.24.17.254:37509"),
        ("10.24.17.254:37509", "10.24.18.124:5060"), ("10.24.18.124:5060", "10.24.17.254:37509"),
        ("10.24.18.124:5060", "10.24.17.254:37509"), ("10.24.17.254:37509", "10.24.18.124:5060")]
    assert all(d.flags & ADDR_INFERRED and d.flags & TIME_UNKNOWN for d in datagrams)
    assert any("named it 10.24.18.124:5060" in warning for warning in report.warnings)
    assert [d.frame for d in datagrams] == [2, 28, 44, 71, 88, 121]


def test_chansip_debug_lines_and_closing_markers_stay_out_of_messages():
    _, datagrams = read_file_with(asterisk, CHANSIP)
    for datagram in datagrams:
        for noise in (b"<---", b"<-----", b"Scheduling destruction", b"headers 0 lines",
                      b"set_destination", b"Reliably", b"\r\n---"):
            assert noise not in datagram.payload
        assert datagram.payload.count(b"\r\n\r\n") == 1


def test_chansip_notify_body_keeps_its_lf_endings_to_match_content_length():
    _, datagrams = read_file_with(asterisk, CHANSIP)
    notify = datagrams[4].payload
    assert first_line(datagrams[4]).startswith("NOTIFY ")
    body = notify.split(b"\r\n\r\n", 1)[1]
    assert len(body) == 530                           # Content-Length: 530
    assert body.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n')
    assert body.endswith(b"</tuple>\n</presence>\n")


def test_pjsip_uses_a_placeholder_when_nothing_names_asterisk():
    report, datagrams = read_file_with(asterisk, PJSIP)
    assert [first_line(d).split()[0] for d in datagrams] == ["INVITE", "SIP/2.0", "ACK"] * 2
    assert [(d.src, d.dst) for d in datagrams] == [
        ("10.24.16.37:5060", "asterisk:5060"), ("asterisk:5060", "10.24.16.37:5060"),
        ("10.24.16.37:5060", "asterisk:5060")] * 2
    assert {d.transport for d in datagrams} == {"UDP"}
    assert any("shown as asterisk:5060" in warning for warning in report.warnings)
    invite = datagrams[3].payload
    assert invite.endswith(b"a=fmtp:96 0-15\r\n") and len(invite.split(b"\r\n\r\n")[1]) == 430


LOG = """\
[2014-10-14 23:59:58.250] VERBOSE[2730][C-00000002] chan_sip.c:
<--- SIP read from TCP:192.0.2.10:40000 --->
INVITE sip:100@192.0.2.1:5060;transport=tcp SIP/2.0
Via: SIP/2.0/TCP 192.0.2.10:40000;branch=z9hG4bKaa
Call-ID: abc@192.0.2.10
CSeq: 1 INVITE
Content-Length: 0

<------------->
[2014-10-15 00:00:01] VERBOSE[2730][C-00000002] chan_sip.c:
<--- Transmitting (NAT) to 192.0.2.10:40000 --->
SIP/2.0 100 Trying
Via: SIP/2.0/TCP 192.0.2.10:40000;branch=z9hG4bKaa;received=192.0.2.10
Call-ID: abc@192.0.2.10
CSeq: 1 INVITE
Contact: <sip:100@192.0.2.1:5060;transport=tcp>
Content-Length: 0

<------------>
*CLI> Retransmitting #1 (NAT) to 192.0.2.10:40000:
SIP/2.0 100 Trying
Via: SIP/2.0/TCP 192.0.2.10:40000;branch=z9hG4bKaa;received=192.0.2.10
Call-ID: abc@192.0.2.10
CSeq: 1 INVITE
Content-Length: 0

---
"""


def test_timestamps_prefixes_tcp_and_retransmissions():
    report, datagrams = read_with(asterisk, LOG)
    assert [first_line(d) for d in datagrams] == [
        "INVITE sip:100@192.0.2.1:5060;transport=tcp SIP/2.0", "SIP/2.0 100 Trying", "SIP/2.0 100 Trying"]
    assert [d.transport for d in datagrams] == ["TCP", "TCP", "TCP"]
    assert [(d.src, d.dst) for d in datagrams] == [
        ("192.0.2.10:40000", "192.0.2.1:5060"), ("192.0.2.1:5060", "192.0.2.10:40000"),
        ("192.0.2.1:5060", "192.0.2.10:40000")]
    first = calendar.timegm((2014, 10, 14, 23, 59, 58)) + 0.25
    assert [d.ts for d in datagrams] == [first, first + 2.75, first + 2.75]
    assert not any(d.flags & (TIME_UNKNOWN | TIME_NO_DATE) for d in datagrams)


def test_times_without_a_year_count_from_midnight_and_cross_it():
    text = LOG.replace("[2014-10-14 23:59:58.250]", "[Oct 14 23:59:58]").replace(
        "[2014-10-15 00:00:01]", "[Oct 15 00:00:01]")
    report, datagrams = read_with(asterisk, text)
    assert [d.ts for d in datagrams] == [86398.0, 86401.0, 86401.0]
    assert all(d.flags & TIME_NO_DATE for d in datagrams)
    assert sum("no date" in warning for warning in report.warnings) == 1


def test_pjsip_ipv6_and_tls_marker():
    text = ("<--- Transmitting SIP request (200 bytes) to TLS:[2001:db8::5]:5061 --->\n"
            "OPTIONS sip:[2001:db8::5]:5061;transport=tls SIP/2.0\n"
            "Via: SIP/2.0/TLS [2001:db8::1]:5061;rport;branch=z9hG4bKPj1\n"
            "Call-ID: opt-1\nCSeq: 1 OPTIONS\nContent-Length:  0\n\n")
    report, datagrams = read_with(asterisk, text)
    assert [(d.src, d.dst, d.transport) for d in datagrams] == [
        ("[2001:db8::1]:5061", "[2001:db8::5]:5061", "TLS")]


@pytest.mark.parametrize("marker", [
    "<--- SIP read from UDP:1.2.3.4:5060 --->",
    "<--- Transmitting (no NAT) to 1.2.3.4:5060 --->",
    "<--- Reliably Transmitting (NAT) to 1.2.3.4:5060 --->",
    "Reliably Transmitting (no NAT) to 1.2.3.4:5060:",
    "<--- Received SIP response (300 bytes) from WSS:1.2.3.4:8089 --->",
])
def test_every_marker_form_sniffs_high(marker):
    text = f"{marker}\nSIP/2.0 200 OK\nCall-ID: x\nContent-Length: 0\n\n"
    assert asterisk.sniff(text.encode()) == 0.9
    assert len(read_with(asterisk, text)[1]) == 1
