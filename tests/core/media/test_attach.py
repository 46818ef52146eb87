"""Tests for the D10 attach rule (sipscope.core.media.attach)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from sipscope.core.media.attach import (CALLEE_TO_CALLER, CALLER_TO_CALLEE, MediaEndpoints,
                                        attach_streams, match_streams, split_addr)
from sipscope.core.media.streams import MediaCollector
from sipscope.core.sip.multipart import find_sdp
from sipscope.core.sip.sdp import parse_sdp

from .pcap_udp import udp_payloads


@dataclass
class Flow:
    src: str
    dst: str
    first_ts: float = 0.0
    last_ts: float = 10.0


def _header(head: bytes, name: bytes) -> str | None:
    match = re.search(rb"(?im)^" + name + rb"\s*:\s*(.*?)\r?$", head)
    return match.group(1).decode() if match else None


def dialogs_and_media(path):
    """Per Call-ID: offer/answer media address, SIP source IPs, INVITE and BYE times."""
    collector = MediaCollector()
    calls: dict[str, dict] = {}
    for ts, src, dst, payload in udp_payloads(path, skip_sip=False):
        if not payload.startswith((b"INVITE ", b"SIP/2.0 ", b"BYE ", b"ACK ")):
            collector.add(ts, src, dst, payload)
            continue
        head, _, body = payload.partition(b"\r\n\r\n")
        call = calls.setdefault(_header(head, b"Call-ID"), {})
        sdp_bytes = find_sdp(_header(head, b"Content-Type"), body) if body else None
        media = parse_sdp(sdp_bytes).media[0] if sdp_bytes else None
        ip = split_addr(src)[0]
        if payload.startswith(b"INVITE ") and media:
            call.update(offer=(media.address, media.port), caller_ip=ip, start=ts)
        elif payload.startswith(b"SIP/2.0 200") and media and "INVITE" in _header(head, b"CSeq"):
            call.update(answer=(media.address, media.port), callee_ip=ip)
        elif payload.startswith(b"BYE "):
            call["end"] = ts
    endpoints = [MediaEndpoints(key, c.get("offer"), c.get("answer"), c.get("caller_ip"),
                                c.get("callee_ip"), c.get("start"), c.get("end"))
                 for key, c in calls.items()]
    return endpoints, collector


def test_sipp_every_call_gets_its_own_streams(shared_traces):
    endpoints, collector = dialogs_and_media(shared_traces / "sipp-loopback-200calls.pcap")
    assert len(endpoints) == 200
    attached = attach_streams(collector.streams, endpoints)
    for dialog in endpoints:
        got = attached[dialog.key]
        caller_port = dialog.caller_media[1]
        forward, backward = got[CALLER_TO_CALLEE], got[CALLEE_TO_CALLER]
        assert dialog.callee_media == ("127.0.0.1", 6000)
        assert len(forward) == len(backward) == 2                    # audio + event SSRCs
        assert {s.src for s in forward} == {f"127.0.0.1:{caller_port}"}
        assert {s.dst for s in backward} == {f"127.0.0.1:{caller_port}"}
        assert sum(s.packets for s in forward) == sum(s.packets for s in backward) == 35
    assert sum(len(v) for d in attached.values() for v in d.values()) == 800


def test_sipp_one_dialog_alone_needs_the_source_match(shared_traces):
    """UAS port 6000 is in every answer: the destination rule alone matches all 200 calls."""
    endpoints, collector = dialogs_and_media(shared_traces / "sipp-loopback-200calls.pcap")
    first = endpoints[0]
    loose = match_streams(collector.streams, first.caller_media, first.callee_media, "127.0.0.1",
                          "127.0.0.1")
    assert len(loose[CALLER_TO_CALLEE]) == 400
    strict = match_streams(collector.streams, first.caller_media, first.callee_media, min_score=3)
    assert [len(strict[CALLER_TO_CALLEE]), len(strict[CALLEE_TO_CALLER])] == [2, 2]
    windowed = match_streams(collector.streams, first.caller_media, first.callee_media,
                             window=(first.start, first.end))
    # calls overlap (50 calls/s, about 9 s each), so the window alone still leaves 351
    assert len(windowed[CALLER_TO_CALLEE]) == 351 and len(windowed[CALLEE_TO_CALLER]) == 2


def test_407_call_streams_and_rtcp(shared_traces):
    endpoints, collector = dialogs_and_media(shared_traces / "udp-call-407-auth-rtp-g711a.pcap")
    (call,) = endpoints
    assert call.caller_media == ("172.16.19.237", 35998) and call.callee_media == ("3.90.71.92", 10694)
    got = match_streams(collector.streams, call.caller_media, call.callee_media,
                        call.caller_sip_ip, call.callee_sip_ip)
    assert [s.packets for s in got[CALLER_TO_CALLEE]] == [989]
    assert [s.packets for s in got[CALLEE_TO_CALLER]] == [248]
    rtcp = match_streams(collector.rtcp, call.caller_media, call.callee_media, rtcp=True)
    assert [p.packets for p in rtcp[CALLER_TO_CALLEE]] == [5] and rtcp[CALLEE_TO_CALLER] == []
    assert match_streams(collector.rtcp, call.caller_media, call.callee_media) == \
        {CALLER_TO_CALLEE: [], CALLEE_TO_CALLER: []}


def test_nat_latched_return_stream():
    """Caller behind NAT advertises 192.168.1.10:4000; SIP and media come from 203.0.113.5."""
    up = Flow("203.0.113.5:61000", "198.51.100.7:30000")
    down = Flow("198.51.100.7:30000", "203.0.113.5:61000")
    stray = Flow("198.51.100.7:30000", "203.0.113.9:61000")
    got = match_streams([up, down, stray], ("192.168.1.10", 4000), ("198.51.100.7", 30000),
                        "203.0.113.5", "198.51.100.7")
    assert got == {CALLER_TO_CALLEE: [up], CALLEE_TO_CALLER: [down]}
    # without the caller's SIP address the latched stream cannot be told apart
    assert match_streams([down], ("192.168.1.10", 4000), ("198.51.100.7", 30000))[CALLEE_TO_CALLER] == []


def test_hold_ipv6_rtcp_mux_and_several_m_lines():
    assert match_streams([Flow("10.0.0.1:4000", "0.0.0.0:5000")], ("10.0.0.1", 4000),
                         ("0.0.0.0", 5000)) == {CALLER_TO_CALLEE: [], CALLEE_TO_CALLER: []}
    v6 = Flow("[2001:DB8::1]:4000", "[2001:db8:0:0::2]:5000")
    assert match_streams([v6], ("2001:db8::1", 4000), ("2001:0db8::2", 5000))[CALLER_TO_CALLEE] == [v6]
    mux = Flow("10.0.0.2:5000", "10.0.0.1:4000")
    assert match_streams([mux], ("10.0.0.1", 4000), ("10.0.0.2", 5000), rtcp=True,
                         rtcp_mux=True)[CALLEE_TO_CALLER] == [mux]
    video = Flow("10.0.0.1:4002", "10.0.0.2:5002")
    got = match_streams([video], [("10.0.0.1", 4000), ("10.0.0.1", 4002)],
                        [("10.0.0.2", 5000), ("10.0.0.2", 5002), ("10.0.0.2", 0)])
    assert got[CALLER_TO_CALLEE] == [video]


def test_attach_prefers_the_dialog_whose_window_holds_the_stream():
    """Two calls reuse the same addresses one after the other (a port reused by the phone)."""
    a = MediaEndpoints("a", ("10.0.0.1", 4000), ("10.0.0.2", 5000), start=0.0, end=50.0)
    b = MediaEndpoints("b", ("10.0.0.1", 4000), ("10.0.0.2", 5000), start=100.0, end=None)
    early = Flow("10.0.0.1:4000", "10.0.0.2:5000", 1.0, 49.0)
    late = Flow("10.0.0.1:4000", "10.0.0.2:5000", 101.0, 140.0)
    got = attach_streams([early, late], [a, b])
    assert got["a"][CALLER_TO_CALLEE] == [early] and got["b"][CALLER_TO_CALLEE] == [late]


@pytest.mark.parametrize("text,expected", [
    ("10.0.0.1:5060", ("10.0.0.1", 5060)), ("[::1]:5060", ("::1", 5060)),
    ("[2001:DB8::A]:1", ("2001:db8::a", 1)), ("2001:db8::1", None), ("host", None),
    ("66.227.1xx.2xx:5060", ("66.227.1xx.2xx", 5060))])
def test_split_addr(text, expected):
    assert split_addr(text) == expected
