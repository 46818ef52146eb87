"""SIPp error log (messages quoted inside log lines) and message log."""

from __future__ import annotations

import calendar
import re
from collections import Counter

from sipscope.core.sources import sipp_log
from sipscope.core.sources.datagram import ADDR_INFERRED, TIME_UNKNOWN

from .text_support import DATA, first_line, read_file_with, read_with

ERRORS = DATA / "sipp-uas-error-log-unexpected-messages.log"


def test_error_log_messages_are_the_quoted_bytes_exactly():
    report, datagrams = read_file_with(sipp_log, ERRORS)
    quoted = re.findall(rb"received '(.*?)'\.\n", ERRORS.read_bytes(), re.S)
    assert len(quoted) == 45
    assert [d.payload for d in datagrams] == quoted
    assert Counter(first_line(d).split()[0] for d in datagrams) == {"BYE": 40, "ACK": 5}


def test_error_log_times_come_from_the_epoch_column():
    _, datagrams = read_file_with(sipp_log, ERRORS)
    assert datagrams[0].ts == 1585898769.113089
    assert datagrams[-1].ts == 1585899144.911787
    assert not any(d.flags & TIME_UNKNOWN for d in datagrams)


def test_error_log_names_both_ends_from_the_messages():
    report, datagrams = read_file_with(sipp_log, ERRORS)
    assert {(d.src, d.dst, d.transport) for d in datagrams} == {("127.0.0.1:5002", "127.0.0.1:5088", "UDP")}
    assert all(d.flags & ADDR_INFERRED for d in datagrams)


MESSAGE_LOG = """\
----------------------------------------------- 2020-04-03 12:00:00.250000
UDP message sent (120 bytes):

INVITE sip:service@192.0.2.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.50:5061;branch=z9hG4bK-1
Call-ID: 1-123@192.0.2.50
CSeq: 1 INVITE
Contact: sip:sipp@192.0.2.50:5061
Content-Length: 0


----------------------------------------------- 2020-04-03 12:00:00.260000
UDP message received [300] bytes :

SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 192.0.2.50:5061;branch=z9hG4bK-1
Call-ID: 1-123@192.0.2.50
CSeq: 1 INVITE
Contact: <sip:service@192.0.2.1:5060>
Content-Type: application/sdp
Content-Length: 10

v=0
s=-

2020-04-03\t12:00:01.000000\t1585915201.000000: Discarding message which can't be mapped to a known SIPp call:
SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.50:5061;branch=z9hG4bK-9
Call-ID: stray@192.0.2.50
CSeq: 1 BYE
Content-Length: 0

"""


def test_message_log_and_discarded_message():
    report, datagrams = read_with(sipp_log, MESSAGE_LOG)
    assert [first_line(d) for d in datagrams] == [
        "INVITE sip:service@192.0.2.1:5060 SIP/2.0", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK"]
    assert [(d.src, d.dst) for d in datagrams] == [
        ("192.0.2.50:5061", "192.0.2.1:5060"), ("192.0.2.1:5060", "192.0.2.50:5061"),
        ("192.0.2.1:5060", "192.0.2.50:5061")]
    base = calendar.timegm((2020, 4, 3, 12, 0, 0))
    assert [d.ts for d in datagrams] == [base + 0.25, base + 0.26, 1585915201.0]
    assert datagrams[1].payload.endswith(b"\r\n\r\nv=0\r\ns=-\r\n")
    assert sipp_log.sniff(MESSAGE_LOG.encode()) == 0.9
