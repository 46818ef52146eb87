"""read() never raises: arbitrary bytes, mutated real captures, random packets in valid files."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipscope.core.sources.datagram import Datagram

from .pcap_build import (ACK, PSH, SYN, T0, message, pcap_file, pcapng_file, read_bytes, status,
                         tcp4_frame)

DATA = Path(__file__).resolve().parents[2] / "data"
REAL = [(DATA / name).read_bytes() for name in (
    "udp-junk-before-request.pcap", "tcp-register-split-across-segments.pcap",
    "udp-compact-form-headers-invite.pcap", "scanner-friendly-scanner-options-sweep.pcap")]
LINKTYPES = (0, 1, 12, 101, 108, 113, 228, 229, 276, 9, 147)


def check(data: bytes) -> None:
    report, datagrams = read_bytes(data)
    assert all(isinstance(d, Datagram) and isinstance(d.payload, bytes) for d in datagrams)
    assert report.stopped_at is None or 0 <= report.stopped_at <= len(data)
    # bad input is reported as such, never as an internal failure of a decoder
    assert not [w for w in report.warnings if "could not be decoded" in w or "unexpected" in w]
    for d in datagrams:
        if d.offset >= 0:
            assert data[d.offset:d.offset + len(d.payload)] == d.payload


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data):
    check(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_behind_a_valid_header(data):
    check(REAL[0][:24] + data)
    check(pcapng_file([(1, None)], [])[:60] + data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(REAL))), st.lists(st.tuples(st.integers(0, 100_000),
                                                            st.integers(0, 255)), max_size=12),
       st.integers(0, 100_000))
def test_mutated_real_captures(which, flips, cut):
    data = bytearray(REAL[which])
    for position, value in flips:
        data[position % len(data)] = value
    check(bytes(data[:max(cut, 24)]))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LINKTYPES), st.lists(st.binary(max_size=300), max_size=20))
def test_random_packets_in_a_valid_file(linktype, packets):
    check(pcap_file([(T0 + i, p) for i, p in enumerate(packets)], linktype=linktype))
    check(pcapng_file([(linktype, 9)], [(0, i, p) for i, p in enumerate(packets)]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 2000), st.sampled_from(
    [PSH | ACK, SYN, ACK, 0x11, 0x04]), st.booleans()), max_size=25))
def test_random_tcp_segments_of_sip(pieces):
    stream = message(body=b"v=0\r\n" * 20) + status() + message("BYE")
    stream += b"\x17\x03\x03\x00\x05hello"
    frames = []
    for i, (start, length, flags, reverse) in enumerate(pieces):
        chunk = stream[start:start + length]
        src, dst = ("10.0.0.2", "10.0.0.1") if reverse else ("10.0.0.1", "10.0.0.2")
        frames.append((T0 + i, tcp4_frame(src, dst, 5060, 5060, 1000 + start, chunk, flags)))
    check(pcap_file(frames))
