"""ngrep -W byline text: dated and undated headers, dots for CR, the blog copy of a forked call."""

from __future__ import annotations

import calendar

import pytest

from sipscope.core.sources import ngrep
from sipscope.core.sources.datagram import (ADDR_INFERRED, EXCERPT, MASKED_ADDR, REDACTED,
                                            TIME_NO_DATE, TIME_UNKNOWN)

from .text_support import DATA, call_ids, check_golden, first_line, read_file_with, read_with

BLOG = "blog-grandstream-forked-call.txt"


@pytest.fixture(scope="module")
def blog(request):
    traces = request.getfixturevalue("shared_traces")
    return read_file_with(ngrep, traces / BLOG)


def test_blog_gives_the_twelve_messages_of_the_forked_call(blog):
    report, datagrams = blog
    assert len(datagrams) == 12
    assert call_ids(datagrams) == {b"1330352b536b8d7a74970bcf4df83a4c@jnctn.net"}
    assert [first_line(d).split(" ", 2)[:2] for d in datagrams] == [
        ["INVITE", "sip:lisa@192.168.1.107:5060;transport=udp;aor=lisa%40xxuserdomainxx.onsip.com"],
        ["INVITE", "sip:michele@192.168.1.107:5064;transport=udp;aor=michele%40xxuserdomainxx.onsip.com"],
        ["SIP/2.0", "100"], ["SIP/2.0", "180"], ["SIP/2.0", "180"], ["SIP/2.0", "200"],
        ["CANCEL", "sip:lisa@192.168.1.107:5060;transport=udp;aor=lisa%40xxuserdomainxx.onsip.com"],
        ["SIP/2.0", "200"], ["SIP/2.0", "487"],
        ["ACK", "sip:michele@192.168.1.107:5064;transport=udp;aor=michele%40xxuserdomainxx.onsip.com"],
        ["BYE", "sip:lisa@24.33.2xx.3xx:5060;transport=udp"], ["SIP/2.0", "481"]]
    check_golden("blog-grandstream-forked-call", datagrams)


def test_blog_times_are_the_dated_ngrep_times_in_utc(blog):
    _, datagrams = blog
    midnight = calendar.timegm((2009, 5, 8, 0, 0, 0))
    assert datagrams[0].ts == pytest.approx(midnight + 9 * 3600 + 40 * 60 + 18.325507, abs=1e-6)
    assert datagrams[-1].ts == pytest.approx(midnight + 9 * 3600 + 41 * 60 + 18.480821, abs=1e-6)
    assert [d.ts for d in datagrams] == sorted(d.ts for d in datagrams)
    assert not any(d.flags & (TIME_UNKNOWN | TIME_NO_DATE | ADDR_INFERRED) for d in datagrams)


def test_blog_keeps_masked_addresses_as_written(blog):
    _, datagrams = blog
    assert (datagrams[0].src, datagrams[0].dst) == ("66.227.1xx.2xx:5060", "24.33.2xx.3xx:5060")
    assert (datagrams[1].src, datagrams[1].dst) == ("66.227.1xx.2xx:5060", "24.33.2xx.3xx:5064")
    assert (datagrams[5].src, datagrams[5].dst) == ("24.33.2xx.3xx:5060", "66.227.1xx.2xx:5060")
    assert {d.transport for d in datagrams} == {"UDP"}
    assert all(d.flags & MASKED_ADDR for d in datagrams)


def test_blog_is_flagged_redacted_excerpt_and_warns_once_each(blog):
    report, datagrams = blog
    assert all(d.flags & REDACTED and d.flags & EXCERPT for d in datagrams)
    assert report.excerpt is True
    for word in ("REDACTED", "EXCERPT", "MASKED_ADDR"):
        assert sum(word in warning for warning in report.warnings) == 1


def test_blog_notes_are_the_comments_before_each_message(blog):
    _, datagrams = blog
    assert datagrams[0].note.startswith("mike's blog")
    assert datagrams[0].note.endswith(
        "**Invite to Lisa on Grandstream (GS) - Branch .2. of call ID 133...3a4c**")
    assert datagrams[1].note == "**Invite to Michele on GS - Branch .5. of call ID 133...3a4c**"
    assert datagrams[6].note == '**Sending "CANCEL" to Lisa at the .2. branch**'
    assert datagrams[5].note.startswith("**Status:  At this point")
    assert "**OK from Lisa on Grandstream - NOTE:" in datagrams[5].note
    assert all(d.note for d in datagrams)


def test_blog_payloads_restore_crlf_and_keep_whole_bodies(blog):
    _, datagrams = blog
    invite, ok = datagrams[0].payload, datagrams[5].payload
    assert b"\r\nTo: \r\n" in invite and b'\r\nFrom: "0000000000" ;tag=as2bbf1438\r\n' in invite
    assert invite.split(b"\r\n\r\n", 1)[1].startswith(b"v=0\r\no=root 26678")
    assert invite.endswith(b"a=silenceSupp:off - - - -\r\na=ptime:20\r\n")
    assert len(invite.split(b"\r\n\r\n", 1)[1]) == 381
    assert ok.endswith(b"a=fmtp:101 0-11\r\n") and len(ok.split(b"\r\n\r\n", 1)[1]) == 213
    for datagram in datagrams:
        assert b"\n" not in datagram.payload.replace(b"\r\n", b"")
        assert datagram.payload.count(b"\r\n\r\n") == 1


def test_blog_later_posts_produce_nothing(blog):
    _, datagrams = blog
    assert first_line(datagrams[-1]) == "SIP/2.0 481 No Such Call"
    assert datagrams[-1].payload.endswith(b"Content-Length: 0\r\n\r\n")
    assert not any(b"blahpoly" in d.payload or b"Junction" in d.payload for d in datagrams)


def test_undated_anonymised_ngrep_from_a_readme():
    report, datagrams = read_file_with(ngrep, DATA / "ngrep-kamailio-record-route-call.txt")
    assert [d.ts for d in datagrams] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(d.flags & TIME_UNKNOWN and not d.flags & EXCERPT for d in datagrams)
    assert sum("no times" in warning for warning in report.warnings) == 1
    assert [d.flags & MASKED_ADDR != 0 for d in datagrams] == [True] * 6   # UA_ipaddr etc.
    assert report.excerpt is False
    invite = datagrams[0].payload
    assert b"\r\nCall-ID: M2Y5ZmUxYjhmNDE3NjAxZTAwNjJhM2JhMzcwOGQ3NGM\r\n" in invite
    assert invite.endswith(b"a=sendrecv\r\n")
    # the README lost the "." line that ends the headers of the 100 Trying; it is restored
    assert datagrams[1].payload.endswith(b"Content-Length: 0\r\n\r\n")
    # a 200 OK directly followed by the next header line, with no blank line between
    assert datagrams[4].payload.endswith(b"a=rtpmap:0 PCMU/8000\r\n")
    assert len(datagrams[4].payload.split(b"\r\n\r\n", 1)[1]) == 129


NGREP_TCP = (
    "interface: eth0 (10.0.0.0/255.255.255.0)\n"
    "filter: ( port 5060 ) and (ip or ip6)\n"
    "#\n"
    "T 2021/03/04 23:59:59.500000 10.0.0.1:5060 -> 10.0.0.2:35000 [AP] #7\n"
    "SIP/2.0 100 Trying.\nVia: SIP/2.0/TCP 10.0.0.2:35000;branch=z9hG4bK1.\nCall-ID: a@b.\n"
    "CSeq: 1 INVITE.\nContent-Length: 0.\n.\n"
    "SIP/2.0 180 Ringing.\nVia: SIP/2.0/TCP 10.0.0.2:35000;branch=z9hG4bK1.\nCall-ID: a@b.\n"
    "CSeq: 1 INVITE.\nContent-Length: 0.\n.\n"
    "\n#\n"
    "U 2021/03/05 00:00:01.000000 2001:db8::1:5060 -> 2001:db8::2:5062\n"
    "NOTIFY sip:x@[2001:db8::2]:5062 SIP/2.0.\nVia: SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK2.\n"
    "Call-ID: n@b.\nCSeq: 2 NOTIFY.\nContent-Type: message/sipfrag.\nContent-Length: 16.\n.\n"
    "SIP/2.0 200 OK.\n"
    "\n"
    "U 10.0.0.2:5060 -> 10.0.0.1:5060\n"
    "OPTIONS sip:x@10.0.0.1 SIP/2.0.\nCall-ID: o@b.\nContent-Length: 4.\n.\nab\ncd"
    "\n\n#\n12 received, 0 dropped\n"
)


def test_tcp_packet_with_two_messages_ipv6_sipfrag_and_lf_only_lines():
    report, datagrams = read_with(ngrep, NGREP_TCP)
    assert [first_line(d) for d in datagrams] == [
        "SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "NOTIFY sip:x@[2001:db8::2]:5062 SIP/2.0",
        "OPTIONS sip:x@10.0.0.1 SIP/2.0"]
    assert [d.transport for d in datagrams] == ["TCP", "TCP", "UDP", "UDP"]
    assert [d.frame for d in datagrams] == [5, 11, 20, 30]
    assert datagrams[0].src == "10.0.0.1:5060" and datagrams[1].dst == "10.0.0.2:35000"
    assert (datagrams[2].src, datagrams[2].dst) == ("[2001:db8::1]:5060", "[2001:db8::2]:5062")
    assert datagrams[2].payload.endswith(b"\r\n\r\nSIP/2.0 200 OK\r\n")     # sipfrag body kept
    assert datagrams[3].payload.endswith(b"\r\n\r\nab\ncd")                 # bytes as on the wire
    assert datagrams[0].ts == calendar.timegm((2021, 3, 4, 23, 59, 59)) + 0.5
    assert datagrams[3].flags & TIME_UNKNOWN and not datagrams[0].flags & TIME_UNKNOWN
    assert report.excerpt is False and not any(d.flags & (EXCERPT | MASKED_ADDR) for d in datagrams)


def test_header_with_protocol_letter_is_required_without_a_date():
    text = "see 1.2.3.4:5060 -> 5.6.7.8:5060\nOPTIONS sip:a@b SIP/2.0.\nCall-ID: x.\n.\n"
    _, datagrams = read_with(ngrep, text)
    assert datagrams == []
    assert ngrep.sniff(text.encode()) == 0.0


# -- TCP messages over several segments (ngrep prints one `T` packet per segment) ----------------
# Both texts are real `ngrep -q -t -W byline -I FILE` (ngrep 1.47.1) output of the MIT captures
# beside them in tests/data (see PROVENANCE.md).

def _messages_of(path):
    from sipscope.core.model.loader import load_files
    return load_files([str(path)])


def test_a_register_over_two_segments_is_joined_as_the_capture_reader_joins_it():
    text = _messages_of(DATA / "ngrep-tcp-register-split-across-segments.txt")
    capture = _messages_of(DATA / "tcp-register-split-across-segments.pcap")
    assert [m.label for m in text.messages] == ["REGISTER", "200 OK"]
    assert [m.raw for m in text.messages] == [m.raw for m in capture.messages]
    assert [m.ts for m in text.messages] == [m.ts for m in capture.messages]  # first segment's time
    assert len(text.messages[0].raw) == 585
    # before joining, the first segment alone read as a REGISTER without Content-Length on TCP
    assert [f.id for f in text.findings] == [f.id for f in capture.findings] == []
    assert not text.inputs[0].excerpt      # ngrep's "input:"/"filter:" lines are not prose


def test_a_64k_invite_over_five_segments_is_joined_byte_for_byte():
    text = _messages_of(DATA / "ngrep-tcp-64k-invite-5-segments.txt")
    capture = _messages_of(DATA / "tcp-null-loopback-64k-invite-5-segments.pcap")
    assert [m.label for m in text.messages] == ["INVITE", "100 Trying"]
    assert len(text.messages[0].raw) == 65_793
    assert [m.raw for m in text.messages] == [m.raw for m in capture.messages]
    assert text.messages[0].frame == 5 and text.messages[0].note is None


def test_a_text_that_ends_inside_a_tcp_message_keeps_what_it_has_and_says_so():
    lines = (DATA / "ngrep-tcp-64k-invite-5-segments.txt").read_text().split("\n")
    cut = "\n".join(lines[:lines.index(next(l for l in lines if l.endswith("[A] #7")))])
    report, datagrams = read_with(ngrep, cut)
    whole = _messages_of(DATA / "tcp-null-loopback-64k-invite-5-segments.pcap").messages[0].raw
    assert [first_line(d) for d in datagrams] == ["INVITE sip:bob@target.com SIP/2.0"]
    # the first two of five segments (16,332 bytes each: the MSS), exactly the start of the INVITE
    assert len(datagrams[0].payload) == 2 * 16_332
    assert whole.startswith(datagrams[0].payload)
    assert "truncated" in datagrams[0].note and "Content-Length" in datagrams[0].note


def test_segments_of_the_two_directions_and_keepalives_are_kept_apart():
    text = (
        "T 2021/03/04 10:00:00.000000 10.0.0.1:5060 -> 10.0.0.2:35000 [AP] #1\n"
        "SIP/2.0 180 Ringing.\nCall-ID: a@b.\nCSeq: 1 INV\n\n"
        "T 2021/03/04 10:00:00.100000 10.0.0.2:35000 -> 10.0.0.1:5060 [AP] #2\n"
        "OPTIONS sip:x@10.0.0.1 SIP/2.0.\nCall-ID: o@b.\nCSeq: 7 OPTIONS.\nContent-Length: 0.\n.\n\n"
        "T 2021/03/04 10:00:00.200000 10.0.0.1:5060 -> 10.0.0.2:35000 [AP] #3\n"
        "ITE.\nContent-Length: 2.\n.\nok.\n.\n\n"
        "T 2021/03/04 10:00:00.300000 10.0.0.1:5060 -> 10.0.0.2:35000 [AP] #4\n"
        ".\n.\n\n")
    report, datagrams = read_with(ngrep, text)
    assert [first_line(d) for d in datagrams] == ["SIP/2.0 180 Ringing", "OPTIONS sip:x@10.0.0.1 SIP/2.0"]
    assert datagrams[0].payload == (b"SIP/2.0 180 Ringing\r\nCall-ID: a@b\r\nCSeq: 1 INVITE\r\n"
                                    b"Content-Length: 2\r\n\r\nok")
    assert datagrams[0].frame == 2 and datagrams[1].frame == 7
    assert datagrams[0].ts == calendar.timegm((2021, 3, 4, 10, 0, 0))
    assert not datagrams[0].note and not report.excerpt


def test_packets_of_other_protocols_are_skipped_not_read_as_prose():
    text = (
        "interface: eth0 (10.15.0.0/255.255.0.0)\n\n"
        "? 2021/12/14 13:49:07.345980 10.15.196.229 -> 10.15.194.19 #2\n"
        "E..(..@.?..x\n\n"
        "I 2021/12/14 13:49:07.400000 10.15.196.229 -> 10.15.194.19 3:3 #3\n"
        "..O.E\n\n"
        "U 2021/12/14 13:49:08.000000 10.15.196.229:5060 -> 10.15.194.19:5060 #4\n"
        "OPTIONS sip:x@10.15.194.19 SIP/2.0.\nCall-ID: o@b.\nContent-Length: 0.\n.\n\n")
    report, datagrams = read_with(ngrep, text)
    assert [first_line(d) for d in datagrams] == ["OPTIONS sip:x@10.15.194.19 SIP/2.0"]
    assert report.excerpt is False and datagrams[0].note is None


# The segment boundaries below fall where they fell in `ngrep -q -t -W byline` output of a
# capture made by benchmarks/generate_capture.py (10,000 calls, MSS-sized TCP segments): its
# 84,550 messages read from that text equal the capture's byte for byte.
SPLITS = (
    "T 2024/03/12 14:03:46.224730 10.0.0.10:41105 -> 198.51.100.20:5060 [AP] #12983\n"
    "ACK sip:+33171626227@198.51.100.20:5060;transport=tcp SIP/\n"          # no whole line
    "\n"
    "T 2024/03/12 14:03:46.224835 10.0.0.10:41105 -> 198.51.100.20:5060 [AP] #12984\n"
    "2.0.\n"
    "Via: SIP/2.0/TCP 10.0.0.10:5060;branch=z9hG4bK7c8edfd811d96;rport.\n"
    "Call-ID: d690bee51190c566c5fc.\n"
    "CSeq: \n"                                                  # ends in a space
    "\n"
    "T 2024/03/12 14:03:46.224900 10.0.0.10:41105 -> 198.51.100.20:5060 [AP] #12985\n"
    "1 ACK.\n"
    "Content-Length: 0.\n"                                      # ends in a CR: its LF comes next
    "\n"
    "T 2024/03/12 14:03:46.224950 10.0.0.10:41105 -> 198.51.100.20:5060 [AP] #12986\n"
    "\n"                                                        # the LF of that CR
    ".\n"
    "\n"
    "\n")


def test_segments_split_mid_line_at_a_space_and_inside_a_crlf_are_joined_exactly():
    report, datagrams = read_with(ngrep, SPLITS)
    assert [d.payload for d in datagrams] == [
        b"ACK sip:+33171626227@198.51.100.20:5060;transport=tcp SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 10.0.0.10:5060;branch=z9hG4bK7c8edfd811d96;rport\r\n"
        b"Call-ID: d690bee51190c566c5fc\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"]
    assert datagrams[0].frame == 2 and not report.excerpt


def test_a_dot_at_a_segment_end_stays_a_dot_when_no_lf_follows():
    text = SPLITS.replace("Via: SIP/2.0/TCP 10.0.0.10", "Via: SIP/2.0/TCP 10.0.0.\n\n"
                          "T 2024/03/12 14:03:46.224800 10.0.0.10:41105 -> 198.51.100.20:5060 "
                          "[AP] #12990\n10")
    _, datagrams = read_with(ngrep, text)
    assert b"Via: SIP/2.0/TCP 10.0.0.10:5060;" in datagrams[0].payload


def test_the_frame_padding_of_a_pure_ack_is_no_payload():
    """ngrep prints the 6 padding bytes of a 54-byte ACK as "......": between two segments of
    a message they must not be joined into it (from the SLL capture of heplify, frames 27-28,
    with the REGISTER cut in two here)."""
    text = (
        "T 2017/10/08 03:32:56.362822 172.168.0.252:52795 -> 172.168.0.228:5060 [A] #27\n"
        "......\n\n"
        "T 2017/10/08 03:32:56.371389 172.168.0.252:52795 -> 172.168.0.228:5060 [AP] #28\n"
        "REGISTER sip:172.168.0.228;transport=tcp SIP/2.0.\n"
        "Call-ID: 1c35908a84584771bcc93bd496e0a852.\n"
        "CSeq: 42942 REG\n\n"
        "T 2017/10/08 03:32:56.371390 172.168.0.252:52795 -> 172.168.0.228:5060 [A] #29\n"
        "......\n\n"
        "T 2017/10/08 03:32:56.371391 172.168.0.252:52795 -> 172.168.0.228:5060 [AP] #30\n"
        "ISTER.\nContent-Length:  0.\n.\n\n\n")
    _, datagrams = read_with(ngrep, text)
    assert [d.payload for d in datagrams] == [
        b"REGISTER sip:172.168.0.228;transport=tcp SIP/2.0\r\n"
        b"Call-ID: 1c35908a84584771bcc93bd496e0a852\r\nCSeq: 42942 REGISTER\r\n"
        b"Content-Length:  0\r\n\r\n"]
