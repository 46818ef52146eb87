"""FreeSWITCH sofia siptrace, alone and inside a full console log."""

from __future__ import annotations

import calendar
import re

from sipscope.core.sources import freeswitch
from sipscope.core.sources.datagram import ADDR_INFERRED, TIME_NO_DATE, TIME_UNKNOWN

from .text_support import DATA, first_line, read_file_with, read_with

TRACE_422 = DATA / "freeswitch-siptrace-wss-invite-422.txt"
LOG = DATA / "freeswitch-log-wss-jssip-two-calls.txt"


def _stated_sizes(path) -> list[int]:
    return [int(n) for n in re.findall(r"^(?:recv|send) ([0-9]+) bytes", path.read_text(), re.M)]


def test_every_message_has_exactly_the_byte_count_freeswitch_printed():
    for path in (TRACE_422, LOG):
        _, datagrams = read_file_with(freeswitch, path)
        assert [len(d.payload) for d in datagrams] == _stated_sizes(path)


def test_siptrace_alone_has_time_of_day_only():
    report, datagrams = read_file_with(freeswitch, TRACE_422)
    assert [first_line(d) for d in datagrams] == [
        "INVITE sip:350000-screen@10.176.2.43 SIP/2.0", "SIP/2.0 422 Session Interval Too Small",
        "ACK sip:350000-screen@10.176.2.43 SIP/2.0"]
    assert datagrams[0].ts == 17 * 3600 + 50 * 60 + 29.730311
    assert all(d.flags & TIME_NO_DATE and not d.flags & TIME_UNKNOWN for d in datagrams)
    assert sum("no date" in warning for warning in report.warnings) == 1
    assert [(d.src, d.dst, d.transport) for d in datagrams] == [
        ("10.176.2.43:56358", "freeswitch:5060", "WSS"), ("freeswitch:5060", "10.176.2.43:56358", "WSS"),
        ("10.176.2.43:56358", "freeswitch:5060", "WSS")]
    assert len(datagrams[0].payload.split(b"\r\n\r\n", 1)[1]) == 5791     # whole WebRTC SDP


def test_console_log_dates_the_trace_and_leaks_no_log_line():
    report, datagrams = read_file_with(freeswitch, LOG)
    assert len(datagrams) == 8
    assert datagrams[0].ts == calendar.timegm((2022, 2, 2, 17, 3, 10)) + 0.878022
    assert not any(d.flags & (TIME_NO_DATE | TIME_UNKNOWN) for d in datagrams)
    assert all(d.flags & ADDR_INFERRED for d in datagrams)
    assert {d.dst for d in datagrams if first_line(d).startswith(("INVITE", "ACK"))} == {"10.176.2.43:5060"}
    for datagram in datagrams:
        for noise in (b"[DEBUG]", b"Dialplan:", b"Channel-State", b"-----", b"EXECUTE"):
            assert noise not in datagram.payload
    assert datagrams[2].payload.endswith(b"a=end-of-candidates\r\n")   # log line right after it


def test_udp_ipv6_closing_rule_and_tcp():
    text = (
        "2023-01-01 10:00:00.000100 [NOTICE] sofia.c:1 something\n"
        "send 0 bytes to udp/[2001:db8::9]:5080 at 10:00:00.500000:\n"
        + "-" * 72 + "\n"
        "OPTIONS sip:a@[2001:db8::9]:5080 SIP/2.0\n"
        "Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKo1\nCall-ID: o1\nCSeq: 1 OPTIONS\n"
        "Content-Length: 0\n\n" + "-" * 72 + "\n"
        "recv 0 bytes from tcp/[192.0.2.7]:40500 at 10:00:01.000000:\n" + "-" * 72 + "\n"
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKo1\nCall-ID: o1\n"
        "CSeq: 1 OPTIONS\nContent-Length: 0\n\n" + "-" * 72 + "\n")
    report, datagrams = read_with(freeswitch, text)
    assert [(d.src, d.dst, d.transport) for d in datagrams] == [
        ("[2001:db8::1]:5060", "[2001:db8::9]:5080", "UDP"),
        ("192.0.2.7:40500", "[2001:db8::1]:5060", "TCP")]
    assert datagrams[1].ts - datagrams[0].ts == 0.5
    assert datagrams[0].ts == calendar.timegm((2023, 1, 1, 10, 0, 0)) + 0.5
