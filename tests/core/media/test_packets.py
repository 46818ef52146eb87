"""Per-packet detail read back from the capture file (media/packets.py): the same numbers as the
aggregates the loader kept, and the gaps where packets were dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from core.media.pcap_write import write_pcap
from core.media.test_table import A_RTP, B_RTP, call, clean, end, rtp
from factory import Flow

from sipscope.core.media.packets import analyse, read_stream_packets, rtp_payload, session_paths
from sipscope.core.media.table import StreamTable
from sipscope.core.model.loader import load_files

DATA = Path(__file__).parents[2] / "data"


def test_real_capture_packets_match_the_aggregates():
    session = load_files([str(DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap")])
    row = StreamTable(session).rows[0]
    packets = read_stream_packets(session_paths(session), row.src, row.dst, row.ssrc)
    assert len(packets) == row.packets == 425
    analysis = analyse(packets, row.stream.clock_rate)
    assert analysis.max_jitter_ms == pytest.approx(row.max_jitter_ms, abs=1e-6)
    assert analysis.max_delta_ms == pytest.approx(row.max_delta_ms, abs=1e-6)
    assert analysis.lost_packets == row.lost == 0


def test_dropped_packets_are_marked_where_they_went_missing(tmp_path):
    f = Flow()
    call(f)
    for i, (t, packet) in enumerate(clean(200)):
        if i not in (50, 51, 52, 120):
            f.add(0.4 + t, A_RTP, B_RTP, packet)
    end(f, 5.0)
    session = load_files([str(write_pcap(tmp_path / "drops.pcap", f.datagrams))])
    row = next(r for r in StreamTable(session).rows if not r.expected_only)
    packets = read_stream_packets(session_paths(session), A_RTP, B_RTP, 1, keep_payload=True)
    assert len(packets) == row.packets == 196 and row.lost == 4
    assert packets[0].payload == b"\xff" * 160
    analysis = analyse(packets, 8000)
    assert [(round(t, 2), n) for t, n in analysis.lost] == [(1.06, 3), (2.42, 1)]
    assert analysis.lost_packets == row.lost
    assert max(analysis.delta_ms) == pytest.approx(80.0, abs=0.01)     # 3 missing: 4 x 20 ms


def test_rtp_payload_skips_csrc_extension_and_padding():
    header = bytes([0x80 | 0x20 | 0x10 | 1, 0]) + bytes(10)      # P, X, one CSRC
    packet = header + b"CSRC" + b"\xbe\xde\x00\x01" + b"EXT!" + b"audio" + b"\x00\x00\x03"
    assert rtp_payload(packet) == b"audio"
    assert rtp_payload(rtp(1)) == b"\xff" * 160


def _p(t: float, seq: int):
    from sipscope.core.media.packets import Packet
    return Packet(t, seq & 0xFFFF, seq * 160, 0, False, 172)


def test_a_late_packet_is_not_lost_and_sequence_wraps():
    late = [_p(0.00, 4), _p(0.02, 6), _p(0.025, 5), _p(0.04, 7)]
    assert analyse(late, 8000).lost == []
    wrap = [_p(0.00, 65534), _p(0.02, 65535), _p(0.06, 65537), _p(0.08, 65538)]
    assert analyse(wrap, 8000).lost == [(pytest.approx(0.06), 1)]         # seq 0 never came


def test_a_capture_changed_after_loading_is_not_read_back(tmp_path, data_dir):
    """Issue 17 class 9 for RTP: packets read back from a file rewritten since loading would be
    another capture's; the file is left out and a sentence says why."""
    import os
    import shutil
    from sipscope.core.media.packets import changed_inputs, session_paths
    from sipscope.core.model.loader import load_files
    capture = tmp_path / "call.pcap"
    shutil.copy(data_dir / "udp-two-calls-rtp-g711-pcma-pcmu.pcap", capture)
    session = load_files([str(capture)])
    assert session_paths(session) == [str(capture)] and changed_inputs(session) == []
    with open(capture, "ab") as out:
        out.write(b"\0" * 100)
    os.utime(capture, ns=(1, 1))
    assert session_paths(session) == []
    [why] = changed_inputs(session)
    assert "changed on disk after it was loaded" in why
