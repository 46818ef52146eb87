"""The whole public corpus (../shared/traces): every file loads with MANIFEST's SIP message and
Call-ID counts, and the rules run without an internal failure.  Skipped when the corpus is absent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sipscope.core.model.loader import load_files

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "traces"

# Files whose MANIFEST count (from tshark) we deliberately differ from, with the evidence.
# file -> (messages, call_ids, why)
KNOWN_DIFFERENCES: dict[str, tuple[int, int, str]] = {
    "scanner-register-bruteforce-single-ip.pcap": (
        2645, 478, "frames 1974-1979 are REGISTER/401 between UDP ports 1293 and 5060; tshark "
        "gives port 1293 to its PacketCable dissector, so `-Y sip` misses these 6 messages "
        "(and one Call-ID); we recognise SIP by its start line on any port"),
}

# Files described outside the MANIFEST table.
EXTRA_ROWS = {
    "blog-grandstream-forked-call.txt": (12, 1),
    "sipp-loopback-200calls.pcap": (1200, 200),
    "sipp-loopback-200calls.pcapng": (1200, 200),
}


def manifest_rows() -> dict[str, tuple[int, int]]:
    rows = dict(EXTRA_ROWS)
    manifest = SHARED / "MANIFEST.md"
    if not manifest.exists():
        return rows
    for line in manifest.read_text().splitlines():
        match = re.match(r"\| `([^`]+)` \|", line)
        if not match:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8 or not cells[6].replace(",", "").isdigit():
            continue
        rows[match.group(1)] = (int(cells[6].replace(",", "")), int(cells[7].replace(",", "")))
    return rows


ROWS = manifest_rows()


@pytest.mark.parametrize("name", sorted(ROWS) or ["<no corpus>"])
def test_corpus_counts(name, shared_traces):
    messages, call_ids = ROWS[name]
    if name in KNOWN_DIFFERENCES:
        messages, call_ids, _why = KNOWN_DIFFERENCES[name]
    path = shared_traces / name
    if messages == 0:
        from sipscope.core.model.loader import NoSipError
        with pytest.raises(NoSipError):
            load_files([str(path)])
        return
    session = load_files([str(path)])
    assert len(session.messages) == messages
    assert len({m.call_id for m in session.messages if m.call_id}) == call_ids
    assert not session.analysis_warnings, session.analysis_warnings
