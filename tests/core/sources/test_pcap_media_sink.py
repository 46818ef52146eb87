"""pcap.read with a media sink: plain RTP goes straight to MediaCollector.add, with exactly the
statistics the builder path gives, and the stream yields None ticks for progress/cancel."""

from __future__ import annotations

import struct
from pathlib import Path

from sipscope.core.media.streams import MediaCollector
from sipscope.core.model.builder import build_session
from sipscope.core.model.loader import load_files
from sipscope.core.sources import pcap
from sipscope.core.sources.registry import open_input

DATA = Path(__file__).resolve().parents[2] / "data"
TWO_CALLS = DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"


def via_builder(path: Path):
    """The path without a sink: every RTP packet a Datagram, handed on by the builder."""
    report, stream = open_input(str(path))
    return build_session(stream, [report], media_sink=MediaCollector())


def test_direct_sink_gives_the_same_media_and_messages():
    direct = load_files([str(TWO_CALLS)], with_rules=False)
    plain = via_builder(TWO_CALLS)
    assert direct.media.rtp_packets == plain.media.rtp_packets == 839
    assert len(direct.media.streams) == len(plain.media.streams) == 2
    assert direct.media.to_json() == plain.media.to_json()
    assert [(m.ts, m.src, m.dst, m.label) for m in direct.messages] == \
        [(m.ts, m.src, m.dst, m.label) for m in plain.messages]
    assert direct.non_sip_payloads == plain.non_sip_payloads


def frame(payload: bytes, sport: int = 40000, dport: int = 40002) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])) + udp
    return b"\x00" * 12 + b"\x08\x00" + ip


def write(path: Path, frames: list[bytes]) -> None:
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for number, data in enumerate(frames):
            out.write(struct.pack("<IIII", 1_700_000_000, number * 20_000, len(data), len(data))
                      + data)


def rtp(seq: int, tail: bytes = b"\xd5" * 160) -> bytes:
    return struct.pack("!BBHII", 0x80, 8, seq, seq * 160, 0x1234) + tail


def test_rtp_holding_sip_text_still_goes_through_the_builder(tmp_path):
    """A payload that starts like RTP but holds "SIP/" may hide a start line (find_start looks
    past junk): it must reach the builder as a Datagram, not the sink."""
    sip = (b"\r\nOPTIONS sip:a@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:40000;branch=z9hG4bK1"
           b"\r\nFrom: <sip:b@192.0.2.1>;tag=1\r\nTo: <sip:a@192.0.2.2>\r\nCall-ID: c1\r\n"
           b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    frames = [frame(rtp(seq)) for seq in range(5)] + [frame(rtp(5, sip))]
    path = tmp_path / "rtp-then-sip.pcap"
    write(path, frames)
    seen: list[tuple] = []
    report, stream = open_input(str(path), media_sink=lambda *args: seen.append(args))
    datagrams = [d for d in stream if d is not None]
    assert len(seen) == 5 and all(src == "192.0.2.1:40000" for _, src, _, _ in seen)
    assert len(datagrams) == 1 and b"OPTIONS sip:" in datagrams[0].payload
    direct, plain = load_files([str(path)], with_rules=False), via_builder(path)
    assert [m.label for m in direct.messages] == [m.label for m in plain.messages] == ["OPTIONS"]
    assert direct.media.to_json() == plain.media.to_json()


def test_ticks_only_with_a_sink(tmp_path):
    path = tmp_path / "many.pcap"
    write(path, [frame(rtp(seq & 0xFFFF)) for seq in range(pcap.TICK + 10)])
    _, stream = open_input(str(path), media_sink=lambda *args: None)
    assert list(stream) == [None]
    _, stream = open_input(str(path))
    assert None not in list(stream)


def test_pcapng_takes_the_same_rtp_fast_path(tmp_path):
    """The pcapng reader hands plain RTP to the sink like the pcap reader (an Enhanced Packet
    Block on an Ethernet interface): same media statistics, messages and frame numbers."""
    import dpkt

    from tests.core.sources.pcap_build import pcapng_file
    with TWO_CALLS.open("rb") as fh:
        records = [(round(ts * 1_000_000), bytes(buf)) for ts, buf in dpkt.pcap.Reader(fh)]
    twin = tmp_path / "two-calls.pcapng"
    twin.write_bytes(pcapng_file([(1, None)], [(0, ticks, data) for ticks, data in records]))
    direct = load_files([str(twin)], with_rules=False)
    plain = via_builder(twin)
    original = load_files([str(TWO_CALLS)], with_rules=False)
    assert direct.media.rtp_packets == original.media.rtp_packets == 839
    assert direct.media.to_json() == plain.media.to_json()
    # pcapng time is ticks x 1e-6, pcap time seconds + microseconds x 1e-6: equal to ~1 µs
    assert [(s.src, s.dst, s.ssrc, s.packets, s.max_seq) for s in direct.media.streams] == \
        [(s.src, s.dst, s.ssrc, s.packets, s.max_seq) for s in original.media.streams]
    assert all(abs(a.first_ts - b.first_ts) < 1e-5 and abs(a.jitter_s - b.jitter_s) < 1e-6
               for a, b in zip(direct.media.streams, original.media.streams))
    assert [(m.frame, m.label) for m in direct.messages] == \
        [(m.frame, m.label) for m in original.messages]
    assert direct.inputs[0].packets == original.inputs[0].packets == len(records)
