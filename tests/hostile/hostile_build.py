"""Builders shared by the hostile-input tests: a real capture with hostile packets added."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import dpkt

from sipscope.core.model.loader import load_files

DATA = Path(__file__).resolve().parents[1] / "data"
# A real capture whose findings must survive the hostile packets added to it.
KNOWN = DATA / "udp-call-info-dtmf-cancel.pcap"


def frames(path: Path = KNOWN) -> list[tuple[float, bytes]]:
    with open(path, "rb") as handle:
        return [(ts, bytes(buf)) for ts, buf in dpkt.pcap.Reader(handle)]


def pcap_bytes(records: list[tuple[float, bytes]], snaplen: int = 262144) -> bytes:
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, snaplen=snaplen, linktype=dpkt.pcap.DLT_EN10MB)
    for ts, frame in records:
        writer.writepkt(frame, ts=ts)
    return out.getvalue()


def finding_keys(session) -> list[tuple[str, str, tuple[int, ...]]]:
    """Finding ids with their calls and message frames (frame numbers survive added packets
    only when those are appended, which is how the tests add them)."""
    return sorted((f.id, f.call_id or "", tuple(session.messages[i].frame for i in f.messages))
                  for f in session.findings)


def known_findings() -> list:
    return finding_keys(load_files([str(KNOWN)]))


def pcap_record(ts: float, caplen: int, origlen: int, data: bytes = b"") -> bytes:
    sec = int(ts)
    return struct.pack("<IIII", sec, int((ts - sec) * 1e6), caplen, origlen) + data
