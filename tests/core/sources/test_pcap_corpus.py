"""The pcap reader on real captures: the shared corpus (MANIFEST counts) and tests/data copies."""

from __future__ import annotations

import re

from sipscope.core.sources import pcap
from sipscope.core.sources.datagram import REASSEMBLED, InputReport
from sipscope.core.sip.detect import sip_start

# Where tshark's count in MANIFEST is wrong, with the evidence.
TSHARK_WRONG = {
    # Frames 1974-1979 are UDP 1293 <-> 5060 "REGISTER sip:128.3.98.212 SIP/2.0" and
    # "SIP/2.0 401 Unauthorized"; tshark hands UDP port 1293 to its PacketCable (PKTC) dissector,
    # so `-Y sip` misses these 6 messages.
    "scanner-register-bruteforce-single-ip.pcap": 2639 + 6,
}
# Capture files described outside the MANIFEST table ("Other files in this folder").
EXTRA = {"sipp-loopback-200calls.pcap": 1200, "sipp-loopback-200calls.pcapng": 1200}


def manifest_counts(folder) -> dict[str, int]:
    counts = dict(EXTRA)
    for line in (folder / "MANIFEST.md").read_text().splitlines():
        match = re.match(r"\| `([^`]+)` \|", line)
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if match and len(cells) > 7 and cells[6].replace(",", "").isdigit():
            counts[match.group(1)] = int(cells[6].replace(",", ""))
    return counts


def read_path(path, media: bool = True):
    report = InputReport(path=str(path))
    with open(path, "rb") as stream:
        datagrams = list(pcap.read(stream, report, 0, media=media))
    return report, datagrams


def sip_count(datagrams) -> int:
    return sum(1 for d in datagrams if sip_start(d.payload) == 0)


def test_every_capture_in_the_corpus_gives_the_manifest_count(shared_traces):
    counts = manifest_counts(shared_traces)
    captures = [p for p in sorted(shared_traces.iterdir()) if p.is_file()
                if pcap.sniff(p.read_bytes()[:64]) > 0]
    assert len(captures) >= 37
    results = {}
    for path in captures:
        report, datagrams = read_path(path)
        assert report.stopped_at is None, (path.name, report.warnings)
        results[path.name] = sip_count(datagrams)
    expected = {name: TSHARK_WRONG.get(name, counts[name]) for name in results}
    assert results == expected


def test_corpus_details(shared_traces):
    report, datagrams = read_path(shared_traces / "tls-5061-encrypted-midstream.pcap")
    assert datagrams == []
    # 22 application-data records: tshark shows 18 because it takes frames 5 and 6 (which the
    # capture stored out of time order) for retransmissions.
    assert report.undecodable == {"TLS 10.10.9.40:5061": 22}
    assert any(w.startswith("12 packets on ports 10.10.9.40:5061 are encrypted (TLS)")
               for w in report.warnings)

    report, datagrams = read_path(shared_traces / "websocket-and-udp-calls.pcap")
    assert sorted({d.transport for d in datagrams}) == ["UDP", "WS"]
    assert sum(d.transport == "WS" for d in datagrams) == 11

    report, datagrams = read_path(shared_traces / "hep3-udp9060-sip-rtcp-log.pcap")
    assert len(datagrams) == 6
    assert report.warnings == ["HEP: skipped 2 non-SIP payloads (log 1, RTCP 1)"]

    name = "ipv4-fragmented-udp-register-subscribe-invite.pcap"
    report, datagrams = read_path(shared_traces / name)
    # 16 datagrams come in fragments (MANIFEST's note says 17): 15 in two, frames 566-568 in three.
    assert sum(1 for d in datagrams if d.flags & REASSEMBLED) == 16

    report, datagrams = read_path(shared_traces / "udp-call-407-auth-rtp-g711a.pcap", media=False)
    assert len(datagrams) == 11


def test_junk_before_request(data_dir):
    # Frame 1 is a 4-byte all-zero UDP payload (the "junk"), frame 2 the REGISTER.
    report, datagrams = read_path(data_dir / "udp-junk-before-request.pcap")
    assert report.packets == 2 and report.warnings == []
    assert [(d.frame, d.src, d.dst, d.payload) for d in datagrams] == [
        (2, "1.1.1.1:31000", "1.1.1.2:5060",
         b"REGISTER sip:1.1.1.1:5060 SIP/2.0\r\nExpires: 3600\r\n\r\n")]


def test_register_split_across_tcp_segments(data_dir):
    report, datagrams = read_path(data_dir / "tcp-register-split-across-segments.pcap")
    assert [(d.frame, d.transport, d.payload.split(b"\r\n")[0]) for d in datagrams] == [
        (4, "TCP", b"REGISTER sip:192.168.43.100;transport=TCP SIP/2.0"),
        (8, "TCP", b"SIP/2.0 200 OK")]
    assert datagrams[0].flags & REASSEMBLED and not datagrams[1].flags & REASSEMBLED
    assert datagrams[0].ts == 1643827934.643241        # the segment with the first byte
    assert report.warnings == []


def test_nanosecond_capture_and_compact_headers(data_dir):
    report, datagrams = read_path(data_dir / "scanner-friendly-scanner-options-sweep.pcap")
    assert report.format == "pcap-ns" and report.packets == 26 and sip_count(datagrams) == 26
    assert all(b"friendly-scanner" in d.payload or b"User-Agent" in d.payload for d in datagrams)
    report, datagrams = read_path(data_dir / "udp-compact-form-headers-invite.pcap")
    assert len(datagrams) == 1 and b"\r\nv: SIP/2.0/UDP" in datagrams[0].payload
